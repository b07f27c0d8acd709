/* fused.c — fused elementwise nodes: building them (inlining the programs
 * of fused inputs, deduplicating leaves, broadcasting shapes), lowering
 * them to one task per chunk, and walking a chunk through the program.
 *
 * The walk is NumPy's nditer idea in small: every operand (leaf chunk,
 * memory leaf, output) has element strides over the iteration space; axes
 * of extent 1 are dropped and neighbouring axes merged wherever every
 * operand is contiguous across them, so a whole contiguous chunk is one run
 * evaluated in blocks of TSR__BLOCK elements. */
#include <stdio.h>
#include <string.h>

#include "fused.h"

/* ---- building ------------------------------------------------------------ */

void tsr__builder_init(tsr__builder *b) { memset(b, 0, sizeof *b); }

static tsr_status broadcast_into(tsr__builder *b, const char *fn, const tsr__expr *e) {
  int ndim = e->grid->ndim;
  const int64_t *shape = e->grid->shape;
  if (b->n_leaves == 0 && b->prog.n == 0) {
    b->ndim = ndim;
    memcpy(b->shape, shape, (size_t)ndim * sizeof *shape);
    return TSR_OK;
  }
  int out_ndim = b->ndim > ndim ? b->ndim : ndim;
  int64_t out[TSR_MAX_NDIM];
  for (int d = 0; d < out_ndim; d++) {
    int da = d - (out_ndim - b->ndim), db = d - (out_ndim - ndim);
    int64_t x = da >= 0 ? b->shape[da] : 1, y = db >= 0 ? shape[db] : 1;
    if (x != y && x != 1 && y != 1) {
      char s1[TSR__SHAPE_STR_BYTES], s2[TSR__SHAPE_STR_BYTES];
      return tsr_error_set(TSR_ESHAPE, "%s: shapes %s and %s cannot be broadcast together", fn,
                           tsr__format_shape(s1, sizeof s1, b->ndim, b->shape),
                           tsr__format_shape(s2, sizeof s2, ndim, shape));
    }
    out[d] = x == 1 ? y : x;
  }
  b->ndim = out_ndim;
  memcpy(b->shape, out, (size_t)out_ndim * sizeof *out);
  return TSR_OK;
}

static int find_leaf(const tsr__builder *b, const tsr__expr *e) {
  for (uint32_t k = 0; k < b->n_leaves; k++)
    if (b->leaf[k] == e)
      return (int)k;
  return -1;
}

static tsr_status add_leaf(tsr__builder *b, tsr__expr *e, uint16_t *leaf) {
  int k = find_leaf(b, e);
  if (k < 0) {
    if (b->n_leaves == TSR__MAX_LEAVES)
      return tsr_error_set(TSR_ENOTSUP, "more than %d arrays in one fused expression",
                           TSR__MAX_LEAVES);
    k = (int)b->n_leaves;
    b->leaf[b->n_leaves++] = e;
  }
  *leaf = (uint16_t)k;
  return TSR_OK;
}

static tsr_status load_leaf(tsr__builder *b, tsr__expr *e, uint16_t *reg) {
  uint16_t k = 0;
  TSR_TRY(add_leaf(b, e, &k));
  tsr__instr in = {
      .code = TSR__I_LOAD, .dtype = (uint8_t)e->dtype, .src_dtype = (uint8_t)e->dtype, .a = k};
  return tsr__program_emit(&b->prog, in, reg);
}

/* Remembers that register reg holds the values of the node with this
 * serial (once per node; when the list is full the rest are forgotten: they
 * stay inlined). */
static void remember_inlined(tsr__builder *b, uint64_t serial, uint16_t reg) {
  for (uint32_t i = 0; i < b->n_inlined; i++)
    if (b->inlined[i].serial == serial)
      return;
  if (b->n_inlined < TSR__MAX_INLINED)
    b->inlined[b->n_inlined++] = (tsr__inlined){serial, reg};
}

/* Inlines fused node e's program; on TSR_ENOTSUP (too long) the caller
 * falls back to a leaf. */
