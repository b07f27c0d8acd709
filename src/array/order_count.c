/* order_count.c — histogram, bincount, digitize, searchsorted, isin and
 * unique, lowered to tasks:
 *
 *  - histogram and bincount count per input chunk into a partial array of
 *    bins, then add the partials in a fixed tree of fan-in 8 over chunk
 *    numbers, so counts and weighted sums do not depend on the thread count.
 *    The number of bins must be known when the graph is built: bincount
 *    without an explicit length and histogram without a range first compute
 *    the input's extremes (one extra pass, like NumPy's own).
 *  - digitize, searchsorted and isin turn the (1-D) table into keys once
 *    (isin: sorted), in one task, and binary-search every chunk of the
 *    queried array against it in parallel.
 *  - unique sorts the flattened array (sort.c's parallel merge), computes it
 *    and scans it: its length is known only then, so it returns arrays over
 *    memory (a pipeline breaker, as tsr_array_persist).
 * Values are compared in their common dtype (NumPy's promotion), through
 * the order-preserving keys of sort_kernels.h. */
#include <string.h>

#include "sort_internal.h"
#include "sort_kernels.h"

/* ---- histogram and bincount --------------------------------------------- */

static void free_ctx_buffer(void *data, void *user) { tsr_free(user, data); }

enum { CNT_UNIFORM = 0, CNT_EDGES, CNT_BINCOUNT };

typedef struct count_params {
  int32_t kind;
  int32_t dtype;   /* the counted array's */
  int32_t wdtype;  /* the weights' (bincount) */
  int32_t weighted; /* partials are float64 sums instead of int64 counts */
  int32_t has_edges;
  int32_t pad;
  int64_t nbins;
  double lo, hi; /* uniform bins: the range */
} count_params;

static double uniform_edge(const count_params *p, int64_t i) {
  if (i == p->nbins)
    return p->hi;
  return (double)i * ((p->hi - p->lo) / (double)p->nbins) + p->lo; /* np.linspace */
}

static tsr_status count_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const count_params *p = call->params;
  tsr_dtype dt = (tsr_dtype)p->dtype;
  int64_t n = (int64_t)(call->input_bytes[0] / tsr_dtype_size(dt)), nb = p->nbins;
  int64_t *cnt = call->output;
  double *sum = call->output;
  if (nb > 0)
    memset(call->output, 0, (size_t)nb * 8);
  if (n == 0)
    return TSR_OK;
  double buf[512], wbuf[512];
  const double *edges = NULL;
  if (p->kind == CNT_EDGES) {
    edges = call->inputs[call->n_inputs - 1];
    for (int64_t i = 0; i < nb; i++)
      if (edges[i] > edges[i + 1])
        return tsr_error_set(TSR_EINVAL,
                             "histogram: bins must increase monotonically (edge %lld is %g, edge "
                             "%lld is %g)",
                             (long long)i, edges[i], (long long)i + 1, edges[i + 1]);
  }
  (void)ctx;
  size_t item = tsr_dtype_size(dt);
  for (int64_t b0 = 0; b0 < n; b0 += 512) {
    int64_t m = n - b0 < 512 ? n - b0 : 512;
    const unsigned char *src = (const unsigned char *)call->inputs[0] + (size_t)b0 * item;
    if (p->kind == CNT_BINCOUNT) {
      if (tsr_dtype_is_signed(dt) || dt == TSR_BOOL) {
        int64_t v[512];
        tsr__keys_from(dt, src, 1, m, true, (uint64_t *)v); /* flipped sign bit */
        for (int64_t i = 0; i < m; i++)
          v[i] = (int64_t)((uint64_t)v[i] ^ (dt == TSR_BOOL ? 0 : UINT64_C(1) << 63));
        if (p->weighted) {
          tsr__values_f64((tsr_dtype)p->wdtype,
                          (const unsigned char *)call->inputs[1] +
                              (size_t)b0 * tsr_dtype_size((tsr_dtype)p->wdtype),
                          1, m, wbuf);
          for (int64_t i = 0; i < m; i++)
            sum[v[i]] += wbuf[i];
        } else {
          for (int64_t i = 0; i < m; i++)
            cnt[v[i]]++;
        }
      } else {
        uint64_t v[512];
        tsr__keys_from(dt, src, 1, m, true, v);
        if (p->weighted) {
          tsr__values_f64((tsr_dtype)p->wdtype,
                          (const unsigned char *)call->inputs[1] +
                              (size_t)b0 * tsr_dtype_size((tsr_dtype)p->wdtype),
                          1, m, wbuf);
          for (int64_t i = 0; i < m; i++)
            sum[v[i]] += wbuf[i];
        } else {
          for (int64_t i = 0; i < m; i++)
            cnt[v[i]]++;
        }
      }
      continue;
    }
    tsr__values_f64(dt, src, 1, m, buf);
    if (p->kind == CNT_UNIFORM) {
      /* NumPy's histogram for equal bins: the index from the scaled value,
       * corrected by one against the edges within an ulp, the last bin
       * closed. */
      double lo = p->lo, hi = p->hi, denom = hi - lo;
      for (int64_t i = 0; i < m; i++) {
        double v = buf[i];
        if (!(v >= lo && v <= hi))
          continue;
        int64_t k = (int64_t)(((v - lo) / denom) * (double)nb);
        if (k == nb)
          k--;
        if (v < uniform_edge(p, k))
          k--;
        if (k != nb - 1 && v >= uniform_edge(p, k + 1))
          k++;
        cnt[k]++;
      }
    } else {
      for (int64_t i = 0; i < m; i++) {
        double v = buf[i];
        if (!(v >= edges[0] && v <= edges[nb]))
          continue;
        int64_t lo = 0, hi = nb + 1; /* upper bound of v in edges */
        while (lo < hi) {
          int64_t mid = lo + (hi - lo) / 2;
          if (edges[mid] <= v)
            lo = mid + 1;
          else
            hi = mid;
        }
        int64_t k = lo - 1;
        cnt[k < nb ? k : nb - 1]++;
      }
    }
  }
  return TSR_OK;
}

