#!/bin/bash
# make bench: pvchan against what users would pick instead, side by side in
# one L2 (tests/bench/bench-l1.sh: block, pvblk vs virtio-blk), then
# scripts/bench-report.py: results/bench/{results.json,bench.md}.
# Absolute numbers under nested emulation (TCG L1, KVM L2) mean nothing;
# the ratios between devices measured in the same run do.
# Env: PVCHAN_BENCH_REPS, PVCHAN_BENCH_RUNTIME (bench-l1.sh).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${PVCHAN_OUT:-$REPO/results/bench}
cd "$REPO"
scripts/deps.sh
KVER=$(harness/kver.sh)
export KVER
make -s -C "/lib/modules/$KVER/build" M="$REPO" modules >/dev/null
make -s -C tools/pvchanctl >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT"
echo "=== bench: L1 boots, L2 runs the workloads (~$((16 * ${PVCHAN_BENCH_REPS:-5} * (${PVCHAN_BENCH_RUNTIME:-5} + 25) / 60 + 4)) min)"
rc=0
harness/run-l1.sh --script "$REPO/tests/bench/bench-l1.sh" --out "$OUT/run" \
	--smp 1 --timeout 3300 \
	--env "PVCHAN_BENCH_REPS=${PVCHAN_BENCH_REPS:-5}" \
	--env "PVCHAN_BENCH_RUNTIME=${PVCHAN_BENCH_RUNTIME:-5}" >"$OUT/bench.log" 2>&1 || rc=$?
grep -E '^(not )?ok ' "$OUT/bench.log" || true
[[ $rc -eq 0 ]] || { echo "bench: the L1 run failed ($OUT/bench.log)"; exit 1; }
{
	echo "make bench, $(date -u +%Y-%m-%d), $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)),"
	echo "L1 TCG $(qemu-system-x86_64 --version | head -n1), L1 and L2 kernel $KVER."
	echo
} >"$OUT/header.md"
scripts/bench-report.py "$OUT/run" "$OUT" >/dev/null
cat "$OUT/header.md" "$OUT/bench.md" >"$OUT/bench.md.tmp" && mv "$OUT/bench.md.tmp" "$OUT/bench.md"
cat "$OUT/bench.md"
