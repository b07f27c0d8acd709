/* test_executor.c — the executors against a naive reference.
 *
 *   - random_dag: 10^5 tasks with fan-in 0..4 on random earlier tasks, three
 *     kernels; each task's double is a non-commutative function of its
 *     inputs and id (sched_value); about 1% of tasks plus every sink kept.
 *     The kept outputs must be bitwise equal to a plain loop over ids, for the
 *     serial executor and the OpenMP executor at 1, 2, 4 and 8 threads; the
 *     run statistics must count every task (per kernel too) and the threads;
 *     after a run only the kept outputs may remain allocated besides the
 *     graph's own structures, and destroying the graph frees everything.
 *   - shapes: a chain, independent tasks, a binary reduction tree and a wide
 *     fan-out, on serial and 2 and 4 threads.
 *   - chunks_freed_after_last_consumer: a pairwise sum tree over 1 MiB
 *     chunks under a memory limit far below the total of all chunks (about
 *     16 chunks above the graph's own memory): it only fits if every chunk is
 *     freed right after its last consumer and the run goes depth-first. */
#include "sched_helpers.h"

static const sched_config all_configs[] = {
    {TSR_EXECUTOR_SERIAL, 1}, {TSR_EXECUTOR_OMP, 1}, {TSR_EXECUTOR_OMP, 2},
    {TSR_EXECUTOR_OMP, 4},    {TSR_EXECUTOR_OMP, 8},
};
static const sched_config small_configs[] = {
    {TSR_EXECUTOR_SERIAL, 1},
    {TSR_EXECUTOR_OMP, 2},
    {TSR_EXECUTOR_OMP, 4},
};

static int cancel_at_once(uint64_t done, uint64_t total, void *user) {
  (void)done;
  (void)total;
  (void)user;
  return 1;
}

/* Checks the statistics of a successful run of `d` on configuration `c`. */
static void check_stats(const tsr_taskgraph *g, const sched_dag *d, int n_kernels, sched_config c) {
  const tsr_run_stats *s = tsr_taskgraph_stats(g);
  assert_non_null(s);
  assert_int_equal(s->executor, c.executor);
  assert_int_equal(s->threads, c.executor == TSR_EXECUTOR_SERIAL ? 1 : c.threads);
  assert_int_equal(s->tasks, d->n);
  assert_int_equal(s->tasks_run, d->n);
  assert_int_equal(s->tasks_cancelled, 0);
  assert_int_equal(s->tasks_failed, 0);
  assert_int_equal(s->chunk_bytes, (uint64_t)d->n * sizeof(double));
  if (s->threads == 1)
    assert_int_equal(s->steals, 0);
  assert_true(s->seconds >= 0);
  assert_int_equal(s->n_kernels, (uint32_t)n_kernels);
  assert_non_null(s->kernels);
  uint64_t counts[SCHED_MAX_KERNELS] = {0};
  for (uint32_t t = 0; t < d->n; t++)
    counts[d->kernel[t]]++;
  for (int k = 0; k < n_kernels; k++) {
    assert_string_equal(s->kernels[k].name, sched_kernel_names[k]);
    assert_int_equal(s->kernels[k].tasks, counts[k]);
    assert_true(s->kernels[k].seconds >= 0);
  }
}

