/* take.c — indexing by data: np.take along an axis (integer arrays: NumPy's
 * "fancy" indexing on one axis), np.compress (a boolean condition along an
 * axis) and x[mask] (a boolean mask of x's shape; a 1-D result in C order).
 *
 * The indices, the condition or the mask are computed when the call is
 * made: they decide the result's shape, which tessera knows before it
 * computes anything (as NumPy does; Dask leaves such chunks unknown).  The
 * array indexed stays lazy.
 *
 * take: the result's chunks along the axis hold as many indices as the
 * input's largest chunk there; elsewhere they are the input's.  Each output
 * chunk is one gather task (the kernel of rechunk.c) whose pieces are the
 * runs of the indices with a constant step inside one input chunk, so a
 * slice-like index costs one copy per chunk, and the task reads only the
 * input chunks its indices fall in.  compress is take of the condition's
 * true positions.
 *
 * x[mask]: x and the mask are reshaped to 1-D (C order; reshape.c makes the
 * trailing axes whole, so each 1-D chunk is a C-order range), the mask is
 * computed, and every chunk of x with kept elements gives one output chunk
 * whose task packs them by that chunk's bits of the mask, held in the node
 * (one bit per element of x). */
#include <stdio.h>
#include <string.h>

#include "array_impl.h"

/* ---- take ------------------------------------------------------------------------ */

typedef struct take_params {
  int64_t axis;
  int64_t n;
  int64_t idx[]; /* 0 <= idx[t] < the axis' extent */
} take_params;

static void take_hash(const tsr__expr *e, tsr__hash *h) {
  const take_params *p = e->params;
  tsr__hash_u64(h, (uint64_t)p->axis);
  tsr__hash_u64(h, (uint64_t)p->n);
  tsr__hash_bytes(h, p->idx, (size_t)p->n * sizeof *p->idx);
}

/* Words of a gather task: ndim, npieces, dtype, shape[ndim], then per
 * piece slot, dtype, base, start[ndim], count[ndim], stride[ndim]. */
static tsr_status take_lower(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  const take_params *p = e->params;
  const tsr_chunk_grid *og = e->grid, *ig = e->inputs[0]->grid;
  tsr_ctx *ctx = e->ctx;
  int nd = og->ndim, ax = (int)p->axis;
  size_t item = tsr_dtype_size(e->dtype), piece = 3 + 3 * (size_t)nd;
  int64_t nj = ig->nchunks[ax], cmax = tsr__grid_max_extent(og, ax);
  uint32_t kernel;
  TSR_TRY(tsr_taskgraph_add_kernel(g, e->op->name, tsr__gather_kernel, NULL, &kernel));
  int64_t *words = NULL, *slot_of = NULL, *used = NULL;
  uint32_t *ids = NULL;
  /* At most one piece and one input per index of an output chunk. */
  size_t max_words = 3 + (size_t)nd + (size_t)(cmax > 0 ? cmax : 1) * piece;
  tsr_status status = tsr__alloc_array(ctx, max_words, sizeof *words, "take task", (void **)&words);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)nj, sizeof *slot_of, "take task", (void **)&slot_of);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)(cmax > 0 ? cmax : 1), sizeof *ids, "take task",
                              (void **)&ids);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)(cmax > 0 ? cmax : 1), sizeof *used, "take task",
                              (void **)&used);
  for (int64_t j = 0; status == TSR_OK && j < nj; j++)
    slot_of[j] = -1;
  for (int64_t c = 0; status == TSR_OK && c < og->total_chunks; c++) {
    int64_t co[TSR_MAX_NDIM] = {0}, ext[TSR_MAX_NDIM], csize = 1;
    status = tsr_chunk_grid_coords(og, c, co);
    if (status != TSR_OK)
      break;
    for (int d = 0; d < nd; d++) {
      ext[d] = tsr__grid_extent(og, d, co[d]);
      csize *= ext[d];
    }
    int64_t t0 = tsr__grid_offset(og, ax, co[ax]), t1 = t0 + ext[ax];
    size_t nw = 3 + (size_t)nd;
    uint32_t nids = 0;
    for (int64_t t = t0; t < t1 && csize > 0;) {
      int64_t i0 = p->idx[t], j = tsr__grid_locate_axis(ig, ax, i0);
      int64_t jlo = tsr__grid_offset(ig, ax, j), jhi = tsr__grid_offset(ig, ax, j + 1);
      int64_t step = t + 1 < t1 ? p->idx[t + 1] - i0 : 0, len = 1;
      while (t + len < t1 && p->idx[t + len] == i0 + step * len && p->idx[t + len] >= jlo &&
             p->idx[t + len] < jhi)
        len++;
      if (len == 1)
        step = 0;
      if (slot_of[j] < 0) {
        int64_t chunk = 0;
        for (int d = 0; d < nd; d++)
          chunk += (d == ax ? j : co[d]) * ig->stride[d];
        slot_of[j] = nids;
        used[nids] = j;
        ids[nids++] = in[0][chunk];
      }
      /* the input chunk's C-order strides: its extents are the output
       * chunk's but along the axis */
      int64_t istr[TSR_MAX_NDIM];
      for (int d = nd - 1; d >= 0; d--)
        istr[d] = d == nd - 1 ? 1 : istr[d + 1] * (d + 1 == ax ? jhi - jlo : ext[d + 1]);
      int64_t *pw = words + nw;
      pw[0] = slot_of[j];
      pw[1] = e->inputs[0]->dtype;
      pw[2] = (i0 - jlo) * istr[ax];
      for (int d = 0; d < nd; d++) {
        pw[3 + d] = d == ax ? t - t0 : 0;
        pw[3 + nd + d] = d == ax ? len : ext[d];
        pw[3 + 2 * nd + d] = d == ax ? step * istr[ax] : istr[d];
      }
      nw += piece;
      t += len;
    }
    for (uint32_t k = 0; k < nids; k++) /* reset the slots this chunk used */
      slot_of[used[k]] = -1;
    words[0] = nd;
    words[1] = (int64_t)((nw - 3 - (size_t)nd) / piece);
    words[2] = e->dtype;
    for (int d = 0; d < nd; d++)
      words[3 + d] = ext[d];
    status = tsr_taskgraph_add_task(g, kernel, ids, nids, words, nw * sizeof *words,
                                    (size_t)csize * item, &out[c]);
  }
  tsr_free(ctx, words);
  tsr_free(ctx, slot_of);
  tsr_free(ctx, ids);
  tsr_free(ctx, used);
  return status;
}

