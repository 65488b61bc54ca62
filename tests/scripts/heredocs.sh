# Here-documents: expanded, quoted, with tabs stripped, into pipes.
name=world
cat <<END
hello $name
sum $((2 + 3))
END
cat <<'END'
not expanded: $name $(echo no)
END
cat <<-END
	tabs stripped
		twice
	END
tr a-z A-Z <<END | rev
piped $name
END
while read a b; do echo "[$a|$b]"; done <<END
1 one
2 two words
END
cat <<A; cat <<B
first
A
second
B
big=$(seq 1 5000 | cat <<END
$(seq 1 5000 | tail -n 1)
END
); echo "big heredoc: $big"
