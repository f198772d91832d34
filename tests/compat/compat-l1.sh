#!/bin/bash
# ABI compatibility matrix; runs in L1 (harness/run-l1.sh).  This tree's
# host module serves one L2 with an echo device, a 64 MiB disk (a file),
# a network device on tap pvtap0 (L1 192.0.2.1, L2 192.0.2.2; nothing
# routed) and a clock.  L2 loads the guest module of every ABI release in
# turn (tests/compat/releases, built by build-guests.sh into
# $PVCHAN_COMPAT_DIR; the current guest last) and each must negotiate and
# use what it knows: echo from 1.0, the disk from 1.1, the network from
# 1.3, the clock from 1.4; a device it does not know is left alone.  The
# data every release wrote must be on the disk file afterwards, byte for
# byte, and the host must have refused nothing.  Prints TAP.
# Env: PVCHAN_COMPAT_DIR (pvchan_guest-1.N.ko of the earlier releases;
# unset: this tree's guest alone, every device type in one L2, as the
# 6.12 tier runs it: the earlier guests predate 6.12).
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
tracefs=/sys/kernel/tracing
TAPDEV=pvtap0
n=0 fail=0

# The rows: the earlier releases, then this tree's guest.
minor=$(sed -n 's/^#define PVCHAN_ABI_MINOR[[:space:]]*//p' "$REPO/abi/pvchan_abi.h")
current=1.$minor
files=("$REPO/tests/compat/compat-l2.sh:/test.sh"
	"$REPO/tests/clock/clock_test:/clock_test"
	"$REPO/guest/pvchan_guest.ko:/g/pvchan_guest-$current.ko")
rows=()
while [[ -n ${PVCHAN_COMPAT_DIR:-} ]] && read -r abi _; do
	[[ -z $abi || $abi == \#* ]] && continue
	rows+=("$abi")
	files+=("$PVCHAN_COMPAT_DIR/pvchan_guest-$abi.ko:/g/pvchan_guest-$abi.ko")
done <"$REPO/tests/compat/releases"
rows+=("$current")
printf '%s\n' "${rows[@]}" >"$work/list"
files+=("$work/list:/g/list")
# knows ABI FEATURE: does the guest of release ABI know FEATURE's device?
knows() {
	local since
	case $2 in blk) since=1 ;; net) since=3 ;; clock) since=4 ;; esac
	((${1#1.} >= since))
}

modprobe kvm_amd
modprobe tun
dmesg -C
check "insmod pvchan_host (ABI $current)" insmod "$REPO/host/pvchan_host.ko"
check "L2 image holds the guest of every release (${rows[*]})" \
	"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 "${files[@]}"
truncate -s 64M "$work/disk.img"

mountpoint -q $tracefs || mount -t tracefs tracefs $tracefs
echo >$tracefs/trace
echo 1 >$tracefs/events/pvchan_host/pvchan_hello/enable

start_l2() {
	qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
		--smp 2 --mem 512M --append "quiet tsc=reliable" --share-root \
		--paused "$work/mon" --timeout 1500)
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" --echo=1 \
		--blk "$work/disk.img" --net "$TAPDEV,queues=1" --clock \
		>"$work/ctl.log" 2>&1 &
	ctl=$!
	wait_for "$work/ctl.log" '^pvchanctl: attached' 30 || return 1
	vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$work/ctl.log" | head -n1)
	vm=${vm:-0}
	echo 1 >/proc/sys/net/ipv6/conf/$TAPDEV/disable_ipv6
	ip addr replace 192.0.2.1/24 dev $TAPDEV && ip link set $TAPDEV up
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
l2_start start_l2
check "pvchanctl attaches echo, disk, network and clock" [ "$attached" = 1 ]
sed 's/^/# /' "$work/ctl.log"

l2_wait "$work/l2.log" '^=== COMPAT DONE' 1200
check "L2 ran its whole script" l2_gone "$work/l2.log" '^=== COMPAT DONE'
sed 's/^/# L2: /' "$work/l2.log" | tr -d '\r'
sed 's/^/# host: /' $dbg/vm"$vm"/info $dbg/vm"$vm"/hypercalls $dbg/vm"$vm"/rejects
echo 0 >$tracefs/events/pvchan_host/pvchan_hello/enable
grep pvchan_hello $tracefs/trace | sed 's/^ */# trace: /'

gv() { g "$1 $2"; }	# gv ABI KEY
row=0
for abi in "${rows[@]}"; do
	echo "# guest $abi"
	check "guest $abi loads and negotiates ABI $abi with host $current" \
		[ "$(gv "$abi" insmod) $(gv "$abi" state)" = "0 connected" ]
	check "host saw guest $abi's HELLO and accepted it" \
		grep -q "pvchan_hello: vm$vm guest_abi=$abi .* ret=0" $tracefs/trace
	check "guest $abi: 200 echo round trips, none bad" \
		bash -c "[[ '$(gv "$abi" echo)' == *'ok 200 bad 0 '* ]]"
	if knows "$abi" blk; then
		check "guest $abi: 4 MiB written to the disk read back the same" \
			[ "$(gv "$abi" blk_write_rc)" = 0 -a -n "$(gv "$abi" blk_written)" \
			-a "$(gv "$abi" blk_written)" = "$(gv "$abi" blk_read)" ]
		check "guest $abi reads what the earlier releases wrote ($(gv "$abi" blk_earlier))" \
			bash -c "x='$(gv "$abi" blk_earlier)'; [[ -n \$x && \${x%/*} == \${x#*/} ]]"
		got=$(dd if="$work/disk.img" bs=1M skip=$((row * 4)) count=4 status=none |
			sha256sum | cut -d' ' -f1)
		check "guest $abi's data is in the host's disk file" \
			[ "$got" = "$(gv "$abi" blk_written)" ]
	else
		check "guest $abi leaves the disk alone (a device it does not know)" \
			[ -z "$(gv "$abi" blk_written)" ]
	fi
	if knows "$abi" net; then
		check "guest $abi: 3 pings to L1 over the network device, 3 answered" \
			[ "$(gv "$abi" ping)" = 3 ]
	else
		check "guest $abi has no network device (one it does not know)" \
			[ -z "$(gv "$abi" ping)" ]
	fi
	if knows "$abi" clock; then
		check "guest $abi: pvchan-tsc clocksource runs, never backwards ($(gv "$abi" mono))" \
			bash -c "[[ '$(gv "$abi" clocksource)' == pvchan-tsc && '$(gv "$abi" mono)' == *' backwards 0 '* ]]"
		check "guest $abi: PTP clock reads host time ($(gv "$abi" ptp))" \
			bash -c "[[ '$(gv "$abi" ptp)' == offset_ns* ]]"
	fi
	check "guest $abi unloads" [ "$(gv "$abi" rmmod)" = 0 ]
	row=$((row + 1))
done
check "last HELLO: host reports guest ABI $current" \
	grep -qx "guest_abi $current" $dbg/vm"$vm"/info
check "host refused nothing from any release" \
	[ "$(awk '{ s += $2 } END { print s + 0 }' $dbg/vm"$vm"/rejects)" = 0 ]
check "no guest kernel warnings" [ -z "$(g "all guest_splat")" ]

vm_teardown
host_unload compat
cp "$work/l2.log" "$out/compat-l2-console.log" 2>/dev/null
echo "1..$n"
exit $fail
