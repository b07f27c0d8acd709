/* test_dist_frame_ops.c — frame operations under MPI (run by ctest under
 * mpiexec with 1, 2 and 4 ranks, 1 or 2 threads per rank).
 *
 * Every rank builds the same random frame (every column type, nulls, 64+
 * ragged chunks) on the distributed context and on a context that computes
 * alone (the reference, serial executor).  Column reductions must be
 * bitwise identical to the reference on every rank; a frame computed
 * through slice, concat, cast and fill_null must read back identical to
 * the reference; print writes on rank 0 only, the reference's text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include <tessera/mpi.h>
#include <tessera/query.h>

#include "dist/dist_harness.h"
#include "frame/frame_util.h"
#include "frame/groupby_impl.h" /* tsr__groupby_set_gather_max */

static void build(tsr_ctx *ctx, const ref_frame *ref, tsr_frame **out) {
  tsr_frame *f = NULL, *a = NULL, *b = NULL, *c = NULL, *d = NULL;
  assert_ok(ref_frame_to_frame(ctx, ref, 64, 77, &f));
  assert_true(tsr_frame_nchunks(f) >= 64);
  assert_ok(tsr_frame_slice(f, 100, -50, &a));
  tsr_frame *parts[2] = {a, f};
  assert_ok(tsr_frame_concat(2, parts, &b));
  assert_ok(tsr_frame_cast(b, "c10", (tsr_type){TSR_COL_STRING, 0}, &c));
  assert_ok(tsr_frame_fill_null(c, "c12", "zzz-new", &d));
  tsr_frame_destroy(&c);
  assert_ok(tsr_frame_cast(d, "c11", (tsr_type){TSR_COL_DICT, 0}, out));
  tsr_frame_destroy(&d);
  tsr_frame_destroy(&b);
  tsr_frame_destroy(&a);
  tsr_frame_destroy(&f);
}

static void same_on_every_rank(const void *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ ((const unsigned char *)p)[i]) * 0x100000001b3ull;
  uint64_t both[2] = {h, ~h}, out[2];
  MPI_Allreduce(both, out, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  assert_true(out[0] == h && out[1] == ~h);
}

static void test_dist_frame_ops__match_one_rank(void **state) {
  (void)state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 2000, 10, 123);
  tsr_frame *fd = NULL, *fl = NULL;
  build(dist_ctx, &ref, &fd);
  build(local_ctx, &ref, &fl);
  /* Reductions: bitwise. */
  const int reduced[5] = {TSR_COL_INT8, TSR_COL_INT64, TSR_COL_UINT64, TSR_COL_FLOAT32,
                          TSR_COL_DATE};
  for (int k = 0; k < 5; k++) {
    char name[8];
    snprintf(name, sizeof name, "c%d", reduced[k]);
    for (int op = TSR_COL_COUNT; op <= TSR_COL_STD; op++) {
      double a = 0, b = 0;
      bool na = false, nb = false;
      tsr_status sa = tsr_frame_reduce_f64(fd, name, (tsr_col_reduce)op, 1, &a, &na);
      tsr_status sb = tsr_frame_reduce_f64(fl, name, (tsr_col_reduce)op, 1, &b, &nb);
      assert_int_equal(sa, sb);
      if (sa != TSR_OK)
        continue;
      assert_memory_equal(&a, &b, sizeof a);
      assert_int_equal(na, nb);
      same_on_every_rank(&a, sizeof a);
    }
  }
  /* The computed frame. */
  ref_frame gd, gl;
  ref_frame_compute(fd, &gd);
  ref_frame_compute(fl, &gl);
  ref_frame_assert_equal(&gl, &gd);
  int64_t nrows = gd.n;
  same_on_every_rank(&nrows, sizeof nrows);
  ref_frame_free(&gd);
  ref_frame_free(&gl);
  /* print: rank 0 writes the reference's text, the others nothing. */
  char *bd = NULL, *bl = NULL;
  size_t ld = 0, ll = 0;
  FILE *md = open_memstream(&bd, &ld), *ml = open_memstream(&bl, &ll);
  assert_ok(tsr_frame_print(fd, 6, md));
  assert_ok(tsr_frame_print(fl, 6, ml));
  fclose(md);
  fclose(ml);
  if (rank == 0)
    assert_string_equal(bd, bl);
  else
    assert_int_equal(ld, 0);
  free(bd);
  free(bl);
  tsr_frame_destroy(&fd);
  tsr_frame_destroy(&fl);
  ref_frame_free(&ref);
}

