/* bench_common.c — see bench_common.h. */
#include "bench_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <omp.h>

double bench_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : (x > y ? 1 : 0);
}

double bench_median(double *v, int n) {
  if (n <= 0)
    return 0;
  qsort(v, (size_t)n, sizeof *v, compare_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double bench_stream_triad(size_t n, int threads, int reps) {
  double *a = aligned_alloc(64, n * sizeof(double));
  double *b = aligned_alloc(64, n * sizeof(double));
  double *c = aligned_alloc(64, n * sizeof(double));
  double best = 0;
  if (a != NULL && b != NULL && c != NULL) {
    /* First touch in parallel with the same static schedule as the triad. */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t i = 0; i < n; i++) {
      a[i] = 0;
      b[i] = 1.0;
      c[i] = 2.0;
    }
    const double s = 3.0;
    for (int r = 0; r < reps; r++) {
      double t0 = bench_now();
#pragma omp parallel for schedule(static) num_threads(threads)
      for (size_t i = 0; i < n; i++)
        a[i] = b[i] + s * c[i];
      double t = bench_now() - t0;
      double rate = 24.0 * (double)n / t;
      if (rate > best)
        best = rate;
    }
    /* Keep the result observable so the loop is not optimised away. */
    if (a[n / 2] != 7.0)
      fprintf(stderr, "# warning: STREAM triad check failed\n");
  }
  free(a);
  free(b);
  free(c);
  return best;
}

long bench_parse_long(const char *option, const char *value, long lo, long hi) {
  char *end;
  errno = 0;
  long v = value ? strtol(value, &end, 10) : 0;
  if (value == NULL || errno != 0 || end == value || *end != '\0' || v < lo || v > hi) {
    fprintf(stderr, "error: %s takes a whole number from %ld to %ld (got '%s')\n", option, lo, hi,
            value ? value : "");
    exit(2);
  }
  return v;
}

void (*bench_die_hook)(void);

void bench_die(const char *what, tsr_status s) {
  fprintf(stderr, "error: %s: %s: %s\n", what, tsr_status_name(s), tsr_last_error());
  if (bench_die_hook != NULL)
    bench_die_hook();
  exit(1);
}