static tsr_status count_sum_kernel(const tsr_kernel_call *call) {
  const count_params *p = call->params;
  int64_t nb = p->nbins;
  if (nb == 0)
    return TSR_OK;
  memcpy(call->output, call->inputs[0], (size_t)nb * 8);
  for (uint32_t j = 1; j < call->n_inputs; j++) {
    if (p->weighted) {
      double *o = call->output;
      const double *x = call->inputs[j];
      for (int64_t i = 0; i < nb; i++)
        o[i] += x[i];
    } else {
      int64_t *o = call->output;
      const int64_t *x = call->inputs[j];
      for (int64_t i = 0; i < nb; i++)
        o[i] += x[i];
    }
  }
  return TSR_OK;
}

static tsr_status lower_count(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                              uint32_t *out) {
  const count_params *p = e->params;
  int64_t n = tsr_chunk_grid_nchunks(e->inputs[0]->grid);
  uint32_t kc, ks;
  TSR_TRY(tsr_taskgraph_add_kernel(g, p->kind == CNT_BINCOUNT ? "bincount" : "histogram",
                                   count_kernel, e->ctx, &kc));
  TSR_TRY(tsr_taskgraph_add_kernel(g, "count-sum", count_sum_kernel, e->ctx, &ks));
  uint32_t *ids = NULL;
  TSR_TRY(tsr__alloc_array(e->ctx, (size_t)n, sizeof *ids, "count tasks", (void **)&ids));
  tsr_status s = TSR_OK;
  size_t bytes = (size_t)p->nbins * 8;
  for (int64_t c = 0; c < n && s == TSR_OK; c++) {
    uint32_t ins[3], ni = 0;
    ins[ni++] = in[0][c];
    if (p->weighted)
      ins[ni++] = in[1][c];
    if (p->has_edges)
      ins[ni++] = in[e->n_inputs - 1][0];
    s = tsr_taskgraph_add_task(g, kc, ins, ni, p, sizeof *p, bytes, &ids[c]);
  }
  /* A fixed tree of fan-in 8 over chunk numbers. */
  while (s == TSR_OK && n > 1) {
    int64_t m = (n + 7) / 8;
    for (int64_t j = 0; j < m && s == TSR_OK; j++) {
      uint32_t k = (uint32_t)(n - 8 * j < 8 ? n - 8 * j : 8), id;
      s = tsr_taskgraph_add_task(g, ks, &ids[8 * j], k, p, sizeof *p, bytes, &id);
      ids[j] = id;
    }
    n = m;
  }
  if (s == TSR_OK)
    out[0] = ids[0];
  tsr_free(e->ctx, ids);
  return s;
}

