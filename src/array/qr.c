/* qr.c — tall-and-skinny QR (TSQR) of a chunked matrix, and the SVD and
 * least squares built on it, through LAPACKE (as dask.array.linalg.tsqr,
 * svd and lstsq).
 *
 * A (m x n) is taken with one chunk along its columns (rechunked when it
 * has more) and its row chunks as they are.  Up pass: each row block i is
 * factored, A_i = Q_i R_i (dgeqrf + dorgqr, k_i = min(m_i, n)); groups of
 * up to FANIN consecutive nodes stack their R factors and factor that
 * again, level after level, until one node, the root, whose R is the
 * result's R (K x n, K = min(m, n): NumPy's "reduced" mode).  Down pass:
 * a node's share of Q is its own Q times the rows of its parent's share
 * that belong to it (one dgemm), from the root's Q down to the leaves,
 * whose shares are Q's row blocks.  The tree depends only on the number of
 * row chunks and every task runs LAPACK single-threaded, so results are
 * bitwise identical for any number of threads.
 *
 * Signs: every node's R is made to have a non-negative diagonal (rows of R
 * and columns of Q negated together), so the result is unique for a matrix
 * of full column rank.  NumPy does not normalize (its signs are LAPACK's).
 *
 * SVD: the SVD of the small R (dgesdd), R = U_r S V^T, gives A = (Q U_r)
 * S V^T; U = Q @ U_r is a lazy matmul.  Least squares: x = R^-1 (Q^T b),
 * Q^T b a lazy matmul and the triangular solve one small task.
 *
 * Every task output of the internal nodes is [Q (rows x k) | R (k x n)],
 * row-major float64: the results read their parts through copy tasks. */
#include <limits.h>
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "linalg_impl.h"

enum { FANIN = 16 }; /* R factors stacked per node of the tree */

/* ---- shared small nodes ------------------------------------------------- */

tsr_status tsr__linalg_node(tsr_ctx *ctx, const tsr__op *op, int64_t nchunks, uint32_t n,
                            tsr__expr *const *inputs, void *params, tsr__expr **out) {
  tsr_chunk_grid *grid = NULL;
  int64_t one = 1;
  tsr_status s = tsr_chunk_grid_create_uniform(ctx, 1, &nchunks, &one, &grid);
  if (s != TSR_OK) {
    tsr_free(ctx, params);
    return s;
  }
  return tsr__expr_create(ctx, op, TSR_FLOAT64, grid, n, inputs, params, out);
}

typedef struct part_params {
  int64_t chunk, offset;
} part_params;

static tsr_status part_kernel(const tsr_kernel_call *call) {
  const part_params *p = call->params;
  if (call->output_bytes > 0)
    memcpy(call->output, (const double *)call->inputs[0] + p->offset, call->output_bytes);
  return TSR_OK;
}

static tsr_status lower_part(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  const part_params *p = e->params;
  uint32_t k;
  int64_t n = 1;
  for (int d = 0; d < e->grid->ndim; d++)
    n *= e->grid->shape[d];
  TSR_TRY(tsr_taskgraph_add_kernel(g, "linalg-part", part_kernel, NULL, &k));
  return tsr_taskgraph_add_task(g, k, &in[0][p->chunk], 1, p, sizeof *p, (size_t)n * 8, &out[0]);
}

static void hash_part(const tsr__expr *e, tsr__hash *h) {
  const part_params *p = e->params;
  tsr__hash_u64(h, (uint64_t)p->chunk);
  tsr__hash_u64(h, (uint64_t)p->offset);
}

static const tsr__op op_part = {"linalg-part", lower_part, NULL, false, NULL, hash_part};

tsr_status tsr__linalg_part(tsr__expr *from, int64_t chunk, int64_t offset, int ndim,
                            const int64_t *shape, tsr_array **out) {
  tsr_ctx *ctx = from->ctx;
  int64_t whole[TSR_MAX_NDIM];
  for (int d = 0; d < ndim; d++)
    whole[d] = shape[d] > 0 ? shape[d] : 1;
  tsr_chunk_grid *grid = NULL;
  part_params *p = NULL;
  TSR_TRY(tsr_chunk_grid_create_uniform(ctx, ndim, shape, whole, &grid));
  tsr_status s = tsr_alloc(ctx, sizeof *p, (void **)&p);
  if (s != TSR_OK) {
    tsr_chunk_grid_destroy(&grid);
    return s;
  }
  *p = (part_params){chunk, offset};
  tsr__expr *e = NULL;
  TSR_TRY(tsr__expr_create(ctx, &op_part, TSR_FLOAT64, grid, 1, &from, p, &e));
  return tsr__array_wrap(e, out);
}

