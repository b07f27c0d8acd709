/* create_more.c — more creation functions: empty, linspace and eye.  Like
 * those of create.c, each is a source node lowered to one task per chunk that
 * fills its chunk from the block descriptor alone, so values never depend on
 * the chunking.
 *
 * linspace computes element i exactly as NumPy does (start + i * step, or
 * start + i / div * delta when the step underflows to 0; the last element is
 * exactly stop with endpoint; integer dtypes take the floor, as NumPy >= 2),
 * so results are bitwise NumPy's. */
#include <math.h>
#include <string.h>

#include "array_impl.h"

static const tsr__block *block_of(const tsr_kernel_call *call) { return call->params; }
static const void *extra_of(const tsr_kernel_call *call) {
  return (const unsigned char *)call->params + tsr__block_extra_offset(block_of(call)->ndim);
}

/* ---- empty --------------------------------------------------------------------- */

static tsr_status empty_kernel(const tsr_kernel_call *call) {
  (void)call; /* np.empty: the chunk is left as allocated */
  return TSR_OK;
}

static tsr_status lower_empty(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                              uint32_t *out) {
  (void)in;
  return tsr__lower_blockwise_source(e, g, "empty", empty_kernel, NULL, NULL, 0, out);
}

static tsr_status chunk_empty(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in,
                              int64_t c, uint32_t *task) {
  (void)in;
  return tsr__lower_blockwise_source_chunk(e, g, "empty", empty_kernel, NULL, NULL, 0, c, task);
}

static const tsr__op op_empty = {"empty", lower_empty, NULL, true, chunk_empty, NULL};

tsr_status tsr_array_empty(tsr_ctx *ctx, tsr_dtype dtype, int ndim, const int64_t *shape,
                           const int64_t *chunks, tsr_array **out) {
  char unused = 0;
  return tsr__create_source(ctx, "tsr_array_empty", &op_empty, dtype, ndim, shape, chunks, &unused,
                            1, out);
}

/* ---- linspace -------------------------------------------------------------------- */

typedef struct linspace_params {
  double start, stop, step, delta, div;
  int64_t num;
  int32_t endpoint;
  int32_t dtype;
} linspace_params;

/* NumPy's value of element i (numpy/_core/function_base.py). */
static double linspace_value(const linspace_params *p, int64_t i) {
  if (p->endpoint && p->num > 1 && i == p->num - 1)
    return p->stop;
  double y = (double)i;
  if (p->div > 0)
    y = p->step == 0 ? y / p->div * p->delta : y * p->step;
  else
    y = y * p->delta;
  return y + p->start;
}

static tsr_status linspace_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = block_of(call);
  linspace_params p;
  memcpy(&p, extra_of(call), sizeof p);
  tsr_dtype dtype = (tsr_dtype)p.dtype;
  size_t item = tsr_dtype_size(dtype);
  bool integer = tsr_dtype_is_integer(dtype);
  int64_t first = tsr__block_offset(b)[0], n = tsr__block_shape(b)[0];
  unsigned char *out = call->output;
  if (dtype == TSR_FLOAT64) {
    double *o = call->output;
    for (int64_t i = 0; i < n; i++)
      o[i] = linspace_value(&p, first + i);
    return TSR_OK;
  }
  for (int64_t i = 0; i < n; i++) {
    double v = linspace_value(&p, first + i);
    tsr__value_store(dtype, integer ? floor(v) : v, out + (size_t)i * item);
  }
  return TSR_OK;
}

static tsr_status lower_linspace(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                 uint32_t *out) {
  (void)in;
  return tsr__lower_blockwise_source(e, g, "linspace", linspace_kernel, NULL, e->params,
                                     sizeof(linspace_params), out);
}

static tsr_status chunk_linspace(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in,
                                 int64_t c, uint32_t *task) {
  (void)in;
  return tsr__lower_blockwise_source_chunk(e, g, "linspace", linspace_kernel, NULL, e->params,
                                           sizeof(linspace_params), c, task);
}

static void hash_linspace(const tsr__expr *e, tsr__hash *h) {
  const linspace_params *p = e->params;
  double v[5] = {p->start, p->stop, p->step, p->delta, p->div};
  for (int i = 0; i < 5; i++) {
    uint64_t bits;
    memcpy(&bits, &v[i], sizeof bits);
    tsr__hash_u64(h, bits);
  }
  tsr__hash_u64(h, (uint64_t)p->num);
  tsr__hash_u64(h, (uint64_t)p->endpoint);
  tsr__hash_u64(h, (uint64_t)p->dtype);
}

