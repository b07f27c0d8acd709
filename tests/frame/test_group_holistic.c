/* test_group_holistic.c — the group-by's holistic aggregates (quantiles,
 * nunique, largest/smallest n) against a naive per-group reference written
 * here (each group's non-null values collected in row order, sorted with
 * qsort and a comparator, quantiles interpolated by hand), over random
 * group ids in at least 64 ragged chunks (empty and one-row chunks among
 * them) with nulls, NaN of both signs, -0.0 and infinities, for every
 * column type; and the results bitwise identical for other chunkings,
 * other scatter and piece orders, several threads, and values given as
 * runs of one group or with skipped rows (as under MPI). */
#include <math.h>
#include <stdlib.h>

#include <omp.h>

#include "test_util.h"

#include "core/order.h"
#include "frame/group_holistic.h"

static uint64_t rnd(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* ---- a data set: rows with a group id, validity and a value ------------------------ */

static const char *const words[] = {"a", "b", "", "pear", "a-rather-long-string-1",
                                    "a-rather-long-string-2", "zz", "a-rather-long-string-1x"};

typedef struct dataset {
  tsr_type type;
  int64_t n, ngroups;
  uint32_t *gid;
  uint8_t *valid;
  unsigned char *vals; /* n x width (strings: unused) */
  const char **str;    /* strings: each row's text */
} dataset;

static void random_value(tsr_type t, uint64_t *s, void *dst) {
  uint64_t r = rnd(s);
  switch (t.id) {
  case TSR_COL_FLOAT64:
  case TSR_COL_FLOAT32: {
    double d;
    switch (r % 10) {
    case 0:
      d = (r >> 8) & 1 ? NAN : -NAN;
      break;
    case 1:
      d = (r >> 8) & 1 ? 0.0 : -0.0;
      break;
    case 2:
      d = (r >> 8) & 1 ? INFINITY : -INFINITY;
      break;
    case 3:
      d = (r >> 8) & 1 ? 1e300 : -1e300;
      break;
    default:
      d = (double)((int64_t)(r >> 16) % 2000 - 1000) / 8;
      break;
    }
    if (t.id == TSR_COL_FLOAT32) {
      float f = (float)d;
      memcpy(dst, &f, 4);
    } else {
      memcpy(dst, &d, 8);
    }
    break;
  }
  case TSR_COL_BOOL:
    *(uint8_t *)dst = (uint8_t)(r & 1);
    break;
  case TSR_COL_INT8:
    *(int8_t *)dst = (int8_t)(r % 256 - 128);
    break;
  case TSR_COL_INT32:
    *(int32_t *)dst = (r >> 8) % 4 == 0 ? ((r >> 12) & 1 ? INT32_MIN : INT32_MAX)
                                        : (int32_t)(r % 301) - 150;
    break;
  case TSR_COL_DICT:
    *(int32_t *)dst = (int32_t)(r % 40);
    break;
  case TSR_COL_DATE:
    *(int32_t *)dst = (int32_t)(r % 40000) - 20000;
    break;
  case TSR_COL_INT64:
  case TSR_COL_TIMESTAMP:
    *(int64_t *)dst = (r >> 8) % 4 == 0 ? (int64_t)rnd(s) : (int64_t)(r % 1001) - 500;
    break;
  case TSR_COL_UINT64:
    *(uint64_t *)dst = (r >> 8) % 4 == 0 ? rnd(s) : r % 1001;
    break;
  default:
    break;
  }
}

static void dataset_make(dataset *d, tsr_type t, int64_t n, int64_t ngroups, uint64_t seed) {
  memset(d, 0, sizeof *d);
  d->type = t;
  d->n = n;
  d->ngroups = ngroups;
  size_t w = t.id == TSR_COL_STRING ? 1 : tsr_type_width(t);
  d->gid = malloc((size_t)(n ? n : 1) * sizeof(uint32_t));
  d->valid = malloc((size_t)(n ? n : 1));
  d->vals = calloc((size_t)(n ? n : 1), w);
  d->str = calloc((size_t)(n ? n : 1), sizeof(char *));
  uint64_t s = seed;
  /* the last group (when more than one) gets no rows; the one before only nulls */
  int64_t used = ngroups > 2 ? ngroups - 1 : ngroups;
  for (int64_t i = 0; i < n; i++) {
    uint64_t r = rnd(&s);
    /* skewed: half the rows in the first eighth of the groups */
    int64_t g = (r & 1) ? (int64_t)((r >> 1) % (uint64_t)used)
                        : (int64_t)((r >> 1) % (uint64_t)(used / 8 + 1));
    d->gid[i] = (uint32_t)g;
    d->valid[i] = (r >> 40) % 5 != 0 && !(ngroups > 2 && g == ngroups - 2);
    if (t.id == TSR_COL_STRING)
      d->str[i] = words[rnd(&s) % 8];
    else
      random_value(t, &s, d->vals + (size_t)i * w);
  }
}

static void dataset_free(dataset *d) {
  free(d->gid);
  free(d->valid);
  free(d->vals);
  free(d->str);
}

/* Chunks over the data set: cut points given; each chunk has its own
 * validity bitmap (and for strings views and a data buffer). */
typedef struct chunked {
  int64_t nchunks;
  tsr__hol_chunk *ch;
  uint8_t **bits;
  tsr_string_view **views;
  char **data;
} chunked;

static void chunked_make(chunked *c, const dataset *d, int64_t nchunks, const int64_t *start) {
  c->nchunks = nchunks;
  c->ch = calloc((size_t)nchunks, sizeof *c->ch);
  c->bits = calloc((size_t)nchunks, sizeof *c->bits);
  c->views = calloc((size_t)nchunks, sizeof *c->views);
  c->data = calloc((size_t)nchunks, sizeof *c->data);
  size_t w = d->type.id == TSR_COL_STRING ? 16 : tsr_type_width(d->type);
  for (int64_t k = 0; k < nchunks; k++) {
    int64_t a = start[k], b = start[k + 1], rows = b - a;
    tsr__hol_chunk *ch = &c->ch[k];
    ch->rows = rows;
    ch->gid = d->gid + a;
    ch->col.rows = rows;
    c->bits[k] = calloc((size_t)(rows + 8) / 8, 1);
    for (int64_t i = 0; i < rows; i++) {
      if (d->valid[a + i])
        c->bits[k][i / 8] |= (uint8_t)(1u << (i % 8));
      else
        ch->col.null_count++;
    }
    ch->col.validity = ch->col.null_count ? c->bits[k] : NULL;
    if (d->type.id == TSR_COL_STRING) {
      size_t nr = rows > 0 ? (size_t)rows : 1;
      c->views[k] = calloc(nr, 16);
      c->data[k] = malloc(nr * 32);
      uint32_t off = 0;
      for (int64_t i = 0; i < rows; i++) {
        const char *s = d->str[a + i];
        tsr_string_view *v = &c->views[k][i];
        v->length = (uint32_t)strlen(s);
        if (v->length <= 12) {
          memcpy(v->u.inline_data, s, v->length);
        } else {
          memcpy(v->u.ref.prefix, s, 4);
          v->u.ref.offset = off;
          memcpy(c->data[k] + off, s, v->length);
          off += v->length;
        }
      }
      ch->col.values = c->views[k];
      ch->col.data = c->data[k];
    } else {
      ch->col.values = d->vals + (size_t)a * w;
    }
  }
}

static void chunked_free(chunked *c) {
  for (int64_t k = 0; k < c->nchunks; k++) {
    free(c->bits[k]);
    free(c->views[k]);
    free(c->data[k]);
  }
  free(c->ch);
  free(c->bits);
  free(c->views);
  free(c->data);
}

/* Ragged cut points: nchunks chunks, some empty, some of one row. */
static int64_t *ragged_starts(int64_t n, int64_t nchunks, uint64_t *s) {
  int64_t *st = malloc((size_t)(nchunks + 1) * sizeof(int64_t));
  st[0] = 0;
  st[nchunks] = n;
  for (int64_t k = 1; k < nchunks; k++)
    st[k] = (int64_t)(rnd(s) % (uint64_t)(n + 1));
  /* sort the inner cut points */
  for (int64_t k = 2; k < nchunks; k++)
    for (int64_t j = k; j > 1 && st[j - 1] > st[j]; j--) {
      int64_t t = st[j];
      st[j] = st[j - 1];
      st[j - 1] = t;
    }
  if (nchunks > 3 && n > 2) { /* an empty chunk and a one-row chunk */
    st[2] = st[1];
    if (st[3] > st[2])
      st[3] = st[2] + 1;
  }
  return st;
}

/* ---- the reference ------------------------------------------------------------------- */

static double num_of(tsr_type t, const void *p) {
  switch (t.id) {
  case TSR_COL_BOOL:
    return *(const uint8_t *)p;
  case TSR_COL_INT8:
    return *(const int8_t *)p;
  case TSR_COL_INT32:
  case TSR_COL_DICT:
  case TSR_COL_DATE:
    return *(const int32_t *)p;
  case TSR_COL_INT64:
  case TSR_COL_TIMESTAMP:
    return (double)*(const int64_t *)p;
  case TSR_COL_UINT64:
    return (double)*(const uint64_t *)p;
  case TSR_COL_FLOAT32:
    return *(const float *)p;
  default:
    return *(const double *)p;
  }
}

static tsr_type cmp_type; /* qsort's comparators read it */
static const dataset *cmp_data;

/* Value order: NaN above everything and equal to NaN; -0.0 == 0.0; strings by bytes. */
static int value_cmp(int64_t a, int64_t b) {
  const dataset *d = cmp_data;
  tsr_type t = cmp_type;
  if (t.id == TSR_COL_STRING)
    return strcmp(d->str[a], d->str[b]) < 0 ? -1 : strcmp(d->str[a], d->str[b]) > 0;
  size_t w = tsr_type_width(t);
  const void *pa = d->vals + (size_t)a * w, *pb = d->vals + (size_t)b * w;
  if (t.id == TSR_COL_INT64 || t.id == TSR_COL_TIMESTAMP) {
    int64_t x = *(const int64_t *)pa, y = *(const int64_t *)pb;
    return (x > y) - (x < y);
  }
  if (t.id == TSR_COL_UINT64) {
    uint64_t x = *(const uint64_t *)pa, y = *(const uint64_t *)pb;
    return (x > y) - (x < y);
  }
  double x = num_of(t, pa), y = num_of(t, pb);
  bool nx = x != x, ny = y != y;
  if (nx || ny)
    return nx - ny;
  return (x > y) - (x < y);
}
static int row_cmp_asc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  int c = value_cmp(x, y);
  return c ? c : (x > y) - (x < y); /* ties in row order */
}
static int row_cmp_desc(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  int c = value_cmp(y, x);
  return c ? c : (x > y) - (x < y);
}

