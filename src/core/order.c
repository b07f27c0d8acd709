/* order.c — the ordering kernels of order.h: normalized keys, the stable
 * LSD radix sort (8-bit digits, one histogram pass, constant digits
 * skipped, insertion sort below RADIX_MIN), selection (introselect:
 * median-of-3 quickselect falling back to heapsort after 2 log2 n rounds,
 * so O(n) expected and O(n log n) at worst, deterministic), quantiles,
 * count distinct and top-n.
 *
 * Tuned for what the group-by and the frame sort feed it: many small
 * arrays (a group's values: 10..1e4) and a few large ones (a whole column:
 * 1e6..1e8), keys whose high bytes are mostly constant. */
#include "core/order.h"

#include "core/core_impl.h"

#include <math.h>
#include <stdlib.h>

#define RADIX_MIN 64

bool tsr__okey_supported(tsr_type type) { return tsr__okey_bits(type) != 0; }

int tsr__okey_bits(tsr_type type) {
  switch (type.id) {
  case TSR_COL_BOOL:
  case TSR_COL_INT8:
  case TSR_COL_UINT8:
    return 8;
  case TSR_COL_INT16:
  case TSR_COL_UINT16:
    return 16;
  case TSR_COL_INT32:
  case TSR_COL_UINT32:
  case TSR_COL_FLOAT32:
  case TSR_COL_DICT:
  case TSR_COL_DATE:
    return 32;
  case TSR_COL_INT64:
  case TSR_COL_UINT64:
  case TSR_COL_FLOAT64:
  case TSR_COL_TIMESTAMP:
    return 64;
  default:
    return 0;
  }
}

#define OKEYS_LOOP(T, F)                 \
  do {                                   \
    const T *v = (const T *)values;      \
    for (int64_t i = 0; i < n; i++)      \
      keys[i] = F(v[i]);                 \
  } while (0)

void tsr__okeys(tsr_type type, const void *values, int64_t n, bool descending, uint64_t *keys) {
  switch (type.id) {
  case TSR_COL_BOOL:
    OKEYS_LOOP(uint8_t, tsr__okey_bool);
    break;
  case TSR_COL_INT8:
    OKEYS_LOOP(int8_t, tsr__okey_i8);
    break;
  case TSR_COL_UINT8:
    OKEYS_LOOP(uint8_t, tsr__okey_u64);
    break;
  case TSR_COL_INT16:
    OKEYS_LOOP(int16_t, tsr__okey_i16);
    break;
  case TSR_COL_UINT16:
    OKEYS_LOOP(uint16_t, tsr__okey_u64);
    break;
  case TSR_COL_INT32:
  case TSR_COL_DATE:
  case TSR_COL_DICT:
    OKEYS_LOOP(int32_t, tsr__okey_i32);
    break;
  case TSR_COL_UINT32:
    OKEYS_LOOP(uint32_t, tsr__okey_u64);
    break;
  case TSR_COL_FLOAT32:
    OKEYS_LOOP(float, tsr__okey_f32);
    break;
  case TSR_COL_INT64:
  case TSR_COL_TIMESTAMP:
    OKEYS_LOOP(int64_t, tsr__okey_i64);
    break;
  case TSR_COL_UINT64:
    OKEYS_LOOP(uint64_t, tsr__okey_u64);
    break;
  case TSR_COL_FLOAT64:
    OKEYS_LOOP(double, tsr__okey_f64);
    break;
  default:
    return;
  }
  if (descending) {
    int bits = tsr__okey_bits(type);
    uint64_t mask = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    for (int64_t i = 0; i < n; i++)
      keys[i] = mask - keys[i];
  }
}

int64_t tsr__interp_ts(int64_t a, int64_t b, double d) {
  return (int64_t)llround((double)a * (1.0 - d) + (double)b * d);
}

/* ---- radix sort --------------------------------------------------------------------
 * hist[d][b]: how many keys have byte b at digit d, all eight digits in one
 * pass.  A digit is skipped when one byte value has all n keys.  Each pass
 * scatters from (src) into (dst) and the two swap; an odd number of passes
 * leaves the result in the scratch, copied back at the end. */

