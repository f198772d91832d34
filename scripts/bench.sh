#!/bin/bash
# make bench: pvchan against what users would pick instead, side by side in
# one L2 (tests/bench/bench-l1.sh: block, pvblk vs virtio-blk; network,
# pvnet vs virtio-net with vhost-net; clock, pvchan-tsc and pvchan-time vs
# kvm-clock and tsc), then
# scripts/bench-report.py: results/bench/{results.json,bench.md,*.png}.
# Absolute numbers under nested emulation (TCG L1, KVM L2) mean nothing;
# the ratios between devices measured in the same run do.
# Env: PVCHAN_BENCH_REPS, PVCHAN_BENCH_RUNTIME, PVCHAN_BENCH_PARTS (bench-l1.sh).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${PVCHAN_OUT:-$REPO/results/bench}
cd "$REPO"
scripts/deps.sh
# What make check does not need: the charts' gnuplot, the latency test's
# sockperf (L2 runs it from this machine's root).
for p in gnuplot-nox sockperf; do
	dpkg -s "$p" >/dev/null 2>&1 ||
		apt-get install -y -q --no-install-recommends "$p" >/dev/null
done
KVER=$(harness/kver.sh)
export KVER
make -s -C "/lib/modules/$KVER/build" M="$REPO" modules >/dev/null
make -s -C tools/pvchanctl >/dev/null
make -s -C tests/clock >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT"
# Here (2 cores, TCG L1): ~6 min of boots and set-up, then per repetition
# ~3.5 min of block runs, ~2 min of network runs, ~0.2 min of clock runs.
echo "=== bench: L1 boots, L2 runs the workloads (~$((6 + 57 * ${PVCHAN_BENCH_REPS:-5} / 10)) min)"
rc=0
harness/run-l1.sh --script "$REPO/tests/bench/bench-l1.sh" --out "$OUT/run" \
	--smp 1 --timeout 3300 \
	--env "PVCHAN_BENCH_REPS=${PVCHAN_BENCH_REPS:-5}" \
	--env "PVCHAN_BENCH_RUNTIME=${PVCHAN_BENCH_RUNTIME:-5}" \
	--env "PVCHAN_BENCH_PARTS=${PVCHAN_BENCH_PARTS:-block,net,clock}" \
	>"$OUT/bench.log" 2>&1 || rc=$?
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
