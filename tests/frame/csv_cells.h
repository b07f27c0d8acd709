/* csv_cells.h — what the CSV reader's tests share: a computed frame turned
 * into a table of canonical cell texts, the format in which the tests write
 * their expected cells by hand and in which bench/peers/duckdb_csv_cells.mjs
 * prints DuckDB's reading of the same file:
 *   - null: NULL (printed \N in a dump);
 *   - strings (string and dict columns): their bytes, with backslash, TAB, CR
 *     and LF written \\, \t, \r, \n;
 *   - integers in decimal; bool true / false;
 *   - floats as the shortest %g text that reads back to the same value (NaN,
 *     Infinity, -Infinity, -0);
 *   - date YYYY-MM-DD; timestamp YYYY-MM-DD HH:MM:SS, then a fraction of a
 *     second without trailing zeros when it is not zero (".5").
 * Every cell is read chunk by chunk through tsr_frame_result_chunk (the
 * dictionary through tsr_frame_result_dict), so the tests also check that
 * the chunks hold the rows they claim. */
#ifndef TSR_TEST_CSV_CELLS_H
#define TSR_TEST_CSV_CELLS_H

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tessera/tessera.h>

typedef struct csv_table {
  int ncols;
  int64_t nrows;
  int64_t nchunks;  /* the frame's row chunks */
  int64_t bad_rows; /* tsr_frame_csv_bad_rows */
  char **names;
  tsr_type *types;
  char **cells; /* nrows x ncols, row-major; NULL is a null */
} csv_table;

static inline void csv_table_free(csv_table *t) {
  if (t->cells != NULL)
    for (int64_t i = 0; i < t->nrows * t->ncols; i++)
      free(t->cells[i]);
  if (t->names != NULL)
    for (int c = 0; c < t->ncols; c++)
      free(t->names[c]);
  free(t->cells);
  free(t->names);
  free(t->types);
  memset(t, 0, sizeof *t);
}

/* The bytes escaped as a string cell. */
static inline char *csv_escape(const char *s, size_t n) {
  char *out = malloc(2 * n + 1), *o = out;
  if (out == NULL)
    abort();
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\\' || c == '\t' || c == '\r' || c == '\n') {
      *o++ = '\\';
      *o++ = c == '\\' ? '\\' : c == '\t' ? 't' : c == '\r' ? 'r' : 'n';
    } else {
      *o++ = c;
    }
  }
  *o = '\0';
  return out;
}

static inline char *csv_strdup(const char *s) {
  char *d = malloc(strlen(s) + 1);
  if (d == NULL)
    abort();
  return strcpy(d, s);
}

/* The fewest significant digits that read back to v (as float when
 * max_digits is 9), in fixed notation for decimal exponents -5..16 and as
 * d.ddde+XX otherwise: 10, 0.1, 9007199254740992, 1e+300, 6.79e-09. */
static inline void csv_fmt_double(double v, int max_digits, char buf[40]) {
  if (isnan(v)) {
    strcpy(buf, "NaN");
  } else if (isinf(v)) {
    strcpy(buf, v > 0 ? "Infinity" : "-Infinity");
  } else if (v == 0) {
    strcpy(buf, signbit(v) ? "-0" : "0");
  } else {
    int p = 1;
    for (; p < max_digits; p++) {
      snprintf(buf, 40, "%.*e", p - 1, v);
      if (max_digits == 9 ? strtof(buf, NULL) == (float)v : strtod(buf, NULL) == v)
        break;
    }
    snprintf(buf, 40, "%.*e", p - 1, v);
    int exp10 = atoi(strchr(buf, 'e') + 1);
    if (exp10 >= -5 && exp10 < 17)
      snprintf(buf, 40, "%.*f", p - 1 - exp10 > 0 ? p - 1 - exp10 : 0, v);
  }
}

/* Days since 1970-01-01 as YYYY-MM-DD (proleptic Gregorian, H. Hinnant's
 * civil_from_days). */
static inline void csv_fmt_date(int64_t days, char buf[80]) {
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  snprintf(buf, 80, "%s%04" PRId64 "-%02" PRId64 "-%02" PRId64, y < 0 ? "-" : "", y < 0 ? -y : y, m,
           d);
}