tsr_status tsr__linalg_float64(tsr_array *a, tsr_array **out) {
  if (a->expr->dtype != TSR_FLOAT64)
    return tsr_astype(a, TSR_FLOAT64, out);
  tsr__expr_retain(a->expr);
  return tsr__array_wrap(a->expr, out);
}

tsr_status tsr__linalg_whole_axis(tsr_array *a, int axis, tsr_array **out) {
  const tsr_chunk_grid *g = a->expr->grid;
  if (g->nchunks[axis] == 1) {
    tsr__expr_retain(a->expr);
    return tsr__array_wrap(a->expr, out);
  }
  tsr__grid_axis axes[TSR_MAX_NDIM];
  int64_t whole[2] = {0, g->shape[axis]};
  for (int d = 0; d < g->ndim; d++)
    axes[d] = d == axis ? (tsr__grid_axis){NULL, 0, whole, 1} : (tsr__grid_axis){g, d, NULL, 0};
  tsr_chunk_grid *grid = NULL;
  TSR_TRY(tsr__grid_from_axes(a->expr->ctx, g->ndim, axes, &grid));
  tsr_status s = tsr_rechunk_grid(a, grid, out);
  tsr_chunk_grid_destroy(&grid);
  return s;
}

/* ---- kernels ------------------------------------------------------------ */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Up pass: factors the stack of its inputs' matrices.  Parameters: n, the
 * number of inputs, then per input its rows and the element offset of its
 * matrix in the input buffer (0 for a row block of A; a child's R follows
 * its Q).  Output [Q (rows x k) | R (k x n)], R's diagonal >= 0. */
typedef struct up_params {
  int64_t n, nin;
  int64_t parts[]; /* rows, offset per input */
} up_params;

static tsr_status up_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const up_params *p = call->params;
  int64_t n = p->n, rows = 0;
  for (int64_t j = 0; j < p->nin; j++)
    rows += p->parts[2 * j];
  int64_t k = min64(rows, n);
  if (k == 0)
    return TSR_OK;
  double *q = call->output, *r = q + rows * k;
  /* LAPACK's column-major copy of the stack (lda = rows), tau, work. */
  double query = 0, query2 = 0, *a = NULL;
  lapack_int info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)rows, (lapack_int)n, NULL,
                                        (lapack_int)rows, NULL, &query, -1);
  if (info == 0)
    info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, (lapack_int)rows, (lapack_int)k, (lapack_int)k,
                               NULL, (lapack_int)rows, NULL, &query2, -1);
  if (info != 0)
    return tsr_error_set(TSR_EINTERNAL, "qr: LAPACK workspace query failed (info %d)", (int)info);
  int64_t lwork = (int64_t)(query > query2 ? query : query2);
  if (lwork < 1)
    lwork = 1;
  TSR_TRY(tsr_kernel_alloc(ctx, (size_t)(rows * n + k + lwork) * sizeof(double), (void **)&a));
  double *tau = a + rows * n, *work = tau + k;
  int64_t r0 = 0;
  for (int64_t j = 0; j < p->nin; j++) {
    int64_t mj = p->parts[2 * j];
    const double *src = (const double *)call->inputs[j] + p->parts[2 * j + 1];
    for (int64_t i = 0; i < mj; i++)
      for (int64_t c = 0; c < n; c++)
        a[c * rows + r0 + i] = src[i * n + c];
    r0 += mj;
  }
  tsr__blas_enter();
  info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)rows, (lapack_int)n, a, (lapack_int)rows,
                             tau, work, (lapack_int)lwork);
  if (info == 0) {
    for (int64_t i = 0; i < k; i++)
      for (int64_t c = 0; c < n; c++)
        r[i * n + c] = c >= i ? a[c * rows + i] : 0.0;
    info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, (lapack_int)rows, (lapack_int)k, (lapack_int)k, a,
                               (lapack_int)rows, tau, work, (lapack_int)lwork);
  }
  tsr__blas_leave();
  if (info != 0) {
    tsr_free(ctx, a);
    return tsr_error_set(TSR_EINTERNAL, "qr: LAPACK dgeqrf/dorgqr failed (info %d)", (int)info);
  }
  for (int64_t i = 0; i < rows; i++)
    for (int64_t c = 0; c < k; c++)
      q[i * k + c] = a[c * rows + i];
  tsr_free(ctx, a);
  for (int64_t c = 0; c < k; c++) /* R's diagonal non-negative */
    if (r[c * n + c] < 0) {
      for (int64_t j = c; j < n; j++)
        r[c * n + j] = -r[c * n + j];
      for (int64_t i = 0; i < rows; i++)
        q[i * k + c] = -q[i * k + c];
    }
  return TSR_OK;
}

