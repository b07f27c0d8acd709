/* bench_order.c — the ordering kernels alone (core/order.h) and the
 * group-by's holistic part alone (frame/group_holistic.h) on db-benchmark's
 * shapes, without CSV parsing or key hashing:
 *   q6_median  median and sd's holistic half: median of 1e7 doubles
 *              (uniform [0, 100], 6 decimals) over 1e4 groups;
 *   q8_top2    the 2 largest of 1e7 doubles over 1e5 groups;
 *   radix      the stable (key, uint32 id) radix sort of 1e7 keys, full
 *              64-bit and 32-bit-range.
 * Rows are split into chunks of 1 Mi rows as the frames are; the scatter
 * and the pieces run as OpenMP loops over the context's threads (what the
 * group-by's tasks do).  Prints "name threads median_s min_s" rows, the
 * median and minimum of `reps` runs.
 * Usage: bench_order [rows (1e7)] [threads (2)] [reps (5)] [q6|q8|radix|all] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tessera/tessera.h>

#include "core/order.h"
#include "frame/group_holistic.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static uint64_t rnd(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void report(const char *name, int threads, double *t, int reps) {
  qsort(t, (size_t)reps, sizeof *t, cmp_d);
  printf("%-12s %d %.4f %.4f\n", name, threads, t[reps / 2], t[0]);
  fflush(stdout);
}

/* One holistic run over the chunks with `threads` OpenMP threads. */
static tsr_status run(tsr_ctx *ctx, const tsr__hol_spec *sp, int64_t nchunks,
                      const tsr__hol_chunk *ch, int64_t ngroups, int threads, double *secs,
                      double *check) {
  double t0 = now();
  tsr__hol *h = NULL;
  tsr_status st = tsr__hol_create(ctx, sp, nchunks, ngroups, &h);
  if (st != TSR_OK)
    return st;
  int64_t np = tsr__hol_npieces(h);
  tsr_status first = TSR_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t c = 0; c < nchunks; c++) {
    tsr_status s = tsr__hol_scatter(h, c, &ch[c]);
    if (s != TSR_OK) {
#pragma omp critical
      first = first ? first : s;
    }
  }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (int64_t p = 0; p < np; p++) {
    tsr_status s = first == TSR_OK ? tsr__hol_piece(h, p) : TSR_OK;
    if (s != TSR_OK) {
#pragma omp critical
      first = first ? first : s;
    }
  }
  tsr__hol_result r;
  if (first == TSR_OK)
    first = tsr__hol_finish(h, &r);
  *secs = now() - t0;
  if (first == TSR_OK) {
    double sum = 0;
    if (sp->kind == TSR__HOL_QUANTILE)
      for (int64_t g = 0; g < ngroups; g++)
        sum += ((double *)r.quantiles[0])[g];
    else
      for (int64_t i = 0; i < r.offsets[ngroups]; i++)
        sum += ((double *)r.values)[i];
    *check = sum;
  }
  tsr__hol_destroy(&h);
  return first;
}

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? (int64_t)atof(argv[1]) : 10000000;
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  int reps = argc > 3 ? atoi(argv[3]) : 5;
  if (reps < 1 || reps > 99)
    reps = 5;
  const char *which = argc > 4 ? argv[4] : "all";
  bool all = strcmp(which, "all") == 0;
  tsr_ctx *ctx = NULL;
  if (tsr_ctx_create(&ctx) != TSR_OK)
    return 1;
  const int64_t chunk = 1 << 20;
  int64_t nchunks = (n + chunk - 1) / chunk;
  double *v = malloc((size_t)n * sizeof *v);
  uint32_t *g6 = malloc((size_t)n * sizeof *g6), *g8 = malloc((size_t)n * sizeof *g8);
  uint64_t s = 42;
  for (int64_t i = 0; i < n; i++) {
    v[i] = round((double)(rnd(&s) >> 11) / 9007199254740992.0 * 100 * 1e6) / 1e6;
    g6[i] = (uint32_t)(rnd(&s) % 10000);
    g8[i] = (uint32_t)(rnd(&s) % 100000);
  }
  tsr__hol_chunk *c6 = calloc((size_t)nchunks, sizeof *c6), *c8 = calloc((size_t)nchunks, sizeof *c8);
  for (int64_t c = 0; c < nchunks; c++) {
    int64_t a = c * chunk, rows = n - a < chunk ? n - a : chunk;
    c6[c] = (tsr__hol_chunk){rows, g6 + a, {rows, 0, v + a, NULL, NULL}};
    c8[c] = (tsr__hol_chunk){rows, g8 + a, {rows, 0, v + a, NULL, NULL}};
  }
  double t[99], check = 0;
  double q = 0.5;
  tsr__hol_spec med = {TSR__HOL_QUANTILE, {TSR_COL_FLOAT64, 0}, 1, &q, 0};
  tsr__hol_spec top = {TSR__HOL_LARGEST, {TSR_COL_FLOAT64, 0}, 0, NULL, 2};
  for (int r = 0; r < reps && (all || !strcmp(which, "q6")); r++)
    if (run(ctx, &med, nchunks, c6, 10000, threads, &t[r], &check) != TSR_OK)
      return fprintf(stderr, "%s\n", tsr_last_error()), 1;
  if (all || !strcmp(which, "q6")) {
    report("q6_median", threads, t, reps);
    fprintf(stderr, "q6 check %.6f\n", check);
  }
  for (int r = 0; r < reps && (all || !strcmp(which, "q8")); r++)
    if (run(ctx, &top, nchunks, c8, 100000, threads, &t[r], &check) != TSR_OK)
      return fprintf(stderr, "%s\n", tsr_last_error()), 1;
  if (all || !strcmp(which, "q8")) {
    report("q8_top2", threads, t, reps);
    fprintf(stderr, "q8 check %.6f\n", check);
  }
  /* radix sorts (one thread) */
  uint64_t *k = malloc((size_t)n * 8), *k0 = malloc((size_t)n * 8);
  uint32_t *id = malloc((size_t)n * 4);
  void *scratch = malloc((size_t)n * 12);
  for (int shape = 0; shape < 2 && (all || !strcmp(which, "radix")); shape++) {
    for (int64_t i = 0; i < n; i++)
      k0[i] = shape == 0 ? rnd(&s) : rnd(&s) & 0xffffffffu;
    for (int r = 0; r < reps; r++) {
      memcpy(k, k0, (size_t)n * 8);
      for (int64_t i = 0; i < n; i++)
        id[i] = (uint32_t)i;
      double t0 = now();
      tsr__order_sort_u64_u32_scratch(k, id, n, scratch);
      t[r] = now() - t0;
    }
    report(shape == 0 ? "radix_u64" : "radix_u32", 1, t, reps);
  }
  free(k);
  free(k0);
  free(id);
  free(scratch);
  free(c6);
  free(c8);
  free(v);
  free(g6);
  free(g8);
  tsr_ctx_destroy(&ctx);
  return 0;
}
