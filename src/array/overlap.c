/* overlap.c — tsr_map_overlap: a user kernel over each chunk extended by a
 * halo of depth[d] elements on both sides of axis d (Dask's map_overlap).
 *
 * One task per output chunk.  Its inputs are the chunk and the neighbours the
 * halo needs (at most 3^k for k axes with depth > 0; a periodic boundary
 * takes the far chunk as the neighbour across the edge).  The task assembles
 * the extended block in one pass — a memcpy per row for the chunk's own
 * part, element copies for the thin halo parts, a fill for constant
 * padding — calls the user kernel on it, and frees it.  No intermediate
 * tasks or halo chunks, so the memory moved is one copy of the input; that
 * is what A5 (a 5-point Laplacian over 2000 x 2000 chunks) needs.
 *
 * Boundaries at the array's outer edges: none (no halo there: the extended
 * block is smaller and its offset says so), constant, reflect (np.pad
 * "symmetric": edge element included), periodic (wrap), nearest (edge
 * repeated).  Because depth <= the smallest chunk extent, every halo element
 * lies in the chunk itself or in one neighbour along each axis. */
#include <string.h>

#include "fused.h"

#define MAX_ACTIVE 6 /* axes with depth > 0: 3^6 = 729 neighbour combinations */

typedef struct overlap_params {
  tsr_block_fn fn;
  void *user;
  const char *name; /* the node's overlap_node.name (alive while it runs) */
  int32_t boundary;
  int32_t itemsize; /* of the input */
  int32_t n_active;
  int32_t n_combos;
  unsigned char constant[8]; /* the constant, converted to the input dtype */
  /* Set per task when the input is a user buffer (C order): the block is
   * then assembled straight from it, with no copy tasks before. */
  const unsigned char *memory;
} overlap_params;

/* Per axis: the halo this chunk gets, and the neighbour chunks (slot 0 =
 * left, 1 = the chunk, 2 = right). */
typedef struct overlap_axis {
  int64_t lo, hi; /* halo extents on each side */
  int64_t n;      /* the array's extent */
  int64_t nb_off[3], nb_ext[3];
  int32_t active; /* position among the axes with depth > 0, or -1 */
  int32_t pad;
} overlap_axis;

/* Parameter block: out descriptor | overlap_params | overlap_axis[ndim] |
 * int32 table[n_combos] (input index of each neighbour combination, -1 when
 * the combination is not an input). */
static size_t params_at(int ndim) { return tsr__block_extra_offset(ndim); }
static size_t axes_at(int ndim) { return (params_at(ndim) + sizeof(overlap_params) + 7) / 8 * 8; }
static size_t table_at(int ndim) { return axes_at(ndim) + (size_t)ndim * sizeof(overlap_axis); }

/* Maps global index g (possibly outside the array) on one axis to a slot
 * and a local index in that slot's chunk; -1 means constant padding. */
static int map_index(const overlap_axis *ax, int boundary, int64_t g, int64_t *local) {
  if (g < 0) {
    switch (boundary) {
    case TSR_BOUNDARY_PERIODIC:
      *local = g + ax->n - ax->nb_off[0];
      return 0;
    case TSR_BOUNDARY_REFLECT:
      g = -1 - g;
      break;
    case TSR_BOUNDARY_NEAREST:
      g = 0;
      break;
    default:
      return -1;
    }
  } else if (g >= ax->n) {
    switch (boundary) {
    case TSR_BOUNDARY_PERIODIC:
      *local = g - ax->n - ax->nb_off[2];
      return 2;
    case TSR_BOUNDARY_REFLECT:
      g = 2 * ax->n - 1 - g;
      break;
    case TSR_BOUNDARY_NEAREST:
      g = ax->n - 1;
      break;
    default:
      return -1;
    }
  }
  if (g < ax->nb_off[1]) {
    *local = g - ax->nb_off[0];
    return 0;
  }
  if (g < ax->nb_off[1] + ax->nb_ext[1]) {
    *local = g - ax->nb_off[1];
    return 1;
  }
  *local = g - ax->nb_off[2];
  return 2;
}

