/* compose.c — NumPy functions built from the lazy primitives: diff, outer,
 * isclose and allclose, roll, triu and tril, diag and trace, norm, cov and
 * corrcoef.  Each is a small expression of
 * slices, reshapes, broadcasts, concatenations and elementwise operations,
 * the same operations NumPy performs, so it gives NumPy's values and fuses,
 * chunks and computes like any other expression. */
#include <math.h>
#include <string.h>

#include "array_impl.h"

/* Releases up to four temporaries and returns status. */
static tsr_status drop(tsr_status status, tsr_array **a, tsr_array **b, tsr_array **c,
                       tsr_array **d) {
  tsr_array_destroy(a);
  tsr_array_destroy(b);
  tsr_array_destroy(c);
  tsr_array_destroy(d);
  return status;
}

static tsr_status normalize_axis(const char *fn, int ndim, int axis, int *out) {
  TSR_CHECK(axis >= -ndim && axis < ndim, TSR_EINVAL, "%s: axis %d out of range for %d-d array",
            fn, axis, ndim);
  *out = axis < 0 ? axis + ndim : axis;
  return TSR_OK;
}

/* a[lo:hi] along `axis` (TSR_NONE for an open end). */
static tsr_status slice_axis(tsr_array *a, int axis, int64_t lo, int64_t hi, tsr_array **out) {
  tsr_index ix[TSR_MAX_NDIM];
  for (int d = 0; d <= axis; d++)
    ix[d] = TSR_ALL;
  ix[axis] = TSR_SLICE(lo, hi, 1);
  return tsr_slice(a, axis + 1, ix, out);
}

tsr_status tsr_diff(tsr_array *a, int n, int axis, tsr_array **out) {
  static const char fn[] = "tsr_diff";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  TSR_CHECK(n >= 0, TSR_EINVAL, "%s: order n = %d must be non-negative", fn, n);
  int nd = tsr_array_ndim(a);
  TSR_CHECK(nd >= 1, TSR_EINVAL, "%s: a 0-d array has no axis to take differences along", fn);
  TSR_TRY(normalize_axis(fn, nd, axis, &axis));
  /* bool differences are "not equal", as NumPy's */
  tsr_binary_op op = tsr_array_dtype(a) == TSR_BOOL ? TSR_OP_NE : TSR_OP_SUB;
  tsr_array *cur = NULL;
  TSR_TRY(tsr_slice(a, 0, NULL, &cur)); /* a view of a: a new reference */
  for (int k = 0; k < n; k++) {
    tsr_array *hi = NULL, *lo = NULL, *next = NULL;
    tsr_status s = slice_axis(cur, axis, 1, TSR_NONE, &hi);
    if (s == TSR_OK)
      s = slice_axis(cur, axis, TSR_NONE, -1, &lo);
    if (s == TSR_OK)
      s = tsr_binary(op, hi, lo, &next);
    drop(s, &hi, &lo, &cur, NULL);
    if (s != TSR_OK)
      return s;
    cur = next;
  }
  *out = cur;
  return TSR_OK;
}

/* a flattened, as a view or a reshape. */
static tsr_status ravel(tsr_array *a, tsr_array **out) {
  int64_t size = tsr_array_size(a);
  return tsr_reshape(a, 1, &size, out);
}

tsr_status tsr_outer(tsr_array *a, tsr_array *b, tsr_array **out) {
  static const char fn[] = "tsr_outer";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL && b != NULL, TSR_EINVAL, "%s: a or b is NULL", fn);
  tsr_array *fa = NULL, *fb = NULL, *col = NULL, *row = NULL;
  tsr_status s = ravel(a, &fa);
  if (s == TSR_OK)
    s = ravel(b, &fb);
  if (s == TSR_OK)
    s = tsr_expand_dims(fa, 1, &col);
  if (s == TSR_OK)
    s = tsr_expand_dims(fb, 0, &row);
  if (s == TSR_OK)
    s = tsr_mul(col, row, out);
  return drop(s, &fa, &fb, &col, &row);
}

