/* test_reduce.c — column reductions (tsr_frame_reduce_f64) against naive
 * references over random frames of every numeric type with nulls in at
 * least 64 ragged chunks: counts, integer sums and min/max exactly, float
 * sums, means and variances to a tight tolerance; bitwise the same with 1
 * and 2 threads and for any chunking of the same rows combined the same
 * way; integer overflow; strings; empty frames. */
#include <math.h>

#include "frame_util.h"

#define NROWS 3000

static double reduce(tsr_frame *f, const char *name, tsr_col_reduce op, int ddof, bool *null) {
  double v = 0;
  assert_ok(tsr_frame_reduce_f64(f, name, op, ddof, &v, null));
  return v;
}

static void close_to(double got, long double want, const char *what) {
  long double err = fabsl((long double)got - want), scale = fabsl(want) > 1 ? fabsl(want) : 1;
  if (err > 1e-9L * scale)
    print_error("%s: %.17g, want %.17Lg\n", what, got, want);
  assert_true(err <= 1e-9L * scale);
}

static void test_reduce__every_type_matches_the_reference(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, NROWS, 12, 5);
  assert_ok(ref_frame_to_frame(ctx, &ref, 64, 6, &f));
  assert_true(tsr_frame_nchunks(f) >= 64);
  for (int i = 0; i < TSR_NUM_COLTYPES; i++) {
    const ref_col *c = &ref.cols[i];
    int64_t count = 0, nulls = 0;
    long double sum = 0, mn = INFINITY, mx = -INFINITY;
    for (int64_t r = 0; r < ref.n; r++) {
      if (!c->valid[r]) {
        nulls++;
        continue;
      }
      count++;
      if (c->str == NULL) {
        long double x = ref_num_at(c, r);
        sum += x;
        mn = x < mn ? x : mn;
        mx = x > mx ? x : mx;
      }
    }
    bool null = true;
    assert_true(reduce(f, c->name, TSR_COL_COUNT, 0, &null) == (double)count);
    assert_false(null);
    assert_true(reduce(f, c->name, TSR_COL_NULL_COUNT, 0, NULL) == (double)nulls);
    if (c->str != NULL) {
      double v;
      assert_fails(tsr_frame_reduce_f64(f, c->name, TSR_COL_SUM, 0, &v, NULL), TSR_EDTYPE,
                   "holds strings");
      continue;
    }
    assert_true(reduce(f, c->name, TSR_COL_MIN, 0, &null) == (double)mn);
    assert_true(reduce(f, c->name, TSR_COL_MAX, 0, &null) == (double)mx);
    if (c->type.id == TSR_COL_DATE || c->type.id == TSR_COL_TIMESTAMP) {
      double v;
      assert_fails(tsr_frame_reduce_f64(f, c->name, TSR_COL_SUM, 0, &v, NULL), TSR_EDTYPE,
                   "needs numbers");
      continue;
    }
    long double mean = sum / count, m2 = 0;
    for (int64_t r = 0; r < ref.n; r++)
      if (c->valid[r])
        m2 += (ref_num_at(c, r) - mean) * (ref_num_at(c, r) - mean);
    double s = reduce(f, c->name, TSR_COL_SUM, 0, &null);
    if (c->type.id < TSR_COL_FLOAT32)
      assert_true(s == (double)sum); /* integers: exact */
    else
      close_to(s, sum, c->name);
    close_to(reduce(f, c->name, TSR_COL_MEAN, 0, NULL), mean, c->name);
    close_to(reduce(f, c->name, TSR_COL_VAR, 0, NULL), m2 / count, c->name);
    close_to(reduce(f, c->name, TSR_COL_VAR, 1, NULL), m2 / (count - 1), c->name);
    close_to(reduce(f, c->name, TSR_COL_STD, 1, NULL), sqrtl(m2 / (count - 1)), c->name);
  }
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