static tsr_status inline_program(tsr__builder *b, const tsr__expr *e, uint16_t *reg) {
  const tsr__fused *f = e->params;
  uint16_t leaf_map[TSR__MAX_LEAVES], reg_map[TSR__MAX_INSTRS];
  bool identity = b->prog.n == 0;
  for (uint32_t k = 0; k < f->n_leaves; k++) {
    TSR_TRY(add_leaf(b, f->leaves[k].expr, &leaf_map[k]));
    identity &= leaf_map[k] == k;
  }
  if (identity) { /* into an empty program: a copy (the common chain x = x + 1) */
    b->prog = f->prog;
    *reg = (uint16_t)(f->prog.n - 1);
    remember_inlined(b, e->serial, *reg);
    for (uint32_t i = 0; i < f->n_inlined; i++)
      remember_inlined(b, f->inlined[i].serial, f->inlined[i].reg);
    return TSR_OK;
  }
  for (uint32_t i = 0; i < f->prog.n; i++)
    TSR_TRY(tsr__program_emit(&b->prog, tsr__instr_renumber(f->prog.code[i], leaf_map, reg_map),
                              &reg_map[i]));
  *reg = reg_map[f->prog.n - 1];
  remember_inlined(b, e->serial, *reg);
  for (uint32_t i = 0; i < f->n_inlined; i++)
    remember_inlined(b, f->inlined[i].serial, reg_map[f->inlined[i].reg]);
  return TSR_OK;
}

tsr_status tsr__builder_add(tsr__builder *b, const char *fn, tsr__expr *e, uint16_t *reg) {
  TSR_TRY(broadcast_into(b, fn, e));
  /* Inline e's program only if the result leaves room for what one more
   * operation adds (up to 3 operands' loads and casts, and the op), so an
   * operation never fails for length: a longer chain reads e as a
   * materialized leaf instead. */
  const tsr__fused *ef = tsr__expr_is_fused(e) ? e->params : NULL;
  if (ef != NULL && (b->prog.n + ef->prog.n + TSR__HEADROOM > TSR__MAX_INSTRS ||
                     b->n_leaves + ef->n_leaves + 3 > TSR__MAX_LEAVES))
    ef = NULL;
  if (ef != NULL) {
    tsr__builder *trial;
    TSR_TRY(tsr_alloc(e->ctx, sizeof *trial, (void **)&trial));
    *trial = *b;
    tsr_status status = inline_program(trial, e, reg);
    if (status == TSR_OK)
      *b = *trial;
    tsr_free(e->ctx, trial);
    if (status != TSR_ENOTSUP)
      return status;
    tsr_error_clear(); /* too long to inline: read it as a materialized leaf */
  }
  return load_leaf(b, e, reg);
}

/* Whether e's values are already in memory, as a strided view of a user
 * buffer or of a full() node's value (all strides 0): a buffer node
 * itself, or a single-input gather of one (slice,
 * transpose, expand_dims, squeeze, rechunk of a buffer) with the same
 * dtype.  Element (i_0, ...) of e is at base + sum i_k * stride[k]
 * elements.  Fused tasks read such leaves in place instead of through
 * copy tasks: x + x.T reads x once. */
bool tsr__memory_view(const tsr__expr *e, const unsigned char **base, int64_t *stride) {
  /* Walks down the chain of single-input gathers to the buffer or full()
   * node, iteratively (gathers of gathers are composed when built, but a
   * chain through rechunks stays long), carrying for each axis of the node
   * reached: the axis of e it follows (-1: fixed), its coefficient and its
   * offset, so that element (i_0, ...) of e is element
   * off[j] + coef[j] * i_{ax[j]} along axis j of the node reached. */
  int ndim = e->grid->ndim;
  int nx = ndim, ax[TSR_MAX_NDIM];
  int64_t coef[TSR_MAX_NDIM], off[TSR_MAX_NDIM];
  for (int d = 0; d < ndim; d++) {
    ax[d] = d;
    coef[d] = 1;
    off[d] = 0;
  }
  const tsr__expr *x = e;
  for (;;) {
    if (x->dtype != e->dtype)
      return false;
    const void *constant = tsr__expr_constant(x);
    const void *mem = constant != NULL ? NULL : tsr__expr_memory(x);
    if (constant != NULL || mem != NULL) {
      /* full(): every element is the one value; a buffer: C order. */
      int64_t first = 0, s = 1;
      for (int d = 0; d < ndim; d++)
        stride[d] = 0;
      for (int j = nx - 1; j >= 0 && mem != NULL; j--) {
        first += off[j] * s;
        if (ax[j] >= 0)
          stride[ax[j]] += coef[j] * s;
        s *= x->grid->shape[j];
      }
      *base = constant != NULL
                  ? constant
                  : (const unsigned char *)mem + first * (int64_t)tsr_dtype_size(e->dtype);
      return true;
    }
    const tsr__gather_map *m = tsr__gather_single_map(x);
    if (m == NULL)
      return false;
    for (int k = 0; k < x->grid->ndim; k++)
      if (m->olo[k] != 0 || m->ohi[k] != x->grid->shape[k])
        return false;
    int nax[TSR_MAX_NDIM];
    int64_t ncoef[TSR_MAX_NDIM], noff[TSR_MAX_NDIM];
    for (int j = 0; j < m->ndim; j++) {
      int k = m->oax[j];
      nax[j] = k >= 0 ? ax[k] : -1;
      ncoef[j] = k >= 0 ? m->s[j] * coef[k] : 0;
      noff[j] = m->a[j] + (k >= 0 ? m->s[j] * off[k] : 0);
    }
    nx = m->ndim;
    memcpy(ax, nax, (size_t)nx * sizeof *ax);
    memcpy(coef, ncoef, (size_t)nx * sizeof *coef);
    memcpy(off, noff, (size_t)nx * sizeof *off);
    x = x->inputs[0];
  }
}

