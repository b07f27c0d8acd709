/* test_create.c — array creation and computing into buffers, against naive
 * dense references built in the test: random shapes (0 to 4 axes, zero-size
 * axes) x random chunkings (1-element chunks, ragged last chunks, one chunk,
 * -1 whole axis, automatic) x every dtype x serial and 1, 2, 4 threads; user
 * buffers in every mode; errors that name the problem; allocation failures
 * at every step with no leak. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng_state = 0x1234567;
static uint64_t next_rand(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

typedef struct layout {
  int ndim;
  int64_t shape[4], chunks[4];
  bool auto_chunks; /* pass chunks = NULL */
  int64_t size;
} layout;

/* A random shape of 0..4 axes (extents 0..9, so zero-size axes occur) and a
 * random chunking per axis: 1-element, ragged, whole (-1 or the extent), or
 * automatic. */
static layout random_layout(void) {
  layout l = {0};
  l.ndim = (int)(next_rand() % 5);
  l.size = 1;
  l.auto_chunks = next_rand() % 6 == 0;
  for (int d = 0; d < l.ndim; d++) {
    l.shape[d] = (int64_t)(next_rand() % 10);
    switch (next_rand() % 5) {
    case 0:
      l.chunks[d] = 1;
      break;
    case 1:
      l.chunks[d] = -1;
      break;
    case 2:
      l.chunks[d] = 0; /* automatic for this axis */
      break;
    default:
      l.chunks[d] = 1 + (int64_t)(next_rand() % 4); /* often ragged */
      break;
    }
    l.size *= l.shape[d];
  }
  return l;
}

static const int64_t *chunks_of(const layout *l) { return l->auto_chunks ? NULL : l->chunks; }

static void configure(tsr_ctx *ctx, int config) {
  /* 0 serial, then OpenMP at 1, 2 and 4 threads. */
  static const int threads[] = {1, 1, 2, 4};
  assert_ok(tsr_ctx_set_executor(ctx, config == 0 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
  assert_ok(tsr_ctx_set_threads(ctx, threads[config]));
}

/* Naive: every element of a dtype-typed buffer equals v converted. */
static void expect_filled(const void *buf, tsr_dtype dtype, int64_t n, double v) {
  for (int64_t i = 0; i < n; i++) {
    double got;
    switch (dtype) {
    case TSR_BOOL:
      got = ((const uint8_t *)buf)[i];
      assert_true(got == (v != 0));
      continue;
    case TSR_INT8:
      got = ((const int8_t *)buf)[i];
      break;
    case TSR_INT16:
      got = ((const int16_t *)buf)[i];
      break;
    case TSR_INT32:
      got = ((const int32_t *)buf)[i];
      break;
    case TSR_INT64:
      got = (double)((const int64_t *)buf)[i];
      break;
    case TSR_UINT8:
      got = ((const uint8_t *)buf)[i];
      break;
    case TSR_UINT16:
      got = ((const uint16_t *)buf)[i];
      break;
    case TSR_UINT32:
      got = ((const uint32_t *)buf)[i];
      break;
    case TSR_UINT64:
      got = (double)((const uint64_t *)buf)[i];
      break;
    case TSR_FLOAT32:
      got = ((const float *)buf)[i];
      assert_true(got == (double)(float)v);
      continue;
    default:
      got = ((const double *)buf)[i];
      assert_true(got == v);
      continue;
    }
    assert_true(got == trunc(v));
  }
}

static void test_create__full_every_dtype_and_chunking(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 300; trial++) {
    configure(ctx, trial % 4);
    layout l = random_layout();
    tsr_dtype dtype = (tsr_dtype)(trial % TSR_NUM_DTYPES);
    double v = tsr_dtype_is_signed(dtype) ? -3.75 : 7.5;
    tsr_array *a = NULL;
    assert_ok(tsr_array_full(ctx, dtype, l.ndim, l.shape, chunks_of(&l), v, &a));
    assert_int_equal(tsr_array_ndim(a), l.ndim);
    assert_int_equal(tsr_array_size(a), l.size);
    assert_int_equal(tsr_array_dtype(a), dtype);
    size_t bytes = (size_t)l.size * tsr_dtype_size(dtype);
    void *buf = malloc(bytes + 1);
    assert_ok(tsr_array_to_buffer(a, buf, bytes));
    expect_filled(buf, dtype, l.size, v);
    free(buf);
    tsr_array_destroy(&a);
    assert_null(a);
  }
}

static void test_create__zeros_and_ones(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {5, 7}, chunks[2] = {2, 3};
  tsr_array *z, *o;
  assert_ok(tsr_array_zeros(ctx, TSR_INT32, 2, shape, chunks, &z));
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT32, 2, shape, chunks, &o));
  int32_t zb[35];
  float ob[35];
  void *bufs[2] = {zb, ob};
  tsr_array *arrays[2] = {z, o};
  size_t bytes[2] = {sizeof zb, sizeof ob};
  assert_ok(tsr_array_to_buffers(2, arrays, bufs, bytes));
  for (int i = 0; i < 35; i++) {
    assert_int_equal(zb[i], 0);
    assert_true(ob[i] == 1.0f);
  }
  tsr_array_destroy(&z);
  tsr_array_destroy(&o);
}

