/* program_ops.c — the typed loops a fused program runs: casts, unary and
 * binary operations, where, for every dtype, with NumPy's semantics.
 *
 * Each loop runs over one block (at most TSR__BLOCK elements) of operands of
 * a single dtype, so the compiler vectorizes them (this file is built with
 * -fno-math-errno so that sqrt and friends vectorize too: tessera does not
 * report math errors through errno).
 *
 * Integer arithmetic is done in uint64_t and truncated, which gives NumPy's
 * wrap-around without signed-overflow undefined behaviour.  Float to
 * integer conversion follows what NumPy does on x86-64 (cvttsd2si): NaN and
 * out-of-range values become INT64_MIN before truncation, never C's
 * undefined behaviour. */
#include <math.h>
#include <string.h>

#include "program.h"

/* The loops are compiled twice, for x86-64's baseline (SSE2) and for AVX2,
 * and the dynamic loader picks the one the CPU runs (GCC's target_clones;
 * ifunc on glibc). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define MULTIVERSION __attribute__((target_clones("avx2", "default")))
#else
#define MULTIVERSION
#endif

/* ---- conversions ------------------------------------------------------- */

static inline int64_t f2i64(double x) {
  return x >= -9223372036854775808.0 && x < 9223372036854775808.0 ? (int64_t)x : INT64_MIN;
}
static inline uint64_t f2u64(double x) {
  if (x >= 9223372036854775808.0 && x < 18446744073709551616.0)
    return (uint64_t)x;
  return (uint64_t)f2i64(x);
}

/* CVT_<dst kind>_<src kind>(DT, v): kinds B(ool), S(igned), U(nsigned),
 * U64 (uint64, separate because of the float path), F(loat). */
#define CVT_B_B(DT, v) (uint8_t)((v) != 0)
#define CVT_B_S CVT_B_B
#define CVT_B_U CVT_B_B
#define CVT_B_U64 CVT_B_B
#define CVT_B_F CVT_B_B
#define CVT_PLAIN(DT, v) (DT)(v)
#define CVT_S_B CVT_PLAIN
#define CVT_S_S CVT_PLAIN
#define CVT_S_U CVT_PLAIN
#define CVT_S_U64 CVT_PLAIN
#define CVT_S_F(DT, v) (DT) f2i64(v)
#define CVT_U_B CVT_PLAIN
#define CVT_U_S CVT_PLAIN
#define CVT_U_U CVT_PLAIN
#define CVT_U_U64 CVT_PLAIN
#define CVT_U_F(DT, v) (DT) f2i64(v)
#define CVT_U64_B CVT_PLAIN
#define CVT_U64_S CVT_PLAIN
#define CVT_U64_U CVT_PLAIN
#define CVT_U64_U64 CVT_PLAIN
#define CVT_U64_F(DT, v) f2u64(v)
#define CVT_F_B CVT_PLAIN
#define CVT_F_S CVT_PLAIN
#define CVT_F_U CVT_PLAIN
#define CVT_F_U64 CVT_PLAIN
#define CVT_F_F CVT_PLAIN

#define TYPES_A(X)             \
  X(TSR_BOOL, uint8_t, B)      \
  X(TSR_INT8, int8_t, S)       \
  X(TSR_INT16, int16_t, S)     \
  X(TSR_INT32, int32_t, S)     \
  X(TSR_INT64, int64_t, S)     \
  X(TSR_UINT8, uint8_t, U)     \
  X(TSR_UINT16, uint16_t, U)   \
  X(TSR_UINT32, uint32_t, U)   \
  X(TSR_UINT64, uint64_t, U64) \
  X(TSR_FLOAT32, float, F)     \
  X(TSR_FLOAT64, double, F)
/* The same list again, for use inside an expansion of TYPES_A. */
#define TYPES_B(X, SK)             \
  X(TSR_BOOL, uint8_t, B, SK)      \
  X(TSR_INT8, int8_t, S, SK)       \
  X(TSR_INT16, int16_t, S, SK)     \
  X(TSR_INT32, int32_t, S, SK)     \
  X(TSR_INT64, int64_t, S, SK)     \
  X(TSR_UINT8, uint8_t, U, SK)     \
  X(TSR_UINT16, uint16_t, U, SK)   \
  X(TSR_UINT32, uint32_t, U, SK)   \
  X(TSR_UINT64, uint64_t, U64, SK) \
  X(TSR_FLOAT32, float, F, SK)     \
  X(TSR_FLOAT64, double, F, SK)

