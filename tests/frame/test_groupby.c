/* test_groupby.c — tsr_frame_groupby against a plain sort-based group-by
 * written here (row indices sorted by key with a comparator, equal keys in
 * runs, aggregates computed naively per group) over random frames of at
 * least 64 ragged chunks with nulls, NaN (several payloads), -0.0, every
 * key type, several keys (also more than 64 bits of them), few groups, all
 * distinct keys, a single group, all-null groups, zero and one rows; in
 * first-seen and sorted order; many groups (the bucket-partitioned
 * merge).  Results bitwise identical with 1, 2, 4 and 8 threads; one row
 * per value for largest/smallest, and their values against a stable sort
 * per group; errors. */
#include <math.h>
#include <unistd.h>

#include "frame_util.h"

#define NROWS 1000

/* ---- cells of the reference ------------------------------------------------------------ */

static bool is_float(tsr_type t) { return t.id == TSR_COL_FLOAT32 || t.id == TSR_COL_FLOAT64; }
static bool is_str(tsr_type t) { return t.id == TSR_COL_STRING || t.id == TSR_COL_DICT; }

/* Compares two cells as keys: nulls last, NaN above numbers, -0.0 == 0.0,
 * strings by bytes. */
static int cell_cmp(const ref_col *c, int64_t i, int64_t j) {
  bool ni = !c->valid[i], nj = !c->valid[j];
  if (ni || nj)
    return ni == nj ? 0 : ni ? 1 : -1;
  if (is_str(c->type))
    return strcmp(c->str[i], c->str[j]) < 0 ? -1 : strcmp(c->str[i], c->str[j]) > 0;
  long double a = ref_num_at(c, i), b = ref_num_at(c, j);
  if (is_float(c->type)) {
    bool an = a != a, bn = b != b;
    if (an || bn)
      return (int)an - (int)bn;
  }
  return a < b ? -1 : a > b;
}

/* ---- the reference group-by ---------------------------------------------------------------- */

typedef struct ref_group {
  int64_t n;
  int64_t *rows; /* in row order */
} ref_group;

static const ref_frame *g_ref;
static const int *g_keys;
static int g_nkeys;

static int row_cmp(const void *pa, const void *pb) {
  int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;
  for (int k = 0; k < g_nkeys; k++) {
    int c = cell_cmp(&g_ref->cols[g_keys[k]], a, b);
    if (c != 0)
      return c;
  }
  return a < b ? -1 : a > b; /* stable: row order within a group */
}

static int group_first_cmp(const void *pa, const void *pb) {
  const ref_group *a = pa, *b = pb;
  return a->rows[0] < b->rows[0] ? -1 : a->rows[0] > b->rows[0];
}

/* Groups of f by the key columns, sorted by key (sorted) or by first row. */
static ref_group *ref_groupby(const ref_frame *f, int nkeys, const int *keys, bool sorted,
                              int64_t *ngroups) {
  int64_t n = f->n;
  int64_t *idx = malloc(((size_t)n + 1) * sizeof *idx);
  for (int64_t i = 0; i < n; i++)
    idx[i] = i;
  g_ref = f;
  g_keys = keys;
  g_nkeys = nkeys;
  qsort(idx, (size_t)n, sizeof *idx, row_cmp);
  ref_group *g = calloc((size_t)n + 1, sizeof *g);
  int64_t ng = 0;
  for (int64_t i = 0; i < n;) {
    int64_t j = i + 1;
    while (j < n) {
      bool same = true;
      for (int k = 0; k < nkeys && same; k++)
        same = cell_cmp(&f->cols[keys[k]], idx[i], idx[j]) == 0;
      if (!same)
        break;
      j++;
    }
    g[ng].n = j - i;
    g[ng].rows = malloc((size_t)(j - i) * sizeof *g[ng].rows);
    memcpy(g[ng].rows, idx + i, (size_t)(j - i) * sizeof *idx);
    ng++;
    i = j;
  }
  if (nkeys == 0) { /* one group, also of no rows */
    ng = 1;
    if (n == 0)
      g[0].rows = malloc(sizeof *g[0].rows);
  }
  if (!sorted)
    qsort(g, (size_t)ng, sizeof *g, group_first_cmp);
  free(idx);
  *ngroups = ng;
  return g;
}

static void ref_groups_free(ref_group *g, int64_t n) {
  for (int64_t i = 0; i < n; i++)
    free(g[i].rows);
  free(g);
}

/* ---- checking one result cell ------------------------------------------------------------- */

static void check_null(const ref_col *got, int64_t r, bool want_null, const char *what) {
  if (got->valid[r] == want_null)
    print_error("%s row %lld: null %d, want %d\n", what, (long long)r, !got->valid[r], want_null);
  assert_int_equal(got->valid[r], !want_null);
}

static void check_f64(const ref_col *got, int64_t r, bool null, long double want, double tol,
                      const char *what) {
  check_null(got, r, null, what);
  if (null)
    return;
  double v = ((const double *)got->values)[r];
  if (want != want) {
    assert_true(v != v);
    return;
  }
  if (!(fabsl((long double)v - want) <= tol)) {
    print_error("%s row %lld: %.17g, want %.17Lg (tol %g)\n", what, (long long)r, v, want, tol);
    fail();
  }
}

/* The same value, bit for bit (got row r, reference column c row i). */
static void check_cell(const ref_col *got, int64_t r, const ref_col *c, int64_t i,
                       const char *what) {
  check_null(got, r, !c->valid[i], what);
  if (!c->valid[i])
    return;
  if (is_str(c->type)) {
    if (strcmp(got->str[r], c->str[i]) != 0)
      print_error("%s row %lld: '%s', want '%s'\n", what, (long long)r, got->str[r], c->str[i]);
    assert_string_equal(got->str[r], c->str[i]);
    return;
  }
  size_t w = tsr_type_width(c->type);
  if (memcmp(got->values + (size_t)r * w, c->values + (size_t)i * w, w) != 0) {
    print_error("%s row %lld: %.17Lg, want %.17Lg\n", what, (long long)r, ref_num_at(got, r),
                ref_num_at(c, i));
    fail();
  }
}

/* ---- the differential test ----------------------------------------------------------------- */

/* Value columns of the test frames (after the key columns). */
enum { V_INT = 0, V_F64, V_STR, V_BOOL, V_I64, V_U32, V_F32, NVALS };
static const tsr_type val_types[NVALS] = {
    {TSR_COL_INT32, 0}, {TSR_COL_FLOAT64, 0}, {TSR_COL_STRING, 0}, {TSR_COL_BOOL, 0},
    {TSR_COL_INT64, 0}, {TSR_COL_UINT32, 0},  {TSR_COL_FLOAT32, 0}};

/* Rewrites a key column into a small domain (card values) of its type,
 * floats among 0.0, -0.0, two NaN payloads, and a few numbers. */
