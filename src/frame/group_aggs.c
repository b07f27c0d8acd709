/* group_aggs.c — the decomposable aggregates of a group-by (docs/frames.md,
 * "Group-by"): partial states per local group of one chunk, merged into
 * states per global group chunk by chunk in chunk order, then finished into
 * result columns.
 *
 * States live column-wise, indexed by group id; every loop is over one
 * column of one type (no per-row dispatch).  Integer sums are exact (int64
 * accumulators for types of at most 32 bits within a chunk, 128-bit
 * otherwise and when merged; TSR_EOVERFLOW when the result does not fit
 * int64, or uint64 for unsigned columns).  Float sums are float64, added in
 * row order within a chunk and merged in chunk order, so they do not
 * depend on the thread count.  var/std and corr/covariances are two-pass
 * within a chunk (means, then squared deviations and co-moments) and merged
 * by Chan et al.'s formulas.  min/max of floats order NaN above every
 * number; strings compare by their bytes.  first/last keep the first/last
 * row's value, null or not. */
#include <math.h>
#include <string.h>

#include "groupby_impl.h"

void gb_state_free(tsr_ctx *ctx, gb_state *s) {
  gb_state_free_arrays(ctx, s);
  tsr_free(ctx, s->row);
  tsr_free(ctx, s->src_chunk);
  tsr_free(ctx, s->src_local);
  gb_col_free(ctx, &s->vals);
  memset(s, 0, sizeof *s);
}

#define FOR_NUM_TYPES(X)      \
  X(TSR_COL_BOOL, uint8_t)    \
  X(TSR_COL_INT8, int8_t)     \
  X(TSR_COL_INT16, int16_t)   \
  X(TSR_COL_INT32, int32_t)   \
  X(TSR_COL_INT64, int64_t)   \
  X(TSR_COL_UINT8, uint8_t)   \
  X(TSR_COL_UINT16, uint16_t) \
  X(TSR_COL_UINT32, uint32_t) \
  X(TSR_COL_UINT64, uint64_t) \
  X(TSR_COL_FLOAT32, float)   \
  X(TSR_COL_FLOAT64, double)  \
  X(TSR_COL_DICT, int32_t)    \
  X(TSR_COL_DATE, int32_t)    \
  X(TSR_COL_TIMESTAMP, int64_t)

static inline bool valid_at(const uint8_t *bits, int64_t i) {
  return bits == NULL || tsr__bit_get(bits, i);
}

/* min/max of floats with NaN above every number. */
static inline bool f_less(double a, double b) { return b != b ? a == a : a < b; }

static tsr_status alloc0(tsr_ctx *ctx, int64_t n, size_t size, void **out) {
  return tsr_calloc(ctx, (size_t)n + 1, size, out);
}

/* The loops below run over a run's chunks one after the other, each
 * chunk read where it is: CHUNK(X, r, T) names chunk r's values v (of
 * type T), validity bits, rows m, and its rows' local groups id. */
#define CHUNK(X, r, T)                      \
  const T *v = (X)->c[r].values;            \
  const uint8_t *bits = (X)->c[r].validity; \
  const int64_t m = (X)->c[r].rows;         \
  const int32_t *id = ids + (X)->off[r];    \
  (void)v, (void)bits, (void)m, (void)id

/* The run's values as doubles (0 at nulls). */
static void to_f64(const gb_run *x, tsr_type t, double *out) {
  for (int64_t r = 0; r < x->n; r++) {
    const tsr__colread *c = &x->c[r];
    double *o = out + x->off[r];
    int64_t m = c->rows;
    switch (t.id) {
#define TF(ID, T)                   \
  case ID: {                        \
    const T *v = c->values;         \
    for (int64_t i = 0; i < m; i++) \
      o[i] = (double)v[i];          \
    break;                          \
  }
      FOR_NUM_TYPES(TF)
#undef TF
    default:
      memset(o, 0, (size_t)m * sizeof *o);
      break;
    }
    if (c->validity != NULL)
      for (int64_t i = 0; i < m; i++)
        o[i] = tsr__bit_get(c->validity, i) ? o[i] : 0.0;
  }
}

/* count[g] = gcount[g] minus the group's nulls in x. */
static void counts_from(const gb_run *x, const int32_t *ids, const int64_t *gcount, int64_t n,
                        int64_t *count) {
  memcpy(count, gcount, (size_t)n * sizeof *count);
  for (int64_t r = 0; r < x->n; r++) {
    CHUNK(x, r, void);
    if (bits != NULL)
      for (int64_t i = 0; i < m; i++)
        count[id[i]] -= !tsr__bit_get(bits, i);
  }
}

static bool narrow(tsr_type t) { return tsr_type_width(t) <= 4; }

/* Whether every sum of the run's 64-bit integers fits int64: every
 * magnitude is below 2^b, where b is the bit length of the OR of the
 * values' magnitudes (~v for negative v: |v| - 1), and 2^b times the rows
 * stays within 2^62 (nulls, read as what their slots hold, only make the
 * bound larger).  An OR, unlike a minimum, runs several rows at once. */
