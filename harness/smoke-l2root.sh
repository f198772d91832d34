#!/bin/bash
# Smoke test of L2's view of the machine's root (run-l2.sh --share-root,
# l2-init's /host chroot, hostrun); runs inside L1:
#   harness/run-l1.sh --script /work/main/harness/smoke-l2root.sh --out /tmp/pvl2root
# L2 runs fio --version, mkfs.ext4 -V, then mkfs.ext4 + e2fsck -fn on a
# 64 MiB file that L2's busybox wrote to its /tmp. TAP; timings as comments.
# Env: L2_WAIT (seconds to wait for L2, default 600).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${PVOUT:-/tmp}
work=$(mktemp -d)
wait=${L2_WAIT:-600}
n=0 fail=0
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
tap() { # tap OK|FAIL description
	n=$((n + 1))
	if [[ $1 == OK ]]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
}
# Value of "R key value" printed by L2's test.sh.
r() { sed -n "s/^R $1 //p" "$txt" | tail -n 1; }

echo "# L1 uptime at script start: $(cut -d' ' -f1 /proc/uptime)s"
if modprobe kvm_amd && [[ -c /dev/kvm ]]; then
	tap OK "modprobe kvm_amd, /dev/kvm present"
else
	tap FAIL "modprobe kvm_amd, /dev/kvm present"
fi

# L2 side. Times are L2 uptimes (kvm-clock), printed before and after each step.
cat >"$work/test.sh" <<'EOF'
up() { cut -d' ' -f1 /proc/uptime; }
echo "R hostroot $(grep -c ' /host 9p ' /proc/mounts)"
t=$(up)
v=$(hostrun /usr/bin/fio --version)
echo "R fio_rc $? $t $(up)"
echo "R fio_version $v"
t=$(up)
hostrun /sbin/mkfs.ext4 -V >/tmp/v 2>&1
echo "R mke2fs_rc $? $t $(up)"
echo "R mke2fs_version $(head -n 1 /tmp/v)"
t=$(up)
dd if=/dev/zero of=/tmp/img bs=1M count=64 2>/dev/null
echo "R dd_rc $? $t $(up)"
t=$(up)
hostrun /sbin/mkfs.ext4 -F -q /tmp/img
echo "R mkfs_rc $? $t $(up)"
t=$(up)
hostrun /sbin/e2fsck -fn /tmp/img
echo "R fsck_rc $? $t $(up)"
# The chroot's /tmp is L2's /tmp: the same file from both sides.
echo "R same_file $([ "$(hostrun /usr/bin/sha256sum /tmp/img | cut -d' ' -f1)" = "$(sha256sum /tmp/img | cut -d' ' -f1)" ] && echo 1 || echo 0)"
EOF
t0=$(now)
"$HERE/mkinitramfs.sh" "$work/l2.cpio.gz" l2 "$work/test.sh:/test.sh"
echo "# L2 initramfs built in $(elapsed "$t0")s ($(stat -c %s "$work/l2.cpio.gz") bytes)"

# The log stays on L1's tmpfs while L2 runs (serial output is written byte by
# byte, slow over 9p); copied to $PVOUT at the end.
log=$work/l2-console.log
t0=$(now)
done_at='' up_at=''
if pid=$("$HERE/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$log" --share-root \
	--append quiet --timeout $((wait + 30))); then
	echo "# L2 QEMU pid $pid up after $(elapsed "$t0")s"
	deadline=$((SECONDS + wait))
	while ((SECONDS < deadline)); do
		if [[ -z $up_at ]] && grep -q '^=== L2 up' "$log" 2>/dev/null; then
			up_at=$(elapsed "$t0")
		fi
		if grep -q '^=== L2 done rc=' "$log" 2>/dev/null; then
			done_at=$(elapsed "$t0")
			break
		fi
		[[ -e $log.rc ]] && break # QEMU is gone
		sleep 1
	done
	echo "# L2 reached test.sh after ${up_at:-?}s, done after ${done_at:-?}s" \
		"(QEMU rc: $(cat "$log.rc" 2>/dev/null || echo running))"
	kill "$pid" 2>/dev/null || true
fi
sed 's/\r$//; s/^/# L2: /' "$log" 2>/dev/null || true
cp "$log" "$log.qemu" "$out/" 2>/dev/null || true
# Without \r; no <(...) here: L1's /dev has no /dev/fd.
txt=$work/l2.txt
tr -d '\r' <"$log" >"$txt" 2>/dev/null || true

# "R step_rc RC T0 T1" -> "RC" and a duration comment.
step() { # step NAME DESCRIPTION
	local v rc a b
	v=$(r "$1_rc")
	read -r rc a b <<<"${v:-x 0 0}"
	echo "# $1: $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1f", b - a }')s in L2"
	if [[ $rc == 0 ]]; then tap OK "$2"; else tap FAIL "$2 (rc ${rc})"; fi
}
if [[ $(r hostroot) == 1 ]] && grep -q '^=== L2 hostroot mounted at /host' "$txt"; then
	tap OK "L2 mounts L1's root (9p, virtio-mmio) at /host"
else
	tap FAIL "L2 mounts L1's root (9p, virtio-mmio) at /host"
fi
step fio "hostrun /usr/bin/fio --version ($(r fio_version))"
step mke2fs "hostrun /sbin/mkfs.ext4 -V ($(r mke2fs_version))"
step dd "64 MiB file in L2's /tmp (busybox dd)"
step mkfs "hostrun /sbin/mkfs.ext4 -F -q /tmp/img"
step fsck "hostrun /sbin/e2fsck -fn /tmp/img"
if [[ $(r same_file) == 1 ]]; then
	tap OK "/tmp in the chroot is L2's /tmp (sha256 agrees)"
else
	tap FAIL "/tmp in the chroot is L2's /tmp (sha256 agrees)"
fi
if grep -q '^=== L2 done rc=0' "$txt"; then
	tap OK "L2 test.sh finished (rc 0)"
else
	tap FAIL "L2 test.sh finished (rc 0)"
fi
echo "1..$n"
exit "$fail"