static void shrink(ref_col *c, int card, uint64_t *seed) {
  size_t w = tsr_type_width(c->type);
  for (int64_t i = 0; i < c->n; i++) {
    uint64_t k = fu_rand(seed) % (uint64_t)card;
    if (!c->valid[i])
      continue;
    unsigned char *v = c->values + (size_t)i * w;
    switch (c->type.id) {
    case TSR_COL_FLOAT64:
    case TSR_COL_FLOAT32: {
      double d;
      uint64_t nan2 = UINT64_C(0x7ff8000000000abc) | (k & 1 ? UINT64_C(1) << 63 : 0);
      switch (k % 6) {
      case 0:
        d = 0.0;
        break;
      case 1:
        d = -0.0;
        break;
      case 2:
        d = NAN;
        break;
      case 3:
        memcpy(&d, &nan2, 8);
        break;
      default:
        d = (double)k * 1.25 - 3;
        break;
      }
      if (c->type.id == TSR_COL_FLOAT32) {
        float fl = (float)d;
        if (k % 6 == 3) {
          uint32_t b = 0x7fc00abcu;
          memcpy(&fl, &b, 4);
        }
        memcpy(v, &fl, 4);
      } else {
        memcpy(v, &d, 8);
      }
      break;
    }
    case TSR_COL_STRING: {
      free(c->str[i]);
      char buf[64];
      snprintf(buf, sizeof buf, "%s%s", fu_words[k % 8], k >= 8 ? "-and-something-long" : "");
      c->str[i] = fu_strdup(buf);
      break;
    }
    case TSR_COL_DICT:
      ((int32_t *)v)[0] = (int32_t)(k % (uint64_t)c->dict_size);
      free(c->str[i]);
      c->str[i] = fu_strdup(c->dict[k % (uint64_t)c->dict_size]);
      break;
    case TSR_COL_BOOL:
      v[0] = (uint8_t)(k & 1);
      break;
    default: { /* integers, dates, timestamps: k - card/2 (unsigned: k), spread */
      int64_t x =
          (int64_t)k - (c->type.id >= TSR_COL_UINT8 && c->type.id <= TSR_COL_UINT64 ? 0 : card / 2);
      if (w == 8)
        x *= 1000003;   /* a wide type with a range of a few million */
      memcpy(v, &x, w); /* little-endian: the low bytes */
      break;
    }
    }
  }
}

/* Sprinkles -0.0 and NaN into a float64 value column. */
static void specials(ref_col *c, uint64_t *seed) {
  for (int64_t i = 0; i < c->n; i++) {
    uint64_t k = fu_rand(seed) % 23;
    double *v = (double *)c->values + i;
    if (k == 0)
      *v = -0.0;
    else if (k == 1)
      *v = 0.0;
    else if (k == 2 && c->type.id == TSR_COL_FLOAT64)
      *v = NAN;
  }
}

#define NAGGS 26

/* The aggregates checked, over the value columns (indices after the keys). */
static void make_aggs(int nk, tsr_agg *a, char names[][8]) {
  for (int i = 0; i < NVALS; i++)
    snprintf(names[i], 8, "c%d", nk + i);
  const char *vi = names[V_INT], *vf = names[V_F64], *vs = names[V_STR], *vb = names[V_BOOL],
             *vl = names[V_I64], *vu = names[V_U32], *f32 = names[V_F32];
  tsr_agg list[NAGGS] = {
      {TSR_AGG_COUNT_ALL, NULL, NULL, NULL, 0, 0, 0},  {TSR_AGG_COUNT, vs, NULL, NULL, 0, 0, 0},
      {TSR_AGG_SUM, vi, NULL, NULL, 0, 0, 0},          {TSR_AGG_SUM, vf, NULL, NULL, 0, 0, 0},
      {TSR_AGG_SUM, vl, NULL, NULL, 0, 0, 0},          {TSR_AGG_SUM, vu, NULL, NULL, 0, 0, 0},
      {TSR_AGG_MEAN, vf, NULL, NULL, 0, 0, 0},         {TSR_AGG_MEAN, vi, NULL, NULL, 0, 0, 0},
      {TSR_AGG_MIN, vf, NULL, NULL, 0, 0, 0},          {TSR_AGG_MAX, vf, NULL, NULL, 0, 0, 0},
      {TSR_AGG_MIN, vs, NULL, NULL, 0, 0, 0},          {TSR_AGG_MAX, vs, NULL, NULL, 0, 0, 0},
      {TSR_AGG_MIN, vu, NULL, NULL, 0, 0, 0},          {TSR_AGG_MAX, vl, NULL, NULL, 0, 0, 0},
      {TSR_AGG_VAR, vf, NULL, NULL, 0, 1, 0},          {TSR_AGG_STD, vi, NULL, NULL, 0, 0, 0},
      {TSR_AGG_FIRST, vs, NULL, NULL, 0, 0, 0},        {TSR_AGG_LAST, vf, NULL, NULL, 0, 0, 0},
      {TSR_AGG_CORR, vi, f32, NULL, 0, 0, 0},          {TSR_AGG_COVAR_SAMP, vi, vl, NULL, 0, 0, 0},
      {TSR_AGG_COVAR_POP, f32, vi, NULL, 0, 0, 0},     {TSR_AGG_ANY, vb, NULL, NULL, 0, 0, 0},
      {TSR_AGG_ALL, vb, NULL, "every_b", 0, 0, 0},     {TSR_AGG_MEDIAN, vi, NULL, NULL, 0, 0, 0},
      {TSR_AGG_QUANTILE, f32, NULL, NULL, 0.25, 0, 0}, {TSR_AGG_NUNIQUE, vf, NULL, NULL, 0, 0, 0},
  };
  memcpy(a, list, sizeof list);
}

static int col_of(const ref_frame *f, const char *name) {
  for (int i = 0; i < f->ncols; i++)
    if (strcmp(f->cols[i].name, name) == 0)
      return i;
  return -1;
}

static int ld_cmp(const void *a, const void *b) {
  long double x = *(const long double *)a, y = *(const long double *)b;
  bool xn = x != x, yn = y != y;
  if (xn || yn)
    return (int)xn - (int)yn;
  return x < y ? -1 : x > y;
}

