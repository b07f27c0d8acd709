/* test_eval.c — running programs of the expression language: arithmetic on
 * numbers (Python's rules), arrays through every family of functions
 * checked against hand-computed values or the array API called directly,
 * NumPy's weak scalars, bound inputs and named results, evaluation errors
 * with their location, and the exact printed form of scalars and arrays.
 * The teardown checks that nothing leaks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query_test_util.h"

static void check_eval(tsr_ctx *ctx, const char *src, const char *want) {
  tsr_array *v = query_run(ctx, src);
  char *got = query_format(v, false);
  size_t n = strlen(got);
  assert_true(n > 0 && got[n - 1] == '\n');
  got[n - 1] = '\0';
  if (strcmp(got, want) != 0)
    print_error("source: %s\n  got:\n%s\n  want:\n%s\n", src, got, want);
  assert_string_equal(got, want);
  free(got);
  tsr_array_destroy(&v);
}

static void check_run_error(tsr_ctx *ctx, const char *src, tsr_status status, const char *want) {
  tsr_program *p = NULL;
  tsr_array *v = (tsr_array *)&v;
  assert_ok(tsr_program_parse(ctx, src, &p));
  tsr_status s = tsr_program_run(p, &v);
  if (s != status || strcmp(tsr_last_error(), want) != 0)
    print_error("source: %s\n  got %s:\n%s\n  want %s:\n%s\n", src, tsr_status_name(s),
                tsr_last_error(), tsr_status_name(status), want);
  assert_int_equal(s, status);
  assert_null(v);
  assert_string_equal(tsr_last_error(), want);
  tsr_program_destroy(&p);
}

static void test_eval__number_arithmetic(void **state) {
  tsr_ctx *ctx = *state;
  check_eval(ctx, "1 + 2 * 3", "7");
  check_eval(ctx, "(1 + 2) * 3", "9");
  check_eval(ctx, "10 - 4 - 3", "3");
  check_eval(ctx, "-2 ** 2", "-4");
  check_eval(ctx, "(-2) ** 2", "4");
  check_eval(ctx, "2 ** 3 ** 2", "512");
  check_eval(ctx, "2 ** -1", "0.5");
  check_eval(ctx, "7 // 2", "3");
  check_eval(ctx, "7 // -2", "-4");
  check_eval(ctx, "-7 % 3", "2");
  check_eval(ctx, "7 % -3", "-2");
  check_eval(ctx, "7.5 // 2", "3.0");
  check_eval(ctx, "-7.5 % 2", "0.5");
  check_eval(ctx, "7 / 2", "3.5");
  check_eval(ctx, "1 / 0", "inf");
  check_eval(ctx, "-1 / 0.0", "-inf");
  check_eval(ctx, "0 / 0.0", "nan");
  check_eval(ctx, "0.1 + 0.2", "0.30000000000000004");
  check_eval(ctx, "1e-3", "0.001");
  check_eval(ctx, "2.0", "2.0");
  check_eval(ctx, "1e20", "1e+20");
  check_eval(ctx, "9223372036854775807 + 1", "-9223372036854775808");
  check_eval(ctx, "True + True", "2");
  check_eval(ctx, "~True", "False");
  check_eval(ctx, "~5", "-6");
  check_eval(ctx, "6 & 3 | 8", "10");
  check_eval(ctx, "6 ^ 3", "5");
  check_eval(ctx, "1 << 4 >> 2", "4");
  check_eval(ctx, "true & false", "False");
  check_eval(ctx, "1 < 2", "True");
  check_eval(ctx, "2 <= 1.5", "False");
  check_eval(ctx, "nan == nan", "False");
  check_eval(ctx, "inf", "inf");
  check_eval(ctx, "-pi", "-3.1415926535897931");
  check_eval(ctx, "a = 3; b = a * a; b - 1", "8");
}

static void test_eval__printing(void **state) {
  tsr_ctx *ctx = *state;
  check_eval(ctx, "arange(5)", "[0, 1, 2, 3, 4]");
  check_eval(ctx, "reshape(arange(6), (2, 3))", "[[0, 1, 2],\n [3, 4, 5]]");
  check_eval(ctx, "reshape(arange(8), (2, 2, 2))",
             "[[[0, 1],\n  [2, 3]],\n\n [[4, 5],\n  [6, 7]]]");
  check_eval(ctx, "linspace(0, 1, 5)", "[0.0, 0.25, 0.5, 0.75, 1.0]");
  check_eval(ctx, "astype(arange(3) / 10, \"f4\")", "[0.0, 0.100000001, 0.200000003]");
  check_eval(ctx, "arange(3) / 10", "[0.0, 0.10000000000000001, 0.20000000000000001]");
  check_eval(ctx, "arange(4) % 2 == 0", "[True, False, True, False]");
  check_eval(ctx, "zeros((0,))", "[]");
  check_eval(ctx, "zeros((2, 0))", "[], shape=(2, 0)"); /* NumPy's repr; test_format.c */
  check_eval(ctx, "full((), 7, dtype=\"u1\")", "7");
  check_eval(ctx, "astype(arange(-2, 2), \"i1\")", "[-2, -1, 0, 1]");
  check_eval(ctx, "astype(full((2,), -1), \"u8\")", "[18446744073709551615, 18446744073709551615]");
  check_eval(ctx, "sqrt(arange(4) - 1.0)", "[nan, 0.0, 1.0, 1.4142135623730951]");
  check_eval(ctx, "full((1,), 1) / 0", "[inf]");

  int64_t shape[2] = {1, 2};
  int16_t data[2] = {-3, 300};
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_ok(tsr_program_format_buffer(TSR_INT16, 2, shape, data, f));
  fclose(f);
  assert_string_equal(buf, "[[-3, 300]]\n");
  free(buf);

  /* large results are summarized: tests/query/test_format.c */
}

