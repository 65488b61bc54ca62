# case, functions, local, return values, $? after killed children.
f() { local x=$1; echo "f sees $x"; return $(($1 + 1)); }
x=global; f 4; echo "f returned $? x=$x"
fact() { if [ $1 -le 1 ]; then echo 1; else echo $(($1 * $(fact $(($1 - 1))))); fi; }
echo "fact 10 = $(fact 10)"
for w in apple banana cherry 42 ""; do
  case "$w" in
    a*) echo "$w: starts with a";;
    *an*) echo "$w: has an";;
    [0-9]*) echo "$w: number";;
    "") echo "empty";;
    *) echo "$w: other";;
  esac
done
sh -c 'kill -TERM $$'; echo "killed by TERM: $?"
sh -c 'kill -KILL $$'; echo "killed by KILL: $?"
sh -c 'exit 300'; echo "exit 300: $?"
g() { echo "g: $#"; shift 2; echo "g after shift: $*"; }; g a b c d
