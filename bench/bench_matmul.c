/* bench_matmul.c — workload A4 (docs/benchmarks.md) without the final sum (the
 * reductions live on another branch): c = a @ b for n x n float64 matrices
 * in chunks of chunk x chunk, computed into a buffer, beside ONE cblas_dgemm
 * call on the whole matrices with OpenBLAS at the same thread count, in the
 * same process.  The target is tessera >= 90 % of that call's speed.
 *
 * Rows (medians over --reps):
 *   tessera           tsr_matmul of two arrays over the input buffers
 *                     (borrowed), computed into the output buffer: chunk
 *                     copies in, chunk dgemms, copies out;
 *   tessera-copy-only one input copied through tessera into a buffer with
 *                     no product (chunk copy in + copy out: about the fixed
 *                     cost the product adds per n x n matrix);
 *   dgemm-whole       one cblas_dgemm, openblas_set_num_threads(threads);
 *   dgemm-chunks-1t   the chunk products alone (one 1-thread dgemm of one
 *                     chunk product, times (n/chunk)^3, divided by threads):
 *                     what perfect scheduling of the chunk tasks would take.
 * vs_dgemm is dgemm-whole's time / the row's time (>= 0.9 is the target).
 * The runs alternate and sleep 0.3 s between them, so OpenBLAS's and
 * OpenMP's idle threads (which spin for a while after a parallel call) do
 * not steal a core from the next measurement. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include <tessera/tessera.h>

#include "bench_common.h"

static void die(const char *what) {
  fprintf(stderr, "error: %s: %s\n", what, tsr_last_error());
  exit(1);
}

static void pause_briefly(void) {
  struct timespec ts = {0, 300 * 1000 * 1000};
  nanosleep(&ts, NULL);
}

static double *alloc_matrix(long n, const char *what) {
  double *p = aligned_alloc(64, (size_t)n * (size_t)n * sizeof(double));
  if (p == NULL) {
    fprintf(stderr, "error: out of memory for %s\n", what);
    exit(1);
  }
  return p;
}

int main(int argc, char **argv) {
  long n = 4000, chunk = 1000, reps = 5, threads = 2;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--n") == 0 && i + 1 < argc)
      n = bench_parse_long("--n", argv[++i], 1, 100000);
    else if (strcmp(argv[i], "--chunk") == 0 && i + 1 < argc)
      chunk = bench_parse_long("--chunk", argv[++i], 1, 100000);
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = bench_parse_long("--reps", argv[++i], 1, 1000);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = bench_parse_long("--threads", argv[++i], 1, TSR_MAX_THREADS);
    else {
      fprintf(stderr, "usage: bench_matmul [--n N] [--chunk C] [--reps R] [--threads T]\n");
      return 2;
    }
  }
  double *a = alloc_matrix(n, "a"), *b = alloc_matrix(n, "b");
  double *c = alloc_matrix(n, "c"), *ref = alloc_matrix(n, "ref");
  tsr_random_fill_uniform(1, 0, (size_t)(n * n), a);
  tsr_random_fill_uniform(2, 0, (size_t)(n * n), b);
  memset(c, 0, (size_t)(n * n) * sizeof(double));
  memset(ref, 0, (size_t)(n * n) * sizeof(double));

  tsr_ctx *ctx;
  if (tsr_ctx_create(&ctx) != TSR_OK || tsr_ctx_set_threads(ctx, (int)threads) != TSR_OK)
    die("context");
  int64_t shape[2] = {n, n}, chunks[2] = {chunk, chunk};
  tsr_array *ta, *tb, *tc;
  if (tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, chunks, a, TSR_BUFFER_BORROW, NULL, NULL,
                            &ta) != TSR_OK ||
      tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, chunks, b, TSR_BUFFER_BORROW, NULL, NULL,
                            &tb) != TSR_OK)
    die("inputs");
  if (tsr_matmul(ta, tb, &tc) != TSR_OK)
    die("tsr_matmul");
  size_t bytes = (size_t)(n * n) * sizeof(double);

  /* One chunk product on one thread, for the ideal-scheduling row. */
  long cs = chunk < n ? chunk : n;
  double *ca = alloc_matrix(cs, "chunk"), *cb = alloc_matrix(cs, "chunk"),
         *cc = alloc_matrix(cs, "chunk");
  tsr_random_fill_uniform(3, 0, (size_t)(cs * cs), ca);
  tsr_random_fill_uniform(4, 0, (size_t)(cs * cs), cb);

  int saved = openblas_get_num_threads();
  printf("# bench_matmul (A4 without the sum): %ld x %ld float64, chunks %ld x %ld, %ld threads, "
         "medians of %ld runs\n",
         n, n, chunk, chunk, threads, reps);
  printf("# OpenBLAS: %s; core %s (OPENBLAS_CORETYPE=%s)\n", openblas_get_config(),
         openblas_get_corename(), getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "");

  if (strcmp(openblas_get_corename(), "Prescott") == 0 && __builtin_cpu_supports("avx2"))
    printf("# note: OpenBLAS fell back to its SSE3 Prescott kernels on an AVX2%s CPU it does not "
           "recognise; OPENBLAS_CORETYPE=%s (or Haswell) selects the fast kernels\n",
           __builtin_cpu_supports("avx512f") ? "/AVX-512" : "",
           __builtin_cpu_supports("avx512f") ? "SkylakeX" : "Haswell");
  double *t_tsr = calloc((size_t)reps, sizeof(double)),
         *t_blas = calloc((size_t)reps, sizeof(double));
  double *t_copy = calloc((size_t)reps, sizeof(double)),
         *t_chunk = calloc((size_t)reps, sizeof(double));
  if (t_tsr == NULL || t_blas == NULL || t_copy == NULL || t_chunk == NULL)
    die("timings");
  for (long r = 0; r < reps; r++) {
    pause_briefly();
    double t0 = bench_now();
    if (tsr_array_to_buffer(tc, c, bytes) != TSR_OK)
      die("computing a @ b");
    t_tsr[r] = bench_now() - t0;

    pause_briefly();
    openblas_set_num_threads((int)threads);
    t0 = bench_now();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0, a, (int)n,
                b, (int)n, 0.0, ref, (int)n);
    t_blas[r] = bench_now() - t0;
    openblas_set_num_threads(saved);

    pause_briefly();
    t0 = bench_now();
    if (tsr_array_to_buffer(ta, c, bytes) != TSR_OK)
      die("copying");
    t_copy[r] = bench_now() - t0;

    openblas_set_num_threads(1);
    t0 = bench_now();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)cs, (int)cs, (int)cs, 1.0, ca,
                (int)cs, cb, (int)cs, 0.0, cc, (int)cs);
    double per = bench_now() - t0;
    openblas_set_num_threads(saved);
    double nch = ceil((double)n / (double)cs);
    t_chunk[r] = per * nch * nch * nch / (double)threads;
  }
  /* The last tessera product against the last dgemm. */
  if (tsr_array_to_buffer(tc, c, bytes) != TSR_OK)
    die("computing a @ b");
  double max_err = 0;
  for (long i = 0; i < n * n; i++) {
    double e = fabs(c[i] - ref[i]) / (fabs(ref[i]) + 1e-300);
    if (e > max_err)
      max_err = e;
  }
  /* Per-repetition ratios of neighbouring runs resist the machine's slow
   * drifts better than the ratio of medians. */
  double *ratio = calloc((size_t)reps, sizeof(double));
  if (ratio == NULL)
    die("timings");
  for (long r = 0; r < reps; r++)
    ratio[r] = t_blas[r] / t_tsr[r];
  double pair_ratio = bench_median(ratio, (int)reps);
  free(ratio);
  double blas = bench_median(t_blas, (int)reps), tsr = bench_median(t_tsr, (int)reps);
  double copy = bench_median(t_copy, (int)reps), ideal = bench_median(t_chunk, (int)reps);
  double flops = 2.0 * (double)n * (double)n * (double)n;
  printf("# max relative difference tessera vs dgemm: %.2e\n", max_err);
  printf("# median over repetitions of dgemm-whole / tessera (neighbouring runs): %.3f\n",
         pair_ratio);
  printf("workload\timpl\tthreads\tseconds\tgflops\tvs_dgemm\n");
  printf("matmul\ttessera\t%ld\t%.4f\t%.1f\t%.3f\n", threads, tsr, flops / tsr / 1e9, blas / tsr);
  printf("matmul\ttessera-copy-only\t%ld\t%.4f\t-\t-\n", threads, copy);
  printf("matmul\tdgemm-whole\t%ld\t%.4f\t%.1f\t1.000\n", threads, blas, flops / blas / 1e9);
  printf("matmul\tdgemm-chunks-1t\t%ld\t%.4f\t%.1f\t%.3f\n", threads, ideal, flops / ideal / 1e9,
         blas / ideal);

  tsr_array_destroy(&ta);
  tsr_array_destroy(&tb);
  tsr_array_destroy(&tc);
  tsr_ctx_destroy(&ctx);
  free(a);
  free(b);
  free(c);
  free(ref);
  free(ca);
  free(cb);
  free(cc);
  free(t_tsr);
  free(t_blas);
  free(t_copy);
  free(t_chunk);
  return 0;
}
