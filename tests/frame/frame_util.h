/* frame_util.h — what the frame tests share: random frames of every column
 * type with nulls and ragged row chunks, kept beside a naive reference
 * (plain arrays, one value per row), and a naive reader that turns a
 * computed frame back into such a reference, so a test compares an
 * operation's result with the same operation done by hand. */
#ifndef TSR_TEST_FRAME_UTIL_H
#define TSR_TEST_FRAME_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* One column, whole, one value per row. */
typedef struct ref_col {
  char name[32];
  tsr_type type;
  int64_t n;
  unsigned char *values; /* n x width (dict: codes); unused for strings */
  uint8_t *valid;        /* n bytes, 1 = valid */
  char **str;            /* strings and dictionaries: each row's text (NUL-terminated) */
  /* dictionaries: the sorted dictionary */
  int64_t dict_size;
  char **dict;
} ref_col;

typedef struct ref_frame {
  int ncols;
  int64_t n;
  ref_col *cols;
} ref_frame;

/* Value i of a numeric, date, timestamp or dictionary (its code) column as
 * long double, for the references; 0 for strings. */
static inline long double ref_num_at(const ref_col *c, int64_t i) {
  const void *v = c->values;
  switch (c->type.id) {
  case TSR_COL_BOOL:
  case TSR_COL_UINT8:
    return ((const uint8_t *)v)[i];
  case TSR_COL_INT8:
    return ((const int8_t *)v)[i];
  case TSR_COL_INT16:
    return ((const int16_t *)v)[i];
  case TSR_COL_INT32:
  case TSR_COL_DATE:
  case TSR_COL_DICT:
    return ((const int32_t *)v)[i];
  case TSR_COL_INT64:
  case TSR_COL_TIMESTAMP:
    return ((const int64_t *)v)[i];
  case TSR_COL_UINT16:
    return ((const uint16_t *)v)[i];
  case TSR_COL_UINT32:
    return ((const uint32_t *)v)[i];
  case TSR_COL_UINT64:
    return ((const uint64_t *)v)[i];
  case TSR_COL_FLOAT32:
    return ((const float *)v)[i];
  case TSR_COL_FLOAT64:
    return ((const double *)v)[i];
  default:
    return 0;
  }
}

