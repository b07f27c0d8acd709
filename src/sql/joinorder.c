/* joinorder.c — the order of inner joins from estimated sizes (docs/sql.md,
 * "Planner").
 *
 * A chain is a maximal tree of inner joins (and cross joins, whose WHERE
 * equalities the binder made keys) over relations: scans, subqueries, and
 * joins of other kinds, which are barriers (nothing moves across an outer,
 * semi, anti or as-of join; the chains inside them are ordered on their
 * own).  A chain of three or more relations whose sizes are all estimated
 * (tsr__sql_estimate_rows) is rebuilt left-deep, greedily: the largest
 * relation stays the probe side (the left input, streamed), and next comes
 * the smallest relation that an equality of the chain connects to those
 * joined so far, so each hash table (built on the right input) is as small
 * as the query allows and no join becomes a cross product the query did not
 * have.  Ties keep the written order, so the plan, and with it the result's
 * row order, is deterministic.
 *
 * The chain's conditions (key pairs and residual conjuncts) go to the lowest
 * join that has the relations they read.  A condition moves only when every
 * column it names is exactly one column of exactly one relation (so it means
 * the same thing in any join of the new tree); otherwise, or when a size is
 * unknown or an equality could only become a residual filter, the chain
 * keeps its written order.  A projection above the new chain restores the
 * written output columns (names, qualifiers, hidden USING keys and order),
 * so nothing above sees the change. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"

#define MAX_REL 64 /* relations per chain (bit masks); larger chains keep their order */

typedef struct cond {
  const tsr__sql_expr *a, *c; /* an equality key pair as bound (a read the written left side) */
  const tsr__sql_expr *e;     /* or a residual conjunct (a == NULL) */
  uint64_t ra, rc;            /* the relations a and c (or e: ra) read */
  bool placed;
} cond;

typedef struct chain {
  int n;
  tsr__sql_plan **slot[MAX_REL]; /* where each relation hangs in the written tree */
  tsr__sql_plan *rel[MAX_REL];
  int ncond, cap;
  cond *conds;
  bool too_many;
} chain;

static void *alloc(tsr__sql_binder *b, size_t bytes) {
  return tsr__query_arena_alloc(b->arena, bytes == 0 ? 1 : bytes);
}

static bool in_chain(const tsr__sql_plan *p) {
  return p->kind == SQL_P_JOIN && (p->join == SQL_JOIN_INNER || p->join == SQL_JOIN_CROSS);
}

static tsr_status add_cond(tsr__sql_binder *b, chain *ch, cond c) {
  TSR_TRY(tsr__query_arena_grow(b->arena, &ch->conds, ch->ncond, &ch->cap, sizeof *ch->conds));
  ch->conds[ch->ncond++] = c;
  return TSR_OK;
}

static tsr_status add_conjuncts(tsr__sql_binder *b, chain *ch, const tsr__sql_expr *e) {
  if (e->kind == SQL_E_BINARY && e->op == SQL_OP_AND) {
    TSR_TRY(add_conjuncts(b, ch, e->args[0]));
    return add_conjuncts(b, ch, e->args[1]);
  }
  return add_cond(b, ch, (cond){.e = e});
}

/* The chain's relations (in the written order) and conditions below *slot. */
static tsr_status collect(tsr__sql_binder *b, chain *ch, tsr__sql_plan **slot) {
  tsr__sql_plan *p = *slot;
  if (!in_chain(p)) {
    if (ch->n == MAX_REL)
      ch->too_many = true;
    else
      ch->slot[ch->n++] = slot;
    return TSR_OK;
  }
  TSR_TRY(collect(b, ch, &p->left));
  TSR_TRY(collect(b, ch, &p->right));
  for (int i = 0; i < p->nkeys; i++)
    TSR_TRY(add_cond(b, ch, (cond){.a = p->left_keys[i], .c = p->right_keys[i]}));
  if (p->pred != NULL)
    TSR_TRY(add_conjuncts(b, ch, p->pred));
  return TSR_OK;
}

/* Adds to *mask the relations e reads; false when a column reference
 * matches no column or several of the chain's, or e holds what the binder
 * does not move (a subquery, a window function). */
