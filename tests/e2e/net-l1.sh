#!/bin/bash
# pvnet end to end; runs in L1 (harness/run-l1.sh).  pvchanctl gives L2 a
# network device with two queue pairs on tap pvtap0 (MTU 9000, a fixed
# MAC); L1 is 192.0.2.1 on the tap, L2 192.0.2.2 on pvnet0.  Nothing is
# routed out of L1.  L2 pings, moves 64 MiB each way with nc, runs iperf3
# TCP and UDP both ways on both queue pairs, and follows the host's link
# state; the counters of the guest, the host module and the tap must agree.
# Prints TAP.
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
TAPDEV=pvtap0
MAC=52:54:00:c0:00:02
TAPMAC=52:54:00:c0:00:01
BB=/bin/busybox
n=0 fail=0

modprobe kvm_amd
modprobe tun
dmesg -C
check "insmod pvchan_host" insmod "$REPO/host/pvchan_host.ko"

"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" \
	"$REPO/tests/e2e/net-l2.sh:/test.sh" 2>/dev/null
dd if=/dev/urandom of="$work/to_l2" bs=1M count=64 status=none
to_sha=$(sha256sum <"$work/to_l2" | cut -d' ' -f1)

# Start L2 paused, attach the network device, set up the tap, resume.
start_l2() {
	qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
		--smp 2 --mem 768M --append quiet --share-root --paused "$work/mon" \
		--timeout 1500)
	attach "$work/ctl.log" || return 1
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
# attach LOG: pvchanctl attach (pid in $ctl, VM in $vm), which creates the
# tap; then L1's side of the tap.
attach() {
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" \
		--net "$TAPDEV,mac=$MAC,mtu=9000,queues=2" >"$1" 2>&1 &
	ctl=$!
	wait_for "$1" '^pvchanctl: attached' 30 || return 1
	vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$1" | head -n1)
	vm=${vm:-0}
	# No ARP either: fixed addresses and permanent neighbour entries on
	# both sides (L2 adds its own), so every frame counted is a test's.
	echo 1 >/proc/sys/net/ipv6/conf/$TAPDEV/disable_ipv6
	ip link set $TAPDEV address $TAPMAC &&
		ip addr replace 192.0.2.1/24 dev $TAPDEV &&
		ip neigh replace 192.0.2.2 lladdr $MAC dev $TAPDEV nud permanent &&
		ip link set $TAPDEV mtu 9000 up
}
# Receivers of the L2 side's transfers.
# busybox nc ends at EOF on its stdin: let a program read the socket.
$BB nc -l -p 5001 -e /bin/sh -c "cat >$work/from_l2" &
ncpid=$!
iperf3 -s -B 192.0.2.1 -p 5201 -D --logfile "$work/iperf0.log" &&
	iperf3 -s -B 192.0.2.1 -p 5202 -D --logfile "$work/iperf1.log"
l2_start start_l2
check "pvchanctl attaches a network device on $TAPDEV (2 queue pairs)" [ $attached = 1 ]
# The L2 console and the host's queue counters, copied out every 10 s
# while it runs (for post-mortems).
(while sleep 10; do
	cp "$work/l2.log" "$out/net-l2-console.log" 2>/dev/null
	grep . $dbg/vm"$vm"/dev0/q*/stats $dbg/vm"$vm"/dev0/net >"$out/net-host-stats.log" 2>/dev/null
done) &
copier=$!
sed 's/^/# /' "$work/ctl.log"

# L1 -> L2 transfer when L2 listens.
send_rc=-
if l2_wait "$work/l2.log" '^G listening' 900; then
	timeout 300 bash -c "cat '$work/to_l2' >/dev/tcp/192.0.2.2/5002"
	send_rc=$?
fi
# The L2 -> L1 receiver has its data by now, or never will.
kill "$ncpid" 2>/dev/null
wait "$ncpid"
from_sha=$(sha256sum <"$work/from_l2" | cut -d' ' -f1)
# VM exits per packet during the iperf3 runs, for the record.
pkts() { cat /sys/class/net/$TAPDEV/statistics/{rx,tx}_packets | awk '{ s += $1 } END { print s + 0 }'; }
mbytes() { cat /sys/class/net/$TAPDEV/statistics/{rx,tx}_bytes | awk '{ s += $1 } END { printf "%d", s / 1048576 }'; }
e0=$(cat /sys/kernel/debug/kvm/exits) p0=$(pkts) b0=$(mbytes)
# The host takes the link down, then up.
if l2_wait "$work/l2.log" '^G link_wait' 900; then
	e1=$(cat /sys/kernel/debug/kvm/exits) p1=$(pkts) b1=$(mbytes)
	mid_tap_rx=$(cat /sys/class/net/$TAPDEV/statistics/rx_packets)
	mid_tap_tx=$(cat /sys/class/net/$TAPDEV/statistics/tx_packets)
	echo "# iperf3: $((p1 - p0)) frames (TSO ones up to 64 KiB), $((b1 - b0)) MiB, $((e1 - e0)) VM exits (all reasons): $(awk -v e=$((e1 - e0)) -v p=$((p1 - p0)) 'BEGIN { printf "%.2f", p ? e / p : 0 }') per frame"
	echo 1 >$dbg/vm"$vm"/dev0/link_down
	l2_wait "$work/l2.log" '^G carrier_down' 120
	echo 0 >$dbg/vm"$vm"/dev0/link_down
