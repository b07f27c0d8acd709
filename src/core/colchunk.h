/* colchunk.h — the memory layout of a frame's row chunk (docs/frames.md,
 * "Chunks"): what every frame task outputs, what the CSV parser writes
 * (io/) and what the frame operations read and write (frame/).
 *
 * A *table chunk* is one task's output buffer: a header, then one *column
 * chunk* per column, each 64-byte aligned.  A column chunk is a header,
 * then its values (rows_cap x width bytes), its validity bitmap (Arrow's:
 * bit i of byte i / 8, least significant first, 1 = valid; (rows_cap + 7) /
 * 8 bytes, read only when null_count > 0), then, for strings, the data
 * buffer long string views point into (data_cap bytes, data_bytes used).
 *
 * Capacities are fixed when the task is added (a filter's output has its
 * input's row capacity); `rows` says how many rows the chunk really holds.
 * Offsets are from the start of the buffer, never pointers, so a chunk is
 * self-contained: it spills and crosses ranks as it is. */
#ifndef TSR_CORE_COLCHUNK_H
#define TSR_CORE_COLCHUNK_H

#include <string.h>

#include <tessera/frame.h>

#include "core_impl.h"

#define TSR__TABLE_MAGIC 0x54534654u /* "TFST" */

typedef struct tsr__colchunk {
  int64_t rows;
  int64_t rows_cap;
  int64_t null_count; /* the bitmap is meaningful only when > 0 */
  uint64_t values_off; /* from the column chunk's start */
  uint64_t validity_off;
  uint64_t data_off;
  uint64_t data_bytes; /* used */
  uint64_t data_cap;
} tsr__colchunk; /* 64 bytes */

typedef struct tsr__tablechunk {
  uint32_t magic;
  uint32_t ncols;
  uint64_t bytes;     /* the whole buffer */
  uint64_t col_off[]; /* ncols offsets of the column chunks from the buffer's start */
} tsr__tablechunk;

static inline uint64_t tsr__align64(uint64_t n) { return (n + 63) & ~(uint64_t)63; }

/* Bytes of one column chunk of width-byte values; false on overflow. */
static inline bool tsr__colchunk_bytes(size_t width, int64_t rows_cap, int64_t data_cap,
                                       uint64_t *out) {
  uint64_t v;
  if (rows_cap < 0 || data_cap < 0 || !tsr__mul_u64((uint64_t)rows_cap, width, &v) ||
      v > (UINT64_C(1) << 60) || (uint64_t)data_cap > (UINT64_C(1) << 60))
    return false;
  *out = tsr__align64(sizeof(tsr__colchunk)) + tsr__align64(v) +
         tsr__align64(((uint64_t)rows_cap + 7) / 8) + tsr__align64((uint64_t)data_cap);
  return true;
}

/* Bytes of the table chunk's header for ncols columns. */
static inline uint64_t tsr__tablechunk_header_bytes(uint32_t ncols) {
  return tsr__align64(sizeof(tsr__tablechunk) + (uint64_t)ncols * sizeof(uint64_t));
}

/* Initialises column chunk `c` (at a 64-aligned address) for rows_cap
 * values of `width` bytes and data_cap data bytes: rows 0, no nulls. */
static inline void tsr__colchunk_init(tsr__colchunk *c, size_t width, int64_t rows_cap,
                                      int64_t data_cap) {
  c->rows = 0;
  c->rows_cap = rows_cap;
  c->null_count = 0;
  c->values_off = tsr__align64(sizeof(tsr__colchunk));
  c->validity_off = c->values_off + tsr__align64((uint64_t)rows_cap * width);
  c->data_off = c->validity_off + tsr__align64(((uint64_t)rows_cap + 7) / 8);
  c->data_bytes = 0;
  c->data_cap = (uint64_t)data_cap;
}

static inline void *tsr__colchunk_values(tsr__colchunk *c) {
  return (unsigned char *)c + c->values_off;
}
static inline uint8_t *tsr__colchunk_validity(tsr__colchunk *c) {
  return (uint8_t *)c + c->validity_off;
}
static inline char *tsr__colchunk_data(tsr__colchunk *c) { return (char *)c + c->data_off; }

