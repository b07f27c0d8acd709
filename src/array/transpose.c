/* transpose.c — axis permutation (NumPy's transpose, a.T).
 *
 * The output grid is the input grid with its axes permuted, so each output
 * chunk is the transposed copy of exactly one input chunk: one task per
 * chunk.  The copy itself is the gather kernel (rechunk.c), which tiles the
 * two innermost axes 32 x 32 when the reads stride across rows, so a 2-D
 * transpose touches each cache line of both buffers a bounded number of
 * times. */
#include <string.h>

#include "array_impl.h"

static const tsr__op op_transpose = {"transpose", tsr__gather_lower,       NULL,
                                     false,       tsr__gather_lower_chunk, tsr__gather_hash};

tsr_status tsr_transpose(tsr_array *a, const int *perm, tsr_array **out) {
  static const char fn[] = "tsr_transpose";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  const tsr_chunk_grid *ig = a->expr->grid;
  int ndim = ig->ndim;
  int p[TSR_MAX_NDIM];
  bool seen[TSR_MAX_NDIM] = {false};
  for (int k = 0; k < ndim; k++) {
    int ax = perm == NULL ? ndim - 1 - k : perm[k];
    TSR_CHECK(ax >= -ndim && ax < ndim, TSR_EINVAL, "%s: axis %d out of range for %d-d array", fn,
              ax, ndim);
    if (ax < 0)
      ax += ndim;
    TSR_CHECK(!seen[ax], TSR_EINVAL, "%s: repeated axis %d in perm", fn, ax);
    seen[ax] = true;
    p[k] = ax;
  }
  tsr__gather_map map;
  memset(&map, 0, sizeof map);
  map.ndim = ndim;
  tsr__grid_axis axes[TSR_MAX_NDIM];
  for (int k = 0; k < ndim; k++) {
    int d = p[k];
    map.oax[d] = k;
    map.a[d] = 0;
    map.s[d] = 1;
    map.olo[k] = 0;
    map.ohi[k] = ig->shape[d];
    axes[k] = (tsr__grid_axis){ig, d, NULL, 0};
  }
  tsr_chunk_grid *grid;
  TSR_TRY(tsr__grid_from_axes(a->expr->ctx, ndim, axes, &grid));
  tsr__expr *e;
  TSR_TRY(
      tsr__gather_create(a->expr->ctx, &op_transpose, a->expr->dtype, grid, 1, &a->expr, &map, &e));
  return tsr__array_wrap(e, out);
}