fi
# A stuck transmit side: the guest's timeout handler must recover.
stall_cleared=-
if l2_wait "$work/l2.log" '^G stall_wait' 300; then
	echo 1 >$dbg/vm"$vm"/dev0/fault_stall_tx
	l2_wait "$work/l2.log" '^G ping_after_stall' 300
	stall_cleared=$(cat $dbg/vm"$vm"/dev0/fault_stall_tx)
fi
l2_wait "$work/l2.log" '^=== NET DONE' 600
sed 's/^/# L2: /' "$work/l2.log"
check "L2 ran its whole script" l2_gone "$work/l2.log" '^=== NET DONE'
for f in $dbg/vm"$vm"/dev0/q*/stats; do sed "s|^|# host ${f#$dbg/}: |" "$f"; done
sed 's/^/# host: /' $dbg/vm"$vm"/dev0/net
sed 's/^/# host rejects: /' $dbg/vm"$vm"/rejects
ip -s link show $TAPDEV | sed 's/^/# L1: /'

check "pvnet0 appears with the host's MAC address ($(g mac))" \
	[ "$(g present) $(g mac) $(g addr_assign)" = "1 $MAC 0" ]
check "MTU from the host (9000)" [ "$(g mtu)" = 9000 ]
check "one queue pair per vCPU: 2 tx queues, ethtool -l combined 2" \
	[ "$(g txqs) $(g combined)" = "2 2" ]
check "ethtool -i names the driver ($(g driver)), -g the ring ($(g rx_ring))" \
	[ "$(g driver)" = pvchan_guest -a "$(g rx_ring)" = 256 ]
echo "# offloads: $(g offloads)"
check "checksum, scatter-gather and TSO offloads on" \
	bash -c "grep -q 'tx-checksumming: on' <<<'$(g offloads)' &&
		grep -q 'scatter-gather: on' <<<'$(g offloads)' &&
		grep -q 'tcp-segmentation-offload: on' <<<'$(g offloads)'"
check "carrier up" [ "$(g carrier)" = 1 ]
for s in 56 1472 8972; do
	check "ping -s $s: 5 of 5 answered" [ "$(g ping_$s)" = 5 ]
done
for s in 56 1472 8972; do
	check "ping -s $s: 5 frames out, no fragments, no ARP" [ "$(g ping_${s}_txp)" = 5 ]
done
check "64 MiB L2 -> L1 over TCP: sha256 matches ($(g send_secs) s)" \
	[ "$(g send_rc)" = 0 -a -n "$(g out_sha)" -a "$from_sha" = "$(g out_sha)" ]
check "64 MiB L1 -> L2 over TCP: sha256 matches ($(g recv_secs) s)" \
	[ "$send_rc" = 0 -a "$(g in_sha)" = "$to_sha" ]
for t in tcp_tx tcp_rx udp_tx udp_rx; do
	check "iperf3 $t: both clients succeed" [ "$(g ${t}_rc)" = 00 ]
done
check "receive offloads on (host: $(sed -n 's/^offloads //p' $dbg/vm"$vm"/dev0/net)): $(g rx_gso) unsegmented frames, $(g rx_csum_partial) with partial checksums" \
	[ "$(g rx_gso)" -gt 0 -a "$(g rx_csum_partial)" -gt 0 ]
q_used() { [ "$(echo "$1" | awk '{ print ($1 > 100 && $2 > 100) }')" = 1 ]; }
check "queue pair 0 carried traffic both ways (rx tx: $(g q0_used))" q_used "$(g q0_used)"
check "queue pair 1 carried traffic both ways (rx tx: $(g q1_used))" q_used "$(g q1_used)"
check "link down from the host: carrier off in the guest" [ "$(g carrier_down)" = 1 ]
check "link up again: carrier on, ping answered" \
	[ "$(g carrier_up) $(g ping_after_link)" = "1 3" ]