static void test_eval__elementwise_and_weak_scalars(void **state) {
  tsr_ctx *ctx = *state;
  check_eval(ctx, "arange(4) * 2 + 1", "[1, 3, 5, 7]");
  check_eval(ctx, "10 - arange(3)", "[10, 9, 8]");
  check_eval(ctx, "2 ** arange(4)", "[1, 2, 4, 8]");
  check_eval(ctx, "-arange(3) ** 2", "[0, -1, -4]");
  check_eval(ctx, "arange(5) // 2", "[0, 0, 1, 1, 2]");
  check_eval(ctx, "arange(4) > 1 & True", "[False, False, True, True]"); /* > (1 & True) */
  check_eval(ctx, "(arange(4) > 0) & (arange(4) < 3)", "[False, True, True, False]");
  check_eval(ctx, "~(arange(3) == 1)", "[True, False, True]");
  check_eval(ctx, "(arange(3) == 1) | True", "[True, True, True]");
  check_eval(ctx, "arange(4) & 1", "[0, 1, 0, 1]");
  check_eval(ctx, "maximum(arange(4), 2)", "[2, 2, 2, 3]");
  check_eval(ctx, "minimum(3, arange(5))", "[0, 1, 2, 3, 3]");
  check_eval(ctx, "hypot(3, 4)", "5.0");
  check_eval(ctx, "abs(-arange(3))", "[0, 1, 2]");
  check_eval(ctx, "absolute(-2.5)", "2.5");
  check_eval(ctx, "exp(0)", "1.0");
  check_eval(ctx, "isnan(arange(3) / 0)", "[True, False, False]");
  check_eval(ctx, "pow(arange(3), 2)", "[0, 1, 4]");
  check_eval(ctx, "where(arange(4) > 1, arange(4), -1)", "[-1, -1, 2, 3]");
  check_eval(ctx, "where(True, 1, 2.5)", "1.0");
  check_eval(ctx, "clip(arange(6), 1, 3)", "[1, 1, 2, 3, 3, 3]");
  check_eval(ctx, "clip(arange(4), None, 2)", "[0, 1, 2, 2]");
  check_eval(ctx, "clip(arange(4), arange(4) - 1, 2)", "[0, 1, 2, 2]");

  /* Weak scalars keep the array's dtype (NEP 50). */
  tsr_array *v = query_run(ctx, "astype(arange(3), \"i1\") + 1");
  assert_int_equal(tsr_array_dtype(v), TSR_INT8);
  tsr_array_destroy(&v);
  v = query_run(ctx, "astype(arange(3), \"i4\") * 0.5");
  assert_int_equal(tsr_array_dtype(v), TSR_FLOAT64);
  tsr_array_destroy(&v);
  v = query_run(ctx, "x = astype(arange(3), \"f4\"); where(x > 0, x, 0)");
  assert_int_equal(tsr_array_dtype(v), TSR_FLOAT32);
  tsr_array_destroy(&v);
  v = query_run(ctx, "(arange(3) > 0) & True");
  assert_int_equal(tsr_array_dtype(v), TSR_BOOL);
  tsr_array_destroy(&v);
  v = query_run(ctx, "sqrt(2)");
  assert_int_equal(tsr_array_dtype(v), TSR_FLOAT64);
  assert_int_equal(tsr_array_ndim(v), 0);
  tsr_array_destroy(&v);
}

static void test_eval__reductions(void **state) {
  tsr_ctx *ctx = *state;
  check_eval(ctx, "x = reshape(arange(6), (2, 3)); sum(x)", "15");
  check_eval(ctx, "x = reshape(arange(6), (2, 3)); sum(x, axis=0)", "[3, 5, 7]");
  check_eval(ctx, "x = reshape(arange(6), (2, 3)); sum(x, axis=-1, keepdims=true)",
             "[[3],\n [12]]");
  check_eval(ctx, "x = reshape(arange(6), (2, 3)); x.sum(axis=(0, 1), keepdims=True)", "[[15]]");
  check_eval(ctx, "mean(arange(10))", "4.5");
  check_eval(ctx, "var(arange(4))", "1.25");
  check_eval(ctx, "var(arange(4), ddof=1)", "1.6666666666666667");
  check_eval(ctx, "abs(std(arange(4), ddof=1) ** 2 - var(arange(4), ddof=1)) < 1e-15", "True");
  check_eval(ctx, "prod(arange(1, 6))", "120");
  check_eval(ctx, "min(arange(3, 7))", "3");
  check_eval(ctx, "amax(arange(3, 7))", "6");
  check_eval(ctx, "any(arange(3) > 1)", "True");
  check_eval(ctx, "all(arange(3) > 1)", "False");
  check_eval(ctx, "count_nonzero(arange(5) % 2)", "2");
  check_eval(ctx, "nansum(where(arange(4) == 2, nan, arange(4)))", "4.0");
  check_eval(ctx, "sum(arange(100), split_every=2)", "4950");
  check_eval(ctx, "argmax(arange(5) % 3)", "2");
  check_eval(ctx, "argmin(reshape(arange(6), (2, 3)) * -1, axis=1)", "[2, 2]");
  check_eval(ctx, "cumsum(arange(5))", "[0, 1, 3, 6, 10]");
  check_eval(ctx, "cumsum(reshape(arange(4), (2, 2)))", "[0, 1, 3, 6]");
  check_eval(ctx, "cumprod(reshape(arange(1, 5), (2, 2)), axis=0)", "[[1, 2],\n [3, 8]]");
}

