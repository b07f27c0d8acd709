/* join_hash.c — the join's table over the right side and the probe
 * (join_impl.h).
 *
 * The table chains each key's right rows in row order: per right row an
 * entry with the next entry of the same key, how many rows the chain holds
 * from this one on, and where the row is (together: one cache line read per
 * match), and a head per distinct key.  Heads are found by
 * direct indexing when the keys are one word over a span of at most twice
 * the right rows (dense integers, dictionary codes, string ids), else by
 * open addressing (linear probing, at most half full) whose slots hold the
 * key (one word) or its hash (several words, then compared in full).  The
 * table is built in one pass over the right rows from last to first, so
 * each row goes in front of its chain; a large direct table slice by slice
 * of its span (build_parted), its entries then numbered in slice order.
 *
 * The probe is one task per left chunk: in batches of TSR__JOIN_BATCH rows
 * it hashes the keys and prefetches their slots, then finds each row's
 * head; it counts the result rows, then walks the chains into (left row,
 * right row) pairs, in left row order and, for one left row, right row
 * order; it marks the right rows that matched (right and full joins) and
 * adds up the string bytes each output string column will need. */
#include <string.h>

#include "join_impl.h"

static inline uint64_t key_hash(const uint64_t *w, int W) {
  uint64_t h = tsr__join_mix(w[0]);
  for (int k = 1; k < W; k++)
    h = tsr__join_mix(h ^ (w[k] + UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)k));
  return h;
}

/* The head of key w's chain, or -1; h its hash. */
static inline int64_t find_head(const tsr__join *j, const uint64_t *w, uint64_t h) {
  const int W = j->nkeys;
  if (j->direct) {
    uint64_t b = w[0] - j->lo;
    return b <= j->mask ? j->head[b] : -1;
  }
  if (W == 1) {
    for (uint64_t i = h & j->mask;; i = (i + 1) & j->mask) {
      int64_t hd = j->head[i];
      if (hd < 0 || j->tag[i] == w[0])
        return hd;
    }
  }
  const uint64_t *rw = j->words[1];
  for (uint64_t i = h & j->mask;; i = (i + 1) & j->mask) {
    int64_t hd = j->head[i];
    if (hd < 0)
      return -1;
    if (j->tag[i] == h && memcmp(rw + hd * W, w, (size_t)W * sizeof *w) == 0)
      return hd;
  }
}

/* Direct tables over a span of at least part_min_span keys are built in
 * two passes (build_parted), a slice of part_span keys at a time.  One pass
 * in row order writes each row's head at random in the whole span: a cache
 * miss a row (j5's 10^7 right rows over 1.1 x 10^7 keys: 100-108 ms of
 * chaining on one rank, 178-198 ms a rank when two ranks build at once). */
#define PART_SPAN (INT64_C(1) << 15) /* keys a slice: its heads (256 KiB) stay in cache */
#define PART_MIN_SPAN (INT64_C(1) << 20)
static int64_t part_span = PART_SPAN, part_min_span = PART_MIN_SPAN;

void tsr__join_set_parted(int64_t min_span, int64_t slice_span) {
  part_min_span = min_span < 0 ? PART_MIN_SPAN : min_span;
  part_span = slice_span < 1 ? PART_SPAN : slice_span;
}

typedef struct part_row {
  uint64_t key;  /* the key's place in the span */
  uint64_t pack; /* chunk << 32 | row */
} part_row;

/* Builds a direct table (j->head set to -1) slice by slice: one pass from
 * the last row to the first puts each row, with its place, in its slice's
 * run of a buffer (sequential writes to one run per slice); then each
 * slice's rows, in that order, go in front of their chains.  The table's
 * entries are numbered in slice order (j->head and next point to entries,
 * not to right rows): entry e is written in order, and its slice's heads
 * stay in cache.  Each chain still runs in right row order. */