static bool small_sums(const gb_run *x, tsr_type t, int64_t rows) {
  uint64_t acc = 0;
  for (int64_t r = 0; r < x->n; r++) {
    int64_t m = x->c[r].rows;
    if (t.id == TSR_COL_INT64) {
      const int64_t *v = x->c[r].values;
      for (int64_t i = 0; i < m; i++)
        acc |= (uint64_t)(v[i] ^ (v[i] >> 63));
    } else {
      const uint64_t *v = x->c[r].values;
      for (int64_t i = 0; i < m; i++)
        acc |= v[i];
    }
  }
  int b = acc == 0 ? 0 : 64 - __builtin_clzll(acc);
  return b <= 62 && (uint64_t)rows <= (UINT64_C(1) << 62) >> b;
}

static tsr_status chunk_sum(tsr_ctx *ctx, const gb_agg *a, const gb_run *x, int64_t rows,
                            const int32_t *ids, int64_t n, gb_state *s) {
  if (a->kind == GB_K_FLOAT) {
    TSR_TRY(alloc0(ctx, n, sizeof *s->fsum, (void **)&s->fsum));
    double *sum = s->fsum;
    for (int64_t r = 0; r < x->n; r++)
      switch (a->in_type.id) {
#define SF(ID, T)                     \
  case ID: {                          \
    CHUNK(x, r, T);                   \
    if (bits == NULL)                 \
      for (int64_t i = 0; i < m; i++) \
        sum[id[i]] += (double)v[i];   \
    else                              \
      for (int64_t i = 0; i < m; i++) \
        if (tsr__bit_get(bits, i))    \
          sum[id[i]] += (double)v[i]; \
    break;                            \
  }
        SF(TSR_COL_FLOAT32, float)
        SF(TSR_COL_FLOAT64, double)
#undef SF
      default:
        break;
      }
    return TSR_OK;
  }
  /* int64 accumulators: narrow types, or 64-bit ones whose sums cannot
   * overflow them */
  if (narrow(a->in_type) || small_sums(x, a->in_type, rows)) {
    TSR_TRY(alloc0(ctx, n, sizeof *s->isum, (void **)&s->isum));
    int64_t *sum = s->isum;
    for (int64_t r = 0; r < x->n; r++)
      switch (a->in_type.id) {
#define SI(ID, T)                      \
  case ID: {                           \
    CHUNK(x, r, T);                    \
    if (bits == NULL)                  \
      for (int64_t i = 0; i < m; i++)  \
        sum[id[i]] += (int64_t)v[i];   \
    else                               \
      for (int64_t i = 0; i < m; i++)  \
        if (tsr__bit_get(bits, i))     \
          sum[id[i]] += (int64_t)v[i]; \
    break;                             \
  }
        SI(TSR_COL_BOOL, uint8_t)
        SI(TSR_COL_INT8, int8_t)
        SI(TSR_COL_INT16, int16_t)
        SI(TSR_COL_INT32, int32_t)
        SI(TSR_COL_UINT8, uint8_t)
        SI(TSR_COL_UINT16, uint16_t)
        SI(TSR_COL_UINT32, uint32_t)
        SI(TSR_COL_INT64, int64_t)
        SI(TSR_COL_UINT64, uint64_t)
#undef SI
      default:
        break;
      }
    return TSR_OK;
  }
  TSR_TRY(alloc0(ctx, n, sizeof *s->wsum, (void **)&s->wsum));
  gb_i128 *sum = s->wsum;
  for (int64_t r = 0; r < x->n; r++)
    switch (a->in_type.id) {
#define SW(ID, T)                    \
  case ID: {                         \
    CHUNK(x, r, T);                  \
    for (int64_t i = 0; i < m; i++)  \
      if (valid_at(bits, i))         \
        sum[id[i]] += (gb_i128)v[i]; \
    break;                           \
  }
      SW(TSR_COL_INT64, int64_t)
      SW(TSR_COL_UINT64, uint64_t)
#undef SW
    default:
      break;
    }
  return TSR_OK;
}

/* min/max of strings: the row of each group's least (greatest) value so
 * far and the chunk that holds it, then those rows' values. */
