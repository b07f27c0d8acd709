/* share.c — one compute's plan (docs/architecture.md, "Shared intermediates"):
 * which elementwise intermediates are made once and loaded by their
 * consumers, and which reductions share a pass over their chunks.
 *
 * Elementwise programs are inlined into their consumers when the consumers
 * are built (fused.c), so t = (x - m) / s feeding ten reductions is
 * recomputed by each of them from x.  That is right when t is cheap: reading
 * a kept t costs as many bytes as reading x, plus t's write.  It is wrong
 * when t is expensive (exp, log, divisions, several large inputs) or made
 * anyway (stored, or read by an operation that does not fuse).  Each fused
 * program remembers which node's values each of its registers holds
 * (tsr__fused.inlined, by serial number: the node itself may be gone, and
 * is then remade from a consumer's instructions); before lowering, this
 * pass counts, for every such node t, the consumers the outputs reach, and
 * applies the cost rule:
 *
 *   cost(program) = sum over instructions of their weight (below)
 *                 + LOAD_COST x (elements read from each leaf / elements computed)
 *   saved = sum over consumers of elements x (cost(consumer) - cost(consumer
 *           with t's register replaced by a load of t, dead code dropped))
 *   keep t when saved > 0 if t is made anyway, else when
 *           saved > elements(t) x (cost(t) + STORE_COST)
 *
 * Kept nodes are lowered once; each consumer is lowered as a rebuilt node
 * (tsr__program_rebuild) standing for it (tsr__lowering_redirect).
 * Candidates are decided outermost first (the longest programs), so a kept
 * node's own inner intermediates are counted with it as one consumer.
 * Decisions depend only on the graph, never on addresses: every MPI rank
 * makes the same ones.  Results do not change: a loaded value is the value
 * the inlined instructions computed, bit for bit. */
#include <stdlib.h>
#include <string.h>

#include "fused.h"

/* Weights, in units of one simple vectorized operation on a block of
 * L1-resident values (about 0.6 ns per element and thread on the 2-core
 * machine of docs/benchmarks.md; a float64 streamed from memory about
 * 1.2 ns, written to a fresh chunk about 7 ns with its page faults, exp or
 * log 18-25 ns with glibc's libm). */
#define LOAD_COST 2.0
#define STORE_COST 12.0
#define MATH_COST 30.0

static double binary_weight(tsr_binary_op op) {
  switch (op) {
  case TSR_OP_DIV:
    return 4;
  case TSR_OP_FLOORDIV:
  case TSR_OP_MOD:
    return 8;
  case TSR_OP_POW:
  case TSR_OP_ARCTAN2:
  case TSR_OP_HYPOT:
    return MATH_COST;
  default:
    return 1;
  }
}

static double unary_weight(tsr_unary_op op) {
  switch (op) {
  case TSR_OP_SQRT:
    return 4;
  case TSR_OP_NEGATIVE:
  case TSR_OP_POSITIVE:
  case TSR_OP_ABS:
  case TSR_OP_SIGN:
  case TSR_OP_SQUARE:
  case TSR_OP_FLOOR:
  case TSR_OP_CEIL:
  case TSR_OP_ROUND:
  case TSR_OP_TRUNC:
  case TSR_OP_ISNAN:
  case TSR_OP_ISINF:
  case TSR_OP_ISFINITE:
  case TSR_OP_LOGICAL_NOT:
  case TSR_OP_INVERT:
    return 1;
  default: /* cbrt, exponentials, logarithms, trigonometric and hyperbolic */
    return MATH_COST;
  }
}

static double instr_weight(const tsr__instr *in) {
  switch ((tsr__icode)in->code) {
  case TSR__I_LOAD:
  case TSR__I_CONST:
    return 0; /* loads are counted per leaf; constants are splatted once */
  case TSR__I_UNARY:
    return unary_weight((tsr_unary_op)in->op);
  case TSR__I_BINARY:
    return binary_weight((tsr_binary_op)in->op);
  default: /* casts, where */
    return 1;
  }
}

static double elements(int ndim, const int64_t *shape) {
  double n = 1;
  for (int d = 0; d < ndim; d++)
    n *= (double)shape[d];
  return n;
}

