/* test_elementwise.c — elementwise operations (tsr_binary, tsr_binary_scalar,
 * tsr_scalar_binary, tsr_unary, tsr_where, tsr_clip, tsr_astype) against a
 * naive dense reference computed here element by element, with NumPy 2's
 * rules written out independently of the library: the promotion table,
 * weak (NEP 50) Python scalars, wrap-around integer arithmetic, Python's
 * floor division and modulo, integer division by zero giving 0, broadcasting.
 * Inputs have random shapes (0 to 4 axes, zero-size axes) and chunkings
 * (1-element, ragged, whole) and come from user buffers (borrowed and
 * copied: memory leaves read in place) and from task nodes (random, arange,
 * and a max over a unit axis: task leaves).  Also: errors that name the
 * problem, fusion of long chains and many leaves, and results that are
 * bitwise identical for the serial executor and 1, 2 and 8 threads. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

#include "array/fused.h"

/* ---- random numbers ------------------------------------------------------ */

static uint64_t rng_state = 0x5eed0e1e;
static uint64_t next_rand(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static int rand_int(int n) { return (int)(next_rand() % (uint64_t)n); }

static void configure(tsr_ctx *ctx, int config) {
  /* 0 serial, then OpenMP at 1, 2 and 4 threads. */
  static const int threads[] = {1, 1, 2, 4};
  assert_ok(tsr_ctx_set_executor(ctx, config == 0 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
  assert_ok(tsr_ctx_set_threads(ctx, threads[config]));
}

/* ---- a NumPy model of dtypes and values ------------------------------------ */

static bool is_float(tsr_dtype t) { return t == TSR_FLOAT32 || t == TSR_FLOAT64; }
static bool is_unsigned(tsr_dtype t) { return t >= TSR_UINT8 && t <= TSR_UINT64; }
static bool is_signed_int(tsr_dtype t) { return t >= TSR_INT8 && t <= TSR_INT64; }
static int bits_of(tsr_dtype t) {
  static const int bits[] = {8, 8, 16, 32, 64, 8, 16, 32, 64, 32, 64};
  return bits[t];
}

/* np.result_type for two array dtypes, written out. */
static tsr_dtype np_promote(tsr_dtype a, tsr_dtype b) {
  if (a == b)
    return a;
  if (a == TSR_BOOL)
    return b;
  if (b == TSR_BOOL)
    return a;
  if (is_float(a) || is_float(b)) {
    if (is_float(a) && is_float(b))
      return TSR_FLOAT64;
    tsr_dtype i = is_float(a) ? b : a, f = is_float(a) ? a : b;
    if (f == TSR_FLOAT64)
      return TSR_FLOAT64;
    return bits_of(i) <= 16 ? TSR_FLOAT32 : TSR_FLOAT64; /* float32 holds int16 exactly */
  }
  if (is_unsigned(a) == is_unsigned(b))
    return bits_of(a) >= bits_of(b) ? a : b;
  tsr_dtype s = is_unsigned(a) ? b : a, u = is_unsigned(a) ? a : b;
  if (bits_of(s) > bits_of(u))
    return s;
  switch (bits_of(u)) {
  case 8:
    return TSR_INT16;
  case 16:
    return TSR_INT32;
  case 32:
    return TSR_INT64;
  default:
    return TSR_FLOAT64;
  }
}

/* One value of some dtype: bool and signed integers in i, unsigned in u,
 * floats in f (a float32 value is held exactly as a double). */
typedef struct num {
  tsr_dtype t;
  int64_t i;
  uint64_t u;
  double f;
} num;

static num num_read(const void *buf, tsr_dtype t, int64_t k) {
  num x = {t, 0, 0, 0};
  switch (t) {
  case TSR_BOOL:
    x.i = ((const uint8_t *)buf)[k] != 0;
    break;
  case TSR_INT8:
    x.i = ((const int8_t *)buf)[k];
    break;
  case TSR_INT16:
    x.i = ((const int16_t *)buf)[k];
    break;
  case TSR_INT32:
    x.i = ((const int32_t *)buf)[k];
    break;
  case TSR_INT64:
    x.i = ((const int64_t *)buf)[k];
    break;
  case TSR_UINT8:
    x.u = ((const uint8_t *)buf)[k];
    break;
  case TSR_UINT16:
    x.u = ((const uint16_t *)buf)[k];
    break;
  case TSR_UINT32:
    x.u = ((const uint32_t *)buf)[k];
    break;
  case TSR_UINT64:
    x.u = ((const uint64_t *)buf)[k];
    break;
  case TSR_FLOAT32:
    x.f = ((const float *)buf)[k];
    break;
  default:
    x.f = ((const double *)buf)[k];
    break;
  }
  return x;
}

static void num_write(void *buf, int64_t k, num x) {
  switch (x.t) {
  case TSR_BOOL:
    ((uint8_t *)buf)[k] = (uint8_t)(x.i != 0);
    break;
  case TSR_INT8:
    ((int8_t *)buf)[k] = (int8_t)x.i;
    break;
  case TSR_INT16:
    ((int16_t *)buf)[k] = (int16_t)x.i;
    break;
  case TSR_INT32:
    ((int32_t *)buf)[k] = (int32_t)x.i;
    break;
  case TSR_INT64:
    ((int64_t *)buf)[k] = x.i;
    break;
  case TSR_UINT8:
    ((uint8_t *)buf)[k] = (uint8_t)x.u;
    break;
  case TSR_UINT16:
    ((uint16_t *)buf)[k] = (uint16_t)x.u;
    break;
  case TSR_UINT32:
    ((uint32_t *)buf)[k] = (uint32_t)x.u;
    break;
  case TSR_UINT64:
    ((uint64_t *)buf)[k] = x.u;
    break;
  case TSR_FLOAT32:
    ((float *)buf)[k] = (float)x.f;
    break;
  default:
    ((double *)buf)[k] = x.f;
    break;
  }
}

/* Two's complement wrap of v to `bits` bits. */
static int64_t wrap_signed(uint64_t v, int bits) {
  if (bits == 64)
    return (int64_t)v;
  uint64_t mask = (1ull << bits) - 1, x = v & mask;
  if (x >> (bits - 1))
    x |= ~mask;
  return (int64_t)x;
}
static uint64_t wrap_unsigned(uint64_t v, int bits) {
  return bits == 64 ? v : v & ((1ull << bits) - 1);
}

static num num_make(tsr_dtype t, int64_t i, uint64_t u, double f) {
  num x = {t, 0, 0, 0};
  if (t == TSR_BOOL)
    x.i = i != 0;
  else if (is_signed_int(t))
    x.i = wrap_signed((uint64_t)i, bits_of(t));
  else if (is_unsigned(t))
    x.u = wrap_unsigned(u, bits_of(t));
  else if (t == TSR_FLOAT32)
    x.f = (float)f;
  else
    x.f = f;
  return x;
}

/* C-cast conversion (NumPy's astype) for values in range of the target. */
static num num_convert(num x, tsr_dtype to) {
  num r = {to, 0, 0, 0};
  if (to == TSR_BOOL) {
    r.i = is_float(x.t) ? x.f != 0 : is_unsigned(x.t) ? x.u != 0 : x.i != 0;
  } else if (is_signed_int(to)) {
    int64_t v = is_float(x.t) ? (int64_t)trunc(x.f) : is_unsigned(x.t) ? (int64_t)x.u : x.i;
    r.i = wrap_signed((uint64_t)v, bits_of(to));
  } else if (is_unsigned(to)) {
    uint64_t v = is_float(x.t)      ? (x.f >= 9223372036854775808.0 ? (uint64_t)x.f
                                                                    : (uint64_t)(int64_t)trunc(x.f))
                 : is_unsigned(x.t) ? x.u
                                    : (uint64_t)x.i;
    r.u = wrap_unsigned(v, bits_of(to));
  } else if (to == TSR_FLOAT32) {
    r.f = is_float(x.t) ? (float)x.f : is_unsigned(x.t) ? (float)x.u : (float)x.i;
  } else {
    r.f = is_float(x.t) ? x.f : is_unsigned(x.t) ? (double)x.u : (double)x.i;
  }
  return r;
}

static bool num_truth(num x) {
  return is_float(x.t) ? x.f != 0 : is_unsigned(x.t) ? x.u != 0 : x.i != 0;
}

/* ---- the reference semantics of every binary op ---------------------------- */

/* Python's float floor division and modulo (CPython's float_divmod). */
static double py_fmod(double a, double b) {
  if (b == 0)
    return NAN;
  double m = fmod(a, b);
  if (m != 0) {
    if ((b < 0) != (m < 0))
      m += b;
  } else {
    m = copysign(0.0, b);
  }
  return m;
}
static double py_floordiv(double a, double b) {
  if (b == 0)
    return a / b; /* inf, -inf or nan, as NumPy */
  double m = fmod(a, b), div = (a - m) / b;
  if (m != 0 && ((b < 0) != (m < 0)))
    div -= 1.0;
  if (div == 0)
    return copysign(0.0, a / b);
  double fl = floor(div);
  if (div - fl > 0.5)
    fl += 1.0;
  return fl;
}
static float py_fmodf(float a, float b) {
  if (b == 0)
    return NAN;
  float m = fmodf(a, b);
  if (m != 0) {
    if ((b < 0) != (m < 0))
      m += b;
  } else {
    m = copysignf(0.0f, b);
  }
  return m;
}
static float py_floordivf(float a, float b) {
  if (b == 0)
    return a / b;
  float m = fmodf(a, b), div = (a - m) / b;
  if (m != 0 && ((b < 0) != (m < 0)))
    div -= 1.0f;
  if (div == 0)
    return copysignf(0.0f, a / b);
  float fl = floorf(div);
  if (div - fl > 0.5f)
    fl += 1.0f;
  return fl;
}

/* Python's integer // and % on mathematical integers (no overflow here:
 * callers pass values of at most 64 bits and handle MIN // -1). */
static int64_t py_idiv(int64_t a, int64_t b) {
  if (b == 0)
    return 0;
  if (b == -1)
    return (int64_t)(0 - (uint64_t)a); /* MIN // -1 wraps to MIN */
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0)))
    q -= 1;
  return q;
}
static int64_t py_imod(int64_t a, int64_t b) {
  if (b == 0 || b == -1)
    return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0)))
    r += b;
  return r;
}

typedef enum { R_OK, R_NEG_POW } ref_status;

static bool is_cmp(tsr_binary_op op) { return op >= TSR_OP_EQ && op <= TSR_OP_GE; }

/* The dtype NumPy computes a binary op in (ct) and its result dtype (rt);
 * false if the op is a dtype error (EDTYPE). */
static bool binary_dtypes(tsr_binary_op op, tsr_dtype a, tsr_dtype b, tsr_dtype *ct,
                          tsr_dtype *rt) {
  tsr_dtype c = np_promote(a, b);
  *ct = *rt = c;
  if (is_cmp(op)) {
    *rt = TSR_BOOL;
    return true;
  }
  switch (op) {
  case TSR_OP_LOGICAL_AND:
  case TSR_OP_LOGICAL_OR:
  case TSR_OP_LOGICAL_XOR:
    *ct = *rt = TSR_BOOL;
    return true;
  case TSR_OP_SUB:
    return c != TSR_BOOL;
  case TSR_OP_DIV:
    if (!is_float(c))
      *ct = *rt = TSR_FLOAT64;
    return true;
  case TSR_OP_ARCTAN2:
  case TSR_OP_HYPOT:
    /* NumPy would use float16 for 8-bit inputs; tessera has no float16. */
    if (!is_float(c))
      *ct = *rt = bits_of(c) <= 16 ? TSR_FLOAT32 : TSR_FLOAT64;
    return true;
  case TSR_OP_FLOORDIV:
  case TSR_OP_MOD:
  case TSR_OP_POW:
    if (c == TSR_BOOL)
      *ct = *rt = TSR_INT8;
    return true;
  case TSR_OP_LEFT_SHIFT:
  case TSR_OP_RIGHT_SHIFT:
    if (c == TSR_BOOL)
      *ct = *rt = TSR_INT8;
    return !is_float(c);
  case TSR_OP_BITWISE_AND:
  case TSR_OP_BITWISE_OR:
  case TSR_OP_BITWISE_XOR:
    return !is_float(c);
  default:
    return true;
  }
}

