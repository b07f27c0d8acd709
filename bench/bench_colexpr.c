/* bench_colexpr.c — column expressions on a G1-like frame: the issue's
 * filter_assign workload (rows with v3 > 50, plus w = v1 * v3 + v2,
 * materialized) against the STREAM triad measured in the same run.
 *
 *   bench_colexpr [--rows N] [--threads T] [--chunk-rows R] [--reps K]
 *
 * The frame is made from C buffers (tsr_frame_from_columns, BORROW) with
 * G1's columns and distributions: id1, id2 dictionaries of 100 strings,
 * id3 a string column ("id%010d", 1e5 distinct), id4..id6, v1, v2 int64,
 * v3 float64 in [0, 100), then persisted (computed into memory once: the
 * loaded frame).  Each rep times filter + assign computed into memory, and
 * assign alone (only w materialized).  Bytes = columns read (every column
 * of the frame) + columns written (every column of the kept rows, and w);
 * assign alone: v1, v3, v2 read and w written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/query.h>
#include <tessera/tessera.h>

#include "bench_common.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

typedef struct kstats {
  double assign, filter, source, total_kernel;
} kstats;

static void on_stats(const tsr_run_stats *s, void *user) {
  kstats *k = user;
  memset(k, 0, sizeof *k);
  for (uint32_t i = 0; i < s->n_kernels; i++) {
    const tsr_kernel_stats *ks = &s->kernels[i];
    k->total_kernel += ks->seconds;
    if (strcmp(ks->name, "frame_assign") == 0)
      k->assign += ks->seconds;
    else if (strstr(ks->name, "filter") != NULL)
      k->filter += ks->seconds;
    else if (strcmp(ks->name, "frame_buffers") == 0)
      k->source += ks->seconds;
  }
}

int main(int argc, char **argv) {
  long rows = 10000000, threads = 2, chunk_rows = 1 << 17, reps = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--rows"))
      rows = bench_parse_long(argv[i], argv[i + 1], 1, 1L << 34);
    else if (!strcmp(argv[i], "--threads"))
      threads = bench_parse_long(argv[i], argv[i + 1], 1, 256);
    else if (!strcmp(argv[i], "--chunk-rows"))
      chunk_rows = bench_parse_long(argv[i], argv[i + 1], 1, 1L << 30);
    else if (!strcmp(argv[i], "--reps"))
      reps = bench_parse_long(argv[i], argv[i + 1], 1, 100);
    else {
      fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  size_t n = (size_t)rows;
  int32_t *id1 = malloc(n * 4), *id2 = malloc(n * 4);
  int64_t *ints[5], *id3off = malloc((n + 1) * 8);
  char *id3 = malloc(n * 12 + 1);
  double *v3 = malloc(n * 8);
  for (int k = 0; k < 5; k++)
    ints[k] = malloc(n * 8);
  char dict_data[100 * 5 + 1];
  int64_t dict_off[101];
  for (int k = 0; k < 100; k++) {
    dict_off[k] = 5 * k;
    snprintf(dict_data + 5 * k, 6, "id%03d", k + 1);
  }
  dict_off[100] = 500;
  for (size_t i = 0; i < n; i++) {
    id1[i] = (int32_t)(next() % 100);
    id2[i] = (int32_t)(next() % 100);
    char tmp[16];
    snprintf(tmp, sizeof tmp, "id%010d", (int)(next() % 100000) + 1);
    memcpy(id3 + 12 * i, tmp, 12);
    id3off[i] = (int64_t)(12 * i);
    ints[0][i] = (int64_t)(next() % 100) + 1;    /* id4 */
    ints[1][i] = (int64_t)(next() % 100) + 1;    /* id5 */
    ints[2][i] = (int64_t)(next() % 100000) + 1; /* id6 */
    ints[3][i] = (int64_t)(next() % 5) + 1;      /* v1 */
    ints[4][i] = (int64_t)(next() % 15) + 1;     /* v2 */
    v3[i] = (double)(next() % 100000000) / 1e6;  /* v3, 6 decimals */
  }
  id3off[n] = (int64_t)(12 * n);
  tsr_column_data c[9];
  memset(c, 0, sizeof c);
  c[0] = (tsr_column_data){.name = "id1", .type = {TSR_COL_DICT, 0}, .length = rows,
                           .values = id1, .dict_size = 100, .dict_offsets = dict_off,
                           .dict_data = dict_data};
  c[1] = c[0];
  c[1].name = "id2";
  c[1].values = id2;
  c[2] = (tsr_column_data){.name = "id3", .type = {TSR_COL_STRING, 0}, .length = rows,
                           .offsets = id3off, .data = id3};
  const char *names[5] = {"id4", "id5", "id6", "v1", "v2"};
  for (int k = 0; k < 5; k++)
    c[3 + k] = (tsr_column_data){.name = names[k], .type = {TSR_COL_INT64, 0}, .length = rows,
                                 .values = ints[k]};
  c[8] = (tsr_column_data){.name = "v3", .type = {TSR_COL_FLOAT64, 0}, .length = rows,
                           .values = v3};
  tsr_ctx *ctx;
  CHECK(tsr_ctx_create(&ctx));
  CHECK(tsr_ctx_set_threads(ctx, (int)threads));
  double stream = bench_stream_triad(20u << 20, (int)threads, 10);
  printf("# STREAM triad (%ld threads, best of 10): %.2f GB/s\n", threads, stream / 1e9);
  printf("# rows %ld, chunk rows %ld, threads %ld, reps %ld (medians)\n", rows, chunk_rows,
         threads, reps);
  double *t_all = malloc(sizeof(double) * (size_t)reps),
         *t_asg = malloc(sizeof(double) * (size_t)reps);
  kstats ks = {0, 0, 0, 0}, ks_asg = {0, 0, 0, 0};
  int64_t kept = 0;
  /* The loaded frame: computed once and held in memory (tsr_frame_persist). */
  tsr_frame *src, *f;
  CHECK(tsr_frame_from_columns(ctx, 9, c, chunk_rows, TSR_BUFFER_BORROW, NULL, NULL, &src));
  double t0 = bench_now();
  CHECK(tsr_frame_persist(src, NULL, &f));
  double t_load = bench_now() - t0;
  tsr_frame_destroy(&src);
  for (long r = -1; r < reps; r++) { /* rep -1 warms the allocator up, untimed */
    tsr_frame *g, *h;
    tsr_compute_options o;
    memset(&o, 0, sizeof o);
    o.on_stats = on_stats;
    tsr_frame_result *res;
    CHECK(tsr_frame_filter(f, "v3 > 50", &g));
    CHECK(tsr_frame_assign(g, "w", "v1 * v3 + v2", &h));
    o.stats_user = &ks;
    t0 = bench_now();
    CHECK(tsr_frame_compute(h, &o, &res));
    if (r >= 0)
      t_all[r] = bench_now() - t0;
    kept = tsr_frame_result_nrows(res);
    tsr_frame_result_destroy(&res);
    tsr_frame_destroy(&h);
    tsr_frame_destroy(&g);
    CHECK(tsr_frame_assign(f, "w", "v1 * v3 + v2", &h));
    CHECK(tsr_frame_select(h, 1, (const char *[]){"w"}, &g));
    o.stats_user = &ks_asg;
    t0 = bench_now();
    CHECK(tsr_frame_compute(g, &o, &res));
    if (r >= 0)
      t_asg[r] = bench_now() - t0;
    tsr_frame_result_destroy(&res);
    tsr_frame_destroy(&g);
    tsr_frame_destroy(&h);
  }
  double all = bench_median(t_all, (int)reps), asg = bench_median(t_asg, (int)reps);
  /* bytes per input row: 2 dict codes (4), id3 views (16), 6 x 8 */
  double row_bytes = 4 + 4 + 16 + 6 * 8;
  double bytes = (double)rows * row_bytes + (double)kept * (row_bytes + 8);
  printf("# loading (persisting) the frame from buffers: %.3f s (untimed below)\n", t_load);
  printf("workload\trows\tkept\tbytes\ttessera_s\tGB_per_s\tstream_GB_per_s"
         "\tfraction_of_stream\n");
  printf("filter_assign\t%ld\t%lld\t%.0f\t%.4f\t%.2f\t%.2f\t%.3f\n", rows, (long long)kept,
         bytes, all, bytes / all / 1e9, stream / 1e9, bytes / all / stream);
  printf("assign_only\t%ld\t%ld\t%.0f\t%.4f\t%.2f\t%.2f\t%.3f\n", rows, rows,
         (double)rows * 32, asg, (double)rows * 32 / asg / 1e9, stream / 1e9,
         (double)rows * 32 / asg / stream);
  printf("# filter_assign kernel seconds summed over threads (last rep): filter %.4f, predicate "
         "+ assign %.4f, all %.4f\n",
         ks.filter, ks.assign, ks.total_kernel);
  printf("# assign_only: w = v1 * v3 + v2 over every row (v1, v3, v2 read, w written: 32 "
         "bytes/row); kernel seconds %.4f\n",
         ks_asg.assign);
  tsr_frame_destroy(&f);
  tsr_ctx_destroy(&ctx);
  for (int k = 0; k < 5; k++)
    free(ints[k]);
  free(id1);
  free(id2);
  free(id3);
  free(id3off);
  free(v3);
  free(t_all);
  free(t_asg);
  return 0;
}
