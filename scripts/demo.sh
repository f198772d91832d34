#!/bin/bash
# make demo: build, boot the sandbox (L1 = TCG VM running KVM and
# pvchan_host; L2 = KVM guest running pvchan_guest), bind L2 with pvchanctl,
# push echo requests through the channel and show both sides' counters.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${PVCHAN_OUT:-$REPO/results/demo}
cd "$REPO"
scripts/deps.sh
KVER=$(harness/kver.sh)
export KVER
make -s -C "/lib/modules/$KVER/build" M="$REPO" modules >/dev/null
make -s -C tools/pvchanctl >/dev/null
echo "=== booting L1 (TCG, ~1-2 minutes under emulation)"
# One L1 vCPU: an L2 with 2 vCPUs doing I/O is steadier so (harness/README.md).
harness/run-l1.sh --script "$REPO/harness/demo-l1.sh" --out "$OUT" --smp 1 --timeout 900 |
	tr -d '\r' | grep -vE '^(\x1b|Booting|SeaBIOS|iPXE)' |
	sed -n '/=== L1 up/,$p'
