/* test_order_sort.c — tsr_sort, tsr_argsort, tsr_unique and the quantiles
 * and medians against dense references written here with NumPy's semantics
 * (a stable qsort with NaN last, NumPy's virtual index and _lerp), over
 * random arrays with NaN, -0.0, infinities and duplicates, 1-D to 3-D with
 * every axis and axis=None, random chunkings (1-element, ragged, whole),
 * empty arrays; results bitwise identical for the serial executor and 1
 * and 2 threads; values worked out by hand; errors that name the argument. */
#include "order_util.h"

/* Computes a into a new malloc'd buffer with 0 (serial), 1 and 2 threads,
 * asserting the three results are bitwise identical. */
static void *compute3(tsr_ctx *ctx, tsr_array *a) {
  size_t bytes = (size_t)tsr_array_nbytes(a);
  void *first = NULL;
  for (int t = 0; t < 3; t++) {
    configure(ctx, t);
    void *buf = malloc(bytes ? bytes : 1);
    assert_non_null(buf);
    assert_ok(tsr_array_to_buffer(a, buf, bytes));
    if (first == NULL) {
      first = buf;
    } else {
      assert_memory_equal(first, buf, bytes);
      free(buf);
    }
  }
  return first;
}

/* NumPy's linear quantile of the sorted m values s (no NaN), as NumPy's
 * _quantile computes it (virtual index (n - 1) * q, floor, clamp, _lerp). */