tsr_status tsr_isclose(tsr_array *a, tsr_array *b, double rtol, double atol, bool equal_nan,
                       tsr_array **out) {
  static const char fn[] = "tsr_isclose";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL && b != NULL, TSR_EINVAL, "%s: a or b is NULL", fn);
  TSR_CHECK(isfinite(rtol) && isfinite(atol), TSR_EINVAL, "%s: rtol and atol must be finite",
            fn);
  /* NumPy 2: y in result_type(y, 1.0); then
   * (|x - y| <= atol + rtol * |y|) & isfinite(y) | (x == y), and with
   * equal_nan also isnan(x) & isnan(y). */
  tsr_dtype yt = tsr_array_dtype(b);
  if (!tsr_dtype_is_float(yt))
    yt = TSR_FLOAT64;
  tsr_array *y = NULL, *t1 = NULL, *t2 = NULL, *t3 = NULL, *close = NULL;
  tsr_status s = tsr_astype(b, yt, &y);
  if (s == TSR_OK)
    s = tsr_sub(a, y, &t1); /* x - y */
  if (s == TSR_OK)
    s = tsr_unary(TSR_OP_ABS, t1, &t2);
  drop(s, &t1, NULL, NULL, NULL);
  if (s == TSR_OK)
    s = tsr_unary(TSR_OP_ABS, y, &t1); /* |y| */
  if (s == TSR_OK)
    s = tsr_scalar_binary(TSR_OP_MUL, rtol, t1, &t3);
  drop(s, &t1, NULL, NULL, NULL);
  if (s == TSR_OK)
    s = tsr_scalar_binary(TSR_OP_ADD, atol, t3, &t1); /* atol + rtol * |y| */
  drop(s, &t3, NULL, NULL, NULL);
  if (s == TSR_OK)
    s = tsr_binary(TSR_OP_LE, t2, t1, &t3);
  drop(s, &t1, &t2, NULL, NULL);
  if (s == TSR_OK)
    s = tsr_unary(TSR_OP_ISFINITE, y, &t1);
  if (s == TSR_OK)
    s = tsr_binary(TSR_OP_LOGICAL_AND, t3, t1, &t2);
  drop(s, &t1, &t3, NULL, NULL);
  if (s == TSR_OK)
    s = tsr_binary(TSR_OP_EQ, a, y, &t1);
  if (s == TSR_OK)
    s = tsr_binary(TSR_OP_LOGICAL_OR, t2, t1, &close);
  drop(s, &t1, &t2, NULL, NULL);
  if (s == TSR_OK && equal_nan) {
    s = tsr_unary(TSR_OP_ISNAN, a, &t1);
    if (s == TSR_OK)
      s = tsr_unary(TSR_OP_ISNAN, y, &t2);
    if (s == TSR_OK)
      s = tsr_binary(TSR_OP_LOGICAL_AND, t1, t2, &t3);
    drop(s, &t1, &t2, NULL, NULL);
    if (s == TSR_OK)
      s = tsr_binary(TSR_OP_LOGICAL_OR, close, t3, &t1);
    drop(s, &t3, &close, NULL, NULL);
    close = t1;
    t1 = NULL;
  }
  drop(s, &y, NULL, NULL, NULL);
  if (s != TSR_OK)
    return drop(s, &close, NULL, NULL, NULL);
  *out = close;
  return TSR_OK;
}

tsr_status tsr_allclose(tsr_array *a, tsr_array *b, double rtol, double atol, bool equal_nan,
                        const tsr_compute_options *options, bool *out) {
  static const char fn[] = "tsr_allclose";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = false;
  tsr_array *close = NULL, *all = NULL;
  tsr_status s = tsr_isclose(a, b, rtol, atol, equal_nan, &close);
  if (s == TSR_OK)
    s = tsr_reduce(TSR_REDUCE_ALL, close, NULL, 0, NULL, &all);
  void *buf = out;
  size_t bytes = sizeof *out;
  if (s == TSR_OK)
    s = tsr_array_to_buffers_ex(1, &all, &buf, &bytes, options);
  return drop(s, &close, &all, NULL, NULL);
}

