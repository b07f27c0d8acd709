/* concat.c — joining arrays: concatenate (along an existing axis) and stack
 * (along a new axis).
 *
 * The result's dtype is the promotion of the inputs' (values are converted
 * by the gather kernel).  Its chunks are the inputs' chunks laid side by side
 * along the axis.  On each other axis the inputs' chunks are unified as
 * Dask's unify_chunks does: when they differ, the result takes the union of
 * their boundaries, so an input is only ever split there, never merged, and
 * no chunk grows (a one-chunk column beside a finely chunked matrix keeps
 * the matrix's chunks).  Each input is rechunked (split) to those chunks
 * first, so every output chunk is a (converted) copy of exactly one input
 * chunk: one task per chunk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array_impl.h"

static const tsr__op op_concatenate = {"concatenate", tsr__gather_lower,       NULL,
                                       false,         tsr__gather_lower_chunk, tsr__gather_hash};
static const tsr__op op_stack = {"stack", tsr__gather_lower,       NULL,
                                 false,   tsr__gather_lower_chunk, tsr__gather_hash};

/* Common checks; *dtype receives the promoted dtype. */
static tsr_status check_inputs(const char *fn, size_t n, tsr_array *const *arrays, tsr_array **out,
                               tsr_dtype *dtype) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(n >= 1, TSR_EINVAL, "%s: need at least one array", fn);
  TSR_CHECK(arrays != NULL, TSR_EINVAL, "%s: arrays is NULL", fn);
  TSR_CHECK(n <= UINT32_MAX / 2, TSR_EINVAL, "%s: %zu arrays are too many", fn, n);
  for (size_t i = 0; i < n; i++) {
    TSR_CHECK(arrays[i] != NULL, TSR_EINVAL, "%s: arrays[%zu] is NULL", fn, i);
    TSR_CHECK(arrays[i]->expr->ctx == arrays[0]->expr->ctx, TSR_EINVAL,
              "%s: arrays[%zu] belongs to another context than arrays[0]", fn, i);
  }
  tsr_dtype dt = arrays[0]->expr->dtype;
  for (size_t i = 1; i < n; i++)
    TSR_TRY(tsr_dtype_promote(dt, arrays[i]->expr->dtype, &dt));
  *dtype = dt;
  return TSR_OK;
}

/* Past this many boundaries in all, the union is not built (it costs memory
 * per chunk): the axis with the most chunks is taken instead. */
#define MAX_UNION_BOUNDARIES (INT64_C(1) << 24)

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* The chunks of input axis d in the result: *from's axis d when every
 * input agrees (or the union would be too large), else the union of the
 * inputs' boundaries in *offsets (tsr_alloc'd) with *nchunks chunks. */
static tsr_status unify_axis(tsr_ctx *ctx, size_t n, tsr_array *const *arrays, int d,
                             const tsr_chunk_grid **from, int64_t **offsets, int64_t *nchunks) {
  const tsr_chunk_grid *g0 = arrays[0]->expr->grid, *most = g0;
  *from = g0;
  *offsets = NULL;
  *nchunks = 0;
  bool same = true;
  int64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const tsr_chunk_grid *gi = arrays[i]->expr->grid;
    same = same && tsr__grid_axis_equal(gi, d, g0, d);
    if (gi->nchunks[d] > most->nchunks[d])
      most = gi;
    total += gi->nchunks[d] + 1;
  }
  if (same || g0->shape[d] == 0)
    return TSR_OK;
  if (total > MAX_UNION_BOUNDARIES) {
    *from = most;
    return TSR_OK;
  }
  int64_t *all;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)total, sizeof *all, "concatenate chunks", (void **)&all));
  int64_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int64_t *tmp = NULL;
    const int64_t *off;
    tsr_status status = tsr__grid_axis_offsets(ctx, arrays[i]->expr->grid, d, &tmp, &off);
    if (status != TSR_OK) {
      tsr_free(ctx, all);
      return status;
    }
    memcpy(all + k, off, (size_t)(arrays[i]->expr->grid->nchunks[d] + 1) * sizeof *all);
    k += arrays[i]->expr->grid->nchunks[d] + 1;
    tsr_free(ctx, tmp);
  }
  qsort(all, (size_t)k, sizeof *all, cmp_i64);
  int64_t m = 0;
  for (int64_t j = 0; j < k; j++)
    if (m == 0 || all[j] != all[m - 1])
      all[m++] = all[j];
  *from = NULL;
  *offsets = all;
  *nchunks = m - 1;
  return TSR_OK;
}

