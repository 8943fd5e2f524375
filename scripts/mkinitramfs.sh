#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# mkinitramfs.sh OUT.cpio.gz CMDFILE
#
# Build the guest initramfs: static busybox, tests/guest/init as /init,
# the module, the static kselftest binaries (tests/out/*, each run by
# run-tests.sh), the test fuse server and other helpers
# (tests/out/server/* and the cross-host test tests/out/multihost/* ->
# /famfs/bin, on PATH, not run as tests), the test
# manifests (tests/manifests/ -> /famfs/manifests), the kselftests as
# installed for the kernel's runner (tests/out/kselftest ->
# /famfs/kselftest: run_kselftest.sh and the famfs_rs collection, whose
# programs are hard links to the same files in /famfs/tests and
# /famfs/bin), the guest scripts (tests/guest/), and CMDFILE as
# /famfs/cmd (the command /init runs).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
cmdfile=$2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
# mktemp made it 0700, and it becomes the guest's /: unprivileged test
# processes must be able to walk it.
chmod 755 "$root"

mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,mnt,famfs/tests,famfs/bin,famfs/manifests,usr/bin,usr/sbin}
cp /bin/busybox "$root/bin/busybox"
cp "$top/tests/guest/init" "$root/init"
chmod 755 "$root/init"
cp "$top"/tests/guest/*.sh "$root/famfs/"
[ -f "$top/famfs_rs.ko" ] && cp "$top/famfs_rs.ko" "$root/famfs/"
if [ -d "$top/tests/out" ]; then
	find "$top/tests/out" -maxdepth 1 -type f -perm -u+x \
		-exec cp {} "$root/famfs/tests/" \;
fi
# the fmap core's fuzz corpus, replayed through the module by a kselftest
if [ -d "$top/tests/fuzz/parse_resolve" ]; then
	mkdir -p "$root/famfs/fuzz"
	cp "$top"/tests/fuzz/parse_resolve/* "$root/famfs/fuzz/"
fi
for d in server multihost fuzz; do
	[ -d "$top/tests/out/$d" ] || continue
	find "$top/tests/out/$d" -maxdepth 1 -type f -perm -u+x \
		-exec cp {} "$root/famfs/bin/" \;
done
if [ -d "$top/tests/manifests" ]; then
	cp -R "$top/tests/manifests/." "$root/famfs/manifests/"
fi
if [ -x "$top/tests/out/kselftest/run_kselftest.sh" ]; then
	cp -R "$top/tests/out/kselftest" "$root/famfs/kselftest"
	for f in "$root"/famfs/kselftest/famfs_rs/*; do
		for same in "$root/famfs/tests/${f##*/}" "$root/famfs/bin/${f##*/}"; do
			if [ -f "$f" ] && [ -f "$same" ] && cmp -s "$f" "$same"; then
				ln -f "$same" "$f"
			fi
		done
	done
fi
# the benchmark (FAMFS_BENCH=1): its program, and mke2fs for ext4 -o dax
if [ "${FAMFS_BENCH:-0}" = 1 ]; then
	if [ -d "$top/tests/out/bench" ]; then
		find "$top/tests/out/bench" -maxdepth 1 -type f -perm -u+x \
			-exec cp {} "$root/famfs/bin/" \;
	fi
	mke2fs=$(command -v mke2fs || echo /sbin/mke2fs)
	cp "$mke2fs" "$root/sbin/mke2fs"
	cp /etc/mke2fs.conf "$root/famfs/mke2fs.conf" 2>/dev/null || true
	for lib in $(ldd "$mke2fs" | awk '/=>/ { print $3 } /^\t\/lib/ { print $1 }'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
fi
cp "$cmdfile" "$root/famfs/cmd"
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$out"