static const int64_t pow3[MAX_ACTIVE + 1] = {1, 3, 9, 27, 81, 243, 729};

static tsr_status overlap_kernel(const tsr_kernel_call *call) {
  tsr_ctx *ctx = call->user;
  const unsigned char *raw = call->params;
  const tsr__block *ob = call->params;
  int ndim = ob->ndim;
  overlap_params p;
  memcpy(&p, raw + params_at(ndim), sizeof p);
  const overlap_axis *axes = (const overlap_axis *)(raw + axes_at(ndim));
  const int32_t *table = (const int32_t *)(raw + table_at(ndim));
  size_t item = (size_t)p.itemsize;

  int64_t ext[TSR_MAX_NDIM], ext_off[TSR_MAX_NDIM];
  bool halo = false;
  int64_t center = 0, ext_size = 1;
  for (int d = 0; d < ndim; d++) {
    ext[d] = tsr__block_shape(ob)[d] + axes[d].lo + axes[d].hi;
    ext_off[d] = tsr__block_offset(ob)[d] - axes[d].lo;
    halo |= axes[d].lo > 0 || axes[d].hi > 0;
    if (axes[d].active >= 0)
      center += pow3[axes[d].active];
    ext_size *= ext[d];
  }
  tsr_block_info out_info = {.ndim = ndim,
                             .shape = tsr__block_shape(ob),
                             .offset = tsr__block_offset(ob),
                             .array_shape = tsr__block_array_shape(ob),
                             .chunk = ob->chunk,
                             .ctx = ctx,
                             .name = p.name,
                             .thread = call->thread};
  tsr_block_info in_info = out_info; /* the extended block */
  in_info.shape = ext;
  in_info.offset = ext_off;
  if ((!halo && (p.memory == NULL || ndim == 0)) || ext_size == 0) { /* the chunk as it is */
    const void *own = p.memory ? (const void *)p.memory : call->inputs[table[center]];
    return p.fn(call->output, &out_info, &own, &in_info, 1, p.user);
  }

  unsigned char *buf = NULL;
  TSR_TRY(tsr_kernel_alloc(ctx, (size_t)ext_size * item, (void **)&buf));
  int last = ndim - 1; /* ndim >= 1 here: a 0-d array has no halo */
  const overlap_axis *lax = &axes[last];
  int64_t idx[TSR_MAX_NDIM] = {0};
  int slot[TSR_MAX_NDIM];
  int64_t local[TSR_MAX_NDIM];
  unsigned char *dst = buf;
  size_t row_bytes = (size_t)ext[last] * item;
  for (;;) {
    /* The row's place on the outer axes. */
    bool constant_row = false;
    int64_t code = 0;
    for (int d = 0; d < last; d++) {
      slot[d] = map_index(&axes[d], p.boundary, ext_off[d] + idx[d], &local[d]);
      if (slot[d] < 0) {
        constant_row = true;
        break;
      }
      if (axes[d].active >= 0)
        code += slot[d] * pow3[axes[d].active];
    }
    if (constant_row) {
      for (int64_t j = 0; j < ext[last]; j++)
        memcpy(dst + (size_t)j * item, p.constant, item);
    } else {
      for (int64_t j = 0; j < ext[last];) {
        bool own_run = j == lax->lo;
        /* The chunk's own part of the row: one copy (in memory mode the
         * "chunk" is the whole array, so it starts at the chunk's offset). */
        int64_t count = !own_run ? 1 : p.memory ? tsr__block_shape(ob)[last] : lax->nb_ext[1];
        int s = own_run ? 1 : map_index(lax, p.boundary, ext_off[last] + j, &local[last]);
        if (own_run)
          local[last] = p.memory ? tsr__block_offset(ob)[last] : 0;
        if (s < 0) {
          memcpy(dst + (size_t)j * item, p.constant, item);
          j++;
          continue;
        }
        slot[last] = s;
        int64_t c = code + (lax->active >= 0 ? s * pow3[lax->active] : 0);
        const unsigned char *src = p.memory ? p.memory : call->inputs[table[c]];
        int64_t at = 0;
        for (int d = 0; d < ndim; d++)
          at = at * axes[d].nb_ext[slot[d]] + local[d];
        memcpy(dst + (size_t)j * item, src + (size_t)at * item, (size_t)count * item);
        j += count;
      }
    }
    dst += row_bytes;
    int d = last - 1;
    while (d >= 0 && ++idx[d] == ext[d])
      idx[d--] = 0;
    if (d < 0)
      break;
  }
  const void *in = buf;
  tsr_status status = p.fn(call->output, &out_info, &in, &in_info, 1, p.user);
  tsr_free(ctx, buf);
  return status;
}

