/* join_shuffle.c — the shuffle join across MPI ranks (docs/frames.md,
 * "Joins"; docs/scaling.md 4.2), for a right side too large to give every
 * rank whole (join_dist.c's broadcast join).  Every kind, as-of joins too:
 * with by keys by their hash, without by on value ranges (range_routes).
 *
 * Both sides are loaded in the chunks this rank owns.  Every row's keys
 * hash (the same on every rank, and equal for equal keys whatever the two
 * sides' types: integers by value, floats as float64 with -0.0 = 0.0 and one
 * NaN, strings and dictionaries by their bytes) to the rank that owns the
 * key's bucket; a row with a null key matches nothing and stays here.  One
 * tsr__dist_alltoallv sends each bucket owner the left's key columns and the
 * right's keys and result columns of its rows, as pieces: one per (side,
 * chunk, rank), the chunk's rows in row order, columns as values, validity
 * (when the piece has nulls) and long strings' bytes (views rebuilt on
 * arrival).  The bucket owner joins what it received with the one-rank
 * phases (join_keys.c, join_hash.c) over "chunks" that are the received
 * pieces, so its pairs for left chunk c come in left row order and, per left
 * row, in right row order, as one rank's.  A second exchange returns, per
 * left chunk, to the chunk's owner: for each of its rows the bucket owner got,
 * the number of matches (semi, anti: whether it is output), and the matched
 * right rows' result columns.  The owner walks its chunk's rows, each from
 * the rank it sent it to, and gets the one-rank probe's pairs: left rows of
 * its own chunk, right rows among the returned ones.  Output chunks and
 * their all-gather are the broadcast join's (join_dist.c).  Right and full
 * joins: the second exchange also returns to each right chunk's owner, per
 * row it sent, whether it matched; the owner kept its chunks as loaded and
 * outputs their unmatched rows (right_as_loaded), and the ranks all-gather
 * those rows' counts (tsr__join_dist_share_right).
 *
 * The left's non-key columns never move before the output; the right's
 * rows move once.  Bytes: about (left keys + right needed) x (P-1)/P, plus
 * the matched right columns returned, plus the output's all-gather.
 *
 * Failures: every local step's status is agreed before the next collective. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/dist.h>

#include "dist/dist.h"
#include "join_impl.h"

tsr__join_diag tsr__join_last;

#define A8(x) (((uint64_t)(x) + 7) & ~(uint64_t)7)
#define GOLDEN UINT64_C(0x9e3779b97f4a7c15)

/* A piece's header: side 0 or 1 (the shuffle), 2 (returned). */
typedef struct hdr {
  int64_t side, chunk, rows, pairs;
} hdr;

typedef struct tsr__jshuf {
  int32_t *dest;       /* per left row (global, own chunks): the rank it went to */
  char *back;          /* the returned pieces (j->side[1]'s columns point here) */
  const char **counts; /* per left chunk x rank: the returned counts, or NULL */
  int cw;              /* bytes per count: 4, or 1 (semi, anti) */
  tsr__sorter *right;  /* right and full joins: the right as loaded (j->side[1] reads it) */
} tsr__jshuf;

void tsr__join_shuffle_free(tsr__join *j) {
  if (j->sh == NULL)
    return;
  tsr_free(j->ctx, j->sh->dest);
  tsr_free(j->ctx, j->sh->back);
  tsr_free(j->ctx, j->sh->counts);
  tsr__sorter_destroy(&j->sh->right);
  tsr_free(j->ctx, j->sh);
  j->sh = NULL;
}

/* ---- which columns travel ------------------------------------------------------------- */

int tsr__join_shipped_cols(const tsr__join *j, int s, const tsr_frame *f, int *cols) {
  const int nc = f->ncols;
  int n = 0;
  for (int i = 0; i < nc; i++) {
    bool need = false;
    for (int k = 0; k < j->nkeys; k++)
      need |= j->keys[k].col[s] == i;
    need |= j->asof && j->on[s] == i;
    for (int o = 0; o < j->ncols && s == 1; o++)
      need |= j->src_side[o] == 1 && j->src_col[o] == i;
    if (need)
      cols[n++] = i;
  }
  return n;
}

/* ---- the choice ------------------------------------------------------------------------ */

/* Estimated bytes of column i of f (values, and string bytes) and its rows. */
static uint64_t col_bytes_est(const tsr_frame *f, int i) {
  uint64_t b = 0;
  for (int64_t c = 0; c < f->rows->nchunks; c++) {
    b += (uint64_t)f->rows->cap[c] * tsr_type_width(f->cols[i].type);
    if (f->cols[i].type.id == TSR_COL_STRING)
      b += (uint64_t)tsr__col_data_cap(f, i, c);
  }
  return b;
}

static uint64_t rows_est(const tsr_frame *f) {
  uint64_t n = 0;
  for (int64_t c = 0; c < f->rows->nchunks; c++)
    n += (uint64_t)f->rows->cap[c];
  return n;
}

