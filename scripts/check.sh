#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# check.sh [host|vm|all]   (what `make check` runs; default all)
#
#   host: rustfmt, the host crate's tests and clippy, checkpatch --strict
#         on the patch series and the C sources
#   vm:   kernel (cached), famfs_rs.ko with CLIPPY=1 W=1 and zero warnings,
#         the static kselftests, then one VM boot running KUnit, the
#         kselftests and a short fuzz campaign, and the cross-host test
#         (two VMs)
#
# Every test case counts; the last line is "check: N passed, N failed".
# FAMFS_DEBUG=1 runs the vm part on the debug kernel.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
cd "$top" || exit 1
# shellcheck source=scripts/env.sh
. "$here/env.sh"
what=${1:-all}
pass=0
fail=0
failed=()
t_start=$SECONDS

ok() { pass=$((pass + ${2:-1})); echo "check: ok   $1"; }
bad() {
	fail=$((fail + ${2:-1}))
	failed+=("$1")
	echo "check: FAIL $1"
}
step() { echo; echo "=== check: $* ($((SECONDS - t_start)) s)"; }

ksrc() {
	local k=${KDIR:-$("$here/build-kernel.sh" --print-kdir)}
	readlink -f "$k/source" 2>/dev/null || echo "$k"
}

# The host crate builds with the rustup toolchain (cargo test and cargo
# clippy must share one compiler); RUSTC from env.sh is the kernel's 1.96.
hcargo() { (cd rust/host && env -u RUSTC nice cargo "$@"); }

