#!/usr/bin/env bash
# images/arm/run.sh - boots an emulated arm64 machine (qemu-system-aarch64 -M
# virt, cortex-a57, 1 vCPU, TCG) with an initramfs holding the cross-built
# umbra, Debian's arm64 busybox-static and a guest initrd, runs the tests of
# images/arm/init inside and prints "N passed, N failed".
#
# Usage: images/arm/run.sh UMBRA [OUT]
#   UMBRA: an aarch64 umbra binary (cargo build -p umbra-shim --target
#          aarch64-unknown-linux-musl [--profile rom]); OUT as for fetch.sh.
# Runs fetch.sh first. Env: QEMU_TIMEOUT (seconds, default 600), MEM (MiB, 1024).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
UMBRA=${1:?usage: run.sh UMBRA [OUT]}
OUT=${2:-$ROOT/target/arm}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-600}
MEM=${MEM:-1024}
"$HERE/fetch.sh" "$OUT" >&2
G=$OUT/guest/arm64
K=$(ls "$G"/boot/vmlinuz-*-arm64 | head -1)

st=$(mktemp -d "$OUT/stage.XXXX")
trap 'rm -rf "$st"' EXIT
# probe.rs: a static aarch64 program (x7 across syscalls and fork; getppid cost).
rustc --edition 2021 -O --target aarch64-unknown-linux-musl -C linker=rust-lld \
  "$HERE/probe.rs" -o "$st/probe"

# The guest's own root: busybox, the probe and a file to read.
mkdir -p "$st/guest/bin" "$st/guest/etc" "$st/guest/tmp"
cp "$G/bin/busybox" "$st/guest/bin/busybox"
cp "$st/probe" "$st/guest/probe"
ln -s busybox "$st/guest/bin/sh"
echo "hello from the guest initrd" > "$st/guest/etc/motd"
(cd "$st/guest" && find . | cpio -o -H newc --quiet) > "$OUT/guest-arm64.cpio"

# The machine's initramfs.
m=$st/machine
mkdir -p "$m"/{bin,proc,sys,dev,tmp}
cp "$G/bin/busybox" "$m/bin/busybox"
install -m 755 "$HERE/init" "$m/init"
install -m 755 "$UMBRA" "$m/umbra"
cp "$OUT/guest-arm64.cpio" "$m/guest.cpio"
cp "$st/probe" "$m/probe"
(cd "$m" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs-arm64.cpio.gz"

log=$OUT/boot-arm64.log
rc=0
timeout "$QEMU_TIMEOUT" qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 1 -m "$MEM" \
  -kernel "$K" -initrd "$OUT/initramfs-arm64.cpio.gz" \
  -nographic -no-reboot -nic none \
  -append "console=ttyAMA0 rdinit=/init panic=-1 quiet" > "$log.raw" 2>&1 || rc=$?
tr -d '\r' < "$log.raw" > "$log"; rm -f "$log.raw"
sed -n '/^BOOT-OK/,/^ALL-DONE/p' "$log" | grep -v '^ALL-DONE' 
grep -q '^ALL-DONE' "$log" || { echo "the arm64 machine did not finish (qemu status $rc); log: $log"; exit 1; }
s=$(sed -n 's/^SUMMARY //p' "$log")
echo "arm64: $s"
case $s in *" 0 failed") exit 0 ;; *) exit 1 ;; esac
