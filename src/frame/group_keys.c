/* group_keys.c — group-by keys to dense group ids (docs/frames.md,
 * "Group-by"): owned column buffers, per-column key coders and the grouper.
 *
 * Each key column is first coded on its own: values of integer types
 * (bools, dictionary codes, dates, timestamps, ints) whose range is small
 * become their offset from the minimum (a "perfect hash"); other values
 * (strings, floats, wide-range integers) go through an open-addressing hash
 * table (power-of-two slots, at most 2/3 full, grown between batches of rows,
 * never per insert; probes prefetched ahead; 64-bit keys and strings of at
 * most 12 bytes are kept whole in their slot, longer strings as length,
 * prefix and full hash, confirmed by their bytes) that numbers them in
 * first-seen order.  Null is code 0.
 * Floats are coded by their bits after mapping every NaN to one NaN and
 * -0.0 to 0.0.
 *
 * The grouper then combines the k code columns of a batch: when the
 * product of their code counts is small, the combined code indexes a map
 * directly; otherwise codes are bit-packed into 64-bit keys (db-benchmark
 * q10's six keys take 62 bits) and numbered by a hash table of 64-bit keys;
 * keys needing more than 64 bits are folded: the first columns' packed key
 * is numbered first and its number packed with the next columns.  Groups
 * are numbered in the order of their first row.  One string key without
 * nulls is grouped bucket by bucket instead (gb_group_str_buckets, at the
 * end), so that each bucket's table stays in the L1 cache.  Every loop is
 * over one column of one type: no per-row type dispatch, no per-row
 * allocation. */
#include <math.h>
#include <string.h>

#include "groupby_impl.h"

#define BATCH 2048
#define SIGN64 (UINT64_C(1) << 63)

/* ---- owned columns ------------------------------------------------------------- */

void gb_col_free(tsr_ctx *ctx, gb_col *c) {
  if (!c->borrowed) {
    tsr_free(ctx, c->values);
    tsr_free(ctx, c->validity);
    tsr_free(ctx, c->data);
  }
  c->values = NULL;
  c->validity = NULL;
  c->data = NULL;
  c->borrowed = false;
  c->n = 0;
}

void gb_col_read(const gb_col *c, tsr__colread *out) {
  out->rows = c->n;
  out->null_count = c->nulls;
  out->values = c->values;
  out->validity = c->nulls > 0 ? c->validity : NULL;
  out->data = c->data;
}

tsr_status gb_col_gather(tsr_ctx *ctx, const gb_run *r, tsr_type type, const int32_t *rows,
                         const uint8_t *chunk, int64_t n, gb_col *out) {
  memset(out, 0, sizeof *out);
  out->type = type;
  out->n = n;
  size_t w = tsr_type_width(type);
  TSR_TRY(tsr_alloc(ctx, (size_t)n * w + 1, &out->values));
  tsr_status st = tsr_alloc(ctx, (size_t)(n + 7) / 8 + 1, (void **)&out->validity);
  if (st != TSR_OK)
    goto fail;
  memset(out->validity, 0xff, (size_t)(n + 7) / 8 + 1);
  unsigned char *dst = out->values;
  /* Row i is row rows[i] - off[c] of chunk c = CH(i). */
#define CH(i) (chunk != NULL ? chunk[i] : 0)
#define GATHER(T)                                                                           \
  for (int64_t i = 0; i < n; i++) {                                                         \
    int64_t c = CH(i);                                                                      \
    ((T *)dst)[i] = rows[i] >= 0 ? ((const T *)r->c[c].values)[rows[i] - r->off[c]] : (T)0; \
  }
  switch (w) {
  case 1:
    GATHER(uint8_t)
    break;
  case 2:
    GATHER(uint16_t)
    break;
  case 4:
    GATHER(uint32_t)
    break;
  case 8:
    GATHER(uint64_t)
    break;
  default: /* string views */
    for (int64_t i = 0; i < n; i++) {
      int64_t c = CH(i);
      if (rows[i] >= 0)
        memcpy(dst + (size_t)i * 16,
               (const unsigned char *)r->c[c].values + (size_t)(rows[i] - r->off[c]) * 16, 16);
      else
        memset(dst + (size_t)i * 16, 0, 16);
    }
    break;
  }
#undef GATHER
  for (int64_t i = 0; i < n; i++) {
    int64_t c = CH(i);
    const uint8_t *bits = r->c[c].validity;
    bool valid = rows[i] >= 0 && (bits == NULL || tsr__bit_get(bits, rows[i] - r->off[c]));
    if (!valid) {
      tsr__bit_set(out->validity, i, false);
      out->nulls++;
    }
  }
  if (type.id == TSR_COL_STRING) {
    tsr_string_view *v = out->values;
    size_t bytes = 0;
    for (int64_t i = 0; i < n; i++)
      if (v[i].length > 12)
        bytes += v[i].length;
    st = tsr_alloc(ctx, bytes + 1, (void **)&out->data);
    if (st != TSR_OK)
      goto fail;
    for (int64_t i = 0; i < n; i++)
      if (v[i].length > 12) {
        memcpy(out->data + out->data_bytes, r->c[CH(i)].data + v[i].u.ref.offset, v[i].length);
        v[i].u.ref.offset = (uint32_t)out->data_bytes;
        out->data_bytes += v[i].length;
      }
  }
#undef CH
  return TSR_OK;
fail:
  gb_col_free(ctx, out);
  return st;
}

