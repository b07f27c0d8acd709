/* station_stats.c — a scientist's first tessera program: per-station
 * statistics and standardized anomalies of an HDF5 dataset, written to a
 * new HDF5 file by ONE compute (the input is read once; what the results
 * share is computed once).
 *
 *   station_stats IN.h5 DATASET OUT.h5
 *
 * DATASET is time x stations (data/sample.h5:/temperature is 8760 hours x
 * 64 stations).  OUT.h5 gets /mean, /std, /min, /max (one value per
 * station, NaN-aware as np.nanmean ...; std with ddof 1) and /anomaly
 * ((x - mean) / std, the input's shape), and is replaced if it exists.
 * examples/station_stats.tsr is the same job as a `tessera eval` script;
 * ctest checks that both write identical files. */
#include <stdio.h>
#include <stdlib.h>

#include <tessera/tessera.h>

/* Exits with the library's message when a call fails. */
static void check(tsr_status s, const char *what) {
  if (s != TSR_OK) {
    fprintf(stderr, "station_stats: %s: %s\n", what, tsr_last_error());
    exit(1);
  }
}

/* op over time (axis 0), one value per station. */
static tsr_array *per_station(tsr_reduce_op op, tsr_array *x, int ddof) {
  int axis = 0;
  tsr_reduce_options o = {.keepdims = false, .ddof = ddof};
  tsr_array *r = NULL;
  check(tsr_reduce(op, x, &axis, 1, &o, &r), tsr_reduce_op_name(op));
  return r;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: station_stats IN.h5 DATASET OUT.h5\n");
    return 2;
  }
  tsr_ctx *ctx = NULL;
  check(tsr_ctx_create(&ctx), "context");

  /* Lazy: nothing is read or computed until tsr_store_hdf5. */
  tsr_array *x = NULL;
  check(tsr_array_from_hdf5(ctx, argv[1], argv[2], NULL, &x), "input");
  tsr_array *mean = per_station(TSR_REDUCE_NANMEAN, x, 0);
  tsr_array *sd = per_station(TSR_REDUCE_NANSTD, x, 1);
  tsr_array *lo = per_station(TSR_REDUCE_NANMIN, x, 0);
  tsr_array *hi = per_station(TSR_REDUCE_NANMAX, x, 0);
  tsr_array *dev = NULL, *anomaly = NULL; /* (x - mean) / sd, broadcast per station */
  check(tsr_sub(x, mean, &dev), "x - mean");
  check(tsr_div(dev, sd, &anomaly), "(x - mean) / std");

  tsr_array *outs[] = {mean, sd, lo, hi, anomaly};
  const char *names[] = {"mean", "std", "min", "max", "anomaly"};
  tsr_hdf5_store_options so = {.mode = TSR_HDF5_REPLACE};
  check(tsr_store_hdf5(ctx, 5, outs, argv[3], names, &so), "store");

  int64_t stations = tsr_array_shape(mean)[0];
  printf("station_stats: %lld stations, statistics and anomalies written to %s\n",
         (long long)stations, argv[3]);
  tsr_array *all[] = {x, mean, sd, lo, hi, dev, anomaly};
  for (size_t i = 0; i < sizeof all / sizeof *all; i++)
    tsr_array_destroy(&all[i]);
  tsr_ctx_destroy(&ctx);
  return 0;
}
