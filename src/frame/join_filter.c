/* join_filter.c — the filtered broadcast join across MPI ranks
 * (docs/frames.md, "Joins"; docs/scaling.md 4.2): a broadcast join
 * (join_dist.c) that gives each rank only the right rows its own left rows
 * may match, instead of the right side whole.
 *
 * A broadcast join sends every rank every right row, though a rank probes
 * only its own left chunks: in db-benchmark's j5 (10^7 rows a side, one row
 * a key) each of 2 ranks' left rows hold half the keys, so half of what it
 * receives, and of the table it builds, is never read.  Here the right side
 * is loaded only in the chunks each rank owns, and each rank marks its left
 * rows' keys in a bit filter: for one integer key by value over the left
 * keys' range on all ranks (exact; when it spans at most 2^27 values and 4
 * x the hashed filter), else by key hash (tsr__join_key_hashes, the
 * shuffle's) in j->filter_bits bits (8 to 16 a left row: 6-12 % of the keys
 * it lacks pass).  The ranks all-gather their filters, and the owner of
 * each right chunk sends every other rank that chunk's rows its filter
 * marks, in row order, as the shuffle's pieces (the keys and the result's
 * columns).  A row with a null key goes nowhere: it matches nothing.
 *
 * A rank's right side is then, for every chunk c, right chunk c as loaded
 * (its own: the rows its own filter does not mark leave the table,
 * tsr__join_filter_drop) or the rows of c it received: every right row
 * whose key one of its left rows holds, in right row order.  So each key's
 * chain, the probe's pairs of every left chunk (left rows in order, each
 * one's right rows in right row order) and the output are the broadcast
 * join's, and one rank's.  Inner, left, semi and anti joins only: right and
 * full joins output the right rows no rank matched, which needs every right
 * row on some rank's probe (they broadcast the right whole).
 *
 * Bytes: each rank receives P filters and the right rows of other ranks
 * its filter passes (tsr__join_dist_choose filters when the filters cost
 * under a quarter of the broadcast; where it chose a shuffle, the rows are
 * picked and their bytes summed over the ranks first, and the shuffle
 * runs instead if it moves less).
 *
 * Failures: every local step's status is agreed before the next collective. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/dist.h>

#include "dist/dist.h"
#include "join_impl.h"

static int filter_mode = -1;

void tsr__join_set_filter(int mode) { filter_mode = mode < 0 ? -1 : mode > 0; }
int tsr__join_filter_mode(void) {
  const char *env = getenv("TESSERA_JOIN_FILTER");
  if (filter_mode < 0 && env != NULL && (strcmp(env, "0") == 0 || strcmp(env, "1") == 0))
    return env[0] - '0';
  return filter_mode;
}

/* A piece: right chunk `chunk`'s rows that passed the receiver's filter. */
typedef struct piece_hdr {
  int64_t chunk, rows;
} piece_hdr;

/* The filter's bit of key hash h (the top lg bits). */
static inline uint64_t bit_of(uint64_t h, int lg) { return lg > 0 ? h >> (64 - lg) : 0; }

static inline bool marked(const uint64_t *filter, uint64_t b) {
  return (filter[b >> 6] >> (b & 63)) & 1;
}

/* Whether a row at place b (UINT64_MAX: none) passes the filter, without
 * a branch (the places of a filtered-out half are random). */
static inline uint64_t passes(const uint64_t *filter, uint64_t b) {
  const uint64_t any = b != UINT64_MAX;
  return any & marked(filter, any ? b : 0);
}

/* One integer key on both sides: a filter over the left keys' value range
 * (exact, and no hashing) when it spans at most RANGE_MAX values and 4 x
 * the hashed filter's bits. */
#define RANGE_MAX (INT64_C(1) << 27) /* 16 MiB of filter */

static bool int_key(tsr_coltype t) {
  return (t >= TSR_COL_INT8 && t <= TSR_COL_UINT64) || t == TSR_COL_DATE || t == TSR_COL_TIMESTAMP;
}

/* Side s's chunk c's one integer key as tsr__join_key_words gives it
 * (signed values sign-extended) with the sign bit flipped, so that negative
 * and positive values make one range (equal keys stay equal: an unsigned
 * value may share a place with a signed one it does not equal, which only
 * lets a row pass that cannot match); valid[i] = 0 for a null. */
static void key_ints(const tsr__join *j, int s, int64_t c, uint64_t *w, uint8_t *valid) {
  const int64_t n = j->side[s]->rows[c];
  memset(valid, 1, (size_t)n);
  tsr__join_key_words(j, s, c, 0, NULL, 0, n, w, valid);
  for (int64_t i = 0; i < n; i++)
    w[i] ^= UINT64_C(1) << 63;
}