static int radix_histogram(const uint64_t *k, int64_t n, uint32_t (*hist)[256], int *digits) {
  memset(hist, 0, 8 * 256 * sizeof(uint32_t));
  for (int64_t i = 0; i < n; i++) {
    uint64_t x = k[i];
    hist[0][x & 255]++;
    hist[1][(x >> 8) & 255]++;
    hist[2][(x >> 16) & 255]++;
    hist[3][(x >> 24) & 255]++;
    hist[4][(x >> 32) & 255]++;
    hist[5][(x >> 40) & 255]++;
    hist[6][(x >> 48) & 255]++;
    hist[7][x >> 56]++;
  }
  int nd = 0;
  for (int d = 0; d < 8; d++) {
    if (hist[d][(k[0] >> (8 * d)) & 255] == (uint32_t)n)
      continue;
    uint32_t sum = 0;
    for (int b = 0; b < 256; b++) {
      uint32_t c = hist[d][b];
      hist[d][b] = sum;
      sum += c;
    }
    digits[nd++] = d;
  }
  return nd;
}

/* The histogram counts are uint32: arrays of 2^32 or more elements are cut
 * into a sort of... no: the histogram of a larger array is kept in 64-bit
 * counts by the wide variant below. */
static int radix_histogram64(const uint64_t *k, int64_t n, int64_t (*hist)[256], int *digits) {
  memset(hist, 0, 8 * 256 * sizeof(int64_t));
  for (int64_t i = 0; i < n; i++) {
    uint64_t x = k[i];
    for (int d = 0; d < 8; d++)
      hist[d][(x >> (8 * d)) & 255]++;
  }
  int nd = 0;
  for (int d = 0; d < 8; d++) {
    if (hist[d][(k[0] >> (8 * d)) & 255] == n)
      continue;
    int64_t sum = 0;
    for (int b = 0; b < 256; b++) {
      int64_t c = hist[d][b];
      hist[d][b] = sum;
      sum += c;
    }
    digits[nd++] = d;
  }
  return nd;
}

static void insertion_u64(uint64_t *k, int64_t n) {
  for (int64_t i = 1; i < n; i++) {
    uint64_t x = k[i];
    int64_t j = i;
    while (j > 0 && k[j - 1] > x) {
      k[j] = k[j - 1];
      j--;
    }
    k[j] = x;
  }
}

void tsr__order_sort_u64_scratch(uint64_t *keys, int64_t n, void *scratch) {
  if (n < RADIX_MIN) {
    insertion_u64(keys, n);
    return;
  }
  uint64_t *src = keys, *dst = (uint64_t *)scratch;
  int digits[8], nd;
  if (n <= (int64_t)UINT32_MAX) {
    uint32_t hist[8][256];
    nd = radix_histogram(keys, n, hist, digits);
    for (int p = 0; p < nd; p++) {
      int sh = 8 * digits[p];
      uint32_t *h = hist[digits[p]];
      for (int64_t i = 0; i < n; i++) {
        uint64_t x = src[i];
        dst[h[(x >> sh) & 255]++] = x;
      }
      uint64_t *t = src;
      src = dst;
      dst = t;
    }
  } else {
    int64_t hist[8][256];
    nd = radix_histogram64(keys, n, hist, digits);
    for (int p = 0; p < nd; p++) {
      int sh = 8 * digits[p];
      int64_t *h = hist[digits[p]];
      for (int64_t i = 0; i < n; i++) {
        uint64_t x = src[i];
        dst[h[(x >> sh) & 255]++] = x;
      }
      uint64_t *t = src;
      src = dst;
      dst = t;
    }
  }
  if (src != keys)
    memcpy(keys, src, (size_t)n * sizeof *keys);
}

tsr_status tsr__order_sort_u64(tsr_ctx *ctx, uint64_t *keys, int64_t n) {
  if (n < RADIX_MIN) {
    insertion_u64(keys, n);
    return TSR_OK;
  }
  void *scratch = NULL;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)n, sizeof(uint64_t), "sort scratch", &scratch));
  tsr__order_sort_u64_scratch(keys, n, scratch);
  tsr_free(ctx, scratch);
  return TSR_OK;
}

