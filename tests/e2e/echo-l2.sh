# shellcheck shell=dash
# L2 side of the echo end-to-end test (/test.sh in the L2 initramfs, run by
# busybox sh).  Prints "G <key> <value>" lines that the L1 side compares with
# the host's counters, then waits to be stopped: the host's counters vanish
# with the VM, so L1 reads them first and then kills the VMM.
dbg=/sys/kernel/debug/pvchan-guest
count=${PVCHAN_ECHO_COUNT:-10000}

insmod /pvchan_guest.ko || echo "G insmod_failed 1"
# Unload and load again: a second HELLO must reset the channel cleanly.
rmmod pvchan_guest || echo "G rmmod_failed 1"
insmod /pvchan_guest.ko || echo "G insmod_failed 2"
cat $dbg/state
echo "G state $(sed -n 's/^state //p' $dbg/state)"
echo "G cpus $(grep -c ^processor /proc/cpuinfo)"

# Follow requests across the boundary: trace 64 of them here; L1 traces the
# same ids on the host side.
t=/sys/kernel/debug/tracing
echo 1 > $t/events/pvchan_guest/pvchan_guest_req_submit/enable
echo 64 > $dbg/echo0/run
echo 0 > $t/events/pvchan_guest/pvchan_guest_req_submit/enable
sed -n 's/.*pvchan_guest_req_submit: \(dev[0-9]* q[0-9]* req=[0-9]*\).*/G trace \1/p' $t/trace

if echo "$count" > $dbg/echo0/run; then
	echo "G run_rc 0"
else
	echo "G run_rc 1"
fi
cat $dbg/echo0/result
sed 's/^/G result_/' $dbg/echo0/result
# Move queue 0's interrupt to the last CPU: the guest must re-announce the
# route and the host must follow it.
irq=$(sed -n 's/^irq //p' $dbg/echo0/q0/stats)
last=$(($(grep -c ^processor /proc/cpuinfo) - 1))
before=$(awk -v irq="$irq:" -v c=$((last + 2)) '$1 == irq { print $c }' /proc/interrupts)
routes=$(sed -n 's/^route_updates //p' $dbg/echo0/q0/stats)
echo $last > /proc/irq/$irq/smp_affinity_list
if echo 200 > $dbg/echo0/run; then echo "G moved_run_rc 0"; else echo "G moved_run_rc 1"; fi
after=$(awk -v irq="$irq:" -v c=$((last + 2)) '$1 == irq { print $c }' /proc/interrupts)
echo "G moved_irqs $((after - before))"
echo "G moved_routes $(($(sed -n 's/^route_updates //p' $dbg/echo0/q0/stats) - routes))"
for d in $dbg/echo0/q*; do
	q=${d##*/}
	sed "s/^/G $q /" "$d/stats"
done
sed 's/^/G hc_/' $dbg/hypercalls
grep pvchan /proc/interrupts
grep pvchan /proc/interrupts | awk '{ for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) print "G irqcpu" i - 2, $i }'
dmesg | grep -E 'WARNING|BUG|Call Trace' && echo "G guest_splat 1"
echo "=== ECHO DONE"
sleep 600
