/* csv_scan.c — one pass over the whole CSV at frame creation, in parallel
 * over byte blocks (OpenMP, one block per iteration, each read with pread
 * into one buffer: memory is the threads' blocks, never the file).
 *
 * Blocks: the data is cut at data_start + i * block_bytes and each cut is
 * moved to the first record boundary after it, so blocks depend on the
 * input and block_bytes alone.  The boundary is first found
 * speculatively, as the first newline after the cut preceded by an even
 * number of quotes from the cut; scanning block i from its (true) start
 * verifies that it ends outside quotes exactly at block i + 1's start.
 * When a block ends inside quotes the cut fell inside a quoted field: the
 * quotes before every cut are then counted (in parallel) and the
 * boundaries found exactly, and the scan runs again.
 *
 * Per block the scan counts rows and lines, checks field counts, checks
 * every value against its column's type, widening the column when a value
 * does not fit (int64 -> float64 -> string, date -> timestamp, any other
 * -> string; sniffed columns only: a schema's types are kept and such
 * values are bad rows), validates UTF-8 of string columns, counts the
 * bytes of strings longer than 12 (the chunks' data capacities) and
 * collects distinct strings (merged per block into one set per column,
 * given up past the dictionary limit).  When a column became a string
 * column during the pass, the pass runs again with the final types, so
 * every string value was validated and collected. */
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>

#include "csv_impl.h"

tsr_status tsr__csv_read_range(int fd, const char *path, int64_t off, size_t len, char *buf);
tsr_coltype tsr__csv_classify(const char *s, size_t n);
tsr_coltype tsr__csv_join(tsr_coltype a, tsr_coltype b);

/* ---- scanning one block ---------------------------------------------------------- */

typedef struct block_scan {
  int64_t rows, bad, newlines;
  tsr_coltype *lt; /* local column types */
  int err;         /* 0; 1: an error (msg, err_pos); 2: ended inside quotes (misprediction) */
  int64_t err_pos; /* offset in the block */
  tsr_status err_status;
  char msg[768];
} block_scan;

typedef struct scan_shared {
  tsr_ctx *ctx;
  int fd;
  const tsr__csv_format *fmt;
  const int *fieldcol;
  bool *collect; /* per column */
  int64_t *limit;
  _Atomic int *given_up;
  csv_strset *global;
  int64_t nblocks;
  tsr__csv_block *blocks;
  int64_t *data_bytes;
  block_scan *bs;
  bool exact;
} scan_shared;

static const char *type_name(tsr_type t) {
  switch (t.id) {
  case TSR_COL_BOOL:
    return "bool";
  case TSR_COL_INT8:
    return "int8";
  case TSR_COL_INT16:
    return "int16";
  case TSR_COL_INT32:
    return "int32";
  case TSR_COL_INT64:
    return "int64";
  case TSR_COL_UINT8:
    return "uint8";
  case TSR_COL_UINT16:
    return "uint16";
  case TSR_COL_UINT32:
    return "uint32";
  case TSR_COL_UINT64:
    return "uint64";
  case TSR_COL_FLOAT32:
    return "float32";
  case TSR_COL_FLOAT64:
    return "float64";
  case TSR_COL_DATE:
    return "date (YYYY-MM-DD)";
  case TSR_COL_TIMESTAMP:
    return "timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])";
  default:
    return "string";
  }
}

