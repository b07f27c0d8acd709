/* test_int_scalars.c — the integer variants of the calls that take a
 * scalar (tsr_array_full_i64/_u64, tsr_array_arange_i64,
 * tsr_binary_scalar_i64/_u64, tsr_scalar_binary_i64/_u64): exact above
 * 2^53, where a double cannot hold every integer, NumPy 2's bounds for
 * weak Python ints, and exact lengths for arange.  Expected values are
 * worked out by hand in the comments. */
#include <stdlib.h>

#include "test_util.h"

#define P53 9007199254740992LL /* 2^53 */

static void get_i64(tsr_array *a, int64_t *out, size_t n) {
  assert_int_equal(tsr_array_size(a), (int64_t)n);
  assert_ok(tsr_array_to_buffer(a, out, n * sizeof *out));
}

static void test_int_scalars__full(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = NULL;
  int64_t v[3];
  assert_ok(tsr_array_full_i64(ctx, TSR_INT64, 1, (int64_t[]){3}, NULL, P53 + 1, &a));
  get_i64(a, v, 3);
  for (int i = 0; i < 3; i++)
    assert_true(v[i] == P53 + 1); /* through a double it would be 2^53 */
  tsr_array_destroy(&a);
  assert_ok(tsr_array_full_i64(ctx, TSR_INT64, 0, NULL, NULL, INT64_MIN, &a));
  get_i64(a, v, 1);
  assert_true(v[0] == INT64_MIN);
  tsr_array_destroy(&a);
  uint64_t u[2];
  assert_ok(tsr_array_full_u64(ctx, TSR_UINT64, 1, (int64_t[]){2}, NULL, UINT64_MAX - 1, &a));
  assert_ok(tsr_array_to_buffer(a, u, sizeof u));
  assert_true(u[0] == UINT64_MAX - 1 && u[1] == UINT64_MAX - 1);
  tsr_array_destroy(&a);
  int8_t small[2];
  assert_ok(tsr_array_full_i64(ctx, TSR_INT8, 1, (int64_t[]){2}, NULL, -128, &a));
  assert_ok(tsr_array_to_buffer(a, small, sizeof small));
  assert_int_equal(small[0], -128);
  tsr_array_destroy(&a);
  double d;
  assert_ok(tsr_array_full_i64(ctx, TSR_FLOAT64, 0, NULL, NULL, P53 + 1, &a));
  assert_ok(tsr_array_to_buffer(a, &d, sizeof d));
  assert_true(d == 9007199254740992.0); /* rounded to nearest (even) */
  tsr_array_destroy(&a);
  /* Out of range for the dtype: refused, as NumPy 2 refuses the Python int. */
  assert_fails(tsr_array_full_i64(ctx, TSR_INT8, 1, (int64_t[]){2}, NULL, 128, &a), TSR_EINVAL,
               "tsr_array_full_i64: value 128 does not fit int8");
  assert_null(a);
  assert_fails(tsr_array_full_i64(ctx, TSR_UINT64, 1, (int64_t[]){2}, NULL, -1, &a), TSR_EINVAL,
               "value -1 does not fit uint64");
  assert_fails(
      tsr_array_full_u64(ctx, TSR_INT64, 1, (int64_t[]){2}, NULL, (uint64_t)INT64_MAX + 1, &a),
      TSR_EINVAL, "tsr_array_full_u64: value 9223372036854775808 does not fit int64");
}

