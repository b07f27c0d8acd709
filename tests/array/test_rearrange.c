/* test_rearrange.c — pad (every mode), tile, repeat, random integers and
 * permutations against naive references computed here (pad's mirror modes
 * by repeated mirroring, not by the library's modular formula), over random
 * arrays of 1 to 3 axes with random chunkings and thread counts; NumPy's
 * answers for a few cases worked out by NumPy; chunk independence of the
 * random functions. */
#include "structure_util.h"

/* NumPy's source index for padded position i (relative to the axis' start)
 * of an axis of extent n, by mirroring until inside. */
static int64_t naive_pad_index(int64_t i, int64_t n, tsr_pad_mode mode) {
  switch (mode) {
  case TSR_PAD_EDGE:
    return i < 0 ? 0 : i >= n ? n - 1 : i;
  case TSR_PAD_WRAP:
    while (i < 0)
      i += n;
    while (i >= n)
      i -= n;
    return i;
  case TSR_PAD_SYMMETRIC:
    while (i < 0 || i >= n)
      i = i < 0 ? -i - 1 : 2 * n - 1 - i;
    return i;
  default: /* reflect */
    if (n == 1)
      return 0;
    while (i < 0 || i >= n)
      i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
  }
}

static void test_rearrange__pad_tile_repeat(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(404);
  for (int trial = 0; trial < 200; trial++) {
    su_configure(ctx, trial);
    int nd = (int)su_range(1, 3);
    int64_t shape[3], stride[3];
    su_shape(nd, 6, shape);
    su_strides(nd, shape, stride);
    int64_t size = su_size(nd, shape);
    double *v = malloc((size_t)(size ? size : 1) * sizeof *v);
    su_fill(v, TSR_FLOAT64, size);
    tsr_array *a = su_array(ctx, TSR_FLOAT64, nd, shape, v);

    /* pad */
    tsr_pad_mode mode = (tsr_pad_mode)(trial % 5);
    int64_t before[3], after[3], pshape[3];
    bool empty = false;
    for (int d = 0; d < nd; d++) {
      before[d] = su_range(0, 9);
      after[d] = su_range(0, 9);
      pshape[d] = shape[d] + before[d] + after[d];
      empty |= shape[d] == 0 && before[d] + after[d] > 0;
    }
    tsr_array *r = NULL;
    if (empty && mode != TSR_PAD_CONSTANT) {
      assert_fails(tsr_pad(a, before, after, mode, 0, &r), TSR_EINVAL, "can't extend empty axis");
    } else {
      assert_ok(tsr_pad(a, before, after, mode, 7.5, &r));
      for (int d = 0; d < nd; d++)
        assert_int_equal(tsr_array_shape(r)[d], pshape[d]);
      double *got = su_compute(r);
      int64_t o[3] = {0};
      for (int64_t k = 0; k < su_size(nd, pshape); k++, su_next(nd, pshape, o)) {
        double want;
        bool outside = false;
        int64_t src = 0;
        for (int d = 0; d < nd; d++) {
          int64_t i = o[d] - before[d];
          outside |= i < 0 || i >= shape[d];
          if (mode != TSR_PAD_CONSTANT)
            src += naive_pad_index(i, shape[d], mode) * stride[d];
          else if (!outside)
            src += i * stride[d];
        }
        want = mode == TSR_PAD_CONSTANT && outside ? 7.5 : v[src];
        assert_true(got[k] == want);
      }
      free(got);
      tsr_array_destroy(&r);
    }

    /* tile, with reps longer or shorter than the axes */
    int nreps = (int)su_range(0, 4);
    int64_t reps[4], tshape[4];
    int tnd = nreps > nd ? nreps : nd;
    for (int i = 0; i < nreps; i++)
      reps[i] = su_range(0, 3);
    for (int d = 0; d < tnd; d++) {
      int ai = d - (tnd - nd), ri = d - (tnd - nreps);
      tshape[d] = (ai >= 0 ? shape[ai] : 1) * (ri >= 0 ? reps[ri] : 1);
    }
    assert_ok(tsr_tile(a, nreps, reps, &r));
    assert_int_equal(tsr_array_ndim(r), tnd);
    for (int d = 0; d < tnd; d++)
      assert_int_equal(tsr_array_shape(r)[d], tshape[d]);
    double *got = su_compute(r);
    int64_t o[4] = {0};
    for (int64_t k = 0; k < su_size(tnd, tshape); k++, su_next(tnd, tshape, o)) {
      int64_t src = 0;
      for (int d = 0; d < nd; d++)
        src += (o[d + tnd - nd] % shape[d]) * stride[d];
      assert_true(got[k] == v[src]);
    }
    free(got);
    tsr_array_destroy(&r);

    /* repeat along an axis, and flattened */
    int64_t times = su_range(0, 3);
    int axis = (int)su_range(0, nd - 1);
    assert_ok(tsr_repeat(a, times, &axis, &r));
    int64_t rshape[3];
    memcpy(rshape, shape, sizeof rshape);
    rshape[axis] *= times;
    got = su_compute(r);
    memset(o, 0, sizeof o);
    for (int64_t k = 0; k < su_size(nd, rshape); k++, su_next(nd, rshape, o)) {
      int64_t src = 0;
      for (int d = 0; d < nd; d++)
        src += (d == axis ? o[d] / times : o[d]) * stride[d];
      assert_true(got[k] == v[src]);
    }
    free(got);
    tsr_array_destroy(&r);
    assert_ok(tsr_repeat(a, times, NULL, &r));
    assert_int_equal(tsr_array_ndim(r), 1);
    assert_int_equal(tsr_array_shape(r)[0], size * times);
    got = su_compute(r);
    for (int64_t k = 0; k < size * times; k++)
      assert_true(got[k] == v[k / times]);
    free(got);
    tsr_array_destroy(&r);
    tsr_array_destroy(&a);
    free(v);
  }
}

