# Throughput vs packet size: ours, (a) the AEAD alone, (b) DPDK rte_ipsec.
# Rows: encap, decap; columns: suites.  Data: espbench --plot-dir.
# Usage: gnuplot -e "dir='build/bench'" tests/bench/plot.gp

if (!exists("dir")) dir = "build/bench"

set datafile missing "?"
set key bottom center font ",9"
set grid ytics
set xrange [-0.4:3.4]
set yrange [0:*]
set ylabel "Gbit/s (inner IPv4 bytes)"
set xlabel "inner IPv4 packet size (bytes)"

suites = "aes-gcm-128 aes-gcm-256 chacha20-poly1305"
dirs = "encap decap"

# The same figure twice: SVG (for docs/) and PNG.
do for [t = 1:2] {
    if (t == 1) {
        set terminal svg size 1260,760 dynamic font "sans,11" \
            background "white"
        set output dir."/throughput.svg"
    } else {
        set terminal pngcairo size 1260,760 font "sans,10" \
            background "white"
        set output dir."/throughput.png"
    }
    set multiplot layout 2,3 \
        title "ESP tunnel mode IPv4, one core, bursts of 32"
    do for [d = 1:2] {
        do for [s = 1:3] {
            f = sprintf("%s/plot-%s-%s.dat", dir, word(suites, s), \
                        word(dirs, d))
            set title sprintf("%s %s", word(suites, s), word(dirs, d))
            # Sizes joined by lines; IMIX (a mix, not a size) apart.
            plot f every ::0::2 using 1:3:xtic(2) with linespoints \
                     lw 2 pt 7 lc 1 title "ours", \
                 f every ::0::2 using 1:4 with linespoints lw 2 pt 5 \
                     dt 2 lc 2 title "(a) AEAD alone", \
                 f every ::0::2 using 1:5 with linespoints lw 2 pt 9 \
                     dt 3 lc 3 title "(b) DPDK rte\\_ipsec", \
                 f every ::3::3 using 1:3:xtic(2) with points pt 7 \
                     ps 1.3 lc 1 notitle, \
                 f every ::3::3 using 1:4 with points pt 5 ps 1.3 lc 2 \
                     notitle, \
                 f every ::3::3 using 1:5 with points pt 9 ps 1.3 lc 3 \
                     notitle
        }
    }
    unset multiplot
    unset output
}
