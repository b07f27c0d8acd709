/* groupby_wire.c — the byte form in which a group-by's pieces travel between
 * MPI ranks (docs/frames.md, "Group-by", MPI): column slices (key values,
 * string min/max/first/last values, the values holistic aggregates read)
 * and slices of partial aggregate states.
 *
 * A writer with no buffer only counts, so callers size a send buffer with
 * the same calls that fill it.  Every item is padded to 8 bytes.  Row
 * counts and first rows (a few bytes a group, most of what a shuffle
 * sends besides keys, states and values) go as LEB128 varints: counts as
 * they are, first rows as zigzag differences (they grow within a bucket).  String
 * views are rewritten to point into the slice's own data bytes, which
 * follow them (views hold no pointers, so nothing else changes).  The
 * reader copies every array into memory of its own (tsr_alloc, counted
 * against the rank's memory limit) and checks every length against the
 * bytes received, so a malformed message is an error, never a crash. */
#include <string.h>

#include "groupby_impl.h"

static const char fn[] = "tsr_frame_groupby";

static uint64_t pad8(uint64_t n) { return (n + 7) & ~(uint64_t)7; }

void gb_wire_put(gb_wire *w, const void *p, uint64_t n) {
  if (w->buf != NULL && n > 0) {
    if (p != NULL)
      memcpy(w->buf + w->at, p, n);
    else
      memset(w->buf + w->at, 0, n);
    memset(w->buf + w->at + n, 0, pad8(n) - n);
  }
  w->at += pad8(n);
}

void gb_wire_i64(gb_wire *w, int64_t v) { gb_wire_put(w, &v, sizeof v); }

void gb_wire_i64s_at(gb_wire *w, const int64_t *v, const int64_t *idx, int64_t n) {
  if (w->buf != NULL)
    for (int64_t k = 0; k < n; k++)
      memcpy(w->buf + w->at + (uint64_t)k * sizeof *v, &v[idx[k]], sizeof *v);
  w->at += (uint64_t)n * sizeof *v;
}

tsr_status gb_wire_get(gb_wire *r, void *p, uint64_t n) {
  TSR_CHECK(r->at <= r->end && pad8(n) <= r->end - r->at, TSR_EMPI,
            "%s: a message from another rank is shorter than its contents say", fn);
  if (n > 0 && p != NULL)
    memcpy(p, r->buf + r->at, n);
  r->at += pad8(n);
  return TSR_OK;
}

tsr_status gb_wire_get_i64(gb_wire *r, int64_t *v) { return gb_wire_get(r, v, sizeof *v); }

/* Rows of column c of `type` (rows[0..n), or [s, s + n) when rows is
 * NULL): n, nulls, the validity bits when some are null, the values, and
 * for strings the data their long views need (the views rewritten to
 * offsets into it). */
static void wire_col(gb_wire *w, tsr_type type, const tsr__colread *c, int64_t s,
                     const int32_t *rows, int64_t n) {
#define ROW(i) (rows != NULL ? (int64_t)rows[i] : s + (i))
  size_t width = tsr_type_width(type);
  int64_t nulls = 0;
  if (c->validity != NULL)
    for (int64_t i = 0; i < n; i++)
      nulls += !tsr__bit_get(c->validity, ROW(i));
  gb_wire_i64(w, n);
  gb_wire_i64(w, nulls);
  if (nulls > 0) {
    uint64_t nb = (uint64_t)(n + 7) / 8;
    if (w->buf != NULL) {
      uint8_t *bits = w->buf + w->at;
      memset(bits, 0xff, pad8(nb));
      for (int64_t i = 0; i < n; i++)
        if (!tsr__bit_get(c->validity, ROW(i)))
          tsr__bit_set(bits, i, false);
    }
    w->at += pad8(nb);
  }
  if (type.id != TSR_COL_STRING) {
    if (rows == NULL) {
      gb_wire_put(w, (const unsigned char *)c->values + (size_t)s * width, (uint64_t)n * width);
      return;
    }
    if (w->buf != NULL) {
      unsigned char *dst = w->buf + w->at;
      const unsigned char *src = c->values;
      switch (width) {
      case 8:
        for (int64_t i = 0; i < n; i++)
          memcpy(dst + 8 * i, src + 8 * (size_t)rows[i], 8);
        break;
      case 4:
        for (int64_t i = 0; i < n; i++)
          memcpy(dst + 4 * i, src + 4 * (size_t)rows[i], 4);
        break;
      default:
        for (int64_t i = 0; i < n; i++)
          memcpy(dst + width * (size_t)i, src + width * (size_t)rows[i], width);
        break;
      }
      memset(dst + (uint64_t)n * width, 0, pad8((uint64_t)n * width) - (uint64_t)n * width);
    }
    w->at += pad8((uint64_t)n * width);
    return;
  }
  const tsr_string_view *v = (const tsr_string_view *)c->values;
  uint64_t data = 0;
  for (int64_t i = 0; i < n; i++)
    if (v[ROW(i)].length > 12)
      data += v[ROW(i)].length;
  gb_wire_i64(w, (int64_t)data);
  if (w->buf != NULL) {
    tsr_string_view *out = (tsr_string_view *)(w->buf + w->at);
    char *bytes = (char *)w->buf + w->at + (uint64_t)n * sizeof *out;
    uint64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
      const tsr_string_view *x = &v[ROW(i)];
      out[i] = *x;
      if (x->length > 12) {
        memcpy(bytes + at, c->data + x->u.ref.offset, x->length);
        out[i].u.ref.offset = (uint32_t)at;
        at += x->length;
      }
    }
    memset(bytes + at, 0, pad8(data) - data);
  }
  w->at += (uint64_t)n * sizeof *v + pad8(data);