/* Pairs: keys with ids of type ID_T; the same passes moving both. */
#define DEFINE_PAIR_SORT(NAME, ID_T)                                                         \
  static void NAME(uint64_t *keys, ID_T *ids, int64_t n, uint64_t *k2, ID_T *i2) {          \
    if (n < RADIX_MIN) {                                                                     \
      for (int64_t i = 1; i < n; i++) {                                                      \
        uint64_t x = keys[i];                                                                \
        ID_T y = ids[i];                                                                     \
        int64_t j = i;                                                                       \
        while (j > 0 && keys[j - 1] > x) {                                                   \
          keys[j] = keys[j - 1];                                                             \
          ids[j] = ids[j - 1];                                                               \
          j--;                                                                               \
        }                                                                                    \
        keys[j] = x;                                                                         \
        ids[j] = y;                                                                          \
      }                                                                                      \
      return;                                                                                \
    }                                                                                        \
    uint64_t *ks = keys, *kd = k2;                                                           \
    ID_T *is = ids, *id = i2;                                                                \
    int digits[8], nd;                                                                       \
    if (n <= (int64_t)UINT32_MAX) {                                                          \
      uint32_t hist[8][256];                                                                 \
      nd = radix_histogram(keys, n, hist, digits);                                           \
      for (int p = 0; p < nd; p++) {                                                         \
        int sh = 8 * digits[p];                                                              \
        uint32_t *h = hist[digits[p]];                                                       \
        for (int64_t i = 0; i < n; i++) {                                                    \
          uint64_t x = ks[i];                                                                \
          uint32_t at = h[(x >> sh) & 255]++;                                                \
          kd[at] = x;                                                                        \
          id[at] = is[i];                                                                    \
        }                                                                                    \
        uint64_t *t = ks;                                                                    \
        ks = kd;                                                                             \
        kd = t;                                                                              \
        ID_T *u = is;                                                                        \
        is = id;                                                                             \
        id = u;                                                                              \
      }                                                                                      \
    } else {                                                                                 \
      int64_t hist[8][256];                                                                  \
      nd = radix_histogram64(keys, n, hist, digits);                                         \
      for (int p = 0; p < nd; p++) {                                                         \
        int sh = 8 * digits[p];                                                              \
        int64_t *h = hist[digits[p]];                                                        \
        for (int64_t i = 0; i < n; i++) {                                                    \
          uint64_t x = ks[i];                                                                \
          int64_t at = h[(x >> sh) & 255]++;                                                 \
          kd[at] = x;                                                                        \
          id[at] = is[i];                                                                    \
        }                                                                                    \
        uint64_t *t = ks;                                                                    \
        ks = kd;                                                                             \
        kd = t;                                                                              \
        ID_T *u = is;                                                                        \
        is = id;                                                                             \
        id = u;                                                                              \
      }                                                                                      \
    }                                                                                        \
    if (ks != keys) {                                                                        \
      memcpy(keys, ks, (size_t)n * sizeof *keys);                                            \
      memcpy(ids, is, (size_t)n * sizeof *ids);                                              \
    }                                                                                        \
  }

DEFINE_PAIR_SORT(pair_sort_i64, int64_t)
DEFINE_PAIR_SORT(pair_sort_u32, uint32_t)

void tsr__order_sort_u64_u32_scratch(uint64_t *keys, uint32_t *ids, int64_t n, void *scratch) {
  uint64_t *k2 = (uint64_t *)scratch;
  pair_sort_u32(keys, ids, n, k2, (uint32_t *)(k2 + n));
}

tsr_status tsr__order_sort_u64_u32(tsr_ctx *ctx, uint64_t *keys, uint32_t *ids, int64_t n) {
  void *scratch = NULL;
  if (n >= RADIX_MIN)
    TSR_TRY(tsr__alloc_array(ctx, (size_t)n, 12, "sort scratch", &scratch));
  uint64_t *k2 = (uint64_t *)scratch;
  pair_sort_u32(keys, ids, n, k2, k2 ? (uint32_t *)(k2 + n) : NULL);
  tsr_free(ctx, scratch);
  return TSR_OK;
}

