/* bench_common.h — what every benchmark program shares: a clock, medians,
 * the STREAM triad (the memory-bandwidth limit, measured in the same run as
 * the workloads), argument parsing helpers, and CHECK (a failed call ends
 * the program with its error).  Benchmarks print
 * tab-separated rows with a header line, so they are machine-readable and
 * still legible; comment lines start with '#'. */
#ifndef TSR_BENCH_COMMON_H
#define TSR_BENCH_COMMON_H

#include <stddef.h>

#include <tessera/tessera.h>

/* Monotonic seconds. */
double bench_now(void);
/* Median of n values (sorts v in place). */
double bench_median(double *v, int n);
/* STREAM triad a[i] = b[i] + s*c[i] over n doubles per array with `threads`
 * OpenMP threads; best of `reps` runs; returns bytes/second counting 24
 * bytes per element (STREAM's convention).  0 if the arrays cannot be
 * allocated. */
double bench_stream_triad(size_t n, int threads, int reps);
/* Parses "--name VALUE" style integers with a clear error and exit(2) on
 * bad input. */
long bench_parse_long(const char *option, const char *value, long lo, long hi);

/* Prints "error: WHAT: STATUS: tsr_last_error()" and exits with status 1
 * (after calling bench_die_hook when it is set: the MPI benchmarks abort MPI
 * there, so that the other ranks do not wait forever). */
void bench_die(const char *what, tsr_status s);
extern void (*bench_die_hook)(void);
#define CHECK(expr)         \
  do {                      \
    tsr_status s_ = (expr); \
    if (s_ != TSR_OK)       \
      bench_die(#expr, s_); \
  } while (0)

#endif /* TSR_BENCH_COMMON_H */
