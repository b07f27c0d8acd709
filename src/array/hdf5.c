/* hdf5.c — arrays in HDF5 files (tessera/io.h): the source node reading a
 * dataset, and tsr_store_hdf5, which lowers the arrays into one task graph
 * with one write task per chunk.  The HDF5 work itself (direct chunk I/O,
 * parallel (de)compression, the global HDF5 lock, atomic outputs) lives in
 * io/hdf5.c; this file only plans chunks and tasks.
 *
 * Reads: one task per array chunk; each reads its box (io decides between
 * direct chunk reads inflated on the worker and hyperslab reads).  The node
 * keeps the dataset open from creation until its destruction.  A slice of a
 * read node becomes a read node of the sub-box it touches (tsr__h5_read_box,
 * sharing the open dataset), so `x[5, 100:200]` reads only the file chunks
 * holding those elements, not the large chunks of x around them.
 *
 * Stores: each array is first rechunked (lazily, in the same graph) to the
 * dataset's uniform chunk shape, so every write task holds exactly one file
 * chunk and can compress it on its own thread.
 *
 * Under MPI every rank opens an input file read-only and reads the chunks
 * it owns.  A store of uncompressed datasets to a new file is written by
 * every rank, each its own chunks, through MPI-IO (parallel HDF5); with
 * compression (HDF5's MPI build cannot write compressed chunks directly
 * through MPI-IO, docs/architecture.md "I/O") or into an existing file it is written by
 * one rank (WRITER), to which the owners send their chunks.  Either way it
 * stays atomic: rank 0 renames the file into place only when every rank's
 * run succeeded. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array_impl.h"
#include "core/atomic_file.h"
#include "dist/dist.h"
#include "io/hdf5_io.h"

#define WRITER 0

/* ---- reading ------------------------------------------------------------- */

/* The open dataset, shared by a read node and the sub-box nodes made from it. */
typedef struct h5_handle {
  tsr__h5_dataset *d;
  _Atomic int64_t refs;
} h5_handle;

typedef struct h5_read_params {
  h5_handle *h;
  uint64_t source; /* hash of the file and dataset names, as the user gave them */
  int ndim;
  int64_t origin[TSR_MAX_NDIM]; /* the node's element 0 in the dataset */
} h5_read_params;

static void handle_release(h5_handle **h) {
  if (*h != NULL && atomic_fetch_sub(&(*h)->refs, 1) == 1) {
    tsr__h5_close_read(&(*h)->d);
    free(*h);
  }
  *h = NULL;
}

static tsr_status h5_read_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = call->params;
  const h5_read_params *p = call->user;
  const int64_t *at = tsr__block_offset(b);
  int64_t offset[TSR_MAX_NDIM];
  for (int d = 0; d < p->ndim; d++)
    offset[d] = p->origin[d] + at[d];
  return tsr__h5_read_block(p->h->d, offset, tsr__block_shape(b), call->output);
}

static tsr_status lower_h5_read(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                uint32_t *out) {
  (void)in;
  return tsr__lower_blockwise_source(e, g, "hdf5-read", h5_read_kernel, e->params, NULL, 0, out);
}

static tsr_status chunk_h5_read(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in,
                                int64_t c, uint32_t *task) {
  (void)in;
  return tsr__lower_blockwise_source_chunk(e, g, "hdf5-read", h5_read_kernel, e->params, NULL, 0, c,
                                           task);
}

static void destroy_h5_read(tsr__expr *e) {
  h5_read_params *p = e->params;
  handle_release(&p->h);
}

/* The file and dataset names (ranks reading different files would compute
 * a mixture) and the box's origin; not the file's contents. */
static void hash_h5_read(const tsr__expr *e, tsr__hash *h) {
  const h5_read_params *p = e->params;
  tsr__hash_u64(h, p->source);
  for (int d = 0; d < p->ndim; d++)
    tsr__hash_u64(h, (uint64_t)p->origin[d]);
}

