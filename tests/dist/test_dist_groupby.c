/* test_dist_groupby.c — tsr_frame_groupby across MPI ranks (run by ctest
 * under mpiexec with 1, 2 and 3 ranks, 1 or 2 threads per rank).
 *
 * Every rank builds the same random frame (every column type, nulls, long
 * strings, 64+ ragged chunks) on the distributed context and on a context
 * that computes alone (the reference).  Each group-by's result must equal
 * the reference's bitwise on every rank (rows, order, values, float bits,
 * row chunks), for every aggregate, key types alone and together, both
 * group orders, few groups (all-gathered parts) and many (forced through
 * the shuffle by bucket), skew, inputs where a rank owns no rows, empty
 * inputs; every rank sends bytes when every rank owns rows; a failure on
 * one rank (its memory limit) is every rank's failure; distinct and
 * describe, which are group-bys, give the one-rank results.  Holistic
 * aggregates (median, quantiles, nunique, largest/smallest: their values
 * shuffled by bucket with the states) over every type they take, with
 * NaN, -0.0 and ties, many and few groups, no keys, skew; their shuffle
 * moves fewer bytes than an all-gather of the values would; a failure in
 * their phase on one rank is every rank's failure. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include <tessera/mpi.h>

#include "dist/dist_harness.h"
#include "frame/frame_util.h"
#include "frame/groupby_impl.h"
#include "frame/groupby_spill.h"

/* The random frame: c3 (int32) rewritten to key % mod (or, with skew, 0
 * for every other row), so the group count is chosen. */
static void make_ref(ref_frame *ref, int64_t n, int mod, bool skew, uint64_t seed) {
  ref_frame_random(ref, TSR_NUM_COLTYPES, fu_types, n, 10, seed);
  int32_t *v = (int32_t *)ref->cols[TSR_COL_INT32].values;
  for (int64_t i = 0; i < n; i++) {
    uint32_t u = (uint32_t)v[i];
    v[i] = skew && i % 2 == 0 ? 0 : (int32_t)(u % (uint32_t)mod);
  }
}

typedef struct frames {
  tsr_frame *fd, *fl;
} frames;

static void frames_make(const ref_frame *ref, int min_chunks, frames *fr) {
  assert_ok(ref_frame_to_frame(dist_ctx, ref, min_chunks, 5, &fr->fd));
  assert_ok(ref_frame_to_frame(local_ctx, ref, min_chunks, 5, &fr->fl));
}

/* The frames over ref's columns (copied) in chunks of chunk_rows rows. */
static void frames_of_columns(const ref_frame *ref, int64_t chunk_rows, frames *fr) {
  tsr_column_data *cd = calloc((size_t)ref->ncols + 1, sizeof *cd);
  ref_frame_columns(ref, 0, ref->n, cd);
  assert_ok(tsr_frame_from_columns(dist_ctx, ref->ncols, cd, chunk_rows, TSR_BUFFER_ADOPT,
                                   fu_free_fn, NULL, &fr->fd));
  ref_frame_columns(ref, 0, ref->n, cd);
  assert_ok(tsr_frame_from_columns(local_ctx, ref->ncols, cd, chunk_rows, TSR_BUFFER_ADOPT,
                                   fu_free_fn, NULL, &fr->fl));
  free(cd);
}

static void frames_free(frames *fr) {
  tsr_frame_destroy(&fr->fd);
  tsr_frame_destroy(&fr->fl);
}

/* The group-by on both contexts: the same status, and the same result,
 * read back value by value, with the same row chunks.  sends: every rank
 * must have sent bytes (when there are several). */
static void check(const frames *fr, int nkeys, const char *const *keys, int naggs,
                  const tsr_agg *aggs, tsr_group_order order, bool sends) {
  tsr_groupby_options opts = {.order = order};
  tsr_frame *gd = NULL, *gl = NULL;
  tsr_exchange_stats before, after;
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &before));
  tsr_status sd = tsr_frame_groupby(fr->fd, nkeys, keys, naggs, aggs, &opts, &gd);
  char msg[256];
  snprintf(msg, sizeof msg, "%s", sd != TSR_OK ? tsr_last_error() : "");
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &after));
  tsr_status sl = tsr_frame_groupby(fr->fl, nkeys, keys, naggs, aggs, &opts, &gl);
  if (sd != sl)
    print_error("rank %d: status %d (%s), one rank %d (%s)\n", rank, sd, msg, sl,
                sl != TSR_OK ? tsr_last_error() : "");
  assert_int_equal(sd, sl);
  if (sd != TSR_OK)
    return;
  if (sends && nranks > 1)
    assert_true(after.bytes_sent > before.bytes_sent);
  assert_int_equal(tsr_frame_nchunks(gd), tsr_frame_nchunks(gl));
  ref_frame a, b;
  ref_frame_compute(gd, &a);
  ref_frame_compute(gl, &b);
  ref_frame_assert_equal(&b, &a);
  ref_frame_free(&a);
  ref_frame_free(&b);
  tsr_frame_destroy(&gd);
  tsr_frame_destroy(&gl);
}

