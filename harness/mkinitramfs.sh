#!/bin/bash
# Build a busybox initramfs for the nested-VM harness.
#
#   mkinitramfs.sh [--no-modules] OUT.cpio.gz ROLE [EXTRA_FILE:DEST ...]
#
# ROLE=l1: harness/l1-init as /init, plus the 9p-over-virtio-pci modules (and
#          their dependencies) from /lib/modules/$KVER in /modules, load order
#          in /modules/order.
# ROLE=l2: harness/l2-init as /init, harness/l2-hostrun as /bin/hostrun, and
#          the 9p-over-virtio-mmio/-pci modules (~300 KiB gzipped) so that
#          l2-init can mount L1's root when run-l2.sh --share-root exports it.
# --no-modules: no /modules (an empty /modules/order), for a kernel with
#          9p/virtio built in (run-l1.sh --kernel DIR); needs no
#          /lib/modules entry on this machine.
# EXTRA_FILE:DEST copies EXTRA_FILE to DEST (absolute path) inside the image;
# the split is on the last ':' so DEST must not contain one.
#
# Must run as root (creates /dev/console with mknod). Needs busybox-static,
# cpio, gzip and kmod's modprobe.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
L1_MODULES=(virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio virtio_pci
	9pnet 9pnet_virtio netfs fscache 9p)
# L2: microvm has virtio-mmio (found through its ACPI tables: Debian's kernel
# lacks CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES); virtio_pci for --machine q35.
L2_MODULES=(virtio_ring virtio virtio_mmio virtio_pci_modern_dev virtio_pci_legacy_dev
	virtio_pci 9pnet 9pnet_virtio netfs fscache 9p ptp)

die() { echo "mkinitramfs.sh: $*" >&2; exit 1; }

modules=1
if [[ ${1:-} == --no-modules ]]; then
	modules=0
	shift
fi
[[ $# -ge 2 ]] || die "usage: mkinitramfs.sh [--no-modules] OUT.cpio.gz l1|l2 [EXTRA_FILE:DEST ...]"
out=$1 role=$2
shift 2
[[ $role == l1 || $role == l2 ]] || die "ROLE must be l1 or l2, got '$role'"

busybox=/bin/busybox
if command -v file >/dev/null && ! file -L "$busybox" | grep -q 'statically linked'; then
	die "$busybox is not statically linked (install busybox-static)"
fi

stage=$(mktemp -d)
tmp=$out.tmp.$$
trap 'rm -rf "$stage" "$tmp"' EXIT
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,root,etc,mnt}
cp "$busybox" "$stage/bin/busybox"
# Applet symlinks are created at boot by `busybox --install -s` in /init.
mknod -m 600 "$stage/dev/console" c 5 1 || die "mknod /dev/console failed (run as root)"
mknod -m 666 "$stage/dev/null" c 1 3

# Copy modules "$@" and their dependencies, in load order, to /modules and
# list them in /modules/order. One modprobe call resolves everything (in L1,
# under TCG, each kmod start costs about a second: no modinfo per module).
add_modules() {
	local deps line file name dst
	declare -A seen=()
	# "insmod /lib/modules/.../x.ko [options]" or "builtin x", per module and
	# dependency, in load order, with repeats. A missing module is reported
	# by modprobe (WARNING) and skipped.
	deps=$(modprobe -S "$KVER" --show-depends -a "$@") || true
	while read -r line; do
		[[ $line == insmod\ * ]] || continue
		file=${line#insmod }
		file=${file%% *}
		name=${file##*/}
		name=${name%%.ko*}
		name=${name//-/_}
		[[ -z ${seen[$name]:-} ]] || continue
		seen[$name]=1
		# busybox insmod does not decompress: store plain .ko files.
		dst=$stage/modules/$name.ko
		case $file in
		*.ko) cp "$file" "$dst" ;;
		*.ko.xz) xz -dc "$file" >"$dst" ;;
		*.ko.zst) zstd -qdc "$file" >"$dst" ;;
		*.ko.gz) gzip -dc "$file" >"$dst" ;;
		*) die "unknown module file type: $file" ;;
		esac
		echo "$name" >>"$stage/modules/order"
	done <<<"$deps"
	[[ -s $stage/modules/order ]] || die "no modules found for $KVER"
}

mkdir -p "$stage/modules"
: >"$stage/modules/order"
if ((modules)); then
	if [[ $role == l2 ]]; then KVER=$("$HERE/kver.sh" --l2); else KVER=$("$HERE/kver.sh"); fi
	[[ -d /lib/modules/$KVER ]] || die "/lib/modules/$KVER missing"
fi
case $role in
l1)
	if ((modules)); then add_modules "${L1_MODULES[@]}"; fi
	install -m 755 "$HERE/l1-init" "$stage/init"
	;;
l2)
	if ((modules)); then add_modules "${L2_MODULES[@]}"; fi
	install -m 755 "$HERE/l2-init" "$stage/init"
	install -m 755 "$HERE/l2-hostrun" "$stage/bin/hostrun"
	;;
esac

for pair in "$@"; do
	[[ $pair == *:* ]] || die "EXTRA must be FILE:DEST, got '$pair'"
	src=${pair%:*} dest=${pair##*:}
	[[ $dest == /* ]] || die "DEST must be absolute: '$pair'"
	[[ -f $src ]] || die "no such file: $src"
	mkdir -p "$stage$(dirname "$dest")"
	cp -L --preserve=mode "$src" "$stage$dest"
done

mkdir -p "$(dirname "$out")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1 >"$tmp"
mv -f "$tmp" "$out"
