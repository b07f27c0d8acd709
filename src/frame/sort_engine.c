/* sort_engine.c — the phases of the sort engine (sort_impl.h): the input
 * lowered with the statistics tasks (phase 1), the sorted runs (phase 2),
 * and the output chunks' split points in every run (co-ranking).
 *
 * Phases 2 and 3 read the input chunks and the runs in place, from the
 * outputs phases 1 and 2 keep, through the sorter: their tasks have no
 * task inputs.  That is sound because each task runs where those outputs
 * are, while the earlier graphs, which own those buffers, stay alive:
 * under MPI a chunk's statistics and run tasks belong to the chunk's owner
 * (which made the chunk), each rank reads only its own chunks' outputs,
 * and the statistics of all are all-gathered (sort_dist.c). */
#include <string.h>

#include <tessera/dist.h>

#include "sort_impl.h"

typedef struct sparams {
  const tsr__sorter *s;
  int64_t chunk;
} sparams;

static const tsr__sorter *sp_sorter(const tsr_kernel_call *call, int64_t *chunk) {
  sparams p;
  memcpy(&p, call->params, sizeof p);
  *chunk = p.chunk;
  return p.s;
}

void tsr__sorter_destroy(tsr__sorter **sp) {
  if (sp == NULL || *sp == NULL)
    return;
  tsr__sorter *s = *sp;
  *sp = NULL;
  tsr_ctx *ctx = s->ctx;
  tsr_taskgraph_destroy(&s->g2);
  tsr_taskgraph_destroy(&s->g1);
  tsr_free(ctx, s->nodes);
  tsr_free(ctx, s->refs);
  tsr_free(ctx, s->keys);
  tsr_free(ctx, s->trunc);
  tsr_free(ctx, s->str_cols);
  tsr_free(ctx, s->in_tasks);
  tsr_free(ctx, s->in_ptr);
  tsr_free(ctx, s->in_bytes);
  tsr_free(ctx, s->rows);
  tsr_free(ctx, s->row_start);
  tsr_free(ctx, s->cr);
  tsr_free(ctx, s->kcr);
  tsr_free(ctx, s->run_tasks);
  tsr_free(ctx, s->runs);
  tsr_free(ctx, s->out_start);
  tsr_free(ctx, s->splits);
  if (s->own_runs != NULL)
    for (int64_t c = 0; c < s->nchunks; c++)
      tsr_free(ctx, s->own_runs[c]);
  tsr_free(ctx, s->own_runs);
  tsr_free(ctx, s->recv);
  tsr_free(ctx, s);
}

tsr_status tsr__sorter_create(tsr_frame *f, const char *fn, int nkeys, const tsr_sort_key *keys,
                              int npart, const char *const *part, tsr__sorter **out) {
  *out = NULL;
  tsr_ctx *ctx = f->ctx;
  tsr__sorter *s;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  s->ctx = ctx;
  s->f = f;
  s->fn = fn;
  s->nchunks = f->rows->nchunks;
  s->nranks = tsr_ctx_nranks(ctx);
  s->rank = tsr_ctx_rank(ctx);
  s->dist = s->nranks > 1;
  s->npart = npart;
  s->nkeys = npart + nkeys;
  tsr_status status;
  int nc = f->ncols;
  int *all = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *s->nodes, (void **)&s->nodes));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *s->refs, (void **)&s->refs));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)s->nkeys + 1, sizeof *s->keys, (void **)&s->keys));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)s->nkeys + 1, sizeof *s->trunc, (void **)&s->trunc));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *s->str_cols, (void **)&s->str_cols));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *all, (void **)&all));
  for (int i = 0; i < nc; i++)
    all[i] = i;
  tsr__frame_colrefs(f, nc, all, s->nodes, &s->nnodes, s->refs);
  for (int i = 0; i < nc; i++)
    if (f->cols[i].type.id == TSR_COL_STRING)
      s->str_cols[s->nstr++] = i;
  for (int k = 0; k < s->nkeys; k++) {
    tsr__skey *key = &s->keys[k];
    const char *name = k < npart ? part[k] : keys[k - npart].column;
    int col = 0;
    TSR__TRY_GOTO(status, tsr__frame_find(f, fn, name, &col));
    key->col = col;
    key->ref = s->refs[col];
    key->desc = k < npart ? false : keys[k - npart].descending;
    key->nulls_first = k < npart ? false : keys[k - npart].nulls_first;
  }
  tsr_free(ctx, all);
  *out = s;
  return TSR_OK;
