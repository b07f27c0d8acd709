/* filter.c — keeping some rows of every column: filters (the rows where a
 * bool column is true: null is not true, as SQL's WHERE) and drop_nulls
 * (the rows where given columns are all valid).
 *
 * One node, one task per row chunk: the task makes a selection vector for a
 * batch of rows, then gathers every column through it (strings move their
 * 16-byte views; long strings' bytes are copied into the output chunk's data
 * buffer, so the chunk stays self-contained).  The output keeps the input's
 * capacities and its row counts are unknown until computed. */
#include <string.h>

#include "frame_impl.h"

#define BATCH 2048

typedef struct filter_params {
  tsr__fnode base;
  uint32_t ncols;
  uint32_t has_predicate;
  tsr__colref predicate;
  uint32_t n_required; /* columns that must be valid (drop_nulls) */
  tsr__colref *required;
  tsr__colref *cols; /* ncols: the columns kept */
  tsr_ctx *ctx;
} filter_params;

static void filter_destroy(tsr__fnode *base) {
  filter_params *p = (filter_params *)base;
  tsr_free(p->ctx, p->required);
  tsr_free(p->ctx, p->cols);
}

/* Byte b's bits as eight 0/1 bytes (least significant bit first). */
static uint64_t expand_bits(uint8_t b) {
  uint64_t x = b;
  x = (x | (x << 28)) & 0x0000000F0000000Full;
  x = (x | (x << 14)) & 0x0003000300030003ull;
  x = (x | (x << 7)) & 0x0101010101010101ull;
  return x;
}

/* keep[i] &= bit (first + i) of `bits`, for n rows; first is a multiple of 8. */
static void and_validity(uint8_t *keep, const uint8_t *bits, int64_t first, uint32_t n) {
  const uint8_t *b = bits + first / 8;
  uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t k, e = expand_bits(b[i / 8]);
    memcpy(&k, keep + i, 8);
    k &= e;
    memcpy(keep + i, &k, 8);
  }
  for (; i < n; i++)
    keep[i] &= (uint8_t)((b[i / 8] >> (i % 8)) & 1);
}

/* Gathers rows sel[0..m) (relative to base) of one column into out at row o. */
static void gather(const tsr__colread *in, tsr_type type, int64_t base, const uint32_t *sel,
                   uint32_t m, tsr__colchunk *out, int64_t o) {
  size_t w = tsr_type_width(type);
  unsigned char *dst = (unsigned char *)tsr__colchunk_values(out) + (size_t)o * w;
  const unsigned char *src = (const unsigned char *)in->values + (size_t)base * w;
  switch (w) {
  case 1:
    for (uint32_t j = 0; j < m; j++)
      dst[j] = src[sel[j]];
    break;
  case 2:
    for (uint32_t j = 0; j < m; j++)
      ((uint16_t *)dst)[j] = ((const uint16_t *)src)[sel[j]];
    break;
  case 4:
    for (uint32_t j = 0; j < m; j++)
      ((uint32_t *)dst)[j] = ((const uint32_t *)src)[sel[j]];
    break;
  case 8:
    for (uint32_t j = 0; j < m; j++)
      ((uint64_t *)dst)[j] = ((const uint64_t *)src)[sel[j]];
    break;
  default: { /* string views */
    const tsr_string_view *sv = (const tsr_string_view *)src;
    tsr_string_view *dv = (tsr_string_view *)dst;
    char *data = tsr__colchunk_data(out);
    for (uint32_t j = 0; j < m; j++) {
      tsr_string_view v = sv[sel[j]];
      if (v.length > 12) {
        memcpy(data + out->data_bytes, in->data + v.u.ref.offset, v.length);
        v.u.ref.offset = (uint32_t)out->data_bytes;
        out->data_bytes += v.length;
      }
      dv[j] = v;
    }
    break;
  }
  }
  if (in->null_count > 0) {
    uint8_t *bits = tsr__colchunk_validity(out);
    int64_t nulls = 0;
    for (uint32_t j = 0; j < m; j++) {
      bool v = tsr__bit_get(in->validity, base + sel[j]);
      tsr__bit_set(bits, o + j, v);
      nulls += !v;
    }
    out->null_count += nulls;
  }
}

