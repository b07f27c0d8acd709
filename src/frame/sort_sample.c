/* sort_sample.c — tsr_frame_sort across MPI ranks: sample sort with
 * regular sampling (docs/scaling.md, "Sort"), after phases 1 and 2 ran on
 * each rank's own chunks (sort_dist.c).
 *
 *  1. Each rank takes P - 1 regular samples of its rows in sorted order
 *     (ranks i * n / P of its merged runs, by co-ranking), all-gathered.
 *  2. Every rank sorts the samples alike and takes P - 1 splitters; rank j
 *     will hold the rows after splitter j - 1 up to splitter j.
 *  3. Each rank cuts each of its runs at the splitters (binary searches)
 *     and sends every rank its slices as pieces (sort_dist.c), one
 *     all-to-all; the receiver's runs are then those slices.
 *  4. Each rank merges its range, cut where the one-rank output chunks
 *     start, into segments, and sends each to the owner of its output
 *     chunk (tsr__dist_chunk_owner, one all-to-all), which copies the
 *     chunk from its segments and keeps it: the result is held across the
 *     ranks, balanced by rows (gb_mem_frame_held; chunk sizes shared).
 *
 * Rows compare by their keys, then by their global row number: a total
 * order, the one-rank stable order, so ranges never overlap and a key that
 * holds half the rows is split between ranks like any other.  Samples
 * carry their encoded keys, their row number and, for keys whose strings
 * were truncated, the whole strings (the engine compares those when the
 * encoded fields tie).  Moved: each row once in the all-to-all (unless its
 * range is its own rank's), and once more to its output chunk's owner
 * (unless that is the rank that merged it). */
#include <stdlib.h>
#include <string.h>

#include <tessera/dist.h>

#include "dist/dist.h"
#include "groupby_impl.h" /* gb_mem_frame_held */
#include "sort_impl.h"

/* A sample: encoded key words, global row, and column reads of the
 * truncated string keys (per key, only those filled). */
typedef struct sample {
  const uint64_t *words;
  int64_t g;
  tsr__colread *cr; /* nkeys */
} sample;

static const uint8_t zero_bit = 0;

/* The element of (run c, position p)'s global row. */
static inline int64_t grow(const tsr__sorter *s, int64_t c, int64_t p) {
  return s->row_start[c] + tsr__run_rows(s->runs[c])[p];
}

/* Run element (c, p) against sample x: < 0, 0 (the same row), > 0. */
static int elem_vs_sample(const tsr__sorter *s, int64_t c, int64_t p, const sample *x) {
  const tsr__run *r = s->runs[c];
  int cmp = tsr__sort_cmp(s, tsr__run_keys(r) + p * s->W, x->words, s->W * 64, s->nkeys,
                          s->kcr + c * s->nkeys, tsr__run_rows(r)[p], x->cr, 0);
  if (cmp != 0)
    return cmp;
  int64_t g = grow(s, c, p);
  return g < x->g ? -1 : g > x->g;
}

static int sample_cmp(const tsr__sorter *s, const sample *a, const sample *b) {
  int cmp = tsr__sort_cmp(s, a->words, b->words, s->W * 64, s->nkeys, a->cr, 0, b->cr, 0);
  if (cmp != 0)
    return cmp;
  return a->g < b->g ? -1 : a->g > b->g;
}

/* Bytes of element (c, p)'s sample record. */
static uint64_t record_bytes(const tsr__sorter *s, int64_t c, int64_t p) {
  uint64_t bytes = 16 + (uint64_t)s->W * 8;
  uint32_t row = tsr__run_rows(s->runs[c])[p];
  for (int t = 0; t < s->ntrunc; t++) {
    const tsr__colread *r = &s->kcr[c * s->nkeys + s->trunc[t]];
    const tsr_string_view *v = (const tsr_string_view *)r->values + row;
    bool valid = r->validity == NULL || tsr__bit_get(r->validity, row);
    bytes += 24;
    if (valid && v->length > 12)
      bytes += (v->length + 7) & ~(uint64_t)7;
  }
  return bytes;
}

