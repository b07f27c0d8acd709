/* mem_frame.c — a frame over table chunks held in memory: what a pipeline
 * breaker (the group-by) returns.  As tsr_frame_persist's frames, its
 * chunks enter later task graphs as buffers (tsr_taskgraph_add_buffer):
 * read in place, never recomputed or copied.  The chunks are freed with the
 * last frame that uses them.  Under MPI each chunk may be held by one rank
 * only (gb_mem_frame_held): later graphs read it there and send it to the
 * ranks that need it. */
#include <string.h>

#include <tessera/dist.h>

#include "groupby_impl.h"

typedef struct mem_node {
  tsr__fnode base;
  tsr_ctx *ctx;
  int64_t nchunks;
  void **chunks;
  size_t *bytes;
  int32_t *owner; /* per chunk: the rank holding it; NULL: every rank holds every chunk */
  int ranks;      /* with owner: the ranks they were made on */
} mem_node;

static void mem_destroy_extra(tsr__fnode *base) {
  mem_node *m = (mem_node *)base;
  if (m->chunks != NULL)
    for (int64_t c = 0; c < m->nchunks; c++)
      tsr_free(m->ctx, m->chunks[c]);
  tsr_free(m->ctx, m->chunks);
  tsr_free(m->ctx, m->bytes);
  tsr_free(m->ctx, m->owner);
}

static tsr_status lower_mem(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                            uint32_t *out) {
  (void)in;
  const mem_node *m = e->params;
  if (m->owner != NULL)
    TSR_TRY(tsr__frame_check_held(m->ctx, m->ranks));
  for (int64_t c = 0; c < m->nchunks; c++)
    TSR_TRY(
        tsr__frame_add_held(g, m->chunks[c], m->bytes[c], m->owner ? m->owner[c] : -1, &out[c]));
  return TSR_OK;
}

static void hash_mem(const tsr__expr *e, tsr__hash *h) { tsr__fnode_hash(tsr__fnode_of(e), h); }

static const tsr__op op_mem = {"frame_memory", lower_mem, tsr__fnode_destroy_params,
                               true,           NULL,      hash_mem};

tsr_status gb_mem_frame(tsr_ctx *ctx, int ncols, char *const *names, const tsr_type *types,
                        tsr__dict *const *dicts, int64_t nchunks, void **chunks,
                        const size_t *chunk_bytes, const int64_t *rows, const int64_t *data_cap,
                        tsr_frame **out) {
  return gb_mem_frame_held(ctx, ncols, names, types, dicts, nchunks, chunks, chunk_bytes, rows,
                           data_cap, NULL, out);
}

tsr_status gb_mem_frame_held(tsr_ctx *ctx, int ncols, char *const *names, const tsr_type *types,
                             tsr__dict *const *dicts, int64_t nchunks, void **chunks,
                             const size_t *chunk_bytes, const int64_t *rows,
                             const int64_t *data_cap, const int32_t *owner, tsr_frame **out) {
  *out = NULL;
  tsr_status st = TSR_OK;
  mem_node *m = NULL;
  tsr__rows *r = NULL;
  tsr__expr *node = NULL;
  tsr__col *cols = NULL;
  st = tsr_calloc(ctx, 1, sizeof *m, (void **)&m);
  if (st != TSR_OK) {
    for (int64_t c = 0; c < nchunks; c++)
      tsr_free(ctx, chunks[c]);
    return st;
  }
  m->ctx = ctx;
  m->base.destroy_extra = mem_destroy_extra;
  m->nchunks = nchunks;
  st = tsr__alloc_array(ctx, (size_t)nchunks + 1, sizeof *m->chunks, "chunks", (void **)&m->chunks);
  if (st != TSR_OK) {
    m->nchunks = 0;
    for (int64_t c = 0; c < nchunks; c++)
      tsr_free(ctx, chunks[c]);
    tsr_free(ctx, m);
    return st;
  }
  memcpy(m->chunks, chunks, (size_t)nchunks * sizeof *chunks);
  TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)nchunks + 1, sizeof *m->bytes, "chunk sizes",
                                     (void **)&m->bytes));
  memcpy(m->bytes, chunk_bytes, (size_t)nchunks * sizeof *chunk_bytes);
  if (owner != NULL) {
    TSR__TRY_GOTO(st, tsr__alloc_array(ctx, (size_t)nchunks + 1, sizeof *m->owner, "chunk owners",
                                       (void **)&m->owner));
    memcpy(m->owner, owner, (size_t)nchunks * sizeof *owner);
    m->ranks = tsr_ctx_nranks(ctx);
  }
  TSR__TRY_GOTO(st, tsr__rows_create(ctx, nchunks, rows, rows, &r));
  {
    mem_node *owned = m;
    m = NULL; /* the node owns it from here, also on failure */
    TSR__TRY_GOTO(st, tsr__fnode_create(ctx, &op_mem, r, (uint32_t)ncols, types, data_cap, 0, NULL,
                                        owned, &node));
  }
  TSR__TRY_GOTO(st, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *cols, (void **)&cols));
  for (int i = 0; i < ncols; i++) {
    cols[i].name = names[i];
    cols[i].type = types[i];
    cols[i].dict = dicts[i];
    cols[i].node = node;
    cols[i].slot = (uint32_t)i;
    cols[i].raw = false;
  }
  st = tsr__frame_make(ctx, ncols, cols, r, out);
fail:
  if (m != NULL) {
    mem_destroy_extra(&m->base);
    tsr_free(ctx, m);
  }
  tsr_free(ctx, cols);
  tsr__expr_release(&node);
  tsr__rows_release(&r);
  return st;
}
