#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest device setup, sysfs only (Debian's ndctl cannot make CXL RAM
# regions): first a CXL region on each CXL type-3 memdev, a RAM region on
# the volatile one and a pmem region on the persistent one, as
# `cxl create-region` would make them; the RAM region's dax device is
# taken from kmem and bound to fsdev_dax, and the pmem region gets a
# label-backed namespace. Then every pmem namespace (legacy memmap= pmem,
# the emulated NVDIMMs and the CXL pmem region's) becomes a devdax device
# with 2 MiB alignment, bound to fsdev_dax. What was set up is written to
# /tmp/famfs-devices, one line per device:
#   pmem <daxdev> <size-bytes> <driver> <namespace> <ns-bytes>
#   raw <daxdev> <size-bytes> <driver> <namespace> <ns-bytes> <align>
#   fsdax <pmemN> <size-bytes> nd_pmem <namespace> <ns-bytes>
#   cxl  <memdev> <pmem-size-bytes> <ram-size-bytes>
#   cxlregion <region> <ram|pmem> <memdev> <size-bytes> <decoder> <dpa-start>
#   cxlram <daxdev> <size-bytes> <driver> <region>
# Every step says what it did; any failure fails the setup (and the run).
#
# setup-devices.sh --cxl-ram makes the CXL RAM regions (and their dax
# devices on fsdev_dax) again, and nothing else, after a test destroyed
# them; its notes go to /tmp/famfs-devices.again.
set -u
out=/tmp/famfs-devices
[ "${1:-}" = --cxl-ram ] && out=/tmp/famfs-devices.again
: >"$out"
nd=/sys/bus/nd

say() { echo "famfs-setup: $*"; }

# FAMFS_NS_MODES ("BYTES:MODE ...", from scripts/vm.sh) sets up the
# namespace of that size otherwise: fsdev2m (the default), devdax2m or
# devdax4k or devdax1g (a device_dax device, raw mmap, that alignment), fsdax (a
# /dev/pmemN block device with struct pages, for a DAX file system).
mode_of() {
	for m in ${FAMFS_NS_MODES:-}; do
		[ "${m%%:*}" = "$1" ] && { echo "${m#*:}"; return; }
	done
	echo fsdev2m
}

# claim_seed NS KIND ALIGN DRIVER [MAP]: take namespace NS from nd_pmem and
# give it to its region's KIND seed (pfn or dax) with ALIGN, the memmap in
# RAM (or on the device, MAP pmem), bound to DRIVER (nd_pmem or dax_pmem).
# Sets $d to the seed's directory.
claim_seed() {
	if [ -e "$1/driver" ]; then
		echo "${1##*/}" >"$nd/drivers/nd_pmem/unbind" || return 1
	fi
	seed=$(cat "$nd/devices/region$region/${2}_seed")
	[ -n "$seed" ] || { say "region$region has no $2 seed"; return 1; }
	d=$nd/devices/$seed
	cat /proc/sys/kernel/random/uuid >"$d/uuid" || return 1
	echo "$3" >"$d/align" || return 1
	echo "${5:-ram}" >"$d/mode" || return 1
	echo "${1##*/}" >"$d/namespace" || return 1
	echo "$seed" >"$nd/drivers/$4/bind" || return 1
}

