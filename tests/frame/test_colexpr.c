/* test_colexpr.c — column expressions (tsr_frame_assign, tsr_frame_filter):
 * differential against references computed here row by row over a random
 * frame with nulls in every type and 82 ragged chunks, for 1 and 2
 * threads; hand-worked cases for three-valued logic, null propagation,
 * like patterns, dictionary predicates, date parts, integer overflow,
 * division by zero; and the error messages. */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include <tessera/query.h>

#include "test_util.h"

#define N 5000
#define CHUNK 61 /* 82 chunks, the last of 59 rows */

static const char *const pool[] = {"abc", "abcd", "ab", "xbcz", "Hello World, a long string!",
                                   "", "\xc3\x9c" "n\xc3\xaf" "code \xc3\x84" "B", "a_c%", "aXcY",
                                   "zzz long string number 2", "id003", "ABC"};
#define NPOOL (int)(sizeof pool / sizeof pool[0])
static const char *const dict_words[] = {"id001", "id002", "id003", "id004", "id005",
                                         "id006", "id007", "id008", "id009", "id010"};

typedef struct data {
  int8_t i8[N];
  int32_t i32[N];
  int64_t i64[N];
  uint16_t u16[N];
  float f32[N];
  double f64[N];
  uint8_t b[N];
  int si[N]; /* index into pool */
  int32_t d[N];
  int32_t dt[N];
  int64_t ts[N];
  /* validity per column: i8 i32 i64 f64 b s d dt ts */
  bool v_i8[N], v_i32[N], v_i64[N], v_f64[N], v_b[N], v_s[N], v_d[N], v_dt[N], v_ts[N];
  /* buffers handed over */
  uint8_t bits[9][(N + 7) / 8];
  int64_t offsets[N + 1];
  char sdata[N * 32];
  int64_t dict_off[11];
  char dict_data[64];
} data;

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static bool chance(int pct) { return (int)(next() % 100) < pct; }
static int64_t range(int64_t lo, int64_t hi) { return lo + (int64_t)(next() % (uint64_t)(hi - lo + 1)); }

static void pack(const bool *v, uint8_t *bits) {
  memset(bits, 0, (N + 7) / 8);
  for (int i = 0; i < N; i++)
    if (v[i])
      bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

static void generate(data *x) {
  int64_t off = 0;
  for (int i = 0; i < N; i++) {
    x->i8[i] = (int8_t)range(-100, 100);
    x->i32[i] = (int32_t)range(-5, 5);
    x->i64[i] = range(-1000000, 1000000);
    x->u16[i] = (uint16_t)range(0, 65535);
    x->f32[i] = (float)range(0, 9999) / 1000.0f;
    x->f64[i] = (double)range(-1000, 1000) / 1000.0;
    x->b[i] = (uint8_t)range(0, 1);
    x->si[i] = (int)range(0, NPOOL - 1);
    x->d[i] = (int32_t)range(0, 9);
    x->dt[i] = (int32_t)range(-800, 21000);
    x->ts[i] = range(-2000000000000ll, 2000000000000000ll);
    x->v_i8[i] = chance(90);
    x->v_i32[i] = chance(85);
    x->v_i64[i] = chance(90);
    x->v_f64[i] = chance(80);
    x->v_b[i] = chance(80);
    x->v_s[i] = chance(85);
    x->v_d[i] = chance(85);
    x->v_dt[i] = chance(90);
    x->v_ts[i] = chance(90);
    if (!x->v_d[i])
      x->d[i] = 12345; /* garbage under a null must not be read as a code */
    size_t len = strlen(pool[x->si[i]]);
    x->offsets[i] = off;
    memcpy(x->sdata + off, pool[x->si[i]], len);
    off += (int64_t)len;
  }
  x->offsets[N] = off;
  const bool *vs[9] = {x->v_i8, x->v_i32, x->v_i64, x->v_f64, x->v_b,
                       x->v_s,  x->v_d,   x->v_dt,  x->v_ts};
  for (int k = 0; k < 9; k++)
    pack(vs[k], x->bits[k]);
  int64_t o = 0;
  for (int k = 0; k < 10; k++) {
    x->dict_off[k] = o;
    memcpy(x->dict_data + o, dict_words[k], 5);
    o += 5;
  }
  x->dict_off[10] = o;
}

static tsr_frame *make_frame(tsr_ctx *ctx, data *x, int64_t chunk) {
  tsr_column_data c[11];
  memset(c, 0, sizeof c);
  c[0] = (tsr_column_data){.name = "i8", .type = {TSR_COL_INT8, 0}, .length = N, .values = x->i8,
                           .validity = x->bits[0]};
  c[1] = (tsr_column_data){.name = "i32", .type = {TSR_COL_INT32, 0}, .length = N,
                           .values = x->i32, .validity = x->bits[1]};
  c[2] = (tsr_column_data){.name = "i64", .type = {TSR_COL_INT64, 0}, .length = N,
                           .values = x->i64, .validity = x->bits[2]};
  c[3] = (tsr_column_data){.name = "u16", .type = {TSR_COL_UINT16, 0}, .length = N,
                           .values = x->u16};
  c[4] = (tsr_column_data){.name = "f32", .type = {TSR_COL_FLOAT32, 0}, .length = N,
                           .values = x->f32};
  c[5] = (tsr_column_data){.name = "f64", .type = {TSR_COL_FLOAT64, 0}, .length = N,
                           .values = x->f64, .validity = x->bits[3]};
  c[6] = (tsr_column_data){.name = "b", .type = {TSR_COL_BOOL, 0}, .length = N, .values = x->b,
                           .validity = x->bits[4]};
  c[7] = (tsr_column_data){.name = "s", .type = {TSR_COL_STRING, 0}, .length = N,
                           .offsets = x->offsets, .data = x->sdata, .validity = x->bits[5]};
  c[8] = (tsr_column_data){.name = "d", .type = {TSR_COL_DICT, 0}, .length = N, .values = x->d,
                           .validity = x->bits[6], .dict_size = 10,
                           .dict_offsets = x->dict_off, .dict_data = x->dict_data};
  c[9] = (tsr_column_data){.name = "dt", .type = {TSR_COL_DATE, 0}, .length = N,
                           .values = x->dt, .validity = x->bits[7]};
  c[10] = (tsr_column_data){.name = "ts", .type = {TSR_COL_TIMESTAMP, TSR_TIME_US}, .length = N,
                            .values = x->ts, .validity = x->bits[8]};
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 11, c, chunk, TSR_BUFFER_BORROW, NULL, NULL, &f));
  return f;
}

