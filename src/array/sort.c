/* sort.c — sort, argsort, quantiles and medians of chunked arrays, lowered
 * to tasks:
 *
 *  - along an axis of an N-d array ("lanes"): the input is rechunked so the
 *    axis is one chunk; one task per chunk then sorts (stable radix sort of
 *    order-preserving keys) or selects (quantiles, no full sort) every lane
 *    of its chunk.  Parallel over the other axes' chunks.
 *  - sort and argsort of a 1-D array or of the flattened array ("runs"): the
 *    input (at most 64 chunks; more are rechunked into 64) is sorted chunk
 *    by chunk into runs of keys (argsort: with their global indices); then
 *    each output chunk's task finds, by a binary search over the key space,
 *    where its range of ranks starts and ends in every run (ties broken by
 *    run order, so the order is stable), and merges those slices.
 *  - quantiles of a 1-D or flattened array: one task reads every chunk into
 *    one buffer of doubles and selects the positions it needs (O(n), no
 *    sort).
 * Every result depends only on the values and the chunking, never on the
 * thread count.  NaN sorts last; -0.0 and 0.0 are equal for argsort
 * (stable order) and quantiles.  Scratch memory per task comes from the
 * context's allocator (accounted). */
#include <string.h>

#include "array_impl.h"
#include "sort_internal.h"
#include "sort_kernels.h"

/* ---- shared helpers ----------------------------------------------------- */

tsr_status tsr__order_wrap(tsr_ctx *ctx, const tsr__op *op, tsr_dtype dtype, tsr_chunk_grid *grid,
                           uint32_t n, tsr__expr *const *in, const void *params, size_t bytes,
                           tsr_array **out) {
  void *p = NULL;
  tsr_status s = tsr_alloc(ctx, bytes, &p);
  if (s != TSR_OK) {
    tsr_chunk_grid_destroy(&grid);
    return s;
  }
  memcpy(p, params, bytes);
  tsr__expr *e;
  TSR_TRY(tsr__expr_create(ctx, op, dtype, grid, n, in, p, &e));
  return tsr__array_wrap(e, out);
}

tsr_status tsr__order_one_chunk_grid(tsr_ctx *ctx, int ndim, const int64_t *shape,
                                     tsr_chunk_grid **out) {
  int64_t chunk[TSR_MAX_NDIM];
  for (int d = 0; d < ndim; d++)
    chunk[d] = shape[d] > 0 ? shape[d] : 1;
  return tsr_chunk_grid_create_uniform(ctx, ndim, shape, chunk, out);
}

/* x as a 1-D node (C order) of at most TSR__RECHUNK_FAN_IN chunks. */
tsr_status tsr__order_flat(tsr__expr *x, int64_t max_chunks, tsr__expr **out) {
  tsr_array in = {x}, *flat = NULL;
  TSR_TRY(tsr_reshape(&in, 1, (int64_t[]){-1}, &flat));
  tsr__expr *f = flat->expr;
  tsr_status s = TSR_OK;
  if (f->grid->nchunks[0] > max_chunks) {
    int64_t n = f->grid->shape[0], c = (n + max_chunks - 1) / max_chunks;
    tsr_chunk_grid *g = NULL;
    s = tsr_chunk_grid_create_uniform(x->ctx, 1, &n, &c, &g);
    if (s == TSR_OK)
      s = tsr__rechunk_expr(f, g, out);
    tsr_chunk_grid_destroy(&g);
  } else {
    tsr__expr_retain(f);
    *out = f;
  }
  tsr_array_destroy(&flat);
  return s;
}

static bool sortable(tsr_dtype t) { return tsr_dtype_valid(t); }

/* ---- lanes -------------------------------------------------------------- */

typedef struct lane_params {
  int32_t kind; /* ORD_SORT, ORD_ARGSORT, ORD_QUANTILE, ORD_MEDIAN */
  int32_t axis;
  int32_t in_dtype;
  int32_t skipnan;
  int64_t nq; /* quantiles: number of q values (q follow the struct) */
} lane_params;

enum { ORD_SORT = 0, ORD_ARGSORT, ORD_QUANTILE, ORD_MEDIAN };

static const double *lane_q(const lane_params *p) { return (const double *)(p + 1); }

