/* colprog.c — column programs (colprog.h): building them with their type
 * rules, and running them per row chunk as assign and predicate nodes.
 *
 * A program is a list of values in SSA form; value i is defined by
 * instruction i and reads only earlier values.  A task (one row chunk)
 * gives every value a buffer of TSR__CP_BATCH entries and a byte mask
 * (1 = valid), then, batch by batch, runs each instruction's typed loop
 * over the batch: no per-row dispatch, no per-value allocation.  Column
 * loads point into the input chunk (no copy) and expand a validity bitmap
 * only when the chunk has nulls; a value's mask is NULL while it has no
 * nulls, so the common case costs no mask work at all.  Constants (and
 * values computed from constants only) are filled once per task.  The
 * result's last instruction writes straight into the output chunk when it
 * can.  Strings are (pointer, length) pairs into the input chunk, the
 * program's literals, a dictionary, or a per-value scratch buffer
 * (lower/upper), grown per task, never per value.
 *
 * Runtime errors are values too: an instruction that overflows or fails a
 * cast flags the rows in its register's error bytes (reg.e, NULL while
 * none), operands' flags are ORed into their users', a select takes the
 * chosen side's, and a batch raises only when its result has a flagged
 * row, naming the instruction found by following the flags back.
 *
 * Tuned for the filter_assign workload: `v1 * v3 + v2` is four loops over
 * L1-resident batches between one streaming read of each column and one
 * streaming write of the result. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "colprog.h"
#include "value_text.h"

/* ---- values ------------------------------------------------------------------------------ */

typedef enum icode {
  I_LOAD = 0,
  I_CONST,
  I_CAST,   /* numeric src_dt -> dt */
  I_ARITH,  /* op in dt */
  I_NEGABS, /* op NEG or ABS in dt */
  I_MATH,   /* op in dt (float32 or float64) */
  I_CMP,    /* op on src_dt -> bool */
  I_SCMP,   /* op on strings -> bool */
  I_AND,
  I_OR,
  I_NOT,
  I_ISNULL,
  I_SMATCH, /* like / contains / starts_with */
  I_LENGTH, /* string -> int64 */
  I_CASE,   /* lower / upper */
  I_TAB,    /* dictionary code -> table entry of dt */
  I_DECODE, /* dictionary code -> string */
  I_DATEPART,
  I_SELECT,  /* a ? b : x3 (a: bool) */
  I_UCAST,   /* CAST / TRY_CAST from a's type to type (aux: try) */
  I_CONCAT,  /* a || b (strings) */
  I_SUBSTR,  /* substr(a, b[, x3]) */
  I_TRIM,    /* op TRIM / LTRIM / RTRIM */
  I_REPLACE, /* replace(a, b, x3) */
  I_EPOCH,   /* date or timestamp -> float64 seconds */
  I_DTRUNC,  /* date_trunc(aux, a) -> timestamp */
} icode;

#define DT_STR TSR_NUM_DTYPES /* a (pointer, length) string in a batch */

typedef enum ckind { C_NONE = 0, C_INT, C_UINT, C_FLOAT, C_BOOL, C_STR, C_NULL } ckind;

typedef struct sv {
  const char *p;
  uint64_t len;
} sv;

typedef struct cp_val {
  uint8_t code;   /* icode */
  uint8_t op;     /* tsr__cp_op */
  uint8_t dt;     /* storage in a batch: a tsr_dtype, or DT_STR */
  uint8_t src_dt; /* I_CAST, I_CMP: the operands' dtype */
  uint8_t ck;     /* I_CONST: ckind */
  bool is_const;  /* computed from constants only */
  bool literal;   /* a literal as written (weak in promotion) */
  tsr_type type;  /* id TSR_NUM_COLTYPES: the null literal */
  tsr__dict *dict; /* TSR_COL_DICT values: one reference */
  int32_t a, b;
  int32_t x3;  /* I_SELECT, I_SUBSTR, I_REPLACE: the third operand (-1: none) */
  int32_t aux; /* I_UCAST: try; I_DTRUNC: the unit */
  int32_t col; /* I_LOAD: the frame's column */
  union {
    int64_t i;
    uint64_t u;
    double f;
  } c;
  char *s; /* I_CONST strings (owned) */
  size_t slen;
  void *tab; /* I_TAB: one entry per dictionary code (owned) */
  int64_t tab_n;
  char *label; /* owned; may be NULL */
} cp_val;

struct tsr__colprog {
  _Atomic uint32_t refs;
  tsr_ctx *ctx;
  tsr_frame *f; /* one reference */
  cp_val *v;
  int n, cap;
};

/* clang-format off */
static const char *const op_names[TSR__CP_NUM_OPS] = {
    "add",     "subtract", "multiply", "divide",      "integer-divide", "take the remainder of",
    "take the power of",
    "compare", "compare",  "compare",  "compare",     "compare",        "compare",
    "and",     "or",       "like",     "ilike",       "contains",       "starts_with",
    "concatenate",
    "negate",  "not",      "is_null",  "abs",         "sqrt",           "exp",
    "log",     "log10",    "log2",     "sin",         "cos",            "tan",
    "floor",   "ceil",     "round",    "trunc",       "lower",          "upper",
    "length",  "year",     "month",    "day",         "hour",           "trim",
    "ltrim",   "rtrim",    "minute",   "second",      "dayofweek",      "isodow",
    "dayofyear", "quarter", "week",    "epoch"};
/* clang-format on */

const char *tsr__cp_op_name(tsr__cp_op op) {
  return (unsigned)op < TSR__CP_NUM_OPS ? op_names[op] : "invalid";
}

tsr_status tsr__colprog_create(tsr_frame *f, tsr__colprog **out) {
  *out = NULL;
  tsr__colprog *p;
  TSR_TRY(tsr_calloc(f->ctx, 1, sizeof *p, (void **)&p));
  atomic_init(&p->refs, 1);
  p->ctx = f->ctx;
  /* The frame is kept for its columns' nodes and capacities: a new handle
   * on the same columns. */
  tsr_status s = tsr__frame_make(f->ctx, f->ncols, f->cols, f->rows, &p->f);
  if (s != TSR_OK) {
    tsr_free(f->ctx, p);
    return s;
  }
  p->f->csv_bad_rows = f->csv_bad_rows;
  *out = p;
  return TSR_OK;
}

static void prog_release(tsr__colprog *p) {
  if (p == NULL || atomic_fetch_sub(&p->refs, 1) != 1)
    return;
  for (int i = 0; i < p->n; i++) {
    tsr__dict_release(&p->v[i].dict);
    tsr_free(p->ctx, p->v[i].s);
    tsr_free(p->ctx, p->v[i].tab);
    tsr_free(p->ctx, p->v[i].label);
  }
  tsr_free(p->ctx, p->v);
  tsr_frame_destroy(&p->f);
  tsr_free(p->ctx, p);
}

void tsr__colprog_destroy(tsr__colprog **pp) {
  if (pp == NULL)
    return;
  prog_release(*pp);
  *pp = NULL;
}

static tsr_status push(tsr__colprog *p, const cp_val *v, int *out) {
  if (p->n == p->cap) {
    int cap = p->cap ? 2 * p->cap : 16;
    TSR_TRY(tsr__grow_array(p->ctx, (void **)&p->v, (size_t)p->n, (size_t)cap, sizeof *p->v,
                            "column program"));
    p->cap = cap;
  }
  p->v[p->n] = *v;
  *out = p->n++;
  return TSR_OK;
}

tsr_type tsr__colprog_type(const tsr__colprog *p, int v) { return p->v[v].type; }

static const char *type_name(tsr_type t) {
  return t.id == TSR_NUM_COLTYPES ? "null" : tsr_type_name(t);
}
const char *tsr__colprog_type_name(const tsr__colprog *p, int v) {
  return type_name(p->v[v].type);
}

tsr_status tsr__colprog_label(tsr__colprog *p, int v, const char *text, size_t len) {
  if (len > 200)
    len = 200;
  char *s;
  TSR_TRY(tsr_alloc(p->ctx, len + 3, (void **)&s));
  s[0] = '\'';
  memcpy(s + 1, text, len);
  s[len + 1] = '\'';
  s[len + 2] = '\0';
  tsr_free(p->ctx, p->v[v].label);
  p->v[v].label = s;
  return TSR_OK;
}

static tsr_coltype coltype_of_dt(tsr_dtype d) {
  static const tsr_coltype map[TSR_NUM_DTYPES] = {
      TSR_COL_BOOL,   TSR_COL_INT8,   TSR_COL_INT16,   TSR_COL_INT32,  TSR_COL_INT64, TSR_COL_UINT8,
      TSR_COL_UINT16, TSR_COL_UINT32, TSR_COL_UINT64, TSR_COL_FLOAT32, TSR_COL_FLOAT64};
  return map[d];
}
static tsr_type type_of_dt(tsr_dtype d) { return (tsr_type){coltype_of_dt(d), 0}; }

static bool is_numeric(tsr_type t) { return t.id >= TSR_COL_INT8 && t.id <= TSR_COL_FLOAT64; }
static bool is_stringy(tsr_type t) { return t.id == TSR_COL_STRING || t.id == TSR_COL_DICT; }

tsr_status tsr__colprog_column(tsr__colprog *p, int col, int *out) {
  TSR_CHECK(col >= 0 && col < p->f->ncols, TSR_EINVAL, "column %d out of range", col);
  const tsr__col *c = &p->f->cols[col];
  cp_val v = {.code = I_LOAD, .col = col, .type = c->type};
  switch (c->type.id) {
  case TSR_COL_STRING:
    v.dt = DT_STR;
    break;
  default:
    v.dt = (uint8_t)tsr_type_dtype(c->type);
    break;
  }
  if (c->dict != NULL) {
    v.dict = c->dict;
    tsr__dict_retain(c->dict);
  }
  return push(p, &v, out);
}

tsr_status tsr__colprog_int(tsr__colprog *p, int64_t i, bool is_uint, int *out) {
  cp_val v = {.code = I_CONST, .is_const = true, .literal = true};
  if (is_uint) {
    v.ck = C_UINT;
    v.dt = TSR_UINT64;
  } else {
    v.ck = C_INT;
    v.dt = TSR_INT64;
  }
  v.type = type_of_dt((tsr_dtype)v.dt);
  v.c.i = i;
  return push(p, &v, out);
}

tsr_status tsr__colprog_float(tsr__colprog *p, double f, int *out) {
  cp_val v = {.code = I_CONST, .is_const = true, .literal = true, .ck = C_FLOAT,
              .dt = TSR_FLOAT64, .type = {TSR_COL_FLOAT64, 0}};
  v.c.f = f;
  return push(p, &v, out);
}

tsr_status tsr__colprog_bool(tsr__colprog *p, bool b, int *out) {
  cp_val v = {.code = I_CONST, .is_const = true, .literal = true, .ck = C_BOOL, .dt = TSR_BOOL,
              .type = {TSR_COL_BOOL, 0}};
  v.c.i = b;
  return push(p, &v, out);
}

tsr_status tsr__colprog_string(tsr__colprog *p, const char *s, size_t len, int *out) {
  cp_val v = {.code = I_CONST, .is_const = true, .literal = true, .ck = C_STR, .dt = DT_STR,
              .type = {TSR_COL_STRING, 0}};
  TSR_TRY(tsr_alloc(p->ctx, len + 1, (void **)&v.s));
  memcpy(v.s, s, len);
  v.s[len] = '\0';
  v.slen = len;
  tsr_status st = push(p, &v, out);
  if (st != TSR_OK)
    tsr_free(p->ctx, v.s);
  return st;
}

tsr_status tsr__colprog_null(tsr__colprog *p, int *out) {
  cp_val v = {.code = I_CONST, .is_const = true, .literal = true, .ck = C_NULL, .dt = TSR_BOOL,
              .type = {TSR_NUM_COLTYPES, 0}};
  return push(p, &v, out);
}

/* A null constant of type t (the null literal meeting a typed operand). */
static tsr_status typed_null(tsr__colprog *p, tsr_type t, int *out) {
  cp_val v = {.code = I_CONST, .is_const = true, .ck = C_NULL, .type = t};
  if (t.id == TSR_COL_STRING || t.id == TSR_COL_DICT) {
    v.type = (tsr_type){TSR_COL_STRING, 0};
    v.dt = DT_STR;
  } else {
    v.dt = (uint8_t)tsr_type_dtype(t);
  }
  return push(p, &v, out);
}

/* The third operand of v, or -1. */
static int third(const cp_val *v) {
  return v->code == I_SELECT || v->code == I_SUBSTR || v->code == I_REPLACE ? v->x3 : -1;
}

/* Appends an instruction on a (and b, x3); is_const when its inputs are. */
static tsr_status emit(tsr__colprog *p, cp_val v, int *out) {
  int c3 = third(&v);
  v.is_const = p->v[v.a].is_const && (v.b < 0 || p->v[v.b].is_const) &&
               (c3 < 0 || p->v[c3].is_const);
  if (v.code == I_LOAD)
    v.is_const = false;
  return push(p, &v, out);
}

static tsr_status cast_to(tsr__colprog *p, int a, tsr_dtype dt, int *out) {
  if (p->v[a].dt == dt && p->v[a].type.id != TSR_COL_DATE &&
      p->v[a].type.id != TSR_COL_TIMESTAMP) {
    *out = a;
    return TSR_OK;
  }
  cp_val v = {.code = I_CAST, .dt = (uint8_t)dt, .src_dt = p->v[a].dt, .type = type_of_dt(dt),
              .a = a, .b = -1};
  return emit(p, v, out);
}

/* ---- literal fitting (weak literals) ---- */

static bool int_fits(int64_t i, bool is_uint, tsr_dtype d) {
  if (is_uint)
    return d == TSR_UINT64 || (tsr_dtype_is_float(d));
  switch (d) {
  case TSR_INT8:
    return i >= INT8_MIN && i <= INT8_MAX;
  case TSR_INT16:
    return i >= INT16_MIN && i <= INT16_MAX;
  case TSR_INT32:
    return i >= INT32_MIN && i <= INT32_MAX;
  case TSR_INT64:
    return true;
  case TSR_UINT8:
    return i >= 0 && i <= UINT8_MAX;
  case TSR_UINT16:
    return i >= 0 && i <= UINT16_MAX;
  case TSR_UINT32:
    return i >= 0 && i <= UINT32_MAX;
  case TSR_UINT64:
    return i >= 0;
  case TSR_FLOAT32:
  case TSR_FLOAT64:
    return true;
  default:
    return false;
  }
}

/* A copy of literal a (an int or float constant) as dtype dt. */
static tsr_status literal_as(tsr__colprog *p, int a, tsr_dtype dt, int *out) {
  cp_val v = p->v[a];
  v.dt = (uint8_t)dt;
  v.type = type_of_dt(dt);
  v.literal = false;
  v.label = NULL;
  return push(p, &v, out);
}

/* The dtype two numeric operands compute in, with literals weak: an int
 * literal takes the other side's type when it fits it, a float literal
 * the other side's float type (float64 next to integers). */
static tsr_status numeric_common(tsr__colprog *p, int *a, int *b, tsr_dtype *ct) {
  for (int side = 0; side < 2; side++) {
    int *lr = side == 0 ? a : b, *or_ = side == 0 ? b : a;
    const cp_val *lit = &p->v[*lr], *other = &p->v[*or_];
    if (!lit->literal || other->literal)
      continue;
    tsr_dtype od = (tsr_dtype)other->dt, want;
    if (lit->ck == C_FLOAT)
      want = tsr_dtype_is_float(od) ? od : TSR_FLOAT64;
    else if (int_fits(lit->c.i, lit->ck == C_UINT, od))
      want = od;
    else
      continue; /* does not fit: promoted as an int64 / uint64 */
    if (want != (tsr_dtype)lit->dt)
      TSR_TRY(literal_as(p, *lr, want, lr));
    break;
  }
  return tsr_dtype_promote((tsr_dtype)p->v[*a].dt, (tsr_dtype)p->v[*b].dt, ct);
}

