/* test_linalg_qr.c — the factorizations (qr.c, linalg_small.c) against
 * naive references computed here: TSQR's Q^T Q = I, Q R = A, R upper
 * triangular with a non-negative diagonal, for one block, many blocks (a
 * two-level tree), wide matrices, column chunks and integer inputs; the SVD's
 * A = U S V^T with orthonormal U and V and S^2 equal to the eigenvalues of
 * A^T A found by Jacobi rotations here; lstsq's normal equations A^T (A x -
 * b) = 0; solve's A x = b, A inv(A) = I, cholesky's L L^T = A; every result
 * bitwise identical over the serial executor and 1, 2 and 4 threads; the
 * eval functions equal to the C calls; errors that name the argument
 * (singular, not positive definite, rank deficient, not square, too big for
 * one chunk). */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng_state = 0x1a9ac4e;
static double next_unit(void) { /* in [-1, 1) */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return (double)(z >> 11) / 4503599627370496.0 - 1.0;
}

static void configure(tsr_ctx *ctx, int config) {
  static const int threads[] = {1, 1, 2, 4};
  assert_ok(tsr_ctx_set_executor(ctx, config == 0 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
  assert_ok(tsr_ctx_set_threads(ctx, threads[config]));
}

static double *random_matrix(int64_t m, int64_t n) {
  double *a = malloc((size_t)(m * n + 1) * sizeof *a);
  assert_non_null(a);
  for (int64_t i = 0; i < m * n; i++)
    a[i] = next_unit();
  return a;
}

static tsr_array *from(tsr_ctx *ctx, const double *data, int ndim, const int64_t *shape,
                       const int64_t *chunks) {
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, ndim, shape, chunks, (void *)data,
                                  TSR_BUFFER_BORROW, NULL, NULL, &a));
  return a;
}

/* Computes a (float64) into a new malloc'd buffer; destroys a. */
static double *compute(tsr_array **a, int64_t expect_size) {
  assert_int_equal(tsr_array_dtype(*a), TSR_FLOAT64);
  int64_t size = 1;
  for (int d = 0; d < tsr_array_ndim(*a); d++)
    size *= tsr_array_shape(*a)[d];
  assert_int_equal(size, expect_size);
  double *out = malloc((size_t)(size + 1) * sizeof *out);
  assert_non_null(out);
  assert_ok(tsr_array_to_buffer(*a, out, (size_t)size * sizeof *out));
  tsr_array_destroy(a);
  return out;
}

/* max |X^T Y - I| for X, Y of m x k (row-major). */
static double orthonormal_error(const double *x, int64_t m, int64_t k) {
  double worst = 0;
  for (int64_t i = 0; i < k; i++)
    for (int64_t j = 0; j < k; j++) {
      double s = 0;
      for (int64_t r = 0; r < m; r++)
        s += x[r * k + i] * x[r * k + j];
      worst = fmax(worst, fabs(s - (i == j)));
    }
  return worst;
}

/* max |A - X Y| for X m x k, Y k x n, optionally scaling X's column j by s[j]. */
static double product_error(const double *a, const double *x, const double *s, const double *y,
                            int64_t m, int64_t k, int64_t n) {
  double worst = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double v = 0;
      for (int64_t t = 0; t < k; t++)
        v += x[i * k + t] * (s ? s[t] : 1.0) * y[t * n + j];
      worst = fmax(worst, fabs(v - a[i * n + j]));
    }
  return worst;
}

typedef struct qr_case {
  int64_t m, n, row_chunk, col_chunk;
} qr_case;

static const qr_case qr_cases[] = {
    {50, 4, 7, -1},  /* 8 blocks, one merge */
    {37, 5, -1, -1}, /* one block */
    {300, 3, 5, -1}, /* 60 blocks: a tree of two levels */
    {6, 10, 2, -1},  /* wide: every block and R is short */
    {10, 3, 3, 2},   /* column chunks: rechunked */
    {12, 12, 5, 5},  /* square */
    {0, 3, -1, -1},  /* empty */
};

