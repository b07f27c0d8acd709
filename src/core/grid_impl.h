/* grid_impl.h — the chunk grid's struct, shared with the layers above core
 * (array lowering reads the offsets directly instead of calling getters in
 * inner loops).  Not installed.
 *
 * Invariants, established by the constructors in grid.c and never changed
 * afterwards (the grid is immutable, so any number of threads may read it):
 *   0 <= ndim <= TSR_MAX_NDIM; entries at d >= ndim are zero / NULL;
 *   shape[d] >= 0, and the product of the non-zero extents fits in int64;
 *   nchunks[d] >= 1 (an axis of extent 0 has one chunk of extent 0);
 *   offsets[d] has nchunks[d] + 1 entries: offsets[d][0] = 0, non-decreasing
 *     (strictly increasing unless shape[d] == 0), offsets[d][nchunks[d]] =
 *     shape[d]; chunk i of axis d covers [offsets[d][i], offsets[d][i+1]);
 *   stride[d] = nchunks[d+1] * ... * nchunks[ndim-1] (C order), and
 *   total_chunks = the product of all nchunks (1 for ndim 0), <= INT64_MAX.
 * The struct and each offsets array are allocated from `ctx`, which must
 * outlive the grid. */
#ifndef TSR_GRID_IMPL_H
#define TSR_GRID_IMPL_H

#include "core_impl.h"

struct tsr_chunk_grid {
  tsr_ctx *ctx;
  int ndim;
  int64_t total_chunks;
  int64_t shape[TSR_MAX_NDIM];
  int64_t nchunks[TSR_MAX_NDIM];
  int64_t stride[TSR_MAX_NDIM];
  int64_t *offsets[TSR_MAX_NDIM];
};

#endif /* TSR_GRID_IMPL_H */
