/* csv_parse.c — parses one byte block of a CSV straight into a table chunk:
 * the block is read with pread into one buffer, tokenized a batch of
 * records at a time into field positions per column, then each column is
 * converted by a loop typed once per batch (no per-value allocation, no
 * per-row type dispatch).  Strings become views, dictionary strings codes
 * through a hash table of the column's dictionary. */
#include <errno.h>
#include <unistd.h>

#include "csv_impl.h"

tsr_status tsr__csv_dict_index(tsr_ctx *ctx, tsr__csv_col *col) {
  uint64_t cap = 16;
  while (cap < (uint64_t)col->dict_size * 2)
    cap *= 2;
  TSR_TRY(tsr_calloc(ctx, (size_t)cap, sizeof *col->dict_slots, (void **)&col->dict_slots));
  col->dict_mask = cap - 1;
  for (int64_t i = 0; i < col->dict_size; i++) {
    const char *s = col->dict_data + col->dict_offsets[i];
    size_t n = (size_t)(col->dict_offsets[i + 1] - col->dict_offsets[i]);
    csv_key k = csv_key_of(s, n, s + n);
    uint64_t h = k.hash & col->dict_mask;
    while (col->dict_slots[h].code1 != 0)
      h = (h + 1) & col->dict_mask;
    col->dict_slots[h] = (tsr__csv_dslot){k.a, k.b, k.hash, (uint32_t)n, (int32_t)(i + 1)};
  }
  return TSR_OK;
}

static inline int32_t dict_lookup(const tsr__csv_col *col, const char *s, size_t n,
                                  const char *end) {
  csv_key k = csv_key_of(s, n, end);
  uint64_t h = k.hash & col->dict_mask;
  for (;;) {
    const tsr__csv_dslot *d = &col->dict_slots[h];
    if (d->code1 == 0)
      return -1;
    if (d->hash == k.hash && d->len == n) {
      if (n <= 16 ? d->a == k.a && d->b == k.b
                  : memcmp(col->dict_data + col->dict_offsets[d->code1 - 1], s, n) == 0)
        return d->code1 - 1;
    }
    h = (h + 1) & col->dict_mask;
  }
}

tsr_status tsr__csv_read_range(int fd, const char *path, int64_t off, size_t len, char *buf) {
  int e = tsr__pread_full(fd, buf, len, (uint64_t)off);
  TSR_CHECK(e == 0, TSR_EIO, "%s: read failed at bytes %lld to %lld: %s", path, (long long)off,
            (long long)(off + (int64_t)len), e > 0 ? strerror(e) : "the file shrank");
  return TSR_OK;
}

typedef struct parse_state {
  const tsr__csv_format *fmt;
  const char *buf;
  const char *end; /* the block's end: what key loads may read up to */
  const csv_batch *b;
  int64_t row; /* output row of the batch's first record */
  uint8_t *bad;
  bool anybad;
  bool strict; /* the fused load: a value that does not parse sets failed */
  bool failed;
} parse_state;

#define SET_NULL()                                                  \
  do {                                                              \
    validity[(row + r) >> 3] &= (uint8_t) ~(1u << ((row + r) & 7)); \
    nulls++;                                                        \
  } while (0)

#define FAIL()                                      \
  do {                                              \
    if (st->strict) {                               \
      st->failed = true;                            \
    } else if (fmt->bad_rows == TSR_CSV_BAD_SKIP) { \
      st->bad[r] = 1;                               \
      st->anybad = true;                            \
    } else {                                        \
      SET_NULL();                                   \
    }                                               \
  } while (0)