/* Checks aggregate a (result column got) over group g (result row r). */
static void check_agg(const ref_frame *f, const tsr_agg *a, const ref_group *g, const ref_col *got,
                      int64_t r) {
  const char *what = got->name;
  const ref_col *x = a->column ? &f->cols[col_of(f, a->column)] : NULL;
  const ref_col *y = a->column2 ? &f->cols[col_of(f, a->column2)] : NULL;
  int64_t cnt = 0;
  long double sum = 0, sabs = 0;
  for (int64_t k = 0; k < g->n; k++)
    if (x != NULL && x->valid[g->rows[k]]) {
      cnt++;
      if (!is_str(x->type)) {
        sum += ref_num_at(x, g->rows[k]);
        sabs += fabsl(ref_num_at(x, g->rows[k]));
      }
    }
  double tol = 1e-9 * (double)(sabs + 1);
  switch (a->op) {
  case TSR_AGG_COUNT_ALL:
    assert_int_equal(((int64_t *)got->values)[r], g->n);
    break;
  case TSR_AGG_COUNT:
    assert_int_equal(((int64_t *)got->values)[r], cnt);
    break;
  case TSR_AGG_SUM:
    check_null(got, r, cnt == 0, what);
    if (cnt == 0)
      break;
    if (is_float(x->type)) {
      check_f64(got, r, false, sum, tol, what);
    } else if (x->type.id == TSR_COL_UINT32) {
      assert_true((long double)((uint64_t *)got->values)[r] == sum);
    } else {
      if ((long double)((int64_t *)got->values)[r] != sum)
        print_error("%s row %lld: %lld, want %.0Lf\n", what, (long long)r,
                    (long long)((int64_t *)got->values)[r], sum);
      assert_true((long double)((int64_t *)got->values)[r] == sum);
    }
    break;
  case TSR_AGG_MEAN:
    check_f64(got, r, cnt == 0, cnt ? sum / cnt : 0, tol / (double)(cnt ? cnt : 1), what);
    break;
  case TSR_AGG_MIN:
  case TSR_AGG_MAX: {
    int64_t best = -1;
    for (int64_t k = 0; k < g->n; k++) {
      int64_t i = g->rows[k];
      if (!x->valid[i])
        continue;
      if (best < 0) {
        best = i;
        continue;
      }
      int c = cell_cmp(x, i, best);
      if (a->op == TSR_AGG_MIN ? c < 0 : c > 0)
        best = i;
    }
    if (best < 0)
      check_null(got, r, true, what);
    else
      check_cell(got, r, x, best, what);
    break;
  }
  case TSR_AGG_VAR:
  case TSR_AGG_STD: {
    bool null = cnt - a->ddof <= 0;
    long double m2 = 0, mean = cnt ? sum / cnt : 0;
    for (int64_t k = 0; k < g->n; k++)
      if (x->valid[g->rows[k]]) {
        long double d = ref_num_at(x, g->rows[k]) - mean;
        m2 += d * d;
      }
    long double v = null ? 0 : m2 / (cnt - a->ddof);
    if (a->op == TSR_AGG_STD)
      v = sqrtl(v);
    check_f64(got, r, null, v, 1e-9 * (double)(fabsl(v) + 1) * 100, what);
    break;
  }
  case TSR_AGG_FIRST:
  case TSR_AGG_LAST:
    if (g->n == 0) /* no rows: null */
      check_null(got, r, true, what);
    else
      check_cell(got, r, x, g->rows[a->op == TSR_AGG_FIRST ? 0 : g->n - 1], what);
    break;
  case TSR_AGG_CORR:
  case TSR_AGG_COVAR_SAMP:
  case TSR_AGG_COVAR_POP: {
    int64_t n = 0;
    long double sx = 0, sy = 0;
    for (int64_t k = 0; k < g->n; k++) {
      int64_t i = g->rows[k];
      if (x->valid[i] && y->valid[i]) {
        n++;
        sx += ref_num_at(x, i);
        sy += ref_num_at(y, i);
      }
    }
    long double mx = n ? sx / n : 0, my = n ? sy / n : 0, cxy = 0, vx = 0, vy = 0;
    for (int64_t k = 0; k < g->n; k++) {
      int64_t i = g->rows[k];
      if (x->valid[i] && y->valid[i]) {
        long double dx = ref_num_at(x, i) - mx, dy = ref_num_at(y, i) - my;
        cxy += dx * dy;
        vx += dx * dx;
        vy += dy * dy;
      }
    }
    if (a->op == TSR_AGG_CORR) {
      /* DuckDB's: NaN (0 / 0) when a side is constant, one pair included */
      bool null = n == 0;
      long double v = null ? 0 : vx * vy == 0 ? (long double)NAN : cxy / sqrtl(vx * vy);
      check_f64(got, r, null, v, 1e-6, what);
    } else if (a->op == TSR_AGG_COVAR_SAMP) {
      long double v = n < 2 ? 0 : cxy / (n - 1);
      check_f64(got, r, n < 2, v, 1e-9 * (double)(fabsl(v) + 1) * 1000, what);
    } else {
      long double v = n == 0 ? 0 : cxy / n;
      check_f64(got, r, n == 0, v, 1e-9 * (double)(fabsl(v) + 1) * 1000, what);
    }
    break;
  }
  case TSR_AGG_ANY:
  case TSR_AGG_ALL: {
    bool v = a->op == TSR_AGG_ALL;
    for (int64_t k = 0; k < g->n; k++) {
      int64_t i = g->rows[k];
      if (!x->valid[i])
        continue;
      bool b = ref_num_at(x, i) != 0;
      v = a->op == TSR_AGG_ANY ? (v || b) : (v && b);
    }
    check_null(got, r, cnt == 0, what);
    if (cnt > 0)
      assert_int_equal(((uint8_t *)got->values)[r], v);
    break;
  }
  case TSR_AGG_MEDIAN:
  case TSR_AGG_QUANTILE: {
    long double *v = malloc(((size_t)cnt + 1) * sizeof *v);
    int64_t m = 0;
    for (int64_t k = 0; k < g->n; k++)
      if (x->valid[g->rows[k]])
        v[m++] = ref_num_at(x, g->rows[k]);
    qsort(v, (size_t)m, sizeof *v, ld_cmp);
    double q = a->op == TSR_AGG_MEDIAN ? 0.5 : a->q;
    long double want = 0, mag = 1;
    if (m > 0) {
      long double pos = q * (m - 1);
      int64_t lo = (int64_t)floorl(pos), hi = (int64_t)ceill(pos);
      want = v[lo] + (pos - lo) * (v[hi] - v[lo]);
      mag += fabsl(v[lo]) + fabsl(v[hi]);
    }
    if (got->type.id == TSR_COL_FLOAT32) {
      check_null(got, r, m == 0, what);
      /* float32: interpolated in float32 (DuckDB's), relative to the operands */
      if (m > 0 && !(fabsl((long double)((float *)got->values)[r] - want) <= 1e-6 * mag)) {
        print_error("%s row %lld: %.9g, want %.9Lg (%lld values)\n", what, (long long)r,
                    (double)((float *)got->values)[r], want, (long long)m);
        fail();
      }
    } else {
      check_f64(got, r, m == 0, want, 1e-12 * (double)mag, what);
    }
    free(v);
    break;
  }
  case TSR_AGG_NUNIQUE: {
    long double *v = malloc(((size_t)cnt + 1) * sizeof *v);
    int64_t m = 0;
    for (int64_t k = 0; k < g->n; k++)
      if (x->valid[g->rows[k]])
        v[m++] = ref_num_at(x, g->rows[k]);
    qsort(v, (size_t)m, sizeof *v, ld_cmp);
    int64_t d = 0;
    for (int64_t k = 0; k < m; k++)
      d += k == 0 || ld_cmp(&v[k], &v[k - 1]) != 0;
    assert_int_equal(((int64_t *)got->values)[r], d);
    free(v);
    break;
  }
  default:
    fail();
  }
}

/* Runs the group-by on f (the frame of ref) and checks it against the
 * reference, in both orders. */
static bool holistic(tsr_agg_op op) {
  return op == TSR_AGG_MEDIAN || op == TSR_AGG_QUANTILE || op == TSR_AGG_NUNIQUE ||
         op == TSR_AGG_LARGEST || op == TSR_AGG_SMALLEST;
}

/* Checks the group-by of f (first-seen and sorted order) against the
 * reference; then, when some aggregates are holistic (the group-by then
 * groups chunk by chunk), once more with only the leading decomposable
 * ones: small chunks are then grouped a run of consecutive chunks per
 * task, fed chunk after chunk into one set of local groups. */
static void check_groupby(tsr_frame *f, const ref_frame *ref, int nkeys, const int *keys, int naggs,
                          const tsr_agg *aggs) {
  const char *knames[16];
  for (int k = 0; k < nkeys; k++)
    knames[k] = ref->cols[keys[k]].name;
  int ndecomp = 0;
  while (ndecomp < naggs && !holistic(aggs[ndecomp].op))
    ndecomp++;
  if (ndecomp < naggs && ndecomp > 0)
    check_groupby(f, ref, nkeys, keys, ndecomp, aggs);
  for (int sorted = 0; sorted < 2; sorted++) {
    tsr_groupby_options o = {sorted ? TSR_GROUP_SORTED : TSR_GROUP_FIRST_SEEN};
    tsr_frame *out = NULL;
    assert_ok(tsr_frame_groupby(f, nkeys, knames, naggs, aggs, &o, &out));
    ref_frame got;
    ref_frame_compute(out, &got);
    int64_t ng;
    ref_group *g = ref_groupby(ref, nkeys, keys, sorted, &ng);
    if (got.n != ng)
      print_error("%d keys (sorted %d): %lld groups, want %lld\n", nkeys, sorted, (long long)got.n,
                  (long long)ng);
    assert_int_equal(got.n, ng);
    assert_int_equal(got.ncols, nkeys + naggs);
    for (int64_t r = 0; r < ng; r++) {
      for (int k = 0; k < nkeys; k++) {
        assert_string_equal(got.cols[k].name, knames[k]);
        check_cell(&got.cols[k], r, &ref->cols[keys[k]], g[r].rows[0], knames[k]);
      }
      for (int a = 0; a < naggs; a++)
        check_agg(ref, &aggs[a], &g[r], &got.cols[nkeys + a], r);
    }
    ref_groups_free(g, ng);
    ref_frame_free(&got);
    tsr_frame_destroy(&out);
  }
}

