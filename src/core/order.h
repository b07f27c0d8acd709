/* order.h — ordering kernels shared by the frame sort, the group-by's
 * holistic aggregates and the array functions (sort, argsort, unique,
 * quantile): order-preserving normalized keys, a stable LSD radix sort,
 * sorting and selecting doubles and integers, quantiles with DuckDB's
 * linear interpolation, count distinct and top-n.
 *
 * Normalized keys.  Every fixed-width value maps to an unsigned 64-bit key
 * whose unsigned order is the value order, so one radix sort, one
 * comparison and one equality test serve every type:
 *   - signed ints: the two's complement with the sign bit flipped;
 *   - unsigned ints, bools (false < true), dictionary codes: themselves
 *     (codes are int32 >= 0; as signed ints they order the same way);
 *   - floats: the IEEE bits, all flipped for negatives, the sign bit set
 *     for positives; -0.0 maps to the key of +0.0 and every NaN (any sign
 *     or payload) to the largest key, above +inf.  So equal keys are equal
 *     values as SQL group-by and DuckDB's count(DISTINCT) see them;
 *   - dates (int32 days), timestamps (int64): as signed ints.
 * A key of a type of w bytes uses only the low 8*w bits (float32 keys are
 * 32-bit), so the radix sort skips the high bytes by itself.  Descending
 * order is the complement of the key (tsr__okey_desc), which puts NaN
 * first.  The key of a value is not reversible for floats (-0.0 and NaN
 * payloads are lost): keep the values when they must come back.
 *
 * Radix sort.  LSD, 8-bit digits, one histogram pass for all digits, and
 * every digit where all keys share the same byte is skipped (so int32 keys cost 4 passes at most, small-range
 * keys 1 or 2).  Stable: equal keys keep their input order.  Below 256
 * elements an insertion sort does the same job.  Row indices are int64
 * (any n) or uint32 (n <= UINT32_MAX, half the traffic): both variants.
 *
 * Every function here is single-threaded, re-entrant (thread-safe for
 * distinct data) and allocates only through the context's allocator (the
 * _scratch variants not at all); the frame and array layers run them in
 * their tasks. */
#ifndef TSR_CORE_ORDER_H
#define TSR_CORE_ORDER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <tessera/core.h>
#include <tessera/frame.h>

/* ---- normalized keys (inline: used in typed loops) ---------------------------- */

static inline uint64_t tsr__okey_i64(int64_t v) { return (uint64_t)v ^ (UINT64_C(1) << 63); }
static inline uint64_t tsr__okey_i32(int32_t v) { return (uint32_t)v ^ UINT32_C(0x80000000); }
static inline uint64_t tsr__okey_i16(int16_t v) { return (uint16_t)((uint16_t)v ^ 0x8000u); }
static inline uint64_t tsr__okey_i8(int8_t v) { return (uint8_t)((uint8_t)v ^ 0x80u); }
static inline uint64_t tsr__okey_u64(uint64_t v) { return v; }
static inline uint64_t tsr__okey_bool(uint8_t v) { return v != 0; }

/* float64: -0.0 as +0.0, every NaN as UINT64_MAX (above +inf). */
static inline uint64_t tsr__okey_f64(double v) {
  if (v != v)
    return UINT64_MAX;
  if (v == 0)
    v = 0.0;
  uint64_t b;
  memcpy(&b, &v, sizeof b);
  return (b >> 63) ? ~b : b | (UINT64_C(1) << 63);
}
/* float32: a 32-bit key; -0.0 as +0.0, every NaN as UINT32_MAX. */
static inline uint64_t tsr__okey_f32(float v) {
  if (v != v)
    return UINT32_MAX;
  if (v == 0)
    v = 0.0f;
  uint32_t b;
  memcpy(&b, &v, sizeof b);
  return (b >> 31) ? (uint32_t)~b : b | UINT32_C(0x80000000);
}
/* The key for the reversed order (largest first; NaN first). */
static inline uint64_t tsr__okey_desc(uint64_t key) { return ~key; }

