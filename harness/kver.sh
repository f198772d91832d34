#!/bin/bash
# Print the kernel version the harness boots in L1 and L2: $KVER if set,
# else the newest /boot/vmlinuz-6.1.* (by version sort).
set -euo pipefail
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
