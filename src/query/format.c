/* format.c — prints a result the way NumPy's repr does, minus "array(" and
 * its dtype: a 0-d array as one number, others as nested brackets with rows
 * on their own lines.
 *
 * Output is bounded whatever the shape, by NumPy's rules: an array of more
 * than TSR_PROGRAM_PRINT_MAX (NumPy's threshold, 1000) elements is
 * summarized — every axis longer than 2 * EDGE_ITEMS shows its first and
 * last EDGE_ITEMS (3) entries around "..." — and only those edge elements
 * are computed (sliced out lazily); an array with no elements prints "[]"
 * and its shape, without computing or walking its (maybe 10^11) rows.
 * Small results go through a stack buffer; summaries through one
 * allocation from the array's context. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "array/array_impl.h"
#include "query_impl.h"

/* NumPy's edgeitems; its threshold is TSR_PROGRAM_PRINT_MAX. */
enum { EDGE_ITEMS = 3 };
/* Most elements a summary may need (6^7 fit: 7 axes longer than 6). */
#define SUMMARY_MAX ((int64_t)1 << 20)

static void put_float(FILE *out, double v, int digits) {
  if (isnan(v)) {
    fputs("nan", out);
    return;
  }
  if (isinf(v)) {
    fputs(v < 0 ? "-inf" : "inf", out);
    return;
  }
  char buf[64];
  snprintf(buf, sizeof buf, "%.*g", digits, v);
  fputs(buf, out);
  if (strpbrk(buf, ".e") == NULL)
    fputs(".0", out); /* 1.0 prints as a float, not as the integer 1 */
}

static void put_scalar(FILE *out, tsr_dtype t, const unsigned char *p) {
  switch (t) {
  case TSR_BOOL:
    fputs(*p ? "True" : "False", out);
    break;
  case TSR_INT8:
    fprintf(out, "%" PRId8, *(const int8_t *)p);
    break;
  case TSR_INT16:
    fprintf(out, "%" PRId16, *(const int16_t *)p);
    break;
  case TSR_INT32:
    fprintf(out, "%" PRId32, *(const int32_t *)p);
    break;
  case TSR_INT64:
    fprintf(out, "%" PRId64, *(const int64_t *)p);
    break;
  case TSR_UINT8:
    fprintf(out, "%" PRIu8, *(const uint8_t *)p);
    break;
  case TSR_UINT16:
    fprintf(out, "%" PRIu16, *(const uint16_t *)p);
    break;
  case TSR_UINT32:
    fprintf(out, "%" PRIu32, *(const uint32_t *)p);
    break;
  case TSR_UINT64:
    fprintf(out, "%" PRIu64, *(const uint64_t *)p);
    break;
  case TSR_FLOAT32:
    put_float(out, *(const float *)p, 9);
    break;
  default:
    put_float(out, *(const double *)p, 17);
    break;
  }
}

/* What put_axis walks: the logical shape, and the buffer's shape and
 * strides (in bytes).  A summarized axis may be stored whole (the buffer
 * has all of it) or as its 2 * EDGE_ITEMS edge entries only. */
typedef struct walk {
  FILE *out;
  tsr_dtype dtype;
  int ndim;
  const int64_t *shape, *bshape;
  int64_t bstride[TSR_MAX_NDIM];
  bool summarize;
} walk;

/* Between two items of axis d: ", " in a row; ",", then one newline per
 * inner axis and an indent of d + 1 spaces between rows and blocks. */
static void put_separator(const walk *w, int d) {
  int inner = w->ndim - d - 1;
  fputc(',', w->out);
  if (inner == 0) {
    fputc(' ', w->out);
    return;
  }
  for (int k = 0; k < inner; k++)
    fputc('\n', w->out);
  for (int k = 0; k <= d; k++)
    fputc(' ', w->out);
}

/* Axis d from p on (recursion depth is ndim <= TSR_MAX_NDIM). */
static void put_axis(const walk *w, int d, const unsigned char *p) {
  if (d == w->ndim) {
    put_scalar(w->out, w->dtype, p);
    return;
  }
  fputc('[', w->out);
  int64_t n = w->shape[d];
  bool summary = w->summarize && n > 2 * EDGE_ITEMS;
  int64_t count = summary ? 2 * EDGE_ITEMS : n;
  for (int64_t k = 0; k < count; k++) {
    if (k > 0)
      put_separator(w, d);
    if (summary && k == EDGE_ITEMS) {
      fputs("...", w->out);
      put_separator(w, d);
    }
    /* the trailing items are the last of the buffer's axis */
    int64_t at = summary && k >= EDGE_ITEMS ? w->bshape[d] - (count - k) : k;
    put_axis(w, d + 1, p + at * w->bstride[d]);
  }
  fputc(']', w->out);
}

/* NumPy's repr of an array with no elements: "[]", with ", shape=(...)"
 * unless the shape is (0,). */
static void put_empty(FILE *out, int ndim, const int64_t *shape) {
  fputs("[]", out);
  if (ndim == 1)
    return;
  fputs(", shape=(", out);
  for (int d = 0; d < ndim; d++)
    fprintf(out, d ? ", %" PRId64 : "%" PRId64, shape[d]);
  fputc(')', out);
}

