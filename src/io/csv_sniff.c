/* csv_sniff.c — the CSV dialect, header, names and column types, sniffed
 * from samples spread over the file: the first 256 KiB and eight 64 KiB
 * windows at even intervals after it (each from its first newline on).
 * Delimiter: among , ; TAB | the one that splits the first records into
 * the most consistent count of more than one field (',' when none does).
 * Types: each value's narrowest of bool, int64, float64, date, timestamp,
 * string, joined over the column (int64 + float64 = float64, date +
 * timestamp = timestamp, any other mix = string; a column with no
 * non-null sample value is left to the scan, which types it by its first
 * value; string when it has none).  Header: the first record is a header when
 * one of its values would make its non-string column a string column, or
 * when every column is string and the first record has no empty field. */
#include <stdio.h>

#include "csv_impl.h"

tsr_status tsr__csv_read_range(int fd, const char *path, int64_t off, size_t len, char *buf);

void tsr__csv_format_free(tsr_ctx *ctx, tsr__csv_format *fmt) {
  if (fmt->cols != NULL)
    for (int i = 0; i < fmt->ncols; i++) {
      tsr_free(ctx, fmt->cols[i].name);
      tsr_free(ctx, fmt->cols[i].dict_slots);
    }
  tsr_free(ctx, fmt->cols);
  if (fmt->nulls != NULL)
    for (int i = 0; i < fmt->n_nulls; i++)
      tsr_free(ctx, fmt->nulls[i]);
  tsr_free(ctx, fmt->nulls);
  fmt->cols = NULL;
  fmt->nulls = NULL;
  fmt->ncols = 0;
  fmt->n_nulls = 0;
}

/* A field of a sample record. */
typedef struct sfield {
  const char *s;
  size_t n;
  bool quoted, escaped;
} sfield;

#define SNIFF_MAX_FIELDS 4096

/* Splits the record at p (before end) into fields (at most max kept);
 * tolerant (quotes only open at a field's start).  Returns the field count
 * and sets *next past the record; *complete false when end came first. */
static int sample_record(const char *p, const char *end, char delim, char quote, sfield *fields,
                         int max, const char **next, bool *complete) {
  int f = 0;
  *complete = false;
  for (;;) {
    sfield fd = {p, 0, false, false};
    if (p < end && *p == quote) {
      fd.quoted = true;
      fd.s = ++p;
      for (;;) {
        if (p >= end) {
          *next = end;
          return f;
        }
        if (*p == quote) {
          if (p + 1 < end && p[1] == quote) {
            fd.escaped = true;
            p += 2;
            continue;
          }
          break;
        }
        p++;
      }
      fd.n = (size_t)(p - fd.s);
      p++;
      while (p < end && *p != delim && *p != '\n')
        p++;
    } else {
      while (p < end && *p != delim && *p != '\n')
        p++;
      fd.n = (size_t)(p - fd.s);
      if (fd.n > 0 && p < end && *p == '\n' && p[-1] == '\r')
        fd.n--;
    }
    if (f < max)
      fields[f] = fd;
    f++;
    if (p >= end) {
      *next = end;
      return f;
    }
    if (*p == delim) {
      p++;
      continue;
    }
    *next = p + 1;
    *complete = true;
    return f;
  }
}

static bool blank_record(const char *p, const char *end) {
  return p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'));
}

/* The narrowest type of a non-null value. */
static tsr_coltype classify(const char *s, size_t n) {
  uint8_t b;
  int64_t i;
  double d;
  int32_t day;
  int64_t ts;
  if (csv_parse_bool(s, n, &b))
    return TSR_COL_BOOL;
  if (csv_parse_i64(s, n, &i))
    return TSR_COL_INT64;
  if (csv_parse_f64(s, n, &d, false))
    return TSR_COL_FLOAT64;
  if (csv_parse_date(s, n, &day))
    return TSR_COL_DATE;
  if (csv_parse_timestamp(s, n, TSR_TIME_US, &ts))
    return TSR_COL_TIMESTAMP;
  return TSR_COL_STRING;
}

tsr_coltype tsr__csv_classify(const char *s, size_t n) { return classify(s, n); }

/* The join of two sniffed types (TSR_NUM_COLTYPES: nothing seen yet). */
tsr_coltype tsr__csv_join(tsr_coltype a, tsr_coltype b) {
  if (a == TSR_NUM_COLTYPES)
    return b;
  if (b == TSR_NUM_COLTYPES || a == b)
    return a;
  if ((a == TSR_COL_INT64 && b == TSR_COL_FLOAT64) || (a == TSR_COL_FLOAT64 && b == TSR_COL_INT64))
    return TSR_COL_FLOAT64;
  if ((a == TSR_COL_DATE && b == TSR_COL_TIMESTAMP) ||
      (a == TSR_COL_TIMESTAMP && b == TSR_COL_DATE))
    return TSR_COL_TIMESTAMP;
  return TSR_COL_STRING;
}

