#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make run`: the devices, the module, a famfs namespace
# served by the test server, and bytes written through files found on the
# devices where the fmaps put them.
set -e
MiB=1048576
echo "===== famfs-rs demo ====="
echo "--- DAX devices (set up by setup-devices.sh)"
while read -r kind name size drv ns nssize; do
	case $kind in
	pmem) printf '  /dev/%-8s %6d MiB  driver %-10s (from %s, %d MiB)\n' \
		"$name" $((size >> 20)) "$drv" "$ns" $((nssize >> 20)) ;;
	cxl) printf '  CXL %-8s pmem %d MiB, ram %d MiB (no CXL region: see Documentation)\n' \
		"$name" $((size >> 20)) $((drv >> 20)) ;;
	esac
done </tmp/famfs-devices
echo "--- loading famfs_rs"
insmod /famfs/famfs_rs.ko
printf '  /sys/module/famfs_rs: refcnt %s, taint %s, initstate %s\n' \
	"$(cat /sys/module/famfs_rs/refcnt)" "$(cat /sys/module/famfs_rs/taint)" \
	"$(cat /sys/module/famfs_rs/initstate)"
echo "  KUnit: $(grep -c '^ *ok [0-9]' /sys/kernel/debug/kunit/famfs_rs/results) ok lines," \
	"$(grep -c 'not ok' /sys/kernel/debug/kunit/famfs_rs/results || true) not ok"
echo "--- the namespace (famfs_server, manifests/demo.manifest)"
sed -n 's/^\(daxdev\|file\) /  &/p' /famfs/manifests/demo.manifest
mkdir -p /mnt/famfs
famfs_server /famfs/manifests/demo.manifest /mnt/famfs
ls -l /mnt/famfs | sed 's/^/  /'
echo "  famfs_rs refcnt while mounted: $(cat /sys/module/famfs_rs/refcnt)"
echo "--- writing through the files"
# notes: [0,4M) on dev 0 @16M, [4M,6M) on dev 1 @16M
printf 'hello from notes, byte 4MiB+100' |
	dd of=/mnt/famfs/notes bs=1 seek=$((4 * MiB + 100)) conv=notrunc 2>/dev/null
# striped: 2 MiB chunks on strips dev 0 @32M, dev 1 @32M; chunk 3 is
# strip 1, stripe 1: dev 1 @ 32M + 2M
printf 'hello from striped, chunk 3 + 7' |
	dd of=/mnt/famfs/striped bs=1 seek=$((6 * MiB + 7)) conv=notrunc 2>/dev/null
echo "  read back: $(dd if=/mnt/famfs/notes bs=1 skip=$((4 * MiB + 100)) count=31 2>/dev/null)"
echo "  read back: $(dd if=/mnt/famfs/striped bs=1 skip=$((6 * MiB + 7)) count=31 2>/dev/null)"
dmesg | grep 'famfs_rs:' | grep -v KUnit | sed 's/^/  /' | tail -n 3
umount /mnt/famfs
rmmod famfs_rs
echo "--- after unmount: dax2.0 moved to device_dax, read raw"
echo dax2.0 >/sys/bus/dax/drivers/fsdev_dax/remove_id
echo dax2.0 >/sys/bus/dax/drivers/fsdev_dax/unbind
echo dax2.0 >/sys/bus/dax/drivers/device_dax/bind
echo "  /dev/dax2.0 @ 16MiB+100:   $(famfs_peek /dev/dax2.0 $((16 * MiB + 100)) 31)"
echo "  /dev/dax2.0 @ 34MiB+7:     $(famfs_peek /dev/dax2.0 $((34 * MiB + 7)) 31)"
echo dax2.0 >/sys/bus/dax/drivers/device_dax/unbind
echo dax2.0 >/sys/bus/dax/drivers/fsdev_dax/new_id
echo "===== demo done ====="