static void hash_count(const tsr__expr *e, tsr__hash *h) {
  tsr__hash_bytes(h, e->params, sizeof(count_params));
}

static const tsr__op op_count = {"order-count", lower_count, NULL, false, NULL, hash_count};

static tsr_status count_node(tsr__expr *x, tsr__expr *w, tsr__expr *edges, const count_params *p,
                             tsr_array **out) {
  tsr_chunk_grid *g = NULL;
  TSR_TRY(tsr__order_one_chunk_grid(x->ctx, 1, &p->nbins, &g));
  tsr__expr *in[3];
  uint32_t n = 0;
  in[n++] = x;
  if (w)
    in[n++] = w;
  if (edges)
    in[n++] = edges;
  return tsr__order_wrap(x->ctx, &op_count, p->weighted ? TSR_FLOAT64 : TSR_INT64, g, n, in, p,
                         sizeof *p, out);
}

/* The minimum and maximum of a (computed now) as doubles, or as int64 /
 * uint64 bits for integer arrays (ints). */
static tsr_status extremes(tsr_array *a, bool ints, void *lo, void *hi) {
  tsr_array *cast = NULL, *mn = NULL, *mx = NULL;
  tsr_dtype t = tsr_array_dtype(a);
  tsr_dtype want = !ints                       ? TSR_FLOAT64
                   : tsr_dtype_is_signed(t) || t == TSR_BOOL ? TSR_INT64
                                                           : TSR_UINT64;
  tsr_status s = tsr_astype(a, want, &cast);
  if (s == TSR_OK)
    s = tsr_reduce(TSR_REDUCE_MIN, cast, NULL, 0, NULL, &mn);
  if (s == TSR_OK)
    s = tsr_reduce(TSR_REDUCE_MAX, cast, NULL, 0, NULL, &mx);
  if (s == TSR_OK)
    s = tsr_array_to_buffers(2, (tsr_array *[]){mn, mx}, (void *[]){lo, hi},
                             (size_t[]){8, 8});
  tsr_array_destroy(&cast);
  tsr_array_destroy(&mn);
  tsr_array_destroy(&mx);
  return s;
}

tsr_status tsr_histogram(tsr_array *a, int64_t bins, const double *range, tsr_array **counts,
                         tsr_array **edges) {
  static const char fn[] = "tsr_histogram";
  TSR_CHECK(counts != NULL, TSR_EINVAL, "%s: counts is NULL", fn);
  *counts = NULL;
  if (edges)
    *edges = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  TSR_CHECK(tsr_dtype_valid(a->expr->dtype), TSR_EDTYPE, "%s: a's dtype is not valid", fn);
  TSR_CHECK(bins > 0, TSR_EINVAL, "%s: bins = %lld must be positive", fn, (long long)bins);
  TSR_CHECK(bins < (INT64_C(1) << 40), TSR_EINVAL, "%s: bins = %lld is too large", fn,
            (long long)bins);
  double lo, hi;
  if (range != NULL) {
    lo = range[0];
    hi = range[1];
    TSR_CHECK(lo <= hi, TSR_EINVAL,
              "%s: range = (%g, %g): max must be larger than min in range", fn, lo, hi);
    TSR_CHECK(isfinite(lo) && isfinite(hi), TSR_EINVAL, "%s: range = (%g, %g) is not finite", fn,
              lo, hi);
  } else if (tsr_array_size(a) == 0) {
    lo = 0;
    hi = 1;
  } else {
    TSR_TRY(extremes(a, false, &lo, &hi));
    TSR_CHECK(isfinite(lo) && isfinite(hi), TSR_EINVAL,
              "%s: autodetected range of [%g, %g] is not finite (give range)", fn, lo, hi);
  }
  if (lo == hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  count_params p = {CNT_UNIFORM, (int32_t)a->expr->dtype, 0, 0, 0, 0, bins, lo, hi};
  tsr_ctx *ctx = a->expr->ctx;
  if (edges) {
    double *e = NULL;
    TSR_TRY(tsr__alloc_array(ctx, (size_t)bins + 1, sizeof *e, "histogram edges", (void **)&e));
    for (int64_t i = 0; i <= bins; i++)
      e[i] = uniform_edge(&p, i);
    int64_t ne = bins + 1;
    TSR_TRY(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &ne, NULL, e, TSR_BUFFER_ADOPT,
                                  free_ctx_buffer, ctx, edges));
  }
  tsr_status s = count_node(a->expr, NULL, NULL, &p, counts);
  if (s != TSR_OK && edges)
    tsr_array_destroy(edges);
  return s;
}

