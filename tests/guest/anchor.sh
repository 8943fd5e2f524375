#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of make anchor (scripts/anchor.sh boots the VM with
# VM_BENCH=1): remove a DAX device while a pipe holds a page of it
# (famfs_pin_unbind), for each CASE given, in order:
#
#   famfs   a famfs_rs file on an fsdev_dax device; unbind from fsdev_dax
#   devdax  raw device_dax, the same memory mapped through /dev/daxN.M;
#           unbind from device_dax
#   ext4-closed  a file of ext4 -o dax on an fsdax namespace (/dev/pmemN),
#           closed; unbind the namespace's pfn device from nd_pmem
#   ext4    the same with the file still open (ext4 evicts only unused
#           inodes when its device goes, and only eviction waits)
#
# famfs waits for the page and so ends the run cleanly; a removal that
# does not wait leaves the pipe with a page whose memory and struct page
# are gone, and the kernel's report of the read or the put that follows
# usually ends the guest: give such a case last.
set -u
say() { echo "anchor: $*"; }
put() { echo "$1" >"$2" || { say "echo $1 > $2 failed"; exit 1; }; }

for c in "$@"; do
	case $c in
	famfs)
		dev=$(awk '$1 == "pmem" && $4 == "fsdev_dax" { print $2; exit }' /tmp/famfs-devices)
		[ -n "$dev" ] || { say "no fsdev_dax device"; exit 1; }
		insmod /famfs/famfs_rs.ko || exit 1
		printf 'daxdev 0 /dev/%s\nfile a 2M simple 0:64M:2M\n' "$dev" >/tmp/anchor.manifest
		mkdir -p /mnt/anchor
		famfs_server /tmp/anchor.manifest /mnt/anchor || exit 1
		say "case famfs: /mnt/anchor/a on /dev/$dev (fsdev_dax)"
		famfs_pin_unbind /mnt/anchor/a 0 /sys/bus/dax/drivers/fsdev_dax/unbind "$dev"
		umount /mnt/anchor
		rmmod famfs_rs
		;;
	devdax)
		dev=$(awk '$1 == "raw" && $4 == "device_dax" && $7 == 2097152 { print $2; exit }' \
			/tmp/famfs-devices)
		[ -n "$dev" ] || { say "no device_dax device"; exit 1; }
		say "case devdax: /dev/$dev (device_dax)"
		famfs_pin_unbind "/dev/$dev" 0 /sys/bus/dax/drivers/device_dax/unbind "$dev"
		;;
	ext4 | ext4-closed)
		pm=$(awk '$1 == "fsdax" { print $2; exit }' /tmp/famfs-devices)
		[ -n "$pm" ] || { say "no fsdax namespace"; exit 1; }
		pfn=$(basename "$(readlink -f "/sys/block/$pm/device")")
		MKE2FS_CONFIG=/famfs/mke2fs.conf /sbin/mke2fs -q -F -t ext4 -b 4096 \
			-E stride=512,stripe_width=512 "/dev/$pm" || exit 1
		mkdir -p /mnt/ext4
		mount -t ext4 -o dax "/dev/$pm" /mnt/ext4 || exit 1
		dd if=/dev/zero of=/mnt/ext4/f bs=1M count=4 2>/dev/null
		sync
		say "case $c: /mnt/ext4/f on /dev/$pm ($pfn, nd_pmem)"
		keep=open
		[ "$c" = ext4-closed ] && keep=
		famfs_pin_unbind /mnt/ext4/f 0 /sys/bus/nd/drivers/nd_pmem/unbind "$pfn" $keep
		umount /mnt/ext4
		;;
	*)
		say "unknown case $c"
		exit 2
		;;
	esac
	say "case $c: done"
done
