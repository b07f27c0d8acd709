/* arrow_import.c — a frame from an Arrow C stream (tessera/arrow.h,
 * docs/frames.md "Arrow"): each record batch is copied into one table
 * chunk (core/colchunk.h), so the producer's memory is released batch by
 * batch, and the chunks become an in-memory frame (mem_frame.c).
 *
 * Strings of any Arrow layout ("u", "U", "vu") become string views with
 * one data buffer per chunk.  Dictionary columns keep their codes: a
 * stream may carry a different dictionary in every batch, so each batch's
 * dictionary is kept aside, and at the end the column's dictionary is
 * their sorted union and every chunk's codes are remapped into it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/arrow.h>

#include "groupby_impl.h" /* gb_mem_frame */

/* How a column's Arrow values are read. */
typedef enum ai_kind {
  AI_FIXED = 0, /* width-byte values as they are */
  AI_BOOL,      /* bits to bytes */
  AI_STR32,     /* "u": int32 offsets */
  AI_STR64,     /* "U": int64 offsets */
  AI_VIEW,      /* "vu": string views over variadic buffers */
} ai_kind;

typedef struct ai_col {
  const char *name; /* the schema's */
  const char *format;
  tsr_type type;
  ai_kind kind;      /* the values' (a dictionary's: its strings') */
  bool dict;         /* dictionary-encoded: the index is an integer of */
  int index_width;   /* 1, 2, 4, 8 bytes, */
  bool index_signed; /* signed or not */
  /* Each batch's dictionary, copied: dict_off[b] (dict_n[b] + 1 offsets)
   * into dict_data[b]; dict_valid[b] NULL when every entry is valid. */
  int64_t *dict_n;
  int64_t **dict_off;
  char **dict_data;
  uint8_t **dict_valid;
} ai_col;

/* The frame being built. */
typedef struct ai_state {
  tsr_ctx *ctx;
  int ncols;
  ai_col *cols;
  int64_t nchunks, cap;
  void **chunks;
  size_t *bytes;
  int64_t *rows;
  int64_t *data_cap; /* nchunks x ncols, row-major while growing */
} ai_state;

/* ---- formats ---------------------------------------------------------------------- */

/* A value format's type and kind; false when unsupported. */
static bool parse_value_format(const char *f, tsr_type *t, ai_kind *k) {
  static const struct {
    const char *format;
    tsr_coltype id;
  } fixed[] = {{"c", TSR_COL_INT8},    {"s", TSR_COL_INT16},  {"i", TSR_COL_INT32},
               {"l", TSR_COL_INT64},   {"C", TSR_COL_UINT8},  {"S", TSR_COL_UINT16},
               {"I", TSR_COL_UINT32},  {"L", TSR_COL_UINT64}, {"f", TSR_COL_FLOAT32},
               {"g", TSR_COL_FLOAT64}, {"tdD", TSR_COL_DATE}};
  *t = (tsr_type){TSR_COL_STRING, 0};
  if (strcmp(f, "u") == 0 || strcmp(f, "U") == 0 || strcmp(f, "vu") == 0) {
    *k = f[0] == 'v' ? AI_VIEW : f[0] == 'u' ? AI_STR32 : AI_STR64;
    return true;
  }
  if (strcmp(f, "b") == 0) {
    *t = (tsr_type){TSR_COL_BOOL, 0};
    *k = AI_BOOL;
    return true;
  }
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (strcmp(f, fixed[i].format) == 0) {
      *t = (tsr_type){fixed[i].id, 0};
      *k = AI_FIXED;
      return true;
    }
  /* Timestamps without a time zone: "ts" unit ':' and nothing after. */
  if (f[0] == 't' && f[1] == 's' && f[2] != '\0' && f[3] == ':' && f[4] == '\0') {
    const char *units = "smun";
    const char *u = strchr(units, f[2]);
    if (u == NULL)
      return false;
    *t = (tsr_type){TSR_COL_TIMESTAMP, (tsr_time_unit)(u - units)};
    *k = AI_FIXED;
    return true;
  }
  return false;
}

