/* csv_impl.h — what the CSV scanner and parser share (io/ only): the
 * batch tokenizer, the value parsers (one function per type, used by both
 * so that the scan's verdict is the parse's), strings (unquoting, UTF-8)
 * and the hash of a field. */
#ifndef TSR_IO_CSV_IMPL_H
#define TSR_IO_CSV_IMPL_H

#include <math.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "csv.h"

#define CSV_BATCH 1024
/* Distance between two columns' field positions in a batch: not a multiple of
 * 4 KiB, so that one row's stores to every column do not share L1 sets. */
#define CSV_STRIDE (CSV_BATCH + 16)
#define CSV_PAD 64 /* bytes after a block in its buffer (a newline, then zeros) */

/* Field flags in the high bits of a length. */
#define CSV_QUOTED (1u << 31)
#define CSV_ESCAPED (1u << 30) /* holds doubled quotes */
#define CSV_MISSING (1u << 29) /* the record had fewer fields */
#define CSV_LENMASK ((1u << 29) - 1)

typedef struct csv_tok {
  char delim, quote;
  int nfields;
  bool skip_blank;
  const int *fieldcol; /* nfields: column index or -1 */
  int ncols;
  bool identity; /* every field is a column, in order (fieldcol[f] == f) */
  uint8_t special[256];
} csv_tok;

typedef struct csv_batch {
  int n;
  int64_t newlines; /* newline bytes consumed (records, blank lines, inside quotes) */
  uint32_t *start;  /* [col * CSV_STRIDE + r] */
  uint32_t *len;
  uint32_t rowstart[CSV_BATCH];
  int32_t nf[CSV_BATCH]; /* fields found in the record */
} csv_batch;

typedef struct csv_tokerr {
  int kind;    /* 1: quote inside an unquoted field; 2: text after a closing quote;
                  3: unterminated quoted field */
  int64_t pos; /* offset in the buffer */
  int field;   /* 0-based */
} csv_tokerr;

static inline void csv_tok_init(csv_tok *t, const tsr__csv_format *fmt, const int *fieldcol) {
  t->delim = fmt->delim;
  t->quote = fmt->quote;
  t->nfields = fmt->nfields;
  t->skip_blank = fmt->nfields > 1;
  t->fieldcol = fieldcol;
  t->ncols = fmt->ncols;
  t->identity = fmt->ncols == fmt->nfields;
  for (int f = 0; f < fmt->nfields && t->identity; f++)
    t->identity = fieldcol[f] == f;
  memset(t->special, 0, sizeof t->special);
  t->special[(uint8_t)fmt->delim] = 1;
  t->special[(uint8_t)fmt->quote] = 1;
  t->special['\n'] = 1;
  t->special['\r'] = 1;
}

/* Tokenizes up to CSV_BATCH records from *pp (a record start) before end.
 * buf[end] must be a newline (the sentinel).  Returns 0, or -1 with *err. */
