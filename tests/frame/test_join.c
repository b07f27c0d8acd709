/* test_join.c — tsr_frame_join against a nested-loop join written here:
 * for every left row, every right row whose keys are all equal (nulls never
 * equal, NaN equal to NaN, -0.0 equal to 0.0, strings and dictionaries by
 * text, integers by value), in left then right row order, unmatched right
 * rows last.  Random frames of at least 64 ragged chunks with nulls,
 * duplicate keys and keys on one side only; every join kind; one and
 * several keys of mixed integer widths, strings, dictionaries with
 * different dictionaries, dates, bools, floats; empty sides; integer edge
 * cases by hand; suffixes; errors; results bitwise identical for 1, 2 and 4
 * threads.  As-of joins against a naive scan for the last right row at or
 * below each left row (by keys, tolerance, ties, NaN and nulls). */
#include <math.h>

#include "frame/join_impl.h" /* tsr__join_set_parted */
#include "frame_util.h"

static const tsr_join_kind kinds[6] = {TSR_JOIN_INNER, TSR_JOIN_LEFT, TSR_JOIN_RIGHT,
                                       TSR_JOIN_FULL,  TSR_JOIN_SEMI, TSR_JOIN_ANTI};

/* ---- the reference ------------------------------------------------------------------------- */

static bool key_eq(const ref_col *a, int64_t i, const ref_col *b, int64_t k) {
  if (!a->valid[i] || !b->valid[k])
    return false;
  if (a->str != NULL)
    return strcmp(a->str[i], b->str[k]) == 0;
  long double x = ref_num_at(a, i), y = ref_num_at(b, k); /* 64-bit significand: exact */
  if (isnan(x) && isnan(y))
    return true;
  return x == y;
}

/* The expected rows as (left row, right row) pairs, -1 for none. */
static int64_t ref_join(const ref_frame *L, const ref_frame *R, tsr_join_kind kind, int nkeys,
                        const int *lk, const int *rk, int64_t **pl, int64_t **pr) {
  int64_t cap = L->n * (R->n + 1) + R->n + 1, n = 0;
  int64_t *a = malloc((size_t)cap * sizeof *a), *b = malloc((size_t)cap * sizeof *b);
  char *matched = calloc((size_t)R->n + 1, 1);
  for (int64_t i = 0; i < L->n; i++) {
    bool any = false;
    for (int64_t k = 0; k < R->n; k++) {
      bool eq = true;
      for (int q = 0; q < nkeys && eq; q++)
        eq = key_eq(&L->cols[lk[q]], i, &R->cols[rk[q]], k);
      if (!eq)
        continue;
      any = true;
      matched[k] = 1;
      if (kind != TSR_JOIN_SEMI && kind != TSR_JOIN_ANTI) {
        a[n] = i;
        b[n++] = k;
      }
    }
    if ((kind == TSR_JOIN_SEMI && any) || (kind == TSR_JOIN_ANTI && !any) ||
        (!any && (kind == TSR_JOIN_LEFT || kind == TSR_JOIN_FULL))) {
      a[n] = i;
      b[n++] = -1;
    }
  }
  if (kind == TSR_JOIN_RIGHT || kind == TSR_JOIN_FULL)
    for (int64_t k = 0; k < R->n; k++)
      if (!matched[k]) {
        a[n] = -1;
        b[n++] = k;
      }
  free(matched);
  *pl = a;
  *pr = b;
  return n;
}

static bool in(const int *v, int n, int x) {
  for (int i = 0; i < n; i++)
    if (v[i] == x)
      return true;
  return false;
}

/* Cell `row` of column c (row -1: null) against cell g of got. */
static void cell_check(const ref_col *c, int64_t row, const ref_col *got, int64_t g) {
  int want_valid = row >= 0 && c->valid[row];
  if (got->valid[g] != want_valid)
    print_error("column '%s' result row %lld: valid %d, want %d\n", got->name, (long long)g,
                got->valid[g], want_valid);
  assert_int_equal(got->valid[g], want_valid);
  if (!want_valid)
    return;
  if (c->str != NULL) {
    if (strcmp(got->str[g], c->str[row]) != 0)
      print_error("column '%s' row %lld: '%s', want '%s'\n", got->name, (long long)g,
                  got->str[g], c->str[row]);
    assert_string_equal(got->str[g], c->str[row]);
  } else {
    size_t w = tsr_type_width(c->type);
    assert_memory_equal(got->values + (size_t)g * w, c->values + (size_t)row * w, w);
  }
}

