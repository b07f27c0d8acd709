/* test_sizes.c — size arithmetic at its limits: every call that makes an
 * array whose element count or byte size does not fit int64 fails with
 * TSR_EINVAL and a message naming the call and the shape, instead of
 * wrapping (a one-chunk array of 2^61 + 1 float64 elements wrapped its chunk
 * size to 8 bytes and the fill kernel wrote past it; a sum over it ran for
 * ever).  Creation calls, dtype changes, joins, products and reductions'
 * partial states are each checked; arrays just under the bound are still
 * made (lazily: nothing here computes a large array). */
#include "test_util.h"

#define BIG (((int64_t)1 << 61) + 1) /* x 8 bytes wraps uint64 */

static void test_sizes__creation_refuses_too_many_bytes(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = NULL;
  int64_t shape[1] = {BIG}, whole[1] = {-1};
  const char *shape_text = "(2305843009213693953,)";
  assert_fails(tsr_array_full(ctx, TSR_FLOAT64, 1, shape, whole, 2.0, &a), TSR_EINVAL,
               "tsr_array_full");
  assert_non_null(strstr(tsr_last_error(), shape_text));
  assert_non_null(strstr(tsr_last_error(), "too big"));
  assert_null(a);
  assert_fails(tsr_array_zeros(ctx, TSR_FLOAT64, 1, shape, whole, &a), TSR_EINVAL, shape_text);
  assert_fails(tsr_array_ones(ctx, TSR_FLOAT64, 1, shape, NULL, &a), TSR_EINVAL, shape_text);
  assert_fails(tsr_array_empty(ctx, TSR_FLOAT64, 1, shape, whole, &a), TSR_EINVAL,
               "tsr_array_empty");
  assert_fails(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 1, 1, shape, whole, &a), TSR_EINVAL,
               "tsr_array_random");
  assert_fails(tsr_array_linspace(ctx, TSR_FLOAT64, 0, 1, BIG, true, -1, &a), TSR_EINVAL,
               "tsr_array_linspace");
  assert_fails(tsr_array_eye(ctx, TSR_FLOAT64, (int64_t)1 << 31, (int64_t)1 << 31, 0, NULL, &a),
               TSR_EINVAL, "(2147483648, 2147483648)");
  assert_fails(tsr_array_arange(ctx, TSR_FLOAT64, 0, (double)BIG, 1, -1, &a), TSR_EINVAL,
               "tsr_array_arange");
  double dummy[1] = {0};
  assert_fails(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, shape, whole, dummy, TSR_BUFFER_BORROW,
                                     NULL, NULL, &a),
               TSR_EINVAL, "tsr_array_from_buffer");
  /* An element count over int64 (2^62 x 4), named as such. */
  int64_t over[2] = {(int64_t)1 << 62, 4};
  assert_fails(tsr_array_zeros(ctx, TSR_INT8, 2, over, NULL, &a), TSR_EINVAL,
               "(4611686018427387904, 4) has too many elements");
  /* A zero extent does not hide it (NumPy refuses (0, 2^62, 4) too). */
  int64_t zero_over[3] = {0, (int64_t)1 << 62, 4};
  assert_fails(tsr_array_zeros(ctx, TSR_INT8, 3, zero_over, NULL, &a), TSR_EINVAL,
               "too many elements");
  assert_null(a);
  /* Just under the bound: 2^60 float64 elements (2^63 - 8 bytes would be
   * the limit) in chunks, or 2^63 - 1 one-byte elements, are fine lazily. */
  int64_t ok_shape[1] = {((int64_t)1 << 60) - 1}, chunk[1] = {(int64_t)1 << 40};
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 1, ok_shape, chunk, &a));
  assert_int_equal(tsr_array_nbytes(a), (uint64_t)ok_shape[0] * 8);
  tsr_array_destroy(&a);
  int64_t max_bytes[1] = {INT64_MAX}, max_chunk[1] = {(int64_t)1 << 50};
  assert_ok(tsr_array_zeros(ctx, TSR_INT8, 1, max_bytes, max_chunk, &a));
  tsr_array_destroy(&a);
}

/* The example of the issue: computing from the one-chunk array was heap
 * corruption (fill) or a hang (sum); now the array is never made, and a
 * slice or a sum of it fails cleanly at the first call. */
