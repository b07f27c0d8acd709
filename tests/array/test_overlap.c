/* test_overlap.c — tsr_map_overlap against a naive padded computation done
 * here: a user kernel takes a weighted sum over the (2 depth + 1)
 * neighbourhood of every element (weights depend on the neighbour's offset,
 * so a halo in the wrong order shows), and the reference pads the whole
 * array with np.pad's modes (symmetric, wrap, edge, constant; none = the
 * neighbourhood truncated at the array's edges).  Random shapes of 0 to 3
 * axes (zero-size axes too), random chunkings, depths 0 to 2, several
 * dtypes, every boundary.  The kernel also checks the block infos it gets
 * (extended shape, negative offsets at the edges).  Plus a 5-point
 * Laplacian, determinism for 1, 2 and 8 threads, errors, a failing user
 * kernel, and allocation failures. */
#include "test_util.h"

#include <stdlib.h>

static uint64_t rng_state = 0xa5a5;
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
  case TSR_INT16:
    return ((const int16_t *)buf)[i];
  case TSR_INT32:
    return ((const int32_t *)buf)[i];
  case TSR_UINT8:
    return ((const uint8_t *)buf)[i];
  case TSR_FLOAT32:
    return ((const float *)buf)[i];
  default:
    return ((const double *)buf)[i];
  }
}

static void put(void *buf, tsr_dtype dt, int64_t i, double v) {
  switch (dt) {
  case TSR_INT16:
    ((int16_t *)buf)[i] = (int16_t)v;
    break;
  case TSR_INT32:
    ((int32_t *)buf)[i] = (int32_t)v;
    break;
  case TSR_UINT8:
    ((uint8_t *)buf)[i] = (uint8_t)v;
    break;
  case TSR_FLOAT32:
    ((float *)buf)[i] = (float)v;
    break;
  default:
    ((double *)buf)[i] = v;
    break;
  }
}

typedef struct box_user {
  tsr_dtype dtype;
  int ndim;
  int64_t depth[3];
  tsr_boundary boundary;
} box_user;

/* Weight of the neighbour at offset delta: 1 + its C-order index in the box. */
static double weight(int ndim, const int64_t *depth, const int64_t *delta) {
  int64_t w = 0;
  for (int d = 0; d < ndim; d++)
    w = w * (2 * depth[d] + 1) + delta[d] + depth[d];
  return (double)(w + 1);
}

/* Steps a multi-index over `shape` (C order); false when done. */
static bool step(int ndim, const int64_t *shape, int64_t *idx) {
  for (int d = ndim - 1; d >= 0; d--) {
    if (++idx[d] < shape[d])
      return true;
    idx[d] = 0;
  }
  return false;
}

/* Steps an offset over the box [-depth, depth] per axis; false when done. */
static bool step_box(int ndim, const int64_t *depth, int64_t *delta) {
  for (int d = ndim - 1; d >= 0; d--) {
    if (++delta[d] <= depth[d])
      return true;
    delta[d] = -depth[d];
  }
  return false;
}

