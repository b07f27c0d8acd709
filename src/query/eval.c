/* eval.c — evaluates a syntax tree into values by calling the array API.
 *
 * Nothing is computed here: array operations build expression nodes.
 * Numbers stay numbers while they only meet numbers (Python's arithmetic,
 * folded here); next to an array they are NumPy 2's weak scalars
 * (tsr_binary_scalar); where a function needs an array, a number becomes a
 * 0-d array (int64, float64 or bool).  Every failure, ours or the array
 * layer's, is reported at the node that caused it (tsr__query_fail). */
#include <math.h>
#include <string.h>

#include <tessera/io.h>

#include "query_impl.h"

typedef tsr__qvalue qv;

/* Re-reports the array layer's message at `pos` (copied first: the
 * message buffer is the one tsr_error_set writes). */
static tsr_status wrap(const tsr__qeval *ev, int32_t pos, tsr_status s) {
  char msg[600];
  snprintf(msg, sizeof msg, "%s", tsr_last_error());
  return tsr__query_fail(ev->source, pos, s, "%s", msg[0] ? msg : tsr_strerror(s));
}

#define FAIL(pos, status, ...) tsr__query_fail(ev->source, (pos), (status), __VA_ARGS__)
#define API(pos, expr)                     \
  do {                                     \
    tsr_status api_status_ = (expr);       \
    if (api_status_ != TSR_OK)             \
      return wrap(ev, (pos), api_status_); \
  } while (0)

static void set_array(qv *v, tsr_array *a) {
  memset(v, 0, sizeof *v);
  v->kind = QV_ARRAY;
  v->array = a;
}
static void set_int(qv *v, int64_t i) {
  memset(v, 0, sizeof *v);
  v->kind = QV_INT;
  v->i = i;
}
static void set_uint(qv *v, uint64_t u) {
  memset(v, 0, sizeof *v);
  v->kind = QV_UINT;
  v->i = (int64_t)u;
}
static void set_float(qv *v, double f) {
  memset(v, 0, sizeof *v);
  v->kind = QV_FLOAT;
  v->f = f;
}
static void set_bool(qv *v, bool b) {
  memset(v, 0, sizeof *v);
  v->kind = QV_BOOL;
  v->b = b;
}

static bool is_number(const qv *v) {
  return v->kind == QV_BOOL || v->kind == QV_INT || v->kind == QV_UINT || v->kind == QV_FLOAT;
}
static double number(const qv *v) {
  return v->kind == QV_FLOAT  ? v->f
         : v->kind == QV_INT  ? (double)v->i
         : v->kind == QV_UINT ? (double)(uint64_t)v->i
                              : (double)v->b;
}
static int64_t integer(const qv *v) { return v->kind == QV_INT ? v->i : (int64_t)v->b; }

static tsr_dtype default_dtype(const qv *v) {
  return v->kind == QV_BOOL   ? TSR_BOOL
         : v->kind == QV_INT  ? TSR_INT64
         : v->kind == QV_UINT ? TSR_UINT64
                              : TSR_FLOAT64;
}

/* The dtype a weak scalar takes next to an array of dtype t (NEP 50). */
static tsr_dtype weak_dtype(const qv *v, tsr_dtype t) {
  if (v->kind == QV_BOOL)
    return TSR_BOOL;
  if (v->kind == QV_INT || v->kind == QV_UINT)
    return t == TSR_BOOL ? TSR_INT64 : t;
  return tsr_dtype_is_float(t) ? t : TSR_FLOAT64;
}

/* `v` as an array: a new reference, or a 0-d array of `dtype` (or the
 * number's default when dtype is TSR_NUM_DTYPES). */
/* A tuple of numbers as np.asarray makes it: a 1-D int64 array, float64
 * if any is a float, bool if all are bools. */
static tsr_status tuple_array(tsr__qeval *ev, const qv *v, int32_t pos, const char *what,
                              tsr_array **out) {
  bool flt = false, bools = v->n > 0;
  for (int i = 0; i < v->n; i++) {
    const qv *it = &v->items[i];
    if (!is_number(it) || it->kind == QV_UINT)
      return FAIL(pos, TSR_EINVAL, "%s must be an array, a number or a tuple of numbers, but item %d is %s",
                  what, i, it->kind == QV_UINT ? "an integer beyond int64" : tsr__query_value_kind_name(it));
    flt |= it->kind == QV_FLOAT;
    bools &= it->kind == QV_BOOL;
  }
  int64_t n = v->n;
  void *data = NULL;
  API(pos, tsr_alloc(ev->ctx, (size_t)(n ? n : 1) * 8, &data));
  for (int i = 0; i < v->n; i++) {
    if (bools)
      ((uint8_t *)data)[i] = (uint8_t)(integer(&v->items[i]) != 0);
    else if (flt)
      ((double *)data)[i] = number(&v->items[i]);
    else
      ((int64_t *)data)[i] = integer(&v->items[i]);
  }
  tsr_dtype dt = bools ? TSR_BOOL : flt ? TSR_FLOAT64 : TSR_INT64;
  tsr_status s = tsr_array_from_buffer(ev->ctx, dt, 1, &n, NULL, data, TSR_BUFFER_COPY, NULL,
                                       NULL, out);
  tsr_free(ev->ctx, data);
  return s == TSR_OK ? s : wrap(ev, pos, s);
}

static tsr_status as_array(tsr__qeval *ev, const qv *v, int32_t pos, const char *what,
                           tsr_dtype dtype, tsr_array **out) {
  *out = NULL;
  if (v->kind == QV_ARRAY) {
    API(pos, tsr__query_array_ref(v->array, out));
    return TSR_OK;
  }
  if (v->kind == QV_TUPLE) /* every array argument takes a tuple of numbers */
    return tuple_array(ev, v, pos, what, out);
  if (!is_number(v))
    return FAIL(pos, TSR_EINVAL, "%s must be an array or a number, not %s", what,
                tsr__query_value_kind_name(v));
  if (dtype == TSR_NUM_DTYPES)
    dtype = default_dtype(v);
  if (v->kind == QV_INT)
    API(pos, tsr_array_full_i64(ev->ctx, dtype, 0, NULL, NULL, v->i, out));
  else if (v->kind == QV_UINT)
    API(pos, tsr_array_full_u64(ev->ctx, dtype, 0, NULL, NULL, (uint64_t)v->i, out));
  else
    API(pos, tsr_array_full(ev->ctx, dtype, 0, NULL, NULL, number(v), out));
  return TSR_OK;
}

/* ---- operators ------------------------------------------------------- */

static const char *op_symbol(int tok) {
  switch (tok) {
  case QT_PLUS:
    return "+";
  case QT_MINUS:
    return "-";
  case QT_STAR:
    return "*";
  case QT_SLASH:
    return "/";
  case QT_SLASHSLASH:
    return "//";
  case QT_PERCENT:
    return "%";
  case QT_STARSTAR:
    return "**";
  case QT_AT:
    return "@";
  case QT_EQEQ:
    return "==";
  case QT_NE:
    return "!=";
  case QT_LT:
    return "<";
  case QT_LE:
    return "<=";
  case QT_GT:
    return ">";
  case QT_GE:
    return ">=";
  case QT_AMP:
    return "&";
  case QT_PIPE:
    return "|";
  case QT_CARET:
    return "^";
  case QT_LSHIFT:
    return "<<";
  case QT_RSHIFT:
    return ">>";
  case QT_TILDE:
    return "~";
  }
  return "?";
}

static tsr_binary_op binary_op_of(int tok) {
  switch (tok) {
  case QT_PLUS:
    return TSR_OP_ADD;
  case QT_MINUS:
    return TSR_OP_SUB;
  case QT_STAR:
    return TSR_OP_MUL;
  case QT_SLASH:
    return TSR_OP_DIV;
  case QT_SLASHSLASH:
    return TSR_OP_FLOORDIV;
  case QT_PERCENT:
    return TSR_OP_MOD;
  case QT_STARSTAR:
    return TSR_OP_POW;
  case QT_EQEQ:
    return TSR_OP_EQ;
  case QT_NE:
    return TSR_OP_NE;
  case QT_LT:
    return TSR_OP_LT;
  case QT_LE:
    return TSR_OP_LE;
  case QT_GT:
    return TSR_OP_GT;
  case QT_GE:
    return TSR_OP_GE;
  case QT_AMP:
    return TSR_OP_BITWISE_AND;
  case QT_PIPE:
    return TSR_OP_BITWISE_OR;
  case QT_CARET:
    return TSR_OP_BITWISE_XOR;
  case QT_LSHIFT:
    return TSR_OP_LEFT_SHIFT;
  default:
    return TSR_OP_RIGHT_SHIFT;
  }
}

/* Integer arithmetic where one operand is above INT64_MAX: as NumPy 2
 * with a uint64 scalar and a Python int — in uint64, wrapping, and the
 * other operand must be a uint64 value (a negative one is an error, as
 * NumPy's OverflowError); comparisons are exact for any signs. */
static tsr_status fold_uint(tsr__qeval *ev, int tok, const qv *a, const qv *b, int32_t pos,
                            qv *out) {
  tsr_binary_op op = binary_op_of(tok);
  uint64_t x = (uint64_t)(a->kind == QV_BOOL ? (int64_t)a->b : a->i);
  uint64_t y = (uint64_t)(b->kind == QV_BOOL ? (int64_t)b->b : b->i);
  bool xneg = a->kind == QV_INT && a->i < 0, yneg = b->kind == QV_INT && b->i < 0;
  if (op >= TSR_OP_EQ && op <= TSR_OP_GE) {
    /* A negative int is below every uint. */
    int c = xneg ? -1 : yneg ? 1 : x < y ? -1 : x > y ? 1 : 0;
    bool r = op == TSR_OP_EQ   ? c == 0
             : op == TSR_OP_NE ? c != 0
             : op == TSR_OP_LT ? c < 0
             : op == TSR_OP_LE ? c <= 0
             : op == TSR_OP_GT ? c > 0
                               : c >= 0;
    set_bool(out, r);
    return TSR_OK;
  }
  if (op == TSR_OP_DIV) {
    set_float(out,
              (xneg ? (double)(int64_t)x : (double)x) / (yneg ? (double)(int64_t)y : (double)y));
    return TSR_OK;
  }
  if (xneg || yneg)
    return FAIL(pos, TSR_EINVAL,
                "integer %lld is out of bounds for uint64 (the other operand of %s is above "
                "9223372036854775807)",
                (long long)(xneg ? (int64_t)x : (int64_t)y), op_symbol(tok));
  uint64_t r;
  switch (op) {
  case TSR_OP_ADD:
    r = x + y;
    break;
  case TSR_OP_SUB:
    r = x - y;
    break;
  case TSR_OP_MUL:
    r = x * y;
    break;
  case TSR_OP_FLOORDIV:
  case TSR_OP_MOD:
    if (y == 0)
      return FAIL(pos, TSR_EINVAL, "integer division by zero");
    r = op == TSR_OP_FLOORDIV ? x / y : x % y;
    break;
  case TSR_OP_POW:
    r = 1;
    for (uint64_t base = x, e = y; e != 0; e >>= 1) {
      if (e & 1)
        r *= base;
      base *= base;
    }
    break;
  case TSR_OP_BITWISE_AND:
    r = x & y;
    break;
  case TSR_OP_BITWISE_OR:
    r = x | y;
    break;
  case TSR_OP_BITWISE_XOR:
    r = x ^ y;
    break;
  case TSR_OP_LEFT_SHIFT:
    r = y >= 64 ? 0 : x << y;
    break;
  case TSR_OP_RIGHT_SHIFT:
    r = y >= 64 ? 0 : x >> y;
    break;
  default:
    return FAIL(pos, TSR_EINTERNAL, "operator %s cannot fold", op_symbol(tok));
  }
  set_uint(out, r);
  return TSR_OK;
}

/* Python's arithmetic on two numbers (bools count as ints; integers wrap
 * at 64 bits like NumPy's int64). */
