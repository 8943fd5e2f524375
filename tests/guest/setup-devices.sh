#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest device setup, sysfs only (no ndctl): every pmem namespace (legacy
# memmap= pmem and the emulated NVDIMM) becomes a devdax device with 2 MiB
# alignment, bound to fsdev_dax; CXL memdevs are listed. What was set up
# is written to /tmp/famfs-devices, one line per device:
#   pmem <daxdev> <size-bytes> <driver> <namespace>
#   cxl  <memdev> <pmem-size-bytes> <ram-size-bytes>
set -u
out=/tmp/famfs-devices
: >"$out"
nd=/sys/bus/nd

say() { echo "famfs-setup: $*"; }

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
	cat /proc/sys/kernel/random/uuid >"$d/uuid" || return 1
	echo 2097152 >"$d/align" || return 1
	echo ram >"$d/mode" || return 1
	echo "$nsname" >"$d/namespace" || return 1
	echo "$seed" >"$nd/drivers/dax_pmem/bind" || return 1
	# The new dev_dax is a child of the nd dax device.
	dax=
	for x in "$d"/dax*.*; do
		[ -e "$x/dev" ] && dax=${x##*/} && break
	done
	[ -n "$dax" ] || { say "no dax device under $seed"; return 1; }
	echo "$dax" >/sys/bus/dax/drivers/device_dax/unbind 2>/dev/null
	echo "$dax" >/sys/bus/dax/drivers/fsdev_dax/new_id || return 1
	drv=$(basename "$(readlink "/sys/bus/dax/devices/$dax/driver")")
	dsize=$(cat "/sys/bus/dax/devices/$dax/size")
	say "$nsname ($size bytes) -> /dev/$dax ($dsize bytes, $drv)"
	echo "pmem $dax $dsize $drv $nsname $size" >>"$out"
}

for ns in "$nd"/devices/namespace*.*; do
	[ -e "$ns" ] || continue
	devdax_fsdev "$ns" || { say "FAILED on ${ns##*/}"; exit 1; }
done

for m in /sys/bus/cxl/devices/mem*; do
	[ -e "$m" ] || continue
	p=$(cat "$m/pmem/size" 2>/dev/null || echo 0)
	r=$(cat "$m/ram/size" 2>/dev/null || echo 0)
	say "CXL ${m##*/}: pmem $((p)) bytes, ram $((r)) bytes"
	echo "cxl ${m##*/} $((p)) $((r))" >>"$out"
done
exit 0
