/* linalg_small.c — solve, inv and cholesky of a square matrix that fits in
 * one chunk, through LAPACKE (NumPy's np.linalg.solve, inv, cholesky).
 *
 * The matrix is rechunked into one chunk (it must hold at most the
 * context's chunk bytes, or already be one chunk: else TSR_ENOTSUP naming
 * it) and factored by one task running LAPACK single-threaded, so results
 * are bitwise identical for any number of threads.  solve factors a once
 * (dgetrf) and solves each column chunk of b with it (dgetrs).  A singular
 * a (an exactly zero pivot, as NumPy) or one that is not positive definite
 * (cholesky) fails the compute with TSR_EINVAL naming a.
 *
 * LAPACK is column-major: a row-major chunk is a^T to it.  solve factors
 * a^T and solves with its transpose ('T'); inv inverts a^T, whose inverse
 * read row-major is inv(a); cholesky's upper factor U of a^T = a (a
 * symmetric: the lower triangle of a is read, as NumPy does) read row-major
 * is L = U^T with a = L L^T. */
#include <stdio.h>
#include <string.h>

#include <lapacke.h>

#include "linalg_impl.h"

/* ---- kernels -------------------------------------------------------------- */

static tsr_status singular(const char *fn, lapack_int info) {
  return tsr_error_set(TSR_EINVAL,
                       "%s: a is singular (pivot U[%d, %d] of its LU factorization is exactly 0)",
                       fn, (int)info - 1, (int)info - 1);
}

/* a (n x n) -> [LU of a^T (n x n) | pivots (n lapack_int)]. */
static tsr_status lu_kernel(const tsr_kernel_call *call) {
  int64_t n = *(const int64_t *)call->params;
  if (n == 0)
    return TSR_OK;
  double *lu = call->output;
  lapack_int *ipiv = (lapack_int *)(lu + n * n);
  memcpy(lu, call->inputs[0], (size_t)(n * n) * sizeof(double));
  tsr__blas_enter();
  lapack_int info =
      LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)n, lu, (lapack_int)n, ipiv);
  tsr__blas_leave();
  if (info > 0)
    return singular("tsr_solve", info);
  if (info < 0)
    return tsr_error_set(TSR_EINTERNAL, "tsr_solve: LAPACK dgetrf failed (info %d)", (int)info);
  return TSR_OK;
}

/* inputs: the LU node's output and a chunk of b (n x nrhs, or n). */
static tsr_status solve_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const int64_t *p = call->params;
  int64_t n = p[0], nrhs = p[1];
  if (n == 0 || nrhs == 0)
    return TSR_OK;
  const double *lu = call->inputs[0];
  const lapack_int *ipiv = (const lapack_int *)(lu + n * n);
  const double *b = call->inputs[1];
  double *x = call->output, *t = x;
  if (nrhs > 1) /* column-major b */
    TSR_TRY(tsr_kernel_alloc(ctx, (size_t)(n * nrhs) * sizeof(double), (void **)&t));
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < nrhs; j++)
      t[j * n + i] = b[i * nrhs + j];
  tsr__blas_enter();
  lapack_int info = LAPACKE_dgetrs_work(LAPACK_COL_MAJOR, 'T', (lapack_int)n, (lapack_int)nrhs, lu,
                                        (lapack_int)n, ipiv, t, (lapack_int)n);
  tsr__blas_leave();
  if (nrhs > 1) {
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < nrhs; j++)
        x[i * nrhs + j] = t[j * n + i];
    tsr_free(ctx, t);
  }
  if (info != 0)
    return tsr_error_set(TSR_EINTERNAL, "tsr_solve: LAPACK dgetrs failed (info %d)", (int)info);
  return TSR_OK;
}

static tsr_status inv_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  int64_t n = *(const int64_t *)call->params;
  if (n == 0)
    return TSR_OK;
  double *x = call->output, query = 0, *work = NULL;
  memcpy(x, call->inputs[0], (size_t)(n * n) * sizeof(double));
  lapack_int info =
      LAPACKE_dgetri_work(LAPACK_COL_MAJOR, (lapack_int)n, NULL, (lapack_int)n, NULL, &query, -1);
  int64_t lwork = info == 0 && (int64_t)query > n ? (int64_t)query : n;
  TSR_TRY(tsr_kernel_alloc(ctx, (size_t)lwork * sizeof(double) + (size_t)n * sizeof(lapack_int),
                           (void **)&work));
  lapack_int *ipiv = (lapack_int *)(work + lwork);
  tsr__blas_enter();
  info =
      LAPACKE_dgetrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)n, x, (lapack_int)n, ipiv);
  if (info == 0)
    info = LAPACKE_dgetri_work(LAPACK_COL_MAJOR, (lapack_int)n, x, (lapack_int)n, ipiv, work,
                               (lapack_int)lwork);
  tsr__blas_leave();
  tsr_free(ctx, work);
  if (info > 0)
    return singular("tsr_inv", info);
  if (info < 0)
    return tsr_error_set(TSR_EINTERNAL, "tsr_inv: LAPACK dgetrf/dgetri failed (info %d)",
                         (int)info);
  return TSR_OK;
}

