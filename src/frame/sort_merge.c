/* sort_merge.c — phase 3 of the sort engine (sort_impl.h): merging the
 * sorted runs into output chunks and gathering the rows, or numbering the
 * rows' order for ranks and window functions.
 *
 * Each output chunk is one task: it merges its slice of every run (split
 * points from co-ranking, so tasks are independent and their output does
 * not depend on the thread count) with a loser tree of the runs (about
 * log2(runs) comparisons per row; equal keys go to the earlier run, which
 * keeps the sort stable), then copies every column from the input chunks:
 * fixed-width values by index, strings as views plus their bytes copied
 * into the chunk's data buffer, dictionary codes as they are (the output
 * column keeps the dictionary).  The result is a frame over the computed
 * chunks (tsr_frame_persist of a node whose tasks are these). */
#include <string.h>

#include "sort_impl.h"

/* ---- merging ----------------------------------------------------------------------------- */

typedef struct merger {
  const tsr__sorter *s;
  int64_t K;
  int64_t *pos, *end;
  int64_t *tree;
  bool fast; /* one word per key and no truncated strings */
} merger;

static inline bool beats(const merger *m, int64_t x, int64_t y) {
  bool ex = m->pos[x] == m->end[x], ey = m->pos[y] == m->end[y];
  if (ex || ey)
    return ex && ey ? x < y : ey;
  if (m->fast) {
    uint64_t kx = tsr__run_keys(m->s->runs[x])[m->pos[x]];
    uint64_t ky = tsr__run_keys(m->s->runs[y])[m->pos[y]];
    if (kx != ky)
      return kx < ky;
    return x < y;
  }
  int c = tsr__sort_elem_cmp(m->s, x, m->pos[x], y, m->pos[y], m->s->W * 64, m->s->nkeys);
  return c != 0 ? c < 0 : x < y;
}

/* Merges the slices [a[r], b[r]) of the runs into n elements (run << 32 | position). */
tsr_status tsr__sort_merge_slices(const tsr__sorter *s, const int64_t *a, const int64_t *b,
                                  int64_t n, uint64_t *out) {
  const int64_t k = s->nchunks;
  merger m = {s, 1, NULL, NULL, NULL, s->W == 1 && s->ntrunc == 0};
  while (m.K < k)
    m.K *= 2;
  int64_t *mem;
  TSR_TRY(tsr_kernel_alloc(s->ctx, (size_t)m.K * 5 * sizeof *mem, (void **)&mem));
  m.pos = mem;
  m.end = mem + m.K;
  m.tree = mem + 2 * m.K;
  int64_t *win = mem + 3 * m.K; /* 2K */
  for (int64_t r = 0; r < m.K; r++) {
    m.pos[r] = r < k ? a[r] : 0;
    m.end[r] = r < k ? b[r] : 0;
    win[m.K + r] = r;
  }
  for (int64_t node = m.K - 1; node >= 1; node--) {
    int64_t x = win[2 * node], y = win[2 * node + 1];
    if (beats(&m, x, y)) {
      win[node] = x;
      m.tree[node] = y;
    } else {
      win[node] = y;
      m.tree[node] = x;
    }
  }
  int64_t winner = win[1];
  for (int64_t i = 0; i < n; i++) {
    int64_t w = winner;
    out[i] = (uint64_t)w << 32 | (uint64_t)m.pos[w];
    m.pos[w]++;
    int64_t cand = w;
    for (int64_t node = (w + m.K) / 2; node >= 1; node /= 2) {
      if (beats(&m, m.tree[node], cand)) {
        int64_t t = m.tree[node];
        m.tree[node] = cand;
        cand = t;
      }
    }
    winner = cand;
  }
  tsr_free(s->ctx, mem);
  return TSR_OK;
}

/* Output chunk j's elements in order (run << 32 | position); the caller frees. */
static tsr_status merge_chunk(const tsr__sorter *s, int64_t j, uint64_t **out, int64_t *n) {
  *n = s->out_start[j + 1] - s->out_start[j];
  TSR_TRY(tsr_kernel_alloc(s->ctx, (size_t)*n * sizeof **out + 8, (void **)out));
  tsr_status status = tsr__sort_merge_slices(s, s->splits + j * s->nchunks,
                                             s->splits + (j + 1) * s->nchunks, *n, *out);
  if (status != TSR_OK) {
    tsr_free(s->ctx, *out);
    *out = NULL;
  }
  return status;
}