static const tsr__op op_take = {"take", take_lower, NULL, false, NULL, take_hash};

tsr_status tsr__take_indices(const char *fn, tsr_array *a, int axis, int64_t n,
                            const int64_t *idx, tsr_array **out) {
  tsr_ctx *ctx = a->expr->ctx;
  const tsr_chunk_grid *ig = a->expr->grid;
  int nd = ig->ndim;
  int64_t oshape[TSR_MAX_NDIM], nbytes;
  memcpy(oshape, ig->shape, (size_t)nd * sizeof *oshape);
  oshape[axis] = n;
  TSR_TRY(tsr__shape_bytes(fn, nd, oshape, tsr_dtype_size(a->expr->dtype), &nbytes));
  int64_t per = tsr__grid_max_extent(ig, axis);
  if (per < 1)
    per = 1;
  int64_t nch = n == 0 ? 1 : (n + per - 1) / per;
  int64_t *off = NULL;
  take_params *p = NULL;
  tsr_chunk_grid *grid = NULL;
  tsr_status status =
      tsr__alloc_array(ctx, (size_t)nch + 1, sizeof *off, "take chunks", (void **)&off);
  for (int64_t k = 0; status == TSR_OK && k <= nch; k++)
    off[k] = k * per < n ? k * per : n;
  if (status == TSR_OK) {
    tsr__grid_axis axes[TSR_MAX_NDIM];
    for (int d = 0; d < nd; d++)
      axes[d] = d == axis ? (tsr__grid_axis){NULL, 0, off, nch} : (tsr__grid_axis){ig, d, NULL, 0};
    status = tsr__grid_from_axes(ctx, nd, axes, &grid);
  }
  if (status == TSR_OK)
    status = tsr_alloc(ctx, sizeof *p + (size_t)n * sizeof *idx, (void **)&p);
  tsr_free(ctx, off);
  if (status != TSR_OK) {
    tsr_chunk_grid_destroy(&grid);
    return status;
  }
  p->axis = axis;
  p->n = n;
  if (n > 0)
    memcpy(p->idx, idx, (size_t)n * sizeof *idx);
  tsr__expr *e;
  TSR_TRY(tsr__expr_create(ctx, &op_take, a->expr->dtype, grid, 1, &a->expr, p, &e));
  return tsr__array_wrap(e, out);
}