/* Every decomposable aggregate over the column types it takes. */
static const tsr_agg decomposable[] = {
    {.op = TSR_AGG_COUNT_ALL},
    {.op = TSR_AGG_COUNT, .column = "c11"},
    {.op = TSR_AGG_SUM, .column = "c4"},
    {.op = TSR_AGG_SUM, .column = "c2"},
    {.op = TSR_AGG_SUM, .column = "c8"},
    {.op = TSR_AGG_SUM, .column = "c9"},
    {.op = TSR_AGG_MEAN, .column = "c10"},
    {.op = TSR_AGG_MIN, .column = "c11"},
    {.op = TSR_AGG_MAX, .column = "c11"},
    {.op = TSR_AGG_MIN, .column = "c10"},
    {.op = TSR_AGG_MAX, .column = "c8"},
    {.op = TSR_AGG_MIN, .column = "c12"},
    {.op = TSR_AGG_MAX, .column = "c13"},
    {.op = TSR_AGG_VAR, .column = "c10", .ddof = 1},
    {.op = TSR_AGG_STD, .column = "c1", .ddof = 0},
    {.op = TSR_AGG_FIRST, .column = "c11"},
    {.op = TSR_AGG_LAST, .column = "c12"},
    {.op = TSR_AGG_FIRST, .column = "c14"},
    {.op = TSR_AGG_CORR, .column = "c10", .column2 = "c9"},
    {.op = TSR_AGG_COVAR_SAMP, .column = "c4", .column2 = "c10"},
    {.op = TSR_AGG_COVAR_POP, .column = "c10", .column2 = "c3"},
    {.op = TSR_AGG_ANY, .column = "c0"},
    {.op = TSR_AGG_ALL, .column = "c0"},
};
#define NDEC ((int)(sizeof decomposable / sizeof *decomposable))

static const tsr_agg holistic[] = {
    {.op = TSR_AGG_COUNT_ALL},
    {.op = TSR_AGG_MEDIAN, .column = "c10"},
    {.op = TSR_AGG_QUANTILE, .column = "c4", .q = 0.3},
    {.op = TSR_AGG_NUNIQUE, .column = "c11"},
    {.op = TSR_AGG_SUM, .column = "c10"},
};

static const tsr_agg per_value[] = {
    {.op = TSR_AGG_LARGEST, .column = "c11", .n = 2},
    {.op = TSR_AGG_SMALLEST, .column = "c10", .n = 2},
};