/* A random frame: nk key columns of the given types (card values each, 0:
 * the full random range), then the value columns; null_pct % nulls. */
static void make_frame(tsr_ctx *ctx, int nk, const tsr_type *ktypes, const int *card, int64_t n,
                       int null_pct, uint64_t seed, ref_frame *ref, tsr_frame **f) {
  tsr_type types[32];
  for (int k = 0; k < nk; k++)
    types[k] = ktypes[k];
  for (int v = 0; v < NVALS; v++)
    types[nk + v] = val_types[v];
  ref_frame_random(ref, nk + NVALS, types, n, null_pct, seed);
  uint64_t s = seed * 7 + 1;
  for (int k = 0; k < nk; k++)
    if (card[k] > 0)
      shrink(&ref->cols[k], card[k], &s);
  specials(&ref->cols[nk + V_F64], &s);
  /* int64 values: keep sums of squares in range for the covariance */
  for (int64_t i = 0; i < n; i++)
    ((int64_t *)ref->cols[nk + V_I64].values)[i] %= 1000000;
  assert_ok(ref_frame_to_frame(ctx, ref, 64, seed + 3, f));
  assert_true(tsr_frame_nchunks(*f) >= 64 || n < 64);
}

static void test_groupby__every_key_type(void **state) {
  tsr_ctx *ctx = *state;
  tsr_agg aggs[NAGGS];
  char names[NVALS][8];
  make_aggs(1, aggs, names);
  for (int t = 0; t < TSR_NUM_COLTYPES; t++) {
    for (int wide = 0; wide < 2; wide++) {
      ref_frame ref;
      tsr_frame *f = NULL;
      int card = wide ? 0 : 7;
      make_frame(ctx, 1, &fu_types[t], &card, NROWS, 10, 100 + (uint64_t)t * 2 + (uint64_t)wide,
                 &ref, &f);
      int keys[1] = {0};
      check_groupby(f, &ref, 1, keys, NAGGS, aggs);
      tsr_frame_destroy(&f);
      ref_frame_free(&ref);
    }
  }
}

static void test_groupby__several_keys(void **state) {
  tsr_ctx *ctx = *state;
  tsr_agg aggs[NAGGS];
  char names[NVALS][8];
  struct {
    int nk;
    tsr_type t[6];
    int card[6];
  } cases[] = {
      {2, {{TSR_COL_DICT, 0}, {TSR_COL_INT16, 0}}, {5, 9}},
      {3, {{TSR_COL_STRING, 0}, {TSR_COL_BOOL, 0}, {TSR_COL_FLOAT64, 0}}, {12, 2, 6}},
      {3, {{TSR_COL_DATE, 0}, {TSR_COL_UINT64, 0}, {TSR_COL_FLOAT32, 0}}, {4, 0, 6}},
      /* six wide keys: about 12 bits each, more than 64 bits in all (folded) */
      {6,
       {{TSR_COL_INT64, 0},
        {TSR_COL_INT32, 0},
        {TSR_COL_TIMESTAMP, TSR_TIME_US},
        {TSR_COL_UINT32, 0},
        {TSR_COL_INT64, 0},
        {TSR_COL_STRING, 0}},
       {3000, 3000, 3000, 3000, 3000, 0}},
      /* q10's shape: few-valued keys beside a many-valued one */
      {6,
       {{TSR_COL_DICT, 0},
        {TSR_COL_DICT, 0},
        {TSR_COL_STRING, 0},
        {TSR_COL_INT32, 0},
        {TSR_COL_INT32, 0},
        {TSR_COL_INT32, 0}},
       {3, 4, 16, 3, 2, 400}},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    make_aggs(cases[c].nk, aggs, names);
    ref_frame ref;
    tsr_frame *f = NULL;
    make_frame(ctx, cases[c].nk, cases[c].t, cases[c].card, NROWS, 8, 300 + c, &ref, &f);
    int keys[6] = {0, 1, 2, 3, 4, 5};
    check_groupby(f, &ref, cases[c].nk, keys, NAGGS, aggs);
    tsr_frame_destroy(&f);
    ref_frame_free(&ref);
  }
}

static void test_groupby__edge_shapes(void **state) {
  tsr_ctx *ctx = *state;
  tsr_agg aggs[NAGGS];
  char names[NVALS][8];
  make_aggs(1, aggs, names);
  int keys[1] = {0};
  tsr_type kt[1] = {{TSR_COL_INT32, 0}};
  /* zero rows, one row, a single group, all keys null, all values null */
  int64_t sizes[] = {0, 1, 2, 300};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    for (int shape = 0; shape < 3; shape++) {
      ref_frame ref;
      tsr_frame *f = NULL;
      int card = 1;
      make_frame(ctx, 1, kt, &card, sizes[s], shape == 2 ? 100 : 15, 500 + s * 3 + (uint64_t)shape,
                 &ref, &f);
      if (shape == 1) /* every key null: one group of nulls */
        for (int64_t i = 0; i < ref.n; i++)
          ref.cols[0].valid[i] = 0;
      if (shape == 1) {
        tsr_frame_destroy(&f);
        assert_ok(ref_frame_to_frame(ctx, &ref, 64, 9, &f));
      }
      check_groupby(f, &ref, 1, keys, NAGGS, aggs);
      /* no keys: one group of every row (also of none) */
      tsr_agg a0[NAGGS];
      char n0[NVALS][8];
      make_aggs(1, a0, n0); /* value columns keep their names: c1.. */
      check_groupby(f, &ref, 0, keys, NAGGS, a0);
      tsr_frame_destroy(&f);
      ref_frame_free(&ref);
    }
  }
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
    } else {
      for (int64_t r = 0; r < x.n; r++)
        if (x.cols[i].valid[r])
          assert_memory_equal(x.cols[i].values + (size_t)r * w, y.cols[i].values + (size_t)r * w,
                              w);
    }
  }
  ref_frame_free(&x);
  ref_frame_free(&y);
}