/* x op y with x, y already of the computation dtype ct; result of dtype rt. */
static ref_status ref_binary(tsr_binary_op op, num x, num y, tsr_dtype rt, num *out) {
  tsr_dtype ct = x.t;
  int bits = bits_of(ct);
  if (is_cmp(op)) {
    int c; /* -1, 0, 1, or 2 for unordered */
    if (is_float(ct))
      c = x.f != x.f || y.f != y.f ? 2 : x.f < y.f ? -1 : x.f > y.f;
    else if (is_unsigned(ct))
      c = x.u < y.u ? -1 : x.u > y.u;
    else
      c = x.i < y.i ? -1 : x.i > y.i;
    bool r = false;
    switch (op) {
    case TSR_OP_EQ:
      r = c == 0;
      break;
    case TSR_OP_NE:
      r = c != 0;
      break;
    case TSR_OP_LT:
      r = c == -1;
      break;
    case TSR_OP_LE:
      r = c == -1 || c == 0;
      break;
    case TSR_OP_GT:
      r = c == 1;
      break;
    default:
      r = c == 1 || c == 0;
      break;
    }
    *out = num_make(TSR_BOOL, r, 0, 0);
    return R_OK;
  }
  if (ct == TSR_BOOL) {
    bool a = x.i != 0, b = y.i != 0, r;
    switch (op) {
    case TSR_OP_ADD:
    case TSR_OP_MAXIMUM:
    case TSR_OP_LOGICAL_OR:
    case TSR_OP_BITWISE_OR:
      r = a || b;
      break;
    case TSR_OP_MUL:
    case TSR_OP_MINIMUM:
    case TSR_OP_LOGICAL_AND:
    case TSR_OP_BITWISE_AND:
      r = a && b;
      break;
    default: /* xor */
      r = a != b;
      break;
    }
    *out = num_make(TSR_BOOL, r, 0, 0);
    return R_OK;
  }
  if (ct == TSR_FLOAT64) {
    double a = x.f, b = y.f, r = 0;
    switch (op) {
    case TSR_OP_ADD:
      r = a + b;
      break;
    case TSR_OP_SUB:
      r = a - b;
      break;
    case TSR_OP_MUL:
      r = a * b;
      break;
    case TSR_OP_DIV:
      r = a / b;
      break;
    case TSR_OP_FLOORDIV:
      r = py_floordiv(a, b);
      break;
    case TSR_OP_MOD:
      r = py_fmod(a, b);
      break;
    case TSR_OP_POW:
      r = pow(a, b);
      break;
    case TSR_OP_MAXIMUM:
      r = a != a || b != b ? NAN : a > b ? a : b;
      break;
    case TSR_OP_MINIMUM:
      r = a != a || b != b ? NAN : a < b ? a : b;
      break;
    case TSR_OP_ARCTAN2:
      r = atan2(a, b);
      break;
    case TSR_OP_HYPOT:
      r = hypot(a, b);
      break;
    default:
      fail_msg("no float64 reference for %s", tsr_binary_op_name(op));
    }
    *out = num_make(rt, 0, 0, r);
    return R_OK;
  }
  if (ct == TSR_FLOAT32) {
    float a = (float)x.f, b = (float)y.f, r = 0;
    switch (op) {
    case TSR_OP_ADD:
      r = a + b;
      break;
    case TSR_OP_SUB:
      r = a - b;
      break;
    case TSR_OP_MUL:
      r = a * b;
      break;
    case TSR_OP_DIV:
      r = a / b;
      break;
    case TSR_OP_FLOORDIV:
      r = py_floordivf(a, b);
      break;
    case TSR_OP_MOD:
      r = py_fmodf(a, b);
      break;
    case TSR_OP_POW:
      r = powf(a, b);
      break;
    case TSR_OP_MAXIMUM:
      r = a != a || b != b ? NAN : a > b ? a : b;
      break;
    case TSR_OP_MINIMUM:
      r = a != a || b != b ? NAN : a < b ? a : b;
      break;
    case TSR_OP_ARCTAN2:
      r = atan2f(a, b);
      break;
    case TSR_OP_HYPOT:
      r = hypotf(a, b);
      break;
    default:
      fail_msg("no float32 reference for %s", tsr_binary_op_name(op));
    }
    *out = num_make(rt, 0, 0, r);
    return R_OK;
  }
  if (is_signed_int(ct)) {
    int64_t a = x.i, b = y.i;
    uint64_t r = 0;
    switch (op) {
    case TSR_OP_ADD:
      r = (uint64_t)a + (uint64_t)b;
      break;
    case TSR_OP_SUB:
      r = (uint64_t)a - (uint64_t)b;
      break;
    case TSR_OP_MUL:
      r = (uint64_t)a * (uint64_t)b;
      break;
    case TSR_OP_FLOORDIV:
      r = (uint64_t)py_idiv(a, b);
      break;
    case TSR_OP_MOD:
      r = (uint64_t)py_imod(a, b);
      break;
    case TSR_OP_POW:
      if (b < 0)
        return R_NEG_POW;
      r = 1;
      for (int64_t k = 0; k < b && k < 200; k++) /* the base's powers cycle long before */
        r *= (uint64_t)a;
      if (b >= 200) { /* exact: square and multiply */
        uint64_t base = (uint64_t)a, e = (uint64_t)b;
        r = 1;
        while (e) {
          if (e & 1)
            r *= base;
          base *= base;
          e >>= 1;
        }
      }
      break;
    case TSR_OP_MAXIMUM:
      r = (uint64_t)(a > b ? a : b);
      break;
    case TSR_OP_MINIMUM:
      r = (uint64_t)(a < b ? a : b);
      break;
    case TSR_OP_BITWISE_AND:
      r = (uint64_t)a & (uint64_t)b;
      break;
    case TSR_OP_BITWISE_OR:
      r = (uint64_t)a | (uint64_t)b;
      break;
    case TSR_OP_BITWISE_XOR:
      r = (uint64_t)a ^ (uint64_t)b;
      break;
    case TSR_OP_LEFT_SHIFT: /* NumPy: shifting by the width or more gives 0 */
      r = b < 0 || b >= bits ? 0 : (uint64_t)a << b;
      break;
    case TSR_OP_RIGHT_SHIFT: /* ... and the sign for >> */
      r = (uint64_t)(b < 0 || b >= bits ? (a < 0 ? -1 : 0) : a >> b);
      break;
    default:
      fail_msg("no signed reference for %s", tsr_binary_op_name(op));
    }
    *out = num_make(rt, (int64_t)r, 0, 0);
    return R_OK;
  }
  uint64_t a = x.u, b = y.u, r = 0;
  switch (op) {
  case TSR_OP_ADD:
    r = a + b;
    break;
  case TSR_OP_SUB:
    r = a - b;
    break;
  case TSR_OP_MUL:
    r = a * b;
    break;
  case TSR_OP_FLOORDIV:
    r = b == 0 ? 0 : a / b;
    break;
  case TSR_OP_MOD:
    r = b == 0 ? 0 : a % b;
    break;
  case TSR_OP_POW: {
    uint64_t base = a, e = b;
    r = 1;
    while (e) {
      if (e & 1)
        r *= base;
      base *= base;
      e >>= 1;
    }
    break;
  }
  case TSR_OP_MAXIMUM:
    r = a > b ? a : b;
    break;
  case TSR_OP_MINIMUM:
    r = a < b ? a : b;
    break;
  case TSR_OP_BITWISE_AND:
    r = a & b;
    break;
  case TSR_OP_BITWISE_OR:
    r = a | b;
    break;
  case TSR_OP_BITWISE_XOR:
    r = a ^ b;
    break;
  case TSR_OP_LEFT_SHIFT:
    r = b >= (uint64_t)bits ? 0 : a << b;
    break;
  case TSR_OP_RIGHT_SHIFT:
    r = b >= (uint64_t)bits ? 0 : a >> b;
    break;
  default:
    fail_msg("no unsigned reference for %s", tsr_binary_op_name(op));
  }
  *out = num_make(rt, 0, r, 0);
  return R_OK;
}

/* ---- comparing results -------------------------------------------------------- */

/* Distance in units in the last place (0 for equal values, both NaN, or
 * equal infinities; huge for NaN against a number). */
static uint64_t ulp_distance(double a, double b, bool single) {
  if (a != a || b != b)
    return a != a && b != b ? 0 : UINT64_MAX;
  if (a == b)
    return 0;
  if (single) {
    float fa = (float)a, fb = (float)b;
    int32_t ia, ib;
    memcpy(&ia, &fa, 4);
    memcpy(&ib, &fb, 4);
    int64_t oa = ia < 0 ? (int64_t)INT32_MIN - ia : ia, ob = ib < 0 ? (int64_t)INT32_MIN - ib : ib;
    return (uint64_t)llabs(oa - ob);
  }
  int64_t ia, ib;
  memcpy(&ia, &a, 8);
  memcpy(&ib, &b, 8);
  /* Map to a monotonic integer line (two's complement of sign-magnitude). */
  uint64_t ua = ia < 0 ? (uint64_t)0 - (uint64_t)(ia & INT64_MAX) : (uint64_t)ia;
  uint64_t ub = ib < 0 ? (uint64_t)0 - (uint64_t)(ib & INT64_MAX) : (uint64_t)ib;
  int64_t d = (int64_t)(ua - ub);
  return d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
}

/* got equals want: exactly (bits of a zero's sign too when check_zero_sign),
 * or within max_ulp for floats. */
static bool num_equal(num got, num want, uint64_t max_ulp, bool check_zero_sign) {
  if (got.t != want.t)
    return false;
  if (is_float(got.t)) {
    if (check_zero_sign && got.f == 0 && want.f == 0 && signbit(got.f) != signbit(want.f))
      return false;
    return ulp_distance(got.f, want.f, got.t == TSR_FLOAT32) <= max_ulp;
  }
  return is_unsigned(got.t) ? got.u == want.u : got.i == want.i;
}

static void print_num(const char *label, num x) {
  if (is_float(x.t))
    print_error("%s = %.17g (%s)\n", label, x.f, tsr_dtype_name(x.t));
  else if (is_unsigned(x.t))
    print_error("%s = %llu (%s)\n", label, (unsigned long long)x.u, tsr_dtype_name(x.t));
  else
    print_error("%s = %lld (%s)\n", label, (long long)x.i, tsr_dtype_name(x.t));
}

/* ---- layouts and inputs ---------------------------------------------------------- */

typedef struct layout {
  int ndim;
  int64_t shape[4];
  int64_t chunks[4];
} layout;

static int64_t shape_size(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  return n;
}

static int64_t random_chunk(int64_t extent) {
  switch (rand_int(4)) {
  case 0:
    return 1;
  case 1:
    return -1; /* the whole axis: one chunk */
  default:
    return 1 + rand_int(extent > 1 ? (int)extent : 1); /* often ragged */
  }
}

/* A shape of 0..4 axes with extents 0..6 (zero-size now and then). */
static layout random_layout(void) {
  layout l = {0};
  l.ndim = rand_int(5);
  for (int d = 0; d < l.ndim; d++) {
    l.shape[d] = rand_int(12) == 0 ? 0 : 1 + rand_int(6);
    l.chunks[d] = random_chunk(l.shape[d]);
  }
  return l;
}

/* An operand shape that broadcasts to `out`: leading axes dropped, some
 * axes set to 1. */
static layout broadcast_operand(const layout *out) {
  layout l = {0};
  int drop = out->ndim > 0 ? rand_int(out->ndim + 1) : 0;
  if (rand_int(2))
    drop = 0;
  l.ndim = out->ndim - drop;
  for (int d = 0; d < l.ndim; d++) {
    l.shape[d] = out->shape[d + drop];
    if (rand_int(4) == 0)
      l.shape[d] = 1;
    l.chunks[d] = random_chunk(l.shape[d]);
  }
  return l;
}

/* A random value of dtype t, with extremes, zeros and (floats) specials. */
static num random_value(tsr_dtype t) {
  int r = rand_int(16);
  switch (t) {
  case TSR_BOOL:
    return num_make(t, rand_int(2), 0, 0);
  case TSR_FLOAT32:
  case TSR_FLOAT64: {
    static const double specials[] = {0.0, -0.0, INFINITY, -INFINITY, NAN, 1.0, -1.0, 0.5};
    if (r == 0)
      return num_make(t, 0, 0, specials[rand_int(8)]);
    if (r < 4)
      return num_make(t, 0, 0, (double)(rand_int(33) - 16) * 0.25);
    return num_make(t, 0, 0,
                    ((double)(int64_t)(next_rand() >> 11) / 9007199254740992.0 - 0.5) * 20);
  }
  default: {
    int bits = bits_of(t);
    uint64_t v;
    if (r < 3) {          /* an extreme */
      if (is_unsigned(t)) /* 0, MAX or MAX - 1 */
        v = r == 0 ? 0 : wrap_unsigned(UINT64_MAX - (uint64_t)rand_int(2), bits);
      else /* MIN, MAX or MAX - 1 */
        v = r == 0 ? (uint64_t)1 << (bits - 1)
                   : ((uint64_t)1 << (bits - 1)) - 1 - (uint64_t)rand_int(2);
    } else if (r < 10) {
      v = (uint64_t)(int64_t)(rand_int(21) - 10); /* small, often negative */
    } else {
      v = next_rand();
    }
    return is_unsigned(t) ? num_make(t, 0, v, 0) : num_make(t, (int64_t)v, 0, 0);
  }
  }
}

typedef enum leaf_kind {
  LEAF_BORROW = 0, /* user buffer, read in place */
  LEAF_COPY,       /* copied user buffer, also read in place */
  LEAF_TASK,       /* max over a unit axis: a task node with these values */
  LEAF_RANDOM,     /* tsr_array_random (float64 only) */
  NUM_LEAF_KINDS
} leaf_kind;

/* An operand: the array and its values (dense, C order). */
typedef struct operand {
  tsr_array *array;
  layout l;
  tsr_dtype dtype;
  void *values; /* what the array holds */
  void *borrowed;
} operand;

static const int64_t dummy_shape[1] = {1};

static void operand_free(operand *o) {
  tsr_array_destroy(&o->array);
  free(o->values);
  free(o->borrowed);
  o->values = o->borrowed = NULL;
}

/* Makes operand o of layout l and dtype t, with values from gen (or random_value). */
static void operand_make(tsr_ctx *ctx, operand *o, const layout *l, tsr_dtype t, leaf_kind kind,
                         num (*gen)(tsr_dtype)) {
  memset(o, 0, sizeof *o);
  o->l = *l;
  o->dtype = t;
  int64_t n = shape_size(l->ndim, l->shape);
  size_t item = tsr_dtype_size(t), bytes = (size_t)n * item;
  o->values = malloc(bytes + 8);
  const int64_t *shape = l->ndim ? l->shape : dummy_shape, *chunks = l->ndim ? l->chunks : NULL;
  if (kind == LEAF_RANDOM && t == TSR_FLOAT64) {
    uint64_t seed = next_rand() % 1000;
    for (int64_t i = 0; i < n; i++)
      ((double *)o->values)[i] = tsr_random_uniform(seed, (uint64_t)i) * 8 - 4;
    tsr_array *r = NULL, *r2 = NULL;
    assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, seed, l->ndim, shape, chunks, &r));
    assert_ok(tsr_binary_scalar(TSR_OP_MUL, r, 8, &r2));
    assert_ok(tsr_binary_scalar(TSR_OP_SUB, r2, 4, &o->array));
    tsr_array_destroy(&r);
    tsr_array_destroy(&r2);
    return;
  }
  for (int64_t i = 0; i < n; i++)
    num_write(o->values, i, (gen ? gen : random_value)(t));
  if (kind == LEAF_TASK) {
    /* max over a trailing axis of extent 1 is the identity, computed by
     * tasks: the result is a task leaf with these values. */
    int64_t shape1[5], chunks1[5];
    memcpy(shape1, l->shape, sizeof l->shape);
    memcpy(chunks1, l->chunks, sizeof l->chunks);
    shape1[l->ndim] = 1;
    chunks1[l->ndim] = 1;
    tsr_array *src = NULL;
    assert_ok(tsr_array_from_buffer(ctx, t, l->ndim + 1, shape1, chunks1, o->values,
                                    TSR_BUFFER_COPY, NULL, NULL, &src));
    int axis = -1;
    assert_ok(tsr_reduce(TSR_REDUCE_MAX, src, &axis, 1, NULL, &o->array));
    tsr_array_destroy(&src);
    return;
  }
  void *data = o->values;
  if (kind == LEAF_BORROW) {
    o->borrowed = malloc(bytes + 8);
    memcpy(o->borrowed, o->values, bytes);
    data = o->borrowed;
  }
  assert_ok(tsr_array_from_buffer(ctx, t, l->ndim, shape, chunks, data,
                                  kind == LEAF_BORROW ? TSR_BUFFER_BORROW : TSR_BUFFER_COPY, NULL,
                                  NULL, &o->array));
}

