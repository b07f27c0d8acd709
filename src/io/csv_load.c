/* csv_load.c — the fused CSV load (csv.h, tsr__csv_load): each block is
 * tokenized and converted once, straight into its table chunk, instead of
 * a scan pass that checks every value and a parse pass that converts it.
 *
 * Per block (in parallel, one block per iteration) the columns are parsed
 * with the types the scan would start from; a string column that may
 * become a dictionary is coded through a dictionary of the block's own
 * (entry numbers in order of first appearance), merged into the column's
 * set of distinct values after the block.  After the pass the column
 * becomes a dictionary column under the scan's rule (csv_scan.c), each
 * block's entry numbers are mapped to codes of the sorted dictionary (an
 * int32 pass), and blocks parsed with the other representation of a
 * column (a dictionary given up mid-way, or refused at the end), or
 * whose U+FFFD replacements outgrow the block's bytes (a string column's
 * data capacity), are left to be parsed again by the caller.  Anything the scan must decide (widening,
 * bad rows, errors and their messages, blocks found at wrong boundaries)
 * abandons the load: the caller then scans and parses, so every rule of
 * docs/frames.md ("CSV") holds as before.  Results are identical: same
 * blocks, types, dictionaries and values.  A pushed row filter (a SQL
 * WHERE, frame/csv_where.c) runs on each block's chunk right after it is
 * parsed; block row counts and dictionaries still count every row, so the
 * types and dictionaries are the unfiltered load's. */
#include <omp.h>
#include <stdatomic.h>

#include "csv_impl.h"

void tsr__csv_loaded_free(tsr_ctx *ctx, tsr__csv_loaded *l) {
  if (l->chunks != NULL)
    for (int64_t i = 0; i < l->scan.nblocks; i++)
      tsr_free(ctx, l->chunks[i]);
  tsr_free(ctx, l->chunks);
  tsr_free(ctx, l->bytes);
  tsr__csv_scan_result_free(ctx, &l->scan);
  memset(l, 0, sizeof *l);
}

/* The code of (s, n) in a sorted dictionary of size entries (it is there). */
static int32_t sorted_find(const int64_t *offs, const char *data, int64_t size, const char *s,
                           size_t n) {
  int64_t lo = 0, hi = size - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    size_t m = (size_t)(offs[mid + 1] - offs[mid]);
    int c = memcmp(data + offs[mid], s, m < n ? m : n);
    if (c < 0 || (c == 0 && m < n))
      lo = mid + 1;
    else
      hi = mid;
  }
  return (int32_t)lo;
}

/* Maps block chunk column's entry numbers to sorted codes (nulls stay 0). */
static tsr_status remap(tsr_ctx *ctx, tsr__colchunk *c, const csv_strset *set, const int64_t *offs,
                        const char *data, int64_t size) {
  int32_t *map;
  TSR_TRY(tsr_alloc(ctx, ((size_t)set->n + 1) * sizeof *map, (void **)&map));
  for (int64_t i = 0; i < set->n; i++)
    map[i] = sorted_find(offs, data, size, set->arena + set->offs[i],
                         (size_t)(set->offs[i + 1] - set->offs[i]));
  int32_t *v = tsr__colchunk_values(c);
  const uint8_t *bits = tsr__colchunk_validity(c);
  if (c->null_count == 0)
    for (int64_t r = 0; r < c->rows; r++)
      v[r] = map[v[r]];
  else
    for (int64_t r = 0; r < c->rows; r++)
      v[r] = tsr__bit_get(bits, r) ? map[v[r]] : 0;
  tsr_free(ctx, map);
  return TSR_OK;
}

/* Runs the pushed filter on block i's chunk, just parsed.  A block with a
 * column to parse again is left whole: it is parsed again (and filtered
 * then) by the caller.  Its row count stays that of every row (the
 * dictionaries' rule counts them all); the chunk says how many are kept. */
static tsr_status pushed_filter(tsr_ctx *ctx, const tsr__csv_rowfilter *filter, int64_t i,
                                int ncols, csv_lblock *l) {
  tsr__csv_strings coded[64], *cs = coded;
  for (int c = 0; c < ncols; c++)
    if (l->redo[c])
      return TSR_OK;
  if (ncols > 64)
    TSR_TRY(tsr_calloc(ctx, (size_t)ncols, sizeof *cs, (void **)&cs));
  for (int c = 0; c < ncols; c++) {
    cs[c].coded = l->repr[c] == TSR_COL_DICT;
    cs[c].n = l->repr[c] == TSR_COL_DICT ? l->sets[c].n : 0;
    cs[c].offs = l->repr[c] == TSR_COL_DICT ? l->sets[c].offs : NULL;
    cs[c].data = l->repr[c] == TSR_COL_DICT ? l->sets[c].arena : NULL;
  }
  tsr_status st = filter->run(filter->arg, i, cs, &l->chunk, &l->bytes);
  if (cs != coded)
    tsr_free(ctx, cs);
  return st;
}

