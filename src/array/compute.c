/* compute.c — turning arrays into data: lowering the requested arrays into
 * one task graph (shared nodes lowered once), appending one "store" task per
 * output chunk that copies it into the caller's buffer, and running it.
 * Also the handle's destroy and getters.
 *
 * The store tasks write disjoint parts of the caller's buffer in parallel
 * and produce no output of their own, so every chunk is freed as soon as it
 * has been stored: the run needs memory for the chunks in flight only. */
#include <string.h>

#include "array_impl.h"

void tsr_array_destroy(tsr_array **array) {
  if (array == NULL || *array == NULL)
    return;
  tsr_array *a = *array;
  tsr_ctx *ctx = a->expr->ctx;
  tsr__expr_release(&a->expr);
  tsr_free(ctx, a);
  *array = NULL;
}

int tsr_array_ndim(const tsr_array *a) { return a ? a->expr->grid->ndim : 0; }
const int64_t *tsr_array_shape(const tsr_array *a) {
  return a && a->expr->grid->ndim > 0 ? a->expr->grid->shape : NULL;
}
tsr_dtype tsr_array_dtype(const tsr_array *a) { return a ? a->expr->dtype : TSR_NUM_DTYPES; }
int64_t tsr_array_size(const tsr_array *a) {
  int64_t n = 0;
  if (a != NULL && tsr_shape_size(a->expr->grid->ndim, a->expr->grid->shape, &n) != TSR_OK)
    n = 0;
  return n;
}
uint64_t tsr_array_nbytes(const tsr_array *a) {
  return a ? (uint64_t)tsr_array_size(a) * tsr_dtype_size(a->expr->dtype) : 0;
}
const tsr_chunk_grid *tsr_array_chunks(const tsr_array *a) { return a ? a->expr->grid : NULL; }

typedef struct store_params {
  void *dest;
} store_params;

static tsr_status store_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = call->params;
  store_params p;
  memcpy(&p, (const unsigned char *)call->params + tsr__block_extra_offset(b->ndim), sizeof p);
  tsr__block_copy(b, p.dest, (void *)call->inputs[0], true);
  return TSR_OK;
}

/* One store task per chunk of e, each consuming that chunk's task. */
static tsr_status add_stores(tsr_taskgraph *g, const tsr__expr *e, const uint32_t *ids,
                             void *dest) {
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "store", store_kernel, NULL, &k));
  int ndim = e->grid->ndim;
  size_t off = tsr__block_extra_offset(ndim);
  _Alignas(16) unsigned char
      params[sizeof(tsr__block) + 3 * TSR_MAX_NDIM * sizeof(int64_t) + sizeof(store_params) + 8];
  store_params p = {dest};
  memcpy(params + off, &p, sizeof p);
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  for (int64_t c = 0; c < n; c++) {
    tsr__block_describe(e->grid, c, tsr_dtype_size(e->dtype), (tsr__block *)params);
    uint32_t t;
    TSR_TRY(tsr_taskgraph_add_task(g, k, &ids[c], 1, params, off + sizeof p, 0, &t));
    /* Under MPI every rank gets the whole result. */
    TSR_TRY(tsr_taskgraph_set_owner(g, t, TSR_OWNER_ALL));
  }
  return TSR_OK;
}

tsr_status tsr_array_to_buffers(size_t n, tsr_array *const *arrays, void *const *buffers,
                                const size_t *bytes) {
  return tsr_array_to_buffers_ex(n, arrays, buffers, bytes, NULL);
}

