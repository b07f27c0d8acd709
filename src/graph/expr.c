/* expr.c — expression nodes: creation and reference counting.
 *
 * Ownership: a node holds one reference to each input, so the user may
 * destroy intermediate arrays while later ones still need them.  Release is
 * iterative: a worklist linked through the nodes being freed (no allocation,
 * so it cannot fail, and no recursion, so a chain of 10^6 operations does
 * not overflow the C stack). */
#include <string.h>

#include "core/grid_impl.h"
#include "expr.h"

tsr_status tsr__expr_create(tsr_ctx *ctx, const tsr__op *op, tsr_dtype dtype, tsr_chunk_grid *grid,
                            uint32_t n_inputs, tsr__expr *const *inputs, void *params,
                            tsr__expr **out) {
  tsr_status status = TSR_OK;
  tsr__expr *e = NULL;
  *out = NULL;
  /* Every node keeps TSR__MAX_BYTES (core_impl.h): per-chunk code relies on it. */
  int64_t nbytes;
  TSR__TRY_GOTO(status,
                tsr__shape_bytes(op->name, tsr_chunk_grid_ndim(grid), tsr_chunk_grid_shape(grid),
                                 tsr_dtype_size(dtype), &nbytes));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *e, (void **)&e));
  if (n_inputs > 0)
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, n_inputs, sizeof *e->inputs, "expression inputs",
                                           (void **)&e->inputs));
  static _Atomic uint64_t next_serial = 1;
  atomic_init(&e->refs, 1);
  e->serial = atomic_fetch_add(&next_serial, 1);
  e->ctx = ctx;
  e->op = op;
  e->dtype = dtype;
  e->grid = grid;
  e->params = params;
  e->n_inputs = n_inputs;
  for (uint32_t i = 0; i < n_inputs; i++) {
    e->inputs[i] = inputs[i];
    tsr__expr_retain(inputs[i]);
  }
  *out = e;
  return TSR_OK;
fail:
  /* Adopted pieces are freed even on failure, as documented. */
  if (params != NULL && op->destroy_params != NULL) {
    tsr__expr adopted = {.ctx = ctx, .op = op, .dtype = dtype, .grid = grid, .params = params};
    op->destroy_params(&adopted);
  }
  tsr_free(ctx, params);
  tsr_free(ctx, e); /* its input array was the failed allocation */
  tsr_chunk_grid_destroy(&grid);
  return status;
}

void tsr__expr_retain(tsr__expr *e) {
  atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

/* Nodes whose count reached zero and that wait to be freed, linked through
 * release_next, and whether a release is draining them on this thread.  A
 * node is freed only by the outermost release, so neither a chain of 10^6
 * nodes nor ops whose params hold nodes (fused leaves, released from
 * destroy_params) make the release recurse. */
static _Thread_local tsr__expr *pending;
static _Thread_local bool draining;

static void free_node(tsr__expr *e) {
  tsr_ctx *ctx = e->ctx;
  for (uint32_t i = 0; i < e->n_inputs; i++)
    tsr__expr_release(&e->inputs[i]); /* queues, as draining is set */
  if (e->op->destroy_params != NULL)
    e->op->destroy_params(e);
  tsr_free(ctx, e->params);
  tsr_free(ctx, e->inputs);
  tsr_chunk_grid_destroy(&e->grid);
  tsr_free(ctx, e);
}

void tsr__expr_release(tsr__expr **ep) {
  if (ep == NULL || *ep == NULL)
    return;
  tsr__expr *e = *ep;
  *ep = NULL;
  if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) != 1)
    return;
  e->release_next = pending;
  pending = e;
  if (draining)
    return;
  draining = true;
  while (pending != NULL) {
    tsr__expr *next = pending;
    pending = next->release_next;
    free_node(next);
  }
  draining = false;
}

void tsr__expr_hash(const tsr__expr *e, tsr__hash *h) {
  tsr__hash_str(h, e->op->name);
  tsr__hash_u64(h, (uint64_t)e->dtype);
  tsr__hash_u64(h, e->n_inputs);
  int ndim = tsr_chunk_grid_ndim(e->grid);
  tsr__hash_u64(h, (uint64_t)ndim);
  tsr__hash_i64s(h, tsr_chunk_grid_shape(e->grid), ndim);
  /* A regular axis is (chunk extent, count): O(1), whatever its chunk
   * count; an irregular one, its boundaries (as many as the user gave). */
  for (int d = 0; d < ndim; d++) {
    int64_t n = tsr_chunk_grid_nchunks_axis(e->grid, d);
    tsr__hash_u64(h, (uint64_t)n);
    if (e->grid->offsets[d] == NULL)
      tsr__hash_u64(h, (uint64_t)e->grid->chunk[d]);
    else
      tsr__hash_bytes(h, e->grid->offsets[d], (size_t)(n + 1) * sizeof(int64_t));
  }
  if (e->op->hash_params != NULL)
    e->op->hash_params(e, h);
}
