/* reduce.c — reductions over any set of axes: sum, prod, mean, var, std,
 * min, max, any, all, count_nonzero, the nan- variants, argmin and argmax.
 *
 * Lowering (Dask's reduction with split_every): one task per input chunk
 * reduces the chunk into a partial state (the chunk's shape with the
 * reduced axes set to 1); partial states of the chunks that meet in one
 * output chunk are combined in a tree of fixed fan-in, the root of which
 * also finalizes (mean = sum / n, ...).  The tree's shape depends only on
 * the chunking, so results are bitwise identical for any thread count.
 *
 * The per-chunk task evaluates the reduced expression with the fused
 * program of its elementwise input (fused.c), block by block, straight into
 * the accumulators: sum(sqrt(x*x + y*y)) is one task per chunk.  The
 * program's last instruction casts to the accumulator's type (int64,
 * uint64 or float64), so the accumulation code here handles three types.
 *
 * Accuracy: sums of floats inside a chunk are pairwise (NumPy's scheme:
 * 8-way unrolled blocks, then a binary cascade over blocks), variances are
 * two-pass per block and merged with Chan et al.'s formula. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/pairwise_sum.h"
#include "fused.h"

enum { K_I64 = 0, K_U64 = 1, K_F64 = 2 };
enum { F_SUM, F_PROD, F_MIN, F_MAX, F_MEAN, F_VAR, F_ARGMIN, F_ARGMAX };

/* Internal ops beyond the public enum. */
#define REDUCE_ARGMIN TSR_NUM_REDUCE_OPS
#define REDUCE_ARGMAX (TSR_NUM_REDUCE_OPS + 1)

typedef struct reduce_spec {
  tsr__fused *fused; /* the program reduced (owned) */
  int32_t op;        /* tsr_reduce_op, or REDUCE_ARG* */
  int32_t family;    /* F_* */
  int32_t kind;      /* K_*: the accumulator's type */
  int32_t skip_nan;  /* nan- variants */
  int32_t nfields;   /* 8-byte fields of state per output element */
  int32_t out_dtype; /* tsr_dtype */
  int32_t ddof;
  int32_t split_every;
  int32_t ndim;                /* of the iteration space (the input) */
  uint32_t reduced;            /* bit d: axis d is reduced */
  int32_t flatten_arg;         /* argmin/argmax over the flattened array */
  int64_t space[TSR_MAX_NDIM]; /* the input's shape */
  tsr_chunk_grid *in_grid;     /* the input's chunk grid (owned) */
  struct reduce_joint *joint;  /* during one compute: siblings sharing its pass */
} reduce_spec;

/* Reductions of the same values over the same chunks, computed in one pass
 * per chunk (set up by tsr__reduce_link for one compute).  A joint chunk
 * task's output is a header of JOINT_HEADER bytes (member k's state offset
 * in int64 k) followed by every member's partial state. */
#define JOINT_MAX 4
#define JOINT_HEADER 64
typedef struct reduce_joint {
  int n;
  reduce_spec *members[JOINT_MAX];
  uint32_t *chunk_ids; /* per input chunk, once lowered; NULL before */
} reduce_joint;

static const char *const reduce_names[TSR_NUM_REDUCE_OPS + 2] = {
    "sum",    "prod",   "mean",          "var",    "std",     "min",     "max",
    "any",    "all",    "count_nonzero", "nansum", "nanprod", "nanmean", "nanvar",
    "nanstd", "nanmin", "nanmax",        "argmin", "argmax"};

const char *tsr_reduce_op_name(tsr_reduce_op op) {
  return (unsigned)op < TSR_NUM_REDUCE_OPS ? reduce_names[op] : "invalid";
}

/* ---- accumulating a block --------------------------------------------------- */

typedef struct chunk_acc {
  const reduce_spec *spec;
  unsigned char *state; /* nfields arrays of n_out 8-byte values */
  int64_t n_out;
  tsr__cascade run; /* for sums reduced along the run */
} chunk_acc;

#define FIELD(acc, f, T) ((T *)((acc)->state + (size_t)(f) * (size_t)(acc)->n_out * 8))

