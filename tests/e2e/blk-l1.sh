#!/bin/bash
# pvblk end to end; runs in L1 (harness/run-l1.sh).  Disks for one L2: a
# 64 MiB image file (tmpfs: buffered path), a read-only image, a 320 MiB
# loop block device (asynchronous direct I/O path), a scratch image, two
# that lose requests (fault knobs), and one hot-added later.  L2 runs dd,
# fio --verify, mkfs.ext4/e2fsck, discard, resize, hot-add and hot-remove
# against them.  Prints TAP.
# Env: PVCHAN_BLK_FIO_MIB (MiB per fio --verify run, default 256; the
# 6.12 tier of make check runs 64).
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
FIO_MIB=${PVCHAN_BLK_FIO_MIB:-256}
n=0 fail=0

gsum() { sed -n "s/^G blk[0-9]*\/q[0-9]* $1 //p" "$work/l2.log" | tr -d '\r' | awk '{ s += $1 } END { print s + 0 }'; }
# Samples in a guest histogram (KEY le_Nns COUNT lines), healthy disks.
ghist() { sed -n "s/^G blk[0-3]\/q[0-9]* $1 le_[0-9]*ns //p" "$work/l2.log" | tr -d '\r' | awk '{ s += $1 } END { print s + 0 }'; }
gdev() { sed -n "s/^G blk$1\/q[0-9]* $2 //p" "$work/l2.log" | tr -d '\r' | awk '{ s += $1 } END { print s + 0 }'; }

modprobe kvm_amd
modprobe loop
dmesg -C
check "insmod pvchan_host" insmod "$REPO/host/pvchan_host.ko"

truncate -s 64M "$work/d0.img"
dd if=/dev/urandom of="$work/d1.img" bs=1M count=8 status=none
truncate -s 320M "$work/d2.img"
truncate -s 64M "$work/d3.img"
truncate -s 1M "$work/d4.img" "$work/d5.img"
loopdev=$(losetup --find --show "$work/d2.img")
d1sha=$(sha256sum <"$work/d1.img" | cut -d' ' -f1)

"$H/mkinitramfs.sh" "$work/l2.cpio.gz" l2 \
	"$REPO/guest/pvchan_guest.ko:/pvchan_guest.ko" \
	"$REPO/tests/e2e/blk-l2.sh:/test.sh" \
	"$REPO/udev/60-pvchan.rules:/60-pvchan.rules" 2>/dev/null
# Start L2 paused, attach the disks, arm the fault knobs, resume.
start_l2() {
	qpid=$("$H/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$work/l2.log" \
		--smp 2 --mem 768M --append "quiet PVCHAN_BLK_FIO_MIB=$FIO_MIB" --share-root --paused "$work/mon" \
		--timeout 2400)
	"$REPO/tools/pvchanctl/pvchanctl" attach --pid "$qpid" \
		--blk "$work/d0.img,serial=PVTEST0,queues=2" \
		--blk "$work/d1.img,ro,serial=PVRO1" \
		--blk "$loopdev,serial=PVLOOP2" \
		--blk "$work/d3.img,serial=PVSCRATCH3,queues=2" \
		--blk "$work/d4.img,serial=PVLOSE1,queues=1" \
		--blk "$work/d5.img,serial=PVLOSEALL,queues=1" >"$work/ctl.log" 2>&1 &
	ctl=$!
	wait_for "$work/ctl.log" '^pvchanctl: attached' 30 || return 1
	vm=$(sed -n 's/.*VM \([0-9]*\) bound.*/\1/p' "$work/ctl.log" | head -n1)
	vm=${vm:-0}
	timeout 10 bash -c "echo cont >\"$work/mon.in\"" || echo "# could not resume L2"
}
l2_start start_l2
check "pvchanctl attaches six disks" [ $attached = 1 ]
# The L2 console, copied out every 10 s while it runs (for post-mortems).
(while sleep 10; do cp "$work/l2.log" "$out/blk-l2-console.log" 2>/dev/null; done) &
copier=$!
sed 's/^/# /' "$work/ctl.log"