/* Writes element (c, p)'s record: bytes, global row, words, then per
 * truncated key its view (offset 0), whether valid, and its long bytes. */
static void record_write(const tsr__sorter *s, int64_t c, int64_t p, unsigned char *dst) {
  uint64_t bytes = record_bytes(s, c, p);
  int64_t g = grow(s, c, p);
  memcpy(dst, &bytes, 8);
  memcpy(dst + 8, &g, 8);
  memcpy(dst + 16, tsr__run_keys(s->runs[c]) + p * s->W, (size_t)s->W * 8);
  unsigned char *q = dst + 16 + (size_t)s->W * 8;
  uint32_t row = tsr__run_rows(s->runs[c])[p];
  for (int t = 0; t < s->ntrunc; t++) {
    const tsr__colread *r = &s->kcr[c * s->nkeys + s->trunc[t]];
    tsr_string_view v = ((const tsr_string_view *)r->values)[row];
    uint64_t valid = r->validity == NULL || tsr__bit_get(r->validity, row);
    const char *text = tsr_string_view_data(&v, r->data);
    if (!valid)
      memset(&v, 0, sizeof v);
    if (v.length > 12)
      v.u.ref.offset = 0;
    memcpy(q, &v, 16);
    memcpy(q + 16, &valid, 8);
    q += 24;
    if (valid && v.length > 12) {
      memcpy(q, text, v.length);
      q += (v.length + 7) & ~(uint64_t)7;
    }
  }
}

/* Parses the records in buf (bytes) into samples (views kept in `views`,
 * ntrunc per sample; cr nkeys per sample). */
static void records_parse(const tsr__sorter *s, const unsigned char *buf, uint64_t bytes,
                          sample *out, tsr__colread *cr, tsr_string_view *views, int64_t *n) {
  int64_t m = 0;
  for (uint64_t off = 0; off < bytes; m++) {
    const unsigned char *q = buf + off;
    uint64_t len;
    memcpy(&len, q, 8);
    sample *x = &out[m];
    memcpy(&x->g, q + 8, 8);
    x->words = (const uint64_t *)(q + 16);
    x->cr = cr + m * s->nkeys;
    memset(x->cr, 0, (size_t)s->nkeys * sizeof *x->cr);
    q += 16 + (size_t)s->W * 8;
    for (int t = 0; t < s->ntrunc; t++) {
      tsr_string_view *v = &views[m * s->ntrunc + t];
      uint64_t valid;
      memcpy(v, q, 16);
      memcpy(&valid, q + 16, 8);
      q += 24;
      tsr__colread *r = &x->cr[s->trunc[t]];
      r->rows = 1;
      r->values = v;
      r->null_count = !valid;
      r->validity = valid ? NULL : &zero_bit;
      r->data = (const char *)q;
      if (valid && v->length > 12)
        q += (v->length + 7) & ~(uint64_t)7;
    }
    off += len;
  }
  *n = m;
}

/* Sorts samples (merge sort: the comparator needs s). */
static void samples_sort(const tsr__sorter *s, sample *a, sample *tmp, int64_t n) {
  for (int64_t w = 1; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi)
        tmp[k++] = sample_cmp(s, &a[j], &a[i]) < 0 ? a[j++] : a[i++];
      while (i < mid)
        tmp[k++] = a[i++];
      while (j < hi)
        tmp[k++] = a[j++];
    }
    memcpy(a, tmp, (size_t)n * sizeof *a);
  }
}

/* The element at rank t of this rank's merged runs: (*c, *p). */
static tsr_status local_at(const tsr__sorter *s, int64_t t, int64_t *split, int64_t *c,
                           int64_t *p) {
  TSR_TRY(tsr__sort_co_rank(s, t, split));
  *c = -1;
  for (int64_t r = 0; r < s->nchunks; r++) {
    if (split[r] >= s->runs[r]->n)
      continue;
    if (*c < 0 || tsr__sort_elem_cmp(s, r, split[r], *c, *p, s->W * 64, s->nkeys) < 0) {
      *c = r;
      *p = split[r];
    }
  }
  return TSR_OK;
}

