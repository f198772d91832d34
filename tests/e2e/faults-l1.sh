#!/bin/bash
# Host faults end to end; runs in L1 (harness/run-l1.sh).  One disk (a
# loop device over an image file: the asynchronous direct I/O backend) for
# a 2-vCPU L2, which runs fio --verify under each fault the host
# can inject (debugfs knobs of the device), one after the other: a backend
# I/O error and a garbled descriptor must reach fio as EIO; duplicated
# completions, lost interrupts, lost kicks, lost completions and a slow
# backend must be recovered from (timeout, queue reset, resubmission) with
# every byte verified; a stalled queue must fail its I/O with EIO in
# bounded time, and the disk must work again afterwards.  Then the guest's
# own knobs (debugfs of pvchan_guest): an I/O error and a garbled
# descriptor reach fio as EIO, lost interrupts and kicks are recovered
# from.  Then backend restarts: pvchanctl killed (SIGKILL) in the middle of
# the writes and started again; fio --verify, and a dd whose sha256 L1
# checks on the loop device, must see every write; one more kill without a
# restart within the guest's reconnect_timeout must end in EIO, and the
# disk must come back when pvchanctl does.  Prints TAP.
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
check "insmod pvchan_host" insmod "$REPO/host/pvchan_host.ko"
# A loop device over an image file: the backend's asynchronous direct I/O
# path, so a killed backend leaves requests in flight on the host.
modprobe loop
truncate -s 64M "$work/d0.img"
loopdev=$(losetup --find --show "$work/d0.img")
"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" \
	"$REPO/tests/e2e/faults-l2.sh:/test.sh" 2>/dev/null
# attach: pvchanctl attach to the VMM ($qpid), in the background ($ctl);
# the VM's debugfs number in $vm, its disk's directory in $hdev.
nattach=0
attach() {
	local log=$work/ctl$((++nattach)).log
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" \
		--blk "$loopdev,serial=PVFAULT0,queues=2" >"$log" 2>&1 &
	ctl=$!
	wait_for "$log" '^pvchanctl: attached' 30 || return 1
	vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$log" | head -n1)
	vm=${vm:-0}
	hdev=$dbg/vm$vm/dev0
}
start_l2() {
	qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
		--smp 2 --mem 512M --append quiet --share-root --paused "$work/mon" \
		--timeout 1500)
	attach || return 1
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
l2_start start_l2
check "pvchanctl attaches a disk" [ "$attached" = 1 ]
(while sleep 10; do cp "$work/l2.log" "$out/faults-l2-console.log" 2>/dev/null; done) &
copier=$!

hlive() { cat "$hdev"/q*/stats 2>/dev/null | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }
# kill_mid_write N: once the host has taken N more requests of the phase's
# writes, SIGKILL pvchanctl (the VM is unbound, the guest's requests in
# flight stay on its rings); the requests the host held then in $held.
kill_mid_write() {
	local base deadline=$((SECONDS + 180))
	base=$(hlive sq_cons)
	until (($(hlive sq_cons) >= base + $1)) || ((SECONDS >= deadline)); do
		sleep 0.2
	done
	held=$(hlive inflight)
	kill -KILL "$ctl"
	wait "$ctl"
	kills=$((kills + 1))
}
kills=0 reattached=0
knobs="fault_io_errors fault_dup_completions fault_corrupt_descriptors fault_drop_irqs fault_drop_kicks fault_drop_completions fault_delay_us"
# Each phase: every knob off, then this phase's, then the announcement.
declare -A arm=(
	[io_errors]="fault_io_errors 1" [dup_completions]="fault_dup_completions 4"
	[corrupt_descriptors]="fault_corrupt_descriptors 1"
	[drop_irqs]="fault_drop_irqs 4" [drop_kicks]="fault_drop_kicks 2"
	[drop_completions]="fault_drop_completions 2" [delay]="fault_delay_us 2000"
	[stall]="fault_drop_completions 1000000"
)
phases="none io_errors dup_completions corrupt_descriptors drop_irqs drop_kicks drop_completions g_io_errors g_corrupt g_drop_irqs g_drop_kicks delay stall restart restart_dd restart_gone none_after"
for k in $phases; do
	l2_wait "$work/l2.log" "^G arm $k" 600 || break
	for f in $knobs; do echo 0 >"$hdev/$f"; done
	[ -n "${arm[$k]:-}" ] && echo "${arm[$k]#* }" >"$hdev/${arm[$k]%% *}"
	# The fault counters of this VM binding, before restarts make new ones.
	[ "$k" = restart ] && cat "$hdev"/q*/stats >"$work/hstats"
	"$REPO/tools/pvchanctl/pvchanctl" resize --pid "$qpid" --dev 0 >/dev/null
	case $k in
	restart | restart_dd)
		kill_mid_write "$([ "$k" = restart ] && echo 64 || echo 32)"
		echo "# $k: pvchanctl killed with $held requests held by the host"
		sleep 2
		attach && reattached=$((reattached + 1))
		;;
	restart_gone)
		# Not back before the guest gives up (reconnect_timeout=20).
		kill_mid_write 64
		l2_wait "$work/l2.log" '^G fio_restart_gone' 300
		attach && reattached=$((reattached + 1))
		;;
	esac
