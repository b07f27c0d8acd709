/* bench_sched.c — workload A8 (docs/benchmarks.md): the runtime's own cost per
 * task, on graphs of 10^6 tasks with empty kernels, beside OpenMP's
 * `task depend` running the same graph in the same process.
 *
 * Graph shapes: independent tasks; one chain; a binary reduction tree; a
 * random DAG where each task consumes 3 random earlier tasks.  For each:
 *   build_ns_per_task  create the graph and add every task;
 *   run_ns_per_task    the first run: finalize (successor lists, priority
 *                      order) + execution;
 *   rerun_ns_per_task  a second run of the finalized graph;
 *   bytes_per_task     the context allocator's peak during the run / tasks
 *                      (graph, finalized structures and run state);
 *   vs_omp_depend      run_ns_per_task / the OpenMP baseline's ns per task.
 * Medians over --reps repetitions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include <tessera/tessera.h>

#include "bench_common.h"

enum shape { INDEPENDENT, CHAIN, TREE, RANDOM3, N_SHAPES };
static const char *shape_names[] = {"independent", "chain", "tree", "random3"};

/* The shape as plain arrays: inputs of task i are in[off[i]..off[i+1]). */
typedef struct plain_graph {
  uint32_t n;
  uint32_t *off;
  uint32_t *in;
} plain_graph;

static uint64_t splitmix(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static plain_graph plain_alloc(uint32_t n, const char *what) {
  plain_graph p = {n, calloc((size_t)n + 1, sizeof(uint32_t)),
                   malloc(3 * (size_t)n * sizeof(uint32_t))};
  if (p.off == NULL || p.in == NULL) {
    fprintf(stderr, "error: out of memory making the %s graph\n", what);
    exit(1);
  }
  return p;
}

/* A binary reduction tree with about n tasks: n/2 + 1 leaves, then levels
 * that each combine neighbouring pairs (an odd last task passes alone). */
static plain_graph make_tree(uint32_t n) {
  plain_graph p = plain_alloc(n + 64, "tree");
  uint32_t leaves = n / 2 + 1, id = 0, e = 0;
  for (; id < leaves; id++)
    p.off[id + 1] = e;
  uint32_t level_start = 0, level_len = leaves;
  while (level_len > 1) {
    uint32_t next_start = id;
    for (uint32_t j = 0; j < level_len; j += 2) {
      p.in[e++] = level_start + j;
      if (j + 1 < level_len)
        p.in[e++] = level_start + j + 1;
      p.off[++id] = e;
    }
    level_len = id - next_start;
    level_start = next_start;
  }
  p.n = id;
  return p;
}

static plain_graph make_shape(enum shape s, uint32_t n) {
  if (s == TREE)
    return make_tree(n);
  plain_graph p = plain_alloc(n, shape_names[s]);
  uint64_t rng = 42;
  uint32_t e = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (s == CHAIN && i > 0)
      p.in[e++] = i - 1;
    if (s == RANDOM3)
      for (uint32_t k = 0; k < 3 && k < i; k++)
        p.in[e++] = (uint32_t)(splitmix(&rng) % i);
    p.off[i + 1] = e;
  }
  return p;
}

static tsr_status empty_kernel(const tsr_kernel_call *call) {
  (void)call;
  return TSR_OK;
}

typedef struct tessera_times {
  double build, run, rerun, bytes;
} tessera_times;

static tessera_times time_tessera(tsr_ctx *ctx, const plain_graph *p) {
  tessera_times t;
  double t0 = bench_now();
  tsr_taskgraph *g;
  uint32_t k, id;
  CHECK(tsr_taskgraph_create(ctx, &g));
  CHECK(tsr_taskgraph_add_kernel(g, "empty", empty_kernel, NULL, &k));
  for (uint32_t i = 0; i < p->n; i++)
    CHECK(tsr_taskgraph_add_task(g, k, p->in + p->off[i], p->off[i + 1] - p->off[i], NULL, 0, 0,
                                 &id));
  double t1 = bench_now();
  CHECK(tsr_taskgraph_run(g));
  double t2 = bench_now();
  t.bytes = (double)tsr_taskgraph_stats(g)->peak_bytes / p->n;
  CHECK(tsr_taskgraph_run(g));
  double t3 = bench_now();
  tsr_taskgraph_destroy(&g);
  t.build = (t1 - t0) / p->n * 1e9;
  t.run = (t2 - t1) / p->n * 1e9;
  t.rerun = (t3 - t2) / p->n * 1e9;
  return t;
}

