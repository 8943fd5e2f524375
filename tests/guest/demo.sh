#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make run`: the devices, the module, a famfs namespace
# served by the test server with its headline file on CXL memory and one
# striped over CXL and an NVDIMM, and bytes written through the files
# found on the devices where the fmaps put them. For each, a
# "famfs-demo: host BACKING-FILE OFFSET TEXT" line tells scripts/demo.sh
# where the same bytes must be in QEMU's backing file of that device.
set -e
MiB=1048576
say() { echo "famfs-demo: $*"; }
note() { awk -v k="$1" -v w="$2" '$1 == k && $2 == w' /tmp/famfs-devices; }
echo "===== famfs-rs demo ====="
echo "--- DAX devices (set up by setup-devices.sh)"
while read -r kind name size drv ns nssize rest; do
	case $kind in
	pmem) printf '  /dev/%-8s %6d MiB  driver %-10s (from %s, %d MiB)\n' \
		"$name" $((size >> 20)) "$drv" "$ns" $((nssize >> 20)) ;;
	cxlram) printf '  /dev/%-8s %6d MiB  driver %-10s (CXL RAM %s)\n' \
		"$name" $((size >> 20)) "$drv" "$ns" ;;
	cxlregion) printf '  CXL %-8s %-4s region on %s, %d MiB, %s at DPA %#x\n' \
		"$name" "$size" "$drv" $((ns >> 20)) "$nssize" "$rest" ;;
	cxl) printf '  CXL %-8s memdev: pmem %d MiB, ram %d MiB\n' \
		"$name" $((size >> 20)) $((drv >> 20)) ;;
	esac
done </tmp/famfs-devices
cxldax=$(awk '$1 == "cxlram" { print $2 }' /tmp/famfs-devices)
[ "$cxldax" = dax4.0 ] || { say "the CXL RAM daxdev is '$cxldax', not dax4.0"; exit 1; }
echo "--- loading famfs_rs"
insmod /famfs/famfs_rs.ko
printf '  /sys/module/famfs_rs: refcnt %s, taint %s, initstate %s\n' \
	"$(cat /sys/module/famfs_rs/refcnt)" "$(cat /sys/module/famfs_rs/taint)" \
	"$(cat /sys/module/famfs_rs/initstate)"
# booted with kunit.autorun=0 (scripts/demo.sh): registered, not run
suites=$(ls /sys/kernel/debug/kunit 2>/dev/null | grep -c '^famfs_rs' || true)
echo "  KUnit: $suites famfs_rs suites registered, not run here (make check runs them)"
dmesg -c >/dev/null
echo "--- the namespace (famfs_server, manifests/demo.manifest)"
sed -n 's/^\(daxdev\|file\) /  &/p' /famfs/manifests/demo.manifest
mkdir -p /mnt/famfs
famfs_server /famfs/manifests/demo.manifest /mnt/famfs
ls -l /mnt/famfs | sed 's/^/  /'
echo "  famfs_rs refcnt while mounted: $(cat /sys/module/famfs_rs/refcnt)"
echo "--- writing through the files"
t1='hello from CXL memory, byte 3MiB+100'
t2='hello from striped, chunk 3 + 7'
t3='hello from striped, chunk 2 + 9'
# on-cxl: [0,4M) on dev 0 (CXL) @64M
printf '%s' "$t1" | dd of=/mnt/famfs/on-cxl bs=1 seek=$((3 * MiB + 100)) conv=notrunc 2>/dev/null
# striped: 2 MiB chunks on strips dev 0 @32M (CXL), dev 1 @32M (NVDIMM);
# chunk 3 is strip 1, stripe 1: dev 1 @ 32M + 2M; chunk 2 strip 0,
# stripe 1: dev 0 @ 32M + 2M
printf '%s' "$t2" | dd of=/mnt/famfs/striped bs=1 seek=$((6 * MiB + 7)) conv=notrunc 2>/dev/null
printf '%s' "$t3" | dd of=/mnt/famfs/striped bs=1 seek=$((4 * MiB + 9)) conv=notrunc 2>/dev/null
echo "  read back: $(dd if=/mnt/famfs/on-cxl bs=1 skip=$((3 * MiB + 100)) count=${#t1} 2>/dev/null)"
echo "  read back: $(dd if=/mnt/famfs/striped bs=1 skip=$((6 * MiB + 7)) count=${#t2} 2>/dev/null)"
echo "  read back: $(dd if=/mnt/famfs/striped bs=1 skip=$((4 * MiB + 9)) count=${#t3} 2>/dev/null)"
echo "  famfs_rs logged since the mount: $(dmesg | grep -c 'famfs_rs:' || true) lines"
dmesg | grep 'famfs_rs:' | sed 's/^/  /' | tail -n 3
umount /mnt/famfs
rmmod famfs_rs

