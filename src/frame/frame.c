/* frame.c — the frame handle and what needs no node: column types,
 * dictionaries, row partitionings, the schema getters, and select, drop and
 * rename (which only rearrange references to the same nodes). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "frame_impl.h"

/* ---- types ----------------------------------------------------------------------- */

static const char *const type_names[TSR_NUM_COLTYPES] = {
    "bool",   "int8",    "int16",   "int32",  "int64", "uint8", "uint16",   "uint32",
    "uint64", "float32", "float64", "string", "dict",  "date",  "timestamp"};
static const char *const unit_names[4] = {"s", "ms", "us", "ns"};

const char *tsr_type_name(tsr_type t) {
  static const char *const ts[4] = {"timestamp[s]", "timestamp[ms]", "timestamp[us]",
                                    "timestamp[ns]"};
  if ((unsigned)t.id >= TSR_NUM_COLTYPES)
    return "invalid";
  if (t.id == TSR_COL_TIMESTAMP)
    return (unsigned)t.unit < 4 ? ts[t.unit] : "invalid";
  return type_names[t.id];
}

tsr_status tsr_type_parse(const char *name, tsr_type *out) {
  TSR_CHECK(name != NULL && out != NULL, TSR_EINVAL, "tsr_type_parse: name or out is NULL");
  *out = (tsr_type){TSR_COL_INT64, 0};
  for (int i = 0; i < TSR_NUM_COLTYPES; i++)
    if (strcasecmp(name, type_names[i]) == 0) {
      out->id = (tsr_coltype)i;
      out->unit = i == TSR_COL_TIMESTAMP ? TSR_TIME_US : 0;
      return TSR_OK;
    }
  static const struct {
    const char *name;
    tsr_coltype id;
  } aliases[] = {{"str", TSR_COL_STRING},       {"varchar", TSR_COL_STRING},
                 {"utf8", TSR_COL_STRING},      {"dictionary", TSR_COL_DICT},
                 {"category", TSR_COL_DICT},    {"datetime", TSR_COL_TIMESTAMP},
                 {"boolean", TSR_COL_BOOL},     {"b1", TSR_COL_BOOL},
                 {"i1", TSR_COL_INT8},          {"i2", TSR_COL_INT16},
                 {"i4", TSR_COL_INT32},         {"i8", TSR_COL_INT64},
                 {"int", TSR_COL_INT64},        {"integer", TSR_COL_INT32},
                 {"bigint", TSR_COL_INT64},     {"u1", TSR_COL_UINT8},
                 {"u2", TSR_COL_UINT16},        {"u4", TSR_COL_UINT32},
                 {"u8", TSR_COL_UINT64},        {"f4", TSR_COL_FLOAT32},
                 {"f8", TSR_COL_FLOAT64},       {"float", TSR_COL_FLOAT64},
                 {"double", TSR_COL_FLOAT64},   {"real", TSR_COL_FLOAT32}};
  for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
    if (strcasecmp(name, aliases[i].name) == 0) {
      out->id = aliases[i].id;
      out->unit = out->id == TSR_COL_TIMESTAMP ? TSR_TIME_US : 0;
      return TSR_OK;
    }
  if (strncasecmp(name, "timestamp[", 10) == 0) {
    for (int u = 0; u < 4; u++) {
      size_t n = strlen(unit_names[u]);
      if (strncasecmp(name + 10, unit_names[u], n) == 0 && name[10 + n] == ']' &&
          name[11 + n] == '\0') {
        *out = (tsr_type){TSR_COL_TIMESTAMP, (tsr_time_unit)u};
        return TSR_OK;
      }
    }
  }
  return tsr_error_set(TSR_EINVAL,
                       "'%s' is not a column type (bool, int8..int64, uint8..uint64, float32, "
                       "float64, string, dict, date, timestamp[s|ms|us|ns])",
                       name);
}