/* ---- dates ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int64_t *m, int64_t *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  uint64_t doe = (uint64_t)(z - era * 146097);
  uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t yy = (int64_t)yoe + era * 400;
  uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  uint64_t mp = (5 * doy + 2) / 153;
  *d = (int64_t)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int64_t)(mp < 10 ? mp + 3 : mp - 9);
  *y = yy + (*m <= 2);
}

static int64_t units_per_sec(tsr_time_unit u) {
  static const int64_t k[4] = {1, 1000, 1000000, 1000000000};
  return k[u & 3];
}

static bool digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

/* 'YYYY-MM-DD' or, for timestamps, 'YYYY-MM-DD[ |T]HH:MM[:SS[.fff...]]'. */
static bool parse_datetime(const char *s, size_t n, bool want_ts, tsr_time_unit unit,
                           int64_t *out) {
  int y, mo, d, h = 0, mi = 0, se = 0;
  if (n < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
      !digits(s + 8, 2, &d) || mo < 1 || mo > 12 || d < 1)
    return false;
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
    return false;
  int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
  if (!want_ts) {
    if (n != 10)
      return false;
    *out = days;
    return true;
  }
  int64_t frac = 0, ups = units_per_sec(unit);
  if (n > 10) {
    if ((s[10] != ' ' && s[10] != 'T') || n < 16 || !digits(s + 11, 2, &h) || s[13] != ':' ||
        !digits(s + 14, 2, &mi) || h > 23 || mi > 59)
      return false;
    size_t k = 16;
    if (n > 16) {
      if (n < 19 || s[16] != ':' || !digits(s + 17, 2, &se) || se > 59)
        return false;
      k = 19;
      if (n > 19) {
        if (s[19] != '.' || n == 20)
          return false;
        int64_t scale = ups;
        for (k = 20; k < n; k++) {
          if (s[k] < '0' || s[k] > '9')
            return false;
          scale /= 10;
          frac += (s[k] - '0') * scale;
        }
      }
    }
    if (k != n)
      return false;
  }
  *out = ((days * 24 + h) * 60 + mi) * 60 * ups + (int64_t)se * ups + frac;
  return true;
}

/* ---- strings (the scalar functions kernels and dictionary tables share) ---- */

static int sv_cmp(sv a, sv b) {
  size_t n = a.len < b.len ? a.len : b.len;
  int c = n ? memcmp(a.p, b.p, n) : 0;
  if (c != 0)
    return c;
  return a.len < b.len ? -1 : a.len > b.len;
}

static bool cmp_result(tsr__cp_op op, int c) {
  switch (op) {
  case TSR__CP_EQ:
    return c == 0;
  case TSR__CP_NE:
    return c != 0;
  case TSR__CP_LT:
    return c < 0;
  case TSR__CP_LE:
    return c <= 0;
  case TSR__CP_GT:
    return c > 0;
  default:
    return c >= 0;
  }
}

static size_t utf8_len(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += ((unsigned char)s[i] & 0xC0) != 0x80;
  return k;
}

/* One UTF-8 code point's bytes at s (at least 1). */
static size_t cp_bytes(const char *s, size_t n) {
  size_t k = 1;
  while (k < n && ((unsigned char)s[k] & 0xC0) == 0x80)
    k++;
  return k;
}

/* The other case of a letter from U+0080 to U+07FF whose other case lies
 * in that range too, as DuckDB's (utf8proc's) simple case mapping gives it:
 * Latin-1, Latin Extended-A, Greek and Cyrillic; so lower, upper and ILIKE
 * keep every string's byte length.  Other code points map to themselves. */
static uint32_t case2(uint32_t cp, bool upper) {
  bool ext_a =
      (cp >= 0x100 && cp <= 0x137 && cp != 0x130 && cp != 0x131) || (cp >= 0x14A && cp <= 0x177);
  bool ext_a_odd = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E);
  if (upper) {
    if ((cp >= 0xE0 && cp <= 0xFE && cp != 0xF7) || (cp >= 0x3B1 && cp <= 0x3CB && cp != 0x3C2) ||
        (cp >= 0x430 && cp <= 0x44F))
      return cp - 0x20;
    if (cp >= 0x450 && cp <= 0x45F)
      return cp - 0x50;
    if ((ext_a && (cp & 1)) || (ext_a_odd && !(cp & 1)))
      return cp - 1;
    switch (cp) {
    case 0xB5:
      return 0x39C;
    case 0xFF:
      return 0x178;
    case 0x3C2:
      return 0x3A3;
    case 0x3AC:
      return 0x386;
    case 0x3AD:
    case 0x3AE:
    case 0x3AF:
      return cp - 0x25;
    case 0x3CC:
      return 0x38C;
    case 0x3CD:
    case 0x3CE:
      return cp - 0x3F;
    default:
      return cp;
    }
  }
  if ((cp >= 0xC0 && cp <= 0xDE && cp != 0xD7) || (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2) ||
      (cp >= 0x410 && cp <= 0x42F))
    return cp + 0x20;
  if (cp >= 0x400 && cp <= 0x40F)
    return cp + 0x50;
  if ((ext_a && !(cp & 1)) || (ext_a_odd && (cp & 1)))
    return cp + 1;
  switch (cp) {
  case 0x178:
    return 0xFF;
  case 0x386:
    return 0x3AC;
  case 0x388:
  case 0x389:
  case 0x38A:
    return cp + 0x25;
  case 0x38C:
    return 0x3CC;
  case 0x38E:
  case 0x38F:
    return cp + 0x3F;
  default:
    return cp;
  }
}

/* The code point at s (n > 0 bytes) in lower case as ILIKE compares it
 * (ASCII, and the letters case2 maps), and its bytes in *len; other bytes
 * one at a time, never equal to a code point. */
static uint32_t fold_at(const char *s, size_t n, size_t *len) {
  unsigned char c = (unsigned char)s[0];
  *len = 1;
  if (c < 0x80)
    return c >= 'A' && c <= 'Z' ? c + 32u : c;
  if (c >= 0xC2 && c <= 0xDF && n > 1 && ((unsigned char)s[1] & 0xC0) == 0x80) {
    *len = 2;
    return case2(((uint32_t)(c & 0x1F) << 6) | ((unsigned char)s[1] & 0x3Fu), false);
  }
  return 0x200000u | c;
}

/* SQL LIKE: '%' any run, '_' one code point, no escape character; ci:
 * letters match either case (ILIKE: ASCII and the letters case2 maps).  Iterative with one
 * backtrack point (the last '%'), linear in practice. */
static bool like_match(const char *s, size_t n, const char *pat, size_t m, bool ci) {
  size_t i = 0, j = 0, star_j = (size_t)-1, star_i = 0, lp = 1, ls = 1;
  while (i < n) {
    if (j < m && pat[j] == '%') {
      star_j = j++;
      star_i = i;
    } else if (j < m && pat[j] == '_') {
      i += cp_bytes(s + i, n - i);
      j++;
    } else if (j < m && !ci && pat[j] == s[i]) {
      i++;
      j++;
    } else if (j < m && ci && fold_at(pat + j, m - j, &lp) == fold_at(s + i, n - i, &ls)) {
      i += ls;
      j += lp;
    } else if (star_j != (size_t)-1) {
      j = star_j + 1;
      star_i += cp_bytes(s + star_i, n - star_i);
      i = star_i;
    } else {
      return false;
    }
  }
  while (j < m && pat[j] == '%')
    j++;
  return j == m;
}

static bool contains(const char *s, size_t n, const char *t, size_t m) {
  if (m == 0)
    return true;
  if (m > n)
    return false;
  const char *end = s + n - m;
  for (const char *q = s; q <= end; q++) {
    q = memchr(q, t[0], (size_t)(end - q) + 1);
    if (q == NULL)
      return false;
    if (memcmp(q, t, m) == 0)
      return true;
  }
  return false;
}

static bool smatch(tsr__cp_op op, sv s, sv t) {
  switch (op) {
  case TSR__CP_LIKE:
  case TSR__CP_ILIKE:
    return like_match(s.p, s.len, t.p, t.len, op == TSR__CP_ILIKE);
  case TSR__CP_CONTAINS:
    return contains(s.p, s.len, t.p, t.len);
  default:
    return s.len >= t.len && (t.len == 0 || memcmp(s.p, t.p, t.len) == 0);
  }
}

/* lower / upper: ASCII letters, and the two-byte letters case2 maps (the
 * byte length is kept). */
static void case_map(tsr__cp_op op, const char *s, size_t n, char *d) {
  bool up = op != TSR__CP_LOWER;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      d[i++] = (char)(up ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (c >= 'A' && c <= 'Z' ? c + 32 : c));
    } else if (c >= 0xC2 && c <= 0xDF && i + 1 < n && ((unsigned char)s[i + 1] & 0xC0) == 0x80) {
      uint32_t cp = case2(((uint32_t)(c & 0x1F) << 6) | ((unsigned char)s[i + 1] & 0x3Fu), up);
      d[i] = (char)(0xC0 | (cp >> 6));
      d[i + 1] = (char)(0x80 | (cp & 0x3F));
      i += 2;
    } else {
      d[i] = s[i];
      i++;
    }
  }
}

static sv dict_sv(const tsr__dict *d, int64_t i) {
  size_t len;
  const char *s = tsr__dict_str(d, i, &len);
  return (sv){s, len};
}

/* ---- dictionary transforms (at build time) ---- */

static tsr_status dict_table(tsr__colprog *p, int a, tsr_dtype dt, tsr_type type, void *tab,
                             tsr__dict *newdict, int *out) {
  cp_val v = {.code = I_TAB, .dt = (uint8_t)dt, .type = type, .a = a, .b = -1, .tab = tab,
              .tab_n = p->v[a].dict->size, .dict = newdict};
  tsr_status s = emit(p, v, out);
  if (s != TSR_OK) {
    tsr_free(p->ctx, tab);
    tsr__dict_release(&newdict);
  }
  return s;
}

/* A bool per code: op(dict string, literal). */
static tsr_status dict_pred(tsr__colprog *p, tsr__cp_op op, int a, sv lit, int *out) {
  const tsr__dict *d = p->v[a].dict;
  uint8_t *tab;
  TSR_TRY(tsr_alloc(p->ctx, (size_t)d->size + 1, (void **)&tab));
  for (int64_t i = 0; i < d->size; i++) {
    sv s = dict_sv(d, i);
    tab[i] = op >= TSR__CP_LIKE ? smatch(op, s, lit) : cmp_result(op, sv_cmp(s, lit));
  }
  return dict_table(p, a, TSR_BOOL, (tsr_type){TSR_COL_BOOL, 0}, tab, NULL, out);
}

/* Ranks of both dictionaries' strings in their merged order (equal strings
 * equal ranks), as two int32 tables; then an int32 comparison. */
static tsr_status dict_ranks(tsr__colprog *p, int a, int b, int *ra, int *rb) {
  const tsr__dict *da = p->v[a].dict, *db = p->v[b].dict;
  int32_t *ta = NULL, *tb = NULL;
  TSR_TRY(tsr_alloc(p->ctx, ((size_t)da->size + 1) * sizeof *ta, (void **)&ta));
  tsr_status s = tsr_alloc(p->ctx, ((size_t)db->size + 1) * sizeof *tb, (void **)&tb);
  if (s != TSR_OK) {
    tsr_free(p->ctx, ta);
    return s;
  }
  int64_t i = 0, j = 0;
  int32_t r = 0;
  while (i < da->size || j < db->size) {
    int c = i == da->size ? 1 : j == db->size ? -1 : sv_cmp(dict_sv(da, i), dict_sv(db, j));
    if (c <= 0)
      ta[i++] = r;
    if (c >= 0)
      tb[j++] = r;
    r++;
  }
  s = dict_table(p, a, TSR_INT32, (tsr_type){TSR_COL_INT32, 0}, ta, NULL, ra);
  if (s != TSR_OK) {
    tsr_free(p->ctx, tb);
    return s;
  }
  return dict_table(p, b, TSR_INT32, (tsr_type){TSR_COL_INT32, 0}, tb, NULL, rb);
}

/* lower/upper of a dictionary: a new sorted dictionary and a code map.
 * qsort has no context argument in C11: the strings being sorted are
 * passed through a thread-local. */
typedef struct sort_ctx {
  const char *data;
  const int64_t *off;
} sort_ctx;
static _Thread_local sort_ctx g_sort;

static int cmp_idx(const void *x, const void *y) {
  int64_t i = *(const int64_t *)x, j = *(const int64_t *)y;
  sv a = {g_sort.data + g_sort.off[i], (uint64_t)(g_sort.off[i + 1] - g_sort.off[i])};
  sv b = {g_sort.data + g_sort.off[j], (uint64_t)(g_sort.off[j + 1] - g_sort.off[j])};
  int r = sv_cmp(a, b);
  return r ? r : (i > j) - (i < j);
}

static tsr_status dict_case(tsr__colprog *p, tsr__cp_op op, int a, int *out) {
  const tsr__dict *d = p->v[a].dict;
  int64_t n = d->size;
  size_t bytes = (size_t)d->offsets[n];
  char *data = NULL, *ndata = NULL;
  int64_t *order = NULL, *noff = NULL;
  int32_t *map = NULL;
  tsr__dict *nd = NULL;
  tsr_status s;
  TSR__TRY_GOTO(s, tsr_alloc(p->ctx, bytes + 1, (void **)&data));
  TSR__TRY_GOTO(s, tsr_alloc(p->ctx, bytes + 1, (void **)&ndata));
  TSR__TRY_GOTO(s, tsr_alloc(p->ctx, ((size_t)n + 1) * sizeof *order, (void **)&order));
  TSR__TRY_GOTO(s, tsr_alloc(p->ctx, ((size_t)n + 2) * sizeof *noff, (void **)&noff));
  TSR__TRY_GOTO(s, tsr_alloc(p->ctx, ((size_t)n + 1) * sizeof *map, (void **)&map));
  case_map(op, d->data, bytes, data);
  for (int64_t i = 0; i < n; i++)
    order[i] = i;
  g_sort = (sort_ctx){data, d->offsets};
  qsort(order, (size_t)n, sizeof *order, cmp_idx);
  int64_t m = 0;
  size_t used = 0;
  noff[0] = 0;
  for (int64_t k = 0; k < n; k++) {
    int64_t i = order[k];
    sv s1 = {data + d->offsets[i], (uint64_t)(d->offsets[i + 1] - d->offsets[i])};
    if (m == 0 || sv_cmp(s1, (sv){ndata + noff[m - 1], (uint64_t)(noff[m] - noff[m - 1])}) != 0) {
      memcpy(ndata + used, s1.p, s1.len);
      used += s1.len;
      noff[++m] = (int64_t)used;
    }
    map[i] = (int32_t)(m - 1);
  }
  TSR__TRY_GOTO(s, tsr__dict_create(p->ctx, "lower/upper", m, noff, ndata, &nd));
  s = dict_table(p, a, TSR_INT32, (tsr_type){TSR_COL_DICT, 0}, map, nd, out);
  map = NULL;
fail:
  tsr_free(p->ctx, data);
  tsr_free(p->ctx, ndata);
  tsr_free(p->ctx, order);
  tsr_free(p->ctx, noff);
  tsr_free(p->ctx, map);
  return s;
}

static tsr_status decode(tsr__colprog *p, int a, int *out) {
  if (p->v[a].type.id != TSR_COL_DICT) {
    *out = a;
    return TSR_OK;
  }
  cp_val v = {.code = I_DECODE, .dt = DT_STR, .type = {TSR_COL_STRING, 0}, .a = a, .b = -1,
              .dict = p->v[a].dict};
  tsr__dict_retain(v.dict);
  tsr_status s = emit(p, v, out);
  if (s != TSR_OK)
    tsr__dict_release(&v.dict);
  return s;
}

/* ---- building: binary ---- */

static tsr_status type_error(tsr__colprog *p, tsr__cp_op op, int a, int b) {
  if (op >= TSR__CP_EQ && op <= TSR__CP_GE)
    return tsr_error_set(TSR_EDTYPE, "cannot compare %s and %s", tsr__colprog_type_name(p, a),
                         tsr__colprog_type_name(p, b));
  if (op == TSR__CP_AND || op == TSR__CP_OR)
    return tsr_error_set(TSR_EDTYPE, "'%s' needs bool operands, not %s and %s",
                         tsr__cp_op_name(op), tsr__colprog_type_name(p, a),
                         tsr__colprog_type_name(p, b));
  if (op >= TSR__CP_LIKE && op <= TSR__CP_STARTS_WITH)
    return tsr_error_set(TSR_EDTYPE, "%s needs strings, not %s and %s", tsr__cp_op_name(op),
                         tsr__colprog_type_name(p, a), tsr__colprog_type_name(p, b));
  return tsr_error_set(TSR_EDTYPE, "cannot %s %s and %s", tsr__cp_op_name(op),
                       tsr__colprog_type_name(p, a), tsr__colprog_type_name(p, b));
}

static tsr_status concat2(tsr__colprog *p, int a, int b, int *out);

static tsr__cp_op mirror(tsr__cp_op op) {
  switch (op) {
  case TSR__CP_LT:
    return TSR__CP_GT;
  case TSR__CP_LE:
    return TSR__CP_GE;
  case TSR__CP_GT:
    return TSR__CP_LT;
  case TSR__CP_GE:
    return TSR__CP_LE;
  default:
    return op;
  }
}