/* Joins lf and rf and checks the result against the nested loops over L and R. */
static void check_join(tsr_frame *lf, tsr_frame *rf, const ref_frame *L, const ref_frame *R,
                       tsr_join_kind kind, int nkeys, const int *lk, const int *rk) {
  const char *lon[8], *ron[8];
  for (int q = 0; q < nkeys; q++) {
    lon[q] = L->cols[lk[q]].name;
    ron[q] = R->cols[rk[q]].name;
  }
  tsr_frame *j = NULL;
  assert_ok(tsr_frame_join(lf, rf, kind, nkeys, lon, ron, NULL, &j));
  ref_frame got;
  ref_frame_compute(j, &got);
  int64_t *pl, *pr;
  int64_t n = ref_join(L, R, kind, nkeys, lk, rk, &pl, &pr);
  if (got.n != n)
    print_error("kind %d: %lld rows, want %lld\n", (int)kind, (long long)got.n, (long long)n);
  assert_int_equal(got.n, n);
  int o = 0;
  bool semi = kind == TSR_JOIN_SEMI || kind == TSR_JOIN_ANTI;
  if (semi) {
    assert_int_equal(got.ncols, L->ncols);
    for (int i = 0; i < L->ncols; i++, o++) {
      assert_string_equal(got.cols[o].name, L->cols[i].name);
      for (int64_t r = 0; r < n; r++)
        cell_check(&L->cols[i], pl[r], &got.cols[o], r);
    }
  } else {
    for (int q = 0; q < nkeys; q++, o++) { /* keys: the left's, or the right's */
      assert_string_equal(got.cols[o].name, L->cols[lk[q]].name);
      for (int64_t r = 0; r < n; r++) {
        if (pl[r] >= 0)
          cell_check(&L->cols[lk[q]], pl[r], &got.cols[o], r);
        else
          cell_check(&R->cols[rk[q]], pr[r], &got.cols[o], r);
      }
    }
    for (int s = 0; s < 2; s++) {
      const ref_frame *F = s ? R : L, *G = s ? L : R;
      const int *ks = s ? rk : lk, *kg = s ? lk : rk;
      for (int i = 0; i < F->ncols; i++) {
        if (in(ks, nkeys, i))
          continue;
        char name[48];
        bool clash = false;
        for (int x = 0; x < G->ncols; x++)
          clash |= !in(kg, nkeys, x) && strcmp(G->cols[x].name, F->cols[i].name) == 0;
        snprintf(name, sizeof name, "%s%s", F->cols[i].name, clash ? (s ? "_y" : "_x") : "");
        assert_string_equal(got.cols[o].name, name);
        for (int64_t r = 0; r < n; r++)
          cell_check(&F->cols[i], s ? pr[r] : pl[r], &got.cols[o], r);
        o++;
      }
    }
    assert_int_equal(got.ncols, o);
  }
  free(pl);
  free(pr);
  ref_frame_free(&got);
  tsr_frame_destroy(&j);
}

/* A random frame: key columns of `types` with values in [lo, lo + card)
 * (strings "k<v>", some long; dictionaries of their own words), a value
 * column "v" of `vtype`, about 10 % nulls; n rows in >= 64 ragged chunks. */
static void make_side(tsr_ctx *ctx, int nk, const tsr_type *types, int lo, int card, int64_t n,
                      tsr_type vtype, const char *vname, uint64_t seed, ref_frame *ref,
                      tsr_frame **f) {
  tsr_type all[8];
  for (int i = 0; i < nk; i++)
    all[i] = types[i];
  all[nk] = vtype;
  all[nk + 1] = (tsr_type){TSR_COL_STRING, 0};
  ref_frame_random(ref, nk + 2, all, n, 10, seed);
  snprintf(ref->cols[nk].name, sizeof ref->cols[nk].name, "%s", vname);
  snprintf(ref->cols[nk + 1].name, sizeof ref->cols[nk + 1].name, "s");
  for (int i = 0; i < nk; i++) {
    ref_col *c = &ref->cols[i];
    snprintf(c->name, sizeof c->name, "k%d", i);
    fu_key_dict(c, lo, card);
    for (int64_t r = 0; r < n; r++) {
      int v = lo + (int)(fu_rand(&seed) % (uint64_t)card);
      fu_key_value(c, r, v, lo, card, 0, 0);
    }
  }
  assert_ok(ref_frame_to_frame(ctx, ref, 64, seed + 1, f));
}

