/* test_order.c — the ordering kernels of core/order.h against naive
 * references: normalized keys against a value comparison written here
 * (random values with NaN of both signs and many payloads, -0.0, inf,
 * extremes; int8 and int16 exhaustively), the radix sorts against qsort of
 * (key, index) pairs, selection and quantiles against sort-then-interpolate
 * (and DuckDB's own answers), count distinct and the k smallest with ties. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "test_util.h"

#include "core/order.h"

static uint64_t rnd(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double bits_f64(uint64_t b) {
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}
static uint64_t f64_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, sizeof b);
  return b;
}

/* The value order the keys must give: NaN (any) equal to NaN and above
 * everything, -0.0 equal to 0.0, otherwise <. */
static int cmp_f64(double a, double b) {
  bool na = a != a, nb = b != b;
  if (na || nb)
    return na - nb;
  return (a > b) - (a < b);
}
static int cmp_u64(uint64_t a, uint64_t b) { return (a > b) - (a < b); }

/* Random doubles of every kind: NaN of both signs with random payloads,
 * zeros of both signs, infinities, extremes, denormals, small integers
 * (many ties), random bit patterns. */
static double special_f64(uint64_t *s) {
  uint64_t r = rnd(s);
  switch (r % 12) {
  case 0:
    return bits_f64(UINT64_C(0x7ff0000000000001) | (rnd(s) & UINT64_C(0x800fffffffffffff)));
  case 1:
    return (r >> 8) & 1 ? -0.0 : 0.0;
  case 2:
    return (r >> 8) & 1 ? -INFINITY : INFINITY;
  case 3:
    return (r >> 8) & 1 ? -DBL_MAX : DBL_MAX;
  case 4:
    return ((r >> 8) & 1 ? -1 : 1) * DBL_MIN * (double)((r >> 9) % 3);
  case 5:
    return bits_f64((rnd(s) & UINT64_C(0x800fffffffffffff))); /* denormal */
  case 6:
  case 7:
  case 8:
    return (double)((int64_t)(r >> 8) % 7 - 3);
  default: {
    double d = bits_f64(rnd(s));
    return d;
  }
  }
}

static void test_order__keys_preserve_float_order(void **state) {
  (void)state;
  uint64_t s = 1;
  enum { N = 700 };
  double v[N];
  float f[N];
  for (int i = 0; i < N; i++) {
    v[i] = special_f64(&s);
    f[i] = (float)v[i];
    if (i % 5 == 0) /* float32 NaN payloads and denormals of its own */
      memcpy(&f[i], &(uint32_t){(uint32_t)rnd(&s)}, sizeof(float));
  }
  uint64_t kd[N], kf[N], kdd[N], kfd[N];
  tsr__okeys((tsr_type){TSR_COL_FLOAT64, 0}, v, N, false, kd);
  tsr__okeys((tsr_type){TSR_COL_FLOAT32, 0}, f, N, false, kf);
  tsr__okeys((tsr_type){TSR_COL_FLOAT64, 0}, v, N, true, kdd);
  tsr__okeys((tsr_type){TSR_COL_FLOAT32, 0}, f, N, true, kfd);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    if (kd[i] != tsr__okey_f64(v[i]) || kf[i] != tsr__okey_f32(f[i]) || kf[i] > UINT32_MAX ||
        kfd[i] > UINT32_MAX)
      bad++;
    for (int j = 0; j < N; j++) {
      bad += cmp_u64(kd[i], kd[j]) != cmp_f64(v[i], v[j]);
      bad += cmp_u64(kf[i], kf[j]) != cmp_f64(f[i], f[j]);
      bad += cmp_u64(kdd[i], kdd[j]) != cmp_f64(v[j], v[i]);
      bad += cmp_u64(kfd[i], kfd[j]) != cmp_f64(f[j], f[i]);
    }
    /* the key gives the value back (canonical zero and NaN) */
    double back = tsr__okey_to_f64(kd[i]);
    if (v[i] != v[i] ? back == back : back != v[i] || (v[i] == 0 && signbit(back)))
      bad++;
  }
  assert_int_equal(bad, 0);
  assert_true(tsr__okey_f64(NAN) > tsr__okey_f64(INFINITY));
  assert_true(tsr__okey_f64(-INFINITY) < tsr__okey_f64(-DBL_MAX));
  assert_true(tsr__okey_f64(-0.0) == tsr__okey_f64(0.0));
  assert_true(tsr__okey_f64(-NAN) == tsr__okey_f64(NAN));
}