/* ---- hashing ------------------------------------------------------------------- */

static inline uint64_t fmix64(uint64_t h) {
  h ^= h >> 33;
  h *= UINT64_C(0xff51afd7ed558ccd);
  h ^= h >> 33;
  h *= UINT64_C(0xc4ceb9fe1a85ec53);
  h ^= h >> 33;
  return h;
}

static inline uint64_t hash_bytes(const char *p, uint32_t n) {
  uint64_t h = UINT64_C(0x9E3779B97F4A7C15) ^ ((uint64_t)n * UINT64_C(0xc2b2ae3d27d4eb4f));
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  if (n > 0) {
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * UINT64_C(0xc4ceb9fe1a85ec53);
  }
  return fmix64(h);
}

/* ---- a hash table of 64-bit keys -> numbers (first-seen) ------------------------ */

typedef struct u64slot {
  uint64_t key;
  uint64_t id; /* number + 1; 0: empty */
} u64slot;

typedef struct u64table {
  u64slot *slots;
  uint64_t mask; /* slots - 1 */
  uint64_t size;
} u64table;

static void u64table_free(tsr_ctx *ctx, u64table *t) {
  tsr_free(ctx, t->slots);
  memset(t, 0, sizeof *t);
}

/* Makes room for `more` inserts (at most 2/3 full afterwards). */
static tsr_status u64table_reserve(tsr_ctx *ctx, u64table *t, uint64_t more) {
  uint64_t need = t->size + more;
  uint64_t cap = t->slots ? t->mask + 1 : 0;
  if (need * 3 <= cap * 2)
    return TSR_OK;
  uint64_t ncap = cap ? cap : 1024;
  while (need * 3 > ncap * 2)
    ncap *= 2;
  u64slot *s;
  TSR_TRY(tsr_calloc(ctx, ncap, sizeof *s, (void **)&s));
  for (uint64_t i = 0; i < cap; i++)
    if (t->slots[i].id != 0) {
      uint64_t j = fmix64(t->slots[i].key) & (ncap - 1);
      while (s[j].id != 0)
        j = (j + 1) & (ncap - 1);
      s[j] = t->slots[i];
    }
  tsr_free(ctx, t->slots);
  t->slots = s;
  t->mask = ncap - 1;
  return TSR_OK;
}

/* The key's number (numbered from `base` in first-seen order); the table
 * must have room. */
static inline uint64_t u64table_get_h(u64table *t, uint64_t key, uint64_t h, uint64_t base) {
  uint64_t j = h & t->mask;
  for (;;) {
    u64slot *s = &t->slots[j];
    if (s->id == 0) {
      s->key = key;
      s->id = base + t->size + 1;
      t->size++;
      return s->id - 1;
    }
    if (s->key == key)
      return s->id - 1;
    j = (j + 1) & t->mask;
  }
}

/* Prefetch distance (rows) for hash table probes: the slots of row i + PF
 * are loaded while row i is probed. */
#define PF 16

/* Numbers keys[0..n) (hashes h) through t, prefetching ahead. */
static inline void u64table_run(u64table *t, const uint64_t *keys, const uint64_t *h, int64_t n,
                                uint64_t base, uint64_t *out) {
  for (int64_t i = 0; i < n; i++) {
    if (i + PF < n)
      __builtin_prefetch(&t->slots[h[i + PF] & t->mask], 1);
    out[i] = u64table_get_h(t, keys[i], h[i], base);
  }
}

/* ---- key coders ----------------------------------------------------------------- */

typedef struct strkey {
  const char *p;
  uint32_t len;
} strkey;

typedef struct sslot {
  uint64_t a, b;
  uint64_t code;
} sslot;

enum { MODE_RANGE = 0, MODE_HASH, MODE_STR };

struct gb_coder {
  tsr_ctx *ctx;
  tsr_type type;
  int mode;
  uint64_t lo;     /* MODE_RANGE: the order-mapped minimum */
  uint64_t ncodes; /* codes so far (null is 0) */
  u64table num;    /* MODE_HASH: order-mapped or normalized bits -> code - 1 */
  /* MODE_STR: slots hold a key (str_key) and its code (>= 1; 0: empty) */
  sslot *sslots;
  uint64_t smask;
  strkey *skeys; /* code -> string */
  uint64_t skeys_cap;
};

