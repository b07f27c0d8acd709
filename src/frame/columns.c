/* columns.c — frames from C buffers and from arrays, and columns back to
 * arrays.
 *
 * A frame from buffers is one source node over the user's (borrowed,
 * copied or adopted) buffers: the task of chunk c copies its rows into a
 * table chunk, turning Arrow offsets into string views.  Arrays become raw
 * columns without a copy (their chunks are the column's chunks); a column
 * becomes an array through a node whose chunk c copies the values (and
 * fills nulls). */
#include <stdlib.h>
#include <string.h>

#include "array/array_impl.h"
#include "frame_impl.h"

/* ---- from buffers ------------------------------------------------------------------ */

typedef struct buffer_source {
  tsr__fnode base;
  int n;
  tsr_column_data *cols; /* pointers into the user's memory, or into owned copies */
  int64_t *row_start;    /* nchunks + 1 */
  tsr_buffer_mode mode;
  tsr_buffer_free_fn free_fn;
  void *free_user;
  void **owned; /* copies (COPY) made by this node: freed with tsr_free */
  size_t n_owned;
  tsr_ctx *ctx;
} buffer_source;

static void buffer_source_destroy(tsr__fnode *base) {
  buffer_source *s = (buffer_source *)base;
  if (s->cols != NULL && s->mode == TSR_BUFFER_ADOPT && s->free_fn != NULL)
    for (int i = 0; i < s->n; i++) {
      const void *p[6] = {s->cols[i].values,  s->cols[i].validity,     s->cols[i].offsets,
                          s->cols[i].data,    s->cols[i].dict_offsets, s->cols[i].dict_data};
      for (int j = 0; j < 6; j++)
        if (p[j] != NULL)
          s->free_fn((void *)p[j], s->free_user);
    }
  for (size_t i = 0; i < s->n_owned; i++)
    tsr_free(s->ctx, s->owned[i]);
  tsr_free(s->ctx, s->owned);
  if (s->cols != NULL)
    for (int i = 0; i < s->n; i++)
      tsr_free(s->ctx, (void *)s->cols[i].name);
  tsr_free(s->ctx, s->cols);
  tsr_free(s->ctx, s->row_start);
}

static tsr_status buffer_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const buffer_source *s = t.node->params;
  tsr__ftask_init_output(call);
  int64_t r0 = s->row_start[t.chunk], rows = s->row_start[t.chunk + 1] - r0;
  for (int i = 0; i < s->n; i++) {
    const tsr_column_data *cd = &s->cols[i];
    tsr__colchunk *c = tsr__tablechunk_col(call->output, (uint32_t)i);
    c->rows = rows;
    if (cd->validity != NULL) {
      uint8_t *bits = tsr__colchunk_validity(c);
      int64_t nulls = 0;
      memset(bits, 0, ((size_t)rows + 7) / 8);
      for (int64_t r = 0; r < rows; r++) {
        bool v = tsr__bit_get(cd->validity, r0 + r);
        if (v)
          bits[r >> 3] |= (uint8_t)(1u << (r & 7));
        nulls += !v;
      }
      c->null_count = nulls;
    }
    if (cd->type.id == TSR_COL_STRING) {
      tsr_string_view *v = tsr__colchunk_values(c);
      for (int64_t r = 0; r < rows; r++) {
        int64_t a = cd->offsets[r0 + r], b = cd->offsets[r0 + r + 1];
        v[r] = tsr__view_make(c, cd->data + a, (uint32_t)(b - a));
      }
    } else {
      size_t w = tsr_type_width(cd->type);
      if (rows > 0)
        memcpy(tsr__colchunk_values(c), (const unsigned char *)cd->values + (size_t)r0 * w,
               (size_t)rows * w);
    }
  }
  return TSR_OK;
}

static tsr_status lower_buffers(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                uint32_t *out) {
  return tsr__fnode_lower_map(e, g, in, out, "frame_buffers", buffer_kernel, NULL, 0);
}

static void hash_buffers(const tsr__expr *e, tsr__hash *h) {
  tsr__fnode_hash(tsr__fnode_of(e), h);
}

static const tsr__op op_buffers = {"frame_buffers", lower_buffers, tsr__fnode_destroy_params,
                                   false, NULL, hash_buffers};