static void test_eval__structure(void **state) {
  tsr_ctx *ctx = *state;
  const char *a = "a = reshape(arange(12), (3, 4)); ";
  char src[256];
#define WITH_A(tail) (snprintf(src, sizeof src, "%s%s", a, tail), src)
  check_eval(ctx, WITH_A("a[1:, ::2]"), "[[4, 6],\n [8, 10]]");
  check_eval(ctx, WITH_A("a[-1]"), "[8, 9, 10, 11]");
  check_eval(ctx, WITH_A("a[::-1, 1]"), "[9, 5, 1]");
  check_eval(ctx, WITH_A("a[1, 2]"), "6");
  check_eval(ctx, WITH_A("a[0:2, -1]"), "[3, 7]");
  check_eval(ctx, WITH_A("n = 2; a[n - 1, n:]"), "[6, 7]");
  check_eval(ctx, WITH_A("a.T[0]"), "[0, 4, 8]");
  check_eval(ctx, WITH_A("transpose(a, axes=(1, 0))[1]"), "[1, 5, 9]");
  check_eval(ctx, WITH_A("zeros(a.shape).ndim"), "2");
  check_eval(ctx, WITH_A("zeros(a.shape).size + a.ndim"), "14");
  check_eval(ctx, WITH_A("reshape(a, (2, -1))[1, :2]"), "[6, 7]");
  check_eval(ctx, WITH_A("reshape(a, 12)[-3:]"), "[9, 10, 11]");
  check_eval(ctx, "concatenate((arange(2), arange(3)))", "[0, 1, 0, 1, 2]");
  check_eval(ctx, "concatenate([ones((1, 2)), zeros((1, 2))], axis=1)", "[[1.0, 1.0, 0.0, 0.0]]");
  check_eval(ctx, "concatenate((ones((1, 2)), zeros((2, 1))), axis=None)", "[1.0, 1.0, 0.0, 0.0]");
  check_eval(ctx, "stack((arange(2), arange(2) + 5), axis=1)", "[[0, 5],\n [1, 6]]");
  check_eval(ctx, "squeeze(ones((1, 2, 1)), axis=0).shape", "[2, 1]");
  check_eval(ctx, "expand_dims(arange(2), 0)", "[[0, 1]]");
  check_eval(ctx, "(True, False)", "[True, False]");
  check_eval(ctx, "()", "[]");
  /* None / newaxis and Ellipsis, as NumPy (values worked out by hand) */
  check_eval(ctx, WITH_A("a[None].shape"), "[1, 3, 4]");
  check_eval(ctx, WITH_A("a[:, None, 1]"), "[[1],\n [5],\n [9]]");
  check_eval(ctx, WITH_A("a[..., 1]"), "[1, 5, 9]");
  check_eval(ctx, WITH_A("a[2, ...]"), "[8, 9, 10, 11]");
  check_eval(ctx, WITH_A("a[...]"), "[[0, 1, 2, 3],\n [4, 5, 6, 7],\n [8, 9, 10, 11]]");
  check_eval(ctx, WITH_A("a[newaxis, ..., None, ::3].shape"), "[1, 3, 1, 2]");
  check_eval(ctx, WITH_A("a[1, ..., 2]"), "6");
  check_eval(ctx, WITH_A("a[1, 2, ...]"), "6");
  check_eval(ctx, WITH_A("a[-1, None, Ellipsis, None]"), "[[[8],\n  [9],\n  [10],\n  [11]]]");
  check_eval(ctx, WITH_A("a.shape[1] + a.shape[0]"), "7");
  /* round(a, decimals): np.round's values (worked out with NumPy) */
  check_eval(ctx, "round(linspace(0, 1, 7), 2)",
             "[0.0, 0.17000000000000001, 0.33000000000000002, 0.5, 0.67000000000000004, "
             "0.82999999999999996, 1.0]");
  check_eval(ctx, "round(1234.5678, -2)", "1200.0");
  check_eval(ctx, "round(arange(-25, 30, 5), -1)", "[-20, -20, -20, -10, 0, 0, 0, 10, 20, 20, 20]");
  check_eval(ctx, "round(arange(3), 4)", "[0, 1, 2]");
  check_eval(ctx, "around(astype(linspace(0, 1, 4), \"f4\"), 1)", "[0.0, 0.300000012, 0.699999988, 1.0]");
  check_eval(ctx, "round(linspace(-1.5, 1.5, 4))", "[-2.0, -0.0, 0.0, 2.0]");
  /* diff, outer, isclose, allclose, roll, triu, tril, *_like (NumPy's answers) */
  check_eval(ctx, "diff((1, 4, 9, 16))", "[3, 5, 7]");
  check_eval(ctx, "diff(reshape(arange(6) ** 2, (2, 3)), n=2, axis=1)", "[[2],\n [2]]");
  check_eval(ctx, "diff(arange(3), n=5)", "[]");
  check_eval(ctx, "outer((1, 2), (3, 4, 5))", "[[3, 4, 5],\n [6, 8, 10]]");
  check_eval(ctx, "isclose((1.0, 1e10, nan, inf, -inf), (1.00001, 1.00001e10, nan, inf, inf))",
             "[True, True, False, True, False]");
  check_eval(ctx, "isclose((1.0, nan), (1.1, nan), equal_nan=True, rtol=0.2)", "[True, True]");
  check_eval(ctx, "allclose((1.0, 2.0), (1.0, 2.0000001))", "True");
  check_eval(ctx, "allclose((1.0, 2.0), (1.0, 2.001))", "False");
  check_eval(ctx, "roll(arange(5), 2)", "[3, 4, 0, 1, 2]");
  check_eval(ctx, "roll(reshape(arange(6), (2, 3)), -1, axis=1)", "[[1, 2, 0],\n [4, 5, 3]]");
  check_eval(ctx, "roll(reshape(arange(6), (2, 3)), 1)", "[[5, 0, 1],\n [2, 3, 4]]");
  check_eval(ctx, "triu(reshape(arange(1, 7), (2, 3)), k=1)", "[[0, 2, 3],\n [0, 0, 6]]");
  check_eval(ctx, "tril(reshape(arange(1, 7), (2, 3)), -1)", "[[0, 0, 0],\n [4, 0, 0]]");
  check_eval(ctx, "triu(arange(3))", "[[0, 1, 2],\n [0, 1, 2],\n [0, 0, 2]]");
  check_eval(ctx, "diag(reshape(arange(12), (3, 4)))", "[0, 5, 10]");
  check_eval(ctx, "diag(reshape(arange(12), (3, 4)), k=2)", "[2, 7]");
  check_eval(ctx, "diag(reshape(arange(12), (3, 4)), -1)", "[4, 9]");
  check_eval(ctx, "diag(reshape(arange(12), (3, 4)), 5)", "[]");
  check_eval(ctx, "diag((1, 2), 1)", "[[0, 1, 0],\n [0, 0, 2],\n [0, 0, 0]]");
  check_eval(ctx, "diag((1.5, 2.5), -1)", "[[0.0, 0.0, 0.0],\n [1.5, 0.0, 0.0],\n [0.0, 2.5, 0.0]]");
  check_eval(ctx, "trace(reshape(arange(12), (3, 4)))", "15");
  check_eval(ctx, "trace(reshape(arange(12), (3, 4)), offset=-1)", "13");
  /* indexing by data (NumPy's answers): x[mask], fancy indexing on one axis, a mask along one */
  check_eval(ctx, "x = reshape(arange(12), (3, 4))\nx[x > 4]", "[5, 6, 7, 8, 9, 10, 11]");
  check_eval(ctx, "x = reshape(arange(12.0), (3, 4))\nx[x > 100]", "[]");
  check_eval(ctx, "x = reshape(arange(12), (3, 4))\nx[:, array((3, 0, -1, 0))]",
             "[[3, 0, 3, 0],\n [7, 4, 7, 4],\n [11, 8, 11, 8]]");
  check_eval(ctx, "x = reshape(arange(12), (3, 4))\nx[array((2, 0)), 1:3]", "[[9, 10],\n [1, 2]]");
  check_eval(ctx, "x = reshape(arange(12), (3, 4))\nx[array((True, False, True))]",
             "[[0, 1, 2, 3],\n [8, 9, 10, 11]]");
  check_eval(ctx, "x = reshape(arange(12), (3, 4))\nx[1, x[0] > 1]", "[6, 7]");
  check_eval(ctx, "x = reshape(arange(12), (3, 4))\nx[None, ..., array((1, 1))]",
             "[[[1, 1],\n  [5, 5],\n  [9, 9]]]");
  check_eval(ctx, "x = arange(5)\nsum(x[x % 2 == 0])", "6");
  /* every array argument takes a tuple of numbers, as np.asarray */
  check_eval(ctx, "reshape((1, 2, 3, 4), (2, 2))", "[[1, 2],\n [3, 4]]");
  check_eval(ctx, "concatenate(((1, 2), (3.5,)))", "[1.0, 2.0, 3.5]");
  check_eval(ctx, "stack(((1, 2), arange(2)))", "[[1, 2],\n [0, 1]]");
  check_eval(ctx, "astype((1, 2), \"f4\") * 2", "[2.0, 4.0]");
  check_eval(ctx, "sqrt((1, 4, 9))", "[1.0, 2.0, 3.0]");
  /* pad, tile, repeat (NumPy's answers); randint and permutation (their own streams) */
  check_eval(ctx, "pad((1, 2, 3), (5, 4), mode=\"reflect\")", "[2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3]");
  check_eval(ctx, "pad((1, 2, 3), (5, 4), \"symmetric\")", "[2, 3, 3, 2, 1, 1, 2, 3, 3, 2, 1, 1]");
  check_eval(ctx, "pad((1, 2, 3), 2, mode=\"wrap\")", "[2, 3, 1, 2, 3, 1, 2]");
  check_eval(ctx, "pad((1, 2, 3), (1,), mode=\"edge\")", "[1, 1, 2, 3, 3]");
  check_eval(ctx, "pad(reshape(arange(4), (2, 2)), ((1, 0), (0, 2)), constant_values=9)",
             "[[9, 9, 9, 9],\n [0, 1, 9, 9],\n [2, 3, 9, 9]]");
  check_eval(ctx, "tile(reshape(arange(1, 5), (2, 2)), (2, 1, 3)).shape", "[2, 2, 6]");
  check_eval(ctx, "tile((1, 2), 2)", "[1, 2, 1, 2]");
  check_eval(ctx, "repeat(reshape(arange(1, 5), (2, 2)), 2)", "[1, 1, 2, 2, 3, 3, 4, 4]");
  check_eval(ctx, "repeat(reshape(arange(1, 5), (2, 2)), 2, axis=1)", "[[1, 1, 2, 2],\n [3, 3, 4, 4]]");
  check_eval(ctx, "sort(permutation(10, seed=4))", "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]");
  check_eval(ctx, "all(sort(permutation(reshape(arange(6), (3, 2)), seed=4)[:, 0]) == array((0, 2, 4)))",
             "True");
  check_eval(ctx, "r = randint(-5, 5, (20, 30), seed=1)\nmin(r)", "-5");
  check_eval(ctx, "r = randint(-5, 5, (20, 30), seed=1)\nmax(r)", "4");
  check_eval(ctx, "all(randint(100, shape=50, seed=7, chunks=3) == randint(100, shape=50, seed=7))",
             "True");
  /* norm, cov, corrcoef: NumPy's values (np.linalg.norm, np.cov, np.corrcoef), to rounding;
   * a tuple of numbers is an array */
  check_eval(ctx, "norm((3, 4))", "5.0");
  check_eval(ctx, "allclose(norm(reshape(arange(6), (2, 3))), 7.416198487095663, rtol=1e-15)",
             "True");
  check_eval(ctx,
             "allclose(cov(reshape(array((1.0, 2.0, 4.0, 2.0, 1.0, 7.0)), (2, 3))), "
             "reshape(array((2.3333333333333335, 4.333333333333333, 4.333333333333333, "
             "10.333333333333334)), (2, 2)), rtol=1e-14)",
             "True");
  check_eval(ctx, "allclose(cov((1.0, 2.0, 4.0)), 2.333333333333333, rtol=1e-14)", "True");
  check_eval(ctx, "cov((1.0, 2.0, 4.0)).ndim", "0");
  check_eval(ctx, "allclose(cov(reshape(arange(6), (2, 3)), ddof=0), 0.6666666666666666, "
                  "rtol=1e-14)",
             "True");
  check_eval(ctx,
             "allclose(corrcoef(reshape(astype(arange(6), \"f8\") ** 2, (2, 3))), "
             "reshape(array((1.0, 0.9782407485564631, 0.9782407485564633, 1.0)), (2, 2)), "
             "rtol=1e-14)",
             "True");
  check_eval(ctx, "corrcoef((1.0, 2.0))", "1.0");
  check_eval(ctx, "zeros_like(astype(arange(3), \"f4\"))", "[0.0, 0.0, 0.0]");
  check_eval(ctx, "full_like(arange(3), 7.9)", "[7, 7, 7]");
  check_eval(ctx, "astype(ones_like(ones((2, 2)), dtype=\"i4\") / 2, \"f4\")",
             "[[0.5, 0.5],\n [0.5, 0.5]]");
  check_eval(ctx, "empty_like(ones((2, 1), chunks=1)).shape", "[2, 1]");
#undef WITH_A

  tsr_array *v = query_run(ctx, "rechunk(arange(10, chunks=10), chunks=3)");
  assert_int_equal(tsr_chunk_grid_nchunks(tsr_array_chunks(v)), 4);
  tsr_array_destroy(&v);
  v = query_run(ctx, "rechunk(zeros((4, 6)), chunks=(2, -1))");
  assert_int_equal(tsr_chunk_grid_nchunks_axis(tsr_array_chunks(v), 0), 2);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(tsr_array_chunks(v), 1), 1);
  tsr_array_destroy(&v);
  v = query_run(ctx, "zeros((4, 6), chunks=(1, 3))");
  assert_int_equal(tsr_chunk_grid_nchunks(tsr_array_chunks(v)), 8);
  tsr_array_destroy(&v);
}