fail:
  tsr_free(ctx, all);
  tsr__sorter_destroy(&s);
  return status;
}

/* ---- phase 1 ----------------------------------------------------------------------------- */

static tsr_status stats_kernel(const tsr_kernel_call *call) {
  int64_t c;
  const tsr__sorter *s = sp_sorter(call, &c);
  tsr__colread cols[64];
  tsr__colread *cr = cols;
  if (s->nkeys > 64)
    TSR_TRY(tsr_kernel_alloc(s->ctx, (size_t)s->nkeys * sizeof *cr, (void **)&cr));
  for (int k = 0; k < s->nkeys; k++)
    tsr__colread_get(&s->keys[k].ref, call, &cr[k]);
  tsr__sort_stats(s, cr, call->output);
  if (cr != cols)
    tsr_free(s->ctx, cr);
  return TSR_OK;
}

tsr_status tsr__sorter_load(tsr__sorter *s) {
  tsr_ctx *ctx = s->ctx;
  const int64_t nch = s->nchunks;
  const int nc = s->f->ncols;
  tsr__lowering *l = NULL;
  uint32_t *stat_tasks = NULL, *wanted = NULL, *ins = NULL;
  /* Whether a failure here must be agreed: not by the run, nor by the
   * statistics' exchange, which agree themselves. */
  bool agree = true;
  tsr_status status;
  int64_t cells;
  TSR__CHECK_GOTO(status, tsr__size_mul(s->nnodes, nch, &cells), TSR_EINVAL,
                  "%s: the frame has too many chunks", s->fn);
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)s->nnodes + 1, sizeof *ins, "task inputs",
                                         (void **)&ins));
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &s->g1));
  TSR__TRY_GOTO(status, tsr__lowering_create(ctx, s->g1, &l));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)cells + 1, sizeof *s->in_tasks,
                                         "input tasks", (void **)&s->in_tasks));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nch + 1, sizeof *stat_tasks, "tasks",
                                         (void **)&stat_tasks));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)(cells + nch) + 1, sizeof *wanted, "tasks",
                                         (void **)&wanted));
  for (uint32_t i = 0; i < s->nnodes; i++) {
    const uint32_t *ids;
    TSR__TRY_GOTO(status, tsr__lowering_lower(l, s->nodes[i], &ids));
    if (nch > 0)
      memcpy(s->in_tasks + (int64_t)i * nch, ids, (size_t)nch * sizeof *ids);
  }
  uint32_t k;
  TSR__TRY_GOTO(status, tsr_taskgraph_add_kernel(s->g1, "frame_sort_stats", stats_kernel, NULL, &k));
  size_t stat_bytes = sizeof(tsr__kstat) * (size_t)s->nkeys;
  for (int64_t c = 0; c < nch; c++) {
    for (uint32_t i = 0; i < s->nnodes; i++)
      ins[i] = s->in_tasks[(int64_t)i * nch + c];
    sparams p = {s, c};
    TSR__TRY_GOTO(status, tsr_taskgraph_add_task(s->g1, k, ins, s->nnodes, &p, sizeof p,
                                                 stat_bytes, &stat_tasks[c]));
    if (s->dist) /* where the chunk is made (its input tasks may be made everywhere) */
      TSR__TRY_GOTO(status, tsr_taskgraph_set_owner(s->g1, stat_tasks[c],
                                                    tsr__dist_chunk_owner(ctx, c, nch)));
  }
  for (int64_t i = 0; i < cells; i++) {
    TSR__TRY_GOTO(status, tsr_taskgraph_keep(s->g1, s->in_tasks[i]));
    wanted[i] = s->in_tasks[i];
  }
  for (int64_t c = 0; c < nch; c++) {
    TSR__TRY_GOTO(status, tsr_taskgraph_keep(s->g1, stat_tasks[c]));
    wanted[cells + c] = stat_tasks[c];
  }
  if (cells + nch > 0)
    TSR__TRY_GOTO(status, tsr_taskgraph_cull(s->g1, wanted, (uint32_t)(cells + nch)));
  agree = false;
  TSR__TRY_GOTO(status, tsr_taskgraph_run(s->g1));
  agree = s->dist;
  /* The input chunks as the later phases read them. */
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)cells + 1, sizeof *s->in_ptr, "inputs",
                                         (void **)&s->in_ptr));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)cells + 1, sizeof *s->in_bytes, "inputs",
                                         (void **)&s->in_bytes));
  for (int64_t i = 0; i < cells; i++) {
    s->in_ptr[i] = NULL;
    s->in_bytes[i] = 0;
    if (tsr__sorter_mine(s, nch > 0 ? i % nch : 0))
      TSR__TRY_GOTO(status,
                    tsr_taskgraph_output(s->g1, s->in_tasks[i], &s->in_ptr[i], &s->in_bytes[i]));
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nch * (size_t)nc + 1, sizeof *s->cr,
                                   (void **)&s->cr));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nch * (size_t)s->nkeys + 1, sizeof *s->kcr,
                                   (void **)&s->kcr));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nch + 1, sizeof *s->rows, "row counts",
                                         (void **)&s->rows));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nch + 1, sizeof *s->row_start, "row starts",
                                         (void **)&s->row_start));
  s->row_start[0] = 0;
  for (int64_t c = 0; c < nch; c++) {
    s->rows[c] = 0;
    if (!tsr__sorter_mine(s, c))
      continue;
    for (int i = 0; i < nc; i++) {
      int64_t cell = (int64_t)s->refs[i].input * nch + c;
      tsr__sort_colread(&s->refs[i], s->in_ptr[cell], s->in_bytes[cell], &s->cr[c * nc + i]);
    }
    for (int k2 = 0; k2 < s->nkeys; k2++)
      s->kcr[c * s->nkeys + k2] = s->cr[c * nc + s->keys[k2].col];
    s->rows[c] = nc > 0                   ? s->cr[c * nc].rows
                 : s->f->rows->count != NULL ? s->f->rows->count[c]
                                             : 0;
  }
  {
    tsr__kstat *stats;
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)(nch * s->nkeys) + 1, sizeof *stats,
                                           "statistics", (void **)&stats));
    for (int64_t c = 0; c < nch; c++) {
      if (!tsr__sorter_mine(s, c))
        continue;
      const void *data;
      size_t bytes;
      status = tsr_taskgraph_output(s->g1, stat_tasks[c], &data, &bytes);
      if (status != TSR_OK) {
        tsr_free(ctx, stats);
        goto fail;
      }
      if (s->nkeys > 0)
        memcpy(stats + c * s->nkeys, data, stat_bytes);
    }
    if (s->dist) {
      agree = false;
      status = tsr__sort_share_stats(s, stats);
      if (status != TSR_OK) {
        tsr_free(ctx, stats);
        goto fail;
      }
    }
    for (int64_t c = 0; c < nch; c++)
      s->row_start[c + 1] = s->row_start[c] + s->rows[c];
    s->total = s->row_start[nch];
    tsr__sort_layout(s, stats);
    tsr_free(ctx, stats);
  }
  for (int64_t c = 0; c < nch; c++)
    TSR__CHECK_GOTO(status, s->rows[c] <= (int64_t)UINT32_MAX, TSR_EINVAL,
                    "%s: row chunk %lld has %lld rows; at most 2^32 - 1 can be sorted per chunk",
                    s->fn, (long long)c, (long long)s->rows[c]);
