/* test_rank.c — tsr_frame_rank (row_number, rank, dense_rank over
 * partitions) against a naive O(n^2) count written in the test: random
 * frames of every column type with nulls, NaN, -0.0, ties and long
 * strings, 64 or more ragged chunks, zero and one rows, partition keys of
 * any type (null one partition), none, and zero to two order keys; the
 * input rows must come back in input order; and the errors. */
#include <stdlib.h>
#include <string.h>

#include "frame/sort_ref.h"

/* The expected numbers: for each row, counts over the rows of its partition. */
static int64_t *naive_rank(const ref_frame *f, tsr_rank_kind kind, int npart, const int *pcols,
                           int norder, const int *ocols, const tsr_sort_key *order) {
  int64_t n = f->n;
  tsr_sort_key pkeys[4];
  for (int i = 0; i < npart; i++)
    pkeys[i] = (tsr_sort_key){f->cols[pcols[i]].name, false, false};
  sr_keys pk = {f, npart, pcols, pkeys}, ok = {f, norder, ocols, order};
  bool *first = calloc((size_t)n + 1, 1); /* the first row of its group of peers */
  for (int64_t j = 0; j < n; j++) {
    first[j] = true;
    for (int64_t k = 0; k < j && first[j]; k++)
      if (sr_cmp_rows(&pk, j, k) == 0 && sr_cmp_rows(&ok, j, k) == 0)
        first[j] = false;
  }
  int64_t *want = malloc(((size_t)n + 1) * sizeof *want);
  for (int64_t i = 0; i < n; i++) {
    int64_t before = 0, peers_before = 0, classes = 0;
    for (int64_t j = 0; j < n; j++) {
      if (sr_cmp_rows(&pk, i, j) != 0)
        continue;
      int c = sr_cmp_rows(&ok, j, i);
      if (c < 0) {
        before++;
        classes += first[j];
      } else if (c == 0 && j < i) {
        peers_before++;
      }
    }
    want[i] = kind == TSR_RANK_ROW_NUMBER ? before + peers_before + 1
              : kind == TSR_RANK_RANK     ? before + 1
                                          : classes + 1;
  }
  free(first);
  return want;
}

static void check_rank(tsr_frame *f, const ref_frame *ref, tsr_rank_kind kind, int npart,
                       const int *pcols, int norder, const tsr_sort_key *order) {
  const char *pnames[4];
  int ocols[4];
  for (int i = 0; i < npart; i++)
    pnames[i] = ref->cols[pcols[i]].name;
  for (int i = 0; i < norder; i++)
    for (int j = 0; j < ref->ncols; j++)
      if (strcmp(ref->cols[j].name, order[i].column) == 0)
        ocols[i] = j;
  tsr_frame *r = NULL;
  assert_ok(tsr_frame_rank(f, "rk", kind, npart, pnames, norder, order, &r));
  ref_frame got;
  ref_frame_compute(r, &got);
  assert_int_equal(got.ncols, ref->ncols + 1);
  assert_int_equal(got.n, ref->n);
  for (int i = 0; i < ref->ncols; i++)
    ref_col_assert_rows(&ref->cols[i], 0, ref->n, &got.cols[i]);
  const ref_col *rk = &got.cols[ref->ncols];
  assert_string_equal(rk->name, "rk");
  assert_int_equal(rk->type.id, TSR_COL_INT64);
  int64_t *want = naive_rank(ref, kind, npart, pcols, norder, ocols, order);
  for (int64_t i = 0; i < ref->n; i++) {
    int64_t v;
    memcpy(&v, rk->values + (size_t)i * 8, 8);
    if (v != want[i])
      print_error("kind %d row %lld: %lld, want %lld\n", (int)kind, (long long)i, (long long)v,
                  (long long)want[i]);
    assert_int_equal(v, want[i]);
    assert_true(rk->valid[i]);
  }
  free(want);
  ref_frame_free(&got);
  tsr_frame_destroy(&r);
}

