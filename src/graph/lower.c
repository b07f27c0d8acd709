/* lower.c — lowering expression nodes into one task graph, memoized, and
 * giving each chunk's task its owner rank.
 *
 * A pointer-keyed open-addressing table maps each lowered node to the task
 * ids of its chunks: a dense array once all of them are lowered, and, for
 * nodes whose op lowers chunk by chunk (tsr__op.lower_chunk: sources and
 * gathers such as slices), a chunk-keyed table of the chunks lowered so far.
 * Lowering runs from an explicit stack of requests, "all chunks of node e"
 * or "chunk c of node e", never recursing: a node whose op has no
 * lower_chunk waits until all its inputs are wholly lowered; a chunk
 * request calls lower_chunk, which asks for its input chunks and, when one
 * is missing, queues it and is called again once it is there.  So a slice
 * of a few chunks of a node of 10^13 chunks lowers those few chunks (the
 * work and memory follow the chunks needed, not the grid), and a node
 * reached several ways is lowered once: what makes computing several
 * outputs in one call compute their shared parts once (Dask's
 * dask.compute(a, b) semantics). */
#include <string.h>

#include "dist/dist.h"
#include "expr.h"
#include "sched/taskgraph_impl.h"

/* Chunk number -> task id, open addressing (keys -1 = empty). */
typedef struct chunk_map {
  int64_t *keys;
  uint32_t *tasks;
  size_t cap, used; /* cap is a power of two */
} chunk_map;

typedef struct slot {
  const tsr__expr *key; /* NULL = empty */
  uint32_t *ids;        /* task id per chunk, once every chunk is lowered */
  chunk_map map;        /* chunks lowered one by one (lower_chunk ops) */
  tsr__expr *redirect;  /* lowered in key's place (tsr__lowering_redirect) */
} slot;

/* A request on the stack: all chunks of e (chunk == -1), or one chunk;
 * `next` is how far a request has got (next input, or next chunk). */
typedef struct request {
  tsr__expr *e;
  int64_t chunk;
  int64_t next;
} request;

struct tsr__lowering {
  tsr_ctx *ctx;
  tsr_taskgraph *g;
  slot *slots;
  size_t cap, used; /* cap is a power of two */
  request *stack;
  size_t depth, stack_cap;
  size_t redirects; /* nodes with a redirect: none, no lookup per step */
};

struct tsr__chunk_inputs {
  tsr__lowering *l;
  const tsr__expr *e;
  uint32_t missing;
  tsr_status status;
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
  for (size_t i = 0; i < l->cap; i++) {
    tsr_free(l->ctx, l->slots[i].ids);
    tsr_free(l->ctx, l->slots[i].map.keys);
    tsr_free(l->ctx, l->slots[i].map.tasks);
  }
  tsr_free(l->ctx, l->slots);
  tsr_free(l->ctx, l->stack);
  tsr_free(l->ctx, l);
  *lp = NULL;
}

static size_t hash_ptr(const void *p) { return (size_t)tsr__mix_key((uint64_t)(uintptr_t)p); }

static slot *find(const tsr__lowering *l, const tsr__expr *e) {
  size_t mask = l->cap - 1;
  for (size_t i = hash_ptr(e) & mask;; i = (i + 1) & mask)
    if (l->slots[i].key == e || l->slots[i].key == NULL)
      return &l->slots[i];
}

/* The slot of e, made (empty) if absent.  Invalidates earlier slot
 * pointers when the table grows. */
static tsr_status slot_get(tsr__lowering *l, const tsr__expr *e, slot **out) {
  slot *s = find(l, e);
  if (s->key == NULL && 2 * (l->used + 1) > l->cap) {
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
    s = find(l, e);
  }
  if (s->key == NULL) {
    s->key = e;
    l->used++;
  }
  *out = s;
  return TSR_OK;
}

static size_t hash_chunk(int64_t c) { return (size_t)tsr__mix_key((uint64_t)c); }

/* The task of chunk c in m, or false. */
static bool map_get(const chunk_map *m, int64_t c, uint32_t *task) {
  if (m->cap == 0)
    return false;
  for (size_t i = hash_chunk(c) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == c) {
      *task = m->tasks[i];
      return true;
    }
    if (m->keys[i] < 0)
      return false;
  }
}