/* ---- references ---- */

typedef struct want {
  bool valid;
  int64_t i;
  double f;
  const char *s;
  char buf[64];
  size_t slen;
} want;

typedef void (*ref_fn)(const data *x, int r, want *w);

static const char *S(const data *x, int r) { return pool[x->si[r]]; }
static const char *D(const data *x, int r) { return dict_words[x->d[r]]; }

static bool ref_like(const char *s, const char *p) {
  if (*p == '\0')
    return *s == '\0';
  if (*p == '%')
    return ref_like(s, p + 1) || (*s != '\0' && ref_like(s + 1, p));
  if (*s == '\0')
    return false;
  if (*p == '_') {
    int k = 1;
    while (((unsigned char)s[k] & 0xC0) == 0x80)
      k++;
    return ref_like(s + k, p + 1);
  }
  return *p == *s && ref_like(s + 1, p + 1);
}

static int64_t ref_len(const char *s) {
  int64_t k = 0;
  for (; *s; s++)
    k += ((unsigned char)*s & 0xC0) != 0x80;
  return k;
}

static void ref_tm(int64_t seconds, struct tm *tm) {
  time_t t = (time_t)seconds;
  gmtime_r(&t, tm);
}
static int64_t floordiv(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

/* Three-valued: 0 false, 1 true, 2 null. */
static int and3(int a, int b) { return a == 0 || b == 0 ? 0 : a == 2 || b == 2 ? 2 : 1; }
static int or3(int a, int b) { return a == 1 || b == 1 ? 1 : a == 2 || b == 2 ? 2 : 0; }

#define REF(name, body)                                  \
  static void name(const data *x, int r, want *w) {      \
    body                                                 \
  }

REF(r_add, w->valid = x->v_i64[r] && x->v_i32[r]; w->i = x->i64[r] + x->i32[r] * 3;)
REF(r_fdiv, w->valid = x->v_f64[r] && x->v_i32[r]; w->f = x->f64[r] / (double)x->i32[r];)
REF(r_idiv, w->valid = x->v_i64[r] && x->v_i32[r] && x->i32[r] != 0;
    if (w->valid) w->i = x->i64[r] / x->i32[r];)
REF(r_mod, w->valid = x->v_i64[r] && x->v_i32[r] && x->i32[r] != 0;
    if (w->valid) w->i = x->i64[r] % x->i32[r];)
REF(r_i8p1, w->valid = x->v_i8[r]; w->i = x->i8[r] + 1;)
REF(r_f32x2, w->valid = true; w->f = (float)(x->f32[r] * 2.0f);)
REF(r_logic, {
  int a = x->v_f64[r] ? x->f64[r] > 0.5 : 2;
  int b = x->v_b[r] ? x->b[r] : 2;
  int c = !x->v_i32[r];
  int v = or3(and3(a, b), c);
  w->valid = v != 2;
  w->i = v == 1;
})
REF(r_not, w->valid = x->v_i64[r]; w->i = !(x->i64[r] < 0);)
REF(r_seq, w->valid = x->v_s[r]; w->i = strcmp(S(x, r), "abc") == 0;)
REF(r_slt, w->valid = x->v_s[r]; w->i = strcmp(S(x, r), "m") < 0;)
REF(r_like, w->valid = x->v_s[r]; w->i = ref_like(S(x, r), "a%c_");)
REF(r_contains, w->valid = x->v_s[r]; w->i = strstr(S(x, r), "bc") != NULL;)
REF(r_starts, w->valid = x->v_s[r]; w->i = strncmp(S(x, r), "ab", 2) == 0;)
REF(r_slen, w->valid = x->v_s[r]; w->i = ref_len(S(x, r));)
static void r_upper(const data *x, int r, want *w) {
  w->valid = x->v_s[r];
  const char *s = S(x, r);
  w->slen = strlen(s);
  for (size_t i = 0; i < w->slen; i++) {
    unsigned char c = (unsigned char)s[i];
    /* ASCII, and Latin-1's letters (U+00E0..U+00FE but the sign /) two bytes apart */
    if (c == 0xC3 && i + 1 < w->slen && (unsigned char)s[i + 1] >= 0xA0 &&
        (unsigned char)s[i + 1] <= 0xBE && (unsigned char)s[i + 1] != 0xB7) {
      w->buf[i] = s[i];
      w->buf[i + 1] = (char)(s[i + 1] - 0x20);
      i++;
    } else
      w->buf[i] = (char)((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c);
  }
  w->s = w->buf;
}
static void r_lower(const data *x, int r, want *w) {
  w->valid = x->v_s[r];
  const char *s = S(x, r);
  w->slen = strlen(s);
  for (size_t i = 0; i < w->slen; i++) {
    unsigned char c = (unsigned char)s[i];
    /* ASCII, and Latin-1's letters (U+00C0..U+00DE but the sign x) two bytes apart */
    if (c == 0xC3 && i + 1 < w->slen && (unsigned char)s[i + 1] >= 0x80 &&
        (unsigned char)s[i + 1] <= 0x9E && (unsigned char)s[i + 1] != 0x97) {
      w->buf[i] = s[i];
      w->buf[i + 1] = (char)(s[i + 1] + 0x20);
      i++;
    } else
      w->buf[i] = (char)((c >= 'A' && c <= 'Z') ? c - 'A' + 'a' : c);
  }
  w->s = w->buf;
}
REF(r_deq, w->valid = x->v_d[r]; w->i = x->v_d[r] && strcmp(D(x, r), "id003") == 0;)
REF(r_dlike, w->valid = x->v_d[r]; w->i = x->v_d[r] && ref_like(D(x, r), "id00_");)
static void r_dupper(const data *x, int r, want *w) {
  w->valid = x->v_d[r];
  if (!w->valid)
    return;
  snprintf(w->buf, sizeof w->buf, "ID%s", D(x, r) + 2);
  w->s = w->buf;
  w->slen = strlen(w->buf);
}
REF(r_dlen, w->valid = x->v_d[r]; w->i = 5;)
REF(r_dlt, w->valid = x->v_d[r]; w->i = x->v_d[r] && strcmp(D(x, r), "id005") < 0;)
REF(r_deqs, w->valid = x->v_d[r] && x->v_s[r];
    w->i = w->valid && strcmp(D(x, r), S(x, r)) == 0;)
REF(r_dcont, w->valid = x->v_d[r]; w->i = x->v_d[r] && strchr(D(x, r) + 2, '1') != NULL;)
static void r_datepart(const data *x, int r, want *w, int which) {
  w->valid = x->v_dt[r];
  struct tm tm;
  ref_tm((int64_t)x->dt[r] * 86400, &tm);
  w->i = which == 0 ? tm.tm_year + 1900 : which == 1 ? tm.tm_mon + 1 : tm.tm_mday;
}
REF(r_year, r_datepart(x, r, w, 0);)
REF(r_month, r_datepart(x, r, w, 1);)
REF(r_day, r_datepart(x, r, w, 2);)
REF(r_dtge, w->valid = x->v_dt[r]; w->i = x->dt[r] >= 19753; /* 2024-01-31 */)
static void r_tspart(const data *x, int r, want *w, int which) {
  w->valid = x->v_ts[r];
  struct tm tm;
  ref_tm(floordiv(x->ts[r], 1000000), &tm);
  w->i = which == 0 ? tm.tm_hour : tm.tm_year + 1900;
}
REF(r_hour, r_tspart(x, r, w, 0);)
REF(r_tsyear, r_tspart(x, r, w, 1);)
REF(r_u16i8, w->valid = x->v_i8[r]; w->i = (int32_t)x->u16[r] + x->i8[r];)
REF(r_abs, w->valid = x->v_i32[r]; w->i = x->i32[r] < 0 ? -x->i32[r] : x->i32[r];)
REF(r_sqrt, w->valid = x->v_f64[r]; w->f = sqrt(x->f64[r]);)
REF(r_neg, w->valid = x->v_i64[r]; w->i = -x->i64[r];)
REF(r_mixed, w->valid = x->v_i64[r]; w->f = (double)(x->i64[r] * 2) + 1.5;)
REF(r_quoted, w->valid = x->v_i64[r] && x->v_i8[r]; w->i = x->i64[r] - x->i8[r];)
REF(r_tslit, w->valid = x->v_ts[r]; w->i = x->ts[r] < 1700000000000000ll + 500000;)

typedef struct ecase {
  const char *expr;
  tsr_coltype type;
  ref_fn ref;
} ecase;

static const ecase cases[] = {
    {"i64 + i32 * 3", TSR_COL_INT64, r_add},
    {"f64 / i32", TSR_COL_FLOAT64, r_fdiv},
    {"i64 // i32", TSR_COL_INT64, r_idiv},
    {"i64 % i32", TSR_COL_INT64, r_mod},
    {"i8 + 1", TSR_COL_INT8, r_i8p1},
    {"f32 * 2", TSR_COL_FLOAT32, r_f32x2},
    {"(f64 > 0.5 and b) or is_null(i32)", TSR_COL_BOOL, r_logic},
    {"not (i64 < 0)", TSR_COL_BOOL, r_not},
    {"s == 'abc'", TSR_COL_BOOL, r_seq},
    {"s < 'm'", TSR_COL_BOOL, r_slt},
    {"s like 'a%c_'", TSR_COL_BOOL, r_like},
    {"contains(s, 'bc')", TSR_COL_BOOL, r_contains},
    {"starts_with(s, 'ab')", TSR_COL_BOOL, r_starts},
    {"length(s)", TSR_COL_INT64, r_slen},
    {"upper(s)", TSR_COL_STRING, r_upper},
    {"lower(s)", TSR_COL_STRING, r_lower},
    {"d == 'id003'", TSR_COL_BOOL, r_deq},
    {"like(d, 'id00_')", TSR_COL_BOOL, r_dlike},
    {"upper(d)", TSR_COL_DICT, r_dupper},
    {"length(d)", TSR_COL_INT64, r_dlen},
    {"'id005' > d", TSR_COL_BOOL, r_dlt},
    {"d == s", TSR_COL_BOOL, r_deqs},
    {"d contains '1'", TSR_COL_BOOL, r_dcont},
    {"year(dt)", TSR_COL_INT64, r_year},
    {"month(dt)", TSR_COL_INT64, r_month},
    {"day(dt)", TSR_COL_INT64, r_day},
    {"dt >= '2024-01-31'", TSR_COL_BOOL, r_dtge},
    {"hour(ts)", TSR_COL_INT64, r_hour},
    {"year(ts)", TSR_COL_INT64, r_tsyear},
    {"u16 + i8", TSR_COL_INT32, r_u16i8},
    {"abs(i32)", TSR_COL_INT32, r_abs},
    {"sqrt(f64)", TSR_COL_FLOAT64, r_sqrt},
    {"-i64", TSR_COL_INT64, r_neg},
    {"i64 * 2 + 1.5", TSR_COL_FLOAT64, r_mixed},
    {"`i64` - i8", TSR_COL_INT64, r_quoted},
    {"ts < '2023-11-14 22:13:20.5'", TSR_COL_BOOL, r_tslit},
};
#define NCASES (int)(sizeof cases / sizeof cases[0])

static int64_t read_int(const void *vals, tsr_coltype t, int64_t r) {
  switch (t) {
  case TSR_COL_BOOL:
    return ((const uint8_t *)vals)[r];
  case TSR_COL_INT8:
    return ((const int8_t *)vals)[r];
  case TSR_COL_INT32:
    return ((const int32_t *)vals)[r];
  default:
    return ((const int64_t *)vals)[r];
  }
}

static bool same_double(double a, double b) {
  return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void check_case(const data *x, tsr_frame_result *res, int col, const ecase *e) {
  static int64_t vals[N];
  static uint8_t valid[(N + 7) / 8];
  tsr_type t = tsr_frame_result_col_type(res, col);
  if (t.id != e->type)
    print_error("'%s': type %s\n", e->expr, tsr_type_name(t));
  assert_int_equal(t.id, e->type);
  bool str = e->type == TSR_COL_STRING || e->type == TSR_COL_DICT;
  if (!str)
    assert_ok(tsr_frame_result_values(res, col, vals, N * tsr_type_width(t), valid));
  for (int r = 0; r < N; r++) {
    want w;
    memset(&w, 0, sizeof w);
    e->ref(x, r, &w);
    bool got_valid;
    if (str) {
      const char *text;
      size_t len;
      bool is_null;
      assert_ok(tsr_frame_result_string(res, col, r, &text, &len, &is_null));
      got_valid = !is_null;
      if (got_valid != w.valid)
        print_error("'%s' row %d: valid %d, want %d\n", e->expr, r, got_valid, w.valid);
      assert_int_equal(got_valid, w.valid);
      if (w.valid) {
        if (len != w.slen || memcmp(text, w.s, len) != 0)
          print_error("'%s' row %d: '%.*s', want '%.*s'\n", e->expr, r, (int)len, text,
                      (int)w.slen, w.s);
        assert_int_equal(len, w.slen);
        assert_memory_equal(text, w.s, len);
      }
      continue;
    }
    got_valid = (valid[r / 8] >> (r % 8)) & 1;
    if (got_valid != w.valid)
      print_error("'%s' row %d: valid %d, want %d\n", e->expr, r, got_valid, w.valid);
    assert_int_equal(got_valid, w.valid);
    if (!w.valid)
      continue;
    if (e->type == TSR_COL_FLOAT64 || e->type == TSR_COL_FLOAT32) {
      double g = e->type == TSR_COL_FLOAT64 ? ((const double *)vals)[r]
                                            : ((const float *)vals)[r];
      if (!same_double(g, w.f))
        print_error("'%s' row %d: %.17g, want %.17g\n", e->expr, r, g, w.f);
      assert_true(same_double(g, w.f));
    } else {
      int64_t g = read_int(vals, e->type, r);
      if (g != w.i)
        print_error("'%s' row %d: %lld, want %lld\n", e->expr, r, (long long)g,
                    (long long)w.i);
      assert_int_equal(g, w.i);
    }
  }
}

static data X;

static void test_colexpr__differential(void **state) {
  tsr_ctx *ctx = *state;
  generate(&X);
  for (int threads = 1; threads <= 2; threads++) {
    assert_ok(tsr_ctx_set_threads(ctx, threads));
    tsr_frame *f = make_frame(ctx, &X, CHUNK);
    assert_int_equal(tsr_frame_nchunks(f), 82);
    for (int k = 0; k < NCASES; k++) {
      char name[16];
      snprintf(name, sizeof name, "e%d", k);
      tsr_frame *g = NULL;
      tsr_status s = tsr_frame_assign(f, name, cases[k].expr, &g);
      if (s != TSR_OK)
        print_error("'%s': %s\n", cases[k].expr, tsr_last_error());
      assert_ok(s);
      tsr_frame_destroy(&f);
      f = g;
    }
    tsr_frame_result *res = NULL;
    assert_ok(tsr_frame_compute(f, NULL, &res));
    assert_int_equal(tsr_frame_result_nrows(res), N);
    for (int k = 0; k < NCASES; k++)
      check_case(&X, res, 11 + k, &cases[k]);
    tsr_frame_result_destroy(&res);
    tsr_frame_destroy(&f);
  }
}

/* Filters keep exactly the rows where the predicate is true, in order. */
static void test_colexpr__filter_differential(void **state) {
  tsr_ctx *ctx = *state;
  generate(&X);
  const char *preds[] = {"f64 > 0 and s != 'abc'", "d == 'id003' or i32 < 0",
                         "not (b or is_null(i64))", "s like '%b%' and dt < '2000-01-01'"};
  for (int threads = 1; threads <= 2; threads++) {
    assert_ok(tsr_ctx_set_threads(ctx, threads));
    for (int k = 0; k < 4; k++) {
      tsr_frame *f = make_frame(ctx, &X, CHUNK), *g = NULL;
      assert_ok(tsr_frame_filter(f, preds[k], &g));
      assert_int_equal(tsr_frame_nrows_known(g), -1);
      tsr_frame_result *res = NULL;
      assert_ok(tsr_frame_compute(g, NULL, &res));
      int64_t want_rows = 0;
      static int64_t got[N];
      static uint8_t gv[(N + 7) / 8];
      int64_t nr = tsr_frame_result_nrows(res);
      assert_ok(tsr_frame_result_values(res, 2, got, (size_t)nr * 8, gv));
      for (int r = 0; r < N; r++) {
        int keep;
        int f64 = X.v_f64[r] ? X.f64[r] > 0 : 2, sne = X.v_s[r] ? strcmp(S(&X, r), "abc") != 0 : 2;
        int deq = X.v_d[r] ? strcmp(D(&X, r), "id003") == 0 : 2,
            ilt = X.v_i32[r] ? X.i32[r] < 0 : 2;
        int b = X.v_b[r] ? X.b[r] : 2, inull = !X.v_i64[r];
        int sl = X.v_s[r] ? ref_like(S(&X, r), "%b%") : 2,
            dlt = X.v_dt[r] ? X.dt[r] < 10957 : 2;
        int nb = or3(b, inull);
        switch (k) {
        case 0:
          keep = and3(f64, sne);
          break;
        case 1:
          keep = or3(deq, ilt);
          break;
        case 2:
          keep = nb == 2 ? 2 : !nb;
          break;
        default:
          keep = and3(sl, dlt);
          break;
        }
        if (keep != 1)
          continue;
        assert_true(want_rows < nr);
        bool v = (gv[want_rows / 8] >> (want_rows % 8)) & 1;
        assert_int_equal(v, X.v_i64[r]);
        if (v)
          assert_int_equal(got[want_rows], X.i64[r]);
        const char *text;
        size_t len;
        bool is_null;
        assert_ok(tsr_frame_result_string(res, 7, want_rows, &text, &len, &is_null));
        assert_int_equal(is_null, !X.v_s[r]);
        if (!is_null) {
          assert_int_equal(len, strlen(S(&X, r)));
          assert_memory_equal(text, S(&X, r), len);
        }
        want_rows++;
      }
      assert_int_equal(nr, want_rows);
      tsr_frame_result_destroy(&res);
      tsr_frame_destroy(&g);
      tsr_frame_destroy(&f);
    }
  }
}

/* ---- hand-worked ---- */

/* A 9-row frame: a and b over {true, false, null} x {true, false, null},
 * plus i (int64) and s (string). */
static tsr_frame *truth_frame(tsr_ctx *ctx) {
  static const uint8_t a[9] = {1, 1, 1, 0, 0, 0, 0, 0, 0}, b[9] = {1, 0, 0, 1, 0, 0, 1, 0, 0};
  static const uint8_t av = 0x3F, bv = 0xDB; /* a null in rows 6-8, b null in rows 2, 5, 8 */
  static uint8_t avb[2] = {av, 0}, bvb[2] = {bv, 0};
  static const int64_t i[9] = {INT64_MAX, -7, 7, 0, 1, -1, INT64_MIN, 5, 100};
  static const int64_t off[10] = {0, 3, 6, 8, 12, 12, 17, 21, 24, 30};
  static const char sd[] = "abcaXcabAbCdhelloa%_bAbcxyz123456";
  tsr_column_data c[4];
  memset(c, 0, sizeof c);
  c[0] = (tsr_column_data){.name = "a", .type = {TSR_COL_BOOL, 0}, .length = 9, .values = a,
                           .validity = avb};
  c[1] = (tsr_column_data){.name = "b", .type = {TSR_COL_BOOL, 0}, .length = 9, .values = b,
                           .validity = bvb};
  c[2] = (tsr_column_data){.name = "i", .type = {TSR_COL_INT64, 0}, .length = 9, .values = i};
  c[3] = (tsr_column_data){.name = "s", .type = {TSR_COL_STRING, 0}, .length = 9, .offsets = off,
                           .data = sd};
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 4, c, 4, TSR_BUFFER_BORROW, NULL, NULL, &f));
  return f;
}

/* Computes expr over f; values as int64 (bool/int) into out, validity into
 * valid ('1', '0' or '-' for null per row, as a string). */
static void eval_bools(tsr_frame *f, const char *expr, char *got) {
  tsr_frame *g = NULL;
  assert_ok(tsr_frame_assign(f, "r", expr, &g));
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_compute(g, NULL, &res));
  int64_t n = tsr_frame_result_nrows(res);
  uint8_t vals[64], valid[8];
  int col = tsr_frame_result_ncols(res) - 1;
  assert_ok(tsr_frame_result_values(res, col, vals, (size_t)n, valid));
  for (int64_t r = 0; r < n; r++)
    got[r] = ((valid[r / 8] >> (r % 8)) & 1) ? (char)('0' + vals[r]) : '-';
  got[n] = '\0';
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&g);
}