/* Steps 1 and 2: the P - 1 splitters, every rank's alike, parsed from
 * *keep (which the caller frees with the samples). */
static tsr_status splitters(tsr__sorter *s, sample **spl, int64_t *nspl, void **keep) {
  tsr_ctx *ctx = s->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = s->nranks;
  const int64_t nch = s->nchunks;
  int64_t *split = NULL, *at = NULL;
  unsigned char *send = NULL, *recv = NULL;
  uint64_t *counts = NULL, mine = 0;
  sample *all = NULL;
  tsr__colread *cr = NULL;
  tsr_string_view *views = NULL;
  *spl = NULL;
  *keep = NULL;
  *nspl = 0;
  int64_t n = 0;
  for (int64_t c = 0; c < nch; c++)
    n += s->runs[c]->n;
  tsr_status status =
      tsr__alloc_array(ctx, (size_t)nch + 1, sizeof *split, "splits", (void **)&split);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)(2 * P), sizeof *at, "samples", (void **)&at);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)P, sizeof *counts, "counts", (void **)&counts);
  int64_t ns = 0;
  for (int i = 1; i < P && status == TSR_OK && n > 0; i++) {
    int64_t t = i * (n / P) + i * (n % P) / P; /* floor(i * n / P) */
    status = local_at(s, t, split, &at[2 * ns], &at[2 * ns + 1]);
    if (status == TSR_OK) {
      mine += record_bytes(s, at[2 * ns], at[2 * ns + 1]);
      ns++;
    }
  }
  if (status == TSR_OK)
    status = tsr_alloc(ctx, (size_t)mine + 1, (void **)&send);
  if (status == TSR_OK)
    for (int64_t i = 0, off = 0; i < ns; i++) {
      record_write(s, at[2 * i], at[2 * i + 1], send + off);
      off += (int64_t)record_bytes(s, at[2 * i], at[2 * i + 1]);
    }
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  TSR__TRY_GOTO(status, tsr__dist_gather_counts(d, mine, counts));
  uint64_t total = 0;
  for (int r = 0; r < P; r++)
    total += counts[r];
  /* At most P - 1 records per rank, each at least 16 bytes. */
  int64_t cap = (int64_t)P * (P - 1) + 1;
  status = tsr_alloc(ctx, (size_t)total + 1, (void **)&recv);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)(2 * cap), sizeof *all, "samples", (void **)&all);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)cap * (size_t)(s->nkeys + 1), sizeof *cr, "samples",
                              (void **)&cr);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)cap * (size_t)(s->ntrunc + 1), sizeof *views, "samples",
                              (void **)&views);
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  TSR__TRY_GOTO(status, tsr__dist_allgatherv(d, send, mine, recv, counts));
  int64_t S;
  records_parse(s, recv, total, all, cr, views, &S);
  samples_sort(s, all, all + cap, S);
  /* Splitter j of P - 1: the sample at the j-th P-quantile. */
  int64_t m = 0;
  for (int j = 1; j < P && S > 0; j++) {
    int64_t idx = (int64_t)j * S / P;
    all[cap + m++] = all[idx < S ? idx : S - 1];
  }
  memcpy(all, all + cap, (size_t)m * sizeof *all);
  *spl = all;
  *nspl = m;
  /* One block to free: the samples point into recv, cr and views. */
  keep[0] = recv;
  keep[1] = cr;
  keep[2] = views;
  recv = NULL;
  cr = NULL;
  views = NULL;
  all = NULL;
fail:
  tsr_free(ctx, views);
  tsr_free(ctx, cr);
  tsr_free(ctx, all);
  tsr_free(ctx, recv);
  tsr_free(ctx, send);
  tsr_free(ctx, counts);
  tsr_free(ctx, at);
  tsr_free(ctx, split);
  return status;
}