tsr_status tsr_histogram_edges(tsr_array *a, tsr_array *edges, tsr_array **counts) {
  static const char fn[] = "tsr_histogram_edges";
  TSR_CHECK(counts != NULL, TSR_EINVAL, "%s: counts is NULL", fn);
  *counts = NULL;
  TSR_CHECK(a != NULL && edges != NULL, TSR_EINVAL, "%s: a and edges must not be NULL", fn);
  TSR_CHECK(a->expr->ctx == edges->expr->ctx, TSR_EINVAL,
            "%s: a and edges belong to different contexts", fn);
  TSR_CHECK(tsr_dtype_valid(a->expr->dtype), TSR_EDTYPE, "%s: a's dtype is not valid", fn);
  TSR_CHECK(edges->expr->grid->ndim == 1, TSR_EINVAL,
            "%s: edges must be 1-D (it has %d dimensions)", fn, edges->expr->grid->ndim);
  int64_t ne = edges->expr->grid->shape[0];
  TSR_CHECK(ne >= 1, TSR_EINVAL, "%s: edges is empty: give at least one edge", fn);
  tsr_array *e64 = NULL, *one = NULL;
  tsr_chunk_grid *g = NULL;
  TSR_TRY(tsr_astype(edges, TSR_FLOAT64, &e64));
  tsr_status s = tsr__order_one_chunk_grid(a->expr->ctx, 1, &ne, &g);
  if (s == TSR_OK)
    s = tsr_rechunk_grid(e64, g, &one);
  tsr_chunk_grid_destroy(&g);
  count_params p = {CNT_EDGES, (int32_t)a->expr->dtype, 0, 0, 1, 0, ne - 1, 0, 0};
  if (s == TSR_OK)
    s = count_node(a->expr, NULL, one->expr, &p, counts);
  tsr_array_destroy(&e64);
  tsr_array_destroy(&one);
  return s;
}

tsr_status tsr_bincount(tsr_array *x, tsr_array *weights, int64_t minlength, tsr_array **out) {
  static const char fn[] = "tsr_bincount";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(x != NULL, TSR_EINVAL, "%s: x is NULL", fn);
  tsr_dtype t = x->expr->dtype;
  TSR_CHECK(tsr_dtype_is_integer(t) || t == TSR_BOOL, TSR_EDTYPE,
            "%s: x has dtype %s: it must hold non-negative integers", fn, tsr_dtype_name(t));
  TSR_CHECK(x->expr->grid->ndim == 1, TSR_EINVAL, "%s: x must be 1-D (it has %d dimensions)", fn,
            x->expr->grid->ndim);
  TSR_CHECK(minlength >= 0, TSR_EINVAL, "%s: minlength = %lld must be non-negative", fn,
            (long long)minlength);
  tsr_array *w = NULL;
  tsr_status s = TSR_OK;
  if (weights != NULL) {
    TSR_CHECK(weights->expr->ctx == x->expr->ctx, TSR_EINVAL,
              "%s: weights belong to another context than x", fn);
    TSR_CHECK(weights->expr->grid->ndim == 1 &&
                  weights->expr->grid->shape[0] == x->expr->grid->shape[0],
              TSR_ESHAPE, "%s: weights have %lld elements but x has %lld (they must be alike)", fn,
              (long long)tsr_array_size(weights), (long long)x->expr->grid->shape[0]);
    TSR_TRY(tsr_rechunk_grid(weights, x->expr->grid, &w));
  }
  int64_t n = 0;
  if (tsr_array_size(x) > 0) {
    int64_t lo, hi;
    s = extremes(x, true, &lo, &hi);
    if (s == TSR_OK && (tsr_dtype_is_signed(t) && lo < 0))
      s = tsr_error_set(TSR_EINVAL, "%s: x holds a negative value (%lld)", fn, (long long)lo);
    if (s == TSR_OK && (uint64_t)hi >= (UINT64_C(1) << 40))
      s = tsr_error_set(TSR_EINVAL, "%s: x holds %llu: too many bins", fn,
                        (unsigned long long)hi);
    n = hi + 1;
  }
  if (n < minlength)
    n = minlength;
  count_params p = {CNT_BINCOUNT, (int32_t)t, w ? (int32_t)w->expr->dtype : 0, w != NULL, 0, 0, n,
                    0, 0};
  if (s == TSR_OK)
    s = count_node(x->expr, w ? w->expr : NULL, NULL, &p, out);
  tsr_array_destroy(&w);
  return s;
}