static bool is_temporal(tsr_type t) { return t.id == TSR_COL_DATE || t.id == TSR_COL_TIMESTAMP; }

tsr_status tsr__colprog_binary(tsr__colprog *p, tsr__cp_op op, int a, int b, int *out) {
  TSR_CHECK(a >= 0 && a < p->n && b >= 0 && b < p->n && op <= TSR__CP_CONCAT, TSR_EINVAL,
            "column program: bad operands");
  if (op == TSR__CP_CONCAT)
    return concat2(p, a, b, out);
  bool cmp = op >= TSR__CP_EQ && op <= TSR__CP_GE;
  bool logic = op == TSR__CP_AND || op == TSR__CP_OR;
  bool strfn = op >= TSR__CP_LIKE && op <= TSR__CP_STARTS_WITH;
  tsr_type ta = p->v[a].type, tb = p->v[b].type;
  bool na = ta.id == TSR_NUM_COLTYPES, nb = tb.id == TSR_NUM_COLTYPES;
  /* The null literal takes its partner's type (bool for logic). */
  if (na || nb) {
    tsr_type t = logic ? (tsr_type){TSR_COL_BOOL, 0} : na ? tb : ta;
    if (na && nb && !logic) {
      if (!cmp && !strfn) /* null + null is the null literal */
        return tsr__colprog_null(p, out);
      t = (tsr_type){TSR_COL_STRING, 0};
    }
    if (na)
      TSR_TRY(typed_null(p, t, &a));
    if (nb)
      TSR_TRY(typed_null(p, t, &b));
    ta = p->v[a].type;
    tb = p->v[b].type;
  }
  if (logic) {
    if (ta.id != TSR_COL_BOOL || tb.id != TSR_COL_BOOL)
      return type_error(p, op, a, b);
    cp_val v = {.code = op == TSR__CP_AND ? I_AND : I_OR, .op = (uint8_t)op, .dt = TSR_BOOL,
                .type = {TSR_COL_BOOL, 0}, .a = a, .b = b};
    return emit(p, v, out);
  }
  if (strfn) {
    if (!is_stringy(ta) || !is_stringy(tb))
      return type_error(p, op, a, b);
    if (ta.id == TSR_COL_DICT && p->v[b].code == I_CONST && p->v[b].ck == C_STR)
      return dict_pred(p, op, a, (sv){p->v[b].s, p->v[b].slen}, out);
    TSR_TRY(decode(p, a, &a));
    TSR_TRY(decode(p, b, &b));
    cp_val v = {.code = I_SMATCH, .op = (uint8_t)op, .dt = TSR_BOOL, .type = {TSR_COL_BOOL, 0},
                .a = a, .b = b};
    return emit(p, v, out);
  }
  if (cmp) {
    /* Dictionaries against string literals: a table over the codes. */
    if (tb.id == TSR_COL_DICT && p->v[a].code == I_CONST && p->v[a].ck == C_STR)
      return tsr__colprog_binary(p, mirror(op), b, a, out);
    if (ta.id == TSR_COL_DICT && p->v[b].code == I_CONST && p->v[b].ck == C_STR)
      return dict_pred(p, op, a, (sv){p->v[b].s, p->v[b].slen}, out);
    if (ta.id == TSR_COL_DICT && tb.id == TSR_COL_DICT) {
      if (p->v[a].dict != p->v[b].dict)
        TSR_TRY(dict_ranks(p, a, b, &a, &b));
      cp_val v = {.code = I_CMP, .op = (uint8_t)op, .dt = TSR_BOOL, .src_dt = TSR_INT32,
                  .type = {TSR_COL_BOOL, 0}, .a = a, .b = b};
      return emit(p, v, out);
    }
    if (is_stringy(ta) && is_stringy(tb)) {
      TSR_TRY(decode(p, a, &a));
      TSR_TRY(decode(p, b, &b));
      cp_val v = {.code = I_SCMP, .op = (uint8_t)op, .dt = TSR_BOOL, .type = {TSR_COL_BOOL, 0},
                  .a = a, .b = b};
      return emit(p, v, out);
    }
    /* Dates and timestamps against each other (same unit) or against a
     * date/time literal. */
    if (is_temporal(ta) || is_temporal(tb)) {
      for (int side = 0; side < 2; side++) {
        int *lr = side == 0 ? &b : &a;
        tsr_type t = side == 0 ? ta : tb;
        cp_val *lit = &p->v[*lr];
        if (!is_temporal(t) || lit->code != I_CONST || lit->ck != C_STR)
          continue;
        int64_t units;
        if (!parse_datetime(lit->s, lit->slen, t.id == TSR_COL_TIMESTAMP, t.unit, &units))
          return tsr_error_set(TSR_EDTYPE, "cannot compare %s and '%s' (not a %s: %s)",
                               type_name(t), lit->s, type_name(t),
                               t.id == TSR_COL_DATE ? "expected 'YYYY-MM-DD'"
                                                    : "expected 'YYYY-MM-DD HH:MM:SS[.fff]'");
        cp_val v = {.code = I_CONST, .is_const = true, .ck = C_INT, .type = t,
                    .dt = t.id == TSR_COL_DATE ? TSR_INT32 : TSR_INT64};
        v.c.i = units;
        TSR_TRY(push(p, &v, lr));
        if (side == 0)
          tb = t;
        else
          ta = t;
      }
      if (ta.id != tb.id || ta.unit != tb.unit)
        return type_error(p, op, a, b);
      cp_val v = {.code = I_CMP, .op = (uint8_t)op, .dt = TSR_BOOL, .src_dt = p->v[a].dt,
                  .type = {TSR_COL_BOOL, 0}, .a = a, .b = b};
      return emit(p, v, out);
    }
    if (ta.id == TSR_COL_BOOL && tb.id == TSR_COL_BOOL) {
      cp_val v = {.code = I_CMP, .op = (uint8_t)op, .dt = TSR_BOOL, .src_dt = TSR_BOOL,
                  .type = {TSR_COL_BOOL, 0}, .a = a, .b = b};
      return emit(p, v, out);
    }
    if (!is_numeric(ta) || !is_numeric(tb))
      return type_error(p, op, a, b);
    tsr_dtype ct;
    TSR_TRY(numeric_common(p, &a, &b, &ct));
    TSR_TRY(cast_to(p, a, ct, &a));
    TSR_TRY(cast_to(p, b, ct, &b));
    cp_val v = {.code = I_CMP, .op = (uint8_t)op, .dt = TSR_BOOL, .src_dt = (uint8_t)ct,
                .type = {TSR_COL_BOOL, 0}, .a = a, .b = b};
    return emit(p, v, out);
  }
  /* arithmetic */
  if (!is_numeric(ta) || !is_numeric(tb))
    return type_error(p, op, a, b);
  tsr_dtype ct;
  TSR_TRY(numeric_common(p, &a, &b, &ct));
  if ((op == TSR__CP_DIV && !tsr_dtype_is_float(ct)) || op == TSR__CP_POW)
    ct = TSR_FLOAT64; /* pow: float64 whatever the operands, as DuckDB's */
  TSR_TRY(cast_to(p, a, ct, &a));
  TSR_TRY(cast_to(p, b, ct, &b));
  cp_val v = {.code = I_ARITH, .op = (uint8_t)op, .dt = (uint8_t)ct, .type = type_of_dt(ct),
              .a = a, .b = b};
  return emit(p, v, out);
}

/* a || b: null if either is; other types cast to their text first. */
static tsr_status concat2(tsr__colprog *p, int a, int b, int *out) {
  const tsr_type str = {TSR_COL_STRING, 0};
  if (p->v[a].type.id == TSR_NUM_COLTYPES || p->v[b].type.id == TSR_NUM_COLTYPES)
    return typed_null(p, str, out);
  TSR_TRY(tsr__colprog_cast(p, a, str, false, &a));
  TSR_TRY(tsr__colprog_cast(p, b, str, false, &b));
  cp_val v = {.code = I_CONCAT, .op = TSR__CP_CONCAT, .dt = DT_STR, .type = str, .a = a, .b = b,
              .x3 = -1};
  return emit(p, v, out);
}

/* ---- building: unary ---- */

tsr_status tsr__colprog_unary(tsr__colprog *p, tsr__cp_op op, int a, int *out) {
  TSR_CHECK(a >= 0 && a < p->n && op >= TSR__CP_NEG && op < TSR__CP_NUM_OPS, TSR_EINVAL,
            "column program: bad operand");
  cp_val *va = &p->v[a];
  tsr_type t = va->type;
  if (op == TSR__CP_IS_NULL) {
    cp_val v = {.code = I_ISNULL, .dt = TSR_BOOL, .type = {TSR_COL_BOOL, 0}, .a = a, .b = -1};
    return emit(p, v, out);
  }
  if (t.id == TSR_NUM_COLTYPES) { /* f(null) is null (not: a null bool) */
    if (op == TSR__CP_NOT)
      return typed_null(p, (tsr_type){TSR_COL_BOOL, 0}, out);
    return tsr__colprog_null(p, out);
  }
  switch (op) {
  case TSR__CP_NOT: {
    if (t.id != TSR_COL_BOOL)
      return tsr_error_set(TSR_EDTYPE, "'not' needs a bool operand, not %s", type_name(t));
    cp_val v = {.code = I_NOT, .dt = TSR_BOOL, .type = t, .a = a, .b = -1};
    return emit(p, v, out);
  }
  case TSR__CP_NEG:
    if (va->literal && (va->ck == C_INT || va->ck == C_FLOAT)) {
      if (va->ck == C_FLOAT)
        return tsr__colprog_float(p, -va->c.f, out);
      if (va->c.i == INT64_MIN)
        return tsr_error_set(TSR_EOVERFLOW, "-(%lld) is out of the int64 range",
                             (long long)va->c.i);
      return tsr__colprog_int(p, -va->c.i, false, out);
    }
    if (va->literal && va->ck == C_UINT) {
      TSR_CHECK(va->c.u == (uint64_t)INT64_MAX + 1, TSR_EOVERFLOW,
                "-%llu is out of the int64 range", (unsigned long long)va->c.u);
      return tsr__colprog_int(p, INT64_MIN, false, out);
    }
    /* fall through */
  case TSR__CP_ABS: {
    if (!is_numeric(t))
      return tsr_error_set(TSR_EDTYPE, "cannot %s %s", tsr__cp_op_name(op), type_name(t));
    tsr_dtype d = (tsr_dtype)va->dt;
    if (!tsr_dtype_is_signed(d)) {
      if (op == TSR__CP_ABS) {
        *out = a;
        return TSR_OK;
      }
      return tsr_error_set(TSR_EDTYPE, "cannot negate %s (unsigned)", type_name(t));
    }
    cp_val v = {.code = I_NEGABS, .op = (uint8_t)op, .dt = (uint8_t)d, .type = t, .a = a, .b = -1};
    return emit(p, v, out);
  }
  case TSR__CP_SQRT:
  case TSR__CP_EXP:
  case TSR__CP_LOG:
  case TSR__CP_LOG10:
  case TSR__CP_LOG2:
  case TSR__CP_SIN:
  case TSR__CP_COS:
  case TSR__CP_TAN:
  case TSR__CP_FLOOR:
  case TSR__CP_CEIL:
  case TSR__CP_ROUND:
  case TSR__CP_TRUNC: {
    if (!is_numeric(t))
      return tsr_error_set(TSR_EDTYPE, "cannot take %s of %s", tsr__cp_op_name(op),
                           type_name(t));
    tsr_dtype d = (tsr_dtype)va->dt;
    if (op >= TSR__CP_FLOOR && !tsr_dtype_is_float(d)) { /* integers are whole already */
      *out = a;
      return TSR_OK;
    }
    tsr_dtype fd = d == TSR_FLOAT32 ? TSR_FLOAT32 : TSR_FLOAT64;
    TSR_TRY(cast_to(p, a, fd, &a));
    cp_val v = {.code = I_MATH, .op = (uint8_t)op, .dt = (uint8_t)fd, .type = type_of_dt(fd),
                .a = a, .b = -1};
    return emit(p, v, out);
  }
  case TSR__CP_LOWER:
  case TSR__CP_UPPER:
  case TSR__CP_LENGTH: {
    if (!is_stringy(t))
      return tsr_error_set(TSR_EDTYPE, "%s needs a string, not %s", tsr__cp_op_name(op),
                           type_name(t));
    if (t.id == TSR_COL_DICT) {
      if (op != TSR__CP_LENGTH)
        return dict_case(p, op, a, out);
      const tsr__dict *d = va->dict;
      int64_t *tab;
      TSR_TRY(tsr_alloc(p->ctx, ((size_t)d->size + 1) * sizeof *tab, (void **)&tab));
      for (int64_t i = 0; i < d->size; i++) {
        sv s = dict_sv(d, i);
        tab[i] = (int64_t)utf8_len(s.p, s.len);
      }
      return dict_table(p, a, TSR_INT64, (tsr_type){TSR_COL_INT64, 0}, tab, NULL, out);
    }
    cp_val v = {.code = op == TSR__CP_LENGTH ? I_LENGTH : I_CASE, .op = (uint8_t)op,
                .dt = op == TSR__CP_LENGTH ? TSR_INT64 : DT_STR,
                .type = {op == TSR__CP_LENGTH ? TSR_COL_INT64 : TSR_COL_STRING, 0}, .a = a,
                .b = -1};
    return emit(p, v, out);
  }
  case TSR__CP_TRIM:
  case TSR__CP_LTRIM:
  case TSR__CP_RTRIM: {
    if (!is_stringy(t))
      return tsr_error_set(TSR_EDTYPE, "%s needs a string, not %s", tsr__cp_op_name(op),
                           type_name(t));
    TSR_TRY(decode(p, a, &a));
    cp_val v = {.code = I_TRIM, .op = (uint8_t)op, .dt = DT_STR, .type = {TSR_COL_STRING, 0},
                .a = a, .b = -1};
    return emit(p, v, out);
  }
  case TSR__CP_YEAR:
  case TSR__CP_MONTH:
  case TSR__CP_DAY:
  case TSR__CP_HOUR:
  case TSR__CP_MINUTE:
  case TSR__CP_SECOND:
  case TSR__CP_DOW:
  case TSR__CP_ISODOW:
  case TSR__CP_DOY:
  case TSR__CP_QUARTER:
  case TSR__CP_WEEK:
  case TSR__CP_EPOCH: {
    bool clock = op == TSR__CP_HOUR || op == TSR__CP_MINUTE || op == TSR__CP_SECOND;
    if (!is_temporal(t) || (clock && t.id == TSR_COL_DATE))
      return tsr_error_set(TSR_EDTYPE, "%s needs a %s, not %s", tsr__cp_op_name(op),
                           clock ? "timestamp" : "date or timestamp", type_name(t));
    bool epoch = op == TSR__CP_EPOCH;
    cp_val v = {.code = epoch ? I_EPOCH : I_DATEPART, .op = (uint8_t)op,
                .dt = epoch ? TSR_FLOAT64 : TSR_INT64, .src_dt = va->dt,
                .type = {epoch ? TSR_COL_FLOAT64 : TSR_COL_INT64, 0}, .a = a, .b = -1};
    v.c.i = t.id == TSR_COL_TIMESTAMP ? units_per_sec(t.unit) : 0;
    return emit(p, v, out);
  }
  default:
    return tsr_error_set(TSR_EINVAL, "column program: %s is not a unary operator",
                         tsr__cp_op_name(op));
  }
}

/* ---- building: conditionals, casts, strings, dates ---- */

static bool is_str_const(const cp_val *v) { return v->code == I_CONST && v->ck == C_STR; }

/* Brings two branches (or coalesce arguments) to one type; `what` names
 * the construct in the error.  Both null literals stay as they are. */
static tsr_status branch_common(tsr__colprog *p, int *a, int *b, const char *what) {
  tsr_type ta = p->v[*a].type, tb = p->v[*b].type;
  bool na = ta.id == TSR_NUM_COLTYPES, nb = tb.id == TSR_NUM_COLTYPES;
  if (na && nb)
    return TSR_OK;
  if (na)
    TSR_TRY(typed_null(p, tb, a));
  if (nb)
    TSR_TRY(typed_null(p, ta, b));
  /* A string literal beside a date or timestamp is read as one (DuckDB's
   * implicit cast of a literal). */
  if (is_temporal(ta) && is_str_const(&p->v[*b]))
    TSR_TRY(tsr__colprog_cast(p, *b, ta, false, b));
  if (is_temporal(tb) && is_str_const(&p->v[*a]))
    TSR_TRY(tsr__colprog_cast(p, *a, tb, false, a));
  ta = p->v[*a].type;
  tb = p->v[*b].type;
  if (is_stringy(ta) && is_stringy(tb)) {
    TSR_TRY(decode(p, *a, a));
    return decode(p, *b, b);
  }
  if (is_numeric(ta) && is_numeric(tb)) {
    tsr_dtype ct;
    TSR_TRY(numeric_common(p, a, b, &ct));
    TSR_TRY(cast_to(p, *a, ct, a));
    return cast_to(p, *b, ct, b);
  }
  if (ta.id == tb.id && (ta.id != TSR_COL_TIMESTAMP || ta.unit == tb.unit))
    return TSR_OK;
  return tsr_error_set(TSR_EDTYPE, "%s has values of incompatible types %s and %s", what,
                       type_name(ta), type_name(tb));
}