/* Whether a non-null value fits type t (any type). */
static bool value_ok(tsr_type t, const char *s, size_t n) {
  int64_t i;
  uint64_t u;
  double d;
  uint8_t b;
  int32_t day;
  switch (t.id) {
  case TSR_COL_BOOL:
    return csv_parse_bool(s, n, &b);
  case TSR_COL_INT8:
    return csv_parse_i64(s, n, &i) && i >= INT8_MIN && i <= INT8_MAX;
  case TSR_COL_INT16:
    return csv_parse_i64(s, n, &i) && i >= INT16_MIN && i <= INT16_MAX;
  case TSR_COL_INT32:
    return csv_parse_i64(s, n, &i) && i >= INT32_MIN && i <= INT32_MAX;
  case TSR_COL_INT64:
    return csv_parse_i64(s, n, &i);
  case TSR_COL_UINT8:
    return csv_parse_u64(s, n, &u) && u <= UINT8_MAX;
  case TSR_COL_UINT16:
    return csv_parse_u64(s, n, &u) && u <= UINT16_MAX;
  case TSR_COL_UINT32:
    return csv_parse_u64(s, n, &u) && u <= UINT32_MAX;
  case TSR_COL_UINT64:
    return csv_parse_u64(s, n, &u);
  case TSR_COL_FLOAT32:
  case TSR_COL_FLOAT64:
    return csv_parse_f64(s, n, &d, false);
  case TSR_COL_DATE:
    return csv_parse_date(s, n, &day);
  case TSR_COL_TIMESTAMP:
    return csv_parse_timestamp(s, n, t.unit, &i);
  default:
    return true;
  }
}

static int64_t count_newlines(const char *p, size_t n) {
  int64_t k = 0;
  for (size_t i = 0; i < n; i++)
    k += p[i] == '\n';
  return k;
}

static void set_err(block_scan *bs, int64_t pos, const char *fmt, ...) TSR_PRINTF(3, 4);
static void set_err(block_scan *bs, int64_t pos, const char *fmt, ...) {
  if (bs->err && bs->err_pos <= pos)
    return;
  bs->err = 1;
  bs->err_pos = pos;
  bs->err_status = TSR_EPARSE;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(bs->msg, sizeof bs->msg, fmt, ap);
  va_end(ap);
}

/* A field's text for a message (at most 40 bytes, printable). */
static void show(char *out, const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n && k < 40; i++)
    out[k++] = (unsigned char)s[i] >= 32 && s[i] != 127 ? s[i] : '?';
  if (n > 40) {
    memcpy(out + k, "...", 3);
    k += 3;
  }
  out[k] = '\0';
}

#define CHECK_LOOP(OK)               \
  for (; r < n; r++) {               \
    uint32_t L = blen[r];            \
    const char *s = buf + bstart[r]; \
    if (csv_is_null(fmt, s, L))      \
      continue;                      \
    size_t len = L & CSV_LENMASK;    \
    if (!(OK))                       \
      break;                         \
  }