/* The whole file at path (malloc'ed, *n bytes). */
static char *slurp(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  char block[65536];
  size_t got;
  while ((got = fread(block, 1, sizeof block, fp)) > 0)
    fwrite(block, 1, got, mem);
  fclose(fp);
  fclose(mem);
  *n = len;
  return buf;
}

/* Asserts that the files at a and b hold the same bytes (more than `least`). */
static void assert_same_file(const char *a, const char *b, size_t least) {
  size_t na, nb;
  char *ba = slurp(a, &na), *bb = slurp(b, &nb);
  assert_true(nb > least);
  assert_int_equal(na, nb);
  assert_memory_equal(ba, bb, nb);
  free(ba);
  free(bb);
}

static void keep_stats(const tsr_run_stats *stats, void *user) {
  memcpy(user, stats, sizeof *stats);
}

/* CSV written by every rank at once (.csv and .csv.gz): byte-identical to
 * the file one rank writes, atomic (an existing file is refused on every
 * rank alike and left as it was), and the text written where it is made. */
static void test_dist_frame_ops__write_csv(void **state) {
  (void)state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 3000, 10, 99);
  tsr_frame *fd = NULL, *fl = NULL;
  build(dist_ctx, &ref, &fd);
  build(local_ctx, &ref, &fl);
  char dir[256] = "";
  if (rank == 0)
    assert_non_null(mkdtemp(strcpy(dir, "/tmp/tsr_dist_csv_XXXXXX")));
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  const char *names[2] = {"out.csv", "out.csv.gz"};
  for (int k = 0; k < 2; k++) {
    char pd[320], pl[320];
    snprintf(pd, sizeof pd, "%s/dist_%s", dir, names[k]);
    snprintf(pl, sizeof pl, "%s/ref_%s_%d", dir, names[k], rank);
    if (k == 1) /* the local writer picks gzip from the suffix */
      snprintf(pl, sizeof pl, "%s/ref%d_%s", dir, rank, names[k]);
    assert_ok(tsr_frame_write_csv(fd, pd, ',', false, NULL));
    assert_ok(tsr_frame_write_csv(fl, pl, ',', false, NULL));
    assert_same_file(pd, pl, 1000);
    /* Again without overwrite: refused everywhere, the file untouched. */
    MPI_Barrier(MPI_COMM_WORLD);
    assert_int_equal(tsr_frame_write_csv(fd, pd, ',', false, NULL), TSR_EIO);
    assert_non_null(strstr(tsr_last_error(), "exists"));
    size_t nd, nl;
    free(slurp(pl, &nl));
    char *bd = slurp(pd, &nd);
    assert_int_equal(nd, nl);
    free(bd);
    MPI_Barrier(MPI_COMM_WORLD);
    unlink(pl);
    if (rank == 0)
      unlink(pd);
  }
  /* A frame made where its chunks are owned (a cast of a buffer every rank
   * holds): each rank formats and writes its own chunks, so only the write
   * chain's 8-byte offsets travel. */
  enum { N = 5000 };
  int64_t *k = malloc(N * sizeof *k);
  for (int i = 0; i < N; i++)
    k[i] = (int64_t)i * 7919 - 12345;
  tsr_column_data col = {.name = "k", .type = {TSR_COL_INT64, 0}, .length = N, .values = k};
  tsr_frame *fk[2] = {NULL, NULL}, *fc[2] = {NULL, NULL};
  tsr_ctx *ctxs[2] = {dist_ctx, local_ctx};
  for (int i = 0; i < 2; i++) {
    assert_ok(tsr_frame_from_columns(ctxs[i], 1, &col, 97, TSR_BUFFER_BORROW, NULL, NULL, &fk[i]));
    assert_ok(tsr_frame_cast(fk[i], "k", (tsr_type){TSR_COL_FLOAT64, 0}, &fc[i]));
  }
  char pd[320], pl[320];
  snprintf(pd, sizeof pd, "%s/owned.csv", dir);
  snprintf(pl, sizeof pl, "%s/ref_owned_%d.csv", dir, rank);
  tsr_run_stats rs;
  tsr_compute_options o = {.on_stats = keep_stats, .stats_user = &rs};
  assert_ok(tsr_frame_write_csv(fc[0], pd, ',', false, &o));
  if (rs.bytes_sent != 8 * rs.messages_sent)
    print_error("rank %d sent %llu bytes in %llu messages\n", rank,
                (unsigned long long)rs.bytes_sent, (unsigned long long)rs.messages_sent);
  assert_true(rs.bytes_sent == 8 * rs.messages_sent);
  assert_ok(tsr_frame_write_csv(fc[1], pl, ',', false, NULL));
  for (int i = 0; i < 2; i++) {
    tsr_frame_destroy(&fc[i]);
    tsr_frame_destroy(&fk[i]);
  }
  free(k);
  size_t nd, nl;
  char *bd = slurp(pd, &nd), *bl = slurp(pl, &nl);
  assert_int_equal(nd, nl);
  assert_memory_equal(bd, bl, nl);
  free(bd);
  free(bl);
  MPI_Barrier(MPI_COMM_WORLD);
  unlink(pl);
  if (rank == 0)
    unlink(pd);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    assert_int_equal(rmdir(dir), 0);
  tsr_frame_destroy(&fd);
  tsr_frame_destroy(&fl);
  ref_frame_free(&ref);
}

