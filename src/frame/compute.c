/* compute.c — computing frames: into memory (a tsr_frame_result that keeps
 * the task graph's output chunks and reads them in place), persisting them,
 * and row counts.
 *
 * A compute lowers the node of every column (a node holding several of the
 * frame's columns is lowered once: its table chunks are the result's
 * chunks, no copy) and keeps their chunk tasks.  Under MPI a result is held
 * one of two ways:
 *   whole    tsr_frame_compute: every rank holds the whole result, as
 *            arrays' stores do: a task every rank runs reads each chunk,
 *            which is then made or received on every rank and kept there
 *            (a chunk made on one rank is first cut there to the frame's
 *            columns, when its node holds others; a chunk whose task makes
 *            more than its bytes is copied by a task every rank runs);
 *   by owner tsr_frame_persist (and row counts): each chunk stays on the
 *            rank that made it (a task whose owner was left to the
 *            scheduler is copied to the chunk's owner, tsr__dist_chunk_owner),
 *            so nothing moves but the chunks the computation itself needs;
 *            later graphs read each chunk there (tsr__frame_add_held), as
 *            arrays' persisted chunks. */
#include <string.h>

#include <tessera/dist.h>

#include "dist/dist.h"
#include "frame_impl.h"
#include "sched/taskgraph_impl.h" /* TSR__TASK_EXTERNAL, task owners */

struct tsr_frame_result {
  _Atomic uint32_t refs; /* the caller's, and each persisted node's */
  tsr_ctx *ctx;
  tsr_taskgraph *g;
  int ncols;
  tsr__col *cols;  /* names and types; node: only a node whose chunks the result
                      borrows (below), retained */
  int64_t nchunks;
  int64_t nrows;
  uint32_t *tasks;   /* ncols x nchunks: the task holding column i's chunk c */
  int64_t *row_off;  /* nchunks + 1: first row of each chunk */
  int32_t *owner;    /* held by owner: ncols x nchunks, the rank holding column i's
                        chunk c; NULL: whole on every rank */
  int ranks, me;     /* with owner: the ranks, and this one */
};

static tsr_status copy_kernel(const tsr_kernel_call *call) {
  memcpy(call->output, call->inputs[0], call->output_bytes);
  return TSR_OK;
}

/* Lowers the frame's first ncols columns; tasks[i * nchunks + c] receives
 * the task that holds column i's chunk c (kept).  Under MPI: with `owner`
 * NULL every rank holds it (whole; readers receives the tasks every rank
 * runs to that end, *nreaders of them), else owner[i * nchunks + c]
 * receives the rank that holds it (by owner). */
