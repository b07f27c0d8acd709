/* linalg.c — matmul, dot and tensordot of chunked arrays through CBLAS
 * (OpenBLAS), the dask.array blockwise-contraction scheme done natively.
 *
 * Every product is a tensordot: a's free axes (in order) and b's free axes
 * make the result; the contracted axes pair up (axes_a[i], axes_b[i]).  The
 * result's chunks are a's chunks along its free axes, then b's.  Output chunk
 * (I, J) is the sum over the contracted chunk tuples k of A(I, k) @ B(k, J),
 * each a single gemm on an M x K and a K x N matrix:
 *   - a chunk whose contracted axes are its trailing (or leading) axes, in
 *     pair order, already is that matrix (or its transpose) and goes to BLAS
 *     in place; anything else (another axis order, another dtype) is packed
 *     per chunk into a scratch matrix of the compute dtype; an operand
 *     that is a transpose (a.T) of another array is replaced by that array
 *     over the matching axes, so a @ a.T reads a's chunks in place and BLAS
 *     transposes them (no transposed copy is made);
 *   - one "matmul" task accumulates up to GROUP_MAX consecutive k products
 *     into its output with beta = 1 (no partial-product buffers), and a tree
 *     of fan-in SUM_FANIN sums the groups in a fixed order.  The grouping
 *     depends only on the chunking (never on the thread count), so results
 *     are bitwise identical for any number of threads.  Chains are split
 *     into more groups only when a node would otherwise have fewer than
 *     MIN_TASKS product tasks (few large output chunks, many k).
 *
 * Tuned for workload A4 (4000 x 4000 float64, 1000 x 1000 chunks): 16 tasks
 * of four 1000^3 dgemm calls each, no packing, no sum tasks.
 *
 * BLAS threads: tasks already run in parallel, so BLAS must run one thread
 * per call.  OpenBLAS's thread count is process-global: the first product
 * task to start sets it to 1 (after saving it) and the last one to finish
 * restores it, under a mutex, so no task ever runs a BLAS call while the
 * count is being changed.  Other threads of the program that call BLAS
 * while a product runs see one thread too (documented in array.h).
 *
 * Dtypes: the compute and result dtype is float32 when NumPy's promotion of
 * the two dtypes is float32, else float64 (integers and bool compute in
 * float64 and give float64, unlike NumPy, whose integer matmul stays
 * integer). */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <cblas.h>

#include "linalg_impl.h"

enum {
  GROUP_MAX = 8,  /* chunk products accumulated by one task (beta = 1) */
  SUM_FANIN = 8,  /* fan-in of the tree summing the groups */
  MIN_TASKS = 16, /* split chains until a node has this many product tasks */
};

/* How an operand's chunk becomes the gemm operand. */
enum {
  LAYOUT_DIRECT = 0,     /* the chunk is the matrix, row-major, as is */
  LAYOUT_TRANSPOSED = 1, /* the chunk is the matrix's transpose, row-major */
  LAYOUT_PACK = 2,       /* permute / convert into scratch first */
};

/* The node's parameters. */
typedef struct contract_params {
  int32_t na, nb, nc; /* ndim of a, of b, contracted pairs */
  int32_t cd;         /* compute (and result) dtype */
  int32_t a_dtype, b_dtype;
  int32_t layout_a, layout_b;
  int32_t ca[TSR_MAX_NDIM], cb[TSR_MAX_NDIM]; /* contracted axes, pair order */
  int32_t fa[TSR_MAX_NDIM], fb[TSR_MAX_NDIM]; /* free axes, in order */
} contract_params;

/* One product task's parameters, followed by int64 dims: perm_a[na],
 * perm_b[nb], then per pair: kc, a's chunk shape[na], b's chunk shape[nb].
 * perm_a lists a's axes in matrix order (free, then contracted); perm_b
 * b's (contracted, then free). */
typedef struct gemm_params {
  int32_t cd, a_dtype, b_dtype, layout_a, layout_b, na, nb, npairs;
  int64_t m, n;
  int64_t dims[];
} gemm_params;

/* ---- BLAS thread control --------------------------------------------- */

