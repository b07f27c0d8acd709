/* elementwise.c — the public elementwise operations: NumPy's dtype rules
 * (promotion, weak Python-like scalars, true division, float results of
 * math functions), then one instruction appended to a fused program.
 *
 * Nothing is computed here: each call returns a fused node whose program
 * inlines the programs of fused inputs, so x*x + y*y is one program over
 * two leaves, run as one task per chunk (fused.c). */
#include <math.h>
#include <string.h>

#include "fused.h"

static const char *const binary_names[TSR_NUM_BINARY_OPS] = {
    "add",         "subtract",      "multiply",    "true_divide", "floor_divide",
    "remainder",   "power",         "maximum",     "minimum",     "arctan2",
    "hypot",       "equal",         "not_equal",   "less",        "less_equal",
    "greater",     "greater_equal", "logical_and", "logical_or",  "logical_xor",
    "bitwise_and", "bitwise_or",    "bitwise_xor", "left_shift",  "right_shift"};

static const char *const unary_names[TSR_NUM_UNARY_OPS] = {
    "negative", "positive", "absolute", "sign",    "square",   "sqrt",        "cbrt",
    "exp",      "exp2",     "expm1",    "log",     "log1p",    "log2",        "log10",
    "sin",      "cos",      "tan",      "arcsin",  "arccos",   "arctan",      "sinh",
    "cosh",     "tanh",     "arcsinh",  "arccosh", "arctanh",  "floor",       "ceil",
    "round",    "trunc",    "isnan",    "isinf",   "isfinite", "logical_not", "invert"};

const char *tsr_binary_op_name(tsr_binary_op op) {
  return (unsigned)op < TSR_NUM_BINARY_OPS ? binary_names[op] : "invalid";
}
const char *tsr_unary_op_name(tsr_unary_op op) {
  return (unsigned)op < TSR_NUM_UNARY_OPS ? unary_names[op] : "invalid";
}

/* The float dtype NumPy computes math functions of `t` in (it would use
 * float16 for bool, int8 and uint8; tessera has no float16, so float32). */
static tsr_dtype float_for(tsr_dtype t) {
  switch (t) {
  case TSR_FLOAT32:
  case TSR_BOOL:
  case TSR_INT8:
  case TSR_UINT8:
  case TSR_INT16:
  case TSR_UINT16:
    return TSR_FLOAT32;
  default:
    return TSR_FLOAT64;
  }
}

static bool is_comparison(tsr_binary_op op) { return op >= TSR_OP_EQ && op <= TSR_OP_GE; }
static bool is_logical(tsr_binary_op op) {
  return op >= TSR_OP_LOGICAL_AND && op <= TSR_OP_LOGICAL_XOR;
}

static tsr_status check_array(const char *fn, const char *name, const tsr_array *a) {
  TSR_CHECK(a != NULL && a->expr != NULL, TSR_EINVAL, "%s: %s is NULL", fn, name);
  return TSR_OK;
}

static tsr_status wrap(tsr__builder *b, tsr_ctx *ctx, const char *fn, uint16_t result,
                       tsr_array **out) {
  tsr__expr *e;
  TSR_TRY(tsr__builder_finish(b, ctx, fn, result, &e));
  return tsr__array_wrap(e, out);
}

/* Emits op on registers ra, rb (of dtypes ta, tb), applying the op's dtype
 * rules; *result is the register of the result. */
