#!/usr/bin/env bash
# Builds a minimal arm64 Debian tree with CPython 3.11 in DIR (default /tmp/kaze-arm64-root), for
# running the Python host under qemu-aarch64 (qemu-user) against a real x86-64 kaze:
#   KAZE_ARM64_SYSROOT=DIR python3 hosts/python/tests/run.py -k Arm64
# Adds the arm64 architecture to dpkg only for the download and removes it again.
set -euo pipefail
dir=${1:-/tmp/kaze-arm64-root}
debs=$(mktemp -d)
trap 'rm -rf "$debs"; dpkg --remove-architecture arm64 2>/dev/null || true; apt-get update -qq || true' EXIT
dpkg --add-architecture arm64
apt-get update -qq
(cd "$debs" && apt-get download python3.11-minimal:arm64 libpython3.11-minimal:arm64 libpython3.11-stdlib:arm64 \
  libc6:arm64 libffi8:arm64 zlib1g:arm64 libexpat1:arm64 libgcc-s1:arm64 libcrypt1:arm64)
mkdir -p "$dir"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$dir"; done
echo "arm64 tree in $dir: qemu-aarch64 -L $dir $dir/usr/bin/python3.11"
