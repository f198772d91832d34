#!/bin/bash
# Debug tier; runs in L1 under the test kernel (KASAN, lockdep, kmemleak,
# KUnit: kunit/build-kernel.sh), booted by
#
#   harness/run-l1.sh --kernel KDIR --script tests/debug/debug-l1.sh \
#       --out DIR --env PVCHAN_DEBUG_BUILD=SRC
#
# SRC is a copy of the repo built against KDIR/build (scripts/check.sh suite
# "debug" makes it).  L2 keeps running Debian's kernel and guest module, so
# the userspace tools and guest/pvchan_guest.ko come from this checkout.
#
#   a. KUnit: insmod each SRC/kunit/*.ko (pvchan_X_kunit.ko after its module
#      SRC/X/pvchan_X.ko), one TAP line per test case of every suite it
#      registered, read from /sys/kernel/debug/kunit/SUITE/results.  A
#      parameterised case counts once (its failing parameters are listed
#      under it).  6.1 keeps only 512 bytes of log per case there
#      (KUNIT_LOG_SIZE), and of a parameterised case only its last
#      parameter: a suite whose debugfs results miss cases or have a
#      failure is read from the same KTAP in the kernel log instead.
#   b. selftests/run-l1.sh, c. tests/e2e/echo-l1.sh (PVCHAN_ECHO_COUNT=2000,
#      L2's soft-lockup and RCU-stall reports off: see below), both with
#      PVCHAN_HOST_KO=SRC/host/pvchan_host.ko; their TAP lines are
#      renumbered into this stream ("selftest: ...", "echo: ...").
#   d. kmemleak (cleared after boot, a scan at the end, a second one to
#      confirm what the first found) reports nothing;
#      the kernel log since boot has no BUG:/WARNING:/Call Trace (KASAN and
#      lockdep reports start that way); lockdep is still on.
#
# Prints one flat TAP stream, the plan last; exits non-zero on any failure.
# Leaves in $PVOUT: dmesg.txt (the whole kernel log, read continuously: the
# sub-tests' `dmesg -C` does not lose anything), kmemleak.txt, kunit/SUITE.ktap,
# selftest/ and echo/ (each sub-test's own files), *.tap (their raw TAP).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${PVCHAN_DEBUG_BUILD:-}
out=${PVOUT:-/tmp}
work=$(mktemp -d)
kunitfs=/sys/kernel/debug/kunit
kmemleak=/sys/kernel/debug/kmemleak
oops='BUG:|WARNING:|Call Trace|general protection|possible recursive locking'
n=0 fail=0

tap() { # tap OK|FAIL|SKIP DESCRIPTION [SKIP REASON]
	n=$((n + 1))
	case $1 in
	OK) echo "ok $n - $2" ;;
	SKIP) echo "ok $n - $2 # SKIP${3:+ $3}" ;;
	*) echo "not ok $n - $2"; fail=1 ;;
	esac
}
check() { # check DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then tap OK "$d"; else tap FAIL "$d"; fi
}
# Processes are dear here: on this kernel under TCG starting one costs about
# 2 s (/bin/true: 2.2 s, against 0.06 s on Debian's kernel), so the script
# keeps to bash builtins where it can: $EPOCHSECONDS, globs, read loops.
# up: UP = L1's uptime in seconds.
up() { read -r UP _ </proc/uptime; }
modprobe_k() { modprobe ${PVCHAN_KDIR:+-d "$PVCHAN_KDIR/modules"} "$@"; }

echo "TAP version 13"
up
read -r krel </proc/sys/kernel/osrelease
echo "# debug-l1: $krel, L1 uptime ${UP}s at start"
if [[ -z $BUILD || ! -d $BUILD ]]; then
	tap FAIL "PVCHAN_DEBUG_BUILD is a built copy of the repo (got '${BUILD}')"
	echo "1..$n"
	exit 1
fi