/* The values of a 1-D array, computed now, as int64 (*out: tsr_alloc'd). */
static tsr_status compute_i64(const char *fn, const char *what, tsr_array *v, int64_t **out) {
  *out = NULL;
  tsr_ctx *ctx = v->expr->ctx;
  int64_t n = v->expr->grid->shape[0];
  tsr_array *cast = NULL;
  int64_t *buf = NULL;
  TSR_TRY(tsr_astype(v, TSR_INT64, &cast));
  tsr_status status = tsr__alloc_array(ctx, (size_t)(n > 0 ? n : 1), sizeof *buf, what,
                                       (void **)&buf);
  if (status == TSR_OK)
    status = tsr_array_to_buffer(cast, buf, (size_t)n * sizeof *buf);
  tsr_array_destroy(&cast);
  if (status != TSR_OK) {
    tsr_free(ctx, buf);
    return tsr_error_set(status, "%s: computing the %s: %s", fn, what, tsr_last_error());
  }
  *out = buf;
  return TSR_OK;
}

static tsr_status check_axis(const char *fn, tsr_array *a, int *axis) {
  int nd = a->expr->grid->ndim;
  TSR_CHECK(nd >= 1, TSR_EINVAL, "%s: a 0-d array has no axis to index", fn);
  TSR_CHECK(*axis >= -nd && *axis < nd, TSR_EINVAL, "%s: axis %d out of range for a %d-d array",
            fn, *axis, nd);
  if (*axis < 0)
    *axis += nd;
  return TSR_OK;
}

tsr_status tsr_take(tsr_array *a, tsr_array *indices, int axis, tsr_array **out) {
  static const char fn[] = "tsr_take";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL && indices != NULL, TSR_EINVAL, "%s: %s is NULL", fn,
            a == NULL ? "a" : "indices");
  TSR_CHECK(a->expr->ctx == indices->expr->ctx, TSR_EINVAL,
            "%s: indices belong to another context than a", fn);
  TSR_TRY(check_axis(fn, a, &axis));
  tsr_dtype it = indices->expr->dtype;
  TSR_CHECK(it >= TSR_INT8 && it <= TSR_UINT64, TSR_EDTYPE,
            "%s: indices must be integers, not %s (a boolean selection is tsr_compress)", fn,
            tsr_dtype_name(it));
  TSR_CHECK(indices->expr->grid->ndim == 1, TSR_ESHAPE, "%s: indices must be 1-d, not %d-d", fn,
            indices->expr->grid->ndim);
  int64_t *idx, n = indices->expr->grid->shape[0], extent = a->expr->grid->shape[axis];
  TSR_TRY(compute_i64(fn, "indices", indices, &idx));
  tsr_status status = TSR_OK;
  for (int64_t t = 0; t < n; t++) {
    int64_t i = idx[t];
    if (i < -extent || i >= extent) {
      status = tsr_error_set(TSR_EINVAL,
                             "%s: index %lld (indices[%lld]) is out of bounds for axis %d with "
                             "size %lld",
                             fn, (long long)i, (long long)t, axis, (long long)extent);
      break;
    }
    idx[t] = i < 0 ? i + extent : i;
  }
  if (status == TSR_OK)
    status = tsr__take_indices(fn, a, axis, n, idx, out);
  tsr_free(a->expr->ctx, idx);
  return status;
}

tsr_status tsr_compress(tsr_array *condition, tsr_array *a, int axis, tsr_array **out) {
  static const char fn[] = "tsr_compress";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL && condition != NULL, TSR_EINVAL, "%s: %s is NULL", fn,
            a == NULL ? "a" : "condition");
  TSR_CHECK(a->expr->ctx == condition->expr->ctx, TSR_EINVAL,
            "%s: condition belongs to another context than a", fn);
  TSR_TRY(check_axis(fn, a, &axis));
  TSR_CHECK(condition->expr->grid->ndim == 1, TSR_ESHAPE, "%s: condition must be 1-d, not %d-d",
            fn, condition->expr->grid->ndim);
  int64_t n = condition->expr->grid->shape[0], extent = a->expr->grid->shape[axis];
  TSR_CHECK(n <= extent, TSR_ESHAPE,
            "%s: condition has %lld elements but axis %d of a has only %lld", fn, (long long)n,
            axis, (long long)extent);
  int64_t *keep;
  TSR_TRY(compute_i64(fn, "condition", condition, &keep));
  int64_t m = 0;
  for (int64_t t = 0; t < n; t++)
    if (keep[t] != 0)
      keep[m++] = t;
  tsr_status status = tsr__take_indices(fn, a, axis, m, keep, out);
  tsr_free(a->expr->ctx, keep);
  return status;
}