bool gb_type_rangeable(tsr_type type) {
  switch (type.id) {
  case TSR_COL_FLOAT32:
  case TSR_COL_FLOAT64:
  case TSR_COL_STRING:
    return false;
  default:
    return true;
  }
}

/* Order-mapped integers: signed values with the sign bit flipped, so that
 * unsigned comparison and subtraction of mapped values is the values'. */
#define FOR_INT_TYPES(X)            \
  X(TSR_COL_BOOL, uint8_t, 0)       \
  X(TSR_COL_INT8, int8_t, SIGN64)   \
  X(TSR_COL_INT16, int16_t, SIGN64) \
  X(TSR_COL_INT32, int32_t, SIGN64) \
  X(TSR_COL_INT64, int64_t, SIGN64) \
  X(TSR_COL_UINT8, uint8_t, 0)      \
  X(TSR_COL_UINT16, uint16_t, 0)    \
  X(TSR_COL_UINT32, uint32_t, 0)    \
  X(TSR_COL_UINT64, uint64_t, 0)    \
  X(TSR_COL_DICT, int32_t, SIGN64)  \
  X(TSR_COL_DATE, int32_t, SIGN64)  \
  X(TSR_COL_TIMESTAMP, int64_t, SIGN64)

/* Without nulls, four minima and maxima at once: one would wait on the
 * previous row's compare and move. */
void gb_minmax(const tsr__colread *r, tsr_type type, uint64_t *lo, uint64_t *hi) {
  uint64_t mn = UINT64_MAX, mx = 0;
  int64_t n = r->rows;
  const uint8_t *bits = r->validity;
#define MM(ID, T, FLIP)                                      \
  case ID: {                                                 \
    const T *v = r->values;                                  \
    if (bits == NULL) {                                      \
      uint64_t mn4[4] = {mn, mn, mn, mn}, mx4[4] = {0};      \
      int64_t i = 0;                                         \
      for (; i + 4 <= n; i += 4)                             \
        for (int l = 0; l < 4; l++) {                        \
          uint64_t u = (uint64_t)(int64_t)v[i + l] ^ (FLIP); \
          mn4[l] = u < mn4[l] ? u : mn4[l];                  \
          mx4[l] = u > mx4[l] ? u : mx4[l];                  \
        }                                                    \
      for (; i < n; i++) {                                   \
        uint64_t u = (uint64_t)(int64_t)v[i] ^ (FLIP);       \
        mn = u < mn ? u : mn;                                \
        mx = u > mx ? u : mx;                                \
      }                                                      \
      for (int l = 0; l < 4; l++) {                          \
        mn = mn4[l] < mn ? mn4[l] : mn;                      \
        mx = mx4[l] > mx ? mx4[l] : mx;                      \
      }                                                      \
    } else {                                                 \
      for (int64_t i = 0; i < n; i++) {                      \
        if (!tsr__bit_get(bits, i))                          \
          continue;                                          \
        uint64_t u = (uint64_t)(int64_t)v[i] ^ (FLIP);       \
        mn = u < mn ? u : mn;                                \
        mx = u > mx ? u : mx;                                \
      }                                                      \
    }                                                        \
    break;                                                   \
  }
  switch (type.id) {
    FOR_INT_TYPES(MM)
  default:
    break;
  }
#undef MM
  if (mn > mx) {
    *lo = 1;
    *hi = 0;
    return;
  }
  *lo = mn;
  *hi = mx;
}

tsr_status gb_coder_create(tsr_ctx *ctx, tsr_type type, uint64_t lo, uint64_t hi, int64_t rows,
                           gb_coder **out) {
  gb_coder *c;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *c, (void **)&c));
  c->ctx = ctx;
  c->type = type;
  c->ncodes = 1;
  uint64_t limit = (uint64_t)(rows > 0 ? rows : 0) * 2;
  if (limit < (UINT64_C(1) << 16))
    limit = UINT64_C(1) << 16;
  if (limit > (UINT64_C(1) << 24))
    limit = UINT64_C(1) << 24;
  if (type.id == TSR_COL_STRING) {
    c->mode = MODE_STR;
  } else if (gb_type_rangeable(type) && (lo > hi || hi - lo < limit)) {
    c->mode = MODE_RANGE;
    c->lo = lo;
    c->ncodes = lo > hi ? 1 : hi - lo + 2;
  } else {
    c->mode = MODE_HASH;
  }
  *out = c;
  return TSR_OK;
}

