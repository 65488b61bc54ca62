# sort | uniq -c | sort -n over a ~2 MB file generated with seq and awk.
# awk prints 1,000 lines at a time: busybox awk makes a write(2) per print,
# and 300,000 of them took 43 s of the script's 58 s under the debug umbra
# at load 16 (the test once ran past its 120 s limit). Same file.
seq 1 300000 | awk '{ s = s "word" ($1 * 7919 % 97) " " ($1 % 13) "\n" }
    NR % 1000 == 0 { printf "%s", s; s = "" }
    END { printf "%s", s }' > big.txt
wc -c < big.txt
cut -d' ' -f1 big.txt | sort | uniq -c | sort -n | tail -n 5
sort -k2,2n -k1,1 big.txt | uniq | wc -l
sort big.txt | md5sum
awk '{ n[$2]++ } END { for (k in n) print k, n[k] }' big.txt | sort -n | head -n 3
rm big.txt
