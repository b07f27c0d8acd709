/* sort_internal.h — what sort.c shares with order_count.c (histogram,
 * bincount, digitize, searchsorted, isin, unique). */
#ifndef TSR_ARRAY_SORT_INTERNAL_H
#define TSR_ARRAY_SORT_INTERNAL_H

#include "array_impl.h"

/* A node of `op` over `grid` (taken, even on failure) with a copy of the
 * params block, wrapped in a handle. */
tsr_status tsr__order_wrap(tsr_ctx *ctx, const tsr__op *op, tsr_dtype dtype, tsr_chunk_grid *grid,
                           uint32_t n, tsr__expr *const *in, const void *params, size_t bytes,
                           tsr_array **out);
/* A grid of one chunk over `shape`. */
tsr_status tsr__order_one_chunk_grid(tsr_ctx *ctx, int ndim, const int64_t *shape,
                                     tsr_chunk_grid **out);
/* x flattened (C order) into a 1-D node of at most max_chunks chunks (one
 * new reference). */
tsr_status tsr__order_flat(tsr__expr *x, int64_t max_chunks, tsr__expr **out);

#endif /* TSR_ARRAY_SORT_INTERNAL_H */
