# shellcheck shell=dash
# L2 side of the pvblk test (/test.sh, busybox sh).  Real tools come from
# the machine's root over 9p (hostrun).  Prints "G key value" lines for the
# L1 side; then waits to be stopped (L1 reads the host counters first).
D=/host/usr/bin
G() { echo "G $*"; }
# io_timeout=5: pvde and pvdf lose requests on purpose in step 6 (host
# fault knobs, armed by L1 then).
t0=$(cut -d. -f1 /proc/uptime)
insmod /pvchan_guest.ko io_timeout=5 || G insmod_failed 1
G insmod_secs $(($(cut -d. -f1 /proc/uptime) - t0))
cat /sys/kernel/debug/pvchan-guest/state
for d in pvda pvdb pvdc pvdd; do
	G ${d}_size "$(cat /sys/block/$d/size 2>/dev/null)"
	G ${d}_serial "$(cat /sys/block/$d/serial 2>/dev/null)"
	G ${d}_ro "$(cat /sys/block/$d/ro 2>/dev/null)"
done
G lbs "$(cat /sys/block/pvda/queue/logical_block_size)"
G nr_hw_queues "$(ls -d /sys/block/pvda/mq/* | wc -l)"
G write_cache "$(cat /sys/block/pvda/queue/write_cache)"
G max_discard "$(cat /sys/block/pvda/queue/discard_max_bytes)"
G queue_limits "$(cd /sys/block/pvda/queue && cat max_segments max_segment_size max_hw_sectors_kb discard_granularity write_zeroes_max_bytes | tr '\n' ' ')"

# 1. A random pattern over the whole of pvda, direct I/O, read back; pvda
# is not written again, so L1 can compare its image file at the end.
hostrun /usr/bin/dd if=/dev/urandom of=/tmp/pat bs=1M count=64 status=none
G pat_sha "$(sha256sum </tmp/pat | cut -d' ' -f1)"
hostrun /usr/bin/dd if=/tmp/pat of=/dev/pvda bs=1M oflag=direct status=none &&
	G dd_write_rc 0
G pvda_sha "$(hostrun /usr/bin/dd if=/dev/pvda bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)"
sync

# 2. The read-only disk reads back the host's file and refuses writes.
G pvdb_sha "$(hostrun /usr/bin/dd if=/dev/pvdb bs=1M iflag=direct status=none | sha256sum | cut -d' ' -f1)"
if hostrun /usr/bin/dd if=/tmp/pat of=/dev/pvdb bs=4k count=1 oflag=direct status=none 2>/dev/null; then
	G ro_write_rc 0
else
	G ro_write_rc 1
fi

# 3. fio with verification on pvdc (a block device in L1: asynchronous
# direct I/O there), PVCHAN_BLK_FIO_MIB (default 256) per run: queue depth
# 1 (64 KiB blocks) and 32 (half 4 KiB, half 64 KiB blocks: all 4 KiB would
# take minutes under nested emulation), two jobs on two queues.
half=$((${PVCHAN_BLK_FIO_MIB:-256} / 2))
for qd in 1 32; do
	bs=4k/50:64k/50
	[ $qd = 1 ] && bs=64k
	echo "G fio${qd}_begin 1"
	hostrun /usr/bin/fio --name=v$qd --filename=/dev/pvdc --direct=1 \
		--ioengine=libaio --rw=randwrite --bssplit=$bs --size=${half}M --numjobs=2 \
		--offset_increment=${half}M --iodepth=$qd --verify=crc32c \
		--verify_fatal=1 --group_reporting --output-format=terse \
		>/tmp/fio$qd.log 2>&1
	G fio${qd}_rc $?
	G fio${qd}_mib "$(grep '^3;' /tmp/fio$qd.log | awk -F';' '{ print int($47 / 1024) }')"
	tail -n 3 /tmp/fio$qd.log
done

# 4. ext4 on pvdc.
hostrun /sbin/modprobe ext4 2>/dev/null
hostrun /sbin/mkfs.ext4 -F -q /dev/pvdc && G mkfs_rc 0
mkdir -p /mnt
mount -t ext4 /dev/pvdc /mnt && G mount_rc 0
for f in fio mkfs.ext4 e2fsck; do
	p=$(hostrun /usr/bin/which $f)
	cp "/host$p" "/mnt/$f" && sha256sum "/host$p" | cut -d' ' -f1 >"/mnt/$f.sha"
done
hostrun /usr/bin/dd if=/dev/urandom of=/tmp/big bs=1M count=16 status=none
cp /tmp/big /mnt/big
sha256sum </tmp/big | cut -d' ' -f1 >/tmp/big.sha
# Unloading the driver under a mounted file system is refused (the
# disk holds the module), and the file system goes on as before.
rmmod pvchan_guest 2>/tmp/rmmod.err
G rmmod_busy_rc $?
G rmmod_busy_loaded "$([ -d /sys/module/pvchan_guest ] && echo 1 || echo 0)"
sed 's/^/# rmmod: /' /tmp/rmmod.err
sync
umount /mnt && G umount_rc 0
hostrun /sbin/e2fsck -fn /dev/pvdc >/tmp/fsck.log 2>&1
G fsck_rc $?
cat /tmp/fsck.log
mount -t ext4 /dev/pvdc /mnt
ok=1
for f in fio mkfs.ext4 e2fsck; do
	[ "$(sha256sum <"/mnt/$f" | cut -d' ' -f1)" = "$(cat "/mnt/$f.sha")" ] || ok=0