static void test_eval__linalg(void **state) {
  tsr_ctx *ctx = *state;
  const char *ab = "a = reshape(arange(6), (2, 3)); b = reshape(arange(6), (3, 2)); ";
  char src[256];
  snprintf(src, sizeof src, "%sa @ b", ab);
  check_eval(ctx, src, "[[10.0, 13.0],\n [28.0, 40.0]]");
  snprintf(src, sizeof src, "%smatmul(a, b)", ab);
  check_eval(ctx, src, "[[10.0, 13.0],\n [28.0, 40.0]]");
  snprintf(src, sizeof src, "%sa.T @ a.T.T", ab);
  check_eval(ctx, src, "[[9.0, 12.0, 15.0],\n [12.0, 17.0, 22.0],\n [15.0, 22.0, 29.0]]");
  snprintf(src, sizeof src, "%sdot(a, arange(3))", ab);
  check_eval(ctx, src, "[5.0, 14.0]");
  snprintf(src, sizeof src, "%stensordot(a, b, axes=1)", ab);
  check_eval(ctx, src, "[[10.0, 13.0],\n [28.0, 40.0]]");
  snprintf(src, sizeof src, "%stensordot(a, a, axes=((0, 1), (0, 1)))", ab);
  check_eval(ctx, src, "55.0");
  snprintf(src, sizeof src, "%stensordot(a, b)", ab); /* axes=2: (2,3) . (3,2) has no match */
  tsr_program *p = NULL;
  assert_ok(tsr_program_parse(ctx, src, &p));
  tsr_array *v = NULL;
  assert_int_not_equal(tsr_program_run(p, &v), TSR_OK);
  assert_null(v);
  tsr_program_destroy(&p);
  check_eval(ctx, "eye(3, k=1) @ arange(3)", "[1.0, 2.0, 0.0]");
}