static void test_linalg_qr__tsqr_matches_definition(void **state) {
  tsr_ctx *ctx = *state;
  for (size_t c = 0; c < sizeof qr_cases / sizeof qr_cases[0]; c++) {
    qr_case q = qr_cases[c];
    int64_t kk = q.m < q.n ? q.m : q.n;
    double *a = random_matrix(q.m, q.n), *q0 = NULL, *r0 = NULL;
    int64_t shape[2] = {q.m, q.n}, chunks[2] = {q.row_chunk, q.col_chunk};
    for (int config = 0; config < 4; config++) {
      configure(ctx, config);
      tsr_array *x = from(ctx, a, 2, shape, chunks), *qa = NULL, *ra = NULL;
      assert_ok(tsr_qr(x, &qa, &ra));
      tsr_array_destroy(&x);
      assert_int_equal(tsr_array_ndim(qa), 2);
      assert_int_equal(tsr_array_shape(qa)[1], kk);
      assert_int_equal(tsr_array_shape(ra)[0], kk);
      assert_int_equal(tsr_array_shape(ra)[1], q.n);
      double *qv = compute(&qa, q.m * kk), *rv = compute(&ra, kk * q.n);
      if (config == 0) {
        assert_true(orthonormal_error(qv, q.m, kk) < 1e-13);
        assert_true(product_error(a, qv, NULL, rv, q.m, kk, q.n) < 1e-13);
        for (int64_t i = 0; i < kk; i++) {
          assert_true(rv[i * q.n + i] >= 0);
          for (int64_t j = 0; j < i; j++)
            assert_true(rv[i * q.n + j] == 0);
        }
        q0 = qv;
        r0 = rv;
      } else { /* bitwise the same at any thread count */
        assert_memory_equal(qv, q0, (size_t)(q.m * kk) * sizeof *qv);
        assert_memory_equal(rv, r0, (size_t)(kk * q.n) * sizeof *rv);
        free(qv);
        free(rv);
      }
    }
    /* Another chunking: R is unique (full rank, signs normalized). */
    if (q.m >= q.n && q.m > 0) {
      int64_t whole[2] = {-1, -1};
      tsr_array *x = from(ctx, a, 2, shape, whole), *ra = NULL;
      assert_ok(tsr_qr(x, NULL, &ra));
      tsr_array_destroy(&x);
      double *rv = compute(&ra, kk * q.n);
      for (int64_t i = 0; i < kk * q.n; i++)
        assert_true(fabs(rv[i] - r0[i]) < 1e-12);
      free(rv);
    }
    free(q0);
    free(r0);
    free(a);
  }
  /* An integer matrix is factored in float64. */
  int32_t ints[12] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8};
  double dbl[12];
  for (int i = 0; i < 12; i++)
    dbl[i] = ints[i];
  tsr_array *x = NULL, *qa = NULL, *ra = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT32, 2, (int64_t[]){6, 2}, (int64_t[]){4, 1}, ints,
                                  TSR_BUFFER_BORROW, NULL, NULL, &x));
  assert_ok(tsr_qr(x, &qa, &ra));
  tsr_array_destroy(&x);
  double *qv = compute(&qa, 12), *rv = compute(&ra, 4);
  assert_true(product_error(dbl, qv, NULL, rv, 6, 2, 2) < 1e-12);
  free(qv);
  free(rv);
}

/* Eigenvalues of the symmetric n x n s (overwritten) by cyclic Jacobi
 * rotations, into ev (ascending). */
static void jacobi_eigenvalues(double *s, int64_t n, double *ev) {
  for (int sweep = 0; sweep < 100; sweep++) {
    double off = 0;
    for (int64_t p = 0; p < n; p++)
      for (int64_t q = p + 1; q < n; q++)
        off += s[p * n + q] * s[p * n + q];
    if (off < 1e-30)
      break;
    for (int64_t p = 0; p < n; p++)
      for (int64_t q = p + 1; q < n; q++) {
        if (s[p * n + q] == 0)
          continue;
        double theta = (s[q * n + q] - s[p * n + p]) / (2 * s[p * n + q]);
        double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
        double cs = 1 / sqrt(t * t + 1), sn = t * cs;
        for (int64_t k = 0; k < n; k++) { /* columns p, q */
          double xp = s[k * n + p], xq = s[k * n + q];
          s[k * n + p] = cs * xp - sn * xq;
          s[k * n + q] = sn * xp + cs * xq;
        }
        for (int64_t k = 0; k < n; k++) { /* rows p, q */
          double xp = s[p * n + k], xq = s[q * n + k];
          s[p * n + k] = cs * xp - sn * xq;
          s[q * n + k] = sn * xp + cs * xq;
        }
      }
  }
  for (int64_t i = 0; i < n; i++)
    ev[i] = s[i * n + i];
  for (int64_t i = 1; i < n; i++) /* insertion sort */
    for (int64_t j = i; j > 0 && ev[j - 1] > ev[j]; j--) {
      double t = ev[j];
      ev[j] = ev[j - 1];
      ev[j - 1] = t;
    }
}

