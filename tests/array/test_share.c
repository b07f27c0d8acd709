/* test_share.c — shared elementwise intermediates (src/array/share.c): an
 * intermediate several consumers inline is made once and loaded when the
 * cost rule says so (expensive, or made anyway), and stays inlined when it
 * is cheap.  Which one happened is read off the task graph (its DOT file:
 * kernels and edges); every result is compared bitwise with the consumer
 * computed alone (inlined) and with a naive loop. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ROWS 60
#define COLS 50
#define N (ROWS * COLS)

typedef struct graph_counts {
  int64_t elementwise; /* tasks of the elementwise kernel */
  int64_t into[8];     /* edges elementwise -> a task of kernel names[k] */
} graph_counts;

/* Counts elementwise tasks, and edges from them into tasks of each kernel
 * of `names`, in the DOT file at path. */
static graph_counts read_graph(const char *path, int n_names, const char *const *names) {
  graph_counts c = {0};
  FILE *f = fopen(path, "r");
  assert_non_null(f);
  static char kernel[1 << 16][24];
  memset(kernel, 0, sizeof kernel);
  char line[256];
  unsigned a, b;
  char name[24];
  while (fgets(line, sizeof line, f) != NULL) {
    if (sscanf(line, " t%u [label=\"%23[^\\\"]", &a, name) == 2 && a < (1u << 16)) {
      snprintf(kernel[a], sizeof kernel[a], "%s", name);
      c.elementwise += strcmp(name, "elementwise") == 0;
    } else if (sscanf(line, " t%u -> t%u;", &a, &b) == 2 && a < (1u << 16) && b < (1u << 16)) {
      if (strcmp(kernel[a], "elementwise") != 0)
        continue;
      for (int k = 0; k < n_names; k++)
        c.into[k] += strcmp(kernel[b], names[k]) == 0;
    }
  }
  fclose(f);
  return c;
}

/* Computes outs together (graph written to a DOT file) and each alone;
 * asserts they agree bitwise; returns the graph's counts. */
static graph_counts compute(int n, tsr_array **outs, double **values, int n_names,
                            const char *const *names) {
  char dot[64];
  snprintf(dot, sizeof dot, "/tmp/tessera_share_%d.dot", (int)getpid());
  void *bufs[8];
  size_t bytes[8];
  for (int i = 0; i < n; i++) {
    bytes[i] = (size_t)tsr_array_nbytes(outs[i]);
    values[i] = malloc(bytes[i] + 8);
    bufs[i] = values[i];
  }
  tsr_compute_options o = {.dot_path = dot};
  assert_ok(tsr_array_to_buffers_ex((size_t)n, outs, bufs, bytes, &o));
  graph_counts c = read_graph(dot, n_names, names);
  unlink(dot);
  for (int i = 0; i < n; i++) {
    double *alone = malloc(bytes[i] + 8);
    assert_ok(tsr_array_to_buffer(outs[i], alone, bytes[i]));
    assert_memory_equal(alone, values[i], bytes[i]);
    free(alone);
  }
  return c;
}

static tsr_array *random_x(tsr_ctx *ctx, int64_t row_chunk, int64_t col_chunk, double *xv) {
  int64_t shape[2] = {ROWS, COLS}, chunks[2] = {row_chunk, col_chunk};
  tsr_array *x;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 5, 2, shape, chunks, &x));
  assert_ok(tsr_array_to_buffer(x, xv, N * 8));
  return x;
}

static void assert_close(double got, double want, double tol) {
  if (!(fabs(got - want) <= tol * (1 + fabs(want))))
    fail_msg("got %.17g, want %.17g", got, want);
}

/* exp(x) feeding three different reductions: made once (12 elementwise
 * tasks, one per chunk), each reduction reading it, although the user has
 * dropped every handle to it. */
