#!/bin/bash
# make deb: build the Debian packages (pvchan-host-dkms, pvchan-guest-dkms,
# pvchanctl) from the tracked and new files of the working tree, in a copy
# (scripts/dist-check.sh checks them).  The .deb files land in OUTDIR.
#
#   deb.sh [OUTDIR]		default results/deb
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-$REPO/results/deb}
src=$OUT/build/pvchan

for p in debhelper dh-dkms dpkg-dev; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || {
		echo "deb.sh: $p missing (scripts/deps.sh installs it)" >&2
		exit 1
	}
done
rm -rf "$OUT"
"$REPO/scripts/copy-tree.sh" "$src"
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1 || {
	tail -n 30 "$OUT/build.log" >&2
	echo "deb.sh: dpkg-buildpackage failed ($OUT/build.log)" >&2
	exit 1
}
mv "$OUT"/build/*.deb "$OUT"/build/*.changes "$OUT"/ 2>/dev/null || true
ls "$OUT"/*.deb
