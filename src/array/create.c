/* create.c — array creation: full/zeros/ones, arange, random, and arrays
 * over user buffers (borrow, copy, adopt).  Each is a source node of the
 * expression graph whose lowering is one task per chunk, filling the chunk
 * from its block descriptor alone — so values never depend on chunking.
 *
 * Values are range-checked when the array is created (a value that does not
 * fit the dtype is TSR_EINVAL): converting an out-of-range double to an
 * integer type is undefined behaviour in C, and NumPy refuses it too. */
#include <math.h>
#include <string.h>

#include "program.h"

/* ---- converting doubles to dtypes -------------------------------------- */

/* out[i] = value(first + i) converted to dtype, for i < n, where value(j) =
 * start + j * step, except that value(0) and full's values (step 0) are
 * start exactly, as in NumPy: -0.0 keeps its sign (-0.0 + 0.0 is +0.0).  The caller
 * has range-checked. */
static void fill_linear(void *out, tsr_dtype dtype, int64_t n, double start, double step,
                        int64_t first) {
#define FILL(T, CONVERT)                                                 \
  do {                                                                   \
    T *p = out;                                                          \
    for (int64_t i = 0; i < n; i++) {                                    \
      int64_t j = first + i;                                             \
      double v = j == 0 || step == 0 ? start : start + (double)j * step; \
      p[i] = CONVERT;                                                    \
    }                                                                    \
  } while (0)
  switch (dtype) {
  case TSR_BOOL:
    FILL(uint8_t, (uint8_t)(v != 0));
    break;
  case TSR_INT8:
    FILL(int8_t, (int8_t)v);
    break;
  case TSR_INT16:
    FILL(int16_t, (int16_t)v);
    break;
  case TSR_INT32:
    FILL(int32_t, (int32_t)v);
    break;
  case TSR_INT64:
    FILL(int64_t, (int64_t)v);
    break;
  case TSR_UINT8:
    FILL(uint8_t, (uint8_t)v);
    break;
  case TSR_UINT16:
    FILL(uint16_t, (uint16_t)v);
    break;
  case TSR_UINT32:
    FILL(uint32_t, (uint32_t)v);
    break;
  case TSR_UINT64:
    FILL(uint64_t, (uint64_t)v);
    break;
  case TSR_FLOAT32:
    FILL(float, (float)v);
    break;
  default:
    FILL(double, v);
    break;
  }
#undef FILL
}

/* ---- full --------------------------------------------------------------- */

typedef struct linear_params {
  double start, step; /* element j is start + j * step (full: step 0) */
  int32_t dtype;
  int32_t is_full;
  uint64_t value; /* full: the value's bytes in dtype */
} linear_params;

static const tsr__block *block_of(const tsr_kernel_call *call) { return call->params; }
static const void *extra_of(const tsr_kernel_call *call) {
  size_t off = tsr__block_extra_offset(block_of(call)->ndim);
  return (const unsigned char *)call->params + off;
}

static tsr_status linear_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = block_of(call);
  linear_params p;
  memcpy(&p, extra_of(call), sizeof p);
  if (p.is_full) { /* the value's exact bytes (an int64 is not a double) */
    if (tsr__block_size(b) == 0)
      return TSR_OK; /* an empty chunk may have no output buffer */
    tsr__splat(call->output, &p.value, tsr_dtype_size((tsr_dtype)p.dtype),
               (size_t)tsr__block_size(b));
    return TSR_OK;
  }
  /* 1-D for arange. */
  int64_t first = b->ndim == 1 ? tsr__block_offset(b)[0] : 0;
  fill_linear(call->output, (tsr_dtype)p.dtype, tsr__block_size(b), p.start, p.step, first);
  return TSR_OK;
}

static tsr_status lower_linear(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                               uint32_t *out) {
  (void)in;
  return tsr__lower_blockwise_source(e, g, "fill", linear_kernel, NULL, e->params,
                                     sizeof(linear_params), out);
}

static tsr_status chunk_linear(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in,
                               int64_t c, uint32_t *task) {
  (void)in;
  return tsr__lower_blockwise_source_chunk(e, g, "fill", linear_kernel, NULL, e->params,
                                           sizeof(linear_params), c, task);
}