void gb_coder_destroy(gb_coder **cp) {
  gb_coder *c = *cp;
  if (c == NULL)
    return;
  *cp = NULL;
  u64table_free(c->ctx, &c->num);
  tsr_free(c->ctx, c->sslots);
  tsr_free(c->ctx, c->skeys);
  tsr_free(c->ctx, c);
}

uint64_t gb_coder_ncodes(const gb_coder *c) { return c->ncodes; }

/* Nulls to code 0 after a coding loop that ignored validity. */
static void zero_nulls(const tsr__colread *r, uint32_t *codes) {
  if (r->validity == NULL)
    return;
  for (int64_t i = 0; i < r->rows; i++)
    codes[i] = tsr__bit_get(r->validity, i) ? codes[i] : 0;
}

static void code_range(gb_coder *c, const tsr__colread *r, uint32_t *codes) {
  int64_t n = r->rows;
  uint64_t lo = c->lo;
  if (c->ncodes == 1) { /* no valid values when created: every value is null */
    memset(codes, 0, (size_t)n * sizeof *codes);
    return;
  }
#define RC(ID, T, FLIP)                                                   \
  case ID: {                                                              \
    const T *v = r->values;                                               \
    for (int64_t i = 0; i < n; i++)                                       \
      codes[i] = (uint32_t)(((uint64_t)(int64_t)v[i] ^ (FLIP)) - lo + 1); \
    break;                                                                \
  }
  switch (c->type.id) {
    FOR_INT_TYPES(RC)
  default:
    break;
  }
#undef RC
  zero_nulls(r, codes);
}

static inline uint64_t norm_f64(double d) {
  uint64_t u;
  if (d != d)
    return UINT64_C(0x7ff8000000000000);
  if (d == 0)
    d = 0.0;
  memcpy(&u, &d, 8);
  return u;
}

static tsr_status code_hash(gb_coder *c, const tsr__colread *r, uint32_t *codes) {
  int64_t n = r->rows;
  const uint8_t *bits = r->validity;
  for (int64_t b = 0; b < n; b += BATCH) {
    int64_t e = b + BATCH < n ? b + BATCH : n;
    TSR_TRY(u64table_reserve(c->ctx, &c->num, (uint64_t)(e - b)));
    uint64_t keys[BATCH];
    switch (c->type.id) {
#define HK(ID, T, FLIP)                               \
  case ID: {                                          \
    const T *v = r->values;                           \
    for (int64_t i = b; i < e; i++)                   \
      keys[i - b] = (uint64_t)(int64_t)v[i] ^ (FLIP); \
    break;                                            \
  }
      FOR_INT_TYPES(HK)
#undef HK
    case TSR_COL_FLOAT32: {
      const float *v = r->values;
      for (int64_t i = b; i < e; i++)
        keys[i - b] = norm_f64((double)v[i]);
      break;
    }
    case TSR_COL_FLOAT64: {
      const double *v = r->values;
      for (int64_t i = b; i < e; i++)
        keys[i - b] = norm_f64(v[i]);
      break;
    }
    default:
      break;
    }
    uint64_t h[BATCH], got[BATCH];
    int64_t m = 0;
    for (int64_t i = b; i < e; i++) /* the valid values, packed */
      if (bits == NULL || tsr__bit_get(bits, i))
        keys[m++] = keys[i - b];
    for (int64_t i = 0; i < m; i++)
      h[i] = fmix64(keys[i]);
    u64table_run(&c->num, keys, h, m, 1, got);
    m = 0;
    for (int64_t i = b; i < e; i++)
      codes[i] = bits == NULL || tsr__bit_get(bits, i) ? (uint32_t)got[m++] : 0;
  }
  c->ncodes = c->num.size + 1;
  return TSR_OK;
}

/* A string's slot key (a, b), read from its 16-byte view: a string of at
 * most 12 bytes is its view's two words with the bytes past its length
 * masked off (exact: a holds the length and the first 4 bytes, b the next
 * 8), a longer one its bytes' hash (with bit 31 set, so that it never
 * equals a short string's first word, whose low 32 bits are its length <=
 * 12) and its length and 4-byte prefix, confirmed by comparing the bytes.
 * Only the view is read for short strings: no copy, no call. */
static inline void view_key(const tsr_string_view *v, const char *data, uint64_t *a, uint64_t *b) {
  uint32_t len = v->length;
  if (len <= 12) {
    uint64_t w0, w1;
    memcpy(&w0, v, 8);
    memcpy(&w1, (const char *)v + 8, 8);
    uint32_t n0 = len < 4 ? len : 4, n1 = len > 4 ? len - 4 : 0;
    *a = n0 == 4 ? w0 : w0 & ((UINT64_C(1) << (32 + 8 * n0)) - 1);
    *b = n1 == 8 ? w1 : w1 & ((UINT64_C(1) << (8 * n1)) - 1);
    return;
  }
  uint32_t prefix;
  memcpy(&prefix, v->u.ref.prefix, 4);
  *a = hash_bytes(data + v->u.ref.offset, len) | UINT64_C(0x80000000);
  *b = (uint64_t)len << 32 | prefix;
}

