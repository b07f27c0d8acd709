/* test_persist.c — tsr_array_persist: the result holds the same values,
 * grid and dtype; the original (and what it was built from) may be
 * destroyed; the expression is computed exactly once (a counting user
 * kernel); the persisted chunks are accounted and freed with the result;
 * random shapes and chunkings; errors; allocation failures. */
#include "test_util.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

static uint64_t rng_state = 0x9e85;
static uint64_t next_rand(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void configure(tsr_ctx *ctx, int threads) {
  assert_ok(tsr_ctx_set_executor(ctx, threads == 0 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
  assert_ok(tsr_ctx_set_threads(ctx, threads == 0 ? 1 : threads));
}

/* Doubles its float64 input and counts its calls. */
static tsr_status twice_counted(void *out, const tsr_block_info *oi, const void *const *in,
                                const tsr_block_info *ii, size_t n_in, void *user) {
  (void)ii;
  (void)n_in;
  atomic_fetch_add((_Atomic int *)user, 1);
  int64_t size = 1;
  for (int d = 0; d < oi->ndim; d++)
    size *= oi->shape[d];
  const double *x = in[0];
  double *y = out;
  for (int64_t i = 0; i < size; i++)
    y[i] = 2 * x[i];
  return TSR_OK;
}

static bool same_grid(const tsr_chunk_grid *a, const tsr_chunk_grid *b) {
  int ndim = tsr_chunk_grid_ndim(a);
  if (ndim != tsr_chunk_grid_ndim(b) || tsr_chunk_grid_nchunks(a) != tsr_chunk_grid_nchunks(b))
    return false;
  for (int d = 0; d < ndim; d++) {
    int64_t n = tsr_chunk_grid_nchunks_axis(a, d);
    if (n != tsr_chunk_grid_nchunks_axis(b, d))
      return false;
    for (int64_t i = 0; i < n; i++)
      if (tsr_chunk_grid_chunk_extent(a, d, i) != tsr_chunk_grid_chunk_extent(b, d, i))
        return false;
  }
  return true;
}

static void test_persist__computes_once_and_keeps_values(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 120; trial++) {
    configure(ctx, trial % 4);
    int ndim = (int)(next_rand() % 5);
    int64_t shape[4], chunks[4], size = 1;
    for (int d = 0; d < ndim; d++) {
      shape[d] = (int64_t)(next_rand() % 7);
      int r = (int)(next_rand() % 4);
      chunks[d] = r == 0 ? 1 : r == 1 ? -1 : r == 2 ? 0 : 2 + (int64_t)(next_rand() % 3);
      size *= shape[d];
    }
    _Atomic int calls = 0;
    tsr_array *x, *y, *p;
    assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, (uint64_t)trial, ndim, shape, chunks, &x));
    assert_ok(tsr_map_blocks(1, &x, twice_counted, &calls, TSR_FLOAT64, NULL, &y));
    int64_t nchunks = tsr_chunk_grid_nchunks(tsr_array_chunks(y));
    double *want = malloc((size_t)size * 8 + 8), *got = malloc((size_t)size * 8 + 8);
    assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, (uint64_t)trial, ndim, shape, NULL, &p));
    assert_ok(tsr_array_to_buffer(p, want, (size_t)size * 8));
    tsr_array_destroy(&p);
    for (int64_t i = 0; i < size; i++)
      want[i] *= 2;
    assert_ok(tsr_array_persist(y, &p));
    assert_int_equal(calls, nchunks);
    assert_true(same_grid(tsr_array_chunks(p), tsr_array_chunks(y)));
    assert_int_equal(tsr_array_dtype(p), TSR_FLOAT64);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_true(m.current_bytes >= (uint64_t)size * 8); /* the chunks are held, accounted */
    tsr_array_destroy(&x);
    tsr_array_destroy(&y);
    for (int round = 0; round < 2; round++) {
      assert_ok(tsr_array_to_buffer(p, got, (size_t)size * 8));
      if (size > 0)
        assert_memory_equal(got, want, (size_t)size * 8);
    }
    assert_int_equal(calls, nchunks); /* never recomputed */
    /* Built upon like any array. */
    if (ndim > 0) {
      tsr_array *z;
      assert_ok(tsr_cumsum(p, -1, &z));
      assert_ok(tsr_array_to_buffer(z, got, (size_t)size * 8));
      int64_t last = shape[ndim - 1];
      for (int64_t i = 0; i < size; i++)
        if (i % last != 0)
          assert_true(fabs(got[i] - (got[i - 1] + want[i])) <= 1e-12); /* carries round */
        else
          assert_true(got[i] == want[i]);
      tsr_array_destroy(&z);
    }
    tsr_array_destroy(&p);
    free(want);
    free(got);
  }
}

