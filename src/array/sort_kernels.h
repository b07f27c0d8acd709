/* sort_kernels.h — the ordering kernels of the array order functions
 * (sort.c): order-preserving uint64 keys for every dtype, a stable LSD
 * radix sort of keys (with an optional int64 payload), selection of order
 * statistics in doubles, and NumPy's linear interpolation.
 *
 * Keys: for integers the value with the sign bit flipped (signed) or as it
 * is (unsigned, bool); for floats (float32 widened exactly to double) the
 * IEEE bits with the sign bit flipped for positives and all bits flipped
 * for negatives, so key order is numeric order; every NaN maps to
 * UINT64_MAX (NaN sorts last, as NumPy).  With `canon`, -0.0 maps to the key
 * of 0.0 (they compare equal, as NumPy's comparisons do: stable argsort,
 * searchsorted, isin); without, -0.0 sorts just before 0.0 so that the sorted
 * values decode to the exact input bits (sort). */
#ifndef TSR_ARRAY_SORT_KERNELS_H
#define TSR_ARRAY_SORT_KERNELS_H

#include <math.h>
#include <string.h>

#include <tessera/core.h>

#define TSR__KEY_NAN UINT64_MAX

static inline uint64_t tsr__key_f64(double v, bool canon) {
  if (v != v)
    return TSR__KEY_NAN;
  if (canon && v == 0)
    v = 0.0;
  uint64_t u;
  memcpy(&u, &v, 8);
  return (u >> 63) ? ~u : u | (UINT64_C(1) << 63);
}

static inline double tsr__key_to_f64(uint64_t k) {
  if (k == TSR__KEY_NAN)
    return NAN;
  uint64_t u = (k >> 63) ? k & ~(UINT64_C(1) << 63) : ~k;
  double v;
  memcpy(&v, &u, 8);
  return v;
}

/* keys[i] = key of element i of the n values at `in` (dtype), read with a
 * stride of `stride` elements. */
void tsr__keys_from(tsr_dtype dtype, const void *in, int64_t stride, int64_t n, bool canon,
                    uint64_t *keys);
/* The inverse for sorted keys: out[i * stride] = value of keys[i]. */
void tsr__keys_to(tsr_dtype dtype, const uint64_t *keys, int64_t n, void *out, int64_t stride);
/* A value as a double (for quantiles): out[i] = (double)in[i * stride]. */
void tsr__values_f64(tsr_dtype dtype, const void *in, int64_t stride, int64_t n, double *out);

/* Stable sort of keys[0..n) ascending, carrying idx (may be NULL) along.
 * tmp_keys (n entries) and tmp_idx (n entries when idx != NULL) are
 * scratch.  LSD radix by bytes, skipping bytes equal in every key;
 * insertion sort for short inputs. */
void tsr__radix_sort(uint64_t *keys, int64_t *idx, int64_t n, uint64_t *tmp_keys, int64_t *tmp_idx);

/* Rearranges v[lo..n) so that v[k] holds the value of rank k (numeric
 * order; no NaN in v), everything before it is <= and after it >=. */
void tsr__select_f64(double *v, int64_t lo, int64_t n, int64_t k);

/* NumPy's _lerp(a, b, t): a + (b - a) * t, or b - (b - a) * (1 - t) for
 * t >= 0.5; a when a == b (NumPy gives NaN for two equal infinities). */
static inline double tsr__lerp(double a, double b, double t) {
  if (a == b)
    return a;
  double d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/* NumPy's virtual index of quantile q among n values for the linear method
 * (alpha = beta = 1): n * q + (1 + q * (1 - 1 - 1)) - 1, evaluated as NumPy
 * does; then the two neighbours' ranks and the weight, as NumPy's
 * _get_indexes and _get_gamma clamp them. */
static inline void tsr__quantile_index(int64_t n, double q, int64_t *lo, int64_t *hi, double *t) {
  double vi = (double)n * q + (1 + q * (1.0 - 1.0 - 1.0)) - 1;
  double prev = floor(vi);
  if (vi >= (double)(n - 1)) {
    *lo = *hi = n - 1;
    *t = 0;
  } else if (vi < 0) {
    *lo = *hi = 0;
    *t = 0;
  } else {
    *lo = (int64_t)prev;
    *hi = *lo + 1;
    *t = vi - prev;
  }
}

#endif /* TSR_ARRAY_SORT_KERNELS_H */