static void test_colexpr__three_valued(void **state) {
  tsr_frame *f = truth_frame(*state);
  char got[16];
  /* rows: (T,T) (T,F) (T,-) (F,T) (F,F) (F,-) (-,T) (-,F) (-,-) */
  eval_bools(f, "a and b", got);
  assert_string_equal(got, "10-000-0-");
  eval_bools(f, "a or b", got);
  assert_string_equal(got, "11110-1--");
  eval_bools(f, "not a", got);
  assert_string_equal(got, "000111---");
  eval_bools(f, "is_null(a) or is_null(b)", got);
  assert_string_equal(got, "001001111");
  eval_bools(f, "a == b", got);
  assert_string_equal(got, "10-01----");
  eval_bools(f, "a and null", got);
  assert_string_equal(got, "---000---");
  eval_bools(f, "a or null", got);
  assert_string_equal(got, "111------");
  eval_bools(f, "is_null(null) and not is_null(i)", got);
  assert_string_equal(got, "111111111");
  eval_bools(f, "i + null > 0", got);
  assert_string_equal(got, "---------");
  eval_bools(f, "true and not false", got);
  assert_string_equal(got, "111111111");
  eval_bools(f, "a AND b OR NOT TRUE", got); /* SQL's capitals */
  assert_string_equal(got, "10-000-0-");
  /* Backticks quote names with spaces and keywords. */
  tsr_frame *g = NULL, *h = NULL;
  assert_ok(tsr_frame_rename(f, "a", "and", &g));
  assert_ok(tsr_frame_rename(g, "b", "my col", &h));
  eval_bools(h, "`and` and `my col`", got);
  assert_string_equal(got, "10-000-0-");
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

static void test_colexpr__like_and_strings(void **state) {
  tsr_frame *f = truth_frame(*state);
  char got[16];
  /* s: abc aXc ab AbCd "" hello a%_b Abc xyz123 */
  eval_bools(f, "s like 'a_c'", got);
  assert_string_equal(got, "110000000");
  eval_bools(f, "s like '%'", got);
  assert_string_equal(got, "111111111");
  eval_bools(f, "s like ''", got);
  assert_string_equal(got, "000010000");
  eval_bools(f, "s like '%c%'", got);
  assert_string_equal(got, "110000010");
  eval_bools(f, "s like 'a%b'", got);
  assert_string_equal(got, "001000100");
  eval_bools(f, "lower(s) == 'abc'", got);
  assert_string_equal(got, "100000010");
  eval_bools(f, "upper(s) starts_with 'AB'", got);
  assert_string_equal(got, "101100010");
  eval_bools(f, "length(s) == 3", got);
  assert_string_equal(got, "110000010");
  eval_bools(f, "s > 'a' and s < 'b'", got);
  assert_string_equal(got, "111000100");
  eval_bools(f, "contains(s, '')", got);
  assert_string_equal(got, "111111111");
  tsr_frame_destroy(&f);
  /* Non-ASCII: '_' and length count code points; case mapping maps Latin-1
   * letters too (DuckDB's) and keeps the byte length. */
  static const char text[] = "\xc3\x9c" "n\xc3\xaf" "code" "na\xc3\xafve" "\xc3\x84" "b";
  static const int64_t off[4] = {0, 9, 15, 18};
  tsr_column_data c = {.name = "s", .type = {TSR_COL_STRING, 0}, .length = 3, .offsets = off,
                       .data = text};
  assert_ok(tsr_frame_from_columns(*state, 1, &c, 0, TSR_BUFFER_COPY, NULL, NULL, &f));
  eval_bools(f, "s like '_n_code'", got);
  assert_string_equal(got, "100");
  eval_bools(f, "s like 'na_ve' or s like '_b'", got);
  assert_string_equal(got, "011");
  eval_bools(f, "length(s) == 7", got);
  assert_string_equal(got, "100");
  eval_bools(f, "length(s) == 2", got);
  assert_string_equal(got, "001");
  eval_bools(f, "upper(s) == '\xc3\x9c" "N\xc3\x8f" "CODE' or lower(s) == '\xc3\xa4" "b'", got);
  assert_string_equal(got, "101");
  tsr_frame_destroy(&f);
}

static void test_colexpr__integer_semantics(void **state) {
  tsr_frame *f = truth_frame(*state), *g = NULL;
  /* i: MAX, -7, 7, 0, 1, -1, MIN, 5, 100 */
  assert_ok(tsr_frame_assign(f, "q", "i // 2", &g));
  tsr_frame *h = NULL;
  assert_ok(tsr_frame_assign(g, "m", "i % 2", &h));
  tsr_frame_destroy(&g);
  assert_ok(tsr_frame_assign(h, "z", "i // 0", &g));
  tsr_frame_destroy(&h);
  assert_ok(tsr_frame_assign(g, "fz", "i / 0", &h));
  tsr_frame_destroy(&g);
  assert_ok(tsr_frame_assign(h, "mm", "i % -1", &g));
  tsr_frame_destroy(&h);
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_compute(g, NULL, &res));
  int64_t q[9], m[9], z[9], mm[9];
  double fz[9];
  uint8_t zv[2];
  assert_ok(tsr_frame_result_values(res, 4, q, sizeof q, NULL));
  assert_ok(tsr_frame_result_values(res, 5, m, sizeof m, NULL));
  assert_ok(tsr_frame_result_values(res, 6, z, sizeof z, zv));
  assert_ok(tsr_frame_result_values(res, 7, fz, sizeof fz, NULL));
  assert_ok(tsr_frame_result_values(res, 8, mm, sizeof mm, NULL));
  const int64_t wq[9] = {INT64_MAX / 2, -3, 3, 0, 0, 0, INT64_MIN / 2, 2, 50};
  const int64_t wm[9] = {1, -1, 1, 0, 1, -1, 0, 1, 0};
  for (int r = 0; r < 9; r++) {
    assert_int_equal(q[r], wq[r]);
    assert_int_equal(m[r], wm[r]);
    assert_int_equal(mm[r], 0);
  }
  assert_int_equal(zv[0], 0); /* x // 0 is null */
  assert_int_equal(zv[1] & 1, 0);
  assert_true(isinf(fz[0]) && fz[0] > 0); /* IEEE: x / 0 */
  assert_true(isinf(fz[1]) && fz[1] < 0);
  assert_true(isnan(fz[3]));
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&g);

  /* Overflow is an error naming the expression, never a wrap. */
  const char *over[] = {"i + 1", "i * 3", "i - 2", "-i", "abs(i)", "i // -1"};
  for (int k = 0; k < 6; k++) {
    assert_ok(tsr_frame_assign(f, "o", over[k], &g));
    assert_fails(tsr_frame_compute(g, NULL, &res), TSR_EOVERFLOW, "overflows int64");
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", over[k]);
    assert_non_null(strstr(tsr_last_error(), quoted));
    assert_null(res);
    tsr_frame_destroy(&g);
  }
  /* ... but not where the operand is null: a filter first drops MAX. */
  assert_ok(tsr_frame_filter(f, "i < 1000 and i > -1000", &h));
  assert_ok(tsr_frame_assign(h, "o", "i * 4611686018427387904", &g));
  assert_fails(tsr_frame_compute(g, NULL, &res), TSR_EOVERFLOW, "row");
  tsr_frame_destroy(&g);
  assert_ok(tsr_frame_assign(h, "o", "i * 1000000", &g));
  assert_ok(tsr_frame_compute(g, NULL, &res));
  assert_int_equal(tsr_frame_result_nrows(res), 7);
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&f);
}