/* Builds the joined node.  `axis` is the output axis the inputs are laid
 * along; `new_axis` says whether it is new (stack) or an input axis.  Input
 * i covers [lo[i], lo[i+1]) of that axis. */
static tsr_status join(const char *fn, const tsr__op *op, size_t n, tsr_array *const *arrays,
                       int axis, bool new_axis, tsr_dtype dtype, tsr_array **out) {
  tsr_ctx *ctx = arrays[0]->expr->ctx;
  const tsr_chunk_grid *g0 = arrays[0]->expr->grid;
  int ind = g0->ndim, ond = ind + (new_axis ? 1 : 0);
  tsr_status status = TSR_OK;
  tsr__expr **inputs = NULL;
  tsr__gather_map *maps = NULL;
  int64_t *axis_off = NULL;
  size_t n_in = 0;
  tsr_chunk_grid *grid = NULL, *want = NULL;
  /* The other axes' chunks, unified over the inputs (input axis numbers). */
  tsr__grid_axis other[TSR_MAX_NDIM];
  int64_t *union_off[TSR_MAX_NDIM] = {NULL};
  for (int d = 0; d < ind; d++) {
    if (!new_axis && d == axis)
      continue;
    const tsr_chunk_grid *from;
    int64_t nch;
    TSR__TRY_GOTO(status, unify_axis(ctx, n, arrays, d, &from, &union_off[d], &nch));
    other[d] = from != NULL ? (tsr__grid_axis){from, d, NULL, 0}
                            : (tsr__grid_axis){NULL, 0, union_off[d], nch};
  }
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, n, sizeof *inputs, "concatenate inputs", (void **)&inputs));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, n, sizeof *maps, "concatenate inputs", (void **)&maps));
  /* Output axis `axis`: every input's chunks (stack: one chunk each). */
  size_t total_chunks = 0;
  for (size_t i = 0; i < n; i++)
    total_chunks += new_axis ? 1 : (size_t)arrays[i]->expr->grid->nchunks[axis];
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, total_chunks + 1, sizeof *axis_off,
                                         "concatenate chunks", (void **)&axis_off));
  int64_t nax = 0, at = 0;
  axis_off[0] = 0;
  for (size_t i = 0; i < n; i++) {
    const tsr_chunk_grid *gi = arrays[i]->expr->grid;
    /* Chunks of input i: its own along the axis, the unified ones elsewhere. */
    tsr__grid_axis axes[TSR_MAX_NDIM];
    for (int d = 0; d < ind; d++)
      axes[d] = !new_axis && d == axis ? (tsr__grid_axis){gi, d, NULL, 0} : other[d];
    TSR__TRY_GOTO(status, tsr__grid_from_axes(ctx, ind, axes, &want));
    TSR__TRY_GOTO(status, tsr__rechunk_expr(arrays[i]->expr, want, &inputs[n_in]));
    n_in++;
    tsr_chunk_grid_destroy(&want);
    int64_t extent = new_axis ? 1 : gi->shape[axis];
    tsr__gather_map *m = &maps[i];
    memset(m, 0, sizeof *m);
    m->ndim = ind;
    for (int d = 0; d < ind; d++) {
      int k = new_axis && d >= axis ? d + 1 : d;
      m->oax[d] = k;
      m->s[d] = 1;
      m->a[d] = k == axis ? -at : 0;
      m->olo[k] = 0;
      m->ohi[k] = gi->shape[d];
    }
    m->olo[axis] = at;
    m->ohi[axis] = at + extent;
    if (new_axis) {
      axis_off[++nax] = at + 1;
    } else {
      for (int64_t c = 0; c < gi->nchunks[axis]; c++)
        if (tsr__grid_extent(gi, axis, c) > 0)
          axis_off[++nax] = at + tsr__grid_offset(gi, axis, c + 1);
    }
    at += extent;
  }
  if (nax == 0)
    axis_off[++nax] = 0; /* an axis of extent 0: one empty chunk */
  tsr__grid_axis oaxes[TSR_MAX_NDIM];
  for (int k = 0; k < ond; k++)
    oaxes[k] = k == axis ? (tsr__grid_axis){NULL, 0, axis_off, nax}
                         : other[new_axis && k > axis ? k - 1 : k];
  TSR__TRY_GOTO(status, tsr__grid_from_axes(ctx, ond, oaxes, &grid));
  tsr__expr *e;
  status = tsr__gather_create(ctx, op, dtype, grid, (uint32_t)n, inputs, maps, &e);
  grid = NULL;
  if (status == TSR_OK)
    status = tsr__array_wrap(e, out);
