#!/bin/bash
# Run a script inside an L1 guest (TCG, -cpu max: SVM+NPT, so KVM works there).
#
#   run-l1.sh --script PATH --out DIR [--smp N] [--mem M] [--timeout SEC]
#             [--kernel KDIR] [--env NAME=VALUE ...]
#
# L1 sees L0's root read-only (9p) and chroots into it, so PATH (an L0 path)
# runs with L0's bash and tools. DIR is shared writable at the same path; the
# script finds it in $PVOUT. The serial console goes to stdout and
# DIR/l1-console.log. Exit status: the script's, 124 on timeout, 125 if L1
# never reported one.
#
# --kernel KDIR: boot KDIR/bzImage (a kunit/build-kernel.sh directory, with
# 9p/virtio built in) instead of Debian's kernel, with an initramfs that has
# no modules. The script gets PVCHAN_KDIR=KDIR, KVER=$(cat KDIR/kernelrelease)
# and PVCHAN_L2_KVER (the kernel L2 keeps booting, see kver.sh --l2); load
# KDIR's modules with `modprobe -d "$PVCHAN_KDIR/modules" NAME`.
# --env NAME=VALUE (repeatable): NAME=VALUE in the script's environment
# (passed as pvenv.NAME=VALUE on the kernel command line: VALUE must not
# contain whitespace or '"'; the whole command line is limited to 2047 bytes).
# Env: KVER (the Debian kernel L1 boots, see kver.sh; the script gets it
# too, so its L2 boots the same), PVCHAN_L2_KVER (L2's kernel instead),
# PVCHAN_L1_APPEND (more words for L1's kernel command line, e.g.
# tsc=reliable), PVCHAN_L1_CPU (QEMU -cpu for L1, default max),
# PVCHAN_L1_STALL, PVCHAN_L1_POKE (see below).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
QEMU=${QEMU:-/usr/bin/qemu-system-x86_64}
CACHE=${PVCHAN_INITRAMFS_CACHE:-/var/cache/pvchan/initramfs}
script='' out='' smp=2 mem=3G timeout=900 kdir=''
stall=${PVCHAN_L1_STALL:-300}	# seconds without an L1 heartbeat
poke=${PVCHAN_L1_POKE:-90}	# seconds without one before a key press
envs=()

usage() {
	echo "usage: run-l1.sh --script PATH --out DIR [--smp N] [--mem M] [--timeout SEC]" \
		"[--kernel KDIR] [--env NAME=VALUE ...]" >&2
	exit 2
}
while [[ $# -gt 0 ]]; do
	case $1 in
	--script) script=$2 ;;
	--kernel) kdir=$2 ;;
	--env) envs+=("${2-}") ;;
	--out) out=$2 ;;
	--smp) smp=$2 ;;
	--mem) mem=$2 ;;
	--timeout) timeout=$2 ;;
	*) usage ;;
	esac
	shift 2 || usage
done
[[ -n $script && -n $out ]] || usage
[[ -f $script ]] || { echo "run-l1.sh: no such script: $script" >&2; exit 2; }
script=$(realpath "$script")
mkdir -p "$out"
out=$(realpath "$out")
# Both go on the kernel command line, which splits on whitespace.
if [[ $script =~ [[:space:]] || $out =~ [[:space:]] ]]; then
	echo "run-l1.sh: paths must not contain whitespace" >&2
	exit 2
fi

