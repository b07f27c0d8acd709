#!/bin/sh
# Makes data/sample_series.csv, the sample the README's main job runs on:
# a header line "value" and 100000 hourly readings of a synthetic
# temperature (a daily and a yearly cycle plus deterministic noise), one per
# line, printed with 6 decimals.  The noise is a fixed Park-Miller (minimal standard)
# sequence (products stay below 2^53, exact in any awk), so the file is the same wherever it is made.
set -eu
out=${1:-$(dirname "$0")/sample_series.csv}
awk 'BEGIN {
  print "value";
  pi = atan2(0, -1); state = 12345;
  for (i = 0; i < 100000; i++) {
    state = (state * 16807) % 2147483647;
    noise = (state / 2147483647 - 0.5) * 3.0;
    t = 10 + 8 * sin(2 * pi * i / 8766) + 4 * sin(2 * pi * i / 24) + noise;
    printf "%.6f\n", t;
  }
}' > "$out.tmp"
mv "$out.tmp" "$out"
