#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build famfs_rs.ko with clippy-driver and W=1 and fail on any warning
# (Rust, clippy or C). Run from the top-level Makefile (needs KDIR etc.).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Force a rebuild so warnings of unchanged files are seen again.
rm -f "$top"/rust/famfs.o "$top"/rust/helpers.o "$top"/famfs_rs.ko
make -C "$KDIR" M="$top" ARCH=x86_64 CONFIG_FAMFS_RS=m W=1 CLIPPY=1 \
	RUSTC="$RUSTC" HOSTRUSTC="$RUSTC" BINDGEN="$BINDGEN" \
	CLIPPY_DRIVER=/usr/bin/clippy-driver RUSTFMT=/usr/bin/rustfmt \
	modules 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" = 0 ] || { echo "module: build FAILED" >&2; exit 1; }
if grep -Eq '(^|[^_])(warning|error)(\[|:)' "$log"; then
	echo "module: FAILED: the build printed warnings (CLIPPY=1 W=1)" >&2
	exit 1
fi
echo "module: famfs_rs.ko built with CLIPPY=1 W=1, zero warnings"
