/* cast.c — tsr_frame_cast: one column converted to another type, as
 * DuckDB's CAST does it.
 *
 * - Numbers and booleans convert to each other with range checks: a value
 *   the target cannot hold is an error naming the column, the row and the
 *   value.  Floats become integers rounded half to even (DuckDB's
 *   nearbyint); NaN and infinities cannot.  Doubles outside float32's
 *   range cannot become float32 (infinities and NaN can).  Anything
 *   non-zero is true.
 * - Dates and timestamps convert to each other (a timestamp's date is the
 *   day it falls in; units convert exactly or floor) and to text, not to
 *   numbers.
 * - Any type becomes text (value_text.c: the shortest float text that
 *   reads back exactly); text parses into any fixed-width type (the error
 *   names the row and the text).  Dictionaries become text through their
 *   dictionary, and into numbers by parsing the dictionary once, now.
 * - Text becomes a dictionary column: its distinct values are computed
 *   when tsr_frame_cast is called (a collective compute of the column),
 *   then each chunk maps its strings to codes.  Other types become
 *   dictionaries through text.
 *
 * The kernel works in blocks: a typed loop loads a block of the source
 * into int64, uint64 or double, a typed loop stores it into the target
 * checking ranges; only a value that fails looks at its validity bit
 * (a null's value may be anything and never fails). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops_impl.h"
#include "value_text.h"

enum { K_INT, K_UINT, K_FLOAT, K_TIME };
#define BLOCK 512

typedef struct cast_params {
  tsr__fnode base; /* one column */
  tsr_ctx *ctx;
  tsr__colref ref;
  tsr_type from, to;
  int64_t *row_start; /* nchunks + 1, or NULL: counts unknown */
  char name[96];
  tsr__dict *src_dict;      /* dictionary sources: one reference */
  tsr__dict *dst_dict;      /* string -> dict: one reference */
  unsigned char *dict_vals; /* dict -> fixed: the parsed dictionary (width per entry) */
  uint8_t *dict_ok;         /* dict -> fixed: whether each entry parsed */
} cast_params;

static void cast_destroy(tsr__fnode *base) {
  cast_params *p = (cast_params *)base;
  tsr_free(p->ctx, p->row_start);
  tsr__dict_release(&p->src_dict);
  tsr__dict_release(&p->dst_dict);
  tsr_free(p->ctx, p->dict_vals);
  tsr_free(p->ctx, p->dict_ok);
}

static int kind_of(tsr_coltype t) {
  switch (t) {
  case TSR_COL_UINT8:
  case TSR_COL_UINT16:
  case TSR_COL_UINT32:
  case TSR_COL_UINT64:
    return K_UINT;
  case TSR_COL_FLOAT32:
  case TSR_COL_FLOAT64:
    return K_FLOAT;
  case TSR_COL_DATE:
  case TSR_COL_TIMESTAMP:
    return K_TIME;
  default:
    return K_INT;
  }
}

static bool is_fixed(tsr_coltype t) { return t != TSR_COL_STRING && t != TSR_COL_DICT; }

/* The error of row i of the chunk. */
static tsr_status row_error(const cast_params *p, int64_t chunk, int64_t i, tsr_status code,
                            const char *what, const char *text, size_t len) {
  char row[64];
  if (p->row_start != NULL)
    snprintf(row, sizeof row, "row %lld", (long long)(p->row_start[chunk] + i));
  else
    snprintf(row, sizeof row, "row %lld of chunk %lld", (long long)i, (long long)chunk);
  if (len > 64)
    len = 64;
  return tsr_error_set(code, "tsr_frame_cast: column '%s' %s: '%.*s' %s %s", p->name, row, (int)len,
                       text, what, tsr_type_name(p->to));
}

/* ---- numeric blocks ------------------------------------------------------------------- */