/* The quantiles (or median) of the m values of v (no NaN; m >= 1) into
 * out[j * stride], through core/order.h's selection of the two values
 * around each position (its positions are NumPy's (m - 1) * q), then
 * NumPy's _lerp (median: the mean of the two middle values, as np.median).
 * v is reordered; b holds 3 * nq doubles of scratch. */
static void lane_stats(double *v, int64_t m, int32_t kind, const double *q, int64_t nq, double *b,
                       double *out, int64_t stride) {
  static const double half = 0.5;
  if (kind == ORD_MEDIAN) {
    q = &half;
    nq = 1;
  }
  double *lo = b, *hi = b + nq, *d = b + 2 * nq;
  tsr__order_quantile_bounds_f64(v, m, (int)nq, q, lo, hi, d);
  for (int64_t j = 0; j < nq; j++) {
    if (kind == ORD_MEDIAN)
      out[0] = m % 2 ? lo[0] : (lo[0] + hi[0]) / 2;
    else
      out[j * stride] = d[j] == 0 ? lo[j] : tsr__lerp(lo[j], hi[j], d[j]);
  }
}

/* NaN-aware statistics of the n values at v (moved about): NaN when a NaN
 * is present and !skipnan, or when no number is left. */
static void nan_stats(double *v, int64_t n, const lane_params *p, double *b, double *out,
                      int64_t stride) {
  int64_t nout = p->kind == ORD_MEDIAN ? 1 : p->nq, m = tsr__order_nan_last_f64(v, n);
  if ((m < n && !p->skipnan) || m == 0) {
    for (int64_t j = 0; j < nout; j++)
      out[j * stride] = NAN;
    return;
  }
  lane_stats(v, m, p->kind, (const double *)(p + 1), p->nq, b, out, stride);
}

static tsr_status lane_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const tsr__block *b = call->params;
  const lane_params *p =
      (const lane_params *)((const unsigned char *)call->params + tsr__block_extra_offset(b->ndim));
  tsr_dtype dt = (tsr_dtype)p->in_dtype;
  size_t item = tsr_dtype_size(dt);
  int64_t outer = 1, len = tsr__block_shape(b)[p->axis], inner = 1;
  for (int d = 0; d < p->axis; d++)
    outer *= tsr__block_shape(b)[d];
  for (int d = p->axis + 1; d < b->ndim; d++)
    inner *= tsr__block_shape(b)[d];
  if (outer * inner == 0 || (len == 0 && (p->kind == ORD_SORT || p->kind == ORD_ARGSORT)))
    return TSR_OK;
  const unsigned char *in = call->inputs[0];
  /* Scratch: keys (8 len bytes), the radix sort's scratch (8 or 12 len),
   * uint32 ids (4 len); quantiles: the lane's values (8 len). */
  int64_t bytes = p->kind == ORD_ARGSORT ? 24 : p->kind == ORD_SORT ? 16 : 8;
  TSR_CHECK(len <= (int64_t)UINT32_MAX, TSR_ENOTSUP,
            "sort: lanes of more than 2^32 - 1 elements are not supported (use flatten)");
  void *scratch = NULL;
  if (len > 0)
    TSR_TRY(tsr__alloc_array(ctx, (size_t)len, (size_t)bytes, "sort scratch", &scratch));
  uint64_t *keys = scratch, *tk = keys + len;
  uint32_t *idx = (uint32_t *)((unsigned char *)scratch + 20 * len);
  double *v = scratch;
  double bstack[48], *bq = bstack;
  if (p->kind == ORD_QUANTILE && p->nq > 16 &&
      tsr__alloc_array(ctx, (size_t)p->nq * 3, 8, "quantile bounds", (void **)&bq) != TSR_OK) {
    tsr_free(ctx, scratch);
    return TSR_ENOMEM;
  }
  for (int64_t o = 0; o < outer; o++)
    for (int64_t i = 0; i < inner; i++) {
      int64_t at = o * len * inner + i;
      const void *src = in + (size_t)at * item;
      if (p->kind == ORD_SORT) {
        tsr__keys_from(dt, src, inner, len, false, keys);
        tsr__order_sort_u64_scratch(keys, len, tk);
        tsr__keys_to(dt, keys, len, (unsigned char *)call->output + (size_t)at * item, inner);
      } else if (p->kind == ORD_ARGSORT) {
        tsr__keys_from(dt, src, inner, len, true, keys);
        for (int64_t k = 0; k < len; k++)
          idx[k] = (uint32_t)k;
        tsr__order_sort_u64_u32_scratch(keys, idx, len, tk);
        int64_t *dst = (int64_t *)call->output + at;
        for (int64_t k = 0; k < len; k++)
          dst[k * inner] = idx[k];
      } else {
        tsr__values_f64(dt, src, inner, len, v);
        nan_stats(v, len, p, bq, (double *)call->output + o * inner + i, outer * inner);
      }
    }
  if (bq != bstack)
    tsr_free(ctx, bq);
  tsr_free(ctx, scratch);
  return TSR_OK;
}

