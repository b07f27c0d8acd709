#!/usr/bin/python3
"""arrays_peers.py -- the peers of tessera's array benchmark: NumPy and Dask on
workloads A1-A6 of docs/benchmarks.md (float64), for a tessera bench program to
print beside its own numbers from the same run.

    /usr/bin/python3 bench/peers/arrays_peers.py [--reps R] [--threads T]
                                                 [--workloads A1,A2,...] [--scale S]

Use Debian's /usr/bin/python3 with python3-numpy and python3-dask.  For each
workload the inputs are made (seeded NumPy generator) and held in memory
before any timing; Dask gets the same values as contiguous chunks, persisted.
Then one warm-up run of each peer and R timed runs, NumPy and Dask alternating.
Timed: for NumPy the expression; for Dask building the expression on the
persisted inputs plus compute() on the threaded scheduler with T workers.
NumPy's element-wise work is single-threaded; its BLAS (A4) gets T threads.

Output: '#' comment lines, then a tab-separated header and one row per
workload and peer:  workload  peer  median_s  result  bytes_touched
  median_s       median of the R runs, or 'skipped' / 'failed' (reason in a
                 '#' line just before), never a made-up number;
  result         the scalar computed (informational: tessera's RNG differs);
  bytes_touched  the least memory traffic the workload needs (formulas at
                 WORKLOADS below), for bytes / time against a STREAM triad.

--scale S (default 1) multiplies each array's element count by S: a 1-D
length by S, each side of a 2-D array by sqrt(S); the chunk size is scaled
with it so the chunk count stays the same (sides are rounded to a whole
number of chunks).  A1's chunks stay 1 element, so there the chunk (task)
count scales with S.
"""
import argparse
import os
import sys


def parse_args():
    p = argparse.ArgumentParser(
        description="NumPy and Dask on workloads A1-A6 (docs/benchmarks.md)")
    p.add_argument("--reps", type=int, default=5, help="timed runs per peer (default 5)")
    p.add_argument("--threads", type=int, default=2, help="Dask workers and BLAS threads (default 2)")
    p.add_argument("--workloads", default="A1,A2,A3,A4,A5,A6", help="comma-separated subset")
    p.add_argument("--scale", type=float, default=1.0, help="element-count factor (default 1)")
    a = p.parse_args()
    a.workloads = [w.strip().upper() for w in a.workloads.split(",") if w.strip()]
    bad = [w for w in a.workloads if w not in WORKLOAD_IDS]
    if a.reps < 1 or a.threads < 1 or not a.scale > 0 or bad or not a.workloads:
        p.error("need --reps >= 1, --threads >= 1, --scale > 0 and workloads among A1..A6")
    return a


WORKLOAD_IDS = ("A1", "A2", "A3", "A4", "A5", "A6")
ARGS = parse_args()

# OpenBLAS reads its thread count when it is loaded, so set it before numpy is
# imported.  OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are only reported, not changed.
ENV_SEEN = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                                           "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import ctypes  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

SKIP = {}  # peer -> reason it cannot run
try:
    import numpy as np
except Exception as e:  # pragma: no cover - depends on the machine
    np = None
    SKIP["numpy"] = f"numpy not importable ({type(e).__name__}: {e}); install python3-numpy"
try:
    import dask
    import dask.array as da
except Exception as e:  # pragma: no cover
    dask = da = None
    SKIP["dask"] = f"dask.array not importable ({type(e).__name__}: {e}); install python3-dask"

SEED = 20240611


# --------------------------------------------------------------------------
# OpenBLAS threads: threadpoolctl when importable, else the loaded
# libopenblas itself through ctypes (what threadpoolctl does).

