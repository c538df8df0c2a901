# Fan-out delivery latency against lounge size, icebreaker and the peer
# (p50 and p99), from loadtest/fanout.dat, which loadtest/scenarios/fanout.sh
# writes. Run from loadtest/: gnuplot plot.gp -> fanout-latency.png
set terminal pngcairo size 900,560 font "DejaVu Sans,11"
set output "fanout-latency.png"
set title "Chat fan-out: delivery latency against lounge size\n(one message every 100 ms from 4 senders; server on one core, 127.0.0.1)"
set xlabel "lounge members"
set ylabel "send -> receive latency (ms, log scale)"
set logscale y
set grid ytics mytics xtics
set key top left
set xtics ("1k" 1000, "5k" 5000, "10k" 10000)
set xrange [0:11000]
plot 25 with lines lw 1 dt 3 lc rgb "#2ca02c" title "goal: icebreaker p99 < 25 ms at 10k", \
     "fanout.dat" using 1:3 with linespoints lw 2 pt 7 lc rgb "#1f77b4" title "icebreaker p99", \
     "fanout.dat" using 1:2 with linespoints lw 2 pt 6 dt 2 lc rgb "#1f77b4" title "icebreaker p50", \
     "fanout.dat" using 1:5 with linespoints lw 2 pt 5 lc rgb "#d62728" title "peer (Node ws) p99", \
     "fanout.dat" using 1:4 with linespoints lw 2 pt 4 dt 2 lc rgb "#d62728" title "peer (Node ws) p50"