static tsr_status box_fn(void *out, const tsr_block_info *oi, const void *const *in,
                         const tsr_block_info *ii, size_t n_in, void *user) {
  const box_user *u = user;
  int ndim = oi->ndim;
  if (n_in != 1 || ii->ndim != ndim || ndim != u->ndim)
    return tsr_error_set(TSR_EINTERNAL, "box_fn: n_in %zu, ndim %d", n_in, ii->ndim);
  int64_t lo[3] = {0}, size = 1;
  bool empty = false;
  for (int d = 0; d < ndim; d++)
    empty |= oi->array_shape[d] == 0;
  for (int d = 0; d < ndim; d++) {
    lo[d] = oi->offset[d] - ii->offset[d];
    int64_t hi = ii->shape[d] - oi->shape[d] - lo[d];
    bool none = u->boundary == TSR_BOUNDARY_NONE;
    int64_t want_lo = empty || (none && oi->offset[d] == 0) ? 0 : u->depth[d];
    int64_t want_hi =
        empty || (none && oi->offset[d] + oi->shape[d] == oi->array_shape[d]) ? 0 : u->depth[d];
    if (lo[d] != want_lo || hi != want_hi || ii->array_shape[d] != oi->array_shape[d] ||
        ii->chunk != oi->chunk)
      return tsr_error_set(TSR_EINTERNAL, "box_fn: axis %d: halo %lld/%lld, want %lld/%lld", d,
                           (long long)lo[d], (long long)hi, (long long)want_lo, (long long)want_hi);
    size *= oi->shape[d];
  }
  if (size == 0)
    return TSR_OK;
  int64_t o[3] = {0};
  double *res = out;
  for (int64_t at = 0;; at++) {
    double sum = 0;
    int64_t delta[3];
    for (int d = 0; d < ndim; d++)
      delta[d] = -u->depth[d];
    do {
      int64_t lin = 0;
      bool inside = true;
      for (int d = 0; d < ndim; d++) {
        int64_t e = o[d] + lo[d] + delta[d];
        inside &= e >= 0 && e < ii->shape[d];
        lin = lin * ii->shape[d] + e;
      }
      if (!inside) {
        if (u->boundary != TSR_BOUNDARY_NONE)
          return tsr_error_set(TSR_EINTERNAL, "box_fn: neighbour outside the extended block");
        continue;
      }
      sum += weight(ndim, u->depth, delta) * get(in[0], u->dtype, lin);
    } while (step_box(ndim, u->depth, delta));
    res[at] = sum;
    if (!step(ndim, oi->shape, o))
      break;
  }
  return TSR_OK;
}

/* The reference: np.pad semantics on the whole array. */
static void reference(const void *x, const box_user *u, const int64_t *shape, double constant,
                      double *want) {
  int ndim = u->ndim;
  int64_t size = 1;
  for (int d = 0; d < ndim; d++)
    size *= shape[d];
  if (size == 0)
    return;
  int64_t g[3] = {0};
  for (int64_t at = 0;; at++) {
    double sum = 0;
    int64_t delta[3];
    for (int d = 0; d < ndim; d++)
      delta[d] = -u->depth[d];
    do {
      int64_t lin = 0;
      bool skip = false, constant_here = false;
      for (int d = 0; d < ndim; d++) {
        int64_t i = g[d] + delta[d], n = shape[d];
        if (i < 0 || i >= n) {
          switch (u->boundary) {
          case TSR_BOUNDARY_NONE:
            skip = true;
            break;
          case TSR_BOUNDARY_CONSTANT:
            constant_here = true;
            break;
          case TSR_BOUNDARY_REFLECT: /* symmetric */
            i = i < 0 ? -1 - i : 2 * n - 1 - i;
            break;
          case TSR_BOUNDARY_PERIODIC:
            i = (i % n + n) % n;
            break;
          case TSR_BOUNDARY_NEAREST:
            i = i < 0 ? 0 : n - 1;
            break;
          }
        }
        lin = lin * n + (i >= 0 && i < n ? i : 0);
      }
      if (skip)
        continue;
      double v = constant_here ? constant : get(x, u->dtype, lin);
      sum += weight(ndim, u->depth, delta) * v;
    } while (step_box(ndim, u->depth, delta));
    want[at] = sum;
    if (!step(ndim, shape, g))
      break;
  }
}

