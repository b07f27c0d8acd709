/* join_keys.c — the join's keys as 64-bit words (join_impl.h): which
 * pairs of key types compare, and every row's keys encoded so that equal
 * keys have equal words.
 *
 * Integers of any width and signedness: when either side is signed, both
 * sides' values become int64 with the sign bit flipped (order kept), and an
 * unsigned value above INT64_MAX, which no signed value equals, cannot
 * match; when both are unsigned, uint64 as they are.  Bools, dates and
 * timestamps (one unit) as integers.  Floats of either width as float64
 * bits with -0.0 made 0.0 and every NaN one NaN.  Strings and dictionaries:
 * the right side's distinct strings get ids (a hash table over the right
 * rows, or over the right dictionary's strings, made once), and the left
 * side looks its strings (or its dictionary's strings, once per entry) up:
 * a string the right side lacks cannot match.  A row with a null key, or a
 * key that cannot match, gets ok = 0.  Per chunk, one loop per key column
 * chosen by its type: nothing is decided per row. */
#include <math.h>
#include <string.h>

#include "join_impl.h"

#define SIGN (UINT64_C(1) << 63)

uint64_t tsr__join_hash_bytes(const char *p, size_t n) {
  uint64_t h = UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = tsr__join_mix(h ^ w) + UINT64_C(0x632be59bd9b4e019);
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  memcpy(&w, p, n);
  return tsr__join_mix(h ^ w);
}

/* ---- the right side's strings ------------------------------------------------------------ */

static tsr_status strtab_init(tsr_ctx *ctx, tsr__jstrtab *t, uint64_t expect) {
  uint64_t cap = 16;
  while (cap < 2 * expect)
    cap *= 2;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)cap, sizeof *t->slots, "join string table",
                           (void **)&t->slots));
  for (uint64_t i = 0; i < cap; i++)
    t->slots[i].id = UINT32_MAX;
  t->mask = cap - 1;
  t->n = 0;
  return TSR_OK;
}

static uint32_t strtab_find(const tsr__jstrtab *t, const char *p, uint32_t len) {
  uint64_t h = tsr__join_hash_bytes(p, len);
  for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
    const tsr__jstr_slot *s = &t->slots[i];
    if (s->id == UINT32_MAX)
      return UINT32_MAX;
    if (s->hash == h && s->len == len && memcmp(s->ptr, p, len) == 0)
      return s->id;
  }
}

static tsr_status strtab_insert(tsr_ctx *ctx, tsr__jstrtab *t, const char *p, uint32_t len,
                                uint32_t *id) {
  if (2 * ((uint64_t)t->n + 1) > t->mask + 1) { /* grow: load at most 1/2 */
    tsr__jstrtab g;
    TSR_TRY(strtab_init(ctx, &g, t->mask + 1));
    for (uint64_t i = 0; i <= t->mask; i++) {
      const tsr__jstr_slot *s = &t->slots[i];
      if (s->id == UINT32_MAX)
        continue;
      uint64_t k = s->hash & g.mask;
      while (g.slots[k].id != UINT32_MAX)
        k = (k + 1) & g.mask;
      g.slots[k] = *s;
    }
    g.n = t->n;
    tsr_free(ctx, t->slots);
    *t = g;
  }
  uint64_t h = tsr__join_hash_bytes(p, len);
  uint64_t i = h & t->mask;
  for (;; i = (i + 1) & t->mask) {
    tsr__jstr_slot *s = &t->slots[i];
    if (s->id == UINT32_MAX)
      break;
    if (s->hash == h && s->len == len && memcmp(s->ptr, p, len) == 0) {
      *id = s->id;
      return TSR_OK;
    }
  }
  TSR_CHECK(t->n < UINT32_MAX - 1, TSR_ENOTSUP, "tsr_frame_join: more than 2^32 - 2 distinct key strings");
  t->slots[i] = (tsr__jstr_slot){h, p, len, t->n};
  *id = t->n++;
  return TSR_OK;
}

/* ---- which types compare ----------------------------------------------------------------- */

static bool is_int(tsr_coltype t) { return t >= TSR_COL_INT8 && t <= TSR_COL_UINT64; }
static bool is_signed(tsr_coltype t) {
  return (t >= TSR_COL_INT8 && t <= TSR_COL_INT64) || t == TSR_COL_DATE ||
         t == TSR_COL_TIMESTAMP;
}
static bool is_str(tsr_coltype t) { return t == TSR_COL_STRING || t == TSR_COL_DICT; }
static bool is_float(tsr_coltype t) { return t == TSR_COL_FLOAT32 || t == TSR_COL_FLOAT64; }

