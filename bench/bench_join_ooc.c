/* bench_join_ooc.c — a join larger than memory, end to end (issue M2-4,
 * item 4; docs/frames.md, "Joins larger than memory"): two CSV files read,
 * joined on one key under a memory limit, the result written to a CSV
 * file; prints the wall time and the process's peak RSS (getrusage), and
 * with --empty only what an empty run (a context, nothing read) takes, so
 * that the join's peak can be held against the limit plus that.
 *
 *   bench_join_ooc [--memory-limit SIZE] [--kind inner|left|right|full|semi|anti]
 *                  [--on KEY] [--threads T] LEFT.csv RIGHT.csv OUT.csv
 *   bench_join_ooc --empty
 *
 * Without --memory-limit the join runs in memory (the time to compare). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <tessera/tessera.h>

#include "bench_common.h"

static double peak_rss_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

int main(int argc, char **argv) {
  const char *limit_text = NULL, *on = "id1", *paths[3] = {NULL, NULL, NULL};
  tsr_join_kind kind = TSR_JOIN_INNER;
  int threads = 0, np = 0;
  bool empty = false;
  static const char *const kinds[] = {"inner", "left", "right", "full", "semi", "anti"};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--empty") == 0)
      empty = true;
    else if (strcmp(a, "--memory-limit") == 0 && i + 1 < argc)
      limit_text = argv[++i];
    else if (strcmp(a, "--on") == 0 && i + 1 < argc)
      on = argv[++i];
    else if (strcmp(a, "--threads") == 0 && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (strcmp(a, "--kind") == 0 && i + 1 < argc) {
      const char *k = argv[++i];
      int found = -1;
      for (int q = 0; q < 6; q++)
        if (strcmp(k, kinds[q]) == 0)
          found = q;
      if (found < 0) {
        fprintf(stderr, "bench_join_ooc: unknown kind '%s'\n", k);
        return 2;
      }
      kind = (tsr_join_kind)(TSR_JOIN_INNER + found);
    } else if (a[0] != '-' && np < 3)
      paths[np++] = a;
    else {
      fprintf(stderr, "usage: bench_join_ooc [--memory-limit SIZE] [--kind K] [--on KEY] "
                      "[--threads T] LEFT.csv RIGHT.csv OUT.csv | --empty\n");
      return 2;
    }
  }
  tsr_ctx *ctx = NULL;
  CHECK(tsr_ctx_create(&ctx));
  if (threads > 0)
    CHECK(tsr_ctx_set_threads(ctx, threads));
  if (empty) {
    printf("empty\tpeak_rss_mib\t%.1f\n", peak_rss_mib());
    tsr_ctx_destroy(&ctx);
    return 0;
  }
  if (np != 3) {
    fprintf(stderr, "bench_join_ooc: give LEFT.csv RIGHT.csv OUT.csv (or --empty)\n");
    return 2;
  }
  uint64_t limit = 0;
  if (limit_text != NULL) {
    CHECK(tsr_parse_bytes(limit_text, &limit));
    CHECK(tsr_ctx_set_memory_limit(ctx, limit));
  }
  double t0 = bench_now();
  tsr_frame *l = NULL, *r = NULL, *j = NULL;
  CHECK(tsr_frame_read_csv(ctx, paths[0], NULL, &l));
  CHECK(tsr_frame_read_csv(ctx, paths[1], NULL, &r));
  tsr_join_options jo = {.suffix_left = "", .suffix_right = "_right"};
  const char *keys[1] = {on};
  CHECK(tsr_frame_join(l, r, kind, 1, keys, NULL, &jo, &j));
  double t1 = bench_now(), rss_join = peak_rss_mib();
  CHECK(tsr_frame_write_csv(j, paths[2], ',', true, NULL));
  double t2 = bench_now();
  int64_t rows = tsr_frame_nrows_known(j);
  tsr_memory_stats ms;
  CHECK(tsr_ctx_memory_stats(ctx, &ms));
  printf("join_ooc\tkind\t%s\ton\t%s\tlimit_mib\t%.1f\trows\t%lld\tjoin_s\t%.3f\twrite_s\t%.3f\t"
         "total_s\t%.3f\tpeak_tracked_mib\t%.1f\tpeak_rss_join_mib\t%.1f\tpeak_rss_mib\t%.1f\n",
         kinds[kind - TSR_JOIN_INNER], on, (double)limit / 1048576.0, (long long)rows, t1 - t0,
         t2 - t1, t2 - t0, (double)ms.peak_bytes / 1048576.0, rss_join, peak_rss_mib());
  tsr_frame_destroy(&j);
  tsr_frame_destroy(&l);
  tsr_frame_destroy(&r);
  tsr_ctx_destroy(&ctx);
  return 0;
}
