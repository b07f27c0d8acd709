/* test_compose.c — diff, roll, triu/tril, outer, isclose/allclose, cov,
 * corrcoef and norm against naive references computed here, over random
 * float64 arrays of 1 to 3 axes with random (ragged, irregular) chunkings
 * and thread counts; NumPy's edge cases worked out by hand. */
#include <math.h>

#include "structure_util.h"

/* index (C order) of idx in shape */
static int64_t at(int nd, const int64_t *shape, const int64_t *idx) {
  int64_t k = 0;
  for (int d = 0; d < nd; d++)
    k = k * shape[d] + idx[d];
  return k;
}

static double *dense(tsr_ctx *ctx, int nd, const int64_t *shape, tsr_array **a) {
  int64_t n = su_size(nd, shape);
  double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
  su_fill(v, TSR_FLOAT64, n);
  *a = su_array(ctx, TSR_FLOAT64, nd, shape, v);
  return v;
}

static void test_compose__diff_roll_triangles(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(77);
  for (int trial = 0; trial < 150; trial++) {
    su_configure(ctx, trial);
    int nd = (int)su_range(1, 3);
    int64_t shape[3];
    su_shape(nd, 7, shape);
    tsr_array *a;
    double *v = dense(ctx, nd, shape, &a);
    int axis = (int)su_range(0, nd - 1);
    int order = (int)su_range(0, 3);
    int64_t shift = su_range(-9, 9);
    int64_t k = su_range(-3, 3);
    /* diff */
    tsr_array *r = NULL;
    assert_ok(tsr_diff(a, order, axis - (su_rand() % 2 ? nd : 0), &r));
    int64_t oshape[3];
    memcpy(oshape, shape, sizeof oshape);
    oshape[axis] = shape[axis] > order ? shape[axis] - order : 0;
    assert_int_equal(tsr_array_ndim(r), nd);
    for (int d = 0; d < nd; d++)
      assert_int_equal(tsr_array_shape(r)[d], oshape[d]);
    double *got = su_compute(r);
    int64_t idx[3] = {0}, src[3];
    for (int64_t o = 0; o < su_size(nd, oshape); o++, su_next(nd, oshape, idx)) {
      /* the order-th difference: sum of (-1)^(order-j) C(order, j) x[i + j] */
      double want = 0, binom = 1;
      for (int j = 0; j <= order; j++) {
        memcpy(src, idx, sizeof src);
        src[axis] += j;
        double term = binom * v[at(nd, shape, src)];
        want += (order - j) % 2 ? -term : term;
        binom = binom * (order - j) / (j + 1);
      }
      assert_true(got[o] == want); /* small integers: exact in any order */
    }
    free(got);
    tsr_array_destroy(&r);
    /* roll along an axis, and flattened */
    assert_ok(tsr_roll(a, shift, &axis, &r));
    got = su_compute(r);
    memset(idx, 0, sizeof idx);
    for (int64_t o = 0; o < su_size(nd, shape); o++, su_next(nd, shape, idx)) {
      memcpy(src, idx, sizeof src);
      int64_t n = shape[axis];
      src[axis] = ((idx[axis] - shift) % n + n) % n;
      assert_true(got[o] == v[at(nd, shape, src)]);
    }
    free(got);
    tsr_array_destroy(&r);
    assert_ok(tsr_roll(a, shift, NULL, &r));
    got = su_compute(r);
    int64_t size = su_size(nd, shape);
    for (int64_t o = 0; o < size; o++)
      assert_true(got[o] == v[((o - shift) % size + size) % size]);
    free(got);
    tsr_array_destroy(&r);
    /* triu and tril of the last two axes (1-d: a row repeated) */
    for (int upper = 0; upper < 2; upper++) {
      assert_ok(upper ? tsr_triu(a, k, &r) : tsr_tril(a, k, &r));
      int rnd = nd >= 2 ? nd : 2;
      int64_t rshape[3];
      if (nd >= 2)
        memcpy(rshape, shape, sizeof rshape);
      else
        rshape[0] = rshape[1] = shape[0];
      assert_int_equal(tsr_array_ndim(r), rnd);
      got = su_compute(r);
      memset(idx, 0, sizeof idx);
      for (int64_t o = 0; o < su_size(rnd, rshape); o++, su_next(rnd, rshape, idx)) {
        int64_t i = idx[rnd - 2], j = idx[rnd - 1];
        bool keep = upper ? j - i >= k : j - i <= k;
        double x = nd >= 2 ? v[o] : v[j];
        assert_true(got[o] == (keep ? x : 0.0));
      }
      free(got);
      tsr_array_destroy(&r);
    }
    free(v);
    tsr_array_destroy(&a);
  }
}

