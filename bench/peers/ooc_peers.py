#!/usr/bin/python3
"""ooc_peers.py -- the peer of tessera's A7 benchmark (bench_ooc): h5py + Dask
computing mean(x, axis=0) of the dataset /x of each given HDF5 file, with the
threaded scheduler and T workers, each run in a fresh process so that its peak
RSS (getrusage) is its own.

    /usr/bin/python3 bench/peers/ooc_peers.py [--threads T] [--reps R] FILE.h5 [FILE.h5 ...]

Prints one line per file: 'h5py+dask FILE: median S s, peak RSS M MB' (or
'skipped: ...' when h5py or dask is missing -- never a made-up number)."""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def one(path, threads):
    import dask
    import dask.array as da
    import h5py
    dask.config.set(scheduler="threads", num_workers=threads)
    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        x = da.from_array(f["/x"], chunks=(1000, f["/x"].shape[1]))
        m = x.mean(axis=0).compute()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"{dt} {rss} {float(m.sum())!r}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("files", nargs="+")
    a = p.parse_args()
    if a.one:
        one(a.files[0], a.threads)
        return
    try:
        import dask.array  # noqa: F401
        import h5py  # noqa: F401
    except ImportError as e:
        print(f"h5py+dask skipped: {e} (install python3-h5py and python3-dask)")
        return
    for path in a.files:
        times, rss = [], 0
        for _ in range(a.reps):
            out = subprocess.run([sys.executable, os.path.abspath(__file__), "--one",
                                  "--threads", str(a.threads), path],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                print(f"h5py+dask {path}: failed: {out.stderr.strip().splitlines()[-1:]}")
                break
            t, r, _ = out.stdout.split()
            times.append(float(t))
            rss = max(rss, int(r))
        if times:
            print(f"h5py+dask {path}: median {statistics.median(times):.3f} s, "
                  f"peak RSS {rss / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
