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

static size_t format_date(int64_t days, char *buf) {
  int64_t y;
  unsigned m, d;
  tsr__vt_civil_from_days(days, &y, &m, &d);
  int n = snprintf(buf, TSR__VT_MAX, y >= 0 && y <= 9999 ? "%04lld-%02u-%02u" : "%lld-%02u-%02u",
                   (long long)y, m, d);
  return n > 0 ? (size_t)n : 0;
}

static size_t format_timestamp(int64_t v, tsr_time_unit unit, char *buf) {
  int64_t per = unit_per_s[unit];
  int64_t sec = v / per, frac = v % per;
  if (frac < 0) {
    frac += per;
    sec--;
  }
  int64_t days = sec / 86400, tod = sec % 86400;
  if (tod < 0) {
    tod += 86400;
    days--;
  }
  size_t n = format_date(days, buf);
  n += (size_t)snprintf(buf + n, TSR__VT_MAX - n, " %02d:%02d:%02d", (int)(tod / 3600),
                        (int)(tod / 60 % 60), (int)(tod % 60));
  if (frac != 0) {
    int digits = 3 * (int)unit;
    char f[16];
    snprintf(f, sizeof f, "%0*lld", digits, (long long)frac);
    int k = digits;
    while (k > 0 && f[k - 1] == '0')
      k--;
    n += (size_t)snprintf(buf + n, TSR__VT_MAX - n, ".%.*s", k, f);
  }
  return n;
}

/* Python's repr of a float from its shortest digits: "%.{p}e" with the
 * fewest digits that read back, then fixed notation when the exponent is
 * in [-4, 16), else d.ddde+XX. */
static size_t format_float(double x, bool single, char *buf) {
  if (x != x)
    return (size_t)snprintf(buf, TSR__VT_MAX, "nan");
  if (isinf(x))
    return (size_t)snprintf(buf, TSR__VT_MAX, x < 0 ? "-inf" : "inf");
  /* Every decimal of at most DBL_DIG (FLT_DIG) digits reads back to its
   * nearest double, so when x's correctly rounded 15 (6) digits read back,
   * they are the shortest digits padded with zeros (stripped below); else
   * 16 or 17 (7 to 9) digits: at most three conversions.  Subnormals
   * hold fewer digits: they try every count. */
  char e[40];
  bool subnormal = x != 0 && fabs(x) < (single ? 0x1p-126 : 0x1p-1022); /* fewer digits */
  for (int p = subnormal ? 0 : single ? 5 : 14; p <= (single ? 8 : 16); p++) {
    snprintf(e, sizeof e, "%.*e", p, x);
    if (single ? strtof(e, NULL) == (float)x : strtod(e, NULL) == x)
      break;
  }
  /* e is [-]d[.ddd]e(+|-)XX */
  char digits[24];
  int nd = 0;
  const char *q = e;
  bool neg = *q == '-';
  if (neg)
    q++;
  for (; *q != 'e'; q++)
    if (*q != '.')
      digits[nd++] = *q;
  while (nd > 1 && digits[nd - 1] == '0')
    nd--;
  int exp = atoi(q + 1);
  size_t n = 0;
  if (neg)
    buf[n++] = '-';
  if (exp >= -4 && exp < 16) {
    if (exp >= nd - 1) {
      memcpy(buf + n, digits, (size_t)nd);
      n += (size_t)nd;
      for (int i = 0; i < exp - (nd - 1); i++)
        buf[n++] = '0';
      buf[n++] = '.';
      buf[n++] = '0';
    } else if (exp >= 0) {
      memcpy(buf + n, digits, (size_t)exp + 1);
      n += (size_t)exp + 1;
      buf[n++] = '.';
      memcpy(buf + n, digits + exp + 1, (size_t)(nd - exp - 1));
      n += (size_t)(nd - exp - 1);
    } else {
      buf[n++] = '0';
      buf[n++] = '.';
      for (int i = 0; i < -exp - 1; i++)
        buf[n++] = '0';
      memcpy(buf + n, digits, (size_t)nd);
      n += (size_t)nd;
    }
    buf[n] = '\0';
    return n;
  }
  buf[n++] = digits[0];
  if (nd > 1) {
    buf[n++] = '.';
    memcpy(buf + n, digits + 1, (size_t)nd - 1);
    n += (size_t)nd - 1;
  }
  n += (size_t)snprintf(buf + n, TSR__VT_MAX - n, "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
  return n;
}

size_t tsr__vt_format(tsr_type t, const void *values, int64_t i, char *buf) {
  int n = 0;
  switch (t.id) {
  case TSR_COL_BOOL:
    n = snprintf(buf, TSR__VT_MAX, "%s", ((const uint8_t *)values)[i] ? "true" : "false");
    break;
  case TSR_COL_INT8:
    n = snprintf(buf, TSR__VT_MAX, "%d", (int)((const int8_t *)values)[i]);
    break;
  case TSR_COL_INT16:
    n = snprintf(buf, TSR__VT_MAX, "%d", (int)((const int16_t *)values)[i]);
    break;
  case TSR_COL_INT32:
    n = snprintf(buf, TSR__VT_MAX, "%ld", (long)((const int32_t *)values)[i]);
    break;
  case TSR_COL_INT64:
    n = snprintf(buf, TSR__VT_MAX, "%lld", (long long)((const int64_t *)values)[i]);
    break;
  case TSR_COL_UINT8:
    n = snprintf(buf, TSR__VT_MAX, "%u", (unsigned)((const uint8_t *)values)[i]);
    break;
  case TSR_COL_UINT16:
    n = snprintf(buf, TSR__VT_MAX, "%u", (unsigned)((const uint16_t *)values)[i]);
    break;
  case TSR_COL_UINT32:
    n = snprintf(buf, TSR__VT_MAX, "%lu", (unsigned long)((const uint32_t *)values)[i]);
    break;
  case TSR_COL_UINT64:
    n = snprintf(buf, TSR__VT_MAX, "%llu", (unsigned long long)((const uint64_t *)values)[i]);
    break;
  case TSR_COL_FLOAT32:
    return format_float(((const float *)values)[i], true, buf);
  case TSR_COL_FLOAT64:
    return format_float(((const double *)values)[i], false, buf);
  case TSR_COL_DATE:
    return format_date(((const int32_t *)values)[i], buf);
  case TSR_COL_TIMESTAMP:
    return format_timestamp(((const int64_t *)values)[i], t.unit, buf);
  default:
    buf[0] = '\0';
    return 0;
  }
  return n > 0 ? (size_t)n : 0;
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
    return 13; /* -5877641-06-23 */
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