/* Nulls under an overflowing value: (null) + 1 where the stored value is
 * INT8_MAX is null, not an error. */
static void test_colexpr__overflow_under_null(void **state) {
  tsr_ctx *ctx = *state;
  int8_t v[3] = {127, 1, -128};
  uint8_t valid[1] = {0x2};
  tsr_column_data c = {.name = "x", .type = {TSR_COL_INT8, 0}, .length = 3, .values = v,
                       .validity = valid};
  tsr_frame *f = NULL, *g = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 1, &c, 0, TSR_BUFFER_COPY, NULL, NULL, &f));
  assert_ok(tsr_frame_assign(f, "y", "x + 1", &g));
  assert_int_equal(tsr_frame_col_type(g, 1).id, TSR_COL_INT8);
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_compute(g, NULL, &res));
  int8_t y[3];
  uint8_t yv[1];
  assert_ok(tsr_frame_result_values(res, 1, y, sizeof y, yv));
  assert_int_equal(yv[0] & 7, 2);
  assert_int_equal(y[1], 2);
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&g);
  /* A literal that does not fit int8 promotes the expression to int64. */
  assert_ok(tsr_frame_assign(f, "y", "x + 1000", &g));
  assert_int_equal(tsr_frame_col_type(g, 1).id, TSR_COL_INT64);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