/* Reads the schema's columns into s->cols. */
static tsr_status read_schema(ai_state *s, const struct ArrowSchema *schema) {
  static const char fn[] = "tsr_frame_from_arrow_stream";
  TSR_CHECK(schema->format != NULL && strcmp(schema->format, "+s") == 0, TSR_EINVAL,
            "%s: the stream's schema is '%s', not a struct of columns (\"+s\")", fn,
            schema->format ? schema->format : "(null)");
  TSR_CHECK(schema->n_children > 0 && schema->n_children < INT32_MAX, TSR_EINVAL,
            "%s: the stream's schema has %lld columns", fn, (long long)schema->n_children);
  s->ncols = (int)schema->n_children;
  TSR_TRY(tsr_calloc(s->ctx, (size_t)s->ncols + 1, sizeof *s->cols, (void **)&s->cols));
  for (int i = 0; i < s->ncols; i++) {
    const struct ArrowSchema *c = schema->children[i];
    ai_col *col = &s->cols[i];
    col->name = c->name;
    col->format = c->format ? c->format : "(null)";
    TSR_CHECK(c->name != NULL && c->name[0] != '\0', TSR_EINVAL, "%s: column %d has no name", fn,
              i);
    if (c->dictionary != NULL) {
      static const char idx[] = "csilCSIL";
      const char *p = strchr(idx, col->format[0]);
      tsr_type vt;
      TSR_CHECK(p != NULL && col->format[1] == '\0', TSR_ENOTSUP,
                "%s: column '%s': dictionary index format '%s' is not an integer", fn, c->name,
                col->format);
      const char *vf = c->dictionary->format ? c->dictionary->format : "(null)";
      TSR_CHECK(parse_value_format(vf, &vt, &col->kind) && vt.id == TSR_COL_STRING, TSR_ENOTSUP,
                "%s: column '%s': a dictionary of format '%s' is not supported (only strings: "
                "u, U, vu)",
                fn, c->name, vf);
      col->dict = true;
      col->type = (tsr_type){TSR_COL_DICT, 0};
      col->index_width = 1 << ((p - idx) % 4);
      col->index_signed = p - idx < 4;
      continue;
    }
    TSR_CHECK(parse_value_format(col->format, &col->type, &col->kind), TSR_ENOTSUP,
              "%s: column '%s' has Arrow format '%s', which tessera does not read", fn, c->name,
              col->format);
  }
  return TSR_OK;
}

/* ---- reading one array ------------------------------------------------------------------ */

/* Copies `len` validity bits from bit `off` of `src` into dst (all ones
 * when src is NULL); returns the nulls. */
static int64_t copy_validity(const uint8_t *src, int64_t off, int64_t len, uint8_t *dst) {
  memset(dst, 0xff, ((size_t)len + 7) / 8);
  if (src == NULL)
    return 0;
  int64_t nulls = 0;
  for (int64_t i = 0; i < len; i++)
    if (!tsr__bit_get(src, off + i)) {
      tsr__bit_set(dst, i, false);
      nulls++;
    }
  return nulls;
}

/* String i of an array of `kind` (i already including the offsets): for
 * dictionaries' entries (values have their own loops, read_strings). */
static inline const char *str_at(const struct ArrowArray *a, ai_kind kind, int64_t i,
                                 uint32_t *len) {
  if (kind == AI_STR32) {
    const int32_t *o = a->buffers[1];
    *len = (uint32_t)(o[i + 1] - o[i]);
    return (const char *)a->buffers[2] + o[i];
  }
  if (kind == AI_STR64) {
    const int64_t *o = a->buffers[1];
    *len = (uint32_t)(o[i + 1] - o[i]);
    return (const char *)a->buffers[2] + o[i];
  }
  const tsr_string_view *v = (const tsr_string_view *)a->buffers[1] + i;
  *len = v->length;
  if (v->length <= 12)
    return v->u.inline_data;
  return (const char *)a->buffers[2 + v->u.ref.buffer] + v->u.ref.offset;
}

/* Checks a string array's buffers for rows [off, off + len): the count of
 * buffers, offsets in range, view buffer indexes; *bytes receives the
 * bytes of its strings longer than 12 (what a chunk's data buffer needs). */
