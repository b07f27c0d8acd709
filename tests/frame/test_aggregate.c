/* test_aggregate.c — tsr_frame_aggregate (query.h): aggregates as text and
 * expressions of aggregates over a random frame with nulls in 43 ragged
 * chunks, checked against values computed here by naive loops per group;
 * DuckDB's names of unnamed items (as DuckDB 1.5.6 shows them); quantile
 * lists; repeated aggregates; errors with line, column and caret; and
 * pow/power in column expressions. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tessera/query.h>

#include "test_util.h"

#define N 300
#define CHUNK 7 /* 43 chunks, the last of 6 rows */
#define NK 5    /* key values 0..4, plus null */

typedef struct data {
  int64_t k[N];
  int64_t v1[N];
  int32_t v2[N];
  double v3[N];
  bool vk[N], vv1[N], vv3[N];
  uint8_t bk[(N + 7) / 8], bv1[(N + 7) / 8], bv3[(N + 7) / 8];
  int64_t soff[N + 1];
  char sdata[N * 8];
} data;

static uint64_t rng = 0x2545f4914f6cdd1dull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static void pack(const bool *v, uint8_t *bits) {
  memset(bits, 0, (N + 7) / 8);
  for (int i = 0; i < N; i++)
    if (v[i])
      bits[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* Columns k (int64 key with nulls), s (string key: "s" + k % 2), v1 (int64
 * 1..5, nulls), v2 (int32 1..15), v3 (float64, nulls). */
static tsr_frame *make_frame(tsr_ctx *ctx, data *d) {
  int64_t at = 0;
  for (int i = 0; i < N; i++) {
    d->k[i] = (int64_t)(next() % NK);
    d->vk[i] = next() % 100 >= 5;
    d->v1[i] = 1 + (int64_t)(next() % 5);
    d->vv1[i] = next() % 100 >= 10;
    d->v2[i] = 1 + (int32_t)(next() % 15);
    d->v3[i] = (double)(next() % 1000000) / 10000.0;
    d->vv3[i] = next() % 100 >= 10;
    d->soff[i] = at;
    at += snprintf(d->sdata + at, 8, "s%d", (int)(d->k[i] % 2));
  }
  d->soff[N] = at;
  pack(d->vk, d->bk);
  pack(d->vv1, d->bv1);
  pack(d->vv3, d->bv3);
  tsr_column_data c[5] = {
      {.name = "k", .type = {TSR_COL_INT64, 0}, .length = N, .values = d->k, .validity = d->bk},
      {.name = "s", .type = {TSR_COL_STRING, 0}, .length = N, .offsets = d->soff,
       .data = d->sdata},
      {.name = "v1", .type = {TSR_COL_INT64, 0}, .length = N, .values = d->v1,
       .validity = d->bv1},
      {.name = "v2", .type = {TSR_COL_INT32, 0}, .length = N, .values = d->v2},
      {.name = "v3", .type = {TSR_COL_FLOAT64, 0}, .length = N, .values = d->v3,
       .validity = d->bv3},
  };
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 5, c, CHUNK, TSR_BUFFER_COPY, NULL, NULL, &f));
  return f;
}

