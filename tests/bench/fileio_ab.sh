#!/bin/sh
# fileio_ab.sh BEFORE AFTER [ROUNDS]: /bench/fileio write and read of
# 64 MiB in 64 KiB calls under two umbra binaries, interleaved, on both
# platforms, on tmpfs (/tmp of the bench initrd) and on ext2 (/bench of an
# image of the bench root, --rw), each run `chrt -f 1 taskset -c 1`
# (docs/BENCHMARKS.md, issue 13). Needs `cargo xtask bench` run once (for
# target/bench) and mke2fs. Prints the median ms of each case.
set -e
A=$(realpath "$1"); B=$(realpath "$2"); R=${3:-5}
T=$(cd "$(dirname "$0")/../.." && pwd)/target/bench
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
mke2fs -q -F -t ext2 -b 4096 -d "$T/root" "$D/root.img" 200M > /dev/null
for r in $(seq 1 "$R"); do
	for fs in tmpfs ext2; do
		for p in ptrace seccomp; do
			for m in write read; do
				for which in before after; do
					bin=$A; [ $which = after ] && bin=$B
					if [ $fs = tmpfs ]; then
						set -- --initrd "$T/bench.cpio" -- /bench/fileio $m /tmp
					else
						set -- --rw --image "$D/root.img" -- /bench/fileio $m /bench
					fi
					ms=$(chrt -f 1 taskset -c 1 "$bin" run --platform $p --cpu 1 \
						--env PATH=/bin "$@" 2>&1 | awk '/^ms /{v=$2} END{print v}')
					echo "$fs $p $m $which $ms"
				done
			done
		done
	done
done > "$D/runs"
sort -k1,4 -k5n "$D/runs" | awk '
	{ k = $1 " " $2 " " $3 " " $4; v[k, ++n[k]] = $5 }
	END { for (k in n) print k ": median " v[k, int((n[k] + 1) / 2)] " ms of " n[k] }' | sort