#ifdef OPENBLAS_VERSION
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static int blas_users; /* BLAS / LAPACK tasks running now */
static int blas_saved; /* OpenBLAS's thread count before the first of them */

void tsr__blas_enter(void) {
  pthread_mutex_lock(&blas_lock);
  if (blas_users++ == 0) {
    blas_saved = openblas_get_num_threads();
    if (blas_saved != 1)
      openblas_set_num_threads(1);
  }
  pthread_mutex_unlock(&blas_lock);
}

void tsr__blas_leave(void) {
  pthread_mutex_lock(&blas_lock);
  if (--blas_users == 0 && blas_saved != 1)
    openblas_set_num_threads(blas_saved);
  pthread_mutex_unlock(&blas_lock);
}
#else
void tsr__blas_enter(void) {}
void tsr__blas_leave(void) {}
#endif

/* ---- kernels ------------------------------------------------------------ */

/* dst[i] = src[i * stride] converted to the compute dtype, i < n. */
static void convert_row(const void *src, int64_t stride, tsr_dtype sd, void *dst, tsr_dtype cd,
                        int64_t n) {
#define ROW(T, D)                   \
  do {                              \
    const T *s_ = src;              \
    D *d_ = dst;                    \
    for (int64_t i = 0; i < n; i++) \
      d_[i] = (D)s_[i * stride];    \
  } while (0)
#define ROWS(D)       \
  switch (sd) {       \
  case TSR_BOOL:      \
  case TSR_UINT8:     \
    ROW(uint8_t, D);  \
    break;            \
  case TSR_INT8:      \
    ROW(int8_t, D);   \
    break;            \
  case TSR_INT16:     \
    ROW(int16_t, D);  \
    break;            \
  case TSR_INT32:     \
    ROW(int32_t, D);  \
    break;            \
  case TSR_INT64:     \
    ROW(int64_t, D);  \
    break;            \
  case TSR_UINT16:    \
    ROW(uint16_t, D); \
    break;            \
  case TSR_UINT32:    \
    ROW(uint32_t, D); \
    break;            \
  case TSR_UINT64:    \
    ROW(uint64_t, D); \
    break;            \
  case TSR_FLOAT32:   \
    ROW(float, D);    \
    break;            \
  default:            \
    ROW(double, D);   \
    break;            \
  }
  if (cd == TSR_FLOAT32) {
    ROWS(float)
  } else {
    ROWS(double)
  }
#undef ROWS
#undef ROW
}

/* Copies a C-contiguous chunk of `nd` axes (extents shape[]) into dst in
 * the compute dtype with its axes reordered: dst axis i is src axis perm[i]. */
static void pack(const void *src, tsr_dtype sd, int nd, const int64_t *shape, const int64_t *perm,
                 void *dst, tsr_dtype cd) {
  if (nd == 0) {
    convert_row(src, 1, sd, dst, cd, 1);
    return;
  }
  int64_t sstride[TSR_MAX_NDIM], dshape[TSR_MAX_NDIM], dstride[TSR_MAX_NDIM];
  sstride[nd - 1] = 1;
  for (int d = nd - 2; d >= 0; d--)
    sstride[d] = sstride[d + 1] * shape[d + 1];
  for (int i = 0; i < nd; i++) {
    dshape[i] = shape[perm[i]];
    dstride[i] = sstride[perm[i]];
    if (dshape[i] == 0)
      return;
  }
  size_t sitem = tsr_dtype_size(sd), ditem = tsr_dtype_size(cd);
  int64_t row = dshape[nd - 1], idx[TSR_MAX_NDIM] = {0}, at = 0;
  char *d = dst;
  for (;;) {
    convert_row((const char *)src + (size_t)at * sitem, dstride[nd - 1], sd, d, cd, row);
    d += (size_t)row * ditem;
    int ax = nd - 2;
    while (ax >= 0 && ++idx[ax] == dshape[ax]) {
      at -= (dshape[ax] - 1) * dstride[ax];
      idx[ax--] = 0;
    }
    if (ax < 0)
      break;
    at += dstride[ax];
  }
}

