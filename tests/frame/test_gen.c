/* test_gen.c — the db-benchmark generators: the same data for any chunking
 * and thread count, the G1 columns' ranges and level counts, exact null
 * counts, the sorted variant against a naive stable sort of the unsorted
 * rows, and the J1 key structure (every key of a side present, 90 %
 * shared, id4..id6 = "id" + id1..id3). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_util.h"

typedef struct g1 {
  int64_t n;
  int32_t *c[8]; /* id1 code, id2 code, id3 level, id4, id5, id6, v1, v2 */
  double *v3;
  uint8_t *valid[9];
  int64_t dict_size;
  const int64_t *doff;
  const char *ddata;
  tsr_frame_result *r;
} g1;

static void load_g1(tsr_frame *f, g1 *x) {
  assert_ok(tsr_frame_compute(f, NULL, &x->r));
  int64_t n = x->n = tsr_frame_result_nrows(x->r);
  for (int i = 0; i < 9; i++)
    x->valid[i] = malloc((size_t)n / 8 + 1);
  for (int i = 0; i < 8; i++) {
    x->c[i] = malloc((size_t)n * 4 + 4);
    if (i == 2) {
      for (int64_t r = 0; r < n; r++) {
        const char *t;
        size_t len;
        bool nul;
        assert_ok(tsr_frame_result_string(x->r, 2, r, &t, &len, &nul));
        int64_t lv = -1;
        if (!nul) {
          assert_int_equal(len, 12);
          assert_memory_equal(t, "id", 2);
          lv = 0;
          for (size_t j = 2; j < len; j++) {
            assert_true(t[j] >= '0' && t[j] <= '9');
            lv = lv * 10 + (t[j] - '0');
          }
        }
        x->c[2][r] = (int32_t)lv;
        if (nul)
          x->valid[2][r / 8] &= (uint8_t) ~(1u << (r % 8));
        else
          x->valid[2][r / 8] |= (uint8_t)(1u << (r % 8));
      }
    } else {
      assert_ok(tsr_frame_result_values(x->r, i, x->c[i], (size_t)n * 4, x->valid[i]));
    }
  }
  x->v3 = malloc((size_t)n * 8 + 8);
  assert_ok(tsr_frame_result_values(x->r, 8, x->v3, (size_t)n * 8, x->valid[8]));
  assert_ok(tsr_frame_result_dict(x->r, 0, &x->dict_size, &x->doff, &x->ddata));
}

static void free_g1(g1 *x) {
  for (int i = 0; i < 8; i++)
    free(x->c[i]);
  for (int i = 0; i < 9; i++)
    free(x->valid[i]);
  free(x->v3);
  tsr_frame_result_destroy(&x->r);
}

static bool valid(const g1 *x, int col, int64_t r) { return (x->valid[col][r / 8] >> (r % 8)) & 1; }