static tsr_status check_value(const tsr__colprog *p, int v) {
  TSR_CHECK(v >= 0 && v < p->n, TSR_EINVAL, "column program: no value %d", v);
  return TSR_OK;
}

static tsr_status select3(tsr__colprog *p, int cond, int then, int els, const char *what,
                          int *out) {
  TSR_TRY(branch_common(p, &then, &els, what));
  if (p->v[then].type.id == TSR_NUM_COLTYPES) /* null either way */
    return tsr__colprog_null(p, out);
  const cp_val *t = &p->v[then];
  cp_val v = {.code = I_SELECT, .dt = t->dt, .type = t->type, .a = cond, .b = then, .x3 = els};
  return emit(p, v, out); /* dictionaries were decoded by branch_common */
}

tsr_status tsr__colprog_if(tsr__colprog *p, int cond, int then, int els, int *out) {
  TSR_TRY(check_value(p, cond));
  TSR_TRY(check_value(p, then));
  TSR_TRY(check_value(p, els));
  tsr_type tc = p->v[cond].type;
  if (tc.id == TSR_NUM_COLTYPES)
    TSR_TRY(typed_null(p, (tsr_type){TSR_COL_BOOL, 0}, &cond));
  else if (tc.id != TSR_COL_BOOL)
    return tsr_error_set(TSR_EDTYPE, "a CASE condition must be bool, not %s", type_name(tc));
  return select3(p, cond, then, els, "CASE", out);
}

tsr_status tsr__colprog_coalesce(tsr__colprog *p, const int *args, int n, int *out) {
  TSR_CHECK(n >= 1, TSR_EINVAL, "coalesce needs at least one argument");
  for (int k = 0; k < n; k++)
    TSR_TRY(check_value(p, args[k]));
  int r = args[n - 1];
  for (int k = n - 2; k >= 0; k--) {
    int isnull, valid;
    TSR_TRY(tsr__colprog_unary(p, TSR__CP_IS_NULL, args[k], &isnull));
    TSR_TRY(tsr__colprog_unary(p, TSR__CP_NOT, isnull, &valid));
    TSR_TRY(select3(p, valid, args[k], r, "coalesce", &r));
  }
  *out = r;
  return TSR_OK;
}

tsr_status tsr__colprog_nullif(tsr__colprog *p, int a, int b, int *out) {
  TSR_TRY(check_value(p, a));
  TSR_TRY(check_value(p, b));
  if (p->v[a].type.id == TSR_NUM_COLTYPES)
    return tsr__colprog_null(p, out);
  int eq, nul;
  TSR_TRY(tsr__colprog_binary(p, TSR__CP_EQ, a, b, &eq));
  TSR_TRY(typed_null(p, p->v[a].type, &nul));
  return select3(p, eq, nul, a, "nullif", out);
}

tsr_status tsr__colprog_cast(tsr__colprog *p, int a, tsr_type to, bool try_, int *out) {
  TSR_TRY(check_value(p, a));
  TSR_CHECK((unsigned)to.id < TSR_NUM_COLTYPES &&
                (to.id != TSR_COL_TIMESTAMP || (unsigned)to.unit < 4),
            TSR_EINVAL, "cast: invalid target type");
  if (to.id == TSR_COL_DICT)
    return tsr_error_set(TSR_EDTYPE,
                         "cannot cast %s to dict in an expression (tsr_frame_cast makes "
                         "dictionary columns)",
                         tsr__colprog_type_name(p, a));
  if (to.id != TSR_COL_TIMESTAMP)
    to.unit = 0;
  tsr_type t = p->v[a].type;
  if (t.id == TSR_NUM_COLTYPES)
    return typed_null(p, to, out);
  if (t.id == TSR_COL_DICT) {
    TSR_TRY(decode(p, a, &a));
    t = p->v[a].type;
  }
  if (t.id == to.id && t.unit == to.unit) {
    if (p->v[a].literal && (p->v[a].ck == C_INT || p->v[a].ck == C_UINT || p->v[a].ck == C_FLOAT))
      return literal_as(p, a, (tsr_dtype)p->v[a].dt, out); /* no longer weak */
    *out = a;
    return TSR_OK;
  }
  bool sn = is_numeric(t) || t.id == TSR_COL_BOOL, dn = is_numeric(to) || to.id == TSR_COL_BOOL;
  bool ok = (sn && dn) || t.id == TSR_COL_STRING || to.id == TSR_COL_STRING ||
            (is_temporal(t) && is_temporal(to));
  if (!ok)
    return tsr_error_set(TSR_EDTYPE, "cannot cast %s to %s", type_name(t), type_name(to));
  cp_val v = {.code = I_UCAST, .dt = to.id == TSR_COL_STRING ? DT_STR : (uint8_t)tsr_type_dtype(to),
              .src_dt = p->v[a].dt, .type = to, .a = a, .b = -1, .aux = try_};
  return emit(p, v, out);
}

bool tsr__cp_sql_type(const char *name, tsr_type *out) {
  static const struct {
    const char *name;
    tsr_coltype id;
  } sql[] = {{"tinyint", TSR_COL_INT8},     {"int1", TSR_COL_INT8},
             {"smallint", TSR_COL_INT16},   {"int2", TSR_COL_INT16},
             {"short", TSR_COL_INT16},      {"integer", TSR_COL_INT32},
             {"int", TSR_COL_INT32},        {"int4", TSR_COL_INT32},
             {"signed", TSR_COL_INT32},     {"bigint", TSR_COL_INT64},
             {"int8", TSR_COL_INT64},       {"long", TSR_COL_INT64},
             {"utinyint", TSR_COL_UINT8},   {"usmallint", TSR_COL_UINT16},
             {"uinteger", TSR_COL_UINT32},  {"ubigint", TSR_COL_UINT64},
             {"real", TSR_COL_FLOAT32},     {"float4", TSR_COL_FLOAT32},
             {"float", TSR_COL_FLOAT32},    {"double", TSR_COL_FLOAT64},
             {"float8", TSR_COL_FLOAT64},   {"varchar", TSR_COL_STRING},
             {"text", TSR_COL_STRING},      {"string", TSR_COL_STRING},
             {"char", TSR_COL_STRING},      {"bpchar", TSR_COL_STRING},
             {"boolean", TSR_COL_BOOL},     {"bool", TSR_COL_BOOL},
             {"logical", TSR_COL_BOOL},     {"date", TSR_COL_DATE},
             {"timestamp", TSR_COL_TIMESTAMP}, {"datetime", TSR_COL_TIMESTAMP}};
  for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++)
    if (strcasecmp(name, sql[i].name) == 0) {
      *out = (tsr_type){sql[i].id, sql[i].id == TSR_COL_TIMESTAMP ? TSR_TIME_US : 0};
      return true;
    }
  return tsr_type_parse(name, out) == TSR_OK; /* the caller sets its own message */
}

tsr_status tsr__colprog_concat(tsr__colprog *p, const int *args, int n, int *out) {
  int r = -1;
  for (int k = 0; k < n; k++) {
    TSR_TRY(check_value(p, args[k]));
    if (p->v[args[k]].type.id == TSR_NUM_COLTYPES)
      continue;
    int c, e;
    TSR_TRY(tsr__colprog_cast(p, args[k], (tsr_type){TSR_COL_STRING, 0}, false, &c));
    TSR_TRY(tsr__colprog_string(p, "", 0, &e));
    int pair[2] = {c, e};
    TSR_TRY(tsr__colprog_coalesce(p, pair, 2, &c));
    if (r < 0)
      r = c;
    else
      TSR_TRY(concat2(p, r, c, &r));
  }
  if (r < 0)
    return tsr__colprog_string(p, "", 0, out);
  *out = r;
  return TSR_OK;
}

/* An integer argument as int64 (floats rounded as CAST does). */
static tsr_status as_int64(tsr__colprog *p, int a, const char *fn, int *out) {
  tsr_type t = p->v[a].type;
  if (t.id == TSR_NUM_COLTYPES)
    return typed_null(p, (tsr_type){TSR_COL_INT64, 0}, out);
  if (!is_numeric(t))
    return tsr_error_set(TSR_EDTYPE, "%s needs integer positions, not %s", fn, type_name(t));
  if (tsr_dtype_is_float((tsr_dtype)p->v[a].dt) || p->v[a].dt == TSR_UINT64)
    return tsr__colprog_cast(p, a, (tsr_type){TSR_COL_INT64, 0}, false, out);
  return cast_to(p, a, TSR_INT64, out);
}

tsr_status tsr__colprog_substr(tsr__colprog *p, int s, int start, int len, int *out) {
  TSR_TRY(check_value(p, s));
  TSR_TRY(check_value(p, start));
  if (len >= 0)
    TSR_TRY(check_value(p, len));
  tsr_type t = p->v[s].type;
  if (t.id == TSR_NUM_COLTYPES)
    return typed_null(p, (tsr_type){TSR_COL_STRING, 0}, out);
  if (!is_stringy(t))
    return tsr_error_set(TSR_EDTYPE, "substr needs a string, not %s", type_name(t));
  TSR_TRY(decode(p, s, &s));
  TSR_TRY(as_int64(p, start, "substr", &start));
  if (len >= 0)
    TSR_TRY(as_int64(p, len, "substr", &len));
  cp_val v = {.code = I_SUBSTR, .dt = DT_STR, .type = {TSR_COL_STRING, 0}, .a = s, .b = start,
              .x3 = len};
  return emit(p, v, out);
}

tsr_status tsr__colprog_replace(tsr__colprog *p, int s, int from, int to, int *out) {
  TSR_TRY(check_value(p, s));
  TSR_TRY(check_value(p, from));
  TSR_TRY(check_value(p, to));
  const tsr_type str = {TSR_COL_STRING, 0};
  if (p->v[s].type.id == TSR_NUM_COLTYPES || p->v[from].type.id == TSR_NUM_COLTYPES ||
      p->v[to].type.id == TSR_NUM_COLTYPES)
    return typed_null(p, str, out);
  if (!is_stringy(p->v[s].type))
    return tsr_error_set(TSR_EDTYPE, "replace needs a string, not %s",
                         tsr__colprog_type_name(p, s));
  if (!is_str_const(&p->v[from]) || !is_str_const(&p->v[to]))
    return tsr_error_set(TSR_EDTYPE, "replace needs constant strings to find and to put (not %s "
                                     "and %s expressions)",
                         tsr__colprog_type_name(p, from), tsr__colprog_type_name(p, to));
  TSR_TRY(decode(p, s, &s));
  cp_val v = {.code = I_REPLACE, .dt = DT_STR, .type = str, .a = s, .b = from, .x3 = to};
  return emit(p, v, out);
}

tsr_status tsr__colprog_in(tsr__colprog *p, int x, const int *list, int n, bool negate,
                           int *out) {
  TSR_CHECK(n >= 1, TSR_EINVAL, "IN needs at least one value");
  int r = -1;
  for (int k = 0; k < n; k++) {
    int eq;
    TSR_TRY(tsr__colprog_binary(p, TSR__CP_EQ, x, list[k], &eq));
    if (r < 0)
      r = eq;
    else
      TSR_TRY(tsr__colprog_binary(p, TSR__CP_OR, r, eq, &r));
  }
  if (negate)
    return tsr__colprog_unary(p, TSR__CP_NOT, r, out);
  *out = r;
  return TSR_OK;
}

tsr_status tsr__colprog_between(tsr__colprog *p, int x, int lo, int hi, bool negate, int *out) {
  int ge, le, r;
  TSR_TRY(tsr__colprog_binary(p, TSR__CP_GE, x, lo, &ge));
  TSR_TRY(tsr__colprog_binary(p, TSR__CP_LE, x, hi, &le));
  TSR_TRY(tsr__colprog_binary(p, TSR__CP_AND, ge, le, &r));
  if (negate)
    return tsr__colprog_unary(p, TSR__CP_NOT, r, out);
  *out = r;
  return TSR_OK;
}

static const char *const trunc_names[TSR__TRUNC_NUM] = {"year", "quarter", "month", "week",
                                                        "day",  "hour",    "minute", "second"};

bool tsr__cp_trunc_parse(const char *name, tsr__cp_trunc *out) {
  size_t n = strlen(name);
  for (int u = 0; u < TSR__TRUNC_NUM; u++) {
    size_t k = strlen(trunc_names[u]);
    if ((n == k || (n == k + 1 && (name[k] == 's' || name[k] == 'S'))) &&
        strncasecmp(name, trunc_names[u], k) == 0) {
      *out = (tsr__cp_trunc)u;
      return true;
    }
  }
  return false;
}

tsr_status tsr__colprog_date_trunc(tsr__colprog *p, tsr__cp_trunc unit, int a, int *out) {
  TSR_TRY(check_value(p, a));
  TSR_CHECK((unsigned)unit < TSR__TRUNC_NUM, TSR_EINVAL, "date_trunc: invalid unit");
  tsr_type t = p->v[a].type;
  tsr_type rt = {TSR_COL_TIMESTAMP, t.id == TSR_COL_TIMESTAMP ? t.unit : TSR_TIME_US};
  if (t.id == TSR_NUM_COLTYPES)
    return typed_null(p, rt, out);
  if (!is_temporal(t))
    return tsr_error_set(TSR_EDTYPE, "date_trunc needs a date or timestamp, not %s",
                         type_name(t));
  cp_val v = {.code = I_DTRUNC, .dt = TSR_INT64, .src_dt = p->v[a].dt, .type = rt, .a = a,
              .b = -1, .aux = (int32_t)unit};
  v.c.i = t.id == TSR_COL_TIMESTAMP ? units_per_sec(t.unit) : 0;
  return emit(p, v, out);
}

/* ---- running ------------------------------------------------------------------------------- */

typedef struct reg {
  void *x;     /* the batch's values */
  uint8_t *m;  /* the batch's validity bytes, NULL: all valid */
  void *xbuf;  /* own buffers */
  uint8_t *mbuf;
  char *sbuf; /* I_CASE scratch */
  size_t scap;
  uint8_t *e;    /* rows whose value is an error (computed, not yet raised), NULL: none */
  uint8_t *ebuf;
  tsr__colread in; /* I_LOAD */
} reg;

typedef struct runner {
  const tsr__colprog *p;
  tsr_ctx *ctx;
  reg *r;
  int64_t chunk;
  int64_t row0; /* the batch's first row in the chunk */
} runner;

static size_t dt_width(int dt) { return dt == DT_STR ? sizeof(sv) : tsr_dtype_size((tsr_dtype)dt); }

#define FOR_NUM(X)          \
  X(TSR_BOOL, uint8_t)      \
  X(TSR_INT8, int8_t)       \
  X(TSR_INT16, int16_t)     \
  X(TSR_INT32, int32_t)     \
  X(TSR_INT64, int64_t)     \
  X(TSR_UINT8, uint8_t)     \
  X(TSR_UINT16, uint16_t)   \
  X(TSR_UINT32, uint32_t)   \
  X(TSR_UINT64, uint64_t)   \
  X(TSR_FLOAT32, float)     \
  X(TSR_FLOAT64, double)

/* Fills a constant's batch (n rows). */
static void fill_const(const cp_val *v, reg *r, int n) {
  if (v->ck == C_NULL) {
    memset(r->xbuf, 0, (size_t)n * dt_width(v->dt));
    memset(r->mbuf, 0, (size_t)n);
    r->x = r->xbuf;
    r->m = r->mbuf;
    return;
  }
  r->x = r->xbuf;
  r->m = NULL;
  if (v->dt == DT_STR) {
    sv *d = r->xbuf;
    for (int i = 0; i < n; i++)
      d[i] = (sv){v->s, v->slen};
    return;
  }
  switch (v->dt) {
#define FILL(DT, T)                                                                  \
  case DT: {                                                                         \
    T val = v->ck == C_FLOAT  ? (T)v->c.f                                           \
            : v->ck == C_UINT ? (T)v->c.u                                           \
                              : (T)v->c.i;                                          \
    T *d = r->xbuf;                                                                  \
    for (int i = 0; i < n; i++)                                                      \
      d[i] = val;                                                                    \
    break;                                                                           \
  }
    FOR_NUM(FILL)
#undef FILL
  default:
    break;
  }
}