/* Bitwise the same with 1 and 2 threads. */
static void test_reduce__threads_agree_bitwise(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL;
  ref_frame_random(&ref, 11, fu_types, NROWS, 5, 8);
  assert_ok(ref_frame_to_frame(ctx, &ref, 64, 9, &f));
  const char *names[3] = {"c9", "c10", "c4"};
  for (int k = 0; k < 3; k++)
    for (int op = TSR_COL_SUM; op <= TSR_COL_STD; op++) {
      assert_ok(tsr_ctx_set_threads(ctx, 1));
      double a = reduce(f, names[k], (tsr_col_reduce)op, 1, NULL);
      assert_ok(tsr_ctx_set_threads(ctx, 2));
      for (int rep = 0; rep < 3; rep++) {
        double b = reduce(f, names[k], (tsr_col_reduce)op, 1, NULL);
        assert_memory_equal(&a, &b, sizeof a);
      }
    }
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_reduce__overflow_nulls_and_empty(void **state) {
  tsr_ctx *ctx = *state;
  int64_t big[4] = {INT64_MAX, 1, -2, INT64_MAX};
  uint64_t ubig[3] = {UINT64_MAX, 1, 0};
  double nan_vals[3] = {1.0, NAN, -1.0};
  uint8_t none[1] = {0};
  tsr_column_data cd[4] = {
      {.name = "i", .type = {TSR_COL_INT64, 0}, .length = 3, .values = big},
      {.name = "u", .type = {TSR_COL_UINT64, 0}, .length = 3, .values = ubig},
      {.name = "n", .type = {TSR_COL_FLOAT64, 0}, .length = 3, .values = nan_vals},
      {.name = "z", .type = {TSR_COL_INT64, 0}, .length = 3, .values = big, .validity = none}};
  tsr_frame *f = NULL, *g = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 4, cd, 1, TSR_BUFFER_BORROW, NULL, NULL, &f));
  double v;
  bool null;
  /* INT64_MAX + 1 - 2 fits although a running int64 sum would overflow. */
  assert_true(reduce(f, "i", TSR_COL_SUM, 0, NULL) == (double)(INT64_MAX - 1));
  assert_fails(tsr_frame_reduce_f64(f, "u", TSR_COL_SUM, 0, &v, NULL), TSR_EOVERFLOW,
               "the sum of column 'u' overflows uint64");
  cd[0].length = 4;
  cd[1].length = 4;
  cd[2].length = 4;
  cd[3].length = 4;
  uint64_t u4[4] = {1, 2, 3, 4};
  double n4[4] = {1, NAN, -1, 2};
  cd[1].values = u4;
  cd[2].values = n4;
  assert_ok(tsr_frame_from_columns(ctx, 4, cd, 3, TSR_BUFFER_BORROW, NULL, NULL, &g));
  assert_fails(tsr_frame_reduce_f64(g, "i", TSR_COL_SUM, 0, &v, NULL), TSR_EOVERFLOW,
               "the sum of column 'i' overflows int64");
  /* NaN: the largest value, and sums with it are NaN. */
  assert_true(reduce(g, "n", TSR_COL_MIN, 0, NULL) == -1.0);
  assert_true(isnan(reduce(g, "n", TSR_COL_MAX, 0, NULL)));
  assert_true(isnan(reduce(g, "n", TSR_COL_SUM, 0, NULL)));
  /* All null: count 0, the rest null. */
  assert_true(reduce(g, "z", TSR_COL_COUNT, 0, &null) == 0 && !null);
  assert_true(reduce(g, "z", TSR_COL_NULL_COUNT, 0, &null) == 4 && !null);
  for (int op = TSR_COL_SUM; op <= TSR_COL_STD; op++) {
    reduce(g, "z", (tsr_col_reduce)op, 0, &null);
    assert_true(null);
  }
  /* var with ddof >= count is null. */
  reduce(g, "u", TSR_COL_VAR, 4, &null);
  assert_true(null);
  assert_true(reduce(g, "u", TSR_COL_VAR, 3, &null) == 5.0 && !null);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  /* A frame of no rows and no chunks. */
  cd[0].length = cd[1].length = cd[2].length = cd[3].length = 0;
  assert_ok(tsr_frame_from_columns(ctx, 4, cd, 3, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_int_equal(tsr_frame_nchunks(f), 0);
  assert_true(reduce(f, "n", TSR_COL_COUNT, 0, &null) == 0 && !null);
  reduce(f, "n", TSR_COL_SUM, 0, &null);
  assert_true(null);
  reduce(f, "i", TSR_COL_MAX, 0, &null);
  assert_true(null);
  assert_fails(tsr_frame_reduce_f64(f, "n", TSR_COL_VAR, -1, &v, NULL), TSR_EINVAL, "ddof");
  assert_fails(tsr_frame_reduce_f64(f, "q", TSR_COL_VAR, 0, &v, NULL), TSR_EINVAL,
               "no column named 'q'");
  tsr_frame_destroy(&f);
}

/* Array columns (raw chunks) reduce too, and slices and concatenations of
 * them. */
static void test_reduce__array_columns(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = NULL;
  assert_ok(tsr_array_arange_i64(ctx, TSR_INT64, 0, 1000, 1, 37, &a));
  tsr_frame *f = NULL, *s = NULL, *c = NULL;
  const char *names[1] = {"x"};
  assert_ok(tsr_frame_from_arrays(1, &a, names, &f));
  assert_true(reduce(f, "x", TSR_COL_SUM, 0, NULL) == 999.0 * 1000 / 2);
  assert_true(reduce(f, "x", TSR_COL_MAX, 0, NULL) == 999.0);
  assert_ok(tsr_frame_slice(f, 100, 200, &s));
  assert_true(reduce(s, "x", TSR_COL_SUM, 0, NULL) == (100.0 + 199) * 100 / 2);
  tsr_frame *two[2] = {s, f};
  assert_ok(tsr_frame_concat(2, two, &c));
  assert_true(reduce(c, "x", TSR_COL_COUNT, 0, NULL) == 1100.0);
  assert_true(reduce(c, "x", TSR_COL_MEAN, 0, NULL) == (14950.0 + 499500.0) / 1100);
  tsr_frame_destroy(&c);
  tsr_frame_destroy(&s);
  tsr_frame_destroy(&f);
  tsr_array_destroy(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reduce__every_type_matches_the_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_reduce__threads_agree_bitwise, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_reduce__overflow_nulls_and_empty, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_reduce__array_columns, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
