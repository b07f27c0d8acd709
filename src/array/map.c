/* map.c — tsr_map_blocks: a user kernel applied to matching chunks of n
 * inputs, one task per output chunk (Dask's map_blocks).  The task's inputs
 * are the n input chunks the output chunk comes from; its parameters are the
 * output block's descriptor followed by the kernel, its user pointer, its
 * name and the input block's descriptor (every input has the same grid, so
 * one descriptor describes them all).  The task hands the chunk buffers to
 * the user kernel as they are: no copies.
 *
 * The kernel is registered under the caller's name (tsr_map_options.name),
 * so --stats, traces and failing tasks show it, and it gets its context
 * (the ctx for scratch memory, its name, the worker thread) in the block
 * infos.  The output may have another shape (Dask's chunks=, drop_axis=,
 * new_axis=): output axes are the input's kept axes, in order, with the new
 * axes (one chunk each) inserted; inputs are first rechunked to one chunk
 * along the dropped axes, so the kernel sees whole rows there (Dask
 * concatenates the blocks along them the same way).
 *
 * Broadcasting is not done here: inputs must have one shape; inputs chunked
 * differently are rechunked to common chunks first. */
#include <stdio.h>
#include <string.h>

#include "fused.h"

/* ---- map_blocks -------------------------------------------------------------- */

typedef struct map_params {
  tsr_block_fn fn;
  void *user;
  const char *name; /* the node's map_node.name (alive while it runs) */
  uint64_t n_in;
  int32_t in_itemsize;
} map_params;

/* The node's parameters. */
typedef struct map_node {
  map_params p;
  int32_t in_axis[TSR_MAX_NDIM]; /* per output axis: its input axis, or -1 (new) */
  char name[64];
} map_node;

/* Where the extra parts of the parameter block sit: out descriptor, then
 * map_params, then the input descriptor. */
static size_t in_block_offset(int ndim) {
  return (tsr__block_extra_offset(ndim) + sizeof(map_params) + 7) / 8 * 8;
}

static void info_of(const tsr__block *b, const tsr_kernel_call *call, const char *name,
                    tsr_block_info *info) {
  info->ndim = b->ndim;
  info->shape = tsr__block_shape(b);
  info->offset = tsr__block_offset(b);
  info->array_shape = tsr__block_array_shape(b);
  info->chunk = b->chunk;
  info->ctx = call->user;
  info->name = name;
  info->thread = call->thread;
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
  info_of(ob, call, p.name, &out_info);
  for (uint64_t i = 0; i < p.n_in; i++)
    info_of(ib, call, p.name, &in_info[i]);
  tsr_status status = p.fn(call->output, &out_info, call->inputs, in_info, (size_t)p.n_in, p.user);
  if (in_info != stack_info)
    tsr_free(ctx, in_info);
  return status;
}

static tsr_status lower_map(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                            uint32_t *out) {
  const map_node *node = e->params;
  const map_params *mp = &node->p;
  const tsr_chunk_grid *igrid = e->inputs[0]->grid, *og = e->grid;
  int ndim = og->ndim, in_ndim = igrid->ndim;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, node->name, map_kernel, e->ctx, &k));
  size_t in_off = in_block_offset(ndim);
  size_t bytes = in_off + tsr__block_bytes(in_ndim);
  _Alignas(16) unsigned char params[2 * (sizeof(tsr__block) + 3 * TSR_MAX_NDIM * sizeof(int64_t)) +
                                    sizeof(map_params) + 32];
  memcpy(params + tsr__block_extra_offset(ndim), mp, sizeof *mp);
  uint32_t n_in = e->n_inputs, stack_ids[MAP_STACK_INPUTS], *ids = stack_ids;
  if (n_in > MAP_STACK_INPUTS)
    TSR_TRY(tsr__alloc_array(e->ctx, n_in, sizeof *ids, "map inputs", (void **)&ids));
  tsr_status status = TSR_OK;
  size_t out_item = tsr_dtype_size(e->dtype);
  int64_t n = tsr_chunk_grid_nchunks(og);
  for (int64_t c = 0; c < n && status == TSR_OK; c++) {
    /* The input chunk: the output chunk's coordinates on the kept axes
     * (dropped axes have one chunk, new axes one). */
    int64_t ic = 0, rest = c;
    for (int d = ndim - 1; d >= 0; d--) {
      int64_t i = rest % og->nchunks[d];
      rest /= og->nchunks[d];
      if (node->in_axis[d] >= 0)
        ic += i * igrid->stride[node->in_axis[d]];
    }
    tsr__block *ob = (tsr__block *)params;
    tsr__block_describe(og, c, out_item, ob);
    tsr__block_describe(igrid, ic, (size_t)mp->in_itemsize, (tsr__block *)(params + in_off));
    for (uint32_t i = 0; i < n_in; i++)
      ids[i] = in[i][ic];
    status = tsr_taskgraph_add_task(g, k, ids, n_in, params, bytes,
                                    (size_t)tsr__block_size(ob) * out_item, &out[c]);
  }
  if (ids != stack_ids)
    tsr_free(e->ctx, ids);
  return status;
}

