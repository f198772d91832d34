#!/bin/bash
# make check: install what is missing, run the static checks on L0 and the
# suites inside the nested VMs, and print "N passed, N failed, N skipped".
# Every check is a TAP line; each suite's log is kept in $OUT.
#
# Env: PVCHAN_OUT (results dir, default results/check), PVCHAN_SUITES (space
# separated subset of the suite names below), KVER (kernel for L1/L2).
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${PVCHAN_OUT:-$REPO/results/check}
all_suites="static dist selftest ctl noguest blk faults net clock debug"
all_suites+=" echo612 blk612 compat612 rootfs compat"
# make check-long (PVCHAN_LONG=1) adds, for time: echo on 6.1 (make check
# runs that script on 6.1 in the debug tier, with 2,000 requests), clock
# and net on 6.12 (the network driver has no version-dependent code), and
# blk612 at full size.
[[ ${PVCHAN_LONG:-0} == 1 ]] && all_suites+=" echo clock612 net612"
SUITES=${PVCHAN_SUITES:-$all_suites}
cd "$REPO" || exit 1

"$REPO/scripts/deps.sh" || { echo "0 passed, 1 failed"; exit 1; }
KVER=$("$REPO/harness/kver.sh") || { echo "0 passed, 1 failed"; exit 1; }
export KVER
KDIR=${KDIR:-/lib/modules/$KVER/build}
KSRC=$("$REPO/scripts/ksrc.sh") || { echo "0 passed, 1 failed"; exit 1; }
export KSRC

rm -rf "$OUT"
mkdir -p "$OUT"
pass=0 fail=0 skip=0
declare -A t0	# suite -> start time (s), for the summary lines

# Count one suite's TAP output; a suite that failed without saying which
# check failed (crash, timeout) counts as one failure.
count() {	# count NAME RC LOGFILE
	local name=$1 rc=$2 log=$3 p f s
	p=$(grep -cE '^ok [0-9]+' "$log" | tr -d ' ')
	s=$(grep -cE '^ok [0-9]+.*# *SKIP' "$log" | tr -d ' ')
	f=$(grep -cE '^not ok [0-9]+' "$log" | tr -d ' ')
	p=$((p - s))
	if [[ $rc -ne 0 && $f -eq 0 ]]; then
		echo "not ok - suite $name exited $rc without a failing check" |
			tee -a "$log"
		f=1
	fi
	if ! grep -qE '^1\.\.[0-9]+' "$log"; then
		echo "not ok - suite $name printed no TAP plan" | tee -a "$log"
		f=$((f + 1))
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	echo "=== suite $name: $p passed, $f failed, $s skipped," \
		"$(($(date +%s) - ${t0[$name]:-$(date +%s)}))s (log: $log)"
}

build() {
	make -s -C "$KDIR" M="$REPO" clean >/dev/null 2>&1
	make -C "$KDIR" M="$REPO" W=1 C=2 modules >"$OUT/build.log" 2>&1 &&
		make -C "$REPO/tools/pvchanctl" >>"$OUT/build.log" 2>&1 &&
		make -C "$REPO/selftests" KSRC="$KSRC" >>"$OUT/build.log" 2>&1 &&
		make -C "$REPO/tests/clock" >>"$OUT/build.log" 2>&1
}

