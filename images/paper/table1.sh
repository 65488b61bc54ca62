#!/bin/sh
# Table 1's test script (issue 14; xtask/src/paper/rom_ram.rs): what a shell on
# a small device does. Its output must be the same natively (in a chroot of
# the image's tree) and under umbra, and deterministic.
set -e
[ -e /proc/self/stat ] || mount -t proc proc /proc
echo "proc mounts: $(mount | grep -c '^proc on /proc type proc ')"
cd /tmp
echo hello > a
cp a b
mv b c
cat c
ln -s c d
ls
rm a c d
mkdir -p x/y
touch x/y/z
ls -R x | tr "\n" " "; echo
rm -r x
seq 1 100 | sort -rn | head -n 3 | tr '\n' ' '
echo
printf '%s=%d\n' sum "$(($(seq 1 100 | tr '\n' '+' | sed 's/+$//')))"
i=0
while [ "$i" -lt 100 ]; do i=$((i + 1)); done
echo "loop $i"
echo "a b c" | cut -d' ' -f2
ps | grep -q "[s]h /test.sh" && echo "ps sees the script"
sleep 0
(exit 3) || echo "subshell status $?"
sh -c 'kill -TERM $$' || echo "killed: $?"
echo "uname: $(uname -s)"
free > /dev/null && echo "free ok"
echo "table1: done"