static inline int csv_tokenize(const csv_tok *t, const char *buf, const char **pp, const char *end,
                               csv_batch *b, csv_tokerr *err) {
  const char *p = *pp;
  const char delim = t->delim, quote = t->quote;
  const uint8_t *special = t->special;
  const int nfields = t->nfields;
  const int *fieldcol = t->fieldcol;
  uint32_t *bstart = b->start, *blen = b->len;
  int n = 0;
  int64_t newlines = 0;
#ifdef __SSE2__
  const __m128i vd = _mm_set1_epi8(delim), vn = _mm_set1_epi8('\n'), vr = _mm_set1_epi8('\r'),
                vq = _mm_set1_epi8(quote);
#endif
  (void)special;
  while (n < CSV_BATCH && p < end) {
    if (t->skip_blank && (*p == '\n' || (*p == '\r' && p[1] == '\n'))) {
      p += *p == '\n' ? 1 : 2;
      newlines++;
      continue;
    }
    b->rowstart[n] = (uint32_t)(p - buf);
    int f = 0;
#ifdef __SSE2__
    /* A record within the next 64 bytes and without quotes: its fields
     * from bit masks of delimiters and newlines (each byte compared once). */
    if (end - p >= 64) {
      uint64_t dm = 0, nm = 0, qm = 0;
      for (int k = 0; k < 4; k++) {
        __m128i w = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        dm |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(w, vd)) << (16 * k);
        nm |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(w, vn)) << (16 * k);
        qm |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(w, vq)) << (16 * k);
      }
      if (nm != 0) {
        int e = __builtin_ctzll(nm);
        uint64_t below = (UINT64_C(2) << e) - 1; /* bits 0..e */
        if ((qm & below) == 0) {
          uint64_t d = dm & (below >> 1);
          const char *fs = p;
          if (t->identity) {
            /* every field is a column: no lookups per field */
            const uint32_t o = (uint32_t)(p - buf);
            uint32_t s0 = o, *ps = bstart + n, *pl = blen + n;
            for (; d != 0 && f < nfields; f++, d &= d - 1) {
              uint32_t s1 = o + (uint32_t)__builtin_ctzll(d);
              *ps = s0;
              *pl = s1 - s0;
              ps += CSV_STRIDE;
              pl += CSV_STRIDE;
              s0 = s1 + 1;
            }
            for (; d != 0; d &= d - 1)
              f++;
            fs = buf + s0; /* (unused when the record has too many fields) */
          }
          while (d != 0) {
            const char *fe = p + __builtin_ctzll(d);
            if (f < nfields) {
              int c = fieldcol[f];
              if (c >= 0) {
                bstart[c * CSV_STRIDE + n] = (uint32_t)(fs - buf);
                blen[c * CSV_STRIDE + n] = (uint32_t)(fe - fs);
              }
            }
            f++;
            fs = fe + 1;
            d &= d - 1;
          }
          const char *fe = p + e;
          if (fe > fs && fe[-1] == '\r')
            fe--;
          if (f < nfields) {
            int c = fieldcol[f];
            if (c >= 0) {
              bstart[c * CSV_STRIDE + n] = (uint32_t)(fs - buf);
              blen[c * CSV_STRIDE + n] = (uint32_t)(fe - fs);
            }
          }
          f++;
          p += e + 1;
          newlines++;
          goto record_done;
        }
      }
    }
#endif
    for (;;) {
      const char *fs = p;
      uint32_t flags = 0, len;
      if (*p != quote) {
      plain:
#ifdef __SSE2__
        while (p + 16 <= end) {
          __m128i w = _mm_loadu_si128((const __m128i *)p);
          __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(w, vd), _mm_cmpeq_epi8(w, vn)),
                                   _mm_or_si128(_mm_cmpeq_epi8(w, vr), _mm_cmpeq_epi8(w, vq)));
          unsigned bits = (unsigned)_mm_movemask_epi8(m);
          if (bits != 0) {
            p += __builtin_ctz(bits);
            goto found;
          }
          p += 16;
        }
#endif
        while (!special[(uint8_t)*p])
          p++;
#ifdef __SSE2__
      found:
#endif
        if (*p == '\r' && p[1] != '\n') {
          p++;
          goto plain;
        }
        if (*p == quote) {
          err->kind = 1;
          err->pos = p - buf;
          err->field = f;
          return -1;
        }
        len = (uint32_t)(p - fs);
      } else {
        fs = ++p;
        for (;;) {
          const char *q = memchr(p, quote, (size_t)(end - p));
          if (q == NULL) {
            err->kind = 3;
            err->pos = (fs - 1) - buf;
            err->field = f;
            return -1;
          }
          if (q + 1 < end && q[1] == quote) {
            flags = CSV_ESCAPED;
            p = q + 2;
            continue;
          }
          len = (uint32_t)(q - fs);
          p = q + 1;
          break;
        }
        for (const char *x = fs; (x = memchr(x, '\n', (size_t)(p - x))) != NULL; x++)
          newlines++;
        flags |= CSV_QUOTED;
        if (*p != delim && *p != '\n' && !(*p == '\r' && p[1] == '\n')) {
          err->kind = 2;
          err->pos = p - buf;
          err->field = f;
          return -1;
        }
      }
      if (f < nfields) {
        int c = fieldcol[f];
        if (c >= 0) {
          bstart[c * CSV_STRIDE + n] = (uint32_t)(fs - buf);
          blen[c * CSV_STRIDE + n] = len | flags;
        }
      }
      f++;
      if (*p == delim) {
        p++;
        continue;
      }
      p += *p == '\n' ? 1 : 2;
      newlines++;
      break;
    }
