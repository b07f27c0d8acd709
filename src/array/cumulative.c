/* cumulative.c — tsr_cumsum and tsr_cumprod along one axis, the way Dask's
 * cumreduction does it, in O(chunks) tasks:
 *   1. "scan": each chunk scanned on its own (sequentially along the axis, in
 *      the result dtype, as NumPy accumulates);
 *   2. "carry": for chunk k > 0 along the axis, the running total of the
 *      chunks before it, as a slice with the axis of extent 1:
 *      carry_k = last slice of scan_{k-1} (op) carry_{k-1} — a sequential
 *      chain of small tasks, so the result is the same for any thread count;
 *   3. "apply": chunk k > 0 of the result is carry_k (op) scan_k; chunk 0 is
 *      its scan as it is.
 * The scans, which touch all the data, run in parallel; only the thin carry
 * slices are chained.  Floats are therefore not bitwise NumPy's results
 * across chunk boundaries (as with Dask), but are deterministic.
 *
 * Dtypes as NumPy's: bool and signed integers accumulate in int64, unsigned
 * in uint64, floats in their own dtype.  Integers accumulate in uint64
 * arithmetic, so overflow wraps (two's complement) without undefined
 * behaviour. */
#include <string.h>

#include "array_impl.h"

typedef struct cum_params {
  int32_t axis;
  int32_t prod; /* 0: sum, 1: product */
  int32_t in_dtype;
  int32_t out_dtype;
} cum_params;

static tsr_dtype cum_dtype(tsr_dtype in) {
  if (tsr_dtype_is_float(in))
    return in;
  if (in == TSR_BOOL || tsr_dtype_is_signed(in))
    return TSR_INT64;
  return TSR_UINT64;
}

static const tsr__block *block_of(const tsr_kernel_call *call) { return call->params; }
static cum_params params_of(const tsr_kernel_call *call) {
  cum_params p;
  memcpy(&p, (const unsigned char *)call->params + tsr__block_extra_offset(block_of(call)->ndim),
         sizeof p);
  return p;
}

/* The block as (outer, len, inner) around the axis. */
static void split(const tsr__block *b, int axis, int64_t *outer, int64_t *len, int64_t *inner) {
  *outer = *inner = 1;
  for (int d = 0; d < axis; d++)
    *outer *= tsr__block_shape(b)[d];
  *len = tsr__block_shape(b)[axis];
  for (int d = axis + 1; d < b->ndim; d++)
    *inner *= tsr__block_shape(b)[d];
}

/* out[i] = in[i] converted to the accumulation dtype, for i < n. */
static void convert(void *out, const void *in, tsr_dtype in_dtype, int64_t n) {
#define CONV(T, U)                  \
  do {                              \
    const T *s = in;                \
    uint64_t *o = out;              \
    for (int64_t i = 0; i < n; i++) \
      o[i] = (uint64_t)(U)s[i];     \
  } while (0)
  switch (in_dtype) {
  case TSR_BOOL:
  case TSR_UINT8:
    CONV(uint8_t, uint64_t);
    break;
  case TSR_INT8:
    CONV(int8_t, int64_t);
    break;
  case TSR_INT16:
    CONV(int16_t, int64_t);
    break;
  case TSR_INT32:
    CONV(int32_t, int64_t);
    break;
  case TSR_UINT16:
    CONV(uint16_t, uint64_t);
    break;
  case TSR_UINT32:
    CONV(uint32_t, uint64_t);
    break;
  default: /* int64, uint64, float32, float64: same bits */
    if (n > 0)
      memcpy(out, in, (size_t)n * tsr_dtype_size(in_dtype));
    break;
  }
#undef CONV
}

/* In place: y[o, j, i] = y[o, j-1, i] (op) y[o, j, i]. */
#define SCAN(T, OP)                                     \
  do {                                                  \
    T *y = data;                                        \
    for (int64_t o = 0; o < outer; o++) {               \
      T *base = y + o * len * inner;                    \
      for (int64_t j = 1; j < len; j++) {               \
        T *row = base + j * inner, *prev = row - inner; \
        for (int64_t i = 0; i < inner; i++)             \
          row[i] = prev[i] OP row[i];                   \
      }                                                 \
    }                                                   \
  } while (0)