static bool refs(const chain *ch, const tsr__sql_expr *e, uint64_t *mask) {
  if (e == NULL)
    return true;
  if (e->kind == SQL_E_SUBQUERY || e->kind == SQL_E_STAR ||
      (e->kind == SQL_E_FUNC && e->over != NULL))
    return false;
  if (e->kind == SQL_E_COLUMN) {
    int found = -1, nfound = 0;
    for (int i = 0; i < ch->n; i++)
      for (int k = 0; k < ch->rel[i]->ncols; k++)
        if (tsr__sql_col_matches(&ch->rel[i]->cols[k], e)) {
          found = i;
          nfound++;
        }
    if (nfound != 1)
      return false;
    *mask |= (uint64_t)1 << found;
    return true;
  }
  for (int i = 0; i < e->nargs; i++)
    if (!refs(ch, e->args[i], mask))
      return false;
  return refs(ch, e->operand, mask) && refs(ch, e->else_expr, mask);
}

static bool within(uint64_t a, uint64_t s) { return a != 0 && (a & ~s) == 0; }

/* Whether c is a key pair of a join of relations s (joined so far, the left
 * input) with relation x (the right); *flip: c's sides swap. */
static bool key_for(const cond *c, uint64_t s, int x, bool *flip) {
  if (c->a == NULL)
    return false;
  uint64_t xm = (uint64_t)1 << x;
  if (within(c->ra, s) && within(c->rc, xm)) {
    *flip = false;
    return true;
  }
  if (within(c->rc, s) && within(c->ra, xm)) {
    *flip = true;
    return true;
  }
  return false;
}

/* The greedy order: false when some step has no relation connected to
 * those before it (the query joins them by a cross product or by
 * conditions the greedy steps cannot split). */
static bool greedy(const chain *ch, const int64_t *est, int *order) {
  int start = 0;
  for (int i = 1; i < ch->n; i++)
    if (est[i] > est[start])
      start = i;
  order[0] = start;
  uint64_t s = (uint64_t)1 << start;
  for (int k = 1; k < ch->n; k++) {
    int best = -1;
    for (int x = 0; x < ch->n; x++) {
      if (s & ((uint64_t)1 << x) || (best >= 0 && est[x] >= est[best]))
        continue;
      bool flip;
      for (int i = 0; i < ch->ncond; i++)
        if (key_for(&ch->conds[i], s, x, &flip)) {
          best = x;
          break;
        }
    }
    if (best < 0)
      return false;
    order[k] = best;
    s |= (uint64_t)1 << best;
  }
  return true;
}

/* An AND of residual conjuncts (NULL when none). */
static const tsr__sql_expr *and_of(tsr__sql_binder *b, const tsr__sql_expr **c, int n) {
  const tsr__sql_expr *acc = n > 0 ? c[0] : NULL;
  for (int i = 1; i < n; i++) {
    tsr__sql_expr *e = alloc(b, sizeof *e);
    tsr__sql_expr **args = alloc(b, 2 * sizeof *args);
    if (e == NULL || args == NULL)
      return NULL;
    e->kind = SQL_E_BINARY;
    e->op = SQL_OP_AND;
    e->pos = acc->pos < c[i]->pos ? acc->pos : c[i]->pos;
    e->end = acc->end > c[i]->end ? acc->end : c[i]->end;
    args[0] = (tsr__sql_expr *)acc;
    args[1] = (tsr__sql_expr *)c[i];
    e->nargs = 2;
    e->args = args;
    acc = e;
  }
  return acc;
}

/* Places the conditions along `order`: with build false, only whether each
 * equality stays a key pair (*ok); with build true, the left-deep joins in
 * *out. */
