/* fused.h — fused elementwise nodes: a program over leaves, how a task walks
 * its chunk through it, and the builder the elementwise and reduction
 * operations share.
 *
 * Leaves come in two kinds.  A task leaf is an expression node lowered to
 * tasks; the fused task takes its matching chunk as an input.  A memory
 * leaf is an array already whole in memory (a user buffer): the fused task
 * reads it in place through strides, so no task copies it into chunks
 * first.  Leaves may have fewer axes than the node, or extent 1 where the
 * node has more (NumPy broadcasting); their strides are 0 there. */
#ifndef TSR_ARRAY_FUSED_H
#define TSR_ARRAY_FUSED_H

#include "program.h"

typedef struct tsr__leaf {
  tsr__expr *expr;    /* one reference, held by the fused params */
  int32_t task_input; /* index among the node's inputs; -1 for a memory leaf */
  int32_t ndim;       /* aligned to the right of the node's axes */
  int64_t shape[TSR_MAX_NDIM];
  const unsigned char *memory;      /* memory leaf: its element (0, ..., 0) */
  int64_t mem_stride[TSR_MAX_NDIM]; /* memory leaf: element strides per leaf axis */
} tsr__leaf;

/* A node whose program was inlined into this one: register `reg` holds its
 * values.  Named by its serial, not held: the node may be gone; a compute
 * can then remake it from these instructions, once, and load it instead
 * (share.c). */
typedef struct tsr__inlined {
  uint64_t serial;
  uint16_t reg;
} tsr__inlined;

/* Most inlined nodes one program remembers (the outermost are kept). */
#define TSR__MAX_INLINED 32

typedef struct tsr__fused {
  tsr__program prog;
  uint32_t n_leaves;
  tsr__leaf *leaves;
  uint32_t n_inlined;
  tsr__inlined *inlined; /* NULL when n_inlined is 0 */
} tsr__fused;

/* Collects a program and its leaves while an operation is being built. */
typedef struct tsr__builder {
  tsr__program prog;
  uint32_t n_leaves;
  tsr__expr *leaf[TSR__MAX_LEAVES]; /* borrowed */
  int ndim;                         /* broadcast shape so far */
  int64_t shape[TSR_MAX_NDIM];
  uint32_t n_inlined;
  tsr__inlined inlined[TSR__MAX_INLINED];
} tsr__builder;

void tsr__builder_init(tsr__builder *b);
/* Adds array e to the program: its program inlined when e is itself fused
 * (and fits), else a load of e as a leaf.  Broadcasts the builder's shape
 * with e's (TSR_ESHAPE naming both shapes and `fn`).  *reg is the register
 * holding e's values. */
tsr_status tsr__builder_add(tsr__builder *b, const char *fn, tsr__expr *e, uint16_t *reg);
/* Makes the fused node computing register `result` over the builder's
 * leaves and shape. */
tsr_status tsr__builder_finish(tsr__builder *b, tsr_ctx *ctx, const char *fn, uint16_t result,
                               tsr__expr **out);

/* Rechunks the builder's task leaves to common chunks where they differ
 * (Dask's unify_chunks: the union of their boundaries per axis).  The new
 * leaves are returned in owned[0..*n_owned) (one reference each, to release
 * once the node made from the builder holds its own). */
tsr_status tsr__builder_unify(tsr__builder *b, tsr_ctx *ctx, tsr__expr **owned, uint32_t *n_owned);
/* out[i] = in[i] rechunked to chunks common to all (broadcast-compatible)
 * inputs; one new reference each. */
tsr_status tsr__unify_chunks(tsr_ctx *ctx, const char *fn, uint32_t n, tsr__expr *const *in,
                             tsr__expr **out);
/* Whether e is in memory as a strided view of a user buffer (see fused.c);
 * stride has e's ndim entries, in elements. */
bool tsr__memory_view(const tsr__expr *e, const unsigned char **base, int64_t *stride);

/* True for a fused elementwise node (whose params are a tsr__fused). */
bool tsr__expr_is_fused(const tsr__expr *e);
/* The program a node runs (a fused elementwise node, or a reduction: the
 * values it reduces) and the chunk grid of its iteration space; false for
 * other nodes. */
