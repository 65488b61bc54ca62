#!/usr/bin/env bash
# images/arm/run.sh - boots an emulated ARM machine (TCG, one vCPU, -M virt)
# with an initramfs holding the cross-built umbra, Debian's busybox-static,
# the probe (probe.rs) and a guest initrd, runs the tests of images/arm/init
# inside, checks the ext2 image the guest wrote with --rw on this host
# (e2fsck -fn) and prints "ARCH: N passed, N failed".
#   arm64: qemu-system-aarch64 -cpu cortex-a57, Debian's arm64 kernel
#   armhf: qemu-system-arm -cpu cortex-a15, Debian's armmp-lpae kernel
#
# Usage: images/arm/run.sh [--arch arm64|armhf] UMBRA [OUT]
#   UMBRA: an umbra binary for that arch (cargo xtask test-arm builds it), or
#          `none`: the machine then runs only the probe's native checks and
#          benches, and the suite fails (UMBRA_ERROR says why in the summary).
#   OUT:   as for fetch.sh (default target/arm).
# Runs fetch.sh first. Env: QEMU_TIMEOUT (seconds, default 600), MEM (MiB,
# default 1024), SKIP_APT=1 (see fetch.sh), ARM_PLATFORM (ptrace or seccomp:
# umbra's platform in the machine, its UMBRA_PLATFORM), ARM_ONLY (an
# extended regex without spaces or quotes: only the tests whose names match
# run). Both ride the kernel command line into init's environment.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
A=arm64
if [ "${1:-}" = --arch ]; then A=${2:?--arch needs arm64 or armhf}; shift 2; fi
UMBRA=${1:?usage: run.sh [--arch arm64|armhf] UMBRA|none [OUT]}
OUT=${2:-$ROOT/target/arm}
QEMU_TIMEOUT=${QEMU_TIMEOUT:-600}
MEM=${MEM:-1024}
case $A in
  arm64)
    T=aarch64-unknown-linux-musl
    RUSTC_ARGS=(-C linker=rust-lld)
    CC=aarch64-linux-gnu-gcc LDSO=ld-linux-aarch64.so.1
    QEMU=(qemu-system-aarch64 -M virt -cpu cortex-a57)
    KPAT='vmlinuz-*-arm64' ;;
  armhf)
    T=armv7-unknown-linux-gnueabihf
    RUSTC_ARGS=(-C linker=arm-linux-gnueabihf-gcc -C target-feature=+crt-static)
    CC=arm-linux-gnueabihf-gcc LDSO=ld-linux-armhf.so.3
    QEMU=(qemu-system-arm -M virt -cpu cortex-a15)
    KPAT='vmlinuz-*-armmp-lpae' ;;
  *) echo "run.sh: --arch must be arm64 or armhf, not '$A'" >&2; exit 2 ;;
esac
mkdir -p "$OUT"
"$HERE/fetch.sh" "$OUT" "$A" >&2
G=$OUT/guest/$A
K=$(ls "$G"/boot/$KPAT | head -1)

st=$(mktemp -d "$OUT/stage.XXXX")
trap 'rm -rf "$st"' EXIT
# probe.rs: a static program (see its header).
rustc --edition 2021 -O --target $T "${RUSTC_ARGS[@]}" "$HERE/probe.rs" -o "$st/probe"

# dynhello.c: a dynamically linked glibc program, with the arch's ld.so and
# libc.so.6 (Debian's libc6-<arch>-cross) at /lib in both roots.
"$CC" -O2 -Wall -o "$st/dynhello" "$HERE/dynhello.c"
# tests/guest/vdso.c: the vDSO (AT_SYSINFO_EHDR) against the syscalls,
# dynamically linked like dynhello.
"$CC" -O2 -Wall -I"$HERE/../../tests/guest" -o "$st/vdso" "$HERE/../../tests/guest/vdso.c"
SYSLIB=/usr/${CC%-gcc}/lib
# tests/guest/hostile_trap.c: attacks on the seccomp platform's trap path,
# static glibc (armhf: ARM code, -marm, as its asm is).
if [ "$A" = arm64 ]; then
  "$CC" -O2 -Wall -static -pthread -o "$st/hostile_trap" "$HERE/../../tests/guest/hostile_trap.c"
else
  "$CC" -O2 -Wall -static -pthread -marm -o "$st/hostile_trap" "$HERE/../../tests/guest/hostile_trap.c"
fi