static tsr_status chunk_minmax_str(tsr_ctx *ctx, const gb_agg *a, const gb_run *x,
                                   const int32_t *ids, int64_t n, gb_state *s) {
  bool mn = a->op == TSR_AGG_MIN;
  uint8_t *rc = NULL;
  TSR_TRY(alloc0(ctx, n, sizeof *s->row, (void **)&s->row));
  TSR_TRY(alloc0(ctx, n, sizeof *rc, (void **)&rc));
  memset(s->row, 0xff, (size_t)n * sizeof *s->row);
  for (int64_t r = 0; r < x->n; r++) {
    CHUNK(x, r, tsr_string_view);
    int64_t o = x->off[r];
    for (int64_t i = 0; i < m; i++) {
      if (!valid_at(bits, i))
        continue;
      int32_t g = id[i], cur = s->row[g];
      if (cur < 0) {
        s->row[g] = (int32_t)(o + i);
        rc[g] = (uint8_t)r;
        continue;
      }
      const tsr__colread *cc = &x->c[rc[g]];
      const tsr_string_view *q = (const tsr_string_view *)cc->values + (cur - x->off[rc[g]]);
      const char *pp = tsr_string_view_data(&v[i], x->c[r].data);
      const char *qq = tsr_string_view_data(q, cc->data);
      uint32_t lp = v[i].length, lq = q->length;
      int c = memcmp(pp, qq, lp < lq ? lp : lq);
      if (c == 0)
        c = lp < lq ? -1 : lp > lq;
      if (mn ? c < 0 : c > 0) {
        s->row[g] = (int32_t)(o + i);
        rc[g] = (uint8_t)r;
      }
    }
  }
  tsr_status st = gb_col_gather(ctx, x, a->in_type, s->row, rc, n, &s->vals);
  tsr_free(ctx, rc);
  return st;
}

static tsr_status chunk_minmax(tsr_ctx *ctx, const gb_agg *a, const gb_run *x, const int32_t *ids,
                               int64_t n, gb_state *s) {
  bool mn = a->op == TSR_AGG_MIN;
  if (a->in_type.id == TSR_COL_STRING)
    return chunk_minmax_str(ctx, a, x, ids, n, s);
  if (a->kind == GB_K_FLOAT) {
    TSR_TRY(alloc0(ctx, n, sizeof *s->fmin, (void **)&s->fmin));
    double *mm = s->fmin;
    double init = mn ? NAN : -INFINITY;
    for (int64_t g = 0; g < n; g++)
      mm[g] = init;
    for (int64_t r = 0; r < x->n; r++)
      switch (a->in_type.id) {
#define MF(ID, T)                                 \
  case ID: {                                      \
    CHUNK(x, r, T);                               \
    for (int64_t i = 0; i < m; i++) {             \
      if (!valid_at(bits, i))                     \
        continue;                                 \
      double d = (double)v[i];                    \
      double *cur = &mm[id[i]];                   \
      if (mn ? f_less(d, *cur) : f_less(*cur, d)) \
        *cur = d;                                 \
    }                                             \
    break;                                        \
  }
        MF(TSR_COL_FLOAT32, float)
        MF(TSR_COL_FLOAT64, double)
#undef MF
      default:
        break;
      }
    return TSR_OK;
  }
  TSR_TRY(alloc0(ctx, n, sizeof *s->imin, (void **)&s->imin));
  int64_t *mm = s->imin;
  if (a->kind == GB_K_UINT) {
    uint64_t init = mn ? UINT64_MAX : 0;
    for (int64_t g = 0; g < n; g++)
      mm[g] = (int64_t)init;
    for (int64_t r = 0; r < x->n; r++)
      switch (a->in_type.id) {
#define MU(ID, T)                                             \
  case ID: {                                                  \
    CHUNK(x, r, T);                                           \
    for (int64_t i = 0; i < m; i++) {                         \
      if (!valid_at(bits, i))                                 \
        continue;                                             \
      uint64_t u = (uint64_t)v[i], cur = (uint64_t)mm[id[i]]; \
      if (mn ? u < cur : u > cur)                             \
        mm[id[i]] = (int64_t)u;                               \
    }                                                         \
    break;                                                    \
  }
        MU(TSR_COL_UINT8, uint8_t)
        MU(TSR_COL_UINT16, uint16_t)
        MU(TSR_COL_UINT32, uint32_t)
        MU(TSR_COL_UINT64, uint64_t)
#undef MU
      default:
        break;
      }
    return TSR_OK;
  }
  int64_t init = mn ? INT64_MAX : INT64_MIN;
  for (int64_t g = 0; g < n; g++)
    mm[g] = init;
  for (int64_t r = 0; r < x->n; r++)
    switch (a->in_type.id) {
#define MI(ID, T)                                  \
  case ID: {                                       \
    CHUNK(x, r, T);                                \
    if (bits == NULL && mn) {                      \
      for (int64_t i = 0; i < m; i++) {            \
        int64_t u = (int64_t)v[i];                 \
        mm[id[i]] = u < mm[id[i]] ? u : mm[id[i]]; \
      }                                            \
    } else if (bits == NULL) {                     \
      for (int64_t i = 0; i < m; i++) {            \
        int64_t u = (int64_t)v[i];                 \
        mm[id[i]] = u > mm[id[i]] ? u : mm[id[i]]; \
      }                                            \
    } else {                                       \
      for (int64_t i = 0; i < m; i++) {            \
        if (!tsr__bit_get(bits, i))                \
          continue;                                \
        int64_t u = (int64_t)v[i];                 \
        if (mn ? u < mm[id[i]] : u > mm[id[i]])    \
          mm[id[i]] = u;                           \
      }                                            \
    }                                              \
    break;                                         \
  }
      MI(TSR_COL_BOOL, uint8_t)
      MI(TSR_COL_INT8, int8_t)
      MI(TSR_COL_INT16, int16_t)
      MI(TSR_COL_INT32, int32_t)
      MI(TSR_COL_INT64, int64_t)
      MI(TSR_COL_DICT, int32_t)
      MI(TSR_COL_DATE, int32_t)
      MI(TSR_COL_TIMESTAMP, int64_t)
#undef MI
    default:
      break;
    }
  return TSR_OK;
}

