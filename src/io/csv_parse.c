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
  size_t done = 0;
  while (done < len) {
    ssize_t k = pread(fd, buf + done, len - done, (off_t)(off + (int64_t)done));
    if (k < 0 && errno == EINTR)
      continue;
    TSR_CHECK(k > 0, TSR_EIO, "%s: read failed at byte %lld: %s", path,
              (long long)(off + (int64_t)done), k < 0 ? strerror(errno) : "the file shrank");
    done += (size_t)k;
  }
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
} parse_state;

#define SET_NULL()                                                  \
  do {                                                              \
    validity[(row + r) >> 3] &= (uint8_t) ~(1u << ((row + r) & 7)); \
    nulls++;                                                        \
  } while (0)

#define FAIL()                               \
  do {                                       \
    if (fmt->bad_rows == TSR_CSV_BAD_SKIP) { \
      st->bad[r] = 1;                        \
      st->anybad = true;                     \
    } else {                                 \
      SET_NULL();                            \
    }                                        \
  } while (0)

#define NUM_LOOP(T, DECL, PARSE, STORE)                  \
  do {                                                   \
    T *out = (T *)tsr__colchunk_values(c) + row;         \
    for (int r = 0; r < n; r++) {                        \
      uint32_t L = blen[r];                              \
      const char *s = buf + bstart[r];                   \
      DECL;                                              \
      if (__builtin_expect(csv_is_null(fmt, s, L), 0)) { \
        out[r] = 0;                                      \
        SET_NULL();                                      \
        continue;                                        \
      }                                                  \
      size_t len = L & CSV_LENMASK;                      \
      if (__builtin_expect(!(PARSE), 0)) {               \
        out[r] = 0;                                      \
        FAIL();                                          \
        continue;                                        \
      }                                                  \
      STORE;                                             \
    }                                                    \
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
  switch (col->type.id) {
  case TSR_COL_BOOL:
    NUM_LOOP(uint8_t, uint8_t v = 0, csv_parse_bool(s, len, &v), out[r] = v);
    break;
  case TSR_COL_INT64:
    NUM_LOOP(int64_t, int64_t v = 0, csv_parse_i64(s, len, &v), out[r] = v);
    break;
  case TSR_COL_INT32:
    NUM_LOOP(int32_t, int64_t v = 0, csv_parse_i64(s, len, &v) && v >= INT32_MIN && v <= INT32_MAX,
             out[r] = (int32_t)v);
    break;
  case TSR_COL_INT16:
    NUM_LOOP(int16_t, int64_t v = 0, csv_parse_i64(s, len, &v) && v >= INT16_MIN && v <= INT16_MAX,
             out[r] = (int16_t)v);
    break;
  case TSR_COL_INT8:
    NUM_LOOP(int8_t, int64_t v = 0, csv_parse_i64(s, len, &v) && v >= INT8_MIN && v <= INT8_MAX,
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
    NUM_LOOP(double, double v = 0, csv_parse_f64(s, len, &v, true), out[r] = v);
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

/* Drops the batch's bad rows (SKIP) from every column. */
static void compact(parse_state *st, void *table) {
  const tsr__csv_format *fmt = st->fmt;
  int n = st->b->n;
  for (int ci = 0; ci < fmt->ncols; ci++) {
    tsr__colchunk *c = tsr__tablechunk_col(table, (uint32_t)ci);
    size_t w;
    switch (fmt->cols[ci].type.id) {
    case TSR_COL_BOOL:
    case TSR_COL_INT8:
    case TSR_COL_UINT8:
      w = 1;
      break;
    case TSR_COL_INT16:
    case TSR_COL_UINT16:
      w = 2;
      break;
    case TSR_COL_INT32:
    case TSR_COL_UINT32:
    case TSR_COL_FLOAT32:
    case TSR_COL_DATE:
    case TSR_COL_DICT:
      w = 4;
      break;
    case TSR_COL_STRING:
      w = 16;
      break;
    default:
      w = 8;
      break;
    }
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
  parse_state st = {fmt, buf, buf + len, b, 0, bad, false};
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