static void scan_block(scan_shared *sh, int64_t bi) {
  const tsr__csv_format *fmt = sh->fmt;
  tsr_ctx *ctx = sh->ctx;
  block_scan *bs = &sh->bs[bi];
  const tsr__csv_block *blk = &sh->blocks[bi];
  size_t blen_bytes = (size_t)(blk->end - blk->start);
  const char *buf = NULL;
  uint32_t *pos = NULL;
  csv_batch *b = NULL;
  csv_strset *sets = NULL;
  const int ncols = fmt->ncols;
  bs->rows = bs->bad = bs->newlines = 0;
  bs->err = 0;
  for (int c = 0; c < ncols; c++)
    bs->lt[c] = fmt->cols[c].type.id;
  csv_input in;
  memset(&in, 0, sizeof in);
  tsr_status st = csv_input_open(ctx, sh->fd, fmt->path, blk->start, blen_bytes, false, &in);
  buf = in.p;
  if (st == TSR_OK)
    st = tsr_alloc(ctx, sizeof *b, (void **)&b);
  if (st == TSR_OK)
    st = tsr_alloc(ctx, 2 * (size_t)(ncols + 1) * CSV_STRIDE * sizeof(uint32_t), (void **)&pos);
  if (st == TSR_OK)
    st = tsr_calloc(ctx, (size_t)ncols + 1, sizeof *sets, (void **)&sets);
  if (st != TSR_OK) {
    bs->err = 1;
    bs->err_pos = 0;
    bs->err_status = st;
    snprintf(bs->msg, sizeof bs->msg, "%s", tsr_last_error());
    goto done;
  }
  b->start = pos;
  b->len = pos + (size_t)(ncols + 1) * CSV_STRIDE;
  csv_tok tok;
  csv_tok_init(&tok, fmt, sh->fieldcol);
  const char *p = buf, *end = buf + blen_bytes;
  const bool last = bi == sh->nblocks - 1;
  uint8_t bad[CSV_BATCH];
  while (p < end && !bs->err) {
    csv_tokerr te;
    if (csv_tokenize(&tok, buf, &p, end, b, &te) != 0) {
      if (te.kind == 3 && !last && !sh->exact) {
        bs->err = 2;
        break;
      }
      static const char *what[4] = {"", "a quote inside an unquoted field",
                                    "text after the closing quote of a quoted field",
                                    "a quoted field that is never closed (it opens here)"};
      set_err(bs, te.pos, "column %d: %s", te.field + 1, what[te.kind]);
      break;
    }
    const int n = b->n;
    bs->newlines += b->newlines;
    if (n == 0)
      break;
    memset(bad, 0, (size_t)n);
    /* field counts */
    for (int r = 0; r < n; r++)
      if (b->nf[r] != fmt->nfields) {
        if (fmt->bad_rows == TSR_CSV_BAD_ERROR) {
          int nf = b->nf[r];
          set_err(bs, b->rowstart[r], "column %d: expected %d fields, found %d",
                  (nf < fmt->nfields ? nf : fmt->nfields) + 1, fmt->nfields, nf);
          break;
        }
        bad[r] = 1;
      }
    /* types */
    for (int ci = 0; ci < ncols && !bs->err; ci++) {
      const tsr__csv_col *col = &fmt->cols[ci];
      const uint32_t *bstart = b->start + (size_t)ci * CSV_STRIDE;
      const uint32_t *blen = b->len + (size_t)ci * CSV_STRIDE;
      int64_t bytes = 0;
      for (int r = 0; r < n; r++) {
        uint32_t L = blen[r];
        size_t len = L & CSV_LENMASK;
        if (len > 12 || (fmt->replace_utf8 && len > 4)) {
          if ((L & CSV_ESCAPED) || fmt->replace_utf8)
            len = csv_string_out(buf + bstart[r], len, (L & CSV_ESCAPED) != 0, fmt->replace_utf8,
                                 fmt->quote, NULL);
          bytes += len > 12 ? (int64_t)len : 0;
        }
      }
      sh->data_bytes[(int64_t)ci * sh->nblocks + bi] += bytes;
      int r = 0;
      while (r < n) {
        tsr_coltype t = bs->lt[ci];
        if (col->fixed) {
          if (t == TSR_COL_STRING || t == TSR_COL_DICT)
            break;
          CHECK_LOOP(value_ok(col->type, s, len));
        } else {
          switch (t) {
          case TSR_COL_INT64: {
            int64_t v;
            CHECK_LOOP(csv_parse_i64(s, len, &v));
            break;
          }
          case TSR_COL_FLOAT64: {
            double v;
            CHECK_LOOP(csv_parse_f64(s, len, &v, false));
            break;
          }
          case TSR_COL_STRING:
            r = n;
            break;
          case TSR_NUM_COLTYPES: /* untyped yet: the first non-null value types it */
            CHECK_LOOP(((void)len, false));
            break;
          default: {
            tsr_type tt = {t, t == TSR_COL_TIMESTAMP ? TSR_TIME_US : 0};
            CHECK_LOOP(value_ok(tt, s, len));
            break;
          }
          }
        }
        if (r >= n)
          break;
        const char *s = buf + bstart[r];
        size_t len = blen[r] & CSV_LENMASK;
        if (!col->fixed) {
          bs->lt[ci] = tsr__csv_join(t, tsr__csv_classify(s, len));
          continue;
        }
        if (fmt->bad_rows == TSR_CSV_BAD_ERROR) {
          char shown[64];
          show(shown, s, len);
          set_err(bs, bstart[r], "column %d ('%s'): expected %s, found '%s'", col->field + 1,
                  col->name, type_name(col->type), shown);
          break;
        }
        bad[r] = 1;
        r++;
      }
    }
    if (bs->err)
      break;
    /* strings: UTF-8 and distinct values */
    for (int ci = 0; ci < ncols && !bs->err; ci++) {
      tsr_coltype t = bs->lt[ci];
      if (t != TSR_COL_STRING && t != TSR_COL_DICT)
        continue;
      const tsr__csv_col *col = &fmt->cols[ci];
      const uint32_t *bstart = b->start + (size_t)ci * CSV_STRIDE;
      const uint32_t *blen = b->len + (size_t)ci * CSV_STRIDE;
      if (!fmt->replace_utf8)
        for (int r = 0; r < n; r++) {
          uint32_t L = blen[r];
          const char *s = buf + bstart[r];
          size_t len = L & CSV_LENMASK;
          int64_t at = csv_utf8_invalid(s, len);
          if (at >= 0) {
            set_err(bs, bstart[r] + at,
                    "column %d ('%s'): invalid UTF-8 (byte 0x%02X at byte %lld of the value); "
                    "set replace_invalid_utf8 to replace it",
                    col->field + 1, col->name, (unsigned)(uint8_t)s[at], (long long)at + 1);
            break;
          }
        }
      if (bs->err || !sh->collect[ci] || sh->given_up[ci])
        continue;
      csv_strset *set = &sets[ci];
      for (int r = 0; r < n; r++) {
        uint32_t L = blen[r];
        const char *s = buf + bstart[r];
        if (bad[r] && fmt->bad_rows == TSR_CSV_BAD_SKIP)
          continue;
        if (csv_is_null(fmt, s, L))
          continue;
        size_t len = L & CSV_LENMASK;
        const char *kend = buf + blen_bytes;
        char stack[256];
        char *tmp = NULL;
        if ((L & CSV_ESCAPED) || (fmt->replace_utf8 && !csv_ascii(s, len))) {
          size_t m =
              csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fmt->replace_utf8, fmt->quote, NULL);
          tmp = m + 16 <= sizeof stack ? stack : malloc(m + 16);
          if (tmp == NULL) {
            bs->err = 1;
            bs->err_pos = 0;
            bs->err_status = TSR_ENOMEM;
            snprintf(bs->msg, sizeof bs->msg, "%s: out of memory", fmt->path);
            break;
          }
          len = csv_string_out(s, len, (L & CSV_ESCAPED) != 0, fmt->replace_utf8, fmt->quote, tmp);
          s = tmp;
          kend = tmp + len + 16;
        }
        csv_key key = csv_key_of(s, len, kend);
        tsr_status s2 = tsr__csv_strset_add(ctx, set, s, len, &key, NULL);
        if (tmp != NULL && tmp != stack)
          free(tmp);
        if (s2 != TSR_OK) {
          bs->err = 1;
          bs->err_pos = 0;
          bs->err_status = s2;
          snprintf(bs->msg, sizeof bs->msg, "%s", tsr_last_error());
          break;
        }
        if (set->n > sh->limit[ci]) {
          sh->given_up[ci] = 1;
          tsr__csv_strset_free(ctx, set);
          break;
        }
      }
    }
    int nbad = 0;
    for (int r = 0; r < n; r++)
      nbad += bad[r];
    bs->bad += nbad;
    bs->rows += fmt->bad_rows == TSR_CSV_BAD_SKIP ? n - nbad : n;
  }
  if (!bs->err)
    for (int ci = 0; ci < ncols; ci++) {
      csv_strset *set = &sets[ci];
      if (!sh->collect[ci] || set->n == 0)
        continue;
#pragma omp critical(tsr_csv_dict_merge)
      {
        csv_strset *g = &sh->global[ci];
        for (int64_t i = 0; i < set->n && !sh->given_up[ci] && !bs->err; i++) {
          tsr_status s2 = tsr__csv_strset_add(ctx, g, set->arena + set->offs[i],
                                     (size_t)(set->offs[i + 1] - set->offs[i]), &set->keys[i], NULL);
          if (s2 != TSR_OK) {
            bs->err = 1;
            bs->err_pos = 0;
            bs->err_status = s2;
            snprintf(bs->msg, sizeof bs->msg, "%s", tsr_last_error());
          }
          if (g->n > sh->limit[ci]) {
            sh->given_up[ci] = 1;
            tsr__csv_strset_free(ctx, g);
          }
        }
      }
    }