#ifdef __SSE2__
  record_done:
#endif
    for (int g = f; g < nfields; g++) {
      int c = fieldcol[g];
      if (c >= 0) {
        bstart[c * CSV_STRIDE + n] = 0;
        blen[c * CSV_STRIDE + n] = CSV_MISSING;
      }
    }
    b->nf[n] = f;
    n++;
  }
  b->n = n;
  b->newlines = newlines;
  *pp = p;
  return 0;
}

/* Whether field (s, L) is null: a missing or unquoted empty field (both
 * have no length and no quote flag), or a null spelling. */
static inline bool csv_is_null(const tsr__csv_format *fmt, const char *s, uint32_t L) {
  if ((L & (CSV_QUOTED | CSV_LENMASK)) == 0)
    return true;
  if (__builtin_expect(fmt->n_nulls == 0, 1) || (L & CSV_QUOTED))
    return false;
  for (int i = 0; i < fmt->n_nulls; i++)
    if (strlen(fmt->nulls[i]) == L && memcmp(fmt->nulls[i], s, L) == 0)
      return true;
  return false;
}

/* ---- values ------------------------------------------------------------------------ */

static inline bool csv_parse_i64(const char *s, size_t n, int64_t *out) {
  if (n == 0)
    return false;
  bool neg = false;
  size_t i = 0;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
    if (n == 1)
      return false;
  }
  if (n - i > 19)
    return false;
  uint64_t v = 0;
  for (; i < n; i++) {
    unsigned d = (unsigned)(uint8_t)s[i] - '0';
    if (d > 9)
      return false;
    v = v * 10 + d;
  }
  /* 19 digits fit uint64 */
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1)
      return false;
    *out = (int64_t)(0 - v);
  } else {
    if (v > (uint64_t)INT64_MAX)
      return false;
    *out = (int64_t)v;
  }
  return true;
}

static inline bool csv_parse_u64(const char *s, size_t n, uint64_t *out) {
  size_t i = n > 0 && s[0] == '+' ? 1 : 0;
  if (i >= n || n - i > 20)
    return false;
  uint64_t v = 0;
  for (; i < n; i++) {
    unsigned d = (unsigned)(uint8_t)s[i] - '0';
    if (d > 9 || __builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, d, &v))
      return false;
  }
  *out = v;
  return true;
}

static inline bool csv_ieq(const char *s, size_t n, const char *lit) {
  size_t m = strlen(lit);
  if (n != m)
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z')
      c = (char)(c - 'A' + 'a');
    if (c != lit[i])
      return false;
  }
  return true;
}

/* ---- word-at-a-time digits (little-endian; s has 8 readable bytes) ---------------------- */

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CSV_SWAR 1
/* The value of the k (0..8) decimal digits at s, or -1 when one is not a
 * digit: '0' is taken from every byte, the k digits are shifted to the
 * word's top (the bytes after them out, zeros in), and all eight bytes are
 * checked and combined at once (no branch per digit).  A byte below '0'
 * borrows only from the bytes after it, which the check rejects anyway. */
static inline int64_t csv_digits8(const char *s, int k) {
  if (k == 0)
    return 0;
  uint64_t w;
  memcpy(&w, s, 8);
  w = (w - UINT64_C(0x3030303030303030)) << (8 * (8 - k));
  if (((w + UINT64_C(0x7676767676767676)) | w) & UINT64_C(0x8080808080808080))
    return -1;
  w = w * 10 + (w >> 8); /* pairs */
  const uint64_t m = UINT64_C(0x000000FF000000FF);
  w = (((w & m) * (100 + (UINT64_C(1000000) << 32))) +
       (((w >> 16) & m) * (1 + (UINT64_C(10000) << 32)))) >>
      32;
  return (int64_t)(uint32_t)w;
}
#endif

