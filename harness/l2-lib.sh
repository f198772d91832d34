# shellcheck shell=bash
# Helpers for L1 test scripts that run an L2 (source this file).
#
# Nested SVM under TCG sometimes loses an L2 during boot (the emulator, not
# pvchan: see harness/README.md); suites boot L2 once more when it never
# reached its init, and stop waiting as soon as its QEMU is gone.

# l2_wait LOG PATTERN SECONDS: wait for PATTERN in the L2 console LOG; fail
# at the deadline, or as soon as QEMU has exited (run-l2.sh writes LOG.rc).
l2_wait() {
	local deadline=$((SECONDS + $3))
	until grep -q "$2" "$1" 2>/dev/null; do
		if [[ -e $1.rc ]]; then
			grep -q "$2" "$1" 2>/dev/null
			return
		fi
		((SECONDS < deadline)) || return 1
		sleep 1
	done
}

# l2_booted LOG: did L2 reach its init (l2-init's first line) within 300 s?
# If not, show the end of its console so the failed boot is on record.
l2_booted() {
	l2_wait "$1" '=== L2 up' 300 && return 0
	echo "# L2 did not reach its init (QEMU rc: $(cat "$1.rc" 2>/dev/null || echo running)); console tail:"
	tail -n 15 "$1" 2>/dev/null | tr -d '\r' | sed 's/^/#   /'
	return 1
}

# l2_kill LOG PID: stop an L2 and wait until run-l2.sh's wrapper has noted
# its exit (LOG.rc), so a new L2 on the same LOG does not see a stale one.
l2_kill() {
	local deadline=$((SECONDS + 30))
	kill "$2" 2>/dev/null
	until [[ -e $1.rc ]] || ((SECONDS >= deadline)); do
		sleep 1
	done
}

# l2_gone LOG PATTERN: if L2 never printed PATTERN, say why on the record:
# QEMU's exit status (0 with -no-reboot: the guest reset itself, e.g. a
# triple fault under nested emulation) and QEMU's own messages.  Returns 0
# if PATTERN is there.
l2_gone() {
	grep -q "$2" "$1" 2>/dev/null && return 0
	echo "# L2 stopped before '$2' (QEMU rc: $(cat "$1.rc" 2>/dev/null || echo "still running")); QEMU said:"
	sed 's/^/#   /' "$1.qemu" 2>/dev/null
	echo "# L2 console tail:"
	tail -n 5 "$1" 2>/dev/null | tr -d '\r' | sed 's/^/#   /'
	return 1
}

# l2_start FN: run FN, which starts L2 paused, attaches pvchanctl (its pid
# in $ctl, QEMU's in $qpid, console in $work/l2.log) and resumes L2, and
# fails if it could not attach.  If L2 then never reaches its init, kill it
# and run FN once more.  Sets attached=1 when L2 runs attached.
l2_start() {
	attached=0
	"$1" && attached=1
	if ((attached)) && ! l2_booted "$work/l2.log"; then
		echo "# retrying the L2 boot once"
		l2_kill "$work/l2.log" "$qpid"
		wait "$ctl"
		attached=0
		"$1" && attached=1
	fi
}
