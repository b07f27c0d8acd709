/* node.c — frame nodes: expression nodes whose chunks are table chunks
 * (core/colchunk.h).  Their params start with a tsr__fnode (row
 * partitioning, column types, string capacities); this file makes them,
 * sizes their chunks, hashes them for the ranks' agreement, and lowers the
 * common shape of frame op, one task per row chunk reading the same row
 * chunk of each input. */
#include <string.h>

#include <tessera/dist.h>

#include "frame_impl.h"
#include "sched/taskgraph_impl.h" /* a chunk task's bytes */

/* The grid every frame node carries: one "element" per row chunk, so the
 * lowering machinery (memoization, culling, owners) sees nchunks chunks. */
static tsr_status chunk_grid(tsr_ctx *ctx, int64_t nchunks, tsr_chunk_grid **out) {
  int64_t shape[1] = {nchunks}, chunks[1] = {1};
  return tsr_chunk_grid_create_uniform(ctx, 1, shape, chunks, out);
}

void tsr__fnode_destroy_params(tsr__expr *e) {
  tsr__fnode *f = e->params;
  if (f == NULL)
    return;
  if (f->destroy_extra != NULL)
    f->destroy_extra(f);
  tsr_free(e->ctx, f->types);
  tsr_free(e->ctx, f->data_cap);
  tsr__rows_release(&f->rows);
}

tsr_status tsr__fnode_create(tsr_ctx *ctx, const tsr__op *op, tsr__rows *rows, uint32_t ncols,
                             const tsr_type *types, const int64_t *data_cap, uint32_t n_inputs,
                             tsr__expr *const *inputs, void *params, tsr__expr **out) {
  *out = NULL;
  tsr__fnode *f = params;
  f->rows = rows;
  tsr__rows_retain(rows);
  f->ncols = ncols;
  f->types = NULL;
  f->data_cap = NULL;
  tsr_status status = tsr__alloc_array(ctx, (size_t)ncols + 1, sizeof *f->types, "column types",
                                       (void **)&f->types);
  if (status == TSR_OK)
    memcpy(f->types, types, (size_t)ncols * sizeof *types);
  bool strings = false;
  for (uint32_t i = 0; i < ncols; i++)
    strings |= types[i].id == TSR_COL_STRING;
  if (status == TSR_OK && strings) {
    int64_t n = 0;
    if (!tsr__size_mul(ncols, rows->nchunks, &n))
      status = tsr_error_set(TSR_EINVAL, "frame node: too many chunks");
    if (status == TSR_OK)
      status = tsr_calloc(ctx, (size_t)n + 1, sizeof *f->data_cap, (void **)&f->data_cap);
    if (status == TSR_OK && data_cap != NULL)
      memcpy(f->data_cap, data_cap, (size_t)n * sizeof *data_cap);
  }
  /* Every chunk's size must be representable. */
  for (int64_t c = 0; c < rows->nchunks && status == TSR_OK; c++) {
    uint64_t bytes = 0;
    size_t widths[64];
    for (uint32_t i = 0; i < ncols && status == TSR_OK; i += 64) {
      uint32_t k = ncols - i < 64 ? ncols - i : 64;
      for (uint32_t j = 0; j < k; j++) {
        widths[j] = tsr_type_width(types[i + j]);
        int64_t dc = f->data_cap ? f->data_cap[(int64_t)(i + j) * rows->nchunks + c] : 0;
        uint64_t b;
        if (dc > (int64_t)UINT32_MAX)
          status = tsr_error_set(TSR_EINVAL,
                                 "row chunk %lld holds %lld bytes of strings in one column; at "
                                 "most 4 GiB fit a chunk (use smaller chunks)",
                                 (long long)c, (long long)dc);
        else if (!tsr__colchunk_bytes(widths[j], rows->cap[c], dc, &b) ||
                 __builtin_add_overflow(bytes, b, &bytes))
          status = tsr_error_set(TSR_EINVAL, "row chunk %lld of %lld rows is too big",
                                 (long long)c, (long long)rows->cap[c]);
      }
    }
    if (status == TSR_OK && bytes > (UINT64_C(1) << 62))
      status = tsr_error_set(TSR_EINVAL, "row chunk %lld is too big", (long long)c);
  }
  tsr_chunk_grid *grid = NULL;
  if (status == TSR_OK)
    status = chunk_grid(ctx, rows->nchunks, &grid);
  if (status != TSR_OK) {
    if (f->destroy_extra != NULL)
      f->destroy_extra(f);
    tsr_free(ctx, f->types);
    tsr_free(ctx, f->data_cap);
    tsr__rows_release(&f->rows);
    tsr_free(ctx, params);
    return status;
  }
  return tsr__expr_create(ctx, op, TSR_UINT8, grid, n_inputs, inputs, params, out);
}