static void test_int_scalars__arange(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = NULL;
  int64_t v[4];
  /* [2^53 + 1, 2^53 + 3): two elements (in doubles: four). */
  assert_ok(tsr_array_arange_i64(ctx, TSR_INT64, P53 + 1, P53 + 3, 1, 0, &a));
  get_i64(a, v, 2);
  assert_true(v[0] == P53 + 1 && v[1] == P53 + 2);
  tsr_array_destroy(&a);
  /* The whole int64 range in steps of 2^62: ceil((2^64 - 2) / 2^62) = 4. */
  assert_ok(
      tsr_array_arange_i64(ctx, TSR_INT64, INT64_MIN + 1, INT64_MAX, INT64_C(1) << 62, 0, &a));
  get_i64(a, v, 4);
  assert_true(v[0] == INT64_MIN + 1);
  assert_true(v[1] == INT64_MIN + 1 + (INT64_C(1) << 62));
  assert_true(v[2] == 1);
  assert_true(v[3] == (INT64_C(1) << 62) + 1);
  tsr_array_destroy(&a);
  /* Negative step: 10, 7, 4, 1 (ceil(-10 / -3) = 4); an empty range. */
  assert_ok(tsr_array_arange_i64(ctx, TSR_INT64, 10, -1, -3, 2, &a));
  get_i64(a, v, 4);
  assert_true(v[0] == 10 && v[1] == 7 && v[2] == 4 && v[3] == 1);
  tsr_array_destroy(&a);
  assert_ok(tsr_array_arange_i64(ctx, TSR_INT64, 5, 5, 1, 0, &a));
  assert_int_equal(tsr_array_size(a), 0);
  tsr_array_destroy(&a);
  assert_ok(tsr_array_arange_i64(ctx, TSR_INT64, 5, 9, -1, 0, &a));
  assert_int_equal(tsr_array_size(a), 0);
  tsr_array_destroy(&a);
  uint8_t b[3];
  assert_ok(tsr_array_arange_i64(ctx, TSR_UINT8, 253, 256, 1, 0, &a));
  assert_ok(tsr_array_to_buffer(a, b, sizeof b));
  assert_true(b[0] == 253 && b[2] == 255);
  tsr_array_destroy(&a);
  assert_fails(tsr_array_arange_i64(ctx, TSR_UINT8, 254, 257, 1, 0, &a), TSR_EINVAL,
               "values from 254 to 256 do not fit uint8");
  assert_fails(tsr_array_arange_i64(ctx, TSR_INT64, 0, 1, 0, 0, &a), TSR_EINVAL, "step is 0");
}

