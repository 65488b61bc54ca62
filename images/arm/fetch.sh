#!/usr/bin/env bash
# images/arm/fetch.sh - what the ARM suite needs on the (Debian 12 x86_64) host:
# qemu-system-aarch64 (bookworm-backports' qemu-system-arm, so that the
# backported qemu-utils stays) and, from Debian's arm64 archive, a kernel and
# busybox-static (downloaded with a private apt configuration: nothing is
# installed, no foreign architecture is added to dpkg).
# Adapted from ../shared/recipes/arm-emulation/run-arm-tests.sh.
#
# Usage: images/arm/fetch.sh [OUT]   (default OUT: target/arm)
# Leaves OUT/guest/arm64/boot/vmlinuz-*-arm64 and OUT/guest/arm64/bin/busybox.
# SKIP_APT=1 skips the apt-get install of qemu.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/target/arm}
mkdir -p "$OUT"

MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
SECMIRROR=${MIRROR%/debian}/debian-security

if [ "${SKIP_APT:-0}" != 1 ] && ! command -v qemu-system-aarch64 >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "deb $MIRROR bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
  fi
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-arm >/dev/null
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends cpio >/dev/null
fi
qemu-system-aarch64 --version | head -1

A=arm64
K=$(ls "$OUT"/guest/$A/boot/vmlinuz-*-arm64 2>/dev/null | head -1 || true)
if [ -n "$K" ] && [ -x "$OUT/guest/$A/bin/busybox" ]; then
  echo "have $K and $OUT/guest/$A/bin/busybox"
  exit 0
fi
D=$OUT/apt-$A
mkdir -p "$D/lists/partial" "$D/cache/archives/partial" "$OUT/debs/$A"
cat > "$D/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECMIRROR bookworm-security main
SRC
O=(-o APT::Architecture=$A -o APT::Architectures::=$A
   -o Dir::Etc::sourcelist=$D/sources.list -o Dir::Etc::sourceparts=/dev/null
   -o Dir::State::Lists=$D/lists -o Dir::Cache=$D/cache
   -o Dir::State::status=/dev/null -o APT::Sandbox::User=root)
apt-get "${O[@]}" update -qq || echo "WARNING: apt-get update ($A) reported errors; using the indexes that were fetched"
k=$(apt-cache "${O[@]}" depends linux-image-arm64 | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$k" ] || { echo "ERROR: cannot resolve linux-image-arm64"; exit 1; }
(cd "$OUT/debs/$A" && rm -f ./*.deb && apt-get "${O[@]}" download busybox-static "$k")
mkdir -p "$OUT/guest/$A"
for d in "$OUT"/debs/$A/linux-image-*.deb; do
  dpkg-deb --fsys-tarfile "$d" | tar -x -C "$OUT/guest/$A" --wildcards './boot/vmlinuz-*'
done
dpkg-deb --fsys-tarfile "$OUT"/debs/$A/busybox-static_*.deb | tar -x -C "$OUT/guest/$A" ./bin/busybox
ls -l "$OUT"/guest/$A/boot/vmlinuz-* "$OUT/guest/$A/bin/busybox"
