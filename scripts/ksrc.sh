#!/bin/bash
# Print the path of Debian's linux-source-6.1 tree (kselftest harness, KVM
# selftest library, checkpatch), extracting it once into the cache and again
# whenever the package version changes.
set -euo pipefail

CACHE=${PVCHAN_CACHE:-/var/cache/pvchan}
tarball=/usr/src/linux-source-6.1.tar.xz
dir=$CACHE/linux-source-6.1
ver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) || {
	echo "ksrc.sh: linux-source-6.1 is not installed (scripts/deps.sh)" >&2
	exit 1
}
if [[ $(cat "$dir/.pvchan-version" 2>/dev/null) != "$ver" ]]; then
	echo "ksrc.sh: extracting $tarball ($ver)" >&2
	mkdir -p "$CACHE"
	rm -rf "$dir" "$dir.tmp"
	mkdir "$dir.tmp"
	tar -C "$dir.tmp" -xf "$tarball"
	mv "$dir.tmp/linux-source-6.1" "$dir"
	rmdir "$dir.tmp"
	echo "$ver" >"$dir/.pvchan-version"
fi
echo "$dir"