/* Every kind over left keys lt and right keys rt (nk of them), card
 * values a key on each side. */
static void check_types_card(tsr_ctx *ctx, int nk, const tsr_type *lt, const tsr_type *rt,
                             int64_t nl, int64_t nr, int card, uint64_t seed, bool outer_too) {
  ref_frame L, R;
  tsr_frame *lf = NULL, *rf = NULL;
  make_side(ctx, nk, lt, 0, card, nl, (tsr_type){TSR_COL_INT32, 0}, "lv", seed, &L, &lf);
  make_side(ctx, nk, rt, 5, card, nr, (tsr_type){TSR_COL_FLOAT64, 0}, "rv", seed + 7, &R, &rf);
  int lk[8], rk[8];
  for (int q = 0; q < nk; q++)
    lk[q] = rk[q] = q;
  for (int k = 0; k < 6; k++) {
    if (!outer_too && (kinds[k] == TSR_JOIN_RIGHT || kinds[k] == TSR_JOIN_FULL))
      continue;
    check_join(lf, rf, &L, &R, kinds[k], nk, lk, rk);
  }
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  ref_frame_free(&L);
  ref_frame_free(&R);
}

static void check_types(tsr_ctx *ctx, int nk, const tsr_type *lt, const tsr_type *rt,
                        int64_t nl, int64_t nr, uint64_t seed, bool outer_too) {
  check_types_card(ctx, nk, lt, rt, nl, nr, 12, seed, outer_too);
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_join__int_keys_every_kind(void **state) {
  tsr_ctx *ctx = *state;
  tsr_type t[1] = {{TSR_COL_INT64, 0}};
  check_types(ctx, 1, t, t, 700, 500, 1, true);
  tsr_type a[1] = {{TSR_COL_INT8, 0}}, b[1] = {{TSR_COL_UINT64, 0}};
  check_types(ctx, 1, a, b, 600, 400, 2, false); /* mixed widths and signedness */
  tsr_type c[1] = {{TSR_COL_UINT16, 0}}, d[1] = {{TSR_COL_INT32, 0}};
  check_types(ctx, 1, c, d, 600, 400, 3, false);
}

static void test_join__every_key_type(void **state) {
  tsr_ctx *ctx = *state;
  const tsr_coltype ids[] = {TSR_COL_BOOL,    TSR_COL_INT16,  TSR_COL_UINT32,
                             TSR_COL_FLOAT32, TSR_COL_FLOAT64, TSR_COL_STRING,
                             TSR_COL_DICT,    TSR_COL_DATE};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    tsr_type t[1] = {{ids[i], 0}};
    check_types(ctx, 1, t, t, 300, 250, 10 + i, true);
  }
  /* floats of two widths; strings against dictionaries */
  tsr_type f32[1] = {{TSR_COL_FLOAT32, 0}}, f64[1] = {{TSR_COL_FLOAT64, 0}};
  check_types(ctx, 1, f32, f64, 300, 250, 30, false);
  tsr_type s[1] = {{TSR_COL_STRING, 0}}, dc[1] = {{TSR_COL_DICT, 0}};
  check_types(ctx, 1, s, dc, 300, 250, 31, false);
  check_types(ctx, 1, dc, s, 300, 250, 32, false);
}

static void test_join__several_keys(void **state) {
  tsr_ctx *ctx = *state;
  tsr_type a[3] = {{TSR_COL_STRING, 0}, {TSR_COL_INT16, 0}, {TSR_COL_DICT, 0}};
  check_types(ctx, 3, a, a, 800, 800, 40, true);
  tsr_type l[2] = {{TSR_COL_DICT, 0}, {TSR_COL_UINT8, 0}};
  tsr_type r[2] = {{TSR_COL_STRING, 0}, {TSR_COL_INT64, 0}};
  check_types(ctx, 2, l, r, 500, 500, 41, false);
}

