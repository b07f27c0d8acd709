/* test_cumulative.c — tsr_cumsum and tsr_cumprod against a naive sequential
 * scan computed here: random shapes of 1 to 3 axes (zero-size axes too) x
 * random chunkings (1-element, ragged, whole) x every dtype x every axis
 * (negative too).  Values are chosen so that float results are exact
 * (small integers for sums, powers of two for products), which makes any
 * misplaced carry show; integer overflow wraps; results are bitwise the same
 * for 1, 2 and 8 threads; errors name the axis; allocation failures leak
 * nothing. */
#include "test_util.h"

#include "array/array_impl.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng_state = 0xc0ffee;
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

/* Element i of a typed buffer written from an int64 (integers) or a double. */
static void put(void *buf, tsr_dtype dt, int64_t i, int64_t v, double f) {
  switch (dt) {
  case TSR_BOOL:
    ((uint8_t *)buf)[i] = v != 0;
    break;
  case TSR_INT8:
    ((int8_t *)buf)[i] = (int8_t)v;
    break;
  case TSR_INT16:
    ((int16_t *)buf)[i] = (int16_t)v;
    break;
  case TSR_INT32:
    ((int32_t *)buf)[i] = (int32_t)v;
    break;
  case TSR_INT64:
    ((int64_t *)buf)[i] = v;
    break;
  case TSR_UINT8:
    ((uint8_t *)buf)[i] = (uint8_t)v;
    break;
  case TSR_UINT16:
    ((uint16_t *)buf)[i] = (uint16_t)v;
    break;
  case TSR_UINT32:
    ((uint32_t *)buf)[i] = (uint32_t)v;
    break;
  case TSR_UINT64:
    ((uint64_t *)buf)[i] = (uint64_t)v;
    break;
  case TSR_FLOAT32:
    ((float *)buf)[i] = (float)f;
    break;
  default:
    ((double *)buf)[i] = f;
    break;
  }
}

/* Element i as the accumulator sees it (integers as uint64 bits). */
static uint64_t get_int(const void *buf, tsr_dtype dt, int64_t i) {
  switch (dt) {
  case TSR_BOOL:
  case TSR_UINT8:
    return ((const uint8_t *)buf)[i];
  case TSR_INT8:
    return (uint64_t)(int64_t)((const int8_t *)buf)[i];
  case TSR_INT16:
    return (uint64_t)(int64_t)((const int16_t *)buf)[i];
  case TSR_INT32:
    return (uint64_t)(int64_t)((const int32_t *)buf)[i];
  case TSR_UINT16:
    return ((const uint16_t *)buf)[i];
  case TSR_UINT32:
    return ((const uint32_t *)buf)[i];
  default:
    return ((const uint64_t *)buf)[i];
  }
}

static tsr_dtype expected_dtype(tsr_dtype dt) {
  if (tsr_dtype_is_float(dt))
    return dt;
  return dt == TSR_BOOL || tsr_dtype_is_signed(dt) ? TSR_INT64 : TSR_UINT64;
}

/* The naive reference: a sequential scan along `axis` of the whole array. */
static void reference(const void *in, tsr_dtype dt, int ndim, const int64_t *shape, int axis,
                      bool prod, void *out) {
  int64_t outer = 1, len = shape[axis], inner = 1;
  for (int d = 0; d < axis; d++)
    outer *= shape[d];
  for (int d = axis + 1; d < ndim; d++)
    inner *= shape[d];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      uint64_t acc_i = prod ? 1 : 0;
      double acc_d = prod ? 1 : 0;
      float acc_f = prod ? 1 : 0;
      for (int64_t j = 0; j < len; j++) {
        int64_t at = (o * len + j) * inner + i;
        if (dt == TSR_FLOAT32) {
          float v = ((const float *)in)[at];
          acc_f = prod ? acc_f * v : acc_f + v;
          ((float *)out)[at] = acc_f;
        } else if (dt == TSR_FLOAT64) {
          double v = ((const double *)in)[at];
          acc_d = prod ? acc_d * v : acc_d + v;
          ((double *)out)[at] = acc_d;
        } else {
          uint64_t v = get_int(in, dt, at);
          acc_i = prod ? acc_i * v : acc_i + v;
          ((uint64_t *)out)[at] = acc_i;
        }
      }
    }
}

/* Values: integers small enough to stay exact, sometimes overflowing for
 * products; floats small integers (sums) or +-0.5, 1, 2 (products). */
static void fill_random(void *buf, tsr_dtype dt, int64_t n, bool prod) {
  static const double factors[] = {0.5, 1.0, 2.0, -1.0, -2.0};
  for (int64_t i = 0; i < n; i++) {
    int64_t v = (int64_t)(next_rand() % 256) - 128;
    if (tsr_dtype_is_integer(dt) && !tsr_dtype_is_signed(dt))
      v = (int64_t)(next_rand() % 256);
    double f = prod ? factors[next_rand() % 5] : (double)(v % 50);
    put(buf, dt, i, v, f);
  }
}