static const tsr__op op_h5_read = {"hdf5-read", lower_h5_read, destroy_h5_read,
                                   false,       chunk_h5_read, hash_h5_read};

/* The default chunks of a chunked dataset: its file chunks, doubled along
 * the axes in turn (first axis first) while a chunk stays within `target`
 * bytes; an axis never grows past its extent.  Every extent is a whole
 * multiple of the file chunk or reaches the end of the axis, so reads stay
 * direct. */
static void file_chunk_multiples(const tsr__h5_info *info, size_t itemsize, uint64_t target,
                                 int64_t *out) {
  uint64_t bytes = itemsize;
  int nd = info->ndim;
  for (int a = 0; a < nd; a++) {
    int64_t ext = info->shape[a] > 0 ? info->shape[a] : 1;
    out[a] = info->chunk[a] < ext ? info->chunk[a] : ext;
    bytes *= (uint64_t)out[a];
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (int a = 0; a < nd; a++) {
      if (out[a] >= info->shape[a])
        continue;
      int64_t next = out[a] * 2 < info->shape[a] ? out[a] * 2 : info->shape[a];
      uint64_t nbytes = bytes / (uint64_t)out[a] * (uint64_t)next;
      if (nbytes > target)
        continue;
      bytes = nbytes;
      out[a] = next;
      grew = true;
    }
  }
}

static tsr_status open_dataset(tsr_ctx *ctx, const char *path, const char *dataset,
                               const int64_t *chunks, tsr_array **out) {
  static const char fn[] = "tsr_array_from_hdf5";
  tsr_status status = TSR_OK;
  tsr__h5_dataset *d = NULL;
  tsr_chunk_grid *grid = NULL;
  h5_read_params *p = NULL;
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "%s: ctx is NULL", fn);
  TSR_CHECK(path != NULL && path[0] != '\0', TSR_EINVAL, "%s: path is NULL or empty", fn);
  TSR_CHECK(dataset != NULL && dataset[0] != '\0', TSR_EINVAL,
            "%s: dataset is NULL or empty (file '%s')", fn, path);
  TSR__TRY_GOTO(status, tsr__h5_open_read(ctx, fn, path, dataset, &d));
  const tsr__h5_info *info = tsr__h5_dataset_info(d);
  if (chunks == NULL && info->chunked) {
    int64_t c[TSR_MAX_NDIM];
    file_chunk_multiples(info, tsr_dtype_size(info->dtype), tsr__chunk_target(ctx), c);
    TSR__TRY_GOTO(status, tsr_chunk_grid_create_uniform(ctx, info->ndim, info->shape, c, &grid));
  } else {
    TSR__TRY_GOTO(
        status, tsr__resolve_chunks(ctx, fn, info->ndim, info->shape, info->dtype, chunks, &grid));
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->h = malloc(sizeof *p->h);
  if (p->h == NULL) {
    tsr_free(ctx, p);
    p = NULL;
    TSR__CHECK_GOTO(status, false, TSR_ENOMEM, "%s: out of memory", fn);
  }
  p->h->d = d;
  atomic_init(&p->h->refs, 1);
  p->ndim = info->ndim;
  d = NULL; /* the node's now, even if creating it fails */
  tsr__hash source = {0};
  tsr__hash_str(&source, path);
  tsr__hash_str(&source, dataset);
  p->source = source.h;
  tsr__expr *e;
  tsr_dtype dtype = info->dtype;
  status = tsr__expr_create(ctx, &op_h5_read, dtype, grid, 0, NULL, p, &e);
  grid = NULL;
  p = NULL;
  if (status != TSR_OK)
    return status;
  return tsr__array_wrap(e, out);
fail:
  tsr_chunk_grid_destroy(&grid);
  tsr__h5_close_read(&d);
  return status;
}

