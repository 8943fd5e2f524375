#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench.sh [REPS]   (what `make bench` runs)
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
reps=${1:-${FAMFS_BENCH_REPS:-11}}
dir=$FAMFS_CACHE/bench
mkdir -p "$dir"
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