/* var/std: two passes (means, then squared deviations) over the run's
 * values as doubles. */
static tsr_status chunk_var(tsr_ctx *ctx, const gb_agg *a, const gb_run *x, int64_t rows,
                            const int32_t *ids, int64_t n, gb_state *s) {
  double *f = NULL;
  TSR_TRY(tsr_kernel_alloc(ctx, (size_t)rows * sizeof *f + 8, (void **)&f));
  to_f64(x, a->in_type, f);
  tsr_status st = alloc0(ctx, n, sizeof *s->fsum, (void **)&s->fsum);
  if (st == TSR_OK)
    st = alloc0(ctx, n, sizeof *s->m2, (void **)&s->m2);
  if (st != TSR_OK) {
    tsr_free(ctx, f);
    return st;
  }
  double *mean = s->fsum, *m2 = s->m2;
  const int64_t *cnt = s->count != NULL ? s->count : s->gcount;
  for (int64_t i = 0; i < rows; i++) /* nulls add 0 */
    mean[ids[i]] += f[i];
  for (int64_t g = 0; g < n; g++)
    mean[g] = cnt[g] > 0 ? mean[g] / (double)cnt[g] : 0.0;
  for (int64_t r = 0; r < x->n; r++) {
    CHUNK(x, r, void);
    const double *fr = f + x->off[r];
    for (int64_t i = 0; i < m; i++)
      if (valid_at(bits, i)) {
        double d = fr[i] - mean[id[i]];
        m2[id[i]] += d * d;
      }
  }
  tsr_free(ctx, f);
  return TSR_OK;
}

/* corr, covariances: pairs where both values are valid; two passes. */
static tsr_status chunk_corr(tsr_ctx *ctx, const gb_agg *a, const gb_run *x, const gb_run *y,
                             int64_t rows, const int32_t *ids, int64_t n, gb_state *s) {
  double *f = NULL, *h = NULL;
  uint8_t *ok = NULL;
  tsr_status st;
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)rows * sizeof *f + 8, (void **)&f));
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)rows * sizeof *h + 8, (void **)&h));
  to_f64(x, a->in_type, f);
  to_f64(y, a->in_type2, h);
  TSR__TRY_GOTO(st, alloc0(ctx, n, sizeof *s->count, (void **)&s->count));
  TSR__TRY_GOTO(st, alloc0(ctx, n, sizeof *s->fsum, (void **)&s->fsum));
  TSR__TRY_GOTO(st, alloc0(ctx, n, sizeof *s->mean2, (void **)&s->mean2));
  TSR__TRY_GOTO(st, alloc0(ctx, n, sizeof *s->m2, (void **)&s->m2));
  TSR__TRY_GOTO(st, alloc0(ctx, n, sizeof *s->m2y, (void **)&s->m2y));
  TSR__TRY_GOTO(st, alloc0(ctx, n, sizeof *s->cxy, (void **)&s->cxy));
  int64_t *cnt = s->count;
  double *mx = s->fsum, *my = s->mean2;
  bool nulls = false;
  for (int64_t r = 0; r < x->n; r++)
    nulls = nulls || x->c[r].validity != NULL || y->c[r].validity != NULL;
  if (nulls) {
    TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)rows + 8, (void **)&ok));
    for (int64_t r = 0; r < x->n; r++) {
      const uint8_t *xb = x->c[r].validity, *yb = y->c[r].validity;
      int64_t o = x->off[r];
      for (int64_t i = 0; i < x->c[r].rows; i++) {
        uint8_t both = (uint8_t)(valid_at(xb, i) && valid_at(yb, i));
        ok[o + i] = both;
        f[o + i] = both ? f[o + i] : 0.0;
        h[o + i] = both ? h[o + i] : 0.0;
      }
    }
    for (int64_t i = 0; i < rows; i++) {
      cnt[ids[i]] += ok[i];
      mx[ids[i]] += f[i];
      my[ids[i]] += h[i];
    }
  } else {
    for (int64_t i = 0; i < rows; i++) {
      cnt[ids[i]]++;
      mx[ids[i]] += f[i];
      my[ids[i]] += h[i];
    }
  }
  for (int64_t g = 0; g < n; g++) {
    mx[g] = cnt[g] > 0 ? mx[g] / (double)cnt[g] : 0.0;
    my[g] = cnt[g] > 0 ? my[g] / (double)cnt[g] : 0.0;
  }
  for (int64_t i = 0; i < rows; i++) {
    if (ok != NULL && !ok[i])
      continue;
    int32_t g = ids[i];
    double dx = f[i] - mx[g], dy = h[i] - my[g];
    s->m2[g] += dx * dx;
    s->m2y[g] += dy * dy;
    s->cxy[g] += dx * dy;
  }