/* Column chunk `col` of a table chunk. */
static inline tsr__colchunk *tsr__tablechunk_col(const void *table, uint32_t col) {
  const tsr__tablechunk *t = (const tsr__tablechunk *)table;
  return (tsr__colchunk *)((unsigned char *)table + t->col_off[col]);
}

/* Lays out a table chunk of ncols columns in `buf` (exactly `bytes` bytes,
 * as tsr__tablechunk_bytes computed): widths[i], rows_cap, data_caps[i]
 * (NULL: none). */
static inline void tsr__tablechunk_init(void *buf, uint64_t bytes, uint32_t ncols,
                                        const size_t *widths, int64_t rows_cap,
                                        const int64_t *data_caps) {
  tsr__tablechunk *t = (tsr__tablechunk *)buf;
  t->magic = TSR__TABLE_MAGIC;
  t->ncols = ncols;
  t->bytes = bytes;
  uint64_t off = tsr__tablechunk_header_bytes(ncols);
  for (uint32_t i = 0; i < ncols; i++) {
    int64_t dc = data_caps ? data_caps[i] : 0;
    t->col_off[i] = off;
    tsr__colchunk_init((tsr__colchunk *)((unsigned char *)buf + off), widths[i], rows_cap, dc);
    uint64_t b = 0;
    (void)tsr__colchunk_bytes(widths[i], rows_cap, dc, &b);
    off += b;
  }
}

/* Bytes of such a table chunk; false on overflow. */
static inline bool tsr__tablechunk_bytes(uint32_t ncols, const size_t *widths, int64_t rows_cap,
                                         const int64_t *data_caps, uint64_t *out) {
  uint64_t total = tsr__tablechunk_header_bytes(ncols);
  for (uint32_t i = 0; i < ncols; i++) {
    uint64_t b;
    if (!tsr__colchunk_bytes(widths[i], rows_cap, data_caps ? data_caps[i] : 0, &b) ||
        __builtin_add_overflow(total, b, &total))
      return false;
  }
  *out = total;
  return true;
}

/* Validity bits. */
static inline bool tsr__bit_get(const uint8_t *bits, int64_t i) {
  return (bits[i >> 3] >> (i & 7)) & 1;
}
static inline void tsr__bit_set(uint8_t *bits, int64_t i, bool v) {
  uint8_t m = (uint8_t)(1u << (i & 7));
  bits[i >> 3] = v ? (uint8_t)(bits[i >> 3] | m) : (uint8_t)(bits[i >> 3] & ~m);
}

/* A string view for `len` bytes at `s`: inline when len <= 12, else the
 * bytes are appended to the chunk's data buffer (which must have room). */
static inline tsr_string_view tsr__view_make(tsr__colchunk *c, const char *s, uint32_t len) {
  tsr_string_view v;
  memset(&v, 0, sizeof v);
  v.length = len;
  if (len <= 12) {
    memcpy(v.u.inline_data, s, len);
  } else {
    memcpy(v.u.ref.prefix, s, 4);
    v.u.ref.buffer = 0;
    v.u.ref.offset = (uint32_t)c->data_bytes;
    memcpy(tsr__colchunk_data(c) + c->data_bytes, s, len);
    c->data_bytes += len;
  }
  return v;
}

/* One value of w bytes (a column type's width) copied: one load and store
 * for the usual widths, where a loop over rows would otherwise call
 * memcpy for every value. */
static inline void tsr__copy_value(void *dst, const void *src, size_t w) {
  switch (w) {
  case 8:
    memcpy(dst, src, 8);
    break;
  case 4:
    memcpy(dst, src, 4);
    break;
  case 16:
    memcpy(dst, src, 16);
    break;
  case 2:
    memcpy(dst, src, 2);
    break;
  case 1:
    memcpy(dst, src, 1);
    break;
  default:
    memcpy(dst, src, w);
    break;
  }
}

/* A short view (length <= 12) copied whole, the bytes past its string
 * zeroed as tsr__view_make leaves them (no call to copy a few bytes). */
static inline tsr_string_view tsr__view_copy_short(const tsr_string_view *v) {
  unsigned char b[sizeof *v];
  memcpy(b, v, sizeof b);
  for (unsigned k = 0; k < sizeof b; k++)
    b[k] = k < 4 + v->length ? b[k] : 0;
  tsr_string_view out;
  memcpy(&out, b, sizeof out);
  return out;
}

#endif /* TSR_CORE_COLCHUNK_H */