static double ref_quantile(const double *s, int64_t m, double q) {
  double vi = (double)(m - 1) * q;
  if (vi >= (double)(m - 1))
    return s[m - 1];
  double prev = floor(vi);
  double a = s[(int64_t)prev], b = s[(int64_t)prev + 1], t = vi - prev;
  if (a == b || t == 0) /* NumPy's _lerp gives NaN here next to an infinity (inf * 0) */
    return a;
  double d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

/* The statistic `kind` (0 quantile q, 1 median) of one lane; skipnan for the
 * nan- variants. */
static double ref_stat(ref_item *it, int64_t n, int kind, double q, bool skipnan) {
  ref_sort(it, n);
  int64_t m = 0;
  while (m < n && it[m].v == it[m].v)
    m++;
  if ((m < n && !skipnan) || m == 0)
    return NAN;
  double *s = malloc((size_t)m * sizeof *s);
  for (int64_t i = 0; i < m; i++)
    s[i] = it[i].v;
  double r = kind == 0 ? ref_quantile(s, m, q)
             : m % 2   ? s[m / 2]
                       : (s[m / 2 - 1] + s[m / 2]) / 2;
  free(s);
  return r;
}

static const double qs[] = {0, 0.3, 0.5, 0.9, 1};
#define NQ 5

static void check_case(tsr_ctx *ctx, tsr_dtype dt, int ndim, const int64_t *shape,
                       const int64_t *chunks) {
  int64_t size = 1;
  for (int d = 0; d < ndim; d++)
    size *= shape[d];
  size_t item = tsr_dtype_size(dt);
  void *data = malloc((size_t)(size ? size : 1) * item);
  for (int64_t i = 0; i < size; i++)
    put(data, dt, i, rand_value(dt));
  tsr_array *x = NULL;
  assert_ok(tsr_array_from_buffer(ctx, dt, ndim, shape, chunks, data, TSR_BUFFER_COPY, NULL, NULL,
                                  &x));
  ref_item *it = malloc((size_t)(size ? size : 1) * sizeof *it);
  for (int axis = -1; axis < ndim; axis++) {
    bool flat = axis < 0;
    int64_t outer = 1, len = flat ? size : shape[axis], inner = 1;
    for (int d = 0; !flat && d < axis; d++)
      outer *= shape[d];
    for (int d = axis + 1; !flat && d < ndim; d++)
      inner *= shape[d];
    tsr_array *s = NULL, *as = NULL;
    assert_ok(tsr_sort(x, axis, flat, &s));
    assert_ok(tsr_argsort(x, axis, flat, &as));
    void *sv = compute3(ctx, s);
    int64_t *ai = compute3(ctx, as);
    tsr_array *st[6] = {NULL};
    double *sr[6] = {NULL};
    bool stats = dt != TSR_BOOL;
    if (stats) {
      assert_ok(tsr_quantile(x, qs, NQ, axis, flat, &st[0]));
      assert_ok(tsr_nanquantile(x, qs, NQ, axis, flat, &st[1]));
      assert_ok(tsr_median(x, axis, flat, &st[2]));
      assert_ok(tsr_nanmedian(x, axis, flat, &st[3]));
      assert_ok(tsr_quantile(x, (double[]){0.25}, -1, axis, flat, &st[4]));
      assert_ok(tsr_nanpercentile(x, (double[]){70}, -1, axis, flat, &st[5]));
      for (int k = 0; k < 6; k++) {
        assert_int_equal(tsr_array_dtype(st[k]), TSR_FLOAT64);
        assert_int_equal(tsr_array_size(st[k]), outer * inner * (k < 2 ? NQ : 1));
        sr[k] = compute3(ctx, st[k]);
      }
    }
    assert_int_equal(tsr_array_dtype(s), dt);
    assert_int_equal(tsr_array_dtype(as), TSR_INT64);
    for (int64_t o = 0; o < outer; o++)
      for (int64_t i = 0; i < inner; i++) {
        for (int64_t j = 0; j < len; j++) {
          it[j].v = get(data, dt, (o * len + j) * inner + i);
          it[j].i = j;
        }
        ref_sort(it, len);
        for (int64_t j = 0; j < len; j++) {
          int64_t at = (o * len + j) * inner + i;
          if (!same_value(get(sv, dt, at), it[j].v))
            fail_msg("sort: dtype %s axis %d lane (%lld, %lld) [%lld]: got %g, want %g",
                     tsr_dtype_name(dt), axis, (long long)o, (long long)i, (long long)j,
                     get(sv, dt, at), it[j].v);
          if (ai[at] != it[j].i)
            fail_msg("argsort: dtype %s axis %d lane (%lld, %lld) [%lld]: got %lld, want %lld",
                     tsr_dtype_name(dt), axis, (long long)o, (long long)i, (long long)j,
                     (long long)ai[at], (long long)it[j].i);
        }
        if (!stats)
          continue;
        for (int k = 0; k < 6; k++) {
          int nk = k < 2 ? NQ : 1;
          for (int jq = 0; jq < nk; jq++) {
            for (int64_t j = 0; j < len; j++) {
              it[j].v = get(data, dt, (o * len + j) * inner + i);
              it[j].i = j;
            }
            double q = k < 2 ? qs[jq] : k == 4 ? 0.25 : 0.7;
            double want = ref_stat(it, len, k == 2 || k == 3, q, k == 1 || k == 3 || k == 5);
            double got = sr[k][(jq * outer + o) * inner + i];
            if (!same_bits(got, want))
              fail_msg("stat %d: dtype %s axis %d lane (%lld, %lld) q %g: got %.17g, want %.17g", k,
                       tsr_dtype_name(dt), axis, (long long)o, (long long)i, q, got, want);
          }
        }
      }
    free(sv);
    free(ai);
    tsr_array_destroy(&s);
    tsr_array_destroy(&as);
    for (int k = 0; k < 6; k++) {
      free(sr[k]);
      tsr_array_destroy(&st[k]);
    }
  }
  /* unique of the flattened array, with counts. */
  tsr_array *u = NULL, *uc = NULL;
  assert_ok(tsr_unique(x, &u, &uc));
  void *uv = compute3(ctx, u);
  int64_t *ucv = compute3(ctx, uc);
  for (int64_t j = 0; j < size; j++) {
    it[j].v = get(data, dt, j);
    it[j].i = j;
  }
  ref_sort(it, size);
  int64_t nu = 0;
  for (int64_t j = 0; j < size; j++) {
    if (j == 0 || np_cmp(it[j].v, it[j - 1].v) != 0) {
      assert_true(nu < tsr_array_size(u));
      assert_true(same_value(get(uv, dt, nu), it[j].v));
      int64_t c = 0;
      for (int64_t k = j; k < size && np_cmp(it[k].v, it[j].v) == 0; k++)
        c++;
      assert_int_equal(ucv[nu], c);
      nu++;
    }
  }
  assert_int_equal(tsr_array_size(u), nu);
  free(uv);
  free(ucv);
  tsr_array_destroy(&u);
  tsr_array_destroy(&uc);
  free(it);
  free(data);
  tsr_array_destroy(&x);
}

static void test_order_sort__matches_dense_reference(void **state) {
  tsr_ctx *ctx = *state;
  static const tsr_dtype dts[] = {TSR_FLOAT64, TSR_FLOAT32, TSR_INT32, TSR_INT64,
                                  TSR_UINT8,   TSR_INT8,    TSR_BOOL,  TSR_UINT64};
  for (int rep = 0; rep < 32; rep++) {
    int ndim = 1 + (int)rand_below(3);
    int64_t shape[3], chunks[3];
    for (int d = 0; d < ndim; d++) {
      shape[d] = rand_below(ndim == 1 ? 200 : 9);
      chunks[d] = rand_chunk(shape[d]);
    }
    check_case(ctx, dts[rep % 8], ndim, shape, chunks);
  }
}

/* A 1-D array of 2000 values in 37 ragged chunks: the runs are merged
 * across many chunks; and more than 64 chunks (1-element chunks) are
 * rechunked first. */
static void test_order_sort__many_chunks(void **state) {
  tsr_ctx *ctx = *state;
  check_case(ctx, TSR_FLOAT64, 1, (int64_t[]){2000}, (int64_t[]){55});
  check_case(ctx, TSR_INT16, 1, (int64_t[]){300}, (int64_t[]){1});
  check_case(ctx, TSR_FLOAT32, 2, (int64_t[]){130, 3}, (int64_t[]){1, 2});
}

static void test_order_sort__empty(void **state) {
  tsr_ctx *ctx = *state;
  check_case(ctx, TSR_FLOAT64, 1, (int64_t[]){0}, NULL);
  check_case(ctx, TSR_INT32, 2, (int64_t[]){0, 4}, NULL);
  check_case(ctx, TSR_FLOAT64, 2, (int64_t[]){3, 0}, NULL);
}

static tsr_array *vec(tsr_ctx *ctx, int64_t n, const double *v, int64_t chunk) {
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, &chunk, (void *)v, TSR_BUFFER_COPY, NULL,
                                  NULL, &a));
  return a;
}