static tsr_status build_parted(tsr__join *j) {
  tsr_ctx *ctx = j->ctx;
  const tsr__sorter *rs = j->side[1];
  const uint64_t *words = j->words[1];
  const uint8_t *ok = j->ok[1];
  const uint64_t lo = j->lo;
  int shift = 0; /* slices of 2^shift keys */
  while ((INT64_C(1) << shift) < part_span)
    shift++;
  const int64_t nslices = (int64_t)(j->mask >> shift) + 1;
  /* Slice nslices takes the rows without a key (not ok), so that no loop
   * below branches on ok (a filtered broadcast join drops rows at random:
   * join_filter.c). */
  int64_t *start = NULL;
  part_row *buf = NULL;
  tsr_status st = tsr_calloc(ctx, (size_t)nslices + 2, sizeof *start, (void **)&start);
  for (int64_t g = 0; g < rs->total && st == TSR_OK; g++)
    start[(ok[g] ? (int64_t)((words[g] - lo) >> shift) : nslices) + 1]++;
  const int64_t nok = rs->total - (st == TSR_OK ? start[nslices + 1] : 0);
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)rs->total + 1, sizeof *buf, "join table", (void **)&buf);
  if (st == TSR_OK)
    st = tsr__alloc_array(ctx, (size_t)nok + 1, sizeof *j->rrows, "join chains",
                          (void **)&j->rrows);
  if (st != TSR_OK) {
    tsr_free(ctx, start);
    return st;
  }
  for (int64_t s = 0; s <= nslices; s++)
    start[s + 1] += start[s];
  for (int64_t c = rs->nchunks - 1; c >= 0; c--)
    for (int64_t i = rs->rows[c] - 1, g = rs->row_start[c] + i; i >= 0; i--, g--) {
      uint64_t b = words[g] - lo;
      int64_t slice = ok[g] ? (int64_t)(b >> shift) : nslices;
      buf[start[slice]++] = (part_row){b, (uint64_t)c << 32 | (uint64_t)i};
    }
  /* start[s] is now the end of slice s's run; entries from last to first,
   * the rows without a key after the first nok */
  tsr__jrow *rr = j->rrows;
  int64_t *head = j->head;
  for (int64_t e = 0; e < nok; e++) {
    int64_t *hd = &head[buf[e].key];
    rr[e].next = *hd;
    rr[e].chain = *hd >= 0 ? rr[*hd].chain + 1 : 1;
    rr[e].pack = buf[e].pack;
    *hd = e;
  }
  tsr_free(ctx, start);
  tsr_free(ctx, buf);
  return TSR_OK;
}

tsr_status tsr__join_build(tsr__join *j) {
  tsr_ctx *ctx = j->ctx;
  const tsr__sorter *rs = j->side[1];
  const int64_t N = rs->total;
  const int W = j->nkeys;
  const uint64_t *words = j->words[1];
  const uint8_t *ok = j->ok[1];
  int64_t nok = 0;
  uint64_t lo = UINT64_MAX, hi = 0;
  for (int64_t g = 0; g < N; g++) /* (no branch on ok: it can be random, join_filter.c) */
    nok += ok[g];
  for (int64_t g = 0; g < N && W == 1; g++) {
    uint64_t v = words[g];
    lo = ok[g] && v < lo ? v : lo;
    hi = ok[g] && v > hi ? v : hi;
  }
  j->direct = W == 1 && nok > 0 && hi - lo < (uint64_t)(2 * N > 65536 ? 2 * N : 65536);
  if (j->direct) {
    j->lo = lo;
    j->mask = hi - lo; /* the largest index */
    TSR_TRY(tsr__alloc_array(ctx, (size_t)j->mask + 1, sizeof *j->head, "join table",
                             (void **)&j->head));
    memset(j->head, 0xff, ((size_t)j->mask + 1) * sizeof *j->head);
    if ((int64_t)j->mask >= part_min_span)
      return build_parted(j);
  }
  /* Entries are right rows. */
  TSR_TRY(tsr__alloc_array(ctx, (size_t)N + 1, sizeof *j->rrows, "join chains",
                           (void **)&j->rrows));
  tsr__jrow *rr = j->rrows;
  for (int64_t c = 0; c < rs->nchunks; c++)
    for (int64_t i = 0; i < rs->rows[c]; i++)
      rr[rs->row_start[c] + i].pack = (uint64_t)c << 32 | (uint64_t)i;
  if (j->direct) {
    for (int64_t g = N - 1; g >= 0; g--) {
      if (!ok[g])
        continue;
      int64_t *hd = &j->head[words[g] - lo];
      rr[g].next = *hd;
      rr[g].chain = *hd >= 0 ? rr[*hd].chain + 1 : 1;
      *hd = g;
    }
    return TSR_OK;
  }
  uint64_t cap = 16;
  while (cap < 2 * (uint64_t)nok)
    cap *= 2;
  j->mask = cap - 1;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)cap, sizeof *j->head, "join table", (void **)&j->head));
  TSR_TRY(tsr__alloc_array(ctx, (size_t)cap, sizeof *j->tag, "join table", (void **)&j->tag));
  memset(j->head, 0xff, (size_t)cap * sizeof *j->head);
  for (int64_t g = N - 1; g >= 0; g--) {
    if (!ok[g])
      continue;
    const uint64_t *w = words + g * W;
    uint64_t h = key_hash(w, W), tag = W == 1 ? w[0] : h;
    uint64_t i = h & j->mask;
    for (;; i = (i + 1) & j->mask) {
      int64_t hd = j->head[i];
      if (hd < 0)
        break;
      if (j->tag[i] == tag && (W == 1 || memcmp(words + hd * W, w, (size_t)W * sizeof *w) == 0))
        break;
    }
    int64_t hd = j->head[i];
    j->tag[i] = tag;
    rr[g].next = hd;
    rr[g].chain = hd >= 0 ? rr[hd].chain + 1 : 1;
    j->head[i] = g;
  }
  return TSR_OK;
}