static void test_share__expensive_intermediate_made_once(void **state) {
  tsr_ctx *ctx = *state;
  static double xv[N];
  tsr_array *x = random_x(ctx, 16, 20, xv); /* 4 x 3 chunks */
  tsr_array *t, *tx, *t1, *r[3];
  assert_ok(tsr_unary(TSR_OP_EXP, x, &t));
  assert_ok(tsr_mul(t, x, &tx));
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, t, 1.0, &t1));
  assert_ok(tsr_sum(t, NULL, 0, false, &r[0]));
  assert_ok(tsr_sum(tx, (int[]){1}, 1, false, &r[1]));
  assert_ok(tsr_reduce(TSR_REDUCE_MIN, t1, (int[]){0}, 1, NULL, &r[2]));
  tsr_array *all[] = {x, t, tx, t1};
  for (int i = 1; i < 4; i++) /* gone: exp(x) is remade from its consumers */
    tsr_array_destroy(&all[i]);
  double *v[3];
  const char *names[3] = {"sum", "min"};
  graph_counts c = compute(3, r, v, 2, names);
  assert_int_equal(c.elementwise, 12);
  assert_int_equal(c.into[0], 24); /* both sums read t's chunks */
  assert_int_equal(c.into[1], 12);
  long double total = 0;
  for (int i = 0; i < N; i++)
    total += exp(xv[i]);
  assert_close(v[0][0], (double)total, 1e-13);
  for (int i = 0; i < ROWS; i++) {
    long double s = 0;
    for (int j = 0; j < COLS; j++)
      s += exp(xv[i * COLS + j]) * xv[i * COLS + j];
    assert_close(v[1][i], (double)s, 1e-13);
  }
  for (int j = 0; j < COLS; j++) {
    double m = INFINITY;
    for (int i = 0; i < ROWS; i++)
      m = fmin(m, exp(xv[i * COLS + j]) + 1.0);
    assert_close(v[2][j], m, 1e-15);
  }
  for (int i = 0; i < 3; i++) {
    free(v[i]);
    tsr_array_destroy(&r[i]);
  }
  tsr_array_destroy(&x);
}

/* x + 1 feeding three reductions: cheaper recomputed from x than written
 * and read back, so nothing is made (no elementwise task). */
static void test_share__cheap_intermediate_stays_inlined(void **state) {
  tsr_ctx *ctx = *state;
  static double xv[N];
  tsr_array *x = random_x(ctx, 16, 20, xv);
  tsr_array *t, *tt, *r[3];
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, x, 1.0, &t));
  assert_ok(tsr_mul(t, t, &tt));
  assert_ok(tsr_sum(t, NULL, 0, false, &r[0]));
  assert_ok(tsr_sum(tt, NULL, 0, false, &r[1]));
  assert_ok(tsr_reduce(TSR_REDUCE_MAX, t, NULL, 0, NULL, &r[2]));
  double *v[3];
  graph_counts c = compute(3, r, v, 0, NULL);
  assert_int_equal(c.elementwise, 0);
  long double s = 0, s2 = 0;
  double mx = -INFINITY;
  for (int i = 0; i < N; i++) {
    s += xv[i] + 1.0;
    s2 += (xv[i] + 1.0) * (xv[i] + 1.0);
    mx = fmax(mx, xv[i] + 1.0);
  }
  assert_close(v[0][0], (double)s, 1e-13);
  assert_close(v[1][0], (double)s2, 1e-13);
  assert_true(v[2][0] == mx);
  for (int i = 0; i < 3; i++) {
    free(v[i]);
    tsr_array_destroy(&r[i]);
  }
  tsr_array *all[] = {x, t, tt};
  for (int i = 0; i < 3; i++)
    tsr_array_destroy(&all[i]);
}

/* The user's anomalies: z = (x - mean) / std is stored, and the count of
 * |z| > 3 reads the stored z instead of recomputing it. */