size_t tsr_type_width(tsr_type t) {
  switch (t.id) {
  case TSR_COL_BOOL:
  case TSR_COL_INT8:
  case TSR_COL_UINT8:
    return 1;
  case TSR_COL_INT16:
  case TSR_COL_UINT16:
    return 2;
  case TSR_COL_INT32:
  case TSR_COL_UINT32:
  case TSR_COL_FLOAT32:
  case TSR_COL_DICT:
  case TSR_COL_DATE:
    return 4;
  case TSR_COL_INT64:
  case TSR_COL_UINT64:
  case TSR_COL_FLOAT64:
  case TSR_COL_TIMESTAMP:
    return 8;
  case TSR_COL_STRING:
    return sizeof(tsr_string_view);
  default:
    return 0;
  }
}

tsr_dtype tsr_type_dtype(tsr_type t) {
  switch (t.id) {
  case TSR_COL_BOOL:
    return TSR_BOOL;
  case TSR_COL_INT8:
    return TSR_INT8;
  case TSR_COL_INT16:
    return TSR_INT16;
  case TSR_COL_INT32:
  case TSR_COL_DICT:
  case TSR_COL_DATE:
    return TSR_INT32;
  case TSR_COL_INT64:
  case TSR_COL_TIMESTAMP:
    return TSR_INT64;
  case TSR_COL_UINT8:
    return TSR_UINT8;
  case TSR_COL_UINT16:
    return TSR_UINT16;
  case TSR_COL_UINT32:
    return TSR_UINT32;
  case TSR_COL_UINT64:
    return TSR_UINT64;
  case TSR_COL_FLOAT32:
    return TSR_FLOAT32;
  case TSR_COL_FLOAT64:
    return TSR_FLOAT64;
  default:
    return TSR_NUM_DTYPES;
  }
}

/* ---- dictionaries ------------------------------------------------------------------- */

static int compare_bytes(const char *a, size_t na, const char *b, size_t nb) {
  int c = memcmp(a, b, na < nb ? na : nb);
  return c != 0 ? c : (na > nb) - (na < nb);
}

tsr_status tsr__dict_create(tsr_ctx *ctx, const char *what, int64_t n, const int64_t *offsets,
                            const char *data, tsr__dict **out) {
  *out = NULL;
  TSR_CHECK(n >= 0 && (n == 0 || offsets != NULL), TSR_EINVAL, "%s: no dictionary offsets", what);
  if (n > 0)
    TSR_CHECK(offsets[0] == 0 && (data != NULL || offsets[n] == 0), TSR_EINVAL,
              "%s: dictionary offsets must start at 0 over a data buffer", what);
  for (int64_t i = 0; i < n; i++) {
    TSR_CHECK(offsets[i + 1] >= offsets[i], TSR_EINVAL,
              "%s: dictionary offsets[%lld] > offsets[%lld]", what, (long long)i,
              (long long)(i + 1));
    if (i > 0)
      TSR_CHECK(compare_bytes(data + offsets[i - 1], (size_t)(offsets[i] - offsets[i - 1]),
                              data + offsets[i], (size_t)(offsets[i + 1] - offsets[i])) < 0,
                TSR_EINVAL,
                "%s: dictionary strings %lld and %lld are not strictly increasing (a dictionary "
                "is sorted and distinct)",
                what, (long long)(i - 1), (long long)i);
  }
  int64_t bytes = n > 0 ? offsets[n] : 0;
  tsr__dict *d;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *d, (void **)&d));
  d->ctx = ctx;
  atomic_init(&d->refs, 1);
  d->size = n;
  tsr_status status = tsr__alloc_array(ctx, (size_t)n + 1, sizeof *d->offsets,
                                       "dictionary offsets", (void **)&d->offsets);
  if (status == TSR_OK)
    status = tsr_alloc(ctx, (size_t)bytes + 1, (void **)&d->data);
  if (status != TSR_OK) {
    tsr__dict_release(&d);
    return status;
  }
  d->offsets[0] = 0;
  if (n > 0)
    memcpy(d->offsets, offsets, ((size_t)n + 1) * sizeof *offsets);
  if (bytes > 0)
    memcpy(d->data, data, (size_t)bytes);
  *out = d;
  return TSR_OK;
}

void tsr__dict_retain(tsr__dict *d) {
  if (d != NULL)
    atomic_fetch_add_explicit(&d->refs, 1, memory_order_relaxed);
}