/* String bytes of output column o over rows ref[0..n) of its source. */
static int64_t str_bytes(const tsr__sorter *s, int col, const uint64_t *ref, int64_t n) {
  const int nc = s->f->ncols;
  int64_t sum = 0;
  for (int64_t k = 0; k < n; k++) {
    if (ref[k] == TSR__JOIN_NONE)
      continue;
    const tsr__colread *r = &s->cr[(int64_t)(ref[k] >> 32) * nc + col];
    int64_t row = (int64_t)(ref[k] & 0xffffffffu);
    if (r->validity != NULL && !tsr__bit_get(r->validity, row))
      continue;
    uint32_t len = ((const tsr_string_view *)r->values)[row].length;
    sum += len > 12 ? len : 0;
  }
  return sum;
}

bool tsr__join_long_strings(const tsr__sorter *s, int col) {
  if (s->f->cols[col].type.id != TSR_COL_STRING)
    return false;
  for (int64_t c = 0; c < s->nchunks; c++)
    if (s->cr[c * s->f->ncols + col].data_bytes > 0)
      return true;
  return false;
}

tsr_status tsr__join_str_bytes(tsr__join *j, int64_t c, int64_t cnt, const uint32_t *lr,
                               const uint64_t *rr) {
  bool any_long = false; /* (a string column without long strings takes 0 bytes) */
  for (int oc = 0; oc < j->ncols; oc++) {
    int sd = j->src_side[oc] == 1 ? 1 : 0;
    int col = j->src_side[oc] == 2 ? j->keys[j->src_col[oc]].col[0] : j->src_col[oc];
    any_long |= tsr__join_long_strings(j->side[sd], col);
  }
  if (!any_long)
    return TSR_OK;
  uint64_t *lref;
  TSR_TRY(tsr_kernel_alloc(j->ctx, (size_t)cnt * sizeof *lref + 8, (void **)&lref));
  for (int64_t k = 0; k < cnt; k++)
    lref[k] = (uint64_t)c << 32 | lr[k];
  for (int oc = 0; oc < j->ncols; oc++) {
    int sd = j->src_side[oc] == 1 ? 1 : 0;
    int col = j->src_side[oc] == 2 ? j->keys[j->src_col[oc]].col[0] : j->src_col[oc];
    if (!tsr__join_long_strings(j->side[sd], col))
      continue;
    j->str_bytes[c * j->ncols + oc] = str_bytes(j->side[sd], col, sd == 0 ? lref : rr, cnt);
  }
  tsr_free(j->ctx, lref);
  return TSR_OK;
}

int64_t tsr__join_find(const tsr__join *j, const uint64_t *w) {
  uint64_t h = j->direct ? 0 : key_hash(w, j->nkeys);
  return find_head(j, w, h);
}