tsr_status tsr__order_sort_u64_i64(tsr_ctx *ctx, uint64_t *keys, int64_t *ids, int64_t n) {
  void *scratch = NULL;
  if (n >= RADIX_MIN)
    TSR_TRY(tsr__alloc_array(ctx, (size_t)n, 16, "sort scratch", &scratch));
  uint64_t *k2 = (uint64_t *)scratch;
  pair_sort_i64(keys, ids, n, k2, k2 ? (int64_t *)(k2 + n) : NULL);
  tsr_free(ctx, scratch);
  return TSR_OK;
}

tsr_status tsr__order_argsort_u64(tsr_ctx *ctx, const uint64_t *keys, int64_t n, int64_t *idx) {
  if (n == 0)
    return TSR_OK;
  void *buf = NULL;
  size_t per = n >= RADIX_MIN ? 24 : 8; /* key copy (+ key and id scratch) */
  TSR_TRY(tsr__alloc_array(ctx, (size_t)n, per, "argsort scratch", &buf));
  uint64_t *k = (uint64_t *)buf;
  memcpy(k, keys, (size_t)n * sizeof *k);
  for (int64_t i = 0; i < n; i++)
    idx[i] = i;
  uint64_t *k2 = per == 24 ? k + n : NULL;
  pair_sort_i64(k, idx, n, k2, k2 ? (int64_t *)(k2 + n) : NULL);
  tsr_free(ctx, buf);
  return TSR_OK;
}

/* ---- sorting values ------------------------------------------------------------------ */

int64_t tsr__order_nan_last_f64(double *v, int64_t n) {
  int64_t w = 0;
  for (int64_t i = 0; i < n; i++) {
    double x = v[i];
    if (x == x) {
      v[i] = v[w];
      v[w++] = x;
    }
  }
  return w;
}

/* Reversible order-preserving map of non-NaN doubles (-0.0 below +0.0). */
static inline uint64_t f64_bits_key(double x) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}
static inline double f64_key_bits(uint64_t k) {
  uint64_t b = (k >> 63) ? k & ~(UINT64_C(1) << 63) : ~k;
  double x;
  memcpy(&x, &b, sizeof x);
  return x;
}

tsr_status tsr__order_sort_f64(tsr_ctx *ctx, double *v, int64_t n) {
  int64_t m = tsr__order_nan_last_f64(v, n);
  if (m < 2)
    return TSR_OK;
  uint64_t *k = NULL;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)m, 2 * sizeof(uint64_t), "sort scratch", (void **)&k));
  for (int64_t i = 0; i < m; i++)
    k[i] = f64_bits_key(v[i]);
  tsr__order_sort_u64_scratch(k, m, k + m);
  for (int64_t i = 0; i < m; i++)
    v[i] = f64_key_bits(k[i]);
  tsr_free(ctx, k);
  return TSR_OK;
}

tsr_status tsr__order_sort_i64(tsr_ctx *ctx, int64_t *v, int64_t n) {
  uint64_t *k = (uint64_t *)(void *)v;
  for (int64_t i = 0; i < n; i++)
    k[i] ^= UINT64_C(1) << 63;
  tsr_status st = tsr__order_sort_u64(ctx, k, n);
  for (int64_t i = 0; i < n; i++)
    k[i] ^= UINT64_C(1) << 63;
  return st;
}

/* ---- selection ------------------------------------------------------------------------
 * Introselect over v[lo..hi): median-of-3 pivot, Hoare partition; after
 * 2 log2(n) + 4 rounds without reaching a small range it heapsorts the
 * remaining range; ranges of at most 16 are insertion-sorted.  No
 * randomness: the same input gives the same arrangement. */
