#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# series.sh fuse|dax DIR: a git tree to change a patch series in.
#
# Makes DIR a git repository holding the files the series touches, as
# Debian's linux-source-7.3 has them (commit "base", from the tarball
# scripts/build-kernel.sh fetched), and applies patches/SERIES/ on it
# with git am, one commit per patch. Edit, rebase, then write the series
# back (the cover letter's text is yours to keep: format-patch writes a
# template):
#
#   git -C DIR format-patch --filename-max-length=100 --cover-letter \
#       -o patches/SERIES base..HEAD
#
# and list any new file in patches/series. The two series touch disjoint
# files; build-kernel.sh applies both.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
series=${1:?usage: series.sh fuse|dax DIR}
dir=${2:?usage: series.sh fuse|dax DIR}
[ -d "$top/patches/$series" ] || { echo "series.sh: no patches/$series" >&2; exit 2; }
[ -e "$dir" ] && { echo "series.sh: $dir exists" >&2; exit 2; }
. "$here/env.sh"
tarball=$FAMFS_CACHE/dl/linux-source-7.3.tar.xz
[ -s "$tarball" ] || "$here/build-kernel.sh" --source >/dev/null
mapfile -t patches < <(ls "$top/patches/$series"/[0-9]*.patch | grep -v '/0000-')
# the files the series touches that exist before it (not the ones it creates)
mapfile -t files < <(awk '
	/^--- \/dev\/null/ { created = 1; next }
	/^--- a\// { sub(/^--- a\//, ""); sub(/[ \t].*/, ""); old[$0] = 1; created = 0; next }
	/^\+\+\+ b\// { if (created) { sub(/^\+\+\+ b\//, ""); sub(/[ \t].*/, ""); new[$0] = 1 }; created = 0 }
	END { for (f in old) if (!(f in new)) print f }' "${patches[@]}" | sort)
mkdir -p "$dir"
tar -C "$dir" --strip-components=1 -xf "$tarball" "${files[@]/#/linux-source-7.3/}"
git -C "$dir" init -q
git -C "$dir" add -A
git -C "$dir" -c user.name=base -c user.email=base@localhost commit -q -m base
git -C "$dir" tag base
git -C "$dir" am -q "${patches[@]}"
git -C "$dir" log --oneline base..HEAD
