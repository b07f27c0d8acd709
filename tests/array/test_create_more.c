/* test_create_more.c — tsr_array_empty, tsr_array_linspace and
 * tsr_array_eye: values NumPy prints for known calls, NumPy's formula for
 * random calls (start + i * step, the last element exactly stop, the floor
 * for integer dtypes) and a naive identity matrix, over random chunkings and
 * thread counts; errors; allocation failures. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng_state = 0xe7e;
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

static double get(const void *buf, tsr_dtype dt, int64_t i) {
  switch (dt) {
  case TSR_BOOL:
  case TSR_UINT8:
    return ((const uint8_t *)buf)[i];
  case TSR_INT8:
    return ((const int8_t *)buf)[i];
  case TSR_INT16:
    return ((const int16_t *)buf)[i];
  case TSR_INT32:
    return ((const int32_t *)buf)[i];
  case TSR_INT64:
    return (double)((const int64_t *)buf)[i];
  case TSR_UINT16:
    return ((const uint16_t *)buf)[i];
  case TSR_UINT32:
    return ((const uint32_t *)buf)[i];
  case TSR_UINT64:
    return (double)((const uint64_t *)buf)[i];
  case TSR_FLOAT32:
    return ((const float *)buf)[i];
  default:
    return ((const double *)buf)[i];
  }
}

static void test_create_more__empty_has_shape_dtype_chunks(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 60; trial++) {
    configure(ctx, trial % 3);
    int ndim = (int)(next_rand() % 4);
    int64_t shape[3], chunks[3], size = 1;
    for (int d = 0; d < ndim; d++) {
      shape[d] = (int64_t)(next_rand() % 9);
      chunks[d] = 1 + (int64_t)(next_rand() % 4);
      size *= shape[d];
    }
    tsr_dtype dt = (tsr_dtype)(trial % TSR_NUM_DTYPES);
    tsr_array *a;
    assert_ok(tsr_array_empty(ctx, dt, ndim, shape, chunks, &a));
    assert_int_equal(tsr_array_dtype(a), dt);
    assert_int_equal(tsr_array_ndim(a), ndim);
    assert_int_equal(tsr_array_size(a), size);
    for (int d = 0; d < ndim; d++)
      assert_int_equal(tsr_chunk_grid_nchunks_axis(tsr_array_chunks(a), d),
                       shape[d] == 0 ? 1 : (shape[d] + chunks[d] - 1) / chunks[d]);
    size_t bytes = (size_t)size * tsr_dtype_size(dt);
    void *buf = malloc(bytes + 1);
    assert_ok(tsr_array_to_buffer(a, buf, bytes));
    free(buf);
    tsr_array_destroy(&a);
  }
}

static void expect_linspace(tsr_ctx *ctx, tsr_dtype dt, double start, double stop, int64_t num,
                            bool endpoint, const double *want) {
  for (int64_t chunk = 1; chunk <= 5; chunk += 2) {
    tsr_array *a;
    assert_ok(tsr_array_linspace(ctx, dt, start, stop, num, endpoint, chunk, &a));
    assert_int_equal(tsr_array_size(a), num);
    assert_int_equal(tsr_array_dtype(a), dt);
    unsigned char buf[8 * 64];
    assert_ok(tsr_array_to_buffer(a, buf, (size_t)num * tsr_dtype_size(dt)));
    for (int64_t i = 0; i < num; i++)
      if (get(buf, dt, i) != want[i]) {
        print_error("linspace(%g, %g, %lld, %d) as %s: element %lld is %.17g, want %.17g\n", start,
                    stop, (long long)num, endpoint, tsr_dtype_name(dt), (long long)i,
                    get(buf, dt, i), want[i]);
        fail();
      }
    tsr_array_destroy(&a);
  }
}

static void test_create_more__linspace_known_values(void **state) {
  tsr_ctx *ctx = *state;
  expect_linspace(ctx, TSR_FLOAT64, 2, 3, 5, true, (double[]){2, 2.25, 2.5, 2.75, 3});
  expect_linspace(ctx, TSR_FLOAT64, 2, 3, 5, false, (double[]){2, 2.2, 2.4, 2.6, 2.8});
  expect_linspace(ctx, TSR_FLOAT64, 0, 1, 10, true,
                  (double[]){0, 0.1111111111111111, 0.2222222222222222, 0.3333333333333333,
                             0.4444444444444444, 0.5555555555555556, 0.6666666666666666,
                             0.7777777777777777, 0.8888888888888888, 1});
  /* NumPy >= 2 floors for integer dtypes. */
  expect_linspace(ctx, TSR_INT64, 0, 10, 4, true, (double[]){0, 3, 6, 10});
  expect_linspace(ctx, TSR_INT32, -5, 0, 4, true, (double[]){-5, -4, -2, 0});
  expect_linspace(ctx, TSR_UINT8, 10, 0, 3, false, (double[]){10, 6, 3});
  expect_linspace(ctx, TSR_FLOAT32, 0, 1, 3, true, (double[]){0, 0.5, 1});
  expect_linspace(ctx, TSR_BOOL, 0, 1, 3, false, (double[]){0, 1, 1});
  expect_linspace(ctx, TSR_FLOAT64, 7, 9, 1, true, (double[]){7});
  expect_linspace(ctx, TSR_FLOAT64, 7, 9, 1, false, (double[]){7});
  expect_linspace(ctx, TSR_FLOAT64, 7, 9, 0, true, (double[]){0});
  expect_linspace(ctx, TSR_FLOAT64, 4, 4, 3, true, (double[]){4, 4, 4});
}