/* Checks one column (naming it), and its string bytes per chunk. */
static tsr_status check_column(const char *fn, int i, const tsr_column_data *cd, int64_t length) {
  TSR_CHECK(cd->name != NULL && cd->name[0] != '\0', TSR_EINVAL, "%s: column %d has no name", fn,
            i);
  TSR_CHECK((unsigned)cd->type.id < TSR_NUM_COLTYPES, TSR_EINVAL,
            "%s: column '%s' has type %d, not a tsr_coltype", fn, cd->name, (int)cd->type.id);
  TSR_CHECK(cd->type.id != TSR_COL_TIMESTAMP || (unsigned)cd->type.unit < 4, TSR_EINVAL,
            "%s: column '%s' has time unit %d", fn, cd->name, (int)cd->type.unit);
  TSR_CHECK(cd->length == length, TSR_EINVAL,
            "%s: column '%s' has %lld values but column '%s' has %lld (columns must have equal "
            "lengths)",
            fn, cd->name, (long long)cd->length, "0", (long long)length);
  if (cd->type.id == TSR_COL_STRING) {
    TSR_CHECK(cd->offsets != NULL, TSR_EINVAL, "%s: string column '%s' has no offsets", fn,
              cd->name);
    TSR_CHECK(cd->offsets[0] == 0, TSR_EINVAL, "%s: column '%s': offsets[0] = %lld, not 0", fn,
              cd->name, (long long)cd->offsets[0]);
    for (int64_t r = 0; r < length; r++)
      TSR_CHECK(cd->offsets[r + 1] >= cd->offsets[r] &&
                    cd->offsets[r + 1] - cd->offsets[r] <= (int64_t)UINT32_MAX,
                TSR_EINVAL, "%s: column '%s': offsets[%lld] = %lld after offsets[%lld] = %lld", fn,
                cd->name, (long long)(r + 1), (long long)cd->offsets[r + 1], (long long)r,
                (long long)cd->offsets[r]);
    TSR_CHECK(cd->data != NULL || length == 0 || cd->offsets[length] == 0, TSR_EINVAL,
              "%s: string column '%s' has no data", fn, cd->name);
  } else {
    TSR_CHECK(cd->values != NULL || length == 0, TSR_EINVAL, "%s: column '%s' has no values", fn,
              cd->name);
  }
  if (cd->type.id == TSR_COL_DICT) {
    const int32_t *codes = cd->values;
    for (int64_t r = 0; r < length; r++) {
      bool valid = cd->validity == NULL || tsr__bit_get(cd->validity, r);
      TSR_CHECK(!valid || (codes[r] >= 0 && codes[r] < cd->dict_size), TSR_EINVAL,
                "%s: column '%s': code %d at row %lld is outside its dictionary of %lld strings",
                fn, cd->name, (int)codes[r], (long long)r, (long long)cd->dict_size);
    }
  }
  return TSR_OK;
}

static tsr_status copy_buffer(buffer_source *s, const void *src, size_t bytes, const void **dst) {
  if (src == NULL) {
    *dst = NULL;
    return TSR_OK;
  }
  void *p;
  TSR_TRY(tsr_alloc(s->ctx, bytes ? bytes : 1, &p));
  memcpy(p, src, bytes);
  s->owned[s->n_owned++] = p;
  *dst = p;
  return TSR_OK;
}

