/* test_oom.c — out of memory while building and running task graphs.
 *
 *   - fail_nth_allocation_sweep: a small workload (~200 tasks with output
 *     chunks of varied sizes, 0 included: build, run, read the kept outputs)
 *     is attempted with the N-th allocation failing, for N = 1, 2, 3, ...
 *     Every attempt must fail with TSR_ENOMEM and a message, from building
 *     or from running, and leave nothing allocated once the graph is
 *     destroyed — until N passes the workload's allocation count, when it
 *     must succeed with the right outputs (and the injected failure must
 *     still be pending: no failure was swallowed).  On the serial executor
 *     and on the OpenMP executor at 2 threads.
 *   - memory_limit_below_one_output: a limit smaller than one task's output
 *     fails the run with TSR_ENOMEM saying "memory limit". */
#include "sched_helpers.h"

/* ---- the workload ----------------------------------------------------------- */

#define WORKLOAD_TASKS 200

typedef struct workload {
  sched_dag dag;
  size_t out_bytes[WORKLOAD_TASKS];
  unsigned char *expected[WORKLOAD_TASKS]; /* reference outputs */
} workload;

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
  const unsigned char *p = data;
  for (size_t i = 0; i < n; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* Output byte j of a task whose inputs hash to h. */
static unsigned char output_byte(uint64_t h, size_t j) {
  return (unsigned char)((h >> (8 * (j % 8))) + j * 31);
}

/* Hashes the task id, then each input's size and bytes in order. */
static tsr_status hash_kernel(const tsr_kernel_call *call) {
  uint64_t h = fnv1a(0xcbf29ce484222325ull, &call->task, sizeof call->task);
  for (uint32_t i = 0; i < call->n_inputs; i++) {
    uint64_t size = call->input_bytes[i];
    h = fnv1a(h, &size, sizeof size);
    if (size > 0)
      h = fnv1a(h, call->inputs[i], size);
  }
  unsigned char *out = call->output;
  for (size_t j = 0; j < call->output_bytes; j++)
    out[j] = output_byte(h, j);
  return TSR_OK;
}

static void workload_init(workload *w) {
  memset(w, 0, sizeof *w);
  sched_dag_init(&w->dag, WORKLOAD_TASKS, 3 * WORKLOAD_TASKS);
  sched_rng r = {555};
  for (uint32_t t = 0; t < WORKLOAD_TASKS; t++) {
    uint32_t in[3];
    uint32_t n_in = t < 10 ? 0 : sched_rng_below(&r, 4);
    for (uint32_t i = 0; i < n_in; i++)
      in[i] = t - 1 - sched_rng_below(&r, t < 20 ? t : 20);
    sched_dag_add(&w->dag, (uint8_t)(n_in == 0 ? 0 : 1), in, n_in);
    /* 0 to ~12 KiB, some empty. */
    w->out_bytes[t] = t % 17 == 5 ? 0 : (size_t)sched_rng_below(&r, 12000) + 1;
    if (t % 9 == 0)
      w->dag.keep[t] = 1;
  }
  sched_dag_keep_sinks(&w->dag);
  /* The reference: the same hash, in a plain loop over ids. */
  for (uint32_t t = 0; t < WORKLOAD_TASKS; t++) {
    uint64_t h = fnv1a(0xcbf29ce484222325ull, &t, sizeof t);
    for (uint32_t e = w->dag.in_off[t]; e < w->dag.in_off[t + 1]; e++) {
      uint32_t u = w->dag.inputs[e];
      uint64_t size = w->out_bytes[u];
      h = fnv1a(h, &size, sizeof size);
      if (size > 0)
        h = fnv1a(h, w->expected[u], size);
    }
    w->expected[t] = malloc(w->out_bytes[t] + 1);
    assert_non_null(w->expected[t]);
    for (size_t j = 0; j < w->out_bytes[t]; j++)
      w->expected[t][j] = output_byte(h, j);
  }
}

static void workload_free(workload *w) {
  for (uint32_t t = 0; t < WORKLOAD_TASKS; t++)
    free(w->expected[t]);
  sched_dag_free(&w->dag);
}

typedef enum phase { PHASE_BUILD, PHASE_RUN, PHASE_READ, PHASE_DONE } phase;

/* Builds, runs and reads the workload without asserting on statuses (any
 * step may fail); *where says how far it got.  Checks the outputs when the
 * run succeeds. */
static tsr_status attempt(tsr_ctx *ctx, const workload *w, phase *where) {
  tsr_taskgraph *g = NULL;
  tsr_status status;
  uint32_t k_src, k_mix, id;
  *where = PHASE_BUILD;
  if ((status = tsr_taskgraph_create(ctx, &g)) != TSR_OK)
    return status;
  if ((status = tsr_taskgraph_add_kernel(g, "source", hash_kernel, NULL, &k_src)) != TSR_OK)
    goto done;
  if ((status = tsr_taskgraph_add_kernel(g, "mix", hash_kernel, NULL, &k_mix)) != TSR_OK)
    goto done;
  const sched_dag *d = &w->dag;
  for (uint32_t t = 0; t < d->n; t++) {
    uint32_t n_in = d->in_off[t + 1] - d->in_off[t];
    uint64_t param = t; /* parameter blocks go through the allocator too */
    status = tsr_taskgraph_add_task(g, n_in ? k_mix : k_src, d->inputs + d->in_off[t], n_in, &param,
                                    sizeof param, w->out_bytes[t], &id);
    if (status != TSR_OK)
      goto done;
    if (d->keep[t] && (status = tsr_taskgraph_keep(g, t)) != TSR_OK)
      goto done;
  }
  *where = PHASE_RUN;
  if ((status = tsr_taskgraph_run(g)) != TSR_OK)
    goto done;
  *where = PHASE_READ;
  for (uint32_t t = 0; t < d->n; t++) {
    if (!d->keep[t])
      continue;
    const void *data;
    size_t bytes;
    if ((status = tsr_taskgraph_output(g, t, &data, &bytes)) != TSR_OK)
      goto done;
    assert_int_equal(bytes, w->out_bytes[t]);
    if (bytes > 0)
      assert_memory_equal(data, w->expected[t], bytes);
  }
  *where = PHASE_DONE;
done:
  tsr_taskgraph_destroy(&g);
  return status;
}

static void sweep(tsr_ctx *ctx, sched_config config) {
  workload w;
  workload_init(&w);
  sched_configure(ctx, config);
  static const char *const phase_names[] = {"build", "run", "read", "done"};
  int failures[3] = {0, 0, 0};
  bool succeeded = false;
  uint64_t n;
  for (n = 1; n < 100000 && !succeeded; n++) {
    tsr_memory_stats before, after;
    assert_ok(tsr_ctx_memory_stats(ctx, &before));
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_error_clear();
    phase where;
    tsr_status status = attempt(ctx, &w, &where);
    assert_ok(tsr_ctx_memory_stats(ctx, &after));
    /* Whatever happened, destroying the graph freed everything. */
    if (after.current_bytes != 0)
      print_error("N = %llu (%s): %llu bytes left after destroy\n", (unsigned long long)n,
                  phase_names[where], (unsigned long long)after.current_bytes);
    assert_int_equal(after.current_bytes, 0);
    uint64_t allocations = after.allocations - before.allocations;
    if (status == TSR_OK) {
      /* The injected failure cannot have fired: it must still be pending,
       * n - allocations allocations from now. */
      assert_int_equal(where, PHASE_DONE);
      if (allocations >= n)
        print_error("N = %llu succeeded after %llu allocations: a failure was swallowed\n",
                    (unsigned long long)n, (unsigned long long)allocations);
      assert_true(allocations < n);
      void *p[64];
      uint64_t pending = n - allocations;
      assert_true(pending <= 64);
      for (uint64_t i = 0; i + 1 < pending; i++)
        assert_ok(tsr_alloc(ctx, 1, &p[i]));
      void *q = (void *)1;
      assert_fails(tsr_alloc(ctx, 1, &q), TSR_ENOMEM, "injected");
      assert_null(q);
      for (uint64_t i = 0; i + 1 < pending; i++)
        tsr_free(ctx, p[i]);
      succeeded = true;
      break;
    }
    if (status != TSR_ENOMEM || tsr_last_error()[0] == '\0')
      print_error("N = %llu (%s): %s '%s'\n", (unsigned long long)n, phase_names[where],
                  tsr_status_name(status), tsr_last_error());
    assert_int_equal(status, TSR_ENOMEM);
    assert_true(tsr_last_error()[0] != '\0');
    assert_true(where == PHASE_BUILD || where == PHASE_RUN); /* reading allocates nothing */
    failures[where]++;
  }
  assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
  char name[32];
  print_message("sweep %s: %d failures while building, %d while running, success at N = %llu\n",
                sched_config_name(config, name, sizeof name), failures[PHASE_BUILD],
                failures[PHASE_RUN], (unsigned long long)n);
  assert_true(succeeded);
  assert_true(failures[PHASE_BUILD] + failures[PHASE_RUN] >= 20);
  assert_true(failures[PHASE_BUILD] >= 2);
  /* Every chunk is an allocation of the run: ~190 of them. */
  assert_true(failures[PHASE_RUN] >= WORKLOAD_TASKS / 2);
  workload_free(&w);
}

static void test_oom__fail_nth_allocation_sweep_serial(void **state) {
  sweep(*state, (sched_config){TSR_EXECUTOR_SERIAL, 1});
}

static void test_oom__fail_nth_allocation_sweep_omp2(void **state) {
  sweep(*state, (sched_config){TSR_EXECUTOR_OMP, 2});
}

static tsr_status big_kernel(const tsr_kernel_call *call) {
  memset(call->output, 0x5a, call->output_bytes);
  return TSR_OK;
}

static void test_oom__memory_limit_below_one_output(void **state) {
  tsr_ctx *ctx = *state;
  const sched_config configs[] = {{TSR_EXECUTOR_SERIAL, 1}, {TSR_EXECUTOR_OMP, 2}};
  for (size_t c = 0; c < 2; c++) {
    sched_configure(ctx, configs[c]);
    tsr_taskgraph *g = NULL;
    assert_ok(tsr_taskgraph_create(ctx, &g));
    uint32_t k, small, big;
    assert_ok(tsr_taskgraph_add_kernel(g, "big", big_kernel, NULL, &k));
    assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 4096, &small));
    assert_ok(tsr_taskgraph_add_task(g, k, &small, 1, NULL, 0, 1u << 20, &big));
    assert_ok(tsr_taskgraph_keep(g, big));
    /* Room for the run's bookkeeping and the small chunk, not for 1 MiB. */
    assert_ok(tsr_ctx_set_memory_limit(ctx, sched_current_bytes(ctx) + (256u << 10)));
    assert_fails(tsr_taskgraph_run(g), TSR_ENOMEM, "memory limit");
    char task_text[32];
    snprintf(task_text, sizeof task_text, "task %u", big);
    assert_non_null(strstr(tsr_last_error(), task_text));
    const tsr_run_stats *s = tsr_taskgraph_stats(g);
    assert_int_equal(s->tasks_run, 1);
    assert_int_equal(s->tasks_failed, 1);
    assert_int_equal(s->tasks_cancelled, 0);
    const void *data;
    size_t bytes;
    assert_fails(tsr_taskgraph_output(g, big, &data, &bytes), TSR_EINVAL, "no outputs");
    /* Lifting the limit lets it run. */
    assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
    assert_ok(tsr_taskgraph_run(g));
    assert_ok(tsr_taskgraph_output(g, big, &data, &bytes));
    assert_int_equal(bytes, 1u << 20);
    assert_int_equal(((const unsigned char *)data)[12345], 0x5a);
    tsr_taskgraph_destroy(&g);
    assert_int_equal(sched_current_bytes(ctx), 0);
  }
  /* A limit below the graph's own structures fails while building. */
  assert_ok(tsr_ctx_set_memory_limit(ctx, 16));
  tsr_taskgraph *g = (tsr_taskgraph *)1;
  assert_fails(tsr_taskgraph_create(ctx, &g), TSR_ENOMEM, "memory limit");
  assert_null(g);
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
}

