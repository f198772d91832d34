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

# 1. CLOCK_MONOTONIC never decreases: 10^7 reads on each vCPU at once,
# each checked against the latest any vCPU saw.
G mono "$(/clock_test mono 10000000)"
# The cost of one clock_gettime() on each clocksource, in this boot.
for c in pvchan-tsc pvchan-time kvm-clock tsc; do
	grep -qw "$c" $cs/available_clocksource || continue
	echo "$c" >$cs/current_clocksource
	[ "$(cat $cs/current_clocksource)" = "$c" ] &&
		G "cost_$c" "$(/clock_test cost 1000000)"
done
echo pvchan-tsc >$cs/current_clocksource
G current_after_costs "$(cat $cs/current_clocksource)"
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
G precise "$(/clock_test precise "$ptp" 2>&1)"
cat /sys/kernel/debug/pvchan-guest/clock*/stats | sed 's/^/G clk_/'

# 5. The host withdraws TSC stability (knob set by L1 when asked) while
# reads run on every vCPU: the guest moves to pvchan-time (host time
# records) and time never steps back.
wait_cs() { # wait_cs NAME [is|isnt]: up to 60 s
	i=0
	while [ $i -lt 60 ]; do
		cur=$(cat $cs/current_clocksource)
		[ "$2" = is ] && [ "$cur" = "$1" ] && break
		[ "$2" = isnt ] && [ "$cur" != "$1" ] && break
		sleep 1
		i=$((i + 1))
	done
}
G unstable_wait 1
/clock_test mono 20000000 >/tmp/mono2 &
pid=$!
wait_cs pvchan-tsc isnt
G after_unstable "$(cat $cs/current_clocksource)"
wait $pid
G mono_switch "$(cat /tmp/mono2)"
# 6. On the time records alone: 2x10^6 reads on each vCPU (a system call
# each, no vDSO: 10^7 took 25-60 s under nested emulation).
G mono_records "$(/clock_test mono 2000000)"
cat /sys/kernel/debug/pvchan-guest/clock*/stats | sed 's/^/G clk2_/'
# 7. Stability back (L1 clears the knob): back to pvchan-tsc, no step back.
G stable_wait 1
/clock_test mono 20000000 >/tmp/mono3 &
pid=$!
wait_cs pvchan-tsc is
G after_stable "$(cat $cs/current_clocksource)"
wait $pid
G mono_back "$(cat /tmp/mono3)"
cat /sys/kernel/debug/pvchan-guest/clock*/stats | sed 's/^/G clk3_/'
# 7b. The host announces another TSC frequency (knob set by L1), then the
# real one again: pvchan-tsc re-registered at each, no step back.
stat() { sed -n "s/^$1 //p" /sys/kernel/debug/pvchan-guest/clock*/stats; }
wait_stat() { # wait_stat KEY VALUE: up to 60 s
	i=0
	while [ "$(stat "$1")" != "$2" ] && [ $i -lt 60 ]; do
		sleep 1
		i=$((i + 1))
	done
}
hz0=$(stat tsc_hz)
G freq_wait 1
/clock_test mono 40000000 >/tmp/mono4 &
pid=$!
wait_stat freq_changes 1
G freq_hz "$(stat tsc_hz) $(cat $cs/current_clocksource)"
G freq_restore 1
wait_stat freq_changes 2
G freq_hz_back "$(stat tsc_hz) $(cat $cs/current_clocksource) (was $hz0)"
wait $pid
G mono_freq "$(cat /tmp/mono4)"
# 8. The driver goes: both clocksources withdrawn, records unregistered.
# The timekeeping core pins the current clocksource's module: choose
# another one first, as an administrator would.  (L1 took the host's
# records while L2 waited for step 7's frequency to come back.)
echo kvm-clock >$cs/current_clocksource
rmmod pvchan_guest || G rmmod_failed 1
G after_rmmod "$(cat $cs/current_clocksource)"
G rmmod_done 1
dmesg | grep -E 'pvchan|clocksource' | sed 's/^/# dmesg: /'
dmesg | grep -q 'vDSO clock reads unavailable' && G vdso_log 1
dmesg | grep -E 'WARNING|BUG|Call Trace' && G guest_splat 1
echo "=== CLOCK DONE"
sleep 900