tsr_status tsr_frame_from_columns(tsr_ctx *ctx, int n, const tsr_column_data *columns,
                                  int64_t chunk_rows, tsr_buffer_mode mode,
                                  tsr_buffer_free_fn free_fn, void *free_user, tsr_frame **out) {
  static const char fn[] = "tsr_frame_from_columns";
  tsr_status status = TSR_OK;
  buffer_source *s = NULL;
  tsr__rows *rows = NULL;
  tsr__col *cols = NULL;
  tsr__expr *node = NULL;
  tsr_type *types = NULL;
  int64_t *data_cap = NULL;
  bool adopted = false; /* the node (or s) frees adopted buffers from here on */
  TSR__CHECK_GOTO(status, out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR__CHECK_GOTO(status, ctx != NULL, TSR_EINVAL, "%s: ctx is NULL", fn);
  TSR__CHECK_GOTO(status, n >= 0 && (n == 0 || columns != NULL), TSR_EINVAL,
                  "%s: n = %d columns", fn, n);
  TSR__CHECK_GOTO(status, mode == TSR_BUFFER_BORROW || mode == TSR_BUFFER_COPY ||
                              mode == TSR_BUFFER_ADOPT,
                  TSR_EINVAL, "%s: mode %d is not a tsr_buffer_mode", fn, (int)mode);
  TSR__CHECK_GOTO(status, chunk_rows >= 0, TSR_EINVAL, "%s: chunk_rows = %lld is negative", fn,
                  (long long)chunk_rows);
  if (chunk_rows == 0)
    chunk_rows = 1 << 20;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  s->ctx = ctx;
  s->n = n;
  s->mode = mode;
  s->free_fn = free_fn;
  s->free_user = free_user;
  s->base.destroy_extra = buffer_source_destroy;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *s->cols, (void **)&s->cols));
  for (int i = 0; i < n; i++) { /* names first: adopted buffers are freed from here on */
    s->cols[i] = columns[i];
    s->cols[i].name = NULL;
  }
  adopted = true;
  int64_t length = n > 0 ? columns[0].length : 0;
  TSR__CHECK_GOTO(status, length >= 0, TSR_EINVAL, "%s: column 0 has length %lld", fn,
                  (long long)length);
  for (int i = 0; i < n; i++)
    TSR__TRY_GOTO(status, check_column(fn, i, &columns[i], length));
  for (int i = 0; i < n; i++) {
    size_t len = strlen(columns[i].name);
    TSR__TRY_GOTO(status, tsr_alloc(ctx, len + 1, (void **)&s->cols[i].name));
    memcpy((void *)s->cols[i].name, columns[i].name, len + 1);
  }
  TSR__TRY_GOTO(status, tsr__rows_create_regular(ctx, length, chunk_rows, &rows));
  int64_t nchunks = rows->nchunks;
  if (mode == TSR_BUFFER_COPY) {
    TSR__TRY_GOTO(status, tsr_calloc(ctx, 4 * (size_t)n + 1, sizeof *s->owned, (void **)&s->owned));
    for (int i = 0; i < n; i++) {
      tsr_column_data *cd = &s->cols[i];
      size_t w = tsr_type_width(cd->type);
      if (cd->type.id == TSR_COL_STRING) {
        TSR__TRY_GOTO(status, copy_buffer(s, cd->offsets, ((size_t)length + 1) * sizeof(int64_t),
                                          (const void **)&cd->offsets));
        TSR__TRY_GOTO(status, copy_buffer(s, cd->data, (size_t)cd->offsets[length],
                                          (const void **)&cd->data));
        cd->values = NULL;
      } else {
        TSR__TRY_GOTO(status, copy_buffer(s, cd->values, (size_t)length * w, &cd->values));
      }
      TSR__TRY_GOTO(status, copy_buffer(s, cd->validity, ((size_t)length + 7) / 8,
                                        (const void **)&cd->validity));
      cd->dict_offsets = NULL; /* dictionaries are copied into tsr__dict below */
      cd->dict_data = NULL;
    }
  }
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nchunks + 2, sizeof *s->row_start,
                                         "row starts", (void **)&s->row_start));
  s->row_start[0] = 0;
  for (int64_t c = 0; c < nchunks; c++)
    s->row_start[c + 1] = s->row_start[c] + rows->count[c];
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)n + 1, sizeof *types, "types", (void **)&types));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n * (size_t)nchunks + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  for (int i = 0; i < n; i++) {
    types[i] = columns[i].type;
    if (types[i].id != TSR_COL_TIMESTAMP)
      types[i].unit = 0;
    if (types[i].id == TSR_COL_STRING)
      for (int64_t c = 0; c < nchunks; c++) {
        int64_t bytes = 0;
        for (int64_t r = s->row_start[c]; r < s->row_start[c + 1]; r++) {
          int64_t len = columns[i].offsets[r + 1] - columns[i].offsets[r];
          bytes += len > 12 ? len : 0;
        }
        data_cap[(int64_t)i * nchunks + c] = bytes;
      }
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *cols, (void **)&cols));
  for (int i = 0; i < n; i++) {
    cols[i].name = (char *)columns[i].name;
    cols[i].type = types[i];
    cols[i].slot = (uint32_t)i;
    if (types[i].id == TSR_COL_DICT) {
      char what[320];
      snprintf(what, sizeof what, "%s: column '%.256s'", fn, columns[i].name);
      TSR__TRY_GOTO(status, tsr__dict_create(ctx, what, columns[i].dict_size,
                                             columns[i].dict_offsets, columns[i].dict_data,
                                             &cols[i].dict));
    }
  }
  {
    buffer_source *params = s;
    s = NULL; /* the node owns it now, even on failure */
    TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_buffers, rows, (uint32_t)n, types, data_cap,
                                            0, NULL, params, &node));
  }
  for (int i = 0; i < n; i++)
    cols[i].node = node;
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, n, cols, rows, out));
fail:
  if (!adopted && mode == TSR_BUFFER_ADOPT && free_fn != NULL && columns != NULL)
    for (int i = 0; i < n; i++) {
      const void *p[6] = {columns[i].values,  columns[i].validity,     columns[i].offsets,
                          columns[i].data,    columns[i].dict_offsets, columns[i].dict_data};
      for (int j = 0; j < 6; j++)
        if (p[j] != NULL)
          free_fn((void *)p[j], free_user);
    }
  if (s != NULL) {
    buffer_source_destroy(&s->base);
    tsr_free(ctx, s);
  }
  if (cols != NULL)
    for (int i = 0; i < n; i++)
      tsr__dict_release(&cols[i].dict);
  tsr_free(ctx, cols);
  tsr_free(ctx, types);
  tsr_free(ctx, data_cap);
  tsr__expr_release(&node);
  tsr__rows_release(&rows);
  return status;
}

