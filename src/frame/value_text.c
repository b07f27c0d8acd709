/* value_text.c — one column value to text and back (value_text.h).
 *
 * Dates use Howard Hinnant's days_from_civil / civil_from_days (proleptic
 * Gregorian, any year).  Floats are written as Python's repr writes them:
 * the fewest digits that strtod (strtof for float32) reads back to the
 * same value, in fixed notation for exponents -4..15 ("0.0001", "1.5",
 * "1e+16"), so a cast to string and back, or a printed value, is exact.  Numbers are parsed
 * without locale: digits, one sign, and for floats a point and exponent
 * (strtod rounds as C requires), or inf / infinity / nan. */
#include "value_text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int64_t tsr__vt_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void tsr__vt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static const int64_t unit_per_s[4] = {1, 1000, 1000000, 1000000000};

/* ---- formatting --------------------------------------------------------------- */

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

size_t tsr__fmt_u64(char *out, uint64_t v) {
  char buf[24];
  char *p = buf + sizeof buf;
  while (v >= 100) {
    unsigned d = (unsigned)(v % 100);
    v /= 100;
    p -= 2;
    memcpy(p, digit_pairs + 2 * d, 2);
  }
  if (v >= 10) {
    p -= 2;
    memcpy(p, digit_pairs + 2 * v, 2);
  } else {
    *--p = (char)('0' + v);
  }
  size_t n = (size_t)(buf + sizeof buf - p);
  memcpy(out, p, n);
  return n;
}

size_t tsr__fmt_i64(char *out, int64_t v) {
  if (v < 0) {
    out[0] = '-';
    return 1 + tsr__fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
  }
  return tsr__fmt_u64(out, (uint64_t)v);
}

/* Renders a decimal (digits d[0..nd), nd >= 1, no trailing zeros unless the
 * value is 0, value 0.d[0]d[1]... x 10^(e10 + 1)) as Python's repr does. */
static size_t render_decimal(char *out, bool neg, const char *d, int nd, int e10) {
  char *p = out;
  if (neg)
    *p++ = '-';
  if (e10 >= -4 && e10 < 16) {
    if (e10 >= 0) {
      for (int i = 0; i <= e10; i++)
        *p++ = i < nd ? d[i] : '0';
      *p++ = '.';
      if (nd > e10 + 1) {
        memcpy(p, d + e10 + 1, (size_t)(nd - e10 - 1));
        p += nd - e10 - 1;
      } else {
        *p++ = '0';
      }
    } else {
      *p++ = '0';
      *p++ = '.';
      for (int i = 0; i < -e10 - 1; i++)
        *p++ = '0';
      memcpy(p, d, (size_t)nd);
      p += nd;
    }
  } else {
    *p++ = d[0];
    if (nd > 1) {
      *p++ = '.';
      memcpy(p, d + 1, (size_t)(nd - 1));
      p += nd - 1;
    }
    *p++ = 'e';
    *p++ = e10 < 0 ? '-' : '+';
    int a = e10 < 0 ? -e10 : e10;
    if (a < 10)
      *p++ = '0';
    p += tsr__fmt_u64(p, (uint64_t)a);
  }
  return (size_t)(p - out);
}

