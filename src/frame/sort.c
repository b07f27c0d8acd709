/* sort.c — tsr_frame_sort: a frame's rows sorted by several keys, stably,
 * computed now into a frame over memory (the engine: sort_impl.h).
 *
 * Output chunks hold as many rows as the input's largest chunk (at most
 * 1 Mi rows), so a sort keeps about the input's chunking. */
#include "sort_impl.h"

#define MAX_CHUNK_ROWS (INT64_C(1) << 20)

tsr_status tsr__sort_frame(tsr_frame *f, const char *fn, int nkeys, const tsr_sort_key *keys,
                           int64_t k, tsr_frame **out) {
  tsr__sorter *s = NULL;
  tsr_status status;
  status = tsr__sorter_create(f, fn, nkeys, keys, 0, NULL, &s);
  if (tsr_ctx_nranks(f->ctx) > 1) /* the next step is collective */
    status = tsr_ctx_agree(f->ctx, status);
  TSR__TRY_GOTO(status, status);
  TSR__TRY_GOTO(status, tsr__sorter_load(s));
  TSR__TRY_GOTO(status, tsr__sorter_runs(s, k));
  int64_t rows = k < 0 || k > s->total ? s->total : k;
  int64_t chunk = 1;
  for (int64_t c = 0; c < s->nchunks; c++)
    chunk = s->rows[c] > chunk ? s->rows[c] : chunk;
  if (chunk > MAX_CHUNK_ROWS)
    chunk = MAX_CHUNK_ROWS;
  if (s->dist)
    TSR__TRY_GOTO(status, tsr__sort_frame_dist(s, k, chunk, out));
  else
    TSR__TRY_GOTO(status, tsr__sorter_gather(s, rows, chunk, out));
fail:
  tsr__sorter_destroy(&s);
  return status;
}

tsr_status tsr__sort_check_keys(const char *fn, tsr_frame *f, int nkeys, const tsr_sort_key *keys,
                                tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(nkeys > 0, TSR_EINVAL, "%s: nkeys = %d; give at least one sort key", fn, nkeys);
  TSR_CHECK(keys != NULL, TSR_EINVAL, "%s: keys is NULL with nkeys = %d", fn, nkeys);
  for (int i = 0; i < nkeys; i++) {
    int col;
    TSR_CHECK(keys[i].column != NULL, TSR_EINVAL, "%s: the column of key %d is NULL", fn, i);
    TSR_TRY(tsr__frame_find(f, fn, keys[i].column, &col));
  }
  return TSR_OK;
}

tsr_status tsr_frame_sort(tsr_frame *f, int nkeys, const tsr_sort_key *keys, tsr_frame **out) {
  static const char fn[] = "tsr_frame_sort";
  TSR_TRY(tsr__sort_check_keys(fn, f, nkeys, keys, out));
  return tsr__sort_frame(f, fn, nkeys, keys, -1, out);
}