static size_t lane_params_bytes(const lane_params *p) {
  return sizeof *p + (p->kind == ORD_QUANTILE ? (size_t)p->nq * sizeof(double) : 0);
}

static tsr_status lower_lane(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  const lane_params *p = e->params;
  const tsr_chunk_grid *ig = e->inputs[0]->grid;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, p->kind == ORD_SORT      ? "sort-lanes"
                                      : p->kind == ORD_ARGSORT ? "argsort-lanes"
                                                               : "quantile-lanes",
                                   lane_kernel, e->ctx, &k));
  size_t off = tsr__block_extra_offset(ig->ndim), pb = lane_params_bytes(p);
  unsigned char *params = NULL;
  TSR_TRY(tsr_alloc(e->ctx, off + pb, (void **)&params));
  memcpy(params + off, p, pb);
  tsr_status s = TSR_OK;
  size_t out_item = tsr_dtype_size(e->dtype);
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  for (int64_t c = 0; c < n && s == TSR_OK; c++) {
    tsr__block *b = (tsr__block *)params;
    tsr__block_describe(ig, c, tsr_dtype_size((tsr_dtype)p->in_dtype), b);
    int64_t outer_inner = 1; /* lanes in the chunk (also when they are empty) */
    for (int d = 0; d < b->ndim; d++)
      if (d != p->axis)
        outer_inner *= b->dims[d];
    size_t bytes = p->kind == ORD_SORT || p->kind == ORD_ARGSORT
                       ? (size_t)tsr__block_size(b) * out_item
                       : (size_t)(outer_inner * (p->kind == ORD_MEDIAN ? 1 : p->nq)) * out_item;
    s = tsr_taskgraph_add_task(g, k, &in[0][c], 1, params, off + pb, bytes, &out[c]);
  }
  tsr_free(e->ctx, params);
  return s;
}

static void hash_lane(const tsr__expr *e, tsr__hash *h) {
  const lane_params *p = e->params;
  tsr__hash_bytes(h, p, lane_params_bytes(p));
}

static const tsr__op op_lane = {"order-lanes", lower_lane, NULL, false, NULL, hash_lane};

/* ---- runs (1-D) ----------------------------------------------------------- */

typedef struct run_params {
  int32_t kind;
  int32_t dtype;
  int32_t skipnan;
  int32_t pad;
  int64_t offset; /* run task: global index of the chunk's first element */
  int64_t start;  /* merge task: ranks [start, stop) of the output chunk */
  int64_t stop;
  int64_t nq;
} run_params;

static bool run_argsort(int32_t kind) { return kind == ORD_ARGSORT; }

static tsr_status run_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const run_params *p = call->params;
  tsr_dtype dt = (tsr_dtype)p->dtype;
  int64_t n = (int64_t)(call->input_bytes[0] / tsr_dtype_size(dt));
  if (n == 0)
    return TSR_OK;
  uint64_t *keys = call->output;
  bool arg = run_argsort(p->kind);
  int64_t *idx = arg ? (int64_t *)(keys + n) : NULL;
  tsr__keys_from(dt, call->inputs[0], 1, n, p->kind != ORD_SORT, keys);
  if (arg && n > (int64_t)UINT32_MAX) {
    for (int64_t i = 0; i < n; i++)
      idx[i] = p->offset + i;
    return tsr__order_sort_u64_i64(ctx, keys, idx, n);
  }
  /* Scratch for the radix sort, then (argsort) uint32 local ids. */
  void *scratch = NULL;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)n, arg ? 16 : 8, "sort scratch", &scratch));
  if (arg) {
    uint32_t *ids = (uint32_t *)((unsigned char *)scratch + 12 * n);
    for (int64_t i = 0; i < n; i++)
      ids[i] = (uint32_t)i;
    tsr__order_sort_u64_u32_scratch(keys, ids, n, scratch);
    for (int64_t i = 0; i < n; i++)
      idx[i] = p->offset + ids[i];
  } else {
    tsr__order_sort_u64_scratch(keys, n, scratch);
  }
  tsr_free(ctx, scratch);
  return TSR_OK;
}

