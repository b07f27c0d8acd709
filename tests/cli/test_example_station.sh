#!/usr/bin/env bash
# test_example_station.sh — examples.station_stats: the C example and its
# `tessera eval` twin (examples/station_stats.{c,tsr}) on data/sample.h5
# write the same five datasets, value for value (h5diff, no tolerance).
#   test_example_station.sh EXAMPLE_BIN TESSERA_BIN SOURCE_DIR
set -u
example=$1 tessera=$2 src=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
in="$src/data/sample.h5"
"$example" "$in" temperature "$dir/c.h5" || { echo "FAIL: the C example failed"; exit 1; }
outs=()
for d in mean std min max anomaly; do outs+=(--out "$d=$dir/eval.h5:/$d"); done
"$tessera" eval --in "x=$in:/temperature" "${outs[@]}" -f "$src/examples/station_stats.tsr" \
  > "$dir/eval.txt" 2>&1 || { echo "FAIL: the eval script failed: $(cat "$dir/eval.txt")"; exit 1; }
for d in mean std min max anomaly; do
  if ! h5diff "$dir/c.h5" "$dir/eval.h5" "/$d" "/$d"; then
    echo "FAIL: /$d differs between the C example and the eval script"
    exit 1
  fi
done
# and a value worked out independently: station 0's mean, summed naively here from
# h5dump's text (6 significant digits, hence the tolerance)
h5dump -d /temperature -w 0 -y "$in" 2>/dev/null | tr ',' '\n' | grep -E '^ *-?[0-9.]+(e[-+]?[0-9]+)? *$' > "$dir/all.txt"
ref=$(awk 'NR % 64 == 1 { s += $1; n++ } END { printf "%.9g", s / n }' "$dir/all.txt")
got=$(h5dump -d /mean -y -w 0 "$dir/c.h5" | tr ',' '\n' | grep -E '^ *-?[0-9.]+(e[-+]?[0-9]+)? *$' | head -1 | tr -d ' ')
if ! awk -v a="$ref" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d < 2e-5 * (a < 0 ? -a : a) + 1e-9) }'; then
  echo "FAIL: station 0's mean is $got, a naive sum gives $ref"
  exit 1
fi
echo "ok: examples/station_stats.c and .tsr agree; station 0's mean $got (naive $ref)"