fail:
  if (agree)
    status = tsr_ctx_agree(ctx, status);
  tsr_free(ctx, ins);
  tsr_free(ctx, wanted);
  tsr_free(ctx, stat_tasks);
  tsr__lowering_destroy(&l);
  return status;
}

/* ---- phase 2 ----------------------------------------------------------------------------- */

static int64_t kept_rows(const tsr__sorter *s, int64_t c) {
  return s->keep < 0 || s->keep > s->rows[c] ? s->rows[c] : s->keep;
}

static tsr_status run_kernel(const tsr_kernel_call *call) {
  int64_t c;
  const tsr__sorter *s = sp_sorter(call, &c);
  const tsr__colread *kc = s->kcr + c * s->nkeys;
  int64_t n = s->rows[c], keep = kept_rows(s, c);
  tsr__run *run = call->output;
  run->n = keep;
  run->W = s->W;
  run->nstr = s->nstr;
  run->chunk = c;
  uint64_t *keys = NULL;
  if (s->W > 0 && n > 0)
    TSR_TRY(tsr_kernel_alloc(s->ctx, (size_t)n * (size_t)s->W * sizeof *keys, (void **)&keys));
  tsr__sort_encode(s, kc, n, keys);
  tsr_status status = tsr__sort_run(s, kc, keys, n, keep, (uint64_t *)tsr__run_keys(run),
                                    (uint32_t *)tsr__run_rows(run));
  tsr_free(s->ctx, keys);
  if (status != TSR_OK)
    return status;
  /* Long-string bytes in run order, for the output's data capacities. */
  const uint32_t *rows = tsr__run_rows(run);
  int64_t *pre = (int64_t *)tsr__run_strbytes(run);
  for (int j = 0; j < s->nstr; j++) {
    const tsr__colread *r = &s->cr[c * s->f->ncols + s->str_cols[j]];
    const tsr_string_view *v = r->values;
    int64_t *p = pre + (int64_t)j * (keep + 1), sum = 0;
    p[0] = 0;
    for (int64_t i = 0; i < keep; i++) {
      uint32_t row = rows[i];
      uint32_t len = v[row].length;
      if (len > 12 && (r->validity == NULL || tsr__bit_get(r->validity, row)))
        sum += len;
      p[i + 1] = sum;
    }
  }
  return TSR_OK;
}