static double scalar(tsr_array *a) {
  double v;
  assert_ok(tsr_array_to_buffer(a, &v, sizeof v));
  return v;
}

/* Values worked out by hand from NumPy's definitions. */
static void test_order_sort__hand_values(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = vec(ctx, 4, (double[]){4, 1, 3, 2}, 3), *r = NULL;
  /* np.quantile([1,2,3,4], 0.3): virtual index 3 * 0.3 = 0.9 -> 2 - 1 * 0.1 = 1.9 */
  assert_ok(tsr_quantile(a, (double[]){0.3}, -1, 0, false, &r));
  assert_true(scalar(r) == 2 - 1 * (1 - 3 * 0.3));
  assert_true(fabs(scalar(r) - 1.9) < 1e-15);
  tsr_array_destroy(&r);
  assert_ok(tsr_median(a, 0, true, &r));
  assert_true(scalar(r) == 2.5);
  tsr_array_destroy(&r);
  assert_ok(tsr_percentile(a, (double[]){100}, -1, 0, true, &r));
  assert_true(scalar(r) == 4);
  tsr_array_destroy(&r);
  double out[4];
  assert_ok(tsr_argsort(a, 0, false, &r));
  int64_t idx[4];
  assert_ok(tsr_array_to_buffer(r, idx, sizeof idx));
  assert_true(idx[0] == 1 && idx[1] == 3 && idx[2] == 2 && idx[3] == 0);
  tsr_array_destroy(&r);
  assert_ok(tsr_sort(a, -1, false, &r));
  assert_ok(tsr_array_to_buffer(r, out, sizeof out));
  assert_true(out[0] == 1 && out[1] == 2 && out[2] == 3 && out[3] == 4);
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  /* NaN: quantile NaN, nanquantile skips it; NaN sorts last. */
  a = vec(ctx, 3, (double[]){3, NAN, 1}, 1);
  assert_ok(tsr_quantile(a, (double[]){0.5}, -1, 0, false, &r));
  assert_true(isnan(scalar(r)));
  tsr_array_destroy(&r);
  assert_ok(tsr_nanquantile(a, (double[]){0.5}, -1, 0, false, &r));
  assert_true(scalar(r) == 2);
  tsr_array_destroy(&r);
  assert_ok(tsr_sort(a, 0, false, &r));
  assert_ok(tsr_array_to_buffer(r, out, 3 * sizeof(double)));
  assert_true(out[0] == 1 && out[1] == 3 && isnan(out[2]));
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  /* Stable argsort: -0.0 and 0.0 are equal, so their order stays. */
  a = vec(ctx, 4, (double[]){0.0, -0.0, 0.0, -1}, 2);
  assert_ok(tsr_argsort(a, 0, false, &r));
  assert_ok(tsr_array_to_buffer(r, idx, sizeof idx));
  assert_true(idx[0] == 3 && idx[1] == 0 && idx[2] == 1 && idx[3] == 2);
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  /* unique([1, 2, 6, 4, 2, 3, 2], return_counts) = [1 2 3 4 6], [1 3 1 1 1] */
  a = vec(ctx, 7, (double[]){1, 2, 6, 4, 2, 3, 2}, 2);
  tsr_array *c = NULL;
  assert_ok(tsr_unique(a, &r, &c));
  assert_int_equal(tsr_array_size(r), 5);
  double uv[5];
  int64_t uc[5];
  assert_ok(tsr_array_to_buffer(r, uv, sizeof uv));
  assert_ok(tsr_array_to_buffer(c, uc, sizeof uc));
  assert_true(uv[0] == 1 && uv[1] == 2 && uv[2] == 3 && uv[3] == 4 && uv[4] == 6);
  assert_true(uc[0] == 1 && uc[1] == 3 && uc[2] == 1 && uc[3] == 1 && uc[4] == 1);
  tsr_array_destroy(&r);
  tsr_array_destroy(&c);
  tsr_array_destroy(&a);
  /* 2-D along axis 0 with several q: shape (2, 3). */
  int64_t shape[2] = {3, 3}, ch[2] = {2, 1};
  double m[9] = {1, 9, 5, 3, 7, 6, 2, 8, 4};
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, 2, shape, ch, m, TSR_BUFFER_COPY, NULL, NULL,
                                  &a));
  assert_ok(tsr_quantile(a, (double[]){0, 0.5}, 2, 0, false, &r));
  assert_int_equal(tsr_array_ndim(r), 2);
  double q2[6];
  assert_ok(tsr_array_to_buffer(r, q2, sizeof q2));
  assert_true(q2[0] == 1 && q2[1] == 7 && q2[2] == 4 && q2[3] == 2 && q2[4] == 8 && q2[5] == 5);
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
}

