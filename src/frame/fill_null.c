/* fill_null.c — tsr_frame_fill_null: a column's nulls replaced by one value
 * given as text and parsed now in the column's type (value_text.c), so a
 * bad value is an error of the call, not of a later compute.
 *
 * The result column has no nulls.  Strings: the fill value's bytes are
 * written once per chunk (after the copied data buffer) and every null
 * row's view points at them.  Dictionaries: a value already in the
 * dictionary is its code; another one makes a new dictionary (the old one
 * plus the value, still sorted), computed now, and the chunk kernel shifts
 * the codes at or after the value's place by one. */
#include <string.h>

#include "ops_impl.h"
#include "value_text.h"

typedef struct fill_params {
  tsr__fnode base; /* one column */
  tsr_ctx *ctx;
  tsr__colref ref;
  unsigned char value[16]; /* fixed-width types */
  char *text;              /* strings: the value (owned) */
  uint32_t text_len;
  int32_t code;  /* dictionaries: the value's code in the result's dictionary */
  int32_t shift; /* dictionaries: codes >= code move up by one (a new value) */
} fill_params;

static void fill_destroy(tsr__fnode *base) {
  fill_params *p = (fill_params *)base;
  tsr_free(p->ctx, p->text);
}

static tsr_status fill_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const fill_params *p = t.node->params;
  tsr__ftask_init_output(call);
  tsr__colread r;
  tsr__colread_get(&p->ref, call, &r);
  tsr__colchunk *out = tsr__tablechunk_col(call->output, 0);
  tsr__ops_copy_rows(out, &p->ref, call, 0, r.rows);
  out->null_count = 0; /* the bitmap is not read from here on */
  tsr_coltype type = p->ref.type.id;
  if (type == TSR_COL_DICT) {
    int32_t *codes = tsr__colchunk_values(out);
    if (p->shift)
      for (int64_t i = 0; i < r.rows; i++)
        codes[i] += codes[i] >= p->code;
  }
  if (r.validity == NULL)
    return TSR_OK;
  if (type == TSR_COL_STRING) {
    tsr_string_view *v = tsr__colchunk_values(out);
    tsr_string_view fill = tsr__view_make(out, p->text, p->text_len);
    for (int64_t i = 0; i < r.rows; i++)
      if (!tsr__bit_get(r.validity, i))
        v[i] = fill;
    return TSR_OK;
  }
  size_t w = tsr_type_width(p->ref.type);
  unsigned char *dst = tsr__colchunk_values(out);
  const void *value = type == TSR_COL_DICT ? (const void *)&p->code : p->value;
  for (int64_t i = 0; i < r.rows; i++)
    if (!tsr__bit_get(r.validity, i))
      memcpy(dst + (size_t)i * w, value, w);
  return TSR_OK;
}

static tsr_status lower_fill(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                             uint32_t *out) {
  return tsr__fnode_lower_map(e, g, in, out, "frame_fill_null", fill_kernel, NULL, 0);
}

static void hash_fill(const tsr__expr *e, tsr__hash *h) {
  const fill_params *p = e->params;
  tsr__fnode_hash(&p->base, h);
  tsr__ops_hash_ref(h, &p->ref);
  tsr__hash_bytes(h, p->value, sizeof p->value);
  tsr__hash_u64(h, p->text_len);
  if (p->text != NULL)
    tsr__hash_bytes(h, p->text, p->text_len);
  tsr__hash_u64(h, (uint64_t)p->code);
  tsr__hash_u64(h, (uint64_t)p->shift);
}

static const tsr__op op_fill = {
    "frame_fill_null", lower_fill, tsr__fnode_destroy_params, false, NULL, hash_fill};