static tsr_status lower_columns(tsr_frame *f, tsr_taskgraph *g, int ncols, uint32_t *tasks,
                                int32_t *owner, uint32_t *readers, uint32_t *nreaders) {
  tsr_status status = TSR_OK;
  tsr__lowering *l = NULL;
  int64_t nchunks = f->rows->nchunks;
  bool mpi = tsr_ctx_nranks(f->ctx) > 1, copies = mpi && owner == NULL;
  uint32_t copy_k = 0;
  bool *used = NULL; /* whole: per slot of a column's node, whether the frame reads it */
  *nreaders = 0;
  TSR__TRY_GOTO(status, tsr__lowering_create(f->ctx, g, &l));
  for (int i = 0; i < ncols; i++) {
    const uint32_t *ids;
    TSR__TRY_GOTO(status, tsr__lowering_lower(l, f->cols[i].node, &ids));
    memcpy(tasks + (int64_t)i * nchunks, ids, (size_t)nchunks * sizeof *ids);
  }
  if (mpi)
    TSR__TRY_GOTO(status, tsr_taskgraph_add_kernel(g, copies ? "gather" : "hold", copy_kernel, NULL,
                                                   &copy_k));
  for (int i = 0; i < ncols; i++) {
    /* Columns of one node share their tasks (and copies). */
    int same = -1;
    for (int j = 0; j < i && same < 0; j++)
      if (f->cols[j].node == f->cols[i].node)
        same = j;
    uint32_t *t = tasks + (int64_t)i * nchunks;
    if (same >= 0) {
      memcpy(t, tasks + (int64_t)same * nchunks, (size_t)nchunks * sizeof *t);
      if (mpi && !copies)
        memcpy(owner + (int64_t)i * nchunks, owner + (int64_t)same * nchunks,
               (size_t)nchunks * sizeof *owner);
      continue;
    }
    bool fnode = !f->cols[i].raw && tsr__is_fnode(f->cols[i].node);
    if (copies && fnode) { /* whole: the node's slots the frame reads (only they are sent) */
      uint32_t slots = tsr__fnode_of(f->cols[i].node)->ncols;
      tsr_free(f->ctx, used);
      used = NULL;
      TSR__TRY_GOTO(status, tsr_calloc(f->ctx, (size_t)slots + 1, sizeof *used, (void **)&used));
      for (int j = i; j < ncols; j++)
        if (f->cols[j].node == f->cols[i].node && f->cols[j].slot < slots)
          used[f->cols[j].slot] = true;
    }
    for (int64_t c = 0; c < nchunks; c++) {
      /* By owner: the chunk stays where it is made; one made on every
       * rank, or where read, is copied on its owner. */
      int32_t o = mpi && !copies ? tsr__taskgraph_placed_on(g, t[c]) : 0;
      bool copied = copies || (mpi && o < 0);
      if (mpi && !copies && o < 0)
        o = tsr__dist_chunk_owner(f->ctx, c, nchunks);
      if (mpi && !copies)
        owner[(int64_t)i * nchunks + c] = o;
      if (copied) {
        const void *unused;
        size_t bytes = 0;
        (void)unused;
        uint64_t b = 0;
        if (f->cols[i].raw)
          b = (uint64_t)tsr_chunk_grid_chunk_extent(f->cols[i].node->grid, 0, c) *
              tsr_type_width(f->cols[i].type);
        else
          TSR__TRY_GOTO(status, tsr__fnode_chunk_bytes(f->cols[i].node, c, &b));
        bytes = (size_t)b;
        uint32_t made_by = t[c];
        int32_t made = copies && fnode ? tsr__taskgraph_placed_on(g, made_by) : -1;
        if (made >= 0) /* cut where made to the columns read (unchanged when all are) */
          TSR__TRY_GOTO(
              status, tsr__fnode_add_projection(g, f->cols[i].node, c, made_by, used, made, &t[c]));
        if (copies && (t[c] != made_by || g->tasks[t[c]].out_bytes == b)) {
          /* kept where made (or cut) or received */
          TSR__TRY_GOTO(status, tsr__frame_read_everywhere(g, t[c], &readers[(*nreaders)++]));
        } else {
          uint32_t copy;
          TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, copy_k, &t[c], 1, NULL, 0, bytes, &copy));
          TSR__TRY_GOTO(status, tsr_taskgraph_set_owner(g, copy, copies ? TSR_OWNER_ALL : o));
          t[c] = copy;
        }
      }
      TSR__TRY_GOTO(status, tsr_taskgraph_keep(g, t[c]));
    }
  }
fail:
  tsr__lowering_destroy(&l);
  tsr_free(f->ctx, used);
  return status;
}

/* Lowers, culls to the kept tasks and runs. */
static tsr_status run_columns(tsr_frame *f, tsr_taskgraph *g, int ncols, uint32_t *tasks,
                              int32_t *owner, const tsr_compute_options *options) {
  const size_t n = (size_t)ncols * (size_t)f->rows->nchunks;
  uint32_t *wanted = NULL, nreaders = 0; /* the kept tasks, then the readers */
  tsr_status status =
      tsr__alloc_array(f->ctx, 2 * n + 1, sizeof *wanted, "wanted tasks", (void **)&wanted);
  if (status == TSR_OK)
    status = lower_columns(f, g, ncols, tasks, owner, wanted + n, &nreaders);
  bool ran = false;
  if (status == TSR_OK) {
    memcpy(wanted, tasks, n * sizeof *wanted);
    status = tsr_taskgraph_cull(g, wanted, (uint32_t)(n + nreaders));
  }
  tsr_free(f->ctx, wanted);
  if (status == TSR_OK && options != NULL && options->dot_path != NULL)
    status = tsr_taskgraph_write_dot(g, options->dot_path);
  if (status == TSR_OK) {
    ran = true;
    status = tsr_taskgraph_run_ex(g, options ? &options->run : NULL);
  }
  if (status == TSR_OK && options != NULL && options->on_stats != NULL)
    options->on_stats(tsr_taskgraph_stats(g), options->stats_user);
  if (!ran)
    status = tsr_ctx_agree(f->ctx, status);
  return status;
}