/* cost(program) per element of its iteration space (see the top). */
static double program_cost(const tsr__fused *f, const tsr_chunk_grid *space) {
  double c = 0, n = elements(space->ndim, space->shape);
  for (uint32_t i = 0; i < f->prog.n; i++)
    c += instr_weight(&f->prog.code[i]);
  for (uint32_t k = 0; k < f->n_leaves && n > 0; k++) {
    const tsr__leaf *l = &f->leaves[k];
    bool constant = l->task_input < 0;
    for (int j = 0; j < l->ndim && constant; j++)
      constant = l->mem_stride[j] == 0 || l->shape[j] == 1;
    if (!constant)
      c += LOAD_COST * elements(l->ndim, l->shape) / n;
  }
  return c;
}

/* Whether node t can be a task leaf of a program over `space`: each of its
 * axes (aligned to the right) either broadcasts or has the space's chunks. */
static bool fits_space(const tsr__expr *t, const tsr_chunk_grid *space) {
  const tsr_chunk_grid *g = t->grid;
  if (g->ndim > space->ndim)
    return false;
  for (int j = 0; j < g->ndim; j++) {
    int d = j + space->ndim - g->ndim;
    if (g->shape[j] == space->shape[d]) {
      if (!tsr__grid_axis_equal(space, d, g, j))
        return false;
    } else if (g->shape[j] != 1) {
      return false;
    }
  }
  return true;
}

/* Marks the instructions register `from` depends on (and the leaves they
 * load), not looking through register `stop` (-1: none). */
static void mark_live(const tsr__fused *f, uint32_t from, int stop, bool *live, bool *leaf_used) {
  memset(live, 0, f->prog.n * sizeof *live);
  memset(leaf_used, 0, f->n_leaves * sizeof *leaf_used);
  live[from] = true;
  for (uint32_t i = from + 1; i-- > 0;) {
    const tsr__instr *in = &f->prog.code[i];
    if (!live[i] || (int)i == stop)
      continue;
    switch ((tsr__icode)in->code) {
    case TSR__I_LOAD:
      leaf_used[in->a] = true;
      break;
    case TSR__I_CONST:
      break;
    case TSR__I_WHERE:
      live[in->c] = true;
      live[in->b] = true;
      live[in->a] = true;
      break;
    case TSR__I_BINARY:
      live[in->b] = true;
      live[in->a] = true;
      break;
    default:
      live[in->a] = true;
      break;
    }
  }
}

/* The part of f computing register `result`: its instructions and leaves
 * only, renumbered, with the remembered nodes it still computes.  With t,
 * register r becomes a load of node t (a new leaf unless t is one) and t is
 * no longer remembered.  *out is NULL (and TSR_OK) when the result would
 * read too many leaves. */