done:
  if (sets != NULL)
    for (int ci = 0; ci < ncols; ci++)
      tsr__csv_strset_free(ctx, &sets[ci]);
  tsr_free(ctx, sets);
  csv_input_close(ctx, &in);
  tsr_free(ctx, b);
  tsr_free(ctx, pos);
}

/* ---- block boundaries ------------------------------------------------------------- */

/* The first record boundary at or after `cut` (> data_start), assuming
 * `odd` quotes precede it: the byte after the first newline preceded by an
 * even count of quotes (counting from the data start).  size when none;
 * -1 when the search passes give_up (a speculation that went wrong). */
static tsr_status find_boundary(int fd, const tsr__csv_format *fmt, int64_t size, int64_t cut,
                                bool odd, int64_t give_up, char *win, size_t win_bytes,
                                int64_t *out) {
  bool in = odd;
  for (int64_t off = cut; off < size;) {
    if (off >= give_up) {
      *out = -1;
      return TSR_OK;
    }
    size_t n = (size_t)(size - off < (int64_t)win_bytes ? size - off : (int64_t)win_bytes);
    TSR_TRY(tsr__csv_read_range(fd, fmt->path, off, n, win));
    for (size_t i = 0; i < n; i++) {
      char c = win[i];
      if (c == fmt->quote)
        in = !in;
      else if (c == '\n' && !in) {
        *out = off + (int64_t)i + 1;
        return TSR_OK;
      }
    }
    off += (int64_t)n;
  }
  *out = size;
  return TSR_OK;
}

