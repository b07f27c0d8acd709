/* test_filter_fused.c — filters and the assignments fused into them
 * (frame/filter.c): a random frame of every column type with nulls in
 * ragged row chunks (>= 64), filtered by predicates keeping about half,
 * a tenth, every row and no row, with three-valued logic and strings, then
 * assigned columns of every kind (integers, floats, strings, dictionaries,
 * bools, a column read by a later assignment, a replaced column).  Each
 * result is checked against references computed here row by row, and
 * against the same assignments run unfused (on the persisted filter), for
 * 1 and 2 threads, with and without AVX-512 compression. */
#include <ctype.h>

#include "frame_util.h"
#include "frame/colprog.h"

#define NROWS 20000

/* Three-valued: 0 false, 1 true, 2 null. */
static int or3(int a, int b) { return a == 1 || b == 1 ? 1 : a == 2 || b == 2 ? 2 : 0; }
static int and3(int a, int b) { return a == 0 || b == 0 ? 0 : a == 2 || b == 2 ? 2 : 1; }

#define V(c, T, r) (((const T *)x->cols[c].values)[r])

static int keep_ref(const ref_frame *x, int pred, int64_t r) {
  const uint8_t *v0 = x->cols[0].valid, *v1 = x->cols[1].valid, *v3 = x->cols[3].valid,
                *v4 = x->cols[4].valid, *v10 = x->cols[10].valid, *v11 = x->cols[11].valid;
  switch (pred) {
  case 0:
    return v4[r] && V(4, int64_t, r) > 0;
  case 1:
    return v10[r] && V(10, double, r) > 4000;
  case 2:
    return 1;
  case 3:
    return 0;
  case 4:
    return or3(v0[r] ? V(0, uint8_t, r) : 2, v1[r] ? V(1, int8_t, r) > 100 : 2) == 1;
  case 5:
    return v11[r] && strstr(x->cols[11].str[r], "an") != NULL;
  default:
    return !v3[r];
  }
}

static const char *const preds[] = {"c4 > 0",          "c10 > 4000",         "true",
                                    "false",           "c0 or c1 > 100",     "c11 like '%an%'",
                                    "is_null(c3)"};
#define NPREDS (int)(sizeof preds / sizeof preds[0])

/* Assignments, in order: name, expression. */
static const char *const assigns[][2] = {
    {"w", "c4 * 3 + c3"},   {"u", "upper(c11)"}, {"x", "w - c4"},
    {"c5", "c5 // 2"},      {"d", "lower(c12)"}, {"b", "c10 > 0 and c0"},
    {"f", "c9 * 2"},
};
#define NASSIGNS (int)(sizeof assigns / sizeof assigns[0])

/* A new column in `want` (rows n) named name of type t. */
static ref_col *add_col(ref_frame *want, const char *name, tsr_type t, bool strings) {
  want->cols = realloc(want->cols, (size_t)(want->ncols + 1) * sizeof *want->cols);
  ref_col *c = &want->cols[want->ncols++];
  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name);
  c->type = t;
  c->n = want->n;
  c->values = calloc((size_t)want->n + 1, tsr_type_width(t));
  c->valid = calloc((size_t)want->n + 1, 1);
  if (strings)
    c->str = calloc((size_t)want->n + 1, sizeof *c->str);
  return c;
}

static char *case_str(const char *s, bool up) {
  char *d = fu_strdup(s);
  for (unsigned char *p = (unsigned char *)d; *p; p++)
    if (up && *p >= 'a' && *p <= 'z')
      *p = (unsigned char)(*p - 'a' + 'A');
    else if (!up && *p >= 'A' && *p <= 'Z')
      *p = (unsigned char)(*p - 'A' + 'a');
    else if (*p == 0xC3 && p[1] != 0) { /* Latin-1 letters: U+00C0..DE <-> U+00E0..FE */
      unsigned char lo = (unsigned char)(p[1] & ~0x20u);
      if (lo >= 0x80 && lo <= 0x9E && lo != 0x97)
        p[1] = (unsigned char)(up ? lo : lo + 0x20);
      p++;
    }
  return d;
}