/* Flat index into an operand of layout `in` for the element at out-index
 * `flat` of the broadcast shape `out` (right-aligned; extent 1 repeats). */
static int64_t broadcast_index(const layout *out, const layout *in, int64_t flat) {
  int64_t idx[4];
  for (int d = out->ndim - 1; d >= 0; d--) {
    idx[d] = out->shape[d] ? flat % out->shape[d] : 0;
    flat = out->shape[d] ? flat / out->shape[d] : 0;
  }
  int64_t k = 0;
  for (int j = 0; j < in->ndim; j++) {
    int d = j + out->ndim - in->ndim;
    k = k * in->shape[j] + (in->shape[j] == 1 ? 0 : idx[d]);
  }
  return k;
}

static void *compute(tsr_array *a) {
  size_t bytes = (size_t)tsr_array_nbytes(a);
  void *buf = malloc(bytes + 8);
  assert_ok(tsr_array_to_buffer(a, buf, bytes));
  return buf;
}

static void expect_shape(const tsr_array *a, const layout *l) {
  assert_int_equal(tsr_array_ndim(a), l->ndim);
  for (int d = 0; d < l->ndim; d++)
    assert_int_equal(tsr_array_shape(a)[d], l->shape[d]);
}

static const tsr_dtype all_dtypes[] = {TSR_BOOL,   TSR_INT8,    TSR_INT16,  TSR_INT32,
                                       TSR_INT64,  TSR_UINT8,   TSR_UINT16, TSR_UINT32,
                                       TSR_UINT64, TSR_FLOAT32, TSR_FLOAT64};
#define N_DTYPES 11

/* Ops whose results are exact in IEEE arithmetic (or integer). */
static uint64_t binary_tolerance(tsr_binary_op op, tsr_dtype ct) {
  if (!is_float(ct))
    return 0;
  if (op == TSR_OP_POW || op == TSR_OP_ARCTAN2 || op == TSR_OP_HYPOT)
    return 4; /* libm (possibly vector libm): a few ulp */
  return 0;
}

/* Exponents for integer power: small and non-negative (a negative one
 * fails the whole computation, tested separately). */
static num small_exponent(tsr_dtype t) {
  if (t == TSR_BOOL)
    return num_make(t, rand_int(2), 0, 0);
  if (is_float(t))
    return num_make(t, 0, 0, (double)(rand_int(13) - 4) * 0.5);
  return is_unsigned(t) ? num_make(t, 0, (uint64_t)rand_int(10), 0)
                        : num_make(t, rand_int(10), 0, 0);
}

/* Any value of dtype t (for operands with no constraint). */
static num any_value(tsr_dtype t) { return random_value(t); }

/* Runs one binary trial: op on random operands of dtypes ta, tb. */
static void binary_trial(tsr_ctx *ctx, tsr_binary_op op, tsr_dtype ta, tsr_dtype tb) {
  layout out = random_layout();
  layout la = broadcast_operand(&out), lb = broadcast_operand(&out);
  /* The result's shape is the broadcast of la and lb (which may be smaller
   * than `out` where both are 1 or both dropped axes). */
  layout res = {0};
  res.ndim = la.ndim > lb.ndim ? la.ndim : lb.ndim;
  for (int d = 0; d < res.ndim; d++) {
    int da = d - (res.ndim - la.ndim), db = d - (res.ndim - lb.ndim);
    int64_t x = da >= 0 ? la.shape[da] : 1, y = db >= 0 ? lb.shape[db] : 1;
    res.shape[d] = x == 1 ? y : x;
  }
  /* Task leaves of both operands share chunks where neither broadcasts, so
   * that no rechunking is needed (different chunks are tested apart). */
  for (int d = 0; d < lb.ndim; d++) {
    int da = d - (lb.ndim - la.ndim);
    if (da >= 0 && la.shape[da] == lb.shape[d])
      lb.chunks[d] = la.chunks[da];
  }
  leaf_kind ka = (leaf_kind)rand_int(NUM_LEAF_KINDS), kb = (leaf_kind)rand_int(NUM_LEAF_KINDS);
  operand a, b;
  operand_make(ctx, &a, &la, ta, ka, any_value);
  operand_make(ctx, &b, &lb, tb, kb, op == TSR_OP_POW ? small_exponent : any_value);
  tsr_dtype ct, rt;
  bool ok = binary_dtypes(op, a.dtype, b.dtype, &ct, &rt);
  tsr_array *r = NULL;
  tsr_status s = tsr_binary(op, a.array, b.array, &r);
  if (!ok) {
    if (s != TSR_EDTYPE)
      print_error("%s(%s, %s) should be TSR_EDTYPE\n", tsr_binary_op_name(op),
                  tsr_dtype_name(a.dtype), tsr_dtype_name(b.dtype));
    assert_int_equal(s, TSR_EDTYPE);
    assert_null(r);
    operand_free(&a);
    operand_free(&b);
    return;
  }
  assert_ok(s);
  if (tsr_array_dtype(r) != rt)
    print_error("%s(%s, %s): dtype %s, want %s\n", tsr_binary_op_name(op), tsr_dtype_name(a.dtype),
                tsr_dtype_name(b.dtype), tsr_dtype_name(tsr_array_dtype(r)), tsr_dtype_name(rt));
  assert_int_equal(tsr_array_dtype(r), rt);
  expect_shape(r, &res);
  int64_t n = shape_size(res.ndim, res.shape);
  void *got = compute(r);
  for (int64_t i = 0; i < n; i++) {
    num x = num_convert(num_read(a.values, a.dtype, broadcast_index(&res, &a.l, i)), ct);
    num y = num_convert(num_read(b.values, b.dtype, broadcast_index(&res, &b.l, i)), ct);
    num want;
    assert_int_equal(ref_binary(op, x, y, rt, &want), R_OK);
    num g = num_read(got, rt, i);
    bool zero_sign = op == TSR_OP_FLOORDIV || op == TSR_OP_MOD || op == TSR_OP_MUL;
    if (!num_equal(g, want, binary_tolerance(op, ct), zero_sign)) {
      print_error("%s(%s, %s) element %lld:\n", tsr_binary_op_name(op), tsr_dtype_name(a.dtype),
                  tsr_dtype_name(b.dtype), (long long)i);
      print_num("  x", x);
      print_num("  y", y);
      print_num("  got", g);
      print_num("  want", want);
      fail();
    }
  }
  free(got);
  tsr_array_destroy(&r);
  operand_free(&a);
  operand_free(&b);
}

/* ---- binary ops --------------------------------------------------------------- */

/* add, mul, floordiv, mod and comparisons for every pair of dtypes. */
static void test_elementwise__core_ops_every_dtype_pair(void **state) {
  tsr_ctx *ctx = *state;
  static const tsr_binary_op ops[] = {TSR_OP_ADD, TSR_OP_MUL, TSR_OP_FLOORDIV, TSR_OP_MOD,
                                      TSR_OP_EQ,  TSR_OP_NE,  TSR_OP_LT,       TSR_OP_LE,
                                      TSR_OP_GT,  TSR_OP_GE};
  int trial = 0;
  for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++)
    for (int i = 0; i < N_DTYPES; i++)
      for (int j = 0; j < N_DTYPES; j++) {
        configure(ctx, trial++ % 4);
        binary_trial(ctx, ops[o], all_dtypes[i], all_dtypes[j]);
      }
}

/* Every binary op on a representative set of dtype pairs. */
static void test_elementwise__every_op_representative_dtypes(void **state) {
  tsr_ctx *ctx = *state;
  static const tsr_dtype pairs[][2] = {
      {TSR_INT8, TSR_INT8},       {TSR_UINT8, TSR_UINT8},   {TSR_INT8, TSR_UINT8},
      {TSR_INT16, TSR_INT64},     {TSR_INT32, TSR_INT32},   {TSR_INT64, TSR_INT64},
      {TSR_UINT32, TSR_UINT64},   {TSR_UINT64, TSR_INT64},  {TSR_FLOAT32, TSR_FLOAT32},
      {TSR_FLOAT64, TSR_FLOAT64}, {TSR_INT16, TSR_FLOAT32}, {TSR_INT32, TSR_FLOAT32},
      {TSR_BOOL, TSR_BOOL},       {TSR_BOOL, TSR_INT8},     {TSR_FLOAT32, TSR_FLOAT64},
      {TSR_UINT16, TSR_INT16},
  };
  int trial = 0;
  for (int op = 0; op < TSR_NUM_BINARY_OPS; op++)
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++)
      for (int rep = 0; rep < 2; rep++) {
        configure(ctx, trial++ % 4);
        binary_trial(ctx, (tsr_binary_op)op, pairs[p][0], pairs[p][1]);
      }
}

/* Builds a 1-D array of n values of dtype t from a double list. */
static tsr_array *vec(tsr_ctx *ctx, tsr_dtype t, int64_t n, const double *v, int64_t chunk) {
  void *buf = malloc((size_t)n * 8 + 8);
  for (int64_t i = 0; i < n; i++) {
    num x;
    if (is_float(t))
      x = num_make(t, 0, 0, v[i]);
    else if (is_unsigned(t))
      x = num_make(t, 0, (uint64_t)v[i], 0);
    else
      x = num_make(t, (int64_t)v[i], 0, 0);
    num_write(buf, i, x);
  }
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_buffer(ctx, t, 1, &n, &chunk, buf, TSR_BUFFER_COPY, NULL, NULL, &a));
  free(buf);
  return a;
}

static tsr_array *binop(tsr_binary_op op, tsr_array *a, tsr_array *b) {
  tsr_array *r = NULL;
  assert_ok(tsr_binary(op, a, b, &r));
  return r;
}

/* Specific values NumPy documents: wrap-around, MIN // -1, division by
 * zero, signs of // and % with negative operands. */
