#!/bin/bash
# Install what building and testing pvchan needs on Debian 12 (run as root).
# Idempotent and quick when everything is there.  QEMU comes from
# bookworm-backports (10.x): nested SVM under TCG is far more stable there.
set -euo pipefail

PKGS=(linux-image-amd64 linux-headers-amd64 linux-source-6.1 busybox-static
	linux-headers-cloud-amd64 linux-headers-rt-amd64
	linux-headers-6.12-amd64 linux-headers-6.12-cloud-amd64
	linux-headers-6.12-rt-amd64 debhelper dh-dkms dpkg-dev lintian systemd
	mmdebstrap
	cpio kmod sparse dkms fio iperf3 ethtool e2fsprogs strace xz-utils bc
	flex bison libelf-dev libssl-dev make gcc perl python3 python3-docutils)
BPO_PKGS=(qemu-system-x86 qemu-utils)

[[ $(id -u) = 0 ]] || { echo "deps.sh: run as root (installs packages)" >&2; exit 1; }
grep -qs '^VERSION_CODENAME=bookworm' /etc/os-release ||
	echo "deps.sh: warning: tested on Debian 12 (bookworm) only" >&2

missing=()
for p in "${PKGS[@]}" "${BPO_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
qemu_major=$(qemu-system-x86_64 --version 2>/dev/null |
	sed -n 's/.*version \([0-9]*\)\..*/\1/p' || true)
[[ ${qemu_major:-0} -ge 10 ]] || missing+=(qemu-system-x86)
[[ ${#missing[@]} -gt 0 ]] || exit 0

echo "deps.sh: installing ${missing[*]}" >&2
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	cat >/etc/apt/sources.list.d/pvchan-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q -t bookworm-backports "${BPO_PKGS[@]}"
apt-get install -y -q --no-install-recommends "${PKGS[@]}"
