# sort | uniq -c | sort -n over a ~2 MB file generated with seq and awk.
seq 1 300000 | awk '{ print "word" ($1 * 7919 % 97) " " ($1 % 13) }' > big.txt
wc -c < big.txt
cut -d' ' -f1 big.txt | sort | uniq -c | sort -n | tail -n 5
sort -k2,2n -k1,1 big.txt | uniq | wc -l
sort big.txt | md5sum
awk '{ n[$2]++ } END { for (k in n) print k, n[k] }' big.txt | sort -n | head -n 3
rm big.txt
