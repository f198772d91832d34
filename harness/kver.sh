#!/bin/bash
# Print the kernel version the harness boots in L1 and L2: $KVER if set,
# else the newest /boot/vmlinuz-6.1.* (by version sort).
#
#   kver.sh [--l2]
#
# --l2: the kernel for L2 (run-l2.sh, mkinitramfs.sh ... l2): $PVCHAN_L2_KVER
# if set, else as above. run-l1.sh --kernel DIR sets KVER to DIR's release
# in L1 (a kernel that has no /boot/vmlinuz-*) and PVCHAN_L2_KVER to the one
# L2 keeps booting.
set -euo pipefail
if [[ ${1:-} == --l2 && -n ${PVCHAN_L2_KVER:-} ]]; then
	echo "$PVCHAN_L2_KVER"
	exit 0
fi
if [[ -n ${KVER:-} ]]; then
	echo "$KVER"
	exit 0
fi
newest=$(find /boot -maxdepth 1 -name 'vmlinuz-6.1.*' -printf '%f\n' | sort -V | tail -n 1)
if [[ -z $newest ]]; then
	echo "kver.sh: no /boot/vmlinuz-6.1.* found (set KVER)" >&2
	exit 1
fi
echo "${newest#vmlinuz-}"