static tsr_status check_strings(const ai_col *col, const struct ArrowArray *a, int64_t off,
                                int64_t len, const char *what, uint64_t *bytes) {
  static const char fn[] = "tsr_frame_from_arrow_stream";
  *bytes = 0;
  if (col->kind == AI_VIEW) {
    TSR_CHECK(a->n_buffers >= 3, TSR_EINVAL, "%s: column '%s': %s has %lld buffers, not >= 3", fn,
              col->name, what, (long long)a->n_buffers);
    const tsr_string_view *v = (const tsr_string_view *)a->buffers[1] + off;
    int64_t nbuf = a->n_buffers - 3;
    const int64_t *sizes = a->buffers[a->n_buffers - 1];
    const uint8_t *valid = a->null_count != 0 ? a->buffers[0] : NULL;
    for (int64_t i = 0; i < len; i++) {
      if (v[i].length <= 12 || (valid != NULL && !tsr__bit_get(valid, off + i)))
        continue;
      TSR_CHECK(v[i].u.ref.buffer < nbuf &&
                    (int64_t)v[i].u.ref.offset + v[i].length <= sizes[v[i].u.ref.buffer],
                TSR_EINVAL, "%s: column '%s': %s: row %lld's view is outside its data buffer", fn,
                col->name, what, (long long)i);
      *bytes += v[i].length;
    }
    return TSR_OK;
  }
  TSR_CHECK(a->n_buffers == 3, TSR_EINVAL, "%s: column '%s': %s has %lld buffers, not 3", fn,
            col->name, what, (long long)a->n_buffers);
  for (int64_t i = off; i < off + len; i++) {
    int64_t lo, hi;
    if (col->kind == AI_STR32) {
      lo = ((const int32_t *)a->buffers[1])[i];
      hi = ((const int32_t *)a->buffers[1])[i + 1];
    } else {
      lo = ((const int64_t *)a->buffers[1])[i];
      hi = ((const int64_t *)a->buffers[1])[i + 1];
    }
    TSR_CHECK(lo >= 0 && hi >= lo && hi - lo <= UINT32_MAX, TSR_EINVAL,
              "%s: column '%s': %s: offsets of row %lld decrease", fn, col->name, what,
              (long long)(i - off));
    if (hi - lo > 12)
      *bytes += (uint64_t)(hi - lo);
    TSR_CHECK(hi == lo || a->buffers[2] != NULL, TSR_EINVAL,
              "%s: column '%s': %s has strings but no data buffer", fn, col->name, what);
  }
  return TSR_OK;
}

/* Keeps batch b's dictionary of column col (copied). */
static tsr_status keep_dict(ai_state *s, ai_col *col, int64_t b, const struct ArrowArray *d) {
  static const char fn[] = "tsr_frame_from_arrow_stream";
  TSR_CHECK(d != NULL && d->length >= 0 && d->offset >= 0 && d->n_buffers >= 2 &&
                (d->length == 0 || d->buffers[1] != NULL),
            TSR_EINVAL, "%s: column '%s': a batch has no dictionary", fn, col->name);
  uint64_t bytes;
  TSR_TRY(check_strings(col, d, d->offset, d->length, "its dictionary", &bytes));
  int64_t n = d->length;
  uint64_t total = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t len;
    (void)str_at(d, col->kind, d->offset + i, &len);
    total += len;
  }
  col->dict_n[b] = n;
  TSR_TRY(tsr__alloc_array(s->ctx, (size_t)n + 1, sizeof(int64_t), "dictionary offsets",
                           (void **)&col->dict_off[b]));
  TSR_TRY(tsr_alloc(s->ctx, (size_t)total + 1, (void **)&col->dict_data[b]));
  int64_t *o = col->dict_off[b];
  o[0] = 0;
  for (int64_t i = 0; i < n; i++) {
    uint32_t len;
    const char *p = str_at(d, col->kind, d->offset + i, &len);
    memcpy(col->dict_data[b] + o[i], p, len);
    o[i + 1] = o[i] + len;
  }
  if (d->null_count != 0 && d->buffers[0] != NULL) {
    TSR_TRY(tsr_alloc(s->ctx, ((size_t)n + 7) / 8 + 1, (void **)&col->dict_valid[b]));
    (void)copy_validity(d->buffers[0], d->offset, n, col->dict_valid[b]);
  }
  (void)s;
  return TSR_OK;
}

/* Codes of rows [off, off + len) of an index of type T into `codes`
 * (invalid rows: 0; valid NULL: every row valid), each checked against
 * the dictionary's size n. */
#define AI_CODES(T)                                                                            \
  do {                                                                                         \
    const T *ix = (const T *)a->buffers[1] + off;                                              \
    for (int64_t i = 0; i < len; i++) {                                                        \
      if (valid != NULL && !tsr__bit_get(valid, i)) {                                          \
        codes[i] = 0;                                                                          \
        continue;                                                                              \
      }                                                                                        \
      int64_t k = (int64_t)ix[i];                                                              \
      TSR_CHECK(k >= 0 && k < n, TSR_EINVAL,                                                   \
                "%s: column '%s': row %lld's code %lld is outside its dictionary of %lld", fn, \
                col->name, (long long)i, (long long)k, (long long)n);                          \
      codes[i] = (int32_t)k;                                                                   \
    }                                                                                          \
  } while (0)