fail:
  tsr_free(ctx, ok);
  tsr_free(ctx, h);
  tsr_free(ctx, f);
  return st;
}

static tsr_status chunk_bool(tsr_ctx *ctx, const gb_agg *a, const gb_run *x, const int32_t *ids,
                             int64_t n, gb_state *s) {
  TSR_TRY(alloc0(ctx, n, sizeof *s->imin, (void **)&s->imin));
  int64_t *mm = s->imin;
  bool any = a->op == TSR_AGG_ANY;
  if (!any)
    for (int64_t g = 0; g < n; g++)
      mm[g] = 1;
  for (int64_t r = 0; r < x->n; r++) {
    CHUNK(x, r, uint8_t);
    for (int64_t i = 0; i < m; i++) {
      if (!valid_at(bits, i))
        continue;
      if (any)
        mm[id[i]] |= v[i] != 0;
      else
        mm[id[i]] &= v[i] != 0;
    }
  }
  return TSR_OK;
}
#undef CHUNK

tsr_status gb_agg_chunk(tsr_ctx *ctx, const gb_agg *a, const gb_run *x, const gb_run *y,
                        int64_t rows, const int32_t *ids, int64_t n, const int32_t *first,
                        const uint8_t *fch, const int32_t *last, const uint8_t *lch,
                        const int64_t *gcount, gb_state *s) {
  memset(s, 0, sizeof *s);
  s->n = n;
  tsr_status st = TSR_OK;
  switch (a->op) {
  case TSR_AGG_COUNT_ALL:
    s->gcount = gcount;
    return TSR_OK;
  case TSR_AGG_FIRST:
  case TSR_AGG_LAST:
    TSR__TRY_GOTO(st, gb_col_gather(ctx, x, a->in_type, a->op == TSR_AGG_FIRST ? first : last,
                                    a->op == TSR_AGG_FIRST ? fch : lch, n, &s->vals));
    return TSR_OK;
  case TSR_AGG_CORR:
  case TSR_AGG_COVAR_SAMP:
  case TSR_AGG_COVAR_POP:
    TSR__TRY_GOTO(st, chunk_corr(ctx, a, x, y, rows, ids, n, s));
    return TSR_OK;
  default:
    break;
  }
  bool nulls = false;
  for (int64_t r = 0; r < x->n; r++)
    nulls = nulls || x->c[r].validity != NULL;
  if (!nulls) {
    s->gcount = gcount; /* no nulls: every row counts */
  } else {
    TSR__TRY_GOTO(st, alloc0(ctx, n, sizeof *s->count, (void **)&s->count));
    counts_from(x, ids, gcount, n, s->count);
  }
  switch (a->op) {
  case TSR_AGG_SUM:
  case TSR_AGG_MEAN:
    TSR__TRY_GOTO(st, chunk_sum(ctx, a, x, rows, ids, n, s));
    break;
  case TSR_AGG_MIN:
  case TSR_AGG_MAX:
    TSR__TRY_GOTO(st, chunk_minmax(ctx, a, x, ids, n, s));
    break;
  case TSR_AGG_VAR:
  case TSR_AGG_STD:
    TSR__TRY_GOTO(st, chunk_var(ctx, a, x, rows, ids, n, s));
    break;
  case TSR_AGG_ANY:
  case TSR_AGG_ALL:
    TSR__TRY_GOTO(st, chunk_bool(ctx, a, x, ids, n, s));
    break;
  default: /* count */
    break;
  }
  return TSR_OK;
fail:
  gb_state_free(ctx, s);
  return st;
}

/* ---- merging -------------------------------------------------------------------- */

