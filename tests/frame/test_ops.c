/* test_ops.c — row slices, head and tail, concatenation, casts and
 * fill_null, differential against the same operation done by hand on a
 * naive reference (frame_util.h), over random frames of every column type
 * with nulls in at least 64 ragged chunks, and over empty frames. */
#include <math.h>
#include <unistd.h>

#include "frame_util.h"

#define NROWS 3000

static void make(tsr_ctx *ctx, ref_frame *ref, tsr_frame **f, uint64_t seed) {
  ref_frame_random(ref, TSR_NUM_COLTYPES, fu_types, NROWS, 10, seed);
  assert_ok(ref_frame_to_frame(ctx, ref, 64, seed * 7 + 1, f));
  assert_true(tsr_frame_nchunks(*f) >= 64);
  assert_int_equal(tsr_frame_nrows_known(*f), NROWS);
}

/* Python's slice bounds. */
static int64_t py_index(int64_t i, int64_t n) {
  if (i < 0)
    i = i < -n ? 0 : n + i;
  return i > n ? n : i;
}

static void check_slice(tsr_frame *f, const ref_frame *ref, int64_t start, int64_t stop) {
  tsr_frame *s = NULL;
  assert_ok(tsr_frame_slice(f, start, stop, &s));
  int64_t a = py_index(start, ref->n), b = py_index(stop, ref->n);
  if (b < a)
    b = a;
  assert_int_equal(tsr_frame_nrows_known(s), b - a);
  ref_frame got;
  ref_frame_compute(s, &got);
  assert_int_equal(got.n, b - a);
  for (int i = 0; i < ref->ncols; i++)
    ref_col_assert_rows(&ref->cols[i], a, b, &got.cols[i]);
  ref_frame_free(&got);
  tsr_frame_destroy(&s);
}