static void load(tsr_coltype t, const void *v, int64_t a, int64_t n, int64_t *iv, uint64_t *uv,
                 double *fv) {
  switch (t) {
#define L(ID, T, DST)                                     \
  case ID:                                                \
    for (int64_t i = 0; i < n; i++)                       \
      DST[i] = (__typeof__(DST[0]))((const T *)v)[a + i]; \
    break;
    L(TSR_COL_BOOL, uint8_t, iv)
    L(TSR_COL_INT8, int8_t, iv)
    L(TSR_COL_INT16, int16_t, iv)
    L(TSR_COL_INT32, int32_t, iv)
    L(TSR_COL_INT64, int64_t, iv)
    L(TSR_COL_DATE, int32_t, iv)
    L(TSR_COL_TIMESTAMP, int64_t, iv)
    L(TSR_COL_UINT8, uint8_t, uv)
    L(TSR_COL_UINT16, uint16_t, uv)
    L(TSR_COL_UINT32, uint32_t, uv)
    L(TSR_COL_UINT64, uint64_t, uv)
    L(TSR_COL_FLOAT32, float, fv)
    L(TSR_COL_FLOAT64, double, fv)
#undef L
  default:
    break;
  }
}

/* Stores n canonical values (kind) into the target at a; returns the first
 * index that does not fit (to be checked against validity), or n. */
static int64_t store(tsr_coltype t, int kind, void *out, int64_t a, int64_t from, int64_t n,
                     const int64_t *iv, const uint64_t *uv, const double *fv) {
  int64_t i = from;
#define LOOP(T, OK, VAL)          \
  for (; i < n; i++) {            \
    if (!(OK))                    \
      return i;                   \
    ((T *)out)[a + i] = (T)(VAL); \
  }                               \
  return n;
#define INTO_INT(T, LO, HI, FLO, FHI)                                 \
  if (kind == K_INT) {                                                \
    LOOP(T, iv[i] >= (LO) && iv[i] <= (HI), iv[i])                    \
  } else if (kind == K_UINT) {                                        \
    LOOP(T, uv[i] <= (uint64_t)(HI), uv[i])                           \
  } else {                                                            \
    LOOP(T, rint(fv[i]) >= (FLO) && rint(fv[i]) < (FHI), rint(fv[i])) \
  }
#define INTO_UINT(T, HI, FHI)                                     \
  if (kind == K_INT) {                                            \
    LOOP(T, iv[i] >= 0 && (uint64_t)iv[i] <= (HI), iv[i])         \
  } else if (kind == K_UINT) {                                    \
    LOOP(T, uv[i] <= (HI), uv[i])                                 \
  } else {                                                        \
    LOOP(T, rint(fv[i]) >= 0 && rint(fv[i]) < (FHI), rint(fv[i])) \
  }
  switch (t) {
  case TSR_COL_BOOL:
    if (kind == K_INT) {
      LOOP(uint8_t, true, iv[i] != 0)
    } else if (kind == K_UINT) {
      LOOP(uint8_t, true, uv[i] != 0)
    } else {
      LOOP(uint8_t, fv[i] == fv[i], fv[i] != 0)
    }
  case TSR_COL_INT8:
    INTO_INT(int8_t, INT8_MIN, INT8_MAX, -128.0, 128.0)
  case TSR_COL_INT16:
    INTO_INT(int16_t, INT16_MIN, INT16_MAX, -32768.0, 32768.0)
  case TSR_COL_INT32:
    INTO_INT(int32_t, INT32_MIN, INT32_MAX, -2147483648.0, 2147483648.0)
  case TSR_COL_INT64:
    INTO_INT(int64_t, INT64_MIN, INT64_MAX, -9223372036854775808.0, 9223372036854775808.0)
  case TSR_COL_UINT8:
    INTO_UINT(uint8_t, UINT8_MAX, 256.0)
  case TSR_COL_UINT16:
    INTO_UINT(uint16_t, UINT16_MAX, 65536.0)
  case TSR_COL_UINT32:
    INTO_UINT(uint32_t, UINT32_MAX, 4294967296.0)
  case TSR_COL_UINT64:
    INTO_UINT(uint64_t, UINT64_MAX, 18446744073709551616.0)
  case TSR_COL_FLOAT32:
    if (kind == K_INT) {
      LOOP(float, true, iv[i])
    } else if (kind == K_UINT) {
      LOOP(float, true, uv[i])
    } else {
      LOOP(float, !isfinite(fv[i]) || fabs(fv[i]) < 0x1.ffffffp127, fv[i])
    }
  case TSR_COL_FLOAT64:
    if (kind == K_INT) {
      LOOP(double, true, iv[i])
    } else if (kind == K_UINT) {
      LOOP(double, true, uv[i])
    } else {
      LOOP(double, true, fv[i])
    }
  default:
    return from;
  }
#undef INTO_UINT
#undef INTO_INT
#undef LOOP
}