static tsr_status emit_binary(tsr__builder *b, const char *fn, tsr_binary_op op, uint16_t ra,
                              uint16_t rb, uint16_t *result) {
  tsr_dtype ta = (tsr_dtype)b->prog.code[ra].dtype, tb = (tsr_dtype)b->prog.code[rb].dtype, ct;
  TSR_TRY(tsr_dtype_promote(ta, tb, &ct));
  tsr_dtype rt = ct;
  if (is_comparison(op)) {
    rt = TSR_BOOL;
  } else if (is_logical(op)) {
    ct = rt = TSR_BOOL;
  } else {
    switch (op) {
    case TSR_OP_SUB:
      TSR_CHECK(ct != TSR_BOOL, TSR_EDTYPE,
                "%s: subtract of two bool arrays is not supported (use logical_xor)", fn);
      break;
    case TSR_OP_DIV:
      if (!tsr_dtype_is_float(ct))
        ct = rt = TSR_FLOAT64;
      break;
    case TSR_OP_ARCTAN2:
    case TSR_OP_HYPOT:
      ct = rt = float_for(ct);
      break;
    case TSR_OP_FLOORDIV:
    case TSR_OP_MOD:
    case TSR_OP_POW:
    case TSR_OP_LEFT_SHIFT:
    case TSR_OP_RIGHT_SHIFT:
      if (ct == TSR_BOOL)
        ct = rt = TSR_INT8;
      TSR_CHECK(!tsr_dtype_is_float(ct) || op < TSR_OP_LEFT_SHIFT, TSR_EDTYPE,
                "%s: %s is not supported for %s", fn, tsr_binary_op_name(op), tsr_dtype_name(ct));
      break;
    case TSR_OP_BITWISE_AND:
    case TSR_OP_BITWISE_OR:
    case TSR_OP_BITWISE_XOR:
      TSR_CHECK(!tsr_dtype_is_float(ct), TSR_EDTYPE, "%s: %s is not supported for %s", fn,
                tsr_binary_op_name(op), tsr_dtype_name(ct));
      break;
    default:
      break;
    }
  }
  uint16_t ca, cb;
  TSR_TRY(tsr__program_cast(&b->prog, ra, ct, &ca));
  TSR_TRY(tsr__program_cast(&b->prog, rb, ct, &cb));
  tsr__instr in = {.code = TSR__I_BINARY,
                   .op = (uint8_t)op,
                   .dtype = (uint8_t)rt,
                   .src_dtype = (uint8_t)ct,
                   .a = ca,
                   .b = cb};
  return tsr__program_emit(&b->prog, in, result);
}

tsr_status tsr_binary(tsr_binary_op op, tsr_array *a, tsr_array *b, tsr_array **out) {
  static const char fn[] = "tsr_binary";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK((unsigned)op < TSR_NUM_BINARY_OPS, TSR_EINVAL, "%s: op = %d is not a tsr_binary_op", fn,
            (int)op);
  TSR_TRY(check_array(fn, "a", a));
  TSR_TRY(check_array(fn, "b", b));
  TSR_CHECK(a->expr->ctx == b->expr->ctx, TSR_EINVAL,
            "%s (%s): a and b belong to different contexts", fn, tsr_binary_op_name(op));
  tsr__builder *bl;
  TSR_TRY(tsr_alloc(a->expr->ctx, sizeof *bl, (void **)&bl));
  tsr__builder_init(bl);
  uint16_t ra, rb, r;
  tsr_status status = tsr__builder_add(bl, tsr_binary_op_name(op), a->expr, &ra);
  if (status == TSR_OK)
    status = tsr__builder_add(bl, tsr_binary_op_name(op), b->expr, &rb);
  if (status == TSR_OK)
    status = emit_binary(bl, tsr_binary_op_name(op), op, ra, rb, &r);
  if (status == TSR_OK)
    status = wrap(bl, a->expr->ctx, tsr_binary_op_name(op), r, out);
  tsr_free(a->expr->ctx, bl);
  return status;
}

/* NEP 50: the dtype a weak scalar takes next to an array of dtype t.
 * *array_as is the dtype the array must be cast to first (a comparison with
 * an integer out of the array's range is done in float64, which gives the
 * mathematically right answer as NumPy 2 does). */
static tsr_status weak_scalar_dtype(const char *fn, tsr_binary_op op, tsr_dtype t, double s,
                                    tsr_dtype *scalar_as, tsr_dtype *array_as) {
  bool integral = isfinite(s) && floor(s) == s;
  *array_as = t;
  if (tsr_dtype_is_float(t)) {
    *scalar_as = t;
  } else if (!integral) {
    *scalar_as = TSR_FLOAT64;
  } else if (t == TSR_BOOL) {
    *scalar_as = TSR_INT64;
  } else if (tsr__value_fits(t, s) /* s is integral here */) {
    *scalar_as = t;
  } else if (is_comparison(op)) {
    *scalar_as = *array_as = TSR_FLOAT64;
  } else {
    return tsr_error_set(TSR_EINVAL, "%s: scalar %.17g is out of bounds for %s", fn, s,
                         tsr_dtype_name(t));
  }
  return TSR_OK;
}