typedef struct overlap_node {
  overlap_params p;
  int64_t depth[TSR_MAX_NDIM];
  char name[64]; /* the kernel's name */
} overlap_node;

static tsr_status lower_overlap(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                uint32_t *out) {
  const overlap_node *node = e->params;
  const tsr_chunk_grid *grid = e->grid;
  int ndim = grid->ndim;
  int boundary = node->p.boundary;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, node->name, overlap_kernel, e->ctx, &k));
  size_t bytes = table_at(ndim) + (size_t)node->p.n_combos * sizeof(int32_t);
  unsigned char *params = NULL;
  uint32_t *ids = NULL;
  tsr_status status = TSR_OK;
  TSR__TRY_GOTO(status, tsr_alloc(e->ctx, bytes, (void **)&params));
  TSR__TRY_GOTO(status, tsr__alloc_array(e->ctx, (size_t)node->p.n_combos, sizeof *ids,
                                         "overlap inputs", (void **)&ids));
  /* A user buffer in C order is read in place: "chunks" are then the whole
   * array (offsets 0, extents the array's), at every neighbour slot. */
  overlap_params p = node->p;
  const unsigned char *base = NULL;
  int64_t strides[TSR_MAX_NDIM], expect = 1;
  bool in_memory = tsr__memory_view(e->inputs[0], &base, strides);
  for (int d = ndim - 1; d >= 0 && in_memory; d--) {
    in_memory = strides[d] == expect || grid->shape[d] == 1;
    expect *= grid->shape[d];
  }
  p.memory = in_memory ? base : NULL;
  memcpy(params + params_at(ndim), &p, sizeof p);
  overlap_axis *axes = (overlap_axis *)(params + axes_at(ndim));
  int32_t *table = (int32_t *)(params + table_at(ndim));
  size_t out_item = tsr_dtype_size(e->dtype);
  int64_t n = tsr_chunk_grid_nchunks(grid);
  int32_t active_axis[MAX_ACTIVE];
  for (int d = 0, a = 0; d < ndim; d++)
    if (node->depth[d] > 0)
      active_axis[a++] = d;
  for (int64_t c = 0; c < n; c++) {
    tsr__block *ob = (tsr__block *)params;
    tsr__block_describe(grid, c, out_item, ob);
    /* Neighbour chunk coordinates per axis and slot (-1: none). */
    int64_t coord[TSR_MAX_NDIM], nb[TSR_MAX_NDIM][3];
    int64_t rest = c;
    for (int d = ndim - 1; d >= 0; d--) {
      coord[d] = rest % grid->nchunks[d];
      rest /= grid->nchunks[d];
    }
    for (int d = 0; d < ndim; d++) {
      overlap_axis *ax = &axes[d];
      int64_t kc = coord[d], nc = grid->nchunks[d], depth = node->depth[d];
      memset(ax, 0, sizeof *ax);
      ax->n = grid->shape[d];
      ax->active = -1;
      for (int a = 0; a < node->p.n_active; a++)
        if (active_axis[a] == d)
          ax->active = a;
      bool wrap = boundary == TSR_BOUNDARY_PERIODIC;
      nb[d][1] = kc;
      nb[d][0] = kc > 0 ? kc - 1 : (wrap ? nc - 1 : -1);
      nb[d][2] = kc < nc - 1 ? kc + 1 : (wrap ? 0 : -1);
      bool none = boundary == TSR_BOUNDARY_NONE;
      ax->lo = depth > 0 && !(none && kc == 0) ? depth : 0;
      ax->hi = depth > 0 && !(none && kc == nc - 1) ? depth : 0;
      if (depth == 0)
        nb[d][0] = nb[d][2] = -1;
      for (int s = 0; s < 3; s++)
        if (nb[d][s] >= 0) {
          ax->nb_off[s] = in_memory ? 0 : tsr__grid_offset(grid, d, nb[d][s]);
          ax->nb_ext[s] = in_memory ? ax->n : tsr__grid_extent(grid, d, nb[d][s]);
        }
    }
    /* One input per neighbour combination that exists. */
    uint32_t n_in = 0;
    for (int32_t combo = 0; combo < node->p.n_combos; combo++) {
      int64_t chunk = 0;
      bool exists = true;
      for (int d = 0; d < ndim && exists; d++) {
        int s = axes[d].active >= 0 ? (int)(combo / pow3[axes[d].active] % 3) : 1;
        exists = nb[d][s] >= 0;
        chunk += (exists ? nb[d][s] : 0) * grid->stride[d];
      }
      table[combo] = exists ? (in_memory ? 0 : (int32_t)n_in) : -1;
      if (exists && !in_memory)
        ids[n_in++] = in[0][chunk];
    }
    TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, k, ids, n_in, params, bytes,
                                                 (size_t)tsr__block_size(ob) * out_item, &out[c]));
  }