# L1 mounts fresh devtmpfs/proc/sysfs over these: a script there is invisible.
# (/tmp and /run are tmpfs in L1 too, but l1-init binds back the top
# directory holding the script, e.g. a CI checkout in /tmp/ci.)
case $script in /tmp/*/* | /run/*/*) ;; /tmp/* | /run/* | /dev/* | /proc/* | /sys/*)
	echo "run-l1.sh: $script is hidden in L1 (/dev, /proc, /sys, /tmp/FILE); put it elsewhere" >&2
	exit 2 ;;
esac

KVER=$("$HERE/kver.sh")
export KVER

if [[ -n $kdir ]]; then
	[[ -d $kdir ]] || { echo "run-l1.sh: no such kernel directory: $kdir" >&2; exit 2; }
	kdir=$(realpath "$kdir")
	[[ -f $kdir/bzImage && -s $kdir/kernelrelease ]] ||
		{ echo "run-l1.sh: $kdir has no bzImage or kernelrelease" >&2; exit 2; }
	kernel=$kdir/bzImage
	sysmap=$kdir/build/System.map
	krel=$(<"$kdir/kernelrelease")
	# L1's KVER is this kernel's; L2 keeps booting $KVER (Debian's).
	envs=("PVCHAN_KDIR=$kdir" "KVER=$krel" "PVCHAN_L2_KVER=$KVER" "${envs[@]}")
	# 9p/virtio are built in: an initramfs without modules, for this kernel.
	key=$( {
		echo "$kdir $krel"
		sha256sum "$HERE/mkinitramfs.sh" "$HERE/l1-init" /bin/busybox
	} | sha256sum | cut -c1-16)
	initrd=$CACHE/l1-nomod-$krel-$key.cpio.gz
	mkargs=(--no-modules "$initrd" l1)
else
	# The script's kver.sh gives L1's kernel (or PVCHAN_L2_KVER from
	# here) to L2 too.
	envs=("KVER=$KVER" ${PVCHAN_L2_KVER:+"PVCHAN_L2_KVER=$PVCHAN_L2_KVER"} "${envs[@]}")
	kernel=/boot/vmlinuz-$KVER
	# Debian's System.map is a stub: l1-init saves L1's own text symbols.
	sysmap=$out/.l1-sysmap.gz
	# Initramfs cache, keyed by everything that goes into the image.
	key=$( {
		echo "$KVER"
		sha256sum "$HERE/mkinitramfs.sh" "$HERE/l1-init" "$HERE/kver.sh" /bin/busybox \
			"/lib/modules/$KVER/modules.dep"
	} | sha256sum | cut -c1-16)
	initrd=$CACHE/l1-$KVER-$key.cpio.gz
	mkargs=("$initrd" l1)
fi
if [[ ! -s $initrd ]]; then
	echo "run-l1.sh: building $initrd" >&2
	"$HERE/mkinitramfs.sh" "${mkargs[@]}"
fi

# no_timer_check: under TCG on a busy host the IO-APIC timer check can
# fail and panic the boot ("IO-APIC + timer doesn't work"), as in VMs.
# rcu_cpu_stall_timeout: an emulated CPU that the busy host does not run
# for a minute (two L1s on two cores) is not an RCU stall of L1's kernel;
# 300 s is the most RCU takes, and a real hang hits the watchdogs first.
# watchdog_thresh=60: soft lockups are reported after 120 s instead of 20:
# L1's TSC is the host's, and a host that stops running QEMU for a while
# (seen once: L1's clock jumped 44 s in a 9p read) is no lockup of L1's
# kernel.  run-l2.sh does the same for L2.
append="console=ttyS0 quiet panic=-1 no_timer_check watchdog_thresh=60 rcupdate.rcu_cpu_stall_timeout=300 pvscript=$script pvout=$out${kdir:+ PVCHAN_SYSMAP=1}${PVCHAN_L1_APPEND:+ $PVCHAN_L1_APPEND}"
for e in "${envs[@]}"; do
	if ! [[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; then
		echo "run-l1.sh: --env wants NAME=VALUE, got '$e'" >&2
		exit 2
	fi
	# The kernel splits its command line on whitespace and strips quotes.
	if [[ $e =~ [[:space:]\"] ]]; then
		echo "run-l1.sh: --env value must not contain whitespace or '\"': '$e'" >&2
		exit 2
	fi
	append+=" pvenv.$e"
done
if [[ ${#append} -gt 2047 ]]; then
	echo "run-l1.sh: kernel command line too long (${#append} > 2047 bytes)" >&2
	exit 2
fi

log=$out/l1-console.log
rm -f "$log"
start=$(date +%s)
# Stall watchdog: once L1 runs the script it writes $out/.l1-heartbeat every
# 10 s (l1-init).  No heartbeat for $stall s means the emulated machine
# stopped making progress: stop QEMU rather than wait for --timeout.  An
# oops (a task killed in the kernel) usually leaves the script hung on what
# the task held: QEMU is stopped 60 s after one, time for the script to
# report what it can.
rm -f "$out"/.l1-*
# Where a stalled L1's vCPUs are: registers and code from QEMU's monitor,
# the instruction pointers named from the kernel's System.map (L1 boots
# this machine's kernel; .l1-kallsyms gives its KASLR offset) or from
# .l1-modules.  Kept in .l1-regs.
l1_where() {
	python3 - "$out" "$sysmap" <<'PY' 2>&1 | tee "$out/.l1-regs"
import re, socket, sys, time
out, smap = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
try:
    s.connect(out + "/.l1-mon")
except OSError as e:
    print("no monitor:", e)
    sys.exit(0)
buf = b""
for cmd in ["info cpus", "info registers -a", "x/8i $pc", "info lapic", "info pic"]:
    s.sendall(cmd.encode() + b"\n")
    time.sleep(2)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
            if len(d) < 65536:
                break
    except socket.timeout:
        pass
text = buf.decode(errors="replace")
print(text)
syms = []
try:
    import gzip
    for line in (gzip.open(smap, "rt") if smap.endswith(".gz") else open(smap)):
        f = line.split()
        if len(f) == 3 and f[1] in "tTwW":
            syms.append((int(f[0], 16), f[2]))
except OSError:
    pass
syms.sort()
off = None
try:
    for line in open(out + "/.l1-kallsyms"):
        a, _, n = line.split()[:3]
        for sa, sn in syms:
            if sn == n and off is None:
                off = int(a, 16) - sa
except (OSError, ValueError):
    pass
mods = []
try:
    for line in open(out + "/.l1-modules"):
        f = line.split()
        mods.append((int(f[5], 16), int(f[1]), f[0]))
except (OSError, IndexError, ValueError):
    pass
import bisect
for rip in re.findall(r"RIP=([0-9a-f]{16})", text):
    ip = int(rip, 16)
    name = "?"
    for base, size, m in mods:
        if base <= ip < base + size:
            name = "%s+%#x (module)" % (m, ip - base)
    if name == "?" and syms and off is not None:
        i = bisect.bisect_right([a for a, _ in syms], ip - off) - 1
        if i >= 0:
            name = "%s+%#x" % (syms[i][1], ip - off - syms[i][0])
    print("run-l1.sh: vCPU at RIP %s: %s" % (rip, name))
PY
}
# l1_poke: press a key on L1's keyboard.  Some stalls are a lost wake-up in
# the emulator: a timer interrupt pending in the local APIC that the
# emulated CPU no longer looks at (harness/README.md).  Any new interrupt
# (here the keyboard's, through the I/O APIC) makes it look again.
l1_poke() {
	python3 - "$out/.l1-mon" <<'PY' >/dev/null 2>&1
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
time.sleep(0.2)
s.send(b"sendkey shift\n")
time.sleep(0.5)
s.close()
PY
}
(
	oops=0 poked=0
	while sleep 15; do
		if ((!oops)) && grep -qE 'kernel BUG at|BUG: unable to handle|general protection fault|Oops: ' \
			"$log" 2>/dev/null; then
			oops=$(date +%s)
		fi
		if ((oops && $(date +%s) - oops > 60)); then
			echo "run-l1.sh: L1 kernel oops (see $log), stopping QEMU" |
				tee "$out/.l1-stalled" >&2
			pkill -TERM -f -- "pvout=$out "
			break
		fi
		[[ -e $out/.l1-heartbeat ]] || continue
		age=$(($(date +%s) - $(stat -c %Y "$out/.l1-heartbeat")))
		if ((age > poke && !poked)); then
			echo "run-l1.sh: no L1 heartbeat for ${age}s: a key press to L1" >&2
			l1_poke
			poked=1
		elif ((age <= poke && poked)); then
			echo "run-l1.sh: L1 runs again after the key press" >&2
			poked=0
		fi
		if ((age > stall)); then
			echo "run-l1.sh: L1 stalled: no heartbeat for ${age}s, stopping QEMU" |
				tee "$out/.l1-stalled" >&2
			l1_where >&2
			# QEMU's command line has "pvout=$out " (more arguments follow).
			pkill -TERM -f -- "pvout=$out "
			break
		fi
	done
) &
watchdog=$!
set +e
# --foreground: Ctrl-C reaches QEMU; -k: SIGKILL if SIGTERM is ignored.
timeout --foreground -k 10 "$timeout" "$QEMU" \
	-M q35 -accel tcg -cpu "${PVCHAN_L1_CPU:-max}" -smp "$smp" -m "$mem" \
	-nodefaults -nographic -serial stdio -no-reboot \
	-kernel "$kernel" -initrd "$initrd" -append "$append" \
	-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-monitor "unix:$out/.l1-mon,server=on,wait=off" \
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	-fsdev "local,id=out,path=$out,security_model=none" \
	-device virtio-9p-pci,fsdev=out,mount_tag=out \
	</dev/null 2>&1 | tee "$log"
qrc=${PIPESTATUS[0]}
kill "$watchdog" 2>/dev/null
set -e
echo "run-l1.sh: QEMU exited rc=$qrc after $(($(date +%s) - start))s" >&2
if [[ -e $out/.l1-stalled ]]; then
	cat "$out/.l1-stalled" >&2
	exit 124
fi

if [[ $qrc -eq 124 ]]; then
	echo "run-l1.sh: timeout after ${timeout}s" >&2
	exit 124
fi
# The console marker is authoritative: QEMU's exit code keeps only 7 bits of
# the script's rc, and rc=0 ((0<<1)|1 = 1) looks like a QEMU error.
marker=$(tr -d '\r' <"$log" | sed -n 's/^=== L1 script rc=\([0-9]*\)$/\1/p' | tail -n 1)
if [[ -n $marker ]]; then
	if [[ $qrc -ne $(((marker << 1 | 1) & 255)) ]]; then
		echo "run-l1.sh: note: QEMU rc $qrc does not match script rc $marker" >&2
	fi
	exit "$marker"
fi
if [[ $((qrc & 1)) -eq 1 && $qrc -gt 1 ]]; then
	exit $(((qrc - 1) >> 1))
fi
echo "run-l1.sh: L1 reported no result (QEMU rc=$qrc)" >&2
exit 125
