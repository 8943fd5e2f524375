#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of make bench (scripts/bench.sh boots the VM with VM_BENCH=1):
# ext4 -o dax on the fsdax namespace with a 1 GiB file written once (so
# that no fault allocates or converts an extent), famfs_rs loaded, then
# famfs_bench. FAMFS_BENCH_REPS sets the repetitions; FAMFS_BENCH_PROFILE=1
# runs its profile mode instead (make profile).
#
# The volatile CXL device's RAM region (6 GiB here, one fsdev_dax device
# after setup-devices.sh) is split into four dax devices of the same
# memory, told apart in /tmp/famfs-devices: the first shrunk to 2 GiB and
# back on fsdev_dax (famfs on CXL), then three new 1 GiB ones on
# device_dax, 2 MiB, 4 KiB and 1 GiB aligned (the raw CXL floors), as
#   cxlraw <daxdev> <size-bytes> device_dax <region> - <align>
set -eu
say() { echo "bench: $*"; }
put() { echo "$1" >"$2" || { say "echo $1 > $2 failed"; exit 1; }; }
drv_of() { basename "$(readlink "/sys/bus/dax/devices/$1/driver")"; }

cxl=$(awk '$1 == "cxlram" { print $2 }' /tmp/famfs-devices)
region=$(awk '$1 == "cxlram" { print $5 }' /tmp/famfs-devices)
[ -n "$cxl" ] || { say "no CXL RAM dax device"; exit 1; }
dr=$(dirname "$(readlink -f "/sys/bus/dax/devices/$cxl")")/dax_region
put "$cxl" /sys/bus/dax/drivers/fsdev_dax/unbind
put $((2 << 30)) "/sys/bus/dax/devices/$cxl/size"
put "$cxl" /sys/bus/dax/drivers/fsdev_dax/bind
[ "$(drv_of "$cxl")" = fsdev_dax ] || { say "$cxl is not back on fsdev_dax"; exit 1; }
sed -i "s/^cxlram $cxl [0-9]*/cxlram $cxl $((2 << 30))/" /tmp/famfs-devices
# raw_dev ALIGN ATTR VALUE: a new dax device of the region, ALIGN aligned,
# given its memory by writing VALUE to its ATTR (size, or mapping for a
# range of our choosing), on device_dax, noted in /tmp/famfs-devices.
raw_dev() {
	put 1 "$dr/create"
	d=$(cat "$dr/create")
	[ -e "/sys/bus/dax/devices/$d" ] || { say "no new dax device in $dr ('$d')"; exit 1; }
	put "$1" "/sys/bus/dax/devices/$d/align"
	put "$3" "/sys/bus/dax/devices/$d/$2"
	drv=$(drv_of "$d")
	[ -z "$drv" ] || put "$d" "/sys/bus/dax/drivers/$drv/unbind"
	put "$d" /sys/bus/dax/drivers/device_dax/new_id
	[ "$(drv_of "$d")" = device_dax ] || put "$d" /sys/bus/dax/drivers/device_dax/bind
	[ "$(drv_of "$d")" = device_dax ] || { say "$d is not on device_dax"; exit 1; }
	sz=$(cat "/sys/bus/dax/devices/$d/size")
	say "CXL $region: /dev/$d, $sz bytes ($2 $3), align $1, device_dax"
	echo "cxlraw $d $sz device_dax $region - $1" >>/tmp/famfs-devices
}
for align in 2097152 4096; do
	raw_dev $align size $((1 << 30))
done
# The PUD floor: a 1 GiB device_dax on the first 1 GiB boundary 4 GiB or
# more into the region (past the three devices above), placed by its
# mapping: the region allocates first fit, on no boundary.
rstart=$(cat "/sys/bus/cxl/devices/$region/resource")
rsize=$(cat "/sys/bus/cxl/devices/$region/size")
gib=$((1 << 30))
start=$(((rstart + 4 * gib + gib - 1) / gib * gib))
[ $((start + gib)) -le $((rstart + rsize)) ] ||
	{ say "CXL $region ($rsize bytes at $rstart): no GiB on a 1 GiB boundary past 4 GiB"; exit 1; }
raw_dev $gib mapping "$(printf '%x-%x' $start $((start + gib - 1)))"
say "CXL $region: /dev/$cxl, $(cat "/sys/bus/dax/devices/$cxl/size") bytes, fsdev_dax"

pm=$(awk '$1 == "fsdax" { print $2 }' /tmp/famfs-devices)
[ -n "$pm" ] || { echo "bench: no fsdax namespace (VM_BENCH=1?)"; exit 1; }
# Debian's mke2fs (busybox's makes ext2 only); stripe hints of 2 MiB so
# that ext4 allocates 2 MiB-aligned extents, which PMD faults need.
MKE2FS_CONFIG=/famfs/mke2fs.conf /sbin/mke2fs -q -F -t ext4 -b 4096 \
	-E stride=512,stripe_width=512 "/dev/$pm"
mkdir -p /mnt/ext4
mount -t ext4 -o dax "/dev/$pm" /mnt/ext4
dd if=/dev/zero of=/mnt/ext4/f bs=1M count=1024 2>/dev/null
sync
echo "bench: ext4 -o dax on /dev/$pm, /mnt/ext4/f $(stat -c %s /mnt/ext4/f) bytes"
insmod /famfs/famfs_rs.ko
if [ "${FAMFS_BENCH_PROFILE:-0}" = 1 ]; then
	[ -e /sys/kernel/tracing/trace_stat ] ||
		mount -t tracefs nodev /sys/kernel/tracing
	famfs_bench -P
else
	famfs_bench -r "${FAMFS_BENCH_REPS:-11}"
fi
rc=$?
rmmod famfs_rs
umount /mnt/ext4
exit $rc