static tsr_array *make(tsr_ctx *ctx, tsr_dtype dt, int ndim, const int64_t *shape,
                       const int64_t *chunks, const void *data) {
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_buffer(ctx, dt, ndim, shape, chunks, (void *)data, TSR_BUFFER_COPY, NULL,
                                  NULL, &a));
  return a;
}

static void test_cumulative__matches_naive_scan(void **state) {
  tsr_ctx *ctx = *state;
  int checked = 0;
  for (int trial = 0; trial < 600; trial++) {
    configure(ctx, (int)(trial % 3));
    int ndim = 1 + (int)(next_rand() % 3);
    int64_t shape[3], chunks[3], size = 1;
    for (int d = 0; d < ndim; d++) {
      shape[d] = (int64_t)(next_rand() % 8);
      if (next_rand() % 8 == 0)
        shape[d] = 0;
      switch (next_rand() % 4) {
      case 0:
        chunks[d] = 1;
        break;
      case 1:
        chunks[d] = -1;
        break;
      default:
        chunks[d] = 2 + (int64_t)(next_rand() % 3); /* often ragged */
        break;
      }
      size *= shape[d];
    }
    tsr_dtype dt = (tsr_dtype)(next_rand() % TSR_NUM_DTYPES);
    bool prod = next_rand() % 2;
    int axis = (int)(next_rand() % (uint64_t)ndim);
    int axis_arg = next_rand() % 2 ? axis - ndim : axis;
    size_t in_bytes = (size_t)size * tsr_dtype_size(dt);
    void *in = malloc(in_bytes + 8), *want = malloc((size_t)size * 8 + 8),
         *got = malloc((size_t)size * 8 + 8);
    fill_random(in, dt, size, prod);
    reference(in, dt, ndim, shape, axis, prod, want);
    tsr_array *a = make(ctx, dt, ndim, shape, chunks, in), *r = NULL;
    assert_ok(prod ? tsr_cumprod(a, axis_arg, &r) : tsr_cumsum(a, axis_arg, &r));
    tsr_dtype rd = expected_dtype(dt);
    assert_int_equal(tsr_array_dtype(r), rd);
    assert_int_equal(tsr_array_ndim(r), ndim);
    assert_int_equal(tsr_array_size(r), size);
    const tsr_chunk_grid *ga = tsr_array_chunks(a), *gr = tsr_array_chunks(r);
    assert_int_equal(tsr_chunk_grid_nchunks(ga), tsr_chunk_grid_nchunks(gr));
    size_t out_bytes = (size_t)size * tsr_dtype_size(rd);
    assert_ok(tsr_array_to_buffer(r, got, out_bytes));
    if (out_bytes > 0 && memcmp(got, want, out_bytes) != 0) {
      print_error("trial %d: %s of %s along axis %d, ndim %d shape (%lld %lld %lld)\n", trial,
                  prod ? "cumprod" : "cumsum", tsr_dtype_name(dt), axis, ndim, (long long)shape[0],
                  (long long)(ndim > 1 ? shape[1] : -1), (long long)(ndim > 2 ? shape[2] : -1));
      fail();
    }
    checked += size > 0;
    tsr_array_destroy(&a);
    tsr_array_destroy(&r);
    free(in);
    free(want);
    free(got);
  }
  assert_true(checked > 250);
}

static void test_cumulative__int_overflow_wraps(void **state) {
  tsr_ctx *ctx = *state;
  /* int8 values of 100: the cumulative product passes 2^63 after 10 steps. */
  int8_t in[40];
  int64_t want_prod[40], want_sum[40];
  uint64_t p = 1, s = 0;
  for (int i = 0; i < 40; i++) {
    in[i] = (int8_t)(i % 2 ? 100 : -99);
    p *= (uint64_t)(int64_t)in[i];
    s += (uint64_t)(int64_t)in[i];
    memcpy(&want_prod[i], &p, 8);
    memcpy(&want_sum[i], &s, 8);
  }
  int64_t shape = 40;
  for (int64_t chunk = 1; chunk <= 40; chunk += 13) {
    tsr_array *a = make(ctx, TSR_INT8, 1, &shape, &chunk, in), *cp, *cs;
    assert_ok(tsr_cumprod(a, 0, &cp));
    assert_ok(tsr_cumsum(a, -1, &cs));
    int64_t got_prod[40], got_sum[40];
    assert_ok(tsr_array_to_buffer(cp, got_prod, sizeof got_prod));
    assert_ok(tsr_array_to_buffer(cs, got_sum, sizeof got_sum));
    assert_memory_equal(got_prod, want_prod, sizeof want_prod);
    assert_memory_equal(got_sum, want_sum, sizeof want_sum);
    tsr_array_destroy(&a);
    tsr_array_destroy(&cp);
    tsr_array_destroy(&cs);
  }
  /* uint64 wraps too. */
  uint64_t big[3] = {UINT64_MAX, 2, 5};
  int64_t three = 3, one = 1;
  tsr_array *b = make(ctx, TSR_UINT64, 1, &three, &one, big), *bs;
  assert_ok(tsr_cumsum(b, 0, &bs));
  uint64_t got[3];
  assert_ok(tsr_array_to_buffer(bs, got, sizeof got));
  assert_true(got[0] == UINT64_MAX && got[1] == 1 && got[2] == 6);
  tsr_array_destroy(&b);
  tsr_array_destroy(&bs);
}