static tsr_status binary_with_scalar(tsr_binary_op op, tsr_array *a, double s, bool scalar_first,
                                     tsr_array **out) {
  const char *fn = scalar_first ? "tsr_scalar_binary" : "tsr_binary_scalar";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK((unsigned)op < TSR_NUM_BINARY_OPS, TSR_EINVAL, "%s: op = %d is not a tsr_binary_op", fn,
            (int)op);
  TSR_TRY(check_array(fn, "a", a));
  tsr_dtype scalar_as = TSR_FLOAT64, array_as = TSR_FLOAT64;
  TSR_TRY(weak_scalar_dtype(tsr_binary_op_name(op), op, a->expr->dtype, s, &scalar_as, &array_as));
  tsr_ctx *ctx = a->expr->ctx;
  tsr__builder *bl;
  TSR_TRY(tsr_alloc(ctx, sizeof *bl, (void **)&bl));
  tsr__builder_init(bl);
  uint16_t ra, rs, r;
  tsr_status status = tsr__builder_add(bl, tsr_binary_op_name(op), a->expr, &ra);
  if (status == TSR_OK)
    status = tsr__program_cast(&bl->prog, ra, array_as, &ra);
  if (status == TSR_OK)
    status = tsr__program_const(&bl->prog, scalar_as, s, &rs);
  if (status == TSR_OK)
    status = scalar_first ? emit_binary(bl, tsr_binary_op_name(op), op, rs, ra, &r)
                          : emit_binary(bl, tsr_binary_op_name(op), op, ra, rs, &r);
  if (status == TSR_OK)
    status = wrap(bl, ctx, tsr_binary_op_name(op), r, out);
  tsr_free(ctx, bl);
  return status;
}

/* The comparison with a and b swapped (s op x is x op' s). */
static tsr_binary_op mirror(tsr_binary_op op) {
  switch (op) {
  case TSR_OP_LT:
    return TSR_OP_GT;
  case TSR_OP_LE:
    return TSR_OP_GE;
  case TSR_OP_GT:
    return TSR_OP_LT;
  case TSR_OP_GE:
    return TSR_OP_LE;
  default:
    return op;
  }
}

/* Integer dtypes' bounds as (bits, is_unsigned) pairs for constants. */
static void int_bounds(tsr_dtype t, int64_t *lo, uint64_t *hi) {
  switch (t) {
  case TSR_INT8:
    *lo = INT8_MIN, *hi = INT8_MAX;
    break;
  case TSR_INT16:
    *lo = INT16_MIN, *hi = INT16_MAX;
    break;
  case TSR_INT32:
    *lo = INT32_MIN, *hi = INT32_MAX;
    break;
  case TSR_INT64:
    *lo = INT64_MIN, *hi = INT64_MAX;
    break;
  case TSR_UINT8:
    *lo = 0, *hi = UINT8_MAX;
    break;
  case TSR_UINT16:
    *lo = 0, *hi = UINT16_MAX;
    break;
  case TSR_UINT32:
    *lo = 0, *hi = UINT32_MAX;
    break;
  default:
    *lo = 0, *hi = UINT64_MAX;
    break;
  }
}

/* a op s (or s op a) with an integer weak scalar, exactly: NumPy 2's rules
 * for a Python int.  Next to a float array it becomes that float dtype,
 * next to bool int64, next to an integer dtype that dtype when it fits.
 * A comparison with an integer out of the dtype's range has the same
 * answer as a comparison with the range's nearest end (x < 1000 for int8
 * x is x <= 127: always true), so it is made with that end, exactly; any
 * other operation is TSR_EINVAL ("out of bounds"), as NumPy's
 * OverflowError. */
