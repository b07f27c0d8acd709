#!/usr/bin/python3
"""frames_pandas.py -- pandas (Debian's python3-pandas) on the frame workloads
of benchmark F0, for bench_frames to print beside tessera's numbers.

    /usr/bin/python3 bench/peers/frames_pandas.py CSV [--reps R] [--threads T]

Use Debian's /usr/bin/python3: another python3 on the PATH (pyenv, a
virtualenv) does not see python3-pandas.  CSV is a db-benchmark G1 groupby
file (id1, id2, id3 strings; id4, id5, id6, v1, v2 integers; v3 float).  Each
of R runs (default 5), pandas' defaults:
  load           x = pandas.read_csv(CSV)    (C parser; types inferred; strings
                 become Python str objects in object columns)
  filter_assign  y = x[x["v3"] > 50]; y = y.assign(w=y["v1"] * y["v3"] + y["v2"])
then, untimed, the checks and a garbage collection.  pandas computes on one
thread; --threads T (default 2) only caps the thread pools of what pandas
may call (numexpr, OpenBLAS, OpenMP), set before pandas is imported.
Output (stdout): '#' comment lines, then per workload
  workload<TAB>median seconds
  check<TAB>workload<TAB>rows<TAB>sum      (load: sum(v3); filter_assign: sum(w))
Exit 0 done, 1 failed, 2 pandas missing, 64 bad usage.
"""
import argparse
import os
import sys

PROG = "frames_pandas.py"
EXIT_FAILED, EXIT_NO_PEER, EXIT_USAGE = 1, 2, 64


def die(status, message):
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.exit(status)


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse exits 2, which here means "no pandas"
        self.print_usage(sys.stderr)
        die(EXIT_USAGE, message)


def whole(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"needs a whole number >= 1, got '{text}'")
    return int(text)


p = Parser(prog=PROG, description="pandas on the F0 frame workloads (load, filter_assign)")
p.add_argument("csv", metavar="CSV", help="a db-benchmark G1 groupby file")
p.add_argument("--reps", type=whole, default=5, help="timed runs of each workload (default 5)")
p.add_argument("--threads", type=whole, default=2,
               help="cap of the thread pools pandas may call (default 2); pandas itself is single-threaded")
ARGS = p.parse_args()

try:
    CSV_BYTES = os.stat(ARGS.csv).st_size
except OSError as e:
    die(EXIT_FAILED, f"cannot read '{ARGS.csv}': {e.strerror}")
if not os.path.isfile(ARGS.csv):
    die(EXIT_FAILED, f"'{ARGS.csv}' is not a regular file")

for var in ("NUMEXPR_MAX_THREADS", "NUMEXPR_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import gc  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

try:
    import pandas as pd
except Exception as e:
    die(EXIT_NO_PEER, f"pandas is not importable by {sys.executable} ({type(e).__name__}: {e}); "
        "install Debian's python3-pandas (apt-get install python3-pandas, or bash scripts/setup.sh bench) "
        "and run this script with /usr/bin/python3")


def comment(*fields):
    print("# " + "\t".join(fields), flush=True)


def report(workload, times, checks):
    rows0, sum0 = checks[0]
    for rows, s in checks:
        if rows != rows0 or not abs(s - sum0) <= 1e-9 * abs(sum0):
            die(EXIT_FAILED, f"{workload}: the runs disagree ({rows0} rows, sum {sum0!r} "
                f"against {rows} rows, sum {s!r})")
    comment("runs", workload, ",".join(f"{t:.6f}" for t in times))
    print(f"{workload}\t{statistics.median(times):.6f}")
    print(f"check\t{workload}\t{rows0}\t{sum0!r}", flush=True)


def main():
    try:
        import numexpr
        accel = f"numexpr {numexpr.__version__}"
    except Exception:
        accel = "numexpr not installed"
    import numpy as np
    comment("peer", "pandas", f"{pd.__version__} (numpy {np.__version__}; {accel}; python {sys.version.split()[0]})")
    comment("threads", f"1 (pandas is single-threaded; pools capped at {ARGS.threads})")
    comment("file", ARGS.csv, f"{CSV_BYTES} bytes")
    comment("reps", str(ARGS.reps))
    load_t, load_c, filt_t, filt_c = [], [], [], []
    for r in range(ARGS.reps):
        t0 = time.perf_counter()
        x = pd.read_csv(ARGS.csv)
        load_t.append(time.perf_counter() - t0)
        if r == 0:
            comment("schema", ",".join(f"{c}:{t}" for c, t in x.dtypes.items()))
            missing = [c for c in ("v1", "v2", "v3") if c not in x.columns]
            if missing:
                die(EXIT_FAILED, f"'{ARGS.csv}' has no column {', '.join(missing)} (columns: "
                    f"{', '.join(map(str, x.columns))}): not a db-benchmark G1 groupby file")
        load_c.append((len(x), float(x["v3"].sum())))

        t0 = time.perf_counter()
        y = x[x["v3"] > 50]
        y = y.assign(w=y["v1"] * y["v3"] + y["v2"])
        filt_t.append(time.perf_counter() - t0)
        filt_c.append((len(y), float(y["w"].sum())))

        del x, y
        gc.collect()
    report("load", load_t, load_c)
    report("filter_assign", filt_t, filt_c)


try:
    main()
except (OSError, ValueError, pd.errors.ParserError, KeyError) as e:
    die(EXIT_FAILED, f"pandas failed on '{ARGS.csv}': {type(e).__name__}: {e}")