/* Down pass: output (rows x K) = Q (input 0 at offset 0, rows x k) times
 * rows [rowoff, rowoff + k) of the parent's share (input 1, K columns). */
typedef struct down_params {
  int64_t rows, k, kk, rowoff;
} down_params;

static tsr_status down_kernel(const tsr_kernel_call *call) {
  const down_params *p = call->params;
  if (p->rows == 0 || p->kk == 0)
    return TSR_OK;
  const double *parent = (const double *)call->inputs[1] + p->rowoff * p->kk;
  tsr__blas_enter();
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)p->rows, (blasint)p->kk,
              (blasint)p->k, 1.0, call->inputs[0], (blasint)(p->k > 0 ? p->k : 1), parent,
              (blasint)p->kk, 0.0, call->output, (blasint)p->kk);
  tsr__blas_leave();
  return TSR_OK;
}

/* ---- the TSQR node ------------------------------------------------------ */

/* Chunks 0 .. nb-1: Q's row blocks (rows x K); chunk nb: the root's
 * [Q | R].  Input: A in float64 with one column chunk. */
static tsr_status lower_tsqr(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  const tsr_chunk_grid *ag = e->inputs[0]->grid;
  int64_t nb = ag->nchunks[0], n = ag->shape[1];
  tsr_ctx *ctx = e->ctx;
  uint32_t k_up, k_down;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "tsqr", up_kernel, ctx, &k_up));
  TSR_TRY(tsr_taskgraph_add_kernel(g, "tsqr-down", down_kernel, NULL, &k_down));
  /* Tree nodes: leaves 0 .. nb-1, then each level's groups; the root last. */
  int64_t cap = 2 * nb + 1;
  int64_t *rows = NULL, *parent = NULL, *rowoff = NULL;
  uint32_t *up = NULL, *down = NULL;
  up_params *params = NULL;
  tsr_status s = TSR_OK;
  TSR__TRY_GOTO(s,
                tsr__alloc_array(ctx, (size_t)cap * 3, sizeof *rows, "tsqr tree", (void **)&rows));
  parent = rows + cap;
  rowoff = parent + cap;
  TSR__TRY_GOTO(s, tsr__alloc_array(ctx, (size_t)cap * 2, sizeof *up, "tsqr tasks", (void **)&up));
  down = up + cap;
  TSR__TRY_GOTO(s, tsr_alloc(ctx, sizeof *params + 2 * FANIN * sizeof(int64_t), (void **)&params));
  params->n = n;
  params->nin = 1;
  for (int64_t i = 0; i < nb; i++) {
    rows[i] = tsr__grid_extent(ag, 0, i);
    params->parts[0] = rows[i];
    params->parts[1] = 0;
    size_t bytes = (size_t)(rows[i] * min64(rows[i], n) + min64(rows[i], n) * n) * 8;
    TSR__TRY_GOTO(s, tsr_taskgraph_add_task(g, k_up, &in[0][i], 1, params, sizeof *params + 16,
                                            bytes, &up[i]));
  }
  int64_t first = 0, count = nb, next = nb; /* the current level: [first, first + count) */
  while (count > 1) {
    int64_t level_start = next;
    for (int64_t c0 = 0; c0 < count; c0 += FANIN) {
      int64_t f = min64(FANIN, count - c0), sum = 0;
      uint32_t ids[FANIN];
      for (int64_t j = 0; j < f; j++) {
        int64_t child = first + c0 + j, kc = min64(rows[child], n);
        parent[child] = next;
        rowoff[child] = sum;
        params->parts[2 * j] = kc;
        params->parts[2 * j + 1] = rows[child] * kc;
        ids[j] = up[child];
        sum += kc;
      }
      params->nin = f;
      rows[next] = sum;
      size_t bytes = (size_t)(sum * min64(sum, n) + min64(sum, n) * n) * 8;
      TSR__TRY_GOTO(s, tsr_taskgraph_add_task(g, k_up, ids, (uint32_t)f, params,
                                              sizeof *params + (size_t)f * 16, bytes, &up[next]));
      next++;
    }
    first = level_start;
    count = next - level_start;
  }
  int64_t root = next - 1, kk = min64(rows[root], n);
  out[nb] = up[root];
  if (nb == 1) { /* the root is the only block: its Q is Q */
    uint32_t k_part;
    part_params pp = {0, 0};
    TSR__TRY_GOTO(s, tsr_taskgraph_add_kernel(g, "linalg-part", part_kernel, NULL, &k_part));
    TSR__TRY_GOTO(s, tsr_taskgraph_add_task(g, k_part, &up[root], 1, &pp, sizeof pp,
                                            (size_t)(rows[root] * kk) * 8, &out[0]));
  } else {
    down[root] = up[root]; /* the root's share of Q is its Q */
    for (int64_t x = root - 1; x >= 0; x--) {
      down_params dp = {rows[x], min64(rows[x], n), kk, rowoff[x]};
      uint32_t ids[2] = {up[x], down[parent[x]]};
      TSR__TRY_GOTO(s, tsr_taskgraph_add_task(g, k_down, ids, 2, &dp, sizeof dp,
                                              (size_t)(rows[x] * kk) * 8, &down[x]));
    }
    for (int64_t i = 0; i < nb; i++)
      out[i] = down[i];
  }
