#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest device setup, sysfs only (no ndctl): every pmem namespace (legacy
# memmap= pmem and the emulated NVDIMM) becomes a devdax device with 2 MiB
# alignment, bound to fsdev_dax; CXL memdevs are listed. What was set up
# is written to /tmp/famfs-devices, one line per device:
#   pmem <daxdev> <size-bytes> <driver> <namespace>
#   raw <daxdev> <size-bytes> <driver> <namespace> <ns-bytes> <align>
#   fsdax <pmemN> <size-bytes> nd_pmem <namespace> <ns-bytes>
#   cxl  <memdev> <pmem-size-bytes> <ram-size-bytes>
set -u
out=/tmp/famfs-devices
: >"$out"
nd=/sys/bus/nd

say() { echo "famfs-setup: $*"; }

# FAMFS_NS_MODES ("BYTES:MODE ...", from scripts/vm.sh) sets up the
# namespace of that size otherwise: fsdev2m (the default), devdax2m or
# devdax4k (a device_dax device, raw mmap, that alignment), fsdax (a
# /dev/pmemN block device with struct pages, for a DAX file system).
mode_of() {
	for m in ${FAMFS_NS_MODES:-}; do
		[ "${m%%:*}" = "$1" ] && { echo "${m#*:}"; return; }
	done
	echo fsdev2m
}

fsdax() {
	ns=$1
	nsname=${ns##*/}
	region=${nsname#namespace}
	region=${region%%.*}
	size=$(cat "$ns/size")
	if [ -e "$ns/driver" ]; then
		echo "$nsname" >"$nd/drivers/nd_pmem/unbind" || return 1
	fi
	seed=$(cat "$nd/devices/region$region/pfn_seed")
	[ -n "$seed" ] || { say "region$region has no pfn seed"; return 1; }
	d=$nd/devices/$seed
	cat /proc/sys/kernel/random/uuid >"$d/uuid" || return 1
	echo 2097152 >"$d/align" || return 1
	echo ram >"$d/mode" || return 1
	echo "$nsname" >"$d/namespace" || return 1
	echo "$seed" >"$nd/drivers/nd_pmem/bind" || return 1
	blk=
	for x in "$d"/block/pmem*; do
		[ -e "$x" ] && blk=${x##*/} && break
	done
	[ -n "$blk" ] || { say "no pmem block device under $seed"; return 1; }
	say "$nsname ($size bytes) -> /dev/$blk (fsdax)"
	echo "fsdax $blk $(($(cat "/sys/block/$blk/size") * 512)) nd_pmem $nsname $size" >>"$out"
}

devdax_fsdev() {
	ns=$1
	nsname=${ns##*/}
	region=${nsname#namespace}
	region=${region%%.*}
	size=$(cat "$ns/size")
	[ "$size" -gt 0 ] || return 0
	if [ -e "$ns/driver" ]; then
		echo "$nsname" >"$nd/drivers/nd_pmem/unbind" || return 1
	fi
	seed=$(cat "$nd/devices/region$region/dax_seed")
	[ -n "$seed" ] || { say "region$region has no dax seed"; return 1; }
	d=$nd/devices/$seed
	mode=$(mode_of "$size")
	align=2097152
	[ "$mode" = devdax4k ] && align=4096
	cat /proc/sys/kernel/random/uuid >"$d/uuid" || return 1
	echo $align >"$d/align" || return 1
	echo ram >"$d/mode" || return 1
	echo "$nsname" >"$d/namespace" || return 1
	echo "$seed" >"$nd/drivers/dax_pmem/bind" || return 1
	# The new dev_dax is a child of the nd dax device.
	dax=
	for x in "$d"/dax*.*; do
		[ -e "$x/dev" ] && dax=${x##*/} && break
	done
	[ -n "$dax" ] || { say "no dax device under $seed"; return 1; }
	if [ "$mode" = devdax2m ] || [ "$mode" = devdax4k ]; then
		drv=$(basename "$(readlink "/sys/bus/dax/devices/$dax/driver")")
		dsize=$(cat "/sys/bus/dax/devices/$dax/size")
		say "$nsname ($size bytes) -> /dev/$dax ($dsize bytes, $drv, align $align)"
		echo "raw $dax $dsize $drv $nsname $size $align" >>"$out"
		return 0
	fi
	echo "$dax" >/sys/bus/dax/drivers/device_dax/unbind 2>/dev/null
	echo "$dax" >/sys/bus/dax/drivers/fsdev_dax/new_id || return 1
	drv=$(basename "$(readlink "/sys/bus/dax/devices/$dax/driver")")
	dsize=$(cat "/sys/bus/dax/devices/$dax/size")
	say "$nsname ($size bytes) -> /dev/$dax ($dsize bytes, $drv)"
	echo "pmem $dax $dsize $drv $nsname $size" >>"$out"
}

for ns in "$nd"/devices/namespace*.*; do
	[ -e "$ns" ] || continue
	if [ "$(mode_of "$(cat "$ns/size")")" = fsdax ]; then
		fsdax "$ns" || { say "FAILED on ${ns##*/}"; exit 1; }
	else
		devdax_fsdev "$ns" || { say "FAILED on ${ns##*/}"; exit 1; }
	fi
done

for m in /sys/bus/cxl/devices/mem*; do
	[ -e "$m" ] || continue
	p=$(cat "$m/pmem/size" 2>/dev/null || echo 0)
	r=$(cat "$m/ram/size" 2>/dev/null || echo 0)
	say "CXL ${m##*/}: pmem $((p)) bytes, ram $((r)) bytes"
	echo "cxl ${m##*/} $((p)) $((r))" >>"$out"
done
exit 0