static void test_eval__constructors(void **state) {
  tsr_ctx *ctx = *state;
  check_eval(ctx, "zeros(3)", "[0.0, 0.0, 0.0]");
  check_eval(ctx, "ones((2,), dtype=\"i4\")", "[1, 1]");
  check_eval(ctx, "full((2, 2), 7)", "[[7, 7],\n [7, 7]]");
  check_eval(ctx, "full(2, 0.5)", "[0.5, 0.5]");
  check_eval(ctx, "full(2, True)", "[True, True]");
  check_eval(ctx, "full(shape=2, fill_value=3, dtype=\"f4\")", "[3.0, 3.0]");
  check_eval(ctx, "arange(5)", "[0, 1, 2, 3, 4]");
  check_eval(ctx, "arange(2, 5)", "[2, 3, 4]");
  check_eval(ctx, "arange(0, 1, 0.25)", "[0.0, 0.25, 0.5, 0.75]");
  check_eval(ctx, "arange(3, dtype=\"float32\")", "[0.0, 1.0, 2.0]");
  check_eval(ctx, "arange(10, chunks=3)[7:]", "[7, 8, 9]");
  check_eval(ctx, "linspace(0, 1, 3, endpoint=false)",
             "[0.0, 0.33333333333333331, 0.66666666666666663]");
  check_eval(ctx, "eye(2, 3, k=1, dtype=\"i8\")", "[[0, 1, 0],\n [0, 0, 1]]");

  /* random: the generator's values at each element's C-order index. */
  double want[6];
  for (int i = 0; i < 6; i++)
    want[i] = tsr_random_normal(7, (uint64_t)i);
  tsr_array *v = query_run(ctx, "random(shape=(2, 3), chunks=(1, 2), seed=7, dist=\"normal\")");
  double got[6];
  assert_ok(tsr_array_to_buffer(v, got, sizeof got));
  assert_memory_equal(got, want, sizeof got);
  tsr_array_destroy(&v);
  v = query_run(ctx, "random(4)");
  assert_ok(tsr_array_to_buffer(v, got, 4 * sizeof(double)));
  for (int i = 0; i < 4; i++)
    assert_true(got[i] == tsr_random_uniform(0, (uint64_t)i));
  tsr_array_destroy(&v);
}