class Blas:
    def __init__(self):
        self.how, self.lib, self.path, self.config = "env only", None, None, "?"
        if np is None:
            return
        try:
            import threadpoolctl
            self.tpc = threadpoolctl
            self.how = "threadpoolctl"
            info = [i for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"]
            if info:
                self.path = info[0].get("filepath")
                self.config = " ".join(str(info[0].get(k)) for k in
                                       ("internal_api", "version", "architecture"))
            return
        except ImportError:
            pass
        try:
            with open("/proc/self/maps") as f:
                paths = {ln.split()[-1] for ln in f if "libopenblas" in ln.split()[-1]}
            if paths:
                self.path = sorted(paths)[0]
                self.lib = ctypes.CDLL(self.path)
                self.lib.openblas_get_config.restype = ctypes.c_char_p
                self.config = self.lib.openblas_get_config().decode()
                self.how = "ctypes openblas_set_num_threads"
        except OSError:
            self.lib = None

    def set_threads(self, n):
        if self.how == "threadpoolctl":
            self.tpc.threadpool_limits(limits=n, user_api="blas")
        elif self.lib is not None:
            self.lib.openblas_set_num_threads(n)

    def threads(self):
        if self.how == "threadpoolctl":
            info = [i for i in self.tpc.threadpool_info() if i.get("user_api") == "blas"]
            return info[0]["num_threads"] if info else "?"
        if self.lib is not None:
            return self.lib.openblas_get_num_threads()
        return f"{os.environ['OPENBLAS_NUM_THREADS']} (env, unverified)"


# --------------------------------------------------------------------------
# Sizes.  Full-scale shape and chunk shape of each workload's array(s).

FULL = {
    "A1": ((100000,), (1,)),
    "A2": ((100000000,), (10000000,)),
    "A3": ((20000, 5000), (2000, 5000)),
    "A4": ((4000, 4000), (1000, 1000)),
    "A5": ((8000, 8000), (2000, 2000)),
    "A6": ((10000, 10000), (2000, 2000)),
}


def scaled(wid, scale):
    """(shape, chunks) at --scale: element count x scale, chunk count kept."""
    shape, chunks = FULL[wid]
    f = scale ** (1.0 / len(shape))
    out_shape, out_chunks = [], []
    for side, chunk in zip(shape, chunks):
        if chunk == 1:  # A1: one element per chunk stays; the count scales
            out_shape.append(max(1, round(side * f)))
            out_chunks.append(1)
        else:
            c = max(1, round(chunk * f))
            out_shape.append(c * (side // chunk))
            out_chunks.append(c)
    return tuple(out_shape), tuple(out_chunks)


def nelem(shape):
    n = 1
    for s in shape:
        n *= s
    return n


# bytes_touched: the least bytes any implementation must move to/from memory
# (8 bytes per float64; a fused, single-pass implementation reaches it):
#   A1  0            ones(n) + 1 can be generated on the fly; no array need
#                    exist (A1 measures per-task overhead, not bandwidth)
#   A2  2 * 8 * n    read x and y once (n = 1e8: 1.6e9)
#   A3  8 * r * c    read x once: column means and the std need only sums of
#                    x and x*x in one pass (20000 x 5000: 8e8)
#   A4  2 * 8 * n^2  read a and b once; a @ b need not be stored since only
#                    its sum is kept (4000: 2.56e8; A4 is compute-bound,
#                    2 n^3 flops, and is judged against dgemm, not STREAM)
#   A5  8 * n^2      read x once; the stencil's neighbours come from cache
#                    (8000: 5.12e8)
#   A6  8 * n^2      read x once: tile (i, j) and tile (j, i) are read
#                    together (10000: 8e8)
def bytes_touched(wid, shape):
    n = nelem(shape)
    return {"A1": 0, "A2": 2 * 8 * n, "A3": 8 * n, "A4": 2 * 8 * n,
            "A5": 8 * n, "A6": 8 * n}[wid]


# Inputs: NumPy arrays of uniform [0, 1) float64 from one seeded generator.
def make_inputs(wid, shape):
    if wid == "A1":
        return {}
    rng = np.random.default_rng(SEED)
    if wid == "A2":
        return {"x": rng.random(shape), "y": rng.random(shape)}
    if wid == "A4":
        return {"a": rng.random(shape), "b": rng.random(shape)}
    return {"x": rng.random(shape)}


def to_dask(inputs, chunks):
    """The same values as persisted Dask arrays of contiguous chunks."""
    arrays = {k: da.from_array(v, chunks=chunks, name=f"input-{k}-{id(v)}")
              .map_blocks(np.ascontiguousarray) for k, v in inputs.items()}
    persisted = dask.persist(*arrays.values())
    return dict(zip(arrays.keys(), persisted))


# --------------------------------------------------------------------------
# The workloads, one function per workload per peer.  Each returns a float.

def numpy_a1(n):
    return float((np.ones(n) + 1).sum())


def numpy_a2(x, y):
    return float((np.sqrt(x * x + y * y) * 0.5 + 1).sum())


def numpy_a3(x):
    return float(x.mean(axis=0).sum() + x.std())


def numpy_a4(a, b):
    return float((a @ b).sum())


def numpy_a5(x):
    # 5-point Laplacian of the interior points (the edge has no neighbours)
    lap = x[:-2, 1:-1] + x[2:, 1:-1] + x[1:-1, :-2] + x[1:-1, 2:] - 4 * x[1:-1, 1:-1]
    return float(lap.sum())


def numpy_a6(x):
    return float((x + x.T).sum())


def dask_a1(n):
    return float((da.ones(n, chunks=1) + 1).sum().compute())


def dask_a2(x, y):
    return float((da.sqrt(x * x + y * y) * 0.5 + 1).sum().compute())


def dask_a3(x):
    return float((x.mean(axis=0).sum() + x.std()).compute())


def dask_a4(a, b):
    return float((a @ b).sum().compute())


def _laplacian5_block(b):
    # b carries a 1-element halo on its sides inside the array ('none' adds
    # none at the array's edge); the halo and the array's edge rows/columns
    # get 0, and map_overlap trims the halo, so the sum is numpy_a5's.
    out = np.zeros_like(b)
    out[1:-1, 1:-1] = (b[:-2, 1:-1] + b[2:, 1:-1] + b[1:-1, :-2] + b[1:-1, 2:]
                       - 4 * b[1:-1, 1:-1])
    return out


def dask_a5(x):
    lap = da.map_overlap(_laplacian5_block, x, depth=1, boundary="none", dtype=x.dtype)
    return float(lap.sum().compute())


def dask_a6(x):
    return float((x + x.T).sum().compute())


NUMPY = {"A1": numpy_a1, "A2": numpy_a2, "A3": numpy_a3, "A4": numpy_a4, "A5": numpy_a5,
         "A6": numpy_a6}
DASK = {"A1": dask_a1, "A2": dask_a2, "A3": dask_a3, "A4": dask_a4, "A5": dask_a5,
        "A6": dask_a6}
WHAT = {
    "A1": "sum(ones(n) + 1)",
    "A2": "sum(sqrt(x*x + y*y) * 0.5 + 1)",
    "A3": "sum(mean(x, axis=0)) + std(x)",
    "A4": "sum(a @ b)",
    "A5": "sum(laplacian5(x)), overlap depth 1, boundary none",
    "A6": "sum(x + x.T)",
}


# --------------------------------------------------------------------------
# Running and printing.

def mem_available():
    try:
        with open("/proc/meminfo") as f:
            for ln in f:
                if ln.startswith("MemAvailable:"):
                    return int(ln.split()[1]) * 1024
    except OSError:
        pass
    return None


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("flags"):
                    return set(ln.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def timed(fn, args):
    gc.collect()
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def measure(wid, shape, chunks, blas):
    """{peer: (median_s, result, note)} for the peers that can run."""
    peers = [p for p in ("numpy", "dask") if p not in SKIP]
    n_in = {"A1": 0, "A2": 2, "A4": 2}.get(wid, 1)
    # NumPy input + Dask's contiguous copy + NumPy's temporaries: about 4x.
    need, avail = 4 * 8 * nelem(shape) * n_in, mem_available()
    if avail is not None and need > avail:
        why = (f"skipped: needs about {need / 1e9:.1f} GB, {avail / 1e9:.1f} GB available "
               "(try a smaller --scale)")
        return {p: ("skipped", "-", why) for p in peers}
    inputs = make_inputs(wid, shape)
    args = {"numpy": list(inputs.values()) or [shape[0]]}
    if "dask" in peers:
        args["dask"] = list(to_dask(inputs, chunks).values()) or [shape[0]]
    fns = {"numpy": NUMPY[wid], "dask": DASK[wid]}
    # BLAS threads: T for NumPy; 1 inside Dask, whose T workers each call BLAS
    # on their own chunk (T x T threads would oversubscribe the T cores).
    blas_threads = {"numpy": ARGS.threads, "dask": 1}
    times, results, errors = {p: [] for p in peers}, {}, {}
    for rep in range(ARGS.reps + 1):  # run 0 is the warm-up; peers alternate
        for p in peers:
            if p in errors:
                continue
            blas.set_threads(blas_threads[p])
            try:
                t, results[p] = timed(fns[p], args[p])
            except Exception as e:  # e.g. MemoryError: report it, never guess
                errors[p] = f"failed: {type(e).__name__}: {e}"
                continue
            if rep > 0:
                times[p].append(t)
    blas.set_threads(ARGS.threads)
    out = {}
    for p in peers:
        if p in errors:
            out[p] = ("failed", "-", errors[p])
        else:
            ts = times[p]
            out[p] = (f"{statistics.median(ts):.6f}", repr(results[p]),
                      f"runs min {min(ts):.6f} s, max {max(ts):.6f} s")
    return out


def run_workload(wid, blas):
    shape, chunks = scaled(wid, ARGS.scale)
    nbytes = bytes_touched(wid, shape)
    nchunks = nelem(shape) // nelem(chunks)
    if wid == "A1":
        sizes = f"n = {shape[0]}, chunks of 1 ({nchunks} chunks)"
    else:
        sizes = (f"{'x, y' if wid == 'A2' else 'a, b' if wid == 'A4' else 'x'} "
                 f"{'x'.join(map(str, shape))} float64, chunks {'x'.join(map(str, chunks))} "
                 f"({nchunks} chunks{' each' if wid in ('A2', 'A4') else ''})")
    print(f"# {wid}: {WHAT[wid]}; {sizes}", flush=True)
    measured = measure(wid, shape, chunks, blas)
    gc.collect()
    for p in ("numpy", "dask"):
        median, result, note = measured.get(p, ("skipped", "-", f"skipped: {SKIP.get(p)}"))
        print(f"# {wid} {p} {note}")
        print(f"{wid}\t{p}\t{median}\t{result}\t{nbytes}", flush=True)


def main():
    t_start = time.perf_counter()
    blas = Blas()
    blas.set_threads(ARGS.threads)
    if dask is not None:
        dask.config.set(scheduler="threads", num_workers=ARGS.threads)
    print(f"# arrays_peers.py: docs/benchmarks.md A1-A6, {ARGS.threads} threads, medians of "
          f"{ARGS.reps} runs after 1 warm-up, scale {ARGS.scale:g}, seed {SEED}")
    print(f"# python {platform.python_version()} ({sys.executable}); numpy "
          f"{np.__version__ if np else '-'}; dask {dask.__version__ if dask else '-'} "
          f"(threaded scheduler, num_workers={ARGS.threads})")
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    avail = mem_available()
    print(f"# machine: {platform.machine()}, {cpus} CPUs usable, "
          f"{avail / 2**30:.1f} GiB available" if avail else f"# machine: {cpus} CPUs usable")
    print("# env seen: " + ", ".join(f"{k}={v if v is not None else '(unset)'}"
                                     for k, v in ENV_SEEN.items()))
    print(f"# env set before numpy was imported: OPENBLAS_NUM_THREADS={ARGS.threads}, "
          f"OMP_NUM_THREADS={ARGS.threads} (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE left as seen)")
    if np is not None:
        print(f"# BLAS: {blas.config} ({blas.path or 'library not found'}); threads "
              f"{blas.threads()} for NumPy, 1 inside Dask's workers (control: {blas.how})")
        if "Prescott" in blas.config and "avx2" in cpu_flags():
            print("# note: OpenBLAS runs its Prescott (SSE3) kernels on this AVX2 CPU, which its "
                  "detection does not know; A4 is slow for it (OPENBLAS_CORETYPE=Haswell or "
                  "SkylakeX would pick faster kernels; not set here)")
    for p, why in SKIP.items():
        print(f"# {p} skipped: {why}")
    print("# NumPy's element-wise operations are single-threaded; Dask times include "
          "building the expression on the persisted inputs")
    print("workload\tpeer\tmedian_s\tresult\tbytes_touched", flush=True)
    for wid in ARGS.workloads:
        run_workload(wid, blas)
    print(f"# total wall time {time.perf_counter() - t_start:.1f} s")


if __name__ == "__main__":
    main()