static void test_colexpr__dictionary_and_dates(void **state) {
  tsr_ctx *ctx = *state;
  static const int64_t doff[4] = {0, 5, 9, 14};
  static const char dd[] = "AlphaBetaalpha"; /* byte order: 'A' < 'B' < 'a' */
  int32_t codes[5] = {0, 2, 1, 2, 0};         /* Alpha alpha (null) alpha Alpha */
  int32_t days[5] = {19782, -1, 0, 11016, -719162}; /* 2024-02-29 1969-12-31 1970-01-01 2000-02-29 0001-01-01 */
  int64_t ts[5] = {-1, 0, 3600000000ll * 25, 1709164800000000ll + 13 * 3600000000ll, 86399999999ll};
  uint8_t dv[1] = {0x1B}; /* row 2 null */
  tsr_column_data c[3];
  memset(c, 0, sizeof c);
  c[0] = (tsr_column_data){.name = "k", .type = {TSR_COL_DICT, 0}, .length = 5, .values = codes,
                           .validity = dv, .dict_size = 3, .dict_offsets = doff,
                           .dict_data = dd};
  c[1] = (tsr_column_data){.name = "d", .type = {TSR_COL_DATE, 0}, .length = 5, .values = days};
  c[2] = (tsr_column_data){.name = "t", .type = {TSR_COL_TIMESTAMP, TSR_TIME_US}, .length = 5,
                           .values = ts};
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 3, c, 2, TSR_BUFFER_COPY, NULL, NULL, &f));
  char got[16];
  eval_bools(f, "k == 'alpha'", got);
  assert_string_equal(got, "01-10");
  eval_bools(f, "lower(k) == 'alpha'", got);
  assert_string_equal(got, "11-11");
  eval_bools(f, "k < 'B'", got); /* byte order: 'A' < 'B' < 'a' */
  assert_string_equal(got, "10-01");
  eval_bools(f, "upper(k) == upper(k)", got);
  assert_string_equal(got, "11-11");
  eval_bools(f, "k like '%a'", got);
  assert_string_equal(got, "11-11");
  eval_bools(f, "d == '2024-02-29' or d < '1970-01-01'", got);
  assert_string_equal(got, "11001");
  tsr_frame *g = NULL, *h = NULL;
  assert_ok(tsr_frame_assign(f, "y", "year(d) * 10000 + month(d) * 100 + day(d)", &g));
  assert_ok(tsr_frame_assign(g, "h", "hour(t) * 100000000 + year(t) * 10000 + month(t) * 100 + day(t)", &h));
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_compute(h, NULL, &res));
  int64_t y[5], hh[5];
  assert_ok(tsr_frame_result_values(res, 3, y, sizeof y, NULL));
  assert_ok(tsr_frame_result_values(res, 4, hh, sizeof hh, NULL));
  const int64_t wy[5] = {20240229, 19691231, 19700101, 20000229, 10101};
  const int64_t wh[5] = {2319691231, 19700101, 119700102, 1320240229, 2319700101};
  for (int r = 0; r < 5; r++) {
    assert_int_equal(y[r], wy[r]);
    assert_int_equal(hh[r], wh[r]);
  }
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  /* Wrong literals for dates are type errors naming the expected form. */
  assert_fails(tsr_frame_filter(f, "d > '2024-13-01'", &g), TSR_EDTYPE, "YYYY-MM-DD");
  assert_fails(tsr_frame_filter(f, "hour(d) > 1", &g), TSR_EDTYPE, "hour needs a timestamp");
  tsr_frame_destroy(&f);
}

