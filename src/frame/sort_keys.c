/* sort_keys.c — sort keys as bit fields of uint64 words (sort_impl.h).
 *
 * Each value is first normalized to a uint64 whose unsigned order is the
 * sort order (core/order.h's keys: signs flipped, dictionary codes as they
 * are since the dictionary is sorted, floats by their bits with -0.0 made
 * 0.0 and every NaN the largest value).  The statistics give each key's range [lo, lo + span] over its
 * non-null rows, and its field codes a value c = v - lo (descending:
 * lo + span - v) in bitlen(span) bits; nulls take code 0 (first) or
 * span + 1 (last) when that fits, else a bit of their own in front.  A
 * key whose values are all equal takes no bits at all.  Strings take
 * their first min(max length, 16) bytes, zero padded (complemented when
 * descending), then their length capped at 17: comparing those words is
 * comparing the strings by bytes then length, except between two strings
 * longer than 16 bytes with equal prefixes, which tsr__sort_cmp then
 * compares whole before any later key's field.
 *
 * Encoding runs per key over blocks of rows: a typed loop normalizes a
 * block, a generic loop places the codes, so no row pays a type switch. */
#include <string.h>

#include "core/order.h"
#include "sort_impl.h"

#define BLOCK 1024

static int bitlen(uint64_t v) { return v == 0 ? 0 : 64 - __builtin_clzll(v); }

/* The normalized values of rows [r0, r0 + n) of a fixed-width column
 * (core/order.h's keys). */
static void normalize(tsr_type t, const void *values, int64_t r0, int64_t n, uint64_t *out) {
  tsr__okeys(t, (const unsigned char *)values + (size_t)r0 * tsr_type_width(t), n, false, out);
}

void tsr__sort_colread(const tsr__colref *ref, const void *buf, size_t bytes, tsr__colread *out) {
  if (ref->raw) {
    out->rows = (int64_t)(bytes / tsr_type_width(ref->type));
    out->null_count = 0;
    out->values = buf;
    out->validity = NULL;
    out->data = NULL;
    out->data_bytes = 0;
    return;
  }
  tsr__colread_of(buf, ref->slot, out);
}

void tsr__sort_stats(const tsr__sorter *s, const tsr__colread *cols, tsr__kstat *out) {
  uint64_t buf[BLOCK];
  for (int k = 0; k < s->nkeys; k++) {
    const tsr__skey *key = &s->keys[k];
    const tsr__colread *r = &cols[k];
    tsr__kstat st = {UINT64_MAX, 0, 0, r->null_count, 0};
    st.valid = r->rows - r->null_count;
    if (key->ref.type.id == TSR_COL_STRING) {
      const tsr_string_view *v = r->values;
      uint64_t m = 0;
      for (int64_t i = 0; i < r->rows; i++) {
        uint64_t len = (r->validity == NULL || tsr__bit_get(r->validity, i)) ? v[i].length : 0;
        m = len > m ? len : m;
      }
      st.max_len = m;
      st.min = 0;
    } else {
      for (int64_t r0 = 0; r0 < r->rows; r0 += BLOCK) {
        int64_t n = r->rows - r0 < BLOCK ? r->rows - r0 : BLOCK;
        normalize(key->ref.type, r->values, r0, n, buf);
        uint64_t mn = st.min, mx = st.max;
        if (r->validity == NULL) {
          for (int64_t i = 0; i < n; i++) {
            mn = buf[i] < mn ? buf[i] : mn;
            mx = buf[i] > mx ? buf[i] : mx;
          }
        } else {
          for (int64_t i = 0; i < n; i++)
            if (tsr__bit_get(r->validity, r0 + i)) {
              mn = buf[i] < mn ? buf[i] : mn;
              mx = buf[i] > mx ? buf[i] : mx;
            }
        }
        st.min = mn;
        st.max = mx;
      }
    }
    out[k] = st;
  }
}