static tsr_status read_codes(const ai_col *col, const struct ArrowArray *a, int64_t off,
                             int64_t len, int64_t n, const uint8_t *valid, int32_t *codes) {
  static const char fn[] = "tsr_frame_from_arrow_stream";
  switch (col->index_width * (col->index_signed ? 1 : -1)) {
  case 1:
    AI_CODES(int8_t);
    break;
  case 2:
    AI_CODES(int16_t);
    break;
  case 4:
    AI_CODES(int32_t);
    break;
  case 8:
    AI_CODES(int64_t);
    break;
  case -1:
    AI_CODES(uint8_t);
    break;
  case -2:
    AI_CODES(uint16_t);
    break;
  case -4:
    AI_CODES(uint32_t);
    break;
  default:
    AI_CODES(uint64_t);
    break; /* over INT64_MAX: negative, refused */
  }
  return TSR_OK;
}

/* Strings of rows [off, off + len) of a "u" (O = int32_t) or "U" (int64_t)
 * array as views into column chunk c (invalid rows: zero views). */
#define AI_OFFSET_STRINGS(O)                                                \
  do {                                                                      \
    const O *o = (const O *)a->buffers[1] + off;                            \
    const char *data = a->buffers[2];                                       \
    for (int64_t i = 0; i < len; i++)                                       \
      if (tsr__bit_get(valid, i))                                           \
        v[i] = tsr__view_make(c, data + o[i], (uint32_t)(o[i + 1] - o[i])); \
      else                                                                  \
        memset(&v[i], 0, sizeof v[i]);                                      \
  } while (0)

static void read_strings(ai_kind kind, const struct ArrowArray *a, int64_t off, int64_t len,
                         const uint8_t *valid, tsr__colchunk *c) {
  tsr_string_view *v = tsr__colchunk_values(c);
  if (kind == AI_STR32) {
    AI_OFFSET_STRINGS(int32_t);
    return;
  }
  if (kind == AI_STR64) {
    AI_OFFSET_STRINGS(int64_t);
    return;
  }
  /* Views: inline ones as they are (zero-padded again), long ones copied
   * from their variadic buffer into the chunk's one data buffer. */
  const tsr_string_view *src = (const tsr_string_view *)a->buffers[1] + off;
  for (int64_t i = 0; i < len; i++) {
    if (!tsr__bit_get(valid, i)) {
      memset(&v[i], 0, sizeof v[i]);
      continue;
    }
    uint32_t n = src[i].length;
    const char *p = n <= 12
                        ? src[i].u.inline_data
                        : (const char *)a->buffers[2 + src[i].u.ref.buffer] + src[i].u.ref.offset;
    v[i] = tsr__view_make(c, p, n);
  }
}

/* Column `col` of batch b (child array a, rows [off, off + len)) into
 * column chunk c. */
static tsr_status read_column(ai_state *s, ai_col *col, int64_t b, const struct ArrowArray *a,
                              int64_t off, int64_t len, tsr__colchunk *c) {
  static const char fn[] = "tsr_frame_from_arrow_stream";
  const uint8_t *valid = a->null_count != 0 && a->n_buffers > 0 ? a->buffers[0] : NULL;
  c->rows = len;
  c->null_count = copy_validity(valid, off, len, tsr__colchunk_validity(c));
  const uint8_t *dst_valid = tsr__colchunk_validity(c);
  if (col->dict) {
    TSR_CHECK(a->n_buffers == 2, TSR_EINVAL, "%s: column '%s': the index has %lld buffers, not 2",
              fn, col->name, (long long)a->n_buffers);
    TSR_TRY(keep_dict(s, col, b, a->dictionary));
    return read_codes(col, a, off, len, col->dict_n[b], c->null_count > 0 ? dst_valid : NULL,
                      tsr__colchunk_values(c));
  }
  if (col->type.id == TSR_COL_STRING) {
    read_strings(col->kind, a, off, len, dst_valid, c);
    return TSR_OK;
  }
  TSR_CHECK(a->n_buffers == 2, TSR_EINVAL, "%s: column '%s' (%s) has %lld buffers, not 2", fn,
            col->name, col->format, (long long)a->n_buffers);
  if (col->kind == AI_BOOL) {
    uint8_t *dst = tsr__colchunk_values(c);
    for (int64_t i = 0; i < len; i++)
      dst[i] = tsr__bit_get(a->buffers[1], off + i);
    return TSR_OK;
  }
  size_t w = tsr_type_width(col->type);
  if (len > 0)
    memcpy(tsr__colchunk_values(c), (const char *)a->buffers[1] + (size_t)off * w, (size_t)len * w);
  return TSR_OK;
}