static const double csv_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Floats: [+-]? (digits [. digits*] | . digits) ([eE] [+-]? digits)?, or
 * [+-]? inf | infinity | nan (any case).  Rounds as strtod: Clinger's fast
 * path when exact, else strtod on a NUL-terminated copy.  want_value false:
 * only the syntax is checked. */
static inline bool csv_parse_f64(const char *s, size_t n, double *out, bool want_value) {
  size_t i = 0;
  bool neg = false;
  if (n == 0)
    return false;
  if (s[0] == '-' || s[0] == '+') {
    neg = s[0] == '-';
    i = 1;
  }
  if (want_value && n - i <= 20) {
    /* [+-]digits[.digits], at most 19 digits: the mantissa is exact in
     * uint64, and within 2^53 with at most 22 fraction digits one correctly
     * rounded division by an exact power of ten gives strtod's result (the
     * general path below computes the same for these values). */
    uint64_t m = 0;
    size_t j = i, dot = n;
    for (; j < n; j++) {
      unsigned d = (unsigned)(uint8_t)s[j] - '0';
      if (d > 9) {
        if (s[j] != '.' || dot != n)
          break;
        dot = j;
        continue;
      }
      m = m * 10 + d;
    }
    size_t digits = n - i - (dot != n);
    if (j == n && digits > 0 && digits <= 19 && m <= (UINT64_C(1) << 53)) {
      double v = (double)m;
      if (dot != n)
        v /= csv_pow10[n - 1 - dot];
      *out = neg ? -v : v;
      return true;
    }
  }
  uint64_t mant = 0;
  int digits = 0, exp10 = 0, nd = 0;
  bool dropped = false;
  for (; i < n; i++) {
    unsigned d = (unsigned)(uint8_t)s[i] - '0';
    if (d > 9)
      break;
    nd++;
    if (digits < 19) {
      mant = mant * 10 + d;
      digits += mant != 0;
    } else {
      exp10++;
      dropped |= d != 0;
    }
  }
  if (i < n && s[i] == '.') {
    i++;
    for (; i < n; i++) {
      unsigned d = (unsigned)(uint8_t)s[i] - '0';
      if (d > 9)
        break;
      nd++;
      if (digits < 19) {
        mant = mant * 10 + d;
        digits += mant != 0;
        exp10--;
      } else {
        dropped |= d != 0;
      }
    }
  }
  if (nd == 0) {
    size_t m = n - (s[0] == '-' || s[0] == '+');
    const char *t = s + (n - m);
    if (csv_ieq(t, m, "inf") || csv_ieq(t, m, "infinity")) {
      *out = neg ? -HUGE_VAL : HUGE_VAL;
      return true;
    }
    if (csv_ieq(t, m, "nan")) {
      *out = neg ? -NAN : NAN;
      return true;
    }
    return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    bool eneg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
      eneg = s[i] == '-';
      i++;
    }
    if (i >= n)
      return false;
    int e = 0;
    for (; i < n; i++) {
      unsigned d = (unsigned)(uint8_t)s[i] - '0';
      if (d > 9)
        return false;
      if (e < 100000)
        e = e * 10 + (int)d;
    }
    exp10 += eneg ? -e : e;
  }
  if (i != n)
    return false;
  if (!want_value)
    return true;
  if (!dropped && mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
    double v = (double)mant;
    v = exp10 < 0 ? v / csv_pow10[-exp10] : v * csv_pow10[exp10];
    *out = neg ? -v : v;
    return true;
  }
  if (mant == 0 && !dropped) {
    *out = neg ? -0.0 : 0.0;
    return true;
  }
  char stack[128];
  char *tmp = stack;
  if (n >= sizeof stack) {
    tmp = malloc(n + 1);
    if (tmp == NULL)
      return false;
  }
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  *out = strtod(tmp, NULL);
  if (tmp != stack)
    free(tmp);
  return true;
}

