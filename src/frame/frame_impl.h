/* frame_impl.h — what the files of frame/ share (docs/frames.md): the
 * frame handle, its columns and row partitioning, dictionaries, frame
 * nodes (expression nodes whose chunks are table chunks, core/colchunk.h),
 * reading a column's chunk inside a kernel, and lowering per-chunk ops.
 *
 * A frame is a list of columns and one row partitioning (tsr__rows).  A
 * column is a slot of a node: frame nodes output one table chunk per row
 * chunk holding one or more columns (a CSV block's parse holds all the
 * file's columns, a filter's output every column it keeps), so one task
 * makes many columns and select, drop and rename make no node at all.  A
 * column can also be a 1-D array node (raw: its chunks are plain values),
 * which is how arrays become columns without a copy. */
#ifndef TSR_FRAME_IMPL_H
#define TSR_FRAME_IMPL_H

#include <tessera/dist.h>
#include <tessera/frame.h>

#include "core/colchunk.h"
#include "graph/expr.h"

/* ---- agreed steps under MPI --------------------------------------------------- */

/* Sets status to expr's status, agreed between the ranks when the context
 * has several (tsr_ctx_agree: every rank gets the lowest failing rank's),
 * and jumps to `fail` unless it is TSR_OK.  For the local steps between a
 * collective operation's collectives: a failure on one rank (an
 * allocation, a spill write) must not leave the others waiting in the next
 * collective.  Every rank that passed the argument checks (which do not
 * depend on the rank) reaches every step. */
#define TSR__AGREED_GOTO(status, ctx, expr)  \
  do {                                       \
    (status) = (expr);                       \
    if (tsr_ctx_nranks(ctx) > 1)             \
      (status) = tsr_ctx_agree(ctx, status); \
    if ((status) != TSR_OK)                  \
      goto fail;                             \
  } while (0)

/* ---- dictionaries ----------------------------------------------------------- */

/* A sorted set of distinct strings (byte order), shared by reference. */
typedef struct tsr__dict {
  _Atomic uint32_t refs;
  tsr_ctx *ctx;
  int64_t size;
  int64_t *offsets; /* size + 1 */
  char *data;
} tsr__dict;

/* A dictionary of n strings given by offsets/data (copied).  Checks that
 * they are strictly increasing (TSR_EINVAL naming `what` otherwise). */
tsr_status tsr__dict_create(tsr_ctx *ctx, const char *what, int64_t n, const int64_t *offsets,
                            const char *data, tsr__dict **out);
void tsr__dict_retain(tsr__dict *d);
void tsr__dict_release(tsr__dict **d);
/* Index of the string in the dictionary, or -1 (binary search). */
int64_t tsr__dict_find(const tsr__dict *d, const char *s, size_t len);
static inline const char *tsr__dict_str(const tsr__dict *d, int64_t i, size_t *len) {
  *len = (size_t)(d->offsets[i + 1] - d->offsets[i]);
  return d->data + d->offsets[i];
}

/* ---- row partitioning ------------------------------------------------------- */

/* The row chunks of a frame: how many, each one's capacity (the most rows
 * it can hold), and each one's count when known.  Shared by reference by
 * the frames and nodes that have the same chunks; immutable except that
 * counts computed later may be filled in (tsr__rows_set_counts). */
typedef struct tsr__rows {
  _Atomic uint32_t refs;
  tsr_ctx *ctx;
  int64_t nchunks;
  int64_t *cap;   /* nchunks */
  int64_t *count; /* nchunks, or NULL: unknown */
  int64_t total;  /* -1: unknown */
} tsr__rows;

/* A partitioning of nchunks chunks with capacities cap (copied); counts
 * (copied, may be NULL: unknown) are then also the capacities' bound. */
tsr_status tsr__rows_create(tsr_ctx *ctx, int64_t nchunks, const int64_t *cap,
                            const int64_t *count, tsr__rows **out);
/* Chunks of `chunk_rows` rows over `rows` rows (the last one shorter). */
tsr_status tsr__rows_create_regular(tsr_ctx *ctx, int64_t rows, int64_t chunk_rows,
                                    tsr__rows **out);
void tsr__rows_retain(tsr__rows *r);
void tsr__rows_release(tsr__rows **r);
/* Records computed counts (nchunks values) into r. */
tsr_status tsr__rows_set_counts(tsr__rows *r, const int64_t *count);

/* ---- frame nodes ------------------------------------------------------------- */

/* The params block of every frame node starts with this.  Each op's own
 * params struct has it as its first member ("base"). */
