# shellcheck shell=dash
# L2 side of the fault suite (/test.sh, busybox sh): fio --verify on pvda
# under each host fault in turn, then each of the guest's own (g_*), then
# backend restarts (restart*: L1 kills pvchanctl in the middle of the
# writes and starts it again).  For each phase it prints "G arm KIND",
# waits until L1 has armed the fault and announced it (a configuration
# change of the disk), runs fio, and prints "G fio_KIND RC SECONDS EIO".
G() { echo "G $*"; }
insmod /pvchan_guest.ko io_timeout=5 reconnect_timeout=20 || G insmod_failed 1
st=/sys/kernel/debug/pvchan-guest/state
gen=0
armed() {
	gen=$((gen + 1))
	i=0
	while [ "$(sed -n 's/^config_changes //p' $st)" -lt $gen ] && [ $i -lt 120 ]; do
		sleep 1
		i=$((i + 1))
	done
}
# 2 MiB of 4 KiB random writes with crc32c headers, read back
# and verified; every phase its own range.
off=0
gd=/sys/kernel/debug/pvchan-guest/blk0
gknobs="fault_io_errors fault_corrupt_descriptors fault_drop_irqs fault_drop_kicks"
# The disk's counters, before restart_gone replaces the disk.
qstats() {
	for q in /sys/kernel/debug/pvchan-guest/blk0/q*; do
		sed "s/^/G $1 /" "$q/stats"
	done
}
link() { sed -n "s/^$1 //p" $st; }
for k in none io_errors dup_completions corrupt_descriptors drop_irqs \
	drop_kicks drop_completions g_io_errors g_corrupt g_drop_irqs \
	g_drop_kicks delay stall restart restart_dd restart_gone none_after; do
	[ $k = restart ] && qstats q
	G arm "$k"
	armed
	size=2M
	case $k in restart*) size=8M ;; esac
	if [ $k = restart_dd ]; then
		# 8 MiB of random data, written while the backend restarts;
		# read back here, and by L1 from the image file.
		G features_before "$(link features)"
		dd if=/dev/urandom of=/tmp/r.bin bs=1M count=8 2>/dev/null
		G sha_written "$(sha256sum </tmp/r.bin | cut -d' ' -f1)"
		G dd_offset_mb $off
		hostrun /usr/bin/dd if=/tmp/r.bin of=/dev/pvda bs=64k \
			seek=$((off * 16)) oflag=direct conv=fsync status=none
		G dd_rc $?
		G sha_read "$(hostrun /usr/bin/dd if=/dev/pvda bs=1M skip=$off \
			count=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)"
		G features_after "$(link features)"
		G link "$(link link_losses) $(link reconnects) $(link last_outage_ms)"
		qstats r
		off=$((off + 8))
		continue
	fi
	# g_*: the guest's own knobs (L1 arms none of the host's).
	case $k in
	g_io_errors) echo 1 >$gd/fault_io_errors ;;
	g_corrupt) echo 1 >$gd/fault_corrupt_descriptors ;;
	g_drop_irqs) echo 4 >$gd/fault_drop_irqs ;;
	g_drop_kicks) echo 2 >$gd/fault_drop_kicks ;;
	esac
	t0=$(cut -d. -f1 /proc/uptime)
	hostrun /usr/bin/fio --name="$k" --filename=/dev/pvda --direct=1 \
		--ioengine=libaio --rw=randwrite --bs=4k --iodepth=8 \
		--offset=${off}M --size=$size --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --output-format=terse >/tmp/"$k".log 2>&1
	rc=$?
	G "fio_$k" "$rc $(($(cut -d. -f1 /proc/uptime) - t0)) $(grep -c 'Input/output error' /tmp/"$k".log)"
	[ $rc = 0 ] || sed "s/^/# fio $k: /" /tmp/"$k".log | grep -v '^# fio [a-z_]*: [0-9];' | head -n 5
	if [ $k = restart_gone ]; then
		# The disk was failed and removed; L1 attaches it again now.
		i=0
		until [ -b /dev/pvda ] && [ "$(link state)" = connected ] || [ $i -ge 120 ]; do
			sleep 1
			i=$((i + 1))
		done
		G reprobed "$(link state) $(link devices_failed) $([ -b /dev/pvda ] && echo pvda)"
	fi
	[ -d $gd ] && for f in $gknobs; do echo 0 >$gd/$f; done
	off=$((off + ${size%M}))
done
dmesg | grep -E 'pvchan|pvda' | sed 's/^/# dmesg: /' | tail -n 40
dmesg | grep -E 'WARNING|BUG|Call Trace' && G guest_splat 1
echo "=== FAULTS DONE"
sleep 900
