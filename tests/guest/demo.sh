#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make run`: show the devices and the module at work.
set -e
echo "===== famfs-rs demo ====="
echo "--- DAX devices (set up by setup-devices.sh)"
while read -r kind name size drv ns nssize; do
	case $kind in
	pmem) printf '  /dev/%-8s %6d MiB  driver %-10s (from %s, %d MiB)\n' \
		"$name" $((size >> 20)) "$drv" "$ns" $((nssize >> 20)) ;;
	cxl) printf '  CXL %-8s pmem %d MiB, ram %d MiB\n' "$name" \
		$((size >> 20)) $((drv >> 20)) ;;
	esac
done </tmp/famfs-devices
echo "--- loading famfs_rs"
insmod /famfs/famfs_rs.ko
dmesg | grep -E 'famfs_rs [0-9.]+ loaded' | tail -n 1
printf '  /sys/module/famfs_rs: refcnt %s, taint %s, initstate %s\n' \
	"$(cat /sys/module/famfs_rs/refcnt)" "$(cat /sys/module/famfs_rs/taint)" \
	"$(cat /sys/module/famfs_rs/initstate)"
echo "--- KUnit suite run at load"
grep -E '^ *(not )?ok [0-9]+ ' /sys/kernel/debug/kunit/famfs_rs/results | sed 's/^ */  /'
echo "--- unloading"
rmmod famfs_rs
dmesg | grep -E 'famfs_rs [0-9.]+ unloaded' | tail -n 1
echo "===== demo done ====="