typedef struct runs {
  int64_t k;
  const uint64_t **keys;
  const int64_t **idx;
  int64_t *len;
  int64_t total;
} runs;

static int64_t lower_bound(const uint64_t *a, int64_t n, uint64_t v) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (a[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static int64_t upper_bound(const uint64_t *a, int64_t n, uint64_t v) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (a[mid] <= v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

/* The key of rank r (0 <= r < total) over all runs. */
static uint64_t runs_select(const runs *R, int64_t r) {
  uint64_t lo = 0, hi = UINT64_MAX;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    int64_t c = 0;
    for (int64_t i = 0; i < R->k; i++)
      c += upper_bound(R->keys[i], R->len[i], mid);
    if (c >= r + 1)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* pos[i]: how many of run i's keys come before rank s (stable: ties are
 * taken from earlier runs first). */
static void runs_split(const runs *R, int64_t s, int64_t *pos) {
  if (s >= R->total) {
    for (int64_t i = 0; i < R->k; i++)
      pos[i] = R->len[i];
    return;
  }
  uint64_t key = runs_select(R, s);
  int64_t rem = s;
  for (int64_t i = 0; i < R->k; i++) {
    pos[i] = lower_bound(R->keys[i], R->len[i], key);
    rem -= pos[i];
  }
  for (int64_t i = 0; i < R->k && rem > 0; i++) {
    int64_t eq = upper_bound(R->keys[i], R->len[i], key) - pos[i];
    int64_t take = eq < rem ? eq : rem;
    pos[i] += take;
    rem -= take;
  }
}

static tsr_status runs_open(tsr_ctx *ctx, const tsr_kernel_call *call, bool arg, runs *R) {
  R->k = call->n_inputs;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)R->k * 3, 8, "sort runs", (void **)&R->keys));
  R->idx = (const int64_t **)(R->keys + R->k);
  R->len = (int64_t *)(R->keys + 2 * R->k);
  R->total = 0;
  for (int64_t i = 0; i < R->k; i++) {
    R->len[i] = (int64_t)(call->input_bytes[i] / (arg ? 16 : 8));
    R->keys[i] = call->inputs[i];
    R->idx[i] = arg ? (const int64_t *)R->keys[i] + R->len[i] : NULL;
    R->total += R->len[i];
  }
  return TSR_OK;
}

/* A binary heap of run numbers ordered by (current key, run number). */
static inline bool heap_less(const runs *R, const int64_t *cur, int64_t a, int64_t b) {
  uint64_t ka = R->keys[a][cur[a]], kb = R->keys[b][cur[b]];
  return ka < kb || (ka == kb && a < b);
}

static void heap_down(const runs *R, const int64_t *cur, int64_t *h, int64_t n, int64_t i) {
  for (;;) {
    int64_t l = 2 * i + 1, m = i;
    if (l < n && heap_less(R, cur, h[l], h[m]))
      m = l;
    if (l + 1 < n && heap_less(R, cur, h[l + 1], h[m]))
      m = l + 1;
    if (m == i)
      return;
    int64_t t = h[i];
    h[i] = h[m];
    h[m] = t;
    i = m;
  }
}

