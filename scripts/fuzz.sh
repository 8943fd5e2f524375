#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# fuzz.sh [--seconds N] [--seed S] [--round R] [--no-shrink] [-- FUZZER-ARGS...]
#
# One VM boot running tests/fuzz/famfs_fuzz.c's campaign for N seconds
# (default 60) from seed S (default 1), or round R of seed S alone (a
# replay). The VM fails on any kernel splat in the guest log (scripts/vm.sh),
# and the guest's result line is "famfs-fuzz-vm: N passed, N failed".
#
# A failure is saved with its guest log in $FAMFS_CACHE/fuzz/ and then
# shrunk (unless --no-shrink): the failing round alone, then without device
# events, without notifications, with one client, with fewer operations per
# client, each kept only while the replay still fails. The last line
# names the smallest replay found.
#
# KDIR/FAMFS_DEBUG choose the kernel as for scripts/vm.sh; make fuzz uses
# the debug kernel.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"

seconds=60
seed=1
round=
shrink=1
extra=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) seconds=$2; shift 2 ;;
	--seed) seed=$2; shift 2 ;;
	--round) round=$2; shift 2 ;;
	--no-shrink) shrink=0; shift ;;
	--) shift; extra=("$@"); break ;;
	*) echo "usage: $0 [--seconds N] [--seed S] [--round R] [--no-shrink] [-- ARGS]" >&2; exit 2 ;;
	esac
done

# the debug kernel's TCG guest is slow: give an abort this long to end
# what it waits for before the watchdog calls it a hang
exit_ms=20000
[ "${FAMFS_DEBUG:-0}" = 1 ] && exit_ms=60000

# run LOG ARGS...: one VM boot of the campaign; its status
run() {
	local log=$1
	shift
	# no KUnit at module load: the campaign unloads and loads famfs_rs;
	# an OOM kill in the memory cgroup is the pressure event working
	VM_MEMCG_OOM_OK=1 VM_APPEND="kunit.enable=0 ${VM_APPEND:-}" "$here/vm.sh" -t $((seconds + 900)) -l "$log" \
		sh /famfs/fuzz.sh --exit-timeout "$exit_ms" "$@" >/dev/null
	local rc=$?
	grep -E '^famfs-fuzz(-vm)?: ' "$log" | grep -v '^famfs-fuzz-vm: ok ' || true
	return $rc
}

args=(--seed "$seed" --seconds "$seconds")
[ -n "$round" ] && args+=(--round "$round")
args+=("${extra[@]}")
out=$FAMFS_CACHE/fuzz
mkdir -p "$out"
log=$(mktemp)
echo "fuzz: famfs_fuzz ${args[*]} (kernel: ${FAMFS_DEBUG:+debug}${FAMFS_DEBUG:-default})"
run "$log" "${args[@]}"
rc=$?
if [ $rc = 0 ]; then
	rm -f "$log"
	exit 0
fi
saved=$out/seed-$seed-$(date +%Y%m%d-%H%M%S).log
mv "$log" "$saved"
echo "fuzz: FAILED (exit $rc); the guest log is $saved"
grep -E 'BUG:|WARNING:|Oops|UBSAN|blocked for more than|unreferenced object' "$saved" | head -5
failed_round=$(sed -n 's/^famfs-fuzz: round \([0-9]*\) FAILED.*/\1/p' "$saved" | tail -n 1)
if [ -z "$failed_round" ]; then
	# a splat or a crash: the round in progress is the last one started
	failed_round=$(grep -o 'famfs-fuzz: round [0-9]* start' "$saved" | tail -n 1 | awk '{print $3}')
fi
if [ "$shrink" = 0 ] || [ -z "$failed_round" ]; then
	echo "fuzz: replay: make fuzz SEED=$seed ROUND=${failed_round:-?}"
	exit 1
fi

# shrink: each step is kept if the replay still fails
best=(--seed "$seed" --round "$failed_round")
try() {
	local l
	l=$(mktemp)
	echo "fuzz: shrink: trying famfs_fuzz $*"
	if run "$l" "$@"; then
		rm -f "$l"
		return 1
	fi
	mv "$l" "$out/seed-$seed-round-$failed_round-shrunk.log"
	return 0
}
try "${best[@]}" || { echo "fuzz: round $failed_round alone passes: the failure needs the rounds before it"; exit 1; }
for step in --no-events --no-notify "--clients 1"; do
	# shellcheck disable=SC2206
	cand=("${best[@]}" $step)
	try "${cand[@]}" && best=("${cand[@]}")
done
base=("${best[@]}")
for ops in 400 100 25; do
	cand=("${base[@]}" --ops "$ops")
	try "${cand[@]}" && best=("${cand[@]}") || break
done
echo "fuzz: shrunk replay: famfs_fuzz ${best[*]} (log: $out/seed-$seed-round-$failed_round-shrunk.log)"
exit 1