/* Rows of group g with a non-null value, in row order. */
static int64_t group_rows(const dataset *d, int64_t g, int64_t *rows) {
  int64_t m = 0;
  for (int64_t i = 0; i < d->n; i++)
    if (d->gid[i] == (uint32_t)g && d->valid[i])
      rows[m++] = i;
  return m;
}

/* Group index lists computed once (the naive group_rows per group is
 * O(n x groups)). */
typedef struct groups_ref {
  int64_t *start; /* ngroups + 1 */
  int64_t *rows;
} groups_ref;

static void groups_ref_make(groups_ref *r, const dataset *d) {
  r->start = calloc((size_t)d->ngroups + 1, sizeof(int64_t));
  r->rows = malloc((size_t)(d->n ? d->n : 1) * sizeof(int64_t));
  for (int64_t i = 0; i < d->n; i++)
    if (d->valid[i])
      r->start[d->gid[i] + 1]++;
  for (int64_t g = 0; g < d->ngroups; g++)
    r->start[g + 1] += r->start[g];
  int64_t *pos = malloc((size_t)(d->ngroups ? d->ngroups : 1) * sizeof(int64_t));
  memcpy(pos, r->start, (size_t)d->ngroups * sizeof(int64_t));
  for (int64_t i = 0; i < d->n; i++)
    if (d->valid[i])
      r->rows[pos[d->gid[i]]++] = i;
  free(pos);
}

