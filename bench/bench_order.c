/* bench_order.c — the array order functions on n random normal float64
 * held in memory (persisted before timing): sort (flattened: radix-sorted
 * runs per chunk, merged), three quantiles and the median (selection),
 * and a 100-bin histogram over a given range (per-chunk counts in a tree).
 * Usage: bench_order [N (1e8)] [REPEATS (3)] [THREADS (2)]; prints one row
 * of seconds per repeat.  The first repeat pays the page faults of fresh
 * buffers. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <tessera/tessera.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define OK(x)                                                      \
  do {                                                             \
    if ((x) != TSR_OK) {                                           \
      fprintf(stderr, "bench_order: %s: %s\n", #x, tsr_last_error()); \
      return 1;                                                    \
    }                                                              \
  } while (0)

int main(int argc, char **argv) {
  int64_t n = argc > 1 ? (int64_t)atof(argv[1]) : 100000000;
  int reps = argc > 2 ? atoi(argv[2]) : 3, threads = argc > 3 ? atoi(argv[3]) : 2;
  tsr_ctx *ctx = NULL;
  tsr_array *r = NULL, *x = NULL;
  OK(tsr_ctx_create(&ctx));
  OK(tsr_ctx_set_threads(ctx, threads));
  OK(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 1, 1, &n, NULL, &r));
  OK(tsr_array_persist(r, &x));
  double *out = malloc((size_t)n * sizeof *out);
  if (out == NULL)
    return 1;
  printf("n\tthreads\tsort_s\tquantile3_s\tmedian_s\thistogram100_s\n");
  for (int rep = 0; rep < reps; rep++) {
    tsr_array *s = NULL, *q = NULL, *m = NULL, *h = NULL;
    double qv[3], med;
    int64_t hv[100];
    double t0 = now();
    OK(tsr_sort(x, 0, true, &s));
    OK(tsr_array_to_buffer(s, out, (size_t)n * sizeof *out));
    double t1 = now();
    OK(tsr_quantile(x, (double[]){0.1, 0.5, 0.9}, 3, 0, true, &q));
    OK(tsr_array_to_buffer(q, qv, sizeof qv));
    double t2 = now();
    OK(tsr_median(x, 0, true, &m));
    OK(tsr_array_to_buffer(m, &med, sizeof med));
    double t3 = now();
    OK(tsr_histogram(x, 100, (double[]){-5, 5}, &h, NULL));
    OK(tsr_array_to_buffer(h, hv, sizeof hv));
    double t4 = now();
    for (int64_t i = 1; i < n; i++)
      if (out[i - 1] > out[i]) {
        fprintf(stderr, "bench_order: not sorted at %lld\n", (long long)i);
        return 1;
      }
    printf("%lld\t%d\t%.3f\t%.3f\t%.3f\t%.3f\n", (long long)n, threads, t1 - t0, t2 - t1, t3 - t2,
           t4 - t3);
    tsr_array_destroy(&s);
    tsr_array_destroy(&q);
    tsr_array_destroy(&m);
    tsr_array_destroy(&h);
  }
  free(out);
  tsr_array_destroy(&x);
  tsr_array_destroy(&r);
  tsr_ctx_destroy(&ctx);
  return 0;
}
