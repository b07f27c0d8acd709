/* block.c — blocks of an array: describing a chunk's place in the whole
 * array, copying a block between a chunk buffer and a C-contiguous whole
 * array (row by row: one memcpy per run along the last axis), and resolving
 * the `chunks` argument of creation calls into a chunk grid. */
#include <stdio.h>
#include <string.h>

#include "array_impl.h"

void tsr__block_describe(const tsr_chunk_grid *grid, int64_t chunk, size_t itemsize,
                         tsr__block *out) {
  int ndim = grid->ndim;
  out->ndim = ndim;
  out->itemsize = (int32_t)itemsize;
  out->chunk = chunk;
  int64_t *shape = out->dims, *offset = out->dims + ndim, *whole = out->dims + 2 * ndim;
  /* C order: the last axis varies fastest. */
  int64_t rest = chunk;
  for (int d = ndim - 1; d >= 0; d--) {
    int64_t i = rest % grid->nchunks[d];
    rest /= grid->nchunks[d];
    offset[d] = tsr__grid_offset(grid, d, i);
    shape[d] = tsr__grid_extent(grid, d, i);
    whole[d] = grid->shape[d];
  }
}

int64_t tsr__block_size(const tsr__block *b) {
  int64_t n = 1;
  for (int d = 0; d < b->ndim; d++)
    n *= tsr__block_shape(b)[d];
  return n;
}

void tsr__block_copy(const tsr__block *b, void *whole, void *chunk, bool to_whole) {
  int ndim = b->ndim;
  size_t item = (size_t)b->itemsize;
  if (tsr__block_size(b) == 0)
    return;
  if (ndim == 0) {
    memcpy(to_whole ? whole : chunk, to_whole ? chunk : whole, item);
    return;
  }
  const int64_t *shape = tsr__block_shape(b), *offset = tsr__block_offset(b);
  const int64_t *wshape = tsr__block_array_shape(b);
  size_t row_bytes = (size_t)shape[ndim - 1] * item;
  /* Element strides of the whole array, and the block's first element. */
  int64_t stride[TSR_MAX_NDIM];
  stride[ndim - 1] = 1;
  for (int d = ndim - 2; d >= 0; d--)
    stride[d] = stride[d + 1] * wshape[d + 1];
  int64_t base = 0;
  for (int d = 0; d < ndim; d++)
    base += offset[d] * stride[d];
  int64_t idx[TSR_MAX_NDIM] = {0}; /* row index over axes 0..ndim-2 */
  char *c = chunk;
  for (;;) {
    int64_t at = base;
    for (int d = 0; d < ndim - 1; d++)
      at += idx[d] * stride[d];
    char *w = (char *)whole + (size_t)at * item;
    memcpy(to_whole ? w : c, to_whole ? c : w, row_bytes);
    c += row_bytes;
    int d = ndim - 2;
    while (d >= 0 && ++idx[d] == shape[d])
      idx[d--] = 0;
    if (d < 0)
      break;
  }
}

tsr_status tsr__resolve_chunks(tsr_ctx *ctx, const char *fn, int ndim, const int64_t *shape,
                               tsr_dtype dtype, const int64_t *chunks, tsr_chunk_grid **out) {
  *out = NULL;
  TSR_CHECK(ndim >= 0 && ndim <= TSR_MAX_NDIM, TSR_EINVAL, "%s: ndim = %d must be from 0 to %d", fn,
            ndim, TSR_MAX_NDIM);
  TSR_CHECK(ndim == 0 || shape != NULL, TSR_EINVAL, "%s: shape is NULL", fn);
  int64_t nbytes; /* the node's invariant (core_impl.h), checked here to name fn */
  TSR_TRY(tsr__shape_bytes(fn, ndim, shape, tsr_dtype_size(dtype), &nbytes));
  bool any_auto = chunks == NULL;
  for (int d = 0; chunks != NULL && d < ndim; d++) {
    TSR_CHECK(chunks[d] >= -1, TSR_EINVAL,
              "%s: chunks[%d] = %lld: use an extent >= 1, -1 for the whole axis or 0 for "
              "automatic",
              fn, d, (long long)chunks[d]);
    any_auto |= chunks[d] == 0;
  }
  tsr_status status;
  if (any_auto) {
    status = tsr_chunk_grid_create_auto(ctx, ndim, shape, tsr_dtype_size(dtype), 0, chunks, out);
  } else {
    int64_t uniform[TSR_MAX_NDIM];
    for (int d = 0; d < ndim; d++)
      uniform[d] = chunks[d] == -1 ? (shape[d] > 0 ? shape[d] : 1) : chunks[d];
    status = tsr_chunk_grid_create_uniform(ctx, ndim, shape, uniform, out);
  }
  if (status != TSR_OK && status != TSR_ENOMEM)
    return tsr_error_set(status, "%s: %s", fn, tsr_last_error());
  return status;
}