static void test_order__keys_preserve_integer_order(void **state) {
  (void)state;
  /* int8, uint8, bool: every pair; int16, uint16: every neighbour */
  int bad = 0;
  for (int a = -128; a < 128; a++)
    for (int b = -128; b < 128; b++)
      bad += cmp_u64(tsr__okey_i8((int8_t)a), tsr__okey_i8((int8_t)b)) != (a > b) - (a < b);
  for (int a = -32768; a < 32767; a++)
    bad += !(tsr__okey_i16((int16_t)a) < tsr__okey_i16((int16_t)(a + 1))) ||
           tsr__okey_i16((int16_t)a) > 0xffff;
  int8_t i8[256];
  uint8_t u8[256];
  int16_t i16[65536];
  uint16_t u16[65536];
  for (int a = 0; a < 256; a++) {
    i8[a] = (int8_t)(a - 128);
    u8[a] = (uint8_t)a;
  }
  for (int a = 0; a < 65536; a++) {
    i16[a] = (int16_t)(a - 32768);
    u16[a] = (uint16_t)a;
  }
  static uint64_t k[65536];
  tsr__okeys((tsr_type){TSR_COL_INT8, 0}, i8, 256, false, k);
  for (int a = 1; a < 256; a++)
    bad += !(k[a - 1] < k[a]) || k[a] > 0xff;
  tsr__okeys((tsr_type){TSR_COL_UINT8, 0}, u8, 256, true, k);
  for (int a = 1; a < 256; a++)
    bad += !(k[a - 1] > k[a]) || k[a - 1] > 0xff;
  tsr__okeys((tsr_type){TSR_COL_INT16, 0}, i16, 65536, false, k);
  for (int a = 1; a < 65536; a++)
    bad += !(k[a - 1] < k[a]) || k[a] > 0xffff;
  tsr__okeys((tsr_type){TSR_COL_UINT16, 0}, u16, 65536, true, k);
  for (int a = 1; a < 65536; a++)
    bad += !(k[a - 1] > k[a]) || k[a - 1] > 0xffff;
  /* bools */
  uint8_t bl[2] = {0, 1};
  tsr__okeys((tsr_type){TSR_COL_BOOL, 0}, bl, 2, false, k);
  bad += !(k[0] < k[1]);
  /* 32- and 64-bit types: random values and extremes, every pair */
  uint64_t s = 7;
  enum { N = 400 };
  int32_t i32[N];
  uint32_t u32[N];
  int64_t i64[N];
  uint64_t u64[N];
  for (int i = 0; i < N; i++) {
    uint64_t r = rnd(&s);
    int sel = (int)(r % 5);
    i64[i] = sel == 0 ? INT64_MIN : sel == 1 ? INT64_MAX : sel == 2 ? (int64_t)(r >> 60) - 8 : (int64_t)rnd(&s);
    u64[i] = sel == 0 ? 0 : sel == 1 ? UINT64_MAX : sel == 2 ? r >> 60 : rnd(&s);
    i32[i] = sel == 0 ? INT32_MIN : sel == 1 ? INT32_MAX : (int32_t)(uint32_t)rnd(&s);
    u32[i] = sel == 0 ? 0 : sel == 1 ? UINT32_MAX : (uint32_t)rnd(&s);
  }
  uint64_t ki32[N], ku32[N], ki64[N], ku64[N], kdate[N], kts[N], kdict[N], ki64d[N];
  tsr__okeys((tsr_type){TSR_COL_INT32, 0}, i32, N, false, ki32);
  tsr__okeys((tsr_type){TSR_COL_DATE, 0}, i32, N, false, kdate);
  tsr__okeys((tsr_type){TSR_COL_UINT32, 0}, u32, N, false, ku32);
  tsr__okeys((tsr_type){TSR_COL_INT64, 0}, i64, N, false, ki64);
  tsr__okeys((tsr_type){TSR_COL_INT64, 0}, i64, N, true, ki64d);
  tsr__okeys((tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_NS}, i64, N, false, kts);
  tsr__okeys((tsr_type){TSR_COL_UINT64, 0}, u64, N, false, ku64);
  int32_t codes[N];
  for (int i = 0; i < N; i++)
    codes[i] = (int32_t)(u32[i] >> 1);
  tsr__okeys((tsr_type){TSR_COL_DICT, 0}, codes, N, false, kdict);
  for (int i = 0; i < N; i++) {
    bad += ki32[i] > UINT32_MAX || ku32[i] > UINT32_MAX || kdate[i] != ki32[i];
    for (int j = 0; j < N; j++) {
      bad += cmp_u64(ki32[i], ki32[j]) != (i32[i] > i32[j]) - (i32[i] < i32[j]);
      bad += cmp_u64(ku32[i], ku32[j]) != (u32[i] > u32[j]) - (u32[i] < u32[j]);
      bad += cmp_u64(ki64[i], ki64[j]) != (i64[i] > i64[j]) - (i64[i] < i64[j]);
      bad += cmp_u64(ki64d[i], ki64d[j]) != (i64[j] > i64[i]) - (i64[j] < i64[i]);
      bad += cmp_u64(kts[i], kts[j]) != (i64[i] > i64[j]) - (i64[i] < i64[j]);
      bad += cmp_u64(ku64[i], ku64[j]) != (u64[i] > u64[j]) - (u64[i] < u64[j]);
      bad += cmp_u64(kdict[i], kdict[j]) != (codes[i] > codes[j]) - (codes[i] < codes[j]);
    }
  }
  assert_int_equal(bad, 0);
  assert_int_equal(tsr__okey_bits((tsr_type){TSR_COL_INT16, 0}), 16);
  assert_int_equal(tsr__okey_bits((tsr_type){TSR_COL_FLOAT32, 0}), 32);
  assert_int_equal(tsr__okey_bits((tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_US}), 64);
  assert_false(tsr__okey_supported((tsr_type){TSR_COL_STRING, 0}));
  assert_true(tsr__okey_supported((tsr_type){TSR_COL_DICT, 0}));
}