static void test_order_sort__errors_name_the_argument(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *a = vec(ctx, 3, (double[]){1, 2, 3}, 2), *r = NULL;
  assert_fails(tsr_sort(a, 1, false, &r), TSR_EINVAL, "axis 1");
  assert_fails(tsr_argsort(a, -2, false, &r), TSR_EINVAL, "axis -2");
  assert_fails(tsr_quantile(a, (double[]){1.5}, -1, 0, false, &r), TSR_EINVAL, "q[0] = 1.5");
  assert_fails(tsr_percentile(a, (double[]){50, 101}, 2, 0, false, &r), TSR_EINVAL,
               "q[1] = 101");
  assert_fails(tsr_nanquantile(a, (double[]){NAN}, -1, 0, false, &r), TSR_EINVAL, "q[0]");
  assert_fails(tsr_quantile(a, (double[]){0.5}, 0, 0, false, &r), TSR_EINVAL, "nq");
  assert_fails(tsr_median(a, 3, false, &r), TSR_EINVAL, "axis 3");
  assert_null(r);
  tsr_array *b = NULL;
  assert_ok(tsr_array_ones(ctx, TSR_BOOL, 1, (int64_t[]){3}, NULL, &b));
  assert_fails(tsr_median(b, 0, false, &r), TSR_EDTYPE, "bool");
  tsr_array_destroy(&b);
  tsr_array_destroy(&a);
}

static void test_order_sort__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  bool done = false;
  int failures = 0;
  double v[10] = {5, 3, NAN, 1, 9, 9, -0.0, 2, 8, 4};
  for (uint64_t nth = 1; !done && nth < 400; nth++) {
    tsr_array *x = NULL, *s = NULL, *q = NULL;
    double out[10], med;
    int64_t n = 10, chunk = 3;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
    tsr_status st = tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, &chunk, v, TSR_BUFFER_BORROW,
                                          NULL, NULL, &x);
    if (st == TSR_OK)
      st = tsr_sort(x, 0, false, &s);
    if (st == TSR_OK)
      st = tsr_nanmedian(x, 0, true, &q);
    if (st == TSR_OK)
      st = tsr_array_to_buffers(2, (tsr_array *[]){s, q}, (void *[]){out, &med},
                                (size_t[]){sizeof out, sizeof med});
    if (st == TSR_OK) {
      done = true;
      assert_true(out[0] == 0 && out[1] == 1 && out[8] == 9 && isnan(out[9]));
      assert_true(med == 4);
    } else {
      assert_int_equal(st, TSR_ENOMEM);
      failures++;
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_array_destroy(&x);
    tsr_array_destroy(&s);
    tsr_array_destroy(&q);
    tsr_memory_stats m;
    assert_ok(tsr_ctx_memory_stats(ctx, &m));
    assert_int_equal(m.current_bytes, 0);
  }
  assert_true(done);
  assert_true(failures >= 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_order_sort__matches_dense_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order_sort__many_chunks, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order_sort__empty, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order_sort__hand_values, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order_sort__errors_name_the_argument, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order_sort__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