/* The rows of x where keep[r], as a reference frame. */
static void select_ref(const ref_frame *x, const uint8_t *keep, ref_frame *want, int64_t **rows_out) {
  int64_t n = 0;
  int64_t *rows = malloc(((size_t)x->n + 1) * sizeof *rows);
  for (int64_t r = 0; r < x->n; r++)
    if (keep[r])
      rows[n++] = r;
  want->ncols = 0;
  want->n = n;
  want->cols = NULL;
  for (int i = 0; i < x->ncols; i++) {
    const ref_col *s = &x->cols[i];
    ref_col *c = add_col(want, s->name, s->type, s->str != NULL);
    size_t w = tsr_type_width(s->type);
    for (int64_t k = 0; k < n; k++) {
      c->valid[k] = s->valid[rows[k]];
      memcpy(c->values + (size_t)k * w, s->values + (size_t)rows[k] * w, w);
      if (s->str != NULL)
        c->str[k] = fu_strdup(s->str[rows[k]]);
    }
  }
  *rows_out = rows;
}

/* The reference: x's rows where predicate `pred` holds, then the
 * assignments computed row by row. */
static void reference(const ref_frame *x, int pred, ref_frame *want) {
  uint8_t *keep = malloc((size_t)x->n + 1);
  for (int64_t r = 0; r < x->n; r++)
    keep[r] = (uint8_t)keep_ref(x, pred, r);
  int64_t *rows;
  select_ref(x, keep, want, &rows);
  free(keep);
  int64_t n = want->n;
  int at = want->ncols; /* add_col moves the columns: pointers after */
  add_col(want, "w", (tsr_type){TSR_COL_INT64, 0}, false);
  add_col(want, "u", (tsr_type){TSR_COL_STRING, 0}, true);
  add_col(want, "x", (tsr_type){TSR_COL_INT64, 0}, false);
  add_col(want, "d", (tsr_type){TSR_COL_DICT, 0}, true);
  add_col(want, "b", (tsr_type){TSR_COL_BOOL, 0}, false);
  add_col(want, "f", (tsr_type){TSR_COL_FLOAT32, 0}, false);
  ref_col *cw = &want->cols[at], *cu = cw + 1, *cx = cw + 2, *cd = cw + 3, *cb = cw + 4,
          *cf = cw + 5;
  ref_col *c5 = &want->cols[5];
  for (int64_t k = 0; k < n; k++) {
    int64_t r = rows[k];
    bool v3 = x->cols[3].valid[r], v4 = x->cols[4].valid[r];
    cw->valid[k] = v3 && v4;
    ((int64_t *)cw->values)[k] = V(4, int64_t, r) * 3 + V(3, int32_t, r);
    cu->valid[k] = x->cols[11].valid[r];
    cu->str[k] = case_str(x->cols[11].str[r], true);
    cx->valid[k] = v3 && v4;
    ((int64_t *)cx->values)[k] = V(4, int64_t, r) * 2 + V(3, int32_t, r);
    ((uint8_t *)c5->values)[k] = (uint8_t)(V(5, uint8_t, r) / 2);
    cd->valid[k] = x->cols[12].valid[r];
    cd->str[k] = case_str(x->cols[12].str[r], false);
    int a = x->cols[10].valid[r] ? V(10, double, r) > 0 : 2;
    int b = x->cols[0].valid[r] ? V(0, uint8_t, r) != 0 : 2;
    int ab = and3(a, b);
    cb->valid[k] = ab != 2;
    ((uint8_t *)cb->values)[k] = ab == 1;
    cf->valid[k] = x->cols[9].valid[r];
    ((float *)cf->values)[k] = V(9, float, r) * 2.0f;
  }
  /* the replaced c5 keeps its place; dictionaries compare by text */
  free(rows);
}

/* *out: `in` with the assignments (in stays the caller's). */
static void apply_assigns(tsr_frame *in, tsr_frame **out) {
  tsr_frame *f = in;
  for (int k = 0; k < NASSIGNS; k++) {
    tsr_frame *g = NULL;
    assert_ok(tsr_frame_assign(f, assigns[k][0], assigns[k][1], &g));
    if (f != in)
      tsr_frame_destroy(&f);
    f = g;
  }
  *out = f;
}