/* Empty sides, keys on one side only, all keys null. */
static void test_join__edge_shapes(void **state) {
  tsr_ctx *ctx = *state;
  tsr_type t[1] = {{TSR_COL_INT32, 0}};
  int64_t sizes[][2] = {{0, 0}, {0, 50}, {50, 0}, {1, 1}, {100, 100}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    check_types(ctx, 1, t, t, sizes[s][0], sizes[s][1], 50 + s, true);
  /* disjoint keys, then every key null */
  ref_frame L, R;
  tsr_frame *lf = NULL, *rf = NULL;
  make_side(ctx, 1, t, 0, 10, 200, (tsr_type){TSR_COL_INT32, 0}, "lv", 60, &L, &lf);
  make_side(ctx, 1, t, 100, 10, 200, (tsr_type){TSR_COL_INT32, 0}, "rv", 61, &R, &rf);
  int k0[1] = {0};
  for (int k = 0; k < 6; k++)
    check_join(lf, rf, &L, &R, kinds[k], 1, k0, k0);
  tsr_frame_destroy(&rf);
  memset(R.cols[0].valid, 0, (size_t)R.n);
  memset(L.cols[0].valid, 0, (size_t)L.n);
  tsr_frame_destroy(&lf);
  assert_ok(ref_frame_to_frame(ctx, &L, 64, 62, &lf));
  assert_ok(ref_frame_to_frame(ctx, &R, 64, 63, &rf));
  for (int k = 0; k < 6; k++)
    check_join(lf, rf, &L, &R, kinds[k], 1, k0, k0);
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  ref_frame_free(&L);
  ref_frame_free(&R);
}

/* A one-column frame of n values of `type` from C. */
static tsr_frame *col_frame(tsr_ctx *ctx, const char *name, tsr_type type, const void *values,
                            const uint8_t *validity, int64_t n) {
  tsr_column_data cd;
  memset(&cd, 0, sizeof cd);
  cd.name = name;
  cd.type = type;
  cd.length = n;
  cd.values = values;
  cd.validity = validity;
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 1, &cd, 2, TSR_BUFFER_COPY, NULL, NULL, &f));
  return f;
}

/* The left rows (as the key's int64 values) of an inner join, in order. */
static int64_t inner_rows(tsr_frame *l, tsr_frame *r, tsr_join_kind kind, int64_t *rows) {
  const char *k = "k";
  tsr_frame *j = NULL;
  assert_ok(tsr_frame_join(l, r, kind, 1, &k, NULL, NULL, &j));
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_compute(j, NULL, &res));
  int64_t n = tsr_frame_result_nrows(res);
  assert_ok(tsr_frame_result_values(res, 0, rows, (size_t)n * tsr_type_width(tsr_frame_result_col_type(res, 0)), NULL));
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&j);
  return n;
}

/* Integers compare exactly: never through float64. */
static void test_join__integer_edges(void **state) {
  tsr_ctx *ctx = *state;
  const int64_t lv[6] = {-1, 0, INT64_MAX, INT64_MIN, 5, INT64_C(9007199254740993)};
  const uint64_t rv[7] = {UINT64_MAX, (UINT64_C(1) << 63) + 1, (uint64_t)INT64_MAX, 0, 5,
                          UINT64_C(9007199254740992), UINT64_C(1) << 63};
  tsr_frame *l = col_frame(ctx, "k", (tsr_type){TSR_COL_INT64, 0}, lv, NULL, 6);
  tsr_frame *r = col_frame(ctx, "k", (tsr_type){TSR_COL_UINT64, 0}, rv, NULL, 7);
  int64_t got[16];
  assert_int_equal(inner_rows(l, r, TSR_JOIN_INNER, got), 3);
  assert_true(got[0] == 0 && got[1] == INT64_MAX && got[2] == 5);
  /* 2^53 + 1 and 2^53 are one double, but not one integer */
  assert_int_equal(inner_rows(l, r, TSR_JOIN_ANTI, got), 3);
  assert_true(got[0] == -1 && got[1] == INT64_MIN && got[2] == INT64_C(9007199254740993));
  tsr_frame_destroy(&l);
  const int8_t i8[3] = {-1, 0, 127};
  l = col_frame(ctx, "k", (tsr_type){TSR_COL_INT8, 0}, i8, NULL, 3);
  int8_t g8[8];
  int64_t n = inner_rows(l, r, TSR_JOIN_INNER, (int64_t *)(void *)g8);
  assert_int_equal(n, 1); /* int8 -1 never equals uint64 max */
  assert_int_equal(g8[0], 0);
  tsr_frame_destroy(&l);
  tsr_frame_destroy(&r);
  /* uint64 against uint64: values above INT64_MAX match */
  l = col_frame(ctx, "k", (tsr_type){TSR_COL_UINT64, 0}, rv, NULL, 7);
  r = col_frame(ctx, "k", (tsr_type){TSR_COL_UINT64, 0}, rv + 1, NULL, 2);
  uint64_t gu[8];
  assert_int_equal(inner_rows(l, r, TSR_JOIN_INNER, (int64_t *)(void *)gu), 2);
  assert_true(gu[0] == (UINT64_C(1) << 63) + 1 && gu[1] == (uint64_t)INT64_MAX);
  tsr_frame_destroy(&l);
  tsr_frame_destroy(&r);
  /* floats: -0.0 = 0.0, NaN = NaN, null never */
  const double fl[4] = {-0.0, NAN, 1.5, 2.0}, fr[4] = {0.0, -NAN, 2.0, 1.5};
  const uint8_t valid[1] = {0x7}; /* right 1.5 is null */
  l = col_frame(ctx, "k", (tsr_type){TSR_COL_FLOAT64, 0}, fl, NULL, 4);
  r = col_frame(ctx, "k", (tsr_type){TSR_COL_FLOAT64, 0}, fr, valid, 4);
  double gd[8];
  assert_int_equal(inner_rows(l, r, TSR_JOIN_INNER, (int64_t *)(void *)gd), 3);
  assert_true(gd[0] == 0.0 && signbit(gd[0]) && isnan(gd[1]) && gd[2] == 2.0);
  tsr_frame_destroy(&l);
  tsr_frame_destroy(&r);
}