static void test_persist__every_dtype(void **state) {
  tsr_ctx *ctx = *state;
  for (int dt = 0; dt < TSR_NUM_DTYPES; dt++) {
    int64_t n = 11, chunk = 4;
    tsr_array *a, *p;
    assert_ok(tsr_array_arange(ctx, (tsr_dtype)dt, 0, 11, 1, chunk, &a));
    assert_ok(tsr_array_persist(a, &p));
    tsr_array_destroy(&a);
    assert_int_equal(tsr_array_dtype(p), dt);
    assert_int_equal(tsr_array_shape(p)[0], n);
    unsigned char got[88], want[88];
    assert_ok(tsr_array_to_buffer(p, got, (size_t)n * tsr_dtype_size((tsr_dtype)dt)));
    assert_ok(tsr_array_arange(ctx, (tsr_dtype)dt, 0, 11, 1, 11, &a));
    assert_ok(tsr_array_to_buffer(a, want, (size_t)n * tsr_dtype_size((tsr_dtype)dt)));
    assert_memory_equal(got, want, (size_t)n * tsr_dtype_size((tsr_dtype)dt));
    tsr_array_destroy(&a);
    tsr_array_destroy(&p);
  }
}

static tsr_status failing(void *out, const tsr_block_info *oi, const void *const *in,
                          const tsr_block_info *ii, size_t n_in, void *user) {
  (void)out;
  (void)oi;
  (void)in;
  (void)ii;
  (void)n_in;
  (void)user;
  return tsr_error_set(TSR_EIO, "cannot compute this one");
}

static void test_persist__errors(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *f, *p = (tsr_array *)&p;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 1, (int64_t[]){5}, (int64_t[]){2}, &a));
  assert_fails(tsr_array_persist(NULL, &p), TSR_EINVAL, "a is NULL");
  assert_null(p);
  assert_fails(tsr_array_persist(a, NULL), TSR_EINVAL, "out is NULL");
  assert_ok(tsr_map_blocks(1, &a, failing, NULL, TSR_FLOAT64, NULL, &f));
  assert_fails(tsr_array_persist(f, &p), TSR_EIO, "cannot compute this one");
  assert_null(p);
  tsr_array_destroy(&f);
  tsr_array_destroy(&a);
}

static void test_persist__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  bool done = false;
  int failures = 0;
  for (uint64_t nth = 1; !done && nth < 500; nth++) {
    tsr_array *x = NULL, *p = NULL;
    int32_t buf[20];
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status s = tsr_array_arange(ctx, TSR_INT32, 0, 20, 1, 3, &x);
    if (s == TSR_OK)
      s = tsr_array_persist(x, &p);
    tsr_array_destroy(&x);
    if (s == TSR_OK)
      s = tsr_array_to_buffer(p, buf, sizeof buf);
    if (s == TSR_OK) {
      done = true;
      for (int i = 0; i < 20; i++)
        assert_int_equal(buf[i], i);
    } else {
      assert_int_equal(s, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&p);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_persist__computes_once_and_keeps_values, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_persist__every_dtype, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_persist__errors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_persist__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
