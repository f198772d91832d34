# shellcheck shell=dash
# L2 side of the fault suite (/test.sh, busybox sh): fio --verify on pvda
# under each host fault in turn, then each of the guest's own (g_*).  For each phase it prints "G arm KIND",
# waits until L1 has armed the fault and announced it (a configuration
# change of the disk), runs fio, and prints "G fio_KIND RC SECONDS EIO".
G() { echo "G $*"; }
insmod /pvchan_guest.ko io_timeout=5 || G insmod_failed 1
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
for k in none io_errors dup_completions corrupt_descriptors drop_irqs \
	drop_kicks drop_completions g_io_errors g_corrupt g_drop_irqs \
	g_drop_kicks delay stall none_after; do
	G arm "$k"
	armed
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
		--offset=${off}M --size=2M --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --output-format=terse >/tmp/"$k".log 2>&1
	rc=$?
	G "fio_$k" "$rc $(($(cut -d. -f1 /proc/uptime) - t0)) $(grep -c 'Input/output error' /tmp/"$k".log)"
	[ $rc = 0 ] || sed "s/^/# fio $k: /" /tmp/"$k".log | grep -v '^# fio [a-z_]*: [0-9];' | head -n 5
	for f in $gknobs; do echo 0 >$gd/$f; done
	off=$((off + 4))
done
for q in /sys/kernel/debug/pvchan-guest/blk0/q*; do
	sed "s/^/G q /" "$q/stats"
done
dmesg | grep -E 'pvchan|pvda' | sed 's/^/# dmesg: /' | tail -n 40
dmesg | grep -E 'WARNING|BUG|Call Trace' && G guest_splat 1
echo "=== FAULTS DONE"
sleep 900
