/* test_concat.c — concatenate and stack against a naive reference: 1 to 4
 * arrays of random (mixed) dtypes promoted NumPy's way, random shapes
 * (zero extents included, along the axis and elsewhere), random and
 * mismatched chunkings, every axis including negative ones; output chunks
 * are the inputs' chunks side by side; errors name the array and shapes. */
#include "structure_util.h"

typedef struct input {
  tsr_dtype dtype;
  int64_t shape[5];
  unsigned char *data;
  tsr_array *a;
} input;

static void test_concat__matches_reference(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(55);
  for (int trial = 0; trial < 400; trial++) {
    su_configure(ctx, trial);
    bool stack = trial % 3 == 0;
    int ndim = (int)su_range(stack ? 0 : 1, 4);
    size_t n = (size_t)su_range(1, 4);
    int64_t base[4];
    su_shape(ndim, 6, base);
    int oaxis = stack ? (int)su_range(0, ndim) : (int)su_range(0, ndim - 1);
    int axis = su_rand() % 2 ? oaxis : oaxis - (stack ? ndim + 1 : ndim);
    tsr_dtype dt0 = (tsr_dtype)(su_rand() % TSR_NUM_DTYPES);
    input in[4];
    tsr_array *arrays[4];
    tsr_dtype rdt = dt0;
    for (size_t i = 0; i < n; i++) {
      in[i].dtype = su_rand() % 2 ? dt0 : (tsr_dtype)(su_rand() % TSR_NUM_DTYPES);
      memcpy(in[i].shape, base, sizeof base);
      if (!stack)
        in[i].shape[oaxis] = su_range(0, 5);
      int64_t size = su_size(ndim, in[i].shape);
      in[i].data = malloc((size_t)size * tsr_dtype_size(in[i].dtype) + 1);
      su_fill(in[i].data, in[i].dtype, size);
      in[i].a = su_array(ctx, in[i].dtype, ndim, in[i].shape, in[i].data);
      arrays[i] = in[i].a;
      if (i == 0)
        rdt = in[0].dtype;
      else
        assert_ok(tsr_dtype_promote(rdt, in[i].dtype, &rdt));
    }
    tsr_array *r = NULL;
    if (stack)
      assert_ok(tsr_stack(n, arrays, axis, &r));
    else
      assert_ok(tsr_concatenate(n, arrays, axis, &r));
    assert_int_equal(tsr_array_dtype(r), rdt);
    /* Reference: output shape, then each element from its input. */
    int ond = stack ? ndim + 1 : ndim;
    int64_t oshape[5];
    for (int k = 0, d = 0; k < ond; k++)
      oshape[k] = stack && k == oaxis ? (int64_t)n : base[d++];
    if (!stack) {
      oshape[oaxis] = 0;
      for (size_t i = 0; i < n; i++)
        oshape[oaxis] += in[i].shape[oaxis];
    }
    assert_int_equal(tsr_array_ndim(r), ond);
    for (int k = 0; k < ond; k++)
      assert_int_equal(tsr_array_shape(r)[k], oshape[k]);
    int64_t osize = su_size(ond, oshape);
    size_t item = tsr_dtype_size(rdt);
    unsigned char *want = malloc((size_t)osize * item + 1);
    int64_t idx[5] = {0};
    for (int64_t o = 0; o < osize; o++) {
      int64_t along = idx[oaxis];
      size_t i = 0;
      if (stack) {
        i = (size_t)along;
      } else {
        while (along >= in[i].shape[oaxis])
          along -= in[i++].shape[oaxis];
      }
      int64_t iidx[4], stride[4];
      for (int k = 0, d = 0; k < ond; k++) {
        if (stack && k == oaxis)
          continue;
        iidx[d++] = !stack && k == oaxis ? along : idx[k];
      }
      su_strides(ndim, in[i].shape, stride);
      int64_t at = 0;
      for (int d = 0; d < ndim; d++)
        at += iidx[d] * stride[d];
      su_set(want, rdt, o, su_get(in[i].data, in[i].dtype, at));
      su_next(ond, oshape, idx);
    }
    unsigned char *got = su_compute(r);
    if (osize > 0)
      assert_memory_equal(got, want, (size_t)osize * item);
    assert_true(su_lower(r).node_fan_in <= 1);
    free(got);
    free(want);
    for (size_t i = 0; i < n; i++) {
      free(in[i].data);
      tsr_array_destroy(&in[i].a);
    }
    tsr_array_destroy(&r);
  }
}