/* The hash of a slot key. */
static inline uint64_t key_hash(uint64_t a, uint64_t b) {
  return fmix64(a ^ (b * UINT64_C(0x9E3779B97F4A7C15)));
}

static tsr_status str_reserve(gb_coder *c, uint64_t more) {
  uint64_t size = c->ncodes - 1, need = size + more;
  if (c->ncodes + more > c->skeys_cap) {
    uint64_t cap = c->skeys_cap ? c->skeys_cap : 1024;
    while (cap < c->ncodes + more)
      cap *= 2;
    strkey *k;
    TSR_TRY(tsr_alloc(c->ctx, cap * sizeof *k, (void **)&k));
    if (c->skeys != NULL)
      memcpy(k, c->skeys, c->ncodes * sizeof *k);
    tsr_free(c->ctx, c->skeys);
    c->skeys = k;
    c->skeys_cap = cap;
  }
  uint64_t cap = c->sslots ? c->smask + 1 : 0;
  if (need * 3 <= cap * 2)
    return TSR_OK;
  uint64_t ncap = cap ? cap : 1024;
  while (need * 3 > ncap * 2)
    ncap *= 2;
  sslot *s;
  TSR_TRY(tsr_calloc(c->ctx, ncap, sizeof *s, (void **)&s));
  for (uint64_t i = 0; i < cap; i++)
    if (c->sslots[i].code != 0) {
      uint64_t j = key_hash(c->sslots[i].a, c->sslots[i].b) & (ncap - 1);
      while (s[j].code != 0)
        j = (j + 1) & (ncap - 1);
      s[j] = c->sslots[i];
    }
  tsr_free(c->ctx, c->sslots);
  c->sslots = s;
  c->smask = ncap - 1;
  return TSR_OK;
}

static tsr_status code_str(gb_coder *c, const tsr__colread *r, uint32_t *codes) {
  int64_t n = r->rows;
  const uint8_t *bits = r->validity;
  const tsr_string_view *v = r->values;
  for (int64_t b0 = 0; b0 < n; b0 += BATCH) {
    int64_t e = b0 + BATCH < n ? b0 + BATCH : n;
    /* When most of the first batch's values were new, expect most of the
     * rest to be new too: make room for them at once rather than growing
     * (and rehashing) the table many times.  The table's size changes no
     * code. */
    uint64_t more = (uint64_t)(e - b0);
    if (b0 == BATCH && c->ncodes - 1 > BATCH / 2)
      more = (uint64_t)(n - b0);
    TSR_TRY(str_reserve(c, more));
    sslot *slots = c->sslots;
    uint64_t mask = c->smask;
    uint64_t ka[BATCH], kb[BATCH], kh[BATCH];
    int32_t row[BATCH];
    int64_t m = 0;
    for (int64_t i = b0; i < e; i++) {
      codes[i] = 0;
      if (bits != NULL && !tsr__bit_get(bits, i))
        continue;
      view_key(&v[i], r->data, &ka[m], &kb[m]);
      kh[m] = key_hash(ka[m], kb[m]);
      row[m++] = (int32_t)i;
    }
    for (int64_t q = 0; q < m; q++) {
      if (q + PF < m)
        __builtin_prefetch(&slots[kh[q + PF] & mask], 1);
      int64_t i = row[q];
      uint64_t a = ka[q], b = kb[q];
      uint32_t len = v[i].length;
      const char *p = tsr_string_view_data(&v[i], r->data);
      uint64_t j = kh[q] & mask;
      for (;;) {
        sslot *s = &slots[j];
        if (s->code == 0) {
          uint32_t code = (uint32_t)c->ncodes++;
          c->skeys[code].p = p;
          c->skeys[code].len = len;
          s->a = a;
          s->b = b;
          s->code = code;
          codes[i] = code;
          break;
        }
        if (s->a == a && s->b == b && (len <= 12 || memcmp(c->skeys[s->code].p, p, len) == 0)) {
          codes[i] = (uint32_t)s->code;
          break;
        }
        j = (j + 1) & mask;
      }
    }
  }
  return TSR_OK;
}