#define DEFINE_SELECT(NAME, T)                                                     \
  static void NAME##_heapsort(T *a, int64_t n) {                                   \
    for (int64_t s = n / 2; s-- > 0;) {                                            \
      int64_t r = s;                                                               \
      for (;;) {                                                                   \
        int64_t c = 2 * r + 1;                                                     \
        if (c >= n)                                                                \
          break;                                                                   \
        if (c + 1 < n && a[c] < a[c + 1])                                          \
          c++;                                                                     \
        if (!(a[r] < a[c]))                                                        \
          break;                                                                   \
        T t = a[r];                                                                \
        a[r] = a[c];                                                               \
        a[c] = t;                                                                  \
        r = c;                                                                     \
      }                                                                            \
    }                                                                              \
    for (int64_t e = n - 1; e > 0; e--) {                                          \
      T t = a[0];                                                                  \
      a[0] = a[e];                                                                 \
      a[e] = t;                                                                    \
      int64_t r = 0;                                                               \
      for (;;) {                                                                   \
        int64_t c = 2 * r + 1;                                                     \
        if (c >= e)                                                                \
          break;                                                                   \
        if (c + 1 < e && a[c] < a[c + 1])                                          \
          c++;                                                                     \
        if (!(a[r] < a[c]))                                                        \
          break;                                                                   \
        T u = a[r];                                                                \
        a[r] = a[c];                                                               \
        a[c] = u;                                                                  \
        r = c;                                                                     \
      }                                                                            \
    }                                                                              \
  }                                                                                \
  void NAME(T *v, int64_t lo, int64_t hi, int64_t k) {                             \
    int64_t budget = 8;                                                            \
    for (int64_t m = hi - lo; m > 1; m >>= 1)                                      \
      budget += 2;                                                                 \
    while (hi - lo > 16) {                                                         \
      if (budget-- == 0) {                                                         \
        NAME##_heapsort(v + lo, hi - lo);                                          \
        return;                                                                    \
      }                                                                            \
      int64_t mid = lo + (hi - lo) / 2;                                            \
      T a = v[lo], b = v[mid], c = v[hi - 1];                                      \
      T p = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b)); \
      int64_t i = lo - 1, j = hi;                                                  \
      for (;;) {                                                                   \
        do                                                                         \
          i++;                                                                     \
        while (v[i] < p);                                                          \
        do                                                                         \
          j--;                                                                     \
        while (p < v[j]);                                                          \
        if (i >= j)                                                                \
          break;                                                                   \
        T t = v[i];                                                                \
        v[i] = v[j];                                                               \
        v[j] = t;                                                                  \
      }                                                                            \
      /* v[lo..j] <= p <= v[j+1..hi) */                                            \
      if (k <= j)                                                                  \
        hi = j + 1;                                                                \
      else                                                                         \
        lo = j + 1;                                                                \
    }                                                                              \
    for (int64_t i = lo + 1; i < hi; i++) {                                        \
      T x = v[i];                                                                  \
      int64_t j = i;                                                               \
      while (j > lo && x < v[j - 1]) {                                             \
        v[j] = v[j - 1];                                                           \
        j--;                                                                       \
      }                                                                            \
      v[j] = x;                                                                    \
    }                                                                              \
  }

DEFINE_SELECT(tsr__order_select_f64, double)
DEFINE_SELECT(tsr__order_select_i64, int64_t)

/* q's indices in ascending q order (nq is small: insertion sort). */
static void q_order(int nq, const double *q, int *ord) {
  for (int j = 0; j < nq; j++) {
    int x = ord[j] = j, i = j;
    while (i > 0 && q[ord[i - 1]] > q[x]) {
      ord[i] = ord[i - 1];
      i--;
    }
    ord[i] = x;
  }
}

/* Selects the positions quantile q needs in ascending q order; v[from..m)
 * always holds the values of sorted positions from..m-1 (positions below
 * `from` that were needed are final), so each selection works on what is
 * left above the previous one. */
