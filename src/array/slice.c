/* slice.c — NumPy basic indexing: a[i, start:stop:step, ...].
 *
 * Indices are normalised NumPy's way (negative indices count from the end,
 * slices clamp, an omitted start/stop depends on the step's sign, an integer
 * drops its axis) into a gather map: output position o of a sliced axis
 * reads input element start + step * o, an integer index is a fixed element.
 * Output chunks follow the input chunks as in Dask: each output chunk is the
 * part of one input chunk that the slice selects (input chunks that
 * contribute nothing give no output chunk), so every slice task reads exactly
 * one input chunk and a small slice of a large array depends on few chunks.
 * Lowering is chunk by chunk (tsr__gather_lower_chunk), so only the input
 * chunks the slice reads are lowered at all, however many the input has;
 * and the output grid costs memory per output chunk, never per input
 * chunk.  A slice of an HDF5 dataset reads from a node over its bounding box
 * alone (tsr__h5_read_box), so it reads only the file chunks it touches. */
#include <stdio.h>
#include <string.h>

#include "array_impl.h"

static const tsr__op op_slice = {"slice", tsr__gather_lower,       NULL,
                                 false,   tsr__gather_lower_chunk, tsr__gather_hash};

/* NumPy's slice.indices(n) and the resulting length. */
static void normalize_slice(int64_t n, int64_t start, int64_t stop, int64_t step, int64_t *first,
                            int64_t *len) {
  if (step > 0) {
    if (start == TSR_NONE)
      start = 0;
    else if (start < 0)
      start = start + n < 0 ? 0 : start + n;
    else if (start > n)
      start = n;
    if (stop == TSR_NONE)
      stop = n;
    else if (stop < 0)
      stop = stop + n < 0 ? 0 : stop + n;
    else if (stop > n)
      stop = n;
    *first = start;
    *len = start < stop ? (stop - start - 1) / step + 1 : 0;
  } else {
    if (start == TSR_NONE)
      start = n - 1;
    else if (start < 0)
      start = start + n < 0 ? -1 : start + n;
    else if (start > n - 1)
      start = n - 1;
    if (stop == TSR_NONE)
      stop = -1;
    else if (stop < 0)
      stop = stop + n < 0 ? -1 : stop + n;
    else if (stop > n - 1)
      stop = n - 1;
    uint64_t astep = (uint64_t)0 - (uint64_t)step;
    *first = start;
    *len = start > stop ? (int64_t)((uint64_t)(start - stop - 1) / astep) + 1 : 0;
  }
}

tsr_status tsr_slice(tsr_array *a, int n, const tsr_index *index, tsr_array **out) {
  static const char fn[] = "tsr_slice";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  const tsr_chunk_grid *ig = a->expr->grid;
  int ndim = ig->ndim;
  TSR_CHECK(n >= 0 && n <= ndim, TSR_EINVAL,
            "%s: %d indices for a %d-d array (at most one per axis)", fn, n, ndim);
  TSR_CHECK(n == 0 || index != NULL, TSR_EINVAL, "%s: index is NULL with n = %d", fn, n);
  tsr_ctx *ctx = a->expr->ctx;
  tsr__gather_map map;
  memset(&map, 0, sizeof map);
  map.ndim = ndim;
  int64_t oshape[TSR_MAX_NDIM];
  int ond = 0;
  for (int d = 0; d < ndim; d++) {
    int64_t extent = ig->shape[d];
    tsr_index ix = d < n ? index[d] : TSR_ALL;
    if (!ix.is_slice) {
      int64_t i = ix.start;
      TSR_CHECK(i >= -extent && i < extent, TSR_EINVAL,
                "%s: index %lld is out of bounds for axis %d with size %lld", fn,
                (long long)ix.start, d, (long long)extent);
      map.oax[d] = -1;
      map.a[d] = i < 0 ? i + extent : i;
      map.s[d] = 1;
      continue;
    }
    TSR_CHECK(ix.step != 0, TSR_EINVAL, "%s: slice step cannot be zero (axis %d)", fn, d);
    int64_t first, len;
    normalize_slice(extent, ix.start, ix.stop, ix.step, &first, &len);
    map.oax[d] = ond;
    map.a[d] = first;
    map.s[d] = len > 1 ? ix.step : 1; /* one element: any step reads it */
    map.olo[ond] = 0;
    map.ohi[ond] = len;
    oshape[ond++] = len;
  }
  /* A slice of an HDF5 read reads only its bounding box from the file. */
  tsr__expr *input = a->expr, *sub = NULL;
  int64_t lo[TSR_MAX_NDIM], hi[TSR_MAX_NDIM];
  for (int d = 0; d < ndim; d++) {
    int k = map.oax[d];
    int64_t len = k < 0 ? 1 : oshape[k], last = map.a[d] + map.s[d] * (len - 1);
    lo[d] = map.s[d] > 0 ? map.a[d] : last;
    hi[d] = (map.s[d] > 0 ? last : map.a[d]) + 1;
    if (len == 0)
      lo[d] = hi[d] = 0;
  }
  TSR_TRY(tsr__h5_read_box(input, lo, hi, &sub));
  if (sub != NULL) {
    input = sub;
    ig = sub->grid;
    for (int d = 0; d < ndim; d++)
      map.a[d] -= lo[d];
  }
  /* Output chunks: per sliced axis, what each input chunk contributes. */
  tsr_status status = TSR_OK;
  int64_t *offsets[TSR_MAX_NDIM] = {0}, nchunks[TSR_MAX_NDIM] = {0};
  tsr__segment *seg = NULL;
  tsr_chunk_grid *grid = NULL;
  for (int d = 0; d < ndim; d++) {
    int k = map.oax[d];
    if (k < 0)
      continue;
    int64_t ns = tsr__axis_segments(ig, d, map.a[d], map.s[d], 0, oshape[k], NULL);
    nchunks[k] = ns > 0 ? ns : 1;
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nchunks[k], sizeof *seg, "slice chunks",
                                           (void **)&seg));
    tsr__axis_segments(ig, d, map.a[d], map.s[d], 0, oshape[k], seg);
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nchunks[k] + 1, sizeof(int64_t),
                                           "slice chunks", (void **)&offsets[k]));
    offsets[k][0] = 0;
    offsets[k][1] = 0;
    for (int64_t i = 0; i < ns; i++)
      offsets[k][i + 1] = seg[i].o_last + 1;
    tsr_free(ctx, seg);
    seg = NULL;
  }
  TSR__TRY_GOTO(status,
                tsr__grid_from_offsets(ctx, ond, (const int64_t *const *)offsets, nchunks, &grid));
  tsr__expr *e;
  status = tsr__gather_create(ctx, &op_slice, a->expr->dtype, grid, 1, &input, &map, &e);
  if (status == TSR_OK)
    status = tsr__array_wrap(e, out);
fail:
  for (int k = 0; k < ond; k++)
    tsr_free(ctx, offsets[k]);
  tsr_free(ctx, seg);
  tsr__expr_release(&sub);
  return status;
}