static bool same_bits_or_zero(const void *a, const void *b, size_t w, bool is_float) {
  if (memcmp(a, b, w) == 0)
    return true;
  if (!is_float)
    return false;
  double x = w == 4 ? *(const float *)a : *(const double *)a;
  double y = w == 4 ? *(const float *)b : *(const double *)b;
  return (x == 0 && y == 0) || (x != x && y != y);
}

/* Checks one holistic result against the reference; returns mismatches. */
static int check_result(const dataset *d, const groups_ref *gr, const tsr__hol_spec *sp,
                        const tsr__hol_result *r) {
  int bad = 0;
  cmp_type = d->type;
  cmp_data = d;
  int64_t *rows = malloc((size_t)(d->n ? d->n : 1) * sizeof(int64_t));
  size_t w = d->type.id == TSR_COL_STRING ? 16 : tsr_type_width(d->type);
  bad += r->ngroups != d->ngroups;
  for (int64_t g = 0; g < d->ngroups; g++) {
    int64_t m = gr->start[g + 1] - gr->start[g];
    memcpy(rows, gr->rows + gr->start[g], (size_t)m * sizeof(int64_t));
    if (g < 3 || g == d->ngroups - 1) /* the plain scan agrees with the index */
      bad += group_rows(d, g, rows) != m;
    switch (sp->kind) {
    case TSR__HOL_QUANTILE: {
      bool valid = !r->validity || ((r->validity[g / 8] >> (g % 8)) & 1);
      bad += valid != (m > 0);
      if (m == 0)
        break;
      qsort(rows, (size_t)m, sizeof(int64_t), row_cmp_asc);
      for (int j = 0; j < sp->nq; j++) {
        double rn = (double)(m - 1) * sp->q[j];
        int64_t lo = (int64_t)floor(rn), hi = (int64_t)ceil(rn);
        double dd = rn - floor(rn);
        const void *plo = d->vals + (size_t)rows[lo] * w, *phi = d->vals + (size_t)rows[hi] * w;
        if (d->type.id == TSR_COL_DATE || d->type.id == TSR_COL_TIMESTAMP) {
          int64_t a = d->type.id == TSR_COL_DATE ? (int64_t) * (const int32_t *)plo * 86400000000
                                                 : *(const int64_t *)plo;
          int64_t b = d->type.id == TSR_COL_DATE ? (int64_t) * (const int32_t *)phi * 86400000000
                                                 : *(const int64_t *)phi;
          int64_t e = lo == hi ? a : llround((double)a * (1 - dd) + (double)b * dd);
          bad += ((const int64_t *)r->quantiles[j])[g] != e;
        } else if (d->type.id == TSR_COL_FLOAT32) {
          float a = *(const float *)plo, b = *(const float *)phi;
          float e = lo == hi ? a : a + (float)((double)(b - a) * dd);
          bad += !same_bits_or_zero(&((const float *)r->quantiles[j])[g], &e, 4, true);
        } else {
          double a = num_of(d->type, plo), b = num_of(d->type, phi);
          double e = lo == hi ? a : a * (1 - dd) + b * dd;
          bad += !same_bits_or_zero(&((const double *)r->quantiles[j])[g], &e, 8, true);
        }
      }
      break;
    }
    case TSR__HOL_NUNIQUE: {
      qsort(rows, (size_t)m, sizeof(int64_t), row_cmp_asc);
      int64_t c = m > 0;
      for (int64_t i = 1; i < m; i++)
        c += value_cmp(rows[i - 1], rows[i]) != 0;
      bad += r->nunique[g] != c;
      break;
    }
    default: {
      qsort(rows, (size_t)m, sizeof(int64_t),
            sp->kind == TSR__HOL_LARGEST ? row_cmp_desc : row_cmp_asc);
      int64_t k = m < sp->n ? m : sp->n;
      bad += r->offsets[g + 1] - r->offsets[g] != k;
      if (r->offsets[g + 1] - r->offsets[g] != k)
        break;
      for (int64_t i = 0; i < k; i++) {
        const unsigned char *got = (const unsigned char *)r->values + (size_t)(r->offsets[g] + i) * w;
        if (d->type.id == TSR_COL_STRING) {
          const tsr_string_view *v = (const tsr_string_view *)got;
          const char *p = v->length <= 12 ? v->u.inline_data : r->data + v->u.ref.offset;
          bad += v->length != strlen(d->str[rows[i]]) || memcmp(p, d->str[rows[i]], v->length);
          if (v->length > 12)
            bad += (int64_t)v->u.ref.offset + v->length > r->data_bytes ||
                   memcmp(v->u.ref.prefix, p, 4);
        } else {
          bad += memcmp(got, d->vals + (size_t)rows[i] * w, w) != 0; /* the row's own bits */
        }
      }
      break;
    }
    }
  }
  free(rows);
  return bad;
}

