#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch Debian's linux-source-7.3, apply patches/series, configure from
# tinyconfig + kvm_guest.config + scripts/kconfig/famfs.config (and
# debug.config with FAMFS_DEBUG=1, profile.config with FAMFS_PROFILE=1),
# and build it out of tree under
# $FAMFS_CACHE/linux:
#
#   src/              the source, patched; .famfs-src-key names its state
#   build-default/    the build tree (O=), .famfs-built holds its key;
#                     usr/include, the exported uapi headers (make
#                     headers) the kselftests compile against,
#                     .famfs-headers the source key they came from
#   build-debug/      the same for FAMFS_DEBUG=1
#   build-profile/    the same for FAMFS_PROFILE=1 (make profile: ftrace)
#
# The key is (source version, patch series, config fragments). A tree whose
# key is unchanged is not rebuilt at all. When the series changes, only the
# files the old and the new series touch are restored from the tarball,
# re-patched and touched, so make rebuilds just what depends on them.
#
#   scripts/build-kernel.sh              build if needed, print nothing else
#   scripts/build-kernel.sh --print-kdir print the build directory, no work
#   scripts/build-kernel.sh --source     fetch, extract and patch only; print
#                                        the source directory
#
# The system's apt sources are never touched: a private apt configuration
# under $FAMFS_CACHE/apt adds trixie-backports for this one download.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# shellcheck source=scripts/env.sh
. "$here/env.sh"

PKG=linux-source-7.3
PIN=7.3.4-1~bpo13+1
dl=$FAMFS_CACHE/dl
aptd=$FAMFS_CACHE/apt
variant=default
[ "${FAMFS_DEBUG:-0}" = 1 ] && variant=debug
[ "${FAMFS_PROFILE:-0}" = 1 ] && variant=profile

frags=("$here/kconfig/famfs.config")
[ $variant = debug ] && frags+=("$here/kconfig/debug.config")
[ $variant = profile ] && frags+=("$here/kconfig/profile.config")

log() { echo "kernel: $*" >&2; }

# The version we build: the one downloaded before, else the pin.
version() {
	if [ -s "$dl/version" ]; then cat "$dl/version"; else echo "$PIN"; fi
}

series_files() {
	[ -f "$top/patches/series" ] || return 0
	sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/patches/series"
}

# The tree a series makes: the kernel version and the patches' diffs, in
# order (not their names, messages or git signatures, which change no
# source file: a reworded or renamed patch rebuilds nothing).
src_key() {
	{
		version
		series_files | while read -r p; do
			awk '/^diff --git /{d = 1} d {l[++n] = $0; if ($0 == "-- ") s = n}
				END {for (i = 1; i < (s ? s : n + 1); i++) print l[i]}' "$top/patches/$p"
		done
	} | sha256sum | cut -c1-12
}

build_key() {
	{ src_key; echo $variant; cat "${frags[@]}"; } | sha256sum | cut -c1-12
}

srcdir() { echo "$FAMFS_CACHE/linux/src"; }
builddir() { echo "$FAMFS_CACHE/linux/build-$variant"; }

case "${1:-}" in
--print-kdir)
	builddir
	exit 0
	;;
--source)
	# Only fetch, extract and patch (what checkpatch needs); print the tree.
	SOURCE_ONLY=1
	;;
esac

apt_private() { famfs_apt "$aptd" trixie-backports "$@"; }

fetch() {
	local v newest
	mkdir -p "$dl"
	if ls "$dl"/${PKG}_*.deb >/dev/null 2>&1 && [ -s "$dl/version" ]; then
		return 0
	fi
	log "fetching $PKG $PIN (private apt config, trixie-backports)"
	apt_private update
	v=$PIN
	if ! (cd "$dl" && apt_private download "$PKG=$PIN"); then
		newest=$(apt_private --cache -o APT::Cache::AllVersions=0 show "$PKG" 2>/dev/null |
			awk '/^Version:/ { print $2; exit }') || newest=
		[ -n "$newest" ] || { log "$PKG is not in trixie-backports"; exit 1; }
		log "NOTE: $PKG $PIN is gone from the archive; using the newest, $newest"
		(cd "$dl" && apt_private download "$PKG=$newest")
		v=$newest
	fi
	echo "$v" >"$dl/version"
}

tarball() { echo "$dl/${PKG}.tar.xz"; }

# Files a patch touches (new and old names), one per line.
patch_files() {
	sed -n -e 's|^+++ b/\([^[:space:]]*\).*|\1|p' -e 's|^--- a/\([^[:space:]]*\).*|\1|p' "$1" | sort -u
}

apply_series() {
	local s=$1 p
	: >"$s/.famfs-patched-files"
	series_files | while read -r p; do
		log "applying $p"
		patch -d "$s" -p1 -s --forward --no-backup-if-mismatch <"$top/patches/$p"
		patch_files "$top/patches/$p" >>"$s/.famfs-patched-files"
	done
	sort -u -o "$s/.famfs-patched-files" "$s/.famfs-patched-files"
}

