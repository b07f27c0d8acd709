/* test_slice.c — NumPy basic indexing against a naive reference computed
 * with CPython's slice.indices algorithm: random shapes x random chunkings x
 * random integer indices and slices (negative, out-of-range, omitted bounds,
 * negative and large steps) x several dtypes and executors; output chunks
 * follow the input chunks and each slice task reads one input chunk; errors
 * name the axis and extent. */
#include "structure_util.h"

/* CPython's PySlice_GetIndicesEx, written its own way: the selected input
 * indices of one axis. */
static int64_t ref_indices(int64_t n, tsr_index ix, int64_t *out) {
  if (!ix.is_slice) {
    out[0] = ix.start < 0 ? ix.start + n : ix.start;
    return 1;
  }
  int64_t step = ix.step;
  int64_t lower = step < 0 ? -1 : 0, upper = step < 0 ? n - 1 : n;
  int64_t start, stop;
  if (ix.start == TSR_NONE) {
    start = step < 0 ? upper : lower;
  } else {
    start = ix.start < 0 ? ix.start + n : ix.start;
    start = start < lower ? lower : start > upper ? upper : start;
  }
  if (ix.stop == TSR_NONE) {
    stop = step < 0 ? lower : upper;
  } else {
    stop = ix.stop < 0 ? ix.stop + n : ix.stop;
    stop = stop < lower ? lower : stop > upper ? upper : stop;
  }
  int64_t k = 0;
  for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
    out[k++] = i;
    if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step))
      break;
  }
  return k;
}

static tsr_index random_index(int64_t n) {
  if (n > 0 && su_rand() % 4 == 0)
    return TSR_AT(su_range(-n, n - 1));
  int64_t bound = n + 2;
  int64_t start = su_rand() % 3 == 0 ? TSR_NONE : su_range(-bound, bound);
  int64_t stop = su_rand() % 3 == 0 ? TSR_NONE : su_range(-bound, bound);
  static const int64_t steps[] = {1, 1, 1, 2, 3, -1, -1, -2, -3, 7, -5, INT64_MAX, INT64_MIN + 1};
  int64_t step = steps[su_rand() % (sizeof steps / sizeof steps[0])];
  if (su_rand() % 5 == 0)
    return TSR_ALL;
  return TSR_SLICE(start, stop, step);
}

static void test_slice__matches_reference(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(11);
  for (int trial = 0; trial < 400; trial++) {
    su_configure(ctx, trial);
    int ndim = (int)su_range(0, 4);
    int64_t shape[4];
    su_shape(ndim, 9, shape);
    tsr_dtype dtype = (tsr_dtype)(su_rand() % TSR_NUM_DTYPES);
    int64_t size = su_size(ndim, shape);
    size_t item = tsr_dtype_size(dtype);
    unsigned char *src = malloc((size_t)size * item + 1);
    su_fill(src, dtype, size);
    tsr_array *a = su_array(ctx, dtype, ndim, shape, src);
    int n = (int)su_range(0, ndim);
    tsr_index index[4];
    for (int d = 0; d < n; d++)
      index[d] = random_index(shape[d]);
    tsr_array *s = NULL;
    assert_ok(tsr_slice(a, n, index, &s));
    /* Reference: the selected indices per axis. */
    int64_t sel[4][16], nsel[4], oshape[4];
    int ond = 0;
    for (int d = 0; d < ndim; d++) {
      tsr_index ix = d < n ? index[d] : TSR_ALL;
      nsel[d] = ref_indices(shape[d], ix, sel[d]);
      if (ix.is_slice)
        oshape[ond++] = nsel[d];
    }
    assert_int_equal(tsr_array_ndim(s), ond);
    assert_int_equal(tsr_array_dtype(s), dtype);
    for (int k = 0; k < ond; k++)
      assert_int_equal(tsr_array_shape(s)[k], oshape[k]);
    int64_t osize = su_size(ond, oshape);
    assert_int_equal(tsr_array_size(s), osize);
    unsigned char *want = malloc((size_t)osize * item + 1);
    int64_t stride[4], pos[4] = {0};
    su_strides(ndim, shape, stride);
    for (int64_t o = 0; o < osize; o++) {
      int64_t at = 0;
      for (int d = 0; d < ndim; d++)
        at += sel[d][pos[d]] * stride[d];
      memcpy(want + (size_t)o * item, src + (size_t)at * item, item);
      su_next(ndim, nsel, pos);
    }
    unsigned char *got = su_compute(s);
    if (osize > 0)
      assert_memory_equal(got, want, (size_t)osize * item);
    /* Every slice task reads one input chunk. */
    assert_true(su_lower(s).node_fan_in <= 1);
    free(got);
    free(want);
    free(src);
    tsr_array_destroy(&s);
    tsr_array_destroy(&a);
  }
}