static void test_linalg_qr__svd_matches_definition(void **state) {
  tsr_ctx *ctx = *state;
  static const qr_case cases[] = {{60, 5, 7, -1}, {40, 3, -1, -1}, {200, 4, 9, 2}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    qr_case q = cases[c];
    int64_t m = q.m, n = q.n;
    double *a = random_matrix(m, n), *u0 = NULL, *s0 = NULL, *vt0 = NULL;
    int64_t shape[2] = {m, n}, chunks[2] = {q.row_chunk, q.col_chunk};
    for (int config = 0; config < 4; config++) {
      configure(ctx, config);
      tsr_array *x = from(ctx, a, 2, shape, chunks), *u = NULL, *s = NULL, *vt = NULL;
      assert_ok(tsr_svd(x, &u, &s, &vt));
      tsr_array_destroy(&x);
      double *uv = compute(&u, m * n), *sv = compute(&s, n), *vv = compute(&vt, n * n);
      if (config == 0) {
        assert_true(orthonormal_error(uv, m, n) < 1e-13);
        double *v = malloc((size_t)(n * n) * sizeof *v); /* V = Vt^T */
        for (int64_t i = 0; i < n; i++)
          for (int64_t j = 0; j < n; j++)
            v[i * n + j] = vv[j * n + i];
        assert_true(orthonormal_error(v, n, n) < 1e-13);
        free(v);
        assert_true(product_error(a, uv, sv, vv, m, n, n) < 1e-13);
        /* S descending, S^2 the eigenvalues of A^T A. */
        double *ata = calloc((size_t)(n * n), sizeof *ata), *ev = malloc((size_t)n * sizeof *ev);
        for (int64_t i = 0; i < n; i++)
          for (int64_t j = 0; j < n; j++)
            for (int64_t r = 0; r < m; r++)
              ata[i * n + j] += a[r * n + i] * a[r * n + j];
        jacobi_eigenvalues(ata, n, ev);
        for (int64_t i = 0; i < n; i++) {
          if (i > 0)
            assert_true(sv[i] <= sv[i - 1]);
          assert_true(sv[i] >= 0);
          assert_true(fabs(sv[i] - sqrt(ev[n - 1 - i])) < 1e-12 * (1 + sv[0]));
        }
        free(ata);
        free(ev);
        u0 = uv;
        s0 = sv;
        vt0 = vv;
      } else {
        assert_memory_equal(uv, u0, (size_t)(m * n) * sizeof *uv);
        assert_memory_equal(sv, s0, (size_t)n * sizeof *sv);
        assert_memory_equal(vv, vt0, (size_t)(n * n) * sizeof *vv);
        free(uv);
        free(sv);
        free(vv);
      }
    }
    free(u0);
    free(s0);
    free(vt0);
    free(a);
  }
}