static void test_overlap__box_sums_match_padded_reference(void **state) {
  tsr_ctx *ctx = *state;
  static const tsr_dtype dtypes[] = {TSR_FLOAT64, TSR_INT32, TSR_UINT8, TSR_FLOAT32, TSR_INT16};
  int counts[5] = {0};
  for (int trial = 0; trial < 1500; trial++) {
    configure(ctx, trial % 3);
    box_user u = {0};
    u.ndim = (int)(next_rand() % 4);
    u.dtype = dtypes[next_rand() % 5];
    u.boundary = (tsr_boundary)(trial % 5);
    int64_t shape[3], chunks[3], size = 1;
    for (int d = 0; d < u.ndim; d++) {
      shape[d] = (int64_t)(next_rand() % (u.ndim == 3 ? 6 : 9));
      if (next_rand() % 10 == 0)
        shape[d] = 0;
      switch (next_rand() % 4) {
      case 0:
        chunks[d] = 1;
        break;
      case 1:
        chunks[d] = -1;
        break;
      default:
        chunks[d] = 2 + (int64_t)(next_rand() % 3);
        break;
      }
      int64_t c = chunks[d] == -1 ? shape[d] : chunks[d];
      int64_t smallest = shape[d] == 0 ? 0 : (shape[d] < c ? shape[d] : c);
      if (shape[d] > 0 && shape[d] % c != 0 && shape[d] % c < smallest)
        smallest = shape[d] % c;
      int64_t max_depth = smallest < 2 ? smallest : 2;
      u.depth[d] = (int64_t)(next_rand() % (uint64_t)(max_depth + 1));
      if (shape[d] == 0)
        u.depth[d] = (int64_t)(next_rand() % 3); /* any depth is fine on an empty array */
      size *= shape[d];
    }
    double constant = u.dtype == TSR_UINT8 ? 5 : -3;
    size_t item = tsr_dtype_size(u.dtype);
    void *x = malloc((size_t)size * item + 8);
    double *want = malloc((size_t)size * 8 + 8), *got = malloc((size_t)size * 8 + 8);
    for (int64_t i = 0; i < size; i++)
      put(x, u.dtype, i, (double)(next_rand() % 100));
    bool empty = size == 0;
    box_user ref = u;
    if (empty)
      for (int d = 0; d < 3; d++)
        ref.depth[d] = 0;
    reference(x, &ref, shape, constant, want);
    tsr_array *a = NULL, *r = NULL;
    assert_ok(tsr_array_from_buffer(ctx, u.dtype, u.ndim, shape, chunks, x, TSR_BUFFER_BORROW, NULL,
                                    NULL, &a));
    assert_ok(tsr_map_overlap(a, u.ndim > 0 ? u.depth : NULL, u.boundary, constant, box_fn, &u,
                              TSR_FLOAT64, &r));
    assert_int_equal(tsr_array_dtype(r), TSR_FLOAT64);
    assert_int_equal(tsr_array_size(r), size);
    assert_int_equal(tsr_chunk_grid_nchunks(tsr_array_chunks(r)),
                     tsr_chunk_grid_nchunks(tsr_array_chunks(a)));
    assert_ok(tsr_array_to_buffer(r, got, (size_t)size * 8));
    for (int64_t i = 0; i < size; i++)
      if (got[i] != want[i]) {
        print_error("trial %d: boundary %d ndim %d dtype %s depth (%lld %lld %lld) shape (%lld "
                    "%lld %lld) chunks (%lld %lld %lld): element %lld is %g, want %g\n",
                    trial, (int)u.boundary, u.ndim, tsr_dtype_name(u.dtype), (long long)u.depth[0],
                    (long long)u.depth[1], (long long)u.depth[2], (long long)shape[0],
                    (long long)shape[1], (long long)shape[2], (long long)chunks[0],
                    (long long)chunks[1], (long long)chunks[2], (long long)i, got[i], want[i]);
        fail();
      }
    if (size > 0)
      counts[u.boundary]++;
    tsr_array_destroy(&a);
    tsr_array_destroy(&r);
    free(x);
    free(want);
    free(got);
  }
  for (int b = 0; b < 5; b++)
    assert_true(counts[b] > 150);
}

/* ---- 5-point Laplacian ----------------------------------------------------- */

static tsr_status laplacian5(void *out, const tsr_block_info *oi, const void *const *in,
                             const tsr_block_info *ii, size_t n_in, void *user) {
  (void)n_in;
  (void)user;
  const double *x = in[0];
  double *y = out;
  int64_t rows = oi->shape[0], cols = oi->shape[1], w = ii->shape[1];
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) {
      const double *c = x + (i + 1) * w + (j + 1);
      y[i * cols + j] = 4 * c[0] - c[-w] - c[w] - c[-1] - c[1];
    }
  return TSR_OK;
}