/* Result rows, key coalescing, suffixes by hand. */
static void test_join__by_hand(void **state) {
  tsr_ctx *ctx = *state;
  /* left: id 1 1 2 null 4; right: id 2 1 9 1 */
  const int32_t lid[5] = {1, 1, 2, 0, 4}, lv[5] = {10, 11, 12, 13, 14};
  const int32_t rid[4] = {2, 1, 9, 1}, rv[4] = {20, 21, 22, 23};
  const uint8_t lvalid[1] = {0x17};
  tsr_column_data lc[2], rc[2];
  memset(lc, 0, sizeof lc);
  memset(rc, 0, sizeof rc);
  lc[0] = (tsr_column_data){.name = "id", .type = {TSR_COL_INT32, 0}, .length = 5,
                            .values = lid, .validity = lvalid};
  lc[1] = (tsr_column_data){.name = "v", .type = {TSR_COL_INT32, 0}, .length = 5, .values = lv};
  rc[0] = (tsr_column_data){.name = "id", .type = {TSR_COL_INT32, 0}, .length = 4, .values = rid};
  rc[1] = (tsr_column_data){.name = "v", .type = {TSR_COL_INT32, 0}, .length = 4, .values = rv};
  tsr_frame *l = NULL, *r = NULL, *j = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, lc, 2, TSR_BUFFER_COPY, NULL, NULL, &l));
  assert_ok(tsr_frame_from_columns(ctx, 2, rc, 3, TSR_BUFFER_COPY, NULL, NULL, &r));
  const char *on = "id";
  assert_ok(tsr_frame_join(l, r, TSR_JOIN_FULL, 1, &on, NULL, NULL, &j));
  assert_int_equal(tsr_frame_ncols(j), 3);
  assert_string_equal(tsr_frame_col_name(j, 0), "id");
  assert_string_equal(tsr_frame_col_name(j, 1), "v_x");
  assert_string_equal(tsr_frame_col_name(j, 2), "v_y");
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_compute(j, NULL, &res));
  /* 1: (10,21) (10,23); 1: (11,21) (11,23); 2: (12,20); null: (13,-); 4: (14,-); 9: (-,22) */
  const int32_t want_id[8] = {1, 1, 1, 1, 2, 0, 4, 9};
  const int32_t want_l[8] = {10, 10, 11, 11, 12, 13, 14, 0};
  const int32_t want_r[8] = {21, 23, 21, 23, 20, 0, 0, 22};
  assert_int_equal(tsr_frame_result_nrows(res), 8);
  int32_t v[8];
  uint8_t bits[1];
  assert_ok(tsr_frame_result_values(res, 0, v, sizeof v, bits));
  assert_int_equal(bits[0], 0xdf);
  for (int i = 0; i < 8; i++)
    if (i != 5)
      assert_int_equal(v[i], want_id[i]);
  assert_ok(tsr_frame_result_values(res, 1, v, sizeof v, bits));
  assert_int_equal(bits[0], 0x7f);
  for (int i = 0; i < 7; i++)
    assert_int_equal(v[i], want_l[i]);
  assert_ok(tsr_frame_result_values(res, 2, v, sizeof v, bits));
  assert_int_equal(bits[0], 0x9f);
  for (int i = 0; i < 8; i++)
    if ((bits[0] >> i) & 1)
      assert_int_equal(v[i], want_r[i]);
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&j);
  /* other suffixes */
  tsr_join_options opt = {"_left", "_right"};
  assert_ok(tsr_frame_join(l, r, TSR_JOIN_INNER, 1, &on, NULL, &opt, &j));
  assert_string_equal(tsr_frame_col_name(j, 1), "v_left");
  assert_string_equal(tsr_frame_col_name(j, 2), "v_right");
  tsr_frame_destroy(&j);
  tsr_frame_destroy(&l);
  tsr_frame_destroy(&r);
}