static tsr_status fold_binary(tsr__qeval *ev, int tok, const qv *a, const qv *b, int32_t pos,
                              qv *out) {
  tsr_binary_op op = binary_op_of(tok);
  bool fl = a->kind == QV_FLOAT || b->kind == QV_FLOAT;
  if (!fl && (a->kind == QV_UINT || b->kind == QV_UINT))
    return fold_uint(ev, tok, a, b, pos, out);
  double x = number(a), y = number(b);
  int64_t i = integer(a), j = integer(b);
  uint64_t ui = (uint64_t)i, uj = (uint64_t)j;
  switch (op) {
  case TSR_OP_EQ:
  case TSR_OP_NE:
  case TSR_OP_LT:
  case TSR_OP_LE:
  case TSR_OP_GT:
  case TSR_OP_GE: {
    int c = fl ? (x < y ? -1 : x > y ? 1 : x == y ? 0 : 2) : (i < j ? -1 : i > j ? 1 : 0);
    bool r = op == TSR_OP_EQ   ? c == 0
             : op == TSR_OP_NE ? c != 0
             : op == TSR_OP_LT ? c == -1
             : op == TSR_OP_LE ? (c == -1 || c == 0)
             : op == TSR_OP_GT ? c == 1
                               : (c == 1 || c == 0);
    set_bool(out, r);
    return TSR_OK;
  }
  case TSR_OP_BITWISE_AND:
  case TSR_OP_BITWISE_OR:
  case TSR_OP_BITWISE_XOR:
  case TSR_OP_LEFT_SHIFT:
  case TSR_OP_RIGHT_SHIFT:
    if (fl)
      return FAIL(pos, TSR_EINVAL, "unsupported operand types for %s: %s and %s", op_symbol(tok),
                  tsr__query_value_kind_name(a), tsr__query_value_kind_name(b));
    if (op == TSR_OP_LEFT_SHIFT || op == TSR_OP_RIGHT_SHIFT) {
      if (j < 0)
        return FAIL(pos, TSR_EINVAL, "negative shift count");
      if (op == TSR_OP_LEFT_SHIFT)
        set_int(out, j >= 64 ? 0 : (int64_t)(ui << j));
      else
        set_int(out, j >= 64 ? (i < 0 ? -1 : 0) : i >> j);
      return TSR_OK;
    }
    {
      int64_t r = op == TSR_OP_BITWISE_AND ? (i & j) : op == TSR_OP_BITWISE_OR ? (i | j) : (i ^ j);
      if (a->kind == QV_BOOL && b->kind == QV_BOOL)
        set_bool(out, r != 0);
      else
        set_int(out, r);
    }
    return TSR_OK;
  case TSR_OP_ADD:
    fl ? set_float(out, x + y) : set_int(out, (int64_t)(ui + uj));
    return TSR_OK;
  case TSR_OP_SUB:
    fl ? set_float(out, x - y) : set_int(out, (int64_t)(ui - uj));
    return TSR_OK;
  case TSR_OP_MUL:
    fl ? set_float(out, x * y) : set_int(out, (int64_t)(ui * uj));
    return TSR_OK;
  case TSR_OP_DIV:
    set_float(out, x / y);
    return TSR_OK;
  case TSR_OP_FLOORDIV:
  case TSR_OP_MOD:
    if (!fl) {
      if (j == 0)
        return FAIL(pos, TSR_EINVAL, "integer division by zero");
      int64_t q, r;
      if (j == -1) { /* INT64_MIN / -1 wraps */
        q = (int64_t)(0 - ui);
        r = 0;
      } else {
        q = i / j;
        r = i % j;
        if (r != 0 && ((r < 0) != (j < 0))) {
          q--;
          r += j;
        }
      }
      set_int(out, op == TSR_OP_FLOORDIV ? q : r);
      return TSR_OK;
    }
    if (y == 0) {
      set_float(out, op == TSR_OP_FLOORDIV ? x / y : NAN);
      return TSR_OK;
    }
    {
      /* NumPy's npy_divmod. */
      double mod = fmod(x, y);
      double div = (x - mod) / y;
      if (mod != 0) {
        if ((y < 0) != (mod < 0)) {
          mod += y;
          div -= 1.0;
        }
      } else {
        mod = copysign(0.0, y);
      }
      double fdiv = floor(div);
      if (div - fdiv > 0.5)
        fdiv += 1.0;
      if (div == 0)
        fdiv = copysign(0.0, x / y);
      set_float(out, op == TSR_OP_FLOORDIV ? fdiv : mod);
    }
    return TSR_OK;
  case TSR_OP_POW:
    if (fl || j < 0) {
      set_float(out, pow(x, y));
      return TSR_OK;
    }
    {
      uint64_t r = 1, base = ui;
      for (uint64_t e = uj; e != 0; e >>= 1) {
        if (e & 1)
          r *= base;
        base *= base;
      }
      set_int(out, (int64_t)r);
    }
    return TSR_OK;
  default:
    return FAIL(pos, TSR_EINTERNAL, "operator %s cannot fold", op_symbol(tok));
  }
}

/* a OP b for any operands; numbers with numbers fold when `fold`, else
 * both become 0-d arrays. */
static tsr_status apply_binary(tsr__qeval *ev, tsr_binary_op op, const char *name, const qv *a,
                               const qv *b, int32_t pos, qv *out) {
  tsr_array *r = NULL, *tmp = NULL;
  tsr_status s = TSR_OK;
  if ((a->kind != QV_ARRAY && !is_number(a)) || (b->kind != QV_ARRAY && !is_number(b)))
    return FAIL(pos, TSR_EINVAL, "unsupported operand types for %s: %s and %s", name,
                tsr__query_value_kind_name(a), tsr__query_value_kind_name(b));
  if (a->kind == QV_ARRAY && b->kind == QV_ARRAY) {
    s = tsr_binary(op, a->array, b->array, &r);
  } else if (a->kind == QV_ARRAY && b->kind == QV_INT) {
    s = tsr_binary_scalar_i64(op, a->array, b->i, &r);
  } else if (a->kind == QV_ARRAY && b->kind == QV_UINT) {
    s = tsr_binary_scalar_u64(op, a->array, (uint64_t)b->i, &r);
  } else if (b->kind == QV_ARRAY && a->kind == QV_INT) {
    s = tsr_scalar_binary_i64(op, a->i, b->array, &r);
  } else if (b->kind == QV_ARRAY && a->kind == QV_UINT) {
    s = tsr_scalar_binary_u64(op, (uint64_t)a->i, b->array, &r);
  } else if (a->kind == QV_ARRAY && b->kind != QV_BOOL) {
    s = tsr_binary_scalar(op, a->array, number(b), &r);
  } else if (b->kind == QV_ARRAY && a->kind != QV_BOOL) {
    s = tsr_scalar_binary(op, number(a), b->array, &r);
  } else if (a->kind == QV_ARRAY || b->kind == QV_ARRAY) {
    /* A bool next to an array: a 0-d bool array, which never widens it. */
    bool left = a->kind == QV_BOOL;
    TSR_TRY(as_array(ev, left ? a : b, pos, "operand", TSR_BOOL, &tmp));
    s = left ? tsr_binary(op, tmp, b->array, &r) : tsr_binary(op, a->array, tmp, &r);
  } else {
    tsr_array *x = NULL;
    TSR_TRY(as_array(ev, a, pos, "operand", TSR_NUM_DTYPES, &x));
    s = as_array(ev, b, pos, "operand", TSR_NUM_DTYPES, &tmp);
    if (s == TSR_OK)
      s = tsr_binary(op, x, tmp, &r);
    tsr_array_destroy(&x);
  }
  tsr_array_destroy(&tmp);
  if (s != TSR_OK)
    return wrap(ev, pos, s);
  set_array(out, r);
  return TSR_OK;
}

static tsr_status eval_binary(tsr__qeval *ev, const tsr__qnode *n, const qv *a, const qv *b,
                              qv *out) {
  if (n->op == QT_AT) {
    if (a->kind != QV_ARRAY || b->kind != QV_ARRAY)
      return FAIL(n->pos, TSR_EINVAL, "operands of @ must be arrays, not %s and %s (use *)",
                  tsr__query_value_kind_name(a), tsr__query_value_kind_name(b));
    tsr_array *r = NULL;
    API(n->pos, tsr_matmul(a->array, b->array, &r));
    set_array(out, r);
    return TSR_OK;
  }
  if (is_number(a) && is_number(b))
    return fold_binary(ev, n->op, a, b, n->pos, out);
  return apply_binary(ev, binary_op_of(n->op), op_symbol(n->op), a, b, n->pos, out);
}

static tsr_status eval_unary(tsr__qeval *ev, const tsr__qnode *n, const qv *a, qv *out) {
  if (a->kind == QV_ARRAY) {
    tsr_unary_op op = n->op == QT_MINUS  ? TSR_OP_NEGATIVE
                      : n->op == QT_PLUS ? TSR_OP_POSITIVE
                                         : TSR_OP_INVERT;
    tsr_array *r = NULL;
    API(n->pos, tsr_unary(op, a->array, &r));
    set_array(out, r);
    return TSR_OK;
  }
  if (a->kind == QV_FLOAT && n->op != QT_TILDE) {
    set_float(out, n->op == QT_MINUS ? -a->f : a->f);
    return TSR_OK;
  }
  if (a->kind == QV_UINT) {
    uint64_t u = (uint64_t)a->i;
    if (n->op == QT_TILDE)
      set_uint(out, ~u);
    else if (n->op == QT_PLUS)
      *out = *a;
    else if (u <= (uint64_t)INT64_MAX + 1) /* -9223372036854775808 is an int64 */
      set_int(out, (int64_t)(0 - u));
    else
      return FAIL(n->pos, TSR_EINVAL, "integer -%llu is out of range (below -2**63)",
                  (unsigned long long)u);
    return TSR_OK;
  }
  if (a->kind == QV_INT || a->kind == QV_BOOL) {
    int64_t i = integer(a);
    if (n->op == QT_MINUS)
      set_int(out, (int64_t)(0 - (uint64_t)i));
    else if (n->op == QT_PLUS)
      set_int(out, i);
    else if (a->kind == QV_BOOL)
      set_bool(out, !a->b); /* NumPy's ~ on bool is logical not */
    else
      set_int(out, ~i);
    return TSR_OK;
  }
  return FAIL(n->pos, TSR_EINVAL, "bad operand type for unary %s: %s", op_symbol(n->op),
              tsr__query_value_kind_name(a));
}

/* ---- argument conversion --------------------------------------------- */

typedef struct call {
  tsr__qeval *ev;
  const tsr__qnode *node;
  qv args[TSR__QFN_MAX_PARAMS];
} call;

/* The argument for parameter `name` (QV_NONE when not given). */
static const qv *arg(const call *c, const char *name, int32_t *pos) {
  static const qv none = {0};
  for (int i = 0; c->node->fn->params[i] != NULL; i++)
    if (strcmp(c->node->fn->params[i], name) == 0) {
      if (pos != NULL)
        *pos = c->node->slots[i] ? c->node->slots[i]->pos : c->node->pos;
      return &c->args[i];
    }
  if (pos != NULL)
    *pos = c->node->pos;
  return &none;
}

static tsr_status bad_arg(const call *c, const char *name, const char *want) {
  int32_t pos;
  const qv *v = arg(c, name, &pos);
  return tsr__query_fail(c->ev->source, pos, TSR_EINVAL, "%s() argument '%s' must be %s, not %s",
                         c->node->text, name, want, tsr__query_value_kind_name(v));
}

static tsr_status get_int(const call *c, const char *name, int64_t def, int64_t *out) {
  const qv *v = arg(c, name, NULL);
  *out = def;
  if (v->kind == QV_NONE)
    return TSR_OK;
  if (v->kind == QV_INT || v->kind == QV_BOOL)
    *out = integer(v);
  else
    return bad_arg(c, name, "an integer");
  return TSR_OK;
}

static tsr_status get_bool(const call *c, const char *name, bool def, bool *out) {
  const qv *v = arg(c, name, NULL);
  *out = def;
  if (v->kind == QV_NONE)
    return TSR_OK;
  if (v->kind == QV_INT || v->kind == QV_BOOL)
    *out = integer(v) != 0;
  else
    return bad_arg(c, name, "true or false");
  return TSR_OK;
}

static tsr_status get_number(const call *c, const char *name, double def, double *out) {
  const qv *v = arg(c, name, NULL);
  *out = def;
  if (v->kind == QV_NONE)
    return TSR_OK;
  if (is_number(v))
    *out = number(v);
  else
    return bad_arg(c, name, "a number");
  return TSR_OK;
}

