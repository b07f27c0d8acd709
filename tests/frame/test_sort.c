/* test_sort.c — tsr_frame_sort and tsr_frame_top_k against a naive stable
 * merge sort written in the test (sort_ref.h): random frames of every
 * column type with nulls, NaN, -0.0, ties, short and long strings and
 * dictionaries, zero and one rows, at least 64 ragged chunks, one to three
 * keys of any type in every direction and null placement; top-k against
 * the sort's first k rows; bitwise identical chunks for 1, 2 and 4
 * threads; a filtered (lazy) input; and the errors. */
#include <stdlib.h>
#include <string.h>

#include "frame/sort_ref.h"

static tsr_frame *make_frame(tsr_ctx *ctx, const ref_frame *ref, uint64_t seed) {
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, ref, 64, seed, &f));
  return f;
}

/* Sorts (or top-k when k >= 0) and checks against the naive sort. */
static void check_sort(tsr_frame *f, const ref_frame *ref, int nkeys, const tsr_sort_key *keys,
                       int64_t k) {
  tsr_frame *s = NULL;
  if (k < 0)
    assert_ok(tsr_frame_sort(f, nkeys, keys, &s));
  else
    assert_ok(tsr_frame_top_k(f, nkeys, keys, k, &s));
  int64_t *perm = sr_sorted_order(ref, nkeys, keys);
  int64_t n = k < 0 || k > ref->n ? ref->n : k;
  ref_frame want, got;
  sr_permute(ref, perm, n, &want);
  ref_frame_compute(s, &got);
  if (got.n != want.n)
    print_error("rows %lld, want %lld\n", (long long)got.n, (long long)want.n);
  ref_frame_assert_equal(&want, &got);
  ref_frame_free(&want);
  ref_frame_free(&got);
  free(perm);
  tsr_frame_destroy(&s);
}

static void random_keys(uint64_t *seed, int ncols, int nkeys, tsr_sort_key *keys,
                        char names[][32]) {
  for (int i = 0; i < nkeys; i++) {
    uint64_t x = fu_rand(seed);
    snprintf(names[i], 32, "c%d", (int)(x % (uint64_t)ncols));
    keys[i].column = names[i];
    keys[i].descending = (x >> 8) & 1;
    keys[i].nulls_first = (x >> 9) & 1;
  }
}

static void test_sort__random_frames(void **state) {
  tsr_ctx *ctx = *state;
  static const int64_t sizes[] = {0, 1, 2, 97, 700, 1500};
  uint64_t seed = 12345;
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    ref_frame ref;
    sr_frame_random(&ref, sizes[t], 15, 100 + t);
    tsr_frame *f = make_frame(ctx, &ref, 7 + t);
    for (int trial = 0; trial < 4; trial++) {
      tsr_sort_key keys[3];
      char names[3][32];
      int nkeys = 1 + trial % 3;
      random_keys(&seed, ref.ncols, nkeys, keys, names);
      check_sort(f, &ref, nkeys, keys, -1);
    }
    tsr_frame_destroy(&f);
    ref_frame_free(&ref);
  }
}

/* Every column type alone as the key, in all four directions and null
 * placements, and as the second key after a key with many ties. */
static void test_sort__every_type(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  sr_frame_random(&ref, 400, 20, 77);
  tsr_frame *f = make_frame(ctx, &ref, 3);
  for (int c = 0; c < ref.ncols; c++)
    for (int m = 0; m < 4; m++) {
      tsr_sort_key keys[2] = {{"c0", m == 3, m == 1}, {ref.cols[c].name, m & 1, (m >> 1) & 1}};
      if (m < 2)
        check_sort(f, &ref, 1, &keys[1], -1);
      else
        check_sort(f, &ref, 2, keys, -1); /* c0 is bool: few distinct values */
    }
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_sort__top_k(void **state) {
  tsr_ctx *ctx = *state;
  uint64_t seed = 99;
  static const int64_t sizes[] = {0, 1, 300, 1200};
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    int64_t n = sizes[t];
    ref_frame ref;
    sr_frame_random(&ref, n, 10, 500 + t);
    tsr_frame *f = make_frame(ctx, &ref, 11 + t);
    const int64_t ks[] = {0, 1, 2, 5, n / 3, n - 1, n, n + 5};
    for (size_t i = 0; i < sizeof ks / sizeof *ks; i++) {
      if (ks[i] < 0)
        continue;
      tsr_sort_key keys[2];
      char names[2][32];
      int nkeys = 1 + (int)(i % 2);
      random_keys(&seed, ref.ncols, nkeys, keys, names);
      check_sort(f, &ref, nkeys, keys, ks[i]);
    }
    tsr_frame_destroy(&f);
    ref_frame_free(&ref);
  }
}