/* dst = a op b masks: NULL when both are. */
static uint8_t *and_masks(reg *out, const uint8_t *ma, const uint8_t *mb, int n) {
  if (ma == NULL)
    return (uint8_t *)mb;
  if (mb == NULL)
    return (uint8_t *)ma;
  for (int i = 0; i < n; i++)
    out->mbuf[i] = ma[i] & mb[i];
  return out->mbuf;
}

static void expand_bits(const uint8_t *bits, int64_t r0, int n, uint8_t *out) {
  for (int i = 0; i < n; i++)
    out[i] = (bits[(r0 + i) >> 3] >> ((r0 + i) & 7)) & 1;
}

TSR__CLONES static void cast_loop(int to, int from, void *dst, const void *src, int n) {
  switch (to) {
#define TO(DT, T)                                                 \
  case DT: {                                                      \
    T *d = dst;                                                   \
    switch (from) {                                               \
      FOR_NUM(FROM_##T)                                           \
    default:                                                      \
      break;                                                      \
    }                                                             \
    break;                                                        \
  }
#define FROM_BODY(T, DT2, T2)                                      \
  case DT2: {                                                      \
    const T2 *s = src;                                             \
    for (int i = 0; i < n; i++)                                    \
      d[i] = (T)s[i];                                              \
    break;                                                         \
  }
#define FROM_uint8_t(DT2, T2) FROM_BODY(uint8_t, DT2, T2)
#define FROM_int8_t(DT2, T2) FROM_BODY(int8_t, DT2, T2)
#define FROM_int16_t(DT2, T2) FROM_BODY(int16_t, DT2, T2)
#define FROM_int32_t(DT2, T2) FROM_BODY(int32_t, DT2, T2)
#define FROM_int64_t(DT2, T2) FROM_BODY(int64_t, DT2, T2)
#define FROM_uint16_t(DT2, T2) FROM_BODY(uint16_t, DT2, T2)
#define FROM_uint32_t(DT2, T2) FROM_BODY(uint32_t, DT2, T2)
#define FROM_uint64_t(DT2, T2) FROM_BODY(uint64_t, DT2, T2)
#define FROM_float(DT2, T2) FROM_BODY(float, DT2, T2)
#define FROM_double(DT2, T2) FROM_BODY(double, DT2, T2)
    TO(TSR_INT8, int8_t)
    TO(TSR_INT16, int16_t)
    TO(TSR_INT32, int32_t)
    TO(TSR_INT64, int64_t)
    TO(TSR_UINT8, uint8_t)
    TO(TSR_UINT16, uint16_t)
    TO(TSR_UINT32, uint32_t)
    TO(TSR_UINT64, uint64_t)
    TO(TSR_FLOAT32, float)
    TO(TSR_FLOAT64, double)
#undef TO
  default:
    break;
  }
}
/* FOR_NUM(FROM_##T) expands FROM_<T>(DT2, T2) for each source type; the
 * target bool is never a cast target (comparisons make bools). */

/* Marks the valid rows flagged in ovf as errors of out.  Errors are not
 * raised here: they travel with the values (reg.e) and are raised by
 * run_batch only when the result holds one, so a CASE branch not chosen
 * in a row (or a coalesce argument not needed) raises nothing there. */
static tsr_status flag_errors(reg *out, const uint8_t *ovf, const uint8_t *m, int n) {
  unsigned any = 0;
  for (int i = 0; i < n; i++) {
    uint8_t f = (uint8_t)(ovf[i] && (m == NULL || m[i]));
    out->ebuf[i] = f;
    any |= f;
  }
  if (any)
    out->e = out->ebuf;
  return TSR_OK;
}

/* Integer + - * with overflow detection: flags are looked at row by row
 * only when the batch's fast check saw one.  // and % truncate (C, SQL)
 * and are null for a zero divisor; MIN // -1 overflows, MIN % -1 is 0. */
#define FOR_INT(X)                     \
  X(TSR_INT8, int8_t, INT8_MIN)        \
  X(TSR_INT16, int16_t, INT16_MIN)     \
  X(TSR_INT32, int32_t, INT32_MIN)     \
  X(TSR_INT64, int64_t, INT64_MIN)     \
  X(TSR_UINT8, uint8_t, 0)             \
  X(TSR_UINT16, uint16_t, 0)           \
  X(TSR_UINT32, uint32_t, 0)           \
  X(TSR_UINT64, uint64_t, 0)

#define INT_ARITH(DT, T, MIN)                                                             \
  case DT: {                                                                              \
    const T *a = ra->x, *b = rb->x;                                                      \
    T *d = out->xbuf;                                                                    \
    const bool sgn = (MIN) != 0;                                                          \
    unsigned any = 0;                                                                    \
    switch (v->op) {                                                                     \
    case TSR__CP_ADD:                                                                    \
      for (int i = 0; i < n; i++)                                                        \
        any |= (unsigned)__builtin_add_overflow(a[i], b[i], &d[i]);                      \
      break;                                                                             \
    case TSR__CP_SUB:                                                                    \
      for (int i = 0; i < n; i++)                                                        \
        any |= (unsigned)__builtin_sub_overflow(a[i], b[i], &d[i]);                      \
      break;                                                                             \
    case TSR__CP_MUL:                                                                    \
      for (int i = 0; i < n; i++)                                                        \
        any |= (unsigned)__builtin_mul_overflow(a[i], b[i], &d[i]);                      \
      break;                                                                             \
    default: {                                                                           \
      uint8_t *mk = out->mbuf;                                                           \
      bool mod = v->op == TSR__CP_MOD;                                                   \
      for (int i = 0; i < n; i++) {                                                      \
        T den = b[i];                                                                    \
        bool zero = den == 0, edge = sgn && den == (T)-1;                                \
        T dd = (zero || edge) ? (T)1 : den;                                              \
        T q = (T)(a[i] / dd), r = (T)(a[i] % dd);                                        \
        if (edge) { /* x // -1 = -x (wrapping for MIN, flagged), x % -1 = 0 */           \
          q = (T)((uint64_t)0 - (uint64_t)a[i]);                                         \
          r = 0;                                                                         \
          any |= a[i] == (T)MIN && !mod;                                                 \
        }                                                                                \
        d[i] = mod ? r : q;                                                              \
        mk[i] = (uint8_t)((ra->m ? ra->m[i] : 1) & (rb->m ? rb->m[i] : 1) & !zero);      \
      }                                                                                  \
      out->m = mk;                                                                       \
      break;                                                                             \
    }                                                                                    \
    }                                                                                    \
    if (any) {                                                                           \
      uint8_t ovf[TSR__CP_BATCH];                                                        \
      for (int i = 0; i < n; i++) {                                                      \
        T t;                                                                             \
        ovf[i] = v->op == TSR__CP_ADD   ? (uint8_t)__builtin_add_overflow(a[i], b[i], &t) \
                 : v->op == TSR__CP_SUB ? (uint8_t)__builtin_sub_overflow(a[i], b[i], &t) \
                 : v->op == TSR__CP_MUL ? (uint8_t)__builtin_mul_overflow(a[i], b[i], &t) \
                                        : (uint8_t)(sgn && b[i] == (T)-1 && a[i] == (T)MIN); \
      }                                                                                  \
      TSR_TRY(flag_errors(out, ovf, out->m, n));                                         \
    }                                                                                    \
    break;                                                                               \
  }

#define FLT_ARITH(DT, T, FMOD, TRUNC, POW)                           \
  case DT: {                                                         \
    const T *a = ra->x, *b = rb->x;                                 \
    T *d = out->xbuf;                                               \
    switch (v->op) {                                                \
    case TSR__CP_ADD:                                               \
      for (int i = 0; i < n; i++)                                   \
        d[i] = a[i] + b[i];                                         \
      break;                                                        \
    case TSR__CP_SUB:                                               \
      for (int i = 0; i < n; i++)                                   \
        d[i] = a[i] - b[i];                                         \
      break;                                                        \
    case TSR__CP_MUL:                                               \
      for (int i = 0; i < n; i++)                                   \
        d[i] = a[i] * b[i];                                         \
      break;                                                        \
    case TSR__CP_DIV:                                               \
      for (int i = 0; i < n; i++)                                   \
        d[i] = a[i] / b[i];                                         \
      break;                                                        \
    case TSR__CP_INTDIV:                                            \
      for (int i = 0; i < n; i++)                                   \
        d[i] = TRUNC(a[i] / b[i]);                                  \
      break;                                                        \
    case TSR__CP_POW:                                               \
      for (int i = 0; i < n; i++)                                   \
        d[i] = POW(a[i], b[i]);                                     \
      break;                                                        \
    default:                                                        \
      for (int i = 0; i < n; i++)                                   \
        d[i] = FMOD(a[i], b[i]);                                    \
      break;                                                        \
    }                                                               \
    break;                                                          \
  }

TSR__CLONES static tsr_status run_arith(const runner *rn, const cp_val *v, reg *out, const reg *ra,
                            const reg *rb, int n) {
  (void)rn;
  out->x = out->xbuf;
  out->m = and_masks(out, ra->m, rb->m, n);
  switch (v->dt) {
    FOR_INT(INT_ARITH)
    FLT_ARITH(TSR_FLOAT32, float, fmodf, truncf, powf)
    FLT_ARITH(TSR_FLOAT64, double, fmod, trunc, pow)
  default:
    break;
  }
  return TSR_OK;
}

#define CMP_LOOP(T)                                        \
  {                                                        \
    const T *a = ra->x, *b = rb->x;                       \
    switch (v->op) {                                      \
    case TSR__CP_EQ:                                      \
      for (int i = 0; i < n; i++)                         \
        d[i] = a[i] == b[i];                              \
      break;                                              \
    case TSR__CP_NE:                                      \
      for (int i = 0; i < n; i++)                         \
        d[i] = a[i] != b[i];                              \
      break;                                              \
    case TSR__CP_LT:                                      \
      for (int i = 0; i < n; i++)                         \
        d[i] = a[i] < b[i];                               \
      break;                                              \
    case TSR__CP_LE:                                      \
      for (int i = 0; i < n; i++)                         \
        d[i] = a[i] <= b[i];                              \
      break;                                              \
    case TSR__CP_GT:                                      \
      for (int i = 0; i < n; i++)                         \
        d[i] = a[i] > b[i];                               \
      break;                                              \
    default:                                              \
      for (int i = 0; i < n; i++)                         \
        d[i] = a[i] >= b[i];                              \
      break;                                              \
    }                                                     \
  }

TSR__CLONES static void run_cmp(const cp_val *v, reg *out, const reg *ra, const reg *rb, int n) {
  uint8_t *d = out->xbuf;
  out->x = d;
  out->m = and_masks(out, ra->m, rb->m, n);
  if (v->src_dt == TSR_BOOL) { /* bool bytes may hold any nonzero under nulls */
    const uint8_t *a0 = ra->x, *b0 = rb->x;
    uint8_t *ta = (uint8_t *)out->sbuf, *tb = (uint8_t *)out->sbuf + TSR__CP_BATCH;
    for (int i = 0; i < n; i++) {
      ta[i] = a0[i] != 0;
      tb[i] = b0[i] != 0;
    }
    const reg na = {.x = ta}, nb = {.x = tb};
    ra = &na;
    rb = &nb;
    CMP_LOOP(uint8_t)
    return;
  }
  switch (v->src_dt) {
#define CMP_CASE(DT, T) \
  case DT:              \
    CMP_LOOP(T)         \
    break;
    FOR_NUM(CMP_CASE)
#undef CMP_CASE
  default:
    break;
  }
}

static tsr_status run_negabs(const runner *rn, const cp_val *v, reg *out, const reg *ra, int n) {
  (void)rn;
  out->x = out->xbuf;
  out->m = ra->m;
  switch (v->dt) {
#define NEG_INT(DT, T, MIN)                                                                  \
  case DT: {                                                                                 \
    const T *a = ra->x;                                                                     \
    T *d = out->xbuf;                                                                       \
    unsigned any = 0;                                                                       \
    for (int i = 0; i < n; i++) {                                                           \
      T x = a[i];                                                                           \
      any |= x == (T)MIN;                                                                   \
      T neg = (T)(x == (T)MIN ? x : -x);                                                    \
      d[i] = v->op == TSR__CP_NEG ? neg : (x < 0 ? neg : x);                                \
    }                                                                                       \
    if (any) {                                                                              \
      uint8_t ovf[TSR__CP_BATCH];                                                           \
      for (int i = 0; i < n; i++)                                                           \
        ovf[i] = a[i] == (T)MIN;                                                            \
      TSR_TRY(flag_errors(out, ovf, out->m, n));                                            \
    }                                                                                       \
    break;                                                                                  \
  }
    NEG_INT(TSR_INT8, int8_t, INT8_MIN)
    NEG_INT(TSR_INT16, int16_t, INT16_MIN)
    NEG_INT(TSR_INT32, int32_t, INT32_MIN)
    NEG_INT(TSR_INT64, int64_t, INT64_MIN)
#undef NEG_INT
  case TSR_FLOAT32: {
    const float *a = ra->x;
    float *d = out->xbuf;
    for (int i = 0; i < n; i++)
      d[i] = v->op == TSR__CP_NEG ? -a[i] : fabsf(a[i]);
    break;
  }
  case TSR_FLOAT64: {
    const double *a = ra->x;
    double *d = out->xbuf;
    for (int i = 0; i < n; i++)
      d[i] = v->op == TSR__CP_NEG ? -a[i] : fabs(a[i]);
    break;
  }
  default:
    break;
  }
  return TSR_OK;
}

#define MATH_SWITCH(T, SUF)                                  \
  {                                                          \
    const T *a = ra->x;                                     \
    T *d = out->xbuf;                                       \
    switch (v->op) {                                        \
    case TSR__CP_SQRT:                                      \
      for (int i = 0; i < n; i++)                           \
        d[i] = sqrt##SUF(a[i]);                             \
      break;                                                \
    case TSR__CP_EXP:                                       \
      for (int i = 0; i < n; i++)                           \
        d[i] = exp##SUF(a[i]);                              \
      break;                                                \
    case TSR__CP_LOG:                                       \
      for (int i = 0; i < n; i++)                           \
        d[i] = log##SUF(a[i]);                              \
      break;                                                \
    case TSR__CP_LOG10:                                     \
      for (int i = 0; i < n; i++)                           \
        d[i] = log10##SUF(a[i]);                            \
      break;                                                \
    case TSR__CP_LOG2:                                      \
      for (int i = 0; i < n; i++)                           \
        d[i] = log2##SUF(a[i]);                             \
      break;                                                \
    case TSR__CP_SIN:                                       \
      for (int i = 0; i < n; i++)                           \
        d[i] = sin##SUF(a[i]);                              \
      break;                                                \
    case TSR__CP_COS:                                       \
      for (int i = 0; i < n; i++)                           \
        d[i] = cos##SUF(a[i]);                              \
      break;                                                \
    case TSR__CP_TAN:                                       \
      for (int i = 0; i < n; i++)                           \
        d[i] = tan##SUF(a[i]);                              \
      break;                                                \
    case TSR__CP_FLOOR:                                     \
      for (int i = 0; i < n; i++)                           \
        d[i] = floor##SUF(a[i]);                            \
      break;                                                \
    case TSR__CP_CEIL:                                      \
      for (int i = 0; i < n; i++)                           \
        d[i] = ceil##SUF(a[i]);                             \
      break;                                                \
    case TSR__CP_ROUND:                                     \
      for (int i = 0; i < n; i++)                           \
        d[i] = round##SUF(a[i]);                            \
      break;                                                \
    default:                                                \
      for (int i = 0; i < n; i++)                           \
        d[i] = trunc##SUF(a[i]);                            \
      break;                                                \
    }                                                       \
  }

static void run_math(const cp_val *v, reg *out, const reg *ra, int n) {
  out->x = out->xbuf;
  out->m = ra->m;
  if (v->dt == TSR_FLOAT32)
    MATH_SWITCH(float, f)
  else
    MATH_SWITCH(double, )
}

/* Three-valued and / or: a false (and) or true (or) operand decides even
 * when the other is null. */
TSR__CLONES static void run_logic(const cp_val *v, reg *out, const reg *ra, const reg *rb, int n) {
  const uint8_t *a = ra->x, *b = rb->x, *ma = ra->m, *mb = rb->m;
  uint8_t *d = out->xbuf;
  out->x = d;
  bool is_and = v->code == I_AND;
  if (is_and)
    for (int i = 0; i < n; i++)
      d[i] = (a[i] != 0) & (b[i] != 0);
  else
    for (int i = 0; i < n; i++)
      d[i] = (a[i] != 0) | (b[i] != 0);
  if (ma == NULL && mb == NULL) {
    out->m = NULL;
    return;
  }
  uint8_t *m = out->mbuf;
  for (int i = 0; i < n; i++) {
    uint8_t va = ma ? ma[i] : 1, vb = mb ? mb[i] : 1;
    uint8_t xa = a[i] != 0, xb = b[i] != 0;
    /* and: valid if both valid, or either is a valid false; or: a valid true */
    uint8_t decide = is_and ? (uint8_t)((va & !xa) | (vb & !xb)) : (uint8_t)((va & xa) | (vb & xb));
    m[i] = (uint8_t)((va & vb) | decide);
    if (decide)
      d[i] = !is_and;
  }
  out->m = m;
}

static tsr_status grow_scratch(runner *rn, reg *r, size_t need) {
  if (need <= r->scap)
    return TSR_OK;
  size_t cap = r->scap ? r->scap : 4096;
  while (cap < need)
    cap *= 2;
  char *s;
  TSR_TRY(tsr_alloc(rn->ctx, cap, (void **)&s));
  tsr_free(rn->ctx, r->sbuf);
  r->sbuf = s;
  r->scap = cap;
  return TSR_OK;
}

/* Days and seconds of the day (floored) of value i of a date (ups 0) or
 * timestamp register; *frac: the units below the second. */
static void split_time(const void *x, int64_t ups, int i, int64_t *days, int64_t *sod,
                       int64_t *frac) {
  if (ups == 0) {
    *days = ((const int32_t *)x)[i];
    *sod = *frac = 0;
    return;
  }
  int64_t t = ((const int64_t *)x)[i], per = 86400 * ups;
  int64_t d = t / per, rem = t % per;
  if (rem < 0) {
    rem += per;
    d--;
  }
  *days = d;
  *sod = rem / ups;
  *frac = rem % ups;
}

/* Sunday 0 .. Saturday 6 (1970-01-01 was a Thursday). */
static int64_t day_of_week(int64_t days) { return ((days % 7) + 11) % 7; }

/* The ISO 8601 week (1..53): the week of the Thursday of the same week. */
static int64_t iso_week(int64_t days) {
  int64_t isodow = (day_of_week(days) + 6) % 7; /* Monday 0 */
  int64_t thu = days - isodow + 3, y, m, d;
  civil_from_days(thu, &y, &m, &d);
  return (thu - days_from_civil(y, 1, 1)) / 7 + 1;
}

static void run_datepart(const cp_val *v, reg *out, const reg *ra, int n) {
  int64_t *d = out->xbuf;
  out->x = d;
  out->m = ra->m;
  int64_t ups = v->c.i; /* 0: dates */
  for (int i = 0; i < n; i++) {
    int64_t days, sod, frac;
    split_time(ra->x, ups, i, &days, &sod, &frac);
    switch (v->op) {
    case TSR__CP_HOUR:
      d[i] = sod / 3600;
      continue;
    case TSR__CP_MINUTE:
      d[i] = sod / 60 % 60;
      continue;
    case TSR__CP_SECOND:
      d[i] = sod % 60;
      continue;
    case TSR__CP_DOW:
      d[i] = day_of_week(days);
      continue;
    case TSR__CP_ISODOW:
      d[i] = (day_of_week(days) + 6) % 7 + 1;
      continue;
    case TSR__CP_WEEK:
      d[i] = iso_week(days);
      continue;
    default:
      break;
    }
    int64_t y, m, dd;
    civil_from_days(days, &y, &m, &dd);
    switch (v->op) {
    case TSR__CP_YEAR:
      d[i] = y;
      break;
    case TSR__CP_MONTH:
      d[i] = m;
      break;
    case TSR__CP_QUARTER:
      d[i] = (m - 1) / 3 + 1;
      break;
    case TSR__CP_DOY:
      d[i] = days - days_from_civil(y, 1, 1) + 1;
      break;
    default:
      d[i] = dd;
      break;
    }
  }
}

static void run_epoch(const cp_val *v, reg *out, const reg *ra, int n) {
  double *d = out->xbuf;
  out->x = d;
  out->m = ra->m;
  int64_t ups = v->c.i;
  for (int i = 0; i < n; i++) {
    int64_t days, sod, frac;
    split_time(ra->x, ups, i, &days, &sod, &frac);
    d[i] = (double)(days * 86400 + sod) + (ups ? (double)frac / (double)ups : 0.0);
  }
}

static tsr_status run_dtrunc(const cp_val *v, reg *out, const reg *ra, int n) {
  int64_t *d = out->xbuf;
  out->x = d;
  out->m = ra->m;
  int64_t ups = v->c.i, ups_out = ups ? ups : 1000000;
  uint8_t ovf[TSR__CP_BATCH];
  unsigned any = 0;
  for (int i = 0; i < n; i++) {
    int64_t days, sod, frac, y, m, dd;
    split_time(ra->x, ups, i, &days, &sod, &frac);
    switch ((tsr__cp_trunc)v->aux) {
    case TSR__TRUNC_YEAR:
    case TSR__TRUNC_QUARTER:
    case TSR__TRUNC_MONTH:
      civil_from_days(days, &y, &m, &dd);
      m = v->aux == TSR__TRUNC_YEAR ? 1 : v->aux == TSR__TRUNC_QUARTER ? (m - 1) / 3 * 3 + 1 : m;
      days = days_from_civil(y, (unsigned)m, 1);
      sod = 0;
      break;
    case TSR__TRUNC_WEEK:
      days -= (day_of_week(days) + 6) % 7;
      sod = 0;
      break;
    case TSR__TRUNC_DAY:
      sod = 0;
      break;
    case TSR__TRUNC_HOUR:
      sod -= sod % 3600;
      break;
    case TSR__TRUNC_MINUTE:
      sod -= sod % 60;
      break;
    default:
      break;
    }
    int64_t r;
    ovf[i] = (uint8_t)__builtin_mul_overflow(days * 86400 + sod, ups_out, &r);
    any |= ovf[i];
    d[i] = r;
  }
  if (any)
    TSR_TRY(flag_errors(out, ovf, out->m, n));
  return TSR_OK;
}

/* ---- casts ---- */

/* Stores x (a signed integer or bool) as dtype dt at d[i]; false when out
 * of range. */
static bool store_i(int dt, int64_t x, void *d, int i) {
  switch (dt) {
  case TSR_BOOL:
    ((uint8_t *)d)[i] = x != 0;
    return true;
#define ST(DT, T, LO, HI)                                                                         \
  case DT:                                                                                        \
    if (x < (LO) || (x > 0 && (uint64_t)x > (HI)))                                                \
      return false;                                                                               \
    ((T *)d)[i] = (T)x;                                                                           \
    return true;
    ST(TSR_INT8, int8_t, INT8_MIN, INT8_MAX)
    ST(TSR_INT16, int16_t, INT16_MIN, INT16_MAX)
    ST(TSR_INT32, int32_t, INT32_MIN, INT32_MAX)
    ST(TSR_INT64, int64_t, INT64_MIN, INT64_MAX)
    ST(TSR_UINT8, uint8_t, 0, UINT8_MAX)
    ST(TSR_UINT16, uint16_t, 0, UINT16_MAX)
    ST(TSR_UINT32, uint32_t, 0, UINT32_MAX)
    ST(TSR_UINT64, uint64_t, 0, UINT64_MAX)
#undef ST
  case TSR_FLOAT32:
    ((float *)d)[i] = (float)x;
    return true;
  default:
    ((double *)d)[i] = (double)x;
    return true;
  }
}

static bool store_u(int dt, uint64_t x, void *d, int i) {
  if (x <= (uint64_t)INT64_MAX)
    return store_i(dt, (int64_t)x, d, i);
  switch (dt) {
  case TSR_BOOL:
    ((uint8_t *)d)[i] = 1;
    return true;
  case TSR_UINT64:
    ((uint64_t *)d)[i] = x;
    return true;
  case TSR_FLOAT32:
    ((float *)d)[i] = (float)x;
    return true;
  case TSR_FLOAT64:
    ((double *)d)[i] = (double)x;
    return true;
  default:
    return false;
  }
}

/* Floats to integers round half to even (nearbyint), as DuckDB's CAST. */
static bool store_f(int dt, double x, void *d, int i) {
  switch (dt) {
  case TSR_BOOL:
    ((uint8_t *)d)[i] = x != 0;
    return true;
  case TSR_FLOAT32:
    if (isfinite(x) && fabs(x) > 3.4028234663852886e38)
      return false;
    ((float *)d)[i] = (float)x;
    return true;
  case TSR_FLOAT64:
    ((double *)d)[i] = x;
    return true;
  default:
    break;
  }
  if (!isfinite(x))
    return false;
  double r = nearbyint(x);
  if (dt == TSR_UINT64)
    return r >= 0 && r < 18446744073709551616.0 && store_u(dt, (uint64_t)r, d, i);
  return r >= -9223372036854775808.0 && r < 9223372036854775808.0 &&
         store_i(dt, (int64_t)r, d, i);
}

static bool convert_num(int sdt, const void *x, int i, int dt, void *d) {
  switch (sdt) {
  case TSR_BOOL:
    return store_i(dt, ((const uint8_t *)x)[i] != 0, d, i);
  case TSR_INT8:
    return store_i(dt, ((const int8_t *)x)[i], d, i);
  case TSR_INT16:
    return store_i(dt, ((const int16_t *)x)[i], d, i);
  case TSR_INT32:
    return store_i(dt, ((const int32_t *)x)[i], d, i);
  case TSR_INT64:
    return store_i(dt, ((const int64_t *)x)[i], d, i);
  case TSR_UINT8:
    return store_i(dt, ((const uint8_t *)x)[i], d, i);
  case TSR_UINT16:
    return store_i(dt, ((const uint16_t *)x)[i], d, i);
  case TSR_UINT32:
    return store_i(dt, ((const uint32_t *)x)[i], d, i);
  case TSR_UINT64:
    return store_u(dt, ((const uint64_t *)x)[i], d, i);
  case TSR_FLOAT32:
    return store_f(dt, ((const float *)x)[i], d, i);
  default:
    return store_f(dt, ((const double *)x)[i], d, i);
  }
}

/* Dates and timestamps to each other: false on overflow. */
static bool convert_time(tsr_type st, const void *x, int i, tsr_type dt, void *d) {
  int64_t days, sod, frac, ups_s = st.id == TSR_COL_TIMESTAMP ? units_per_sec(st.unit) : 0;
  if (dt.id == TSR_COL_DATE) {
    split_time(x, ups_s, i, &days, &sod, &frac);
    if (days < INT32_MIN || days > INT32_MAX)
      return false;
    ((int32_t *)d)[i] = (int32_t)days;
    return true;
  }
  int64_t ups_d = units_per_sec(dt.unit), r;
  if (st.id == TSR_COL_DATE)
    return !__builtin_mul_overflow((int64_t)((const int32_t *)x)[i], 86400 * ups_d,
                                   &((int64_t *)d)[i]);
  int64_t t = ((const int64_t *)x)[i];
  if (ups_d >= ups_s) {
    if (__builtin_mul_overflow(t, ups_d / ups_s, &r))
      return false;
  } else {
    int64_t k = ups_s / ups_d;
    r = t / k - (t % k < 0);
  }
  ((int64_t *)d)[i] = r;
  return true;
}

static tsr_status run_ucast(runner *rn, const cp_val *v, reg *out, const reg *ra, int n) {
  tsr_type st = rn->p->v[v->a].type, dt = v->type;
  const uint8_t *m = ra->m;
  out->x = out->xbuf;
  out->m = ra->m;
  if (dt.id == TSR_COL_STRING) {
    TSR_TRY(grow_scratch(rn, out, (size_t)n * TSR__VT_MAX + 1));
    sv *d = out->xbuf;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
      if (m != NULL && !m[i]) {
        d[i] = (sv){out->sbuf, 0};
        continue;
      }
      size_t len = tsr__vt_format(st, ra->x, i, out->sbuf + used);
      d[i] = (sv){out->sbuf + used, len};
      used += len;
    }
    return TSR_OK;
  }
  uint8_t bad[TSR__CP_BATCH];
  unsigned any = 0;
  size_t w = tsr_type_width(dt);
  for (int i = 0; i < n; i++) {
    bool ok = true;
    if (m == NULL || m[i]) {
      if (st.id == TSR_COL_STRING) {
        const sv *a = ra->x;
        ok = tsr__vt_parse(dt, a[i].p, a[i].len, (char *)out->xbuf + (size_t)i * w);
        if (!ok && dt.id == TSR_COL_DATE) { /* a timestamp's text: its day, as DuckDB */
          int64_t us, days, sod, frac;
          ok = tsr__vt_parse_timestamp(a[i].p, a[i].len, TSR_TIME_US, &us);
          if (ok) {
            split_time(&us, 1000000, 0, &days, &sod, &frac);
            ok = days >= INT32_MIN && days <= INT32_MAX;
            ((int32_t *)out->xbuf)[i] = (int32_t)days;
          }
        }
      } else if (is_temporal(st)) {
        ok = convert_time(st, ra->x, i, dt, out->xbuf);
      } else {
        ok = convert_num(v->src_dt, ra->x, i, v->dt, out->xbuf);
      }
    }
    bad[i] = !ok;
    any |= !ok;
  }
  if (!any)
    return TSR_OK;
  if (v->aux) { /* TRY_CAST: null */
    for (int i = 0; i < n; i++)
      out->mbuf[i] = (uint8_t)((m == NULL || m[i]) && !bad[i]);
    out->m = out->mbuf;
    return TSR_OK;
  }
  return flag_errors(out, bad, m, n);
}