static void test_create_more__linspace_random_as_numpy(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 200; trial++) {
    configure(ctx, trial % 3);
    double start = ((double)(next_rand() % 20001) - 10000) / 7.0;
    double stop = ((double)(next_rand() % 20001) - 10000) / 3.0;
    int64_t num = (int64_t)(next_rand() % 60);
    bool endpoint = next_rand() % 2;
    tsr_dtype dt = trial % 3 == 0 ? TSR_INT64 : (trial % 3 == 1 ? TSR_FLOAT32 : TSR_FLOAT64);
    double want[64];
    double div = (double)(endpoint ? num - 1 : num), step = (stop - start) / div;
    for (int64_t i = 0; i < num; i++) {
      double v = div > 0 ? (double)i * step + start : start;
      if (endpoint && num > 1 && i == num - 1)
        v = stop;
      want[i] = dt == TSR_INT64 ? floor(v) : (dt == TSR_FLOAT32 ? (double)(float)v : v);
    }
    expect_linspace(ctx, dt, start, stop, num, endpoint, want);
  }
}

static void test_create_more__eye_matches_naive(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 300; trial++) {
    configure(ctx, trial % 3);
    int64_t n = (int64_t)(next_rand() % 9), m = (int64_t)(next_rand() % 9);
    int64_t k = (int64_t)(next_rand() % 13) - 6;
    if (trial % 50 == 0)
      k = trial % 100 == 0 ? INT64_MAX : INT64_MIN;
    int64_t chunks[2] = {1 + (int64_t)(next_rand() % 4), (int64_t)(next_rand() % 5) - 1};
    tsr_dtype dt = (tsr_dtype)(trial % TSR_NUM_DTYPES);
    tsr_array *a;
    assert_ok(tsr_array_eye(ctx, dt, n, m, k, trial % 7 == 0 ? NULL : chunks, &a));
    assert_int_equal(tsr_array_ndim(a), 2);
    assert_int_equal(tsr_array_shape(a)[0], n);
    assert_int_equal(tsr_array_shape(a)[1], m);
    assert_int_equal(tsr_array_dtype(a), dt);
    unsigned char buf[8 * 81];
    assert_ok(tsr_array_to_buffer(a, buf, (size_t)(n * m) * tsr_dtype_size(dt)));
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < m; j++) {
        double want = (k != INT64_MAX && k != INT64_MIN && j - i == k) ? 1 : 0;
        assert_true(get(buf, dt, i * m + j) == want);
      }
    tsr_array_destroy(&a);
  }
}