done
[ "$(sha256sum </mnt/big | cut -d' ' -f1)" = "$(cat /tmp/big.sha)" ] || ok=0
G files_ok $ok
umount /mnt

# 4b. Persistent names: udev (the host's systemd-udevd, run here) with
# udev/60-pvchan.rules makes /dev/disk/by-id/pvchan-<serial> and by-uuid.
# udevadm ignores requests in a chroot unless told otherwise.
export SYSTEMD_IGNORE_CHROOT=1
mkdir -p /host/run/udev/rules.d
cp /60-pvchan.rules /host/run/udev/rules.d/
hostrun /lib/systemd/systemd-udevd --daemon --resolve-names=never
hostrun /bin/udevadm trigger --subsystem-match=block --action=add
hostrun /bin/udevadm settle --timeout=60
G byid_pvda "$(readlink /dev/disk/by-id/pvchan-PVTEST0)"
G byid_pvdc "$(readlink /dev/disk/by-id/pvchan-PVLOOP2)"
uuid=$(hostrun /sbin/blkid -s UUID -o value /dev/pvdc)
G byuuid_pvdc "$([ -n "$uuid" ] && readlink "/dev/disk/by-uuid/$uuid")"

# 5. DISCARD and WRITE_ZEROES read back as zeroes.
hostrun /usr/bin/dd if=/dev/zero of=/tmp/zero bs=1M count=4 status=none
zsha=$(sha256sum </tmp/zero | cut -d' ' -f1)
hostrun /sbin/blkdiscard -o 0 -l 4M /dev/pvdd && G discard_rc 0
G discard_zero "$([ "$(hostrun /usr/bin/dd if=/dev/pvdd bs=1M count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)" = "$zsha" ] && echo 1 || echo 0)"
hostrun /usr/bin/dd if=/tmp/pat of=/dev/pvdd bs=1M count=4 seek=8 oflag=direct status=none
hostrun /sbin/blkdiscard -z -o 8M -l 4M /dev/pvdd && G wzeroes_rc 0
G wzeroes_zero "$([ "$(hostrun /usr/bin/dd if=/dev/pvdd bs=1M count=4 skip=8 iflag=direct status=none | sha256sum | cut -d' ' -f1)" = "$zsha" ] && echo 1 || echo 0)"
# The same on pvdc, a block device in L1: a real discard and a zero-out.
hostrun /usr/bin/dd if=/tmp/pat of=/dev/pvdc bs=1M count=8 seek=300 oflag=direct status=none
hostrun /sbin/blkdiscard -f -o 300M -l 4M /dev/pvdc && G bdiscard_rc 0
G bdiscard_zero "$([ "$(hostrun /usr/bin/dd if=/dev/pvdc bs=1M count=4 skip=300 iflag=direct status=none | sha256sum | cut -d' ' -f1)" = "$zsha" ] && echo 1 || echo 0)"
hostrun /sbin/blkdiscard -f -z -o 304M -l 4M /dev/pvdc && G bwzeroes_rc 0
G bwzeroes_zero "$([ "$(hostrun /usr/bin/dd if=/dev/pvdc bs=1M count=4 skip=304 iflag=direct status=none | sha256sum | cut -d' ' -f1)" = "$zsha" ] && echo 1 || echo 0)"

# 6. Lost completions: pvde loses one request (timeout, queue reset,
# resubmitted: the read succeeds); pvdf loses every request (after three
# timeouts the request fails with EIO).  Neither hangs.  L1 arms the fault
# knobs, then announces a configuration change of pvde: the handshake.
echo "G lose_ready 1"
i=0
while ! grep -q '^config_changes [1-9]' /sys/kernel/debug/pvchan-guest/state && [ $i -lt 120 ]; do
	sleep 1
	i=$((i + 1))
done

# 6a. A busy queue: L1 also made pvdd's backend slow (5 ms a request).
# With 32 requests queued the host finds work without being kicked and
# posts completions in batches: well under one kick and one interrupt per
# request (event-index suppression, completion-driven polling).
st() { awk -v k="$1" '$1 == k { s += $2 } END { print s + 0 }' /sys/kernel/debug/pvchan-guest/blk3/q*/stats; }
s0=$(st submitted) k0=$(st kicks) i0=$(st irqs)
hostrun /usr/bin/fio --name=busy --filename=/dev/pvdd --direct=1 --ioengine=libaio \
	--rw=randread --bs=4k --iodepth=32 --number_ios=1000 --size=64M \
	--output-format=terse >/tmp/busy.log 2>&1