static inline uint64_t fu_rand(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline char *fu_strdup(const char *s) {
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  memcpy(d, s, n + 1);
  return d;
}

static inline void ref_frame_free(ref_frame *f) {
  for (int i = 0; i < f->ncols; i++) {
    ref_col *c = &f->cols[i];
    if (c->str != NULL)
      for (int64_t r = 0; r < c->n; r++)
        free(c->str[r]);
    for (int64_t d = 0; d < c->dict_size; d++)
      free(c->dict[d]);
    free(c->dict);
    free(c->str);
    free(c->values);
    free(c->valid);
  }
  free(f->cols);
  memset(f, 0, sizeof *f);
}

/* The 15 column types (every tsr_coltype; timestamps in microseconds). */
static const tsr_type fu_types[TSR_NUM_COLTYPES] = {
    {TSR_COL_BOOL, 0},    {TSR_COL_INT8, 0},    {TSR_COL_INT16, 0},
    {TSR_COL_INT32, 0},   {TSR_COL_INT64, 0},   {TSR_COL_UINT8, 0},
    {TSR_COL_UINT16, 0},  {TSR_COL_UINT32, 0},  {TSR_COL_UINT64, 0},
    {TSR_COL_FLOAT32, 0}, {TSR_COL_FLOAT64, 0}, {TSR_COL_STRING, 0},
    {TSR_COL_DICT, 0},    {TSR_COL_DATE, 0},    {TSR_COL_TIMESTAMP, TSR_TIME_US}};

static const char *const fu_words[8] = {
    "apple", "banana",   "cherry-long-word-here", "date", "elderberry-is-long", "fig",
    "grape", "é-unicode"};

/* A random value of column type t into dst (width bytes). */
static inline void fu_random_value(tsr_type t, uint64_t *seed, void *dst) {
  uint64_t r = fu_rand(seed);
  switch (t.id) {
  case TSR_COL_BOOL:
    *(uint8_t *)dst = (uint8_t)(r & 1);
    break;
  case TSR_COL_INT8:
    *(int8_t *)dst = (int8_t)r;
    break;
  case TSR_COL_INT16:
    *(int16_t *)dst = (int16_t)r;
    break;
  case TSR_COL_INT32:
    *(int32_t *)dst = (int32_t)r;
    break;
  case TSR_COL_INT64:
    *(int64_t *)dst = (int64_t)(r >> 12) - (int64_t)(1ll << 51); /* sums stay in range */
    break;
  case TSR_COL_UINT8:
    *(uint8_t *)dst = (uint8_t)r;
    break;
  case TSR_COL_UINT16:
    *(uint16_t *)dst = (uint16_t)r;
    break;
  case TSR_COL_UINT32:
    *(uint32_t *)dst = (uint32_t)r;
    break;
  case TSR_COL_UINT64:
    *(uint64_t *)dst = r >> 12;
    break;
  case TSR_COL_FLOAT32:
    *(float *)dst = (float)((double)(int64_t)(r >> 20) / 1e6 - 2e6);
    break;
  case TSR_COL_FLOAT64:
    *(double *)dst = ((double)(r >> 11) / 9007199254740992.0 - 0.5) * 1e4;
    break;
  case TSR_COL_DATE:
    *(int32_t *)dst = (int32_t)(r % 40000) - 10000;
    break;
  case TSR_COL_TIMESTAMP:
    *(int64_t *)dst = (int64_t)(r % 4000000000000000ull) - 1000000000000000ll;
    break;
  default:
    break;
  }
}

static int fu_cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A random reference frame of n rows with the given column types (named
 * c0, c1, ...); about null_pct % nulls in every column. */
static inline void ref_frame_random(ref_frame *f, int ncols, const tsr_type *types, int64_t n,
                                    int null_pct, uint64_t seed) {
  f->ncols = ncols;
  f->n = n;
  f->cols = calloc((size_t)ncols, sizeof *f->cols);
  for (int i = 0; i < ncols; i++) {
    ref_col *c = &f->cols[i];
    snprintf(c->name, sizeof c->name, "c%d", i);
    c->type = types[i];
    c->n = n;
    size_t w = tsr_type_width(c->type);
    c->values = calloc((size_t)n + 1, w);
    c->valid = calloc((size_t)n + 1, 1);
    if (c->type.id == TSR_COL_DICT) {
      c->dict_size = 5;
      c->dict = calloc(5, sizeof *c->dict);
      for (int d = 0; d < 5; d++)
        c->dict[d] = fu_strdup(fu_words[(d * 3 + i) % 8]);
      qsort(c->dict, 5, sizeof *c->dict, fu_cmp_str);
    }
    if (c->type.id == TSR_COL_STRING || c->type.id == TSR_COL_DICT)
      c->str = calloc((size_t)n + 1, sizeof *c->str);
    for (int64_t r = 0; r < n; r++) {
      c->valid[r] = (int)(fu_rand(&seed) % 100) >= null_pct;
      if (c->type.id == TSR_COL_STRING) {
        char buf[64];
        uint64_t k = fu_rand(&seed);
        if (c->valid[r])
          snprintf(buf, sizeof buf, "%s%.*s", fu_words[k % 8], (int)(k >> 8) % 20,
                   "0123456789abcdefghijklmnop");
        else
          buf[0] = '\0';
        c->str[r] = fu_strdup(buf);
      } else if (c->type.id == TSR_COL_DICT) {
        int32_t code = c->valid[r] ? (int32_t)(fu_rand(&seed) % 5) : 0;
        ((int32_t *)c->values)[r] = code;
        c->str[r] = fu_strdup(c->valid[r] ? c->dict[code] : "");
      } else if (c->valid[r]) {
        fu_random_value(c->type, &seed, c->values + (size_t)r * w);
      }
    }
  }
}

/* Column data for tsr_frame_from_columns over rows [r0, r0 + n) of f (the
 * buffers are malloc'ed and adopted: free them with free()). */
static inline void fu_free_fn(void *p, void *user) {
  (void)user;
  free(p);
}

static inline void ref_frame_columns(const ref_frame *f, int64_t r0, int64_t n,
                                     tsr_column_data *cd) {
  for (int i = 0; i < f->ncols; i++) {
    const ref_col *c = &f->cols[i];
    size_t w = tsr_type_width(c->type);
    memset(&cd[i], 0, sizeof cd[i]);
    cd[i].name = c->name;
    cd[i].type = c->type;
    cd[i].length = n;
    uint8_t *valid = calloc((size_t)(n + 7) / 8 + 1, 1);
    for (int64_t r = 0; r < n; r++)
      if (c->valid[r0 + r])
        valid[r / 8] |= (uint8_t)(1u << (r % 8));
    cd[i].validity = valid;
    if (c->type.id == TSR_COL_STRING) {
      int64_t *off = malloc(((size_t)n + 1) * sizeof *off);
      size_t bytes = 0;
      for (int64_t r = 0; r < n; r++)
        bytes += strlen(c->str[r0 + r]);
      char *data = malloc(bytes + 1);
      off[0] = 0;
      for (int64_t r = 0; r < n; r++) {
        size_t len = strlen(c->str[r0 + r]);
        memcpy(data + off[r], c->str[r0 + r], len);
        off[r + 1] = off[r] + (int64_t)len;
      }
      cd[i].offsets = off;
      cd[i].data = data;
    } else {
      void *v = malloc((size_t)n * w + 1);
      memcpy(v, c->values + (size_t)r0 * w, (size_t)n * w);
      cd[i].values = v;
    }
    if (c->type.id == TSR_COL_DICT) {
      int64_t *off = malloc(((size_t)c->dict_size + 1) * sizeof *off);
      size_t bytes = 0;
      for (int64_t d = 0; d < c->dict_size; d++)
        bytes += strlen(c->dict[d]);
      char *data = malloc(bytes + 1);
      off[0] = 0;
      for (int64_t d = 0; d < c->dict_size; d++) {
        size_t len = strlen(c->dict[d]);
        memcpy(data + off[d], c->dict[d], len);
        off[d + 1] = off[d] + (int64_t)len;
      }
      cd[i].dict_size = c->dict_size;
      cd[i].dict_offsets = off;
      cd[i].dict_data = data;
    }
  }
}

/* The frame of f in ragged row chunks: pieces of random lengths (some
 * empty), each cut into chunks of a random size, concatenated.  At least
 * min_chunks chunks when f has that many rows. */
static inline tsr_status ref_frame_to_frame(tsr_ctx *ctx, const ref_frame *f, int min_chunks,
                                            uint64_t seed, tsr_frame **out) {
  *out = NULL;
  tsr_frame *pieces[64];
  int np = 0;
  int64_t r0 = 0;
  int64_t target = f->n / (min_chunks > 0 ? min_chunks : 1);
  if (target < 1)
    target = 1;
  tsr_status st = TSR_OK;
  tsr_column_data *cd = calloc((size_t)f->ncols + 1, sizeof *cd);
  while ((r0 < f->n || np == 0) && st == TSR_OK) {
    int64_t len = np == 63 ? f->n - r0 : (int64_t)(fu_rand(&seed) % (uint64_t)(f->n / 8 + 2));
    if (len > f->n - r0)
      len = f->n - r0;
    int64_t chunk = 1 + (int64_t)(fu_rand(&seed) % (uint64_t)target);
    ref_frame_columns(f, r0, len, cd);
    st = tsr_frame_from_columns(ctx, f->ncols, cd, chunk, TSR_BUFFER_ADOPT, fu_free_fn, NULL,
                                &pieces[np]);
    if (st != TSR_OK)
      break;
    np++;
    r0 += len;
  }
  free(cd);
  if (st == TSR_OK)
    st = tsr_frame_concat(np, pieces, out);
  for (int k = 0; k < np; k++)
    tsr_frame_destroy(&pieces[k]);
  return st;
}

/* The naive reader: a computed frame back into a reference, row by row
 * through the whole-column readers. */
static inline void ref_frame_read(const tsr_frame_result *r, ref_frame *f) {
  int ncols = tsr_frame_result_ncols(r);
  int64_t n = tsr_frame_result_nrows(r);
  f->ncols = ncols;
  f->n = n;
  f->cols = calloc((size_t)ncols + 1, sizeof *f->cols);
  for (int i = 0; i < ncols; i++) {
    ref_col *c = &f->cols[i];
    snprintf(c->name, sizeof c->name, "%s", tsr_frame_result_col_name(r, i));
    c->type = tsr_frame_result_col_type(r, i);
    c->n = n;
    size_t w = tsr_type_width(c->type);
    c->values = calloc((size_t)n + 1, w);
    c->valid = calloc((size_t)n + 1, 1);
    uint8_t *bits = calloc((size_t)(n + 7) / 8 + 1, 1);
    if (c->type.id != TSR_COL_STRING) {
      assert_ok(tsr_frame_result_values(r, i, c->values, (size_t)n * w, bits));
      for (int64_t k = 0; k < n; k++)
        c->valid[k] = (bits[k / 8] >> (k % 8)) & 1;
    }
    free(bits);
    if (c->type.id == TSR_COL_STRING || c->type.id == TSR_COL_DICT) {
      c->str = calloc((size_t)n + 1, sizeof *c->str);
      for (int64_t k = 0; k < n; k++) {
        const char *text;
        size_t len;
        bool is_null;
        assert_ok(tsr_frame_result_string(r, i, k, &text, &len, &is_null));
        c->valid[k] = !is_null;
        c->str[k] = malloc(len + 1);
        memcpy(c->str[k], text, len);
        c->str[k][len] = '\0';
      }
    }
  }
}

/* Computes the frame and reads it. */
static inline void ref_frame_compute(tsr_frame *fr, ref_frame *out) {
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(fr, NULL, &r));
  ref_frame_read(r, out);
  tsr_frame_result_destroy(&r);
}

