/* sort_kernels.c — keys, radix sort and selection for the array order
 * functions (see sort_kernels.h).  Typed loops per dtype; no allocation:
 * callers hand in their scratch. */
#include "sort_kernels.h"

#define FOR_INT_DTYPES(X)    \
  X(TSR_INT8, int8_t, 1)     \
  X(TSR_INT16, int16_t, 1)   \
  X(TSR_INT32, int32_t, 1)   \
  X(TSR_INT64, int64_t, 1)   \
  X(TSR_UINT8, uint8_t, 0)   \
  X(TSR_UINT16, uint16_t, 0) \
  X(TSR_UINT32, uint32_t, 0) \
  X(TSR_UINT64, uint64_t, 0) \
  X(TSR_BOOL, uint8_t, 0)

void tsr__keys_from(tsr_dtype dtype, const void *in, int64_t stride, int64_t n, bool canon,
                    uint64_t *keys) {
  switch (dtype) {
#define X(D, T, S)                                                                  \
  case D: {                                                                         \
    const T *p = in;                                                                \
    for (int64_t i = 0; i < n; i++)                                                 \
      keys[i] = S ? (uint64_t)(int64_t)p[i * stride] ^ (UINT64_C(1) << 63)          \
                  : (uint64_t)p[i * stride];                                        \
    break;                                                                          \
  }
    FOR_INT_DTYPES(X)
#undef X
  case TSR_FLOAT32: {
    const float *p = in;
    for (int64_t i = 0; i < n; i++)
      keys[i] = tsr__key_f64((double)p[i * stride], canon);
    break;
  }
  default: {
    const double *p = in;
    for (int64_t i = 0; i < n; i++)
      keys[i] = tsr__key_f64(p[i * stride], canon);
    break;
  }
  }
}

void tsr__keys_to(tsr_dtype dtype, const uint64_t *keys, int64_t n, void *out, int64_t stride) {
  switch (dtype) {
#define X(D, T, S)                                                                     \
  case D: {                                                                            \
    T *p = out;                                                                        \
    for (int64_t i = 0; i < n; i++)                                                    \
      p[i * stride] = S ? (T)(int64_t)(keys[i] ^ (UINT64_C(1) << 63)) : (T)keys[i];    \
    break;                                                                             \
  }
    FOR_INT_DTYPES(X)
#undef X
  case TSR_FLOAT32: {
    float *p = out;
    for (int64_t i = 0; i < n; i++)
      p[i * stride] = (float)tsr__key_to_f64(keys[i]);
    break;
  }
  default: {
    double *p = out;
    for (int64_t i = 0; i < n; i++)
      p[i * stride] = tsr__key_to_f64(keys[i]);
    break;
  }
  }
}

void tsr__values_f64(tsr_dtype dtype, const void *in, int64_t stride, int64_t n, double *out) {
  switch (dtype) {
#define X(D, T, S)                      \
  case D: {                             \
    const T *p = in;                    \
    for (int64_t i = 0; i < n; i++)     \
      out[i] = (double)p[i * stride];   \
    break;                              \
  }
    FOR_INT_DTYPES(X)
#undef X
  case TSR_FLOAT32: {
    const float *p = in;
    for (int64_t i = 0; i < n; i++)
      out[i] = (double)p[i * stride];
    break;
  }
  default: {
    const double *p = in;
    for (int64_t i = 0; i < n; i++)
      out[i] = p[i * stride];
    break;
  }
  }
}

static void insertion_sort(uint64_t *keys, int64_t *idx, int64_t n) {
  for (int64_t i = 1; i < n; i++) {
    uint64_t k = keys[i];
    int64_t x = idx ? idx[i] : 0, j = i;
    while (j > 0 && keys[j - 1] > k) {
      keys[j] = keys[j - 1];
      if (idx)
        idx[j] = idx[j - 1];
      j--;
    }
    keys[j] = k;
    if (idx)
      idx[j] = x;
  }
}

void tsr__radix_sort(uint64_t *keys, int64_t *idx, int64_t n, uint64_t *tmp_keys,
                     int64_t *tmp_idx) {
  if (n <= 48) {
    insertion_sort(keys, idx, n);
    return;
  }
  /* One pass counts every byte's histogram; bytes where all keys agree are
   * skipped (small integers, floats of one sign and magnitude range). */
  static const int nb = 8;
  int64_t (*count)[256] = NULL;
  int64_t counts[8][256];
  count = counts;
  memset(counts, 0, sizeof counts);
  for (int64_t i = 0; i < n; i++) {
    uint64_t k = keys[i];
    for (int b = 0; b < nb; b++)
      count[b][(k >> (8 * b)) & 0xff]++;
  }
  uint64_t *src = keys, *dst = tmp_keys;
  int64_t *isrc = idx, *idst = tmp_idx;
  for (int b = 0; b < nb; b++) {
    int64_t *c = count[b];
    if (c[(src[0] >> (8 * b)) & 0xff] == n)
      continue;
    int64_t pos[256], sum = 0;
    for (int v = 0; v < 256; v++) {
      pos[v] = sum;
      sum += c[v];
    }
    int shift = 8 * b;
    if (isrc) {
      for (int64_t i = 0; i < n; i++) {
        uint64_t k = src[i];
        int64_t p = pos[(k >> shift) & 0xff]++;
        dst[p] = k;
        idst[p] = isrc[i];
      }
      int64_t *t = isrc;
      isrc = idst;
      idst = t;
    } else {
      for (int64_t i = 0; i < n; i++) {
        uint64_t k = src[i];
        dst[pos[(k >> shift) & 0xff]++] = k;
      }
    }
    uint64_t *t = src;
    src = dst;
    dst = t;
  }
  if (src != keys) {
    memcpy(keys, src, (size_t)n * sizeof *keys);
    if (idx)
      memcpy(idx, isrc, (size_t)n * sizeof *idx);
  }
}

static inline void swap(double *a, double *b) {
  double t = *a;
  *a = *b;
  *b = t;
}

void tsr__select_f64(double *v, int64_t lo, int64_t n, int64_t k) {
  int64_t hi = n - 1;
  while (hi - lo > 16) {
    /* Median of three as the pivot, Hoare partition. */
    int64_t mid = lo + (hi - lo) / 2;
    if (v[mid] < v[lo])
      swap(&v[mid], &v[lo]);
    if (v[hi] < v[lo])
      swap(&v[hi], &v[lo]);
    if (v[hi] < v[mid])
      swap(&v[hi], &v[mid]);
    double p = v[mid];
    int64_t i = lo, j = hi;
    while (i <= j) {
      while (v[i] < p)
        i++;
      while (v[j] > p)
        j--;
      if (i <= j) {
        swap(&v[i], &v[j]);
        i++;
        j--;
      }
    }
    if (k <= j)
      hi = j;
    else if (k >= i)
      lo = i;
    else
      return;
  }
  for (int64_t a = lo + 1; a <= hi; a++) {
    double x = v[a];
    int64_t b = a;
    while (b > lo && v[b - 1] > x) {
      v[b] = v[b - 1];
      b--;
    }
    v[b] = x;
  }
}