static void test_compose__outer_and_isclose(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(78);
  for (int trial = 0; trial < 60; trial++) {
    su_configure(ctx, trial);
    int64_t sa[2] = {su_range(1, 5), su_range(1, 4)}, sb[1] = {su_range(1, 9)};
    tsr_array *a, *b, *r = NULL;
    double *va = dense(ctx, 2, sa, &a), *vb = dense(ctx, 1, sb, &b);
    assert_ok(tsr_outer(a, b, &r));
    assert_int_equal(tsr_array_shape(r)[0], sa[0] * sa[1]);
    assert_int_equal(tsr_array_shape(r)[1], sb[0]);
    double *got = su_compute(r);
    for (int64_t i = 0; i < sa[0] * sa[1]; i++)
      for (int64_t j = 0; j < sb[0]; j++)
        assert_true(got[i * sb[0] + j] == va[i] * vb[j]);
    free(got);
    tsr_array_destroy(&r);
    free(va);
    free(vb);
    tsr_array_destroy(&a);
    tsr_array_destroy(&b);
  }
  /* isclose: NumPy 2's answers, worked out by hand */
  double x[] = {1.0, 1e10, NAN, INFINITY, -INFINITY, 1e-8, 1.0, 0.0};
  double y[] = {1.00001, 1.00001e10, NAN, INFINITY, INFINITY, 0.0, 1.1, -0.0};
  bool want[] = {true, true, false, true, false, true, false, true};
  int64_t n = 8;
  tsr_array *a, *b, *r = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, (int64_t[]){3}, x, TSR_BUFFER_BORROW,
                                  NULL, NULL, &a));
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, (int64_t[]){5}, y, TSR_BUFFER_BORROW,
                                  NULL, NULL, &b));
  for (int equal_nan = 0; equal_nan < 2; equal_nan++) {
    assert_ok(tsr_isclose(a, b, 1e-5, 1e-8, equal_nan, &r));
    assert_int_equal(tsr_array_dtype(r), TSR_BOOL);
    bool got[8];
    assert_ok(tsr_array_to_buffer(r, got, sizeof got));
    for (int i = 0; i < 8; i++)
      assert_int_equal(got[i], i == 2 ? equal_nan : want[i]);
    tsr_array_destroy(&r);
  }
  bool all = true;
  assert_ok(tsr_allclose(a, b, 1e-5, 1e-8, false, NULL, &all));
  assert_false(all);
  assert_ok(tsr_allclose(a, a, 0, 0, true, NULL, &all));
  assert_true(all);
  /* integers compare as float64 */
  int64_t ints[] = {1, 2, 3};
  tsr_array *ia;
  int64_t three = 3;
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT64, 1, &three, NULL, ints, TSR_BUFFER_BORROW, NULL,
                                  NULL, &ia));
  assert_ok(tsr_allclose(ia, ia, 1e-5, 1e-8, false, NULL, &all));
  assert_true(all);
  tsr_array_destroy(&ia);
  /* errors name the call */
  assert_fails(tsr_diff(a, -1, 0, &r), TSR_EINVAL, "tsr_diff: order n = -1");
  assert_fails(tsr_diff(a, 1, 1, &r), TSR_EINVAL, "axis 1 out of range");
  assert_fails(tsr_roll(a, 1, (int[]){2}, &r), TSR_EINVAL, "tsr_roll: axis 2 out of range");
  assert_fails(tsr_isclose(a, b, NAN, 0, false, &r), TSR_EINVAL, "rtol and atol must be finite");
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
}

/* cov, corrcoef and norm of random matrices against two-pass sums here
 * (to rounding: tessera sums pairwise and multiplies through BLAS). */
static void test_compose__cov_corrcoef_norm(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(79);
  for (int trial = 0; trial < 20; trial++) {
    su_configure(ctx, trial);
    int64_t shape[2] = {su_range(1, 5), su_range(2, 40)};
    tsr_array *a, *c = NULL, *r = NULL, *nrm = NULL;
    double *v = dense(ctx, 2, shape, &a);
    int64_t rows = shape[0], n = shape[1];
    int ddof = trial % 2;
    assert_ok(tsr_cov(a, ddof, &c));
    assert_ok(tsr_corrcoef(a, &r));
    assert_ok(tsr_norm(a, &nrm));
    double *gc = su_compute(c), *gr = su_compute(r), gn;
    assert_ok(tsr_array_to_buffer(nrm, &gn, sizeof gn));
    double mean[5], want[25], ss = 0;
    for (int64_t i = 0; i < rows; i++) {
      mean[i] = 0;
      for (int64_t k = 0; k < n; k++)
        mean[i] += v[i * n + k] / (double)n;
    }
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < rows; j++) {
        double acc = 0;
        for (int64_t k = 0; k < n; k++)
          acc += (v[i * n + k] - mean[i]) * (v[j * n + k] - mean[j]);
        want[i * rows + j] = acc / (double)(n - ddof);
        assert_true(fabs(gc[i * rows + j] - want[i * rows + j]) <=
                    1e-12 * (1 + fabs(want[i * rows + j])));
      }
    for (int64_t i = 0; i < rows; i++)
      for (int64_t j = 0; j < rows; j++) {
        double d = sqrt(want[i * rows + i] * want[j * rows + j]);
        double w = want[i * rows + j] / d;
        if (d > 0)
          assert_true(fabs(gr[i * rows + j] - (w > 1 ? 1 : w < -1 ? -1 : w)) <= 1e-12);
      }
    for (int64_t k = 0; k < rows * n; k++)
      ss += v[k] * v[k];
    assert_true(fabs(gn - sqrt(ss)) <= 1e-12 * sqrt(ss));
    free(gc);
    free(gr);
    free(v);
    tsr_array_destroy(&a);
    tsr_array_destroy(&c);
    tsr_array_destroy(&r);
    tsr_array_destroy(&nrm);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_compose__diff_roll_triangles, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_compose__outer_and_isclose, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_compose__cov_corrcoef_norm, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