/* Step 3: slices per destination and run (lo, hi: P x nchunks): the
 * elements of run c after splitter j - 1 up to splitter j go to rank j. */
static void cut_runs(const tsr__sorter *s, const sample *spl, int64_t nspl, int64_t *lo,
                     int64_t *hi) {
  const int P = s->nranks;
  const int64_t nch = s->nchunks;
  for (int64_t c = 0; c < nch; c++) {
    int64_t n = s->runs[c]->n, prev = 0;
    for (int j = 0; j < P; j++) {
      int64_t end = n;
      if (j < nspl) { /* the first element after splitter j */
        int64_t a = prev, b = n;
        while (a < b) {
          int64_t mid = a + (b - a) / 2;
          if (elem_vs_sample(s, c, mid, &spl[j]) <= 0)
            a = mid + 1;
          else
            b = mid;
        }
        end = a;
      }
      lo[(int64_t)j * nch + c] = prev;
      hi[(int64_t)j * nch + c] = end;
      prev = end;
    }
  }
}

/* A segment: header as sort_dist.c's pieces (chunk = the output chunk). */
typedef struct seg_head {
  int64_t chunk, rows;
  uint64_t bytes;
  uint64_t pad[5];
} seg_head;

/* Step 4a: this rank's range [off, off + n) of the sorted rows, cut at the
 * output chunks' starts (chunk_rows apart), merged and gathered into
 * segments in *buf (*bytes). */
static tsr_status segments(tsr__sorter *s, int64_t off, int64_t n, int64_t chunk_rows,
                           unsigned char **buf, uint64_t *bytes) {
  tsr_ctx *ctx = s->ctx;
  const int64_t nch = s->nchunks;
  const int nc = s->f->ncols;
  *buf = NULL;
  *bytes = 0;
  int64_t first = off / chunk_rows, last = n > 0 ? (off + n - 1) / chunk_rows : first - 1;
  int64_t nseg = last - first + 1;
  int64_t *cut = NULL, *caps = NULL;
  uint64_t *at = NULL;
  size_t *widths = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)(nseg + 1) * (size_t)nch + 1, sizeof *cut,
                                         "splits", (void **)&cut));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nseg * (size_t)(nc + 1) + 1, sizeof *caps,
                                         "capacities", (void **)&caps));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)nseg + 2, sizeof *at, "offsets", (void **)&at));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)nc + 1, sizeof *widths, "widths", (void **)&widths));
  for (int i = 0; i < nc; i++)
    widths[i] = tsr_type_width(s->f->cols[i].type);
  /* Where segment q starts in every run: local rank max(off, chunk start) - off. */
  for (int64_t q = 0; q <= nseg; q++) {
    int64_t t = q == 0 ? 0 : q == nseg ? n : (first + q) * chunk_rows - off;
    int64_t *p = cut + q * nch;
    if (t == 0)
      memset(p, 0, (size_t)nch * sizeof *p);
    else if (t == n)
      for (int64_t c = 0; c < nch; c++)
        p[c] = s->runs[c]->n;
    else
      TSR__TRY_GOTO(status, tsr__sort_co_rank(s, t, p));
  }
  uint64_t total = 0;
  for (int64_t q = 0; q < nseg; q++) {
    int64_t *cap = caps + q * (nc + 1), rows = 0;
    for (int64_t c = 0; c < nch; c++)
      rows += cut[(q + 1) * nch + c] - cut[q * nch + c];
    for (int i = 0; i < nc; i++)
      cap[i] = 0;
    for (int t = 0; t < s->nstr; t++)
      for (int64_t c = 0; c < nch; c++) {
        const tsr__run *r = s->runs[c];
        const int64_t *pre = tsr__run_strbytes(r) + (int64_t)t * (r->n + 1);
        cap[s->str_cols[t]] += pre[cut[(q + 1) * nch + c]] - pre[cut[q * nch + c]];
      }
    uint64_t b;
    TSR__CHECK_GOTO(status, tsr__tablechunk_bytes((uint32_t)nc, widths, rows, cap, &b), TSR_EINVAL,
                    "%s: an output chunk of %lld rows is too big", s->fn, (long long)rows);
    cap[nc] = rows;
    at[q] = total;
    total += sizeof(seg_head) + b;
  }
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)total + 1, (void **)buf));
  status = TSR_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(tsr_ctx_threads(ctx))
  for (int64_t q = 0; q < nseg; q++) {
    const int64_t *cap = caps + q * (nc + 1);
    int64_t rows = cap[nc];
    uint64_t tb = (q + 1 < nseg ? at[q + 1] : total) - at[q] - sizeof(seg_head);
    seg_head *h = (seg_head *)(*buf + at[q]);
    memset(h, 0, sizeof *h);
    h->chunk = first + q;
    h->rows = rows;
    h->bytes = tb;
    void *t = h + 1;
    tsr__tablechunk_init(t, tb, (uint32_t)nc, widths, rows, cap);
    uint64_t *src = NULL;
    tsr_status st = tsr_kernel_alloc(ctx, (size_t)rows * sizeof *src + 8, (void **)&src);
    if (st == TSR_OK)
      st = tsr__sort_merge_slices(s, cut + q * nch, cut + (q + 1) * nch, rows, src);
    if (st == TSR_OK) {
      for (int64_t k = 0; k < rows; k++) {
        int64_t r = (int64_t)(src[k] >> 32), p = (int64_t)(src[k] & 0xffffffffu);
        src[k] = (uint64_t)r << 32 | tsr__run_rows(s->runs[r])[p];
      }
      for (int i = 0; i < nc; i++)
        tsr__sort_gather_col(s, i, src, rows, tsr__tablechunk_col(t, (uint32_t)i));
    }
    tsr_free(ctx, src);
    if (st != TSR_OK) {
#pragma omp critical(tsr_sort_segments_status)
      status = st;
    }
  }
  if (status == TSR_OK)
    *bytes = total;
  else {
    tsr_free(ctx, *buf);
    *buf = NULL;
  }
