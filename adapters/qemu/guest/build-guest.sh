#!/usr/bin/env bash
# build-guest.sh — build vnetkit's QEMU test guest (Debian kernel + tiny busybox initramfs)
# from Debian packages, for end-to-end tests of VM networking. Adapted from the team's
# /work/shared/vmlab kit (same console markers, same vmlab.* options, plus vmlab.static).
#
# Usage: adapters/qemu/guest/build-guest.sh [OUT_DIR]   (default OUT_DIR: out/ next to this script)
#
# Produces in OUT_DIR:
#   vmlinuz                the kernel from linux-image-<ver>-amd64 (unchanged)
#   vmlinux                the same kernel uncompressed, for faster PVH direct boot (PVH=0: skip)
#   initramfs.cpio.gz      busybox-static + virtio-net modules + init + udhcpc.script
#   manifest.txt           package versions, module list, sizes, sha256 sums
#
# Idempotent: when every output is newer than this script, init and udhcpc.script, it prints
# "up to date" and exits 0 without downloading anything. FORCE=1 rebuilds anyway.
#
# Needs (Debian/Ubuntu): apt-get (or DEB_DIR), dpkg-deb, kmod (depmod, modprobe), cpio, gzip, xz.
# Nothing is installed: packages are fetched with `apt-get download` and unpacked with
# `dpkg-deb -x`. Runs as any user; root only needs `apt-get update` once on the machine.
#
# Environment knobs:
#   KERNEL_PKG=linux-image-6.1.0-56-amd64  kernel package (default: what linux-image-amd64 depends on)
#   BUSYBOX_PKG=busybox-static             busybox package (must be statically linked)
#   DEB_DIR=dir                            take the .deb files from dir instead of apt-get download
#                                          (offline builds; the newest matching file is used)
#   MODULES="virtio_pci virtio_net"        modules to include, dependencies are added automatically
#   COMPRESS=gzip|xz                       initramfs compression (default gzip)
#   SOURCE_DATE_EPOCH=0                    timestamp put on every initramfs entry (reproducibility)
#   PVH=1                                  also extract vmlinux for PVH boot (0: don't)
#   FORCE=1                                rebuild even when the outputs are up to date
#
# Same packages + same init/udhcpc.script => byte-identical initramfs (checked by the sha256
# in manifest.txt).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
OUT_DIR="${1:-$HERE/out}"
BUSYBOX_PKG="${BUSYBOX_PKG:-busybox-static}"
MODULES="${MODULES:-virtio_pci virtio_net}"
COMPRESS="${COMPRESS:-gzip}"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-0}"

die() { echo "build-guest: error: $*" >&2; exit 1; }
log() { echo "build-guest: $*" >&2; }

# ---- 0. up to date? -------------------------------------------------------------------------
case "$COMPRESS" in gzip) IMG=initramfs.cpio.gz ;; xz) IMG=initramfs.cpio.xz ;; esac
up_to_date() {
	local out src
	for out in vmlinuz "${IMG:-none}" manifest.txt $([ "${PVH:-1}" = 1 ] && echo vmlinux); do
		[ -e "$OUT_DIR/$out" ] || return 1
		for src in "${BASH_SOURCE[0]}" "$HERE/init" "$HERE/udhcpc.script"; do
			[ "$OUT_DIR/$out" -nt "$src" ] || return 1
		done
	done
}
if [ "${FORCE:-0}" != 1 ] && up_to_date; then
	log "up to date: $OUT_DIR (newer than the recipe; FORCE=1 rebuilds)"
	exit 0
fi

need() {
	command -v "$1" >/dev/null 2>&1 || die "'$1' not found; install it ($2)"
}
need dpkg-deb "apt-get install dpkg"
need depmod "apt-get install kmod"
need modprobe "apt-get install kmod"
need modinfo "apt-get install kmod"
need cpio "apt-get install cpio"
need gzip "apt-get install gzip"
need sha256sum "apt-get install coreutils"
need xz "apt-get install xz-utils"
case "$COMPRESS" in
gzip | xz) ;;
*) die "COMPRESS must be gzip or xz, not '$COMPRESS'" ;;
esac
for f in init udhcpc.script; do
	[ -r "$HERE/$f" ] || die "missing $HERE/$f (the guest files ship next to this script)"
done

WORK="$(mktemp -d "${TMPDIR:-/tmp}/vnk-guest-build.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/debs" "$WORK/kernel" "$WORK/busybox" "$WORK/root"

# ---- 1. get the .deb files -----------------------------------------------------------
if [ -n "${DEB_DIR:-}" ]; then
	[ -d "$DEB_DIR" ] || die "DEB_DIR=$DEB_DIR is not a directory"
	pick() { # PATTERN: newest .deb in DEB_DIR matching PATTERN
		local f
		f="$(ls -1 "$DEB_DIR"/$1 2>/dev/null | sort -V | tail -n 1)"
		[ -n "$f" ] || die "no $1 in DEB_DIR=$DEB_DIR"
		cp "$f" "$WORK/debs/"
	}
	pick "${KERNEL_PKG:-linux-image-*-amd64}_*.deb"
	pick "${BUSYBOX_PKG}_*.deb"