static int64_t chunk_rows(const tsr_taskgraph *g, const tsr__col *col, uint32_t task) {
  const void *data;
  size_t bytes;
  if (tsr_taskgraph_output(g, task, &data, &bytes) != TSR_OK)
    return 0;
  if (col->raw)
    return (int64_t)(bytes / tsr_type_width(col->type));
  return tsr__tablechunk_col(data, col->slot)->rows;
}

/* counts[c] = the rows of chunk c of column col (tasks: its chunk tasks;
 * owner: who holds each under MPI, NULL: every rank).  Collective under
 * MPI when owner is set. */
static tsr_status chunk_counts(tsr_frame *f, const tsr_taskgraph *g, const tsr__col *col,
                               const uint32_t *tasks, const int32_t *owner, int64_t *counts) {
  int64_t n = f->rows->nchunks;
  int me = tsr_ctx_rank(f->ctx);
  for (int64_t c = 0; c < n; c++)
    counts[c] = owner == NULL || owner[c] == me ? chunk_rows(g, col, tasks[c]) : 0;
  return owner == NULL ? TSR_OK : tsr__dist_sum_i64s(tsr__dist_get(f->ctx), counts, n);
}

tsr_status tsr_frame_nrows(tsr_frame *f, int64_t *rows) {
  static const char fn[] = "tsr_frame_nrows";
  TSR_CHECK(f != NULL && rows != NULL, TSR_EINVAL, "%s: frame or rows is NULL", fn);
  if (f->rows->total >= 0) {
    *rows = f->rows->total;
    return TSR_OK;
  }
  TSR_CHECK(f->ncols > 0, TSR_EINVAL, "%s: the frame has no columns", fn);
  int64_t n = f->rows->nchunks;
  tsr_taskgraph *g = NULL;
  uint32_t *tasks = NULL;
  int64_t *counts = NULL;
  int32_t *owner = NULL; /* under MPI each chunk is counted where it is made */
  bool ran = false;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr_taskgraph_create(f->ctx, &g));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(f->ctx, (size_t)n + 1, sizeof *tasks, "tasks", (void **)&tasks));
  TSR__TRY_GOTO(status, tsr__alloc_array(f->ctx, (size_t)n + 1, sizeof *counts, "row counts",
                                         (void **)&counts));
  if (tsr_ctx_nranks(f->ctx) > 1)
    TSR__TRY_GOTO(status, tsr__alloc_array(f->ctx, (size_t)n + 1, sizeof *owner, "chunk owners",
                                           (void **)&owner));
  ran = true; /* run_columns agrees on the failures before its run */
  TSR__TRY_GOTO(status, run_columns(f, g, 1, tasks, owner, NULL));
  TSR__TRY_GOTO(status, chunk_counts(f, g, &f->cols[0], tasks, owner, counts));
  TSR__TRY_GOTO(status, tsr__rows_set_counts(f->rows, counts));
  *rows = f->rows->total;
fail:
  if (!ran && tsr_ctx_nranks(f->ctx) > 1)
    status = tsr_ctx_agree(f->ctx, status);
  tsr_free(f->ctx, owner);
  tsr_free(f->ctx, counts);
  tsr_free(f->ctx, tasks);
  tsr_taskgraph_destroy(&g);
  return status;
}

void tsr_frame_result_destroy(tsr_frame_result **rp) {
  if (rp == NULL || *rp == NULL)
    return;
  tsr_frame_result *r = *rp;
  *rp = NULL;
  if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
    return;
  for (int i = 0; i < r->ncols; i++) {
    tsr_free(r->ctx, r->cols[i].name);
    tsr__dict_release(&r->cols[i].dict);
    tsr__expr_release(&r->cols[i].node);
  }
  tsr_free(r->ctx, r->cols);
  tsr_free(r->ctx, r->tasks);
  tsr_free(r->ctx, r->row_off);
  tsr_free(r->ctx, r->owner);
  tsr_taskgraph_destroy(&r->g);
  tsr_free(r->ctx, r);
}

