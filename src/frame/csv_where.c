/* csv_where.c — the row filter a WHERE pushed into the CSV reader runs on
 * each block of the fused load (csv_where.h; io/csv_load.c calls it).
 *
 * The predicate is compiled once, before the load, over a frame of no rows
 * whose columns have the types the load gives them (a column that may
 * become a dictionary is a string column there: while loading, its values
 * are codes into the block's own dictionary, which no program can know in
 * advance).  Per block, right after parsing: the program runs over the
 * chunk in batches (a coded column it reads is first shown to it as string
 * views pointing into the dictionary's bytes: 16 bytes a row, no string
 * copied), then the kept rows are copied into a chunk of their own size
 * and the block's chunk is freed, so rejected rows are never held past
 * their block.  When every row is kept the chunk stays as it is.
 *
 * Fields of rejected rows are still converted: the tokenizer converts a
 * batch of records column by column as it goes (csv_parse.c), and knowing
 * the rows first would take a second pass over the block's bytes or field
 * positions kept per row, which costs about what converting a number does. */
#include <string.h>

#include "csv_where.h"
#include "groupby_impl.h"

struct tsr__csv_wstate {
  tsr_ctx *ctx;
  tsr__colprog *prog;
  int v;
  int ncols;
  tsr_type *types; /* as the load parses them (strings for would-be dictionaries) */
  bool *reads;     /* per column: the predicate reads it */
};

void tsr__csv_wstate_destroy(tsr__csv_wstate **w) {
  if (*w == NULL)
    return;
  tsr_ctx *ctx = (*w)->ctx;
  tsr__colprog_destroy(&(*w)->prog);
  tsr_free(ctx, (*w)->types);
  tsr_free(ctx, (*w)->reads);
  tsr_free(ctx, *w);
  *w = NULL;
}

tsr_status tsr__csv_wstate_create(tsr_ctx *ctx, const tsr__csv_format *fmt,
                                  const tsr__csv_where *where, tsr__csv_wstate **out) {
  *out = NULL;
  const int n = fmt->ncols;
  tsr_status status = TSR_OK;
  tsr__csv_wstate *w = NULL;
  char **names = NULL;
  tsr__dict **dicts = NULL;
  int64_t *zeros = NULL;
  tsr_frame *schema = NULL;
  TSR_CHECK(n > 0, TSR_EINVAL, "%s: a filter needs at least one column", fmt->path);
  for (int c = 0; c < n; c++) /* untyped until scanned: the load leaves such files to the scan */
    TSR_CHECK(fmt->cols[c].type.id < TSR_NUM_COLTYPES, TSR_ENOTSUP,
              "%s: column '%s' has no type before the scan", fmt->path, fmt->cols[c].name);
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *w, (void **)&w));
  w->ctx = ctx;
  w->ncols = n;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *w->types, (void **)&w->types));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *w->reads, (void **)&w->reads));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *names, (void **)&names));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *dicts, (void **)&dicts));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *zeros, (void **)&zeros));
  for (int c = 0; c < n; c++) {
    const tsr__csv_col *col = &fmt->cols[c];
    tsr_type t = col->type;
    if (t.id == TSR_COL_DICT)
      t.id = TSR_COL_STRING;
    if (t.id != TSR_COL_TIMESTAMP)
      t.unit = 0;
    else if (!col->fixed)
      t.unit = TSR_TIME_US; /* as the load leaves a sniffed timestamp */
    w->types[c] = t;
    names[c] = col->name;
  }
  void *no_chunks[1] = {NULL};
  size_t no_bytes[1] = {0};
  TSR__TRY_GOTO(status, gb_mem_frame(ctx, n, names, w->types, dicts, 0, no_chunks, no_bytes, zeros,
                                     zeros, &schema));
  TSR__TRY_GOTO(status, where->build(where->arg, schema, &w->prog, &w->v));
  tsr_type t;
  TSR__TRY_GOTO(status, tsr__colprog_check(w->prog, w->v, true, &t));
  for (int c = 0; c < n; c++)
    w->reads[c] = tsr__colprog_reads(w->prog, w->v, c);
  *out = w;
  w = NULL;