static void hash_f64(tsr__hash *h, double v) {
  uint64_t bits;
  memcpy(&bits, &v, sizeof bits);
  tsr__hash_u64(h, bits);
}

static void hash_linear(const tsr__expr *e, tsr__hash *h) {
  const linear_params *p = e->params;
  hash_f64(h, p->start);
  hash_f64(h, p->step);
  tsr__hash_u64(h, (uint64_t)p->dtype);
  tsr__hash_u64(h, (uint64_t)p->is_full);
  tsr__hash_u64(h, p->value);
}

static const tsr__op op_linear = {"fill", lower_linear, NULL, true, chunk_linear, hash_linear};

const void *tsr__expr_constant(const tsr__expr *e) {
  if (e->op != &op_linear || !((const linear_params *)e->params)->is_full)
    return NULL;
  return &((const linear_params *)e->params)->value;
}

tsr_status tsr__create_source(tsr_ctx *ctx, const char *fn, const tsr__op *op, tsr_dtype dtype,
                              int ndim, const int64_t *shape, const int64_t *chunks,
                              const void *params, size_t params_bytes, tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "%s: ctx is NULL", fn);
  TSR_CHECK(tsr_dtype_valid(dtype), TSR_EINVAL, "%s: dtype = %d is not a tsr_dtype", fn,
            (int)dtype);
  tsr_chunk_grid *grid;
  TSR_TRY(tsr__resolve_chunks(ctx, fn, ndim, shape, dtype, chunks, &grid));
  void *copy;
  tsr_status status = tsr_alloc(ctx, params_bytes, &copy);
  if (status != TSR_OK) {
    tsr_chunk_grid_destroy(&grid);
    return status;
  }
  memcpy(copy, params, params_bytes);
  tsr__expr *e;
  TSR_TRY(tsr__expr_create(ctx, op, dtype, grid, 0, NULL, copy, &e));
  return tsr__array_wrap(e, out);
}

/* full, zeros and ones: `fn` names the call the user made in messages. */
static tsr_status full_named(const char *fn, tsr_ctx *ctx, tsr_dtype dtype, int ndim,
                             const int64_t *shape, const int64_t *chunks, double value,
                             tsr_array **out) {
  TSR_CHECK(!tsr_dtype_valid(dtype) || tsr__value_fits(dtype, value), TSR_EINVAL,
            "%s: value %.17g does not fit %s", fn, value, tsr_dtype_name(dtype));
  linear_params p = {value, 0.0, (int32_t)dtype, 1, 0};
  if (tsr_dtype_valid(dtype))
    fill_linear(&p.value, dtype, 1, value, 0.0, 0);
  return tsr__create_source(ctx, fn, &op_linear, dtype, ndim, shape, chunks, &p, sizeof p, out);
}

tsr_status tsr_array_full(tsr_ctx *ctx, tsr_dtype dtype, int ndim, const int64_t *shape,
                          const int64_t *chunks, double value, tsr_array **out) {
  return full_named("tsr_array_full", ctx, dtype, ndim, shape, chunks, value, out);
}

tsr_status tsr_array_zeros(tsr_ctx *ctx, tsr_dtype dtype, int ndim, const int64_t *shape,
                           const int64_t *chunks, tsr_array **out) {
  return full_named("tsr_array_zeros", ctx, dtype, ndim, shape, chunks, 0.0, out);
}

tsr_status tsr_array_ones(tsr_ctx *ctx, tsr_dtype dtype, int ndim, const int64_t *shape,
                          const int64_t *chunks, tsr_array **out) {
  return full_named("tsr_array_ones", ctx, dtype, ndim, shape, chunks, 1.0, out);
}

/* Integers as NumPy takes Python ints: exact for integer dtypes (a value
 * out of the dtype's range is TSR_EINVAL), rounded for floats. */
