/* nlargest.c — tsr_frame_nlargest / tsr_frame_nsmallest: the n rows with
 * the largest (smallest) values of some columns, as pandas' nlargest /
 * nsmallest with keep='first': top-k (top_k.c) with every key descending
 * (ascending), whose stable order puts tied rows in input order.  Under
 * MPI top-k runs across the ranks (sort_dist.c: each rank's first n rows
 * all-gathered), bitwise one rank's result. */
#include <tessera/dist.h>

#include "frame_impl.h"

static tsr_status extremes(const char *fn, tsr_frame *f, int64_t n, int ncols,
                           const char *const *cols, bool desc, tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(ncols >= 1 && cols != NULL, TSR_EINVAL, "%s: ncols = %d with cols %s (give columns)",
            fn, ncols, cols ? "given" : "NULL");
  TSR_CHECK(n >= 0, TSR_EINVAL, "%s: n = %lld is negative", fn, (long long)n);
  tsr_sort_key *keys = NULL;
  tsr_status status = tsr_calloc(f->ctx, (size_t)ncols, sizeof *keys, (void **)&keys);
  if (tsr_ctx_nranks(f->ctx) > 1) /* top-k is collective */
    status = tsr_ctx_agree(f->ctx, status);
  if (status != TSR_OK) {
    tsr_free(f->ctx, keys);
    return status;
  }
  for (int i = 0; i < ncols; i++)
    keys[i] = (tsr_sort_key){cols[i], desc, false};
  status = tsr_frame_top_k(f, ncols, keys, n, out);
  tsr_free(f->ctx, keys);
  return status;
}

tsr_status tsr_frame_nlargest(tsr_frame *f, int64_t n, int ncols, const char *const *cols,
                              tsr_frame **out) {
  return extremes("tsr_frame_nlargest", f, n, ncols, cols, true, out);
}

tsr_status tsr_frame_nsmallest(tsr_frame *f, int64_t n, int ncols, const char *const *cols,
                               tsr_frame **out) {
  return extremes("tsr_frame_nsmallest", f, n, ncols, cols, false, out);
}
