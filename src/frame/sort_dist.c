/* sort_dist.c — tsr_frame_sort and tsr_frame_top_k across MPI ranks
 * (docs/frames.md, "Sorting"; docs/scaling.md, "Sort"), on the sort engine
 * (sort_impl.h).
 *
 * Phases 1 and 2 run "owner computes": each rank computes the input chunks
 * it owns, their key statistics and their sorted runs.  The statistics of
 * every chunk are all-gathered so that every rank lays the keys out alike
 * (the same bit fields: encoded keys compare the same on every rank).
 *
 * Rows then move as *pieces*: a piece is a slice of one chunk's sorted run,
 * its rows' columns gathered in run order into a self-contained table chunk
 * (strings with their bytes).  A rank that receives a piece re-encodes its
 * keys into a run of that chunk whose rows are the piece's, in order, so the
 * engine's merge (ties to the earlier chunk, then the earlier position)
 * gives exactly the one-rank order: a slice keeps its run's order, and a
 * chunk's slices are disjoint ranges of its run.
 *
 *  - top-k: each rank sends every rank the slices of its runs that make its
 *    own first k rows (k rows per rank, all-gathered), and every rank merges
 *    the first k from them: every row of the global first k is among its
 *    rank's first k.
 *  - sort: sample sort with regular sampling (sort_sample.c).
 *
 * The result is a frame over chunks every rank computes for itself (no
 * message), the one-rank result's rows and row chunks. */
#include <string.h>

#include "sort_impl.h"

/* A piece in a buffer: this header (64 bytes, keeping the table chunk
 * 64-byte aligned), then the table chunk. */
typedef struct piece_head {
  int64_t chunk, rows;
  uint64_t bytes; /* the table chunk's */
  uint64_t pad[5];
} piece_head;

tsr_status tsr__sort_share_stats(tsr__sorter *s, tsr__kstat *stats) {
  tsr_ctx *ctx = s->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int64_t nch = s->nchunks;
  const int P = s->nranks;
  /* Records: chunk, rows, then the chunk's statistics. */
  const size_t rec = 2 * sizeof(int64_t) + (size_t)s->nkeys * sizeof *stats;
  unsigned char *send = NULL, *recv = NULL;
  uint64_t *counts = NULL;
  int64_t mine = 0;
  for (int64_t c = 0; c < nch; c++)
    mine += tsr__sorter_mine(s, c);
  tsr_status status = tsr__alloc_array(ctx, (size_t)mine + 1, rec, "statistics", (void **)&send);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)P, sizeof *counts, "counts", (void **)&counts);
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  unsigned char *p = send;
  for (int64_t c = 0; c < nch; c++) {
    if (!tsr__sorter_mine(s, c))
      continue;
    memcpy(p, &c, sizeof c);
    memcpy(p + 8, &s->rows[c], sizeof c);
    memcpy(p + 16, stats + c * s->nkeys, rec - 16);
    p += rec;
  }
  TSR__TRY_GOTO(status, tsr__dist_gather_counts(d, (uint64_t)mine * rec, counts));
  uint64_t total = 0;
  for (int r = 0; r < P; r++)
    total += counts[r];
  status = total / rec == (uint64_t)nch
               ? tsr_alloc(ctx, (size_t)total + 1, (void **)&recv)
               : tsr_error_set(TSR_EINTERNAL, "%s: the ranks own %llu of %lld chunks", s->fn,
                               (unsigned long long)(total / rec), (long long)nch);
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  TSR__TRY_GOTO(status, tsr__dist_allgatherv(d, send, (uint64_t)mine * rec, recv, counts));
  for (uint64_t i = 0; i < total / rec; i++) {
    const unsigned char *q = recv + i * rec;
    int64_t c;
    memcpy(&c, q, sizeof c);
    memcpy(&s->rows[c], q + 8, sizeof c);
    memcpy(stats + c * s->nkeys, q + 16, rec - 16);
  }
fail:
  tsr_free(ctx, recv);
  tsr_free(ctx, counts);
  tsr_free(ctx, send);
  return status;
}

/* ---- pieces ----------------------------------------------------------------------------- */

/* The table chunk of slice [a, b) of chunk c's run: data capacities per
 * column (long strings' bytes, from the run's prefix sums) and bytes. */
static tsr_status piece_layout(const tsr__sorter *s, int64_t c, int64_t a, int64_t b,
                               const size_t *widths, int64_t *data_cap, uint64_t *bytes) {
  const int nc = s->f->ncols;
  const tsr__run *run = s->runs[c];
  for (int i = 0; i < nc; i++)
    data_cap[i] = 0;
  for (int t = 0; t < s->nstr; t++) {
    const int64_t *pre = tsr__run_strbytes(run) + (int64_t)t * (run->n + 1);
    data_cap[s->str_cols[t]] = pre[b] - pre[a];
  }
  TSR_CHECK(tsr__tablechunk_bytes((uint32_t)nc, widths, b - a, data_cap, bytes), TSR_EINVAL,
            "%s: a slice of %lld rows of row chunk %lld is too big to send", s->fn,
            (long long)(b - a), (long long)c);
  return TSR_OK;
}

