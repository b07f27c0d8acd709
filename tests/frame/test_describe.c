/* test_describe.c — tsr_frame_describe and tsr_frame_describe_strings
 * against references computed in the test: count, mean and sample std in
 * long double (two passes), min and max by the sort's order (NaN above
 * every number), quartiles from a sorted copy with linear interpolation;
 * for strings count, distinct count, and the first-seen most frequent value
 * by naive counting.  Random frames of every column type with nulls, NaN,
 * infinities and ties in 64 or more ragged chunks, zero and one rows; a
 * hand-worked case; the float results bitwise identical for 1, 2 and 4
 * threads; and the errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frame/sort_ref.h"

static int cmp_ld(const void *a, const void *b) {
  long double x = *(const long double *)a, y = *(const long double *)b;
  bool nx = isnan(x), ny = isnan(y);
  if (nx || ny)
    return nx == ny ? 0 : nx ? 1 : -1;
  return x < y ? -1 : x > y;
}

static void assert_close(double got, long double want, long double scale, const char *what) {
  if (isnan(want)) {
    if (!isnan(got))
      print_error("%s: %.17g, want nan\n", what, got);
    assert_true(isnan(got));
  } else if (isinf(want)) {
    assert_true(got == (double)want);
  } else {
    long double tol = 1e-9L * (scale + 1);
    if (!(fabsl((long double)got - want) <= tol))
      fprintf(stderr, "%s: %.17g, want %.17Lg (scale %Lg)\n", what, got, want, scale);
    assert_true(fabsl((long double)got - want) <= tol);
  }
}

static bool numeric(tsr_coltype t) { return t >= TSR_COL_INT8 && t <= TSR_COL_FLOAT64; }

static void check_describe(tsr_frame *fr, const ref_frame *ref) {
  tsr_frame *r = NULL;
  assert_ok(tsr_frame_describe(fr, &r));
  ref_frame got;
  ref_frame_compute(r, &got);
  assert_int_equal(got.n, 8);
  static const char *const stats[8] = {"count", "mean", "std", "min", "25%", "50%", "75%", "max"};
  assert_string_equal(got.cols[0].name, "statistic");
  for (int k = 0; k < 8; k++)
    assert_string_equal(got.cols[0].str[k], stats[k]);
  int j = 1;
  long double *x = malloc(((size_t)ref->n + 1) * sizeof *x);
  for (int c = 0; c < ref->ncols; c++) {
    const ref_col *in = &ref->cols[c];
    if (!numeric(in->type.id))
      continue;
    const ref_col *o = &got.cols[j++];
    assert_string_equal(o->name, in->name);
    assert_int_equal(o->type.id, TSR_COL_FLOAT64);
    const double *v = (const double *)o->values;
    int64_t n = 0;
    long double sum = 0, mag = 0;
    for (int64_t i = 0; i < ref->n; i++)
      if (in->valid[i]) {
        x[n] = ref_num_at(in, i);
        sum += x[n];
        mag += isfinite(x[n]) ? fabsl(x[n]) : 0;
        n++;
      }
    assert_true(o->valid[0]);
    assert_true(v[0] == (double)n);
    for (int k = 1; k < 8; k++) {
      bool want_valid = k == 2 ? n > 1 : n > 0;
      if (o->valid[k] != want_valid)
        print_error("column %s statistic %s: valid %d\n", in->name, stats[k], o->valid[k]);
      assert_int_equal(o->valid[k], want_valid);
    }
    if (n == 0)
      continue;
    long double mean = sum / n, scale = mag / n;
    assert_close(v[1], mean, scale, "mean");
    if (n > 1) {
      long double ss = 0;
      for (int64_t i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
      assert_close(v[2], sqrtl(ss / (n - 1)), scale, "std");
    }
    qsort(x, (size_t)n, sizeof *x, cmp_ld);
    assert_close(v[3], x[0], scale, "min");
    assert_close(v[7], x[n - 1], scale, "max");
    static const long double qs[3] = {0.25L, 0.5L, 0.75L};
    for (int q = 0; q < 3; q++) {
      long double pos = qs[q] * (n - 1);
      int64_t lo = (int64_t)floorl(pos), hi = (int64_t)ceill(pos);
      long double d = pos - lo; /* DuckDB's lo (1 - d) + hi d: -inf with a finite hi is -inf */
      long double want = lo == hi ? x[lo] : x[lo] * (1 - d) + x[hi] * d;
      assert_close(v[4 + q], want, scale, stats[4 + q]);
    }
  }
  assert_int_equal(got.ncols, j);
  free(x);
  ref_frame_free(&got);
  tsr_frame_destroy(&r);
}