tsr_status tsr__join_dist_choose(tsr__join *j) {
  j->shuffle = false;
  if (!j->dist)
    return TSR_OK;
  memset(&tsr__join_last, 0, sizeof tsr__join_last);
  tsr_ctx *ctx = j->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  TSR_CHECK(d != NULL, TSR_EMPI, "%s: MPI is not available", j->fn);
  const double P = tsr__dist_size(d);
  int *cols;
  const int max = j->side[0]->f->ncols + j->side[1]->f->ncols;
  TSR_TRY(tsr_calloc(ctx, (size_t)max + 1, sizeof *cols, (void **)&cols));
  double lk = 0, r = 0, rout = 0;
  int n = tsr__join_shipped_cols(j, 0, j->side[0]->f, cols);
  for (int i = 0; i < n; i++)
    lk += (double)col_bytes_est(j->side[0]->f, cols[i]);
  n = tsr__join_shipped_cols(j, 1, j->side[1]->f, cols);
  for (int i = 0; i < n; i++) {
    double b = (double)col_bytes_est(j->side[1]->f, cols[i]);
    bool key = false;
    for (int k = 0; k < j->nkeys; k++)
      key |= j->keys[k].col[1] == cols[i];
    r += b;
    rout += key ? 0 : b;
  }
  tsr_free(ctx, cols);
  const double nl = (double)rows_est(j->side[0]->f), nr = (double)rows_est(j->side[1]->f);
  bool semi = j->kind == TSR_JOIN_SEMI || j->kind == TSR_JOIN_ANTI;
  bool outer_right = j->kind == TSR_JOIN_RIGHT || j->kind == TSR_JOIN_FULL;
  /* What comes back: a count per left row, (about one match per left row)
   * the right's result columns, and for right and full joins whether each
   * right row matched. */
  double back = nl * (semi ? 1 : 4) + (nr > 0 ? rout / nr * nl : 0) + (outer_right ? nr : 0);
  int64_t limit = tsr_ctx_broadcast_join_limit(ctx);
  bool shuffle;
  if (limit >= 0)
    shuffle = limit == 0 || r > (double)limit; /* 0: always, even for an empty side */
  else
    shuffle = r * (P - 1) > (lk + r + back) * (P - 1) / P;
  /* A broadcast join filters the right's rows by each rank's left keys
   * (join_filter.c) when the filters, about a byte per left row for every
   * rank, cost under a quarter of the broadcast. */
  uint64_t bits = 512;
  while ((double)bits < 8 * nl / P && bits < (UINT64_C(1) << 31))
    bits *= 2;
  int mode = tsr__join_filter_mode();
  bool kinds = !j->asof && (j->kind == TSR_JOIN_INNER || j->kind == TSR_JOIN_LEFT || semi);
  bool filter = !shuffle && kinds &&
                (mode == 1 || (mode < 0 && 4 * P * (double)(bits / 8) < r * (P - 1) / P));
  /* A filtered broadcast can move less than the shuffle the estimate
   * chose: where each key's left rows are on one rank, each right row goes
   * to one rank, and the left stays.  How many rows each filter passes
   * depends on where the keys are, so (limit automatic) the filters are
   * made and their rows counted first, and the shuffle runs only if they
   * would move more (tsr__join_filter); not when the filters alone, all
   * P (P - 1) of them, would cost over a quarter of the shuffle. */
  const double shuffle_bytes = (lk + r + back) * (P - 1) / P;
  bool weigh = shuffle && limit < 0 && kinds && mode != 0 &&
               4 * P * (P - 1) * (double)(bits / 8) < shuffle_bytes;
  uint64_t lo, hi;
  TSR_TRY(tsr__dist_minmax_u64(d, (uint64_t)shuffle | (uint64_t)filter << 1 | (uint64_t)weigh << 2,
                               &lo, &hi));
  TSR_CHECK(lo == hi, TSR_EINVAL,
            "%s: the ranks chose different join strategies (set the same broadcast join limit "
            "on every rank: tsr_ctx_set_broadcast_join_limit, TESSERA_BROADCAST_JOIN_LIMIT)",
            j->fn);
  j->shuffle = shuffle && !weigh;
  j->filter = filter || weigh;
  j->filter_or_shuffle = weigh;
  j->shuffle_bytes = shuffle_bytes;
  j->filter_bits = bits;
  return TSR_OK;
}

/* ---- key hashes ------------------------------------------------------------------------- */

/* A float key as float64 bits, -0.0 as 0.0 and every NaN one NaN. */
static uint64_t float_word(double x) {
  uint64_t w;
  x = x == 0 ? 0.0 : x;
  if (isnan(x))
    return UINT64_C(0x7ff8000000000000);
  memcpy(&w, &x, sizeof w);
  return w;
}

/* Per key of side s that is a dictionary: each code's string hash. */
tsr_status tsr__join_dict_hashes(const tsr__join *j, int s, uint64_t **dh) {
  for (int k = 0; k < j->nkeys; k++) {
    const tsr__col *col = &j->side[s]->f->cols[j->keys[k].col[s]];
    if (col->type.id != TSR_COL_DICT)
      continue;
    const tsr__dict *dict = col->dict;
    TSR_TRY(tsr__alloc_array(j->ctx, (size_t)dict->size + 1, sizeof **dh, "dictionary hashes",
                             (void **)&dh[k]));
    for (int64_t i = 0; i < dict->size; i++) {
      size_t len;
      const char *p = tsr__dict_str(dict, i, &len);
      dh[k][i] = tsr__join_hash_bytes(p, len);
    }
  }
  return TSR_OK;
}

void tsr__join_key_words(const tsr__join *j, int s, int64_t c, int k, uint64_t *const *dh,
                         int64_t i0, int64_t n, uint64_t *w, uint8_t *valid) {
  const tsr__sorter *so = j->side[s];
  const tsr__col *col = &so->f->cols[j->keys[k].col[s]];
  const tsr__colread *r = &so->cr[c * so->f->ncols + j->keys[k].col[s]];
  const void *v = r->values;
#define LOOP(WORD)                      \
  for (int64_t i = i0; i < i0 + n; i++) \
    w[i - i0] = (WORD);                 \
  break
  switch (col->type.id) {
  case TSR_COL_INT8:
    LOOP((uint64_t)(int64_t)((const int8_t *)v)[i]);
  case TSR_COL_INT16:
    LOOP((uint64_t)(int64_t)((const int16_t *)v)[i]);
  case TSR_COL_INT32:
  case TSR_COL_DATE:
    LOOP((uint64_t)(int64_t)((const int32_t *)v)[i]);
  case TSR_COL_INT64:
  case TSR_COL_TIMESTAMP:
  case TSR_COL_UINT64:
    LOOP(((const uint64_t *)v)[i]);
  case TSR_COL_BOOL:
  case TSR_COL_UINT8:
    LOOP(((const uint8_t *)v)[i]);
  case TSR_COL_UINT16:
    LOOP(((const uint16_t *)v)[i]);
  case TSR_COL_UINT32:
    LOOP(((const uint32_t *)v)[i]);
  case TSR_COL_FLOAT32:
    LOOP(float_word((double)((const float *)v)[i]));
  case TSR_COL_FLOAT64:
    LOOP(float_word(((const double *)v)[i]));
  case TSR_COL_STRING: /* (a null's view is not read: it may point anywhere) */
    LOOP(r->validity != NULL && !tsr__bit_get(r->validity, i)
             ? 0
             : tsr__join_hash_bytes(tsr_string_view_data((const tsr_string_view *)v + i, r->data),
                                    ((const tsr_string_view *)v)[i].length));
  case TSR_COL_DICT: {
    const int64_t dsize = col->dict ? col->dict->size : 0;
    for (int64_t i = i0; i < i0 + n; i++) {
      int32_t code = ((const int32_t *)v)[i];
      bool in = code >= 0 && code < dsize;
      valid[i - i0] &= (uint8_t)in;
      w[i - i0] = in ? dh[k][code] : 0;
    }
    break;
  }
  default:
    LOOP(0);
  }
#undef LOOP
  if (r->validity != NULL)
    for (int64_t i = i0; i < i0 + n; i++)
      valid[i - i0] &= (uint8_t)tsr__bit_get(r->validity, i);
}

