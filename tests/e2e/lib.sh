# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # n, fail and work belong to the caller
# TAP helpers shared by the L1 test scripts (source this file).  The caller
# sets n=0 fail=0 and prints "1..$n" at the end.

# Which kernels the suite runs on, for its log (harness/kver.sh); in L1
# only (run-l1.sh sets PVOUT).
[[ -z ${PVOUT:-} ]] ||
	echo "# L1 kernel $(uname -r), L2 kernel $("$(dirname "${BASH_SOURCE[0]}")/../../harness/kver.sh" --l2)"

tap() {		# tap OK|FAIL DESCRIPTION
	n=$((n + 1))
	if [[ $1 == OK ]]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
	# When the check was made, in seconds since the script started:
	# where a suite's time goes (check.sh prints only the TAP lines).
	echo "# at ${SECONDS}s"
}

check() {	# check DESCRIPTION COMMAND...: one TAP line for COMMAND's status
	local d=$1
	shift
	if "$@"; then tap OK "$d"; else tap FAIL "$d"; fi
}

wait_for() {	# wait_for FILE PATTERN SECONDS
	local deadline=$((SECONDS + $3))
	until grep -q "$2" "$1" 2>/dev/null; do
		((SECONDS < deadline)) || return 1
		sleep 1
	done
}

g() {		# g KEY: the last "G KEY value" line the L2 side printed
	sed -n "s/^G $1 //p" "$work/l2.log" | tr -d '\r' | tail -n1
}

# The end of an L2 run, from the host's side: kill the VMM ($qpid); the
# pvchanctl attach ($ctl) exits 0 and the VM ($vm) is unbound, its debugfs
# entries ($dbg/vm$vm) gone, within 30 s.
vm_teardown() {
	kill "$qpid" 2>/dev/null	# it may have exited already
	wait "$ctl"
	check "pvchanctl exits 0 when the VMM exits" [ $? = 0 ]
	for _ in $(seq 30); do [[ -e $dbg/vm$vm ]] || break; sleep 1; done
	check "VM unbound, debugfs entries gone" [ ! -e "$dbg/vm$vm" ]
}

# host_unload NAME: rmmod pvchan_host, and no warning in L1's kernel log
# (kept in $out/NAME-l1-dmesg.log).
host_unload() {
	check "rmmod pvchan_host" rmmod pvchan_host
	dmesg >"$out/$1-l1-dmesg.log"
	check "no host kernel warnings" \
		bash -c "! grep -E 'WARNING:|BUG:|Call Trace|general protection' '$out/$1-l1-dmesg.log'"
}
