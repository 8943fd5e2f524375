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

# famfs_apt DIR SUITE [--cache] ARGS...: apt-get (apt-cache with --cache)
# ARGS on a private configuration under DIR whose one source is SUITE
# main, on the mirror the system already uses for bookworm, signed by
# the Debian archive keyring. The system's apt sources are never touched.
famfs_apt() {
	local dir=$1 suite=$2 uri tool=apt-get
	shift 2
	if [ "${1:-}" = --cache ]; then
		tool=apt-cache
		shift
	fi
	mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
	uri=$(awk '/^URIs:/ { print $2; exit }' \
		/etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ { print $2; exit }' \
		/etc/apt/sources.list 2>/dev/null || true)
	[ -n "$uri" ] || { echo "famfs: cannot find the Debian mirror in /etc/apt" >&2; exit 1; }
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri $suite main" \
		>"$dir/sources.list"
	"$tool" -qq -o Dir::Etc::SourceList="$dir/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$dir/lists" \
		-o Dir::Cache="$dir/cache" \
		-o APT::Sandbox::User=root "$@"
}