/* ---- radix sorts against qsort of (key, index) ---------------------------------------- */

typedef struct kv {
  uint64_t k;
  int64_t i;
} kv;
static int kv_cmp(const void *a, const void *b) {
  const kv *x = a, *y = b;
  if (x->k != y->k)
    return x->k < y->k ? -1 : 1;
  return (x->i > y->i) - (x->i < y->i);
}

/* Keys of several shapes: many ties, full random, constant high bytes,
 * constant low bytes, already sorted, reversed. */
static void fill_keys(uint64_t *k, int64_t n, int shape, uint64_t *s) {
  for (int64_t i = 0; i < n; i++) {
    uint64_t r = rnd(s);
    switch (shape) {
    case 0:
      k[i] = r % 5;
      break;
    case 1:
      k[i] = r;
      break;
    case 2:
      k[i] = UINT64_C(0xabcd000000000000) | (r & 0xffffff);
      break;
    case 3:
      k[i] = (r & UINT64_C(0xff00ff0000000000)) | 0x1234;
      break;
    case 4:
      k[i] = (uint64_t)i / 3;
      break;
    default:
      k[i] = (uint64_t)(n - i) * 1000;
      break;
    }
  }
}

static void test_order__radix_sorts_are_stable_and_match_qsort(void **state) {
  tsr_ctx *ctx = *state;
  const int64_t sizes[] = {0, 1, 2, 3, 63, 64, 65, 255, 256, 1000, 70000};
  uint64_t s = 11;
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    int64_t n = sizes[si];
    for (int shape = 0; shape < 6; shape++) {
      size_t nn = (size_t)(n ? n : 1);
      uint64_t *k = malloc(nn * 8), *k2 = malloc(nn * 8), *k3 = malloc(nn * 8),
               *scratch = malloc(nn * 12);
      int64_t *idx = malloc(nn * 8), *ids = malloc(nn * 8);
      uint32_t *ids32 = malloc(nn * 4);
      kv *ref = malloc(nn * sizeof(kv));
      fill_keys(k, n, shape, &s);
      for (int64_t i = 0; i < n; i++) {
        ref[i].k = k[i];
        ref[i].i = i;
        ids[i] = 3 * i + 1; /* a payload distinct from the position */
        ids32[i] = (uint32_t)(5 * i + 2);
      }
      qsort(ref, (size_t)n, sizeof(kv), kv_cmp);
      assert_ok(tsr__order_argsort_u64(ctx, k, n, idx));
      memcpy(k2, k, (size_t)n * 8);
      assert_ok(tsr__order_sort_u64_i64(ctx, k2, ids, n));
      memcpy(k3, k, (size_t)n * 8);
      tsr__order_sort_u64_u32_scratch(k3, ids32, n, scratch);
      int bad = 0;
      for (int64_t i = 0; i < n; i++) {
        bad += idx[i] != ref[i].i;
        bad += k2[i] != ref[i].k || ids[i] != 3 * ref[i].i + 1;
        bad += k3[i] != ref[i].k || ids32[i] != (uint32_t)(5 * ref[i].i + 2);
      }
      /* the u32 variant that allocates, and plain keys */
      memcpy(k3, k, (size_t)n * 8);
      for (int64_t i = 0; i < n; i++)
        ids32[i] = (uint32_t)i;
      assert_ok(tsr__order_sort_u64_u32(ctx, k3, ids32, n));
      for (int64_t i = 0; i < n; i++)
        bad += k3[i] != ref[i].k || ids32[i] != (uint32_t)ref[i].i;
      memcpy(k3, k, (size_t)n * 8);
      assert_ok(tsr__order_sort_u64(ctx, k3, n));
      for (int64_t i = 0; i < n; i++)
        bad += k3[i] != ref[i].k;
      memcpy(k3, k, (size_t)n * 8);
      tsr__order_sort_u64_scratch(k3, n, scratch);
      for (int64_t i = 0; i < n; i++)
        bad += k3[i] != ref[i].k;
      if (bad)
        print_error("n %lld shape %d: %d mismatches\n", (long long)n, shape, bad);
      assert_int_equal(bad, 0);
      free(k);
      free(k2);
      free(k3);
      free(scratch);
      free(idx);
      free(ids);
      free(ids32);
      free(ref);
    }
  }
}