bool tsr_array_hdf5_source(const tsr_array *a, const char **path, const char **dataset) {
  const tsr__expr *e = a != NULL ? a->expr : NULL;
  while (e != NULL && e->op != &op_h5_read && e->n_inputs == 1 &&
         strcmp(e->op->name, "rechunk") == 0) /* --chunks reads in other chunks */
    e = e->inputs[0];
  if (e == NULL || e->op != &op_h5_read)
    return false;
  const h5_read_params *p = e->params;
  for (int d = 0; d < p->ndim; d++)
    if (p->origin[d] != 0 || e->grid->shape[d] != tsr__h5_dataset_info(p->h->d)->shape[d])
      return false; /* a part of the dataset */
  if (path != NULL)
    *path = tsr__h5_dataset_path(p->h->d);
  if (dataset != NULL)
    *dataset = tsr__h5_dataset_name(p->h->d);
  return true;
}

tsr_status tsr_array_from_hdf5(tsr_ctx *ctx, const char *path, const char *dataset,
                               const int64_t *chunks, tsr_array **out) {
  tsr_status status = open_dataset(ctx, path, dataset, chunks, out);
  if (ctx == NULL || out == NULL)
    return status;
  /* Under MPI: a file one rank cannot read fails on every rank. */
  tsr__dist *dist = tsr__dist_get(ctx);
  if (dist == NULL) {
    tsr_array_destroy(out);
    return TSR_EMPI;
  }
  status = tsr__dist_agree(dist, status);
  if (status != TSR_OK)
    tsr_array_destroy(out);
  return status;
}

/* Past this many chunks a sub-box node is not made (its grid would cost
 * memory per chunk); the slice then reads the node's own chunks. */
#define MAX_SUBBOX_CHUNKS (INT64_C(1) << 16)

tsr_status tsr__h5_read_box(const tsr__expr *e, const int64_t *lo, const int64_t *hi,
                            tsr__expr **out) {
  *out = NULL;
  if (e->op != &op_h5_read)
    return TSR_OK;
  const h5_read_params *p = e->params;
  const tsr_chunk_grid *g = e->grid;
  int nd = g->ndim;
  bool whole = true;
  int64_t first[TSR_MAX_NDIM], count[TSR_MAX_NDIM], total = 1;
  for (int d = 0; d < nd; d++) {
    if (lo[d] >= hi[d])
      return TSR_OK; /* empty: nothing to read anyway */
    whole = whole && lo[d] == 0 && hi[d] == g->shape[d];
    first[d] = tsr__grid_locate_axis(g, d, lo[d]);
    count[d] = tsr__grid_locate_axis(g, d, hi[d] - 1) - first[d] + 1;
    if (count[d] > MAX_SUBBOX_CHUNKS / total)
      return TSR_OK;
    total *= count[d];
  }
  if (whole)
    return TSR_OK;
  tsr_ctx *ctx = e->ctx;
  tsr_status status = TSR_OK;
  int64_t *offsets[TSR_MAX_NDIM] = {NULL};
  tsr_chunk_grid *grid = NULL;
  h5_read_params *q = NULL;
  /* The node's chunk boundaries inside the box, relative to its corner. */
  for (int d = 0; d < nd; d++) {
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)count[d] + 1, sizeof(int64_t),
                                           "sub-box chunks", (void **)&offsets[d]));
    offsets[d][0] = 0;
    for (int64_t k = 1; k < count[d]; k++)
      offsets[d][k] = tsr__grid_offset(g, d, first[d] + k) - lo[d];
    offsets[d][count[d]] = hi[d] - lo[d];
  }
  TSR__TRY_GOTO(status,
                tsr__grid_from_offsets(ctx, nd, (const int64_t *const *)offsets, count, &grid));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *q, (void **)&q));
  *q = *p;
  for (int d = 0; d < nd; d++)
    q->origin[d] = p->origin[d] + lo[d];
  atomic_fetch_add(&q->h->refs, 1);
  status = tsr__expr_create(ctx, &op_h5_read, e->dtype, grid, 0, NULL, q, out);
  grid = NULL;