/* ---- digitize, searchsorted, isin --------------------------------------- */

enum { PR_SEARCH_LEFT = 0, PR_SEARCH_RIGHT, PR_ISIN, PR_DIGITIZE };

typedef struct probe_params {
  int32_t kind;
  int32_t dtype;  /* common dtype of both inputs */
  int32_t flag;   /* isin: invert; digitize: right */
  int32_t pad;
} probe_params;

/* The table as keys: output = [decreasing flag][m keys]. */
static tsr_status table_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const probe_params *p = call->params;
  tsr_dtype dt = (tsr_dtype)p->dtype;
  int64_t m = (int64_t)(call->input_bytes[0] / tsr_dtype_size(dt));
  uint64_t *o = call->output, *keys = o + 1;
  o[0] = 0;
  if (m == 0)
    return TSR_OK;
  tsr__keys_from(dt, call->inputs[0], 1, m, true, keys);
  if (p->kind == PR_ISIN) {
    uint64_t *tmp = NULL;
    TSR_TRY(tsr__alloc_array(ctx, (size_t)m, 8, "isin scratch", (void **)&tmp));
    tsr__order_sort_u64_scratch(keys, m, tmp);
    tsr_free(ctx, tmp);
  } else if (p->kind == PR_DIGITIZE) {
    /* NumPy's _monotonicity: the first unequal pair decides the direction,
     * every other pair must agree. */
    int dir = 0;
    for (int64_t i = 0; i + 1 < m; i++) {
      int d = keys[i] < keys[i + 1] ? 1 : keys[i] > keys[i + 1] ? -1 : 0;
      if (d != 0 && dir != 0 && d != dir)
        return tsr_error_set(TSR_EINVAL,
                             "digitize: bins must be monotonically increasing or decreasing "
                             "(bins[%lld] breaks the order)",
                             (long long)i + 1);
      if (d != 0)
        dir = d;
    }
    if (dir < 0) {
      o[0] = 1;
      for (int64_t i = 0, j = m - 1; i < j; i++, j--) {
        uint64_t t = keys[i];
        keys[i] = keys[j];
        keys[j] = t;
      }
    }
  }
  return TSR_OK;
}