tsr_status tsr__fused_make(tsr_ctx *ctx, const tsr__builder *b, tsr__fused **out,
                           tsr__expr **inputs, uint32_t *n_inputs) {
  *out = NULL;
  *n_inputs = 0;
  tsr__fused *f;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *f, (void **)&f));
  f->prog = b->prog;
  tsr_status status =
      tsr_calloc(ctx, b->n_leaves ? b->n_leaves : 1, sizeof *f->leaves, (void **)&f->leaves);
  if (status != TSR_OK) {
    tsr_free(ctx, f);
    return status;
  }
  for (uint32_t k = 0; k < b->n_leaves; k++) {
    tsr__leaf *l = &f->leaves[k];
    tsr__expr *e = b->leaf[k];
    tsr__expr_retain(e);
    l->expr = e;
    l->ndim = e->grid->ndim;
    memcpy(l->shape, e->grid->shape, (size_t)l->ndim * sizeof *l->shape);
    if (tsr__memory_view(e, &l->memory, l->mem_stride)) {
      l->task_input = -1;
    } else {
      l->task_input = (int32_t)*n_inputs;
      inputs[(*n_inputs)++] = e;
    }
  }
  f->n_leaves = b->n_leaves;
  if (b->n_inlined > 0) {
    status = tsr_calloc(ctx, b->n_inlined, sizeof *f->inlined, (void **)&f->inlined);
    if (status != TSR_OK) {
      tsr__fused_destroy(ctx, f);
      *n_inputs = 0;
      return status;
    }
    memcpy(f->inlined, b->inlined, b->n_inlined * sizeof *f->inlined);
    f->n_inlined = b->n_inlined;
  }
  *out = f;
  return TSR_OK;
}

/* Releases what a fused program holds (not the tsr__fused itself). */
static void release_leaves(tsr_ctx *ctx, tsr__fused *f) {
  for (uint32_t k = 0; k < f->n_leaves; k++)
    tsr__expr_release(&f->leaves[k].expr);
  tsr_free(ctx, f->leaves);
  tsr_free(ctx, f->inlined);
}

void tsr__fused_destroy(tsr_ctx *ctx, tsr__fused *f) {
  if (f == NULL)
    return;
  release_leaves(ctx, f);
  tsr_free(ctx, f);
}

tsr_status tsr__fused_grid(tsr_ctx *ctx, const char *fn, const tsr__builder *b,
                           tsr_chunk_grid **out) {
  int ndim = b->ndim;
  const tsr_chunk_grid *source[TSR_MAX_NDIM] = {0};
  int source_axis[TSR_MAX_NDIM] = {0};
  for (int pass = 0; pass < 2; pass++) /* task leaves decide; memory leaves fill in */
    for (uint32_t k = 0; k < b->n_leaves; k++) {
      const tsr__expr *e = b->leaf[k];
      const unsigned char *base;
      int64_t strides[TSR_MAX_NDIM];
      bool is_task = !tsr__memory_view(e, &base, strides);
      if (is_task != (pass == 0))
        continue;
      const tsr_chunk_grid *g = e->grid;
      for (int j = 0; j < g->ndim; j++) {
        int d = j + ndim - g->ndim;
        if (g->shape[j] != b->shape[d])
          continue; /* broadcast along d */
        if (source[d] == NULL) {
          source[d] = g;
          source_axis[d] = j;
          continue;
        }
        const tsr_chunk_grid *s = source[d];
        int sj = source_axis[d];
        bool same = tsr__grid_axis_equal(s, sj, g, j);
        if (!same && is_task)
          return tsr_error_set(TSR_ENOTSUP, "%s: operands have different chunks along axis %d", fn,
                               d);
      }
    }
  /* Each axis takes its source's boundaries, or is one whole chunk. */
  int64_t whole[TSR_MAX_NDIM][2];
  tsr__grid_axis axes[TSR_MAX_NDIM];
  for (int d = 0; d < ndim; d++) {
    whole[d][0] = 0;
    whole[d][1] = b->shape[d];
    axes[d] = source[d] ? (tsr__grid_axis){source[d], source_axis[d], NULL, 0}
                        : (tsr__grid_axis){NULL, 0, whole[d], 1};
  }
  return tsr__grid_from_axes(ctx, ndim, axes, out);
}

