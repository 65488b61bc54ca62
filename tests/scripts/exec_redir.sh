# exec redirections: opening, duplicating and closing fds in the shell.
exec 3>out.txt
echo "line one" >&3
echo "line two" >&3
exec 3>&-
cat out.txt
exec 4<out.txt
read first <&4; read second <&4
echo "read: $first / $second"
exec 4<&-
{ echo to-stderr >&2; } 2>err.txt; cat err.txt
exec 5>&1
echo "via fd 5" >&5
exec 5>&-
{ echo closed >&5; } 2>/dev/null || echo "fd 5 is closed"
exec 6<>rw.txt; echo rw >&6; exec 6>&-; cat rw.txt
echo append >>out.txt; wc -l < out.txt
( exec >sub.txt; echo in exec subshell ); cat sub.txt
exec 2>/dev/null
ls /no/such/file
echo "stderr silenced, status kept: $?"
