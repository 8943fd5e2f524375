#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# vm.sh [-t SECONDS] [-l LOG] [--] COMMAND...
#
# Boot the famfs-rs kernel under QEMU 10 (TCG: KVM does not work on these
# machines) with legacy pmem (memmap=), two emulated NVDIMMs and two
# emulated CXL type-3 memory devices, one volatile (RAM) and one
# persistent; in the guest, create a CXL region on each and turn the RAM
# region's dax device and every pmem namespace into a devdax device bound
# to fsdev_dax (tests/guest/setup-devices.sh), then run COMMAND (a shell
# command line) with the module, tests and guest scripts under /famfs.
#
# Streams the guest console, exits with COMMAND's exit status, and fails
# (exit 1) on a timeout (default 600 s), a missing exit status, or any
# kernel splat in the log (BUG:, WARNING:, Oops, UBSAN, KASAN, lockdep,
# panic, hung task, kmemleak report).
#
# Environment: KERNEL=bzImage or KDIR=build-tree to override the kernel;
# FAMFS_DEBUG=1 for the debug kernel; VM_SMP for the vCPUs (default 2);
# VM_APPEND for extra kernel arguments;
# VM_BENCH=1 for the benchmark's extra devices (see BENCH_MIB);
# QEMU=qemu-system-x86_64 (or a path) runs that QEMU instead of the QEMU 10
# that scripts/setup-qemu.sh unpacked into the cache; one older than 8 has
# no volatile CXL memory, so the guest gets no CXL RAM region (and the
# tests that need it fail). VM_KEEP=DIR keeps the guest's device backing
# files (nvdimm*.raw, cxl-ram0.raw, cxl-pmem0.raw, cxl-lsa0.raw) in DIR
# after the run; the *.raw files DIR had before are removed first.
# VM_SHARED=DIR backs the volatile CXL device and the second NVDIMM with
# DIR/cxl-ram0.raw and DIR/nvdimm1.raw, which DIR keeps: two guests
# given the same DIR share that memory, as hosts share CXL memory
# (scripts/multihost.sh). VM_NAME names the guest (QEMU's -name, which
# scripts/multihost.sh kills it by); VM_KILL_MARK=FILE takes a QEMU that
# died of SIGKILL while FILE exists (the killer creates it first: a host
# crash on purpose) as a guest that ended, exit status 0, if its log has
# no splat and no failed exit status. VM_MEMCG_OOM_OK=1 takes an OOM kill
# inside a memory cgroup (its report, with a stack) as no splat.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

timeout=600
log=
while [ $# -gt 0 ]; do
	case $1 in
	-t) timeout=$2; shift 2 ;;
	-l) log=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [-t SECONDS] [-l LOG] [--] COMMAND..." >&2; exit 2; }

KDIR=${KDIR:-$("$here/build-kernel.sh" --print-kdir)}
KERNEL=${KERNEL:-$KDIR/arch/x86/boot/bzImage}
[ -f "$KERNEL" ] || { echo "vm: no kernel at $KERNEL (run make kernel)" >&2; exit 1; }

# The QEMU to run: $QEMU if given, else the cached QEMU 10 (and its -L
# data directories).
qemu_bin=
qemu_data=()
if [ -n "${QEMU:-}" ]; then
	qemu_bin=$(command -v "$QEMU" || true)
