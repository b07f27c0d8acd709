/* test_deep_views.c — chains whose length the user controls: 10^6 transposes,
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

/* Nodes on the path of first inputs from a's node to a source. */
static int64_t depth(const tsr_array *a) {
  int64_t n = 1;
  for (const tsr__expr *e = a->expr; e->n_inputs > 0; e = e->inputs[0])
    n++;
  return n;
}

/* a * 1 computed into out: a read as a fused leaf (in place when a is a
 * view of memory). */
static void compute_times_one(tsr_array *a, void *out, size_t bytes) {
  tsr_array *b = NULL;
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, a, 1.0, &b));
  assert_ok(tsr_array_to_buffer(b, out, bytes));
  tsr_array_destroy(&b);
}

/* x = what `call` makes into y from x (the old handle is destroyed, as
 * `a = f(a)` drops the old value). */
#define STEP(x, call)        \
  do {                       \
    tsr_array *y = NULL;     \
    assert_ok(call);         \
    tsr_array_destroy(&(x)); \
    (x) = y;                 \
  } while (0)

static void test_deep__transposes(void **state) {
  tsr_ctx *ctx = *state;
  double data[6] = {1, 2, 3, 4, 5, 6};
  tsr_array *x = NULL, *s = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, (int64_t[]){2, 3}, NULL, data,
                                  TSR_BUFFER_BORROW, NULL, NULL, &x));
  for (int i = 0; i < MILLION + 1; i++) /* odd: the result is x.T */
    STEP(x, tsr_transpose(x, NULL, &y));
  assert_int_equal(tsr_array_shape(x)[0], 3);
  assert_true(depth(x) <= 2); /* one transpose of the buffer */
  double got[6], got2[6];
  assert_ok(tsr_array_to_buffer(x, got, sizeof got));
  compute_times_one(x, got2, sizeof got2);
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++) {
      assert_true(got[i * 2 + j] == data[j * 3 + i]);
      assert_true(got2[i * 2 + j] == data[j * 3 + i]);
    }
  assert_ok(tsr_sum(x, NULL, 0, false, &s));
  double sum;
  assert_ok(tsr_array_to_buffer(s, &sum, sizeof sum));
  assert_true(sum == 21);
  tsr_array_destroy(&s);
  tsr_array_destroy(&x);
  /* Of a computed (chunked) array too, keeping every handle alive. */
  enum { KEPT = MILLION / 10 };
  tsr_array **all = malloc((KEPT + 1) * sizeof *all);
  tsr_array *r = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_INT64, 0, 12, 1, 5, &r));
  assert_ok(tsr_reshape(r, 2, (int64_t[]){3, 4}, &all[0]));
  tsr_array_destroy(&r);
  for (int i = 0; i < KEPT; i++)
    assert_ok(tsr_transpose(all[i], NULL, &all[i + 1]));
  int64_t v[12];
  assert_ok(tsr_array_to_buffer(all[KEPT], v, sizeof v)); /* even: not transposed */
  for (int i = 0; i < 12; i++)
    assert_int_equal(v[i], i);
  for (int i = 0; i <= KEPT; i++)
    tsr_array_destroy(&all[i]);
  free(all);
}

static void test_deep__slices(void **state) {
  tsr_ctx *ctx = *state;
  int64_t n = MILLION / 2 + 5; /* 10^6 slices in all */
  tsr_array *x = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_INT64, 0, (double)n, 1, 250000, &x));
  tsr_index drop_first = TSR_SLICE(1, TSR_NONE, 1), all = TSR_ALL;
  for (int i = 0; i < MILLION / 2; i++) { /* x = x[1:][:] */
    STEP(x, tsr_slice(x, 1, &drop_first, &y));
    STEP(x, tsr_slice(x, 1, &all, &y));
  }
  assert_int_equal(tsr_array_shape(x)[0], 5);
  assert_true(depth(x) <= 2);
  int64_t v[5], v2[5];
  assert_ok(tsr_array_to_buffer(x, v, sizeof v));
  compute_times_one(x, v2, sizeof v2);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(v[i], MILLION / 2 + i);
    assert_int_equal(v2[i], MILLION / 2 + i);
  }
  tsr_array_destroy(&x);
  /* A 2-D buffer: x = x[:n - i, ::-1] shrinks one row and flips each time. */
  enum { R = 1000, C = 3 };
  static int32_t buf[R * C];
  for (int i = 0; i < R * C; i++)
    buf[i] = i;
  assert_ok(tsr_array_from_buffer(ctx, TSR_INT32, 2, (int64_t[]){R, C}, (int64_t[]){7, 2}, buf,
                                  TSR_BUFFER_BORROW, NULL, NULL, &x));
  for (int i = 0; i < R - 1; i++) {
    tsr_index ix[2] = {TSR_SLICE(0, R - 1 - i, 1), TSR_SLICE(TSR_NONE, TSR_NONE, -1)};
    STEP(x, tsr_slice(x, 2, ix, &y));
  }
  assert_true(depth(x) <= 2);
  int32_t row[C], row2[C];
  assert_ok(tsr_array_to_buffer(x, row, sizeof row)); /* R - 1 flips: odd */
  compute_times_one(x, row2, sizeof row2);
  for (int j = 0; j < C; j++) {
    assert_int_equal(row[j], C - 1 - j);
    assert_int_equal(row2[j], C - 1 - j);
  }
  tsr_array_destroy(&x);
}

static void test_deep__reshapes_and_rechunks(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *x = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_INT64, 0, 24, 1, 24, &x));
  for (int i = 0; i < MILLION / 4; i++) {
    STEP(x, tsr_reshape(x, 2, (int64_t[]){4, 6}, &y));
    STEP(x, tsr_reshape(x, 3, (int64_t[]){2, 3, 4}, &y));
    STEP(x, tsr_rechunk(x, (int64_t[]){1, 2, 3}, &y));
    STEP(x, tsr_rechunk(x, (int64_t[]){2, 1, 4}, &y));
  }
  assert_true(depth(x) <= 4); /* a rechunk plan over the arange */
  assert_true(su_lower(x).tasks < 100);
  int64_t v[24], v2[24];
  assert_ok(tsr_array_to_buffer(x, v, sizeof v));
  compute_times_one(x, v2, sizeof v2);
  for (int i = 0; i < 24; i++) {
    assert_int_equal(v[i], i);
    assert_int_equal(v2[i], i);
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
      cmocka_unit_test_setup_teardown(test_deep__transposes, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_deep__slices, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_deep__reshapes_and_rechunks, test_ctx_setup,
                                      test_ctx_teardown),
  };
  if (getenv("TEST_FILTER") != NULL) /* one test at a time when iterating */
    cmocka_set_test_filter(getenv("TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