static inline void csv_fmt_timestamp(int64_t v, tsr_time_unit unit, char buf[256]) {
  static const int64_t per_second[4] = {1, 1000, 1000000, 1000000000};
  static const int digits[4] = {0, 3, 6, 9};
  int64_t ps = per_second[unit & 3];
  int64_t per_day = 86400 * ps;
  int64_t day = v / per_day, rest = v % per_day;
  if (rest < 0) {
    rest += per_day;
    day--;
  }
  char date[80];
  csv_fmt_date(day, date);
  int64_t secs = rest / ps, frac = rest % ps;
  int n = snprintf(buf, 256, "%s %02" PRId64 ":%02" PRId64 ":%02" PRId64, date, secs / 3600,
                   secs / 60 % 60, secs % 60);
  if (frac != 0) {
    n += snprintf(buf + n, (size_t)(256 - n), ".%0*" PRId64, digits[unit & 3], frac);
    while (buf[n - 1] == '0')
      buf[--n] = '\0';
  }
}

/* One fixed-width value as canonical text. */
static inline char *csv_fixed_cell(tsr_type type, const void *p) {
  char buf[256];
  switch (type.id) {
  case TSR_COL_BOOL:
    return csv_strdup(*(const uint8_t *)p ? "true" : "false");
  case TSR_COL_INT8:
    snprintf(buf, sizeof buf, "%d", *(const int8_t *)p);
    break;
  case TSR_COL_INT16:
    snprintf(buf, sizeof buf, "%d", *(const int16_t *)p);
    break;
  case TSR_COL_INT32:
    snprintf(buf, sizeof buf, "%" PRId32, *(const int32_t *)p);
    break;
  case TSR_COL_INT64:
    snprintf(buf, sizeof buf, "%" PRId64, *(const int64_t *)p);
    break;
  case TSR_COL_UINT8:
    snprintf(buf, sizeof buf, "%u", *(const uint8_t *)p);
    break;
  case TSR_COL_UINT16:
    snprintf(buf, sizeof buf, "%u", *(const uint16_t *)p);
    break;
  case TSR_COL_UINT32:
    snprintf(buf, sizeof buf, "%" PRIu32, *(const uint32_t *)p);
    break;
  case TSR_COL_UINT64:
    snprintf(buf, sizeof buf, "%" PRIu64, *(const uint64_t *)p);
    break;
  case TSR_COL_FLOAT32:
    csv_fmt_double(*(const float *)p, 9, buf);
    break;
  case TSR_COL_FLOAT64:
    csv_fmt_double(*(const double *)p, 17, buf);
    break;
  case TSR_COL_DATE:
    csv_fmt_date(*(const int32_t *)p, buf);
    break;
  case TSR_COL_TIMESTAMP:
    csv_fmt_timestamp(*(const int64_t *)p, type.unit, buf);
    break;
  default:
    snprintf(buf, sizeof buf, "<type %d>", (int)type.id);
    break;
  }
  return csv_strdup(buf);
}