static tsr_status get_array(const call *c, const char *name, tsr_dtype dtype, tsr_array **out) {
  int32_t pos;
  const qv *v = arg(c, name, &pos);
  *out = NULL;
  if (v->kind != QV_ARRAY && v->kind != QV_TUPLE && !is_number(v))
    return bad_arg(c, name, "an array or a number");
  char what[64];
  snprintf(what, sizeof what, "%s() argument '%s'", c->node->text, name);
  return as_array(c->ev, v, pos, what, dtype, out);
}

/* A tuple whose item i is not an integer: the message shows the item,
 * e.g. "zeros() argument 'shape' must be a tuple of integers, but item 0
 * is 1000000000000.0 (a float)". */
static tsr_status bad_item(const call *c, const char *name, const char *want, int i) {
  int32_t pos;
  const qv *v = arg(c, name, &pos), *it = &v->items[i];
  const char *kind = tsr__query_value_kind_name(it);
  const char *article = strchr("aeiou", kind[0]) != NULL ? "an" : "a";
  char text[96];
  if (it->kind == QV_FLOAT) {
    char num[40];
    snprintf(num, sizeof num, "%.17g", it->f);
    snprintf(text, sizeof text, "%s%s (a float)", num, strpbrk(num, ".ein") ? "" : ".0");
  } else {
    snprintf(text, sizeof text, it->kind == QV_NONE ? "%s" : "%s %s",
             it->kind == QV_NONE ? "None" : article, kind);
  }
  return tsr__query_fail(c->ev->source, pos, TSR_EINVAL,
                         "%s() argument '%s' must be %s, but item %d is %s", c->node->text, name,
                         want, i, text);
}

/* An int or a tuple of ints into list[*n] (at most TSR_MAX_NDIM). */
static tsr_status get_ints(const call *c, const char *name, int64_t *list, int *n) {
  const qv *v = arg(c, name, NULL);
  if (v->kind == QV_INT || v->kind == QV_BOOL) {
    list[0] = integer(v);
    *n = 1;
    return TSR_OK;
  }
  if (v->kind != QV_TUPLE)
    return bad_arg(c, name, "an integer or a tuple of integers");
  if (v->n > TSR_MAX_NDIM)
    return bad_arg(c, name, "a tuple of at most 32 integers");
  for (int i = 0; i < v->n; i++) {
    if (v->items[i].kind != QV_INT && v->items[i].kind != QV_BOOL)
      return bad_item(c, name, "a tuple of integers", i);
    list[i] = integer(&v->items[i]);
  }
  *n = v->n;
  return TSR_OK;
}

/* axis=None (*none), an int or a tuple, as ints. */
static tsr_status get_axes(const call *c, const char *name, int *axes, int *n, bool *none) {
  *none = arg(c, name, NULL)->kind == QV_NONE;
  *n = 0;
  if (*none)
    return TSR_OK;
  int64_t list[TSR_MAX_NDIM];
  TSR_TRY(get_ints(c, name, list, n));
  for (int i = 0; i < *n; i++) {
    if (list[i] < -TSR_MAX_NDIM || list[i] > TSR_MAX_NDIM)
      return bad_arg(c, name, "a valid axis");
    axes[i] = (int)list[i];
  }
  return TSR_OK;
}

static tsr_status get_shape(const call *c, const char *name, int *ndim, int64_t *shape) {
  return get_ints(c, name, shape, ndim);
}

/* chunks: None or "auto" (*out = NULL), an int for every axis, or a tuple of
 * ndim entries (None = automatic). */
static tsr_status get_chunks(const call *c, const char *name, int ndim, int64_t *buf,
                             const int64_t **out) {
  int32_t pos;
  const qv *v = arg(c, name, &pos);
  *out = NULL;
  if (v->kind == QV_NONE || (v->kind == QV_STRING && strcmp(v->s, "auto") == 0))
    return TSR_OK;
  if (v->kind == QV_INT) {
    for (int d = 0; d < ndim; d++)
      buf[d] = v->i;
  } else if (v->kind == QV_TUPLE) {
    if (v->n != ndim)
      return tsr__query_fail(c->ev->source, pos, TSR_EINVAL,
                             "%s() argument '%s' has %d entries for %d axes", c->node->text, name,
                             v->n, ndim);
    for (int d = 0; d < ndim; d++) {
      const qv *it = &v->items[d];
      if (it->kind == QV_NONE)
        buf[d] = 0;
      else if (it->kind == QV_INT)
        buf[d] = it->i;
      else
        return bad_item(c, name, "a tuple of integers (or None)", d);
    }
  } else {
    return bad_arg(c, name, "an integer, a tuple of integers or \"auto\"");
  }
  *out = buf;
  return TSR_OK;
}

/* A 1-d chunk extent: None/"auto" -> 0, an int, or a 1-tuple. */
static tsr_status get_chunk1(const call *c, const char *name, int64_t *out) {
  int64_t buf[1];
  const int64_t *chunks;
  TSR_TRY(get_chunks(c, name, 1, buf, &chunks));
  *out = chunks ? chunks[0] : 0;
  return TSR_OK;
}

static tsr_status get_dtype(const call *c, const char *name, tsr_dtype def, tsr_dtype *out) {
  int32_t pos;
  const qv *v = arg(c, name, &pos);
  *out = def;
  if (v->kind == QV_NONE)
    return TSR_OK;
  if (v->kind != QV_STRING)
    return bad_arg(c, name, "a dtype string such as \"f4\"");
  tsr_status s = tsr_dtype_from_name(v->s, out);
  if (s != TSR_OK)
    return wrap(c->ev, pos, s);
  return TSR_OK;
}

/* ---- builtin functions ------------------------------------------------ */

static tsr_status reduce(call *c, tsr_array **r) {
  tsr__qeval *ev = c->ev;
  int axes[TSR_MAX_NDIM], naxes;
  bool all;
  tsr_reduce_options o = {0};
  int64_t ddof, split;
  TSR_TRY(get_axes(c, "axis", axes, &naxes, &all));
  if (!all && naxes == 0)
    return bad_arg(c, "axis", "an axis or a non-empty tuple of axes");
  TSR_TRY(get_bool(c, "keepdims", false, &o.keepdims));
  TSR_TRY(get_int(c, "ddof", 0, &ddof));
  TSR_TRY(get_int(c, "split_every", 0, &split));
  if (ddof < 0 || ddof > INT32_MAX)
    return bad_arg(c, "ddof", "a non-negative integer");
  if (split < 0 || split > INT32_MAX)
    return bad_arg(c, "split_every", "an integer >= 2");
  o.ddof = (int)ddof;
  o.split_every = (int)split;
  tsr_array *a;
  TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
  tsr_status s = tsr_reduce((tsr_reduce_op)c->node->fn->op, a, all ? NULL : axes, naxes, &o, r);
  tsr_array_destroy(&a);
  return s == TSR_OK ? s : wrap(ev, c->node->pos, s);
}

/* argmin/argmax/cumsum/cumprod(a, axis=None). */
static tsr_status along_axis(call *c, tsr_array **r) {
  tsr__qeval *ev = c->ev;
  int64_t axis;
  bool flat = arg(c, "axis", NULL)->kind == QV_NONE;
  TSR_TRY(get_int(c, "axis", 0, &axis));
  if (axis < -TSR_MAX_NDIM || axis > TSR_MAX_NDIM)
    return bad_arg(c, "axis", "a valid axis");
  tsr_array *a, *in = NULL;
  TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
  tsr_status s = TSR_OK;
  tsr__qfn_kind k = c->node->fn->kind;
  if (k == QF_ARGMIN || k == QF_ARGMAX) {
    s = (k == QF_ARGMIN ? tsr_argmin : tsr_argmax)(a, (int)axis, flat, r);
  } else {
    if (flat)
      s = tsr_reshape(a, 1, (int64_t[]){-1}, &in);
    else
      s = tsr__query_array_ref(a, &in);
    if (s == TSR_OK)
      s = (k == QF_CUMSUM ? tsr_cumsum : tsr_cumprod)(in, (int)axis, r);
  }
  tsr_array_destroy(&a);
  tsr_array_destroy(&in);
  return s == TSR_OK ? s : wrap(ev, c->node->pos, s);
}

static tsr_status where(call *c, tsr_array **r) {
  tsr__qeval *ev = c->ev;
  const qv *x = arg(c, "x", NULL), *y = arg(c, "y", NULL);
  /* A number next to an array is weak, as in NumPy 2's where. */
  tsr_dtype tx = TSR_NUM_DTYPES, ty = TSR_NUM_DTYPES;
  if (y->kind == QV_ARRAY && is_number(x))
    tx = weak_dtype(x, tsr_array_dtype(y->array));
  if (x->kind == QV_ARRAY && is_number(y))
    ty = weak_dtype(y, tsr_array_dtype(x->array));
  tsr_array *cond = NULL, *a = NULL, *b = NULL;
  tsr_status s = get_array(c, "condition", TSR_NUM_DTYPES, &cond);
  if (s == TSR_OK)
    s = get_array(c, "x", tx, &a);
  if (s == TSR_OK)
    s = get_array(c, "y", ty, &b);
  if (s == TSR_OK && (s = tsr_where(cond, a, b, r)) != TSR_OK)
    s = wrap(ev, c->node->pos, s);
  tsr_array_destroy(&cond);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  return s;
}

static tsr_status clip(call *c, qv *out) {
  tsr__qeval *ev = c->ev;
  const qv *lo = arg(c, "a_min", NULL), *hi = arg(c, "a_max", NULL);
  tsr_array *a;
  if (lo->kind == QV_ARRAY || hi->kind == QV_ARRAY || lo->kind == QV_INT || hi->kind == QV_INT ||
      lo->kind == QV_UINT || hi->kind == QV_UINT) {
    /* Array or integer bounds (exact through the integer scalar calls):
     * minimum(maximum(a, lo), hi). */
    qv cur = {0}, next = {0};
    TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
    set_array(&cur, a);
    const qv *bounds[2] = {lo, hi};
    for (int k = 0; k < 2; k++) {
      if (bounds[k]->kind == QV_NONE)
        continue;
      tsr_status s = apply_binary(ev, k == 0 ? TSR_OP_MAXIMUM : TSR_OP_MINIMUM, "clip", &cur,
                                  bounds[k], c->node->pos, &next);
      tsr__query_value_clear(ev->ctx, &cur);
      if (s != TSR_OK)
        return s;
      cur = next;
    }
    *out = cur;
    return TSR_OK;
  }
  double l, h;
  TSR_TRY(get_number(c, "a_min", -INFINITY, &l));
  TSR_TRY(get_number(c, "a_max", INFINITY, &h));
  TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
  tsr_array *r = NULL;
  tsr_status s = tsr_clip(a, l, h, &r);
  tsr_array_destroy(&a);
  if (s != TSR_OK)
    return wrap(ev, c->node->pos, s);
  set_array(out, r);
  return TSR_OK;
}

static tsr_status tensordot(call *c, tsr_array *a, tsr_array *b, tsr_array **r) {
  int32_t pos;
  const qv *v = arg(c, "axes", &pos);
  int axes_a[TSR_MAX_NDIM], axes_b[TSR_MAX_NDIM], n = 0;
  if (v->kind == QV_NONE || v->kind == QV_INT) {
    int64_t k = v->kind == QV_NONE ? 2 : v->i;
    if (k < 0 || k > tsr_array_ndim(a) || k > tsr_array_ndim(b))
      return tsr__query_fail(c->ev->source, pos, TSR_EINVAL,
                             "tensordot() axes=%lld exceeds the operands' dimensions",
                             (long long)k);
    n = (int)k;
    for (int i = 0; i < n; i++) {
      axes_a[i] = tsr_array_ndim(a) - n + i;
      axes_b[i] = i;
    }
  } else if (v->kind == QV_TUPLE && v->n == 2) {
    int na = 0, nb = 0;
    for (int side = 0; side < 2; side++) {
      const qv *it = &v->items[side];
      int *dst = side ? axes_b : axes_a, *cnt = side ? &nb : &na;
      if (it->kind == QV_INT) {
        dst[0] = (int)it->i;
        *cnt = 1;
      } else if (it->kind == QV_TUPLE && it->n <= TSR_MAX_NDIM) {
        for (int i = 0; i < it->n; i++) {
          if (it->items[i].kind != QV_INT)
            return bad_arg(c, "axes", "an integer or a pair of axis lists");
          dst[i] = (int)it->items[i].i;
        }
        *cnt = it->n;
      } else {
        return bad_arg(c, "axes", "an integer or a pair of axis lists");
      }
    }
    if (na != nb)
      return tsr__query_fail(c->ev->source, pos, TSR_EINVAL,
                             "tensordot() axes lists have different lengths (%d and %d)", na, nb);
    n = na;
  } else {
    return bad_arg(c, "axes", "an integer or a pair of axis lists");
  }
  tsr_status s = tsr_tensordot(a, b, n, axes_a, axes_b, r);
  return s == TSR_OK ? s : wrap(c->ev, c->node->pos, s);
}

