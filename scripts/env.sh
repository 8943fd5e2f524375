# SPDX-License-Identifier: GPL-2.0
# Sourced by every famfs-rs script: one place for paths and tool locations.
#
# FAMFS_CACHE   where downloads, kernel build trees and tools live, outside
#               the checkout (default: ~/.cache/famfs-rs).

FAMFS_CACHE=${FAMFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/famfs-rs}
FAMFS_TOOLS=${FAMFS_TOOLS:-$FAMFS_CACHE/tools}
RUSTC=${RUSTC:-/usr/bin/rustc}
BINDGEN=${BINDGEN:-$FAMFS_TOOLS/bin/bindgen}
LIBCLANG_PATH=${LIBCLANG_PATH:-$FAMFS_TOOLS/py/clang/native}
export FAMFS_CACHE FAMFS_TOOLS RUSTC BINDGEN LIBCLANG_PATH