/* csv_parse_f64 (want_value) of s, which `end` bounds from above, with
 * [+-]digits[.digits] of at most 8 digits on each side read a word at a
 * time: the same value as its fast path (the same mantissa, the same one
 * division), without a branch per digit. */
static inline bool csv_parse_f64_at(const char *s, size_t n, const char *end, double *out) {
#ifdef CSV_SWAR
  size_t i = n > 0 && (s[0] == '-' || s[0] == '+');
  size_t m = n - i;
  if (m >= 1 && m <= 17 && end - (s + i) >= 17) {
    const char *t = s + i;
    uint64_t w;
    memcpy(&w, t, 8);
    uint64_t y = w ^ UINT64_C(0x2E2E2E2E2E2E2E2E); /* '.' bytes become zero */
    uint64_t z = (y - UINT64_C(0x0101010101010101)) & ~y & UINT64_C(0x8080808080808080);
    size_t dot = z != 0 ? (size_t)__builtin_ctzll(z) / 8 : 8; /* the first '.' is exact */
    if (dot >= m)
      dot = m; /* no dot among the field's bytes */
    if (dot < 8 || m <= 8) {
      size_t k2 = dot < m ? m - dot - 1 : 0;
      if (k2 <= 8 && dot + k2 > 0) {
        int64_t a = csv_digits8(t, (int)dot), b = csv_digits8(t + dot + 1, (int)k2);
        if (a >= 0 && b >= 0) {
          static const uint64_t p10[9] = {1,      10,      100,      1000,     10000,
                                          100000, 1000000, 10000000, 100000000};
          uint64_t mant = (uint64_t)a * p10[k2] + (uint64_t)b;
          if (mant <= (UINT64_C(1) << 53)) {
            double v = (double)mant;
            if (dot < m)
              v /= csv_pow10[k2];
            *out = s[0] == '-' ? -v : v;
            return true;
          }
        }
      }
    }
  }
#else
  (void)end;
#endif
  return csv_parse_f64(s, n, out, true);
}

/* csv_parse_i64 of s, which `end` bounds from above: up to 8 digits a word at a time. */
static inline bool csv_parse_i64_at(const char *s, size_t n, const char *end, int64_t *out) {
#ifdef CSV_SWAR
  size_t i = n > 0 && (s[0] == '-' || s[0] == '+');
  if (n - i >= 1 && n - i <= 8 && end - (s + i) >= 8) {
    int64_t v = csv_digits8(s + i, (int)(n - i));
    if (v >= 0) {
      *out = s[0] == '-' ? -v : v;
      return true;
    }
    return false;
  }
#else
  (void)end;
#endif
  return csv_parse_i64(s, n, out);
}

static inline bool csv_parse_bool(const char *s, size_t n, uint8_t *out) {
  if (csv_ieq(s, n, "true")) {
    *out = 1;
    return true;
  }
  if (csv_ieq(s, n, "false")) {
    *out = 0;
    return true;
  }
  return false;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's). */
static inline int64_t csv_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static inline int csv_digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    unsigned d = (unsigned)(uint8_t)s[i] - '0';
    if (d > 9)
      return -1;
    v = v * 10 + (int)d;
  }
  return v;
}

/* YYYY-MM-DD */
static inline bool csv_parse_date(const char *s, size_t n, int32_t *out) {
  if (n != 10 || s[4] != '-' || s[7] != '-')
    return false;
  int y = csv_digits(s, 4), m = csv_digits(s + 5, 2), d = csv_digits(s + 8, 2);
  if (y < 0 || m < 1 || m > 12 || d < 1)
    return false;
  static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
    return false;
  *out = (int32_t)csv_days_from_civil(y, (unsigned)m, (unsigned)d);
  return true;
}