static void test_ops__slices_match_the_reference(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL;
  make(ctx, &ref, &f, 11);
  const int64_t bounds[][2] = {{0, NROWS},     {0, 1},      {5, 6},       {17, 2500},
                               {-10, -1},      {-1, NROWS}, {100, 50},    {-NROWS - 5, 3},
                               {2999, 9999},   {0, 0},      {1500, 1501}, {-700, INT64_MAX},
                               {INT64_MIN, 40}};
  for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++)
    check_slice(f, &ref, bounds[k][0], bounds[k][1]);
  uint64_t seed = 99;
  for (int k = 0; k < 20; k++) {
    int64_t a = (int64_t)(fu_rand(&seed) % (NROWS + 200)) - 100;
    int64_t b = (int64_t)(fu_rand(&seed) % (NROWS + 200)) - 100;
    check_slice(f, &ref, a, b);
  }
  /* head and tail, pandas' negative counts included */
  const int64_t counts[] = {0, 1, 7, 1000, NROWS, NROWS + 5, -3, -NROWS - 1};
  for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
    int64_t n = counts[k];
    tsr_frame *h = NULL, *t = NULL;
    assert_ok(tsr_frame_head(f, n, &h));
    assert_ok(tsr_frame_tail(f, n, &t));
    int64_t hb = n >= 0 ? (n < NROWS ? n : NROWS) : (NROWS + n > 0 ? NROWS + n : 0);
    int64_t ta = n >= 0 ? (n < NROWS ? NROWS - n : 0) : (-n < NROWS ? -n : NROWS);
    ref_frame gh, gt;
    ref_frame_compute(h, &gh);
    ref_frame_compute(t, &gt);
    for (int i = 0; i < ref.ncols; i++) {
      ref_col_assert_rows(&ref.cols[i], 0, hb, &gh.cols[i]);
      ref_col_assert_rows(&ref.cols[i], ta, NROWS, &gt.cols[i]);
    }
    ref_frame_free(&gh);
    ref_frame_free(&gt);
    tsr_frame_destroy(&h);
    tsr_frame_destroy(&t);
  }
  /* A slice only reads the chunks it needs: one row is one chunk. */
  tsr_frame *one = NULL;
  assert_ok(tsr_frame_slice(f, 1234, 1235, &one));
  assert_int_equal(tsr_frame_nchunks(one), 1);
  tsr_frame_destroy(&one);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_ops__concat_unifies_dictionaries(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame a, b;
  ref_frame_random(&a, TSR_NUM_COLTYPES, fu_types, 700, 15, 3);
  ref_frame_random(&b, TSR_NUM_COLTYPES, fu_types, 500, 15, 4);
  /* b's dictionary differs from a's: other words. */
  ref_col *bd = &b.cols[TSR_COL_DICT];
  for (int d = 0; d < 5; d++) {
    free(bd->dict[d]);
    bd->dict[d] = fu_strdup(fu_words[(d * 5 + 1) % 8]);
  }
  qsort(bd->dict, 5, sizeof *bd->dict, fu_cmp_str);
  for (int64_t r = 0; r < b.n; r++) {
    free(bd->str[r]);
    bd->str[r] =
        fu_strdup(b.cols[TSR_COL_DICT].valid[r] ? bd->dict[((int32_t *)bd->values)[r]] : "");
  }
  tsr_frame *fa = NULL, *fb = NULL, *empty = NULL, *cat = NULL;
  assert_ok(ref_frame_to_frame(ctx, &a, 20, 5, &fa));
  assert_ok(ref_frame_to_frame(ctx, &b, 20, 6, &fb));
  ref_frame none;
  ref_frame_random(&none, TSR_NUM_COLTYPES, fu_types, 0, 0, 1);
  assert_ok(ref_frame_to_frame(ctx, &none, 1, 1, &empty));
  assert_int_equal(tsr_frame_nrows_known(empty), 0);
  tsr_frame *parts[4] = {fa, empty, fb, fa};
  assert_ok(tsr_frame_concat(4, parts, &cat));
  assert_int_equal(tsr_frame_nrows_known(cat), 700 + 500 + 700);
  assert_int_equal(tsr_frame_nchunks(cat), 2 * tsr_frame_nchunks(fa) + tsr_frame_nchunks(fb));
  ref_frame got;
  ref_frame_compute(cat, &got);
  for (int i = 0; i < a.ncols; i++) {
    ref_col g1 = got.cols[i], g2 = got.cols[i], g3 = got.cols[i];
    size_t w = tsr_type_width(a.cols[i].type);
    g1.n = 700;
    g2.n = 500;
    g2.valid += 700;
    g2.values += 700 * w;
    g3.n = 700;
    g3.valid += 1200;
    g3.values += 1200 * w;
    if (g1.str != NULL) {
      g2.str += 700;
      g3.str += 1200;
    }
    ref_col wa = a.cols[i], wb = b.cols[i];
    if (wa.type.id == TSR_COL_DICT) { /* by text only */
      wa.type.id = TSR_COL_STRING;
      wb.type.id = TSR_COL_STRING;
      g1.type.id = g2.type.id = g3.type.id = TSR_COL_STRING;
    }
    ref_col_assert_rows(&wa, 0, 700, &g1);
    ref_col_assert_rows(&wb, 0, 500, &g2);
    ref_col_assert_rows(&wa, 0, 700, &g3);
  }
  ref_frame_free(&got);
  /* The union dictionary is sorted and holds both dictionaries' words. */
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(cat, NULL, &r));
  int64_t size;
  const int64_t *off;
  const char *data;
  assert_ok(tsr_frame_result_dict(r, TSR_COL_DICT, &size, &off, &data));
  assert_true(size >= 5 && size <= 10);
  for (int64_t d = 1; d < size; d++) {
    size_t n1 = (size_t)(off[d] - off[d - 1]), n2 = (size_t)(off[d + 1] - off[d]);
    int c = memcmp(data + off[d - 1], data + off[d], n1 < n2 ? n1 : n2);
    assert_true(c < 0 || (c == 0 && n1 < n2));
  }
  tsr_frame_result_destroy(&r);
  /* Mismatched schemas name the column. */
  const char *keep[2] = {"c1", "c2"}, *swap[2] = {"c2", "c1"};
  tsr_frame *x = NULL, *y = NULL, *bad = NULL;
  assert_ok(tsr_frame_select(fa, 2, keep, &x));
  assert_ok(tsr_frame_select(fa, 2, swap, &y));
  tsr_frame *xy[2] = {x, y};
  assert_fails(tsr_frame_concat(2, xy, &bad), TSR_EINVAL, "column 0 is 'c2' in frame 1");
  tsr_frame_destroy(&y);
  assert_ok(tsr_frame_rename(x, "c2", "c3", &y));
  tsr_frame *z = NULL;
  assert_ok(tsr_frame_cast(x, "c2", (tsr_type){TSR_COL_INT64, 0}, &z));
  tsr_frame *xz[2] = {x, z};
  assert_fails(tsr_frame_concat(2, xz, &bad), TSR_EDTYPE, "column 'c2' is int64 in frame 1");
  tsr_frame_destroy(&z);
  tsr_frame_destroy(&y);
  tsr_frame_destroy(&x);
  tsr_frame_destroy(&cat);
  tsr_frame_destroy(&empty);
  tsr_frame_destroy(&fb);
  tsr_frame_destroy(&fa);
  ref_frame_free(&none);
  ref_frame_free(&b);
  ref_frame_free(&a);
}

/* ---- casts ---------------------------------------------------------------------------- */

