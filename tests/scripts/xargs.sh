# xargs: batching, -n, -I, exit statuses.
seq 1 10 | xargs echo
seq 1 10 | xargs -n 3 echo
printf 'a\nb\nc\n' | xargs -I{} echo "item {}"
seq 1 2000 | xargs | wc -w
seq 1 5 | xargs sh -c 'echo "$# args"; exit 0' sh
echo x | xargs false; echo "xargs false: $?"
printf 'one two\n' | xargs -n 1 echo