/* YYYY-MM-DD[( |T)HH:MM:SS[.f{1,9}]] in `unit`s (finer digits truncated). */
static inline bool csv_parse_timestamp(const char *s, size_t n, tsr_time_unit unit, int64_t *out) {
  int32_t days;
  if (n < 10 || !csv_parse_date(s, 10, &days))
    return false;
  int64_t secs = (int64_t)days * 86400, nanos = 0;
  if (n > 10) {
    if (n < 19 || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' || s[16] != ':')
      return false;
    int h = csv_digits(s + 11, 2), mi = csv_digits(s + 14, 2), se = csv_digits(s + 17, 2);
    if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59)
      return false;
    secs += h * 3600 + mi * 60 + se;
    if (n > 19) {
      if (s[19] != '.' || n == 20 || n > 29)
        return false;
      int64_t scale = 100000000;
      for (size_t i = 20; i < n; i++, scale /= 10) {
        unsigned d = (unsigned)(uint8_t)s[i] - '0';
        if (d > 9)
          return false;
        nanos += (int64_t)d * scale;
      }
    }
  }
  static const int64_t per_s[4] = {1, 1000, 1000000, 1000000000};
  static const int64_t div[4] = {1000000000, 1000000, 1000, 1};
  *out = secs * per_s[unit] + nanos / div[unit];
  return true;
}

/* ---- strings ------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), or 0 when invalid. */
static inline int csv_utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c < 0x80)
    return 1;
  if (c < 0xC2)
    return 0;
  if (c < 0xE0)
    return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
      return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] >= 0xA0))
      return 0;
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
      return 0;
    if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] >= 0x90))
      return 0;
    return 4;
  }
  return 0;
}

/* Bytes of the ill-formed sequence at s (csv_utf8_seq returned 0) that one
 * U+FFFD replaces: its maximal subpart, as Unicode recommends (and Python
 * and browsers do): a truncated E2 82 is one replacement, not two. */
static inline size_t csv_utf8_bad_run(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  uint8_t lo = 0x80, hi = 0xBF;
  int need;
  if (c >= 0xC2 && c < 0xE0)
    need = 1;
  else if (c >= 0xE0 && c < 0xF0) {
    need = 2;
    lo = c == 0xE0 ? 0xA0 : 0x80;
    hi = c == 0xED ? 0x9F : 0xBF;
  } else if (c >= 0xF0 && c < 0xF5) {
    need = 3;
    lo = c == 0xF0 ? 0x90 : 0x80;
    hi = c == 0xF4 ? 0x8F : 0xBF;
  } else {
    return 1;
  }
  size_t k = 1;
  if (k < n && s[k] >= lo && s[k] <= hi) {
    k++;
    while ((int)k <= need && k < n && (s[k] & 0xC0) == 0x80)
      k++;
  }
  return k > (size_t)need ? (size_t)need : k;
}

/* Whether s is ASCII (fast). */
static inline bool csv_ascii(const char *s, size_t n) {
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    acc |= w;
  }
  for (; i < n; i++)
    acc |= (uint8_t)s[i];
  return (acc & UINT64_C(0x8080808080808080)) == 0;
}

/* Offset of the first invalid UTF-8 byte in s, or -1. */
static inline int64_t csv_utf8_invalid(const char *s, size_t n) {
  if (csv_ascii(s, n))
    return -1;
  for (size_t i = 0; i < n;) {
    int k = csv_utf8_seq((const uint8_t *)s + i, n - i);
    if (k == 0)
      return (int64_t)i;
    i += (size_t)k;
  }
  return -1;
}

/* A field's bytes as they become a value: quotes undoubled and, when
 * `fix`, each invalid UTF-8 byte replaced by U+FFFD.  Writes to dst when
 * not NULL; returns the length. */
static inline size_t csv_string_out(const char *s, size_t n, bool escaped, bool fix, char q,
                                    char *dst) {
  if (!escaped && (!fix || csv_ascii(s, n))) {
    if (dst)
      memcpy(dst, s, n);
    return n;
  }
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    if (escaped && s[i] == q && i + 1 < n && s[i + 1] == q) {
      if (dst)
        dst[o] = q;
      o++;
      i += 2;
      continue;
    }
    int k = fix ? csv_utf8_seq((const uint8_t *)s + i, n - i) : 1;
    if (k == 0) {
      if (dst)
        memcpy(dst + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i += csv_utf8_bad_run((const uint8_t *)s + i, n - i);
    } else {
      if (dst)
        memcpy(dst + o, s + i, (size_t)k);
      o += (size_t)k;
      i += (size_t)k;
    }
  }
  return o;
}

