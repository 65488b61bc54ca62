#!/usr/bin/env bash
# images/arm/paper-x.sh - the X tables of `cargo xtask paper --arm64` on the
# emulated arm64 machine (xtask/src/paper/draw.rs): boots
# qemu-system-aarch64 (TCG, one vCPU, -M virt, cortex-a57, Debian's arm64
# kernel, as images/arm/run.sh) with an initramfs holding umbra, busybox,
# Debian's arm64 packages (XROOT, unpacked .debs: Xvfb and what it needs,
# for table3 also dillo, its fonts and xdotool), the table's files (GUEST)
# and paper-x-init as PID 1, and
# prints the machine's lines from BOOT-OK to ALL-DONE (the PAPER lines are
# described in paper-x-init), but for its screenshots (PAPER-SHOT NAME
# LINE...: a gzipped PPM in base64), which it decodes into
# OUT/paper-x-TABLE-arm64-shot-NAME.ppm and names by a line
# `PAPER shot NAME FILE` (or `PAPER shot-none NAME WHY`) after ALL-DONE.
#
# Usage: images/arm/paper-x.sh TABLE UMBRA XROOT GUEST [OUT]
#   TABLE: table2 or table3
#   UMBRA: umbra built for aarch64-unknown-linux-musl
#   XROOT: the unpacked arm64 Debian packages, copied to /x
#   GUEST: a directory copied to /guest, symbolic links followed (table2:
#          xengine, the guest's root; table3: debian.img, xwatch, pages/)
#   OUT:   as for fetch.sh (default target/arm); the log is OUT/paper-x-TABLE-arm64.log
# Env: QEMU_TIMEOUT (seconds, default 1800), MEM (MiB, default 1024),
# PAPER_RUNS (timed runs of each side, default 10), PAPER_SECS (seconds a
# timed run draws, table2, default 5).
set -euo pipefail
# One compound command, read whole before it runs: editing this file while a
# machine runs does not change what the running script does next.
{
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
usage="usage: paper-x.sh TABLE UMBRA XROOT GUEST [OUT]"
TABLE=${1:?$usage}
UMBRA=${2:?$usage}
XROOT=${3:?$usage}
GUEST=${4:?$usage}
OUT=${5:-$ROOT/target/arm}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-1800}
MEM=${MEM:-1024}
A=arm64
mkdir -p "$OUT"
"$HERE/fetch.sh" "$OUT" "$A" >&2
G=$OUT/guest/$A
K=$(ls "$G"/boot/vmlinuz-*-arm64 | head -1)

st=$(mktemp -d "$OUT/paper-x-stage.XXXX")
trap 'rm -rf "$st"' EXIT
m=$st/machine
mkdir -p "$m"/{bin,proc,sys,dev,tmp}
cp "$G/bin/busybox" "$m/bin/busybox"
install -m 755 "$HERE/paper-x-init" "$m/init"
install -m 755 "$UMBRA" "$m/umbra"
cp -a "$XROOT" "$m/x"
cp -aL "$GUEST" "$m/guest"
(cd "$m" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs-paper-x-$A.cpio.gz"
rm -rf "$m"

log=$OUT/paper-x-$TABLE-$A.log
rc=0
APPEND="console=ttyAMA0 rdinit=/init panic=-1 quiet PAPER_TABLE=$TABLE"
if [ -n "${PAPER_RUNS:-}" ]; then APPEND="$APPEND PAPER_RUNS=$PAPER_RUNS"; fi
if [ -n "${PAPER_SECS:-}" ]; then APPEND="$APPEND PAPER_SECS=$PAPER_SECS"; fi
timeout "$QEMU_TIMEOUT" qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 1 -m "$MEM" \
  -kernel "$K" -initrd "$OUT/initramfs-paper-x-$A.cpio.gz" \
  -nographic -no-reboot -nic none \
  -append "$APPEND" > "$log.raw" 2>&1 || rc=$?
tr -d '\r' < "$log.raw" > "$log"; rm -f "$log.raw"
sed -n '/^BOOT-OK/,/^ALL-DONE/{/^PAPER-SHOT /d;p}' "$log"
if ! grep -q '^ALL-DONE' "$log"; then
  why="qemu status $rc"; [ $rc = 124 ] && why="timed out after ${QEMU_TIMEOUT}s"
  echo "the $A machine did not finish ($why); log: $log"
  tail -n 15 "$log"
  exit 1
fi
for n in $(sed -n 's/^PAPER-SHOT \([a-z0-9]*\) .*/\1/p' "$log" | sort -u); do
  f=$OUT/paper-x-$TABLE-$A-shot-$n.ppm
  if sed -n "s/^PAPER-SHOT $n //p" "$log" | base64 -d | gzip -dc > "$f"; then
    echo "PAPER shot $n $f"
  else
    rm -f "$f"
    echo "PAPER shot-none $n its lines in $log do not decode"
  fi
done
exit 0
}
