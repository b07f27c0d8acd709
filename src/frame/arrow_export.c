/* arrow_export.c — a frame as an Arrow C stream (tessera/arrow.h,
 * docs/frames.md "Arrow"): the frame is computed into a tsr_frame_result
 * and each row chunk becomes one record batch whose buffers are the
 * chunk's own (numbers, dates, timestamps, validity bitmaps, string views
 * and their data buffer, dictionaries): tessera's string layout is Arrow's
 * string view layout, so only bools (one byte per value here, one bit in
 * Arrow) are copied.
 *
 * Ownership follows the C Data Interface: every ArrowArray and ArrowSchema
 * handed out (parent, each child, each dictionary) has its own
 * private_data and release callback, so a consumer may move any of them
 * out and release them in any order, on any thread.  Arrays share the
 * computed result through a reference-counted holder: the last release
 * frees it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <tessera/arrow.h>

#include "frame_impl.h"

/* The computed frame, shared by the stream and every array it made. */
typedef struct ax_holder {
  _Atomic uint32_t refs;
  tsr_ctx *ctx;
  tsr_frame_result *result;
} ax_holder;

static void holder_release(ax_holder *h) {
  if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
    return;
  tsr_frame_result_destroy(&h->result);
  tsr_free(h->ctx, h);
}

/* A non-NULL address for empty buffers (the spec wants buffers present). */
static const int64_t empty_buffer[2] = {0, 0};

/* ---- schemas ----------------------------------------------------------------------- */

/* A column's schema: the name it owns, and a dictionary's value schema. */
typedef struct ax_field {
  tsr_ctx *ctx;
  struct ArrowSchema dict;
  char name[];
} ax_field;

/* The root: its children's pointers and structs. */
typedef struct ax_root {
  tsr_ctx *ctx;
  struct ArrowSchema **ptrs;
  struct ArrowSchema *fields;
} ax_root;

static void release_static_schema(struct ArrowSchema *s) { s->release = NULL; }

static void release_field(struct ArrowSchema *s) {
  ax_field *f = s->private_data;
  if (s->dictionary != NULL && s->dictionary->release != NULL)
    s->dictionary->release(s->dictionary);
  tsr_free(f->ctx, f);
  s->release = NULL;
}

static void release_root(struct ArrowSchema *s) {
  ax_root *r = s->private_data;
  for (int64_t i = 0; i < s->n_children; i++)
    if (s->children[i]->release != NULL)
      s->children[i]->release(s->children[i]);
  tsr_free(r->ctx, r->ptrs);
  tsr_free(r->ctx, r->fields);
  tsr_free(r->ctx, r);
  s->release = NULL;
}

/* The format string of a column type. */
static const char *format_of(tsr_type t) {
  switch (t.id) {
  case TSR_COL_BOOL:
    return "b";
  case TSR_COL_INT8:
    return "c";
  case TSR_COL_INT16:
    return "s";
  case TSR_COL_INT32:
    return "i";
  case TSR_COL_INT64:
    return "l";
  case TSR_COL_UINT8:
    return "C";
  case TSR_COL_UINT16:
    return "S";
  case TSR_COL_UINT32:
    return "I";
  case TSR_COL_UINT64:
    return "L";
  case TSR_COL_FLOAT32:
    return "f";
  case TSR_COL_FLOAT64:
    return "g";
  case TSR_COL_STRING:
    return "vu";
  case TSR_COL_DICT:
    return "i"; /* the index; the dictionary's values are "U" */
  case TSR_COL_DATE:
    return "tdD";
  case TSR_COL_TIMESTAMP:
    switch (t.unit) {
    case TSR_TIME_S:
      return "tss:";
    case TSR_TIME_MS:
      return "tsm:";
    case TSR_TIME_US:
      return "tsu:";
    case TSR_TIME_NS:
      return "tsn:";
    }
    return NULL;
  case TSR_NUM_COLTYPES:
    return NULL;
  }
  return NULL;
}

/* The stream's schema: a struct of the result's columns. */
static tsr_status make_schema(tsr_ctx *ctx, const tsr_frame_result *res, struct ArrowSchema *out) {
  int n = tsr_frame_result_ncols(res);
  ax_root *r;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *r, (void **)&r));
  r->ctx = ctx;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n + 1, sizeof *r->ptrs, (void **)&r->ptrs));
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)n + 1, sizeof *r->fields, (void **)&r->fields));
  memset(out, 0, sizeof *out);
  out->format = "+s";
  out->name = "";
  out->n_children = n;
  out->children = r->ptrs;
  out->release = release_root;
  out->private_data = r;
  for (int i = 0; i < n; i++) {
    tsr_type t = tsr_frame_result_col_type(res, i);
    const char *name = tsr_frame_result_col_name(res, i);
    size_t len = strlen(name);
    ax_field *f;
    st = tsr_calloc(ctx, 1, sizeof *f + len + 1, (void **)&f);
    if (st != TSR_OK) {
      out->n_children = i; /* the fields made so far */
      release_root(out);
      return st;
    }
    f->ctx = ctx;
    memcpy(f->name, name, len + 1);
    struct ArrowSchema *s = &r->fields[i];
    r->ptrs[i] = s;
    s->format = format_of(t);
    s->name = f->name;
    s->flags = ARROW_FLAG_NULLABLE;
    s->release = release_field;
    s->private_data = f;
    if (t.id == TSR_COL_DICT) {
      /* Sorted: codes compare as their strings do. */
      s->flags |= ARROW_FLAG_DICTIONARY_ORDERED;
      f->dict.format = "U";
      f->dict.flags = ARROW_FLAG_NULLABLE;
      f->dict.release = release_static_schema;
      s->dictionary = &f->dict;
    }
  }
  return TSR_OK;