static void test_int_scalars__binary(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *x = NULL, *r = NULL;
  int64_t v[2];
  /* int64 nanosecond timestamps around 1.7e18 plus one nanosecond. */
  int64_t ts = INT64_C(1700000000000000001);
  assert_ok(tsr_array_full_i64(ctx, TSR_INT64, 1, (int64_t[]){2}, NULL, ts, &x));
  assert_ok(tsr_binary_scalar_i64(TSR_OP_ADD, x, 1, &r));
  get_i64(r, v, 2);
  assert_true(v[0] == ts + 1);
  tsr_array_destroy(&r);
  assert_ok(tsr_scalar_binary_i64(TSR_OP_SUB, ts + 5, x, &r)); /* (ts + 5) - x = 5 */
  get_i64(r, v, 2);
  assert_true(v[0] == 5 && v[1] == 5);
  tsr_array_destroy(&r);
  bool eq[2];
  assert_ok(tsr_binary_scalar_i64(TSR_OP_EQ, x, ts, &r)); /* a double would round ts */
  assert_ok(tsr_array_to_buffer(r, eq, sizeof eq));
  assert_true(eq[0] && eq[1]);
  tsr_array_destroy(&r);
  assert_ok(tsr_binary_scalar_i64(TSR_OP_EQ, x, ts + 1, &r));
  assert_ok(tsr_array_to_buffer(r, eq, sizeof eq));
  assert_true(!eq[0] && !eq[1]);
  tsr_array_destroy(&r);
  /* Out of int64's range: comparisons are exact, arithmetic is refused. */
  assert_ok(tsr_binary_scalar_u64(TSR_OP_LT, x, (uint64_t)INT64_MAX + 1, &r));
  assert_ok(tsr_array_to_buffer(r, eq, sizeof eq));
  assert_true(eq[0] && eq[1]);
  tsr_array_destroy(&r);
  assert_ok(tsr_scalar_binary_u64(TSR_OP_LT, (uint64_t)INT64_MAX + 1, x, &r)); /* 2^63 < x */
  assert_ok(tsr_array_to_buffer(r, eq, sizeof eq));
  assert_true(!eq[0] && !eq[1]);
  tsr_array_destroy(&r);
  assert_fails(tsr_binary_scalar_u64(TSR_OP_ADD, x, (uint64_t)INT64_MAX + 1, &r), TSR_EINVAL,
               "add: scalar 9223372036854775808 is out of bounds for int64");
  assert_null(r);
  tsr_array_destroy(&x);
  /* uint64: UINT64_MAX - 1 plus 1 is UINT64_MAX, exactly. */
  uint64_t u[2];
  assert_ok(tsr_array_full_u64(ctx, TSR_UINT64, 1, (int64_t[]){2}, NULL, UINT64_MAX - 1, &x));
  assert_ok(tsr_binary_scalar_u64(TSR_OP_ADD, x, 1, &r));
  assert_ok(tsr_array_to_buffer(r, u, sizeof u));
  assert_true(u[0] == UINT64_MAX);
  tsr_array_destroy(&r);
  assert_fails(tsr_binary_scalar_i64(TSR_OP_ADD, x, -1, &r), TSR_EINVAL,
               "scalar -1 is out of bounds for uint64");
  tsr_array_destroy(&x);
  /* int8 next to 1000: comparisons exact, arithmetic refused; below -128 too. */
  int8_t s8[2] = {-128, 127};
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT8, 1, (int64_t[]){2}, NULL, s8, TSR_BUFFER_BORROW,
                                  NULL, NULL, &x));
  assert_ok(tsr_binary_scalar_i64(TSR_OP_LT, x, 1000, &r));
  assert_ok(tsr_array_to_buffer(r, eq, sizeof eq));
  assert_true(eq[0] && eq[1]);
  tsr_array_destroy(&r);
  assert_ok(tsr_binary_scalar_i64(TSR_OP_GE, x, -1000, &r));
  assert_ok(tsr_array_to_buffer(r, eq, sizeof eq));
  assert_true(eq[0] && eq[1]);
  tsr_array_destroy(&r);
  assert_ok(tsr_scalar_binary_i64(TSR_OP_EQ, 1000, x, &r));
  assert_ok(tsr_array_to_buffer(r, eq, sizeof eq));
  assert_true(!eq[0] && !eq[1]);
  tsr_array_destroy(&r);
  assert_ok(tsr_binary_scalar_i64(TSR_OP_ADD, x, 1, &r)); /* int8, wraps: 127 + 1 = -128 */
  assert_int_equal(tsr_array_dtype(r), TSR_INT8);
  int8_t w[2];
  assert_ok(tsr_array_to_buffer(r, w, sizeof w));
  assert_true(w[0] == -127 && w[1] == -128);
  tsr_array_destroy(&r);
  assert_fails(tsr_binary_scalar_i64(TSR_OP_MUL, x, 1000, &r), TSR_EINVAL,
               "scalar 1000 is out of bounds for int8");
  tsr_array_destroy(&x);
  /* Next to a bool array the integer is an int64. */
  assert_ok(tsr_array_full_i64(ctx, TSR_BOOL, 1, (int64_t[]){2}, NULL, 1, &x));
  assert_ok(tsr_binary_scalar_i64(TSR_OP_ADD, x, P53 + 1, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT64);
  get_i64(r, v, 2);
  assert_true(v[0] == P53 + 2);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
}

static void test_int_scalars__clip(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *x = NULL, *r = NULL;
  int64_t v[4];
  /* 2^53 - 1 .. 2^53 + 2 clipped to [2^53, 2^53 + 1]. */
  assert_ok(tsr_array_arange_i64(ctx, TSR_INT64, P53 - 1, P53 + 3, 1, 0, &x));
  assert_ok(tsr_clip_i64(x, P53, P53 + 1, &r));
  get_i64(r, v, 4);
  assert_true(v[0] == P53 && v[1] == P53 && v[2] == P53 + 1 && v[3] == P53 + 1);
  tsr_array_destroy(&r);
  assert_fails(tsr_clip_u64(x, 0, UINT64_MAX, &r), TSR_EINVAL,
               "scalar 18446744073709551615 is out of bounds for int64");
  tsr_array_destroy(&x);
  uint64_t u[2];
  assert_ok(tsr_array_full_u64(ctx, TSR_UINT64, 1, (int64_t[]){2}, NULL, UINT64_MAX, &x));
  assert_ok(tsr_clip_u64(x, 0, UINT64_MAX - 7, &r));
  assert_ok(tsr_array_to_buffer(r, u, sizeof u));
  assert_true(u[0] == UINT64_MAX - 7 && u[1] == UINT64_MAX - 7);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_int_scalars__full, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_int_scalars__arange, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_int_scalars__binary, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_int_scalars__clip, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