/* Rows [a, b) of column c of `want` equal rows [0, b - a) of `got`'s
 * column gc: validity, then values (strings and dictionaries by text). */
static inline void ref_col_assert_rows(const ref_col *want, int64_t a, int64_t b,
                                       const ref_col *got) {
  assert_int_equal(got->n, b - a);
  assert_int_equal(got->type.id, want->type.id);
  size_t w = tsr_type_width(want->type);
  for (int64_t r = a; r < b; r++) {
    int64_t g = r - a;
    if (got->valid[g] != want->valid[r])
      print_error("column '%s' row %lld: valid %d, want %d\n", want->name, (long long)r,
                  got->valid[g], want->valid[r]);
    assert_int_equal(got->valid[g], want->valid[r]);
    if (!want->valid[r])
      continue;
    if (want->str != NULL) {
      if (strcmp(got->str[g], want->str[r]) != 0)
        print_error("column '%s' row %lld: '%s', want '%s'\n", want->name, (long long)r,
                    got->str[g], want->str[r]);
      assert_string_equal(got->str[g], want->str[r]);
    } else {
      assert_memory_equal(got->values + (size_t)g * w, want->values + (size_t)r * w, w);
    }
  }
}

static inline void ref_frame_assert_equal(const ref_frame *want, const ref_frame *got) {
  assert_int_equal(got->ncols, want->ncols);
  assert_int_equal(got->n, want->n);
  for (int i = 0; i < want->ncols; i++) {
    assert_string_equal(got->cols[i].name, want->cols[i].name);
    ref_col_assert_rows(&want->cols[i], 0, want->n, &got->cols[i]);
  }
}