/* tsr_frame_compute, or (`whole` false, under MPI) each chunk held by one rank. */
static tsr_status compute(tsr_frame *f, const tsr_compute_options *options, bool whole,
                          const char *fn, tsr_frame_result **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  tsr_ctx *ctx = f->ctx;
  int64_t n = f->rows->nchunks;
  tsr_frame_result *r;
  tsr_status status = tsr_calloc(ctx, 1, sizeof *r, (void **)&r);
  if (status != TSR_OK) /* the others' runs agree first: so does this rank */
    return tsr_ctx_nranks(ctx) > 1 ? tsr_ctx_agree(ctx, status) : status;
  atomic_init(&r->refs, 1);
  r->ctx = ctx;
  r->nchunks = n;
  bool agreed = false; /* until then a failure here is this rank's alone */
  int64_t cells;
  TSR__CHECK_GOTO(status, tsr__size_mul(f->ncols, n, &cells), TSR_EINVAL,
                  "%s: too many chunks", fn);
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)f->ncols + 1, sizeof *r->cols, (void **)&r->cols));
  for (int i = 0; i < f->ncols; i++) {
    size_t len = strlen(f->cols[i].name);
    TSR__TRY_GOTO(status, tsr_alloc(ctx, len + 1, (void **)&r->cols[i].name));
    memcpy(r->cols[i].name, f->cols[i].name, len + 1);
    r->cols[i].type = f->cols[i].type;
    r->cols[i].slot = f->cols[i].slot;
    r->cols[i].raw = f->cols[i].raw;
    r->cols[i].dict = f->cols[i].dict;
    tsr__dict_retain(r->cols[i].dict);
    r->ncols = i + 1;
  }
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)cells + 1, sizeof *r->tasks, "tasks", (void **)&r->tasks));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, sizeof *r->row_off, "row offsets",
                                         (void **)&r->row_off));
  if (!whole && tsr_ctx_nranks(ctx) > 1) {
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)cells + 1, sizeof *r->owner, "chunk owners",
                                           (void **)&r->owner));
    r->ranks = tsr_ctx_nranks(ctx);
    r->me = tsr_ctx_rank(ctx);
  }
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &r->g));
  agreed = true;
  if (f->ncols > 0) {
    TSR__TRY_GOTO(status, run_columns(f, r->g, f->ncols, r->tasks, r->owner, options));
  } else {
    TSR__TRY_GOTO(status, tsr_ctx_agree(ctx, TSR_OK));
  }
  /* A node whose chunks are lowered as buffers it holds (a persisted frame,
   * a group-by's result: tsr_taskgraph_add_buffer) is read in place by the
   * result: keep the node, and so its chunks, alive with the result. */
  for (int i = 0; i < f->ncols; i++)
    for (int64_t c = 0; c < n; c++)
      if (r->g->tasks[r->tasks[(int64_t)i * n + c]].flags & TSR__TASK_EXTERNAL) {
        r->cols[i].node = f->cols[i].node;
        tsr__expr_retain(r->cols[i].node);
        break;
      }
  /* Row counts in row_off[1..n], then summed up. */
  if (f->ncols > 0)
    TSR__TRY_GOTO(status, chunk_counts(f, r->g, &r->cols[0], r->tasks, r->owner, r->row_off + 1));
  r->row_off[0] = 0;
  for (int64_t c = 0; c < n; c++) {
    int64_t rows = f->ncols > 0 ? r->row_off[c + 1] : (f->rows->count ? f->rows->count[c] : 0);
    r->row_off[c + 1] = r->row_off[c] + rows;
  }
  r->nrows = r->row_off[n];
  if (f->rows->count == NULL && f->ncols > 0) {
    int64_t *counts;
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)n + 1, sizeof *counts, "row counts",
                                           (void **)&counts));
    for (int64_t c = 0; c < n; c++)
      counts[c] = r->row_off[c + 1] - r->row_off[c];
    status = tsr__rows_set_counts(f->rows, counts);
    tsr_free(ctx, counts);
    if (status != TSR_OK)
      goto fail;
  }
  *out = r;
  return TSR_OK;
fail:
  if (!agreed && tsr_ctx_nranks(ctx) > 1)
    status = tsr_ctx_agree(ctx, status);
  tsr_frame_result_destroy(&r);
  return status;
}

tsr_status tsr_frame_compute(tsr_frame *f, const tsr_compute_options *options,
                             tsr_frame_result **out) {
  return compute(f, options, true, "tsr_frame_compute", out);
}