# A report before anything of ours ran (no pvchan or KVM module loaded yet)
# is the test kernel's or the emulator's: seen once, a KASAN report in
# rcu_is_watching() from an interrupt during early boot.  It turns lockdep
# off, so this boot would prove nothing: say so and stop; check.sh boots a
# fresh L1 once (run_vm_suite).
if dmesg | grep -qE "$oops" || ! grep -qE '^ *debug_locks: +1$' /proc/lockdep_stats; then
	dmesg | grep -E -A 12 "$oops" | head -n 60 | sed 's/^/# boot: /'
	tap FAIL "kernel log clean before any test (a report at boot: this boot proves nothing)"
	echo "1..$n"
	exit 1
fi

# The whole kernel log, from boot on, read as it comes: the sub-tests clear
# the ring buffer (dmesg -C), which does not move an open reader.
dmesg -w >"$work/dmesg.txt" 2>&1 &
klog=$!
# Leak suspects from boot are not ours.
if [[ -w $kmemleak ]] && echo clear >"$kmemleak"; then
	kmemleak_on=1
else
	kmemleak_on=0
fi
t=$EPOCHSECONDS
if modprobe_k kvm_amd && [[ -c /dev/kvm ]]; then
	tap OK "modprobe kvm_amd${PVCHAN_KDIR:+ (from $PVCHAN_KDIR/modules)}, /dev/kvm present ($((EPOCHSECONDS - t))s)"
else
	tap FAIL "modprobe kvm_amd${PVCHAN_KDIR:+ (from $PVCHAN_KDIR/modules)}, /dev/kvm present"
fi

# ---- a. KUnit ---------------------------------------------------------------