static tsr_status map_put(tsr_ctx *ctx, chunk_map *m, int64_t c, uint32_t task) {
  if (2 * (m->used + 1) > m->cap) {
    chunk_map grown = {NULL, NULL, m->cap ? 2 * m->cap : 16, 0};
    TSR_TRY(tsr__alloc_array(ctx, grown.cap, sizeof *grown.keys, "lowered chunks",
                             (void **)&grown.keys));
    tsr_status status = tsr__alloc_array(ctx, grown.cap, sizeof *grown.tasks, "lowered chunks",
                                         (void **)&grown.tasks);
    if (status != TSR_OK) {
      tsr_free(ctx, grown.keys);
      return status;
    }
    memset(grown.keys, 0xff, grown.cap * sizeof *grown.keys); /* -1: empty */
    for (size_t i = 0; i < m->cap; i++)
      if (m->keys[i] >= 0)
        TSR_TRY(map_put(ctx, &grown, m->keys[i], m->tasks[i])); /* no growth: cannot fail */
    tsr_free(ctx, m->keys);
    tsr_free(ctx, m->tasks);
    *m = grown;
  }
  size_t i = hash_chunk(c) & (m->cap - 1);
  while (m->keys[i] >= 0)
    i = (i + 1) & (m->cap - 1);
  m->keys[i] = c;
  m->tasks[i] = task;
  m->used++;
  return TSR_OK;
}

/* The task of chunk c of e if it is lowered. */
static bool lowered_chunk(const tsr__lowering *l, const tsr__expr *e, int64_t c, uint32_t *task) {
  const slot *s = find(l, e);
  if (s->key == NULL)
    return false;
  if (s->ids != NULL) {
    *task = s->ids[c];
    return true;
  }
  return map_get(&s->map, c, task);
}

static bool wholly_lowered(const tsr__lowering *l, const tsr__expr *e) {
  const slot *s = find(l, e);
  return s->key != NULL && s->ids != NULL;
}

static tsr_status push(tsr__lowering *l, tsr__expr *e, int64_t chunk) {
  if (l->depth == l->stack_cap) {
    size_t cap = l->stack_cap ? 2 * l->stack_cap : 64;
    TSR_TRY(tsr__grow_array(l->ctx, (void **)&l->stack, l->depth, cap, sizeof *l->stack,
                            "lowering stack"));
    l->stack_cap = cap;
  }
  l->stack[l->depth++] = (request){e, chunk, 0};
  return TSR_OK;
}

bool tsr__chunk_input(tsr__chunk_inputs *in, uint32_t i, int64_t c, uint32_t *task) {
  tsr__expr *x = in->e->inputs[i];
  if (lowered_chunk(in->l, x, c, task))
    return true;
  *task = 0;
  in->missing++;
  if (in->status == TSR_OK)
    in->status = push(in->l, x, x->op->lower_chunk != NULL ? c : -1);
  return false;
}

bool tsr__chunk_inputs_missing(const tsr__chunk_inputs *in) { return in->missing > 0; }

/* Whether task t reads only chunks every rank makes for itself (or none). */
static bool reads_only_replicated(const tsr_taskgraph *g, uint32_t t) {
  for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
    if (g->tasks[g->inputs[e]].owner != TSR__OWNER_READERS)
      return false;
  return true;
}

/* Owners of the tasks node e's lowering added (from `first` on): ids[k]
 * makes chunk c0 + k, for k < count, of the node's n chunks.  An owner the
 * op's lowering set itself stays (a frame whose chunks are held by the
 * ranks that made them, mem_frame.c). */
