/* grid_impl.h — the chunk grid's struct, shared with the layers above core
 * (array lowering reads chunk boundaries through the inline accessors below
 * instead of calling getters in inner loops).  Not installed.
 *
 * Invariants, established by the constructors in grid.c and never changed
 * afterwards (the grid is immutable, so any number of threads may read it):
 *   0 <= ndim <= TSR_MAX_NDIM; entries at d >= ndim are zero / NULL;
 *   shape[d] >= 0, and the product of the non-zero extents fits in int64;
 *   nchunks[d] >= 1 (an axis of extent 0 has one chunk of extent 0);
 *   axis d is regular when offsets[d] == NULL: every chunk but the last has
 *     extent chunk[d] >= 1 and the last has shape[d] - (nchunks[d] - 1) *
 *     chunk[d] in 1..chunk[d] (an axis of extent 0: chunk[d] = 0, one chunk
 *     of extent 0); a regular axis costs no memory per chunk, so a grid of
 *     10^15 chunks is a few hundred bytes;
 *   otherwise (irregular) offsets[d] has nchunks[d] + 1 entries:
 *     offsets[d][0] = 0, strictly increasing, offsets[d][nchunks[d]] =
 *     shape[d], and chunk[d] = 0; an axis is stored irregular only when its
 *     chunks are not regular, so its array is bounded by what the user (or
 *     an operation's explicit boundaries) gave;
 *   chunk i of axis d covers [tsr__grid_offset(g, d, i), ... (i + 1));
 *   stride[d] = nchunks[d+1] * ... * nchunks[ndim-1] (C order), and
 *   total_chunks = the product of all nchunks (1 for ndim 0), <= INT64_MAX.
 * The struct and each offsets array are allocated from `ctx`, which must
 * outlive the grid.  Read axes through the accessors below, never
 * offsets[d] directly. */
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
  int64_t chunk[TSR_MAX_NDIM];    /* regular axes: the chunk extent */
  int64_t *offsets[TSR_MAX_NDIM]; /* irregular axes only, else NULL */
};

/* Start of chunk i of axis d, for 0 <= i <= nchunks[d] (i == nchunks[d]
 * gives the extent).  No overflow: i * chunk < shape for i < nchunks. */
static inline int64_t tsr__grid_offset(const tsr_chunk_grid *g, int d, int64_t i) {
  if (g->offsets[d] != NULL)
    return g->offsets[d][i];
  return i >= g->nchunks[d] ? g->shape[d] : i * g->chunk[d];
}
/* Extent of chunk i of axis d, 0 <= i < nchunks[d]. */
static inline int64_t tsr__grid_extent(const tsr_chunk_grid *g, int d, int64_t i) {
  return tsr__grid_offset(g, d, i + 1) - tsr__grid_offset(g, d, i);
}
/* The chunk of axis d holding element e (the last i with offset(i) <= e,
 * clamped to 0..nchunks[d] - 1). */
int64_t tsr__grid_locate_axis(const tsr_chunk_grid *g, int d, int64_t e);
/* The largest chunk extent of axis d (O(1) for a regular axis). */
int64_t tsr__grid_max_extent(const tsr_chunk_grid *g, int d);
/* Whether axis da of a and axis db of b have the same chunks. */
bool tsr__grid_axis_equal(const tsr_chunk_grid *a, int da, const tsr_chunk_grid *b, int db);
/* The boundaries of axis d as an array of nchunks[d] + 1 entries: the
 * grid's own for an irregular axis, else a copy made in *tmp (free it with
 * tsr_free; NULL when none was made).  Costs memory per chunk of that axis:
 * only for operations that visit every chunk of it anyway. */
tsr_status tsr__grid_axis_offsets(tsr_ctx *ctx, const tsr_chunk_grid *g, int d, int64_t **tmp,
                                  const int64_t **out);

/* One axis of a grid being built: axis `axis` of grid `from` (copied, as
 * regular or irregular as it is), or, when from == NULL, the boundaries
 * offsets[0..nchunks] (stored regular when they are). */
typedef struct tsr__grid_axis {
  const tsr_chunk_grid *from;
  int axis;
  const int64_t *offsets;
  int64_t nchunks;
} tsr__grid_axis;
tsr_status tsr__grid_from_axes(tsr_ctx *ctx, int ndim, const tsr__grid_axis *axes,
                               tsr_chunk_grid **out);

#endif /* TSR_GRID_IMPL_H */
