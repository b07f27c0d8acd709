/* out_of_core.c — a job larger than its memory limit: column anomalies of a
 * matrix several times the limit, read from HDF5 and written to HDF5.
 *
 *   out_of_core DIR [LIMIT_MIB]      (default limit 48 MiB)
 *
 * It first writes DIR/big.h5:/x (4000 x 5000 float64, 160 MB, random) if it
 * is not there, then, with the context's memory limit set, computes
 * x - mean(x, axis=0) into DIR/anomaly.h5.  Every chunk of x is needed
 * twice (for the means, then for the anomalies); under the limit tessera
 * spills what waits to disk and reads it back, so the peak stays within the
 * limit, which the program prints and checks. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <tessera/tessera.h>

static void check(tsr_status s, const char *what) {
  if (s != TSR_OK) {
    fprintf(stderr, "out_of_core: %s: %s\n", what, tsr_last_error());
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: out_of_core DIR [LIMIT_MIB]\n");
    return 2;
  }
  uint64_t limit = (uint64_t)(argc > 2 ? atoll(argv[2]) : 48) << 20;
  char in[4096], out[4096];
  snprintf(in, sizeof in, "%s/big.h5", argv[1]);
  snprintf(out, sizeof out, "%s/anomaly.h5", argv[1]);
  tsr_ctx *ctx = NULL;
  check(tsr_ctx_create(&ctx), "context");
  if (access(in, R_OK) != 0) { /* the input: made lazily, chunk by chunk */
    int64_t shape[2] = {4000, 5000}, chunks[2] = {500, 5000};
    tsr_array *r = NULL;
    const char *name = "x";
    check(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 7, 2, shape, chunks, &r), "random");
    check(tsr_store_hdf5(ctx, 1, &r, in, &name, NULL), "write the input");
    tsr_array_destroy(&r);
  }

  check(tsr_ctx_set_memory_limit(ctx, limit), "memory limit");
  tsr_ctx_reset_peak(ctx);
  tsr_array *x = NULL, *mean = NULL, *anomaly = NULL;
  check(tsr_array_from_hdf5(ctx, in, "x", NULL, &x), "input");
  int axis = 0;
  check(tsr_mean(x, &axis, 1, true, &mean), "mean");
  check(tsr_sub(x, mean, &anomaly), "x - mean");
  const char *name = "anomaly";
  tsr_hdf5_store_options so = {.mode = TSR_HDF5_REPLACE};
  check(tsr_store_hdf5(ctx, 1, &anomaly, out, &name, &so), "store");
  tsr_memory_stats m;
  check(tsr_ctx_memory_stats(ctx, &m), "memory statistics");
  printf("out_of_core: %.0f MB in, anomalies written to %s; peak %.1f MiB under a %.0f MiB "
         "limit: %s\n",
         tsr_array_nbytes(x) / 1e6, out, m.peak_bytes / 1048576.0, limit / 1048576.0,
         m.peak_bytes <= limit ? "within" : "EXCEEDED");
  tsr_array_destroy(&anomaly);
  tsr_array_destroy(&mean);
  tsr_array_destroy(&x);
  tsr_ctx_destroy(&ctx);
  return 0;
}