run_static() {
	local n=0 rc=0 f ign out
	t() {	# t DESCRIPTION COMMAND...
		local d=$1
		shift
		n=$((n + 1))
		if "$@"; then echo "ok $n - $d"; else echo "not ok $n - $d"; rc=1; fi
	}
	t "modules, pvchanctl and selftests build (W=1, sparse C=2)" build
	t "no compiler or sparse warnings" \
		bash -c "! grep -iE 'warning:|error:|undefined!|\\.[ch]:[0-9]+:[0-9]+:' '$OUT/build.log'"
	t "ABI header compiles standalone as C90" \
		gcc -std=c90 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only \
		-x c abi/pvchan_abi.h
	t "control header compiles standalone as C90" \
		gcc -std=c90 -pedantic-errors -Wall -Wextra -Werror -fsyntax-only \
		-x c abi/pvchan_ctl.h
	t "ABI layout checks pass in C11 user space" bash -c \
		"printf '#include <assert.h>\n#include <stddef.h>\n#include \"pvchan_abi_check.h\"\n' |
		 gcc -std=c11 -Wall -Wextra -Werror -fsyntax-only -Iabi -x c -"
	t "Documentation/*.rst parse without docutils warnings" /usr/bin/python3 -c '
import glob, io, sys, docutils.core
bad = 0
for f in sorted(glob.glob("Documentation/*.rst")):
    err = io.StringIO()
    docutils.core.publish_doctree(open(f).read(), source_path=f,
        settings_overrides={"warning_stream": err, "report_level": 2})
    if err.getvalue():
        print("# " + err.getvalue().strip().replace("\n", "\n# "))
        bad = 1
sys.exit(bad)'
	# checkpatch --strict on every tracked C file.  Per-path exceptions:
	# TRACE_EVENT layout in trace.h; the one version floor in compat.h;
	# ENOSYS and the __printf definition in user-space tools.
	out=$OUT/checkpatch.log
	: >"$out"
	for f in $(git ls-files '*.c' '*.h'); do
		ign=
		case $f in
		*/trace.h) ign=OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT ;;
		*/compat.h) ign=LINUX_VERSION_CODE ;;
		abi/*) ign=INLINE ;;	# __inline__: the header must stay C90
		tools/* | selftests/*) ign=ENOSYS,PREFER_DEFINED_ATTRIBUTE_MACRO,SPLIT_STRING,NEW_TYPEDEFS,AVOID_EXTERNS ;;
		tests/*) ign=PREFER_KERNEL_TYPES,CAMELCASE ;;	# user-space C11
		esac
		"$KSRC/scripts/checkpatch.pl" --strict --no-tree --terse \
			--show-types ${ign:+--ignore $ign} -f "$f" 2>&1 |
			grep -v '^total:' >>"$out"
	done
	t "checkpatch --strict clean" bash -c "! grep -q . '$out'"
	[[ -s $out ]] && sed 's/^/# /' "$out"
	echo "1..$n"
	return $rc
}

# Run a suite in L1.  If L1 never reached the suite (the emulated machine
# failed to boot), its kernel reported a problem while booting (the debug
# tier checks before its first test), or it stopped running (run-l1.sh's
# stall watchdog), run it once more: that is the emulator or the test
# kernel, not pvchan, and the log keeps the failed run.
run_vm_suite() {	# run_vm_suite NAME SCRIPT [run-l1 args...]
	local name=$1 script=$2 rc why
	shift 2
	[[ $script == /* ]] || script=$REPO/$script
	"$REPO/harness/run-l1.sh" --script "$script" --out "$OUT/$name" "$@" \
		>"$OUT/$name.log" 2>&1
	rc=$?
	why=''	# SUFFIX:REASON: the failed run's log name, what to say
	if [[ $rc -ne 0 ]] && ! grep -q '=== L1 up' "$OUT/$name.log"; then
		why="boot-failure:L1 did not boot"
	elif [[ $rc -ne 0 ]] && grep -q '^not ok .* - kernel log clean before any test' "$OUT/$name.log"; then
		# The debug kernel reported a problem while booting, before any
		# module was loaded (tests/debug/debug-l1.sh).
		why="boot-report:a kernel report at boot, before any test"
	elif [[ $rc -ne 0 ]] && grep -q 'run-l1.sh: L1 stalled' "$OUT/$name.log"; then
		# The emulator stopped running L1 (seen with one L1 vCPU stuck in
		# a nested guest).
		why="stalled:L1 stalled"
	fi
	if [[ -n $why ]]; then
		mv "$OUT/$name.log" "$OUT/$name.${why%%:*}.log"
		echo "# $name: ${why#*:}, retrying once (see $name.${why%%:*}.log)"
		"$REPO/harness/run-l1.sh" --script "$script" --out "$OUT/$name" "$@" \
			>"$OUT/$name.log" 2>&1
		rc=$?
	fi
	return $rc
}

# The 6.12 tier: Debian's 6.12 kernel (linux-headers-6.12-amd64, from
# deps.sh) in L1 and in L2, running the device suites from a copy of the
# working tree built against it (modules, pvchanctl, selftests, clock test),
# so the scripts' $REPO holds modules that load only on 6.12.
k612_ver=$("$REPO/scripts/headers-kver.sh" linux-headers-6.12-amd64)
k612_src=$OUT/k612-src
k612_build() {
	local blog=$OUT/k612-build.log
	if [[ -z $k612_ver || ! -f /boot/vmlinuz-$k612_ver ]] ||
		! { "$REPO/scripts/copy-tree.sh" "$k612_src" &&
		make -C "/lib/modules/$k612_ver/build" M="$k612_src" modules &&
		make -C "$k612_src/tools/pvchanctl" &&
		make -C "$k612_src/tests/clock"; } >"$blog" 2>&1; then
		printf 'not ok 1 - pvchan builds for the 6.12 kernel %s (%s)\n1..1\n' \
			"${k612_ver:-(none installed)}" "$blog" >"$OUT/k612.log"
		return 1
	fi
}

# prep_failed NAME DESCRIPTION LOG: NAME's log says what it could not
# build, with the end of the build log.
prep_failed() {
	printf 'not ok 1 - %s (%s)\n1..1\n' "$2" "$3" >"$OUT/$1.log"
	tail -n 20 "$3" | sed 's/^/# /' >>"$OUT/$1.log"
}

# Root on pvblk with both sides as packaged: the guest image
# (tests/rootfs/build-image.sh: Debian 12 with pvchan-guest-dkms from make
# deb) and the host system (build-host.sh: pvchan-host-dkms and pvchanctl,
# DKMS building for L1's kernel), base systems cached; then L1 loads the
# host's module and L2 boots the image.
rootfs_run() {
	local dir=$OUT/rootfs-img hdir=$OUT/rootfs-host blog=$OUT/rootfs-build.log \
		debs=$OUT/rootfs-deb
	if ! { "$REPO/scripts/deb.sh" "$debs" &&
		"$REPO/tests/rootfs/build-image.sh" "$debs"/pvchan-guest-dkms_*_all.deb \
		"$dir" &&
		"$REPO/tests/rootfs/build-host.sh" "$debs"/pvchan-host-dkms_*_all.deb \
		"$debs"/pvchanctl_*.deb "$hdir"; } >"$blog" 2>&1; then
		prep_failed rootfs "the guest image and the host system build" "$blog"
		return 1
	fi
	run_vm_suite rootfs tests/rootfs/rootfs-l1.sh --smp 1 --timeout 1800 \
		--env "PVCHAN_ROOTFS_DIR=$dir" --env "PVCHAN_HOST_DIR=$hdir"
}

# The ABI compatibility matrix: the guests of the earlier ABI releases
# (tests/compat/releases; built from their commits, cached), then one L2
# loads each in turn against this tree's host.  tsc=reliable: the clock
# device needs KVM's master clock in L1 (see the clock suite).
compat_run() {
	local dir=$OUT/compat-guests blog=$OUT/compat-build.log
	if ! "$REPO/tests/compat/build-guests.sh" "$dir" >"$blog" 2>&1; then
		prep_failed compat "the guests of the earlier ABI releases build" "$blog"
		return 1
	fi
	PVCHAN_L1_APPEND=tsc=reliable run_vm_suite compat \
		tests/compat/compat-l1.sh --smp 1 --timeout 1800 \
		--env "PVCHAN_COMPAT_DIR=$dir"
}

# The debug tier: the test kernel (KASAN, lockdep, kmemleak, KUnit: built
# once by kunit/build-kernel.sh, ~20 min cold, then cached), pvchan built
# against it in a copy of the working tree (the checkout keeps its modules
# for Debian's kernel, which L2 still runs), and tests/debug/debug-l1.sh in
# L1 booted with that kernel.
# debug_kernel gets the test kernel (a build with all cores when cold),
# debug_build builds pvchan against it (one core), debug_run boots L1,
# which the caller runs in the background beside the other suites (one L1
# vCPU each, two cores).  L1 gets 1.5 GiB, not 3: kmemleak's scan reads
# every struct page, and the tier's VMs are small.
debug_kdir=
debug_kernel() {
	if ! debug_kdir=$("$REPO/kunit/build-kernel.sh" 2>"$OUT/debug-build.log"); then
		printf 'not ok 1 - test kernel builds (kunit/build-kernel.sh: %s)\n1..1\n' \
			"$OUT/debug-build.log" >"$OUT/debug.log"
		return 1
	fi
}
debug_build() {
	local src=$OUT/debug-src blog=$OUT/debug-build.log
	if ! { "$REPO/scripts/copy-tree.sh" "$src" &&
		make -C "$debug_kdir/build" M="$src" modules >>"$blog" 2>&1; }; then
		printf 'not ok 1 - pvchan builds against the test kernel (%s)\n1..1\n' \
			"$blog" >"$OUT/debug.log"
		return 1
	fi
}

debug_run() {
	run_vm_suite debug tests/debug/debug-l1.sh --kernel "$debug_kdir" \
		--smp "${1:-2}" --mem 1536M \
		--env "PVCHAN_DEBUG_BUILD=$OUT/debug-src" \
		--env "PVCHAN_DEBUG_E2E=${PVCHAN_DEBUG_E2E:-0}" \
		--env "PVCHAN_FUZZ_CALLS=${PVCHAN_FUZZ_CALLS:-0}" --timeout 3600
}

# Print and count a finished suite's results: every TAP line, and with a
# failing one the comment lines around it (its diagnostics: up to 40 before,
# 40 after), so a CI log says why without the suite's own log.
report() {	# report NAME RC
	awk '/^(not )?ok / {
		if (/^not ok /) for (i = (nb > 40 ? nb - 40 : 0); i < nb; i++)
			print buf[i % 40]
		nb = 0; after = /^not ok / ? 40 : 0; print; next }
	/^#/ { if (after > 0) { after--; print } else buf[nb++ % 40] = $0 }' \
		"$OUT/$1.log"
	count "$1" "$2" "$OUT/$1.log"
}

# One VM suite; its TAP goes to $OUT/NAME.log.  Every L1 has one vCPU (two
# suites at a time on two cores): with two (multi-threaded TCG) an L2 died
# silently in blk, L1 once hit a kernel stack guard page in a QEMU thread
# during echo, and the fuzzer's L2 vCPUs were seen resuming with L1's
# registers or taking a page fault on mapped code (harness/README.md).
run_suite() {	# run_suite NAME
	case $1 in
	# The fuzzer: 1.2 million operations (over 10^6 hypercalls) here.
	# Under the debug kernel only with make check-long (3 million each):
	# there its L1 (TCG) twice stopped for good in the middle of the
	# storm, idle, its timers no longer firing (harness/README.md).
	selftest) run_vm_suite selftest selftests/run-l1.sh --smp 1 --timeout 1200 \
		--env "PVCHAN_FUZZ_CALLS=${PVCHAN_FUZZ_CALLS:-1200000}" ;;
	echo) run_vm_suite echo tests/e2e/echo-l1.sh --smp 1 --timeout 1500 ;;
	noguest) run_vm_suite noguest tests/e2e/noguest-l1.sh --smp 1 --timeout 600 ;;
	ctl) run_vm_suite ctl tests/e2e/ctl-l1.sh --smp 1 --timeout 600 ;;
	blk) run_vm_suite blk tests/e2e/blk-l1.sh --smp 1 --timeout 2700 ;;
	faults) run_vm_suite faults tests/e2e/faults-l1.sh --smp 1 --timeout 1500 ;;
	net) run_vm_suite net tests/e2e/net-l1.sh --smp 1 --timeout 1800 ;;
	# tsc=reliable: L1 (TCG, no invariant-TSC CPUID bit) then runs on its
	# TSC, which KVM needs for a master clock (harness/README.md).
	clock) PVCHAN_L1_APPEND=tsc=reliable run_vm_suite clock \
		tests/e2e/clock-l1.sh --smp 1 --timeout 1200 ;;
	debug) debug_run 1 ;;
	# The 6.12 tier (k612_build): L1 and L2 on Debian's 6.12.
	# blk612: the same checks with 64 MiB per fio run, not 256 (time),
	# but with make check-long.
	echo612 | blk612 | net612) KVER=$k612_ver run_vm_suite "$1" \
		"$k612_src/tests/e2e/${1%612}-l1.sh" --smp 1 --timeout 2700 \
		--env "PVCHAN_BLK_FIO_MIB=$( ((${PVCHAN_LONG:-0})) && echo 256 || echo 64)" ;;
	# compat612: the compat script with this tree's guest alone: echo,
	# disk, network and clock in one L2 (the full net and clock suites
	# on 6.12 are in make check-long).
	compat612) KVER=$k612_ver PVCHAN_L1_APPEND=tsc=reliable \
		run_vm_suite compat612 "$k612_src/tests/compat/compat-l1.sh" \
		--smp 1 --timeout 1200 ;;
	clock612) KVER=$k612_ver PVCHAN_L1_APPEND=tsc=reliable \
		run_vm_suite clock612 "$k612_src/tests/e2e/clock-l1.sh" \
		--smp 1 --timeout 1200 ;;
	rootfs) rootfs_run ;;
	compat) compat_run ;;
	# On L0, in the pool: the Debian packages, and DKMS builds from them
	# against every supported Debian kernel-headers set (builds only).
	dist) "$REPO/scripts/dist-check.sh" "$OUT/dist" >"$OUT/dist.log" 2>&1 ;;
	*) echo "not ok - unknown suite $1" >"$OUT/$1.log"; false ;;
	esac
}

# static first, on L0: it builds what the VM suites load.  Then the debug
# tier's build (the test kernel on a cold cache: all cores, alone).  Then
# the VM suites, two at a time (one with PVCHAN_SERIAL=1), longest first;
# each is reported when it ends.
vm_suites=
for suite in debug blk faults blk612 selftest rootfs clock compat net dist \
	clock612 net612 compat612 noguest echo echo612 ctl; do
	[[ " $SUITES " == *" $suite "* ]] && vm_suites+=" $suite"
done
for suite in $SUITES; do
	[[ " static$vm_suites " == *" $suite "* ]] && continue
	echo "not ok - unknown suite $suite" >"$OUT/$suite.log"
	report "$suite" 1
done
# The debug tier's test kernel first: on a cold cache that is a kernel
# build with all cores, alone; when warm, a cache check.
if [[ " $vm_suites " == *" debug "* ]]; then
	t0[debug]=$(date +%s)
	if ! debug_kernel; then
		report debug 1
		vm_suites=${vm_suites/ debug/}
	fi
fi
# Then static and the debug and 6.12 tiers' pvchan builds, side by side
# (one core each).
declare -A prep	# what -> pid
if [[ " $SUITES " == *" static "* ]]; then
	echo "=== suite static"
	t0[static]=$(date +%s)
	run_static >"$OUT/static.log" 2>&1 &
	prep[static]=$!
fi
if [[ " $vm_suites " == *" debug "* ]]; then
	debug_build &
	prep[debug]=$!
fi
if [[ $vm_suites == *612* ]]; then
	k612_build &
	prep[k612]=$!
fi
if [[ -n ${prep[static]:-} ]]; then
	wait "${prep[static]}"
	rc=$?
	report static "$rc"
	if [[ $rc -ne 0 ]] && ! [[ -f host/pvchan_host.ko ]]; then
		echo "# build failed, skipping VM suites"
		vm_suites=
	fi
fi
if [[ -n ${prep[debug]:-} ]] && ! wait "${prep[debug]}"; then
	report debug 1
	vm_suites=${vm_suites/ debug/}
fi
if [[ -n ${prep[k612]:-} ]] && ! wait "${prep[k612]}"; then
	t0[k612]=$(date +%s)
	report k612 1
	for suite in echo612 blk612 clock612 net612 compat612; do
		vm_suites=${vm_suites/ $suite/}
	done
fi

declare -A suite_of	# pid -> suite
running=0
max_jobs=2
[[ ${PVCHAN_SERIAL:-0} == 1 ]] && max_jobs=1
reap() {	# wait for one suite to end and report it
	local pid rc
	wait -n -p pid
	rc=$?
	echo "=== suite ${suite_of[$pid]}"
	report "${suite_of[$pid]}" "$rc"
	unset "suite_of[$pid]"
	running=$((running - 1))
}
for suite in $vm_suites; do
	((running >= max_jobs)) && reap
	echo "# starting suite $suite"
	[[ -n ${t0[$suite]:-} ]] || t0[$suite]=$(date +%s)
	run_suite "$suite" &
	suite_of[$!]=$suite
	running=$((running + 1))
done
while ((running > 0)); do
	reap
done

summary="$pass passed, $fail failed, $skip skipped"
echo "$summary" >"$OUT/summary"
echo "$summary"
[[ $fail -eq 0 ]]
