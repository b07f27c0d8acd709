/* slice.c — row slices: tsr_frame_slice, tsr_frame_head, tsr_frame_tail.
 *
 * A slice needs the row counts (computed first when unknown: a filter's
 * output).  It is one node whose chunks are the input's chunks that hold
 * rows of [start, stop), renumbered from 0 on a new row partitioning:
 * chunks outside are not read at all (the compute culls their tasks), the
 * chunks in the middle are copied whole, the two edge chunks trimmed.
 * Every column of the frame lands in the node's table chunks.  Strings
 * keep their views: the input chunk's data buffer is copied as it is. */
#include <string.h>

#include "ops_impl.h"

typedef struct slice_params {
  tsr__fnode base;
  tsr_ctx *ctx;
  int64_t c0;        /* first input chunk */
  int64_t first_lo;  /* rows [first_lo, ...) of chunk c0 */
  int64_t last_hi;   /* rows [..., last_hi) of the last chunk */
  tsr__colref *refs; /* base.ncols */
} slice_params;

static void slice_destroy(tsr__fnode *base) {
  slice_params *p = (slice_params *)base;
  tsr_free(p->ctx, p->refs);
}

static tsr_status slice_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const slice_params *p = t.node->params;
  tsr__ftask_init_output(call);
  int64_t last = p->base.rows->nchunks - 1;
  for (uint32_t i = 0; i < p->base.ncols; i++) {
    tsr__colread r;
    tsr__colread_get(&p->refs[i], call, &r);
    int64_t a = t.chunk == 0 ? p->first_lo : 0;
    int64_t b = t.chunk == last ? p->last_hi : r.rows;
    tsr__ops_copy_rows(tsr__tablechunk_col(call->output, i), &p->refs[i], call, a, b);
  }
  return TSR_OK;
}

static tsr_status lower_slice(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                              uint32_t *out) {
  const slice_params *p = e->params;
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "frame_slice", slice_kernel, NULL, &k));
  size_t head = (sizeof(tsr__ftask) + 15) / 16 * 16;
  unsigned char params[64];
  uint32_t ins_stack[64], *ins = ins_stack;
  if (e->n_inputs > 64)
    TSR_TRY(tsr__alloc_array(e->ctx, e->n_inputs, sizeof *ins, "task inputs", (void **)&ins));
  tsr_status status = TSR_OK;
  for (int64_t c = 0; c < p->base.rows->nchunks && status == TSR_OK; c++) {
    tsr__ftask t = {e, c};
    memset(params, 0, sizeof params);
    memcpy(params, &t, sizeof t);
    for (uint32_t i = 0; i < e->n_inputs; i++)
      ins[i] = in[i][p->c0 + c];
    uint64_t bytes;
    status = tsr__fnode_chunk_bytes(e, c, &bytes);
    if (status == TSR_OK)
      status = tsr_taskgraph_add_task(g, k, ins, e->n_inputs, params, head, (size_t)bytes, &out[c]);
  }
  if (ins != ins_stack)
    tsr_free(e->ctx, ins);
  return status;
}

static void hash_slice(const tsr__expr *e, tsr__hash *h) {
  const slice_params *p = e->params;
  tsr__fnode_hash(&p->base, h);
  tsr__hash_u64(h, (uint64_t)p->c0);
  tsr__hash_u64(h, (uint64_t)p->first_lo);
  tsr__hash_u64(h, (uint64_t)p->last_hi);
  for (uint32_t i = 0; i < p->base.ncols; i++)
    tsr__ops_hash_ref(h, &p->refs[i]);
}

static const tsr__op op_slice = {"frame_slice", lower_slice, tsr__fnode_destroy_params,
                                 false,         NULL,        hash_slice};

/* Python's slice bounds over n rows. */
static int64_t clamp_index(int64_t i, int64_t n) {
  if (i < 0)
    i = i < -n ? 0 : n + i;
  return i > n ? n : i;
}