static tsr_status merge_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const run_params *p = call->params;
  tsr_dtype dt = (tsr_dtype)p->dtype;
  bool arg = run_argsort(p->kind);
  int64_t n = p->stop - p->start;
  if (n == 0)
    return TSR_OK;
  runs R;
  TSR_TRY(runs_open(ctx, call, arg, &R));
  int64_t *lo = NULL;
  tsr_status s = tsr__alloc_array(ctx, (size_t)R.k * 3, 8, "sort merge", (void **)&lo);
  if (s != TSR_OK) {
    tsr_free(ctx, R.keys);
    return s;
  }
  int64_t *hi = lo + R.k, *heap = lo + 2 * R.k, nh = 0;
  runs_split(&R, p->start, lo);
  runs_split(&R, p->stop, hi);
  for (int64_t i = 0; i < R.k; i++)
    if (lo[i] < hi[i])
      heap[nh++] = i;
  for (int64_t i = nh / 2 - 1; i >= 0; i--)
    heap_down(&R, lo, heap, nh, i);
  size_t item = tsr_dtype_size(dt);
  unsigned char *dst = call->output;
  int64_t o = 0;
  uint64_t buf[256];
  int64_t nb = 0;
  while (nh > 0) {
    int64_t r = heap[0];
    if (nh == 1) { /* the rest of one run */
      int64_t m = hi[r] - lo[r];
      if (arg)
        memcpy((int64_t *)call->output + o, R.idx[r] + lo[r], (size_t)m * 8);
      else {
        if (nb > 0) {
          tsr__keys_to(dt, buf, nb, dst + (size_t)(o - nb) * item, 1);
          nb = 0;
        }
        tsr__keys_to(dt, R.keys[r] + lo[r], m, dst + (size_t)o * item, 1);
      }
      o += m;
      break;
    }
    if (arg)
      ((int64_t *)call->output)[o] = R.idx[r][lo[r]];
    else {
      buf[nb++] = R.keys[r][lo[r]];
      if (nb == 256) {
        tsr__keys_to(dt, buf, nb, dst + (size_t)(o + 1 - nb) * item, 1);
        nb = 0;
      }
    }
    o++;
    if (++lo[r] == hi[r])
      heap[0] = heap[--nh];
    heap_down(&R, lo, heap, nh, 0);
  }
  if (nb > 0)
    tsr__keys_to(dt, buf, nb, dst + (size_t)(o - nb) * item, 1);
  tsr_free(ctx, lo);
  tsr_free(ctx, R.keys);
  return TSR_OK;
}

/* Quantiles of the whole (flattened) input: every chunk is read straight
 * into one buffer of doubles and the positions are selected there (O(n),
 * no sort).  Params: a lane_params and its q values. */
static tsr_status select_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const lane_params *p = call->params;
  tsr_dtype dt = (tsr_dtype)p->in_dtype;
  size_t item = tsr_dtype_size(dt);
  int64_t n = 0;
  for (uint32_t i = 0; i < call->n_inputs; i++)
    n += (int64_t)(call->input_bytes[i] / item);
  double *v = NULL, bstack[48], *bq = bstack;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)(n > 0 ? n : 1), sizeof *v, "quantile values",
                           (void **)&v));
  if (p->kind == ORD_QUANTILE && p->nq > 16 &&
      tsr__alloc_array(ctx, (size_t)p->nq * 3, 8, "quantile bounds", (void **)&bq) != TSR_OK) {
    tsr_free(ctx, v);
    return TSR_ENOMEM;
  }
  int64_t at = 0;
  for (uint32_t i = 0; i < call->n_inputs; i++) {
    int64_t c = (int64_t)(call->input_bytes[i] / item);
    tsr__values_f64(dt, call->inputs[i], 1, c, v + at);
    at += c;
  }
  nan_stats(v, n, p, bq, call->output, 1);
  if (bq != bstack)
    tsr_free(ctx, bq);
  tsr_free(ctx, v);
  return TSR_OK;
}

typedef struct flat_params {
  int32_t kind;
  int32_t dtype;
  int32_t skipnan;
  int32_t pad;
  int64_t nq;
} flat_params;

static size_t flat_params_bytes(const flat_params *p) {
  return sizeof *p + (p->kind == ORD_QUANTILE ? (size_t)p->nq * sizeof(double) : 0);
}