bool tsr__program_of(const tsr__expr *e, const tsr__fused **f, const tsr_chunk_grid **space);
/* A node like e (fused or reduction: same op, dtype, chunks and other
 * parameters) running program f instead (its inputs: f's task leaves, in
 * order).  Takes f, even on failure. */
tsr_status tsr__program_rebuild(const tsr__expr *e, tsr__fused *f, tsr__expr **out);
/* The nodes f reads as task inputs (its task leaves, in order) into
 * inputs[0..TSR__MAX_LEAVES); returns their count. */
uint32_t tsr__fused_inputs(const tsr__fused *f, tsr__expr **inputs);
/* A fused elementwise node running f over `grid` (its inputs: f's task
 * leaves, in order; its dtype: the last instruction's).  Takes f and grid,
 * even on failure. */
tsr_status tsr__fused_node(tsr_ctx *ctx, tsr__fused *f, tsr_chunk_grid *grid, tsr__expr **out);
/* The same for reductions (reduce.c). */
bool tsr__reduce_program(const tsr__expr *e, const tsr__fused **f, const tsr_chunk_grid **space);
tsr_status tsr__reduce_rebuild(const tsr__expr *e, tsr__fused *f, tsr__expr **out);
/* Fills leaf records for the builder's leaves (taking references) and the
 * node inputs (task leaves, in order); used by fused nodes and reductions.
 * On success *inputs has *n_inputs borrowed pointers. */
tsr_status tsr__fused_make(tsr_ctx *ctx, const tsr__builder *b, tsr__fused **out,
                           tsr__expr **inputs, uint32_t *n_inputs);
void tsr__fused_destroy(tsr_ctx *ctx, tsr__fused *f);
/* Mixes the program (instructions and constants) and its leaves into h; a
 * memory leaf (not a node input, so not lowered) with the nodes down to
 * its buffer or full() value. */
void tsr__fused_hash(const tsr__fused *f, tsr__hash *h);
/* The common chunk grid of the builder's task leaves over the builder's
 * shape (after tsr__builder_unify); axes only memory leaves span take the
 * first one's chunks. */
tsr_status tsr__fused_grid(tsr_ctx *ctx, const char *fn, const tsr__builder *b,
                           tsr_chunk_grid **out);
/* Input chunk ids of output chunk `coords` (over the builder's shape) for
 * every task leaf. */
void tsr__fused_task_inputs(const tsr__fused *f, const tsr__expr *const *inputs,
                            const uint32_t *const *in, int ndim, const int64_t *coords,
                            uint32_t *ids);

/* Walking a chunk: operands are the leaves, then up to two extra operands
 * the caller describes (an output, an index), all with element strides over
 * the iteration space; axes are coalesced where every operand allows. */
#define TSR__WALK_EXTRA 8
typedef struct tsr__walk {
  int ndim;
  int n_leaves;
  int nops; /* leaves + extras */
  int64_t shape[TSR_MAX_NDIM];
  const unsigned char *base[TSR__MAX_LEAVES];
  int64_t itemsize[TSR__MAX_LEAVES];
  int64_t stride[TSR__MAX_LEAVES + TSR__WALK_EXTRA][TSR_MAX_NDIM];
} tsr__walk;

/* Sets up a walk over the block (shape, offset) of the fused program's
 * iteration space (ndim axes, whole shape `space`), with the leaves' chunk
 * buffers `chunks` (the task's inputs, in task-leaf order).  The caller then
 * sets the extras' strides in w->stride[n_leaves + i] and calls coalesce. */
void tsr__walk_setup(tsr__walk *w, const tsr__fused *f, int ndim, const int64_t *shape,
                     const int64_t *offset, const void *const *chunks, int n_extra);
void tsr__walk_coalesce(tsr__walk *w);

/* Called for every block of values: n elements of the program's result
 * dtype; extra operand i's offset (in elements, from its origin) of the
 * block's first element and its stride along the block; `run_end` on the
 * last block of a run (a run is one pass along the innermost axis). */
typedef tsr_status (*tsr__visit_fn)(void *user, const void *values, size_t n,
                                    const int64_t *extra_off, const int64_t *extra_stride,
                                    bool run_end);
tsr_status tsr__walk_run(tsr__walk *w, tsr__eval *ev, tsr__visit_fn visit, void *user);

#endif /* TSR_ARRAY_FUSED_H */
