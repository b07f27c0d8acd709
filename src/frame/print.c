/* print.c — tsr_frame_print: a frame as an aligned table, as DuckDB's CLI
 * prints one:
 *
 *   ┌───────┬────────┐
 *   │  id   │  name  │
 *   │ int64 │ string │
 *   ├───────┼────────┤
 *   │     1 │ a      │
 *   │     … │ …      │
 *   │  1000 │ z      │
 *   └───────┴────────┘
 *   1000 rows (2 shown), 2 columns
 *
 * Names are centred, numbers right-aligned, everything else left-aligned;
 * nulls print as NULL; text longer than 32 characters is cut with "…";
 * control characters print escaped (\n, \t, \r, \xNN).  Widths count
 * UTF-8 code points.  When the frame has more than max_rows rows, only its
 * first (max_rows + 1) / 2 and last max_rows / 2 rows are computed (two
 * slices) and a row of "…" separates them. */
#include <stdio.h>
#include <string.h>

#include <tessera/dist.h>

#include "ops_impl.h"
#include "value_text.h"

#define MAX_WIDTH 32
#define CELL_BYTES (MAX_WIDTH * 4 + 8)

typedef struct cell {
  char text[CELL_BYTES];
  int width; /* code points */
} cell;

/* The cell for n bytes of text: escapes, then cuts to MAX_WIDTH. */
static void cell_text(cell *c, const char *s, size_t n) {
  size_t o = 0;
  int w = 0;
  for (size_t i = 0; i < n;) {
    unsigned char ch = (unsigned char)s[i];
    char esc[8];
    size_t len = 1;
    const char *piece = s + i;
    if (ch < 0x20 || ch == 0x7f) {
      if (ch == '\n')
        memcpy(esc, "\\n", 3);
      else if (ch == '\t')
        memcpy(esc, "\\t", 3);
      else if (ch == '\r')
        memcpy(esc, "\\r", 3);
      else
        snprintf(esc, sizeof esc, "\\x%02x", ch);
      piece = esc;
      len = strlen(esc);
      i++;
    } else {
      size_t j = i + 1;
      while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80 && j - i < 4)
        j++;
      len = j - i;
      i = j;
    }
    int pw = piece == esc ? (int)len : 1;
    if (w + pw > MAX_WIDTH || (w + pw == MAX_WIDTH && i < n)) {
      memcpy(c->text + o, "\xe2\x80\xa6", 3); /* … */
      o += 3;
      w++;
      break;
    }
    memcpy(c->text + o, piece, len);
    o += len;
    w += pw;
  }
  c->text[o] = '\0';
  c->width = w;
}

static bool right_aligned(tsr_coltype t) {
  return t != TSR_COL_BOOL && t != TSR_COL_STRING && t != TSR_COL_DICT && t != TSR_COL_DATE &&
         t != TSR_COL_TIMESTAMP;
}

/* Fills cells[row * ncols + col] for every row of the result. */
static tsr_status result_cells(const tsr_frame_result *r, cell *cells) {
  int ncols = tsr_frame_result_ncols(r);
  for (int j = 0; j < ncols; j++) {
    tsr_type t = tsr_frame_result_col_type(r, j);
    int64_t row = 0;
    for (int64_t c = 0; c < tsr_frame_result_nchunks(r); c++) {
      tsr_column_chunk ch;
      TSR_TRY(tsr_frame_result_chunk(r, j, c, &ch));
      for (int64_t i = 0; i < ch.rows; i++, row++) {
        cell *cl = &cells[row * ncols + j];
        if (ch.validity != NULL && !tsr__bit_get(ch.validity, i)) {
          cell_text(cl, "NULL", 4);
        } else if (t.id == TSR_COL_STRING || t.id == TSR_COL_DICT) {
          const char *s;
          size_t len;
          TSR_TRY(tsr_frame_result_string(r, j, row, &s, &len, NULL));
          cell_text(cl, s, len);
        } else {
          char buf[TSR__VT_MAX];
          size_t len = tsr__vt_format(t, ch.values, i, buf);
          cell_text(cl, buf, len);
        }
      }
    }
  }
  return TSR_OK;
}

static void put_n(FILE *out, const char *s, int n) {
  for (int i = 0; i < n; i++)
    fputs(s, out);
}

static void rule(FILE *out, int ncols, const int *width, const char *l, const char *m,
                 const char *r) {
  fputs(l, out);
  for (int j = 0; j < ncols; j++) {
    put_n(out, "\xe2\x94\x80", width[j] + 2); /* ─ */
    fputs(j + 1 < ncols ? m : r, out);
  }
  fputc('\n', out);
}

static void row_out(FILE *out, int ncols, const int *width, const cell *cells, const bool *right,
                    bool centre) {
  fputs("\xe2\x94\x82", out); /* │ */
  for (int j = 0; j < ncols; j++) {
    int pad = width[j] - cells[j].width;
    int left = centre ? pad / 2 : right[j] ? pad : 0;
    fputc(' ', out);
    put_n(out, " ", left);
    fputs(cells[j].text, out);
    put_n(out, " ", pad - left);
    fputs(" \xe2\x94\x82", out);
  }
  fputc('\n', out);
}