tsr_status tsr__sorter_runs(tsr__sorter *s, int64_t keep) {
  tsr_ctx *ctx = s->ctx;
  const int64_t nch = s->nchunks;
  s->keep = keep;
  bool agree = true; /* a failure not agreed by the run */
  tsr_status status;
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &s->g2));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nch + 1, sizeof *s->run_tasks, "tasks",
                                         (void **)&s->run_tasks));
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)nch + 1, sizeof *s->runs, (void **)&s->runs));
  uint32_t k;
  TSR__TRY_GOTO(status, tsr_taskgraph_add_kernel(s->g2, "frame_sort_run", run_kernel, NULL, &k));
  for (int64_t c = 0; c < nch; c++) {
    sparams p = {s, c};
    uint64_t bytes = tsr__run_bytes(kept_rows(s, c), s->W, s->nstr);
    TSR__TRY_GOTO(status, tsr_taskgraph_add_task(s->g2, k, NULL, 0, &p, sizeof p, (size_t)bytes,
                                                 &s->run_tasks[c]));
    if (s->dist) /* on the chunk's owner, which holds its input */
      TSR__TRY_GOTO(status, tsr_taskgraph_set_owner(s->g2, s->run_tasks[c],
                                                    tsr__dist_chunk_owner(ctx, c, nch)));
    TSR__TRY_GOTO(status, tsr_taskgraph_keep(s->g2, s->run_tasks[c]));
  }
  agree = false;
  TSR__TRY_GOTO(status, tsr_taskgraph_run(s->g2));
  agree = s->dist;
  s->empty = (tsr__run){0, s->W, s->nstr, 0};
  for (int64_t c = 0; c < nch; c++) {
    if (!tsr__sorter_mine(s, c)) {
      s->runs[c] = &s->empty;
      continue;
    }
    const void *data;
    size_t bytes;
    TSR__TRY_GOTO(status, tsr_taskgraph_output(s->g2, s->run_tasks[c], &data, &bytes));
    s->runs[c] = data;
  }
fail:
  if (agree)
    status = tsr_ctx_agree(ctx, status);
  return status;
}

/* ---- comparing run elements ------------------------------------------------------------- */

int tsr__sort_elem_cmp(const tsr__sorter *s, int64_t r1, int64_t p1, int64_t r2, int64_t p2,
                       int bits, int upto) {
  const tsr__run *a = s->runs[r1], *b = s->runs[r2];
  const int W = s->W;
  const uint64_t *ka = tsr__run_keys(a) + p1 * W, *kb = tsr__run_keys(b) + p2 * W;
  if (s->ntrunc == 0)
    return tsr__sort_cmp_bits(ka, kb, bits);
  return tsr__sort_cmp(s, ka, kb, bits, upto, s->kcr + r1 * s->nkeys, tsr__run_rows(a)[p1],
                       s->kcr + r2 * s->nkeys, tsr__run_rows(b)[p2]);
}

/* Whether element (r1, p1) comes before (r2, p2): keys, then run (chunk) order, then position. */
static inline bool elem_before(const tsr__sorter *s, int64_t r1, int64_t p1, int64_t r2,
                               int64_t p2) {
  int c = tsr__sort_elem_cmp(s, r1, p1, r2, p2, s->W * 64, s->nkeys);
  if (c != 0)
    return c < 0;
  return r1 != r2 ? r1 < r2 : p1 < p2;
}