static void test_groupby__threads_agree_bitwise(void **state) {
  tsr_ctx *ctx = *state;
  tsr_agg aggs[NAGGS];
  char names[NVALS][8];
  tsr_type kt[2] = {{TSR_COL_STRING, 0}, {TSR_COL_INT32, 0}};
  int card[2] = {20, 0};
  make_aggs(2, aggs, names);
  ref_frame ref;
  tsr_frame *f = NULL;
  make_frame(ctx, 2, kt, card, 3000, 5, 77, &ref, &f);
  /* make many rows per group so float states really merge */
  for (int64_t i = 0; i < ref.n; i++)
    ((int32_t *)ref.cols[1].values)[i] &= 3;
  tsr_frame_destroy(&f);
  assert_ok(ref_frame_to_frame(ctx, &ref, 64, 5, &f));
  const char *keys[2] = {"c0", "c1"};
  tsr_frame *r1 = NULL, *rn = NULL;
  assert_ok(tsr_ctx_set_threads(ctx, 1));
  assert_ok(tsr_frame_groupby(f, 2, keys, NAGGS, aggs, NULL, &r1));
  for (int t = 2; t <= 4; t *= 2) {
    assert_ok(tsr_ctx_set_threads(ctx, t));
    assert_ok(tsr_frame_groupby(f, 2, keys, NAGGS, aggs, NULL, &rn));
    result_equal(r1, rn);
    tsr_frame_destroy(&rn);
  }
  assert_ok(tsr_ctx_set_threads(ctx, 2));
  tsr_frame_destroy(&r1);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

/* Many groups in many chunks: at least 65536 local groups, so the merge
 * runs one partition per hash bucket (every partition combining its
 * groups' states in chunk order); string keys short (compared as their
 * views' words) and long, an int32 key over a range of 30000 beside a
 * bool; checked against the reference, and bitwise across 1, 2, 4 and 8
 * threads.  The third case is the string key without nulls in its last
 * three quarters: those chunks are grouped bucket by bucket
 * (gb_group_str_buckets), the first quarter's chunks, with nulls, by the
 * general coder and grouper, and both must number groups alike. */
static void test_groupby__many_groups(void **state) {
  tsr_ctx *ctx = *state;
  tsr_agg aggs[NAGGS];
  char names[NVALS][8];
  enum { MANY = 80000 };
  for (int c = 0; c < 3; c++) {
    tsr_type kt[2] = {{c != 1 ? TSR_COL_STRING : TSR_COL_INT32, 0}, {TSR_COL_BOOL, 0}};
    int nk = c != 1 ? 1 : 2, card[2] = {30000, 2};
    make_aggs(nk, aggs, names);
    ref_frame ref;
    tsr_frame *f = NULL;
    make_frame(ctx, nk, kt, card, MANY, 3, 900 + (uint64_t)c, &ref, &f);
    if (c != 1) { /* 30000 strings, a third of them inline (at most 12 bytes) */
      uint64_t seed = 17;
      for (int64_t i = 0; i < ref.n; i++) {
        uint64_t k = fu_rand(&seed) % 30000;
        char buf[64];
        snprintf(buf, sizeof buf, k % 3 == 0 ? "k%llu" : "a-longer-key-number-%llu",
                 (unsigned long long)k);
        free(ref.cols[0].str[i]);
        ref.cols[0].str[i] = fu_strdup(buf);
        if (c == 2 && i >= ref.n / 4)
          ref.cols[0].valid[i] = 1;
      }
      tsr_frame_destroy(&f);
      assert_ok(ref_frame_to_frame(ctx, &ref, 64, 31, &f));
    }
    assert_true(tsr_frame_nchunks(f) >= 64);
    int keys[2] = {0, 1};
    check_groupby(f, &ref, nk, keys, NAGGS, aggs);
    const char *kn[2] = {"c0", "c1"};
    tsr_frame *r1 = NULL, *rn = NULL;
    assert_ok(tsr_ctx_set_threads(ctx, 1));
    assert_ok(tsr_frame_groupby(f, nk, kn, NAGGS, aggs, NULL, &r1));
    for (int t = 2; t <= 8; t *= 2) {
      assert_ok(tsr_ctx_set_threads(ctx, t));
      assert_ok(tsr_frame_groupby(f, nk, kn, NAGGS, aggs, NULL, &rn));
      result_equal(r1, rn);
      tsr_frame_destroy(&rn);
    }
    assert_ok(tsr_ctx_set_threads(ctx, 2));
    tsr_frame_destroy(&r1);
    tsr_frame_destroy(&f);
    ref_frame_free(&ref);
  }
}

/* Runs of chunks: 256000 rows in 64 chunks of 4000, grouped (without
 * holistic aggregates) a run of consecutive chunks per task, the run's
 * chunks fed one after the other, where they are, into one set of local
 * groups.  A key of 60000 values, all distinct in the first 60000 rows (so
 * that a run's tables grow well past their first size and its key range
 * past its first chunk's), scrambled after: a string key, half of its
 * values longer than 12 bytes, first without nulls (the bucket path), then
 * with nulls in some chunks only (those runs take the coder and grouper,
 * the others the bucket path); then an int64 key with the same nulls
 * (coded by its range over the whole run: wider than its first
 * chunk's).  Counts, sums and minima of an int64 column with nulls, its
 * first and last values, and a float mean are checked group by group in
 * first-seen order against plain arrays, and bitwise across 1, 2 and 4
 * threads. */
static void test_groupby__runs_of_chunks(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 256000, K = 60000, CHUNK = 4000, NA = 6 };
  for (int c = 0; c < 3; c++) {
    int64_t *off = malloc((N + 1) * sizeof *off), *v = malloc(N * sizeof *v);
    int64_t *ikey = malloc(N * sizeof *ikey);
    char *data = malloc((size_t)N * 24);
    double *w = malloc(N * sizeof *w);
    uint8_t *kvalid = malloc(N / 8), *vvalid = malloc(N / 8);
    int32_t *key = malloc(N * sizeof *key); /* -1: null */
    assert_non_null(off && v && ikey && data && w && kvalid && vvalid && key);
    memset(kvalid, 0xff, N / 8);
    memset(vvalid, 0xff, N / 8);
    off[0] = 0;
    for (int64_t i = 0; i < N; i++) {
      int32_t k = i < K ? (int32_t)i : (int32_t)((i * 7919) % K);
      if (c >= 1 && i % 1009 == 5 && (i / CHUNK) % 3 == 0)
        k = -1;
      key[i] = k;
      ikey[i] = k >= 0 ? (int64_t)k - 30000 : 0;
      int len = 0;
      if (k >= 0)
        len = snprintf(data + off[i], 24, k % 2 ? "long-key-number-%06d" : "k%06d", k);
      else
        kvalid[i / 8] &= (uint8_t) ~(1u << (i % 8));
      off[i + 1] = off[i] + len;
      v[i] = i % 1000 - 500;
      if (i % 97 == 0)
        vvalid[i / 8] &= (uint8_t) ~(1u << (i % 8));
      w[i] = (double)i * 0.25;
    }
    tsr_column_data cd[3] = {
        {.name = "k",
         .type = {TSR_COL_STRING, 0},
         .length = N,
         .offsets = off,
         .data = data,
         .validity = c >= 1 ? kvalid : NULL},
        {.name = "v", .type = {TSR_COL_INT64, 0}, .length = N, .values = v, .validity = vvalid},
        {.name = "w", .type = {TSR_COL_FLOAT64, 0}, .length = N, .values = w},
    };
    if (c == 2)
      cd[0] = (tsr_column_data){
          .name = "k", .type = {TSR_COL_INT64, 0}, .length = N, .values = ikey, .validity = kvalid};
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_from_columns(ctx, 3, cd, CHUNK, TSR_BUFFER_BORROW, NULL, NULL, &f));
    assert_true(tsr_frame_nchunks(f) >= 64);
    /* the reference: group K is null; rank = first-seen position */
    int64_t *cnt = calloc(K + 1, sizeof *cnt), *vc = calloc(K + 1, sizeof *vc);
    int64_t *sum = calloc(K + 1, sizeof *sum), *mn = malloc((K + 1) * sizeof *mn);
    int64_t *firstrow = malloc((K + 1) * sizeof *firstrow),
            *order = malloc((K + 1) * sizeof *order);
    int64_t *lastrow = malloc((K + 1) * sizeof *lastrow);
    double *wsum = calloc(K + 1, sizeof *wsum);
    assert_non_null(cnt && vc && sum && mn && firstrow && lastrow && order && wsum);
    int64_t ng = 0;
    for (int64_t i = 0; i < N; i++) {
      int32_t g = key[i] < 0 ? K : key[i];
      if (cnt[g]++ == 0) {
        firstrow[g] = i;
        order[ng++] = g;
        mn[g] = INT64_MAX;
      }
      lastrow[g] = i;
      wsum[g] += w[i];
      if (i % 97 != 0) {
        vc[g]++;
        sum[g] += v[i];
        mn[g] = v[i] < mn[g] ? v[i] : mn[g];
      }
    }
    const char *keys[1] = {"k"};
    tsr_agg a[NA] = {{.op = TSR_AGG_COUNT_ALL, .name = "n"},
                     {.op = TSR_AGG_SUM, .column = "v", .name = "s"},
                     {.op = TSR_AGG_MIN, .column = "v", .name = "m"},
                     {.op = TSR_AGG_FIRST, .column = "v", .name = "f"},
                     {.op = TSR_AGG_MEAN, .column = "w", .name = "mw"},
                     {.op = TSR_AGG_LAST, .column = "v", .name = "l"}};
    tsr_frame *out = NULL, *o2 = NULL;
    assert_ok(tsr_ctx_set_threads(ctx, 1));
    assert_ok(tsr_frame_groupby(f, 1, keys, NA, a, NULL, &out));
    ref_frame got;
    ref_frame_compute(out, &got);
    assert_int_equal(got.n, ng);
    for (int64_t r = 0; r < ng; r++) {
      int32_t g = (int32_t)order[r];
      if (g == K) {
        assert_false(got.cols[0].valid[r]);
      } else if (c == 2) {
        assert_true(got.cols[0].valid[r]);
        assert_int_equal(((int64_t *)got.cols[0].values)[r], (int64_t)g - 30000);
      } else {
        char want[32];
        snprintf(want, sizeof want, g % 2 ? "long-key-number-%06d" : "k%06d", g);
        assert_true(got.cols[0].valid[r]);
        assert_string_equal(got.cols[0].str[r], want);
      }
      assert_int_equal(((int64_t *)got.cols[1].values)[r], cnt[g]);
      assert_int_equal(got.cols[2].valid[r], vc[g] > 0);
      if (vc[g] > 0) {
        assert_int_equal(((int64_t *)got.cols[2].values)[r], sum[g]);
        assert_int_equal(((int64_t *)got.cols[3].values)[r], mn[g]);
      }
      int64_t fr = firstrow[g], lr = lastrow[g];
      assert_int_equal(got.cols[4].valid[r], fr % 97 != 0);
      if (fr % 97 != 0)
        assert_int_equal(((int64_t *)got.cols[4].values)[r], v[fr]);
      assert_int_equal(got.cols[6].valid[r], lr % 97 != 0);
      if (lr % 97 != 0)
        assert_int_equal(((int64_t *)got.cols[6].values)[r], v[lr]);
      /* quarters of integers: every sum is exact, in any order */
      assert_true(((double *)got.cols[5].values)[r] == wsum[g] / (double)cnt[g]);
    }
    ref_frame_free(&got);
    for (int t = 2; t <= 4; t *= 2) {
      assert_ok(tsr_ctx_set_threads(ctx, t));
      assert_ok(tsr_frame_groupby(f, 1, keys, NA, a, NULL, &o2));
      result_equal(out, o2);
      tsr_frame_destroy(&o2);
    }
    assert_ok(tsr_ctx_set_threads(ctx, 2));
    tsr_frame_destroy(&out);
    tsr_frame_destroy(&f);
    free(cnt), free(vc), free(sum), free(mn), free(firstrow), free(lastrow), free(order);
    free(wsum), free(off), free(v), free(ikey), free(data), free(w), free(kvalid), free(vvalid);
    free(key);
  }
}