tsr_status gb_agg_merged_init(tsr_ctx *ctx, const gb_agg *a, int64_t ng, gb_state *s) {
  memset(s, 0, sizeof *s);
  s->n = ng;
  tsr_status st = TSR_OK;
  bool mn = a->op == TSR_AGG_MIN;
  switch (a->op) {
  case TSR_AGG_FIRST:
  case TSR_AGG_LAST:
    break;
  default:
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->count, (void **)&s->count));
    break;
  }
  switch (a->op) {
  case TSR_AGG_SUM:
  case TSR_AGG_MEAN:
    if (a->kind == GB_K_FLOAT)
      TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->fsum, (void **)&s->fsum));
    else
      TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->wsum, (void **)&s->wsum));
    break;
  case TSR_AGG_MIN:
  case TSR_AGG_MAX:
    if (a->in_type.id == TSR_COL_STRING) {
      TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->src_chunk, (void **)&s->src_chunk));
      TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->src_local, (void **)&s->src_local));
      memset(s->src_chunk, 0xff, (size_t)ng * sizeof *s->src_chunk);
    } else if (a->kind == GB_K_FLOAT) {
      TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->fmin, (void **)&s->fmin));
      for (int64_t g = 0; g < ng; g++)
        s->fmin[g] = mn ? NAN : -INFINITY;
    } else {
      TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->imin, (void **)&s->imin));
      int64_t init =
          a->kind == GB_K_UINT ? (mn ? (int64_t)UINT64_MAX : 0) : (mn ? INT64_MAX : INT64_MIN);
      for (int64_t g = 0; g < ng; g++)
        s->imin[g] = init;
    }
    break;
  case TSR_AGG_VAR:
  case TSR_AGG_STD:
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->fsum, (void **)&s->fsum));
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->m2, (void **)&s->m2));
    break;
  case TSR_AGG_CORR:
  case TSR_AGG_COVAR_SAMP:
  case TSR_AGG_COVAR_POP:
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->fsum, (void **)&s->fsum));
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->mean2, (void **)&s->mean2));
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->m2, (void **)&s->m2));
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->m2y, (void **)&s->m2y));
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->cxy, (void **)&s->cxy));
    break;
  case TSR_AGG_ANY:
  case TSR_AGG_ALL:
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->imin, (void **)&s->imin));
    if (a->op == TSR_AGG_ALL)
      for (int64_t g = 0; g < ng; g++)
        s->imin[g] = 1;
    break;
  case TSR_AGG_FIRST:
  case TSR_AGG_LAST:
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->src_chunk, (void **)&s->src_chunk));
    TSR__TRY_GOTO(st, alloc0(ctx, ng, sizeof *s->src_local, (void **)&s->src_local));
    memset(s->src_chunk, 0xff, (size_t)ng * sizeof *s->src_chunk);
    break;
  default:
    break;
  }
  return TSR_OK;
fail:
  gb_state_free(ctx, s);
  return st;
}

static int str_cmp(const gb_col *a, int64_t i, const gb_col *b, int64_t j) {
  const tsr_string_view *va = (const tsr_string_view *)a->values + i;
  const tsr_string_view *vb = (const tsr_string_view *)b->values + j;
  const char *p = tsr_string_view_data(va, a->data), *q = tsr_string_view_data(vb, b->data);
  uint32_t lp = va->length, lq = vb->length;
  int c = memcmp(p, q, lp < lq ? lp : lq);
  if (c == 0)
    c = lp < lq ? -1 : lp > lq;
  return c;
}

/* Chan et al.: (n, mean, m2) += (nb, mb, m2b). */
static inline void chan(double *n, double *mean, double *m2, double nb, double mb, double m2b) {
  if (nb == 0)
    return;
  if (*n == 0) {
    *n = nb;
    *mean = mb;
    *m2 = m2b;
    return;
  }
  double nn = *n + nb, delta = mb - *mean;
  *mean += delta * (nb / nn);
  *m2 += m2b + delta * delta * (*n * nb / nn);
  *n = nn;
}

/* Local group of entry i of a merge. */
#define LOC(i) (start + (i))

