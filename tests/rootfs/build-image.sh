#!/bin/bash
# Build a Debian 12 guest image whose root file system is meant to live on a
# pvchan disk, the way an image builder would: a minimal bookworm with
# systemd, Debian's kernel and its headers and DKMS, then the
# pvchan-guest-dkms package installed with apt (DKMS builds the module, the
# package's initramfs-tools hook and trigger put it in the initramfs).  Runs
# on L0 as root; nothing is loaded here.
#
#   build-image.sh GUEST_DEB OUTDIR
#
# OUTDIR gets root.img (ext4, label pvroot), vmlinuz and initrd.img (the
# image's own kernel and initramfs) and facts.txt (what the build found, as
# KEY VALUE lines, for the test's TAP lines).  Cached in
# /var/cache/pvchan/images: the base system (everything but pvchan) as a
# tarball keyed by its package list (a cold build downloads
# it with mmdebstrap from deb.debian.org), and the finished image keyed by
# that, this script and the package's files (paths and contents, not their
# dates).
set -euo pipefail

deb=${1:?usage: build-image.sh GUEST_DEB OUTDIR}
out=${2:?usage: build-image.sh GUEST_DEB OUTDIR}
# shellcheck source=tests/rootfs/chroot-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/chroot-lib.sh"
PKGS=systemd-sysv,udev,kmod,initramfs-tools,linux-image-amd64,linux-headers-amd64,dkms,e2fsprogs,iproute2

base=$(base_tar bookworm "$PKGS" 1)
key=$(basename "$base" .tar)
# The finished image, if this package was built into this base before.
pkey=$( { echo "$key"; sha256sum "${BASH_SOURCE[0]}"; rm -rf "$out.deb" && mkdir -p "$out.deb" &&
	dpkg-deb -x "$deb" "$out.deb" && (cd "$out.deb" && find . -type f -print0 |
	sort -z | xargs -0 sha256sum); } | sha256sum | cut -c1-16)
rm -rf "$out.deb"
done_dir=$CACHE/image-$pkey
if [[ -s $done_dir/root.img ]]; then
	echo "build-image.sh: using $done_dir" >&2
	rm -rf "$out"
	mkdir -p "$out"
	cp --sparse=always "$done_dir"/* "$out/"
	exit 0
fi

root=$out/rootfs
rm -rf "$out"
chroot_new "$base" "$root"
facts=$out/facts.txt
: >"$facts"

kver=$(basename "$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -type d | sort -V | tail -n 1)")
echo "kernel $kver" >>"$facts"

# The package, as an image builder installs it; its postinst runs DKMS and
# its trigger rebuilds the initramfs.
apt_install "$root" "$out/apt.log" "$deb"
echo "dkms_status $(chroot "$root" dkms status 2>/dev/null | tr '\n' ';')" >>"$facts"
ko=$(chroot "$root" modinfo -k "$kver" -n pvchan_guest 2>/dev/null || true)
echo "module_path ${ko:-none}" >>"$facts"
echo "initramfs_module $(chroot "$root" lsinitramfs "/boot/initrd.img-$kver" |
	grep -c 'pvchan_guest\.ko')" >>"$facts"
echo "initramfs_rules $(chroot "$root" lsinitramfs "/boot/initrd.img-$kver" |
	grep -c 'rules.d/60-pvchan\.rules')" >>"$facts"
echo "initramfs_conf $(chroot "$root" sh -c "unmkinitramfs /boot/initrd.img-$kver /tmp/ir &&
	cat /tmp/ir/main/conf/modules /tmp/ir/conf/modules 2>/dev/null" | grep -c '^pvchan_guest$')" >>"$facts"

# The system: host name, root on the pvchan disk by its serial, a console
# login, and one unit that reports once the system is up, writes a file
# through the disk and powers off.
echo pvguest >"$root/etc/hostname"
printf '/dev/disk/by-id/pvchan-pvroot / ext4 defaults 0 1\n' >"$root/etc/fstab"
chroot "$root" passwd -d root >/dev/null
install -m 755 /dev/stdin "$root/usr/local/sbin/pvchan-ready" <<'SH'
#!/bin/sh
# Report to the serial console that the system is up, from the pvchan disk.
state=$(systemctl is-system-running --wait)
failed=$(systemctl list-units --failed --plain --no-legend | awk '{ print $1 }' | tr '\n' ,)
src=$(readlink -f "$(findmnt -no SOURCE /)")
fs=$(findmnt -no FSTYPE /)
dd if=/dev/urandom of=/var/tmp/pvroot.bin bs=1M count=4 status=none
sync
sum=$(sha256sum /var/tmp/pvroot.bin | cut -d' ' -f1)
echo "=== PVROOT root=$src fs=$fs state=$state failed=$failed sha=$sum module=$(cat /sys/module/pvchan_guest/initstate)" >/dev/ttyS0
systemctl --no-block poweroff
SH
cat >"$root/etc/systemd/system/pvchan-ready.service" <<'UNIT'
[Unit]
Description=Report the pvchan root test result
After=multi-user.target getty.target

[Service]
# simple, not oneshot: the boot must finish for is-system-running --wait.
Type=simple
ExecStart=/usr/local/sbin/pvchan-ready

[Install]
WantedBy=multi-user.target
UNIT
chroot "$root" systemctl enable pvchan-ready.service >/dev/null 2>&1

cp "$root/boot/vmlinuz-$kver" "$out/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$out/initrd.img"
chroot_umount
# What a booted guest does not need: headers, compilers' data, docs, caches.
rm -rf "$root"/usr/src/linux-headers-* "$root"/usr/share/doc/* "$root"/usr/share/man/* \
	"$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root/tmp/"*
size=$(( $(du -sm "$root" | cut -f1) + 256 ))
mkfs.ext4 -q -L pvroot -d "$root" "$out/root.img" "${size}M"
echo "image_mib $size" >>"$facts"
rm -rf "$root"
# Keep this one image (the newest) besides the base.
rm -rf "$CACHE"/image-* "$done_dir.tmp"
mkdir -p "$done_dir.tmp"
cp --sparse=always "$out"/root.img "$out"/vmlinuz "$out"/initrd.img "$facts" "$done_dir.tmp/"
mv "$done_dir.tmp" "$done_dir"