static inline int64_t bound(const uint64_t *a, int64_t n, uint64_t v, bool right) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (right ? a[mid] <= v : a[mid] < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static tsr_status probe_kernel(const tsr_kernel_call *call) {
  const probe_params *p = call->params;
  tsr_dtype dt = (tsr_dtype)p->dtype;
  size_t item = tsr_dtype_size(dt);
  int64_t n = (int64_t)(call->input_bytes[0] / item);
  const uint64_t *tab = call->inputs[1], *keys = tab + 1;
  int64_t m = (int64_t)(call->input_bytes[1] / 8) - 1;
  bool dec = tab[0] != 0, isf = tsr_dtype_is_float(dt);
  uint64_t k[512];
  for (int64_t b0 = 0; b0 < n; b0 += 512) {
    int64_t c = n - b0 < 512 ? n - b0 : 512;
    tsr__keys_from(dt, (const unsigned char *)call->inputs[0] + (size_t)b0 * item, 1, c, true, k);
    if (p->kind == PR_ISIN) {
      bool *o = (bool *)call->output + b0;
      for (int64_t i = 0; i < c; i++) {
        int64_t at = bound(keys, m, k[i], false);
        bool found = at < m && keys[at] == k[i] && !(isf && k[i] == TSR__KEY_NAN);
        o[i] = found != (p->flag != 0);
      }
    } else {
      int64_t *o = (int64_t *)call->output + b0;
      /* digitize: NumPy's searchsorted side "left" if right else "right",
       * on the bins reversed when they decrease. */
      bool right = p->kind == PR_SEARCH_RIGHT || (p->kind == PR_DIGITIZE && !p->flag);
      for (int64_t i = 0; i < c; i++) {
        int64_t at = bound(keys, m, k[i], right);
        o[i] = p->kind == PR_DIGITIZE && dec ? m - at : at;
      }
    }
  }
  return TSR_OK;
}

static tsr_status lower_probe(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                              uint32_t *out) {
  const probe_params *p = e->params;
  const tsr__expr *t = e->inputs[1];
  static const char *names[] = {"searchsorted", "searchsorted", "isin", "digitize"};
  uint32_t kt, kp, table;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "order-table", table_kernel, e->ctx, &kt));
  TSR_TRY(tsr_taskgraph_add_kernel(g, names[p->kind], probe_kernel, e->ctx, &kp));
  TSR_TRY(tsr_taskgraph_add_task(g, kt, &in[1][0], 1, p, sizeof *p,
                                 (size_t)(t->grid->shape[0] + 1) * 8, &table));
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  size_t item = tsr_dtype_size(e->dtype);
  for (int64_t c = 0; c < n; c++) {
    int64_t sz = 1;
    int64_t coords[TSR_MAX_NDIM];
    TSR_TRY(tsr_chunk_grid_coords(e->grid, c, coords));
    for (int d = 0; d < e->grid->ndim; d++)
      sz *= tsr__grid_extent(e->grid, d, coords[d]);
    uint32_t ins[2] = {in[0][c], table};
    TSR_TRY(tsr_taskgraph_add_task(g, kp, ins, 2, p, sizeof *p, (size_t)sz * item, &out[c]));
  }
  return TSR_OK;
}

static void hash_probe(const tsr__expr *e, tsr__hash *h) {
  tsr__hash_bytes(h, e->params, sizeof(probe_params));
}

static const tsr__op op_probe = {"order-probe", lower_probe, NULL, false, NULL, hash_probe};

/* x probed against the 1-D table t (both cast to their common dtype; t in
 * one chunk). */
static tsr_status probe(const char *fn, int kind, int flag, tsr_array *x, tsr_array *t,
                        bool flatten_t, tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(x != NULL && t != NULL, TSR_EINVAL, "%s: an array argument is NULL", fn);
  TSR_CHECK(x->expr->ctx == t->expr->ctx, TSR_EINVAL, "%s: the arrays belong to different contexts",
            fn);
  tsr_dtype common;
  TSR_TRY(tsr_dtype_promote(x->expr->dtype, t->expr->dtype, &common));
  tsr_ctx *ctx = x->expr->ctx;
  tsr_array *xc = NULL, *tc = NULL, *tf = NULL, *t1 = NULL;
  tsr_chunk_grid *g = NULL;
  tsr_status s = tsr_astype(x, common, &xc);
  if (s == TSR_OK)
    s = tsr_astype(t, common, &tc);
  if (s == TSR_OK) {
    if (flatten_t) {
      s = tsr_reshape(tc, 1, (int64_t[]){-1}, &tf);
    } else {
      tf = tc;
      tc = NULL;
    }
  }
  int64_t m = s == TSR_OK ? tsr_array_shape(tf)[0] : 0;
  if (s == TSR_OK)
    s = tsr__order_one_chunk_grid(ctx, 1, &m, &g);
  if (s == TSR_OK)
    s = tsr_rechunk_grid(tf, g, &t1);
  tsr_chunk_grid_destroy(&g);
  if (s == TSR_OK)
    s = tsr__grid_copy(ctx, xc->expr->grid, &g);
  if (s == TSR_OK) {
    probe_params p = {kind, (int32_t)common, flag, 0};
    tsr__expr *in[2] = {xc->expr, t1->expr};
    s = tsr__order_wrap(ctx, &op_probe, kind == PR_ISIN ? TSR_BOOL : TSR_INT64, g, 2, in, &p,
                        sizeof p, out);
  }
  tsr_array_destroy(&xc);
  tsr_array_destroy(&tc);
  tsr_array_destroy(&tf);
  tsr_array_destroy(&t1);
  return s;
}