static void test_elementwise__integer_and_float_edge_values(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 2);
  /* int8 wraps: 127 + 1 = -128, -128 - 1 = 127, 100 * 3 = 44. */
  tsr_array *a = vec(ctx, TSR_INT8, 3, (double[]){127, -128, 100}, 2);
  tsr_array *b = vec(ctx, TSR_INT8, 3, (double[]){1, 1, 3}, 1);
  tsr_array *r = binop(TSR_OP_ADD, a, b), *r2 = binop(TSR_OP_SUB, a, b),
            *r3 = binop(TSR_OP_MUL, a, b);
  int8_t i8[3];
  assert_ok(tsr_array_to_buffer(r, i8, 3));
  assert_int_equal(i8[0], -128);
  assert_ok(tsr_array_to_buffer(r2, i8, 3));
  assert_int_equal(i8[1], 127);
  assert_ok(tsr_array_to_buffer(r3, i8, 3));
  assert_int_equal(i8[2], 44);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&r);
  tsr_array_destroy(&r2);
  tsr_array_destroy(&r3);

  /* uint8: 0 - 1 = 255, 200 + 100 = 44. */
  a = vec(ctx, TSR_UINT8, 2, (double[]){0, 200}, 1);
  b = vec(ctx, TSR_UINT8, 2, (double[]){1, 100}, 2);
  r = binop(TSR_OP_SUB, a, b);
  r2 = binop(TSR_OP_ADD, a, b);
  uint8_t u8[2];
  assert_ok(tsr_array_to_buffer(r, u8, 2));
  assert_int_equal(u8[0], 255);
  assert_ok(tsr_array_to_buffer(r2, u8, 2));
  assert_int_equal(u8[1], 44);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&r);
  tsr_array_destroy(&r2);

  /* int64: MIN // -1 wraps to MIN, MIN % -1 = 0, x // 0 = 0, x % 0 = 0,
   * Python signs: 7 // -2 = -4, -7 // 2 = -4, 7 % -2 = -1, -7 % 2 = 1. */
  int64_t xs[7] = {INT64_MIN, INT64_MIN, 5, 7, -7, 7, -7};
  int64_t ys[7] = {-1, -1, 0, -2, 2, -2, 2};
  int64_t n7 = 7, c3 = 3;
  tsr_array *x = NULL, *y = NULL;
  assert_ok(
      tsr_array_from_buffer(ctx, TSR_INT64, 1, &n7, &c3, xs, TSR_BUFFER_BORROW, NULL, NULL, &x));
  assert_ok(
      tsr_array_from_buffer(ctx, TSR_INT64, 1, &n7, &c3, ys, TSR_BUFFER_BORROW, NULL, NULL, &y));
  r = binop(TSR_OP_FLOORDIV, x, y);
  r2 = binop(TSR_OP_MOD, x, y);
  int64_t q[7], m[7];
  assert_ok(tsr_array_to_buffer(r, q, sizeof q));
  assert_ok(tsr_array_to_buffer(r2, m, sizeof m));
  assert_true(q[0] == INT64_MIN);
  assert_int_equal(m[1], 0);
  assert_int_equal(q[2], 0);
  assert_int_equal(m[2], 0);
  assert_int_equal(q[3], -4);
  assert_int_equal(q[4], -4);
  assert_int_equal(m[5], -1);
  assert_int_equal(m[6], 1);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  tsr_array_destroy(&r);
  tsr_array_destroy(&r2);

  /* floats: 1/0 = inf, -1/0 = -inf, 0/0 = nan; 7.5 // -2 = -4, -7.5 % 2 =
   * 0.5, 7.5 % -2 = -0.5, 1 // 0 = inf, 1 % 0 = nan, 6 % -3 = -0. */
  static const double fx[] = {1, -1, 0, 7.5, -7.5, 7.5, 1, 1, 6, -0.5};
  static const double fy[] = {0, 0, 0, -2, 2, -2, 0, 0, -3, 1};
  for (int t = 0; t < 2; t++) {
    tsr_dtype dt = t ? TSR_FLOAT32 : TSR_FLOAT64;
    x = vec(ctx, dt, 10, fx, 4);
    y = vec(ctx, dt, 10, fy, 3);
    r = binop(TSR_OP_DIV, x, y);
    r2 = binop(TSR_OP_FLOORDIV, x, y);
    r3 = binop(TSR_OP_MOD, x, y);
    void *d = compute(r), *f = compute(r2), *md = compute(r3);
    num v;
#define AT(buf, i) num_read(buf, dt, i).f
    assert_true(AT(d, 0) == INFINITY);
    assert_true(AT(d, 1) == -INFINITY);
    assert_true(isnan(AT(d, 2)));
    assert_true(AT(f, 3) == -4);
    assert_true(AT(md, 4) == 0.5);
    assert_true(AT(md, 5) == -0.5);
    assert_true(AT(f, 6) == INFINITY);
    assert_true(isnan(AT(md, 7)));
    v = num_read(md, dt, 8);
    assert_true(v.f == 0 && signbit(v.f)); /* the divisor's sign */
    assert_true(AT(f, 9) == -1);           /* -0.5 // 1 = -1 */
    assert_true(AT(md, 9) == 0.5);
#undef AT
    free(d);
    free(f);
    free(md);
    tsr_array_destroy(&x);
    tsr_array_destroy(&y);
    tsr_array_destroy(&r);
    tsr_array_destroy(&r2);
    tsr_array_destroy(&r3);
  }

  /* Integer powers: 3 ** 4 = 81, (-2) ** 3 = -8, 2 ** 63 wraps (int64),
   * 0 ** 0 = 1. */
  x = vec(ctx, TSR_INT64, 4, (double[]){3, -2, 2, 0}, 3);
  y = vec(ctx, TSR_INT64, 4, (double[]){4, 3, 63, 0}, 1);
  r = binop(TSR_OP_POW, x, y);
  int64_t p[4];
  assert_ok(tsr_array_to_buffer(r, p, sizeof p));
  assert_int_equal(p[0], 81);
  assert_int_equal(p[1], -8);
  assert_true(p[2] == INT64_MIN);
  assert_int_equal(p[3], 1);
  tsr_array_destroy(&r);
  tsr_array_destroy(&y);
  /* A negative integer exponent fails the computation. */
  y = vec(ctx, TSR_INT64, 4, (double[]){1, 2, -1, 0}, 2);
  r = binop(TSR_OP_POW, x, y);
  assert_fails(tsr_array_to_buffer(r, p, sizeof p), TSR_EINVAL, "negative");
  tsr_array_destroy(&r);
  /* ... also through a weak scalar, and fused inside a longer chain. */
  assert_ok(tsr_binary_scalar(TSR_OP_POW, x, -2, &r));
  assert_fails(tsr_array_to_buffer(r, p, sizeof p), TSR_EINVAL, "negative");
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, r, 1, &r2));
  assert_fails(tsr_array_to_buffer(r2, p, sizeof p), TSR_EINVAL, "negative");
  tsr_array_destroy(&r);
  tsr_array_destroy(&r2);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
}

/* Result dtypes: NumPy's promotion table spot checks. */
static void test_elementwise__result_dtypes(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[1] = {3};
  tsr_array *arr[TSR_NUM_DTYPES];
  for (int t = 0; t < TSR_NUM_DTYPES; t++)
    assert_ok(tsr_array_ones(ctx, (tsr_dtype)t, 1, shape, NULL, &arr[t]));
  struct {
    tsr_binary_op op;
    tsr_dtype a, b, want;
  } cases[] = {
      {TSR_OP_ADD, TSR_INT8, TSR_UINT8, TSR_INT16},
      {TSR_OP_ADD, TSR_INT16, TSR_UINT16, TSR_INT32},
      {TSR_OP_ADD, TSR_INT32, TSR_UINT32, TSR_INT64},
      {TSR_OP_ADD, TSR_INT64, TSR_UINT64, TSR_FLOAT64},
      {TSR_OP_ADD, TSR_UINT8, TSR_INT32, TSR_INT32},
      {TSR_OP_ADD, TSR_INT16, TSR_FLOAT32, TSR_FLOAT32},
      {TSR_OP_ADD, TSR_INT32, TSR_FLOAT32, TSR_FLOAT64},
      {TSR_OP_ADD, TSR_UINT16, TSR_FLOAT32, TSR_FLOAT32},
      {TSR_OP_ADD, TSR_BOOL, TSR_INT8, TSR_INT8},
      {TSR_OP_ADD, TSR_BOOL, TSR_BOOL, TSR_BOOL},
      {TSR_OP_MUL, TSR_FLOAT32, TSR_FLOAT64, TSR_FLOAT64},
      {TSR_OP_DIV, TSR_INT32, TSR_INT32, TSR_FLOAT64},
      {TSR_OP_DIV, TSR_INT8, TSR_INT8, TSR_FLOAT64},
      {TSR_OP_DIV, TSR_FLOAT32, TSR_FLOAT32, TSR_FLOAT32},
      {TSR_OP_DIV, TSR_BOOL, TSR_BOOL, TSR_FLOAT64},
      {TSR_OP_FLOORDIV, TSR_INT32, TSR_INT32, TSR_INT32},
      {TSR_OP_FLOORDIV, TSR_BOOL, TSR_BOOL, TSR_INT8},
      {TSR_OP_LT, TSR_INT8, TSR_FLOAT64, TSR_BOOL},
      {TSR_OP_EQ, TSR_UINT64, TSR_INT64, TSR_BOOL},
      {TSR_OP_LOGICAL_AND, TSR_FLOAT32, TSR_INT8, TSR_BOOL},
      {TSR_OP_MAXIMUM, TSR_UINT8, TSR_INT8, TSR_INT16},
      {TSR_OP_BITWISE_AND, TSR_UINT8, TSR_INT8, TSR_INT16},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    tsr_array *r = NULL;
    assert_ok(tsr_binary(cases[c].op, arr[cases[c].a], arr[cases[c].b], &r));
    if (tsr_array_dtype(r) != cases[c].want)
      print_error("%s(%s, %s) = %s\n", tsr_binary_op_name(cases[c].op), tsr_dtype_name(cases[c].a),
                  tsr_dtype_name(cases[c].b), tsr_dtype_name(tsr_array_dtype(r)));
    assert_int_equal(tsr_array_dtype(r), cases[c].want);
    tsr_array_destroy(&r);
  }
  struct {
    tsr_unary_op op;
    tsr_dtype a, want;
  } ucases[] = {
      {TSR_OP_SQRT, TSR_INT16, TSR_FLOAT32},     {TSR_OP_SQRT, TSR_INT32, TSR_FLOAT64},
      {TSR_OP_SQRT, TSR_UINT16, TSR_FLOAT32},    {TSR_OP_EXP, TSR_INT64, TSR_FLOAT64},
      {TSR_OP_SQRT, TSR_FLOAT32, TSR_FLOAT32},   {TSR_OP_ISNAN, TSR_FLOAT64, TSR_BOOL},
      {TSR_OP_ISFINITE, TSR_INT8, TSR_BOOL},     {TSR_OP_FLOOR, TSR_INT32, TSR_INT32},
      {TSR_OP_ROUND, TSR_UINT8, TSR_UINT8},      {TSR_OP_ABS, TSR_INT8, TSR_INT8},
      {TSR_OP_LOGICAL_NOT, TSR_INT32, TSR_BOOL},
  };
  for (size_t c = 0; c < sizeof ucases / sizeof ucases[0]; c++) {
    tsr_array *r = NULL;
    assert_ok(tsr_unary(ucases[c].op, arr[ucases[c].a], &r));
    if (tsr_array_dtype(r) != ucases[c].want)
      print_error("%s(%s) = %s\n", tsr_unary_op_name(ucases[c].op), tsr_dtype_name(ucases[c].a),
                  tsr_dtype_name(tsr_array_dtype(r)));
    assert_int_equal(tsr_array_dtype(r), ucases[c].want);
    tsr_array_destroy(&r);
  }
  /* Dtype errors. */
  tsr_array *r = NULL;
  assert_fails(tsr_binary(TSR_OP_SUB, arr[TSR_BOOL], arr[TSR_BOOL], &r), TSR_EDTYPE, "bool");
  assert_fails(tsr_binary(TSR_OP_BITWISE_AND, arr[TSR_FLOAT64], arr[TSR_INT8], &r), TSR_EDTYPE,
               "float64");
  assert_fails(tsr_binary(TSR_OP_LEFT_SHIFT, arr[TSR_FLOAT32], arr[TSR_INT8], &r), TSR_EDTYPE,
               "float32");
  assert_fails(tsr_unary(TSR_OP_NEGATIVE, arr[TSR_BOOL], &r), TSR_EDTYPE, "bool");
  assert_fails(tsr_unary(TSR_OP_INVERT, arr[TSR_FLOAT64], &r), TSR_EDTYPE, "float64");
  assert_null(r);
  assert_fails(tsr_binary((tsr_binary_op)99, arr[0], arr[0], &r), TSR_EINVAL, "op = 99");
  assert_fails(tsr_unary((tsr_unary_op)-1, arr[0], &r), TSR_EINVAL, "op = -1");
  assert_fails(tsr_binary(TSR_OP_ADD, NULL, arr[0], &r), TSR_EINVAL, "a is NULL");
  assert_fails(tsr_binary(TSR_OP_ADD, arr[0], arr[0], NULL), TSR_EINVAL, "out is NULL");
  assert_string_equal(tsr_binary_op_name(TSR_OP_FLOORDIV), "floor_divide");
  assert_string_equal(tsr_unary_op_name(TSR_OP_SQRT), "sqrt");
  assert_string_equal(tsr_binary_op_name((tsr_binary_op)99), "invalid");
  for (int t = 0; t < TSR_NUM_DTYPES; t++)
    tsr_array_destroy(&arr[t]);
}

/* ---- broadcasting ------------------------------------------------------------ */

static tsr_array *iota(tsr_ctx *ctx, int ndim, const int64_t *shape, const int64_t *chunks,
                       double scale, double **values) {
  int64_t n = shape_size(ndim, shape);
  double *v = malloc((size_t)n * 8 + 8);
  for (int64_t i = 0; i < n; i++)
    v[i] = (double)i * scale;
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, ndim, ndim ? shape : dummy_shape, chunks, v,
                                  TSR_BUFFER_COPY, NULL, NULL, &a));
  *values = v;
  return a;
}

static void test_elementwise__broadcasting(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 3);
  double *va, *vb;
  /* (3,1) + (1,4) -> (3,4) */
  tsr_array *a = iota(ctx, 2, (int64_t[]){3, 1}, (int64_t[]){2, 1}, 10, &va);
  tsr_array *b = iota(ctx, 2, (int64_t[]){1, 4}, (int64_t[]){1, 3}, 1, &vb);
  tsr_array *r = binop(TSR_OP_ADD, a, b);
  double out[30];
  assert_int_equal(tsr_array_ndim(r), 2);
  assert_int_equal(tsr_array_shape(r)[0], 3);
  assert_int_equal(tsr_array_shape(r)[1], 4);
  assert_ok(tsr_array_to_buffer(r, out, 12 * 8));
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 4; j++)
      assert_true(out[i * 4 + j] == i * 10 + j);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&r);
  free(va);
  free(vb);

  /* (5,) * (2,3,5) -> (2,3,5), task leaves on both sides */
  tsr_array *x = NULL, *y = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_FLOAT64, 0, 5, 1, 2, &x));
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 9, 3, (int64_t[]){2, 3, 5},
                             (int64_t[]){1, 2, 2}, &y));
  r = binop(TSR_OP_MUL, x, y);
  assert_int_equal(tsr_array_ndim(r), 3);
  assert_ok(tsr_array_to_buffer(r, out, 30 * 8));
  for (int i = 0; i < 30; i++)
    assert_true(out[i] == (double)(i % 5) * tsr_random_uniform(9, (uint64_t)i));
  tsr_array_destroy(&r);
  /* 0-d with N-d, both orders. */
  tsr_array *s = NULL;
  assert_ok(tsr_array_full(ctx, TSR_FLOAT64, 0, NULL, NULL, 2.5, &s));
  r = binop(TSR_OP_SUB, s, y);
  assert_ok(tsr_array_to_buffer(r, out, 30 * 8));
  for (int i = 0; i < 30; i++)
    assert_true(out[i] == 2.5 - tsr_random_uniform(9, (uint64_t)i));
  tsr_array_destroy(&r);
  r = binop(TSR_OP_SUB, y, s);
  assert_ok(tsr_array_to_buffer(r, out, 30 * 8));
  for (int i = 0; i < 30; i++)
    assert_true(out[i] == tsr_random_uniform(9, (uint64_t)i) - 2.5);
  tsr_array_destroy(&r);
  /* 0-d with 0-d */
  r = binop(TSR_OP_MUL, s, s);
  assert_int_equal(tsr_array_ndim(r), 0);
  assert_ok(tsr_array_to_buffer(r, out, 8));
  assert_true(out[0] == 6.25);
  tsr_array_destroy(&r);
  /* Zero-size broadcast: (0,1) + (1,4) -> (0,4); (3,1) + (0,) -> (3,0). */
  tsr_array *z = NULL, *w = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_INT32, 2, (int64_t[]){0, 1}, NULL, &z));
  assert_ok(tsr_array_ones(ctx, TSR_INT32, 2, (int64_t[]){1, 4}, NULL, &w));
  r = binop(TSR_OP_ADD, z, w);
  assert_int_equal(tsr_array_shape(r)[0], 0);
  assert_int_equal(tsr_array_shape(r)[1], 4);
  assert_int_equal(tsr_array_size(r), 0);
  assert_ok(tsr_array_to_buffer(r, out, 0));
  tsr_array_destroy(&r);
  tsr_array_destroy(&z);
  tsr_array_destroy(&w);
  assert_ok(tsr_array_zeros(ctx, TSR_INT32, 1, (int64_t[]){0}, NULL, &z));
  assert_ok(tsr_array_ones(ctx, TSR_INT32, 2, (int64_t[]){3, 1}, NULL, &w));
  r = binop(TSR_OP_ADD, w, z);
  assert_int_equal(tsr_array_shape(r)[0], 3);
  assert_int_equal(tsr_array_shape(r)[1], 0);
  assert_ok(tsr_array_to_buffer(r, out, 0));
  tsr_array_destroy(&r);
  tsr_array_destroy(&w);
  /* Incompatible: (3,4) + (4,3) and (0,) + (2,) name both shapes. */
  tsr_array *p = NULL, *q = NULL;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 2, (int64_t[]){3, 4}, NULL, &p));
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 2, (int64_t[]){4, 3}, NULL, &q));
  r = NULL;
  assert_fails(tsr_binary(TSR_OP_ADD, p, q, &r), TSR_ESHAPE, "(3, 4)");
  assert_null(r);
  assert_fails(tsr_binary(TSR_OP_ADD, p, q, &r), TSR_ESHAPE, "(4, 3)");
  assert_fails(tsr_where(p, p, q, &r), TSR_ESHAPE, "(4, 3)");
  tsr_array_destroy(&q);
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 1, (int64_t[]){2}, NULL, &q));
  assert_fails(tsr_binary(TSR_OP_MUL, z, q, &r), TSR_ESHAPE, "(0,)");
  assert_fails(tsr_binary(TSR_OP_MUL, z, q, &r), TSR_ESHAPE, "(2,)");
  tsr_array_destroy(&p);
  tsr_array_destroy(&q);
  tsr_array_destroy(&z);
  tsr_array_destroy(&s);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
}