fail:
  tsr_free(ctx, r->ptrs);
  tsr_free(ctx, r->fields);
  tsr_free(ctx, r);
  return st;
}

/* ---- arrays -------------------------------------------------------------------------- */

/* One exported array (a batch, a column or a dictionary): up to four
 * buffers, what it owns (bool bits; a batch's children), the views'
 * variadic buffer size, and a dictionary column's dictionary array. */
typedef struct ax_array {
  ax_holder *h;
  const void *buffers[4];
  void *owned;
  int64_t data_size;
  struct ArrowArray **ptrs;    /* a batch: its children's pointers */
  struct ArrowArray *children; /* and structs */
  struct ArrowArray dict;
} ax_array;

static void release_array(struct ArrowArray *a) {
  ax_array *p = a->private_data;
  for (int64_t i = 0; i < a->n_children; i++)
    if (a->children[i]->release != NULL)
      a->children[i]->release(a->children[i]);
  if (a->dictionary != NULL && a->dictionary->release != NULL)
    a->dictionary->release(a->dictionary);
  tsr_ctx *ctx = p->h->ctx;
  tsr_free(ctx, p->owned);
  tsr_free(ctx, p->ptrs);
  tsr_free(ctx, p->children);
  holder_release(p->h);
  tsr_free(ctx, p);
  a->release = NULL;
}

/* A fresh array's private block, holding a reference to h. */
static tsr_status array_init(ax_holder *h, struct ArrowArray *a, int64_t length, int64_t null_count,
                             int64_t n_buffers) {
  ax_array *p;
  TSR_TRY(tsr_calloc(h->ctx, 1, sizeof *p, (void **)&p));
  atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
  p->h = h;
  memset(a, 0, sizeof *a);
  a->length = length;
  a->null_count = null_count;
  a->n_buffers = n_buffers;
  a->buffers = p->buffers;
  a->release = release_array;
  a->private_data = p;
  return TSR_OK;
}

/* Column `col` of chunk `chunk` as a child array in *a. */
static tsr_status export_column(ax_holder *h, int col, int64_t chunk, struct ArrowArray *a) {
  const tsr_frame_result *res = h->result;
  tsr_type t = tsr_frame_result_col_type(res, col);
  tsr_column_chunk ch;
  TSR_TRY(tsr_frame_result_chunk(res, col, chunk, &ch));
  int64_t n_buffers = t.id == TSR_COL_STRING ? 4 : 2;
  TSR_TRY(array_init(h, a, ch.rows, ch.null_count, n_buffers));
  ax_array *p = a->private_data;
  p->buffers[0] = ch.null_count > 0 ? (const void *)ch.validity : NULL;
  p->buffers[1] = ch.rows > 0 ? ch.values : (const void *)empty_buffer;
  if (t.id == TSR_COL_BOOL) {
    /* One byte per value here, one bit per value in Arrow. */
    size_t bytes = ((size_t)ch.rows + 7) / 8;
    tsr_status st = tsr_calloc(h->ctx, bytes + 1, 1, &p->owned);
    if (st != TSR_OK) {
      release_array(a);
      return st;
    }
    const uint8_t *v = ch.values;
    uint8_t *bits = p->owned;
    for (int64_t i = 0; i < ch.rows; i++)
      bits[i >> 3] |= (uint8_t)((v[i] & 1u) << (i & 7));
    p->buffers[1] = bits;
  } else if (t.id == TSR_COL_STRING) {
    /* Views (tsr_string_view is Arrow's layout; buffer index 0), one
     * variadic data buffer, and the buffer sizes' buffer. */
    p->data_size = (int64_t)ch.data_bytes;
    p->buffers[2] = ch.data_bytes > 0 ? (const void *)ch.data : (const void *)empty_buffer;
    p->buffers[3] = &p->data_size;
  } else if (t.id == TSR_COL_DICT) {
    int64_t size;
    const int64_t *offsets;
    const char *data;
    tsr_status st = tsr_frame_result_dict(res, col, &size, &offsets, &data);
    if (st == TSR_OK)
      st = array_init(h, &p->dict, size, 0, 3);
    if (st != TSR_OK) {
      release_array(a);
      return st;
    }
    ax_array *d = p->dict.private_data;
    d->buffers[0] = NULL;
    d->buffers[1] = offsets != NULL ? (const void *)offsets : (const void *)empty_buffer;
    d->buffers[2] = data != NULL && size > 0 ? (const void *)data : (const void *)empty_buffer;
    a->dictionary = &p->dict;
  }
  return TSR_OK;
}