void tsr__dict_release(tsr__dict **dp) {
  if (dp == NULL || *dp == NULL)
    return;
  tsr__dict *d = *dp;
  *dp = NULL;
  if (atomic_fetch_sub_explicit(&d->refs, 1, memory_order_acq_rel) != 1)
    return;
  tsr_free(d->ctx, d->offsets);
  tsr_free(d->ctx, d->data);
  tsr_free(d->ctx, d);
}

int64_t tsr__dict_find(const tsr__dict *d, const char *s, size_t len) {
  int64_t lo = 0, hi = d->size;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    size_t n;
    const char *m = tsr__dict_str(d, mid, &n);
    int c = compare_bytes(m, n, s, len);
    if (c == 0)
      return mid;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return -1;
}

/* ---- row partitionings ---------------------------------------------------------------- */

tsr_status tsr__rows_create(tsr_ctx *ctx, int64_t nchunks, const int64_t *cap,
                            const int64_t *count, tsr__rows **out) {
  *out = NULL;
  tsr__rows *r;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *r, (void **)&r));
  r->ctx = ctx;
  atomic_init(&r->refs, 1);
  r->nchunks = nchunks;
  r->total = -1;
  tsr_status status = tsr__alloc_array(ctx, (size_t)nchunks + 1, sizeof *r->cap, "row chunks",
                                       (void **)&r->cap);
  if (status == TSR_OK && nchunks > 0)
    memcpy(r->cap, cap, (size_t)nchunks * sizeof *cap);
  if (status == TSR_OK && count != NULL)
    status = tsr__rows_set_counts(r, count);
  if (status != TSR_OK) {
    tsr__rows_release(&r);
    return status;
  }
  *out = r;
  return TSR_OK;
}

tsr_status tsr__rows_create_regular(tsr_ctx *ctx, int64_t rows, int64_t chunk_rows,
                                    tsr__rows **out) {
  *out = NULL;
  TSR_CHECK(rows >= 0 && chunk_rows > 0, TSR_EINVAL, "row chunks: %lld rows in chunks of %lld",
            (long long)rows, (long long)chunk_rows);
  int64_t n = rows == 0 ? 0 : (rows - 1) / chunk_rows + 1;
  int64_t *count;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)n + 1, sizeof *count, "row chunks", (void **)&count));
  for (int64_t c = 0; c < n; c++)
    count[c] = c + 1 < n ? chunk_rows : rows - c * chunk_rows;
  tsr_status status = tsr__rows_create(ctx, n, count, count, out);
  tsr_free(ctx, count);
  return status;
}

void tsr__rows_retain(tsr__rows *r) {
  if (r != NULL)
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
}

void tsr__rows_release(tsr__rows **rp) {
  if (rp == NULL || *rp == NULL)
    return;
  tsr__rows *r = *rp;
  *rp = NULL;
  if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
    return;
  tsr_free(r->ctx, r->cap);
  tsr_free(r->ctx, r->count);
  tsr_free(r->ctx, r);
}

tsr_status tsr__rows_set_counts(tsr__rows *r, const int64_t *count) {
  if (r->count == NULL)
    TSR_TRY(tsr__alloc_array(r->ctx, (size_t)r->nchunks + 1, sizeof *r->count, "row counts",
                             (void **)&r->count));
  int64_t total = 0;
  for (int64_t c = 0; c < r->nchunks; c++) {
    r->count[c] = count[c];
    total += count[c];
  }
  r->total = total;
  return TSR_OK;
}

/* ---- the handle ------------------------------------------------------------------------ */

static void col_clear(tsr_ctx *ctx, tsr__col *c) {
  tsr_free(ctx, c->name);
  tsr__dict_release(&c->dict);
  tsr__expr_release(&c->node);
}

void tsr_frame_destroy(tsr_frame **fp) {
  if (fp == NULL || *fp == NULL)
    return;
  tsr_frame *f = *fp;
  *fp = NULL;
  for (int i = 0; i < f->ncols; i++)
    col_clear(f->ctx, &f->cols[i]);
  tsr_free(f->ctx, f->cols);
  tsr__rows_release(&f->rows);
  tsr_free(f->ctx, f);
}