fail:
  tsr_free(ctx, params);
  tsr_free(ctx, up);
  tsr_free(ctx, rows);
  return s;
}

static const tsr__op op_tsqr = {"tsqr", lower_tsqr, NULL, false, NULL, NULL};

/* Q's row blocks are the TSQR node's chunks 0 .. nb-1. */
static tsr_status lower_q(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                          uint32_t *out) {
  (void)g;
  for (int64_t c = 0; c < e->grid->nchunks[0]; c++)
    out[c] = in[0][c];
  return TSR_OK;
}

static const tsr__op op_q = {"qr-q", lower_q, NULL, false, NULL, NULL};

/* Checks a (2-d) and makes the TSQR node of it (float64, one column chunk). */
static tsr_status tsqr_node(const char *fn, tsr_array *a, tsr__expr **out) {
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  const tsr_chunk_grid *g = a->expr->grid;
  TSR_CHECK(g->ndim == 2, TSR_EINVAL, "%s: a has %d dimensions; it must be a 2-d matrix", fn,
            g->ndim);
  TSR_CHECK(g->shape[1] <= INT_MAX && tsr__grid_max_extent(g, 0) <= INT_MAX &&
                (int64_t)FANIN * g->shape[1] <= INT_MAX,
            TSR_ENOTSUP, "%s: a's row chunks (%lld rows) or its %lld columns exceed LAPACK's int",
            fn, (long long)tsr__grid_max_extent(g, 0), (long long)g->shape[1]);
  tsr_array *f = NULL, *w = NULL;
  TSR_TRY(tsr__linalg_float64(a, &f));
  tsr_status s = tsr__linalg_whole_axis(f, 1, &w);
  tsr_array_destroy(&f);
  TSR_TRY(s);
  s = tsr__linalg_node(w->expr->ctx, &op_tsqr, g->nchunks[0] + 1, 1, &w->expr, NULL, out);
  tsr_array_destroy(&w);
  return s;
}