static void test_sizes__one_huge_chunk_is_refused_not_filled(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[1] = {BIG}, whole[1] = {-1};
  tsr_array *a = NULL;
  assert_fails(tsr_array_ones(ctx, TSR_FLOAT64, 1, shape, whole, &a), TSR_EINVAL, "too big");
  /* The same count of one-byte elements is a valid array; computing a
   * slice of a 2^58-byte chunk fails cleanly on the memory limit. */
  assert_ok(tsr_ctx_set_memory_limit(ctx, (uint64_t)64 << 20));
  int64_t chunk[1] = {(int64_t)1 << 58};
  assert_ok(tsr_array_ones(ctx, TSR_INT8, 1, shape, chunk, &a));
  tsr_array *s = NULL;
  tsr_index ix = TSR_SLICE(5, 8, 1);
  assert_ok(tsr_slice(a, 1, &ix, &s));
  int8_t out[3] = {0};
  assert_fails(tsr_array_to_buffer(s, out, sizeof out), TSR_ENOMEM, "memory limit");
  tsr_array_destroy(&s);
  /* ... but converting it to float64 cannot be represented. */
  tsr_array *f = NULL;
  assert_fails(tsr_astype(a, TSR_FLOAT64, &f), TSR_EINVAL, "(2305843009213693953,)");
  assert_null(f);
  tsr_array_destroy(&a);
}

static void test_sizes__joins_and_products_check_the_result(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[1] = {(int64_t)1 << 61}, whole[1] = {-1};
  tsr_array *x = NULL, *out = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_INT16, 1, shape, whole, &x)); /* 2^62 bytes */
  tsr_array *three[3] = {x, x, x};
  /* 3 x 2^61 elements fit int64; 3 x 2^62 bytes do not. */
  assert_fails(tsr_concatenate(3, three, 0, &out), TSR_EINVAL, "tsr_concatenate");
  assert_non_null(strstr(tsr_last_error(), "(6917529027641081856,)"));
  assert_fails(tsr_stack(3, three, 0, &out), TSR_EINVAL, "tsr_stack");
  assert_non_null(strstr(tsr_last_error(), "(3, 2305843009213693952)"));
  /* Four of them overflow the element count itself. */
  tsr_array *four[4] = {x, x, x, x};
  assert_fails(tsr_concatenate(4, four, 0, &out), TSR_EINVAL, "overflows int64");
  assert_null(out);
  tsr_array_destroy(&x);

  /* An outer product whose result has 2^64 elements. */
  int64_t n[1] = {(int64_t)1 << 32};
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 1, n, NULL, &x));
  assert_fails(tsr_tensordot(x, x, 0, NULL, NULL, &out), TSR_EINVAL, "tsr_tensordot");
  assert_non_null(strstr(tsr_last_error(), "(4294967296, 4294967296)"));
  assert_null(out);
  tsr_array_destroy(&x);

  /* A reshape to a shape whose product overflows is a size mismatch, not a
   * wrapped product that happens to match. */
  int64_t four_elems[1] = {4};
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 1, four_elems, NULL, &x));
  int64_t wrapping[3] = {(int64_t)1 << 62, 8, 2}; /* 2^66: overflows */
  assert_int_not_equal(tsr_reshape(x, 3, wrapping, &out), TSR_OK);
  assert_null(out);
  tsr_array_destroy(&x);
}

/* A reduction's partial results take nfields 8-byte words per output
 * element: var over int8 keeps 3, so its states may overflow even where
 * the result does not. */
static void test_sizes__reduction_state_is_checked(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {(int64_t)1 << 59, 2}, chunks[2] = {-1, -1};
  tsr_array *x = NULL, *v = NULL;
  assert_ok(tsr_array_ones(ctx, TSR_INT8, 2, shape, chunks, &x));
  int axis = 1;
  assert_fails(tsr_reduce(TSR_REDUCE_VAR, x, &axis, 1, NULL, &v), TSR_EINVAL,
               "(576460752303423488,)");
  assert_null(v);
  /* sum keeps one word: 2^59 x 8 bytes fit. */
  assert_ok(tsr_sum(x, &axis, 1, false, &v));
  tsr_array_destroy(&v);
  tsr_array_destroy(&x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sizes__creation_refuses_too_many_bytes, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sizes__one_huge_chunk_is_refused_not_filled,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sizes__joins_and_products_check_the_result,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sizes__reduction_state_is_checked, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