# VM exits (all reasons, KVM's own counter) and pvdc requests during the
# iodepth-32 fio run: exits per request, for the record.
# Requests per worker run (batches) too, for the record: the SCHED_BATCH
# worker lets them collect while L2's vCPU runs on L1's one CPU (make bench
# measures it; here, with the pair of suites loading the machine and an
# asynchronous backend, 2.1 with 6.1 in L1 and 1.2 with 6.12).
d2sum() { cat $dbg/vm"$vm"/dev2/q*/stats | sed -n "s/^$1 //p" | awk '{ s += $1 } END { print s + 0 }'; }
exits_per_req=- reqs_per_batch=0 workers=-
if l2_wait "$work/l2.log" '^G fio32_begin' 1500; then
	e0=$(cat /sys/kernel/debug/kvm/exits) r0=$(d2sum requests) b0=$(d2sum batches)
	if l2_wait "$work/l2.log" '^G fio32_rc' 1500; then
		e1=$(cat /sys/kernel/debug/kvm/exits) r1=$(d2sum requests) b1=$(d2sum batches)
		exits_per_req=$(awk -v e=$((e1 - e0)) -v r=$((r1 - r0)) 'BEGIN { printf "%.2f", r ? e / r : 0 }')
		reqs_per_batch=$(awk -v b=$((b1 - b0)) -v r=$((r1 - r0)) 'BEGIN { printf "%.1f", b ? r / b : 0 }')
		echo "# fio iodepth 32 on pvdc: $((r1 - r0)) requests in $((b1 - b0)) worker runs ($reqs_per_batch each), $((e1 - e0)) VM exits (all reasons): $exits_per_req per request"
	fi
	# Scheduling class of pvdc's worker threads (B: SCHED_BATCH, TS: normal).
	workers=$(ps -eo cls=,comm= | awk '$2 ~ /^pvchan[0-9]+-2\./ { print $1 }' | sort | uniq -c | xargs)
fi
# Fault injection when L2 gets there (not during the partition scans):
# dev4 loses its next request, dev5 every request; then a configuration
# change of dev4 tells L2 the knobs are armed.
if l2_wait "$work/l2.log" '^G lose_ready' 1500; then
	echo 1 >$dbg/vm"$vm"/dev4/fault_drop_completions
	echo 1000000 >$dbg/vm"$vm"/dev5/fault_drop_completions
	echo 5000 >$dbg/vm"$vm"/dev3/fault_delay_us
	"$REPO/tools/pvchanctl/pvchanctl" resize --pid "$qpid" --dev 4
fi
# The capacity change and the flushed write.
resize_rc=- flush_sha=-
if l2_wait "$work/l2.log" '^G resize_ready' 600; then
	truncate -s 96M "$work/d3.img"
	"$REPO/tools/pvchanctl/pvchanctl" resize --pid "$qpid" --dev 3
	resize_rc=$?
	if l2_wait "$work/l2.log" '^G flush_ready' 300; then
		flush_sha=$(dd if="$work/d3.img" bs=1M skip=95 count=1 status=none |
			sha256sum | cut -d' ' -f1)
	fi
fi
# Hot-add a disk, then hot-remove it under I/O.
add_rc=- remove_rc=- hot_info=
if l2_wait "$work/l2.log" '^G hotadd_ready' 300; then
	truncate -s 16M "$work/d6.img"
	"$REPO/tools/pvchanctl/pvchanctl" add --pid "$qpid" --blk "$work/d6.img,serial=PVHOT6"
	add_rc=$?
	if l2_wait "$work/l2.log" '^G hotremove_ready' 300; then
		"$REPO/tools/pvchanctl/pvchanctl" remove --pid "$qpid" --dev 6
		remove_rc=$?
		hot_info=$(cat $dbg/vm"$vm"/info)
	fi