tsr_status tsr__join_keys_prepare(tsr__join *j) {
  tsr_ctx *ctx = j->ctx;
  for (int k = 0; k < j->nkeys; k++) {
    tsr__jkey *key = &j->keys[k];
    const tsr__col *lc = &j->side[0]->f->cols[key->col[0]];
    const tsr__col *rc = &j->side[1]->f->cols[key->col[1]];
    tsr_type a = lc->type, b = rc->type;
    bool ok = (is_int(a.id) && is_int(b.id)) || (is_float(a.id) && is_float(b.id)) ||
              (is_str(a.id) && is_str(b.id)) ||
              (a.id == b.id && (a.id == TSR_COL_BOOL || a.id == TSR_COL_DATE)) ||
              (a.id == TSR_COL_TIMESTAMP && b.id == TSR_COL_TIMESTAMP && a.unit == b.unit);
    TSR_CHECK(ok, TSR_EINVAL,
              "%s: key %d: left column '%s' (%s) and right column '%s' (%s) cannot be compared "
              "(cast one side with tsr_frame_cast)",
              j->fn, k, lc->name, tsr_type_name(a), rc->name, tsr_type_name(b));
    key->flip = is_signed(a.id) || is_signed(b.id);
    key->str = is_str(a.id);
    if (!key->str)
      continue;
    /* The right side's strings. */
    const tsr__sorter *rs = j->side[1];
    if (b.id == TSR_COL_DICT) {
      const tsr__dict *d = rc->dict;
      TSR_TRY(strtab_init(ctx, &key->tab, (uint64_t)d->size));
      TSR_TRY(tsr__alloc_array(ctx, (size_t)d->size + 1, sizeof(uint32_t), "dictionary map",
                               (void **)&key->map[1]));
      for (int64_t i = 0; i < d->size; i++) {
        size_t len;
        const char *s = tsr__dict_str(d, i, &len);
        TSR_TRY(strtab_insert(ctx, &key->tab, s, (uint32_t)len, &key->map[1][i]));
      }
    } else {
      TSR_TRY(strtab_init(ctx, &key->tab, 1024));
      TSR_TRY(tsr__alloc_array(ctx, (size_t)rs->total + 1, sizeof(uint32_t), "string ids",
                               (void **)&key->rid));
      const int nc = rs->f->ncols;
      for (int64_t c = 0; c < rs->nchunks; c++) {
        const tsr__colread *r = &rs->cr[c * nc + key->col[1]];
        const tsr_string_view *v = r->values;
        uint32_t *id = key->rid + rs->row_start[c];
        for (int64_t i = 0; i < r->rows; i++) {
          if (r->validity != NULL && !tsr__bit_get(r->validity, i)) {
            id[i] = UINT32_MAX;
            continue;
          }
          TSR_TRY(strtab_insert(ctx, &key->tab, tsr_string_view_data(&v[i], r->data),
                                v[i].length, &id[i]));
        }
      }
    }
    if (a.id == TSR_COL_DICT) {
      const tsr__dict *d = lc->dict;
      TSR_TRY(tsr__alloc_array(ctx, (size_t)d->size + 1, sizeof(uint32_t), "dictionary map",
                               (void **)&key->map[0]));
      for (int64_t i = 0; i < d->size; i++) {
        size_t len;
        const char *s = tsr__dict_str(d, i, &len);
        key->map[0][i] = strtab_find(&key->tab, s, (uint32_t)len);
      }
    }
  }
  return TSR_OK;
}

void tsr__join_keys_free(tsr__join *j) {
  if (j->keys == NULL)
    return;
  for (int k = 0; k < j->nkeys; k++) {
    tsr_free(j->ctx, j->keys[k].tab.slots);
    tsr_free(j->ctx, j->keys[k].map[0]);
    tsr_free(j->ctx, j->keys[k].map[1]);
    tsr_free(j->ctx, j->keys[k].rid);
  }
}

/* ---- encoding ------------------------------------------------------------------------------ */

/* Key k of one chunk of side `side` (n rows from global row g0) into
 * w[i * W] (W words per row), clearing ok[i] of rows that cannot match. */
