#!/bin/bash
# make bench, block part; runs in L1 (harness/run-l1.sh, from
# scripts/bench.sh).  One L2 with two disks on backing of the same kind,
# two 256 MiB RAM disks (brd) in L1: pvda (pvchan, pvchanctl --blk
# /dev/ram0) and vda (virtio-blk, QEMU cache=none aio=native on /dev/ram1).
# L2 (bench-l2.sh) runs each fio workload on one, then the other, several
# times; at every run's start and end L1 records its counters: VM exits
# by reason (the kvm:kvm_exit tracepoint, counted in-kernel by a hist
# trigger), all VM exits, pvchan hypercalls, L1's busy CPU time.  Raw data
# goes to $PVOUT (snap.log, l2.log); scripts/bench-report.py makes the
# numbers.  Prints TAP (the runs happened and produced numbers; speed is
# judged in the report, not here).
# Env: PVCHAN_BENCH_REPS (runs per device and workload, default 5),
# PVCHAN_BENCH_RUNTIME (seconds per run, default 5).
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
tracefs=/sys/kernel/tracing
REPS=${PVCHAN_BENCH_REPS:-5}
RUNTIME=${PVCHAN_BENCH_RUNTIME:-5}
n=0 fail=0

modprobe kvm_amd
check "two 256 MiB RAM disks (brd)" modprobe brd rd_nr=2 rd_size=262144
dmesg -C
check "insmod pvchan_host" insmod "$REPO/host/pvchan_host.ko"
"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" \
	"$REPO/tests/bench/bench-l2.sh:/test.sh" 2>/dev/null

mountpoint -q $tracefs || mount -t tracefs tracefs $tracefs
echo 'hist:keys=exit_reason:size=256' >$tracefs/events/kvm/kvm_exit/trigger

# snap WHAT TAG: one line of counters in snap.log.
snap() {
	local hc=0 busy
	[[ -e $dbg/vm$vm/hypercalls ]] &&
		hc=$(awk '{ s += $2 } END { print s + 0 }' $dbg/vm"$vm"/hypercalls)
	busy=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
	printf '%s %s|t=%s exits=%s hypercalls=%s l1_busy_ticks=%s %s\n' "$1" "$2" \
		"$(date +%s.%N)" "$(cat /sys/kernel/debug/kvm/exits)" "$hc" "$busy" \
		"$(awk '/^{ exit_reason:/ { printf "exit_%s=%s ", $3, $6 }' \
			$tracefs/events/kvm/kvm_exit/hist)" >>"$out/snap.log"
}

start_l2() {
	qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
		--smp 2 --mem 512M --share-root --paused "$work/mon" --timeout 3000 \
		--append "quiet PVCHAN_BENCH_REPS=$REPS PVCHAN_BENCH_RUNTIME=$RUNTIME" \
		--qemu-arg -drive \
		--qemu-arg file=/dev/ram1,if=none,id=vd0,format=raw,cache=none,aio=native \
		--qemu-arg -device --qemu-arg virtio-blk-device,drive=vd0)
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" --blk /dev/ram0 \
		>"$work/ctl.log" 2>&1 &
	ctl=$!
	wait_for "$work/ctl.log" '^pvchanctl: attached' 30 || return 1
	vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$work/ctl.log" | head -n1)
	vm=${vm:-0}
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
: >"$out/snap.log"
l2_start start_l2
check "pvchanctl attaches the pvchan disk; QEMU has the virtio one" [ "$attached" = 1 ]

# Follow L2's console: counters at every frame line, until it is done.
seen=0
deadline=$((SECONDS + 2700))
while ((SECONDS < deadline)) && [[ ! -e $work/l2.log.rc ]]; do
	while IFS= read -r line; do
		seen=$((seen + 1))
		line=${line%$'\r'}
		case $line in
		"G begin "* | "G end "*)
			line=${line#G }
			snap "${line%% *}" "${line#* }"
			;;
		"=== BENCH DONE"*) break 2 ;;
		esac
	done < <(tail -n +$((seen + 1)) "$work/l2.log")
	sleep 0.1
done
tr -d '\r' <"$work/l2.log" >"$out/l2.log"
check "L2 ran every workload" l2_gone "$work/l2.log" '^=== BENCH DONE'
check "both disks present in L2 ($(g disks))" bash -c "[[ '$(g disks)' == *pvda* && '$(g disks)' == *vda* ]]"
runs=$(grep -c '^G result ' "$out/l2.log")
check "every run has a result ($runs of $((16 * REPS)))" [ "$runs" = $((16 * REPS)) ]
check "every run has its counters" \
	[ "$(grep -c '^end ' "$out/snap.log")" = $((16 * REPS + 1)) ]
echo '!hist:keys=exit_reason:size=256' >$tracefs/events/kvm/kvm_exit/trigger
vm_teardown
host_unload bench
echo "1..$n"
exit $fail