elif mapfile -t q < <("$here/setup-qemu.sh" --print) && [ ${#q[@]} -gt 0 ]; then
	qemu_bin=${q[0]}
	qemu_data=("${q[@]:1}")
	# its own modules (audio, ui) first; one it lacks (ui-opengl) is
	# looked for in the system QEMU's directory too, whose 7.2 build
	# refuses to load ("failed to initialize module"): harmless here
	export QEMU_MODULE_DIR=${qemu_bin%/bin/*}/lib/x86_64-linux-gnu/qemu
fi
qver=
[ -z "$qemu_bin" ] ||
	qver=$("$qemu_bin" "${qemu_data[@]}" --version 2>/dev/null |
		sed -n 's/.*version \([0-9][0-9.]*\).*/\1/p') || qver=
if [ -z "$qver" ]; then
	echo "vm: no usable QEMU: ${QEMU:-the cached QEMU 10} does not run (scripts/setup-qemu.sh fetches QEMU 10; QEMU=qemu-system-x86_64 runs the system's)" >&2
	exit 1
fi
echo "vm: $qemu_bin ($qver)"

# Guest memory layout (q35 with more than 2.75 GiB puts RAM at 0-2 GiB and
# from 4 GiB up): 4 GiB of RAM, of which memmap=2G!4G turns the upper
# 2 GiB into legacy pmem, so every pmem byte is backed by real guest RAM.
PMEM0_BYTES=$((2 << 30))
NVDIMM_BYTES=$((1 << 30))
NVDIMM2_BYTES=$((512 << 20))
# CXL: one persistent type-3 device (memdev=, with a label area) and one
# volatile one (volatile-memdev=), each on its own root port of one CXL
# host bridge, whose fixed memory window (4 GiB; 8 GiB for the benchmark)
# takes both kinds. Region sizes are multiples of 256 MiB (the HDM
# decoders' granularity).
CXL_BYTES=$((512 << 20))
CXL_RAM_BYTES=$((2 << 30))
CXL_WINDOW=4G
# VM_BENCH=1 (make bench) adds six NVDIMMs for tests/bench/famfs_bench.c,
# each of its own size so the guest tells them apart (a namespace is its
# daxdev plus 2 MiB): B1 famfs files, B2 the second interleave strip, B3
# raw device_dax with 2 MiB alignment (PMD floor), B4 raw device_dax with
# 4 KiB alignment (PTE floor), B5 fsdax pmem for ext4 -o dax, B6 raw
# device_dax with 1 GiB alignment (PUD floor: its data starts at the
# first 1 GiB boundary past the info block, so 2 GiB give one GiB).
BENCH_MIB=(6146 1026 1028 1030 1536 2052)
BENCH_MODES=(fsdev2m fsdev2m devdax2m devdax4k fsdax devdax1g)
# and a 6 GiB volatile CXL device, which tests/guest/bench.sh splits into
# a 2 GiB fsdev_dax device for famfs and three raw 1 GiB device_dax ones
# (the third on a 1 GiB boundary, in the last 2 GiB).
if [ "${VM_BENCH:-0}" = 1 ]; then
	CXL_RAM_BYTES=$((6 << 30))
	CXL_WINDOW=8G
fi

cleanup=
bdir_tmp=
trap 'rm -rf ${cleanup:+"$cleanup"} ${bdir_tmp:+"$bdir_tmp"}' EXIT
if [ -n "${VM_KEEP:-}" ]; then
	mkdir -p "$VM_KEEP"
	work=$(cd "$VM_KEEP" && pwd)
	# a fresh start: old backing files would bring old labels along
	rm -f "$work"/*.raw
else
	work=$(mktemp -d "${TMPDIR:-/tmp}/famfs-vm.XXXXXX")
	cleanup=$work
fi

# The benchmark's devices are backed by tmpfs (/dev/shm) when there is
# one: on a disk file system the host's writeback would keep
# write-protecting the guest's pages, and every write fault would cost a
# host fault too.
bdir=$work
if [ "${VM_BENCH:-0}" = 1 ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	bdir_tmp=$(mktemp -d /dev/shm/famfs-bench.XXXXXX)
	bdir=$bdir_tmp
fi

sdir=$work
cdir=$bdir
if [ -n "${VM_SHARED:-}" ]; then
	mkdir -p "$VM_SHARED"
	sdir=$(cd "$VM_SHARED" && pwd)
	cdir=$sdir
fi
cxl_ram=(-object "memory-backend-file,id=cxl-ram0,share=on,mem-path=$cdir/cxl-ram0.raw,size=$CXL_RAM_BYTES"
	-device cxl-rp,port=1,bus=cxl.1,id=root_port14,chassis=0,slot=3
	-device cxl-type3,bus=root_port14,volatile-memdev=cxl-ram0,id=cxl-vmem0,sn=0x2)
if [ "${qver%%.*}" -lt 8 ]; then
	echo "vm: NOTE: QEMU $qver has no volatile CXL memory (volatile-memdev= needs QEMU >= 8): no CXL RAM region in this guest" >&2
	CXL_RAM_BYTES=0
	cxl_ram=()
fi
[ -n "$log" ] || log=$work/console.log

bench_dev=()
ns_modes=
if [ "${VM_BENCH:-0}" = 1 ]; then
	for i in "${!BENCH_MIB[@]}"; do
		bench_dev+=(-object "memory-backend-file,id=bmem$i,share=on,mem-path=$bdir/bench$i.raw,size=${BENCH_MIB[$i]}M"
			-device "nvdimm,id=bnvdimm$i,memdev=bmem$i")
		ns_modes+="$((BENCH_MIB[i] << 20)):${BENCH_MODES[$i]} "
	done
fi

{
	echo "export FAMFS_PMEM0_BYTES=$PMEM0_BYTES FAMFS_NVDIMM_BYTES=$NVDIMM_BYTES" \
		"FAMFS_NVDIMM2_BYTES=$NVDIMM2_BYTES FAMFS_CXL_BYTES=$CXL_BYTES" \
		"FAMFS_CXL_RAM_BYTES=$CXL_RAM_BYTES"
	echo "export FAMFS_NS_MODES='$ns_modes'"
	echo "$*"
} >"$work/cmd"
FAMFS_BENCH=${VM_BENCH:-0} "$here/mkinitramfs.sh" "$work/initramfs.cpio.gz" "$work/cmd"

append="console=ttyS0 memmap=2G!4G panic=-1 oops=panic loglevel=7"
if [ "${FAMFS_DEBUG:-0}" = 1 ]; then
	# The debug arguments on a kernel without the debug options would
	# pass for a debug run: refuse (the config sits next to the image).
	if ! grep -qx CONFIG_DEBUG_KMEMLEAK=y "$KDIR/.config" 2>/dev/null; then
		echo "vm: FAMFS_DEBUG=1 but $KERNEL is not the debug kernel" >&2
		exit 1
	fi
	append="$append slub_debug=FZPU kfence.sample_interval=10 kmemleak=on"
fi
append="$append ${VM_APPEND:-}"

# -cpu qemu64,hypervisor=off: committing a CXL region needs the CPU cache
# invalidation of cpu_cache_invalidate_memregion(), which the kernel
# refuses under a hypervisor (X86_FEATURE_HYPERVISOR): ENXIO and a WARN.
# pdpe1gb=on: 1 GiB pages, which PUD mappings need (tests/pud_fault.c).
# sn= on the type-3 devices: a CXL pmem region needs a serial number.
qemu=("$qemu_bin" "${qemu_data[@]}" -accel tcg -cpu qemu64,hypervisor=off,pdpe1gb=on
	-smp "${VM_SMP:-2}" -nographic -no-reboot -nic none ${VM_NAME:+-name "$VM_NAME"}
	-M q35,cxl=on,nvdimm=on -m 4G,slots=8,maxmem=24G
	-kernel "$KERNEL" -initrd "$work/initramfs.cpio.gz" -append "$append"
	-object "memory-backend-file,id=nvmem0,share=on,mem-path=$work/nvdimm0.raw,size=$NVDIMM_BYTES"
	-device nvdimm,id=nvdimm0,memdev=nvmem0
	-object "memory-backend-file,id=nvmem1,share=on,mem-path=$sdir/nvdimm1.raw,size=$NVDIMM2_BYTES"
	-device nvdimm,id=nvdimm1,memdev=nvmem1
	-object "memory-backend-file,id=cxl-mem0,share=on,mem-path=$work/cxl-pmem0.raw,size=$CXL_BYTES"
	-object "memory-backend-file,id=cxl-lsa0,share=on,mem-path=$work/cxl-lsa0.raw,size=256M"
	-device pxb-cxl,bus_nr=12,bus=pcie.0,id=cxl.1
	-device cxl-rp,port=0,bus=cxl.1,id=root_port13,chassis=0,slot=2
	-device cxl-type3,bus=root_port13,memdev=cxl-mem0,lsa=cxl-lsa0,id=cxl-pmem0,sn=0x1
	"${cxl_ram[@]}"
	-M cxl-fmw.0.targets.0=cxl.1,cxl-fmw.0.size=$CXL_WINDOW
	"${bench_dev[@]}")

t0=$SECONDS
set +e
# stdbuf: the log grows as the guest writes, not in blocks of tr's buffer.
timeout -k 5 "$timeout" "${qemu[@]}" </dev/null 2>&1 | stdbuf -o0 tr -d '\r' | tee "$log"
qrc=${PIPESTATUS[0]}
set -e
echo "vm: guest ran $((SECONDS - t0)) s"

splat='BUG:|WARNING:|Oops|KASAN|UBSAN|Kernel panic|kernel BUG|general protection fault|'
splat+='turning off the locking correctness validator|possible circular locking|'
splat+='possible recursive locking|inconsistent lock state|suspicious RCU usage|'
splat+='blocked for more than|unreferenced object|Call Trace:'
# VM_MEMCG_OOM_OK=1 (the fuzzer's memory-pressure event): an OOM kill
# inside a memory cgroup is that event working, not a splat. Each such
# report (from "invoked oom-killer" to its "Memory cgroup out of memory"
# line, with constraint CONSTRAINT_MEMCG) is left out of the scan; a
# global OOM, and every other line, is scanned as always.
scan=$log
if [ "${VM_MEMCG_OOM_OK:-0}" = 1 ]; then
	scan=$work/scan.log
	awk '
	/invoked oom-killer:/ { inb = 1; n = 0; memcg = 0 }
	inb { buf[++n] = $0; if (/CONSTRAINT_MEMCG/) memcg = 1
	      if (/Memory cgroup out of memory: Killed process|Out of memory: Killed process/) {
		inb = 0; if (!memcg) for (i = 1; i <= n; i++) print buf[i] }
	      next }
	{ print }
	END { if (inb) for (i = 1; i <= n; i++) print buf[i] }' "$log" >"$scan"
fi
if grep -En "$splat" "$scan" >"$work/splats"; then
	echo "vm: FAIL: kernel splat in the guest log:" >&2
	head -20 "$work/splats" >&2
	exit 1
fi
if [ "$qrc" = 137 ] && [ -n "${VM_KILL_MARK:-}" ] && [ -e "$VM_KILL_MARK" ]; then
	rc=$(sed -n 's/^famfs-vm: exit \([0-9]*\)$/\1/p' "$log" | tail -n 1)
	if [ -n "$rc" ] && [ "$rc" != 0 ]; then
		echo "vm: FAIL: the guest exited $rc before it was killed" >&2
		exit 1
	fi
	echo "vm: the guest was killed (a host crash), as asked"
	exit 0
fi
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "vm: FAIL: timed out after $timeout s" >&2
	exit 1
fi
rc=$(sed -n 's/^famfs-vm: exit \([0-9]*\)$/\1/p' "$log" | tail -n 1)
if [ -z "$rc" ]; then
	echo "vm: FAIL: the guest did not report an exit status (qemu rc $qrc)" >&2
	exit 1
fi
exit "$rc"