static tsr_status binary_with_int(tsr_binary_op op, tsr_array *a, uint64_t bits, bool is_unsigned,
                                  bool scalar_first, tsr_array **out) {
  const char *fn = scalar_first ? (is_unsigned ? "tsr_scalar_binary_u64" : "tsr_scalar_binary_i64")
                                : (is_unsigned ? "tsr_binary_scalar_u64" : "tsr_binary_scalar_i64");
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK((unsigned)op < TSR_NUM_BINARY_OPS, TSR_EINVAL, "%s: op = %d is not a tsr_binary_op", fn,
            (int)op);
  TSR_TRY(check_array(fn, "a", a));
  const char *name = tsr_binary_op_name(op);
  tsr_dtype t = a->expr->dtype, scalar_as = t;
  tsr_binary_op eff = scalar_first ? mirror(op) : op; /* as array op scalar */
  bool swap_ok = is_comparison(op);
  if (t == TSR_BOOL)
    scalar_as = TSR_INT64;
  if (!tsr_dtype_is_float(scalar_as) && !tsr__int_fits(scalar_as, bits, is_unsigned)) {
    if (!swap_ok) {
      if (is_unsigned)
        return tsr_error_set(TSR_EINVAL, "%s: scalar %llu is out of bounds for %s", name,
                             (unsigned long long)bits, tsr_dtype_name(scalar_as));
      return tsr_error_set(TSR_EINVAL, "%s: scalar %lld is out of bounds for %s", name,
                           (long long)bits, tsr_dtype_name(scalar_as));
    }
    /* Above the range: x < s, x <= s, x != s hold; below it the others. */
    int64_t lo;
    uint64_t hi;
    int_bounds(scalar_as, &lo, &hi);
    bool above = is_unsigned || (int64_t)bits >= 0;
    if (above) {
      bits = hi;
      is_unsigned = true;
      eff = eff == TSR_OP_LT || eff == TSR_OP_LE || eff == TSR_OP_NE ? TSR_OP_LE : TSR_OP_GT;
    } else {
      bits = (uint64_t)lo;
      is_unsigned = false;
      eff = eff == TSR_OP_GT || eff == TSR_OP_GE || eff == TSR_OP_NE ? TSR_OP_GE : TSR_OP_LT;
    }
    scalar_first = false;
    op = eff;
  }
  tsr_ctx *ctx = a->expr->ctx;
  tsr__builder *bl;
  TSR_TRY(tsr_alloc(ctx, sizeof *bl, (void **)&bl));
  tsr__builder_init(bl);
  uint16_t ra, rs, r;
  tsr_status status = tsr__builder_add(bl, name, a->expr, &ra);
  if (status == TSR_OK)
    status = tsr__program_const_int(&bl->prog, scalar_as, bits, is_unsigned, &rs);
  if (status == TSR_OK)
    status = scalar_first ? emit_binary(bl, name, op, rs, ra, &r)
                          : emit_binary(bl, name, op, ra, rs, &r);
  if (status == TSR_OK)
    status = wrap(bl, ctx, name, r, out);
  tsr_free(ctx, bl);
  return status;
}

tsr_status tsr_binary_scalar_i64(tsr_binary_op op, tsr_array *a, int64_t s, tsr_array **out) {
  return binary_with_int(op, a, (uint64_t)s, false, false, out);
}
tsr_status tsr_scalar_binary_i64(tsr_binary_op op, int64_t s, tsr_array *a, tsr_array **out) {
  return binary_with_int(op, a, (uint64_t)s, false, true, out);
}
tsr_status tsr_binary_scalar_u64(tsr_binary_op op, tsr_array *a, uint64_t s, tsr_array **out) {
  return binary_with_int(op, a, s, true, false, out);
}
tsr_status tsr_scalar_binary_u64(tsr_binary_op op, uint64_t s, tsr_array *a, tsr_array **out) {
  return binary_with_int(op, a, s, true, true, out);
}

tsr_status tsr_binary_scalar(tsr_binary_op op, tsr_array *a, double s, tsr_array **out) {
  return binary_with_scalar(op, a, s, false, out);
}
tsr_status tsr_scalar_binary(tsr_binary_op op, double s, tsr_array *a, tsr_array **out) {
  return binary_with_scalar(op, a, s, true, out);
}