static tsr_status rewrite(tsr_ctx *ctx, const tsr__fused *f, uint32_t result, int r, tsr__expr *t,
                          tsr__fused **out) {
  *out = NULL;
  bool live[TSR__MAX_INSTRS], leaf_used[TSR__MAX_LEAVES];
  mark_live(f, result, t != NULL ? r : -1, live, leaf_used);
  uint16_t leaf_map[TSR__MAX_LEAVES];
  uint32_t n_leaves = 0;
  int t_leaf = -1;
  for (uint32_t k = 0; k < f->n_leaves; k++) {
    if (t != NULL && f->leaves[k].expr == t) {
      leaf_used[k] = true;
      t_leaf = (int)n_leaves;
    }
    if (leaf_used[k])
      leaf_map[k] = (uint16_t)n_leaves++;
  }
  bool t_new = t != NULL && t_leaf < 0;
  if (t_new) {
    if (n_leaves == TSR__MAX_LEAVES)
      return TSR_OK;
    t_leaf = (int)n_leaves++;
  }
  if (n_leaves == 0)
    return TSR_OK;
  tsr__fused *s = NULL;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  tsr_status status = tsr_calloc(ctx, n_leaves, sizeof *s->leaves, (void **)&s->leaves);
  if (status == TSR_OK && f->n_inlined > 0)
    status = tsr_calloc(ctx, f->n_inlined, sizeof *s->inlined, (void **)&s->inlined);
  if (status != TSR_OK) {
    tsr__fused_destroy(ctx, s);
    return status;
  }
  /* Instructions: the live ones in order (the result stays last). */
  uint16_t reg_map[TSR__MAX_INSTRS];
  for (uint32_t i = 0; i <= result; i++) {
    if (!live[i])
      continue;
    tsr__instr in = {.code = TSR__I_LOAD,
                     .dtype = (uint8_t)(t ? t->dtype : 0),
                     .src_dtype = (uint8_t)(t ? t->dtype : 0),
                     .a = (uint16_t)t_leaf};
    if (t == NULL || (int)i != r)
      in = tsr__instr_renumber(f->prog.code[i], leaf_map, reg_map);
    reg_map[i] = (uint16_t)s->prog.n;
    s->prog.code[s->prog.n++] = in;
  }
  /* Leaves: the used ones, and t; node inputs renumbered in leaf order. */
  for (uint32_t k = 0; k < f->n_leaves; k++)
    if (leaf_used[k]) {
      s->leaves[leaf_map[k]] = f->leaves[k];
      tsr__expr_retain(f->leaves[k].expr);
    }
  if (t_new) {
    tsr__leaf *l = &s->leaves[t_leaf];
    l->expr = t;
    l->task_input = 0; /* a node input */
    l->ndim = t->grid->ndim;
    memcpy(l->shape, t->grid->shape, (size_t)l->ndim * sizeof *l->shape);
    tsr__expr_retain(t);
  }
  s->n_leaves = n_leaves;
  int32_t task_inputs = 0;
  for (uint32_t k = 0; k < n_leaves; k++)
    if (s->leaves[k].task_input >= 0)
      s->leaves[k].task_input = task_inputs++;
  for (uint32_t i = 0; i < f->n_inlined; i++) {
    const tsr__inlined *x = &f->inlined[i];
    if (!live[x->reg] || (t != NULL && (x->serial == t->serial || x->reg == r)))
      continue;
    s->inlined[s->n_inlined++] = (tsr__inlined){x->serial, reg_map[x->reg]};
  }
  *out = s;
  return TSR_OK;
}

/* Remakes the node whose values register r of f holds (over space, f's
 * iteration space): its instructions and leaves, its shape the broadcast
 * of theirs, chunked as the space.  *out is NULL when it cannot be. */
static tsr_status remake(tsr_ctx *ctx, const tsr__fused *f, uint16_t r, const tsr_chunk_grid *space,
                         tsr__expr **out) {
  *out = NULL;
  tsr__fused *g = NULL;
  TSR_TRY(rewrite(ctx, f, r, -1, NULL, &g));
  if (g == NULL)
    return TSR_OK;
  int ndim = 0;
  int64_t shape[TSR_MAX_NDIM];
  for (uint32_t k = 0; k < g->n_leaves; k++)
    ndim = g->leaves[k].ndim > ndim ? g->leaves[k].ndim : ndim;
  for (int j = 0; j < ndim; j++)
    shape[j] = 1;
  for (uint32_t k = 0; k < g->n_leaves; k++) {
    const tsr__leaf *l = &g->leaves[k];
    for (int j = 0; j < l->ndim; j++)
      if (l->shape[j] != 1)
        shape[j + ndim - l->ndim] = l->shape[j];
  }
  tsr__grid_axis axes[TSR_MAX_NDIM];
  static const int64_t one[2] = {0, 1};
  for (int j = 0; j < ndim; j++) {
    int d = j + space->ndim - ndim;
    axes[j] = shape[j] == space->shape[d] ? (tsr__grid_axis){space, d, NULL, 0}
                                          : (tsr__grid_axis){NULL, 0, one, 1};
  }
  tsr_chunk_grid *grid = NULL;
  tsr_status status = tsr__grid_from_axes(ctx, ndim, axes, &grid);
  if (status != TSR_OK) {
    tsr__fused_destroy(ctx, g);
    return status;
  }
  return tsr__fused_node(ctx, g, grid, out);
}