/* Strings of at most 16 bytes are keyed by two zero-padded words (compared
 * without touching the bytes again); longer ones by all their bytes. */
typedef struct csv_key {
  uint64_t a, b;
  uint64_t hash;
} csv_key;

/* The key of s (n bytes); `end` bounds what may be read past s. */
static inline csv_key csv_key_of(const char *s, size_t n, const char *end) {
  const uint64_t k1 = UINT64_C(0x9E3779B97F4A7C15), k2 = UINT64_C(0xC2B2AE3D27D4EB4F);
  csv_key k = {0, 0, 0};
  if (n <= 16) {
    if (end - s >= 16) {
      memcpy(&k.a, s, 8);
      memcpy(&k.b, s + 8, 8);
      if (n < 8) {
        k.a &= n == 0 ? 0 : ~UINT64_C(0) >> (64 - 8 * n);
        k.b = 0;
      } else if (n < 16) {
        k.b &= n == 8 ? 0 : ~UINT64_C(0) >> (64 - 8 * (n - 8));
      }
    } else {
      unsigned char t[16] = {0};
      memcpy(t, s, n);
      memcpy(&k.a, t, 8);
      memcpy(&k.b, t + 8, 8);
    }
    uint64_t h = (k.a ^ (uint64_t)n) * k1;
    h ^= (k.b + (h >> 31)) * k2;
    h ^= h >> 29;
    h *= k1;
    k.hash = h ^ (h >> 32);
    return k;
  }
  uint64_t h = (uint64_t)n * k1;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    h = (h ^ w) * k1;
    h ^= h >> 29;
  }
  if (i < n) {
    uint64_t w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * k2;
  }
  h ^= h >> 32;
  h *= UINT64_C(0xD6E8FEB86659FD93);
  k.hash = h ^ (h >> 32);
  return k;
}

/* Whether key k of (s, n) equals stored key e of (t, m). */
static inline bool csv_key_eq(const csv_key *k, const char *s, size_t n, const csv_key *e,
                              const char *t, size_t m) {
  if (n != m || k->hash != e->hash)
    return false;
  if (n <= 16)
    return k->a == e->a && k->b == e->b;
  return memcmp(s, t, n) == 0;
}

/* ---- sets of distinct strings (csv_strset.c) ---------------------------------------- */

typedef struct csv_strset {
  int64_t n, ent_cap, slot_cap;
  int32_t *slots; /* index + 1 */
  csv_key *keys;
  int64_t *offs; /* n + 1 */
  char *arena;
  int64_t arena_cap;
} csv_strset;

void tsr__csv_strset_free(tsr_ctx *ctx, csv_strset *s);
tsr_status tsr__csv_strset_insert(tsr_ctx *ctx, csv_strset *s, const char *p, size_t n,
                                  const csv_key *k, int64_t *index);
/* The sorted, distinct strings of s as dictionary offsets (n + 1) and data. */
tsr_status tsr__csv_sorted_dict(tsr_ctx *ctx, const csv_strset *s, int64_t **offsets, char **data);

/* Whether s has a free slot for one more entry: tables of up to 64 Ki
 * slots (in L2) stay at most 1/8 full, so that a lookup of a low-cardinality
 * column's value almost always ends at its first slot (a second probe is a
 * mispredicted branch); larger ones at most half full. */
static inline bool csv_strset_roomy(const csv_strset *s) {
  return s->slot_cap != 0 && (s->n + 1) * (s->slot_cap <= 65536 ? 8 : 2) <= s->slot_cap;
}

