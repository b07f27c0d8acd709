/* test_order_count.c — tsr_histogram, tsr_histogram_edges, tsr_bincount,
 * tsr_digitize, tsr_searchsorted and tsr_isin against dense references
 * written here with NumPy's semantics (bins found by scanning the edges,
 * the last bin closed; searchsorted by a linear count; isin by a double
 * loop with ==), over random arrays with NaN, -0.0, infinities and
 * duplicates in random chunkings (1-element, ragged, whole) and empty
 * arrays; results bitwise identical for the serial executor and 1 and 2
 * threads; values worked out by hand; errors that name the argument. */
#include "order_util.h"

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

static tsr_array *random_array(tsr_ctx *ctx, tsr_dtype dt, int ndim, const int64_t *shape,
                               void **data_out) {
  int64_t size = 1, chunks[3];
  for (int d = 0; d < ndim; d++) {
    size *= shape[d];
    chunks[d] = rand_chunk(shape[d]);
  }
  void *data = malloc((size_t)(size ? size : 1) * tsr_dtype_size(dt));
  for (int64_t i = 0; i < size; i++)
    put(data, dt, i, rand_value(dt));
  tsr_array *x = NULL;
  assert_ok(tsr_array_from_buffer(ctx, dt, ndim, shape, chunks, data, TSR_BUFFER_COPY, NULL, NULL,
                                  &x));
  *data_out = data;
  return x;
}

static tsr_array *vec(tsr_ctx *ctx, tsr_dtype dt, int64_t n, const double *v, int64_t chunk) {
  void *buf = malloc((size_t)(n ? n : 1) * tsr_dtype_size(dt));
  for (int64_t i = 0; i < n; i++)
    put(buf, dt, i, v[i]);
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_buffer(ctx, dt, 1, &n, &chunk, buf, TSR_BUFFER_COPY, NULL, NULL, &a));
  free(buf);
  return a;
}

/* The bin of v among the nb + 1 edges (NumPy: [e_i, e_i+1), the last
 * closed), or -1. */
static int64_t ref_bin(const double *e, int64_t nb, double v) {
  if (!(v >= e[0] && v <= e[nb]))
    return -1;
  int64_t k = -1;
  for (int64_t i = 0; i < nb; i++) /* the last bin whose left edge is <= v */
    if (e[i] <= v && (v < e[i + 1] || i == nb - 1))
      k = i;
  return k;
}

static void test_order_count__histogram_matches_reference(void **state) {
  tsr_ctx *ctx = *state;
  static const tsr_dtype dts[] = {TSR_FLOAT64, TSR_INT32, TSR_FLOAT32, TSR_UINT8};
  for (int rep = 0; rep < 24; rep++) {
    tsr_dtype dt = dts[rep % 4];
    int ndim = 1 + (int)rand_below(3);
    int64_t shape[3], size = 1;
    for (int d = 0; d < ndim; d++)
      size *= shape[d] = rand_below(ndim == 1 ? 300 : 8);
    void *data;
    tsr_array *x = random_array(ctx, dt, ndim, shape, &data);
    int64_t bins = 1 + rand_below(12);
    double range[2] = {-50 + (double)rand_below(40), 10 + (double)rand_below(50)};
    tsr_array *h = NULL, *e = NULL;
    assert_ok(tsr_histogram(x, bins, range, &h, &e));
    assert_int_equal(tsr_array_dtype(h), TSR_INT64);
    assert_int_equal(tsr_array_dtype(e), TSR_FLOAT64);
    assert_int_equal(tsr_array_size(h), bins);
    assert_int_equal(tsr_array_size(e), bins + 1);
    int64_t *hv = compute3(ctx, h);
    double *ev = compute3(ctx, e);
    /* np.linspace's edges. */
    for (int64_t i = 0; i < bins; i++)
      assert_true(ev[i] == (double)i * ((range[1] - range[0]) / (double)bins) + range[0]);
    assert_true(ev[bins] == range[1]);
    int64_t *want = calloc((size_t)bins, sizeof *want);
    for (int64_t i = 0; i < size; i++) {
      int64_t k = ref_bin(ev, bins, get(data, dt, i));
      if (k >= 0)
        want[k]++;
    }
    assert_memory_equal(hv, want, (size_t)bins * sizeof *want);
    /* The same edges given explicitly count the same. */
    tsr_array *h2 = NULL;
    assert_ok(tsr_histogram_edges(x, e, &h2));
    int64_t *hv2 = compute3(ctx, h2);
    assert_memory_equal(hv2, want, (size_t)bins * sizeof *want);
    /* Irregular edges, with a repeated edge. */
    double ie[5] = {-20, -3, -3, 0.5, 40};
    tsr_array *iea = vec(ctx, TSR_FLOAT64, 5, ie, 2), *h3 = NULL;
    assert_ok(tsr_histogram_edges(x, iea, &h3));
    int64_t *hv3 = compute3(ctx, h3);
    int64_t w3[4] = {0};
    for (int64_t i = 0; i < size; i++) {
      int64_t k = ref_bin(ie, 4, get(data, dt, i));
      if (k >= 0)
        w3[k]++;
    }
    assert_memory_equal(hv3, w3, sizeof w3);
    free(hv);
    free(ev);
    free(hv2);
    free(hv3);
    free(want);
    free(data);
    tsr_array_destroy(&x);
    tsr_array_destroy(&h);
    tsr_array_destroy(&h2);
    tsr_array_destroy(&h3);
    tsr_array_destroy(&iea);
    tsr_array_destroy(&e);
  }
}