static tsr_status probe_kernel(const tsr_kernel_call *call) {
  tsr__jtask t = tsr__jtask_of(call);
  tsr__join *j = t.j;
  tsr_ctx *ctx = j->ctx;
  const int64_t c = t.i;
  const tsr__sorter *ls = j->side[0];
  const int64_t n = ls->rows[c], g0 = ls->row_start[c];
  const int W = j->nkeys;
  const uint64_t *w = j->words[0] + g0 * W;
  const uint8_t *ok = j->ok[0] + g0;
  const tsr_join_kind kind = j->kind;
  int64_t *first = NULL, *next = NULL;
  uint64_t *pack = NULL;
  tsr_status status = TSR_OK;
  TSR_TRY(tsr_kernel_alloc(ctx, (size_t)n * sizeof *first + 8, (void **)&first));
  /* Heads, in batches: hash and prefetch, then look up. */
  uint64_t h[TSR__JOIN_BATCH];
  for (int64_t b = 0; b < n; b += TSR__JOIN_BATCH) {
    int64_t m = n - b < TSR__JOIN_BATCH ? n - b : TSR__JOIN_BATCH;
    if (j->direct) {
      for (int64_t i = 0; i < m; i++) {
        uint64_t x = w[(b + i) * W] - j->lo;
        h[i] = x;
        if (x <= j->mask)
          __builtin_prefetch(&j->head[x]);
      }
    } else {
      for (int64_t i = 0; i < m; i++) {
        h[i] = key_hash(w + (b + i) * W, W);
        __builtin_prefetch(&j->head[h[i] & j->mask]);
        __builtin_prefetch(&j->tag[h[i] & j->mask]);
      }
    }
    for (int64_t i = 0; i < m; i++)
      first[b + i] = ok[b + i] ? find_head(j, w + (b + i) * W, h[i]) : -1;
  }
  /* Result rows. */
  int64_t cnt = 0;
  switch (kind) {
  case TSR_JOIN_INNER:
  case TSR_JOIN_RIGHT:
  case TSR_JOIN_LEFT:
  case TSR_JOIN_FULL: {
    /* The head entry's place and next entry are kept as its chain is
     * counted: the pairs then read the table again only for keys of
     * several right rows. */
    TSR__TRY_GOTO(status, tsr_kernel_alloc(ctx, (size_t)n * sizeof *next + 8, (void **)&next));
    TSR__TRY_GOTO(status, tsr_kernel_alloc(ctx, (size_t)n * sizeof *pack + 8, (void **)&pack));
    const int64_t none = kind == TSR_JOIN_LEFT || kind == TSR_JOIN_FULL;
    for (int64_t i = 0; i < n; i++) {
      if (i + 16 < n && first[i + 16] >= 0)
        __builtin_prefetch(&j->rrows[first[i + 16]]);
      if (first[i] < 0) {
        cnt += none;
        continue;
      }
      const tsr__jrow *r = &j->rrows[first[i]];
      cnt += r->chain;
      next[i] = r->next;
      pack[i] = r->pack;
    }
    break;
  }
  case TSR_JOIN_SEMI:
    for (int64_t i = 0; i < n; i++)
      cnt += first[i] >= 0;
    break;
  case TSR_JOIN_ANTI:
    for (int64_t i = 0; i < n; i++)
      cnt += first[i] < 0;
    break;
  }
  bool pairs = kind != TSR_JOIN_SEMI && kind != TSR_JOIN_ANTI;
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)cnt * sizeof(uint32_t) + 8, (void **)&j->lrow[c]));
  if (pairs)
    TSR__TRY_GOTO(status,
                  tsr_alloc(ctx, (size_t)cnt * sizeof(uint64_t) + 8, (void **)&j->rref[c]));
  j->npairs[c] = cnt;
  uint32_t *lr = j->lrow[c];
  uint64_t *rr = j->rref[c];
  int64_t o = 0;
  if (kind == TSR_JOIN_SEMI || kind == TSR_JOIN_ANTI) {
    bool want = kind == TSR_JOIN_SEMI;
    for (int64_t i = 0; i < n; i++)
      if ((first[i] >= 0) == want)
        lr[o++] = (uint32_t)i;
  } else {
    bool outer = kind == TSR_JOIN_LEFT || kind == TSR_JOIN_FULL;
    for (int64_t i = 0; i < n; i++) {
      if (first[i] < 0) {
        if (outer) {
          lr[o] = (uint32_t)i;
          rr[o++] = TSR__JOIN_NONE;
        }
        continue;
      }
      lr[o] = (uint32_t)i;
      rr[o++] = pack[i];
      for (int64_t e = next[i]; e >= 0; e = j->rrows[e].next) {
        lr[o] = (uint32_t)i;
        rr[o++] = j->rrows[e].pack;
      }
    }
    if (j->matched != NULL) /* by right row: the entries' places */
      for (int64_t k = 0; k < o; k++)
        if (rr[k] != TSR__JOIN_NONE) {
          int64_t g = j->side[1]->row_start[rr[k] >> 32] + (int64_t)(rr[k] & 0xffffffffu);
          __atomic_store_n(&j->matched[g], 1, __ATOMIC_RELAXED);
        }
  }
  status = tsr__join_str_bytes(j, c, cnt, lr, rr);
fail:
  tsr_free(ctx, first);
  tsr_free(ctx, next);
  tsr_free(ctx, pack);
  return status;
}

tsr_status tsr__join_probe(tsr__join *j) {
  const int64_t nl = j->side[0]->nchunks;
  return tsr__join_run(j, TSR_OK, "frame_join_probe", probe_kernel, nl);
}
