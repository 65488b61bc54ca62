# trap: EXIT, USR1, INT, in the shell and in subshells; reset; signal status.
trap 'echo exit trap ran' EXIT
trap 'echo got USR1' USR1
kill -USR1 $$
echo after USR1
trap 'echo got INT' INT
kill -INT $$
echo after INT
( trap - USR1; kill -USR1 $$ ); echo "a subshell signalled the shell: status $?"
trap - USR1
trap "" USR1; kill -USR1 $$; echo "USR1 ignored"
sh -c 'trap "echo child TERM; exit 9" TERM; kill -TERM $$; echo not reached'; echo "child status $?"
sh -c 'kill -TERM $$; echo not reached'; echo "killed child status $?"
sh -c 'trap "" INT; kill -INT $$; echo ignored INT'; echo "status $?"
( trap 'echo subshell exit trap' EXIT; echo in subshell )
echo end