static void test_linalg_qr__lstsq_normal_equations(void **state) {
  tsr_ctx *ctx = *state;
  int64_t m = 90, n = 4, k = 3;
  double *a = random_matrix(m, n), *b = random_matrix(m, k);
  int64_t ashape[2] = {m, n}, achunks[2] = {11, -1}, bshape[2] = {m, k}, bchunks[2] = {13, 2};
  for (int vec = 0; vec < 2; vec++) {
    int64_t nrhs = vec ? 1 : k;
    double *bcol = NULL;
    if (vec) { /* b's first column as a vector */
      bcol = malloc((size_t)m * sizeof *bcol);
      for (int64_t i = 0; i < m; i++)
        bcol[i] = b[i * k];
    }
    double *x0 = NULL;
    for (int config = 0; config < 4; config++) {
      configure(ctx, config);
      tsr_array *x = from(ctx, a, 2, ashape, achunks), *y = NULL, *sol = NULL;
      y = vec ? from(ctx, bcol, 1, &m, (int64_t[]){17}) : from(ctx, b, 2, bshape, bchunks);
      assert_ok(tsr_lstsq(x, y, &sol));
      assert_int_equal(tsr_array_ndim(sol), vec ? 1 : 2);
      tsr_array_destroy(&x);
      tsr_array_destroy(&y);
      double *xv = compute(&sol, n * nrhs);
      if (config == 0) {
        /* A^T (A x - b) = 0, column by column. */
        for (int64_t col = 0; col < nrhs; col++)
          for (int64_t j = 0; j < n; j++) {
            double g = 0;
            for (int64_t i = 0; i < m; i++) {
              double ax = 0;
              for (int64_t t = 0; t < n; t++)
                ax += a[i * n + t] * xv[t * nrhs + col];
              g += a[i * n + j] * (ax - (vec ? bcol[i] : b[i * k + col]));
            }
            assert_true(fabs(g) < 1e-12);
          }
        x0 = xv;
      } else {
        assert_memory_equal(xv, x0, (size_t)(n * nrhs) * sizeof *xv);
        free(xv);
      }
    }
    free(x0);
    free(bcol);
  }
  /* A repeated column: rank deficient, found when computing. */
  for (int64_t i = 0; i < m; i++)
    a[i * n + 2] = a[i * n + 1];
  tsr_array *x = from(ctx, a, 2, ashape, achunks), *y = from(ctx, b, 2, bshape, bchunks);
  tsr_array *sol = NULL;
  assert_ok(tsr_lstsq(x, y, &sol));
  double *out = malloc((size_t)(n * k) * sizeof *out);
  assert_fails(tsr_array_to_buffer(sol, out, (size_t)(n * k) * sizeof *out), TSR_EINVAL,
               "a is rank deficient");
  free(out);
  tsr_array_destroy(&sol);
  /* Shapes: wide a, b with other rows, 3-d a. */
  tsr_array *wide = NULL, *cube = NULL;
  assert_ok(tsr_transpose(x, NULL, &wide));
  assert_fails(tsr_lstsq(wide, y, &sol), TSR_ESHAPE, "does not match a");
  tsr_array *yt = NULL;
  assert_ok(tsr_array_full(ctx, TSR_FLOAT64, 1, &n, NULL, 1.0, &yt));
  assert_fails(tsr_lstsq(wide, yt, &sol), TSR_ENOTSUP, "fewer rows than columns");
  assert_ok(tsr_array_full(ctx, TSR_FLOAT64, 3, (int64_t[]){2, 2, 2}, NULL, 1.0, &cube));
  assert_fails(tsr_lstsq(cube, y, &sol), TSR_EINVAL, "a has 3 dimensions");
  assert_fails(tsr_qr(cube, &sol, NULL), TSR_EINVAL, "tsr_qr: a has 3 dimensions");
  assert_null(sol);
  tsr_array_destroy(&yt);
  tsr_array_destroy(&cube);
  tsr_array_destroy(&wide);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  free(a);
  free(b);
}