/* Few groups: parts all-gathered and merged on every rank. */
static void test_dist_groupby__few_groups(void **state) {
  (void)state;
  ref_frame ref;
  make_ref(&ref, 3000, 40, false, 11);
  frames fr;
  frames_make(&ref, 64, &fr);
  tsr__groupby_set_gather_max(-1);
  const char *k1[1] = {"c3"};
  check(&fr, 1, k1, NDEC, decomposable, TSR_GROUP_FIRST_SEEN, true);
  const char *k3[3] = {"c12", "c0", "c5"}; /* dict, bool (nulls), uint8 */
  check(&fr, 3, k3, NDEC, decomposable, TSR_GROUP_SORTED, true);
  check(&fr, 0, NULL, NDEC, decomposable, TSR_GROUP_FIRST_SEEN, true); /* one group */
  /* Holistic aggregates ship the values they read, by bucket. */
  check(&fr, 1, k1, 5, holistic, TSR_GROUP_SORTED, true);
  const char *kd[1] = {"c12"};
  check(&fr, 1, kd, 2, per_value, TSR_GROUP_FIRST_SEEN, true);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* Many groups: every group-by forced through the shuffle by bucket. */
static void test_dist_groupby__shuffle(void **state) {
  (void)state;
  ref_frame ref;
  make_ref(&ref, 3000, 700, false, 12);
  frames fr;
  frames_make(&ref, 64, &fr);
  tsr__groupby_set_gather_max(0);
  const char *k1[1] = {"c3"};
  const char *ks[1] = {"c11"};              /* strings, long ones out of line, nulls */
  const char *k3[3] = {"c12", "c0", "c13"}; /* dict, bool, date */
  /* First-seen results held across the ranks, in chunks of 97 rows (each
   * rank owning some, with rows from every rank: held = 2) and in one,
   * then (by default, being small) gathered whole on every rank. */
  for (int held = 2; held >= 0; held--) {
    tsr__groupby_set_hold_min(held ? 0 : -1);
    tsr__groupby_set_result_chunk_rows(held == 2 ? 97 : -1);
    check(&fr, 1, k1, NDEC, decomposable, TSR_GROUP_FIRST_SEEN, true);
    check(&fr, 3, k3, NDEC, decomposable, TSR_GROUP_FIRST_SEEN, true);
    /* Holistic aggregates: their values by bucket with the states. */
    check(&fr, 1, ks, 5, holistic, TSR_GROUP_FIRST_SEEN, true);
    check(&fr, 1, ks, 2, per_value, TSR_GROUP_FIRST_SEEN, true);
  }
  tsr__groupby_set_hold_min(-1);
  check(&fr, 1, k1, NDEC, decomposable, TSR_GROUP_SORTED, true);
  check(&fr, 1, ks, NDEC, decomposable, TSR_GROUP_SORTED, true);
  const char *kf[2] = {"c9", "c14"}; /* float32, timestamp: every row its own group */
  check(&fr, 2, kf, 4, decomposable, TSR_GROUP_SORTED, true);
  tsr__groupby_set_gather_max(-1);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* One key holding half the rows. */
static void test_dist_groupby__skew(void **state) {
  (void)state;
  ref_frame ref;
  make_ref(&ref, 3000, 500, true, 13);
  frames fr;
  frames_make(&ref, 64, &fr);
  const char *k1[1] = {"c3"};
  for (int forced = 0; forced < 3; forced++) { /* 2: shuffled, the result held */
    tsr__groupby_set_gather_max(forced ? 0 : -1);
    tsr__groupby_set_hold_min(forced == 2 ? 0 : -1);
    check(&fr, 1, k1, NDEC, decomposable, TSR_GROUP_FIRST_SEEN, true);
  }
  tsr__groupby_set_gather_max(-1);
  tsr__groupby_set_hold_min(-1);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* Fewer chunks than ranks (some rank owns nothing), and no rows at all. */
static void test_dist_groupby__idle_ranks(void **state) {
  (void)state;
  ref_frame ref;
  make_ref(&ref, 40, 7, false, 14);
  frames fr;
  /* One chunk of 40 rows. */
  tsr_column_data *cd = calloc((size_t)ref.ncols + 1, sizeof *cd);
  ref_frame_columns(&ref, 0, ref.n, cd);
  assert_ok(tsr_frame_from_columns(dist_ctx, ref.ncols, cd, 64, TSR_BUFFER_ADOPT, fu_free_fn, NULL,
                                   &fr.fd));
  ref_frame_columns(&ref, 0, ref.n, cd);
  assert_ok(tsr_frame_from_columns(local_ctx, ref.ncols, cd, 64, TSR_BUFFER_ADOPT, fu_free_fn, NULL,
                                   &fr.fl));
  assert_int_equal(tsr_frame_nchunks(fr.fd), 1);
  const char *k1[1] = {"c3"};
  for (int forced = 0; forced < 2; forced++) {
    tsr__groupby_set_gather_max(forced ? 0 : -1);
    check(&fr, 1, k1, NDEC, decomposable, TSR_GROUP_SORTED, false);
  }
  check(&fr, 1, k1, 5, holistic, TSR_GROUP_FIRST_SEEN, false);   /* shuffled either way */
  check(&fr, 0, NULL, 5, holistic, TSR_GROUP_FIRST_SEEN, false); /* all to rank 0 */
  frames_free(&fr);
  /* No rows: with keys no groups, without keys one group of nothing. */
  ref_frame_columns(&ref, 0, 0, cd);
  assert_ok(tsr_frame_from_columns(dist_ctx, ref.ncols, cd, 64, TSR_BUFFER_ADOPT, fu_free_fn, NULL,
                                   &fr.fd));
  ref_frame_columns(&ref, 0, 0, cd);
  assert_ok(tsr_frame_from_columns(local_ctx, ref.ncols, cd, 64, TSR_BUFFER_ADOPT, fu_free_fn, NULL,
                                   &fr.fl));
  free(cd);
  for (int forced = 0; forced < 2; forced++) {
    tsr__groupby_set_gather_max(forced ? 0 : -1);
    check(&fr, 1, k1, NDEC, decomposable, TSR_GROUP_FIRST_SEEN, false);
  }
  check(&fr, 0, NULL, 5, holistic, TSR_GROUP_FIRST_SEEN, false);
  tsr__groupby_set_gather_max(-1);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* distinct and describe are group-bys: the one-rank results too. */
static void test_dist_groupby__built_on_it(void **state) {
  (void)state;
  ref_frame ref;
  make_ref(&ref, 2000, 30, false, 16);
  frames fr;
  frames_make(&ref, 64, &fr);
  const char *cols[2] = {"c3", "c11"};
  for (int k = 0; k < 3; k++) {
    tsr_frame *a = NULL, *b = NULL;
    if (k < 2) {
      assert_ok(tsr_frame_distinct(fr.fd, k == 0 ? 2 : 0, cols, &a));
      assert_ok(tsr_frame_distinct(fr.fl, k == 0 ? 2 : 0, cols, &b));
    } else {
      assert_ok(tsr_frame_describe(fr.fd, &a));
      assert_ok(tsr_frame_describe(fr.fl, &b));
    }
    ref_frame ra, rb;
    ref_frame_compute(a, &ra);
    ref_frame_compute(b, &rb);
    ref_frame_assert_equal(&rb, &ra);
    ref_frame_free(&ra);
    ref_frame_free(&rb);
    tsr_frame_destroy(&a);
    tsr_frame_destroy(&b);
  }
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* The last rank alone runs out of memory: every rank returns its error. */
static void test_dist_groupby__one_rank_fails(void **state) {
  (void)state;
  if (nranks == 1) /* one rank alone computes out of core instead (test_groupby_spill.c) */
    skip();
  ref_frame ref;
  make_ref(&ref, 3000, 700, false, 15);
  frames fr;
  frames_make(&ref, 64, &fr);
  const char *k1[1] = {"c11"};
  for (int forced = 0; forced < 2; forced++) {
    tsr__groupby_set_gather_max(forced ? 0 : -1);
    for (int hol = 0; hol < 2 - forced; hol++) { /* holistic: shuffled either way */
      tsr_memory_stats m;
      assert_ok(tsr_ctx_memory_stats(dist_ctx, &m));
      if (rank == nranks - 1)
        assert_ok(tsr_ctx_set_memory_limit(dist_ctx, m.current_bytes + 40000));
      tsr_frame *g = NULL;
      tsr_status st = hol ? tsr_frame_groupby(fr.fd, 1, k1, 5, holistic, NULL, &g)
                          : tsr_frame_groupby(fr.fd, 1, k1, NDEC, decomposable, NULL, &g);
      assert_ok(tsr_ctx_set_memory_limit(dist_ctx, 0));
      assert_int_equal(st, TSR_ENOMEM);
      assert_null(g);
      char want[32];
      snprintf(want, sizeof want, "rank %d: ", nranks - 1);
      if (nranks > 1 && strncmp(tsr_last_error(), want, strlen(want)) != 0)
        fail_msg("rank %d: '%s' does not name rank %d", rank, tsr_last_error(), nranks - 1);
      /* Everything still works afterwards. */
      check(&fr, 1, k1, 3, decomposable, TSR_GROUP_FIRST_SEEN, true);
    }
  }
  tsr__groupby_set_gather_max(-1);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* Out of core across the ranks (groupby_spill.c): each rank spills the
 * chunks it owns, the partitions are grouped across the ranks, and the
 * result equals one rank's in-memory group-by bitwise; forced partitions,
 * then through tsr_frame_groupby under a memory limit on every rank that
 * the in-memory engine cannot meet. */
static void spill_check(const frames *fr, int nkeys, const char *const *keys, int naggs,
                        const tsr_agg *aggs, int parts, bool sends) {
  tsr_frame *gd = NULL, *gl = NULL;
  tsr_exchange_stats before, after;
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &before));
  int used = 0;
  tsr_status st = tsr__groupby_spill(fr->fd, nkeys, keys, naggs, aggs, parts, &used, &gd);
  if (st != TSR_OK)
    fail_msg("rank %d: %s", rank, tsr_last_error());
  assert_int_equal(used, parts);
  assert_ok(tsr_frame_groupby(fr->fl, nkeys, keys, naggs, aggs, NULL, &gl));
  ref_frame a, b;
  ref_frame_compute(gd, &a);
  ref_frame_compute(gl, &b);
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &after));
  if (sends && nranks > 1) /* each sends its share of the partitions */
    assert_true(after.bytes_sent > before.bytes_sent);
  ref_frame_assert_equal(&b, &a); /* rows, order, values (the chunks are the input's) */
  ref_frame_free(&a);
  ref_frame_free(&b);
  tsr_frame_destroy(&gd);
  tsr_frame_destroy(&gl);
}

static void test_dist_groupby__spill(void **state) {
  (void)state;
  ref_frame ref;
  make_ref(&ref, 3000, 700, false, 21);
  frames fr;
  frames_make(&ref, 64, &fr);
  const char *k1[1] = {"c3"}, *ks[1] = {"c11"}, *k2[2] = {"c12", "c3"};
  spill_check(&fr, 1, k1, NDEC, decomposable, 4, true);
  spill_check(&fr, 1, ks, 5, holistic, 4, true);
  spill_check(&fr, 2, k2, NDEC, decomposable, 8, true);
  frames_free(&fr);
  ref_frame_free(&ref);
  /* A rank owning no rows, and an empty input. */
  make_ref(&ref, 40, 7, true, 22);
  frames_make(&ref, 1, &fr);
  spill_check(&fr, 1, k1, 5, holistic, 8, false);
  frames_free(&fr);
  ref_frame_free(&ref);
  make_ref(&ref, 0, 7, false, 23);
  frames_make(&ref, 1, &fr);
  spill_check(&fr, 1, k1, 3, decomposable, 2, false);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* Distinct int64 keys: too many groups for a small limit in memory. */
static void test_dist_groupby__spill_memory_limit(void **state) {
  (void)state;
  const int64_t n = 400000;
  const tsr_type types[3] = {{TSR_COL_INT64, 0}, {TSR_COL_INT64, 0}, {TSR_COL_FLOAT64, 0}};
  ref_frame ref;
  ref_frame_random(&ref, 3, types, n, 0, 24);
  int64_t *key = (int64_t *)ref.cols[0].values;
  for (int64_t i = 0; i < n; i++)
    key[i] = (i * 7919) % n; /* distinct */
  frames fr;
  frames_make(&ref, 8, &fr);
  const char *keys[1] = {"c0"};
  const tsr_agg aggs[3] = {{.op = TSR_AGG_SUM, .column = "c1"},
                           {.op = TSR_AGG_MEAN, .column = "c2"},
                           {.op = TSR_AGG_COUNT_ALL}};
  tsr_frame *gl = NULL, *gd = NULL;
  assert_ok(tsr_frame_groupby(fr.fl, 1, keys, 3, aggs, NULL, &gl));
  ref_frame want, got;
  ref_frame_compute(gl, &want);
  tsr_frame_destroy(&gl);
  assert_int_equal(want.n, n);
  tsr_memory_stats ms;
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &ms));
  uint64_t limit = ms.current_bytes + (UINT64_C(10) << 20);
  assert_ok(tsr_ctx_set_memory_limit(dist_ctx, limit));
  /* In memory it does not fit on the ranks... */
  assert_int_equal(tsr__groupby_memory(fr.fd, 1, keys, 3, aggs, NULL, &gd), TSR_ENOMEM);
  assert_null(gd);
  /* ...out of core it does. */
  tsr_status st = tsr_frame_groupby(fr.fd, 1, keys, 3, aggs, NULL, &gd);
  if (st != TSR_OK)
    fail_msg("rank %d: %s", rank, tsr_last_error());
  assert_ok(tsr_ctx_set_memory_limit(dist_ctx, 0));
  ref_frame_compute(gd, &got);
  ref_frame_assert_equal(&want, &got);
  ref_frame_free(&got);
  ref_frame_free(&want);
  tsr_frame_destroy(&gd);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* make_ref, with floats (c9, c10) that are often NaN, -0.0, 0.0 or a tie. */
static void make_hol_ref(ref_frame *ref, int64_t n, int mod, bool skew, uint64_t seed) {
  make_ref(ref, n, mod, skew, seed);
  static const double fv[8] = {NAN, -0.0, 0.0, 1.5, -2.25, 1e300, 1.5, -0.0};
  double *d = (double *)ref->cols[TSR_COL_FLOAT64].values;
  float *f = (float *)ref->cols[TSR_COL_FLOAT32].values;
  uint64_t s = seed * 7 + 1;
  for (int64_t i = 0; i < n; i++) {
    if (fu_rand(&s) % 3 == 0)
      d[i] = fv[fu_rand(&s) % 8];
    if (fu_rand(&s) % 3 == 0)
      f[i] = (float)fv[fu_rand(&s) % 8]; /* 1e300: inf */
  }
}

/* Every holistic aggregate over the types it takes (with two decomposable
 * ones, merged beside them). */
static const tsr_agg hol_all[] = {
    {.op = TSR_AGG_MEDIAN, .column = "c10", .name = "h0"},
    {.op = TSR_AGG_QUANTILE, .column = "c10", .q = 0.25, .name = "h1"},
    {.op = TSR_AGG_QUANTILE, .column = "c10", .q = 1, .name = "h2"},
    {.op = TSR_AGG_QUANTILE, .column = "c9", .q = 0.9, .name = "h3"},
    {.op = TSR_AGG_QUANTILE, .column = "c1", .q = 0, .name = "h4"},
    {.op = TSR_AGG_QUANTILE, .column = "c4", .q = 0.7, .name = "h5"},
    {.op = TSR_AGG_MEDIAN, .column = "c7", .name = "h6"},
    {.op = TSR_AGG_MEDIAN, .column = "c13", .name = "h7"},
    {.op = TSR_AGG_QUANTILE, .column = "c14", .q = 0.75, .name = "h8"},
    {.op = TSR_AGG_NUNIQUE, .column = "c10", .name = "h9"},
    {.op = TSR_AGG_NUNIQUE, .column = "c9", .name = "h10"},
    {.op = TSR_AGG_NUNIQUE, .column = "c11", .name = "h11"},
    {.op = TSR_AGG_NUNIQUE, .column = "c12", .name = "h12"},
    {.op = TSR_AGG_NUNIQUE, .column = "c0", .name = "h13"},
    {.op = TSR_AGG_NUNIQUE, .column = "c1", .name = "h14"},
    {.op = TSR_AGG_COUNT_ALL, .name = "h15"},
    {.op = TSR_AGG_VAR, .column = "c10", .ddof = 1, .name = "h16"},
};
#define NHOL ((int)(sizeof hol_all / sizeof *hol_all))

/* Largest/smallest (one row per value; every aggregate with the same n). */
static const tsr_agg top_num[] = {
    {.op = TSR_AGG_LARGEST, .column = "c10", .n = 3, .name = "t0"},
    {.op = TSR_AGG_SMALLEST, .column = "c10", .n = 3, .name = "t1"},
    {.op = TSR_AGG_LARGEST, .column = "c1", .n = 3, .name = "t2"}, /* int8: ties */
    {.op = TSR_AGG_SMALLEST, .column = "c9", .n = 3, .name = "t3"},
};
static const tsr_agg top_str[] = {
    {.op = TSR_AGG_LARGEST, .column = "c11", .n = 2, .name = "t0"},
    {.op = TSR_AGG_SMALLEST, .column = "c11", .n = 2, .name = "t1"},
    {.op = TSR_AGG_LARGEST, .column = "c12", .n = 2, .name = "t2"},
    {.op = TSR_AGG_SMALLEST, .column = "c0", .n = 2, .name = "t3"},
};

/* Holistic aggregates with many groups, few, string and dictionary keys,
 * no keys, skew: all the one-rank results. */
static void test_dist_groupby__holistic(void **state) {
  (void)state;
  for (int shape = 0; shape < 3; shape++) { /* many groups, few, skew */
    ref_frame ref;
    make_hol_ref(&ref, 2000, shape == 1 ? 40 : 500, shape == 2, 21 + (uint64_t)shape);
    frames fr;
    frames_make(&ref, 24, &fr);
    const char *k1[1] = {"c3"};
    check(&fr, 1, k1, NHOL, hol_all, shape == 1 ? TSR_GROUP_SORTED : TSR_GROUP_FIRST_SEEN, true);
    if (shape == 0) {
      check(&fr, 1, k1, 4, top_num, TSR_GROUP_SORTED, true);
      const char *ks[1] = {"c11"}; /* string keys, long ones out of line, nulls */
      check(&fr, 1, ks, 4, top_str, TSR_GROUP_FIRST_SEEN, true);
    } else if (shape == 1) {
      const char *kd[2] = {"c12", "c0"}; /* dictionary and bool keys, nulls */
      check(&fr, 2, kd, 4, top_num, TSR_GROUP_FIRST_SEEN, true);
      check(&fr, 0, NULL, NHOL, hol_all, TSR_GROUP_FIRST_SEEN, true); /* no keys: to rank 0 */
      check(&fr, 0, NULL, 4, top_str, TSR_GROUP_FIRST_SEEN, true);
      /* One group of ~80 rows a part: each part keeps only the rows
       * among some aggregate's 3 best (keep_best), and those decide. */
      check(&fr, 0, NULL, 4, top_num, TSR_GROUP_FIRST_SEEN, true);
    } else {
      check(&fr, 1, k1, 4, top_num, TSR_GROUP_FIRST_SEEN, true);
    }
    frames_free(&fr);
    ref_frame_free(&ref);
  }
}

/* The values go to their bucket's rank only: fewer bytes than the
 * all-gather of every value (P - 1 times them) would move. */
static void test_dist_groupby__holistic_bytes(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  ref_frame ref;
  make_hol_ref(&ref, 20000, 100, false, 31);
  for (int64_t i = 0; i < ref.n; i++) /* no nulls: every value travels */
    ref.cols[TSR_COL_FLOAT64].valid[i] = 1;
  frames fr; /* 8 chunks of 2500 rows */
  frames_of_columns(&ref, 2500, &fr);
  const char *k1[1] = {"c3"};
  const tsr_agg med[1] = {{.op = TSR_AGG_MEDIAN, .column = "c10"}};
  tsr_exchange_stats before, after;
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &before));
  tsr_frame *g = NULL;
  assert_ok(tsr_frame_groupby(fr.fd, 1, k1, 1, med, NULL, &g));
  assert_ok(tsr_ctx_exchange_stats(dist_ctx, &after));
  tsr_frame_destroy(&g);
  check(&fr, 1, k1, 1, med, TSR_GROUP_FIRST_SEEN, true);
  unsigned long long sent = after.bytes_sent - before.bytes_sent, total = 0;
  MPI_Allreduce(&sent, &total, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  uint64_t values = 0;
  for (int64_t i = 0; i < ref.n; i++)
    values += ref.cols[TSR_COL_FLOAT64].valid[i] ? 8 : 0;
  /* A shuffle sends about (P - 1) / P of them (those whose bucket another
   * rank owns), with their keys and a few bytes a local group. */
  uint64_t gather = (uint64_t)(nranks - 1) * values;
  if (total * (uint64_t)nranks * 10 > gather * 13)
    fail_msg("%llu bytes sent in all: more than 1.3 x (P - 1) / P of the %llu an all-gather of "
             "the values would send",
             total, (unsigned long long)gather);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* A held input whose run of chunks (one part: 8 chunks of 2500 rows) is
 * owned by several ranks: the chunks that cross to the part's rank carry
 * only the two columns read (key and value, 12 bytes a row, plus the
 * other columns' empty headers), not all 15 with their long strings (about
 * 80 bytes a row: 4 or 5 chunks would send 800 kB to 1 MB). */
static void test_dist_groupby__crossing_chunks(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  ref_frame ref;
  make_ref(&ref, 20000, 50, false, 41);
  frames fr, held;
  frames_of_columns(&ref, 2500, &fr);
  assert_ok(tsr_frame_persist(fr.fd, NULL, &held.fd)); /* each rank holds its chunks */
  held.fl = fr.fl;
  const char *k1[1] = {"c3"};
  const tsr_agg sum[1] = {{.op = TSR_AGG_SUM, .column = "c10"}};
  uint64_t chunk_bytes = 0, total = 0;
  assert_ok(tsr_ctx_set_run_observer(dist_ctx, NULL, dist_add_bytes_sent, &chunk_bytes));
  tsr_frame *g = NULL;
  assert_ok(tsr_frame_groupby(held.fd, 1, k1, 1, sum, NULL, &g));
  assert_ok(tsr_ctx_set_run_observer(dist_ctx, NULL, NULL, NULL));
  tsr_frame_destroy(&g);
  MPI_Allreduce(&chunk_bytes, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  assert_true(total > 0); /* chunks did cross */
  uint64_t bound = (uint64_t)ref.n * 12 + 8 * 2048;
  if (total > bound)
    fail_msg("%llu bytes of chunks sent: more than the %llu of the two columns read",
             (unsigned long long)total, (unsigned long long)bound);
  /* (one part: the other ranks send their chunks, not partial results) */
  check(&held, 1, k1, 1, sum, TSR_GROUP_FIRST_SEEN, false);
  check(&held, 1, k1, NDEC, decomposable, TSR_GROUP_FIRST_SEEN, false);
  tsr_frame_destroy(&held.fd);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* An allocation of the last rank fails while the holistic aggregates are
 * computed (after the shuffle): every rank returns that failure. */
static void test_dist_groupby__holistic_fails(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  ref_frame ref;
  make_hol_ref(&ref, 2000, 500, false, 41);
  frames fr;
  frames_make(&ref, 24, &fr);
  const char *k1[1] = {"c3"};
  /* Where the phase begins, in this rank's allocations. */
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &m));
  tsr_frame *g = NULL;
  assert_ok(tsr_frame_groupby(fr.fd, 1, k1, NHOL, hol_all, NULL, &g));
  tsr_frame_destroy(&g);
  uint64_t b, e;
  tsr__groupby_holistic_marks(&b, &e);
  assert_true(e > b + 2);
  /* The phase's first allocation, one in the middle (in its tasks), its last. */
  uint64_t at[3] = {b + 1, (b + e) / 2, e};
  for (int j = 0; j < 3; j++) {
    if (rank == nranks - 1)
      assert_ok(tsr_ctx_set_fail_allocation(dist_ctx, at[j] - m.allocations));
    tsr_status st = tsr_frame_groupby(fr.fd, 1, k1, NHOL, hol_all, NULL, &g);
    assert_ok(tsr_ctx_set_fail_allocation(dist_ctx, 0));
    assert_int_equal(st, TSR_ENOMEM);
    assert_null(g);
    char want[32];
    snprintf(want, sizeof want, "rank %d: ", nranks - 1);
    if (strncmp(tsr_last_error(), want, strlen(want)) != 0)
      fail_msg("rank %d: '%s' does not name rank %d", rank, tsr_last_error(), nranks - 1);
  }
  /* Everything still works afterwards. */
  check(&fr, 1, k1, 4, top_num, TSR_GROUP_FIRST_SEEN, true);
  frames_free(&fr);
  ref_frame_free(&ref);
}

/* An allocation of the last rank fails anywhere in the last steps of a
 * shuffled group-by (the merge, the result rows sent to the ranks that hold
 * the result's chunks, the held frame): every rank returns TSR_ENOMEM, no
 * rank is left waiting, and the next group-by is right. */
static void test_dist_groupby__held_result_fails(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  ref_frame ref;
  make_ref(&ref, 2000, 600, false, 43);
  frames fr;
  frames_make(&ref, 24, &fr);
  tsr__groupby_set_gather_max(0);
  tsr__groupby_set_hold_min(0); /* (a result this small is gathered by default) */
  const char *k1[1] = {"c3"};
  tsr_memory_stats m0, m1;
  tsr_frame *g = NULL;
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &m0));
  assert_ok(tsr_frame_groupby(fr.fd, 1, k1, NDEC, decomposable, NULL, &g));
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &m1));
  tsr_frame_destroy(&g);
  /* The same count on every rank's turn to fail: the last rank's. */
  uint64_t n = m1.allocations - m0.allocations;
  MPI_Bcast(&n, 1, MPI_UINT64_T, nranks - 1, MPI_COMM_WORLD);
  assert_true(n > 40);
  int nfailed = 0;
  for (uint64_t j = n - 40; j <= n; j++) {
    if (rank == nranks - 1)
      assert_ok(tsr_ctx_set_fail_allocation(dist_ctx, j));
    tsr_status st = tsr_frame_groupby(fr.fd, 1, k1, NDEC, decomposable, NULL, &g);
    assert_ok(tsr_ctx_set_fail_allocation(dist_ctx, 0));
    int failed = st != TSR_OK, all = 0;
    MPI_Allreduce(&failed, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (all != 0 && all != nranks)
      fail_msg("allocation %llu: %d of %d ranks failed", (unsigned long long)j, all, nranks);
    if (failed) {
      assert_int_equal(st, TSR_ENOMEM);
      assert_null(g);
    }
    nfailed += failed;
    tsr_frame_destroy(&g);
  }
  if (nfailed < 30) /* the injected failures were reached */
    fail_msg("only %d of 41 injected allocation failures made the group-by fail", nfailed);
  check(&fr, 1, k1, NDEC, decomposable, TSR_GROUP_FIRST_SEEN, true);
  tsr__groupby_set_gather_max(-1);
  tsr__groupby_set_hold_min(-1);
  frames_free(&fr);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dist_groupby__few_groups),
      cmocka_unit_test(test_dist_groupby__shuffle),
      cmocka_unit_test(test_dist_groupby__skew),
      cmocka_unit_test(test_dist_groupby__idle_ranks),
      cmocka_unit_test(test_dist_groupby__built_on_it),
      cmocka_unit_test(test_dist_groupby__one_rank_fails),
      cmocka_unit_test(test_dist_groupby__spill),
      cmocka_unit_test(test_dist_groupby__spill_memory_limit),
      cmocka_unit_test(test_dist_groupby__holistic),
      cmocka_unit_test(test_dist_groupby__holistic_bytes),
      cmocka_unit_test(test_dist_groupby__crossing_chunks),
      cmocka_unit_test(test_dist_groupby__holistic_fails),
      cmocka_unit_test(test_dist_groupby__held_result_fails),
  };
  return DIST_HARNESS_RUN("test_dist_groupby", tests);
}