fail:
  tsr_chunk_grid_destroy(&grid);
  for (int d = 0; d < nd; d++)
    tsr_free(ctx, offsets[d]);
  return status;
}

/* ---- storing --------------------------------------------------------------- */

static tsr_status h5_write_kernel(const tsr_kernel_call *call) {
  const tsr__block *b = call->params;
  return tsr__h5_write_block(call->user, tsr__block_offset(b), tsr__block_shape(b),
                             call->inputs[0]);
}

/* One write task per chunk; on WRITER when `funnel`, else on the chunk's
 * owner (where it is computed). */
static tsr_status add_writes(tsr_taskgraph *g, const tsr__expr *e, const uint32_t *ids,
                             tsr__h5_dataset *d, bool funnel) {
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "hdf5-write", h5_write_kernel, d, &k));
  int ndim = e->grid->ndim;
  _Alignas(16) unsigned char params[sizeof(tsr__block) + 3 * TSR_MAX_NDIM * sizeof(int64_t)];
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  for (int64_t c = 0; c < n; c++) {
    tsr__block_describe(e->grid, c, tsr_dtype_size(e->dtype), (tsr__block *)params);
    uint32_t t;
    TSR_TRY(tsr_taskgraph_add_task(g, k, &ids[c], 1, params, tsr__block_bytes(ndim), 0, &t));
    TSR_TRY(tsr_taskgraph_set_owner(g, t, funnel ? WRITER : tsr__dist_chunk_owner(e->ctx, c, n)));
  }
  return TSR_OK;
}

static const char *skip_slashes(const char *s) {
  while (*s == '/')
    s++;
  return s;
}