static void test_linalg_qr__solve_inv_cholesky(void **state) {
  tsr_ctx *ctx = *state;
  int64_t n = 24, k = 5;
  double *a = random_matrix(n, n), *b = random_matrix(n, k), *spd = calloc((size_t)(n * n), 8);
  for (int64_t i = 0; i < n; i++) /* spd = a a^T + n I */
    for (int64_t j = 0; j < n; j++) {
      for (int64_t t = 0; t < n; t++)
        spd[i * n + j] += a[i * n + t] * a[j * n + t];
      spd[i * n + j] += i == j ? (double)n : 0.0;
    }
  int64_t shape[2] = {n, n}, chunks[2] = {7, 10}, bshape[2] = {n, k}, bchunks[2] = {5, 2};
  double *x0 = NULL, *inv0 = NULL, *l0 = NULL;
  for (int config = 0; config < 4; config++) {
    configure(ctx, config);
    tsr_array *x = from(ctx, a, 2, shape, chunks), *y = from(ctx, b, 2, bshape, bchunks);
    tsr_array *s = from(ctx, spd, 2, shape, chunks), *sol = NULL, *inv = NULL, *l = NULL;
    assert_ok(tsr_solve(x, y, &sol));
    assert_ok(tsr_inv(x, &inv));
    assert_ok(tsr_cholesky(s, &l));
    tsr_array_destroy(&x);
    tsr_array_destroy(&y);
    tsr_array_destroy(&s);
    double *xv = compute(&sol, n * k), *iv = compute(&inv, n * n), *lv = compute(&l, n * n);
    if (config == 0) {
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < k; j++) { /* A x = b */
          double v = 0;
          for (int64_t t = 0; t < n; t++)
            v += a[i * n + t] * xv[t * k + j];
          assert_true(fabs(v - b[i * k + j]) < 1e-11);
        }
      for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) { /* A inv(A) = I; L L^T = spd, L lower */
          double v = 0, w = 0;
          for (int64_t t = 0; t < n; t++) {
            v += a[i * n + t] * iv[t * n + j];
            w += lv[i * n + t] * lv[j * n + t];
          }
          assert_true(fabs(v - (i == j)) < 1e-11);
          assert_true(fabs(w - spd[i * n + j]) < 1e-11);
          if (j > i)
            assert_true(lv[i * n + j] == 0);
          if (j == i)
            assert_true(lv[i * n + j] > 0);
        }
      x0 = xv;
      inv0 = iv;
      l0 = lv;
    } else {
      assert_memory_equal(xv, x0, (size_t)(n * k) * sizeof *xv);
      assert_memory_equal(iv, inv0, (size_t)(n * n) * sizeof *iv);
      assert_memory_equal(lv, l0, (size_t)(n * n) * sizeof *lv);
      free(xv);
      free(iv);
      free(lv);
    }
  }
  /* A vector b gives a vector x equal to the first column's solution. */
  tsr_array *x = from(ctx, a, 2, shape, chunks), *sol = NULL;
  double *bcol = malloc((size_t)n * sizeof *bcol);
  for (int64_t i = 0; i < n; i++)
    bcol[i] = b[i * k];
  tsr_array *y = from(ctx, bcol, 1, &n, (int64_t[]){9});
  assert_ok(tsr_solve(x, y, &sol));
  assert_int_equal(tsr_array_ndim(sol), 1);
  double *xv = compute(&sol, n);
  for (int64_t i = 0; i < n; i++)
    assert_true(fabs(xv[i] - x0[i * k]) < 1e-12);
  free(xv);
  /* Errors: singular, not positive definite, not square, too big. */
  double *sing = malloc((size_t)(n * n) * sizeof *sing);
  memcpy(sing, a, (size_t)(n * n) * sizeof *sing);
  for (int64_t j = 0; j < n; j++)
    sing[3 * n + j] = sing[5 * n + j]; /* two equal rows */
  for (int64_t j = 0; j < n; j++)
    sing[7 * n + j] = 0; /* and a zero row: an exact zero pivot */
  tsr_array *z = from(ctx, sing, 2, shape, chunks), *r = NULL;
  double *out = malloc((size_t)(n * n) * sizeof *out);
  assert_ok(tsr_solve(z, y, &r));
  assert_fails(tsr_array_to_buffer(r, out, (size_t)n * 8), TSR_EINVAL, "tsr_solve: a is singular");
  tsr_array_destroy(&r);
  assert_ok(tsr_inv(z, &r));
  assert_fails(tsr_array_to_buffer(r, out, (size_t)(n * n) * 8), TSR_EINVAL,
               "tsr_inv: a is singular");
  tsr_array_destroy(&r);
  assert_ok(tsr_cholesky(x, &r)); /* a random matrix is not positive definite */
  assert_fails(tsr_array_to_buffer(r, out, (size_t)(n * n) * 8), TSR_EINVAL,
               "tsr_cholesky: a is not positive definite");
  assert_non_null(strstr(tsr_last_error(), "kernel 'cholesky'"));
  tsr_array_destroy(&r);
  tsr_array *rect = NULL;
  assert_ok(tsr_slice(x, 1, (tsr_index[]){TSR_SLICE(0, 5, 1)}, &rect));
  assert_fails(tsr_inv(rect, &r), TSR_ESHAPE, "tsr_inv: a of shape (5, 24) is not a square");
  assert_fails(tsr_solve(x, rect, &r), TSR_ESHAPE, "b of shape (5, 24) does not match a");
  assert_ok(tsr_ctx_set_chunk_bytes(ctx, 1024)); /* 24 x 24 float64 is 4608 bytes */
  assert_fails(tsr_cholesky(x, &r), TSR_ENOTSUP, "a of shape (24, 24)");
  assert_non_null(strstr(tsr_last_error(), "does not fit in one chunk"));
  assert_null(r);
  tsr_array *one = NULL; /* already one chunk: fine whatever the target */
  assert_ok(tsr_rechunk(x, (int64_t[]){-1, -1}, &one));
  assert_ok(tsr_inv(one, &r));
  double *iv = compute(&r, n * n);
  assert_memory_equal(iv, inv0, (size_t)(n * n) * sizeof *iv);
  free(iv);
  tsr_array_destroy(&one);
  tsr_array_destroy(&rect);
  tsr_array_destroy(&z);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  free(out);
  free(sing);
  free(bcol);
  free(x0);
  free(inv0);
  free(l0);
  free(a);
  free(b);
  free(spd);
}