int64_t tsr_frame_result_nrows(const tsr_frame_result *r) { return r ? r->nrows : 0; }
int64_t tsr_frame_result_nchunks(const tsr_frame_result *r) { return r ? r->nchunks : 0; }
int tsr_frame_result_ncols(const tsr_frame_result *r) { return r ? r->ncols : 0; }
const char *tsr_frame_result_col_name(const tsr_frame_result *r, int i) {
  return r && i >= 0 && i < r->ncols ? r->cols[i].name : NULL;
}
tsr_type tsr_frame_result_col_type(const tsr_frame_result *r, int i) {
  return r && i >= 0 && i < r->ncols ? r->cols[i].type : (tsr_type){TSR_NUM_COLTYPES, 0};
}

tsr_status tsr_frame_result_chunk(const tsr_frame_result *r, int col, int64_t chunk,
                                  tsr_column_chunk *out) {
  static const char fn[] = "tsr_frame_result_chunk";
  TSR_CHECK(r != NULL && out != NULL, TSR_EINVAL, "%s: result or out is NULL", fn);
  TSR_CHECK(col >= 0 && col < r->ncols, TSR_EINVAL, "%s: column %d is not in 0..%d", fn, col,
            r->ncols - 1);
  TSR_CHECK(chunk >= 0 && chunk < r->nchunks, TSR_EINVAL, "%s: chunk %lld is not in 0..%lld",
            fn, (long long)chunk, (long long)r->nchunks - 1);
  const void *data;
  size_t bytes;
  int64_t cell = (int64_t)col * r->nchunks + chunk;
  TSR_CHECK(r->owner == NULL || r->owner[cell] == r->me, TSR_EINVAL,
            "%s: chunk %lld of column '%s' is held by MPI rank %d, not this one (%d)", fn,
            (long long)chunk, r->cols[col].name, r->owner ? r->owner[cell] : 0, r->me);
  TSR_TRY(tsr_taskgraph_output(r->g, r->tasks[cell], &data, &bytes));
  memset(out, 0, sizeof *out);
  const tsr__col *c = &r->cols[col];
  if (c->raw) {
    out->rows = (int64_t)(bytes / tsr_type_width(c->type));
    out->values = data;
    return TSR_OK;
  }
  tsr__colchunk *cc = tsr__tablechunk_col(data, c->slot);
  out->rows = cc->rows;
  out->null_count = cc->null_count;
  out->values = tsr__colchunk_values(cc);
  out->validity = cc->null_count > 0 ? tsr__colchunk_validity(cc) : NULL;
  out->data = tsr__colchunk_data(cc);
  out->data_bytes = cc->data_bytes;
  return TSR_OK;
}

tsr_status tsr_frame_result_dict(const tsr_frame_result *r, int col, int64_t *size,
                                 const int64_t **offsets, const char **data) {
  static const char fn[] = "tsr_frame_result_dict";
  TSR_CHECK(r != NULL && size != NULL && offsets != NULL && data != NULL, TSR_EINVAL,
            "%s: an argument is NULL", fn);
  TSR_CHECK(col >= 0 && col < r->ncols, TSR_EINVAL, "%s: column %d is not in 0..%d", fn, col,
            r->ncols - 1);
  TSR_CHECK(r->cols[col].dict != NULL, TSR_EINVAL, "%s: column '%s' is %s, not a dictionary", fn,
            r->cols[col].name, tsr_type_name(r->cols[col].type));
  *size = r->cols[col].dict->size;
  *offsets = r->cols[col].dict->offsets;
  *data = r->cols[col].dict->data;
  return TSR_OK;
}

tsr_status tsr_frame_result_values(const tsr_frame_result *r, int col, void *values, size_t bytes,
                                   uint8_t *validity) {
  static const char fn[] = "tsr_frame_result_values";
  TSR_CHECK(r != NULL, TSR_EINVAL, "%s: result is NULL", fn);
  TSR_CHECK(col >= 0 && col < r->ncols, TSR_EINVAL, "%s: column %d is not in 0..%d", fn, col,
            r->ncols - 1);
  size_t w = tsr_type_width(r->cols[col].type);
  TSR_CHECK(r->cols[col].type.id != TSR_COL_STRING, TSR_EINVAL,
            "%s: column '%s' holds strings: read them with tsr_frame_result_string or by chunk",
            fn, r->cols[col].name);
  TSR_CHECK(bytes == (size_t)r->nrows * w, TSR_EINVAL,
            "%s: the buffer has %zu bytes but column '%s' needs %lld (%lld rows of %zu bytes)", fn,
            bytes, r->cols[col].name, (long long)((size_t)r->nrows * w), (long long)r->nrows, w);
  TSR_CHECK(values != NULL || bytes == 0, TSR_EINVAL, "%s: values is NULL", fn);
  if (validity != NULL)
    memset(validity, 0xff, ((size_t)r->nrows + 7) / 8);
  for (int64_t c = 0; c < r->nchunks; c++) {
    tsr_column_chunk ch;
    TSR_TRY(tsr_frame_result_chunk(r, col, c, &ch));
    int64_t off = r->row_off[c];
    if (ch.rows > 0)
      memcpy((unsigned char *)values + (size_t)off * w, ch.values, (size_t)ch.rows * w);
    if (validity != NULL && ch.validity != NULL)
      for (int64_t i = 0; i < ch.rows; i++)
        tsr__bit_set(validity, off + i, tsr__bit_get(ch.validity, i));
  }
  return TSR_OK;
}

