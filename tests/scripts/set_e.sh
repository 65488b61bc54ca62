# set -e: a failing command ends the script, except in conditions.
set -e
if false; then echo no; else echo "false in if is fine"; fi
false || echo "false || is fine"
! true; echo "! true is fine"
sh -c 'set -e; echo before; false; echo not reached'; echo "not reached either"