/* How many elements of run r come before element (x, m). */
static int64_t count_before(const tsr__sorter *s, int64_t r, int64_t x, int64_t m) {
  if (r == x)
    return m;
  int64_t lo = 0, hi = s->runs[r]->n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (elem_before(s, r, mid, x, m))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The split of the first t elements of the merged runs: p[r] of run r.
 * Multi-sequence selection: every run keeps a window [p[r], hi[r]) where
 * its split lies; each step takes as pivot the weighted median (weights:
 * window sizes) of the windows' middle elements, counts the elements
 * before it in every run (binary searches), and narrows every window by
 * that count.  A weighted median pivot halves windows holding at least
 * half of the remaining total, so about log2(rows) steps of k binary
 * searches each. */
tsr_status tsr__sort_co_rank(const tsr__sorter *s, int64_t t, int64_t *p) {
  const int64_t k = s->nchunks;
  int64_t *hi;
  TSR_TRY(tsr__alloc_array(s->ctx, (size_t)(3 * k) + 1, sizeof *hi, "splits", (void **)&hi));
  int64_t *cnt = hi + k, *cand = hi + 2 * k;
  for (int64_t r = 0; r < k; r++) {
    p[r] = 0; /* lo */
    hi[r] = s->runs[r]->n;
  }
  for (;;) {
    int64_t nc = 0, total = 0;
    for (int64_t r = 0; r < k; r++)
      if (hi[r] > p[r]) {
        /* Insertion by the window's middle element. */
        int64_t j = nc++, m = p[r] + (hi[r] - p[r]) / 2;
        while (j > 0) {
          int64_t q = cand[j - 1];
          if (!elem_before(s, r, m, q, p[q] + (hi[q] - p[q]) / 2))
            break;
          cand[j] = q;
          j--;
        }
        cand[j] = r;
        total += hi[r] - p[r];
      }
    if (nc == 0)
      break;
    int64_t best = cand[nc - 1], acc = 0;
    for (int64_t i = 0; i < nc; i++) {
      acc += hi[cand[i]] - p[cand[i]];
      if (2 * acc >= total) {
        best = cand[i];
        break;
      }
    }
    int64_t m = p[best] + (hi[best] - p[best]) / 2, rank = 0;
    for (int64_t r = 0; r < k; r++) {
      cnt[r] = count_before(s, r, best, m);
      rank += cnt[r];
    }
    if (rank < t) { /* (best, m) is among the first t, and so is all before it */
      for (int64_t r = 0; r < k; r++)
        p[r] = cnt[r] > p[r] ? cnt[r] : p[r];
      p[best] = m + 1 > p[best] ? m + 1 : p[best];
    } else {
      for (int64_t r = 0; r < k; r++)
        hi[r] = cnt[r] < hi[r] ? cnt[r] : hi[r];
    }
  }
  tsr_free(s->ctx, hi);
  return TSR_OK;
}

tsr_status tsr__sorter_split(tsr__sorter *s, int64_t rows, int64_t chunk_rows) {
  tsr_ctx *ctx = s->ctx;
  const int64_t k = s->nchunks;
  if (chunk_rows < 1)
    chunk_rows = 1;
  s->nout = rows == 0 ? 1 : (rows - 1) / chunk_rows + 1;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)s->nout + 2, sizeof *s->out_start, "output chunks",
                           (void **)&s->out_start));
  int64_t cells;
  TSR_CHECK(tsr__size_mul(s->nout + 1, k, &cells), TSR_EINVAL, "%s: too many chunks", s->fn);
  TSR_TRY(tsr__alloc_array(ctx, (size_t)cells + 1, sizeof *s->splits, "splits",
                           (void **)&s->splits));
  for (int64_t j = 0; j <= s->nout; j++) {
    int64_t t = j * chunk_rows < rows ? j * chunk_rows : rows;
    s->out_start[j] = t;
    int64_t *p = s->splits + j * k;
    if (t == 0) {
      memset(p, 0, (size_t)k * sizeof *p);
    } else {
      int64_t all = 0;
      for (int64_t r = 0; r < k; r++)
        all += s->runs[r]->n;
      if (t == all) {
        for (int64_t r = 0; r < k; r++)
          p[r] = s->runs[r]->n;
      } else {
        TSR_TRY(tsr__sort_co_rank(s, t, p));
      }
    }
  }
  return TSR_OK;
}
