/* array_impl.h — what the files of array/ share: the public handle, the
 * per-task block descriptor, chunk resolution and block copies. */
#ifndef TSR_ARRAY_IMPL_H
#define TSR_ARRAY_IMPL_H

#include <tessera/array.h>

#include "core/grid_impl.h"
#include "graph/expr.h"

/* The user's handle: one reference to an expression node. */
struct tsr_array {
  tsr__expr *expr;
};

/* Parameters every per-chunk task carries: where its block sits in the
 * whole array.  Variable length: `dims` holds shape, then offset, then the
 * whole array's shape (ndim entries each). */
typedef struct tsr__block {
  int32_t ndim;
  int32_t itemsize;
  int64_t chunk;  /* the chunk's number in its grid */
  int64_t dims[]; /* shape[ndim], offset[ndim], array_shape[ndim] */
} tsr__block;

static inline const int64_t *tsr__block_shape(const tsr__block *b) { return b->dims; }
static inline const int64_t *tsr__block_offset(const tsr__block *b) { return b->dims + b->ndim; }
static inline const int64_t *tsr__block_array_shape(const tsr__block *b) {
  return b->dims + 2 * b->ndim;
}
static inline size_t tsr__block_bytes(int ndim) {
  return sizeof(tsr__block) + 3 * (size_t)ndim * sizeof(int64_t);
}
/* Where an op's own parameters start after the block descriptor (8-aligned). */
static inline size_t tsr__block_extra_offset(int ndim) {
  return (tsr__block_bytes(ndim) + 7) / 8 * 8;
}

/* Fills a block descriptor for chunk `chunk` of `grid` (buffer of
 * tsr__block_bytes(ndim) bytes). */
void tsr__block_describe(const tsr_chunk_grid *grid, int64_t chunk, size_t itemsize,
                         tsr__block *out);
/* Elements in the block. */
int64_t tsr__block_size(const tsr__block *b);

/* Copies a block between a C-contiguous chunk buffer and the C-contiguous
 * whole array `whole` (to_whole: chunk -> whole, else whole -> chunk). */
void tsr__block_copy(const tsr__block *b, void *whole, void *chunk, bool to_whole);

/* Makes the chunk grid for a creation call: chunks[d] >= 1 is an extent, -1
 * the whole axis, 0 automatic; chunks == NULL all automatic (see array.h). */
tsr_status tsr__resolve_chunks(tsr_ctx *ctx, const char *fn, int ndim, const int64_t *shape,
                               tsr_dtype dtype, const int64_t *chunks, tsr_chunk_grid **out);

/* Wraps a new node into a handle (takes the node's reference). */
tsr_status tsr__array_wrap(tsr__expr *e, tsr_array **out);

/* Adds one task per chunk of e running `kernel` with a block descriptor
 * (followed by `extra` bytes of params, copied after it) and no inputs. */
tsr_status tsr__lower_blockwise_source(const tsr__expr *e, tsr_taskgraph *g, const char *kernel,
                                       tsr_kernel_fn fn, void *user, const void *extra,
                                       size_t extra_bytes, uint32_t *out);

/* The whole array in memory (C order) when e is a node over a user buffer,
 * else NULL: fused tasks read such arrays in place. */
const void *tsr__expr_memory(const tsr__expr *e);

/* Formats a shape as NumPy prints it: "(3, 4)", "(5,)", "()"; returns buf
 * (TSR__SHAPE_TEXT bytes; long shapes are cut with "...)"). */
#define TSR__SHAPE_TEXT 160
const char *tsr__format_shape(char *buf, int ndim, const int64_t *shape);

/* Normalizes axis (negative counts from the end) for an ndim-d array, or
 * fails with TSR_EINVAL naming fn, the axis and ndim. */
tsr_status tsr__normalize_axis(const char *fn, int axis, int ndim, int *out);

#endif /* TSR_ARRAY_IMPL_H */
