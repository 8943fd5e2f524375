#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of the cross-host test (scripts/multihost.sh): multihost.sh
# a|b|a2. The CXL RAM region's dax device (daxdev 0) and the second
# NVDIMM's (daxdev 1) are the memory this guest shares with the other
# one. Host a (and a2, host a booted again) runs the master famfs_server
# --shared, whose manifest lays out the files (a2's lists none: it must
# find them in the log); host b a client, whose manifest names the
# daxdevs only. Then tests/multihost/famfs_xhost runs the test.
say() { echo "famfs-multihost: $*"; }
role=$1
cxl=$(awk '$1 == "cxlram" { print $2 }' /tmp/famfs-devices)
# the second NVDIMM: an ACPI NFIT namespace of its size (the CXL pmem
# region's namespace may be as large; it hangs under the CXL bus)
nv=
while read -r kind dax _ _ ns nsbytes _; do
	[ "$kind" = pmem ] && [ "$nsbytes" = "$FAMFS_NVDIMM2_BYTES" ] || continue
	case $(readlink -f "/sys/bus/nd/devices/$ns") in
	*ACPI0012*) nv=$dax ;;
	esac
done </tmp/famfs-devices
[ -n "$cxl" ] && [ -n "$nv" ] || { say "no shared CXL RAM or NVDIMM daxdev"; exit 1; }
insmod /famfs/famfs_rs.ko || exit 1
mkdir -p /mnt/famfs
m=/tmp/xhost.manifest
printf 'daxdev 0 /dev/%s\ndaxdev 1 /dev/%s\n' "$cxl" "$nv" >$m
mode=client
case $role in
a)
	mode=master
	# [0, 8 MiB) of daxdev 0 is the log's (tests/server/famfs_log.h)
	cat >>$m <<-EOF
	file xsync 2M simple 0:8M:2M
	file simple 8M simple 0:16M:8M
	file striped 8M interleave 2M 8M 0:32M:4M 1:0:4M
	file ring 4M simple 0:64M:4M
	file journal 4M simple 0:96M:4M
	EOF
	;;
a2) mode=master ;;
esac
say "$role: daxdev 0 /dev/$cxl (CXL RAM), daxdev 1 /dev/$nv (NVDIMM), $mode server"
famfs_server --shared $mode --control /tmp/xhost.ctl $m /mnt/famfs || exit 1
famfs_xhost "$role" /mnt/famfs /tmp/xhost.ctl "$nv"
rc=$?
umount /mnt/famfs || rc=1
exit $rc