static bool is_null_text(const tsr__csv_format *fmt, const sfield *f) {
  if (f->quoted)
    return false;
  if (f->n == 0)
    return true;
  for (int i = 0; i < fmt->n_nulls; i++)
    if (strlen(fmt->nulls[i]) == f->n && memcmp(fmt->nulls[i], f->s, f->n) == 0)
      return true;
  return false;
}

static tsr_status dup_name(tsr_ctx *ctx, const char *s, size_t n, char **out) {
  TSR_TRY(tsr_alloc(ctx, n + 1, (void **)out));
  memcpy(*out, s, n);
  (*out)[n] = '\0';
  return TSR_OK;
}

tsr_status tsr__csv_sniff(tsr_ctx *ctx, int fd, int64_t size, int header_given,
                          tsr__csv_format *fmt) {
  enum { HEAD = 256 * 1024, WIN = 64 * 1024, NWIN = 8 };
  char *buf = NULL;
  sfield *fields = NULL;
  tsr_coltype *types = NULL;
  sfield *first = NULL;
  tsr_status status = TSR_OK;
  char *wbuf = NULL;
  /* the head: at least 256 KiB, grown until it holds the first record */
  size_t cap = HEAD, head;
  for (;;) {
    head = (size_t)(size < (int64_t)cap ? size : (int64_t)cap);
    tsr_free(ctx, buf);
    buf = NULL;
    TSR__TRY_GOTO(status, tsr_alloc(ctx, cap + 1, (void **)&buf));
    TSR__TRY_GOTO(status, tsr__csv_read_range(fd, fmt->path, 0, head, buf));
    if ((int64_t)head == size)
      break;
    bool in = false, found = false;
    char q = fmt->quote ? fmt->quote : '"';
    for (size_t i = 0; i < head && !found; i++) {
      in ^= buf[i] == q;
      found = buf[i] == '\n' && !in;
    }
    if (found)
      break;
    TSR__CHECK_GOTO(status, cap < ((size_t)1 << 30), TSR_EPARSE,
                    "%s: the first record is longer than 1 GiB", fmt->path);
    cap *= 2;
  }
  TSR__TRY_GOTO(status, tsr_alloc(ctx, WIN + 1, (void **)&wbuf));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, SNIFF_MAX_FIELDS * sizeof *fields, (void **)&fields));
  fmt->quotes_seen = memchr(buf, fmt->quote ? fmt->quote : '"', head) != NULL;
  size_t bom = head >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
  const char *h0 = buf + bom, *hend = buf + head;
  if (fmt->quote == 0)
    fmt->quote = '"';
  fmt->data_start = (int64_t)bom;
  fmt->nfields = 0;
  fmt->sample_records = fmt->sample_bytes = 0;
  if (h0 == hend)
    goto done; /* empty */
  if (fmt->delim == 0) {
    static const char cands[4] = {',', ';', '\t', '|'};
    int best_score = -1;
    fmt->delim = ',';
    for (int k = 0; k < 4; k++) {
      int counts[64], nrec = 0;
      const char *p = h0;
      while (p < hend && nrec < 64) {
        if (blank_record(p, hend)) {
          p += *p == '\n' ? 1 : 2;
          continue;
        }
        bool complete;
        counts[nrec++] = sample_record(p, hend, cands[k], fmt->quote, fields, 0, &p, &complete);
        if (!complete && nrec > 1)
          nrec--;
      }
      /* the first record's count, and how many records agree with it */
      if (nrec == 0 || counts[0] < 2)
        continue;
      int agree = 0;
      for (int i = 0; i < nrec; i++)
        agree += counts[i] == counts[0];
      int score = agree * 4096 + (counts[0] < 4096 ? counts[0] : 4095);
      if (score > best_score) {
        best_score = score;
        fmt->delim = cands[k];
      }
    }
  }
  /* the first record */
  const char *after_first;
  bool complete;
  int nf = sample_record(h0, hend, fmt->delim, fmt->quote, fields, SNIFF_MAX_FIELDS, &after_first,
                         &complete);
  TSR__CHECK_GOTO(status, nf <= SNIFF_MAX_FIELDS, TSR_EPARSE,
                  "%s: the first record has %d fields; at most %d are supported", fmt->path, nf,
                  SNIFF_MAX_FIELDS);
  TSR__CHECK_GOTO(status, complete || (size_t)size == head, TSR_EPARSE,
                  "%s: the first record is longer than %zu bytes", fmt->path, head);
  fmt->nfields = nf;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nf + 1, sizeof *fmt->cols, (void **)&fmt->cols));
  fmt->ncols = nf;
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)nf * sizeof *first + 1, (void **)&first));
  memcpy(first, fields, (size_t)nf * sizeof *first);
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)nf * sizeof *types + 1, (void **)&types));
  for (int i = 0; i < nf; i++)
    types[i] = TSR_NUM_COLTYPES;
  /* data records: the head after the first record, then the windows */
  int64_t wstart = (int64_t)head;
  int nwin = size > (int64_t)head ? NWIN : 0;
  for (int w = -1; w < nwin; w++) {
    const char *p, *end;
    bool at_eof;
    if (w < 0) {
      p = after_first;
      end = hend;
      at_eof = (int64_t)head == size;
    } else {
      int64_t span = size - wstart;
      int64_t off = wstart + span * w / nwin;
      size_t n = (size_t)(size - off < WIN ? size - off : WIN);
      if (n == 0)
        continue;
      TSR__TRY_GOTO(status, tsr__csv_read_range(fd, fmt->path, off, n, wbuf));
      fmt->quotes_seen |= memchr(wbuf, fmt->quote, n) != NULL;
      end = wbuf + n;
      at_eof = off + (int64_t)n == size;
      p = memchr(wbuf, '\n', n);
      if (p == NULL)
        continue;
      p++;
    }
    while (p < end) {
      if (blank_record(p, end)) {
        p += *p == '\n' ? 1 : 2;
        continue;
      }
      const char *rec = p;
      int k =
          sample_record(p, end, fmt->delim, fmt->quote, fields, SNIFF_MAX_FIELDS, &p, &complete);
      if (!complete && !at_eof)
        break; /* a partial record at a window's end */
      if (k != nf)
        continue;
      fmt->sample_records++;
      fmt->sample_bytes += p - rec;
      for (int i = 0; i < nf; i++)
        if (!is_null_text(fmt, &fields[i])) {
          tsr_coltype t = classify(fields[i].s, fields[i].n);
          /* A window starts at its first newline, which may lie inside a
           * long quoted field: what follows is then not records.  Windows
           * may widen numbers and times but never make a column a string
           * column: the scan checks every value and widens exactly, so a
           * real string there still makes the column one. */
          if (w >= 0 && tsr__csv_join(types[i], t) == TSR_COL_STRING)
            continue;
          types[i] = tsr__csv_join(types[i], t);
        }
    }
  }
  /* header */
  bool header;
  if (header_given != TSR_CSV_HEADER_AUTO) {
    header = header_given == TSR_CSV_HEADER_YES;
  } else {
    bool all_string = true, misfit = false, empty = false;
    for (int i = 0; i < nf; i++) {
      if (types[i] != TSR_COL_STRING && types[i] != TSR_NUM_COLTYPES)
        all_string = false;
      if (is_null_text(fmt, &first[i]) || first[i].n == 0)
        empty = true;
      else if (types[i] != TSR_COL_STRING && types[i] != TSR_NUM_COLTYPES &&
               tsr__csv_join(types[i], classify(first[i].s, first[i].n)) == TSR_COL_STRING)
        misfit = true;
    }
    header = misfit || (all_string && !empty);
  }
  fmt->header = header;
  if (!header) /* the first record is data */
    for (int i = 0; i < nf; i++)
      if (!is_null_text(fmt, &first[i]))
        types[i] = tsr__csv_join(types[i], classify(first[i].s, first[i].n));
  for (int i = 0; i < nf; i++) {
    tsr__csv_col *c = &fmt->cols[i];
    c->field = i;
    /* TSR_NUM_COLTYPES: no non-null value in the samples; the scan types it */
    c->type.id = types[i];
    c->type.unit = c->type.id == TSR_COL_TIMESTAMP ? TSR_TIME_US : 0;
    char tmp[32];
    if (header && first[i].n > 0) {
      size_t m = csv_string_out(first[i].s, first[i].n, first[i].escaped, true, fmt->quote, NULL);
      TSR__TRY_GOTO(status, tsr_alloc(ctx, m + 1, (void **)&c->name));
      csv_string_out(first[i].s, first[i].n, first[i].escaped, true, fmt->quote, c->name);
      c->name[m] = '\0';
    } else {
      snprintf(tmp, sizeof tmp, "column%d", i);
      TSR__TRY_GOTO(status, dup_name(ctx, tmp, strlen(tmp), &c->name));
    }
  }
  /* duplicate names get a suffix _1, _2, ... (as DuckDB) */
  for (int i = 1; i < nf; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(fmt->cols[i].name, fmt->cols[j].name) == 0) {
        for (int k = 1;; k++) {
          char tmp[600];
          snprintf(tmp, sizeof tmp, "%.500s_%d", fmt->cols[i].name, k);
          bool taken = false;
          for (int m = 0; m < nf && !taken; m++)
            taken = m != i && strcmp(fmt->cols[m].name, tmp) == 0;
          if (!taken) {
            char *nn;
            TSR__TRY_GOTO(status, dup_name(ctx, tmp, strlen(tmp), &nn));
            tsr_free(ctx, fmt->cols[i].name);
            fmt->cols[i].name = nn;
            break;
          }
        }
        break;
      }
  if (header)
    fmt->data_start = (int64_t)(after_first - buf);
done:
fail:
  tsr_free(ctx, first);
  tsr_free(ctx, buf);
  tsr_free(ctx, wbuf);
  tsr_free(ctx, fields);
  tsr_free(ctx, types);
  return status;
}