static const int64_t per_s[4] = {1, 1000, 1000000, 1000000000};

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Dates and timestamps: converts value i; false when it does not fit. */
static bool time_convert(tsr_type from, tsr_type to, int64_t v, void *out, int64_t i) {
  if (from.id == TSR_COL_DATE) { /* to timestamp */
    int64_t r;
    if (__builtin_mul_overflow(v, 86400 * per_s[to.unit], &r))
      return false;
    ((int64_t *)out)[i] = r;
    return true;
  }
  if (to.id == TSR_COL_DATE) {
    int64_t d = floor_div(v, 86400 * per_s[from.unit]);
    if (d < INT32_MIN || d > INT32_MAX)
      return false;
    ((int32_t *)out)[i] = (int32_t)d;
    return true;
  }
  int64_t r;
  if (to.unit >= from.unit) {
    if (__builtin_mul_overflow(v, per_s[to.unit] / per_s[from.unit], &r))
      return false;
  } else {
    r = floor_div(v, per_s[from.unit] / per_s[to.unit]);
  }
  ((int64_t *)out)[i] = r;
  return true;
}

/* ---- the kernel ----------------------------------------------------------------------- */

static bool valid_at(const tsr__colread *r, int64_t i) {
  return r->validity == NULL || tsr__bit_get(r->validity, i);
}