static void test_share__stored_intermediate_is_read(void **state) {
  tsr_ctx *ctx = *state;
  static double xv[N];
  tsr_array *x = random_x(ctx, 16, 20, xv);
  tsr_array *m, *sd, *dev, *z, *az, *big, *count;
  tsr_reduce_options keep = {.keepdims = true};
  assert_ok(tsr_reduce(TSR_REDUCE_MEAN, x, (int[]){1}, 1, &keep, &m));
  assert_ok(tsr_reduce(TSR_REDUCE_STD, x, (int[]){1}, 1, &keep, &sd));
  assert_ok(tsr_sub(x, m, &dev));
  assert_ok(tsr_div(dev, sd, &z));
  assert_ok(tsr_unary(TSR_OP_ABS, z, &az));
  assert_ok(tsr_binary_scalar(TSR_OP_GT, az, 1.0, &big));
  assert_ok(tsr_sum(big, (int[]){1}, 1, false, &count));
  tsr_array *outs[2] = {z, count};
  double *v[2];
  const char *names[1] = {"sum"};
  graph_counts c = compute(2, outs, v, 1, names);
  assert_int_equal(c.elementwise, 12); /* z, once, for the store */
  assert_int_equal(c.into[0], 12);     /* and the count reads it */
  const int64_t *counts = (const int64_t *)v[1];
  for (int i = 0; i < ROWS; i++) {
    long double s = 0, ss = 0;
    for (int j = 0; j < COLS; j++)
      s += xv[i * COLS + j];
    double mean = (double)(s / COLS);
    for (int j = 0; j < COLS; j++)
      ss += (xv[i * COLS + j] - mean) * (xv[i * COLS + j] - mean);
    double sdv = sqrt((double)(ss / COLS));
    int64_t k = 0;
    for (int j = 0; j < COLS; j++) {
      double zz = v[0][i * COLS + j];
      assert_close(zz, (xv[i * COLS + j] - mean) / sdv, 1e-12);
      k += fabs(zz) > 1.0;
    }
    assert_int_equal(counts[i], k);
  }
  for (int i = 0; i < 2; i++)
    free(v[i]);
  tsr_array *all[] = {x, m, sd, dev, z, az, big, count};
  for (int i = 0; i < 8; i++)
    tsr_array_destroy(&all[i]);
}

/* A small expensive intermediate broadcast into large consumers (log of a
 * row of 50) is made once on its own shape; one whose consumers read its
 * input rechunked is remade over their chunks; results are right. */