/* The eval functions give the C calls' results (tuples for qr and svd). */
static void test_linalg_qr__eval_functions(void **state) {
  tsr_ctx *ctx = *state;
  int64_t m = 30, n = 3, shape[2] = {m, n}, chunks[2] = {8, -1};
  double *a = random_matrix(m, n), *b = random_matrix(m, 1);
  tsr_array *x = from(ctx, a, 2, shape, chunks), *y = from(ctx, b, 1, &m, (int64_t[]){8});
  tsr_array *sq = NULL, *spd = NULL, *xt = NULL, *c3 = NULL;
  assert_ok(tsr_slice(x, 1, (tsr_index[]){TSR_SLICE(0, 3, 1)}, &sq));
  assert_ok(tsr_transpose(x, NULL, &xt));
  assert_ok(tsr_matmul(xt, x, &spd));
  assert_ok(tsr_slice(y, 1, (tsr_index[]){TSR_SLICE(0, 3, 1)}, &c3));
  static const char *programs[] = {
      "f = qr(a); f[0]",  "f = qr(a); f[1]",  "f = svd(a); f[0]",
      "f = svd(a); f[1]", "f = svd(a); f[2]", "lstsq(a, b)",
      "solve(sq, c3)",    "inv(sq)",          "cholesky(spd)",
  };
  for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
    tsr_array *want = NULL, *parts[3] = {NULL, NULL, NULL};
    switch (i) {
    case 0:
    case 1:
      assert_ok(tsr_qr(x, &parts[0], &parts[1]));
      break;
    case 2:
    case 3:
    case 4:
      assert_ok(tsr_svd(x, &parts[0], &parts[1], &parts[2]));
      break;
    case 5:
      assert_ok(tsr_lstsq(x, y, &parts[0]));
      break;
    case 6:
      assert_ok(tsr_solve(sq, c3, &parts[0]));
      break;
    case 7:
      assert_ok(tsr_inv(sq, &parts[0]));
      break;
    default:
      assert_ok(tsr_cholesky(spd, &parts[0]));
      break;
    }
    size_t pick = i < 2 ? i : i < 5 ? i - 2 : 0;
    want = parts[pick];
    parts[pick] = NULL; /* compute() destroys it */
    tsr_program *p = NULL;
    tsr_array *got = NULL;
    assert_ok(tsr_program_parse(ctx, programs[i], &p));
    assert_ok(tsr_program_bind(p, "a", x));
    assert_ok(tsr_program_bind(p, "b", y));
    assert_ok(tsr_program_bind(p, "sq", sq));
    assert_ok(tsr_program_bind(p, "c3", c3));
    assert_ok(tsr_program_bind(p, "spd", spd));
    assert_ok(tsr_program_run(p, &got));
    tsr_program_destroy(&p);
    int64_t size = 1;
    for (int d = 0; d < tsr_array_ndim(want); d++) {
      assert_int_equal(tsr_array_shape(got)[d], tsr_array_shape(want)[d]);
      size *= tsr_array_shape(want)[d];
    }
    assert_int_equal(tsr_array_ndim(got), tsr_array_ndim(want));
    double *gv = compute(&got, size), *wv = compute(&want, size);
    assert_memory_equal(gv, wv, (size_t)size * sizeof *gv);
    free(gv);
    free(wv);
    for (int j = 0; j < 3; j++)
      tsr_array_destroy(&parts[j]);
  }
  tsr_array_destroy(&sq);
  tsr_array_destroy(&spd);
  tsr_array_destroy(&xt);
  tsr_array_destroy(&c3);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  free(a);
  free(b);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_linalg_qr__tsqr_matches_definition, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg_qr__svd_matches_definition, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg_qr__lstsq_normal_equations, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg_qr__solve_inv_cholesky, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_linalg_qr__eval_functions, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
