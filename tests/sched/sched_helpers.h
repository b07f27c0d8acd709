/* sched_helpers.h — shared by the tests of tests/sched/: a seeded random
 * generator, a plain description of a task graph (inputs in CSR form, a
 * kernel and a keep flag per task) with builders for random DAGs and simple
 * shapes, the "mix" kernels that compute a deterministic, non-commutative
 * double from a task's inputs, the naive reference that computes the same
 * values with a plain loop over task ids, and executor configurations.
 *
 * Kernels never call cmocka asserts (they run on worker threads): a kernel
 * that sees something wrong fails the run with a message, which the test then
 * prints through assert_ok. */
#ifndef TSR_SCHED_HELPERS_H
#define TSR_SCHED_HELPERS_H

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "test_util.h"

/* ---- random numbers ------------------------------------------------------ */

typedef struct sched_rng {
  uint64_t state;
} sched_rng;

/* splitmix64 (Steele, Lea & Flood 2014). */
static inline uint64_t sched_rng_next(sched_rng *r) {
  uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint32_t sched_rng_below(sched_rng *r, uint32_t n) {
  return (uint32_t)(sched_rng_next(r) % n);
}

/* ---- a graph description ------------------------------------------------- */

#define SCHED_MAX_KERNELS 8

typedef struct sched_dag {
  uint32_t n;
  uint32_t *in_off; /* n + 1 */
  uint32_t *inputs; /* in_off[n] */
  uint8_t *kernel;  /* index into the kernel table, per task */
  uint8_t *keep;    /* per task */
  uint32_t *n_consumers;
  uint32_t cap_tasks, cap_edges;
} sched_dag;

static inline void sched_dag_init(sched_dag *d, uint32_t n, uint32_t cap_edges) {
  d->n = 0;
  d->cap_tasks = n;
  d->cap_edges = cap_edges;
  d->in_off = calloc((size_t)n + 1, sizeof *d->in_off);
  d->inputs = calloc(cap_edges ? cap_edges : 1, sizeof *d->inputs);
  d->kernel = calloc(n ? n : 1, 1);
  d->keep = calloc(n ? n : 1, 1);
  d->n_consumers = calloc(n ? n : 1, sizeof *d->n_consumers);
  assert_non_null(d->in_off);
  assert_non_null(d->inputs);
  assert_non_null(d->kernel);
  assert_non_null(d->keep);
  assert_non_null(d->n_consumers);
}

static inline void sched_dag_free(sched_dag *d) {
  free(d->in_off);
  free(d->inputs);
  free(d->kernel);
  free(d->keep);
  free(d->n_consumers);
  memset(d, 0, sizeof *d);
}

/* Appends a task; returns its id. */
static inline uint32_t sched_dag_add(sched_dag *d, uint8_t kernel, const uint32_t *inputs,
                                     uint32_t n_inputs) {
  uint32_t t = d->n;
  uint32_t off = d->in_off[t];
  assert_true(t < d->cap_tasks);
  assert_true(off + n_inputs <= d->cap_edges);
  for (uint32_t i = 0; i < n_inputs; i++) {
    assert_true(inputs[i] < t);
    d->inputs[off + i] = inputs[i];
    d->n_consumers[inputs[i]]++;
  }
  d->in_off[t + 1] = off + n_inputs;
  d->kernel[t] = kernel;
  d->n = t + 1;
  return t;
}

/* Keeps every sink (a task nobody consumes). */
static inline void sched_dag_keep_sinks(sched_dag *d) {
  for (uint32_t t = 0; t < d->n; t++)
    if (d->n_consumers[t] == 0)
      d->keep[t] = 1;
}

/* A random DAG of n tasks: fan-in 0..4, each input a random earlier task
 * (half of them among the 64 previous tasks, half anywhere earlier), kernel
 * chosen among n_kernels; about 1% of tasks kept, plus every sink. */
static inline void sched_dag_random(sched_dag *d, uint32_t n, uint64_t seed, int n_kernels) {
  sched_dag_init(d, n, 4 * n);
  sched_rng r = {seed};
  for (uint32_t t = 0; t < n; t++) {
    uint32_t in[4];
    uint32_t fan_in = t == 0 ? 0 : sched_rng_below(&r, 5);
    for (uint32_t i = 0; i < fan_in; i++) {
      uint32_t window = t < 64 ? t : 64;
      in[i] = sched_rng_below(&r, 2) ? t - 1 - sched_rng_below(&r, window) : sched_rng_below(&r, t);
    }
    uint32_t id = sched_dag_add(d, (uint8_t)sched_rng_below(&r, (uint32_t)n_kernels), in, fan_in);
    if (sched_rng_below(&r, 100) == 0)
      d->keep[id] = 1;
  }
  sched_dag_keep_sinks(d);
}

/* ---- the value of a task -------------------------------------------------- */

static const double sched_kernel_bias[SCHED_MAX_KERNELS] = {0.0,  0.25, 0.5,  0.75,
                                                            1.25, 1.5,  1.75, 2.0};

/* Deterministic and non-commutative in the inputs: swapping two inputs
 * changes the value.  fmod keeps values bounded. */
static inline double sched_value(uint32_t id, int kernel, const double *in, uint32_t n_in) {
  double v = sin((double)id) + sched_kernel_bias[kernel];
  for (uint32_t k = 0; k < n_in; k++)
    v += (double)(k + 1) * in[k] * 0.5;
  return fmod(v, 1000.0);
}

/* The naive reference: a plain loop over ids (ids are topological). */
static inline double *sched_reference(const sched_dag *d) {
  double *v = malloc((d->n ? d->n : 1) * sizeof *v);
  double in[64];
  assert_non_null(v);
  for (uint32_t t = 0; t < d->n; t++) {
    uint32_t n_in = d->in_off[t + 1] - d->in_off[t];
    assert_true(n_in <= 64);
    for (uint32_t k = 0; k < n_in; k++)
      in[k] = v[d->inputs[d->in_off[t] + k]];
    v[t] = sched_value(t, d->kernel[t], in, n_in);
  }
  return v;
}

/* What the mix kernels' user pointer points at. */
typedef struct sched_kernel_info {
  int index;          /* into sched_kernel_bias */
  uint32_t fail_task; /* with `armed`: this task fails */
  _Atomic int armed;  /* non-zero: fail_task fails */
  int fail_mode;      /* 0: TSR_EIO with a message; 1: TSR_EIO, no message; 2: 12345 */
  _Atomic uint64_t calls;
  int spin_ns; /* busy-wait this long per task (0: none) */
} sched_kernel_info;

static inline double sched_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline tsr_status sched_mix_kernel(const tsr_kernel_call *call) {
  sched_kernel_info *info = call->user;
  atomic_fetch_add_explicit(&info->calls, 1, memory_order_relaxed);
  if (info->spin_ns > 0) {
    double until = sched_now() + 1e-9 * info->spin_ns;
    while (sched_now() < until) {
    }
  }
  if (atomic_load(&info->armed) && call->task == info->fail_task) {
    if (info->fail_mode == 0)
      return tsr_error_set(TSR_EIO, "disk on fire at 42");
    if (info->fail_mode == 1)
      return TSR_EIO;
    return (tsr_status)12345;
  }
  double in[64];
  if (call->n_inputs > 64)
    return tsr_error_set(TSR_EINTERNAL, "test kernel: %u inputs", call->n_inputs);
  if (call->output_bytes != sizeof(double) || call->output == NULL)
    return tsr_error_set(TSR_EINTERNAL, "test kernel: task %u has output_bytes %zu", call->task,
                         call->output_bytes);
  for (uint32_t k = 0; k < call->n_inputs; k++) {
    if (call->inputs[k] == NULL || call->input_bytes[k] != sizeof(double))
      return tsr_error_set(TSR_EINTERNAL, "test kernel: task %u input %u is %p with %zu bytes",
                           call->task, k, (const void *)call->inputs[k], call->input_bytes[k]);
    memcpy(&in[k], call->inputs[k], sizeof(double));
  }
  double v = sched_value(call->task, info->index, in, call->n_inputs);
  memcpy(call->output, &v, sizeof v);
  return TSR_OK;
}

static const char *const sched_kernel_names[SCHED_MAX_KERNELS] = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"};

/* Builds `d` into a new graph of ctx, registering n_kernels mix kernels
 * (infos[i] is kernel i's user data, its index set here). */
static inline void sched_build(tsr_ctx *ctx, const sched_dag *d, int n_kernels,
                               sched_kernel_info *infos, tsr_taskgraph **out) {
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  for (int k = 0; k < n_kernels; k++) {
    uint32_t id;
    infos[k].index = k;
    assert_ok(tsr_taskgraph_add_kernel(g, sched_kernel_names[k], sched_mix_kernel, &infos[k], &id));
    assert_int_equal(id, (uint32_t)k);
  }
  for (uint32_t t = 0; t < d->n; t++) {
    uint32_t id;
    assert_ok(tsr_taskgraph_add_task(g, d->kernel[t], d->inputs + d->in_off[t],
                                     d->in_off[t + 1] - d->in_off[t], NULL, 0, sizeof(double),
                                     &id));
    assert_int_equal(id, t);
    if (d->keep[t])
      assert_ok(tsr_taskgraph_keep(g, t));
  }
  *out = g;
}

/* Asserts that every kept output is bitwise equal to the reference. */
static inline void sched_check_outputs(const tsr_taskgraph *g, const sched_dag *d,
                                       const double *ref) {
  for (uint32_t t = 0; t < d->n; t++) {
    if (!d->keep[t])
      continue;
    const void *data = NULL;
    size_t bytes = 0;
    assert_ok(tsr_taskgraph_output(g, t, &data, &bytes));
    assert_int_equal(bytes, sizeof(double));
    assert_non_null(data);
    if (memcmp(data, &ref[t], sizeof(double)) != 0) {
      double got;
      memcpy(&got, data, sizeof got);
      print_error("task %u: got %.17g, reference %.17g\n", t, got, ref[t]);
      fail();
    }
  }
}

/* ---- executor configurations ----------------------------------------------- */

typedef struct sched_config {
  tsr_executor executor;
  int threads;
} sched_config;

static inline void sched_configure(tsr_ctx *ctx, sched_config c) {
  assert_ok(tsr_ctx_set_executor(ctx, c.executor));
  assert_ok(tsr_ctx_set_threads(ctx, c.threads));
}

static inline const char *sched_config_name(sched_config c, char *buf, size_t size) {
  snprintf(buf, size, "%s/%d", c.executor == TSR_EXECUTOR_SERIAL ? "serial" : "omp", c.threads);
  return buf;
}

static inline uint64_t sched_current_bytes(tsr_ctx *ctx) {
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(ctx, &m));
  return m.current_bytes;
}

#endif /* TSR_SCHED_HELPERS_H */