static tsr_status dup_string(tsr_ctx *ctx, const char *s, char **out) {
  size_t n = strlen(s);
  TSR_TRY(tsr_alloc(ctx, n + 1, (void **)out));
  memcpy(*out, s, n + 1);
  return TSR_OK;
}

tsr_status tsr__frame_make(tsr_ctx *ctx, int n, const tsr__col *cols, tsr__rows *rows,
                           tsr_frame **out) {
  *out = NULL;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < i; j++)
      TSR_CHECK(strcmp(cols[i].name, cols[j].name) != 0, TSR_EINVAL,
                "two columns are named '%s' (column names must be distinct)", cols[i].name);
  tsr_frame *f;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *f, (void **)&f));
  f->ctx = ctx;
  tsr_status status =
      tsr__alloc_array(ctx, (size_t)n + 1, sizeof *f->cols, "frame columns", (void **)&f->cols);
  if (status != TSR_OK) {
    tsr_free(ctx, f);
    return status;
  }
  memset(f->cols, 0, ((size_t)n + 1) * sizeof *f->cols);
  f->rows = rows;
  tsr__rows_retain(rows);
  for (int i = 0; i < n && status == TSR_OK; i++) {
    status = dup_string(ctx, cols[i].name, &f->cols[i].name);
    if (status != TSR_OK)
      break;
    f->cols[i].type = cols[i].type;
    f->cols[i].dict = cols[i].dict;
    tsr__dict_retain(cols[i].dict);
    f->cols[i].node = cols[i].node;
    tsr__expr_retain(cols[i].node);
    f->cols[i].slot = cols[i].slot;
    f->cols[i].raw = cols[i].raw;
    f->ncols = i + 1;
  }
  if (status != TSR_OK) {
    tsr_frame_destroy(&f);
    return status;
  }
  *out = f;
  return TSR_OK;
}

tsr_status tsr__frame_find(const tsr_frame *f, const char *fn, const char *name, int *index) {
  TSR_CHECK(name != NULL, TSR_EINVAL, "%s: a column name is NULL", fn);
  int i = tsr_frame_col_index(f, name);
  if (i < 0) {
    char list[512];
    size_t used = 0;
    list[0] = '\0';
    for (int j = 0; j < f->ncols && used + 4 < sizeof list; j++) {
      int k = snprintf(list + used, sizeof list - used, "%s%s", j ? ", " : "", f->cols[j].name);
      if (k < 0 || (size_t)k >= sizeof list - used) {
        snprintf(list + (used < sizeof list - 5 ? used : sizeof list - 5), 5, "...");
        break;
      }
      used += (size_t)k;
    }
    return tsr_error_set(TSR_EINVAL, "%s: no column named '%s' (the frame has: %s)", fn, name,
                         list);
  }
  *index = i;
  return TSR_OK;
}

void tsr__frame_colrefs(const tsr_frame *f, int n, const int *cols, tsr__expr **inputs,
                        uint32_t *n_inputs, tsr__colref *refs) {
  uint32_t k = 0;
  for (int i = 0; i < n; i++) {
    const tsr__col *c = &f->cols[cols[i]];
    uint32_t j = 0;
    while (j < k && inputs[j] != c->node)
      j++;
    if (j == k)
      inputs[k++] = c->node;
    refs[i] = (tsr__colref){j, c->slot, c->raw, c->type};
  }
  *n_inputs = k;
}

int64_t tsr__col_data_cap(const tsr_frame *f, int col, int64_t c) {
  const tsr__col *cc = &f->cols[col];
  if (cc->raw || cc->type.id != TSR_COL_STRING)
    return 0;
  const tsr__fnode *fn = tsr__fnode_of(cc->node);
  return fn->data_cap ? fn->data_cap[(int64_t)cc->slot * f->rows->nchunks + c] : 0;
}

/* ---- schema ------------------------------------------------------------------------------ */