static void scan(void *data, tsr_dtype dtype, bool prod, int64_t outer, int64_t len,
                 int64_t inner) {
  if (dtype == TSR_FLOAT32) {
    if (prod)
      SCAN(float, *);
    else
      SCAN(float, +);
  } else if (dtype == TSR_FLOAT64) {
    if (prod)
      SCAN(double, *);
    else
      SCAN(double, +);
  } else {
    if (prod)
      SCAN(uint64_t, *);
    else
      SCAN(uint64_t, +);
  }
}
#undef SCAN

static tsr_status scan_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = block_of(call);
  cum_params p = params_of(call);
  int64_t outer, len, inner;
  split(b, p.axis, &outer, &len, &inner);
  convert(call->output, call->inputs[0], (tsr_dtype)p.in_dtype, outer * len * inner);
  scan(call->output, (tsr_dtype)p.out_dtype, p.prod, outer, len, inner);
  return TSR_OK;
}

/* c[o, i] = y[o, len-1, i] (op) prev[o, i], prev optional. */
#define CARRY(T, OP)                                                        \
  do {                                                                      \
    const T *y = call->inputs[0];                                           \
    const T *prev = call->n_inputs > 1 ? call->inputs[1] : NULL;            \
    T *c = call->output;                                                    \
    for (int64_t o = 0; o < outer; o++) {                                   \
      const T *last = y + (o * len + len - 1) * inner;                      \
      for (int64_t i = 0; i < inner; i++)                                   \
        c[o * inner + i] = prev ? last[i] OP prev[o * inner + i] : last[i]; \
    }                                                                       \
  } while (0)

static tsr_status carry_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = block_of(call); /* the previous chunk's block */
  cum_params p = params_of(call);
  int64_t outer, len, inner;
  split(b, p.axis, &outer, &len, &inner);
  if (len == 0)
    return TSR_OK; /* unreachable: only an axis of extent 0 has empty chunks */
  if (p.out_dtype == TSR_FLOAT32) {
    if (p.prod)
      CARRY(float, *);
    else
      CARRY(float, +);
  } else if (p.out_dtype == TSR_FLOAT64) {
    if (p.prod)
      CARRY(double, *);
    else
      CARRY(double, +);
  } else {
    if (p.prod)
      CARRY(uint64_t, *);
    else
      CARRY(uint64_t, +);
  }
  return TSR_OK;
}
#undef CARRY

/* out[o, j, i] = carry[o, i] (op) y[o, j, i]. */
#define APPLY(T, OP)                                    \
  do {                                                  \
    const T *y = call->inputs[0], *c = call->inputs[1]; \
    T *out = call->output;                              \
    for (int64_t o = 0; o < outer; o++)                 \
      for (int64_t j = 0; j < len; j++) {               \
        int64_t at = (o * len + j) * inner;             \
        for (int64_t i = 0; i < inner; i++)             \
          out[at + i] = c[o * inner + i] OP y[at + i];  \
      }                                                 \
  } while (0)

static tsr_status apply_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = block_of(call);
  cum_params p = params_of(call);
  int64_t outer, len, inner;
  split(b, p.axis, &outer, &len, &inner);
  if (p.out_dtype == TSR_FLOAT32) {
    if (p.prod)
      APPLY(float, *);
    else
      APPLY(float, +);
  } else if (p.out_dtype == TSR_FLOAT64) {
    if (p.prod)
      APPLY(double, *);
    else
      APPLY(double, +);
  } else {
    if (p.prod)
      APPLY(uint64_t, *);
    else
      APPLY(uint64_t, +);
  }
  return TSR_OK;
}
#undef APPLY