/* Q (m x K, a's row chunks) and R (K x n, one chunk) of the TSQR node t. */
static tsr_status tsqr_results(tsr__expr *t, tsr_array **q, tsr_array **r) {
  const tsr_chunk_grid *ag = t->inputs[0]->grid;
  int64_t m = ag->shape[0], n = ag->shape[1], kk = min64(m, n), nb = ag->nchunks[0];
  int64_t rshape[2] = {kk, n};
  /* the root's output is [Q (rows x K) | R]: R follows rows * K elements;
   * rows is the stacked height, recomputed as lower_tsqr builds the tree. */
  int64_t rows = m;
  if (nb > 1) {
    int64_t *level = NULL;
    TSR_TRY(tsr__alloc_array(t->ctx, (size_t)nb, sizeof *level, "tsqr tree", (void **)&level));
    int64_t count = nb;
    for (int64_t i = 0; i < nb; i++)
      level[i] = tsr__grid_extent(ag, 0, i);
    while (count > 1) {
      int64_t next = 0;
      for (int64_t c0 = 0; c0 < count; c0 += FANIN) {
        int64_t sum = 0;
        for (int64_t j = c0; j < count && j < c0 + FANIN; j++)
          sum += min64(level[j], n);
        level[next++] = sum;
      }
      count = next;
    }
    rows = level[0];
    tsr_free(t->ctx, level);
  }
  if (r != NULL)
    TSR_TRY(tsr__linalg_part(t, nb, rows * kk, 2, rshape, r));
  if (q == NULL)
    return TSR_OK;
  tsr__grid_axis axes[2] = {{ag, 0, NULL, 0}, {NULL, 0, (int64_t[]){0, kk}, 1}};
  tsr_chunk_grid *grid = NULL;
  tsr__expr *e = NULL;
  tsr_status s = tsr__grid_from_axes(t->ctx, 2, axes, &grid);
  if (s == TSR_OK)
    s = tsr__expr_create(t->ctx, &op_q, TSR_FLOAT64, grid, 1, &t, NULL, &e);
  if (s == TSR_OK)
    s = tsr__array_wrap(e, q);
  if (s != TSR_OK && r != NULL)
    tsr_array_destroy(r);
  return s;
}

tsr_status tsr_qr(tsr_array *a, tsr_array **q, tsr_array **r) {
  static const char fn[] = "tsr_qr";
  TSR_CHECK(q != NULL || r != NULL, TSR_EINVAL, "%s: q and r are both NULL", fn);
  if (q != NULL)
    *q = NULL;
  if (r != NULL)
    *r = NULL;
  tsr__expr *t = NULL;
  TSR_TRY(tsqr_node(fn, a, &t));
  tsr_status s = tsqr_results(t, q, r);
  tsr__expr_release(&t);
  return s;
}

/* ---- SVD ------------------------------------------------------------------ */

/* R (K x n, K <= n) -> [U_r (K x K) | s (K) | V^T (K x n)] by dgesdd.  R
 * row-major is R^T column-major (n x K): its SVD R^T = U' S V'^T gives R =
 * V' S U'^T, and LAPACK's column-major V'^T and U', read row-major, are
 * V' = U_r and U'^T = V^T: no transposes. */
static tsr_status svd_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const int64_t *p = call->params;
  int64_t kk = p[0], n = p[1];
  if (kk == 0)
    return TSR_OK;
  double *ur = call->output, *sv = ur + kk * kk, *vt = sv + kk;
  double query = 0, *a = NULL;
  lapack_int info =
      LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int)n, (lapack_int)kk, NULL, (lapack_int)n,
                          NULL, NULL, (lapack_int)n, NULL, (lapack_int)kk, &query, -1, NULL);
  if (info != 0)
    return tsr_error_set(TSR_EINTERNAL, "svd: LAPACK workspace query failed (info %d)", (int)info);
  int64_t lwork = (int64_t)query > 0 ? (int64_t)query : 1;
  size_t bytes = (size_t)(n * kk + lwork) * sizeof(double) + (size_t)(8 * kk) * sizeof(lapack_int);
  TSR_TRY(tsr_kernel_alloc(ctx, bytes, (void **)&a));
  double *work = a + n * kk;
  lapack_int *iwork = (lapack_int *)(work + lwork);
  memcpy(a, call->inputs[0], (size_t)(n * kk) * sizeof(double));
  tsr__blas_enter();
  info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', (lapack_int)n, (lapack_int)kk, a, (lapack_int)n,
                             sv, vt, (lapack_int)n, ur, (lapack_int)kk, work, (lapack_int)lwork,
                             iwork);
  tsr__blas_leave();
  tsr_free(ctx, a);
  if (info != 0)
    return tsr_error_set(info > 0 ? TSR_EINVAL : TSR_EINTERNAL,
                         "svd: LAPACK dgesdd did not converge (info %d)", (int)info);
  return TSR_OK;
}

