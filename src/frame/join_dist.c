/* join_dist.c — tsr_frame_join and tsr_frame_join_asof across MPI ranks
 * (docs/frames.md, "Joins"; docs/scaling.md, "Frames across ranks"): a
 * broadcast join.  (The shuffle join, join_shuffle.c, shares the loading,
 * the sharing of counts and the output below; its right side is loaded in
 * the chunks this rank owns only.)
 *
 * Every rank builds the same frames (SPMD).  The right (build) side is
 * computed whole on every rank (one copy task per chunk that every rank
 * runs, as tsr_frame_compute does: each chunk goes from its owner to every
 * other rank once; a filtered broadcast join, join_filter.c, loads it in
 * the chunks this rank owns instead and sends each rank only the rows its
 * left keys may match); the left (probe) side only in the chunks this rank owns
 * (tsr__dist_chunk_owner over the left's chunks), a chunk owned elsewhere
 * having no rows here.  Every rank then runs the one-rank phases (key
 * encoding, the table over the right, the probe) on what it holds, so the
 * pairs of a left chunk are those one rank finds.  After the probe the ranks
 * all-gather each left chunk's pair and string byte counts and OR the right
 * rows they matched (right and full joins), so that every rank knows every
 * output chunk's size and which right rows stay unmatched.  Each output
 * chunk is gathered by its owner (a left chunk's owner; the unmatched right
 * rows of right chunk c by c's owner over the right's chunks) and stays
 * there: the result's chunks and bytes are one rank's, each held by the
 * rank that gathered it (later graphs read it there and send it where it is
 * needed; tsr_frame_compute gathers the whole).  Skewed keys cost nothing
 * extra: a left chunk is probed where it lives, whatever its keys.
 *
 * Failures: every step that can fail on one rank is agreed before the next
 * collective (the caller agrees between steps; the steps here agree before
 * they talk). */
#include <string.h>

#include <tessera/dist.h>

#include "dist/dist.h"
#include "join_impl.h"
#include "sched/taskgraph_impl.h" /* task owners */

#define PAD(x) (((x) + 63) & ~(uint64_t)63) /* chunks back to back, 64-byte aligned */

typedef struct tsr__jdist {
  const tsr__expr *node; /* the output node */
  char *send;            /* this rank's output chunks */
  uint64_t *off;         /* per output chunk: its offset in send, or UINT64_MAX */
  uint64_t *bytes;       /* per output chunk (the result node's, borrowed) */
} tsr__jdist;

/* The owner of output chunk c (nl left chunks, then nr right ones). */
static int out_owner(tsr_ctx *ctx, int64_t c, int64_t nl, int64_t nr) {
  return c < nl ? tsr__dist_chunk_owner(ctx, c, nl) : tsr__dist_chunk_owner(ctx, c - nl, nr);
}

/* ---- the sides ------------------------------------------------------------------------ */

tsr_status tsr__join_side_create(tsr__join *j, int side, tsr_frame *f) {
  if (!j->dist)
    return tsr__sorter_create(f, j->fn, 0, NULL, 0, NULL, &j->side[side]);
  tsr_ctx *ctx = j->ctx;
  tsr__sorter *s;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  j->side[side] = s;
  s->ctx = ctx;
  s->f = f;
  s->fn = j->fn;
  s->nchunks = f->rows->nchunks;
  s->keep = -1;
  int nc = f->ncols;
  int *all;
  TSR_TRY(tsr_calloc(ctx, (size_t)nc + 1, sizeof *s->nodes, (void **)&s->nodes));
  TSR_TRY(tsr_calloc(ctx, (size_t)nc + 1, sizeof *s->refs, (void **)&s->refs));
  TSR_TRY(tsr_calloc(ctx, (size_t)nc + 1, sizeof *all, (void **)&all));
  for (int i = 0; i < nc; i++)
    all[i] = i;
  tsr__frame_colrefs(f, nc, all, s->nodes, &s->nnodes, s->refs);
  tsr_free(ctx, all);
  return TSR_OK;
}

static tsr_status copy_kernel(const tsr_kernel_call *call) {
  memcpy(call->output, call->inputs[0], call->output_bytes);
  return TSR_OK;
}