/* Row g of the reference belongs to key value g (g == NK: the null key). */
static bool in_group(const data *d, int i, int g) {
  return g == NK ? !d->vk[i] : d->vk[i] && d->k[i] == g;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* quantile_cont of group g's valid v3 values (linear interpolation). */
static double ref_quantile(const data *d, int g, double q, bool *valid) {
  double v[N];
  int n = 0;
  for (int i = 0; i < N; i++)
    if (in_group(d, i, g) && d->vv3[i])
      v[n++] = d->v3[i];
  *valid = n > 0;
  if (n == 0)
    return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  double pos = q * (n - 1);
  int lo = (int)floor(pos), hi = lo + 1 < n ? lo + 1 : lo;
  return v[lo] + (pos - lo) * (v[hi] - v[lo]);
}

/* The computed result as doubles by (column name, key value). */
typedef struct result {
  tsr_frame_result *r;
  int64_t rows;
} result;

static int col_of(const result *res, const char *name) {
  for (int c = 0; c < tsr_frame_result_ncols(res->r); c++)
    if (strcmp(tsr_frame_result_col_name(res->r, c), name) == 0)
      return c;
  fail_msg("no result column '%s'", name);
  return -1;
}

/* Value of column `name` in row `row` as a double; false when null. */
static bool cell(const result *res, const char *name, int64_t row, double *out) {
  int c = col_of(res, name);
  tsr_type t = tsr_frame_result_col_type(res->r, c);
  size_t w = tsr_type_width(t);
  int64_t n = res->rows;
  unsigned char *vals = malloc((size_t)n * w + 1);
  uint8_t *bits = malloc((size_t)(n + 7) / 8 + 1);
  assert_ok(tsr_frame_result_values(res->r, c, vals, (size_t)n * w, bits));
  bool valid = (bits[row / 8] >> (row % 8)) & 1;
  const unsigned char *v = vals + (size_t)row * w;
  switch (t.id) {
  case TSR_COL_FLOAT64: *out = *(const double *)v; break;
  case TSR_COL_INT64: *out = (double)*(const int64_t *)v; break;
  case TSR_COL_INT32: *out = *(const int32_t *)v; break;
  case TSR_COL_BOOL: *out = *v; break;
  default: fail_msg("column '%s': unexpected type %s", name, tsr_type_name(t));
  }
  free(vals);
  free(bits);
  return valid;
}

/* The result row of key value g (NK: the null key). */
static int64_t row_of(const result *res, int g) {
  for (int64_t r = 0; r < res->rows; r++) {
    double k;
    bool valid = cell(res, "k", r, &k);
    if (g == NK ? !valid : valid && k == g)
      return r;
  }
  fail_msg("no group %d", g);
  return -1;
}

static void assert_close(double got, double want) {
  if (!(fabs(got - want) <= 1e-12 * fmax(1, fabs(want))))
    fail_msg("got %.17g, want %.17g", got, want);
}

static void test_aggregate__expressions_and_names(void **state) {
  tsr_ctx *ctx = *state;
  data *d = calloc(1, sizeof *d);
  tsr_frame *f = make_frame(ctx, d), *g = NULL;
  const char *keys[1] = {"k"};
  assert_ok(tsr_frame_aggregate(f, 1, keys,
                                "sum(v1), range = max(v1) - min(v2), pow(corr(v1, v3), 2),\n"
                                "quantile_cont(v3, [0.25, 0.75]), count(*) * 2 AS c2,\n"
                                "AVG(v3) / 2, sum(v1) + sum(v1), -sum(v1), k + 1,\n"
                                "count(v1), count(DISTINCT v2), median(v3), stddev_pop(v3),\n"
                                "var_samp(v3), first(v2), q = quantile_cont(v3, [0.5])",
                                NULL, &g));
  /* DuckDB's names for unnamed items (checked with DuckDB 1.5.6), the
   * item's own name otherwise; a list of q gives one column per q. */
  static const char *const names[] = {"k",
                                      "sum(v1)",
                                      "range",
                                      "pow(corr(v1, v3), 2)",
                                      "quantile_cont(v3, 0.25)",
                                      "quantile_cont(v3, 0.75)",
                                      "c2",
                                      "(avg(v3) / 2)",
                                      "(sum(v1) + sum(v1))",
                                      "-(sum(v1))",
                                      "(k + 1)",
                                      "count(v1)",
                                      "count(DISTINCT v2)",
                                      "median(v3)",
                                      "stddev_pop(v3)",
                                      "var_samp(v3)",
                                      "\"first\"(v2)",
                                      "q_0.5"};
  int nnames = (int)(sizeof names / sizeof names[0]);
  assert_int_equal(tsr_frame_ncols(g), nnames);
  for (int c = 0; c < nnames; c++)
    assert_string_equal(tsr_frame_col_name(g, c), names[c]);
  result res = {NULL, 0};
  assert_ok(tsr_frame_compute(g, NULL, &res.r));
  res.rows = tsr_frame_result_nrows(res.r);
  assert_int_equal(res.rows, NK + 1); /* 0..4 and null */
  for (int grp = 0; grp <= NK; grp++) {
    int64_t row = row_of(&res, grp);
    /* naive per-group loops */
    int64_t sum1 = 0, n1 = 0, nall = 0, max1 = INT64_MIN, min2 = INT64_MAX, first2 = -1;
    double s3 = 0, n3 = 0;
    bool seen2[16] = {false};
    int distinct2 = 0;
    double sx = 0, sy = 0, nxy = 0;
    for (int i = 0; i < N; i++) {
      if (!in_group(d, i, grp))
        continue;
      nall++;
      if (first2 < 0)
        first2 = d->v2[i];
      if (d->vv1[i]) {
        sum1 += d->v1[i];
        n1++;
        max1 = d->v1[i] > max1 ? d->v1[i] : max1;
      }
      min2 = d->v2[i] < min2 ? d->v2[i] : min2;
      if (!seen2[d->v2[i]]) {
        seen2[d->v2[i]] = true;
        distinct2++;
      }
      if (d->vv3[i]) {
        s3 += d->v3[i];
        n3++;
      }
      if (d->vv1[i] && d->vv3[i]) {
        sx += (double)d->v1[i];
        sy += d->v3[i];
        nxy++;
      }
    }
    double mean3 = s3 / n3, mx = sx / nxy, my = sy / nxy, cxy = 0, cxx = 0, cyy = 0, ss3 = 0;
    for (int i = 0; i < N; i++) {
      if (!in_group(d, i, grp))
        continue;
      if (d->vv1[i] && d->vv3[i]) {
        cxy += ((double)d->v1[i] - mx) * (d->v3[i] - my);
        cxx += ((double)d->v1[i] - mx) * ((double)d->v1[i] - mx);
        cyy += (d->v3[i] - my) * (d->v3[i] - my);
      }
      if (d->vv3[i])
        ss3 += (d->v3[i] - mean3) * (d->v3[i] - mean3);
    }
    double v;
    bool ok;
    assert_true(cell(&res, "sum(v1)", row, &v));
    assert_close(v, (double)sum1);
    assert_true(cell(&res, "range", row, &v));
    assert_close(v, (double)(max1 - min2));
    assert_true(cell(&res, "pow(corr(v1, v3), 2)", row, &v));
    assert_close(v, (cxy * cxy) / (cxx * cyy));
    assert_true(cell(&res, "quantile_cont(v3, 0.25)", row, &v));
    assert_close(v, ref_quantile(d, grp, 0.25, &ok));
    assert_true(cell(&res, "quantile_cont(v3, 0.75)", row, &v));
    assert_close(v, ref_quantile(d, grp, 0.75, &ok));
    assert_true(cell(&res, "c2", row, &v));
    assert_close(v, 2.0 * (double)nall);
    assert_true(cell(&res, "(avg(v3) / 2)", row, &v));
    assert_close(v, mean3 / 2);
    assert_true(cell(&res, "(sum(v1) + sum(v1))", row, &v));
    assert_close(v, 2.0 * (double)sum1);
    assert_true(cell(&res, "-(sum(v1))", row, &v));
    assert_close(v, -(double)sum1);
    bool kv = cell(&res, "(k + 1)", row, &v); /* null key: null */
    assert_int_equal(kv, grp != NK);
    if (kv)
      assert_close(v, grp + 1.0);
    assert_true(cell(&res, "count(v1)", row, &v));
    assert_close(v, (double)n1);
    assert_true(cell(&res, "count(DISTINCT v2)", row, &v));
    assert_close(v, distinct2);
    assert_true(cell(&res, "median(v3)", row, &v));
    assert_close(v, ref_quantile(d, grp, 0.5, &ok));
    assert_true(cell(&res, "stddev_pop(v3)", row, &v));
    assert_close(v, sqrt(ss3 / n3));
    assert_true(cell(&res, "var_samp(v3)", row, &v));
    assert_close(v, ss3 / (n3 - 1));
    assert_true(cell(&res, "\"first\"(v2)", row, &v));
    assert_close(v, (double)first2);
    assert_true(cell(&res, "q_0.5", row, &v));
    assert_close(v, ref_quantile(d, grp, 0.5, &ok));
  }
  /* Expression columns are int64 where DuckDB's are integers, float64 for
   * pow and division. */
  assert_int_equal(tsr_frame_col_type(g, 2).id, TSR_COL_INT64);
  assert_int_equal(tsr_frame_col_type(g, 3).id, TSR_COL_FLOAT64);
  assert_int_equal(tsr_frame_col_type(g, 7).id, TSR_COL_FLOAT64);
  tsr_frame_result_destroy(&res.r);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  free(d);
}

/* The same aggregate used twice, bare and in expressions, gives the same
 * values in each column; no keys: one group of every row. */
static void test_aggregate__repeated_and_no_keys(void **state) {
  tsr_ctx *ctx = *state;
  data *d = calloc(1, sizeof *d);
  tsr_frame *f = make_frame(ctx, d), *g = NULL;
  assert_ok(tsr_frame_aggregate(f, 0, NULL, "a = sum(v1), b = sum(v1), c = sum(v1) * 3, max(v2)",
                                NULL, &g));
  assert_int_equal(tsr_frame_ncols(g), 4);
  assert_string_equal(tsr_frame_col_name(g, 3), "max(v2)");
  result res = {NULL, 0};
  assert_ok(tsr_frame_compute(g, NULL, &res.r));
  res.rows = tsr_frame_result_nrows(res.r);
  assert_int_equal(res.rows, 1);
  int64_t sum1 = 0, max2 = 0;
  for (int i = 0; i < N; i++) {
    sum1 += d->vv1[i] ? d->v1[i] : 0;
    max2 = d->v2[i] > max2 ? d->v2[i] : max2;
  }
  double v;
  assert_true(cell(&res, "a", 0, &v));
  assert_close(v, (double)sum1);
  assert_true(cell(&res, "b", 0, &v));
  assert_close(v, (double)sum1);
  assert_true(cell(&res, "c", 0, &v));
  assert_close(v, 3.0 * (double)sum1);
  assert_true(cell(&res, "max(v2)", 0, &v));
  assert_close(v, (double)max2);
  tsr_frame_result_destroy(&res.r);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  free(d);
}

static void test_aggregate__errors(void **state) {
  tsr_ctx *ctx = *state;
  data *d = calloc(1, sizeof *d);
  tsr_frame *f = make_frame(ctx, d), *g = NULL;
  const char *keys[2] = {"k", "s"};
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(v1", NULL, &g), TSR_EPARSE,
               "line 1, column 7: expected ',' or ')'");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(max(v1))", NULL, &g), TSR_EPARSE,
               "line 1, column 5: aggregate calls do not nest: max() inside sum()");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(v1 * 2)", NULL, &g), TSR_EPARSE,
               "line 1, column 8: expected ',' or ')' (an aggregate's arguments are columns");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(v1), v1 + 1", NULL, &g), TSR_EINVAL,
               "line 1, column 10: column 'v1' is neither a group key nor inside an aggregate");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(nope)", NULL, &g), TSR_EINVAL,
               "line 1, column 5: unknown column 'nope' (the frame has: k, s, v1, v2, v3)");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "frob(v1)", NULL, &g), TSR_EPARSE,
               "line 1, column 1: unknown function 'frob'");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(v1) sum(v2)", NULL, &g), TSR_EPARSE,
               "line 1, column 9: expected ',' or the end of the list, found name 'sum'");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "", NULL, &g), TSR_EPARSE,
               "line 1, column 1: expected an aggregate expression");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(v1),", NULL, &g), TSR_EPARSE,
               "line 1, column 9: expected an aggregate expression");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "quantile_cont(v3, 1.5)", NULL, &g), TSR_EINVAL,
               "line 1, column 19: quantile_cont(): q must be from 0 to 1, not 1.5");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "quantile_cont(v3, [0.1, 0.2]) * 2", NULL, &g),
               TSR_EPARSE, "line 1, column 1: a list of quantiles gives several columns");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "largest(v3, 0)", NULL, &g), TSR_EINVAL,
               "largest(): n must be a whole number >= 1, not 0");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "corr(v1)", NULL, &g), TSR_EPARSE,
               "line 1, column 8: expected ',' and a second column, found ')'");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "a = sum(v1), a = max(v1)", NULL, &g), TSR_EINVAL,
               "two result columns are named 'a'");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "k = sum(v1)", NULL, &g), TSR_EINVAL,
               "two result columns are named 'k'");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(v1);max(v1)", NULL, &g), TSR_EPARSE,
               "line 1, column 8: expected ',' or the end of the list");
  /* Lines count from 1, columns in bytes, with the line and a caret. */
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(v1),\n  max(v1) +", NULL, &g), TSR_EPARSE,
               "line 2, column 12: expected an aggregate, a group key, a number or '('");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(v1),\n  count(**)", NULL, &g), TSR_EPARSE,
               "line 2, column 9: expected a column name (an aggregate's arguments are "
               "columns), found '**'\n    count(**)\n          ^");
  /* Type errors name the sub-expression, at the operator. */
  assert_fails(tsr_frame_aggregate(f, 2, keys, "sum(v1) + s", NULL, &g), TSR_EDTYPE,
               "line 1, column 9: 'sum(v1) + s': cannot add int64 and string");
  assert_fails(tsr_frame_aggregate(f, 1, keys, "sum(v1)", NULL, NULL), TSR_EINVAL, "out is NULL");
  const char *bad[1] = {"nokey"};
  assert_fails(tsr_frame_aggregate(f, 1, bad, "sum(v1)", NULL, &g), TSR_EINVAL, "nokey");
  assert_null(g);
  tsr_frame_destroy(&f);
  free(d);
}

