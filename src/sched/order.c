/* order.c — the priority order of a task graph: a depth-first post-order
 * from the sinks, in the spirit of dask.order.
 *
 * Starting from each sink (a task nobody consumes) in id order, a task is
 * numbered after all of its inputs, visiting inputs in the order given.  The
 * result is a topological order in which a subtree is finished before the
 * next one is started, so chunks are consumed (and freed) soon after they
 * are produced, and roots are admitted in the order their results are
 * needed.  Executors run ready tasks with lower numbers first; the serial
 * executor runs exactly this order.
 *
 * The traversal is iterative (a chain of 10^6 tasks must not overflow the C
 * stack) and O(tasks + edges); its scratch is two arrays of n entries. */
#include <string.h>

#include "taskgraph_impl.h"

tsr_status tsr__taskgraph_order(tsr_taskgraph *g) {
  tsr_status status = TSR_OK;
  uint32_t n = g->n_tasks;
  uint32_t *stack = NULL;      /* tasks on the DFS path */
  uint32_t *next_input = NULL; /* per stack slot: which input to visit next */
  TSR__TRY_GOTO(
      status, tsr__alloc_array(g->ctx, n, sizeof *g->order, "priority order", (void **)&g->order));
  TSR__TRY_GOTO(status, tsr__alloc_array(g->ctx, n, sizeof *g->priority, "task priorities",
                                         (void **)&g->priority));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(g->ctx, n, sizeof *stack, "ordering stack", (void **)&stack));
  TSR__TRY_GOTO(status, tsr__alloc_array(g->ctx, n, sizeof *next_input, "ordering stack",
                                         (void **)&next_input));
  /* priority[t] == UINT32_MAX marks "not yet reached". */
  memset(g->priority, 0xff, (size_t)n * sizeof *g->priority);
  uint32_t numbered = 0;
  for (uint32_t sink = 0; sink < n; sink++) {
    if (tsr__task_n_succ(g, sink) != 0)
      continue;
    uint32_t depth = 0;
    stack[depth] = sink;
    next_input[depth] = 0;
    g->priority[sink] = UINT32_MAX - 1; /* on the path */
    depth = 1;
    while (depth > 0) {
      uint32_t t = stack[depth - 1];
      uint32_t k = next_input[depth - 1];
      if (k < tsr__task_n_inputs(g, t)) {
        next_input[depth - 1] = k + 1;
        uint32_t in = g->inputs[g->in_off[t] + k];
        if (g->priority[in] == UINT32_MAX) {
          g->priority[in] = UINT32_MAX - 1;
          stack[depth] = in;
          next_input[depth] = 0;
          depth++;
        }
        continue;
      }
      depth--;
      g->priority[t] = numbered;
      g->order[numbered++] = t;
    }
  }
  /* Every task reaches a sink (ids are topological, so there are no cycles),
   * hence every task is numbered. */
  if (numbered != n)
    TSR__CHECK_GOTO(status, false, TSR_EINTERNAL, "priority order numbered %u of %u tasks",
                    numbered, n);
fail:
  tsr_free(g->ctx, stack);
  tsr_free(g->ctx, next_input);
  return status;
}
