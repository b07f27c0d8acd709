/* test_linalg.c — matmul, dot and tensordot against naive loops computed in
 * the test (double accumulation): random shapes with 1-D operands and
 * zero-size free and contracted axes x random chunkings (1-element, ragged,
 * one chunk) x float64 / float32 / int32 and mixed dtypes x the serial and
 * OpenMP executors; tensordot with contracted axes in any order; dot of
 * N-d operands; bitwise determinism across thread counts; errors that name
 * shapes and axes; allocation failures at every step with no leak. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng_state = 0x5eed1234;
static uint64_t next_rand(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static int64_t rand_below(int64_t n) { return (int64_t)(next_rand() % (uint64_t)n); }

static void configure(tsr_ctx *ctx, int config) {
  /* serial, then OpenMP at 1, 2 and 4 threads */
  static const int threads[] = {1, 1, 2, 4};
  assert_ok(tsr_ctx_set_executor(ctx, config % 4 == 0 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
  assert_ok(tsr_ctx_set_threads(ctx, threads[config % 4]));
}

/* A random chunk extent for an axis of extent n: 1, whole (-1), or ragged. */
static int64_t random_chunk(int64_t n) {
  switch (rand_below(4)) {
  case 0:
    return 1;
  case 1:
    return -1;
  default:
    return 1 + rand_below(n > 1 ? n : 2);
  }
}

/* Test data: a malloc'd buffer of random values and its dtype. */
typedef struct operand {
  tsr_dtype dtype;
  int ndim;
  int64_t shape[8], chunks[8];
  int64_t size;
  void *data;
  tsr_array *array;
} operand;

static double value_at(const void *data, tsr_dtype dtype, int64_t i) {
  switch (dtype) {
  case TSR_FLOAT32:
    return ((const float *)data)[i];
  case TSR_INT32:
    return ((const int32_t *)data)[i];
  case TSR_INT16:
    return ((const int16_t *)data)[i];
  case TSR_BOOL:
    return ((const uint8_t *)data)[i];
  default:
    return ((const double *)data)[i];
  }
}

/* Fills o->data and makes o->array over it (borrowed). */
static void make_operand(tsr_ctx *ctx, operand *o) {
  o->size = 1;
  for (int d = 0; d < o->ndim; d++)
    o->size *= o->shape[d];
  size_t item = tsr_dtype_size(o->dtype);
  o->data = malloc((size_t)o->size * item + 1);
  for (int64_t i = 0; i < o->size; i++) {
    double u = (double)(next_rand() >> 11) * 0x1.0p-53 * 2 - 1;
    switch (o->dtype) {
    case TSR_FLOAT32:
      ((float *)o->data)[i] = (float)u;
      break;
    case TSR_INT32:
      ((int32_t *)o->data)[i] = (int32_t)rand_below(21) - 10;
      break;
    case TSR_INT16:
      ((int16_t *)o->data)[i] = (int16_t)(rand_below(7) - 3);
      break;
    case TSR_BOOL:
      ((uint8_t *)o->data)[i] = (uint8_t)rand_below(2);
      break;
    default:
      ((double *)o->data)[i] = u;
      break;
    }
  }
  assert_ok(tsr_array_from_buffer(ctx, o->dtype, o->ndim, o->shape, o->chunks, o->data,
                                  TSR_BUFFER_BORROW, NULL, NULL, &o->array));
}

static void free_operand(operand *o) {
  tsr_array_destroy(&o->array);
  free(o->data);
  o->data = NULL;
}

static tsr_dtype expected_dtype(tsr_dtype a, tsr_dtype b) {
  tsr_dtype p;
  assert_ok(tsr_dtype_promote(a, b, &p));
  return p == TSR_FLOAT32 ? TSR_FLOAT32 : TSR_FLOAT64;
}

/* Naive tensordot: ref[r] = sum over contracted indices of a * b, in C
 * order of the result (a's free axes then b's), and scale[r] = the sum of
 * |a * b| (the error bound's scale). */
static void naive_tensordot(const operand *a, const operand *b, int nc, const int *ca,
                            const int *cb, double *ref, double *scale, int64_t *rsize) {
  int fa[8], fb[8], nfa = 0, nfb = 0;
  bool is_ca[8] = {false}, is_cb[8] = {false};
  for (int i = 0; i < nc; i++) {
    is_ca[ca[i]] = true;
    is_cb[cb[i]] = true;
  }
  for (int d = 0; d < a->ndim; d++)
    if (!is_ca[d])
      fa[nfa++] = d;
  for (int d = 0; d < b->ndim; d++)
    if (!is_cb[d])
      fb[nfb++] = d;
  int64_t sa[8], sb[8];
  for (int d = a->ndim - 1, s = 1; d >= 0; s *= (int)a->shape[d], d--)
    sa[d] = s;
  for (int d = b->ndim - 1, s = 1; d >= 0; s *= (int)b->shape[d], d--)
    sb[d] = s;
  int64_t rshape[16], kshape[8], nr = 1, nk = 1;
  for (int i = 0; i < nfa; i++)
    nr *= rshape[i] = a->shape[fa[i]];
  for (int i = 0; i < nfb; i++)
    nr *= rshape[nfa + i] = b->shape[fb[i]];
  for (int i = 0; i < nc; i++)
    nk *= kshape[i] = a->shape[ca[i]];
  *rsize = nr;
  for (int64_t r = 0; r < nr; r++) {
    int64_t ia = 0, ib = 0, rest = r;
    for (int d = nfa + nfb - 1; d >= 0; d--) {
      int64_t i = rest % rshape[d];
      rest /= rshape[d];
      if (d < nfa)
        ia += i * sa[fa[d]];
      else
        ib += i * sb[fb[d - nfa]];
    }
    double sum = 0, abs_sum = 0;
    for (int64_t k = 0; k < nk; k++) {
      int64_t ja = ia, jb = ib, kr = k;
      for (int i = nc - 1; i >= 0; i--) {
        int64_t ki = kr % kshape[i];
        kr /= kshape[i];
        ja += ki * sa[ca[i]];
        jb += ki * sb[cb[i]];
      }
      double x = value_at(a->data, a->dtype, ja) * value_at(b->data, b->dtype, jb);
      sum += x;
      abs_sum += fabs(x);
    }
    ref[r] = sum;
    scale[r] = abs_sum;
  }
}

/* Computes r and compares it with ref elementwise within the dtype's
 * rounding (K products summed in another order). */
static void expect_close(tsr_array *r, const double *ref, const double *scale, int64_t n,
                         int64_t k) {
  assert_int_equal(tsr_array_size(r), n);
  tsr_dtype dt = tsr_array_dtype(r);
  size_t bytes = (size_t)n * tsr_dtype_size(dt);
  void *buf = malloc(bytes + 1);
  assert_ok(tsr_array_to_buffer(r, buf, bytes));
  double eps = dt == TSR_FLOAT32 ? 0x1.0p-24 : 0x1.0p-53;
  double rel = dt == TSR_FLOAT32 ? (double)(k + 4) * eps * 2 : 1e-12;
  for (int64_t i = 0; i < n; i++) {
    double got = value_at(buf, dt, i);
    double tol = rel * scale[i] + 1e-300;
    if (!(fabs(got - ref[i]) <= tol))
      print_error("element %lld: got %.17g, want %.17g (tol %.3g)\n", (long long)i, got, ref[i],
                  tol);
    assert_true(fabs(got - ref[i]) <= tol);
  }
  free(buf);
}

static const tsr_dtype pairs[][2] = {
    {TSR_FLOAT64, TSR_FLOAT64}, {TSR_FLOAT32, TSR_FLOAT32}, {TSR_INT32, TSR_INT32},
    {TSR_FLOAT32, TSR_INT32},   {TSR_FLOAT64, TSR_FLOAT32}, {TSR_INT16, TSR_FLOAT32},
    {TSR_BOOL, TSR_FLOAT64},
};
enum { N_PAIRS = sizeof pairs / sizeof pairs[0] };

/* Checks tensordot (or matmul / dot, which `fn` selects) of a and b against
 * the naive reference with the given contracted pairs. */
static void check_contract(tsr_array *r, const operand *a, const operand *b, int nc, const int *ca,
                           const int *cb) {
  int64_t n = 1, k = 1; /* result elements, contracted elements */
  bool is_ca[8] = {false}, is_cb[8] = {false};
  for (int i = 0; i < nc; i++) {
    is_ca[ca[i]] = true;
    is_cb[cb[i]] = true;
  }
  for (int d = 0; d < a->ndim; d++)
    n *= is_ca[d] ? 1 : a->shape[d];
  for (int d = 0; d < b->ndim; d++)
    n *= is_cb[d] ? 1 : b->shape[d];
  double *ref = malloc(((size_t)n + 1) * sizeof *ref),
         *scale = malloc(((size_t)n + 1) * sizeof *ref);
  int64_t rsize;
  naive_tensordot(a, b, nc, ca, cb, ref, scale, &rsize);
  for (int i = 0; i < nc; i++)
    k *= a->shape[ca[i]];
  assert_int_equal(tsr_array_ndim(r), a->ndim + b->ndim - 2 * nc);
  assert_int_equal(tsr_array_dtype(r), expected_dtype(a->dtype, b->dtype));
  expect_close(r, ref, scale, rsize, k);
  free(ref);
  free(scale);
}

static void test_linalg__matmul_random(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 400; trial++) {
    configure(ctx, trial);
    operand a = {.dtype = pairs[trial % N_PAIRS][0]}, b = {.dtype = pairs[trial % N_PAIRS][1]};
    int64_t m = rand_below(8), k = rand_below(9), n = rand_below(8);
    if (trial % 5 == 0)
      k = 0; /* empty sum: zeros */
    int64_t kch = random_chunk(k);
    a.ndim = 1 + (int)rand_below(2);
    b.ndim = 1 + (int)rand_below(2);
    if (a.ndim == 2) {
      a.shape[0] = m;
      a.chunks[0] = random_chunk(m);
    }
    a.shape[a.ndim - 1] = k;
    a.chunks[a.ndim - 1] = kch;
    b.shape[0] = k;
    b.chunks[0] = kch;
    if (b.ndim == 2) {
      b.shape[1] = n;
      b.chunks[1] = random_chunk(n);
    }
    make_operand(ctx, &a);
    make_operand(ctx, &b);
    tsr_array *r = NULL;
    assert_ok(tsr_matmul(a.array, b.array, &r));
    /* NumPy's shapes: (m, n), (n,), (m,), () */
    int rd = (a.ndim - 1) + (b.ndim - 1);
    assert_int_equal(tsr_array_ndim(r), rd);
    if (a.ndim == 2)
      assert_int_equal(tsr_array_shape(r)[0], m);
    if (b.ndim == 2)
      assert_int_equal(tsr_array_shape(r)[rd - 1], n);
    int ca = a.ndim - 1, cb = 0;
    check_contract(r, &a, &b, 1, &ca, &cb);
    tsr_array_destroy(&r);
    free_operand(&a);
    free_operand(&b);
  }
}