/* The float64 value back from its key (the canonical value: +0.0 for
 * either zero, the default NaN for UINT64_MAX). */
static inline double tsr__okey_to_f64(uint64_t key) {
  if (key == UINT64_MAX) {
    uint64_t nan = UINT64_C(0x7ff8000000000000);
    double d;
    memcpy(&d, &nan, sizeof d);
    return d;
  }
  uint64_t b = (key >> 63) ? key & ~(UINT64_C(1) << 63) : ~key;
  double d;
  memcpy(&d, &b, sizeof d);
  return d;
}

/* Whether type has normalized keys: bool, ints, uints, floats, dictionary
 * codes, dates, timestamps (not strings). */
bool tsr__okey_supported(tsr_type type);
/* Bits a key of `type` may use (8, 16, 32 or 64; 0 when unsupported). */
int tsr__okey_bits(tsr_type type);

/* Keys of n values of `type` (tsr__okey_supported) read from `values`
 * (the chunk layout: tsr_type_width bytes each).  When `descending`, each
 * key is complemented within the type's bits ((2^bits - 1) - key), so
 * descending keys use no more bits than ascending ones.  Nulls are not
 * looked at: their slots get whatever the value bytes say; the caller
 * handles validity. */
void tsr__okeys(tsr_type type, const void *values, int64_t n, bool descending, uint64_t *keys);

/* ---- radix sort ------------------------------------------------------------------ */

/* Bytes of scratch the _scratch variants below need for n elements:
 * n * (8 + index width) bytes for the pair sorts, n * 8 for plain keys. */
static inline size_t tsr__order_scratch_bytes(int64_t n, size_t index_width) {
  return (size_t)n * (8 + index_width);
}

/* Sorts keys[0..n) ascending in place.  TSR_ENOMEM. */
tsr_status tsr__order_sort_u64(tsr_ctx *ctx, uint64_t *keys, int64_t n);

/* Stably sorts the pairs (keys[i], ids[i]) by key in place: afterwards
 * keys ascend and ids are permuted with them, equal keys keeping their
 * input order.  Multi-key sorts chain it from the least significant key:
 * gather the next key in the current id order, sort again.  TSR_ENOMEM. */
tsr_status tsr__order_sort_u64_i64(tsr_ctx *ctx, uint64_t *keys, int64_t *ids, int64_t n);
/* The same with uint32 ids (n <= UINT32_MAX). */
tsr_status tsr__order_sort_u64_u32(tsr_ctx *ctx, uint64_t *keys, uint32_t *ids, int64_t n);
/* As above with caller-provided scratch of tsr__order_scratch_bytes(n, 4)
 * bytes (8-aligned); cannot fail. */
void tsr__order_sort_u64_u32_scratch(uint64_t *keys, uint32_t *ids, int64_t n, void *scratch);

/* Sorts keys[0..n) ascending in place with caller-provided scratch of
 * n * 8 bytes (8-aligned); cannot fail. */
void tsr__order_sort_u64_scratch(uint64_t *keys, int64_t n, void *scratch);

/* The stable ascending order of keys[0..n): idx[r] is the index of the
 * r-th smallest key, equal keys in index order (keys unchanged).
 * TSR_ENOMEM. */
tsr_status tsr__order_argsort_u64(tsr_ctx *ctx, const uint64_t *keys, int64_t n, int64_t *idx);

/* ---- sorting, selection and quantiles of values ---------------------------------- */

/* Sorts v[0..n) ascending in place, NaN last (NaNs keep their bits; -0.0
 * sorts before +0.0).  TSR_ENOMEM. */
tsr_status tsr__order_sort_f64(tsr_ctx *ctx, double *v, int64_t n);
tsr_status tsr__order_sort_i64(tsr_ctx *ctx, int64_t *v, int64_t n);

/* Moves the NaNs of v[0..n) to its end (order otherwise unspecified) and
 * returns how many values are not NaN. */