bool tsr__is_fnode(const tsr__expr *e) { return e->op->destroy_params == tsr__fnode_destroy_params; }

tsr_status tsr__fnode_chunk_bytes(const tsr__expr *e, int64_t c, uint64_t *out) {
  const tsr__fnode *f = tsr__fnode_of(e);
  uint64_t total = tsr__tablechunk_header_bytes(f->ncols);
  for (uint32_t i = 0; i < f->ncols; i++) {
    int64_t dc = f->data_cap ? f->data_cap[(int64_t)i * f->rows->nchunks + c] : 0;
    uint64_t b;
    TSR_CHECK(tsr__colchunk_bytes(tsr_type_width(f->types[i]), f->rows->cap[c], dc, &b) &&
                  !__builtin_add_overflow(total, b, &total),
              TSR_EINVAL, "row chunk %lld is too big", (long long)c);
  }
  *out = total;
  return TSR_OK;
}

/* ---- projections ------------------------------------------------------------------------ */

/* The projection's params: the node's column count, then a byte a column
 * (1: copied). */
typedef struct projection {
  uint32_t ncols;
  uint8_t used[];
} projection;

static tsr_status projection_kernel(const tsr_kernel_call *call) {
  const projection *pr = call->params;
  const tsr__tablechunk *in = call->inputs[0];
  TSR_CHECK(in->magic == TSR__TABLE_MAGIC && in->ncols == pr->ncols, TSR_EINVAL,
            "frame_projection: the input is not a table chunk of %u columns", pr->ncols);
  unsigned char *out = call->output;
  uint64_t off = tsr__tablechunk_header_bytes(pr->ncols);
  tsr__tablechunk *t = (tsr__tablechunk *)out;
  t->magic = TSR__TABLE_MAGIC;
  t->ncols = pr->ncols;
  t->bytes = call->output_bytes;
  for (uint32_t i = 0; i < pr->ncols; i++) {
    const tsr__colchunk *src = tsr__tablechunk_col(in, i);
    /* A column chunk is self-contained (offsets from its start): copied
     * whole, capacities included; an unused one is left empty. */
    uint64_t bytes =
        pr->used[i] ? src->data_off + tsr__align64(src->data_cap) : tsr__align64(sizeof *src);
    TSR_CHECK(off + bytes <= call->output_bytes, TSR_EINVAL,
              "frame_projection: column %u does not fit the chunk's capacity", i);
    t->col_off[i] = off;
    if (pr->used[i]) {
      memcpy(out + off, src, bytes);
    } else {
      tsr__colchunk *c = (tsr__colchunk *)(out + off);
      memset(c, 0, sizeof *c);
      c->values_off = c->validity_off = c->data_off = tsr__align64(sizeof *c);
    }
    off += bytes;
  }
  return TSR_OK;
}