/* ---- running ------------------------------------------------------------------------- */

/* order: 0 in order, 1 reversed scatters and pieces, 2 OpenMP (4 threads). */
static tsr_status run_hol(tsr_ctx *ctx, const tsr__hol_spec *sp, const chunked *c,
                          int64_t ngroups, int order, tsr__hol **h, tsr__hol_result *r) {
  TSR_TRY(tsr__hol_create(ctx, sp, c->nchunks, ngroups, h));
  if (order == 0)
    return tsr__hol_run(*h, c->ch, r);
  int64_t np = tsr__hol_npieces(*h);
  if (order == 1) {
    for (int64_t k = c->nchunks; k-- > 0;)
      TSR_TRY(tsr__hol_scatter(*h, k, &c->ch[k]));
    for (int64_t p = np; p-- > 0;)
      TSR_TRY(tsr__hol_piece(*h, p));
    return tsr__hol_finish(*h, r);
  }
  tsr_status first = TSR_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(4)
  for (int64_t k = 0; k < c->nchunks; k++) {
    tsr_status st = tsr__hol_scatter(*h, k, &c->ch[k]);
    if (st != TSR_OK) {
#pragma omp critical
      first = first ? first : st;
    }
  }
  if (first)
    return first;
#pragma omp parallel for schedule(dynamic, 1) num_threads(4)
  for (int64_t p = 0; p < np; p++) {
    tsr_status st = tsr__hol_piece(*h, p);
    if (st != TSR_OK) {
#pragma omp critical
      first = first ? first : st;
    }
  }
  if (first)
    return first;
  return tsr__hol_finish(*h, r);
}