typedef struct tsr__fnode {
  tsr__rows *rows; /* one reference */
  uint32_t ncols;  /* columns in the node's table chunks */
  tsr_type *types; /* ncols */
  /* String columns' data capacity per chunk: data_cap[col * nchunks + c];
   * NULL when the node has no string column. */
  int64_t *data_cap;
  /* Frees what the op's params own beyond this base (may be NULL). */
  void (*destroy_extra)(struct tsr__fnode *base);
} tsr__fnode;

/* Makes a frame node of `op` with `ncols` columns of `types` over `rows`,
 * reading `inputs` (expression nodes, retained).  `params` (from tsr_alloc,
 * of params_bytes bytes, starting with a tsr__fnode whose fields this
 * call fills: rows retained, types and data_cap copied) is owned by the
 * node even on failure; data_cap may be NULL.  The op's destroy_params
 * must be tsr__fnode_destroy_params. */
tsr_status tsr__fnode_create(tsr_ctx *ctx, const tsr__op *op, tsr__rows *rows, uint32_t ncols,
                             const tsr_type *types, const int64_t *data_cap, uint32_t n_inputs,
                             tsr__expr *const *inputs, void *params, tsr__expr **out);
void tsr__fnode_destroy_params(tsr__expr *e);
/* Whether e is a frame node (its chunks are table chunks). */
bool tsr__is_fnode(const tsr__expr *e);
static inline const tsr__fnode *tsr__fnode_of(const tsr__expr *e) {
  return (const tsr__fnode *)e->params;
}
/* Bytes of chunk c of frame node e's table chunk. */
tsr_status tsr__fnode_chunk_bytes(const tsr__expr *e, int64_t c, uint64_t *out);
/* Hashes the base (types, capacities, counts) for the MPI agreement. */
void tsr__fnode_hash(const tsr__fnode *f, tsr__hash *h);
/* Adds to g a task on `rank` that copies, of chunk c of frame node e (made
 * by task `chunk`), only the columns whose `used` flag is set (e's ncols
 * flags), into a table chunk of the same columns where the others are
 * empty: what a task on another rank reads of it then crosses alone.
 * *task: the new task, or `chunk` when every column is used or the chunk's
 * task makes other than the node's chunk bytes (then it is sent whole). */
tsr_status tsr__fnode_add_projection(tsr_taskgraph *g, const tsr__expr *e, int64_t c,
                                     uint32_t chunk, const bool *used, int rank, uint32_t *task);
/* Adds to g a task every rank runs that reads `chunk` and makes nothing
 * (*reader): the chunk is then made or received on every rank, where
 * tsr_taskgraph_keep on `chunk` keeps it, without a copy.  The caller
 * passes *reader among the tasks it wants when it culls. */
tsr_status tsr__frame_read_everywhere(tsr_taskgraph *g, uint32_t chunk, uint32_t *reader);
/* Under MPI a node's chunk may be held by one rank only (persisted frames,
 * operations' results): tsr__frame_add_held lowers it as a buffer task
 * owned by `owner` (data on that rank; NULL elsewhere, where the chunk
 * arrives as a message), or, with owner < 0, held by every rank.
 * tsr__frame_check_held fails unless the computation reading such a node
 * runs on the `ranks` ranks that hold its chunks. */
tsr_status tsr__frame_add_held(tsr_taskgraph *g, const void *data, size_t bytes, int owner,
                               uint32_t *task);
tsr_status tsr__frame_check_held(tsr_ctx *ctx, int ranks);
/* tsr_frame_persist with every chunk held by every rank under MPI (for a
 * step that then reads it with the context's distribution off). */
tsr_status tsr__frame_persist_whole(tsr_frame *f, tsr_frame **out);

/* What a frame node's task gets as its params: the node (process-local:
 * every rank builds its own graph) and the chunk number, then the op's
 * own per-task bytes. */
typedef struct tsr__ftask {
  const tsr__expr *node;
  int64_t chunk;
} tsr__ftask;

/* The op's own per-task bytes after the tsr__ftask (16-aligned). */
static inline const void *tsr__ftask_extra(const tsr_kernel_call *call) {
  return (const unsigned char *)call->params + (sizeof(tsr__ftask) + 15) / 16 * 16;
}
static inline tsr__ftask tsr__ftask_of(const tsr_kernel_call *call) {
  tsr__ftask t;
  memcpy(&t, call->params, sizeof t);
  return t;
}

/* Lays out the output table chunk of a frame-node task (every column with
 * its capacities, rows 0, no nulls). */