/* The inputs' chunks side by side along the axis; elsewhere the union of
 * their boundaries. */
static void test_concat__chunks_side_by_side(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *b, *r, *s;
  assert_ok(tsr_array_ones(ctx, TSR_INT32, 2, (int64_t[]){5, 7}, (int64_t[]){2, 3}, &a));
  assert_ok(tsr_array_zeros(ctx, TSR_UINT8, 2, (int64_t[]){5, 4}, (int64_t[]){1, 4}, &b));
  assert_ok(tsr_concatenate(2, (tsr_array *[]){a, b}, 1, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT32);
  const tsr_chunk_grid *g = tsr_array_chunks(r);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 0), 5); /* a's 2, 2, 1 with b's 1s */
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 1), 4); /* 3, 3, 1 | 4 */
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 1, 2), 1);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 1, 3), 4);
  int32_t out[5 * 11];
  assert_ok(tsr_array_to_buffer(r, out, sizeof out));
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 11; j++)
      assert_int_equal(out[i * 11 + j], j < 7 ? 1 : 0);
  /* stack: one chunk per input along the new axis */
  assert_ok(tsr_stack(3, (tsr_array *[]){a, a, a}, -1, &s));
  g = tsr_array_chunks(s);
  assert_int_equal(tsr_array_shape(s)[2], 3);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 2), 3);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&r);
  tsr_array_destroy(&s);
}

/* A one-chunk column beside a finely chunked matrix keeps the matrix's
 * chunks (the first operand's single chunk used to win, making one chunk of
 * the whole result); misaligned boundaries give their union; stack unifies
 * too; agreeing inputs keep their (regular) chunks. */
static void test_concat__unifies_other_axes(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *col, *x, *y, *r, *s;
  assert_ok(tsr_array_full(ctx, TSR_FLOAT64, 2, (int64_t[]){1000, 1}, (int64_t[]){1000, 1}, 7.0,
                           &col));
  assert_ok(
      tsr_array_ones(ctx, TSR_FLOAT64, 2, (int64_t[]){1000, 200}, (int64_t[]){100, 50}, &x));
  assert_ok(tsr_concatenate(2, (tsr_array *[]){col, x}, 1, &r));
  const tsr_chunk_grid *g = tsr_array_chunks(r);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 0), 10);
  for (int64_t c = 0; c < 10; c++)
    assert_int_equal(tsr_chunk_grid_chunk_extent(g, 0, c), 100);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 1), 5); /* 1 | 50 x 4 */
  double *out = malloc(1000 * 203 * sizeof *out);
  assert_ok(tsr_array_to_buffer(r, out, 1000 * 201 * sizeof *out));
  for (int i = 0; i < 1000; i++)
    for (int j = 0; j < 201; j++)
      assert_true(out[i * 201 + j] == (j == 0 ? 7.0 : 1.0));
  tsr_array_destroy(&r);
  /* 100s beside 128s: boundaries 0, 100, 128, 200, 256, ... 1000 */
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, (int64_t[]){1000, 3}, (int64_t[]){128, 3}, &y));
  assert_ok(tsr_concatenate(2, (tsr_array *[]){x, y}, -1, &r));
  g = tsr_array_chunks(r);
  int64_t want[40], nw = 0;
  for (int64_t b = 0; b <= 1000; b++)
    if (b % 100 == 0 || b % 128 == 0 || b == 1000)
      want[nw++] = b;
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 0), nw - 1);
  for (int64_t c = 0; c < nw - 1; c++) {
    assert_int_equal(tsr_chunk_grid_chunk_offset(g, 0, c), want[c]);
    assert_int_equal(tsr_chunk_grid_chunk_extent(g, 0, c), want[c + 1] - want[c]);
  }
  assert_ok(tsr_array_to_buffer(r, out, 1000 * 203 * sizeof *out));
  for (int i = 0; i < 1000; i++)
    for (int j = 0; j < 203; j++)
      assert_true(out[i * 203 + j] == (j < 200 ? 1.0 : 0.0));
  assert_true(su_lower(r).node_fan_in <= 1);
  tsr_array_destroy(&r);
  /* stack: the same union on every input axis */
  tsr_array *x3, *y3;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 1, (int64_t[]){1000}, (int64_t[]){100}, &x3));
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 1, (int64_t[]){1000}, (int64_t[]){1000}, &y3));
  assert_ok(tsr_stack(2, (tsr_array *[]){y3, x3}, 0, &s));
  g = tsr_array_chunks(s);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 1), 10);
  assert_ok(tsr_array_to_buffer(s, out, 2000 * sizeof *out));
  for (int i = 0; i < 2000; i++)
    assert_true(out[i] == (i < 1000 ? 0.0 : 1.0));
  tsr_array_destroy(&s);
  /* agreeing inputs: their chunks, unchanged */
  assert_ok(tsr_concatenate(2, (tsr_array *[]){x, x}, 0, &r));
  g = tsr_array_chunks(r);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 1), 4);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 0), 20);
  tsr_array_destroy(&r);
  free(out);
  tsr_array_destroy(&x3);
  tsr_array_destroy(&y3);
  tsr_array_destroy(&col);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
}

