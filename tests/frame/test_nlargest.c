/* test_nlargest.c — tsr_frame_nlargest / tsr_frame_nsmallest against a
 * naive stable merge sort of the rows in the test (every key descending,
 * resp. ascending, nulls last) cut to n rows: random frames of every column
 * type with nulls, NaN, -0.0 and ties in 64 or more ragged chunks, zero and
 * one rows, n from 0 past the row count; a hand-worked case (ties in row
 * order, NaN and null after every number); and the errors. */
#include <stdlib.h>
#include <string.h>

#include "frame/sort_ref.h"

static void check(tsr_frame *fr, const ref_frame *ref, int n, const int *cols, int64_t k,
                  bool largest) {
  const char *names[4];
  tsr_sort_key keys[4];
  for (int i = 0; i < n; i++) {
    names[i] = ref->cols[cols[i]].name;
    keys[i] = (tsr_sort_key){names[i], largest, false};
  }
  int64_t *order = sr_sorted_order(ref, n, keys);
  int64_t m = k < ref->n ? k : ref->n;
  ref_frame want, got;
  sr_permute(ref, order, m, &want);
  tsr_frame *r = NULL;
  if (largest)
    assert_ok(tsr_frame_nlargest(fr, k, n, names, &r));
  else
    assert_ok(tsr_frame_nsmallest(fr, k, n, names, &r));
  ref_frame_compute(r, &got);
  ref_frame_assert_equal(&want, &got);
  ref_frame_free(&got);
  ref_frame_free(&want);
  tsr_frame_destroy(&r);
  free(order);
}

static void test_nlargest__random_frames(void **state) {
  tsr_ctx *ctx = *state;
  static const int64_t sizes[] = {0, 1, 6, 500};
  uint64_t seed = 17;
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    ref_frame ref;
    sr_frame_random(&ref, sizes[t], 15, 40 + t);
    tsr_frame *f = NULL;
    assert_ok(ref_frame_to_frame(ctx, &ref, 64, 6 + t, &f));
    for (int trial = 0; trial < 12; trial++) {
      int n = 1 + trial % 2, cols[2];
      for (int i = 0; i < n; i++)
        cols[i] = (int)(fu_rand(&seed) % (uint64_t)ref.ncols);
      static const int64_t ks[] = {0, 1, 3, 10, 100, 1000};
      check(f, &ref, n, cols, ks[trial % 6], trial % 4 < 2);
    }
    tsr_frame_destroy(&f);
    ref_frame_free(&ref);
  }
}

/* v = [3, 5, 5, 1, null, NaN, 1]. */
static void test_nlargest__hand_worked(void **state) {
  tsr_ctx *ctx = *state;
  double v[7] = {3, 5, 5, 1, 0, NAN, 1};
  int32_t id[7] = {0, 1, 2, 3, 4, 5, 6};
  uint8_t valid[1] = {0x6f};
  tsr_column_data cols[2] = {
      {.name = "v", .type = {TSR_COL_FLOAT64, 0}, .length = 7, .values = v, .validity = valid},
      {.name = "id", .type = {TSR_COL_INT32, 0}, .length = 7, .values = id},
  };
  tsr_frame *f = NULL, *r = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, cols, 2, TSR_BUFFER_BORROW, NULL, NULL, &f));
  const char *vn[1] = {"v"};
  static const int32_t large[7] = {5, 1, 2, 0, 3, 6, 4}, small[7] = {3, 6, 0, 1, 2, 5, 4};
  for (int k = 0; k <= 7; k++)
    for (int l = 0; l < 2; l++) {
      assert_ok(l ? tsr_frame_nlargest(f, k, 1, vn, &r) : tsr_frame_nsmallest(f, k, 1, vn, &r));
      ref_frame got;
      ref_frame_compute(r, &got);
      assert_int_equal(got.n, k);
      for (int i = 0; i < k; i++)
        assert_int_equal(((const int32_t *)got.cols[1].values)[i], l ? large[i] : small[i]);
      ref_frame_free(&got);
      tsr_frame_destroy(&r);
    }
  const char *bad[1] = {"zz"};
  assert_fails(tsr_frame_nlargest(f, -1, 1, vn, &r), TSR_EINVAL, "n = -1 is negative");
  assert_fails(tsr_frame_nsmallest(f, 1, 0, vn, &r), TSR_EINVAL, "give columns");
  assert_fails(tsr_frame_nlargest(f, 1, 1, bad, &r), TSR_EINVAL, "'zz'");
  assert_null(r);
  tsr_frame_destroy(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_nlargest__random_frames, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_nlargest__hand_worked, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
