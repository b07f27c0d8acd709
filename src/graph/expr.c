/* expr.c — expression nodes: creation and reference counting.
 *
 * Ownership: a node holds one reference to each input, so the user may
 * destroy intermediate arrays while later ones still need them.  Release is
 * iterative (a worklist threaded through the freed nodes' input arrays would
 * be fiddly; a small explicit stack is clear and cannot overflow the C stack
 * on a chain of 10^5 operations). */
#include <string.h>

#include "expr.h"

tsr_status tsr__expr_create(tsr_ctx *ctx, const tsr__op *op, tsr_dtype dtype, tsr_chunk_grid *grid,
                            uint32_t n_inputs, tsr__expr *const *inputs, void *params,
                            tsr__expr **out) {
  tsr_status status = TSR_OK;
  tsr__expr *e = NULL;
  *out = NULL;
  /* Every node keeps TSR__MAX_BYTES (core_impl.h): per-chunk code relies on it. */
  int64_t nbytes;
  TSR__TRY_GOTO(status, tsr__shape_bytes(op->name, tsr_chunk_grid_ndim(grid),
                                         tsr_chunk_grid_shape(grid), tsr_dtype_size(dtype),
                                         &nbytes));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *e, (void **)&e));
  if (n_inputs > 0)
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, n_inputs, sizeof *e->inputs, "expression inputs",
                                           (void **)&e->inputs));
  atomic_init(&e->refs, 1);
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

/* Frees one node whose count reached zero; pushes inputs that reach zero. */
static void free_node(tsr__expr *e, tsr__expr **stack, size_t *depth, size_t cap) {
  tsr_ctx *ctx = e->ctx;
  for (uint32_t i = 0; i < e->n_inputs; i++) {
    tsr__expr *in = e->inputs[i];
    if (atomic_fetch_sub_explicit(&in->refs, 1, memory_order_acq_rel) != 1)
      continue;
    if (*depth < cap)
      stack[(*depth)++] = in;
    else
      tsr__expr_release(&in); /* stack full: fall back to recursion (rare) */
  }
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
  tsr__expr *stack[256];
  size_t depth = 0;
  stack[depth++] = e;
  while (depth > 0) {
    tsr__expr *next = stack[--depth];
    free_node(next, stack, &depth, sizeof stack / sizeof stack[0]);
  }
}