/* Chained slices (a slice of a slice, a transpose of a slice) stay exact. */
static void test_slice__chains(void **state) {
  tsr_ctx *ctx = *state;
  su_configure(ctx, 2);
  int64_t shape[2] = {37, 23};
  int32_t src[37 * 23];
  for (int i = 0; i < 37 * 23; i++)
    src[i] = i;
  tsr_array *a, *b, *c, *t;
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT32, 2, shape, (int64_t[]){5, 4}, src,
                                  TSR_BUFFER_BORROW, NULL, NULL, &a));
  tsr_index i1[2] = {TSR_SLICE(30, 2, -3), TSR_SLICE(1, TSR_NONE, 2)};
  assert_ok(tsr_slice(a, 2, i1, &b)); /* rows 30,27,...,3 (10); cols 1,3,...,21 (11) */
  tsr_index i2[2] = {TSR_SLICE(TSR_NONE, TSR_NONE, -1), TSR_AT(-2)};
  assert_ok(tsr_slice(b, 2, i2, &c)); /* rows 3..30 step 3; col 19 */
  assert_int_equal(tsr_array_ndim(c), 1);
  assert_int_equal(tsr_array_shape(c)[0], 10);
  int32_t out[10];
  assert_ok(tsr_array_to_buffer(c, out, sizeof out));
  for (int i = 0; i < 10; i++)
    assert_int_equal(out[i], (3 + 3 * i) * 23 + 19);
  assert_ok(tsr_transpose(b, NULL, &t));
  int32_t tb[11 * 10];
  assert_ok(tsr_array_to_buffer(t, tb, sizeof tb));
  for (int j = 0; j < 11; j++)
    for (int i = 0; i < 10; i++)
      assert_int_equal(tb[j * 10 + i], (30 - 3 * i) * 23 + 1 + 2 * j);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&c);
  tsr_array_destroy(&t);
}

/* Output chunks follow the input chunks; a small slice depends on the few
 * chunks it needs: its tasks read only those source tasks. */
static void test_slice__reads_only_needed_chunks(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {100, 100};
  tsr_array *a, *s;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, shape, (int64_t[]){10, 10}, &a));
  tsr_index ix[2] = {TSR_SLICE(15, 25, 1), TSR_SLICE(95, 85, -2)};
  assert_ok(tsr_slice(a, 2, ix, &s));
  const tsr_chunk_grid *g = tsr_array_chunks(s);
  /* rows 15..24 span input chunks 1 and 2; cols 95,93,...,87 span chunks 9 and 8. */
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 0), 2);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 1), 2);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 0, 0), 5);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 1, 0), 3); /* 95, 93, 91 */
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 1, 1), 2); /* 89, 87 */

  tsr_taskgraph *tg;
  tsr__lowering *l;
  const uint32_t *src_ids, *ids;
  assert_ok(tsr_taskgraph_create(ctx, &tg));
  assert_ok(tsr__lowering_create(ctx, tg, &l));
  assert_ok(tsr__lowering_lower(l, s->expr, &ids));
  assert_ok(tsr__lowering_lower(l, a->expr, &src_ids));
  /* Slice chunk (i, j) reads source chunk (1 + i, 9 - j) only. */
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) {
      uint32_t t = ids[i * 2 + j];
      assert_int_equal(tsr__task_n_inputs(tg, t), 1);
      assert_int_equal(tg->inputs[tg->in_off[t]], src_ids[(1 + i) * 10 + (9 - j)]);
    }
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&tg);
  tsr_array_destroy(&a);
  tsr_array_destroy(&s);
}

static void test_slice__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *s = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_INT8, 2, (int64_t[]){3, 4}, NULL, &a));
  assert_fails(tsr_slice(a, 2, (tsr_index[]){TSR_ALL, TSR_AT(4)}, &s), TSR_EINVAL,
               "index 4 is out of bounds for axis 1 with size 4");
  assert_null(s);
  assert_fails(tsr_slice(a, 1, (tsr_index[]){TSR_AT(-4)}, &s), TSR_EINVAL,
               "index -4 is out of bounds for axis 0 with size 3");
  assert_fails(tsr_slice(a, 1, (tsr_index[]){TSR_SLICE(0, 2, 0)}, &s), TSR_EINVAL,
               "step cannot be zero");
  assert_fails(tsr_slice(a, 3, (tsr_index[]){TSR_ALL, TSR_ALL, TSR_ALL}, &s), TSR_EINVAL,
               "3 indices for a 2-d array");
  assert_fails(tsr_slice(NULL, 0, NULL, &s), TSR_EINVAL, "a is NULL");
  assert_fails(tsr_slice(a, 1, NULL, &s), TSR_EINVAL, "index is NULL");
  assert_fails(tsr_slice(a, 0, NULL, NULL), TSR_EINVAL, "out is NULL");
  /* Slicing everything away is fine. */
  assert_ok(tsr_slice(a, 1, (tsr_index[]){TSR_SLICE(2, 1, 1)}, &s));
  assert_int_equal(tsr_array_size(s), 0);
  assert_ok(tsr_array_to_buffer(s, NULL, 0));
  tsr_array_destroy(&s);
  tsr_array_destroy(&a);
}

static void test_slice__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  su_configure(ctx, 2);
  int64_t shape[3] = {7, 6, 5};
  double src[210], out[3 * 4];
  for (int i = 0; i < 210; i++)
    src[i] = i;
  bool done = false;
  int failures = 0;
  for (uint64_t nth = 1; nth < 400 && !done; nth++) {
    tsr_array *a = NULL, *s = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status st = tsr_array_from_buffer(ctx, TSR_FLOAT64, 3, shape, (int64_t[]){2, 2, 2}, src,
                                          TSR_BUFFER_BORROW, NULL, NULL, &a);
    if (st == TSR_OK)
      st = tsr_slice(a, 3, (tsr_index[]){TSR_SLICE(6, 0, -2), TSR_AT(1), TSR_SLICE(1, 5, 1)}, &s);
    if (st == TSR_OK)
      st = tsr_array_to_buffer(s, out, sizeof out);
    if (st == TSR_OK) {
      done = true;
      for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
          assert_true(out[i * 4 + j] == (6 - 2 * i) * 30 + 1 * 5 + 1 + j);
    } else {
      assert_int_equal(st, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&s);
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
      cmocka_unit_test_setup_teardown(test_slice__matches_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_slice__chains, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_slice__reads_only_needed_chunks, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_slice__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_slice__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