#undef ROW
}

void gb_wire_col(gb_wire *w, tsr_type type, const tsr__colread *c, int64_t s, int64_t n) {
  wire_col(w, type, c, s, NULL, n);
}

uint64_t gb_wire_col_reserve(gb_wire *w, tsr_type type, int64_t n) {
  uint64_t bytes = (uint64_t)n * tsr_type_width(type);
  gb_wire_i64(w, n);
  gb_wire_i64(w, 0); /* no nulls */
  uint64_t at = w->at;
  if (w->buf != NULL)
    memset(w->buf + at + bytes, 0, pad8(bytes) - bytes);
  w->at += pad8(bytes);
  return at;
}

void gb_wire_col_rows(gb_wire *w, tsr_type type, const tsr__colread *c, const int32_t *rows,
                      int64_t n) {
  wire_col(w, type, c, 0, rows, n);
}

/* Value i of the numbers a list carries: v64[i], or with v32 the
 * zigzag-coded difference v32[i] - v32[i - 1] (v32[-1] = 0). */
static uint64_t number_at(const int64_t *v64, const int32_t *v32, int64_t i) {
  if (v32 == NULL)
    return (uint64_t)v64[i];
  int64_t d = (int64_t)v32[i] - (i > 0 ? v32[i - 1] : 0);
  return d >= 0 ? (uint64_t)d << 1 : ((uint64_t)(-d) << 1) - 1;
}

/* The fast loops move 8 bytes at a time, low byte first. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WORDS_LITTLE_ENDIAN 1
#else
#define WORDS_LITTLE_ENDIAN 0
#endif

/* A list of n numbers: its width k (0 to 8: the fewest bytes that hold the
 * largest), then each number in k bytes, low byte first.  One pass finds k
 * (the bytes of the numbers' bitwise or) and one writes: overlapping 8-byte
 * stores, the last ones byte by byte so nothing is written past the list. */
static void put_packed(gb_wire *w, const int64_t *v64, const int32_t *v32, int64_t n) {
  uint64_t all = 0;
  for (int64_t i = 0; i < n; i++)
    all |= number_at(v64, v32, i);
  unsigned k = 0;
  for (; all != 0; all >>= 8)
    k++;
  gb_wire_i64(w, k);
  uint64_t bytes = (uint64_t)n * k, room = pad8(bytes);
  if (w->buf != NULL && k > 0) {
    unsigned char *o = w->buf + w->at;
    int64_t i = 0;
    for (; WORDS_LITTLE_ENDIAN && i < n && (uint64_t)i * k + 8 <= room; i++) {
      uint64_t x = number_at(v64, v32, i);
      memcpy(o + (uint64_t)i * k, &x, 8);
    }
    for (; i < n; i++) {
      uint64_t x = number_at(v64, v32, i);
      for (unsigned b = 0; b < k; b++)
        o[(uint64_t)i * k + b] = (unsigned char)(x >> (8 * b));
    }
    memset(o + bytes, 0, room - bytes);
  }
  w->at += room;
}

void gb_wire_counts(gb_wire *w, const int64_t *v, int64_t n) { put_packed(w, v, NULL, n); }

void gb_wire_deltas(gb_wire *w, const int32_t *v, int64_t n) { put_packed(w, NULL, v, n); }