tsr_status tsr_roll(tsr_array *a, int64_t shift, const int *axis, tsr_array **out) {
  static const char fn[] = "tsr_roll";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  int nd = tsr_array_ndim(a);
  if (axis == NULL) { /* flattened, rolled, and shaped back */
    tsr_array *flat = NULL, *rolled = NULL;
    int zero = 0;
    tsr_status s = ravel(a, &flat);
    if (s == TSR_OK)
      s = tsr_roll(flat, shift, &zero, &rolled);
    if (s == TSR_OK)
      s = tsr_reshape(rolled, nd, tsr_array_shape(a), out);
    return drop(s, &flat, &rolled, NULL, NULL);
  }
  TSR_CHECK(nd >= 1, TSR_EINVAL, "%s: a 0-d array has no axis to roll along", fn);
  int ax = 0;
  TSR_TRY(normalize_axis(fn, nd, *axis, &ax));
  int64_t n = tsr_array_shape(a)[ax];
  int64_t s0 = n > 0 ? ((shift % n) + n) % n : 0;
  if (s0 == 0)
    return tsr_slice(a, 0, NULL, out); /* a view of a */
  /* the last s0 elements first, then the rest */
  tsr_array *tail = NULL, *head = NULL;
  tsr_status s = slice_axis(a, ax, n - s0, TSR_NONE, &tail);
  if (s == TSR_OK)
    s = slice_axis(a, ax, 0, n - s0, &head);
  if (s == TSR_OK)
    s = tsr_concatenate(2, (tsr_array *[]){tail, head}, ax, out);
  return drop(s, &tail, &head, NULL, NULL);
}

/* triu (upper) or tril of the last two axes (a 1-d array as NumPy: its
 * length for both), zero elsewhere: where(j - i >= k, m, 0) for triu,
 * where(j - i <= k, m, 0) for tril. */
static tsr_status triangle(const char *fn, tsr_array *m, int64_t k, bool upper, tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(m != NULL, TSR_EINVAL, "%s: m is NULL", fn);
  int nd = tsr_array_ndim(m);
  TSR_CHECK(nd >= 1, TSR_EINVAL, "%s: a 0-d array has no matrix", fn);
  const int64_t *shape = tsr_array_shape(m);
  const tsr_chunk_grid *g = tsr_array_chunks(m);
  int64_t rows = nd >= 2 ? shape[nd - 2] : shape[0], cols = shape[nd - 1];
  int64_t rchunk = nd >= 2 ? tsr_chunk_grid_chunk_extent(g, nd - 2, 0) : rows;
  int64_t cchunk = tsr_chunk_grid_chunk_extent(g, nd - 1, 0);
  tsr_ctx *ctx = m->expr->ctx;
  tsr_array *i = NULL, *j = NULL, *ic = NULL, *d = NULL, *keep = NULL, *zero = NULL;
  tsr_status s = tsr_array_arange_i64(ctx, TSR_INT64, 0, rows, 1, rchunk > 0 ? rchunk : 1, &i);
  if (s == TSR_OK)
    s = tsr_array_arange_i64(ctx, TSR_INT64, 0, cols, 1, cchunk > 0 ? cchunk : 1, &j);
  if (s == TSR_OK)
    s = tsr_expand_dims(i, 1, &ic); /* (rows, 1) */
  if (s == TSR_OK)
    s = tsr_sub(j, ic, &d); /* j - i, (rows, cols) */
  if (s == TSR_OK)
    s = tsr_binary_scalar_i64(upper ? TSR_OP_GE : TSR_OP_LE, d, k, &keep);
  drop(s, &i, &j, &ic, &d);
  if (s == TSR_OK)
    s = tsr_array_full(ctx, tsr_array_dtype(m), 0, NULL, NULL, 0.0, &zero);
  if (s == TSR_OK)
    s = tsr_where(keep, m, zero, out);
  return drop(s, &keep, &zero, NULL, NULL);
}

tsr_status tsr_triu(tsr_array *m, int64_t k, tsr_array **out) {
  return triangle("tsr_triu", m, k, true, out);
}

tsr_status tsr_tril(tsr_array *m, int64_t k, tsr_array **out) {
  return triangle("tsr_tril", m, k, false, out);
}