/* By hand, DuckDB's answers (checked with @duckdb/node-api). */
/* ---- largest / smallest against a naive reference ------------------------------------- */

/* The reference's order of float64 values: NaN above everything (all NaNs
 * equal), -0.0 equal to 0.0; ties keep row order (the sort is stable). */
static int top_f64_cmp(double a, double b) {
  if (isnan(a) || isnan(b))
    return isnan(a) - isnan(b);
  return a < b ? -1 : a > b;
}

typedef struct top_item {
  double v;
  int64_t row;
} top_item;

static bool top_desc;

static int top_item_cmp(const void *pa, const void *pb) {
  const top_item *a = pa, *b = pb;
  int c = top_f64_cmp(a->v, b->v);
  if (top_desc)
    c = -c;
  return c != 0 ? c : (a->row < b->row ? -1 : a->row > b->row);
}

/* Group g's n best non-null values of col (x or y) into out (row order
 * on ties); returns how many. */
static int64_t top_ref(const ref_group *g, const double *x, const uint8_t *valid, bool largest,
                       int64_t n, top_item *out) {
  int64_t m = 0;
  for (int64_t k = 0; k < g->n; k++) {
    int64_t i = g->rows[k];
    if (valid == NULL || valid[i])
      out[m++] = (top_item){x[i], i};
  }
  top_desc = largest;
  qsort(out, (size_t)m, sizeof *out, top_item_cmp); /* (row breaks ties: stable) */
  return m < n ? m : n;
}

/* largest/smallest n over many small chunks (grouped a run of 16 chunks
 * per task, each local group keeping its n best rows; n = 17 keeps every
 * row): ties (int8 values, -0.0 and 0.0, NaNs of two payloads) resolved by
 * row, nulls skipped, groups of all-null values, few groups (most rows
 * dropped early) and many (most groups smaller than n), two aggregates
 * whose best rows differ; one row per value, the shorter list padded with
 * nulls; against a stable sort per group. */