fail:
  tsr_frame_destroy(&schema);
  tsr_free(ctx, names);
  tsr_free(ctx, dicts);
  tsr_free(ctx, zeros);
  tsr__csv_wstate_destroy(&w);
  return status;
}

/* Column c's codes shown as string views into s's bytes (*views: rows). */
static tsr_status coded_views(tsr_ctx *ctx, const tsr__colchunk *c, const tsr__csv_strings *s,
                              tsr_string_view **views) {
  int64_t rows = c->rows;
  TSR_CHECK(s->n == 0 || s->offs[s->n] <= (int64_t)UINT32_MAX, TSR_ENOTSUP,
            "a dictionary of more than 4 GiB of strings cannot be filtered while loading");
  TSR_TRY(tsr_calloc(ctx, (size_t)rows + 1, sizeof **views, (void **)views));
  const int32_t *codes = tsr__colchunk_values((tsr__colchunk *)c);
  const uint8_t *bits = c->null_count > 0 ? tsr__colchunk_validity((tsr__colchunk *)c) : NULL;
  tsr_string_view *v = *views;
  for (int64_t r = 0; r < rows; r++) {
    if ((bits != NULL && !tsr__bit_get(bits, r)) || codes[r] < 0 || codes[r] >= s->n)
      continue; /* a null: an empty view, never read */
    int64_t off = s->offs[codes[r]];
    uint32_t len = (uint32_t)(s->offs[codes[r] + 1] - off);
    v[r].length = len;
    if (len <= 12) {
      memcpy(v[r].u.inline_data, s->data + off, len);
    } else {
      memcpy(v[r].u.ref.prefix, s->data + off, 4);
      v[r].u.ref.offset = (uint32_t)off;
    }
  }
  return TSR_OK;
}

/* Copies the kept rows (keep[r] != 0; m of them) of column chunk `in`
 * (values of w bytes) into `out`, laid out for m rows. */
static void copy_kept(const tsr__colchunk *in, size_t w, bool views, const uint8_t *keep,
                      tsr__colchunk *out) {
  const unsigned char *src = tsr__colchunk_values((tsr__colchunk *)in);
  unsigned char *dst = tsr__colchunk_values(out);
  const uint8_t *ibits = in->null_count > 0 ? tsr__colchunk_validity((tsr__colchunk *)in) : NULL;
  uint8_t *obits = tsr__colchunk_validity(out);
  const char *idata = tsr__colchunk_data((tsr__colchunk *)in);
  char *odata = tsr__colchunk_data(out);
  memset(obits, 0xFF, ((size_t)out->rows_cap + 7) / 8);
  int64_t o = 0, nulls = 0;
  uint64_t used = 0;
  for (int64_t r = 0; r < in->rows; r++) {
    if (!keep[r])
      continue;
    if (views) {
      tsr_string_view v;
      memcpy(&v, src + (size_t)r * 16, 16);
      if (v.length > 12) {
        memcpy(odata + used, idata + v.u.ref.offset, v.length);
        v.u.ref.offset = (uint32_t)used;
        used += v.length;
      }
      memcpy(dst + (size_t)o * 16, &v, 16);
    } else {
      switch (w) {
      case 1:
        dst[o] = src[r];
        break;
      case 2:
        memcpy(dst + 2 * o, src + 2 * r, 2);
        break;
      case 4:
        memcpy(dst + 4 * o, src + 4 * r, 4);
        break;
      default:
        memcpy(dst + (size_t)o * w, src + (size_t)r * w, w);
        break;
      }
    }
    if (ibits != NULL && !tsr__bit_get(ibits, r)) {
      tsr__bit_set(obits, o, false);
      nulls++;
    }
    o++;
  }
  out->rows = o;
  out->null_count = nulls;
  out->data_bytes = used;
}