/* The result's cells; TSR_OK, or the failing call's status. */
static inline tsr_status csv_table_from_result(const tsr_frame_result *r, csv_table *t) {
  memset(t, 0, sizeof *t);
  t->ncols = tsr_frame_result_ncols(r);
  t->nrows = tsr_frame_result_nrows(r);
  t->names = calloc((size_t)t->ncols + 1, sizeof *t->names);
  t->types = calloc((size_t)t->ncols + 1, sizeof *t->types);
  t->cells = calloc((size_t)(t->nrows * t->ncols) + 1, sizeof *t->cells);
  if (t->names == NULL || t->types == NULL || t->cells == NULL)
    abort();
  int64_t nchunks = tsr_frame_result_nchunks(r);
  for (int c = 0; c < t->ncols; c++) {
    const char *name = tsr_frame_result_col_name(r, c);
    t->names[c] = csv_escape(name, strlen(name));
    t->types[c] = tsr_frame_result_col_type(r, c);
    int64_t dsize = 0;
    const int64_t *doff = NULL;
    const char *ddata = NULL;
    if (t->types[c].id == TSR_COL_DICT) {
      tsr_status s = tsr_frame_result_dict(r, c, &dsize, &doff, &ddata);
      if (s != TSR_OK)
        return s;
    }
    size_t w = tsr_type_width(t->types[c]);
    int64_t row = 0;
    for (int64_t k = 0; k < nchunks; k++) {
      tsr_column_chunk ch;
      tsr_status s = tsr_frame_result_chunk(r, c, k, &ch);
      if (s != TSR_OK)
        return s;
      int64_t nulls = 0;
      for (int64_t i = 0; ch.validity != NULL && i < ch.rows; i++)
        nulls += !((ch.validity[i / 8] >> (i % 8)) & 1);
      if (nulls != ch.null_count) {
        fprintf(stderr,
                "csv_cells: chunk %" PRId64 " of column %d counts %" PRId64
                " nulls, its bitmap %" PRId64 "\n",
                k, c, ch.null_count, nulls);
        return TSR_EINVAL;
      }
      if (row + ch.rows > t->nrows) {
        fprintf(stderr, "csv_cells: chunks hold more than the %" PRId64 " rows\n", t->nrows);
        return TSR_EINVAL;
      }
      for (int64_t i = 0; i < ch.rows; i++, row++) {
        if (ch.validity != NULL && !((ch.validity[i / 8] >> (i % 8)) & 1))
          continue; /* NULL */
        char **cell = &t->cells[row * t->ncols + c];
        if (t->types[c].id == TSR_COL_STRING) {
          const tsr_string_view *v = (const tsr_string_view *)ch.values + i;
          if (v->length > 12 && (ch.data == NULL || v->u.ref.offset > ch.data_bytes ||
                                 v->length > ch.data_bytes - v->u.ref.offset)) {
            fprintf(stderr,
                    "csv_cells: a string of %u bytes at offset %u is outside its chunk's "
                    "%zu bytes of data\n",
                    v->length, v->u.ref.offset, ch.data_bytes);
            return TSR_EINVAL;
          }
          *cell = csv_escape(tsr_string_view_data(v, ch.data), v->length);
        } else if (t->types[c].id == TSR_COL_DICT) {
          int32_t code = ((const int32_t *)ch.values)[i];
          if (code < 0 || code >= dsize) {
            fprintf(stderr, "csv_cells: code %d outside the dictionary\n", code);
            return TSR_EINVAL;
          }
          *cell = csv_escape(ddata + doff[code], (size_t)(doff[code + 1] - doff[code]));
        } else {
          *cell = csv_fixed_cell(t->types[c], (const char *)ch.values + (size_t)i * w);
        }
      }
    }
    if (row != t->nrows) {
      fprintf(stderr, "csv_cells: chunks hold %" PRId64 " rows, not %" PRId64 "\n", row, t->nrows);
      return TSR_EINVAL;
    }
  }
  return TSR_OK;
}

/* Reads `path` with `opt`, computes it, and fills *t; the status of the
 * first failing call (its message in tsr_last_error()). */
static inline tsr_status csv_read_table(tsr_ctx *ctx, const char *path, const tsr_csv_options *opt,
                                        csv_table *t) {
  memset(t, 0, sizeof *t);
  tsr_frame *f = NULL;
  tsr_frame_result *r = NULL;
  tsr_status s = tsr_frame_read_csv(ctx, path, opt, &f);
  if (s != TSR_OK)
    return s;
  int64_t nchunks = tsr_frame_nchunks(f), bad = tsr_frame_csv_bad_rows(f);
  s = tsr_frame_compute(f, NULL, &r);
  if (s == TSR_OK) {
    s = csv_table_from_result(r, t);
    t->nchunks = nchunks;
    t->bad_rows = bad;
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  return s;
}

/* The whole table as text: a line of names, a line of types when `types`,
 * then one line per row (cells TAB-separated, \N for null).  The caller
 * frees it. */
static inline char *csv_table_dump(const csv_table *t, bool types) {
  size_t cap = 256, n = 0;
  char *out = malloc(cap);
  if (out == NULL)
    abort();
#define CSV_PUT(s)                           \
  do {                                       \
    size_t len_ = strlen(s);                 \
    while (n + len_ + 2 > cap) {             \
      cap *= 2;                              \
      if ((out = realloc(out, cap)) == NULL) \
        abort();                             \
    }                                        \
    memcpy(out + n, s, len_);                \
    n += len_;                               \
  } while (0)
  CSV_PUT("#columns");
  for (int c = 0; c < t->ncols; c++) {
    CSV_PUT("\t");
    CSV_PUT(t->names[c]);
  }
  if (types) {
    CSV_PUT("\n#types");
    for (int c = 0; c < t->ncols; c++) {
      CSV_PUT("\t");
      CSV_PUT(tsr_type_name(t->types[c]));
    }
  }
  CSV_PUT("\n");
  for (int64_t i = 0; i < t->nrows; i++) {
    for (int c = 0; c < t->ncols; c++) {
      const char *cell = t->cells[i * t->ncols + c];
      if (c > 0)
        CSV_PUT("\t");
      CSV_PUT(cell ? cell : "\\N");
    }
    CSV_PUT("\n");
  }
#undef CSV_PUT
  out[n] = '\0';
  return out;
}

/* Writes `n` bytes to `path`; false on failure. */
static inline bool csv_write_file(const char *path, const void *bytes, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f == NULL)
    return false;
  bool ok = fwrite(bytes, 1, n, f) == n;
  return fclose(f) == 0 && ok;
}