/* Whether two results are bitwise the same. */
static bool same_result(const tsr__hol_spec *sp, const tsr__hol_result *a, const tsr__hol_result *b,
                        tsr_type ctype) {
  if (a->ngroups != b->ngroups || a->null_count != b->null_count)
    return false;
  int64_t ng = a->ngroups;
  switch (sp->kind) {
  case TSR__HOL_QUANTILE:
    for (int j = 0; j < sp->nq; j++)
      if (memcmp(a->quantiles[j], b->quantiles[j], (size_t)ng * tsr_type_width(a->type)))
        return false;
    if ((a->validity == NULL) != (b->validity == NULL) ||
        (a->validity && memcmp(a->validity, b->validity, (size_t)(ng + 7) / 8)))
      return false;
    return true;
  case TSR__HOL_NUNIQUE:
    return memcmp(a->nunique, b->nunique, (size_t)ng * 8) == 0;
  default:
    if (memcmp(a->offsets, b->offsets, (size_t)(ng + 1) * 8))
      return false;
    if (ctype.id != TSR_COL_STRING)
      return memcmp(a->values, b->values, (size_t)a->offsets[ng] * tsr_type_width(ctype)) == 0;
    for (int64_t i = 0; i < a->offsets[ng]; i++) {
      const tsr_string_view *x = (const tsr_string_view *)a->values + i;
      const tsr_string_view *y = (const tsr_string_view *)b->values + i;
      const char *px = x->length <= 12 ? x->u.inline_data : a->data + x->u.ref.offset;
      const char *py = y->length <= 12 ? y->u.inline_data : b->data + y->u.ref.offset;
      if (x->length != y->length || memcmp(px, py, x->length))
        return false;
    }
    return true;
  }
}

static const tsr_type all_types[] = {
    {TSR_COL_FLOAT64, 0}, {TSR_COL_FLOAT32, 0}, {TSR_COL_INT32, 0},  {TSR_COL_INT64, 0},
    {TSR_COL_UINT64, 0},  {TSR_COL_INT8, 0},    {TSR_COL_BOOL, 0},   {TSR_COL_DATE, 0},
    {TSR_COL_TIMESTAMP, TSR_TIME_US}, {TSR_COL_DICT, 0}, {TSR_COL_STRING, 0}};

static bool quantile_ok(tsr_type t) {
  return t.id != TSR_COL_BOOL && t.id != TSR_COL_STRING && t.id != TSR_COL_DICT;
}

static void test_group_holistic__every_type_matches_the_reference(void **state) {
  tsr_ctx *ctx = *state;
  const int64_t ngroups_list[] = {1, 3, 37, 1000};
  uint64_t s = 101;
  double qs[] = {0.5, 0.1, 0.9, 0.0, 1.0, 0.5, 0.333};
  for (size_t ti = 0; ti < sizeof all_types / sizeof *all_types; ti++) {
    tsr_type t = all_types[ti];
    for (size_t gi = 0; gi < sizeof ngroups_list / sizeof *ngroups_list; gi++) {
      int64_t ng = ngroups_list[gi];
      int64_t n = ng == 1 ? 300 : 6000;
      dataset d;
      dataset_make(&d, t, n, ng, rnd(&s));
      groups_ref gr;
      groups_ref_make(&gr, &d);
      int64_t nchunks = 64 + (int64_t)(rnd(&s) % 40);
      int64_t *st = ragged_starts(n, nchunks, &s);
      chunked c;
      chunked_make(&c, &d, nchunks, st);
      for (int kind = 0; kind < 4; kind++) {
        tsr__hol_spec sp = {(tsr__hol_kind)kind, t, 7, qs, kind == 2 ? 3 : 70};
        if (kind == 0 && !quantile_ok(t))
          continue;
        tsr__hol *h = NULL;
        tsr__hol_result r;
        assert_ok(run_hol(ctx, &sp, &c, ng, 0, &h, &r));
        int bad = check_result(&d, &gr, &sp, &r);
        if (bad)
          print_error("type %s, %lld groups, kind %d: %d mismatches\n", tsr_type_name(t),
                      (long long)ng, kind, bad);
        assert_int_equal(bad, 0);
        tsr__hol_destroy(&h);
      }
      chunked_free(&c);
      free(st);
      free(gr.start);
      free(gr.rows);
      dataset_free(&d);
    }
  }
}