static tsr_array *array_1d(tsr_ctx *ctx, const double *v, int64_t n) {
  int64_t chunk = 2;
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, &chunk, (void *)v, TSR_BUFFER_COPY,
                                  NULL, NULL, &a));
  return a;
}

static void test_rearrange__numpy_answers_and_errors(void **state) {
  tsr_ctx *ctx = *state;
  const double x[3] = {1, 2, 3};
  tsr_array *a = array_1d(ctx, x, 3), *r = NULL;
  /* np.pad([1, 2, 3], (5, 4), mode) */
  static const double want[4][12] = {
      {1, 1, 1, 1, 1, 1, 2, 3, 3, 3, 3, 3}, /* edge */
      {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3}, /* reflect */
      {2, 3, 3, 2, 1, 1, 2, 3, 3, 2, 1, 1}, /* symmetric */
      {2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1}, /* wrap */
  };
  int64_t b = 5, e = 4;
  for (int m = 0; m < 4; m++) {
    assert_ok(tsr_pad(a, &b, &e, (tsr_pad_mode)(m + 1), 0, &r));
    double *got = su_compute(r);
    assert_memory_equal(got, want[m], sizeof want[m]);
    free(got);
    tsr_array_destroy(&r);
  }
  int64_t neg = -1;
  assert_fails(tsr_pad(a, &neg, &e, TSR_PAD_EDGE, 0, &r), TSR_EINVAL,
               "pad widths must not be negative (axis 0: -1, 4)");
  assert_fails(tsr_pad(a, &b, &e, (tsr_pad_mode)9, 0, &r), TSR_EINVAL, "is not a tsr_pad_mode");
  int64_t big = INT64_MAX;
  assert_fails(tsr_tile(a, 1, &big, &r), TSR_EINVAL, "overflows int64");
  assert_fails(tsr_tile(a, 1, &neg, &r), TSR_EINVAL, "reps[0] = -1 is negative");
  assert_fails(tsr_repeat(a, -2, NULL, &r), TSR_EINVAL, "repeats = -2 may not be negative");
  int axis = 1;
  assert_fails(tsr_repeat(a, 2, &axis, &r), TSR_EINVAL, "axis 1 out of range for a 1-d array");
  assert_null(r);
  tsr_array_destroy(&a);
}

static void test_rearrange__random_integers_and_permutation(void **state) {
  tsr_ctx *ctx = *state;
  int64_t n = 10000, chunks[2] = {7, 1000};
  tsr_array *a = NULL, *b = NULL, *p = NULL, *q = NULL;
  assert_ok(tsr_array_random_integers(ctx, 42, -3, 7, 1, &n, &chunks[0], &a));
  assert_ok(tsr_array_random_integers(ctx, 42, -3, 7, 1, &n, &chunks[1], &b));
  assert_int_equal(tsr_array_dtype(a), TSR_INT64);
  int64_t *va = su_compute(a), *vb = su_compute(b);
  assert_memory_equal(va, vb, (size_t)n * sizeof *va); /* chunk independent */
  int64_t count[10] = {0};
  for (int64_t i = 0; i < n; i++) {
    assert_true(va[i] >= -3 && va[i] < 7);
    count[va[i] + 3]++;
  }
  for (int k = 0; k < 10; k++) /* about 1000 each (a fixed seed: no flakiness) */
    assert_true(count[k] > 850 && count[k] < 1150);
  free(va);
  free(vb);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  /* the extremes of int64 */
  int64_t three = 3;
  assert_ok(tsr_array_random_integers(ctx, 1, INT64_MIN, INT64_MAX, 1, &three, NULL, &a));
  va = su_compute(a);
  assert_true(va[0] != va[1] || va[1] != va[2]);
  free(va);
  tsr_array_destroy(&a);
  assert_fails(tsr_array_random_integers(ctx, 1, 5, 5, 1, &three, NULL, &a), TSR_EINVAL,
               "low (5) must be below high (5)");
  /* permutation: each of 0..n-1 once, the same for any chunking, other seeds differ */
  su_configure(ctx, 3);
  assert_ok(tsr_array_permutation(ctx, 9, n, 64, &p));
  assert_ok(tsr_array_permutation(ctx, 9, n, 0, &q));
  int64_t *vp = su_compute(p), *vq = su_compute(q);
  assert_memory_equal(vp, vq, (size_t)n * sizeof *vp);
  uint8_t *seen = calloc((size_t)n, 1);
  int64_t fixed = 0;
  for (int64_t i = 0; i < n; i++) {
    assert_true(vp[i] >= 0 && vp[i] < n && !seen[vp[i]]);
    seen[vp[i]] = 1;
    fixed += vp[i] == i;
  }
  assert_true(fixed < 10); /* a shuffle, not the identity (expected: 1) */
  free(seen);
  free(vq);
  tsr_array_destroy(&q);
  assert_ok(tsr_array_permutation(ctx, 10, n, 0, &q));
  vq = su_compute(q);
  assert_true(memcmp(vp, vq, (size_t)n * sizeof *vp) != 0);
  free(vp);
  free(vq);
  tsr_array_destroy(&p);
  tsr_array_destroy(&q);
  assert_ok(tsr_array_permutation(ctx, 9, 0, 0, &p));
  assert_int_equal(tsr_array_shape(p)[0], 0);
  tsr_array_destroy(&p);
  assert_fails(tsr_array_permutation(ctx, 9, -1, 0, &p), TSR_EINVAL, "n = -1 is negative");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rearrange__pad_tile_repeat, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_rearrange__numpy_answers_and_errors, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_rearrange__random_integers_and_permutation,
                                      test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