/* Long strings whose first 16 bytes tie: the engine compares them whole. */
static void test_sort__long_string_ties(void **state) {
  tsr_ctx *ctx = *state;
  tsr_type types[2] = {{TSR_COL_STRING, 0}, {TSR_COL_INT32, 0}};
  ref_frame ref;
  ref_frame_random(&ref, 2, types, 1000, 10, 4242);
  uint64_t s = 5;
  for (int64_t r = 0; r < ref.n; r++) {
    if (!ref.cols[0].valid[r])
      continue;
    char buf[80];
    uint64_t x = fu_rand(&s);
    int len = 14 + (int)(x % 8); /* around the 16-byte prefix */
    snprintf(buf, sizeof buf, "%.*s%c%c", len, "same-prefix-0123456789abcdef", (char)('a' + (x >> 8) % 3),
             (x >> 12) % 2 ? 'q' : '\0');
    free(ref.cols[0].str[r]);
    ref.cols[0].str[r] = fu_strdup(buf);
    ((int32_t *)ref.cols[1].values)[r] = (int32_t)((x >> 20) % 3);
  }
  tsr_frame *f = make_frame(ctx, &ref, 8);
  for (int m = 0; m < 4; m++) {
    tsr_sort_key keys[2] = {{"c0", m & 1, (m >> 1) & 1}, {"c1", !(m & 1), false}};
    check_sort(f, &ref, 1, keys, -1);
    check_sort(f, &ref, 2, keys, -1);
    check_sort(f, &ref, 2, keys, 7);
    tsr_sort_key rev[2] = {keys[1], keys[0]};
    check_sort(f, &ref, 2, rev, -1);
  }
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

/* Every chunk of the sorted frame, bytes compared, for 1, 2 and 4 threads. */
static void test_sort__threads_bitwise(void **state) {
  (void)state;
  ref_frame ref;
  sr_frame_random(&ref, 2000, 10, 31337);
  tsr_sort_key keys[3] = {{"c11", false, false}, {"c10", true, true}, {"c3", false, false}};
  tsr_frame_result *results[3] = {NULL, NULL, NULL};
  tsr_frame *sorted[3] = {NULL, NULL, NULL};
  tsr_ctx *ctxs[3] = {NULL, NULL, NULL};
  static const int threads[3] = {1, 2, 4};
  for (int t = 0; t < 3; t++) {
    assert_ok(tsr_ctx_create(&ctxs[t]));
    assert_ok(tsr_ctx_set_threads(ctxs[t], threads[t]));
    tsr_frame *f = make_frame(ctxs[t], &ref, 17);
    /* The result reads the sorted frame's chunks in place: keep it. */
    assert_ok(tsr_frame_sort(f, 3, keys, &sorted[t]));
    assert_ok(tsr_frame_compute(sorted[t], NULL, &results[t]));
    tsr_frame_destroy(&f);
  }
  for (int t = 1; t < 3; t++) {
    assert_int_equal(tsr_frame_result_nchunks(results[t]), tsr_frame_result_nchunks(results[0]));
    for (int c = 0; c < ref.ncols; c++)
      for (int64_t ch = 0; ch < tsr_frame_result_nchunks(results[0]); ch++) {
        tsr_column_chunk a, b;
        assert_ok(tsr_frame_result_chunk(results[0], c, ch, &a));
        assert_ok(tsr_frame_result_chunk(results[t], c, ch, &b));
        assert_int_equal(a.rows, b.rows);
        assert_int_equal(a.null_count, b.null_count);
        size_t w = tsr_type_width(ref.cols[c].type);
        assert_memory_equal(a.values, b.values, (size_t)a.rows * w + (a.rows == 0));
        if (a.null_count > 0)
          assert_memory_equal(a.validity, b.validity, (size_t)(a.rows + 7) / 8);
        assert_int_equal(a.data_bytes, b.data_bytes);
        if (a.data_bytes > 0)
          assert_memory_equal(a.data, b.data, a.data_bytes);
      }
  }
  for (int t = 0; t < 3; t++) {
    tsr_frame_result_destroy(&results[t]);
    tsr_frame_destroy(&sorted[t]);
    tsr_ctx_destroy(&ctxs[t]);
  }
  ref_frame_free(&ref);
}

/* A lazy input whose row counts are unknown (a filter) is computed inside
 * the sort's first tasks. */
static void test_sort__filtered_input(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  sr_frame_random(&ref, 1200, 10, 2024);
  tsr_frame *f = make_frame(ctx, &ref, 23);
  tsr_frame *g = NULL, *s = NULL;
  assert_ok(tsr_frame_filter(f, "c3 > 0", &g));
  assert_int_equal(tsr_frame_nrows_known(g), -1);
  tsr_sort_key keys[2] = {{"c12", true, false}, {"c4", false, true}};
  assert_ok(tsr_frame_sort(g, 2, keys, &s));
  /* The reference: the kept rows, then sorted. */
  int64_t *keep = malloc(((size_t)ref.n + 1) * sizeof *keep), m = 0;
  for (int64_t r = 0; r < ref.n; r++)
    if (ref.cols[3].valid[r] && ((int32_t *)ref.cols[3].values)[r] > 0)
      keep[m++] = r;
  ref_frame sub, want, got;
  sr_permute(&ref, keep, m, &sub);
  int64_t *perm = sr_sorted_order(&sub, 2, keys);
  sr_permute(&sub, perm, m, &want);
  ref_frame_compute(s, &got);
  ref_frame_assert_equal(&want, &got);
  ref_frame_free(&want);
  ref_frame_free(&got);
  ref_frame_free(&sub);
  free(perm);
  free(keep);
  tsr_frame_destroy(&s);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_sort__errors(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  sr_frame_random(&ref, 10, 10, 1);
  tsr_frame *f = make_frame(ctx, &ref, 1);
  tsr_frame *out = NULL;
  tsr_sort_key bad = {"nope", false, false}, good = {"c1", false, false};
  assert_fails(tsr_frame_sort(f, 1, &bad, &out), TSR_EINVAL, "no column named 'nope'");
  assert_null(out);
  assert_fails(tsr_frame_sort(f, 0, &good, &out), TSR_EINVAL, "nkeys = 0");
  assert_fails(tsr_frame_sort(f, -1, &good, &out), TSR_EINVAL, "nkeys = -1");
  assert_fails(tsr_frame_sort(f, 1, NULL, &out), TSR_EINVAL, "keys is NULL");
  assert_fails(tsr_frame_top_k(f, 1, &good, -1, &out), TSR_EINVAL, "k = -1 is negative");
  assert_fails(tsr_frame_top_k(f, 1, &bad, 3, &out), TSR_EINVAL, "no column named 'nope'");
  assert_fails(tsr_frame_top_k(f, 0, &good, 3, &out), TSR_EINVAL, "nkeys = 0");
  assert_fails(tsr_frame_sort(NULL, 1, &good, &out), TSR_EINVAL, "frame is NULL");
  assert_null(out);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

/* Out of memory at every allocation along a sort: TSR_ENOMEM, no leak. */
static void test_sort__out_of_memory(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  sr_frame_random(&ref, 120, 10, 8);
  tsr_sort_key keys[2] = {{"c11", false, false}, {"c10", true, false}};
  int failures = 0;
  for (uint64_t n = 1; n < 400; n++) {
    tsr_frame *f = NULL;
    assert_ok(ref_frame_to_frame(ctx, &ref, 8, 2, &f));
    tsr_frame *s = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_status st = tsr_frame_sort(f, 2, keys, &s);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_frame_destroy(&s);
    tsr_frame_destroy(&f);
    if (st == TSR_OK)
      break;
    assert_int_equal(st, TSR_ENOMEM);
    failures++;
  }
  assert_true(failures > 10);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sort__random_frames, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sort__every_type, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sort__top_k, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sort__long_string_ties, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sort__threads_bitwise, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sort__filtered_input, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sort__errors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sort__out_of_memory, test_ctx_setup,
                                      test_ctx_teardown),
  };
  if (getenv("TSR_TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("TSR_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
