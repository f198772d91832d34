# shellcheck shell=dash
# L2 side of the pvclock test (/test.sh, busybox sh): /clock_test (static)
# does the measuring, strace comes from the machine's root (hostrun).
# Prints "G key value" lines for L1, which flips the host's TSC-stability
# knob when asked; then waits to be stopped.
G() { echo "G $*"; }
cs=/sys/devices/system/clocksource/clocksource0
G cs_before "$(cat $cs/current_clocksource)"
insmod /pvchan_guest.ko || G insmod_failed 1
sleep 1
cat /sys/kernel/debug/pvchan-guest/clock*/stats
G available "$(cat $cs/available_clocksource)"
G current "$(cat $cs/current_clocksource)"
ptp=
for c in /sys/class/ptp/ptp*; do
	[ "$(cat "$c/clock_name" 2>/dev/null)" = "pvchan host time" ] && ptp=/dev/${c##*/}
done
G ptp_dev "$ptp"

# 1. CLOCK_MONOTONIC never decreases: 5,000,000 reads on each vCPU at once,
# each checked against the latest any vCPU saw.
G mono "$(/clock_test mono 5000000)"
# 2. Reads make no system call (strace counts clock_gettime calls).
cp /clock_test /tmp/clock_test
hostrun /usr/bin/strace -f -c -e trace=clock_gettime /tmp/clock_test mono 100000 >/tmp/strace.out 2>&1
sed 's/^/# strace: /' /tmp/strace.out
G syscalls "$(grep -c 'clock_gettime' /tmp/strace.out)"
# 3. ...and no VM exit: L1 counts KVM exits around this run.
G bench_begin 1
G bench "$(/clock_test mono 2000000)"
G bench_end 1
# 4. Host time through the PTP clock, then the guest set from it.
G ptp "$(/clock_test ptp "$ptp")"
G step "$(/clock_test step "$ptp")"
cat /sys/kernel/debug/pvchan-guest/clock*/stats | sed 's/^/G clk_/'

# 5. The host withdraws TSC stability (knob set by L1 when asked) while
# reads run on every vCPU: the guest moves to another clocksource and
# time never steps back.
G unstable_wait 1
/clock_test mono 20000000 >/tmp/mono2 &
pid=$!
i=0
while [ "$(cat $cs/current_clocksource)" = pvchan-tsc ] && [ $i -lt 60 ]; do
	sleep 1
	i=$((i + 1))
done
G after_unstable "$(cat $cs/current_clocksource)"
wait $pid
G mono_switch "$(cat /tmp/mono2)"
cat /sys/kernel/debug/pvchan-guest/clock*/stats | sed 's/^/G clk2_/'
dmesg | grep -E 'pvchan|clocksource' | sed 's/^/# dmesg: /'
dmesg | grep -E 'WARNING|BUG|Call Trace' && G guest_splat 1
echo "=== CLOCK DONE"
sleep 900