/* Standardizing a bound input matches the same calls made directly. */
static void test_eval__inputs_match_array_api(void **state) {
  tsr_ctx *ctx = *state;
  double data[4 * 3];
  for (int i = 0; i < 12; i++)
    data[i] = sin(i + 1.0) * 10;
  tsr_array *x = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, (int64_t[]){4, 3}, (int64_t[]){2, 2}, data,
                                  TSR_BUFFER_BORROW, NULL, NULL, &x));
  tsr_program *p = NULL;
  assert_ok(tsr_program_parse(ctx,
                              "m = mean(t, axis=0)\ns = std(t, axis=0, ddof=1)\n"
                              "z = (t - m) / s\nsum(z * z, axis=0)",
                              &p));
  assert_ok(tsr_program_bind(p, "t", x));
  tsr_array *last = NULL, *z = NULL, *t = NULL;
  assert_ok(tsr_program_run(p, &last));
  assert_ok(tsr_program_get(p, "z", &z));
  assert_ok(tsr_program_get(p, "t", &t));
  assert_int_equal(tsr_array_ndim(t), 2);

  /* The same with the array API. */
  tsr_array *m = NULL, *s = NULL, *d = NULL, *ref = NULL;
  assert_ok(tsr_mean(x, (int[]){0}, 1, false, &m));
  assert_ok(tsr_std(x, (int[]){0}, 1, 1, false, &s));
  assert_ok(tsr_sub(x, m, &d));
  assert_ok(tsr_div(d, s, &ref));
  double got[12], want[12], ss[3];
  assert_ok(tsr_array_to_buffer(z, got, sizeof got));
  assert_ok(tsr_array_to_buffer(ref, want, sizeof want));
  assert_memory_equal(got, want, sizeof got);
  assert_ok(tsr_array_to_buffer(last, ss, sizeof ss));
  for (int j = 0; j < 3; j++)
    assert_true(fabs(ss[j] - 3.0) < 1e-12); /* sum of squares of z is n - ddof */

  /* Rebinding and running again gives the new input's result. */
  tsr_array *y = NULL;
  assert_ok(tsr_array_full(ctx, TSR_FLOAT64, 2, (int64_t[]){2, 3}, NULL, 1.0, &y));
  tsr_array_destroy(&last);
  assert_ok(tsr_program_bind(p, "t", y));
  assert_ok(tsr_program_run(p, &last));
  assert_int_equal(tsr_array_shape(last)[0], 3);

  tsr_array *arrays[] = {x, y, z, t, m, s, d, ref, last};
  for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++)
    tsr_array_destroy(&arrays[i]);
  tsr_program_destroy(&p);
}