static tsr_status join(call *c, tsr_array **r) {
  tsr__qeval *ev = c->ev;
  int32_t pos;
  const qv *v = arg(c, "arrays", &pos);
  if (v->kind != QV_TUPLE || v->n == 0)
    return bad_arg(c, "arrays", "a non-empty tuple or list of arrays");
  bool concat = c->node->fn->kind == QF_CONCATENATE;
  bool flat = concat && arg(c, "axis", NULL)->kind == QV_NONE &&
              c->node->slots[1] != NULL; /* an explicit axis=None flattens */
  int64_t axis;
  TSR_TRY(get_int(c, "axis", 0, &axis));
  if (axis < -TSR_MAX_NDIM || axis > TSR_MAX_NDIM)
    return bad_arg(c, "axis", "a valid axis");
  tsr_array **list = NULL;
  tsr_status s = tsr_calloc(ev->ctx, (size_t)v->n, sizeof *list, (void **)&list);
  if (s != TSR_OK)
    return wrap(ev, pos, s);
  for (int i = 0; i < v->n && s == TSR_OK; i++) {
    s = as_array(ev, &v->items[i], pos, "each of 'arrays'", TSR_NUM_DTYPES, &list[i]);
    if (s == TSR_OK && flat) {
      tsr_array *f = NULL;
      s = tsr_reshape(list[i], 1, (int64_t[]){-1}, &f);
      tsr_array_destroy(&list[i]);
      list[i] = f;
      if (s != TSR_OK)
        s = wrap(ev, pos, s);
    }
  }
  if (s == TSR_OK) {
    s = (concat ? tsr_concatenate : tsr_stack)((size_t)v->n, list, (int)axis, r);
    if (s != TSR_OK)
      s = wrap(ev, c->node->pos, s);
  }
  for (int i = 0; i < v->n; i++)
    tsr_array_destroy(&list[i]);
  tsr_free(ev->ctx, list);
  return s;
}

/* Functions of one array argument 'a' (or 'x') and other settings. */
static tsr_status structural(call *c, tsr_array *a, tsr_array **r) {
  tsr__qeval *ev = c->ev;
  int ndim = tsr_array_ndim(a);
  int64_t list[TSR_MAX_NDIM], buf[TSR_MAX_NDIM];
  int n;
  tsr_status s = TSR_OK;
  switch (c->node->fn->kind) {
  case QF_ASTYPE: {
    tsr_dtype t;
    TSR_TRY(get_dtype(c, "dtype", TSR_FLOAT64, &t));
    s = tsr_astype(a, t, r);
    break;
  }
  case QF_TRANSPOSE: {
    if (arg(c, "axes", NULL)->kind == QV_NONE) {
      s = tsr_transpose(a, NULL, r);
      break;
    }
    TSR_TRY(get_ints(c, "axes", list, &n));
    int32_t pos;
    arg(c, "axes", &pos);
    if (n != ndim)
      return FAIL(pos, TSR_EINVAL, "transpose() axes has %d entries for an array of %d axes", n,
                  ndim);
    int perm[TSR_MAX_NDIM];
    for (int i = 0; i < n; i++)
      perm[i] = (int)list[i];
    s = tsr_transpose(a, perm, r);
    break;
  }
  case QF_RESHAPE:
    TSR_TRY(get_shape(c, "shape", &n, list));
    s = tsr_reshape(a, n, list, r);
    break;
  case QF_RECHUNK: {
    const int64_t *chunks;
    TSR_TRY(get_chunks(c, "chunks", ndim, buf, &chunks));
    s = tsr_rechunk(a, chunks, r);
    break;
  }
  case QF_SQUEEZE: {
    int axes[TSR_MAX_NDIM];
    bool all;
    TSR_TRY(get_axes(c, "axis", axes, &n, &all));
    s = tsr_squeeze(a, axes, all ? 0 : n, r);
    break;
  }
  case QF_EXPAND_DIMS: {
    int64_t axis;
    TSR_TRY(get_int(c, "axis", 0, &axis));
    if (axis < -TSR_MAX_NDIM || axis > TSR_MAX_NDIM)
      return bad_arg(c, "axis", "a valid axis");
    s = tsr_expand_dims(a, (int)axis, r);
    break;
  }
  default:
    return FAIL(c->node->pos, TSR_EINTERNAL, "%s(): not structural", c->node->text);
  }
  return s == TSR_OK ? s : wrap(ev, c->node->pos, s);
}

/* zeros, ones, full, arange, linspace, eye, random. */
static tsr_status construct(call *c, tsr_array **r) {
  tsr__qeval *ev = c->ev;
  int64_t shape[TSR_MAX_NDIM], buf[TSR_MAX_NDIM], chunk;
  const int64_t *chunks;
  int ndim;
  tsr_dtype t;
  tsr_status s;
  switch (c->node->fn->kind) {
  case QF_ZEROS:
  case QF_ONES:
  case QF_FULL: {
    double value = c->node->fn->kind == QF_ONES;
    tsr_dtype def = TSR_FLOAT64;
    TSR_TRY(get_shape(c, "shape", &ndim, shape));
    if (c->node->fn->kind == QF_FULL) {
      const qv *fill = arg(c, "fill_value", NULL);
      TSR_TRY(get_number(c, "fill_value", 0, &value));
      def = default_dtype(fill);
    }
    TSR_TRY(get_dtype(c, "dtype", def, &t));
    TSR_TRY(get_chunks(c, "chunks", ndim, buf, &chunks));
    const qv *fill = arg(c, "fill_value", NULL);
    if (c->node->fn->kind == QF_FULL && fill->kind == QV_INT) /* exact beyond 2^53 */
      s = tsr_array_full_i64(ev->ctx, t, ndim, shape, chunks, fill->i, r);
    else if (c->node->fn->kind == QF_FULL && fill->kind == QV_UINT)
      s = tsr_array_full_u64(ev->ctx, t, ndim, shape, chunks, (uint64_t)fill->i, r);
    else if (c->node->fn->kind == QF_ZEROS)
      s = tsr_array_zeros(ev->ctx, t, ndim, shape, chunks, r);
    else if (c->node->fn->kind == QF_ONES)
      s = tsr_array_ones(ev->ctx, t, ndim, shape, chunks, r);
    else
      s = tsr_array_full(ev->ctx, t, ndim, shape, chunks, value, r);
    break;
  }
  case QF_ARANGE: {
    double start, stop, step;
    const qv *vs = arg(c, "start", NULL), *ve = arg(c, "stop", NULL), *vp = arg(c, "step", NULL);
    TSR_TRY(get_number(c, "start", 0, &start));
    TSR_TRY(get_number(c, "stop", 0, &stop));
    TSR_TRY(get_number(c, "step", 1, &step));
    if (ve->kind == QV_NONE) { /* arange(stop) */
      stop = start;
      start = 0;
    }
    bool ints = vs->kind != QV_FLOAT && ve->kind != QV_FLOAT && vp->kind != QV_FLOAT;
    TSR_TRY(get_dtype(c, "dtype", ints ? TSR_INT64 : TSR_FLOAT64, &t));
    TSR_TRY(get_chunk1(c, "chunks", &chunk));
    if (ints) { /* exact in int64: arange(2**53 + 1, 2**53 + 3) has 2 elements */
      const qv *big = vs->kind == QV_UINT ? vs : ve->kind == QV_UINT ? ve : vp;
      if (big->kind == QV_UINT) {
        int32_t pos;
        arg(c, big == vs ? "start" : big == ve ? "stop" : "step", &pos);
        return FAIL(pos, TSR_EINVAL, "arange() bounds above 9223372036854775807 are not supported");
      }
      int64_t istart = 0, istop = 0, istep = 1;
      TSR_TRY(get_int(c, "start", 0, &istart));
      TSR_TRY(get_int(c, "stop", 0, &istop));
      TSR_TRY(get_int(c, "step", 1, &istep));
      if (ve->kind == QV_NONE) {
        istop = istart;
        istart = 0;
      }
      s = tsr_array_arange_i64(ev->ctx, t, istart, istop, istep, chunk, r);
    } else {
      s = tsr_array_arange(ev->ctx, t, start, stop, step, chunk, r);
    }
    break;
  }
  case QF_LINSPACE: {
    double start, stop;
    int64_t num;
    bool endpoint;
    TSR_TRY(get_number(c, "start", 0, &start));
    TSR_TRY(get_number(c, "stop", 0, &stop));
    TSR_TRY(get_int(c, "num", 50, &num));
    TSR_TRY(get_bool(c, "endpoint", true, &endpoint));
    TSR_TRY(get_dtype(c, "dtype", TSR_FLOAT64, &t));
    TSR_TRY(get_chunk1(c, "chunks", &chunk));
    s = tsr_array_linspace(ev->ctx, t, start, stop, num, endpoint, chunk, r);
    break;
  }
  case QF_EYE: {
    int64_t n, m, k;
    TSR_TRY(get_int(c, "N", 0, &n));
    TSR_TRY(get_int(c, "M", n, &m));
    TSR_TRY(get_int(c, "k", 0, &k));
    TSR_TRY(get_dtype(c, "dtype", TSR_FLOAT64, &t));
    TSR_TRY(get_chunks(c, "chunks", 2, buf, &chunks));
    s = tsr_array_eye(ev->ctx, t, n, m, k, chunks, r);
    break;
  }
  case QF_RANDOM: {
    int64_t seed;
    int32_t pos;
    const qv *dist = arg(c, "dist", &pos);
    tsr_random_dist d = TSR_RANDOM_UNIFORM;
    if (dist->kind == QV_STRING && strcmp(dist->s, "normal") == 0)
      d = TSR_RANDOM_NORMAL;
    else if (dist->kind == QV_STRING && strcmp(dist->s, "uniform") != 0)
      return FAIL(pos, TSR_EINVAL, "random() dist '%s' is unknown (use \"uniform\" or \"normal\")",
                  dist->s);
    else if (dist->kind != QV_STRING && dist->kind != QV_NONE)
      return bad_arg(c, "dist", "\"uniform\" or \"normal\"");
    TSR_TRY(get_shape(c, "shape", &ndim, shape));
    TSR_TRY(get_chunks(c, "chunks", ndim, buf, &chunks));
    TSR_TRY(get_int(c, "seed", 0, &seed));
    if (seed < 0)
      return bad_arg(c, "seed", "a non-negative integer");
    s = tsr_array_random(ev->ctx, d, (uint64_t)seed, ndim, shape, chunks, r);
    break;
  }
  default:
    return FAIL(c->node->pos, TSR_EINTERNAL, "%s(): not a constructor", c->node->text);
  }
  return s == TSR_OK ? s : wrap(ev, c->node->pos, s);
}

/* ---- sorting and order statistics ------------------------------------ */

/* axis: None flattens when `none_flattens` or when given explicitly as
 * None; otherwise the default is def. */
static tsr_status get_axis(const call *c, const char *name, int def, bool none_flattens, int *axis,
                           bool *flat) {
  const qv *v = arg(c, name, NULL);
  bool given = false;
  for (int i = 0; c->node->fn->params[i] != NULL; i++)
    if (strcmp(c->node->fn->params[i], name) == 0)
      given = c->node->slots[i] != NULL;
  *flat = v->kind == QV_NONE && (none_flattens || given);
  int64_t a;
  TSR_TRY(get_int(c, name, def, &a));
  if (a < -TSR_MAX_NDIM || a > TSR_MAX_NDIM)
    return bad_arg(c, name, "a valid axis");
  *axis = (int)a;
  return TSR_OK;
}

/* A tuple (a, b) of two arrays (taken). */
static tsr_status make_pair(call *c, tsr_array *a, tsr_array *b, qv *out) {
  qv *items = NULL;
  tsr_status s = tsr_calloc(c->ev->ctx, 2, sizeof *items, (void **)&items);
  if (s != TSR_OK) {
    tsr_array_destroy(&a);
    tsr_array_destroy(&b);
    return wrap(c->ev, c->node->pos, s);
  }
  set_array(&items[0], a);
  set_array(&items[1], b);
  memset(out, 0, sizeof *out);
  out->kind = QV_TUPLE;
  out->items = items;
  out->n = 2;
  return TSR_OK;
}

