/* bench_hdf5.c — does compressed HDF5 reading scale with threads?  Writes a
 * float64 dataset (default 10000 x 5000 = 400 MB, chunks 1000 x 5000,
 * deflate level 1 after shuffle; values quantized to 1/256 so they compress
 * like real measurements) with tsr_store_hdf5, then times sum(x) read from
 * it on 1 and 2 threads (tsr_ctx_set_threads): with the array chunked as
 * the file (one direct chunk read + inflate per task) and with the default
 * chunks (whole multiples of the file chunks).  The same data uncompressed
 * (hyperslab reads, serialized under the HDF5 lock) is timed beside it.
 * The file is in the page cache after writing, so this measures
 * decompression and HDF5 overhead, not the disk.
 *
 *   bench_hdf5 [--rows N] [--cols N] [--chunk-rows N] [--level L] [--reps R] [--path FILE]
 *
 * Prints tab-separated rows: dataset, chunking, threads, seconds (median),
 * GB/s of uncompressed data, speedup over 1 thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tessera/tessera.h>

#include "bench_common.h"

static double time_sum(tsr_ctx *ctx, const char *path, const char *name, const int64_t *chunks,
                       int reps, double *value) {
  double t[16];
  for (int r = 0; r < reps; r++) {
    double t0 = bench_now();
    tsr_array *x = NULL, *s = NULL;
    CHECK(tsr_array_from_hdf5(ctx, path, name, chunks, &x));
    CHECK(tsr_sum(x, NULL, 0, false, &s));
    CHECK(tsr_array_to_buffer(s, value, sizeof *value));
    tsr_array_destroy(&x);
    tsr_array_destroy(&s);
    t[r] = bench_now() - t0;
  }
  return bench_median(t, reps);
}

int main(int argc, char **argv) {
  long rows = 10000, cols = 5000, chunk_rows = 1000, level = 1, reps = 3;
  char default_path[512];
  const char *tmp = getenv("TMPDIR");
  snprintf(default_path, sizeof default_path, "%s/tessera-bench-hdf5.h5",
           tmp && tmp[0] ? tmp : "/tmp");
  const char *path = default_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--rows") == 0)
      rows = bench_parse_long(argv[i], argv[i + 1], 1, 1L << 40);
    else if (strcmp(argv[i], "--cols") == 0)
      cols = bench_parse_long(argv[i], argv[i + 1], 1, 1L << 40);
    else if (strcmp(argv[i], "--chunk-rows") == 0)
      chunk_rows = bench_parse_long(argv[i], argv[i + 1], 1, 1L << 40);
    else if (strcmp(argv[i], "--level") == 0)
      level = bench_parse_long(argv[i], argv[i + 1], 1, 9);
    else if (strcmp(argv[i], "--reps") == 0)
      reps = bench_parse_long(argv[i], argv[i + 1], 1, 16);
    else if (strcmp(argv[i], "--path") == 0)
      path = argv[i + 1];
    else {
      fprintf(stderr, "bench_hdf5: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  tsr_ctx *ctx = NULL;
  CHECK(tsr_ctx_create(&ctx));
  int64_t shape[2] = {rows, cols}, chunks[2] = {chunk_rows, cols};
  double gb = (double)rows * (double)cols * 8 / 1e9;

  /* The data: uniform values quantized to 1/256, written compressed and
   * uncompressed in one compute. */
  tsr_array *r = NULL, *r256 = NULL, *fl = NULL, *x = NULL;
  CHECK(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 42, 2, shape, chunks, &r));
  CHECK(tsr_binary_scalar(TSR_OP_MUL, r, 256.0, &r256));
  CHECK(tsr_unary(TSR_OP_FLOOR, r256, &fl));
  CHECK(tsr_binary_scalar(TSR_OP_DIV, fl, 256.0, &x));
  double t0 = bench_now();
  tsr_hdf5_store_options o = {
      .deflate_level = (int)level, .shuffle = true, .mode = TSR_HDF5_REPLACE};
  const char *name = "/x";
  CHECK(tsr_store_hdf5(ctx, 1, &x, path, &name, &o));
  double t_write = bench_now() - t0;
  tsr_hdf5_store_options raw = {.mode = TSR_HDF5_APPEND};
  const char *raw_name = "/raw";
  CHECK(tsr_store_hdf5(ctx, 1, &x, path, &raw_name, &raw));
  tsr_array_destroy(&r);
  tsr_array_destroy(&r256);
  tsr_array_destroy(&fl);
  tsr_array_destroy(&x);
  FILE *fp = fopen(path, "rb");
  long file_bytes = 0;
  if (fp != NULL) {
    fseek(fp, 0, SEEK_END);
    file_bytes = ftell(fp);
    fclose(fp);
  }
  printf("# bench_hdf5: %ld x %ld float64 (%.0f MB), chunks %ld x %ld, deflate %ld + shuffle; "
         "file %s (%.0f MB, compressed + raw)\n",
         rows, cols, gb * 1e3, chunk_rows, cols, level, path, file_bytes / 1e6);
  printf("# write (compressed, %d threads): %.3f s, %.2f GB/s\n", tsr_ctx_threads(ctx), t_write,
         gb / t_write);
  printf("dataset\tchunking\tthreads\tseconds\tGB/s\tspeedup\n");
  struct {
    const char *name, *label;
    const int64_t *chunks;
  } runs[] = {{"/x", "file", chunks}, {"/x", "default", NULL}, {"/raw", "file", chunks}};
  double check = 0;
  for (int k = 0; k < 3; k++) {
    double base = 0;
    for (int threads = 1; threads <= 2; threads++) {
      CHECK(tsr_ctx_set_threads(ctx, threads));
      double v = 0;
      double t = time_sum(ctx, path, runs[k].name, runs[k].chunks, (int)reps, &v);
      if (threads == 1)
        base = t;
      if (threads == 1)
        check = v; /* the sum's tree depends on the chunking, not on threads */
      else if (v != check)
        fprintf(stderr, "bench_hdf5: sums differ: %.17g vs %.17g\n", v, check);
      printf("%s\t%s\t%d\t%.3f\t%.2f\t%.2f\n", runs[k].name, runs[k].label, threads, t, gb / t,
             base / t);
    }
  }
  unlink(path);
  tsr_ctx_destroy(&ctx);
  return 0;
}