static void test_executor__random_dag(void **state) {
  tsr_ctx *ctx = *state;
  const uint32_t n = 100000;
  const int n_kernels = 3;
  sched_dag d;
  sched_dag_random(&d, n, 20240611, n_kernels);
  double *ref = sched_reference(&d);
  uint64_t kept_bytes = 0;
  uint32_t n_kept = 0;
  for (uint32_t t = 0; t < n; t++)
    if (d.keep[t]) {
      kept_bytes += sizeof(double);
      n_kept++;
    }
  assert_true(n_kept > n / 100); /* 1% plus the sinks */

  sched_kernel_info infos[3];
  memset(infos, 0, sizeof infos);
  tsr_taskgraph *g = NULL;
  sched_build(ctx, &d, n_kernels, infos, &g);
  assert_int_equal(tsr_taskgraph_ntasks(g), n);
  assert_int_equal(tsr_taskgraph_nedges(g), d.in_off[n]);

  /* The graph's own memory with no chunk held: after a run that was
   * cancelled (which frees every chunk). */
  sched_configure(ctx, all_configs[0]);
  tsr_run_options cancel = {.progress = cancel_at_once, .progress_interval = 1e-9};
  assert_fails(tsr_taskgraph_run_ex(g, &cancel), TSR_ECANCELED, "cancel");
  const uint64_t structures = sched_current_bytes(ctx);

  char name[32];
  /* Each OpenMP configuration three times: schedules differ from run to run. */
  for (size_t r = 0; r < 3 * (sizeof all_configs / sizeof all_configs[0]); r++) {
    const size_t c = r % (sizeof all_configs / sizeof all_configs[0]);
    if (r >= sizeof all_configs / sizeof all_configs[0] &&
        all_configs[c].executor == TSR_EXECUTOR_SERIAL)
      continue;
    sched_configure(ctx, all_configs[c]);
    tsr_status status = tsr_taskgraph_run(g);
    if (status != TSR_OK)
      print_error("config %s: %s\n", sched_config_name(all_configs[c], name, sizeof name),
                  tsr_last_error());
    assert_ok(status);
    sched_check_outputs(g, &d, ref);
    check_stats(g, &d, n_kernels, all_configs[c]);
    /* Only kept outputs remain: what the run added over the graph's own
     * structures is the kept bytes plus at most one pointer per task (the
     * table of kept outputs).  The 98% of chunks that were not kept are 8
     * bytes each, so leaking even one would show. */
    uint64_t current = sched_current_bytes(ctx);
    assert_true(current >= structures + kept_bytes);
    if (current - structures - kept_bytes > (uint64_t)n * sizeof(void *))
      print_error("config %s: %llu bytes held beyond structures and kept outputs\n",
                  sched_config_name(all_configs[c], name, sizeof name),
                  (unsigned long long)(current - structures - kept_bytes));
    assert_true(current - structures - kept_bytes <= (uint64_t)n * sizeof(void *));
    if (r == 0)
      print_message("after a run: %llu bytes of structures, %llu kept, %llu of bookkeeping\n",
                    (unsigned long long)structures, (unsigned long long)kept_bytes,
                    (unsigned long long)(current - structures - kept_bytes));
  }
  uint64_t calls = 0;
  for (int k = 0; k < n_kernels; k++)
    calls += atomic_load(&infos[k].calls);
  assert_true(calls >= 13ull * n); /* every task ran once per run */

  tsr_taskgraph_destroy(&g);
  assert_null(g);
  assert_int_equal(sched_current_bytes(ctx), 0);
  free(ref);
  sched_dag_free(&d);
}

/* Runs `d` on each small configuration and checks kept outputs and stats. */
static void run_shape(tsr_ctx *ctx, const sched_dag *d, int n_kernels, const char *shape) {
  double *ref = sched_reference(d);
  sched_kernel_info infos[SCHED_MAX_KERNELS];
  memset(infos, 0, sizeof infos);
  tsr_taskgraph *g = NULL;
  sched_build(ctx, d, n_kernels, infos, &g);
  char name[32];
  for (size_t c = 0; c < sizeof small_configs / sizeof small_configs[0]; c++) {
    sched_configure(ctx, small_configs[c]);
    tsr_status status = tsr_taskgraph_run(g);
    if (status != TSR_OK)
      print_error("%s on %s: %s\n", shape, sched_config_name(small_configs[c], name, sizeof name),
                  tsr_last_error());
    assert_ok(status);
    sched_check_outputs(g, d, ref);
    check_stats(g, d, n_kernels, small_configs[c]);
  }
  tsr_taskgraph_destroy(&g);
  assert_int_equal(sched_current_bytes(ctx), 0);
  free(ref);
}