static void test_create__arange_like_numpy(void **state) {
  tsr_ctx *ctx = *state;
  struct {
    double start, stop, step;
    tsr_dtype dtype;
    int64_t n;
  } cases[] = {
      {0, 10, 3, TSR_INT64, 4},      /* 0 3 6 9 */
      {1, 0, -0.25, TSR_FLOAT64, 4}, /* 1 .75 .5 .25 */
      {5, 5, 1, TSR_INT32, 0},       /* empty */
      {5, 2, 1, TSR_INT32, 0},       /* empty: wrong direction */
      {-3, 100, 7, TSR_INT16, 15},   /* ceil(103/7) = 15 */
      {0, 1000, 1, TSR_UINT16, 1000}, {0.5, 3.0, 0.5, TSR_FLOAT32, 5},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    for (int64_t chunk = 1; chunk <= 7; chunk += 3) {
      configure(ctx, (int)(chunk % 4));
      tsr_array *a;
      assert_ok(tsr_array_arange(ctx, cases[c].dtype, cases[c].start, cases[c].stop, cases[c].step,
                                 chunk, &a));
      assert_int_equal(tsr_array_size(a), cases[c].n);
      size_t item = tsr_dtype_size(cases[c].dtype);
      unsigned char buf[8 * 1000 + 8];
      assert_ok(tsr_array_to_buffer(a, buf, (size_t)cases[c].n * item));
      for (int64_t i = 0; i < cases[c].n; i++) {
        double want = cases[c].start + (double)i * cases[c].step, got;
        switch (cases[c].dtype) {
        case TSR_INT64:
          got = (double)((int64_t *)buf)[i];
          want = trunc(want);
          break;
        case TSR_INT32:
          got = ((int32_t *)buf)[i];
          want = trunc(want);
          break;
        case TSR_INT16:
          got = ((int16_t *)buf)[i];
          want = trunc(want);
          break;
        case TSR_UINT16:
          got = ((uint16_t *)buf)[i];
          want = trunc(want);
          break;
        case TSR_FLOAT32:
          got = ((float *)buf)[i];
          want = (float)want;
          break;
        default:
          got = ((double *)buf)[i];
          break;
        }
        assert_true(got == want);
      }
      tsr_array_destroy(&a);
    }
  }
}

static void test_create__random_independent_of_chunking(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 120; trial++) {
    configure(ctx, trial % 4);
    layout l = random_layout();
    tsr_random_dist dist = trial % 2 ? TSR_RANDOM_NORMAL : TSR_RANDOM_UNIFORM;
    uint64_t seed = 42 + (uint64_t)(trial % 3);
    tsr_array *a;
    assert_ok(tsr_array_random(ctx, dist, seed, l.ndim, l.shape, chunks_of(&l), &a));
    double *buf = malloc((size_t)l.size * sizeof(double) + 8);
    assert_ok(tsr_array_to_buffer(a, buf, (size_t)l.size * sizeof(double)));
    for (int64_t i = 0; i < l.size; i++) {
      double want = dist == TSR_RANDOM_NORMAL ? tsr_random_normal(seed, (uint64_t)i)
                                              : tsr_random_uniform(seed, (uint64_t)i);
      assert_memory_equal(&buf[i], &want, sizeof want);
    }
    free(buf);
    tsr_array_destroy(&a);
  }
}