/* Each row's place in the filter (UINT64_MAX: none, a null key or one
 * outside the range) of side s's chunk c: by value from lo (range), else
 * by hash (its top lg bits).  h, valid: room for the chunk's rows. */
static void places(const tsr__join *j, int s, int64_t c, bool range, uint64_t lo, uint64_t span,
                   int lg, uint64_t *const *dh, uint64_t *h, uint8_t *valid, uint64_t *out) {
  const int64_t n = j->side[s]->rows[c];
  if (range) {
    key_ints(j, s, c, h, valid);
    for (int64_t i = 0; i < n; i++) {
      uint64_t b = h[i] - lo;
      out[i] = valid[i] && b < span ? b : UINT64_MAX;
    }
    return;
  }
  tsr__join_key_hashes(j, s, c, dh, h, valid);
  for (int64_t i = 0; i < n; i++)
    out[i] = valid[i] ? bit_of(h[i], lg) : UINT64_MAX;
}

tsr_status tsr__join_filter(tsr__join *j) {
  tsr_ctx *ctx = j->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  tsr__sorter *ls = j->side[0], *rs = j->side[1];
  tsr_frame *rf = rs->f;
  const int64_t nr = rs->nchunks;
  int lg = 0;
  while ((UINT64_C(1) << lg) < j->filter_bits)
    lg++;
  uint64_t *dh[2][64];
  uint64_t *own = NULL, *filters = NULL, *h = NULL, *ref = NULL, *cnt = NULL;
  uint64_t *place = NULL;
  int64_t *picked = NULL; /* per own right chunk and other rank, in turn: the rows sent */
  uint8_t *valid = NULL, *keep = NULL;
  int *cols = NULL, ncols = 0;
  char *send = NULL;
  tsr__sorter *cut = NULL;
  bool talked = false;
  uint64_t sent = 0, least = 0, rows_sent = 0;
  tsr_status status = TSR_OK;
  double t[4] = {tsr__now(), 0, 0, 0}; /* the steps' ends, for the trace */
  memset(dh, 0, sizeof dh);
  memset(&tsr__join_last, 0, sizeof tsr__join_last);
  tsr__join_last.filtered = true;
  int64_t most = 0; /* rows of the largest chunk this rank holds */
  for (int s = 0; s < 2; s++)
    for (int64_t c = 0; c < j->side[s]->nchunks; c++)
      most = j->side[s]->rows[c] > most ? j->side[s]->rows[c] : most;
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)most + 1, sizeof *h, "key hashes", (void **)&h));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)most + 1, (void **)&valid));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)most + 1, sizeof *place, "key places",
                                         (void **)&place));
  /* One integer key: the range of the left's keys, over every rank. */
  bool range = j->nkeys == 1 && int_key(ls->f->cols[j->keys[0].col[0]].type.id) &&
               int_key(rs->f->cols[j->keys[0].col[1]].type.id);
  uint64_t lo = UINT64_MAX, hi = 0, span = 0;
  for (int64_t c = 0; c < ls->nchunks && range; c++) {
    key_ints(j, 0, c, h, valid);
    for (int64_t i = 0; i < ls->rows[c]; i++)
      if (valid[i]) {
        lo = h[i] < lo ? h[i] : lo;
        hi = h[i] > hi ? h[i] : hi;
      }
  }
  if (range) {
    uint64_t both[2] = {lo, hi}, lows[2], highs[2];
    talked = true;
    TSR__TRY_GOTO(status, tsr__dist_agree_minmax(d, status, both, 2, lows, highs));
    talked = false;
    lo = lows[0];
    hi = highs[1];
    span = lo <= hi ? hi - lo + 1 : 0; /* 0: no left keys (hi - lo + 1 wraps to 0 too) */
    range = lo > hi || (span > 0 && span <= (uint64_t)RANGE_MAX && span <= 4 * j->filter_bits);
  }
  const uint64_t words = range ? span / 64 + 1 : (j->filter_bits + 63) / 64; /* 64-bit words */
  tsr__join_last.filter_bytes = words * 8;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)words, sizeof *own, (void **)&own));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)words * (size_t)P, sizeof *filters,
                                         "join key filters", (void **)&filters));
  for (int s = 0; s < 2 && !range; s++)
    TSR__TRY_GOTO(status, tsr__join_dict_hashes(j, s, dh[s]));
  /* This rank's filter: its left rows' keys. */
  for (int64_t c = 0; c < ls->nchunks; c++) {
    places(j, 0, c, range, lo, span, lg, dh[0], h, valid, place);
    for (int64_t i = 0; i < ls->rows[c]; i++)
      if (place[i] != UINT64_MAX)
        own[place[i] >> 6] |= UINT64_C(1) << (place[i] & 63);
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 4 * (size_t)P + 1, sizeof *cnt, (void **)&cnt));
  uint64_t *scount = cnt, *soff = cnt + P, *rcount = cnt + 2 * P, *at = cnt + 3 * P;
  for (int p = 0; p < P; p++)
    rcount[p] = words * 8;
  talked = true;
  status = tsr_ctx_agree(ctx, status);
  if (status != TSR_OK)
    goto fail;
  TSR__TRY_GOTO(status, tsr__dist_allgatherv(d, own, words * 8, filters, rcount));
  talked = false;
  t[1] = tsr__now();
  /* The pieces: each own right chunk's rows' places, then one pass over
   * them for each other rank picks the rows its filter marks (their refs
   * kept for the packing); the first such pass also marks the rows my own
   * filter passes (keep). */
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)rf->ncols + 1, sizeof *cols, (void **)&cols));
  ncols = tsr__join_shipped_cols(j, 1, rf, cols);
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)rs->total + 1, (void **)&keep));
  int64_t npicks = 0, turn = 0; /* (own chunks with rows) x (P - 1) */
  for (int64_t c = 0; c < nr; c++)
    npicks += rs->rows[c] > 0 ? P - 1 : 0;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)npicks + 1, sizeof *picked, "pieces",
                                         (void **)&picked));
  const uint64_t *mine = filters + (size_t)me * words;
  size_t used = 0, cap = 0;
  for (int64_t c = 0; c < nr; c++) {
    const uint64_t *bc = place;
    places(j, 1, c, range, lo, span, lg, dh[1], h, valid, place);
    uint8_t *kc = keep + rs->row_start[c];
    const int64_t rows = rs->rows[c];
    bool kept = false;
    for (int p = 0; p < P && rows > 0; p++) {
      if (p == me) /* its own rows stay as loaded */
        continue;
      if (used + (size_t)rows > cap) { /* room for every row of c */
        uint64_t *more = NULL;
        size_t want = 2 * cap > used + (size_t)rows ? 2 * cap : used + (size_t)rows;
        TSR__TRY_GOTO(status,
                      tsr__alloc_array(ctx, want, sizeof *more, "picked rows", (void **)&more));
        if (used > 0)
          memcpy(more, ref, used * sizeof *ref);
        tsr_free(ctx, ref);
        ref = more;
        cap = want;
      }
      const uint64_t *fp = filters + (size_t)p * words;
      uint64_t *out = ref + used;
      int64_t n = 0;
      if (!kept)
        for (int64_t i = 0; i < rows; i++) {
          out[n] = (uint64_t)c << 32 | (uint64_t)i;
          kc[i] = (uint8_t)passes(mine, bc[i]);
          n += passes(fp, bc[i]);
        }
      else
        for (int64_t i = 0; i < rows; i++) {
          out[n] = (uint64_t)c << 32 | (uint64_t)i;
          n += passes(fp, bc[i]);
        }
      kept = true;
      picked[turn++] = n;
      used += (size_t)n;
      if (n == 0)
        continue;
      scount[p] += sizeof(piece_hdr);
      for (int i = 0; i < ncols; i++)
        scount[p] += tsr__join_wire_bytes(rs, cols[i], out, n, &least);
      rows_sent += (uint64_t)n;
    }
    for (int64_t i = 0; i < rows && !kept; i++) /* (one rank: no other filter) */
      kc[i] = (uint8_t)passes(mine, bc[i]);
  }
  if (j->filter_or_shuffle) { /* the filters' bytes and the rows', against the shuffle's */
    uint64_t mine_sent = 0, all;
    for (int p = 0; p < P; p++)
      mine_sent += p == me ? 0 : scount[p];
    talked = true;
    status = tsr_ctx_agree(ctx, status);
    if (status != TSR_OK)
      goto fail;
    TSR__TRY_GOTO(status, tsr__dist_sum_u64(d, mine_sent, &all));
    talked = false;
    const double filters_sent = (double)words * 8 * P * (P - 1);
    if ((double)all + filters_sent >= j->shuffle_bytes) {
      j->filter = false;
      j->shuffle = true;
      tsr__join_last.filtered = false;
      tsr__join_last.declined = true;
      if (tsr__join_tracing())
        fprintf(stderr,
                "tessera join trace: rank %d: a filtered broadcast would send %.0f bytes, the "
                "shuffle about %.0f: shuffle\n",
                me, (double)all + filters_sent, j->shuffle_bytes);
      goto done;
    }
  }
  {
    uint64_t total = tsr__join_send_offsets(P, scount, soff, at);
    TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)total + 8, (void **)&send));
  }
  used = 0;
  turn = 0;
  for (int64_t c = 0; c < nr; c++)
    for (int p = 0; p < P && rs->rows[c] > 0; p++) {
      const int64_t n = p == me ? 0 : picked[turn++];
      if (n == 0)
        continue;
      piece_hdr ph = {c, n};
      memcpy(send + at[p], &ph, sizeof ph);
      at[p] += sizeof ph;
      for (int i = 0; i < ncols; i++)
        at[p] += tsr__join_wire_pack(rs, cols[i], ref + used, n, send + at[p]);
      used += (size_t)n;
    }
  t[2] = tsr__now();
  for (int p = 0; p < P; p++)
    sent += p == me ? 0 : scount[p];
  talked = true;
  {
    uint64_t total;
    TSR__TRY_GOTO(
        status, tsr__join_exchange(j, status, &send, soff, scount, rcount, &j->filter_in, &total));
    t[3] = tsr__now();
    /* The right side: chunk c is right chunk c's rows received. */
    TSR__TRY_GOTO(status, tsr__join_piece_sorter(ctx, rf, j->fn, nr, &cut));
    cut->g1 = rs->g1; /* this rank's chunks, as loaded (their graph keeps them) */
    rs->g1 = NULL;
    for (int64_t c = 0; c < nr; c++) {
      cut->rows[c] = rs->rows[c];
      for (int i = 0; i < rf->ncols && rs->rows[c] > 0; i++)
        cut->cr[c * rf->ncols + i] = rs->cr[c * rf->ncols + i];
    }
    const char *in = j->filter_in;
    for (uint64_t pos = 0; pos < total;) {
      piece_hdr ph;
      memcpy(&ph, in + pos, sizeof ph);
      pos += sizeof ph;
      cut->rows[ph.chunk] = ph.rows;
      for (int i = 0; i < ncols; i++)
        pos += tsr__join_wire_read(in + pos, ph.rows, rf->cols[cols[i]].type,
                                   &cut->cr[ph.chunk * rf->ncols + cols[i]]);
    }
    tsr__join_piece_starts(cut);
    /* Of this rank's own rows, those its own filter passes go in the table. */
    TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)cut->total + 1, (void **)&j->filter_keep));
    memset(j->filter_keep, 1, (size_t)cut->total);
    for (int64_t c = 0; c < nr; c++)
      memcpy(j->filter_keep + cut->row_start[c], keep + rs->row_start[c], (size_t)rs->rows[c]);
    tsr__sorter_destroy(&j->side[1]);
    j->side[1] = cut;
    cut = NULL;
  }
  tsr__join_last.sent = sent;
  tsr__join_last.least = least;
  tsr__join_last.rows_sent = rows_sent;
  if (tsr__join_tracing())
    fprintf(stderr,
            "tessera join trace: rank %d: filtered broadcast join (%s filter of %llu bytes), "
            "sent %llu right rows in %llu bytes; seconds: filters %.3f, pieces %.3f, "
            "exchange %.3f, rest %.3f\n",
            me, range ? "value range" : "hashed", (unsigned long long)(words * 8),
            (unsigned long long)rows_sent, (unsigned long long)sent, t[1] - t[0], t[2] - t[1],
            t[3] - t[2], tsr__now() - t[3]);
  goto done;
fail:
  if (!talked) /* as the other ranks, before their exchange */
    status = tsr_ctx_agree(ctx, status);
done:
  for (int s = 0; s < 2; s++)
    for (int k = 0; k < 64; k++)
      tsr_free(ctx, dh[s][k]);
  tsr__sorter_destroy(&cut);
  tsr_free(ctx, own);
  tsr_free(ctx, filters);
  tsr_free(ctx, h);
  tsr_free(ctx, place);
  tsr_free(ctx, valid);
  tsr_free(ctx, keep);
  tsr_free(ctx, picked);
  tsr_free(ctx, ref);
  tsr_free(ctx, cnt);
  tsr_free(ctx, cols);
  tsr_free(ctx, send);
  return status;
}

void tsr__join_filter_drop(tsr__join *j) {
  if (j->filter_keep == NULL)
    return;
  for (int64_t g = 0; g < j->side[1]->total; g++)
    j->ok[1][g] &= j->filter_keep[g];
}