fail:
  tsr_free(e->ctx, params);
  tsr_free(e->ctx, ids);
  return status;
}

/* The user's function and data are pointers: the boundary, its constant
 * and the depths are hashed. */
static void hash_overlap(const tsr__expr *e, tsr__hash *h) {
  const overlap_node *node = e->params;
  int32_t head[4] = {node->p.boundary, node->p.itemsize, node->p.n_active, node->p.n_combos};
  tsr__hash_bytes(h, head, sizeof head);
  size_t item = (size_t)node->p.itemsize;
  tsr__hash_bytes(h, node->p.constant, item < sizeof node->p.constant ? item : 8);
  tsr__hash_i64s(h, node->depth, e->grid->ndim);
  tsr__hash_str(h, node->name);
}

static const tsr__op op_overlap = {"map-overlap", lower_overlap, NULL, false, NULL, hash_overlap};

tsr_status tsr_map_overlap(tsr_array *a, const int64_t *depth, tsr_boundary boundary,
                           double constant, tsr_block_fn fn, void *user, tsr_dtype out_dtype,
                           tsr_array **out) {
  return tsr_map_overlap_ex(a, depth, boundary, constant, fn, user, out_dtype, NULL, out);
}

tsr_status tsr_map_overlap_ex(tsr_array *a, const int64_t *depth, tsr_boundary boundary,
                              double constant, tsr_block_fn fn, void *user, tsr_dtype out_dtype,
                              const tsr_map_options *options, tsr_array **out) {
  char name[96], kname[64];
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_map_overlap: out is NULL");
  *out = NULL;
  TSR_TRY(tsr__map_name("tsr_map_overlap", options, "map-overlap", kname, name, sizeof name));
  TSR_CHECK(options == NULL ||
                (options->chunks == NULL && options->n_drop_axis == 0 && options->n_new_axis == 0),
            TSR_EINVAL,
            "%s: options->chunks, drop_axis and new_axis are for tsr_map_blocks_ex; "
            "map_overlap keeps a's shape and chunks",
            name);
  TSR_CHECK(a != NULL, TSR_EINVAL, "%s: a is NULL", name);
  TSR_CHECK(fn != NULL, TSR_EINVAL, "%s: fn is NULL", name);
  const tsr__expr *x = a->expr;
  const tsr_chunk_grid *grid = x->grid;
  int ndim = grid->ndim;
  TSR_CHECK(ndim == 0 || depth != NULL, TSR_EINVAL, "%s: depth is NULL", name);
  TSR_CHECK(tsr_dtype_valid(out_dtype), TSR_EINVAL, "%s: out_dtype = %d is not a tsr_dtype", name,
            (int)out_dtype);
  TSR_CHECK(boundary >= TSR_BOUNDARY_NONE && boundary <= TSR_BOUNDARY_NEAREST, TSR_EINVAL,
            "%s: boundary = %d is not a tsr_boundary", name, (int)boundary);
  TSR_CHECK(boundary != TSR_BOUNDARY_CONSTANT || tsr__value_fits(x->dtype, constant), TSR_EINVAL,
            "%s: constant %.17g does not fit %s", name, constant, tsr_dtype_name(x->dtype));
  bool empty = tsr_array_size(a) == 0;
  overlap_node node;
  memset(&node, 0, sizeof node);
  int n_active = 0;
  for (int d = 0; d < ndim; d++) {
    TSR_CHECK(depth[d] >= 0, TSR_EINVAL, "%s: depth[%d] = %lld is negative (axis %d)", name, d,
              (long long)depth[d], d);
    int64_t smallest = INT64_MAX;
    if (grid->offsets[d] == NULL) /* regular: the last chunk is the smallest */
      smallest = tsr__grid_extent(grid, d, grid->nchunks[d] - 1);
    for (int64_t i = 0; grid->offsets[d] != NULL && i < grid->nchunks[d]; i++) {
      int64_t extent = tsr__grid_extent(grid, d, i);
      smallest = extent < smallest ? extent : smallest;
    }
    TSR_CHECK(empty || depth[d] <= smallest, TSR_EINVAL,
              "%s: depth[%d] = %lld exceeds the smallest chunk extent %lld of axis %d; rechunk "
              "first",
              name, d, (long long)depth[d], (long long)smallest, d);
    node.depth[d] = empty ? 0 : depth[d]; /* an empty array has nothing to exchange */
    n_active += node.depth[d] > 0;
  }
  TSR_CHECK(n_active <= MAX_ACTIVE, TSR_ENOTSUP,
            "%s: a halo on %d axes is not supported (at most %d axes may have depth > 0)", name,
            n_active, MAX_ACTIVE);
  node.p.fn = fn;
  node.p.user = user;
  node.p.boundary = (int32_t)boundary;
  node.p.itemsize = (int32_t)tsr_dtype_size(x->dtype);
  node.p.n_active = n_active;
  node.p.n_combos = (int32_t)pow3[n_active];
  if (boundary == TSR_BOUNDARY_CONSTANT)
    tsr__value_store(x->dtype, constant, node.p.constant);
  tsr_ctx *ctx = x->ctx;
  tsr_chunk_grid *g = NULL;
  overlap_node *params = NULL;
  TSR_TRY(tsr__grid_copy(ctx, grid, &g));
  tsr_status status = tsr_alloc(ctx, sizeof *params, (void **)&params);
  if (status != TSR_OK) {
    tsr_chunk_grid_destroy(&g);
    return status;
  }
  memcpy(params, &node, sizeof node);
  memcpy(params->name, kname, sizeof kname);
  params->p.name = params->name;
  tsr__expr *e;
  tsr__expr *input = a->expr;
  TSR_TRY(tsr__expr_create(ctx, &op_overlap, out_dtype, g, 1, &input, params, &e));
  return tsr__array_wrap(e, out);
}
