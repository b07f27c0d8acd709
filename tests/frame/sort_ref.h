/* sort_ref.h — what the sort and rank tests share: random frames with the
 * values a sort finds hard (nulls, NaN, -0.0, infinities, many ties, short
 * and long strings with long common prefixes), and a naive stable sort
 * (a top-down merge sort) with a comparator written from the API's words,
 * independently of the engine's encoded keys. */
#ifndef TSR_TEST_SORT_REF_H
#define TSR_TEST_SORT_REF_H

#include <math.h>

#include "frame/frame_util.h"

/* Makes a reference frame of every column type with ties, NaN, -0.0 and
 * long strings sharing long prefixes. */
static inline void sr_frame_random(ref_frame *f, int64_t n, int null_pct, uint64_t seed) {
  ref_frame_random(f, TSR_NUM_COLTYPES, fu_types, n, null_pct, seed);
  uint64_t s = seed * 31 + 7;
  for (int i = 0; i < f->ncols; i++) {
    ref_col *c = &f->cols[i];
    size_t w = tsr_type_width(c->type);
    for (int64_t r = 0; r < n; r++) {
      if (!c->valid[r])
        continue;
      uint64_t x = fu_rand(&s);
      if (c->type.id == TSR_COL_STRING) {
        if (x % 3 == 0) { /* long strings with a common 20-byte prefix */
          char buf[64];
          snprintf(buf, sizeof buf, "common-prefix-%06d%s", (int)(x >> 8) % 4,
                   (x >> 16) % 2 ? "" : (x >> 20) % 2 ? "z" : "\x01");
          free(c->str[r]);
          c->str[r] = fu_strdup(buf);
        }
        continue;
      }
      if (c->type.id == TSR_COL_DICT)
        continue;
      if (x % 2 == 0 && r > 0) { /* ties: a copy of an earlier row's value */
        int64_t src = (int64_t)((x >> 8) % (uint64_t)r);
        memcpy(c->values + (size_t)r * w, c->values + (size_t)src * w, w);
        continue;
      }
      if (c->type.id == TSR_COL_FLOAT64 || c->type.id == TSR_COL_FLOAT32) {
        static const double special[6] = {NAN, -0.0, 0.0, INFINITY, -INFINITY, -NAN};
        if ((x >> 8) % 4 == 0) {
          double d = special[(x >> 16) % 6];
          if (c->type.id == TSR_COL_FLOAT64)
            memcpy(c->values + (size_t)r * w, &d, w);
          else {
            float fl = (float)d;
            memcpy(c->values + (size_t)r * w, &fl, w);
          }
        }
      }
    }
  }
}