done
l2_wait "$work/l2.log" '^=== FAULTS DONE' 600
for f in $knobs; do echo 0 >"$hdev/$f"; done
sed 's/^/# L2: /' "$work/l2.log"
check "L2 ran its whole script" l2_gone "$work/l2.log" '^=== FAULTS DONE'
hsum() { awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }' "$work/hstats"; }
gq() { sed -n "s/^G q $1 //p" "$work/l2.log" | tr -d '\r' | awk '{ s += $1 } END { print s + 0 }'; }
fres() { g "fio_$1"; }	# RC SECONDS EIO-LINES
ok_fio() { [[ $(fres "$1") =~ ^0\  ]]; }
eio_fio() { [[ $(fres "$1") =~ ^[1-9][0-9]*\ [0-9]+\ [1-9] ]]; }
c_io() { eio_fio io_errors && [ "$(hsum fault_io_errors)" = 1 ]; }
# A duplicate posted last on a queue that then stays idle waits there
# for that queue's next request: at least one seen, none invented.
c_dup() {
	ok_fio dup_completions && (($(gq bad_completions) >= 1)) &&
		(($(gq bad_completions) <= $(hsum fault_dups)))
}
c_corrupt() { eio_fio corrupt_descriptors && [ "$(hsum fault_corrupted)" = 1 ]; }
c_irq() { ok_fio drop_irqs && [ "$(hsum fault_irqs_dropped)" = 4 ]; }
c_kick() { ok_fio drop_kicks && [ "$(hsum fault_kicks_dropped)" = 2 ]; }
check "no fault: fio --verify passes ($(fres none))" ok_fio none
check "backend I/O error ($(hsum fault_io_errors) injected): fio sees EIO ($(fres io_errors))" c_io
check "duplicated completions ($(hsum fault_dups) posted): ignored and counted by the guest ($(gq bad_completions)), fio --verify passes ($(fres dup_completions))" c_dup
check "garbled descriptor ($(hsum fault_corrupted) injected): fio sees EIO ($(fres corrupt_descriptors))" c_corrupt
check "lost interrupts ($(hsum fault_irqs_dropped) dropped, $(gq lost_irqs) found at timeout): fio --verify passes ($(fres drop_irqs))" c_irq
check "lost kicks ($(hsum fault_kicks_dropped) dropped): recovered, fio --verify passes ($(fres drop_kicks))" c_kick
check "lost completions ($(hsum fault_dropped) in all, with the stall): recovered by timeouts, fio --verify passes ($(fres drop_completions))" ok_fio drop_completions
c_gio() { eio_fio g_io_errors && [ "$(gq fault_io_errors)" = 1 ]; }
c_gcorrupt() { eio_fio g_corrupt && [ "$(gq fault_corrupted)" = 1 ]; }
c_girq() { ok_fio g_drop_irqs && [ "$(gq fault_irqs_dropped)" = 4 ]; }
c_gkick() { ok_fio g_drop_kicks && [ "$(gq fault_kicks_dropped)" = 2 ]; }
check "guest knob, I/O error ($(gq fault_io_errors) injected): fio sees EIO ($(fres g_io_errors))" c_gio
check "guest knob, garbled descriptor ($(gq fault_corrupted) injected): the host refuses it, fio sees EIO ($(fres g_corrupt))" c_gcorrupt
check "guest knob, lost interrupts ($(gq fault_irqs_dropped) ignored): fio --verify passes ($(fres g_drop_irqs))" c_girq
check "guest knob, lost kicks ($(gq fault_kicks_dropped) left out): recovered, fio --verify passes ($(fres g_drop_kicks))" c_gkick
check "slow backend (2 ms a request): fio --verify passes ($(fres delay))" ok_fio delay
check "stalled queue: fio fails with EIO in bounded time ($(fres stall))" eio_fio stall
check "the disk works again afterwards: fio --verify passes ($(fres none_after))" ok_fio none_after
check "the guest timed out and recovered ($(gq timeouts) timeouts)" \
	test "$(gq timeouts)" -ge 3
# Backend restarts.
gr() { sed -n "s/^G r $1 //p" "$work/l2.log" | tr -d '\r' | awk '{ s += $1 } END { print s + 0 }'; }
read -r losses reconnects outage <<<"$(g link)"
ddoff=$(g dd_offset_mb)
img_sha=$(dd if="$loopdev" iflag=direct bs=1M skip="${ddoff:-0}" count=8 status=none | sha256sum | cut -d' ' -f1)
check "pvchanctl killed mid-write and started again ($kills kills, $reattached re-attached)" \
	[ "$kills" = 3 -a "$reattached" = 3 ]
check "SIGKILL mid-write, restart after 2 s: fio --verify passes ($(fres restart))" ok_fio restart
check "the guest resubmitted what was in flight ($(gr requeued) requests) and counted $(g link | cut -d' ' -f1) losses, ${reconnects:-?} reconnects (last outage ${outage:-?} ms)" \
	bash -c "(( $(gr requeued) >= 1 )) && [ '$losses' = 2 -a '$reconnects' = 2 ]"
check "same features after reconnecting ($(g features_before) -> $(g features_after))" \
	[ -n "$(g features_before)" -a "$(g features_before)" = "$(g features_after)" ]
check "8 MiB written across a restart (dd exit $(g dd_rc)): L2's sha256 = L2's read-back = the backing device's in L1" \
	[ "$(g dd_rc)" = 0 -a -n "$(g sha_written)" -a "$(g sha_written)" = "$(g sha_read)" -a "$(g sha_written)" = "$img_sha" ]
check "backend gone past reconnect_timeout (20 s): fio fails with EIO ($(fres restart_gone))" eio_fio restart_gone
check "backend back later: the disk is probed again ($(g reprobed))" \
	bash -c "[[ '$(g reprobed)' =~ ^connected\ [1-9][0-9]*\ pvda ]]"
check "no guest kernel warnings" [ -z "$(g guest_splat)" ]
vm_teardown
host_unload faults
losetup -d "$loopdev"
kill "$copier"
cp "$work/l2.log" "$out/faults-l2-console.log" 2>/dev/null
echo "1..$n"
exit $fail
