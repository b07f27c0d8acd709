/* test_join_spill.c — the out-of-core join (join_spill.c): over random
 * frames of at least 64 ragged chunks with nulls in keys and values, keys
 * on one side only and duplicates, its result is the in-memory join's
 * bit for bit (the same columns, chunks, rows per chunk, validity,
 * values, strings and dictionaries), for every join kind: integer keys of
 * different widths, a string key against a dictionary key, two keys,
 * float keys with NaN and -0.0; whole partitions and partitions joined in
 * pieces (a piece size far below a partition's size); a skewed key (half
 * the left rows one key, a hundred right rows with it); 1 and 2 threads.
 * Through tsr_frame_join under a memory limit that the in-memory join
 * cannot meet (checked: it fails with TSR_ENOMEM there), the result is the
 * in-memory one computed without the limit; a limit too small for even
 * the out-of-core join is an error naming the join, never a crash. */
#include <math.h>

#include "frame/join_impl.h"
#include "frame_util.h"

static const tsr_join_kind kinds[6] = {TSR_JOIN_INNER, TSR_JOIN_LEFT, TSR_JOIN_RIGHT,
                                       TSR_JOIN_FULL,  TSR_JOIN_SEMI, TSR_JOIN_ANTI};

static tsr_ctx *make_ctx(int threads) {
  tsr_ctx *ctx = NULL;
  assert_ok(tsr_ctx_create(&ctx));
  assert_ok(tsr_ctx_set_threads(ctx, threads));
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
  return ctx;
}

/* ---- the frames ----------------------------------------------------------------------------- */

/* A random frame of n rows: keys k0.. of `types` with values in [lo, lo +
 * card) (hot >= 0: half the rows that value), then v (int32) and s
 * (string, named `sname`); about 10 % nulls; >= `chunks` ragged chunks. */
static tsr_frame *make_side(tsr_ctx *ctx, int nk, const tsr_type *types, int lo, int card,
                            int64_t n, int hot, const char *sname, int chunks, uint64_t seed) {
  tsr_type all[8];
  memcpy(all, types, (size_t)nk * sizeof *all);
  all[nk] = (tsr_type){TSR_COL_INT32, 0};
  all[nk + 1] = (tsr_type){TSR_COL_STRING, 0};
  ref_frame ref;
  ref_frame_random(&ref, nk + 2, all, n, 10, seed);
  snprintf(ref.cols[nk].name, sizeof ref.cols[nk].name, "v");
  snprintf(ref.cols[nk + 1].name, sizeof ref.cols[nk + 1].name, "%s", sname);
  for (int i = 0; i < nk; i++) {
    ref_col *c = &ref.cols[i];
    snprintf(c->name, sizeof c->name, "k%d", i);
    fu_key_dict(c, lo, card);
    for (int64_t r = 0; r < n; r++) {
      int v = lo + (int)(fu_rand(&seed) % (uint64_t)card);
      if (hot >= 0 && fu_rand(&seed) % 2 == 0)
        v = hot;
      fu_key_value(c, r, v, lo, card, 0, 0);
    }
  }
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, chunks, seed + 1, &f));
  ref_frame_free(&ref);
  return f;
}

/* ---- bitwise equality ----------------------------------------------------------------------- */