/* ---- sorting values ------------------------------------------------------------------- */

/* Total order for the reference: NaN last, -0.0 before 0.0. */
static int total_cmp_f64(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  bool nx = x != x, ny = y != y;
  if (nx || ny)
    return nx - ny;
  if (x == y)
    return (int)signbit(y) - (int)signbit(x);
  return x < y ? -1 : 1;
}
static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void test_order__sort_values(void **state) {
  tsr_ctx *ctx = *state;
  uint64_t s = 3;
  const int64_t sizes[] = {0, 1, 5, 64, 100, 5000};
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    int64_t n = sizes[si];
    size_t nn = (size_t)(n ? n : 1);
    double *v = malloc(nn * 8), *r = malloc(nn * 8);
    int64_t *a = malloc(nn * 8), *b = malloc(nn * 8);
    int64_t nan = 0;
    for (int64_t i = 0; i < n; i++) {
      v[i] = r[i] = special_f64(&s);
      nan += v[i] != v[i];
      a[i] = b[i] = (int64_t)rnd(&s) >> (rnd(&s) % 64);
    }
    qsort(r, (size_t)n, 8, total_cmp_f64);
    qsort(b, (size_t)n, 8, cmp_i64);
    assert_ok(tsr__order_sort_f64(ctx, v, n));
    assert_ok(tsr__order_sort_i64(ctx, a, n));
    int bad = 0;
    for (int64_t i = 0; i < n; i++) {
      if (i >= n - nan)
        bad += v[i] == v[i];
      else
        bad += f64_bits(v[i]) != f64_bits(r[i]);
      bad += a[i] != b[i];
    }
    assert_int_equal(bad, 0);
    free(v);
    free(r);
    free(a);
    free(b);
  }
}