static void gemm(tsr_dtype cd, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const void *a,
                 int64_t lda, const void *b, int64_t ldb, bool accumulate, void *c) {
  enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
  if (cd == TSR_FLOAT32)
    cblas_sgemm(CblasRowMajor, opa, opb, (blasint)m, (blasint)n, (blasint)k, 1.0f, a, (blasint)lda,
                b, (blasint)ldb, accumulate ? 1.0f : 0.0f, c, (blasint)n);
  else
    cblas_dgemm(CblasRowMajor, opa, opb, (blasint)m, (blasint)n, (blasint)k, 1.0, a, (blasint)lda,
                b, (blasint)ldb, accumulate ? 1.0 : 0.0, c, (blasint)n);
}

/* inputs: A(k0), B(k0), A(k1), B(k1), ...; output = sum of A(k) @ B(k). */
static tsr_status gemm_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  gemm_params p;
  memcpy(&p, call->params, sizeof p);
  const int64_t *dims = (const int64_t *)((const char *)call->params + sizeof p);
  const int64_t *perm_a = dims, *perm_b = dims + p.na, *pairs = dims + p.na + p.nb;
  tsr_dtype cd = (tsr_dtype)p.cd;
  int64_t m = p.m, n = p.n, per_pair = 1 + p.na + p.nb;
  if (m == 0 || n == 0)
    return TSR_OK;
  /* Scratch for packed operands: the largest over the pairs. */
  int64_t need_a = 0, need_b = 0;
  for (int32_t i = 0; i < p.npairs; i++) {
    int64_t kc = pairs[i * per_pair];
    if (p.layout_a == LAYOUT_PACK && m * kc > need_a)
      need_a = m * kc;
    if (p.layout_b == LAYOUT_PACK && kc * n > need_b)
      need_b = kc * n;
  }
  size_t item = tsr_dtype_size(cd);
  char *scratch = NULL;
  if (need_a + need_b > 0)
    TSR_TRY(tsr_kernel_alloc(ctx, (size_t)(need_a + need_b) * item, (void **)&scratch));
  char *scratch_b = scratch != NULL ? scratch + (size_t)need_a * item : NULL;
  bool accumulate = false;
  tsr__blas_enter();
  for (int32_t i = 0; i < p.npairs; i++) {
    const int64_t *pair = pairs + i * per_pair;
    int64_t kc = pair[0];
    if (kc == 0)
      continue;
    const void *a = call->inputs[2 * i], *b = call->inputs[2 * i + 1];
    bool ta = p.layout_a == LAYOUT_TRANSPOSED, tb = p.layout_b == LAYOUT_TRANSPOSED;
    if (p.layout_a == LAYOUT_PACK) {
      pack(a, (tsr_dtype)p.a_dtype, p.na, pair + 1, perm_a, scratch, cd);
      a = scratch;
    }
    if (p.layout_b == LAYOUT_PACK) {
      pack(b, (tsr_dtype)p.b_dtype, p.nb, pair + 1 + p.na, perm_b, scratch_b, cd);
      b = scratch_b;
    }
    gemm(cd, ta, tb, m, n, kc, a, ta ? m : kc, b, tb ? kc : n, accumulate, call->output);
    accumulate = true;
  }
  tsr__blas_leave();
  if (!accumulate) /* every contracted extent was 0: the sum is empty */
    memset(call->output, 0, call->output_bytes);
  tsr_free(ctx, scratch);
  return TSR_OK;
}

/* output = inputs[0] + inputs[1] + ... in that order (deterministic). */
static tsr_status sum_kernel(const tsr_kernel_call *call) {
  const int32_t *cd = call->params;
  if (call->output_bytes == 0)
    return TSR_OK;
  memcpy(call->output, call->inputs[0], call->output_bytes);
  if (*cd == TSR_FLOAT32) {
    size_t n = call->output_bytes / sizeof(float);
    float *o = call->output;
    for (uint32_t j = 1; j < call->n_inputs; j++) {
      const float *x = call->inputs[j];
      for (size_t i = 0; i < n; i++)
        o[i] += x[i];
    }
  } else {
    size_t n = call->output_bytes / sizeof(double);
    double *o = call->output;
    for (uint32_t j = 1; j < call->n_inputs; j++) {
      const double *x = call->inputs[j];
      for (size_t i = 0; i < n; i++)
        o[i] += x[i];
    }
  }
  return TSR_OK;
}

