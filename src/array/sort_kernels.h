/* sort_kernels.h — what the array order functions (sort.c,
 * order_count.c) add to the shared ordering kernels of core/order.h (radix
 * sorts, selection): keys of tsr_dtype values read with a stride and
 * decoded back into values (core/order.h's keys are canonical, so -0.0 and
 * NaN payloads would not come back), and NumPy's quantile positions and
 * _lerp (core/order.h interpolates as DuckDB does).
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

#include "core/order.h"

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

/* NumPy's _lerp(a, b, t): a + (b - a) * t, or b - (b - a) * (1 - t) for
 * t >= 0.5; a when a == b or t == 0 (where NumPy computes inf - inf or
 * inf * 0 next to an infinity and gives NaN). */
static inline double tsr__lerp(double a, double b, double t) {
  if (a == b || t == 0)
    return a;
  double d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/* NumPy's virtual index of quantile q among n values for the linear method,
 * (n - 1) * q, and the two neighbours' ranks and the weight, as NumPy's
 * _get_indexes and _get_gamma clamp them. */
static inline void tsr__quantile_index(int64_t n, double q, int64_t *lo, int64_t *hi, double *t) {
  double vi = (double)(n - 1) * q;
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