#define NUM_LOOP(T, DECL, PARSE, STORE)                               \
  do {                                                                \
    T *out = (T *)tsr__colchunk_values(c) + row;                      \
    for (int r = 0; r < n; r++) {                                     \
      uint32_t L = blen[r];                                           \
      const char *s = buf + bstart[r];                                \
      DECL;                                                           \
      if (__builtin_expect((L & (CSV_QUOTED | CSV_LENMASK)) == 0 ||   \
                               (spellings && csv_is_null(fmt, s, L)), \
                           0)) {                                      \
        out[r] = 0;                                                   \
        SET_NULL();                                                   \
        continue;                                                     \
      }                                                               \
      size_t len = L & CSV_LENMASK;                                   \
      if (__builtin_expect(!(PARSE), 0)) {                            \
        out[r] = 0;                                                   \
        FAIL();                                                       \
        continue;                                                     \
      }                                                               \
      STORE;                                                          \
    }                                                                 \
  } while (0)

/* Converts column ci of the batch. */
static tsr_status convert(parse_state *st, int ci, tsr__colchunk *c) {
  const tsr__csv_format *fmt = st->fmt;
  const tsr__csv_col *col = &fmt->cols[ci];
  const char *buf = st->buf;
  const uint32_t *bstart = st->b->start + (size_t)ci * CSV_STRIDE;
  const uint32_t *blen = st->b->len + (size_t)ci * CSV_STRIDE;
  const int n = st->b->n;
  const int64_t row = st->row;
  uint8_t *validity = tsr__colchunk_validity(c);
  int64_t nulls = 0;
  const char *bend = st->end;              /* what word loads may read up to */
  const bool spellings = fmt->n_nulls > 0; /* null spellings besides the empty field */
  switch (col->type.id) {
  case TSR_COL_BOOL:
    NUM_LOOP(uint8_t, uint8_t v = 0, csv_parse_bool(s, len, &v), out[r] = v);
    break;
  case TSR_COL_INT64:
    NUM_LOOP(int64_t, int64_t v = 0, csv_parse_i64_at(s, len, bend, &v), out[r] = v);
    break;
  case TSR_COL_INT32:
    NUM_LOOP(int32_t, int64_t v = 0,
             csv_parse_i64_at(s, len, bend, &v) && v >= INT32_MIN && v <= INT32_MAX,
             out[r] = (int32_t)v);
    break;
  case TSR_COL_INT16:
    NUM_LOOP(int16_t, int64_t v = 0,
             csv_parse_i64_at(s, len, bend, &v) && v >= INT16_MIN && v <= INT16_MAX,
             out[r] = (int16_t)v);
    break;
  case TSR_COL_INT8:
    NUM_LOOP(int8_t, int64_t v = 0,
             csv_parse_i64_at(s, len, bend, &v) && v >= INT8_MIN && v <= INT8_MAX,
             out[r] = (int8_t)v);
    break;
  case TSR_COL_UINT64:
    NUM_LOOP(uint64_t, uint64_t v = 0, csv_parse_u64(s, len, &v), out[r] = v);
    break;
  case TSR_COL_UINT32:
    NUM_LOOP(uint32_t, uint64_t v = 0, csv_parse_u64(s, len, &v) && v <= UINT32_MAX,
             out[r] = (uint32_t)v);
    break;
  case TSR_COL_UINT16:
    NUM_LOOP(uint16_t, uint64_t v = 0, csv_parse_u64(s, len, &v) && v <= UINT16_MAX,
             out[r] = (uint16_t)v);
    break;
  case TSR_COL_UINT8:
    NUM_LOOP(uint8_t, uint64_t v = 0, csv_parse_u64(s, len, &v) && v <= UINT8_MAX,
             out[r] = (uint8_t)v);
    break;
  case TSR_COL_FLOAT64:
    NUM_LOOP(double, double v = 0, csv_parse_f64_at(s, len, bend, &v), out[r] = v);
    break;
  case TSR_COL_FLOAT32:
    NUM_LOOP(float, double v = 0, csv_parse_f64(s, len, &v, false), {
      char stack[128];
      char *tmp = len < sizeof stack ? stack : malloc(len + 1);
      TSR_CHECK(tmp != NULL, TSR_ENOMEM, "%s: out of memory", fmt->path);
      memcpy(tmp, s, len);
      tmp[len] = '\0';
      out[r] = strtof(tmp, NULL);
      if (tmp != stack)
        free(tmp);
    });
    break;
  case TSR_COL_DATE:
    NUM_LOOP(int32_t, int32_t v = 0, csv_parse_date(s, len, &v), out[r] = v);
    break;
  case TSR_COL_TIMESTAMP:
    NUM_LOOP(int64_t, int64_t v = 0, csv_parse_timestamp(s, len, col->type.unit, &v), out[r] = v);
    break;
  case TSR_COL_STRING: {
    tsr_string_view *out = (tsr_string_view *)tsr__colchunk_values(c) + row;
    const bool fix = fmt->replace_utf8;
    for (int r = 0; r < n; r++) {
      uint32_t L = blen[r];
      const char *s = buf + bstart[r];
      if (csv_is_null(fmt, s, L)) {
        memset(&out[r], 0, sizeof out[r]);
        SET_NULL();
        continue;
      }
      size_t len = L & CSV_LENMASK;
      if (__builtin_expect(!(L & CSV_ESCAPED) && (!fix || csv_ascii(s, len)), 1)) {
        if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && len <= 12 && st->end - s >= 16) {
          /* inline, zero-padded, from two word loads (no call) */
          uint64_t a, b2;
          memcpy(&a, s, 8);
          memcpy(&b2, s + 8, 8);
          if (len < 8) {
            a &= len == 0 ? 0 : ~UINT64_C(0) >> (64 - 8 * len);
            b2 = 0;
          } else {
            b2 &= len == 8 ? 0 : ~UINT64_C(0) >> (64 - 8 * (len - 8));
          }
          uint64_t w[2] = {(uint64_t)len | (a << 32), (a >> 32) | (b2 << 32)};
          memcpy(&out[r], w, 16);
        } else {
          out[r] = tsr__view_make(c, s, (uint32_t)len);
        }
        continue;
      }
      size_t m = csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, NULL);
      if (m <= 12) {
        char tmp[16];
        csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, tmp);
        out[r] = tsr__view_make(c, tmp, (uint32_t)m);
      } else {
        TSR_CHECK(c->data_bytes + m <= c->data_cap, TSR_EIO,
                  "%s: the file changed while it was read (strings outgrow the scan's count)",
                  fmt->path);
        char *dst = tsr__colchunk_data(c) + c->data_bytes;
        csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, dst);
        tsr_string_view v;
        memset(&v, 0, sizeof v);
        v.length = (uint32_t)m;
        memcpy(v.u.ref.prefix, dst, 4);
        v.u.ref.offset = (uint32_t)c->data_bytes;
        c->data_bytes += m;
        out[r] = v;
      }
    }
    break;
  }
  case TSR_COL_DICT: {
    int32_t *out = (int32_t *)tsr__colchunk_values(c) + row;
    const bool fix = fmt->replace_utf8;
    for (int r = 0; r < n; r++) {
      uint32_t L = blen[r];
      const char *s = buf + bstart[r];
      if (csv_is_null(fmt, s, L)) {
        out[r] = 0;
        SET_NULL();
        continue;
      }
      size_t len = L & CSV_LENMASK;
      const char *end = st->end;
      char stack[256];
      char *tmp = NULL;
      if (__builtin_expect((L & CSV_ESCAPED) || (fix && !csv_ascii(s, len)), 0)) {
        size_t m = csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, NULL);
        tmp = m + 16 <= sizeof stack ? stack : malloc(m + 16);
        TSR_CHECK(tmp != NULL, TSR_ENOMEM, "%s: out of memory", fmt->path);
        len = csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, tmp);
        s = tmp;
        end = tmp + len + 16;
      }
      int32_t k = dict_lookup(col, s, len, end);
      if (tmp != NULL && tmp != stack)
        free(tmp);
      TSR_CHECK(k >= 0, TSR_EIO,
                "%s: the file changed while it was read (a value of column '%s' is not in its "
                "dictionary)",
                fmt->path, col->name);
      out[r] = k;
    }
    break;
  }
  default:
    return tsr_error_set(TSR_EINVAL, "%s: column '%s' has type %d, which CSV cannot read",
                         fmt->path, col->name, (int)col->type.id);
  }
  c->null_count += nulls;
  return TSR_OK;
}

