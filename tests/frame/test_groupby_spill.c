/* test_groupby_spill.c — the out-of-core group-by (groupby_spill.c): over
 * random frames of many ragged chunks (nulls, NaN, -0.0, every key
 * kind: integers, strings, dictionaries, floats, bools, several keys; many
 * groups, all-distinct keys, one group, zero and one rows; 16 chunks or
 * more, 64 or more in the first), its result is
 * bitwise the in-memory engine's (same rows, values and first-seen order)
 * and a naive first-seen group-by's written here, in 8 partitions on 1
 * thread and 16 on 2.  Under a memory limit the in-memory engine
 * runs out of memory and tsr_frame_groupby completes out of core in at
 * least 8 partitions.  Spill files leave nothing behind (no file in the
 * spill directory, no open descriptor) after success, after a bad spill
 * directory and after every failed allocation along the way. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "frame/groupby_spill.h"
#include "frame_util.h"

/* ---- the naive reference -------------------------------------------------------------- */

static bool is_float(tsr_type t) { return t.id == TSR_COL_FLOAT32 || t.id == TSR_COL_FLOAT64; }

/* Whether rows i and j of c are the same key (null = null, NaN = NaN,
 * -0.0 = 0.0, strings by text). */
static bool cell_eq(const ref_col *c, int64_t i, int64_t j) {
  if (!c->valid[i] || !c->valid[j])
    return c->valid[i] == c->valid[j];
  if (c->str != NULL)
    return strcmp(c->str[i], c->str[j]) == 0;
  long double a = ref_num_at(c, i), b = ref_num_at(c, j);
  if (is_float(c->type) && (a != a || b != b))
    return a != a && b != b;
  return a == b;
}

/* Groups in first-seen order: first[g] the group's first row, count[g]
 * its rows, sum[g] the sum of column `v` (int32, nulls skipped), nsum[g]
 * the non-null values summed. */
typedef struct naive {
  int64_t n;
  int64_t *first, *count, *sum, *nsum;
} naive;

static void naive_groupby(const ref_frame *f, int nkeys, int v, naive *out) {
  int64_t n = f->n;
  out->n = 0;
  out->first = calloc((size_t)n + 1, sizeof(int64_t));
  out->count = calloc((size_t)n + 1, sizeof(int64_t));
  out->sum = calloc((size_t)n + 1, sizeof(int64_t));
  out->nsum = calloc((size_t)n + 1, sizeof(int64_t));
  for (int64_t r = 0; r < n; r++) {
    int64_t g = 0;
    for (; g < out->n; g++) {
      bool eq = true;
      for (int j = 0; j < nkeys && eq; j++)
        eq = cell_eq(&f->cols[j], out->first[g], r);
      if (eq)
        break;
    }
    if (g == out->n)
      out->first[out->n++] = r;
    out->count[g]++;
    if (f->cols[v].valid[r]) {
      out->sum[g] += ((const int32_t *)f->cols[v].values)[r];
      out->nsum[g]++;
    }
  }
}

static void naive_free(naive *g) {
  free(g->first);
  free(g->count);
  free(g->sum);
  free(g->nsum);
}

/* got (keys, then count(*), sum(v), ...) against the naive group-by. */
static void assert_naive(const ref_frame *in, int nkeys, const naive *want, const ref_frame *got) {
  assert_int_equal(got->n, want->n);
  for (int64_t g = 0; g < want->n; g++) {
    for (int j = 0; j < nkeys; j++) {
      const ref_col *k = &got->cols[j], *src = &in->cols[j];
      int64_t r = want->first[g];
      assert_int_equal(k->valid[g], src->valid[r]);
      if (!src->valid[r])
        continue;
      if (src->str != NULL)
        assert_string_equal(k->str[g], src->str[r]);
      else /* the key shown is the first row's (-0.0 stays -0.0) */
        assert_memory_equal(k->values + (size_t)g * tsr_type_width(k->type),
                            src->values + (size_t)r * tsr_type_width(src->type),
                            tsr_type_width(src->type));
    }
    assert_int_equal(((const int64_t *)got->cols[nkeys].values)[g], want->count[g]);
    const ref_col *s = &got->cols[nkeys + 1];
    assert_int_equal(s->valid[g], want->nsum[g] > 0);
    if (want->nsum[g] > 0)
      assert_int_equal(((const int64_t *)s->values)[g], want->sum[g]);
  }
}

/* ---- the frames -------------------------------------------------------------------------- */

enum { NAGGS = 11 };