fi
l2_wait "$work/l2.log" '^=== BLK DONE' 600
sed 's/^/# L2: /' "$work/l2.log"
check "L2 ran its whole script" l2_gone "$work/l2.log" '^=== BLK DONE'
for f in $dbg/vm"$vm"/dev*/q*/stats; do sed "s|^|# host ${f#$dbg/}: |" "$f"; done
sed 's/^/# host rejects: /' $dbg/vm"$vm"/rejects

check "disks appear with their sizes (131072, 16384, 655360, 131072 sectors)" \
	[ "$(g pvda_size) $(g pvdb_size) $(g pvdc_size) $(g pvdd_size)" = "131072 16384 655360 131072" ]
check "serial numbers" [ "$(g pvda_serial) $(g pvdb_serial) $(g pvdc_serial) $(g pvdd_serial)" = "PVTEST0 PVRO1 PVLOOP2 PVSCRATCH3" ]
check "read-only flag only on pvdb" [ "$(g pvda_ro) $(g pvdb_ro) $(g pvdc_ro) $(g pvdd_ro)" = "0 1 0 0" ]
check "one hardware queue per vCPU (2)" [ "$(g nr_hw_queues)" = 2 ]
check "write cache announced (flush)" [ "$(g write_cache)" = "write back" ]
check "discard announced" [ "$(g max_discard)" -gt 0 ]
# max_segments, max_segment_size, max_hw_sectors_kb, discard_granularity,
# write_zeroes_max_bytes: the host's limits (128 segments, 1 MiB requests,
# the tmpfs page as granularity, 2 GiB zeroing).
check "queue limits from the host ($(g queue_limits))" \
	[ "$(g queue_limits)" = "128 1048576 1024 4096 2147483648 " ]
check "64 MiB random pattern written with dd" [ "$(g dd_write_rc)" = 0 ]
check "pattern reads back (sha256)" [ -n "$(g pat_sha)" -a "$(g pat_sha)" = "$(g pvda_sha)" ]
check "image file in L1 has the same sha256" \
	[ "$(g pat_sha)" = "$(sha256sum <"$work/d0.img" | cut -d' ' -f1)" ]
check "read-only disk reads the host file" [ "$(g pvdb_sha)" = "$d1sha" ]
check "read-only disk refuses writes" [ "$(g ro_write_rc)" = 1 ]
check "mkfs.ext4 and mount on the loop-backed disk" [ "$(g mkfs_rc)$(g mount_rc)$(g umount_rc)" = 000 ]
check "e2fsck -fn clean" [ "$(g fsck_rc)" = 0 ]
check "rmmod pvchan_guest with ext4 mounted is refused (rc $(g rmmod_busy_rc)), the module stays" \
	[ -n "$(g rmmod_busy_rc)" -a "$(g rmmod_busy_rc)" != 0 -a "$(g rmmod_busy_loaded)" = 1 ]
check "files verified after remount" [ "$(g files_ok)" = 1 ]
check "udev: /dev/disk/by-id/pvchan-PVTEST0 and -PVLOOP2 name pvda and pvdc" \
	[ "$(g byid_pvda) $(g byid_pvdc)" = "../../pvda ../../pvdc" ]
check "udev: /dev/disk/by-uuid/ of the ext4 on pvdc" [ "$(g byuuid_pvdc)" = "../../pvdc" ]
check "fio randwrite+verify, iodepth 1, 64 KiB, 2 jobs, $(g fio1_mib) MiB" \
	[ "$(g fio1_rc)" = 0 -a "$(g fio1_mib)" -ge "$FIO_MIB" ]
check "fio randwrite+verify, iodepth 32, 4+64 KiB, 2 jobs, $(g fio32_mib) MiB ($exits_per_req VM exits per request)" \
	[ "$(g fio32_rc)" = 0 -a "$(g fio32_mib)" -ge "$FIO_MIB" ]
