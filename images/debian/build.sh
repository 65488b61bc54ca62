#!/usr/bin/env bash
# images/debian/build.sh - the Debian image of issue 11's test (tests/e2e_debian.rs):
# a bookworm minbase tree made by debootstrap, plus the packages of
# images/debian/packages installed with apt-get in a chroot of it, and an ext2
# image of that tree (mke2fs -d).
#
# Both are cached under ${UMBRA_CACHE:-/var/cache/umbra}/debian/KEY, where KEY
# names what made them: suite, arch, variant, the package list and this
# recipe's version (RECIPE below; raise it when the recipe changes what it
# builds). A second run with the same key only prints the directory.
#
# Usage: images/debian/build.sh            (as root; needs debootstrap, e2fsprogs)
# Prints the cache directory on its last line; it holds
#   tree/        the root file system (/dev emptied: umbra mounts its devfs there,
#                a native chroot mounts its own)
#   debian.img   the ext2 image of tree/
#   KEY          the key, for the record
#   done         the mark of a finished build (the tree and image are whole)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RECIPE=1
SUITE=bookworm
VARIANT=minbase
ARCH=$(dpkg --print-architecture)
PKGS=$(grep -v '^#' "$HERE/packages" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
KEY=$SUITE-$ARCH-$VARIANT-$(echo "$PKGS" | tr ' ' '+')-r$RECIPE
CACHE=${UMBRA_CACHE:-/var/cache/umbra}/debian/$KEY

if [ -f "$CACHE/debian.img" ] && [ -f "$CACHE/done" ]; then
  echo "$CACHE"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "build.sh: debootstrap and chroot need root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "build.sh: debootstrap is missing (cargo xtask setup installs it)" >&2; exit 1; }
mkdir -p "$CACHE"
# One builder at a time: a second caller waits for the first and then finds the cache.
exec 9>"$CACHE.lock"
flock 9
if [ -f "$CACHE/debian.img" ] && [ -f "$CACHE/done" ]; then
  echo "$CACHE"
  exit 0
fi

MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=http://deb.debian.org/debian

T=$CACHE/tree
if [ ! -f "$CACHE/debootstrap.done" ]; then
  rm -rf "$T" "$CACHE/done"
  echo "build.sh: debootstrap --variant=$VARIANT $SUITE from $MIRROR (a few minutes)" >&2
  debootstrap --variant="$VARIANT" --arch="$ARCH" "$SUITE" "$T" "$MIRROR" >&2
  touch "$CACHE/debootstrap.done"
fi

# apt-get in a chroot, in a private mount namespace (its /proc, /dev and /tmp
# go away with it). No daemons are started by maintainer scripts.
printf '#!/bin/sh\nexit 101\n' > "$T/usr/sbin/policy-rc.d"
chmod 755 "$T/usr/sbin/policy-rc.d"
cp /etc/resolv.conf "$T/etc/resolv.conf" 2>/dev/null || true
echo "build.sh: apt-get install $PKGS" >&2
unshare --mount --propagation private sh -euc '
  T=$1; shift
  mount -t proc proc "$T/proc"
  mount --rbind /dev "$T/dev"
  chroot "$T" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    apt-get -q update
  chroot "$T" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    apt-get -q install -y --no-install-recommends "$@"
  chroot "$T" apt-get clean
' sh "$T" $PKGS >&2
rm -f "$T/usr/sbin/policy-rc.d"
rm -rf "$T"/var/lib/apt/lists/* "$T"/var/cache/apt/*.bin "$T"/var/log/*.log "$T"/var/log/apt/*
: > "$T/etc/resolv.conf"
echo umbra > "$T/etc/hostname"
# umbra mounts devfs on /dev and tmpfs on /tmp and /run only when they are
# empty in the image, as Linux mounts nothing over an initramfs's files.
find "$T/dev" "$T/tmp" "$T/run" -mindepth 1 -delete

# The image: the tree's size plus a quarter and 64 MiB, 4 KiB blocks, and
# inodes for the tree's files plus 16384 (mke2fs's default ratio would give
# far more than the tree needs, or too few for a small image).
kib=$(du -sk --apparent-size "$T" | cut -f1)
files=$(find "$T" | wc -l)
size=$(( (kib + kib / 4 + 65536) / 1024 ))M
inodes=$(( files + 16384 ))
echo "build.sh: mke2fs -t ext2 -b 4096 -N $inodes -d tree debian.img $size ($files files, $kib KiB)" >&2
rm -f "$CACHE/debian.img.tmp"
mke2fs -q -F -t ext2 -b 4096 -N "$inodes" -E root_owner=0:0 -d "$T" "$CACHE/debian.img.tmp" "$size" >&2
e2fsck -fn "$CACHE/debian.img.tmp" >&2
mv "$CACHE/debian.img.tmp" "$CACHE/debian.img"
echo "$KEY" > "$CACHE/KEY"
touch "$CACHE/done"
echo "$CACHE"
