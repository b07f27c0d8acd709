/* structure_util.h — what the structure-op tests share: a seeded RNG,
 * random shapes (0 to 4 axes, zero extents) with random chunkings
 * (1-element chunks, ragged chunks, one chunk, irregular explicit grids),
 * dense inputs of every dtype, naive element access for the references, and
 * a look into the lowered task graph (task counts, fan-in). */
#ifndef TSR_STRUCTURE_UTIL_H
#define TSR_STRUCTURE_UTIL_H

#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>

#include "array/array_impl.h"
#include "sched/taskgraph_impl.h"

static uint64_t su_state = 0x9e3779b97f4a7c15ull;
static inline void su_seed(uint64_t seed) { su_state = seed ? seed : 1; }
/* xorshift64*: fixed seed, reproducible. */
static inline uint64_t su_rand(void) {
  su_state ^= su_state >> 12;
  su_state ^= su_state << 25;
  su_state ^= su_state >> 27;
  return su_state * 0x2545f4914f6cdd1dull;
}
static inline int64_t su_range(int64_t lo, int64_t hi) { /* [lo, hi] */
  return lo + (int64_t)(su_rand() % (uint64_t)(hi - lo + 1));
}

static inline void su_configure(tsr_ctx *ctx, int config) {
  static const int threads[] = {1, 1, 2, 4};
  config %= 4;
  assert_ok(tsr_ctx_set_executor(ctx, config == 0 ? TSR_EXECUTOR_SERIAL : TSR_EXECUTOR_OMP));
  assert_ok(tsr_ctx_set_threads(ctx, threads[config]));
}

static inline int64_t su_size(int ndim, const int64_t *shape) {
  int64_t n = 1;
  for (int d = 0; d < ndim; d++)
    n *= shape[d];
  return n;
}

/* A random shape of ndim axes with extents 0..max (zero rarely). */
static inline void su_shape(int ndim, int64_t max, int64_t *shape) {
  for (int d = 0; d < ndim; d++)
    shape[d] = su_rand() % 12 == 0 ? 0 : su_range(1, max);
}

/* Fills n elements of dtype with small exact values (so casts are exact
 * and no NaN payloads are involved). */
static inline void su_fill(void *buf, tsr_dtype dtype, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    int64_t v = su_range(-60, 60);
    switch (dtype) {
    case TSR_BOOL:
      ((uint8_t *)buf)[i] = (uint8_t)(v & 1);
      break;
    case TSR_INT8:
      ((int8_t *)buf)[i] = (int8_t)v;
      break;
    case TSR_INT16:
      ((int16_t *)buf)[i] = (int16_t)(v * 300);
      break;
    case TSR_INT32:
      ((int32_t *)buf)[i] = (int32_t)(v * 70000);
      break;
    case TSR_INT64:
      ((int64_t *)buf)[i] = v * 5000000000ll;
      break;
    case TSR_UINT8:
      ((uint8_t *)buf)[i] = (uint8_t)(v + 60);
      break;
    case TSR_UINT16:
      ((uint16_t *)buf)[i] = (uint16_t)((v + 60) * 500);
      break;
    case TSR_UINT32:
      ((uint32_t *)buf)[i] = (uint32_t)((v + 60) * 30000000);
      break;
    case TSR_UINT64:
      ((uint64_t *)buf)[i] = (uint64_t)(v + 60) * 100000000000000000ull;
      break;
    case TSR_FLOAT32:
      ((float *)buf)[i] = (float)v * 0.25f;
      break;
    default:
      ((double *)buf)[i] = (double)v * 0.125;
      break;
    }
  }
}

/* Reads element i of a dtype buffer exactly (long double holds every value
 * of every dtype here). */
static inline long double su_get(const void *buf, tsr_dtype dtype, int64_t i) {
  switch (dtype) {
  case TSR_BOOL:
  case TSR_UINT8:
    return ((const uint8_t *)buf)[i];
  case TSR_INT8:
    return ((const int8_t *)buf)[i];
  case TSR_INT16:
    return ((const int16_t *)buf)[i];
  case TSR_INT32:
    return ((const int32_t *)buf)[i];
  case TSR_INT64:
    return (long double)((const int64_t *)buf)[i];
  case TSR_UINT16:
    return ((const uint16_t *)buf)[i];
  case TSR_UINT32:
    return ((const uint32_t *)buf)[i];
  case TSR_UINT64:
    return (long double)((const uint64_t *)buf)[i];
  case TSR_FLOAT32:
    return ((const float *)buf)[i];
  default:
    return ((const double *)buf)[i];
  }
}