fail:
  tsr_free(ctx, widths);
  tsr_free(ctx, at);
  tsr_free(ctx, caps);
  tsr_free(ctx, cut);
  return status;
}

/* Step 4b: output chunk j from its segments (in order). */
static tsr_status assemble(const tsr__sorter *s, const seg_head *const *segs, int64_t nseg,
                           int64_t rows, const size_t *widths, int64_t *cap, void **out,
                           size_t *out_bytes) {
  const int nc = s->f->ncols;
  int64_t got = 0;
  for (int64_t q = 0; q < nseg; q++)
    got += segs[q]->rows;
  TSR_CHECK(got == rows, TSR_EINTERNAL, "%s: an output chunk of %lld rows received %lld", s->fn,
            (long long)rows, (long long)got);
  for (int i = 0; i < nc; i++) {
    cap[i] = 0;
    for (int64_t q = 0; q < nseg; q++)
      cap[i] += (int64_t)tsr__tablechunk_col(segs[q] + 1, (uint32_t)i)->data_bytes;
  }
  uint64_t bytes;
  TSR_CHECK(tsr__tablechunk_bytes((uint32_t)nc, widths, rows, cap, &bytes), TSR_EINVAL,
            "%s: an output chunk of %lld rows is too big", s->fn, (long long)rows);
  void *t;
  TSR_TRY(tsr_kernel_alloc(s->ctx, (size_t)bytes, &t));
  tsr__tablechunk_init(t, bytes, (uint32_t)nc, widths, rows, cap);
  for (int i = 0; i < nc; i++) {
    tsr__colchunk *o = tsr__tablechunk_col(t, (uint32_t)i);
    bool nulls = false;
    for (int64_t q = 0; q < nseg; q++)
      nulls |= tsr__tablechunk_col(segs[q] + 1, (uint32_t)i)->null_count > 0;
    if (nulls)
      memset(tsr__colchunk_validity(o), 0xff, (size_t)(rows + 7) / 8);
    int64_t r0 = 0;
    uint64_t used = 0;
    for (int64_t q = 0; q < nseg; q++) {
      tsr__colchunk *x = tsr__tablechunk_col(segs[q] + 1, (uint32_t)i);
      int64_t n = x->rows;
      if (n > 0)
        memcpy((char *)tsr__colchunk_values(o) + (size_t)r0 * widths[i], tsr__colchunk_values(x),
               (size_t)n * widths[i]);
      if (x->null_count > 0)
        tsr__ops_copy_bits(tsr__colchunk_validity(o), r0, tsr__colchunk_validity(x), 0, n);
      o->null_count += x->null_count;
      if (x->data_bytes > 0) {
        tsr_string_view *v = (tsr_string_view *)tsr__colchunk_values(o) + r0;
        for (int64_t k = 0; k < n; k++)
          if (v[k].length > 12)
            v[k].u.ref.offset += (uint32_t)used;
        memcpy(tsr__colchunk_data(o) + used, tsr__colchunk_data(x), x->data_bytes);
        used += x->data_bytes;
      }
      r0 += n;
    }
    o->rows = rows;
    o->data_bytes = used;
  }
  *out = t;
  *out_bytes = (size_t)bytes;
  return TSR_OK;
}

