/* test_reshape.c — reshape, squeeze and expand_dims keep the C-order bytes:
 * random shapes (zero extents, extent-1 axes) x random chunkings x random
 * target shapes built from the size's factors (with -1, extent-1 axes,
 * splits, merges and neither) x every dtype, compared with the input
 * buffer; one task per output chunk; errors naming both shapes. */
#include "structure_util.h"

/* A random shape of size `size` with 0..4 axes (size 0: some axis is 0). */
static int random_target(int64_t size, int64_t *shape) {
  int ndim = (int)su_range(size == 1 ? 0 : 1, 4);
  for (int d = 0; d < ndim; d++)
    shape[d] = 1;
  if (size == 0) {
    for (int d = 0; d < ndim; d++)
      shape[d] = su_range(0, 3);
    shape[su_rand() % (uint64_t)ndim] = 0;
    return ndim;
  }
  int64_t left = size;
  for (int64_t p = 2; left > 1; p++)
    while (left % p == 0) {
      shape[su_rand() % (uint64_t)ndim] *= p;
      left /= p;
    }
  if (ndim > 0 && su_rand() % 3 == 0)
    shape[su_rand() % (uint64_t)ndim] = -1;
  return ndim;
}

static void test_reshape__matches_reference(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(44);
  for (int trial = 0; trial < 500; trial++) {
    su_configure(ctx, trial);
    int ndim = (int)su_range(0, 4);
    int64_t shape[4];
    su_shape(ndim, 8, shape);
    for (int d = 0; d < ndim; d++)
      if (su_rand() % 6 == 0)
        shape[d] = 1;
    tsr_dtype dtype = (tsr_dtype)(trial % TSR_NUM_DTYPES);
    int64_t size = su_size(ndim, shape);
    size_t item = tsr_dtype_size(dtype);
    unsigned char *src = malloc((size_t)size * item + 1);
    su_fill(src, dtype, size);
    tsr_array *a = su_array(ctx, dtype, ndim, shape, src), *r = NULL;
    int64_t to[4];
    int ond = random_target(size, to);
    assert_ok(tsr_reshape(a, ond, to, &r));
    assert_int_equal(tsr_array_ndim(r), ond);
    for (int d = 0; d < ond; d++)
      if (to[d] >= 0)
        assert_int_equal(tsr_array_shape(r)[d], to[d]);
    assert_int_equal(tsr_array_size(r), size);
    unsigned char *got = su_compute(r);
    if (size > 0)
      assert_memory_equal(got, src, (size_t)size * item);
    assert_true(su_lower(r).node_fan_in <= 1);
    free(got);
    free(src);
    tsr_array_destroy(&a);
    tsr_array_destroy(&r);
  }
}

/* Pure splits and merges along chunk-compatible boundaries need no rechunk:
 * the task count is the sources' plus one per output chunk. */
static void test_reshape__compatible_chunks_map_directly(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *r, *b, *m;
  assert_ok(tsr_array_arange(ctx, TSR_INT64, 0, 24000, 1, 1000, &a));
  assert_ok(tsr_reshape(a, 3, (int64_t[]){24, 10, 100}, &r)); /* split */
  const tsr_chunk_grid *g = tsr_array_chunks(r);
  assert_int_equal(tsr_chunk_grid_nchunks(g), 24);
  assert_int_equal(su_lower(r).tasks, 24 + 24);
  assert_ok(tsr_reshape(r, 2, (int64_t[]){-1, 1000}, &b)); /* merge back */
  assert_int_equal(su_lower(b).tasks, 24 + 24);            /* one reshape of a: composed */
  assert_ok(tsr_reshape(b, 1, (int64_t[]){-1}, &m));
  int64_t *out = su_compute(m);
  for (int64_t i = 0; i < 24000; i++)
    assert_int_equal(out[i], i);
  free(out);
  tsr_array_destroy(&a);
  tsr_array_destroy(&r);
  tsr_array_destroy(&b);
  tsr_array_destroy(&m);
}

