/* test_window.c — tsr_frame_window (lag, lead, cumulative sum with peers,
 * rolling mean; the ranking functions through test_rank.c) against naive
 * O(n^2) references written in the test from SQL's definitions: random
 * frames of every column type with nulls, NaN, infinities, -0.0 and ties,
 * 64 or more ragged chunks, zero and one rows, partition keys of any type;
 * a hand-worked frame; float results bitwise identical for 1, 2 and 4
 * threads; and the errors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "frame/sort_ref.h"

typedef struct wref {
  const ref_frame *f;
  sr_keys pk, ok;
  int64_t *pos; /* each row's position in its partition's window order */
} wref;

static bool same_part(const wref *w, int64_t a, int64_t b) { return sr_cmp_rows(&w->pk, a, b) == 0; }

/* j comes before i in window order. */
static bool before(const wref *w, int64_t j, int64_t i) {
  int c = sr_cmp_rows(&w->ok, j, i);
  return c < 0 || (c == 0 && j < i);
}

static void wref_init(wref *w, const ref_frame *f, int npart, const int *pcols,
                      const tsr_sort_key *pkeys, int norder, const int *ocols,
                      const tsr_sort_key *order) {
  w->f = f;
  w->pk = (sr_keys){f, npart, pcols, pkeys};
  w->ok = (sr_keys){f, norder, ocols, order};
  w->pos = calloc((size_t)f->n + 1, sizeof *w->pos);
  for (int64_t i = 0; i < f->n; i++)
    for (int64_t j = 0; j < f->n; j++)
      if (j != i && same_part(w, i, j) && before(w, j, i))
        w->pos[i]++;
}

static void check_window(tsr_frame *fr, const ref_frame *ref, const tsr_window *spec, int npart,
                         const int *pcols, const int *ocols) {
  tsr_sort_key pkeys[4];
  for (int i = 0; i < npart; i++)
    pkeys[i] = (tsr_sort_key){ref->cols[pcols[i]].name, false, false};
  wref w;
  wref_init(&w, ref, npart, pcols, pkeys, spec->norder, ocols, spec->order_by);
  int xc = -1;
  for (int j = 0; j < ref->ncols; j++)
    if (spec->column && strcmp(ref->cols[j].name, spec->column) == 0)
      xc = j;
  tsr_frame *r = NULL;
  assert_ok(tsr_frame_window(fr, "win", spec, &r));
  ref_frame got;
  ref_frame_compute(r, &got);
  assert_int_equal(got.ncols, ref->ncols + 1);
  assert_int_equal(got.n, ref->n);
  for (int i = 0; i < ref->ncols; i++)
    ref_col_assert_rows(&ref->cols[i], 0, ref->n, &got.cols[i]);
  const ref_col *res = &got.cols[ref->ncols];
  const ref_col *x = &ref->cols[xc];
  assert_string_equal(res->name, "win");
  for (int64_t i = 0; i < ref->n; i++) {
    if (spec->func == TSR_WIN_LAG || spec->func == TSR_WIN_LEAD) {
      assert_int_equal(res->type.id, x->type.id);
      int64_t off = spec->n == 0 ? 1 : spec->n;
      if (off > ref->n)
        off = ref->n + 1; /* no row that far (and no overflow below) */
      int64_t want = w.pos[i] + (spec->func == TSR_WIN_LAG ? -off : off), src = -1;
      for (int64_t j = 0; j < ref->n; j++)
        if (same_part(&w, i, j) && w.pos[j] == want)
          src = j;
      size_t wd = tsr_type_width(x->type);
      if (src >= 0) {
        assert_int_equal(res->valid[i], x->valid[src]);
        if (x->valid[src])
          assert_memory_equal(res->values + (size_t)i * wd, x->values + (size_t)src * wd, wd);
      } else if (spec->default_value != NULL) {
        assert_true(res->valid[i]);
        assert_true(ref_num_at(res, i) == (long double)strtod(spec->default_value, NULL));
      } else {
        assert_false(res->valid[i]);
      }
      continue;
    }
    /* cumsum: partition rows up to i and its peers; rolling mean: the m
     * positions up to i's. */
    long double sum = 0, mag = 0;
    int64_t cnt = 0;
    for (int64_t j = 0; j < ref->n; j++) {
      if (!same_part(&w, i, j) || !x->valid[j])
        continue;
      bool in = spec->func == TSR_WIN_CUMSUM
                    ? sr_cmp_rows(&w.ok, j, i) <= 0
                    : w.pos[j] <= w.pos[i] && w.pos[j] > w.pos[i] - spec->n;
      if (!in)
        continue;
      long double v = ref_num_at(x, j);
      sum += v;
      mag += isfinite(v) ? fabsl(v) : 0;
      cnt++;
    }
    if (cnt == 0) {
      if (res->valid[i])
        print_error("row %lld: valid, want null\n", (long long)i);
      assert_false(res->valid[i]);
      continue;
    }
    assert_true(res->valid[i]);
    if (res->type.id == TSR_COL_INT64) {
      assert_true(spec->func == TSR_WIN_CUMSUM);
      assert_true(ref_num_at(res, i) == sum);
      continue;
    }
    assert_int_equal(res->type.id, TSR_COL_FLOAT64);
    long double want = spec->func == TSR_WIN_CUMSUM ? sum : sum / cnt;
    double g;
    memcpy(&g, res->values + (size_t)i * 8, 8);
    if (isnan(want)) {
      assert_true(isnan(g));
    } else if (isinf(want)) {
      assert_true(g == (double)want);
    } else {
      long double tol = 1e-12L * (mag + 1) / (spec->func == TSR_WIN_CUMSUM ? 1 : cnt);
      if (fabsl((long double)g - want) > tol)
        print_error("func %d row %lld: %.17g, want %.17Lg\n", (int)spec->func, (long long)i, g,
                    want);
      assert_true(fabsl((long double)g - want) <= tol);
    }
  }
  free(w.pos);
  ref_frame_free(&got);
  tsr_frame_destroy(&r);
}

