/* persist.c — tsr_array_persist: compute an array once and hold its chunks in
 * memory (Dask's persist).
 *
 * The chunks are computed by one task graph whose last tasks copy each chunk
 * into its place in one allocation owned by a new source node (chunk after
 * chunk, each C-contiguous); every computed chunk is freed right after its
 * copy, so the run needs the result plus the chunks in flight.  The result
 * node has the input's grid and dtype and no inputs: the original array and
 * everything it was built from may be destroyed.  Using it later costs one
 * memcpy per chunk (a task's output buffer belongs to the runtime).
 *
 * Under MPI each rank holds the chunks it owns (the others' places in its
 * allocation are never written, and untouched pages cost no memory), and
 * later graphs read each chunk on its owner: ownership is recorded so that
 * a change of the ownership policy in between is an error, not wrong data. */
#include <string.h>

#include "array_impl.h"
#include "dist/dist.h"

typedef struct persist_params {
  unsigned char *data; /* all chunks, one after the other; owned */
  uint64_t bytes;
  int32_t *owners; /* per chunk: the rank holding it */
} persist_params;

/* Chunk c's bytes start at the sum of the sizes of chunks 0..c-1. */

static tsr_status put_kernel(const tsr_kernel_call *call) {
  unsigned char *dest;
  memcpy(&dest, call->params, sizeof dest);
  if (call->input_bytes[0] > 0)
    memcpy(dest, call->inputs[0], call->input_bytes[0]);
  return TSR_OK;
}

static tsr_status get_kernel(const tsr_kernel_call *call) {
  const unsigned char *src;
  memcpy(&src, call->params, sizeof src);
  if (call->output_bytes > 0)
    memcpy(call->output, src, call->output_bytes);
  return TSR_OK;
}

static size_t chunk_bytes(const tsr_chunk_grid *grid, int64_t c, size_t item) {
  int64_t shape[TSR_MAX_NDIM];
  size_t n = item;
  if (tsr_chunk_grid_chunk(grid, c, shape, NULL) != TSR_OK)
    return 0; /* c is always in range here */
  for (int d = 0; d < grid->ndim; d++)
    n *= (size_t)shape[d];
  return n;
}

static tsr_status lower_persisted(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                  uint32_t *out) {
  (void)in;
  const persist_params *p = e->params;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "persisted", get_kernel, NULL, &k));
  size_t item = tsr_dtype_size(e->dtype), at = 0;
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  for (int64_t c = 0; c < n; c++) {
    TSR_CHECK(tsr__dist_chunk_owner(e->ctx, c, n) == p->owners[c], TSR_EINVAL,
              "a persisted array's chunk %lld is held by rank %d, but the context's ownership "
              "policy now gives it to rank %d: keep the ranks and the owner block of "
              "tsr_array_persist",
              (long long)c, p->owners[c], tsr__dist_chunk_owner(e->ctx, c, n));
    size_t bytes = chunk_bytes(e->grid, c, item);
    unsigned char *src = p->data + at;
    TSR_TRY(tsr_taskgraph_add_task(g, k, NULL, 0, &src, sizeof src, bytes, &out[c]));
    at += bytes;
  }
  return TSR_OK;
}

static void destroy_persisted(tsr__expr *e) {
  persist_params *p = e->params;
  tsr_free(e->ctx, p->data);
  tsr_free(e->ctx, p->owners);
}

/* Persisted values were computed by the ranks together (the same on each). */
static const tsr__op op_persisted = {"persisted", lower_persisted, destroy_persisted, false, NULL,
                                     NULL};

tsr_status tsr_array_persist(tsr_array *a, tsr_array **out) {
  static const char fn[] = "tsr_array_persist";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", fn);
  tsr__expr *x = a->expr;
  tsr_ctx *ctx = x->ctx;
  tsr_status status = TSR_OK;
  tsr_taskgraph *g = NULL;
  tsr__lowering *l = NULL;
  tsr__plan *plan = NULL;
  tsr_chunk_grid *grid = NULL;
  persist_params *p = NULL;
  bool ran = false;
  uint64_t total = tsr_array_nbytes(a);
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)total, (void **)&p->data));
  p->bytes = total;
  TSR__TRY_GOTO(status, tsr__grid_copy(ctx, x->grid, &grid));
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &g));
  TSR__TRY_GOTO(status, tsr__lowering_create(ctx, g, &l));
  TSR__TRY_GOTO(status, tsr__plan_create(ctx, l, 1, &x, &plan));
  const uint32_t *ids;
  TSR__TRY_GOTO(status, tsr__lowering_lower(l, x, &ids));
  uint32_t k;
  TSR__TRY_GOTO(status, tsr_taskgraph_add_kernel(g, "persist", put_kernel, NULL, &k));
  size_t item = tsr_dtype_size(x->dtype), at = 0;
  int64_t n = tsr_chunk_grid_nchunks(x->grid);
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, sizeof *p->owners, "chunk owners",
                                         (void **)&p->owners));
  for (int64_t c = 0; c < n; c++) {
    unsigned char *dest = p->data + at;
    uint32_t t;
    TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, k, &ids[c], 1, &dest, sizeof dest, 0, &t));
    p->owners[c] = tsr__dist_chunk_owner(ctx, c, n);
    TSR__TRY_GOTO(status, tsr_taskgraph_set_owner(g, t, p->owners[c]));
    at += chunk_bytes(x->grid, c, item);
  }
  tsr__lowering_destroy(&l);
  ran = true;
  TSR__TRY_GOTO(status, tsr_taskgraph_run(g));
  tsr_taskgraph_destroy(&g);
  tsr__plan_destroy(ctx, &plan);
  tsr__expr *e;
  status = tsr__expr_create(ctx, &op_persisted, x->dtype, grid, 0, NULL, p, &e);
  grid = NULL;
  p = NULL;
  if (status != TSR_OK)
    return status;
  return tsr__array_wrap(e, out);
fail:
  if (!ran) /* the others wait in the run's first step (compute.c) */
    status = tsr_ctx_agree(ctx, status);
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&g);
  tsr__plan_destroy(ctx, &plan);
  tsr_chunk_grid_destroy(&grid);
  if (p != NULL) {
    tsr_free(ctx, p->data);
    tsr_free(ctx, p->owners);
  }
  tsr_free(ctx, p);
  return status;
}
