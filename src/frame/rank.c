/* rank.c — tsr_frame_rank: row numbers, ranks and dense ranks within
 * partitions, as SQL's `row_number() / rank() / dense_rank() OVER
 * (PARTITION BY p ORDER BY o)`.
 *
 * One sort by (partition keys ascending, nulls last; then the order keys)
 * with the sort engine (sort_impl.h); the merged order marks where a
 * partition or a group of peers (rows equal on every key) starts, a pass
 * in that order numbers the rows, and the numbers go back to the rows'
 * input positions: the result is the input, in its order and chunks, plus
 * the int64 column. */
#include <string.h>

#include "sort_impl.h"

tsr_status tsr_frame_rank(tsr_frame *f, const char *name, tsr_rank_kind kind, int npartition,
                          const char *const *partition_by, int norder,
                          const tsr_sort_key *order_by, tsr_frame **out) {
  static const char fn[] = "tsr_frame_rank";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(name != NULL && name[0] != '\0', TSR_EINVAL,
            "%s: the rank column's name is NULL or empty", fn);
  TSR_CHECK(tsr_frame_col_index(f, name) < 0, TSR_EINVAL,
            "%s: the frame already has a column named '%s' (choose another name for the rank)",
            fn, name);
  TSR_CHECK(kind == TSR_RANK_ROW_NUMBER || kind == TSR_RANK_RANK || kind == TSR_RANK_DENSE,
            TSR_EINVAL, "%s: %d is not a tsr_rank_kind", fn, (int)kind);
  TSR_CHECK(npartition >= 0 && (npartition == 0 || partition_by != NULL), TSR_EINVAL,
            "%s: npartition = %d with partition_by %s", fn, npartition,
            partition_by ? "given" : "NULL");
  TSR_CHECK(norder >= 0 && (norder == 0 || order_by != NULL), TSR_EINVAL,
            "%s: norder = %d with order_by %s", fn, norder, order_by ? "given" : "NULL");
  for (int i = 0; i < npartition; i++) {
    int col;
    TSR_TRY(tsr__frame_find(f, fn, partition_by[i], &col));
  }
  for (int i = 0; i < norder; i++) {
    int col;
    TSR_CHECK(order_by[i].column != NULL, TSR_EINVAL, "%s: the column of order key %d is NULL",
              fn, i);
    TSR_TRY(tsr__frame_find(f, fn, order_by[i].column, &col));
  }
  tsr_ctx *ctx = f->ctx;
  tsr__sorter *s = NULL;
  int64_t *rank = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__sorter_create(f, fn, norder, order_by, npartition, partition_by, &s));
  TSR__TRY_GOTO(status, tsr__sorter_load(s));
  TSR__TRY_GOTO(status, tsr__sorter_runs(s, -1));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)s->total + 1, sizeof *rank, "ranks",
                                         (void **)&rank));
  TSR__TRY_GOTO(status, tsr__sorter_rank(s, kind, rank));
  TSR__TRY_GOTO(status, tsr__sorter_rank_frame(s, name, rank, out));
fail:
  tsr_free(ctx, rank);
  tsr__sorter_destroy(&s);
  return status;
}