int64_t tsr__order_nan_last_f64(double *v, int64_t n);

/* Rearranges v[lo..hi) (no NaN in it) so that v[k] is the value a sort
 * would put there, every value before it <= it and every value after it
 * >= it (nth_element), lo <= k < hi.  Deterministic: the same input
 * sequence gives the same arrangement.  Cannot fail. */
void tsr__order_select_f64(double *v, int64_t lo, int64_t hi, int64_t k);
void tsr__order_select_i64(int64_t *v, int64_t lo, int64_t hi, int64_t k);

/* DuckDB's quantile_cont of n values for q in [0, 1]: with
 * rn = (double)(n - 1) * q, lo = floor(rn), hi = ceil(rn), d = rn - lo
 * and a, b the lo-th and hi-th smallest values (NaN above every number),
 * the result is a when lo == hi, else a * (1 - d) + b * d (DuckDB's
 * float64 interpolation, bitwise).  These are the positions and weights
 * every quantile function here uses. */
static inline void tsr__quantile_pos(int64_t n, double q, int64_t *lo, int64_t *hi, double *d) {
  double rn = (double)(n - 1) * q;
  double f = __builtin_floor(rn), c = __builtin_ceil(rn);
  *lo = (int64_t)f;
  *hi = (int64_t)c;
  *d = rn - f;
}
static inline double tsr__interp_f64(double a, double b, double d) { return a * (1.0 - d) + b * d; }
/* float32 columns (DuckDB's result is float32): a + (float)((double)(b - a) * d). */
static inline float tsr__interp_f32(float a, float b, double d) {
  return a + (float)((double)(b - a) * d);
}
/* Timestamps (and dates as timestamps): llround(a * (1 - d) + b * d) in
 * float64, as DuckDB's TIMESTAMP interpolation. */
int64_t tsr__interp_ts(int64_t a, int64_t b, double d);

/* The values a quantile interpolates between, for nq quantiles q[0..nq)
 * (each in [0, 1], any order) of v[0..n), n >= 1, with one partial sort:
 * v is rearranged (NaN moved last, then selected around the needed
 * positions); for q[j], lo[j] and hi[j] are the values at the positions of
 * tsr__quantile_pos (NaN when past the last number) and d[j] the weight.
 * The i64 variant (no NaN) serves timestamps.  Cannot fail. */
void tsr__order_quantile_bounds_f64(double *v, int64_t n, int nq, const double *q, double *lo,
                                    double *hi, double *d);
void tsr__order_quantile_bounds_i64(int64_t *v, int64_t n, int nq, const double *q, int64_t *lo,
                                    int64_t *hi, double *d);

/* The nq quantiles q[0..nq) (each in [0, 1], any order) of v[0..n), n >= 1,
 * with one partial sort: v is rearranged (NaN moved last, then selected
 * around the needed positions).  out[j] is quantile q[j] as above.
 * Cannot fail. */
void tsr__order_quantiles_f64(double *v, int64_t n, int nq, const double *q, double *out);

/* ---- distinct counts and top-n ---------------------------------------------------- */

/* The number of distinct keys in keys[0..n); keys are sorted in place.
 * TSR_ENOMEM. */
tsr_status tsr__order_count_distinct_u64(tsr_ctx *ctx, uint64_t *keys, int64_t n, int64_t *out);

/* The positions of the k smallest keys of keys[0..n) (k >= 0; fewer when
 * n < k) in ascending key order, ties in position order (the earlier
 * position first and kept when the tie is cut): idx[0..*count).  For the
 * k largest pass complemented keys (tsr__okey_desc).  keys unchanged.
 * TSR_ENOMEM (large k only: k <= 64 allocates nothing). */
tsr_status tsr__order_smallest_k(tsr_ctx *ctx, const uint64_t *keys, int64_t n, int64_t k,
                                 int64_t *idx, int64_t *count);

#endif /* TSR_CORE_ORDER_H */