static tsr_status place(tsr__sql_binder *b, chain *ch, const int *order, bool build, bool *ok,
                        tsr__sql_plan **out) {
  *ok = true;
  for (int i = 0; i < ch->ncond; i++)
    ch->conds[i].placed = false;
  tsr__sql_plan *cur = ch->rel[order[0]];
  uint64_t s = (uint64_t)1 << order[0];
  const tsr__sql_expr **lk = NULL, **rk = NULL, **res = NULL;
  if (build) {
    lk = alloc(b, (size_t)ch->ncond * sizeof *lk);
    rk = alloc(b, (size_t)ch->ncond * sizeof *rk);
    res = alloc(b, (size_t)ch->ncond * sizeof *res);
    if (lk == NULL || rk == NULL || res == NULL)
      return TSR_ENOMEM;
  }
  for (int k = 1; k < ch->n; k++) {
    int x = order[k], nkeys = 0, nres = 0;
    uint64_t both = s | (uint64_t)1 << x;
    for (int i = 0; i < ch->ncond; i++) {
      cond *c = &ch->conds[i];
      bool flip;
      if (c->placed)
        continue;
      if (key_for(c, s, x, &flip)) {
        c->placed = true;
        if (build) {
          lk[nkeys] = flip ? c->c : c->a;
          rk[nkeys] = flip ? c->a : c->c;
        }
        nkeys++;
      } else if ((c->ra & ~both) == 0 && (c->rc & ~both) == 0) {
        if (c->a != NULL) { /* an equality that would become a residual filter */
          *ok = false;
          return TSR_OK;
        }
        c->placed = true;
        if (build)
          res[nres] = c->e;
        nres++;
      }
    }
    if (!build) {
      s = both;
      continue;
    }
    tsr__sql_plan *r = ch->rel[x];
    tsr__sql_plan *j = alloc(b, sizeof *j);
    if (j == NULL)
      return TSR_ENOMEM;
    j->kind = SQL_P_JOIN;
    j->join = nkeys > 0 ? SQL_JOIN_INNER : SQL_JOIN_CROSS;
    j->left = cur;
    j->right = r;
    j->ncols = cur->ncols + r->ncols;
    j->cols = alloc(b, (size_t)j->ncols * sizeof *j->cols);
    j->left_keys = alloc(b, (size_t)nkeys * sizeof *j->left_keys);
    j->right_keys = alloc(b, (size_t)nkeys * sizeof *j->right_keys);
    if (j->cols == NULL || j->left_keys == NULL || j->right_keys == NULL)
      return TSR_ENOMEM;
    memcpy(j->cols, cur->cols, (size_t)cur->ncols * sizeof *j->cols);
    memcpy(j->cols + cur->ncols, r->cols, (size_t)r->ncols * sizeof *j->cols);
    j->nkeys = nkeys;
    if (nkeys) {
      memcpy(j->left_keys, lk, (size_t)nkeys * sizeof *lk);
      memcpy(j->right_keys, rk, (size_t)nkeys * sizeof *rk);
    }
    if (nres > 0 && (j->pred = and_of(b, res, nres)) == NULL)
      return TSR_ENOMEM;
    j->limit = -1;
    j->rows = -1;
    j->est_rows = -1;
    cur = j;
    s = both;
  }
  for (int i = 0; i < ch->ncond; i++)
    if (!ch->conds[i].placed)
      *ok = false; /* not expected: every condition reads the chain's relations */
  if (build)
    *out = cur;
  return TSR_OK;
}

/* A relation's name for EXPLAIN: its qualifier, else the scan's label. */
static const char *rel_name(const tsr__sql_plan *p) {
  if (p->ncols > 0 && p->cols[0].qual != NULL)
    return p->cols[0].qual;
  for (const tsr__sql_plan *q = p; q != NULL; q = q->left)
    if (q->kind == SQL_P_SCAN && q->label != NULL)
      return q->label;
  return "(subquery)";
}

/* EXPLAIN's note on the PROJECT above a reordered chain. */
static const char *note_text(tsr__sql_binder *b, const chain *ch, const int *order,
                             const int64_t *est) {
  char buf[1024];
  size_t n = 0;
  n += (size_t)snprintf(buf + n, sizeof buf - n, "join order by estimated rows:");
  for (int k = 0; k < ch->n && n < sizeof buf; k++) {
    char rows[32];
    tsr__sql_rows_text(est[order[k]], rows);
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s %s (%s)", k ? "," : "",
                          rel_name(ch->rel[order[k]]), rows);
  }
  for (int i = 0; i < ch->n && n < sizeof buf; i++)
    n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s",
                          i ? ", " : "; written: ", rel_name(ch->rel[i]));
  if (n >= sizeof buf)
    n = sizeof buf - 1;
  return tsr__query_arena_strndup(b->arena, buf, n);
}