/* Tasks per kernel name of the last run, through on_stats. */
typedef struct kernel_counts {
  uint64_t transpose, matmul;
} kernel_counts;
static void count_kernels(const tsr_run_stats *st, void *user) {
  kernel_counts *k = user;
  for (uint32_t i = 0; i < st->n_kernels; i++) {
    if (strcmp(st->kernels[i].name, "transpose") == 0)
      k->transpose += st->kernels[i].tasks;
    if (strcmp(st->kernels[i].name, "matmul") == 0)
      k->matmul += st->kernels[i].tasks;
  }
}

/* a @ a.T, a.T @ b and tensordot over a transposed 3-d operand read the
 * transposed operand in place (BLAS transposes it): no transpose task runs,
 * and the values are the naive loops'. */
static void test_linalg__transposed_operands_in_place(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 24; trial++) {
    configure(ctx, trial);
    int64_t m = 1 + rand_below(9), k = 1 + rand_below(9);
    int64_t shape[2] = {m, k}, chunks[2] = {random_chunk(m), random_chunk(k)};
    double *v = malloc((size_t)(m * k) * sizeof *v);
    for (int64_t i = 0; i < m * k; i++)
      v[i] = (double)rand_below(19) - 9;
    tsr_array *a = NULL, *at = NULL, *r = NULL, *r2 = NULL;
    assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, chunks, v, TSR_BUFFER_COPY, NULL,
                                    NULL, &a));
    assert_ok(tsr_transpose(a, NULL, &at));
    assert_ok(tsr_matmul(a, at, &r));  /* m x m */
    assert_ok(tsr_matmul(at, a, &r2)); /* k x k */
    double *g1 = malloc((size_t)(m * m) * sizeof *g1), *g2 = malloc((size_t)(k * k) * sizeof *g2);
    kernel_counts kc = {0, 0};
    tsr_compute_options o = {.on_stats = count_kernels, .stats_user = &kc};
    tsr_array *both[2] = {r, r2};
    void *bufs[2] = {g1, g2};
    size_t bytes[2] = {(size_t)(m * m) * sizeof *g1, (size_t)(k * k) * sizeof *g2};
    assert_ok(tsr_array_to_buffers_ex(2, both, bufs, bytes, &o));
    assert_int_equal(kc.transpose, 0);
    assert_true(kc.matmul > 0);
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < m; j++) {
        double want = 0;
        for (int64_t x = 0; x < k; x++)
          want += v[i * k + x] * v[j * k + x];
        assert_true(g1[i * m + j] == want); /* small integers: exact */
      }
    for (int64_t i = 0; i < k; i++)
      for (int64_t j = 0; j < k; j++) {
        double want = 0;
        for (int64_t x = 0; x < m; x++)
          want += v[x * k + i] * v[x * k + j];
        assert_true(g2[i * k + j] == want);
      }
    free(g1);
    free(g2);
    tsr_array_destroy(&r);
    tsr_array_destroy(&r2);
    /* a transpose that reorders free axes is still copied, with the same values */
    int64_t s3[3] = {2, 3, 4}, c3[3] = {1, 2, 4};
    double v3[24];
    for (int i = 0; i < 24; i++)
      v3[i] = (double)rand_below(19) - 9;
    tsr_array *t3 = NULL, *t3p = NULL, *w = NULL;
    assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 3, s3, c3, v3, TSR_BUFFER_COPY, NULL, NULL,
                                    &t3));
    int perm[3] = {2, 0, 1}; /* t3p[c, a, b] = t3[a, b, c]: shape (4, 2, 3) */
    assert_ok(tsr_transpose(t3, perm, &t3p));
    int64_t sw[2] = {3, 5};
    double vw[15];
    for (int i = 0; i < 15; i++)
      vw[i] = (double)rand_below(19) - 9;
    assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, sw, NULL, vw, TSR_BUFFER_COPY, NULL, NULL,
                                    &w));
    int ax_a = 2, ax_b = 0; /* contract t3p's last axis (t3's axis 1) with w's first */
    assert_ok(tsr_tensordot(t3p, w, 1, &ax_a, &ax_b, &r)); /* (4, 2, 5) */
    double got[40];
    assert_ok(tsr_array_to_buffer(r, got, sizeof got));
    for (int c = 0; c < 4; c++)
      for (int a0 = 0; a0 < 2; a0++)
        for (int q = 0; q < 5; q++) {
          double want = 0;
          for (int b0 = 0; b0 < 3; b0++)
            want += v3[(a0 * 3 + b0) * 4 + c] * vw[b0 * 5 + q];
          assert_true(got[(c * 2 + a0) * 5 + q] == want);
        }
    tsr_array_destroy(&r);
    tsr_array_destroy(&w);
    tsr_array_destroy(&t3p);
    tsr_array_destroy(&t3);
    tsr_array_destroy(&at);
    tsr_array_destroy(&a);
    free(v);
  }
}

