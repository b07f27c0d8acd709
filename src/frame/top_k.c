/* top_k.c — tsr_frame_top_k: the first k rows of tsr_frame_sort's result
 * without sorting the whole frame.  Each chunk keeps only its own first k
 * rows (a bounded heap when k is small next to the chunk, sort_runs.c),
 * and the merge (sort_merge.c) takes the first k of those: the same rows,
 * in the same order, as the sort then its first k rows, ties included
 * (the heap orders equal keys by row, the merge by chunk). */
#include "sort_impl.h"

tsr_status tsr_frame_top_k(tsr_frame *f, int nkeys, const tsr_sort_key *keys, int64_t k,
                           tsr_frame **out) {
  static const char fn[] = "tsr_frame_top_k";
  TSR_TRY(tsr__sort_check_keys(fn, f, nkeys, keys, out));
  TSR_CHECK(k >= 0, TSR_EINVAL, "%s: k = %lld is negative", fn, (long long)k);
  return tsr__sort_frame(f, fn, nkeys, keys, k, out);
}