static tsr_status filter_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const filter_params *p = t.node->params;
  tsr__ftask_init_output(call);
  tsr__colread pred = {0}, req[16], cols[64];
  tsr__colread *reqs = req, *ins = cols;
  if (p->n_required > 16 || p->ncols > 64) {
    /* Rare: many columns; the kernel's scratch comes from the budget. */
    void *mem;
    TSR_TRY(tsr_kernel_alloc(p->ctx, ((size_t)p->n_required + p->ncols) * sizeof(tsr__colread),
                             &mem));
    reqs = mem;
    ins = reqs + p->n_required;
  }
  if (p->has_predicate)
    tsr__colread_get(&p->predicate, call, &pred);
  for (uint32_t i = 0; i < p->n_required; i++)
    tsr__colread_get(&p->required[i], call, &reqs[i]);
  for (uint32_t i = 0; i < p->ncols; i++)
    tsr__colread_get(&p->cols[i], call, &ins[i]);
  int64_t rows = p->ncols > 0 ? ins[0].rows : (p->has_predicate ? pred.rows : 0);
  int64_t o = 0;
  uint32_t sel[BATCH];
  uint8_t keep[BATCH];
  for (int64_t b = 0; b < rows; b += BATCH) {
    uint32_t n = (uint32_t)(rows - b < BATCH ? rows - b : BATCH);
    if (p->has_predicate) {
      const uint8_t *v = (const uint8_t *)pred.values + b;
      for (uint32_t i = 0; i < n; i++)
        keep[i] = v[i] != 0;
      if (pred.null_count > 0)
        and_validity(keep, pred.validity, b, n);
    } else {
      memset(keep, 1, n);
    }
    for (uint32_t k = 0; k < p->n_required; k++)
      if (reqs[k].null_count > 0)
        and_validity(keep, reqs[k].validity, b, n);
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
      sel[m] = i;
      m += keep[i];
    }
    for (uint32_t c = 0; c < p->ncols; c++)
      gather(&ins[c], p->cols[c].type, b, sel, m, tsr__tablechunk_col(call->output, c), o);
    o += m;
  }
  for (uint32_t c = 0; c < p->ncols; c++)
    tsr__tablechunk_col(call->output, c)->rows = o;
  if (reqs != req)
    tsr_free(p->ctx, reqs);
  return TSR_OK;
}

static tsr_status lower_filter(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                               uint32_t *out) {
  return tsr__fnode_lower_map(e, g, in, out, "frame_filter", filter_kernel, NULL, 0);
}

static void hash_ref(tsr__hash *h, const tsr__colref *r) {
  tsr__hash_u64(h, r->input);
  tsr__hash_u64(h, r->slot);
  tsr__hash_u64(h, r->raw);
  tsr__hash_u64(h, (uint64_t)r->type.id);
}

static void hash_filter(const tsr__expr *e, tsr__hash *h) {
  const filter_params *p = e->params;
  tsr__fnode_hash(&p->base, h);
  tsr__hash_u64(h, p->has_predicate);
  if (p->has_predicate)
    hash_ref(h, &p->predicate);
  tsr__hash_u64(h, p->n_required);
  for (uint32_t i = 0; i < p->n_required; i++)
    hash_ref(h, &p->required[i]);
  for (uint32_t i = 0; i < p->ncols; i++)
    hash_ref(h, &p->cols[i]);
}

static const tsr__op op_filter = {"frame_filter", lower_filter, tsr__fnode_destroy_params, false,
                                  NULL, hash_filter};

/* The filter node over f: keeps the rows where `predicate` (a bool column
 * over f's rows, or NULL) is true and the columns `required` (indexes into
 * f, n_required of them) are valid. */
