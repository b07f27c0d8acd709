/* test_out_of_core.c — computations on arrays 4x larger than the memory
 * limit (docs/architecture.md, "Runtime": memory budget, spilling) complete with
 * correct values and the allocator's peak under the limit.  References are
 * naive loops over tsr_random_uniform, the generator the arrays use.
 *
 *   - a reduction streams: no spilling needed, chunks freed as consumed;
 *   - x - mean(x, axis=0) holds every chunk of x until the mean is known:
 *     they must be spilled and read back;
 *   - a @ b with both operands larger than the limit;
 *   - map_overlap (periodic) feeding a reduction;
 *   - a transpose-like rechunk (every output chunk overlaps every input). */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

#define LIMIT (8u << 20) /* 8 MiB */

typedef struct seen {
  uint64_t peak, spilled, unspilled;
} seen;

static void on_stats(const tsr_run_stats *st, void *user) {
  seen *s = user;
  s->peak = st->peak_bytes;
  s->spilled = st->spilled_bytes;
  s->unspilled = st->unspilled_bytes;
}

static void compute(tsr_array *a, void *buf, size_t bytes, seen *s) {
  tsr_compute_options o = {.on_stats = on_stats, .stats_user = s};
  assert_ok(tsr_array_to_buffers_ex(1, &a, &buf, &bytes, &o));
  assert_true(s->peak <= LIMIT);
}

static int setup(void **state) {
  if (test_ctx_setup(state) != 0)
    return -1;
  tsr_ctx *ctx = *state;
  return tsr_ctx_set_memory_limit(ctx, LIMIT) == TSR_OK && tsr_ctx_set_threads(ctx, 2) == TSR_OK
             ? 0
             : -1;
}

/* 32 MiB of data, 4x the limit, in 512 KiB chunks. */
static void test_out_of_core__reduction_streams(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {2048, 2048}, chunks[2] = {256, 256};
  tsr_array *x, *s;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 3, 2, shape, chunks, &x));
  assert_ok(tsr_sum(x, NULL, 0, false, &s));
  double got = 0;
  seen st;
  compute(s, &got, sizeof got, &st);
  long double want = 0;
  for (uint64_t i = 0; i < 2048u * 2048u; i++)
    want += tsr_random_uniform(3, i);
  assert_true(fabsl((long double)got - want) <= 1e-9L * want);
  assert_int_equal(st.spilled, 0); /* it streams */
  tsr_array_destroy(&x);
  tsr_array_destroy(&s);
}

static void test_out_of_core__anomaly_spills(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {2048, 2048}, chunks[2] = {64, 2048}; /* 32 chunks of 1 MiB */
  tsr_array *x, *m, *d;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 4, 2, shape, chunks, &x));
  assert_ok(tsr_mean(x, (int[]){0}, 1, false, &m));
  assert_ok(tsr_sub(x, m, &d));
  double *got = malloc(2048u * 2048u * sizeof *got), *mean = calloc(2048, sizeof *mean);
  seen st;
  compute(d, got, 2048u * 2048u * sizeof *got, &st);
  assert_true(st.spilled > 0 && st.unspilled > 0);
  for (int i = 0; i < 2048; i++)
    for (int j = 0; j < 2048; j++)
      mean[j] += tsr_random_normal(4, (uint64_t)i * 2048 + (uint64_t)j);
  for (int j = 0; j < 2048; j++)
    mean[j] /= 2048;
  for (int i = 0; i < 2048; i += 7)
    for (int j = 0; j < 2048; j++) {
      double want = tsr_random_normal(4, (uint64_t)i * 2048 + (uint64_t)j) - mean[j];
      assert_true(fabs(got[(size_t)i * 2048 + (size_t)j] - want) <= 1e-12);
    }
  free(got);
  free(mean);
  tsr_array_destroy(&x);
  tsr_array_destroy(&m);
  tsr_array_destroy(&d);
}

static void test_out_of_core__matmul(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {1024, 1024}, chunks[2] = {256, 256}; /* 8 MiB each, 512 KiB chunks */
  tsr_array *a, *b, *p, *s;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 5, 2, shape, chunks, &a));
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 6, 2, shape, chunks, &b));
  assert_ok(tsr_matmul(a, b, &p));
  assert_ok(tsr_sum(p, (int[]){0}, 1, false, &s)); /* column sums of a @ b */
  double got[1024];
  seen st;
  compute(s, got, sizeof got, &st);
  /* sum_i (a @ b)[i, j] = sum_k (sum_i a[i, k]) b[k, j] */
  double *colsum_a = calloc(1024, sizeof *colsum_a);
  for (uint64_t i = 0; i < 1024; i++)
    for (uint64_t k = 0; k < 1024; k++)
      colsum_a[k] += tsr_random_uniform(5, i * 1024 + k);
  for (uint64_t j = 0; j < 1024; j += 5) {
    double want = 0;
    for (uint64_t k = 0; k < 1024; k++)
      want += colsum_a[k] * tsr_random_uniform(6, k * 1024 + j);
    assert_true(fabs(got[j] - want) <= 1e-9 * want);
  }
  free(colsum_a);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  tsr_array_destroy(&p);
  tsr_array_destroy(&s);
}