static tsr_status lower_flat(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  const flat_params *fp = e->params;
  const tsr_chunk_grid *ig = e->inputs[0]->grid;
  int64_t k = ig->nchunks[0];
  uint32_t kout;
  if (fp->kind == ORD_QUANTILE || fp->kind == ORD_MEDIAN) {
    size_t qb = fp->kind == ORD_QUANTILE ? (size_t)fp->nq * sizeof(double) : 0;
    lane_params *lp = NULL;
    TSR_TRY(tsr_taskgraph_add_kernel(g, "quantile-select", select_kernel, e->ctx, &kout));
    TSR_TRY(tsr_calloc(e->ctx, 1, sizeof *lp + qb, (void **)&lp));
    *lp = (lane_params){fp->kind, 0, fp->dtype, fp->skipnan, fp->nq};
    if (qb)
      memcpy(lp + 1, fp + 1, qb);
    tsr_status s = tsr_taskgraph_add_task(g, kout, in[0], (uint32_t)k, lp, sizeof *lp + qb,
                                          (size_t)(fp->kind == ORD_MEDIAN ? 1 : fp->nq) * 8,
                                          &out[0]);
    tsr_free(e->ctx, lp);
    return s;
  }
  bool arg = run_argsort(fp->kind);
  uint32_t krun;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "sort-run", run_kernel, e->ctx, &krun));
  TSR_TRY(tsr_taskgraph_add_kernel(g, "sort-merge", merge_kernel, e->ctx, &kout));
  run_params p = {fp->kind, fp->dtype, fp->skipnan, 0, 0, 0, 0, 0};
  uint32_t *ids = NULL;
  TSR_TRY(tsr__alloc_array(e->ctx, (size_t)k, sizeof *ids, "sort runs", (void **)&ids));
  tsr_status s = TSR_OK;
  for (int64_t c = 0; c < k && s == TSR_OK; c++) {
    p.offset = tsr__grid_offset(ig, 0, c);
    int64_t len = tsr__grid_extent(ig, 0, c);
    s = tsr_taskgraph_add_task(g, krun, &in[0][c], 1, &p, sizeof p, (size_t)len * (arg ? 16 : 8),
                               &ids[c]);
  }
  for (int64_t c = 0; c < k && s == TSR_OK; c++) {
    p.start = tsr__grid_offset(ig, 0, c);
    p.stop = tsr__grid_offset(ig, 0, c + 1);
    s = tsr_taskgraph_add_task(g, kout, ids, (uint32_t)k, &p, sizeof p,
                               (size_t)(p.stop - p.start) * tsr_dtype_size(e->dtype), &out[c]);
  }
  tsr_free(e->ctx, ids);
  return s;
}

static void hash_flat(const tsr__expr *e, tsr__hash *h) {
  const flat_params *p = e->params;
  tsr__hash_bytes(h, p, flat_params_bytes(p));
}

static const tsr__op op_flat = {"order-runs", lower_flat, NULL, false, NULL, hash_flat};

/* ---- the API ------------------------------------------------------------- */

/* Checks a and resolves the axis (flatten: -1). */
static tsr_status order_check(const char *fn, tsr_array *a, int axis, bool flatten, int *ax,
                              tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  TSR_CHECK(sortable(a->expr->dtype), TSR_EDTYPE, "%s: the array's dtype %d is not valid", fn,
            (int)a->expr->dtype);
  *ax = -1;
  if (!flatten) {
    int ndim = a->expr->grid->ndim;
    TSR_CHECK(ndim > 0, TSR_EINVAL,
              "%s: axis %d is out of bounds for an array of 0 dimensions (use flatten)", fn, axis);
    TSR_TRY(tsr__normalize_axis(fn, axis, ndim, ax));
  }
  return TSR_OK;
}