tsr_status tsr_add(tsr_array *a, tsr_array *b, tsr_array **out) {
  return tsr_binary(TSR_OP_ADD, a, b, out);
}
tsr_status tsr_sub(tsr_array *a, tsr_array *b, tsr_array **out) {
  return tsr_binary(TSR_OP_SUB, a, b, out);
}
tsr_status tsr_mul(tsr_array *a, tsr_array *b, tsr_array **out) {
  return tsr_binary(TSR_OP_MUL, a, b, out);
}
tsr_status tsr_div(tsr_array *a, tsr_array *b, tsr_array **out) {
  return tsr_binary(TSR_OP_DIV, a, b, out);
}

static bool is_math_function(tsr_unary_op op) { return op >= TSR_OP_SQRT && op <= TSR_OP_ARCTANH; }

tsr_status tsr_unary(tsr_unary_op op, tsr_array *a, tsr_array **out) {
  static const char fn[] = "tsr_unary";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK((unsigned)op < TSR_NUM_UNARY_OPS, TSR_EINVAL, "%s: op = %d is not a tsr_unary_op", fn,
            (int)op);
  TSR_TRY(check_array(fn, "a", a));
  const char *name = tsr_unary_op_name(op);
  tsr_dtype t = a->expr->dtype, ct = t, rt = t;
  if (is_math_function(op))
    ct = rt = float_for(t);
  else if (op == TSR_OP_ISNAN || op == TSR_OP_ISINF || op == TSR_OP_ISFINITE ||
           op == TSR_OP_LOGICAL_NOT)
    rt = TSR_BOOL;
  TSR_CHECK(!(op == TSR_OP_NEGATIVE && t == TSR_BOOL), TSR_EDTYPE,
            "%s: negative of a bool array is not supported (use logical_not)", name);
  TSR_CHECK(!(op == TSR_OP_INVERT && tsr_dtype_is_float(t)), TSR_EDTYPE,
            "%s: invert is not supported for %s", name, tsr_dtype_name(t));
  tsr_ctx *ctx = a->expr->ctx;
  tsr__builder *bl;
  TSR_TRY(tsr_alloc(ctx, sizeof *bl, (void **)&bl));
  tsr__builder_init(bl);
  uint16_t ra, r;
  tsr_status status = tsr__builder_add(bl, name, a->expr, &ra);
  if (status == TSR_OK)
    status = tsr__program_cast(&bl->prog, ra, ct, &ra);
  if (status == TSR_OK) {
    tsr__instr in = {.code = TSR__I_UNARY,
                     .op = (uint8_t)op,
                     .dtype = (uint8_t)rt,
                     .src_dtype = (uint8_t)ct,
                     .a = ra};
    status = tsr__program_emit(&bl->prog, in, &r);
  }
  if (status == TSR_OK)
    status = wrap(bl, ctx, name, r, out);
  tsr_free(ctx, bl);
  return status;
}

tsr_status tsr_where(tsr_array *cond, tsr_array *a, tsr_array *b, tsr_array **out) {
  static const char fn[] = "tsr_where";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_TRY(check_array(fn, "cond", cond));
  TSR_TRY(check_array(fn, "a", a));
  TSR_TRY(check_array(fn, "b", b));
  tsr_ctx *ctx = cond->expr->ctx;
  TSR_CHECK(a->expr->ctx == ctx && b->expr->ctx == ctx, TSR_EINVAL,
            "%s: cond, a and b belong to different contexts", fn);
  tsr_dtype ct;
  TSR_TRY(tsr_dtype_promote(a->expr->dtype, b->expr->dtype, &ct));
  tsr__builder *bl;
  TSR_TRY(tsr_alloc(ctx, sizeof *bl, (void **)&bl));
  tsr__builder_init(bl);
  uint16_t rc, ra, rb, r;
  tsr_status status = tsr__builder_add(bl, fn, cond->expr, &rc);
  if (status == TSR_OK)
    status = tsr__builder_add(bl, fn, a->expr, &ra);
  if (status == TSR_OK)
    status = tsr__builder_add(bl, fn, b->expr, &rb);
  if (status == TSR_OK)
    status = tsr__program_cast(&bl->prog, rc, TSR_BOOL, &rc);
  if (status == TSR_OK)
    status = tsr__program_cast(&bl->prog, ra, ct, &ra);
  if (status == TSR_OK)
    status = tsr__program_cast(&bl->prog, rb, ct, &rb);
  if (status == TSR_OK) {
    tsr__instr in = {.code = TSR__I_WHERE,
                     .dtype = (uint8_t)ct,
                     .src_dtype = (uint8_t)ct,
                     .a = rc,
                     .b = ra,
                     .c = rb};
    status = tsr__program_emit(&bl->prog, in, &r);
  }
  if (status == TSR_OK)
    status = wrap(bl, ctx, fn, r, out);
  tsr_free(ctx, bl);
  return status;
}