void gb_hash_col(const tsr__colread *r, tsr_type type, const int32_t *rows, int64_t n, bool combine,
                 uint64_t *h) {
  const uint8_t *bits = r->validity;
#define ROW(i) (rows != NULL ? (int64_t)rows[i] : (i))
  for (int64_t b0 = 0; b0 < n; b0 += BATCH) {
    int64_t e = b0 + BATCH < n ? b0 + BATCH : n;
    uint64_t x[BATCH];
    switch (type.id) {
#define HC(ID, T, FLIP)                                          \
  case ID: {                                                     \
    const T *v = r->values;                                      \
    for (int64_t i = b0; i < e; i++)                             \
      x[i - b0] = fmix64((uint64_t)(int64_t)v[ROW(i)] ^ (FLIP)); \
    break;                                                       \
  }
      FOR_INT_TYPES(HC)
#undef HC
    case TSR_COL_FLOAT32: {
      const float *v = r->values;
      for (int64_t i = b0; i < e; i++)
        x[i - b0] = fmix64(norm_f64((double)v[ROW(i)]));
      break;
    }
    case TSR_COL_FLOAT64: {
      const double *v = r->values;
      for (int64_t i = b0; i < e; i++)
        x[i - b0] = fmix64(norm_f64(v[ROW(i)]));
      break;
    }
    default: { /* strings */
      const tsr_string_view *v = r->values;
      for (int64_t i = b0; i < e; i++) {
        uint64_t a = 0, b = 0;
        if (bits == NULL || tsr__bit_get(bits, ROW(i))) /* a null's view may point anywhere */
          view_key(&v[ROW(i)], r->data, &a, &b);
        x[i - b0] = key_hash(a, b);
      }
      break;
    }
    }
    if (bits != NULL)
      for (int64_t i = b0; i < e; i++)
        x[i - b0] = tsr__bit_get(bits, ROW(i)) ? x[i - b0] : UINT64_C(0x5bd1e9955bd1e995);
    if (combine)
      for (int64_t i = b0; i < e; i++)
        h[i] = fmix64(h[i] * UINT64_C(0x9E3779B97F4A7C15) + x[i - b0]);
    else
      memcpy(h + b0, x, (size_t)(e - b0) * sizeof *h);
  }
#undef ROW
}

tsr_status gb_coder_code(gb_coder *c, const tsr__colread *r, uint32_t *codes) {
  switch (c->mode) {
  case MODE_RANGE:
    code_range(c, r, codes);
    break;
  case MODE_HASH:
    TSR_TRY(code_hash(c, r, codes));
    break;
  default:
    TSR_TRY(code_str(c, r, codes));
    break;
  }
  TSR_CHECK(c->ncodes < (UINT64_C(1) << 32), TSR_ENOTSUP,
            "group-by: more than 2^32 distinct values in one key column");
  return TSR_OK;
}

/* ---- the grouper ---------------------------------------------------------------- */

static int bits_for(uint64_t n) { /* bits to hold 0..n-1 */
  int b = 0;
  while (b < 64 && (UINT64_C(1) << b) < n)
    b++;
  return b;
}

/* Numbers the 64-bit keys[0..n) in first-seen order into ids; *ngroups. */
static tsr_status number_keys(tsr_ctx *ctx, const uint64_t *keys, int64_t n, int32_t *ids,
                              int64_t *ngroups, int32_t *first) {
  u64table t = {0};
  tsr_status st = TSR_OK;
  for (int64_t b = 0; b < n && st == TSR_OK; b += BATCH) {
    int64_t e = b + BATCH < n ? b + BATCH : n;
    st = u64table_reserve(ctx, &t, (uint64_t)(e - b));
    if (st != TSR_OK)
      break;
    uint64_t h[BATCH], got[BATCH];
    for (int64_t i = b; i < e; i++)
      h[i - b] = fmix64(keys[i]);
    uint64_t before = t.size;
    u64table_run(&t, keys + b, h, e - b, 0, got);
    for (int64_t i = b; i < e; i++) {
      ids[i] = (int32_t)got[i - b];
      if (first != NULL && got[i - b] >= before) { /* a new group's first row */
        first[got[i - b]] = (int32_t)i;
        before = got[i - b] + 1;
      }
    }
  }
  *ngroups = (int64_t)t.size;
  u64table_free(ctx, &t);
  return st;
}

