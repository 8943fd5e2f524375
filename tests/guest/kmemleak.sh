# SPDX-License-Identifier: GPL-2.0
#
# Sourced by run-tests.sh and fuzz.sh, whose res() records each result.
# kmemleak_check WHAT: on the debug kernel (kmemleak=on), a kmemleak scan
# after WHAT ran; objects must be older than kmemleak's minimum age, hence
# the wait. Any report fails.
kmemleak_check() {
	kml=/sys/kernel/debug/kmemleak
	if grep -q kmemleak=on /proc/cmdline && [ ! -w "$kml" ]; then
		res FAIL "kmemleak=on, but no $kml: not the debug kernel"
	fi
	[ -w "$kml" ] || return 0
	sleep 6
	echo scan >"$kml"
	echo scan >"$kml"
	# debugfs files have size 0: read the report itself
	leaks=$(cat "$kml")
	if [ -n "$leaks" ]; then
		echo "$leaks"
		res FAIL "kmemleak: $(echo "$leaks" | grep -c '^unreferenced object') unreferenced objects"
	else
		res ok "kmemleak scan after $1: nothing"
	fi
}