/* Sort, top-k and rank: the local context's result on every rank
 * (tests/dist/test_dist_sort.c and test_dist_window.c have the rest). */
static void test_dist_frame_ops__sort(void **state) {
  (void)state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 500, 10, 321);
  tsr_frame *fd = NULL, *fl = NULL, *sd = NULL, *sl = NULL;
  assert_ok(ref_frame_to_frame(dist_ctx, &ref, 64, 5, &fd));
  assert_ok(ref_frame_to_frame(local_ctx, &ref, 64, 5, &fl));
  tsr_sort_key keys[2] = {{"c11", true, false}, {"c3", false, true}};
  const char *part[1] = {"c12"};
  for (int op = 0; op < 3; op++) {
    tsr_status st = op == 0   ? tsr_frame_sort(fd, 2, keys, &sd)
                    : op == 1 ? tsr_frame_top_k(fd, 2, keys, 10, &sd)
                              : tsr_frame_rank(fd, "r", TSR_RANK_DENSE, 1, part, 2, keys, &sd);
    assert_ok(st);
    assert_ok(op == 0   ? tsr_frame_sort(fl, 2, keys, &sl)
              : op == 1 ? tsr_frame_top_k(fl, 2, keys, 10, &sl)
                        : tsr_frame_rank(fl, "r", TSR_RANK_DENSE, 1, part, 2, keys, &sl));
    ref_frame gd, gl;
    ref_frame_compute(sd, &gd);
    ref_frame_compute(sl, &gl);
    ref_frame_assert_equal(&gl, &gd);
    ref_frame_free(&gd);
    ref_frame_free(&gl);
    tsr_frame_destroy(&sd);
    tsr_frame_destroy(&sl);
  }
  tsr_frame_destroy(&fd);
  tsr_frame_destroy(&fl);
  ref_frame_free(&ref);
}

/* Group-by: on any rank count the same result as the serial context's,
 * every rank sending its partial states (tests/dist/test_dist_groupby.c
 * covers the rest). */
static void test_dist_frame_ops__groupby(void **state) {
  (void)state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 500, 10, 321);
  tsr_frame *fd = NULL, *fl = NULL, *gd = NULL, *gl = NULL;
  assert_ok(ref_frame_to_frame(dist_ctx, &ref, 64, 5, &fd));
  assert_ok(ref_frame_to_frame(local_ctx, &ref, 64, 5, &fl));
  const char *keys[1] = {"c12"};
  tsr_agg aggs[2] = {{.op = TSR_AGG_SUM, .column = "c10"}, {.op = TSR_AGG_COUNT_ALL}};
  tsr_exchange_stats before, after;
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &before));
  assert_ok(tsr_frame_groupby(fd, 1, keys, 2, aggs, NULL, &gd));
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &after));
  if (nranks > 1) /* every rank owns rows: every rank sent its partial states */
    assert_true(after.bytes_sent > before.bytes_sent);
  assert_ok(tsr_frame_groupby(fl, 1, keys, 2, aggs, NULL, &gl));
  ref_frame a, b;
  ref_frame_compute(gd, &a);
  ref_frame_compute(gl, &b);
  ref_frame_assert_equal(&b, &a);
  ref_frame_free(&a);
  ref_frame_free(&b);
  tsr_frame_destroy(&gd);
  tsr_frame_destroy(&gl);
  tsr_frame_destroy(&fd);
  tsr_frame_destroy(&fl);
  ref_frame_free(&ref);
}