static tsr_status full_int(tsr_ctx *ctx, const char *fn, tsr_dtype dtype, int ndim,
                           const int64_t *shape, const int64_t *chunks, uint64_t bits,
                           bool is_unsigned, tsr_array **out) {
  if (tsr_dtype_valid(dtype) && !tsr__int_fits(dtype, bits, is_unsigned)) {
    if (out != NULL)
      *out = NULL;
    if (is_unsigned)
      return tsr_error_set(TSR_EINVAL, "%s: value %llu does not fit %s", fn,
                           (unsigned long long)bits, tsr_dtype_name(dtype));
    return tsr_error_set(TSR_EINVAL, "%s: value %lld does not fit %s", fn, (long long)bits,
                         tsr_dtype_name(dtype));
  }
  double approx = is_unsigned ? (double)bits : (double)(int64_t)bits;
  linear_params p = {approx, 0.0, (int32_t)dtype, 1, 0};
  if (tsr_dtype_valid(dtype))
    tsr__cast_loop(dtype, is_unsigned ? TSR_UINT64 : TSR_INT64, &p.value, &bits, 1, 1);
  return tsr__create_source(ctx, fn, &op_linear, dtype, ndim, shape, chunks, &p, sizeof p, out);
}

tsr_status tsr_array_full_i64(tsr_ctx *ctx, tsr_dtype dtype, int ndim, const int64_t *shape,
                              const int64_t *chunks, int64_t value, tsr_array **out) {
  return full_int(ctx, "tsr_array_full_i64", dtype, ndim, shape, chunks, (uint64_t)value, false,
                  out);
}

tsr_status tsr_array_full_u64(tsr_ctx *ctx, tsr_dtype dtype, int ndim, const int64_t *shape,
                              const int64_t *chunks, uint64_t value, tsr_array **out) {
  return full_int(ctx, "tsr_array_full_u64", dtype, ndim, shape, chunks, value, true, out);
}

/* ---- arange --------------------------------------------------------------- */

tsr_status tsr_array_arange(tsr_ctx *ctx, tsr_dtype dtype, double start, double stop, double step,
                            int64_t chunk, tsr_array **out) {
  static const char fn[] = "tsr_array_arange";
  TSR_CHECK(isfinite(start) && isfinite(stop) && isfinite(step), TSR_EINVAL,
            "%s: start, stop and step must be finite", fn);
  TSR_CHECK(step != 0, TSR_EINVAL, "%s: step is 0", fn);
  double count = ceil((stop - start) / step);
  TSR_CHECK(count < 9007199254740992.0, TSR_EINVAL, "%s: %.17g elements are too many", fn, count);
  int64_t n = count > 0 ? (int64_t)count : 0;
  if (tsr_dtype_valid(dtype) && n > 0) {
    double last = start + (double)(n - 1) * step;
    TSR_CHECK(tsr__value_fits(dtype, start) && tsr__value_fits(dtype, last), TSR_EINVAL,
              "%s: values from %.17g to %.17g do not fit %s", fn, start, last,
              tsr_dtype_name(dtype));
  }
  linear_params p = {start, step, (int32_t)dtype, 0, 0};
  return tsr__create_source(ctx, fn, &op_linear, dtype, 1, &n, &chunk, &p, sizeof p, out);
}

/* Integer arange: element j is start + j * step computed exactly in int64
 * (every element is range-checked through the first and the last), then
 * converted to the dtype. */
typedef struct arange_int_params {
  int64_t start, step;
  int32_t dtype;
} arange_int_params;

static tsr_status arange_int_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = block_of(call);
  arange_int_params p;
  memcpy(&p, extra_of(call), sizeof p);
  int64_t first = tsr__block_offset(b)[0], n = tsr__block_size(b);
  int64_t v[256];
  size_t itemsize = tsr_dtype_size((tsr_dtype)p.dtype);
  unsigned char *dst = call->output;
  for (int64_t done = 0; done < n;) {
    int64_t k = n - done < 256 ? n - done : 256;
    for (int64_t i = 0; i < k; i++) /* in range: checked at creation */
      v[i] = (int64_t)((uint64_t)p.start + (uint64_t)(first + done + i) * (uint64_t)p.step);
    tsr__cast_loop((tsr_dtype)p.dtype, TSR_INT64, dst + (size_t)done * itemsize, v, 1, (size_t)k);
    done += k;
  }
  return TSR_OK;
}