tsr_status tsr__fnode_add_projection(tsr_taskgraph *g, const tsr__expr *e, int64_t c,
                                     uint32_t chunk, const bool *used, int rank, uint32_t *task) {
  const tsr__fnode *f = tsr__fnode_of(e);
  *task = chunk;
  uint64_t total = tsr__tablechunk_header_bytes(f->ncols);
  uint32_t n_used = 0;
  for (uint32_t i = 0; i < f->ncols; i++) {
    int64_t dc = f->data_cap ? f->data_cap[(int64_t)i * f->rows->nchunks + c] : 0;
    uint64_t b = tsr__align64(sizeof(tsr__colchunk));
    if (used[i])
      TSR_CHECK(tsr__colchunk_bytes(tsr_type_width(f->types[i]), f->rows->cap[c], dc, &b),
                TSR_EINVAL, "row chunk %lld is too big", (long long)c);
    total += b;
    n_used += used[i];
  }
  uint64_t whole;
  /* Every column read, or a chunk not laid out as the node's capacities
   * say (the copy trusts them): sent as it is. */
  if (n_used == f->ncols || tsr__fnode_chunk_bytes(e, c, &whole) != TSR_OK ||
      g->tasks[chunk].out_bytes != whole)
    return TSR_OK;
  projection *pr;
  size_t pbytes = sizeof *pr + f->ncols;
  TSR_TRY(tsr_alloc(e->ctx, pbytes, (void **)&pr));
  pr->ncols = f->ncols;
  for (uint32_t i = 0; i < f->ncols; i++)
    pr->used[i] = used[i];
  uint32_t k;
  tsr_status st = tsr_taskgraph_add_kernel(g, "frame_projection", projection_kernel, NULL, &k);
  if (st == TSR_OK)
    st = tsr_taskgraph_add_task(g, k, &chunk, 1, pr, (uint32_t)pbytes, (size_t)total, task);
  tsr_free(e->ctx, pr);
  if (st == TSR_OK)
    st = tsr_taskgraph_set_owner(g, *task, rank);
  return st;
}

tsr_status tsr__fnode_slots_read(tsr_ctx *ctx, const tsr__expr *e, const tsr__colref *refs, int n,
                                 uint32_t input, const bool *want, bool **used) {
  *used = NULL;
  if (!tsr__is_fnode(e))
    return TSR_OK;
  uint32_t slots = tsr__fnode_of(e)->ncols;
  TSR_TRY(tsr_calloc(ctx, (size_t)slots + 1, sizeof **used, (void **)used));
  for (int k = 0; k < n; k++)
    if (refs[k].input == input && !refs[k].raw && refs[k].slot < slots && (!want || want[k]))
      (*used)[refs[k].slot] = true;
  return TSR_OK;
}

static tsr_status read_kernel(const tsr_kernel_call *call) {
  (void)call;
  return TSR_OK;
}

tsr_status tsr__frame_read_everywhere(tsr_taskgraph *g, uint32_t chunk, uint32_t *reader) {
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "frame_read_everywhere", read_kernel, NULL, &k));
  TSR_TRY(tsr_taskgraph_add_task(g, k, &chunk, 1, NULL, 0, 0, reader));
  return tsr_taskgraph_set_owner(g, *reader, TSR_OWNER_ALL);
}

void tsr__fnode_hash(const tsr__fnode *f, tsr__hash *h) {
  tsr__hash_u64(h, f->ncols);
  for (uint32_t i = 0; i < f->ncols; i++) {
    tsr__hash_u64(h, (uint64_t)f->types[i].id);
    tsr__hash_u64(h, (uint64_t)f->types[i].unit);
  }
  tsr__hash_u64(h, (uint64_t)f->rows->nchunks);
  tsr__hash_i64s(h, f->rows->cap, (int)f->rows->nchunks);
  if (f->data_cap != NULL)
    for (uint32_t i = 0; i < f->ncols; i++)
      tsr__hash_i64s(h, f->data_cap + (int64_t)i * f->rows->nchunks, (int)f->rows->nchunks);
}