/* Joins and as-of joins: on every rank, the serial context's result
 * (tests/dist/test_dist_join.c covers them in depth). */
static void test_dist_frame_ops__join(void **state) {
  (void)state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 500, 10, 321);
  tsr_frame *fd = NULL, *fl = NULL;
  assert_ok(ref_frame_to_frame(dist_ctx, &ref, 64, 5, &fd));
  assert_ok(ref_frame_to_frame(local_ctx, &ref, 64, 5, &fl));
  const char *on[1] = {"c5"};
  for (int op = 0; op < 2; op++) {
    tsr_frame *jd = NULL, *jl = NULL;
    assert_ok(op == 0 ? tsr_frame_join(fd, fd, TSR_JOIN_INNER, 1, on, NULL, NULL, &jd)
                      : tsr_frame_join_asof(fd, fd, "c3", NULL, &jd));
    assert_ok(op == 0 ? tsr_frame_join(fl, fl, TSR_JOIN_INNER, 1, on, NULL, NULL, &jl)
                      : tsr_frame_join_asof(fl, fl, "c3", NULL, &jl));
    ref_frame a, b;
    ref_frame_compute(jd, &a);
    ref_frame_compute(jl, &b);
    ref_frame_assert_equal(&b, &a);
    same_on_every_rank(&a.n, sizeof a.n);
    ref_frame_free(&a);
    ref_frame_free(&b);
    tsr_frame_destroy(&jd);
    tsr_frame_destroy(&jl);
  }
  tsr_frame_destroy(&fd);
  tsr_frame_destroy(&fl);
  ref_frame_free(&ref);
}

/* Frames held across the ranks (each chunk on the rank that made it):
 * tsr_frame_persist, and the results of a shuffled group-by and of a join.
 * A chain of operations over them computes what the serial context does;
 * persisting sends nothing; reading one with the distribution turned off is
 * a clear error, not wrong data. */
