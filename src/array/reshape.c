/* reshape.c — C-order reshape, squeeze and expand_dims.
 *
 * Reshape follows Dask's reshape_rechunk: the axes of both shapes are split
 * into the smallest consecutive groups with equal products (extent-1 axes
 * alone).  Within a group, if every input axis but the first is whole and
 * every output axis but the first is whole, a block of the group is a
 * contiguous range of its C-order flat index on both sides; a range maps
 * onto exactly one chunk of each side when its boundaries are multiples of
 * lcm(inner input size, inner output size).  So the input is first
 * rechunked (only if needed) so that its group-leading axes have such
 * boundaries — the input's own boundaries rounded to the nearest multiple —
 * and the other group axes are whole; then every output chunk is one input
 * chunk's bytes, unchanged: one memcpy task per chunk.  The price is that
 * merged trailing axes become whole (as in Dask).
 *
 * squeeze and expand_dims change no element order: they are gathers with a
 * fixed element or a repeated axis, one copy task per chunk. */
#include <stdio.h>
#include <string.h>

#include "array_impl.h"

typedef struct reshape_params {
  int32_t in_axis[TSR_MAX_NDIM]; /* input axis whose chunk index an output axis carries, or -1 */
} reshape_params;

static tsr_status copy_kernel(const tsr_kernel_call *call) {
  if (call->output_bytes > 0)
    memcpy(call->output, call->inputs[0], call->output_bytes);
  return TSR_OK;
}

static tsr_status lower_reshape(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                uint32_t *out) {
  const reshape_params *p = e->params;
  const tsr_chunk_grid *og = e->grid, *ig = e->inputs[0]->grid;
  int ndim = og->ndim;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "reshape", copy_kernel, NULL, &k));
  size_t item = tsr_dtype_size(e->dtype);
  int64_t coords[TSR_MAX_NDIM] = {0};
  for (int64_t c = 0; c < og->total_chunks; c++) {
    int64_t size = 1, chunk = 0;
    for (int d = 0; d < ndim; d++) {
      size *= tsr__grid_extent(og, d, coords[d]);
      if (p->in_axis[d] >= 0)
        chunk += coords[d] * ig->stride[p->in_axis[d]];
    }
    if (size > 0)
      TSR_TRY(
          tsr_taskgraph_add_task(g, k, &in[0][chunk], 1, NULL, 0, (size_t)size * item, &out[c]));
    else
      TSR_TRY(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 0, &out[c]));
    int d = ndim - 1;
    while (d >= 0 && ++coords[d] == og->nchunks[d])
      coords[d--] = 0;
  }
  return TSR_OK;
}

static void hash_reshape(const tsr__expr *e, tsr__hash *h) {
  const reshape_params *p = e->params;
  for (int d = 0; d < e->grid->ndim; d++)
    tsr__hash_u64(h, (uint64_t)(int64_t)p->in_axis[d]);
}

static const tsr__op op_reshape = {"reshape", lower_reshape, NULL, false, NULL, hash_reshape};

static int64_t gcd64(int64_t a, int64_t b) {
  while (b != 0) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Boundaries of a group's leading axes, in the group's flat index: the
 * input's boundaries rounded to multiples of l; writes them to flat (which
 * holds nin + 2) and returns their number of chunks. */
static int64_t group_bounds(const int64_t *ioff, int64_t nin, int64_t cs_in, int64_t l, int64_t P,
                            int64_t *flat) {
  int64_t n = 0;
  flat[0] = 0;
  for (int64_t i = 1; i < nin; i++) {
    int64_t x = ioff[i] * cs_in;
    int64_t r = (x + l / 2) / l * l;
    if (r > flat[n] && r < P)
      flat[++n] = r;
  }
  flat[++n] = P;
  return n;
}