/* Bytes of one value of a column of type t. */
static size_t value_width(tsr_coltype t) {
  switch (t) {
  case TSR_COL_BOOL:
  case TSR_COL_INT8:
  case TSR_COL_UINT8:
    return 1;
  case TSR_COL_INT16:
  case TSR_COL_UINT16:
    return 2;
  case TSR_COL_INT32:
  case TSR_COL_UINT32:
  case TSR_COL_FLOAT32:
  case TSR_COL_DATE:
  case TSR_COL_DICT:
    return 4;
  case TSR_COL_STRING:
    return sizeof(tsr_string_view);
  default:
    return 8;
  }
}

/* Drops the batch's bad rows (SKIP) from every column. */
static void compact(parse_state *st, void *table) {
  const tsr__csv_format *fmt = st->fmt;
  int n = st->b->n;
  for (int ci = 0; ci < fmt->ncols; ci++) {
    tsr__colchunk *c = tsr__tablechunk_col(table, (uint32_t)ci);
    size_t w = value_width(fmt->cols[ci].type.id);
    unsigned char *v = tsr__colchunk_values(c);
    uint8_t *bits = tsr__colchunk_validity(c);
    int64_t dst = st->row;
    for (int r = 0; r < n; r++) {
      int64_t src = st->row + r;
      bool valid = tsr__bit_get(bits, src);
      if (st->bad[r]) {
        if (!valid)
          c->null_count--;
        continue;
      }
      if (dst != src) {
        memmove(v + (size_t)dst * w, v + (size_t)src * w, w);
        tsr__bit_set(bits, dst, valid);
      }
      dst++;
    }
    for (int64_t i = dst; i < st->row + n; i++)
      tsr__bit_set(bits, i, true);
  }
}