/* ---- arrays as columns ------------------------------------------------------------------ */

static tsr_coltype coltype_of(tsr_dtype d) {
  static const tsr_coltype map[TSR_NUM_DTYPES] = {
      TSR_COL_BOOL,  TSR_COL_INT8,   TSR_COL_INT16,  TSR_COL_INT32,   TSR_COL_INT64,  TSR_COL_UINT8,
      TSR_COL_UINT16, TSR_COL_UINT32, TSR_COL_UINT64, TSR_COL_FLOAT32, TSR_COL_FLOAT64};
  return map[d];
}

/* Row counts of a 1-D array's chunks. */
static tsr_status array_rows(const char *fn, tsr_array *a, tsr__rows **out) {
  const tsr_chunk_grid *g = a->expr->grid;
  TSR_CHECK(g->ndim == 1, TSR_EINVAL, "%s: the array has %d dimensions; a column is 1-D", fn,
            g->ndim);
  int64_t n = tsr_chunk_grid_nchunks(g);
  int64_t *count;
  TSR_TRY(tsr__alloc_array(a->expr->ctx, (size_t)n + 1, sizeof *count, "row chunks",
                           (void **)&count));
  for (int64_t c = 0; c < n; c++)
    count[c] = tsr_chunk_grid_chunk_extent(g, 0, c);
  tsr_status status = tsr__rows_create(a->expr->ctx, n, count, count, out);
  tsr_free(a->expr->ctx, count);
  return status;
}

static bool same_rows(const tsr__rows *a, const tsr__rows *b) {
  if (a->nchunks != b->nchunks || a->count == NULL || b->count == NULL)
    return false;
  for (int64_t c = 0; c < a->nchunks; c++)
    if (a->count[c] != b->count[c])
      return false;
  return true;
}