/* Under MPI: lowers the side's columns, makes each chunk held by every
 * rank (right) or by the chunk's owner (left), runs, and reads the chunks
 * this rank holds.  The graph (s->g1) keeps them alive.  A chunk whose task
 * makes it whole is kept as it is: for the left, when it is made on its
 * owner already (a held frame's, say: copying them cost 20 ms a rank of
 * j1's 160); for the right, every rank runs a task that reads it, so that
 * it is received where it is not made (copying the chunks every rank held
 * cost j5 60-80 of its 105 ms of loading a rank).  A right chunk made on
 * one rank is first cut there to the columns the join reads (its keys and
 * the result's columns: tsr__join_shipped_cols), so that only they are
 * broadcast.  Other chunks are copied by a task placed on the chunk's
 * owner, or on every rank. */
static tsr_status load_dist(tsr__join *j, int side) {
  tsr_ctx *ctx = j->ctx;
  tsr__sorter *s = j->side[side];
  const tsr_frame *f = s->f;
  const int64_t nch = s->nchunks;
  const int nc = f->ncols;
  const bool whole = side == 1 && !j->shuffle && !j->filter;
  tsr__dist *d = tsr__dist_get(ctx);
  tsr__lowering *l = NULL;
  uint32_t *wanted = NULL, nwanted = 0; /* the tasks the run keeps or runs everywhere */
  bool *need = NULL, *used = NULL;      /* whole: per column of f, per slot of a node: read */
  int *cols = NULL, row_col = 0;        /* (a column read: the chunks' row counts) */
  bool agreed = false;
  tsr_status status;
  int64_t cells;
  TSR__CHECK_GOTO(status, d != NULL, TSR_EMPI, "%s: MPI is not available", j->fn);
  TSR__CHECK_GOTO(status, tsr__size_mul(s->nnodes, nch, &cells), TSR_EINVAL,
                  "%s: the frame has too many chunks", j->fn);
  const int me = tsr__dist_rank(d);
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &s->g1));
  TSR__TRY_GOTO(status, tsr__lowering_create(ctx, s->g1, &l));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)cells + 1, sizeof *s->in_tasks, "input tasks",
                                         (void **)&s->in_tasks));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, 2 * (size_t)cells + 1, sizeof *wanted, "wanted tasks",
                                         (void **)&wanted));
  for (uint32_t i = 0; i < s->nnodes; i++) {
    const uint32_t *ids;
    TSR__TRY_GOTO(status, tsr__lowering_lower(l, s->nodes[i], &ids));
    if (nch > 0)
      memcpy(s->in_tasks + (int64_t)i * nch, ids, (size_t)nch * sizeof *ids);
  }
  uint32_t k;
  TSR__TRY_GOTO(status, tsr_taskgraph_add_kernel(s->g1, "frame_join_load", copy_kernel, NULL, &k));
  if (whole) { /* the columns the join reads: only they are broadcast */
    TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *need, (void **)&need));
    TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 1, sizeof *cols, (void **)&cols));
    int n = tsr__join_shipped_cols(j, side, f, cols);
    for (int i = 0; i < n; i++)
      need[cols[i]] = true;
    row_col = n > 0 ? cols[0] : 0;
  }
  for (uint32_t i = 0; i < s->nnodes; i++) {
    int col = 0; /* a column of node i: raw or not, its type */
    while (col < nc && s->refs[col].input != i)
      col++;
    bool fnode = !f->cols[col].raw && tsr__is_fnode(s->nodes[i]);
    if (whole && fnode) { /* node i's slots the join reads */
      tsr_free(ctx, used);
      TSR__TRY_GOTO(status, tsr__fnode_slots_read(ctx, s->nodes[i], s->refs, nc, i, need, &used));
    }
    for (int64_t c = 0; c < nch; c++) {
      uint64_t b = 0;
      if (f->cols[col].raw)
        b = (uint64_t)tsr_chunk_grid_chunk_extent(s->nodes[i]->grid, 0, c) *
            tsr_type_width(f->cols[col].type);
      else
        TSR__TRY_GOTO(status, tsr__fnode_chunk_bytes(s->nodes[i], c, &b));
      uint32_t *t = &s->in_tasks[(int64_t)i * nch + c], copy, made_by = *t;
      int made = tsr__taskgraph_placed_on(s->g1, *t);
      if (whole && fnode && made >= 0) /* (*t unchanged when every column is read) */
        TSR__TRY_GOTO(status,
                      tsr__fnode_add_projection(s->g1, s->nodes[i], c, made_by, used, made, t));
      if ((*t != made_by || s->g1->tasks[*t].out_bytes == b) &&
          (whole || made == tsr__dist_chunk_owner(ctx, c, nch))) {
        /* Kept as it is, not copied. */
        TSR__TRY_GOTO(status, tsr_taskgraph_keep(s->g1, *t));
        wanted[nwanted++] = *t;
        if (whole) /* every rank reads it */
          TSR__TRY_GOTO(status, tsr__frame_read_everywhere(s->g1, *t, &wanted[nwanted++]));
        continue;
      }
      TSR__TRY_GOTO(status, tsr_taskgraph_add_task(s->g1, k, t, 1, NULL, 0, (size_t)b, &copy));
      TSR__TRY_GOTO(status,
                    tsr_taskgraph_set_owner(
                        s->g1, copy, whole ? TSR_OWNER_ALL : tsr__dist_chunk_owner(ctx, c, nch)));
      TSR__TRY_GOTO(status, tsr_taskgraph_keep(s->g1, copy));
      *t = copy;
      wanted[nwanted++] = copy;
    }
  }
  if (nwanted > 0)
    TSR__TRY_GOTO(status, tsr_taskgraph_cull(s->g1, wanted, nwanted));
  agreed = true; /* the run agrees on its own failures */
  TSR__TRY_GOTO(status, tsr_ctx_agree(ctx, TSR_OK));
  TSR__TRY_GOTO(status, tsr_taskgraph_run(s->g1));
  {
    const tsr_run_stats *st = tsr_taskgraph_stats(s->g1);
    tsr__dist_count_exchange(d, st->bytes_sent, st->bytes_received);
  }
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)nch * (size_t)nc + 1, sizeof *s->cr, (void **)&s->cr));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nch + 1, sizeof *s->rows, "row counts",
                                         (void **)&s->rows));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nch + 1, sizeof *s->row_start, "row starts",
                                         (void **)&s->row_start));
  s->row_start[0] = 0;
  for (int64_t c = 0; c < nch; c++) {
    bool here = whole || tsr__dist_chunk_owner(ctx, c, nch) == me;
    for (int i = 0; i < nc && here; i++) {
      const void *data;
      size_t bytes;
      int64_t cell = (int64_t)s->refs[i].input * nch + c;
      TSR__TRY_GOTO(status, tsr_taskgraph_output(s->g1, s->in_tasks[cell], &data, &bytes));
      tsr__sort_colread(&s->refs[i], data, bytes, &s->cr[c * nc + i]);
    }
    s->rows[c] = here && nc > 0 ? s->cr[c * nc + row_col].rows : 0;
    s->row_start[c + 1] = s->row_start[c] + s->rows[c];
  }
  s->total = s->row_start[nch];
