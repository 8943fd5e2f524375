#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh [REPS]     (what `make bench` runs)
# bench.sh --profile  (what `make profile` runs, on the profile kernel;
#                     FAMFS_PROFILE_FILTER="fn pattern ..." traces those
#                     functions instead of the fault path's list)
#
# Boot the VM with the benchmark's devices (scripts/vm.sh, VM_BENCH=1)
# and run tests/guest/bench.sh: famfs_rs against the raw device and ext4
# -o dax. Prints the table and keeps the whole result, machine-readable
# lines ("bench: path=... op=...") included, in
# $FAMFS_CACHE/bench/latest.txt.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/env.sh
. "$here/env.sh"
dir=$FAMFS_CACHE/bench
mkdir -p "$dir"
if [ "${1:-}" = --profile ]; then
	KDIR=${KDIR:-$("$here/build-kernel.sh" --print-kdir)}
	grep -qx CONFIG_FUNCTION_PROFILER=y "$KDIR/.config" || {
		echo "bench: $KDIR has no function profiler (make profile builds one)" >&2
		exit 1
	}
	log=$dir/profile-console.log
	# One vCPU: the profiler rewrites kernel text when it is switched on,
	# and under TCG with two vCPUs that once crashed the guest.
	filter=
	[ -z "${FAMFS_PROFILE_FILTER:-}" ] ||
		filter="export FAMFS_PROFILE_FILTER='$FAMFS_PROFILE_FILTER'; "
	VM_SMP=1 VM_BENCH=1 "$here/vm.sh" -t 3600 -l "$log" -- \
		"${filter}export FAMFS_BENCH_PROFILE=1; sh /famfs/bench.sh" >/dev/null
	{
		echo "# make profile, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) host CPUs, QEMU TCG"
		sed -n '/^famfs_bench: B1/,$p' "$log" | grep -v '^\[ *[0-9.]*\]' |
			grep -v '^famfs-vm: exit'
	} >"$dir/profile.txt"
	grep -v '^profile: ' "$dir/profile.txt"
	grep -q '^profile: .* total ' "$dir/profile.txt" || {
		echo "bench: no profile in $log" >&2
		exit 1
	}
	echo "bench: the full profile, one line per function: $dir/profile.txt"
	exit 0
fi
reps=${1:-${FAMFS_BENCH_REPS:-11}}
log=$dir/console.log
VM_BENCH=1 "$here/vm.sh" -t 3600 -l "$log" -- \
	"export FAMFS_BENCH_REPS=$reps; sh /famfs/bench.sh" >/dev/null
sed -n '/^famfs_bench: B1/,$p' "$log" | grep -v '^\[ *[0-9.]*\]' |
	grep -v '^famfs-vm: exit' >"$dir/latest.txt"
{
	echo "# make bench, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) host CPUs, QEMU TCG"
	echo "# host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
} | cat - "$dir/latest.txt" >"$dir/latest.tmp" && mv "$dir/latest.tmp" "$dir/latest.txt"
grep -v '^bench: ' "$dir/latest.txt"
echo "bench: the full result, one line per figure: $dir/latest.txt"