static void assert_same(tsr_frame *want_f, tsr_frame *got_f) {
  tsr_frame_result *a = NULL, *b = NULL;
  assert_ok(tsr_frame_compute(want_f, NULL, &a));
  assert_ok(tsr_frame_compute(got_f, NULL, &b));
  const int nc = tsr_frame_result_ncols(a);
  assert_int_equal(tsr_frame_result_ncols(b), nc);
  assert_int_equal(tsr_frame_result_nchunks(b), tsr_frame_result_nchunks(a));
  assert_int_equal(tsr_frame_result_nrows(b), tsr_frame_result_nrows(a));
  for (int i = 0; i < nc; i++) {
    assert_string_equal(tsr_frame_result_col_name(b, i), tsr_frame_result_col_name(a, i));
    tsr_type t = tsr_frame_result_col_type(a, i), u = tsr_frame_result_col_type(b, i);
    assert_int_equal(u.id, t.id);
    assert_int_equal(u.unit, t.unit);
    if (t.id == TSR_COL_DICT) {
      int64_t na, nb;
      const int64_t *oa, *ob;
      const char *da, *db;
      assert_ok(tsr_frame_result_dict(a, i, &na, &oa, &da));
      assert_ok(tsr_frame_result_dict(b, i, &nb, &ob, &db));
      assert_int_equal(nb, na);
      assert_memory_equal(ob, oa, (size_t)(na + 1) * sizeof *oa);
      assert_memory_equal(db, da, (size_t)oa[na]);
    }
    size_t w = tsr_type_width(t);
    for (int64_t c = 0; c < tsr_frame_result_nchunks(a); c++) {
      tsr_column_chunk x, y;
      assert_ok(tsr_frame_result_chunk(a, i, c, &x));
      assert_ok(tsr_frame_result_chunk(b, i, c, &y));
      assert_int_equal(y.rows, x.rows);
      assert_int_equal(y.null_count, x.null_count);
      for (int64_t r = 0; r < x.rows; r++) {
        bool vx = x.validity == NULL || tsr__bit_get(x.validity, r);
        bool vy = y.validity == NULL || tsr__bit_get(y.validity, r);
        if (vx != vy)
          print_error("column %d chunk %lld row %lld: valid %d, want %d\n", i, (long long)c,
                      (long long)r, vy, vx);
        assert_int_equal(vy, vx);
        if (!vx)
          continue;
        if (t.id == TSR_COL_STRING) {
          const tsr_string_view *sx = (const tsr_string_view *)x.values + r;
          const tsr_string_view *sy = (const tsr_string_view *)y.values + r;
          assert_int_equal(sy->length, sx->length);
          assert_memory_equal(tsr_string_view_data(sy, y.data), tsr_string_view_data(sx, x.data),
                              sx->length);
        } else {
          assert_memory_equal((const char *)y.values + (size_t)r * w,
                              (const char *)x.values + (size_t)r * w, w);
        }
      }
    }
  }
  tsr_frame_result_destroy(&a);
  tsr_frame_result_destroy(&b);
}

/* Every kind: the out-of-core join (P partitions, pieces of `piece`
 * bytes; 0: whole) against the in-memory one; at least `pieced`
 * partitions were joined in pieces. */
static void check_kinds(tsr_ctx *ctx, tsr_frame *lf, tsr_frame *rf, int nk, int P, uint64_t piece,
                        int pieced) {
  const char *on[4] = {"k0", "k1", "k2", "k3"};
  for (int q = 0; q < 6; q++) {
    tsr_frame *want = NULL, *got = NULL;
    int used = 0, npieced = -1;
    tsr_status sw = tsr__join_memory(lf, rf, kinds[q], nk, on, NULL, NULL, &want);
    tsr_status sg =
        tsr__join_spill(lf, rf, kinds[q], nk, on, NULL, NULL, P, piece, &used, &npieced, &got);
    if (sg != sw)
      print_error("kind %d: %s, in memory %s (%s)\n", (int)kinds[q], tsr_status_name(sg),
                  tsr_status_name(sw), tsr_last_error());
    assert_int_equal(sg, sw); /* also a right join of keys of two types: TSR_EINVAL */
    if (sw != TSR_OK)
      continue;
    assert_int_equal(used, P);
    if (piece == 0)
      assert_int_equal(npieced, 0);
    else
      assert_in_range(npieced, pieced, P);
    assert_same(want, got);
    tsr_frame_destroy(&want);
    tsr_frame_destroy(&got);
  }
  (void)ctx;
}

