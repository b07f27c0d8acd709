/* builtins.c — the functions a program may call and their parameters.
 *
 * Elementwise functions and reductions take the array layer's NumPy names
 * (tsr_unary_op_name, tsr_binary_op_name, tsr_reduce_op_name) plus a few
 * NumPy aliases; the rest is a static table.  Parameter lists follow NumPy's
 * names and positional order where they exist, so a call binds like a
 * Python call; the parser checks every call against this table. */
#include <string.h>

#include "query_impl.h"

#define P(...) ((const char *const[]){__VA_ARGS__, NULL})

static const tsr__qfn table[] = {
    {"argmin", QF_ARGMIN, 0, P("a", "axis"), 1},
    {"argmax", QF_ARGMAX, 0, P("a", "axis"), 1},
    {"cumsum", QF_CUMSUM, 0, P("a", "axis"), 1},
    {"cumprod", QF_CUMPROD, 0, P("a", "axis"), 1},
    {"where", QF_WHERE, 0, P("condition", "x", "y"), 3},
    {"clip", QF_CLIP, 0, P("a", "a_min", "a_max"), 1},
    {"astype", QF_ASTYPE, 0, P("x", "dtype"), 2},
    {"matmul", QF_MATMUL, 0, P("x1", "x2"), 2},
    {"dot", QF_DOT, 0, P("a", "b"), 2},
    {"tensordot", QF_TENSORDOT, 0, P("a", "b", "axes"), 2},
    {"transpose", QF_TRANSPOSE, 0, P("a", "axes"), 1},
    {"reshape", QF_RESHAPE, 0, P("a", "shape"), 2},
    {"rechunk", QF_RECHUNK, 0, P("x", "chunks"), 2},
    {"concatenate", QF_CONCATENATE, 0, P("arrays", "axis"), 1},
    {"stack", QF_STACK, 0, P("arrays", "axis"), 1},
    {"squeeze", QF_SQUEEZE, 0, P("a", "axis"), 1},
    {"expand_dims", QF_EXPAND_DIMS, 0, P("a", "axis"), 2},
    {"zeros", QF_ZEROS, 0, P("shape", "dtype", "chunks"), 1},
    {"ones", QF_ONES, 0, P("shape", "dtype", "chunks"), 1},
    {"full", QF_FULL, 0, P("shape", "fill_value", "dtype", "chunks"), 2},
    {"arange", QF_ARANGE, 0, P("start", "stop", "step", "dtype", "chunks"), 1},
    {"linspace", QF_LINSPACE, 0, P("start", "stop", "num", "endpoint", "dtype", "chunks"), 2},
    {"eye", QF_EYE, 0, P("N", "M", "k", "dtype", "chunks"), 1},
    {"random", QF_RANDOM, 0, P("shape", "chunks", "seed", "dist"), 1},
    {"sort", QF_SORT, 0, P("a", "axis"), 1},
    {"argsort", QF_SORT, 1, P("a", "axis"), 1},
    {"unique", QF_UNIQUE, 0, P("ar", "return_counts"), 1},
    {"quantile", QF_QUANTILE, 0, P("a", "q", "axis"), 2},
    {"percentile", QF_QUANTILE, 1, P("a", "q", "axis"), 2},
    {"nanquantile", QF_QUANTILE, 2, P("a", "q", "axis"), 2},
    {"nanpercentile", QF_QUANTILE, 3, P("a", "q", "axis"), 2},
    {"median", QF_MEDIAN, 0, P("a", "axis"), 1},
    {"nanmedian", QF_MEDIAN, 1, P("a", "axis"), 1},
    {"histogram", QF_HISTOGRAM, 0, P("a", "bins", "range"), 1},
    {"bincount", QF_BINCOUNT, 0, P("x", "weights", "minlength"), 1},
    {"digitize", QF_DIGITIZE, 0, P("x", "bins", "right"), 2},
    {"searchsorted", QF_SEARCHSORTED, 0, P("a", "v", "side"), 2},
    {"isin", QF_ISIN, 0, P("element", "test_elements", "invert"), 2},
    {"round", QF_ROUND, 0, P("a", "decimals"), 1},
    {"diff", QF_COMPOSED, 0, P("a", "n", "axis"), 1},
    {"outer", QF_COMPOSED, 1, P("a", "b"), 2},
    {"isclose", QF_COMPOSED, 2, P("a", "b", "rtol", "atol", "equal_nan"), 2},
    {"allclose", QF_COMPOSED, 3, P("a", "b", "rtol", "atol", "equal_nan"), 2},
    {"roll", QF_COMPOSED, 4, P("a", "shift", "axis"), 2},
    {"triu", QF_COMPOSED, 5, P("m", "k"), 1},
    {"tril", QF_COMPOSED, 6, P("m", "k"), 1},
    {"diag", QF_COMPOSED, 7, P("v", "k"), 1},
    {"trace", QF_COMPOSED, 8, P("a", "offset"), 1},
    {"norm", QF_COMPOSED, 9, P("x"), 1},
    {"cov", QF_COMPOSED, 10, P("m", "ddof"), 1},
    {"corrcoef", QF_COMPOSED, 11, P("x"), 1},
    {"zeros_like", QF_LIKE, 0, P("a", "dtype", "chunks"), 1},
    {"ones_like", QF_LIKE, 1, P("a", "dtype", "chunks"), 1},
    {"full_like", QF_LIKE, 2, P("a", "fill_value", "dtype", "chunks"), 2},
    {"empty_like", QF_LIKE, 3, P("a", "dtype", "chunks"), 1},
    {"around", QF_ROUND, 0, P("a", "decimals"), 1},
    {"attr", QF_HDF5_ATTR, 0, P("a", "name"), 2},
    {"pad", QF_REARRANGE, 0, P("array", "pad_width", "mode", "constant_values"), 2},
    {"tile", QF_REARRANGE, 1, P("A", "reps"), 2},
    {"repeat", QF_REARRANGE, 2, P("a", "repeats", "axis"), 2},
    {"permutation", QF_REARRANGE, 3, P("x", "seed", "chunks"), 1},
    {"randint", QF_REARRANGE, 4, P("low", "high", "shape", "seed", "chunks"), 1},
    {"array", QF_REARRANGE, 5, P("object"), 1},
    {"asarray", QF_REARRANGE, 5, P("a"), 1},
    {"qr", QF_LINALG, 0, P("a"), 1},
    {"svd", QF_LINALG, 1, P("a"), 1},
    {"lstsq", QF_LINALG, 2, P("a", "b"), 2},
    {"solve", QF_LINALG, 3, P("a", "b"), 2},
    {"inv", QF_LINALG, 4, P("a"), 1},
    {"cholesky", QF_LINALG, 5, P("a"), 1},
};