static const double pow10_tab[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

/* From "%.*e" text: the digits (without the point, trailing zeros
 * dropped) and the exponent. */
static int parse_e(const char *s, char *digits, int *e10) {
  int nd = 0;
  for (; *s != 'e'; s++)
    if (*s >= '0' && *s <= '9')
      digits[nd++] = *s;
  *e10 = atoi(s + 1);
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  return nd;
}

size_t tsr__fmt_f64(char *out, double x) {
  if (isnan(x)) {
    memcpy(out, "nan", 3);
    return 3;
  }
  bool neg = signbit(x);
  double a = fabs(x);
  if (isinf(a)) {
    memcpy(out, neg ? "-inf" : "inf", 3u + neg);
    return 3u + neg;
  }
  if (a == 0)
    return render_decimal(out, neg, "0", 1, 0);
  /* Fast path: a = r / 10^k exactly as strtod reads it, r < 10^15 (any
   * two decimals of at most 15 digits reading to the same double are
   * equal, so the first k found gives the shortest digits). */
  if (a < 1e15 && a >= 1e-5) {
    for (int k = 0; k < 16; k++) {
      double t = a * pow10_tab[k];
      if (t >= 1e15)
        break;
      double r = nearbyint(t);
      if (r / pow10_tab[k] == a && r > 0) {
        char digits[24];
        int nd = (int)tsr__fmt_u64(digits, (uint64_t)r);
        int e10 = nd - 1 - k;
        while (nd > 1 && digits[nd - 1] == '0')
          nd--;
        return render_decimal(out, neg, digits, nd, e10);
      }
    }
  }
  /* General path: the fewest significant digits that strtod reads back. */
  char buf[40], digits[24];
  int p0 = 1, e10 = 0;
  snprintf(buf, sizeof buf, "%.14e", a);
  if (strtod(buf, NULL) != a)
    p0 = 16; /* needs 16 or 17 */
  for (int p = p0; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*e", p - 1, a);
    if (p == 17 || strtod(buf, NULL) == a)
      break;
  }
  int nd = parse_e(buf, digits, &e10);
  return render_decimal(out, neg, digits, nd, e10);
}

size_t tsr__fmt_f32(char *out, float x) {
  if (isnan(x) || isinf(x) || x == 0)
    return tsr__fmt_f64(out, (double)x);
  bool neg = signbit(x);
  float a = fabsf(x);
  char buf[40], digits[24];
  int e10 = 0;
  for (int p = 1; p <= 9; p++) {
    snprintf(buf, sizeof buf, "%.*e", p - 1, (double)a);
    if (p == 9 || strtof(buf, NULL) == a)
      break;
  }
  int nd = parse_e(buf, digits, &e10);
  return render_decimal(out, neg, digits, nd, e10);
}

static size_t fmt_2(char *out, unsigned v) {
  memcpy(out, digit_pairs + 2 * v, 2);
  return 2;
}

size_t tsr__fmt_date(char *out, int64_t days) {
  int64_t y;
  unsigned m, d;
  tsr__vt_civil_from_days(days, &y, &m, &d);
  char *p = out;
  if (y < 0) {
    *p++ = '-';
    y = -y;
  }
  if (y < 10000) {
    p += fmt_2(p, (unsigned)(y / 100));
    p += fmt_2(p, (unsigned)(y % 100));
  } else {
    p += tsr__fmt_u64(p, (uint64_t)y);
  }
  *p++ = '-';
  p += fmt_2(p, m);
  *p++ = '-';
  p += fmt_2(p, d);
  return (size_t)(p - out);
}

size_t tsr__fmt_timestamp(char *out, int64_t v, tsr_time_unit unit) {
  static const int digits[4] = {0, 3, 6, 9};
  int64_t ps = unit_per_s[unit];
  int64_t secs = v / ps, frac = v % ps;
  if (frac < 0) {
    frac += ps;
    secs -= 1;
  }
  int64_t days = secs / 86400, sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  char *p = out;
  p += tsr__fmt_date(p, days);
  *p++ = ' ';
  p += fmt_2(p, (unsigned)(sod / 3600));
  *p++ = ':';
  p += fmt_2(p, (unsigned)(sod / 60 % 60));
  *p++ = ':';
  p += fmt_2(p, (unsigned)(sod % 60));
  if (frac != 0) {
    char f[12];
    int nd = digits[unit];
    for (int i = nd - 1; i >= 0; i--) {
      f[i] = (char)('0' + frac % 10);
      frac /= 10;
    }
    while (nd > 0 && f[nd - 1] == '0')
      nd--;
    *p++ = '.';
    memcpy(p, f, (size_t)nd);
    p += nd;
  }
  return (size_t)(p - out);
}

size_t tsr__vt_format(tsr_type t, const void *values, int64_t i, char *buf) {
  size_t n = 0;
  switch (t.id) {
  case TSR_COL_BOOL:
    n = ((const uint8_t *)values)[i] ? 4 : 5;
    memcpy(buf, n == 4 ? "true" : "false", n);
    break;
  case TSR_COL_INT8:
    n = tsr__fmt_i64(buf, ((const int8_t *)values)[i]);
    break;
  case TSR_COL_INT16:
    n = tsr__fmt_i64(buf, ((const int16_t *)values)[i]);
    break;
  case TSR_COL_INT32:
    n = tsr__fmt_i64(buf, ((const int32_t *)values)[i]);
    break;
  case TSR_COL_INT64:
    n = tsr__fmt_i64(buf, ((const int64_t *)values)[i]);
    break;
  case TSR_COL_UINT8:
    n = tsr__fmt_u64(buf, ((const uint8_t *)values)[i]);
    break;
  case TSR_COL_UINT16:
    n = tsr__fmt_u64(buf, ((const uint16_t *)values)[i]);
    break;
  case TSR_COL_UINT32:
    n = tsr__fmt_u64(buf, ((const uint32_t *)values)[i]);
    break;
  case TSR_COL_UINT64:
    n = tsr__fmt_u64(buf, ((const uint64_t *)values)[i]);
    break;
  case TSR_COL_FLOAT32:
    n = tsr__fmt_f32(buf, ((const float *)values)[i]);
    break;
  case TSR_COL_FLOAT64:
    n = tsr__fmt_f64(buf, ((const double *)values)[i]);
    break;
  case TSR_COL_DATE:
    n = tsr__fmt_date(buf, ((const int32_t *)values)[i]);
    break;
  case TSR_COL_TIMESTAMP:
    n = tsr__fmt_timestamp(buf, ((const int64_t *)values)[i], t.unit);
    break;
  default:
    break;
  }
  buf[n] = '\0';
  return n;
}

size_t tsr__vt_max_len(tsr_type t) {
  switch (t.id) {
  case TSR_COL_BOOL:
    return 5;
  case TSR_COL_INT8:
    return 4;
  case TSR_COL_INT16:
    return 6;
  case TSR_COL_INT32:
    return 11;
  case TSR_COL_INT64:
    return 20;
  case TSR_COL_UINT8:
    return 3;
  case TSR_COL_UINT16:
    return 5;
  case TSR_COL_UINT32:
    return 10;
  case TSR_COL_UINT64:
    return 20;
  case TSR_COL_FLOAT32:
    return 16; /* -1.17549435e-38 */
  case TSR_COL_FLOAT64:
    return 24; /* -2.2250738585072014e-308 */
  case TSR_COL_DATE:
    return 14; /* -5877641-06-23 */
  case TSR_COL_TIMESTAMP:
    return 40; /* a year of up to 12 digits with nanoseconds */
  default:
    return 0;
  }
}

/* ---- parsing ---------------------------------------------------------------------- */

static void trim(const char **s, size_t *n) {
  while (*n > 0 && (**s == ' ' || **s == '\t')) {
    (*s)++;
    (*n)--;
  }
  while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
    (*n)--;
}

/* Magnitude of a run of digits; false when empty, not digits or > limit. */
static bool parse_digits(const char *s, size_t n, uint64_t limit, uint64_t *out) {
  if (n == 0)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned d = (unsigned)(s[i] - '0');
    if (d > 9 || v > (limit - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

bool tsr__vt_parse_i64(const char *s, size_t n, int64_t *out) {
  trim(&s, &n);
  bool neg = n > 0 && s[0] == '-';
  if (n > 0 && (s[0] == '-' || s[0] == '+')) {
    s++;
    n--;
  }
  uint64_t v;
  if (!parse_digits(s, n, neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, &v))
    return false;
  *out = neg ? (int64_t)(0 - v) : (int64_t)v;
  return true;
}

bool tsr__vt_parse_u64(const char *s, size_t n, uint64_t *out) {
  trim(&s, &n);
  if (n > 0 && s[0] == '+') {
    s++;
    n--;
  }
  return parse_digits(s, n, UINT64_MAX, out);
}

/* A NUL-terminated copy of a float's text, or false when it holds
 * characters no decimal float has (strtod would read hex or stop early). */
static bool float_text(const char *s, size_t n, char *buf, size_t cap) {
  trim(&s, &n);
  if (n == 0 || n >= cap)
    return false;
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  bool word = i < n && (s[i] == 'i' || s[i] == 'I' || s[i] == 'n' || s[i] == 'N');
  if (word) {
    size_t k = n - i;
    if (!((k == 3 && (strncasecmp(s + i, "inf", 3) == 0 || strncasecmp(s + i, "nan", 3) == 0)) ||
          (k == 8 && strncasecmp(s + i, "infinity", 8) == 0)))
      return false;
  } else {
    for (size_t j = i; j < n; j++)
      if (!((s[j] >= '0' && s[j] <= '9') || s[j] == '.' || s[j] == 'e' || s[j] == 'E' ||
            s[j] == '-' || s[j] == '+'))
        return false;
  }
  memcpy(buf, s, n);
  buf[n] = '\0';
  return true;
}

bool tsr__vt_parse_f64(const char *s, size_t n, double *out) {
  char buf[512], *end;
  if (!float_text(s, n, buf, sizeof buf))
    return false;
  *out = strtod(buf, &end);
  return *end == '\0' && end != buf;
}

bool tsr__vt_parse_f32(const char *s, size_t n, float *out) {
  char buf[512], *end;
  if (!float_text(s, n, buf, sizeof buf))
    return false;
  *out = strtof(buf, &end);
  return *end == '\0' && end != buf;
}

bool tsr__vt_parse_bool(const char *s, size_t n, bool *out) {
  trim(&s, &n);
  static const char *const yes[] = {"true", "t", "1", "yes", "y"};
  static const char *const no[] = {"false", "f", "0", "no", "n"};
  for (int i = 0; i < 5; i++) {
    if (strlen(yes[i]) == n && strncasecmp(s, yes[i], n) == 0) {
      *out = true;
      return true;
    }
    if (strlen(no[i]) == n && strncasecmp(s, no[i], n) == 0) {
      *out = false;
      return true;
    }
  }
  return false;
}

/* Reads exactly k digits at s[*i]. */
static bool fixed_digits(const char *s, size_t n, size_t *i, int k, unsigned *out) {
  unsigned v = 0;
  for (int j = 0; j < k; j++) {
    if (*i >= n || s[*i] < '0' || s[*i] > '9')
      return false;
    v = v * 10 + (unsigned)(s[(*i)++] - '0');
  }
  *out = v;
  return true;
}

static bool leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* The date part at s[*i]: [-]Y{4,}-MM-DD; days since the epoch. */
static bool date_part(const char *s, size_t n, size_t *i, int64_t *days) {
  bool neg = *i < n && s[*i] == '-';
  if (neg)
    (*i)++;
  size_t start = *i;
  int64_t y = 0;
  while (*i < n && s[*i] >= '0' && s[*i] <= '9' && *i - start < 9)
    y = y * 10 + (s[(*i)++] - '0');
  if (*i - start < 4 || *i >= n || s[*i] != '-')
    return false;
  (*i)++;
  unsigned m, d;
  if (!fixed_digits(s, n, i, 2, &m) || *i >= n || s[*i] != '-')
    return false;
  (*i)++;
  if (!fixed_digits(s, n, i, 2, &d))
    return false;
  if (neg)
    y = -y;
  static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap(y)))
    return false;
  *days = tsr__vt_days_from_civil(y, m, d);
  return true;
}

bool tsr__vt_parse_date(const char *s, size_t n, int32_t *out) {
  trim(&s, &n);
  size_t i = 0;
  int64_t days;
  if (!date_part(s, n, &i, &days) || i != n || days < INT32_MIN || days > INT32_MAX)
    return false;
  *out = (int32_t)days;
  return true;
}

bool tsr__vt_parse_timestamp(const char *s, size_t n, tsr_time_unit unit, int64_t *out) {
  trim(&s, &n);
  size_t i = 0;
  int64_t days;
  if ((unsigned)unit > 3 || !date_part(s, n, &i, &days))
    return false;
  unsigned hh = 0, mm = 0, ss = 0;
  int64_t frac = 0;
  if (i < n && (s[i] == ' ' || s[i] == 'T')) {
    i++;
    if (!fixed_digits(s, n, &i, 2, &hh) || i >= n || s[i] != ':')
      return false;
    i++;
    if (!fixed_digits(s, n, &i, 2, &mm))
      return false;
    if (i < n && s[i] == ':') {
      i++;
      if (!fixed_digits(s, n, &i, 2, &ss))
        return false;
      if (i < n && s[i] == '.') {
        i++;
        int digits = 0, want = 3 * (int)unit;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
          if (digits < want) {
            frac = frac * 10 + (s[i] - '0');
            digits++;
          }
          i++;
        }
        if (i == start)
          return false;
        for (; digits < want; digits++)
          frac *= 10;
      }
    }
    if (hh > 23 || mm > 59 || ss > 59)
      return false;
  }
  if (i < n && s[i] == 'Z')
    i++;
  if (i != n)
    return false;
  int64_t sec;
  if (__builtin_mul_overflow(days, (int64_t)86400, &sec) ||
      __builtin_add_overflow(sec, (int64_t)(hh * 3600 + mm * 60 + ss), &sec))
    return false;
  int64_t v;
  if (__builtin_mul_overflow(sec, unit_per_s[unit], &v) || __builtin_add_overflow(v, frac, &v))
    return false;
  *out = v;
  return true;
}

/* Writes through memcpy: `out` may be any address (a params block). */
static bool parse_into(tsr_type t, const char *s, size_t n, void *out);

bool tsr__vt_parse(tsr_type t, const char *s, size_t n, void *out) {
  int64_t v[2] = {0, 0};
  if (!parse_into(t, s, n, v))
    return false;
  memcpy(out, v, tsr_type_width(t));
  return true;
}

static bool parse_into(tsr_type t, const char *s, size_t n, void *out) {
  int64_t i;
  uint64_t u;
  switch (t.id) {
  case TSR_COL_BOOL: {
    bool b;
    if (!tsr__vt_parse_bool(s, n, &b))
      return false;
    *(uint8_t *)out = b;
    return true;
  }
#define SIGNED(ID, T, LO, HI)                                 \
  case ID:                                                    \
    if (!tsr__vt_parse_i64(s, n, &i) || i < (LO) || i > (HI)) \
      return false;                                           \
    *(T *)out = (T)i;                                         \
    return true;
    SIGNED(TSR_COL_INT8, int8_t, INT8_MIN, INT8_MAX)
    SIGNED(TSR_COL_INT16, int16_t, INT16_MIN, INT16_MAX)
    SIGNED(TSR_COL_INT32, int32_t, INT32_MIN, INT32_MAX)
    SIGNED(TSR_COL_INT64, int64_t, INT64_MIN, INT64_MAX)
#undef SIGNED
#define UNSIGNED(ID, T, HI)                       \
  case ID:                                        \
    if (!tsr__vt_parse_u64(s, n, &u) || u > (HI)) \
      return false;                               \
    *(T *)out = (T)u;                             \
    return true;
    UNSIGNED(TSR_COL_UINT8, uint8_t, UINT8_MAX)
    UNSIGNED(TSR_COL_UINT16, uint16_t, UINT16_MAX)
    UNSIGNED(TSR_COL_UINT32, uint32_t, UINT32_MAX)
    UNSIGNED(TSR_COL_UINT64, uint64_t, UINT64_MAX)
#undef UNSIGNED
  case TSR_COL_FLOAT32:
    return tsr__vt_parse_f32(s, n, (float *)out);
  case TSR_COL_FLOAT64:
    return tsr__vt_parse_f64(s, n, (double *)out);
  case TSR_COL_DATE:
    return tsr__vt_parse_date(s, n, (int32_t *)out);
  case TSR_COL_TIMESTAMP:
    return tsr__vt_parse_timestamp(s, n, t.unit, (int64_t *)out);
  default:
    return false;
  }
}
