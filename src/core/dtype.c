/* dtype.c — the element types: sizes, names, NumPy-style parsing of names
 * and type codes, kind predicates, and NumPy's promotion of two array dtypes.
 *
 * Invariants: every function takes any int value in the tsr_dtype slot and
 * treats values outside [0, TSR_NUM_DTYPES) as invalid (getters answer
 * 0/"invalid"/false; fallible functions return TSR_EINVAL naming the
 * argument).  The per-dtype tables below are indexed by the enum and must
 * follow its order.  Promotion is computed from kind and size by NumPy's
 * rules (np.result_type for arrays, no value-based casting), so it is
 * symmetric by construction and never needs a table to be kept in sync.
 * Parsing is case-sensitive, as NumPy's is ("F" is complex64 there). */
#include <string.h>

#include "core_impl.h"

typedef enum kind { KIND_BOOL, KIND_SIGNED, KIND_UNSIGNED, KIND_FLOAT } kind;

typedef struct dtype_info {
  const char *name;
  size_t size;
  kind kind;
} dtype_info;

static const dtype_info infos[TSR_NUM_DTYPES] = {
    [TSR_BOOL] = {"bool", 1, KIND_BOOL},         [TSR_INT8] = {"int8", 1, KIND_SIGNED},
    [TSR_INT16] = {"int16", 2, KIND_SIGNED},     [TSR_INT32] = {"int32", 4, KIND_SIGNED},
    [TSR_INT64] = {"int64", 8, KIND_SIGNED},     [TSR_UINT8] = {"uint8", 1, KIND_UNSIGNED},
    [TSR_UINT16] = {"uint16", 2, KIND_UNSIGNED}, [TSR_UINT32] = {"uint32", 4, KIND_UNSIGNED},
    [TSR_UINT64] = {"uint64", 8, KIND_UNSIGNED}, [TSR_FLOAT32] = {"float32", 4, KIND_FLOAT},
    [TSR_FLOAT64] = {"float64", 8, KIND_FLOAT},
};

bool tsr_dtype_valid(tsr_dtype dtype) { return (int)dtype >= 0 && (int)dtype < TSR_NUM_DTYPES; }

size_t tsr_dtype_size(tsr_dtype dtype) { return tsr_dtype_valid(dtype) ? infos[dtype].size : 0; }

const char *tsr_dtype_name(tsr_dtype dtype) {
  return tsr_dtype_valid(dtype) ? infos[dtype].name : "invalid";
}

bool tsr_dtype_is_integer(tsr_dtype dtype) {
  return tsr_dtype_valid(dtype) &&
         (infos[dtype].kind == KIND_SIGNED || infos[dtype].kind == KIND_UNSIGNED);
}

bool tsr_dtype_is_signed(tsr_dtype dtype) {
  return tsr_dtype_valid(dtype) &&
         (infos[dtype].kind == KIND_SIGNED || infos[dtype].kind == KIND_FLOAT);
}

bool tsr_dtype_is_float(tsr_dtype dtype) {
  return tsr_dtype_valid(dtype) && infos[dtype].kind == KIND_FLOAT;
}

/* ---- parsing ----------------------------------------------------------- */

typedef struct alias {
  const char *name;
  tsr_dtype dtype;
} alias;

/* C `long` follows the platform (LP64: 8 bytes), as NumPy's 'l' does;
 * intp/'p' and Python's int follow the pointer size. */
#define DTYPE_LONG (sizeof(long) == 8 ? TSR_INT64 : TSR_INT32)
#define DTYPE_ULONG (sizeof(long) == 8 ? TSR_UINT64 : TSR_UINT32)
#define DTYPE_INTP (sizeof(void *) == 8 ? TSR_INT64 : TSR_INT32)
#define DTYPE_UINTP (sizeof(void *) == 8 ? TSR_UINT64 : TSR_UINT32)

static tsr_dtype lookup(const char *name, bool *found) {
  static const alias fixed[] = {
      /* canonical names */
      {"bool", TSR_BOOL},
      {"int8", TSR_INT8},
      {"int16", TSR_INT16},
      {"int32", TSR_INT32},
      {"int64", TSR_INT64},
      {"uint8", TSR_UINT8},
      {"uint16", TSR_UINT16},
      {"uint32", TSR_UINT32},
      {"uint64", TSR_UINT64},
      {"float32", TSR_FLOAT32},
      {"float64", TSR_FLOAT64},
      /* kind + size codes */
      {"b1", TSR_BOOL},
      {"i1", TSR_INT8},
      {"i2", TSR_INT16},
      {"i4", TSR_INT32},
      {"i8", TSR_INT64},
      {"u1", TSR_UINT8},
      {"u2", TSR_UINT16},
      {"u4", TSR_UINT32},
      {"u8", TSR_UINT64},
      {"f4", TSR_FLOAT32},
      {"f8", TSR_FLOAT64},
      /* one-character type codes */
      {"?", TSR_BOOL},
      {"b", TSR_INT8},
      {"B", TSR_UINT8},
      {"h", TSR_INT16},
      {"H", TSR_UINT16},
      {"i", TSR_INT32},
      {"I", TSR_UINT32},
      {"q", TSR_INT64},
      {"Q", TSR_UINT64},
      {"f", TSR_FLOAT32},
      {"d", TSR_FLOAT64},
      /* C and Python names */
      {"byte", TSR_INT8},
      {"ubyte", TSR_UINT8},
      {"short", TSR_INT16},
      {"ushort", TSR_UINT16},
      {"intc", TSR_INT32},
      {"uintc", TSR_UINT32},
      {"longlong", TSR_INT64},
      {"ulonglong", TSR_UINT64},
      {"single", TSR_FLOAT32},
      {"double", TSR_FLOAT64},
      {"float", TSR_FLOAT64},
  };
  static const alias platform[] = {
      {"l", DTYPE_LONG},   {"L", DTYPE_ULONG},    {"long", DTYPE_LONG}, {"ulong", DTYPE_ULONG},
      {"p", DTYPE_INTP},   {"P", DTYPE_UINTP},    {"intp", DTYPE_INTP}, {"uintp", DTYPE_UINTP},
      {"int", DTYPE_INTP}, {"uint", DTYPE_UINTP}, {"int_", DTYPE_INTP},
  };
  *found = true;
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (strcmp(name, fixed[i].name) == 0)
      return fixed[i].dtype;
  for (size_t i = 0; i < sizeof platform / sizeof platform[0]; i++)
    if (strcmp(name, platform[i].name) == 0)
      return platform[i].dtype;
  *found = false;
  return TSR_BOOL;
}