tsr_status tsr_frame_from_arrays(int n, tsr_array *const *arrays, const char *const *names,
                                 tsr_frame **out) {
  static const char fn[] = "tsr_frame_from_arrays";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(n > 0 && arrays != NULL && names != NULL, TSR_EINVAL,
            "%s: need at least one array and its name", fn);
  for (int i = 0; i < n; i++) {
    TSR_CHECK(arrays[i] != NULL && names[i] != NULL && names[i][0] != '\0', TSR_EINVAL,
              "%s: array %d or its name is NULL or empty", fn, i);
    TSR_CHECK(arrays[i]->expr->ctx == arrays[0]->expr->ctx, TSR_EINVAL,
              "%s: array %d belongs to another context than array 0", fn, i);
  }
  tsr_ctx *ctx = arrays[0]->expr->ctx;
  tsr__rows *rows = NULL, *other = NULL;
  tsr__col *cols = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, array_rows(fn, arrays[0], &rows));
  for (int i = 1; i < n; i++) {
    TSR__TRY_GOTO(status, array_rows(fn, arrays[i], &other));
    TSR__CHECK_GOTO(status, same_rows(rows, other), TSR_ESHAPE,
                    "%s: array %d ('%s') has other chunks or length than array 0 ('%s'); rechunk "
                    "it to match",
                    fn, i, names[i], names[0]);
    tsr__rows_release(&other);
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n, sizeof *cols, (void **)&cols));
  for (int i = 0; i < n; i++)
    cols[i] = (tsr__col){(char *)names[i], {coltype_of(arrays[i]->expr->dtype), 0}, NULL,
                         arrays[i]->expr, 0, true};
  status = tsr__frame_make(ctx, n, cols, rows, out);
fail:
  tsr_free(ctx, cols);
  tsr__rows_release(&rows);
  tsr__rows_release(&other);
  return status;
}

tsr_status tsr_frame_with_array(tsr_frame *f, const char *name, tsr_array *a, tsr_frame **out) {
  static const char fn[] = "tsr_frame_with_array";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL && a != NULL && name != NULL && name[0] != '\0', TSR_EINVAL,
            "%s: frame, array or name is NULL or empty", fn);
  TSR_CHECK(a->expr->ctx == f->ctx, TSR_EINVAL, "%s: the array belongs to another context", fn);
  int64_t total;
  TSR_TRY(tsr_frame_nrows(f, &total));
  tsr__rows *rows;
  TSR_TRY(array_rows(fn, a, &rows));
  bool same = same_rows(rows, f->rows);
  tsr__rows_release(&rows);
  TSR_CHECK(same, TSR_ESHAPE,
            "%s: the array's length and chunks do not match the frame's %lld rows in %lld chunks",
            fn, (long long)total, (long long)f->rows->nchunks);
  tsr__col *cols;
  TSR_TRY(tsr__alloc_array(f->ctx, (size_t)f->ncols + 2, sizeof *cols, "columns", (void **)&cols));
  int k = tsr_frame_col_index(f, name);
  memcpy(cols, f->cols, (size_t)f->ncols * sizeof *cols);
  tsr__col c = {(char *)name, {coltype_of(a->expr->dtype), 0}, NULL, a->expr, 0, true};
  int n = f->ncols;
  if (k >= 0)
    cols[k] = c;
  else
    cols[n++] = c;
  tsr_status status = tsr__frame_make(f->ctx, n, cols, f->rows, out);
  tsr_free(f->ctx, cols);
  return status;
}

/* ---- columns as arrays -------------------------------------------------------------------- */

typedef struct column_array_params {
  tsr__colref ref;
  int has_fill;
  double fill;
  char name[64];
  int64_t *map; /* array chunk -> frame chunk (frame chunks without rows have none) */
} column_array_params;

static void column_array_destroy(tsr__expr *e) {
  column_array_params *p = e->params;
  tsr_free(e->ctx, p->map);
}

static tsr_status column_array_kernel(const tsr_kernel_call *call) {
  const column_array_params *p = call->params;
  tsr__colread r;
  tsr__colref ref = p->ref;
  ref.input = 0;
  tsr__colread_get(&ref, call, &r);
  size_t w = tsr_type_width(ref.type);
  if (r.rows > 0)
    memcpy(call->output, r.values, (size_t)r.rows * w);
  if (r.null_count > 0) {
    if (!p->has_fill)
      return tsr_error_set(TSR_EINVAL,
                           "column '%s' has nulls: give a fill value to make it an array",
                           p->name);
    tsr_dtype d = tsr_type_dtype(ref.type);
    for (int64_t i = 0; i < r.rows; i++)
      if (!tsr__bit_get(r.validity, i)) {
        unsigned char *dst = (unsigned char *)call->output + (size_t)i * w;
        switch (d) {
#define FILL(DT, T)            \
  case DT: {                   \
    T v = (T)p->fill;          \
    memcpy(dst, &v, sizeof v); \
    break;                     \
  }
          FILL(TSR_BOOL, uint8_t)
          FILL(TSR_INT8, int8_t)
          FILL(TSR_INT16, int16_t)
          FILL(TSR_INT32, int32_t)
          FILL(TSR_INT64, int64_t)
          FILL(TSR_UINT8, uint8_t)
          FILL(TSR_UINT16, uint16_t)
          FILL(TSR_UINT32, uint32_t)
          FILL(TSR_UINT64, uint64_t)
          FILL(TSR_FLOAT32, float)
          FILL(TSR_FLOAT64, double)
#undef FILL
        default:
          break;
        }
      }
  }
  return TSR_OK;
}