/* Adds the boundaries of offsets[0..n] to the sorted set u (n_u entries). */
static int64_t merge_bounds(int64_t *u, int64_t n_u, const int64_t *offsets, int64_t n,
                            int64_t *tmp) {
  int64_t i = 0, j = 0, m = 0;
  while (i < n_u || j <= n) {
    int64_t x = i < n_u ? u[i] : INT64_MAX, y = j <= n ? offsets[j] : INT64_MAX;
    int64_t v = x < y ? x : y;
    if (x == v)
      i++;
    if (y == v)
      j++;
    tmp[m++] = v;
  }
  memcpy(u, tmp, (size_t)m * sizeof *u);
  return m;
}

/* Whether leaf e is read in place (and so needs no common chunks). */
static bool in_place(const tsr__expr *e, bool all_tasks) {
  const unsigned char *base;
  int64_t strides[TSR_MAX_NDIM];
  return !all_tasks && tsr__memory_view(e, &base, strides);
}

static tsr_status unify(tsr__builder *b, tsr_ctx *ctx, bool all_tasks, tsr__expr **owned,
                        uint32_t *n_owned) {
  *n_owned = 0;
  int ndim = b->ndim;
  /* Is any task leaf chunked differently from another along an axis? */
  bool differ = false;
  const tsr_chunk_grid *first[TSR_MAX_NDIM] = {0};
  int first_axis[TSR_MAX_NDIM] = {0};
  int64_t total = 0;
  for (uint32_t k = 0; k < b->n_leaves; k++) {
    const tsr__expr *e = b->leaf[k];
    if (in_place(e, all_tasks))
      continue;
    for (int j = 0; j < e->grid->ndim; j++) {
      int d = j + ndim - e->grid->ndim;
      if (e->grid->shape[j] != b->shape[d])
        continue;
      total += e->grid->nchunks[j] + 1;
      if (first[d] == NULL) {
        first[d] = e->grid;
        first_axis[d] = j;
      } else if (!tsr__grid_axis_equal(first[d], first_axis[d], e->grid, j)) {
        differ = true;
      }
    }
  }
  if (!differ)
    return TSR_OK;
  /* Dask's unify_chunks: every task leaf gets the union of the boundaries. */
  int64_t *u = NULL, *tmp = NULL;
  tsr_status status = TSR_OK;
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)(total + ndim + 1) * sizeof *u, (void **)&u));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)(total + ndim + 1) * sizeof *u, (void **)&tmp));
  int64_t *bounds[TSR_MAX_NDIM], n_bounds[TSR_MAX_NDIM];
  int64_t *at = u;
  for (int d = 0; d < ndim; d++) {
    bounds[d] = at;
    n_bounds[d] = 0;
    for (uint32_t k = 0; k < b->n_leaves; k++) {
      const tsr__expr *e = b->leaf[k];
      int j = d - (ndim - e->grid->ndim);
      if (j < 0 || e->grid->shape[j] != b->shape[d] || in_place(e, all_tasks))
        continue;
      int64_t *own = NULL;
      const int64_t *offs;
      TSR__TRY_GOTO(status, tsr__grid_axis_offsets(ctx, e->grid, j, &own, &offs));
      n_bounds[d] = merge_bounds(bounds[d], n_bounds[d], offs, e->grid->nchunks[j], tmp);
      tsr_free(ctx, own);
    }
    if (n_bounds[d] == 0) { /* no task leaf spans this axis */
      bounds[d][0] = 0;
      bounds[d][1] = b->shape[d];
      n_bounds[d] = b->shape[d] == 0 ? 2 : 2;
    }
    at += n_bounds[d];
  }
  for (uint32_t k = 0; k < b->n_leaves && status == TSR_OK; k++) {
    tsr__expr *e = b->leaf[k];
    if (in_place(e, all_tasks))
      continue;
    int lead = ndim - e->grid->ndim;
    tsr__grid_axis axes[TSR_MAX_NDIM];
    for (int j = 0; j < e->grid->ndim; j++) {
      int d = j + lead;
      bool bc = e->grid->shape[j] != b->shape[d];
      axes[j] = bc ? (tsr__grid_axis){e->grid, j, NULL, 0}
                   : (tsr__grid_axis){NULL, 0, bounds[d], n_bounds[d] - 1};
    }
    tsr_chunk_grid *target = NULL;
    TSR__TRY_GOTO(status, tsr__grid_from_axes(ctx, e->grid->ndim, axes, &target));
    if (!tsr__grid_equal(target, e->grid)) {
      tsr__expr *r = NULL;
      status = tsr__rechunk_expr(e, target, &r);
      if (status == TSR_OK) {
        owned[(*n_owned)++] = r;
        b->leaf[k] = r;
      }
    }
    tsr_chunk_grid_destroy(&target);
  }
