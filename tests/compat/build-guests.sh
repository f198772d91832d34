#!/bin/bash
# Build the guest module of every earlier ABI release (tests/compat/releases)
# for the kernel whose headers are in KDIR, as OUTDIR/pvchan_guest-1.N.ko.
#
#   build-guests.sh OUTDIR
#
# Each guest is built from its commit (git archive: the clone needs the
# history) and cached under $PVCHAN_CACHE/compat (default
# /var/cache/pvchan/compat) keyed by commit and kernel release: a warm run
# copies.  Fails if the releases list does not name every minor version
# below this tree's PVCHAN_ABI_MINOR (a bump must add its predecessor).
# Env: KVER (kernel release), KDIR (default /lib/modules/$KVER/build).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=${1:?usage: build-guests.sh OUTDIR}
KVER=${KVER:?KVER not set}
KDIR=${KDIR:-/lib/modules/$KVER/build}
CACHE=${PVCHAN_CACHE:-/var/cache/pvchan}/compat
die() { echo "build-guests.sh: $*" >&2; exit 1; }

minor=$(sed -n 's/^#define PVCHAN_ABI_MINOR[[:space:]]*//p' "$REPO/abi/pvchan_abi.h")
want=$(seq -f '1.%g' 0 $((minor - 1)) | tr '\n' ' ')
have=$(awk '!/^#/ && NF { printf "%s ", $1 }' "$REPO/tests/compat/releases")
[[ $have == "$want" ]] ||
	die "tests/compat/releases lists '$have', ABI 1.$minor needs '$want'"

mkdir -p "$OUT" "$CACHE"
while read -r abi commit; do
	[[ -z $abi || $abi == \#* ]] && continue
	ko=$CACHE/$commit-$KVER.ko
	if [[ ! -s $ko ]]; then
		git -C "$REPO" cat-file -e "$commit^{commit}" 2>/dev/null ||
			die "guest $abi: commit $commit is not in this clone (a shallow clone?)"
		src=$(mktemp -d)
		git -C "$REPO" archive "$commit" | tar -x -C "$src"
		# The guest tree at that commit, its own Kbuild and compat.h.
		make -C "$KDIR" M="$src/guest" modules >"$src/build.log" 2>&1 ||
			{ tail -n 20 "$src/build.log" >&2; die "guest $abi ($commit) does not build"; }
		got=$(sed -n 's/^#define PVCHAN_ABI_MINOR[[:space:]]*//p' "$src/abi/pvchan_abi.h")
		[[ 1.$got == "$abi" ]] || die "commit $commit speaks ABI 1.$got, listed as $abi"
		cp "$src/guest/pvchan_guest.ko" "$ko.tmp"
		mv "$ko.tmp" "$ko"
		rm -rf "$src"
		echo "built guest $abi from ${commit:0:12} for $KVER"
	fi
	# No debug info: the L2 image carries them all.
	strip --strip-debug -o "$OUT/pvchan_guest-$abi.ko" "$ko"
done <"$REPO/tests/compat/releases"