/* The chain at *slot reordered (its relations' own chains first). */
static tsr_status order_chain(tsr__sql_binder *b, tsr__sql_plan **slot);

static tsr_status order_below(tsr__sql_binder *b, tsr__sql_plan **slot) {
  tsr__sql_plan *p = *slot;
  if (p == NULL)
    return TSR_OK;
  if (in_chain(p))
    return order_chain(b, slot);
  TSR_TRY(order_below(b, &p->left));
  return order_below(b, &p->right);
}

static tsr_status order_chain(tsr__sql_binder *b, tsr__sql_plan **slot) {
  tsr__sql_plan *top = *slot;
  chain ch = {0};
  TSR_TRY(collect(b, &ch, slot));
  for (int i = 0; i < ch.n; i++) {
    TSR_TRY(order_below(b, ch.slot[i]));
    ch.rel[i] = *ch.slot[i];
  }
  if (ch.too_many || ch.n < 3 || b->join_order_off)
    return TSR_OK;
  int total = 0;
  for (int i = 0; i < ch.n; i++)
    total += ch.rel[i]->ncols;
  if (total != top->ncols) /* not expected: inner joins output both inputs' columns */
    return TSR_OK;
  int64_t est[MAX_REL];
  for (int i = 0; i < ch.n; i++)
    if ((est[i] = tsr__sql_estimate_rows(ch.rel[i])) < 0)
      return TSR_OK;
  for (int i = 0; i < ch.ncond; i++) {
    cond *c = &ch.conds[i];
    if (!refs(&ch, c->a ? c->a : c->e, &c->ra) || !refs(&ch, c->c, &c->rc))
      return TSR_OK;
  }
  int order[MAX_REL];
  if (!greedy(&ch, est, order))
    return TSR_OK;
  bool same = true;
  for (int i = 0; i < ch.n; i++)
    same &= order[i] == i;
  bool ok;
  if (same || place(b, &ch, order, false, &ok, NULL) != TSR_OK || !ok)
    return TSR_OK;
  tsr__sql_plan *joined;
  TSR_TRY(place(b, &ch, order, true, &ok, &joined));
  /* the written output columns: relation i's columns start at woff[i] there */
  int woff[MAX_REL], noff[MAX_REL];
  for (int i = 0, o = 0; i < ch.n; i++) {
    woff[i] = o;
    o += ch.rel[i]->ncols;
  }
  for (int k = 0, o = 0; k < ch.n; k++) {
    noff[order[k]] = o;
    o += ch.rel[order[k]]->ncols;
  }
  tsr__sql_plan *p = alloc(b, sizeof *p);
  if (p == NULL)
    return TSR_ENOMEM;
  p->kind = SQL_P_PROJECT;
  p->restore = true;
  p->left = joined;
  p->ncols = p->nexprs = top->ncols;
  p->cols = alloc(b, (size_t)p->ncols * sizeof *p->cols);
  p->exprs = alloc(b, (size_t)p->ncols * sizeof *p->exprs); /* all NULL: picks */
  p->pick = alloc(b, (size_t)p->ncols * sizeof *p->pick);
  if (p->cols == NULL || p->exprs == NULL || p->pick == NULL)
    return TSR_ENOMEM;
  memcpy(p->cols, top->cols, (size_t)p->ncols * sizeof *p->cols);
  for (int i = 0; i < ch.n; i++)
    for (int k = 0; k < ch.rel[i]->ncols; k++)
      p->pick[woff[i] + k] = noff[i] + k;
  p->limit = -1;
  p->rows = -1;
  p->est_rows = -1;
  if ((p->note = note_text(b, &ch, order, est)) == NULL)
    return TSR_ENOMEM;
  *slot = p;
  return TSR_OK;
}

tsr_status tsr__sql_order_joins(tsr__sql_binder *b, tsr__sql_plan **root) {
  return order_below(b, root);
}