static void test_linalg__matmul_result_chunks(void **state) {
  tsr_ctx *ctx = *state;
  operand a = {.dtype = TSR_FLOAT64, .ndim = 2, .shape = {10, 7}, .chunks = {3, 2}};
  operand b = {.dtype = TSR_FLOAT64, .ndim = 2, .shape = {7, 9}, .chunks = {2, 4}};
  make_operand(ctx, &a);
  make_operand(ctx, &b);
  tsr_array *r;
  assert_ok(tsr_matmul(a.array, b.array, &r));
  const tsr_chunk_grid *g = tsr_array_chunks(r);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 0), 4);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 1), 3);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 0, 3), 1);
  assert_int_equal(tsr_chunk_grid_chunk_extent(g, 1, 2), 1);
  tsr_array_destroy(&r);
  /* a @ a with the same array on both sides */
  operand s = {.dtype = TSR_FLOAT64, .ndim = 2, .shape = {6, 6}, .chunks = {4, 4}};
  make_operand(ctx, &s);
  assert_ok(tsr_matmul(s.array, s.array, &r));
  int ca = 1, cb = 0;
  check_contract(r, &s, &s, 1, &ca, &cb);
  tsr_array_destroy(&r);
  free_operand(&s);
  free_operand(&a);
  free_operand(&b);
}