/* ---- lowering ------------------------------------------------------------ */

static int64_t extent(const tsr_chunk_grid *g, int axis, int64_t i) {
  return tsr__grid_extent(g, axis, i);
}

static tsr_status lower_contract(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                 uint32_t *out) {
  const contract_params *p = e->params;
  const tsr_chunk_grid *ga = e->inputs[0]->grid, *gb = e->inputs[1]->grid, *go = e->grid;
  int na = p->na, nb = p->nb, nc = p->nc, nfa = na - nc, nfb = nb - nc;
  uint32_t k_gemm, k_sum;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "matmul", gemm_kernel, e->ctx, &k_gemm));
  TSR_TRY(tsr_taskgraph_add_kernel(g, "matmul-sum", sum_kernel, NULL, &k_sum));

  /* Contracted chunk tuples, and how many product tasks sum each output
   * chunk: ceil(nk / GROUP_MAX) groups, more if the node would have fewer
   * than MIN_TASKS.  Depends on the chunking only. */
  int64_t nk = 1, nkc[TSR_MAX_NDIM];
  for (int i = 0; i < nc; i++) {
    nkc[i] = ga->nchunks[p->ca[i]];
    nk *= nkc[i];
  }
  int64_t n_out = go->total_chunks;
  int64_t groups = (nk + GROUP_MAX - 1) / GROUP_MAX;
  int64_t want = (MIN_TASKS + n_out - 1) / n_out;
  if (want > groups)
    groups = want < nk ? want : nk;
  int64_t gsize = (nk + groups - 1) / groups;
  groups = (nk + gsize - 1) / gsize;

  tsr_status status = TSR_OK;
  uint32_t *level = NULL;
  gemm_params *gp = NULL;
  size_t per_pair = 1 + (size_t)na + (size_t)nb;
  size_t gp_bytes = sizeof *gp + ((size_t)na + (size_t)nb + (size_t)gsize * per_pair) * 8;
  TSR__TRY_GOTO(status, tsr__alloc_array(e->ctx, (size_t)groups, sizeof *level, "matmul groups",
                                         (void **)&level));
  TSR__TRY_GOTO(status, tsr_alloc(e->ctx, gp_bytes, (void **)&gp));
  *gp = (gemm_params){p->cd, p->a_dtype, p->b_dtype, p->layout_a, p->layout_b, na, nb, 0, 0, 0};
  for (int i = 0; i < nfa; i++)
    gp->dims[i] = p->fa[i];
  for (int i = 0; i < nc; i++)
    gp->dims[nfa + i] = p->ca[i];
  for (int i = 0; i < nc; i++)
    gp->dims[na + i] = p->cb[i];
  for (int i = 0; i < nfb; i++)
    gp->dims[na + nc + i] = p->fb[i];
  size_t item = tsr_dtype_size((tsr_dtype)p->cd);

  for (int64_t c = 0; c < n_out; c++) {
    int64_t ac[TSR_MAX_NDIM], bc[TSR_MAX_NDIM]; /* chunk coordinates in a and b */
    int64_t rest = c, m = 1, n = 1;
    for (int d = nfa + nfb - 1; d >= 0; d--) {
      int64_t i = rest % go->nchunks[d];
      rest /= go->nchunks[d];
      if (d < nfa)
        ac[p->fa[d]] = i;
      else
        bc[p->fb[d - nfa]] = i;
    }
    for (int i = 0; i < nfa; i++)
      m *= extent(ga, p->fa[i], ac[p->fa[i]]);
    for (int i = 0; i < nfb; i++)
      n *= extent(gb, p->fb[i], bc[p->fb[i]]);
    gp->m = m;
    gp->n = n;
    size_t out_bytes = (size_t)(m * n) * item;
    if (m == 0 || n == 0) { /* empty chunk: nothing to read */
      gp->npairs = 0;
      TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, k_gemm, NULL, 0, gp, sizeof *gp, 0, &out[c]));
      continue;
    }
    int64_t count = 0;
    for (int64_t k0 = 0; k0 < nk; k0 += gsize) {
      uint32_t ids[2 * GROUP_MAX];
      int64_t k1 = k0 + gsize < nk ? k0 + gsize : nk;
      int64_t *pair = gp->dims + na + nb;
      for (int64_t k = k0; k < k1; k++, pair += per_pair) {
        int64_t r = k, kc = 1;
        for (int i = nc - 1; i >= 0; i--) {
          int64_t ki = r % nkc[i];
          r /= nkc[i];
          ac[p->ca[i]] = ki;
          bc[p->cb[i]] = ki;
          kc *= extent(ga, p->ca[i], ki);
        }
        int64_t ia = 0, ib = 0;
        pair[0] = kc;
        for (int d = 0; d < na; d++) {
          ia += ac[d] * ga->stride[d];
          pair[1 + d] = extent(ga, d, ac[d]);
        }
        for (int d = 0; d < nb; d++) {
          ib += bc[d] * gb->stride[d];
          pair[1 + na + d] = extent(gb, d, bc[d]);
        }
        ids[2 * (k - k0)] = in[0][ia];
        ids[2 * (k - k0) + 1] = in[1][ib];
      }
      gp->npairs = (int32_t)(k1 - k0);
      size_t bytes = sizeof *gp + ((size_t)na + (size_t)nb + (size_t)(k1 - k0) * per_pair) * 8;
      TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, k_gemm, ids, (uint32_t)(2 * (k1 - k0)), gp,
                                                   bytes, out_bytes, &level[count++]));
    }
    /* Sum tree over the groups, in order. */
    while (count > 1) {
      int64_t next = 0;
      for (int64_t i = 0; i < count; i += SUM_FANIN) {
        int64_t f = count - i < SUM_FANIN ? count - i : SUM_FANIN;
        if (f == 1) {
          level[next++] = level[i];
          continue;
        }
        uint32_t t;
        TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, k_sum, &level[i], (uint32_t)f, &p->cd,
                                                     sizeof p->cd, out_bytes, &t));
        level[next++] = t;
      }
      count = next;
    }
    out[c] = level[0];
  }