tsr_status tsr__csv_load(tsr_ctx *ctx, int fd, int64_t size, int64_t block_bytes, uint64_t budget,
                         const tsr__csv_rowfilter *filter, tsr__csv_format *fmt,
                         tsr__csv_loaded *out) {
  memset(out, 0, sizeof *out);
  const int ncols = fmt->ncols;
  if (ncols == 0)
    return TSR_OK;
  for (int c = 0; c < ncols; c++)
    if (fmt->cols[c].type.id == TSR_NUM_COLTYPES)
      return TSR_OK; /* untyped: the scan types it from its first value */
  tsr_status status = TSR_OK;
  tsr__csv_scan_result *sr = &out->scan;
  int *fieldcol = NULL;
  tsr_coltype *base = NULL, *reprs = NULL;
  int64_t *limit = NULL, *lbytes = NULL;
  uint8_t *redo = NULL;
  _Atomic int *given_up = NULL;
  csv_strset *global = NULL, *sets = NULL;
  csv_lblock *lb = NULL;
  int64_t nb = 0;
  size_t cells = 0;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)fmt->nfields + 1, sizeof *fieldcol, "fields",
                                         (void **)&fieldcol));
  for (int f = 0; f < fmt->nfields; f++)
    fieldcol[f] = -1;
  for (int i = 0; i < ncols; i++)
    fieldcol[fmt->cols[i].field] = i;
  TSR__TRY_GOTO(status, tsr__csv_make_blocks(ctx, fd, fmt, size, block_bytes, fmt->quotes_seen,
                                             &nb, &sr->blocks));
  if (nb < 0)
    TSR__TRY_GOTO(status, tsr__csv_make_blocks(ctx, fd, fmt, size, block_bytes, true, &nb,
                                               &sr->blocks));
  sr->nblocks = nb;
  if (nb <= 0)
    goto fail;
  cells = (size_t)nb * (size_t)ncols + 1;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *base, (void **)&base));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *limit, (void **)&limit));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *given_up, (void **)&given_up));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *global, (void **)&global));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, cells, sizeof *reprs, (void **)&reprs));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, cells, sizeof *lbytes, (void **)&lbytes));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, cells, sizeof *redo, (void **)&redo));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, cells, sizeof *sets, (void **)&sets));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nb + 1, sizeof *lb, (void **)&lb));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nb + 1, sizeof *out->chunks, (void **)&out->chunks));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nb + 1, sizeof *out->bytes, (void **)&out->bytes));
  /* as the scan: which string columns may become dictionaries, and their limits */
  for (int c = 0; c < ncols; c++) {
    const tsr__csv_col *col = &fmt->cols[c];
    tsr_coltype t = col->type.id;
    bool collect = fmt->dict_max >= 0 && (t == TSR_COL_STRING || t == TSR_COL_DICT) &&
                   !(col->fixed && t == TSR_COL_STRING);
    if (t == TSR_COL_DICT && col->fixed)
      collect = true;
    base[c] = collect ? TSR_COL_DICT : t == TSR_COL_DICT ? TSR_COL_STRING : t;
    limit[c] = t == TSR_COL_DICT && col->fixed ? INT32_MAX : fmt->dict_max;
  }
  for (int64_t i = 0; i < nb; i++) {
    lb[i].repr = reprs + i * ncols;
    lb[i].limit = limit;
    lb[i].redo = redo + i * ncols;
    lb[i].sets = sets + i * ncols;
    lb[i].data_bytes = lbytes + i * ncols;
  }
  _Atomic int stop = 0;
  _Atomic uint64_t used = 0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(tsr_ctx_threads(ctx))
  for (int64_t i = 0; i < nb; i++) {
    if (atomic_load_explicit(&stop, memory_order_relaxed))
      continue;
    csv_lblock *l = &lb[i];
    for (int c = 0; c < ncols; c++)
      l->repr[c] = base[c] == TSR_COL_DICT && given_up[c] ? TSR_COL_STRING : base[c];
    if (tsr__csv_load_block(ctx, fd, fmt, fieldcol, &sr->blocks[i], l) != TSR_OK)
      l->fallback = true;
    if (!l->fallback && filter != NULL && pushed_filter(ctx, filter, i, ncols, l) != TSR_OK)
      l->fallback = true;
    if (!l->fallback && atomic_fetch_add(&used, (uint64_t)l->bytes) + l->bytes > budget)
      l->fallback = true;
    if (l->fallback) {
      atomic_store(&stop, 1);
      continue;
    }
    for (int c = 0; c < ncols; c++) {
      if (l->repr[c] != TSR_COL_DICT)
        continue;
      if (l->redo[c]) {
        given_up[c] = 1;
        continue;
      }
      const csv_strset *set = &l->sets[c];
#pragma omp critical(tsr_csv_load_merge)
      {
        csv_strset *g = &global[c];
        for (int64_t k = 0; k < set->n && !given_up[c] && !l->fallback; k++) {
          if (tsr__csv_strset_add(ctx, g, set->arena + set->offs[k],
                                  (size_t)(set->offs[k + 1] - set->offs[k]), &set->keys[k],
                                  NULL) != TSR_OK)
            l->fallback = true;
          if (g->n > limit[c]) {
            given_up[c] = 1;
            tsr__csv_strset_free(ctx, g);
          }
        }
      }
      if (l->fallback)
        atomic_store(&stop, 1);
    }
  }
  if (stop) {
    tsr_error_clear();
    goto fail;
  }
  /* rows; each column's final representation, as the scan decides it */
  for (int64_t i = 0; i < nb; i++) {
    sr->blocks[i].rows = lb[i].rows;
    sr->rows += lb[i].rows;
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *sr->dict_n, (void **)&sr->dict_n));
  sr->dict_n[ncols] = INT64_MIN;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *sr->dict_offsets,
                                   (void **)&sr->dict_offsets));
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)ncols + 1, sizeof *sr->dict_data, (void **)&sr->dict_data));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols * (size_t)nb + 1, sizeof *sr->data_bytes,
                                   (void **)&sr->data_bytes));
  for (int c = 0; c < ncols; c++) {
    tsr__csv_col *col = &fmt->cols[c];
    sr->dict_n[c] = -1;
    for (int64_t i = 0; i < nb; i++)
      sr->data_bytes[(int64_t)c * nb + i] = lb[i].data_bytes[c];
    if (base[c] != TSR_COL_DICT)
      continue;
    bool want = !given_up[c] &&
                ((col->fixed && col->type.id == TSR_COL_DICT) ||
                 (global[c].n > 0 && global[c].n <= fmt->dict_max && global[c].n * 2 <= sr->rows));
    col->type.id = want ? TSR_COL_DICT : TSR_COL_STRING;
    if (!want)
      continue;
    TSR__TRY_GOTO(status, tsr__csv_sorted_dict(ctx, &global[c], &sr->dict_offsets[c],
                                               &sr->dict_data[c]));
    sr->dict_n[c] = global[c].n;
  }
  for (int c = 0; c < ncols; c++)
    if (!fmt->cols[c].fixed)
      fmt->cols[c].type.unit = fmt->cols[c].type.id == TSR_COL_TIMESTAMP ? TSR_TIME_US : 0;
  /* codes; the blocks to parse again */
  tsr_status st2 = TSR_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(tsr_ctx_threads(ctx))
  for (int64_t i = 0; i < nb; i++) {
    bool again = false;
    for (int c = 0; c < ncols; c++) {
      tsr_coltype want = fmt->cols[c].type.id;
      tsr_coltype got = lb[i].repr[c];
      if (got == TSR_COL_DICT || got == TSR_COL_STRING)
        again |= lb[i].redo[c] || got != want;
    }
    if (again)
      continue;
    for (int c = 0; c < ncols; c++)
      if (lb[i].repr[c] == TSR_COL_DICT) {
        tsr_status s3 = remap(ctx, tsr__tablechunk_col(lb[i].chunk, (uint32_t)c), &lb[i].sets[c],
                              sr->dict_offsets[c], sr->dict_data[c], sr->dict_n[c]);
        if (s3 != TSR_OK) {
#pragma omp critical(tsr_csv_load_status)
          st2 = s3;
        }
      }
    out->chunks[i] = lb[i].chunk;
    out->bytes[i] = lb[i].bytes;
    lb[i].chunk = NULL;
  }
  TSR__TRY_GOTO(status, st2);
  out->done = true;
fail:
  if (lb != NULL)
    for (int64_t i = 0; i < nb; i++)
      tsr_free(ctx, lb[i].chunk);
  if (sets != NULL)
    for (size_t k = 0; k + 1 < cells; k++)
      tsr__csv_strset_free(ctx, &sets[k]);
  if (global != NULL)
    for (int c = 0; c < ncols; c++)
      tsr__csv_strset_free(ctx, &global[c]);
  tsr_free(ctx, sets);
  tsr_free(ctx, global);
  tsr_free(ctx, lb);
  tsr_free(ctx, redo);
  tsr_free(ctx, lbytes);
  tsr_free(ctx, reprs);
  tsr_free(ctx, (void *)given_up);
  tsr_free(ctx, limit);
  tsr_free(ctx, base);
  tsr_free(ctx, fieldcol);
  if (status != TSR_OK || !out->done) {
    tsr__csv_loaded_free(ctx, out);
    /* fmt's types are unchanged unless the load was done (set only after the pass) */
  }
  return status;
}
