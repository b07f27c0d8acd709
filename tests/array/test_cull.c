/* test_cull.c — computing an array culls the task graph to what the
 * requested outputs need (docs/architecture.md, "Two graphs": culling):
 * a slice of a 100-chunk random array lowers and runs the random tasks of
 * the 3 chunks it reads only, and its values are the generator's
 * (tsr_random_uniform) at the sliced indices. */
#include "test_util.h"

/* A slice of a 100-chunk random array computes only the chunks it reads. */
typedef struct counts {
  uint64_t random, culled;
} counts;

static void on_stats(const tsr_run_stats *st, void *user) {
  counts *c = user;
  c->culled = st->tasks_culled;
  for (uint32_t k = 0; k < st->n_kernels; k++)
    if (strcmp(st->kernels[k].name, "random") == 0)
      c->random = st->kernels[k].tasks;
}

static void test_cull__slice_reads_only_needed_chunks(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *x = NULL, *s = NULL;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 5, 2, (int64_t[]){100, 100},
                             (int64_t[]){10, 10}, &x));
  assert_ok(tsr_slice(x, 2, (tsr_index[]){TSR_SLICE(12, 18, 1), TSR_SLICE(0, 25, 1)}, &s));
  double got[6 * 25];
  counts c = {0, 0};
  tsr_compute_options o = {.on_stats = on_stats, .stats_user = &c};
  void *buf = got;
  size_t bytes = sizeof got;
  assert_ok(tsr_array_to_buffers_ex(1, &s, &buf, &bytes, &o));
  assert_int_equal(c.random, 3); /* row chunk 1, column chunks 0-2 */
  /* The other 97 chunks are not even lowered (slices lower chunk by
   * chunk), so there is nothing left to cull. */
  assert_int_equal(c.culled, 0);
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 25; j++)
      assert_true(got[i * 25 + j] == tsr_random_uniform(5, (uint64_t)((12 + i) * 100 + j)));
  tsr_array_destroy(&x);
  tsr_array_destroy(&s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cull__slice_reads_only_needed_chunks, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