static void test_group_holistic__same_result_for_any_split(void **state) {
  tsr_ctx *ctx = *state;
  uint64_t s = 202;
  double qs[] = {0.5, 0.25, 0.75};
  const tsr_type types[] = {{TSR_COL_FLOAT64, 0}, {TSR_COL_STRING, 0}, {TSR_COL_INT32, 0}};
  for (size_t ti = 0; ti < 3; ti++) {
    tsr_type t = types[ti];
    int64_t n = 20000, ng = 3000; /* several pieces */
    dataset d;
    dataset_make(&d, t, n, ng, rnd(&s));
    int64_t *st1 = ragged_starts(n, 97, &s), *st2 = ragged_starts(n, 64, &s);
    int64_t st3[2] = {0, n};
    chunked c1, c2, c3;
    chunked_make(&c1, &d, 97, st1);
    chunked_make(&c2, &d, 64, st2);
    chunked_make(&c3, &d, 1, st3);
    for (int kind = 0; kind < 4; kind++) {
      if (kind == 0 && !quantile_ok(t))
        continue;
      tsr__hol_spec sp = {(tsr__hol_kind)kind, t, 3, qs, kind == 2 ? 2 : 5};
      tsr__hol *h0 = NULL, *h = NULL;
      tsr__hol_result r0, r;
      assert_ok(run_hol(ctx, &sp, &c1, ng, 0, &h0, &r0));
      assert_true(tsr__hol_npieces(h0) > 8);
      const chunked *cs[4] = {&c1, &c2, &c3, &c2};
      const int orders[4] = {2, 1, 0, 2};
      for (int v = 0; v < 4; v++) {
        assert_ok(run_hol(ctx, &sp, cs[v], ng, orders[v], &h, &r));
        assert_true(same_result(&sp, &r0, &r, t));
        tsr__hol_destroy(&h);
      }
      tsr__hol_destroy(&h0);
    }
    chunked_free(&c1);
    chunked_free(&c2);
    chunked_free(&c3);
    free(st1);
    free(st2);
    dataset_free(&d);
  }
}

static void test_group_holistic__empty_inputs_and_errors(void **state) {
  tsr_ctx *ctx = *state;
  double q = 0.5;
  /* no chunks, no groups */
  tsr__hol_spec sp = {TSR__HOL_QUANTILE, {TSR_COL_FLOAT64, 0}, 1, &q, 0};
  tsr__hol *h = NULL;
  tsr__hol_result r;
  assert_ok(tsr__hol_create(ctx, &sp, 0, 0, &h));
  assert_ok(tsr__hol_run(h, NULL, &r));
  assert_int_equal(r.ngroups, 0);
  tsr__hol_destroy(&h);
  /* groups but no rows: every quantile null, nunique 0, no top rows */
  assert_ok(tsr__hol_create(ctx, &sp, 0, 5, &h));
  assert_ok(tsr__hol_run(h, NULL, &r));
  assert_int_equal(r.null_count, 5);
  assert_non_null(r.validity);
  assert_int_equal(r.validity[0] & 0x1f, 0);
  tsr__hol_destroy(&h);
  sp.kind = TSR__HOL_SMALLEST;
  sp.n = 2;
  assert_ok(tsr__hol_create(ctx, &sp, 0, 5, &h));
  assert_ok(tsr__hol_run(h, NULL, &r));
  assert_int_equal(r.offsets[5], 0);
  tsr__hol_destroy(&h);
  /* by hand: groups 0 1 0 1 0 with values 3 NaN -0.0 1 null */
  uint32_t gid[5] = {0, 1, 0, 1, 0};
  double v[5] = {3, NAN, -0.0, 1, 7};
  uint8_t bits = 0x0f;
  tsr__hol_chunk ch = {5, gid, {5, 1, v, &bits, NULL, 0}};
  double qq[2] = {0.5, 1.0};
  sp = (tsr__hol_spec){TSR__HOL_QUANTILE, {TSR_COL_FLOAT64, 0}, 2, qq, 0};
  assert_ok(tsr__hol_create(ctx, &sp, 1, 2, &h));
  assert_ok(tsr__hol_run(h, &ch, &r));
  assert_true(((double *)r.quantiles[0])[0] == 1.5 && ((double *)r.quantiles[1])[0] == 3);
  assert_true(((double *)r.quantiles[0])[1] != ((double *)r.quantiles[0])[1]); /* (1 + NaN) / 2 */
  assert_int_equal(r.null_count, 0);
  assert_null(r.validity);
  tsr__hol_destroy(&h);
  sp.kind = TSR__HOL_LARGEST;
  sp.n = 1;
  assert_ok(tsr__hol_create(ctx, &sp, 1, 2, &h));
  assert_ok(tsr__hol_run(h, &ch, &r));
  assert_true(r.offsets[1] == 1 && r.offsets[2] == 2);
  assert_true(((double *)r.values)[0] == 3);
  assert_true(((double *)r.values)[1] != ((double *)r.values)[1]); /* NaN is the largest */
  tsr__hol_destroy(&h);
  /* errors */
  sp.kind = TSR__HOL_QUANTILE;
  sp.type = (tsr_type){TSR_COL_STRING, 0};
  assert_fails(tsr__hol_create(ctx, &sp, 1, 2, &h), TSR_EDTYPE, "string");
  assert_null(h);
  sp.type = (tsr_type){TSR_COL_FLOAT64, 0};
  qq[1] = 1.5;
  assert_fails(tsr__hol_create(ctx, &sp, 1, 2, &h), TSR_EINVAL, "1.5");
  qq[1] = NAN;
  assert_fails(tsr__hol_create(ctx, &sp, 1, 2, &h), TSR_EINVAL, "q = ");
  sp.kind = TSR__HOL_LARGEST;
  sp.n = 0;
  assert_fails(tsr__hol_create(ctx, &sp, 1, 2, &h), TSR_EINVAL, "n = 0");
  sp.kind = TSR__HOL_NUNIQUE;
  assert_ok(tsr__hol_create(ctx, &sp, 1, 1, &h)); /* gid 1 of 1 group */
  assert_fails(tsr__hol_scatter(h, 0, &ch), TSR_EINVAL, "group id");
  tsr__hol_destroy(&h);
}