static void test_gen__groupby_distributions(void **state) {
  tsr_ctx *ctx = *state;
  const int64_t n = 100000, k = 10, nk = n / k;
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_gen_groupby(ctx, n, k, 0, false, 42, 4096, &f));
  assert_int_equal(tsr_frame_ncols(f), 9);
  static const char *names[9] = {"id1", "id2", "id3", "id4", "id5", "id6", "v1", "v2", "v3"};
  for (int i = 0; i < 9; i++)
    assert_string_equal(tsr_frame_col_name(f, i), names[i]);
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_DICT);
  assert_int_equal(tsr_frame_col_type(f, 2).id, TSR_COL_STRING);
  assert_int_equal(tsr_frame_col_type(f, 8).id, TSR_COL_FLOAT64);
  g1 x;
  memset(&x, 0, sizeof x);
  load_g1(f, &x);
  assert_int_equal(x.n, n);
  assert_int_equal(x.dict_size, k);
  for (int64_t i = 0; i < k; i++) { /* "id001".."id010" */
    char want[16];
    snprintf(want, sizeof want, "id%03d", (int)(i + 1));
    assert_int_equal(x.doff[i + 1] - x.doff[i], 5);
    assert_memory_equal(x.ddata + x.doff[i], want, 5);
  }
  const int64_t hi[8] = {k - 1, k - 1, nk, k, k, nk, 5, 15};
  const int64_t lo[8] = {0, 0, 1, 1, 1, 1, 1, 1};
  for (int col = 0; col < 8; col++) {
    int64_t levels = hi[col] - lo[col] + 1;
    int64_t *count = calloc((size_t)levels, sizeof *count);
    for (int64_t r = 0; r < n; r++) {
      assert_true(valid(&x, col, r));
      int64_t v = x.c[col][r];
      assert_true(v >= lo[col] && v <= hi[col]);
      count[v - lo[col]]++;
    }
    /* Every level drawn; the big ones within 6 sigma of uniform. */
    double e = (double)n / (double)levels;
    for (int64_t l = 0; l < levels; l++) {
      if (levels <= 100) {
        assert_true(count[l] > 0);
        assert_true(fabs((double)count[l] - e) < 6 * sqrt(e));
      }
    }
    free(count);
  }
  double sum = 0;
  for (int64_t r = 0; r < n; r++) {
    double v = x.v3[r];
    assert_true(v >= 0 && v <= 100);
    double m = v * 1e6;
    assert_true(fabs(m - nearbyint(m)) < 1e-6); /* 6 decimals */
    sum += v;
  }
  assert_true(fabs(sum / (double)n - 50) < 0.6); /* sd of the mean: 0.09 */
  free_g1(&x);
  tsr_frame_destroy(&f);
}

/* Same values for any chunking and thread count: the CSVs match byte for byte. */
static void test_gen__same_for_any_chunking_and_threads(void **state) {
  (void)state;
  char p[2][128];
  for (int run = 0; run < 2; run++) {
    tsr_ctx *c = NULL;
    assert_ok(tsr_ctx_create(&c));
    assert_ok(tsr_ctx_set_threads(c, run == 0 ? 1 : 3));
    snprintf(p[run], sizeof p[run], "/tmp/tsr_gen_%d_%d.csv", (int)getpid(), run);
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_gen_groupby(c, 30000, 100, 5, false, 7, run == 0 ? 0 : 999, &f));
    assert_ok(tsr_frame_write_csv(f, p[run], ',', true, NULL));
    tsr_frame_destroy(&f);
    for (int t = 0; t < 4; t++) {
      char q[300];
      snprintf(q, sizeof q, "%s.j%d", p[run], t);
      assert_ok(tsr_frame_gen_join(c, 20000, t, 7, run == 0 ? 0 : 333, &f));
      assert_ok(tsr_frame_write_csv(f, q, ',', true, NULL));
      tsr_frame_destroy(&f);
    }
    tsr_ctx_destroy(&c);
  }
  for (int t = -1; t < 4; t++) {
    char a[300], b[300], cmd[700];
    snprintf(a, sizeof a, t < 0 ? "%s" : "%s.j%d", p[0], t);
    snprintf(b, sizeof b, t < 0 ? "%s" : "%s.j%d", p[1], t);
    snprintf(cmd, sizeof cmd, "cmp -s '%s' '%s'", a, b);
    assert_int_equal(system(cmd), 0);
    unlink(a);
    unlink(b);
  }
  /* Another seed: other data. */
  tsr_ctx *c = NULL;
  assert_ok(tsr_ctx_create(&c));
  tsr_frame *f1 = NULL, *f2 = NULL;
  assert_ok(tsr_frame_gen_groupby(c, 1000, 10, 0, false, 1, 0, &f1));
  assert_ok(tsr_frame_gen_groupby(c, 1000, 10, 0, false, 2, 0, &f2));
  tsr_frame_result *r1 = NULL, *r2 = NULL;
  assert_ok(tsr_frame_compute(f1, NULL, &r1));
  assert_ok(tsr_frame_compute(f2, NULL, &r2));
  double v1[1000], v2[1000];
  assert_ok(tsr_frame_result_values(r1, 8, v1, sizeof v1, NULL));
  assert_ok(tsr_frame_result_values(r2, 8, v2, sizeof v2, NULL));
  int same = 0;
  for (int i = 0; i < 1000; i++)
    same += v1[i] == v2[i];
  assert_true(same < 10);
  tsr_frame_result_destroy(&r1);
  tsr_frame_result_destroy(&r2);
  tsr_frame_destroy(&f1);
  tsr_frame_destroy(&f2);
  tsr_ctx_destroy(&c);
}