void tsr__join_key_hashes(const tsr__join *j, int s, int64_t c, uint64_t *const *dh, uint64_t *h,
                          uint8_t *valid) {
  const int64_t n = j->side[s]->rows[c];
  for (int64_t i = 0; i < n; i++) {
    h[i] = GOLDEN;
    valid[i] = 1;
  }
  uint64_t w[256]; /* a block of rows' words of one key */
  for (int64_t i0 = 0; i0 < n; i0 += 256) {
    const int64_t m = n - i0 < 256 ? n - i0 : 256;
    for (int k = 0; k < j->nkeys; k++) {
      const uint64_t add = GOLDEN * (uint64_t)(k + 1);
      tsr__join_key_words(j, s, c, k, dh, i0, m, w, valid + i0);
      for (int64_t i = 0; i < m; i++)
        h[i0 + i] = tsr__join_mix(h[i0 + i] ^ (tsr__join_mix(w[i]) + add));
    }
  }
}

/* The destination rank of each row of side s's chunk c (dest[0..rows)):
 * its key hash's bucket owner, or this rank for a null key (it matches
 * nothing).  h, valid: room for the chunk's rows. */
static void route_chunk(const tsr__join *j, int s, int64_t c, uint64_t *const *dh, int P, int me,
                        uint64_t *h, uint8_t *valid, int32_t *dest) {
  tsr__join_key_hashes(j, s, c, dh, h, valid);
  for (int64_t i = 0; i < j->side[s]->rows[c]; i++)
    dest[i] = valid[i] ? (int32_t)(((h[i] >> 32) * (uint64_t)P) >> 32) : me;
}

/* ---- columns on the wire ------------------------------------------------------------------
 * A column of n rows: a word (long-string bytes, bit 63: validity follows),
 * the values (strings: views, long ones' offsets into the bytes below),
 * the validity bits when some row is null, the long strings' bytes; each
 * part padded to 8 bytes. */

#define HAS_VALIDITY (UINT64_C(1) << 63)

static const tsr__colread *ref_cr(const tsr__sorter *s, int col, uint64_t ref) {
  return &s->cr[(int64_t)(ref >> 32) * s->f->ncols + col];
}

static bool ref_valid(const tsr__colread *r, uint64_t ref) {
  return r->validity == NULL || tsr__bit_get(r->validity, (int64_t)(ref & 0xffffffffu));
}

/* Whether column `col` of side s has a null in any chunk. */
static bool any_nulls(const tsr__sorter *s, int col) {
  for (int64_t c = 0; c < s->nchunks; c++)
    if (s->cr[c * s->f->ncols + col].null_count > 0)
      return true;
  return false;
}

/* Bytes column `col` of side s takes on the wire for rows ref[0..n), and
 * the least: values and long strings' bytes. */
uint64_t tsr__join_wire_bytes(const tsr__sorter *s, int col, const uint64_t *ref, int64_t n,
                              uint64_t *least) {
  const tsr_type t = s->f->cols[col].type;
  const size_t w = tsr_type_width(t);
  const bool longs = tsr__join_long_strings(s, col), maybe = any_nulls(s, col);
  uint64_t data = 0;
  bool nulls = false;
  for (int64_t k = 0; k < n && (longs || maybe); k++) {
    const tsr__colread *r = ref_cr(s, col, ref[k]);
    bool v = ref_valid(r, ref[k]);
    nulls |= !v;
    if (v && longs) {
      uint32_t len = ((const tsr_string_view *)r->values)[ref[k] & 0xffffffffu].length;
      data += len > 12 ? len : 0;
    }
  }
  *least += (uint64_t)n * w + data;
  return 8 + A8((uint64_t)n * w) + (nulls ? A8(((uint64_t)n + 7) / 8) : 0) + A8(data);
}

/* Writes that column at dst; returns the bytes written (tsr__join_wire_bytes'). */
uint64_t tsr__join_wire_pack(const tsr__sorter *s, int col, const uint64_t *ref, int64_t n,
                             char *dst) {
  const tsr_type t = s->f->cols[col].type;
  const size_t w = tsr_type_width(t);
  const int nc = s->f->ncols;
  const tsr__colread *cr = s->cr + col;
  char *vals = dst + 8;
  uint64_t vbytes = A8((uint64_t)n * w);
  bool nulls = false;
  if (any_nulls(s, col))
    for (int64_t k = 0; k < n && !nulls; k++)
      nulls = !ref_valid(ref_cr(s, col, ref[k]), ref[k]);
  uint8_t *bits = (uint8_t *)vals + vbytes;
  uint64_t bbytes = nulls ? A8(((uint64_t)n + 7) / 8) : 0;
  char *data = (char *)bits + bbytes;
  uint64_t used = 0;
  if (nulls) {
    memset(bits, 0, (size_t)bbytes);
    for (int64_t k = 0; k < n; k++)
      if (ref_valid(ref_cr(s, col, ref[k]), ref[k]))
        bits[k >> 3] |= (uint8_t)(1u << (k & 7));
  }
#define ROW(k) (ref[k] & 0xffffffffu)
#define CR(k) (&cr[(int64_t)(ref[k] >> 32) * nc])
  if (t.id == TSR_COL_STRING) {
    tsr_string_view *dv = (tsr_string_view *)vals;
    for (int64_t k = 0; k < n; k++) {
      const tsr__colread *r = CR(k);
      tsr_string_view sv;
      if (ref_valid(r, ref[k])) {
        sv = ((const tsr_string_view *)r->values)[ROW(k)];
        if (sv.length > 12) {
          memcpy(data + used, r->data + sv.u.ref.offset, sv.length);
          sv.u.ref.offset = (uint32_t)used;
          used += sv.length;
        }
      } else {
        memset(&sv, 0, sizeof sv);
      }
      dv[k] = sv;
    }
  } else {
    /* Rows of one chunk (a piece of the shuffle or of the filter): its
     * values read without looking the chunk up a row. */
    const int64_t c0 = n > 0 ? (int64_t)(ref[0] >> 32) : 0;
    bool one = true;
    for (int64_t k = 0; k < n; k++)
      one &= (int64_t)(ref[k] >> 32) == c0;
    switch (w) {
#define COPY(W, T)                                              \
  case W: {                                                     \
    T *d = (T *)vals;                                           \
    const T *v0 = n > 0 ? (const T *)cr[c0 * nc].values : NULL; \
    if (one)                                                    \
      for (int64_t k = 0; k < n; k++)                           \
        d[k] = v0[ROW(k)];                                      \
    else                                                        \
      for (int64_t k = 0; k < n; k++)                           \
        d[k] = ((const T *)CR(k)->values)[ROW(k)];              \
    break;                                                      \
  }
      COPY(1, uint8_t)
      COPY(2, uint16_t)
      COPY(4, uint32_t)
      COPY(8, uint64_t)
#undef COPY
    default:
      for (int64_t k = 0; k < n; k++)
        memcpy(vals + (size_t)k * w, (const char *)CR(k)->values + (size_t)ROW(k) * w, w);
      break;
    }
  }
#undef ROW
#undef CR
  memset(vals + (size_t)n * w, 0, (size_t)(vbytes - (uint64_t)n * w));
  memset(data + used, 0, (size_t)(A8(used) - used));
  uint64_t word = used | (nulls ? HAS_VALIDITY : 0);
  memcpy(dst, &word, 8);
  return 8 + vbytes + bbytes + A8(used);
}