/* Operands with different chunkings are rechunked to common chunks first
 * (array.h: Dask's unify_chunks). */
static void test_elementwise__different_chunkings_unify(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 2);
  int64_t shape[2] = {7, 6};
  tsr_array *x = NULL, *y = NULL, *r = NULL;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 1, 2, shape, (int64_t[]){2, 3}, &x));
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 2, 2, shape, (int64_t[]){3, 4}, &y));
  tsr_status s = tsr_add(x, y, &r);
  if (s != TSR_OK) {
    /* Was a bug (fixed): tsr_binary on two task leaves with different chunks fails with
     * TSR_ENOTSUP "operands have different chunks along axis 0" instead of
     * unifying chunks as array.h promises. */
    print_error("REGRESSION: %s: %s\n", tsr_status_name(s), tsr_last_error());
    tsr_array_destroy(&x);
    tsr_array_destroy(&y);
    fail();
  }
  double out[42];
  assert_ok(tsr_array_to_buffer(r, out, sizeof out));
  for (int i = 0; i < 42; i++)
    assert_true(out[i] == tsr_random_uniform(1, (uint64_t)i) + tsr_random_uniform(2, (uint64_t)i));
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
}

/* A task leaf and a memory leaf with different chunks: the memory leaf is
 * read in place whatever the chunks. */
static void test_elementwise__memory_leaf_any_chunking(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 3);
  int64_t shape[2] = {7, 6};
  double *v;
  tsr_array *m = iota(ctx, 2, shape, (int64_t[]){3, 4}, 1, &v);
  tsr_array *x = NULL;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 1, 2, shape, (int64_t[]){2, 3}, &x));
  tsr_array *r = binop(TSR_OP_MUL, m, x);
  const tsr_chunk_grid *g = tsr_array_chunks(r);
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 0), 4); /* the task leaf's chunks */
  assert_int_equal(tsr_chunk_grid_nchunks_axis(g, 1), 2);
  double out[42];
  assert_ok(tsr_array_to_buffer(r, out, sizeof out));
  for (int i = 0; i < 42; i++)
    assert_true(out[i] == (double)i * tsr_random_uniform(1, (uint64_t)i));
  tsr_array_destroy(&r);
  tsr_array_destroy(&m);
  tsr_array_destroy(&x);
  free(v);
}

/* ---- weak scalars -------------------------------------------------------------- */

static bool scalar_fits(tsr_dtype t, double s) {
  switch (t) {
  case TSR_INT8:
    return s >= -128 && s <= 127;
  case TSR_INT16:
    return s >= -32768 && s <= 32767;
  case TSR_INT32:
    return s >= -2147483648.0 && s <= 2147483647.0;
  case TSR_INT64:
    return s >= -9223372036854775808.0 && s < 9223372036854775808.0;
  case TSR_UINT8:
    return s >= 0 && s <= 255;
  case TSR_UINT16:
    return s >= 0 && s <= 65535;
  case TSR_UINT32:
    return s >= 0 && s <= 4294967295.0;
  case TSR_UINT64:
    return s >= 0 && s < 18446744073709551616.0;
  default:
    return true;
  }
}

/* NEP 50: the dtype a Python scalar takes next to an array of dtype t, and
 * the dtype the array is read as; false when NumPy raises OverflowError. */
static bool weak_dtypes(tsr_binary_op op, tsr_dtype t, double s, tsr_dtype *st, tsr_dtype *at) {
  bool integral = isfinite(s) && s == floor(s);
  *at = t;
  if (is_float(t))
    *st = t; /* float array: the scalar takes its dtype */
  else if (!integral)
    *st = TSR_FLOAT64; /* Python float with an integer/bool array */
  else if (t == TSR_BOOL)
    *st = TSR_INT64; /* Python int with a bool array: default int */
  else if (scalar_fits(t, s))
    *st = t;
  else if (is_cmp(op))
    *st = *at = TSR_FLOAT64; /* compared by value */
  else
    return false;
  return true;
}

static void scalar_trial(tsr_ctx *ctx, tsr_binary_op op, tsr_dtype t, double s, bool scalar_first) {
  layout l = random_layout();
  operand a;
  operand_make(ctx, &a, &l, t, (leaf_kind)rand_int(NUM_LEAF_KINDS),
               op == TSR_OP_POW && !scalar_first ? any_value
               : op == TSR_OP_POW                ? small_exponent
                                                 : any_value);
  if (op == TSR_OP_POW && !is_float(t) && (scalar_first || s < 0)) {
    operand_free(&a); /* integer to negative powers: tested apart */
    return;
  }
  tsr_dtype st, at, ct, rt;
  bool ok = weak_dtypes(op, t, s, &st, &at);
  tsr_array *r = NULL;
  tsr_status status =
      scalar_first ? tsr_scalar_binary(op, s, a.array, &r) : tsr_binary_scalar(op, a.array, s, &r);
  if (!ok) {
    assert_int_equal(status, TSR_EINVAL);
    operand_free(&a);
    return;
  }
  bool dt_ok =
      scalar_first ? binary_dtypes(op, st, at, &ct, &rt) : binary_dtypes(op, at, st, &ct, &rt);
  if (!dt_ok) {
    assert_int_equal(status, TSR_EDTYPE);
    operand_free(&a);
    return;
  }
  if (status != TSR_OK)
    print_error("%s(%s, %g): %s\n", tsr_binary_op_name(op), tsr_dtype_name(t), s, tsr_last_error());
  assert_int_equal(status, TSR_OK);
  if (tsr_array_dtype(r) != rt)
    print_error("%s(%s array, scalar %g): dtype %s, want %s\n", tsr_binary_op_name(op),
                tsr_dtype_name(t), s, tsr_dtype_name(tsr_array_dtype(r)), tsr_dtype_name(rt));
  assert_int_equal(tsr_array_dtype(r), rt);
  expect_shape(r, &l);
  int64_t n = shape_size(l.ndim, l.shape);
  void *got = compute(r);
  num sv = num_make(TSR_FLOAT64, 0, 0, s);
  for (int64_t i = 0; i < n; i++) {
    num x = num_convert(num_convert(num_read(a.values, t, i), at), ct);
    num y = num_convert(num_convert(sv, st), ct);
    num want;
    assert_int_equal(
        scalar_first ? ref_binary(op, y, x, rt, &want) : ref_binary(op, x, y, rt, &want), R_OK);
    num g = num_read(got, rt, i);
    if (!num_equal(g, want, binary_tolerance(op, ct), false)) {
      print_error("%s with scalar %g %s %s array, element %lld\n", tsr_binary_op_name(op), s,
                  scalar_first ? "before" : "after", tsr_dtype_name(t), (long long)i);
      print_num("  x", x);
      print_num("  got", g);
      print_num("  want", want);
      fail();
    }
  }
  free(got);
  tsr_array_destroy(&r);
  operand_free(&a);
}

static void test_elementwise__weak_scalars_differential(void **state) {
  tsr_ctx *ctx = *state;
  static const double scalars[] = {
      0,   1,    -1,  2,    3,     7,    -7,       0.5, -2.5,  100,    127, 128,         255,
      256, -129, 300, 1e10, -1e10, 1e19, INFINITY, NAN, 65536, -32769, 0.1, 4294967296.0};
  static const tsr_binary_op ops[] = {
      TSR_OP_ADD, TSR_OP_SUB, TSR_OP_MUL,         TSR_OP_DIV,         TSR_OP_FLOORDIV,
      TSR_OP_MOD, TSR_OP_POW, TSR_OP_MAXIMUM,     TSR_OP_MINIMUM,     TSR_OP_LT,
      TSR_OP_EQ,  TSR_OP_GE,  TSR_OP_BITWISE_AND, TSR_OP_RIGHT_SHIFT, TSR_OP_LOGICAL_OR};
  const size_t ns = sizeof scalars / sizeof scalars[0], no = sizeof ops / sizeof ops[0];
  for (int trial = 0; trial < 700; trial++) {
    configure(ctx, trial % 4);
    tsr_binary_op op = ops[rand_int((int)no)];
    tsr_dtype t = all_dtypes[rand_int(N_DTYPES)];
    double s = scalars[rand_int((int)ns)];
    scalar_trial(ctx, op, t, s, rand_int(3) == 0);
  }
}

static void test_elementwise__weak_scalar_cases(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 0);
  tsr_array *i8 = vec(ctx, TSR_INT8, 3, (double[]){127, -128, 5}, 2), *r = NULL;
  /* int8 + 1 stays int8 and wraps. */
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, i8, 1, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT8);
  int8_t o8[3];
  assert_ok(tsr_array_to_buffer(r, o8, 3));
  assert_int_equal(o8[0], -128);
  assert_int_equal(o8[2], 6);
  tsr_array_destroy(&r);
  /* int8 + 300 is an error naming the scalar. */
  assert_fails(tsr_binary_scalar(TSR_OP_ADD, i8, 300, &r), TSR_EINVAL, "300");
  assert_null(r);
  assert_fails(tsr_scalar_binary(TSR_OP_SUB, -129, i8, &r), TSR_EINVAL, "-129");
  assert_fails(tsr_binary_scalar(TSR_OP_ADD, i8, 300, &r), TSR_EINVAL, "int8");
  /* ... but int8 < 300 compares by value: all true; == 300 all false. */
  assert_ok(tsr_binary_scalar(TSR_OP_LT, i8, 300, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_BOOL);
  uint8_t ob[3];
  assert_ok(tsr_array_to_buffer(r, ob, 3));
  assert_true(ob[0] && ob[1] && ob[2]);
  tsr_array_destroy(&r);
  assert_ok(tsr_binary_scalar(TSR_OP_EQ, i8, -300, &r));
  assert_ok(tsr_array_to_buffer(r, ob, 3));
  assert_true(!ob[0] && !ob[1] && !ob[2]);
  tsr_array_destroy(&r);
  assert_ok(tsr_scalar_binary(TSR_OP_GT, 300, i8, &r)); /* 300 > x */
  assert_ok(tsr_array_to_buffer(r, ob, 3));
  assert_true(ob[0] && ob[1] && ob[2]);
  tsr_array_destroy(&r);
  tsr_array_destroy(&i8);
  /* int32 * 0.5 -> float64. */
  tsr_array *i32 = vec(ctx, TSR_INT32, 2, (double[]){3, -7}, 1);
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, i32, 0.5, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_FLOAT64);
  double od[2];
  assert_ok(tsr_array_to_buffer(r, od, sizeof od));
  assert_true(od[0] == 1.5 && od[1] == -3.5);
  tsr_array_destroy(&r);
  /* scalar first: 10 - a and 1 / a (true division of ints: float64). */
  assert_ok(tsr_scalar_binary(TSR_OP_SUB, 10, i32, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT32);
  int32_t o32[2];
  assert_ok(tsr_array_to_buffer(r, o32, sizeof o32));
  assert_int_equal(o32[0], 7);
  assert_int_equal(o32[1], 17);
  tsr_array_destroy(&r);
  assert_ok(tsr_scalar_binary(TSR_OP_DIV, 3, i32, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_FLOAT64);
  assert_ok(tsr_array_to_buffer(r, od, sizeof od));
  assert_true(od[0] == 1.0 && od[1] == 3.0 / -7.0);
  tsr_array_destroy(&r);
  assert_ok(tsr_scalar_binary(TSR_OP_FLOORDIV, 7, i32, &r)); /* 7 // 3, 7 // -7 */
  assert_ok(tsr_array_to_buffer(r, o32, sizeof o32));
  assert_int_equal(o32[0], 2);
  assert_int_equal(o32[1], -1);
  tsr_array_destroy(&r);
  assert_ok(tsr_scalar_binary(TSR_OP_MOD, -8, i32, &r)); /* -8 % 3 = 1, -8 % -7 = -1 */
  assert_ok(tsr_array_to_buffer(r, o32, sizeof o32));
  assert_int_equal(o32[0], 1);
  assert_int_equal(o32[1], -1);
  tsr_array_destroy(&r);
  tsr_array_destroy(&i32);
  /* float32 + 1.5 stays float32; float32 * 0.1 uses float32(0.1). */
  tsr_array *f32 = vec(ctx, TSR_FLOAT32, 2, (double[]){1, 3}, 2);
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, f32, 1.5, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_FLOAT32);
  float of[2];
  assert_ok(tsr_array_to_buffer(r, of, sizeof of));
  assert_true(of[0] == 2.5f && of[1] == 4.5f);
  tsr_array_destroy(&r);
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, f32, 0.1, &r));
  assert_ok(tsr_array_to_buffer(r, of, sizeof of));
  assert_true(of[1] == 3.0f * 0.1f);
  tsr_array_destroy(&r);
  tsr_array_destroy(&f32);
  /* bool + 1 -> int64; bool * 0.5 -> float64. */
  tsr_array *bl = vec(ctx, TSR_BOOL, 2, (double[]){1, 0}, 1);
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, bl, 1, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT64);
  int64_t o64[2];
  assert_ok(tsr_array_to_buffer(r, o64, sizeof o64));
  assert_int_equal(o64[0], 2);
  assert_int_equal(o64[1], 1);
  tsr_array_destroy(&r);
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, bl, 0.5, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_FLOAT64);
  tsr_array_destroy(&r);
  tsr_array_destroy(&bl);
  /* uint8 - 1 stays uint8 (wraps); uint8 + (-1) is out of bounds. */
  tsr_array *u8 = vec(ctx, TSR_UINT8, 1, (double[]){0}, 1);
  assert_ok(tsr_binary_scalar(TSR_OP_SUB, u8, 1, &r));
  uint8_t ou;
  assert_ok(tsr_array_to_buffer(r, &ou, 1));
  assert_int_equal(ou, 255);
  tsr_array_destroy(&r);
  assert_fails(tsr_binary_scalar(TSR_OP_ADD, u8, -1, &r), TSR_EINVAL, "-1");
  tsr_array_destroy(&u8);
}