void tsr__ftask_init_output(const tsr_kernel_call *call) {
  tsr__ftask t;
  memcpy(&t, call->params, sizeof t);
  const tsr__fnode *f = tsr__fnode_of(t.node);
  unsigned char *buf = call->output;
  tsr__tablechunk *tc = (tsr__tablechunk *)buf;
  tc->magic = TSR__TABLE_MAGIC;
  tc->ncols = f->ncols;
  tc->bytes = call->output_bytes;
  uint64_t off = tsr__tablechunk_header_bytes(f->ncols);
  for (uint32_t i = 0; i < f->ncols; i++) {
    size_t w = tsr_type_width(f->types[i]);
    int64_t dc = f->data_cap ? f->data_cap[(int64_t)i * f->rows->nchunks + t.chunk] : 0;
    tc->col_off[i] = off;
    tsr__colchunk_init((tsr__colchunk *)(buf + off), w, f->rows->cap[t.chunk], dc);
    uint64_t b = 0;
    (void)tsr__colchunk_bytes(w, f->rows->cap[t.chunk], dc, &b);
    off += b;
  }
}

tsr_status tsr__fnode_lower_map(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                uint32_t *out, const char *kernel, tsr_kernel_fn fn,
                                const void *extra, size_t extra_bytes) {
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, kernel, fn, NULL, &k));
  size_t head = (sizeof(tsr__ftask) + 15) / 16 * 16;
  unsigned char stack[512];
  unsigned char *params = stack;
  if (head + extra_bytes > sizeof stack)
    TSR_TRY(tsr_alloc(e->ctx, head + extra_bytes, (void **)&params));
  if (extra_bytes > 0)
    memcpy(params + head, extra, extra_bytes);
  uint32_t inputs[256];
  uint32_t *ins = inputs;
  tsr_status status = TSR_OK;
  if (e->n_inputs > 256)
    status = tsr__alloc_array(e->ctx, e->n_inputs, sizeof *ins, "task inputs", (void **)&ins);
  int64_t n = tsr__fnode_of(e)->rows->nchunks;
  for (int64_t c = 0; c < n && status == TSR_OK; c++) {
    tsr__ftask t = {e, c};
    memcpy(params, &t, sizeof t);
    for (uint32_t i = 0; i < e->n_inputs; i++)
      ins[i] = in[i][c];
    uint64_t bytes;
    status = tsr__fnode_chunk_bytes(e, c, &bytes);
    if (status == TSR_OK)
      status = tsr_taskgraph_add_task(g, k, ins, e->n_inputs, params, head + extra_bytes,
                                      (size_t)bytes, &out[c]);
  }
  if (ins != inputs)
    tsr_free(e->ctx, ins);
  if (params != stack)
    tsr_free(e->ctx, params);
  return status;
}

/* ---- chunks held by one rank ---------------------------------------------------- */

/* What a rank that does not hold a chunk lowers in its place: a buffer task
 * it never runs (the chunk arrives from its owner and replaces it). */
static const unsigned char not_held;

tsr_status tsr__frame_add_held(tsr_taskgraph *g, const void *data, size_t bytes, int owner,
                               uint32_t *task) {
  if (data == NULL && bytes > 0)
    data = &not_held;
  TSR_TRY(tsr_taskgraph_add_buffer(g, data, bytes, task));
  return owner < 0 ? TSR_OK : tsr_taskgraph_set_owner(g, *task, owner);
}

tsr_status tsr__frame_check_held(tsr_ctx *ctx, int ranks) {
  int now = tsr_ctx_nranks(ctx);
  TSR_CHECK(now == ranks, TSR_EINVAL,
            "a frame whose chunks are held across %d MPI ranks (a persisted frame or an "
            "operation's result) is read by a computation over %d rank%s: compute it whole "
            "first (tsr_frame_compute), or keep the context distributed",
            ranks, now, now == 1 ? "" : "s");
  return TSR_OK;
}
