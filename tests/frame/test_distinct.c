/* test_distinct.c — tsr_frame_distinct and tsr_frame_value_counts against
 * naive O(n^2) references written in the test: a row is the first of its
 * combination when no earlier row equals it on the columns (null equal to
 * null, NaN to NaN, -0.0 to 0.0, strings and dictionaries by text); random
 * frames of every column type with nulls, NaN, -0.0 and ties in 64 or more
 * ragged chunks, zero and one rows; hand-worked cases; and the errors. */
#include <stdlib.h>
#include <string.h>

#include "frame/sort_ref.h"

/* Rows equal on the columns. */
static bool rows_equal(const ref_frame *f, int n, const int *cols, int64_t a, int64_t b) {
  for (int i = 0; i < n; i++)
    if (sr_cmp_key(&f->cols[cols[i]], false, false, a, b) != 0)
      return false;
  return true;
}

/* The first rows of each combination, in order; counts[k] its rows. */
static int64_t firsts(const ref_frame *f, int n, const int *cols, bool drop_nulls, int64_t *out,
                      int64_t *counts) {
  int64_t m = 0;
  for (int64_t r = 0; r < f->n; r++) {
    bool null = false;
    for (int i = 0; i < n; i++)
      null |= !f->cols[cols[i]].valid[r];
    if (drop_nulls && null)
      continue;
    int64_t k = 0;
    while (k < m && !rows_equal(f, n, cols, out[k], r))
      k++;
    if (k == m) {
      out[m] = r;
      counts[m++] = 0;
    }
    counts[k]++;
  }
  return m;
}

static void check_distinct(tsr_frame *fr, const ref_frame *ref, int n, const int *cols) {
  const char *names[8];
  int all[32];
  for (int i = 0; i < n; i++)
    names[i] = ref->cols[cols[i]].name;
  if (n == 0)
    for (int i = 0; i < ref->ncols; i++)
      all[i] = i;
  int64_t *first = malloc(((size_t)ref->n + 1) * sizeof *first);
  int64_t *count = malloc(((size_t)ref->n + 1) * sizeof *count);
  int64_t m = firsts(ref, n ? n : ref->ncols, n ? cols : all, false, first, count);
  ref_frame want, got;
  sr_permute(ref, first, m, &want);
  tsr_frame *r = NULL;
  assert_ok(tsr_frame_distinct(fr, n, names, &r));
  ref_frame_compute(r, &got);
  ref_frame_assert_equal(&want, &got);
  ref_frame_free(&got);
  ref_frame_free(&want);
  tsr_frame_destroy(&r);
  free(first);
  free(count);
}

static void check_value_counts(tsr_frame *fr, const ref_frame *ref, int n, const int *cols,
                               bool keep_nulls) {
  const char *names[8];
  for (int i = 0; i < n; i++)
    names[i] = ref->cols[cols[i]].name;
  int64_t *first = malloc(((size_t)ref->n + 1) * sizeof *first);
  int64_t *count = malloc(((size_t)ref->n + 1) * sizeof *count);
  int64_t m = firsts(ref, n, cols, !keep_nulls, first, count);
  /* Stable insertion sort by count descending. */
  for (int64_t i = 1; i < m; i++)
    for (int64_t j = i; j > 0 && count[j - 1] < count[j]; j--) {
      int64_t t = count[j];
      count[j] = count[j - 1];
      count[j - 1] = t;
      t = first[j];
      first[j] = first[j - 1];
      first[j - 1] = t;
    }
  ref_frame want, got;
  sr_permute(ref, first, m, &want);
  tsr_frame *r = NULL;
  assert_ok(tsr_frame_value_counts(fr, n, names, keep_nulls, &r));
  ref_frame_compute(r, &got);
  assert_int_equal(got.ncols, n + 1);
  assert_int_equal(got.n, m);
  for (int i = 0; i < n; i++) {
    assert_string_equal(got.cols[i].name, names[i]);
    ref_col_assert_rows(&want.cols[cols[i]], 0, m, &got.cols[i]);
  }
  const ref_col *c = &got.cols[n];
  assert_string_equal(c->name, "count");
  assert_int_equal(c->type.id, TSR_COL_INT64);
  for (int64_t k = 0; k < m; k++) {
    int64_t v;
    memcpy(&v, c->values + (size_t)k * 8, 8);
    assert_int_equal(v, count[k]);
  }
  ref_frame_free(&got);
  ref_frame_free(&want);
  tsr_frame_destroy(&r);
  free(first);
  free(count);
}