static tsr_status check_store_args(tsr_ctx *ctx, size_t n, tsr_array *const *arrays,
                                   const char *path, const char *const *datasets,
                                   const tsr_hdf5_store_options *o) {
  static const char fn[] = "tsr_store_hdf5";
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "%s: ctx is NULL", fn);
  TSR_CHECK(path != NULL && path[0] != '\0', TSR_EINVAL, "%s: path is NULL or empty", fn);
  TSR_CHECK(n > 0 && arrays != NULL && datasets != NULL, TSR_EINVAL,
            "%s: no arrays or datasets to store in '%s'", fn, path);
  for (size_t i = 0; i < n; i++) {
    TSR_CHECK(arrays[i] != NULL, TSR_EINVAL, "%s: arrays[%zu] is NULL ('%s')", fn, i, path);
    TSR_CHECK(arrays[i]->expr->ctx == ctx, TSR_EINVAL,
              "%s: arrays[%zu] belongs to another context ('%s')", fn, i, path);
    TSR_CHECK(datasets[i] != NULL && skip_slashes(datasets[i])[0] != '\0', TSR_EINVAL,
              "%s: datasets[%zu] is NULL or empty ('%s')", fn, i, path);
    for (size_t j = 0; j < i; j++)
      TSR_CHECK(strcmp(skip_slashes(datasets[i]), skip_slashes(datasets[j])) != 0, TSR_EINVAL,
                "%s: dataset '%s' in '%s' is named twice", fn, datasets[i], path);
    const int *lv = o->deflate_levels;
    TSR_CHECK(lv == NULL || (lv[i] >= -1 && lv[i] <= 9), TSR_EINVAL,
              "%s: deflate_levels[%zu] = %d for dataset '%s' in '%s' must be from -1 to 9", fn, i,
              lv != NULL ? lv[i] : 0, datasets[i], path);
    size_t na = o->attributes != NULL && o->n_attributes != NULL ? o->n_attributes[i] : 0;
    const tsr_attr *at = na > 0 ? o->attributes[i] : NULL;
    TSR_CHECK(na == 0 || at != NULL, TSR_EINVAL,
              "%s: attributes[%zu] is NULL but n_attributes[%zu] = %zu (dataset '%s' in '%s')", fn,
              i, i, na, datasets[i], path);
    for (size_t k = 0; k < na; k++) {
      TSR_CHECK(at[k].name != NULL && at[k].name[0] != '\0', TSR_EINVAL,
                "%s: attribute %zu of dataset '%s' in '%s' has no name", fn, k, datasets[i], path);
      TSR_CHECK(at[k].type == TSR_ATTR_STRING || at[k].type == TSR_ATTR_FLOAT64 ||
                    at[k].type == TSR_ATTR_INT64,
                TSR_EINVAL,
                "%s: attribute '%s' of dataset '%s' in '%s': type %d cannot be written (a "
                "string, float64 or int64)",
                fn, at[k].name, datasets[i], path, (int)at[k].type);
      TSR_CHECK(at[k].type != TSR_ATTR_STRING || at[k].string != NULL, TSR_EINVAL,
                "%s: attribute '%s' of dataset '%s' in '%s' is a string but its text is NULL", fn,
                at[k].name, datasets[i], path);
      for (size_t j = 0; j < k; j++)
        TSR_CHECK(strcmp(at[j].name, at[k].name) != 0, TSR_EINVAL,
                  "%s: attribute '%s' of dataset '%s' in '%s' is given twice", fn, at[k].name,
                  datasets[i], path);
    }
    const int64_t *c = o->chunks != NULL ? o->chunks[i] : NULL;
    for (int a = 0; c != NULL && a < arrays[i]->expr->grid->ndim; a++)
      TSR_CHECK(c[a] >= 1, TSR_EINVAL,
                "%s: chunks[%zu][%d] = %lld for dataset '%s' in '%s' must be >= 1", fn, i, a,
                (long long)c[a], datasets[i], path);
  }
  TSR_CHECK(o->deflate_level >= 0 && o->deflate_level <= 9, TSR_EINVAL,
            "%s: deflate_level = %d must be from 0 to 9 ('%s')", fn, o->deflate_level, path);
  TSR_CHECK(o->mode == TSR_HDF5_REPLACE || o->mode == TSR_HDF5_EXCLUSIVE ||
                o->mode == TSR_HDF5_APPEND || o->mode == TSR_HDF5_OVERWRITE,
            TSR_EINVAL, "%s: mode = %d is not a tsr_hdf5_mode ('%s')", fn, (int)o->mode, path);
  return TSR_OK;
}

/* Dataset i's deflate level (checked). */
static int level_of(const tsr_hdf5_store_options *o, size_t i) {
  return o->deflate_levels != NULL && o->deflate_levels[i] >= 0 ? o->deflate_levels[i]
                                                                : o->deflate_level;
}

/* The default file chunk extent of an axis of `extent` elements whose
 * largest array chunk is `largest`: that chunk, unless its whole chunks
 * would overhang the axis by more than an eighth (HDF5 stores edge chunks
 * whole: chunks [20000, 1] stored as 20000 made a file twice its data);
 * then the same number of chunks, balanced, which tile it. */
static int64_t file_chunk_extent(int64_t extent, int64_t largest) {
  int64_t n = (extent + largest - 1) / largest;
  if (n * largest - extent <= extent / 8)
    return largest;
  return (extent + n - 1) / n;
}

/* The dataset's chunk shape for array e (options', else per axis the
 * largest chunk, balanced when it would not tile the axis) and the array
 * rechunked to it (a new reference). */