/* Random tensordot: up to 2 contracted pairs at random positions and in
 * random order, up to 2 free axes on each side. */
static void test_linalg__tensordot_random(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 300; trial++) {
    configure(ctx, trial);
    operand a = {.dtype = pairs[trial % N_PAIRS][0]}, b = {.dtype = pairs[trial % N_PAIRS][1]};
    int nc = (int)rand_below(3), nfa = (int)rand_below(3), nfb = (int)rand_below(3);
    a.ndim = nc + nfa;
    b.ndim = nc + nfb;
    int ca[4], cb[4];
    /* Random placements: shuffle axis lists. */
    int perm_a[6], perm_b[6];
    for (int i = 0; i < a.ndim; i++)
      perm_a[i] = i;
    for (int i = 0; i < b.ndim; i++)
      perm_b[i] = i;
    for (int i = a.ndim - 1; i > 0; i--) {
      int j = (int)rand_below(i + 1), t = perm_a[i];
      perm_a[i] = perm_a[j];
      perm_a[j] = t;
    }
    for (int i = b.ndim - 1; i > 0; i--) {
      int j = (int)rand_below(i + 1), t = perm_b[i];
      perm_b[i] = perm_b[j];
      perm_b[j] = t;
    }
    for (int i = 0; i < nc; i++) {
      ca[i] = perm_a[i];
      cb[i] = perm_b[i];
      int64_t ext = rand_below(5), ch = random_chunk(ext);
      a.shape[ca[i]] = b.shape[cb[i]] = ext;
      a.chunks[ca[i]] = b.chunks[cb[i]] = ch;
    }
    for (int i = nc; i < a.ndim; i++) {
      a.shape[perm_a[i]] = rand_below(5);
      a.chunks[perm_a[i]] = random_chunk(a.shape[perm_a[i]]);
    }
    for (int i = nc; i < b.ndim; i++) {
      b.shape[perm_b[i]] = rand_below(5);
      b.chunks[perm_b[i]] = random_chunk(b.shape[perm_b[i]]);
    }
    make_operand(ctx, &a);
    make_operand(ctx, &b);
    /* Sometimes pass negative axes. */
    int ua[4], ub[4];
    for (int i = 0; i < nc; i++) {
      ua[i] = trial % 3 == 0 ? ca[i] - a.ndim : ca[i];
      ub[i] = trial % 3 == 1 ? cb[i] - b.ndim : cb[i];
    }
    tsr_array *r = NULL;
    assert_ok(tsr_tensordot(a.array, b.array, nc, ua, ub, &r));
    check_contract(r, &a, &b, nc, ca, cb);
    tsr_array_destroy(&r);
    free_operand(&a);
    free_operand(&b);
  }
}