static void test_distinct__random_frames(void **state) {
  tsr_ctx *ctx = *state;
  static const int64_t sizes[] = {0, 1, 9, 400};
  uint64_t seed = 3;
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    ref_frame ref;
    sr_frame_random(&ref, sizes[t], 20, 300 + t);
    /* Few distinct values: copy whole earlier rows into half the rows. */
    for (int64_t r = 1; r < ref.n; r++) {
      uint64_t x = fu_rand(&seed);
      if (x % 2)
        continue;
      int64_t src = (int64_t)((x >> 8) % (uint64_t)r);
      for (int i = 0; i < ref.ncols; i++) {
        ref_col *c = &ref.cols[i];
        size_t w = tsr_type_width(c->type);
        c->valid[r] = c->valid[src];
        memcpy(c->values + (size_t)r * w, c->values + (size_t)src * w, w);
        if (c->str != NULL) {
          free(c->str[r]);
          c->str[r] = fu_strdup(c->str[src]);
        }
      }
    }
    tsr_frame *f = NULL;
    assert_ok(ref_frame_to_frame(ctx, &ref, 64, 2 + t, &f));
    check_distinct(f, &ref, 0, NULL);
    for (int trial = 0; trial < 10; trial++) {
      int n = 1 + trial % 3, cols[3];
      for (int i = 0; i < n; i++) {
        bool dup;
        do { /* distinct columns */
          cols[i] = (int)(fu_rand(&seed) % (uint64_t)ref.ncols);
          dup = false;
          for (int j = 0; j < i; j++)
            dup |= cols[j] == cols[i];
        } while (dup);
      }
      check_distinct(f, &ref, n, cols);
      check_value_counts(f, &ref, n, cols, trial % 2 == 0);
    }
    tsr_frame_destroy(&f);
    ref_frame_free(&ref);
  }
}

/* x = [2, 1, 2, null, 1, 2, null], y = [a, b, c, d, e, f, g]. */
static void test_distinct__hand_worked(void **state) {
  tsr_ctx *ctx = *state;
  double x[7] = {2, 1, 2, 0, 1, 2, 0};
  uint8_t xvalid[1] = {0x37};
  int64_t off[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  tsr_column_data cols[2] = {
      {.name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = 7, .values = x, .validity = xvalid},
      {.name = "y", .type = {TSR_COL_STRING, 0}, .length = 7, .offsets = off, .data = "abcdefg"},
  };
  tsr_frame *f = NULL, *r = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, cols, 3, TSR_BUFFER_BORROW, NULL, NULL, &f));
  const char *xn[1] = {"x"};
  assert_ok(tsr_frame_distinct(f, 1, xn, &r));
  ref_frame got;
  ref_frame_compute(r, &got);
  assert_int_equal(got.n, 3);
  assert_string_equal(got.cols[1].str[0], "a");
  assert_string_equal(got.cols[1].str[1], "b");
  assert_string_equal(got.cols[1].str[2], "d");
  assert_false(got.cols[0].valid[2]);
  ref_frame_free(&got);
  tsr_frame_destroy(&r);
  /* Counts 3 (2.0), 2 (1.0), 2 (null: kept only when asked). */
  for (int keep = 0; keep < 2; keep++) {
    assert_ok(tsr_frame_value_counts(f, 1, xn, keep, &r));
    ref_frame_compute(r, &got);
    assert_int_equal(got.n, 2 + keep);
    const int64_t *cnt = (const int64_t *)got.cols[1].values;
    const double *v = (const double *)got.cols[0].values;
    assert_true(v[0] == 2 && cnt[0] == 3);
    assert_true(v[1] == 1 && cnt[1] == 2);
    if (keep) {
      assert_false(got.cols[0].valid[2]);
      assert_int_equal(cnt[2], 2);
    }
    ref_frame_free(&got);
    tsr_frame_destroy(&r);
  }
  tsr_frame_destroy(&f);
}

static void test_distinct__errors(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  sr_frame_random(&ref, 10, 10, 1);
  tsr_frame *f = NULL, *out = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 1, 1, &f));
  const char *bad[1] = {"zz"}, *twice[2] = {"c1", "c1"};
  assert_fails(tsr_frame_distinct(f, 1, bad, &out), TSR_EINVAL, "no column named 'zz'");
  assert_fails(tsr_frame_distinct(f, 2, twice, &out), TSR_EINVAL, "given twice");
  assert_fails(tsr_frame_distinct(f, 1, NULL, &out), TSR_EINVAL, "ncols = 1");
  assert_fails(tsr_frame_value_counts(f, 0, NULL, false, &out), TSR_EINVAL, "give columns");
  assert_fails(tsr_frame_value_counts(f, 1, bad, false, &out), TSR_EINVAL, "no column named");
  assert_null(out);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_distinct__random_frames, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_distinct__hand_worked, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_distinct__errors, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
