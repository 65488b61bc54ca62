# Loops with thousands of iterations, arithmetic, and many forks.
i=0; s=0
while [ $i -lt 5000 ]; do s=$((s + i)); i=$((i + 1)); done
echo "sum $s"
n=0; for w in $(seq 1 3000); do n=$((n + w % 7)); done; echo "mod sum $n"
c=0; until [ $c -ge 300 ]; do c=$((c + 1)); done; echo "until $c"
k=0; for j in $(seq 1 200); do k=$((k + $(echo 1))); done; echo "200 substitutions: $k"
t=0; for j in $(seq 1 100); do /bin/true && t=$((t + 1)); done; echo "100 execs: $t"
for a in 1 2 3; do for b in x y; do [ $a = 2 ] && continue; printf "%s%s " $a $b; done; done; echo
for a in 1 2 3 4; do [ $a = 3 ] && break; echo "a=$a"; done
