/* test_buffer.c — tasks whose output is the caller's buffer
 * (tsr_taskgraph_add_buffer): consumers read it in place, the runtime never
 * frees it (a stack buffer here, so a free would be caught by the
 * sanitizers and by the allocator's accounting), it can be kept, a graph
 * can run twice, and under a memory limit it is neither counted nor
 * spilled. */
#include <string.h>

#include "test_util.h"

static tsr_status sum_kernel(const tsr_kernel_call *call) {
  int64_t s = 0;
  for (uint32_t i = 0; i < call->n_inputs; i++) {
    const int64_t *v = call->inputs[i];
    for (size_t k = 0; k < call->input_bytes[i] / sizeof *v; k++)
      s += v[k];
  }
  memcpy(call->output, &s, sizeof s);
  return TSR_OK;
}

static void test_buffer__consumers_read_it_in_place(void **state) {
  tsr_ctx *ctx = *state;
  _Alignas(64) int64_t a[100], b[50];
  int64_t want = 0;
  for (int i = 0; i < 100; i++)
    want += a[i] = i * 3 - 7;
  for (int i = 0; i < 50; i++)
    want += b[i] = 1000 + i;
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k, ta, tb, ts, te;
  assert_ok(tsr_taskgraph_add_kernel(g, "sum", sum_kernel, NULL, &k));
  assert_ok(tsr_taskgraph_add_buffer(g, a, sizeof a, &ta));
  assert_ok(tsr_taskgraph_add_buffer(g, b, sizeof b, &tb));
  assert_ok(tsr_taskgraph_add_buffer(g, NULL, 0, &te));
  uint32_t in[3] = {ta, tb, te};
  assert_ok(tsr_taskgraph_add_task(g, k, in, 3, NULL, 0, sizeof(int64_t), &ts));
  assert_ok(tsr_taskgraph_keep(g, ts));
  assert_ok(tsr_taskgraph_keep(g, ta));
  for (int run = 0; run < 2; run++) {
    assert_ok(tsr_taskgraph_run(g));
    const void *out;
    size_t bytes;
    assert_ok(tsr_taskgraph_output(g, ts, &out, &bytes));
    int64_t got;
    memcpy(&got, out, sizeof got);
    assert_int_equal(got, want);
    assert_ok(tsr_taskgraph_output(g, ta, &out, &bytes));
    assert_ptr_equal(out, a); /* kept: still the caller's buffer */
    assert_int_equal(bytes, sizeof a);
  }
  tsr_taskgraph_destroy(&g);
  assert_int_equal(a[99], 99 * 3 - 7); /* never written */
  assert_fails(tsr_taskgraph_add_buffer(NULL, a, 8, &ta), TSR_EINVAL, "graph");
}

/* A buffer larger than the memory limit: the runtime neither copies it
 * nor counts it, never spills it (nothing to spill but it) and never
 * frees it (a static array: freeing it would be caught). */
static void test_buffer__not_the_runtimes_memory(void **state) {
  (void)state;
  tsr_ctx *ctx = NULL;
  assert_ok(tsr_ctx_create(&ctx));
  assert_ok(tsr_ctx_set_memory_limit(ctx, 1 << 20));
  static _Alignas(64) int64_t big[1 << 20]; /* 8 MiB */
  for (int i = 0; i < (1 << 20); i++)
    big[i] = i;
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k, tb, sums[4], total;
  assert_ok(tsr_taskgraph_add_kernel(g, "sum", sum_kernel, NULL, &k));
  assert_ok(tsr_taskgraph_add_buffer(g, big, sizeof big, &tb));
  for (int i = 0; i < 4; i++)
    assert_ok(tsr_taskgraph_add_task(g, k, &tb, 1, NULL, 0, sizeof(int64_t), &sums[i]));
  assert_ok(tsr_taskgraph_add_task(g, k, sums, 4, NULL, 0, sizeof(int64_t), &total));
  assert_ok(tsr_taskgraph_keep(g, total));
  assert_ok(tsr_taskgraph_run(g));
  const void *out;
  size_t bytes;
  assert_ok(tsr_taskgraph_output(g, total, &out, &bytes));
  int64_t got;
  memcpy(&got, out, sizeof got);
  int64_t n = 1 << 20;
  assert_int_equal(got, 4 * (n * (n - 1) / 2));
  assert_int_equal(tsr_taskgraph_stats(g)->spilled_bytes, 0);
  assert_true(tsr_taskgraph_stats(g)->peak_bytes < (1 << 20));
  tsr_taskgraph_destroy(&g);
  tsr_ctx_destroy(&ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_buffer__consumers_read_it_in_place, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test(test_buffer__not_the_runtimes_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