fail:
  tsr_free(ctx, u);
  tsr_free(ctx, tmp);
  return status;
}

tsr_status tsr__builder_unify(tsr__builder *b, tsr_ctx *ctx, tsr__expr **owned, uint32_t *n_owned) {
  return unify(b, ctx, false, owned, n_owned);
}

tsr_status tsr__unify_chunks(tsr_ctx *ctx, const char *fn, uint32_t n, tsr__expr *const *in,
                             tsr__expr **out) {
  TSR_CHECK(n <= TSR__MAX_LEAVES, TSR_ENOTSUP, "%s: more than %d inputs with different chunks", fn,
            TSR__MAX_LEAVES);
  tsr__builder *b;
  TSR_TRY(tsr_alloc(ctx, sizeof *b, (void **)&b));
  tsr__builder_init(b);
  tsr__expr *owned[TSR__MAX_LEAVES];
  uint32_t n_owned = 0;
  uint16_t leaf_of[TSR__MAX_LEAVES];
  tsr_status status = TSR_OK;
  for (uint32_t i = 0; i < n && status == TSR_OK; i++) {
    status = broadcast_into(b, fn, in[i]);
    if (status == TSR_OK)
      status = add_leaf(b, in[i], &leaf_of[i]);
  }
  if (status == TSR_OK)
    status = unify(b, ctx, true, owned, &n_owned);
  for (uint32_t i = 0; i < n && status == TSR_OK; i++) {
    out[i] = b->leaf[leaf_of[i]];
    tsr__expr_retain(out[i]);
  }
  for (uint32_t i = 0; i < n_owned; i++)
    tsr__expr_release(&owned[i]);
  tsr_free(ctx, b);
  return status;
}

void tsr__fused_task_inputs(const tsr__fused *f, const tsr__expr *const *inputs,
                            const uint32_t *const *in, int ndim, const int64_t *coords,
                            uint32_t *ids) {
  for (uint32_t k = 0; k < f->n_leaves; k++) {
    const tsr__leaf *l = &f->leaves[k];
    if (l->task_input < 0)
      continue;
    const tsr_chunk_grid *g = inputs[l->task_input]->grid;
    int64_t chunk = 0;
    for (int j = 0; j < l->ndim; j++) {
      int d = j + ndim - l->ndim;
      int64_t c = g->nchunks[j] == 1 ? 0 : coords[d];
      chunk = chunk * g->nchunks[j] + c;
    }
    ids[l->task_input] = in[l->task_input][chunk];
  }
}

/* ---- walking a chunk ------------------------------------------------------ */

void tsr__walk_setup(tsr__walk *w, const tsr__fused *f, int ndim, const int64_t *shape,
                     const int64_t *offset, const void *const *chunks, int n_extra) {
  /* The iteration space's whole shape is needed to tell broadcast axes:
   * a leaf axis of extent 1 broadcasts unless the space's axis is 1 too,
   * and then the stride does not matter. */
  w->ndim = ndim;
  w->n_leaves = (int)f->n_leaves;
  w->nops = (int)f->n_leaves + n_extra;
  memcpy(w->shape, shape, (size_t)ndim * sizeof *shape);
  for (uint32_t k = 0; k < f->n_leaves; k++) {
    const tsr__leaf *l = &f->leaves[k];
    int lead = ndim - l->ndim;
    int64_t *st = w->stride[k];
    for (int d = 0; d < lead; d++)
      st[d] = 0;
    w->itemsize[k] = (int64_t)tsr_dtype_size(l->expr->dtype);
    if (l->task_input >= 0) {
      int64_t s = 1;
      for (int j = l->ndim - 1; j >= 0; j--) {
        int d = j + lead;
        bool bc = l->shape[j] == 1;
        st[d] = bc ? 0 : s;
        s *= bc ? 1 : shape[d];
      }
      w->base[k] = chunks[l->task_input];
    } else {
      int64_t first = 0;
      for (int j = 0; j < l->ndim; j++) {
        int d = j + lead;
        bool bc = l->shape[j] == 1;
        st[d] = bc ? 0 : l->mem_stride[j];
        first += bc ? 0 : offset[d] * l->mem_stride[j];
      }
      w->base[k] = l->memory + first * w->itemsize[k];
    }
  }
}

