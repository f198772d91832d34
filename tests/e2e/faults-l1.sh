#!/bin/bash
# Host faults end to end; runs in L1 (harness/run-l1.sh).  One image-file
# disk for a 2-vCPU L2, which runs fio --verify under each fault the host
# can inject (debugfs knobs of the device), one after the other: a backend
# I/O error and a garbled descriptor must reach fio as EIO; duplicated
# completions, lost interrupts, lost kicks, lost completions and a slow
# backend must be recovered from (timeout, queue reset, resubmission) with
# every byte verified; a stalled queue must fail its I/O with EIO in
# bounded time, and the disk must work again afterwards.  Then the guest's
# own knobs (debugfs of pvchan_guest): an I/O error and a garbled
# descriptor reach fio as EIO, lost interrupts and kicks are recovered
# from.  Prints TAP.
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
truncate -s 64M "$work/d0.img"
"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" \
	"$REPO/tests/e2e/faults-l2.sh:/test.sh" 2>/dev/null
start_l2() {
	qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
		--smp 2 --mem 512M --append quiet --share-root --paused "$work/mon" \
		--timeout 1500)
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" \
		--blk "$work/d0.img,serial=PVFAULT0,queues=2" >"$work/ctl.log" 2>&1 &
	ctl=$!
	wait_for "$work/ctl.log" '^pvchanctl: attached' 30 || return 1
	vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$work/ctl.log" | head -n1)
	vm=${vm:-0}
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
l2_start start_l2
check "pvchanctl attaches a disk" [ "$attached" = 1 ]
(while sleep 10; do cp "$work/l2.log" "$out/faults-l2-console.log" 2>/dev/null; done) &
copier=$!

hdev=$dbg/vm${vm:-0}/dev0
knobs="fault_io_errors fault_dup_completions fault_corrupt_descriptors fault_drop_irqs fault_drop_kicks fault_drop_completions fault_delay_us"
# Each phase: every knob off, then this phase's, then the announcement.
declare -A arm=(
	[io_errors]="fault_io_errors 1" [dup_completions]="fault_dup_completions 4"
	[corrupt_descriptors]="fault_corrupt_descriptors 1"
	[drop_irqs]="fault_drop_irqs 4" [drop_kicks]="fault_drop_kicks 2"
	[drop_completions]="fault_drop_completions 2" [delay]="fault_delay_us 2000"
	[stall]="fault_drop_completions 1000000"
)
phases="none io_errors dup_completions corrupt_descriptors drop_irqs drop_kicks drop_completions g_io_errors g_corrupt g_drop_irqs g_drop_kicks delay stall none_after"
for k in $phases; do
	l2_wait "$work/l2.log" "^G arm $k" 600 || break
	for f in $knobs; do echo 0 >"$hdev/$f"; done
	[ -n "${arm[$k]:-}" ] && echo "${arm[$k]#* }" >"$hdev/${arm[$k]%% *}"
	"$REPO/tools/pvchanctl/pvchanctl" resize --pid "$qpid" --dev 0 >/dev/null
done
l2_wait "$work/l2.log" '^=== FAULTS DONE' 600
for f in $knobs; do echo 0 >"$hdev/$f"; done
sed 's/^/# L2: /' "$work/l2.log"
check "L2 ran its whole script" l2_gone "$work/l2.log" '^=== FAULTS DONE'
hsum() { cat "$hdev"/q*/stats | awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }'; }
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
check "no guest kernel warnings" [ -z "$(g guest_splat)" ]
vm_teardown
host_unload faults
kill "$copier"
cp "$work/l2.log" "$out/faults-l2-console.log" 2>/dev/null
echo "1..$n"
exit $fail