static void test_rank__random_frames(void **state) {
  tsr_ctx *ctx = *state;
  static const int64_t sizes[] = {0, 1, 5, 200, 320};
  uint64_t seed = 4;
  for (size_t t = 0; t < sizeof sizes / sizeof *sizes; t++) {
    ref_frame ref;
    sr_frame_random(&ref, sizes[t], 15, 900 + t);
    tsr_frame *f = NULL;
    assert_ok(ref_frame_to_frame(ctx, &ref, 64, 5 + t, &f));
    for (int trial = 0; trial < 9; trial++) {
      int pcols[2], npart = trial % 3;
      for (int i = 0; i < npart; i++)
        pcols[i] = (int)(fu_rand(&seed) % (uint64_t)ref.ncols);
      /* Partition keys with few values, so partitions hold several rows. */
      if (npart > 0 && trial % 2 == 0)
        pcols[0] = (int)(fu_rand(&seed) % 2) ? 0 : 12; /* bool or dictionary */
      int norder = (trial / 3) % 3;
      tsr_sort_key order[2];
      char names[2][32];
      for (int i = 0; i < norder; i++) {
        uint64_t x = fu_rand(&seed);
        snprintf(names[i], 32, "c%d", (int)(x % (uint64_t)ref.ncols));
        order[i] = (tsr_sort_key){names[i], (x >> 8) & 1, (x >> 9) & 1};
      }
      for (int kind = 0; kind < 3; kind++)
        check_rank(f, &ref, (tsr_rank_kind)kind, npart, pcols, norder, order);
    }
    tsr_frame_destroy(&f);
    ref_frame_free(&ref);
  }
}

/* Order keys with many ties and long strings tying on their first 16 bytes. */
static void test_rank__ties(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  sr_frame_random(&ref, 400, 10, 61);
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 64, 9, &f));
  int pcols[1] = {12};
  tsr_sort_key order[2] = {{"c11", true, false}, {"c0", false, true}};
  for (int kind = 0; kind < 3; kind++) {
    check_rank(f, &ref, (tsr_rank_kind)kind, 1, pcols, 2, order);
    check_rank(f, &ref, (tsr_rank_kind)kind, 1, pcols, 1, order + 1);
  }
  int pstr[1] = {11};
  check_rank(f, &ref, TSR_RANK_DENSE, 1, pstr, 1, order + 1);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

static void test_rank__errors(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  sr_frame_random(&ref, 10, 10, 1);
  tsr_frame *f = NULL, *out = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 1, 1, &f));
  const char *part[1] = {"c1"}, *bad[1] = {"zz"};
  tsr_sort_key order = {"c2", false, false}, nope = {"nope", false, false};
  assert_fails(tsr_frame_rank(f, "c3", TSR_RANK_RANK, 1, part, 1, &order, &out), TSR_EINVAL,
               "already has a column named 'c3'");
  assert_null(out);
  assert_fails(tsr_frame_rank(f, "", TSR_RANK_RANK, 1, part, 1, &order, &out), TSR_EINVAL,
               "NULL or empty");
  assert_fails(tsr_frame_rank(f, "r", TSR_RANK_RANK, 1, bad, 1, &order, &out), TSR_EINVAL,
               "no column named 'zz'");
  assert_fails(tsr_frame_rank(f, "r", TSR_RANK_RANK, 1, part, 1, &nope, &out), TSR_EINVAL,
               "no column named 'nope'");
  assert_fails(tsr_frame_rank(f, "r", (tsr_rank_kind)7, 1, part, 1, &order, &out), TSR_EINVAL,
               "not a tsr_rank_kind");
  assert_fails(tsr_frame_rank(f, "r", TSR_RANK_RANK, -1, part, 1, &order, &out), TSR_EINVAL,
               "npartition = -1");
  assert_fails(tsr_frame_rank(f, "r", TSR_RANK_RANK, 0, NULL, 2, NULL, &out), TSR_EINVAL,
               "norder = 2");
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rank__random_frames, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_rank__ties, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_rank__errors, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