tsr_status tsr__array_wrap(tsr__expr *e, tsr_array **out) {
  tsr_array *a;
  tsr_status status = tsr_alloc(e->ctx, sizeof *a, (void **)&a);
  if (status != TSR_OK) {
    tsr__expr_release(&e);
    return status;
  }
  a->expr = e;
  *out = a;
  return TSR_OK;
}

/* Adds the tasks of chunks [c0, c1) (out[k] for chunk c0 + k). */
static tsr_status blockwise_range(const tsr__expr *e, tsr_taskgraph *g, const char *kernel,
                                  tsr_kernel_fn fn, void *user, const void *extra,
                                  size_t extra_bytes, int64_t c0, int64_t c1, uint32_t *out) {
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, kernel, fn, user, &k));
  int ndim = e->grid->ndim;
  /* Parameters: the block descriptor, then the op's extra bytes (8-aligned). */
  size_t extra_off = tsr__block_extra_offset(ndim);
  _Alignas(16) unsigned char params[sizeof(tsr__block) + 3 * TSR_MAX_NDIM * sizeof(int64_t) + 256];
  TSR_CHECK(extra_off + extra_bytes <= sizeof params, TSR_EINTERNAL,
            "block parameters of %zu bytes do not fit", extra_bytes);
  if (extra_bytes > 0)
    memcpy(params + extra_off, extra, extra_bytes);
  size_t itemsize = tsr_dtype_size(e->dtype);
  for (int64_t c = c0; c < c1; c++) {
    tsr__block *b = (tsr__block *)params;
    tsr__block_describe(e->grid, c, itemsize, b);
    size_t bytes = (size_t)tsr__block_size(b) * itemsize; /* <= TSR__MAX_BYTES: no overflow */
    TSR_TRY(tsr_taskgraph_add_task(g, k, NULL, 0, params, extra_off + extra_bytes, bytes,
                                   &out[c - c0]));
  }
  return TSR_OK;
}

tsr_status tsr__lower_blockwise_source(const tsr__expr *e, tsr_taskgraph *g, const char *kernel,
                                       tsr_kernel_fn fn, void *user, const void *extra,
                                       size_t extra_bytes, uint32_t *out) {
  return blockwise_range(e, g, kernel, fn, user, extra, extra_bytes, 0,
                         tsr_chunk_grid_nchunks(e->grid), out);
}

tsr_status tsr__lower_blockwise_source_chunk(const tsr__expr *e, tsr_taskgraph *g,
                                             const char *kernel, tsr_kernel_fn fn, void *user,
                                             const void *extra, size_t extra_bytes, int64_t c,
                                             uint32_t *task) {
  return blockwise_range(e, g, kernel, fn, user, extra, extra_bytes, c, c + 1, task);
}

tsr_status tsr__normalize_axis(const char *fn, int axis, int ndim, int *out) {
  TSR_CHECK(axis >= -ndim && axis < ndim, TSR_EINVAL,
            "%s: axis %d is out of bounds for a %d-d array", fn, axis, ndim);
  *out = axis < 0 ? axis + ndim : axis;
  return TSR_OK;
}
