/* test_take.c — indexing by data: tsr_take (integer arrays along an axis),
 * tsr_compress (a condition along an axis) and tsr_mask_select (x[mask],
 * C order) against naive references computed here, over random arrays of
 * 1 to 3 axes and several dtypes with random (ragged, irregular) chunkings
 * and thread counts; errors named as NumPy names them. */
#include "structure_util.h"

static const tsr_dtype dtypes[] = {TSR_FLOAT64, TSR_INT16, TSR_UINT8, TSR_FLOAT32, TSR_INT64};

/* Random indices into an axis of extent n: runs up, runs down, repeats,
 * negative ones and random ones. */
static int64_t random_indices(int64_t n, int64_t *idx, int64_t max) {
  int64_t m = 0, want = su_range(0, max);
  while (m < want && n > 0) {
    int kind = (int)su_range(0, 3);
    int64_t start = su_range(0, n - 1), len = su_range(1, 6);
    for (int64_t k = 0; k < len && m < want; k++) {
      int64_t i = kind == 0 ? start + k : kind == 1 ? start - k : kind == 2 ? start : su_range(0, n - 1);
      if (i < 0 || i >= n)
        break;
      idx[m++] = su_rand() % 3 == 0 ? i - n : i; /* a negative index counts from the end */
    }
  }
  return m;
}

static tsr_array *i64_array(tsr_ctx *ctx, int64_t n, const int64_t *v, tsr_dtype as) {
  tsr_array *a = NULL, *c = NULL;
  int64_t chunk = su_range(1, 5);
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT64, 1, &n, &chunk, (void *)v, TSR_BUFFER_COPY, NULL,
                                  NULL, &a));
  assert_ok(tsr_astype(a, as, &c));
  tsr_array_destroy(&a);
  return c;
}

static void test_take__random_against_naive(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(2026);
  for (int trial = 0; trial < 300; trial++) {
    su_configure(ctx, trial);
    tsr_dtype dt = dtypes[trial % 5];
    size_t item = tsr_dtype_size(dt);
    int nd = (int)su_range(1, 3);
    int64_t shape[3], stride[3];
    su_shape(nd, 9, shape);
    su_strides(nd, shape, stride);
    int64_t size = su_size(nd, shape);
    unsigned char *v = malloc((size_t)(size ? size : 1) * item);
    su_fill(v, dt, size);
    tsr_array *a = su_array(ctx, dt, nd, shape, v);
    int axis = (int)su_range(0, nd - 1);
    int64_t idx[40];
    int64_t n = random_indices(shape[axis], idx, 40);
    tsr_array *ix = i64_array(ctx, n, idx, trial % 2 ? TSR_INT64 : TSR_INT32);
    tsr_array *r = NULL;
    assert_ok(tsr_take(a, ix, axis - (trial % 3 == 0 ? nd : 0), &r));
    int64_t oshape[3];
    memcpy(oshape, shape, sizeof oshape);
    oshape[axis] = n;
    assert_int_equal(tsr_array_ndim(r), nd);
    for (int d = 0; d < nd; d++)
      assert_int_equal(tsr_array_shape(r)[d], oshape[d]);
    assert_int_equal(tsr_array_dtype(r), dt);
    unsigned char *got = su_compute(r);
    int64_t o[3] = {0};
    for (int64_t k = 0; k < su_size(nd, oshape); k++, su_next(nd, oshape, o)) {
      int64_t src = 0;
      for (int d = 0; d < nd; d++) {
        int64_t i = d == axis ? idx[o[d]] : o[d];
        src += (i < 0 ? i + shape[d] : i) * stride[d];
      }
      assert_memory_equal(got + (size_t)k * item, v + (size_t)src * item, item);
    }
    free(got);
    tsr_array_destroy(&r);
    tsr_array_destroy(&ix);

    /* compress along the axis: a random condition, sometimes shorter */
    int64_t cn = shape[axis] - (su_rand() % 4 == 0 && shape[axis] > 0 ? su_range(0, shape[axis]) : 0);
    int64_t cond[16];
    int64_t kept = 0, where[16];
    for (int64_t i = 0; i < cn; i++) {
      cond[i] = (int64_t)(su_rand() % 3 == 0) * su_range(1, 3);
      if (cond[i] != 0)
        where[kept++] = i;
    }
    tsr_array *c = i64_array(ctx, cn, cond, trial % 2 ? TSR_BOOL : TSR_INT8);
    assert_ok(tsr_compress(c, a, axis, &r));
    oshape[axis] = kept;
    for (int d = 0; d < nd; d++)
      assert_int_equal(tsr_array_shape(r)[d], oshape[d]);
    got = su_compute(r);
    memset(o, 0, sizeof o);
    for (int64_t k = 0; k < su_size(nd, oshape); k++, su_next(nd, oshape, o)) {
      int64_t src = 0;
      for (int d = 0; d < nd; d++)
        src += (d == axis ? where[o[d]] : o[d]) * stride[d];
      assert_memory_equal(got + (size_t)k * item, v + (size_t)src * item, item);
    }
    free(got);
    tsr_array_destroy(&r);
    tsr_array_destroy(&c);

    /* x[mask]: the true elements in C order */
    uint8_t *mask = malloc((size_t)(size ? size : 1));
    int64_t m = 0;
    int density = (int)su_range(0, 4); /* 0: none kept, 4: all kept */
    for (int64_t i = 0; i < size; i++) {
      mask[i] = (uint8_t)((int)(su_rand() % 4) < density);
      m += mask[i];
    }
    tsr_array *mk = su_array(ctx, TSR_BOOL, nd, shape, mask);
    assert_ok(tsr_mask_select(a, mk, &r));
    assert_int_equal(tsr_array_ndim(r), 1);
    assert_int_equal(tsr_array_shape(r)[0], m);
    got = su_compute(r);
    for (int64_t i = 0, k = 0; i < size; i++)
      if (mask[i]) {
        assert_memory_equal(got + (size_t)k * item, v + (size_t)i * item, item);
        k++;
      }
    /* the result composes: its sum is the kept values' */
    tsr_array *s = NULL;
    assert_ok(tsr_sum(r, NULL, 0, false, &s));
    double *gs = su_compute(s);
    long double want = 0;
    for (int64_t i = 0; i < size; i++)
      if (mask[i])
        want += su_get(v, dt, i);
    if (dt == TSR_FLOAT64 || dt == TSR_INT64 || dt == TSR_INT16)
      assert_true((long double)su_get(gs, tsr_array_dtype(s), 0) == want);
    free(gs);
    free(got);
    free(mask);
    tsr_array_destroy(&s);
    tsr_array_destroy(&r);
    tsr_array_destroy(&mk);
    tsr_array_destroy(&a);
    free(v);
  }
}

