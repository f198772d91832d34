# shellcheck shell=dash
# L2 side of make bench (/test.sh, busybox sh): the block workloads on the
# pvchan disk (pvda) and the virtio-blk disk (vda), alternated.  fio (from
# the machine's root, hostrun) starts, and once I/O flows a window of
# PVCHAN_BENCH_RUNTIME seconds is framed by "G begin" and "G end" lines, at
# which L1 takes its counters; the window's I/Os are the disk's own
# counts (/sys/block), its interrupts those of /proc/interrupts.  fio runs
# 2 s (ramp) + the window + 3 s; its completion latencies leave out the
# ramp.  Env (kernel command line): PVCHAN_BENCH_REPS, PVCHAN_BENCH_RUNTIME.
G() { echo "G $*"; }
reps=${PVCHAN_BENCH_REPS:-5}
runtime=${PVCHAN_BENCH_RUNTIME:-5}
# irqs DEV: interrupts so far of the disk, all vCPUs: pvchan's queue
# interrupts (the disk is the only pvchan device), or the virtio transport
# of vda (not the 9p one hostrun uses).
irqs() {
	case $1 in
	pvda) pat='pvchan-dev' ;;
	vda) pat="$(basename "$(readlink -f /sys/block/vda/device)")\$" ;;
	esac
	grep -E "$pat" /proc/interrupts |
		awk '{ for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i } END { print s + 0 }'
}
# ios DEV: reads and writes completed so far.
ios() { awk '{ print $1 + $5 }' /sys/block/"$1"/stat; }
# up: uptime in 1/100 s.
up() { tr -d . </proc/uptime | cut -d' ' -f1; }
# terse FIELD: one field of fio's terse (v3) output; latencies in us.
terse() { cut -d';' -f"$1" /tmp/fio.terse | head -n 1; }

insmod /pvchan_guest.ko || G insmod_failed 1
hostrun /sbin/modprobe virtio_blk
i=0
until [ -b /dev/pvda ] && [ -b /dev/vda ] || [ $i -ge 30 ]; do
	sleep 1
	i=$((i + 1))
done
G disks "$(ls /sys/block | tr '\n' ' ')"
grep -E 'pvchan|virtio' /proc/interrupts | sed 's/^/# /'
# The same write-once content on both (randread reads data, not holes).
for d in pvda vda; do
	hostrun /usr/bin/dd if=/dev/zero of=/dev/$d bs=1M count=256 oflag=direct status=none
done

# An idle window: L1 measures the exits a quiet guest makes, per second.
G begin idle
sleep "$runtime"
G end idle

for wl in "randread 1 1" "randread 32 1" "randread 1 2" "randread 32 2" \
	"randwrite 1 1" "randwrite 32 1" "randwrite 1 2" "randwrite 32 2"; do
	set -- $wl
	rw=$1 qd=$2 jobs=$3
	r=1
	while [ $r -le "$reps" ]; do
		for d in pvda vda; do
			tag="$d $rw $qd $jobs $r"
			hostrun /usr/bin/fio --name=b --filename=/dev/$d --direct=1 \
				--ioengine=libaio --rw="$rw" --bs=4k --iodepth="$qd" \
				--numjobs="$jobs" --group_reporting --thread \
				--clocksource=clock_gettime --time_based \
				--ramp_time=2 --runtime=$((runtime + 3)) \
				--size=256M --randrepeat=0 --output-format=terse \
				--terse-version=3 --output=/tmp/fio.terse >/dev/null 2>&1 &
			fio=$!
			# I/O flows, and a second more for every job to be at it.
			s=$(ios $d) i=0
			while [ "$(ios $d)" = "$s" ] && [ $i -lt 300 ]; do
				sleep 0.2
				i=$((i + 1))
			done
			sleep 1
			G begin "$tag"
			s0=$(ios $d) i0=$(irqs $d) t0=$(up)
			sleep "$runtime"
			s1=$(ios $d) i1=$(irqs $d) t1=$(up)
			G end "$tag"
			wait $fio
			# Completion latency: mean (field 16 read, 57 write) and
			# p99 (the 13th percentile field: 30, 71; "99.000000%=N").
			if [ $rw = randread ]; then m=16 p=30; else m=57 p=71; fi
			G result "$tag" ios=$((s1 - s0)) csecs=$((t1 - t0)) \
				iops=$(((s1 - s0) * 100 / (t1 - t0))) lat_us=$(terse $m) \
				p99_us=$(terse $p | cut -d= -f2) irqs=$((i1 - i0))
		done
		r=$((r + 1))
	done
done
echo "=== BENCH DONE"
sleep 600
