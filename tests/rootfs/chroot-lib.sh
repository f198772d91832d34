# shellcheck shell=bash
# Helpers for the scripts that build Debian 12 systems on L0 for the
# package tests (source this file): a cached mmdebstrap base, and a chroot
# with /proc, /sys and /dev that is undone on exit.  Nothing is loaded on
# L0; the systems are used in L1 and L2.

CACHE=${PVCHAN_IMAGE_CACHE:-/var/cache/pvchan/images}
MIRROR=${PVCHAN_MIRROR:-http://deb.debian.org/debian}
# shellcheck disable=SC2034 # for the sourcing script
SECURITY_MIRROR=${PVCHAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# base_tar NAME PKGS VERSION [SUITE...]: print the path of a bookworm base
# system (mmdebstrap, variant minbase, with PKGS), building it if needed.
# Cached by NAME, PKGS, the mirrors and VERSION (bump it when the
# mmdebstrap call changes).  SUITEs are extra sources.list lines.
base_tar() {
	local name=$1 pkgs=$2 v=$3 key tar
	shift 3
	key=$(echo "$pkgs $MIRROR $* $v" | sha256sum | cut -c1-16)
	tar=$CACHE/$name-$key.tar
	if [[ ! -s $tar ]]; then
		mkdir -p "$CACHE"
		rm -rf "$tar" "$tar.tmp"
		echo "building $tar (mmdebstrap)" >&2
		mmdebstrap --mode=root --variant=minbase --format=tar \
			--include="$pkgs" bookworm "$tar.tmp" "$MIRROR" "$@" >&2 ||
			return 1
		mv "$tar.tmp" "$tar"
	fi
	echo "$tar"
}

# chroot_mount ROOT: bind /proc, /sys and /dev into ROOT until chroot_umount
# (also run on exit).  chroot_new BASE ROOT: ROOT emptied, BASE (a tarball)
# unpacked there, then chroot_mount.
chroot_mounts=()
chroot_umount() {
	local i
	for ((i = ${#chroot_mounts[@]} - 1; i >= 0; i--)); do
		umount -l "${chroot_mounts[i]}" 2>/dev/null || true
	done
	chroot_mounts=()
}
chroot_mount() {
	local m
	trap chroot_umount EXIT
	for m in proc sys dev; do
		mount --rbind "/$m" "$1/$m"
		chroot_mounts+=("$1/$m")
	done
}
chroot_new() {
	rm -rf "$2"
	mkdir -p "$2"
	tar -C "$2" -xf "$1"
	chroot_mount "$2"
}

# apt_install ROOT LOG DEB...: install local packages in ROOT as an
# administrator would (their maintainer scripts run: DKMS, triggers).
apt_install() {
	local root=$1 log=$2 d names=()
	shift 2
	for d in "$@"; do
		cp "$d" "$root/tmp/"
		names+=("/tmp/$(basename "$d")")
	done
	chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${names[@]}" >"$log" 2>&1 ||
		{ tail -n 30 "$log" >&2; return 1; }
}