static const g1 *cmp_x;
static int cmp_rows(const void *pa, const void *pb) {
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  for (int col = 0; col < 6; col++) {
    bool va = valid(cmp_x, col, a), vb = valid(cmp_x, col, b);
    if (va != vb)
      return va ? 1 : -1; /* nulls first */
    if (!va)
      continue;
    int32_t x = cmp_x->c[col][a], y = cmp_x->c[col][b];
    if (x != y)
      return x < y ? -1 : 1;
  }
  return a < b ? -1 : a > b; /* stable */
}

static void test_gen__nulls_and_sorted(void **state) {
  tsr_ctx *ctx = *state;
  const int64_t n = 20000;
  tsr_frame *f = NULL, *s = NULL;
  assert_ok(tsr_frame_gen_groupby(ctx, n, 5, 5, false, 3, 3000, &f));
  assert_ok(tsr_frame_gen_groupby(ctx, n, 5, 5, true, 3, 3000, &s));
  g1 x, y;
  memset(&x, 0, sizeof x);
  memset(&y, 0, sizeof y);
  load_g1(f, &x);
  load_g1(s, &y);
  for (int col = 0; col < 9; col++) {
    int64_t nulls = 0;
    for (int64_t r = 0; r < n; r++)
      nulls += !valid(&x, col, r);
    assert_int_equal(nulls, n * 5 / 100); /* exactly floor(n * 5 %) */
  }
  int64_t *idx = malloc((size_t)n * sizeof *idx);
  for (int64_t r = 0; r < n; r++)
    idx[r] = r;
  cmp_x = &x;
  qsort(idx, (size_t)n, sizeof *idx, cmp_rows);
  for (int64_t r = 0; r < n; r++) {
    int64_t o = idx[r];
    for (int col = 0; col < 9; col++) {
      assert_int_equal(valid(&y, col, r), valid(&x, col, o));
      if (!valid(&x, col, o))
        continue;
      if (col < 8)
        assert_int_equal(y.c[col][r], x.c[col][o]);
      else
        assert_true(y.v3[r] == x.v3[o]);
    }
  }
  free(idx);
  free_g1(&x);
  free_g1(&y);
  tsr_frame_destroy(&f);
  tsr_frame_destroy(&s);
}

/* Column `name` of a join table as int64 keys. */
static int64_t *join_keys(tsr_frame *f, const char *name, int64_t *n) {
  tsr_frame *sel = NULL;
  const char *names[1] = {name};
  assert_ok(tsr_frame_select(f, 1, names, &sel));
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(sel, NULL, &r));
  *n = tsr_frame_result_nrows(r);
  int64_t *k = malloc((size_t)*n * 8 + 8);
  assert_ok(tsr_frame_result_values(r, 0, k, (size_t)*n * 8, NULL));
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&sel);
  return k;
}