# peek DAX OFFSET TEXT: the bytes at OFFSET of the raw device DAX (moved
# to device_dax and back) must be TEXT.
peek() {
	got=$(famfs_peek "/dev/$1" "$2" ${#3})
	printf '  /dev/%s @ %#x: %s\n' "$1" "$2" "$got"
	[ "$got" = "$3" ] || { say "/dev/$1 @ $2: '$got', not '$3'"; exit 1; }
}
# By new_id, which binds too: device_dax takes a CXL RAM region's dax
# device (a kmem one by type) only by name.
raw() {
	echo "$1" >/sys/bus/dax/drivers/fsdev_dax/remove_id
	echo "$1" >/sys/bus/dax/drivers/fsdev_dax/unbind
	echo "$1" >/sys/bus/dax/drivers/device_dax/new_id
}
fsdev() {
	echo "$1" >/sys/bus/dax/drivers/device_dax/remove_id
	echo "$1" >/sys/bus/dax/drivers/device_dax/unbind
	echo "$1" >/sys/bus/dax/drivers/fsdev_dax/new_id
}
echo "--- after unmount: dax4.0 (CXL) and dax1.0 (NVDIMM) moved to device_dax, read raw"
raw dax4.0
raw dax1.0
peek dax4.0 $((64 * MiB + 3 * MiB + 100)) "$t1"
peek dax1.0 $((34 * MiB + 7)) "$t2"
peek dax4.0 $((34 * MiB + 9)) "$t3"
fsdev dax4.0
fsdev dax1.0

# Where a daxdev offset is in QEMU's backing file. CXL RAM: the dax device
# starts at the region's host physical address, and the region maps one
# endpoint decoder's DPA range (one-way interleave); the volatile
# device's DPA 0 is byte 0 of its memory backend. NVDIMM: the namespace
# is the whole label-less NVDIMM, whose SPA range is its nd region's,
# byte 0 of its backend at the region's start.
region=$(note cxlram dax4.0 | cut -d' ' -f5)
rstart=$(cat "/sys/bus/cxl/devices/$region/resource")
dpa=$(note cxlregion "$region" | cut -d' ' -f7)
dstart=$(cat /sys/bus/dax/devices/dax4.0/resource)
cxl_at=$((dpa + dstart - rstart))
ndregion=$(awk '$2 == "dax1.0" { print $5 }' /tmp/famfs-devices)
ndregion=region${ndregion#namespace}
ndregion=${ndregion%%.*}
nstart=$(cat "/sys/bus/nd/devices/$ndregion/resource")
nv_at=$(($(cat /sys/bus/dax/devices/dax1.0/resource) - nstart))
say "host cxl-ram0.raw $((cxl_at + 64 * MiB + 3 * MiB + 100)) $t1"
say "host nvdimm0.raw $((nv_at + 34 * MiB + 7)) $t2"
say "host cxl-ram0.raw $((cxl_at + 34 * MiB + 9)) $t3"
echo "===== demo done ====="