static tsr_status lower_column_array(const tsr__expr *e, tsr_taskgraph *g,
                                     const uint32_t *const *in, uint32_t *out) {
  const column_array_params *p = e->params;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "frame_column", column_array_kernel, NULL, &k));
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  for (int64_t c = 0; c < n; c++) {
    size_t bytes = (size_t)tsr_chunk_grid_chunk_extent(e->grid, 0, c) * tsr_dtype_size(e->dtype);
    TSR_TRY(tsr_taskgraph_add_task(g, k, &in[0][p->map[c]], 1, p, sizeof *p, bytes, &out[c]));
  }
  return TSR_OK;
}

static void hash_column_array(const tsr__expr *e, tsr__hash *h) {
  const column_array_params *p = e->params;
  tsr__hash_u64(h, p->ref.slot);
  tsr__hash_u64(h, (uint64_t)p->has_fill);
  uint64_t bits;
  memcpy(&bits, &p->fill, sizeof bits);
  tsr__hash_u64(h, bits);
}

static const tsr__op op_column_array = {"frame_column", lower_column_array, column_array_destroy,
                                        false, NULL, hash_column_array};

tsr_status tsr_frame_column_array(tsr_frame *f, const char *name, const double *fill,
                                  tsr_array **out) {
  static const char fn[] = "tsr_frame_column_array";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  int k = 0;
  TSR_TRY(tsr__frame_find(f, fn, name, &k));
  const tsr__col *c = &f->cols[k];
  tsr_dtype d = tsr_type_dtype(c->type);
  TSR_CHECK(d != TSR_NUM_DTYPES, TSR_EDTYPE, "%s: column '%s' holds strings; arrays hold numbers",
            fn, name);
  if (c->raw) {
    tsr__expr_retain(c->node);
    return tsr__array_wrap(c->node, out);
  }
  int64_t total;
  TSR_TRY(tsr_frame_nrows(f, &total));
  if (total == 0) {
    int64_t shape[1] = {0};
    return tsr_array_zeros(f->ctx, d, 1, shape, NULL, out);
  }
  int64_t n = f->rows->nchunks;
  column_array_params *p;
  TSR_TRY(tsr_calloc(f->ctx, 1, sizeof *p, (void **)&p));
  int64_t *bounds = NULL;
  tsr_status status =
      tsr__alloc_array(f->ctx, (size_t)n + 1, sizeof *bounds, "chunk bounds", (void **)&bounds);
  if (status == TSR_OK)
    status = tsr__alloc_array(f->ctx, (size_t)n + 1, sizeof *p->map, "chunk map",
                              (void **)&p->map);
  tsr_chunk_grid *grid = NULL;
  if (status == TSR_OK) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
      if (f->rows->count[i] > 0) {
        bounds[m] = f->rows->count[i];
        p->map[m++] = i;
      }
    const int64_t *per_axis[1] = {bounds};
    status = tsr_chunk_grid_create_explicit(f->ctx, 1, per_axis, &m, &grid);
  }
  tsr_free(f->ctx, bounds);
  if (status != TSR_OK) {
    tsr_free(f->ctx, p->map);
    tsr_free(f->ctx, p);
    return status;
  }
  p->ref = (tsr__colref){0, c->slot, 0, c->type};
  p->has_fill = fill != NULL;
  p->fill = fill ? *fill : 0;
  snprintf(p->name, sizeof p->name, "%s", name);
  tsr__expr *e;
  tsr__expr *input = c->node;
  TSR_TRY(tsr__expr_create(f->ctx, &op_column_array, d, grid, 1, &input, p, &e));
  return tsr__array_wrap(e, out);
}
