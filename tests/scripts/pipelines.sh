# Pipelines: exit status of the last command, long chains, pipes of pipes.
echo "a b c" | tr ' ' '\n' | sort -r | head -n 2
seq 1 1000 | grep 7 | wc -l
printf 'x\ny\nz\n' | cat | cat | cat | cat | cat | tail -n 1
false | true; echo "false|true: $?"
true | false; echo "true|false: $?"
seq 1 100000 | tail -n 1
{ echo one; echo two >&2; } 2>&1 | sort
echo piped | { read v; echo "read in a group: $v"; }
seq 1 5 | while read n; do echo "sq $((n * n))"; done