/* Grows the per-chunk arrays to hold one more chunk. */
static tsr_status grow(ai_state *s) {
  if (s->nchunks < s->cap)
    return TSR_OK;
  int64_t cap = s->cap ? 2 * s->cap : 16;
  void **chunks = NULL;
  size_t *bytes = NULL;
  int64_t *rows = NULL, *dc = NULL;
  tsr_status st = TSR_OK;
  tsr_ctx *ctx = s->ctx;
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)cap, sizeof *chunks, "chunks", (void **)&chunks));
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)cap, sizeof *bytes, "chunks", (void **)&bytes));
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)cap, sizeof *rows, "chunks", (void **)&rows));
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)cap * (size_t)s->ncols, sizeof *dc, "chunks",
                                     (void **)&dc));
  if (s->nchunks > 0) {
    memcpy(chunks, s->chunks, (size_t)s->nchunks * sizeof *chunks);
    memcpy(bytes, s->bytes, (size_t)s->nchunks * sizeof *bytes);
    memcpy(rows, s->rows, (size_t)s->nchunks * sizeof *rows);
    memcpy(dc, s->data_cap, (size_t)s->nchunks * (size_t)s->ncols * sizeof *dc);
  }
  for (int i = 0; i < s->ncols; i++) {
    ai_col *col = &s->cols[i];
    if (!col->dict)
      continue;
    int64_t *n = NULL;
    int64_t **off = NULL;
    char **data = NULL;
    uint8_t **valid = NULL;
    TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)cap, sizeof *n, (void **)&n));
    st = tsr_calloc(ctx, (size_t)cap, sizeof *off, (void **)&off);
    if (st == TSR_OK)
      st = tsr_calloc(ctx, (size_t)cap, sizeof *data, (void **)&data);
    if (st == TSR_OK)
      st = tsr_calloc(ctx, (size_t)cap, sizeof *valid, (void **)&valid);
    if (st != TSR_OK) {
      tsr_free(ctx, n);
      tsr_free(ctx, off);
      tsr_free(ctx, data);
      goto fail;
    }
    if (s->nchunks > 0) {
      memcpy(n, col->dict_n, (size_t)s->nchunks * sizeof *n);
      memcpy(off, col->dict_off, (size_t)s->nchunks * sizeof *off);
      memcpy(data, col->dict_data, (size_t)s->nchunks * sizeof *data);
      memcpy(valid, col->dict_valid, (size_t)s->nchunks * sizeof *valid);
    }
    tsr_free(ctx, col->dict_n);
    tsr_free(ctx, col->dict_off);
    tsr_free(ctx, col->dict_data);
    tsr_free(ctx, col->dict_valid);
    col->dict_n = n;
    col->dict_off = off;
    col->dict_data = data;
    col->dict_valid = valid;
  }
  tsr_free(ctx, s->chunks);
  tsr_free(ctx, s->bytes);
  tsr_free(ctx, s->rows);
  tsr_free(ctx, s->data_cap);
  s->chunks = chunks;
  s->bytes = bytes;
  s->rows = rows;
  s->data_cap = dc;
  s->cap = cap;
  return TSR_OK;
fail:
  tsr_free(ctx, chunks);
  tsr_free(ctx, bytes);
  tsr_free(ctx, rows);
  tsr_free(ctx, dc);
  return st;
}