static tsr_status order_fn(call *c, qv *out) {
  tsr__qeval *ev = c->ev;
  const tsr__qfn *fn = c->node->fn;
  tsr_array *a = NULL, *b = NULL, *r = NULL, *r2 = NULL;
  tsr_status s = TSR_OK;
  int axis;
  bool flat;
  switch (fn->kind) {
  case QF_SORT:
    TSR_TRY(get_axis(c, "axis", -1, false, &axis, &flat));
    TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
    s = (fn->op ? tsr_argsort : tsr_sort)(a, axis, flat, &r);
    break;
  case QF_UNIQUE: {
    bool counts;
    TSR_TRY(get_bool(c, "return_counts", false, &counts));
    TSR_TRY(get_array(c, "ar", TSR_NUM_DTYPES, &a));
    s = tsr_unique(a, &r, counts ? &r2 : NULL);
    break;
  }
  case QF_QUANTILE: {
    TSR_TRY(get_axis(c, "axis", 0, true, &axis, &flat));
    int32_t pos;
    const qv *q = arg(c, "q", &pos);
    double one, *qs = &one;
    int64_t nq = -1;
    if (q->kind == QV_TUPLE) {
      if (q->n == 0)
        return bad_arg(c, "q", "a number or a non-empty tuple of numbers");
      nq = q->n;
      API(pos, tsr_alloc(ev->ctx, (size_t)nq * sizeof *qs, (void **)&qs));
      for (int i = 0; i < q->n && s == TSR_OK; i++) {
        if (!is_number(&q->items[i]))
          s = bad_item(c, "q", "a tuple of numbers", i);
        else
          qs[i] = number(&q->items[i]);
      }
    } else if (is_number(q)) {
      one = number(q);
    } else {
      return bad_arg(c, "q", "a number or a tuple of numbers");
    }
    if (s == TSR_OK)
      s = get_array(c, "a", TSR_NUM_DTYPES, &a);
    if (s == TSR_OK) {
      tsr_status (*f[4])(tsr_array *, const double *, int64_t, int, bool, tsr_array **) = {
          tsr_quantile, tsr_percentile, tsr_nanquantile, tsr_nanpercentile};
      s = f[fn->op](a, qs, nq, axis, flat, &r);
    } else {
      if (qs != &one)
        tsr_free(ev->ctx, qs);
      return s;
    }
    if (qs != &one)
      tsr_free(ev->ctx, qs);
    break;
  }
  case QF_MEDIAN:
    TSR_TRY(get_axis(c, "axis", 0, true, &axis, &flat));
    TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
    s = (fn->op ? tsr_nanmedian : tsr_median)(a, axis, flat, &r);
    break;
  case QF_HISTOGRAM: {
    int32_t pos;
    const qv *bins = arg(c, "bins", &pos), *range = arg(c, "range", NULL);
    double rg[2];
    if (range->kind != QV_NONE) {
      if (range->kind != QV_TUPLE || range->n != 2 || !is_number(&range->items[0]) ||
          !is_number(&range->items[1]))
        return bad_arg(c, "range", "a pair of numbers (lower, upper)");
      rg[0] = number(&range->items[0]);
      rg[1] = number(&range->items[1]);
    }
    if (bins->kind == QV_NONE || bins->kind == QV_INT || bins->kind == QV_BOOL) {
      int64_t nb;
      TSR_TRY(get_int(c, "bins", 10, &nb));
      TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
      s = tsr_histogram(a, nb, range->kind == QV_NONE ? NULL : rg, &r, &r2);
    } else {
      if (range->kind != QV_NONE)
        return bad_arg(c, "range", "None when bins are edges");
      TSR_TRY(get_array(c, "bins", TSR_NUM_DTYPES, &b));
      if ((s = get_array(c, "a", TSR_NUM_DTYPES, &a)) != TSR_OK) {
        tsr_array_destroy(&b);
        return s;
      }
      s = tsr_histogram_edges(a, b, &r);
      if (s == TSR_OK) /* the edges come back as float64, as NumPy's */
        s = tsr_astype(b, TSR_FLOAT64, &r2);
    }
    break;
  }
  case QF_BINCOUNT: {
    int64_t minlength;
    TSR_TRY(get_int(c, "minlength", 0, &minlength));
    TSR_TRY(get_array(c, "x", TSR_NUM_DTYPES, &a));
    if (arg(c, "weights", NULL)->kind != QV_NONE && (s = get_array(c, "weights", TSR_NUM_DTYPES, &b)) != TSR_OK) {
      tsr_array_destroy(&a);
      return s;
    }
    s = tsr_bincount(a, b, minlength, &r);
    break;
  }
  case QF_DIGITIZE:
  case QF_SEARCHSORTED:
  case QF_ISIN: {
    bool flag = false;
    if (fn->kind == QF_SEARCHSORTED) {
      int32_t pos;
      const qv *side = arg(c, "side", &pos);
      if (side->kind == QV_STRING && strcmp(side->s, "right") == 0)
        flag = true;
      else if (!(side->kind == QV_NONE || (side->kind == QV_STRING && strcmp(side->s, "left") == 0)))
        return bad_arg(c, "side", "\"left\" or \"right\"");
    } else {
      TSR_TRY(get_bool(c, fn->kind == QF_DIGITIZE ? "right" : "invert", false, &flag));
    }
    const char *p0 = fn->params[0], *p1 = fn->params[1];
    TSR_TRY(get_array(c, p0, TSR_NUM_DTYPES, &a));
    s = get_array(c, p1, TSR_NUM_DTYPES, &b);
    if (s != TSR_OK) {
      tsr_array_destroy(&a);
      return s;
    }
    s = fn->kind == QF_DIGITIZE       ? tsr_digitize(a, b, flag, &r)
        : fn->kind == QF_SEARCHSORTED ? tsr_searchsorted(a, b, flag, &r)
                                      : tsr_isin(a, b, flag, &r);
    break;
  }
  default:
    return FAIL(c->node->pos, TSR_EINTERNAL, "%s(): not an order function", c->node->text);
  }
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  if (s != TSR_OK) {
    tsr_array_destroy(&r);
    tsr_array_destroy(&r2);
    return wrap(ev, c->node->pos, s);
  }
  if (r2 != NULL)
    return make_pair(c, r, r2, out);
  set_array(out, r);
  return TSR_OK;
}

/* np.linalg's qr (Q, R), svd (U, S, Vh), lstsq (x only), solve, inv and
 * cholesky (array.h: tsr_qr ...); several results come back as a tuple. */
static tsr_status linalg_fn(call *c, qv *out) {
  tsr__qeval *ev = c->ev;
  int op = c->node->fn->op;
  tsr_array *a = NULL, *b = NULL, *r[3] = {NULL, NULL, NULL};
  TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
  tsr_status s = TSR_OK;
  if (op == 2 || op == 3)
    s = get_array(c, "b", TSR_NUM_DTYPES, &b);
  if (s == TSR_OK) {
    switch (op) {
    case 0:
      s = tsr_qr(a, &r[0], &r[1]);
      break;
    case 1:
      s = tsr_svd(a, &r[0], &r[1], &r[2]);
      break;
    case 2:
      s = tsr_lstsq(a, b, &r[0]);
      break;
    case 3:
      s = tsr_solve(a, b, &r[0]);
      break;
    case 4:
      s = tsr_inv(a, &r[0]);
      break;
    default:
      s = tsr_cholesky(a, &r[0]);
      break;
    }
    if (s != TSR_OK)
      s = wrap(ev, c->node->pos, s);
  }
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  int n = op == 0 ? 2 : op == 1 ? 3 : 1;
  qv *items = NULL;
  if (s == TSR_OK && n > 1 &&
      (s = tsr_calloc(ev->ctx, (size_t)n, sizeof *items, (void **)&items)) != TSR_OK)
    s = wrap(ev, c->node->pos, s);
  if (s != TSR_OK) {
    for (int i = 0; i < 3; i++)
      tsr_array_destroy(&r[i]);
    return s;
  }
  if (n == 1) {
    set_array(out, r[0]);
    return TSR_OK;
  }
  for (int i = 0; i < n; i++)
    set_array(&items[i], r[i]);
  memset(out, 0, sizeof *out);
  out->kind = QV_TUPLE;
  out->items = items;
  out->n = n;
  return TSR_OK;
}

/* round(a, decimals) as np.round: a * 10^d, rint, / 10^d (d < 0: a / 10^-d,
 * rint, * 10^-d) with the same operations, so the same values; integers
 * are returned as they are for d >= 0, else rounded through float64 and
 * cast back, as NumPy does. */
static tsr_status round_decimals(call *c, qv *out) {
  tsr__qeval *ev = c->ev;
  int32_t pos = c->node->pos;
  int64_t d;
  tsr_array *a = NULL, *r = NULL;
  TSR_TRY(get_int(c, "decimals", 0, &d));
  if (d > 308 || d < -308)
    return bad_arg(c, "decimals", "an integer from -308 to 308");
  TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
  tsr_dtype dt = tsr_array_dtype(a);
  bool integer = tsr_dtype_is_integer(dt) || dt == TSR_BOOL;
  tsr_status s = TSR_OK;
  if (d == 0 || (integer && d >= 0)) {
    s = tsr_unary(TSR_OP_ROUND, a, &r);
    tsr_array_destroy(&a);
    if (s != TSR_OK)
      return wrap(ev, pos, s);
    set_array(out, r);
    return TSR_OK;
  }
  qv x = {0}, f = {0}, y = {0}, z = {0};
  set_float(&f, pow(10.0, (double)(d > 0 ? d : -d)));
  set_array(&x, a);
  s = apply_binary(ev, d > 0 ? TSR_OP_MUL : TSR_OP_DIV, "round", &x, &f, pos, &y);
  if (s == TSR_OK) {
    s = tsr_unary(TSR_OP_ROUND, y.array, &r);
    s = s == TSR_OK ? TSR_OK : wrap(ev, pos, s);
  }
  if (s == TSR_OK) {
    tsr__query_value_clear(ev->ctx, &y);
    set_array(&y, r);
    r = NULL;
    s = apply_binary(ev, d > 0 ? TSR_OP_DIV : TSR_OP_MUL, "round", &y, &f, pos, &z);
  }
  if (s == TSR_OK && integer) {
    s = tsr_astype(z.array, dt, &r);
    s = s == TSR_OK ? TSR_OK : wrap(ev, pos, s);
    if (s == TSR_OK) {
      tsr__query_value_clear(ev->ctx, &z);
      set_array(&z, r);
    }
  }
  tsr__query_value_clear(ev->ctx, &x);
  tsr__query_value_clear(ev->ctx, &y);
  if (s != TSR_OK) {
    tsr__query_value_clear(ev->ctx, &z);
    return s;
  }
  *out = z;
  return TSR_OK;
}

/* diff, outer, isclose, allclose, roll, triu, tril, diag, trace
 * (array/compose.c). */
