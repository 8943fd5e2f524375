#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The main job (`make run`): boot the VM, load famfs_rs, show what it found.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/vm.sh" -t "${VM_TIMEOUT:-300}" sh /famfs/demo.sh
