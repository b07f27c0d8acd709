/* bench_sort.c — frame sorts on the G1 data of db-benchmark: sort by v3
 * (float64), by id3 (string), by (id1, id4) (dictionary, int32), top-100
 * by v3 and a rank over id1 by v3.  The input is loaded into memory before
 * timing (tsr_frame_persist); every timed call computes its whole result.
 * Prints one TSV row per workload: name, rows, threads, median wall and
 * CPU (user + system) seconds of `reps` runs.
 *
 *   bench_sort G1_1e7_1e2_0_0.csv [threads [reps [workload]]] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <tessera/tessera.h>

#include "bench_common.h"

#define CHECK(expr)                                                                  \
  do {                                                                               \
    tsr_status st_ = (expr);                                                         \
    if (st_ != TSR_OK) {                                                             \
      fprintf(stderr, "bench_sort: %s: %s\n", #expr, tsr_last_error());              \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

/* User + system CPU seconds of the process (the machine may be shared:
 * CPU time says more than wall time then). */
static double cpu_now(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)u.ru_utime.tv_sec + 1e-6 * (double)u.ru_utime.tv_usec +
         (double)u.ru_stime.tv_sec + 1e-6 * (double)u.ru_stime.tv_usec;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: bench_sort G1.csv [threads [reps]]\n");
    return 2;
  }
  int threads = argc > 2 ? (int)bench_parse_long("threads", argv[2], 1, 1024) : 2;
  int reps = argc > 3 ? (int)bench_parse_long("reps", argv[3], 1, 100) : 3;
  tsr_ctx *ctx;
  CHECK(tsr_ctx_create(&ctx));
  CHECK(tsr_ctx_set_threads(ctx, threads));
  tsr_frame *csv, *f;
  CHECK(tsr_frame_read_csv(ctx, argv[1], NULL, &csv));
  CHECK(tsr_frame_persist(csv, NULL, &f));
  tsr_frame_destroy(&csv);
  int64_t rows = tsr_frame_nrows_known(f);
  tsr_sort_key v3 = {"v3", false, false}, id3 = {"id3", false, false};
  tsr_sort_key id14[2] = {{"id1", false, false}, {"id4", false, false}};
  tsr_sort_key v3d = {"v3", true, false};
  const char *part[1] = {"id1"};
  printf("workload\trows\tthreads\tseconds\tcpu_seconds\n");
  for (int w = 0; w < 5; w++) {
    static const char *const names[5] = {"sort_v3", "sort_id3", "sort_id1_id4", "top100_v3_desc",
                                         "rank_id1_v3"};
    if (argc > 4 && strcmp(argv[4], names[w]) != 0)
      continue;
    double t[100], cpu[100];
    for (int r = 0; r < reps; r++) {
      tsr_frame *out = NULL;
      double t0 = bench_now(), c0 = cpu_now();
      switch (w) {
      case 0:
        CHECK(tsr_frame_sort(f, 1, &v3, &out));
        break;
      case 1:
        CHECK(tsr_frame_sort(f, 1, &id3, &out));
        break;
      case 2:
        CHECK(tsr_frame_sort(f, 2, id14, &out));
        break;
      case 3:
        CHECK(tsr_frame_top_k(f, 1, &v3d, 100, &out));
        break;
      default:
        CHECK(tsr_frame_rank(f, "r", TSR_RANK_ROW_NUMBER, 1, part, 1, &v3, &out));
        break;
      }
      t[r] = bench_now() - t0;
      cpu[r] = cpu_now() - c0;
      tsr_frame_destroy(&out);
    }
    printf("%s\t%lld\t%d\t%.3f\t%.3f\n", names[w], (long long)rows, threads, bench_median(t, reps),
           bench_median(cpu, reps));
    fflush(stdout);
  }
  tsr_frame_destroy(&f);
  tsr_ctx_destroy(&ctx);
  return 0;
}