#define DEFINE_QBOUNDS(NAME, T, SELECT, NANV)                                                   \
  static void NAME(T *v, int64_t n, int nq, const double *q, T *lo, T *hi, double *d,          \
                   int64_t m) {                                                                 \
    int ord[16];                                                                                \
    for (int jj = 0; jj < nq; jj += 16) {                                                       \
      int cnt = nq - jj < 16 ? nq - jj : 16;                                                    \
      q_order(cnt, q + jj, ord);                                                                \
      int64_t from = 0;                                                                         \
      for (int t = 0; t < cnt; t++) {                                                           \
        int j = jj + ord[t];                                                                    \
        int64_t a, b;                                                                           \
        tsr__quantile_pos(n, q[j], &a, &b, &d[j]);                                              \
        if (a < m) {                                                                            \
          if (a >= from) {                                                                      \
            SELECT(v, from, m, a);                                                              \
            from = a + 1;                                                                       \
          }                                                                                     \
          lo[j] = v[a];                                                                         \
        } else                                                                                  \
          lo[j] = NANV;                                                                         \
        if (b == a)                                                                             \
          hi[j] = lo[j];                                                                        \
        else if (b < m) {                                                                       \
          if (b >= from) { /* b = a + 1: the smallest of v[b..m) */                             \
            int64_t at = b;                                                                     \
            for (int64_t i = b + 1; i < m; i++)                                                 \
              if (v[i] < v[at])                                                                 \
                at = i;                                                                         \
            T t2 = v[b];                                                                        \
            v[b] = v[at];                                                                       \
            v[at] = t2;                                                                         \
            from = b + 1;                                                                       \
          }                                                                                     \
          hi[j] = v[b];                                                                         \
        } else                                                                                  \
          hi[j] = NANV;                                                                         \
      }                                                                                         \
    }                                                                                           \
  }

DEFINE_QBOUNDS(qbounds_f64, double, tsr__order_select_f64, NAN)
DEFINE_QBOUNDS(qbounds_i64, int64_t, tsr__order_select_i64, 0)

void tsr__order_quantile_bounds_f64(double *v, int64_t n, int nq, const double *q, double *lo,
                                    double *hi, double *d) {
  int64_t m = tsr__order_nan_last_f64(v, n);
  qbounds_f64(v, n, nq, q, lo, hi, d, m);
}

void tsr__order_quantile_bounds_i64(int64_t *v, int64_t n, int nq, const double *q, int64_t *lo,
                                    int64_t *hi, double *d) {
  qbounds_i64(v, n, nq, q, lo, hi, d, n);
}

void tsr__order_quantiles_f64(double *v, int64_t n, int nq, const double *q, double *out) {
  double lo[16], hi[16], d[16];
  for (int jj = 0; jj < nq; jj += 16) {
    int cnt = nq - jj < 16 ? nq - jj : 16;
    tsr__order_quantile_bounds_f64(v, n, cnt, q + jj, lo, hi, d);
    for (int t = 0; t < cnt; t++)
      out[jj + t] = d[t] == 0 ? lo[t] : tsr__interp_f64(lo[t], hi[t], d[t]);
  }
}

/* ---- distinct counts, top-n ------------------------------------------------------------ */

tsr_status tsr__order_count_distinct_u64(tsr_ctx *ctx, uint64_t *keys, int64_t n, int64_t *out) {
  *out = 0;
  TSR_TRY(tsr__order_sort_u64(ctx, keys, n));
  int64_t c = n > 0;
  for (int64_t i = 1; i < n; i++)
    c += keys[i] != keys[i - 1];
  *out = c;
  return TSR_OK;
}

tsr_status tsr__order_smallest_k(tsr_ctx *ctx, const uint64_t *keys, int64_t n, int64_t k,
                                 int64_t *idx, int64_t *count) {
  *count = 0;
  if (k <= 0 || n == 0)
    return TSR_OK;
  if (k <= 64) {
    /* A sorted window of the best c so far; a key enters only when
     * strictly below the worst kept, so ties keep the earlier position. */
    uint64_t best[64];
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++) {
      uint64_t x = keys[i];
      if (c == k && x >= best[c - 1])
        continue;
      int64_t j = c < k ? c++ : c - 1;
      while (j > 0 && best[j - 1] > x) {
        best[j] = best[j - 1];
        idx[j] = idx[j - 1];
        j--;
      }
      best[j] = x;
      idx[j] = i;
    }
    *count = c;
    return TSR_OK;
  }
  int64_t *all = NULL;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)n, sizeof(int64_t), "top-n order", (void **)&all));
  tsr_status st = tsr__order_argsort_u64(ctx, keys, n, all);
  if (st == TSR_OK) {
    int64_t c = n < k ? n : k;
    memcpy(idx, all, (size_t)c * sizeof *idx);
    *count = c;
  }
  tsr_free(ctx, all);
  return st;
}