#define CAST_TO(DD, DT, DK, SK)                             \
  case DD: {                                                \
    DT *d = dst;                                            \
    if (stride == 1)                                        \
      for (size_t j = 0; j < n; j++)                        \
        d[j] = CVT_##DK##_##SK(DT, s[j]);                   \
    else                                                    \
      for (size_t j = 0; j < n; j++)                        \
        d[j] = CVT_##DK##_##SK(DT, s[(int64_t)j * stride]); \
    break;                                                  \
  }
#define CAST_FROM(SD, ST, SK) \
  case SD: {                  \
    const ST *s = src;        \
    switch (to) {             \
      TYPES_B(CAST_TO, SK)    \
    default:                  \
      break;                  \
    }                         \
    break;                    \
  }

MULTIVERSION void tsr__cast_loop(tsr_dtype to, tsr_dtype from, void *dst, const void *src,
                                 int64_t stride, size_t n) {
  switch (from) {
    TYPES_A(CAST_FROM)
  default:
    break;
  }
}

void tsr__splat(void *dst, const void *value, size_t itemsize, size_t n) {
  switch (itemsize) {
  case 1: {
    uint8_t v;
    memcpy(&v, value, 1);
    memset(dst, v, n);
    break;
  }
  case 2: {
    uint16_t v, *d = dst;
    memcpy(&v, value, 2);
    for (size_t j = 0; j < n; j++)
      d[j] = v;
    break;
  }
  case 4: {
    uint32_t v, *d = dst;
    memcpy(&v, value, 4);
    for (size_t j = 0; j < n; j++)
      d[j] = v;
    break;
  }
  default: {
    uint64_t v, *d = dst;
    memcpy(&v, value, 8);
    for (size_t j = 0; j < n; j++)
      d[j] = v;
    break;
  }
  }
}

/* ---- unary ----------------------------------------------------------------- */

#define LOOP1(T, R, EXPR)            \
  do {                               \
    const T *xs = x;                 \
    R *r = dst;                      \
    for (size_t j = 0; j < n; j++) { \
      T a = xs[j];                   \
      r[j] = (R)(EXPR);              \
    }                                \
  } while (0)