/* Step 4b for the output chunks owner[] gives this rank (from the segments
 * it received, `all`): the result frame, held across the ranks. */
static tsr_status result(tsr__sorter *s, const unsigned char *all, uint64_t bytes,
                         int64_t chunk_rows, const int32_t *owner, tsr_frame **out) {
  tsr_ctx *ctx = s->ctx;
  const int nc = s->f->ncols;
  const int64_t total = s->total;
  const int64_t nout = total == 0 ? 1 : (total - 1) / chunk_rows + 1;
  const seg_head **segs = NULL;
  int64_t *first = NULL, *rows = NULL, *caps = NULL;
  void **chunks = NULL;
  size_t *cbytes = NULL, *widths = NULL;
  char **names = NULL;
  tsr_type *types = NULL;
  tsr__dict **dicts = NULL;
  tsr_status status;
  bool agreed = false; /* every rank agrees once, before the sizes are shared */
  int64_t nseg = 0;
  for (uint64_t off = 0; off < bytes; nseg++)
    off += sizeof(seg_head) + ((const seg_head *)(all + off))->bytes;
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)nseg + 1, sizeof *segs, "segments", (void **)&segs));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nout + 2, sizeof *first, (void **)&first));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nout + 1, sizeof *rows, (void **)&rows));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nout + 1, sizeof *chunks, (void **)&chunks));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nout + 1, sizeof *cbytes, (void **)&cbytes));
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)nout * (size_t)nc + 1, sizeof *caps, (void **)&caps));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *widths, (void **)&widths));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *names, (void **)&names));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *types, (void **)&types));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *dicts, (void **)&dicts));
  /* Segments come by rank, each rank's in chunk order: chunk order overall. */
  int64_t q = 0;
  for (uint64_t off = 0; off < bytes; q++) {
    const seg_head *h = (const seg_head *)(all + off);
    TSR__CHECK_GOTO(
        status, h->chunk >= 0 && h->chunk < nout && (q == 0 || h->chunk >= segs[q - 1]->chunk),
        TSR_EINTERNAL, "%s: segment of output chunk %lld out of order", s->fn, (long long)h->chunk);
    TSR__CHECK_GOTO(status, owner[h->chunk] == s->rank, TSR_EINTERNAL,
                    "%s: a segment of output chunk %lld came to rank %d, not its owner", s->fn,
                    (long long)h->chunk, s->rank);
    segs[q] = h;
    first[h->chunk + 1] = q + 1;
    off += sizeof *h + h->bytes;
  }
  for (int64_t j = 0; j < nout; j++) /* the one-rank cut */
    rows[j] = total - j * chunk_rows < chunk_rows ? total - j * chunk_rows : chunk_rows;
  for (int64_t j = 1; j <= nout; j++) /* chunks without segments (no rows) */
    if (first[j] < first[j - 1])
      first[j] = first[j - 1];
  for (int i = 0; i < nc; i++) {
    widths[i] = tsr_type_width(s->f->cols[i].type);
    names[i] = s->f->cols[i].name;
    types[i] = s->f->cols[i].type;
    dicts[i] = s->f->cols[i].dict;
  }
  status = TSR_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(tsr_ctx_threads(ctx))
  for (int64_t j = 0; j < nout; j++) {
    if (owner[j] != s->rank)
      continue;
    int64_t *cap = caps + j * nc;
    tsr_status st = assemble(s, segs + first[j], first[j + 1] - first[j], rows[j], widths, cap,
                             &chunks[j], &cbytes[j]);
    if (st != TSR_OK) {
#pragma omp critical(tsr_sort_result_status)
      status = st;
    }
  }
  TSR__TRY_GOTO(status, status);
  {
    /* Every chunk's size and data capacities (column-major for the frame:
     * [i * nout + j]), on every rank. */
    int64_t *dc = NULL, *sizes = NULL;
    status = tsr_calloc(ctx, (size_t)nout * (size_t)(nc + 1) + 1, sizeof *dc, (void **)&dc);
    if (status == TSR_OK) {
      sizes = dc + (int64_t)nout * nc;
      for (int64_t j = 0; j < nout; j++) {
        sizes[j] = (int64_t)cbytes[j];
        for (int i = 0; i < nc; i++)
          dc[(int64_t)i * nout + j] = caps[j * nc + i];
      }
    }
    status = tsr__dist_agree(tsr__dist_get(ctx), status);
    agreed = true;
    if (status == TSR_OK)
      status = tsr__dist_sum_i64s(tsr__dist_get(ctx), dc, (int64_t)nout * (nc + 1));
    for (int64_t j = 0; j < nout && status == TSR_OK; j++)
      cbytes[j] = (size_t)sizes[j];
    if (status == TSR_OK)
      status = gb_mem_frame_held(ctx, nc, names, types, dicts, nout, chunks, cbytes, rows, dc,
                                 owner, out);
    else
      for (int64_t j = 0; j < nout; j++)
        tsr_free(ctx, chunks[j]);
    tsr_free(ctx, dc);
    tsr_free(ctx, chunks); /* the frame owns the chunks, also on failure */
    chunks = NULL;
  }