static int frees_seen;
static void count_free(void *data, void *user) {
  assert_ptr_equal(user, &frees_seen);
  free(data);
  frees_seen++;
}

static void test_create__buffer_round_trip_every_mode(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 300; trial++) {
    configure(ctx, trial % 4);
    layout l = random_layout();
    tsr_dtype dtype = (tsr_dtype)(next_rand() % TSR_NUM_DTYPES);
    size_t bytes = (size_t)l.size * tsr_dtype_size(dtype);
    unsigned char *src = malloc(bytes + 1), *original = malloc(bytes + 1), *out = malloc(bytes + 1);
    for (size_t i = 0; i < bytes; i++)
      src[i] = (unsigned char)next_rand();
    if (dtype == TSR_BOOL)
      for (size_t i = 0; i < bytes; i++)
        src[i] &= 1;
    memcpy(original, src, bytes);
    tsr_buffer_mode mode = (tsr_buffer_mode)(trial % 3);
    frees_seen = 0;
    tsr_array *a;
    assert_ok(tsr_array_from_buffer(ctx, dtype, l.ndim, l.shape, chunks_of(&l), src, mode,
                                    mode == TSR_BUFFER_ADOPT ? count_free : NULL, &frees_seen, &a));
    if (mode == TSR_BUFFER_COPY)
      memset(src, 0xee, bytes); /* the array has its own copy */
    assert_ok(tsr_array_to_buffer(a, out, bytes));
    if (bytes > 0)
      assert_memory_equal(out, original, bytes);
    if (mode != TSR_BUFFER_COPY && bytes > 0)
      assert_memory_equal(src, original, bytes); /* inputs are never modified */
    /* Computing twice gives the same bytes. */
    memset(out, 0, bytes);
    assert_ok(tsr_array_to_buffer(a, out, bytes));
    if (bytes > 0)
      assert_memory_equal(out, original, bytes);
    assert_int_equal(frees_seen, 0);
    tsr_array_destroy(&a);
    assert_int_equal(frees_seen, mode == TSR_BUFFER_ADOPT ? 1 : 0);
    if (mode != TSR_BUFFER_ADOPT)
      free(src);
    free(original);
    free(out);
  }
}

static void test_create__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = NULL;
  int64_t shape[2] = {4, 6};
  assert_fails(tsr_array_full(ctx, TSR_INT8, 2, shape, NULL, 300, &a), TSR_EINVAL,
               "value 300 does not fit int8");
  assert_null(a);
  assert_fails(tsr_array_full(ctx, TSR_UINT8, 2, shape, NULL, -1, &a), TSR_EINVAL, "uint8");
  assert_fails(tsr_array_full(ctx, (tsr_dtype)99, 2, shape, NULL, 1, &a), TSR_EINVAL, "dtype = 99");
  assert_fails(tsr_array_full(ctx, TSR_FLOAT64, 2, shape, (int64_t[]){2, -2}, 1, &a), TSR_EINVAL,
               "chunks[1] = -2");
  assert_fails(tsr_array_full(ctx, TSR_FLOAT64, 2, (int64_t[]){4, -6}, NULL, 1, &a), TSR_EINVAL,
               "shape[1] = -6");
  assert_fails(tsr_array_full(NULL, TSR_FLOAT64, 2, shape, NULL, 1, &a), TSR_EINVAL, "ctx");
  assert_fails(tsr_array_full(ctx, TSR_FLOAT64, 2, shape, NULL, 1, NULL), TSR_EINVAL, "out");
  assert_fails(tsr_array_arange(ctx, TSR_FLOAT64, 0, 10, 0, 5, &a), TSR_EINVAL, "step is 0");
  assert_fails(tsr_array_arange(ctx, TSR_INT8, 0, 1000, 1, 5, &a), TSR_EINVAL, "int8");
  assert_fails(tsr_array_random(ctx, (tsr_random_dist)5, 1, 2, shape, NULL, &a), TSR_EINVAL,
               "dist = 5");
  assert_fails(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, NULL, NULL, TSR_BUFFER_BORROW,
                                     NULL, NULL, &a),
               TSR_EINVAL, "data is NULL");
  /* Adopted memory is freed even when the call fails. */
  frees_seen = 0;
  assert_fails(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, (int64_t[]){4, -1}, NULL, malloc(16),
                                     TSR_BUFFER_ADOPT, count_free, &frees_seen, &a),
               TSR_EINVAL, "shape[1] = -1");
  assert_int_equal(frees_seen, 1);
  /* A buffer of the wrong size names both sizes. */
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, shape, NULL, &a));
  double buf[24];
  assert_fails(tsr_array_to_buffer(a, buf, 100), TSR_EINVAL,
               "has 100 bytes but the array needs 192");
  assert_fails(tsr_array_to_buffer(NULL, buf, 100), TSR_EINVAL, "array is NULL");
  tsr_array_destroy(&a);
  tsr_array_destroy(NULL);
  assert_int_equal(tsr_array_ndim(NULL), 0);
  assert_null(tsr_array_shape(NULL));
}