#define FLOAT_UNARY(T, S)                                                                   \
  MULTIVERSION static bool unary_##T(tsr_unary_op op, void *dst, const void *x, size_t n) { \
    switch (op) {                                                                           \
    case TSR_OP_NEGATIVE:                                                                   \
      LOOP1(T, T, -a);                                                                      \
      break;                                                                                \
    case TSR_OP_POSITIVE:                                                                   \
      LOOP1(T, T, a);                                                                       \
      break;                                                                                \
    case TSR_OP_ABS:                                                                        \
      LOOP1(T, T, fabs##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_SIGN:                                                                       \
      LOOP1(T, T, a > 0 ? (T)1 : a < 0 ? (T)-1 : a);                                        \
      break;                                                                                \
    case TSR_OP_SQUARE:                                                                     \
      LOOP1(T, T, a *a);                                                                    \
      break;                                                                                \
    case TSR_OP_SQRT:                                                                       \
      LOOP1(T, T, sqrt##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_CBRT:                                                                       \
      LOOP1(T, T, cbrt##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_EXP:                                                                        \
      LOOP1(T, T, exp##S(a));                                                               \
      break;                                                                                \
    case TSR_OP_EXP2:                                                                       \
      LOOP1(T, T, exp2##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_EXPM1:                                                                      \
      LOOP1(T, T, expm1##S(a));                                                             \
      break;                                                                                \
    case TSR_OP_LOG:                                                                        \
      LOOP1(T, T, log##S(a));                                                               \
      break;                                                                                \
    case TSR_OP_LOG1P:                                                                      \
      LOOP1(T, T, log1p##S(a));                                                             \
      break;                                                                                \
    case TSR_OP_LOG2:                                                                       \
      LOOP1(T, T, log2##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_LOG10:                                                                      \
      LOOP1(T, T, log10##S(a));                                                             \
      break;                                                                                \
    case TSR_OP_SIN:                                                                        \
      LOOP1(T, T, sin##S(a));                                                               \
      break;                                                                                \
    case TSR_OP_COS:                                                                        \
      LOOP1(T, T, cos##S(a));                                                               \
      break;                                                                                \
    case TSR_OP_TAN:                                                                        \
      LOOP1(T, T, tan##S(a));                                                               \
      break;                                                                                \
    case TSR_OP_ARCSIN:                                                                     \
      LOOP1(T, T, asin##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_ARCCOS:                                                                     \
      LOOP1(T, T, acos##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_ARCTAN:                                                                     \
      LOOP1(T, T, atan##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_SINH:                                                                       \
      LOOP1(T, T, sinh##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_COSH:                                                                       \
      LOOP1(T, T, cosh##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_TANH:                                                                       \
      LOOP1(T, T, tanh##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_ARCSINH:                                                                    \
      LOOP1(T, T, asinh##S(a));                                                             \
      break;                                                                                \
    case TSR_OP_ARCCOSH:                                                                    \
      LOOP1(T, T, acosh##S(a));                                                             \
      break;                                                                                \
    case TSR_OP_ARCTANH:                                                                    \
      LOOP1(T, T, atanh##S(a));                                                             \
      break;                                                                                \
    case TSR_OP_FLOOR:                                                                      \
      LOOP1(T, T, floor##S(a));                                                             \
      break;                                                                                \
    case TSR_OP_CEIL:                                                                       \
      LOOP1(T, T, ceil##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_ROUND:                                                                      \
      LOOP1(T, T, rint##S(a));                                                              \
      break;                                                                                \
    case TSR_OP_TRUNC:                                                                      \
      LOOP1(T, T, trunc##S(a));                                                             \
      break;                                                                                \
    case TSR_OP_ISNAN:                                                                      \
      LOOP1(T, uint8_t, a != a);                                                            \
      break;                                                                                \
    case TSR_OP_ISINF:                                                                      \
      LOOP1(T, uint8_t, isinf(a) != 0);                                                     \
      break;                                                                                \
    case TSR_OP_ISFINITE:                                                                   \
      LOOP1(T, uint8_t, isfinite(a) != 0);                                                  \
      break;                                                                                \
    case TSR_OP_LOGICAL_NOT:                                                                \
      LOOP1(T, uint8_t, a == 0);                                                            \
      break;                                                                                \
    default:                                                                                \
      return false;                                                                         \
    }                                                                                       \
    return true;                                                                            \
  }

/* Integer unary operations; the float functions never reach here (the
 * builder casts integers to float first). */
#define NEG_S(a) ((a) < 0)
#define NEG_U(a) ((void)(a), 0)
#define INT_UNARY(T, ISNEG)                                                                 \
  MULTIVERSION static bool unary_##T(tsr_unary_op op, void *dst, const void *x, size_t n) { \
    switch (op) {                                                                           \
    case TSR_OP_NEGATIVE:                                                                   \
      LOOP1(T, T, 0 - (uint64_t)a);                                                         \
      break;                                                                                \
    case TSR_OP_ABS:                                                                        \
      LOOP1(T, T, ISNEG(a) ? 0 - (uint64_t)a : (uint64_t)a);                                \
      break;                                                                                \
    case TSR_OP_SIGN:                                                                       \
      LOOP1(T, T, (a > 0) - ISNEG(a));                                                      \
      break;                                                                                \
    case TSR_OP_SQUARE:                                                                     \
      LOOP1(T, T, (uint64_t)a *(uint64_t)a);                                                \
      break;                                                                                \
    case TSR_OP_POSITIVE:                                                                   \
    case TSR_OP_FLOOR:                                                                      \
    case TSR_OP_CEIL:                                                                       \
    case TSR_OP_ROUND:                                                                      \
    case TSR_OP_TRUNC:                                                                      \
      LOOP1(T, T, a);                                                                       \
      break;                                                                                \
    case TSR_OP_ISNAN:                                                                      \
    case TSR_OP_ISINF:                                                                      \
      LOOP1(T, uint8_t, ((void)a, 0));                                                      \
      break;                                                                                \
    case TSR_OP_ISFINITE:                                                                   \
      LOOP1(T, uint8_t, ((void)a, 1));                                                      \
      break;                                                                                \
    case TSR_OP_LOGICAL_NOT:                                                                \
      LOOP1(T, uint8_t, a == 0);                                                            \
      break;                                                                                \
    case TSR_OP_INVERT:                                                                     \
      LOOP1(T, T, ~(uint64_t)a);                                                            \
      break;                                                                                \
    default:                                                                                \
      return false;                                                                         \
    }                                                                                       \
    return true;                                                                            \
  }

typedef uint8_t bool8;
static bool unary_bool8(tsr_unary_op op, void *dst, const void *x, size_t n) {
  switch (op) {
  case TSR_OP_POSITIVE:
  case TSR_OP_ABS:
  case TSR_OP_SIGN:
  case TSR_OP_SQUARE:
  case TSR_OP_FLOOR:
  case TSR_OP_CEIL:
  case TSR_OP_ROUND:
  case TSR_OP_TRUNC:
    LOOP1(bool8, bool8, a);
    break;
  case TSR_OP_ISNAN:
  case TSR_OP_ISINF:
    LOOP1(bool8, bool8, ((void)a, 0));
    break;
  case TSR_OP_ISFINITE:
    LOOP1(bool8, bool8, ((void)a, 1));
    break;
  case TSR_OP_LOGICAL_NOT:
  case TSR_OP_INVERT:
    LOOP1(bool8, bool8, !a);
    break;
  default:
    return false;
  }
  return true;
}

/* clang-format off */
FLOAT_UNARY(double, )
FLOAT_UNARY(float, f)
INT_UNARY(int8_t, NEG_S)
INT_UNARY(int16_t, NEG_S)
INT_UNARY(int32_t, NEG_S)
INT_UNARY(int64_t, NEG_S)
INT_UNARY(uint8_t, NEG_U)
INT_UNARY(uint16_t, NEG_U)
INT_UNARY(uint32_t, NEG_U)
INT_UNARY(uint64_t, NEG_U)
/* clang-format on */

bool tsr__unary_loop(tsr_unary_op op, tsr_dtype dtype, void *dst, const void *x, size_t n) {
  switch (dtype) {
  case TSR_BOOL:
    return unary_bool8(op, dst, x, n);
  case TSR_INT8:
    return unary_int8_t(op, dst, x, n);
  case TSR_INT16:
    return unary_int16_t(op, dst, x, n);
  case TSR_INT32:
    return unary_int32_t(op, dst, x, n);
  case TSR_INT64:
    return unary_int64_t(op, dst, x, n);
  case TSR_UINT8:
    return unary_uint8_t(op, dst, x, n);
  case TSR_UINT16:
    return unary_uint16_t(op, dst, x, n);
  case TSR_UINT32:
    return unary_uint32_t(op, dst, x, n);
  case TSR_UINT64:
    return unary_uint64_t(op, dst, x, n);
  case TSR_FLOAT32:
    return unary_float(op, dst, x, n);
  case TSR_FLOAT64:
    return unary_double(op, dst, x, n);
  default:
    return false;
  }
}

/* ---- binary ---------------------------------------------------------------- */

#define LOOP2(T, R, EXPR)            \
  do {                               \
    const T *xs = x, *ys = y;        \
    R *r = dst;                      \
    for (size_t j = 0; j < n; j++) { \
      T a = xs[j], b = ys[j];        \
      r[j] = (R)(EXPR);              \
    }                                \
  } while (0)

/* NumPy's npy_divmod: floor division and Python's modulo for floats. */
#define FLOAT_DIVMOD(T, S)                      \
  static inline T floordiv_##T(T a, T b) {      \
    if (b == 0)                                 \
      return a / b;                             \
    T mod = fmod##S(a, b), div = (a - mod) / b; \
    if (mod != 0 && ((b < 0) != (mod < 0)))     \
      div -= 1;                                 \
    if (div == 0)                               \
      return copysign##S(0, a / b);             \
    T fl = floor##S(div);                       \
    return div - fl > (T)0.5 ? fl + 1 : fl;     \
  }                                             \
  static inline T mod_##T(T a, T b) {           \
    if (b == 0)                                 \
      return fmod##S(a, b);                     \
    T mod = fmod##S(a, b);                      \
    if (mod != 0) {                             \
      if ((b < 0) != (mod < 0))                 \
        mod += b;                               \
    } else {                                    \
      mod = copysign##S(0, b);                  \
    }                                           \
    return mod;                                 \
  }

#define COMPARE_CASES(T)       \
  case TSR_OP_EQ:              \
    LOOP2(T, uint8_t, a == b); \
    break;                     \
  case TSR_OP_NE:              \
    LOOP2(T, uint8_t, a != b); \
    break;                     \
  case TSR_OP_LT:              \
    LOOP2(T, uint8_t, a < b);  \
    break;                     \
  case TSR_OP_LE:              \
    LOOP2(T, uint8_t, a <= b); \
    break;                     \
  case TSR_OP_GT:              \
    LOOP2(T, uint8_t, a > b);  \
    break;                     \
  case TSR_OP_GE:              \
    LOOP2(T, uint8_t, a >= b); \
    break;

#define FLOAT_BINARY(T, S)                                                                       \
  FLOAT_DIVMOD(T, S)                                                                             \
  MULTIVERSION static bool binary_##T(tsr_binary_op op, void *dst, const void *x, const void *y, \
                                      size_t n) {                                                \
    switch (op) {                                                                                \
    case TSR_OP_ADD:                                                                             \
      LOOP2(T, T, a + b);                                                                        \
      break;                                                                                     \
    case TSR_OP_SUB:                                                                             \
      LOOP2(T, T, a - b);                                                                        \
      break;                                                                                     \
    case TSR_OP_MUL:                                                                             \
      LOOP2(T, T, a *b);                                                                         \
      break;                                                                                     \
    case TSR_OP_DIV:                                                                             \
      LOOP2(T, T, a / b);                                                                        \
      break;                                                                                     \
    case TSR_OP_FLOORDIV:                                                                        \
      LOOP2(T, T, floordiv_##T(a, b));                                                           \
      break;                                                                                     \
    case TSR_OP_MOD:                                                                             \
      LOOP2(T, T, mod_##T(a, b));                                                                \
      break;                                                                                     \
    case TSR_OP_POW:                                                                             \
      LOOP2(T, T, pow##S(a, b));                                                                 \
      break;                                                                                     \
    case TSR_OP_MAXIMUM:                                                                         \
      LOOP2(T, T, (a >= b || a != a) ? a : b);                                                   \
      break;                                                                                     \
    case TSR_OP_MINIMUM:                                                                         \
      LOOP2(T, T, (a <= b || a != a) ? a : b);                                                   \
      break;                                                                                     \
    case TSR_OP_ARCTAN2:                                                                         \
      LOOP2(T, T, atan2##S(a, b));                                                               \
      break;                                                                                     \
    case TSR_OP_HYPOT:                                                                           \
      LOOP2(T, T, hypot##S(a, b));                                                               \
      break;                                                                                     \
      COMPARE_CASES(T)                                                                           \
    default:                                                                                     \
      return false;                                                                              \
    }                                                                                            \
    return true;                                                                                 \
  }

static inline uint64_t ipow(uint64_t base, uint64_t exp) {
  uint64_t r = 1;
  while (exp != 0) {
    if (exp & 1)
      r *= base;
    base *= base;
    exp >>= 1;
  }
  return r;
}

/* Signed integers: Python's floor division and modulo, 0 for a zero divisor
 * (NumPy's result, which also warns), wrap-around for MIN // -1. */
#define SIGNED_BINARY(T, BITS)                                                                     \
  static inline T floordiv_##T(T a, T b) {                                                         \
    if (b == 0)                                                                                    \
      return 0;                                                                                    \
    if (b == -1)                                                                                   \
      return (T)(0 - (uint64_t)a);                                                                 \
    T q = (T)(a / b);                                                                              \
    return (T)((a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q);                                  \
  }                                                                                                \
  static inline T mod_##T(T a, T b) {                                                              \
    if (b == 0 || b == -1)                                                                         \
      return 0;                                                                                    \
    T r = (T)(a % b);                                                                              \
    return (T)((r != 0 && ((r < 0) != (b < 0))) ? r + b : r);                                      \
  }                                                                                                \
  MULTIVERSION static bool binary_##T(tsr_binary_op op, void *dst, const void *x, const void *y,   \
                                      size_t n) {                                                  \
    switch (op) {                                                                                  \
    case TSR_OP_ADD:                                                                               \
      LOOP2(T, T, (uint64_t)a + (uint64_t)b);                                                      \
      break;                                                                                       \
    case TSR_OP_SUB:                                                                               \
      LOOP2(T, T, (uint64_t)a - (uint64_t)b);                                                      \
      break;                                                                                       \
    case TSR_OP_MUL:                                                                               \
      LOOP2(T, T, (uint64_t)a *(uint64_t)b);                                                       \
      break;                                                                                       \
    case TSR_OP_FLOORDIV:                                                                          \
      LOOP2(T, T, floordiv_##T(a, b));                                                             \
      break;                                                                                       \
    case TSR_OP_MOD:                                                                               \
      LOOP2(T, T, mod_##T(a, b));                                                                  \
      break;                                                                                       \
    case TSR_OP_POW: {                                                                             \
      const T *exps = y;                                                                           \
      for (size_t j = 0; j < n; j++)                                                               \
        if (exps[j] < 0) {                                                                         \
          tsr_error_set(TSR_EINVAL, "power: integers to negative integer powers are not allowed"); \
          return false;                                                                            \
        }                                                                                          \
      LOOP2(T, T, ipow((uint64_t)a, (uint64_t)b));                                                 \
      break;                                                                                       \
    }                                                                                              \
    case TSR_OP_MAXIMUM:                                                                           \
      LOOP2(T, T, a >= b ? a : b);                                                                 \
      break;                                                                                       \
    case TSR_OP_MINIMUM:                                                                           \
      LOOP2(T, T, a <= b ? a : b);                                                                 \
      break;                                                                                       \
    case TSR_OP_BITWISE_AND:                                                                       \
      LOOP2(T, T, a &b);                                                                           \
      break;                                                                                       \
    case TSR_OP_BITWISE_OR:                                                                        \
      LOOP2(T, T, a | b);                                                                          \
      break;                                                                                       \
    case TSR_OP_BITWISE_XOR:                                                                       \
      LOOP2(T, T, a ^ b);                                                                          \
      break;                                                                                       \
    case TSR_OP_LEFT_SHIFT:                                                                        \
      LOOP2(T, T, b < 0 || b >= BITS ? 0 : (uint64_t)a << b);                                      \
      break;                                                                                       \
    case TSR_OP_RIGHT_SHIFT:                                                                       \
      LOOP2(T, T, b < 0 || b >= BITS ? (a < 0 ? -1 : 0) : a >> b);                                 \
      break;                                                                                       \
      COMPARE_CASES(T)                                                                             \
    default:                                                                                       \
      return false;                                                                                \
    }                                                                                              \
    return true;                                                                                   \
  }

#define UNSIGNED_BINARY(T, BITS)                                                                 \
  MULTIVERSION static bool binary_##T(tsr_binary_op op, void *dst, const void *x, const void *y, \
                                      size_t n) {                                                \
    switch (op) {                                                                                \
    case TSR_OP_ADD:                                                                             \
      LOOP2(T, T, (uint64_t)a + (uint64_t)b);                                                    \
      break;                                                                                     \
    case TSR_OP_SUB:                                                                             \
      LOOP2(T, T, (uint64_t)a - (uint64_t)b);                                                    \
      break;                                                                                     \
    case TSR_OP_MUL:                                                                             \
      LOOP2(T, T, (uint64_t)a *(uint64_t)b);                                                     \
      break;                                                                                     \
    case TSR_OP_FLOORDIV:                                                                        \
      LOOP2(T, T, b == 0 ? 0 : a / b);                                                           \
      break;                                                                                     \
    case TSR_OP_MOD:                                                                             \
      LOOP2(T, T, b == 0 ? 0 : a % b);                                                           \
      break;                                                                                     \
    case TSR_OP_POW:                                                                             \
      LOOP2(T, T, ipow(a, b));                                                                   \
      break;                                                                                     \
    case TSR_OP_MAXIMUM:                                                                         \
      LOOP2(T, T, a >= b ? a : b);                                                               \
      break;                                                                                     \
    case TSR_OP_MINIMUM:                                                                         \
      LOOP2(T, T, a <= b ? a : b);                                                               \
      break;                                                                                     \
    case TSR_OP_BITWISE_AND:                                                                     \
      LOOP2(T, T, a &b);                                                                         \
      break;                                                                                     \
    case TSR_OP_BITWISE_OR:                                                                      \
      LOOP2(T, T, a | b);                                                                        \
      break;                                                                                     \
    case TSR_OP_BITWISE_XOR:                                                                     \
      LOOP2(T, T, a ^ b);                                                                        \
      break;                                                                                     \
    case TSR_OP_LEFT_SHIFT:                                                                      \
      LOOP2(T, T, b >= BITS ? 0 : (uint64_t)a << b);                                             \
      break;                                                                                     \
    case TSR_OP_RIGHT_SHIFT:                                                                     \
      LOOP2(T, T, b >= BITS ? 0 : a >> b);                                                       \
      break;                                                                                     \
      COMPARE_CASES(T)                                                                           \
    default:                                                                                     \
      return false;                                                                              \
    }                                                                                            \
    return true;                                                                                 \
  }

/* Booleans: + is or, * is and (NumPy); the rest goes through int8. */
static bool binary_bool8(tsr_binary_op op, void *dst, const void *x, const void *y, size_t n) {
  switch (op) {
  case TSR_OP_ADD:
  case TSR_OP_MAXIMUM:
  case TSR_OP_LOGICAL_OR:
  case TSR_OP_BITWISE_OR:
    LOOP2(bool8, bool8, a | b);
    break;
  case TSR_OP_MUL:
  case TSR_OP_MINIMUM:
  case TSR_OP_LOGICAL_AND:
  case TSR_OP_BITWISE_AND:
    LOOP2(bool8, bool8, a & b);
    break;
  case TSR_OP_LOGICAL_XOR:
  case TSR_OP_BITWISE_XOR:
    LOOP2(bool8, bool8, a ^ b);
    break;
    COMPARE_CASES(bool8)
  default:
    return false;
  }
  return true;
}

/* clang-format off */
FLOAT_BINARY(double, )
FLOAT_BINARY(float, f)
SIGNED_BINARY(int8_t, 8)
SIGNED_BINARY(int16_t, 16)
SIGNED_BINARY(int32_t, 32)
SIGNED_BINARY(int64_t, 64)
UNSIGNED_BINARY(uint8_t, 8)
UNSIGNED_BINARY(uint16_t, 16)
UNSIGNED_BINARY(uint32_t, 32)
UNSIGNED_BINARY(uint64_t, 64)
/* clang-format on */

bool tsr__binary_loop(tsr_binary_op op, tsr_dtype dtype, void *dst, const void *x, const void *y,
                      size_t n) {
  bool ok;
  switch (dtype) {
  case TSR_BOOL:
    ok = binary_bool8(op, dst, x, y, n);
    break;
  case TSR_INT8:
    ok = binary_int8_t(op, dst, x, y, n);
    break;
  case TSR_INT16:
    ok = binary_int16_t(op, dst, x, y, n);
    break;
  case TSR_INT32:
    ok = binary_int32_t(op, dst, x, y, n);
    break;
  case TSR_INT64:
    ok = binary_int64_t(op, dst, x, y, n);
    break;
  case TSR_UINT8:
    ok = binary_uint8_t(op, dst, x, y, n);
    break;
  case TSR_UINT16:
    ok = binary_uint16_t(op, dst, x, y, n);
    break;
  case TSR_UINT32:
    ok = binary_uint32_t(op, dst, x, y, n);
    break;
  case TSR_UINT64:
    ok = binary_uint64_t(op, dst, x, y, n);
    break;
  case TSR_FLOAT32:
    ok = binary_float(op, dst, x, y, n);
    break;
  case TSR_FLOAT64:
    ok = binary_double(op, dst, x, y, n);
    break;
  default:
    ok = false;
    break;
  }
  if (!ok && op != TSR_OP_POW) /* a power's failure has set its own message */
    tsr_error_set(TSR_EINTERNAL, "%s on %s has no loop", tsr_binary_op_name(op),
                  tsr_dtype_name(dtype));
  return ok;
}

/* ---- where ------------------------------------------------------------------ */

void tsr__where_loop(tsr_dtype dtype, void *dst, const uint8_t *cond, const void *x, const void *y,
                     size_t n) {
#define WHERE(T)                      \
  do {                                \
    const T *xs = x, *ys = y;         \
    T *r = dst;                       \
    for (size_t j = 0; j < n; j++)    \
      r[j] = cond[j] ? xs[j] : ys[j]; \
  } while (0)
  switch (tsr_dtype_size(dtype)) {
  case 1:
    WHERE(uint8_t);
    break;
  case 2:
    WHERE(uint16_t);
    break;
  case 4:
    WHERE(uint32_t);
    break;
  default:
    WHERE(uint64_t);
    break;
  }
#undef WHERE
}