# Turn one suite's KTAP (debugfs results or its part of the kernel log) into
# lines "ok|not ok|missing|plan|status|param ..." for kunit_report.
#   suite level (indent 0):  ok 1 SUITE
#   case level (indent 4):   1..N, ok K CASE [# SKIP why]
#   parameters (indent 8):   ok P DESC
ktap_digest() { # ktap_digest < KTAP
	local line bad=() re_param='^        (not )?ok [0-9]+ (.*)$'
	local re_case='^    (not )?ok ([0-9]+) (.*)$' re_suite='^(not )?ok [0-9]+ (.*)$'
	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ $line =~ $re_param ]]; then
			[[ -n ${BASH_REMATCH[1]} ]] && bad+=("${BASH_REMATCH[2]}")
		elif [[ $line =~ $re_case ]]; then
			if [[ -n ${BASH_REMATCH[1]} ]]; then
				echo "case not ok ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}"
			else
				echo "case ok ${BASH_REMATCH[2]} ${BASH_REMATCH[3]}"
			fi
			[[ ${#bad[@]} -eq 0 ]] || printf 'param %s\n' "${bad[@]}"
			bad=()
		elif [[ $line =~ ^\ {4}1\.\.([0-9]+) ]]; then
			echo "plan ${BASH_REMATCH[1]}"
		elif [[ $line =~ $re_suite ]]; then
			echo "status ${BASH_REMATCH[1]:+not }ok"
		fi
	done
}

# The last run of SUITE in the kernel log: from its "# Subtest: SUITE" to
# its "ok N SUITE" (or the end of the log), timestamps stripped.
ktap_from_log() { # ktap_from_log SUITE
	local line on=0 buf=() last=() re_ts='^\[[ 0-9.]*\] ?(.*)$'
	local re_end="^(not )?ok [0-9]+ $1( |$)"
	while IFS= read -r line; do
		[[ $line =~ $re_ts ]] && line=${BASH_REMATCH[1]}
		[[ $line == "    # Subtest: $1" ]] && buf=() on=1
		((on)) || continue
		buf+=("$line")
		[[ $line =~ $re_end ]] && last=("${buf[@]}") on=0
	done <"$work/dmesg.txt"
	((on)) && last=("${buf[@]}")
	((${#last[@]} == 0)) || printf '%s\n' "${last[@]}"
}

# Does a digest hold a result for every planned case?  (ktap_count leaves
# PLAN, CASES and FAILED set for the caller.)
ktap_count() { # ktap_count DIGEST: PLAN, CASES, FAILED
	local kind st rest
	PLAN='' CASES=0 FAILED=0
	while read -r kind st rest; do
		case $kind in
		plan) PLAN=${PLAN:-$st} ;;
		case) CASES=$((CASES + 1)) && [[ $st == not ]] && FAILED=$((FAILED + 1)) ;;
		esac
	done <"$1"
}
ktap_complete() { ktap_count "$1" && [[ -n $PLAN && $CASES -ge $PLAN ]]; }

kunit_report() { # kunit_report SUITE DIGEST
	local s=$1 kind st rest desc plan='' status='' cases=0 nfail=0
	while read -r kind st rest; do
		case $kind in
		plan) plan=$st ;;
		status) status=$st${rest:+ $rest} ;;
		case)
			[[ $st == not ]] && st="not ok" rest=${rest#ok }
			desc=${rest#* } # drop the case number
			cases=$((cases + 1))
			if [[ $st == "not ok" ]]; then
				nfail=$((nfail + 1))
				tap FAIL "kunit $s: $desc"
			elif [[ $desc =~ ^(.*[^ ])\ *#\ *SKIP\ *(.*)$ ]]; then
				tap SKIP "kunit $s: ${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
			else
				tap OK "kunit $s: $desc"
			fi
			;;
		param) echo "#   failed parameter: $st${rest:+ $rest}" ;;
		esac
	done <"$2"
	if [[ -z $plan || $cases -lt $plan ]]; then
		tap FAIL "kunit $s: $cases of ${plan:-?} cases reported (a crash or a truncated log: see dmesg.txt)"
	elif [[ $status == "not ok" && $nfail -eq 0 ]]; then
		tap FAIL "kunit $s: suite result ok (suite init or exit failed: see kunit/$s.ktap)"
	fi
}

run_kunit() {
	local kos=() ko mod part base s suites=() loaded=() new=() dig lines=()
	local -A before
	shopt -s nullglob
	kos=("$BUILD"/kunit/*.ko)
	shopt -u nullglob
	if [[ ${#kos[@]} -eq 0 ]]; then
		tap SKIP "kunit" "no test modules built"
		return
	fi
	mkdir -p "$out/kunit"
	for ko in "${kos[@]}"; do
		mod=${ko##*/} mod=${mod%.ko}
		# pvchan_X_kunit.ko tests X/pvchan_X.ko: load that first.
		part=${mod#pvchan_} part=${part%_kunit}
		base=$BUILD/$part/pvchan_$part.ko
		if [[ $mod == pvchan_*_kunit && -f $base && ! -d /sys/module/pvchan_$part ]]; then
			if insmod "$base"; then
				loaded=("pvchan_$part" "${loaded[@]}")
			else
				tap FAIL "kunit: insmod $part/pvchan_$part.ko (needed by $mod)"
			fi
		fi
		before=()
		for s in "$kunitfs"/*; do before[${s##*/}]=1; done
		t=$EPOCHSECONDS
		if insmod "$ko"; then
			loaded=("$mod" "${loaded[@]}")
			new=()
			for s in "$kunitfs"/*; do
				[[ -e $s && -z ${before[${s##*/}]:-} ]] && new+=("${s##*/}")
			done
			suites+=("${new[@]}")
			check "kunit: insmod $mod.ko registers suites (${new[*]:-none}; ran in $((EPOCHSECONDS - t))s)" \
				[ "${#new[@]}" -gt 0 ]
		else
			tap FAIL "kunit: insmod $mod.ko"
		fi
	done
	sleep 1 # let dmesg -w catch up with the last suite's lines
	up
	echo "# kunit: suites ran, reading results (uptime ${UP}s)"
	for s in "${suites[@]}"; do
		mapfile -t lines <"$kunitfs/$s/results"
		printf '%s\n' "${lines[@]}" >"$out/kunit/$s.ktap"
		dig=$work/$s.digest
		ktap_digest <"$out/kunit/$s.ktap" >"$dig"
		# debugfs keeps 512 bytes of log per case and, for a parameterised
		# case, only its last parameter: take an incomplete or failing
		# suite from the kernel log, which has all of it.
		if ! ktap_complete "$dig" || ((FAILED)); then
			ktap_from_log "$s" >"$out/kunit/$s.dmesg.ktap"
			ktap_digest <"$out/kunit/$s.dmesg.ktap" >"$work/$s.dmesg.digest"
			if ktap_complete "$work/$s.dmesg.digest"; then
				echo "# kunit $s: results from the kernel log (kunit/$s.dmesg.ktap)"
				dig=$work/$s.dmesg.digest
			fi
		fi
		kunit_report "$s" "$dig"
	done
	# Test modules first, then what they test (the reverse load order).
	local rc=0
	t=$EPOCHSECONDS
	for mod in "${loaded[@]}"; do
		rmmod "$mod" || rc=1
	done
	check "kunit: rmmod ${loaded[*]} ($((EPOCHSECONDS - t))s)" [ "$rc" = 0 ]
}

