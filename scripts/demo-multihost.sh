#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make run-multihost: two guests of the famfs-rs kernel whose CXL RAM is
# one host file (scripts/vm.sh VM_SHARED), no network between them; a
# line host a writes into a famfs file is read on host b, b's answer on a
# (tests/guest/demo-multihost.sh), and then both lines are shown where
# they are: in the host's backing file of that memory, at the offsets the
# fmaps name.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
base=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
shared=$(mktemp -d "$base/famfs-shared.XXXXXX")
logs=$(mktemp -d "${TMPDIR:-/tmp}/famfs-demo.XXXXXX")
trap 'rm -rf "$shared" "$logs"' EXIT

echo "===== famfs-rs on two hosts: one CXL memory, two guests ====="
echo "--- the shared memory: $shared/cxl-ram0.raw (each guest's CXL type-3 RAM device)"
for h in a b; do
	# KUnit registered, not run at load (as in scripts/demo.sh)
	VM_APPEND="kunit.autorun=0 ${VM_APPEND:-}" \
		VM_SHARED=$shared VM_SMP=1 VM_NAME=famfs-demo-$h \
		"$here/vm.sh" -t 300 -l "$logs/$h.log" -- "sh /famfs/demo-multihost.sh $h" \
		>/dev/null 2>&1 &
	eval "pid_$h=\$!"
done
# both guests' lines as they come (a subshell: its tail and grep are
# its children, killed when the guests are done)
(tail -q -n +1 -F "$logs/a.log" "$logs/b.log" 2>/dev/null |
	grep --line-buffered '^famfs-demo: \|^famfs_server: ') 2>/dev/null &
tailer=$!
wait "$pid_a"
ra=$?
wait "$pid_b"
rb=$?
sleep 0.5
pkill -P "$tailer" 2>/dev/null
wait "$tailer" 2>/dev/null
echo "--- in the host's file of that memory (daxdev 0 offset = file offset)"
for f in note:8 reply:10; do
	printf '  %s @ %2d MiB: %s\n' "${f%%:*}" "${f#*:}" \
		"$(dd if="$shared/cxl-ram0.raw" bs=1M skip="${f#*:}" count=1 2>/dev/null |
			head -c 256 | tr -d '\0' | head -n 1)"
done
if [ "$ra" = 0 ] && [ "$rb" = 0 ]; then
	echo "===== host a and host b shared the files through the memory alone ====="
	exit 0
fi
echo "demo: FAILED (host a: vm.sh rc $ra, host b: rc $rb); logs:" >&2
tail -n 30 "$logs/a.log" "$logs/b.log" >&2
exit 1