void gb_agg_merge(const gb_agg *a, gb_state *d, const gb_state *parts, int32_t chunk, int64_t start,
                  const int32_t *map, int64_t n) {
  const gb_state *s = &parts[chunk];
  const int64_t *scount = s->count != NULL ? s->count : s->gcount;
  bool mn = a->op == TSR_AGG_MIN;
  switch (a->op) {
  case TSR_AGG_COUNT_ALL:
  case TSR_AGG_COUNT:
    for (int64_t i = 0; i < n; i++)
      d->count[map[i]] += scount[LOC(i)];
    return;
  case TSR_AGG_SUM:
  case TSR_AGG_MEAN:
    for (int64_t i = 0; i < n; i++)
      d->count[map[i]] += scount[LOC(i)];
    if (s->fsum != NULL)
      for (int64_t i = 0; i < n; i++)
        d->fsum[map[i]] += s->fsum[LOC(i)];
    else if (s->isum != NULL)
      for (int64_t i = 0; i < n; i++)
        d->wsum[map[i]] += s->isum[LOC(i)];
    else
      for (int64_t i = 0; i < n; i++)
        d->wsum[map[i]] += s->wsum[LOC(i)];
    return;
  case TSR_AGG_MIN:
  case TSR_AGG_MAX:
    for (int64_t i = 0; i < n; i++) {
      int64_t g = map[i], l = LOC(i);
      if (scount[l] == 0)
        continue;
      d->count[g] += scount[l];
      if (a->in_type.id == TSR_COL_STRING) {
        int32_t c = d->src_chunk[g];
        if (c < 0) {
          d->src_chunk[g] = chunk;
          d->src_local[g] = (int32_t)l;
          continue;
        }
        int cmp = str_cmp(&s->vals, l, &parts[c].vals, d->src_local[g]);
        if (mn ? cmp < 0 : cmp > 0) {
          d->src_chunk[g] = chunk;
          d->src_local[g] = (int32_t)l;
        }
      } else if (a->kind == GB_K_FLOAT) {
        double v = s->fmin[l];
        if (mn ? f_less(v, d->fmin[g]) : f_less(d->fmin[g], v))
          d->fmin[g] = v;
      } else if (a->kind == GB_K_UINT) {
        uint64_t v = (uint64_t)s->imin[l], cur = (uint64_t)d->imin[g];
        if (mn ? v < cur : v > cur)
          d->imin[g] = (int64_t)v;
      } else {
        int64_t v = s->imin[l];
        if (mn ? v < d->imin[g] : v > d->imin[g])
          d->imin[g] = v;
      }
    }
    return;
  case TSR_AGG_VAR:
  case TSR_AGG_STD:
    for (int64_t i = 0; i < n; i++) {
      int64_t g = map[i], l = LOC(i);
      double cnt = (double)d->count[g];
      chan(&cnt, &d->fsum[g], &d->m2[g], (double)scount[l], s->fsum[l], s->m2[l]);
      d->count[g] += scount[l];
    }
    return;
  case TSR_AGG_CORR:
  case TSR_AGG_COVAR_SAMP:
  case TSR_AGG_COVAR_POP:
    for (int64_t i = 0; i < n; i++) {
      int64_t g = map[i], l = LOC(i);
      double na = (double)d->count[g], nb = (double)scount[l];
      if (nb == 0)
        continue;
      if (na == 0) {
        d->fsum[g] = s->fsum[l];
        d->mean2[g] = s->mean2[l];
        d->m2[g] = s->m2[l];
        d->m2y[g] = s->m2y[l];
        d->cxy[g] = s->cxy[l];
      } else {
        double nn = na + nb, dx = s->fsum[l] - d->fsum[g], dy = s->mean2[l] - d->mean2[g];
        double f = na * nb / nn;
        d->cxy[g] += s->cxy[l] + dx * dy * f;
        d->m2[g] += s->m2[l] + dx * dx * f;
        d->m2y[g] += s->m2y[l] + dy * dy * f;
        d->fsum[g] += dx * (nb / nn);
        d->mean2[g] += dy * (nb / nn);
      }
      d->count[g] += scount[l];
    }
    return;
  case TSR_AGG_ANY:
  case TSR_AGG_ALL:
    for (int64_t i = 0; i < n; i++) {
      int64_t g = map[i], l = LOC(i);
      if (scount[l] == 0)
        continue;
      d->count[g] += scount[l];
      if (a->op == TSR_AGG_ANY)
        d->imin[g] |= s->imin[l];
      else
        d->imin[g] &= s->imin[l];
    }
    return;
  case TSR_AGG_FIRST:
    for (int64_t i = 0; i < n; i++)
      if (d->src_chunk[map[i]] < 0) {
        d->src_chunk[map[i]] = chunk;
        d->src_local[map[i]] = (int32_t)LOC(i);
      }
    return;
  case TSR_AGG_LAST:
    for (int64_t i = 0; i < n; i++) {
      d->src_chunk[map[i]] = chunk;
      d->src_local[map[i]] = (int32_t)LOC(i);
    }
    return;
  default:
    return;
  }
}
#undef LOC

/* ---- finishing ------------------------------------------------------------------- */

/* The (chunk, local) value source of group g for ops keeping values. */
static bool value_src(const gb_agg *a, const gb_state *m, const gb_state *parts, int64_t g,
                      const gb_col **col, int64_t *row) {
  (void)a;
  int32_t c = m->src_chunk[g];
  if (c < 0)
    return false;
  *col = &parts[c].vals;
  *row = m->src_local[g];
  return (*col)->nulls == 0 || tsr__bit_get((*col)->validity, *row);
}

static bool keeps_values(const gb_agg *a) {
  return a->op == TSR_AGG_FIRST || a->op == TSR_AGG_LAST ||
         ((a->op == TSR_AGG_MIN || a->op == TSR_AGG_MAX) && a->in_type.id == TSR_COL_STRING);
}

uint64_t gb_agg_data_bytes(const gb_agg *a, const gb_state *m, const gb_state *parts,
                           const int64_t *order, int64_t n) {
  if (a->out_type.id != TSR_COL_STRING || !keeps_values(a))
    return 0;
  uint64_t bytes = 0;
  for (int64_t i = 0; i < n; i++) {
    const gb_col *c;
    int64_t r;
    if (!value_src(a, m, parts, order[i], &c, &r))
      continue;
    const tsr_string_view *v = (const tsr_string_view *)c->values + r;
    if (v->length > 12)
      bytes += v->length;
  }
  return bytes;
}