static tsr_status set_owners(tsr__lowering *l, const tsr__expr *e, uint32_t first,
                             const uint32_t *ids, int64_t c0, int64_t count, int64_t n) {
  tsr_taskgraph *g = l->g;
  if (e->op->everywhere) { /* made where read, never sent */
    for (uint32_t t = first; t < g->n_tasks; t++)
      if (tsr__task_n_inputs(g, t) == 0 && g->tasks[t].owner == TSR__OWNER_UNSET)
        g->tasks[t].owner = TSR__OWNER_READERS;
    return TSR_OK;
  }
  for (int64_t k = 0; k < count; k++)
    if (ids[k] >= first && ids[k] != UINT32_MAX && /* UINT32_MAX: a chunk the op did not make */
        g->tasks[ids[k]].owner == TSR__OWNER_UNSET)
      TSR_TRY(tsr_taskgraph_set_owner(g, ids[k], tsr__dist_chunk_owner(l->ctx, c0 + k, n)));
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
    TSR_TRY(tsr__grow_array(l->ctx, (void **)&g->node_hash, g->cap_nodes, cap, sizeof *g->node_hash,
                            "node hashes"));
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

/* Lowers one node whose inputs are all wholly lowered, with its op's
 * lower (all chunks at once). */
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
  /* A frame node of no row chunks has a grid of one empty chunk, which its
   * op does not make. */
  for (int64_t c = 0; c < n; c++)
    ids[c] = UINT32_MAX;
  uint32_t first = tsr_taskgraph_ntasks(l->g);
  TSR__TRY_GOTO(status, e->op->lower(e, l->g, in, ids));
  /* Owner computes (docs/architecture.md, "Distribution"): the tasks that make this
   * node's chunks belong to the chunks' owners; the node's helper tasks run
   * where their first input is (transfer.c), and helper tasks that read
   * nothing, or only chunks every rank makes (partial reductions reading a
   * user buffer in place, products of buffer chunks: one per input chunk,
   * in chunk order) are spread the same way over the ranks. */
  if (tsr__dist_size(tsr__dist_get(l->ctx)) > 1) {
    TSR__TRY_GOTO(status, set_owners(l, e, first, ids, 0, n, n));
    TSR__TRY_GOTO(status, hash_node(l, e));
  }
  slot *s;
  TSR__TRY_GOTO(status, slot_get(l, e, &s));
  s->ids = ids;
  ids = NULL;
fail:
  tsr_free(l->ctx, ids);
  if (in != in_stack)
    tsr_free(l->ctx, in);
  return status;
}

/* Lowers chunk c of e (its op has lower_chunk); *done is false when an
 * input chunk was missing (then queued on the stack). */
static tsr_status lower_one(tsr__lowering *l, tsr__expr *e, int64_t c, bool *done) {
  *done = false;
  tsr__chunk_inputs in = {l, e, 0, TSR_OK};
  uint32_t first = tsr_taskgraph_ntasks(l->g), task = 0;
  tsr_status status = e->op->lower_chunk(e, l->g, &in, c, &task);
  if (status == TSR_OK)
    status = in.status;
  TSR_TRY(status);
  if (in.missing > 0) {
    TSR_CHECK(tsr_taskgraph_ntasks(l->g) == first, TSR_EINTERNAL,
              "lowering %s: tasks were added for a chunk whose inputs were missing", e->op->name);
    return TSR_OK;
  }
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  slot *s;
  TSR_TRY(slot_get(l, e, &s));
  if (tsr__dist_size(tsr__dist_get(l->ctx)) > 1) {
    TSR_TRY(set_owners(l, e, first, &task, c, 1, n));
    if (s->map.used == 0) /* the node's first chunk: its description, once */
      TSR_TRY(hash_node(l, e));
  }
  TSR_TRY(map_put(l->ctx, &s->map, c, task));
  *done = true;
  return TSR_OK;
}

tsr_status tsr__lowering_redirect(tsr__lowering *l, const tsr__expr *from, tsr__expr *to) {
  TSR_CHECK(from != to && tsr_chunk_grid_nchunks(from->grid) == tsr_chunk_grid_nchunks(to->grid) &&
                from->dtype == to->dtype && !wholly_lowered(l, from),
            TSR_EINTERNAL, "lowering: %s cannot stand for %s", to->op->name, from->op->name);
  slot *s;
  TSR_TRY(slot_get(l, from, &s));
  l->redirects += s->redirect == NULL;
  s->redirect = to;
  return TSR_OK;
}