tsr_status gb_group_codes(tsr_ctx *ctx, int k, uint32_t *const *codes, const uint64_t *ncodes,
                          int64_t n, int32_t *ids, int64_t *ngroups, int32_t *first) {
  TSR_CHECK(n < INT32_MAX, TSR_ENOTSUP, "group-by: %lld rows in one batch (at most 2^31 - 1)",
            (long long)n);
  if (k == 0 || n == 0) {
    memset(ids, 0, (size_t)n * sizeof *ids);
    *ngroups = n > 0 ? 1 : 0;
    if (first != NULL && n > 0)
      first[0] = 0;
    return TSR_OK;
  }
  uint64_t limit = (uint64_t)n * 2;
  if (limit < (UINT64_C(1) << 16))
    limit = UINT64_C(1) << 16;
  if (limit > (UINT64_C(1) << 24))
    limit = UINT64_C(1) << 24;
  uint64_t prod = 1;
  for (int j = 0; j < k && prod <= limit; j++)
    prod = ncodes[j] > limit ? limit + 1 : prod * ncodes[j];
  tsr_status st = TSR_OK;
  if (prod <= limit) {
    /* Direct: the mixed-radix combined code indexes a map. */
    int32_t *map = NULL;
    uint32_t *comb = NULL;
    TSR_TRY(tsr__alloc_array(ctx, (size_t)prod, sizeof *map, "group map", (void **)&map));
    memset(map, 0xff, (size_t)prod * sizeof *map);
    const uint32_t *key = codes[0];
    if (k > 1) {
      st = tsr__alloc_array(ctx, (size_t)n, sizeof *comb, "group keys", (void **)&comb);
      if (st != TSR_OK) {
        tsr_free(ctx, map);
        return st;
      }
      memcpy(comb, codes[k - 1], (size_t)n * sizeof *comb);
      for (int j = k - 2; j >= 0; j--) {
        uint32_t m = (uint32_t)ncodes[j];
        const uint32_t *c = codes[j];
        for (int64_t i = 0; i < n; i++)
          comb[i] = comb[i] * m + c[i];
      }
      key = comb;
    }
    int32_t g = 0;
    for (int64_t i = 0; i < n; i++) {
      int32_t id = map[key[i]];
      if (id < 0) {
        id = map[key[i]] = g++;
        if (first != NULL)
          first[id] = (int32_t)i;
      }
      ids[i] = id;
    }
    *ngroups = g;
    tsr_free(ctx, comb);
    tsr_free(ctx, map);
    return TSR_OK;
  }
  /* Bit-packed 64-bit keys, folded when they need more than 64 bits. */
  uint64_t *packed = NULL;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)n, sizeof *packed, "group keys", (void **)&packed));
  memset(packed, 0, (size_t)n * sizeof *packed);
  int used = 0;
  for (int j = 0; j < k && st == TSR_OK; j++) {
    int b = bits_for(ncodes[j]);
    if (used + b > 64) {
      int64_t ng = 0;
      st = number_keys(ctx, packed, n, ids, &ng, NULL);
      if (st != TSR_OK)
        break;
      for (int64_t i = 0; i < n; i++)
        packed[i] = (uint64_t)(uint32_t)ids[i];
      used = bits_for((uint64_t)ng);
    }
    const uint32_t *c = codes[j];
    if (b == 64 || used == 0)
      for (int64_t i = 0; i < n; i++)
        packed[i] = c[i];
    else
      for (int64_t i = 0; i < n; i++)
        packed[i] = packed[i] << b | c[i];
    used += b;
  }
  if (st == TSR_OK)
    st = number_keys(ctx, packed, n, ids, ngroups, first);
  tsr_free(ctx, packed);
  return st;
}

/* ---- one string key, grouped bucket by bucket ---------------------------------- */

/* A chunk's rows of one string key without nulls go into buckets by the
 * top `bits` bits of their hash (gb_hash_col's): a first pass keys every
 * view (view_key: the view's two words for short strings) and counts the
 * buckets, a second scatters (key, row) records into bucket order (stable:
 * row order within a bucket), and each bucket's records are then grouped
 * in turn through a table that holds that bucket's strings only: a few
 * hundred slots that stay in the L1 cache, read in order, where one table
 * for the whole chunk (tens of thousands of strings, megabytes) misses the
 * cache on nearly every row.  The table is allocated once and never
 * cleared: a slot belongs to bucket b when its stamp is b + 1. */
typedef struct bslot {
  uint64_t a, b;
  uint32_t stamp; /* bucket + 1; other values: empty for this bucket */
  int32_t id;
} bslot;

typedef struct brec {
  uint64_t a, b;
  int32_t row;
  uint32_t h; /* the hash's low bits */
} brec;

/* The view of the run's row `row` and its chunk's data (*data). */
static inline const tsr_string_view *run_view(const gb_run *r, int64_t row, const char **data) {
  int64_t c = gb_run_chunk(r, row);
  *data = r->c[c].data;
  return (const tsr_string_view *)r->c[c].values + (row - r->off[c]);
}

/* The bytes of the run's row `row`. */
static inline const char *run_bytes(const gb_run *r, int64_t row) {
  const char *data;
  const tsr_string_view *v = run_view(r, row, &data);
  return tsr_string_view_data(v, data);
}

/* Grows the bucket table to cap slots (stamps start afresh) and inserts
 * the current bucket's groups lo..hi - 1 again, keyed from their first rows. */