check "DISCARD reads back zeroes" [ "$(g discard_rc)$(g discard_zero)" = 01 ]
check "WRITE_ZEROES reads back zeroes" [ "$(g wzeroes_rc)$(g wzeroes_zero)" = 01 ]
check "block device backend: DISCARD and WRITE_ZEROES read back zeroes" \
	[ "$(g bdiscard_rc)$(g bdiscard_zero)$(g bwzeroes_rc)$(g bwzeroes_zero)" = 0101 ]
sync
alloc=$(du -k "$work/d3.img" | cut -f1)
check "discarded image is sparse in L1 (${alloc} KiB allocated of 65536)" [ "$alloc" -lt 65536 ]
check "guest requests == host requests, healthy disks ($(gsum submitted))" \
	[ "$(($(gdev 0 submitted) + $(gdev 1 submitted) + $(gdev 2 submitted) + $(gdev 3 submitted)))" = \
	  "$(cat $dbg/vm"$vm"/dev[0-3]/q*/stats | sed -n 's/^requests //p' | awk '{ s += $1 } END { print s + 0 }')" ]
hhist() { cat $dbg/vm"$vm"/dev[0-3]/q*/stats | sed -n "s/^$1 le_[0-9]*ns //p" | awk '{ s += $1 } END { print s + 0 }'; }
gdone=$(($(gdev 0 completed) + $(gdev 1 completed) + $(gdev 2 completed) + $(gdev 3 completed)))
hdone=$(cat $dbg/vm"$vm"/dev[0-3]/q*/stats | sed -n 's/^completions //p' | awk '{ s += $1 } END { print s + 0 }')
check "guest stage histograms (total, host backend, host post, channel) count every completion ($gdone)" \
	[ "$(ghist latency_total) $(ghist stage_host_backend) $(ghist stage_host_post) $(ghist stage_channel)" = "$gdone $gdone $gdone $gdone" ]
check "host stage histograms (backend, post) count every completion ($hdone)" \
	[ "$(hhist stage_backend) $(hhist stage_post)" = "$hdone $hdone" ]
hsum() { cat $dbg/vm"$vm"/dev[0-3]/q*/stats | sed -n "s/^$1 //p" | awk '{ s += $1 } END { print s + 0 }'; }
gops= hops=
for op in read write flush discard write_zeroes; do
	gops="$gops $(($(gdev 0 op_$op) + $(gdev 1 op_$op) + $(gdev 2 op_$op) + $(gdev 3 op_$op)))"
	hops="$hops $(hsum op_$op)"
done
check "guest and host count the same requests by op (read write flush discard write_zeroes:$gops)" \
	[ "$gops" = "$hops" ]
gbe="$(($(gdev 0 bytes) + $(gdev 1 bytes) + $(gdev 2 bytes) + $(gdev 3 bytes))) $(($(gdev 0 errors) + $(gdev 1 errors) + $(gdev 2 errors) + $(gdev 3 errors)))"
check "guest and host count the same bytes and errors ($gbe)" [ "$gbe" = "$(hsum bytes) $(hsum errors)" ]
# The fio disk: notifications per request, for the record (with a fast
# backend the host queue is mostly empty, so about one of each).
d2req=$(cat $dbg/vm"$vm"/dev2/q*/stats | sed -n 's/^requests //p' | awk '{ s += $1 } END { print s + 0 }')
d2kick=$(cat $dbg/vm"$vm"/dev2/q*/stats | sed -n 's/^kicks //p' | awk '{ s += $1 } END { print s + 0 }')
d2irq=$(cat $dbg/vm"$vm"/dev2/q*/stats | sed -n 's/^irqs //p' | awk '{ s += $1 } END { print s + 0 }')
echo "# pvdc (fio; the host idles between requests): $d2req requests, $d2kick kicks, $d2irq interrupts"
check "pvdc's two queues share one SCHED_BATCH worker thread on L1's one CPU ($workers)" \
	[ "$workers" = "1 B" ]