/* ---- tests ---------------------------------------------------------------------------------- */

/* Whole partitions over 64 ragged chunks on 1 and 2 threads, then (16
 * chunks, fewer joins) every partition in pieces: int32 against int64. */
static void test_int_keys(void **state) {
  (void)state;
  tsr_type lt = {TSR_COL_INT32, 0}, rt = {TSR_COL_INT64, 0};
  for (int threads = 1; threads <= 2; threads++) {
    tsr_ctx *ctx = make_ctx(threads);
    tsr_frame *lf = make_side(ctx, 1, &lt, 0, 400, 1200, -1, "s", 64, 11);
    tsr_frame *rf = make_side(ctx, 1, &rt, 200, 400, 1000, -1, "s", 64, 12);
    check_kinds(ctx, lf, rf, 1, 4, 0, 0);
    tsr_frame_destroy(&lf);
    tsr_frame_destroy(&rf);
    tsr_ctx_destroy(&ctx);
  }
  tsr_ctx *ctx = make_ctx(2);
  tsr_frame *lf = make_side(ctx, 1, &lt, 0, 400, 1500, -1, "s", 16, 13);
  tsr_frame *rf = make_side(ctx, 1, &rt, 200, 400, 1500, -1, "s", 16, 14);
  check_kinds(ctx, lf, rf, 1, 2, 25000, 2);
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  tsr_ctx_destroy(&ctx);
}

/* A string key against a dictionary key, and two dictionaries (a right
 * or full join merges them). */
static void test_string_keys(void **state) {
  (void)state;
  tsr_ctx *ctx = make_ctx(2);
  tsr_type st = {TSR_COL_STRING, 0}, dt = {TSR_COL_DICT, 0};
  tsr_frame *lf = make_side(ctx, 1, &st, 0, 60, 2000, -1, "ls", 64, 21);
  tsr_frame *rf = make_side(ctx, 1, &dt, 30, 60, 1500, -1, "rs", 64, 22);
  check_kinds(ctx, lf, rf, 1, 4, 0, 0);
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  lf = make_side(ctx, 1, &dt, 0, 50, 800, -1, "ls", 16, 23);
  rf = make_side(ctx, 1, &dt, 20, 50, 800, -1, "rs", 16, 24);
  check_kinds(ctx, lf, rf, 1, 4, 0, 0);
  check_kinds(ctx, lf, rf, 1, 2, 12000, 2);
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  tsr_ctx_destroy(&ctx);
}

/* Two keys (a string and integers of two widths); float32 against float64
 * with NaN and -0.0. */
static void test_two_keys_floats(void **state) {
  (void)state;
  tsr_ctx *ctx = make_ctx(2);
  tsr_type lt[2] = {{TSR_COL_STRING, 0}, {TSR_COL_INT16, 0}};
  tsr_type rt[2] = {{TSR_COL_STRING, 0}, {TSR_COL_INT32, 0}};
  tsr_frame *lf = make_side(ctx, 2, lt, 0, 8, 1500, -1, "s", 64, 31);
  tsr_frame *rf = make_side(ctx, 2, rt, 3, 8, 1500, -1, "s", 64, 32);
  check_kinds(ctx, lf, rf, 2, 4, 0, 0);
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  tsr_type ft = {TSR_COL_FLOAT32, 0}, dt = {TSR_COL_FLOAT64, 0};
  lf = make_side(ctx, 1, &ft, 0, 30, 1500, -1, "s", 16, 33);
  rf = make_side(ctx, 1, &dt, 0, 30, 1000, -1, "s", 16, 34);
  check_kinds(ctx, lf, rf, 1, 4, 0, 0);
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  tsr_ctx_destroy(&ctx);
}

/* Half the left rows one key (the right has it in about 1 row of 300):
 * its partition is joined in pieces; then half the right rows too (the
 * hot partition can only be cut by chunks). */