static void encode_col(const tsr__join *j, int k, int side, const tsr__colread *r, int64_t g0,
                       uint64_t *w, uint8_t *ok) {
  const tsr__jkey *key = &j->keys[k];
  const int64_t n = r->rows, W = j->nkeys;
  const tsr_type t = j->side[side]->f->cols[key->col[side]].type;
#define SIGNED(T)                                                                   \
  {                                                                                 \
    const T *v = r->values;                                                         \
    for (int64_t i = 0; i < n; i++)                                                 \
      w[i * W] = (uint64_t)(int64_t)v[i] ^ SIGN;                                    \
    break;                                                                          \
  }
#define UNSIGNED(T)                                                                 \
  {                                                                                 \
    const T *v = r->values;                                                         \
    if (key->flip)                                                                  \
      for (int64_t i = 0; i < n; i++) {                                             \
        uint64_t x = v[i];                                                          \
        w[i * W] = x ^ SIGN;                                                        \
        if (x > (uint64_t)INT64_MAX)                                                \
          ok[i] = 0;                                                                \
      }                                                                             \
    else                                                                            \
      for (int64_t i = 0; i < n; i++)                                               \
        w[i * W] = v[i];                                                            \
    break;                                                                          \
  }
#define FLOAT(T)                                                                    \
  {                                                                                 \
    const T *v = r->values;                                                         \
    for (int64_t i = 0; i < n; i++) {                                               \
      double d = (double)v[i];                                                      \
      uint64_t b;                                                                   \
      d = d == 0 ? 0.0 : d;                                                         \
      memcpy(&b, &d, sizeof b);                                                     \
      w[i * W] = isnan(d) ? UINT64_C(0x7ff8000000000000) : b;                       \
    }                                                                               \
    break;                                                                          \
  }
  switch (t.id) {
  case TSR_COL_INT8:
    SIGNED(int8_t)
  case TSR_COL_INT16:
    SIGNED(int16_t)
  case TSR_COL_INT32:
  case TSR_COL_DATE:
    SIGNED(int32_t)
  case TSR_COL_INT64:
  case TSR_COL_TIMESTAMP:
    SIGNED(int64_t)
  case TSR_COL_BOOL:
  case TSR_COL_UINT8:
    UNSIGNED(uint8_t)
  case TSR_COL_UINT16:
    UNSIGNED(uint16_t)
  case TSR_COL_UINT32:
    UNSIGNED(uint32_t)
  case TSR_COL_UINT64:
    UNSIGNED(uint64_t)
  case TSR_COL_FLOAT32:
    FLOAT(float)
  case TSR_COL_FLOAT64:
    FLOAT(double)
  case TSR_COL_DICT: {
    const int32_t *v = r->values;
    const uint32_t *map = key->map[side];
    const uint64_t size = (uint64_t)j->side[side]->f->cols[key->col[side]].dict->size;
    for (int64_t i = 0; i < n; i++) {
      uint32_t id = (uint64_t)(uint32_t)v[i] < size ? map[v[i]] : UINT32_MAX; /* nulls: any */
      w[i * W] = id;
      if (id == UINT32_MAX)
        ok[i] = 0;
    }
    break;
  }
  case TSR_COL_STRING:
    if (side == 1) {
      const uint32_t *id = key->rid + g0;
      for (int64_t i = 0; i < n; i++)
        w[i * W] = id[i];
    } else {
      const tsr_string_view *v = r->values;
      for (int64_t i = 0; i < n; i++) {
        if (r->validity != NULL && !tsr__bit_get(r->validity, i))
          continue; /* ok cleared below */
        uint32_t id = strtab_find(&key->tab, tsr_string_view_data(&v[i], r->data), v[i].length);
        w[i * W] = id;
        if (id == UINT32_MAX)
          ok[i] = 0;
      }
    }
    break;
  default:
    break;
  }
#undef SIGNED
#undef UNSIGNED
#undef FLOAT
  if (r->validity != NULL)
    for (int64_t i = 0; i < n; i++)
      ok[i] &= (uint8_t)tsr__bit_get(r->validity, i);
}

/* Task i: chunk i of the right side (i < its chunks), else of the left. */
static tsr_status encode_kernel(const tsr_kernel_call *call) {
  tsr__jtask t = tsr__jtask_of(call);
  tsr__join *j = t.j;
  int side = t.i < j->side[1]->nchunks ? 1 : 0;
  int64_t c = side == 1 ? t.i : t.i - j->side[1]->nchunks;
  const tsr__sorter *s = j->side[side];
  const int64_t g0 = s->row_start[c], n = s->rows[c];
  uint64_t *w = j->words[side] + g0 * j->nkeys;
  uint8_t *ok = j->ok[side] + g0;
  memset(ok, 1, (size_t)n);
  if (n > 0)
    memset(w, 0, (size_t)n * (size_t)j->nkeys * sizeof *w);
  for (int k = 0; k < j->nkeys; k++)
    encode_col(j, k, side, &s->cr[c * s->f->ncols + j->keys[k].col[side]], g0, w + k, ok);
  return TSR_OK;
}

tsr_status tsr__join_keys_encode(tsr__join *j) {
  tsr_status status = TSR_OK;
  for (int side = 0; side < 2 && status == TSR_OK; side++) {
    int64_t total = j->side[side]->total, words;
    if (!tsr__size_mul(total, j->nkeys, &words)) {
      status = tsr_error_set(TSR_EINVAL, "%s: too many rows", j->fn);
      break;
    }
    status = tsr__alloc_array(j->ctx, (size_t)words + 1, sizeof(uint64_t), "join keys",
                              (void **)&j->words[side]);
    if (status == TSR_OK)
      status = tsr__alloc_array(j->ctx, (size_t)total + 1, 1, "join keys", (void **)&j->ok[side]);
  }
  /* (A failure here is returned as is: the caller agrees on it under MPI.) */
  return tsr__join_run(j, status, "frame_join_keys", encode_kernel,
                       j->side[0]->nchunks + j->side[1]->nchunks);
}