static tsr_status lower_svd(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                            uint32_t *out) {
  const int64_t *shape = e->inputs[0]->grid->shape;
  int64_t p[2] = {shape[0], shape[1]};
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "svd", svd_kernel, e->ctx, &k));
  return tsr_taskgraph_add_task(g, k, &in[0][0], 1, p, sizeof p,
                                (size_t)(p[0] * p[0] + p[0] + p[0] * p[1]) * 8, &out[0]);
}

static const tsr__op op_svd = {"svd", lower_svd, NULL, false, NULL, NULL};

tsr_status tsr_svd(tsr_array *a, tsr_array **u, tsr_array **s, tsr_array **vt) {
  static const char fn[] = "tsr_svd";
  TSR_CHECK(u != NULL && s != NULL && vt != NULL, TSR_EINVAL, "%s: %s is NULL", fn,
            u == NULL   ? "u"
            : s == NULL ? "s"
                        : "vt");
  *u = *s = *vt = NULL;
  tsr__expr *t = NULL, *sv = NULL;
  tsr_array *q = NULL, *r = NULL, *ur = NULL;
  TSR_TRY(tsqr_node(fn, a, &t));
  tsr_status st = tsqr_results(t, &q, &r);
  tsr__expr_release(&t);
  TSR_TRY(st);
  int64_t kk = r->expr->grid->shape[0], n = r->expr->grid->shape[1];
  TSR__TRY_GOTO(st, tsr__linalg_node(q->expr->ctx, &op_svd, 1, 1, &r->expr, NULL, &sv));
  TSR__TRY_GOTO(st, tsr__linalg_part(sv, 0, 0, 2, (int64_t[]){kk, kk}, &ur));
  TSR__TRY_GOTO(st, tsr__linalg_part(sv, 0, kk * kk, 1, &kk, s));
  TSR__TRY_GOTO(st, tsr__linalg_part(sv, 0, kk * kk + kk, 2, (int64_t[]){kk, n}, vt));
  TSR__TRY_GOTO(st, tsr_matmul(q, ur, u));
fail:
  if (st != TSR_OK) {
    tsr_array_destroy(s);
    tsr_array_destroy(vt);
  }
  tsr__expr_release(&sv);
  tsr_array_destroy(&q);
  tsr_array_destroy(&r);
  tsr_array_destroy(&ur);
  return st;
}

/* ---- least squares ---------------------------------------------------------- */

/* x = R^-1 y: R (input 0, n x n upper triangular), y (input 1, n x nrhs,
 * one chunk).  A diagonal entry of R no larger than eps * max(m, n) *
 * max|diag| (NumPy's default rcond) means a is rank deficient. */
static tsr_status trsolve_kernel(const tsr_kernel_call *call) {
  const int64_t *p = call->params;
  int64_t n = p[0], nrhs = p[1], m = p[2];
  const double *r = call->inputs[0];
  double big = 0;
  for (int64_t i = 0; i < n; i++)
    big = fabs(r[i * n + i]) > big ? fabs(r[i * n + i]) : big;
  double tol = 2.220446049250313e-16 * (double)(m > n ? m : n) * big;
  for (int64_t i = 0; i < n; i++)
    if (!(fabs(r[i * n + i]) > tol))
      return tsr_error_set(TSR_EINVAL,
                           "tsr_lstsq: a is rank deficient (R[%lld, %lld] = %g, at most %g): "
                           "least squares needs full column rank",
                           (long long)i, (long long)i, r[i * n + i], tol);
  if (call->output_bytes == 0)
    return TSR_OK;
  memcpy(call->output, call->inputs[1], call->output_bytes);
  tsr__blas_enter();
  cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, CblasNoTrans, CblasNonUnit, (blasint)n,
              (blasint)nrhs, 1.0, r, (blasint)n, call->output, (blasint)nrhs);
  tsr__blas_leave();
  return TSR_OK;
}

static tsr_status lower_trsolve(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                uint32_t *out) {
  const int64_t *p = e->params;
  uint32_t k, ids[2] = {in[0][0], in[1][0]};
  TSR_TRY(tsr_taskgraph_add_kernel(g, "lstsq", trsolve_kernel, NULL, &k));
  return tsr_taskgraph_add_task(g, k, ids, 2, p, 3 * sizeof *p, (size_t)(p[0] * p[1]) * 8, &out[0]);
}

static void hash_trsolve(const tsr__expr *e, tsr__hash *h) { tsr__hash_i64s(h, e->params, 3); }