static void test_concat__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *b, *z, *r = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_INT8, 2, (int64_t[]){3, 4}, NULL, &a));
  assert_ok(tsr_array_zeros(ctx, TSR_INT8, 2, (int64_t[]){4, 3}, NULL, &b));
  assert_ok(tsr_array_zeros(ctx, TSR_INT8, 0, NULL, NULL, &z));
  assert_fails(tsr_concatenate(2, (tsr_array *[]){a, b}, 0, &r), TSR_ESHAPE,
               "array 1 has shape (4, 3) but array 0 has (3, 4)");
  assert_null(r);
  assert_fails(tsr_concatenate(2, (tsr_array *[]){a, z}, 0, &r), TSR_ESHAPE,
               "array 1 has shape () but array 0 has (3, 4)");
  assert_fails(tsr_stack(2, (tsr_array *[]){a, b}, 0, &r), TSR_ESHAPE,
               "array 1 has shape (4, 3) but array 0 has (3, 4)");
  assert_fails(tsr_concatenate(1, (tsr_array *[]){a}, 2, &r), TSR_EINVAL,
               "axis 2 out of range for 2-d array");
  assert_fails(tsr_stack(1, (tsr_array *[]){a}, -4, &r), TSR_EINVAL,
               "axis -4 out of range for 3-d result");
  assert_fails(tsr_concatenate(1, (tsr_array *[]){z}, 0, &r), TSR_EINVAL, "zero-dimensional");
  assert_fails(tsr_concatenate(0, NULL, 0, &r), TSR_EINVAL, "at least one array");
  assert_fails(tsr_concatenate(2, (tsr_array *[]){a, NULL}, 0, &r), TSR_EINVAL,
               "arrays[1] is NULL");
  assert_fails(tsr_stack(1, (tsr_array *[]){a}, 0, NULL), TSR_EINVAL, "out is NULL");
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&z);
}

static void test_concat__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  su_configure(ctx, 2);
  int16_t s1[6 * 4];
  double s2[6 * 5], out[6 * 9];
  for (int i = 0; i < 24; i++)
    s1[i] = (int16_t)i;
  for (int i = 0; i < 30; i++)
    s2[i] = -i;
  bool done = false;
  int failures = 0;
  for (uint64_t nth = 1; nth < 1000 && !done; nth++) {
    tsr_array *a = NULL, *b = NULL, *r = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status st = tsr_array_from_buffer(ctx, TSR_INT16, 2, (int64_t[]){6, 4}, (int64_t[]){4, 3},
                                          s1, TSR_BUFFER_BORROW, NULL, NULL, &a);
    if (st == TSR_OK)
      st = tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, (int64_t[]){6, 5}, (int64_t[]){1, 2}, s2,
                                 TSR_BUFFER_BORROW, NULL, NULL, &b);
    if (st == TSR_OK)
      st = tsr_concatenate(2, (tsr_array *[]){a, b}, -1, &r);
    if (st == TSR_OK)
      st = tsr_array_to_buffer(r, out, sizeof out);
    if (st == TSR_OK) {
      done = true;
      for (int i = 0; i < 6; i++)
        for (int j = 0; j < 9; j++)
          assert_true(out[i * 9 + j] == (j < 4 ? i * 4 + j : -(i * 5 + j - 4)));
    } else {
      assert_int_equal(st, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&r);
    tsr_array_destroy(&a);
    tsr_array_destroy(&b);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_concat__matches_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_concat__unifies_other_axes, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_concat__chunks_side_by_side, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_concat__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_concat__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