fail:
  if (!agreed) /* as the other ranks, before their run */
    status = tsr_ctx_agree(ctx, status);
  tsr__lowering_destroy(&l);
  tsr_free(ctx, wanted);
  tsr_free(ctx, need);
  tsr_free(ctx, used);
  tsr_free(ctx, cols);
  return status;
}

tsr_status tsr__join_side_load(tsr__join *j, int side) {
  return j->dist ? load_dist(j, side) : tsr__sorter_load(j->side[side]);
}

/* ---- dictionaries ---------------------------------------------------------------------- */

tsr_status tsr__join_dist_check(tsr__join *j) {
  if (!j->dist)
    return TSR_OK;
  /* Dictionary codes travel as they are: every rank must have the same
   * dictionaries (it does when every rank built the same frames). */
  uint64_t h = 0x9e3779b97f4a7c15u;
  for (int s = 0; s < 2; s++) {
    const tsr_frame *f = j->side[s]->f;
    for (int i = 0; i < f->ncols; i++) {
      const tsr__dict *dict = f->cols[i].dict;
      if (dict == NULL)
        continue;
      h = tsr__join_mix(h ^ (uint64_t)dict->size);
      h = tsr__join_mix(h ^ tsr__join_hash_bytes(dict->data, (size_t)dict->offsets[dict->size]));
      h = tsr__join_mix(h ^ tsr__join_hash_bytes((const char *)dict->offsets,
                                                 (size_t)(dict->size + 1) * sizeof(int64_t)));
    }
  }
  uint64_t lo, hi;
  tsr__dist *d = tsr__dist_get(j->ctx);
  TSR_CHECK(d != NULL, TSR_EMPI, "%s: MPI is not available", j->fn);
  TSR_TRY(tsr__dist_minmax_u64(d, h, &lo, &hi));
  TSR_CHECK(lo == hi, TSR_EINVAL,
            "%s: the dictionaries of the frames' dictionary columns differ between ranks "
            "(every rank must build the same frames)",
            j->fn);
  return TSR_OK;
}