static const tsr__op op_trsolve = {"lstsq", lower_trsolve, NULL, false, NULL, hash_trsolve};

tsr_status tsr_lstsq(tsr_array *a, tsr_array *b, tsr_array **x) {
  static const char fn[] = "tsr_lstsq";
  TSR_CHECK(x != NULL, TSR_EINVAL, "%s: x is NULL", fn);
  *x = NULL;
  TSR_CHECK(a != NULL && b != NULL, TSR_EINVAL, "%s: %s is NULL", fn, a == NULL ? "a" : "b");
  const tsr_chunk_grid *ag = a->expr->grid, *bg = b->expr->grid;
  TSR_CHECK(ag->ndim == 2, TSR_EINVAL, "%s: a has %d dimensions; it must be a 2-d matrix", fn,
            ag->ndim);
  TSR_CHECK(a->expr->ctx == b->expr->ctx, TSR_EINVAL, "%s: a and b belong to different contexts",
            fn);
  char s1[TSR__SHAPE_STR_BYTES], s2[TSR__SHAPE_STR_BYTES];
  TSR_CHECK((bg->ndim == 1 || bg->ndim == 2) && bg->shape[0] == ag->shape[0], TSR_ESHAPE,
            "%s: b of shape %s does not match a of shape %s: b must be 1-d or 2-d with as many "
            "rows as a",
            fn, tsr__format_shape(s1, sizeof s1, bg->ndim, bg->shape),
            tsr__format_shape(s2, sizeof s2, ag->ndim, ag->shape));
  TSR_CHECK(ag->shape[0] >= ag->shape[1], TSR_ENOTSUP,
            "%s: a of shape %s has fewer rows than columns; only overdetermined or square "
            "systems (m >= n) are supported",
            fn, tsr__format_shape(s2, sizeof s2, ag->ndim, ag->shape));
  int64_t m = ag->shape[0], n = ag->shape[1], nrhs = bg->ndim == 2 ? bg->shape[1] : 1;
  tsr__expr *t = NULL, *e = NULL;
  tsr_array *q = NULL, *r = NULL, *qt = NULL, *b64 = NULL, *y = NULL, *yw = NULL;
  int64_t *p = NULL;
  tsr_status s = TSR_OK;
  TSR__TRY_GOTO(s, tsqr_node(fn, a, &t));
  TSR__TRY_GOTO(s, tsqr_results(t, &q, &r));
  TSR__TRY_GOTO(s, tsr_transpose(q, NULL, &qt));
  TSR__TRY_GOTO(s, tsr__linalg_float64(b, &b64));
  TSR__TRY_GOTO(s, tsr_matmul(qt, b64, &y)); /* Q^T b: n or n x nrhs */
  if (bg->ndim == 2) {
    tsr_array *y1 = NULL;
    TSR__TRY_GOTO(s, tsr__linalg_whole_axis(y, 1, &y1));
    tsr_array_destroy(&y);
    y = y1;
  }
  TSR__TRY_GOTO(s, tsr__linalg_whole_axis(y, 0, &yw));
  TSR__TRY_GOTO(s, tsr_alloc(a->expr->ctx, 3 * sizeof *p, (void **)&p));
  p[0] = n;
  p[1] = nrhs;
  p[2] = m;
  tsr__expr *inputs[2] = {r->expr, yw->expr};
  {
    tsr_chunk_grid *grid = NULL;
    const int64_t *shape = yw->expr->grid->shape;
    int64_t whole[2] = {n > 0 ? n : 1, nrhs > 0 ? nrhs : 1};
    s = tsr_chunk_grid_create_uniform(a->expr->ctx, bg->ndim, shape, whole, &grid);
    if (s != TSR_OK)
      goto fail;
    s = tsr__expr_create(a->expr->ctx, &op_trsolve, TSR_FLOAT64, grid, 2, inputs, p, &e);
    p = NULL; /* adopted with the grid, even on failure */
    if (s != TSR_OK)
      goto fail;
  }
  s = tsr__array_wrap(e, x);
fail:
  tsr_free(a->expr->ctx, p);
  tsr__expr_release(&t);
  tsr_array_destroy(&q);
  tsr_array_destroy(&r);
  tsr_array_destroy(&qt);
  tsr_array_destroy(&b64);
  tsr_array_destroy(&y);
  tsr_array_destroy(&yw);
  return s;
}