static void test_join__errors(void **state) {
  tsr_ctx *ctx = *state;
  const int32_t a[2] = {1, 2};
  const double d[2] = {1, 2};
  tsr_frame *l = col_frame(ctx, "k", (tsr_type){TSR_COL_INT32, 0}, a, NULL, 2);
  tsr_frame *r = col_frame(ctx, "k", (tsr_type){TSR_COL_FLOAT64, 0}, d, NULL, 2);
  tsr_frame *u = col_frame(ctx, "k", (tsr_type){TSR_COL_INT64, 0}, d, NULL, 2);
  tsr_frame *j = NULL;
  const char *k = "k", *bad = "nope";
  assert_fails(tsr_frame_join(l, r, TSR_JOIN_INNER, 1, &k, NULL, NULL, &j), TSR_EINVAL,
               "cannot be compared");
  assert_fails(tsr_frame_join(l, u, TSR_JOIN_FULL, 1, &k, NULL, NULL, &j), TSR_EINVAL,
               "one key column");
  assert_fails(tsr_frame_join(l, u, TSR_JOIN_INNER, 1, &bad, NULL, NULL, &j), TSR_EINVAL,
               "nope");
  assert_fails(tsr_frame_join(l, u, (tsr_join_kind)9, 1, &k, NULL, NULL, &j), TSR_EINVAL,
               "tsr_join_kind");
  assert_fails(tsr_frame_join(l, u, TSR_JOIN_INNER, 0, &k, NULL, NULL, &j), TSR_EINVAL,
               "nkeys");
  assert_null(j);
  tsr_frame_destroy(&l);
  tsr_frame_destroy(&r);
  tsr_frame_destroy(&u);
}

/* The whole result, bytes of every column (strings by text). */
static void result_equal(tsr_frame *a, tsr_frame *b) {
  ref_frame x, y;
  ref_frame_compute(a, &x);
  ref_frame_compute(b, &y);
  assert_int_equal(x.n, y.n);
  assert_int_equal(x.ncols, y.ncols);
  for (int i = 0; i < x.ncols; i++) {
    size_t w = tsr_type_width(x.cols[i].type);
    assert_memory_equal(x.cols[i].valid, y.cols[i].valid, (size_t)x.n);
    if (x.cols[i].str != NULL) {
      for (int64_t r = 0; r < x.n; r++)
        assert_string_equal(x.cols[i].str[r], y.cols[i].str[r]);
    } else if (x.n > 0) {
      assert_memory_equal(x.cols[i].values, y.cols[i].values, (size_t)x.n * w);
    }
  }
  ref_frame_free(&x);
  ref_frame_free(&y);
}