static void test_linalg__tensordot_two_axes(void **state) {
  tsr_ctx *ctx = *state;
  /* a (4, 5, 6) and b (6, 3, 5): contract a's (1, 2) with b's (2, 0). */
  operand a = {.dtype = TSR_FLOAT64, .ndim = 3, .shape = {4, 5, 6}, .chunks = {3, 2, 4}};
  operand b = {.dtype = TSR_FLOAT64, .ndim = 3, .shape = {6, 3, 5}, .chunks = {4, 2, 2}};
  make_operand(ctx, &a);
  make_operand(ctx, &b);
  int ca[2] = {1, 2}, cb[2] = {2, 0};
  tsr_array *r;
  assert_ok(tsr_tensordot(a.array, b.array, 2, ca, cb, &r));
  assert_int_equal(tsr_array_ndim(r), 2);
  assert_int_equal(tsr_array_shape(r)[0], 4);
  assert_int_equal(tsr_array_shape(r)[1], 3);
  check_contract(r, &a, &b, 2, ca, cb);
  tsr_array_destroy(&r);
  /* Contracted axes leading in a and trailing in b (transposed operands). */
  operand c = {.dtype = TSR_FLOAT64, .ndim = 3, .shape = {5, 6, 4}, .chunks = {2, 4, 3}};
  operand d = {.dtype = TSR_FLOAT64, .ndim = 3, .shape = {3, 5, 6}, .chunks = {2, 2, 4}};
  make_operand(ctx, &c);
  make_operand(ctx, &d);
  int cc[2] = {0, 1}, cd[2] = {1, 2};
  assert_ok(tsr_tensordot(c.array, d.array, 2, cc, cd, &r));
  check_contract(r, &c, &d, 2, cc, cd);
  tsr_array_destroy(&r);
  free_operand(&a);
  free_operand(&b);
  free_operand(&c);
  free_operand(&d);
}

