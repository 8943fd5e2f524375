#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of make bench (scripts/bench.sh boots the VM with VM_BENCH=1):
# ext4 -o dax on the fsdax namespace with a 1 GiB file written once (so
# that no fault allocates or converts an extent), famfs_rs loaded, then
# famfs_bench. FAMFS_BENCH_REPS sets the repetitions.
set -eu
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
famfs_bench -r "${FAMFS_BENCH_REPS:-11}"
rc=$?
rmmod famfs_rs
umount /mnt/ext4
exit $rc