/* Chan et al.: merges (nb, mb, m2b) into (n, mean, m2) at index o. */
static inline void chan_merge(double *n, double *mean, double *m2, double nb, double mb,
                              double m2b) {
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

static tsr_status visit_reduce(void *user, const void *values, size_t n, const int64_t *off,
                               const int64_t *stride, bool run_end) {
  chunk_acc *acc = user;
  const reduce_spec *s = acc->spec;
  int64_t o = off[0];
  bool along = stride[0] == 0; /* the whole block reduces into state[o] */
  switch (s->family) {
  case F_SUM:
    if (s->kind == K_F64) {
      const double *v = values;
      double clean[TSR__BLOCK];
      if (s->skip_nan) {
        for (size_t j = 0; j < n; j++)
          clean[j] = v[j] != v[j] ? 0.0 : v[j];
        v = clean;
      }
      double *sum = FIELD(acc, 0, double);
      if (along) {
        tsr__cascade_push(&acc->run, tsr__pairwise_sum(v, n));
        if (run_end)
          sum[o] += tsr__cascade_take(&acc->run);
      } else {
        for (size_t j = 0; j < n; j++)
          sum[o + (int64_t)j] += v[j];
      }
    } else {
      const uint64_t *v = values;
      uint64_t *sum = FIELD(acc, 0, uint64_t);
      if (along) {
        uint64_t t = 0;
        for (size_t j = 0; j < n; j++)
          t += v[j];
        sum[o] += t;
      } else {
        for (size_t j = 0; j < n; j++)
          sum[o + (int64_t)j] += v[j];
      }
    }
    break;
  case F_PROD:
    if (s->kind == K_F64) {
      const double *v = values;
      double *p = FIELD(acc, 0, double);
      for (size_t j = 0; j < n; j++) {
        double x = v[j];
        if (s->skip_nan && x != x)
          continue;
        p[along ? o : o + (int64_t)j] *= x;
      }
    } else {
      const uint64_t *v = values;
      uint64_t *p = FIELD(acc, 0, uint64_t);
      for (size_t j = 0; j < n; j++)
        p[along ? o : o + (int64_t)j] *= v[j];
    }
    break;
  case F_MIN:
  case F_MAX: {
    bool is_min = s->family == F_MIN;
#define MINMAX_LOOP(T, BETTER)                           \
  do {                                                   \
    const T *v = values;                                 \
    T *m = FIELD(acc, 0, T);                             \
    for (size_t j = 0; j < n; j++) {                     \
      T x = v[j], *cur = &m[along ? o : o + (int64_t)j]; \
      if (BETTER)                                        \
        *cur = x;                                        \
    }                                                    \
  } while (0)
    if (s->kind == K_F64) {
      /* min: NaN wins and stays; nanmin: NaN never wins, and the state
       * starts as NaN meaning "nothing seen". */
      if (s->skip_nan)
        MINMAX_LOOP(double, x == x && (*cur != *cur || (is_min ? x < *cur : x > *cur)));
      else
        MINMAX_LOOP(double, *cur == *cur && (x != x || (is_min ? x < *cur : x > *cur)));
    } else if (s->kind == K_I64) {
      MINMAX_LOOP(int64_t, is_min ? x < *cur : x > *cur);
    } else {
      MINMAX_LOOP(uint64_t, is_min ? x < *cur : x > *cur);
    }
#undef MINMAX_LOOP
    break;
  }
  case F_MEAN: {
    const double *v = values;
    double *sum = FIELD(acc, 0, double), *cnt = FIELD(acc, 1, double);
    double clean[TSR__BLOCK];
    size_t valid = n;
    if (s->skip_nan) {
      valid = 0;
      for (size_t j = 0; j < n; j++) {
        bool ok = v[j] == v[j];
        clean[j] = ok ? v[j] : 0.0;
        valid += ok;
        if (!along)
          cnt[o + (int64_t)j] += ok;
      }
      v = clean;
    } else if (!along) {
      for (size_t j = 0; j < n; j++)
        cnt[o + (int64_t)j] += 1;
    }
    if (along) {
      cnt[o] += (double)valid;
      tsr__cascade_push(&acc->run, tsr__pairwise_sum(v, n));
      if (run_end)
        sum[o] += tsr__cascade_take(&acc->run);
    } else {
      for (size_t j = 0; j < n; j++)
        sum[o + (int64_t)j] += v[j];
    }
    break;
  }
  case F_VAR: {
    const double *v = values;
    double *cnt = FIELD(acc, 0, double), *mean = FIELD(acc, 1, double), *m2 = FIELD(acc, 2, double);
    if (along) { /* two passes over the block, then merge */
      double clean[TSR__BLOCK];
      size_t m = 0;
      for (size_t j = 0; j < n; j++)
        if (!s->skip_nan || v[j] == v[j])
          clean[m++] = v[j];
      if (m == 0)
        break;
      double mb = tsr__pairwise_sum(clean, m) / (double)m;
      for (size_t j = 0; j < m; j++)
        clean[j] = (clean[j] - mb) * (clean[j] - mb);
      chan_merge(&cnt[o], &mean[o], &m2[o], (double)m, mb, tsr__pairwise_sum(clean, m));
    } else { /* Welford, one element per output */
      for (size_t j = 0; j < n; j++) {
        double x = v[j];
        if (s->skip_nan && x != x)
          continue;
        int64_t i = o + (int64_t)j;
        cnt[i] += 1;
        double d = x - mean[i];
        mean[i] += d / cnt[i];
        m2[i] += d * (x - mean[i]);
      }
    }
    break;
  }
  case F_ARGMIN:
  case F_ARGMAX: {
    bool is_min = s->family == F_ARGMIN;
    int64_t *idx = FIELD(acc, 1, int64_t);
    int64_t i0 = off[1], is = stride[1];
#define ARG_LOOP(T, BETTER, SAME)                                         \
  do {                                                                    \
    const T *v = values;                                                  \
    T *val = FIELD(acc, 0, T);                                            \
    for (size_t j = 0; j < n; j++) {                                      \
      int64_t at = along ? o : o + (int64_t)j, ix = i0 + (int64_t)j * is; \
      T x = v[j], cur = val[at];                                          \
      if (idx[at] < 0 || (BETTER) || ((SAME) && ix < idx[at])) {          \
        val[at] = x;                                                      \
        idx[at] = ix;                                                     \
      }                                                                   \
    }                                                                     \
  } while (0)
    /* The extreme with the smallest index wins, whatever order chunks and
     * blocks are visited in; a NaN is the extreme (NumPy). */
    if (s->kind == K_F64)
      ARG_LOOP(double, cur == cur && (x != x || (is_min ? x < cur : x > cur)),
               x == cur || (x != x && cur != cur));
    else if (s->kind == K_I64)
      ARG_LOOP(int64_t, is_min ? x < cur : x > cur, x == cur);
    else
      ARG_LOOP(uint64_t, is_min ? x < cur : x > cur, x == cur);
#undef ARG_LOOP
    break;
  }
  default:
    break;
  }
  return TSR_OK;
}

/* ---- states: init, combine, finalize ------------------------------------------- */

static void state_init(const reduce_spec *s, unsigned char *state, int64_t n) {
  double *f0 = (double *)state;
  int64_t *i0 = (int64_t *)state;
  uint64_t *u0 = (uint64_t *)state;
  memset(state, 0, (size_t)n * (size_t)s->nfields * 8);
  for (int64_t i = 0; i < n; i++) {
    switch (s->family) {
    case F_PROD:
      if (s->kind == K_F64)
        f0[i] = 1.0;
      else
        u0[i] = 1;
      break;
    case F_MIN:
    case F_MAX: {
      bool is_min = s->family == F_MIN;
      if (s->kind == K_F64)
        f0[i] = s->skip_nan ? NAN : is_min ? INFINITY : -INFINITY;
      else if (s->op == TSR_REDUCE_ANY || s->op == TSR_REDUCE_ALL)
        i0[i] = is_min ? 1 : 0; /* all() of nothing is true, any() false */
      else if (s->kind == K_I64)
        i0[i] = is_min ? INT64_MAX : INT64_MIN;
      else
        u0[i] = is_min ? UINT64_MAX : 0;
      break;
    }
    case F_ARGMIN:
    case F_ARGMAX:
      ((int64_t *)(state + (size_t)n * 8))[i] = -1; /* no index yet */
      break;
    default:
      break;
    }
  }
}

/* Merges state b into state a (n outputs each); b comes after a in C order
 * of the chunks, which decides ties of argmin/argmax. */
static void state_merge(const reduce_spec *s, unsigned char *a, const unsigned char *b, int64_t n) {
  /* A NaN in a partial sum or product is a real one (inf - inf), not a
   * skipped element: merge sums and products without skipping. */
  reduce_spec plain = *s;
  if (s->family == F_SUM || s->family == F_PROD)
    plain.skip_nan = 0;
  chunk_acc acc = {&plain, a, n, {0}};
  const double *bf0 = (const double *)b;
  const int64_t *bi0 = (const int64_t *)b;
  for (int64_t i = 0; i < n; i++) {
    switch (s->family) {
    case F_SUM:
    case F_PROD:
    case F_MIN:
    case F_MAX: {
      int64_t off = i, st = 0;
      visit_reduce(&acc, (const unsigned char *)b + i * 8, 1, &off, &st, true);
      break;
    }
    case F_MEAN:
      FIELD(&acc, 0, double)[i] += bf0[i];
      FIELD(&acc, 1, double)[i] += bf0[n + i];
      break;
    case F_VAR:
      chan_merge(&FIELD(&acc, 0, double)[i], &FIELD(&acc, 1, double)[i], &FIELD(&acc, 2, double)[i],
                 bf0[i], bf0[n + i], bf0[2 * n + i]);
      break;
    case F_ARGMIN:
    case F_ARGMAX: {
      if (bi0[n + i] < 0)
        break;
      int64_t off[2] = {i, bi0[n + i]}, st[2] = {0, 0};
      visit_reduce(&acc, (const unsigned char *)b + i * 8, 1, off, st, true);
      break;
    }
    default:
      break;
    }
  }
}

/* Converts a finished state into the output dtype. */
static tsr_status state_finalize(const reduce_spec *s, const unsigned char *state, int64_t n,
                                 void *out) {
  tsr_dtype od = (tsr_dtype)s->out_dtype;
  const double *f0 = (const double *)state;
  switch (s->family) {
  case F_SUM:
  case F_PROD:
  case F_MIN:
  case F_MAX: {
    tsr_dtype from = s->kind == K_F64 ? TSR_FLOAT64 : s->kind == K_I64 ? TSR_INT64 : TSR_UINT64;
    tsr__cast_loop(od, from, out, state, 1, (size_t)n);
    return TSR_OK;
  }
  case F_ARGMIN:
  case F_ARGMAX:
    memcpy(out, state + (size_t)n * 8, (size_t)n * 8);
    return TSR_OK;
  default:
    break;
  }
  double tmp[TSR__BLOCK];
  for (int64_t i0 = 0; i0 < n; i0 += TSR__BLOCK) {
    int64_t m = n - i0 < TSR__BLOCK ? n - i0 : TSR__BLOCK;
    for (int64_t j = 0; j < m; j++) {
      int64_t i = i0 + j;
      if (s->family == F_MEAN) {
        tmp[j] = f0[i] / f0[n + i];
      } else {
        double div = f0[i] - (double)s->ddof;
        double var = f0[2 * n + i] / (div > 0 ? div : 0.0);
        if (f0[i] == 0)
          var = NAN;
        tmp[j] = s->op == TSR_REDUCE_STD || s->op == TSR_REDUCE_NANSTD ? sqrt(var) : var;
      }
    }
    tsr__cast_loop(od, TSR_FLOAT64, (unsigned char *)out + (size_t)i0 * tsr_dtype_size(od), tmp, 1,
                   (size_t)m);
  }
  return TSR_OK;
}

/* ---- tasks ---------------------------------------------------------------------- */

typedef struct reduce_task {
  const reduce_spec *spec;
  tsr_ctx *ctx;
  int64_t n_out; /* outputs in this task's state */
  int32_t finalize;
  int32_t joint_member;      /* combine: inputs are joint chunk outputs, take this member's
                                state; -1: plain states */
  const reduce_joint *joint; /* chunk task: reduce every member in one pass */
} reduce_task;

static void task_of(const tsr_kernel_call *call, reduce_task *t, const tsr__block **b) {
  *b = call->params;
  memcpy(t, (const unsigned char *)call->params + tsr__block_extra_offset((*b)->ndim), sizeof *t);
}

/* Outputs of spec s in the block (the kept axes' extents). */
static int64_t block_outputs(const reduce_spec *s, int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    if (!((s->reduced >> d) & 1))
      n *= shape[d];
  return n;
}

/* Sets member k's extras (2k: its partial state, the chunk's shape with
 * reduced axes 1; 2k + 1: the index argmin/argmax report, relative to the
 * chunk) and returns the index base to add afterwards. */
static int64_t member_extras(const reduce_spec *s, tsr__walk *w, int k, int ndim,
                             const int64_t *shape, const int64_t *offset) {
  int64_t st = 1, *out_stride = w->stride[w->n_leaves + 2 * k];
  for (int d = ndim - 1; d >= 0; d--) {
    bool red = (s->reduced >> d) & 1;
    out_stride[d] = red ? 0 : st;
    st *= red ? 1 : shape[d];
  }
  int64_t *idx_stride = w->stride[w->n_leaves + 2 * k + 1], idx_base = 0;
  if (s->flatten_arg) {
    int64_t is = 1;
    for (int d = ndim - 1; d >= 0; d--) {
      idx_stride[d] = is;
      idx_base += offset[d] * is;
      is *= s->space[d];
    }
  } else {
    for (int d = 0; d < ndim; d++) {
      bool red = (s->reduced >> d) & 1;
      idx_stride[d] = red ? 1 : 0;
      idx_base += red ? offset[d] : 0;
    }
  }
  return idx_base;
}

typedef struct joint_acc {
  int n;
  chunk_acc acc[JOINT_MAX];
} joint_acc;

/* Every member reduces the same values, each with its own extras. */
static tsr_status visit_joint(void *user, const void *values, size_t n, const int64_t *off,
                              const int64_t *stride, bool run_end) {
  joint_acc *j = user;
  for (int k = 0; k < j->n; k++)
    TSR_TRY(visit_reduce(&j->acc[k], values, n, off + 2 * k, stride + 2 * k, run_end));
  return TSR_OK;
}

/* Reduces one input chunk (the block describes it in the input's space),
 * for one reduction or, in a joint task, for every member at once. */
static tsr_status chunk_kernel(const tsr_kernel_call *call) {
  const tsr__block *b;
  reduce_task t;
  task_of(call, &t, &b);
  int members = t.joint ? t.joint->n : 1;
  const reduce_spec *specs[JOINT_MAX] = {t.spec};
  for (int k = 0; t.joint && k < members; k++)
    specs[k] = t.joint->members[k];
  int ndim = b->ndim;
  const int64_t *shape = tsr__block_shape(b), *offset = tsr__block_offset(b);
  /* Where each member's state goes. */
  unsigned char *out = call->output;
  int64_t n_out[JOINT_MAX], at = t.joint ? JOINT_HEADER : 0, total_out = 0;
  unsigned char *states[JOINT_MAX];
  for (int k = 0; k < members; k++) {
    n_out[k] = t.joint ? block_outputs(specs[k], ndim, shape) : t.n_out;
    total_out += n_out[k];
    if (t.joint)
      ((int64_t *)out)[k] = at;
    states[k] = out ? out + at : NULL;
    at += n_out[k] * specs[k]->nfields * 8;
  }
  if (total_out == 0)
    return TSR_OK;
  tsr__walk walk, *w = &walk; /* on the stack: no allocation per task */
  tsr__walk_setup(w, specs[0]->fused, ndim, shape, offset, call->inputs, 2 * members);
  int64_t idx_base[JOINT_MAX];
  for (int k = 0; k < members; k++)
    idx_base[k] = member_extras(specs[k], w, k, ndim, shape, offset);
  tsr__walk_coalesce(w);
  unsigned char *partial = states[0];
  tsr_status status = TSR_OK;
  if (t.finalize) /* a single chunk per output: reduce, then finalize in place */
    status = tsr_alloc(t.ctx, (size_t)n_out[0] * (size_t)specs[0]->nfields * 8, (void **)&partial);
  if (t.finalize)
    states[0] = partial;
  tsr__eval ev = {0};
  joint_acc j = {members, {{0}}};
  if (status == TSR_OK) {
    for (int k = 0; k < members; k++) {
      state_init(specs[k], states[k], n_out[k]);
      j.acc[k] = (chunk_acc){specs[k], states[k], n_out[k], {0}};
    }
    status = tsr__eval_init(&ev, t.ctx, &specs[0]->fused->prog, (size_t)w->shape[w->ndim - 1]);
  }
  if (status == TSR_OK) {
    /* Indices come out relative to the chunk: add its base afterwards. */
    status = members == 1 ? tsr__walk_run(w, &ev, visit_reduce, &j.acc[0])
                          : tsr__walk_run(w, &ev, visit_joint, &j);
    for (int k = 0; status == TSR_OK && k < members; k++)
      if (specs[k]->family == F_ARGMIN || specs[k]->family == F_ARGMAX) {
        int64_t *ix = FIELD(&j.acc[k], 1, int64_t);
        for (int64_t i = 0; i < n_out[k]; i++)
          if (ix[i] >= 0)
            ix[i] += idx_base[k];
      }
  }
  if (status == TSR_OK && t.finalize)
    status = state_finalize(specs[0], partial, n_out[0], call->output);
  if (t.finalize)
    tsr_free(t.ctx, partial);
  tsr__eval_free(&ev, t.ctx);
  return status;
}

/* An input's partial state: a joint chunk output holds this member's at
 * the offset its header gives. */
static const unsigned char *member_state(const reduce_task *t, const void *input) {
  const unsigned char *p = input;
  return t->joint_member < 0 ? p : p + ((const int64_t *)input)[t->joint_member];
}

/* Combines the partial states of its inputs (in order); the root also
 * finalizes into the output dtype. */
static tsr_status combine_kernel(const tsr_kernel_call *call) {
  const tsr__block *b;
  reduce_task t;
  task_of(call, &t, &b);
  const reduce_spec *s = t.spec;
  if (t.n_out == 0)
    return TSR_OK;
  size_t bytes = (size_t)t.n_out * (size_t)s->nfields * 8;
  unsigned char *state = call->output;
  if (t.finalize)
    TSR_TRY(tsr_alloc(t.ctx, bytes, (void **)&state));
  memcpy(state, member_state(&t, call->inputs[0]), bytes);
  for (uint32_t i = 1; i < call->n_inputs; i++)
    state_merge(s, state, member_state(&t, call->inputs[i]), t.n_out);
  tsr_status status = TSR_OK;
  if (t.finalize) {
    status = state_finalize(s, state, t.n_out, call->output);
    tsr_free(t.ctx, state);
  }
  return status;
}

static tsr_status lower_reduce(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                               uint32_t *out) {
  const reduce_spec *s = e->params;
  const tsr_chunk_grid *ig = s->in_grid;
  int ndim = s->ndim;
  const char *name = reduce_names[s->op];
  uint32_t k_chunk, k_combine;
  TSR_TRY(tsr_taskgraph_add_kernel(g, name, chunk_kernel, NULL, &k_chunk));
  char combine_name[48];
  snprintf(combine_name, sizeof combine_name, "%s-combine", name);
  TSR_TRY(tsr_taskgraph_add_kernel(g, combine_name, combine_kernel, NULL, &k_combine));
  size_t off = tsr__block_extra_offset(ndim);
  _Alignas(16) unsigned char
      params[sizeof(tsr__block) + 3 * TSR_MAX_NDIM * sizeof(int64_t) + sizeof(reduce_task) + 8];
  tsr__block *b = (tsr__block *)params;
  /* Output chunk positions = chunk coordinates over the kept axes; the
   * chunks meeting in one are those over the reduced axes, in C order. */
  int64_t n_groups = 1, group_size = 1;
  for (int d = 0; d < ndim; d++) {
    if ((s->reduced >> d) & 1)
      group_size *= ig->nchunks[d];
    else
      n_groups *= ig->nchunks[d];
  }
  uint32_t ids[TSR__MAX_LEAVES];
  int64_t coords[TSR_MAX_NDIM];
  reduce_joint *joint = s->joint;
  int member = -1;
  for (int k = 0; joint != NULL && k < joint->n; k++)
    if (joint->members[k] == s)
      member = k;
  if (joint != NULL && joint->chunk_ids == NULL) {
    /* The first member lowered makes the shared pass: one task per input
     * chunk reducing the chunk for every member. */
    uint32_t k_joint;
    TSR_TRY(tsr_taskgraph_add_kernel(g, "joint-reduce", chunk_kernel, NULL, &k_joint));
    int64_t n_chunks = tsr_chunk_grid_nchunks(ig);
    TSR_TRY(tsr_alloc(e->ctx, (size_t)n_chunks * sizeof(uint32_t), (void **)&joint->chunk_ids));
    reduce_task jt = {joint->members[0], e->ctx, 0, 0, -1, joint};
    for (int64_t c = 0; c < n_chunks; c++) {
      tsr__block_describe(ig, c, 8, b);
      memcpy(params + off, &jt, sizeof jt);
      TSR_TRY(tsr_chunk_grid_coords(ig, c, coords));
      tsr__fused_task_inputs(s->fused, (const tsr__expr *const *)e->inputs, in, ndim, coords, ids);
      size_t bytes = JOINT_HEADER;
      for (int k = 0; k < joint->n; k++)
        bytes += (size_t)block_outputs(joint->members[k], ndim, tsr__block_shape(b)) *
                 (size_t)joint->members[k]->nfields * 8;
      TSR_TRY(tsr_taskgraph_add_task(g, k_joint, ids, e->n_inputs, params, off + sizeof jt, bytes,
                                     &joint->chunk_ids[c]));
    }
  }
  uint32_t *level = NULL;
  TSR_TRY(tsr_alloc(e->ctx, (size_t)group_size * sizeof *level, (void **)&level));
  size_t out_item = tsr_dtype_size(e->dtype);
  tsr_status status = TSR_OK;
  for (int64_t grp = 0; grp < n_groups && status == TSR_OK; grp++) {
    /* Kept coordinates of this group, in C order over the kept axes. */
    int64_t rest = grp, kept[TSR_MAX_NDIM] = {0};
    for (int d = ndim - 1; d >= 0; d--)
      if (!((s->reduced >> d) & 1)) {
        kept[d] = rest % ig->nchunks[d];
        rest /= ig->nchunks[d];
      }
    int64_t n_out = 1;
    for (int d = 0; d < ndim; d++)
      if (!((s->reduced >> d) & 1))
        n_out *= tsr__grid_extent(ig, d, kept[d]);
    size_t state_bytes = (size_t)n_out * (size_t)s->nfields * 8;
    size_t final_bytes = (size_t)n_out * out_item;
    bool single = group_size == 1 && joint == NULL;
    reduce_task t = {s, e->ctx, n_out, single, -1, NULL};
    for (int64_t m = 0; m < group_size && status == TSR_OK; m++) {
      int64_t r = m;
      for (int d = ndim - 1; d >= 0; d--) {
        if ((s->reduced >> d) & 1) {
          coords[d] = r % ig->nchunks[d];
          r /= ig->nchunks[d];
        } else {
          coords[d] = kept[d];
        }
      }
      int64_t c;
      status = tsr_chunk_grid_index(ig, coords, &c);
      if (status != TSR_OK)
        break;
      if (joint != NULL) { /* the shared pass's task for this chunk */
        level[m] = joint->chunk_ids[c];
        continue;
      }
      tsr__block_describe(ig, c, 8, b);
      memcpy(params + off, &t, sizeof t);
      tsr__fused_task_inputs(s->fused, (const tsr__expr *const *)e->inputs, in, ndim, coords, ids);
      status = tsr_taskgraph_add_task(g, k_chunk, ids, e->n_inputs, params, off + sizeof t,
                                      single ? final_bytes : state_bytes, &level[m]);
    }
    /* The tree: groups of split_every, level by level; the root finalizes. */
    int64_t count = group_size;
    int32_t from_joint = joint != NULL ? member : -1; /* the first level reads joint outputs */
    memset(b, 0, sizeof(tsr__block));
    while (status == TSR_OK && (count > 1 || from_joint >= 0)) {
      bool root = count <= s->split_every;
      int64_t next = 0;
      for (int64_t i = 0; i < count && status == TSR_OK; i += s->split_every) {
        int64_t fan = count - i < s->split_every ? count - i : s->split_every;
        reduce_task ct = {s, e->ctx, n_out, root, from_joint, NULL};
        memcpy(params + tsr__block_extra_offset(0), &ct, sizeof ct);
        status = tsr_taskgraph_add_task(g, k_combine, &level[i], (uint32_t)fan, params,
                                        tsr__block_extra_offset(0) + sizeof ct,
                                        root ? final_bytes : state_bytes, &level[next]);
        next++;
      }
      count = next;
      from_joint = -1;
    }
    out[grp] = level[0];
  }
  tsr_free(e->ctx, level);
  return status;
}

static void destroy_reduce(tsr__expr *e) {
  reduce_spec *s = e->params;
  tsr__fused_destroy(e->ctx, s->fused);
  tsr_chunk_grid_destroy(&s->in_grid);
}

static void hash_reduce(const tsr__expr *e, tsr__hash *h) {
  const reduce_spec *s = e->params;
  int32_t head[11] = {s->op,      s->family,           s->kind,       s->skip_nan,
                      s->nfields, s->out_dtype,        s->ddof,       s->split_every,
                      s->ndim,    (int32_t)s->reduced, s->flatten_arg};
  tsr__hash_bytes(h, head, sizeof head);
  tsr__hash_i64s(h, s->space, s->ndim);
  int nd = tsr_chunk_grid_ndim(s->in_grid);
  for (int d = 0; d < nd; d++) {
    int64_t n = tsr_chunk_grid_nchunks_axis(s->in_grid, d);
    tsr__hash_u64(h, (uint64_t)n);
    for (int64_t c = 0; c < n; c++)
      tsr__hash_u64(h, (uint64_t)tsr_chunk_grid_chunk_extent(s->in_grid, d, c));
  }
  tsr__fused_hash(s->fused, h);
}

static const tsr__op op_reduce = {"reduce", lower_reduce, destroy_reduce, false, NULL, hash_reduce};

bool tsr__reduce_program(const tsr__expr *e, const tsr__fused **f, const tsr_chunk_grid **space) {
  if (e->op != &op_reduce)
    return false;
  const reduce_spec *s = e->params;
  *f = s->fused;
  *space = s->in_grid;
  return true;
}

tsr_status tsr__reduce_rebuild(const tsr__expr *e, tsr__fused *f, tsr__expr **out) {
  *out = NULL;
  tsr__expr *inputs[TSR__MAX_LEAVES];
  uint32_t n_inputs = tsr__fused_inputs(f, inputs);
  const reduce_spec *s = e->params;
  reduce_spec *copy = NULL;
  tsr_chunk_grid *grid = NULL;
  tsr_status status = tsr_calloc(e->ctx, 1, sizeof *copy, (void **)&copy);
  if (status == TSR_OK) {
    *copy = *s;
    copy->fused = f;
    copy->in_grid = NULL;
    copy->joint = NULL;
    status = tsr__grid_copy(e->ctx, s->in_grid, &copy->in_grid);
  }
  if (status == TSR_OK)
    status = tsr__grid_copy(e->ctx, e->grid, &grid);
  if (status != TSR_OK) {
    tsr__fused_destroy(e->ctx, f);
    if (copy != NULL)
      tsr_chunk_grid_destroy(&copy->in_grid);
    tsr_free(e->ctx, copy);
    return status;
  }
  return tsr__expr_create(e->ctx, &op_reduce, e->dtype, grid, n_inputs, inputs, copy, out);
}

/* ---- building ----------------------------------------------------------------------- */

static int kind_of(tsr_dtype t) {
  if (tsr_dtype_is_float(t))
    return K_F64;
  return t == TSR_BOOL || tsr_dtype_is_signed(t) ? K_I64 : K_U64;
}
static tsr_dtype kind_dtype(int kind) {
  return kind == K_F64 ? TSR_FLOAT64 : kind == K_I64 ? TSR_INT64 : TSR_UINT64;
}

static tsr_status build(int op, tsr_array *a, const int *axes, int naxes, bool all_axes,
                        const tsr_reduce_options *opt, tsr_array **out) {
  const char *name = reduce_names[op];
  tsr_reduce_options defaults = {false, 0, 8};
  if (opt == NULL)
    opt = &defaults;
  int split_every = opt->split_every == 0 ? 8 : opt->split_every;
  TSR_CHECK(split_every >= 2, TSR_EINVAL, "%s: split_every = %d must be >= 2 (or 0 for 8)", name,
            opt->split_every);
  TSR_CHECK(naxes >= 0 && (naxes == 0 || axes != NULL), TSR_EINVAL,
            "%s: axes is NULL with naxes = %d", name, naxes);
  tsr__expr *in = a->expr;
  tsr_ctx *ctx = in->ctx;
  int ndim = in->grid->ndim;
  uint32_t reduced = 0;
  if (all_axes || naxes == 0) {
    reduced = ndim == 32 ? 0xffffffffu : (1u << ndim) - 1;
  } else {
    for (int i = 0; i < naxes; i++) {
      int ax;
      TSR_TRY(tsr__normalize_axis(name, axes[i], ndim, &ax));
      TSR_CHECK(!((reduced >> ax) & 1), TSR_EINVAL, "%s: axis %d is repeated in axes", name,
                axes[i]);
      reduced |= 1u << ax;
    }
  }
  int64_t n_reduced = 1;
  for (int d = 0; d < ndim; d++)
    if ((reduced >> d) & 1)
      n_reduced *= in->grid->shape[d];
  tsr_dtype t = in->dtype;
  reduce_spec spec = {0};
  spec.op = op;
  spec.ddof = opt->ddof;
  spec.split_every = split_every;
  spec.ndim = ndim;
  spec.reduced = reduced;
  spec.flatten_arg = all_axes && (op == REDUCE_ARGMIN || op == REDUCE_ARGMAX);
  memcpy(spec.space, in->grid->shape, (size_t)ndim * sizeof(int64_t));
  tsr_dtype acc_in; /* what the program's result is cast to */
  switch (op) {
  case TSR_REDUCE_SUM:
  case TSR_REDUCE_NANSUM:
  case TSR_REDUCE_PROD:
  case TSR_REDUCE_NANPROD:
    spec.family = op == TSR_REDUCE_SUM || op == TSR_REDUCE_NANSUM ? F_SUM : F_PROD;
    spec.kind = kind_of(t);
    spec.out_dtype = spec.kind == K_F64 ? t : kind_dtype(spec.kind);
    spec.skip_nan = op == TSR_REDUCE_NANSUM || op == TSR_REDUCE_NANPROD;
    break;
  case TSR_REDUCE_MIN:
  case TSR_REDUCE_MAX:
  case TSR_REDUCE_NANMIN:
  case TSR_REDUCE_NANMAX:
    TSR_CHECK(n_reduced > 0, TSR_EINVAL,
              "%s: zero-size array to reduction operation %s which has no identity", name, name);
    spec.family = op == TSR_REDUCE_MIN || op == TSR_REDUCE_NANMIN ? F_MIN : F_MAX;
    spec.kind = kind_of(t);
    spec.out_dtype = t;
    spec.skip_nan = op == TSR_REDUCE_NANMIN || op == TSR_REDUCE_NANMAX;
    break;
  case TSR_REDUCE_ANY:
  case TSR_REDUCE_ALL:
    spec.family = op == TSR_REDUCE_ANY ? F_MAX : F_MIN;
    spec.kind = K_I64;
    spec.out_dtype = TSR_BOOL;
    break;
  case TSR_REDUCE_COUNT_NONZERO:
    spec.family = F_SUM;
    spec.kind = K_I64;
    spec.out_dtype = TSR_INT64;
    break;
  case REDUCE_ARGMIN:
  case REDUCE_ARGMAX:
    TSR_CHECK(n_reduced > 0, TSR_EINVAL, "%s: attempt to get %s of an empty sequence", name, name);
    spec.family = op == REDUCE_ARGMIN ? F_ARGMIN : F_ARGMAX;
    spec.kind = kind_of(t);
    spec.out_dtype = TSR_INT64;
    break;
  default: /* mean, var, std and their nan- variants */
    spec.family = op == TSR_REDUCE_MEAN || op == TSR_REDUCE_NANMEAN ? F_MEAN : F_VAR;
    spec.kind = K_F64;
    spec.out_dtype = t == TSR_FLOAT32 ? TSR_FLOAT32 : TSR_FLOAT64;
    spec.skip_nan = op >= TSR_REDUCE_NANSUM;
    break;
  }
  spec.nfields = spec.family == F_MEAN     ? 2
                 : spec.family == F_VAR    ? 3
                 : spec.family >= F_ARGMIN ? 2
                                           : 1;
  acc_in = kind_dtype(spec.kind);

  tsr__builder *bl = NULL;
  reduce_spec *params = NULL;
  tsr__expr *inputs[TSR__MAX_LEAVES], *owned[TSR__MAX_LEAVES];
  uint32_t n_inputs = 0, n_owned = 0;
  tsr__expr *e = NULL;
  tsr_status status = TSR_OK;
  TSR__TRY_GOTO(status, tsr_alloc(ctx, sizeof *bl, (void **)&bl));
  tsr__builder_init(bl);
  uint16_t r;
  TSR__TRY_GOTO(status, tsr__builder_add(bl, name, in, &r));
  if (op == TSR_REDUCE_ANY || op == TSR_REDUCE_ALL || op == TSR_REDUCE_COUNT_NONZERO)
    TSR__TRY_GOTO(status, tsr__program_cast(&bl->prog, r, TSR_BOOL, &r));
  TSR__TRY_GOTO(status, tsr__program_cast(&bl->prog, r, acc_in, &r));
  TSR__TRY_GOTO(status, tsr__program_result_last(&bl->prog, r)); /* the reduced value */
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *params, (void **)&params));
  *params = spec;
  TSR__TRY_GOTO(status, tsr__builder_unify(bl, ctx, owned, &n_owned));
  TSR__TRY_GOTO(status, tsr__fused_grid(ctx, name, bl, &params->in_grid));
  TSR__TRY_GOTO(status, tsr__fused_make(ctx, bl, &params->fused, inputs, &n_inputs));
  /* The output grid: kept axes keep their chunks; with keepdims, reduced
   * axes are one chunk of extent 1. */
  {
    static const int64_t one_chunk[2] = {0, 1};
    tsr__grid_axis gaxes[TSR_MAX_NDIM];
    const tsr_chunk_grid *ig = params->in_grid;
    int od = 0;
    for (int d = 0; d < ndim; d++) {
      bool red = (reduced >> d) & 1;
      if (red && !opt->keepdims)
        continue;
      gaxes[od++] =
          red ? (tsr__grid_axis){NULL, 0, one_chunk, 1} : (tsr__grid_axis){ig, d, NULL, 0};
    }
    tsr_chunk_grid *grid = NULL;
    status = tsr__grid_from_axes(ctx, od, gaxes, &grid);
    if (status != TSR_OK)
      goto fail;
    /* The partial states (nfields 8-byte words per output element) must
     * obey the bytes bound too: the kernels size them unchecked. */
    int64_t state_bytes;
    status =
        tsr__shape_bytes(name, grid->ndim, grid->shape, (size_t)spec.nfields * 8, &state_bytes);
    if (status != TSR_OK) {
      tsr_chunk_grid_destroy(&grid);
      goto fail;
    }
    status = tsr__expr_create(ctx, &op_reduce, (tsr_dtype)spec.out_dtype, grid, n_inputs, inputs,
                              params, &e);
    params = NULL; /* adopted (freed on failure) */
    if (status != TSR_OK)
      goto fail;
  }
  tsr_free(ctx, bl);
  for (uint32_t i = 0; i < n_owned; i++)
    tsr__expr_release(&owned[i]);
  return tsr__array_wrap(e, out);