fail:
  tsr_free(e->ctx, gp);
  tsr_free(e->ctx, level);
  return status;
}

static void hash_contract(const tsr__expr *e, tsr__hash *h) {
  const contract_params *p = e->params;
  int32_t head[8] = {p->na, p->nb, p->nc, p->cd, p->a_dtype, p->b_dtype, p->layout_a, p->layout_b};
  tsr__hash_bytes(h, head, sizeof head);
  tsr__hash_bytes(h, p->ca, (size_t)p->nc * sizeof *p->ca);
  tsr__hash_bytes(h, p->cb, (size_t)p->nc * sizeof *p->cb);
  tsr__hash_bytes(h, p->fa, (size_t)(p->na - p->nc) * sizeof *p->fa);
  tsr__hash_bytes(h, p->fb, (size_t)(p->nb - p->nc) * sizeof *p->fb);
}

static const tsr__op op_contract = {"tensordot", lower_contract, NULL, false, NULL, hash_contract};

/* ---- checking and building the node -------------------------------------- */

/* Normalizes and checks one operand's contracted axes. */
static tsr_status check_axes(const char *fn, const char *name, int ndim, int nc, const int *axes,
                             int32_t *norm) {
  bool seen[TSR_MAX_NDIM] = {false};
  for (int i = 0; i < nc; i++) {
    int ax = axes[i] < 0 ? axes[i] + ndim : axes[i];
    TSR_CHECK(ax >= 0 && ax < ndim, TSR_EINVAL, "%s: %s[%d] = %d is out of range for %d dimensions",
              fn, name, i, axes[i], ndim);
    TSR_CHECK(!seen[ax], TSR_EINVAL, "%s: axis %d repeated in %s", fn, ax, name);
    seen[ax] = true;
    norm[i] = ax;
  }
  return TSR_OK;
}

/* Largest chunk matrix dimension over the listed axes (product of each
 * axis's largest chunk extent), which must fit BLAS's int. */