/* Whatever allocation fails (set-up, a chunk, the end of the run), the
 * statistics account for every task: run + failed + cancelled == tasks.
 * (A regression test: the per-kernel table used to be allocated after the
 * tasks had run, and its failure left the counters at zero.) */
static tsr_status stats_fill_kernel(const tsr_kernel_call *call) {
  memset(call->output, 1, call->output_bytes);
  return TSR_OK;
}

static void test_oom__stats_add_up_after_any_failure(void **state) {
  tsr_ctx *ctx = *state;
  sched_configure(ctx, (sched_config){TSR_EXECUTOR_SERIAL, 1});
  const uint32_t n = 10;
  bool succeeded = false;
  for (uint64_t nth = 1; nth < 200 && !succeeded; nth++) {
    tsr_taskgraph *g = NULL;
    assert_ok(tsr_taskgraph_create(ctx, &g));
    uint32_t k, t = 0;
    assert_ok(tsr_taskgraph_add_kernel(g, "fill", stats_fill_kernel, NULL, &k));
    for (uint32_t i = 0; i < n; i++) {
      uint32_t in = t;
      assert_ok(tsr_taskgraph_add_task(g, k, i ? &in : NULL, i ? 1 : 0, NULL, 0, 8, &t));
    }
    assert_ok(tsr_taskgraph_keep(g, t));
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status status = tsr_taskgraph_run(g);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    const tsr_run_stats *s = tsr_taskgraph_stats(g);
    if (status == TSR_OK) {
      succeeded = true;
    } else {
      assert_int_equal(status, TSR_ENOMEM);
      if (s->tasks_run + s->tasks_failed + s->tasks_cancelled != s->tasks)
        print_error("N = %llu: '%s': tasks %llu, run %llu, failed %llu, cancelled %llu\n",
                    (unsigned long long)nth, tsr_last_error(), (unsigned long long)s->tasks,
                    (unsigned long long)s->tasks_run, (unsigned long long)s->tasks_failed,
                    (unsigned long long)s->tasks_cancelled);
      assert_int_equal(s->tasks, n);
      assert_int_equal(s->tasks_run + s->tasks_failed + s->tasks_cancelled, s->tasks);
    }
    tsr_taskgraph_destroy(&g);
    assert_int_equal(sched_current_bytes(ctx), 0);
  }
  assert_true(succeeded);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_oom__fail_nth_allocation_sweep_serial, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_oom__fail_nth_allocation_sweep_omp2, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_oom__stats_add_up_after_any_failure, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_oom__memory_limit_below_one_output, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