static tsr_status cholesky_kernel(const tsr_kernel_call *call) {
  int64_t n = *(const int64_t *)call->params;
  if (n == 0)
    return TSR_OK;
  double *l = call->output;
  memcpy(l, call->inputs[0], (size_t)(n * n) * sizeof(double));
  tsr__blas_enter();
  lapack_int info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'U', (lapack_int)n, l, (lapack_int)n);
  tsr__blas_leave();
  if (info > 0)
    return tsr_error_set(TSR_EINVAL,
                         "tsr_cholesky: a is not positive definite (its leading minor of order "
                         "%d is not)",
                         (int)info);
  if (info < 0)
    return tsr_error_set(TSR_EINTERNAL, "tsr_cholesky: LAPACK dpotrf failed (info %d)", (int)info);
  for (int64_t i = 0; i < n; i++) /* L's upper triangle is 0 */
    memset(l + i * n + i + 1, 0, (size_t)(n - i - 1) * sizeof(double));
  return TSR_OK;
}

/* ---- nodes ---------------------------------------------------------------- */

/* One task per chunk of e, reading a's single chunk (or the LU node's) and
 * chunk c of b (solve: b's column chunks); params {n, columns of the
 * chunk}.  The LU node has one chunk: [LU | pivots]. */
typedef struct small_params {
  const char *kernel;
  tsr_kernel_fn fn;
} small_params;

static tsr_status lower_small(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                              uint32_t *out) {
  const small_params *sp = e->params;
  const tsr_chunk_grid *og = e->grid;
  bool lu = sp->fn == lu_kernel, has_b = e->n_inputs == 2;
  int64_t n = lu ? e->inputs[0]->grid->shape[0] : og->shape[0];
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, sp->kernel, sp->fn, e->ctx, &k));
  for (int64_t c = 0; c < og->total_chunks; c++) {
    int64_t cols = og->ndim == 2 ? tsr__grid_extent(og, 1, c) : 1;
    int64_t p[2] = {n, cols};
    uint32_t ids[2] = {in[0][0], has_b ? in[1][c] : 0};
    size_t bytes =
        lu ? (size_t)(n * n) * 8 + (size_t)n * sizeof(lapack_int) : (size_t)(n * cols) * 8;
    TSR_TRY(tsr_taskgraph_add_task(g, k, ids, has_b ? 2 : 1, p, sizeof p, bytes, &out[c]));
  }
  return TSR_OK;
}

static void hash_small(const tsr__expr *e, tsr__hash *h) {
  const small_params *sp = e->params;
  tsr__hash_str(h, sp->kernel);
}

static const tsr__op op_small = {"linalg-small", lower_small, NULL, false, NULL, hash_small};

/* a checked (2-d, square, fits one chunk), as float64 in one chunk. */
static tsr_status square_whole(const char *fn, tsr_array *a, tsr_array **out) {
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  const tsr_chunk_grid *g = a->expr->grid;
  char s1[TSR__SHAPE_STR_BYTES];
  TSR_CHECK(g->ndim == 2 && g->shape[0] == g->shape[1], TSR_ESHAPE,
            "%s: a of shape %s is not a square matrix (stacked matrices are not supported)", fn,
            tsr__format_shape(s1, sizeof s1, g->ndim, g->shape));
  int64_t n = g->shape[0];
  uint64_t target = tsr_ctx_chunk_bytes(a->expr->ctx);
  double bytes = (double)n * (double)n * 8.0;
  TSR_CHECK(g->total_chunks == 1 || bytes <= (double)target, TSR_ENOTSUP,
            "%s: a of shape %s (%.0f bytes as float64) does not fit in one chunk (the chunk "
            "target is %llu bytes): %s works on matrices of one chunk (raise the chunk target "
            "with tsr_ctx_set_chunk_bytes)",
            fn, tsr__format_shape(s1, sizeof s1, g->ndim, g->shape), bytes,
            (unsigned long long)target, fn);
  TSR_CHECK(n <= 46340, TSR_ENOTSUP, "%s: a of shape %s exceeds LAPACK's int", fn,
            tsr__format_shape(s1, sizeof s1, g->ndim, g->shape));
  tsr_array *f = NULL, *w = NULL;
  TSR_TRY(tsr__linalg_float64(a, &f));
  tsr_status s = tsr__linalg_whole_axis(f, 0, &w);
  tsr_array_destroy(&f);
  TSR_TRY(s);
  s = tsr__linalg_whole_axis(w, 1, out);
  tsr_array_destroy(&w);
  return s;
}