static void test_cumulative__deterministic_across_threads(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {300, 70}, chunks[2] = {7, 9};
  tsr_array *x, *c0, *c1;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 11, 2, shape, chunks, &x));
  assert_ok(tsr_cumsum(x, 0, &c0));
  assert_ok(tsr_cumprod(x, 1, &c1));
  size_t bytes = 300 * 70 * sizeof(double);
  double *first[2] = {malloc(bytes), malloc(bytes)}, *again[2] = {malloc(bytes), malloc(bytes)};
  tsr_array *both[2] = {c0, c1};
  size_t sizes[2] = {bytes, bytes};
  static const int threads[] = {1, 2, 8};
  for (int t = 0; t < 3; t++) {
    configure(ctx, threads[t]);
    assert_ok(tsr_array_to_buffers(2, both, (void *const *)(t == 0 ? first : again), sizes));
    if (t > 0) {
      assert_memory_equal(first[0], again[0], bytes);
      assert_memory_equal(first[1], again[1], bytes);
    }
  }
  /* And close to the naive sequential sums. */
  double *xs = malloc(bytes);
  assert_ok(tsr_array_to_buffer(x, xs, bytes));
  for (int64_t j = 0; j < 70; j++) {
    double acc = 0;
    for (int64_t i = 0; i < 300; i++) {
      acc += xs[i * 70 + j];
      assert_true(fabs(first[0][i * 70 + j] - acc) <= 1e-12 * (1 + fabs(acc)) * 300);
    }
  }
  free(xs);
  for (int i = 0; i < 2; i++) {
    free(first[i]);
    free(again[i]);
  }
  tsr_array_destroy(&x);
  tsr_array_destroy(&c0);
  tsr_array_destroy(&c1);
}

static void test_cumulative__task_count_linear_in_chunks(void **state) {
  tsr_ctx *ctx = *state;
  /* 20 x 30 chunks, axis 1: a source and a scan per chunk, and a carry and
   * an apply per chunk after the first of each row. */
  int64_t shape[2] = {200, 300}, chunks[2] = {10, 10};
  tsr_array *x, *c;
  assert_ok(tsr_array_ones(ctx, TSR_INT32, 2, shape, chunks, &x));
  assert_ok(tsr_cumsum(x, 1, &c));
  tsr_taskgraph *g;
  tsr__lowering *l;
  const uint32_t *ids;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  assert_ok(tsr__lowering_create(ctx, g, &l));
  assert_ok(tsr__lowering_lower(l, c->expr, &ids));
  assert_int_equal(tsr_taskgraph_ntasks(g), 600 * 2 + 20 * 29 * 2);
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&g);
  int64_t *buf = malloc(200 * 300 * sizeof(int64_t));
  assert_ok(tsr_array_to_buffer(c, buf, 200 * 300 * sizeof(int64_t)));
  for (int64_t i = 0; i < 200; i++)
    for (int64_t j = 0; j < 300; j++)
      assert_int_equal(buf[i * 300 + j], j + 1);
  free(buf);
  tsr_array_destroy(&x);
  tsr_array_destroy(&c);
}

static void test_cumulative__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {3, 4};
  tsr_array *a, *r = (tsr_array *)&r;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, shape, NULL, &a));
  assert_fails(tsr_cumsum(a, 2, &r), TSR_EINVAL, "axis 2");
  assert_null(r);
  assert_fails(tsr_cumprod(a, -3, &r), TSR_EINVAL, "2 dimensions");
  assert_fails(tsr_cumsum(NULL, 0, &r), TSR_EINVAL, "a is NULL");
  assert_fails(tsr_cumsum(a, 0, NULL), TSR_EINVAL, "out is NULL");
  tsr_array *s;
  assert_ok(tsr_array_full(ctx, TSR_INT32, 0, NULL, NULL, 3, &s));
  assert_fails(tsr_cumsum(s, 0, &r), TSR_EINVAL, "axis 0");
  tsr_array_destroy(&s);
  tsr_array_destroy(&a);
}

static void test_cumulative__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {9, 7}, chunks[2] = {2, 3};
  bool done = false;
  int failures = 0;
  for (uint64_t nth = 1; !done && nth < 500; nth++) {
    tsr_array *x = NULL, *c = NULL;
    int64_t buf[63];
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status s = tsr_array_ones(ctx, TSR_INT16, 2, shape, chunks, &x);
    if (s == TSR_OK)
      s = tsr_cumsum(x, 0, &c);
    if (s == TSR_OK)
      s = tsr_array_to_buffer(c, buf, sizeof buf);
    if (s == TSR_OK) {
      done = true;
      for (int i = 0; i < 63; i++)
        assert_int_equal(buf[i], i / 7 + 1);
    } else {
      assert_int_equal(s, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&x);
    tsr_array_destroy(&c);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cumulative__matches_naive_scan, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_cumulative__int_overflow_wraps, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_cumulative__deterministic_across_threads, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_cumulative__task_count_linear_in_chunks, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_cumulative__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_cumulative__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
