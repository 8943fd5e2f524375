#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# module-bindgen.sh OBJTREE HEADER OUT
#
# Module-local bindgen pass, run by Kbuild. It
# reuses the exact options and clang flags of the kernel's own pass (saved
# in rust/bindings/.bindings_generated.rs.cmd) so the layouts agree, and
# generates only what HEADER's allowlisted files declare; other types are
# resolved from kernel::bindings by the including module (rust/ffi.rs).
set -euo pipefail

header=$(realpath "$2")
out=$(realpath -m "$3")
# The kernel's flags hold paths relative to its build tree: run there.
cd "$1"
cmdfile=rust/bindings/.bindings_generated.rs.cmd
[ -f "$cmdfile" ] || { echo "module-bindgen: no $cmdfile in $1: is it a built Rust kernel tree?" >&2; exit 1; }

line=$(sed -n 's|^savedcmd_rust/bindings/bindings_generated.rs := ||p' "$cmdfile")
line=${line//'$(pound)'/'#'}
eval "set -- $line"
bindgen=$1
shift 2 # bindgen and the kernel's header
opts=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	case $1 in
	-o | --output) shift 2 ;;
	*) opts+=("$1"); shift ;;
	esac
done
shift # --
cflags=()
for f in "$@"; do
	case $f in
	-Wp,-MMD,*) ;;
	*) cflags+=("$f") ;;
	esac
done

"$bindgen" "$header" "${opts[@]}" \
	--allowlist-file '.*/include/linux/dax\.h' \
	--allowlist-file '.*/include/linux/iomap\.h' \
	--allowlist-file '.*/include/linux/fuse_dax_fmap\.h' \
	--allowlist-file '.*/rust/helpers\.h' \
	--no-recursive-allowlist \
	-o "$out" -- "${cflags[@]}"
