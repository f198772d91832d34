# shellcheck shell=dash
# L2 side of make bench (/test.sh, busybox sh): the block workloads on the
# pvchan disk (pvda) and the virtio-blk disk (vda), alternated, the network
# workloads on pvnet0 and the virtio-net device, alternated, then the cost
# of clock_gettime() on each clocksource, alternated.  fio (from
# the machine's root, hostrun) starts, and once I/O flows a window of
# PVCHAN_BENCH_RUNTIME seconds is framed by "G begin" and "G end" lines, at
# which L1 takes its counters; the window's I/Os are the disk's own
# counts (/sys/block), its interrupts those of /proc/interrupts.  fio runs
# 2 s (ramp) + the window + 3 s; its completion latencies leave out the
# ramp.  Env (kernel command line): PVCHAN_BENCH_REPS, PVCHAN_BENCH_RUNTIME.
G() { echo "G $*"; }
reps=${PVCHAN_BENCH_REPS:-5}
runtime=${PVCHAN_BENCH_RUNTIME:-5}
parts=,${PVCHAN_BENCH_PARTS:-block,net,clock},
# part NAME: NAME is one of the parts to run.
part() { case $parts in *,"$1",*) return 0 ;; esac; return 1; }
# irqs DEV: interrupts so far of a device, all vCPUs: its pvchan queues'
# (bench-l1.sh attaches the disk as dev0, the network device as dev1), or
# its virtio transport's (not the 9p one hostrun uses).
irqs() {
	case $1 in
	pvda) pat='pvchan-dev0-' ;;
	pvnet0) pat='pvchan-dev1-' ;;
	vda) pat="$(basename "$(readlink -f /sys/block/vda/device)")(-|\$)" ;;
	*) pat="$(basename "$(readlink -f /sys/class/net/"$1"/device)")(-|\$)" ;;
	esac
	grep -E "$pat" /proc/interrupts |
		awk '{ for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }'
}
# flowing COUNTER DEV: wait until COUNTER of DEV moves (at most 60 s), and
# a second more for every job to be at it.
flowing() {
	s=$("$@") i=0
	while [ "$("$@")" = "$s" ] && [ $i -lt 300 ]; do
		sleep 0.2
		i=$((i + 1))
	done
	sleep 1
}
# now: T = uptime in 1/100 s, with shell builtins only.  A window's
# counters are read with builtins right before its "G begin" and "G end"
# lines, so that L1's window (between the lines) is L2's: a process costs
# about half a second here, and four of them around each line made L1's
# windows 50% longer than L2's.
now() {
	read -r u _ </proc/uptime
	T=$((${u%.*} * 100 + 1${u#*.} - 100))
}
# disk DEV: S = reads and writes DEV completed so far, and now.
disk() {
	read -r r _ _ _ w _ </sys/block/"$1"/stat
	S=$((r + w))
	now
}
# net DEV: P = packets through DEV so far (both ways), RB, TB = bytes
# received, sent; and now.
net() {
	read -r rp </sys/class/net/"$1"/statistics/rx_packets
	read -r tp </sys/class/net/"$1"/statistics/tx_packets
	read -r RB </sys/class/net/"$1"/statistics/rx_bytes
	read -r TB </sys/class/net/"$1"/statistics/tx_bytes
	P=$((rp + tp))
	now
}
# ios DEV, pkts DEV: those counters, printed (for flowing).
ios() { disk "$1" && echo "$S"; }
pkts() { net "$1" && echo "$P"; }

echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
insmod /pvchan_guest.ko || G insmod_failed 1
hostrun /sbin/modprobe virtio_blk
hostrun /sbin/modprobe virtio_net
i=0
until [ -b /dev/pvda ] && [ -b /dev/vda ] || [ $i -ge 30 ]; do
	sleep 1
	i=$((i + 1))
done
G disks "$(ls /sys/block | tr '\n' ' ')"
grep -E 'pvchan|virtio' /proc/interrupts | sed 's/^/# /'
# The same write-once content on both (randread reads data, not holes).
disks=
part block && disks="pvda vda"
for d in $disks; do
	hostrun /usr/bin/dd if=/dev/zero of=/dev/$d bs=1M count=256 oflag=direct status=none
done

# An idle window: L1 measures the exits a quiet guest makes, per second.
G begin idle
sleep "$runtime"
G end idle

# Block workloads: "rw iodepth jobs" (colon-separated).
wls="randread 1 1:randread 32 1:randread 1 2:randread 32 2"
wls="$wls:randwrite 1 1:randwrite 32 1:randwrite 1 2:randwrite 32 2"
part block || wls=
IFS=:
set -- $wls
IFS=' '
# One fio per workload, its runs one after the other (stonewall), on pvda
# then vda, REPS times: fio's start (~10 s here: 64 shared libraries over
# 9p, under nested emulation) is paid once, not per run.  Each run: 1 s of
# ramp, the window, 4 s more (the window may overshoot under emulation).
for wl in "$@"; do
	set -- $wl
	rw=$1 qd=$2 jobs=$3
	runs= jobargs=
	r=1
	while [ $r -le "$reps" ]; do
		for d in pvda vda; do
			runs="$runs $d-$r"
			jobargs="$jobargs --name=$d-$r --filename=/dev/$d --stonewall"
		done
		r=$((r + 1))
	done
	# shellcheck disable=SC2086 # jobargs: one word per option
	hostrun /usr/bin/fio --direct=1 --ioengine=libaio --rw="$rw" --bs=4k \
		--iodepth="$qd" --numjobs="$jobs" --group_reporting --thread \
		--clocksource=clock_gettime --time_based --ramp_time=1 \
		--runtime=$((runtime + 4)) --size=256M --randrepeat=0 \
		--output-format=terse --terse-version=3 --output=/tmp/fio.terse \
		$jobargs >/dev/null 2>&1 &
	fio=$!
	: >/tmp/windows
	for run in $runs; do
		d=${run%-*}
		# I/O flows on this run's disk.
		flowing ios $d
		tag="$d $rw $qd $jobs ${run#*-}"
		i0=$(irqs $d)
		disk $d
		s0=$S t0=$T
		G begin "$tag"
		sleep "$runtime"
		i1=$(irqs $d)
		disk $d
		s1=$S t1=$T
		G end "$tag"
		echo "$run $((s1 - s0)) $((t1 - t0)) $((i1 - i0))" >>/tmp/windows
	done
	wait $fio
	# Completion latency of each run (its group's terse line, by job
	# name): mean (field 16 read, 57 write) and p99 (the 13th percentile
	# field: 30, 71; "99.000000%=N").
	if [ $rw = randread ]; then m=16 p=30; else m=57 p=71; fi
	while read -r run nio cs nirq; do
		line=$(grep "^3;[^;]*;$run;" /tmp/fio.terse | head -n 1)
		G result "${run%-*} $rw $qd $jobs ${run#*-}" ios=$nio csecs=$cs \
			iops=$((nio * 100 / (cs > 0 ? cs : 1))) \
			lat_us=$(echo "$line" | cut -d';' -f$m) \
			p99_us=$(echo "$line" | cut -d';' -f$p | cut -d= -f2) irqs=$nirq
	done </tmp/windows
done

# Network: pvnet0 (L1 192.0.2.1) and the virtio-net device (L1
# 192.0.2.129), fixed neighbours.  Workloads: TCP stream from and to L2
# (iperf3), 64-byte UDP from L2 (iperf3, unlimited rate), TCP ping-pong
# (sockperf, 64-byte messages); per run, packets and bytes through the
# device in the window, latency from sockperf.
vnet() {
	for i in /sys/class/net/*; do
		[ "$(basename "$(readlink -f "$i"/device/driver)")" = virtio_net ] &&
			basename "$i"
	done
}
vnet=$(vnet)
net_up() { # net_up DEV ADDR PEER PEER_MAC
	ip addr add "$2"/25 dev "$1" && ip link set "$1" up &&
		hostrun /sbin/ip neigh replace "$3" lladdr "$4" dev "$1" nud permanent
}
nets=
if part net; then
	i=0
	while { [ ! -e /sys/class/net/pvnet0 ] || [ -z "$vnet" ]; } && [ $i -lt 30 ]; do
		sleep 1
		i=$((i + 1))
		vnet=$(vnet)
	done
	net_up pvnet0 192.0.2.2 192.0.2.1 52:54:00:c0:00:01 &&
		net_up "$vnet" 192.0.2.130 192.0.2.129 52:54:00:c0:00:81 &&
		nets="tcp_tx tcp_rx udp64_tx rr"
	G netdevs "pvnet0 $vnet"
	sleep 2
fi
for wl in $nets; do
	r=1
	while [ $r -le "$reps" ]; do
		for d in pvnet0 $vnet; do
			if [ $d = pvnet0 ]; then peer=192.0.2.1; else peer=192.0.2.129; fi
			t=$((runtime + 4))
			case $wl in
			tcp_tx) hostrun /usr/bin/iperf3 -c $peer -t $t >/tmp/net.out 2>&1 & ;;
			tcp_rx) hostrun /usr/bin/iperf3 -c $peer -t $t -R >/tmp/net.out 2>&1 & ;;
			udp64_tx) hostrun /usr/bin/iperf3 -c $peer -t $t -u -l 64 -b 0 >/tmp/net.out 2>&1 & ;;
			rr) hostrun /usr/bin/sockperf ping-pong -i $peer --tcp -m 64 -t $t >/tmp/net.out 2>&1 & ;;
			esac
			job=$!
			# Traffic flows (nothing else moves these counters).
			flowing pkts $d
			tag="net $d $wl $r"
			i0=$(irqs $d)
			net $d
			p0=$P rb0=$RB tb0=$TB t0=$T
			G begin "$tag"
			sleep "$runtime"
			i1=$(irqs $d)
			net $d
			p1=$P rb1=$RB tb1=$TB t1=$T
			G end "$tag"
			wait $job
			# sockperf: "avg-latency=X (std-dev=...)" and percentiles, in usec.
			lat=$(sed -n 's/.*avg-latency=\([0-9.]*\).*/\1/p' /tmp/net.out | tail -n 1)
			p99=$(sed -n 's/.*percentile 99.000 = *\([0-9.]*\).*/\1/p' /tmp/net.out | tail -n 1)
			G result "$tag" pkts=$((p1 - p0)) rx_bytes=$((rb1 - rb0)) \
				tx_bytes=$((tb1 - tb0)) csecs=$((t1 - t0)) irqs=$((i1 - i0)) \
				${lat:+lat_us=$lat} ${p99:+p99_us=$p99}
		done
		r=$((r + 1))
	done
done

# clock_gettime() on each clocksource L2 has, in turn (L1 frames the run
# for its VM exits).  tsc is there when the kernel did not find it
# unstable; pvchan-time is the fallback without a usable TSC.
cs=/sys/devices/system/clocksource/clocksource0
grep -q ' /sys/kernel/tracing ' /proc/mounts ||
	mount -t tracefs tracefs /sys/kernel/tracing
# The ones the kernel lets us switch to (it refuses tsc once unstable).
clocks=
for c in pvchan-tsc kvm-clock tsc pvchan-time; do
	part clock && grep -qw "$c" $cs/available_clocksource || continue
	echo "$c" >$cs/current_clocksource 2>/dev/null
	[ "$(cat $cs/current_clocksource)" = "$c" ] && clocks="$clocks $c"
done
G clocksources "$clocks"
r=1
while [ $r -le "$reps" ]; do
	for c in $clocks; do
		echo "$c" >$cs/current_clocksource
		G begin "clock $c $r"
		v=$(/clock_test cost 500000)
		G end "clock $c $r"
		G result clock "$c" "$r" reads=500000 \
			"$(echo "$v" | awk '{ printf "ns_per_read=%s syscalls_per_read=%s", $2, $4 }')"
	done
	r=$((r + 1))
done
echo pvchan-tsc >$cs/current_clocksource
echo "=== BENCH DONE"
sleep 600