/* ---- gathering ---------------------------------------------------------------------------- */

#define PREFETCH 16

/* Column i of the input into `out` for rows src (chunk << 32 | row). */
void tsr__sort_gather_col(const tsr__sorter *s, int i, const uint64_t *src, int64_t n,
                          tsr__colchunk *out) {
  const int nc = s->f->ncols;
  const tsr__colread *cr = s->cr + i;
  tsr_type type = s->f->cols[i].type;
  void *dst = tsr__colchunk_values(out);
  bool nulls = false;
  for (int64_t c = 0; c < s->nchunks; c++)
    nulls |= cr[c * nc].null_count > 0;
#define ROW(k) (src[k] & 0xffffffffu)
#define CHUNK(k) ((int64_t)(src[k] >> 32) * nc)
  if (type.id == TSR_COL_STRING) {
    tsr_string_view *dv = dst;
    char *data = tsr__colchunk_data(out);
    uint64_t used = 0;
    for (int64_t k = 0; k < n; k++) {
      if (k + PREFETCH < n)
        __builtin_prefetch((const tsr_string_view *)cr[CHUNK(k + PREFETCH)].values +
                           ROW(k + PREFETCH));
      const tsr__colread *r = &cr[CHUNK(k)];
      uint64_t row = ROW(k);
      if (r->validity != NULL && !tsr__bit_get(r->validity, (int64_t)row)) {
        memset(&dv[k], 0, sizeof dv[k]);
        continue;
      }
      tsr_string_view v = ((const tsr_string_view *)r->values)[row];
      if (v.length > 12) {
        memcpy(data + used, r->data + v.u.ref.offset, v.length);
        v.u.ref.offset = (uint32_t)used;
        used += v.length;
      }
      dv[k] = v;
    }
    out->data_bytes = used;
  } else {
    switch (tsr_type_width(type)) {
/* Rows come from anywhere in the input: prefetch a few rows ahead. */
#define G(W, T)                                                           \
  case W: {                                                               \
    T *d = dst;                                                           \
    int64_t k = 0;                                                        \
    for (; k + PREFETCH < n; k++) {                                       \
      __builtin_prefetch((const T *)cr[CHUNK(k + PREFETCH)].values +      \
                         ROW(k + PREFETCH));                              \
      d[k] = ((const T *)cr[CHUNK(k)].values)[ROW(k)];                    \
    }                                                                     \
    for (; k < n; k++)                                                    \
      d[k] = ((const T *)cr[CHUNK(k)].values)[ROW(k)];                    \
    break;                                                                \
  }
      G(1, uint8_t)
      G(2, uint16_t)
      G(4, uint32_t)
      G(8, uint64_t)
#undef G
    default:
      break;
    }
  }
  out->rows = n;
  out->null_count = 0;
  if (nulls) {
    uint8_t *bits = tsr__colchunk_validity(out);
    int64_t count = 0;
    memset(bits, 0, (size_t)(n + 7) / 8);
    for (int64_t k = 0; k < n; k++) {
      const tsr__colread *r = &cr[CHUNK(k)];
      bool v = r->validity == NULL || tsr__bit_get(r->validity, (int64_t)ROW(k));
      if (v)
        bits[k >> 3] |= (uint8_t)(1u << (k & 7));
      count += !v;
    }
    out->null_count = count;
  }
#undef ROW
#undef CHUNK
}

/* The frame node whose chunks phase 3 computes. */
typedef struct outnode {
  tsr__fnode base;
  const tsr__sorter *s;
  int kind; /* 0: sorted rows; 1: the input plus one column */
  const void *xvals;     /* kind 1: the column's values by global input row */
  const uint8_t *xvalid; /* kind 1: one byte per global row (0: null), or NULL: all valid */
  size_t xwidth;         /* kind 1: bytes per value */
} outnode;

static tsr_status gather_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const outnode *o = t.node->params;
  const tsr__sorter *s = o->s;
  tsr__ftask_init_output(call);
  uint64_t *src;
  int64_t n;
  TSR_TRY(merge_chunk(s, t.chunk, &src, &n));
  for (int64_t k = 0; k < n; k++) {
    int64_t r = (int64_t)(src[k] >> 32), p = (int64_t)(src[k] & 0xffffffffu);
    src[k] = (uint64_t)r << 32 | tsr__run_rows(s->runs[r])[p];
  }
  for (int i = 0; i < s->f->ncols; i++)
    tsr__sort_gather_col(s, i, src, n, tsr__tablechunk_col(call->output, (uint32_t)i));
  tsr_free(s->ctx, src);
  return TSR_OK;
}

