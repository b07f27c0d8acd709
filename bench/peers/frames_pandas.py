#!/usr/bin/python3
"""frames_pandas.py -- pandas (Debian's python3-pandas) on the frame workloads
of benchmarks F0, F1 and F2, for bench_frames to print beside tessera's numbers.

    /usr/bin/python3 bench/peers/frames_pandas.py CSV [--reps R] [--threads T]
                                                  [--only W,...] [--answers DIR]
    /usr/bin/python3 bench/peers/frames_pandas.py --join DIR [--reps R] [--threads T]
                                                  [--only J,...] [--answers ADIR]

Use Debian's /usr/bin/python3: another python3 on the PATH (pyenv, a
virtualenv) does not see python3-pandas.  CSV is a db-benchmark G1 groupby
file (id1, id2, id3 strings; id4, id5, id6, v1, v2 integers; v3 float).  Each
of R runs (default 5), pandas' defaults:
  load           x = pandas.read_csv(CSV)    (C parser; types inferred; strings
                 become Python str objects in object columns)
  filter_assign  y = x[x["v3"] > 50]; y = y.assign(w=y["v1"] * y["v3"] + y["v2"])
  q1..q10        db-benchmark's group-by queries (QUERIES below) on the loaded
                 frame with id1..id3 made categorical (untimed, as db-benchmark's
                 pandas solution loads them)
then, untimed, the checks (with --answers, in the first run, each query's
answer written to DIR/<query>.csv) and a garbage collection.  --only selects
the workloads (the load runs anyway).

--join DIR (F2): DIR holds db-benchmark's J1 tables (x, small, medium, big;
found as peers_common.mjs finds them).  Each run loads the four, untimed, as
db-benchmark's pandas solution does: read_csv (C parser: id1..id3 int64, v1
and v2 float64), then id4..id6 made categorical; then times each join j1..j5
(JOIN_QUERIES and main_join below: x.merge(<right>, how="inner", or "left"
for j3, on=<key>));
untimed: the check and, with --answers in the first run, the answer written to
ADIR/<j>.csv (DuckDB's column names, pandas' row order).

pandas computes on one thread; --threads T (default 2) only caps the thread
pools of what pandas may call (numexpr, OpenBLAS, OpenMP), set before pandas
is imported.
Output (stdout): '#' comment lines, then per workload
  workload<TAB>median seconds
  check<TAB>workload<TAB>rows<TAB>sum      (load: sum(v3); filter_assign: sum(w);
                                            queries: the sum of every value column,
                                            nulls and NaN left out; joins:
                                            sum(v1) + sum(v2), the same way)
Exit 0 done, 1 failed, 2 pandas missing, 64 bad usage.
"""
import argparse
import os
import re
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


# The db-benchmark group-by queries of F1: the answer's key and value columns
# (the check adds up every value column), as in peers_common.mjs.
G1_QUERIES = [
    ("q1", ["id1"], ["v1"]),
    ("q2", ["id1", "id2"], ["v1"]),
    ("q3", ["id3"], ["v1", "v3"]),
    ("q4", ["id4"], ["v1", "v2", "v3"]),
    ("q5", ["id6"], ["v1", "v2", "v3"]),
    ("q6", ["id4", "id5"], ["median_v3", "sd_v3"]),
    ("q7", ["id3"], ["range_v1_v2"]),
    ("q8", ["id6"], ["largest2_v3"]),
    ("q9", ["id2", "id4"], ["r2"]),
    ("q10", ["id1", "id2", "id3", "id4", "id5", "id6"], ["v3", "count"]),
]
WORKLOADS = ["load", "filter_assign"] + [q for q, _, _ in G1_QUERIES]