/* Reads a column of n rows at src into *out; returns the bytes read. */
uint64_t tsr__join_wire_read(const char *src, int64_t n, tsr_type t, tsr__colread *out) {
  uint64_t word;
  memcpy(&word, src, 8);
  const uint64_t used = word & ~HAS_VALIDITY;
  const bool nulls = (word & HAS_VALIDITY) != 0;
  const uint64_t vbytes = A8((uint64_t)n * tsr_type_width(t));
  const uint64_t bbytes = nulls ? A8(((uint64_t)n + 7) / 8) : 0;
  out->rows = n;
  out->values = src + 8;
  out->validity = nulls ? (const uint8_t *)src + 8 + vbytes : NULL;
  out->null_count = 0;
  for (int64_t i = 0; nulls && i < n; i++)
    out->null_count += !tsr__bit_get(out->validity, i);
  if (out->null_count == 0)
    out->validity = NULL;
  out->data = src + 8 + vbytes + bbytes;
  out->data_bytes = used;
  return 8 + vbytes + bbytes + A8(used);
}

/* ---- sorters over received pieces ----------------------------------------------------------- */

/* A sorter over frame f with nchunks chunks whose column reads are filled
 * from pieces (rows 0 and no columns until then). */
tsr_status tsr__join_piece_sorter(tsr_ctx *ctx, tsr_frame *f, const char *fn, int64_t nchunks,
                                  tsr__sorter **out) {
  tsr__sorter *s;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  *out = s;
  s->ctx = ctx;
  s->f = f;
  s->fn = fn;
  s->nchunks = nchunks;
  s->keep = -1;
  TSR_TRY(tsr_calloc(ctx, (size_t)nchunks * (size_t)f->ncols + 1, sizeof *s->cr, (void **)&s->cr));
  TSR_TRY(tsr_calloc(ctx, (size_t)nchunks + 1, sizeof *s->rows, (void **)&s->rows));
  TSR_TRY(tsr_calloc(ctx, (size_t)nchunks + 1, sizeof *s->row_start, (void **)&s->row_start));
  return TSR_OK;
}

void tsr__join_piece_starts(tsr__sorter *s) {
  s->row_start[0] = 0;
  for (int64_t c = 0; c < s->nchunks; c++) {
    s->row_start[c + 1] = s->row_start[c] + s->rows[c];
    for (int i = 0; i < s->f->ncols; i++)
      s->cr[c * s->f->ncols + i].rows = s->rows[c];
  }
  s->total = s->row_start[s->nchunks];
}

/* ---- the bucket owner's join ------------------------------------------------------------------
 */

static void bucket_free(tsr__join *b) {
  tsr_ctx *ctx = b->ctx;
  tsr__join_keys_free(b);
  tsr_free(ctx, b->keys);
  for (int s = 0; s < 2; s++) {
    tsr_free(ctx, b->words[s]);
    tsr_free(ctx, b->ok[s]);
  }
  tsr_free(ctx, b->head);
  tsr_free(ctx, b->tag);
  tsr_free(ctx, b->rrows);
  if (b->lrow != NULL)
    for (int64_t c = 0; c < b->side[0]->nchunks; c++) {
      tsr_free(ctx, b->lrow[c]);
      tsr_free(ctx, b->rref[c]);
    }
  tsr_free(ctx, b->lrow);
  tsr_free(ctx, b->rref);
  tsr_free(ctx, b->npairs);
  tsr_free(ctx, b->str_bytes);
  tsr_free(ctx, b->matched);
  tsr__join_asof_free(b);
  tsr__sorter_destroy(&b->side[0]);
  tsr__sorter_destroy(&b->side[1]);
}

/* The bucket owner's join over the received pieces in `in` (bytes), into b
 * (sides over pieces, pairs per left chunk): side s over frame f[s] with
 * nch[s] chunks. */
static tsr_status bucket_join(tsr__join *j, tsr_frame *const *f, const int64_t *nch, const char *in,
                              uint64_t bytes, tsr__join *b) {
  tsr_ctx *ctx = j->ctx;
  tsr_status status = TSR_OK;
  memset(b, 0, sizeof *b);
  b->ctx = ctx;
  b->fn = j->fn;
  b->kind = j->kind;
  b->dist = true; /* every rank runs every task, on what it holds */
  b->nkeys = j->nkeys;
  b->asof = j->asof;
  b->on[0] = j->on[0];
  b->on[1] = j->on[1];
  b->has_tol = j->has_tol;
  b->tol = j->tol;
  int *cols[2] = {NULL, NULL}, ncols[2] = {0, 0};
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)j->nkeys + 1, sizeof *b->keys, (void **)&b->keys));
  for (int k = 0; k < j->nkeys; k++) {
    b->keys[k].col[0] = j->keys[k].col[0];
    b->keys[k].col[1] = j->keys[k].col[1];
  }
  for (int s = 0; s < 2; s++) {
    TSR__TRY_GOTO(status, tsr__join_piece_sorter(ctx, f[s], j->fn, nch[s], &b->side[s]));
    TSR__TRY_GOTO(status,
                  tsr_calloc(ctx, (size_t)f[s]->ncols + 1, sizeof *cols[s], (void **)&cols[s]));
    ncols[s] = tsr__join_shipped_cols(j, s, f[s], cols[s]);
  }
  for (uint64_t at = 0; at < bytes;) {
    hdr h;
    memcpy(&h, in + at, sizeof h);
    at += sizeof h;
    tsr__sorter *s = b->side[h.side];
    s->rows[h.chunk] = h.rows;
    for (int i = 0; i < ncols[h.side]; i++)
      at += tsr__join_wire_read(in + at, h.rows, s->f->cols[cols[h.side][i]].type,
                                &s->cr[h.chunk * s->f->ncols + cols[h.side][i]]);
  }
  tsr__join_piece_starts(b->side[0]);
  tsr__join_piece_starts(b->side[1]);
