/* concat.c — concatenation by rows: tsr_frame_concat.
 *
 * The result's row chunks are the inputs' chunks one after the other (so
 * they depend on the inputs alone), and its counts are known when every
 * input's are.  One node copies chunk c of the result from its input
 * frame's chunk; its inputs are every frame's column nodes in turn, and
 * each task reads only its own frame's.  Dictionary columns whose
 * dictionaries differ get one sorted union dictionary, computed now, and
 * each frame's codes are remapped in the chunk kernel through a table made
 * now (one int32 per code of the frame's dictionary). */
#include <stdlib.h>
#include <string.h>

#include "ops_impl.h"

typedef struct concat_params {
  tsr__fnode base;
  tsr_ctx *ctx;
  int nframes;
  int64_t *chunk_start; /* nframes + 1: the first result chunk of each frame */
  uint32_t *in_start;   /* nframes + 1: the frame's first input of the node */
  tsr__colref *refs;    /* nframes x ncols, inputs counted from the frame's first */
  int32_t **remap;      /* nframes x ncols: code tables of dictionary columns, or NULL */
  int64_t *remap_len;   /* nframes x ncols */
} concat_params;

static void concat_destroy(tsr__fnode *base) {
  concat_params *p = (concat_params *)base;
  if (p->remap != NULL)
    for (int64_t i = 0; i < (int64_t)p->nframes * p->base.ncols; i++)
      tsr_free(p->ctx, p->remap[i]);
  tsr_free(p->ctx, p->remap);
  tsr_free(p->ctx, p->remap_len);
  tsr_free(p->ctx, p->refs);
  tsr_free(p->ctx, p->in_start);
  tsr_free(p->ctx, p->chunk_start);
}

static int frame_of_chunk(const concat_params *p, int64_t c) {
  int lo = 0, hi = p->nframes - 1;
  while (lo < hi) { /* the last frame whose first chunk is <= c */
    int mid = lo + (hi - lo + 1) / 2;
    if (p->chunk_start[mid] <= c)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

static tsr_status concat_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const concat_params *p = t.node->params;
  tsr__ftask_init_output(call);
  int k = frame_of_chunk(p, t.chunk);
  for (uint32_t i = 0; i < p->base.ncols; i++) {
    const tsr__colref *ref = &p->refs[(int64_t)k * p->base.ncols + i];
    tsr__colread r;
    tsr__colread_get(ref, call, &r);
    tsr__colchunk *out = tsr__tablechunk_col(call->output, i);
    tsr__ops_copy_rows(out, ref, call, 0, r.rows);
    const int32_t *map = p->remap[(int64_t)k * p->base.ncols + i];
    if (map != NULL) {
      int32_t *codes = tsr__colchunk_values(out);
      int64_t len = p->remap_len[(int64_t)k * p->base.ncols + i];
      for (int64_t j = 0; j < out->rows; j++) {
        int32_t c = codes[j];
        codes[j] = c >= 0 && c < len ? map[c] : 0; /* a null's code may be anything */
      }
    }
  }
  return TSR_OK;
}

static tsr_status lower_concat(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                               uint32_t *out) {
  const concat_params *p = e->params;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "frame_concat", concat_kernel, NULL, &k));
  size_t head = (sizeof(tsr__ftask) + 15) / 16 * 16;
  unsigned char params[64];
  uint32_t ins_stack[64], *ins = ins_stack;
  if (e->n_inputs > 64)
    TSR_TRY(tsr__alloc_array(e->ctx, e->n_inputs, sizeof *ins, "task inputs", (void **)&ins));
  tsr_status status = TSR_OK;
  for (int64_t c = 0; c < p->base.rows->nchunks && status == TSR_OK; c++) {
    int fr = frame_of_chunk(p, c);
    int64_t local = c - p->chunk_start[fr];
    tsr__ftask t = {e, c};
    memset(params, 0, sizeof params);
    memcpy(params, &t, sizeof t);
    uint32_t m = p->in_start[fr + 1] - p->in_start[fr];
    for (uint32_t i = 0; i < m; i++)
      ins[i] = in[p->in_start[fr] + i][local];
    uint64_t bytes;
    status = tsr__fnode_chunk_bytes(e, c, &bytes);
    if (status == TSR_OK)
      status = tsr_taskgraph_add_task(g, k, ins, m, params, head, (size_t)bytes, &out[c]);
  }
  if (ins != ins_stack)
    tsr_free(e->ctx, ins);
  return status;
}

static void hash_concat(const tsr__expr *e, tsr__hash *h) {
  const concat_params *p = e->params;
  tsr__fnode_hash(&p->base, h);
  tsr__hash_u64(h, (uint64_t)p->nframes);
  tsr__hash_i64s(h, p->chunk_start, p->nframes + 1);
  for (int64_t i = 0; i < (int64_t)p->nframes * p->base.ncols; i++) {
    tsr__ops_hash_ref(h, &p->refs[i]);
    tsr__hash_u64(h, (uint64_t)p->remap_len[i]);
    if (p->remap[i] != NULL)
      tsr__hash_bytes(h, p->remap[i], (size_t)p->remap_len[i] * sizeof(int32_t));
  }
}

