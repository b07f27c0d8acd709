/* map.c — tsr_map_blocks: a user kernel applied to matching chunks of n
 * inputs, one task per output chunk (Dask's map_blocks).  The task's inputs
 * are the n input chunks with the same chunk number; its parameters are the
 * output block's descriptor followed by the kernel, its user pointer and the
 * input block's descriptor (every input has the same grid, so one
 * descriptor describes them all).  The task hands the chunk buffers to the
 * user kernel as they are: no copies.
 *
 * Broadcasting and unifying chunkings are not done here yet: inputs must
 * have one shape and one chunk grid (a rechunk step will be put in front).
 * Also the small grid and shape helpers the files of user kernels share. */
#include <stdio.h>
#include <string.h>

#include "fused.h"

/* ---- map_blocks -------------------------------------------------------------- */

typedef struct map_params {
  tsr_block_fn fn;
  void *user;
  uint64_t n_in;
  int32_t in_itemsize;
} map_params;

/* Where the extra parts of the parameter block sit: out descriptor, then
 * map_params, then the input descriptor. */
static size_t in_block_offset(int ndim) {
  return (tsr__block_extra_offset(ndim) + sizeof(map_params) + 7) / 8 * 8;
}

static void info_of(const tsr__block *b, tsr_block_info *info) {
  info->ndim = b->ndim;
  info->shape = tsr__block_shape(b);
  info->offset = tsr__block_offset(b);
  info->array_shape = tsr__block_array_shape(b);
  info->chunk = b->chunk;
}

#define MAP_STACK_INPUTS 16

static tsr_status map_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const tsr__block *ob = call->params;
  int ndim = ob->ndim;
  map_params p;
  memcpy(&p, (const unsigned char *)call->params + tsr__block_extra_offset(ndim), sizeof p);
  const tsr__block *ib =
      (const tsr__block *)((const unsigned char *)call->params + in_block_offset(ndim));
  tsr_block_info out_info, stack_info[MAP_STACK_INPUTS], *in_info = stack_info;
  if (p.n_in > MAP_STACK_INPUTS)
    TSR_TRY(
        tsr__alloc_array(ctx, (size_t)p.n_in, sizeof *in_info, "block infos", (void **)&in_info));
  info_of(ob, &out_info);
  for (uint64_t i = 0; i < p.n_in; i++)
    info_of(ib, &in_info[i]);
  tsr_status status = p.fn(call->output, &out_info, call->inputs, in_info, (size_t)p.n_in, p.user);
  if (in_info != stack_info)
    tsr_free(ctx, in_info);
  return status;
}

static tsr_status lower_map(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                            uint32_t *out) {
  const map_params *mp = e->params;
  const tsr_chunk_grid *igrid = e->inputs[0]->grid;
  int ndim = e->grid->ndim;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "map-blocks", map_kernel, e->ctx, &k));
  size_t in_off = in_block_offset(ndim);
  size_t bytes = in_off + tsr__block_bytes(ndim);
  _Alignas(16) unsigned char params[2 * (sizeof(tsr__block) + 3 * TSR_MAX_NDIM * sizeof(int64_t)) +
                                    sizeof(map_params) + 32];
  memcpy(params + tsr__block_extra_offset(ndim), mp, sizeof *mp);
  uint32_t n_in = e->n_inputs, stack_ids[MAP_STACK_INPUTS], *ids = stack_ids;
  if (n_in > MAP_STACK_INPUTS)
    TSR_TRY(tsr__alloc_array(e->ctx, n_in, sizeof *ids, "map inputs", (void **)&ids));
  tsr_status status = TSR_OK;
  size_t out_item = tsr_dtype_size(e->dtype);
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  for (int64_t c = 0; c < n && status == TSR_OK; c++) {
    tsr__block *ob = (tsr__block *)params;
    tsr__block_describe(e->grid, c, out_item, ob);
    tsr__block_describe(igrid, c, (size_t)mp->in_itemsize, (tsr__block *)(params + in_off));
    for (uint32_t i = 0; i < n_in; i++)
      ids[i] = in[i][c];
    status = tsr_taskgraph_add_task(g, k, ids, n_in, params, bytes,
                                    (size_t)tsr__block_size(ob) * out_item, &out[c]);
  }
  if (ids != stack_ids)
    tsr_free(e->ctx, ids);
  return status;
}

/* The user's function and data are pointers (different on each rank):
 * only the block structure is hashed. */
static void hash_map(const tsr__expr *e, tsr__hash *h) {
  const map_params *p = e->params;
  tsr__hash_u64(h, p->n_in);
  tsr__hash_u64(h, (uint64_t)p->in_itemsize);
}

static const tsr__op op_map = {"map-blocks", lower_map, NULL, false, NULL, hash_map};

static bool same_grid(const tsr_chunk_grid *a, const tsr_chunk_grid *b) {
  if (a->ndim != b->ndim)
    return false;
  for (int d = 0; d < a->ndim; d++)
    if (!tsr__grid_axis_equal(a, d, b, d))
      return false;
  return true;
}