check "busy queue (slow backend, iodepth 32): $(g busy_reqs) requests, $(g busy_kicks) kicks, $(g busy_irqs) interrupts: under 0.5 of each per request" \
	[ "$(g busy_rc)" = 0 -a "$(g busy_reqs)" -ge 1000 -a $(($(g busy_kicks) * 2)) -lt "$(g busy_reqs)" -a $(($(g busy_irqs) * 2)) -lt "$(g busy_reqs)" ]
check "no request timed out on the healthy disks" \
	[ "$(($(gdev 0 timeouts) + $(gdev 1 timeouts) + $(gdev 2 timeouts) + $(gdev 3 timeouts)))" = 0 ]
check "lost request on pvde: timed out, queue reset ($(gdev 4 resets)), resubmitted, read succeeds" \
	[ "$(g pvde_read)" = 4096 -a "$(gdev 4 timeouts)" -ge 1 -a "$(gdev 4 resets)" -ge 1 ]
check "pvdf loses everything: read fails with EIO after $(g pvdf_secs) s, no hang" \
	[ "$(g pvdf_rc)" = 1 -a "$(g pvdf_eio)" -ge 1 -a "$(g pvdf_secs)" -lt 120 ]
check "host counted the dropped completions" \
	[ "$(cat $dbg/vm"$vm"/dev4/q*/stats | sed -n 's/^fault_dropped //p')" = 1 ]
check "pvchanctl resize (64 -> 96 MiB) exits 0" [ "$resize_rc" = 0 ]
check "guest applied the new capacity (196608 sectors) and logged it" \
	[ "$(g pvdd_new_size)" = 196608 -a "$(g resize_logged)" = 1 -a "$(g capacity_changes)" = 1 ]
check "host raised an event interrupt per change (2 resizes, add, remove: 4)" \
	[ "$(sed -n 's/^events //p' $dbg/vm"$vm"/info)" = 4 ]
check "data written in the new space reads back" [ -n "$(g flush_sha)" -a "$(g tail_sha)" = "$(g flush_sha)" ]
check "flushed write is in the L1 image file once sync returned" [ "$flush_sha" = "$(g flush_sha)" ]
check "pvchanctl add and remove exit 0" [ "$add_rc$remove_rc" = 00 ]
check "hot-added disk appears as pvdg with its serial and size" \
	[ "$(g pvdg_serial) $(g pvdg_size)" = "PVHOT6 32768" ]
check "hot-added disk reads back what was written" [ -n "$(g pat4_sha)" -a "$(g pvdg_sha)" = "$(g pat4_sha)" ]
check "host shows dev6 removed" grep -qx 'dev6 removed' <<<"$hot_info"
check "reads in flight at hot-remove fail with EIO ($(g hotremove_ioerr) requests; fio: $(g hotremove_err)), fio ends after $(g hotremove_secs) s" \
	[ "$(g hotremove_reader_ended)" = 1 -a "$(g hotremove_ioerr)" -ge 1 ]
check "removed disk is gone from the guest" [ "$(g pvdg_gone)" = 1 ]
check "guest counted one hot-add and one hot-remove" [ "$(g hot_added) $(g hot_removed)" = "1 1" ]
check "data in the image file of the removed disk" \
	[ "$(dd if="$work/d6.img" bs=1M count=4 status=none | sha256sum | cut -d' ' -f1)" = "$(g pat4_sha)" ]
# Kicks that raced with the hot-remove are refused as nodev; nothing else.
sed -n 's/^nodev /# nodev rejects (hot-remove race): /p' $dbg/vm"$vm"/rejects
check "host rejected nothing else" \
	[ "$(grep -v '^nodev ' $dbg/vm"$vm"/rejects | awk '{ s += $2 } END { print s + 0 }')" = 0 ]
check "no guest kernel warnings" [ -z "$(g guest_splat)" ]

vm_teardown
losetup -d "$loopdev"
host_unload blk
kill "$copier"
cp "$work/l2.log" "$out/blk-l2-console.log" 2>/dev/null
echo "1..$n"
exit $fail