void tsr__walk_coalesce(tsr__walk *w) {
  int n = 0;
  for (int d = 0; d < w->ndim; d++) {
    if (w->shape[d] == 1)
      continue;
    if (n > 0) {
      bool merge = true;
      for (int op = 0; op < w->nops && merge; op++)
        merge = w->stride[op][n - 1] == w->stride[op][d] * w->shape[d];
      if (merge) {
        w->shape[n - 1] *= w->shape[d];
        for (int op = 0; op < w->nops; op++)
          w->stride[op][n - 1] = w->stride[op][d];
        continue;
      }
    }
    w->shape[n] = w->shape[d];
    for (int op = 0; op < w->nops; op++)
      w->stride[op][n] = w->stride[op][d];
    n++;
  }
  if (n == 0) {
    w->shape[0] = 1;
    for (int op = 0; op < w->nops; op++)
      w->stride[op][0] = 0;
    n = 1;
  }
  w->ndim = n;
}

/* Evaluates and visits the block of n elements at inner position j of the
 * run whose operands start at off[]. */
static tsr_status walk_block(const tsr__walk *w, tsr__eval *ev, const int64_t *off, int64_t j,
                             int64_t n, int64_t len, tsr__visit_fn visit, void *user,
                             bool run_end) {
  int inner = w->ndim - 1, nl = w->n_leaves;
  int64_t blk = (int64_t)ev->block;
  tsr__leaf_run runs[TSR__MAX_LEAVES];
  int64_t xoff[TSR__WALK_EXTRA] = {0}, xstride[TSR__WALK_EXTRA] = {0};
  for (int k = 0; k < nl; k++) {
    int64_t s = w->stride[k][inner];
    runs[k].ptr = w->base[k] + (off[k] + j * s) * w->itemsize[k];
    runs[k].stride = s;
    /* Ask for the next blocks of contiguous leaves while this one is
     * computed: the loads overlap with the arithmetic. */
    if (s == 1 && j + 2 * blk < len)
      for (int64_t b = 2 * blk * w->itemsize[k]; b < 3 * blk * w->itemsize[k]; b += 64)
        __builtin_prefetch(runs[k].ptr + b);
  }
  for (int x = 0; nl + x < w->nops; x++) {
    int64_t s = w->stride[nl + x][inner];
    xoff[x] = off[nl + x] + j * s;
    xstride[x] = s;
  }
  const void *values = tsr__eval_block(ev, runs, (size_t)n);
  if (values == NULL)
    return ev->status;
  return visit(user, values, (size_t)n, xoff, xstride, run_end);
}

/* Whether to walk the two innermost axes in tiles: when a leaf is read
 * with a large stride along the run (a transposed view), row after row of
 * full-length runs would touch a new page per element; tiles of TILE_ROWS
 * runs keep the pages and cache lines a tile touches few and reused.  Not
 * when an extra operand reduces along the run but not across runs (tiling
 * would interleave the runs' partial sums). */
#define TILE_ROWS 32
static bool walk_tiled(const tsr__walk *w) {
  int inner = w->ndim - 1;
  if (w->ndim < 2 || w->shape[inner - 1] <= 1)
    return false;
  bool strided = false;
  for (int k = 0; k < w->n_leaves; k++)
    strided |= w->stride[k][inner] > 1 || w->stride[k][inner] < -1;
  for (int x = w->n_leaves; x < w->nops; x++)
    if (w->stride[x][inner] == 0 && w->stride[x][inner - 1] != 0)
      return false;
  return strided;
}