/* ---- x[mask] ----------------------------------------------------------------------- */

/* Per output chunk: the input chunk it packs, and where its bits start. */
typedef struct mask_chunk {
  int64_t in_chunk;
  int64_t bit0;
} mask_chunk;

typedef struct mask_params {
  int64_t nout;    /* output chunks */
  int64_t nwords;  /* of bits */
  mask_chunk *chunks;
  uint64_t *bits; /* bit e: element e of the flattened x is kept */
} mask_params;

static void mask_destroy(tsr__expr *e) {
  mask_params *p = e->params;
  tsr_free(e->ctx, p->chunks);
  tsr_free(e->ctx, p->bits);
}

static void mask_hash(const tsr__expr *e, tsr__hash *h) {
  const mask_params *p = e->params;
  tsr__hash_u64(h, (uint64_t)p->nwords);
  tsr__hash_bytes(h, p->bits, (size_t)p->nwords * sizeof *p->bits);
}

/* Task words: item size, elements of the input chunk, then its bits. */
static tsr_status mask_kernel(const tsr_kernel_call *call) {
  const int64_t *w = call->params;
  size_t item = (size_t)w[0];
  int64_t n = w[1];
  const uint64_t *bits = (const uint64_t *)(w + 2);
  const char *src = call->inputs[0];
  char *dst = call->output;
  for (int64_t k = 0; k < (n + 63) / 64; k++) {
    for (uint64_t word = bits[k]; word != 0; word &= word - 1) {
      int64_t e = 64 * k + __builtin_ctzll(word);
      memcpy(dst, src + (size_t)e * item, item);
      dst += item;
    }
  }
  return TSR_OK;
}

static tsr_status mask_lower(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  const mask_params *p = e->params;
  const tsr_chunk_grid *ig = e->inputs[0]->grid, *og = e->grid;
  tsr_ctx *ctx = e->ctx;
  size_t item = tsr_dtype_size(e->dtype);
  uint32_t kernel;
  TSR_TRY(tsr_taskgraph_add_kernel(g, e->op->name, mask_kernel, NULL, &kernel));
  int64_t most = 1;
  for (int64_t c = 0; c < p->nout; c++) {
    int64_t n = tsr__grid_extent(ig, 0, p->chunks[c].in_chunk);
    most = n > most ? n : most;
  }
  int64_t *words;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)(2 + (most + 63) / 64 + 1), sizeof *words, "mask task",
                           (void **)&words));
  tsr_status status = TSR_OK;
  for (int64_t c = 0; c < p->nout && status == TSR_OK; c++) {
    int64_t j = p->chunks[c].in_chunk, n = tsr__grid_extent(ig, 0, j), b0 = p->chunks[c].bit0;
    int64_t nw = (n + 63) / 64;
    words[0] = (int64_t)item;
    words[1] = n;
    uint64_t *bits = (uint64_t *)(words + 2);
    for (int64_t k = 0; k < nw; k++) { /* the chunk's bits, from bit b0 on */
      int64_t at = b0 + 64 * k, q = at / 64, r = at % 64;
      uint64_t v = p->bits[q] >> r;
      if (r != 0 && q + 1 < p->nwords)
        v |= p->bits[q + 1] << (64 - r);
      if (n - 64 * k < 64)
        v &= (UINT64_C(1) << (n - 64 * k)) - 1;
      bits[k] = v;
    }
    status = tsr_taskgraph_add_task(g, kernel, &in[0][j], 1, words,
                                    (size_t)(2 + nw) * sizeof *words,
                                    (size_t)tsr__grid_extent(og, 0, c) * item, &out[c]);
  }
  tsr_free(ctx, words);
  return status;
}

static const tsr__op op_mask = {"mask_select", mask_lower, mask_destroy, false, NULL, mask_hash};