fail:
  (void)fn;
  tsr_chunk_grid_destroy(&grid);
  tsr_chunk_grid_destroy(&want);
  for (size_t i = 0; i < n_in; i++)
    tsr__expr_release(&inputs[i]);
  tsr_free(ctx, inputs);
  tsr_free(ctx, maps);
  tsr_free(ctx, axis_off);
  for (int d = 0; d < ind; d++)
    tsr_free(ctx, union_off[d]);
  return status;
}

tsr_status tsr_concatenate(size_t n, tsr_array *const *arrays, int axis, tsr_array **out) {
  static const char fn[] = "tsr_concatenate";
  tsr_dtype dtype;
  TSR_TRY(check_inputs(fn, n, arrays, out, &dtype));
  const tsr_chunk_grid *g0 = arrays[0]->expr->grid;
  int ndim = g0->ndim;
  TSR_CHECK(ndim > 0, TSR_EINVAL, "%s: zero-dimensional arrays cannot be concatenated", fn);
  TSR_CHECK(axis >= -ndim && axis < ndim, TSR_EINVAL, "%s: axis %d out of range for %d-d array", fn,
            axis, ndim);
  if (axis < 0)
    axis += ndim;
  int64_t total = 0;
  for (size_t i = 0; i < n; i++) {
    const tsr_chunk_grid *gi = arrays[i]->expr->grid;
    bool ok = gi->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
      ok = d == axis || gi->shape[d] == g0->shape[d];
    char s1[TSR__SHAPE_STR_BYTES], s2[TSR__SHAPE_STR_BYTES];
    TSR_CHECK(ok, TSR_ESHAPE,
              "%s: array %zu has shape %s but array 0 has %s; they must match except along "
              "axis %d",
              fn, i, tsr__format_shape(s1, sizeof s1, gi->ndim, gi->shape),
              tsr__format_shape(s2, sizeof s2, ndim, g0->shape), axis);
    TSR_CHECK(tsr__add_i64(total, gi->shape[axis], &total), TSR_EINVAL,
              "%s: the result's extent along axis %d overflows int64", fn, axis);
  }
  int64_t oshape[TSR_MAX_NDIM];
  memcpy(oshape, g0->shape, (size_t)ndim * sizeof *oshape);
  oshape[axis] = total;
  int64_t nbytes;
  TSR_TRY(tsr__shape_bytes(fn, ndim, oshape, tsr_dtype_size(dtype), &nbytes));
  return join(fn, &op_concatenate, n, arrays, axis, false, dtype, out);
}

tsr_status tsr_stack(size_t n, tsr_array *const *arrays, int axis, tsr_array **out) {
  static const char fn[] = "tsr_stack";
  tsr_dtype dtype;
  TSR_TRY(check_inputs(fn, n, arrays, out, &dtype));
  const tsr_chunk_grid *g0 = arrays[0]->expr->grid;
  int ndim = g0->ndim;
  TSR_CHECK(ndim < TSR_MAX_NDIM, TSR_EINVAL, "%s: the result would have more than %d axes", fn,
            TSR_MAX_NDIM);
  TSR_CHECK(axis >= -(ndim + 1) && axis <= ndim, TSR_EINVAL,
            "%s: axis %d out of range for %d-d result", fn, axis, ndim + 1);
  if (axis < 0)
    axis += ndim + 1;
  for (size_t i = 0; i < n; i++) {
    const tsr_chunk_grid *gi = arrays[i]->expr->grid;
    bool ok = gi->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
      ok = gi->shape[d] == g0->shape[d];
    char s1[TSR__SHAPE_STR_BYTES], s2[TSR__SHAPE_STR_BYTES];
    TSR_CHECK(ok, TSR_ESHAPE, "%s: array %zu has shape %s but array 0 has %s; all must match", fn,
              i, tsr__format_shape(s1, sizeof s1, gi->ndim, gi->shape),
              tsr__format_shape(s2, sizeof s2, ndim, g0->shape));
  }
  int64_t oshape[TSR_MAX_NDIM];
  for (int k = 0, d = 0; k <= ndim; k++)
    oshape[k] = k == axis ? (int64_t)n : g0->shape[d++];
  int64_t nbytes;
  TSR_TRY(tsr__shape_bytes(fn, ndim + 1, oshape, tsr_dtype_size(dtype), &nbytes));
  return join(fn, &op_stack, n, arrays, axis, true, dtype, out);
}