static void test_eval__get_and_last(void **state) {
  tsr_ctx *ctx = *state;
  tsr_program *p = NULL;
  tsr_array *v = (tsr_array *)&v;
  assert_ok(tsr_program_parse(ctx, "a = 2.5; b = (1, (2,)); c = ones(3); d = (1, 2.5)", &p));
  assert_ok(tsr_program_run(p, &v));
  assert_null(v); /* ends with an assignment */
  assert_ok(tsr_program_get(p, "a", &v));
  assert_int_equal(tsr_array_ndim(v), 0);
  assert_int_equal(tsr_array_dtype(v), TSR_FLOAT64);
  tsr_array_destroy(&v);
  assert_ok(tsr_program_get(p, "c", &v));
  assert_int_equal(tsr_array_size(v), 3);
  tsr_array_destroy(&v);
  assert_ok(tsr_program_get(p, "d", &v)); /* a tuple of numbers is a 1-d array */
  char *text = query_format(v, false);
  assert_string_equal(text, "[1.0, 2.5]\n");
  free(text);
  tsr_array_destroy(&v);
  assert_fails(tsr_program_get(p, "b", &v), TSR_EINVAL, "variable 'b' is a tuple");
  assert_null(v);
  assert_fails(tsr_program_get(p, "nope", &v), TSR_EINVAL, "no variable named 'nope'");
  assert_ok(tsr_program_run(p, NULL));
  tsr_program_destroy(&p);

  /* a string result (x.dtype): no array, the text instead */
  assert_ok(tsr_program_parse(ctx, "x = astype(ones(2), \"f4\"); x.dtype", &p));
  assert_ok(tsr_program_run(p, &v));
  assert_null(v);
  assert_string_equal(tsr_program_text(p), "float32");
  tsr_program_destroy(&p);
  assert_ok(tsr_program_parse(ctx, "astype(ones(2), (1.5).dtype).dtype", &p));
  assert_ok(tsr_program_run(p, &v));
  assert_string_equal(tsr_program_text(p), "float64");
  tsr_program_destroy(&p);
  assert_ok(tsr_program_parse(ctx, "'f4'", &p));
  assert_ok(tsr_program_run(p, &v));
  assert_string_equal(tsr_program_text(p), "f4");
  tsr_program_destroy(&p);

  assert_ok(tsr_program_parse(ctx, "", &p));
  assert_ok(tsr_program_run(p, &v));
  assert_null(v);
  assert_null(tsr_program_text(p));
  tsr_array *x = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 1, (int64_t[]){2}, NULL, &x));
  assert_fails(tsr_program_bind(p, "2x", x), TSR_EINVAL, "'2x' is not a name");
  assert_fails(tsr_program_bind(p, NULL, x), TSR_EINVAL, "must not be NULL");
  tsr_array_destroy(&x);
  tsr_program_destroy(&p);
}