tsr_status tsr__csv_parse_block(tsr_ctx *ctx, int fd, const tsr__csv_format *fmt,
                                const tsr__csv_block *block, void *table) {
  size_t len = (size_t)(block->end - block->start);
  const char *buf = NULL;
  uint32_t *pos = NULL;
  int *fieldcol = NULL;
  csv_batch *b = NULL;
  tsr_status status = TSR_OK;
  csv_input in;
  memset(&in, 0, sizeof in);
  TSR__TRY_GOTO(status, csv_input_open(ctx, fd, fmt->path, block->start, len, true, &in));
  buf = in.p;
  TSR__TRY_GOTO(status, tsr_kernel_alloc(ctx, (size_t)fmt->nfields * sizeof(int) + sizeof(int),
                                         (void **)&fieldcol));
  for (int f = 0; f < fmt->nfields; f++)
    fieldcol[f] = -1;
  for (int i = 0; i < fmt->ncols; i++)
    fieldcol[fmt->cols[i].field] = i;
  TSR__TRY_GOTO(status, tsr_kernel_alloc(ctx, sizeof *b, (void **)&b));
  TSR__TRY_GOTO(status,
                tsr_kernel_alloc(ctx, 2 * (size_t)(fmt->ncols + 1) * CSV_STRIDE * sizeof(uint32_t),
                                 (void **)&pos));
  b->start = pos;
  b->len = pos + (size_t)(fmt->ncols + 1) * CSV_STRIDE;
  for (int ci = 0; ci < fmt->ncols; ci++) {
    tsr__colchunk *c = tsr__tablechunk_col(table, (uint32_t)ci);
    memset(tsr__colchunk_validity(c), 0xFF, ((size_t)c->rows_cap + 7) / 8);
  }
  csv_tok tok;
  csv_tok_init(&tok, fmt, fieldcol);
  const char *p = buf, *end = buf + len;
  uint8_t bad[CSV_BATCH];
  parse_state st = {fmt, buf, buf + len, b, 0, bad, false, false, false};
  int64_t cap = fmt->ncols > 0 ? tsr__tablechunk_col(table, 0)->rows_cap : 0;
  while (p < end) {
    csv_tokerr err;
    TSR__CHECK_GOTO(status, csv_tokenize(&tok, buf, &p, end, b, &err) == 0, TSR_EIO,
                    "%s: the file changed while it was read (a quote error at byte %lld)",
                    fmt->path, (long long)(block->start + err.pos));
    if (b->n == 0)
      break;
    st.anybad = false;
    if (fmt->bad_rows == TSR_CSV_BAD_SKIP) {
      memset(bad, 0, (size_t)b->n);
      for (int r = 0; r < b->n; r++)
        if (b->nf[r] != fmt->nfields) {
          bad[r] = 1;
          st.anybad = true;
        }
    }
    TSR__CHECK_GOTO(status, st.row + b->n <= cap || fmt->ncols == 0, TSR_EIO,
                    "%s: the file changed while it was read (more rows)", fmt->path);
    for (int ci = 0; ci < fmt->ncols; ci++)
      TSR__TRY_GOTO(status, convert(&st, ci, tsr__tablechunk_col(table, (uint32_t)ci)));
    int kept = b->n;
    if (st.anybad) {
      compact(&st, table);
      kept = 0;
      for (int r = 0; r < b->n; r++)
        kept += !bad[r];
    }
    st.row += kept;
  }
  TSR__CHECK_GOTO(status, st.row == block->rows, TSR_EIO,
                  "%s: the file changed while it was read (%lld rows in a block of %lld)",
                  fmt->path, (long long)st.row, (long long)block->rows);
  for (int ci = 0; ci < fmt->ncols; ci++)
    tsr__tablechunk_col(table, (uint32_t)ci)->rows = st.row;
fail:
  csv_input_close(ctx, &in);
  tsr_free(ctx, fieldcol);
  tsr_free(ctx, b);
  tsr_free(ctx, pos);
  return status;
}