static bool is_int(tsr_coltype t) { return t >= TSR_COL_INT8 && t <= TSR_COL_UINT64; }

static void int_range(tsr_coltype t, long double *lo, long double *hi) {
  static const long double los[] = {
      0, -128.0L, -32768.0L, -2147483648.0L, -9223372036854775808.0L, 0, 0, 0, 0};
  static const long double his[] = {
      1,      127.0L,   32767.0L,      2147483647.0L,          9223372036854775807.0L,
      255.0L, 65535.0L, 4294967295.0L, 18446744073709551615.0L};
  *lo = los[t];
  *hi = his[t];
}

/* Every numeric -> numeric cast over one random frame: the result's
 * values, or the error naming the first bad row when some value does not
 * fit (then the frame is cut to the rows before it and cast again). */
static void test_ops__numeric_casts_match_the_reference(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL;
  ref_frame_random(&ref, 11, fu_types, 400, 10, 21); /* bool .. float64 */
  assert_ok(ref_frame_to_frame(ctx, &ref, 16, 22, &f));
  for (int from = 0; from <= TSR_COL_FLOAT64; from++)
    for (int to = 0; to <= TSR_COL_FLOAT64; to++) {
      const ref_col *c = &ref.cols[from];
      /* The first valid row that does not fit, as the reference sees it. */
      int64_t bad = -1;
      for (int64_t i = 0; i < ref.n && bad < 0; i++) {
        if (!c->valid[i])
          continue;
        long double x = ref_num_at(c, i);
        if (is_int((tsr_coltype)to)) {
          long double lo, hi;
          int_range((tsr_coltype)to, &lo, &hi);
          long double r = from >= TSR_COL_FLOAT32 ? (long double)nearbyint((double)x) : x;
          if (!(r >= lo && r <= hi))
            bad = i;
        }
      }
      tsr_frame *g = NULL;
      char name[8];
      snprintf(name, sizeof name, "c%d", from);
      assert_ok(tsr_frame_cast(f, name, fu_types[to], &g));
      assert_int_equal(tsr_frame_col_type(g, from).id, to);
      tsr_frame_result *r = NULL;
      if (bad >= 0) {
        char want[64];
        snprintf(want, sizeof want, "column '%s' row %lld:", name, (long long)bad);
        tsr_status st = tsr_frame_compute(g, NULL, &r);
        assert_int_equal(st, TSR_EOVERFLOW);
        /* Some bad row is named (threads race to the first failure). */
        assert_non_null(strstr(tsr_last_error(), "is out of range for"));
        tsr_frame_destroy(&g);
        tsr_frame *head = NULL;
        assert_ok(tsr_frame_head(f, bad, &head));
        assert_ok(tsr_frame_cast(head, name, fu_types[to], &g));
        tsr_frame_destroy(&head);
        (void)want;
      }
      ref_frame got;
      ref_frame_compute(g, &got);
      const ref_col *gc = &got.cols[from];
      size_t w = tsr_type_width(fu_types[to]);
      for (int64_t i = 0; i < got.n; i++) {
        assert_int_equal(gc->valid[i], c->valid[i]);
        if (!c->valid[i])
          continue;
        long double x = ref_num_at(c, i);
        unsigned char want[8];
        switch (to) {
        case TSR_COL_BOOL:
          want[0] = x != 0;
          break;
#define W(ID, T)                                                                              \
  case ID: {                                                                                  \
    T v = (T)(from >= TSR_COL_FLOAT32 && is_int((tsr_coltype)to) ? nearbyint((double)x) : x); \
    memcpy(want, &v, sizeof v);                                                               \
    break;                                                                                    \
  }
          W(TSR_COL_INT8, int8_t)
          W(TSR_COL_INT16, int16_t)
          W(TSR_COL_INT32, int32_t)
          W(TSR_COL_INT64, int64_t)
          W(TSR_COL_UINT8, uint8_t)
          W(TSR_COL_UINT16, uint16_t)
          W(TSR_COL_UINT32, uint32_t)
          W(TSR_COL_UINT64, uint64_t)
#undef W
        case TSR_COL_FLOAT32: {
          float v = from == TSR_COL_FLOAT64  ? (float)((const double *)c->values)[i]
                    : from == TSR_COL_UINT64 ? (float)((const uint64_t *)c->values)[i]
                    : from == TSR_COL_INT64  ? (float)((const int64_t *)c->values)[i]
                                             : (float)x;
          memcpy(want, &v, 4);
          break;
        }
        default: {
          double v = from == TSR_COL_UINT64  ? (double)((const uint64_t *)c->values)[i]
                     : from == TSR_COL_INT64 ? (double)((const int64_t *)c->values)[i]
                                             : (double)x;
          memcpy(want, &v, 8);
          break;
        }
        }
        if (memcmp(gc->values + i * (int64_t)w, want, w) != 0)
          print_error("cast %s -> %s row %lld\n", tsr_type_name(fu_types[from]),
                      tsr_type_name(fu_types[to]), (long long)i);
        assert_memory_equal(gc->values + i * (int64_t)w, want, w);
      }
      ref_frame_free(&got);
      tsr_frame_destroy(&g);
    }
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

/* Hand-made values: rounding half to even, range errors naming column,
 * row and value, text both ways, dictionaries, dates and timestamps. */
static void test_ops__casts_by_hand(void **state) {
  tsr_ctx *ctx = *state;
  double d[8] = {0.5, 1.5, 2.5, -2.5, -0.5, 127.4, 1e10, 3.25};
  uint8_t valid[1] = {0x7f}; /* row 7 null */
  const char *words[6] = {"12", " -7 ", "1e3", "x1", "2024-02-29", "2024-02-29 13:14:15.25"};
  int64_t off[7] = {0};
  char data[128];
  for (int i = 0; i < 6; i++) {
    size_t n = strlen(words[i]);
    memcpy(data + off[i], words[i], n);
    off[i + 1] = off[i] + (int64_t)n;
  }
  tsr_column_data cd[2] = {
      {.name = "d", .type = {TSR_COL_FLOAT64, 0}, .length = 8, .values = d, .validity = valid},
      {.name = "s", .type = {TSR_COL_STRING, 0}, .length = 6, .offsets = off, .data = data}};
  tsr_frame *fd = NULL, *fs = NULL, *g = NULL, *h = NULL;
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 1, &cd[0], 3, TSR_BUFFER_BORROW, NULL, NULL, &fd));
  assert_ok(tsr_frame_from_columns(ctx, 1, &cd[1], 4, TSR_BUFFER_BORROW, NULL, NULL, &fs));
  /* float64 -> int8: 127.4 rounds to 127, 1e10 is out of range (row 6). */
  assert_ok(tsr_frame_cast(fd, "d", (tsr_type){TSR_COL_INT8, 0}, &g));
  assert_fails(tsr_frame_compute(g, NULL, &r), TSR_EOVERFLOW,
               "column 'd' row 6: '10000000000.0' is out of range for int8");
  tsr_frame_destroy(&g);
  assert_ok(tsr_frame_cast(fd, "d", (tsr_type){TSR_COL_INT64, 0}, &g));
  assert_ok(tsr_frame_compute(g, NULL, &r));
  int64_t iv[8];
  uint8_t bits[1];
  assert_ok(tsr_frame_result_values(r, 0, iv, sizeof iv, bits));
  const int64_t want_i[7] = {0, 2, 2, -2, 0, 127, 10000000000};
  for (int i = 0; i < 7; i++)
    assert_int_equal(iv[i], want_i[i]);
  assert_int_equal(bits[0], 0x7f);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&g);
  /* float64 -> string: shortest round-trip text; null stays null. */
  assert_ok(tsr_frame_cast(fd, "d", (tsr_type){TSR_COL_STRING, 0}, &g));
  assert_ok(tsr_frame_compute(g, NULL, &r));
  const char *want_s[7] = {"0.5", "1.5", "2.5", "-2.5", "-0.5", "127.4", "10000000000.0"};
  for (int i = 0; i < 8; i++) {
    const char *t;
    size_t n;
    bool is_null;
    assert_ok(tsr_frame_result_string(r, 0, i, &t, &n, &is_null));
    assert_int_equal(is_null, i == 7);
    if (i < 7) {
      assert_int_equal(n, strlen(want_s[i]));
      assert_memory_equal(t, want_s[i], n);
    }
  }
  tsr_frame_result_destroy(&r);
  /* ... and back to float64 exactly; then to a dictionary and back. */
  assert_ok(tsr_frame_cast(g, "d", (tsr_type){TSR_COL_FLOAT64, 0}, &h));
  assert_ok(tsr_frame_compute(h, NULL, &r));
  double back[8];
  assert_ok(tsr_frame_result_values(r, 0, back, sizeof back, NULL));
  assert_memory_equal(back, d, 7 * sizeof(double));
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  assert_ok(tsr_frame_cast(fd, "d", (tsr_type){TSR_COL_DICT, 0}, &g));
  assert_ok(tsr_frame_compute(g, NULL, &r));
  int64_t size;
  const int64_t *doff;
  const char *ddata;
  assert_ok(tsr_frame_result_dict(r, 0, &size, &doff, &ddata));
  assert_int_equal(size, 7);
  assert_memory_equal(ddata + doff[0], "-0.5", 4); /* byte order */
  tsr_frame_result_destroy(&r);
  assert_ok(tsr_frame_cast(g, "d", (tsr_type){TSR_COL_FLOAT32, 0}, &h));
  assert_ok(tsr_frame_compute(h, NULL, &r));
  float fv[8];
  assert_ok(tsr_frame_result_values(r, 0, fv, sizeof fv, NULL));
  for (int i = 0; i < 7; i++)
    assert_true(fv[i] == (float)d[i]);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  /* string -> int32: row 2 ("1e3") does not parse (the only bad row of
   * the first three: with several, threads race to report one). */
  tsr_frame *three = NULL;
  assert_ok(tsr_frame_head(fs, 3, &three));
  assert_ok(tsr_frame_cast(three, "s", (tsr_type){TSR_COL_INT32, 0}, &g));
  assert_fails(tsr_frame_compute(g, NULL, &r), TSR_EPARSE,
               "column 's' row 2: '1e3' is not a value of type int32");
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&three);
  tsr_frame *two = NULL;
  assert_ok(tsr_frame_head(fs, 2, &two));
  assert_ok(tsr_frame_cast(two, "s", (tsr_type){TSR_COL_INT32, 0}, &g));
  assert_ok(tsr_frame_compute(g, NULL, &r));
  int32_t i32[2];
  assert_ok(tsr_frame_result_values(r, 0, i32, sizeof i32, NULL));
  assert_int_equal(i32[0], 12);
  assert_int_equal(i32[1], -7);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&two);
  /* string -> date and timestamp; timestamp -> date and string. */
  tsr_frame *dates = NULL;
  assert_ok(tsr_frame_slice(fs, 4, 6, &dates));
  assert_ok(tsr_frame_cast(dates, "s", (tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_MS}, &g));
  assert_ok(tsr_frame_compute(g, NULL, &r));
  int64_t ts[2];
  assert_ok(tsr_frame_result_values(r, 0, ts, sizeof ts, NULL));
  assert_int_equal(ts[0], 19782LL * 86400000); /* 2024-02-29 is day 19782 */
  assert_int_equal(ts[1], 19782LL * 86400000 + (13 * 3600 + 14 * 60 + 15) * 1000LL + 250);
  tsr_frame_result_destroy(&r);
  assert_ok(tsr_frame_cast(g, "s", (tsr_type){TSR_COL_STRING, 0}, &h));
  assert_ok(tsr_frame_compute(h, NULL, &r));
  const char *t;
  size_t n;
  assert_ok(tsr_frame_result_string(r, 0, 1, &t, &n, NULL));
  assert_int_equal(n, strlen("2024-02-29 13:14:15.25"));
  assert_memory_equal(t, "2024-02-29 13:14:15.25", n);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&h);
  assert_ok(tsr_frame_cast(g, "s", (tsr_type){TSR_COL_DATE, 0}, &h));
  assert_ok(tsr_frame_compute(h, NULL, &r));
  int32_t days[2];
  assert_ok(tsr_frame_result_values(r, 0, days, sizeof days, NULL));
  assert_int_equal(days[0], 19782);
  assert_int_equal(days[1], 19782);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&dates);
  /* Types that do not convert. */
  tsr_frame *bad = NULL;
  assert_ok(tsr_frame_cast(fs, "s", (tsr_type){TSR_COL_DATE, 0}, &g));
  assert_fails(tsr_frame_cast(g, "s", (tsr_type){TSR_COL_INT32, 0}, &bad), TSR_EDTYPE,
               "column 's' is date; it cannot become int32");
  tsr_frame_destroy(&g);
  assert_fails(tsr_frame_cast(fs, "nope", (tsr_type){TSR_COL_DATE, 0}, &bad), TSR_EINVAL,
               "no column named 'nope'");
  tsr_frame_destroy(&fs);
  tsr_frame_destroy(&fd);
}