tsr__expr *tsr__lowering_target(const tsr__lowering *l, tsr__expr *e) {
  if (l->redirects == 0)
    return e;
  const slot *s = find(l, e);
  return s->key != NULL && s->redirect != NULL ? s->redirect : e;
}

/* A request for e, which `to` stands for: lowers `to` wholly, then gives e
 * its tasks. */
static tsr_status step_redirect(tsr__lowering *l, size_t at, tsr__expr *e, tsr__expr *to) {
  if (wholly_lowered(l, e)) {
    l->depth = at;
    return TSR_OK;
  }
  if (!wholly_lowered(l, to))
    return push(l, to, -1);
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  uint32_t *ids;
  TSR_TRY(tsr__alloc_array(l->ctx, (size_t)n, sizeof *ids, "chunk task ids", (void **)&ids));
  memcpy(ids, find(l, to)->ids, (size_t)n * sizeof *ids);
  find(l, e)->ids = ids;
  l->depth = at;
  return TSR_OK;
}

/* Runs the top request one step: pops it when it is satisfied, or pushes
 * what it waits for. */
static tsr_status step(tsr__lowering *l) {
  size_t at = l->depth - 1;
  tsr__expr *e = l->stack[at].e;
  int64_t c = l->stack[at].chunk;
  uint32_t task;
  tsr__expr *to = tsr__lowering_target(l, e);
  if (to != e)
    return step_redirect(l, at, e, to);
  if (c >= 0) { /* one chunk */
    bool done = lowered_chunk(l, e, c, &task);
    if (!done)
      TSR_TRY(lower_one(l, e, c, &done));
    if (done)
      l->depth = at; /* else its inputs are above it */
    return TSR_OK;
  }
  if (wholly_lowered(l, e)) {
    l->depth = at;
    return TSR_OK;
  }
  slot *s = find(l, e);
  bool sparse_started = s->key != NULL && s->map.used > 0;
  if (e->op->lower_chunk == NULL || (e->n_inputs == 0 && !sparse_started)) {
    /* Every input wholly first, then the op's lower (for a source, the
     * same tasks lower_chunk would add, without the per-chunk table). */
    while (l->stack[at].next < e->n_inputs) {
      tsr__expr *in = e->inputs[l->stack[at].next];
      if (!wholly_lowered(l, in))
        return push(l, in, -1); /* next is not advanced: checked again */
      l->stack[at].next++;
    }
    l->depth = at;
    return lower_node(l, e);
  }
  /* Every chunk, one by one (those already lowered are reused), into the
   * dense ids kept in the request's slot once complete. */
  int64_t n = tsr_chunk_grid_nchunks(e->grid);
  TSR_TRY(slot_get(l, e, &s));
  chunk_map *m = &s->map;
  uint32_t *ids = NULL;
  for (int64_t k = l->stack[at].next; k < n; k++) {
    bool done = map_get(m, k, &task);
    if (!done) {
      TSR_TRY(lower_one(l, e, k, &done));
      m = &find(l, e)->map; /* the table may have grown */
    }
    if (!done) {
      l->stack[at].next = k;
      return TSR_OK;
    }
  }
  TSR_TRY(tsr__alloc_array(l->ctx, (size_t)n, sizeof *ids, "chunk task ids", (void **)&ids));
  for (int64_t k = 0; k < n; k++)
    map_get(m, k, &ids[k]);
  s = find(l, e);
  s->ids = ids;
  tsr_free(l->ctx, s->map.keys);
  tsr_free(l->ctx, s->map.tasks);
  memset(&s->map, 0, sizeof s->map);
  l->depth = at;
  return TSR_OK;
}

tsr_status tsr__lowering_lower(tsr__lowering *l, tsr__expr *root, const uint32_t **ids_out) {
  *ids_out = NULL;
  tsr_status status = TSR_OK;
  l->depth = 0;
  if (!wholly_lowered(l, root))
    TSR__TRY_GOTO(status, push(l, root, -1));
  while (l->depth > 0)
    TSR__TRY_GOTO(status, step(l));
  *ids_out = find(l, root)->ids;
fail:
  l->depth = 0;
  return status;
}