static int64_t max_chunk_product(const tsr_chunk_grid *g, int n, const int32_t *axes) {
  int64_t prod = 1;
  for (int i = 0; i < n; i++) {
    int64_t best = tsr__grid_max_extent(g, axes[i]);
    if (best > 0 && prod > INT_MAX / best)
      return (int64_t)INT_MAX + 1;
    prod *= best;
  }
  return prod;
}

/* When e is a transpose (an axis permutation, tsr_transpose) of its input
 * and the axes it keeps free stay in the same order in the input, the
 * input, with *axes (e's contracted axes) mapped to the input's in `in`:
 * the product of e is then the product of its input over those axes, whose
 * chunks are e's, so no transposed copy is made. */
static const tsr__expr *transposed_input(const tsr__expr *e, int nc, const int *axes, int *in) {
  const tsr__gather_map *m = tsr__gather_single_map(e);
  if (m == NULL || strcmp(e->op->name, "transpose") != 0 || e->inputs[0]->dtype != e->dtype)
    return NULL;
  const tsr__expr *src = e->inputs[0];
  int nd = e->grid->ndim, from[TSR_MAX_NDIM]; /* from[k]: the input axis of e's axis k */
  if (m->ndim != nd)
    return NULL;
  for (int d = 0; d < nd; d++) {
    int k = m->oax[d];
    if (k < 0 || m->a[d] != 0 || m->s[d] != 1 || m->olo[k] != 0 ||
        m->ohi[k] != src->grid->shape[d])
      return NULL;
    from[k] = d;
  }
  bool contracted[TSR_MAX_NDIM] = {false};
  for (int i = 0; i < nc; i++) {
    contracted[axes[i]] = true;
    in[i] = from[axes[i]];
  }
  int last = -1;
  for (int k = 0; k < nd; k++) {
    if (contracted[k])
      continue;
    if (from[k] < last)
      return NULL;
    last = from[k];
  }
  return src;
}