static tsr_status bslots_grow(tsr_ctx *ctx, const gb_run *r, bslot **slots, uint64_t cap,
                              uint32_t stamp, const int32_t *first, int32_t lo, int32_t hi) {
  bslot *s;
  TSR_TRY(tsr_calloc(ctx, cap, sizeof *s, (void **)&s));
  tsr_free(ctx, *slots);
  *slots = s;
  for (int32_t gi = lo; gi < hi; gi++) {
    uint64_t a, b;
    const char *data;
    const tsr_string_view *v = run_view(r, first[gi], &data);
    view_key(v, data, &a, &b);
    uint64_t j = (uint32_t)key_hash(a, b) & (cap - 1);
    while (s[j].stamp == stamp)
      j = (j + 1) & (cap - 1);
    s[j] = (bslot){a, b, stamp, gi};
  }
  return TSR_OK;
}

tsr_status gb_group_str_buckets(tsr_ctx *ctx, const gb_run *r, int bits, int32_t *ids,
                                int64_t *ngroups, int32_t *first, int64_t *boff) {
  int64_t n = r->off[r->n], nb = INT64_C(1) << bits;
  uint64_t *kh = NULL;
  brec *rec = NULL;
  int64_t *cur = NULL;
  bslot *slots = NULL;
  tsr_status st = TSR_OK;
  TSR_CHECK(n < INT32_MAX, TSR_ENOTSUP, "group-by: %lld rows in one batch (at most 2^31 - 1)",
            (long long)n);
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)n * sizeof *kh + 8, (void **)&kh));
  TSR__TRY_GOTO(st, tsr_kernel_alloc(ctx, (size_t)n * sizeof *rec + 8, (void **)&rec));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)nb + 1, sizeof *cur, (void **)&cur));
  /* Only the hashes are kept between the passes: keying a short string
   * again (its view's words) costs less than writing and reading the key.
   * Each chunk's bounds and pointers are locals: the loops' stores could
   * alias r's fields, which would then be read again every row. */
  int shift = 64 - bits;
  for (int64_t c = 0; c < r->n; c++) {
    const tsr_string_view *v = r->c[c].values;
    const char *data = r->c[c].data;
    uint64_t *h = kh + r->off[c];
    int64_t m = r->c[c].rows;
    for (int64_t i = 0; i < m; i++) {
      uint64_t a, b;
      view_key(&v[i], data, &a, &b);
      h[i] = key_hash(a, b);
      cur[h[i] >> shift]++;
    }
  }
  boff[0] = 0;
  for (int64_t k = 0; k < nb; k++) {
    boff[k + 1] = boff[k] + cur[k];
    cur[k] = boff[k];
  }
  for (int64_t c = 0; c < r->n; c++) {
    const tsr_string_view *v = r->c[c].values;
    const char *data = r->c[c].data;
    const uint64_t *h = kh + r->off[c];
    int32_t row0 = (int32_t)r->off[c];
    int64_t m = r->c[c].rows;
    for (int64_t i = 0; i < m; i++) {
      uint64_t hi = h[i];
      brec *o = &rec[cur[hi >> shift]++];
      view_key(&v[i], data, &o->a, &o->b);
      o->row = row0 + (int32_t)i;
      o->h = (uint32_t)hi;
    }
  }
  /* The table is sized by the groups of a bucket, not its rows: it starts
   * small and doubles when a bucket fills half of it. */
  uint64_t cap = 256;
  uint64_t mask = cap - 1;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, cap, sizeof *slots, (void **)&slots));
  int32_t g = 0;
  for (int64_t k = 0; k < nb; k++) {
    int64_t lo = boff[k], hi = boff[k + 1];
    uint32_t stamp = (uint32_t)k + 1;
    int32_t g0 = g;
    boff[k] = g; /* from rows to groups */
    for (int64_t q = lo; q < hi; q++) {
      uint64_t a = rec[q].a, b = rec[q].b, j = rec[q].h & mask;
      int32_t i = rec[q].row;
      for (;;) {
        bslot *s = &slots[j];
        if (s->stamp != stamp) {
          s->a = a;
          s->b = b;
          s->stamp = stamp;
          s->id = g;
          first[g] = i;
          ids[i] = g++;
          if ((uint64_t)(g - g0) * 2 > cap) {
            cap *= 4;
            mask = cap - 1;
            TSR__TRY_GOTO(st, bslots_grow(ctx, r, &slots, cap, stamp, first, g0, g));
          }
          break;
        }
        if (s->a == a && s->b == b &&
            ((a & UINT64_C(0x80000000)) == 0 || /* short: the key is the string */
             memcmp(run_bytes(r, first[s->id]), run_bytes(r, i), (size_t)(b >> 32)) == 0)) {
          ids[i] = s->id;
          break;
        }
        j = (j + 1) & mask;
      }
    }
  }
  boff[nb] = g;
  *ngroups = g;
fail:
  tsr_free(ctx, kh);
  tsr_free(ctx, rec);
  tsr_free(ctx, cur);
  tsr_free(ctx, slots);
  return st;
}
