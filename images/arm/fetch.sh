#!/usr/bin/env bash
# images/arm/fetch.sh - what the ARM suite needs on the (Debian 12 x86_64) host:
# qemu-system-aarch64 and qemu-system-arm (bookworm-backports' qemu-system-arm,
# so that the backported qemu-utils stays), cpio, for armhf the cross gcc and
# static glibc (gcc-arm-linux-gnueabihf, libc6-dev-armhf-cross), for arm64
# the cross gcc and glibc (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross), and from
# Debian's arm64 or armhf archive a kernel (arm64: linux-image-arm64; armhf:
# linux-image-armmp-lpae) and busybox-static, downloaded with a private apt
# configuration: nothing of them is installed, no foreign dpkg architecture.
# Adapted from ../shared/recipes/arm-emulation/run-arm-tests.sh.
#
# Usage: images/arm/fetch.sh [OUT] [ARCH]   (OUT: target/arm; ARCH: arm64 | armhf)
# Leaves OUT/guest/ARCH/boot/vmlinuz-* and OUT/guest/ARCH/bin/busybox.
# SKIP_APT=1 skips the apt-get installs (the tools must be there).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$ROOT/target/arm}
A=${2:-arm64}
case $A in
  arm64) QEMU=qemu-system-aarch64 KMETA=linux-image-arm64 KPAT='vmlinuz-*-arm64' ;;
  armhf) QEMU=qemu-system-arm KMETA=linux-image-armmp-lpae KPAT='vmlinuz-*-armmp-lpae' ;;
  *) echo "fetch.sh: ARCH must be arm64 or armhf, not '$A'" >&2; exit 2 ;;
esac
mkdir -p "$OUT"

MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
SECMIRROR=${MIRROR%/debian}/debian-security

apt_install() { # [apt-get install options...] packages...
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "$@" >/dev/null
}
if [ "${SKIP_APT:-0}" != 1 ]; then
  updated=0
  update() {
    [ $updated = 1 ] || apt-get -o DPkg::Lock::Timeout=300 update -qq
    updated=1
  }
  if ! command -v "$QEMU" >/dev/null; then
    if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "deb $MIRROR bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list
    fi
    update
    apt_install -t bookworm-backports qemu-system-arm
  fi
  need=()
  command -v cpio >/dev/null || need+=(cpio)
  # qemu-user for the unit tests of umbra-core built for the arch.
  command -v qemu-arm-static >/dev/null && command -v qemu-aarch64-static >/dev/null ||
    need+=(qemu-user-static)
  if [ "$A" = armhf ]; then
    command -v arm-linux-gnueabihf-gcc >/dev/null || need+=(gcc-arm-linux-gnueabihf)
    [ -e /usr/arm-linux-gnueabihf/lib/libc.a ] || need+=(libc6-dev-armhf-cross)
  else
    # The dynamically linked hello world (dynhello.c) and arm64's ld.so and libc.
    command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
    [ -e /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need+=(libc6-dev-arm64-cross)
  fi
  if [ ${#need[@]} -gt 0 ]; then
    update
    apt_install "${need[@]}"
  fi
fi
"$QEMU" --version | head -1

# The downloaded kernel and busybox are also kept in a machine-wide cache
# (UMBRA_CACHE, default /var/cache/umbra), keyed by release and arch, so a
# fresh clone on the same machine does not download them again.
CACHE=${UMBRA_CACHE:-/var/cache/umbra}/arm/bookworm-$A-$KMETA
K=$(ls "$OUT"/guest/$A/boot/$KPAT 2>/dev/null | head -1 || true)
if [ -z "$K" ] && ls "$CACHE"/boot/$KPAT >/dev/null 2>&1 && [ -x "$CACHE/bin/busybox" ]; then
  mkdir -p "$OUT/guest/$A"
  cp -a "$CACHE/boot" "$CACHE/bin" "$OUT/guest/$A/"
  echo "from the cache $CACHE"
  K=$(ls "$OUT"/guest/$A/boot/$KPAT 2>/dev/null | head -1 || true)
fi
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
# The mirror has served a stale bookworm-security armhf index ("Mirror sync in
# progress?"): go on with the indexes that arrived (bookworm main has kernels).
apt-get "${O[@]}" update -qq || echo "WARNING: apt-get update ($A) reported errors; using the indexes that were fetched"
k=$(apt-cache "${O[@]}" depends $KMETA | awk '/Depends: linux-image-/{print $2; exit}')
[ -n "$k" ] || { echo "ERROR: cannot resolve $KMETA ($A)"; exit 1; }
(cd "$OUT/debs/$A" && rm -f ./*.deb && apt-get "${O[@]}" download busybox-static "$k")
mkdir -p "$OUT/guest/$A"
for d in "$OUT"/debs/$A/linux-image-*.deb; do
  dpkg-deb --fsys-tarfile "$d" | tar -x -C "$OUT/guest/$A" --wildcards './boot/vmlinuz-*'
done
dpkg-deb --fsys-tarfile "$OUT"/debs/$A/busybox-static_*.deb | tar -x -C "$OUT/guest/$A" ./bin/busybox
ls -l "$OUT"/guest/$A/boot/vmlinuz-* "$OUT/guest/$A/bin/busybox"
if mkdir -p "$CACHE.tmp.$$" 2>/dev/null && cp -a "$OUT/guest/$A/boot" "$OUT/guest/$A/bin" "$CACHE.tmp.$$/"; then
  rm -rf "$CACHE" && mv "$CACHE.tmp.$$" "$CACHE" && echo "cached in $CACHE"
else
  rm -rf "$CACHE.tmp.$$"
fi