/* A node of `kernel` over inputs, with grid `grid` (taken). */
static tsr_status small_node(tsr_ctx *ctx, const char *kernel, tsr_kernel_fn fn,
                             tsr_chunk_grid *grid, uint32_t n, tsr__expr *const *inputs,
                             tsr__expr **out) {
  small_params *p = NULL;
  tsr_status s = tsr_alloc(ctx, sizeof *p, (void **)&p);
  if (s != TSR_OK) {
    tsr_chunk_grid_destroy(&grid);
    return s;
  }
  *p = (small_params){kernel, fn};
  return tsr__expr_create(ctx, &op_small, TSR_FLOAT64, grid, n, inputs, p, out);
}

/* inv and cholesky: one task on a's single chunk, the result in a's grid. */
static tsr_status unary_small(const char *fn, const char *kernel, tsr_kernel_fn kfn, tsr_array *a,
                              tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  tsr_array *w = NULL;
  TSR_TRY(square_whole(fn, a, &w));
  tsr_chunk_grid *grid = NULL;
  tsr__expr *e = NULL;
  tsr_status s = tsr__grid_copy(w->expr->ctx, w->expr->grid, &grid);
  if (s == TSR_OK)
    s = small_node(w->expr->ctx, kernel, kfn, grid, 1, &w->expr, &e);
  tsr_array_destroy(&w);
  TSR_TRY(s);
  return tsr__array_wrap(e, out);
}

tsr_status tsr_inv(tsr_array *a, tsr_array **out) {
  return unary_small("tsr_inv", "inv", inv_kernel, a, out);
}

tsr_status tsr_cholesky(tsr_array *a, tsr_array **out) {
  return unary_small("tsr_cholesky", "cholesky", cholesky_kernel, a, out);
}

tsr_status tsr_solve(tsr_array *a, tsr_array *b, tsr_array **x) {
  static const char fn[] = "tsr_solve";
  TSR_CHECK(x != NULL, TSR_EINVAL, "%s: x is NULL", fn);
  *x = NULL;
  TSR_CHECK(b != NULL, TSR_EINVAL, "%s: b is NULL", fn);
  tsr_array *w = NULL, *b64 = NULL, *bw = NULL;
  TSR_TRY(square_whole(fn, a, &w));
  tsr_ctx *ctx = w->expr->ctx;
  const tsr_chunk_grid *bg = b->expr->grid;
  int64_t n = w->expr->grid->shape[0];
  char s1[TSR__SHAPE_STR_BYTES], s2[TSR__SHAPE_STR_BYTES];
  tsr_status s = TSR_OK;
  tsr__expr *lu = NULL, *e = NULL;
  tsr_chunk_grid *grid = NULL;
  TSR__CHECK_GOTO(s, b->expr->ctx == ctx, TSR_EINVAL, "%s: a and b belong to different contexts",
                  fn);
  TSR__CHECK_GOTO(s, (bg->ndim == 1 || bg->ndim == 2) && bg->shape[0] == n, TSR_ESHAPE,
                  "%s: b of shape %s does not match a of shape %s: b must be 1-d or 2-d with as "
                  "many rows as a",
                  fn, tsr__format_shape(s1, sizeof s1, bg->ndim, bg->shape),
                  tsr__format_shape(s2, sizeof s2, 2, w->expr->grid->shape));
  TSR__TRY_GOTO(s, tsr__linalg_float64(b, &b64));
  TSR__TRY_GOTO(s, tsr__linalg_whole_axis(b64, 0, &bw));
  int64_t one = 1;
  TSR__TRY_GOTO(s, tsr_chunk_grid_create_uniform(ctx, 1, &one, &one, &grid));
  TSR__TRY_GOTO(s, small_node(ctx, "solve-lu", lu_kernel, grid, 1, &w->expr, &lu));
  grid = NULL;
  TSR__TRY_GOTO(s, tsr__grid_copy(ctx, bw->expr->grid, &grid));
  tsr__expr *inputs[2] = {lu, bw->expr};
  s = small_node(ctx, "solve", solve_kernel, grid, 2, inputs, &e);
  grid = NULL;
  if (s == TSR_OK)
    s = tsr__array_wrap(e, x);
fail:
  tsr_chunk_grid_destroy(&grid);
  tsr__expr_release(&lu);
  tsr_array_destroy(&w);
  tsr_array_destroy(&b64);
  tsr_array_destroy(&bw);
  return s;
}