static const tsr__op op_linspace = {"linspace", lower_linspace, NULL,
                                    true,       chunk_linspace, hash_linspace};

tsr_status tsr_array_linspace(tsr_ctx *ctx, tsr_dtype dtype, double start, double stop, int64_t num,
                              bool endpoint, int64_t chunk, tsr_array **out) {
  static const char fn[] = "tsr_array_linspace";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(num >= 0, TSR_EINVAL, "%s: num = %lld must be non-negative", fn, (long long)num);
  TSR_CHECK(isfinite(start) && isfinite(stop), TSR_EINVAL, "%s: start and stop must be finite", fn);
  linspace_params p = {
      .start = start, .stop = stop, .num = num, .endpoint = endpoint, .dtype = (int32_t)dtype};
  p.div = (double)(endpoint ? num - 1 : num);
  p.delta = stop - start;
  p.step = p.div > 0 ? p.delta / p.div : NAN;
  TSR_CHECK(isfinite(p.delta), TSR_EINVAL, "%s: stop - start overflows", fn);
  if (tsr_dtype_valid(dtype) && tsr_dtype_is_integer(dtype) && num > 0) {
    /* The values lie between start and stop (both ends included). */
    double lo = floor(fmin(start, stop)), hi = floor(fmax(start, stop));
    TSR_CHECK(tsr__value_fits(dtype, lo) && tsr__value_fits(dtype, hi), TSR_EINVAL,
              "%s: values from %.17g to %.17g do not fit %s", fn, start, stop,
              tsr_dtype_name(dtype));
  }
  return tsr__create_source(ctx, fn, &op_linspace, dtype, 1, &num, &chunk, &p, sizeof p, out);
}

/* ---- eye ------------------------------------------------------------------------ */

typedef struct eye_params {
  int64_t k;
  int32_t dtype;
} eye_params;

static tsr_status eye_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = block_of(call);
  eye_params p;
  memcpy(&p, extra_of(call), sizeof p);
  tsr_dtype dtype = (tsr_dtype)p.dtype;
  size_t item = tsr_dtype_size(dtype);
  int64_t rows = tsr__block_shape(b)[0], cols = tsr__block_shape(b)[1];
  int64_t r0 = tsr__block_offset(b)[0], c0 = tsr__block_offset(b)[1];
  unsigned char *out = call->output;
  if (rows * cols == 0)
    return TSR_OK;
  memset(out, 0, (size_t)(rows * cols) * item);
  unsigned char one[8];
  tsr__value_store(dtype, 1.0, one);
  /* Element (r, c) of the whole matrix is 1 where c - r == k. */
  for (int64_t r = 0; r < rows; r++) {
    int64_t c = r0 + r + p.k - c0;
    if (c >= 0 && c < cols)
      memcpy(out + (size_t)(r * cols + c) * item, one, item);
  }
  return TSR_OK;
}

static tsr_status lower_eye(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                            uint32_t *out) {
  (void)in;
  return tsr__lower_blockwise_source(e, g, "eye", eye_kernel, NULL, e->params, sizeof(eye_params),
                                     out);
}

static tsr_status chunk_eye(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in, int64_t c,
                            uint32_t *task) {
  (void)in;
  return tsr__lower_blockwise_source_chunk(e, g, "eye", eye_kernel, NULL, e->params,
                                           sizeof(eye_params), c, task);
}

static void hash_eye(const tsr__expr *e, tsr__hash *h) {
  const eye_params *p = e->params;
  tsr__hash_u64(h, (uint64_t)p->k);
  tsr__hash_u64(h, (uint64_t)p->dtype);
}

static const tsr__op op_eye = {"eye", lower_eye, NULL, true, chunk_eye, hash_eye};

tsr_status tsr_array_eye(tsr_ctx *ctx, tsr_dtype dtype, int64_t n, int64_t m, int64_t k,
                         const int64_t *chunks, tsr_array **out) {
  static const char fn[] = "tsr_array_eye";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(n >= 0 && m >= 0, TSR_EINVAL, "%s: n = %lld and m = %lld must be non-negative", fn,
            (long long)n, (long long)m);
  /* Clamp k so that r + k cannot overflow; such diagonals are all zero. */
  int64_t kk = k > m ? m : (k < -n ? -n : k);
  eye_params p = {kk, (int32_t)dtype};
  int64_t shape[2] = {n, m};
  return tsr__create_source(ctx, fn, &op_eye, dtype, 2, shape, chunks, &p, sizeof p, out);
}