static const tsr__op op_concat = {"frame_concat", lower_concat, tsr__fnode_destroy_params,
                                  false,          NULL,         hash_concat};

/* ---- the union of dictionaries -------------------------------------------------------- */

typedef struct strref {
  const char *s;
  size_t n;
} strref;

static int compare_strref(const void *a, const void *b) {
  const strref *x = a, *y = b;
  int c = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
  return c != 0 ? c : (x->n > y->n) - (x->n < y->n);
}

/* The sorted union of the n dictionaries of column col of the frames. */
static tsr_status dict_union(tsr_ctx *ctx, int n, tsr_frame *const *frames, int col,
                             tsr__dict **out) {
  int64_t total = 0, bytes = 0;
  for (int k = 0; k < n; k++) {
    const tsr__dict *d = frames[k]->cols[col].dict;
    total += d->size;
    bytes += d->size > 0 ? d->offsets[d->size] : 0;
  }
  strref *all = NULL;
  int64_t *offsets = NULL;
  char *data = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)total + 1, sizeof *all, "dictionary union",
                                         (void **)&all));
  int64_t m = 0;
  for (int k = 0; k < n; k++) {
    const tsr__dict *d = frames[k]->cols[col].dict;
    for (int64_t i = 0; i < d->size; i++) {
      all[m].s = tsr__dict_str(d, i, &all[m].n);
      m++;
    }
  }
  qsort(all, (size_t)m, sizeof *all, compare_strref);
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)m + 1, sizeof *offsets, "dictionary union",
                                         (void **)&offsets));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)bytes + 1, (void **)&data));
  int64_t u = 0;
  offsets[0] = 0;
  for (int64_t i = 0; i < m; i++) {
    if (i > 0 && compare_strref(&all[i - 1], &all[i]) == 0)
      continue;
    memcpy(data + offsets[u], all[i].s, all[i].n);
    offsets[u + 1] = offsets[u] + (int64_t)all[i].n;
    u++;
  }
  status = tsr__dict_create(ctx, "tsr_frame_concat", u, offsets, data, out);
fail:
  tsr_free(ctx, data);
  tsr_free(ctx, offsets);
  tsr_free(ctx, all);
  return status;
}

static bool same_dict(const tsr__dict *a, const tsr__dict *b) {
  if (a == b)
    return true;
  if (a->size != b->size)
    return false;
  if (a->size == 0)
    return true;
  return memcmp(a->offsets, b->offsets, ((size_t)a->size + 1) * sizeof *a->offsets) == 0 &&
         memcmp(a->data, b->data, (size_t)a->offsets[a->size]) == 0;
}