/* A program node the outputs reach: its program now. */
typedef struct prog_node {
  tsr__expr *e;
  const tsr__fused *orig;
  tsr__fused *cur; /* a rewritten program (owned), or NULL: orig */
  const tsr_chunk_grid *space;
} prog_node;

static const tsr__fused *program(const prog_node *p) { return p->cur ? p->cur : p->orig; }

/* The register of f holding the values of the node with this serial, or -1. */
static int reg_of(const tsr__fused *f, uint64_t serial) {
  for (uint32_t i = 0; i < f->n_inlined; i++)
    if (f->inlined[i].serial == serial)
      return f->inlined[i].reg;
  return -1;
}

/* Whether two reductions' programs read the same values over the same
 * chunks (they then share one pass: reduce.c's joint reductions). */
static bool same_pass(const prog_node *a, const prog_node *b) {
  const tsr__fused *x = program(a), *y = program(b);
  if (tsr__expr_is_fused(a->e) || tsr__expr_is_fused(b->e) || x->n_leaves != y->n_leaves ||
      !tsr__grid_equal(a->space, b->space) || !tsr__program_equal(&x->prog, &y->prog))
    return false;
  for (uint32_t k = 0; k < x->n_leaves; k++)
    if (x->leaves[k].expr != y->leaves[k].expr)
      return false;
  return true;
}

/* A map from nonzero 64-bit keys (serials, or addresses: membership only,
 * never an order) to values, open addressing. */
typedef struct key_map {
  uint64_t *keys, *values;
  size_t cap, used;
} key_map;

static size_t slot_of(uint64_t x, size_t mask) { return (size_t)tsr__mix_key(x) & mask; }

static uint64_t *map_find(const key_map *m, uint64_t key) {
  if (m->cap == 0)
    return NULL;
  for (size_t i = slot_of(key, m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key)
      return &m->values[i];
    if (m->keys[i] == 0)
      return NULL;
  }
}

static tsr_status map_put(tsr_ctx *ctx, key_map *m, uint64_t key, uint64_t value) {
  if (2 * (m->used + 1) > m->cap) {
    key_map g = {NULL, NULL, m->cap ? 2 * m->cap : 64, 0};
    TSR_TRY(tsr_calloc(ctx, g.cap, sizeof *g.keys, (void **)&g.keys));
    tsr_status status = tsr_calloc(ctx, g.cap, sizeof *g.values, (void **)&g.values);
    if (status != TSR_OK) {
      tsr_free(ctx, g.keys);
      return status;
    }
    for (size_t i = 0; i < m->cap; i++)
      if (m->keys[i] != 0)
        TSR_TRY(map_put(ctx, &g, m->keys[i], m->values[i])); /* no growth: cannot fail */
    tsr_free(ctx, m->keys);
    tsr_free(ctx, m->values);
    *m = g;
  }
  size_t i = slot_of(key, m->cap - 1);
  while (m->keys[i] != 0 && m->keys[i] != key)
    i = (i + 1) & (m->cap - 1);
  if (m->keys[i] == 0)
    m->used++;
  m->keys[i] = key;
  m->values[i] = value;
  return TSR_OK;
}

static void map_free(tsr_ctx *ctx, key_map *m) {
  tsr_free(ctx, m->keys);
  tsr_free(ctx, m->values);
}

static uint64_t key(const tsr__expr *e) { return (uint64_t)(uintptr_t)e; }

/* Graphs with more program nodes than this are lowered as built (the pass
 * is quadratic in the worst case). */
#define SHARE_MAX_PROGRAMS 1024

struct tsr__plan {
  size_t n_nodes, cap_nodes;
  tsr__expr **nodes; /* remade intermediates and rebuilt consumers (one reference each) */
  tsr__reduce_links *links;
};