static void test_window__random_frames(void **state) {
  tsr_ctx *ctx = *state;
  static const int64_t sizes[] = {0, 1, 7, 200};
  /* Argument columns: int8, int32, uint16, float32, float64, bool. */
  static const int xcols[] = {1, 3, 6, 9, 10, 0};
  uint64_t seed = 11;
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    ref_frame ref;
    sr_frame_random(&ref, sizes[t], 15, 700 + t);
    tsr_frame *f = NULL;
    assert_ok(ref_frame_to_frame(ctx, &ref, 64, 3 + t, &f));
    for (int trial = 0; trial < 8; trial++) {
      int pcols[2], npart = trial % 3;
      const char *pnames[2];
      for (int i = 0; i < npart; i++)
        pcols[i] = (int)(fu_rand(&seed) % (uint64_t)ref.ncols);
      if (npart > 0 && trial % 2 == 0)
        pcols[0] = (int)(fu_rand(&seed) % 2) ? 0 : 12; /* bool or dictionary: big partitions */
      for (int i = 0; i < npart; i++)
        pnames[i] = ref.cols[pcols[i]].name;
      int norder = (trial / 2) % 3, ocols[2];
      tsr_sort_key order[2];
      for (int i = 0; i < norder; i++) {
        uint64_t x = fu_rand(&seed);
        ocols[i] = (int)(x % (uint64_t)ref.ncols);
        if (trial % 4 == 1)
          ocols[i] = 0; /* bool: many peers */
        order[i] = (tsr_sort_key){ref.cols[ocols[i]].name, (x >> 8) & 1, (x >> 9) & 1};
      }
      const char *x = ref.cols[xcols[trial % 6]].name;
      const char *lagc = ref.cols[(int)(fu_rand(&seed) % (uint64_t)ref.ncols)].name;
      if (strcmp(lagc, "c11") == 0)
        lagc = "c12"; /* not strings */
      tsr_window specs[] = {
          {TSR_WIN_LAG, lagc, 0, NULL, npart, pnames, norder, order},
          {TSR_WIN_LEAD, lagc, 2, NULL, npart, pnames, norder, order},
          {TSR_WIN_LAG, "c3", 3, "-7", npart, pnames, norder, order},
          {TSR_WIN_LEAD, "c10", 1, "2.5", npart, pnames, norder, order},
          {TSR_WIN_LEAD, "c5", INT64_MAX, "9", npart, pnames, norder, order},
          {TSR_WIN_CUMSUM, x, 0, NULL, npart, pnames, norder, order},
          {TSR_WIN_ROLLING_MEAN, x, 1 + trial % 5, NULL, npart, pnames, norder, order},
          {TSR_WIN_ROLLING_MEAN, "c10", 3, NULL, npart, pnames, norder, order},
      };
      for (size_t k = 0; k < sizeof specs / sizeof *specs; k++) {
        int ocols_cp[2] = {norder > 0 ? ocols[0] : 0, norder > 1 ? ocols[1] : 0};
        check_window(f, &ref, &specs[k], npart, pcols, ocols_cp);
      }
    }
    tsr_frame_destroy(&f);
    ref_frame_free(&ref);
  }
}