tsr_status tsr_mask_select(tsr_array *a, tsr_array *mask, tsr_array **out) {
  static const char fn[] = "tsr_mask_select";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL && mask != NULL, TSR_EINVAL, "%s: %s is NULL", fn,
            a == NULL ? "a" : "mask");
  TSR_CHECK(a->expr->ctx == mask->expr->ctx, TSR_EINVAL,
            "%s: mask belongs to another context than a", fn);
  const tsr_chunk_grid *ag = a->expr->grid, *mg = mask->expr->grid;
  TSR_CHECK(mask->expr->dtype == TSR_BOOL, TSR_EDTYPE,
            "%s: mask must be bool, not %s (integer indices are tsr_take)", fn,
            tsr_dtype_name(mask->expr->dtype));
  bool same = ag->ndim == mg->ndim;
  for (int d = 0; same && d < ag->ndim; d++)
    same = ag->shape[d] == mg->shape[d];
  char s1[TSR__SHAPE_STR_BYTES], s2[TSR__SHAPE_STR_BYTES];
  TSR_CHECK(same, TSR_ESHAPE, "%s: mask has shape %s but the array has %s; they must match", fn,
            tsr__format_shape(s1, sizeof s1, mg->ndim, mg->shape),
            tsr__format_shape(s2, sizeof s2, ag->ndim, ag->shape));
  tsr_ctx *ctx = a->expr->ctx;
  int64_t size = tsr_array_size(a);
  tsr_array *flat = NULL, *mflat = NULL;
  uint8_t *keep = NULL;
  mask_params *p = NULL;
  int64_t *off = NULL;
  tsr_chunk_grid *grid = NULL;
  tsr_status status = TSR_OK;
  TSR__TRY_GOTO(status, tsr_reshape(a, 1, &size, &flat));
  TSR__TRY_GOTO(status, tsr_reshape(mask, 1, &size, &mflat));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)(size > 0 ? size : 1), 1, "mask",
                                         (void **)&keep));
  status = tsr_array_to_buffer(mflat, keep, (size_t)size);
  if (status != TSR_OK) {
    status = tsr_error_set(status, "%s: computing the mask: %s", fn, tsr_last_error());
    goto fail;
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  const tsr_chunk_grid *fg = flat->expr->grid;
  int64_t nin = fg->nchunks[0];
  p->nwords = (size + 63) / 64;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)(p->nwords > 0 ? p->nwords : 1), sizeof *p->bits,
                                   (void **)&p->bits));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nin + 1, sizeof *p->chunks, "mask chunks",
                                         (void **)&p->chunks));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)nin + 2, sizeof *off, "mask chunks", (void **)&off));
  off[0] = 0;
  for (int64_t j = 0; j < nin; j++) {
    int64_t lo = tsr__grid_offset(fg, 0, j), hi = tsr__grid_offset(fg, 0, j + 1), kept = 0;
    for (int64_t e = lo; e < hi; e++)
      if (keep[e]) {
        p->bits[e / 64] |= UINT64_C(1) << (e % 64);
        kept++;
      }
    if (kept > 0) {
      p->chunks[p->nout] = (mask_chunk){j, lo};
      off[p->nout + 1] = off[p->nout] + kept;
      p->nout++;
    }
  }
  if (p->nout == 0) { /* nothing kept: one empty chunk, packed from chunk 0 */
    p->chunks[0] = (mask_chunk){0, 0};
    off[1] = 0;
    p->nout = 1;
  }
  tsr__grid_axis ax0 = {NULL, 0, off, p->nout};
  TSR__TRY_GOTO(status, tsr__grid_from_axes(ctx, 1, &ax0, &grid));
  tsr__expr *e;
  status = tsr__expr_create(ctx, &op_mask, a->expr->dtype, grid, 1, &flat->expr, p, &e);
  grid = NULL;
  p = NULL;
  if (status == TSR_OK)
    status = tsr__array_wrap(e, out);
fail:
  if (p != NULL) {
    tsr_free(ctx, p->bits);
    tsr_free(ctx, p->chunks);
    tsr_free(ctx, p);
  }
  tsr_chunk_grid_destroy(&grid);
  tsr_free(ctx, off);
  tsr_free(ctx, keep);
  tsr_array_destroy(&flat);
  tsr_array_destroy(&mflat);
  return status;
}
