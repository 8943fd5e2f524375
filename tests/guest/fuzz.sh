#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of the fuzzer (scripts/fuzz.sh ... sh /famfs/fuzz.sh ARGS):
# load famfs_rs, run /famfs/bin/famfs_fuzz ARGS (tests/fuzz/famfs_fuzz.c),
# unload famfs_rs (nothing of the campaign may hold it), and on the debug
# kernel a kmemleak scan (kmemleak.sh). Last line:
#   famfs-fuzz-vm: N passed, N failed
pass=0
fail=0
res() {
	if [ "$1" = ok ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
	echo "famfs-fuzz-vm: $1 $2"
}

if insmod /famfs/famfs_rs.ko; then res ok "insmod famfs_rs"; else res FAIL "insmod famfs_rs"; fi
/famfs/bin/famfs_fuzz "$@"
rc=$?
if [ $rc = 0 ]; then res ok "the campaign"; else res FAIL "the campaign (exit $rc)"; fi
if [ -n "$(awk '$3 == "fuse" { print $2 }' /proc/mounts)" ]; then
	res FAIL "fuse mounts left: $(awk '$3 == "fuse" { print $2 }' /proc/mounts)"
fi
if rmmod famfs_rs; then res ok "rmmod famfs_rs after the campaign"; else
	res FAIL "rmmod famfs_rs after the campaign"; fi

# Debug kernel: a kmemleak scan after it (tests/guest/kmemleak.sh).
. /famfs/kmemleak.sh
kmemleak_check "the campaign"
echo "famfs-fuzz-vm: $pass passed, $fail failed"
[ "$fail" = 0 ]