/* Chunk `chunk` as a record batch in *out. */
static tsr_status export_batch(ax_holder *h, int64_t chunk, struct ArrowArray *out) {
  int n = tsr_frame_result_ncols(h->result);
  tsr_column_chunk first;
  TSR_TRY(tsr_frame_result_chunk(h->result, 0, chunk, &first));
  TSR_TRY(array_init(h, out, first.rows, 0, 1));
  ax_array *p = out->private_data;
  p->buffers[0] = NULL;
  tsr_status st = TSR_OK;
  TSR__TRY_GOTO(st, tsr_calloc(h->ctx, (size_t)n + 1, sizeof *p->ptrs, (void **)&p->ptrs));
  TSR__TRY_GOTO(st, tsr_calloc(h->ctx, (size_t)n + 1, sizeof *p->children, (void **)&p->children));
  out->children = p->ptrs;
  for (int i = 0; i < n; i++) {
    p->ptrs[i] = &p->children[i];
    TSR__TRY_GOTO(st, export_column(h, i, chunk, &p->children[i]));
    out->n_children = i + 1;
  }
  return TSR_OK;
fail:
  release_array(out);
  return st;
}

/* ---- the stream ---------------------------------------------------------------------- */

typedef struct ax_stream {
  ax_holder *h;
  int64_t next; /* the next chunk to hand out */
  char error[512];
} ax_stream;

/* The errno value a consumer expects for a status, and the message kept. */
static int stream_fail(ax_stream *s, tsr_status st) {
  snprintf(s->error, sizeof s->error, "%s", tsr_last_error());
  return st == TSR_ENOMEM ? ENOMEM : st == TSR_EIO ? EIO : EINVAL;
}

static int stream_get_schema(struct ArrowArrayStream *stream, struct ArrowSchema *out) {
  ax_stream *s = stream->private_data;
  tsr_status st = make_schema(s->h->ctx, s->h->result, out);
  return st == TSR_OK ? 0 : stream_fail(s, st);
}

static int stream_get_next(struct ArrowArrayStream *stream, struct ArrowArray *out) {
  ax_stream *s = stream->private_data;
  memset(out, 0, sizeof *out); /* released: the end, or a failure */
  if (s->next >= tsr_frame_result_nchunks(s->h->result))
    return 0;
  tsr_status st = export_batch(s->h, s->next, out);
  if (st != TSR_OK)
    return stream_fail(s, st);
  s->next++;
  return 0;
}

static const char *stream_get_last_error(struct ArrowArrayStream *stream) {
  ax_stream *s = stream->private_data;
  return s->error[0] != '\0' ? s->error : NULL;
}

static void stream_release(struct ArrowArrayStream *stream) {
  ax_stream *s = stream->private_data;
  tsr_ctx *ctx = s->h->ctx;
  holder_release(s->h);
  tsr_free(ctx, s);
  stream->release = NULL;
}

tsr_status tsr_frame_to_arrow_stream(tsr_frame *frame, const tsr_compute_options *options,
                                     struct ArrowArrayStream *out) {
  static const char fn[] = "tsr_frame_to_arrow_stream";
  TSR_CHECK(frame != NULL && out != NULL, TSR_EINVAL, "%s: frame or out is NULL", fn);
  memset(out, 0, sizeof *out);
  TSR_CHECK(frame->ncols > 0, TSR_EINVAL, "%s: the frame has no columns", fn);
  for (int i = 0; i < frame->ncols; i++)
    TSR_CHECK(format_of(frame->cols[i].type) != NULL, TSR_EINVAL,
              "%s: column '%s' has no Arrow type", fn, frame->cols[i].name);
  tsr_ctx *ctx = frame->ctx;
  ax_holder *h;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *h, (void **)&h));
  atomic_init(&h->refs, 1);
  h->ctx = ctx;
  tsr_status st = tsr_frame_compute(frame, options, &h->result);
  ax_stream *s = NULL;
  if (st == TSR_OK)
    st = tsr_calloc(ctx, 1, sizeof *s, (void **)&s);
  if (st != TSR_OK) {
    holder_release(h);
    return st;
  }
  s->h = h;
  out->get_schema = stream_get_schema;
  out->get_next = stream_get_next;
  out->get_last_error = stream_get_last_error;
  out->release = stream_release;
  out->private_data = s;
  return TSR_OK;
}
