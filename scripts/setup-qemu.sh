#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch QEMU 10 from Debian bookworm-backports and unpack it into the
# cache, next to (never over) the system's QEMU 7.2, which cannot emulate
# volatile CXL memory (cxl-type3 volatile-memdev= needs QEMU >= 8).
#
#   scripts/setup-qemu.sh           fetch and unpack if needed
#   scripts/setup-qemu.sh --print   print the qemu-system-x86_64 to run and
#                                   the -L options it needs, one per line;
#                                   no work, exit 1 if it is not there
#
# The packages (qemu-system-x86, qemu-system-common, qemu-system-data and
# seabios, all of the pinned versions) are downloaded with a private apt
# configuration under $FAMFS_CACHE/apt-bookworm-backports and unpacked with
# dpkg-deb -x into $FAMFS_CACHE/qemu/root; every library the binary needs
# is already on bookworm. It must run with QEMU_MODULE_DIR set to its own
# module directory (scripts/vm.sh does), else it loads the system QEMU's.
# If a pin is gone from the archive, the newest 10.x there is used
# instead, and said so (qemu-system-common and -data always get exactly
# the version qemu-system-x86 got). Idempotent: once unpacked and checked
# for the pins named here, a second run does nothing; new pins fetch
# again.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

QEMU_PIN=1:10.0.2+ds-2+deb13u1~bpo12+1
SEABIOS_PIN=1.16.3-2~bpo12+1
QEMU_PKGS=(qemu-system-x86 qemu-system-common qemu-system-data)

qd=$FAMFS_CACHE/qemu
root=$qd/root
aptd=$FAMFS_CACHE/apt-bookworm-backports
bin=$root/usr/bin/qemu-system-x86_64

log() { echo "qemu: $*" >&2; }

print() {
	# unpacked, checked, and for the pins this script names now
	[ -x "$bin" ] && [ -s "$qd/ok" ] || return 1
	[ "$(cat "$qd/pins" 2>/dev/null)" = "$QEMU_PIN $SEABIOS_PIN" ] || return 1
	echo "$bin"
	echo "-L"
	echo "$root/usr/share/qemu"
	echo "-L"
	echo "$root/usr/share/seabios"
}

if [ "${1:-}" = --print ]; then
	print
	exit
fi
print >/dev/null && exit 0

# apt_private [--cache] ARGS: apt-get (apt-cache) on bookworm-backports
apt_private() { famfs_apt "$aptd" bookworm-backports "$@"; }

# newest VERSION-PREFIX PACKAGE: the newest version of PACKAGE in the
# archive that starts with VERSION-PREFIX (dpkg's order), or nothing.
newest() {
	local v best=
	for v in $(apt_private --cache -o APT::Cache::AllVersions=1 show "$2" 2>/dev/null |
		awk -v p="$1" '/^Version:/ && index($2, p) == 1 { print $2 }'); do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then
			best=$v
		fi
	done
	echo "$best"
}

# get PACKAGE PIN [PREFIX]: download PACKAGE=PIN, else (with a PREFIX) the
# newest PREFIX*, said so.
get() {
	local v err
	if err=$(cd "$qd/deb" && apt_private download "$1=$2" 2>&1); then
		echo "$1 $2" >>"$qd/versions"
		return 0
	fi
	[ -n "${3:-}" ] || { log "cannot download $1 $2: $err"; exit 1; }
	v=$(newest "$3" "$1")
	[ -n "$v" ] || { log "cannot download $1 $2 ($err), and no $1 $3* is in bookworm-backports"; exit 1; }
	log "NOTE: $1 $2 is not to be had ($err); using the newest $3*, $v"
	(cd "$qd/deb" && apt_private download "$1=$v")
	echo "$1 $v" >>"$qd/versions"
}

log "fetching QEMU $QEMU_PIN from bookworm-backports (private apt config)"
rm -rf "$qd"
mkdir -p "$qd/deb"
apt_private update
: >"$qd/versions"
for p in "${QEMU_PKGS[@]}"; do
	# all three of one version: the one qemu-system-x86 got, exactly
	if [ "$p" = qemu-system-x86 ]; then
		get "$p" "$QEMU_PIN" "1:10."
	else
		get "$p" "$(awk '$1 == "qemu-system-x86" { print $2 }' "$qd/versions")"
	fi
done
get seabios "$SEABIOS_PIN" "1.16"
mkdir -p "$root"
for d in "$qd"/deb/*.deb; do
	dpkg-deb -x "$d" "$root"
done
# Run it once: a missing library or a broken unpack shows here, not at
# the first VM boot.
if ! ver=$(QEMU_MODULE_DIR=$root/usr/lib/x86_64-linux-gnu/qemu "$bin" -L "$root/usr/share/qemu" -L "$root/usr/share/seabios" --version 2>&1 | head -n 1); then
	log "the unpacked $bin does not run: $ver"
	exit 1
fi
case $ver in
*"version 10."*) ;;
*) log "unexpected version from $bin: $ver"; exit 1 ;;
esac
rm -rf "$qd/deb"
echo "$QEMU_PIN $SEABIOS_PIN" >"$qd/pins"
echo "$ver" >"$qd/ok"
log "$ver in $root"