static void test_skew(void **state) {
  (void)state;
  tsr_ctx *ctx = make_ctx(2);
  tsr_type t = {TSR_COL_INT64, 0};
  tsr_frame *lf = make_side(ctx, 1, &t, 0, 300, 2000, 7, "s", 16, 41);
  tsr_frame *rf = make_side(ctx, 1, &t, 0, 300, 1500, -1, "s", 16, 42);
  check_kinds(ctx, lf, rf, 1, 4, 0, 0);
  check_kinds(ctx, lf, rf, 1, 4, 30000, 1);
  tsr_frame *rh = make_side(ctx, 1, &t, 0, 300, 120, 7, "s", 16, 43);
  check_kinds(ctx, lf, rh, 1, 4, 30000, 1);
  tsr_frame_destroy(&rh);
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  tsr_ctx_destroy(&ctx);
}

/* Through tsr_frame_join: under a limit the in-memory join cannot meet it
 * completes out of core with the in-memory result; under a limit far too
 * small it fails with a message, never crashes. */
static void test_memory_limit(void **state) {
  (void)state;
  tsr_ctx *ctx = make_ctx(2);
  tsr_type t = {TSR_COL_INT32, 0}, s = {TSR_COL_STRING, 0};
  tsr_frame *lf = make_side(ctx, 1, &t, 0, 40000, 40000, -1, "s", 64, 51);
  tsr_frame *rf = make_side(ctx, 1, &t, 0, 40000, 30000, -1, "s", 64, 52);
  tsr_frame *ls = make_side(ctx, 1, &s, 0, 30000, 30000, 5, "ls", 64, 53);
  tsr_frame *rs = make_side(ctx, 1, &s, 0, 30000, 20000, -1, "rs", 64, 54);
  const char *on[1] = {"k0"};
  tsr_memory_stats ms;
  for (int q = 0; q < 6; q++) {
    for (int pair = q % 2; pair < 2; pair += 2) { /* each kind once, on ints or strings */
      tsr_frame *l = pair ? ls : lf, *r = pair ? rs : rf;
      tsr_frame *want = NULL, *got = NULL, *none = NULL;
      assert_ok(tsr__join_memory(l, r, kinds[q], 1, on, NULL, NULL, &want));
      assert_ok(tsr_ctx_memory_stats(ctx, &ms));
      const uint64_t limit = ms.current_bytes + (6u << 20);
      assert_ok(tsr_ctx_set_memory_limit(ctx, limit));
      assert_int_equal(tsr__join_memory(l, r, kinds[q], 1, on, NULL, NULL, &none), TSR_ENOMEM);
      assert_null(none);
      assert_ok(tsr_frame_join(l, r, kinds[q], 1, on, NULL, NULL, &got));
      tsr_frame_result *res = NULL; /* computed under the limit too */
      assert_ok(tsr_frame_compute(got, NULL, &res));
      tsr_frame_result_destroy(&res);
      assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
      assert_same(want, got);
      tsr_frame_destroy(&want);
      tsr_frame_destroy(&got);
    }
  }
  /* far too small */
  assert_ok(tsr_ctx_memory_stats(ctx, &ms));
  assert_ok(tsr_ctx_set_memory_limit(ctx, ms.current_bytes + 4096));
  tsr_frame *got = NULL;
  tsr_status st = tsr_frame_join(lf, rf, TSR_JOIN_INNER, 1, on, NULL, NULL, &got);
  assert_int_equal(st, TSR_ENOMEM);
  assert_null(got);
  assert_non_null(strstr(tsr_last_error(), "tsr_frame_join"));
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  tsr_frame_destroy(&ls);
  tsr_frame_destroy(&rs);
  tsr_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_int_keys),        cmocka_unit_test(test_string_keys),
      cmocka_unit_test(test_two_keys_floats), cmocka_unit_test(test_skew),
      cmocka_unit_test(test_memory_limit),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