/* ---- the fused load's block parse ------------------------------------------------------ */

/* Checks UTF-8 and counts the bytes of long strings of column ci of the
 * batch from row r0 on (a column to be parsed again later).  false: invalid
 * UTF-8 (left to the scan, which reports it). */
static bool count_long(parse_state *st, int ci, int r0, int64_t *bytes) {
  const tsr__csv_format *fmt = st->fmt;
  const uint32_t *bstart = st->b->start + (size_t)ci * CSV_STRIDE;
  const uint32_t *blen = st->b->len + (size_t)ci * CSV_STRIDE;
  const bool fix = fmt->replace_utf8;
  for (int r = r0; r < st->b->n; r++) {
    uint32_t L = blen[r];
    const char *s = st->buf + bstart[r];
    size_t len = L & CSV_LENMASK;
    if (L & CSV_MISSING)
      continue;
    if (!fix && csv_utf8_invalid(s, len) >= 0)
      return false;
    if (len > 12 || (fix && len > 4)) {
      if ((L & CSV_ESCAPED) || fix)
        len = csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, NULL);
      *bytes += len > 12 ? (int64_t)len : 0;
    }
  }
  return true;
}

/* Column ci of the batch as string views held inline (<= 12 bytes); a
 * longer one sets redo.  false: invalid UTF-8. */
