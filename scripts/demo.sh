#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The main job (`make run`): boot the VM, load famfs_rs, show what it
# found and a famfs namespace on CXL memory; then, on the host, find the
# bytes the guest wrote through the files in QEMU's backing files of the
# CXL and NVDIMM devices, at the offsets the guest computed from its
# sysfs (tests/guest/demo.sh, "famfs-demo: host FILE OFFSET TEXT").
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
keep=$(mktemp -d "${TMPDIR:-/tmp}/famfs-run.XXXXXX")
trap 'rm -rf "$keep"' EXIT
# kunit.autorun=0: the module's KUnit suites are registered at load but
# not run (make check runs them): no 13 s of range-map scale cases, and
# none of the refusals the cases provoke on purpose in the demo's log.
VM_APPEND="kunit.autorun=0 ${VM_APPEND:-}" VM_KEEP=$keep \
	"$here/vm.sh" -t "${VM_TIMEOUT:-300}" -l "$keep/console.log" sh /famfs/demo.sh
echo "--- on the host: QEMU's backing files of the devices"
n=0
while read -r file off text; do
	got=$(dd if="$keep/$file" bs=4096 iflag=skip_bytes,count_bytes skip="$off" \
		count="${#text}" 2>/dev/null | tr -c '[:print:]' '.')
	printf '  %s @ %#x: %s\n' "$file" "$off" "$got"
	if [ "$got" != "$text" ]; then
		echo "demo: FAIL: $file @ $off holds '$got', not '$text'" >&2
		exit 1
	fi
	n=$((n + 1))
done < <(sed -n 's/^famfs-demo: host \([^ ]*\) \([0-9]*\) \(.*\)$/\1 \2 \3/p' "$keep/console.log")
[ "$n" = 3 ] || { echo "demo: FAIL: $n of the guest's 3 host checks found" >&2; exit 1; }
echo "demo: the bytes are in the CXL device's memory backend (cxl-ram0.raw) where the fmaps put them"