static tsr_status contract(const char *fn, tsr_array *a, tsr_array *b, int nc, const int *axes_a,
                           const int *axes_b, tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL && b != NULL, TSR_EINVAL, "%s: %s is NULL", fn, a == NULL ? "a" : "b");
  tsr_ctx *ctx = a->expr->ctx;
  TSR_CHECK(b->expr->ctx == ctx, TSR_EINVAL, "%s: a and b belong to different contexts", fn);
  const tsr_chunk_grid *ga = a->expr->grid, *gb = b->expr->grid;
  int na = ga->ndim, nb = gb->ndim;
  char sa[TSR_MAX_NDIM * 22 + 4], sb[TSR_MAX_NDIM * 22 + 4];
  TSR_CHECK(nc >= 0 && nc <= na && nc <= nb, TSR_EINVAL,
            "%s: %d contracted axes for shapes %s and %s", fn, nc,
            tsr__format_shape(sa, sizeof sa, na, ga->shape),
            tsr__format_shape(sb, sizeof sb, nb, gb->shape));
  TSR_CHECK(nc == 0 || (axes_a != NULL && axes_b != NULL), TSR_EINVAL, "%s: axes are NULL", fn);
  TSR_CHECK(na + nb - 2 * nc <= TSR_MAX_NDIM, TSR_EINVAL,
            "%s: the result would have %d dimensions, more than %d", fn, na + nb - 2 * nc,
            TSR_MAX_NDIM);

  contract_params p = {.na = na, .nb = nb, .nc = nc};
  TSR_TRY(check_axes(fn, "axes_a", na, nc, axes_a, p.ca));
  TSR_TRY(check_axes(fn, "axes_b", nb, nc, axes_b, p.cb));
  /* A transposed operand (a.T) is read in place: its input, contracted
   * over the matching axes, goes to BLAS with a transpose flag. */
  int seen[TSR_MAX_NDIM];
  const tsr__expr *ia = transposed_input(a->expr, nc, p.ca, seen);
  if (ia != NULL) {
    tsr_array inner = {(tsr__expr *)ia};
    return contract(fn, &inner, b, nc, seen, p.cb, out);
  }
  const tsr__expr *ib = transposed_input(b->expr, nc, p.cb, seen);
  if (ib != NULL) {
    tsr_array inner = {(tsr__expr *)ib};
    return contract(fn, a, &inner, nc, p.ca, seen, out);
  }
  bool differ = false;
  for (int i = 0; i < nc; i++) {
    int x = p.ca[i], y = p.cb[i];
    TSR_CHECK(ga->shape[x] == gb->shape[y], TSR_ESHAPE,
              "%s: shapes %s and %s not aligned: %lld (axis %d) != %lld (axis %d)", fn,
              tsr__format_shape(sa, sizeof sa, na, ga->shape),
              tsr__format_shape(sb, sizeof sb, nb, gb->shape), (long long)ga->shape[x], x,
              (long long)gb->shape[y], y);
    differ |= !tsr__grid_axis_equal(ga, x, gb, y);
  }
  if (differ) {
    /* Chunk products need matching chunks along the contracted axes:
     * rechunk b to a's chunks there (its other axes keep theirs). */
    tsr__grid_axis axes[TSR_MAX_NDIM];
    for (int d = 0; d < nb; d++)
      axes[d] = (tsr__grid_axis){gb, d, NULL, 0};
    for (int i = 0; i < nc; i++)
      axes[p.cb[i]] = (tsr__grid_axis){ga, p.ca[i], NULL, 0};
    tsr_chunk_grid *target = NULL;
    tsr__expr *rb = NULL;
    TSR_TRY(tsr__grid_from_axes(ctx, nb, axes, &target));
    tsr_status status = tsr__rechunk_expr(b->expr, target, &rb);
    tsr_chunk_grid_destroy(&target);
    TSR_TRY(status);
    tsr_array rechunked = {rb};
    status = contract(fn, a, &rechunked, nc, axes_a, axes_b, out);
    tsr__expr_release(&rb);
    return status;
  }
  bool in_a[TSR_MAX_NDIM] = {false}, in_b[TSR_MAX_NDIM] = {false};
  for (int i = 0; i < nc; i++) {
    in_a[p.ca[i]] = true;
    in_b[p.cb[i]] = true;
  }
  int nfa = 0, nfb = 0;
  for (int d = 0; d < na; d++)
    if (!in_a[d])
      p.fa[nfa++] = d;
  for (int d = 0; d < nb; d++)
    if (!in_b[d])
      p.fb[nfb++] = d;

  tsr_dtype promoted;
  TSR_TRY(tsr_dtype_promote(a->expr->dtype, b->expr->dtype, &promoted));
  tsr_dtype cd = promoted == TSR_FLOAT32 ? TSR_FLOAT32 : TSR_FLOAT64;
  p.cd = (int32_t)cd;
  p.a_dtype = (int32_t)a->expr->dtype;
  p.b_dtype = (int32_t)b->expr->dtype;
  /* a as M x K: free axes then contracted, in pair order. */
  bool a_rows = true, a_cols = true, b_rows = true, b_cols = true;
  for (int i = 0; i < nfa; i++) {
    a_rows &= p.fa[i] == i;
    a_cols &= p.fa[i] == nc + i;
  }
  for (int i = 0; i < nc; i++) {
    a_rows &= p.ca[i] == nfa + i;
    a_cols &= p.ca[i] == i;
    b_rows &= p.cb[i] == i;
    b_cols &= p.cb[i] == nfb + i;
  }
  for (int i = 0; i < nfb; i++) {
    b_rows &= p.fb[i] == nc + i;
    b_cols &= p.fb[i] == i;
  }
  p.layout_a = a->expr->dtype != cd ? LAYOUT_PACK
               : a_rows             ? LAYOUT_DIRECT
               : a_cols             ? LAYOUT_TRANSPOSED
                                    : LAYOUT_PACK;
  p.layout_b = b->expr->dtype != cd ? LAYOUT_PACK
               : b_rows             ? LAYOUT_DIRECT
               : b_cols             ? LAYOUT_TRANSPOSED
                                    : LAYOUT_PACK;
  int64_t mm = max_chunk_product(ga, nfa, p.fa), nn = max_chunk_product(gb, nfb, p.fb),
          kk = max_chunk_product(ga, nc, p.ca);
  TSR_CHECK(mm <= INT_MAX && nn <= INT_MAX && kk <= INT_MAX, TSR_ENOTSUP,
            "%s: chunk matrices of %lld x %lld times %lld x %lld exceed BLAS's int; use smaller "
            "chunks",
            fn, (long long)mm, (long long)kk, (long long)kk, (long long)nn);

  /* The result's grid: a's free chunks, then b's. */
  int nd = nfa + nfb;
  {
    int64_t oshape[TSR_MAX_NDIM], nbytes;
    for (int i = 0; i < nd; i++)
      oshape[i] = i < nfa ? ga->shape[p.fa[i]] : gb->shape[p.fb[i - nfa]];
    TSR_TRY(tsr__shape_bytes(fn, nd, oshape, tsr_dtype_size(cd), &nbytes));
  }
  tsr__grid_axis axes[TSR_MAX_NDIM];
  for (int i = 0; i < nd; i++)
    axes[i] = i < nfa ? (tsr__grid_axis){ga, p.fa[i], NULL, 0}
                      : (tsr__grid_axis){gb, p.fb[i - nfa], NULL, 0};
  tsr_status status = TSR_OK;
  tsr_chunk_grid *grid = NULL;
  contract_params *params = NULL;
  tsr__expr *e = NULL;
  TSR__TRY_GOTO(status, tsr__grid_from_axes(ctx, nd, axes, &grid));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, sizeof *params, (void **)&params));
  *params = p;
  tsr__expr *inputs[2] = {a->expr, b->expr};
  status = tsr__expr_create(ctx, &op_contract, cd, grid, 2, inputs, params, &e);
  grid = NULL;
  params = NULL;
  if (status == TSR_OK)
    status = tsr__array_wrap(e, out);
