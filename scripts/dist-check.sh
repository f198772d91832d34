#!/bin/bash
# The distribution checks, on L0 (builds only: nothing is loaded here).
# Builds the Debian packages (scripts/deb.sh), checks them with lintian and
# by their contents, then has DKMS build each module package against every
# supported Debian kernel-headers set (6.1 and 6.12; amd64, cloud-amd64,
# rt-amd64) from the packaged source, with W=1 and sparse (C=2), in a DKMS
# tree of its own.  Prints TAP.
#
#   dist-check.sh [OUTDIR]	default results/dist
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$REPO/results/dist}
METAS=(linux-headers-amd64 linux-headers-cloud-amd64 linux-headers-rt-amd64
	linux-headers-6.12-amd64 linux-headers-6.12-cloud-amd64
	linux-headers-6.12-rt-amd64)
DIAG='warning:|error:|undefined!|\.[ch]:[0-9]+:[0-9]+:'
n=0 fail=0
# shellcheck source=tests/e2e/lib.sh
. "$REPO/tests/e2e/lib.sh"

# contains DEB PATH...: the package holds every PATH.
contains() {
	local deb=$1 list p
	shift
	list=$(dpkg-deb -c "$deb" | awk '{ print $6 }')
	for p in "$@"; do
		grep -qx "\./$p" <<<"$list" || { echo "# $deb lacks $p"; return 1; }
	done
}

rm -rf "$OUT"
mkdir -p "$OUT"
if ! "$REPO/scripts/deb.sh" "$OUT/deb" >"$OUT/deb.log" 2>&1; then
	tap FAIL "make deb builds the packages ($OUT/deb.log)"
	sed 's/^/# /' "$OUT/deb.log" | tail -n 20
	echo "1..$n"
	exit 1
fi
tap OK "make deb builds pvchan-host-dkms, pvchan-guest-dkms and pvchanctl"
ver=$(dpkg-parsechangelog -l "$REPO/debian/changelog" -S Version)
host_deb=$OUT/deb/pvchan-host-dkms_${ver}_all.deb
guest_deb=$OUT/deb/pvchan-guest-dkms_${ver}_all.deb
ctl_deb=$OUT/deb/pvchanctl_${ver}_amd64.deb

# lintian: errors and warnings fail; every tag is shown.
lintian --allow-root -I -E --pedantic "$host_deb" "$guest_deb" "$ctl_deb" \
	>"$OUT/lintian.log" 2>&1
sed 's/^/# lintian: /' "$OUT/lintian.log"
check "lintian: no errors or warnings" bash -c "! grep -qE '^[EW]: ' '$OUT/lintian.log'"

check "pvchan-host-dkms: DKMS source of the host side, /dev/pvchan udev rule" \
	contains "$host_deb" "usr/src/pvchan-host-$ver/dkms.conf" \
	"usr/src/pvchan-host-$ver/Kbuild" "usr/src/pvchan-host-$ver/host/kvm_glue.c" \
	"usr/src/pvchan-host-$ver/abi/pvchan_abi.h" usr/lib/udev/rules.d/60-pvchan-host.rules
check "pvchan-guest-dkms: DKMS source of the guest side, disk udev rules, modules-load.d" \
	contains "$guest_deb" "usr/src/pvchan-guest-$ver/dkms.conf" \
	"usr/src/pvchan-guest-$ver/Kbuild" "usr/src/pvchan-guest-$ver/guest/blk.c" \
	"usr/src/pvchan-guest-$ver/abi/pvchan_abi.h" usr/lib/udev/rules.d/60-pvchan.rules \
	usr/lib/modules-load.d/pvchan-guest.conf
check "pvchanctl: binary, man page, systemd template unit" \
	contains "$ctl_deb" usr/sbin/pvchanctl usr/share/man/man8/pvchanctl.8.gz \
	'lib/systemd/system/pvchanctl@.service'
# sources_only DEB OTHER: no build products, nothing of side OTHER or kunit.
sources_only() {
	! dpkg-deb -c "$1" | awk '{ print $6 }' |
		grep -E "\.(o|ko|mod|cmd)\$|\.mod\.c\$|/$2/|/kunit/"
}
check "module packages hold sources only, each its own side" \
	eval 'sources_only "$host_deb" guest && sources_only "$guest_deb" host'
root=$OUT/root
mkdir -p "$root"
for d in "$host_deb" "$guest_deb" "$ctl_deb"; do dpkg-deb -x "$d" "$root"; done
check "the packaged pvchanctl runs (--version)" bash -c "'$root/usr/sbin/pvchanctl' --version | grep -q '^pvchanctl '"
# The unit as packaged, its ExecStart pointed at the unpacked binary.
verify_unit() {
	mkdir -p "$OUT/unit" &&
		sed "s|/usr/sbin/pvchanctl|$root/usr/sbin/pvchanctl|" \
		"$root/lib/systemd/system/pvchanctl@.service" >"$OUT/unit/pvchanctl@.service" &&
		systemd-analyze verify --man=no "$OUT/unit/pvchanctl@x.service" \
		>"$OUT/unit.log" 2>&1 && ! grep -q . "$OUT/unit.log"
}
check "pvchanctl@.service passes systemd-analyze verify" verify_unit
sed 's/^/# /' "$OUT/unit.log"

# DKMS, per header set and package, from the packaged source; W=1 and
# sparse through the environment (kbuild's KBUILD_EXTRA_WARN and
# KBUILD_CHECKSRC, which DKMS's make inherits).  One job: this runs beside
# an L1, and a starved emulated CPU is what the timing checks there see.
for meta in "${METAS[@]}"; do
	kver=$("$REPO/scripts/headers-kver.sh" "$meta")
	if [[ -z $kver || ! -f /usr/src/linux-headers-$kver/Makefile ]]; then
		tap FAIL "$meta: headers not installed (scripts/deps.sh)"
		continue
	fi
	for side in host guest; do
		tree=$OUT/dkms-$kver-$side
		mkdir -p "$tree"
		KBUILD_EXTRA_WARN=1 KBUILD_CHECKSRC=2 dkms build -j 1 --dkmstree "$tree" \
			--sourcetree "$root/usr/src" -m "pvchan-$side" -v "$ver" \
			-k "$kver" >"$tree.log" 2>&1
		log=$tree/pvchan-$side/$ver/$kver/x86_64/log/make.log
		ko=$(find "$tree/pvchan-$side/$ver/$kver" -name "pvchan_$side.ko*" 2>/dev/null | head -n 1)
		if [[ -n $ko && -f $log ]] && grep -q 'CHECK' "$log" &&
			! grep -qiE "$DIAG" "$log" &&
			[[ $(modinfo -F vermagic "$ko" | cut -d' ' -f1) == "$kver" ]]; then
			tap OK "dkms build pvchan-$side against $kver: W=1 and sparse clean"
		else
			tap FAIL "dkms build pvchan-$side against $kver ($tree.log, $log)"
			grep -iE "$DIAG" "$log" "$tree.log" 2>/dev/null | head -n 20 | sed 's/^/# /'
		fi
	done
done
echo "1..$n"
exit $fail