static void test_order_count__bincount_matches_reference(void **state) {
  tsr_ctx *ctx = *state;
  for (int rep = 0; rep < 16; rep++) {
    tsr_dtype dt = rep % 2 ? TSR_UINT8 : TSR_INT64;
    int64_t n = rand_below(400), size = n;
    void *data = malloc((size_t)(n ? n : 1) * tsr_dtype_size(dt));
    double *w = malloc((size_t)(n ? n : 1) * sizeof *w);
    for (int64_t i = 0; i < n; i++) {
      put(data, dt, i, (double)rand_below(30));
      w[i] = (double)(rand_below(200) - 100) / 16;
    }
    int64_t c1 = rand_chunk(n), c2 = rand_chunk(n);
    tsr_array *x = NULL, *wa = NULL, *b = NULL, *bw = NULL;
    assert_ok(tsr_array_from_buffer(ctx, dt, 1, &n, &c1, data, TSR_BUFFER_COPY, NULL, NULL, &x));
    assert_ok(
        tsr_array_from_buffer(ctx, TSR_FLOAT64, 1, &n, &c2, w, TSR_BUFFER_COPY, NULL, NULL, &wa));
    int64_t minlength = rand_below(40);
    assert_ok(tsr_bincount(x, NULL, minlength, &b));
    assert_ok(tsr_bincount(x, wa, 0, &bw));
    assert_int_equal(tsr_array_dtype(b), TSR_INT64);
    assert_int_equal(tsr_array_dtype(bw), TSR_FLOAT64);
    int64_t mx = -1;
    for (int64_t i = 0; i < size; i++)
      mx = (int64_t)get(data, dt, i) > mx ? (int64_t)get(data, dt, i) : mx;
    int64_t len = mx + 1 > minlength ? mx + 1 : minlength;
    assert_int_equal(tsr_array_size(b), len);
    assert_int_equal(tsr_array_size(bw), mx + 1);
    int64_t *bv = compute3(ctx, b);
    double *bwv = compute3(ctx, bw);
    for (int64_t k = 0; k < len; k++) {
      int64_t c = 0;
      double s = 0;
      for (int64_t i = 0; i < size; i++)
        if ((int64_t)get(data, dt, i) == k) {
          c++;
          s += w[i]; /* multiples of 1/16: sums are exact in any order */
        }
      assert_int_equal(bv[k], c);
      if (k <= mx)
        assert_true(bwv[k] == s);
    }
    free(bv);
    free(bwv);
    free(data);
    free(w);
    tsr_array_destroy(&x);
    tsr_array_destroy(&wa);
    tsr_array_destroy(&b);
    tsr_array_destroy(&bw);
  }
}

