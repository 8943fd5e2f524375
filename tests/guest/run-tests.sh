#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest test runner (scripts/vm.sh ... sh /famfs/run-tests.sh [--fuzz
# ARGS...]): load famfs_rs, enforce its KUnit suites case by case, run
# every kselftest in /famfs/tests (FAMFS_TESTS="NAME...": those only),
# then two of them through the kernel's runner as installed in
# /famfs/kselftest (make -C tests install), unload. A SKIP counts as a
# failure, a test that SKIPs as a whole (exit 4: the guest lacks what it
# needs) too. Its result line:
#   famfs-tests: N passed, N failed
# With --fuzz, the same boot then runs a fuzz campaign, /famfs/fuzz.sh
# ARGS (make check's short one: one boot and one kmemleak scan less per
# kernel), whose own result line follows; the kmemleak scan is then
# fuzz.sh's, at the end, and covers both. The exit status fails if
# either failed.
# (the fuzzer's arguments are plain words: the loop below reuses $@)
fuzz=
if [ "${1:-}" = --fuzz ]; then
	shift
	fuzz="$*"
fi
pass=0
fail=0
res() {
	if [ "$1" = ok ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
	echo "famfs-tests: $1 $2"
}

if insmod /famfs/famfs_rs.ko; then res ok "insmod famfs_rs"; else res FAIL "insmod famfs_rs"; fi

# KUnit: one result per case line of each famfs_rs suite.
for suite in famfs_rs famfs_rs_scale; do
	kr=/sys/kernel/debug/kunit/$suite/results
	if [ -r "$kr" ]; then
		cases=0
		while read -r a b c d rest; do
			case "$a $b" in
			"ok "[0-9]*) name=$c; st=ok ;;
			"not ok") name=$d; st=FAIL ;;
			*) continue ;;
			esac
			[ "$name" = "$suite" ] && continue
			case "$rest" in *SKIP*) st=FAIL ;; esac
			cases=$((cases + 1))
			res "$st" "kunit $suite.$name"
		done <"$kr"
		[ "$cases" -gt 0 ] || res FAIL "kunit $suite: no test cases in $kr"
	else
		res FAIL "kunit $suite: no $kr"
	fi
done
dmesg | grep 'famfs_rs: scale:' | sed 's/^/famfs-tests: /'
# The scale suite ran once; the tests that load the module again (a
# hundred times in lifetime.c) run the famfs_rs suite only.
# (printf: a charp parameter keeps a trailing newline, which no name matches)
printf '%s' 'famfs_rs.*' >/sys/module/kunit/parameters/filter_glob

for t in /famfs/tests/*; do
	[ -x "$t" ] || continue
	name=${t##*/}
	if [ -n "${FAMFS_TESTS:-}" ]; then
		case " $FAMFS_TESTS " in *" $name "*) ;; *) continue ;; esac
	fi
	echo "famfs-tests: running $name"
	"$t" >/tmp/ksft.out 2>&1
	rc=$?
	cat /tmp/ksft.out
	tot=$(sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) xfail:\([0-9]*\) xpass:\([0-9]*\) skip:\([0-9]*\) error:\([0-9]*\).*/\1 \2 \3 \4 \5 \6/p' /tmp/ksft.out)
	if [ -z "$tot" ]; then
		if [ "$rc" = 4 ]; then
			res FAIL "$name: SKIP:$(sed -n 's/^1\.\.0 # SKIP//p' /tmp/ksft.out)"
		else
			res FAIL "$name: no kselftest totals (exit $rc)"
		fi
		continue
	fi
	set -- $tot
	p=$1
	f=$(($2 + $4 + $5 + $6))
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" = 0 ] && [ "$rc" = 0 ] && [ "$p" -gt 0 ]; then
		echo "famfs-tests: ok $name ($p cases)"
	else
		[ "$f" = 0 ] && fail=$((fail + 1))
		echo "famfs-tests: FAIL $name (pass $p, fail/skip/error $f, exit $rc)"
	fi
	# A test must not leave a fuse mount or a server behind (one killed by
	# the harness timeout would): fail, and clear it so the next test
	# does not inherit held daxdevs.
	left=$(awk '$3 == "fuse" || $3 ~ /^fuse\./ { print $2 }' /proc/mounts)
	if [ -n "$left" ] || pidof famfs_server >/dev/null; then
		res FAIL "$name left fuse mounts or servers behind: $left"
		for mp in $left; do umount -l "$mp"; done
		killall -9 famfs_server 2>/dev/null
		sleep 1
	fi
done

# The kernel's kselftest runner on the installed tree (run_kselftest.sh,
# kselftest-list.txt, the famfs_rs collection with its server, manifests
# and settings), so that the layout keeps working: two fast tests, each
# of which must pass (its SKIP counts as a failure, as above).
ksft=/famfs/kselftest/run_kselftest.sh
if [ -x "$ksft" ]; then
	echo "famfs-tests: running $ksft"
	# appended to: the runner writes the tests' output to /dev/stdout,
	# which it opens again (tests/guest/init)
	: >/tmp/ksft.out
	"$ksft" -t famfs_rs:identity -t famfs_rs:get_fmap_input >>/tmp/ksft.out 2>&1
	rc=$?
	cat /tmp/ksft.out
	tot=$(sed -n 's/^# Totals: pass:\([0-9]*\) fail:\([0-9]*\) xfail:[0-9]* xpass:\([0-9]*\) skip:\([0-9]*\) error:\([0-9]*\).*/\1 \2 \3 \4 \5/p' /tmp/ksft.out | tail -n 1)
	set -- $tot
	if [ -n "$tot" ] && [ "$1" = 2 ] && [ "$(($2 + $3 + $4 + $5))" = 0 ] && [ "$rc" = 0 ]; then
		res ok "run_kselftest.sh: 2 tests of the installed famfs_rs collection"
	else
		res FAIL "run_kselftest.sh: installed famfs_rs collection: ${tot:-no totals} (exit $rc)"
	fi
else
	res FAIL "no $ksft (make tests installs it in tests/out/kselftest)"
fi

if rmmod famfs_rs; then res ok "rmmod famfs_rs at the end"; else res FAIL "rmmod famfs_rs at the end"; fi

if [ -n "$fuzz" ]; then
	echo "famfs-tests: $pass passed, $fail failed"
	# The campaign unloads and loads famfs_rs: no KUnit suite at its loads.
	printf '%s' 'famfs_rs_no_suite' >/sys/module/kunit/parameters/filter_glob
	# shellcheck disable=SC2086
	sh /famfs/fuzz.sh $fuzz
	frc=$?
	[ "$fail" = 0 ] && [ "$frc" = 0 ]
	exit
fi

# Debug kernel: a kmemleak scan after everything; any report fails the run.
. /famfs/kmemleak.sh
kmemleak_check "the suite"
echo "famfs-tests: $pass passed, $fail failed"
[ "$fail" = 0 ]
