#!/bin/bash
# Start an L2 KVM guest. Runs INSIDE L1 (in the chroot of L0's root).
#
#   run-l2.sh --initrd FILE --log FILE [--smp N] [--mem M] [--append "..."]
#             [--paused MONITOR_PREFIX] [--machine microvm|q35] [--timeout SEC]
#             [--share-root] [--kernel FILE] [--qemu-arg ARG]...
#
# Starts QEMU in the background, waits until it is fully set up (VM and vCPUs
# created), prints its PID and returns. The guest's serial console goes to
# LOG. Files beside LOG:
#   LOG.qemu   QEMU's own stdout/stderr
#   LOG.rc     QEMU's exit status, written when it exits (124: killed by
#              --timeout). With isa-debug-exit it is (rc<<1)|1, but prefer the
#              "=== L2 done rc=N" line in LOG (l2-init prints it).
# QEMU always starts paused with its HMP monitor on fifos PREFIX.in/.out
# (PREFIX defaults to /tmp/$(basename LOG).mon: fifos must live on a local
# filesystem, not on a 9p share). Without --paused it is resumed here; with
# --paused the caller binds the VM and then runs `echo cont > PREFIX.in`.
# Read PREFIX.out if you send many commands (a fifo holds 64 KiB).
# --share-root exports this (L1's) "/" read-only to L2 over virtio-9p, tag
# hostroot, and puts pvhostroot=hostroot on L2's command line: l2-init then
# mounts it at /host and test scripts run real tools with `hostrun /ABS/PATH`.
# --kernel FILE boots FILE instead of /boot/vmlinuz-$(kver.sh --l2) (e.g. a
# guest image's own kernel, with its own initramfs as --initrd).
# --qemu-arg ARG adds ARG to QEMU's command line, once per option (e.g. a
# virtio disk to compare with: make bench).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QEMU=${QEMU:-qemu-system-x86_64}
kernel='' initrd='' log='' smp=1 mem=512M append='' mon='' machine=microvm timeout=0 share_root=0
extra=()

usage() {
	echo "usage: run-l2.sh --initrd FILE --log FILE [--smp N] [--mem M] [--append ARGS]" \
		"[--paused MONITOR_PREFIX] [--machine microvm|q35] [--timeout SEC] [--share-root]" \
		"[--kernel FILE] [--qemu-arg ARG]..." >&2
	exit 2
}
while [[ $# -gt 0 ]]; do
	case $1 in
	--share-root)
		share_root=1
		shift
		continue
		;;
	--initrd) initrd=$2 ;;
	--kernel) kernel=$2 ;;
	--log) log=$2 ;;
	--smp) smp=$2 ;;
	--mem) mem=$2 ;;
	--append) append=$2 ;;
	--paused) mon=$2 paused=1 ;;
	--machine) machine=$2 ;;
	--timeout) timeout=$2 ;;
	--qemu-arg) extra+=("$2") ;;
	*) usage ;;
	esac
	shift 2 || usage
done
[[ -n $initrd && -n $log ]] || usage
[[ -f $initrd ]] || { echo "run-l2.sh: no such initrd: $initrd" >&2; exit 2; }
[[ -e /dev/kvm ]] || { echo "run-l2.sh: /dev/kvm missing (modprobe kvm_amd)" >&2; exit 2; }
mon=${mon:-/tmp/$(basename "$log").mon}
KVER=$("$HERE/kver.sh" --l2)
kernel=${kernel:-/boot/vmlinuz-$KVER}
[[ -f $kernel ]] || { echo "run-l2.sh: no such kernel: $kernel" >&2; exit 2; }

rm -f "$log" "$log.qemu" "$log.rc" "$log.pid" "$log.timedout" "$mon.in" "$mon.out"
mkfifo "$mon.in" "$mon.out"

if ((share_root)); then
	append="$append pvhostroot=hostroot"
fi

# microvm: no PCI, no firmware tables to speak of; boots the Debian kernel
# (PVH entry) and has the ISA serial port and isa-debug-exit.
# rcu_cpu_stall_timeout=300, as for L1 (run-l1.sh): an L2 vCPU that the
# emulator does not run for 21 s during boot, when the host is busy, is no
# RCU stall of L2's kernel (seen in three suites in one day, before any
# pvchan code was loaded); watchdog_thresh=60 likewise.
# shellcheck disable=SC2054 # commas belong to QEMU options
args=(-enable-kvm -cpu host -M "$machine" -smp "$smp" -m "$mem"
	-nodefaults -no-reboot -display none -serial "file:$log"
	-device isa-debug-exit,iobase=0xf4,iosize=0x04
	-kernel "$kernel" -initrd "$initrd"
	-append "console=ttyS0 panic=-1 no_timer_check watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=300 $append"
	-S -monitor "pipe:$mon")
if ((share_root)); then
	# microvm has no PCI: virtio-mmio transports, which the guest finds through
	# microvm's ACPI tables (Debian's kernel ignores virtio_mmio.device=).
	if [[ $machine == microvm ]]; then dev=virtio-9p-device; else dev=virtio-9p-pci; fi
	# shellcheck disable=SC2054 # commas belong to QEMU options
	args+=(-fsdev local,id=hr,path=/,readonly=on,security_model=none,multidevs=remap
		-device "$dev,fsdev=hr,mount_tag=hostroot")
fi

args+=("${extra[@]}")

# Wrapper: runs QEMU, records its PID and exit status. All its output goes to
# files so that `pid=$(run-l2.sh ...)` in the caller does not wait for it.
(
	"$QEMU" "${args[@]}" </dev/null >"$log.qemu" 2>&1 &
	qpid=$!
	echo "$qpid" >"$log.pid"
	if [[ $timeout -gt 0 ]]; then
		# Watchdog; killed below once QEMU is gone (its sleep may linger).
		{ sleep "$timeout" && touch "$log.timedout" && kill "$qpid"; } &
		wpid=$!
	fi
	rc=0
	wait "$qpid" || rc=$?
	[[ -e $log.timedout ]] && rc=124
	echo "$rc" >"$log.rc"
	[[ -z ${wpid:-} ]] || kill "$wpid" 2>/dev/null || true
) </dev/null >/dev/null 2>&1 &

# Wait until QEMU answers on the monitor. The banner alone is not enough (it
# is printed before machine init); commands are only served from the main
# loop, i.e. once the VM, its memory and vCPUs exist. Give up if QEMU exits.
# <> opens a fifo without blocking, even if QEMU never opens it.
exec {in}<>"$mon.in" {out}<>"$mon.out"
echo "info status" >&"$in"
deadline=$((SECONDS + 120))
until read -r -t 1 -u "$out" line && [[ $line == *"VM status"* ]]; do
	if [[ -e $log.rc || $SECONDS -ge $deadline ]]; then
		echo "run-l2.sh: QEMU did not come up:" >&2
		cat "$log.qemu" >&2 2>/dev/null || true
		[[ -e $log.rc ]] || kill "$(cat "$log.pid")" 2>/dev/null || true
		exit 1
	fi
done
exec {in}>&- {out}<&-
if [[ -z ${paused:-} ]]; then
	echo cont >"$mon.in"
fi
cat "$log.pid"