tsr_status tsr_astype(tsr_array *a, tsr_dtype dtype, tsr_array **out) {
  static const char fn[] = "tsr_astype";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_TRY(check_array(fn, "a", a));
  TSR_CHECK(tsr_dtype_valid(dtype), TSR_EINVAL, "%s: dtype = %d is not a tsr_dtype", fn,
            (int)dtype);
  tsr_ctx *ctx = a->expr->ctx;
  if (dtype == a->expr->dtype) { /* arrays are immutable: share the node */
    tsr__expr_retain(a->expr);
    return tsr__array_wrap(a->expr, out);
  }
  tsr__builder *bl;
  TSR_TRY(tsr_alloc(ctx, sizeof *bl, (void **)&bl));
  tsr__builder_init(bl);
  uint16_t ra, r;
  tsr_status status = tsr__builder_add(bl, fn, a->expr, &ra);
  if (status == TSR_OK)
    status = tsr__program_cast(&bl->prog, ra, dtype, &r);
  if (status == TSR_OK)
    status = wrap(bl, ctx, fn, r, out);
  tsr_free(ctx, bl);
  return status;
}

tsr_status tsr_clip(tsr_array *a, double lo, double hi, tsr_array **out) {
  static const char fn[] = "tsr_clip";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_TRY(check_array(fn, "a", a));
  TSR_CHECK(!isnan(lo) && !isnan(hi), TSR_EINVAL, "%s: a bound is NaN", fn);
  bool open_lo = isinf(lo) && lo < 0, open_hi = isinf(hi) && hi > 0;
  tsr_array *low = NULL;
  if (!open_lo)
    TSR_TRY(tsr_binary_scalar(TSR_OP_MAXIMUM, a, lo, &low));
  tsr_array *src = low ? low : a;
  tsr_status status;
  if (!open_hi) {
    status = tsr_binary_scalar(TSR_OP_MINIMUM, src, hi, out);
  } else if (low != NULL) {
    *out = low;
    return TSR_OK;
  } else {
    status = tsr_astype(a, a->expr->dtype, out);
  }
  tsr_array_destroy(&low);
  return status;
}

/* Integer bounds, exactly: maximum then minimum with weak integer scalars
 * (a bound outside the array's integer dtype is TSR_EINVAL, as there). */
static tsr_status clip_int(tsr_array *a, uint64_t lo, uint64_t hi, bool is_unsigned,
                           tsr_array **out) {
  const char *fn = is_unsigned ? "tsr_clip_u64" : "tsr_clip_i64";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_TRY(check_array(fn, "a", a));
  tsr_array *low = NULL;
  TSR_TRY(binary_with_int(TSR_OP_MAXIMUM, a, lo, is_unsigned, false, &low));
  tsr_status status = binary_with_int(TSR_OP_MINIMUM, low, hi, is_unsigned, false, out);
  tsr_array_destroy(&low);
  return status;
}

tsr_status tsr_clip_i64(tsr_array *a, int64_t lo, int64_t hi, tsr_array **out) {
  return clip_int(a, (uint64_t)lo, (uint64_t)hi, false, out);
}
tsr_status tsr_clip_u64(tsr_array *a, uint64_t lo, uint64_t hi, tsr_array **out) {
  return clip_int(a, lo, hi, true, out);
}