up
echo "# a. KUnit (uptime ${UP}s)"
t0=$EPOCHSECONDS
run_kunit
echo "# a. KUnit took $((EPOCHSECONDS - t0))s"

# ---- b. c. selftest, echo ---------------------------------------------------

# Renumber a sub-test's TAP into ours, its lines prefixed with NAME; its plan
# must be met and it must exit 0.
relay() { # relay NAME RC TAPFILE
	local t=$1 rc=$2 line desc plan="" seen=0 nbad=0 re='^(not )?ok [0-9]+ ?(- )?(.*)$'
	while IFS= read -r line; do
		line=${line%$'\r'}
		if [[ $line =~ $re ]]; then
			seen=$((seen + 1))
			desc=${BASH_REMATCH[3]}
			if [[ -n ${BASH_REMATCH[1]} ]]; then
				tap FAIL "$t: $desc"
				nbad=1
			elif [[ $desc =~ ^(.*[^ ])\ *#\ *SKIP\ *(.*)$ ]]; then
				tap SKIP "$t: ${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}"
			else
				tap OK "$t: $desc"
			fi
		elif [[ $line =~ ^1\.\.([0-9]+) ]]; then
			plan=${BASH_REMATCH[1]}
		elif [[ $line == "TAP version"* ]]; then
			:
		elif [[ $line == "#"* ]]; then
			echo "$line"
		elif [[ -n $line ]]; then
			echo "# $line"
		fi
	done <"$3"
	if [[ -z $plan || $plan -ne $seen || ($rc -ne 0 && $nbad -eq 0) ]]; then
		tap FAIL "$t: exits 0 after its whole plan (exit $rc, planned ${plan:-none}, reported $seen)"
	fi
}

sub() { # sub NAME SCRIPT [VAR=VALUE...]: run a sub-test, relay its TAP
	local name=$1 script=$2 t rc
	shift 2
	up
	echo "# ${name}: $script (uptime ${UP}s)"
	mkdir -p "$out/$name"
	t=$EPOCHSECONDS
	env PVOUT="$out/$name" PVCHAN_HOST_KO="$BUILD/host/pvchan_host.ko" "$@" \
		"$script" >"$out/$name.tap" 2>&1
	rc=$?
	relay "$name" "$rc" "$out/$name.tap"
	echo "# ${name} took $((EPOCHSECONDS - t))s"
}

sub selftest "$REPO/selftests/run-l1.sh"
# L2 boots 15-20x slower on this L1 than on Debian's kernel (every exit
# goes through a KASAN/lockdep KVM under TCG): its early initcalls tripped
# L2's soft-lockup watchdog (78 s) before pvchan_guest was even loaded, which
# echo-l1.sh counts as a guest warning. L2's own stall detectors stay on in
# the echo suite proper.
# The L2 part costs ~9 minutes here; make check runs it only with
# PVCHAN_DEBUG_E2E=1 (run-l1.sh --env) to keep a warm CI run under 20 min.
# The selftest above already moves echo requests through host rings.
if [[ ${PVCHAN_DEBUG_E2E:-0} == 1 ]]; then
	sub echo "$REPO/tests/e2e/echo-l1.sh" PVCHAN_ECHO_COUNT=2000 \
		PVCHAN_L2_APPEND="nosoftlockup rcupdate.rcu_cpu_stall_suppress=1"
else
	tap SKIP "echo e2e under the debug kernel" "set PVCHAN_DEBUG_E2E=1 (slow: ~9 min)"
fi

# ---- d. kmemleak, kernel log ------------------------------------------------

up
echo "# d. kmemleak (uptime ${UP}s)"
t=$EPOCHSECONDS
# A scan takes minutes here.  An object reported by one scan may still be
# a false positive (its only pointer was in flight): a second scan, only
# then, keeps the ones that stay unreferenced.  An empty first report is the
# answer: the tests ended long before it, so whatever they leaked was old
# enough (kmemleak waits 5 s) for that scan to report.
scans="one scan" leaks=()
if ((kmemleak_on)) && echo scan >"$kmemleak" && mapfile -t leaks <"$kmemleak" &&
	{ ((${#leaks[@]} == 0)) ||
		{ scans="two scans" && sleep 5 && echo scan >"$kmemleak" &&
			mapfile -t leaks <"$kmemleak"; }; }; then
	if ((${#leaks[@]})); then
		printf '%s\n' "${leaks[@]}" >"$out/kmemleak.txt"
		printf '# kmemleak: %s\n' "${leaks[@]}"
		tap FAIL "kmemleak: no unreferenced objects ($scans, $((EPOCHSECONDS - t))s)"
	else
		: >"$out/kmemleak.txt"
		tap OK "kmemleak: no unreferenced objects ($scans, $((EPOCHSECONDS - t))s)"
	fi
else
	grep -i kmemleak "$work/dmesg.txt" | sed 's/^/# /'
	tap FAIL "kmemleak: enabled, scans run"
fi

sleep 1
kill "$klog" 2>/dev/null
wait "$klog" 2>/dev/null
cp "$work/dmesg.txt" "$out/dmesg.txt"
if grep -qE "$oops" "$out/dmesg.txt"; then
	# Each report with a little context (KASAN/lockdep say what and where).
	grep -E -A 12 "$oops" "$out/dmesg.txt" | head -n 200 | sed 's/^/# dmesg: /'
	tap FAIL "kernel log since boot has no KASAN/lockdep report, BUG, WARNING or Call Trace"
else
	tap OK "kernel log since boot has no KASAN/lockdep report, BUG, WARNING or Call Trace"
fi
# How full lockdep's fixed tables got (a full one is a "BUG: MAX_..." report
# that turns lockdep off): the whole file in $PVOUT, the "used [max]" lines here.
cp /proc/lockdep_stats "$out/lockdep_stats.txt" 2>/dev/null &&
	grep -E '\[max: ' "$out/lockdep_stats.txt" | sed 's/^ */# lockdep: /'
# A lockdep report, or anything else, turns lockdep off for the rest of the
# run: the checks above would then prove less than they seem to.
check "lockdep still on at the end (debug_locks 1)" \
	grep -qE '^ *debug_locks: +1$' /proc/lockdep_stats

up
echo "# debug-l1: done at L1 uptime ${UP}s"
echo "1..$n"
exit "$fail"