static tsr_status composed(call *c, qv *out) {
  tsr__qeval *ev = c->ev;
  const tsr__qfn *fn = c->node->fn;
  int64_t n = 0, axis = -1;
  double rtol = 1e-5, atol = 1e-8;
  bool equal_nan = false, all = false, axis_none = false;
  /* the arguments first: their errors point at them */
  if (fn->op == 0 || fn->op == 4) { /* diff(a, n, axis), roll(a, shift, axis) */
    TSR_TRY(get_int(c, fn->op == 0 ? "n" : "shift", fn->op == 0 ? 1 : 0, &n));
    axis_none = fn->op == 4 && arg(c, "axis", NULL)->kind == QV_NONE;
    if (!axis_none)
      TSR_TRY(get_int(c, "axis", fn->op == 0 ? -1 : 0, &axis));
    if (axis < -TSR_MAX_NDIM || axis > TSR_MAX_NDIM)
      return bad_arg(c, "axis", "a valid axis");
    if (fn->op == 0 && (n < 0 || n > INT32_MAX))
      return bad_arg(c, "n", "a non-negative order");
  } else if (fn->op == 2 || fn->op == 3) {
    TSR_TRY(get_number(c, "rtol", 1e-5, &rtol));
    TSR_TRY(get_number(c, "atol", 1e-8, &atol));
    TSR_TRY(get_bool(c, "equal_nan", false, &equal_nan));
  } else if (fn->op >= 5 && fn->op <= 8) {
    TSR_TRY(get_int(c, fn->op == 8 ? "offset" : "k", 0, &n));
  } else if (fn->op == 10) {
    TSR_TRY(get_int(c, "ddof", 1, &n));
    if (n < 0 || n > INT32_MAX)
      return bad_arg(c, "ddof", "a non-negative integer");
  }
  tsr_array *a = NULL, *b = NULL, *r = NULL;
  TSR_TRY(get_array(c, fn->params[0], TSR_NUM_DTYPES, &a));
  if (fn->op >= 1 && fn->op <= 3) {
    tsr_status sb = get_array(c, "b", TSR_NUM_DTYPES, &b);
    if (sb != TSR_OK) {
      tsr_array_destroy(&a);
      return sb;
    }
  }
  int ax = (int)axis;
  tsr_status s;
  switch (fn->op) {
  case 0:
    s = tsr_diff(a, (int)n, ax, &r);
    break;
  case 1:
    s = tsr_outer(a, b, &r);
    break;
  case 2:
    s = tsr_isclose(a, b, rtol, atol, equal_nan, &r);
    break;
  case 3:
    s = tsr_allclose(a, b, rtol, atol, equal_nan, NULL, &all);
    break;
  case 4:
    s = tsr_roll(a, n, axis_none ? NULL : &ax, &r);
    break;
  case 5:
    s = tsr_triu(a, n, &r);
    break;
  case 6:
    s = tsr_tril(a, n, &r);
    break;
  case 7:
    s = tsr_diag(a, n, &r);
    break;
  case 8:
    s = tsr_trace(a, n, &r);
    break;
  case 9:
    s = tsr_norm(a, &r);
    break;
  case 10:
    s = tsr_cov(a, (int)n, &r);
    break;
  default:
    s = tsr_corrcoef(a, &r);
    break;
  }
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  if (s != TSR_OK)
    return wrap(ev, c->node->pos, s);
  if (fn->op == 3)
    set_bool(out, all);
  else
    set_array(out, r);
  return TSR_OK;
}

/* pad_width as NumPy takes it: w, (before, after), or one (before, after)
 * per axis (a 1-tuple of a pair applies to every axis). */
static tsr_status get_pad_width(const call *c, int nd, int64_t *before, int64_t *after) {
  const qv *v = arg(c, "pad_width", NULL);
  const char *want = "an integer, a (before, after) pair or one pair per axis";
  if (v->kind == QV_INT || v->kind == QV_BOOL) {
    for (int d = 0; d < nd; d++)
      before[d] = after[d] = integer(v);
    return TSR_OK;
  }
  if (v->kind != QV_TUPLE)
    return bad_arg(c, "pad_width", want);
  bool pairs = v->n > 0 && v->items[0].kind == QV_TUPLE;
  if (!pairs) {
    if (v->n != 1 && v->n != 2)
      return bad_arg(c, "pad_width", want);
    for (int i = 0; i < v->n; i++)
      if (v->items[i].kind != QV_INT && v->items[i].kind != QV_BOOL)
        return bad_item(c, "pad_width", "a tuple of integers", i);
    for (int d = 0; d < nd; d++) {
      before[d] = integer(&v->items[0]);
      after[d] = integer(&v->items[v->n - 1]);
    }
    return TSR_OK;
  }
  if (v->n != 1 && v->n != nd)
    return bad_arg(c, "pad_width", "one (before, after) pair per axis");
  for (int i = 0; i < v->n; i++) {
    const qv *it = &v->items[i];
    if (it->kind != QV_TUPLE || it->n < 1 || it->n > 2 ||
        (it->items[0].kind != QV_INT && it->items[0].kind != QV_BOOL) ||
        (it->items[it->n - 1].kind != QV_INT && it->items[it->n - 1].kind != QV_BOOL))
      return bad_item(c, "pad_width", "a tuple of (before, after) integer pairs", i);
  }
  for (int d = 0; d < nd; d++) {
    const qv *it = &v->items[v->n == 1 ? 0 : d];
    before[d] = integer(&it->items[0]);
    after[d] = integer(&it->items[it->n - 1]);
  }
  return TSR_OK;
}

/* pad, tile, repeat (rearrange.c), permutation, randint, and array/asarray
 * (an array of a tuple, as np.asarray).  Arguments first (their errors
 * point at them), then one call of the array API. */
/* attr(a, name): the number an attribute of a dataset bound with --in (or
 * read with tsr_array_from_hdf5) holds, e.g. a scale factor or fill value. */
static tsr_status hdf5_attr(call *c, qv *out) {
  tsr__qeval *ev = c->ev;
  int32_t apos, kpos;
  const qv *a = arg(c, "a", &apos), *k = arg(c, "name", &kpos);
  const char *path, *dataset;
  if (a->kind != QV_ARRAY || !tsr_array_hdf5_source(a->array, &path, &dataset))
    return FAIL(apos, TSR_EINVAL,
                "attr() argument 'a' must be a dataset as read from an HDF5 file (an --in "
                "binding), not a value computed from one");
  if (k->kind != QV_STRING)
    return bad_arg(c, "name", "an attribute name (a string)");
  tsr_attr *list = NULL;
  size_t n = 0;
  API(apos, tsr_hdf5_attrs_read(ev->ctx, path, dataset, &list, &n));
  const tsr_attr *found = NULL;
  char names[256] = "";
  for (size_t i = 0; i < n; i++) {
    if (strcmp(list[i].name, k->s) == 0)
      found = &list[i];
    size_t at = strlen(names);
    snprintf(names + at, sizeof names - at, "%s'%s'", i ? ", " : "", list[i].name);
  }
  tsr_status s = TSR_OK;
  if (found == NULL)
    s = FAIL(kpos, TSR_EINVAL, "dataset '%s' of '%s' has no attribute '%s' (%s%s)", dataset, path,
             k->s, n ? "it has " : "it has none", names);
  else if (found->type == TSR_ATTR_INT64)
    set_int(out, found->i64);
  else if (found->type == TSR_ATTR_FLOAT64)
    set_float(out, found->f64);
  else if (found->type == TSR_ATTR_STRING)
    s = FAIL(kpos, TSR_EINVAL,
             "attribute '%s' of '%s:%s' is the string \"%.80s\": attr() gives numbers "
             "(tessera info shows every attribute)",
             k->s, path, dataset, found->string);
  else
    s = FAIL(kpos, TSR_EINVAL, "attribute '%s' of '%s:%s' is %s: attr() gives single numbers",
             k->s, path, dataset, found->string);
  tsr_hdf5_attrs_free(ev->ctx, &list, n);
  return s;
}

static tsr_status rearrange(call *c, qv *out) {
  tsr__qeval *ev = c->ev;
  int op = c->node->fn->op;
  if (op == 5) {
    tsr_array *r = NULL;
    TSR_TRY(get_array(c, c->node->fn->params[0], TSR_NUM_DTYPES, &r));
    set_array(out, r);
    return TSR_OK;
  }
  int64_t list[TSR_MAX_NDIM], before[TSR_MAX_NDIM], after[TSR_MAX_NDIM], buf[TSR_MAX_NDIM];
  int64_t seed = 0, n = 0, low = 0, high = 0, chunk = 0, axis = 0;
  const int64_t *chunks = NULL;
  int nlist = 0, mode = 0;
  bool axis_none = false;
  double value = 0;
  const qv *x = arg(c, c->node->fn->params[0], NULL);
  if (op == 3 || op == 4) {
    TSR_TRY(get_int(c, "seed", 0, &seed));
    if (seed < 0)
      return bad_arg(c, "seed", "a non-negative integer");
  }
  switch (op) {
  case 0: { /* pad(array, pad_width, mode="constant", constant_values=0) */
    static const char *const modes[] = {"constant", "edge", "reflect", "symmetric", "wrap"};
    int32_t pos;
    const qv *m = arg(c, "mode", &pos);
    mode = m->kind == QV_NONE ? 0 : -1;
    for (int k = 0; k < 5 && m->kind == QV_STRING; k++)
      if (strcmp(m->s, modes[k]) == 0)
        mode = k;
    if (m->kind == QV_STRING && mode < 0)
      return FAIL(pos, TSR_EINVAL,
                  "pad() mode '%s' is unknown (use \"constant\", \"edge\", \"reflect\", "
                  "\"symmetric\" or \"wrap\")",
                  m->s);
    if (mode < 0)
      return bad_arg(c, "mode", "a string");
    TSR_TRY(get_number(c, "constant_values", 0, &value));
    break;
  }
  case 1: /* tile(A, reps) */
    TSR_TRY(get_ints(c, "reps", list, &nlist));
    break;
  case 2: /* repeat(a, repeats, axis=None) */
    TSR_TRY(get_int(c, "repeats", 0, &n));
    axis_none = arg(c, "axis", NULL)->kind == QV_NONE;
    TSR_TRY(get_int(c, "axis", 0, &axis));
    if (axis < -TSR_MAX_NDIM || axis > TSR_MAX_NDIM)
      return bad_arg(c, "axis", "a valid axis");
    break;
  case 3: /* permutation(x, seed=0, chunks=None): of arange(x), or x shuffled on axis 0 */
    TSR_TRY(get_chunk1(c, "chunks", &chunk));
    if (x->kind == QV_INT && x->i < 0)
      return bad_arg(c, "x", "a non-negative integer or an array");
    break;
  default: { /* randint(low, high=None, shape=(), seed=0, chunks=None) */
    TSR_TRY(get_int(c, "low", 0, &low));
    bool one = arg(c, "high", NULL)->kind == QV_NONE; /* NumPy: randint(n) is [0, n) */
    TSR_TRY(get_int(c, "high", 0, &high));
    if (one) {
      high = low;
      low = 0;
    }
    if (arg(c, "shape", NULL)->kind != QV_NONE)
      TSR_TRY(get_shape(c, "shape", &nlist, list));
    TSR_TRY(get_chunks(c, "chunks", nlist, buf, &chunks));
    break;
  }
  }
  tsr_array *a = NULL, *r = NULL, *perm = NULL;
  if (op <= 2 || (op == 3 && x->kind != QV_INT)) {
    TSR_TRY(get_array(c, c->node->fn->params[0], TSR_NUM_DTYPES, &a));
    if (op == 0) {
      tsr_status sw = get_pad_width(c, tsr_array_ndim(a), before, after);
      if (sw != TSR_OK) {
        tsr_array_destroy(&a);
        return sw;
      }
    }
    if (op == 3 && tsr_array_ndim(a) == 0) {
      tsr_array_destroy(&a);
      return bad_arg(c, "x", "an integer or an array of at least one axis");
    }
  }
  int ax = (int)axis;
  tsr_status s;
  switch (op) {
  case 0:
    s = tsr_pad(a, before, after, (tsr_pad_mode)mode, value, &r);
    break;
  case 1:
    s = tsr_tile(a, nlist, list, &r);
    break;
  case 2:
    s = tsr_repeat(a, n, axis_none ? NULL : &ax, &r);
    break;
  case 3:
    if (a == NULL) {
      s = tsr_array_permutation(ev->ctx, (uint64_t)seed, x->i, chunk, &r);
    } else {
      s = tsr_array_permutation(ev->ctx, (uint64_t)seed, tsr_array_shape(a)[0], chunk, &perm);
      if (s == TSR_OK)
        s = tsr_take(a, perm, 0, &r);
    }
    break;
  default:
    s = low < high ? tsr_array_random_integers(ev->ctx, (uint64_t)seed, low, high, nlist, list,
                                               chunks, &r)
                   : tsr_error_set(TSR_EINVAL, "randint(): low (%lld) must be below high (%lld)",
                                   (long long)low, (long long)high);
    break;
  }
  tsr_array_destroy(&a);
  tsr_array_destroy(&perm);
  if (s != TSR_OK)
    return wrap(ev, c->node->pos, s);
  set_array(out, r);
  return TSR_OK;
}

/* zeros_like, ones_like, full_like, empty_like: a's shape, dtype and chunks
 * (its first chunk's extents) unless given. */
