#!/bin/bash
# pvchanctl against the real host module; runs in L1 (harness/run-l1.sh).
# The VMM is a real QEMU with KVM, kept paused: binding needs only its VM.
# Checks each user error gets its clear message and exit code, and that
# attach / status / rmmod while bound / SIGTERM / SIGKILL / re-attach /
# VMM exit behave.  Prints TAP.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
H=$REPO/harness
# shellcheck source=tests/e2e/lib.sh
. "$REPO/tests/e2e/lib.sh"
CTL=$REPO/tools/pvchanctl/pvchanctl
dbg=/sys/kernel/debug/pvchan
work=$(mktemp -d)
n=0 fail=0

# expect DESC RC PATTERN CMD...: exit code RC and PATTERN in its output.
expect() {
	local d=$1 want=$2 pat=$3 rc
	shift 3
	"$@" >"$work/out" 2>&1
	rc=$?
	sed 's/^/#   /' "$work/out"
	check "$d (exit $want, says '$pat')" \
		bash -c "[ $rc = $want ] && grep -q -- '$pat' '$work/out'"
}

modprobe kvm_amd
dmesg -C
printf 'sleep 600\n' >"$work/test.sh"
"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 "$work/test.sh:/test.sh" 2>/dev/null
qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
	--paused "$work/mon" --timeout 600)

expect "unknown option" 2 "bad option" "$CTL" attach --bogus
expect "non-numeric pid" 2 "invalid PID" "$CTL" attach --pid abc
expect "queue count out of range" 2 "bad queue count" "$CTL" attach --pid "$qpid" --echo=65
expect "no such process" 1 "no such process" "$CTL" attach --pid 999999
printf 'qemu\n' >"$work/bad.pid"
expect "missing pid file" 2 "cannot open PID file" "$CTL" attach --pid-file "$work/none.pid"
expect "pid file without a PID" 2 "does not hold a PID" "$CTL" attach --pid-file "$work/bad.pid"
expect "both --pid and --pid-file" 2 "more than once" \
	"$CTL" attach --pid "$qpid" --pid-file "$work/bad.pid"
expect "process without a VM" 1 "no KVM VM" "$CTL" attach --pid $$
expect "module not loaded" 1 "is the pvchan_host module loaded" \
	"$CTL" attach --pid "$qpid" --echo
expect "status without the module" 1 "not found" "$CTL" status

# A module parameter out of range: refused, and the kernel log says why.
expect "insmod with poll_max_us out of range" 1 "poll_max_us: a number of microseconds" \
	bash -c "insmod '$REPO/host/pvchan_host.ko' poll_max_us=20000; rc=\$?; dmesg | tail -n 3; exit \$rc"
check "insmod pvchan_host" insmod "$REPO/host/pvchan_host.ko"
pm=/sys/module/pvchan_host/parameters/poll_max_us
check "poll_max_us at run time: default 50, 0 taken, 20000 refused" \
	bash -c "[ \$(cat $pm) = 50 ] && echo 0 >$pm && [ \$(cat $pm) = 0 ] &&
		! echo 20000 2>/dev/null >$pm && [ \$(cat $pm) = 0 ] && echo 50 >$pm"
expect "unprivileged user" 1 "permission denied" \
	setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" attach --pid "$qpid"
expect "status with nothing bound" 0 "no VMs bound" "$CTL" status

"$CTL" attach --pid "$qpid" --echo=2 >"$work/a1.log" 2>&1 &
a1=$!
check "attach binds the VM" wait_for "$work/a1.log" '^pvchanctl: attached' 30
expect "status lists the VM, device and queue counters" 0 "dev0/q1/stats" "$CTL" status
expect "second attach to the same VM" 1 "already bound" "$CTL" attach --pid "$qpid"
expect "rmmod pvchan_host with a VM bound is refused" 1 "in use" rmmod pvchan_host
check "the VM stays bound after the refused rmmod" bash -c "ls -d $dbg/vm* >/dev/null 2>&1"

kill -TERM "$a1"
wait "$a1"
check "SIGTERM: pvchanctl exits 0" [ $? = 0 ]
check "SIGTERM: says it unbinds" grep -q 'signal, unbinding' "$work/a1.log"
check "SIGTERM: VM unbound" bash -c "! ls -d $dbg/vm* 2>/dev/null"
check "VMM still running after unbind" kill -0 "$qpid"

# A backend killed outright: closing its /dev/pvchan file unbinds.
printf '%s\n' "$qpid" >"$work/qemu.pid"
"$CTL" attach --pid-file "$work/qemu.pid" --echo >"$work/a3.log" 2>&1 &
a3=$!
check "re-attach after unbind (--pid-file)" wait_for "$work/a3.log" '^pvchanctl: attached' 30
kill -KILL "$a3"
wait "$a3"
for _ in $(seq 30); do ls -d $dbg/vm* >/dev/null 2>&1 || break; sleep 1; done
check "SIGKILL: VM unbound, module use count 0" \
	bash -c "! ls -d $dbg/vm* 2>/dev/null && [ \$(cat /sys/module/pvchan_host/refcnt) = 0 ]"

"$CTL" attach --pid "$qpid" --echo >"$work/a2.log" 2>&1 &
a2=$!
check "attach again after SIGKILL" wait_for "$work/a2.log" '^pvchanctl: attached' 30
kill "$qpid"
wait "$a2"
check "VMM exit: pvchanctl exits 0" [ $? = 0 ]
check "VMM exit: says so" grep -q 'exited, unbinding' "$work/a2.log"
for _ in $(seq 30); do ls -d $dbg/vm* >/dev/null 2>&1 || break; sleep 1; done
check "VMM exit: VM unbound" bash -c "! ls -d $dbg/vm* 2>/dev/null"
check "rmmod pvchan_host" rmmod pvchan_host
check "no host kernel warnings" \
	bash -c "! dmesg | grep -E 'WARNING:|BUG:|Call Trace|general protection'"
echo "1..$n"
exit $fail