tsr_status tsr__csv_make_blocks(tsr_ctx *ctx, int fd, const tsr__csv_format *fmt, int64_t size,
                              int64_t block_bytes, bool exact, int64_t *nblocks,
                              tsr__csv_block **blocks) {
  int64_t start = fmt->data_start, span = size - start;
  int64_t ncuts = span > 0 ? (span + block_bytes - 1) / block_bytes : 0;
  int64_t *bound = NULL;
  uint8_t *odd = NULL;
  char *win = NULL;
  tsr_status status = TSR_OK;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)ncuts + 2, sizeof *bound, "CSV blocks",
                                         (void **)&bound));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncuts + 2, 1, (void **)&odd));
  if (exact && ncuts > 1) {
    /* quotes before each cut: counted per range in parallel, then summed */
    int64_t *q = NULL;
    TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncuts + 1, sizeof *q, (void **)&q));
    tsr_status st2 = TSR_OK;
    char quote = fmt->quote;
#pragma omp parallel num_threads(tsr_ctx_threads(ctx))
    {
      char *w = NULL;
      tsr_status s3 = tsr_alloc(ctx, 1 << 20, (void **)&w);
#pragma omp for schedule(dynamic, 1)
      for (int64_t i = 0; i < ncuts; i++) {
        int64_t a = start + i * block_bytes, e = a + block_bytes < size ? a + block_bytes : size;
        int64_t k = 0;
        for (int64_t off = a; off < e && s3 == TSR_OK; off += 1 << 20) {
          size_t n = (size_t)(e - off < (1 << 20) ? e - off : (1 << 20));
          s3 = tsr__csv_read_range(fd, fmt->path, off, n, w);
          if (s3 == TSR_OK)
            for (size_t j = 0; j < n; j++)
              k += w[j] == quote;
        }
        q[i] = k;
      }
      if (s3 != TSR_OK) {
#pragma omp critical(tsr_csv_status)
        st2 = s3;
      }
      tsr_free(ctx, w);
    }
    int64_t total = 0;
    for (int64_t i = 0; i < ncuts; i++) {
      odd[i] = (uint8_t)(total & 1);
      total += q[i];
    }
    tsr_free(ctx, q);
    TSR__TRY_GOTO(status, st2);
  }
  TSR__TRY_GOTO(status, tsr_alloc(ctx, 64 * 1024, (void **)&win));
  bound[0] = start;
  for (int64_t i = 1; i < ncuts; i++) {
    int64_t cut = start + i * block_bytes;
    TSR__TRY_GOTO(status, find_boundary(fd, fmt, size, cut, odd[i] != 0,
                                        exact ? INT64_MAX : cut + block_bytes + (1 << 20), win,
                                        64 * 1024, &bound[i]));
    if (bound[i] < 0) {
      *nblocks = -1; /* speculation failed: find them exactly */
      goto fail;
    }
  }
  bound[ncuts] = size;
  int64_t n = 0;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)ncuts + 1, sizeof **blocks, "CSV blocks",
                                         (void **)blocks));
  for (int64_t i = 0; i < ncuts; i++) {
    int64_t a = bound[i] > (n > 0 ? (*blocks)[n - 1].end : start)
                    ? bound[i]
                    : (n > 0 ? (*blocks)[n - 1].end : start);
    int64_t e = bound[i + 1] > a ? bound[i + 1] : a;
    if (e > a) {
      TSR__CHECK_GOTO(status, e - a < (int64_t)CSV_LENMASK, TSR_EPARSE,
                      "%s: a record near byte %lld is longer than %lld bytes", fmt->path,
                      (long long)a, (long long)CSV_LENMASK);
      (*blocks)[n++] = (tsr__csv_block){a, e, 0, 0, 0};
    }
  }
  *nblocks = n;
