/* lower.c — lowering expression nodes into one task graph, memoized, and
 * giving each chunk's task its owner rank.
 *
 * A pointer-keyed open-addressing table maps each lowered node to the task
 * ids of its chunks.  Lowering walks the nodes depth-first with an explicit
 * stack (inputs first), so a node is lowered once however many consumers it
 * has: that is what makes computing several outputs in one call compute
 * their shared parts once (Dask's dask.compute(a, b) semantics). */
#include <string.h>

#include "dist/dist.h"
#include "expr.h"
#include "sched/taskgraph_impl.h"

typedef struct slot {
  const tsr__expr *key; /* NULL = empty */
  uint32_t *ids;        /* task id per chunk */
} slot;

struct tsr__lowering {
  tsr_ctx *ctx;
  tsr_taskgraph *g;
  slot *slots;
  size_t cap, used; /* cap is a power of two */
};

tsr_status tsr__lowering_create(tsr_ctx *ctx, tsr_taskgraph *g, tsr__lowering **out) {
  *out = NULL;
  tsr__lowering *l;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *l, (void **)&l));
  l->ctx = ctx;
  l->g = g;
  l->cap = 64;
  tsr_status status = tsr_calloc(ctx, l->cap, sizeof *l->slots, (void **)&l->slots);
  if (status != TSR_OK) {
    tsr_free(ctx, l);
    return status;
  }
  *out = l;
  return TSR_OK;
}

void tsr__lowering_destroy(tsr__lowering **lp) {
  if (lp == NULL || *lp == NULL)
    return;
  tsr__lowering *l = *lp;
  for (size_t i = 0; i < l->cap; i++)
    tsr_free(l->ctx, l->slots[i].ids);
  tsr_free(l->ctx, l->slots);
  tsr_free(l->ctx, l);
  *lp = NULL;
}

static size_t hash_ptr(const void *p) {
  uint64_t x = (uint64_t)(uintptr_t)p;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return (size_t)x;
}

static slot *find(const tsr__lowering *l, const tsr__expr *e) {
  size_t mask = l->cap - 1;
  for (size_t i = hash_ptr(e) & mask;; i = (i + 1) & mask)
    if (l->slots[i].key == e || l->slots[i].key == NULL)
      return &l->slots[i];
}

static tsr_status insert(tsr__lowering *l, const tsr__expr *e, uint32_t *ids) {
  if (2 * (l->used + 1) > l->cap) {
    slot *old = l->slots;
    size_t old_cap = l->cap;
    slot *grown;
    TSR_TRY(tsr_calloc(l->ctx, 2 * old_cap, sizeof *grown, (void **)&grown));
    l->slots = grown;
    l->cap = 2 * old_cap;
    for (size_t i = 0; i < old_cap; i++)
      if (old[i].key != NULL)
        *find(l, old[i].key) = old[i];
    tsr_free(l->ctx, old);
  }
  slot *s = find(l, e);
  s->key = e;
  s->ids = ids;
  l->used++;
  return TSR_OK;
}

/* Whether task t reads only chunks every rank makes for itself (or none). */
static bool reads_only_replicated(const tsr_taskgraph *g, uint32_t t) {
  for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
    if (g->tasks[g->inputs[e]].owner != TSR__OWNER_READERS)
      return false;
  return true;
}

/* Owners of the tasks node e's lowering added (from `first` on). */
static tsr_status set_owners(tsr__lowering *l, const tsr__expr *e, uint32_t first,
                             const uint32_t *ids, int64_t n) {
  tsr_taskgraph *g = l->g;
  if (e->op->everywhere) { /* made where read, never sent */
    for (uint32_t t = first; t < g->n_tasks; t++)
      if (tsr__task_n_inputs(g, t) == 0)
        g->tasks[t].owner = TSR__OWNER_READERS;
    return TSR_OK;
  }
  for (int64_t c = 0; c < n; c++)
    if (ids[c] >= first)
      TSR_TRY(tsr_taskgraph_set_owner(g, ids[c], tsr__dist_chunk_owner(l->ctx, c, n)));
  int64_t helpers = 0, k = 0;
  for (uint32_t t = first; t < g->n_tasks; t++)
    helpers += g->tasks[t].owner == TSR__OWNER_UNSET && reads_only_replicated(g, t);
  for (uint32_t t = first; t < g->n_tasks; t++)
    if (g->tasks[t].owner == TSR__OWNER_UNSET && reads_only_replicated(g, t))
      TSR_TRY(tsr_taskgraph_set_owner(g, t, tsr__dist_chunk_owner(l->ctx, k++, helpers)));
  return TSR_OK;
}

/* Mixes node e's description into the graph's parameter hash and records
 * the hash so far (under MPI: the ranks compare it, transfer.c). */