/* The dictionary d with s inserted at index `at`. */
static tsr_status dict_insert(tsr_ctx *ctx, const tsr__dict *d, int64_t at, const char *s,
                              size_t len, tsr__dict **out) {
  int64_t bytes = d->size > 0 ? d->offsets[d->size] : 0;
  int64_t *offsets = NULL;
  char *data = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)d->size + 2, sizeof *offsets, "dictionary",
                                         (void **)&offsets));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)bytes + len + 1, (void **)&data));
  int64_t pos = 0;
  offsets[0] = 0;
  for (int64_t i = 0, j = 0; i <= d->size; i++) {
    if (i == at) {
      memcpy(data + pos, s, len);
      pos += (int64_t)len;
      offsets[++j] = pos;
    }
    if (i < d->size) {
      size_t n;
      const char *t = tsr__dict_str(d, i, &n);
      memcpy(data + pos, t, n);
      pos += (int64_t)n;
      offsets[++j] = pos;
    }
  }
  status = tsr__dict_create(ctx, "tsr_frame_fill_null", d->size + 1, offsets, data, out);
fail:
  tsr_free(ctx, data);
  tsr_free(ctx, offsets);
  return status;
}

/* Where s goes in d (the first entry greater than it). */
static int64_t dict_lower_bound(const tsr__dict *d, const char *s, size_t len) {
  int64_t lo = 0, hi = d->size;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    size_t n;
    const char *m = tsr__dict_str(d, mid, &n);
    int c = memcmp(m, s, n < len ? n : len);
    if (c == 0)
      c = (n > len) - (n < len);
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

tsr_status tsr_frame_fill_null(tsr_frame *f, const char *name, const char *value, tsr_frame **out) {
  static const char fn[] = "tsr_frame_fill_null";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL && value != NULL, TSR_EINVAL, "%s: frame or value is NULL", fn);
  int k = 0;
  TSR_TRY(tsr__frame_find(f, fn, name, &k));
  tsr_ctx *ctx = f->ctx;
  const tsr__col *col = &f->cols[k];
  tsr_type type = col->type;
  size_t len = strlen(value);
  TSR_CHECK(len <= UINT32_MAX, TSR_EINVAL, "%s: the value is longer than 4 GiB", fn);
  fill_params *p = NULL;
  int64_t *data_cap = NULL;
  tsr__dict *dict = NULL;
  tsr__expr *node = NULL;
  tsr_status status = TSR_OK;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->ctx = ctx;
  p->base.destroy_extra = fill_destroy;
  p->ref = (tsr__colref){0, col->slot, col->raw, type};
  if (type.id == TSR_COL_STRING) {
    TSR__TRY_GOTO(status, tsr_alloc(ctx, len + 1, (void **)&p->text));
    memcpy(p->text, value, len + 1);
    p->text_len = (uint32_t)len;
    int64_t n = f->rows->nchunks;
    TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *data_cap, (void **)&data_cap));
    for (int64_t c = 0; c < n; c++)
      data_cap[c] = tsr__col_data_cap(f, k, c) + (len > 12 ? (int64_t)len : 0);
  } else if (type.id == TSR_COL_DICT) {
    int64_t code = tsr__dict_find(col->dict, value, len);
    if (code >= 0) {
      dict = col->dict;
      tsr__dict_retain(dict);
    } else {
      code = dict_lower_bound(col->dict, value, len);
      TSR__CHECK_GOTO(status, col->dict->size < INT32_MAX, TSR_EINVAL,
                      "%s: column '%s': its dictionary is full", fn, name);
      TSR__TRY_GOTO(status, dict_insert(ctx, col->dict, code, value, len, &dict));
      p->shift = 1;
    }
    p->code = (int32_t)code;
  } else {
    TSR__CHECK_GOTO(status, tsr__vt_parse(type, value, len, p->value), TSR_EPARSE,
                    "%s: '%s' is not a value of column '%s' (%s)", fn, value, name,
                    tsr_type_name(type));
  }
  {
    tsr__expr *input = col->node;
    fill_params *params = p;
    p = NULL; /* the node owns it now */
    TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_fill, f->rows, 1, &type, data_cap, 1, &input,
                                            params, &node));
  }
  TSR__TRY_GOTO(status, tsr__ops_replace_col(f, k, node, 0, type, dict, out));
fail:
  if (p != NULL) {
    fill_destroy(&p->base);
    tsr_free(ctx, p);
  }
  tsr__dict_release(&dict);
  tsr_free(ctx, data_cap);
  tsr__expr_release(&node);
  return status;
}
