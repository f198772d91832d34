#!/bin/bash
# Root file system on a pvchan disk; runs in L1 (harness/run-l1.sh).  Boots
# the Debian image tests/rootfs/build-image.sh made (its own kernel and
# initramfs, pvchan-guest-dkms installed with apt) in L2 with nothing but a
# pvchan disk: the initramfs loads pvchan_guest and finds root by the disk's
# serial (root=/dev/disk/by-id/pvchan-pvroot, the package's udev rule),
# systemd comes up to a login prompt, a unit reports, writes a file and
# powers off; then the image is checked in L1.  The host side is the
# packaged one too: with PVCHAN_HOST_DIR (build-host.sh's OUTDIR, a Debian
# system with pvchan-host-dkms and pvchanctl installed by apt), the module
# DKMS built there is loaded with that system's modprobe, its udev rule
# sets /dev/pvchan's owner, and its pvchanctl attaches the disk; without
# it, this tree's module and pvchanctl.  Prints TAP.
# Env: PVCHAN_ROOTFS_DIR (build-image.sh's OUTDIR), PVCHAN_HOST_DIR.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
H=$REPO/harness
# shellcheck source=tests/e2e/lib.sh
. "$REPO/tests/e2e/lib.sh"
# shellcheck source=harness/l2-lib.sh
. "$H/l2-lib.sh"
out=${PVOUT:-/tmp}
work=$(mktemp -d)
dbg=/sys/kernel/debug/pvchan
img=${PVCHAN_ROOTFS_DIR:-}
n=0 fail=0

fact() { sed -n "s/^$2 //p" "$1/facts.txt"; }	# fact DIR KEY
# result KEY: KEY=value from the guest's "=== PVROOT" line.
result() { tr -d '\r' <"$work/l2.log" | sed -n "s/.*=== PVROOT.* $1=\([^ ]*\).*/\1/p" | tail -n 1; }

if [[ -z $img || ! -s $img/root.img ]]; then
	tap FAIL "PVCHAN_ROOTFS_DIR holds a built image (got '$img')"
	echo "1..$n"
	exit 1
fi
sed 's/^/# image: /' "$img/facts.txt"
echo "# L2 boots the image's own kernel and initramfs"
check "image: apt installed pvchan-guest-dkms; DKMS built pvchan_guest for the image's kernel ($(fact "$img" kernel))" \
	bash -c "[[ '$(fact "$img" module_path)' == */updates/dkms/pvchan_guest.ko* ]]"
check "image: its initramfs holds pvchan_guest.ko, loads it early (conf/modules) and has the disk udev rules" \
	bash -c "[[ '$(fact "$img" initramfs_module)' -ge 1 && '$(fact "$img" initramfs_conf)' -ge 1 && '$(fact "$img" initramfs_rules)' -ge 1 ]]"

modprobe kvm_amd
dmesg -C
# The backing file on L1's tmpfs (9p is slow and has no direct I/O).
cp --sparse=always "$img/root.img" "$work/root.img"
hdir=${PVCHAN_HOST_DIR:-}
if [[ -n $hdir ]]; then
	hroot=$hdir/root
	sed 's/^/# host system: /' "$hdir/facts.txt"
	check "host: apt installed pvchan-host-dkms; DKMS built pvchan_host for L1's kernel ($(fact "$hdir" vermagic))" \
		bash -c "[[ '$(fact "$hdir" module_path)' == */updates/dkms/pvchan_host.ko* && '$(fact "$hdir" vermagic)' == '$(uname -r)' ]]"
	# The installed system, run on L1's kernel; the disk image in /mnt.
	for m in proc sys dev; do mount --rbind /$m "$hroot/$m"; done
	mount --bind "$work" "$hroot/mnt"
	in_host() { chroot "$hroot" "$@"; }
	check "host: its modprobe resolves pvchan_host to DKMS's module" \
		bash -c "chroot '$hroot' modprobe --show-depends pvchan_host | grep -q 'updates/dkms/pvchan_host.ko'"
	check "host: modprobe pvchan_host (the packaged module)" in_host modprobe pvchan_host
	in_host udevadm test --action=add /sys/devices/virtual/misc/pvchan >"$work/udev.log" 2>&1
	grep 'pvchan-host' "$work/udev.log" | sed 's/^/# udev: /'
	check "host: the package's udev rule makes /dev/pvchan group kvm, mode 0660" \
		[ "$(in_host stat -c '%G %a' /dev/pvchan)" = "kvm 660" ]
	ctl_cmd=(chroot "$hroot" /usr/sbin/pvchanctl)
	disk=/mnt/root.img
else
	check "insmod pvchan_host" insmod "$REPO/host/pvchan_host.ko"
	ctl_cmd=("$REPO/tools/pvchanctl/pvchanctl")
	disk=$work/root.img
fi

qpid=$("$H/run-l2.sh" --kernel "$img/vmlinuz" --initrd "$img/initrd.img" \
	--log "$work/l2.log" --mem 768M --paused "$work/mon" --timeout 1200 \
	--append "root=/dev/disk/by-id/pvchan-pvroot rw systemd.default_device_timeout_sec=600")
"${ctl_cmd[@]}" attach --pid "$qpid" --blk "$disk,serial=pvroot" \
	>"$work/ctl.log" 2>&1 &
ctl=$!
check "${hdir:+the packaged }pvchanctl attaches the root disk" wait_for "$work/ctl.log" '^pvchanctl: attached' 30
vm=$(sed -n 's/^pvchanctl: VM \([0-9]*\) bound.*/\1/p' "$work/ctl.log" | head -n 1)
timeout 10 bash -c "echo cont >'$work/mon.in'"

# Stop waiting early if the initramfs or systemd gives up.
l2_wait "$work/l2.log" '=== PVROOT\|Gave up waiting for root\|emergency mode' 1100
check "L2 boots from the pvchan disk: systemd reports / on it" l2_gone "$work/l2.log" '=== PVROOT'
tr -d '\r' <"$work/l2.log" | grep -E '=== PVROOT|login:|pvchan' | sed 's/^/# L2: /'
check "/ is /dev/pvda, ext4 (got $(result root), $(result fs))" \
	bash -c "[[ '$(result root)' == /dev/pvda && '$(result fs)' == ext4 ]]"
check "systemd: system running, no failed unit (state $(result state), failed '$(result failed)')" \
	bash -c "[[ '$(result state)' == running && -z '$(result failed)' ]]"
check "a login prompt on the serial console" grep -q 'pvguest login:' "$work/l2.log"
check "the module came from the initramfs (live, as root needed it)" \
	bash -c "[[ '$(result module)' == live ]]"
l2_wait "$work/l2.log" 'reboot: Power down' 300
check "L2 powers off cleanly" grep -q 'reboot: Power down' "$work/l2.log"
vm_teardown
cp "$work/l2.log" "$out/rootfs-l2-console.log"

check "e2fsck -fn: the root file system is clean after the shutdown" \
	e2fsck -fn "$work/root.img"
sum=$(debugfs -R 'cat /var/tmp/pvroot.bin' "$work/root.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
check "the file L2 wrote through the disk is in the image, same sha256" \
	bash -c "[[ -n '$(result sha)' && '$sum' == '$(result sha)' ]]"
host_unload rootfs
[[ -z $hdir ]] || umount -R "$hroot/mnt" "$hroot/dev" "$hroot/sys" "$hroot/proc"
echo "1..$n"
exit $fail