/* ---- after the probe ------------------------------------------------------------------- */

/* Collective: K numbers per chunk (rows[c * K, c * K + K) of n chunks,
 * filled on chunk c's owner) all-gathered into rows on every rank.  Agrees
 * first on `status`, this rank's so far. */
static tsr_status share_owned(tsr_ctx *ctx, tsr_status status, int64_t n, int64_t K,
                              int64_t *rows) {
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  const size_t row = (size_t)K * sizeof *rows;
  int64_t *send = NULL, *recv = NULL;
  uint64_t *bytes = NULL;
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)P + 1, sizeof *bytes, (void **)&bytes);
  for (int64_t c = 0; c < n && status == TSR_OK; c++)
    bytes[tsr__dist_chunk_owner(ctx, c, n)] += row;
  if (status == TSR_OK)
    status = tsr_alloc(ctx, bytes[me] + 8, (void **)&send);
  if (status == TSR_OK)
    status = tsr__alloc_array(ctx, (size_t)(n * K) + 1, sizeof *recv, "counts", (void **)&recv);
  int64_t m = 0;
  for (int64_t c = 0; c < n && status == TSR_OK; c++)
    if (tsr__dist_chunk_owner(ctx, c, n) == me) {
      memcpy(send + m, rows + c * K, row);
      m += K;
    }
  status = tsr_ctx_agree(ctx, status);
  if (status == TSR_OK)
    status = tsr__dist_allgatherv(d, send, bytes[me], recv, bytes);
  m = 0;
  for (int p = 0; p < P && status == TSR_OK; p++)
    for (int64_t c = 0; c < n; c++)
      if (tsr__dist_chunk_owner(ctx, c, n) == p) {
        memcpy(rows + c * K, recv + m, row);
        m += K;
      }
  tsr_free(ctx, recv);
  tsr_free(ctx, send);
  tsr_free(ctx, bytes);
  return status;
}