/* Adds (p, n) whose key is k; *index (when not NULL): its entry number. */
static inline tsr_status tsr__csv_strset_add(tsr_ctx *ctx, csv_strset *s, const char *p, size_t n,
                                             const csv_key *k, int64_t *index) {
  if (csv_strset_roomy(s)) {
    uint64_t mask = (uint64_t)s->slot_cap - 1, j = k->hash & mask;
    for (int32_t e; (e = s->slots[j]) != 0; j = (j + 1) & mask) {
      const csv_key *x = &s->keys[e - 1];
      if (x->hash == k->hash &&
          (n <= 16 ? x->a == k->a && x->b == k->b && (size_t)(s->offs[e] - s->offs[e - 1]) == n
                   : csv_key_eq(k, p, n, x, s->arena + s->offs[e - 1],
                                (size_t)(s->offs[e] - s->offs[e - 1])))) {
        if (index != NULL)
          *index = e - 1;
        return TSR_OK;
      }
    }
  }
  return tsr__csv_strset_insert(ctx, s, p, n, k, index);
}

/* Blocks of about block_bytes snapped to record boundaries (csv_scan.c):
 * *nblocks = -1 when a speculative boundary went wrong (call again with
 * exact). */
tsr_status tsr__csv_make_blocks(tsr_ctx *ctx, int fd, const tsr__csv_format *fmt, int64_t size,
                                int64_t block_bytes, bool exact, int64_t *nblocks,
                                tsr__csv_block **blocks);

/* One block of the fused load (csv_load.c), parsed by tsr__csv_load_block
 * (csv_parse.c) into a table chunk laid out for `repr`. */
typedef struct csv_lblock {
  void *chunk; /* tsr_alloc'd, rows_cap = rows */
  size_t bytes;
  int64_t rows;
  bool fallback;        /* something only the scan + parse path handles (widening, bad rows,
                           errors, a failed allocation) */
  tsr_coltype *repr;    /* per column, set by the caller: TSR_COL_DICT codes through `sets`
                           (entry numbers), TSR_COL_STRING views, else the column's type */
  const int64_t *limit; /* per column: most entries of a local dictionary */
  uint8_t *redo;        /* per column: parse again (strings past the data capacity, the
                           block's bytes, or a local dictionary past its limit) */
  csv_strset *sets;     /* per column */
  int64_t *data_bytes;  /* per column: bytes of its strings longer than 12 */
} csv_lblock;

tsr_status tsr__csv_load_block(tsr_ctx *ctx, int fd, const tsr__csv_format *fmt,
                               const int *fieldcol, const tsr__csv_block *block, csv_lblock *lb);

/* ---- a block's bytes ------------------------------------------------------------------- */

/* A block in memory: read into an accounted buffer followed by a newline
 * (which the tokenizer's loops stop at) and zeros.  Not mapped from the
 * file: the page cache's 4 KiB pages cost a TLB miss each time a pass
 * crosses one (a quarter of a load's time went to the first pass over
 * mapped blocks), while a large buffer is in huge pages and, freed after
 * its block, comes back from the allocator's cache for the next one; the
 * kernel's copy reads the page cache through its own huge mappings. */
typedef struct csv_input {
  const char *p;
  char *own;
} csv_input;

static inline tsr_status csv_input_open(tsr_ctx *ctx, int fd, const char *path, int64_t start,
                                        size_t len, bool in_kernel, csv_input *in) {
  memset(in, 0, sizeof *in);
  size_t ask = len + CSV_PAD;
  const size_t huge = (size_t)2 << 20;
  if (ask >= 2 * huge) /* whole huge pages (after the allocator's 64-byte header) */
    ask = (ask + 64 + huge - 1) / huge * huge - 64;
  char *buf;
  TSR_TRY(in_kernel ? tsr_kernel_alloc(ctx, ask, (void **)&buf)
                    : tsr_alloc(ctx, ask, (void **)&buf));
  tsr_status st = tsr__csv_read_range(fd, path, start, len, buf);
  if (st != TSR_OK) {
    tsr_free(ctx, buf);
    return st;
  }
  memset(buf + len, 0, CSV_PAD);
  buf[len] = '\n';
  in->p = buf;
  in->own = buf;
  return TSR_OK;
}

static inline void csv_input_close(tsr_ctx *ctx, csv_input *in) {
  tsr_free(ctx, in->own);
  memset(in, 0, sizeof *in);
}

#endif /* TSR_IO_CSV_IMPL_H */