static void test_order_count__search_digitize_isin_match_reference(void **state) {
  tsr_ctx *ctx = *state;
  static const tsr_dtype dts[] = {TSR_FLOAT64, TSR_INT16, TSR_FLOAT32, TSR_INT64};
  for (int rep = 0; rep < 24; rep++) {
    tsr_dtype dt = dts[rep % 4];
    int ndim = 1 + (int)rand_below(3);
    int64_t shape[3], size = 1;
    for (int d = 0; d < ndim; d++)
      size *= shape[d] = rand_below(ndim == 1 ? 200 : 7);
    void *data;
    tsr_array *v = random_array(ctx, dt, ndim, shape, &data);
    /* A sorted table (NaN last) of m values, with duplicates. */
    int64_t m = rand_below(20);
    double *tab = malloc((size_t)(m ? m : 1) * sizeof *tab);
    ref_item *it = malloc((size_t)(m ? m : 1) * sizeof *it);
    for (int64_t i = 0; i < m; i++) {
      it[i].v = rand_value(TSR_FLOAT64);
      if (!tsr_dtype_is_float(dt) && !(it[i].v == it[i].v && isfinite(it[i].v)))
        it[i].v = 3;
      it[i].i = i;
    }
    ref_sort(it, m);
    for (int64_t i = 0; i < m; i++)
      tab[i] = it[i].v;
    tsr_array *t = vec(ctx, TSR_FLOAT64, m, tab, 1 + rand_below(m + 1));
    tsr_array *sl = NULL, *sr = NULL, *in = NULL, *nin = NULL, *dg = NULL, *dgr = NULL;
    assert_ok(tsr_searchsorted(t, v, false, &sl));
    assert_ok(tsr_searchsorted(t, v, true, &sr));
    assert_ok(tsr_isin(v, t, false, &in));
    assert_ok(tsr_isin(v, t, true, &nin));
    int64_t *slv = compute3(ctx, sl), *srv = compute3(ctx, sr);
    bool *inv = compute3(ctx, in), *ninv = compute3(ctx, nin);
    /* Increasing bins without NaN for digitize: the table's numbers. */
    int64_t nb = 0;
    while (nb < m && tab[nb] == tab[nb])
      nb++;
    tsr_array *bins = vec(ctx, TSR_FLOAT64, nb, tab, 3);
    assert_ok(tsr_digitize(v, bins, false, &dg));
    assert_ok(tsr_digitize(v, bins, true, &dgr));
    int64_t *dgv = compute3(ctx, dg), *dgrv = compute3(ctx, dgr);
    for (int64_t i = 0; i < size; i++) {
      double x = get(data, dt, i);
      int64_t left = 0, right = 0, le = 0, lt = 0;
      bool found = false;
      for (int64_t k = 0; k < m; k++) {
        left += np_cmp(tab[k], x) < 0;
        right += np_cmp(tab[k], x) <= 0;
        found |= tab[k] == x;
      }
      for (int64_t k = 0; k < nb; k++) {
        le += np_cmp(tab[k], x) <= 0;
        lt += np_cmp(tab[k], x) < 0;
      }
      if (slv[i] != left || srv[i] != right)
        fail_msg("searchsorted of %g: got %lld/%lld, want %lld/%lld", x, (long long)slv[i],
                 (long long)srv[i], (long long)left, (long long)right);
      assert_int_equal(inv[i], found);
      assert_int_equal(ninv[i], !found);
      /* np.digitize: right=False -> count of bins <= x; right=True -> < x. */
      assert_int_equal(dgv[i], le);
      assert_int_equal(dgrv[i], lt);
    }
    /* Decreasing bins: len(bins) - searchsorted(reversed bins). */
    double *rev = malloc((size_t)(nb ? nb : 1) * sizeof *rev);
    for (int64_t k = 0; k < nb; k++)
      rev[k] = tab[nb - 1 - k];
    tsr_array *rb = vec(ctx, TSR_FLOAT64, nb, rev, 2), *dd = NULL;
    assert_ok(tsr_digitize(v, rb, false, &dd));
    int64_t *ddv = compute3(ctx, dd);
    for (int64_t i = 0; i < size; i++) {
      double x = get(data, dt, i);
      int64_t le = 0;
      for (int64_t k = 0; k < nb; k++)
        le += np_cmp(tab[k], x) <= 0;
      bool all_equal = nb > 0 && tab[0] == tab[nb - 1];
      if (!all_equal) /* all-equal bins count as increasing */
        assert_int_equal(ddv[i], nb - le);
    }
    free(ddv);
    free(rev);
    tsr_array_destroy(&rb);
    tsr_array_destroy(&dd);
    free(slv);
    free(srv);
    free(inv);
    free(ninv);
    free(dgv);
    free(dgrv);
    free(tab);
    free(it);
    free(data);
    tsr_array_destroy(&v);
    tsr_array_destroy(&t);
    tsr_array_destroy(&bins);
    tsr_array_destroy(&sl);
    tsr_array_destroy(&sr);
    tsr_array_destroy(&in);
    tsr_array_destroy(&nin);
    tsr_array_destroy(&dg);
    tsr_array_destroy(&dgr);
  }
}