static tsr_status cast_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const cast_params *p = t.node->params;
  tsr__ftask_init_output(call);
  tsr__colread r;
  tsr__colread_get(&p->ref, call, &r);
  tsr__colchunk *out = tsr__tablechunk_col(call->output, 0);
  out->rows = r.rows;
  out->null_count =
      r.validity ? tsr__ops_copy_bits(tsr__colchunk_validity(out), 0, r.validity, 0, r.rows) : 0;
  void *ov = tsr__colchunk_values(out);
  tsr_coltype from = p->from.id, to = p->to.id;
  size_t ow = tsr_type_width(p->to);
  if (is_fixed(from) && is_fixed(to)) {
    int64_t iv[BLOCK];
    uint64_t uv[BLOCK];
    double fv[BLOCK];
    int kf = kind_of(from);
    for (int64_t a = 0; a < r.rows; a += BLOCK) {
      int64_t n = r.rows - a < BLOCK ? r.rows - a : BLOCK;
      load(from, r.values, a, n, iv, uv, fv);
      if (kf == K_TIME || kind_of(to) == K_TIME) {
        for (int64_t i = 0; i < n; i++)
          if (!time_convert(p->from, p->to, iv[i], ov, a + i)) {
            if (valid_at(&r, a + i)) {
              char text[TSR__VT_MAX];
              size_t len = tsr__vt_format(p->from, r.values, a + i, text);
              return row_error(p, t.chunk, a + i, TSR_EOVERFLOW, "is out of range for", text, len);
            }
            memset((unsigned char *)ov + (size_t)(a + i) * ow, 0, ow);
          }
        continue;
      }
      for (int64_t i = 0; (i = store(to, kf, ov, a, i, n, iv, uv, fv)) < n; i++) {
        if (valid_at(&r, a + i)) {
          char text[TSR__VT_MAX];
          size_t len = tsr__vt_format(p->from, r.values, a + i, text);
          return row_error(p, t.chunk, a + i, TSR_EOVERFLOW, "is out of range for", text, len);
        }
        memset((unsigned char *)ov + (size_t)(a + i) * ow, 0, ow);
      }
    }
    return TSR_OK;
  }
  if (from == TSR_COL_STRING && is_fixed(to)) {
    const tsr_string_view *v = r.values;
    for (int64_t i = 0; i < r.rows; i++) {
      unsigned char *dst = (unsigned char *)ov + (size_t)i * ow;
      if (!valid_at(&r, i)) {
        memset(dst, 0, ow);
        continue;
      }
      const char *s = tsr_string_view_data(&v[i], r.data);
      if (!tsr__vt_parse(p->to, s, v[i].length, dst))
        return row_error(p, t.chunk, i, TSR_EPARSE, "is not a value of type", s, v[i].length);
    }
    return TSR_OK;
  }
  if (from == TSR_COL_DICT && is_fixed(to)) {
    const int32_t *codes = r.values;
    for (int64_t i = 0; i < r.rows; i++) {
      unsigned char *dst = (unsigned char *)ov + (size_t)i * ow;
      if (!valid_at(&r, i)) {
        memset(dst, 0, ow);
        continue;
      }
      int32_t c = codes[i];
      if (!p->dict_ok[c]) {
        size_t len;
        const char *s = tsr__dict_str(p->src_dict, c, &len);
        return row_error(p, t.chunk, i, TSR_EPARSE, "is not a value of type", s, len);
      }
      memcpy(dst, p->dict_vals + (size_t)c * ow, ow);
    }
    return TSR_OK;
  }
  if (is_fixed(from) && to == TSR_COL_STRING) {
    tsr_string_view *v = ov;
    for (int64_t i = 0; i < r.rows; i++) {
      if (!valid_at(&r, i)) {
        memset(&v[i], 0, sizeof v[i]);
        continue;
      }
      char text[TSR__VT_MAX];
      size_t len = tsr__vt_format(p->from, r.values, i, text);
      v[i] = tsr__view_make(out, text, (uint32_t)len);
    }
    return TSR_OK;
  }
  if (from == TSR_COL_DICT && to == TSR_COL_STRING) {
    /* Each long dictionary string is written once per chunk, when first used. */
    const tsr__dict *d = p->src_dict;
    int64_t *where = NULL;
    TSR_TRY(tsr__alloc_array(p->ctx, (size_t)d->size + 1, sizeof *where, "string offsets",
                             (void **)&where));
    for (int64_t c = 0; c < d->size; c++)
      where[c] = -1;
    const int32_t *codes = r.values;
    tsr_string_view *v = ov;
    for (int64_t i = 0; i < r.rows; i++) {
      if (!valid_at(&r, i)) {
        memset(&v[i], 0, sizeof v[i]);
        continue;
      }
      size_t len;
      const char *s = tsr__dict_str(d, codes[i], &len);
      if (len <= 12 || where[codes[i]] < 0) {
        if (len > 12)
          where[codes[i]] = (int64_t)out->data_bytes;
        v[i] = tsr__view_make(out, s, (uint32_t)len);
      } else {
        memset(&v[i], 0, sizeof v[i]);
        v[i].length = (uint32_t)len;
        memcpy(v[i].u.ref.prefix, s, 4);
        v[i].u.ref.offset = (uint32_t)where[codes[i]];
      }
    }
    tsr_free(p->ctx, where);
    return TSR_OK;
  }
  /* string -> dict */
  const tsr_string_view *v = r.values;
  int32_t *codes = ov;
  for (int64_t i = 0; i < r.rows; i++) {
    if (!valid_at(&r, i)) {
      codes[i] = 0;
      continue;
    }
    const char *s = tsr_string_view_data(&v[i], r.data);
    int64_t c = tsr__dict_find(p->dst_dict, s, v[i].length);
    if (c < 0) /* the distinct values were computed from this very column */
      return tsr_error_set(TSR_EINTERNAL,
                           "tsr_frame_cast: column '%s': a string is missing from "
                           "the dictionary computed for it",
                           p->name);
    codes[i] = (int32_t)c;
  }
  return TSR_OK;
}

static tsr_status lower_cast(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  return tsr__fnode_lower_map(e, g, in, out, "frame_cast", cast_kernel, NULL, 0);
}

static void hash_dict(tsr__hash *h, const tsr__dict *d) {
  if (d == NULL)
    return;
  tsr__hash_u64(h, (uint64_t)d->size);
  tsr__hash_i64s(h, d->offsets, (int)(d->size + 1));
  tsr__hash_bytes(h, d->data, d->size > 0 ? (size_t)d->offsets[d->size] : 0);
}

