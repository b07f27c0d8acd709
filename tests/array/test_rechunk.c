/* test_rechunk.c — rechunking keeps every value: random shapes x random
 * source and target grids (1-element, ragged, single chunks) x every dtype;
 * the plan bounds every task's fan-in and keeps the task count near the
 * input plus output chunk counts (the counts are printed for the classic
 * cases); equal grids give the same node; errors; allocation failures. */
#include "structure_util.h"

static void test_rechunk__matches_reference(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(33);
  for (int trial = 0; trial < 300; trial++) {
    su_configure(ctx, trial);
    int ndim = (int)su_range(0, 4);
    int64_t shape[4];
    su_shape(ndim, 9, shape);
    tsr_dtype dtype = (tsr_dtype)(trial % TSR_NUM_DTYPES);
    int64_t size = su_size(ndim, shape);
    size_t item = tsr_dtype_size(dtype);
    unsigned char *src = malloc((size_t)size * item + 1);
    su_fill(src, dtype, size);
    tsr_array *a = su_array(ctx, dtype, ndim, shape, src), *r = NULL;
    if (trial % 2) {
      tsr_chunk_grid *g = su_random_grid(ctx, ndim, shape);
      assert_ok(tsr_rechunk_grid(a, g, &r));
      const tsr_chunk_grid *rg = tsr_array_chunks(r);
      for (int d = 0; d < ndim; d++) {
        assert_int_equal(tsr_chunk_grid_nchunks_axis(rg, d), tsr_chunk_grid_nchunks_axis(g, d));
        for (int64_t c = 0; c < tsr_chunk_grid_nchunks_axis(g, d); c++)
          assert_int_equal(tsr_chunk_grid_chunk_extent(rg, d, c),
                           tsr_chunk_grid_chunk_extent(g, d, c));
      }
      tsr_chunk_grid_destroy(&g);
    } else {
      int64_t chunks[4];
      for (int d = 0; d < ndim; d++)
        chunks[d] = su_range(-1, 5);
      assert_ok(tsr_rechunk(a, chunks, &r));
    }
    unsigned char *got = su_compute(r);
    if (size > 0)
      assert_memory_equal(got, src, (size_t)size * item);
    assert_true(su_lower(r).max_fan_in <= TSR__RECHUNK_FAN_IN);
    free(got);
    free(src);
    tsr_array_destroy(&a);
    tsr_array_destroy(&r);
  }
}

/* Merging many tiny chunks goes through intermediate grids. */
static void test_rechunk__bounded_fan_in(void **state) {
  tsr_ctx *ctx = *state;
  su_seed(34);
  struct {
    int ndim;
    int64_t shape[3], from[3], to[3];
  } cases[] = {
      {1, {5000}, {1}, {5000}},
      {1, {4099}, {3}, {1000}},
      {2, {300, 300}, {1, 1}, {300, 300}},
      {2, {200, 90}, {7, 1}, {1, 90}},
      {3, {40, 40, 40}, {1, 2, 3}, {40, 40, 40}},
      {3, {30, 40, 50}, {30, 1, 2}, {1, 40, 50}}, /* all-to-all */
      {2, {500, 500}, {500, 3}, {7, 500}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    su_configure(ctx, (int)c);
    int ndim = cases[c].ndim;
    int64_t size = su_size(ndim, cases[c].shape);
    int32_t *src = malloc((size_t)size * 4);
    for (int64_t i = 0; i < size; i++)
      src[i] = (int32_t)(i * 7 + 1);
    tsr_array *a, *r;
    assert_ok(tsr_array_from_buffer(ctx, TSR_INT32, ndim, cases[c].shape, cases[c].from, src,
                                    TSR_BUFFER_BORROW, NULL, NULL, &a));
    assert_ok(tsr_rechunk(a, cases[c].to, &r));
    su_graph g = su_lower(r);
    int64_t nin = tsr_chunk_grid_nchunks(tsr_array_chunks(a));
    int64_t nout = tsr_chunk_grid_nchunks(tsr_array_chunks(r));
    assert_true(g.max_fan_in <= TSR__RECHUNK_FAN_IN);
    /* Sources + rechunk tasks: near #in + #out (each stage shrinks the count). */
    assert_true((int64_t)g.tasks <= nin + nin / 8 + 4 * nout + 8);
    int32_t *got = su_compute(r);
    assert_memory_equal(got, src, (size_t)size * 4);
    free(got);
    free(src);
    tsr_array_destroy(&a);
    tsr_array_destroy(&r);
  }
}

static void report(tsr_ctx *ctx, const char *what, int ndim, const int64_t *shape,
                   const int64_t *from, const int64_t *to, su_graph *out) {
  tsr_array *a, *r;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, ndim, shape, from, &a));
  assert_ok(tsr_rechunk(a, to, &r));
  su_graph g = su_lower(r);
  int64_t nin = tsr_chunk_grid_nchunks(tsr_array_chunks(a));
  int64_t nout = tsr_chunk_grid_nchunks(tsr_array_chunks(r));
  printf("rechunk %s: %lld input chunks -> %lld output chunks: %u tasks (%lld rechunk tasks), "
         "%llu edges, max fan-in %u\n",
         what, (long long)nin, (long long)nout, g.tasks, (long long)g.tasks - nin,
         (unsigned long long)g.edges, g.max_fan_in);
  *out = g;
  tsr_array_destroy(&a);
  tsr_array_destroy(&r);
}