static uint64_t data_bytes_of(const tsr__sorter *s, int64_t c, int i) {
  const tsr__colref *ref = &s->refs[i];
  if (ref->raw || ref->type.id != TSR_COL_STRING)
    return 0;
  const void *buf = s->in_ptr[(int64_t)ref->input * s->nchunks + c];
  return tsr__tablechunk_col(buf, ref->slot)->data_bytes;
}

/* Rank and window output: input chunk c as it is, plus the new column. */
static tsr_status rank_copy_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const outnode *o = t.node->params;
  const tsr__sorter *s = o->s;
  const int nc = s->f->ncols;
  const int64_t c = t.chunk, n = s->rows[c];
  tsr__ftask_init_output(call);
  for (int i = 0; i < nc; i++) {
    const tsr__colread *r = &s->cr[c * nc + i];
    tsr__colchunk *out = tsr__tablechunk_col(call->output, (uint32_t)i);
    size_t w = tsr_type_width(s->f->cols[i].type);
    if (n > 0)
      memcpy(tsr__colchunk_values(out), r->values, (size_t)n * w);
    out->rows = n;
    out->null_count =
        r->validity ? tsr__ops_copy_bits(tsr__colchunk_validity(out), 0, r->validity, 0, n) : 0;
    uint64_t bytes = data_bytes_of(s, c, i);
    if (bytes > 0)
      memcpy(tsr__colchunk_data(out), r->data, (size_t)bytes);
    out->data_bytes = bytes;
  }
  tsr__colchunk *out = tsr__tablechunk_col(call->output, (uint32_t)nc);
  const int64_t g0 = s->row_start[c];
  if (n > 0)
    memcpy(tsr__colchunk_values(out), (const char *)o->xvals + (size_t)g0 * o->xwidth,
           (size_t)n * o->xwidth);
  out->rows = n;
  out->null_count = 0;
  if (o->xvalid != NULL) {
    int64_t nulls = 0;
    for (int64_t i = 0; i < n; i++)
      nulls += o->xvalid[g0 + i] == 0;
    if (nulls > 0) {
      uint8_t *bits = tsr__colchunk_validity(out);
      memset(bits, 0, (size_t)(n + 7) / 8);
      for (int64_t i = 0; i < n; i++)
        if (o->xvalid[g0 + i])
          bits[i >> 3] |= (uint8_t)(1u << (i & 7));
      out->null_count = nulls;
    }
  }
  return TSR_OK;
}

static tsr_status lower_out(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                            uint32_t *out) {
  (void)in;
  const outnode *o = e->params;
  uint32_t k;
  if (o->kind == 0)
    TSR_TRY(tsr_taskgraph_add_kernel(g, "frame_sort_merge", gather_kernel, NULL, &k));
  else
    TSR_TRY(tsr_taskgraph_add_kernel(g, "frame_rank_out", rank_copy_kernel, NULL, &k));
  int64_t n = o->base.rows->nchunks;
  for (int64_t j = 0; j < n; j++) {
    tsr__ftask t = {e, j};
    uint64_t bytes;
    TSR_TRY(tsr__fnode_chunk_bytes(e, j, &bytes));
    TSR_TRY(tsr_taskgraph_add_task(g, k, NULL, 0, &t, sizeof t, (size_t)bytes, &out[j]));
  }
  return TSR_OK;
}

static void hash_out(const tsr__expr *e, tsr__hash *h) { tsr__fnode_hash(tsr__fnode_of(e), h); }

static const tsr__op op_out = {"frame_sorted", lower_out, tsr__fnode_destroy_params, false, NULL,
                               NULL};
/* Under MPI every rank holds the runs and columns the chunks are made
 * from (sort_dist.c): each makes every chunk itself, nothing is sent. */
static const tsr__op op_out_all = {"frame_sorted", lower_out, tsr__fnode_destroy_params,
                                   true,           NULL,      hash_out};