static void test_join__threads_agree_bitwise(void **state) {
  tsr_ctx *ctx = *state;
  tsr_type t[2] = {{TSR_COL_STRING, 0}, {TSR_COL_INT32, 0}};
  ref_frame L, R;
  tsr_frame *lf = NULL, *rf = NULL;
  make_side(ctx, 2, t, 0, 30, 3000, (tsr_type){TSR_COL_FLOAT64, 0}, "lv", 70, &L, &lf);
  make_side(ctx, 2, t, 10, 30, 2000, (tsr_type){TSR_COL_STRING, 0}, "rv", 71, &R, &rf);
  const char *on[2] = {"k0", "k1"};
  for (int k = 0; k < 6; k++) {
    tsr_frame *r1 = NULL, *rn = NULL;
    assert_ok(tsr_ctx_set_threads(ctx, 1));
    assert_ok(tsr_frame_join(lf, rf, kinds[k], 2, on, NULL, NULL, &r1));
    for (int th = 2; th <= 4; th *= 2) {
      assert_ok(tsr_ctx_set_threads(ctx, th));
      assert_ok(tsr_frame_join(lf, rf, kinds[k], 2, on, NULL, NULL, &rn));
      result_equal(r1, rn);
      tsr_frame_destroy(&rn);
    }
    tsr_frame_destroy(&r1);
  }
  assert_ok(tsr_ctx_set_threads(ctx, 2));
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  ref_frame_free(&L);
  ref_frame_free(&R);
}

/* ---- as-of joins ----------------------------------------------------------------------------- */

/* The naive as-of join of left row i: the right row with the largest on
 * value <= the left's (the last of equal ones) among rows with equal by
 * keys, within tol (tol < 0: none); -1 when there is none. */
static int64_t ref_asof(const ref_frame *L, const ref_frame *R, int64_t i, int on, int nby,
                        const int *by, double tol) {
  const ref_col *lo = &L->cols[on], *ro = &R->cols[on];
  if (!lo->valid[i] || isnan(ref_num_at(lo, i)))
    return -1;
  long double x = ref_num_at(lo, i);
  int64_t best = -1;
  for (int64_t k = 0; k < R->n; k++) {
    bool eq = true;
    for (int q = 0; q < nby && eq; q++)
      eq = key_eq(&L->cols[by[q]], i, &R->cols[by[q]], k);
    if (!eq || !ro->valid[k] || isnan(ref_num_at(ro, k)))
      continue;
    long double y = ref_num_at(ro, k);
    if (y > x || (tol >= 0 && x - y > tol))
      continue;
    if (best < 0 || y >= ref_num_at(ro, best))
      best = k;
  }
  return best;
}

static void check_asof(tsr_frame *lf, tsr_frame *rf, const ref_frame *L, const ref_frame *R,
                       int on, int nby, const int *by, double tol) {
  const char *byn[4];
  for (int q = 0; q < nby; q++)
    byn[q] = L->cols[by[q]].name;
  tsr_asof_options o;
  memset(&o, 0, sizeof o);
  o.nby = nby;
  o.left_by = byn;
  o.has_tolerance = tol >= 0;
  o.tolerance = tol;
  tsr_frame *j = NULL;
  assert_ok(tsr_frame_join_asof(lf, rf, L->cols[on].name, &o, &j));
  ref_frame got;
  ref_frame_compute(j, &got);
  assert_int_equal(got.n, L->n);
  int64_t *want = malloc(((size_t)L->n + 1) * sizeof *want);
  int64_t matched = 0;
  for (int64_t i = 0; i < L->n; i++) {
    want[i] = ref_asof(L, R, i, on, nby, by, tol);
    matched += want[i] >= 0;
  }
  int o2 = 0;
  for (int i = 0; i < L->ncols; i++, o2++) {
    bool clash = false;
    for (int x = 0; x < R->ncols; x++)
      clash |= x != on && !in(by, nby, x) && strcmp(R->cols[x].name, L->cols[i].name) == 0;
    char name[48];
    snprintf(name, sizeof name, "%s%s", L->cols[i].name, clash ? "_x" : "");
    assert_string_equal(got.cols[o2].name, name);
    for (int64_t r = 0; r < L->n; r++)
      cell_check(&L->cols[i], r, &got.cols[o2], r);
  }
  for (int i = 0; i < R->ncols; i++) {
    if (i == on || in(by, nby, i))
      continue;
    bool clash = tsr_frame_col_index(lf, R->cols[i].name) >= 0;
    char name[48];
    snprintf(name, sizeof name, "%s%s", R->cols[i].name, clash ? "_y" : "");
    assert_string_equal(got.cols[o2].name, name);
    for (int64_t r = 0; r < L->n; r++)
      cell_check(&R->cols[i], want[r], &got.cols[o2], r);
    o2++;
  }
  assert_int_equal(got.ncols, o2);
  assert_true(L->n < 50 || R->n == 0 || matched > 0); /* the test means something */
  free(want);
  ref_frame_free(&got);
  tsr_frame_destroy(&j);
}