static void test_rechunk__task_counts(void **state) {
  tsr_ctx *ctx = *state;
  su_graph g;
  /* 1-D 1e6 from 1e3 to 1e5: 1000 -> 10 chunks, 100 inputs per output: one
   * intermediate stage of 20 chunks (50 inputs each), then 2 per output. */
  report(ctx, "1-D 1e6 chunks 1e3 -> 1e5", 1, (int64_t[]){1000000}, (int64_t[]){1000},
         (int64_t[]){100000}, &g);
  assert_int_equal(g.tasks, 1000 + 20 + 10);
  assert_true(g.max_fan_in <= 64);
  /* 1-D back from 1e5 to 1e3: each output reads one input. */
  report(ctx, "1-D 1e6 chunks 1e5 -> 1e3", 1, (int64_t[]){1000000}, (int64_t[]){100000},
         (int64_t[]){1000}, &g);
  assert_int_equal(g.tasks, 10 + 1000);
  /* 2-D 4000 x 4000 from (4000, 100) to (100, 4000): each output overlaps 40
   * inputs (fan-in 40 <= 64): direct, 40 + 40 tasks, 1600 edges. */
  report(ctx, "2-D 4000x4000 (4000,100) -> (100,4000)", 2, (int64_t[]){4000, 4000},
         (int64_t[]){4000, 100}, (int64_t[]){100, 4000}, &g);
  assert_int_equal(g.tasks, 80);
  assert_int_equal(g.edges, 1600);
  /* The same with 10-wide chunks: 400 inputs per output, via an intermediate
   * grid of 200 x 200 chunks (fan-in 20 in both steps) instead of 160000
   * direct edges. */
  report(ctx, "2-D 4000x4000 (4000,10) -> (10,4000)", 2, (int64_t[]){4000, 4000},
         (int64_t[]){4000, 10}, (int64_t[]){10, 4000}, &g);
  assert_true(g.max_fan_in <= 64);
  assert_true(g.edges <= 20000);
  assert_true(g.tasks <= 400 + 400 + 600);
}

static void test_rechunk__same_grid_is_same_node(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *r;
  assert_ok(tsr_array_ones(ctx, TSR_INT16, 2, (int64_t[]){6, 7}, (int64_t[]){4, 3}, &a));
  assert_ok(tsr_rechunk(a, (int64_t[]){4, 3}, &r));
  assert_ptr_equal(a->expr, r->expr);
  tsr_array_destroy(&a);
  int16_t buf[42];
  assert_ok(tsr_array_to_buffer(r, buf, sizeof buf));
  for (int i = 0; i < 42; i++)
    assert_int_equal(buf[i], 1);
  tsr_array_destroy(&r);
}

static void test_rechunk__errors_name_the_problem(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a, *r = NULL;
  tsr_chunk_grid *g;
  assert_ok(tsr_array_zeros(ctx, TSR_INT8, 2, (int64_t[]){3, 4}, NULL, &a));
  assert_ok(tsr_chunk_grid_create_uniform(ctx, 2, (int64_t[]){4, 3}, (int64_t[]){2, 2}, &g));
  assert_fails(tsr_rechunk_grid(a, g, &r), TSR_ESHAPE,
               "shape (4, 3) differs from the array's (3, 4)");
  assert_null(r);
  assert_fails(tsr_rechunk(a, (int64_t[]){2, -5}, &r), TSR_EINVAL, "chunks[1] = -5");
  assert_fails(tsr_rechunk(NULL, NULL, &r), TSR_EINVAL, "a is NULL");
  assert_fails(tsr_rechunk_grid(a, NULL, &r), TSR_EINVAL, "grid is NULL");
  assert_fails(tsr_rechunk(a, NULL, NULL), TSR_EINVAL, "out is NULL");
  tsr_chunk_grid_destroy(&g);
  tsr_array_destroy(&a);
}

static void test_rechunk__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  su_configure(ctx, 2);
  int64_t shape[2] = {40, 30};
  int64_t src[1200], out[1200];
  for (int i = 0; i < 1200; i++)
    src[i] = i * 3;
  bool done = false;
  int failures = 0;
  for (uint64_t nth = 1; nth < 2000 && !done; nth++) {
    tsr_array *a = NULL, *r = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status st = tsr_array_from_buffer(ctx, TSR_INT64, 2, shape, (int64_t[]){1, 1}, src,
                                          TSR_BUFFER_BORROW, NULL, NULL, &a);
    if (st == TSR_OK)
      st = tsr_rechunk(a, (int64_t[]){40, 30}, &r); /* 1200 -> 1: intermediate stages */
    if (st == TSR_OK)
      st = tsr_array_to_buffer(r, out, sizeof out);
    if (st == TSR_OK) {
      done = true;
      assert_memory_equal(out, src, sizeof src);
    } else {
      assert_int_equal(st, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&r);
    tsr_array_destroy(&a);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rechunk__matches_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_rechunk__bounded_fan_in, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_rechunk__task_counts, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_rechunk__same_grid_is_same_node, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_rechunk__errors_name_the_problem, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_rechunk__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