# The guest's own root: busybox, the probe, dynhello and a file to read.
mkdir -p "$st/guest/bin" "$st/guest/etc" "$st/guest/tmp" "$st/guest/mnt" "$st/guest/lib"
cp "$G/bin/busybox" "$st/guest/bin/busybox"
cp "$st/probe" "$st/guest/probe"
cp "$st/dynhello" "$st/guest/dynhello"
cp "$st/vdso" "$st/guest/vdso"
if [ -e "$st/hostile_trap" ]; then cp "$st/hostile_trap" "$st/guest/hostile_trap"; fi
cp -L "$SYSLIB/$LDSO" "$SYSLIB/libc.so.6" "$st/guest/lib/"
ln -s busybox "$st/guest/bin/sh"
echo "hello from the guest initrd" > "$st/guest/etc/motd"
(cd "$st/guest" && find . | cpio -o -H newc --quiet) > "$OUT/guest-$A.cpio"

# The machine's initramfs.
m=$st/machine
mkdir -p "$m"/{bin,proc,sys,dev,tmp,lib}
cp "$G/bin/busybox" "$m/bin/busybox"
cp "$st/dynhello" "$m/dynhello"
cp "$st/vdso" "$m/vdso"
cp -L "$SYSLIB/$LDSO" "$SYSLIB/libc.so.6" "$m/lib/"
install -m 755 "$HERE/init" "$m/init"
if [ "$UMBRA" != none ]; then install -m 755 "$UMBRA" "$m/umbra"; fi
cp "$OUT/guest-$A.cpio" "$m/guest.cpio"
cp "$st/probe" "$m/probe"
(cd "$m" && find . | cpio -o -H newc --quiet | gzip -1) > "$OUT/initramfs-$A.cpio.gz"

log=$OUT/boot-$A.log
rc=0
APPEND="console=ttyAMA0 rdinit=/init panic=-1 quiet"
if [ -n "${ARM_PLATFORM:-}" ]; then APPEND="$APPEND UMBRA_PLATFORM=$ARM_PLATFORM"; fi
if [ -n "${ARM_ONLY:-}" ]; then APPEND="$APPEND ARM_ONLY=$ARM_ONLY"; fi
timeout "$QEMU_TIMEOUT" "${QEMU[@]}" -smp 1 -m "$MEM" \
  -kernel "$K" -initrd "$OUT/initramfs-$A.cpio.gz" \
  -nographic -no-reboot -nic none \
  -append "$APPEND" > "$log.raw" 2>&1 || rc=$?
tr -d '\r' < "$log.raw" > "$log"; rm -f "$log.raw"
sed -n '/^BOOT-OK/,/^ALL-DONE/p' "$log" | sed '/^IMAGE-BEGIN/,/^IMAGE-END/d' | grep -v '^ALL-DONE' || true
if ! grep -q '^ALL-DONE' "$log"; then
  why="qemu status $rc"; [ $rc = 124 ] && why="timed out after ${QEMU_TIMEOUT}s"
  echo "the $A machine did not finish ($why); log: $log"
  tail -n 15 "$log"
  echo "$A: 0 passed, 1 failed (the machine did not finish)"
  exit 1
fi
if grep -q '^NO-UMBRA' "$log"; then
  echo "$A: 0 passed, 1 failed (no umbra: ${UMBRA_ERROR:-not given})"
  exit 1
fi

# The --rw image, checked here: e2fsck -fn and the new file's content.
pass=0 fail=0
img=$OUT/rw-$A.img
if sed -n '/^IMAGE-BEGIN/,/^IMAGE-END/p' "$log" | sed '1d;$d' | base64 -d | gunzip > "$img" 2>/dev/null && [ -s "$img" ]; then
  E2FSCK=$(command -v e2fsck || echo /sbin/e2fsck)
  DEBUGFS=$(command -v debugfs || echo /sbin/debugfs)
  if out=$("$E2FSCK" -fn "$img" 2>&1); then
    pass=$((pass + 1)); echo "PASS host e2fsck -fn of the image the guest wrote with --rw"
  else
    fail=$((fail + 1)); echo "FAIL host e2fsck -fn of the --rw image ($img):"; echo "$out" | head -n 20
  fi
  got=$("$DEBUGFS" -R 'cat /d/big' "$img" 2>/dev/null | tail -n 1 || true)
  if [ "$got" = 3000 ]; then
    pass=$((pass + 1)); echo "PASS host debugfs reads /d/big of the --rw image"
  else
    fail=$((fail + 1)); echo "FAIL host debugfs: last line of /d/big is [$got] (want 3000)"
  fi
elif [ -n "${ARM_ONLY:-}" ] && ! grep -q '^IMAGE-BEGIN' "$log"; then
  echo "(no --rw image: its tests were not in ARM_ONLY)"
else
  fail=$((fail + 1)); echo "FAIL no --rw image came out of the machine (IMAGE lines)"
fi

s=$(sed -n 's/^SUMMARY //p' "$log")
p=${s%% passed*}; f=${s#*passed, }; f=${f%% failed*}
pass=$((pass + p)) fail=$((fail + f))
echo "$A: $pass passed, $fail failed"
[ $fail = 0 ]