tsr_status tsr_diag(tsr_array *a, int64_t k, tsr_array **out) {
  static const char fn[] = "tsr_diag";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  int nd = tsr_array_ndim(a);
  TSR_CHECK(nd == 1 || nd == 2, TSR_EINVAL, "%s: input must be 1-d or 2-d, not %d-d", fn, nd);
  const int64_t *shape = tsr_array_shape(a);
  TSR_CHECK(k > -INT32_MAX && k < INT32_MAX, TSR_EINVAL, "%s: diagonal %lld is out of range", fn,
            (long long)k);
  tsr_array *flat = NULL, *t1 = NULL, *t2 = NULL, *t3 = NULL;
  tsr_status s;
  if (nd == 2) { /* every (C + 1)-th element of the flattened matrix from the first */
    int64_t rows = shape[0], cols = shape[1];
    int64_t first = k >= 0 ? k : -k * cols;
    int64_t len = k >= 0 ? (rows < cols - k ? rows : cols - k) : (rows + k < cols ? rows + k : cols);
    s = ravel(a, &flat);
    tsr_index ix = len > 0 ? TSR_SLICE(first, first + (len - 1) * (cols + 1) + 1, cols + 1)
                           : TSR_SLICE(0, 0, 1);
    if (s == TSR_OK)
      s = tsr_slice(flat, 1, &ix, out);
    return drop(s, &flat, NULL, NULL, NULL);
  }
  /* 1-d: a square matrix of n + |k| with v on diagonal k, zero elsewhere */
  int64_t n = shape[0], ak = k >= 0 ? k : -k, N = n + ak;
  tsr_ctx *ctx = a->expr->ctx;
  tsr_array *pad = NULL, *v = NULL, *i = NULL, *j = NULL, *ic = NULL, *on = NULL, *zero = NULL;
  s = tsr_array_full(ctx, tsr_array_dtype(a), 1, &ak, NULL, 0.0, &pad);
  if (s == TSR_OK)
    s = tsr_concatenate(2, (tsr_array *[]){a, pad}, 0, &v); /* v padded to N */
  if (s == TSR_OK)
    s = tsr_expand_dims(v, k >= 0 ? 1 : 0, &t1); /* by row (k >= 0) or by column */
  if (s == TSR_OK)
    s = tsr_array_arange_i64(ctx, TSR_INT64, 0, N, 1, N > 0 ? N : 1, &i);
  if (s == TSR_OK)
    s = tsr_array_arange_i64(ctx, TSR_INT64, 0, N, 1, N > 0 ? N : 1, &j);
  if (s == TSR_OK)
    s = tsr_expand_dims(i, 1, &ic);
  if (s == TSR_OK)
    s = tsr_sub(j, ic, &t2); /* j - i */
  if (s == TSR_OK)
    s = tsr_binary_scalar_i64(TSR_OP_EQ, t2, k, &on);
  if (s == TSR_OK)
    s = tsr_array_full(ctx, tsr_array_dtype(a), 0, NULL, NULL, 0.0, &zero);
  if (s == TSR_OK)
    s = tsr_where(on, t1, zero, out);
  drop(s, &pad, &v, &i, &j);
  drop(s, &ic, &on, &zero, &t1);
  return drop(s, &t2, &t3, NULL, NULL);
}

tsr_status tsr_trace(tsr_array *a, int64_t k, tsr_array **out) {
  static const char fn[] = "tsr_trace";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL && tsr_array_ndim(a) == 2, TSR_EINVAL, "%s: a must be a 2-d array", fn);
  tsr_array *d = NULL;
  tsr_status s = tsr_diag(a, k, &d);
  if (s == TSR_OK)
    s = tsr_sum(d, NULL, 0, false, out);
  return drop(s, &d, NULL, NULL, NULL);
}

tsr_status tsr_norm(tsr_array *x, tsr_array **out) {
  static const char fn[] = "tsr_norm";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(x != NULL, TSR_EINVAL, "%s: x is NULL", fn);
  /* sqrt(sum(x * x)) over every element, in floating point */
  tsr_dtype t = tsr_dtype_is_float(tsr_array_dtype(x)) ? tsr_array_dtype(x) : TSR_FLOAT64;
  tsr_array *f = NULL, *sq = NULL, *sum = NULL;
  tsr_status s = tsr_astype(x, t, &f);
  if (s == TSR_OK)
    s = tsr_mul(f, f, &sq);
  if (s == TSR_OK)
    s = tsr_sum(sq, NULL, 0, false, &sum);
  if (s == TSR_OK)
    s = tsr_unary(TSR_OP_SQRT, sum, out);
  return drop(s, &f, &sq, &sum, NULL);
}