extract() {
	local s key tmp f old
	s=$(srcdir)
	key=$(src_key)
	[ "$(cat "$s/.famfs-src-key" 2>/dev/null)" = "$key" ] && return 0
	if [ ! -s "$(tarball)" ]; then
		tmp=$(mktemp -d "$dl/deb.XXXXXX")
		dpkg -x "$dl"/${PKG}_*.deb "$tmp"
		mv "$tmp/usr/src/${PKG}.tar.xz" "$(tarball)"
		rm -rf "$tmp"
	fi
	if [ -f "$s/.famfs-src-key" ] && [ -f "$s/.famfs-patched-files" ] &&
	   [ "$(cat "$s/.famfs-version" 2>/dev/null)" = "$(version)" ]; then
		# Same kernel version, another series: undo the old one file by file.
		log "patch series changed: restoring the files it touched"
		old=$(cat "$s/.famfs-patched-files")
		rm -f "$s/.famfs-src-key"
		for f in $old; do rm -f "$s/$f"; done
		# shellcheck disable=SC2046
		tar -C "$s" --strip-components=1 -xf "$(tarball)" \
			$(for f in $old; do echo "${PKG}/$f"; done) 2>/dev/null || true
		apply_series "$s"
		# Every file either series touched is newer than its objects.
		for f in $old $(cat "$s/.famfs-patched-files"); do
			[ -e "$s/$f" ] && touch "$s/$f"
		done
	else
		log "extracting into $s"
		rm -rf "$s"
		mkdir -p "$s"
		tar -C "$s" --strip-components=1 -xf "$(tarball)"
		version >"$s/.famfs-version"
		apply_series "$s"
	fi
	echo "$key" >"$s/.famfs-src-key"
}

kmake() {
	make -s -C "$(srcdir)" O="$(builddir)" ARCH=x86_64 \
		RUSTC="$RUSTC" HOSTRUSTC="$RUSTC" BINDGEN="$BINDGEN" "$@"
}

configure() {
	local b f missing
	b=$(builddir)
	mkdir -p "$b"
	kmake tinyconfig >/dev/null
	(cd "$b" && "$(srcdir)"/scripts/kconfig/merge_config.sh -m -O "$b" \
		"$b/.config" "$(srcdir)/kernel/configs/kvm_guest.config" \
		"${frags[@]}" >/dev/null)
	kmake olddefconfig >/dev/null
	missing=$(for f in "${frags[@]}"; do
		grep -E '^CONFIG_[A-Z0-9_]+=' "$f"
	done | while read -r l; do
		grep -qxF "$l" "$b/.config" || echo "$l"
	done)
	if [ -n "$missing" ]; then
		log "these config lines did not stick (a dependency is missing):"
		echo "$missing" >&2
		exit 1
	fi
	# "# CONFIG_X is not set" lines must not be set.
	missing=$(for f in "${frags[@]}"; do
		sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' "$f"
	done | while read -r c; do
		grep -q "^$c=" "$b/.config" && echo "$c is set"
	done || true)
	if [ -n "$missing" ]; then
		log "these options are still set although a fragment unsets them:"
		echo "$missing" >&2
		exit 1
	fi
}

# The uapi headers of the kernel under test (make headers, into
# $b/usr/include, where the kselftests' KHDR_INCLUDES points: tests/Makefile).
# Keyed on the source alone and not part of the build key: a tree built
# before gets them without a rebuild, and a second call does nothing.
headers() {
	local b key
	b=$(builddir)
	key=$(src_key)
	[ "$(cat "$b/.famfs-headers" 2>/dev/null)" = "$key" ] &&
		[ -f "$b/usr/include/linux/fuse.h" ] && return 0
	rm -f "$b/.famfs-headers"
	log "exporting the uapi headers into $b/usr/include"
	kmake headers
	echo "$key" >"$b/.famfs-headers"
}

main() {
	local b key t0
	"$here/setup-toolchain.sh" --check >/dev/null || {
		"$here/setup-toolchain.sh" --check; exit 1; }
	fetch
	extract
	if [ "${SOURCE_ONLY:-0}" = 1 ]; then
		srcdir
		return 0
	fi
	b=$(builddir)
	key=$(build_key)
	if [ "$(cat "$b/.famfs-built" 2>/dev/null)" = "$key" ]; then
		headers
		return 0
	fi
	rm -f "$b/.famfs-built"
	log "configuring the $variant kernel in $b"
	configure
	kmake rustavailable >/dev/null
	log "building (about 7 minutes on 2 cores from scratch, less when incremental)"
	t0=$SECONDS
	kmake -j"$(($(nproc) + 1))"
	echo "$key" >"$b/.famfs-built"
	log "built in $((SECONDS - t0)) s: $b/arch/x86/boot/bzImage"
	headers
}

main
