#!/bin/sh
# Makes data/sample.h5, the sample the README's main job runs on, with the
# tessera command itself: /temperature, hourly readings of a synthetic
# temperature at 64 stations over a year (8760 x 64 float64, chunks of
# 730 hours x 64 stations, deflate 4 + shuffle): a yearly and a daily cycle,
# a warmer climate at higher station numbers, and normal noise.  Values
# depend only on the formula and the seed, so the file's data are the same
# wherever it is made.
#   sh data/make_sample_h5.sh [path/to/tessera] [output.h5]
set -eu
here=$(dirname "$0")
tessera=${1:-$here/../build/release/tessera}
out=${2:-$here/sample.h5}
"$tessera" eval --quiet --compress 4 --out "temperature=$out:/temperature" '
hour = reshape(arange(0, 8760, 1), (8760, 1))
station = reshape(arange(0, 64, 1), (1, 64))
noise = random(shape=(8760, 64), chunks=(730, 64), seed=2024, dist="normal")
temperature = rechunk(10 + 0.05 * station + 8 * sin(2 * 3.141592653589793 * hour / 8760)
                      + 4 * sin(2 * 3.141592653589793 * hour / 24) + noise, chunks=(730, 64))
'