static void check_describe_strings(tsr_frame *fr, const ref_frame *ref) {
  tsr_frame *r = NULL;
  assert_ok(tsr_frame_describe_strings(fr, &r));
  ref_frame got;
  ref_frame_compute(r, &got);
  assert_int_equal(got.ncols, 5);
  int64_t row = 0;
  int64_t *cnt = malloc(((size_t)ref->n + 1) * sizeof *cnt);
  for (int c = 0; c < ref->ncols; c++) {
    const ref_col *in = &ref->cols[c];
    if (in->type.id != TSR_COL_STRING && in->type.id != TSR_COL_DICT)
      continue;
    assert_string_equal(got.cols[0].str[row], in->name);
    int64_t count = 0, unique = 0, top = -1;
    for (int64_t i = 0; i < ref->n; i++) {
      cnt[i] = 0;
      if (!in->valid[i])
        continue;
      count++;
      int64_t f = i;
      for (int64_t j = 0; j < i; j++)
        if (in->valid[j] && strcmp(in->str[j], in->str[i]) == 0) {
          f = j;
          break;
        }
      unique += f == i;
      cnt[f]++;
      if (top < 0 || cnt[f] > cnt[top] || (cnt[f] == cnt[top] && f < top))
        top = f;
    }
    const int64_t *gc = (const int64_t *)got.cols[1].values, *gu = (const int64_t *)got.cols[2].values,
                  *gf = (const int64_t *)got.cols[4].values;
    assert_int_equal(gc[row], count);
    assert_int_equal(gu[row], unique);
    assert_int_equal(got.cols[3].valid[row], count > 0);
    assert_int_equal(got.cols[4].valid[row], count > 0);
    if (count > 0) {
      assert_string_equal(got.cols[3].str[row], in->str[top]);
      assert_int_equal(gf[row], cnt[top]);
    }
    row++;
  }
  assert_int_equal(got.n, row);
  free(cnt);
  ref_frame_free(&got);
  tsr_frame_destroy(&r);
}

static void test_describe__random_frames(void **state) {
  tsr_ctx *ctx = *state;
  static const int64_t sizes[] = {0, 1, 2, 9, 500};
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    for (int special = 0; special < 2; special++) {
      ref_frame ref;
      if (special)
        sr_frame_random(&ref, sizes[t], 20, 80 + t);
      else
        ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, sizes[t], 10, 90 + t);
      tsr_frame *f = NULL;
      assert_ok(ref_frame_to_frame(ctx, &ref, 64, 4 + t, &f));
      check_describe(f, &ref);
      check_describe_strings(f, &ref);
      tsr_frame_destroy(&f);
      ref_frame_free(&ref);
    }
  }
}

/* v = [4, 1, null, 3, 2]: count 4, mean 2.5, std sqrt(5/3), min 1, 25% 1.75,
 * 50% 2.5, 75% 3.25, max 4; s = [b, a, null, b, a]: top b (first seen). */
static void test_describe__hand_worked(void **state) {
  tsr_ctx *ctx = *state;
  int32_t v[5] = {4, 1, 0, 3, 2};
  uint8_t valid[1] = {0x1b};
  int64_t off[6] = {0, 1, 2, 2, 3, 4};
  tsr_column_data cols[2] = {
      {.name = "v", .type = {TSR_COL_INT32, 0}, .length = 5, .values = v, .validity = valid},
      {.name = "s", .type = {TSR_COL_STRING, 0}, .length = 5, .offsets = off, .data = "baba",
       .validity = valid},
  };
  tsr_frame *f = NULL, *r = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, cols, 2, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_ok(tsr_frame_describe(f, &r));
  ref_frame got;
  ref_frame_compute(r, &got);
  assert_int_equal(got.ncols, 2);
  const double want[8] = {4, 2.5, sqrt(5.0 / 3.0), 1, 1.75, 2.5, 3.25, 4};
  for (int k = 0; k < 8; k++)
    assert_true(fabs(((const double *)got.cols[1].values)[k] - want[k]) < 1e-15);
  ref_frame_free(&got);
  tsr_frame_destroy(&r);
  assert_ok(tsr_frame_describe_strings(f, &r));
  ref_frame_compute(r, &got);
  assert_int_equal(got.n, 1);
  assert_string_equal(got.cols[3].str[0], "b");
  assert_int_equal(((const int64_t *)got.cols[1].values)[0], 4);
  assert_int_equal(((const int64_t *)got.cols[2].values)[0], 2);
  assert_int_equal(((const int64_t *)got.cols[4].values)[0], 2);
  ref_frame_free(&got);
  tsr_frame_destroy(&r);
  /* No numeric, no string column. */
  const char *sv[1] = {"s"}, *vv[1] = {"v"};
  tsr_frame *only = NULL;
  assert_ok(tsr_frame_select(f, 1, sv, &only));
  assert_fails(tsr_frame_describe(only, &r), TSR_EINVAL, "no numeric column");
  tsr_frame_destroy(&only);
  assert_ok(tsr_frame_select(f, 1, vv, &only));
  assert_fails(tsr_frame_describe_strings(only, &r), TSR_EINVAL, "no string");
  assert_null(r);
  tsr_frame_destroy(&only);
  tsr_frame_destroy(&f);
}

static void test_describe__threads(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 30000, 10, 12);
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 64, 9, &f));
  ref_frame first;
  for (int threads = 1; threads <= 4; threads *= 2) {
    assert_ok(tsr_ctx_set_threads(ctx, threads));
    tsr_frame *r = NULL;
    assert_ok(tsr_frame_describe(f, &r));
    ref_frame got;
    ref_frame_compute(r, &got);
    tsr_frame_destroy(&r);
    if (threads == 1) {
      first = got;
      continue;
    }
    for (int c = 1; c < got.ncols; c++)
      assert_memory_equal(first.cols[c].values, got.cols[c].values, 8 * 8);
    ref_frame_free(&got);
  }
  ref_frame_free(&first);
  assert_ok(tsr_ctx_set_threads(ctx, 1));
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_describe__random_frames, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_describe__hand_worked, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_describe__threads, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