static tsr_status lower_cum(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                            uint32_t *out) {
  const cum_params *p = e->params;
  const tsr_chunk_grid *grid = e->grid;
  int ndim = grid->ndim, axis = p->axis;
  const char *names[3][2] = {{"cumsum-scan", "cumprod-scan"},
                             {"cumsum-carry", "cumprod-carry"},
                             {"cumsum-apply", "cumprod-apply"}};
  uint32_t k_scan, k_carry, k_apply;
  TSR_TRY(tsr_taskgraph_add_kernel(g, names[0][p->prod], scan_kernel, NULL, &k_scan));
  TSR_TRY(tsr_taskgraph_add_kernel(g, names[1][p->prod], carry_kernel, NULL, &k_carry));
  TSR_TRY(tsr_taskgraph_add_kernel(g, names[2][p->prod], apply_kernel, NULL, &k_apply));
  size_t off = tsr__block_extra_offset(ndim), bytes = off + sizeof *p;
  _Alignas(16) unsigned char
      params[sizeof(tsr__block) + 3 * TSR_MAX_NDIM * sizeof(int64_t) + sizeof(cum_params) + 16];
  memcpy(params + off, p, sizeof *p);
  tsr__block *b = (tsr__block *)params;
  size_t item = tsr_dtype_size(e->dtype);
  int64_t n = tsr_chunk_grid_nchunks(grid), stride = grid->stride[axis];
  int64_t nc = grid->nchunks[axis];
  uint32_t *scan_ids = NULL, *carry_ids = NULL;
  tsr_status status = TSR_OK;
  TSR__TRY_GOTO(status, tsr__alloc_array(e->ctx, (size_t)n, sizeof *scan_ids, "cumulative tasks",
                                         (void **)&scan_ids));
  TSR__TRY_GOTO(status, tsr__alloc_array(e->ctx, (size_t)n, sizeof *carry_ids, "cumulative tasks",
                                         (void **)&carry_ids));
  for (int64_t c = 0; c < n; c++) {
    tsr__block_describe(grid, c, item, b);
    TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, k_scan, &in[0][c], 1, params, bytes,
                                                 (size_t)tsr__block_size(b) * item, &scan_ids[c]));
  }
  for (int64_t c = 0; c < n; c++) {
    int64_t kc = c / stride % nc;
    if (kc == 0) {
      out[c] = scan_ids[c];
      continue;
    }
    int64_t prev = c - stride;
    tsr__block_describe(grid, prev, item, b);
    int64_t slice = tsr__block_size(b) / tsr__block_shape(b)[axis];
    uint32_t cin[2] = {scan_ids[prev], kc >= 2 ? carry_ids[prev] : 0};
    TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, k_carry, cin, kc >= 2 ? 2 : 1, params, bytes,
                                                 (size_t)slice * item, &carry_ids[c]));
    tsr__block_describe(grid, c, item, b);
    uint32_t ain[2] = {scan_ids[c], carry_ids[c]};
    TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, k_apply, ain, 2, params, bytes,
                                                 (size_t)tsr__block_size(b) * item, &out[c]));
  }
fail:
  tsr_free(e->ctx, scan_ids);
  tsr_free(e->ctx, carry_ids);
  return status;
}

static void hash_cum(const tsr__expr *e, tsr__hash *h) {
  const cum_params *p = e->params;
  tsr__hash_u64(h, (uint64_t)p->axis);
  tsr__hash_u64(h, (uint64_t)p->prod);
  tsr__hash_u64(h, (uint64_t)p->in_dtype);
  tsr__hash_u64(h, (uint64_t)p->out_dtype);
}

static const tsr__op op_cum = {"cumulative", lower_cum, NULL, false, NULL, hash_cum};

static tsr_status cumulative(const char *name, bool prod, tsr_array *a, int axis, tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", name);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", name);
  tsr__expr *x = a->expr;
  int ndim = x->grid->ndim;
  TSR_CHECK(axis >= -ndim && axis < ndim, TSR_EINVAL,
            "%s: axis %d is out of bounds for an array of %d dimensions", name, axis, ndim);
  TSR_CHECK(tsr_dtype_valid(x->dtype), TSR_EINVAL, "%s: the array's dtype %d is not valid", name,
            (int)x->dtype);
  if (axis < 0)
    axis += ndim;
  tsr_dtype dtype = cum_dtype(x->dtype);
  tsr_chunk_grid *grid = NULL;
  cum_params *p = NULL;
  TSR_TRY(tsr__grid_copy(x->ctx, x->grid, &grid));
  tsr_status status = tsr_alloc(x->ctx, sizeof *p, (void **)&p);
  if (status != TSR_OK) {
    tsr_chunk_grid_destroy(&grid);
    return status;
  }
  *p = (cum_params){axis, prod, (int32_t)x->dtype, (int32_t)dtype};
  tsr__expr *e;
  TSR_TRY(tsr__expr_create(x->ctx, &op_cum, dtype, grid, 1, &x, p, &e));
  return tsr__array_wrap(e, out);
}

tsr_status tsr_cumsum(tsr_array *a, int axis, tsr_array **out) {
  return cumulative("tsr_cumsum", false, a, axis, out);
}

tsr_status tsr_cumprod(tsr_array *a, int axis, tsr_array **out) {
  return cumulative("tsr_cumprod", true, a, axis, out);
}