G busy_rc $?
G busy_reqs $(($(st submitted) - s0))
G busy_kicks $(($(st kicks) - k0))
G busy_irqs $(($(st irqs) - i0))
G pvde_read "$(hostrun /usr/bin/dd if=/dev/pvde bs=4k count=1 iflag=direct status=none | wc -c)"
t0=$(cut -d. -f1 /proc/uptime)
if hostrun /usr/bin/dd if=/dev/pvdf of=/dev/null bs=4k count=1 skip=100 iflag=direct status=none 2>/tmp/f.err; then
	G pvdf_rc 0
else
	G pvdf_rc 1
fi
G pvdf_secs $(($(cut -d. -f1 /proc/uptime) - t0))
G pvdf_eio "$(grep -c 'Input/output error' /tmp/f.err)"

# 7. Capacity change: L1 grows pvdd's image from 64 to 96 MiB and runs
# pvchanctl resize; the new space is usable.  A buffered write there,
# then sync: L1 finds the data in its image file as soon as sync returned.
echo "G resize_ready 1"
i=0
while [ "$(cat /sys/block/pvdd/size)" = 131072 ] && [ $i -lt 120 ]; do
	sleep 1
	i=$((i + 1))
done
G pvdd_new_size "$(cat /sys/block/pvdd/size)"
G resize_logged "$(dmesg | grep -c 'pvdd: detected capacity change from 131072 to 196608')"
G capacity_changes "$(cat /sys/kernel/debug/pvchan-guest/blk3/capacity_changes)"
hostrun /usr/bin/dd if=/dev/urandom of=/tmp/tail bs=1M count=1 status=none
G flush_sha "$(sha256sum </tmp/tail | cut -d' ' -f1)"
hostrun /usr/bin/dd if=/tmp/tail of=/dev/pvdd bs=1M seek=95 status=none
sync
echo "G flush_ready 1"
G tail_sha "$(hostrun /usr/bin/dd if=/dev/pvdd bs=1M skip=95 iflag=direct status=none | sha256sum | cut -d' ' -f1)"

# 8. Hot-add: L1 adds a disk (pvchanctl add); it appears as pvdg and works.
echo "G hotadd_ready 1"
i=0
while [ ! -e /sys/block/pvdg ] && [ $i -lt 120 ]; do
	sleep 1
	i=$((i + 1))
done
G pvdg_serial "$(cat /sys/block/pvdg/serial 2>/dev/null)"
G pvdg_size "$(cat /sys/block/pvdg/size 2>/dev/null)"
hostrun /usr/bin/dd if=/tmp/pat of=/dev/pvdg bs=1M count=4 oflag=direct status=none
G pvdg_sha "$(hostrun /usr/bin/dd if=/dev/pvdg bs=1M count=4 iflag=direct status=none | sha256sum | cut -d' ' -f1)"
G pat4_sha "$(head -c 4194304 /tmp/pat | sha256sum | cut -d' ' -f1)"

# 9. Hot-remove with reads in flight: the reader fails with an I/O error
# instead of hanging, and the disk goes away.
(
	hostrun /usr/bin/fio --name=rm --filename=/dev/pvdg --direct=1 \
		--ioengine=libaio --rw=randread --bs=4k --iodepth=4 \
		--time_based --runtime=120 >/tmp/rm.log 2>&1
	echo done >/tmp/rm.done
) &
# Signal only once fio is really reading (200 requests submitted).
i=0
until [ "$(cat /sys/kernel/debug/pvchan-guest/blk6/q*/stats 2>/dev/null | awk '$1 == "submitted" { s += $2 } END { print s + 0 }')" -ge 200 ] ||
	[ -e /tmp/rm.done ] || [ $i -ge 120 ]; do
	sleep 1
	i=$((i + 1))
done
echo "G hotremove_ready 1"
t0=$(cut -d. -f1 /proc/uptime)
i=0
while [ ! -e /tmp/rm.done ] && [ $i -lt 120 ]; do
	sleep 1
	i=$((i + 1))
done
G hotremove_secs $(($(cut -d. -f1 /proc/uptime) - t0))
G hotremove_reader_ended "$([ -e /tmp/rm.done ] && echo 1 || echo 0)"
G hotremove_err "$(grep -o -m1 'error=[A-Za-z/ ]*' /tmp/rm.log)"
G hotremove_ioerr "$(dmesg | grep -c 'I/O error, dev pvdg')"
i=0
while [ -e /sys/block/pvdg ] && [ $i -lt 30 ]; do
	sleep 1
	i=$((i + 1))
done
G pvdg_gone "$([ -e /sys/block/pvdg ] && echo 0 || echo 1)"
grep -E '^(hot_added|hot_removed) ' /sys/kernel/debug/pvchan-guest/state | sed 's/^/G /'

for q in /sys/kernel/debug/pvchan-guest/blk*/q*; do
	b=${q%/*}
	sed "s/^/G ${b##*/}\/${q##*/} /" "$q/stats"
done
hostrun /bin/udevadm control --exit
dmesg | grep -E 'WARNING|BUG|Call Trace' && G guest_splat 1
echo "=== BLK DONE"
sleep 900