static tsr_status like(call *c, qv *out) {
  tsr__qeval *ev = c->ev;
  int op = c->node->fn->op;
  tsr_array *a = NULL, *r = NULL;
  TSR_TRY(get_array(c, "a", TSR_NUM_DTYPES, &a));
  int nd = tsr_array_ndim(a);
  int64_t shape[TSR_MAX_NDIM], own[TSR_MAX_NDIM], buf[TSR_MAX_NDIM];
  memcpy(shape, tsr_array_shape(a), (size_t)nd * sizeof *shape);
  for (int d = 0; d < nd; d++) {
    int64_t e = tsr_chunk_grid_chunk_extent(tsr_array_chunks(a), d, 0);
    own[d] = e > 0 ? e : 1;
  }
  tsr_dtype t;
  const int64_t *chunks = own;
  tsr_status s = get_dtype(c, "dtype", tsr_array_dtype(a), &t);
  if (s == TSR_OK && arg(c, "chunks", NULL)->kind != QV_NONE)
    s = get_chunks(c, "chunks", nd, buf, &chunks);
  tsr_array_destroy(&a);
  TSR_TRY(s);
  if (op == 2) {
    const qv *fill = arg(c, "fill_value", NULL);
    double value = 0;
    TSR_TRY(get_number(c, "fill_value", 0, &value));
    if (fill->kind == QV_INT)
      s = tsr_array_full_i64(ev->ctx, t, nd, shape, chunks, fill->i, &r);
    else if (fill->kind == QV_UINT)
      s = tsr_array_full_u64(ev->ctx, t, nd, shape, chunks, (uint64_t)fill->i, &r);
    else
      s = tsr_array_full(ev->ctx, t, nd, shape, chunks, value, &r);
  } else {
    s = tsr_array_full(ev->ctx, t, nd, shape, chunks, op == 1 ? 1.0 : 0.0, &r);
  }
  if (s != TSR_OK)
    return wrap(ev, c->node->pos, s);
  set_array(out, r);
  return TSR_OK;
}

static tsr_status dispatch(call *c, qv *out) {
  tsr__qeval *ev = c->ev;
  const tsr__qfn *fn = c->node->fn;
  const char *p0 = fn->params[0];
  tsr_array *r = NULL, *a = NULL, *b = NULL;
  tsr_status s = TSR_OK;
  switch (fn->kind) {
  case QF_ROUND:
    return round_decimals(c, out);
  case QF_COMPOSED:
    return composed(c, out);
  case QF_LIKE:
    return like(c, out);
  case QF_REARRANGE:
    return rearrange(c, out);
  case QF_HDF5_ATTR:
    return hdf5_attr(c, out);
  case QF_LINALG:
    return linalg_fn(c, out);
  case QF_UNARY:
    TSR_TRY(get_array(c, p0, TSR_NUM_DTYPES, &a));
    s = tsr_unary((tsr_unary_op)fn->op, a, &r);
    if (s != TSR_OK)
      s = wrap(ev, c->node->pos, s);
    break;
  case QF_BINARY:
    return apply_binary(ev, (tsr_binary_op)fn->op, c->node->text, &c->args[0], &c->args[1],
                        c->node->pos, out);
  case QF_REDUCE:
    s = reduce(c, &r);
    break;
  case QF_ARGMIN:
  case QF_ARGMAX:
  case QF_CUMSUM:
  case QF_CUMPROD:
    s = along_axis(c, &r);
    break;
  case QF_WHERE:
    s = where(c, &r);
    break;
  case QF_CLIP:
    return clip(c, out);
  case QF_MATMUL:
  case QF_DOT:
  case QF_TENSORDOT:
    TSR_TRY(get_array(c, p0, TSR_NUM_DTYPES, &a));
    s = get_array(c, fn->params[1], TSR_NUM_DTYPES, &b);
    if (s == TSR_OK && fn->kind == QF_TENSORDOT)
      s = tensordot(c, a, b, &r);
    else if (s == TSR_OK && (s = (fn->kind == QF_MATMUL ? tsr_matmul : tsr_dot)(a, b, &r)) != 0)
      s = wrap(ev, c->node->pos, s);
    break;
  case QF_ASTYPE:
  case QF_TRANSPOSE:
  case QF_RESHAPE:
  case QF_RECHUNK:
  case QF_SQUEEZE:
  case QF_EXPAND_DIMS:
    TSR_TRY(get_array(c, p0, TSR_NUM_DTYPES, &a));
    s = structural(c, a, &r);
    break;
  case QF_CONCATENATE:
  case QF_STACK:
    s = join(c, &r);
    break;
  case QF_SORT:
  case QF_UNIQUE:
  case QF_QUANTILE:
  case QF_MEDIAN:
  case QF_HISTOGRAM:
  case QF_BINCOUNT:
  case QF_DIGITIZE:
  case QF_SEARCHSORTED:
  case QF_ISIN:
    return order_fn(c, out);
  default:
    s = construct(c, &r);
    break;
  }
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  if (s != TSR_OK)
    return s;
  set_array(out, r);
  return TSR_OK;
}

/* A call whose arguments (one per parameter, None when not given) are
 * args[0..nparams); they are moved into the call and cleared. */
static tsr_status eval_call(tsr__qeval *ev, const tsr__qnode *n, qv *args, qv *out) {
  call c;
  memset(&c, 0, sizeof c);
  c.ev = ev;
  c.node = n;
  int np = tsr__query_fn_nparams(n->fn);
  memcpy(c.args, args, (size_t)np * sizeof *args);
  memset(args, 0, (size_t)np * sizeof *args);
  tsr_status s = dispatch(&c, out);
  for (int i = 0; i < np; i++)
    tsr__query_value_clear(ev->ctx, &c.args[i]);
  return s;
}

/* ---- names, attributes, indexing ------------------------------------- */

static tsr_status eval_name(tsr__qeval *ev, const tsr__qnode *n, qv *out) {
  const qv *v = tsr__query_env_find(ev->vars, n->text);
  if (v == NULL)
    v = tsr__query_env_find(ev->inputs, n->text);
  if (v != NULL) {
    tsr_status s = tsr__query_value_copy(ev->ctx, v, out);
    return s == TSR_OK ? s : wrap(ev, n->pos, s);
  }
  static const struct {
    const char *name;
    double value;
  } floats[] = {{"inf", INFINITY}, {"nan", NAN}, {"pi", M_PI}, {"e", M_E}};
  for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
    if (strcmp(n->text, floats[i].name) == 0) {
      set_float(out, floats[i].value);
      return TSR_OK;
    }
  if (strcmp(n->text, "True") == 0 || strcmp(n->text, "true") == 0) {
    set_bool(out, true);
  } else if (strcmp(n->text, "False") == 0 || strcmp(n->text, "false") == 0) {
    set_bool(out, false);
  } else if (strcmp(n->text, "None") == 0 || strcmp(n->text, "newaxis") == 0 ||
             strcmp(n->text, "Ellipsis") == 0) {
    memset(out, 0, sizeof *out); /* an index tells Ellipsis by its node */
  } else {
    tsr__qfn fn;
    if (tsr__query_fn_find(n->text, &fn))
      return FAIL(n->pos, TSR_EINVAL, "'%s' is a function: call it as %s(...)", n->text, n->text);
    return FAIL(n->pos, TSR_EINVAL, "unknown name '%s'", n->text);
  }
  return TSR_OK;
}

static tsr_status eval_attr(tsr__qeval *ev, const tsr__qnode *n, const qv *v, qv *out) {
  bool arr = v->kind == QV_ARRAY;
  if (!arr && !is_number(v))
    return FAIL(n->pos, TSR_EINVAL, "a %s has no attribute '%s'", tsr__query_value_kind_name(v),
                n->text);
  if (strcmp(n->text, "T") == 0) {
    if (!arr)
      return tsr__query_value_copy(ev->ctx, v, out);
    tsr_array *r = NULL;
    API(n->pos, tsr_transpose(v->array, NULL, &r));
    set_array(out, r);
  } else if (strcmp(n->text, "ndim") == 0) {
    set_int(out, arr ? tsr_array_ndim(v->array) : 0);
  } else if (strcmp(n->text, "size") == 0) {
    set_int(out, arr ? tsr_array_size(v->array) : 1);
  } else if (strcmp(n->text, "dtype") == 0) { /* a number's as NumPy types it */
    memset(out, 0, sizeof *out);
    out->kind = QV_STRING;
    out->s = tsr_dtype_name(arr                     ? tsr_array_dtype(v->array)
                            : v->kind == QV_BOOL    ? TSR_BOOL
                            : v->kind == QV_FLOAT   ? TSR_FLOAT64
                            : v->kind == QV_UINT    ? TSR_UINT64
                                                    : TSR_INT64);
  } else { /* shape */
    int nd = arr ? tsr_array_ndim(v->array) : 0;
    memset(out, 0, sizeof *out);
    out->kind = QV_TUPLE;
    if (nd > 0) {
      API(n->pos, tsr_calloc(ev->ctx, (size_t)nd, sizeof *out->items, (void **)&out->items));
      for (int d = 0; d < nd; d++)
        set_int(&out->items[d], tsr_array_shape(v->array)[d]);
      out->n = nd;
    }
  }
  return TSR_OK;
}

/* An index bound: an integer or None (TSR_NONE). */
static tsr_status index_bound(tsr__qeval *ev, const tsr__qnode *n, const qv *v, int64_t none,
                              int64_t *out) {
  *out = none;
  if (v->kind == QV_INT)
    *out = v->i;
  else if (v->kind != QV_NONE)
    return FAIL(n->pos, TSR_EINVAL, "indices must be integers or slices, not %s",
                tsr__query_value_kind_name(v));
  return TSR_OK;
}

/* x[...] with the values of the index items (a slice's three parts, None
 * when omitted) in vals, then the target's value. */
static bool is_ellipsis(const tsr__qnode *it) {
  return it->kind == QN_NAME && strcmp(it->text, "Ellipsis") == 0;
}

/* x[...]: as NumPy's basic indexing: integers and slices select, None (or
 * newaxis) inserts an axis of extent 1, one Ellipsis stands for as many
 * full slices as the other items leave axes.  And by data (take.c): a bool
 * array of x's shape alone selects its true elements (1-D, C order); one
 * 1-D integer array (fancy indexing) or bool array (a mask along that axis)
 * among the other items selects along its axis. */
