#!/bin/bash
# The guest module without a pvchan host; runs in L1 (harness/run-l1.sh).
# Twice: with pvchan_host loaded but the VM not bound, and with no host
# module at all.  The guest must load, report "idle" once, and unload; the
# guest kernel's own KVM hypercalls keep working (it boots with 2 vCPUs).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
H=$REPO/harness
# shellcheck source=tests/e2e/lib.sh
. "$REPO/tests/e2e/lib.sh"
# shellcheck source=harness/l2-lib.sh
. "$H/l2-lib.sh"
work=$(mktemp -d)
n=0 fail=0


boot_l2() {	# boot_l2 LABEL
	local qpid try
	for try in 1 2; do
		qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
			--smp 2 --append quiet --timeout 600) || return 1
		l2_booted "$work/l2.log" && break
		l2_kill "$work/l2.log" "$qpid"
		((try == 1)) && echo "# retrying the L2 boot once"
	done
	l2_wait "$work/l2.log" '^=== L2 done' 600
	sed "s/^/# L2 ($1): /" "$work/l2.log"
	kill "$qpid" 2>/dev/null
	check "$1: guest module loads" [ "$(g insmod)" = 0 ]
	check "$1: guest stays idle" [ "$(g state)" = idle ]
	check "$1: says so once" [ "$(g idle_msg)" = 1 ]
	check "$1: probed with one HELLO" [ "$(g hello_calls)" = 1 ]
	check "$1: guest module unloads" [ "$(g rmmod)" = 0 ]
	check "$1: no guest kernel warnings" [ -z "$(g guest_splat)" ]
}

modprobe kvm_amd
dmesg -C
"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" \
	"$REPO/tests/e2e/noguest-l2.sh:/test.sh" 2>/dev/null
check "insmod pvchan_host" insmod "$REPO/host/pvchan_host.ko"
boot_l2 "host module loaded, VM not bound"
check "rmmod pvchan_host" rmmod pvchan_host
boot_l2 "no host module"
check "no host kernel warnings" \
	bash -c "! dmesg | grep -E 'WARNING:|BUG:|Call Trace|general protection'"
echo "1..$n"
exit $fail