static void test_executor__shapes(void **state) {
  tsr_ctx *ctx = *state;
  const uint32_t n = 10000;
  sched_dag d;

  /* A chain: each task consumes the previous one. */
  sched_dag_init(&d, n, n);
  for (uint32_t t = 0; t < n; t++) {
    uint32_t prev = t - 1;
    sched_dag_add(&d, (uint8_t)(t % 2), t ? &prev : NULL, t ? 1 : 0);
    if (t % 1000 == 999)
      d.keep[t] = 1;
  }
  sched_dag_keep_sinks(&d);
  run_shape(ctx, &d, 2, "chain");
  sched_dag_free(&d);

  /* Independent tasks, all kept. */
  sched_dag_init(&d, n, 0);
  for (uint32_t t = 0; t < n; t++) {
    sched_dag_add(&d, (uint8_t)(t % 3), NULL, 0);
    d.keep[t] = 1;
  }
  run_shape(ctx, &d, 3, "independent");
  sched_dag_free(&d);

  /* A binary reduction tree over 5000 leaves (odd levels carry one task). */
  const uint32_t leaves = 5000;
  sched_dag_init(&d, 3 * leaves, 3 * leaves);
  uint32_t *level = malloc(leaves * sizeof *level);
  assert_non_null(level);
  for (uint32_t i = 0; i < leaves; i++)
    level[i] = sched_dag_add(&d, 0, NULL, 0);
  uint32_t width = leaves;
  while (width > 1) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < width; i += 2)
      level[m++] = sched_dag_add(&d, 1, &level[i], i + 1 < width ? 2 : 1);
    width = m;
  }
  d.keep[level[0]] = 1;
  assert_int_equal(d.n_consumers[level[0]], 0);
  run_shape(ctx, &d, 2, "reduction tree");
  free(level);
  sched_dag_free(&d);

  /* A wide fan-out: one root, 10^4 consumers, one sink on 64 of them. */
  sched_dag_init(&d, n + 2, n + 64);
  uint32_t root = sched_dag_add(&d, 0, NULL, 0);
  for (uint32_t i = 0; i < n; i++)
    sched_dag_add(&d, 1, &root, 1);
  uint32_t picks[64];
  for (uint32_t i = 0; i < 64; i++)
    picks[i] = 1 + (i * 7919u) % n; /* spread over the consumers, not in id order */
  uint32_t sink = sched_dag_add(&d, 2, picks, 64);
  d.keep[sink] = 1;
  d.keep[root] = 1;
  d.keep[n / 2] = 1;
  run_shape(ctx, &d, 3, "fan-out");
  sched_dag_free(&d);
}

/* ---- chunk lifetime under a memory limit ---------------------------------- */

#define CHUNK_BYTES ((size_t)1 << 20)
#define CHUNK_DOUBLES (CHUNK_BYTES / sizeof(double))

typedef struct leaf_params {
  uint32_t leaf;
} leaf_params;

/* Element j of leaf i: an integer, so that sums are exact in any order. */
static double leaf_value(uint32_t leaf, size_t j) {
  return (double)((leaf * 131u + j * 7u) % 1024u);
}

static tsr_status fill_kernel(const tsr_kernel_call *call) {
  const leaf_params *p = call->params;
  if (call->output_bytes != CHUNK_BYTES || call->params_bytes != sizeof *p)
    return tsr_error_set(TSR_EINTERNAL, "fill: bad call for task %u", call->task);
  double *out = call->output;
  for (size_t j = 0; j < CHUNK_DOUBLES; j++)
    out[j] = leaf_value(p->leaf, j);
  return TSR_OK;
}

static tsr_status add_kernel(const tsr_kernel_call *call) {
  if (call->output_bytes != CHUNK_BYTES || call->n_inputs < 1 || call->n_inputs > 2)
    return tsr_error_set(TSR_EINTERNAL, "add: bad call for task %u", call->task);
  double *out = call->output;
  const double *a = call->inputs[0];
  if (call->n_inputs == 1) {
    memcpy(out, a, CHUNK_BYTES);
    return TSR_OK;
  }
  const double *b = call->inputs[1];
  for (size_t j = 0; j < CHUNK_DOUBLES; j++)
    out[j] = a[j] + b[j];
  return TSR_OK;
}