static tsr_status plan_keep(tsr_ctx *ctx, tsr__plan *plan, tsr__expr *e) {
  if (plan->n_nodes == plan->cap_nodes) {
    size_t cap = plan->cap_nodes ? 2 * plan->cap_nodes : 16;
    tsr_status status = tsr__grow_array(ctx, (void **)&plan->nodes, plan->n_nodes, cap,
                                        sizeof *plan->nodes, "shared intermediates");
    if (status != TSR_OK) {
      tsr__expr_release(&e);
      return status;
    }
    plan->cap_nodes = cap;
  }
  plan->nodes[plan->n_nodes++] = e;
  return TSR_OK;
}

/* A node some program remembers, to decide. */
typedef struct candidate {
  uint64_t serial;
  uint32_t length; /* instructions computing it: longest first */
  uint32_t index;  /* discovery order: ties */
} candidate;

/* The state of one planning pass. */
typedef struct planner {
  tsr_ctx *ctx;
  tsr__plan *plan;
  key_map reached;  /* node address -> 1 + its index in progs, or 0 */
  key_map alive;    /* serial -> address of a fused node the outputs reach */
  key_map made;     /* serials of nodes made wholly anyway (outputs, inputs of whole-chunk ops) */
  prog_node *progs; /* program nodes, in discovery order */
  size_t n_progs, cap_progs;
  candidate *cands;
  size_t n_cands, cap_cands;
  key_map cand_index; /* serial -> 1 + index in cands */
} planner;

static tsr_status add_prog(planner *p, tsr__expr *e) {
  const tsr__fused *f;
  const tsr_chunk_grid *space;
  if (tsr__expr_is_fused(e))
    TSR_TRY(map_put(p->ctx, &p->alive, e->serial, key(e)));
  if (!tsr__program_of(e, &f, &space))
    return TSR_OK;
  if (p->n_progs == p->cap_progs) {
    size_t cap = p->cap_progs ? 2 * p->cap_progs : 32;
    TSR_TRY(tsr__grow_array(p->ctx, (void **)&p->progs, p->n_progs, cap, sizeof *p->progs,
                            "shared intermediates"));
    p->cap_progs = cap;
  }
  p->progs[p->n_progs++] = (prog_node){e, f, NULL, space};
  TSR_TRY(map_put(p->ctx, &p->reached, key(e), p->n_progs));
  for (uint32_t i = 0; i < f->n_inlined; i++) {
    uint64_t serial = f->inlined[i].serial;
    if (map_find(&p->cand_index, serial) != NULL)
      continue;
    if (p->n_cands == p->cap_cands) {
      size_t cap = p->cap_cands ? 2 * p->cap_cands : 32;
      TSR_TRY(tsr__grow_array(p->ctx, (void **)&p->cands, p->n_cands, cap, sizeof *p->cands,
                              "shared intermediates"));
      p->cap_cands = cap;
    }
    bool live[TSR__MAX_INSTRS], leaf_used[TSR__MAX_LEAVES];
    mark_live(f, f->inlined[i].reg, -1, live, leaf_used);
    uint32_t length = 0;
    for (uint32_t j = 0; j < f->prog.n; j++)
      length += live[j];
    p->cands[p->n_cands] = (candidate){serial, length, (uint32_t)p->n_cands};
    TSR_TRY(map_put(p->ctx, &p->cand_index, serial, ++p->n_cands));
  }
  return TSR_OK;
}

/* Every node the roots reach, depth first (iteratively). */
static tsr_status discover(planner *p, size_t n, tsr__expr *const *roots) {
  tsr__expr **stack = NULL;
  size_t depth = 0, cap = 0;
  tsr_status status = TSR_OK;
  for (size_t i = n; i-- > 0;) {
    TSR__TRY_GOTO(status, map_put(p->ctx, &p->made, roots[i]->serial, 1));
    if (depth == cap) {
      cap = cap ? 2 * cap : 64;
      TSR__TRY_GOTO(status, tsr__grow_array(p->ctx, (void **)&stack, depth, cap, sizeof *stack,
                                            "plan stack"));
    }
    stack[depth++] = roots[i];
  }
  while (depth > 0) {
    tsr__expr *e = stack[--depth];
    if (map_find(&p->reached, key(e)) != NULL)
      continue;
    TSR__TRY_GOTO(status, map_put(p->ctx, &p->reached, key(e), 0));
    TSR__TRY_GOTO(status, add_prog(p, e));
    for (uint32_t k = e->n_inputs; k-- > 0;) {
      tsr__expr *x = e->inputs[k];
      if (e->op->lower_chunk == NULL) /* every chunk of x is read */
        TSR__TRY_GOTO(status, map_put(p->ctx, &p->made, x->serial, 1));
      if (depth == cap) {
        cap = cap ? 2 * cap : 64;
        TSR__TRY_GOTO(status, tsr__grow_array(p->ctx, (void **)&stack, depth, cap, sizeof *stack,
                                              "plan stack"));
      }
      stack[depth++] = x;
    }
  }
fail:
  tsr_free(p->ctx, stack);
  return status;
}