/* Under MPI a part's values arrive grouped (runs of one group, some of
 * another rank's groups, TSR__HOL_SKIP) and a rank's own chunks carry rows
 * of other ranks' groups: from runs, and from rows with skipped ones mixed
 * in, every type and kind gives bitwise the result of the plain rows. */
typedef struct pair64 {
  int64_t gid, row;
} pair64;

static int pair_cmp(const void *a, const void *b) {
  const pair64 *x = a, *y = b;
  return x->gid != y->gid ? (x->gid > y->gid) - (x->gid < y->gid)
                          : (x->row > y->row) - (x->row < y->row);
}

static void test_group_holistic__runs_and_skipped_rows(void **state) {
  tsr_ctx *ctx = *state;
  uint64_t s = 404;
  double qs[] = {0.5, 0.1, 1.0};
  for (size_t ti = 0; ti < sizeof all_types / sizeof *all_types; ti++) {
    tsr_type t = all_types[ti];
    const int64_t n = 5000, ng = 700, nchunks = 23;
    const size_t w = t.id == TSR_COL_STRING ? 16 : tsr_type_width(t);
    dataset d, x;
    dataset_make(&d, t, n, ng, rnd(&s));
    int64_t *st = ragged_starts(n, nchunks, &s);
    chunked c;
    chunked_make(&c, &d, nchunks, st);
    /* The same rows with a skipped row (random value, maybe null) after
     * every third. */
    int64_t nx = n + n / 3 + 1, *stx = malloc((size_t)(nchunks + 1) * sizeof *stx), j = 0;
    dataset_make(&x, t, nx, ng, rnd(&s));
    for (int64_t k = 0; k < nchunks; k++) {
      stx[k] = j;
      for (int64_t i = st[k]; i < st[k + 1]; i++) {
        x.gid[j] = d.gid[i];
        x.valid[j] = d.valid[i];
        x.str[j] = d.str[i];
        if (t.id != TSR_COL_STRING)
          memcpy(x.vals + (size_t)j * w, d.vals + (size_t)i * w, w);
        j++;
        if (i % 3 == 2)
          x.gid[j++] = TSR__HOL_SKIP;
      }
    }
    stx[nchunks] = j;
    chunked cx;
    chunked_make(&cx, &x, nchunks, stx);
    /* Runs: each chunk's valid rows grouped by group, in row order, with a
     * run of skipped values before every third group. */
    int64_t *len = malloc((size_t)2 * (size_t)n * sizeof *len + 8);
    uint32_t *rgid = malloc((size_t)2 * (size_t)n * sizeof *rgid + 8);
    unsigned char *vals = malloc((size_t)2 * (size_t)n * w + 8);
    pair64 *pr = malloc((size_t)n * sizeof *pr + 8);
    for (int kind = 0; kind < 4; kind++) {
      if (kind == 0 && !quantile_ok(t))
        continue;
      tsr__hol_spec sp = {(tsr__hol_kind)kind, t, 3, qs, kind == 2 ? 2 : 3};
      tsr__hol *h0 = NULL, *h = NULL;
      tsr__hol_result r0, r;
      assert_ok(run_hol(ctx, &sp, &c, ng, 0, &h0, &r0));
      assert_ok(run_hol(ctx, &sp, &cx, ng, kind % 2 ? 2 : 0, &h, &r));
      assert_true(same_result(&sp, &r0, &r, t));
      tsr__hol_destroy(&h);
      if (t.id == TSR_COL_STRING) {
        tsr__hol_destroy(&h0);
        continue; /* (runs are of fixed-width values) */
      }
      assert_ok(tsr__hol_create(ctx, &sp, nchunks, ng, &h));
      for (int64_t k = 0; k < nchunks; k++) {
        int64_t m = 0, nr = 0, nv = 0;
        for (int64_t i = st[k]; i < st[k + 1]; i++)
          if (d.valid[i])
            pr[m++] = (pair64){d.gid[i], i};
        qsort(pr, (size_t)m, sizeof *pr, pair_cmp);
        for (int64_t i = 0; i < m; i++) {
          if (i == 0 || pr[i].gid != pr[i - 1].gid) {
            if (nr % 3 == 0) { /* two skipped values */
              rgid[nr] = TSR__HOL_SKIP;
              len[nr++] = 2;
              memset(vals + (size_t)nv * w, 0x5a, 2 * w);
              nv += 2;
            }
            rgid[nr] = (uint32_t)pr[i].gid;
            len[nr++] = 0;
          }
          len[nr - 1]++;
          memcpy(vals + (size_t)nv++ * w, d.vals + (size_t)pr[i].row * w, w);
        }
        tsr__hol_runs runs = {nr, len, rgid, {nv, 0, vals, NULL, NULL, 0}};
        assert_ok(tsr__hol_scatter_runs(h, k, &runs));
      }
      for (int64_t p = 0; p < tsr__hol_npieces(h); p++)
        assert_ok(tsr__hol_piece(h, p));
      assert_ok(tsr__hol_finish(h, &r));
      assert_true(same_result(&sp, &r0, &r, t));
      tsr__hol_destroy(&h);
      tsr__hol_destroy(&h0);
    }
    free(len);
    free(rgid);
    free(vals);
    free(pr);
    chunked_free(&c);
    chunked_free(&cx);
    free(st);
    free(stx);
    dataset_free(&d);
    dataset_free(&x);
  }
  /* Runs past the values, a group out of range, nulls: errors. */
  tsr__hol_spec sp = {TSR__HOL_NUNIQUE, {TSR_COL_FLOAT64, 0}, 0, NULL, 0};
  tsr__hol *h = NULL;
  double v[4] = {1, 2, 3, 4};
  int64_t len[2] = {2, 3};
  uint32_t gid[2] = {0, 1};
  uint8_t bits = 0x7;
  assert_ok(tsr__hol_create(ctx, &sp, 1, 2, &h));
  tsr__hol_runs runs = {2, len, gid, {4, 0, v, NULL, NULL, 0}};
  assert_fails(tsr__hol_scatter_runs(h, 0, &runs), TSR_EINVAL, "run 1 out of range");
  len[1] = 2;
  gid[1] = 2;
  assert_fails(tsr__hol_scatter_runs(h, 0, &runs), TSR_EINVAL, "run 1 out of range");
  gid[1] = 1;
  runs.col.null_count = 1;
  runs.col.validity = &bits;
  assert_fails(tsr__hol_scatter_runs(h, 0, &runs), TSR_EINVAL, "nulls");
  runs.col.null_count = 0;
  runs.col.validity = NULL;
  assert_ok(tsr__hol_scatter_runs(h, 0, &runs));
  for (int64_t p = 0; p < tsr__hol_npieces(h); p++)
    assert_ok(tsr__hol_piece(h, p));
  tsr__hol_result r;
  assert_ok(tsr__hol_finish(h, &r));
  assert_true(r.nunique[0] == 2 && r.nunique[1] == 2);
  tsr__hol_destroy(&h);
}