static void test_join__asof(void **state) {
  tsr_ctx *ctx = *state;
  const tsr_type sets[4][2] = {{{TSR_COL_STRING, 0}, {TSR_COL_INT32, 0}},
                               {{TSR_COL_DICT, 0}, {TSR_COL_FLOAT64, 0}},
                               {{TSR_COL_INT16, 0}, {TSR_COL_DATE, 0}},
                               {{TSR_COL_STRING, 0}, {TSR_COL_UINT64, 0}}};
  for (int t = 0; t < 4; t++) {
    ref_frame L, R;
    tsr_frame *lf = NULL, *rf = NULL;
    make_side(ctx, 2, sets[t], 0, 12, 600, (tsr_type){TSR_COL_INT32, 0}, "lv", 80 + t, &L, &lf);
    make_side(ctx, 2, sets[t], 3, 12, 400, (tsr_type){TSR_COL_FLOAT64, 0}, "rv", 90 + t, &R,
              &rf);
    int by[1] = {0};
    check_asof(lf, rf, &L, &R, 1, 1, by, -1);   /* by a key */
    check_asof(lf, rf, &L, &R, 1, 0, by, -1);   /* no groups */
    check_asof(lf, rf, &L, &R, 1, 1, by, 2.0);  /* within a tolerance */
    check_asof(lf, rf, &L, &R, 1, 0, by, 0.0);  /* exact only */
    tsr_frame_destroy(&lf);
    tsr_frame_destroy(&rf);
    ref_frame_free(&L);
    ref_frame_free(&R);
  }
  /* empty right, empty left */
  ref_frame L, R;
  tsr_frame *lf = NULL, *rf = NULL;
  make_side(ctx, 2, sets[0], 0, 12, 100, (tsr_type){TSR_COL_INT32, 0}, "lv", 95, &L, &lf);
  make_side(ctx, 2, sets[0], 0, 12, 0, (tsr_type){TSR_COL_FLOAT64, 0}, "rv", 96, &R, &rf);
  int by[1] = {0};
  check_asof(lf, rf, &L, &R, 1, 1, by, -1);
  check_asof(rf, lf, &R, &L, 1, 1, by, -1);
  /* errors: an on column of another type, a string on column */
  tsr_asof_options o;
  memset(&o, 0, sizeof o);
  o.right_on = "rv";
  tsr_frame *j = NULL;
  assert_fails(tsr_frame_join_asof(lf, rf, "k1", &o, &j), TSR_EINVAL, "must have one");
  assert_fails(tsr_frame_join_asof(lf, rf, "k0", NULL, &j), TSR_EINVAL, "must have one");
  assert_null(j);
  tsr_frame_destroy(&lf);
  tsr_frame_destroy(&rf);
  ref_frame_free(&L);
  ref_frame_free(&R);
}

/* Direct tables built a slice of the key span at a time (join_hash.c's
 * build_parted, for spans of 2^20 keys and more): here at every size, in
 * slices of 4 and 64 keys, so that each key range spans many slices. */
static void test_join__parted_table(void **state) {
  tsr_ctx *ctx = *state;
  const int64_t slices[2] = {4, 64};
  for (int k = 0; k < 2; k++) {
    tsr__join_set_parted(0, slices[k]);
    test_join__int_keys_every_kind(state);
    tsr_type t[1] = {{TSR_COL_INT64, 0}}, u[1] = {{TSR_COL_UINT32, 0}};
    check_types_card(ctx, 1, t, u, 900, 700, 300, 50 + (uint64_t)k, false);
    check_types_card(ctx, 1, t, t, 900, 700, 300, 54 + (uint64_t)k, true);
    tsr_type s[1] = {{TSR_COL_STRING, 0}}, dc[1] = {{TSR_COL_DICT, 0}};
    check_types_card(ctx, 1, s, dc, 500, 400, 200, 52 + (uint64_t)k, false);
    check_types_card(ctx, 1, dc, dc, 500, 400, 200, 56 + (uint64_t)k, true);
    test_join__threads_agree_bitwise(state);
    test_join__asof(state);
  }
  tsr__join_set_parted(-1, -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_join__int_keys_every_kind, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_join__every_key_type, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_join__several_keys, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_join__edge_shapes, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_join__integer_edges, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_join__by_hand, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_join__errors, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_join__threads_agree_bitwise, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_join__asof, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_join__parted_table, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
