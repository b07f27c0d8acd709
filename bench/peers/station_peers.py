#!/usr/bin/python3
"""station_peers.py -- the peers of workload A9 (docs/benchmarks.md): the
station pipeline in NumPy and in Dask, for bench_arrays to print beside
tessera's time from the same run.

    /usr/bin/python3 bench/peers/station_peers.py INPUT.h5 OUT_DIR [--reps R] [--threads T]

INPUT.h5 holds /t, 1000 stations x 20000 float64 readings with NaN gaps
(bench_arrays makes it).  Each peer reads it, computes every result and
writes them all to OUT_DIR/{numpy,dask}.h5 (h5py); the time of a run is
read + compute + write.  One warm-up run of each peer, then R timed runs,
NumPy and Dask alternating.  The pipeline (as bench/station_pipeline.c):
  mean, std, min, max   per station, np.nanmean ... (keepdims: 1000 x 1)
  count_extreme         per station, |x - mean| / std > 3
  corr                  np.corrcoef of x with NaN replaced by the station mean
  rolling               25-point centred mean of that along time, NaN at the
                        12 steps at each end (pandas' rolling(25, center=True))
  pct                   np.nanpercentile(x, [5, 50, 95], axis=1): 3 x 1000
NumPy's element-wise work is single-threaded; its BLAS (corrcoef) gets T
threads.  Dask reads with da.from_array over the h5py dataset in blocks of
whole rows and writes with one da.store.

Output: '#' comment lines, then one tab-separated row per peer:
  A9  peer  median_s
median_s is 'skipped' or 'failed' (reason in a '#' line) when it did not run.
"""
import argparse
import os
import sys
import time

ap = argparse.ArgumentParser(description="NumPy and Dask on workload A9")
ap.add_argument("input")
ap.add_argument("out_dir")
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--threads", type=int, default=2)
ARGS = ap.parse_args()
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

try:
    import h5py
    import numpy as np
except ImportError as e:
    print(f"# numpy or h5py missing ({e}): A9 peers skipped")
    print("A9\tnumpy\tskipped")
    print("A9\tdask\tskipped")
    sys.exit(0)
try:
    import dask
    import dask.array as da
except ImportError as e:
    da = None
    print(f"# dask missing ({e}): the Dask row is skipped")

Q = [5.0, 50.0, 95.0]
HALF = 12


def rolling_np(filled):
    """25-point centred mean along axis 1, NaN where the window leaves."""
    n = filled.shape[1]
    out = np.full(filled.shape, np.nan)
    c = np.zeros((filled.shape[0], n + 1))
    np.cumsum(filled, axis=1, out=c[:, 1:])
    w = 2 * HALF + 1
    out[:, HALF:n - HALF] = (c[:, w:] - c[:, :n + 1 - w]) / w
    return out


def write(path, results):
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        for name, value in results.items():
            f.create_dataset(name, data=value)
    os.replace(tmp, path)


def run_numpy(out):
    with h5py.File(ARGS.input, "r") as f:
        x = f["t"][...]
    mean = np.nanmean(x, axis=1, keepdims=True)
    std = np.nanstd(x, axis=1, keepdims=True)
    mn = np.nanmin(x, axis=1, keepdims=True)
    mx = np.nanmax(x, axis=1, keepdims=True)
    with np.errstate(invalid="ignore"):
        count = (np.abs((x - mean) / std) > 3).sum(axis=1)
    filled = np.where(np.isnan(x), mean, x)
    corr = np.corrcoef(filled)
    rolling = rolling_np(filled)
    pct = np.nanpercentile(x, Q, axis=1)
    write(out, {"mean": mean, "std": std, "min": mn, "max": mx, "count_extreme": count,
                "corr": corr, "rolling": rolling, "pct": pct})


def run_dask(out):
    tmp = out + ".tmp"
    with h5py.File(ARGS.input, "r") as f:
        x = da.from_array(f["t"], chunks=(125, f["t"].shape[1]))
        mean = da.nanmean(x, axis=1, keepdims=True)
        std = da.nanstd(x, axis=1, keepdims=True)
        mn = da.nanmin(x, axis=1, keepdims=True)
        mx = da.nanmax(x, axis=1, keepdims=True)
        count = (abs((x - mean) / std) > 3).sum(axis=1)
        filled = da.where(da.isnan(x), mean, x)
        corr = da.corrcoef(filled)
        rolling = filled.map_blocks(rolling_np, dtype=float)
        pct = x.map_blocks(lambda b: np.nanpercentile(b, Q, axis=1).T,
                           chunks=(x.chunks[0], (len(Q),)), dtype=float).T
        results = {"mean": mean, "std": std, "min": mn, "max": mx, "count_extreme": count,
                   "corr": corr, "rolling": rolling, "pct": pct}
        with h5py.File(tmp, "w") as g:
            targets = [g.create_dataset(k, shape=v.shape, dtype=v.dtype)
                       for k, v in results.items()]
            with np.errstate(invalid="ignore"):
                da.store(list(results.values()), targets, lock=True)
    os.replace(tmp, out)


def main():
    print(f"# station_peers: numpy {np.__version__}, h5py {h5py.__version__}"
          + (f", dask {dask.__version__}" if da is not None else "")
          + f", {ARGS.threads} threads, medians of {ARGS.reps} runs after 1 warm-up")
    if da is not None:
        dask.config.set(scheduler="threads", num_workers=ARGS.threads)
    peers = [("numpy", run_numpy)] + ([("dask", run_dask)] if da is not None else [])
    times = {p: [] for p, _ in peers}
    failed = {}
    for rep in range(ARGS.reps + 1):
        for name, fn in peers:
            if name in failed:
                continue
            t0 = time.perf_counter()
            try:
                fn(os.path.join(ARGS.out_dir, name + ".h5"))
            except Exception as e:  # reported, never a made-up number
                failed[name] = f"{type(e).__name__}: {e}"
                continue
            if rep > 0:
                times[name].append(time.perf_counter() - t0)
    for name in ("numpy", "dask"):
        if name in failed:
            print(f"# {name} failed: {failed[name]}")
            print(f"A9\t{name}\tfailed")
        elif name not in times:
            print(f"A9\t{name}\tskipped")
        else:
            t = sorted(times[name])
            print(f"A9\t{name}\t{t[len(t) // 2]:.6f}")


main()