tsr_status tsr__walk_run(tsr__walk *w, tsr__eval *ev, tsr__visit_fn visit, void *user) {
  int ndim = w->ndim, inner = ndim - 1;
  for (int d = 0; d < ndim; d++)
    if (w->shape[d] == 0)
      return TSR_OK;
  bool tiled = walk_tiled(w);
  int outer = tiled ? inner - 1 : inner; /* axes walked by the odometer */
  int64_t idx[TSR_MAX_NDIM] = {0};
  int64_t off[TSR__MAX_LEAVES + TSR__WALK_EXTRA], row[TSR__MAX_LEAVES + TSR__WALK_EXTRA];
  int64_t len = w->shape[inner], blk = (int64_t)ev->block;
  for (;;) {
    for (int op = 0; op < w->nops; op++) {
      int64_t o = 0;
      for (int d = 0; d < outer; d++)
        o += idx[d] * w->stride[op][d];
      off[op] = o;
    }
    if (!tiled) {
      for (int64_t j = 0; j < len; j += blk)
        TSR_TRY(walk_block(w, ev, off, j, len - j < blk ? len - j : blk, len, visit, user,
                           j + blk >= len));
    } else {
      int64_t rows = w->shape[inner - 1];
      for (int64_t i0 = 0; i0 < rows; i0 += TILE_ROWS) {
        int64_t i1 = i0 + TILE_ROWS < rows ? i0 + TILE_ROWS : rows;
        for (int64_t j = 0; j < len; j += blk)
          for (int64_t i = i0; i < i1; i++) {
            for (int op = 0; op < w->nops; op++)
              row[op] = off[op] + i * w->stride[op][inner - 1];
            bool last = i == rows - 1 && j + blk >= len && i1 == rows;
            TSR_TRY(
                walk_block(w, ev, row, j, len - j < blk ? len - j : blk, len, visit, user, last));
          }
      }
    }
    int d = outer - 1;
    while (d >= 0 && ++idx[d] == w->shape[d])
      idx[d--] = 0;
    if (d < 0)
      return TSR_OK;
  }
}

/* ---- the elementwise node ------------------------------------------------- */

typedef struct fused_task {
  const tsr__fused *fused; /* the node's params: alive while the graph runs */
  tsr_ctx *ctx;
} fused_task;

typedef struct copy_out {
  unsigned char *out;
  size_t itemsize;
} copy_out;

static tsr_status visit_copy(void *user, const void *values, size_t n, const int64_t *off,
                             const int64_t *stride, bool run_end) {
  (void)stride;
  (void)run_end;
  const copy_out *c = user;
  memcpy(c->out + (size_t)off[0] * c->itemsize, values, n * c->itemsize);
  return TSR_OK;
}

static tsr_status fused_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = call->params;
  fused_task t;
  memcpy(&t, (const unsigned char *)call->params + tsr__block_extra_offset(b->ndim), sizeof t);
  int ndim = b->ndim;
  const int64_t *shape = tsr__block_shape(b);
  tsr_ctx *ctx = t.ctx;
  tsr__walk walk, *w = &walk; /* on the stack: no allocation per task */
  tsr__walk_setup(w, t.fused, ndim, shape, tsr__block_offset(b), call->inputs, 1);
  int64_t s = 1, *out_stride = w->stride[w->n_leaves];
  for (int d = ndim - 1; d >= 0; d--) {
    out_stride[d] = s;
    s *= shape[d];
  }
  tsr__walk_coalesce(w);
  tsr__eval ev;
  tsr_status status = tsr__eval_init(&ev, ctx, &t.fused->prog, (size_t)w->shape[w->ndim - 1]);
  if (status == TSR_OK) {
    copy_out c = {call->output, (size_t)b->itemsize};
    status = tsr__walk_run(w, &ev, visit_copy, &c);
  }
  tsr__eval_free(&ev, ctx);
  return status;
}

static tsr_status lower_fused(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                              uint32_t *out) {
  const tsr__fused *f = e->params;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "elementwise", fused_kernel, NULL, &k));
  int ndim = e->grid->ndim;
  size_t off = tsr__block_extra_offset(ndim), item = tsr_dtype_size(e->dtype);
  _Alignas(16) unsigned char
      params[sizeof(tsr__block) + 3 * TSR_MAX_NDIM * sizeof(int64_t) + sizeof(fused_task) + 8];
  fused_task t = {f, e->ctx};
  memcpy(params + off, &t, sizeof t);
  uint32_t ids[TSR__MAX_LEAVES];
  int64_t coords[TSR_MAX_NDIM];
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  for (int64_t c = 0; c < n; c++) {
    tsr__block *b = (tsr__block *)params;
    tsr__block_describe(e->grid, c, item, b);
    TSR_TRY(tsr_chunk_grid_coords(e->grid, c, coords));
    tsr__fused_task_inputs(f, (const tsr__expr *const *)e->inputs, in, ndim, coords, ids);
    TSR_TRY(tsr_taskgraph_add_task(g, k, ids, e->n_inputs, params, off + sizeof t,
                                   (size_t)tsr__block_size(b) * item, &out[c]));
  }
  return TSR_OK;
}

static void destroy_fused(tsr__expr *e) { release_leaves(e->ctx, e->params); }