tsr_status tsr__join_dist_share(tsr__join *j) {
  if (!j->dist)
    return TSR_OK;
  tsr_ctx *ctx = j->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = tsr__dist_size(d);
  const int64_t nl = j->side[0]->nchunks, K = 1 + j->ncols;
  int64_t *rows = NULL;
  uint64_t *counts = NULL;
  uint8_t *bits = NULL, *all = NULL;
  /* Per left chunk: npairs, then the string bytes of each output column
   * (every rank can size every piece). */
  tsr_status status =
      tsr__alloc_array(ctx, (size_t)(nl * K) + 1, sizeof *rows, "counts", (void **)&rows);
  for (int64_t c = 0; c < nl && status == TSR_OK; c++) {
    rows[c * K] = j->npairs[c];
    memcpy(rows + c * K + 1, j->str_bytes + c * j->ncols, (size_t)j->ncols * sizeof *rows);
  }
  TSR__TRY_GOTO(status, share_owned(ctx, status, nl, K, rows));
  for (int64_t c = 0; c < nl; c++) {
    j->npairs[c] = rows[c * K];
    memcpy(j->str_bytes + c * j->ncols, rows + c * K + 1, (size_t)j->ncols * sizeof *rows);
  }
  if (j->matched != NULL && !j->shuffle) { /* the right rows any rank matched, as bits */
    const int64_t R = j->side[1]->total, B = (R + 7) / 8;
    status = tsr_calloc(ctx, (size_t)P + 1, sizeof *counts, (void **)&counts);
    if (status == TSR_OK)
      status = tsr_calloc(ctx, (size_t)B + 1, 1, (void **)&bits);
    if (status == TSR_OK)
      status = tsr__alloc_array(ctx, (size_t)B * (size_t)P + 1, 1, "matched rows", (void **)&all);
    status = tsr_ctx_agree(ctx, status);
    if (status != TSR_OK)
      goto fail;
    for (int64_t r = 0; r < R; r++)
      bits[r >> 3] |= (uint8_t)(j->matched[r] << (r & 7));
    for (int p = 0; p < P; p++)
      counts[p] = (uint64_t)B;
    TSR__TRY_GOTO(status, tsr__dist_allgatherv(d, bits, (uint64_t)B, all, counts));
    for (int p = 0; p < P; p++)
      for (int64_t r = 0; r < R; r++)
        j->matched[r] |= (all[p * B + (r >> 3)] >> (r & 7)) & 1;
  }
fail:
  tsr_free(ctx, all);
  tsr_free(ctx, bits);
  tsr_free(ctx, rows);
  tsr_free(ctx, counts);
  return status;
}

tsr_status tsr__join_dist_share_right(tsr__join *j, int64_t nl, int64_t nr, int nc, int64_t *counts,
                                      int64_t *data_cap) {
  tsr_ctx *ctx = j->ctx;
  const int64_t K = 1 + nc, nout = nl + nr;
  int64_t *rows = NULL;
  /* Per right chunk: its unmatched rows, then their string bytes in each
   * output column. */
  tsr_status status =
      tsr__alloc_array(ctx, (size_t)(nr * K) + 1, sizeof *rows, "counts", (void **)&rows);
  for (int64_t c = 0; c < nr && status == TSR_OK; c++) {
    rows[c * K] = counts[nl + c];
    for (int o = 0; o < nc; o++)
      rows[c * K + 1 + o] = data_cap[(int64_t)o * nout + nl + c];
  }
  status = share_owned(ctx, status, nr, K, rows);
  for (int64_t c = 0; c < nr && status == TSR_OK; c++) {
    counts[nl + c] = rows[c * K];
    for (int o = 0; o < nc; o++)
      data_cap[(int64_t)o * nout + nl + c] = rows[c * K + 1 + o];
  }
  tsr_free(ctx, rows);
  return status;
}

/* ---- the output ----------------------------------------------------------------------- */

/* The result: a frame node over the chunks this rank gathered, one at each
 * offset of its buffer (read in place by later graphs, as a persisted
 * frame's chunks, each on its owner). */
typedef struct gathered {
  tsr__fnode base;
  tsr_ctx *ctx;
  int64_t nchunks, nl; /* output chunks; of them, the left's */
  int ranks;
  char *buf;
  uint64_t *off; /* per chunk: its offset in buf, or UINT64_MAX: another rank's */
  uint64_t *bytes;
} gathered;

static void gathered_destroy_extra(tsr__fnode *base) {
  gathered *m = (gathered *)base;
  tsr_free(m->ctx, m->buf);
  tsr_free(m->ctx, m->off);
  tsr_free(m->ctx, m->bytes);
}

static tsr_status lower_gathered(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                 uint32_t *out) {
  (void)in;
  const gathered *m = e->params;
  TSR_TRY(tsr__frame_check_held(m->ctx, m->ranks));
  for (int64_t c = 0; c < m->nchunks; c++)
    TSR_TRY(tsr__frame_add_held(g, m->off[c] == UINT64_MAX ? NULL : m->buf + m->off[c],
                                (size_t)m->bytes[c],
                                out_owner(m->ctx, c, m->nl, m->nchunks - m->nl), &out[c]));
  return TSR_OK;
}

static void hash_gathered(const tsr__expr *e, tsr__hash *h) {
  tsr__fnode_hash(tsr__fnode_of(e), h);
}