static void test_gen__join_keys(void **state) {
  tsr_ctx *ctx = *state;
  const int64_t n = 200000, m2 = 200, pool2 = m2 + m2 / 10;
  tsr_frame *x = NULL, *med = NULL, *small = NULL, *big = NULL;
  assert_ok(tsr_frame_gen_join(ctx, n, TSR_JOIN_X, 5, 0, &x));
  assert_ok(tsr_frame_gen_join(ctx, n, TSR_JOIN_MEDIUM, 5, 0, &med));
  assert_ok(tsr_frame_gen_join(ctx, n, TSR_JOIN_SMALL, 5, 0, &small));
  assert_ok(tsr_frame_gen_join(ctx, n, TSR_JOIN_BIG, 5, 0, &big));
  assert_int_equal(tsr_frame_nrows_known(x), n);
  assert_int_equal(tsr_frame_nrows_known(med), m2);
  assert_int_equal(tsr_frame_nrows_known(small), 1);
  assert_int_equal(tsr_frame_nrows_known(big), n);
  assert_int_equal(tsr_frame_ncols(x), 7);
  assert_string_equal(tsr_frame_col_name(x, 6), "v1");
  assert_int_equal(tsr_frame_ncols(med), 5);
  assert_string_equal(tsr_frame_col_name(med, 3), "id5");
  assert_int_equal(tsr_frame_ncols(small), 3);
  assert_string_equal(tsr_frame_col_name(big, 6), "v2");
  int64_t nx, nm, nb;
  int64_t *x2 = join_keys(x, "id2", &nx), *m2k = join_keys(med, "id2", &nm);
  int64_t *x3 = join_keys(x, "id3", &nx), *b3 = join_keys(big, "id3", &nb);
  /* id2: x draws all its 200 keys, medium is a permutation of its 200;
   * 180 are in both; all within the pool 1..220. */
  char *in_x = calloc((size_t)pool2 + 1, 1), *in_m = calloc((size_t)pool2 + 1, 1);
  for (int64_t i = 0; i < nx; i++) {
    assert_true(x2[i] >= 1 && x2[i] <= pool2);
    in_x[x2[i]] = 1;
  }
  for (int64_t i = 0; i < nm; i++) {
    assert_true(m2k[i] >= 1 && m2k[i] <= pool2);
    assert_int_equal(in_m[m2k[i]], 0); /* distinct */
    in_m[m2k[i]] = 1;
  }
  int64_t dx = 0, both = 0;
  for (int64_t v = 1; v <= pool2; v++) {
    dx += in_x[v];
    both += in_x[v] && in_m[v];
  }
  assert_int_equal(dx, m2);
  assert_int_equal(both, m2 - m2 / 10);
  /* id3: x and big are permutations of their n keys, 90 % shared. */
  int64_t pool3 = n + n / 10;
  char *s3 = calloc((size_t)pool3 + 1, 1);
  for (int64_t i = 0; i < nx; i++) {
    assert_true(x3[i] >= 1 && x3[i] <= pool3);
    assert_int_equal(s3[x3[i]] & 1, 0);
    s3[x3[i]] |= 1;
  }
  int64_t shared = 0;
  for (int64_t i = 0; i < nb; i++) {
    assert_int_equal(s3[b3[i]] & 2, 0);
    s3[b3[i]] |= 2;
    shared += s3[b3[i]] & 1;
  }
  assert_int_equal(shared, n - n / 10);
  /* id5 = "id" + id2 in medium. */
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(med, NULL, &r));
  for (int64_t i = 0; i < nm; i++) {
    const char *t;
    size_t len;
    assert_ok(tsr_frame_result_string(r, 3, i, &t, &len, NULL));
    char want[32];
    int wl = snprintf(want, sizeof want, "id%lld", (long long)m2k[i]);
    assert_int_equal(len, (size_t)wl);
    assert_memory_equal(t, want, len);
  }
  tsr_frame_result_destroy(&r);
  free(in_x);
  free(in_m);
  free(s3);
  free(x2);
  free(m2k);
  free(x3);
  free(b3);
  tsr_frame_destroy(&x);
  tsr_frame_destroy(&med);
  tsr_frame_destroy(&small);
  tsr_frame_destroy(&big);
}

static void test_gen__bad_arguments(void **state) {
  tsr_ctx *ctx = *state;
  tsr_frame *f = NULL;
  assert_fails(tsr_frame_gen_groupby(ctx, -1, 10, 0, false, 0, 0, &f), TSR_EINVAL, "n = -1");
  assert_fails(tsr_frame_gen_groupby(ctx, 10, 0, 0, false, 0, 0, &f), TSR_EINVAL, "k = 0");
  assert_fails(tsr_frame_gen_groupby(ctx, 10, 2, 101, false, 0, 0, &f), TSR_EINVAL, "nas_pct");
  assert_fails(tsr_frame_gen_join(ctx, 10, 7, 0, 0, &f), TSR_EINVAL, "which = 7");
  assert_null(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_gen__groupby_distributions, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test(test_gen__same_for_any_chunking_and_threads),
      cmocka_unit_test_setup_teardown(test_gen__nulls_and_sorted, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_gen__join_keys, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_gen__bad_arguments, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