/* ---- join keys (tests/frame/test_join.c, tests/dist/test_dist_join.c) ---- */

/* Makes column c a key over the values [lo, lo + card): a dictionary column
 * gets their names ("k<v>", every third with a long tail), sorted. */
static inline void fu_key_dict(ref_col *c, int lo, int card) {
  if (c->type.id != TSR_COL_DICT)
    return;
  for (int64_t d = 0; d < c->dict_size; d++)
    free(c->dict[d]);
  free(c->dict);
  c->dict_size = card;
  c->dict = calloc((size_t)card, sizeof *c->dict);
  for (int d = 0; d < card; d++) {
    char buf[48];
    snprintf(buf, sizeof buf, d % 3 == 0 ? "k%d-and-a-long-tail" : "k%d", lo + d);
    c->dict[d] = fu_strdup(buf);
  }
  qsort(c->dict, (size_t)card, sizeof *c->dict, fu_cmp_str);
}

/* Row r of key column c (fu_key_dict) holds value v of [lo, lo + card):
 * bools v & 1; signed integers and dates v - 20, int64 times int64_scale
 * (and timestamps too, when int64_scale is not 0; else they keep their
 * values); unsigned v (uint64 shifted left by uint64_shift); floats v / 4,
 * but -0.0 and NaN for the two lowest; strings and dictionary codes by
 * name. */