check "stalled transmit: timeout handler reset the queue ($(g tx_timeouts) timeouts, $(g tx_resets) resets, $(g tx_reset_drops) frames dropped)" \
	[ "$(g tx_timeouts)" -ge 1 -a "$(g tx_resets)" -ge 1 -a "$stall_cleared" = N ]
check "traffic resumes after the reset: ping answered" [ "$(g ping_after_stall)" = 3 ]

# Counters: the guest's, the host module's and the tap's agree, after the
# transfers and at the end.
check "after the transfers: guest sent $(g mid_tx) frames, tap got ${mid_tap_rx:-?}; tap sent ${mid_tap_tx:-?}, guest got $(g mid_rx)" \
	[ "$(g mid_tx) $(g mid_rx)" = "${mid_tap_rx:-x} ${mid_tap_tx:-x}" ]
gq() { sed -n "s/^G q$1 $2 //p" "$work/l2.log" | tr -d '\r' | tail -n1; }
hq() { sed -n "s/^$2 //p" $dbg/vm"$vm"/dev0/q"$1"/stats; }
tapstat() { cat /sys/class/net/$TAPDEV/statistics/"$1"; }
# Frames dropped by the transmit queue reset were never served; the
# SET_OFFLOADS request is not a frame.
g_tx=$(($(g stat_tx_packets) + $(g stat_tx_errors)))
h_tx=$(($(hq 1 completions) + $(hq 3 completions) - $(hq 1 op_set_offloads)))
check "TX completions: host posted $h_tx, guest counted $g_tx" [ "$g_tx" = "$h_tx" ]
g_rx=$(($(gq 0 completed) + $(gq 2 completed)))
h_rx=$(($(hq 0 completions) + $(hq 2 completions)))
check "RX completions: host posted $h_rx, guest reaped $g_rx" [ "$g_rx" = "$h_rx" ]
check "frames guest -> tap: guest tx_packets $(g stat_tx_packets), tap rx_packets $(tapstat rx_packets)" \
	[ "$(g stat_tx_packets)" = "$(tapstat rx_packets)" ]
g_rx_all=$(($(g stat_rx_packets) + $(g stat_rx_errors) + $(g stat_rx_dropped)))
check "frames tap -> guest: tap tx_packets $(tapstat tx_packets), guest received $g_rx_all" \
	[ "$(tapstat tx_packets)" = "$g_rx_all" ]
check "guest and host saw no frame errors" \
	[ "$(g stat_rx_errors) $(g stat_tx_errors)" = "0 0" ]
check "host rejected nothing" \
	[ "$(awk '{ s += $2 } END { print s + 0 }' $dbg/vm"$vm"/rejects)" = 0 ]
check "no guest kernel warnings" [ -z "$(g guest_splat)" ]

# Backend restart, the counters compared: the host takes the link down
# (L2's signal), pvchanctl is killed (the tap goes with it) and started
# again 2 s later; the guest must notice, reconnect, get its carrier back
# and answer pings.
$BB nc -l -p 5003 -e /bin/sh -c "cat >$work/after_restart" &
ncpid=$!
echo 1 >$dbg/vm"$vm"/dev0/link_down
restarted=0
if l2_wait "$work/l2.log" '^G restart_signal' 120; then
	kill -KILL "$ctl"
	wait "$ctl"
	sleep 2
	attach "$work/ctl2.log" && restarted=1
	l2_wait "$work/l2.log" '^=== RESTART DONE' 300
	sed -n '/^=== NET DONE/,$p' "$work/l2.log" | sed 's/^/# L2: /'
fi
kill "$ncpid" 2>/dev/null
wait "$ncpid"
check "pvchanctl killed and started again: the guest reconnected (losses, reconnects: $(g restart_link)), carrier back, ping answered ($(g ping_after_restart) of 3)" \
	[ "$restarted" = 1 -a "$(g restart_link)" = "1 1" -a "$(g carrier_after_restart)" = 1 -a "$(g ping_after_restart)" = 3 ]
check "TCP after the restart: 1 MiB L2 -> L1, sha256 matches" \
	[ -n "$(g restart_sha)" -a "$(g restart_sha)" = "$(sha256sum <"$work/after_restart" 2>/dev/null | cut -d' ' -f1)" ]
check "no guest kernel warnings after the restart" [ -z "$(g guest_splat_restart)" ]

vm_teardown
pkill -f "iperf3 -s -B 192.0.2.1"
host_unload net
kill "$copier"
cp "$work/l2.log" "$out/net-l2-console.log" 2>/dev/null
echo "1..$n"
exit $fail