static tsr_status hash_node(tsr__lowering *l, const tsr__expr *e) {
  tsr_taskgraph *g = l->g;
  if (g->n_nodes == g->cap_nodes) {
    uint32_t cap = g->cap_nodes ? 2 * g->cap_nodes : 64;
    TSR_CHECK(cap > g->cap_nodes, TSR_ENOTSUP, "more than %u expression nodes in one graph",
              g->cap_nodes);
    TSR_TRY(tsr__grow_array(l->ctx, (void **)&g->node_hash, g->cap_nodes, cap,
                            sizeof *g->node_hash, "node hashes"));
    TSR_TRY(tsr__grow_array(l->ctx, (void **)&g->node_op, g->cap_nodes, cap, sizeof *g->node_op,
                            "node hashes"));
    g->cap_nodes = cap;
  }
  tsr__hash h = {g->param_hash ^ 0xcbf29ce484222325ull};
  tsr__expr_hash(e, &h);
  g->param_hash = h.h;
  g->node_hash[g->n_nodes] = h.h;
  g->node_op[g->n_nodes++] = e->op->name;
  return TSR_OK;
}

/* Lowers one node whose inputs are all lowered. */
static tsr_status lower_node(tsr__lowering *l, tsr__expr *e) {
  const uint32_t *in_stack[8];
  const uint32_t **in = in_stack;
  uint32_t *ids = NULL;
  tsr_status status = TSR_OK;
  if (e->n_inputs > 8)
    TSR__TRY_GOTO(
        status, tsr__alloc_array(l->ctx, e->n_inputs, sizeof *in, "lowering inputs", (void **)&in));
  for (uint32_t i = 0; i < e->n_inputs; i++)
    in[i] = find(l, e->inputs[i])->ids;
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  TSR__TRY_GOTO(status,
                tsr__alloc_array(l->ctx, (size_t)n, sizeof *ids, "chunk task ids", (void **)&ids));
  uint32_t first = tsr_taskgraph_ntasks(l->g);
  TSR__TRY_GOTO(status, e->op->lower(e, l->g, in, ids));
  /* Owner computes (DESIGN.md, "Distribution"): the tasks that make this
   * node's chunks belong to the chunks' owners; the node's helper tasks run
   * where their first input is (transfer.c), and helper tasks that read
   * nothing, or only chunks every rank makes (partial reductions reading a
   * user buffer in place, products of buffer chunks: one per input chunk,
   * in chunk order) are spread the same way over the ranks. */
  if (tsr__dist_size(tsr__dist_get(l->ctx)) > 1) {
    TSR__TRY_GOTO(status, set_owners(l, e, first, ids, n));
    TSR__TRY_GOTO(status, hash_node(l, e));
  }
  TSR__TRY_GOTO(status, insert(l, e, ids));
  ids = NULL;
fail:
  tsr_free(l->ctx, ids);
  if (in != in_stack)
    tsr_free(l->ctx, in);
  return status;
}

tsr_status tsr__lowering_lower(tsr__lowering *l, tsr__expr *root, const uint32_t **ids_out) {
  *ids_out = NULL;
  tsr_status status = TSR_OK;
  /* Depth-first, inputs before the node: (node, next input) pairs. */
  size_t cap = 64, depth = 0;
  tsr__expr **stack = NULL;
  uint32_t *next = NULL;
  TSR__TRY_GOTO(status,
                tsr__alloc_array(l->ctx, cap, sizeof *stack, "lowering stack", (void **)&stack));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(l->ctx, cap, sizeof *next, "lowering stack", (void **)&next));
  if (find(l, root)->key == NULL) {
    stack[0] = root;
    next[0] = 0;
    depth = 1;
  }
  while (depth > 0) {
    tsr__expr *e = stack[depth - 1];
    if (next[depth - 1] < e->n_inputs) {
      tsr__expr *in = e->inputs[next[depth - 1]++];
      if (find(l, in)->key != NULL)
        continue;
      if (depth == cap) {
        TSR__TRY_GOTO(status, tsr__grow_array(l->ctx, (void **)&stack, cap, 2 * cap, sizeof *stack,
                                              "lowering stack"));
        TSR__TRY_GOTO(status, tsr__grow_array(l->ctx, (void **)&next, cap, 2 * cap, sizeof *next,
                                              "lowering stack"));
        cap *= 2;
      }
      stack[depth] = in;
      next[depth] = 0;
      depth++;
      continue;
    }
    depth--;
    /* A node reached twice on the stack (diamond) is lowered once. */
    if (find(l, e)->key == NULL)
      TSR__TRY_GOTO(status, lower_node(l, e));
  }
  *ids_out = find(l, root)->ids;
fail:
  tsr_free(l->ctx, stack);
  tsr_free(l->ctx, next);
  return status;
}