void tsr__fused_hash(const tsr__fused *f, tsr__hash *h) {
  tsr__hash_u64(h, f->prog.n);
  for (uint32_t i = 0; i < f->prog.n; i++) { /* field by field: no padding bytes */
    const tsr__instr *in = &f->prog.code[i];
    uint16_t w[7] = {in->code, in->op, in->dtype, in->src_dtype, in->a, in->b, in->c};
    tsr__hash_bytes(h, w, sizeof w);
    tsr__hash_u64(h, in->imm);
  }
  tsr__hash_u64(h, f->n_leaves);
  for (uint32_t k = 0; k < f->n_leaves; k++) {
    const tsr__leaf *l = &f->leaves[k];
    tsr__hash_u64(h, (uint64_t)(int64_t)l->task_input);
    tsr__hash_u64(h, (uint64_t)l->ndim);
    tsr__hash_i64s(h, l->shape, l->ndim);
    if (l->task_input >= 0)
      continue; /* a node input: lowered and hashed itself */
    tsr__hash_i64s(h, l->mem_stride, l->ndim);
    /* A view of a buffer or of a full() value: a chain of single-input
     * nodes (iterative: the chain may be long). */
    for (const tsr__expr *x = l->expr;; x = x->inputs[0]) {
      tsr__expr_hash(x, h);
      if (x->n_inputs != 1)
        break;
    }
  }
}

static void hash_fused(const tsr__expr *e, tsr__hash *h) { tsr__fused_hash(e->params, h); }

static const tsr__op op_fused = {"elementwise", lower_fused, destroy_fused,
                                 false,         NULL,        hash_fused};

bool tsr__expr_is_fused(const tsr__expr *e) { return e->op == &op_fused; }

bool tsr__program_of(const tsr__expr *e, const tsr__fused **f, const tsr_chunk_grid **space) {
  if (e->op == &op_fused) {
    *f = e->params;
    *space = e->grid;
    return true;
  }
  return tsr__reduce_program(e, f, space);
}

uint32_t tsr__fused_inputs(const tsr__fused *f, tsr__expr **inputs) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < f->n_leaves; k++)
    if (f->leaves[k].task_input >= 0)
      inputs[n++] = f->leaves[k].expr;
  return n;
}

tsr_status tsr__fused_node(tsr_ctx *ctx, tsr__fused *f, tsr_chunk_grid *grid, tsr__expr **out) {
  tsr__expr *inputs[TSR__MAX_LEAVES];
  uint32_t n_inputs = tsr__fused_inputs(f, inputs);
  tsr_dtype dtype = (tsr_dtype)f->prog.code[f->prog.n - 1].dtype;
  return tsr__expr_create(ctx, &op_fused, dtype, grid, n_inputs, inputs, f, out);
}

tsr_status tsr__program_rebuild(const tsr__expr *e, tsr__fused *f, tsr__expr **out) {
  *out = NULL;
  if (e->op != &op_fused)
    return tsr__reduce_rebuild(e, f, out);
  tsr_chunk_grid *grid = NULL;
  tsr_status status = tsr__grid_copy(e->ctx, e->grid, &grid);
  if (status != TSR_OK) {
    tsr__fused_destroy(e->ctx, f);
    return status;
  }
  return tsr__fused_node(e->ctx, f, grid, out);
}

tsr_status tsr__builder_finish(tsr__builder *b, tsr_ctx *ctx, const char *fn, uint16_t result,
                               tsr__expr **out) {
  *out = NULL;
  TSR_TRY(tsr__program_result_last(&b->prog, result));
  tsr__expr *owned[TSR__MAX_LEAVES];
  uint32_t n_owned = 0;
  tsr_chunk_grid *grid = NULL;
  tsr__fused *f = NULL;
  tsr__expr *inputs[TSR__MAX_LEAVES];
  uint32_t n_inputs;
  tsr_status status = tsr__builder_unify(b, ctx, owned, &n_owned);
  if (status == TSR_OK)
    status = tsr__fused_grid(ctx, fn, b, &grid);
  if (status == TSR_OK)
    status = tsr__fused_make(ctx, b, &f, inputs, &n_inputs);
  if (status == TSR_OK) {
    tsr_dtype dtype = (tsr_dtype)b->prog.code[b->prog.n - 1].dtype;
    status = tsr__expr_create(ctx, &op_fused, dtype, grid, n_inputs, inputs, f, out);
    grid = NULL;
  }
  tsr_chunk_grid_destroy(&grid);
  for (uint32_t i = 0; i < n_owned; i++) /* the node holds its own references */
    tsr__expr_release(&owned[i]);
  return status;
}