/* Values worked out by hand from NumPy's documentation examples. */
static void test_order_count__hand_values(void **state) {
  tsr_ctx *ctx = *state;
  /* np.bincount([0, 1, 1, 3, 2, 1, 7]) = [1, 3, 1, 1, 0, 0, 0, 1] */
  tsr_array *x = vec(ctx, TSR_INT32, 7, (double[]){0, 1, 1, 3, 2, 1, 7}, 3), *r = NULL, *e = NULL;
  int64_t b[8];
  assert_ok(tsr_bincount(x, NULL, 0, &r));
  assert_ok(tsr_array_to_buffer(r, b, sizeof b));
  int64_t wb[8] = {1, 3, 1, 1, 0, 0, 0, 1};
  assert_memory_equal(b, wb, sizeof b);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
  /* np.histogram([1, 2, 1], bins=[0, 1, 2, 3]) = [0, 2, 1] */
  x = vec(ctx, TSR_FLOAT64, 3, (double[]){1, 2, 1}, 2);
  tsr_array *edges = vec(ctx, TSR_FLOAT64, 4, (double[]){0, 1, 2, 3}, 4);
  int64_t h[4];
  assert_ok(tsr_histogram_edges(x, edges, &r));
  assert_ok(tsr_array_to_buffer(r, h, 3 * sizeof *h));
  assert_true(h[0] == 0 && h[1] == 2 && h[2] == 1);
  tsr_array_destroy(&r);
  tsr_array_destroy(&edges);
  tsr_array_destroy(&x);
  /* np.histogram(np.arange(4), bins=np.arange(5)) = [1, 1, 1, 1]; and
   * np.histogram([0, 1, 2, 3, 4], bins=2) = [2, 3] over [0, 2, 4]. */
  x = vec(ctx, TSR_INT64, 5, (double[]){0, 1, 2, 3, 4}, 2);
  double ev[3];
  assert_ok(tsr_histogram(x, 2, NULL, &r, &e));
  assert_ok(tsr_array_to_buffer(r, h, 2 * sizeof *h));
  assert_ok(tsr_array_to_buffer(e, ev, sizeof ev));
  assert_true(h[0] == 2 && h[1] == 3);
  assert_true(ev[0] == 0 && ev[1] == 2 && ev[2] == 4);
  tsr_array_destroy(&r);
  tsr_array_destroy(&e);
  tsr_array_destroy(&x);
  /* np.digitize([0.2, 6.4, 3.0, 1.6], [0.0, 1.0, 2.5, 4.0, 10.0]) = [1, 4, 3, 2];
   * with the bins reversed: [4, 1, 2, 3]. */
  x = vec(ctx, TSR_FLOAT64, 4, (double[]){0.2, 6.4, 3.0, 1.6}, 3);
  tsr_array *bins = vec(ctx, TSR_FLOAT64, 5, (double[]){0.0, 1.0, 2.5, 4.0, 10.0}, 2);
  int64_t d[4];
  assert_ok(tsr_digitize(x, bins, false, &r));
  assert_ok(tsr_array_to_buffer(r, d, sizeof d));
  assert_true(d[0] == 1 && d[1] == 4 && d[2] == 3 && d[3] == 2);
  tsr_array_destroy(&r);
  tsr_array_destroy(&bins);
  bins = vec(ctx, TSR_FLOAT64, 5, (double[]){10.0, 4.0, 2.5, 1.0, 0.0}, 5);
  assert_ok(tsr_digitize(x, bins, false, &r));
  assert_ok(tsr_array_to_buffer(r, d, sizeof d));
  assert_true(d[0] == 4 && d[1] == 1 && d[2] == 2 && d[3] == 3);
  tsr_array_destroy(&r);
  tsr_array_destroy(&bins);
  tsr_array_destroy(&x);
  /* np.searchsorted([1, 2, 3, 4, 5], [-10, 10, 2, 3]) = [0, 5, 1, 2] */
  tsr_array *a = vec(ctx, TSR_INT64, 5, (double[]){1, 2, 3, 4, 5}, 2);
  x = vec(ctx, TSR_INT64, 4, (double[]){-10, 10, 2, 3}, 4);
  assert_ok(tsr_searchsorted(a, x, false, &r));
  assert_ok(tsr_array_to_buffer(r, d, sizeof d));
  assert_true(d[0] == 0 && d[1] == 5 && d[2] == 1 && d[3] == 2);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
  tsr_array_destroy(&a);
  /* isin: -0.0 matches 0.0; NaN matches nothing. */
  x = vec(ctx, TSR_FLOAT64, 3, (double[]){-0.0, NAN, 2}, 1);
  a = vec(ctx, TSR_FLOAT64, 3, (double[]){NAN, 0.0, 5}, 2);
  bool m[3];
  assert_ok(tsr_isin(x, a, false, &r));
  assert_ok(tsr_array_to_buffer(r, m, sizeof m));
  assert_true(m[0] && !m[1] && !m[2]);
  tsr_array_destroy(&r);
  tsr_array_destroy(&x);
  tsr_array_destroy(&a);
}