tsr_status gb_wire_get_deltas(gb_wire *r, int32_t *v, int64_t n, int64_t *scratch) {
  TSR_TRY(gb_wire_get_counts(r, scratch, n));
  int64_t x = 0;
  for (int64_t i = 0; i < n; i++) {
    uint64_t z = (uint64_t)scratch[i];
    x += z & 1 ? -(int64_t)((z + 1) >> 1) : (int64_t)(z >> 1);
    TSR_CHECK(x >= INT32_MIN && x <= INT32_MAX, TSR_EMPI, "%s: malformed numbers from another rank",
              fn);
    v[i] = (int32_t)x;
  }
  return TSR_OK;
}

tsr_status gb_wire_get_counts(gb_wire *r, int64_t *v, int64_t n) {
  int64_t k = 0;
  TSR_TRY(gb_wire_get_i64(r, &k));
  TSR_CHECK(k >= 0 && k <= 8 && n >= 0 && n <= INT32_MAX, TSR_EMPI,
            "%s: malformed numbers from another rank", fn);
  uint64_t bytes = (uint64_t)n * (uint64_t)k, room = pad8(bytes);
  TSR_CHECK(r->at <= r->end && room <= r->end - r->at, TSR_EMPI,
            "%s: a message from another rank is shorter than its contents say", fn);
  const unsigned char *p = r->buf + r->at;
  uint64_t mask = k == 8 ? UINT64_MAX : ((uint64_t)1 << (8 * k)) - 1, all = 0;
  int64_t i = 0;
  for (; WORDS_LITTLE_ENDIAN && k > 0 && i < n && (uint64_t)i * k + 8 <= room; i++) {
    uint64_t x;
    memcpy(&x, p + (uint64_t)i * k, 8);
    v[i] = (int64_t)(x & mask);
    all |= x & mask;
  }
  for (; i < n; i++) {
    uint64_t x = 0;
    for (int64_t b = 0; b < k; b++)
      x |= (uint64_t)p[(uint64_t)i * k + b] << (8 * b);
    v[i] = (int64_t)x;
    all |= x;
  }
  TSR_CHECK(all <= (uint64_t)INT64_MAX, TSR_EMPI, "%s: malformed numbers from another rank", fn);
  r->at += room;
  return TSR_OK;
}

tsr_status gb_wire_view_col(gb_wire *r, tsr_type type, gb_col *out) {
  memset(out, 0, sizeof *out);
  out->type = type;
  out->borrowed = true;
  int64_t n = 0, nulls = 0, data = 0;
  TSR_TRY(gb_wire_get_i64(r, &n));
  TSR_TRY(gb_wire_get_i64(r, &nulls));
  TSR_CHECK(n >= 0 && n < INT32_MAX && nulls >= 0 && nulls <= n, TSR_EMPI,
            "%s: a column slice from another rank has %lld rows and %lld nulls", fn, (long long)n,
            (long long)nulls);
  size_t width = tsr_type_width(type);
  if (nulls > 0) {
    out->validity = r->buf + r->at;
    TSR_TRY(gb_wire_get(r, NULL, (uint64_t)(n + 7) / 8));
  }
  if (type.id == TSR_COL_STRING)
    TSR_TRY(gb_wire_get_i64(r, &data));
  out->values = r->buf + r->at;
  TSR_TRY(gb_wire_get(r, NULL, (uint64_t)n * width));
  if (type.id == TSR_COL_STRING) {
    TSR_CHECK(data >= 0 && data < UINT32_MAX, TSR_EMPI,
              "%s: a string slice from another rank has %lld data bytes", fn, (long long)data);
    out->data = (char *)r->buf + r->at;
    TSR_TRY(gb_wire_get(r, NULL, (uint64_t)data));
    out->data_bytes = (size_t)data;
    const tsr_string_view *v = out->values;
    for (int64_t i = 0; i < n; i++)
      TSR_CHECK(v[i].length <= 12 || (uint64_t)v[i].u.ref.offset + v[i].length <= (uint64_t)data,
                TSR_EMPI, "%s: a string from another rank points past its data", fn);
  }
  out->n = n;
  out->nulls = nulls;
  return TSR_OK;
}

/* ---- partial states ----------------------------------------------------------- */

/* Which of a state's arrays travel: the ones the merge and the result read
 * (row, the rows of string min/max values within the part, is used by the
 * part's own task only). */