fail:
  tsr_free(ctx, params);
  tsr_chunk_grid_destroy(&grid);
  return status;
}

/* ---- the API ------------------------------------------------------------- */

tsr_status tsr_tensordot(tsr_array *a, tsr_array *b, int naxes, const int *axes_a,
                         const int *axes_b, tsr_array **out) {
  return contract("tsr_tensordot", a, b, naxes, axes_a, axes_b, out);
}

tsr_status tsr_matmul(tsr_array *a, tsr_array *b, tsr_array **out) {
  static const char fn[] = "tsr_matmul";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL && b != NULL, TSR_EINVAL, "%s: %s is NULL", fn, a == NULL ? "a" : "b");
  int na = a->expr->grid->ndim, nb = b->expr->grid->ndim;
  TSR_CHECK(na > 0 && nb > 0, TSR_EINVAL,
            "%s: operand %d is 0-d (a scalar); matmul needs 1-D or 2-D operands (use tsr_mul)", fn,
            na == 0 ? 0 : 1);
  TSR_CHECK(na <= 2 && nb <= 2, TSR_ENOTSUP,
            "%s: operand %d has %d dimensions; stacked (batched) matmul is not supported yet, only "
            "1-D and 2-D operands",
            fn, na > 2 ? 0 : 1, na > 2 ? na : nb);
  /* a's last axis with b's first (b 1-D: its only axis). */
  int ax_a = na - 1, ax_b = 0;
  return contract(fn, a, b, 1, &ax_a, &ax_b, out);
}

tsr_status tsr_dot(tsr_array *a, tsr_array *b, tsr_array **out) {
  static const char fn[] = "tsr_dot";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL && b != NULL, TSR_EINVAL, "%s: %s is NULL", fn, a == NULL ? "a" : "b");
  int na = a->expr->grid->ndim, nb = b->expr->grid->ndim;
  if (na == 0 || nb == 0) /* a scalar operand: a product, as NumPy's dot */
    return contract(fn, a, b, 0, NULL, NULL, out);
  /* a's last axis with b's second-to-last (b 1-D: its only axis). */
  int ax_a = na - 1, ax_b = nb >= 2 ? nb - 2 : 0;
  return contract(fn, a, b, 1, &ax_a, &ax_b, out);
}