/* Writes the piece of slice [a, b) of chunk c's run at dst (header, then
 * `bytes` bytes of table chunk). */
static tsr_status piece_write(const tsr__sorter *s, int64_t c, int64_t a, int64_t b,
                              const size_t *widths, const int64_t *data_cap, uint64_t bytes,
                              unsigned char *dst) {
  const int nc = s->f->ncols;
  piece_head *h = (piece_head *)dst;
  memset(h, 0, sizeof *h);
  h->chunk = c;
  h->rows = b - a;
  h->bytes = bytes;
  void *t = dst + sizeof *h;
  tsr__tablechunk_init(t, bytes, (uint32_t)nc, widths, b - a, data_cap);
  uint64_t *src;
  TSR_TRY(tsr_kernel_alloc(s->ctx, (size_t)(b - a) * sizeof *src + 8, (void **)&src));
  const uint32_t *rows = tsr__run_rows(s->runs[c]);
  for (int64_t p = a; p < b; p++)
    src[p - a] = (uint64_t)c << 32 | rows[p];
  for (int i = 0; i < nc; i++)
    tsr__sort_gather_col(s, i, src, b - a, tsr__tablechunk_col(t, (uint32_t)i));
  tsr_free(s->ctx, src);
  return TSR_OK;
}

tsr_status tsr__sort_pack(tsr__sorter *s, int ndest, const int64_t *lo, const int64_t *hi,
                          unsigned char **buf, uint64_t *dest_bytes) {
  tsr_ctx *ctx = s->ctx;
  const int64_t nch = s->nchunks;
  const int nc = s->f->ncols;
  size_t *widths = NULL;
  int64_t *caps = NULL;
  uint64_t *off = NULL, total = 0;
  *buf = NULL;
  tsr_status status;
  int64_t cells = (int64_t)ndest * nch;
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)nc + 1, sizeof *widths, "widths", (void **)&widths));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)cells * (size_t)(nc + 1) + 1, sizeof *caps,
                                         "capacities", (void **)&caps));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)cells + 1, sizeof *off, "offsets", (void **)&off));
  for (int i = 0; i < nc; i++)
    widths[i] = tsr_type_width(s->f->cols[i].type);
  /* Sizes: caps[cell * (nc + 1)] holds the table chunk's bytes. */
  for (int j = 0; j < ndest; j++) {
    dest_bytes[j] = 0;
    for (int64_t c = 0; c < nch; c++) {
      int64_t cell = (int64_t)j * nch + c, a = lo[cell], b = hi[cell];
      int64_t *cap = caps + cell * (nc + 1);
      off[cell] = total;
      cap[nc] = 0;
      if (a >= b)
        continue;
      uint64_t bytes = 0;
      TSR__TRY_GOTO(status, piece_layout(s, c, a, b, widths, cap, &bytes));
      cap[nc] = (int64_t)bytes;
      dest_bytes[j] += sizeof(piece_head) + bytes;
      total += sizeof(piece_head) + bytes;
    }
  }
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)total + 1, (void **)buf));
  status = TSR_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(tsr_ctx_threads(ctx))
  for (int64_t cell = 0; cell < cells; cell++) {
    int64_t c = cell % nch, a = lo[cell], b = hi[cell];
    const int64_t *cap = caps + cell * (nc + 1);
    if (a >= b)
      continue;
    tsr_status st = piece_write(s, c, a, b, widths, cap, (uint64_t)cap[nc], *buf + off[cell]);
    if (st != TSR_OK) {
#pragma omp critical(tsr_sort_pack_status)
      status = st;
    }
  }
  if (status != TSR_OK) {
    tsr_free(ctx, *buf);
    *buf = NULL;
  }
fail:
  tsr_free(ctx, off);
  tsr_free(ctx, caps);
  tsr_free(ctx, widths);
  return status;
}

/* Chunk c's piece, received: its column reads, and a run of its rows in
 * order with their keys encoded again (the layout is every rank's). */
static tsr_status piece_install(tsr__sorter *s, const piece_head *h) {
  const int nc = s->f->ncols;
  const int64_t c = h->chunk, n = h->rows;
  const void *t = h + 1;
  tsr__colread *cr = s->cr + c * nc;
  for (int i = 0; i < nc; i++)
    tsr__colread_of(t, (uint32_t)i, &cr[i]);
  tsr__colread *kc = s->kcr + c * s->nkeys;
  for (int k = 0; k < s->nkeys; k++)
    kc[k] = cr[s->keys[k].col];
  tsr__run *run;
  TSR_TRY(tsr_kernel_alloc(s->ctx, (size_t)tsr__run_bytes(n, s->W, s->nstr), (void **)&run));
  run->n = n;
  run->W = s->W;
  run->nstr = s->nstr;
  run->chunk = c;
  if (s->W > 0 && n > 0)
    tsr__sort_encode(s, kc, n, (uint64_t *)tsr__run_keys(run));
  uint32_t *rows = (uint32_t *)tsr__run_rows(run);
  for (int64_t i = 0; i < n; i++)
    rows[i] = (uint32_t)i;
  int64_t *pre = (int64_t *)tsr__run_strbytes(run);
  for (int j = 0; j < s->nstr; j++) {
    const tsr__colread *r = &cr[s->str_cols[j]];
    const tsr_string_view *v = r->values;
    int64_t *p = pre + (int64_t)j * (n + 1), sum = 0;
    p[0] = 0;
    for (int64_t i = 0; i < n; i++) {
      if (v[i].length > 12 && (r->validity == NULL || tsr__bit_get(r->validity, i)))
        sum += v[i].length;
      p[i + 1] = sum;
    }
  }
  s->own_runs[c] = run;
  s->runs[c] = run;
  return TSR_OK;
}