static const struct {
  const char *alias, *name;
} aliases[] = {
    {"abs", "absolute"},       {"divide", "true_divide"},    {"mod", "remainder"}, {"pow", "power"},
    {"bitwise_not", "invert"}, {"bitwise_invert", "invert"}, {"amin", "min"},      {"amax", "max"},
};

static const char *const unary_params[] = {"x", NULL};
static const char *const binary_params[] = {"x1", "x2", NULL};
static const char *const reduce_params[] = {"a", "axis", "keepdims", "split_every", NULL};
static const char *const reduce_ddof_params[] = {"a",    "axis",        "keepdims",
                                                 "ddof", "split_every", NULL};

static bool has_ddof(tsr_reduce_op op) {
  return op == TSR_REDUCE_VAR || op == TSR_REDUCE_STD || op == TSR_REDUCE_NANVAR ||
         op == TSR_REDUCE_NANSTD;
}

bool tsr__query_fn_find(const char *name, tsr__qfn *out) {
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcmp(name, aliases[i].alias) == 0)
      name = aliases[i].name;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) /* first: round(a, decimals) */
    if (strcmp(name, table[i].name) == 0) {
      *out = table[i];
      return true;
    }
  for (int op = 0; op < TSR_NUM_UNARY_OPS; op++)
    if (strcmp(name, tsr_unary_op_name((tsr_unary_op)op)) == 0) {
      *out = (tsr__qfn){name, QF_UNARY, op, unary_params, 1};
      return true;
    }
  for (int op = 0; op < TSR_NUM_BINARY_OPS; op++)
    if (strcmp(name, tsr_binary_op_name((tsr_binary_op)op)) == 0) {
      *out = (tsr__qfn){name, QF_BINARY, op, binary_params, 2};
      return true;
    }
  for (int op = 0; op < TSR_NUM_REDUCE_OPS; op++)
    if (strcmp(name, tsr_reduce_op_name((tsr_reduce_op)op)) == 0) {
      *out = (tsr__qfn){name, QF_REDUCE, op,
                        has_ddof((tsr_reduce_op)op) ? reduce_ddof_params : reduce_params, 1};
      return true;
    }
  return false;
}

int tsr__query_fn_nparams(const tsr__qfn *fn) {
  int n = 0;
  while (fn->params[n] != NULL)
    n++;
  return n;
}