static void test_overlap__laplacian5_every_boundary_and_thread_count(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {53, 37}, chunks[2] = {8, 5};
  double *x = malloc(53 * 37 * sizeof(double)), *want = malloc(53 * 37 * sizeof(double));
  double *got = malloc(53 * 37 * sizeof(double)), *first = malloc(53 * 37 * sizeof(double));
  tsr_array *a;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 5, 2, shape, chunks, &a));
  assert_ok(tsr_array_to_buffer(a, x, 53 * 37 * sizeof(double)));
  static const tsr_boundary bs[] = {TSR_BOUNDARY_CONSTANT, TSR_BOUNDARY_REFLECT,
                                    TSR_BOUNDARY_PERIODIC, TSR_BOUNDARY_NEAREST};
  for (int b = 0; b < 4; b++) {
    for (int64_t i = 0; i < 53; i++)
      for (int64_t j = 0; j < 37; j++) {
        double nb[4];
        int64_t ii[4] = {i - 1, i + 1, i, i}, jj[4] = {j, j, j - 1, j + 1};
        for (int k = 0; k < 4; k++) {
          int64_t r = ii[k], c = jj[k];
          bool out = r < 0 || r >= 53 || c < 0 || c >= 37;
          if (out && bs[b] == TSR_BOUNDARY_CONSTANT) {
            nb[k] = 0.25;
            continue;
          }
          if (bs[b] == TSR_BOUNDARY_PERIODIC) {
            r = (r + 53) % 53;
            c = (c + 37) % 37;
          } else { /* reflect and nearest agree at depth 1 */
            r = r < 0 ? 0 : (r >= 53 ? 52 : r);
            c = c < 0 ? 0 : (c >= 37 ? 36 : c);
          }
          nb[k] = x[r * 37 + c];
        }
        want[i * 37 + j] = 4 * x[i * 37 + j] - nb[0] - nb[1] - nb[2] - nb[3];
      }
    tsr_array *l;
    assert_ok(
        tsr_map_overlap(a, (int64_t[]){1, 1}, bs[b], 0.25, laplacian5, NULL, TSR_FLOAT64, &l));
    static const int threads[] = {1, 2, 8};
    for (int t = 0; t < 3; t++) {
      configure(ctx, threads[t]);
      assert_ok(tsr_array_to_buffer(l, t == 0 ? first : got, 53 * 37 * sizeof(double)));
      if (t > 0)
        assert_memory_equal(first, got, 53 * 37 * sizeof(double));
    }
    assert_memory_equal(first, want, 53 * 37 * sizeof(double));
    tsr_array_destroy(&l);
  }
  tsr_array_destroy(&a);
  free(x);
  free(want);
  free(got);
  free(first);
}

static void test_overlap__reflect_includes_the_edge(void **state) {
  tsr_ctx *ctx = *state;
  /* 1-D, depth 2: the left halo of [a b c ...] is [b a], the right one of
   * [... x y] is [y x]. */
  double x[6] = {10, 11, 12, 13, 14, 15};
  int64_t n = 6, chunk = 3;
  tsr_array *a, *r;
  assert_ok(
      tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, &chunk, x, TSR_BUFFER_BORROW, NULL, NULL, &a));
  /* The weighted box sum (weights 1..5) mixes the halo into the output. */
  box_user u = {TSR_FLOAT64, 1, {2, 0, 0}, TSR_BOUNDARY_REFLECT}; /* outlives the compute */
  assert_ok(
      tsr_map_overlap(a, (int64_t[]){2}, TSR_BOUNDARY_REFLECT, 0, box_fn, &u, TSR_FLOAT64, &r));
  double got[6];
  assert_ok(tsr_array_to_buffer(r, got, sizeof got));
  /* padded (symmetric): 11 10 | 10 11 12 13 14 15 | 15 14; weights 1..5 */
  double pad[10] = {11, 10, 10, 11, 12, 13, 14, 15, 15, 14};
  for (int i = 0; i < 6; i++) {
    double want = 0;
    for (int k = 0; k < 5; k++)
      want += (k + 1) * pad[i + k];
    assert_true(got[i] == want);
  }
  tsr_array_destroy(&a);
  tsr_array_destroy(&r);
}

static tsr_status failing_fn(void *out, const tsr_block_info *oi, const void *const *in,
                             const tsr_block_info *ii, size_t n_in, void *user) {
  (void)out;
  (void)in;
  (void)ii;
  (void)n_in;
  (void)user;
  if (oi->chunk == 3)
    return tsr_error_set(TSR_EIO, "boom in chunk %lld", (long long)oi->chunk);
  return TSR_OK;
}

static void test_overlap__user_failure_propagates(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {6, 6}, chunks[2] = {2, 3};
  tsr_array *a, *r;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 2, shape, chunks, &a));
  assert_ok(tsr_map_overlap(a, (int64_t[]){1, 1}, TSR_BOUNDARY_NEAREST, 0, failing_fn, NULL,
                            TSR_FLOAT64, &r));
  double buf[36];
  for (int t = 0; t < 3; t++) {
    configure(ctx, t * 2);
    assert_fails(tsr_array_to_buffer(r, buf, sizeof buf), TSR_EIO, "boom in chunk 3");
  }
  tsr_array_destroy(&a);
  tsr_array_destroy(&r);
}