fsdax() {
	ns=$1
	nsname=${ns##*/}
	region=${nsname#namespace}
	region=${region%%.*}
	size=$(cat "$ns/size")
	claim_seed "$ns" pfn 2097152 nd_pmem || return 1
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
	mode=$(mode_of "$size")
	align=2097152
	[ "$mode" = devdax4k ] && align=4096
	[ "$mode" = devdax1g ] && align=1073741824
	# A namespace whose memory another guest already set up (a shared
	# NVDIMM, scripts/multihost.sh) carries that guest's dax info block:
	# the kernel found it at boot and made the nd dax device itself.
	d=
	for x in "$nd/devices/dax$region".*; do
		[ "$(cat "$x/namespace" 2>/dev/null)" = "$nsname" ] && d=$x && break
	done
	if [ -n "$d" ]; then
		[ "$(cat "$d/align")" = $align ] ||
			{ say "$nsname: found ${d##*/} with align $(cat "$d/align"), not $align"; return 1; }
		say "$nsname: its dax info block is there already (${d##*/})"
	else
		# 1 GiB alignment (make bench's PUD floor): the memmap on the
		# device. In RAM, its compound folios came out wrong (a WARN in
		# memmap_init_compound() at probe, then one in
		# vmf_insert_folio_pud() and SIGBUS at the first PUD fault).
		map=ram
		[ "$mode" = devdax1g ] && map=pmem
		claim_seed "$ns" dax $align dax_pmem $map || return 1
	fi
	# The new dev_dax is a child of the nd dax device.
	dax=
	for x in "$d"/dax*.*; do
		[ -e "$x/dev" ] && dax=${x##*/} && break
	done
	[ -n "$dax" ] || { say "no dax device under ${d##*/}"; return 1; }
	if [ "$mode" = devdax2m ] || [ "$mode" = devdax4k ] || [ "$mode" = devdax1g ]; then
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

cxl=/sys/bus/cxl/devices

# put VALUE FILE: write VALUE to the sysfs FILE, or say which write failed.
put() {
	echo "$1" >"$2" 2>/dev/null || { say "echo $1 > $2 failed"; return 1; }
}

# The endpoint port of CXL memdev $1 (endpointN), from its uport link;
# the cxl_mem probe that makes it may still be running: 10 s for it.
cxl_endpoint() {
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		for e in "$cxl"/endpoint*; do
			[ -e "$e" ] || continue
			[ "$(basename "$(readlink -f "$e/uport")")" = "$1" ] &&
				{ echo "${e##*/}"; return 0; }
		done
		sleep 1
	done
	return 1
}

# The number of CXL memdevs with KIND (ram or pmem) capacity.
cxl_count() {
	n=0
	for m in "$cxl"/mem*; do
		[ -e "$m" ] || continue
		[ $(($(cat "$m/$1/size" 2>/dev/null || echo 0))) -gt 0 ] && n=$((n + 1))
	done
	echo $n
}

# cxl_region KIND MEMDEV SIZE: a one-way interleaved KIND (ram or pmem)
# region of SIZE bytes over the first free decoder of MEMDEV's endpoint,
# under the root decoder that can hold KIND; committed and bound to
# cxl_region. Sets $region to its name.
cxl_region() {
	kind=$1 mem=$2 size=$3
	ep=$(cxl_endpoint "$mem") || { say "no endpoint port for $mem"; return 1; }
	root=
	for d in "$cxl"/decoder*.*; do
		[ "$(cat "$d/cap_$kind" 2>/dev/null)" = 1 ] && { root=$d; break; }
	done
	[ -n "$root" ] || { say "no root decoder with cap_$kind"; return 1; }
	edec=
	for d in "$cxl/$ep"/decoder*.*; do
		[ -e "$d/size" ] || continue
		[ $(($(cat "$d/size"))) -eq 0 ] && { edec=$d; break; }
	done
	[ -n "$edec" ] || { say "no free decoder on $ep"; return 1; }
	# a decoder whose region was deleted keeps its DPA: free it
	if [ $(($(cat "$edec/dpa_size"))) -ne 0 ]; then
		put 0 "$edec/dpa_size" || return 1
	fi
	region=$(cat "$root/create_${kind}_region") || return 1
	put "$region" "$root/create_${kind}_region" || return 1
	r=$cxl/$region
	if [ "$kind" = pmem ]; then
		put "$(cat /proc/sys/kernel/random/uuid)" "$r/uuid" || return 1
	fi
	put "$(cat "$root/interleave_granularity")" "$r/interleave_granularity" || return 1
	put 1 "$r/interleave_ways" || return 1
	put "$kind" "$edec/mode" || return 1
	put "$size" "$edec/dpa_size" || return 1
	put "$size" "$r/size" || return 1
	put "${edec##*/}" "$r/target0" || return 1
	put 1 "$r/commit" || return 1
	if [ ! -e "$r/driver" ]; then
		put "$region" /sys/bus/cxl/drivers/cxl_region/bind || return 1
	fi
	dpa=$(cat "$edec/dpa_resource")
	say "CXL $region: $kind, $mem ($ep ${edec##*/}, DPA $dpa), $((size)) bytes, HPA $(cat "$r/resource")"
	echo "cxlregion $region $kind $mem $((size)) ${edec##*/} $((dpa))" >>"$out"
}

# The RAM region's dax device: kmem took it (its memory hotplugged,
# offline); give it to fsdev_dax.
cxl_ram_dax() {
	# made by the cxl_dax_region driver's probe, which may still be
	# running: a few seconds for it
	dax=
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		for x in "$cxl/$region"/dax_region*/dax*.*; do
			[ -e "$x" ] && dax=${x##*/} && break
		done
		[ -n "$dax" ] && break
		sleep 1
	done
	[ -n "$dax" ] || { say "no dax device under $region"; return 1; }
	# The device shows in sysfs before kmem's probe of it has run: if
	# kmem takes it after all, unbind it again (three tries).
	for _ in 1 2 3; do
		drv=$(basename "$(readlink "/sys/bus/dax/devices/$dax/driver")")
		[ "$drv" = fsdev_dax ] && break
		if [ -n "$drv" ]; then
			put "$dax" "/sys/bus/dax/drivers/$drv/unbind" || return 1
		fi
		put "$dax" /sys/bus/dax/drivers/fsdev_dax/new_id || return 1
		sleep 1
	done
	drv=$(basename "$(readlink "/sys/bus/dax/devices/$dax/driver")")
	[ "$drv" = fsdev_dax ] || { say "$dax is bound to '$drv', not fsdev_dax"; return 1; }
	dsize=$(cat "/sys/bus/dax/devices/$dax/size")
	say "CXL $region -> /dev/$dax ($dsize bytes, $drv)"
	echo "cxlram $dax $dsize $drv $region" >>"$out"
}

# A label-backed namespace filling the nd region of a CXL pmem region
# (left for the namespace loop below to make a devdax device).
cxl_pmem_ns() {
	# The nd region sits on the CXL nvdimm bridge's bus, not under the
	# CXL region: the one at the region's host physical address. Its
	# probe may still be running: a few seconds for it.
	hpa=$(cat "$cxl/$region/resource")
	ndr=
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		for x in "$nd"/devices/region*; do
			[ "$(cat "$x/resource" 2>/dev/null)" = "$hpa" ] && ndr=${x##*/} && break
		done
		[ -n "$ndr" ] && break
		sleep 1
	done
	[ -n "$ndr" ] || { say "no nd region at $hpa for $region"; return 1; }
	avail=$(cat "$nd/devices/$ndr/available_size")
	ns=$nd/devices/$(cat "$nd/devices/$ndr/namespace_seed")
	put "$(cat /proc/sys/kernel/random/uuid)" "$ns/uuid" || return 1
	put "$avail" "$ns/size" || return 1
	say "CXL $region -> $ndr ${ns##*/} ($avail bytes)"
}

# The pmem regions first, then the RAM ones, whatever the memdevs'
# numbers (cxl_pci probes asynchronously). Region ids come from one
# allocator shared with the nd regions, and the order makes the names
# stable: in the test VM the CXL pmem region's dax device is dax0.0 and
# the CXL RAM region's dax4.0, beside the NVDIMMs' dax1.0, dax2.0 and
# legacy pmem's dax3.0 (the benchmark's VM has more NVDIMMs, so other
# numbers; it finds its devices by these notes). And the RAM region's decoders are the last ones committed on
# the host bridge, so that it can be destroyed and made again
# (tests/cxl_region_removal.c): decoders are committed and reset in
# order.
#
# cxl_pci probes asynchronously: first wait (30 s at most) for a memdev
# of each kind scripts/vm.sh gave QEMU (FAMFS_CXL_BYTES persistent,
# FAMFS_CXL_RAM_BYTES volatile); missing one fails the setup.
want_pmem=0
want_ram=0
[ "${FAMFS_CXL_BYTES:-0}" -gt 0 ] && want_pmem=1
[ "${FAMFS_CXL_RAM_BYTES:-0}" -gt 0 ] && want_ram=1
i=0
while [ "$(cxl_count pmem)" -lt $want_pmem ] || [ "$(cxl_count ram)" -lt $want_ram ]; do
	i=$((i + 1))
	if [ $i -gt 30 ]; then
		say "CXL: $(cxl_count pmem) pmem and $(cxl_count ram) RAM memdevs after 30 s, not $want_pmem and $want_ram"
		exit 1
	fi
	sleep 1
done
for m in "$cxl"/mem*; do
	[ -e "$m" ] || continue
	p=$(cat "$m/pmem/size" 2>/dev/null || echo 0)
	r=$(cat "$m/ram/size" 2>/dev/null || echo 0)
	say "CXL ${m##*/}: pmem $((p)) bytes, ram $((r)) bytes, serial $(cat "$m/serial")"
	echo "cxl ${m##*/} $((p)) $((r))" >>"$out"
done
kinds="pmem ram"
[ "${1:-}" = --cxl-ram ] && kinds=ram
for kind in $kinds; do
	for m in "$cxl"/mem*; do
		[ -e "$m" ] || continue
		mem=${m##*/}
		size=$(cat "$m/$kind/size" 2>/dev/null || echo 0)
		[ $((size)) -gt 0 ] || continue
		if [ $kind = ram ]; then
			cxl_region ram "$mem" $((size)) && cxl_ram_dax
		else
			cxl_region pmem "$mem" $((size)) && cxl_pmem_ns
		fi || { say "FAILED on the $kind region of $mem"; exit 1; }
	done
done
[ "$(grep -c '^cxlram ' "$out")" -ge $want_ram ] ||
	{ say "FAILED: no CXL RAM region's dax device"; exit 1; }
[ "${1:-}" = --cxl-ram ] && exit 0

for ns in "$nd"/devices/namespace*.*; do
	[ -e "$ns" ] || continue
	if [ "$(mode_of "$(cat "$ns/size")")" = fsdax ]; then
		fsdax "$ns" || { say "FAILED on ${ns##*/}"; exit 1; }
	else
		devdax_fsdev "$ns" || { say "FAILED on ${ns##*/}"; exit 1; }
	fi
done

exit 0