/* NumPy dtypes that exist but that tessera does not implement: named in the
 * message so that the user is not told a real dtype is a typo. */
static bool known_unsupported(const char *name) {
  static const char *const names[] = {
      "float16",     "f2",          "e",    "half",    "complex64",  "c8",  "F",
      "complex128",  "c16",         "D",    "complex", "longdouble", "g",   "float128",
      "f16",         "clongdouble", "G",    "object",  "O",          "str", "U",
      "bytes",       "S",           "void", "V",       "datetime64", "M8",  "M",
      "timedelta64", "m8",          "m",
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(name, names[i]) == 0)
      return true;
  return false;
}

tsr_status tsr_dtype_from_name(const char *name, tsr_dtype *out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_dtype_from_name: out is NULL");
  *out = (tsr_dtype)0;
  TSR_CHECK(name != NULL, TSR_EINVAL, "tsr_dtype_from_name: name is NULL");
  const char *body = name;
  bool big_endian = false;
  if (*body == '<' || *body == '=' || *body == '|') {
    body++;
  } else if (*body == '>' || *body == '!') {
    big_endian = true;
    body++;
  }
  bool found;
  tsr_dtype dtype = lookup(body, &found);
  if (!found) {
    if (known_unsupported(body))
      return tsr_error_set(TSR_EDTYPE,
                           "tsr_dtype_from_name: dtype '%s' is not supported: use bool, "
                           "int8..int64, uint8..uint64, float32 or float64",
                           name);
    return tsr_error_set(TSR_EDTYPE, "tsr_dtype_from_name: unknown dtype name '%s'", name);
  }
  /* Byte order means nothing for one-byte types, so NumPy (and we) accept
   * '>u1'; multi-byte big-endian data would be misread, so it is refused. */
  TSR_CHECK(!big_endian || infos[dtype].size == 1, TSR_EDTYPE,
            "tsr_dtype_from_name: '%s' is big-endian, which is not supported (use '<' or '=')",
            name);
  *out = dtype;
  return TSR_OK;
}

/* ---- promotion --------------------------------------------------------- */

static tsr_dtype signed_of_size(size_t size) {
  switch (size) {
  case 1:
    return TSR_INT8;
  case 2:
    return TSR_INT16;
  case 4:
    return TSR_INT32;
  default:
    return TSR_INT64;
  }
}

/* The smallest float that holds every value of `t` exactly (NumPy's rule:
 * bool and 8/16-bit integers fit float32; anything wider needs float64). */
static tsr_dtype float_for(tsr_dtype t) {
  if (t == TSR_FLOAT64)
    return TSR_FLOAT64;
  if (infos[t].kind == KIND_FLOAT || infos[t].kind == KIND_BOOL || infos[t].size <= 2)
    return TSR_FLOAT32;
  return TSR_FLOAT64;
}

tsr_status tsr_dtype_promote(tsr_dtype a, tsr_dtype b, tsr_dtype *out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_dtype_promote: out is NULL");
  *out = (tsr_dtype)0;
  TSR_CHECK(tsr_dtype_valid(a), TSR_EINVAL, "tsr_dtype_promote: a = %d is not a tsr_dtype", (int)a);
  TSR_CHECK(tsr_dtype_valid(b), TSR_EINVAL, "tsr_dtype_promote: b = %d is not a tsr_dtype", (int)b);
  kind ka = infos[a].kind, kb = infos[b].kind;
  size_t sa = infos[a].size, sb = infos[b].size;
  tsr_dtype r;
  if (a == b || kb == KIND_BOOL) {
    r = a;
  } else if (ka == KIND_BOOL) {
    r = b;
  } else if (ka == KIND_FLOAT || kb == KIND_FLOAT) {
    tsr_dtype fa = float_for(a), fb = float_for(b);
    r = (fa == TSR_FLOAT64 || fb == TSR_FLOAT64) ? TSR_FLOAT64 : TSR_FLOAT32;
  } else if (ka == kb) {
    r = sa >= sb ? a : b;
  } else {
    /* One signed, one unsigned: the signed type must be strictly wider than
     * the unsigned one to hold it; else widen to twice the unsigned size,
     * and past 64 bits only float64 is left. */
    tsr_dtype s = ka == KIND_SIGNED ? a : b, u = ka == KIND_SIGNED ? b : a;
    if (infos[s].size > infos[u].size)
      r = s;
    else if (infos[u].size == 8)
      r = TSR_FLOAT64;
    else
      r = signed_of_size(2 * infos[u].size);
  }
  *out = r;
  return TSR_OK;
}