/* Aggregates over v (int32), x (float64), s (string) at columns nkeys.. */
static void make_aggs(int nkeys, tsr_agg *a, char names[3][16]) {
  snprintf(names[0], 16, "c%d", nkeys);
  snprintf(names[1], 16, "c%d", nkeys + 1);
  snprintf(names[2], 16, "c%d", nkeys + 2);
  const char *v = names[0], *x = names[1], *s = names[2];
  tsr_agg aggs[NAGGS] = {
      {.op = TSR_AGG_COUNT_ALL},       {.op = TSR_AGG_SUM, .column = v},
      {.op = TSR_AGG_MEAN, .column = x}, {.op = TSR_AGG_MIN, .column = x},
      {.op = TSR_AGG_MAX, .column = s},  {.op = TSR_AGG_FIRST, .column = s},
      {.op = TSR_AGG_LAST, .column = x}, {.op = TSR_AGG_VAR, .column = x, .ddof = 1},
      {.op = TSR_AGG_NUNIQUE, .column = v}, {.op = TSR_AGG_MEDIAN, .column = x},
      {.op = TSR_AGG_CORR, .column = x, .column2 = v},
  };
  memcpy(a, aggs, sizeof aggs);
}

typedef enum shape { MANY, DISTINCT, ONE } shape;

/* A random frame of n rows: nkeys key columns of the given types, then v
 * (int32), x (float64), s (string).  MANY: about n / 10 groups per key;
 * DISTINCT: every row its own key; ONE: one key value. */
static void make_ref(ref_frame *f, int nkeys, const tsr_type *ktypes, int64_t n, shape sh,
                     uint64_t seed) {
  tsr_type types[8];
  memcpy(types, ktypes, (size_t)nkeys * sizeof *types);
  types[nkeys] = (tsr_type){TSR_COL_INT32, 0};
  types[nkeys + 1] = (tsr_type){TSR_COL_FLOAT64, 0};
  types[nkeys + 2] = (tsr_type){TSR_COL_STRING, 0};
  ref_frame_random(f, nkeys + 3, types, n, sh == MANY ? 10 : 0, seed);
  uint64_t s = seed ^ 0x5555;
  int64_t m = sh == MANY ? n / 10 + 2 : 1;
  for (int j = 0; j < nkeys; j++) {
    ref_col *c = &f->cols[j];
    for (int64_t r = 0; r < n; r++) {
      int64_t k = sh == DISTINCT ? r : (int64_t)(fu_rand(&s) % (uint64_t)m);
      if (sh == DISTINCT && j > 0)
        k = (int64_t)(fu_rand(&s) % 3);
      switch (c->type.id) {
      case TSR_COL_INT8:
        ((int8_t *)c->values)[r] = (int8_t)(k % 7 - 3);
        break;
      case TSR_COL_INT32:
        ((int32_t *)c->values)[r] = (int32_t)(k * 7919 % 100003) - 50000;
        break;
      case TSR_COL_INT64:
        ((int64_t *)c->values)[r] = (int64_t)(k * 2654435761u) - ((int64_t)1 << 40);
        break;
      case TSR_COL_BOOL:
        ((uint8_t *)c->values)[r] = sh == ONE ? 1 : (uint8_t)(k & 1);
        break;
      case TSR_COL_FLOAT64: { /* NaN (two payloads), -0.0, 0.0 among the keys */
        static const double special[5] = {0.0, -0.0, 1.5, 0, 0};
        double d = k % 5 < 3 ? special[k % 5] : (double)k / 4;
        if (k % 7 == 3)
          d = NAN;
        if (k % 7 == 5) {
          uint64_t bits = UINT64_C(0x7ff8000000000abc);
          memcpy(&d, &bits, sizeof d);
        }
        ((double *)c->values)[r] = d;
        break;
      }
      case TSR_COL_STRING: {
        char buf[48];
        snprintf(buf, sizeof buf, k % 2 ? "key-%lld-with-a-long-tail" : "k%lld", (long long)k);
        free(c->str[r]);
        c->str[r] = fu_strdup(c->valid[r] ? buf : "");
        break;
      }
      case TSR_COL_DICT: {
        int32_t code = (int32_t)(k % c->dict_size);
        ((int32_t *)c->values)[r] = code;
        free(c->str[r]);
        c->str[r] = fu_strdup(c->valid[r] ? c->dict[code] : "");
        break;
      }
      default:
        fail_msg("key type %d not made by this test", (int)c->type.id);
      }
      if (sh != MANY)
        c->valid[r] = 1;
    }
    if (sh != MANY && c->str != NULL)
      for (int64_t r = 0; r < n; r++)
        assert_non_null(c->str[r]);
  }
}