static void test_reshape__squeeze_and_expand_dims(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(45);
  for (int trial = 0; trial < 200; trial++) {
    su_configure(ctx, trial);
    int ndim = (int)su_range(0, 4);
    int64_t shape[4];
    su_shape(ndim, 5, shape);
    for (int d = 0; d < ndim; d++)
      if (su_rand() % 2 == 0)
        shape[d] = 1;
    tsr_dtype dtype = (tsr_dtype)(su_rand() % TSR_NUM_DTYPES);
    int64_t size = su_size(ndim, shape);
    size_t item = tsr_dtype_size(dtype);
    unsigned char *src = malloc((size_t)size * item + 1);
    su_fill(src, dtype, size);
    tsr_array *a = su_array(ctx, dtype, ndim, shape, src), *s = NULL, *e = NULL;
    /* squeeze: all extent-1 axes, or a random subset of them */
    int axes[4], naxes = 0;
    bool all = su_rand() % 2 == 0;
    for (int d = 0; d < ndim; d++) {
      if (shape[d] == 1 && (all || su_rand() % 2 == 0))
        axes[naxes++] = su_rand() % 2 ? d : d - ndim;
    }
    if (naxes == 0)
      all = true; /* naxes == 0 squeezes every extent-1 axis */
    if (all)
      naxes = 0;
    assert_ok(tsr_squeeze(a, axes, naxes, &s));
    int64_t kept[4];
    int nk = 0;
    for (int d = 0; d < ndim; d++) {
      bool dropped = shape[d] == 1 && all;
      for (int i = 0; i < naxes; i++)
        dropped |= axes[i] == d || axes[i] == d - ndim;
      if (!dropped)
        kept[nk++] = shape[d];
    }
    assert_int_equal(tsr_array_ndim(s), nk);
    for (int d = 0; d < nk; d++)
      assert_int_equal(tsr_array_shape(s)[d], kept[d]);
    int axis = (int)su_range(-(nk + 1), nk);
    assert_ok(tsr_expand_dims(s, axis, &e));
    assert_int_equal(tsr_array_ndim(e), nk + 1);
    assert_int_equal(tsr_array_shape(e)[axis < 0 ? axis + nk + 1 : axis], 1);
    unsigned char *g1 = su_compute(s), *g2 = su_compute(e);
    if (size > 0) {
      assert_memory_equal(g1, src, (size_t)size * item);
      assert_memory_equal(g2, src, (size_t)size * item);
    }
    free(g1);
    free(g2);
    free(src);
    tsr_array_destroy(&a);
    tsr_array_destroy(&s);
    tsr_array_destroy(&e);
  }
}

static void test_reshape__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *r = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_INT8, 2, (int64_t[]){3, 4}, NULL, &a));
  assert_fails(tsr_reshape(a, 2, (int64_t[]){5, 3}, &r), TSR_ESHAPE,
               "cannot reshape array of shape (3, 4) (12 elements) into shape (5, 3)");
  assert_null(r);
  assert_fails(tsr_reshape(a, 2, (int64_t[]){5, -1}, &r), TSR_ESHAPE, "into shape (5, -1)");
  assert_fails(tsr_reshape(a, 2, (int64_t[]){-1, -1}, &r), TSR_EINVAL,
               "only specify one unknown dimension");
  assert_fails(tsr_reshape(a, 2, (int64_t[]){-2, -6}, &r), TSR_EINVAL, "shape[0] = -2");
  assert_fails(tsr_reshape(a, 1, NULL, &r), TSR_EINVAL, "shape is NULL");
  assert_fails(tsr_reshape(NULL, 1, (int64_t[]){12}, &r), TSR_EINVAL, "a is NULL");
  assert_fails(tsr_squeeze(a, (int[]){1}, 1, &r), TSR_EINVAL, "cannot squeeze axis 1 of extent 4");
  assert_fails(tsr_squeeze(a, (int[]){2}, 1, &r), TSR_EINVAL, "axis 2 out of range for 2-d array");
  assert_fails(tsr_expand_dims(a, 3, &r), TSR_EINVAL, "axis 3 out of range for 3-d result");
  assert_fails(tsr_expand_dims(a, -4, &r), TSR_EINVAL, "axis -4 out of range");
  assert_fails(tsr_expand_dims(a, 0, NULL), TSR_EINVAL, "out is NULL");
  tsr_array_destroy(&a);
  /* A size-0 array reshapes to any size-0 shape, but -1 is ambiguous there. */
  assert_ok(tsr_array_zeros(ctx, TSR_INT8, 2, (int64_t[]){0, 4}, NULL, &a));
  assert_ok(tsr_reshape(a, 3, (int64_t[]){2, 0, 7}, &r));
  assert_ok(tsr_array_to_buffer(r, NULL, 0));
  tsr_array_destroy(&r);
  assert_fails(tsr_reshape(a, 2, (int64_t[]){0, -1}, &r), TSR_ESHAPE, "into shape (0, -1)");
  tsr_array_destroy(&a);
}

static void test_reshape__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  su_configure(ctx, 2);
  float src[360], out[360];
  for (int i = 0; i < 360; i++)
    src[i] = (float)i;
  bool done = false;
  int failures = 0;
  for (uint64_t nth = 1; nth < 1000 && !done; nth++) {
    tsr_array *a = NULL, *r = NULL, *s = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status st =
        tsr_array_from_buffer(ctx, TSR_FLOAT32, 3, (int64_t[]){6, 10, 6}, (int64_t[]){4, 3, 5}, src,
                              TSR_BUFFER_BORROW, NULL, NULL, &a);
    if (st == TSR_OK)
      st = tsr_reshape(a, 3, (int64_t[]){4, 15, -1}, &r);
    if (st == TSR_OK)
      st = tsr_expand_dims(r, 1, &s);
    if (st == TSR_OK)
      st = tsr_array_to_buffer(s, out, sizeof out);
    if (st == TSR_OK) {
      done = true;
      assert_memory_equal(out, src, sizeof src);
    } else {
      assert_int_equal(st, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&s);
    tsr_array_destroy(&r);
    tsr_array_destroy(&a);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reshape__matches_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_reshape__compatible_chunks_map_directly, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_reshape__squeeze_and_expand_dims, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_reshape__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_reshape__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
