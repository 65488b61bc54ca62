# A script run through its #!/bin/sh line, with arguments.
cat > child.sh <<'END'
#!/bin/sh
echo "child got $# args"
for a in "$@"; do echo "arg: [$a]"; done
exit 5
END
chmod +x child.sh
./child.sh "$@" "last one"; echo "status $?"
cat > interp.sh <<'END'
#!/bin/busybox sh
echo "via busybox sh: $1"
END
chmod 755 interp.sh
./interp.sh hello; echo "status $?"
chmod -x child.sh; ./child.sh 2>/dev/null; echo "not executable: $?"
./nonexistent.sh 2>/dev/null; echo "missing: $?"