static void test_groupby__largest_smallest(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 24000, CHUNK = 500 };
  int32_t *key = malloc(N * sizeof *key);
  double *x = malloc(N * sizeof *x), *yd = malloc(N * sizeof *yd);
  int8_t *y = malloc(N);
  uint8_t *xvalid = malloc(N), *xbits = calloc(N / 8 + 1, 1);
  top_item *ta = malloc(N * sizeof *ta), *tb = malloc(N * sizeof *tb);
  assert_non_null(key && x && yd && y && xvalid && xbits && ta && tb);
  double nan2;
  uint64_t nanbits = 0x7ff8000000000abcull;
  memcpy(&nan2, &nanbits, sizeof nan2);
  const double special[8] = {NAN, nan2, -0.0, 0.0, INFINITY, -INFINITY, 1.0, -1.0};
  for (int shape = 0; shape < 2; shape++) {
    int64_t ngroups = shape == 0 ? 60 : 9000;
    uint64_t seed = 77 + (uint64_t)shape;
    for (int64_t i = 0; i < N; i++) {
      uint64_t r = fu_rand(&seed);
      key[i] = (int32_t)(r % (uint64_t)ngroups);
      if (key[i] == 7) /* (group 7: every x null) */
        xvalid[i] = 0;
      else
        xvalid[i] = (r >> 20) % 11 != 0;
      x[i] = (r >> 24) % 4 == 0 ? special[(r >> 28) % 8] : (double)((r >> 32) % 1000) / 8 - 60;
      y[i] = (int8_t)((int)((r >> 44) % 7) - 3);
      yd[i] = y[i];
      if (xvalid[i])
        xbits[i / 8] |= (uint8_t)(1u << (i % 8));
      else
        xbits[i / 8] &= (uint8_t) ~(1u << (i % 8));
    }
    tsr_column_data cd[3] = {
        {.name = "k", .type = {TSR_COL_INT32, 0}, .length = N, .values = key},
        {.name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = N, .values = x, .validity = xbits},
        {.name = "y", .type = {TSR_COL_INT8, 0}, .length = N, .values = y},
    };
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_from_columns(ctx, 3, cd, CHUNK, TSR_BUFFER_BORROW, NULL, NULL, &f));
    ref_frame rf; /* (only the key column, for ref_groupby) */
    memset(&rf, 0, sizeof rf);
    rf.n = N;
    rf.ncols = 1;
    rf.cols = calloc(1, sizeof *rf.cols);
    rf.cols[0].type = (tsr_type){TSR_COL_INT32, 0};
    rf.cols[0].n = N;
    rf.cols[0].values = (unsigned char *)key;
    rf.cols[0].valid = malloc(N);
    memset(rf.cols[0].valid, 1, N);
    int kcol = 0;
    int64_t ng = 0;
    ref_group *g = ref_groupby(&rf, 1, &kcol, false, &ng);
    const int64_t ns[4] = {1, 3, 16, 17};
    for (int t = 0; t < 4; t++) {
      int64_t n = ns[t];
      const char *keys[1] = {"k"};
      tsr_agg a[2] = {{.op = TSR_AGG_LARGEST, .column = "x", .n = n, .name = "a"},
                      {.op = TSR_AGG_SMALLEST, .column = "y", .n = n, .name = "b"}};
      tsr_frame *out = NULL;
      tsr_frame_result *r = NULL;
      assert_ok(tsr_frame_groupby(f, 1, keys, 2, a, NULL, &out));
      assert_ok(tsr_frame_compute(out, NULL, &r));
      int64_t rows = tsr_frame_result_nrows(r);
      int32_t *gk = malloc((size_t)rows * 4 + 4);
      double *ga = malloc((size_t)rows * 8 + 8);
      int8_t *gb = malloc((size_t)rows + 1);
      uint8_t *va = calloc((size_t)rows / 8 + 1, 1), *vb = calloc((size_t)rows / 8 + 1, 1);
      assert_ok(tsr_frame_result_values(r, 0, gk, (size_t)rows * 4, NULL));
      assert_ok(tsr_frame_result_values(r, 1, ga, (size_t)rows * 8, va));
      assert_ok(tsr_frame_result_values(r, 2, gb, (size_t)rows, vb));
      int64_t at = 0;
      for (int64_t q = 0; q < ng; q++) {
        int64_t na = top_ref(&g[q], x, xvalid, true, n, ta);
        int64_t nb = top_ref(&g[q], yd, NULL, false, n, tb);
        int64_t most = na > nb ? na : nb;
        for (int64_t i = 0; i < most; i++, at++) {
          assert_true(at < rows);
          assert_int_equal(gk[at], key[g[q].rows[0]]);
          bool ha = (va[at / 8] >> (at % 8)) & 1, hb = (vb[at / 8] >> (at % 8)) & 1;
          assert_int_equal(ha, i < na);
          assert_int_equal(hb, i < nb);
          if (i < na) /* bitwise: the earliest row's -0.0 or NaN payload */
            assert_memory_equal(&ga[at], &ta[i].v, sizeof(double));
          if (i < nb)
            assert_int_equal(gb[at], (int8_t)tb[i].v);
        }
      }
      assert_int_equal(at, rows);
      free(gk);
      free(ga);
      free(gb);
      free(va);
      free(vb);
      tsr_frame_result_destroy(&r);
      tsr_frame_destroy(&out);
    }
    ref_groups_free(g, ng);
    free(rf.cols[0].valid);
    free(rf.cols);
    tsr_frame_destroy(&f);
  }
  /* no rows: no groups, no rows out; one row: itself */
  for (int64_t rows = 0; rows < 2; rows++) {
    key[0] = 5;
    x[0] = -0.0;
    tsr_column_data cd[2] = {
        {.name = "k", .type = {TSR_COL_INT32, 0}, .length = rows, .values = key},
        {.name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = rows, .values = x},
    };
    tsr_frame *f = NULL, *out = NULL;
    tsr_frame_result *r = NULL;
    assert_ok(tsr_frame_from_columns(ctx, 2, cd, CHUNK, TSR_BUFFER_BORROW, NULL, NULL, &f));
    const char *keys[1] = {"k"};
    tsr_agg a = {.op = TSR_AGG_SMALLEST, .column = "x", .n = 2};
    assert_ok(tsr_frame_groupby(f, 1, keys, 1, &a, NULL, &out));
    assert_ok(tsr_frame_compute(out, NULL, &r));
    assert_int_equal(tsr_frame_result_nrows(r), rows);
    if (rows == 1) {
      double v = 1;
      assert_ok(tsr_frame_result_values(r, 1, &v, sizeof v, NULL));
      assert_true(v == 0.0 && signbit(v));
    }
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&out);
    tsr_frame_destroy(&f);
  }
  free(key);
  free(x);
  free(yd);
  free(y);
  free(xvalid);
  free(xbits);
  free(ta);
  free(tb);
}

static void test_groupby__by_hand(void **state) {
  tsr_ctx *ctx = *state;
  int32_t k[6] = {1, 1, 2, 2, 2, 3};
  double x[6] = {1.0, 0.0, 5.0, -0.0, 3.0, 7.0};
  double y[6] = {2.0, 3.0, 1.0, 4.0, 4.0, 1.0};
  uint8_t xv[1] = {0x3e}; /* row 0 is null */
  tsr_column_data cd[3] = {
      {.name = "k", .type = {TSR_COL_INT32, 0}, .length = 6, .values = k},
      {.name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = 6, .values = x, .validity = xv},
      {.name = "y", .type = {TSR_COL_FLOAT64, 0}, .length = 6, .values = y},
  };
  tsr_frame *f = NULL, *out = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 3, cd, 2, TSR_BUFFER_BORROW, NULL, NULL, &f));
  const char *keys[1] = {"k"};
  tsr_agg a[6] = {{.op = TSR_AGG_COUNT_ALL},
                  {.op = TSR_AGG_SUM, .column = "x"},
                  {.op = TSR_AGG_CORR, .column = "x", .column2 = "y"},
                  {.op = TSR_AGG_MIN, .column = "x"},
                  {.op = TSR_AGG_FIRST, .column = "x"},
                  {.op = TSR_AGG_LARGEST, .column = "x", .n = 2}};
  assert_ok(tsr_frame_groupby(f, 1, keys, 5, a, NULL, &out));
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(out, NULL, &r));
  assert_int_equal(tsr_frame_result_nrows(r), 3);
  assert_string_equal(tsr_frame_result_col_name(r, 1), "count_star()");
  assert_string_equal(tsr_frame_result_col_name(r, 2), "sum(x)");
  assert_string_equal(tsr_frame_result_col_name(r, 3), "corr(x, y)");
  int64_t cnt[3];
  double sum[3], corr[3], mn[3];
  uint8_t cv[1], mv[1];
  assert_ok(tsr_frame_result_values(r, 1, cnt, sizeof cnt, NULL));
  assert_ok(tsr_frame_result_values(r, 2, sum, sizeof sum, NULL));
  assert_ok(tsr_frame_result_values(r, 3, corr, sizeof corr, cv));
  assert_ok(tsr_frame_result_values(r, 4, mn, sizeof mn, mv));
  assert_int_equal(cnt[0], 2);
  assert_int_equal(cnt[1], 3);
  assert_int_equal(cnt[2], 1);
  assert_true(sum[0] == 0.0 && sum[1] == 8.0 && sum[2] == 7.0);
  /* one pair: corr is NaN (0 / 0, as DuckDB 1.5.6 gives); group 2: x = 5, -0, 3 vs y = 1, 4, 4 */
  assert_int_equal(cv[0] & 7, 7);
  assert_true(isnan(corr[0]));
  assert_true(fabs(corr[1] - (-0.8029550685469661)) < 1e-12);
  /* min of 5.0, -0.0, 3.0 is -0.0 (the value, its sign kept) */
  assert_true(mn[1] == 0.0 && signbit(mn[1]));
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&out);
  /* largest 2: one row per value, largest first; group 1 has one value */
  assert_ok(tsr_frame_groupby(f, 1, keys, 1, &a[5], NULL, &out));
  assert_ok(tsr_frame_compute(out, NULL, &r));
  assert_int_equal(tsr_frame_result_nrows(r), 4);
  int32_t kk[4];
  double lv[4];
  assert_ok(tsr_frame_result_values(r, 0, kk, sizeof kk, NULL));
  assert_ok(tsr_frame_result_values(r, 1, lv, sizeof lv, NULL));
  assert_true(kk[0] == 1 && lv[0] == 0.0);
  assert_true(kk[1] == 2 && lv[1] == 5.0 && kk[2] == 2 && lv[2] == 3.0);
  assert_true(kk[3] == 3 && lv[3] == 7.0);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&out);
  /* first keeps the first row's value, null or not: group 1's is null */
  assert_ok(tsr_frame_groupby(f, 1, keys, 1, &a[4], NULL, &out));
  assert_ok(tsr_frame_compute(out, NULL, &r));
  double fv[3];
  uint8_t fvv[1];
  assert_ok(tsr_frame_result_values(r, 1, fv, sizeof fv, fvv));
  assert_int_equal(fvv[0] & 7, 6);
  assert_true(fv[1] == 5.0 && fv[2] == 7.0);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&out);
  tsr_frame_destroy(&f);
}