tsr_status tsr_frame_concat(int n, tsr_frame *const *frames, tsr_frame **out) {
  static const char fn[] = "tsr_frame_concat";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(n > 0 && frames != NULL, TSR_EINVAL, "%s: need at least one frame", fn);
  for (int k = 0; k < n; k++)
    TSR_CHECK(frames[k] != NULL, TSR_EINVAL, "%s: frame %d is NULL", fn, k);
  tsr_frame *f0 = frames[0];
  tsr_ctx *ctx = f0->ctx;
  int ncols = f0->ncols;
  for (int k = 1; k < n; k++) {
    const tsr_frame *f = frames[k];
    TSR_CHECK(f->ctx == ctx, TSR_EINVAL, "%s: frame %d belongs to another context than frame 0", fn,
              k);
    TSR_CHECK(f->ncols == ncols, TSR_EINVAL, "%s: frame %d has %d columns but frame 0 has %d", fn,
              k, f->ncols, ncols);
    for (int i = 0; i < ncols; i++) {
      TSR_CHECK(strcmp(f->cols[i].name, f0->cols[i].name) == 0, TSR_EINVAL,
                "%s: column %d is '%s' in frame %d but '%s' in frame 0 (names and order must "
                "match)",
                fn, i, f->cols[i].name, k, f0->cols[i].name);
      TSR_CHECK(f->cols[i].type.id == f0->cols[i].type.id &&
                    f->cols[i].type.unit == f0->cols[i].type.unit,
                TSR_EDTYPE, "%s: column '%s' is %s in frame %d but %s in frame 0 (cast it first)",
                fn, f->cols[i].name, tsr_type_name(f->cols[i].type), k,
                tsr_type_name(f0->cols[i].type));
    }
  }
  if (n == 1)
    return tsr__frame_make(ctx, ncols, f0->cols, f0->rows, out);
  tsr_status status = TSR_OK;
  concat_params *p = NULL;
  tsr__rows *rows = NULL;
  int64_t *cap = NULL, *count = NULL, *data_cap = NULL;
  tsr_type *types = NULL;
  tsr__expr **inputs = NULL;
  int *idx = NULL;
  tsr__dict **dicts = NULL;
  tsr__col *cols = NULL;
  tsr__expr *node = NULL;
  int64_t nchunks = 0, ninputs_max = 0;
  bool counts_known = true;
  for (int k = 0; k < n; k++) {
    nchunks += frames[k]->rows->nchunks;
    counts_known &= frames[k]->rows->count != NULL;
    ninputs_max += ncols;
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->ctx = ctx;
  p->nframes = n;
  p->base.ncols = (uint32_t)ncols;
  p->base.destroy_extra = concat_destroy;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, sizeof *p->chunk_start, "chunks",
                                         (void **)&p->chunk_start));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, sizeof *p->in_start, "inputs",
                                         (void **)&p->in_start));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n * (size_t)ncols + 1, sizeof *p->refs,
                                         "column refs", (void **)&p->refs));
  TSR__TRY_GOTO(
      status, tsr_calloc(ctx, (size_t)n * (size_t)ncols + 1, sizeof *p->remap, (void **)&p->remap));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n * (size_t)ncols + 1, sizeof *p->remap_len,
                                   (void **)&p->remap_len));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)ninputs_max + 1, sizeof *inputs, "inputs",
                                         (void **)&inputs));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)ncols + 1, sizeof *idx, "columns", (void **)&idx));
  TSR__TRY_GOTO(
      status, tsr__alloc_array(ctx, (size_t)nchunks + 1, sizeof *cap, "row chunks", (void **)&cap));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nchunks + 1, sizeof *count, "row chunks",
                                         (void **)&count));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols * (size_t)nchunks + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)ncols + 1, sizeof *types, "types", (void **)&types));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *dicts, (void **)&dicts));
  for (int i = 0; i < ncols; i++) {
    idx[i] = i;
    types[i] = f0->cols[i].type;
  }
  /* Dictionaries: the shared one, or the union and per-frame code maps. */
  for (int i = 0; i < ncols; i++) {
    if (types[i].id != TSR_COL_DICT)
      continue;
    bool same = true;
    for (int k = 1; k < n && same; k++)
      same = same_dict(frames[k]->cols[i].dict, f0->cols[i].dict);
    if (same) {
      dicts[i] = f0->cols[i].dict;
      tsr__dict_retain(dicts[i]);
      continue;
    }
    TSR__TRY_GOTO(status, dict_union(ctx, n, frames, i, &dicts[i]));
    for (int k = 0; k < n; k++) {
      const tsr__dict *d = frames[k]->cols[i].dict;
      int32_t *map;
      TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)d->size + 1, sizeof *map, "code map",
                                             (void **)&map));
      p->remap[(int64_t)k * ncols + i] = map;
      p->remap_len[(int64_t)k * ncols + i] = d->size;
      for (int64_t c = 0; c < d->size; c++) {
        size_t len;
        const char *s = tsr__dict_str(d, c, &len);
        map[c] = (int32_t)tsr__dict_find(dicts[i], s, len);
      }
    }
  }
  uint32_t n_inputs = 0;
  int64_t chunk = 0;
  for (int k = 0; k < n; k++) {
    const tsr_frame *f = frames[k];
    p->chunk_start[k] = chunk;
    p->in_start[k] = n_inputs;
    uint32_t m = 0;
    tsr__frame_colrefs(f, ncols, idx, inputs + n_inputs, &m, p->refs + (int64_t)k * ncols);
    n_inputs += m;
    for (int64_t c = 0; c < f->rows->nchunks; c++) {
      cap[chunk + c] = f->rows->cap[c];
      count[chunk + c] = counts_known ? f->rows->count[c] : 0;
      for (int i = 0; i < ncols; i++)
        data_cap[(int64_t)i * nchunks + chunk + c] = tsr__col_data_cap(f, i, c);
    }
    chunk += f->rows->nchunks;
  }
  p->chunk_start[n] = chunk;
  p->in_start[n] = n_inputs;
  TSR__TRY_GOTO(status, tsr__rows_create(ctx, nchunks, cap, counts_known ? count : NULL, &rows));
  {
    concat_params *params = p;
    p = NULL; /* the node owns it now */
    TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_concat, rows, (uint32_t)ncols, types, data_cap,
                                            n_inputs, inputs, params, &node));
  }
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)ncols + 1, sizeof *cols, "columns", (void **)&cols));
  for (int i = 0; i < ncols; i++)
    cols[i] = (tsr__col){f0->cols[i].name, types[i], dicts[i], node, (uint32_t)i, false};
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, ncols, cols, rows, out));
fail:
  if (p != NULL) {
    concat_destroy(&p->base);
    tsr_free(ctx, p);
  }
  if (dicts != NULL)
    for (int i = 0; i < ncols; i++)
      tsr__dict_release(&dicts[i]);
  tsr_free(ctx, dicts);
  tsr__expr_release(&node);
  tsr_free(ctx, cols);
  tsr_free(ctx, types);
  tsr_free(ctx, data_cap);
  tsr_free(ctx, count);
  tsr_free(ctx, cap);
  tsr_free(ctx, idx);
  tsr_free(ctx, inputs);
  tsr__rows_release(&rows);
  return status;
}