static void test_order_count__errors_name_the_argument(void **state) {
  tsr_ctx *ctx = *state;
  tsr_array *x = vec(ctx, TSR_FLOAT64, 3, (double[]){1, 2, 3}, 2), *r = NULL, *e = NULL;
  assert_fails(tsr_histogram(x, 0, NULL, &r, &e), TSR_EINVAL, "bins = 0");
  assert_fails(tsr_histogram(x, 3, (double[]){2, 1}, &r, &e), TSR_EINVAL, "range");
  assert_fails(tsr_histogram(x, 3, (double[]){0, INFINITY}, &r, &e), TSR_EINVAL, "not finite");
  tsr_array *n = vec(ctx, TSR_FLOAT64, 2, (double[]){1, NAN}, 2);
  assert_fails(tsr_histogram(n, 3, NULL, &r, &e), TSR_EINVAL, "autodetected range");
  assert_fails(tsr_bincount(x, NULL, 0, &r), TSR_EDTYPE, "bincount: x has dtype float64");
  tsr_array *neg = vec(ctx, TSR_INT32, 3, (double[]){1, -2, 3}, 2);
  assert_fails(tsr_bincount(neg, NULL, 0, &r), TSR_EINVAL, "negative value (-2)");
  tsr_array *ok = vec(ctx, TSR_INT32, 3, (double[]){1, 2, 3}, 2);
  assert_fails(tsr_bincount(ok, NULL, -1, &r), TSR_EINVAL, "minlength");
  assert_fails(tsr_bincount(ok, n, 0, &r), TSR_ESHAPE, "weights");
  tsr_array *m2 = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 2, (int64_t[]){2, 2}, NULL, &m2));
  assert_fails(tsr_searchsorted(m2, x, false, &r), TSR_EINVAL, "a must be a sorted 1-D array");
  assert_fails(tsr_digitize(x, m2, false, &r), TSR_EINVAL, "bins must be 1-D");
  /* Non-monotonic bins fail when computed, naming bins. */
  tsr_array *bad = vec(ctx, TSR_FLOAT64, 3, (double[]){1, 3, 2}, 2);
  assert_ok(tsr_digitize(x, bad, false, &r));
  int64_t out[3];
  assert_fails(tsr_array_to_buffer(r, out, sizeof out), TSR_EINVAL, "monotonically");
  tsr_array_destroy(&r);
  assert_ok(tsr_histogram_edges(x, bad, &r));
  assert_fails(tsr_array_to_buffer(r, out, 2 * sizeof *out), TSR_EINVAL, "bins must increase");
  tsr_array_destroy(&r);
  assert_null(e);
  tsr_array_destroy(&bad);
  tsr_array_destroy(&m2);
  tsr_array_destroy(&ok);
  tsr_array_destroy(&neg);
  tsr_array_destroy(&n);
  tsr_array_destroy(&x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_order_count__histogram_matches_reference,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order_count__bincount_matches_reference, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order_count__search_digitize_isin_match_reference,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order_count__hand_values, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_order_count__errors_name_the_argument, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
