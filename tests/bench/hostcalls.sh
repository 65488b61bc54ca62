#!/bin/sh
# hostcalls.sh UMBRA [N]: host syscalls of umbra and its stubs per guest
# call, on both platforms (docs/BENCHMARKS.md, issue 13).
#
# Builds tests/bench/hostcalls.c (musl-gcc -static) into a small initrd,
# counts raw_syscalls:sys_enter of the whole umbra run (perf stat follows the
# stubs) with N calls of each op and with none, pinned to CPU 1, and prints
# (count - count of the zero-op run) / N. The guest's own call, stopped by
# ptrace or trapped by seccomp, is not counted: both happen before the
# tracepoint. With "detail" as $3, prints the host calls of one op by name.
set -e
B=$(realpath "$1"); N=${2:-10000}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
mkdir -p "$D/root/bin" "$D/root/bench" "$D/root/dev"
musl-gcc -static -O2 -Wall -o "$D/root/bin/hostcalls" "$(dirname "$0")/hostcalls.c"
head -c 4096 /dev/zero > "$D/root/bench/data"
(cd "$D/root" && find . | cpio -o -H newc --quiet > "$D/root.cpio")
count() { # PLATFORM OP N EVENTS
	perf stat -x, -e "$4" -o "$D/perf" taskset -c 1 "$B" run --platform "$1" \
		--initrd "$D/root.cpio" -- /bin/hostcalls "$2" "$3" > /dev/null
	awk -F, '/syscalls/{print $3" "$1}' "$D/perf" | sort
}
if [ "$3" = detail ]; then
	for P in ptrace seccomp; do
		for OP in ${4:-getppid pread read write open mmap mprotect}; do
			count $P none 0 'syscalls:sys_enter_*' > "$D/z"
			count $P "$OP" "$N" 'syscalls:sys_enter_*' > "$D/t"
			echo "$P $OP: $(join "$D/z" "$D/t" | awk -v n="$N" '{d=($3-$2)/n; if (d>0.005) printf "%s %.2f ", substr($1,20), d}')"
		done
	done
	exit
fi
for P in ptrace seccomp; do
	Z=$(count $P none 0 raw_syscalls:sys_enter | awk '{print $2}')
	for OP in getppid pread read write open mmap mprotect; do
		T=$(count $P "$OP" "$N" raw_syscalls:sys_enter | awk '{print $2}')
		echo "$P $OP $(echo "scale=2; ($T - $Z) / $N" | bc)"
	done
done