/* ---- strings ---- */

/* Byte offset of code point k (0 <= k <= code points) of s. */
static size_t cp_offset(sv s, int64_t k, bool ascii) {
  if (ascii)
    return (size_t)k;
  size_t i = 0;
  for (int64_t c = 0; c < k && i < s.len; c++)
    i += cp_bytes(s.p + i, s.len - i);
  return i;
}

static int64_t sat_add(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

/* DuckDB's substring: [start, end) in code points, clamped to the string. */
static sv substr_of(sv s, int64_t off, bool has_len, int64_t len) {
  int64_t ncp = (int64_t)utf8_len(s.p, s.len);
  int64_t st = off > 0 ? off - 1 : off == 0 ? -1 : sat_add(ncp, off), end;
  if (!has_len) {
    end = ncp;
  } else if (len >= 0) {
    end = sat_add(st, len);
  } else {
    end = st;
    st = sat_add(st, len);
  }
  st = st < 0 ? 0 : st > ncp ? ncp : st;
  end = end < 0 ? 0 : end > ncp ? ncp : end;
  if (end <= st)
    return (sv){s.p, 0};
  bool ascii = ncp == (int64_t)s.len;
  size_t b0 = cp_offset(s, st, ascii), b1 = cp_offset(s, end, ascii);
  return (sv){s.p + b0, b1 - b0};
}

static tsr_status run_strfn(runner *rn, const cp_val *v, reg *out, const reg *ra, const reg *rb,
                            const reg *rc, int n) {
  const sv *a = ra->x;
  sv *d = out->xbuf;
  out->x = d;
  uint8_t *m = and_masks(out, ra->m, rb ? rb->m : NULL, n);
  if (rc != NULL && rc->m != NULL) {
    if (m == NULL) {
      memcpy(out->mbuf, rc->m, (size_t)n);
    } else {
      if (m != out->mbuf)
        memcpy(out->mbuf, m, (size_t)n);
      for (int i = 0; i < n; i++)
        out->mbuf[i] &= rc->m[i];
    }
    m = out->mbuf;
  }
  out->m = m;
  switch ((icode)v->code) {
  case I_TRIM:
    for (int i = 0; i < n; i++) {
      const char *p = a[i].p;
      size_t lo = 0, hi = (m == NULL || m[i]) ? a[i].len : 0;
      if (v->op != TSR__CP_RTRIM)
        while (lo < hi && p[lo] == ' ')
          lo++;
      if (v->op != TSR__CP_LTRIM)
        while (hi > lo && p[hi - 1] == ' ')
          hi--;
      d[i] = (sv){p + lo, hi - lo};
    }
    return TSR_OK;
  case I_SUBSTR: {
    const int64_t *st = rb->x, *ln = rc ? rc->x : NULL;
    for (int i = 0; i < n; i++)
      d[i] = (m == NULL || m[i]) ? substr_of(a[i], st[i], ln != NULL, ln ? ln[i] : 0)
                                 : (sv){a[i].p, 0};
    return TSR_OK;
  }
  case I_CONCAT: {
    const sv *b = rb->x;
    size_t total = 0;
    for (int i = 0; i < n; i++)
      if (m == NULL || m[i])
        total += a[i].len + b[i].len;
    TSR_TRY(grow_scratch(rn, out, total + 1));
    size_t used = 0;
    for (int i = 0; i < n; i++) {
      if (m != NULL && !m[i]) {
        d[i] = (sv){out->sbuf, 0};
        continue;
      }
      char *q = out->sbuf + used;
      if (a[i].len)
        memcpy(q, a[i].p, a[i].len);
      if (b[i].len)
        memcpy(q + a[i].len, b[i].p, b[i].len);
      d[i] = (sv){q, a[i].len + b[i].len};
      used += a[i].len + b[i].len;
    }
    return TSR_OK;
  }
  default: { /* I_REPLACE */
    const sv *from = rb->x, *to = rc->x;
    size_t total = 0;
    for (int i = 0; i < n; i++)
      if (m == NULL || m[i]) {
        size_t grow = to[i].len > from[i].len ? to[i].len - from[i].len : 0;
        total += a[i].len + (from[i].len ? a[i].len / from[i].len * grow : 0);
      }
    TSR_TRY(grow_scratch(rn, out, total + 1));
    size_t used = 0;
    for (int i = 0; i < n; i++) {
      char *q = out->sbuf + used;
      size_t k = 0, len = 0;
      if (m == NULL || m[i]) {
        sv s = a[i], f = from[i], t = to[i];
        while (k < s.len) {
          if (f.len && f.len <= s.len - k && s.p[k] == f.p[0] && memcmp(s.p + k, f.p, f.len) == 0) {
            if (t.len)
              memcpy(q + len, t.p, t.len);
            len += t.len;
            k += f.len;
          } else {
            q[len++] = s.p[k++];
          }
        }
      }
      d[i] = (sv){q, len};
      used += len;
    }
    return TSR_OK;
  }
  }
}

/* out = cond ? a : b per row; errors follow the chosen side. */
static void run_select(reg *out, const reg *rcond, const reg *ra, const reg *rb, int dt, int n) {
  uint8_t ch[TSR__CP_BATCH];
  const uint8_t *cx = rcond->x, *cm = rcond->m;
  for (int i = 0; i < n; i++)
    ch[i] = (uint8_t)((cx[i] != 0) & (cm == NULL || cm[i]));
  out->x = out->xbuf;
  switch (dt_width(dt)) {
#define SEL(W, T)                                                                                 \
  case W: {                                                                                       \
    const T *a = ra->x, *b = rb->x;                                                               \
    T *d = out->xbuf;                                                                             \
    for (int i = 0; i < n; i++)                                                                   \
      d[i] = ch[i] ? a[i] : b[i];                                                                 \
    break;                                                                                        \
  }
    SEL(1, uint8_t)
    SEL(2, uint16_t)
    SEL(4, uint32_t)
    SEL(8, uint64_t)
    SEL(16, sv)
#undef SEL
  default:
    break;
  }
  if (ra->m == NULL && rb->m == NULL) {
    out->m = NULL;
  } else {
    for (int i = 0; i < n; i++)
      out->mbuf[i] = ch[i] ? (ra->m ? ra->m[i] : 1) : (rb->m ? rb->m[i] : 1);
    out->m = out->mbuf;
  }
  out->e = NULL;
  if (rcond->e == NULL && ra->e == NULL && rb->e == NULL)
    return;
  unsigned any = 0;
  for (int i = 0; i < n; i++) {
    uint8_t e = (uint8_t)((rcond->e ? rcond->e[i] : 0) |
                          (ch[i] ? (ra->e ? ra->e[i] : 0) : (rb->e ? rb->e[i] : 0)));
    out->ebuf[i] = e;
    any |= e;
  }
  if (any)
    out->e = out->ebuf;
}

/* Runs instruction k of the batch of n rows starting at row rn->row0. */
static tsr_status run_op(runner *rn, int k, int n) {
  const cp_val *v = &rn->p->v[k];
  reg *out = &rn->r[k];
  const reg *ra = v->code != I_LOAD && v->code != I_CONST ? &rn->r[v->a] : NULL;
  const reg *rb = v->b >= 0 && v->code != I_LOAD && v->code != I_CONST ? &rn->r[v->b] : NULL;
  const reg *rc = third(v) >= 0 ? &rn->r[third(v)] : NULL;
  switch ((icode)v->code) {
  case I_LOAD: {
    const tsr__colread *c = &out->in;
    if (v->dt == DT_STR) {
      const tsr_string_view *views = (const tsr_string_view *)c->values + rn->row0;
      sv *d = out->xbuf;
      for (int i = 0; i < n; i++)
        d[i] = (sv){tsr_string_view_data(&views[i], c->data), views[i].length};
      out->x = d;
    } else {
      out->x = (unsigned char *)c->values + (size_t)rn->row0 * dt_width(v->dt);
    }
    if (c->validity != NULL) {
      expand_bits(c->validity, rn->row0, n, out->mbuf);
      out->m = out->mbuf;
    } else {
      out->m = NULL;
    }
    return TSR_OK;
  }
  case I_CONST:
    fill_const(v, out, n);
    return TSR_OK;
  case I_CAST:
    cast_loop(v->dt, v->src_dt, out->xbuf, ra->x, n);
    out->x = out->xbuf;
    out->m = ra->m;
    return TSR_OK;
  case I_ARITH:
    return run_arith(rn, v, out, ra, rb, n);
  case I_NEGABS:
    return run_negabs(rn, v, out, ra, n);
  case I_MATH:
    run_math(v, out, ra, n);
    return TSR_OK;
  case I_CMP:
    run_cmp(v, out, ra, rb, n);
    return TSR_OK;
  case I_SCMP: {
    const sv *a = ra->x, *b = rb->x;
    uint8_t *d = out->xbuf;
    out->m = and_masks(out, ra->m, rb->m, n);
    for (int i = 0; i < n; i++)
      d[i] = (out->m == NULL || out->m[i]) && cmp_result((tsr__cp_op)v->op, sv_cmp(a[i], b[i]));
    out->x = d;
    return TSR_OK;
  }
  case I_AND:
  case I_OR:
    run_logic(v, out, ra, rb, n);
    return TSR_OK;
  case I_NOT: {
    const uint8_t *a = ra->x;
    uint8_t *d = out->xbuf;
    for (int i = 0; i < n; i++)
      d[i] = a[i] == 0;
    out->x = d;
    out->m = ra->m;
    return TSR_OK;
  }
  case I_ISNULL: {
    uint8_t *d = out->xbuf;
    if (ra->m == NULL)
      memset(d, 0, (size_t)n);
    else
      for (int i = 0; i < n; i++)
        d[i] = !ra->m[i];
    out->x = d;
    out->m = NULL;
    return TSR_OK;
  }
  case I_SMATCH: {
    const sv *a = ra->x, *b = rb->x;
    uint8_t *d = out->xbuf;
    out->m = and_masks(out, ra->m, rb->m, n);
    for (int i = 0; i < n; i++)
      d[i] = (out->m == NULL || out->m[i]) && smatch((tsr__cp_op)v->op, a[i], b[i]);
    out->x = d;
    return TSR_OK;
  }
  case I_LENGTH: {
    const sv *a = ra->x;
    int64_t *d = out->xbuf;
    for (int i = 0; i < n; i++)
      d[i] = (ra->m == NULL || ra->m[i]) ? (int64_t)utf8_len(a[i].p, a[i].len) : 0;
    out->x = d;
    out->m = ra->m;
    return TSR_OK;
  }
  case I_CASE: {
    const sv *a = ra->x;
    size_t total = 0;
    for (int i = 0; i < n; i++)
      if (ra->m == NULL || ra->m[i])
        total += a[i].len;
    TSR_TRY(grow_scratch(rn, out, total + 1));
    sv *d = out->xbuf;
    size_t used = 0;
    for (int i = 0; i < n; i++) {
      if (ra->m != NULL && !ra->m[i]) {
        d[i] = (sv){out->sbuf, 0};
        continue;
      }
      case_map((tsr__cp_op)v->op, a[i].p, a[i].len, out->sbuf + used);
      d[i] = (sv){out->sbuf + used, a[i].len};
      used += a[i].len;
    }
    out->x = d;
    out->m = ra->m;
    return TSR_OK;
  }
  case I_TAB: {
    const int32_t *codes = ra->x;
    uint32_t nt = (uint32_t)v->tab_n;
    out->x = out->xbuf;
    out->m = ra->m;
    switch (v->dt) {
    case TSR_BOOL: {
      const uint8_t *t = v->tab;
      uint8_t *d = out->xbuf;
      for (int i = 0; i < n; i++)
        d[i] = (uint32_t)codes[i] < nt ? t[codes[i]] : 0;
      break;
    }
    case TSR_INT32: {
      const int32_t *t = v->tab;
      int32_t *d = out->xbuf;
      for (int i = 0; i < n; i++)
        d[i] = (uint32_t)codes[i] < nt ? t[codes[i]] : 0;
      break;
    }
    default: {
      const int64_t *t = v->tab;
      int64_t *d = out->xbuf;
      for (int i = 0; i < n; i++)
        d[i] = (uint32_t)codes[i] < nt ? t[codes[i]] : 0;
      break;
    }
    }
    return TSR_OK;
  }
  case I_DECODE: {
    const int32_t *codes = ra->x;
    sv *d = out->xbuf;
    for (int i = 0; i < n; i++)
      d[i] = (uint32_t)codes[i] < (uint64_t)v->dict->size ? dict_sv(v->dict, codes[i])
                                                          : (sv){"", 0};
    out->x = d;
    out->m = ra->m;
    return TSR_OK;
  }
  case I_DATEPART:
    run_datepart(v, out, ra, n);
    return TSR_OK;
  case I_EPOCH:
    run_epoch(v, out, ra, n);
    return TSR_OK;
  case I_DTRUNC:
    return run_dtrunc(v, out, ra, n);
  case I_UCAST:
    return run_ucast(rn, v, out, ra, n);
  case I_CONCAT:
  case I_SUBSTR:
  case I_TRIM:
  case I_REPLACE:
    return run_strfn(rn, v, out, ra, rb, rc, n);
  case I_SELECT:
    run_select(out, ra, rb, rc, v->dt, n);
    return TSR_OK;
  }
  return TSR_OK;
}

/* ORs in's error rows into out's. */
static void merge_errors(reg *out, const reg *in, int n) {
  if (in == NULL || in->e == NULL)
    return;
  if (out->e == NULL) {
    memcpy(out->ebuf, in->e, (size_t)n);
    out->e = out->ebuf;
  } else {
    for (int i = 0; i < n; i++)
      out->ebuf[i] |= in->e[i];
  }
}

/* Runs instruction k and carries its operands' error rows (a select
 * carries the chosen side's itself). */
static tsr_status run_one(runner *rn, int k, int n) {
  const cp_val *v = &rn->p->v[k];
  reg *out = &rn->r[k];
  out->e = NULL;
  TSR_TRY(run_op(rn, k, n));
  if (v->code == I_LOAD || v->code == I_CONST || v->code == I_SELECT)
    return TSR_OK;
  merge_errors(out, &rn->r[v->a], n);
  if (v->b >= 0)
    merge_errors(out, &rn->r[v->b], n);
  if (third(v) >= 0)
    merge_errors(out, &rn->r[third(v)], n);
  return TSR_OK;
}

/* The instruction that made the error of value k at row i: followed back
 * through the operands holding it (a select's chosen side). */
static int error_origin(const runner *rn, int k, int i) {
  for (;;) {
    const cp_val *v = &rn->p->v[k];
    int ops[3] = {-1, -1, -1};
    if (v->code == I_SELECT) {
      const reg *c = &rn->r[v->a];
      bool ch = ((const uint8_t *)c->x)[i] != 0 && (c->m == NULL || c->m[i]);
      ops[0] = v->a;
      ops[1] = ch ? v->b : v->x3;
    } else if (v->code != I_LOAD && v->code != I_CONST) {
      ops[0] = v->a;
      ops[1] = v->b;
      ops[2] = third(v);
    }
    int next = -1;
    for (int j = 0; j < 3 && next < 0; j++)
      if (ops[j] >= 0 && rn->r[ops[j]].e != NULL && rn->r[ops[j]].e[i])
        next = ops[j];
    if (next < 0)
      return k;
    k = next;
  }
}

/* The error instruction k made at row i, as a status and message. */
static tsr_status raise_error(const runner *rn, int k, int i) {
  const cp_val *v = &rn->p->v[k];
  long long row = (long long)(rn->row0 + i), chunk = (long long)rn->chunk;
  const char *lab = v->label ? v->label : "", *sep = v->label ? ": " : "";
  if (v->code == I_UCAST) {
    const cp_val *src = &rn->p->v[v->a];
    const reg *ra = &rn->r[v->a];
    if (src->type.id == TSR_COL_STRING) {
      sv t = ((const sv *)ra->x)[i];
      return tsr_error_set(TSR_EINVAL,
                           "%s%scannot cast '%.*s' to %s at row %lld of row chunk %lld (not a "
                           "%s; try_cast gives null instead)",
                           lab, sep, t.len > 80 ? 80 : (int)t.len, t.p, type_name(v->type), row,
                           chunk, type_name(v->type));
    }
    char buf[TSR__VT_MAX + 1];
    size_t len = tsr__vt_format(src->type, ra->x, i, buf);
    buf[len] = '\0';
    return tsr_error_set(TSR_EOVERFLOW,
                         "%s%scannot cast %s %s to %s at row %lld of row chunk %lld (out of its "
                         "range; try_cast gives null instead)",
                         lab, sep, type_name(src->type), buf, type_name(v->type), row, chunk);
  }
  if (v->code == I_DTRUNC)
    return tsr_error_set(TSR_EOVERFLOW,
                         "%s%sdate_trunc overflows %s at row %lld of row chunk %lld", lab, sep,
                         type_name(v->type), row, chunk);
  return tsr_error_set(TSR_EOVERFLOW,
                       "%s%s%s overflows %s at row %lld of row chunk %lld (integer "
                       "arithmetic never wraps; cast to a wider type or to float64)",
                       lab, sep, tsr__cp_op_name((tsr__cp_op)v->op),
                       tsr_dtype_name((tsr_dtype)v->dt), row, chunk);
}

/* ---- running inside a kernel (colprog.h) --------------------------------------------------- */

struct tsr__cprun {
  runner rn;
  int result;
  unsigned char *block; /* every value's batch buffers */
};

tsr_status tsr__cprun_create(const tsr__colprog *p, int result, tsr_ctx *ctx, int64_t chunk,
                             tsr__cprun **out) {
  *out = NULL;
  tsr__cprun *r;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *r, (void **)&r));
  r->rn = (runner){p, ctx, NULL, chunk, 0};
  r->result = result;
  tsr_status s;
  int nv = result + 1;
  /* Every value's buffers in one block. */
  size_t bytes = 0;
  for (int k = 0; k < nv; k++)
    bytes += (size_t)TSR__CP_BATCH * (dt_width(p->v[k].dt) + 2) + 64;
  TSR__TRY_GOTO(s, tsr_calloc(ctx, (size_t)nv, sizeof *r->rn.r, (void **)&r->rn.r));
  TSR__TRY_GOTO(s, tsr_alloc(ctx, bytes, (void **)&r->block));
  unsigned char *q = r->block;
  for (int k = 0; k < nv; k++) {
    r->rn.r[k].xbuf = q;
    q += (size_t)TSR__CP_BATCH * dt_width(p->v[k].dt);
    r->rn.r[k].mbuf = q;
    q += TSR__CP_BATCH;
    r->rn.r[k].ebuf = q;
    q += TSR__CP_BATCH;
    q = (unsigned char *)(((uintptr_t)q + 63) & ~(uintptr_t)63);
  }
  for (int k = 0; k < nv; k++)
    if (p->v[k].code == I_CMP && p->v[k].src_dt == TSR_BOOL)
      TSR__TRY_GOTO(s, grow_scratch(&r->rn, &r->rn.r[k], 2 * TSR__CP_BATCH));
  /* Constants once per task, over a whole batch. */
  for (int k = 0; k < nv; k++)
    if (p->v[k].is_const)
      TSR__TRY_GOTO(s, run_one(&r->rn, k, TSR__CP_BATCH));
  *out = r;
  return TSR_OK;