/* The user's function and data are pointers (different on each rank):
 * only the block structure, the axis map and the name are hashed. */
static void hash_map(const tsr__expr *e, tsr__hash *h) {
  const map_node *node = e->params;
  tsr__hash_u64(h, node->p.n_in);
  tsr__hash_u64(h, (uint64_t)node->p.in_itemsize);
  tsr__hash_bytes(h, node->in_axis, (size_t)e->grid->ndim * sizeof *node->in_axis);
  tsr__hash_str(h, node->name);
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

tsr_status tsr__map_name(const char *api, const tsr_map_options *options, const char *dflt,
                         char *name, char *fn, size_t fn_size) {
  const char *given = options != NULL ? options->name : NULL;
  snprintf(fn, fn_size, given != NULL ? "%s '%.63s'" : "%s", api, given);
  if (given == NULL) {
    strcpy(name, dflt);
    return TSR_OK;
  }
  size_t len = strlen(given);
  bool ok = len >= 1 && len <= 63;
  for (size_t i = 0; ok && i < len; i++)
    ok = given[i] >= 0x20 && given[i] <= 0x7e && given[i] != '"' && given[i] != '\\';
  TSR_CHECK(ok, TSR_EINVAL,
            "%s: options->name '%.80s' must be 1 to 63 printable ASCII characters without "
            "quotes or backslashes",
            api, given);
  memcpy(name, given, len + 1);
  return TSR_OK;
}

/* Normalizes a list of axes for ndim axes (distinct, negative from the end). */
static tsr_status map_axes(const char *fn, const char *what, int n, const int *axes, int ndim,
                           bool *mark) {
  TSR_CHECK(n >= 0 && n <= TSR_MAX_NDIM && (n == 0 || axes != NULL), TSR_EINVAL,
            "%s: options->n_%s = %d is not a valid count of axes (or %s is NULL)", fn, what, n,
            what);
  for (int i = 0; i < ndim; i++)
    mark[i] = false;
  for (int i = 0; i < n; i++) {
    int ax = axes[i] < 0 ? axes[i] + ndim : axes[i];
    TSR_CHECK(ax >= 0 && ax < ndim, TSR_EINVAL,
              "%s: options->%s[%d] = %d is out of range for %d dimensions", fn, what, i, axes[i],
              ndim);
    TSR_CHECK(!mark[ax], TSR_EINVAL, "%s: axis %d repeated in options->%s", fn, ax, what);
    mark[ax] = true;
  }
  return TSR_OK;
}

tsr_status tsr_map_blocks(size_t n, tsr_array *const *inputs, tsr_block_fn fn, void *user,
                          tsr_dtype out_dtype, const tsr_chunk_grid *out_chunks, tsr_array **out) {
  tsr_map_options options = {.chunks = out_chunks};
  return tsr_map_blocks_ex(n, inputs, fn, user, out_dtype, &options, out);
}

tsr_status tsr_map_blocks_ex(size_t n, tsr_array *const *inputs, tsr_block_fn fn, void *user,
                             tsr_dtype out_dtype, const tsr_map_options *options, tsr_array **out) {
  char name[96], kname[64];
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_map_blocks: out is NULL");
  *out = NULL;
  TSR_TRY(tsr__map_name("tsr_map_blocks", options, "map-blocks", kname, name, sizeof name));
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
  /* The output's axes: the kept input axes in order, new axes inserted. */
  int in_ndim = ig->ndim, n_drop = options ? options->n_drop_axis : 0;
  int n_new = options ? options->n_new_axis : 0;
  bool dropped[TSR_MAX_NDIM], added[TSR_MAX_NDIM];
  TSR_TRY(
      map_axes(name, "drop_axis", n_drop, options ? options->drop_axis : NULL, in_ndim, dropped));
  int ndim = in_ndim - n_drop + n_new;
  TSR_CHECK(ndim <= TSR_MAX_NDIM, TSR_EINVAL,
            "%s: the output would have %d dimensions (at most %d)", name, ndim, TSR_MAX_NDIM);
  TSR_TRY(map_axes(name, "new_axis", n_new, options ? options->new_axis : NULL, ndim, added));
  map_node node;
  memset(&node, 0, sizeof node);
  for (int d = 0, src = 0; d < ndim; d++) {
    while (!added[d] && dropped[src])
      src++;
    node.in_axis[d] = added[d] ? -1 : src++;
  }
  const tsr_chunk_grid *out_chunks = options ? options->chunks : NULL;
  /* Inputs chunked differently are rechunked to common chunks first (as
   * elementwise operations do), then to one chunk along dropped axes. */
  tsr__expr *unified_stack[TSR__MAX_LEAVES], **unified = NULL;
  if (unify || n_drop > 0) {
    TSR_CHECK(n <= TSR__MAX_LEAVES, TSR_ENOTSUP,
              "%s: more than %d inputs with different chunks or dropped axes; rechunk them alike "
              "first",
              name, TSR__MAX_LEAVES);
    tsr__expr *raw[TSR__MAX_LEAVES];
    for (size_t i = 0; i < n; i++)
      raw[i] = inputs[i]->expr;
    if (unify) {
      TSR_TRY(tsr__unify_chunks(ctx, name, (uint32_t)n, raw, unified_stack));
    } else {
      for (size_t i = 0; i < n; i++) {
        tsr__expr_retain(raw[i]);
        unified_stack[i] = raw[i];
      }
    }
    unified = unified_stack;
    if (n_drop > 0) {
      const tsr_chunk_grid *ug = unified[0]->grid;
      tsr__grid_axis axes[TSR_MAX_NDIM];
      int64_t whole[TSR_MAX_NDIM][2];
      for (int d = 0; d < in_ndim; d++) {
        whole[d][0] = 0;
        whole[d][1] = ug->shape[d];
        axes[d] =
            dropped[d] ? (tsr__grid_axis){NULL, 0, whole[d], 1} : (tsr__grid_axis){ug, d, NULL, 0};
      }
      tsr_chunk_grid *target = NULL;
      tsr_status st = tsr__grid_from_axes(ctx, in_ndim, axes, &target);
      for (size_t i = 0; i < n && st == TSR_OK; i++) {
        tsr__expr *r = NULL;
        st = tsr__rechunk_expr(unified[i], target, &r);
        if (st == TSR_OK) {
          tsr__expr_release(&unified[i]);
          unified[i] = r;
        }
      }
      tsr_chunk_grid_destroy(&target);
      if (st != TSR_OK) {
        for (size_t i = 0; i < n; i++)
          tsr__expr_release(&unified[i]);
        return st;
      }
    }
    ig = unified[0]->grid;
  }
  tsr_chunk_grid *grid = NULL;
  map_node *p = NULL;
  tsr__expr *in_stack[MAP_STACK_INPUTS], **in_exprs = in_stack;
  tsr__expr *e = NULL;
  tsr_status status = TSR_OK;
  if (out_chunks != NULL) {
    TSR__CHECK_GOTO(status, out_chunks->ndim == ndim, TSR_ESHAPE,
                    "%s: options->chunks has %d axes but the output has %d (inputs of shape %s, "
                    "%d dropped, %d new axes)",
                    name, out_chunks->ndim, ndim,
                    tsr__format_shape(s1, sizeof s1, ig->ndim, ig->shape), n_drop, n_new);
    for (int d = 0; d < ndim; d++) {
      int64_t want = node.in_axis[d] >= 0 ? ig->nchunks[node.in_axis[d]] : 1;
      TSR__CHECK_GOTO(status, out_chunks->nchunks[d] == want, TSR_ESHAPE,
                      "%s: options->chunks has %lld chunks on axis %d but the output has %lld "
                      "there (%s)",
                      name, (long long)out_chunks->nchunks[d], d, (long long)want,
                      node.in_axis[d] >= 0 ? "the input's chunks" : "a new axis has one chunk");
    }
    TSR__TRY_GOTO(status, tsr__grid_copy(ctx, out_chunks, &grid));
  } else {
    tsr__grid_axis axes[TSR_MAX_NDIM];
    static const int64_t unit[2] = {0, 1};
    for (int d = 0; d < ndim; d++)
      axes[d] = node.in_axis[d] >= 0 ? (tsr__grid_axis){ig, node.in_axis[d], NULL, 0}
                                     : (tsr__grid_axis){NULL, 0, unit, 1};
    TSR__TRY_GOTO(status, tsr__grid_from_axes(ctx, ndim, axes, &grid));
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  *p = node;
  memcpy(p->name, kname, sizeof kname);
  p->p.fn = fn;
  p->p.user = user;
  p->p.name = p->name;
  p->p.n_in = n;
  p->p.in_itemsize = (int32_t)tsr_dtype_size(first->dtype);
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