static tsr_status put_value(tsr_dtype dtype, int ndim, const int64_t *shape, const int64_t *bshape,
                            bool summarize, const void *data, FILE *out) {
  int64_t n;
  TSR_TRY(tsr_shape_size(ndim, shape, &n));
  if (n == 0) {
    put_empty(out, ndim, shape);
  } else {
    walk w = {out, dtype, ndim, shape, bshape, {0}, summarize};
    int64_t stride = (int64_t)tsr_dtype_size(dtype);
    for (int d = ndim - 1; d >= 0; d--) {
      w.bstride[d] = stride;
      stride *= bshape[d];
    }
    put_axis(&w, 0, data);
  }
  fputc('\n', out);
  TSR_CHECK(!ferror(out), TSR_EIO, "writing the result failed");
  return TSR_OK;
}

tsr_status tsr_program_format_buffer(tsr_dtype dtype, int ndim, const int64_t *shape,
                                     const void *data, FILE *out) {
  TSR_CHECK(tsr_dtype_valid(dtype), TSR_EINVAL, "tsr_program_format_buffer: invalid dtype");
  TSR_CHECK(ndim >= 0 && ndim <= TSR_MAX_NDIM && (ndim == 0 || shape != NULL), TSR_EINVAL,
            "tsr_program_format_buffer: bad ndim %d or NULL shape", ndim);
  TSR_CHECK(out != NULL && data != NULL, TSR_EINVAL,
            "tsr_program_format_buffer: data or out is NULL");
  int64_t n;
  TSR_TRY(tsr_shape_size(ndim, shape, &n));
  return put_value(dtype, ndim, shape, shape, n > TSR_PROGRAM_PRINT_MAX, data, out);
}

/* The edge entries of every axis longer than 2 * EDGE_ITEMS (the first and
 * last EDGE_ITEMS, concatenated): what a summary prints.  *out is a new
 * reference (value itself when nothing is cut). */
static tsr_status edges_of(tsr_array *value, tsr_array **out) {
  int ndim = tsr_array_ndim(value);
  const int64_t *shape = tsr_array_shape(value);
  tsr_array *cur = value, *parts[2] = {NULL, NULL}, *next = NULL;
  tsr_status s = TSR_OK;
  for (int d = 0; d < ndim && s == TSR_OK; d++) {
    if (shape[d] <= 2 * EDGE_ITEMS)
      continue;
    tsr_index index[TSR_MAX_NDIM];
    for (int k = 0; k < d; k++)
      index[k] = TSR_ALL;
    index[d] = TSR_SLICE(0, EDGE_ITEMS, 1);
    s = tsr_slice(cur, d + 1, index, &parts[0]);
    index[d] = TSR_SLICE(shape[d] - EDGE_ITEMS, shape[d], 1);
    if (s == TSR_OK)
      s = tsr_slice(cur, d + 1, index, &parts[1]);
    if (s == TSR_OK)
      s = tsr_concatenate(2, parts, d, &next);
    tsr_array_destroy(&parts[0]);
    tsr_array_destroy(&parts[1]);
    if (cur != value)
      tsr_array_destroy(&cur);
    cur = next;
    next = NULL;
  }
  if (s != TSR_OK) {
    if (cur != value)
      tsr_array_destroy(&cur);
    return s;
  }
  if (cur == value) {
    /* no axis longer than 2 * EDGE_ITEMS (e.g. (6, 6, 6, 6)): NumPy prints
     * it whole; the caller is still owed a reference */
    return tsr_reshape(value, ndim, shape, out);
  }
  *out = cur;
  return TSR_OK;
}

tsr_status tsr_program_format_value(tsr_array *value, const tsr_compute_options *options,
                                    FILE *out) {
  TSR_CHECK(value != NULL && out != NULL, TSR_EINVAL,
            "tsr_program_format_value: value or out is NULL");
  tsr_dtype dtype = tsr_array_dtype(value);
  int ndim = tsr_array_ndim(value);
  const int64_t *shape = tsr_array_shape(value);
  int64_t n = tsr_array_size(value);
  if (n == 0) /* nothing to compute: the shape says it all */
    return put_value(dtype, ndim, shape, shape, false, NULL, out);
  if (n <= TSR_PROGRAM_PRINT_MAX) {
    _Alignas(8) unsigned char buf[TSR_PROGRAM_PRINT_MAX * 8];
    void *bufp = buf;
    size_t bytes = (size_t)tsr_array_nbytes(value);
    TSR_TRY(tsr_array_to_buffers_ex(1, &value, &bufp, &bytes, options));
    return put_value(dtype, ndim, shape, shape, false, buf, out);
  }
  int64_t edges = 1;
  for (int d = 0; d < ndim; d++)
    edges *= shape[d] < 2 * EDGE_ITEMS ? shape[d] : 2 * EDGE_ITEMS; /* <= 6^ndim */
  TSR_CHECK(edges <= SUMMARY_MAX, TSR_EINVAL,
            "the result (%d dimensions, %lld elements) is too large to print even summarized "
            "(%lld elements); store it with --out",
            ndim, (long long)n, (long long)edges);
  tsr_array *part = NULL;
  TSR_TRY(edges_of(value, &part));
  tsr_ctx *ctx = value->expr->ctx;
  size_t bytes = (size_t)tsr_array_nbytes(part);
  void *buf = NULL;
  tsr_status s = tsr_alloc(ctx, bytes, &buf);
  if (s == TSR_OK)
    s = tsr_array_to_buffers_ex(1, &part, &buf, &bytes, options);
  if (s == TSR_OK)
    s = put_value(dtype, ndim, shape, tsr_array_shape(part), true, buf, out);
  tsr_free(ctx, buf);
  tsr_array_destroy(&part);
  return s;
}
