# shellcheck shell=dash
# L2 side of the fault suite (/test.sh, busybox sh): fio --verify on pvda
# under each host fault in turn.  For each phase it prints "G arm KIND",
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
for k in none io_errors dup_completions corrupt_descriptors drop_irqs \
	drop_kicks drop_completions delay stall none_after; do
	G arm "$k"
	armed
	t0=$(cut -d. -f1 /proc/uptime)
	hostrun /usr/bin/fio --name="$k" --filename=/dev/pvda --direct=1 \
		--ioengine=libaio --rw=randwrite --bs=4k --iodepth=8 \
		--offset=${off}M --size=2M --verify=crc32c --do_verify=1 \
		--verify_fatal=1 --output-format=terse >/tmp/"$k".log 2>&1
	rc=$?
	G "fio_$k" "$rc $(($(cut -d. -f1 /proc/uptime) - t0)) $(grep -c 'Input/output error' /tmp/"$k".log)"
	[ $rc = 0 ] || sed "s/^/# fio $k: /" /tmp/"$k".log | grep -v '^# fio [a-z_]*: [0-9];' | head -n 5
	off=$((off + 4))
done
for q in /sys/kernel/debug/pvchan-guest/blk0/q*; do
	sed "s/^/G q /" "$q/stats"
done
dmesg | grep -E 'pvchan|pvda' | sed 's/^/# dmesg: /' | tail -n 40
dmesg | grep -E 'WARNING|BUG|Call Trace' && G guest_splat 1
echo "=== FAULTS DONE"
sleep 900