static void hash_cast(const tsr__expr *e, tsr__hash *h) {
  const cast_params *p = e->params;
  tsr__fnode_hash(&p->base, h);
  tsr__ops_hash_ref(h, &p->ref);
  tsr__hash_u64(h, (uint64_t)p->to.id);
  tsr__hash_u64(h, (uint64_t)p->to.unit);
  hash_dict(h, p->src_dict);
  hash_dict(h, p->dst_dict);
}

static const tsr__op op_cast = {"frame_cast", lower_cast, tsr__fnode_destroy_params,
                                false,        NULL,       hash_cast};

/* ---- building ------------------------------------------------------------------------- */

typedef struct strref {
  const char *s;
  size_t n;
} strref;

static int compare_strref(const void *a, const void *b) {
  const strref *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

/* The sorted distinct values of string column k (computes it). */
static tsr_status distinct_strings(tsr_frame *f, int k, tsr__dict **out) {
  tsr_ctx *ctx = f->ctx;
  tsr_frame *one = NULL;
  tsr_frame_result *res = NULL;
  strref *all = NULL;
  int64_t *offsets = NULL;
  char *data = NULL;
  tsr_status status;
  const char *names[1] = {f->cols[k].name};
  TSR__TRY_GOTO(status, tsr_frame_select(f, 1, names, &one));
  TSR__TRY_GOTO(status, tsr_frame_compute(one, NULL, &res));
  int64_t rows = tsr_frame_result_nrows(res), m = 0, bytes = 0;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)rows + 1, sizeof *all, "distinct strings",
                                         (void **)&all));
  for (int64_t c = 0; c < tsr_frame_result_nchunks(res); c++) {
    tsr_column_chunk ch;
    TSR__TRY_GOTO(status, tsr_frame_result_chunk(res, 0, c, &ch));
    const tsr_string_view *v = ch.values;
    for (int64_t i = 0; i < ch.rows; i++)
      if (ch.validity == NULL || tsr__bit_get(ch.validity, i)) {
        all[m].s = tsr_string_view_data(&v[i], ch.data);
        all[m++].n = v[i].length;
      }
  }
  qsort(all, (size_t)m, sizeof *all, compare_strref);
  int64_t u = 0;
  for (int64_t i = 0; i < m; i++)
    if (i == 0 || compare_strref(&all[i - 1], &all[i]) != 0) {
      all[u++] = all[i];
      bytes += (int64_t)all[i].n;
    }
  TSR__CHECK_GOTO(status, u <= INT32_MAX, TSR_EINVAL,
                  "tsr_frame_cast: column '%s' has %lld distinct strings; a dictionary holds at "
                  "most 2^31 - 1",
                  f->cols[k].name, (long long)u);
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)u + 1, sizeof *offsets, "dictionary",
                                         (void **)&offsets));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)bytes + 1, (void **)&data));
  offsets[0] = 0;
  for (int64_t i = 0; i < u; i++) {
    memcpy(data + offsets[i], all[i].s, all[i].n);
    offsets[i + 1] = offsets[i] + (int64_t)all[i].n;
  }
  status = tsr__dict_create(ctx, "tsr_frame_cast", u, offsets, data, out);
fail:
  tsr_free(ctx, data);
  tsr_free(ctx, offsets);
  tsr_free(ctx, all);
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&one);
  return status;
}

static bool castable(tsr_coltype from, tsr_coltype to) {
  if (from == to || from == TSR_COL_STRING || to == TSR_COL_STRING || from == TSR_COL_DICT ||
      to == TSR_COL_DICT)
    return true;
  bool ft = kind_of(from) == K_TIME, tt = kind_of(to) == K_TIME;
  return ft == tt;
}