enum {
  W_COUNT = 1 << 0,
  W_ISUM = 1 << 1,
  W_WSUM = 1 << 2,
  W_FSUM = 1 << 3,
  W_MEAN2 = 1 << 4,
  W_M2 = 1 << 5,
  W_M2Y = 1 << 6,
  W_CXY = 1 << 7,
  W_IMIN = 1 << 8,
  W_FMIN = 1 << 9,
  W_GCOUNT = 1 << 10, /* borrows the part's row counts */
  W_VALS = 1 << 11,
};

#define STATE_ARRAYS(X)      \
  X(W_COUNT, count, int64_t) \
  X(W_ISUM, isum, int64_t)   \
  X(W_WSUM, wsum, gb_i128)   \
  X(W_FSUM, fsum, double)    \
  X(W_MEAN2, mean2, double)  \
  X(W_M2, m2, double)        \
  X(W_M2Y, m2y, double)      \
  X(W_CXY, cxy, double)      \
  X(W_IMIN, imin, int64_t)   \
  X(W_FMIN, fmin, double)

/* Whether gb_wire_read_state leaves an array of T where it lies in the
 * message (aligned to 8 bytes), rather than copying it out. */
#define READ_IN_PLACE(T) (_Alignof(T) <= 8)

void gb_state_free_arrays(tsr_ctx *ctx, gb_state *s) {
#define FREE(BIT, F, T)                    \
  if (!s->in_message || !READ_IN_PLACE(T)) \
    tsr_free(ctx, s->F);
  STATE_ARRAYS(FREE)
#undef FREE
}

void gb_wire_state(gb_wire *w, const gb_agg *a, const gb_state *s, int64_t start, int64_t n) {
  int64_t mask = 0;
#define MASK(BIT, F, T) \
  if (s->F != NULL)     \
    mask |= BIT;
  STATE_ARRAYS(MASK)
#undef MASK
  if (s->gcount != NULL)
    mask |= W_GCOUNT;
  if (s->vals.values != NULL)
    mask |= W_VALS;
  gb_wire_i64(w, mask);
#define PUT(BIT, F, T) \
  if (s->F != NULL)    \
    gb_wire_put(w, s->F + start, (uint64_t)n * sizeof(T));
  STATE_ARRAYS(PUT)
#undef PUT
  if (s->vals.values != NULL) {
    tsr__colread c;
    gb_col_read(&s->vals, &c);
    gb_wire_col(w, a->in_type, &c, start, n);
  }
}

tsr_status gb_wire_read_state(tsr_ctx *ctx, gb_wire *r, const gb_agg *a, int64_t n,
                              const int64_t *gcount, gb_state *out) {
  memset(out, 0, sizeof *out);
  out->n = n;
  out->in_message = true;
  int64_t mask = 0;
  tsr_status st = TSR_OK;
  TSR_TRY(gb_wire_get_i64(r, &mask));
#define GET(BIT, F, T)                                                                \
  if ((mask & BIT) && READ_IN_PLACE(T)) { /* where it lies */                         \
    out->F = (T *)(r->buf + r->at);                                                   \
    TSR__TRY_GOTO(st, gb_wire_get(r, NULL, (uint64_t)n * sizeof(T)));                 \
  } else if (mask & BIT) { /* (n values copied over: only the spare one zeroed) */    \
    TSR__TRY_GOTO(st, tsr_alloc(ctx, ((size_t)n + 1) * sizeof(T), (void **)&out->F)); \
    memset(out->F + n, 0, sizeof(T));                                                 \
    TSR__TRY_GOTO(st, gb_wire_get(r, out->F, (uint64_t)n * sizeof(T)));               \
  }
  STATE_ARRAYS(GET)
#undef GET
  if (mask & W_GCOUNT)
    out->gcount = gcount;
  if (mask & W_VALS)
    TSR__TRY_GOTO(st, gb_wire_view_col(r, a->in_type, &out->vals));
  return TSR_OK;
fail:
  gb_state_free(ctx, out);
  return st;
}

/* The bytes of the arrays gb_wire_state sends for n groups (without its
 * mask, padding and string data): what the shuffle must move at least. */
uint64_t gb_wire_state_bytes(const gb_agg *a, const gb_state *s, int64_t n) {
  uint64_t b = 0;
#define SIZE(BIT, F, T) \
  if (s->F != NULL)     \
    b += (uint64_t)n * sizeof(T);
  STATE_ARRAYS(SIZE)
#undef SIZE
  if (s->vals.values != NULL)
    b += (uint64_t)n * tsr_type_width(a->in_type);
  return b;
}