static void test_linalg__dot(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 40; trial++) {
    configure(ctx, trial);
    /* 3-D x 2-D: (p, q, k) . (k, n) */
    operand a = {.dtype = TSR_FLOAT64, .ndim = 3}, b = {.dtype = pairs[trial % N_PAIRS][1]};
    int64_t k = rand_below(6);
    for (int d = 0; d < 2; d++) {
      a.shape[d] = rand_below(5);
      a.chunks[d] = random_chunk(a.shape[d]);
    }
    a.shape[2] = k;
    a.chunks[2] = random_chunk(k);
    b.ndim = 1 + (int)rand_below(3); /* 1-D, 2-D or 3-D */
    for (int d = 0; d < b.ndim; d++) {
      b.shape[d] = rand_below(4);
      b.chunks[d] = random_chunk(b.shape[d]);
    }
    int kb = b.ndim >= 2 ? b.ndim - 2 : 0;
    b.shape[kb] = k;
    b.chunks[kb] = a.chunks[2];
    make_operand(ctx, &a);
    make_operand(ctx, &b);
    tsr_array *r;
    assert_ok(tsr_dot(a.array, b.array, &r));
    int ca = 2;
    check_contract(r, &a, &b, 1, &ca, &kb);
    tsr_array_destroy(&r);
    /* and b . a^T-like: 1-D . 3-D sums over a's second-to-last axis */
    free_operand(&a);
    free_operand(&b);
  }
  /* 1-D . 1-D gives a 0-d array. */
  operand x = {.dtype = TSR_FLOAT64, .ndim = 1, .shape = {11}, .chunks = {3}};
  operand y = {.dtype = TSR_FLOAT64, .ndim = 1, .shape = {11}, .chunks = {3}};
  make_operand(ctx, &x);
  make_operand(ctx, &y);
  tsr_array *r;
  assert_ok(tsr_dot(x.array, y.array, &r));
  assert_int_equal(tsr_array_ndim(r), 0);
  int c0 = 0;
  check_contract(r, &x, &y, 1, &c0, &c0);
  tsr_array_destroy(&r);
  /* A 0-d operand multiplies. */
  operand s = {.dtype = TSR_FLOAT64, .ndim = 0};
  make_operand(ctx, &s);
  assert_ok(tsr_dot(s.array, x.array, &r));
  assert_int_equal(tsr_array_ndim(r), 1);
  check_contract(r, &s, &x, 0, NULL, NULL);
  tsr_array_destroy(&r);
  assert_ok(tsr_dot(x.array, s.array, &r));
  check_contract(r, &x, &s, 0, NULL, NULL);
  tsr_array_destroy(&r);
  free_operand(&s);
  free_operand(&x);
  free_operand(&y);
}

