# plot_arrays.gp — the README's chart: time of each array workload (A1-A6)
# for tessera, NumPy and Dask, from the table bench_arrays prints
# (bench/results/arrays.tsv: its header line and rows), log scale.
#   gnuplot -e "in='bench/results/arrays.tsv'; out='bench/results/arrays.png'" bench/plot_arrays.gp
if (!exists("in")) in = 'bench/results/arrays.tsv'
if (!exists("out")) out = 'bench/results/arrays.png'
set terminal pngcairo size 900,480 font ",11" noenhanced
set output out
set datafile separator "\t"
set datafile missing "-"
set title "Array workloads A1-A6 (2 threads, median of 5): seconds, log scale; lower is better"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set logscale y
set yrange [0.0001:100]
set ylabel "seconds"
set key top left
set grid ytics
plot in every ::1 using 2:xtic(1) title "tessera" linecolor rgb "#1b7837", \
     '' every ::1 using 3 title "NumPy" linecolor rgb "#762a83", \
     '' every ::1 using 4 title "Dask" linecolor rgb "#e08214"
