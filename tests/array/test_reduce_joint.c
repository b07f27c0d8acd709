/* test_reduce_joint.c — reductions of the same values over the same chunks,
 * computed together, share one pass per chunk (horizontal fusion): the
 * run has one "joint-reduce" task per input chunk, and every result is
 * bitwise what each reduction gives when computed alone. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

typedef struct kernel_tasks {
  uint64_t joint, sum;
} kernel_tasks;

static void on_stats(const tsr_run_stats *st, void *user) {
  kernel_tasks *k = user;
  for (uint32_t i = 0; i < st->n_kernels; i++) {
    if (strcmp(st->kernels[i].name, "joint-reduce") == 0)
      k->joint += st->kernels[i].tasks;
    if (strcmp(st->kernels[i].name, "sum") == 0)
      k->sum += st->kernels[i].tasks;
  }
}

static void check(tsr_array *x, int64_t chunks_total) {
  int64_t rows = tsr_array_shape(x)[0], cols = tsr_array_shape(x)[1];
  tsr_array *r[4] = {NULL, NULL, NULL, NULL};
  assert_ok(tsr_mean(x, (int[]){0}, 1, false, &r[0]));
  assert_ok(tsr_std(x, NULL, 0, 1, false, &r[1]));
  assert_ok(tsr_sum(x, (int[]){1}, 1, false, &r[2]));
  assert_ok(tsr_argmax(x, 0, true, &r[3]));
  double *mean = malloc((size_t)cols * 8), *rowsum = malloc((size_t)rows * 8), sd;
  int64_t am;
  void *bufs[4] = {mean, &sd, rowsum, &am};
  size_t bytes[4] = {(size_t)cols * 8, 8, (size_t)rows * 8, 8};
  kernel_tasks k = {0, 0};
  tsr_compute_options o = {.on_stats = on_stats, .stats_user = &k};
  assert_ok(tsr_array_to_buffers_ex(4, r, bufs, bytes, &o));
  assert_int_equal(k.joint, chunks_total); /* one shared pass ... */
  assert_int_equal(k.sum, 0);              /* ... and no separate one */
  /* Alone, each gives bitwise the same. */
  double *mean1 = malloc((size_t)cols * 8), *rowsum1 = malloc((size_t)rows * 8), sd1;
  int64_t am1;
  assert_ok(tsr_array_to_buffer(r[0], mean1, (size_t)cols * 8));
  assert_ok(tsr_array_to_buffer(r[1], &sd1, 8));
  assert_ok(tsr_array_to_buffer(r[2], rowsum1, (size_t)rows * 8));
  assert_ok(tsr_array_to_buffer(r[3], &am1, 8));
  assert_memory_equal(mean, mean1, (size_t)cols * 8);
  assert_memory_equal(&sd, &sd1, 8);
  assert_memory_equal(rowsum, rowsum1, (size_t)rows * 8);
  assert_int_equal(am, am1);
  /* And against a naive reference. */
  double *xv = malloc((size_t)(rows * cols) * 8);
  assert_ok(tsr_array_to_buffer(x, xv, (size_t)(rows * cols) * 8));
  long double total = 0;
  int64_t best = 0;
  for (int64_t i = 0; i < rows * cols; i++) {
    total += xv[i];
    if (xv[i] > xv[best])
      best = i;
  }
  long double mu = total / (long double)(rows * cols), ss = 0;
  for (int64_t i = 0; i < rows * cols; i++)
    ss += (xv[i] - mu) * (xv[i] - mu);
  assert_true(fabs(sd - sqrt((double)(ss / (long double)(rows * cols - 1)))) <= 1e-12);
  assert_int_equal(am, best);
  for (int64_t j = 0; j < cols; j++) {
    long double m = 0;
    for (int64_t i = 0; i < rows; i++)
      m += xv[i * cols + j];
    assert_true(fabs(mean[j] - (double)(m / (long double)rows)) <= 1e-12);
  }
  for (int64_t i = 0; i < rows; i++) {
    long double s = 0;
    for (int64_t j = 0; j < cols; j++)
      s += xv[i * cols + j];
    assert_true(fabs(rowsum[i] - (double)s) <= 1e-9);
  }
  for (int i = 0; i < 4; i++)
    tsr_array_destroy(&r[i]);
  free(mean);
  free(rowsum);
  free(mean1);
  free(rowsum1);
  free(xv);
}

/* A task leaf (random) and a memory leaf (a user buffer), ragged chunks. */
static void test_reduce_joint__one_pass_same_results(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {103, 57}, chunks[2] = {20, 25}; /* 6 x 3 chunks */
  tsr_array *x;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 9, 2, shape, chunks, &x));
  check(x, 18);
  double *buf = malloc(103 * 57 * 8);
  assert_ok(tsr_array_to_buffer(x, buf, 103 * 57 * 8));
  tsr_array_destroy(&x);
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, chunks, buf, TSR_BUFFER_BORROW, NULL,
                                  NULL, &x));
  check(x, 18);
  tsr_array_destroy(&x);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_reduce_joint__one_pass_same_results, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