/* ---- unary ops ------------------------------------------------------------------ */

static bool is_math(tsr_unary_op op) { return op >= TSR_OP_SQRT && op <= TSR_OP_ARCTANH; }

static double round_half_even(double x) {
  double f = floor(x), d = x - f;
  if (d > 0.5 || (d == 0.5 && fmod(f, 2.0) != 0))
    f += 1.0;
  return f;
}

/* The reference of a unary op on x (of the computation dtype), result rt. */
static num ref_unary(tsr_unary_op op, num x, tsr_dtype rt) {
  tsr_dtype t = x.t;
  if (is_float(t)) {
    bool single = t == TSR_FLOAT32;
    double a = x.f, r;
    switch (op) {
    case TSR_OP_ISNAN:
      return num_make(TSR_BOOL, a != a, 0, 0);
    case TSR_OP_ISINF:
      return num_make(TSR_BOOL, a == INFINITY || a == -INFINITY, 0, 0);
    case TSR_OP_ISFINITE:
      return num_make(TSR_BOOL, a == a && a != INFINITY && a != -INFINITY, 0, 0);
    case TSR_OP_LOGICAL_NOT:
      return num_make(TSR_BOOL, a == 0, 0, 0);
    case TSR_OP_NEGATIVE:
      r = -a;
      break;
    case TSR_OP_POSITIVE:
      r = a;
      break;
    case TSR_OP_ABS:
      r = fabs(a);
      break;
    case TSR_OP_SIGN:
      r = a != a ? a : a > 0 ? 1.0 : a < 0 ? -1.0 : 0.0;
      break;
    case TSR_OP_SQUARE:
      r = single ? (double)((float)a * (float)a) : a * a;
      break;
    case TSR_OP_SQRT:
      r = single ? sqrtf((float)a) : sqrt(a);
      break;
    case TSR_OP_CBRT:
      r = single ? cbrtf((float)a) : cbrt(a);
      break;
    case TSR_OP_EXP:
      r = single ? expf((float)a) : exp(a);
      break;
    case TSR_OP_EXP2:
      r = single ? exp2f((float)a) : exp2(a);
      break;
    case TSR_OP_EXPM1:
      r = single ? expm1f((float)a) : expm1(a);
      break;
    case TSR_OP_LOG:
      r = single ? logf((float)a) : log(a);
      break;
    case TSR_OP_LOG1P:
      r = single ? log1pf((float)a) : log1p(a);
      break;
    case TSR_OP_LOG2:
      r = single ? log2f((float)a) : log2(a);
      break;
    case TSR_OP_LOG10:
      r = single ? log10f((float)a) : log10(a);
      break;
    case TSR_OP_SIN:
      r = single ? sinf((float)a) : sin(a);
      break;
    case TSR_OP_COS:
      r = single ? cosf((float)a) : cos(a);
      break;
    case TSR_OP_TAN:
      r = single ? tanf((float)a) : tan(a);
      break;
    case TSR_OP_ARCSIN:
      r = single ? asinf((float)a) : asin(a);
      break;
    case TSR_OP_ARCCOS:
      r = single ? acosf((float)a) : acos(a);
      break;
    case TSR_OP_ARCTAN:
      r = single ? atanf((float)a) : atan(a);
      break;
    case TSR_OP_SINH:
      r = single ? sinhf((float)a) : sinh(a);
      break;
    case TSR_OP_COSH:
      r = single ? coshf((float)a) : cosh(a);
      break;
    case TSR_OP_TANH:
      r = single ? tanhf((float)a) : tanh(a);
      break;
    case TSR_OP_ARCSINH:
      r = single ? asinhf((float)a) : asinh(a);
      break;
    case TSR_OP_ARCCOSH:
      r = single ? acoshf((float)a) : acosh(a);
      break;
    case TSR_OP_ARCTANH:
      r = single ? atanhf((float)a) : atanh(a);
      break;
    case TSR_OP_FLOOR:
      r = floor(a);
      break;
    case TSR_OP_CEIL:
      r = ceil(a);
      break;
    case TSR_OP_ROUND:
      r = isfinite(a) ? round_half_even(a) : a;
      break;
    case TSR_OP_TRUNC:
      r = trunc(a);
      break;
    default:
      fail_msg("no float reference for %s", tsr_unary_op_name(op));
    }
    return num_make(rt, 0, 0, r);
  }
  if (t == TSR_BOOL) {
    bool a = x.i != 0;
    switch (op) {
    case TSR_OP_ISNAN:
    case TSR_OP_ISINF:
      return num_make(TSR_BOOL, 0, 0, 0);
    case TSR_OP_ISFINITE:
      return num_make(TSR_BOOL, 1, 0, 0);
    case TSR_OP_LOGICAL_NOT:
    case TSR_OP_INVERT:
      return num_make(TSR_BOOL, !a, 0, 0);
    default: /* abs */
      return num_make(TSR_BOOL, a, 0, 0);
    }
  }
  bool uns = is_unsigned(t);
  uint64_t v = uns ? x.u : (uint64_t)x.i, r;
  bool neg = !uns && x.i < 0;
  switch (op) {
  case TSR_OP_ISNAN:
  case TSR_OP_ISINF:
    return num_make(TSR_BOOL, 0, 0, 0);
  case TSR_OP_ISFINITE:
    return num_make(TSR_BOOL, 1, 0, 0);
  case TSR_OP_LOGICAL_NOT:
    return num_make(TSR_BOOL, v == 0, 0, 0);
  case TSR_OP_NEGATIVE:
    r = 0 - v;
    break;
  case TSR_OP_ABS:
    r = neg ? 0 - v : v;
    break;
  case TSR_OP_SIGN:
    r = neg ? (uint64_t)-1 : v != 0;
    break;
  case TSR_OP_SQUARE:
    r = v * v;
    break;
  case TSR_OP_INVERT:
    r = ~v;
    break;
  default: /* positive, floor, ceil, round, trunc: the value */
    r = v;
    break;
  }
  return uns ? num_make(rt, 0, r, 0) : num_make(rt, (int64_t)r, 0, 0);
}

/* The dtype a unary op computes in and its result; false for EDTYPE. */
static bool unary_dtypes(tsr_unary_op op, tsr_dtype t, tsr_dtype *ct, tsr_dtype *rt) {
  *ct = *rt = t;
  if (op == TSR_OP_NEGATIVE && t == TSR_BOOL)
    return false;
  if (op == TSR_OP_INVERT && is_float(t))
    return false;
  if (is_math(op) && !is_float(t))
    *ct = *rt = bits_of(t) <= 16 ? TSR_FLOAT32 : TSR_FLOAT64; /* NumPy: float16 for 8 bits */
  if (op == TSR_OP_ISNAN || op == TSR_OP_ISINF || op == TSR_OP_ISFINITE || op == TSR_OP_LOGICAL_NOT)
    *rt = TSR_BOOL;
  return true;
}

static num unary_input(tsr_dtype t) {
  if (!is_float(t))
    return random_value(t);
  int r = rand_int(8);
  if (r == 0) {
    static const double specials[] = {NAN, INFINITY, -INFINITY, 0.0,  -0.0, 0.5,
                                      1.5, 2.5,      -0.5,      -1.5, -2.5, 1e300};
    return num_make(t, 0, 0, specials[rand_int(12)]);
  }
  return random_value(t);
}

static void test_elementwise__unary_differential(void **state) {
  tsr_ctx *ctx = *state;
  int trial = 0;
  for (int op = 0; op < TSR_NUM_UNARY_OPS; op++)
    for (int i = 0; i < N_DTYPES; i++) {
      tsr_dtype t = all_dtypes[i];
      if (t == TSR_BOOL && op != TSR_OP_ABS && op != TSR_OP_LOGICAL_NOT && op != TSR_OP_INVERT &&
          op != TSR_OP_ISNAN && op != TSR_OP_ISFINITE && op != TSR_OP_NEGATIVE)
        continue; /* NumPy's bool signatures of the rest vary by version */
      configure(ctx, trial++ % 4);
      layout l = random_layout();
      operand a;
      operand_make(ctx, &a, &l, t, (leaf_kind)rand_int(NUM_LEAF_KINDS), unary_input);
      tsr_dtype ct, rt;
      bool ok = unary_dtypes((tsr_unary_op)op, t, &ct, &rt);
      tsr_array *r = NULL;
      tsr_status s = tsr_unary((tsr_unary_op)op, a.array, &r);
      if (!ok) {
        assert_int_equal(s, TSR_EDTYPE);
        operand_free(&a);
        continue;
      }
      assert_ok(s);
      if (tsr_array_dtype(r) != rt)
        print_error("%s(%s) = %s, want %s\n", tsr_unary_op_name((tsr_unary_op)op),
                    tsr_dtype_name(t), tsr_dtype_name(tsr_array_dtype(r)), tsr_dtype_name(rt));
      assert_int_equal(tsr_array_dtype(r), rt);
      expect_shape(r, &l);
      void *got = compute(r);
      int64_t n = shape_size(l.ndim, l.shape);
      for (int64_t k = 0; k < n; k++) {
        num x = num_convert(num_read(a.values, t, k), ct);
        num want = ref_unary((tsr_unary_op)op, x, rt), g = num_read(got, rt, k);
        uint64_t tol = is_math((tsr_unary_op)op) && op != TSR_OP_SQRT ? 4 : 0;
        if (!num_equal(g, want, tol, false)) {
          print_error("%s(%s) element %lld\n", tsr_unary_op_name((tsr_unary_op)op),
                      tsr_dtype_name(t), (long long)k);
          print_num("  x", x);
          print_num("  got", g);
          print_num("  want", want);
          fail();
        }
      }
      free(got);
      tsr_array_destroy(&r);
      operand_free(&a);
    }
}

static void test_elementwise__unary_special_values(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 1);
  static const double v[] = {NAN, INFINITY, -INFINITY, 0.5, 1.5, 2.5, -0.5, -2.5, 3.5, -0.0};
  tsr_array *x = vec(ctx, TSR_FLOAT64, 10, v, 3), *r = NULL;
  uint8_t b[10];
  double d[10];
  assert_ok(tsr_unary(TSR_OP_ISNAN, x, &r));
  assert_ok(tsr_array_to_buffer(r, b, 10));
  assert_true(b[0] && !b[1] && !b[2] && !b[3]);
  tsr_array_destroy(&r);
  assert_ok(tsr_unary(TSR_OP_ISINF, x, &r));
  assert_ok(tsr_array_to_buffer(r, b, 10));
  assert_true(!b[0] && b[1] && b[2] && !b[3]);
  tsr_array_destroy(&r);
  assert_ok(tsr_unary(TSR_OP_ISFINITE, x, &r));
  assert_ok(tsr_array_to_buffer(r, b, 10));
  assert_true(!b[0] && !b[1] && !b[2] && b[3] && b[9]);
  tsr_array_destroy(&r);
  assert_ok(tsr_unary(TSR_OP_SIGN, x, &r));
  assert_ok(tsr_array_to_buffer(r, d, sizeof d));
  assert_true(isnan(d[0]) && d[1] == 1 && d[2] == -1 && d[6] == -1 && d[9] == 0);
  tsr_array_destroy(&r);
  assert_ok(tsr_unary(TSR_OP_ROUND, x, &r)); /* half to even */
  assert_ok(tsr_array_to_buffer(r, d, sizeof d));
  assert_true(isnan(d[0]) && d[1] == INFINITY);
  assert_true(d[3] == 0 && d[4] == 2 && d[5] == 2 && d[6] == 0 && d[7] == -2 && d[8] == 4);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
  /* abs(INT8_MIN) wraps to INT8_MIN; negative too; invert of ints and bool. */
  x = vec(ctx, TSR_INT8, 3, (double[]){-128, -5, 0}, 2);
  int8_t i8[3];
  assert_ok(tsr_unary(TSR_OP_ABS, x, &r));
  assert_ok(tsr_array_to_buffer(r, i8, 3));
  assert_int_equal(i8[0], -128);
  assert_int_equal(i8[1], 5);
  tsr_array_destroy(&r);
  assert_ok(tsr_unary(TSR_OP_NEGATIVE, x, &r));
  assert_ok(tsr_array_to_buffer(r, i8, 3));
  assert_int_equal(i8[0], -128);
  tsr_array_destroy(&r);
  assert_ok(tsr_unary(TSR_OP_INVERT, x, &r));
  assert_ok(tsr_array_to_buffer(r, i8, 3));
  assert_int_equal(i8[0], 127);
  assert_int_equal(i8[1], 4);
  assert_int_equal(i8[2], -1);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
  x = vec(ctx, TSR_UINT16, 1, (double[]){1}, 1);
  uint16_t u16;
  assert_ok(tsr_unary(TSR_OP_INVERT, x, &r));
  assert_ok(tsr_array_to_buffer(r, &u16, 2));
  assert_int_equal(u16, 65534);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
  x = vec(ctx, TSR_BOOL, 2, (double[]){1, 0}, 1);
  assert_ok(tsr_unary(TSR_OP_INVERT, x, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_BOOL);
  assert_ok(tsr_array_to_buffer(r, b, 2));
  assert_true(b[0] == 0 && b[1] == 1);
  tsr_array_destroy(&r);
  assert_fails(tsr_unary(TSR_OP_NEGATIVE, x, &r), TSR_EDTYPE, "negative");
  tsr_array_destroy(&x);
}