/* An empty body the compiler cannot see through. */
static void (*volatile omp_body)(uint32_t) = NULL;
static void omp_empty(uint32_t i) { (void)i; }

/* The same graph as OpenMP tasks with dependences on one byte per task. */
static double time_omp_depend(const plain_graph *p, int threads) {
  char *dep = calloc(p->n, 1);
  omp_body = omp_empty;
  double t0 = bench_now();
#pragma omp parallel num_threads(threads)
#pragma omp single
  for (uint32_t i = 0; i < p->n; i++) {
    const uint32_t *in = p->in + p->off[i];
    switch (p->off[i + 1] - p->off[i]) {
    case 0:
#pragma omp task depend(out : dep[i]) firstprivate(i)
      omp_body(i);
      break;
    case 1:
#pragma omp task depend(in : dep[in[0]]) depend(out : dep[i]) firstprivate(i)
      omp_body(i);
      break;
    case 2:
#pragma omp task depend(in : dep[in[0]], dep[in[1]]) depend(out : dep[i]) firstprivate(i)
      omp_body(i);
      break;
    default:
#pragma omp task depend(in                                               \
                        : dep[in[0]], dep[in[1]], dep[in[2]]) depend(out \
                                                                     : dep[i]) firstprivate(i)
      omp_body(i);
      break;
    }
  }
  double t = bench_now() - t0;
  free(dep);
  return t / p->n * 1e9;
}

int main(int argc, char **argv) {
  long tasks = 1000000, reps = 5, threads = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--tasks") == 0 && i + 1 < argc)
      tasks = bench_parse_long("--tasks", argv[++i], 2, 100000000);
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc)
      reps = bench_parse_long("--reps", argv[++i], 1, 1000);
    else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = bench_parse_long("--threads", argv[++i], 1, TSR_MAX_THREADS);
    else {
      fprintf(stderr, "usage: bench_sched [--tasks N] [--reps R] [--threads T]\n");
      return 2;
    }
  }
  tsr_ctx *ctx;
  CHECK(tsr_ctx_create(&ctx));
  if (threads > 0)
    CHECK(tsr_ctx_set_threads(ctx, (int)threads));
  int nthreads = tsr_ctx_threads(ctx);
  double stream = bench_stream_triad(1u << 24, nthreads, 10);
  printf("# bench_sched (A8): empty kernels, %d threads, medians of %ld runs\n", nthreads, reps);
  printf("# STREAM triad: %.2f GB/s (for reference: empty kernels touch no data, so no "
         "bandwidth fraction applies)\n",
         stream / 1e9);
  printf("graph\timpl\ttasks\tbuild_ns_per_task\trun_ns_per_task\trerun_ns_per_task\t"
         "bytes_per_task\tvs_omp_depend\n");
  for (int s = 0; s < N_SHAPES; s++) {
    plain_graph p = make_shape((enum shape)s, (uint32_t)tasks);
    double *build = malloc(reps * sizeof(double)), *run = malloc(reps * sizeof(double));
    double *rerun = malloc(reps * sizeof(double)), *bytes = malloc(reps * sizeof(double));
    double *omp = malloc(reps * sizeof(double));
    for (long r = 0; r < reps; r++) {
      /* Alternate the two so that machine noise hits both alike. */
      tessera_times t = time_tessera(ctx, &p);
      build[r] = t.build;
      run[r] = t.run;
      rerun[r] = t.rerun;
      bytes[r] = t.bytes;
      omp[r] = time_omp_depend(&p, nthreads);
    }
    double omp_med = bench_median(omp, (int)reps);
    double run_med = bench_median(run, (int)reps);
    printf("%s\ttessera\t%u\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\n", shape_names[s], p.n,
           bench_median(build, (int)reps), run_med, bench_median(rerun, (int)reps),
           bench_median(bytes, (int)reps), run_med / omp_med);
    printf("%s\tomp-task-depend\t%u\t-\t%.1f\t-\t-\t1.00\n", shape_names[s], p.n, omp_med);
    fflush(stdout);
    free(build), free(run), free(rerun), free(bytes), free(omp);
    free(p.off), free(p.in);
  }
  tsr_ctx_destroy(&ctx);
  return 0;
}