static void test_take__reads_only_the_chunks_it_needs(void **state) {
  tsr_ctx *ctx = *state;
  /* 1000 x 10 in chunks of 10 rows: rows 5..9 and 995 read 2 chunks. */
  int64_t shape[2] = {1000, 10}, chunks[2] = {10, 10};
  tsr_array *a = NULL, *r = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_FLOAT64, 0, 10000, 1, 0, &a));
  tsr_array *m = NULL;
  assert_ok(tsr_reshape(a, 2, shape, &m));
  tsr_array *mc = NULL;
  assert_ok(tsr_rechunk(m, chunks, &mc));
  int64_t idx[6] = {5, 6, 7, 8, 9, -5};
  tsr_array *ix = NULL;
  int64_t n = 6;
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT64, 1, &n, NULL, idx, TSR_BUFFER_COPY, NULL, NULL,
                                  &ix));
  assert_ok(tsr_take(mc, ix, 0, &r));
  double *got = su_compute(r);
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 10; j++)
      assert_true(got[i * 10 + j] == (double)((idx[i] < 0 ? idx[i] + 1000 : idx[i]) * 10 + j));
  free(got);
  su_graph gr = su_lower(r);
  assert_true(gr.node_fan_in <= 2); /* one output chunk, reading two input chunks */
  tsr_array_destroy(&r);
  tsr_array_destroy(&ix);
  tsr_array_destroy(&mc);
  tsr_array_destroy(&m);
  tsr_array_destroy(&a);
}

static void test_take__errors(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {3, 4}, n = 2;
  tsr_array *a = NULL, *r = NULL, *ix = NULL, *b = NULL, *mk = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, shape, NULL, &a));
  int64_t bad[2] = {1, 3};
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT64, 1, &n, NULL, bad, TSR_BUFFER_COPY, NULL, NULL,
                                  &ix));
  assert_fails(tsr_take(a, ix, 0, &r), TSR_EINVAL,
               "index 3 (indices[1]) is out of bounds for axis 0 with size 3");
  assert_null(r);
  assert_fails(tsr_take(a, ix, 2, &r), TSR_EINVAL, "axis 2 out of range for a 2-d array");
  assert_fails(tsr_take(NULL, ix, 0, &r), TSR_EINVAL, "a is NULL");
  assert_ok(tsr_array_zeros(ctx, TSR_BOOL, 1, &n, NULL, &b));
  assert_fails(tsr_take(a, b, 0, &r), TSR_EDTYPE, "indices must be integers, not bool");
  assert_fails(tsr_take(a, a, 0, &r), TSR_EDTYPE, "indices must be integers");
  int64_t five = 5;
  tsr_array *longc = NULL;
  assert_ok(tsr_array_ones(ctx, TSR_BOOL, 1, &five, NULL, &longc));
  assert_fails(tsr_compress(longc, a, 0, &r), TSR_ESHAPE,
               "condition has 5 elements but axis 0 of a has only 3");
  assert_fails(tsr_mask_select(a, b, &r), TSR_ESHAPE,
               "mask has shape (2,) but the array has (3, 4)");
  assert_fails(tsr_mask_select(a, a, &r), TSR_EDTYPE, "mask must be bool, not float64");
  assert_ok(tsr_array_ones(ctx, TSR_BOOL, 2, shape, NULL, &mk));
  assert_ok(tsr_mask_select(a, mk, &r));
  assert_int_equal(tsr_array_shape(r)[0], 12);
  tsr_array_destroy(&r);
  tsr_array_destroy(&mk);
  tsr_array_destroy(&longc);
  tsr_array_destroy(&b);
  tsr_array_destroy(&ix);
  tsr_array_destroy(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_take__random_against_naive, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_take__reads_only_the_chunks_it_needs, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_take__errors, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