static tsr_status plan_dataset(const tsr__expr *in, const int64_t *want, int64_t *chunk,
                               tsr__expr **out) {
  const tsr_chunk_grid *grid = in->grid;
  int nd = grid->ndim;
  int64_t size = 1;
  for (int a = 0; a < nd; a++) {
    int64_t ext = grid->shape[a];
    size *= ext;
    if (want != NULL) {
      chunk[a] = want[a] < ext ? want[a] : ext;
    } else {
      chunk[a] = ext > 0 ? file_chunk_extent(ext, tsr__grid_max_extent(grid, a)) : 1;
    }
    if (chunk[a] < 1)
      chunk[a] = 1;
  }
  if (nd == 0 || size == 0) { /* contiguous: any chunking will do */
    tsr__expr_retain((tsr__expr *)in);
    *out = (tsr__expr *)in;
    return TSR_OK;
  }
  tsr_chunk_grid *uniform;
  TSR_TRY(tsr_chunk_grid_create_uniform(in->ctx, nd, grid->shape, chunk, &uniform));
  tsr_status status = tsr__rechunk_expr((tsr__expr *)in, uniform, out);
  tsr_chunk_grid_destroy(&uniform);
  return status;
}

/* Collective: rank 0 makes the temporary file, every rank opens it with
 * MPI-IO. */
static tsr_status open_parallel(tsr_ctx *ctx, tsr__dist *dist, const char *path, tsr_hdf5_mode mode,
                                tsr__h5_file **f) {
  char tmp[4096] = "";
  char *made = NULL;
  tsr_status status = TSR_OK;
  bool renamer = tsr__dist_rank(dist) == 0;
  if (renamer) {
    status = tsr__h5_tmp_create(ctx, path, mode, &made);
    if (status == TSR_OK && strlen(made) >= sizeof tmp)
      status = tsr_error_set(TSR_EINVAL, "tsr_store_hdf5: the path '%s' is too long", path);
    if (status == TSR_OK)
      snprintf(tmp, sizeof tmp, "%s", made);
    else if (made != NULL)
      tsr__tmp_remove(made);
    tsr_free(ctx, made);
  }
  TSR_TRY(tsr__dist_agree(dist, status));
  TSR_TRY(tsr__dist_bcast(dist, tmp, sizeof tmp, 0));
  status = tsr__h5_file_create_parallel(ctx, path, tmp, mode, tsr__dist_comm(dist), renamer, f);
  status = tsr__dist_agree(dist, status);
  if (status != TSR_OK && renamer)
    tsr__tmp_remove(tmp);
  return status;
}

