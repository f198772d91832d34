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
		--smp 2 --mem 512M --append "quiet tsc=reliable" --share-root --paused "$work/mon" \
		--timeout 1200)
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" --clock \
		>"$work/ctl.log" 2>&1 &
	ctl=$!
	wait_for "$work/ctl.log" '^pvchanctl: attached' 30 || return 1
	vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$work/ctl.log" | head -n1)
	vm=${vm:-0}
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
# tsc=reliable in L2 too: without constant_tsc Linux would not register
# the plain tsc clocksource on 2 vCPUs, and its cost is measured beside
# the others.
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
hst() {	# hst FILE KEY: a value from a saved host clock file
	sed -n "s/^$2 //p" "$work/$1" 2>/dev/null
}
if l2_wait "$work/l2.log" '^G unstable_wait' 600; then
	cat $dbg/vm"$vm"/dev0/clock >"$work/host1"
	echo 1 >$dbg/vm"$vm"/dev0/fault_tsc_unstable
fi
if l2_wait "$work/l2.log" '^G stable_wait' 600; then
	echo 0 >$dbg/vm"$vm"/dev0/fault_tsc_unstable
fi
# A frequency 1 MHz off KVM's, then KVM's again (0).
if l2_wait "$work/l2.log" '^G freq_wait' 300; then
	echo $(($(sed -n 's/^tsc_khz //p' $dbg/vm"$vm"/dev0/clock) + 1000)) \
		>$dbg/vm"$vm"/dev0/fault_tsc_khz
	# The host's records before the guest's module goes (step 8), taken
	# while L2 waits for the frequency to come back: L2 cannot get ahead.
	l2_wait "$work/l2.log" '^G freq_restore' 120 &&
		cat $dbg/vm"$vm"/dev0/clock >"$work/host2" &&
		echo 0 >$dbg/vm"$vm"/dev0/fault_tsc_khz
fi
if l2_wait "$work/l2.log" '^G rmmod_done' 600; then
	sleep 1
	cat $dbg/vm"$vm"/dev0/clock >"$work/host3"
fi
l2_wait "$work/l2.log" '^=== CLOCK DONE' 300
sed 's/^/# L2: /' "$work/l2.log"
check "L2 ran its whole script" l2_gone "$work/l2.log" '^=== CLOCK DONE'
for f in host1 host2 host3; do sed "s/^/# host ($f): /" "$work/$f" 2>/dev/null; done

reads=$(g bench | awk '{ print $2 }')
check "pvchan-tsc and pvchan-time listed, pvchan-tsc current (was $(g cs_before))" \
	bash -c "grep -qw pvchan-tsc <<<'$(g available)' && grep -qw pvchan-time <<<'$(g available)' && [ '$(g current)' = pvchan-tsc ]"
check "CLOCK_MONOTONIC never decreased over 10^7 reads per vCPU, interleaved ($(g mono))" \
	bash -c "[[ '$(g mono)' =~ ^reads\ 20000000\ backwards\ 0\  ]]"
costs= costs_ok=1
for c in pvchan-tsc pvchan-time kvm-clock tsc; do
	v=$(g "cost_$c" | awk '{ print $2 }')
	costs+="$c ${v:-?} ns, "
	[[ $v =~ ^[0-9.]+$ ]] || costs_ok=0
done
check "clock_gettime cost measured in this boot: ${costs%, }" \
	bash -c "[ $costs_ok = 1 ] && [ '$(g current_after_costs)' = pvchan-tsc ]"
check "clock reads make no system call (strace: $(g syscalls) clock_gettime lines)" [ "$(g syscalls)" = 0 ]
check "clock reads make no VM exit: $exits exits (all reasons) for ${reads:-?} reads" \
	bash -c "[[ '$exits' =~ ^[0-9]+$ ]] && (( ${reads:-0} > 0 && $exits * 1000 < ${reads:-0} ))"