/* The lane path: x rechunked so `axis` is one chunk. */
static tsr_status lanes(tsr__expr *x, int axis, const lane_params *p, tsr_array **out) {
  tsr_ctx *ctx = x->ctx;
  const tsr_chunk_grid *xg = x->grid;
  int ndim = xg->ndim;
  int64_t whole[2] = {0, xg->shape[axis]};
  tsr__grid_axis axes[TSR_MAX_NDIM + 1];
  for (int d = 0; d < ndim; d++)
    axes[d] = d == axis ? (tsr__grid_axis){NULL, 0, whole, 1} : (tsr__grid_axis){xg, d, NULL, 0};
  tsr_chunk_grid *g = NULL, *og = NULL;
  TSR_TRY(tsr__grid_from_axes(ctx, ndim, axes, &g));
  tsr__expr *r = NULL;
  tsr_status s = tsr__rechunk_expr(x, g, &r);
  tsr_chunk_grid_destroy(&g);
  TSR_TRY(s);
  tsr_dtype dtype;
  if (p->kind == ORD_SORT || p->kind == ORD_ARGSORT) {
    dtype = p->kind == ORD_SORT ? x->dtype : TSR_INT64;
    s = tsr__grid_copy(ctx, r->grid, &og);
  } else {
    dtype = TSR_FLOAT64;
    int n = 0;
    int64_t qext[2] = {0, p->nq};
    if (p->kind == ORD_QUANTILE && p->nq > 0)
      axes[n++] = (tsr__grid_axis){NULL, 0, qext, 1};
    for (int d = 0; d < ndim; d++)
      if (d != axis)
        axes[n++] = (tsr__grid_axis){r->grid, d, NULL, 0};
    s = tsr__grid_from_axes(ctx, n, axes, &og);
  }
  lane_params lp = *p;
  lp.axis = axis;
  if (lp.kind == ORD_QUANTILE && lp.nq == 0)
    lp.nq = 1;
  size_t bytes = lane_params_bytes(&lp);
  unsigned char buf[sizeof lp + 64 * sizeof(double)], *pb = buf;
  if (s == TSR_OK && bytes > sizeof buf)
    s = tsr_alloc(ctx, bytes, (void **)&pb);
  if (s == TSR_OK) {
    memcpy(pb, &lp, sizeof lp);
    if (lp.kind == ORD_QUANTILE)
      memcpy(pb + sizeof lp, lane_q(p), (size_t)lp.nq * sizeof(double));
    s = tsr__order_wrap(ctx, &op_lane, dtype, og, 1, &r, pb, bytes, out);
    og = NULL;
  }
  if (pb != buf)
    tsr_free(ctx, pb);
  tsr_chunk_grid_destroy(&og);
  tsr__expr_release(&r);
  return s;
}

/* The runs path over the flattened x. */
static tsr_status flat(tsr__expr *x, const lane_params *p, tsr_array **out) {
  tsr_ctx *ctx = x->ctx;
  tsr__expr *f = NULL;
  TSR_TRY(tsr__order_flat(x, TSR__RECHUNK_FAN_IN, &f));
  tsr_chunk_grid *og = NULL;
  tsr_dtype dtype;
  tsr_status s;
  int64_t nq = p->kind == ORD_QUANTILE ? (p->nq > 0 ? p->nq : 1) : 0;
  if (p->kind == ORD_SORT || p->kind == ORD_ARGSORT) {
    dtype = p->kind == ORD_SORT ? x->dtype : TSR_INT64;
    s = tsr__grid_copy(ctx, f->grid, &og);
  } else {
    dtype = TSR_FLOAT64;
    bool qaxis = p->kind == ORD_QUANTILE && p->nq > 0;
    s = tsr__order_one_chunk_grid(ctx, qaxis ? 1 : 0, &nq, &og);
  }
  flat_params fp = {p->kind, (int32_t)x->dtype, p->skipnan, 0, nq};
  size_t bytes = flat_params_bytes(&fp);
  unsigned char *pb = NULL;
  if (s == TSR_OK)
    s = tsr_alloc(ctx, bytes, (void **)&pb);
  if (s == TSR_OK) {
    memcpy(pb, &fp, sizeof fp);
    if (nq > 0 && p->kind == ORD_QUANTILE)
      memcpy(pb + sizeof fp, lane_q(p), (size_t)nq * sizeof(double));
    s = tsr__order_wrap(ctx, &op_flat, dtype, og, 1, &f, pb, bytes, out);
    og = NULL;
  }
  tsr_free(ctx, pb);
  tsr_chunk_grid_destroy(&og);
  tsr__expr_release(&f);
  return s;
}

static tsr_status order(const char *fn, int kind, tsr_array *a, int axis, bool flatten,
                        const double *q, int64_t nq, bool skipnan, tsr_array **out) {
  int ax;
  TSR_TRY(order_check(fn, a, axis, flatten, &ax, out));
  tsr__expr *x = a->expr;
  unsigned char buf[sizeof(lane_params) + 64 * sizeof(double)], *pb = buf;
  int64_t nvals = kind == ORD_QUANTILE ? (nq > 0 ? nq : 1) : 0;
  size_t bytes = sizeof(lane_params) + (size_t)nvals * sizeof(double);
  if (bytes > sizeof buf)
    TSR_TRY(tsr_alloc(x->ctx, bytes, (void **)&pb));
  lane_params lp = {kind, 0, (int32_t)x->dtype, skipnan, nq};
  memcpy(pb, &lp, sizeof lp);
  if (nvals)
    memcpy(pb + sizeof lp, q, (size_t)nvals * sizeof(double));
  tsr_status s;
  if (flatten || x->grid->ndim == 1)
    s = flat(x, (const lane_params *)pb, out);
  else
    s = lanes(x, ax, (const lane_params *)pb, out);
  if (pb != buf)
    tsr_free(x->ctx, pb);
  return s;
}