static void test_overlap__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {7, 8}, chunks[2] = {3, 4};
  tsr_array *a, *r = (tsr_array *)&r;
  assert_ok(tsr_array_ones(ctx, TSR_UINT8, 2, shape, chunks, &a));
  /* Axis 0's smallest chunk is the ragged last one, of extent 1. */
  assert_fails(
      tsr_map_overlap(a, (int64_t[]){2, 1}, TSR_BOUNDARY_NONE, 0, box_fn, NULL, TSR_FLOAT64, &r),
      TSR_EINVAL, "axis 0");
  assert_null(r);
  assert_fails(
      tsr_map_overlap(a, (int64_t[]){1, 5}, TSR_BOUNDARY_NONE, 0, box_fn, NULL, TSR_FLOAT64, &r),
      TSR_EINVAL, "axis 1");
  assert_fails(
      tsr_map_overlap(a, (int64_t[]){0, -1}, TSR_BOUNDARY_NONE, 0, box_fn, NULL, TSR_FLOAT64, &r),
      TSR_EINVAL, "negative");
  assert_fails(tsr_map_overlap(a, NULL, TSR_BOUNDARY_NONE, 0, box_fn, NULL, TSR_FLOAT64, &r),
               TSR_EINVAL, "depth is NULL");
  assert_fails(
      tsr_map_overlap(a, (int64_t[]){1, 1}, (tsr_boundary)9, 0, box_fn, NULL, TSR_FLOAT64, &r),
      TSR_EINVAL, "boundary");
  assert_fails(tsr_map_overlap(a, (int64_t[]){1, 1}, TSR_BOUNDARY_CONSTANT, -1, box_fn, NULL,
                               TSR_FLOAT64, &r),
               TSR_EINVAL, "does not fit uint8");
  assert_fails(
      tsr_map_overlap(a, (int64_t[]){1, 1}, TSR_BOUNDARY_NONE, 0, NULL, NULL, TSR_FLOAT64, &r),
      TSR_EINVAL, "fn is NULL");
  assert_fails(
      tsr_map_overlap(a, (int64_t[]){1, 1}, TSR_BOUNDARY_NONE, 0, box_fn, NULL, TSR_NUM_DTYPES, &r),
      TSR_EINVAL, "out_dtype");
  assert_fails(
      tsr_map_overlap(NULL, (int64_t[]){1, 1}, TSR_BOUNDARY_NONE, 0, box_fn, NULL, TSR_FLOAT64, &r),
      TSR_EINVAL, "a is NULL");
  assert_fails(
      tsr_map_overlap(a, (int64_t[]){1, 1}, TSR_BOUNDARY_NONE, 0, box_fn, NULL, TSR_FLOAT64, NULL),
      TSR_EINVAL, "out is NULL");
  tsr_array_destroy(&a);
}

static void test_overlap__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {9, 7}, chunks[2] = {3, 3};
  bool done = false;
  int failures = 0;
  for (uint64_t nth = 1; !done && nth < 1000; nth++) {
    tsr_array *x = NULL, *r = NULL;
    double buf[63];
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status s = tsr_array_ones(ctx, TSR_FLOAT64, 2, shape, chunks, &x);
    if (s == TSR_OK)
      s = tsr_map_overlap(x, (int64_t[]){1, 1}, TSR_BOUNDARY_PERIODIC, 0, laplacian5, NULL,
                          TSR_FLOAT64, &r);
    if (s == TSR_OK)
      s = tsr_array_to_buffer(r, buf, sizeof buf);
    if (s == TSR_OK) {
      done = true;
      for (int i = 0; i < 63; i++)
        assert_true(buf[i] == 0);
    } else {
      assert_int_equal(s, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&x);
    tsr_array_destroy(&r);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_overlap__box_sums_match_padded_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_overlap__laplacian5_every_boundary_and_thread_count,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_overlap__reflect_includes_the_edge, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_overlap__user_failure_propagates, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_overlap__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_overlap__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
