#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Install everything famfs-rs needs to build the kernel, the module, the
# tests and to boot the VM. Idempotent: a second run only checks.
#
#   scripts/setup-toolchain.sh          install what is missing, then check
#   scripts/setup-toolchain.sh --check  only check, print one line per problem
#
# Why each piece is needed is in Documentation/build-and-test.rst.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

BINDGEN_VERSION=0.73.2
LIBCLANG_VERSION=18.1.1

DEB_PKGS=(gcc make flex bison bc libelf-dev libssl-dev cpio kmod xz-utils
	  busybox-static qemu-system-x86 rustc-web rust-web-src rust-web-clippy
	  rustfmt-web python3-pip python3-ply e2fsprogs perl libc6-dev patch rsync)

check_only=0
[ "${1:-}" = "--check" ] && check_only=1

missing_debs() {
	local p
	for p in "${DEB_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || echo "$p"
	done
}

if [ $check_only = 0 ]; then
	mapfile -t need < <(missing_debs)
	if [ ${#need[@]} -gt 0 ]; then
		echo "setup: installing Debian packages: ${need[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
	fi
	if ! "$BINDGEN" --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
		echo "setup: cargo install bindgen-cli $BINDGEN_VERSION"
		cargo install --locked --root "$FAMFS_TOOLS" \
			bindgen-cli --version "$BINDGEN_VERSION"
	fi
	if [ ! -e "$LIBCLANG_PATH/libclang.so" ]; then
		echo "setup: pip install libclang==$LIBCLANG_VERSION"
		python3 -m pip install -q --target "$FAMFS_TOOLS/py" \
			"libclang==$LIBCLANG_VERSION"
	fi
	# QEMU 10 unpacked into the cache, beside the system's 7.2
	"$here/setup-qemu.sh"
fi

rc=0
fail() { echo "setup: MISSING: $*" >&2; rc=1; }

mapfile -t need < <(missing_debs)
[ ${#need[@]} -eq 0 ] ||
	fail "Debian packages ${need[*]} (run scripts/setup-toolchain.sh as root)"
[ -x /usr/bin/clippy-driver ] || fail "clippy-driver 1.96 (apt-get install rust-web-clippy)"
[ -x "$RUSTC" ] || fail "$RUSTC (apt-get install rustc-web rust-web-src)"
"$RUSTC" --version 2>/dev/null | grep -q '^rustc 1\.9[6-9]' ||
	fail "rustc >= 1.96 at $RUSTC (apt-get install rustc-web)"
[ -d "$("$RUSTC" --print sysroot 2>/dev/null)/lib/rustlib/src/rust/library/core" ] ||
	fail "core sources for $RUSTC (apt-get install rust-web-src)"
"$BINDGEN" --version 2>/dev/null | grep -q "$BINDGEN_VERSION" ||
	fail "bindgen $BINDGEN_VERSION at $BINDGEN (cargo install bindgen-cli --version $BINDGEN_VERSION)"
[ -e "$LIBCLANG_PATH/libclang.so" ] ||
	fail "libclang >= 17 at $LIBCLANG_PATH (pip install libclang==$LIBCLANG_VERSION)"
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 (apt-get install qemu-system-x86)"
"$here/setup-qemu.sh" --print >/dev/null || fail "QEMU 10 in $FAMFS_CACHE/qemu (scripts/setup-qemu.sh)"
[ -x /bin/busybox ] || fail "static busybox (apt-get install busybox-static)"
[ $rc = 0 ] && echo "setup: toolchain OK ($("$RUSTC" --version), bindgen $BINDGEN_VERSION, libclang $LIBCLANG_VERSION)"
exit $rc