/* A frame over the chunks of an outnode (computed now). */
static tsr_status out_frame(tsr__sorter *s, int kind, const void *xvals, const uint8_t *xvalid,
                            tsr__rows *rows, int ncols, const tsr__col *meta,
                            const int64_t *data_cap, tsr_frame **out) {
  tsr_ctx *ctx = s->ctx;
  tsr_type *types = NULL;
  tsr__col *cols = NULL;
  tsr__expr *node = NULL;
  tsr_frame *lazy = NULL;
  bool persisting = false;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)ncols + 1, sizeof *types, "types",
                                         (void **)&types));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)ncols + 1, sizeof *cols, "columns", (void **)&cols));
  for (int i = 0; i < ncols; i++)
    types[i] = meta[i].type;
  outnode *p;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->s = s;
  p->kind = kind;
  p->xvals = xvals;
  p->xvalid = xvalid;
  p->xwidth = kind == 1 ? tsr_type_width(meta[ncols - 1].type) : 0;
  TSR__TRY_GOTO(status, tsr__fnode_create(ctx, s->dist ? &op_out_all : &op_out, rows,
                                          (uint32_t)ncols, types, data_cap, 0, NULL, p, &node));
  for (int i = 0; i < ncols; i++) {
    cols[i] = meta[i];
    cols[i].node = node;
    cols[i].slot = (uint32_t)i;
    cols[i].raw = false;
  }
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, ncols, cols, rows, &lazy));
  persisting = true; /* it agrees on failures before its run */
  TSR__TRY_GOTO(status, tsr_frame_persist(lazy, NULL, out));
fail:
  if (s->dist && !persisting)
    status = tsr_ctx_agree(ctx, status);
  tsr_frame_destroy(&lazy);
  tsr__expr_release(&node);
  tsr_free(ctx, cols);
  tsr_free(ctx, types);
  return status;
}

tsr_status tsr__sorter_gather(tsr__sorter *s, int64_t rows, int64_t chunk_rows, tsr_frame **out) {
  tsr_ctx *ctx = s->ctx;
  const int nc = s->f->ncols;
  const int64_t k = s->nchunks;
  int64_t *counts = NULL, *data_cap = NULL;
  tsr__rows *rp = NULL;
  bool agreeing = false;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__sorter_split(s, rows, chunk_rows));
  const int64_t nout = s->nout;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)nout + 1, sizeof *counts, "row counts",
                                         (void **)&counts));
  for (int64_t j = 0; j < nout; j++)
    counts[j] = s->out_start[j + 1] - s->out_start[j];
  TSR__TRY_GOTO(status, tsr__rows_create(ctx, nout, counts, counts, &rp));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc * (size_t)nout + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  for (int t = 0; t < s->nstr; t++) {
    int i = s->str_cols[t];
    for (int64_t j = 0; j < nout; j++) {
      int64_t sum = 0;
      for (int64_t r = 0; r < k; r++) {
        const int64_t *pre = tsr__run_strbytes(s->runs[r]) + (int64_t)t * (s->runs[r]->n + 1);
        sum += pre[s->splits[(j + 1) * k + r]] - pre[s->splits[j * k + r]];
      }
      data_cap[(int64_t)i * nout + j] = sum;
    }
  }
  agreeing = true; /* out_frame agrees on its failures */
  TSR__TRY_GOTO(status, out_frame(s, 0, NULL, NULL, rp, nc, s->f->cols, data_cap, out));
fail:
  if (s->dist && !agreeing)
    status = tsr_ctx_agree(ctx, status);
  tsr__rows_release(&rp);
  tsr_free(ctx, data_cap);
  tsr_free(ctx, counts);
  return status;
}

/* ---- ranks --------------------------------------------------------------------------------- */

/* Rank phase 3: per output chunk, each element's input chunk << 32 | row
 * (runs are chunks) and whether it starts a partition (bit 0) or a group of peers (bit 1). */
