#!/usr/bin/env bash
# setup.sh — the README's two commands, and bench.  On a fresh Debian 12 machine:
#   bash scripts/setup.sh run    install what is missing, build, run the main job on data/
#                                (tessera eval of data/main_job.tsr on data/sample.h5)
#   bash scripts/setup.sh test   the same set-up, then the whole test suite:
#                                the release build, then the ASan+UBSan build
#   bash scripts/setup.sh bench  the same set-up plus python3-numpy, python3-dask and
#                                python3-pandas, then bench_sched, the NumPy/Dask array
#                                peers, A7 out of core, and A2-A6 on 2 MPI ranks against
#                                2 threads (M1-5)
#   bash scripts/setup.sh fuzz [SECONDS]
#                                the same set-up plus clang and libFuzzer, then the
#                                libFuzzer build (preset fuzz: ASan + UBSan) and a replay of
#                                every target's corpus and regressions; with SECONDS, each
#                                target is then fuzzed that long (tests/fuzz/fuzz.sh)
# Packages are installed only when missing (as root directly, else through
# sudo).  In test and bench modes, when npm is on the PATH, the npm packages
# pinned in bench/peers/package-lock.json (DuckDB, Polars) are installed there
# with npm ci when missing or older than the lock; without npm the tests and
# benchmarks that need them are skipped.  With CI set, warnings are errors.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-}
case "$mode" in
  run|test|bench|fuzz) ;;
  *) echo "usage: bash scripts/setup.sh run|test|bench|fuzz [SECONDS]" >&2; exit 2 ;;
esac

# Everything the project needs now and in its planned milestones (MPI,
# parallel HDF5, libdeflate, OpenBLAS, LAPACKE), so the set-up never changes shape.
packages=(build-essential cmake pkg-config git python3
          libopenmpi-dev openmpi-bin libhdf5-openmpi-dev hdf5-tools
          libdeflate-dev zlib1g-dev libopenblas-dev liblapacke-dev libcmocka-dev)
# The benchmark peers (bench/peers/), for bench mode only: Debian's packages.
if [ "$mode" = bench ]; then
  packages+=(python3-numpy python3-dask python3-h5py python3-pandas gnuplot-nox)
