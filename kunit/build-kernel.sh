#!/bin/bash
# Build (once) the pvchan test kernel: Debian's linux-source-6.1 with
# x86_64_defconfig + kvm_guest.config + kunit/debug.config.  Cached under
# /var/cache/pvchan/kernel/<key>, keyed by the source version and the
# fragment; prints that directory, which holds bzImage, build/ (the tree
# to build modules against) and modules/ (INSTALL_MOD_PATH).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KSRC=$("$HERE/../scripts/ksrc.sh")
CACHE=${PVCHAN_CACHE:-/var/cache/pvchan}
key=$( { cat "$KSRC/.pvchan-version"; cat "$HERE/debug.config"; cat "$0"; } |
	sha256sum | cut -c1-16)
out=$CACHE/kernel/$key
if [[ -f $out/.done ]]; then
	echo "$out"
	exit 0
fi
echo "build-kernel.sh: building the test kernel into $out (about 20-30 min on 2 cores)" >&2
rm -rf "$out"
mkdir -p "$out/build"
b=$out/build
make -s -C "$KSRC" O="$b" x86_64_defconfig >&2
"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$b" "$b/.config" \
	"$KSRC/kernel/configs/kvm_guest.config" "$HERE/debug.config" >&2
make -s -C "$KSRC" O="$b" olddefconfig >&2
# Every fragment option must have survived (dependencies can drop some).
while IFS= read -r line; do
	[[ $line =~ ^CONFIG_ ]] || continue
	opt=${line%%=*} val=${line#*=}
	if [[ $val == n ]]; then
		! grep -q "^$opt=" "$b/.config" || { echo "build-kernel.sh: $opt not off" >&2; exit 1; }
	else
		grep -qx "$line" "$b/.config" || { echo "build-kernel.sh: $line lost" >&2; exit 1; }
	fi
done <"$HERE/debug.config"
nice make -s -C "$KSRC" O="$b" -j"$(nproc)" bzImage modules >&2
make -s -C "$KSRC" O="$b" INSTALL_MOD_PATH="$out/modules" modules_install >&2
cp "$b/arch/x86/boot/bzImage" "$out/bzImage"
make -s -C "$b" kernelrelease >"$out/kernelrelease"
touch "$out/.done"
echo "$out"