fail:
  tsr_free(ctx, cols[0]);
  tsr_free(ctx, cols[1]);
  /* Each step below is this rank's own work (its runs are local), skipped
   * once one failed; one agreement after them makes a failure every rank's. */
  if (status == TSR_OK)
    status = tsr__join_keys_prepare(b);
  if (status == TSR_OK)
    status = tsr__join_keys_encode(b);
  if (status == TSR_OK && (b->nkeys > 0 || !b->asof))
    status = tsr__join_build(b);
  if (status == TSR_OK && b->asof)
    status = tsr__join_asof_prepare(b);
  const int64_t nl = b->side[0]->nchunks;
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)nl + 1, sizeof *b->npairs, (void **)&b->npairs);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)nl + 1, sizeof *b->lrow, (void **)&b->lrow);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)nl + 1, sizeof *b->rref, (void **)&b->rref);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, 1, sizeof *b->str_bytes, (void **)&b->str_bytes);
  if (status == TSR_OK && (j->kind == TSR_JOIN_RIGHT || j->kind == TSR_JOIN_FULL))
    status = tsr_calloc(ctx, (size_t)b->side[1]->total + 1, 1, (void **)&b->matched);
  if (status == TSR_OK)
    status = b->asof ? tsr__join_asof_probe(b) : tsr__join_probe(b);
  return tsr_ctx_agree(ctx, status);
}

/* ---- assembling the one-rank pairs --------------------------------------------------------- */

static tsr_status assemble_kernel(const tsr_kernel_call *call) {
  tsr__jtask t = tsr__jtask_of(call);
  tsr__join *j = t.j;
  tsr_ctx *ctx = j->ctx;
  const int64_t c = t.i, nl = j->side[0]->nchunks;
  if (tsr__dist_chunk_owner(ctx, c, nl) != tsr__dist_rank(tsr__dist_get(ctx)))
    return TSR_OK;
  const tsr__jshuf *sh = j->sh;
  const int P = tsr__dist_size(tsr__dist_get(ctx));
  const int64_t n = j->side[0]->rows[c];
  const int32_t *dest = sh->dest + j->side[0]->row_start[c];
  const char *const *cnt = sh->counts + c * P;
  const tsr_join_kind kind = j->kind;
  const bool pairs = kind != TSR_JOIN_SEMI && kind != TSR_JOIN_ANTI;
  const bool outer = kind == TSR_JOIN_LEFT || kind == TSR_JOIN_FULL; /* unmatched left rows too */
  int64_t *pos = NULL;
  tsr_status status = TSR_OK;
  TSR_TRY(tsr_kernel_alloc(ctx, 2 * (size_t)P * sizeof *pos, (void **)&pos));
  memset(pos, 0, 2 * (size_t)P * sizeof *pos);
  int64_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    int p = dest[i];
    TSR__CHECK_GOTO(status, cnt[p] != NULL, TSR_EMPI,
                    "%s: rank %d returned no counts for left chunk %lld", j->fn, p, (long long)c);
    uint64_t k =
        sh->cw == 4 ? ((const uint32_t *)cnt[p])[pos[p]++] : ((const uint8_t *)cnt[p])[pos[p]++];
    total += outer && k == 0 ? 1 : (int64_t)k;
  }
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)total * sizeof(uint32_t) + 8, (void **)&j->lrow[c]));
  if (pairs)
    TSR__TRY_GOTO(status,
                  tsr_alloc(ctx, (size_t)total * sizeof(uint64_t) + 8, (void **)&j->rref[c]));
  memset(pos, 0, 2 * (size_t)P * sizeof *pos);
  int64_t *pair = pos + P; /* per rank: the next returned right row */
  uint32_t *lr = j->lrow[c];
  uint64_t *rr = j->rref[c];
  int64_t o = 0;
  for (int64_t i = 0; i < n; i++) {
    int p = dest[i];
    uint64_t k =
        sh->cw == 4 ? ((const uint32_t *)cnt[p])[pos[p]++] : ((const uint8_t *)cnt[p])[pos[p]++];
    if (!pairs) {
      if (k)
        lr[o++] = (uint32_t)i;
      continue;
    }
    if (k == 0 && outer) {
      lr[o] = (uint32_t)i;
      rr[o++] = TSR__JOIN_NONE;
    }
    for (uint64_t m = 0; m < k; m++) {
      lr[o] = (uint32_t)i;
      rr[o++] = (uint64_t)(c * P + p) << 32 | (uint64_t)pair[p]++;
    }
  }
  j->npairs[c] = total;
  status = tsr__join_str_bytes(j, c, total, lr, rr);
fail:
  tsr_free(ctx, pos);
  return status;
}

/* ---- the shuffle ------------------------------------------------------------------------------
 */

/* Rows of side s's chunk c grouped by destination: ref (chunk << 32 | row)
 * in row order within each rank's group, starting at start[p]. */
static void group_rows(const tsr__sorter *s, int64_t c, const int32_t *dest, int P, uint64_t *ref,
                       int64_t *start) {
  const int64_t n = s->rows[c];
  memset(start, 0, ((size_t)P + 1) * sizeof *start);
  for (int64_t i = 0; i < n; i++)
    start[dest[i] + 1]++;
  for (int p = 0; p < P; p++)
    start[p + 1] += start[p];
  int64_t fill[1024];
  if (P > 1024) { /* more ranks than the stack array: a pass per rank */
    int64_t o = 0;
    for (int p = 0; p < P; p++)
      for (int64_t i = 0; i < n; i++)
        if (dest[i] == p)
          ref[o++] = (uint64_t)c << 32 | (uint64_t)i;
    return;
  }
  memcpy(fill, start, (size_t)P * sizeof *fill);
  for (int64_t i = 0; i < n; i++)
    ref[fill[dest[i]]++] = (uint64_t)c << 32 | (uint64_t)i;
}

/* ---- as-of joins without by keys: on value ranges ------------------------------------------ */

static int u64_cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

#define OVERSAMPLE 64

