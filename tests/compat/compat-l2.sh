# shellcheck shell=dash
# L2 side of the ABI compatibility matrix (/test.sh, busybox sh).  /g/list
# names the guest releases oldest first (/g/pvchan_guest-<abi>.ko, the last
# one this tree's guest).  Each is loaded in turn into the same boot and
# uses what it knows of the host's devices (echo, a disk, a network device,
# a clock) with real tools from the machine's root (hostrun), then is
# unloaded.  Every release writes 4 MiB of its own to the disk at offset
# 4 MiB * its row and reads back what the earlier ones wrote.  Prints
# "G <abi> <key> <value>" lines for the L1 side, then waits to be stopped.
G() { echo "G $*"; }
sha() { sha256sum | cut -d' ' -f1; }
cs=/sys/devices/system/clocksource/clocksource0
cs0=$(cat $cs/current_clocksource)
echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6
echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
: >/tmp/regions
# Warnings count from here: the boot's own (an RCU stall report when the
# emulator starves L2) are not the guests'.
dmesg -c >/dev/null

row=0
for abi in $(cat /g/list); do
	G "$abi" row $row
	if ! insmod "/g/pvchan_guest-$abi.ko"; then
		G "$abi" insmod 1
		continue
	fi
	G "$abi" insmod 0
	# Its debugfs directory (pvchan before 1.1); devices, nodes settle.
	d=/sys/kernel/debug/pvchan-guest
	[ -e $d/state ] || d=/sys/kernel/debug/pvchan
	i=0
	while ! grep -q '^state connected' $d/state && [ $i -lt 20 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	sleep 1
	G "$abi" state "$(sed -n 's/^state //p' $d/state)"
	sed "s/^/# $abi guest: /" $d/state

	if [ -e $d/echo0/run ]; then
		echo 200 >$d/echo0/run && G "$abi" echo_rc 0
		G "$abi" echo "$(tr '\n' ' ' <$d/echo0/result)"
	fi

	if [ -b /dev/pvda ]; then
		hostrun /usr/bin/dd if=/dev/urandom of=/tmp/w bs=1M count=4 status=none
		hostrun /usr/bin/dd if=/tmp/w of=/dev/pvda bs=1M seek=$((row * 4)) \
			oflag=direct conv=fsync status=none && G "$abi" blk_write_rc 0
		G "$abi" blk_written "$(sha </tmp/w)"
		G "$abi" blk_read "$(hostrun /usr/bin/dd if=/dev/pvda bs=1M \
			skip=$((row * 4)) count=4 iflag=direct status=none | sha)"
		# What the earlier releases wrote, read through this one.
		ok=0 all=0
		while read -r r s; do
			all=$((all + 1))
			[ "$(hostrun /usr/bin/dd if=/dev/pvda bs=1M skip=$((r * 4)) \
				count=4 iflag=direct status=none | sha)" = "$s" ] &&
				ok=$((ok + 1))
		done </tmp/regions
		G "$abi" blk_earlier "$ok/$all"
		echo "$row $(sha </tmp/w)" >>/tmp/regions
	fi

	if [ -e /sys/class/net/pvnet0 ]; then
		ip addr add 192.0.2.2/24 dev pvnet0
		ip link set pvnet0 up
		G "$abi" ping "$(ping -c 3 -W 10 192.0.2.1 |
			sed -n 's/.* \([0-9]*\) packets received.*/\1/p')"
		ip link set pvnet0 down
		ip addr flush dev pvnet0
	fi

	if grep -qw pvchan-tsc $cs/available_clocksource; then
		echo pvchan-tsc >$cs/current_clocksource
		G "$abi" clocksource "$(cat $cs/current_clocksource)"
		G "$abi" mono "$(/clock_test mono 200000)"
		echo "$cs0" >$cs/current_clocksource
	fi
	for c in /sys/class/ptp/ptp*; do
		[ "$(cat "$c/clock_name" 2>/dev/null)" = "pvchan host time" ] &&
			G "$abi" ptp "$(/clock_test ptp "/dev/${c##*/}")"
	done

	sed "s/^/G $abi hc_/" $d/hypercalls
	if rmmod pvchan_guest; then G "$abi" rmmod 0; else G "$abi" rmmod 1; fi
	row=$((row + 1))
done
dmesg | grep -qE 'WARNING|BUG|Call Trace' && G all guest_splat 1
echo "=== COMPAT DONE"
sleep 600
