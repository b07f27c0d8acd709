/* rank.c — tsr_frame_rank: row numbers, ranks and dense ranks within
 * partitions, as SQL's `row_number() / rank() / dense_rank() OVER
 * (PARTITION BY p ORDER BY o)`: the window functions of the same names
 * (window.c), kept as the shorter call. */
#include "frame_impl.h"

tsr_status tsr_frame_rank(tsr_frame *f, const char *name, tsr_rank_kind kind, int npartition,
                          const char *const *partition_by, int norder,
                          const tsr_sort_key *order_by, tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_frame_rank: out is NULL");
  *out = NULL;
  TSR_CHECK(kind == TSR_RANK_ROW_NUMBER || kind == TSR_RANK_RANK || kind == TSR_RANK_DENSE,
            TSR_EINVAL, "tsr_frame_rank: %d is not a tsr_rank_kind", (int)kind);
  static const tsr_window_func funcs[] = {TSR_WIN_ROW_NUMBER, TSR_WIN_RANK, TSR_WIN_DENSE_RANK};
  tsr_window spec = {.func = funcs[kind],
                     .npartition = npartition,
                     .partition_by = partition_by,
                     .norder = norder,
                     .order_by = order_by};
  return tsr_frame_window(f, name, &spec, out);
}
