#!/bin/bash
# End-to-end echo test; runs in L1 (see harness/run-l1.sh).  L2 runs the
# guest module against pvchan_host in L1, bound by pvchanctl, and pushes
# requests through every queue with interrupts on every vCPU.  Asserts the
# round trips, that guest and host counters agree, and a clean teardown when
# the VMM dies.  Prints TAP.
# Env: PVCHAN_ECHO_COUNT (round trips), L2_SMP, PVCHAN_HOST_KO (the host
# module to insmod, default host/pvchan_host.ko), PVCHAN_KDIR (L1 runs that
# test kernel, run-l1.sh --kernel: kvm_amd comes from its modules),
# PVCHAN_L2_APPEND (more words for L2's kernel command line).
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
L2_SMP=${L2_SMP:-2}
COUNT=${PVCHAN_ECHO_COUNT:-10000}
HOST_KO=${PVCHAN_HOST_KO:-$REPO/host/pvchan_host.ko}
n=0 fail=0

gsum() { sed -n "s/^G q[0-9]* $1 //p" "$work/l2.log" | tr -d '\r' | awk '{ s += $1 } END { print s + 0 }'; }
hsum() { cat $dbg/vm"$vm"/dev0/q*/stats | sed -n "s/^$1 //p" | awk '{ s += $1 } END { print s + 0 }'; }
hc() { sed -n "s/^$1 //p" $dbg/vm"$vm"/hypercalls; }

modprobe ${PVCHAN_KDIR:+-d "$PVCHAN_KDIR/modules"} kvm_amd
dmesg -C
check "insmod pvchan_host" insmod "$HOST_KO"

"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" \
	"$REPO/tests/e2e/echo-l2.sh:/test.sh" 2>/dev/null
# Host side of the request-id trace (keep the first events if it fills).
tracefs=/sys/kernel/tracing
mountpoint -q $tracefs || mount -t tracefs tracefs $tracefs
echo 0 >$tracefs/options/overwrite
echo 8192 >$tracefs/buffer_size_kb

# Start L2 paused, bind it, trace, resume.
start_l2() {
	echo 0 >$tracefs/events/pvchan_host/pvchan_req_submit/enable
	qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
		--smp "$L2_SMP" --append "quiet PVCHAN_ECHO_COUNT=$COUNT${PVCHAN_L2_APPEND:+ $PVCHAN_L2_APPEND}" \
		--paused "$work/mon" --timeout 900)
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" --echo="$L2_SMP" \
		>"$work/ctl.log" 2>&1 &
	ctl=$!
	wait_for "$work/ctl.log" '^pvchanctl: attached' 30 || return 1
	echo >$tracefs/trace
	echo 1 >$tracefs/events/pvchan_host/pvchan_req_submit/enable
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
l2_start start_l2
if ((attached)); then
	tap OK "pvchanctl attach binds the VMM (pid $qpid)"
else
	tap FAIL "pvchanctl attach binds the VMM (pid $qpid)"
	cat "$work/ctl.log"
fi
vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$work/ctl.log" | head -n1)
vm=${vm:-0}

l2_wait "$work/l2.log" '^=== ECHO DONE' 900
sed 's/^/# L2: /' "$work/l2.log"
sed 's/^/# host: /' $dbg/vm"$vm"/info $dbg/vm"$vm"/hypercalls $dbg/vm"$vm"/rejects
for f in $dbg/vm"$vm"/dev0/q*/stats; do sed "s|^|# host ${f#$dbg/}: |" "$f"; done

echo 0 >$tracefs/events/pvchan_host/pvchan_req_submit/enable
sed -n 's/^G trace //p' "$work/l2.log" | tr -d '\r' | sort -u >"$work/gtrace"
sed -n "s/.*pvchan_req_submit: vm$vm \(dev[0-9]* q[0-9]* req=[0-9]*\).*/\1/p" $tracefs/trace |
	sort -u >"$work/htrace"
check "request ids traced in the guest ($(wc -l <"$work/gtrace")) all appear in the host trace, same device and queue" \
	bash -c "[ \$(wc -l <'$work/gtrace') -ge 64 ] && [ -z \"\$(comm -23 '$work/gtrace' '$work/htrace')\" ]"
check "guest negotiated with the host" [ "$(g state)" = connected ]
check "guest module unload/reload is clean" \
	[ -z "$(g insmod_failed)$(g rmmod_failed)" ]
check "$COUNT echo round trips verified (data + CRC32)" \
	[ "$(g run_rc)" = 0 -a "$(g result_ok)" = "$COUNT" -a "$(g result_bad)" = 0 ]
check "no request timed out" [ "$(g result_timeouts)" = 0 ]
check "guest submitted == host requests ($(gsum submitted))" \
	[ "$(gsum submitted)" = "$(hsum requests)" ]
check "guest completed == host completions ($(gsum completed))" \
	[ "$(gsum completed)" = "$(hsum completions)" ]
check "guest kicks == host kicks ($(gsum kicks)) == host kick hypercalls" \
	[ "$(gsum kicks)" = "$(hsum kicks)" -a "$(hsum kicks)" = "$(hc kick)" ]
check "kicks suppressed: fewer kicks ($(gsum kicks)) than requests" \
	[ "$(gsum kicks)" -lt "$COUNT" ]
check "guest interrupts ($(gsum irqs)) > 0 and <= host injections ($(hsum irqs))" \
	[ "$(gsum irqs)" -gt 0 -a "$(gsum irqs)" -le "$(hsum irqs)" ]
ok=1
for ((c = 0; c < L2_SMP; c++)); do
	total=$(sed -n "s/^G irqcpu$c //p" "$work/l2.log" | tr -d '\r' | awk '{ s += $1 } END { print s + 0 }')
	[[ $total -gt 0 ]] || ok=0
done
check "queue interrupts delivered on every vCPU ($L2_SMP)" [ $ok = 1 ]
check "queue 0 interrupt moved to the last vCPU: route re-announced ($(g moved_routes)), interrupts follow ($(g moved_irqs))" \
	[ "$(g moved_run_rc)" = 0 -a "$(g moved_routes)" -ge 1 -a "$(g moved_irqs)" -gt 0 ]
check "host rejected nothing from a well-behaved guest" \
	[ "$(awk '{ s += $2 } END { print s + 0 }' $dbg/vm"$vm"/rejects)" = 0 ]
check "no guest kernel warnings" [ -z "$(g guest_splat)" ]

# Teardown: the VMM dies; pvchanctl must notice, the host must unbind.
kill "$qpid"
wait_for "$work/ctl.log" 'exited, unbinding' 30
wait "$ctl"
check "pvchanctl exits 0 when the VMM exits" [ $? = 0 ]
for _ in $(seq 30); do [[ -e $dbg/vm$vm ]] || break; sleep 1; done
check "VM unbound, debugfs entries gone" [ ! -e $dbg/vm"$vm" ]
check "module use count back to 0" \
	[ "$(cat /sys/module/pvchan_host/refcnt)" = 0 ]
host_unload echo
cp "$work/l2.log" "$out/echo-l2-console.log" 2>/dev/null
echo "1..$n"
exit $fail