static tsr_status lower_arange_int(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                   uint32_t *out) {
  (void)in;
  return tsr__lower_blockwise_source(e, g, "arange", arange_int_kernel, NULL, e->params,
                                     sizeof(arange_int_params), out);
}

static tsr_status chunk_arange_int(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in,
                                   int64_t c, uint32_t *task) {
  (void)in;
  return tsr__lower_blockwise_source_chunk(e, g, "arange", arange_int_kernel, NULL, e->params,
                                           sizeof(arange_int_params), c, task);
}

static void hash_arange_int(const tsr__expr *e, tsr__hash *h) {
  const arange_int_params *p = e->params;
  tsr__hash_u64(h, (uint64_t)p->start);
  tsr__hash_u64(h, (uint64_t)p->step);
  tsr__hash_u64(h, (uint64_t)p->dtype);
}

static const tsr__op op_arange_int = {"arange", lower_arange_int, NULL,
                                      true,     chunk_arange_int, hash_arange_int};

tsr_status tsr_array_arange_i64(tsr_ctx *ctx, tsr_dtype dtype, int64_t start, int64_t stop,
                                int64_t step, int64_t chunk, tsr_array **out) {
  static const char fn[] = "tsr_array_arange_i64";
  if (out != NULL)
    *out = NULL;
  TSR_CHECK(step != 0, TSR_EINVAL, "%s: step is 0", fn);
  /* n = ceil((stop - start) / step) in exact unsigned arithmetic: the
   * distance may exceed INT64_MAX (from INT64_MIN to INT64_MAX). */
  int64_t n = 0;
  if ((step > 0 && stop > start) || (step < 0 && stop < start)) {
    uint64_t dist = step > 0 ? (uint64_t)stop - (uint64_t)start : (uint64_t)start - (uint64_t)stop;
    uint64_t mag = step > 0 ? (uint64_t)step : 0 - (uint64_t)step;
    uint64_t count = dist / mag + (dist % mag != 0);
    TSR_CHECK(count <= (uint64_t)INT64_MAX, TSR_EINVAL, "%s: %llu elements are too many", fn,
              (unsigned long long)count);
    n = (int64_t)count;
  }
  if (tsr_dtype_valid(dtype) && n > 0) {
    /* The last element lies between start and stop, so it is an int64. */
    int64_t last = (int64_t)((uint64_t)start + (uint64_t)(n - 1) * (uint64_t)step);
    TSR_CHECK(tsr__int_fits(dtype, (uint64_t)start, false) &&
                  tsr__int_fits(dtype, (uint64_t)last, false),
              TSR_EINVAL, "%s: values from %lld to %lld do not fit %s", fn, (long long)start,
              (long long)last, tsr_dtype_name(dtype));
  }
  arange_int_params p = {start, step, (int32_t)dtype};
  return tsr__create_source(ctx, fn, &op_arange_int, dtype, 1, &n, &chunk, &p, sizeof p, out);
}

/* ---- random ---------------------------------------------------------------- */

/* dist: a tsr_random_dist, or RANDOM_INTEGERS (int64 in [low, low + span)). */
#define RANDOM_INTEGERS 2
typedef struct random_params {
  uint64_t seed;
  int32_t dist;
  int32_t pad;
  int64_t low;
  uint64_t span;
} random_params;

/* The integers of elements first .. first + n - 1: low plus the top 64 bits
 * of the element's random 64 bits times span (Lemire's multiply-shift,
 * without rejection: a value's probability is off by at most span / 2^64). */
static void fill_integers(const random_params *p, uint64_t first, size_t n, int64_t *out) {
  for (size_t i = 0; i < n; i++) {
    unsigned __int128 x = (unsigned __int128)tsr_random_u64(p->seed, first + i) * p->span;
    out[i] = (int64_t)((uint64_t)p->low + (uint64_t)(x >> 64));
  }
}

static void fill_row(const random_params *p, uint64_t first, size_t n, void *out) {
  if (p->dist == RANDOM_INTEGERS)
    fill_integers(p, first, n, out);
  else if (p->dist == TSR_RANDOM_NORMAL)
    tsr_random_fill_normal(p->seed, first, n, out);
  else
    tsr_random_fill_uniform(p->seed, first, n, out);
}