check "PTP clock /dev/ptpN reads host time ($(g ptp))" bash -c "[[ '$(g ptp)' =~ ^offset_ns\ -?[0-9]+$ ]]"
step=$(g step | awk '{ print $2 }')
check "after stepping from the PTP clock, guest realtime within 1 ms of the host's (${step:-?} ns, $(g step | awk '{ print $4 }') step(s))" \
	bash -c "[[ '$step' =~ ^-?[0-9]+$ ]] && (( ${step#-} < 1000000 ))"
precise=$(g precise | awk '{ print $2 }')
check "PTP_SYS_OFFSET_PRECISE: host and guest realtime at one TSC value, within 1 ms (${precise:-$(g precise)} ns)" \
	bash -c "[[ '$precise' =~ ^-?[0-9]+$ ]] && (( ${precise#-} < 1000000 ))"
check "host keeps a time record per vCPU ($(hst host1 records) records, $(hst host1 record_updates) updates, largest step $(hst host1 record_max_step_ns) ns)" \
	bash -c "[ '$(hst host1 records)' = 2 ] && (( $(hst host1 record_updates) > 2 )) && [ '$(hst host1 record_drops)' = 0 ]"
check "host withdraws TSC stability: guest moves to pvchan-time (now $(g after_unstable))" \
	[ "$(g after_unstable)" = pvchan-time ]
check "guest logs that vDSO clock reads are unavailable" [ "$(g vdso_log)" = 1 ]
check "no backward step across the switch ($(g mono_switch))" \
	bash -c "[[ '$(g mono_switch)' =~ ^reads\ [0-9]+\ backwards\ 0\  ]]"
check "on time records, CLOCK_MONOTONIC never decreased over 2x10^6 reads per vCPU ($(g mono_records); $(g clk2_corrections) reads held back, largest by $(g clk2_max_correction_ns) ns)" \
	bash -c "[[ '$(g mono_records)' =~ ^reads\ 4000000\ backwards\ 0\  ]]"
check "stability back: guest returns to pvchan-tsc (now $(g after_stable))" \
	[ "$(g after_stable)" = pvchan-tsc ]
check "no backward step across the switch back ($(g mono_back))" \
	bash -c "[[ '$(g mono_back)' =~ ^reads\ [0-9]+\ backwards\ 0\  ]]"
check "guest counted both stability changes ($(g clk3_stability_changes))" [ "$(g clk3_stability_changes)" = 2 ]
check "host announces another TSC frequency: pvchan-tsc re-registered at it ($(g freq_hz))" \
	bash -c "[[ '$(g freq_hz)' =~ ^[0-9]+\ pvchan-tsc$ ]] && [ '$(g freq_hz | cut -d' ' -f1)' != '$(g clk3_tsc_hz)' ]"
check "...and at the real one again ($(g freq_hz_back))" \
	bash -c "[ '$(g freq_hz_back)' = '$(g clk3_tsc_hz) pvchan-tsc (was $(g clk3_tsc_hz))' ]"
check "no backward step across both frequency changes ($(g mono_freq))" \
	bash -c "[[ '$(g mono_freq)' =~ ^reads\ [0-9]+\ backwards\ 0\  ]]"
check "rmmod pvchan_guest: clocksources withdrawn (now $(g after_rmmod)), host records unregistered ($(hst host2 records) -> $(hst host3 records))" \
	bash -c "[ -z '$(g rmmod_failed)' ] && [[ '$(g after_rmmod)' != pvchan-* ]] && [ '$(hst host2 records)' = 2 ] && [ '$(hst host3 records)' = 0 ] && [ '$(hst host3 record_drops)' = 0 ]"
check "host rejected nothing" \
	[ "$(awk '{ s += $2 } END { print s + 0 }' $dbg/vm"$vm"/rejects)" = 0 ]
check "no guest kernel warnings" [ -z "$(g guest_splat)" ]

vm_teardown
host_unload clock
kill "$copier"
cp "$work/l2.log" "$out/clock-l2-console.log" 2>/dev/null
echo "1..$n"
exit $fail