static void put_int(void *values, size_t w, int64_t i, uint64_t v) {
  switch (w) {
  case 1:
    ((uint8_t *)values)[i] = (uint8_t)v;
    break;
  case 2:
    ((uint16_t *)values)[i] = (uint16_t)v;
    break;
  case 4:
    ((uint32_t *)values)[i] = (uint32_t)v;
    break;
  default:
    ((uint64_t *)values)[i] = v;
    break;
  }
}

tsr_status gb_agg_finish(const gb_agg *a, const gb_state *m, const gb_state *parts,
                         const int64_t *order, int64_t n, tsr__colchunk *out) {
  void *values = tsr__colchunk_values(out);
  uint8_t *valid = tsr__colchunk_validity(out);
  memset(valid, 0xff, (size_t)(n + 7) / 8);
  size_t w = tsr_type_width(a->out_type);
  int64_t nulls = 0;
  double *fo = values;
  int64_t *io = values;
  for (int64_t i = 0; i < n; i++) {
    int64_t g = order[i];
    bool null = false;
    switch (a->op) {
    case TSR_AGG_COUNT_ALL:
    case TSR_AGG_COUNT:
      io[i] = m->count[g];
      break;
    case TSR_AGG_SUM:
      null = m->count[g] == 0;
      if (a->kind == GB_K_FLOAT) {
        fo[i] = null ? 0.0 : m->fsum[g];
      } else if (a->kind == GB_K_UINT) {
        TSR_CHECK(m->wsum[g] >= 0 && m->wsum[g] <= (gb_i128)UINT64_MAX, TSR_EOVERFLOW,
                  "tsr_frame_groupby: the sum '%s' overflows uint64", a->name);
        io[i] = (int64_t)(uint64_t)m->wsum[g];
      } else {
        TSR_CHECK(m->wsum[g] >= INT64_MIN && m->wsum[g] <= INT64_MAX, TSR_EOVERFLOW,
                  "tsr_frame_groupby: the sum '%s' overflows int64", a->name);
        io[i] = (int64_t)m->wsum[g];
      }
      break;
    case TSR_AGG_MEAN:
      null = m->count[g] == 0;
      fo[i] = null
                  ? 0.0
                  : (a->kind == GB_K_FLOAT ? m->fsum[g] : (double)m->wsum[g]) / (double)m->count[g];
      break;
    case TSR_AGG_MIN:
    case TSR_AGG_MAX:
      if (a->in_type.id == TSR_COL_STRING)
        break; /* below */
      null = m->count[g] == 0;
      if (a->kind == GB_K_FLOAT) {
        if (a->out_type.id == TSR_COL_FLOAT32)
          ((float *)values)[i] = null ? 0.0f : (float)m->fmin[g];
        else
          fo[i] = null ? 0.0 : m->fmin[g];
      } else {
        put_int(values, w, i, null ? 0 : (uint64_t)m->imin[g]);
      }
      break;
    case TSR_AGG_VAR:
    case TSR_AGG_STD:
      null = m->count[g] - a->ddof <= 0;
      if (!null) {
        double v = m->m2[g] / (double)(m->count[g] - a->ddof);
        fo[i] = a->op == TSR_AGG_STD ? sqrt(v) : v;
      } else {
        fo[i] = 0.0;
      }
      break;
    case TSR_AGG_CORR: {
      /* DuckDB's covar_pop / (stddev_pop(x) * stddev_pop(y)): NaN (0 / 0) when either
       * side is constant, one pair included; null over no pair */
      double den = sqrt(m->m2[g] * m->m2y[g]);
      null = m->count[g] == 0;
      fo[i] = null ? 0.0 : den == 0 ? NAN : m->cxy[g] / den;
      break;
    }
    case TSR_AGG_COVAR_SAMP:
      null = m->count[g] < 2;
      fo[i] = null ? 0.0 : m->cxy[g] / (double)(m->count[g] - 1);
      break;
    case TSR_AGG_COVAR_POP:
      null = m->count[g] == 0;
      fo[i] = null ? 0.0 : m->cxy[g] / (double)m->count[g];
      break;
    case TSR_AGG_ANY:
    case TSR_AGG_ALL:
      null = m->count[g] == 0;
      ((uint8_t *)values)[i] = (uint8_t)(!null && m->imin[g] != 0);
      break;
    default:
      break;
    }
    if (keeps_values(a)) {
      const gb_col *c;
      int64_t r;
      null = !value_src(a, m, parts, g, &c, &r);
      if (null) {
        memset((unsigned char *)values + (size_t)i * w, 0, w);
      } else if (a->out_type.id == TSR_COL_STRING) {
        const tsr_string_view *v = (const tsr_string_view *)c->values + r;
        ((tsr_string_view *)values)[i] =
            tsr__view_make(out, tsr_string_view_data(v, c->data), v->length);
      } else {
        memcpy((unsigned char *)values + (size_t)i * w,
               (const unsigned char *)c->values + (size_t)r * w, w);
      }
    }
    if (null) {
      tsr__bit_set(valid, i, false);
      nulls++;
    }
  }
  out->null_count = nulls;
  return TSR_OK;
}
