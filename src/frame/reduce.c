/* reduce.c — column reductions: tsr_frame_reduce_f64 (count, null_count,
 * sum, mean, min, max, var, std), skipping nulls as SQL does.
 *
 * One task per row chunk reduces the chunk into a partial state; states
 * are merged in a tree of fan-in 8 whose shape depends on the chunk count
 * only (groups of 8 consecutive chunks, then groups of 8 groups...), and
 * the root, which every rank runs (TSR_OWNER_ALL), hands the state to the
 * caller.  So the result is bitwise identical for any number of threads
 * and ranks, as array reductions are (array/reduce.c).
 *
 * Accuracy: integer sums are exact (128-bit accumulators; the final sum
 * must fit int64, or uint64 for unsigned columns, else TSR_EOVERFLOW) and
 * so are integer means up to the final division; float sums are pairwise
 * within a chunk (blocks of 1024 non-null values summed pairwise, blocks
 * combined in a binary cascade); variances are two-pass per block, blocks
 * and chunks merged by Chan et al.'s formula.  min/max of floats order NaN
 * above every number (as DuckDB and PostgreSQL do). */
#include <math.h>
#include <string.h>

#include <tessera/dist.h>

#include "core/pairwise_sum.h"
#include "ops_impl.h"

__extension__ typedef __int128 i128;

enum { K_INT, K_UINT, K_FLOAT };
#define FAN_IN 8
#define BLOCK 1024

typedef struct rstate {
  i128 isum; /* K_INT, K_UINT (as unsigned magnitudes fit: 2^64 * 2^63) */
  int64_t count, nulls;
  double fsum;     /* K_FLOAT sums */
  double mean, m2; /* var/std: Chan's (count, mean, m2) */
  int64_t imin, imax;
  uint64_t umin, umax;
  double fmin, fmax;
} rstate;

typedef struct rparams {
  tsr__colref ref;
  int32_t op;
  int32_t kind;
} rparams;

static int kind_of(tsr_coltype t) {
  switch (t) {
  case TSR_COL_UINT8:
  case TSR_COL_UINT16:
  case TSR_COL_UINT32:
  case TSR_COL_UINT64:
    return K_UINT;
  case TSR_COL_FLOAT32:
  case TSR_COL_FLOAT64:
    return K_FLOAT;
  default:
    return K_INT;
  }
}

static void state_init(rstate *s) {
  memset(s, 0, sizeof *s);
  s->imin = INT64_MAX;
  s->imax = INT64_MIN;
  s->umin = UINT64_MAX;
  s->umax = 0;
  s->fmin = NAN; /* NaN: nothing seen (count says) */
  s->fmax = NAN;
}