fail:
  if (!agreed)
    status = tsr__dist_agree(tsr__dist_get(ctx), status);
  if (chunks != NULL)
    for (int64_t j = 0; j < nout; j++)
      tsr_free(ctx, chunks[j]);
  tsr_free(ctx, chunks);
  tsr_free(ctx, dicts);
  tsr_free(ctx, types);
  tsr_free(ctx, names);
  tsr_free(ctx, widths);
  tsr_free(ctx, caps);
  tsr_free(ctx, cbytes);
  tsr_free(ctx, rows);
  tsr_free(ctx, first);
  tsr_free(ctx, segs);
  return status;
}

tsr_status tsr__sort_sample(tsr__sorter *s, int64_t chunk_rows, tsr_frame **out) {
  tsr_ctx *ctx = s->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = s->nranks;
  const int64_t nch = s->nchunks;
  sample *spl = NULL;
  void *keep[3] = {NULL, NULL, NULL};
  int64_t nspl = 0, *lo = NULL, *hi = NULL;
  unsigned char *send = NULL, *recv = NULL, *segbuf = NULL, *all = NULL;
  uint64_t *sc = NULL, *so = NULL, *rc = NULL, *gc = NULL;
  int32_t *owner = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, splitters(s, &spl, &nspl, keep));
  status =
      tsr__alloc_array(ctx, (size_t)(2 * P) * (size_t)nch + 1, sizeof *lo, "slices", (void **)&lo);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)(4 * P), sizeof *sc, (void **)&sc);
  if (status == TSR_OK) {
    so = sc + P;
    rc = sc + 2 * P;
    gc = sc + 3 * P;
    hi = lo + (int64_t)P * nch;
    cut_runs(s, spl, nspl, lo, hi);
    status = tsr__sort_pack(s, P, lo, hi, &send, sc);
  }
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  for (int j = 1; j < P; j++)
    so[j] = so[j - 1] + sc[j - 1];
  TSR__TRY_GOTO(status, tsr__dist_exchange_counts(d, sc, rc));
  uint64_t rtotal = 0;
  for (int j = 0; j < P; j++)
    rtotal += rc[j];
  status = tsr_alloc(ctx, (size_t)rtotal + 1, (void **)&recv);
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  TSR__TRY_GOTO(status, tsr__dist_alltoallv(d, send, so, sc, recv, rc));
  tsr_free(ctx, send);
  send = NULL;
  status = tsr__sort_install(s, recv, rtotal);
  recv = NULL; /* the sorter's */
  /* This rank's range: its rows, after the ranks before it. */
  int64_t n = 0;
  for (int64_t c = 0; c < nch; c++)
    n += s->runs[c]->n;
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  TSR__TRY_GOTO(status, tsr__dist_gather_counts(d, (uint64_t)n, gc));
  int64_t off = 0;
  for (int r = 0; r < s->rank; r++)
    off += (int64_t)gc[r];
  uint64_t segbytes = 0;
  const int64_t nout = s->total == 0 ? 1 : (s->total - 1) / chunk_rows + 1;
  status = segments(s, off, n, chunk_rows, &segbuf, &segbytes);
  if (status == TSR_OK)
    status =
        tsr__alloc_array(ctx, (size_t)nout + 1, sizeof *owner, "chunk owners", (void **)&owner);
  for (int64_t j = 0; j < nout && status == TSR_OK; j++)
    owner[j] = tsr__dist_chunk_owner(ctx, j, nout);
  /* The segments by the rank owning their chunk, each rank's in chunk order. */
  if (status == TSR_OK)
    status = tsr_alloc(ctx, (size_t)segbytes + 1, (void **)&send);
  if (status == TSR_OK) {
    uint64_t at = 0;
    for (int j = 0; j < P; j++) {
      so[j] = at;
      for (uint64_t o = 0; o < segbytes;) {
        const seg_head *h = (const seg_head *)(segbuf + o);
        uint64_t b = sizeof *h + h->bytes;
        if (owner[h->chunk] == j) {
          memcpy(send + at, h, b);
          at += b;
        }
        o += b;
      }
      sc[j] = at - so[j];
    }
  }
  tsr_free(ctx, segbuf);
  segbuf = NULL;
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  TSR__TRY_GOTO(status, tsr__dist_exchange_counts(d, sc, gc));
  uint64_t atotal = 0;
  for (int j = 0; j < P; j++)
    atotal += gc[j];
  status = tsr_alloc(ctx, (size_t)atotal + 1, (void **)&all);
  TSR__TRY_GOTO(status, tsr__dist_agree(d, status));
  TSR__TRY_GOTO(status, tsr__dist_alltoallv(d, send, so, sc, all, gc));
  tsr_free(ctx, send);
  send = NULL;
  status = result(s, all, atotal, chunk_rows, owner, out);
  status = tsr__dist_agree(d, status);
  if (status != TSR_OK)
    tsr_frame_destroy(out);
fail:
  tsr_free(ctx, owner);
  tsr_free(ctx, all);
  tsr_free(ctx, segbuf);
  tsr_free(ctx, recv);
  tsr_free(ctx, send);
  tsr_free(ctx, sc);
  tsr_free(ctx, lo);
  tsr_free(ctx, spl);
  for (int i = 0; i < 3; i++)
    tsr_free(ctx, keep[i]);
  return status;
}