/* Batch `b` (a struct array) into a new table chunk. */
static tsr_status read_batch(ai_state *s, int64_t b, const struct ArrowArray *batch) {
  static const char fn[] = "tsr_frame_from_arrow_stream";
  TSR_CHECK(batch->n_children == s->ncols, TSR_EINVAL,
            "%s: batch %lld has %lld columns but the schema %d", fn, (long long)b,
            (long long)batch->n_children, s->ncols);
  TSR_CHECK(batch->length >= 0 && batch->offset >= 0 && batch->length <= INT32_MAX, TSR_EINVAL,
            "%s: batch %lld: length %lld at offset %lld", fn, (long long)b,
            (long long)batch->length, (long long)batch->offset);
  TSR_CHECK(batch->null_count == 0 || batch->n_buffers < 1 || batch->buffers[0] == NULL, TSR_EINVAL,
            "%s: batch %lld has null rows (a record batch's struct has none)", fn, (long long)b);
  int64_t len = batch->length;
  int n = s->ncols;
  tsr_status st = TSR_OK;
  size_t *widths = NULL;
  int64_t *dc = NULL;
  void *chunk = NULL;
  TSR__TRY_GOTO(st, tsr_calloc(s->ctx, (size_t)n, sizeof *widths, (void **)&widths));
  TSR__TRY_GOTO(st, tsr_calloc(s->ctx, (size_t)n, sizeof *dc, (void **)&dc));
  for (int i = 0; i < n; i++) {
    const struct ArrowArray *a = batch->children[i];
    ai_col *col = &s->cols[i];
    widths[i] = tsr_type_width(col->type);
    TSR__CHECK_GOTO(st, a != NULL && a->n_buffers >= 2 && (len == 0 || a->buffers[1] != NULL),
                    TSR_EINVAL, "%s: column '%s' of batch %lld has no values buffer", fn, col->name,
                    (long long)b);
    int64_t off = batch->offset + a->offset;
    TSR__CHECK_GOTO(st, a->offset >= 0 && a->length >= batch->offset + len, TSR_EINVAL,
                    "%s: column '%s' of batch %lld has %lld values at offset %lld, fewer than its "
                    "batch's %lld rows at offset %lld",
                    fn, col->name, (long long)b, (long long)a->length, (long long)a->offset,
                    (long long)len, (long long)batch->offset);
    if (col->type.id == TSR_COL_STRING) {
      uint64_t bytes;
      TSR__TRY_GOTO(st, check_strings(col, a, off, len, "its values", &bytes));
      TSR__CHECK_GOTO(st, bytes <= UINT32_MAX, TSR_EINVAL,
                      "%s: column '%s' of batch %lld holds %llu bytes of strings, over 4 GiB", fn,
                      col->name, (long long)b, (unsigned long long)bytes);
      dc[i] = (int64_t)bytes;
    }
  }
  uint64_t bytes;
  TSR__CHECK_GOTO(st, tsr__tablechunk_bytes((uint32_t)n, widths, len, dc, &bytes), TSR_ENOMEM,
                  "%s: batch %lld is too large", fn, (long long)b);
  TSR__TRY_GOTO(st, grow(s));
  TSR__TRY_GOTO(st, tsr_alloc(s->ctx, (size_t)bytes, &chunk));
  tsr__tablechunk_init(chunk, bytes, (uint32_t)n, widths, len, dc);
  for (int i = 0; i < n; i++) {
    const struct ArrowArray *a = batch->children[i];
    TSR__TRY_GOTO(st, read_column(s, &s->cols[i], b, a, batch->offset + a->offset, len,
                                  tsr__tablechunk_col(chunk, (uint32_t)i)));
    s->data_cap[b * n + i] = dc[i];
  }
  s->chunks[b] = chunk;
  chunk = NULL;
  s->bytes[b] = (size_t)bytes;
  s->rows[b] = len;
  s->nchunks = b + 1;
fail:
  tsr_free(s->ctx, chunk);
  tsr_free(s->ctx, widths);
  tsr_free(s->ctx, dc);
  return st;
}

/* ---- dictionaries --------------------------------------------------------------------- */

typedef struct ai_str {
  const char *p;
  int64_t len;
} ai_str;