static void test_create_more__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = (tsr_array *)&a;
  assert_fails(tsr_array_linspace(ctx, TSR_FLOAT64, 0, 1, -1, true, 4, &a), TSR_EINVAL, "num");
  assert_null(a);
  assert_fails(tsr_array_linspace(ctx, TSR_FLOAT64, 0, INFINITY, 3, true, 4, &a), TSR_EINVAL,
               "finite");
  assert_fails(tsr_array_linspace(ctx, TSR_UINT8, -1, 10, 3, true, 4, &a), TSR_EINVAL,
               "do not fit uint8");
  assert_fails(tsr_array_linspace(ctx, TSR_INT8, 0, 300, 3, true, 4, &a), TSR_EINVAL,
               "do not fit int8");
  assert_fails(tsr_array_linspace(ctx, TSR_NUM_DTYPES, 0, 1, 3, true, 4, &a), TSR_EINVAL, "dtype");
  assert_fails(tsr_array_linspace(NULL, TSR_FLOAT64, 0, 1, 3, true, 4, &a), TSR_EINVAL,
               "ctx is NULL");
  assert_fails(tsr_array_linspace(ctx, TSR_FLOAT64, 0, 1, 3, true, -2, &a), TSR_EINVAL, "chunks");
  assert_fails(tsr_array_eye(ctx, TSR_FLOAT64, -1, 3, 0, NULL, &a), TSR_EINVAL, "non-negative");
  assert_fails(tsr_array_eye(ctx, (tsr_dtype)99, 2, 3, 0, NULL, &a), TSR_EINVAL, "dtype");
  assert_fails(tsr_array_eye(ctx, TSR_FLOAT64, 2, 3, 0, NULL, NULL), TSR_EINVAL, "out is NULL");
  assert_fails(tsr_array_empty(ctx, TSR_FLOAT64, -1, NULL, NULL, &a), TSR_EINVAL, "ndim");
  assert_fails(tsr_array_empty(ctx, (tsr_dtype)-3, 1, (int64_t[]){3}, NULL, &a), TSR_EINVAL,
               "dtype");
  assert_fails(tsr_array_empty(ctx, TSR_FLOAT64, 1, (int64_t[]){-3}, NULL, &a), TSR_EINVAL,
               "shape");
}

static void test_create_more__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  bool done = false;
  int failures = 0;
  for (uint64_t nth = 1; !done && nth < 500; nth++) {
    tsr_array *e = NULL, *l = NULL, *i = NULL;
    float eb[12], lb[7], ib[12];
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status s = tsr_array_empty(ctx, TSR_FLOAT32, 2, (int64_t[]){3, 4}, (int64_t[]){2, 2}, &e);
    if (s == TSR_OK)
      s = tsr_array_linspace(ctx, TSR_FLOAT32, 0, 6, 7, true, 3, &l);
    if (s == TSR_OK)
      s = tsr_array_eye(ctx, TSR_FLOAT32, 3, 4, 1, (int64_t[]){2, 3}, &i);
    if (s == TSR_OK) {
      tsr_array *all[3] = {e, l, i};
      void *bufs[3] = {eb, lb, ib};
      size_t bytes[3] = {sizeof eb, sizeof lb, sizeof ib};
      s = tsr_array_to_buffers(3, all, bufs, bytes);
    }
    if (s == TSR_OK) {
      done = true;
      for (int j = 0; j < 7; j++)
        assert_true(lb[j] == (float)j);
      for (int j = 0; j < 12; j++)
        assert_true(ib[j] == (j % 4 - j / 4 == 1 ? 1.0f : 0.0f));
    } else {
      assert_int_equal(s, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&e);
    tsr_array_destroy(&l);
    tsr_array_destroy(&i);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create_more__empty_has_shape_dtype_chunks,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create_more__linspace_known_values, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create_more__linspace_random_as_numpy, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create_more__eye_matches_naive, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create_more__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create_more__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
