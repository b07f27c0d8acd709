/* distinct.c — tsr_frame_distinct: the first row of each distinct
 * combination of some columns (all: distinct rows), every column kept, in
 * first-seen order, as DuckDB's DISTINCT ON and pandas'
 * drop_duplicates(subset, keep='first').
 *
 * A first-seen group-by (groupby.c) on the columns, with `first` of every
 * other column named as that column, then the columns back in the input's
 * order: the group-by's key equality is the one wanted (nulls equal, NaN
 * one value, -0.0 equal to 0.0; the values shown are the first row's).
 * Across MPI ranks the group-by's exchange makes it whole on every rank. */
#include <string.h>

#include "frame_impl.h"

tsr_status tsr_frame_distinct(tsr_frame *f, int ncols, const char *const *cols,
                              tsr_frame **out) {
  static const char fn[] = "tsr_frame_distinct";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(ncols >= 0 && (ncols == 0 || cols != NULL), TSR_EINVAL, "%s: ncols = %d with cols %s",
            fn, ncols, cols ? "given" : "NULL");
  tsr_ctx *ctx = f->ctx;
  const int nc = f->ncols;
  bool *is_key = NULL;
  const char **keys = NULL, **names = NULL;
  tsr_agg *aggs = NULL;
  tsr_frame *g = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *is_key, (void **)&is_key));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *keys, (void **)&keys));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *names, (void **)&names));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *aggs, (void **)&aggs));
  int nkeys = 0, naggs = 0;
  for (int i = 0; i < ncols; i++) {
    int c;
    TSR__CHECK_GOTO(status, cols[i] != NULL, TSR_EINVAL, "%s: column %d is NULL", fn, i);
    TSR__TRY_GOTO(status, tsr__frame_find(f, fn, cols[i], &c));
    TSR__CHECK_GOTO(status, !is_key[c], TSR_EINVAL, "%s: column '%s' is given twice", fn,
                    cols[i]);
    is_key[c] = true;
    keys[nkeys++] = f->cols[c].name;
  }
  for (int c = 0; c < nc; c++) {
    names[c] = f->cols[c].name;
    if (ncols == 0)
      keys[nkeys++] = f->cols[c].name;
    else if (!is_key[c])
      aggs[naggs++] = (tsr_agg){.op = TSR_AGG_FIRST, .column = names[c], .name = names[c]};
  }
  TSR__TRY_GOTO(status, tsr_frame_groupby(f, nkeys, keys, naggs, aggs, NULL, &g));
  TSR__TRY_GOTO(status, tsr_frame_select(g, nc, names, out));
fail:
  tsr_frame_destroy(&g);
  tsr_free(ctx, aggs);
  tsr_free(ctx, names);
  tsr_free(ctx, keys);
  tsr_free(ctx, is_key);
  return status;
}