void tsr__ftask_init_output(const tsr_kernel_call *call);

/* Lowers e as one task per chunk c running `fn`, with chunk c of each of
 * e's inputs as inputs (in input order) and tsr__ftask params followed by
 * `extra` (extra_bytes, may be 0). */
tsr_status tsr__fnode_lower_map(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                                uint32_t *out, const char *kernel, tsr_kernel_fn fn,
                                const void *extra, size_t extra_bytes);

/* ---- columns ------------------------------------------------------------------ */

typedef struct tsr__col {
  char *name;
  tsr_type type;
  tsr__dict *dict;  /* TSR_COL_DICT: one reference; else NULL */
  tsr__expr *node;  /* one reference: a frame node, or (raw) a 1-D array node */
  uint32_t slot;    /* the column's index in the node's table chunks */
  bool raw;         /* node is an array node whose chunks are the values */
} tsr__col;

struct tsr_frame {
  tsr_ctx *ctx;
  int ncols;
  tsr__col *cols;
  tsr__rows *rows; /* one reference */
  int64_t csv_bad_rows;
};

/* A new frame of n columns (each copied: name duplicated, dict and node
 * retained) over rows (retained). */
tsr_status tsr__frame_make(tsr_ctx *ctx, int n, const tsr__col *cols, tsr__rows *rows,
                           tsr_frame **out);
/* Column index by name, or a TSR_EINVAL naming fn and the column. */
tsr_status tsr__frame_find(const tsr_frame *f, const char *fn, const char *name, int *index);

/* How a kernel finds an input column: which of the task's inputs, which
 * slot, whether raw, and its type.  Kept in the op's params. */
typedef struct tsr__colref {
  uint32_t input;
  uint32_t slot;
  uint32_t raw;
  tsr_type type;
} tsr__colref;

/* One column chunk as a kernel reads it. */
typedef struct tsr__colread {
  int64_t rows;
  int64_t null_count;
  const void *values;
  const uint8_t *validity; /* NULL when null_count == 0 */
  const char *data;        /* strings' data buffer */
  uint64_t data_bytes;     /* bytes used in it: 0 when every view is inline */
} tsr__colread;

/* Column col of a table chunk, read in place. */
static inline void tsr__colread_of(const void *table, uint32_t col, tsr__colread *out) {
  tsr__colchunk *c = tsr__tablechunk_col(table, col);
  out->rows = c->rows;
  out->null_count = c->null_count;
  out->values = tsr__colchunk_values(c);
  out->validity = c->null_count > 0 ? tsr__colchunk_validity(c) : NULL;
  out->data = tsr__colchunk_data(c);
  out->data_bytes = c->data_bytes;
}

static inline void tsr__colread_get(const tsr__colref *r, const tsr_kernel_call *call,
                                    tsr__colread *out) {
  const void *buf = call->inputs[r->input];
  if (r->raw) {
    size_t w = tsr_type_width(r->type);
    out->rows = (int64_t)(call->input_bytes[r->input] / w);
    out->null_count = 0;
    out->values = buf;
    out->validity = NULL;
    out->data = NULL;
    out->data_bytes = 0;
    return;
  }
  tsr__colread_of(buf, r->slot, out);
}

/* Builds the inputs of a node reading `n` columns of f: the distinct nodes
 * they live in (*n_inputs, up to n, written to inputs) and a colref per
 * column (refs[i]). */
void tsr__frame_colrefs(const tsr_frame *f, int n, const int *cols, tsr__expr **inputs,
                        uint32_t *n_inputs, tsr__colref *refs);
/* Per column of frame node e (when e is one; else *used stays NULL):
 * whether one of refs[0..n) of input `input` (and want[k] set, when want
 * is given) reads it, for tsr__fnode_add_projection (*used: e's ncols
 * flags, the caller frees). */
tsr_status tsr__fnode_slots_read(tsr_ctx *ctx, const tsr__expr *e, const tsr__colref *refs, int n,
                                 uint32_t input, const bool *want, bool **used);

/* A frame of f's columns keeping the rows where `predicate` (a bool column
 * over f's row chunks, from any node) is true: null is not true, as SQL's
 * WHERE (filter.c). */
tsr_status tsr__frame_filter_by(tsr_frame *f, const tsr__col *predicate, tsr_frame **out);

/* The row capacity and string data capacity of column `col` in chunk c
 * (for sizing a node that copies or transforms it). */
int64_t tsr__col_data_cap(const tsr_frame *f, int col, int64_t c);

#endif /* TSR_FRAME_IMPL_H */
