#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# anchor.sh   (what `make anchor` runs)
#
# What a device removal does when a pipe holds a page of the device
# (tests/guest/anchor.sh, tests/bench/famfs_pin_unbind.c), for famfs_rs
# and for the anchors it is measured against: raw device_dax and ext4
# -o dax. Two boots of the benchmark's VM (VM_BENCH=1): famfs, ext4 with
# the file closed, raw device_dax; then ext4 with the file open. A removal that does not wait for the page ends
# its guest with a kernel report; this prints, per boot, the anchor lines
# and the first lines of any report, and keeps the consoles in
# $FAMFS_CACHE/anchor/. A measurement, not a test: it exits 0 once both
# boots ran, whatever they showed.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"
dir=$FAMFS_CACHE/anchor
mkdir -p "$dir"
splat='BUG:|WARNING:|Oops|Kernel panic|general protection fault|blocked for more than'
for cases in "famfs ext4-closed devdax" "ext4"; do
	log=$dir/console-${cases// /-}.log
	VM_BENCH=1 "$here/vm.sh" -t 900 -l "$log" -- "sh /famfs/anchor.sh $cases" \
		>/dev/null 2>&1 || true
	echo "=== anchor: $cases ($log)"
	grep -E '^anchor: |^famfs-vm: exit' "$log" || true
	grep -Em6 "$splat|RIP:" "$log" | sed 's/^/  kernel: /' || true
done