static void test_share__broadcast_and_other_chunks(void **state) {
  tsr_ctx *ctx = *state;
  static double xv[N];
  tsr_array *x = random_x(ctx, 16, 20, xv);
  int64_t rshape[2] = {1, COLS}, rchunks[2] = {1, 20};
  tsr_array *row, *arow, *lrow, *a, *b, *r[2];
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 7, 2, rshape, rchunks, &row));
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, row, 0.5, &arow));
  assert_ok(tsr_unary(TSR_OP_LOG, arow, &lrow));
  assert_ok(tsr_mul(x, lrow, &a));
  assert_ok(tsr_sub(x, lrow, &b));
  assert_ok(tsr_sum(a, NULL, 0, false, &r[0]));
  assert_ok(tsr_reduce(TSR_REDUCE_MAX, b, (int[]){0}, 1, NULL, &r[1]));
  double *v[2];
  const char *names[2] = {"sum", "max"};
  graph_counts c = compute(2, r, v, 2, names);
  assert_int_equal(c.elementwise, 3); /* log(row + 0.5): its 3 chunks */
  assert_int_equal(c.into[0], 12);
  assert_int_equal(c.into[1], 12);
  double rv[COLS];
  assert_ok(tsr_array_to_buffer(row, rv, sizeof rv));
  long double s = 0;
  for (int i = 0; i < N; i++)
    s += xv[i] * log(rv[i % COLS] + 0.5);
  assert_close(v[0][0], (double)s, 1e-13);
  for (int j = 0; j < COLS; j++) {
    double mx = -INFINITY;
    for (int i = 0; i < ROWS; i++)
      mx = fmax(mx, xv[i * COLS + j] - log(rv[j] + 0.5));
    assert_close(v[1][j], mx, 1e-15);
  }
  for (int i = 0; i < 2; i++) {
    free(v[i]);
    tsr_array_destroy(&r[i]);
  }
  /* exp(y) with y chunked 16 x 25: its consumers also read x (16 x 20), so
   * they read y rechunked to common chunks (columns 0, 20, 25, 40, 50), and
   * exp(y) is remade over those: 4 x 4 tasks. */
  int64_t shape[2] = {ROWS, COLS}, ychunks[2] = {16, 25};
  tsr_array *y, *ey, *p, *q, *rr[2];
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 8, 2, shape, ychunks, &y));
  assert_ok(tsr_unary(TSR_OP_EXP, y, &ey));
  assert_ok(tsr_mul(ey, x, &p));
  assert_ok(tsr_add(ey, x, &q));
  assert_ok(tsr_sum(p, NULL, 0, false, &rr[0]));
  assert_ok(tsr_sum(q, (int[]){0}, 1, false, &rr[1]));
  graph_counts c2 = compute(2, rr, v, 1, names);
  assert_int_equal(c2.elementwise, 16);
  assert_int_equal(c2.into[0], 32);
  static double yv[N];
  assert_ok(tsr_array_to_buffer(y, yv, sizeof yv));
  long double sp = 0;
  for (int i = 0; i < N; i++)
    sp += exp(yv[i]) * xv[i];
  assert_close(v[0][0], (double)sp, 1e-12);
  for (int j = 0; j < COLS; j++) {
    long double sq = 0;
    for (int i = 0; i < ROWS; i++)
      sq += exp(yv[i * COLS + j]) + xv[i * COLS + j];
    assert_close(v[1][j], (double)sq, 1e-13);
  }
  for (int i = 0; i < 2; i++) {
    free(v[i]);
    tsr_array_destroy(&rr[i]);
  }
  tsr_array *all[] = {x, row, arow, lrow, a, b, y, ey, p, q};
  for (int i = 0; i < 10; i++)
    tsr_array_destroy(&all[i]);
}

/* Results with a kept intermediate are bitwise the same on 1, 2 and 4
 * threads. */
static void test_share__same_bits_any_threads(void **state) {
  (void)state;
  double first[3][COLS + 1];
  for (int k = 0; k < 3; k++) {
    tsr_ctx *ctx;
    assert_ok(tsr_ctx_create(&ctx));
    assert_ok(tsr_ctx_set_threads(ctx, 1 << k));
    int64_t shape[2] = {ROWS * 20, COLS}, chunks[2] = {64, 16};
    tsr_array *x, *t, *u, *r[2];
    assert_ok(tsr_array_random(ctx, TSR_RANDOM_NORMAL, 3, 2, shape, chunks, &x));
    assert_ok(tsr_unary(TSR_OP_TANH, x, &t));
    assert_ok(tsr_mul(t, x, &u));
    assert_ok(tsr_sum(t, NULL, 0, false, &r[0]));
    assert_ok(tsr_sum(u, (int[]){0}, 1, false, &r[1]));
    void *bufs[2] = {first[k], first[k] + 1};
    size_t bytes[2] = {8, COLS * 8};
    assert_ok(tsr_array_to_buffers(2, r, bufs, bytes));
    if (k > 0)
      assert_memory_equal(first[k], first[0], sizeof first[0]);
    tsr_array *all[] = {x, t, u, r[0], r[1]};
    for (int i = 0; i < 5; i++)
      tsr_array_destroy(&all[i]);
    tsr_ctx_destroy(&ctx);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_share__expensive_intermediate_made_once, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_share__cheap_intermediate_stays_inlined, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_share__stored_intermediate_is_read, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_share__broadcast_and_other_chunks, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test(test_share__same_bits_any_threads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
