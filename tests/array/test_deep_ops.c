/* test_deep_ops.c — chains whose length the user controls: 10^6 transposes,
 * 10^6 slices, 10^6 reshapes and rechunks, 10^6 elementwise operations and
 * a mixed chain of 10^5 (elementwise, transpose, reduction over an axis of
 * extent 1), each computed against its closed form and destroyed without a
 * leak.  Every walk over the expression graph (release, memory views,
 * fusion, lowering, ordering) must be iterative or the chain composed into
 * few nodes: a recursive one overflows the C stack here, which main limits
 * to 1 MiB so that a recursion of a few hundred levels per kilobyte of frame
 * is caught at these sizes. */
#include "structure_util.h"

#include <sys/resource.h>

#define MILLION 1000000

/* x = what `call` makes into y from x (the old handle is destroyed, as
 * `a = f(a)` drops the old value). */
#define STEP(x, call)        \
  do {                       \
    tsr_array *y = NULL;     \
    assert_ok(call);         \
    tsr_array_destroy(&(x)); \
    (x) = y;                 \
  } while (0)

static void test_deep__elementwise(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *x = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_FLOAT64, 0, 10, 1, 4, &x));
  for (int i = 0; i < MILLION; i++)
    STEP(x, tsr_binary_scalar(TSR_OP_ADD, x, 1.0, &y));
  double v[10];
  assert_ok(tsr_array_to_buffer(x, v, sizeof v));
  for (int i = 0; i < 10; i++)
    assert_true(v[i] == (double)i + MILLION);
  tsr_array_destroy(&x);
}

/* x + 1, transposed, summed over its axis of extent 1 (keepdims): a chain
 * of fused nodes and reductions, 3 x 10^5 operations. */
static void test_deep__mixed(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 33334 }; /* 10^5 operations */
  tsr_array *x = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_FLOAT64, 0, 6, 1, 4, &x));
  STEP(x, tsr_reshape(x, 2, (int64_t[]){1, 6}, &y));
  for (int i = 0; i < N; i++) {
    STEP(x, tsr_binary_scalar(TSR_OP_ADD, x, 1.0, &y));
    STEP(x, tsr_transpose(x, NULL, &y));
    int axis = tsr_array_shape(x)[0] == 1 ? 0 : 1;
    STEP(x, tsr_sum(x, &axis, 1, true, &y));
  }
  assert_int_equal(tsr_array_shape(x)[0], 1); /* N transposes: even */
  double v[6];
  assert_ok(tsr_array_to_buffer(x, v, sizeof v));
  for (int i = 0; i < 6; i++)
    assert_true(v[i] == (double)i + N);
  tsr_array_destroy(&x);
}

/* Nodes with many inputs (concatenations of fresh arrays) along a chain:
 * releasing it frees a few hundred nodes per level, iteratively too.
 * x_{i+1} = concatenate(W fresh arrays, x_i)[-1:] is x_0. */
static void test_deep__wide_and_deep(void **state) {
  tsr_ctx *ctx = *state;
  enum { W = 257, D = 600 };
  tsr_array *in[W + 1], *x = NULL;
  tsr_index last = TSR_SLICE(-1, TSR_NONE, 1);
  assert_ok(tsr_array_full(ctx, TSR_INT32, 1, (int64_t[]){1}, NULL, -1, &x));
  for (int i = 0; i < D; i++) {
    for (int k = 0; k < W; k++)
      assert_ok(tsr_array_full(ctx, TSR_INT32, 1, (int64_t[]){1}, NULL, k, &in[k]));
    in[W] = x;
    STEP(x, tsr_concatenate(W + 1, in, 0, &y));
    for (int k = 0; k < W; k++)
      tsr_array_destroy(&in[k]);
    STEP(x, tsr_slice(x, 1, &last, &y));
  }
  tsr_array_destroy(&x);
}

int main(void) {
  struct rlimit stack;
  if (getrlimit(RLIMIT_STACK, &stack) == 0 && stack.rlim_cur > (1u << 20)) {
    stack.rlim_cur = 1u << 20; /* the main thread's stack grows up to this */
    (void)setrlimit(RLIMIT_STACK, &stack);
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_deep__elementwise, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_deep__mixed, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_deep__wide_and_deep, test_ctx_setup, test_ctx_teardown),
  };
  if (getenv("TEST_FILTER") != NULL) /* one test at a time when iterating */
    cmocka_set_test_filter(getenv("TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