static void test_executor__chunks_freed_after_last_consumer(void **state) {
  tsr_ctx *ctx = *state;
  const uint32_t leaves = 96; /* 96 MiB of leaves, 191 MiB of chunks in all */
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k_fill, k_add;
  assert_ok(tsr_taskgraph_add_kernel(g, "fill", fill_kernel, NULL, &k_fill));
  assert_ok(tsr_taskgraph_add_kernel(g, "add", add_kernel, NULL, &k_add));
  uint32_t level[96];
  for (uint32_t i = 0; i < leaves; i++) {
    leaf_params p = {i};
    assert_ok(tsr_taskgraph_add_task(g, k_fill, NULL, 0, &p, sizeof p, CHUNK_BYTES, &level[i]));
  }
  uint32_t width = leaves;
  while (width > 1) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < width; i += 2)
      assert_ok(tsr_taskgraph_add_task(g, k_add, &level[i], i + 1 < width ? 2 : 1, NULL, 0,
                                       CHUNK_BYTES, &level[m++]));
    width = m;
  }
  const uint32_t root = level[0];
  assert_ok(tsr_taskgraph_keep(g, root));
  const uint32_t ntasks = tsr_taskgraph_ntasks(g);

  /* The graph's own memory during a run (structures, run state) is measured
   * on a run of the same graph cancelled at once; 64 KiB of slack covers the
   * run's bookkeeping, which is a few KiB for 200 tasks. */
  tsr_run_options cancel = {.progress = cancel_at_once, .progress_interval = 1e-9};
  sched_configure(ctx, small_configs[0]);
  assert_fails(tsr_taskgraph_run_ex(g, &cancel), TSR_ECANCELED, "cancel");
  const uint64_t base = sched_current_bytes(ctx);
  const uint64_t slack = 64u << 10;

  double *expected = malloc(CHUNK_BYTES);
  assert_non_null(expected);
  for (size_t j = 0; j < CHUNK_DOUBLES; j++) {
    double sum = 0;
    for (uint32_t i = 0; i < leaves; i++)
      sum += leaf_value(i, j);
    expected[j] = sum;
  }

  /* Depth-first, the serial executor holds at most ~log2(96) + 2 = 9
   * chunks.  Two threads each work depth-first on their own subtrees, and
   * partial sums wait at the boundaries between them: up to 15 chunks were
   * seen in ~700 runs, some under ASan and CPU contention, so the 2-thread
   * limit is 24 chunks, still 1/8 of the 191 chunks of the run. */
  const struct {
    sched_config config;
    uint64_t chunks;
  } cases[] = {{{TSR_EXECUTOR_SERIAL, 1}, 12}, {{TSR_EXECUTOR_OMP, 2}, 24}};
  char name[32];
  for (size_t c = 0; c < 2; c++) {
    const sched_config config = cases[c].config;
    const uint64_t limit = base + slack + cases[c].chunks * CHUNK_BYTES;
    assert_true((uint64_t)ntasks * CHUNK_BYTES > 4 * limit); /* every chunk at once would not fit */
    assert_ok(tsr_ctx_set_memory_limit(ctx, limit));
    sched_configure(ctx, config);
    tsr_status status = tsr_taskgraph_run(g);
    if (status != TSR_OK)
      print_error("config %s: %s\n", sched_config_name(config, name, sizeof name),
                  tsr_last_error());
    assert_ok(status);
    const tsr_run_stats *s = tsr_taskgraph_stats(g);
    assert_int_equal(s->tasks_run, ntasks);
    assert_int_equal(s->chunk_bytes, (uint64_t)ntasks * CHUNK_BYTES);
    assert_true(s->peak_bytes <= limit);
    assert_true(s->peak_bytes >= base + 2 * CHUNK_BYTES); /* an add holds three chunks */
    const void *data;
    size_t bytes;
    assert_ok(tsr_taskgraph_output(g, root, &data, &bytes));
    assert_int_equal(bytes, CHUNK_BYTES);
    assert_memory_equal(data, expected, CHUNK_BYTES);
    /* Only the root's chunk is still held. */
    assert_true(sched_current_bytes(ctx) <= base + slack + CHUNK_BYTES);
  }
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
  tsr_taskgraph_destroy(&g);
  assert_int_equal(sched_current_bytes(ctx), 0);
  free(expected);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_executor__random_dag, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_executor__shapes, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_executor__chunks_freed_after_last_consumer,
                                      test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