static const tsr__op op_gathered = {
    "frame_join_result", lower_gathered, tsr__fnode_destroy_params, true, NULL, hash_gathered};

static tsr_status gather_kernel(const tsr_kernel_call *call) {
  tsr__jtask t = tsr__jtask_of(call);
  const tsr__jdist *dd = t.j->dd;
  if (dd->off[t.i] == UINT64_MAX)
    return TSR_OK; /* another rank's */
  return tsr__join_gather_chunk(dd->node, t.i, dd->send + dd->off[t.i], (size_t)dd->bytes[t.i]);
}

tsr_status tsr__join_dist_output(tsr__join *j, const tsr__expr *node, int64_t nout,
                                 const int64_t *rows, const int64_t *data_cap, int ncols,
                                 const tsr__col *cols, tsr_frame **out) {
  tsr_ctx *ctx = j->ctx;
  tsr__dist *d = tsr__dist_get(ctx);
  const int P = tsr__dist_size(d), me = tsr__dist_rank(d);
  const int64_t nl = j->side[0]->nchunks, nr = nout - nl;
  gathered *m = NULL;
  tsr__rows *r = NULL;
  tsr__expr *result = NULL;
  tsr__col *rc = NULL;
  tsr_type *types = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *j->dd, (void **)&j->dd));
  tsr__jdist *dd = j->dd;
  dd->node = node;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *m, (void **)&m));
  m->ctx = ctx;
  m->nchunks = nout;
  m->nl = nl;
  m->ranks = P;
  m->base.destroy_extra = gathered_destroy_extra;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nout + 1, sizeof *dd->off, (void **)&dd->off));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nout + 1, sizeof *m->bytes, (void **)&m->bytes));
  dd->bytes = m->bytes; /* borrowed */
  /* Where each chunk this rank owns sits in its buffer. */
  uint64_t mine = 0;
  for (int64_t c = 0; c < nout; c++) {
    TSR__TRY_GOTO(status, tsr__fnode_chunk_bytes(node, c, &m->bytes[c]));
    dd->off[c] = UINT64_MAX;
    if (out_owner(ctx, c, nl, nr) == me) {
      dd->off[c] = mine;
      mine += PAD(m->bytes[c]);
    }
  }
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)mine + 64, (void **)&dd->send));
  TSR__TRY_GOTO(status, tsr__join_run(j, TSR_OK, "frame_join_gather", gather_kernel, nout));
  m->buf = dd->send; /* the result's now */
  m->off = dd->off;
  dd->send = NULL;
  dd->off = NULL;
  dd->bytes = NULL;
  /* The frame over the chunks, each on the rank that gathered it. */
  TSR__TRY_GOTO(status, tsr__rows_create(ctx, nout, rows, rows, &r));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *types, (void **)&types));
  for (int o = 0; o < ncols; o++)
    types[o] = cols[o].type;
  {
    gathered *owned = m;
    m = NULL; /* the node owns it from here, also on failure */
    TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_gathered, r, (uint32_t)ncols, types, data_cap,
                                            0, NULL, owned, &result));
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *rc, (void **)&rc));
  for (int o = 0; o < ncols; o++) {
    rc[o] = cols[o];
    rc[o].node = result;
    rc[o].slot = (uint32_t)o;
    rc[o].raw = false;
  }
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, ncols, rc, r, out));
fail:
  if (m != NULL) {
    if (j->dd != NULL)
      j->dd->bytes = NULL;
    gathered_destroy_extra(&m->base);
    tsr_free(ctx, m);
  }
  tsr_free(ctx, rc);
  tsr_free(ctx, types);
  tsr__expr_release(&result);
  tsr__rows_release(&r);
  return status;
}

void tsr__join_dist_free(tsr__join *j) {
  tsr__join_shuffle_free(j);
  tsr_free(j->ctx, j->filter_in);
  tsr_free(j->ctx, j->filter_keep);
  j->filter_in = NULL;
  j->filter_keep = NULL;
  if (j->dd == NULL)
    return;
  tsr_free(j->ctx, j->dd->send);
  tsr_free(j->ctx, j->dd->off);
  tsr_free(j->ctx, j->dd);
  j->dd = NULL;
}