/* Exact int results (computed in float64). */
static void test_linalg__int_exact(void **state) {
  tsr_ctx *ctx = *state;
  int32_t a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {7, 8, 9, 10, 11, 12};
  tsr_array *x, *y, *r;
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT32, 2, (int64_t[]){2, 3}, (int64_t[]){1, 2}, a,
                                  TSR_BUFFER_BORROW, NULL, NULL, &x));
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT32, 2, (int64_t[]){3, 2}, (int64_t[]){2, 1}, b,
                                  TSR_BUFFER_BORROW, NULL, NULL, &y));
  assert_ok(tsr_matmul(x, y, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_FLOAT64);
  double out[4];
  assert_ok(tsr_array_to_buffer(r, out, sizeof out));
  assert_true(out[0] == 58 && out[1] == 64 && out[2] == 139 && out[3] == 154);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
}

/* The same bits with any executor and thread count, including chains
 * split into groups and summed by a tree. */
static void test_linalg__deterministic_across_threads(void **state) {
  tsr_ctx *ctx = *state;
  static const struct {
    int64_t m, k, n, cm, ck, cn;
  } cases[] = {
      {40, 90, 30, 7, 5, 6},    /* 18 k-chunks: 3 groups of 6 per output + sums */
      {10, 200, 10, 10, 7, 10}, /* one output chunk, 29 k-chunks: split 15 ways */
      {33, 17, 21, 1, 1, 1},    /* 1-element chunks */
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    operand a = {.dtype = TSR_FLOAT64,
                 .ndim = 2,
                 .shape = {cases[c].m, cases[c].k},
                 .chunks = {cases[c].cm, cases[c].ck}};
    operand b = {.dtype = TSR_FLOAT64,
                 .ndim = 2,
                 .shape = {cases[c].k, cases[c].n},
                 .chunks = {cases[c].ck, cases[c].cn}};
    make_operand(ctx, &a);
    make_operand(ctx, &b);
    tsr_array *r;
    assert_ok(tsr_matmul(a.array, b.array, &r));
    size_t bytes = (size_t)tsr_array_nbytes(r);
    double *first = malloc(bytes), *again = malloc(bytes);
    static const int threads[] = {1, 2, 8, 3};
    for (int t = 0; t < 5; t++) {
      assert_ok(tsr_ctx_set_executor(ctx, t == 4 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
      assert_ok(tsr_ctx_set_threads(ctx, t == 4 ? 1 : threads[t]));
      assert_ok(tsr_array_to_buffer(r, t == 0 ? first : again, bytes));
      if (t > 0)
        assert_memory_equal(first, again, bytes);
    }
    int ca = 1, cb = 0;
    check_contract(r, &a, &b, 1, &ca, &cb);
    free(first);
    free(again);
    tsr_array_destroy(&r);
    free_operand(&a);
    free_operand(&b);
  }
}

static void test_linalg__errors(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *b, *v, *s, *t3, *r = (tsr_array *)&r;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 2, (int64_t[]){3, 4}, NULL, &a));
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 2, (int64_t[]){5, 2}, NULL, &b));
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 1, (int64_t[]){5}, NULL, &v));
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 0, NULL, NULL, &s));
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 3, (int64_t[]){2, 4, 5}, NULL, &t3));

  assert_fails(tsr_matmul(a, b, &r), TSR_ESHAPE,
               "tsr_matmul: shapes (3, 4) and (5, 2) not aligned: 4 (axis 1) != 5 (axis 0)");
  assert_null(r);
  assert_fails(tsr_matmul(a, v, &r), TSR_ESHAPE, "shapes (3, 4) and (5,) not aligned");
  assert_fails(tsr_dot(v, a, &r), TSR_ESHAPE, "tsr_dot: shapes (5,) and (3, 4) not aligned");
  assert_fails(tsr_dot(t3, a, &r), TSR_ESHAPE,
               "shapes (2, 4, 5) and (3, 4) not aligned: 5 (axis 2) != 3 (axis 0)");
  assert_fails(tsr_matmul(s, a, &r), TSR_EINVAL, "0-d");
  assert_fails(tsr_matmul(a, s, &r), TSR_EINVAL, "operand 1 is 0-d");
  assert_fails(tsr_matmul(t3, b, &r), TSR_ENOTSUP, "3 dimensions");
  assert_fails(tsr_matmul(NULL, b, &r), TSR_EINVAL, "a is NULL");
  assert_fails(tsr_matmul(a, b, NULL), TSR_EINVAL, "out is NULL");

  assert_fails(tsr_tensordot(a, b, 1, (int[]){2}, (int[]){0}, &r), TSR_EINVAL,
               "axes_a[0] = 2 is out of range for 2 dimensions");
  assert_fails(tsr_tensordot(a, b, 1, (int[]){0}, (int[]){-3}, &r), TSR_EINVAL,
               "axes_b[0] = -3 is out of range");
  assert_fails(tsr_tensordot(t3, t3, 2, (int[]){1, -2}, (int[]){1, 2}, &r), TSR_EINVAL,
               "axis 1 repeated in axes_a");
  assert_fails(tsr_tensordot(a, v, 2, (int[]){0, 1}, (int[]){0, 0}, &r), TSR_EINVAL,
               "2 contracted axes for shapes (3, 4) and (5,)");
  assert_fails(tsr_tensordot(a, b, 1, NULL, NULL, &r), TSR_EINVAL, "axes are NULL");
  assert_fails(tsr_tensordot(t3, b, 1, (int[]){2}, (int[]){1}, &r), TSR_ESHAPE,
               "5 (axis 2) != 2 (axis 1)");

  /* Equal extents, different chunks along the contracted axis: b is
   * rechunked to a's chunks there; every element of ones @ ones is 6. */
  tsr_array *c1, *c2;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 2, (int64_t[]){4, 6}, (int64_t[]){2, 3}, &c1));
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 2, (int64_t[]){6, 4}, (int64_t[]){2, 2}, &c2));
  assert_ok(tsr_matmul(c1, c2, &r));
  double prod[16];
  assert_ok(tsr_array_to_buffer(r, prod, sizeof prod));
  for (int i = 0; i < 16; i++)
    assert_true(prod[i] == 6.0);
  tsr_array_destroy(&r);

  tsr_ctx *other;
  assert_ok(tsr_ctx_create(&other));
  tsr_array *o;
  assert_ok(tsr_array_ones(other, TSR_FLOAT64, 2, (int64_t[]){4, 3}, NULL, &o));
  assert_fails(tsr_matmul(a, o, &r), TSR_EINVAL, "different contexts");
  tsr_array_destroy(&o);
  tsr_ctx_destroy(&other);

  tsr_array_destroy(&c1);
  tsr_array_destroy(&c2);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&v);
  tsr_array_destroy(&s);
  tsr_array_destroy(&t3);
}