/* p = [1, 1, 2, 1, 2], o = [3, 1, 2, 1, 5], v = [1, 2, 3, null, 5], by p
 * ordered by o: partition 1 in order rows 1, 3 (peers), 0; partition 2
 * rows 2, 4. */
static void test_window__hand_worked(void **state) {
  tsr_ctx *ctx = *state;
  int32_t p[5] = {1, 1, 2, 1, 2}, v[5] = {1, 2, 3, 0, 5};
  int64_t o[5] = {3, 1, 2, 1, 5};
  uint8_t vvalid[1] = {0x17};
  tsr_column_data cols[3] = {
      {.name = "p", .type = {TSR_COL_INT32, 0}, .length = 5, .values = p},
      {.name = "o", .type = {TSR_COL_INT64, 0}, .length = 5, .values = o},
      {.name = "v", .type = {TSR_COL_INT32, 0}, .length = 5, .values = v, .validity = vvalid},
  };
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 3, cols, 2, TSR_BUFFER_BORROW, NULL, NULL, &f));
  const char *part[1] = {"p"};
  tsr_sort_key ord = {"o", false, false};
  struct {
    tsr_window spec;
    double want[5];
    uint8_t valid[5];
  } cases[] = {
      {{TSR_WIN_ROW_NUMBER, NULL, 0, NULL, 1, part, 1, &ord}, {3, 1, 1, 2, 2}, {1, 1, 1, 1, 1}},
      {{TSR_WIN_RANK, NULL, 0, NULL, 1, part, 1, &ord}, {3, 1, 1, 1, 2}, {1, 1, 1, 1, 1}},
      {{TSR_WIN_DENSE_RANK, NULL, 0, NULL, 1, part, 1, &ord}, {2, 1, 1, 1, 2}, {1, 1, 1, 1, 1}},
      {{TSR_WIN_LAG, "v", 1, NULL, 1, part, 1, &ord}, {0, 0, 0, 2, 3}, {0, 0, 0, 1, 1}},
      {{TSR_WIN_LAG, "v", 1, "-1", 1, part, 1, &ord}, {0, -1, -1, 2, 3}, {0, 1, 1, 1, 1}},
      {{TSR_WIN_LEAD, "v", 1, NULL, 1, part, 1, &ord}, {0, 0, 5, 1, 0}, {0, 0, 1, 1, 0}},
      {{TSR_WIN_CUMSUM, "v", 0, NULL, 1, part, 1, &ord}, {3, 2, 3, 2, 8}, {1, 1, 1, 1, 1}},
      {{TSR_WIN_CUMSUM, "v", 0, NULL, 0, NULL, 0, NULL}, {11, 11, 11, 11, 11}, {1, 1, 1, 1, 1}},
      {{TSR_WIN_ROLLING_MEAN, "v", 2, NULL, 1, part, 1, &ord}, {1, 2, 3, 2, 4}, {1, 1, 1, 1, 1}},
      {{TSR_WIN_ROLLING_MEAN, "v", 1, NULL, 1, part, 1, &ord}, {1, 2, 3, 0, 5}, {1, 1, 1, 0, 1}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
    tsr_frame *r = NULL;
    assert_ok(tsr_frame_window(f, "w", &cases[k].spec, &r));
    ref_frame got;
    ref_frame_compute(r, &got);
    const ref_col *c = &got.cols[3];
    for (int i = 0; i < 5; i++) {
      if (c->valid[i] != cases[k].valid[i] ||
          (c->valid[i] && ref_num_at(c, i) != (long double)cases[k].want[i]))
        print_error("case %zu row %d: %Lg (valid %d), want %g (valid %d)\n", k, i,
                    ref_num_at(c, i), c->valid[i], cases[k].want[i], cases[k].valid[i]);
      assert_int_equal(c->valid[i], cases[k].valid[i]);
      if (c->valid[i])
        assert_true(ref_num_at(c, i) == (long double)cases[k].want[i]);
    }
    ref_frame_free(&got);
    tsr_frame_destroy(&r);
  }
  tsr_frame_destroy(&f);
}