static void chan_merge(double *n, double *mean, double *m2, double nb, double mb, double m2b) {
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

/* min/max of floats with NaN above every number. */
static inline bool f_less(double a, double b) { return b != b ? a == a : a < b; }

/* Gathers the non-null values of rows [r0, r0 + n) as doubles / int64 /
 * uint64 into the block buffers; returns how many.  One typed loop per
 * type; rows are tested against the bitmap only when the chunk has nulls. */
static size_t gather(const tsr__colread *r, tsr_coltype t, int64_t r0, int64_t n, double *f,
                     int64_t *iv, uint64_t *uv) {
  size_t k = 0;
  const uint8_t *bits = r->validity;
#define G(ID, T, DST)                       \
  case ID: {                                \
    const T *v = (const T *)r->values + r0; \
    if (bits == NULL) {                     \
      for (int64_t i = 0; i < n; i++)       \
        DST[i] = (__typeof__(DST[0]))v[i];  \
      return (size_t)n;                     \
    }                                       \
    for (int64_t i = 0; i < n; i++) {       \
      DST[k] = (__typeof__(DST[0]))v[i];    \
      k += tsr__bit_get(bits, r0 + i);      \
    }                                       \
    return k;                               \
  }
  switch (t) {
    G(TSR_COL_BOOL, uint8_t, iv)
    G(TSR_COL_INT8, int8_t, iv)
    G(TSR_COL_INT16, int16_t, iv)
    G(TSR_COL_INT32, int32_t, iv)
    G(TSR_COL_DATE, int32_t, iv)
    G(TSR_COL_INT64, int64_t, iv)
    G(TSR_COL_TIMESTAMP, int64_t, iv)
    G(TSR_COL_UINT8, uint8_t, uv)
    G(TSR_COL_UINT16, uint16_t, uv)
    G(TSR_COL_UINT32, uint32_t, uv)
    G(TSR_COL_UINT64, uint64_t, uv)
    G(TSR_COL_FLOAT32, float, f)
    G(TSR_COL_FLOAT64, double, f)
  default:
    return 0;
  }
#undef G
}

static tsr_status chunk_kernel(const tsr_kernel_call *call) {
  const rparams *p = call->params;
  rstate *s = call->output;
  state_init(s);
  tsr__colread r;
  tsr__colread_get(&p->ref, call, &r);
  s->nulls = r.null_count;
  s->count = r.rows - r.null_count;
  if (p->op == TSR_COL_COUNT || p->op == TSR_COL_NULL_COUNT)
    return TSR_OK;
  double f[BLOCK];
  int64_t iv[BLOCK];
  uint64_t uv[BLOCK];
  tsr__cascade run = {0};
  double vn = 0, vmean = 0, vm2 = 0;
  bool seen = false;
  for (int64_t r0 = 0; r0 < r.rows; r0 += BLOCK) {
    int64_t n = r.rows - r0 < BLOCK ? r.rows - r0 : BLOCK;
    size_t k = gather(&r, p->ref.type.id, r0, n, f, iv, uv);
    if (k == 0)
      continue;
    switch (p->op) {
    case TSR_COL_SUM:
    case TSR_COL_MEAN:
      if (p->kind == K_FLOAT) {
        tsr__cascade_push(&run, tsr__pairwise_sum(f, k));
      } else if (p->kind == K_INT) {
        i128 t = 0;
        for (size_t j = 0; j < k; j++)
          t += iv[j];
        s->isum += t;
      } else {
        i128 t = 0;
        for (size_t j = 0; j < k; j++)
          t += uv[j];
        s->isum += t;
      }
      break;
    case TSR_COL_MIN:
    case TSR_COL_MAX:
      if (p->kind == K_FLOAT) {
        for (size_t j = 0; j < k; j++) {
          if (!seen) {
            s->fmin = s->fmax = f[j];
            seen = true;
            continue;
          }
          if (f_less(f[j], s->fmin))
            s->fmin = f[j];
          if (f_less(s->fmax, f[j]))
            s->fmax = f[j];
        }
      } else if (p->kind == K_INT) {
        for (size_t j = 0; j < k; j++) {
          s->imin = iv[j] < s->imin ? iv[j] : s->imin;
          s->imax = iv[j] > s->imax ? iv[j] : s->imax;
        }
      } else {
        for (size_t j = 0; j < k; j++) {
          s->umin = uv[j] < s->umin ? uv[j] : s->umin;
          s->umax = uv[j] > s->umax ? uv[j] : s->umax;
        }
      }
      break;
    default: { /* var, std: two passes over the block */
      if (p->kind == K_INT)
        for (size_t j = 0; j < k; j++)
          f[j] = (double)iv[j];
      else if (p->kind == K_UINT)
        for (size_t j = 0; j < k; j++)
          f[j] = (double)uv[j];
      double m = tsr__pairwise_sum(f, k) / (double)k, m2 = 0;
      for (size_t j = 0; j < k; j++)
        m2 += (f[j] - m) * (f[j] - m);
      chan_merge(&vn, &vmean, &vm2, (double)k, m, m2);
      break;
    }
    }
  }
  s->fsum = tsr__cascade_take(&run);
  s->mean = vmean;
  s->m2 = vm2;
  return TSR_OK;
}

static void merge_into(rstate *a, const rstate *b) {
  double n = (double)a->count;
  chan_merge(&n, &a->mean, &a->m2, (double)b->count, b->mean, b->m2);
  a->isum += b->isum;
  a->fsum += b->fsum;
  a->imin = b->imin < a->imin ? b->imin : a->imin;
  a->imax = b->imax > a->imax ? b->imax : a->imax;
  a->umin = b->umin < a->umin ? b->umin : a->umin;
  a->umax = b->umax > a->umax ? b->umax : a->umax;
  /* Floats: NaN in the state means "nothing seen" only when that side has
   * no values; with values a NaN is the maximum. */
  if (b->count > 0) {
    if (a->count == 0) {
      a->fmin = b->fmin;
      a->fmax = b->fmax;
    } else {
      if (f_less(b->fmin, a->fmin))
        a->fmin = b->fmin;
      if (f_less(a->fmax, b->fmax))
        a->fmax = b->fmax;
    }
  }
  a->count += b->count;
  a->nulls += b->nulls;
}

static tsr_status merge_kernel(const tsr_kernel_call *call) {
  rstate *s = call->output;
  state_init(s);
  for (uint32_t i = 0; i < call->n_inputs; i++) {
    rstate b;
    memcpy(&b, call->inputs[i], sizeof b);
    merge_into(s, &b);
  }
  return TSR_OK;
}

static const char *const op_names[] = {"count", "null_count", "sum", "mean",
                                       "min",   "max",        "var", "std"};

tsr_status tsr_frame_reduce_f64(tsr_frame *f, const char *name, tsr_col_reduce op, int ddof,
                                double *value, bool *is_null) {
  static const char fn[] = "tsr_frame_reduce_f64";
  TSR_CHECK(f != NULL && value != NULL, TSR_EINVAL, "%s: frame or value is NULL", fn);
  *value = 0;
  if (is_null != NULL)
    *is_null = false;
  TSR_CHECK((unsigned)op <= TSR_COL_STD, TSR_EINVAL, "%s: %d is not a tsr_col_reduce", fn, (int)op);
  TSR_CHECK(ddof >= 0, TSR_EINVAL, "%s: ddof = %d is negative", fn, ddof);
  int k = 0;
  TSR_TRY(tsr__frame_find(f, fn, name, &k));
  const tsr__col *col = &f->cols[k];
  tsr_coltype t = col->type.id;
  TSR_CHECK(op <= TSR_COL_NULL_COUNT || (t != TSR_COL_STRING && t != TSR_COL_DICT), TSR_EDTYPE,
            "%s: column '%s' holds strings (%s); %s needs numbers, dates or timestamps", fn, name,
            tsr_type_name(col->type), op_names[op]);
  TSR_CHECK(op < TSR_COL_SUM || op == TSR_COL_MIN || op == TSR_COL_MAX ||
                (t != TSR_COL_DATE && t != TSR_COL_TIMESTAMP),
            TSR_EDTYPE, "%s: column '%s' is %s; %s needs numbers", fn, name,
            tsr_type_name(col->type), op_names[op]);
  tsr_ctx *ctx = f->ctx;
  int64_t n = f->rows->nchunks;
  rparams p = {{0, col->slot, col->raw, col->type}, (int32_t)op, kind_of(t)};
  tsr_taskgraph *g = NULL;
  tsr__lowering *l = NULL;
  uint32_t *level = NULL;
  uint32_t final = 0;
  bool ran = false;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &g));
  TSR__TRY_GOTO(status, tsr__lowering_create(ctx, g, &l));
  const uint32_t *ids;
  TSR__TRY_GOTO(status, tsr__lowering_lower(l, col->node, &ids));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, sizeof *level, "reduction tasks",
                                         (void **)&level));
  uint32_t kc, km;
  TSR__TRY_GOTO(status, tsr_taskgraph_add_kernel(g, "frame_reduce", chunk_kernel, NULL, &kc));
  TSR__TRY_GOTO(status, tsr_taskgraph_add_kernel(g, "frame_reduce_merge", merge_kernel, NULL, &km));
  for (int64_t c = 0; c < n; c++)
    TSR__TRY_GOTO(
        status, tsr_taskgraph_add_task(g, kc, &ids[c], 1, &p, sizeof p, sizeof(rstate), &level[c]));
  int64_t m = n;
  while (m > FAN_IN) {
    int64_t groups = (m + FAN_IN - 1) / FAN_IN;
    for (int64_t j = 0; j < groups; j++) {
      int64_t a = j * FAN_IN, cnt = m - a < FAN_IN ? m - a : FAN_IN;
      TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, km, &level[a], (uint32_t)cnt, NULL, 0,
                                                   sizeof(rstate), &level[j]));
    }
    m = groups;
  }
  TSR__TRY_GOTO(status,
                tsr_taskgraph_add_task(g, km, level, (uint32_t)m, NULL, 0, sizeof(rstate), &final));
  TSR__TRY_GOTO(status, tsr_taskgraph_set_owner(g, final, TSR_OWNER_ALL));
  TSR__TRY_GOTO(status, tsr_taskgraph_keep(g, final));
  TSR__TRY_GOTO(status, tsr_taskgraph_cull(g, &final, 1));
  ran = true;
  TSR__TRY_GOTO(status, tsr_taskgraph_run(g));
  {
    const void *data;
    size_t bytes;
    TSR__TRY_GOTO(status, tsr_taskgraph_output(g, final, &data, &bytes));
    rstate s;
    memcpy(&s, data, sizeof s);
    bool null = false;
    double v = 0;
    int kind = kind_of(t);
    switch (op) {
    case TSR_COL_COUNT:
      v = (double)s.count;
      break;
    case TSR_COL_NULL_COUNT:
      v = (double)s.nulls;
      break;
    case TSR_COL_SUM:
      null = s.count == 0;
      if (kind == K_INT) {
        TSR__CHECK_GOTO(status, s.isum >= INT64_MIN && s.isum <= INT64_MAX, TSR_EOVERFLOW,
                        "%s: the sum of column '%s' overflows int64", fn, name);
        v = (double)(int64_t)s.isum;
      } else if (kind == K_UINT) {
        TSR__CHECK_GOTO(status, s.isum <= (i128)UINT64_MAX, TSR_EOVERFLOW,
                        "%s: the sum of column '%s' overflows uint64", fn, name);
        v = (double)(uint64_t)s.isum;
      } else {
        v = s.fsum;
      }
      break;
    case TSR_COL_MEAN:
      null = s.count == 0;
      if (!null)
        v = (kind == K_FLOAT ? s.fsum : (double)s.isum) / (double)s.count;
      break;
    case TSR_COL_MIN:
    case TSR_COL_MAX:
      null = s.count == 0;
      if (!null) {
        bool mn = op == TSR_COL_MIN;
        v = kind == K_FLOAT ? (mn ? s.fmin : s.fmax)
            : kind == K_INT ? (double)(mn ? s.imin : s.imax)
                            : (double)(mn ? s.umin : s.umax);
      }
      break;
    default:
      null = s.count - ddof <= 0;
      if (!null) {
        v = s.m2 / (double)(s.count - ddof);
        if (op == TSR_COL_STD)
          v = sqrt(v);
      }
      break;
    }
    *value = null ? NAN : v;
    if (is_null != NULL)
      *is_null = null;
  }
fail:
  if (!ran)
    status = tsr_ctx_agree(ctx, status);
  tsr_free(ctx, level);
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&g);
  return status;
}