else
	need apt-get "this is a Debian-based machine?"
	need apt-cache "this is a Debian-based machine?"
	if [ -z "${KERNEL_PKG:-}" ]; then
		KERNEL_PKG="$(apt-cache depends linux-image-amd64 2>/dev/null |
			awk '/Depends: linux-image-/ { print $2; exit }')"
		[ -n "$KERNEL_PKG" ] ||
			die "cannot resolve linux-image-amd64 (run 'apt-get update' as root first, or set KERNEL_PKG / DEB_DIR)"
	fi
	log "downloading $KERNEL_PKG $BUSYBOX_PKG"
	apt_opts=()
	# As root, apt drops to user _apt, which cannot write into a private mktemp dir.
	[ "$(id -u)" = 0 ] && apt_opts+=(-o APT::Sandbox::User=root)
	(cd "$WORK/debs" && apt-get "${apt_opts[@]}" -q download "$KERNEL_PKG" "$BUSYBOX_PKG" >&2) ||
		die "apt-get download $KERNEL_PKG $BUSYBOX_PKG failed (apt-get update? package names?)"
fi
KDEB="$(ls "$WORK"/debs/linux-image-*.deb)"
BDEB="$(ls "$WORK"/debs/"$BUSYBOX_PKG"_*.deb)"

# ---- 2. unpack (no installation) ----------------------------------------------------------
dpkg-deb -x "$KDEB" "$WORK/kernel"
dpkg-deb -x "$BDEB" "$WORK/busybox"

# Debian 12 ships /lib/modules, later releases /usr/lib/modules; depmod -b wants lib/modules.
if [ ! -d "$WORK/kernel/lib/modules" ] && [ -d "$WORK/kernel/usr/lib/modules" ]; then
	ln -s usr/lib "$WORK/kernel/lib"