/* Fail the N-th allocation for every N along create + compute: each attempt
 * returns TSR_ENOMEM with no leak, until N passes the workload. */
static void test_create__allocation_failures_at_every_step(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 2);
  int64_t shape[2] = {9, 10}, chunks[2] = {4, 3};
  double src[90], out[90];
  for (int i = 0; i < 90; i++)
    src[i] = i * 0.5;
  int failures = 0;
  bool done = false;
  for (uint64_t nth = 1; nth < 500 && !done; nth++) {
    tsr_array *a = NULL, *r = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status s = tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, chunks, src, TSR_BUFFER_COPY,
                                         NULL, NULL, &a);
    if (s == TSR_OK)
      s = tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 3, 2, shape, chunks, &r);
    if (s == TSR_OK) {
      tsr_array *both[2] = {a, r};
      double rbuf[90];
      void *bufs[2] = {out, rbuf};
      size_t bytes[2] = {sizeof out, sizeof rbuf};
      s = tsr_array_to_buffers(2, both, bufs, bytes);
      if (s == TSR_OK) {
        assert_memory_equal(out, src, sizeof src);
        done = true;
      }
    }
    if (s != TSR_OK) {
      assert_int_equal(s, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&a);
    tsr_array_destroy(&r);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 20);
}

/* Automatic chunks ignore a memory limit that holds 8 of them (so adding
 * it changes no result), and shrink to an eighth of a smaller one. */
static void chunk_extents(tsr_ctx *ctx, uint64_t limit, int64_t out[2]) {
  assert_ok(tsr_ctx_set_memory_limit(ctx, limit));
  tsr_array *a;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, (int64_t[]){20000, 30000}, NULL, &a));
  const tsr_chunk_grid *g = tsr_array_chunks(a);
  out[0] = tsr_chunk_grid_chunk_extent(g, 0, 0);
  out[1] = tsr_chunk_grid_chunk_extent(g, 1, 0);
  tsr_array_destroy(&a);
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
}

static void test_create__auto_chunks_independent_of_a_fitting_limit(void **state) {
  tsr_ctx *ctx = *state;
  assert_ok(tsr_ctx_set_chunk_bytes(ctx, 128ull << 20));
  int64_t none[2], fits[2], big[2], small[2];
  chunk_extents(ctx, 0, none);
  assert_true((uint64_t)(none[0] * none[1] * 8) <= 128ull << 20);
  assert_true((uint64_t)(none[0] * none[1] * 8) > 64ull << 20); /* near the target */
  chunk_extents(ctx, 1ull << 30, fits);                        /* exactly 8 chunks */
  chunk_extents(ctx, 20ull << 30, big);
  assert_memory_equal(none, fits, sizeof none);
  assert_memory_equal(none, big, sizeof none);
  chunk_extents(ctx, 256ull << 20, small); /* at most 32 MiB */
  assert_true((uint64_t)(small[0] * small[1] * 8) <= 32ull << 20);
  assert_true((uint64_t)(small[0] * small[1] * 8) > 16ull << 20);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_create__full_every_dtype_and_chunking, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create__auto_chunks_independent_of_a_fitting_limit,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create__zeros_and_ones, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create__arange_like_numpy, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create__random_independent_of_chunking, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create__buffer_round_trip_every_mode, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_create__allocation_failures_at_every_step,
                                      test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