static inline int sr_cmp_num(double a, double b) {
  bool na = a != a, nb = b != b;
  if (na || nb)
    return na == nb ? 0 : na ? 1 : -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/* Compares one key's values of rows a and b (nulls by placement). */
static inline int sr_cmp_key(const ref_col *c, bool desc, bool nulls_first, int64_t a,
                             int64_t b) {
  bool va = c->valid[a], vb = c->valid[b];
  if (!va || !vb) {
    if (va == vb)
      return 0;
    return (!va ? -1 : 1) * (nulls_first ? 1 : -1);
  }
  int r = 0;
  size_t w = tsr_type_width(c->type);
  const unsigned char *pa = c->values + (size_t)a * w, *pb = c->values + (size_t)b * w;
  switch (c->type.id) {
  case TSR_COL_STRING:
  case TSR_COL_DICT:
    r = strcmp(c->str[a], c->str[b]);
    break;
  case TSR_COL_FLOAT32: {
    float x, y;
    memcpy(&x, pa, 4);
    memcpy(&y, pb, 4);
    r = sr_cmp_num(x, y);
    break;
  }
  case TSR_COL_FLOAT64: {
    double x, y;
    memcpy(&x, pa, 8);
    memcpy(&y, pb, 8);
    r = sr_cmp_num(x, y);
    break;
  }
#define I(ID, T)                                 \
  case ID: {                                     \
    T x, y;                                      \
    memcpy(&x, pa, sizeof x);                    \
    memcpy(&y, pb, sizeof y);                    \
    r = x < y ? -1 : x > y ? 1 : 0;              \
    break;                                       \
  }
    I(TSR_COL_BOOL, uint8_t)
    I(TSR_COL_INT8, int8_t)
    I(TSR_COL_INT16, int16_t)
    I(TSR_COL_INT32, int32_t)
    I(TSR_COL_INT64, int64_t)
    I(TSR_COL_UINT8, uint8_t)
    I(TSR_COL_UINT16, uint16_t)
    I(TSR_COL_UINT32, uint32_t)
    I(TSR_COL_UINT64, uint64_t)
    I(TSR_COL_DATE, int32_t)
    I(TSR_COL_TIMESTAMP, int64_t)
#undef I
  default:
    break;
  }
  r = r < 0 ? -1 : r > 0 ? 1 : 0;
  return desc ? -r : r;
}

typedef struct sr_keys {
  const ref_frame *f;
  int nkeys;
  const int *cols;
  const tsr_sort_key *keys;
} sr_keys;

static inline int sr_cmp_rows(const sr_keys *k, int64_t a, int64_t b) {
  for (int i = 0; i < k->nkeys; i++) {
    int r = sr_cmp_key(&k->f->cols[k->cols[i]], k->keys[i].descending, k->keys[i].nulls_first, a,
                       b);
    if (r != 0)
      return r;
  }
  return 0;
}

static inline void sr_msort(const sr_keys *k, int64_t *p, int64_t *tmp, int64_t n) {
  if (n < 2)
    return;
  int64_t h = n / 2;
  sr_msort(k, p, tmp, h);
  sr_msort(k, p + h, tmp, n - h);
  int64_t i = 0, j = h, o = 0;
  while (i < h && j < n)
    tmp[o++] = sr_cmp_rows(k, p[j], p[i]) < 0 ? p[j++] : p[i++];
  while (i < h)
    tmp[o++] = p[i++];
  while (j < n)
    tmp[o++] = p[j++];
  memcpy(p, tmp, (size_t)n * sizeof *p);
}

/* The stable sorted order of f's rows by the keys. */
static inline int64_t *sr_sorted_order(const ref_frame *f, int nkeys, const tsr_sort_key *keys) {
  int cols[16];
  for (int i = 0; i < nkeys; i++) {
    cols[i] = -1;
    for (int j = 0; j < f->ncols; j++)
      if (strcmp(f->cols[j].name, keys[i].column) == 0)
        cols[i] = j;
  }
  sr_keys k = {f, nkeys, cols, keys};
  int64_t *p = malloc(((size_t)f->n + 1) * sizeof *p), *tmp = malloc(((size_t)f->n + 1) * sizeof *p);
  for (int64_t i = 0; i < f->n; i++)
    p[i] = i;
  sr_msort(&k, p, tmp, f->n);
  free(tmp);
  return p;
}

/* Row `dst` of column d = row `src` of column c (same type). */
static inline void sr_copy_row(ref_col *d, int64_t dst, const ref_col *c, int64_t src) {
  size_t w = tsr_type_width(c->type);
  d->valid[dst] = c->valid[src];
  memcpy(d->values + (size_t)dst * w, c->values + (size_t)src * w, w);
  if (c->str != NULL)
    d->str[dst] = fu_strdup(c->str[src]);
}

/* The reference frame of f's rows perm[0..n). */
static inline void sr_permute(const ref_frame *f, const int64_t *perm, int64_t n, ref_frame *out) {
  out->ncols = f->ncols;
  out->n = n;
  out->cols = calloc((size_t)f->ncols + 1, sizeof *out->cols);
  for (int i = 0; i < f->ncols; i++) {
    const ref_col *c = &f->cols[i];
    ref_col *d = &out->cols[i];
    memcpy(d->name, c->name, sizeof d->name);
    d->type = c->type;
    d->n = n;
    size_t w = tsr_type_width(c->type);
    d->values = calloc((size_t)n + 1, w);
    d->valid = calloc((size_t)n + 1, 1);
    if (c->str != NULL)
      d->str = calloc((size_t)n + 1, sizeof *d->str);
    for (int64_t r = 0; r < n; r++)
      sr_copy_row(d, r, c, perm[r]);
  }
}

#endif /* TSR_TEST_SORT_REF_H */