fail:
  tsr_free(ctx, bound);
  tsr_free(ctx, odd);
  tsr_free(ctx, win);
  return status;
}

/* ---- the scan ------------------------------------------------------------------------ */

void tsr__csv_scan_result_free(tsr_ctx *ctx, tsr__csv_scan_result *r) {
  if (r->dict_n != NULL)
    for (int i = 0; r->dict_offsets != NULL && r->dict_n[i] != INT64_MIN; i++) {
      tsr_free(ctx, r->dict_offsets[i]);
      if (r->dict_data != NULL) /* NULL when its allocation failed */
        tsr_free(ctx, r->dict_data[i]);
    }
  tsr_free(ctx, r->blocks);
  tsr_free(ctx, r->data_bytes);
  tsr_free(ctx, r->dict_n);
  tsr_free(ctx, r->dict_offsets);
  tsr_free(ctx, r->dict_data);
  memset(r, 0, sizeof *r);
}

tsr_status tsr__csv_scan(tsr_ctx *ctx, int fd, int64_t size, int64_t block_bytes,
                         tsr__csv_format *fmt, tsr__csv_scan_result *out) {
  memset(out, 0, sizeof *out);
  const int ncols = fmt->ncols;
  tsr_status status = TSR_OK;
  int *fieldcol = NULL;
  bool *collect = NULL;
  int64_t *limit = NULL;
  _Atomic int *given_up = NULL;
  csv_strset *global = NULL;
  block_scan *bs = NULL;
  tsr_coltype *lts = NULL;
  char *hdr = NULL;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)fmt->nfields + 1, sizeof *fieldcol, "fields",
                                         (void **)&fieldcol));
  for (int f = 0; f < fmt->nfields; f++)
    fieldcol[f] = -1;
  for (int i = 0; i < ncols; i++)
    fieldcol[fmt->cols[i].field] = i;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *collect, (void **)&collect));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *limit, (void **)&limit));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *given_up, (void **)&given_up));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *global, (void **)&global));
  /* lines before the data */
  int64_t first_line = 1;
  if (fmt->data_start > 0) {
    TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)fmt->data_start, (void **)&hdr));
    TSR__TRY_GOTO(status, tsr__csv_read_range(fd, fmt->path, 0, (size_t)fmt->data_start, hdr));
    first_line += count_newlines(hdr, (size_t)fmt->data_start);
  }
  bool exact = fmt->quotes_seen;
  for (int pass = 0;; pass++) {
    TSR__CHECK_GOTO(status, pass < 16, TSR_EINVAL, "%s: the scan does not settle", fmt->path);
    tsr__csv_block *blocks = NULL;
    int64_t nb = 0;
    tsr_free(ctx, out->blocks);
    out->blocks = NULL;
    TSR__TRY_GOTO(status, tsr__csv_make_blocks(ctx, fd, fmt, size, block_bytes, exact, &nb, &blocks));
    if (nb < 0) {
      exact = true;
      continue;
    }
    out->blocks = blocks;
    out->nblocks = nb;
    tsr_free(ctx, out->data_bytes);
    out->data_bytes = NULL;
    TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols * (size_t)nb + 1, sizeof *out->data_bytes,
                                     (void **)&out->data_bytes));
    tsr_free(ctx, bs);
    tsr_free(ctx, lts);
    bs = NULL;
    lts = NULL;
    TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nb + 1, sizeof *bs, (void **)&bs));
    TSR__TRY_GOTO(status, tsr_calloc(ctx, ((size_t)nb + 1) * ((size_t)ncols + 1), sizeof *lts,
                                     (void **)&lts));
    for (int64_t i = 0; i < nb; i++)
      bs[i].lt = lts + i * (ncols + 1);
    for (int i = 0; i < ncols; i++) {
      tsr_coltype t = fmt->cols[i].type.id;
      collect[i] = fmt->dict_max >= 0 && (t == TSR_COL_STRING || t == TSR_COL_DICT) &&
                   !(fmt->cols[i].fixed && t == TSR_COL_STRING);
      limit[i] = t == TSR_COL_DICT && fmt->cols[i].fixed ? INT32_MAX : fmt->dict_max;
      if (t == TSR_COL_DICT && fmt->cols[i].fixed)
        collect[i] = true;
      given_up[i] = 0;
      tsr__csv_strset_free(ctx, &global[i]);
    }
    scan_shared sh = {ctx,    fd, fmt,    fieldcol,        collect, limit, given_up,
                      global, nb, blocks, out->data_bytes, bs,      exact};
