# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154 # n, fail and work belong to the caller
# TAP helpers shared by the L1 test scripts (source this file).  The caller
# sets n=0 fail=0 and prints "1..$n" at the end.

tap() {		# tap OK|FAIL DESCRIPTION
	n=$((n + 1))
	if [[ $1 == OK ]]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		fail=1
	fi
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
