# read from a pipe in a while loop; IFS; read -r.
printf 'alpha 1\nbeta 2\ngamma 3\n' | while read name num; do echo "$num:$name"; done
seq 1 2000 | while read n; do [ $((n % 500)) = 0 ] && echo "at $n"; done
printf 'a:b:c\n' | { IFS=: read x y z; echo "$z $y $x"; }
printf 'back\\slash\n' | { read -r l; echo "$l"; }
printf 'no newline' | { read l; echo "status $? [$l]"; }
total=0; while read n; do total=$((total + n)); done <<END
$(seq 1 100)
END
echo "total $total"
