#!/bin/bash
# The demo, inside L1: host module, an L2 bound by pvchanctl with an echo
# device, a pvblk disk and a pvnet interface on tap pvtap0, 2000 echo round
# trips, an ext4 file system on the disk, ping and a TCP transfer between
# L2 (192.0.2.2) and L1 (192.0.2.1), then the counters of both sides.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
H=$REPO/harness
work=$(mktemp -d)
say() { printf '\n=== %s\n' "$*"; }

modprobe kvm_amd
modprobe tun
insmod "$REPO/host/pvchan_host.ko"
say "L1: pvchan_host loaded"
dmesg | grep pvchan_host

cat >"$work/test.sh" <<'L2'
insmod /pvchan_guest.ko
echo; echo "=== L2: guest module log"
dmesg | grep pvchan_guest
echo; echo "=== L2: channel state (/sys/kernel/debug/pvchan-guest/state)"
cat /sys/kernel/debug/pvchan-guest/state
echo 2000 > /sys/kernel/debug/pvchan-guest/echo0/run
echo; echo "=== L2: 2000 echo round trips (echo0/result)"
cat /sys/kernel/debug/pvchan-guest/echo0/result
for q in /sys/kernel/debug/pvchan-guest/echo0/q*; do
	echo; echo "=== L2: ${q#/sys/kernel/debug/pvchan-guest/} counters"; cat "$q/stats"
done
echo; echo "=== L2: pvblk disk pvda: $(cat /sys/block/pvda/size) sectors, serial $(cat /sys/block/pvda/serial)"
hostrun /sbin/modprobe ext4 2>/dev/null
hostrun /sbin/mkfs.ext4 -q -F -L pvdemo /dev/pvda
mkdir -p /mnt
mount -t ext4 /dev/pvda /mnt
# hostrun programs see L1's /mnt, but L2's /tmp: write there, copy in.
hostrun /usr/bin/dd if=/dev/urandom of=/tmp/random.bin bs=1M count=8 status=none
cp /tmp/random.bin /mnt/random.bin
sync
echo 3 >/proc/sys/vm/drop_caches
sha256sum /tmp/random.bin /mnt/random.bin
df -h /mnt
umount /mnt
hostrun /sbin/e2fsck -fn /dev/pvda
for q in /sys/kernel/debug/pvchan-guest/blk1/q*; do
	echo; echo "=== L2: ${q#/sys/kernel/debug/pvchan-guest/} counters"; cat "$q/stats"
done
echo; echo "=== L2: pvnet0 (ethtool -i, addresses)"
echo 1 >/proc/sys/net/ipv6/conf/pvnet0/disable_ipv6
hostrun /usr/sbin/ethtool -i pvnet0 | head -n 3
ip addr add 192.0.2.2/24 dev pvnet0
ip link set pvnet0 up
sleep 1
ip addr show pvnet0
echo; echo "=== L2: ping L1 over pvnet"
ping -c 3 192.0.2.1
echo; echo "=== L2: 16 MiB to L1 over TCP (L1 prints its sha256)"
hostrun /usr/bin/dd if=/dev/urandom of=/tmp/net.bin bs=1M count=16 status=none
sha256sum /tmp/net.bin
nc 192.0.2.1 5001 </tmp/net.bin
echo; echo "=== L2: pvnet0 counters (ethtool -S, queue pair 0)"
hostrun /usr/sbin/ethtool -S pvnet0 | grep q0_
echo; echo "=== L2: hypercalls issued"; cat /sys/kernel/debug/pvchan-guest/hypercalls
echo; echo "=== L2: /proc/interrupts (pvchan queue interrupts)"
grep -E 'CPU|pvchan' /proc/interrupts
echo "=== DEMO DONE"
sleep 600
L2
"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" "$work/test.sh:/test.sh" 2>/dev/null
say "L1: starting L2 (QEMU -enable-kvm, 2 vCPUs) paused"
truncate -s 256M "$work/disk.img"
qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
	--smp 2 --mem 768M --append quiet --share-root --paused "$work/mon" --timeout 600)
"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" --echo=2 \
	--blk "$work/disk.img,serial=PVDEMO0,queues=2" \
	--net pvtap0,mac=52:54:00:c0:00:02,queues=2 >"$work/ctl.log" 2>&1 &
for _ in $(seq 30); do grep -q attached "$work/ctl.log" && break; sleep 1; done
say "L1: pvchanctl attach --pid $qpid --echo=2 --blk $work/disk.img,serial=PVDEMO0,queues=2 --net pvtap0,mac=52:54:00:c0:00:02,queues=2"
cat "$work/ctl.log"
# L1's end of the link: 192.0.2.1 on the tap, nothing routed out; a
# receiver for L2's transfer (busybox nc ends at EOF on its stdin, so a
# program reads the socket).
echo 1 >/proc/sys/net/ipv6/conf/pvtap0/disable_ipv6
ip addr add 192.0.2.1/24 dev pvtap0
ip link set pvtap0 up
/bin/busybox nc -l -p 5001 -e /bin/sh -c "cat >$work/net.bin" &
ncpid=$!
exec {m}<>"$work/mon.in"
echo cont >&$m
for _ in $(seq 600); do grep -q '=== DEMO DONE' "$work/l2.log" && break; sleep 1; done
tr -d '\r' <"$work/l2.log" | sed -n '/=== L2: guest module log/,/=== DEMO DONE/p'
for _ in $(seq 30); do kill -0 "$ncpid" 2>/dev/null || break; sleep 1; done
say "L1: what L1 received over pvnet"
sha256sum "$work/net.bin"
ip -s link show pvtap0
say "L1: pvchanctl status (host side of the same requests)"
"$REPO/tools/pvchanctl/pvchanctl" status
say "L1: host hypercall latency histogram (vm*/latency)"
cat /sys/kernel/debug/pvchan/vm*/latency
kill "$qpid"
wait
say "L1: after the VMM exits"
tail -n 3 "$work/ctl.log"
dmesg | grep pvchan_host | tail -n 2