tsr_status tsr_store_hdf5(tsr_ctx *ctx, size_t n, tsr_array *const *arrays, const char *path,
                          const char *const *datasets, const tsr_hdf5_store_options *options) {
  tsr_hdf5_store_options o = {0};
  if (options != NULL)
    o = *options;
  TSR_TRY(check_store_args(ctx, n, arrays, path, datasets, &o));
  const tsr_compute_options *side = o.compute;
  for (int k = 0; side != NULL && k < 2; k++) { /* a trace or graph over the output: refused */
    const char *p = k == 0 ? side->run.trace_path : side->dot_path;
    TSR_CHECK(p == NULL || !tsr__same_file(p, path), TSR_EINVAL,
              "tsr_store_hdf5: the %s file '%s' is the output file '%s'",
              k == 0 ? "trace" : "graph", p, path);
  }
  tsr_status status = TSR_OK;
  tsr__expr **exprs = NULL;
  tsr__h5_file *f = NULL;
  tsr_taskgraph *g = NULL;
  tsr__lowering *l = NULL;
  tsr__plan *plan = NULL;
  int64_t(*chunks)[TSR_MAX_NDIM] = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, n, sizeof *exprs, (void **)&exprs));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, n, sizeof *chunks, "chunk shapes", (void **)&chunks));
  for (size_t i = 0; i < n; i++)
    TSR__TRY_GOTO(
        status, plan_dataset(arrays[i]->expr, o.chunks ? o.chunks[i] : NULL, chunks[i], &exprs[i]));
  /* Under MPI, every step that may fail on some ranks only is agreed on,
   * so every rank returns the same status.  Uncompressed datasets are
   * written by every rank, each its own chunks, through MPI-IO (parallel
   * HDF5); compressed ones (HDF5 1.10 cannot write filtered chunks
   * independently) and additions to an existing file are written by one
   * rank (WRITER), to which the owners send their chunks. */
  tsr__dist *dist = tsr__dist_get(ctx);
  if (dist == NULL)
    TSR__TRY_GOTO(status, TSR_EMPI);
  /* A new file (whatever the mode) is written in parallel; adding to an
   * existing one copies it, on WRITER.  Rank 0 looks, every rank follows. */
  int new_file = 0;
  bool compressed = false;
  for (size_t i = 0; i < n; i++)
    compressed = compressed || level_of(&o, i) != 0;
  if (tsr__dist_size(dist) > 1 && !compressed && tsr__dist_thread_multiple(dist)) {
    new_file =
        o.mode == TSR_HDF5_EXCLUSIVE || o.mode == TSR_HDF5_REPLACE || access(path, F_OK) != 0;
    TSR__TRY_GOTO(status, tsr__dist_bcast(dist, &new_file, sizeof new_file, 0));
  }
  bool parallel = new_file != 0;
  bool writer = parallel || tsr__dist_rank(dist) == WRITER;
  if (parallel)
    TSR__TRY_GOTO(status, open_parallel(ctx, dist, path, o.mode, &f));
  else if (writer)
    status = tsr__h5_file_create(ctx, path, o.mode, &f);
  if (status == TSR_OK)
    status = tsr_taskgraph_create(ctx, &g);
  if (status == TSR_OK)
    status = tsr__lowering_create(ctx, g, &l);
  if (status == TSR_OK) /* shared intermediates, joint reductions (share.c) */
    status = tsr__plan_create(ctx, l, n, exprs, &plan);
  for (size_t i = 0; i < n && status == TSR_OK; i++) {
    const tsr__expr *e = exprs[i];
    tsr__h5_dataset *d = NULL;
    if (writer)
      status = tsr__h5_file_add(f, datasets[i], e->dtype, e->grid->ndim, e->grid->shape, chunks[i],
                                level_of(&o, i), o.shuffle, &d);
    const uint32_t *ids;
    size_t na = o.attributes != NULL && o.n_attributes != NULL ? o.n_attributes[i] : 0;
    if (status == TSR_OK && writer && na > 0)
      status = tsr__h5_dataset_write_attrs(d, o.attributes[i], na);
    if (status == TSR_OK)
      status = tsr__lowering_lower(l, exprs[i], &ids);
    if (status == TSR_OK)
      status = add_writes(g, e, ids, d, !parallel);
  }
  tsr__lowering_destroy(&l);
  const tsr_compute_options *co = o.compute;
  if (status == TSR_OK && co != NULL && co->dot_path != NULL)
    status = tsr_taskgraph_write_dot(g, co->dot_path);
  TSR__TRY_GOTO(status, tsr__dist_agree(dist, status));
  TSR__TRY_GOTO(status, tsr_taskgraph_run_ex(g, co ? &co->run : NULL));
  if (co != NULL && co->on_stats != NULL)
    co->on_stats(tsr_taskgraph_stats(g), co->stats_user);
  tsr_taskgraph_destroy(&g);
  tsr__plan_destroy(ctx, &plan);
  if (writer)
    status = tsr__h5_file_commit(&f);
  status = tsr__dist_agree(dist, status);
  if (parallel) /* every rank closed the file: rank 0 puts it in place */
    status = tsr__dist_agree(dist, tsr__h5_file_publish(&f, status == TSR_OK));
fail:
  tsr__h5_file_abort(&f);
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&g);
  tsr__plan_destroy(ctx, &plan);
  for (size_t i = 0; exprs != NULL && i < n; i++)
    tsr__expr_release(&exprs[i]);
  tsr_free(ctx, exprs);
  tsr_free(ctx, chunks);
  return status;
}