tsr_status tsr_reshape(tsr_array *a, int ndim, const int64_t *shape, tsr_array **out) {
  static const char fn[] = "tsr_reshape";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  TSR_CHECK(ndim >= 0 && ndim <= TSR_MAX_NDIM, TSR_EINVAL, "%s: ndim = %d must be from 0 to %d", fn,
            ndim, TSR_MAX_NDIM);
  TSR_CHECK(ndim == 0 || shape != NULL, TSR_EINVAL, "%s: shape is NULL", fn);
  const tsr_chunk_grid *ig = a->expr->grid;
  tsr_ctx *ctx = a->expr->ctx;
  int nin = ig->ndim;
  int64_t size = tsr_array_size(a);
  char s1[TSR__SHAPE_STR_BYTES], s2[TSR__SHAPE_STR_BYTES];
  /* Infer the -1 and check the sizes. */
  int unknown = -1;
  int64_t known = 1;
  bool overflow = false;
  for (int d = 0; d < ndim; d++) {
    if (shape[d] == -1) {
      TSR_CHECK(unknown < 0, TSR_EINVAL, "%s: can only specify one unknown dimension in %s", fn,
                tsr__format_shape(s1, sizeof s1, ndim, shape));
      unknown = d;
      continue;
    }
    TSR_CHECK(shape[d] >= 0, TSR_EINVAL, "%s: shape[%d] = %lld is negative", fn, d,
              (long long)shape[d]);
    overflow |= !tsr__mul_i64(known, shape[d], &known);
  }
  int64_t oshape[TSR_MAX_NDIM];
  if (ndim > 0)
    memcpy(oshape, shape, (size_t)ndim * sizeof *oshape);
  bool ok = !overflow;
  if (ok && unknown >= 0) {
    ok = known != 0 && size % known == 0;
    if (ok)
      oshape[unknown] = size / known;
  } else if (ok) {
    ok = known == size;
  }
  TSR_CHECK(ok, TSR_ESHAPE, "%s: cannot reshape array of shape %s (%lld elements) into shape %s",
            fn, tsr__format_shape(s1, sizeof s1, nin, ig->shape), (long long)size,
            tsr__format_shape(s2, sizeof s2, ndim, shape));
  /* A reshape of a reshape is a reshape of the first one's input (C order
   * is kept throughout), so a chain of reshapes is one node deep. */
  tsr__expr *from = a->expr;
  while (from->op == &op_reshape)
    from = from->inputs[0];
  ig = from->grid;
  nin = ig->ndim;

  reshape_params *p = NULL;
  tsr_status status = TSR_OK;
  int64_t *ioff[TSR_MAX_NDIM] = {0}, *ooff[TSR_MAX_NDIM] = {0};
  int64_t inch[TSR_MAX_NDIM], onch[TSR_MAX_NDIM];
  int64_t *flat = NULL;
  tsr_chunk_grid *want = NULL, *grid = NULL;
  tsr__expr *src = NULL, *e = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  for (int d = 0; d < ndim; d++)
    p->in_axis[d] = -1;
  /* Default: every axis whole (one chunk; an extent-0 axis one empty chunk). */
  for (int d = 0; d < nin; d++) {
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)ig->nchunks[d] + 2, sizeof(int64_t),
                                           "reshape chunks", (void **)&ioff[d]));
    ioff[d][0] = 0;
    ioff[d][1] = ig->shape[d];
    inch[d] = 1;
  }
  for (int d = 0; d < ndim; d++) {
    TSR__TRY_GOTO(status,
                  tsr__alloc_array(ctx, 2, sizeof(int64_t), "reshape chunks", (void **)&ooff[d]));
    ooff[d][0] = 0;
    ooff[d][1] = oshape[d];
    onch[d] = 1;
  }
  if (size > 0) {
    int i = 0, o = 0;
    while (i < nin || o < ndim) {
      if (i < nin && ig->shape[i] == 1 && (o >= ndim || oshape[o] != 1)) {
        i++;
        continue;
      }
      if (o < ndim && oshape[o] == 1 && (i >= nin || ig->shape[i] != 1)) {
        o++;
        continue;
      }
      int il = i++, ol = o++;
      int64_t pi = ig->shape[il], po = oshape[ol];
      while (pi != po) {
        if (pi < po)
          pi *= ig->shape[i++];
        else
          po *= oshape[o++];
      }
      int64_t P = pi, cs_in = P / ig->shape[il], cs_out = P / oshape[ol];
      int64_t l = cs_in / gcd64(cs_in, cs_out) * cs_out;
      TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)ig->nchunks[il] + 2, sizeof *flat,
                                             "reshape chunks", (void **)&flat));
      int64_t *tmp = NULL;
      const int64_t *il_off;
      TSR__TRY_GOTO(status, tsr__grid_axis_offsets(ctx, ig, il, &tmp, &il_off));
      int64_t nb = group_bounds(il_off, ig->nchunks[il], cs_in, l, P, flat);
      tsr_free(ctx, tmp);
      tsr_free(ctx, ooff[ol]);
      ooff[ol] = NULL;
      TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nb + 1, sizeof(int64_t), "reshape chunks",
                                             (void **)&ooff[ol]));
      for (int64_t b = 0; b <= nb; b++) {
        ioff[il][b] = flat[b] / cs_in;
        ooff[ol][b] = flat[b] / cs_out;
      }
      inch[il] = onch[ol] = nb;
      p->in_axis[ol] = il;
      tsr_free(ctx, flat);
      flat = NULL;
    }
  }
  TSR__TRY_GOTO(status,
                tsr__grid_from_offsets(ctx, nin, (const int64_t *const *)ioff, inch, &want));
  TSR__TRY_GOTO(status,
                tsr__grid_from_offsets(ctx, ndim, (const int64_t *const *)ooff, onch, &grid));
  if (size > 0) {
    TSR__TRY_GOTO(status, tsr__rechunk_expr(from, want, &src));
  } else {
    src = from; /* nothing is read */
    tsr__expr_retain(src);
  }
  status = tsr__expr_create(ctx, &op_reshape, a->expr->dtype, grid, 1, &src, p, &e);
  grid = NULL;
  p = NULL;
  if (status == TSR_OK)
    status = tsr__array_wrap(e, out);