static tsr_status order_kernel(const tsr_kernel_call *call) {
  const tsr__sorter *s;
  int64_t j;
  {
    struct {
      const tsr__sorter *s;
      int64_t j;
    } p;
    memcpy(&p, call->params, sizeof p);
    s = p.s;
    j = p.j;
  }
  uint64_t *src;
  int64_t n;
  TSR_TRY(merge_chunk(s, j, &src, &n));
  uint64_t *grow = call->output;
  uint8_t *flags = (uint8_t *)(grow + n);
  const int64_t k = s->nchunks;
  /* The element before this chunk's first: the last, in order, of the
   * elements each run holds before the split. */
  int64_t pr = -1, pp = -1;
  if (j > 0)
    for (int64_t r = 0; r < k; r++) {
      int64_t p = s->splits[j * k + r] - 1;
      if (p < 0)
        continue;
      if (pr < 0) {
        pr = r;
        pp = p;
        continue;
      }
      int c = tsr__sort_elem_cmp(s, pr, pp, r, p, s->W * 64, s->nkeys);
      if (c < 0 || (c == 0 && pr < r)) {
        pr = r;
        pp = p;
      }
    }
  for (int64_t i = 0; i < n; i++) {
    int64_t r = (int64_t)(src[i] >> 32), p = (int64_t)(src[i] & 0xffffffffu);
    grow[i] = (uint64_t)r << 32 | tsr__run_rows(s->runs[r])[p];
    uint8_t fl = 3;
    if (pr >= 0) {
      fl = 0;
      if (tsr__sort_elem_cmp(s, pr, pp, r, p, s->part_bits, s->npart) != 0)
        fl = 3;
      else if (tsr__sort_elem_cmp(s, pr, pp, r, p, s->W * 64, s->nkeys) != 0)
        fl = 2;
    }
    flags[i] = fl;
    pr = r;
    pp = p;
  }
  tsr_free(s->ctx, src);
  return TSR_OK;
}

tsr_status tsr__sorter_order(tsr__sorter *s, uint64_t *pos, uint8_t *flags) {
  tsr_ctx *ctx = s->ctx;
  tsr_taskgraph *g = NULL;
  uint32_t *tasks = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr__sorter_split(s, s->total, INT64_C(1) << 20));
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &g));
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)s->nout + 1, sizeof *tasks, "tasks",
                                         (void **)&tasks));
  uint32_t kern;
  TSR__TRY_GOTO(status, tsr_taskgraph_add_kernel(g, "frame_rank_order", order_kernel, NULL, &kern));
  for (int64_t j = 0; j < s->nout; j++) {
    struct {
      const tsr__sorter *s;
      int64_t j;
    } p = {s, j};
    int64_t n = s->out_start[j + 1] - s->out_start[j];
    TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, kern, NULL, 0, &p, sizeof p, (size_t)n * 9,
                                                 &tasks[j]));
    TSR__TRY_GOTO(status, tsr_taskgraph_keep(g, tasks[j]));
  }
  TSR__TRY_GOTO(status, tsr_taskgraph_run(g));
  for (int64_t j = 0; j < s->nout; j++) {
    const void *data;
    size_t bytes;
    TSR__TRY_GOTO(status, tsr_taskgraph_output(g, tasks[j], &data, &bytes));
    int64_t n = s->out_start[j + 1] - s->out_start[j];
    if (n > 0) {
      memcpy(pos + s->out_start[j], data, (size_t)n * sizeof *pos);
      memcpy(flags + s->out_start[j], (const uint64_t *)data + n, (size_t)n);
    }
  }
fail:
  tsr_free(ctx, tasks);
  tsr_taskgraph_destroy(&g);
  return status;
}

tsr_status tsr__sorter_with_column(tsr__sorter *s, const tsr__col *col, const void *values,
                                   const uint8_t *valid, tsr_frame **out) {
  tsr_ctx *ctx = s->ctx;
  const int nc = s->f->ncols;
  const int64_t k = s->nchunks;
  tsr__col *meta = NULL;
  int64_t *data_cap = NULL;
  tsr__rows *rp = NULL;
  tsr_status status;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nc + 2, sizeof *meta, (void **)&meta));
  memcpy(meta, s->f->cols, (size_t)nc * sizeof *meta);
  meta[nc] = *col;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)(nc + 1) * (size_t)k + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  for (int i = 0; i < nc; i++)
    for (int64_t c = 0; c < k; c++)
      data_cap[(int64_t)i * k + c] = (int64_t)data_bytes_of(s, c, i);
  TSR__TRY_GOTO(status, tsr__rows_create(ctx, k, s->rows, s->rows, &rp));
  TSR__TRY_GOTO(status, out_frame(s, 1, values, valid, rp, nc + 1, meta, data_cap, out));
fail:
  tsr__rows_release(&rp);
  tsr_free(ctx, data_cap);
  tsr_free(ctx, meta);
  return status;
}
