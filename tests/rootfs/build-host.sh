#!/bin/bash
# Build a Debian 12 KVM host system the way an administrator installs
# pvchan on one: a minimal bookworm with the L1 kernel's image and headers
# (KVER, from bookworm-security) and DKMS, then pvchan-host-dkms and
# pvchanctl installed with apt (DKMS builds pvchan_host for that kernel).
# Runs on L0 as root; nothing is loaded here: L1, which boots the same
# kernel package, modprobes the module from this system (rootfs-l1.sh).
#
#   build-host.sh HOST_DEB CTL_DEB OUTDIR
#
# OUTDIR gets root/ (the system) and facts.txt (KEY VALUE lines for the
# test's TAP lines).  The base system is cached in /var/cache/pvchan/images
# keyed by its package list (a cold build downloads it with mmdebstrap).
# Env: KVER (the L1 kernel release).
set -euo pipefail

hdeb=${1:?usage: build-host.sh HOST_DEB CTL_DEB OUTDIR}
cdeb=${2:?usage: build-host.sh HOST_DEB CTL_DEB OUTDIR}
out=${3:?usage: build-host.sh HOST_DEB CTL_DEB OUTDIR}
KVER=${KVER:?KVER not set}
# shellcheck source=tests/rootfs/chroot-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/chroot-lib.sh"

base=$(base_tar host "udev,kmod,dkms,linux-image-$KVER,linux-headers-$KVER" 1 \
	"deb $SECURITY_MIRROR bookworm-security main")
root=$out/root
rm -rf "$out"
chroot_new "$base" "$root"
facts=$out/facts.txt
apt_install "$root" "$out/apt.log" "$hdeb" "$cdeb"
{
	echo "dkms_status $(chroot "$root" dkms status 2>/dev/null | tr '\n' ';')"
	echo "module_path $(chroot "$root" modinfo -k "$KVER" -n pvchan_host 2>/dev/null || echo none)"
	echo "vermagic $(chroot "$root" modinfo -k "$KVER" -F vermagic pvchan_host 2>/dev/null | cut -d' ' -f1)"
	echo "udev_rule $(chroot "$root" dpkg -L pvchan-host-dkms | grep 'rules\.d/60-pvchan-host\.rules$')"
	echo "ctl $(chroot "$root" pvchanctl --version 2>&1 | head -n 1)"
} >"$facts"
chroot_umount
# What the test does not need.
rm -rf "$root"/usr/src/linux-headers-* "$root"/var/lib/dkms/*/*/build \
	"$root"/usr/share/doc/* "$root"/var/cache/apt/* "$root/tmp/"*
