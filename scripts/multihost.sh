#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# multihost.sh [-l LOGDIR]
#
# The cross-host test (Documentation/multihost.rst): two guests of the
# famfs-rs kernel at once, one vCPU each, whose volatile CXL device and
# second NVDIMM are backed by the same host files (scripts/vm.sh
# VM_SHARED), so that they share that memory and nothing else (no
# network). Host a runs the master famfs_server, host b a client; both
# run tests/guest/multihost.sh, which runs tests/multihost/famfs_xhost.
# When host a prints "crash-point", its QEMU is killed with SIGKILL (a
# host crash); host a then boots again (a2) on the same memory, finds the
# namespace in the log, and the test ends there.
#
# The guests' console logs go to LOGDIR (default: a temporary directory,
# removed at the end unless the run failed). Prints
#   famfs-multihost: N passed, N failed
# (the famfs_xhost checks of the three boots) and exits 0 if all passed
# and every boot ended as it should.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
logs=
[ "${1:-}" = -l ] && { logs=$2; shift 2; }
keep=1
if [ -z "$logs" ]; then
	logs=$(mktemp -d "${TMPDIR:-/tmp}/famfs-multihost.XXXXXX")
	keep=0
fi
mkdir -p "$logs"
# the shared memory: tmpfs if there is one (no host writeback)
base=${TMPDIR:-/tmp}
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
shared=$(mktemp -d "$base/famfs-shared.XXXXXX")
tag=famfs-xhost-$$
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	kill_qemu "$tag-"
	rm -rf "$shared"
}
trap cleanup EXIT

# kill_qemu NAME: SIGKILL the QEMU whose -name starts with NAME (its
# comm is "qemu-system-x86"; timeout(1) has the same arguments: not it);
# fails if there was none.
kill_qemu() {
	local p killed=1
	for p in $(pgrep -f -- "-name $1"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = qemu-system-x86 ] &&
			kill -9 "$p" && killed=0
	done
	return $killed
}

vm() {	# vm NAME LOG SECONDS COMMAND: one guest, in the background
	VM_SHARED=$shared VM_SMP=1 VM_NAME=$tag-$1 VM_KILL_MARK=$shared/killed-$1 \
		VM_APPEND="${VM_APPEND:-} kunit.enable=0" \
		"$here/vm.sh" -t "$3" -l "$2" -- "$4" >/dev/null 2>&1 &
}

t0=$SECONDS
status=0
vm a1 "$logs/a1.log" 900 'sh /famfs/multihost.sh a'
pa=$!
# b runs on through a's crash and second boot
vm b "$logs/b.log" 1800 'sh /famfs/multihost.sh b'
pb=$!
pids=("$pa" "$pb")
echo "multihost: host a (pid $pa) and host b (pid $pb) booted, logs in $logs"

# host a's crash: when it says so, or it ended (a failure) first
crashed=0
for _ in $(seq 1 6000); do
	if grep -q 'famfs-xhost: a: crash-point' "$logs/a1.log" 2>/dev/null; then
		sleep 1
		: >"$shared/killed-a1"
		kill_qemu "$tag-a1" && crashed=1
		break
	fi
	kill -0 "$pa" 2>/dev/null || break
	sleep 0.2
done
wait "$pa"
ra=$?
if [ "$crashed" = 1 ] && [ "$ra" = 0 ]; then
	echo "multihost: host a killed at its crash point ($((SECONDS - t0)) s); booting it again"
else
	echo "multihost: FAIL: host a ended before its crash point, or was not killed there (vm.sh rc $ra)"
	status=1
	# b would wait for a in vain
	kill_qemu "$tag-b"
fi

ra2=1
if [ "$status" = 0 ]; then
	vm a2 "$logs/a2.log" 900 'sh /famfs/multihost.sh a2'
	pa2=$!
	pids=("$pa2" "$pb")
	wait "$pa2"
	ra2=$?
fi
wait "$pb"
rb=$?
pids=()
echo "multihost: host b vm.sh rc $rb, host a2 vm.sh rc $ra2 ($((SECONDS - t0)) s)"
[ "$rb" = 0 ] && [ "$ra2" = 0 ] || status=1

pass=0
fail=0
for l in a1 b a2; do
	[ -f "$logs/$l.log" ] || continue
	grep -h '^famfs-xhost: ' "$logs/$l.log" | grep -v ': phase [0-9]*$' | sed "s/^/  [$l] /"
	pass=$((pass + $(grep -c '^famfs-xhost: [a-z0-9]*: ok ' "$logs/$l.log")))
	fail=$((fail + $(grep -c '^famfs-xhost: [a-z0-9]*: FAIL ' "$logs/$l.log")))
done
# every boot must have run its checks: a1 up to the crash, b and a2 to
# their summaries
for l in b a2; do
	grep -q "^famfs-xhost: [a-z0-9]*: [0-9]* passed, 0 failed" "$logs/$l.log" 2>/dev/null ||
		{ echo "multihost: FAIL: no clean summary from host $l"; status=1; }
done
[ "$fail" = 0 ] || status=1
[ "$status" = 0 ] && [ "$pass" = 0 ] && status=1
[ "$status" = 0 ] || fail=$((fail > 0 ? fail : 1))
echo "famfs-multihost: $pass passed, $fail failed"
if [ "$status" != 0 ]; then
	echo "multihost: the guests' logs: $logs"
elif [ "$keep" = 0 ]; then
	rm -rf "$logs"
fi
exit "$status"
