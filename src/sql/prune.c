/* prune.c — which columns of each plan node something above reads, so that
 * a scan of a file asks its reader for those alone (a CSV parses only
 * them, an HDF5 table reads only their datasets).  One pass from the root
 * down: every output column of the root is used; each operator marks the
 * input columns its expressions name (resolved as exec.c resolves them)
 * and those its used outputs pass through. */
#include <string.h>

#include "plan.h"

static tsr_status alloc_used(tsr__sql_binder *b, tsr__sql_plan *p) {
  if (p->used == NULL)
    p->used = tsr__query_arena_alloc(b->arena, (size_t)(p->ncols + 1) * sizeof *p->used);
  return p->used ? TSR_OK : TSR_ENOMEM;
}

/* Marks the columns of `in` that expression e reads. */
static void mark_expr(const tsr__sql_binder *b, const tsr__sql_plan *in, const tsr__sql_expr *e) {
  if (e == NULL)
    return;
  for (int i = 0; i < in->ncols; i++)
    if (in->cols[i].expr != NULL && tsr__sql_expr_equal(in->cols[i].expr, e)) {
      in->used[i] = true;
      return;
    }
  if (e->kind == SQL_E_COLUMN) {
    int col;
    if (tsr__sql_resolve(b, in->ncols, in->cols, e, &col) == TSR_OK)
      in->used[col] = true;
    tsr_error_clear();
    return;
  }
  for (int i = 0; i < e->nargs; i++)
    mark_expr(b, in, e->args[i]);
  mark_expr(b, in, e->operand);
  mark_expr(b, in, e->else_expr);
  if (e->over != NULL) {
    for (int i = 0; i < e->over->npartition; i++)
      mark_expr(b, in, e->over->partition[i]);
    for (int i = 0; i < e->over->norder; i++)
      mark_expr(b, in, e->over->order[i].expr);
  }
}

static void mark_all(tsr__sql_plan *p) {
  for (int i = 0; i < p->ncols; i++)
    p->used[i] = true;
}

static tsr_status walk(tsr__sql_binder *b, tsr__sql_plan *p) {
  tsr__sql_plan *l = p->left, *r = p->right;
  if (l != NULL)
    TSR_TRY(alloc_used(b, l));
  if (r != NULL)
    TSR_TRY(alloc_used(b, r));
  switch (p->kind) {
  case SQL_P_SCAN:
    if (p->pushed != NULL) {
      /* the pushed predicate's columns, apart from those used above */
      bool *used = p->used;
      p->pushed_used = tsr__query_arena_alloc(b->arena, (size_t)(p->ncols + 1) * sizeof(bool));
      if (p->pushed_used == NULL)
        return TSR_ENOMEM;
      memset(p->pushed_used, 0, (size_t)(p->ncols + 1) * sizeof(bool));
      p->used = p->pushed_used;
      mark_expr(b, p, p->pushed);
      p->used = used;
    }
    return TSR_OK;
  case SQL_P_ONE_ROW:
    return TSR_OK;
  case SQL_P_FILTER:
  case SQL_P_SORT:
  case SQL_P_LIMIT:
    for (int i = 0; i < p->ncols; i++)
      l->used[i] |= p->used[i];
    if (p->kind == SQL_P_FILTER)
      mark_expr(b, l, p->pred);
    for (int i = 0; i < p->nsort; i++)
      l->used[p->sort[i].col] = true;
    break;
  case SQL_P_DISTINCT:
  case SQL_P_UNION:
    mark_all(l);
    if (r != NULL)
      mark_all(r);
    break;
  case SQL_P_PROJECT: {
    /* with no column used (a count(*) above), the first still gives the rows */
    bool any = false;
    for (int i = 0; i < p->ncols; i++)
      any |= p->used[i];
    if (!any && p->ncols > 0)
      p->used[0] = true;
    for (int i = 0; i < p->ncols; i++) {
      if (!p->used[i])
        continue;
      if (p->exprs[i] == NULL)
        l->used[p->pick[i]] = true;
      else
        mark_expr(b, l, p->exprs[i]);
    }
    break;
  }
  case SQL_P_AGGREGATE:
    for (int i = 0; i < p->nexprs; i++)
      mark_expr(b, l, p->exprs[i]);
    break;
  case SQL_P_WINDOW:
    for (int i = 0; i < l->ncols; i++)
      l->used[i] |= p->used[i];
    mark_expr(b, l, p->exprs[0]);
    break;
  case SQL_P_JOIN: {
    for (int i = 0; i < l->ncols; i++)
      l->used[i] |= p->used[i];
    for (int i = l->ncols; i < p->ncols; i++)
      r->used[i - l->ncols] |= p->used[i];
    for (int k = 0; k < p->nkeys; k++) {
      mark_expr(b, l, p->left_keys[k]);
      mark_expr(b, r, p->right_keys[k]);
    }
    mark_expr(b, l, p->asof_left_on);
    mark_expr(b, r, p->asof_right_on);
    /* the residual reads the join's columns: each name resolves on one side */
    mark_expr(b, l, p->pred);
    mark_expr(b, r, p->pred);
    break;
  }
  }
  if (l != NULL)
    TSR_TRY(walk(b, l));
  if (r != NULL)
    TSR_TRY(walk(b, r));
  return TSR_OK;
}

tsr_status tsr__sql_prune(tsr__sql_binder *b, tsr__sql_plan *root) {
  TSR_TRY(alloc_used(b, root));
  mark_all(root);
  return walk(b, root);
}