static inline void su_set(void *buf, tsr_dtype dtype, int64_t i, long double v) {
  switch (dtype) {
  case TSR_BOOL:
    ((uint8_t *)buf)[i] = v != 0;
    break;
  case TSR_INT8:
    ((int8_t *)buf)[i] = (int8_t)v;
    break;
  case TSR_INT16:
    ((int16_t *)buf)[i] = (int16_t)v;
    break;
  case TSR_INT32:
    ((int32_t *)buf)[i] = (int32_t)v;
    break;
  case TSR_INT64:
    ((int64_t *)buf)[i] = (int64_t)v;
    break;
  case TSR_UINT8:
    ((uint8_t *)buf)[i] = (uint8_t)v;
    break;
  case TSR_UINT16:
    ((uint16_t *)buf)[i] = (uint16_t)v;
    break;
  case TSR_UINT32:
    ((uint32_t *)buf)[i] = (uint32_t)v;
    break;
  case TSR_UINT64:
    ((uint64_t *)buf)[i] = (uint64_t)v;
    break;
  case TSR_FLOAT32:
    ((float *)buf)[i] = (float)v;
    break;
  default:
    ((double *)buf)[i] = (double)v;
    break;
  }
}

/* A random explicit grid over shape: per axis 1-element chunks, one chunk,
 * or random extents 1..4 (ragged). */
static inline tsr_chunk_grid *su_random_grid(tsr_ctx *ctx, int ndim, const int64_t *shape) {
  int64_t *lists[TSR_MAX_NDIM], n[TSR_MAX_NDIM];
  for (int d = 0; d < ndim; d++) {
    lists[d] = malloc(sizeof(int64_t) * (size_t)(shape[d] + 1));
    n[d] = 0;
    int mode = (int)(su_rand() % 4);
    int64_t left = shape[d];
    if (left == 0)
      lists[d][n[d]++] = 0;
    while (left > 0) {
      int64_t e = mode == 0 ? 1 : mode == 1 ? left : su_range(1, 4);
      e = e > left ? left : e;
      lists[d][n[d]++] = e;
      left -= e;
    }
  }
  tsr_chunk_grid *g = NULL;
  assert_ok(tsr_chunk_grid_create_explicit(ctx, ndim, (const int64_t *const *)lists, n, &g));
  for (int d = 0; d < ndim; d++)
    free(lists[d]);
  return g;
}

/* A lazily chunked array over a copy of buf: uniform random chunks, and
 * half of the time rechunked to an irregular random grid. */
static inline tsr_array *su_array(tsr_ctx *ctx, tsr_dtype dtype, int ndim, const int64_t *shape,
                                  const void *buf) {
  int64_t chunks[TSR_MAX_NDIM];
  for (int d = 0; d < ndim; d++)
    chunks[d] = su_rand() % 3 == 0 ? -1 : su_range(1, 4);
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_buffer(ctx, dtype, ndim, shape, chunks, (void *)buf, TSR_BUFFER_COPY,
                                  NULL, NULL, &a));
  if (su_rand() % 2 == 0) {
    tsr_chunk_grid *g = su_random_grid(ctx, ndim, shape);
    tsr_array *r = NULL;
    assert_ok(tsr_rechunk_grid(a, g, &r));
    tsr_chunk_grid_destroy(&g);
    tsr_array_destroy(&a);
    a = r;
  }
  return a;
}

/* Computes a into a new malloc'ed buffer (caller frees). */
static inline void *su_compute(tsr_array *a) {
  size_t bytes = (size_t)tsr_array_nbytes(a);
  void *buf = malloc(bytes + 1);
  assert_ok(tsr_array_to_buffer(a, buf, bytes));
  return buf;
}

/* C-order strides (elements) of a shape. */
static inline void su_strides(int ndim, const int64_t *shape, int64_t *stride) {
  int64_t s = 1;
  for (int d = ndim - 1; d >= 0; d--) {
    stride[d] = s;
    s *= shape[d];
  }
}

/* Advances a C-order multi-index; false after the last. */
static inline bool su_next(int ndim, const int64_t *shape, int64_t *idx) {
  for (int d = ndim - 1; d >= 0; d--) {
    if (++idx[d] < shape[d])
      return true;
    idx[d] = 0;
  }
  return false;
}

/* The lowered graph of a (tasks of a and everything it needs). */
typedef struct su_graph {
  uint32_t tasks;       /* in the whole graph */
  uint32_t max_fan_in;  /* over the whole graph */
  uint32_t node_fan_in; /* over the tasks of a's own chunks */
  uint64_t edges;
} su_graph;

static inline su_graph su_lower(tsr_array *a) {
  tsr_ctx *ctx = a->expr->ctx;
  tsr_taskgraph *g = NULL;
  tsr__lowering *l = NULL;
  const uint32_t *ids;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  assert_ok(tsr__lowering_create(ctx, g, &l));
  assert_ok(tsr__lowering_lower(l, a->expr, &ids));
  su_graph r = {g->n_tasks, 0, 0, g->n_edges};
  for (uint32_t t = 0; t < g->n_tasks; t++)
    if (tsr__task_n_inputs(g, t) > r.max_fan_in)
      r.max_fan_in = tsr__task_n_inputs(g, t);
  for (int64_t c = 0; c < tsr_chunk_grid_nchunks(a->expr->grid); c++)
    if (tsr__task_n_inputs(g, ids[c]) > r.node_fan_in)
      r.node_fan_in = tsr__task_n_inputs(g, ids[c]);
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&g);
  return r;
}

#endif /* TSR_STRUCTURE_UTIL_H */