tsr_status tsr_searchsorted(tsr_array *a, tsr_array *v, bool right, tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_searchsorted: out is NULL");
  *out = NULL;
  TSR_CHECK(a != NULL && v != NULL, TSR_EINVAL, "tsr_searchsorted: a and v must not be NULL");
  TSR_CHECK(a->expr->grid->ndim == 1, TSR_EINVAL,
            "tsr_searchsorted: a must be a sorted 1-D array (it has %d dimensions)",
            a->expr->grid->ndim);
  return probe("tsr_searchsorted", right ? PR_SEARCH_RIGHT : PR_SEARCH_LEFT, 0, v, a, false, out);
}

tsr_status tsr_digitize(tsr_array *x, tsr_array *bins, bool right, tsr_array **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_digitize: out is NULL");
  *out = NULL;
  TSR_CHECK(x != NULL && bins != NULL, TSR_EINVAL, "tsr_digitize: x and bins must not be NULL");
  TSR_CHECK(bins->expr->grid->ndim == 1, TSR_EINVAL,
            "tsr_digitize: bins must be 1-D (it has %d dimensions)", bins->expr->grid->ndim);
  return probe("tsr_digitize", PR_DIGITIZE, right, x, bins, false, out);
}

tsr_status tsr_isin(tsr_array *element, tsr_array *test_elements, bool invert, tsr_array **out) {
  return probe("tsr_isin", PR_ISIN, invert, element, test_elements, true, out);
}

/* ---- unique -------------------------------------------------------------- */

tsr_status tsr_unique(tsr_array *a, tsr_array **values, tsr_array **counts) {
  static const char fn[] = "tsr_unique";
  TSR_CHECK(values != NULL, TSR_EINVAL, "%s: values is NULL", fn);
  *values = NULL;
  if (counts)
    *counts = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  tsr_ctx *ctx = a->expr->ctx;
  tsr_dtype t = a->expr->dtype;
  size_t item = tsr_dtype_size(t);
  int64_t n = tsr_array_size(a);
  tsr_array *sorted = NULL;
  unsigned char *buf = NULL;
  int64_t *cnt = NULL;
  TSR_TRY(tsr_sort(a, 0, true, &sorted));
  tsr_status s = tsr__alloc_array(ctx, (size_t)(n > 0 ? n : 1), item, "unique", (void **)&buf);
  if (s == TSR_OK && counts)
    s = tsr__alloc_array(ctx, (size_t)(n > 0 ? n : 1), 8, "unique counts", (void **)&cnt);
  if (s == TSR_OK)
    s = tsr_array_to_buffer(sorted, buf, (size_t)n * item);
  tsr_array_destroy(&sorted);
  int64_t u = 0;
  if (s == TSR_OK && n > 0) {
    /* Equal neighbours in NumPy's sense: -0.0 == 0.0, and every NaN equal
     * to every other (equal_nan); the first of each run is kept. */
    uint64_t prev = 0, k;
    for (int64_t i = 0; i < n; i++) {
      tsr__keys_from(t, buf + (size_t)i * item, 1, 1, true, &k);
      if (i == 0 || k != prev) {
        if (u != i)
          memmove(buf + (size_t)u * item, buf + (size_t)i * item, item);
        if (cnt)
          cnt[u] = 0;
        u++;
        prev = k;
      }
      if (cnt)
        cnt[u - 1]++;
    }
  }
  if (s == TSR_OK)
    s = tsr_array_from_buffer(ctx, t, 1, &u, NULL, buf, TSR_BUFFER_ADOPT, free_ctx_buffer, ctx,
                              values);
  else
    tsr_free(ctx, buf);
  if (s == TSR_OK && counts) {
    s = tsr_array_from_buffer(ctx, TSR_INT64, 1, &u, NULL, cnt, TSR_BUFFER_ADOPT, free_ctx_buffer,
                              ctx, counts);
    if (s != TSR_OK)
      tsr_array_destroy(values);
  } else if (cnt) {
    tsr_free(ctx, cnt);
  }
  return s;
}