tsr_ctx *tsr_frame_ctx(const tsr_frame *f) { return f ? f->ctx : NULL; }
int tsr_frame_ncols(const tsr_frame *f) { return f ? f->ncols : 0; }
const char *tsr_frame_col_name(const tsr_frame *f, int i) {
  return f && i >= 0 && i < f->ncols ? f->cols[i].name : NULL;
}
tsr_type tsr_frame_col_type(const tsr_frame *f, int i) {
  return f && i >= 0 && i < f->ncols ? f->cols[i].type : (tsr_type){TSR_NUM_COLTYPES, 0};
}
int tsr_frame_col_index(const tsr_frame *f, const char *name) {
  if (f == NULL || name == NULL)
    return -1;
  for (int i = 0; i < f->ncols; i++)
    if (strcmp(f->cols[i].name, name) == 0)
      return i;
  return -1;
}
int64_t tsr_frame_nchunks(const tsr_frame *f) { return f ? f->rows->nchunks : 0; }
int64_t tsr_frame_nrows_known(const tsr_frame *f) { return f ? f->rows->total : -1; }
int64_t tsr_frame_csv_bad_rows(const tsr_frame *f) { return f ? f->csv_bad_rows : 0; }

/* ---- select, drop, rename --------------------------------------------------------------- */

tsr_status tsr_frame_select(tsr_frame *f, int n, const char *const *names, tsr_frame **out) {
  static const char fn[] = "tsr_frame_select";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(n >= 0 && (n == 0 || names != NULL), TSR_EINVAL, "%s: n = %d names", fn, n);
  tsr__col *cols;
  TSR_TRY(tsr__alloc_array(f->ctx, (size_t)n + 1, sizeof *cols, "columns", (void **)&cols));
  tsr_status status = TSR_OK;
  for (int i = 0; i < n && status == TSR_OK; i++) {
    int k = 0;
    status = tsr__frame_find(f, fn, names[i], &k);
    if (status == TSR_OK)
      cols[i] = f->cols[k];
  }
  if (status == TSR_OK)
    status = tsr__frame_make(f->ctx, n, cols, f->rows, out);
  tsr_free(f->ctx, cols);
  return status;
}

tsr_status tsr_frame_drop(tsr_frame *f, int n, const char *const *names, tsr_frame **out) {
  static const char fn[] = "tsr_frame_drop";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(n >= 0 && (n == 0 || names != NULL), TSR_EINVAL, "%s: n = %d names", fn, n);
  bool *gone;
  TSR_TRY(tsr_calloc(f->ctx, (size_t)f->ncols + 1, sizeof *gone, (void **)&gone));
  tsr__col *cols = NULL;
  tsr_status status = TSR_OK;
  for (int i = 0; i < n && status == TSR_OK; i++) {
    int k = 0;
    status = tsr__frame_find(f, fn, names[i], &k);
    if (status == TSR_OK)
      gone[k] = true;
  }
  if (status == TSR_OK)
    status = tsr__alloc_array(f->ctx, (size_t)f->ncols + 1, sizeof *cols, "columns",
                              (void **)&cols);
  if (status == TSR_OK) {
    int k = 0;
    for (int i = 0; i < f->ncols; i++)
      if (!gone[i])
        cols[k++] = f->cols[i];
    status = tsr__frame_make(f->ctx, k, cols, f->rows, out);
  }
  tsr_free(f->ctx, cols);
  tsr_free(f->ctx, gone);
  return status;
}

tsr_status tsr_frame_rename(tsr_frame *f, const char *from, const char *to, tsr_frame **out) {
  static const char fn[] = "tsr_frame_rename";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(to != NULL && to[0] != '\0', TSR_EINVAL, "%s: the new name is NULL or empty", fn);
  int k = 0;
  TSR_TRY(tsr__frame_find(f, fn, from, &k));
  int other = tsr_frame_col_index(f, to);
  TSR_CHECK(other < 0 || other == k, TSR_EINVAL, "%s: the frame already has a column '%s'", fn,
            to);
  tsr__col *cols;
  TSR_TRY(tsr__alloc_array(f->ctx, (size_t)f->ncols + 1, sizeof *cols, "columns", (void **)&cols));
  memcpy(cols, f->cols, (size_t)f->ncols * sizeof *cols);
  cols[k].name = (char *)to;
  tsr_status status = tsr__frame_make(f->ctx, f->ncols, cols, f->rows, out);
  tsr_free(f->ctx, cols);
  return status;
}
