#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of `make run-multihost` (scripts/demo-multihost.sh):
# demo-multihost.sh a|b. Host a's master server lays out two files on the
# CXL RAM both guests share, "note" at 8 MiB and "reply" at 10 MiB of
# daxdev 0; a stores a line in note; b, whose client server knows the
# files only from the log in that memory, reads it and answers in reply,
# which a reads.
say() { echo "famfs-demo: host $role: $*"; }
role=$1
cxl=$(awk '$1 == "cxlram" { print $2 }' /tmp/famfs-devices)
[ -n "$cxl" ] || { say "no CXL RAM daxdev"; exit 1; }
insmod /famfs/famfs_rs.ko || exit 1
mkdir -p /mnt/famfs
m=/tmp/demo.manifest
echo "daxdev 0 /dev/$cxl" >$m
mode=client
if [ "$role" = a ]; then
	mode=master
	echo "file note 2M simple 0:8M:2M" >>$m
	echo "file reply 2M simple 0:10M:2M" >>$m
fi
say "/dev/$cxl is the CXL RAM it shares with the other guest; famfs_server --shared $mode"
famfs_server --shared $mode --control /tmp/demo.ctl $m /mnt/famfs || exit 1
say "files: $(ls /mnt/famfs | tr '\n' ' ')"
# famfs_xhost put|get: its "stored in" or "read from" line
x() {
	famfs_xhost "$@" | sed -n 's/^famfs-xhost: [a-z]*: \(stored in\|read from\)/\1/p'
}
rc=0
if [ "$role" = a ]; then
	out=$(x put /mnt/famfs /tmp/demo.ctl note "hello from host a, through an mmap of famfs file note")
	say "$out"
	out=$(x get /mnt/famfs /tmp/demo.ctl reply)
	say "$out"
else
	out=$(x get /mnt/famfs /tmp/demo.ctl note)
	say "$out"
	say "files after the rescan: $(ls /mnt/famfs | tr '\n' ' ')"
	line=${out#read from /mnt/famfs/note: }
	out=$(x put /mnt/famfs /tmp/demo.ctl reply "host b read: '$line'")
	say "$out"
fi
case $out in "stored in"* | "read from"*) ;; *) rc=1 ;; esac
umount /mnt/famfs || rc=1
exit $rc