static void test_colexpr__errors(void **state) {
  tsr_frame *f = truth_frame(*state), *g = NULL;
  assert_fails(tsr_frame_assign(f, "r", "i + ", &g), TSR_EPARSE, "column 5: expected an operand");
  assert_fails(tsr_frame_assign(f, "r", "(i + 1", &g), TSR_EPARSE, "column 7: expected ')'");
  assert_fails(tsr_frame_assign(f, "r", "i + 1 2", &g), TSR_EPARSE,
               "column 7: expected an operator or the end of the expression, found number '2'");
  assert_fails(tsr_frame_assign(f, "r", "i < 1 < 2", &g), TSR_EPARSE, "do not chain");
  assert_fails(tsr_frame_assign(f, "r", "v1 * 2", &g), TSR_EINVAL,
               "unknown column 'v1' (the frame has: a, b, i, s)");
  assert_fails(tsr_frame_assign(f, "r", "i + s", &g), TSR_EDTYPE,
               "'i + s': cannot add int64 and string");
  assert_fails(tsr_frame_assign(f, "r", "a and i", &g), TSR_EDTYPE,
               "'a and i': 'and' needs bool operands, not bool and int64");
  assert_fails(tsr_frame_assign(f, "r", "length(i)", &g), TSR_EDTYPE, "length needs a string");
  assert_fails(tsr_frame_assign(f, "r", "frobnicate(i)", &g), TSR_EPARSE,
               "unknown function 'frobnicate'");
  assert_fails(tsr_frame_assign(f, "r", "lower(s, s)", &g), TSR_EPARSE,
               "lower() takes 1 argument (2 given)");
  assert_fails(tsr_frame_assign(f, "r", "`s", &g), TSR_EPARSE, "unterminated quoted name");
  assert_fails(tsr_frame_filter(f, "i + 1", &g), TSR_EDTYPE, "needs a bool predicate, not int64");
  assert_fails(tsr_frame_assign(f, "r", "null", &g), TSR_EDTYPE, "null literal alone");
  assert_null(g);
  /* Deep nesting is refused, not a stack overflow. */
  static char deep[4096];
  memset(deep, '(', 1000);
  strcpy(deep + 1000, "i");
  assert_fails(tsr_frame_assign(f, "r", deep, &g), TSR_EPARSE, "nested too deeply");
  tsr_frame_destroy(&f);
}