static tsr_status random_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = block_of(call);
  random_params p;
  memcpy(&p, extra_of(call), sizeof p);
  char *out = call->output; /* float64 or int64: 8 bytes an element */
  int ndim = b->ndim;
  if (tsr__block_size(b) == 0)
    return TSR_OK;
  if (ndim == 0) {
    fill_row(&p, 0, 1, out);
    return TSR_OK;
  }
  /* Row by row: each row of the block is a contiguous run of C-order
   * indices of the whole array. */
  const int64_t *shape = tsr__block_shape(b), *offset = tsr__block_offset(b);
  const int64_t *whole = tsr__block_array_shape(b);
  int64_t stride[TSR_MAX_NDIM], idx[TSR_MAX_NDIM] = {0};
  stride[ndim - 1] = 1;
  for (int d = ndim - 2; d >= 0; d--)
    stride[d] = stride[d + 1] * whole[d + 1];
  size_t row = (size_t)shape[ndim - 1];
  for (;;) {
    int64_t first = 0;
    for (int d = 0; d < ndim; d++)
      first += (offset[d] + (d < ndim - 1 ? idx[d] : 0)) * stride[d];
    fill_row(&p, (uint64_t)first, row, out);
    out += row * 8;
    int d = ndim - 2;
    while (d >= 0 && ++idx[d] == shape[d])
      idx[d--] = 0;
    if (d < 0)
      break;
  }
  return TSR_OK;
}

static tsr_status lower_random(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                               uint32_t *out) {
  (void)in;
  return tsr__lower_blockwise_source(e, g, "random", random_kernel, NULL, e->params,
                                     sizeof(random_params), out);
}

static tsr_status chunk_random(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in,
                               int64_t c, uint32_t *task) {
  (void)in;
  return tsr__lower_blockwise_source_chunk(e, g, "random", random_kernel, NULL, e->params,
                                           sizeof(random_params), c, task);
}

static void hash_random(const tsr__expr *e, tsr__hash *h) {
  const random_params *p = e->params;
  tsr__hash_u64(h, p->seed);
  tsr__hash_u64(h, (uint64_t)p->dist);
  tsr__hash_u64(h, (uint64_t)p->low);
  tsr__hash_u64(h, p->span);
}

static const tsr__op op_random = {"random", lower_random, NULL, false, chunk_random, hash_random};

tsr_status tsr_array_random(tsr_ctx *ctx, tsr_random_dist dist, uint64_t seed, int ndim,
                            const int64_t *shape, const int64_t *chunks, tsr_array **out) {
  TSR_CHECK(dist == TSR_RANDOM_UNIFORM || dist == TSR_RANDOM_NORMAL, TSR_EINVAL,
            "tsr_array_random: dist = %d is not a tsr_random_dist", (int)dist);
  random_params p = {seed, (int32_t)dist, 0, 0, 0};
  return tsr__create_source(ctx, "tsr_array_random", &op_random, TSR_FLOAT64, ndim, shape, chunks,
                            &p, sizeof p, out);
}

tsr_status tsr_array_random_integers(tsr_ctx *ctx, uint64_t seed, int64_t low, int64_t high,
                                     int ndim, const int64_t *shape, const int64_t *chunks,
                                     tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_array_random_integers: out is NULL");
  *out = NULL;
  TSR_CHECK(low < high, TSR_EINVAL, "tsr_array_random_integers: low (%lld) must be below high (%lld)",
            (long long)low, (long long)high);
  random_params p = {seed, RANDOM_INTEGERS, 0, low, (uint64_t)high - (uint64_t)low};
  return tsr__create_source(ctx, "tsr_array_random_integers", &op_random, TSR_INT64, ndim, shape,
                            chunks, &p, sizeof p, out);
}

/* ---- user buffers ------------------------------------------------------------ */

typedef struct buffer_params {
  void *data;
  int32_t mode;
  tsr_buffer_free_fn free_fn;
  void *free_user;
} buffer_params;

static tsr_status buffer_kernel(const tsr_kernel_call *call) {
  void *data;
  memcpy(&data, extra_of(call), sizeof data);
  tsr__block_copy(block_of(call), data, call->output, false);
  return TSR_OK;
}