/* ---- selection and quantiles ----------------------------------------------------------- */

static void fill_pattern(double *v, int64_t n, int pattern, uint64_t *s) {
  for (int64_t i = 0; i < n; i++) {
    switch (pattern) {
    case 0:
      v[i] = (double)(rnd(s) % 1000) / 7;
      break;
    case 1:
      v[i] = (double)i;
      break;
    case 2:
      v[i] = (double)(n - i);
      break;
    case 3:
      v[i] = 1.5;
      break;
    case 4: /* organ pipe */
      v[i] = (double)(i < n / 2 ? i : n - i);
      break;
    case 5: /* median-of-3 killer-ish: alternating */
      v[i] = (double)((i & 1) ? i : n + i);
      break;
    default:
      v[i] = special_f64(s);
      break;
    }
  }
}

static void test_order__select_matches_sort(void **state) {
  (void)state;
  uint64_t s = 5;
  const int64_t sizes[] = {1, 2, 17, 100, 1001};
  int bad = 0;
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    int64_t n = sizes[si];
    double *v = malloc((size_t)n * 8), *w = malloc((size_t)n * 8), *r = malloc((size_t)n * 8);
    int64_t *iv = malloc((size_t)n * 8), *ir = malloc((size_t)n * 8);
    for (int pattern = 0; pattern < 6; pattern++) {
      fill_pattern(v, n, pattern, &s);
      memcpy(r, v, (size_t)n * 8);
      qsort(r, (size_t)n, 8, total_cmp_f64);
      for (int64_t i = 0; i < n; i++)
        ir[i] = (int64_t)v[i] * 3 - 1000;
      qsort(ir, (size_t)n, 8, cmp_i64);
      for (int64_t k = 0; k < n; k += (n > 100 ? 37 : 1)) {
        memcpy(w, v, (size_t)n * 8);
        tsr__order_select_f64(w, 0, n, k);
        bad += w[k] != r[k];
        for (int64_t i = 0; i < k; i++)
          bad += w[i] > w[k];
        for (int64_t i = k + 1; i < n; i++)
          bad += w[i] < w[k];
        for (int64_t i = 0; i < n; i++)
          iv[i] = (int64_t)v[i] * 3 - 1000;
        tsr__order_select_i64(iv, 0, n, k);
        bad += iv[k] != ir[k];
        for (int64_t i = 0; i < k; i++)
          bad += iv[i] > iv[k];
      }
    }
    free(v);
    free(w);
    free(r);
    free(iv);
    free(ir);
  }
  assert_int_equal(bad, 0);
}

/* The reference: sort (NaN last), positions and weights computed here. */
static double ref_quantile(const double *sorted, int64_t n, double q) {
  double rn = (double)(n - 1) * q;
  int64_t lo = (int64_t)floor(rn), hi = (int64_t)ceil(rn);
  if (lo == hi)
    return sorted[lo];
  double d = rn - (double)lo;
  return sorted[lo] * (1.0 - d) + sorted[hi] * d;
}

static bool same_f64(double a, double b) { return a != a ? b != b : f64_bits(a) == f64_bits(b); }