tsr_status tsr_map_blocks(size_t n, tsr_array *const *inputs, tsr_block_fn fn, void *user,
                          tsr_dtype out_dtype, const tsr_chunk_grid *out_chunks, tsr_array **out) {
  static const char name[] = "tsr_map_blocks";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", name);
  *out = NULL;
  TSR_CHECK(n >= 1, TSR_EINVAL, "%s: n = 0: give at least one input", name);
  TSR_CHECK(n < UINT32_MAX, TSR_EINVAL, "%s: n = %zu inputs are too many", name, n);
  TSR_CHECK(inputs != NULL, TSR_EINVAL, "%s: inputs is NULL", name);
  TSR_CHECK(fn != NULL, TSR_EINVAL, "%s: fn is NULL", name);
  TSR_CHECK(tsr_dtype_valid(out_dtype), TSR_EINVAL, "%s: out_dtype = %d is not a tsr_dtype", name,
            (int)out_dtype);
  for (size_t i = 0; i < n; i++)
    TSR_CHECK(inputs[i] != NULL, TSR_EINVAL, "%s: inputs[%zu] is NULL", name, i);
  const tsr__expr *first = inputs[0]->expr;
  tsr_ctx *ctx = first->ctx;
  const tsr_chunk_grid *ig = first->grid;
  char s1[256], s2[256];
  bool unify = false;
  for (size_t i = 1; i < n; i++) {
    const tsr__expr *x = inputs[i]->expr;
    TSR_CHECK(x->ctx == ctx, TSR_EINVAL,
              "%s: inputs[%zu] belongs to another context than inputs[0]", name, i);
    bool same_shape = x->grid->ndim == ig->ndim &&
                      memcmp(x->grid->shape, ig->shape, (size_t)ig->ndim * sizeof(int64_t)) == 0;
    TSR_CHECK(same_shape, TSR_ESHAPE,
              "%s: shape mismatch: inputs[0] has shape %s but inputs[%zu] has %s (broadcasting "
              "is not supported yet)",
              name, tsr__format_shape(s1, sizeof s1, ig->ndim, ig->shape), i,
              tsr__format_shape(s2, sizeof s2, x->grid->ndim, x->grid->shape));
    unify |= !same_grid(x->grid, ig);
  }
  /* Inputs chunked differently are rechunked to common chunks first (as
   * elementwise operations do). */
  tsr__expr *unified_stack[TSR__MAX_LEAVES], **unified = NULL;
  if (unify) {
    TSR_CHECK(n <= TSR__MAX_LEAVES, TSR_ENOTSUP,
              "%s: more than %d inputs with different chunks; rechunk them alike first", name,
              TSR__MAX_LEAVES);
    tsr__expr *raw[TSR__MAX_LEAVES];
    for (size_t i = 0; i < n; i++)
      raw[i] = inputs[i]->expr;
    TSR_TRY(tsr__unify_chunks(ctx, name, (uint32_t)n, raw, unified_stack));
    unified = unified_stack;
    ig = unified[0]->grid;
  }
  tsr_chunk_grid *grid = NULL;
  map_params *p = NULL;
  tsr__expr *in_stack[MAP_STACK_INPUTS], **in_exprs = in_stack;
  tsr__expr *e = NULL;
  tsr_status status = TSR_OK;
  if (out_chunks != NULL) {
    TSR__CHECK_GOTO(status, out_chunks->ndim == ig->ndim, TSR_ESHAPE,
                    "%s: out_chunks has %d axes but the inputs have %d (shape %s)", name,
                    out_chunks->ndim, ig->ndim,
                    tsr__format_shape(s1, sizeof s1, ig->ndim, ig->shape));
    for (int d = 0; d < ig->ndim; d++)
      TSR__CHECK_GOTO(status, out_chunks->nchunks[d] == ig->nchunks[d], TSR_ESHAPE,
                      "%s: out_chunks has %lld chunks on axis %d but the inputs have %lld", name,
                      (long long)out_chunks->nchunks[d], d, (long long)ig->nchunks[d]);
  }
  TSR__TRY_GOTO(status, tsr__grid_copy(ctx, out_chunks != NULL ? out_chunks : ig, &grid));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->fn = fn;
  p->user = user;
  p->n_in = n;
  p->in_itemsize = (int32_t)tsr_dtype_size(first->dtype);
  if (n > MAP_STACK_INPUTS)
    TSR__TRY_GOTO(status,
                  tsr__alloc_array(ctx, n, sizeof *in_exprs, "map inputs", (void **)&in_exprs));
  for (size_t i = 0; i < n; i++)
    in_exprs[i] = unified ? unified[i] : inputs[i]->expr;
  status = tsr__expr_create(ctx, &op_map, out_dtype, grid, (uint32_t)n, in_exprs, p, &e);
  grid = NULL; /* adopted, with p, even on failure */
  p = NULL;
fail:
  tsr_chunk_grid_destroy(&grid);
  tsr_free(ctx, p);
  if (in_exprs != in_stack)
    tsr_free(ctx, in_exprs);
  for (size_t i = 0; unified != NULL && i < n; i++)
    tsr__expr_release(&unified[i]);
  TSR_TRY(status);
  return tsr__array_wrap(e, out);
}