static void test_group_holistic__out_of_memory_is_clean(void **state) {
  tsr_ctx *ctx = *state;
  uint64_t s = 303;
  dataset d;
  dataset_make(&d, (tsr_type){TSR_COL_STRING, 0}, 3000, 700, 5);
  dataset d2;
  dataset_make(&d2, (tsr_type){TSR_COL_FLOAT64, 0}, 3000, 700, 6);
  int64_t *st = ragged_starts(3000, 8, &s);
  chunked c, c2;
  chunked_make(&c, &d, 8, st);
  chunked_make(&c2, &d2, 8, st);
  double q[2] = {0.5, 0.9};
  for (int kind = 0; kind < 4; kind++) {
    const chunked *cc = kind == 0 ? &c2 : &c;
    tsr__hol_spec sp = {(tsr__hol_kind)kind, kind == 0 ? d2.type : d.type, 2, q, kind == 3 ? 100 : 2};
    int failures = 0;
    for (uint64_t nth = 1;; nth++) {
      tsr__hol *h = NULL;
      tsr__hol_result r;
      assert_ok(tsr_ctx_set_fail_allocation(ctx, nth));
      tsr_status st2 = run_hol(ctx, &sp, cc, 700, 0, &h, &r);
      tsr__hol_destroy(&h);
      assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
      if (st2 == TSR_OK)
        break;
      assert_int_equal(st2, TSR_ENOMEM);
      failures++;
      tsr_memory_stats m;
      assert_ok(tsr_ctx_memory_stats(ctx, &m));
      assert_int_equal(m.current_bytes, 0);
    }
    assert_true(failures > 10);
  }
  chunked_free(&c);
  chunked_free(&c2);
  free(st);
  dataset_free(&d);
  dataset_free(&d2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_group_holistic__every_type_matches_the_reference,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_group_holistic__same_result_for_any_split,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_group_holistic__empty_inputs_and_errors, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_group_holistic__runs_and_skipped_rows, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_group_holistic__out_of_memory_is_clean, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