/* Empty frames: the expressions type-check and compute to no rows. */
static void test_colexpr__empty_frame(void **state) {
  tsr_ctx *ctx = *state;
  static const int64_t off[1] = {0};
  tsr_column_data c[2] = {{.name = "i", .type = {TSR_COL_INT64, 0}, .length = 0},
                          {.name = "s", .type = {TSR_COL_STRING, 0}, .length = 0, .offsets = off}};
  tsr_frame *f = NULL, *g = NULL, *h = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, c, 0, TSR_BUFFER_COPY, NULL, NULL, &f));
  assert_ok(tsr_frame_filter(f, "i > 0 or s like 'a%'", &g));
  assert_ok(tsr_frame_assign(g, "u", "upper(s)", &h));
  assert_int_equal(tsr_frame_col_type(h, 2).id, TSR_COL_STRING);
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_compute(h, NULL, &res));
  assert_int_equal(tsr_frame_result_nrows(res), 0);
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

/* Failing the n-th allocation anywhere along parse, build and compute
 * returns TSR_ENOMEM cleanly, for every n (the teardown checks leaks). */
static void test_colexpr__out_of_memory(void **state) {
  tsr_ctx *ctx = *state;
  tsr_frame *f = truth_frame(ctx);
  bool done = false;
  for (uint64_t n = 1; n < 2000 && !done; n++) {
    tsr_frame *g = NULL, *h = NULL;
    tsr_frame_result *res = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_status s = tsr_frame_filter(f, "lower(s) like 'a%' or is_null(a)", &g);
    if (s == TSR_OK)
      s = tsr_frame_assign(g, "w", "upper(s) == 'ABC' and i // 3 > 0", &h);
    if (s == TSR_OK)
      s = tsr_frame_compute(h, NULL, &res);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    if (s != TSR_ENOMEM)
      assert_ok(s);
    done = s == TSR_OK;
    if (done)
      assert_int_equal(tsr_frame_result_nrows(res), 7);
    tsr_frame_result_destroy(&res);
    tsr_frame_destroy(&h);
    tsr_frame_destroy(&g);
  }
  assert_true(done);
  tsr_frame_destroy(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_colexpr__differential, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr__filter_differential, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr__three_valued, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr__like_and_strings, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr__integer_semantics, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr__overflow_under_null, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr__dictionary_and_dates, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr__errors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr__out_of_memory, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr__empty_frame, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