fail:
  for (uint32_t i = 0; i < n_owned; i++)
    tsr__expr_release(&owned[i]);
  if (params != NULL) {
    tsr__fused_destroy(ctx, params->fused);
    tsr_chunk_grid_destroy(&params->in_grid);
    tsr_free(ctx, params);
  }
  tsr_free(ctx, bl);
  return status;
}

tsr_status tsr_reduce(tsr_reduce_op op, tsr_array *a, const int *axes, int naxes,
                      const tsr_reduce_options *options, tsr_array **out) {
  static const char fn[] = "tsr_reduce";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK((unsigned)op < TSR_NUM_REDUCE_OPS, TSR_EINVAL, "%s: op = %d is not a tsr_reduce_op", fn,
            (int)op);
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s (%s): a is NULL", fn, reduce_names[op]);
  return build((int)op, a, axes, naxes, false, options, out);
}

tsr_status tsr_sum(tsr_array *a, const int *axes, int naxes, bool keepdims, tsr_array **out) {
  tsr_reduce_options o = {keepdims, 0, 0};
  return tsr_reduce(TSR_REDUCE_SUM, a, axes, naxes, &o, out);
}
tsr_status tsr_mean(tsr_array *a, const int *axes, int naxes, bool keepdims, tsr_array **out) {
  tsr_reduce_options o = {keepdims, 0, 0};
  return tsr_reduce(TSR_REDUCE_MEAN, a, axes, naxes, &o, out);
}
tsr_status tsr_std(tsr_array *a, const int *axes, int naxes, int ddof, bool keepdims,
                   tsr_array **out) {
  tsr_reduce_options o = {keepdims, ddof, 0};
  return tsr_reduce(TSR_REDUCE_STD, a, axes, naxes, &o, out);
}

