/* station_pipeline.c — workload A9 of docs/benchmarks.md: the station
 * analysis a NumPy user wrote, as one tessera compute.
 *
 * Input: an HDF5 dataset /t of 1000 stations x 20000 float64 readings with
 * about 1 % missing values (NaN), made once by a9_make_input (tessera's
 * counter-based generator, so the file is the same on every machine).
 * Pipeline (the peers in bench/peers/station_peers.py do the same):
 *   mean, std, min, max   per station, NaN-aware (np.nanmean ...)
 *   count                 per station, readings with |x - mean| / std > 3
 *   filled                x with NaN replaced by the station's mean
 *   corr                  np.corrcoef(filled): 1000 x 1000
 *   rolling               the 25-point centred mean of filled along time,
 *                         NaN where the window leaves the series (pandas'
 *                         rolling(25, center=True))
 *   pct                   np.nanpercentile(x, [5, 50, 95], axis=1): 3 x 1000
 * and every result stored in one file by one tsr_store_hdf5 call. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "array_workloads.h"
#include "station_pipeline.h"

#define ROLL_HALF 12 /* 25-point window */

/* Where the window leaves the series, NaN; inside, the window's mean from a
 * running sum, started afresh in each block (as the peers' cumulative sums,
 * the last bits depend on where a sum starts). */
static tsr_status rolling_kernel(void *out, const tsr_block_info *oi, const void *const *in,
                                 const tsr_block_info *ii, size_t n_in, void *user) {
  (void)n_in;
  (void)user;
  const double *x = in[0];
  double *y = out;
  int64_t rows = oi->shape[0], cols = oi->shape[1], icols = ii[0].shape[1];
  int64_t halo = (icols - cols) / 2; /* 12, or 0 when map_blocks is used */
  int64_t t_end = oi->array_shape[1];
  for (int64_t r = 0; r < rows; r++) {
    const double *xr = x + (r + (ii[0].shape[0] - rows) / 2) * icols;
    double *yr = y + r * cols;
    double s = 0;
    bool started = false;
    for (int64_t c = 0; c < cols; c++) {
      int64_t t = oi->offset[1] + c; /* the time step */
      if (t < ROLL_HALF || t >= t_end - ROLL_HALF) {
        yr[c] = NAN;
        continue;
      }
      const double *w = xr + c + halo - ROLL_HALF; /* the window's first reading */
      if (!started) {
        for (int64_t k = 0; k < 2 * ROLL_HALF + 1; k++)
          s += w[k];
        started = true;
      } else {
        s += w[2 * ROLL_HALF] - w[-1];
      }
      yr[c] = s / (2 * ROLL_HALF + 1);
    }
  }
  return TSR_OK;
}

tsr_status a9_make_input(tsr_ctx *ctx, const char *path) {
  struct stat st;
  if (stat(path, &st) == 0)
    return TSR_OK;
  int64_t shape[2] = {A9_STATIONS, A9_STEPS}, chunks[2] = {A9_STATIONS / 8, A9_STEPS};
  tsr_array *u = NULL, *v = NULL, *gap = NULL, *nan = NULL, *x = NULL, *t = NULL;
  tsr_status s = tsr_array_random(ctx, TSR_RANDOM_NORMAL, 9, 2, shape, chunks, &v);
  if (s == TSR_OK)
    s = tsr_binary_scalar(TSR_OP_MUL, v, 8.0, &t);
  if (s == TSR_OK)
    s = tsr_binary_scalar(TSR_OP_ADD, t, 12.0, &x);
  if (s == TSR_OK)
    s = tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 10, 2, shape, chunks, &u);
  if (s == TSR_OK)
    s = tsr_binary_scalar(TSR_OP_LT, u, 0.01, &gap);
  if (s == TSR_OK)
    s = tsr_array_full(ctx, TSR_FLOAT64, 0, NULL, NULL, NAN, &nan);
  tsr_array *data = NULL;
  if (s == TSR_OK)
    s = tsr_where(gap, nan, x, &data);
  const char *name = "t";
  if (s == TSR_OK)
    s = tsr_store_hdf5(ctx, 1, &data, path, &name, NULL);
  tsr_array *all[] = {u, v, gap, nan, x, t, data};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    tsr_array_destroy(&all[i]);
  return s;
}

/* Each station's NaN-aware reduction, keepdims (1000 x 1). */
static tsr_array *per_station(tsr_reduce_op op, tsr_array *x) {
  int axis = 1;
  tsr_reduce_options ro = {.keepdims = true};
  tsr_array *r = NULL;
  CHECK(tsr_reduce(op, x, &axis, 1, &ro, &r));
  return r;
}

tsr_status a9_run(tsr_ctx *ctx, const char *in_path, const char *out_path,
                  const tsr_compute_options *copt) {
  tsr_array *x = NULL;
  TSR_TRY(tsr_array_from_hdf5(ctx, in_path, "t", NULL, &x));
  tsr_array *mean = per_station(TSR_REDUCE_NANMEAN, x), *sd = per_station(TSR_REDUCE_NANSTD, x),
            *mn = per_station(TSR_REDUCE_NANMIN, x), *mx = per_station(TSR_REDUCE_NANMAX, x);
  tsr_array *dev = NULL, *z = NULL, *az = NULL, *big = NULL, *count = NULL;
  CHECK(tsr_sub(x, mean, &dev));
  CHECK(tsr_div(dev, sd, &z));
  CHECK(tsr_unary(TSR_OP_ABS, z, &az));
  CHECK(tsr_binary_scalar(TSR_OP_GT, az, 3.0, &big));
  int axis = 1;
  CHECK(tsr_sum(big, &axis, 1, false, &count));
  tsr_array *isnan = NULL, *filled = NULL, *corr = NULL, *rolling = NULL, *pct = NULL;
  CHECK(tsr_unary(TSR_OP_ISNAN, x, &isnan));
  CHECK(tsr_where(isnan, mean, x, &filled));
  CHECK(tsr_corrcoef(filled, &corr));
  int64_t depth[2] = {0, ROLL_HALF};
  CHECK(tsr_map_overlap(filled, depth, TSR_BOUNDARY_CONSTANT, NAN, rolling_kernel, NULL,
                        TSR_FLOAT64, &rolling));
  const double q[3] = {5, 50, 95};
  CHECK(tsr_nanpercentile(x, q, 3, 1, false, &pct));
  tsr_array *outs[] = {mean, sd, mn, mx, count, corr, rolling, pct};
  const char *names[] = {"mean", "std", "min", "max", "count_extreme", "corr", "rolling", "pct"};
  tsr_hdf5_store_options so = {.mode = TSR_HDF5_REPLACE, .compute = copt};
  tsr_status s = tsr_store_hdf5(ctx, 8, outs, out_path, names, &so);
  tsr_array *all[] = {x,  mean,   sd,     mn,   mx,   dev,     z,      az,
                      big, count, isnan, filled, corr, rolling, pct};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    tsr_array_destroy(&all[i]);
  return s;
}
