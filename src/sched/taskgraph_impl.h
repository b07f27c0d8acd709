/* taskgraph_impl.h — the task graph's layout, shared by the files of sched/.
 *
 * Tasks live in flat arrays indexed by task id.  Inputs are stored CSR-style
 * while the graph is built (in_off[t]..in_off[t+1] index `inputs`); the
 * successor lists are the transpose, built once by tsr__taskgraph_finalize()
 * together with the priority order.  Adding a task after that invalidates
 * them, and the next run rebuilds them.
 *
 * Per task, building costs 32 (record) + 4 (in_off) + 4 per input bytes, and
 * finalizing adds 4 (succ_off) + 4 (order) + 4 (priority) + 4 per edge. */
#ifndef TSR_TASKGRAPH_IMPL_H
#define TSR_TASKGRAPH_IMPL_H

#include <stdatomic.h>
#include <string.h>

#include <tessera/exec.h>

#include "core/core_impl.h"

#define TSR__KERNEL_NAME_BYTES 64
#define TSR__TASK_KEEP 0x1u   /* keep the output after runs (tsr_taskgraph_keep) */
#define TSR__TASK_KEPT 0x2u   /* was kept by the last successful run */
#define TSR__TASK_CULLED 0x4u /* skipped by runs: nothing wanted needs it */
/* The output is a caller's buffer (tsr_taskgraph_add_buffer): never
 * allocated, freed or spilled by the runtime. */
#define TSR__TASK_EXTERNAL 0x8u

/* A task whose owner was not set runs where its first input (not owned by
 * every rank) runs; rank 0 when it has none (transfer.c resolves it). */
#define TSR__OWNER_UNSET INT32_MIN
/* A task without inputs that runs on every rank that reads it, and is
 * never sent (a chunk of a user buffer every rank holds: lower.c). */
#define TSR__OWNER_READERS (INT32_MIN + 1)

typedef struct tsr__kernel {
  char name[TSR__KERNEL_NAME_BYTES];
  tsr_kernel_fn fn;
  void *user;
} tsr__kernel;

typedef struct tsr__task {
  uint64_t params_off; /* into graph->params */
  uint64_t out_bytes;
  uint32_t params_bytes;
  uint16_t kernel;
  uint16_t flags; /* TSR__TASK_* */
  int32_t owner;  /* rank that computes it, TSR_OWNER_ALL or TSR__OWNER_UNSET */
  uint32_t reserved;
} tsr__task;

struct tsr_taskgraph {
  tsr_ctx *ctx;

  tsr__kernel *kernels;
  uint32_t n_kernels, cap_kernels;

  tsr__task *tasks;
  uint32_t *in_off; /* n_tasks + 1 entries (cap_tasks + 1 allocated) */
  uint32_t n_tasks, cap_tasks;
  uint32_t *inputs; /* n_edges entries */
  uint64_t n_edges, cap_edges;
  unsigned char *params; /* parameter blocks, 16-byte aligned */
  uint64_t params_used, params_cap;
  /* Under MPI: a hash of the parameters of the expression nodes lowered
   * into the graph (graph/lower.c), compared across ranks with the graph's
   * shape (transfer.c); 0 for graphs not made by lowering. */
  uint64_t param_hash;
  /* The hash after each lowered node and that node's op name, to name the
   * first node where ranks differ; n_nodes entries. */
  uint64_t *node_hash;
  const char **node_op;
  uint32_t n_nodes, cap_nodes;
  /* Under MPI: every task runs on every rank, on what that rank holds, with
   * no rank reading another's output (tsr__taskgraph_set_local). */
  bool local;

  /* Built by tsr__taskgraph_finalize(). */
  bool finalized;
  uint32_t *succ_off; /* n_tasks + 1 */
  uint32_t *succ;     /* n_edges; each list sorted by descending priority number */
  uint32_t *order;    /* task ids in priority order: a topological order */
  uint32_t *priority; /* position of each task in `order` (lower runs first) */
  uint32_t max_fan_in;

  /* Results of the last run. */
  void **outputs;     /* kept output buffers (n_outputs entries) or NULL */
  uint32_t n_outputs; /* n_tasks when the outputs were made */
  bool have_outputs;
  tsr_run_stats stats;
  tsr_kernel_stats *kernel_stats;
};

/* Makes g a graph of this rank's own work: under MPI each rank runs every
 * task on what it holds, and the run neither moves chunks nor talks to
 * the other ranks (no check that they built the same graph, no agreement
 * on a failure: the caller agrees on its status before its next collective
 * step).  Owners set on its tasks are ignored. */
static inline void tsr__taskgraph_set_local(tsr_taskgraph *g) { g->local = true; }

/* A task's params in tsr__taskgraph_run_local: the caller's argument and
 * the task's number. */
typedef struct tsr__local_task {
  void *arg;
  int64_t index;
} tsr__local_task;
static inline tsr__local_task tsr__local_task_of(const tsr_kernel_call *call) {
  tsr__local_task t;
  memcpy(&t, call->params, sizeof t);
  return t;
}

/* Runs tasks 0..n-1 of fn (params tsr__local_task {arg, i}; no inputs, no
 * output) now, in parallel, as a local graph: under MPI each rank runs
 * every task on what it holds, with no word to the other ranks, and the
 * caller agrees on the status before its next collective step. */
tsr_status tsr__taskgraph_run_local(tsr_ctx *ctx, const char *name, tsr_kernel_fn fn, void *arg,
                                    int64_t n);

/* Frees the last run's kept outputs (the graph then has none). */
void tsr__taskgraph_free_outputs(tsr_taskgraph *g);

/* Builds the successor lists and the depth-first priority order. */
tsr_status tsr__taskgraph_finalize(tsr_taskgraph *g);

/* Computes g->order and g->priority (order.c); needs the successor counts. */
tsr_status tsr__taskgraph_order(tsr_taskgraph *g);

/* The rank task t runs on under MPI, as transfer.c places it: its owner,
 * or for a task without one, its first one-rank input's rank, else
 * TSR_OWNER_ALL when every input is every rank's; < 0: made on every rank,
 * or where read.  For callers that read kept outputs where they were made
 * (frame persist, join loading). */
int32_t tsr__taskgraph_placed_on(const tsr_taskgraph *g, uint32_t t);

static inline bool tsr__task_culled(const tsr_taskgraph *g, uint32_t t) {
  return (g->tasks[t].flags & TSR__TASK_CULLED) != 0;
}
static inline uint32_t tsr__task_n_inputs(const tsr_taskgraph *g, uint32_t t) {
  return g->in_off[t + 1] - g->in_off[t];
}
static inline uint32_t tsr__task_n_succ(const tsr_taskgraph *g, uint32_t t) {
  return g->succ_off[t + 1] - g->succ_off[t];
}

/* Whether `buf`, an output buffer of task t, is the caller's buffer of an
 * external task (which the runtime must not free) rather than one it
 * allocated (every other output, and an external task's chunk received
 * from another rank). */
static inline bool tsr__task_borrows(const tsr_taskgraph *g, uint32_t t, const void *buf) {
  if (buf == NULL || !(g->tasks[t].flags & TSR__TASK_EXTERNAL))
    return false;
  const void *p;
  __builtin_memcpy(&p, g->params + g->tasks[t].params_off, sizeof p);
  return p == buf;
}
/* Frees an output buffer of task t unless it is borrowed. */
static inline void tsr__task_free_output(const tsr_taskgraph *g, uint32_t t, void *buf) {
  if (!tsr__task_borrows(g, t, buf))
    tsr_free(g->ctx, buf);
}

#endif /* TSR_TASKGRAPH_IMPL_H */