static void compute_spill(tsr_frame *f, int nkeys, const char *const *keys, const tsr_agg *aggs,
                          int parts, ref_frame *out) {
  tsr_frame *g = NULL;
  int used = 0;
  assert_ok(tsr__groupby_spill(f, nkeys, keys, NAGGS, aggs, parts, &used, &g));
  assert_int_equal(used, parts);
  ref_frame_compute(g, out);
  tsr_frame_destroy(&g);
}

/* One case: spilled (8 and 16 partitions, 1 and 2 threads) = in memory =
 * the naive group-by. */
static void check_case(tsr_ctx *ctx, int nkeys, const tsr_type *ktypes, int64_t n, shape sh,
                       int min_chunks, uint64_t seed) {
  ref_frame ref;
  make_ref(&ref, nkeys, ktypes, n, sh, seed);
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, min_chunks, seed + 1, &f));
  const char *keys[4];
  for (int j = 0; j < nkeys; j++)
    keys[j] = ref.cols[j].name;
  tsr_agg aggs[NAGGS];
  char names[3][16];
  make_aggs(nkeys, aggs, names);
  assert_ok(tsr_ctx_set_threads(ctx, 1));
  tsr_frame *m = NULL;
  assert_ok(tsr__groupby_memory(f, nkeys, keys, NAGGS, aggs, NULL, &m));
  ref_frame want, got;
  ref_frame_compute(m, &want);
  tsr_frame_destroy(&m);
  naive nv;
  naive_groupby(&ref, nkeys, nkeys, &nv);
  assert_naive(&ref, nkeys, &nv, &want);
  static const int runs[2][2] = {{1, 8}, {2, 16}}; /* threads, partitions */
  for (int k = 0; k < 2; k++) {
    assert_ok(tsr_ctx_set_threads(ctx, runs[k][0]));
    compute_spill(f, nkeys, keys, aggs, runs[k][1], &got);
    ref_frame_assert_equal(&want, &got);
    assert_naive(&ref, nkeys, &nv, &got);
    ref_frame_free(&got);
  }
  naive_free(&nv);
  ref_frame_free(&want);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_groupby_spill__matches_memory_and_naive(void **state) {
  tsr_ctx *ctx = *state;
  const tsr_type i32 = {TSR_COL_INT32, 0}, i64 = {TSR_COL_INT64, 0}, str = {TSR_COL_STRING, 0},
                 dict = {TSR_COL_DICT, 0}, i8 = {TSR_COL_INT8, 0}, f64 = {TSR_COL_FLOAT64, 0},
                 b = {TSR_COL_BOOL, 0};
  check_case(ctx, 1, &i32, 2000, MANY, 64, 1);
  check_case(ctx, 1, &str, 2000, MANY, 16, 2);
  check_case(ctx, 1, &f64, 1500, MANY, 16, 3);
  const tsr_type multi[3] = {dict, i8, f64};
  check_case(ctx, 3, multi, 2000, MANY, 16, 4);
  check_case(ctx, 1, &i64, 2000, DISTINCT, 16, 5);
  const tsr_type distinct2[2] = {str, i32};
  check_case(ctx, 2, distinct2, 1500, DISTINCT, 16, 6);
  check_case(ctx, 1, &b, 1500, ONE, 16, 7);
  check_case(ctx, 1, &str, 1, MANY, 16, 8);
  check_case(ctx, 1, &i32, 0, MANY, 16, 9);
}

/* ---- under a memory limit ------------------------------------------------------------------- */

static void distinct_frame(tsr_ctx *ctx, int64_t n, int min_chunks, ref_frame *ref,
                           tsr_frame **f) {
  const tsr_type i64 = {TSR_COL_INT64, 0};
  make_ref(ref, 1, &i64, n, DISTINCT, 11);
  assert_ok(ref_frame_to_frame(ctx, ref, min_chunks, 12, f));
}