static void test_order__quantiles_match_sort_and_duckdb(void **state) {
  (void)state;
  /* DuckDB 1.5's answers (quantile_cont through @duckdb/node-api). */
  double a[] = {4, 1, 2};
  double qa[] = {0.1, 0.9, 0.5};
  double oa[3];
  tsr__order_quantiles_f64(a, 3, 3, qa, oa);
  assert_true(oa[0] == 1.2000000000000002);
  assert_true(oa[1] == 3.6);
  assert_true(oa[2] == 2);
  double b[] = {1e300, 0.1, -1e300, 0.7};
  double qb = 0.3, ob;
  tsr__order_quantiles_f64(b, 4, 1, &qb, &ob);
  assert_true(ob == -1.000000000000001e+299);
  double c[] = {1, NAN, 3};
  double qc[] = {0.5, 0.25, 1.0, 0.0};
  double oc[4];
  tsr__order_quantiles_f64(c, 3, 4, qc, oc);
  assert_true(oc[0] == 3 && oc[1] == 2 && oc[2] != oc[2] && oc[3] == 1);
  double d[] = {INFINITY, -INFINITY}, qd = 0.5, od;
  tsr__order_quantiles_f64(d, 2, 1, &qd, &od);
  assert_true(od != od);
  /* timestamps: llround of the float64 interpolation (DuckDB: median of
   * 0 and 1 microseconds is 1, of -X and -X + 1 is -X) */
  assert_int_equal(tsr__interp_ts(0, 1, 0.5), 1);
  assert_int_equal(tsr__interp_ts(-315619200000000, -315619199999999, 0.5), -315619200000000);
  assert_int_equal(tsr__interp_ts(0, 1, 0.3), 0);
  /* a float32 column: DuckDB's quantile_cont(x, 0.3) of 1 and 1.1 is 1.03 */
  assert_true(tsr__interp_f32(1.0f, 1.1f, 0.3) == 1.03f);

  /* random arrays: every q set against the reference */
  uint64_t s = 9;
  const int64_t sizes[] = {1, 2, 3, 10, 99, 1000};
  int bad = 0;
  for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++) {
    int64_t n = sizes[si];
    double *v = malloc((size_t)n * 8), *w = malloc((size_t)n * 8), *r = malloc((size_t)n * 8);
    int64_t *iv = malloc((size_t)n * 8), *ir = malloc((size_t)n * 8);
    for (int pattern = 0; pattern < 7; pattern++) {
      for (int rep = 0; rep < 4; rep++) {
        fill_pattern(v, n, pattern, &s);
        memcpy(r, v, (size_t)n * 8);
        qsort(r, (size_t)n, 8, total_cmp_f64);
        int nq = 1 + (int)(rnd(&s) % 20);
        double q[20], out[20];
        for (int j = 0; j < nq; j++) {
          uint64_t x = rnd(&s);
          q[j] = x % 4 == 0 ? 0.5 : x % 4 == 1 ? (double)(x % 3) / 2 : (double)(x >> 11) / 9007199254740992.0;
        }
        memcpy(w, v, (size_t)n * 8);
        tsr__order_quantiles_f64(w, n, nq, q, out);
        for (int j = 0; j < nq; j++) {
          double e = ref_quantile(r, n, q[j]);
          /* -0.0 and 0.0 are one value: either may be selected */
          if (!(same_f64(out[j], e) || (out[j] == 0 && e == 0)))
            bad++;
        }
        /* the i64 bounds */
        for (int64_t i = 0; i < n; i++)
          ir[i] = iv[i] = (int64_t)(rnd(&s) % 50) - 25;
        qsort(ir, (size_t)n, 8, cmp_i64);
        int64_t lo[20], hi[20];
        double dd[20];
        tsr__order_quantile_bounds_i64(iv, n, nq, q, lo, hi, dd);
        for (int j = 0; j < nq; j++) {
          double rn = (double)(n - 1) * q[j];
          bad += lo[j] != ir[(int64_t)floor(rn)] || hi[j] != ir[(int64_t)ceil(rn)] ||
                 dd[j] != rn - floor(rn);
        }
      }
    }
    free(v);
    free(w);
    free(r);
    free(iv);
    free(ir);
  }
  assert_int_equal(bad, 0);
}

/* ---- count distinct, k smallest ---------------------------------------------------------- */

static void test_order__count_distinct(void **state) {
  tsr_ctx *ctx = *state;
  /* NaNs of any sign and payload are one value, -0.0 equals 0.0 */
  double v[] = {0.0, -0.0, NAN, -NAN, bits_f64(UINT64_C(0x7ff0000000000123)), 1, 1, -1, INFINITY};
  uint64_t k[9];
  tsr__okeys((tsr_type){TSR_COL_FLOAT64, 0}, v, 9, false, k);
  int64_t c = -1;
  assert_ok(tsr__order_count_distinct_u64(ctx, k, 9, &c));
  assert_int_equal(c, 5);
  assert_ok(tsr__order_count_distinct_u64(ctx, k, 0, &c));
  assert_int_equal(c, 0);
  /* random against a naive count */
  uint64_t s = 13;
  enum { N = 3000 };
  uint64_t *x = malloc(N * 8);
  for (int i = 0; i < N; i++)
    x[i] = rnd(&s) % 700;
  int64_t naive = 0;
  for (int i = 0; i < N; i++) {
    int seen = 0;
    for (int j = 0; j < i && !seen; j++)
      seen = x[j] == x[i];
    naive += !seen;
  }
  assert_ok(tsr__order_count_distinct_u64(ctx, x, N, &c));
  assert_int_equal(c, naive);
  free(x);
}

