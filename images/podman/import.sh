#!/usr/bin/env bash
# images/podman/import.sh - the container image of issue 15's Podman test
# (tests/e2e_podman.rs) and of the `podman` bench workload: the Debian
# bookworm tree of images/debian/build.sh, plus the static busybox (for its
# httpd) as /usr/local/bin/busybox, tarred and imported with `podman import`
# (there is no registry here) into a containers-storage image store.
#
# The store is cached under ${UMBRA_CACHE:-/var/cache/umbra}/podman/KEY, where
# KEY is the Debian tree's key plus this recipe's version (RECIPE below).
# Users of the image never write to it: they give podman a private --root and
# name the cache as a read-only additional image store,
#   podman --root PRIVATE --runroot PRIVATE --storage-driver overlay \
#          --storage-opt overlay.imagestore=CACHE/storage ... localhost/umbra-debian
# so that containers, their layers and podman's database live and die with
# the caller.
#
# Usage: images/podman/import.sh   (as root; needs podman, tar, debootstrap)
# Prints the cache directory on its last line; it holds
#   storage/   the image store (overlay driver) holding localhost/umbra-debian
#   oci.tar    the same image as an OCI archive (`podman save --format
#              oci-archive`), for `ctr images import`
#   KEY        the key, for the record
#   done       the mark of a finished import
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RECIPE=2
IMAGE=localhost/umbra-debian:latest
BUSYBOX=/bin/busybox

DEB=$("$HERE/../debian/build.sh" | tail -n 1)
[ -f "$DEB/KEY" ] && [ -d "$DEB/tree" ] || { echo "import.sh: $DEB holds no Debian tree" >&2; exit 1; }
KEY=$(cat "$DEB/KEY")-p$RECIPE
CACHE=${UMBRA_CACHE:-/var/cache/umbra}/podman/$KEY

if [ -f "$CACHE/done" ]; then
  echo "$CACHE"
  exit 0
fi
[ "$(id -u)" = 0 ] || { echo "import.sh: podman import into the cache needs root" >&2; exit 1; }
command -v podman >/dev/null || { echo "import.sh: podman is missing (cargo xtask setup installs it)" >&2; exit 1; }
# busybox-static's binary runs in any root; the dynamically linked busybox
# package's would need its libraries.
if ! readelf -l "$BUSYBOX" >/dev/null 2>&1 || readelf -l "$BUSYBOX" | grep -q INTERP; then
  echo "import.sh: $BUSYBOX is not busybox-static's static binary" >&2
  exit 1
fi
mkdir -p "$CACHE"
# One importer at a time: a second caller waits for the first and then finds the cache.
exec 9>"$CACHE.lock"
flock 9
if [ -f "$CACHE/done" ]; then
  echo "$CACHE"
  exit 0
fi

rm -rf "$CACHE/storage" "$CACHE/extra" "$CACHE/image.tar" "$CACHE/oci.tar"
# podman refuses a --runroot longer than 50 characters.
RUN=$(mktemp -d /tmp/umbra-podman-import.XXXXXX)
trap 'rm -rf "$RUN"' EXIT
mkdir -p "$CACHE/extra/usr/local/bin"
cp "$BUSYBOX" "$CACHE/extra/usr/local/bin/busybox"
chmod 755 "$CACHE/extra/usr/local/bin/busybox"
echo "import.sh: tar of $DEB/tree plus busybox" >&2
tar -C "$DEB/tree" --numeric-owner -cf "$CACHE/image.tar" .
tar -C "$CACHE/extra" --numeric-owner -rf "$CACHE/image.tar" ./usr/local/bin/busybox
# podman in a mount namespace with a /run of its own: it writes
# /run/containers and /run/libpod even with a private --runroot and --tmpdir.
P=(unshare -m --propagation private sh -c 'mount -t tmpfs -o mode=755 tmpfs /run && exec "$0" "$@"'
   podman --root "$CACHE/storage" --runroot "$RUN/run" --tmpdir "$RUN/tmp"
   --storage-driver overlay --cgroup-manager cgroupfs --events-backend none)
echo "import.sh: podman import as $IMAGE (about 20 s)" >&2
"${P[@]}" import --change CMD=/bin/bash "$CACHE/image.tar" "$IMAGE" >&2
"${P[@]}" image exists "$IMAGE"
echo "import.sh: podman save --format oci-archive (for containerd)" >&2
"${P[@]}" save --format oci-archive -o "$CACHE/oci.tar.tmp" "$IMAGE" >&2
mv "$CACHE/oci.tar.tmp" "$CACHE/oci.tar"
rm -rf "$CACHE/image.tar" "$CACHE/extra"
echo "$KEY" > "$CACHE/KEY"
touch "$CACHE/done"
echo "$CACHE"