static tsr_status filter_node(tsr_frame *f, const char *fn, const tsr__col *predicate,
                              const int *required, int n_required, tsr_frame **out) {
  tsr_ctx *ctx = f->ctx;
  int64_t nchunks = f->rows->nchunks;
  int ncols = f->ncols;
  int total = ncols + n_required + 1;
  tsr_status status = TSR_OK;
  filter_params *p = NULL;
  tsr__expr **inputs = NULL, *node = NULL;
  tsr__rows *rows = NULL;
  tsr_type *types = NULL;
  int64_t *data_cap = NULL;
  tsr__col *cols = NULL;
  tsr__colref *refs = NULL;
  int *which = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->ctx = ctx;
  p->base.destroy_extra = filter_destroy;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)total + 1, sizeof *inputs, (void **)&inputs));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)total + 1, sizeof *refs, (void **)&refs));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)total + 1, sizeof *which, (void **)&which));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *p->cols, (void **)&p->cols));
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)n_required + 1, sizeof *p->required, (void **)&p->required));
  /* The columns read: f's columns, then the required ones, then the predicate
   * (which may live in a node f does not use: it goes through a one-column
   * frame of its own). */
  for (int i = 0; i < ncols; i++)
    which[i] = i;
  for (int i = 0; i < n_required; i++)
    which[ncols + i] = required[i];
  uint32_t n_inputs = 0;
  tsr__frame_colrefs(f, ncols + n_required, which, inputs, &n_inputs, refs);
  for (int i = 0; i < ncols; i++)
    p->cols[i] = refs[i];
  for (int i = 0; i < n_required; i++)
    p->required[i] = refs[ncols + i];
  p->ncols = (uint32_t)ncols;
  p->n_required = (uint32_t)n_required;
  if (predicate != NULL) {
    uint32_t j = 0;
    while (j < n_inputs && inputs[j] != predicate->node)
      j++;
    if (j == n_inputs)
      inputs[n_inputs++] = predicate->node;
    p->has_predicate = 1;
    p->predicate = (tsr__colref){j, predicate->slot, predicate->raw, predicate->type};
  }
  TSR__TRY_GOTO(status, tsr__rows_create(ctx, nchunks, f->rows->cap, NULL, &rows));
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)ncols + 1, sizeof *types, (void **)&types));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols * (size_t)nchunks + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  for (int i = 0; i < ncols; i++) {
    types[i] = f->cols[i].type;
    for (int64_t c = 0; c < nchunks; c++)
      data_cap[(int64_t)i * nchunks + c] = tsr__col_data_cap(f, i, c);
  }
  {
    filter_params *owned = p;
    p = NULL; /* the node owns it, even on failure */
    TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_filter, rows, (uint32_t)ncols, types,
                                            data_cap, n_inputs, inputs, owned, &node));
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *cols, (void **)&cols));
  for (int i = 0; i < ncols; i++)
    cols[i] = (tsr__col){f->cols[i].name, f->cols[i].type, f->cols[i].dict, node, (uint32_t)i,
                         false};
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, ncols, cols, rows, out));
fail:
  (void)fn;
  if (p != NULL) {
    filter_destroy(&p->base);
    tsr_free(ctx, p);
  }
  tsr_free(ctx, cols);
  tsr_free(ctx, which);
  tsr_free(ctx, refs);
  tsr_free(ctx, inputs);
  tsr_free(ctx, types);
  tsr_free(ctx, data_cap);
  tsr__expr_release(&node);
  tsr__rows_release(&rows);
  return status;
}

tsr_status tsr__frame_filter_by(tsr_frame *f, const tsr__col *predicate, tsr_frame **out) {
  static const char fn[] = "filter";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL && predicate != NULL, TSR_EINVAL, "%s: frame or predicate is NULL", fn);
  TSR_CHECK(predicate->type.id == TSR_COL_BOOL, TSR_EDTYPE,
            "%s: the predicate is %s, not bool", fn, tsr_type_name(predicate->type));
  return filter_node(f, fn, predicate, NULL, 0, out);
}

tsr_status tsr_frame_drop_nulls(tsr_frame *f, int n, const char *const *names, tsr_frame **out) {
  static const char fn[] = "tsr_frame_drop_nulls";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  TSR_CHECK(n >= 0 && (n == 0 || names != NULL), TSR_EINVAL, "%s: n = %d names", fn, n);
  int count = n > 0 ? n : f->ncols;
  int *required;
  TSR_TRY(tsr__alloc_array(f->ctx, (size_t)count + 1, sizeof *required, "columns",
                           (void **)&required));
  tsr_status status = TSR_OK;
  for (int i = 0; i < count && status == TSR_OK; i++) {
    if (n > 0)
      status = tsr__frame_find(f, fn, names[i], &required[i]);
    else
      required[i] = i;
  }
  if (status == TSR_OK)
    status = filter_node(f, fn, NULL, required, count, out);
  tsr_free(f->ctx, required);
  return status;
}
