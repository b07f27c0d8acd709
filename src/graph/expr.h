/* expr.h — the expression graph (docs/architecture.md, "Two graphs", graph 1): one
 * reference-counted node per user operation, carrying dtype, shape and chunk
 * grid; and its lowering into a task graph over chunks (graph 2).
 *
 * Operations live in the layers above (array/, frame/): each is a tsr__op
 * whose `lower` adds the tasks computing every chunk of a node, given the
 * task ids of its inputs' chunks.  Lowering is memoized per node, so a node
 * shared by several outputs (or reached twice) becomes one set of tasks. */
#ifndef TSR_GRAPH_EXPR_H
#define TSR_GRAPH_EXPR_H

#include <stdatomic.h>

#include <tessera/exec.h>

#include "core/core_impl.h"

typedef struct tsr__expr tsr__expr;

/* What an op's lower_chunk reads its input chunks through (lower.c). */
typedef struct tsr__chunk_inputs tsr__chunk_inputs;

/* A running 64-bit hash (FNV-1a) of what a graph computes: under MPI the
 * ranks compare it before any chunk moves (sched/transfer.c), so it must
 * cover every parameter that changes results, and only values that are
 * equal on every rank that made the same calls: never a pointer's value. */
typedef struct tsr__hash {
  uint64_t h;
} tsr__hash;
static inline void tsr__hash_bytes(tsr__hash *h, const void *p, size_t n) {
  const unsigned char *c = p;
  for (size_t i = 0; i < n; i++)
    h->h = (h->h ^ c[i]) * 0x100000001b3ull;
}
static inline void tsr__hash_u64(tsr__hash *h, uint64_t v) { tsr__hash_bytes(h, &v, sizeof v); }
static inline void tsr__hash_i64s(tsr__hash *h, const int64_t *v, int n) {
  for (int i = 0; i < n; i++)
    tsr__hash_u64(h, (uint64_t)v[i]);
}
static inline void tsr__hash_str(tsr__hash *h, const char *s) {
  size_t n = s == NULL ? SIZE_MAX : __builtin_strlen(s);
  tsr__hash_u64(h, n);
  if (s != NULL)
    tsr__hash_bytes(h, s, n);
}

typedef struct tsr__op {
  const char *name;
  /* Adds tasks to g computing every chunk of e.  in[i][c] is the task whose
   * output is chunk c (C order) of input i; out[c] must receive the task
   * producing chunk c of e. */
  tsr_status (*lower)(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                      uint32_t *out);
  /* Frees what e->params owns beyond the params block itself (may be NULL). */
  void (*destroy_params)(tsr__expr *e);
  /* Under MPI: every rank can make this node's chunks at about the cost of
   * a copy (a user buffer every rank holds, a fill): its chunk tasks run on
   * each rank that reads them instead of being sent (lower.c). */
  bool everywhere;
  /* Optional: adds the task(s) making chunk c of e alone into *task,
   * reading input chunks through tsr__chunk_input.  Nodes whose op has it
   * are lowered chunk by chunk, on demand: a consumer that reads a few
   * chunks of a node of 10^13 chunks (a slice of a huge dataset) lowers
   * those chunks only.  When an input chunk is not lowered yet the op must
   * return TSR_OK without adding any task; the lowering then lowers that
   * chunk and calls it again. */
  tsr_status (*lower_chunk)(const tsr__expr *e, tsr_taskgraph *g, tsr__chunk_inputs *in, int64_t c,
                            uint32_t *task);
  /* Mixes every parameter in e->params that changes e's values (constants,
   * axes, programs, file names...; hash what pointers point to, never the
   * pointers).  NULL: none beyond what tsr__expr_hash covers. */
  void (*hash_params)(const tsr__expr *e, tsr__hash *h);
} tsr__op;

struct tsr__expr {
  _Atomic uint32_t refs;
  uint64_t serial; /* unique per node made in this process (never 0): names a node
                      without holding it (array/share.c) */
  tsr_ctx *ctx;
  const tsr__op *op;
  tsr_dtype dtype;
  tsr_chunk_grid *grid; /* owned */
  uint32_t n_inputs;
  tsr__expr **inputs;      /* each holds a reference */
  void *params;            /* op-specific block from tsr_alloc, owned */
  tsr__expr *release_next; /* links nodes waiting to be freed (expr.c) */
};

/* Creates a node with one reference.  Takes ownership of `grid` and
 * `params` even on failure; takes a new reference to each input. */
tsr_status tsr__expr_create(tsr_ctx *ctx, const tsr__op *op, tsr_dtype dtype, tsr_chunk_grid *grid,
                            uint32_t n_inputs, tsr__expr *const *inputs, void *params,
                            tsr__expr **out);
void tsr__expr_retain(tsr__expr *e);
/* Drops a reference, freeing the node (and releasing its inputs) at zero;
 * sets *e to NULL.  Iterative, so long chains do not recurse: nodes whose
 * count reaches zero while another release runs on this thread (their
 * inputs, or nodes an op's destroy_params releases) are queued and freed by
 * the outermost release.  Allocates nothing. */
void tsr__expr_release(tsr__expr **e);

/* For lower_chunk: the task making chunk c of e's input i, true; or false
 * when that chunk is not lowered yet (it is then queued, and the op must
 * return without adding tasks: see tsr__chunk_inputs_missing). */
bool tsr__chunk_input(tsr__chunk_inputs *in, uint32_t i, int64_t c, uint32_t *task);
/* Whether some tsr__chunk_input call of this lower_chunk call returned false. */
bool tsr__chunk_inputs_missing(const tsr__chunk_inputs *in);

/* Mixes e's own description into h: op name, dtype, input count, shape,
 * chunk boundaries and op parameters (not its inputs). */
void tsr__expr_hash(const tsr__expr *e, tsr__hash *h);

/* A lowering of expressions into one task graph, memoized per node.  Under
 * MPI it also mixes each lowered node's description, in lowering order,
 * into the task graph's parameter hash (the ranks' agreement check). */
typedef struct tsr__lowering tsr__lowering;

tsr_status tsr__lowering_create(tsr_ctx *ctx, tsr_taskgraph *g, tsr__lowering **out);
void tsr__lowering_destroy(tsr__lowering **l);
/* From now on `to` is lowered in place of `from`, and from's chunks are
 * to's tasks: a node standing for another for one compute (the same
 * values, dtype and chunks), such as a program rewritten to load a shared
 * intermediate (array/share.c).  `to` must live until the task graph has
 * run. */
tsr_status tsr__lowering_redirect(tsr__lowering *l, const tsr__expr *from, tsr__expr *to);
/* The node lowered in place of e: its redirect, or e. */
tsr__expr *tsr__lowering_target(const tsr__lowering *l, tsr__expr *e);
/* Lowers e (and everything it needs that is not lowered yet); *ids receives
 * the task id of each of e's chunks, valid until the lowering is destroyed. */
tsr_status tsr__lowering_lower(tsr__lowering *l, tsr__expr *e, const uint32_t **ids);

#endif /* TSR_GRAPH_EXPR_H */