static void test_dist_frame_ops__held_frames(void **state) {
  (void)state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 3000, 10, 99);
  tsr_frame *f[2] = {NULL, NULL}, *held[2] = {NULL, NULL}, *g[2] = {NULL, NULL};
  tsr_frame *j[2] = {NULL, NULL}, *s[2] = {NULL, NULL}, *h[2] = {NULL, NULL};
  tsr_ctx *ctxs[2] = {dist_ctx, local_ctx};
  const char *keys[2] = {"c5", "c12"};
  tsr_agg aggs[2] = {{.op = TSR_AGG_SUM, .column = "c10"}, {.op = TSR_AGG_COUNT_ALL, .name = "n"}};
  const char *on[2] = {"c5", "c12"};
  tsr_sort_key by[3] = {{.column = "n", .descending = true}, {.column = "c5"}, {.column = "c12"}};
  tsr__groupby_set_gather_max(0); /* many groups: shuffled, the result held */
  tsr__groupby_set_hold_min(0);
  for (int k = 0; k < 2; k++) {
    assert_ok(ref_frame_to_frame(ctxs[k], &ref, 64, 7, &f[k]));
    assert_ok(tsr_frame_persist(f[k], NULL, &held[k]));
    /* A row-wise op over a held frame runs where its chunks are: persisting
     * it moves nothing. */
    tsr_frame *filtered = NULL, *again = NULL;
    assert_ok(tsr_frame_filter(held[k], "c5 IS NOT NULL", &filtered));
    uint64_t sent = 0;
    tsr_compute_options opt = {.on_stats = dist_add_bytes_sent, .stats_user = &sent};
    assert_ok(tsr_frame_persist(filtered, &opt, &again));
    assert_true(sent == 0);
    tsr_frame_destroy(&filtered);
    tsr_frame_destroy(&again);
    assert_ok(tsr_frame_groupby(held[k], 2, keys, 2, aggs, NULL, &g[k]));
    assert_ok(tsr_frame_join(held[k], g[k], TSR_JOIN_INNER, 2, on, NULL, NULL, &j[k]));
    assert_ok(tsr_frame_sort(j[k], 3, by, &s[k]));
    assert_ok(tsr_frame_filter(s[k], "n > 1", &h[k]));
  }
  tsr__groupby_set_gather_max(-1);
  tsr__groupby_set_hold_min(-1);
  { /* One column of a held frame gathered whole: each chunk crosses with
     * that column alone (4 bytes a row and a chunk's headers), not all 15. */
    const char *one[1] = {"c3"};
    tsr_frame *sel[2] = {NULL, NULL};
    tsr_frame_result *r = NULL;
    uint64_t sent = 0, total = 0;
    tsr_compute_options opt = {.on_stats = dist_add_bytes_sent, .stats_user = &sent};
    for (int k = 0; k < 2; k++)
      assert_ok(tsr_frame_select(held[k], 1, one, &sel[k]));
    assert_ok(tsr_frame_compute(sel[0], &opt, &r));
    tsr_frame_result_destroy(&r);
    MPI_Allreduce(&sent, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    uint64_t bound = (uint64_t)(nranks - 1) *
                     ((uint64_t)ref.n * 4 + (uint64_t)tsr_frame_nchunks(held[0]) * 2048);
    if (total > bound)
      fail_msg("%llu bytes sent to gather one int32 column: more than %llu",
               (unsigned long long)total, (unsigned long long)bound);
    ref_frame a, b;
    ref_frame_compute(sel[0], &a);
    ref_frame_compute(sel[1], &b);
    ref_frame_assert_equal(&b, &a);
    ref_frame_free(&a);
    ref_frame_free(&b);
    tsr_frame_destroy(&sel[0]);
    tsr_frame_destroy(&sel[1]);
  }
  tsr_frame *const *pairs[5] = {held, g, j, s, h};
  for (int p = 0; p < 5; p++) {
    ref_frame a, b;
    ref_frame_compute(pairs[p][0], &a);
    ref_frame_compute(pairs[p][1], &b);
    ref_frame_assert_equal(&b, &a);
    same_on_every_rank(&a.n, sizeof a.n);
    int64_t nd = -1, nl = -2;
    assert_ok(tsr_frame_nrows(pairs[p][0], &nd));
    assert_ok(tsr_frame_nrows(pairs[p][1], &nl));
    assert_int_equal(nd, nl);
    ref_frame_free(&a);
    ref_frame_free(&b);
  }
  /* Written to CSV: the serial context's bytes (each chunk formatted where
   * it is held). */
  char dir[256] = "";
  if (rank == 0)
    assert_non_null(mkdtemp(strcpy(dir, "/tmp/tsr_dist_held_XXXXXX")));
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  char pd[320], pl[320];
  snprintf(pd, sizeof pd, "%s/held.csv", dir);
  snprintf(pl, sizeof pl, "%s/ref%d.csv", dir, rank);
  assert_ok(tsr_frame_write_csv(h[0], pd, ',', false, NULL));
  assert_ok(tsr_frame_write_csv(h[1], pl, ',', false, NULL));
  assert_same_file(pd, pl, 100);
  MPI_Barrier(MPI_COMM_WORLD);
  unlink(pl);
  if (rank == 0) {
    unlink(pd);
    rmdir(dir);
  }
  if (nranks > 1) { /* held frames need the ranks that hold them */
    tsr_frame *const heldd[3] = {held[0], g[0], j[0]};
    for (int p = 0; p < 3; p++) {
      tsr_frame_result *r = NULL;
      assert_ok(tsr_ctx_set_distributed(dist_ctx, false));
      tsr_status st = tsr_frame_compute(heldd[p], NULL, &r);
      assert_ok(tsr_ctx_set_distributed(dist_ctx, true));
      assert_int_equal(st, TSR_EINVAL);
      assert_null(r);
      assert_non_null(strstr(tsr_last_error(), "held across"));
    }
  }
  for (int k = 0; k < 2; k++) {
    tsr_frame_destroy(&h[k]);
    tsr_frame_destroy(&s[k]);
    tsr_frame_destroy(&j[k]);
    tsr_frame_destroy(&g[k]);
    tsr_frame_destroy(&held[k]);
    tsr_frame_destroy(&f[k]);
  }
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dist_frame_ops__match_one_rank),
      cmocka_unit_test(test_dist_frame_ops__sort),
      cmocka_unit_test(test_dist_frame_ops__groupby),
      cmocka_unit_test(test_dist_frame_ops__join),
      cmocka_unit_test(test_dist_frame_ops__write_csv),
      cmocka_unit_test(test_dist_frame_ops__held_frames),
  };
  return DIST_HARNESS_RUN("test_dist_frame_ops", tests);
}