tsr_status tsr_cov(tsr_array *m, int ddof, tsr_array **out) {
  static const char fn[] = "tsr_cov";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(m != NULL, TSR_EINVAL, "%s: m is NULL", fn);
  int nd = tsr_array_ndim(m);
  TSR_CHECK(nd == 1 || nd == 2, TSR_EINVAL, "%s: m must be 1-d or 2-d, not %d-d", fn, nd);
  int64_t n = tsr_array_shape(m)[nd - 1];
  TSR_CHECK(n - ddof > 0, TSR_EINVAL,
            "%s: %lld observations with ddof = %d leave no degrees of freedom", fn, (long long)n,
            ddof);
  /* NumPy's: X - mean(X, axis=1)[:, None], X @ X.T, times 1 / (n - ddof);
   * a 1-d m is one variable, and the result a 0-d array. */
  tsr_array *x = NULL, *f = NULL, *avg = NULL, *c = NULL, *xt = NULL, *p = NULL;
  int one = 1;
  tsr_dtype t = tsr_dtype_is_float(tsr_array_dtype(m)) ? tsr_array_dtype(m) : TSR_FLOAT64;
  tsr_status s = nd == 2 ? tsr_astype(m, t, &f) : TSR_OK;
  if (s == TSR_OK && nd == 1) {
    tsr_array *g = NULL;
    s = tsr_astype(m, t, &g);
    if (s == TSR_OK)
      s = tsr_expand_dims(g, 0, &f);
    tsr_array_destroy(&g);
  }
  if (s == TSR_OK)
    s = tsr_mean(f, &one, 1, true, &avg);
  if (s == TSR_OK)
    s = tsr_sub(f, avg, &x);
  drop(s, &f, &avg, NULL, NULL);
  if (s == TSR_OK)
    s = tsr_transpose(x, NULL, &xt);
  if (s == TSR_OK)
    s = tsr_matmul(x, xt, &c);
  drop(s, &xt, NULL, NULL, NULL);
  if (s == TSR_OK)
    s = tsr_binary_scalar(TSR_OP_MUL, c, 1.0 / (double)(n - ddof), &p);
  drop(s, &x, &c, NULL, NULL);
  if (s == TSR_OK && nd == 1) {
    s = tsr_reshape(p, 0, NULL, out);
    tsr_array_destroy(&p);
    return s;
  }
  if (s != TSR_OK)
    return drop(s, &p, NULL, NULL, NULL);
  *out = p;
  return TSR_OK;
}

tsr_status tsr_corrcoef(tsr_array *m, tsr_array **out) {
  static const char fn[] = "tsr_corrcoef";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(m != NULL, TSR_EINVAL, "%s: m is NULL", fn);
  /* NumPy's: c = cov(m); d = sqrt(diag(c)); c / d[:, None] / d[None, :],
   * clipped to [-1, 1]; of a 1-d m, c / c. */
  tsr_array *c = NULL, *d = NULL, *sd = NULL, *col = NULL, *row = NULL, *q1 = NULL, *q2 = NULL;
  tsr_status s = tsr_cov(m, 1, &c);
  if (s == TSR_OK && tsr_array_ndim(c) == 0) {
    s = tsr_div(c, c, out);
    return drop(s, &c, NULL, NULL, NULL);
  }
  if (s == TSR_OK)
    s = tsr_diag(c, 0, &d);
  if (s == TSR_OK)
    s = tsr_unary(TSR_OP_SQRT, d, &sd);
  if (s == TSR_OK)
    s = tsr_expand_dims(sd, 1, &col);
  if (s == TSR_OK)
    s = tsr_expand_dims(sd, 0, &row);
  if (s == TSR_OK)
    s = tsr_div(c, col, &q1);
  if (s == TSR_OK)
    s = tsr_div(q1, row, &q2);
  if (s == TSR_OK)
    s = tsr_clip(q2, -1.0, 1.0, out);
  drop(s, &c, &d, &sd, &col);
  return drop(s, &row, &q1, &q2, NULL);
}