static bool views_inline(parse_state *st, int ci, tsr__colchunk *c, csv_lblock *lb) {
  const tsr__csv_format *fmt = st->fmt;
  const char *buf = st->buf;
  const uint32_t *bstart = st->b->start + (size_t)ci * CSV_STRIDE;
  const uint32_t *blen = st->b->len + (size_t)ci * CSV_STRIDE;
  const int n = st->b->n;
  const int64_t row = st->row;
  const bool fix = fmt->replace_utf8;
  uint8_t *validity = tsr__colchunk_validity(c);
  tsr_string_view *out = (tsr_string_view *)tsr__colchunk_values(c) + row;
  int64_t nulls = 0;
  int r = 0;
  for (; r < n; r++) {
    uint32_t L = blen[r];
    const char *s = buf + bstart[r];
    if (csv_is_null(fmt, s, L)) {
      memset(&out[r], 0, sizeof out[r]);
      SET_NULL();
      continue;
    }
    size_t len = L & CSV_LENMASK;
    if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && len <= 12 && !(L & CSV_ESCAPED) &&
        st->end - s >= 16) {
      /* inline, zero-padded, from two word loads that also tell ASCII */
      uint64_t a, b2;
      memcpy(&a, s, 8);
      memcpy(&b2, s + 8, 8);
      if (len < 8) {
        a &= len == 0 ? 0 : ~UINT64_C(0) >> (64 - 8 * len);
        b2 = 0;
      } else {
        b2 &= len == 8 ? 0 : ~UINT64_C(0) >> (64 - 8 * (len - 8));
      }
      if (__builtin_expect(((a | b2) & UINT64_C(0x8080808080808080)) == 0, 1)) {
        uint64_t w[2] = {(uint64_t)len | (a << 32), (a >> 32) | (b2 << 32)};
        memcpy(&out[r], w, 16);
        continue;
      }
    }
    bool ascii = csv_ascii(s, len);
    if (!ascii && !fix && csv_utf8_invalid(s, len) >= 0)
      return false;
    if (!(L & CSV_ESCAPED) && (ascii || !fix)) {
      if (len > 12 && c->data_bytes + len > c->data_cap)
        break;
      out[r] = tsr__view_make(c, s, (uint32_t)len);
      continue;
    }
    size_t m = csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, NULL);
    if (m <= 12) {
      char tmp[16];
      csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, tmp);
      out[r] = tsr__view_make(c, tmp, (uint32_t)m);
      continue;
    }
    if (c->data_bytes + m > c->data_cap)
      break; /* replacements made it longer than the block's bytes */
    char *dst = tsr__colchunk_data(c) + c->data_bytes;
    csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, dst);
    tsr_string_view v;
    memset(&v, 0, sizeof v);
    v.length = (uint32_t)m;
    memcpy(v.u.ref.prefix, dst, 4);
    v.u.ref.offset = (uint32_t)c->data_bytes;
    c->data_bytes += m;
    out[r] = v;
  }
  c->null_count += nulls;
  if (r < n) {
    lb->redo[ci] = 1;
    lb->data_bytes[ci] = (int64_t)c->data_bytes;
    return count_long(st, ci, r, &lb->data_bytes[ci]);
  }
  return true;
}

/* Column ci of the batch as entry numbers of the block's own dictionary;
 * past its limit, redo.  false: invalid UTF-8 or a failed allocation. */
static bool codes_local(tsr_ctx *ctx, parse_state *st, int ci, tsr__colchunk *c, csv_lblock *lb) {
  const tsr__csv_format *fmt = st->fmt;
  const char *buf = st->buf;
  const uint32_t *bstart = st->b->start + (size_t)ci * CSV_STRIDE;
  const uint32_t *blen = st->b->len + (size_t)ci * CSV_STRIDE;
  const int n = st->b->n;
  const int64_t row = st->row;
  const bool fix = fmt->replace_utf8;
  uint8_t *validity = tsr__colchunk_validity(c);
  int32_t *out = (int32_t *)tsr__colchunk_values(c) + row;
  csv_strset *set = &lb->sets[ci];
  const int64_t limit = lb->limit[ci];
  int64_t nulls = 0, bytes = 0;
  int r = 0;
  bool ok = true;
  for (; r < n; r++) {
    uint32_t L = blen[r];
    const char *s = buf + bstart[r];
    if (csv_is_null(fmt, s, L)) {
      out[r] = 0;
      SET_NULL();
      continue;
    }
    size_t len = L & CSV_LENMASK;
    const char *end = st->end;
    char stack[256];
    char *tmp = NULL;
    csv_key k = csv_key_of(s, len, end);
    bool ascii = len <= 16 ? ((k.a | k.b) & UINT64_C(0x8080808080808080)) == 0 : csv_ascii(s, len);
    if (!ascii && !fix && csv_utf8_invalid(s, len) >= 0) {
      ok = false;
      break;
    }
    if (__builtin_expect((L & CSV_ESCAPED) || (fix && !ascii), 0)) {
      size_t m = csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, NULL);
      tmp = m + 16 <= sizeof stack ? stack : malloc(m + 16);
      if (tmp == NULL) {
        ok = false;
        break;
      }
      len = csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fix, fmt->quote, tmp);
      s = tmp;
      end = tmp + len + 16;
      k = csv_key_of(s, len, end);
    }
    bytes += len > 12 ? (int64_t)len : 0;
    int64_t idx = 0;
    tsr_status s2 = tsr__csv_strset_add(ctx, set, s, len, &k, &idx);
    if (tmp != NULL && tmp != stack)
      free(tmp);
    if (s2 != TSR_OK || set->n > limit) {
      if (s2 != TSR_OK) {
        ok = false;
        break;
      }
      lb->redo[ci] = 1;
      tsr__csv_strset_free(ctx, set);
      lb->data_bytes[ci] += bytes;
      c->null_count += nulls;
      return count_long(st, ci, r + 1, &lb->data_bytes[ci]);
    }
    out[r] = (int32_t)idx;
  }
  c->null_count += nulls;
  lb->data_bytes[ci] += bytes;
  return ok;
}

