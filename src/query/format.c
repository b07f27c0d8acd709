/* format.c — prints a result the way NumPy's repr does, minus "array(":
 * a 0-d array as one number, others as nested brackets with rows on their
 * own lines.  Results are small (at most TSR_PROGRAM_PRINT_MAX elements),
 * so the value is computed into a stack buffer and no memory is allocated. */
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "query_impl.h"

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

/* Axis d of the array from *p on; *p advances past what was printed. */
static void put_axis(FILE *out, tsr_dtype t, int ndim, const int64_t *shape, int d,
                     const unsigned char **p) {
  if (d == ndim) {
    put_scalar(out, t, *p);
    *p += tsr_dtype_size(t);
    return;
  }
  fputc('[', out);
  int inner = ndim - d - 1;
  for (int64_t i = 0; i < shape[d]; i++) {
    if (i > 0) {
      fputc(',', out);
      if (inner == 0)
        fputc(' ', out);
      for (int k = 0; k < inner; k++)
        fputc('\n', out);
      for (int k = 0; inner > 0 && k <= d; k++)
        fputc(' ', out);
    }
    put_axis(out, t, ndim, shape, d + 1, p);
  }
  fputc(']', out);
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
  const unsigned char *p = data;
  put_axis(out, dtype, ndim, shape, 0, &p);
  fputc('\n', out);
  TSR_CHECK(!ferror(out), TSR_EIO, "writing the result failed");
  return TSR_OK;
}

tsr_status tsr_program_format_value(tsr_array *value, const tsr_compute_options *options,
                                    FILE *out) {
  TSR_CHECK(value != NULL && out != NULL, TSR_EINVAL,
            "tsr_program_format_value: value or out is NULL");
  int64_t n = tsr_array_size(value);
  TSR_CHECK(n <= TSR_PROGRAM_PRINT_MAX, TSR_EINVAL,
            "result has %lld elements; use --out to store it", (long long)n);
  _Alignas(8) unsigned char buf[TSR_PROGRAM_PRINT_MAX * 8];
  void *bufp = buf;
  size_t bytes = (size_t)tsr_array_nbytes(value);
  TSR_TRY(tsr_array_to_buffers_ex(1, &value, &bufp, &bytes, options));
  return tsr_program_format_buffer(tsr_array_dtype(value), tsr_array_ndim(value),
                                   tsr_array_shape(value), buf, out);
}