#pragma omp parallel for schedule(dynamic, 1) num_threads(tsr_ctx_threads(ctx))
    for (int64_t i = 0; i < nb; i++)
      scan_block(&sh, i);
    /* lines, the first error, a misprediction */
    int64_t line = first_line;
    bool again = false;
    for (int64_t i = 0; i < nb; i++) {
      blocks[i].line = line;
      if (bs[i].err == 2) {
        exact = true;
        again = true;
        break;
      }
      if (bs[i].err == 1) {
        if (bs[i].err_status != TSR_EPARSE) {
          status = tsr_error_set(bs[i].err_status, "%s", bs[i].msg);
          goto fail;
        }
        /* a later pass may find an earlier error once types settle */
        bool settled = true;
        for (int c = 0; c < ncols; c++) {
          tsr_coltype t = fmt->cols[c].type.id;
          for (int64_t j = 0; j <= i && settled; j++)
            if (tsr__csv_join(t, bs[j].lt[c]) == TSR_COL_STRING && t != TSR_COL_STRING &&
                t != TSR_COL_DICT)
              settled = false;
        }
        if (!settled) {
          for (int c = 0; c < ncols; c++)
            for (int64_t j = 0; j <= i; j++)
              if (!fmt->cols[c].fixed)
                fmt->cols[c].type.id = tsr__csv_join(fmt->cols[c].type.id, bs[j].lt[c]);
          again = true;
          break;
        }
        char *buf = NULL;
        int64_t nl = 0;
        if (tsr_alloc(ctx, (size_t)bs[i].err_pos + 1, (void **)&buf) == TSR_OK) {
          if (tsr__csv_read_range(fd, fmt->path, blocks[i].start, (size_t)bs[i].err_pos, buf) ==
              TSR_OK)
            nl = count_newlines(buf, (size_t)bs[i].err_pos);
          tsr_free(ctx, buf);
        }
        status = tsr_error_set(TSR_EPARSE, "%s: line %lld, %s", fmt->path, (long long)(line + nl),
                               bs[i].msg);
        goto fail;
      }
      line += bs[i].newlines;
    }
    if (again)
      continue;
    /* final types; another pass when a column became a string column */
    bool rescan = false;
    for (int c = 0; c < ncols; c++) {
      tsr__csv_col *col = &fmt->cols[c];
      if (col->fixed)
        continue;
      tsr_coltype t = col->type.id;
      for (int64_t i = 0; i < nb; i++)
        t = tsr__csv_join(t, bs[i].lt[c]);
      if (t == TSR_COL_STRING && col->type.id != TSR_COL_STRING)
        rescan = true;
      if (t == TSR_NUM_COLTYPES)
        t = TSR_COL_STRING; /* no value at all */
      col->type.id = t;
      col->type.unit = t == TSR_COL_TIMESTAMP ? TSR_TIME_US : 0;
    }
    if (rescan)
      continue;
    break;
  }
  out->rows = 0;
  out->bad = 0;
  for (int64_t i = 0; i < out->nblocks; i++) {
    out->blocks[i].rows = bs[i].rows;
    out->blocks[i].bad = bs[i].bad;
    out->rows += bs[i].rows;
    out->bad += bs[i].bad;
  }
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)ncols + 1, sizeof *out->dict_n, (void **)&out->dict_n));
  out->dict_n[ncols] = INT64_MIN;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *out->dict_offsets,
                                   (void **)&out->dict_offsets));
  TSR__TRY_GOTO(
      status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *out->dict_data, (void **)&out->dict_data));
  for (int c = 0; c < ncols; c++) {
    tsr__csv_col *col = &fmt->cols[c];
    out->dict_n[c] = -1;
    if (!collect[c] || given_up[c])
      continue;
    bool want = (col->fixed && col->type.id == TSR_COL_DICT) ||
                (global[c].n > 0 && global[c].n <= fmt->dict_max && global[c].n * 2 <= out->rows);
    if (!want)
      continue;
    TSR__TRY_GOTO(status, tsr__csv_sorted_dict(ctx, &global[c], &out->dict_offsets[c], &out->dict_data[c]));
    out->dict_n[c] = global[c].n;
    col->type.id = TSR_COL_DICT;
  }
fail:
  if (global != NULL)
    for (int i = 0; i < ncols; i++)
      tsr__csv_strset_free(ctx, &global[i]);
  tsr_free(ctx, global);
  tsr_free(ctx, fieldcol);
  tsr_free(ctx, collect);
  tsr_free(ctx, limit);
  tsr_free(ctx, (void *)given_up);
  tsr_free(ctx, bs);
  tsr_free(ctx, lts);
  tsr_free(ctx, hdr);
  if (status != TSR_OK)
    tsr__csv_scan_result_free(ctx, out);
  return status;
}
