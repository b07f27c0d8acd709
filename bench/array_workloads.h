/* array_workloads.h — the array workloads A1-A6 of docs/benchmarks.md as C
 * code, shared by bench_arrays (tessera beside NumPy and Dask) and
 * bench_dist (MPI ranks against threads), so both time exactly the same
 * expressions on the same sizes, chunks and inputs.
 *
 * Sizes follow arrays_peers.py's scaled(): --scale S scales the element
 * count, keeping the number of chunks.  Inputs are float64 uniform [0, 1)
 * buffers from tessera's counter-based generator (fixed seeds, so every
 * process and every run gets the same values), handed to tessera as
 * borrowed buffers.  Every workload builds an expression whose result is a
 * 0-d float64 array. */
#ifndef TSR_BENCH_ARRAY_WORKLOADS_H
#define TSR_BENCH_ARRAY_WORKLOADS_H

#include <stdint.h>

#include <tessera/tessera.h>

#include "bench_common.h"

#define N_WORKLOADS 6
/* "A1" .. "A6"; workload w (0-based) is ids[w]. */
extern const char *const ids[N_WORKLOADS];

/* ---- sizes ----------------------------------------------------------------- */

typedef struct sizes {
  int ndim;
  int64_t shape[2], chunks[2];
} sizes;

/* Workload w's shape and chunks at `scale` (arrays_peers.py's scaled()). */
sizes scaled(int w, double scale);
int64_t nelem(const sizes *s);
/* The least bytes each workload must move (arrays_peers.py's bytes_touched). */
double bytes_touched(int w, const sizes *s);

/* ---- inputs ---------------------------------------------------------------- */

typedef struct inputs {
  double *x, *y;      /* the buffers (y only for A2 and A4; none for A1) */
  tsr_array *ax, *ay; /* them as arrays of the context, borrowed */
} inputs;

/* n uniform [0, 1) doubles from `seed`; exits when out of memory. */
double *random_buffer(int64_t n, uint64_t seed);
/* Workload w's inputs on ctx (made before any timing). */
inputs make_inputs(tsr_ctx *ctx, int w, const sizes *s);
void free_inputs(inputs *in);

/* ---- the workloads --------------------------------------------------------- */

/* Builds workload w's expression (a 0-d float64 array, owned by the
 * caller); computing it to a scalar is the timed work. */
typedef tsr_array *(*workload_fn)(tsr_ctx *, const sizes *, inputs *);
extern const workload_fn workloads[N_WORKLOADS];

/* The options both array benchmarks take: --scale's value (a positive
 * number) and --workloads' list ("A2,A5") into run[]; bad values exit 2
 * with a message. */
double parse_scale(const char *v);
void parse_workload_list(const char *list, bool run[N_WORKLOADS]);

#endif /* TSR_BENCH_ARRAY_WORKLOADS_H */
