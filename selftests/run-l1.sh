#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# pvchan host selftests; runs inside L1 (as root, chrooted into L0's root).
# Build on L0 first, then boot L1 with this script:
#
#   make -C /lib/modules/$KVER/build M=$PWD modules && make -C selftests
#   harness/run-l1.sh --script "$PWD/selftests/run-l1.sh" --out /tmp/pvst
#
# Loads kvm_amd and host/pvchan_host.ko (or $PVCHAN_HOST_KO; kvm_amd from
# $PVCHAN_KDIR/modules when L1 runs that test kernel, run-l1.sh --kernel),
# runs the test binaries built on L0 (selftests/build, or $PVCHAN_ST_BUILD),
# checks the kernel log and unloads the module.  Prints flat TAP: every line
# of a test's own TAP becomes one line here ("<test>: <its description>"),
# the plan comes last.  Exits non-zero on any failure.  Leaves each test's
# raw TAP and the kernel log in $PVOUT.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$HERE")
BUILD=${PVCHAN_ST_BUILD:-$HERE/build}
HOST_KO=${PVCHAN_HOST_KO:-$REPO/host/pvchan_host.ko}
out=${PVOUT:-/tmp}
tests=(pvchan_hypercall_test pvchan_fuzz_test)
oops='WARNING:|BUG:|Call Trace|general protection'
n=0 fail=0

tap() { # tap OK|FAIL|SKIP DESCRIPTION [SKIP REASON]
	n=$((n + 1))
	case $1 in
	OK) echo "ok $n - $2" ;;
	SKIP) echo "ok $n - $2 # SKIP${3:+ $3}" ;;
	*) echo "not ok $n - $2"; fail=1 ;;
	esac
}