tsr_status tsr_frame_result_string(const tsr_frame_result *r, int col, int64_t row,
                                   const char **text, size_t *length, bool *is_null) {
  static const char fn[] = "tsr_frame_result_string";
  TSR_CHECK(r != NULL && text != NULL && length != NULL, TSR_EINVAL, "%s: an argument is NULL",
            fn);
  TSR_CHECK(col >= 0 && col < r->ncols, TSR_EINVAL, "%s: column %d is not in 0..%d", fn, col,
            r->ncols - 1);
  tsr_coltype t = r->cols[col].type.id;
  TSR_CHECK(t == TSR_COL_STRING || t == TSR_COL_DICT, TSR_EINVAL,
            "%s: column '%s' is %s, not strings", fn, r->cols[col].name,
            tsr_type_name(r->cols[col].type));
  TSR_CHECK(row >= 0 && row < r->nrows, TSR_EINVAL, "%s: row %lld is not in 0..%lld", fn,
            (long long)row, (long long)r->nrows - 1);
  /* The chunk holding the row: binary search over the row offsets. */
  int64_t lo = 0, hi = r->nchunks - 1;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo + 1) / 2;
    if (r->row_off[mid] <= row)
      lo = mid;
    else
      hi = mid - 1;
  }
  tsr_column_chunk ch;
  TSR_TRY(tsr_frame_result_chunk(r, col, lo, &ch));
  int64_t i = row - r->row_off[lo];
  bool null = ch.validity != NULL && !tsr__bit_get(ch.validity, i);
  if (is_null != NULL)
    *is_null = null;
  if (null) {
    *text = "";
    *length = 0;
    return TSR_OK;
  }
  if (t == TSR_COL_DICT) {
    int32_t code = ((const int32_t *)ch.values)[i];
    *text = tsr__dict_str(r->cols[col].dict, code, length);
    return TSR_OK;
  }
  const tsr_string_view *v = (const tsr_string_view *)ch.values + i;
  *text = tsr_string_view_data(v, ch.data);
  *length = v->length;
  return TSR_OK;
}

/* ---- persist ------------------------------------------------------------------------- */

/* A node over one computed node's chunks: each chunk is a task whose output
 * is the result's buffer (tsr_taskgraph_add_buffer).  Frame nodes keep the
 * computed node's layout (tsr__fnode first); raw array nodes keep its grid. */
typedef struct persisted {
  tsr__fnode base; /* unused for raw columns */
  tsr_frame_result *result; /* one reference */
  int col;                  /* a result column living in the computed node */
} persisted;

static void persisted_release(tsr_frame_result *r) { tsr_frame_result_destroy(&r); }

static void persisted_destroy_extra(tsr__fnode *base) {
  persisted *p = (persisted *)base;
  persisted_release(p->result);
}

static void persisted_destroy_raw(tsr__expr *e) {
  persisted *p = e->params;
  persisted_release(p->result);
}

static tsr_status lower_persisted(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                  uint32_t *out) {
  (void)in;
  const persisted *p = e->params;
  const tsr_frame_result *r = p->result;
  if (r->owner != NULL)
    TSR_TRY(tsr__frame_check_held(r->ctx, r->ranks));
  for (int64_t c = 0; c < r->nchunks; c++) {
    int64_t cell = (int64_t)p->col * r->nchunks + c;
    int owner = r->owner ? r->owner[cell] : -1;
    const void *data = NULL;
    size_t bytes = r->g->tasks[r->tasks[cell]].out_bytes;
    if (owner < 0 || owner == r->me)
      TSR_TRY(tsr_taskgraph_output(r->g, r->tasks[cell], &data, &bytes));
    TSR_TRY(tsr__frame_add_held(g, data, bytes, owner, &out[c]));
  }
  return TSR_OK;
}