/* A growing text buffer. */
typedef struct csv_buf {
  char *p;
  size_t n, cap;
} csv_buf;

static inline void csv_buf_put(csv_buf *b, const char *s, size_t len) {
  if (b->n + len + 1 > b->cap) {
    b->cap = b->cap ? b->cap : 4096;
    while (b->n + len + 1 > b->cap)
      b->cap *= 2;
    if ((b->p = realloc(b->p, b->cap)) == NULL)
      abort();
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = '\0';
}
static inline void csv_buf_puts(csv_buf *b, const char *s) { csv_buf_put(b, s, strlen(s)); }

static inline uint64_t csv_rand(uint64_t *state) { /* splitmix64 */
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}
static inline int64_t csv_rand_range(uint64_t *state, int64_t lo, int64_t hi) { /* [lo, hi] */
  return lo + (int64_t)(csv_rand(state) % (uint64_t)(hi - lo + 1));
}

/* A random CSV of `rows` rows and the cells a reader must find in it, as
 * csv_table_dump(t, false) prints them (the reference: values written from
 * numbers the generator chose, floats as strtod reads their text).  Columns:
 *   id  int64 0..rows-1, never null
 *   n   int64 in +-10^12, 10 % null
 *   f   float64 written as %.17g, fixed-point, integer mantissa with exponent,
 *       or a short decimal; 10 % null
 *   b   true / false, 10 % null
 *   d   date 1900..2100, 10 % null
 *   t   timestamp 1900..2100, half with microseconds, 10 % null
 *   s   strings with delimiters, quotes, LF, CR LF, spaces, TABs and
 *       multi-byte UTF-8, quoted when they must be (and at random); 10 %
 *       null (unquoted empty), 5 % the empty string ("")
 *   k   "id001".."id050" (a dictionary column)
 * Both texts are NUL-terminated; the caller frees them. */
static inline void csv_generate(uint64_t seed, int64_t rows, csv_buf *csv, csv_buf *cells) {
  static const char *const pieces[] = {"a",
                                       "b",
                                       "c",
                                       "x",
                                       "y",
                                       "z",
                                       "Q",
                                       " ",
                                       ",",
                                       "\"",
                                       "\n",
                                       "\r\n",
                                       "\t",
                                       "\xc3\xa9",
                                       "\xe6\x97\xa5\xe6\x9c\xac",
                                       "\xf0\x9f\x98\x80",
                                       "\\",
                                       "N",
                                       "ab",
                                       "xyz"};
  uint64_t st = seed;
  char text[256], cell[256];
  memset(csv, 0, sizeof *csv);
  memset(cells, 0, sizeof *cells);
  csv_buf_puts(csv, "id,n,f,b,d,t,s,k\n");
  csv_buf_puts(cells, "#columns\tid\tn\tf\tb\td\tt\ts\tk\n");
  for (int64_t i = 0; i < rows; i++) {
    /* id */
    snprintf(text, sizeof text, "%" PRId64, i);
    csv_buf_puts(csv, text);
    csv_buf_puts(cells, text);
    /* n */
    csv_buf_puts(csv, ",");
    csv_buf_puts(cells, "\t");
    if (csv_rand(&st) % 10 == 0) {
      csv_buf_puts(cells, "\\N");
    } else {
      snprintf(text, sizeof text, "%" PRId64, csv_rand_range(&st, -1000000000000, 1000000000000));
      csv_buf_puts(csv, text);
      csv_buf_puts(cells, text);
    }
    /* f */
    csv_buf_puts(csv, ",");
    csv_buf_puts(cells, "\t");
    if (csv_rand(&st) % 10 == 0) {
      csv_buf_puts(cells, "\\N");
    } else {
      double u = (double)(csv_rand(&st) >> 11) * 0x1p-53;
      switch (csv_rand(&st) % 4) {
      case 0:
        snprintf(text, sizeof text, "%.17g", (u * 2 - 1) * 1e6);
        break;
      case 1:
        snprintf(text, sizeof text, "%" PRId64 ".%02d", csv_rand_range(&st, -99999, 99999),
                 (int)(csv_rand(&st) % 100));
        break;
      case 2:
        snprintf(text, sizeof text, "%de%d", (int)csv_rand_range(&st, -999, 999),
                 (int)csv_rand_range(&st, -30, 30));
        break;
      default:
        snprintf(text, sizeof text, "%.3f", u);
        break;
      }
      csv_buf_puts(csv, text);
      csv_fmt_double(strtod(text, NULL), 17, cell);
      csv_buf_puts(cells, cell);
    }
    /* b */
    csv_buf_puts(csv, ",");
    csv_buf_puts(cells, "\t");
    uint64_t r = csv_rand(&st) % 10;
    csv_buf_puts(csv, r == 0 ? "" : r % 2 ? "true" : "false");
    csv_buf_puts(cells, r == 0 ? "\\N" : r % 2 ? "true" : "false");
    /* d */
    csv_buf_puts(csv, ",");
    csv_buf_puts(cells, "\t");
    if (csv_rand(&st) % 10 == 0) {
      csv_buf_puts(cells, "\\N");
    } else {
      csv_fmt_date(csv_rand_range(&st, -25567, 47481), text);
      csv_buf_puts(csv, text);
      csv_buf_puts(cells, text);
    }
    /* t */
    csv_buf_puts(csv, ",");
    csv_buf_puts(cells, "\t");
    if (csv_rand(&st) % 10 == 0) {
      csv_buf_puts(cells, "\\N");
    } else {
      int64_t secs = csv_rand_range(&st, -2208988800, 4102444799);
      int us = csv_rand(&st) % 2 ? (int)csv_rand_range(&st, 1, 999999) : 0;
      csv_fmt_timestamp(secs, TSR_TIME_S, text);
      if (us != 0)
        snprintf(text + strlen(text), 16, ".%06d", us);
      csv_buf_puts(csv, text);
      csv_fmt_timestamp(secs * 1000000 + us, TSR_TIME_US, cell);
      csv_buf_puts(cells, cell);
    }
    /* s */
    csv_buf_puts(csv, ",");
    csv_buf_puts(cells, "\t");
    r = csv_rand(&st) % 20;
    if (r < 2) {
      csv_buf_puts(cells, "\\N");
    } else if (r == 2) {
      csv_buf_puts(csv, "\"\"");
    } else {
      char raw[256];
      size_t len = 0;
      int npieces = (int)csv_rand_range(&st, 1, 12);
      for (int k = 0; k < npieces; k++) {
        const char *piece = pieces[csv_rand(&st) % (sizeof pieces / sizeof pieces[0])];
        memcpy(raw + len, piece, strlen(piece));
        len += strlen(piece);
      }
      raw[len] = '\0';
      /* A letter first and last keeps the column a string column that no
         sniffer mistakes for numbers, and the spaces inside. */
      char full[300];
      snprintf(full, sizeof full, "s%sz", raw);
      bool special = strpbrk(full, ",\"\r\n") != NULL;
      if (special || csv_rand(&st) % 2) {
        csv_buf_puts(csv, "\"");
        for (const char *p = full; *p; p++)
          csv_buf_put(csv, *p == '"' ? "\"\"" : p, *p == '"' ? 2 : 1); /* RFC 4180: "" */
        csv_buf_puts(csv, "\"");
      } else {
        csv_buf_puts(csv, full);
      }
      char *esc = csv_escape(full, strlen(full));
      csv_buf_puts(cells, esc);
      free(esc);
    }
    /* k */
    snprintf(text, sizeof text, ",id%03d", (int)csv_rand_range(&st, 1, 50));
    csv_buf_puts(csv, text);
    csv_buf_puts(cells, "\t");
    csv_buf_puts(cells, text + 1);
    csv_buf_puts(csv, "\n");
    csv_buf_puts(cells, "\n");
  }
}

#endif /* TSR_TEST_CSV_CELLS_H */
