#!/bin/bash
# make bench; runs in L1 (harness/run-l1.sh, from scripts/bench.sh).  One
# L2 (q35: virtio over PCI, MSI-X, as users run it) with two disks on backing
# of the same kind, two 256 MiB RAM disks (brd) in L1: pvda (pvchan,
# pvchanctl --blk /dev/ram0) and vda (virtio-blk-pci, QEMU cache=none
# aio=native on /dev/ram1); two network devices on taps: pvnet0 (pvtap0,
# L1 192.0.2.1/25, L2 .2) and virtio-net-pci with vhost-net (vtap0, L1
# 192.0.2.129/25, L2 .130); and a pvchan clock device beside kvm-clock.
# Nothing is routed out of L1.  L2 (bench-l2.sh) runs each workload on one
# device, then the other, several times: fio, then iperf3 and sockperf
# against their servers here, then clock_gettime() loops on each
# clocksource; at every run's start and end L1 records its counters: VM
# exits by reason (the kvm:kvm_exit tracepoint, counted in-kernel by a hist
# trigger), all VM exits, pvchan hypercalls, L1's busy CPU time, the taps'
# packet and byte counts.  Raw data goes to $PVOUT (snap.log, l2.log);
# scripts/bench-report.py makes the numbers.  Prints TAP (the runs happened
# and produced numbers; speed is judged in the report, not here).
# Env: PVCHAN_BENCH_REPS (runs per device and workload, default 5),
# PVCHAN_BENCH_RUNTIME (seconds per block or network run, default 5),
# PVCHAN_BENCH_PARTS (comma-separated, default block,net,clock).
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
REPS=${PVCHAN_BENCH_REPS:-5}
RUNTIME=${PVCHAN_BENCH_RUNTIME:-5}
PARTS=${PVCHAN_BENCH_PARTS:-block,net,clock}
n=0 fail=0

modprobe kvm_amd
modprobe tun
check "two 256 MiB RAM disks (brd)" modprobe brd rd_nr=2 rd_size=262144
check "vhost-net (/dev/vhost-net)" modprobe vhost_net
dmesg -C
check "insmod pvchan_host" insmod "$REPO/host/pvchan_host.ko"
"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" \
	"$REPO/tests/clock/clock_test:/clock_test" \
	"$REPO/tests/bench/bench-l2.sh:/test.sh" 2>/dev/null

mountpoint -q $tracefs || mount -t tracefs tracefs $tracefs
echo 'hist:keys=exit_reason:size=256' >$tracefs/events/kvm/kvm_exit/trigger

# snap WHAT TAG: one line of counters in snap.log.
snap() {
	local hc=0 busy
	[[ -e $dbg/vm$vm/hypercalls ]] &&
		hc=$(awk '{ s += $2 } END { print s + 0 }' $dbg/vm"$vm"/hypercalls)
	busy=$(awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat)
	printf '%s %s|t=%s exits=%s hypercalls=%s l1_busy_ticks=%s %s %s %s\n' "$1" "$2" \
		"$(date +%s.%N)" "$(cat /sys/kernel/debug/kvm/exits)" "$hc" "$busy" \
		"$(awk '/^{ exit_reason:/ { printf "exit_%s=%s ", $3, $6 }' \
			$tracefs/events/kvm/kvm_exit/hist)" "$(taps)" "$(disk_queues)" \
		>>"$out/snap.log"
}
# disk_queues: the pvchan disk's (dev0) host queues, summed: requests and
# worker runs that took some (their ratio: requests served per wake-up),
# and kicks; the same for the network device's (dev1) receive (even) and
# transmit (odd) queues.
disk_queues() {
	local d f p q
	for d in 0 1; do
		for f in "$dbg"/vm"$vm"/dev"$d"/q*/stats; do
			[[ -e $f ]] || continue
			q=${f%/stats}
			q=${q##*/q}
			case $d.$((q % 2)) in
			0.*) p=pvblk ;;
			1.0) p=pvnet_rx ;;
			*) p=pvnet_tx ;;
			esac
			awk -v p=$p '$1 ~ /^(requests|batches|kicks)$/ { print p "_" $1, $2 }' "$f"
		done
	done | awk '{ s[$1] += $2 } END { for (k in s) printf "%s=%d ", k, s[k] }'
}
# taps: the taps' counters as L1 sees them (rx: what L2 sent).
taps() {
	local t c
	for t in pvtap0 vtap0; do
		for c in rx_packets rx_bytes tx_packets tx_bytes; do
			[[ -r /sys/class/net/$t/statistics/$c ]] &&
				printf '%s_%s=%s ' "$t" "$c" "$(cat /sys/class/net/$t/statistics/$c)"
		done
	done
}
# tap_up TAP MAC ADDR/LEN PEER PEER_MAC: L1's side of a tap; fixed
# neighbours (no ARP) and no IPv6, so the counters are the workloads'.
tap_up() {
	echo 1 >/proc/sys/net/ipv6/conf/"$1"/disable_ipv6
	ip link set "$1" address "$2" &&
		ip addr replace "$3" dev "$1" &&
		ip neigh replace "$4" lladdr "$5" dev "$1" nud permanent &&
		ip link set "$1" up
}