static void test_groupby_spill__memory_limit(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL;
  distinct_frame(ctx, 100000, 4, &ref, &f);
  const char *keys[1] = {"c0"};
  tsr_agg aggs[3] = {{.op = TSR_AGG_SUM, .column = "c1"},
                     {.op = TSR_AGG_MEAN, .column = "c2"},
                     {.op = TSR_AGG_COUNT_ALL}};
  tsr_frame *m = NULL, *g = NULL;
  assert_ok(tsr_frame_groupby(f, 1, keys, 3, aggs, NULL, &m));
  ref_frame want, got;
  ref_frame_compute(m, &want);
  tsr_frame_destroy(&m);
  assert_int_equal(want.n, 100000);

  tsr_memory_stats ms;
  assert_ok(tsr_ctx_memory_stats(ctx, &ms));
  uint64_t limit = ms.current_bytes + (UINT64_C(2) << 20);
  assert_ok(tsr_ctx_set_memory_limit(ctx, limit));
  /* In memory it does not fit... */
  assert_int_equal(tsr__groupby_memory(f, 1, keys, 3, aggs, NULL, &m), TSR_ENOMEM);
  assert_null(m);
  /* ...out of core it does, in at least 8 partitions. */
  int used = 0;
  assert_ok(tsr__groupby_spill(f, 1, keys, 3, aggs, 0, &used, &g));
  assert_true(used >= 8);
  tsr_frame_destroy(&g);
  tsr_ctx_reset_peak(ctx);
  assert_ok(tsr_frame_groupby(f, 1, keys, 3, aggs, NULL, &g));
  /* The result is written out under the limit too. */
  char path[] = "/tmp/tessera-test-gbspill-XXXXXX.csv";
  int fd = mkstemps(path, 4);
  assert_true(fd >= 0);
  close(fd);
  assert_ok(tsr_frame_write_csv(g, path, ',', true, NULL));
  assert_ok(tsr_ctx_memory_stats(ctx, &ms));
  assert_true(ms.peak_bytes <= limit);
  FILE *in = fopen(path, "r");
  assert_non_null(in);
  int64_t lines = 0;
  for (int ch; (ch = fgetc(in)) != EOF;)
    lines += ch == '\n';
  fclose(in);
  unlink(path);
  assert_int_equal(lines, want.n + 1);
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
  ref_frame_compute(g, &got);
  ref_frame_assert_equal(&want, &got);
  ref_frame_free(&got);
  ref_frame_free(&want);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

/* ---- nothing left behind ---------------------------------------------------------------------- */

static int open_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  if (d == NULL)
    return -1;
  int n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

static int dir_entries(const char *path) {
  DIR *d = opendir(path);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static void test_groupby_spill__leaves_nothing(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL, *g = NULL;
  distinct_frame(ctx, 1000, 64, &ref, &f);
  const char *keys[1] = {"c0"};
  tsr_agg aggs[NAGGS];
  char names[3][16];
  make_aggs(1, aggs, names);
  char dir[] = "/tmp/tessera-test-spilldir-XXXXXX";
  assert_non_null(mkdtemp(dir));
  const char *old = getenv("TESSERA_SPILL_DIR");
  char *saved = old ? fu_strdup(old) : NULL;
  setenv("TESSERA_SPILL_DIR", dir, 1);
  int fds = open_fds();
  assert_true(fds > 0);

  /* Success: the result holds one (unlinked) spill file until destroyed. */
  assert_ok(tsr__groupby_spill(f, 1, keys, NAGGS, aggs, 8, NULL, &g));
  assert_int_equal(dir_entries(dir), 0);
  assert_int_equal(open_fds(), fds + 1);
  ref_frame got;
  ref_frame_compute(g, &got);
  assert_int_equal(got.n, 1000);
  ref_frame_free(&got);
  tsr_frame_destroy(&g);
  assert_int_equal(open_fds(), fds);

  /* Every failed allocation along the way fails cleanly. */
  tsr_memory_stats ms;
  assert_ok(tsr_ctx_memory_stats(ctx, &ms));
  uint64_t base = ms.current_bytes;
  int failures = 0;
  for (uint64_t k = 1;; k += 1 + k / 4) {
    assert_ok(tsr_ctx_set_fail_allocation(ctx, k));
    tsr_status st = tsr__groupby_spill(f, 1, keys, NAGGS, aggs, 8, NULL, &g);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    if (st == TSR_OK) {
      tsr_frame_destroy(&g);
      break;
    }
    failures++;
    assert_int_equal(st, TSR_ENOMEM);
    assert_null(g);
    assert_ok(tsr_ctx_memory_stats(ctx, &ms));
    assert_int_equal(ms.current_bytes, base);
    assert_int_equal(open_fds(), fds);
  }
  assert_true(failures > 20);
  assert_int_equal(dir_entries(dir), 0);

  /* A spill directory that is not there: a clear error, nothing open. */
  char missing[sizeof dir + 16];
  snprintf(missing, sizeof missing, "%s/nope", dir);
  setenv("TESSERA_SPILL_DIR", missing, 1);
  assert_fails(tsr__groupby_spill(f, 1, keys, NAGGS, aggs, 8, NULL, &g), TSR_EIO,
               "cannot create a spill file in");
  assert_non_null(strstr(tsr_last_error(), "/nope"));
  assert_null(g);
  assert_int_equal(open_fds(), fds);

  if (saved != NULL) {
    setenv("TESSERA_SPILL_DIR", saved, 1);
    free(saved);
  } else {
    unsetenv("TESSERA_SPILL_DIR");
  }
  rmdir(dir);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

/* Chunks of 2^18 rows: in memory a part is a run of 4 of them (the run
 * length comes from the input's chunk capacities), so the 6 chunks make
 * two parts, and float sums are added part by part.  The partitions'
 * pieces are far smaller; grouped with their own capacities they would
 * make one part of all 6 and add the same values in another order.  The
 * spilled result must still be the in-memory one bitwise. */
static void test_groupby_spill__input_parts(void **state) {
  tsr_ctx *ctx = *state;
  const int64_t rows = INT64_C(1) << 18, n = 6 * rows;
  const tsr_type types[2] = {{TSR_COL_INT32, 0}, {TSR_COL_FLOAT64, 0}};
  ref_frame ref;
  ref_frame_random(&ref, 2, types, n, 0, 77);
  int32_t *key = (int32_t *)ref.cols[0].values;
  for (int64_t i = 0; i < n; i++)
    key[i] = (int32_t)(((uint32_t)key[i]) % 1000u);
  tsr_column_data cd[2];
  ref_frame_columns(&ref, 0, n, cd);
  tsr_frame *f = NULL, *m = NULL, *g = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, cd, rows, TSR_BUFFER_ADOPT, fu_free_fn, NULL, &f));
  const char *keys[1] = {"c0"};
  const tsr_agg aggs[2] = {{.op = TSR_AGG_SUM, .column = "c1"},
                           {.op = TSR_AGG_MEAN, .column = "c1"}};
  assert_ok(tsr__groupby_memory(f, 1, keys, 2, aggs, NULL, &m));
  assert_ok(tsr__groupby_spill(f, 1, keys, 2, aggs, 8, NULL, &g));
  ref_frame want, got;
  ref_frame_compute(m, &want);
  ref_frame_compute(g, &got);
  assert_int_equal(want.n, 1000);
  ref_frame_assert_equal(&want, &got);
  ref_frame_free(&want);
  ref_frame_free(&got);
  tsr_frame_destroy(&m);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_groupby_spill__errors(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL, *g = NULL;
  distinct_frame(ctx, 100, 8, &ref, &f);
  const char *keys[1] = {"c0"};
  tsr_agg big = {.op = TSR_AGG_LARGEST, .column = "c1", .n = 2};
  assert_fails(tsr__groupby_spill(f, 1, keys, 1, &big, 8, NULL, &g), TSR_ENOTSUP, "largest");
  tsr_agg sum = {.op = TSR_AGG_SUM, .column = "c1"};
  assert_fails(tsr__groupby_spill(f, 1, keys, 1, &sum, -1, NULL, &g), TSR_EINVAL, "partitions");
  const char *bad[1] = {"nosuch"};
  assert_fails(tsr__groupby_spill(f, 1, bad, 1, &sum, 8, NULL, &g), TSR_EINVAL, "nosuch");
  tsr_agg bad_sum = {.op = TSR_AGG_SUM, .column = "c3"}; /* a string */
  assert_fails(tsr__groupby_spill(f, 1, keys, 1, &bad_sum, 8, NULL, &g), TSR_EDTYPE, "c3");
  assert_null(g);
  /* Bad calls under a memory limit are the in-memory engine's errors. */
  assert_ok(tsr_ctx_set_memory_limit(ctx, UINT64_C(1) << 30));
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, NULL, NULL, &g), TSR_EINVAL, "naggs");
  assert_fails(tsr_frame_groupby(f, 1, bad, 1, &sum, NULL, &g), TSR_EINVAL, "nosuch");
  assert_ok(tsr_ctx_set_memory_limit(ctx, 0));
  tsr_groupby_options sorted = {TSR_GROUP_SORTED};
  assert_false(tsr__groupby_spill_applies(f, 1, 1, &sum, &sorted));
  assert_false(tsr__groupby_spill_applies(f, 0, 1, &sum, NULL));
  assert_true(tsr__groupby_spill_applies(f, 1, 1, &sum, NULL));
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_groupby_spill__matches_memory_and_naive, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby_spill__memory_limit, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby_spill__leaves_nothing, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby_spill__input_parts, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby_spill__errors, test_ctx_setup,
                                      test_ctx_teardown),
  };
  if (getenv("TEST_FILTER") != NULL)
    cmocka_set_test_filter(getenv("TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