tsr_status tsr_sort(tsr_array *a, int axis, bool flatten, tsr_array **out) {
  return order("tsr_sort", ORD_SORT, a, axis, flatten, NULL, 0, false, out);
}

tsr_status tsr_argsort(tsr_array *a, int axis, bool flatten, tsr_array **out) {
  return order("tsr_argsort", ORD_ARGSORT, a, axis, flatten, NULL, 0, false, out);
}

static tsr_status quantile(const char *fn, double scale, tsr_array *a, const double *q, int64_t nq,
                           int axis, bool flatten, bool skipnan, tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(q != NULL, TSR_EINVAL, "%s: q is NULL", fn);
  TSR_CHECK(nq >= -1 && nq != 0, TSR_EINVAL,
            "%s: nq = %lld: give nq >= 1 values, or nq = -1 for one scalar q", fn, (long long)nq);
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  TSR_CHECK(a->expr->dtype != TSR_BOOL, TSR_EDTYPE,
            "%s: quantiles of a bool array are not supported (NumPy refuses them too)", fn);
  int64_t n = nq < 0 ? 1 : nq;
  double stack[64], *qq = stack;
  if (n > 64)
    TSR_TRY(tsr__alloc_array(a->expr->ctx, (size_t)n, sizeof *qq, "quantiles", (void **)&qq));
  tsr_status s = TSR_OK;
  for (int64_t i = 0; i < n && s == TSR_OK; i++) {
    if (!(q[i] >= 0 && q[i] <= scale))
      s = tsr_error_set(TSR_EINVAL, "%s: q[%lld] = %g is outside [0, %g]", fn, (long long)i, q[i],
                        scale);
    qq[i] = scale == 1 ? q[i] : q[i] / scale;
  }
  if (s == TSR_OK)
    s = order(fn, ORD_QUANTILE, a, axis, flatten, qq, nq < 0 ? 0 : nq, skipnan, out);
  if (qq != stack)
    tsr_free(a->expr->ctx, qq);
  return s;
}

tsr_status tsr_quantile(tsr_array *a, const double *q, int64_t nq, int axis, bool flatten,
                        tsr_array **out) {
  return quantile("tsr_quantile", 1, a, q, nq, axis, flatten, false, out);
}
tsr_status tsr_nanquantile(tsr_array *a, const double *q, int64_t nq, int axis, bool flatten,
                           tsr_array **out) {
  return quantile("tsr_nanquantile", 1, a, q, nq, axis, flatten, true, out);
}
tsr_status tsr_percentile(tsr_array *a, const double *q, int64_t nq, int axis, bool flatten,
                          tsr_array **out) {
  return quantile("tsr_percentile", 100, a, q, nq, axis, flatten, false, out);
}
tsr_status tsr_nanpercentile(tsr_array *a, const double *q, int64_t nq, int axis, bool flatten,
                             tsr_array **out) {
  return quantile("tsr_nanpercentile", 100, a, q, nq, axis, flatten, true, out);
}

static tsr_status median(const char *fn, tsr_array *a, int axis, bool flatten, bool skipnan,
                         tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  TSR_CHECK(a->expr->dtype != TSR_BOOL, TSR_EDTYPE,
            "%s: the median of a bool array is not supported", fn);
  return order(fn, ORD_MEDIAN, a, axis, flatten, NULL, 0, skipnan, out);
}

tsr_status tsr_median(tsr_array *a, int axis, bool flatten, tsr_array **out) {
  return median("tsr_median", a, axis, flatten, false, out);
}
tsr_status tsr_nanmedian(tsr_array *a, int axis, bool flatten, tsr_array **out) {
  return median("tsr_nanmedian", a, axis, flatten, true, out);
}
