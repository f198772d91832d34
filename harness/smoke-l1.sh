#!/bin/bash
# Smoke test of the nested setup; runs inside L1:
#   harness/run-l1.sh --script /work/main/harness/smoke-l1.sh --out /tmp/pvout
# TAP: 1) kvm_amd loads and /dev/kvm exists, 2) an L2 boots and runs /test.sh.
# Env: L2_SMP (default 1), L2_WAIT (seconds to wait for L2, default 120).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${PVOUT:-/tmp}
work=$(mktemp -d)
fail=0
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

echo "# L1 uptime at script start: $(cut -d' ' -f1 /proc/uptime)s"

if modprobe kvm_amd && [[ -c /dev/kvm ]]; then
	echo "ok 1 - modprobe kvm_amd, /dev/kvm present"
else
	echo "not ok 1 - modprobe kvm_amd, /dev/kvm present"
	fail=1
fi

t0=$(now)
cat >"$work/test.sh" <<'EOF'
echo L2 alive
uname -r
echo "cpus $(nproc)"
EOF
"$HERE/mkinitramfs.sh" "$work/l2.cpio.gz" l2 "$work/test.sh:/test.sh"
echo "# L2 initramfs built in $(elapsed "$t0")s"

# The log stays on L1's tmpfs while L2 runs: QEMU writes the serial console
# byte by byte, which is slow over 9p. Copied to $PVOUT at the end.
log=$work/l2-console.log
t0=$(now)
ok=0
if pid=$("$HERE/run-l2.sh" --initrd "$work/l2.cpio.gz" --log "$log" \
	--smp "${L2_SMP:-1}" --append quiet --timeout $((${L2_WAIT:-120} + 30))); then
	echo "# L2 QEMU pid $pid up after $(elapsed "$t0")s"
	deadline=$((SECONDS + ${L2_WAIT:-120}))
	while ((SECONDS < deadline)); do
		if grep -q '^=== L2 done rc=0' "$log" 2>/dev/null; then
			ok=1
			break
		fi
		[[ -e $log.rc ]] && break # QEMU is gone
		sleep 1
	done
	echo "# L2 done after $(elapsed "$t0")s (QEMU rc: $(cat "$log.rc" 2>/dev/null || echo running))"
	kill "$pid" 2>/dev/null || true
fi
sed 's/\r$//; s/^/# L2: /' "$log" 2>/dev/null || true
cp "$log" "$log.qemu" "$out/" 2>/dev/null || true
if ((ok)) && grep -q '^L2 alive' "$log"; then
	echo "ok 2 - L2 boots (smp ${L2_SMP:-1}) and runs /test.sh"
else
	echo "not ok 2 - L2 boots (smp ${L2_SMP:-1}) and runs /test.sh"
	fail=1
fi
echo "1..2"
exit "$fail"