static void test_eval__errors(void **state) {
  tsr_ctx *ctx = *state;
  check_run_error(ctx, "y = 1\nz = x + y", TSR_EINVAL,
                  "line 2, column 5: unknown name 'x'\n  z = x + y\n      ^");
  check_run_error(ctx, "x = reshape(arange(12), (3, 4))\nx[array((True, False))]", TSR_EINVAL,
                  "line 2, column 3: a boolean index of length 2 does not match the indexed axis "
                  "of length 3\n  x[array((True, False))]\n    ^");
  check_run_error(ctx, "x = reshape(arange(12), (3, 4))\nx[array((5,)), 1]", TSR_EINVAL,
                  "line 2, column 3: tsr_take: index 5 (indices[0]) is out of bounds for axis 0 with "
                  "size 3\n  x[array((5,)), 1]\n    ^");
  check_run_error(ctx, "x = reshape(arange(12), (3, 4))\nx[x > 1, x > 2]", TSR_EINVAL,
                  "line 2, column 12: only one integer or boolean array can index an array\n"
                  "  x[x > 1, x > 2]\n             ^");
  check_run_error(ctx, "pad(zeros(0), 2, \"edge\")", TSR_EINVAL,
                  "line 1, column 1: tsr_pad: can't extend empty axis 0 using modes other than "
                  "constant\n  pad(zeros(0), 2, \"edge\")\n  ^");
  check_run_error(ctx, "pad((1, 2), 1, mode=\"mean\")", TSR_EINVAL,
                  "line 1, column 21: pad() mode 'mean' is unknown (use \"constant\", \"edge\", "
                  "\"reflect\", \"symmetric\" or \"wrap\")\n  pad((1, 2), 1, mode=\"mean\")\n"
                  "                      ^");
  check_run_error(ctx, "randint(3, 3)", TSR_EINVAL,
                  "line 1, column 1: randint(): low (3) must be below high (3)\n  randint(3, 3)\n  ^");
  check_run_error(ctx, "sqrt((1, \"a\"))", TSR_EINVAL,
                  "line 1, column 6: sqrt() argument 'x' must be an array, a number or a tuple of "
                  "numbers, but item 1 is string\n  sqrt((1, \"a\"))\n       ^");
  check_run_error(ctx, "sum + 1", TSR_EINVAL,
                  "line 1, column 1: 'sum' is a function: call it as sum(...)\n"
                  "  sum + 1\n  ^");
  check_run_error(ctx, "zeros((2, 2)) + ones((3, 1, 3))", TSR_ESHAPE,
                  "line 1, column 15: add: shapes (2, 2) and (3, 1, 3) cannot be broadcast "
                  "together\n"
                  "  zeros((2, 2)) + ones((3, 1, 3))\n"
                  "                ^");
  check_run_error(ctx, "x = arange(3)\nastype(x, \"f9\")", TSR_EDTYPE,
                  "line 2, column 11: tsr_dtype_from_name: unknown dtype name 'f9'\n"
                  "  astype(x, \"f9\")\n"
                  "            ^");
  check_run_error(ctx, "sum(arange(3), axis=1.5)", TSR_EINVAL,
                  "line 1, column 21: sum() argument 'axis' must be an integer or a tuple of "
                  "integers, not float\n"
                  "  sum(arange(3), axis=1.5)\n"
                  "                      ^");
  check_run_error(ctx, "zeros(\"big\")", TSR_EINVAL,
                  "line 1, column 7: zeros() argument 'shape' must be an integer or a tuple of "
                  "integers, not string\n"
                  "  zeros(\"big\")\n"
                  "        ^");
  check_run_error(ctx, "random((2, 2), dist=\"poisson\")", TSR_EINVAL,
                  "line 1, column 21: random() dist 'poisson' is unknown (use \"uniform\" or "
                  "\"normal\")\n"
                  "  random((2, 2), dist=\"poisson\")\n"
                  "                      ^");
  check_run_error(ctx, "zeros((2, 3), chunks=(1, 1, 1))", TSR_EINVAL,
                  "line 1, column 22: zeros() argument 'chunks' has 3 entries for 2 axes\n"
                  "  zeros((2, 3), chunks=(1, 1, 1))\n"
                  "                       ^");
  check_run_error(ctx, "1 // 0", TSR_EINVAL,
                  "line 1, column 3: integer division by zero\n  1 // 0\n    ^");
  check_run_error(ctx, "1.5 & 1", TSR_EINVAL,
                  "line 1, column 5: unsupported operand types for &: float and int\n"
                  "  1.5 & 1\n      ^");
  check_run_error(ctx, "(1, 2) + arange(2)", TSR_EINVAL,
                  "line 1, column 8: unsupported operand types for +: tuple and array\n"
                  "  (1, 2) + arange(2)\n         ^");
  check_run_error(ctx, "2 @ 3", TSR_EINVAL,
                  "line 1, column 3: operands of @ must be arrays, not int and int (use *)\n"
                  "  2 @ 3\n    ^");
  check_run_error(ctx, "arange(4)[1.5]", TSR_EINVAL,
                  "line 1, column 11: indices must be integers or slices, not float\n"
                  "  arange(4)[1.5]\n            ^");
  check_run_error(ctx, "arange(4)[::0]", TSR_EINVAL,
                  "line 1, column 13: slice step cannot be zero\n  arange(4)[::0]\n"
                  "              ^");
  check_run_error(ctx, "(1, (2, 3))", TSR_EINVAL,
                  "line 1, column 1: the result is a tuple, not an array or a number\n"
                  "  (1, (2, 3))\n  ^");
  check_run_error(ctx, "\"f4\"[0]", TSR_EINVAL,
                  "line 1, column 5: a string cannot be indexed\n  \"f4\"[0]\n      ^");
  check_run_error(ctx, "a = ones((2, 3)); a[..., 0, ...]", TSR_EINVAL,
                  "line 1, column 29: an index can only have a single ellipsis ('...')\n"
                  "  a = ones((2, 3)); a[..., 0, ...]\n                              ^");
  check_run_error(ctx, "a = ones((2, 3)); a[0, None, 1, 2]", TSR_EINVAL,
                  "line 1, column 20: too many indices: 3 for a 2-d array\n"
                  "  a = ones((2, 3)); a[0, None, 1, 2]\n                     ^");
  check_run_error(ctx, "round(ones(2), 309)", TSR_EINVAL,
                  "line 1, column 16: round() argument 'decimals' must be an integer from -308 to "
                  "308, not int\n  round(ones(2), 309)\n                 ^");
  check_run_error(ctx, "cov((1.0,))", TSR_EINVAL,
                  "line 1, column 1: tsr_cov: 1 observations with ddof = 1 leave no degrees of "
                  "freedom\n  cov((1.0,))\n  ^");
  check_run_error(ctx, "(1, 2).T", TSR_EINVAL,
                  "line 1, column 8: a tuple has no attribute 'T'\n  (1, 2).T\n         ^");
  check_run_error(ctx, "sqrt(\"x\")", TSR_EINVAL,
                  "line 1, column 6: sqrt() argument 'x' must be an array or a number, not "
                  "string\n  sqrt(\"x\")\n       ^");
  check_run_error(ctx, "stack(arange(3))", TSR_EINVAL,
                  "line 1, column 7: stack() argument 'arrays' must be a non-empty tuple or list "
                  "of arrays, not array\n  stack(arange(3))\n        ^");

  /* Errors of the array layer keep its status and its message. */
  tsr_program *p = NULL;
  tsr_array *v = NULL;
  assert_ok(tsr_program_parse(ctx, "x = zeros((2, 3))\ny = x[5]", &p));
  tsr_status s = tsr_program_run(p, &v);
  assert_int_not_equal(s, TSR_OK);
  assert_non_null(strstr(tsr_last_error(), "line 2, column 6: "));
  assert_non_null(strstr(tsr_last_error(), "\n  y = x[5]\n       ^"));
  tsr_program_destroy(&p);
}

/* Every allocation of a run may fail: each failure returns an error with
 * nothing leaked, and the run succeeds once allocations are allowed. */
static void test_eval__out_of_memory(void **state) {
  tsr_ctx *ctx = *state;
  tsr_program *p = NULL;
  assert_ok(tsr_program_parse(ctx,
                              "a = reshape(arange(12), (3, 4)); s = (1, (2, 3))\n"
                              "b = where(a > 2, a, 0)[1:, ::2].T\n"
                              "sum(b, axis=0, keepdims=true) + concatenate((a[0], a[1]))[:1]",
                              &p));
  for (uint64_t n = 1;; n++) {
    tsr_array *v = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_status s = tsr_program_run(p, &v);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    if (s == TSR_OK) {
      assert_true(n > 5);
      char *text = query_format(v, false);
      assert_string_equal(text, "[[10, 18]]\n");
      free(text);
      tsr_array_destroy(&v);
      break;
    }
    assert_null(v);
  }
  tsr_program_destroy(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_eval__number_arithmetic, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__printing, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__elementwise_and_weak_scalars, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__reductions, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__structure, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__linalg, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__constructors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__inputs_match_array_api, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__get_and_last, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__errors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_eval__out_of_memory, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