# The db-benchmark join queries of F2 on the J1 tables, as in peers_common.mjs:
# x joined with the right table on the key (inner, or left for j3); the
# right's other columns (which DuckDB's solution renames <right>_<column>);
# the check adds up v1 and v2.
JOIN_QUERIES = [
    ("j1", "small", "id1", "inner", ["id4"]),
    ("j2", "medium", "id2", "inner", ["id1", "id4", "id5"]),
    ("j3", "medium", "id2", "left", ["id1", "id4", "id5"]),
    ("j4", "medium", "id5", "inner", ["id1", "id2", "id4"]),
    ("j5", "big", "id3", "inner", ["id1", "id2", "id4", "id5", "id6"]),
]
JOIN_VALS = ["v1", "v2"]
JOIN_WORKLOADS = [q for q, _, _, _, _ in JOIN_QUERIES]
JOIN_TABLES = ["x", "small", "medium", "big"]
J1_COLUMNS = {
    "x": ["id1", "id2", "id3", "id4", "id5", "id6", "v1"],
    "small": ["id1", "id4", "v2"],
    "medium": ["id1", "id2", "id4", "id5", "v2"],
    "big": ["id1", "id2", "id3", "id4", "id5", "id6", "v2"],
}


def join_tables(d):
    """The J1 tables in directory d, named as db-benchmark's join-datagen.R
    and `tessera gen join N DIR` name them (J1_<N>_NA_<nas>_<sort>.csv, and
    the right tables J1_<N>_<rows>_<nas>_<sort>.csv: small, medium, big in
    order of <rows>); exits 1 naming what is missing."""
    try:
        names = os.listdir(d)
    except OSError as e:
        die(EXIT_FAILED, f"--join: cannot read the directory '{d}': {e.strerror}")
    xs = sorted(n for n in names if re.fullmatch(r"J1_[^_]+_NA_[^_]+_[^_]+\.csv", n))
    if len(xs) != 1:
        die(EXIT_FAILED, f"--join: '{d}' must hold exactly one J1 left table J1_<N>_NA_<nas>_<sort>.csv "
            f"(from 'tessera gen join N DIR'), found {', '.join(xs) or 'none'}")
    n, tail = re.fullmatch(r"J1_([^_]+)_NA_(.+)", xs[0]).groups()
    ys = []
    for f in names:
        if f != xs[0] and f.startswith(f"J1_{n}_") and f.endswith(f"_{tail}"):
            try:
                ys.append((float(f[len(f"J1_{n}_"):-len(f"_{tail}")]), f))
            except ValueError:
                pass
    ys.sort()
    if len(ys) != 3 or ys[0][0] == ys[1][0] or ys[1][0] == ys[2][0]:
        die(EXIT_FAILED, f"--join: '{d}' must hold the right tables J1_{n}_<rows>_{tail} of three different "
            f"sizes (small, medium, big) beside {xs[0]}, found {', '.join(f for _, f in ys) or 'none'}")
    out = {"x": os.path.join(d, xs[0])}
    for t, (_, f) in zip(["small", "medium", "big"], ys):
        out[t] = os.path.join(d, f)
    for t in JOIN_TABLES:
        if not os.path.isfile(out[t]):
            die(EXIT_FAILED, f"--join: '{out[t]}' is not a regular file")
    return out


p = Parser(prog=PROG, description="pandas on the frame workloads of F0 (load, filter_assign), "
           "F1 (q1..q10) and, with --join, F2 (j1..j5)")
p.add_argument("csv", metavar="CSV", nargs="?", help="a db-benchmark G1 groupby file (F0, F1)")
p.add_argument("--join", metavar="DIR", help="a directory with db-benchmark's J1 tables (F2)")
p.add_argument("--reps", type=whole, default=5, help="timed runs of each workload (default 5)")
p.add_argument("--threads", type=whole, default=2,
               help="cap of the thread pools pandas may call (default 2); pandas itself is single-threaded")
p.add_argument("--only", help="the workloads to run (default all; the tables are loaded in every run)")
p.add_argument("--answers", metavar="DIR",
               help="write each query's answer of the first run to DIR/<query>.csv (untimed)")
ARGS = p.parse_args()
if (ARGS.csv is None) == (ARGS.join is None):
    p.error("give a CSV file (F0, F1) or --join DIR (F2), one of the two")
ARGS.workloads = JOIN_WORKLOADS if ARGS.join is not None else WORKLOADS
if ARGS.only is None:
    ARGS.only = set(ARGS.workloads)