tsr_status tsr__csv_wstate_run(void *arg, int64_t block, const tsr__csv_strings *coded,
                               void **chunk, size_t *bytes) {
  tsr__csv_wstate *w = arg;
  tsr_ctx *ctx = w->ctx;
  const int n = w->ncols;
  void *t = *chunk;
  const int64_t rows = tsr__tablechunk_col(t, 0)->rows;
  if (rows == 0)
    return TSR_OK;
  tsr_status status = TSR_OK;
  tsr__cprun *run = NULL;
  tsr_string_view **views = NULL;
  uint8_t *keep = NULL;
  size_t *widths = NULL;
  int64_t *dcap = NULL;
  void *nt = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *views, (void **)&views));
  TSR__TRY_GOTO(status, tsr__cprun_create(w->prog, w->v, ctx, block, &run));
  for (int c = 0; c < n; c++) {
    if (!w->reads[c])
      continue;
    tsr__colchunk *cc = tsr__tablechunk_col(t, (uint32_t)c);
    tsr__colread in = {cc->rows,
                       cc->null_count,
                       tsr__colchunk_values(cc),
                       cc->null_count > 0 ? tsr__colchunk_validity(cc) : NULL,
                       tsr__colchunk_data(cc),
                       cc->data_bytes};
    if (coded[c].coded) {
      TSR__TRY_GOTO(status, coded_views(ctx, cc, &coded[c], &views[c]));
      in.values = views[c];
      in.data = coded[c].data;
      in.data_bytes = coded[c].n > 0 ? (uint64_t)coded[c].offs[coded[c].n] : 0;
    }
    tsr__cprun_bind(run, c, &in);
  }
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)rows + 64, (void **)&keep));
  int64_t m = 0;
  for (int64_t b = 0; b < rows; b += TSR__CP_BATCH) {
    int k = (int)(rows - b < TSR__CP_BATCH ? rows - b : TSR__CP_BATCH);
    TSR__TRY_GOTO(status, tsr__cprun_keep(run, b, k, keep + b));
    for (int i = 0; i < k; i++)
      m += keep[b + i] != 0;
  }
  if (m == rows)
    goto fail; /* every row kept: the chunk stays */
  /* a chunk of the kept rows alone */
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *widths, (void **)&widths));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *dcap, (void **)&dcap));
  for (int c = 0; c < n; c++) {
    const tsr__colchunk *cc = tsr__tablechunk_col(t, (uint32_t)c);
    bool str = !coded[c].coded && w->types[c].id == TSR_COL_STRING;
    widths[c] = coded[c].coded ? sizeof(int32_t) : tsr_type_width(w->types[c]);
    if (str && cc->data_bytes > 0) {
      const tsr_string_view *v = tsr__colchunk_values((tsr__colchunk *)cc);
      for (int64_t r = 0; r < rows; r++)
        if (keep[r] && v[r].length > 12)
          dcap[c] += v[r].length;
    }
  }
  uint64_t nb;
  TSR__CHECK_GOTO(status, tsr__tablechunk_bytes((uint32_t)n, widths, m, dcap, &nb), TSR_ENOMEM,
                  "a filtered block's chunk is too large");
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)nb, &nt));
  tsr__tablechunk_init(nt, nb, (uint32_t)n, widths, m, dcap);
  for (int c = 0; c < n; c++) {
    tsr__colchunk *oc = tsr__tablechunk_col(nt, (uint32_t)c);
    copy_kept(tsr__tablechunk_col(t, (uint32_t)c), widths[c],
              !coded[c].coded && w->types[c].id == TSR_COL_STRING, keep, oc);
    oc->data_cap = (uint64_t)dcap[c];
  }
  tsr_free(ctx, t);
  *chunk = nt;
  *bytes = (size_t)nb;
  nt = NULL;
fail:
  tsr_free(ctx, nt);
  if (views != NULL)
    for (int c = 0; c < n; c++)
      tsr_free(ctx, views[c]);
  tsr_free(ctx, views);
  tsr_free(ctx, keep);
  tsr_free(ctx, widths);
  tsr_free(ctx, dcap);
  tsr__cprun_destroy(&run);
  return status;
}