fail:
  tsr__cprun_destroy(&r);
  return s;
}

void tsr__cprun_destroy(tsr__cprun **rp) {
  tsr__cprun *r = *rp;
  if (r == NULL)
    return;
  tsr_ctx *ctx = r->rn.ctx;
  if (r->rn.r != NULL)
    for (int k = 0; k <= r->result; k++)
      tsr_free(ctx, r->rn.r[k].sbuf);
  tsr_free(ctx, r->rn.r);
  tsr_free(ctx, r->block);
  tsr_free(ctx, r);
  *rp = NULL;
}

void tsr__cprun_bind(tsr__cprun *r, int col, const tsr__colread *in) {
  const tsr__colprog *p = r->rn.p;
  for (int k = 0; k <= r->result; k++)
    if (p->v[k].code == I_LOAD && p->v[k].col == col)
      r->rn.r[k].in = *in;
}

/* Runs the values up to the result over rows [row0, row0 + n). */
static tsr_status run_batch(tsr__cprun *r, int64_t row0, int n) {
  const tsr__colprog *p = r->rn.p;
  r->rn.row0 = row0;
  for (int k = 0; k <= r->result; k++)
    if (!p->v[k].is_const)
      TSR_TRY(run_one(&r->rn, k, n));
  const uint8_t *e = r->rn.r[r->result].e;
  if (e != NULL)
    for (int i = 0; i < n; i++)
      if (e[i])
        return raise_error(&r->rn, error_origin(&r->rn, r->result, i), i);
  return TSR_OK;
}

