# yes | head: the writer gets SIGPIPE when head exits.
yes | head -n 100000 | wc -l
yes abc | head -c 1000000 | wc -c
yes | head -n 3
seq 1 1000000 | head -n 2