fi
KVERS=("$WORK"/kernel/lib/modules/*)
[ ${#KVERS[@]} = 1 ] && [ -d "${KVERS[0]}" ] || die "expected exactly one lib/modules/<version> in $KDEB"
KVER="$(basename "${KVERS[0]}")"
VMLINUZ="$(ls "$WORK"/kernel/boot/vmlinuz-* 2>/dev/null | head -n 1)"
[ -n "$VMLINUZ" ] || die "no boot/vmlinuz-* in $KDEB"
BUSYBOX="$WORK/busybox/bin/busybox"
[ -x "$BUSYBOX" ] || die "no bin/busybox in $BDEB"
if command -v file >/dev/null 2>&1 && ! file "$BUSYBOX" | grep -q 'statically linked'; then
	die "$BUSYBOX_PKG's busybox is not statically linked (use busybox-static)"
fi
log "kernel $KVER"

# The package has no modules.dep (the postinst creates it); build one in the unpacked tree.
depmod -b "$WORK/kernel" "$KVER"

# ---- 3. module closure, in load order -----------------------------------------------------------
# `modprobe --show-depends` prints "insmod /path/x.ko" lines with dependencies first,
# and "builtin x" for modules compiled into the kernel (those need nothing).
: >"$WORK/modpaths"
for m in $MODULES; do
	out="$(modprobe -d "$WORK/kernel" -S "$KVER" --show-depends "$m" 2>&1)" ||
		die "module $m not found in $KVER: $out"
	printf '%s\n' "$out" | awk '$1 == "insmod" { print $2 }' >>"$WORK/modpaths"
done
mkdir -p "$WORK/root/lib/modules" "$WORK/root/etc/vmlab"
{
	echo "# insmod order, generated by build-guest.sh for $KVER"
	awk '!seen[$0]++' "$WORK/modpaths" | while read -r path; do
		base="$(basename "$path")"
		name="${base%%.ko*}"
		case "$base" in # modules may be compressed (Debian 13+); busybox insmod wants plain .ko
		*.ko) cp "$path" "$WORK/root/lib/modules/$name.ko" ;;
		*.ko.xz) xz -dc "$path" >"$WORK/root/lib/modules/$name.ko" ;;
		*.ko.zst) zstd -qdc "$path" >"$WORK/root/lib/modules/$name.ko" ;;
		*.ko.gz) gzip -dc "$path" >"$WORK/root/lib/modules/$name.ko" ;;
		*) die "unexpected module file $path" ;;
		esac
		echo "$name"
	done
} >"$WORK/root/etc/vmlab/modules"
grep -qv '^#' "$WORK/root/etc/vmlab/modules" ||
	log "note: all of '$MODULES' are built into $KVER; the initramfs has no modules"

# ---- 4. the rest of the initramfs tree ---------------------------------------------------------
R="$WORK/root"
mkdir -p "$R/bin" "$R/sbin" "$R/usr/bin" "$R/usr/sbin" "$R/proc" "$R/sys" "$R/dev" \
	"$R/run" "$R/tmp" "$R/etc/udhcpc" "$R/www"
cp "$BUSYBOX" "$R/bin/busybox"
ln -s busybox "$R/bin/sh" # everything else is linked by `busybox --install -s` in /init
install -m 0755 "$HERE/init" "$R/init"
install -m 0755 "$HERE/udhcpc.script" "$R/etc/udhcpc/default.script"
echo "hello from vmlab guest (static)" >"$R/www/index.html"
chmod 1777 "$R/tmp"
# /dev/console is not needed here: the kernel's built-in initramfs already has it.

# ---- 5. pack reproducibly -----------------------------------------------------------------------
find "$R" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
case "$COMPRESS" in
gzip) IMG=initramfs.cpio.gz; compress=(gzip -9 -n) ;;
# The kernel's unxz wants CRC32 (not xz's default CRC64) and allocates the whole dictionary:
# plain `xz -9` (64 MiB dictionary) makes a 128M guest panic with OOM while unpacking.
xz) IMG=initramfs.cpio.xz; compress=(xz --check=crc32 --lzma2=preset=9,dict=1MiB) ;;
esac
mkdir -p "$OUT_DIR"
(cd "$R" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
	cpio --null --create --format=newc --owner=0:0 --reproducible --quiet) |
	"${compress[@]}" >"$OUT_DIR/$IMG.tmp"
mv "$OUT_DIR/$IMG.tmp" "$OUT_DIR/$IMG"
cp "$VMLINUZ" "$OUT_DIR/vmlinuz.tmp" && mv "$OUT_DIR/vmlinuz.tmp" "$OUT_DIR/vmlinuz"
# ---- 5b. uncompressed vmlinux for PVH direct boot ---------------------------------------------
# QEMU can start an ELF vmlinux that has a Xen PVH entry note (CONFIG_PVH=y) directly in
# 32-bit mode: no real-mode setup, no in-guest decompression. Under TCG that saves ~2.5 s
# per boot (the XZ decompressor is slow when emulated). boot-guest.sh prefers vmlinux.
extract_vmlinux() { # BZIMAGE OUT: unpack the payload at the first offset that yields an ELF
	local in="$1" out="$2" spec tool magic off
	for spec in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08\x00'; do
		tool="${spec%%:*}" magic="${spec#*:}"
		for off in $(LC_ALL=C grep -obUaP "$magic" "$in" | cut -d: -f1 | head -n 5); do
			case "$tool" in # trailing data after the payload makes some tools exit non-zero
			xz) tail -c +$((off + 1)) "$in" | xz -dc --single-stream >"$out" 2>/dev/null || true ;;
			zstd) tail -c +$((off + 1)) "$in" | zstd -dcq >"$out" 2>/dev/null || true ;;
			gzip) tail -c +$((off + 1)) "$in" | gzip -dc >"$out" 2>/dev/null || true ;;
			esac
			[ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ] && return 0
		done
	done
	return 1
}
rm -f "$OUT_DIR/vmlinux"
if [ "${PVH:-1}" = 1 ]; then
	if extract_vmlinux "$VMLINUZ" "$WORK/vmlinux" &&
		# Xen ELF note type 0x12 (XEN_ELFNOTE_PHYS32_ENTRY): namesz 4, descsz 4 or 8, "Xen\0"
		LC_ALL=C grep -qaP '\x04\x00\x00\x00[\x04\x08]\x00\x00\x00\x12\x00\x00\x00Xen\x00' "$WORK/vmlinux"; then
		mv "$WORK/vmlinux" "$OUT_DIR/vmlinux"
	else
		log "warning: no PVH-bootable vmlinux could be extracted; boot-guest.sh will use vmlinuz (slower)"
	fi
fi

# Remove a stale image of the other compression so boot-guest.sh cannot pick it up.
for other in initramfs.cpio.gz initramfs.cpio.xz; do
	[ "$other" = "$IMG" ] || rm -f "$OUT_DIR/$other"
done

# ---- 6. manifest --------------------------------------------------------------------------------
unpacked_kb="$(du -sk "$R" | cut -f1)"
{
	echo "kernel_package=$(dpkg-deb -f "$KDEB" Package) $(dpkg-deb -f "$KDEB" Version)"
	echo "busybox_package=$(dpkg-deb -f "$BDEB" Package) $(dpkg-deb -f "$BDEB" Version)"
	echo "kernel_release=$KVER"
	echo "modules=$(grep -v '^#' "$R/etc/vmlab/modules" | paste -sd, -)"
	echo "initramfs=$IMG"
	echo "initramfs_bytes=$(stat -c %s "$OUT_DIR/$IMG")"
	echo "initramfs_unpacked_kib=$unpacked_kb"
	echo "vmlinuz_bytes=$(stat -c %s "$OUT_DIR/vmlinuz")"
	[ -e "$OUT_DIR/vmlinux" ] && echo "vmlinux_bytes=$(stat -c %s "$OUT_DIR/vmlinux")"
	(cd "$OUT_DIR" && sha256sum vmlinuz $([ -e vmlinux ] && echo vmlinux) "$IMG" |
		awk '{ print "sha256_" $2 "=" $1 }')
} >"$OUT_DIR/manifest.txt"
cat "$OUT_DIR/manifest.txt" >&2
log "done: $OUT_DIR/vmlinuz $OUT_DIR/$IMG"