static int cmp_str(const void *x, const void *y) {
  const ai_str *a = x, *b = y;
  int64_t n = a->len < b->len ? a->len : b->len;
  int c = n > 0 ? memcmp(a->p, b->p, (size_t)n) : 0;
  return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/* Whether batches a and b of the column carry the same dictionary (as
 * most producers send one dictionary with every batch). */
static bool same_dict(const ai_col *col, int64_t a, int64_t b) {
  int64_t n = col->dict_n[a];
  if (n != col->dict_n[b] || (col->dict_valid[a] == NULL) != (col->dict_valid[b] == NULL))
    return false;
  if (col->dict_valid[a] != NULL &&
      memcmp(col->dict_valid[a], col->dict_valid[b], ((size_t)n + 7) / 8) != 0)
    return false;
  return memcmp(col->dict_off[a], col->dict_off[b], ((size_t)n + 1) * sizeof(int64_t)) == 0 &&
         memcmp(col->dict_data[a], col->dict_data[b], (size_t)col->dict_off[a][n]) == 0;
}

/* Column i's dictionary (the union of its batches', sorted), and every
 * chunk's codes remapped into it. */
static tsr_status merge_dict(ai_state *s, int i, tsr__dict **out) {
  ai_col *col = &s->cols[i];
  tsr_ctx *ctx = s->ctx;
  int64_t total = 0, max_n = 0;
  for (int64_t b = 0; b < s->nchunks; b++) {
    total += col->dict_n[b];
    max_n = col->dict_n[b] > max_n ? col->dict_n[b] : max_n;
  }
  ai_str *all = NULL;
  int64_t *offsets = NULL, *map = NULL;
  char *data = NULL;
  bool *same = NULL; /* same[b]: batch b's dictionary is batch b - 1's */
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st,
                tsr__alloc_array(ctx, (size_t)total + 1, sizeof *all, "dictionary", (void **)&all));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)s->nchunks + 1, sizeof *same, (void **)&same));
  for (int64_t b = 1; b < s->nchunks; b++)
    same[b] = same_dict(col, b - 1, b);
  int64_t m = 0, bytes = 0;
  for (int64_t b = 0; b < s->nchunks; b++)
    for (int64_t k = 0; k < col->dict_n[b] && !same[b]; k++) {
      if (col->dict_valid[b] != NULL && !tsr__bit_get(col->dict_valid[b], k))
        continue;
      all[m].p = col->dict_data[b] + col->dict_off[b][k];
      all[m].len = col->dict_off[b][k + 1] - col->dict_off[b][k];
      m++;
    }
  qsort(all, (size_t)m, sizeof *all, cmp_str);
  int64_t u = 0;
  for (int64_t k = 0; k < m; k++)
    if (u == 0 || cmp_str(&all[u - 1], &all[k]) != 0) {
      all[u++] = all[k];
      bytes += all[k].len;
    }
  TSR__TRY_GOTO(
      st, tsr__alloc_array(ctx, (size_t)u + 1, sizeof *offsets, "dictionary", (void **)&offsets));
  TSR__TRY_GOTO(st, tsr_alloc(ctx, (size_t)bytes + 1, (void **)&data));
  offsets[0] = 0;
  for (int64_t k = 0; k < u; k++) {
    memcpy(data + offsets[k], all[k].p, (size_t)all[k].len);
    offsets[k + 1] = offsets[k] + all[k].len;
  }
  TSR__CHECK_GOTO(st, u <= INT32_MAX, TSR_EINVAL,
                  "tsr_frame_from_arrow_stream: column '%s' has %lld distinct strings", col->name,
                  (long long)u);
  TSR__TRY_GOTO(st, tsr__dict_create(ctx, col->name, u, offsets, data, out));
  TSR__TRY_GOTO(st,
                tsr__alloc_array(ctx, (size_t)max_n + 1, sizeof *map, "dictionary", (void **)&map));
  bool identity = false;
  for (int64_t b = 0; b < s->nchunks; b++) {
    if (!same[b])
      identity = col->dict_n[b] == u;
    for (int64_t k = 0; k < col->dict_n[b] && !same[b]; k++) {
      bool valid = col->dict_valid[b] == NULL || tsr__bit_get(col->dict_valid[b], k);
      map[k] = valid ? tsr__dict_find(*out, col->dict_data[b] + col->dict_off[b][k],
                                      (size_t)(col->dict_off[b][k + 1] - col->dict_off[b][k]))
                     : -1;
      identity = identity && map[k] == k;
    }
    if (identity) /* the batch's dictionary is the column's (as tessera exports them) */
      continue;
    tsr__colchunk *c = tsr__tablechunk_col(s->chunks[b], (uint32_t)i);
    int32_t *codes = tsr__colchunk_values(c);
    uint8_t *v = tsr__colchunk_validity(c);
    for (int64_t r = 0; r < c->rows; r++) {
      if (!tsr__bit_get(v, r))
        continue;
      int64_t to = map[codes[r]];
      if (to < 0) { /* a null entry of the dictionary: a null value */
        tsr__bit_set(v, r, false);
        c->null_count++;
        to = 0;
      }
      codes[r] = (int32_t)to;
    }
  }
fail:
  tsr_free(ctx, same);
  tsr_free(ctx, all);
  tsr_free(ctx, offsets);
  tsr_free(ctx, data);
  tsr_free(ctx, map);
  return st;
}

/* ---- the stream ------------------------------------------------------------------------- */

