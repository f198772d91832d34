#!/bin/bash
# pvclock end to end; runs in L1 (harness/run-l1.sh).  pvchanctl gives L2
# a clock device; L2 must take the pvchan-tsc clocksource (vDSO, host
# frequency), keep CLOCK_MONOTONIC monotonic across vCPUs without system
# calls or VM exits, read host time from its PTP clock, and move off the
# TSC when the host withdraws stability.  Prints TAP.
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
n=0 fail=0

modprobe kvm_amd
dmesg -C
echo "# L1 clocksource: $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource); TSC flags: $(grep -o -w -E 'constant_tsc|nonstop_tsc' /proc/cpuinfo | sort -u | tr '\n' ' ')"
check "insmod pvchan_host" insmod "$REPO/host/pvchan_host.ko"

"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" \
	"$REPO/tests/clock/clock_test:/clock_test" \
	"$REPO/tests/e2e/clock-l2.sh:/test.sh" 2>/dev/null
# Start L2 paused, attach the clock device, resume.
start_l2() {
	qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
		--smp 2 --mem 512M --append quiet --share-root --paused "$work/mon" \
		--timeout 1200)
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" --clock \
		>"$work/ctl.log" 2>&1 &
	ctl=$!
	wait_for "$work/ctl.log" '^pvchanctl: attached' 30 || return 1
	vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$work/ctl.log" | head -n1)
	vm=${vm:-0}
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
l2_start start_l2
check "pvchanctl attaches a clock device" [ "$attached" = 1 ]
(while sleep 10; do cp "$work/l2.log" "$out/clock-l2-console.log" 2>/dev/null; done) &
copier=$!

exits=- reads=-
if l2_wait "$work/l2.log" '^G bench_begin' 600; then
	e0=$(cat /sys/kernel/debug/kvm/exits)
	if l2_wait "$work/l2.log" '^G bench_end' 300; then
		e1=$(cat /sys/kernel/debug/kvm/exits)
		exits=$((e1 - e0))
	fi
fi
if l2_wait "$work/l2.log" '^G unstable_wait' 300; then
	echo 1 >$dbg/vm"$vm"/dev0/fault_tsc_unstable
fi
l2_wait "$work/l2.log" '^=== CLOCK DONE' 300
sed 's/^/# L2: /' "$work/l2.log"
check "L2 ran its whole script" l2_gone "$work/l2.log" '^=== CLOCK DONE'
sed 's/^/# host: /' $dbg/vm"$vm"/dev0/clock

reads=$(g bench | awk '{ print $2 }')
check "pvchan-tsc listed and current (was $(g cs_before))" \
	bash -c "grep -qw pvchan-tsc <<<'$(g available)' && [ '$(g current)' = pvchan-tsc ]"
check "CLOCK_MONOTONIC never decreased ($(g mono))" \
	bash -c "[[ '$(g mono)' =~ ^reads\ 10000000\ backwards\ 0\  ]]"
check "clock reads make no system call (strace: $(g syscalls) clock_gettime lines)" [ "$(g syscalls)" = 0 ]
check "clock reads make no VM exit: $exits exits (all reasons) for ${reads:-?} reads" \
	bash -c "[[ '$exits' =~ ^[0-9]+$ ]] && (( ${reads:-0} > 0 && $exits * 1000 < ${reads:-0} ))"
check "PTP clock /dev/ptpN reads host time ($(g ptp))" bash -c "[[ '$(g ptp)' =~ ^offset_ns\ -?[0-9]+$ ]]"
step=$(g step | awk '{ print $2 }')
check "after stepping from the PTP clock, guest realtime within 1 ms of the host's (${step:-?} ns)" \
	bash -c "[[ '$step' =~ ^-?[0-9]+$ ]] && (( ${step#-} < 1000000 ))"
check "host withdraws TSC stability: guest leaves pvchan-tsc (now $(g after_unstable))" \
	bash -c "[ -n '$(g after_unstable)' ] && [ '$(g after_unstable)' != pvchan-tsc ]"
check "no backward step across the switch ($(g mono_switch))" \
	bash -c "[[ '$(g mono_switch)' =~ ^reads\ [0-9]+\ backwards\ 0\  ]]"
check "guest counted the stability change ($(g clk2_stability_changes))" [ "$(g clk2_stability_changes)" = 1 ]
check "host rejected nothing" \
	[ "$(awk '{ s += $2 } END { print s + 0 }' $dbg/vm"$vm"/rejects)" = 0 ]
check "no guest kernel warnings" [ -z "$(g guest_splat)" ]

vm_teardown
host_unload clock
kill "$copier"
cp "$work/l2.log" "$out/clock-l2-console.log" 2>/dev/null
echo "1..$n"
exit $fail