static tsr_status arg(int op, tsr_array *a, int axis, bool flatten, tsr_array **out) {
  const char *fn = op == REDUCE_ARGMIN ? "tsr_argmin" : "tsr_argmax";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  if (flatten)
    return build(op, a, NULL, 0, true, NULL, out);
  int ax;
  TSR_TRY(tsr__normalize_axis(fn, axis, a->expr->grid->ndim, &ax));
  return build(op, a, &ax, 1, false, NULL, out);
}

tsr_status tsr_argmin(tsr_array *a, int axis, bool flatten, tsr_array **out) {
  return arg(REDUCE_ARGMIN, a, axis, flatten, out);
}
tsr_status tsr_argmax(tsr_array *a, int axis, bool flatten, tsr_array **out) {
  return arg(REDUCE_ARGMAX, a, axis, flatten, out);
}

/* ---- shared passes (horizontal fusion) -------------------------------------------------- */

struct tsr__reduce_links {
  size_t n;
  reduce_joint *joints[];
};

/* Reductions that can share a pass: the same values (program and leaves)
 * over the same chunks. */
static bool can_share(const reduce_spec *a, const reduce_spec *b) {
  if (!tsr__grid_equal(a->in_grid, b->in_grid) || a->fused->n_leaves != b->fused->n_leaves ||
      !tsr__program_equal(&a->fused->prog, &b->fused->prog))
    return false;
  for (uint32_t k = 0; k < a->fused->n_leaves; k++)
    if (a->fused->leaves[k].expr != b->fused->leaves[k].expr)
      return false;
  return true;
}