static void state_free(ai_state *s) {
  tsr_ctx *ctx = s->ctx;
  for (int64_t c = 0; c < s->nchunks; c++)
    if (s->chunks != NULL)
      tsr_free(ctx, s->chunks[c]);
  for (int i = 0; i < s->ncols && s->cols != NULL; i++) {
    ai_col *col = &s->cols[i];
    for (int64_t b = 0; col->dict_n != NULL && b < s->cap; b++) {
      tsr_free(ctx, col->dict_off[b]);
      tsr_free(ctx, col->dict_data[b]);
      tsr_free(ctx, col->dict_valid[b]);
    }
    tsr_free(ctx, col->dict_n);
    tsr_free(ctx, col->dict_off);
    tsr_free(ctx, col->dict_data);
    tsr_free(ctx, col->dict_valid);
  }
  tsr_free(ctx, s->cols);
  tsr_free(ctx, s->chunks);
  tsr_free(ctx, s->bytes);
  tsr_free(ctx, s->rows);
  tsr_free(ctx, s->data_cap);
}

/* The stream's error as a tessera error. */
static tsr_status stream_error(struct ArrowArrayStream *stream, int rc, const char *what) {
  const char *msg = stream->get_last_error ? stream->get_last_error(stream) : NULL;
  return tsr_error_set(TSR_EIO,
                       "tsr_frame_from_arrow_stream: the stream's %s failed (errno %d): %s", what,
                       rc, msg ? msg : "no message");
}

tsr_status tsr_frame_from_arrow_stream(tsr_ctx *ctx, struct ArrowArrayStream *stream,
                                       tsr_frame **out) {
  static const char fn[] = "tsr_frame_from_arrow_stream";
  if (out != NULL)
    *out = NULL;
  if (stream == NULL || stream->release == NULL)
    return tsr_error_set(TSR_EINVAL, "%s: the stream is NULL or released", fn);
  if (ctx == NULL || out == NULL) {
    stream->release(stream);
    return tsr_error_set(TSR_EINVAL, "%s: ctx or out is NULL", fn);
  }
  tsr_status st = TSR_OK;
  ai_state s;
  memset(&s, 0, sizeof s);
  s.ctx = ctx;
  struct ArrowSchema schema;
  memset(&schema, 0, sizeof schema);
  struct ArrowArray batch;
  memset(&batch, 0, sizeof batch);
  char **names = NULL;
  tsr_type *types = NULL;
  tsr__dict **dicts = NULL;
  int64_t *data_cap = NULL;
  int rc = stream->get_schema(stream, &schema);
  if (rc != 0) {
    st = stream_error(stream, rc, "get_schema");
    goto fail;
  }
  TSR__TRY_GOTO(st, read_schema(&s, &schema));
  for (int64_t b = 0;; b++) {
    rc = stream->get_next(stream, &batch);
    if (rc != 0) {
      st = stream_error(stream, rc, "get_next");
      goto fail;
    }
    if (batch.release == NULL)
      break;
    TSR__TRY_GOTO(st, read_batch(&s, b, &batch));
    batch.release(&batch);
  }
  int n = s.ncols;
  int64_t nc = s.nchunks;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n, sizeof *names, (void **)&names));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n, sizeof *types, (void **)&types));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n, sizeof *dicts, (void **)&dicts));
  TSR__TRY_GOTO(st,
                tsr_calloc(ctx, (size_t)n * (size_t)nc + 1, sizeof *data_cap, (void **)&data_cap));
  for (int i = 0; i < n; i++) {
    names[i] = (char *)s.cols[i].name;
    types[i] = s.cols[i].type;
    for (int64_t c = 0; c < nc; c++)
      data_cap[(int64_t)i * nc + c] = s.data_cap[c * n + i];
    if (s.cols[i].dict)
      TSR__TRY_GOTO(st, merge_dict(&s, i, &dicts[i]));
  }
  {
    void **chunks = s.chunks;
    int64_t *rows = s.rows;
    size_t *bytes = s.bytes;
    if (chunks == NULL) { /* no batch: a frame of no chunk */
      static void *none[1];
      static size_t no_bytes[1];
      static int64_t no_rows[1];
      chunks = none;
      bytes = no_bytes;
      rows = no_rows;
    }
    s.nchunks = 0; /* gb_mem_frame takes the chunks, also when it fails */
    st = gb_mem_frame(ctx, n, names, types, dicts, nc, chunks, bytes, rows, data_cap, out);
  }
fail:
  if (batch.release != NULL)
    batch.release(&batch);
  if (schema.release != NULL)
    schema.release(&schema);
  if (stream->release != NULL)
    stream->release(stream);
  if (dicts != NULL)
    for (int i = 0; i < s.ncols; i++)
      tsr__dict_release(&dicts[i]);
  tsr_free(ctx, dicts);
  tsr_free(ctx, names);
  tsr_free(ctx, types);
  tsr_free(ctx, data_cap);
  state_free(&s);
  return st;
}
