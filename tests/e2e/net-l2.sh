# shellcheck shell=dash
# L2 side of the pvnet test (/test.sh, busybox sh).  L1 is 192.0.2.1 on
# its tap, this guest 192.0.2.2 on pvnet0.  Real tools (ethtool, iperf3,
# taskset) come from the machine's root over 9p (hostrun).  Prints "G key
# value" lines for the L1 side, which answers some of them (a file sent,
# the link toggled); then waits to be stopped.
G() { echo "G $*"; }
# wait_file PATH SECONDS / wait_carrier VALUE SECONDS
wait_file() {
	i=0
	while [ ! -s "$1" ] && [ $i -lt "$2" ]; do sleep 1; i=$((i + 1)); done
}
wait_carrier() {
	i=0
	while [ "$(cat /sys/class/net/pvnet0/carrier 2>/dev/null)" != "$1" ] &&
		[ $i -lt "$2" ]; do
		sleep 1
		i=$((i + 1))
	done
	[ "$(cat /sys/class/net/pvnet0/carrier 2>/dev/null)" = "$1" ]
}
received() { sed -n 's/.* \([0-9]*\) packets received.*/\1/p'; }
txb() { cat /sys/class/net/pvnet0/statistics/tx_bytes; }
txp() { cat /sys/class/net/pvnet0/statistics/tx_packets; }

# No IPv6 chatter: the counters of both sides are compared at the end.
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
insmod /pvchan_guest.ko || G insmod_failed 1
cat /sys/kernel/debug/pvchan-guest/state
G present "$([ -e /sys/class/net/pvnet0 ] && echo 1 || echo 0)"
G mac "$(cat /sys/class/net/pvnet0/address)"
G addr_assign "$(cat /sys/class/net/pvnet0/addr_assign_type)"
G mtu "$(cat /sys/class/net/pvnet0/mtu)"
G txqs "$(ls -d /sys/class/net/pvnet0/queues/tx-* | wc -l)"
G driver "$(hostrun /usr/sbin/ethtool -i pvnet0 | sed -n 's/^driver: //p')"
G combined "$(hostrun /usr/sbin/ethtool -l pvnet0 | sed -n 's/^Combined:[[:space:]]*//p' | tail -n1)"
G rx_ring "$(hostrun /usr/sbin/ethtool -g pvnet0 | sed -n 's/^RX:[[:space:]]*//p' | tail -n1)"
G offloads "$(hostrun /usr/sbin/ethtool -k pvnet0 | grep -E '^(tx-checksumming|scatter-gather|tcp-segmentation-offload|generic-receive-offload):' | tr -d '\n')"
ip addr add 192.0.2.2/24 dev pvnet0
ip link set pvnet0 up
# L1's tap has a fixed address (net-l1.sh): no ARP, exact frame counts.
hostrun /sbin/ip neigh replace 192.0.2.1 lladdr 52:54:00:c0:00:01 dev pvnet0 nud permanent
wait_carrier 1 30 && G carrier 1

# 1. ping at several sizes; 8972 bytes of payload fill a 9000-byte MTU:
# one frame each way, not fragments (tx_packets grows by the count).
for s in 56 1472 8972; do
	p0=$(txp)
	G ping_$s "$(ping -c 5 -W 5 -s $s 192.0.2.1 | received)"
	G ping_${s}_txp $(($(txp) - p0))
done

# 2. 64 MiB of random data each way over TCP, sha256 on both sides.
dd if=/dev/urandom of=/tmp/out bs=1M count=64 2>/dev/null
G out_sha "$(sha256sum </tmp/out | cut -d' ' -f1)"
t0=$(cut -d. -f1 /proc/uptime)
# cat's large writes through bash's /dev/tcp (busybox nc writes 1 KiB).
timeout 300 hostrun /bin/bash -c 'cat /tmp/out >/dev/tcp/192.0.2.1/5001'
G send_rc $?
G send_secs $(($(cut -d. -f1 /proc/uptime) - t0))
rm -f /tmp/out
# busybox nc ends at EOF on its stdin: let a program read the socket.
nc -l -p 5002 -e /bin/sh -c 'cat >/tmp/in' &
ncpid=$!
(sleep 300 && kill $ncpid) 2>/dev/null &
dog=$!
sleep 1
G listening 1
t0=$(cut -d. -f1 /proc/uptime)
wait $ncpid
kill $dog 2>/dev/null
G recv_secs $(($(cut -d. -f1 /proc/uptime) - t0))
G in_sha "$(sha256sum </tmp/in | cut -d' ' -f1)"
G in_size "$(wc -c </tmp/in)"
rm -f /tmp/in

