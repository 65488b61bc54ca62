# $( ), backquotes, subshells and their isolation.
x=outer
( x=inner; echo "in subshell: $x"; exit 3 ); echo "subshell status $? x=$x"
echo "nested: $(echo $(echo $(echo deep)))"
n=$(seq 1 10 | wc -l); echo "count=$n"
echo "backquotes: `echo old style`"
v=$(exit 7); echo "substitution status $?"
( cd sub && echo "cd in subshell: $(basename "$PWD")" ); echo "still in: $(basename "$PWD")"
echo "$( (echo a; echo b) | wc -l )"
lines=$(printf 'l1\nl2\n\n\n'); echo "trailing newlines stripped: [$lines]"
sh -c 'echo "child sh pid differs: $(( $$ != PPID ))"'