static void test_out_of_core__rechunk(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {2048, 2048};
  tsr_array *x, *r, *s;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 7, 2, shape, (int64_t[]){2048, 64}, &x));
  /* Transpose-like: every output chunk overlaps all 32 input chunks of
   * 1 MiB; under the limit the planner goes through intermediate steps
   * whose tasks read at most limit / 4 of input chunks. */
  assert_ok(tsr_rechunk(x, (int64_t[]){64, 2048}, &r));
  assert_ok(tsr_sum(r, (int[]){1}, 1, false, &s)); /* row sums */
  double *got = malloc(2048 * sizeof *got);
  seen st;
  compute(s, got, 2048 * sizeof *got, &st);
  for (uint64_t i = 0; i < 2048; i += 3) {
    double want = 0;
    for (uint64_t j = 0; j < 2048; j++)
      want += tsr_random_uniform(7, i * 2048 + j);
    assert_true(fabs(got[i] - want) <= 1e-9 * want);
  }
  free(got);
  tsr_array_destroy(&x);
  tsr_array_destroy(&r);
  tsr_array_destroy(&s);
}

/* Sum of each element's 3-neighbourhood along axis 0 (periodic). */
static tsr_status neighbours(void *out, const tsr_block_info *oi, const void *const *in,
                             const tsr_block_info *ii, size_t n_in, void *user) {
  (void)n_in;
  (void)user;
  const double *x = in[0];
  double *o = out;
  int64_t rows = oi->shape[0], cols = oi->shape[1], r0 = oi->offset[0] - ii->offset[0];
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++)
      o[i * cols + j] =
          x[(r0 + i - 1) * cols + j] + x[(r0 + i) * cols + j] + x[(r0 + i + 1) * cols + j];
  return TSR_OK;
}

static void test_out_of_core__overlap(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {2048, 2048}, chunks[2] = {64, 2048};
  tsr_array *x, *o, *s;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 8, 2, shape, chunks, &x));
  assert_ok(tsr_map_overlap(x, (int64_t[]){1, 0}, TSR_BOUNDARY_PERIODIC, 0, neighbours, NULL,
                            TSR_FLOAT64, &o));
  assert_ok(tsr_sum(o, (int[]){1}, 1, false, &s));
  double *got = malloc(2048 * sizeof *got);
  seen st;
  compute(s, got, 2048 * sizeof *got, &st);
  for (uint64_t i = 0; i < 2048; i += 11) {
    double want = 0;
    for (int di = -1; di <= 1; di++)
      for (uint64_t j = 0; j < 2048; j++)
        want += tsr_random_uniform(8, ((i + 2048 + (uint64_t)di) % 2048) * 2048 + j);
    assert_true(fabs(got[i] - want) <= 1e-9 * want);
  }
  free(got);
  tsr_array_destroy(&x);
  tsr_array_destroy(&o);
  tsr_array_destroy(&s);
}

/* A spill directory that cannot be used fails the run with TSR_EIO naming
 * it, and leaks nothing. */
static void test_out_of_core__bad_spill_dir(void **state) {
  tsr_ctx *ctx = *state;
  int64_t shape[2] = {2048, 2048}, chunks[2] = {64, 2048};
  tsr_array *x, *m, *d;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 4, 2, shape, chunks, &x));
  assert_ok(tsr_mean(x, (int[]){0}, 1, false, &m));
  assert_ok(tsr_sub(x, m, &d));
  double *got = malloc(2048u * 2048u * sizeof *got);
  setenv("TESSERA_SPILL_DIR", "/nonexistent-tessera-dir", 1);
  assert_fails(tsr_array_to_buffer(d, got, 2048u * 2048u * sizeof *got), TSR_EIO,
               "/nonexistent-tessera-dir");
  unsetenv("TESSERA_SPILL_DIR");
  free(got);
  tsr_array_destroy(&x);
  tsr_array_destroy(&m);
  tsr_array_destroy(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_out_of_core__reduction_streams, setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_out_of_core__anomaly_spills, setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_out_of_core__matmul, setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_out_of_core__rechunk, setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_out_of_core__overlap, setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_out_of_core__bad_spill_dir, setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
