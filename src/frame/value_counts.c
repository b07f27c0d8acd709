/* value_counts.c — tsr_frame_value_counts: how many rows hold each
 * distinct combination of some columns, most frequent first (pandas' and
 * Polars' value_counts).
 *
 * A first-seen group-by (groupby.c) with count(*) named `count`, then a
 * stable sort by the count descending (sort.c), so equal counts stay in
 * first-seen order.  Rows with a null in any of the columns are dropped
 * first unless asked to keep them (pandas' dropna=True is the default).
 * Under MPI both steps run across the ranks (the group-by's shuffle, the
 * sample sort), each bitwise one rank's, so the result is too. */
#include <string.h>

#include <tessera/dist.h>

#include "frame_impl.h"

tsr_status tsr_frame_value_counts(tsr_frame *f, int ncols, const char *const *cols,
                                  bool keep_nulls, tsr_frame **out) {
  static const char fn[] = "tsr_frame_value_counts";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(ncols >= 1 && cols != NULL, TSR_EINVAL, "%s: ncols = %d with cols %s (give columns)",
            fn, ncols, cols ? "given" : "NULL");
  for (int i = 0; i < ncols; i++) {
    int c;
    TSR_CHECK(cols[i] != NULL, TSR_EINVAL, "%s: column %d is NULL", fn, i);
    TSR_TRY(tsr__frame_find(f, fn, cols[i], &c));
    TSR_CHECK(strcmp(cols[i], "count") != 0, TSR_EINVAL,
              "%s: a column named 'count' clashes with the result's 'count' (rename it)", fn);
  }
  tsr_frame *in = NULL, *g = NULL;
  tsr_status status;
  if (keep_nulls)
    in = f;
  else {
    status = tsr_frame_drop_nulls(f, ncols, cols, &in);
    if (tsr_ctx_nranks(f->ctx) > 1) /* the group-by is collective */
      status = tsr_ctx_agree(f->ctx, status);
    TSR__TRY_GOTO(status, status);
  }
  tsr_agg count = {.op = TSR_AGG_COUNT_ALL, .name = "count"};
  TSR__TRY_GOTO(status, tsr_frame_groupby(in, ncols, cols, 1, &count, NULL, &g));
  tsr_sort_key key = {"count", true, false};
  TSR__TRY_GOTO(status, tsr_frame_sort(g, 1, &key, out));
fail:
  tsr_frame_destroy(&g);
  if (in != f)
    tsr_frame_destroy(&in);
  return status;
}