static int by_length(const void *a, const void *b) {
  const candidate *x = a, *y = b;
  if (x->length != y->length)
    return x->length > y->length ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

/* The node a candidate names: the fused node itself when the outputs reach
 * it, else remade (*remade, one reference) from its first consumer's
 * instructions; NULL when neither is possible. */
static tsr_status candidate_node(planner *p, uint64_t serial, tsr__expr **t, tsr__expr **remade) {
  *remade = NULL;
  uint64_t *at = map_find(&p->alive, serial);
  *t = at != NULL ? (tsr__expr *)(uintptr_t)*at : NULL;
  for (size_t i = 0; *t == NULL && i < p->n_progs; i++) {
    const tsr__fused *f = program(&p->progs[i]);
    int r = reg_of(f, serial);
    if (r >= 0) {
      TSR_TRY(remake(p->ctx, f, (uint16_t)r, p->progs[i].space, remade));
      *t = *remade;
      return TSR_OK;
    }
  }
  return TSR_OK;
}

/* Decides one candidate: rewrites every consumer to load it when the rule
 * says keep (it is then made, and a program node itself). */
static tsr_status decide(planner *p, uint64_t serial) {
  tsr__expr *t, *remade;
  TSR_TRY(candidate_node(p, serial, &t, &remade));
  if (t == NULL)
    return TSR_OK;
  const tsr__fused *tf = t->params;
  tsr_status status = TSR_OK;
  size_t n = p->n_progs;
  tsr__fused **rewritten = NULL;
  status = tsr_calloc(p->ctx, n ? n : 1, sizeof *rewritten, (void **)&rewritten);
  double saved = 0;
  size_t consumers = 0;
  for (size_t i = 0; i < n && status == TSR_OK; i++) {
    prog_node *c = &p->progs[i];
    const tsr__fused *f = program(c);
    int r = reg_of(f, serial);
    if (r < 0 || c->e == t || f->prog.code[r].dtype != (uint8_t)t->dtype ||
        !fits_space(t, c->space))
      continue;
    status = rewrite(p->ctx, f, f->prog.n - 1, r, t, &rewritten[i]);
    if (status != TSR_OK || rewritten[i] == NULL)
      continue;
    consumers++;
    bool joint = false; /* a reduction sharing a pass with an earlier one counts once */
    for (size_t j = 0; j < i && !joint; j++)
      joint = rewritten[j] != NULL && same_pass(c, &p->progs[j]);
    if (!joint)
      saved += elements(c->space->ndim, c->space->shape) *
               (program_cost(f, c->space) - program_cost(rewritten[i], c->space));
  }
  bool made = map_find(&p->made, serial) != NULL;
  double need =
      made ? 0 : elements(t->grid->ndim, t->grid->shape) * (program_cost(tf, t->grid) + STORE_COST);
  bool keep = status == TSR_OK && consumers > 0 && saved > need;
  for (size_t i = 0; rewritten != NULL && i < n; i++) {
    if (keep && rewritten[i] != NULL) {
      tsr__fused_destroy(p->ctx, p->progs[i].cur);
      p->progs[i].cur = rewritten[i];
    } else {
      tsr__fused_destroy(p->ctx, rewritten[i]);
    }
  }
  tsr_free(p->ctx, rewritten);
  if (!keep) {
    tsr__expr_release(&remade);
    return status;
  }
  char shape[TSR__SHAPE_STR_BYTES];
  tsr__log(p->ctx, TSR_LOG_DEBUG,
           "compute: an elementwise intermediate of shape %s (%u instructions) is made once "
           "for %zu consumers: saves %.3g units, costs %.3g (docs/architecture.md)",
           tsr__format_shape(shape, sizeof shape, t->grid->ndim, t->grid->shape), tf->prog.n,
           consumers, saved, need);
  TSR_TRY(map_put(p->ctx, &p->made, serial, 1));
  if (remade != NULL) {
    TSR_TRY(plan_keep(p->ctx, p->plan, remade));
    TSR_TRY(map_put(p->ctx, &p->made, remade->serial, 1));
  }
  uint64_t *at = map_find(&p->reached, key(t));
  if (at == NULL || *at == 0) { /* not a program node yet */
    TSR_TRY(map_put(p->ctx, &p->reached, key(t), 0));
    TSR_TRY(add_prog(p, t));
  }
  return TSR_OK;
}

/* Makes the rebuilt consumers and redirects the lowering to them. */
static tsr_status rebuild(planner *p, tsr__lowering *l) {
  for (size_t i = 0; i < p->n_progs; i++) {
    prog_node *c = &p->progs[i];
    if (c->cur == NULL)
      continue;
    tsr__fused *f = c->cur;
    c->cur = NULL; /* taken by the rebuild, even on failure */
    tsr__expr *to;
    TSR_TRY(tsr__program_rebuild(c->e, f, &to));
    TSR_TRY(plan_keep(p->ctx, p->plan, to));
    TSR_TRY(tsr__lowering_redirect(l, c->e, to));
  }
  return TSR_OK;
}

static tsr_status share(tsr_ctx *ctx, tsr__lowering *l, size_t n, tsr__expr *const *roots,
                        tsr__plan *plan) {
  const char *off = getenv("TESSERA_SHARE_INTERMEDIATES"); /* "0": never (for comparisons) */
  if (off != NULL && strcmp(off, "0") == 0)
    return TSR_OK;
  planner p = {.ctx = ctx, .plan = plan};
  tsr_status status = discover(&p, n, roots);
  if (status == TSR_OK && p.n_cands > 0 && p.n_progs <= SHARE_MAX_PROGRAMS) {
    size_t n_cands = p.n_cands; /* candidates found later (inside kept ones) are not decided */
    qsort(p.cands, n_cands, sizeof *p.cands, by_length);
    for (size_t i = 0; i < n_cands && status == TSR_OK; i++)
      status = decide(&p, p.cands[i].serial);
    if (status == TSR_OK)
      status = rebuild(&p, l);
  }
  for (size_t i = 0; i < p.n_progs; i++)
    tsr__fused_destroy(ctx, p.progs[i].cur);
  tsr_free(ctx, p.progs);
  tsr_free(ctx, p.cands);
  map_free(ctx, &p.reached);
  map_free(ctx, &p.alive);
  map_free(ctx, &p.made);
  map_free(ctx, &p.cand_index);
  return status;
}

tsr_status tsr__plan_create(tsr_ctx *ctx, tsr__lowering *l, size_t n, tsr__expr *const *roots,
                            tsr__plan **out) {
  *out = NULL;
  tsr__plan *plan;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *plan, (void **)&plan));
  tsr_status status = share(ctx, l, n, roots, plan);
  if (status == TSR_OK)
    status = tsr__reduce_link(ctx, l, n, roots, &plan->links);
  if (status != TSR_OK) {
    tsr__plan_destroy(ctx, &plan);
    return status;
  }
  *out = plan;
  return TSR_OK;
}

void tsr__plan_destroy(tsr_ctx *ctx, tsr__plan **plan) {
  if (plan == NULL || *plan == NULL)
    return;
  tsr__plan *p = *plan;
  tsr__reduce_unlink(ctx, &p->links);
  for (size_t i = 0; i < p->n_nodes; i++)
    tsr__expr_release(&p->nodes[i]);
  tsr_free(ctx, p->nodes);
  tsr_free(ctx, p);
  *plan = NULL;
}