static inline void fu_key_value(ref_col *c, int64_t r, int v, int lo, int card, int64_t int64_scale,
                                int uint64_shift) {
  void *dst = c->values + (size_t)r * tsr_type_width(c->type);
  char buf[48];
  snprintf(buf, sizeof buf, (v - lo) % 3 == 0 ? "k%d-and-a-long-tail" : "k%d", v);
  switch (c->type.id) {
  case TSR_COL_BOOL:
    *(uint8_t *)dst = (uint8_t)(v & 1);
    break;
  case TSR_COL_INT8:
    *(int8_t *)dst = (int8_t)(v - 20);
    break;
  case TSR_COL_INT16:
    *(int16_t *)dst = (int16_t)(v - 20);
    break;
  case TSR_COL_INT32:
  case TSR_COL_DATE:
    *(int32_t *)dst = v - 20;
    break;
  case TSR_COL_TIMESTAMP:
    if (int64_scale == 0)
      break;
    /* fall through */
  case TSR_COL_INT64:
    *(int64_t *)dst = (int64_t)(v - 20) * (int64_scale != 0 ? int64_scale : 1);
    break;
  case TSR_COL_UINT8:
    *(uint8_t *)dst = (uint8_t)v;
    break;
  case TSR_COL_UINT16:
    *(uint16_t *)dst = (uint16_t)v;
    break;
  case TSR_COL_UINT32:
    *(uint32_t *)dst = (uint32_t)v;
    break;
  case TSR_COL_UINT64:
    *(uint64_t *)dst = (uint64_t)v << uint64_shift;
    break;
  case TSR_COL_FLOAT32:
    *(float *)dst = v == lo ? -0.0f : v == lo + 1 ? NAN : (float)v / 4;
    break;
  case TSR_COL_FLOAT64:
    *(double *)dst = v == lo ? 0.0 : v == lo + 1 ? -NAN : (double)v / 4;
    break;
  case TSR_COL_STRING:
    free(c->str[r]);
    c->str[r] = fu_strdup(c->valid[r] ? buf : "");
    break;
  case TSR_COL_DICT: {
    int32_t code = 0;
    for (int d = 0; d < card; d++)
      if (strcmp(c->dict[d], buf) == 0)
        code = d;
    *(int32_t *)dst = c->valid[r] ? code : 0;
    free(c->str[r]);
    c->str[r] = fu_strdup(c->valid[r] ? buf : "");
    break;
  }
  default:
    break;
  }
}

#endif /* TSR_TEST_FRAME_UTIL_H */