# Re-number one test's TAP into ours; the test's plan must be met.
relay() { # relay TEST TAPFILE
	local t=$1 line desc plan='' seen=0 re='^(not )?ok [0-9]+ ?(- )?(.*)$'

	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			seen=$((seen + 1))
			desc=${BASH_REMATCH[3]}
			if [[ -n ${BASH_REMATCH[1]} ]]; then
				tap FAIL "$t: $desc"
			elif [[ $desc =~ ^#\ *SKIP\ *(.*)$ ]]; then
				tap SKIP "$t" "${BASH_REMATCH[1]}"
			elif [[ $desc =~ ^(.*[^ ])\ *#\ *SKIP\ *(.*)$ ]]; then
				tap SKIP "$t: ${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
			else
				tap OK "$t: $desc"
			fi
		elif [[ $line =~ ^1\.\.([0-9]+)(.*)$ ]]; then
			plan=${BASH_REMATCH[1]}
			[[ -n ${BASH_REMATCH[2]} ]] && echo "# $t: $line"
		elif [[ $line == "TAP version"* ]]; then
			:
		elif [[ $line == "#"* ]]; then
			echo "$line"
		else
			echo "# $line"
		fi
	done <"$2"
	# "1..0 # SKIP": the whole test skipped, no result lines.
	if [[ -n $plan && $plan -ne $seen ]]; then
		echo "# $t: planned $plan, reported $seen"
		return 1
	fi
	[[ -n $plan ]]
}

echo "TAP version 13"

if modprobe ${PVCHAN_KDIR:+-d "$PVCHAN_KDIR/modules"} kvm_amd && [[ -c /dev/kvm ]]; then
	tap OK "modprobe kvm_amd, /dev/kvm present"
else
	tap FAIL "modprobe kvm_amd, /dev/kvm present"
fi

# The fuzzer's network device needs a tap (built in on the test kernel).
modprobe ${PVCHAN_KDIR:+-d "$PVCHAN_KDIR/modules"} tun 2>/dev/null || true

dmesg -C
loaded=0
if insmod "$HOST_KO" && [[ -c /dev/pvchan ]]; then
	tap OK "insmod host/pvchan_host.ko, /dev/pvchan present"
	loaded=1
else
	tap FAIL "insmod host/pvchan_host.ko, /dev/pvchan present"
fi

# PVCHAN_FUZZ_CALLS=0: no fuzzing (the debug tier's default, see there).
nofuzz=0
[[ ${PVCHAN_FUZZ_CALLS:-} == 0 ]] && nofuzz=1
for t in "${tests[@]}"; do
	if [[ ! -x $BUILD/$t ]]; then
		tap FAIL "$t: built (run make -C selftests on L0)"
		continue
	fi
	if [[ $t == pvchan_fuzz_test ]] && ((nofuzz)); then
		tap SKIP "$t" "PVCHAN_FUZZ_CALLS=0"
		continue
	fi
	# The fuzzer with pvchan_host's debug messages on (where the kernel
	# has dynamic debug): every refusal may print, the rate limit must hold.
	dyn=/sys/kernel/debug/dynamic_debug/control
	[[ $t == pvchan_fuzz_test && -w $dyn ]] &&
		echo 'module pvchan_host +p' >"$dyn"
	lines0=$(dmesg | grep -c pvchan) t0=$SECONDS
	"$BUILD/$t" >"$out/$t.tap" 2>&1
	rc=$?
	relay "$t" "$out/$t.tap"
	complete=$?
	if [[ $t == pvchan_fuzz_test ]]; then
		lines=$(($(dmesg | grep -c pvchan) - lines0)) secs=$((SECONDS - t0 + 1))
		[[ -w $dyn ]] && echo 'module pvchan_host -p' >"$dyn"
		# Ten per call site and 5 s (pr_debug_ratelimited), some sites.
		if ((lines <= 50 * secs + 200)); then
			tap OK "$t: kernel log not flooded ($lines pvchan lines in ${secs}s$([[ -w $dyn ]] && echo ", debug messages on"))"
		else
			tap FAIL "$t: kernel log not flooded ($lines pvchan lines in ${secs}s)"
		fi
	fi
	if ((rc == 4 && loaded)); then
		tap FAIL "$t: exits 0 (skipped although pvchan_host is loaded)"
	elif ((rc == 4)); then
		tap SKIP "$t: exits 0" "pvchan_host not loaded"
	elif ((rc == 0 && complete == 0)); then
		tap OK "$t: exits 0 after its whole plan"
	else
		tap FAIL "$t: exits 0 after its whole plan (exit $rc)"
	fi
done

# The VMM killed outright in the middle of a storm, block requests in
# flight: the host must let go of both VMs and every reference (on the
# debug kernel, kmemleak then looks for what it did not free).
fz=$BUILD/pvchan_fuzz_test
if ((loaded && nofuzz)); then
	tap SKIP "VMM killed (SIGKILL) 5 s into a storm" "PVCHAN_FUZZ_CALLS=0"
elif ((loaded)) && [[ -x $fz ]]; then
	PVCHAN_FUZZ_CALLS=1000000000 "$fz" >"$out/killed.tap" 2>&1 &
	pid=$!
	for _ in $(seq 120); do
		grep -q '^ok 1 ' "$out/killed.tap" && break
		sleep 1
	done
	sleep 5
	echo "# before SIGKILL: $(cat /sys/kernel/debug/pvchan/vm*/hypercalls 2>/dev/null |
		tr '\n' ' ')"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	for _ in $(seq 30); do
		refs=$(cat /sys/module/pvchan_host/refcnt)
		vms=$(find /sys/kernel/debug/pvchan -maxdepth 1 -name 'vm*' | wc -l)
		((refs == 0 && vms == 0)) && break
		sleep 1
	done
	if grep -q '^ok 1 ' "$out/killed.tap" && ((refs == 0 && vms == 0)); then
		tap OK "VMM killed (SIGKILL) 5 s into a storm: both VMs unbound, module use count 0"
	else
		tap FAIL "VMM killed (SIGKILL) 5 s into a storm: both VMs unbound, module use count 0 ($vms VMs, use count $refs)"
	fi
fi

dmesg >"$out/dmesg.txt"
if grep -qE "$oops" "$out/dmesg.txt"; then
	grep -E "$oops" "$out/dmesg.txt" | sed 's/^/# dmesg: /'
	tap FAIL "kernel log has no WARNING/BUG/Call Trace/general protection"
else
	tap OK "kernel log has no WARNING/BUG/Call Trace/general protection"
fi

# An oops during unload shows only after it: part of the rmmod line.
if ((loaded)) && rmmod pvchan_host; then
	dmesg >"$out/dmesg.txt"
	if grep -qE "$oops" "$out/dmesg.txt"; then
		grep -E "$oops" "$out/dmesg.txt" | sed 's/^/# dmesg after rmmod: /'
		tap FAIL "rmmod pvchan_host, kernel log still clean"
	else
		tap OK "rmmod pvchan_host, kernel log still clean"
	fi
else
	tap FAIL "rmmod pvchan_host, kernel log still clean"
fi

echo "1..$n"
exit "$fail"
