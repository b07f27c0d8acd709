/* test_transpose.c — axis permutations against a naive reference: random
 * shapes x random chunkings x random permutations (and perm == NULL) x every
 * dtype; the output grid is the permuted input grid with one task per chunk;
 * a large 2-D transpose (tiled path) against the reference; errors. */
#include "structure_util.h"

static void check_transpose(tsr_ctx *ctx, tsr_dtype dtype, int ndim, const int64_t *shape,
                            const int *perm) {
  int64_t size = su_size(ndim, shape);
  size_t item = tsr_dtype_size(dtype);
  unsigned char *src = malloc((size_t)size * item + 1);
  su_fill(src, dtype, size);
  tsr_array *a = su_array(ctx, dtype, ndim, shape, src), *t = NULL;
  assert_ok(tsr_transpose(a, perm, &t));
  int p[4];
  for (int k = 0; k < ndim; k++)
    p[k] = perm ? (perm[k] < 0 ? perm[k] + ndim : perm[k]) : ndim - 1 - k;
  int64_t oshape[4], stride[4], idx[4] = {0};
  for (int k = 0; k < ndim; k++)
    oshape[k] = shape[p[k]];
  assert_int_equal(tsr_array_ndim(t), ndim);
  for (int k = 0; k < ndim; k++)
    assert_int_equal(tsr_array_shape(t)[k], oshape[k]);
  /* The grid is the permuted input grid. */
  const tsr_chunk_grid *ag = tsr_array_chunks(a), *tg = tsr_array_chunks(t);
  for (int k = 0; k < ndim; k++) {
    assert_int_equal(tsr_chunk_grid_nchunks_axis(tg, k), tsr_chunk_grid_nchunks_axis(ag, p[k]));
    for (int64_t c = 0; c < tsr_chunk_grid_nchunks_axis(tg, k); c++)
      assert_int_equal(tsr_chunk_grid_chunk_extent(tg, k, c),
                       tsr_chunk_grid_chunk_extent(ag, p[k], c));
  }
  su_strides(ndim, shape, stride);
  unsigned char *want = malloc((size_t)size * item + 1);
  for (int64_t o = 0; o < size; o++) {
    int64_t at = 0;
    for (int k = 0; k < ndim; k++)
      at += idx[k] * stride[p[k]];
    memcpy(want + (size_t)o * item, src + (size_t)at * item, item);
    su_next(ndim, oshape, idx);
  }
  unsigned char *got = su_compute(t);
  if (size > 0)
    assert_memory_equal(got, want, (size_t)size * item);
  assert_true(su_lower(t).node_fan_in <= 1);
  free(src);
  free(want);
  free(got);
  tsr_array_destroy(&a);
  tsr_array_destroy(&t);
}

static void test_transpose__matches_reference(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(22);
  for (int trial = 0; trial < 300; trial++) {
    su_configure(ctx, trial);
    int ndim = (int)su_range(0, 4);
    int64_t shape[4];
    su_shape(ndim, 8, shape);
    int perm[4];
    for (int k = 0; k < ndim; k++)
      perm[k] = k;
    for (int k = ndim - 1; k > 0; k--) {
      int j = (int)su_range(0, k), tmp = perm[k];
      perm[k] = perm[j];
      perm[j] = tmp;
    }
    for (int k = 0; k < ndim; k++)
      if (su_rand() % 4 == 0)
        perm[k] -= ndim; /* negative axes count from the end */
    check_transpose(ctx, (tsr_dtype)(trial % TSR_NUM_DTYPES), ndim, shape,
                    su_rand() % 4 == 0 ? NULL : perm);
  }
}

/* Chunks larger than a tile, ragged against the 32 x 32 tiles, every item size. */
static void test_transpose__large_2d_tiled(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(23);
  static const tsr_dtype dts[] = {TSR_UINT8, TSR_INT16, TSR_FLOAT32, TSR_FLOAT64};
  for (int i = 0; i < 4; i++) {
    su_configure(ctx, i);
    check_transpose(ctx, dts[i], 2, (int64_t[]){203, 77}, NULL);
    check_transpose(ctx, dts[i], 3, (int64_t[]){5, 71, 66}, (int[]){0, 2, 1});
  }
}

static void test_transpose__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *t = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_INT8, 2, (int64_t[]){3, 4}, NULL, &a));
  assert_fails(tsr_transpose(a, (int[]){0, 3}, &t), TSR_EINVAL,
               "tsr_transpose: axis 3 out of range for 2-d array");
  assert_null(t);
  assert_fails(tsr_transpose(a, (int[]){1, -3}, &t), TSR_EINVAL, "axis -3 out of range");
  assert_fails(tsr_transpose(a, (int[]){1, -1}, &t), TSR_EINVAL, "repeated axis 1");
  assert_fails(tsr_transpose(NULL, NULL, &t), TSR_EINVAL, "a is NULL");
  assert_fails(tsr_transpose(a, NULL, NULL), TSR_EINVAL, "out is NULL");
  tsr_array_destroy(&a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_transpose__matches_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_transpose__large_2d_tiled, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_transpose__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