else:
    names = [w for w in ARGS.only.split(",") if w]
    if not names or any(w not in ARGS.workloads for w in names):
        p.error(f"argument --only: needs workloads among {','.join(ARGS.workloads)}, got '{ARGS.only}'")
    ARGS.only = set(names)
if ARGS.answers is not None and not os.path.isdir(ARGS.answers):
    die(EXIT_FAILED, f"--answers: '{ARGS.answers}' is not a directory")

if ARGS.join is not None:
    TABLES = join_tables(ARGS.join)
else:
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
        if rows != rows0 or not abs(s - sum0) <= 1e-9 * abs(sum0) + 1e-300:
            die(EXIT_FAILED, f"{workload}: the runs disagree ({rows0} rows, sum {sum0!r} "
                f"against {rows} rows, sum {s!r})")
    comment("runs", workload, ",".join(f"{t:.6f}" for t in times))
    print(f"{workload}\t{statistics.median(times):.6f}")
    print(f"check\t{workload}\t{rows0}\t{sum0!r}", flush=True)


def query(q, x):
    """db-benchmark's pandas solution of query q on x (its answer frame)."""
    by = dict(as_index=False, sort=False, observed=True, dropna=False)
    if q == "q1":
        return x.groupby("id1", **by).agg({"v1": "sum"})
    if q == "q2":
        return x.groupby(["id1", "id2"], **by).agg({"v1": "sum"})
    if q == "q3":
        return x.groupby("id3", **by).agg({"v1": "sum", "v3": "mean"})
    if q == "q4":
        return x.groupby("id4", **by).agg({"v1": "mean", "v2": "mean", "v3": "mean"})
    if q == "q5":
        return x.groupby("id6", **by).agg({"v1": "sum", "v2": "sum", "v3": "sum"})
    if q == "q6":
        return x.groupby(["id4", "id5"], **by).agg(median_v3=("v3", "median"), sd_v3=("v3", "std"))
    if q == "q7":
        return (x.groupby("id3", **by).agg({"v1": "max", "v2": "min"})
                .assign(range_v1_v2=lambda t: t["v1"] - t["v2"])[["id3", "range_v1_v2"]])
    if q == "q8":
        return (x[~x["v3"].isna()][["id6", "v3"]].sort_values("v3", ascending=False)
                .groupby("id6", **by).head(2).rename(columns={"v3": "largest2_v3"}))
    if q == "q9":
        return (x[["id2", "id4", "v1", "v2"]].groupby(["id2", "id4"], **by)
                .apply(lambda t: pd.Series({"r2": t[["v1", "v2"]].corr()["v1"]["v2"] ** 2})))
    if q == "q10":
        return (x.groupby(["id1", "id2", "id3", "id4", "id5", "id6"], **by)
                .agg({"v3": "sum", "v1": "size"}).rename(columns={"v1": "count"}))
    raise ValueError(q)


def main_groupby():
    """F0 and F1 on the G1 file."""
    comment("file", ARGS.csv, f"{CSV_BYTES} bytes")
    comment("reps", str(ARGS.reps))
    times = {w: [] for w in WORKLOADS}
    checks = {w: [] for w in WORKLOADS}
    for r in range(ARGS.reps):
        t0 = time.perf_counter()
        x = pd.read_csv(ARGS.csv)
        times["load"].append(time.perf_counter() - t0)
        if r == 0:
            comment("schema", ",".join(f"{c}:{t}" for c, t in x.dtypes.items()))
            missing = [c for c in ("v1", "v2", "v3") if c not in x.columns]
            if missing:
                die(EXIT_FAILED, f"'{ARGS.csv}' has no column {', '.join(missing)} (columns: "
                    f"{', '.join(map(str, x.columns))}): not a db-benchmark G1 groupby file")
        checks["load"].append((len(x), float(x["v3"].sum())))

        if "filter_assign" in ARGS.only:
            t0 = time.perf_counter()
            y = x[x["v3"] > 50]
            y = y.assign(w=y["v1"] * y["v3"] + y["v2"])
            times["filter_assign"].append(time.perf_counter() - t0)
            checks["filter_assign"].append((len(y), float(y["w"].sum())))
            del y

        if any(q in ARGS.only for q, _, _ in G1_QUERIES):
            for c in ("id1", "id2", "id3"):
                x[c] = x[c].astype("category")
        for q, _, vals in G1_QUERIES:
            if q not in ARGS.only:
                continue
            t0 = time.perf_counter()
            ans = query(q, x)
            times[q].append(time.perf_counter() - t0)
            # Untimed: rows and the sum of the value columns (NaN and null skipped).
            checks[q].append((len(ans), float(sum(ans[v].astype("float64").sum() for v in vals))))
            if r == 0 and ARGS.answers is not None:
                ans.to_csv(os.path.join(ARGS.answers, f"{q}.csv"), index=False)
            del ans

        del x
        gc.collect()
    for w in WORKLOADS:
        if w == "load" or w in ARGS.only:
            report(w, times[w], checks[w])