# 3. iperf3, TCP and UDP, both directions; two clients on two vCPUs so
# both queue pairs carry traffic (XPS maps each vCPU to its queue).
iperf() {	# iperf NAME ARGS...: two parallel clients, G NAME_rc
	name=$1
	shift
	hostrun /usr/bin/taskset -c 0 /usr/bin/iperf3 -c 192.0.2.1 -p 5201 "$@" >/tmp/ip0 2>&1 &
	a=$!
	hostrun /usr/bin/taskset -c 1 /usr/bin/iperf3 -c 192.0.2.1 -p 5202 "$@" >/tmp/ip1 2>&1 &
	b=$!
	wait $a
	ra=$?
	wait $b
	rb=$?
	grep -E 'receiver|sender|datagrams|error' /tmp/ip0 /tmp/ip1 | sed "s/^/# $name: /"
	G ${name}_rc "$ra$rb"
}
iperf tcp_tx -t 3 -P 2
iperf tcp_rx -t 3 -P 2 -R
iperf udp_tx -t 2 -u -b 20M
iperf udp_rx -t 2 -u -b 20M -R
hostrun /usr/sbin/ethtool -S pvnet0 | sed 's/^/# /'
# Receive offloads: L1's TCP came unsegmented, with partial checksums.
for c in rx_gso rx_csum_partial; do
	G $c "$(hostrun /usr/sbin/ethtool -S pvnet0 | sed -n "s/^ *q[0-9]*_$c: //p" | awk '{ s += $1 } END { print s + 0 }')"
done
for q in 0 1; do
	G q${q}_used "$(hostrun /usr/sbin/ethtool -S pvnet0 |
		sed -n "s/^ *q${q}_\(rx\|tx\)_packets: //p" | tr '\n' ' ')"
done

# A checkpoint for L1 after the transfers, once quiet: frames each way.
sleep 2
G mid_tx "$(cat /sys/class/net/pvnet0/statistics/tx_packets)"
G mid_rx "$(cat /sys/class/net/pvnet0/statistics/rx_packets /sys/class/net/pvnet0/statistics/rx_errors /sys/class/net/pvnet0/statistics/rx_dropped | awk '{ s += $1 } END { print s + 0 }')"

# 4. The host takes the link down and up again: carrier follows, and
# traffic flows again afterwards.
G link_wait 1
wait_carrier 0 120 && G carrier_down 1
wait_carrier 1 120 && G carrier_up 1
G ping_after_link "$(ping -c 3 -W 5 192.0.2.1 | received)"

# 5. The host's transmit side stalls (fault knob, armed by L1 on
# stall_wait): a flood of pings fills the transmit queue, the watchdog
# calls the timeout handler, which resets the queue; traffic resumes.
G stall_wait 1
sleep 3
# Four floods from vCPU 0 (one transmit queue): a socket's send buffer
# holds fewer frames than the ring, four of them more.  Each ends early
# when its socket or the qdisc is full (ENOBUFS): fine.
for f in 1 2 3 4; do
	hostrun /usr/bin/taskset -c 0 /bin/busybox ping -c 1500 -i 0.01 -w 20 192.0.2.1 >/tmp/flood$f 2>&1 &
done
wait
grep -h -E 'packets|sendto' /tmp/flood? | sort | uniq -c | sed 's/^/# flood: /'
pairstat() { cat /sys/kernel/debug/pvchan-guest/net*/pair* | sed -n "s/^$1 //p" | awk '{ s += $1 } END { print s + 0 }'; }
i=0
while [ "$(pairstat tx_resets)" = 0 ] && [ $i -lt 90 ]; do sleep 1; i=$((i + 1)); done
G tx_timeouts "$(pairstat tx_timeouts)"
G tx_resets "$(pairstat tx_resets)"
G tx_reset_drops "$(pairstat tx_drops)"
G ping_after_stall "$(ping -c 3 -W 5 192.0.2.1 | received)"

# 6. Quiet, then the counters for L1 to compare with its own.
sleep 3
for f in rx_packets rx_bytes tx_packets tx_bytes rx_errors tx_errors rx_dropped tx_dropped; do
	G stat_$f "$(cat /sys/class/net/pvnet0/statistics/$f)"
done
for p in /sys/kernel/debug/pvchan-guest/net*/pair*; do
	sed "s/^/G ${p##*/} /" "$p"
done
for q in /sys/kernel/debug/pvchan-guest/net*/q*; do
	sed "s/^/G ${q##*/} /" "$q/stats"
done
dmesg | grep -E 'WARNING|BUG|Call Trace' && G guest_splat 1
dmesg | grep -i pvnet | sed 's/^/# dmesg: /'
echo "=== NET DONE"

# 7. Backend restart, once L1 has compared the counters: the host takes
# the link down (the signal), L1 kills pvchanctl and starts it again.  The
# guest's heartbeat finds the host gone; once it is back the guest sets
# its queues up again and the new session's link is up.
st=/sys/kernel/debug/pvchan-guest/state
wait_carrier 0 900 && G restart_signal 1
wait_carrier 1 120 && G carrier_after_restart 1
G restart_link "$(sed -n 's/^link_losses //p' $st) $(sed -n 's/^reconnects //p' $st)"
# L1 configures its end of the new tap meanwhile: wait for a first answer.
i=0
until ping -c 1 -W 2 192.0.2.1 >/dev/null 2>&1 || [ $i -ge 15 ]; do i=$((i + 1)); done
G ping_after_restart "$(ping -c 3 -W 5 192.0.2.1 | received)"
head -c 1048576 /dev/urandom >/tmp/ar
G restart_sha "$(sha256sum </tmp/ar | cut -d' ' -f1)"
timeout 120 hostrun /bin/bash -c 'cat /tmp/ar >/dev/tcp/192.0.2.1/5003'
dmesg | grep -E 'pvchan_guest|pvnet' | tail -n 8 | sed 's/^/# dmesg: /'
dmesg | grep -E 'WARNING|BUG|Call Trace' && G guest_splat_restart 1
echo "=== RESTART DONE"
sleep 900