/* pow / power in column expressions: float64 as DuckDB's pow. */
static void test_aggregate__pow_in_column_expressions(void **state) {
  tsr_ctx *ctx = *state;
  data *d = calloc(1, sizeof *d);
  tsr_frame *f = make_frame(ctx, d), *g = NULL, *h = NULL;
  assert_ok(tsr_frame_assign(f, "p", "pow(v3, 2)", &g));
  assert_ok(tsr_frame_assign(g, "q", "power(v2, 0.5) + pow(2, v1)", &h));
  assert_int_equal(tsr_frame_col_type(h, 5).id, TSR_COL_FLOAT64);
  assert_int_equal(tsr_frame_col_type(h, 6).id, TSR_COL_FLOAT64);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(h, NULL, &r));
  double *p = malloc(N * sizeof *p), *q = malloc(N * sizeof *q);
  uint8_t pb[(N + 7) / 8], qb[(N + 7) / 8];
  assert_ok(tsr_frame_result_values(r, 5, p, N * sizeof *p, pb));
  assert_ok(tsr_frame_result_values(r, 6, q, N * sizeof *q, qb));
  for (int i = 0; i < N; i++) {
    assert_int_equal((pb[i / 8] >> (i % 8)) & 1, d->vv3[i]);
    if (d->vv3[i])
      assert_true(p[i] == pow(d->v3[i], 2));
    assert_int_equal((qb[i / 8] >> (i % 8)) & 1, d->vv1[i]);
    if (d->vv1[i])
      assert_true(q[i] == pow(d->v2[i], 0.5) + pow(2, (double)d->v1[i]));
  }
  tsr_frame *e = NULL;
  assert_fails(tsr_frame_assign(f, "r", "pow(s, 2)", &e), TSR_EDTYPE,
               "cannot take the power of string and int64");
  free(p);
  free(q);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_aggregate__expressions_and_names, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_aggregate__repeated_and_no_keys, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_aggregate__errors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_aggregate__pow_in_column_expressions, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