static void test_order__smallest_k_keeps_ties_in_order(void **state) {
  tsr_ctx *ctx = *state;
  /* by hand: keys 5 1 3 1 5 1, k = 2 -> positions 1 3; k = 4 -> 1 3 5 2 */
  uint64_t k6[] = {5, 1, 3, 1, 5, 1};
  int64_t idx[600], cnt = -1;
  assert_ok(tsr__order_smallest_k(ctx, k6, 6, 2, idx, &cnt));
  assert_int_equal(cnt, 2);
  assert_true(idx[0] == 1 && idx[1] == 3);
  assert_ok(tsr__order_smallest_k(ctx, k6, 6, 4, idx, &cnt));
  assert_true(cnt == 4 && idx[0] == 1 && idx[1] == 3 && idx[2] == 5 && idx[3] == 2);
  assert_ok(tsr__order_smallest_k(ctx, k6, 6, 10, idx, &cnt));
  assert_int_equal(cnt, 6);
  assert_ok(tsr__order_smallest_k(ctx, k6, 6, 0, idx, &cnt));
  assert_int_equal(cnt, 0);
  /* the largest 2 of 5 1 3 1 5 1 through complemented keys: 0 4 */
  uint64_t d6[6];
  for (int i = 0; i < 6; i++)
    d6[i] = tsr__okey_desc(k6[i]);
  assert_ok(tsr__order_smallest_k(ctx, d6, 6, 2, idx, &cnt));
  assert_true(cnt == 2 && idx[0] == 0 && idx[1] == 4);
  /* random, k small and large, against a stable sort */
  uint64_t s = 17;
  enum { N = 500 };
  uint64_t keys[N];
  kv ref[N];
  const int64_t ks[] = {1, 2, 3, 64, 65, 200, 499, 500, 600};
  int bad = 0;
  for (int rep = 0; rep < 4; rep++) {
    for (int i = 0; i < N; i++) {
      keys[i] = rnd(&s) % (rep == 0 ? 3 : rep == 1 ? 50 : UINT64_MAX);
      ref[i].k = keys[i];
      ref[i].i = i;
    }
    qsort(ref, N, sizeof(kv), kv_cmp);
    for (size_t j = 0; j < sizeof ks / sizeof *ks; j++) {
      assert_ok(tsr__order_smallest_k(ctx, keys, N, ks[j], idx, &cnt));
      bad += cnt != (ks[j] < N ? ks[j] : N);
      for (int64_t r = 0; r < cnt && r < 200; r++)
        bad += idx[r] != ref[r].i;
    }
  }
  assert_int_equal(bad, 0);
}

static void test_order__out_of_memory_is_clean(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 1000 };
  uint64_t k[N];
  int64_t idx[N];
  double v[N];
  uint64_t s = 19;
  for (int i = 0; i < N; i++) {
    k[i] = rnd(&s);
    v[i] = (double)k[i];
  }
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 1));
  assert_int_equal(tsr__order_argsort_u64(ctx, k, N, idx), TSR_ENOMEM);
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 1));
  assert_int_equal(tsr__order_sort_f64(ctx, v, N), TSR_ENOMEM);
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 1));
  int64_t c;
  assert_int_equal(tsr__order_smallest_k(ctx, k, N, 100, idx, &c), TSR_ENOMEM);
  assert_int_equal(c, 0);
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_order__keys_preserve_float_order, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order__keys_preserve_integer_order, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order__radix_sorts_are_stable_and_match_qsort,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order__sort_values, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order__select_matches_sort, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order__quantiles_match_sort_and_duckdb, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order__count_distinct, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order__smallest_k_keeps_ties_in_order, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order__out_of_memory_is_clean, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