/* The range (rank) of on word w: the splitters at or below it. */
static int32_t range_of(const uint64_t *split, int P, uint64_t w) {
  int lo = 0, hi = P - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (split[mid] <= w)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* Collective (agrees first on this rank's status): the destination of
 * every row of both sides (dest[s], by global row of the chunks this rank
 * owns) for an as-of join without by keys.  Rows go by their on value to P
 * ranges cut by P - 1 splitters from a regular sample of the right's on
 * values (P a rank, from 64 P taken at even steps); a row that cannot match
 * (null or NaN on) stays here.
 * Each splitter is a right row's value, so a left row in range k > 0 has a
 * right row at or below it in its own range: the right row it takes (the
 * largest value at or below its own, the last in right row order among
 * equals, which all share a range) is always in its range. */
static tsr_status range_routes(tsr__join *j, tsr_status status, int32_t *const *dest) {
  tsr_ctx *ctx = j->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  const tsr__sorter *rs = j->side[1];
  int64_t most = rs->total > 1 ? rs->total : 1; /* scratch rows: the right's, or a chunk's */
  for (int64_t c = 0; c < j->side[0]->nchunks; c++)
    most = j->side[0]->rows[c] > most ? j->side[0]->rows[c] : most;
  uint64_t *w = NULL, *sample = NULL, *all = NULL, *split = NULL, *counts = NULL;
  uint8_t *ok = NULL;
  const struct {
    void *at;
    size_t n, size;
  } arrays[] = {{&w, (size_t)most, sizeof *w},        {&ok, (size_t)most, 1},
                {&sample, (size_t)P, sizeof *sample}, {&all, (size_t)P * (size_t)P, sizeof *all},
                {&split, (size_t)P, sizeof *split},   {&counts, (size_t)P, sizeof *counts}};
  for (size_t a = 0; a < sizeof arrays / sizeof *arrays && status == TSR_OK; a++)
    status = tsr_calloc(ctx, arrays[a].n + 1, arrays[a].size, (void **)arrays[a].at);
  /* The sample: P of this rank's valid right values, regularly spaced
   * among OVERSAMPLE x P of them taken at even steps. */
  const tsr_type rt = rs->f->cols[j->on[1]].type, lt = j->side[0]->f->cols[j->on[0]].type;
  int64_t nv = 0;
  for (int64_t c = 0; c < rs->nchunks && status == TSR_OK; c++) {
    if (rs->rows[c] == 0)
      continue;
    uint64_t *cw = w + nv;
    tsr__join_on_words(rt, &rs->cr[c * rs->f->ncols + j->on[1]], cw, ok);
    int64_t m = 0;
    for (int64_t i = 0; i < rs->rows[c]; i++)
      if (ok[i])
        cw[m++] = cw[i];
    nv += m;
  }
  status = tsr_ctx_agree(ctx, status);
  uint64_t ns = 0, M = 0;
  if (status == TSR_OK) { /* every (nv / OVERSAMPLE P)-th value, sorted */
    int64_t step = nv / (OVERSAMPLE * P) > 1 ? nv / (OVERSAMPLE * P) : 1, m = 0;
    for (int64_t i = 0; i < nv; i += step)
      w[m++] = w[i];
    qsort(w, (size_t)m, sizeof *w, u64_cmp);
    for (int k = 0; k < P && m > 0; k++)
      sample[ns++] = w[(int64_t)k * m / P];
    status = tsr__dist_gather_counts(d, ns * sizeof *sample, counts);
  }
  if (status == TSR_OK)
    status = tsr__dist_allgatherv(d, sample, ns * sizeof *sample, all, counts);
  for (int p = 0; p < P && status == TSR_OK; p++)
    M += counts[p] / sizeof *all;
  if (status == TSR_OK) {
    qsort(all, (size_t)M, sizeof *all, u64_cmp);
    for (int k = 1; k < P && M > 0; k++)
      split[k - 1] = all[(uint64_t)k * M / (uint64_t)P];
  }
  /* No right row anywhere: nothing matches, every row stays here. */
  for (int s = 0; s < 2 && status == TSR_OK; s++) {
    const tsr__sorter *so = j->side[s];
    for (int64_t c = 0; c < so->nchunks; c++) {
      const int64_t n = so->rows[c];
      if (n == 0)
        continue;
      int32_t *dst = dest[s] + so->row_start[c];
      tsr__join_on_words(s ? rt : lt, &so->cr[c * so->f->ncols + j->on[s]], w, ok);
      for (int64_t i = 0; i < n; i++)
        dst[i] = ok[i] && M > 0 ? range_of(split, P, w[i]) : me;
    }
  }
  tsr_free(ctx, w);
  tsr_free(ctx, ok);
  tsr_free(ctx, sample);
  tsr_free(ctx, all);
  tsr_free(ctx, split);
  tsr_free(ctx, counts);
  return status;
}

/* Right and full joins, after the return: the right's chunks as loaded
 * join j->side[1] (the returned pieces) from chunk j->rbase = nl * P on,
 * and j->matched marks their rows that matched, each row's flag taken from
 * the rank it went to (rdest) in row order. */
static tsr_status right_as_loaded(tsr__join *j, const uint8_t *const *flags, const int32_t *rdest) {
  tsr_ctx *ctx = j->ctx;
  tsr__sorter *rs = j->side[1];
  const tsr__sorter *o = j->sh->right;
  const int P = tsr__dist_size(tsr__dist_get(ctx)), nc = rs->f->ncols;
  const int64_t base = rs->nchunks - o->nchunks;
  j->rbase = base;
  for (int64_t c = 0; c < o->nchunks; c++) {
    rs->rows[base + c] = o->rows[c];
    memcpy(&rs->cr[(base + c) * nc], &o->cr[c * nc], (size_t)nc * sizeof *rs->cr);
  }
  tsr__join_piece_starts(rs);
  tsr_free(ctx, j->matched);
  j->matched = NULL;
  int64_t *at = NULL;
  TSR_TRY(tsr_calloc(ctx, (size_t)rs->total + 1, 1, (void **)&j->matched));
  TSR_TRY(tsr_calloc(ctx, (size_t)P + 1, sizeof *at, (void **)&at));
  tsr_status status = TSR_OK;
  for (int64_t c = 0; c < o->nchunks && status == TSR_OK; c++) {
    const int32_t *dest = rdest + o->row_start[c];
    uint8_t *m = j->matched + rs->row_start[base + c];
    memset(at, 0, (size_t)P * sizeof *at);
    for (int64_t i = 0; i < o->rows[c]; i++) {
      const uint8_t *f = flags[c * P + dest[i]];
      if (f == NULL) {
        status = tsr_error_set(TSR_EMPI, "%s: rank %d returned no matches for right chunk %lld",
                               j->fn, dest[i], (long long)c);
        break;
      }
      m[i] = f[at[dest[i]]++];
    }
  }
  tsr_free(ctx, at);
  return status;
}

uint64_t tsr__join_send_offsets(int P, const uint64_t *scount, uint64_t *soff, uint64_t *at) {
  uint64_t total = 0;
  for (int p = 0; p < P; p++) {
    soff[p] = at[p] = total;
    total += scount[p];
  }
  return total;
}

tsr_status tsr__join_exchange(tsr__join *j, tsr_status status, char **send, const uint64_t *soff,
                              const uint64_t *scount, uint64_t *rcount, char **in,
                              uint64_t *total) {
  tsr_ctx *ctx = j->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  TSR_TRY(tsr_ctx_agree(ctx, status));
  TSR_TRY(tsr__dist_exchange_counts(d, scount, rcount));
  *total = 0;
  for (int p = 0; p < tsr__dist_size(d); p++)
    *total += rcount[p];
  TSR_TRY(tsr_ctx_agree(ctx, tsr_alloc(ctx, (size_t)*total + 8, (void **)in)));
  TSR_TRY(tsr__dist_alltoallv(d, *send, soff, scount, *in, rcount));
  tsr_free(ctx, *send);
  *send = NULL;
  return TSR_OK;
}

tsr_status tsr__join_shuffle(tsr__join *j) {
  tsr_ctx *ctx = j->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  const tsr_join_kind kind = j->kind;
  const bool pairs = kind != TSR_JOIN_SEMI && kind != TSR_JOIN_ANTI;
  const bool outer_right = kind == TSR_JOIN_RIGHT || kind == TSR_JOIN_FULL;
  const int64_t nl = j->side[0]->nchunks, nr = j->side[1]->nchunks;
  const bool ranges = j->asof && j->nkeys == 0; /* as-of without by keys: range_routes */
  tsr_frame *rf = j->side[1]->f, *frames[2] = {j->side[0]->f, rf};
  const int64_t nch[2] = {nl, nr};
  int32_t *rdest = NULL;
  uint64_t *dh[2][64];
  int *cols[2] = {NULL, NULL}, ncols[2] = {0, 0};
  uint64_t *ref = NULL, *cnt = NULL, *refs = NULL;
  int64_t *start = NULL;
  uint8_t *valid = NULL;
  char *send = NULL, *in = NULL;
  tsr__join b;
  bool bucket = false, talked = false;
  int *rout = NULL, nrout = 0; /* the right's result columns */
  uint64_t sent = 0, least = 0, returned = 0;
  double t[6] = {tsr__now(), 0, 0, 0, 0, 0}; /* the steps' ends, for the trace */
  tsr_status status = TSR_OK;
  memset(dh, 0, sizeof dh);
  memset(&b, 0, sizeof b);
  const tsr__join_diag filters = tsr__join_last; /* (declined: what the filters sent) */
  memset(&tsr__join_last, 0, sizeof tsr__join_last);
  tsr__join_last.shuffle = true;
  tsr__join_last.declined = filters.declined;
  tsr__join_last.filter_bytes = filters.declined ? filters.filter_bytes : 0;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *j->sh, (void **)&j->sh));
  tsr__jshuf *sh = j->sh;
  sh->cw = pairs ? 4 : 1;
  /* Destinations, per row of the chunks this rank owns. */
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)j->side[0]->total + 1, sizeof *sh->dest,
                                         "row destinations", (void **)&sh->dest));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)j->side[1]->total + 1, sizeof *rdest,
                                         "row destinations", (void **)&rdest));
  int32_t *dest[2] = {sh->dest, rdest};
  int64_t most = 0; /* rows of the largest chunk */
  for (int s = 0; s < 2; s++)
    for (int64_t c = 0; c < j->side[s]->nchunks; c++)
      most = j->side[s]->rows[c] > most ? j->side[s]->rows[c] : most;
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)most + 1, sizeof *ref, "row groups", (void **)&ref));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)most + 1, (void **)&valid));
  for (int s = 0; s < 2; s++) {
    const tsr__sorter *so = j->side[s];
    TSR__TRY_GOTO(status, tsr__join_dict_hashes(j, s, dh[s]));
    TSR__TRY_GOTO(status,
                  tsr_calloc(ctx, (size_t)so->f->ncols + 1, sizeof *cols[s], (void **)&cols[s]));
    ncols[s] = tsr__join_shipped_cols(j, s, so->f, cols[s]);
    for (int64_t c = 0; c < so->nchunks && !ranges; c++) /* ref: the hashes, for now */
      route_chunk(j, s, c, dh[s], P, me, ref, valid, dest[s] + so->row_start[c]);
  }
  tsr_free(ctx, valid);
  valid = NULL;
  if (ranges) { /* collective: every rank agrees first */
    talked = true;
    TSR__TRY_GOTO(status, range_routes(j, TSR_OK, dest));
    talked = false;
  }
  /* Piece sizes per destination, then the pieces. */
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 4 * (size_t)P + 1, sizeof *cnt, (void **)&cnt));
  uint64_t *scount = cnt, *soff = cnt + P, *rcount = cnt + 2 * P, *at = cnt + 3 * P;
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)P + 1, sizeof *start, "row groups", (void **)&start));
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      uint64_t total = tsr__join_send_offsets(P, scount, soff, at);
      TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)total + 8, (void **)&send));
    }
    for (int s = 0; s < 2; s++) {
      const tsr__sorter *so = j->side[s];
      for (int64_t c = 0; c < so->nchunks; c++) {
        if (so->rows[c] == 0)
          continue;
        group_rows(so, c, dest[s] + so->row_start[c], P, ref, start);
        for (int p = 0; p < P; p++) {
          int64_t n = start[p + 1] - start[p];
          if (n == 0)
            continue;
          if (pass == 0) {
            uint64_t dummy = 0, *lst = p == me ? &dummy : &least;
            scount[p] += sizeof(hdr);
            for (int i = 0; i < ncols[s]; i++)
              scount[p] += tsr__join_wire_bytes(so, cols[s][i], ref + start[p], n, lst);
            continue;
          }
          hdr h = {s, c, n, 0};
          memcpy(send + at[p], &h, sizeof h);
          at[p] += sizeof h;
          for (int i = 0; i < ncols[s]; i++)
            at[p] += tsr__join_wire_pack(so, cols[s][i], ref + start[p], n, send + at[p]);
        }
      }
    }
  }
  for (int p = 0; p < P; p++)
    sent += p == me ? 0 : scount[p];
  /* The right side as loaded is no longer needed, but for the unmatched
   * rows of right and full joins. */
  if (outer_right) {
    sh->right = j->side[1];
    j->side[1] = NULL;
  }
  tsr__sorter_destroy(&j->side[1]);
  talked = true;
  t[1] = tsr__now();
  {
    uint64_t total;
    TSR__TRY_GOTO(status, tsr__join_exchange(j, status, &send, soff, scount, rcount, &in, &total));
    t[2] = tsr__now();
    /* The bucket owner's join. */
    bucket = true;
    TSR__TRY_GOTO(status, bucket_join(j, frames, nch, in, total, &b));
    t[3] = tsr__now();
  }
  /* Back to each left chunk's owner: counts per row, the matched right rows. */
  memset(scount, 0, (size_t)P * sizeof *scount);
  status = tsr_calloc(ctx, (size_t)j->ncols + 1, sizeof *rout, (void **)&rout);
  for (int o = 0; o < j->ncols && pairs && status == TSR_OK; o++)
    if (j->src_side[o] == 1)
      rout[nrout++] = j->src_col[o];
  if (status == TSR_OK) {
    int64_t mostp = 0;
    for (int64_t c = 0; c < nl; c++)
      mostp = b.npairs[c] > mostp ? b.npairs[c] : mostp;
    status =
        tsr__alloc_array(ctx, (size_t)mostp + 1, sizeof *refs, "returned rows", (void **)&refs);
  }
  for (int pass = 0; pass < 2 && status == TSR_OK; pass++) {
    if (pass == 1) {
      uint64_t total = tsr__join_send_offsets(P, scount, soff, at);
      status = tsr_alloc(ctx, (size_t)total + 8, (void **)&send);
      if (status != TSR_OK)
        break;
    }
    for (int64_t c = 0; c < nl; c++) {
      const int64_t n = b.side[0]->rows[c];
      if (n == 0)
        continue;
      const int q = tsr__dist_chunk_owner(ctx, c, nl);
      int64_t np = 0;
      for (int64_t k = 0; k < b.npairs[c] && pairs; k++)
        if (b.rref[c][k] != TSR__JOIN_NONE)
          refs[np++] = b.rref[c][k];
      if (pass == 0) {
        uint64_t dummy = 0;
        scount[q] += sizeof(hdr) + A8((uint64_t)n * (uint64_t)sh->cw);
        for (int i = 0; i < nrout; i++)
          scount[q] += tsr__join_wire_bytes(b.side[1], rout[i], refs, np, &dummy);
        continue;
      }
      hdr h = {2, c, n, np};
      memcpy(send + at[q], &h, sizeof h);
      at[q] += sizeof h;
      char *cp = send + at[q];
      memset(cp, 0, (size_t)A8((uint64_t)n * (uint64_t)sh->cw));
      for (int64_t k = 0; k < b.npairs[c]; k++) {
        uint32_t l = b.lrow[c][k];
        if (sh->cw == 1)
          ((uint8_t *)cp)[l] = 1; /* semi: matched rows; anti: unmatched ones */
        else if (b.rref[c][k] != TSR__JOIN_NONE)
          ((uint32_t *)cp)[l]++;
      }
      at[q] += A8((uint64_t)n * (uint64_t)sh->cw);
      for (int i = 0; i < nrout; i++)
        at[q] += tsr__join_wire_pack(b.side[1], rout[i], refs, np, send + at[q]);
    }
    /* Right and full joins: to each right chunk's owner, per row it sent
     * here, whether it matched. */
    for (int64_t c = 0; c < nr && outer_right; c++) {
      const uint64_t n = (uint64_t)b.side[1]->rows[c];
      if (n == 0)
        continue;
      const int q = tsr__dist_chunk_owner(ctx, c, nr);
      if (pass == 1) {
        hdr h = {3, c, (int64_t)n, 0};
        memcpy(send + at[q], &h, sizeof h);
        memcpy(send + at[q] + sizeof h, b.matched + b.side[1]->row_start[c], n);
        memset(send + at[q] + sizeof h + n, 0, A8(n) - n);
        at[q] += sizeof h + A8(n);
      } else {
        scount[q] += sizeof(hdr) + A8(n);
      }
    }
  }
  for (int p = 0; p < P; p++)
    returned += p == me ? 0 : scount[p];
  if (bucket)
    bucket_free(&b);
  bucket = false;
  tsr_free(ctx, in);
  in = NULL;
  {
    uint64_t total;
    TSR__TRY_GOTO(status,
                  tsr__join_exchange(j, status, &send, soff, scount, rcount, &sh->back, &total));
    /* The returned right rows as the right side: chunk c * P + p; right
     * and full joins: then the right's chunks as loaded. */
    tsr__sorter *rs = NULL;
    const uint8_t **flags = NULL; /* per right chunk x rank: whether each row matched */
    status = tsr__join_piece_sorter(ctx, rf, j->fn, nl * P + (outer_right ? nr : 0), &rs);
    j->side[1] = rs;
    if (status == TSR_OK)
      status = tsr_calloc(ctx, (size_t)(nl * P) + 1, sizeof *sh->counts, (void **)&sh->counts);
    if (status == TSR_OK && outer_right)
      status = tsr_calloc(ctx, (size_t)(nr * P) + 1, sizeof *flags, (void **)&flags);
    uint64_t pos = 0;
    for (int p = 0; p < P && status == TSR_OK; p++) {
      const uint64_t end = pos + rcount[p];
      while (pos < end) {
        hdr h;
        memcpy(&h, sh->back + pos, sizeof h);
        pos += sizeof h;
        if (h.side == 3) {
          flags[h.chunk * P + p] = (const uint8_t *)sh->back + pos;
          pos += A8((uint64_t)h.rows);
          continue;
        }
        const int64_t ch = h.chunk * P + p;
        sh->counts[ch] = sh->back + pos;
        pos += A8((uint64_t)h.rows * (uint64_t)sh->cw);
        rs->rows[ch] = h.pairs;
        for (int i = 0; i < nrout; i++)
          pos += tsr__join_wire_read(sh->back + pos, h.pairs, rf->cols[rout[i]].type,
                                     &rs->cr[ch * rf->ncols + rout[i]]);
      }
    }
    if (status == TSR_OK && outer_right)
      status = right_as_loaded(j, flags, rdest);
    else if (status == TSR_OK)
      tsr__join_piece_starts(rs);
    tsr_free(ctx, flags);
  }
  /* Each left chunk's owner: the one-rank probe's pairs. */
  t[4] = tsr__now();
  status = tsr__join_run(j, status, "frame_join_assemble", assemble_kernel, nl);
  t[5] = tsr__now();
  tsr__join_last.sent = sent;
  tsr__join_last.least = least;
  tsr__join_last.returned = returned;
  if (tsr__join_tracing())
    fprintf(stderr,
            "tessera join trace: rank %d: shuffle join, sent %llu bytes (least %llu), "
            "returned %llu bytes; seconds: route and pack %.3f, shuffle %.3f, bucket join %.3f, "
            "return %.3f, assemble %.3f\n",
            me, (unsigned long long)sent, (unsigned long long)least, (unsigned long long)returned,
            t[1] - t[0], t[2] - t[1], t[3] - t[2], t[4] - t[3], t[5] - t[4]);
  goto done;
fail:
  if (!talked) /* as the other ranks, before their exchange */
    status = tsr_ctx_agree(ctx, status);
done:
  if (bucket)
    bucket_free(&b);
  for (int s = 0; s < 2; s++)
    for (int k = 0; k < 64; k++)
      tsr_free(ctx, dh[s][k]);
  tsr_free(ctx, cols[0]);
  tsr_free(ctx, cols[1]);
  tsr_free(ctx, rdest);
  tsr_free(ctx, ref);
  tsr_free(ctx, valid);
  tsr_free(ctx, refs);
  tsr_free(ctx, rout);
  tsr_free(ctx, start);
  tsr_free(ctx, cnt);
  tsr_free(ctx, send);
  tsr_free(ctx, in);
  return status;
}