/* The float results' bits for 1, 2 and 4 threads. */
static void test_window__threads(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  sr_frame_random(&ref, 20000, 10, 5);
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 64, 8, &f));
  const char *part[1] = {"c12"};
  tsr_sort_key ord[1] = {{"c1", false, false}};
  tsr_window specs[] = {
      {TSR_WIN_CUMSUM, "c10", 0, NULL, 1, part, 1, ord},
      {TSR_WIN_ROLLING_MEAN, "c10", 50, NULL, 1, part, 1, ord},
      {TSR_WIN_CUMSUM, "c9", 0, NULL, 0, NULL, 1, ord},
  };
  for (size_t k = 0; k < sizeof specs / sizeof *specs; k++) {
    ref_frame first;
    for (int threads = 1; threads <= 4; threads *= 2) {
      assert_ok(tsr_ctx_set_threads(ctx, threads));
      tsr_frame *r = NULL;
      assert_ok(tsr_frame_window(f, "w", &specs[k], &r));
      ref_frame got;
      ref_frame_compute(r, &got);
      tsr_frame_destroy(&r);
      if (threads == 1) {
        first = got;
        continue;
      }
      const ref_col *a = &first.cols[ref.ncols], *b = &got.cols[ref.ncols];
      assert_memory_equal(a->valid, b->valid, (size_t)ref.n);
      for (int64_t i = 0; i < ref.n; i++)
        if (a->valid[i])
          assert_memory_equal(a->values + i * 8, b->values + i * 8, 8);
      ref_frame_free(&got);
    }
    ref_frame_free(&first);
  }
  assert_ok(tsr_ctx_set_threads(ctx, 1));
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_window__errors(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  sr_frame_random(&ref, 10, 10, 1);
  tsr_frame *f = NULL, *out = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 1, 1, &f));
  tsr_window w = {TSR_WIN_LAG, "c11", 1, NULL, 0, NULL, 0, NULL};
  assert_fails(tsr_frame_window(f, "w", &w, &out), TSR_ENOTSUP, "cast it to dict");
  assert_null(out);
  w = (tsr_window){TSR_WIN_LAG, "c3", 1, "abc", 0, NULL, 0, NULL};
  assert_fails(tsr_frame_window(f, "w", &w, &out), TSR_EPARSE, "'abc' is not a int32 value");
  w = (tsr_window){TSR_WIN_LAG, "c3", -1, NULL, 0, NULL, 0, NULL};
  assert_fails(tsr_frame_window(f, "w", &w, &out), TSR_EINVAL, "negative");
  w = (tsr_window){TSR_WIN_CUMSUM, "c11", 0, NULL, 0, NULL, 0, NULL};
  assert_fails(tsr_frame_window(f, "w", &w, &out), TSR_EINVAL, "needs a numeric column");
  w = (tsr_window){TSR_WIN_ROLLING_MEAN, "c10", 0, NULL, 0, NULL, 0, NULL};
  assert_fails(tsr_frame_window(f, "w", &w, &out), TSR_EINVAL, "at least 1");
  w = (tsr_window){TSR_WIN_CUMSUM, NULL, 0, NULL, 0, NULL, 0, NULL};
  assert_fails(tsr_frame_window(f, "w", &w, &out), TSR_EINVAL, "needs spec->column");
  w = (tsr_window){(tsr_window_func)9, "c1", 0, NULL, 0, NULL, 0, NULL};
  assert_fails(tsr_frame_window(f, "w", &w, &out), TSR_EINVAL, "not a tsr_window_func");
  w = (tsr_window){TSR_WIN_CUMSUM, "c1", 0, NULL, 0, NULL, 0, NULL};
  assert_fails(tsr_frame_window(f, "c2", &w, &out), TSR_EINVAL, "already has a column");
  w = (tsr_window){TSR_WIN_CUMSUM, "zz", 0, NULL, 0, NULL, 0, NULL};
  assert_fails(tsr_frame_window(f, "w", &w, &out), TSR_EINVAL, "no column named 'zz'");
  assert_null(out);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_window__random_frames, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_window__hand_worked, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_window__threads, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_window__errors, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
