#!/usr/bin/env bash
# images/arm/paper.sh - Table 1's RAM figures on the emulated arm64 machine
# (`cargo xtask paper --arm64`; xtask/src/paper/rom_ram.rs): boots
# qemu-system-aarch64 (TCG, one vCPU, -M virt, cortex-a57, Debian's arm64
# kernel, as images/arm/run.sh) with an initramfs holding umbra, the busybox
# image and its tree, the PSS sampler (pss.rs) and paper-init as PID 1, and
# prints the machine's lines from BOOT-OK to ALL-DONE (the PAPER lines are
# described in paper-init). It leaves images/arm/init and run.sh alone.
#
# Usage: images/arm/paper.sh UMBRA IMAGE TREE [OUT]
#   UMBRA: umbra built for aarch64-unknown-linux-musl (the device rom build)
#   IMAGE: the ext2 image of Table 1; TREE: the directory it was made from
#   OUT:   as for fetch.sh (default target/arm); the log is OUT/paper-arm64.log
# Env: QEMU_TIMEOUT (seconds, default 1800), MEM (MiB, default 1024),
# PAPER_RUNS (the PSS runs, default 5).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
UMBRA=${1:?usage: paper.sh UMBRA IMAGE TREE [OUT]}
IMAGE=${2:?usage: paper.sh UMBRA IMAGE TREE [OUT]}
TREE=${3:?usage: paper.sh UMBRA IMAGE TREE [OUT]}
OUT=${4:-$ROOT/target/arm}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-1800}
MEM=${MEM:-1024}
A=arm64
T=aarch64-unknown-linux-musl
mkdir -p "$OUT"
"$HERE/fetch.sh" "$OUT" "$A" >&2
G=$OUT/guest/$A
K=$(ls "$G"/boot/vmlinuz-*-arm64 | head -1)

st=$(mktemp -d "$OUT/paper-stage.XXXX")
trap 'rm -rf "$st"' EXIT
m=$st/machine
mkdir -p "$m"/{bin,proc,sys,dev,tmp,paper}
rustc --edition 2021 -O --target $T -C linker=rust-lld "$HERE/pss.rs" -o "$m/pss"
cp "$G/bin/busybox" "$m/bin/busybox"
install -m 755 "$HERE/paper-init" "$m/init"
install -m 755 "$UMBRA" "$m/umbra"
cp "$IMAGE" "$m/paper/table1.img"
# cp -a keeps the tree's hard links (one busybox inode, as in the image).
cp -a "$TREE" "$m/paper/tree"
(cd "$m" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs-paper-$A.cpio.gz"

log=$OUT/paper-$A.log
rc=0
APPEND="console=ttyAMA0 rdinit=/init panic=-1 quiet"
if [ -n "${PAPER_RUNS:-}" ]; then APPEND="$APPEND PAPER_RUNS=$PAPER_RUNS"; fi
timeout "$QEMU_TIMEOUT" qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 1 -m "$MEM" \
  -kernel "$K" -initrd "$OUT/initramfs-paper-$A.cpio.gz" \
  -nographic -no-reboot -nic none \
  -append "$APPEND" > "$log.raw" 2>&1 || rc=$?
tr -d '\r' < "$log.raw" > "$log"; rm -f "$log.raw"
sed -n '/^BOOT-OK/,/^ALL-DONE/p' "$log"
if ! grep -q '^ALL-DONE' "$log"; then
  why="qemu status $rc"; [ $rc = 124 ] && why="timed out after ${QEMU_TIMEOUT}s"
  echo "the $A machine did not finish ($why); log: $log"
  tail -n 15 "$log"
  exit 1
fi