static tsr_status lower_buffer(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                               uint32_t *out) {
  (void)in;
  const buffer_params *p = e->params;
  return tsr__lower_blockwise_source(e, g, "from-buffer", buffer_kernel, NULL, &p->data,
                                     sizeof p->data, out);
}

static tsr_status chunk_buffer(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in,
                               int64_t c, uint32_t *task) {
  (void)in;
  const buffer_params *p = e->params;
  return tsr__lower_blockwise_source_chunk(e, g, "from-buffer", buffer_kernel, NULL, &p->data,
                                           sizeof p->data, c, task);
}

static void destroy_buffer(tsr__expr *e) {
  buffer_params *p = e->params;
  if (p->mode == TSR_BUFFER_COPY)
    tsr_free(e->ctx, p->data);
  else if (p->mode == TSR_BUFFER_ADOPT && p->free_fn != NULL)
    p->free_fn(p->data, p->free_user);
}

/* A user buffer's shape, dtype and chunks are hashed (tsr__expr_hash), not
 * its contents: SPMD requires every rank to pass the same data, and
 * hashing it would cost a pass over it per compute. */
static const tsr__op op_buffer = {"from-buffer", lower_buffer, destroy_buffer,
                                  true,          chunk_buffer, NULL};

const void *tsr__expr_memory(const tsr__expr *e) {
  return e->op == &op_buffer ? ((const buffer_params *)e->params)->data : NULL;
}

tsr_status tsr_array_from_buffer(tsr_ctx *ctx, tsr_dtype dtype, int ndim, const int64_t *shape,
                                 const int64_t *chunks, void *data, tsr_buffer_mode mode,
                                 tsr_buffer_free_fn free_fn, void *free_user, tsr_array **out) {
  static const char fn[] = "tsr_array_from_buffer";
  tsr_status status = TSR_OK;
  buffer_params *p = NULL;
  tsr_chunk_grid *grid = NULL;
  tsr__expr *e = NULL;
  uint64_t nbytes = 0;
  if (out != NULL)
    *out = NULL;
  TSR__CHECK_GOTO(status, out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  TSR__CHECK_GOTO(status, ctx != NULL, TSR_EINVAL, "%s: ctx is NULL", fn);
  TSR__CHECK_GOTO(status,
                  mode == TSR_BUFFER_BORROW || mode == TSR_BUFFER_COPY || mode == TSR_BUFFER_ADOPT,
                  TSR_EINVAL, "%s: mode = %d is not a tsr_buffer_mode", fn, (int)mode);
  TSR__CHECK_GOTO(status, tsr_dtype_valid(dtype), TSR_EINVAL, "%s: dtype = %d is not a tsr_dtype",
                  fn, (int)dtype);
  TSR__TRY_GOTO(status, tsr__resolve_chunks(ctx, fn, ndim, shape, dtype, chunks, &grid));
  TSR__TRY_GOTO(status, tsr_shape_nbytes(ndim, shape, tsr_dtype_size(dtype), &nbytes));
  TSR__CHECK_GOTO(status, data != NULL || nbytes == 0, TSR_EINVAL,
                  "%s: data is NULL for %llu bytes", fn, (unsigned long long)nbytes);
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->mode = (int32_t)mode;
  p->free_fn = free_fn;
  p->free_user = free_user;
  if (mode == TSR_BUFFER_COPY) {
    TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)nbytes, &p->data));
    if (nbytes > 0)
      memcpy(p->data, data, (size_t)nbytes);
  } else {
    p->data = data;
  }
  data = NULL; /* the node owns it now (when adopted) */
  status = tsr__expr_create(ctx, &op_buffer, dtype, grid, 0, NULL, p, &e);
  grid = NULL;
  p = NULL;
  if (status != TSR_OK)
    return status;
  return tsr__array_wrap(e, out);
fail:
  tsr_chunk_grid_destroy(&grid);
  if (p != NULL && p->data != NULL && mode == TSR_BUFFER_COPY)
    tsr_free(ctx, p->data);
  tsr_free(ctx, p);
  if (mode == TSR_BUFFER_ADOPT && data != NULL && free_fn != NULL)
    free_fn(data, free_user);
  return status;
}