tsr_status tsr_array_to_buffers_ex(size_t n, tsr_array *const *arrays, void *const *buffers,
                                   const size_t *bytes, const tsr_compute_options *options) {
  static const char fn[] = "tsr_array_to_buffers";
  TSR_CHECK(n == 0 || (arrays != NULL && buffers != NULL && bytes != NULL), TSR_EINVAL,
            "%s: arrays, buffers or bytes is NULL", fn);
  if (n == 0)
    return TSR_OK;
  for (size_t i = 0; i < n; i++) {
    TSR_CHECK(arrays[i] != NULL, TSR_EINVAL, "%s: arrays[%zu] is NULL", fn, i);
    TSR_CHECK(arrays[i]->expr->ctx == arrays[0]->expr->ctx, TSR_EINVAL,
              "%s: arrays[%zu] belongs to another context than arrays[0]", fn, i);
    uint64_t need = tsr_array_nbytes(arrays[i]);
    TSR_CHECK(bytes[i] == need, TSR_EINVAL,
              "%s: buffer %zu has %zu bytes but the array needs %llu (%lld elements of %s)", fn, i,
              bytes[i], (unsigned long long)need, (long long)tsr_array_size(arrays[i]),
              tsr_dtype_name(arrays[i]->expr->dtype));
    TSR_CHECK(buffers[i] != NULL || need == 0, TSR_EINVAL, "%s: buffers[%zu] is NULL", fn, i);
  }
  tsr_ctx *ctx = arrays[0]->expr->ctx;
  tsr_status status = TSR_OK;
  tsr_taskgraph *g = NULL;
  tsr__lowering *l = NULL;
  tsr__plan *plan = NULL;
  tsr__expr **roots = NULL;
  uint32_t first_store = 0;
  bool ran = false;
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &g));
  TSR__TRY_GOTO(status, tsr__lowering_create(ctx, g, &l));
  /* Shared intermediates made once, reductions of the same values in one
   * pass (share.c); the plan lives until the run ends: tasks point into it. */
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, n, sizeof *roots, "compute outputs", (void **)&roots));
  for (size_t i = 0; i < n; i++)
    roots[i] = arrays[i]->expr;
  TSR__TRY_GOTO(status, tsr__plan_create(ctx, l, n, roots, &plan));
  for (size_t i = 0; i < n; i++) { /* lower everything, then the stores */
    const uint32_t *ids;
    TSR__TRY_GOTO(status, tsr__lowering_lower(l, arrays[i]->expr, &ids));
  }
  first_store = tsr_taskgraph_ntasks(g);
  for (size_t i = 0; i < n; i++) {
    const uint32_t *ids;
    TSR__TRY_GOTO(status, tsr__lowering_lower(l, arrays[i]->expr, &ids)); /* memoized */
    TSR__TRY_GOTO(status, add_stores(g, arrays[i]->expr, ids, buffers[i]));
  }
  tsr__lowering_destroy(&l);
  /* Only what the stores need runs (docs/architecture.md, "Two graphs": culling): a slice of a
   * large array computes the chunks it reads, not the whole array. */
  {
    uint32_t n_tasks = tsr_taskgraph_ntasks(g), *wanted = NULL;
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, n_tasks - first_store + 1, sizeof *wanted,
                                           "wanted tasks", (void **)&wanted));
    for (uint32_t t = first_store; t < n_tasks; t++)
      wanted[t - first_store] = t;
    status = tsr_taskgraph_cull(g, wanted, n_tasks - first_store);
    tsr_free(ctx, wanted);
    if (status != TSR_OK)
      goto fail;
  }
  if (options != NULL && options->dot_path != NULL)
    TSR__TRY_GOTO(status, tsr_taskgraph_write_dot(g, options->dot_path));
  ran = true;
  TSR__TRY_GOTO(status, tsr_taskgraph_run_ex(g, options ? &options->run : NULL));
  if (options != NULL && options->on_stats != NULL)
    options->on_stats(tsr_taskgraph_stats(g), options->stats_user);
fail:
  /* Under MPI a rank that failed before the run still meets the others in
   * the run's first step, the agreement on its set-up (transfer.c). */
  if (!ran)
    status = tsr_ctx_agree(ctx, status);
  tsr__plan_destroy(ctx, &plan);
  tsr_free(ctx, roots);
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&g);
  return status;
}

tsr_status tsr_array_to_buffer(tsr_array *array, void *buffer, size_t bytes) {
  TSR_CHECK(array != NULL, TSR_EINVAL, "tsr_array_to_buffer: array is NULL");
  return tsr_array_to_buffers(1, &array, &buffer, &bytes);
}