static tsr_status print_table(tsr_frame *f, int64_t total, const tsr_frame_result *head,
                              const tsr_frame_result *tail, FILE *out) {
  tsr_ctx *ctx = f->ctx;
  int ncols = f->ncols;
  int64_t nh = tsr_frame_result_nrows(head), nt = tail ? tsr_frame_result_nrows(tail) : 0;
  int64_t shown = nh + nt;
  cell *cells = NULL;
  int *width = NULL;
  bool *right = NULL;
  tsr_status status;
  int64_t ncells = (shown + 3) * (int64_t)ncols + 1; /* names, types, "…", rows */
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)ncells, sizeof *cells, "printed cells",
                                         (void **)&cells));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *width, (void **)&width));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *right, (void **)&right));
  cell *names = cells, *types = cells + ncols, *dots = cells + 2 * ncols, *body = cells + 3 * ncols;
  for (int j = 0; j < ncols; j++) {
    cell_text(&names[j], f->cols[j].name, strlen(f->cols[j].name));
    const char *tn = tsr_type_name(f->cols[j].type);
    cell_text(&types[j], tn, strlen(tn));
    cell_text(&dots[j], "\xe2\x80\xa6", 3);
    right[j] = right_aligned(f->cols[j].type.id);
  }
  TSR__TRY_GOTO(status, result_cells(head, body));
  if (tail != NULL)
    TSR__TRY_GOTO(status, result_cells(tail, body + nh * ncols));
  for (int64_t i = 0; i < shown + 3; i++)
    for (int j = 0; j < ncols; j++)
      if (cells[i * ncols + j].width > width[j])
        width[j] = cells[i * ncols + j].width;
  if (ncols > 0) {
    rule(out, ncols, width, "\xe2\x94\x8c", "\xe2\x94\xac", "\xe2\x94\x90"); /* ┌ ┬ ┐ */
    row_out(out, ncols, width, names, right, true);
    row_out(out, ncols, width, types, right, true);
    rule(out, ncols, width, "\xe2\x94\x9c", "\xe2\x94\xbc", "\xe2\x94\xa4"); /* ├ ┼ ┤ */
    for (int64_t i = 0; i < nh; i++)
      row_out(out, ncols, width, body + i * ncols, right, false);
    if (tail != NULL)
      row_out(out, ncols, width, dots, right, false);
    for (int64_t i = nh; i < shown; i++)
      row_out(out, ncols, width, body + i * ncols, right, false);
    rule(out, ncols, width, "\xe2\x94\x94", "\xe2\x94\xb4", "\xe2\x94\x98"); /* └ ┴ ┘ */
  }
  fprintf(out, "%lld row%s", (long long)total, total == 1 ? "" : "s");
  if (shown < total)
    fprintf(out, " (%lld shown)", (long long)shown);
  fprintf(out, ", %d column%s\n", ncols, ncols == 1 ? "" : "s");
  TSR__CHECK_GOTO(status, !ferror(out), TSR_EIO, "tsr_frame_print: writing the table failed");
fail:
  tsr_free(ctx, right);
  tsr_free(ctx, width);
  tsr_free(ctx, cells);
  return status;
}

tsr_status tsr_frame_print(tsr_frame *f, int64_t max_rows, FILE *out) {
  static const char fn[] = "tsr_frame_print";
  TSR_CHECK(f != NULL && out != NULL, TSR_EINVAL, "%s: frame or out is NULL", fn);
  TSR_CHECK(max_rows >= 0, TSR_EINVAL, "%s: max_rows = %lld is negative", fn, (long long)max_rows);
  if (max_rows == 0)
    max_rows = 20;
  int64_t total = f->rows->total;
  tsr_frame *a = NULL, *b = NULL;
  tsr_frame_result *ra = NULL, *rb = NULL;
  tsr_status status = TSR_OK;
  if (total < 0) {
    TSR_CHECK(f->ncols > 0, TSR_EINVAL, "%s: the frame has no columns", fn);
    TSR_TRY(tsr_frame_nrows(f, &total));
  }
  if (total <= max_rows) {
    TSR__TRY_GOTO(status, tsr_frame_slice(f, 0, total, &a));
  } else {
    TSR__TRY_GOTO(status, tsr_frame_head(f, (max_rows + 1) / 2, &a));
    TSR__TRY_GOTO(status, tsr_frame_tail(f, max_rows / 2, &b));
  }
  TSR__TRY_GOTO(status, tsr_frame_compute(a, NULL, &ra));
  if (b != NULL)
    TSR__TRY_GOTO(status, tsr_frame_compute(b, NULL, &rb));
  if (tsr_ctx_rank(f->ctx) == 0)
    status = print_table(f, total, ra, rb, out);
  status = tsr_ctx_agree(f->ctx, status);
fail:
  tsr_frame_result_destroy(&rb);
  tsr_frame_result_destroy(&ra);
  tsr_frame_destroy(&b);
  tsr_frame_destroy(&a);
  return status;
}