host_checks() {
	local out n f m files cfiles sfiles
	step "rustfmt"
	mapfile -t files < <(git ls-files -co --exclude-standard '*.rs' | grep -v '/target/')
	if /usr/bin/rustfmt --check --config-path .rustfmt.toml "${files[@]}"; then
		ok "rustfmt (${#files[@]} files)"
	else
		bad "rustfmt"
	fi

	# The logic files have no unsafe (Documentation/design.rst, "The
	# module"): fmap.rs and conn.rs forbid it, and the crate root, which
	# cannot (the module! macro's code is in it), is read for it here.
	step "no unsafe in the logic files"
	out=$(grep -nE '^[^/]*\bunsafe\b' rust/famfs.rs rust/conn.rs rust/fmap.rs || true)
	if [ -z "$out" ] && grep -q '^#!\[forbid(unsafe_code)\]' rust/conn.rs &&
		grep -q '^#!\[forbid(unsafe_code)\]' rust/fmap.rs; then
		ok "no unsafe in rust/famfs.rs, rust/conn.rs, rust/fmap.rs"
	else
		echo "$out"
		bad "unsafe in a logic file (or a forbid(unsafe_code) missing)"
	fi

	step "host crate: cargo test (fmap core)"
	out=$(hcargo test --release 2>&1)
	echo "$out" | grep -E '^(test result|running|error|failures|---- )|panicked'
	n=$(echo "$out" | sed -n 's/^test result: [a-zA-Z]*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' |
		awk '{p += $1; f += $2} END {print p + 0, f + 0}')
	read -r p f <<<"$n"
	if echo "$out" | grep -q '^test result: FAILED\|^error'; then
		bad "cargo test: $p passed, $f failed" "$((f > 0 ? f : 1))"
		pass=$((pass + p))
	elif [ "$p" -gt 0 ]; then
		ok "cargo test" "$p"
	else
		bad "cargo test ran no test"
	fi

	step "host crate: clippy"
	if hcargo clippy --release --all-targets -- -D warnings 2>&1 | tail -3; then
		ok "cargo clippy --all-targets -D warnings"
	else
		bad "cargo clippy"
	fi

	step "checkpatch --strict"
	m=$(ksrc)
	if [ ! -x "$m/scripts/checkpatch.pl" ]; then
		m=$("$here/build-kernel.sh" --source) || m=
	fi
	# Two checkpatch runs at once (perl is single-threaded, the machine
	# has 2 cores): the series in the background, the C sources here.
	mapfile -t files < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' patches/series 2>/dev/null |
		sed 's|^|patches/|')
	local pout prc=0
	pout=$(mktemp)
	if [ ${#files[@]} -gt 0 ]; then
		# On stdin: checkpatch reads a file git tracks as source (-f), not
		# as a patch, and would flag every blank context line. The Debian
		# tree is no git repository, so checkpatch cannot look up the
		# commits Fixes: tags name (UNKNOWN_COMMIT_ID); patches/README.
		(
			f=0
			for p in "${files[@]}"; do
				"$m/scripts/checkpatch.pl" --strict --no-tree --quiet \
					--ignore UNKNOWN_COMMIT_ID - <"$p" ||
					{ echo "checkpatch: $p"; f=1; }
			done
			exit $f
		) >"$pout" 2>&1 &
		prc=$!
	fi
	mapfile -t cfiles < <(git ls-files -co --exclude-standard 'rust/*.[ch]' 'include/*.h' 'tests/*.[ch]' |
		grep -v '^tests/server/\|^tests/fuzz/')
	# The fuse servers (tests/server/, and the fuzzer's in tests/fuzz/)
	# must answer -ENOSYS, the fuse protocol's "not implemented":
	# checkpatch's ENOSYS rule (the errno is for bad syscall numbers
	# only) does not apply to them.
	mapfile -t sfiles < <(git ls-files -co --exclude-standard 'tests/server/*.[ch]' \
		'tests/fuzz/*.[ch]')
	if "$m/scripts/checkpatch.pl" --strict --no-tree --quiet --show-types \
		--ignore SPDX_LICENSE_TAG,NEW_TYPEDEFS -f "${cfiles[@]}" &&
		{ [ ${#sfiles[@]} = 0 ] ||
			"$m/scripts/checkpatch.pl" --strict --no-tree --quiet --show-types \
				--ignore SPDX_LICENSE_TAG,NEW_TYPEDEFS,ENOSYS -f "${sfiles[@]}"; }; then
		ok "checkpatch --strict -f on $((${#cfiles[@]} + ${#sfiles[@]})) C files"
	else
		bad "checkpatch on C sources"
	fi
	if [ ${#files[@]} -gt 0 ]; then
		wait "$prc"
		prc=$?
		cat "$pout"
		if [ $prc = 0 ]; then
			ok "checkpatch --strict on ${#files[@]} patches"
		else
			bad "checkpatch on the patch series"
		fi
	else
		echo "(patches/series is empty)"
	fi
	rm -f "$pout"
}

# tally NAME PREFIX LOG RC: the "PREFIX: N passed, N failed" line of LOG
# into the totals (RC, the run's exit status, must be 0 too); returns 1
# if LOG has no such line.
tally() {
	local name=$1 prefix=$2 log=$3 rc=$4 out p f
	out=$(sed -n "s/^$prefix: \([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p" "$log" | tail -n 1)
	if [ -z "$out" ]; then
		bad "$name (no result line, rc $rc)"
		return 1
	fi
	read -r p f <<<"$out"
	pass=$((pass + p))
	if [ "$f" != 0 ] || [ "$rc" != 0 ]; then
		fail=$((fail + (f > 0 ? f : 1)))
		failed+=("$name: $f failed, rc $rc")
		echo "check: FAIL $name: $p passed, $f failed, rc $rc"
	else
		echo "check: ok   $name: $p passed"
	fi
}

vm_checks() {
	local log rc
	step "kernel"
	# A KDIR of the user's is used as it is; the cached tree is built.
	if { [ -n "${KDIR:-}" ] && [ "${FAMFS_OWN_KERNEL:-}" != 1 ]; } ||
		"$here/build-kernel.sh"; then
		ok "kernel build"
	else
		bad "kernel build"
		return
	fi
	step "module (CLIPPY=1 W=1, zero warnings)"
	if make -s --no-print-directory clippy; then ok "module build, zero warnings"; else
		bad "module build"; return; fi
	step "kselftests build"
	if make -s --no-print-directory tests; then ok "kselftests build"; else
		bad "kselftests build"; return; fi

	# One boot: KUnit, the kselftests, then a short campaign of the
	# fuzzer from a fixed seed, so that it cannot rot (make fuzz runs the
	# long ones, each in a boot of its own; Documentation/fuzz.rst). An
	# OOM kill inside a memory cgroup is the campaign's memory-pressure
	# event working (scripts/vm.sh); the debug kernel's slow guest gets
	# 60 s to end what an abort waits for, as in scripts/fuzz.sh.
	local secs=${FAMFS_CHECK_FUZZ_SECONDS:-30} exit_ms=20000
	[ "${FAMFS_DEBUG:-0}" = 1 ] && exit_ms=60000
	step "VM: KUnit + kselftests, then a fuzz campaign (seed 1, $secs s)"
	log=$(mktemp)
	VM_MEMCG_OOM_OK=1 "$here/vm.sh" -t $((1200 + secs)) -l "$log" sh /famfs/run-tests.sh \
		--fuzz --seed 1 --seconds "$secs" --exit-timeout "$exit_ms"
	rc=$?
	tally "VM tests" famfs-tests "$log" "$rc"
	local trc=$?
	tally "fuzz campaign" famfs-fuzz-vm "$log" "$rc"
	rm -f "$log"
	[ "$trc" = 0 ] || return	# no result line: the guest never got there

	step "VM: two hosts sharing CXL memory (scripts/multihost.sh)"
	log=$(mktemp)
	"$here/multihost.sh" | tee "$log"
	tally "cross-host test" famfs-multihost "$log" "${PIPESTATUS[0]}"
	rm -f "$log"
}

"$here/setup-toolchain.sh" --check >/dev/null || "$here/setup-toolchain.sh" || exit 1
case $what in
host) host_checks ;;
vm) vm_checks ;;
all) host_checks; vm_checks ;;
*) echo "usage: $0 [host|vm|all]" >&2; exit 2 ;;
esac

echo
echo "=== check summary ($((SECONDS - t_start)) s)"
for f in "${failed[@]}"; do echo "  failed: $f"; done
echo "check: $pass passed, $fail failed"
[ "$fail" = 0 ]