static void test_filter_fused__differential(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame x;
  ref_frame_random(&x, TSR_NUM_COLTYPES, fu_types, NROWS, 10, 7);
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &x, 64, 11, &f));
  assert_true(tsr_frame_nchunks(f) >= 64);
  for (int threads = 1; threads <= 2; threads++) {
    assert_ok(tsr_ctx_set_threads(ctx, threads));
    for (int simd = 0; simd <= 1; simd++) {
      tsr__filter_set_simd(simd);
      for (int pk = 0; pk < NPREDS; pk++) {
        ref_frame want, got, unfused;
        reference(&x, pk, &want);
        tsr_frame *y = NULL, *z = NULL, *p = NULL;
        assert_ok(tsr_frame_filter(f, preds[pk], &y));
        apply_assigns(y, &z);
        /* fused: every column lives in the filter node */
        for (int i = 0; i < z->ncols; i++)
          assert_true(tsr__is_filter_node(z->cols[i].node));
        assert_int_equal(z->cols[0].node, z->cols[z->ncols - 1].node);
        ref_frame_compute(z, &got);
        ref_frame_assert_equal(&want, &got);
        /* unfused: the same assignments over the computed filter */
        tsr_frame *q = NULL;
        assert_ok(tsr_frame_persist(y, NULL, &q));
        apply_assigns(q, &p);
        tsr_frame_destroy(&q);
        assert_false(tsr__is_filter_node(p->cols[p->ncols - 1].node));
        ref_frame_compute(p, &unfused);
        ref_frame_assert_equal(&want, &unfused);
        ref_frame_free(&unfused);
        ref_frame_free(&got);
        ref_frame_free(&want);
        tsr_frame_destroy(&p);
        tsr_frame_destroy(&z);
        tsr_frame_destroy(&y);
      }
    }
  }
  tsr__filter_set_simd(true);
  tsr_frame_destroy(&f);
  ref_frame_free(&x);
}

/* A filter of a filter with assignments between them, and drop_nulls:
 * each keeps exactly the rows the reference keeps. */
static void test_filter_fused__chained(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame x;
  ref_frame_random(&x, TSR_NUM_COLTYPES, fu_types, NROWS, 10, 3);
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &x, 64, 5, &f));
  for (int simd = 0; simd <= 1; simd++) {
    tsr__filter_set_simd(simd);
    tsr_frame *a = NULL, *b = NULL, *c = NULL, *d = NULL;
    assert_ok(tsr_frame_filter(f, "c4 > 0", &a));
    assert_ok(tsr_frame_assign(a, "w", "c3 % 7", &b));
    assert_ok(tsr_frame_filter(b, "w > 2 and c11 like '%e%'", &c));
    assert_ok(tsr_frame_assign(c, "v", "w * 10 + length(c11)", &d));
    ref_frame got;
    ref_frame_compute(d, &got);
    int64_t k = 0;
    for (int64_t r = 0; r < x.n; r++) {
      bool v3 = x.cols[3].valid[r];
      int32_t c3 = ((const int32_t *)x.cols[3].values)[r];
      int64_t w = c3 % 7;
      if (!keep_ref(&x, 0, r) || !v3 || w <= 2 || !x.cols[11].valid[r] ||
          strchr(x.cols[11].str[r], 'e') == NULL)
        continue;
      assert_true(k < got.n);
      assert_memory_equal(got.cols[4].values + 8 * k, x.cols[4].values + 8 * r, 8);
      assert_string_equal(got.cols[11].str[k], x.cols[11].str[r]);
      assert_true(got.cols[16].valid[k]);
      assert_int_equal(((int64_t *)got.cols[16].values)[k],
                       w * 10 + (int64_t)strlen(x.cols[11].str[r]) -
                           (strstr(x.cols[11].str[r], "\xc3\xa9") ? 1 : 0));
      k++;
    }
    assert_int_equal(got.n, k);
    ref_frame_free(&got);
    tsr_frame *e = NULL;
    assert_ok(tsr_frame_drop_nulls(f, 0, NULL, &e));
    ref_frame_compute(e, &got);
    uint8_t *keep = malloc((size_t)x.n + 1);
    for (int64_t r = 0; r < x.n; r++) {
      keep[r] = 1;
      for (int i = 0; i < x.ncols; i++)
        keep[r] &= x.cols[i].valid[r];
    }
    ref_frame want;
    int64_t *rows;
    select_ref(&x, keep, &want, &rows);
    assert_true(want.n > 100 && want.n < x.n);
    ref_frame_assert_equal(&want, &got);
    ref_frame_free(&want);
    free(rows);
    free(keep);
    ref_frame_free(&got);
    tsr_frame_destroy(&e);
    tsr_frame_destroy(&d);
    tsr_frame_destroy(&c);
    tsr_frame_destroy(&b);
    tsr_frame_destroy(&a);
  }
  tsr__filter_set_simd(true);
  tsr_frame_destroy(&f);
  ref_frame_free(&x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_filter_fused__differential, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_filter_fused__chained, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