/* Floats become text as Python's repr writes them. */
/* The widest dates and timestamps as text: casts size their string data by
 * the widest text of the type, so a text longer than that would overflow.
 * Expected values from Python's datetime, shifted by 400-year cycles. */
static void test_ops__extreme_dates_as_text(void **state) {
  tsr_ctx *ctx = *state;
  int32_t days[4] = {INT32_MIN, INT32_MAX, INT32_MIN, INT32_MIN}; /* every text past 12 bytes */
  const char *want[4] = {"-5877641-06-23", "5881580-07-11", "-5877641-06-23", "-5877641-06-23"};
  int64_t secs[2] = {INT64_MIN, INT64_MAX};
  const char *swant[2] = {"-292277022657-01-27 08:29:52", "292277026596-12-04 15:30:07"};
  int64_t ns[2] = {INT64_MIN, INT64_MAX};
  const char *nswant[2] = {"1677-09-21 00:12:43.145224192", "2262-04-11 23:47:16.854775807"};
  int64_t secs4[4] = {secs[0], secs[1], 0, 0}, ns4[4] = {ns[0], ns[1], 0, 0};
  tsr_column_data cd[3] = {
      {.name = "d", .type = {TSR_COL_DATE, 0}, .length = 4, .values = days},
      {.name = "s", .type = {TSR_COL_TIMESTAMP, TSR_TIME_S}, .length = 4, .values = secs4},
      {.name = "n", .type = {TSR_COL_TIMESTAMP, TSR_TIME_NS}, .length = 4, .values = ns4}};
  tsr_frame *f = NULL, *g = NULL, *h = NULL, *k = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 3, cd, 0, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_ok(tsr_frame_cast(f, "d", (tsr_type){TSR_COL_STRING, 0}, &g));
  assert_ok(tsr_frame_cast(g, "s", (tsr_type){TSR_COL_STRING, 0}, &h));
  assert_ok(tsr_frame_cast(h, "n", (tsr_type){TSR_COL_STRING, 0}, &k));
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(k, NULL, &r));
  for (int i = 0; i < 4; i++) {
    const char *t;
    size_t n;
    assert_ok(tsr_frame_result_string(r, 0, i, &t, &n, NULL));
    if (n != strlen(want[i]) || memcmp(t, want[i], n) != 0)
      print_error("date %d: '%.*s', want '%s'\n", (int)days[i], (int)n, t, want[i]);
    assert_int_equal(n, strlen(want[i]));
    assert_memory_equal(t, want[i], n);
    if (i < 2) {
      assert_ok(tsr_frame_result_string(r, 1, i, &t, &n, NULL));
      assert_int_equal(n, strlen(swant[i]));
      assert_memory_equal(t, swant[i], n);
      assert_ok(tsr_frame_result_string(r, 2, i, &t, &n, NULL));
      assert_int_equal(n, strlen(nswant[i]));
      assert_memory_equal(t, nswant[i], n);
    }
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&k);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  /* A chunk of nothing but the widest date (the data buffer ends the chunk). */
  int32_t wide[64];
  for (int i = 0; i < 64; i++)
    wide[i] = INT32_MIN;
  tsr_column_data one = {.name = "d", .type = {TSR_COL_DATE, 0}, .length = 64, .values = wide};
  assert_ok(tsr_frame_from_columns(ctx, 1, &one, 0, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_ok(tsr_frame_cast(f, "d", (tsr_type){TSR_COL_STRING, 0}, &g));
  assert_ok(tsr_frame_compute(g, NULL, &r));
  for (int i = 0; i < 64; i++) {
    const char *t;
    size_t n;
    assert_ok(tsr_frame_result_string(r, 0, i, &t, &n, NULL));
    assert_int_equal(n, strlen(want[0]));
    assert_memory_equal(t, want[0], n);
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

static void test_ops__float_text_as_python_repr(void **state) {
  tsr_ctx *ctx = *state;
  double v[12] = {0.1,  1.0 / 3, 1e16,   1e-5,   123456789.125, 5e-324, 1.7976931348623157e308,
                  -0.0, 100.0,   0.0001, 2.5e-7, 1e15};
  const char *want[12] = {"0.1",     "0.3333333333333333",      "1e+16", "1e-05", "123456789.125",
                          "5e-324",  "1.7976931348623157e+308", "-0.0",  "100.0", "0.0001",
                          "2.5e-07", "1000000000000000.0"};
  float fv[4] = {0.1f, 16777216.0f, 3.4028235e38f, 1e-45f};
  const char *fwant[4] = {"0.1", "16777216.0", "3.4028235e+38", "1e-45"};
  tsr_column_data cd[2] = {
      {.name = "d", .type = {TSR_COL_FLOAT64, 0}, .length = 12, .values = v},
      {.name = "f", .type = {TSR_COL_FLOAT32, 0}, .length = 12, .values = NULL}};
  float f12[12] = {0};
  memcpy(f12, fv, sizeof fv);
  cd[1].values = f12;
  tsr_frame *f = NULL, *g = NULL, *h = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, cd, 5, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_ok(tsr_frame_cast(f, "d", (tsr_type){TSR_COL_STRING, 0}, &g));
  assert_ok(tsr_frame_cast(g, "f", (tsr_type){TSR_COL_STRING, 0}, &h));
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(h, NULL, &r));
  for (int i = 0; i < 12; i++) {
    const char *t;
    size_t n;
    assert_ok(tsr_frame_result_string(r, 0, i, &t, &n, NULL));
    if (n != strlen(want[i]) || memcmp(t, want[i], n) != 0)
      print_error("%.17g: '%.*s', want '%s'\n", v[i], (int)n, t, want[i]);
    assert_int_equal(n, strlen(want[i]));
    assert_memory_equal(t, want[i], n);
    if (i < 4) {
      assert_ok(tsr_frame_result_string(r, 1, i, &t, &n, NULL));
      if (n != strlen(fwant[i]) || memcmp(t, fwant[i], n) != 0)
        print_error("float %.9g: '%.*s', want '%s'\n", (double)fv[i], (int)n, t, fwant[i]);
      assert_int_equal(n, strlen(fwant[i]));
      assert_memory_equal(t, fwant[i], n);
    }
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

/* Text round trips over random frames: every type -> string -> back gives
 * the same values (floats exactly), and dict -> string -> dict. */
static void test_ops__text_round_trips(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL;
  make(ctx, &ref, &f, 31);
  for (int i = 0; i < TSR_NUM_COLTYPES; i++) {
    char name[8];
    snprintf(name, sizeof name, "c%d", i);
    tsr_frame *s = NULL, *back = NULL;
    assert_ok(tsr_frame_cast(f, name, (tsr_type){TSR_COL_STRING, 0}, &s));
    assert_ok(tsr_frame_cast(s, name, fu_types[i], &back));
    ref_frame got;
    ref_frame_compute(back, &got);
    ref_frame_assert_equal(&ref, &got);
    ref_frame_free(&got);
    tsr_frame_destroy(&back);
    tsr_frame_destroy(&s);
  }
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_ops__fill_null_matches_the_reference(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL;
  make(ctx, &ref, &f, 41);
  const char *fills[TSR_NUM_COLTYPES] = {"true",
                                         "-5",
                                         "300",
                                         "-7",
                                         "123456789012",
                                         "7",
                                         "65535",
                                         "9",
                                         "18446744073709551615",
                                         "1.5",
                                         "-0.25",
                                         "a fill value longer than twelve",
                                         "banana",
                                         "2001-09-09",
                                         "2001-09-09 01:46:40.5"};
  for (int i = 0; i < TSR_NUM_COLTYPES; i++) {
    char name[8];
    snprintf(name, sizeof name, "c%d", i);
    tsr_frame *g = NULL;
    assert_ok(tsr_frame_fill_null(f, name, fills[i], &g));
    ref_frame got;
    ref_frame_compute(g, &got);
    ref_col want = ref.cols[i];
    unsigned char fill[16];
    if (want.type.id != TSR_COL_STRING && want.type.id != TSR_COL_DICT) {
      /* the value through a cast of its text (an independent path) */
      tsr_column_data one = {.name = "v", .type = {TSR_COL_STRING, 0}, .length = 1};
      int64_t o[2] = {0, (int64_t)strlen(fills[i])};
      one.offsets = o;
      one.data = fills[i];
      tsr_frame *v = NULL, *vc = NULL;
      assert_ok(tsr_frame_from_columns(ctx, 1, &one, 0, TSR_BUFFER_BORROW, NULL, NULL, &v));
      assert_ok(tsr_frame_cast(v, "v", want.type, &vc));
      tsr_frame_result *r = NULL;
      assert_ok(tsr_frame_compute(vc, NULL, &r));
      assert_ok(tsr_frame_result_values(r, 0, fill, tsr_type_width(want.type), NULL));
      tsr_frame_result_destroy(&r);
      tsr_frame_destroy(&vc);
      tsr_frame_destroy(&v);
    }
    size_t w = tsr_type_width(want.type);
    for (int64_t r = 0; r < ref.n; r++) {
      assert_true(got.cols[i].valid[r]);
      if (want.str != NULL) {
        assert_string_equal(got.cols[i].str[r], want.valid[r] ? want.str[r] : fills[i]);
      } else {
        assert_memory_equal(got.cols[i].values + r * (int64_t)w,
                            want.valid[r] ? want.values + r * (int64_t)w : fill, w);
      }
    }
    ref_frame_free(&got);
    tsr_frame_destroy(&g);
  }
  /* A dictionary value not in the dictionary makes a new one. */
  tsr_frame *g = NULL;
  assert_ok(tsr_frame_fill_null(f, "c12", "aaa-new", &g));
  ref_frame got;
  ref_frame_compute(g, &got);
  for (int64_t r = 0; r < ref.n; r++)
    assert_string_equal(got.cols[12].str[r],
                        ref.cols[12].valid[r] ? ref.cols[12].str[r] : "aaa-new");
  ref_frame_free(&got);
  tsr_frame_destroy(&g);
  tsr_frame *bad = NULL;
  assert_fails(tsr_frame_fill_null(f, "c1", "200", &bad), TSR_EPARSE,
               "'200' is not a value of column 'c1' (int8)");
  assert_fails(tsr_frame_fill_null(f, "c13", "2023-02-29", &bad), TSR_EPARSE, "(date)");
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

/* Frames of no rows and no chunks go through every operation. */
static void test_ops__empty_frames(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 0, 0, 1);
  tsr_column_data cd[TSR_NUM_COLTYPES];
  ref_frame_columns(&ref, 0, 0, cd);
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, TSR_NUM_COLTYPES, cd, 10, TSR_BUFFER_ADOPT, fu_free_fn,
                                   NULL, &f));
  assert_int_equal(tsr_frame_nchunks(f), 0);
  tsr_frame *ops[6] = {NULL};
  assert_ok(tsr_frame_slice(f, -5, 5, &ops[0]));
  assert_ok(tsr_frame_head(f, 3, &ops[1]));
  assert_ok(tsr_frame_tail(f, 3, &ops[2]));
  tsr_frame *two[2] = {f, f};
  assert_ok(tsr_frame_concat(2, two, &ops[3]));
  assert_ok(tsr_frame_cast(f, "c11", (tsr_type){TSR_COL_DICT, 0}, &ops[4]));
  assert_ok(tsr_frame_fill_null(f, "c10", "1", &ops[5]));
  for (int k = 0; k < 6; k++) {
    assert_int_equal(tsr_frame_nrows_known(ops[k]), 0);
    ref_frame got;
    ref_frame_compute(ops[k], &got);
    assert_int_equal(got.n, 0);
    assert_int_equal(got.ncols, TSR_NUM_COLTYPES);
    ref_frame_free(&got);
    tsr_frame_destroy(&ops[k]);
  }
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void on_stats(const tsr_run_stats *s, void *user) { *(tsr_run_stats *)user = *s; }

/* Results are the same with 1 and 2 threads, and with 2 threads both do
 * work: the run statistics say 2 threads ran every task, and the run's
 * trace shows tasks on thread ids 0 and 1. */
static void test_ops__two_threads_same_result(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL, *a = NULL, *b = NULL, *c = NULL;
  make(ctx, &ref, &f, 51);
  assert_ok(tsr_frame_cast(f, "c4", (tsr_type){TSR_COL_STRING, 0}, &a));
  assert_ok(tsr_frame_fill_null(a, "c10", "0.5", &b));
  assert_ok(tsr_frame_slice(b, 10, -10, &c));
  ref_frame one, two;
  assert_ok(tsr_ctx_set_threads(ctx, 1));
  ref_frame_compute(c, &one);
  assert_ok(tsr_ctx_set_threads(ctx, 2));
  ref_frame_compute(c, &two);
  ref_frame_assert_equal(&one, &two);
  char path[] = "/tmp/tessera_ops_trace_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  /* The trace has a track per worker: every task on thread 0 or 1.  (Which
   * of the two runs a task is the OS's choice: on a loaded machine one
   * thread may run them all, so that is not asserted.) */
  tsr_compute_options co = {0};
  tsr_run_stats st;
  memset(&st, 0, sizeof st);
  co.run.trace_path = path;
  co.on_stats = on_stats;
  co.stats_user = &st;
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(c, &co, &r));
  tsr_frame_result_destroy(&r);
  assert_int_equal(st.threads, 2);
  assert_true(st.tasks_run >= (uint64_t)tsr_frame_nchunks(c));
  assert_int_equal(st.tasks_failed, 0);
  FILE *tf = fopen(path, "r");
  assert_non_null(tf);
  static char text[1 << 22];
  size_t len = fread(text, 1, sizeof text - 1, tf);
  text[len] = '\0';
  fclose(tf);
  uint64_t events = 0;
  for (const char *p = text; (p = strstr(p, "\"cat\":\"task\"")) != NULL; p++) {
    const char *tid = strstr(p, "\"tid\":");
    assert_non_null(tid);
    assert_true((tid[6] == '0' || tid[6] == '1') && (tid[7] == ',' || tid[7] == '}'));
    events++;
  }
  assert_int_equal(events, st.tasks_run);
  unlink(path);
  ref_frame_free(&one);
  ref_frame_free(&two);
  tsr_frame_destroy(&c);
  tsr_frame_destroy(&b);
  tsr_frame_destroy(&a);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_ops__slices_match_the_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_ops__concat_unifies_dictionaries, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_ops__numeric_casts_match_the_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_ops__casts_by_hand, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_ops__extreme_dates_as_text, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_ops__float_text_as_python_repr, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_ops__text_round_trips, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_ops__fill_null_matches_the_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_ops__empty_frames, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_ops__two_threads_same_result, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
