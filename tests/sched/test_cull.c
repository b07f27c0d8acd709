/* test_cull.c — tsr_taskgraph_cull: a run skips every task the wanted tasks
 * do not need (no kernel call, no output), counts them as culled, frees
 * what they would have consumed, and n == 0 brings them all back.  Checked
 * against kernel call counts kept by the test, on both executors.  (That
 * array computes cull to what their outputs need: tests/array/test_cull.c.) */
#include "test_util.h"

#include <stdatomic.h>

static _Atomic int calls[64];

static tsr_status count_call(const tsr_kernel_call *call) {
  atomic_fetch_add(&calls[call->task], 1);
  if (call->output_bytes > 0)
    memset(call->output, 0, call->output_bytes);
  return TSR_OK;
}

static void reset_calls(void) {
  for (int i = 0; i < 64; i++)
    atomic_store(&calls[i], 0);
}

/* Two chains sharing a root:  0 -> 1 -> 2   and   0 -> 3 -> 4,  plus an
 * unrelated task 5. */
static tsr_taskgraph *make_graph(tsr_ctx *ctx) {
  tsr_taskgraph *g = NULL;
  uint32_t k, t;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  assert_ok(tsr_taskgraph_add_kernel(g, "count", count_call, NULL, &k));
  assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 64, &t));
  assert_ok(tsr_taskgraph_add_task(g, k, (uint32_t[]){0}, 1, NULL, 0, 64, &t));
  assert_ok(tsr_taskgraph_add_task(g, k, (uint32_t[]){1}, 1, NULL, 0, 64, &t));
  assert_ok(tsr_taskgraph_add_task(g, k, (uint32_t[]){0}, 1, NULL, 0, 64, &t));
  assert_ok(tsr_taskgraph_add_task(g, k, (uint32_t[]){3}, 1, NULL, 0, 64, &t));
  assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 64, &t));
  return g;
}

static void run_and_check(tsr_ctx *ctx, tsr_executor ex) {
  assert_ok(tsr_ctx_set_executor(ctx, ex));
  tsr_taskgraph *g = make_graph(ctx);
  reset_calls();
  assert_ok(tsr_taskgraph_cull(g, (uint32_t[]){2}, 1));
  assert_ok(tsr_taskgraph_run(g));
  int want[6] = {1, 1, 1, 0, 0, 0};
  for (int t = 0; t < 6; t++)
    assert_int_equal(atomic_load(&calls[t]), want[t]);
  const tsr_run_stats *st = tsr_taskgraph_stats(g);
  assert_int_equal(st->tasks, 6);
  assert_int_equal(st->tasks_run, 3);
  assert_int_equal(st->tasks_culled, 3);
  assert_int_equal(st->tasks_cancelled, 0);
  /* Two wanted tasks; then everything again. */
  reset_calls();
  assert_ok(tsr_taskgraph_cull(g, (uint32_t[]){4, 5}, 2));
  assert_ok(tsr_taskgraph_run(g));
  int want2[6] = {1, 0, 0, 1, 1, 1};
  for (int t = 0; t < 6; t++)
    assert_int_equal(atomic_load(&calls[t]), want2[t]);
  reset_calls();
  assert_ok(tsr_taskgraph_cull(g, NULL, 0));
  assert_ok(tsr_taskgraph_run(g));
  for (int t = 0; t < 6; t++)
    assert_int_equal(atomic_load(&calls[t]), 1);
  assert_int_equal(tsr_taskgraph_stats(g)->tasks_culled, 0);
  tsr_taskgraph_destroy(&g);
}

static void test_cull__runs_only_what_is_wanted(void **state) {
  tsr_ctx *ctx = *state;
  run_and_check(ctx, TSR_EXECUTOR_SERIAL);
  assert_ok(tsr_ctx_set_threads(ctx, 2));
  run_and_check(ctx, TSR_EXECUTOR_OMP);
}

/* A kept task is an output the caller asked for: culling keeps it and
 * what it needs, and its output is readable after the run. */
static void test_cull__kept_tasks_are_wanted(void **state) {
  tsr_ctx *ctx = *state;
  tsr_taskgraph *g = make_graph(ctx);
  reset_calls();
  assert_ok(tsr_taskgraph_keep(g, 4));
  assert_ok(tsr_taskgraph_cull(g, (uint32_t[]){2}, 1));
  assert_ok(tsr_taskgraph_run(g));
  int want[6] = {1, 1, 1, 1, 1, 0};
  for (int t = 0; t < 6; t++)
    assert_int_equal(atomic_load(&calls[t]), want[t]);
  const void *data;
  size_t bytes;
  assert_ok(tsr_taskgraph_output(g, 4, &data, &bytes));
  assert_non_null(data);
  assert_int_equal(bytes, 64);
  tsr_taskgraph_destroy(&g);
}

static void test_cull__rejects_bad_ids(void **state) {
  tsr_ctx *ctx = *state;
  tsr_taskgraph *g = make_graph(ctx);
  assert_fails(tsr_taskgraph_cull(g, (uint32_t[]){6}, 1), TSR_EINVAL, "wanted[0] = 6");
  assert_fails(tsr_taskgraph_cull(g, NULL, 2), TSR_EINVAL, "wanted is NULL");
  assert_fails(tsr_taskgraph_cull(NULL, NULL, 0), TSR_EINVAL, "graph is NULL");
  tsr_taskgraph_destroy(&g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cull__runs_only_what_is_wanted, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_cull__kept_tasks_are_wanted, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_cull__rejects_bad_ids, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