#define LINK_MAX_NODES 4096

tsr_status tsr__reduce_link(tsr_ctx *ctx, const tsr__lowering *l, size_t n, tsr__expr *const *roots,
                            tsr__reduce_links **out) {
  *out = NULL;
  tsr__expr **seen = NULL, **stack = NULL;
  reduce_spec **found = NULL;
  size_t n_seen = 0, n_stack = 0, n_found = 0;
  tsr_status status = TSR_OK;
  TSR__TRY_GOTO(status, tsr_alloc(ctx, LINK_MAX_NODES * sizeof *seen, (void **)&seen));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, LINK_MAX_NODES * sizeof *stack, (void **)&stack));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, LINK_MAX_NODES * sizeof *found, (void **)&found));
  for (size_t i = 0; i < n && n_stack < LINK_MAX_NODES; i++)
    stack[n_stack++] = tsr__lowering_target(l, roots[i]);
  /* Every node the outputs reach (a large graph is left as it is). */
  while (n_stack > 0) {
    tsr__expr *e = stack[--n_stack];
    bool dup = false;
    for (size_t i = 0; i < n_seen && !dup; i++)
      dup = seen[i] == e;
    if (dup)
      continue;
    if (n_seen == LINK_MAX_NODES)
      goto done;
    seen[n_seen++] = e;
    if (e->op == &op_reduce)
      found[n_found++] = e->params;
    for (uint32_t k = 0; k < e->n_inputs; k++) {
      if (n_stack == LINK_MAX_NODES)
        goto done;
      stack[n_stack++] = tsr__lowering_target(l, e->inputs[k]);
    }
  }
  size_t n_joints = 0;
  for (size_t i = 0; i < n_found; i++)
    n_joints += found[i]->joint == NULL;
  tsr__reduce_links *links;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *links + n_joints * sizeof(reduce_joint *),
                                   (void **)&links));
  *out = links;
  for (size_t i = 0; i < n_found; i++) {
    if (found[i]->joint != NULL)
      continue;
    reduce_joint j = {1, {found[i]}, NULL};
    for (size_t k = i + 1; k < n_found && j.n < JOINT_MAX; k++)
      if (found[k]->joint == NULL && can_share(found[i], found[k]))
        j.members[j.n++] = found[k];
    if (j.n < 2)
      continue;
    reduce_joint *copy;
    TSR__TRY_GOTO(status, tsr_alloc(ctx, sizeof *copy, (void **)&copy));
    *copy = j;
    links->joints[links->n++] = copy;
    for (int k = 0; k < j.n; k++)
      j.members[k]->joint = copy;
  }
done:
fail:
  tsr_free(ctx, seen);
  tsr_free(ctx, stack);
  tsr_free(ctx, found);
  if (status != TSR_OK)
    tsr__reduce_unlink(ctx, out);
  return status;
}

void tsr__reduce_unlink(tsr_ctx *ctx, tsr__reduce_links **links) {
  if (links == NULL || *links == NULL)
    return;
  for (size_t i = 0; i < (*links)->n; i++) {
    reduce_joint *j = (*links)->joints[i];
    for (int k = 0; k < j->n; k++)
      j->members[k]->joint = NULL;
    tsr_free(ctx, j->chunk_ids);
    tsr_free(ctx, j);
  }
  tsr_free(ctx, *links);
  *links = NULL;
}