/* ---- where, clip, astype ------------------------------------------------------------- */

static void test_elementwise__where_differential(void **state) {
  tsr_ctx *ctx = *state;
  for (int trial = 0; trial < 150; trial++) {
    configure(ctx, trial % 4);
    layout out = random_layout();
    layout lc = broadcast_operand(&out), la = broadcast_operand(&out), lb = broadcast_operand(&out);
    /* Task leaves share chunks where their extents match. */
    layout *ls[3] = {&lc, &la, &lb};
    for (int k = 0; k < 3; k++)
      for (int j = 0; j < ls[k]->ndim; j++) {
        int d = j + out.ndim - ls[k]->ndim;
        if (ls[k]->shape[j] == out.shape[d])
          ls[k]->chunks[j] = out.chunks[d];
      }
    tsr_dtype tc = all_dtypes[rand_int(N_DTYPES)], ta = all_dtypes[rand_int(N_DTYPES)],
              tb = all_dtypes[rand_int(N_DTYPES)];
    operand c, a, b;
    operand_make(ctx, &c, &lc, tc, (leaf_kind)rand_int(NUM_LEAF_KINDS), NULL);
    operand_make(ctx, &a, &la, ta, (leaf_kind)rand_int(NUM_LEAF_KINDS), NULL);
    operand_make(ctx, &b, &lb, tb, (leaf_kind)rand_int(NUM_LEAF_KINDS), NULL);
    tsr_array *r = NULL;
    assert_ok(tsr_where(c.array, a.array, b.array, &r));
    tsr_dtype rt = np_promote(a.dtype, b.dtype);
    assert_int_equal(tsr_array_dtype(r), rt);
    layout res = {0};
    res.ndim = tsr_array_ndim(r);
    for (int d = 0; d < res.ndim; d++) {
      int64_t e = 1;
      for (int k = 0; k < 3; k++) {
        const layout *l = k == 0 ? &c.l : k == 1 ? &a.l : &b.l;
        int j = d - (res.ndim - l->ndim);
        if (j >= 0 && l->shape[j] != 1)
          e = l->shape[j];
      }
      res.shape[d] = e;
      assert_int_equal(tsr_array_shape(r)[d], e);
    }
    void *got = compute(r);
    int64_t n = shape_size(res.ndim, res.shape);
    for (int64_t i = 0; i < n; i++) {
      bool cond = num_truth(num_read(c.values, c.dtype, broadcast_index(&res, &c.l, i)));
      num want = cond
                     ? num_convert(num_read(a.values, a.dtype, broadcast_index(&res, &a.l, i)), rt)
                     : num_convert(num_read(b.values, b.dtype, broadcast_index(&res, &b.l, i)), rt);
      num g = num_read(got, rt, i);
      if (!num_equal(g, want, 0, true)) {
        print_error("where(%s, %s, %s) element %lld\n", tsr_dtype_name(tc), tsr_dtype_name(ta),
                    tsr_dtype_name(tb), (long long)i);
        print_num("  got", g);
        print_num("  want", want);
        fail();
      }
    }
    free(got);
    tsr_array_destroy(&r);
    operand_free(&c);
    operand_free(&a);
    operand_free(&b);
  }
}

static void test_elementwise__clip(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 2);
  static const double v[] = {-5, -1.5, 0, 0.25, 3, 7.5, NAN};
  tsr_array *x = vec(ctx, TSR_FLOAT64, 7, v, 3), *r = NULL;
  double d[7];
  assert_ok(tsr_clip(x, -1, 3, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_FLOAT64);
  assert_ok(tsr_array_to_buffer(r, d, sizeof d));
  static const double w[] = {-1, -1, 0, 0.25, 3, 3};
  for (int i = 0; i < 6; i++)
    assert_true(d[i] == w[i]);
  assert_true(isnan(d[6])); /* NaN propagates through maximum/minimum */
  tsr_array_destroy(&r);
  assert_ok(tsr_clip(x, -INFINITY, 1, &r));
  assert_ok(tsr_array_to_buffer(r, d, sizeof d));
  assert_true(d[0] == -5 && d[3] == 0.25 && d[4] == 1 && d[5] == 1);
  tsr_array_destroy(&r);
  assert_ok(tsr_clip(x, 0, INFINITY, &r));
  assert_ok(tsr_array_to_buffer(r, d, sizeof d));
  assert_true(d[0] == 0 && d[1] == 0 && d[5] == 7.5);
  tsr_array_destroy(&r);
  assert_ok(tsr_clip(x, -INFINITY, INFINITY, &r));
  assert_ok(tsr_array_to_buffer(r, d, sizeof d));
  assert_memory_equal(d, v, 6 * sizeof(double));
  tsr_array_destroy(&r);
  assert_fails(tsr_clip(x, NAN, 1, &r), TSR_EINVAL, "NaN");
  tsr_array_destroy(&x);
  /* Integer arrays with integral bounds stay integer. */
  x = vec(ctx, TSR_INT16, 5, (double[]){-300, -2, 0, 9, 1000}, 2);
  assert_ok(tsr_clip(x, -3, 10, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT16);
  int16_t i16[5];
  assert_ok(tsr_array_to_buffer(r, i16, sizeof i16));
  assert_int_equal(i16[0], -3);
  assert_int_equal(i16[1], -2);
  assert_int_equal(i16[3], 9);
  assert_int_equal(i16[4], 10);
  tsr_array_destroy(&r);
  assert_ok(tsr_clip(x, -INFINITY, 5, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT16);
  assert_ok(tsr_array_to_buffer(r, i16, sizeof i16));
  assert_int_equal(i16[0], -300);
  assert_int_equal(i16[4], 5);
  tsr_array_destroy(&r);
  assert_ok(tsr_clip(x, -INFINITY, INFINITY, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_INT16);
  tsr_array_destroy(&r);
  /* A fractional bound makes it float64 (NEP 50). */
  assert_ok(tsr_clip(x, -2.5, 2.5, &r));
  assert_int_equal(tsr_array_dtype(r), TSR_FLOAT64);
  assert_ok(tsr_array_to_buffer(r, d, 5 * sizeof(double)));
  assert_true(d[0] == -2.5 && d[1] == -2 && d[4] == 2.5);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
}

static void test_elementwise__astype(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 3);
  static const double v[] = {-2.75, -0.5, 0, 0.5, 1.9, 100.99, -0.0, 127.5};
  for (int src = 0; src < 2; src++) {
    tsr_dtype st = src ? TSR_FLOAT32 : TSR_FLOAT64;
    tsr_array *x = vec(ctx, st, 8, v, 3);
    for (int i = 0; i < N_DTYPES; i++) {
      tsr_dtype t = all_dtypes[i];
      if (is_unsigned(t))
        continue; /* negative floats to unsigned: implementation-defined */
      tsr_array *r = NULL;
      assert_ok(tsr_astype(x, t, &r));
      assert_int_equal(tsr_array_dtype(r), t);
      void *got = compute(r);
      for (int k = 0; k < 8; k++) {
        num want = num_convert(num_make(st, 0, 0, v[k]), t), g = num_read(got, t, k);
        if (!num_equal(g, want, 0, false)) {
          print_error("astype %s -> %s element %d\n", tsr_dtype_name(st), tsr_dtype_name(t), k);
          print_num("  got", g);
          print_num("  want", want);
          fail();
        }
      }
      free(got);
      tsr_array_destroy(&r);
    }
    tsr_array_destroy(&x);
  }
  /* Every integer and bool pair, with values in range of both (and
   * wrap-around for int -> narrower int, which is well defined). */
  for (int trial = 0; trial < 120; trial++) {
    configure(ctx, trial % 4);
    tsr_dtype from = all_dtypes[rand_int(N_DTYPES)], to = all_dtypes[rand_int(N_DTYPES)];
    layout l = random_layout();
    operand a;
    operand_make(ctx, &a, &l, from, (leaf_kind)rand_int(NUM_LEAF_KINDS), NULL);
    if (is_float(from) && !is_float(to) && to != TSR_BOOL) {
      operand_free(&a); /* out-of-range float -> int is implementation-defined */
      continue;
    }
    tsr_array *r = NULL;
    assert_ok(tsr_astype(a.array, to, &r));
    void *got = compute(r);
    int64_t n = shape_size(l.ndim, l.shape);
    for (int64_t k = 0; k < n; k++) {
      num want = num_convert(num_read(a.values, from, k), to), g = num_read(got, to, k);
      if (!num_equal(g, want, 0, false)) {
        print_error("astype %s -> %s element %lld\n", tsr_dtype_name(from), tsr_dtype_name(to),
                    (long long)k);
        print_num("  got", g);
        print_num("  want", want);
        fail();
      }
    }
    free(got);
    tsr_array_destroy(&r);
    operand_free(&a);
  }
  tsr_array *x = vec(ctx, TSR_FLOAT64, 1, (double[]){1}, 1), *r = NULL;
  assert_fails(tsr_astype(x, (tsr_dtype)42, &r), TSR_EINVAL, "dtype = 42");
  tsr_array_destroy(&x);
}

/* ---- fusion ---------------------------------------------------------------------- */

/* Step k of a deterministic chain over y and the leaf x, using only
 * exactly rounded operations, in the library and in the reference. */
static tsr_status chain_lib(int k, tsr_array *y, tsr_array *x, tsr_array **r) {
  switch (k % 7) {
  case 0:
    return tsr_binary_scalar(TSR_OP_MUL, y, 1.0009765625, r);
  case 1:
    return tsr_add(y, x, r);
  case 2:
    return tsr_scalar_binary(TSR_OP_SUB, 0.75, y, r);
  case 3:
    return tsr_unary(TSR_OP_ABS, y, r);
  case 4:
    return tsr_unary(TSR_OP_SQRT, y, r);
  case 5:
    return tsr_binary(TSR_OP_MAXIMUM, y, x, r);
  default:
    return tsr_binary_scalar(TSR_OP_DIV, y, 1.5, r);
  }
}

static double chain_ref(int k, double y, double x) {
  switch (k % 7) {
  case 0:
    return y * 1.0009765625;
  case 1:
    return y + x;
  case 2:
    return 0.75 - y;
  case 3:
    return fabs(y);
  case 4:
    return sqrt(y);
  case 5:
    return y != y || x != x ? NAN : y > x ? y : x;
  default:
    return y / 1.5;
  }
}

static const tsr__fused *fused_of(const tsr_array *a) {
  return tsr__expr_is_fused(a->expr) ? a->expr->params : NULL;
}

/* Returns false (after cleaning up) if building the chain failed. */
static bool check_chain(tsr_ctx *ctx, int steps) {
  int64_t shape[2] = {37, 29}, chunks[2] = {8, 10};
  const int64_t n = 37 * 29;
  tsr_array *x = NULL, *y = NULL;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 5, 2, shape, chunks, &x));
  assert_ok(tsr_astype(x, TSR_FLOAT64, &y)); /* a second handle on x */
  for (int k = 0; k < steps; k++) {
    tsr_array *next = NULL;
    tsr_status s = chain_lib(k, y, x, &next);
    if (s != TSR_OK) {
      print_error("REGRESSION: step %d of a chain of %d: %s: %s\n", k, steps, tsr_status_name(s),
                  tsr_last_error());
      tsr_array_destroy(&x);
      tsr_array_destroy(&y);
      return false;
    }
    tsr_array_destroy(&y);
    y = next;
  }
  if (steps <= 40) { /* short chains are one program over the one leaf */
    const tsr__fused *f = fused_of(y);
    assert_non_null(f);
    assert_int_equal(f->n_leaves, 1);
  }
  double *got = malloc((size_t)n * 8);
  assert_ok(tsr_array_to_buffer(y, got, (size_t)n * 8));
  for (int64_t i = 0; i < n; i++) {
    double rx = tsr_random_normal(5, (uint64_t)i), ry = rx;
    for (int k = 0; k < steps; k++)
      ry = chain_ref(k, ry, rx);
    if (!(got[i] == ry || (got[i] != got[i] && ry != ry))) {
      print_error("chain of %d, element %lld: got %.17g want %.17g\n", steps, (long long)i, got[i],
                  ry);
      fail();
    }
  }
  free(got);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  return true;
}

static void test_elementwise__fused_chain_of_20(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 2);
  assert_true(check_chain(ctx, 20));
}