static void hash_persisted(const tsr__expr *e, tsr__hash *h) {
  if (tsr__is_fnode(e))
    tsr__fnode_hash(tsr__fnode_of(e), h);
}

/* Every rank holds the whole result, so every rank makes the chunks it
 * reads; or each chunk's holder makes it (tsr__frame_add_held sets it). */
static const tsr__op op_persisted = {"frame_persisted", lower_persisted,
                                     tsr__fnode_destroy_params, true, NULL, hash_persisted};
static const tsr__op op_persisted_raw = {"frame_persisted", lower_persisted,
                                         persisted_destroy_raw, true, NULL, hash_persisted};

/* A copy of a 1-D grid. */
static tsr_status grid_copy(tsr_ctx *ctx, const tsr_chunk_grid *g, tsr_chunk_grid **out) {
  int64_t n = tsr_chunk_grid_nchunks(g);
  const int64_t *shape = tsr_chunk_grid_shape(g);
  if (shape[0] == 0) {
    int64_t one[1] = {1};
    return tsr_chunk_grid_create_uniform(ctx, 1, shape, one, out);
  }
  int64_t *ext;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)n + 1, sizeof *ext, "chunk extents", (void **)&ext));
  for (int64_t c = 0; c < n; c++)
    ext[c] = tsr_chunk_grid_chunk_extent(g, 0, c);
  const int64_t *per_axis[1] = {ext};
  tsr_status status = tsr_chunk_grid_create_explicit(ctx, 1, per_axis, &n, out);
  tsr_free(ctx, ext);
  return status;
}

/* tsr_frame_persist; `whole`: every rank holds every chunk. */
static tsr_status persist(tsr_frame *f, const tsr_compute_options *options, bool whole,
                          const char *fn, tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  tsr_ctx *ctx = f->ctx;
  tsr_frame_result *r = NULL;
  TSR_TRY(compute(f, options, whole, fn, &r));
  tsr_status status = TSR_OK;
  tsr__col *cols = NULL;
  tsr__expr **made = NULL; /* the persisted node of column i's node */
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)f->ncols + 1, sizeof *cols, (void **)&cols));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)f->ncols + 1, sizeof *made, (void **)&made));
  for (int i = 0; i < f->ncols; i++) {
    cols[i] = f->cols[i];
    int same = -1;
    for (int j = 0; j < i && same < 0; j++)
      if (f->cols[j].node == f->cols[i].node)
        same = j;
    if (same >= 0) {
      cols[i].node = made[same];
      continue;
    }
    persisted *p;
    TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    p->result = r;
    p->col = i;
    const tsr__expr *e = f->cols[i].node;
    if (f->cols[i].raw) {
      tsr_chunk_grid *grid;
      status = grid_copy(ctx, e->grid, &grid);
      if (status != TSR_OK) {
        persisted_release(r);
        tsr_free(ctx, p);
        goto fail;
      }
      TSR__TRY_GOTO(status, tsr__expr_create(ctx, &op_persisted_raw, e->dtype, grid, 0, NULL, p,
                                             &made[i]));
    } else {
      const tsr__fnode *b = tsr__fnode_of(e);
      p->base.destroy_extra = persisted_destroy_extra;
      TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_persisted, f->rows, b->ncols, b->types,
                                              b->data_cap, 0, NULL, p, &made[i]));
    }
    cols[i].node = made[i];
  }
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, f->ncols, cols, f->rows, out));
  (*out)->csv_bad_rows = f->csv_bad_rows;
fail:
  if (made != NULL)
    for (int i = 0; i < f->ncols; i++)
      tsr__expr_release(&made[i]);
  tsr_free(ctx, made);
  tsr_free(ctx, cols);
  tsr_frame_result_destroy(&r);
  return status;
}

tsr_status tsr_frame_persist(tsr_frame *f, const tsr_compute_options *options, tsr_frame **out) {
  return persist(f, options, false, "tsr_frame_persist", out);
}

tsr_status tsr__frame_persist_whole(tsr_frame *f, tsr_frame **out) {
  return persist(f, NULL, true, "tsr_frame_persist", out);
}