tsr_status tsr__sort_install(tsr__sorter *s, unsigned char *recv, uint64_t bytes) {
  tsr_ctx *ctx = s->ctx;
  const int64_t nch = s->nchunks;
  const int nc = s->f->ncols;
  tsr_status status;
  tsr_free(ctx, s->recv);
  s->recv = recv;
  if (s->own_runs == NULL)
    TSR_TRY(tsr_calloc(ctx, (size_t)nch + 1, sizeof *s->own_runs, (void **)&s->own_runs));
  for (int64_t c = 0; c < nch; c++) {
    tsr_free(ctx, s->own_runs[c]);
    s->own_runs[c] = NULL;
    s->runs[c] = &s->empty;
    memset(s->cr + c * nc, 0, (size_t)nc * sizeof *s->cr);
    memset(s->kcr + c * s->nkeys, 0, (size_t)s->nkeys * sizeof *s->kcr);
  }
  const piece_head **pieces;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)nch + 1, sizeof *pieces, "pieces", (void **)&pieces));
  int64_t np = 0;
  for (uint64_t off = 0; off < bytes; np++) {
    const piece_head *h = (const piece_head *)(recv + off);
    TSR__CHECK_GOTO(status, np < nch && h->chunk >= 0 && h->chunk < nch, TSR_EINTERNAL,
                    "%s: a received piece names row chunk %lld of %lld", s->fn, (long long)h->chunk,
                    (long long)nch);
    pieces[np] = h;
    off += sizeof *h + h->bytes;
  }
  status = TSR_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(tsr_ctx_threads(ctx))
  for (int64_t i = 0; i < np; i++) {
    tsr_status st = piece_install(s, pieces[i]);
    if (st != TSR_OK) {
#pragma omp critical(tsr_sort_install_status)
      status = st;
    }
  }
fail:
  tsr_free(ctx, pieces);
  return status;
}

/* ---- top-k -------------------------------------------------------------------------------- */

/* Every rank's first k rows (pieces of its runs), on every rank. */
static tsr_status share_first(tsr__sorter *s, int64_t k) {
  tsr_ctx *ctx = s->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int64_t nch = s->nchunks;
  int64_t *lo = NULL, *hi = NULL;
  unsigned char *send = NULL, *recv = NULL;
  uint64_t *counts = NULL, mine = 0;
  tsr_status status =
      tsr__alloc_array(ctx, (size_t)(2 * nch) + 1, sizeof *lo, "slices", (void **)&lo);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)s->nranks, sizeof *counts, "counts", (void **)&counts);
  if (status == TSR_OK) {
    hi = lo + nch;
    int64_t n = 0;
    for (int64_t c = 0; c < nch; c++) {
      lo[c] = 0;
      hi[c] = s->runs[c]->n;
      n += hi[c];
    }
    if (k >= 0 && k < n)
      status = tsr__sort_co_rank(s, k, hi);
  }
  if (status == TSR_OK)
    status = tsr__sort_pack(s, 1, lo, hi, &send, &mine);
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  TSR__TRY_GOTO(status, tsr__dist_gather_counts(d, mine, counts));
  uint64_t total = 0;
  for (int r = 0; r < s->nranks; r++)
    total += counts[r];
  status = tsr_alloc(ctx, (size_t)total + 1, (void **)&recv);
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  TSR__TRY_GOTO(status, tsr__dist_allgatherv(d, send, mine, recv, counts));
  status = tsr__sort_install(s, recv, total);
  recv = NULL; /* the sorter's */
fail:
  tsr_free(ctx, recv);
  tsr_free(ctx, send);
  tsr_free(ctx, counts);
  tsr_free(ctx, lo);
  return status;
}

tsr_status tsr__sort_frame_dist(tsr__sorter *s, int64_t k, int64_t chunk_rows, tsr_frame **out) {
  if (k < 0)
    return tsr__sort_sample(s, chunk_rows, out);
  tsr_status status = share_first(s, k);
  /* The output's graph runs on every rank: agree before it. */
  status = tsr_ctx_agree(s->ctx, status);
  TSR_TRY(status);
  int64_t rows = k < 0 || k > s->total ? s->total : k;
  return tsr__sorter_gather(s, rows, chunk_rows, out);
}
