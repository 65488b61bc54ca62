# Background jobs, wait, kill of a job, $! and $?.
sleep 0.2 & p1=$!
(sleep 0.1; exit 3) & p2=$!
wait $p2; echo "job 2 status $?"
wait $p1; echo "job 1 status $?"
# ash prints a killed background job's "Terminated"/"Killed" only when
# `wait` itself reaps it; when the job dies before the shell reaches
# `wait`, its SIGCHLD reaps it silently. Which comes first is a race, on
# Linux too, so those messages go to /dev/null; the statuses are checked.
sleep 10 & p3=$!
kill $p3
wait $p3 2>/dev/null; echo "killed job status $?"
sleep 10 & p4=$!
kill -9 $p4; wait $p4 2>/dev/null; echo "kill -9 job status $?"
sh -c 'kill -USR1 $$' ; echo "USR1 child status $?"
for i in 1 2 3 4 5; do (sleep 0.0$i; exit $i) & done
wait; echo "wait for all: $?"
(exit 4) & wait $!; echo "wait \$!: $?"
true & wait; echo "plain wait: $?"
wait 12345 2>/dev/null; echo "wait for a non-child: $?"
out=$( (echo from bg job) & wait ); echo "$out"
if wait -n 2>/dev/null; then :; fi