tsr_status tsr__cprun_keep(tsr__cprun *r, int64_t row0, int n, uint8_t *keep) {
  TSR_TRY(run_batch(r, row0, n));
  const reg *rr = &r->rn.r[r->result];
  const uint8_t *x = rr->x, *m = rr->m;
  if (m == NULL)
    for (int i = 0; i < n; i++)
      keep[i] = x[i] != 0;
  else
    for (int i = 0; i < n; i++)
      keep[i] = (uint8_t)((x[i] != 0) & m[i]);
  return TSR_OK;
}

/* Writes bits [r0, r0 + n) of `bits` from the validity bytes m (NULL: all
 * valid); returns the number of nulls. */
static int64_t put_validity(uint8_t *bits, int64_t r0, const uint8_t *m, int n) {
  int64_t valid = 0;
  int i = 0;
  for (; i < n && ((r0 + i) & 7) != 0; i++) {
    bool v = m == NULL || m[i];
    tsr__bit_set(bits, r0 + i, v);
    valid += v;
  }
  uint8_t *b = bits + (r0 + i) / 8;
  if (m == NULL) {
    int bytes = (n - i) / 8;
    memset(b, 0xFF, (size_t)bytes);
    i += 8 * bytes;
    valid += 8 * bytes;
  } else {
    for (; i + 8 <= n; i += 8) {
      uint8_t byte = 0;
      for (int k = 0; k < 8; k++)
        byte |= (uint8_t)((m[i + k] != 0) << k);
      *b++ = byte;
      valid += __builtin_popcount(byte);
    }
  }
  for (; i < n; i++) {
    bool v = m == NULL || m[i];
    tsr__bit_set(bits, r0 + i, v);
    valid += v;
  }
  return n - valid;
}

tsr_status tsr__cprun_store(tsr__cprun *r, int64_t row0, int n, tsr__colchunk *c, int64_t o) {
  const tsr__colprog *p = r->rn.p;
  const cp_val *v = &p->v[r->result];
  reg *rr = &r->rn.r[r->result];
  size_t w = dt_width(v->dt);
  unsigned char *d = (unsigned char *)tsr__colchunk_values(c) + (size_t)o * w;
  /* The result's own loop writes into the output chunk when it can. */
  bool direct = !v->is_const && v->dt != DT_STR && v->dt != TSR_BOOL && v->code != I_LOAD;
  void *own = rr->xbuf;
  if (direct)
    rr->xbuf = d;
  tsr_status s = run_batch(r, row0, n);
  rr->xbuf = own;
  TSR_TRY(s);
  const uint8_t *m = rr->m;
  c->null_count += put_validity(tsr__colchunk_validity(c), o, m, n);
  if (v->dt == DT_STR) {
    tsr_string_view *dv = (tsr_string_view *)d;
    const sv *x = rr->x;
    for (int i = 0; i < n; i++)
      dv[i] = (m && !m[i]) ? tsr__view_make(c, "", 0) : tsr__view_make(c, x[i].p, (uint32_t)x[i].len);
  } else if (v->dt == TSR_BOOL) {
    const uint8_t *x = rr->x;
    for (int i = 0; i < n; i++)
      d[i] = x[i] != 0;
  } else if (rr->x != d) {
    memcpy(d, rr->x, (size_t)n * w);
  }
  return TSR_OK;
}

void tsr__colprog_hash(const tsr__colprog *p, int result, tsr__hash *h) {
  tsr__hash_u64(h, (uint64_t)p->n);
  tsr__hash_u64(h, (uint64_t)result);
  for (int k = 0; k < p->n; k++) {
    const cp_val *v = &p->v[k];
    uint64_t w[8] = {v->code, v->op, v->dt, (uint64_t)v->a, (uint64_t)v->b, (uint64_t)v->col,
                     (uint64_t)third(v), (uint64_t)v->aux};
    tsr__hash_bytes(h, w, sizeof w);
    tsr__hash_u64(h, (uint64_t)v->c.i);
    if (v->s)
      tsr__hash_bytes(h, v->s, v->slen);
  }
}

/* ---- the assign node ----------------------------------------------------------------------- */

typedef struct assign_params {
  tsr__fnode base;
  tsr__colprog *prog; /* one reference */
  int result;
  uint32_t nrefs;
  tsr__colref *refs;  /* per referenced column */
  int *ref_of_col;    /* frame column -> index into refs, -1 */
  uint32_t rowref;    /* the ref whose chunk gives the row count */
  tsr_ctx *ctx;
} assign_params;

static void assign_destroy(tsr__fnode *base) {
  assign_params *a = (assign_params *)base;
  prog_release(a->prog);
  tsr_free(a->ctx, a->refs);
  tsr_free(a->ctx, a->ref_of_col);
}

static tsr_status assign_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const assign_params *ap = t.node->params;
  const tsr__colprog *p = ap->prog;
  tsr__ftask_init_output(call);
  tsr__colchunk *oc = tsr__tablechunk_col(call->output, 0);
  tsr__cprun *r;
  TSR_TRY(tsr__cprun_create(p, ap->result, ap->ctx, t.chunk, &r));
  for (int c = 0; c < p->f->ncols; c++)
    if (ap->ref_of_col[c] >= 0) {
      tsr__colread in;
      tsr__colread_get(&ap->refs[ap->ref_of_col[c]], call, &in);
      tsr__cprun_bind(r, c, &in);
    }
  tsr__colread rowsrc;
  tsr__colread_get(&ap->refs[ap->rowref], call, &rowsrc);
  int64_t rows = rowsrc.rows;
  tsr_status s = TSR_OK;
  for (int64_t r0 = 0; r0 < rows && s == TSR_OK; r0 += TSR__CP_BATCH) {
    int n = (int)(rows - r0 < TSR__CP_BATCH ? rows - r0 : TSR__CP_BATCH);
    s = tsr__cprun_store(r, r0, n, oc, r0);
  }
  oc->rows = rows;
  tsr__cprun_destroy(&r);
  return s;
}

static tsr_status lower_assign(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                               uint32_t *out) {
  return tsr__fnode_lower_map(e, g, in, out, "frame_assign", assign_kernel, NULL, 0);
}

static void hash_assign(const tsr__expr *e, tsr__hash *h) {
  const assign_params *ap = e->params;
  tsr__fnode_hash(&ap->base, h);
  tsr__colprog_hash(ap->prog, ap->result, h);
}

static const tsr__op op_assign = {"frame_assign", lower_assign, tsr__fnode_destroy_params, false,
                                  NULL, hash_assign};

static int64_t str_bound(const tsr__colprog *p, int v, int64_t c);

/* The bytes of all strings (short ones too) value v can make in chunk c. */
static int64_t str_total(const tsr__colprog *p, int v, int64_t c) {
  return str_bound(p, v, c) + 12 * p->f->rows->cap[c];
}

/* The bytes of long strings value v can make in chunk c (its data cap). */
static int64_t str_bound(const tsr__colprog *p, int v, int64_t c) {
  const cp_val *x = &p->v[v];
  int64_t cap = p->f->rows->cap[c];
  switch ((icode)x->code) {
  case I_SUBSTR:
  case I_TRIM:
    return str_bound(p, x->a, c);
  case I_SELECT:
    return str_bound(p, x->b, c) + str_bound(p, x->x3, c);
  case I_CONCAT:
    return str_total(p, x->a, c) + str_total(p, x->b, c);
  case I_UCAST: {
    size_t mx = tsr__vt_max_len(p->v[x->a].type);
    return mx > 12 ? (int64_t)mx * cap : 0;
  }
  case I_REPLACE: {
    size_t f = p->v[x->b].slen, t = p->v[x->x3].slen;
    if (t <= f || f == 0)
      return str_bound(p, x->a, c);
    return str_total(p, x->a, c) * (int64_t)((t + f - 1) / f);
  }
  case I_LOAD:
    return tsr__col_data_cap(p->f, x->col, c);
  case I_CONST:
    return x->ck == C_STR && x->slen > 12 ? (int64_t)x->slen * cap : 0;
  case I_CASE:
    return str_bound(p, x->a, c);
  case I_DECODE: {
    int64_t mx = 0;
    for (int64_t i = 0; i < x->dict->size; i++) {
      int64_t len = x->dict->offsets[i + 1] - x->dict->offsets[i];
      mx = len > mx ? len : mx;
    }
    return mx > 12 ? mx * cap : 0;
  }
  default:
    return 0;
  }
}

int64_t tsr__colprog_data_cap(const tsr__colprog *p, int v, int64_t c) {
  return str_bound(p, v, c);
}

int tsr__colprog_ncols(const tsr__colprog *p) { return p->f->ncols; }

bool tsr__colprog_reads(const tsr__colprog *p, int result, int col) {
  for (int k = 0; k <= result && k < p->n; k++)
    if (p->v[k].code == I_LOAD && p->v[k].col == col)
      return true;
  return false;
}

void tsr__colprog_retain(tsr__colprog *p) { atomic_fetch_add(&p->refs, 1); }

tsr_status tsr__colprog_check(const tsr__colprog *p, int v, bool predicate, tsr_type *type) {
  TSR_CHECK(v >= 0 && v < p->n, TSR_EINVAL, "column program: no value %d", v);
  TSR_CHECK(p->f->ncols > 0, TSR_EINVAL, "the frame has no columns");
  tsr_type t = p->v[v].type;
  TSR_CHECK(t.id != TSR_NUM_COLTYPES, TSR_EDTYPE,
            "the expression is the null literal alone; its type is unknown");
  TSR_CHECK(!predicate || t.id == TSR_COL_BOOL, TSR_EDTYPE,
            "a filter needs a bool predicate, not %s", type_name(t));
  *type = t;
  return TSR_OK;
}

/* An assign node computing value v (of type t) over p's frame. */
static tsr_status make_node(tsr__colprog *p, int v, tsr_type t, tsr__expr **node) {
  tsr_frame *f = p->f;
  *node = NULL;
  assign_params *ap = NULL;
  int *cols = NULL;
  tsr__expr **inputs = NULL;
  int64_t *data_cap = NULL;
  tsr_status s;
  TSR__TRY_GOTO(s, tsr_calloc(p->ctx, 1, sizeof *ap, (void **)&ap));
  ap->ctx = p->ctx;
  ap->base.destroy_extra = assign_destroy;
  ap->prog = p;
  tsr__colprog_retain(p);
  ap->result = v;
  TSR__TRY_GOTO(s, tsr__alloc_array(p->ctx, (size_t)f->ncols + 1, sizeof *ap->ref_of_col,
                                    "column map", (void **)&ap->ref_of_col));
  TSR__TRY_GOTO(s, tsr__alloc_array(p->ctx, (size_t)f->ncols + 1, sizeof *cols, "columns",
                                    (void **)&cols));
  for (int i = 0; i < f->ncols; i++)
    ap->ref_of_col[i] = -1;
  int ncols = 0;
  for (int k = 0; k <= v; k++)
    if (p->v[k].code == I_LOAD && ap->ref_of_col[p->v[k].col] < 0) {
      ap->ref_of_col[p->v[k].col] = ncols;
      cols[ncols++] = p->v[k].col;
    }
  if (ncols == 0) { /* a constant expression: column 0 gives the row counts */
    ap->ref_of_col[0] = 0;
    cols[ncols++] = 0;
  }
  ap->rowref = 0;
  ap->nrefs = (uint32_t)ncols;
  TSR__TRY_GOTO(s, tsr__alloc_array(p->ctx, (size_t)ncols, sizeof *ap->refs, "column refs",
                                    (void **)&ap->refs));
  TSR__TRY_GOTO(s, tsr__alloc_array(p->ctx, (size_t)ncols, sizeof *inputs, "inputs",
                                    (void **)&inputs));
  uint32_t n_inputs = 0;
  tsr__frame_colrefs(f, ncols, cols, inputs, &n_inputs, ap->refs);
  if (t.id == TSR_COL_STRING) {
    TSR__TRY_GOTO(s, tsr__alloc_array(p->ctx, (size_t)f->rows->nchunks + 1, sizeof *data_cap,
                                      "string capacities", (void **)&data_cap));
    for (int64_t c = 0; c < f->rows->nchunks; c++)
      data_cap[c] = str_bound(p, v, c);
  }
  {
    assign_params *params = ap;
    ap = NULL; /* the node owns it, even on failure */
    s = tsr__fnode_create(p->ctx, &op_assign, f->rows, 1, &t, data_cap, n_inputs, inputs, params,
                          node);
  }
fail:
  if (ap != NULL) {
    assign_destroy(&ap->base);
    tsr_free(p->ctx, ap);
  }
  tsr_free(p->ctx, cols);
  tsr_free(p->ctx, inputs);
  tsr_free(p->ctx, data_cap);
  return s;
}

/* The filter node holding every column value v reads, or NULL (a column
 * elsewhere, or none read). */
static const tsr__expr *filter_source(const tsr__colprog *p, int v) {
  const tsr__expr *node = NULL;
  for (int k = 0; k <= v; k++) {
    if (p->v[k].code != I_LOAD)
      continue;
    const tsr__col *c = &p->f->cols[p->v[k].col];
    if (c->raw || !tsr__is_filter_node(c->node) || (node != NULL && c->node != node))
      return NULL;
    node = c->node;
  }
  return node;
}

tsr_status tsr__colprog_assign(tsr__colprog *p, int v, const char *name, tsr_frame **out) {
  *out = NULL;
  TSR_CHECK(name != NULL && name[0] != '\0', TSR_EINVAL, "the new column's name is empty");
  tsr_frame *f = p->f;
  tsr_type t;
  TSR_TRY(tsr__colprog_check(p, v, false, &t));
  tsr__expr *node = NULL;
  uint32_t slot = 0;
  tsr__col *cols = NULL;
  tsr_status s;
  TSR__TRY_GOTO(s, tsr__alloc_array(p->ctx, (size_t)f->ncols + 1, sizeof *cols, "columns",
                                    (void **)&cols));
  memcpy(cols, f->cols, (size_t)f->ncols * sizeof *cols);
  const tsr__expr *filter = filter_source(p, v);
  if (filter != NULL) {
    /* Fused: the filter computes the column from its kept rows, and f's
     * columns of that filter move to the extended node (same slots). */
    int *map;
    TSR__TRY_GOTO(s, tsr__alloc_array(p->ctx, (size_t)f->ncols + 1, sizeof *map, "column map",
                                      (void **)&map));
    for (int c = 0; c < f->ncols; c++)
      map[c] = !f->cols[c].raw && f->cols[c].node == filter ? (int)f->cols[c].slot : -1;
    s = tsr__filter_extend(filter, p, v, t, map, &node, &slot);
    tsr_free(p->ctx, map);
    if (s != TSR_OK)
      goto fail;
    for (int c = 0; c < f->ncols; c++)
      if (!cols[c].raw && cols[c].node == filter)
        cols[c].node = node;
  } else {
    TSR__TRY_GOTO(s, make_node(p, v, t, &node));
  }
  {
    tsr__col c = {(char *)name, t, p->v[v].dict, node, slot, false};
    int k = tsr_frame_col_index(f, name), n = f->ncols;
    if (k >= 0)
      cols[k] = c;
    else
      cols[n++] = c;
    TSR__TRY_GOTO(s, tsr__frame_make(p->ctx, n, cols, f->rows, out));
    (*out)->csv_bad_rows = f->csv_bad_rows;
  }
fail:
  tsr_free(p->ctx, cols);
  tsr__expr_release(&node);
  return s;
}