static void test_elementwise__fused_chain_longer_than_a_program(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 2);
  /* Every length up to 200 ops (the program limit is 128 instructions). */
  for (int steps = 30; steps <= 200; steps++) {
    if (!check_chain(ctx, steps)) {
      /* Was a bug (fixed): an elementwise op whose input's program fits in one program
       * but whose own instructions would overflow it fails with TSR_ENOTSUP
       * "fused program longer than 128 instructions" instead of reading the
       * input as a materialized leaf (tsr__builder_add only falls back when
       * inlining itself overflows; the instructions emitted after it have no
       * fallback).  Here the chain of 125 fails at its last op,
       * y = maximum(y, x); minimal: x random (4,), y = x, then alternately
       * y = sqrt(y) and y = y + x: op 127 fails. */
      fail();
    }
  }
}

static void test_elementwise__same_leaf_many_times(void **state) {
  tsr_ctx *ctx = *state;
  configure(ctx, 3);
  int64_t shape[1] = {1000}, chunk = 64;
  double *v = malloc(1000 * 8);
  for (int i = 0; i < 1000; i++)
    v[i] = (i - 500) * 0.01;
  for (int mode = 0; mode < 2; mode++) {
    tsr_array *x = NULL;
    if (mode == 0)
      assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, shape, &chunk, v, TSR_BUFFER_BORROW,
                                      NULL, NULL, &x));
    else
      assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 3, 1, shape, &chunk, &x));
    tsr_array *xx = binop(TSR_OP_MUL, x, x), *xxx = binop(TSR_OP_MUL, xx, x);
    tsr_array *s = binop(TSR_OP_ADD, xxx, xx), *t = binop(TSR_OP_SUB, s, x); /* x^3 + x^2 - x */
    assert_int_equal(fused_of(t)->n_leaves, 1);
    double *got = malloc(1000 * 8);
    assert_ok(tsr_array_to_buffer(t, got, 1000 * 8));
    for (int i = 0; i < 1000; i++) {
      double a = mode == 0 ? v[i] : tsr_random_uniform(3, (uint64_t)i);
      double want = (a * a * a + a * a) - a;
      assert_true(got[i] == want);
    }
    free(got);
    tsr_array_destroy(&x);
    tsr_array_destroy(&xx);
    tsr_array_destroy(&xxx);
    tsr_array_destroy(&s);
    tsr_array_destroy(&t);
  }
  free(v);
}

/* 40 different leaves (more than the 32 one program reads), memory and task
 * leaves mixed, summed left to right. */
static void test_elementwise__many_leaves(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 40, LEN = 300 };
  int64_t shape[2] = {15, 20}, chunks[2] = {4, 7};
  double *bufs[N];
  tsr_array *leaves[N];
  for (int k = 0; k < N; k++) {
    bufs[k] = malloc(LEN * 8);
    for (int i = 0; i < LEN; i++)
      bufs[k][i] = k % 3 == 2 ? tsr_random_uniform(100 + (uint64_t)k, (uint64_t)i)
                              : (double)((i * 7 + k * 13) % 101) * 0.37;
    if (k % 3 == 2)
      assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 100 + (uint64_t)k, 2, shape, chunks,
                                 &leaves[k]));
    else
      assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, chunks, bufs[k],
                                      k % 3 ? TSR_BUFFER_COPY : TSR_BUFFER_BORROW, NULL, NULL,
                                      &leaves[k]));
  }
  for (int config = 0; config < 4; config++) {
    configure(ctx, config);
    tsr_array *sum = NULL;
    assert_ok(tsr_astype(leaves[0], TSR_FLOAT64, &sum));
    for (int k = 1; k < N; k++) {
      tsr_array *next = NULL;
      tsr_status s = tsr_add(sum, leaves[k], &next);
      if (s != TSR_OK) {
        /* Was a bug (fixed): adding a 33rd leaf to a fused expression of 32 leaves fails
         * with TSR_ENOTSUP "more than 32 arrays in one fused expression":
         * inlining the 32-leaf program succeeds, then the new leaf does not
         * fit and there is no fallback to reading the expression as a
         * materialized leaf. */
        print_error("REGRESSION: leaf %d: %s: %s\n", k, tsr_status_name(s), tsr_last_error());
        tsr_array_destroy(&sum);
        for (int j = 0; j < N; j++) {
          tsr_array_destroy(&leaves[j]);
          free(bufs[j]);
        }
        fail();
      }
      tsr_array_destroy(&sum);
      sum = next;
    }
    double got[LEN];
    assert_ok(tsr_array_to_buffer(sum, got, sizeof got));
    for (int i = 0; i < LEN; i++) {
      double want = bufs[0][i];
      for (int k = 1; k < N; k++)
        want += bufs[k][i];
      assert_true(got[i] == want);
    }
    tsr_array_destroy(&sum);
  }
  for (int k = 0; k < N; k++) {
    tsr_array_destroy(&leaves[k]);
    free(bufs[k]);
  }
}

/* Counts the tasks lowering `a` makes (internal API: the public
 * tsr_array_to_buffers_ex with its statistics is not on this branch). */
static uint32_t count_tasks(tsr_ctx *ctx, tsr_array *a) {
  tsr_taskgraph *g = NULL;
  tsr__lowering *l = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  assert_ok(tsr__lowering_create(ctx, g, &l));
  const uint32_t *ids;
  assert_ok(tsr__lowering_lower(l, a->expr, &ids));
  uint32_t n = tsr_taskgraph_ntasks(g);
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&g);
  return n;
}

/* The task graph shows fusion: sqrt(x*x + y*y) * 0.5 is one task per chunk
 * on top of its inputs' tasks, and none at all for user buffers. */
static void test_elementwise__graph_is_fused(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {10, 9}, chunks[2] = {4, 3}; /* 3 x 3 = 9 chunks */
  double *v = calloc(90, 8);
  for (int mem = 0; mem < 2; mem++) {
    tsr_array *x = NULL, *y = NULL;
    if (mem) {
      assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, chunks, v, TSR_BUFFER_BORROW,
                                      NULL, NULL, &x));
      assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, chunks, v, TSR_BUFFER_COPY, NULL,
                                      NULL, &y));
    } else {
      assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 1, 2, shape, chunks, &x));
      assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 2, 2, shape, chunks, &y));
    }
    tsr_array *xx = binop(TSR_OP_MUL, x, x), *yy = binop(TSR_OP_MUL, y, y);
    tsr_array *s = binop(TSR_OP_ADD, xx, yy), *q = NULL, *h = NULL;
    assert_ok(tsr_unary(TSR_OP_SQRT, s, &q));
    assert_ok(tsr_binary_scalar(TSR_OP_MUL, q, 0.5, &h));
    assert_int_equal(fused_of(h)->n_leaves, 2);
    assert_int_equal(count_tasks(ctx, h), mem ? 9 : 27);
    tsr_array *arrs[5] = {x, y, xx, yy, s};
    for (int k = 0; k < 5; k++)
      tsr_array_destroy(&arrs[k]);
    tsr_array_destroy(&q);
    tsr_array_destroy(&h);
  }
  free(v);
}

typedef struct kernel_counts {
  uint64_t tasks, sum, combine, elementwise, random, store;
} kernel_counts;

static void collect_counts(const tsr_run_stats *st, void *user) {
  kernel_counts *c = user;
  c->tasks = st->tasks;
  for (uint32_t k = 0; k < st->n_kernels; k++) {
    const char *name = st->kernels[k].name;
    uint64_t n = st->kernels[k].tasks;
    if (strcmp(name, "sum") == 0)
      c->sum += n;
    else if (strcmp(name, "sum-combine") == 0)
      c->combine += n;
    else if (strcmp(name, "elementwise") == 0)
      c->elementwise += n;
    else if (strcmp(name, "random") == 0)
      c->random += n;
    else if (strcmp(name, "store") == 0)
      c->store += n;
  }
}

/* Workload A2's shape, sum(sqrt(x*x + y*y) * 0.5 + 1), seen through the
 * public observability: one fused "sum" task per input chunk plus the
 * combine tree (10 chunks, split_every 8: 2 + 1 combines), no elementwise
 * tasks; and the DOT file names the same tasks. */
static void test_elementwise__compute_options_graph(void **state) {
  tsr_ctx *ctx = *state;
  int64_t n = 100, chunk = 10;
  double *xv = malloc(100 * sizeof *xv), *yv = malloc(100 * sizeof *yv);
  for (int i = 0; i < 100; i++) {
    xv[i] = i * 0.01;
    yv[i] = 1 - i * 0.01;
  }
  for (int mem = 0; mem < 2; mem++) {
    tsr_array *x = NULL, *y = NULL;
    if (mem) {
      assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, &chunk, xv, TSR_BUFFER_BORROW, NULL,
                                      NULL, &x));
      assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, &chunk, yv, TSR_BUFFER_BORROW, NULL,
                                      NULL, &y));
    } else {
      assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 1, 1, &n, &chunk, &x));
      assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 2, 1, &n, &chunk, &y));
    }
    tsr_array *xx = binop(TSR_OP_MUL, x, x), *yy = binop(TSR_OP_MUL, y, y);
    tsr_array *h = binop(TSR_OP_ADD, xx, yy), *r = NULL, *half = NULL, *plus = NULL, *sum = NULL;
    assert_ok(tsr_unary(TSR_OP_SQRT, h, &r));
    assert_ok(tsr_binary_scalar(TSR_OP_MUL, r, 0.5, &half));
    assert_ok(tsr_binary_scalar(TSR_OP_ADD, half, 1, &plus));
    assert_ok(tsr_sum(plus, NULL, 0, false, &sum));
    kernel_counts c = {0};
    char dot[64];
    snprintf(dot, sizeof dot, "test_elementwise_a2_%d.dot", mem);
    tsr_compute_options o = {.dot_path = dot, .on_stats = collect_counts, .stats_user = &c};
    double got = 0, want = 0;
    void *buf = &got;
    size_t bytes = sizeof got;
    assert_ok(tsr_array_to_buffers_ex(1, &sum, &buf, &bytes, &o));
    assert_int_equal(c.sum, 10);
    assert_int_equal(c.combine, 3);
    assert_int_equal(c.elementwise, 0);
    assert_int_equal(c.random, mem ? 0 : 20);
    assert_int_equal(c.store, 1);
    assert_int_equal(c.tasks, mem ? 14 : 34);
    if (mem) {
      for (int i = 0; i < 100; i++)
        want += sqrt(xv[i] * xv[i] + yv[i] * yv[i]) * 0.5 + 1;
      assert_true(fabs(got - want) <= 1e-12 * fabs(want));
    }
    FILE *f = fopen(dot, "r");
    assert_non_null(f);
    char line[256];
    int sum_nodes = 0;
    while (fgets(line, sizeof line, f) != NULL)
      sum_nodes += strstr(line, "label=\"sum\\n") != NULL;
    fclose(f);
    remove(dot);
    assert_int_equal(sum_nodes, 10);
    tsr_array *arrs[] = {x, y, xx, yy, h, r, half, plus, sum};
    for (size_t k = 0; k < sizeof arrs / sizeof *arrs; k++)
      tsr_array_destroy(&arrs[k]);
  }
  free(xv);
  free(yv);
}

/* ---- determinism ---------------------------------------------------------------- */

static void test_elementwise__bitwise_identical_across_threads(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[3] = {13, 17, 11}, chunks[3] = {5, 4, 11};
  const int64_t n = 13 * 17 * 11;
  float *fb = malloc((size_t)n * 4);
  for (int64_t i = 0; i < n; i++)
    fb[i] = (float)((i * 37) % 1001) * 0.013f - 5;
  tsr_array *x = NULL, *y = NULL, *f = NULL;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 77, 3, shape, chunks, &x));
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 78, 3, shape, (int64_t[]){5, 4, -1}, &y));
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT32, 2, shape + 1, NULL, fb, TSR_BUFFER_BORROW, NULL,
                                  NULL, &f));
  tsr_array *sx = NULL, *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL;
  assert_ok(tsr_unary(TSR_OP_SIN, x, &sx));
  e1 = binop(TSR_OP_MUL, sx, y);
  e2 = binop(TSR_OP_ARCTAN2, e1, f);
  e3 = binop(TSR_OP_HYPOT, e2, x);
  assert_ok(tsr_unary(TSR_OP_EXP, e3, &e4));
  void *ref = NULL;
  static const struct {
    tsr_executor ex;
    int threads;
  } configs[] = {{TSR_EXECUTOR_SERIAL, 1},
                 {TSR_EXECUTOR_OMP, 1},
                 {TSR_EXECUTOR_OMP, 2},
                 {TSR_EXECUTOR_OMP, 8}};
  for (int c = 0; c < 4; c++) {
    assert_ok(tsr_ctx_set_executor(ctx, configs[c].ex));
    assert_ok(tsr_ctx_set_threads(ctx, configs[c].threads));
    for (int rep = 0; rep < 2; rep++) {
      void *got = compute(e4);
      if (ref == NULL)
        ref = got;
      else {
        assert_memory_equal(got, ref, (size_t)n * 8);
        free(got);
      }
    }
  }
  free(ref);
  tsr_array *all[] = {x, y, f, sx, e1, e2, e3, e4};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
    tsr_array_destroy(&all[k]);
  free(fb);
}

#define T(name) cmocka_unit_test_setup_teardown(name, test_ctx_setup, test_ctx_teardown)

int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_elementwise__core_ops_every_dtype_pair),
      T(test_elementwise__every_op_representative_dtypes),
      T(test_elementwise__integer_and_float_edge_values),
      T(test_elementwise__result_dtypes),
      T(test_elementwise__broadcasting),
      T(test_elementwise__different_chunkings_unify),
      T(test_elementwise__memory_leaf_any_chunking),
      T(test_elementwise__weak_scalars_differential),
      T(test_elementwise__weak_scalar_cases),
      T(test_elementwise__unary_differential),
      T(test_elementwise__unary_special_values),
      T(test_elementwise__where_differential),
      T(test_elementwise__clip),
      T(test_elementwise__astype),
      T(test_elementwise__fused_chain_of_20),
      T(test_elementwise__fused_chain_longer_than_a_program),
      T(test_elementwise__same_leaf_many_times),
      T(test_elementwise__many_leaves),
      T(test_elementwise__graph_is_fused),
      T(test_elementwise__compute_options_graph),
      T(test_elementwise__bitwise_identical_across_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