void tsr__sort_layout(tsr__sorter *s, const tsr__kstat *stats) {
  int pos = 0;
  s->ntrunc = 0;
  s->part_bits = 0;
  for (int k = 0; k < s->nkeys; k++) {
    if (k == s->npart)
      s->part_bits = pos;
    tsr__skey *key = &s->keys[k];
    uint64_t mn = UINT64_MAX, mx = 0, maxlen = 0;
    int64_t valid = 0, nulls = 0;
    for (int64_t c = 0; c < s->nchunks; c++) {
      const tsr__kstat *st = &stats[c * s->nkeys + k];
      valid += st->valid;
      nulls += st->nulls;
      if (st->valid > 0) {
        mn = st->min < mn ? st->min : mn;
        mx = st->max > mx ? st->max : mx;
      }
      maxlen = st->max_len > maxlen ? st->max_len : maxlen;
    }
    key->has_nulls = nulls > 0;
    key->any_valid = valid > 0;
    key->null_pos = -1;
    key->fold = false;
    key->pos = key->bits = 0;
    key->nbytes = 0;
    key->len_pos = key->len_bits = 0;
    key->len_max = 0;
    key->truncated = false;
    key->lo = key->span = 0;
    if (!key->any_valid)
      continue; /* all null (or no rows): every row equal */
    bool separate = false;
    if (key->ref.type.id == TSR_COL_STRING) {
      key->nbytes = (int)(maxlen < TSR__SORT_PREFIX ? maxlen : TSR__SORT_PREFIX);
      key->truncated = maxlen > TSR__SORT_PREFIX;
      key->len_max = key->truncated ? TSR__SORT_PREFIX + 1 : maxlen;
      separate = key->has_nulls;
    } else {
      key->lo = mn;
      key->span = mx - mn;
      if (key->has_nulls) {
        if (key->span < UINT64_MAX)
          key->fold = true;
        else
          separate = true;
      }
    }
    if (separate) {
      key->null_pos = pos;
      pos += 1;
    }
    if (key->ref.type.id == TSR_COL_STRING) {
      key->pos = pos;
      key->bits = key->nbytes * 8;
      pos += key->bits;
      key->len_pos = pos;
      key->len_bits = bitlen(key->len_max);
      pos += key->len_bits;
      if (key->truncated)
        s->trunc[s->ntrunc++] = k;
    } else {
      key->pos = pos;
      key->bits = bitlen(key->fold ? key->span + 1 : key->span);
      pos += key->bits;
    }
  }
  if (s->npart >= s->nkeys)
    s->part_bits = pos;
  s->W = (pos + 63) / 64;
}

/* ORs the nbits (1..64) low bits of v into the words at bit `pos` (from the
 * most significant bit of word 0). */
static inline void put_bits(uint64_t *w, int pos, int nbits, uint64_t v) {
  int word = pos >> 6, off = pos & 63;
  if (off + nbits <= 64) {
    w[word] |= v << (64 - off - nbits);
  } else {
    int lo = nbits - (64 - off);
    w[word] |= v >> lo;
    w[word + 1] |= v << (64 - lo);
  }
}

static void encode_fixed(const tsr__skey *key, const tsr__colread *r, int64_t n, int W,
                         uint64_t *words) {
  uint64_t buf[BLOCK];
  const uint64_t lo = key->lo, hi = key->lo + key->span;
  const bool desc = key->desc;
  const int pos = key->pos, bits = key->bits;
  /* Null codes and the offset of valid codes. */
  const uint64_t null_code = key->nulls_first ? 0 : key->span + 1;
  const uint64_t shift = key->fold && key->nulls_first ? 1 : 0;
  for (int64_t r0 = 0; r0 < n; r0 += BLOCK) {
    int64_t m = n - r0 < BLOCK ? n - r0 : BLOCK;
    normalize(key->ref.type, r->values, r0, m, buf);
    for (int64_t i = 0; i < m; i++)
      buf[i] = (desc ? hi - buf[i] : buf[i] - lo) + shift;
    uint64_t *w = words + r0 * W;
    if (r->validity == NULL) {
      if (bits > 0)
        for (int64_t i = 0; i < m; i++)
          put_bits(w + i * W, pos, bits, buf[i]);
      if (key->null_pos >= 0 && !key->nulls_first)
        continue; /* valid rows' null bit is 0 when nulls go last */
      if (key->null_pos >= 0)
        for (int64_t i = 0; i < m; i++)
          put_bits(w + i * W, key->null_pos, 1, 1);
      continue;
    }
    for (int64_t i = 0; i < m; i++) {
      bool valid = tsr__bit_get(r->validity, r0 + i);
      if (key->null_pos >= 0) {
        if (valid == key->nulls_first)
          put_bits(w + i * W, key->null_pos, 1, 1);
        if (valid && bits > 0)
          put_bits(w + i * W, pos, bits, buf[i]);
      } else if (bits > 0) {
        put_bits(w + i * W, pos, bits, valid ? buf[i] : null_code);
      }
    }
  }
}