tsr_status tsr_frame_slice(tsr_frame *f, int64_t start, int64_t stop, tsr_frame **out) {
  static const char fn[] = "tsr_frame_slice";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "%s: frame is NULL", fn);
  tsr_ctx *ctx = f->ctx;
  int64_t total = f->rows->total;
  if (total < 0)
    TSR_TRY(tsr_frame_nrows(f, &total));
  start = clamp_index(start, total);
  stop = clamp_index(stop, total);
  if (stop < start)
    stop = start;
  const tsr__rows *in_rows = f->rows;
  int64_t n_in = in_rows->nchunks;
  /* The chunks holding rows start and stop - 1. */
  int64_t c0 = 0, c1 = -1, r0 = 0, lo = 0, hi = 0;
  if (stop > start) {
    int64_t row = 0;
    c0 = -1;
    for (int64_t c = 0; c < n_in; c++) {
      int64_t cnt = in_rows->count[c];
      if (c0 < 0 && start < row + cnt) {
        c0 = c;
        r0 = row;
        lo = start - row;
      }
      if (stop <= row + cnt) {
        c1 = c;
        hi = stop - row;
        break;
      }
      row += cnt;
    }
  }
  (void)r0;
  int64_t n_out = c1 - c0 + 1;
  int ncols = f->ncols;
  tsr_status status = TSR_OK;
  int64_t *cap = NULL, *data_cap = NULL;
  tsr__rows *rows = NULL;
  tsr_type *types = NULL;
  tsr__expr **inputs = NULL;
  int *idx = NULL;
  tsr__col *cols = NULL;
  tsr__expr *node = NULL;
  slice_params *p = NULL;
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)n_out + 1, sizeof *cap, "row chunks", (void **)&cap));
  for (int64_t j = 0; j < n_out; j++) {
    int64_t c = c0 + j;
    int64_t a = j == 0 ? lo : 0, b = j == n_out - 1 ? hi : in_rows->count[c];
    cap[j] = b - a;
  }
  TSR__TRY_GOTO(status, tsr__rows_create(ctx, n_out, cap, cap, &rows));
  if (ncols == 0) {
    TSR__TRY_GOTO(status, tsr__frame_make(ctx, 0, NULL, rows, out));
    goto fail;
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *p, (void **)&p));
  p->ctx = ctx;
  p->c0 = c0;
  p->first_lo = lo;
  p->last_hi = hi;
  p->base.destroy_extra = slice_destroy;
  TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)ncols, sizeof *p->refs, "column refs",
                                         (void **)&p->refs));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)ncols, sizeof *types, "types", (void **)&types));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)ncols, sizeof *inputs, "inputs", (void **)&inputs));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)ncols, sizeof *idx, "columns", (void **)&idx));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols * (size_t)n_out + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  for (int i = 0; i < ncols; i++) {
    idx[i] = i;
    types[i] = f->cols[i].type;
    for (int64_t j = 0; j < n_out; j++)
      data_cap[(int64_t)i * n_out + j] = tsr__col_data_cap(f, i, c0 + j);
  }
  uint32_t n_inputs = 0;
  tsr__frame_colrefs(f, ncols, idx, inputs, &n_inputs, p->refs);
  {
    slice_params *params = p;
    p = NULL; /* the node owns it now */
    TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_slice, rows, (uint32_t)ncols, types, data_cap,
                                            n_inputs, inputs, params, &node));
  }
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)ncols, sizeof *cols, "columns", (void **)&cols));
  for (int i = 0; i < ncols; i++)
    cols[i] =
        (tsr__col){f->cols[i].name, f->cols[i].type, f->cols[i].dict, node, (uint32_t)i, false};
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, ncols, cols, rows, out));
fail:
  if (p != NULL) {
    slice_destroy(&p->base);
    tsr_free(ctx, p);
  }
  tsr__expr_release(&node);
  tsr_free(ctx, cols);
  tsr_free(ctx, idx);
  tsr_free(ctx, inputs);
  tsr_free(ctx, types);
  tsr_free(ctx, data_cap);
  tsr_free(ctx, cap);
  tsr__rows_release(&rows);
  return status;
}

tsr_status tsr_frame_head(tsr_frame *f, int64_t n, tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_frame_head: out is NULL");
  *out = NULL;
  /* n < 0: all but the last -n rows (pandas, and Python's [:n]) */
  return tsr_frame_slice(f, 0, n, out);
}

tsr_status tsr_frame_tail(tsr_frame *f, int64_t n, tsr_frame **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_frame_tail: out is NULL");
  *out = NULL;
  TSR_CHECK(f != NULL, TSR_EINVAL, "tsr_frame_tail: frame is NULL");
  if (n < 0) /* pandas: all but the first -n rows */
    return tsr_frame_slice(f, n == INT64_MIN ? INT64_MAX : -n, INT64_MAX, out);
  int64_t total;
  TSR_TRY(tsr_frame_nrows(f, &total));
  return tsr_frame_slice(f, n >= total ? 0 : total - n, total, out);
}