tsr_status tsr_frame_cast(tsr_frame *f, const char *name, tsr_type type, tsr_frame **out) {
  static const char fn[] = "tsr_frame_cast";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK((unsigned)type.id < TSR_NUM_COLTYPES, TSR_EINVAL, "%s: type %d is not a tsr_coltype",
            fn, (int)type.id);
  if (type.id != TSR_COL_TIMESTAMP)
    type.unit = 0;
  TSR_CHECK((unsigned)type.unit < 4, TSR_EINVAL, "%s: time unit %d", fn, (int)type.unit);
  int k = 0;
  TSR_TRY(tsr__frame_find(f, fn, name, &k));
  tsr_ctx *ctx = f->ctx;
  tsr_type from = f->cols[k].type;
  if (from.id == type.id && from.unit == type.unit)
    return tsr__frame_make(ctx, f->ncols, f->cols, f->rows, out);
  TSR_CHECK(castable(from.id, type.id), TSR_EDTYPE, "%s: column '%s' is %s; it cannot become %s",
            fn, name, tsr_type_name(from), tsr_type_name(type));
  if (type.id == TSR_COL_DICT && from.id != TSR_COL_STRING) { /* through text */
    tsr_frame *text = NULL;
    TSR_TRY(tsr_frame_cast(f, name, (tsr_type){TSR_COL_STRING, 0}, &text));
    tsr_status status = tsr_frame_cast(text, name, type, out);
    tsr_frame_destroy(&text);
    return status;
  }
  int64_t nchunks = f->rows->nchunks;
  tsr_status status = TSR_OK;
  cast_params *p = NULL;
  int64_t *data_cap = NULL;
  tsr__expr *node = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->ctx = ctx;
  p->base.destroy_extra = cast_destroy;
  p->from = from;
  p->to = type;
  snprintf(p->name, sizeof p->name, "%s", name);
  p->ref = (tsr__colref){0, f->cols[k].slot, f->cols[k].raw, from};
  TSR__TRY_GOTO(status, tsr__ops_row_starts(ctx, f->rows, &p->row_start));
  if (from.id == TSR_COL_DICT) {
    p->src_dict = f->cols[k].dict;
    tsr__dict_retain(p->src_dict);
  }
  if (from.id == TSR_COL_DICT && is_fixed(type.id)) {
    const tsr__dict *d = p->src_dict;
    size_t w = tsr_type_width(type);
    TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)d->size + 1, w, (void **)&p->dict_vals));
    TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)d->size + 1, 1, (void **)&p->dict_ok));
    for (int64_t c = 0; c < d->size; c++) {
      size_t len;
      const char *s = tsr__dict_str(d, c, &len);
      p->dict_ok[c] = tsr__vt_parse(type, s, len, p->dict_vals + (size_t)c * w);
    }
  }
  if (from.id == TSR_COL_STRING && type.id == TSR_COL_DICT)
    TSR__TRY_GOTO(status, distinct_strings(f, k, &p->dst_dict));
  if (type.id == TSR_COL_STRING) {
    TSR__TRY_GOTO(status,
                  tsr_calloc(ctx, (size_t)nchunks + 1, sizeof *data_cap, (void **)&data_cap));
    int64_t per_row = 0, dict_long = 0;
    if (from.id == TSR_COL_DICT) {
      const tsr__dict *d = p->src_dict;
      for (int64_t c = 0; c < d->size; c++) {
        int64_t len = d->offsets[c + 1] - d->offsets[c];
        if (len > 12) {
          per_row = len > per_row ? len : per_row;
          dict_long += len;
        }
      }
    } else {
      int64_t m = (int64_t)tsr__vt_max_len(from);
      per_row = m > 12 ? m : 0;
    }
    for (int64_t c = 0; c < nchunks; c++) {
      int64_t cap = 0;
      TSR__CHECK_GOTO(status, tsr__size_mul(f->rows->cap[c], per_row, &cap), TSR_EINVAL,
                      "%s: chunk %lld is too big", fn, (long long)c);
      data_cap[c] = from.id == TSR_COL_DICT && dict_long < cap ? dict_long : cap;
    }
  }
  {
    tsr__expr *input = f->cols[k].node;
    cast_params *params = p;
    p = NULL; /* the node owns it now */
    TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_cast, f->rows, 1, &type, data_cap, 1, &input,
                                            params, &node));
    params = node->params;
    TSR__TRY_GOTO(status, tsr__ops_replace_col(f, k, node, 0, type, params->dst_dict, out));
  }
fail:
  if (p != NULL) {
    cast_destroy(&p->base);
    tsr_free(ctx, p);
  }
  tsr_free(ctx, data_cap);
  tsr__expr_release(&node);
  return status;
}