/* Fail the n-th allocation for every n, building and computing a product
 * that packs (int32 operands) and sums groups: each attempt fails cleanly
 * with TSR_ENOMEM or succeeds, and nothing leaks (the teardown checks). */
static void test_linalg__out_of_memory(void **state) {
  tsr_ctx *ctx = *state;
  operand a = {.dtype = TSR_INT32, .ndim = 2, .shape = {6, 20}, .chunks = {3, 2}};
  operand b = {.dtype = TSR_FLOAT64, .ndim = 2, .shape = {20, 5}, .chunks = {2, 5}};
  make_operand(ctx, &a);
  make_operand(ctx, &b);
  double out[30];
  bool done = false;
  for (uint64_t n = 1; n < 10000 && !done; n++) {
    configure(ctx, (int)n);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_array *r = NULL;
    tsr_status st = tsr_matmul(a.array, b.array, &r);
    if (st == TSR_OK) {
      st = tsr_array_to_buffer(r, out, sizeof out);
      done = st == TSR_OK;
    }
    if (st != TSR_OK)
      assert_int_equal(st, TSR_ENOMEM);
    tsr_array_destroy(&r);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
  }
  assert_true(done);
  free_operand(&a);
  free_operand(&b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_linalg__matmul_random, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg__transposed_operands_in_place, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg__matmul_result_chunks, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg__tensordot_random, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg__tensordot_two_axes, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg__dot, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg__int_exact, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg__deterministic_across_threads, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg__errors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg__out_of_memory, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