# tsc=reliable in L2 (as in the clock suite): without constant_tsc Linux
# does not let the plain tsc clocksource be chosen, and it is measured too.
start_l2() {
	qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
		--smp 2 --mem 512M --share-root --paused "$work/mon" --timeout 3000 \
		--append "quiet tsc=reliable PVCHAN_BENCH_REPS=$REPS PVCHAN_BENCH_RUNTIME=$RUNTIME PVCHAN_BENCH_PARTS=$PARTS" \
		--machine q35 \
		--qemu-arg -drive \
		--qemu-arg file=/dev/ram1,if=none,id=vd0,format=raw,cache=none,aio=native \
		--qemu-arg -device --qemu-arg virtio-blk-pci,drive=vd0 \
		--qemu-arg -netdev \
		--qemu-arg tap,id=vn0,ifname=vtap0,script=no,downscript=no,vhost=on \
		--qemu-arg -device --qemu-arg virtio-net-pci,netdev=vn0,mac=$VMAC)
	# dev0 the disk, dev1 the network device, dev2 the clock (bench-l2.sh).
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" --blk /dev/ram0 \
		--net "pvtap0,mac=$PMAC" --clock >"$work/ctl.log" 2>&1 &
	ctl=$!
	wait_for "$work/ctl.log" '^pvchanctl: attached' 30 || return 1
	vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$work/ctl.log" | head -n1)
	vm=${vm:-0}
	tap_up pvtap0 52:54:00:c0:00:01 192.0.2.1/25 192.0.2.2 "$PMAC" &&
		tap_up vtap0 52:54:00:c0:00:81 192.0.2.129/25 192.0.2.130 "$VMAC" ||
		return 1
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
PMAC=52:54:00:c0:00:02 VMAC=52:54:00:c0:00:82
# The network workloads' peers: iperf3 and sockperf on L1's side of each tap.
for a in 192.0.2.1 192.0.2.129; do
	iperf3 -s -B $a -D --logfile "$work/iperf-$a.log"
	sockperf server -i $a --tcp >"$work/sockperf-$a.log" 2>&1 &
done
: >"$out/snap.log"
l2_start start_l2
check "pvchanctl attaches the pvchan disk, network device and clock; QEMU has virtio-blk and virtio-net (vhost)" \
	[ "$attached" = 1 ]

# Follow L2's console: counters at every frame line, until it is done.
# At a real-time priority: L2's vCPU keeps L1's only CPU busy, and a
# follower at normal priority took its counters seconds late (windows of
# L1 and L2 out of step, runs back to back: one device's exits counted
# for the other).  One tail that blocks until a line comes: the loop
# before it started a tail ten times a second, which at that priority
# took L1's CPU from the workloads (a block run took about 40 s, not 20).
chrt -f -p 10 $$ || echo "# chrt: the follower runs at normal priority"
while IFS= read -r line; do
	line=${line%$'\r'}
	case $line in
	"G begin "* | "G end "*)
		line=${line#G }
		snap "${line%% *}" "${line#* }"
		;;
	"=== BENCH DONE"*) break ;;
	esac
done < <(timeout 2700 tail -n +1 -f --pid="$qpid" "$work/l2.log")
tr -d '\r' <"$work/l2.log" >"$out/l2.log"
check "L2 ran every workload" l2_gone "$work/l2.log" '^=== BENCH DONE'
check "both disks present in L2 ($(g disks))" bash -c "[[ '$(g disks)' == *pvda* && '$(g disks)' == *vda* ]]"
if [[ ,$PARTS, == *,block,* ]]; then
	runs=$(grep -c '^G result [pv]' "$out/l2.log")
	check "every block run has a result ($runs of $((16 * REPS)))" [ "$runs" = $((16 * REPS)) ]
fi
if [[ ,$PARTS, == *,net,* ]]; then
	runs=$(grep -c '^G result net ' "$out/l2.log")
	check "every network run has a result ($runs of $((8 * REPS)))" [ "$runs" = $((8 * REPS)) ]
fi
if [[ ,$PARTS, == *,clock,* ]]; then
	clocks=$(g clocksources)
	runs=$(grep -c '^G result clock ' "$out/l2.log")
	check "every clock run has a result ($runs of $(($(wc -w <<<"$clocks") * REPS)): $clocks" \
		[ "$runs" = $(($(wc -w <<<"$clocks") * REPS)) ]
fi
check "every run has its counters" \
	[ "$(grep -c '^end ' "$out/snap.log")" = "$(grep -c '^G result ' "$out/l2.log" | awk '{ print $1 + 1 }')" ]
# Every host queue's counters at the end, for the record.
for f in "$dbg"/vm"$vm"/dev*/q*/stats; do
	echo "== ${f#"$dbg"/}"
	cat "$f"
done >"$out/host-stats.log" 2>&1
echo '!hist:keys=exit_reason:size=256' >$tracefs/events/kvm/kvm_exit/trigger
pkill -x iperf3
pkill -x sockperf
vm_teardown
host_unload bench
echo "1..$n"
exit $fail