static tsr_status eval_index(tsr__qeval *ev, const tsr__qnode *n, const qv *vals, qv *out) {
  int items = n->nkids - 1, count = 0;
  tsr_index index[TSR_MAX_NDIM];
  int newaxes[TSR_MAX_NDIM], n_new = 0, out_axis = 0, ellipsis_at = -1;
  const qv *v = vals;
  /* The target's value follows the items' (one per item, three per slice). */
  const qv *target = vals;
  for (int i = 0; i < items; i++)
    target += n->kids[i + 1]->kind == QN_SLICE ? 3 : 1;
  /* An array among the items: at most one, 1-D, or a whole-shape mask. */
  const tsr__qnode *by_node = NULL;
  tsr_array *by = NULL;
  int by_axis = -1;
  for (int i = 0, k = 0; i < items; k += n->kids[i + 1]->kind == QN_SLICE ? 3 : 1, i++) {
    if (n->kids[i + 1]->kind == QN_SLICE || vals[k].kind != QV_ARRAY)
      continue;
    if (by != NULL)
      return FAIL(n->kids[i + 1]->pos, TSR_EINVAL,
                  "only one integer or boolean array can index an array");
    by = vals[k].array;
    by_node = n->kids[i + 1];
  }
  if (by != NULL && target->kind == QV_ARRAY && items == 1 && tsr_array_dtype(by) == TSR_BOOL &&
      tsr_array_ndim(by) == tsr_array_ndim(target->array) && tsr_array_ndim(by) != 1) {
    tsr_array *r = NULL;
    API(n->pos, tsr_mask_select(target->array, by, &r));
    set_array(out, r);
    return TSR_OK;
  }
  if (by != NULL && tsr_array_ndim(by) != 1)
    return FAIL(by_node->pos, TSR_EINVAL,
                "an array index must be 1-d (or a bool mask of the array's whole shape), not %d-d",
                tsr_array_ndim(by));
  int used = 0; /* axes the items other than None and Ellipsis consume */
  for (int i = 0; i < items; i++) {
    const tsr__qnode *it = n->kids[i + 1];
    if (is_ellipsis(it)) {
      if (ellipsis_at >= 0)
        return FAIL(it->pos, TSR_EINVAL, "an index can only have a single ellipsis ('...')");
      ellipsis_at = i;
    }
  }
  for (int i = 0, k = 0; i < items; i++) {
    const tsr__qnode *it = n->kids[i + 1];
    if (it->kind == QN_SLICE) {
      used++;
      k += 3;
    } else {
      used += !is_ellipsis(it) && vals[k].kind != QV_NONE;
      k += 1;
    }
  }
  int nd = target->kind == QV_ARRAY ? tsr_array_ndim(target->array) : 1;
  if (target->kind == QV_ARRAY && used > nd)
    return FAIL(n->pos, TSR_EINVAL, "too many indices: %d for a %d-d array", used, nd);
  for (int i = 0; i < items; i++) {
    const tsr__qnode *it = n->kids[i + 1];
    if (is_ellipsis(it) || (it->kind != QN_SLICE && v[0].kind == QV_NONE)) {
      v += 1;
      if (target->kind != QV_ARRAY)
        return FAIL(it->pos, TSR_EINVAL, "a %s takes one integer index",
                    tsr__query_value_kind_name(target));
      if (is_ellipsis(it)) {
        for (int e = 0; e < nd - used; e++, out_axis++)
          index[count++] = TSR_ALL;
      } else {
        if (n_new + out_axis >= TSR_MAX_NDIM)
          return FAIL(it->pos, TSR_EINVAL, "the result would have more than %d axes",
                      TSR_MAX_NDIM);
        newaxes[n_new++] = out_axis++;
      }
      continue;
    }
    if (it->kind == QN_SLICE) {
      index[count].is_slice = true;
      TSR_TRY(
          index_bound(ev, it->kids[0] ? it->kids[0] : it, &v[0], TSR_NONE, &index[count].start));
      TSR_TRY(
          index_bound(ev, it->kids[1] ? it->kids[1] : it, &v[1], TSR_NONE, &index[count].stop));
      TSR_TRY(index_bound(ev, it->kids[2] ? it->kids[2] : it, &v[2], 1, &index[count].step));
      if (index[count].step == 0)
        return FAIL(it->kids[2]->pos, TSR_EINVAL, "slice step cannot be zero");
      v += 3;
      count++;
      out_axis++;
    } else if (v[0].kind == QV_ARRAY) { /* a full slice here, then take along it */
      index[count++] = TSR_ALL;
      by_axis = out_axis++;
      v += 1;
    } else {
      index[count].is_slice = false;
      TSR_TRY(index_bound(ev, it, &v[0], TSR_NONE, &index[count].start));
      v += 1;
      count++;
    }
  }
  tsr_array *r = NULL;
  if (target->kind == QV_TUPLE) { /* (a, b)[i], as Python: one integer index */
    if (count != 1 || index[0].is_slice)
      return FAIL(n->pos, TSR_EINVAL, "a tuple takes one integer index");
    int64_t i = index[0].start < 0 ? index[0].start + target->n : index[0].start;
    if (i < 0 || i >= target->n)
      return FAIL(n->kids[1]->pos, TSR_EINVAL, "tuple index %lld is out of range for %d items",
                  (long long)index[0].start, target->n);
    tsr_status s = tsr__query_value_copy(ev->ctx, &target->items[i], out);
    return s == TSR_OK ? s : wrap(ev, n->pos, s);
  }
  if (target->kind != QV_ARRAY)
    return FAIL(n->pos, TSR_EINVAL, "a %s cannot be indexed", tsr__query_value_kind_name(target));
  API(n->pos, tsr_slice(target->array, count, index, &r));
  for (int k = 0; k < n_new; k++) { /* in increasing result positions */
    tsr_array *e = NULL;
    tsr_status s = tsr_expand_dims(r, newaxes[k], &e);
    tsr_array_destroy(&r);
    if (s != TSR_OK)
      return wrap(ev, n->pos, s);
    r = e;
  }
  if (by != NULL) {
    int64_t want = tsr_array_shape(r)[by_axis], got = tsr_array_shape(by)[0];
    if (tsr_array_dtype(by) == TSR_BOOL && got != want) {
      tsr_array_destroy(&r);
      return FAIL(by_node->pos, TSR_EINVAL,
                  "a boolean index of length %lld does not match the indexed axis of length %lld",
                  (long long)got, (long long)want);
    }
    tsr_array *e = NULL;
    tsr_status s = tsr_array_dtype(by) == TSR_BOOL ? tsr_compress(by, r, by_axis, &e)
                                                   : tsr_take(r, by, by_axis, &e);
    tsr_array_destroy(&r);
    if (s != TSR_OK)
      return wrap(ev, by_node->pos, s);
    r = e;
  }
  set_array(out, r);
  return TSR_OK;
}

/* ---- the walk ----------------------------------------------------------- */

/* The tree is walked with a heap stack of frames and a heap stack of
 * values: a frame pushes the values of its node's children (in the order
 * below), then replaces them by its node's value.  The depth of the tree
 * (a sum of a million terms is a left-deep chain a million deep) costs
 * heap memory only. */
typedef struct eframe {
  const tsr__qnode *node;
  int32_t next; /* children pushed so far */
  int32_t base; /* value stack index of the first child's value */
} eframe;

typedef struct walk {
  tsr_ctx *ctx;
  eframe *frames;
  int32_t nframes, cap_frames;
  qv *vals;
  int32_t nvals, cap_vals;
} walk;

static tsr_status grow(tsr_ctx *ctx, void **data, int32_t *cap, int32_t n, size_t size) {
  if (n < *cap)
    return TSR_OK;
  if (*cap > INT32_MAX / 2)
    return tsr_error_set(TSR_ENOMEM, "program: nesting too deep");
  int32_t c = *cap ? 2 * *cap : 64;
  TSR_TRY(tsr__grow_array(ctx, data, (size_t)n, (size_t)c, size, "the evaluator's stack"));
  *cap = c;
  return TSR_OK;
}

/* How many values a node's children give, in evaluation order: a call's
 * parameters (None for those not given); an index's items (three per
 * slice) and then its target; other nodes their kids. */
static int32_t nchildren(const tsr__qnode *n) {
  switch (n->kind) {
  case QN_CALL:
    return tsr__query_fn_nparams(n->fn);
  case QN_INDEX: {
    int32_t k = 1;
    for (int32_t i = 1; i < n->nkids; i++)
      k += n->kids[i]->kind == QN_SLICE ? 3 : 1;
    return k;
  }
  case QN_TUPLE:
  case QN_UNARY:
  case QN_BINARY:
  case QN_ATTR:
    return n->nkids;
  default:
    return 0;
  }
}

/* Child number k of n in that order (NULL: None). */
static const tsr__qnode *child(const tsr__qnode *n, int32_t k) {
  if (n->kind == QN_CALL)
    return n->slots[k];
  if (n->kind != QN_INDEX)
    return n->kids[k];
  for (int32_t i = 1; i < n->nkids; i++) {
    const tsr__qnode *it = n->kids[i];
    if (it->kind == QN_SLICE) {
      if (k < 3)
        return it->kids[k];
      k -= 3;
    } else {
      if (k == 0)
        return it;
      k -= 1;
    }
  }
  return n->kids[0];
}

/* The value of a node with no children to evaluate. */
static tsr_status eval_leaf(tsr__qeval *ev, const tsr__qnode *n, qv *out) {
  memset(out, 0, sizeof *out);
  switch (n->kind) {
  case QN_NUMBER:
    if (n->is_uint)
      set_uint(out, (uint64_t)n->ival);
    else
      n->is_int ? set_int(out, n->ival) : set_float(out, n->fval);
    return TSR_OK;
  case QN_STRING:
    out->kind = QV_STRING;
    out->s = n->text;
    return TSR_OK;
  case QN_NAME:
    return eval_name(ev, n, out);
  case QN_TUPLE: /* () */
    out->kind = QV_TUPLE;
    return TSR_OK;
  default:
    return FAIL(n->pos, TSR_EINTERNAL, "unexpected syntax node %d", (int)n->kind);
  }
}

/* The value of n from its children's values (vals[0..nchildren)), which
 * the caller clears afterwards (unless moved out: cleared to None). */
static tsr_status eval_node(tsr__qeval *ev, const tsr__qnode *n, qv *vals, qv *out) {
  memset(out, 0, sizeof *out);
  switch (n->kind) {
  case QN_TUPLE:
    out->kind = QV_TUPLE;
    API(n->pos, tsr_calloc(ev->ctx, (size_t)n->nkids, sizeof *out->items, (void **)&out->items));
    memcpy(out->items, vals, (size_t)n->nkids * sizeof *vals);
    memset(vals, 0, (size_t)n->nkids * sizeof *vals);
    out->n = n->nkids;
    return TSR_OK;
  case QN_UNARY:
    return eval_unary(ev, n, &vals[0], out);
  case QN_BINARY:
    return eval_binary(ev, n, &vals[0], &vals[1], out);
  case QN_ATTR:
    return eval_attr(ev, n, &vals[0], out);
  case QN_INDEX:
    return eval_index(ev, n, vals, out);
  case QN_CALL:
    return eval_call(ev, n, vals, out);
  default:
    return FAIL(n->pos, TSR_EINTERNAL, "unexpected syntax node %d", (int)n->kind);
  }
}

static tsr_status walk_push_value(tsr__qeval *ev, walk *w, const tsr__qnode *at, qv **slot) {
  tsr_status s = grow(w->ctx, (void **)&w->vals, &w->cap_vals, w->nvals, sizeof *w->vals);
  if (s != TSR_OK)
    return wrap(ev, at->pos, s);
  *slot = &w->vals[w->nvals++];
  memset(*slot, 0, sizeof **slot);
  return TSR_OK;
}

static tsr_status walk_push_frame(tsr__qeval *ev, walk *w, const tsr__qnode *n) {
  tsr_status s = grow(w->ctx, (void **)&w->frames, &w->cap_frames, w->nframes, sizeof *w->frames);
  if (s != TSR_OK)
    return wrap(ev, n->pos, s);
  w->frames[w->nframes++] = (eframe){n, 0, w->nvals};
  return TSR_OK;
}

static tsr_status walk_run(tsr__qeval *ev, walk *w, const tsr__qnode *root) {
  if (root->kind == QN_INDEX && root->nkids - 1 > TSR_MAX_NDIM)
    return FAIL(root->pos, TSR_EINVAL, "too many indices (%d)", (int)(root->nkids - 1));
  TSR_TRY(walk_push_frame(ev, w, root));
  while (w->nframes > 0) {
    eframe *f = &w->frames[w->nframes - 1];
    const tsr__qnode *n = f->node;
    int32_t total = nchildren(n);
    if (f->next < total) {
      const tsr__qnode *c = child(n, f->next++);
      if (c != NULL && nchildren(c) > 0) {
        if (c->kind == QN_INDEX && c->nkids - 1 > TSR_MAX_NDIM)
          return FAIL(c->pos, TSR_EINVAL, "too many indices (%d)", (int)(c->nkids - 1));
        TSR_TRY(walk_push_frame(ev, w, c));
        continue;
      }
      qv *slot = NULL;
      TSR_TRY(walk_push_value(ev, w, n, &slot));
      if (c != NULL)
        TSR_TRY(eval_leaf(ev, c, slot));
      continue;
    }
    qv r;
    int32_t base = f->base;
    tsr_status s = total > 0 ? eval_node(ev, n, &w->vals[base], &r) : eval_leaf(ev, n, &r);
    while (w->nvals > base)
      tsr__query_value_clear(ev->ctx, &w->vals[--w->nvals]);
    if (s != TSR_OK)
      return s;
    w->nframes--;
    qv *slot = NULL;
    if ((s = walk_push_value(ev, w, n, &slot)) != TSR_OK) {
      tsr__query_value_clear(ev->ctx, &r);
      return s;
    }
    *slot = r;
  }
  return TSR_OK;
}

tsr_status tsr__query_eval(tsr__qeval *ev, const tsr__qnode *n, qv *out) {
  memset(out, 0, sizeof *out);
  walk w;
  memset(&w, 0, sizeof w);
  w.ctx = ev->ctx;
  tsr_status s = walk_run(ev, &w, n);
  if (s == TSR_OK)
    *out = w.vals[0];
  else
    while (w.nvals > 0)
      tsr__query_value_clear(ev->ctx, &w.vals[--w.nvals]);
  tsr_free(ev->ctx, w.vals);
  tsr_free(ev->ctx, w.frames);
  return s;
}