def load_join_table(t):
    """A J1 table as db-benchmark's pandas solution loads it: read_csv, then
    the id4..id6 strings made categorical."""
    df = pd.read_csv(TABLES[t])
    missing = [c for c in J1_COLUMNS[t] if c not in df.columns]
    if missing:
        die(EXIT_FAILED, f"'{TABLES[t]}' has no column {', '.join(missing)} (columns: "
            f"{', '.join(map(str, df.columns))}): not db-benchmark's J1 table {t}")
    for c in ("id4", "id5", "id6"):
        if c in df.columns:
            df[c] = df[c].astype("category")
    return df


def main_join():
    """F2: the joins on the J1 tables, as db-benchmark's pandas solution writes them."""
    for t in JOIN_TABLES:
        comment("file", t, TABLES[t], f"{os.stat(TABLES[t]).st_size} bytes")
    comment("reps", str(ARGS.reps))
    times = {q: [] for q in JOIN_WORKLOADS}
    checks = {q: [] for q in JOIN_WORKLOADS}
    for r in range(ARGS.reps):
        tables = {t: load_join_table(t) for t in JOIN_TABLES}
        if r == 0:
            for t in JOIN_TABLES:
                comment("schema", t, f"{len(tables[t])} rows",
                        ",".join(f"{c}:{d}" for c, d in tables[t].dtypes.items()))
        for q, right, on, how, right_cols in JOIN_QUERIES:
            if q not in ARGS.only:
                continue
            t0 = time.perf_counter()
            ans = tables["x"].merge(tables[right], how=how, on=on)
            times[q].append(time.perf_counter() - t0)
            # Untimed: rows and sum(v1) + sum(v2) (NaN and null skipped).
            checks[q].append((len(ans), float(sum(ans[v].astype("float64").sum() for v in JOIN_VALS))))
            if r == 0 and ARGS.answers is not None:
                # DuckDB's column names (pandas suffixes clashing columns with
                # _x on the left and _y on the right).
                names = {f"{c}_x": c for c in right_cols}
                names.update({f"{c}_y": f"{right}_{c}" for c in right_cols})
                ans.rename(columns=names).to_csv(os.path.join(ARGS.answers, f"{q}.csv"), index=False)
            del ans
        del tables
        gc.collect()
    for q in JOIN_WORKLOADS:
        if q in ARGS.only:
            report(q, times[q], checks[q])


def main():
    try:
        import numexpr
        accel = f"numexpr {numexpr.__version__}"
    except Exception:
        accel = "numexpr not installed"
    import numpy as np
    comment("peer", "pandas", f"{pd.__version__} (numpy {np.__version__}; {accel}; python {sys.version.split()[0]})")
    comment("threads", f"1 (pandas is single-threaded; pools capped at {ARGS.threads})")
    if ARGS.join is not None:
        main_join()
    else:
        main_groupby()


try:
    main()
except (OSError, ValueError, pd.errors.ParserError, KeyError) as e:
    die(EXIT_FAILED, f"pandas failed on '{ARGS.join if ARGS.join is not None else ARGS.csv}': {type(e).__name__}: {e}")