static void test_groupby__errors(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  tsr_frame *f = NULL, *out = NULL;
  tsr_agg aggs[NAGGS];
  char names[NVALS][8];
  int card = 3;
  tsr_type kt = {TSR_COL_INT32, 0};
  make_frame(ctx, 1, &kt, &card, 100, 5, 9, &ref, &f);
  make_aggs(1, aggs, names);
  const char *keys[1] = {"c0"}, *bad[1] = {"nope"};
  tsr_agg sum_str = {.op = TSR_AGG_SUM, .column = "c3"};
  assert_fails(tsr_frame_groupby(f, 1, bad, 1, aggs, NULL, &out), TSR_EINVAL, "nope");
  tsr_agg unknown = {.op = TSR_AGG_SUM, .column = "missing"};
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, &unknown, NULL, &out), TSR_EINVAL, "missing");
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, &sum_str, NULL, &out), TSR_EDTYPE, "sum");
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, &sum_str, NULL, &out), TSR_EDTYPE, "'c3'");
  tsr_agg any_int = {.op = TSR_AGG_ANY, .column = "c1"};
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, &any_int, NULL, &out), TSR_EDTYPE, "bool");
  assert_fails(tsr_frame_groupby(f, -1, keys, 1, aggs, NULL, &out), TSR_EINVAL, "nkeys");
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, NULL, NULL, &out), TSR_EINVAL, "naggs");
  assert_fails(tsr_frame_groupby(f, 0, NULL, 0, NULL, NULL, &out), TSR_EINVAL, "no keys");
  tsr_agg twice[2] = {{.op = TSR_AGG_SUM, .column = "c1"}, {.op = TSR_AGG_SUM, .column = "c1"}};
  assert_fails(tsr_frame_groupby(f, 1, keys, 2, twice, NULL, &out), TSR_EINVAL, "sum(c1)");
  tsr_agg named_as_key = {.op = TSR_AGG_SUM, .column = "c1", .name = "c0"};
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, &named_as_key, NULL, &out), TSR_EINVAL, "'c0'");
  tsr_agg mixed[2] = {{.op = TSR_AGG_LARGEST, .column = "c1", .n = 2},
                      {.op = TSR_AGG_SUM, .column = "c1"}};
  assert_fails(tsr_frame_groupby(f, 1, keys, 2, mixed, NULL, &out), TSR_EINVAL, "largest");
  tsr_agg badq = {.op = TSR_AGG_QUANTILE, .column = "c2", .q = 1.5};
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, &badq, NULL, &out), TSR_EINVAL, "q = 1.5");
  tsr_agg badop = {.op = (tsr_agg_op)99, .column = "c1"};
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, &badop, NULL, &out), TSR_EINVAL, "tsr_agg_op");
  tsr_agg nocol = {.op = TSR_AGG_MIN, .column = NULL};
  assert_fails(tsr_frame_groupby(f, 1, keys, 1, &nocol, NULL, &out), TSR_EINVAL, "needs a column");
  assert_null(out);
  assert_string_equal(tsr_agg_op_name(TSR_AGG_COUNT_ALL), "count_star");
  /* DuckDB's names: the shortest q */
  tsr_agg qn[2] = {{.op = TSR_AGG_QUANTILE, .column = "c2", .q = 0.1},
                   {.op = TSR_AGG_VAR, .column = "c2", .ddof = 0}};
  tsr_frame *qo = NULL;
  assert_ok(tsr_frame_groupby(f, 1, keys, 2, qn, NULL, &qo));
  assert_string_equal(tsr_frame_col_name(qo, 1), "quantile_cont(c2, 0.1)");
  assert_string_equal(tsr_frame_col_name(qo, 2), "var_pop(c2)");
  tsr_frame_destroy(&qo);
  assert_string_equal(tsr_agg_op_name(TSR_AGG_SMALLEST), "smallest");
  assert_string_equal(tsr_agg_op_name(TSR_NUM_AGG_OPS), "invalid");
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
  /* integer sums that overflow int64 */
  int64_t big[3] = {INT64_MAX, 1, 5};
  int32_t kk[3] = {0, 0, 1};
  tsr_column_data cd[2] = {{.name = "k", .type = {TSR_COL_INT32, 0}, .length = 3, .values = kk},
                           {.name = "v", .type = {TSR_COL_INT64, 0}, .length = 3, .values = big}};
  assert_ok(tsr_frame_from_columns(ctx, 2, cd, 1, TSR_BUFFER_BORROW, NULL, NULL, &f));
  tsr_agg s = {.op = TSR_AGG_SUM, .column = "v"};
  const char *k1[1] = {"k"};
  assert_fails(tsr_frame_groupby(f, 1, k1, 1, &s, NULL, &out), TSR_EOVERFLOW, "sum(v)");
  tsr_frame_destroy(&f);
}

/* Lazy inputs run fused into the group-by's tasks: a filter plus an
 * assigned column, and a CSV file read lazily. */
static void test_groupby__lazy_input(void **state) {
  tsr_ctx *ctx = *state;
  tsr_agg aggs[NAGGS];
  char names[NVALS][8];
  tsr_type kt[2] = {{TSR_COL_STRING, 0}, {TSR_COL_INT32, 0}};
  int card[2] = {12, 5};
  make_aggs(2, aggs, names);
  ref_frame ref;
  tsr_frame *f = NULL, *flt = NULL, *lazy = NULL, *csv = NULL;
  make_frame(ctx, 2, kt, card, NROWS, 10, 4242, &ref, &f);
  assert_ok(tsr_frame_filter(f, "c2 > 0", &flt));
  assert_ok(tsr_frame_assign(flt, "c1", "c1 * 3 + 1", &lazy));
  ref_frame got;
  ref_frame_compute(lazy, &got);
  int keys[2] = {0, 1};
  check_groupby(lazy, &got, 2, keys, NAGGS, aggs);
  /* the same rows through a CSV file */
  char path[256], schema[512] = "";
  snprintf(path, sizeof path, "/tmp/tsr_groupby_%d.csv", (int)getpid());
  assert_ok(tsr_frame_write_csv(lazy, path, ',', true, NULL));
  for (int i = 0; i < tsr_frame_ncols(lazy); i++) {
    size_t len = strlen(schema);
    snprintf(schema + len, sizeof schema - len, "%s%s:%s", i ? "," : "",
             tsr_frame_col_name(lazy, i), tsr_type_name(tsr_frame_col_type(lazy, i)));
  }
  tsr_csv_options o = {0};
  o.schema = schema;
  o.header = TSR_CSV_HEADER_YES;
  o.block_bytes = 4096; /* many chunks */
  o.dict_max = -1;
  assert_ok(tsr_frame_read_csv(ctx, path, &o, &csv));
  ref_frame got2;
  ref_frame_compute(csv, &got2);
  check_groupby(csv, &got2, 2, keys, NAGGS, aggs);
  unlink(path);
  ref_frame_free(&got2);
  ref_frame_free(&got);
  tsr_frame_destroy(&csv);
  tsr_frame_destroy(&lazy);
  tsr_frame_destroy(&flt);
  tsr_frame_destroy(&f);
  ref_frame_free(&ref);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_groupby__every_key_type, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby__several_keys, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby__edge_shapes, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby__threads_agree_bitwise, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby__many_groups, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby__runs_of_chunks, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby__lazy_input, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby__largest_smallest, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby__by_hand, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_groupby__errors, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