/* Records in buf[0, len): its newlines, and one more when it does not end
 * in one (an upper bound: blank lines and quoted newlines count too). */
static int64_t record_bound(const char *buf, size_t len) {
  int64_t k = 0;
  size_t i = 0;
#ifdef __SSE2__
  /* per byte lane, 0 - (newlines seen) in up to 255 steps, then summed */
  const __m128i vn = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
  while (i + 16 <= len) {
    __m128i acc = zero;
    for (int step = 0; step < 255 && i + 16 <= len; step++, i += 16)
      acc = _mm_add_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(buf + i)), vn));
    __m128i sad = _mm_sad_epu8(_mm_sub_epi8(zero, acc), zero);
    k += _mm_cvtsi128_si32(sad) + _mm_extract_epi16(sad, 4);
  }
#endif
  for (; i < len; i++)
    k += buf[i] == '\n';
  return k + (len > 0 && buf[len - 1] != '\n');
}

tsr_status tsr__csv_load_block(tsr_ctx *ctx, int fd, const tsr__csv_format *fmt,
                               const int *fieldcol, const tsr__csv_block *block, csv_lblock *lb) {
  size_t len = (size_t)(block->end - block->start);
  const int ncols = fmt->ncols;
  uint32_t *pos = NULL;
  csv_batch *b = NULL;
  size_t *widths = NULL;
  int64_t *dcap = NULL;
  tsr_status status = TSR_OK;
  csv_input in;
  memset(&in, 0, sizeof in);
  lb->chunk = NULL;
  lb->rows = 0;
  TSR__TRY_GOTO(status, csv_input_open(ctx, fd, fmt->path, block->start, len, false, &in));
  const char *buf = in.p;
  int64_t cap = record_bound(buf, len);
  TSR__TRY_GOTO(status, tsr_alloc(ctx, ((size_t)ncols + 1) * sizeof *widths, (void **)&widths));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, ((size_t)ncols + 1) * sizeof *dcap, (void **)&dcap));
  for (int ci = 0; ci < ncols; ci++) {
    widths[ci] = value_width(lb->repr[ci]);
    /* a string column's long strings fit in the block's bytes (their pages
     * are touched only as they fill; the capacity is cut to the bytes used) */
    dcap[ci] = lb->repr[ci] == TSR_COL_STRING ? (int64_t)len : 0;
  }
  uint64_t bytes;
  TSR__CHECK_GOTO(status, tsr__tablechunk_bytes((uint32_t)ncols, widths, cap, dcap, &bytes),
                  TSR_ENOMEM, "%s: a block's chunk is too large", fmt->path);
  /* a large chunk is asked for in whole huge pages (with the allocator's
   * 64-byte header): a partial last one would fault in 4 KiB pages */
  uint64_t ask = bytes;
  if (bytes >= (UINT64_C(4) << 20))
    ask = (bytes + 64 + (UINT64_C(2) << 20) - 1) / (UINT64_C(2) << 20) * (UINT64_C(2) << 20) - 64;
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)ask, &lb->chunk));
  lb->bytes = (size_t)bytes;
  tsr__tablechunk_init(lb->chunk, bytes, (uint32_t)ncols, widths, cap, dcap);
  for (int ci = 0; ci < ncols; ci++)
    memset(tsr__colchunk_validity(tsr__tablechunk_col(lb->chunk, (uint32_t)ci)), 0xFF,
           ((size_t)cap + 7) / 8);
  TSR__TRY_GOTO(status, tsr_alloc(ctx, sizeof *b, (void **)&b));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, 2 * (size_t)(ncols + 1) * CSV_STRIDE * sizeof(uint32_t),
                                  (void **)&pos));
  b->start = pos;
  b->len = pos + (size_t)(ncols + 1) * CSV_STRIDE;
  csv_tok tok;
  csv_tok_init(&tok, fmt, fieldcol);
  const char *p = buf, *end = buf + len;
  parse_state st = {fmt, buf, end, b, 0, NULL, false, true, false};
  while (p < end && !lb->fallback) {
    csv_tokerr err;
    if (csv_tokenize(&tok, buf, &p, end, b, &err) != 0) {
      lb->fallback = true;
      break;
    }
    const int n = b->n;
    if (n == 0)
      break;
    for (int r = 0; r < n; r++)
      if (b->nf[r] != fmt->nfields)
        lb->fallback = true;
    if (lb->fallback || st.row + n > cap) {
      lb->fallback = true;
      break;
    }
    for (int ci = 0; ci < ncols && !lb->fallback; ci++) {
      tsr__colchunk *c = tsr__tablechunk_col(lb->chunk, (uint32_t)ci);
      switch (lb->repr[ci]) {
      case TSR_COL_DICT:
        lb->fallback = lb->redo[ci] ? !count_long(&st, ci, 0, &lb->data_bytes[ci])
                                    : !codes_local(ctx, &st, ci, c, lb);
        break;
      case TSR_COL_STRING:
        lb->fallback = lb->redo[ci] ? !count_long(&st, ci, 0, &lb->data_bytes[ci])
                                    : !views_inline(&st, ci, c, lb);
        break;
      default:
        TSR__TRY_GOTO(status, convert(&st, ci, c));
        lb->fallback = st.failed;
        break;
      }
    }
    st.row += n;
  }
  lb->rows = st.row;
  if (!lb->fallback)
    for (int ci = 0; ci < ncols; ci++) {
      /* the exact row capacity (the bitmap and the data move up when the
       * bound was larger) and data capacity */
      tsr__colchunk *c = tsr__tablechunk_col(lb->chunk, (uint32_t)ci);
      uint64_t used = c->data_bytes;
      if (lb->repr[ci] == TSR_COL_STRING && !lb->redo[ci])
        lb->data_bytes[ci] = (int64_t)used;
      if (st.row < cap) {
        uint8_t *old = tsr__colchunk_validity(c);
        char *old_data = tsr__colchunk_data(c);
        int64_t nulls = c->null_count;
        tsr__colchunk_init(c, widths[ci], st.row, (int64_t)used);
        c->null_count = nulls;
        memmove(tsr__colchunk_validity(c), old, ((size_t)st.row + 7) / 8);
        memmove(tsr__colchunk_data(c), old_data, used);
      }
      c->rows = st.row;
      c->data_bytes = used;
      c->data_cap = used;
    }
fail:
  if (status != TSR_OK)
    lb->fallback = true;
  csv_input_close(ctx, &in);
  tsr_free(ctx, widths);
  tsr_free(ctx, dcap);
  tsr_free(ctx, b);
  tsr_free(ctx, pos);
  return status;
}