static void encode_string(const tsr__skey *key, const tsr__colread *r, int64_t n, int W,
                          uint64_t *words) {
  const tsr_string_view *views = r->values;
  const int nbytes = key->nbytes;
  const bool desc = key->desc;
  unsigned char tmp[TSR__SORT_PREFIX + 8];
  for (int64_t i = 0; i < n; i++) {
    uint64_t *w = words + i * W;
    bool valid = r->validity == NULL || tsr__bit_get(r->validity, i);
    if (key->null_pos >= 0 && valid == key->nulls_first)
      put_bits(w, key->null_pos, 1, 1);
    if (!valid)
      continue;
    const tsr_string_view *v = &views[i];
    uint32_t len = v->length;
    const char *p = tsr_string_view_data(v, r->data);
    memset(tmp, 0, sizeof tmp);
    memcpy(tmp, p, len < (uint32_t)nbytes ? len : (uint32_t)nbytes);
    for (int b = 0; b < nbytes; b += 8) {
      int k = nbytes - b < 8 ? nbytes - b : 8;
      uint64_t x;
      memcpy(&x, tmp + b, 8);
      x = __builtin_bswap64(x) >> (64 - 8 * k);
      if (desc)
        x = ~x & (k == 8 ? UINT64_MAX : ((UINT64_C(1) << (8 * k)) - 1));
      put_bits(w, key->pos + 8 * b, 8 * k, x);
    }
    if (key->len_bits > 0) {
      uint64_t code = len < key->len_max ? len : key->len_max;
      put_bits(w, key->len_pos, key->len_bits, desc ? key->len_max - code : code);
    }
  }
}

void tsr__sort_encode(const tsr__sorter *s, const tsr__colread *cols, int64_t n, uint64_t *words) {
  const int W = s->W;
  if (W == 0 || n == 0)
    return;
  memset(words, 0, (size_t)n * (size_t)W * sizeof *words);
  for (int k = 0; k < s->nkeys; k++) {
    const tsr__skey *key = &s->keys[k];
    if (!key->any_valid)
      continue;
    if (key->ref.type.id == TSR_COL_STRING)
      encode_string(key, &cols[k], n, W, words);
    else
      encode_fixed(key, &cols[k], n, W, words);
  }
}

/* The bits [from, to) of two keys (bit 0: the most significant of word 0). */
static inline int cmp_bits_range(const uint64_t *a, const uint64_t *b, int from, int to) {
  for (int w = from >> 6; w * 64 < to; w++) {
    int lo = w * 64;
    uint64_t m = ~(uint64_t)0;
    if (from > lo)
      m &= ~(uint64_t)0 >> (from - lo);
    if (to < lo + 64)
      m &= ~(~(uint64_t)0 >> (to - lo));
    uint64_t x = a[w] & m, y = b[w] & m;
    if (x != y)
      return x < y ? -1 : 1;
  }
  return 0;
}

/* Key k (a truncated string key) of two rows, whole. */
static int cmp_whole(const tsr__skey *key, const tsr__colread *ca, int64_t ia,
                     const tsr__colread *cb, int64_t ib) {
  bool va = ca->validity == NULL || tsr__bit_get(ca->validity, ia);
  bool vb = cb->validity == NULL || tsr__bit_get(cb->validity, ib);
  if (!va || !vb) {
    if (va == vb)
      return 0;
    return (va ? 1 : -1) * (key->nulls_first ? 1 : -1);
  }
  const tsr_string_view *x = (const tsr_string_view *)ca->values + ia;
  const tsr_string_view *y = (const tsr_string_view *)cb->values + ib;
  uint32_t lx = x->length, ly = y->length;
  int c = memcmp(tsr_string_view_data(x, ca->data), tsr_string_view_data(y, cb->data),
                 lx < ly ? lx : ly);
  if (c == 0 && lx != ly)
    c = lx < ly ? -1 : 1;
  if (c == 0)
    return 0;
  return key->desc ? (c < 0 ? 1 : -1) : (c < 0 ? -1 : 1);
}

int tsr__sort_cmp(const tsr__sorter *s, const uint64_t *a, const uint64_t *b, int bits, int upto,
                  const tsr__colread *ca, int64_t ia, const tsr__colread *cb, int64_t ib) {
  int from = 0;
  for (int t = 0; t < s->ntrunc; t++) {
    int k = s->trunc[t];
    if (k >= upto)
      break;
    const tsr__skey *key = &s->keys[k];
    int end = key->len_pos + key->len_bits;
    int c = cmp_bits_range(a, b, from, end);
    if (c == 0)
      c = cmp_whole(key, &ca[k], ia, &cb[k], ib);
    if (c != 0)
      return c;
    from = end;
  }
  return cmp_bits_range(a, b, from, bits);
}