fail:
  tsr__expr_release(&src);
  tsr_chunk_grid_destroy(&want);
  tsr_chunk_grid_destroy(&grid);
  tsr_free(ctx, p);
  tsr_free(ctx, flat);
  for (int d = 0; d < TSR_MAX_NDIM; d++) {
    tsr_free(ctx, ioff[d]);
    tsr_free(ctx, ooff[d]);
  }
  return status;
}

/* ---- squeeze and expand_dims ----------------------------------------------------------- */

static const tsr__op op_squeeze = {"squeeze", tsr__gather_lower,       NULL,
                                   false,     tsr__gather_lower_chunk, tsr__gather_hash};
static const tsr__op op_expand_dims = {"expand_dims", tsr__gather_lower,       NULL,
                                       false,         tsr__gather_lower_chunk, tsr__gather_hash};
static const int64_t one_chunk[2] = {0, 1};

/* A gather of a with input axis d going to output axis to[d] (-1: dropped,
 * extent 1), the output having ond axes; new output axes have extent 1. */
static tsr_status relabel(tsr_array *a, const tsr__op *op, const int *to, int ond,
                          tsr_array **out) {
  const tsr_chunk_grid *ig = a->expr->grid;
  tsr__gather_map map;
  memset(&map, 0, sizeof map);
  map.ndim = ig->ndim;
  tsr__grid_axis axes[TSR_MAX_NDIM];
  for (int k = 0; k < ond; k++) {
    axes[k] = (tsr__grid_axis){NULL, 0, one_chunk, 1};
    map.olo[k] = 0;
    map.ohi[k] = 1;
  }
  for (int d = 0; d < ig->ndim; d++) {
    map.oax[d] = to[d];
    map.s[d] = 1;
    if (to[d] >= 0) {
      axes[to[d]] = (tsr__grid_axis){ig, d, NULL, 0};
      map.ohi[to[d]] = ig->shape[d];
    }
  }
  tsr_chunk_grid *grid;
  TSR_TRY(tsr__grid_from_axes(a->expr->ctx, ond, axes, &grid));
  tsr__expr *e;
  TSR_TRY(tsr__gather_create(a->expr->ctx, op, a->expr->dtype, grid, 1, &a->expr, &map, &e));
  return tsr__array_wrap(e, out);
}

tsr_status tsr_squeeze(tsr_array *a, const int *axes, int naxes, tsr_array **out) {
  static const char fn[] = "tsr_squeeze";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  const tsr_chunk_grid *ig = a->expr->grid;
  int ndim = ig->ndim;
  TSR_CHECK(naxes >= 0, TSR_EINVAL, "%s: naxes = %d is negative", fn, naxes);
  TSR_CHECK(naxes == 0 || axes != NULL, TSR_EINVAL, "%s: axes is NULL with naxes = %d", fn, naxes);
  bool drop[TSR_MAX_NDIM] = {false};
  for (int i = 0; i < naxes; i++) {
    int ax = axes[i];
    TSR_CHECK(ax >= -ndim && ax < ndim, TSR_EINVAL, "%s: axis %d out of range for %d-d array", fn,
              ax, ndim);
    if (ax < 0)
      ax += ndim;
    TSR_CHECK(!drop[ax], TSR_EINVAL, "%s: repeated axis %d", fn, ax);
    TSR_CHECK(ig->shape[ax] == 1, TSR_EINVAL, "%s: cannot squeeze axis %d of extent %lld (not 1)",
              fn, ax, (long long)ig->shape[ax]);
    drop[ax] = true;
  }
  if (naxes == 0)
    for (int d = 0; d < ndim; d++)
      drop[d] = ig->shape[d] == 1;
  int to[TSR_MAX_NDIM], ond = 0;
  for (int d = 0; d < ndim; d++)
    to[d] = drop[d] ? -1 : ond++;
  return relabel(a, &op_squeeze, to, ond, out);
}

tsr_status tsr_expand_dims(tsr_array *a, int axis, tsr_array **out) {
  static const char fn[] = "tsr_expand_dims";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  int ndim = a->expr->grid->ndim;
  TSR_CHECK(ndim < TSR_MAX_NDIM, TSR_EINVAL, "%s: the result would have more than %d axes", fn,
            TSR_MAX_NDIM);
  TSR_CHECK(axis >= -(ndim + 1) && axis <= ndim, TSR_EINVAL,
            "%s: axis %d out of range for %d-d result", fn, axis, ndim + 1);
  if (axis < 0)
    axis += ndim + 1;
  int to[TSR_MAX_NDIM];
  for (int d = 0; d < ndim; d++)
    to[d] = d < axis ? d : d + 1;
  return relabel(a, &op_expand_dims, to, ndim + 1, out);
}