fi
# Debian's clang with its OpenMP and libFuzzer, for fuzz mode only.
if [ "$mode" = fuzz ]; then
  packages+=(clang libomp-dev libfuzzer-14-dev)
  fuzz_seconds=${2:-}
  if [ -n "$fuzz_seconds" ] && ! [[ "$fuzz_seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: bash scripts/setup.sh fuzz [SECONDS]: '$fuzz_seconds' is not a number of seconds" >&2
    exit 2
  fi
fi
# h5py for the HDF5 interop tests (tests/io/test_hdf5.c; skipped without it), pandas for the
# HDF5 tables' two-line read (tests/frame/test_hdf5_table_h5py.c).
if [ "$mode" = test ]; then
  packages+=(python3-h5py python3-pandas)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "== installing: ${missing[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    as_root=()
  elif command -v sudo >/dev/null; then
    as_root=(sudo)
  else
    echo "error: missing packages (${missing[*]}) and neither root nor sudo to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# The npm peers (bench/peers/package.json): DuckDB is the partner of the CSV
# reader's tests, DuckDB and Polars are peers of the frame benchmark.  npm ci
# installs exactly the lock's versions; a stamp written after a complete
# install tells whether node_modules is current.
if [ "$mode" = test ] || [ "$mode" = bench ]; then
  peers=bench/peers
  stamp=$peers/node_modules/.tessera-npm-ci
  if ! command -v npm >/dev/null; then
    echo "== note: npm is not on the PATH: the DuckDB and Polars peers ($peers/package.json)"
    echo "   are not installed; the tests and benchmarks that need them are skipped"
  elif [ ! -e "$stamp" ] || [ "$peers/package-lock.json" -nt "$stamp" ] ||
       [ "$peers/package.json" -nt "$stamp" ]; then
    echo "== installing the npm peers ($peers/package-lock.json): npm ci"
    if (cd "$peers" && npm ci --no-audit --no-fund --loglevel=error); then
      touch "$stamp"
    elif [ "$mode" = test ]; then
      echo "error: npm ci failed in $peers: the CSV reader's DuckDB check cannot run" >&2
      exit 1
    else
      echo "== note: npm ci failed in $peers: the DuckDB and Polars peers are skipped"
    fi
  fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
extra=()
if [ -n "${CI:-}" ]; then
  extra+=(-DTESSERA_WERROR=ON)
fi

build() { # preset
  echo "== configure and build: $1"
  cmake --preset "$1" "${extra[@]}" >/dev/null
  cmake --build --preset "$1" -j "$jobs"
}

if [ "$mode" = fuzz ]; then
  # The libFuzzer build only (clang's warnings are not gcc's: no -Werror).
  echo "== configure and build: fuzz"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j "$jobs"
  echo "== replay of every target's corpus and regressions (libFuzzer build)"
  targets=()
  for bin in build/fuzz/fuzz_*; do
    if [ -f "$bin" ] && [ -x "$bin" ]; then
      targets+=("${bin#build/fuzz/fuzz_}")
    fi
  done
  for target in "${targets[@]}"; do
    bin=build/fuzz/fuzz_$target
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$PWD/tests/fuzz/ubsan.supp \
    LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0 TESSERA_LOG=error \
      "$bin" -runs=0 "tests/fuzz/corpus/$target" "tests/fuzz/regressions/$target" 2>&1 |
      grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' | tail -n 1 | sed "s/^/   $target: /"
  done
  if [ -n "$fuzz_seconds" ]; then
    for target in "${targets[@]}"; do
      bash tests/fuzz/fuzz.sh "$target" "$fuzz_seconds"
    done
  fi
  exit 0
fi

build release
if [ "$mode" = run ]; then
  echo "== main job: standardize data/sample.h5:/temperature (data/main_job.tsr)"
  echo "   (a year of hourly temperatures at 64 stations, read in 730-hour chunks)"
  rm -f build/main_job.h5
  TESSERA_CHUNK_BYTES=400kB build/release/tessera eval --progress --stats \
    --in t=data/sample.h5:/temperature --out anomaly=build/main_job.h5:/anomaly \
    -f data/main_job.tsr
  echo "== printed: [warmest hour of the mean day, lowest and highest station mean (C),"
  echo "             largest |anomaly| (standard deviations)]; what was stored:"
  exec build/release/tessera info build/main_job.h5
fi
if [ "$mode" = bench ]; then
  echo "== benchmark: scheduler overhead (A8)"
  build/release/bench/bench_sched
  echo "== benchmark: arrays A1-A6 beside NumPy and Dask (table and chart in build/)"
  build/release/bench/bench_arrays | tee build/bench_arrays.txt
  grep -A7 '^workload' build/bench_arrays.txt > build/arrays.tsv
  gnuplot -e "in='build/arrays.tsv'; out='build/arrays.png'" bench/plot_arrays.gp
  echo "== benchmark: out of core A7 beside h5py + Dask"
  build/release/bench/bench_ooc
  echo "== benchmark: A2-A6 on 2 MPI ranks x 1 thread against 1 rank x 2 threads (M1-5)"
  # mpirun refuses root without these; --bind-to none, or mpirun binds each rank
  # to one core and the one-rank configuration's 2 threads would share it.
  if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  fi
  exec mpirun -n 2 --oversubscribe --bind-to none build/release/bench/bench_dist --threads 1 \
    --tsv build/bench_dist.tsv
fi

echo "== tests: release build"
ctest --preset release -j "$jobs"
build asan
echo "== tests: ASan + UBSan build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 ctest --preset asan -j "$jobs"
