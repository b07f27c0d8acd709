/* bind.c — a query's syntax tree (ast.h) bound to a logical plan (plan.h).
 *
 * Binding follows SQL's order of evaluation: FROM (tables, subqueries,
 * CTEs, views, joins), WHERE, GROUP BY and the aggregates (collected from
 * the select list, HAVING and ORDER BY), HAVING, window functions, the
 * select list, DISTINCT, ORDER BY, LIMIT.  Names are checked here (an
 * unknown table or column is an error before anything runs); types are
 * checked when the column programs are built (exec.c).  Two rewrites run
 * while binding: WHERE conjuncts that read one side of an inner join (or
 * the preserved side of an outer one) move below it, and equalities between
 * the two sides of a cross join become its keys.  ORDER BY with LIMIT runs
 * as top-k (exec.c). */
#include <stdlib.h>
#include <string.h>

#include "plan.h"

#define MAX_CTES 1024

static void *alloc(tsr__sql_binder *b, size_t bytes) {
  return tsr__query_arena_alloc(b->arena, bytes == 0 ? 1 : bytes);
}

static tsr_status fail(const tsr__sql_binder *b, int32_t pos, tsr_status st, const char *msg) {
  return tsr__query_fail(b->source, pos, st, "%s", msg);
}

static tsr__sql_plan *node(tsr__sql_binder *b, tsr__sql_plan_kind kind, tsr__sql_plan *left,
                           int ncols) {
  tsr__sql_plan *p = alloc(b, sizeof *p);
  if (p == NULL)
    return NULL;
  p->kind = kind;
  p->left = left;
  p->ncols = ncols;
  p->cols = alloc(b, (size_t)ncols * sizeof *p->cols);
  p->limit = -1;
  p->rows = -1;
  p->est_rows = -1;
  return p->cols ? p : NULL;
}

#define NEW_NODE(var, kind, left, ncols)      \
  do {                                        \
    (var) = node(b, (kind), (left), (ncols)); \
    if ((var) == NULL)                        \
      return TSR_ENOMEM;                      \
  } while (0)

/* ---- walking expressions ----------------------------------------------------------------- */

typedef struct expr_list {
  int n, cap;
  const tsr__sql_expr **items;
} expr_list;

static tsr_status list_add(tsr__sql_binder *b, expr_list *l, const tsr__sql_expr *e) {
  for (int i = 0; i < l->n; i++)
    if (tsr__sql_expr_equal(l->items[i], e))
      return TSR_OK;
  TSR_TRY(tsr__query_arena_grow(b->arena, &l->items, l->n, &l->cap, sizeof *l->items));
  l->items[l->n++] = e;
  return TSR_OK;
}

/* Collects the aggregate calls (want_window false) or window calls (true)
 * of e, not looking inside subqueries; an aggregate inside an aggregate is
 * an error. */
static tsr_status collect_calls(tsr__sql_binder *b, const tsr__sql_expr *e, bool want_window,
                                bool inside_agg, expr_list *out) {
  if (e == NULL)
    return TSR_OK;
  if (e->kind == SQL_E_FUNC) {
    bool is_window = e->over != NULL;
    int ddof;
    bool is_agg = !is_window && tsr__sql_aggregate_op(e, &ddof) >= 0;
    if (want_window && is_window)
      return list_add(b, out, e);
    if (!want_window && is_agg) {
      if (inside_agg)
        return fail(b, e->pos, TSR_EPARSE, "aggregate function calls cannot be nested");
      TSR_TRY(list_add(b, out, e));
      expr_list nested = {0}; /* only to find nested aggregates */
      for (int i = 0; i < e->nargs; i++)
        TSR_TRY(collect_calls(b, e->args[i], want_window, true, &nested));
      return TSR_OK;
    }
    if (is_window && !want_window)
      return TSR_OK; /* a window's arguments are its own */
  }
  for (int i = 0; i < e->nargs; i++)
    TSR_TRY(collect_calls(b, e->args[i], want_window, inside_agg, out));
  TSR_TRY(collect_calls(b, e->operand, want_window, inside_agg, out));
  return collect_calls(b, e->else_expr, want_window, inside_agg, out);
}

/* Splits an AND tree into its conjuncts. */
static tsr_status conjuncts(tsr__sql_binder *b, const tsr__sql_expr *e, expr_list *out) {
  if (e->kind == SQL_E_BINARY && e->op == SQL_OP_AND) {
    TSR_TRY(conjuncts(b, e->args[0], out));
    return conjuncts(b, e->args[1], out);
  }
  TSR_TRY(tsr__query_arena_grow(b->arena, &out->items, out->n, &out->cap, sizeof *out->items));
  out->items[out->n++] = e;
  return TSR_OK;
}

/* An AND of the conjuncts [0, n) (NULL when n == 0). */
static const tsr__sql_expr *and_of(tsr__sql_binder *b, const tsr__sql_expr **c, int n) {
  if (n == 0)
    return NULL;
  const tsr__sql_expr *acc = c[0];
  for (int i = 1; i < n; i++) {
    tsr__sql_expr *e = alloc(b, sizeof *e);
    tsr__sql_expr **args = alloc(b, 2 * sizeof *args);
    if (e == NULL || args == NULL)
      return NULL;
    e->kind = SQL_E_BINARY;
    e->op = SQL_OP_AND;
    e->pos = acc->pos;
    e->end = c[i]->end;
    args[0] = (tsr__sql_expr *)acc;
    args[1] = (tsr__sql_expr *)c[i];
    e->nargs = 2;
    e->args = args;
    acc = e;
  }
  return acc;
}

/* Whether every column reference of e resolves (uniquely) among cols,
 * and e holds at least one; no error is left set. */
static bool refs_within(const tsr__sql_binder *b, const tsr__sql_expr *e, int ncols,
                        const tsr__sql_col *cols, bool *any) {
  if (e == NULL)
    return true;
  if (e->kind == SQL_E_SUBQUERY || e->kind == SQL_E_STAR)
    return false;
  if (e->kind == SQL_E_FUNC && e->over != NULL)
    return false;
  if (e->kind == SQL_E_COLUMN) {
    int col;
    tsr_status st = tsr__sql_resolve(b, ncols, cols, e, &col);
    tsr_error_clear();
    if (st != TSR_OK)
      return false;
    *any = true;
    return true;
  }
  for (int i = 0; i < e->nargs; i++)
    if (!refs_within(b, e->args[i], ncols, cols, any))
      return false;
  return refs_within(b, e->operand, ncols, cols, any) &&
         refs_within(b, e->else_expr, ncols, cols, any);
}

static bool only_refs(const tsr__sql_binder *b, const tsr__sql_expr *e, int ncols,
                      const tsr__sql_col *cols) {
  bool any = false;
  return refs_within(b, e, ncols, cols, &any) && any;
}

/* ---- FROM -------------------------------------------------------------------------------- */

static tsr_status bind_table(tsr__sql_binder *b, const tsr__sql_table *t, tsr__sql_plan **out);

/* Requalifies a plan's columns by `qual` (a table's alias or name). */
static tsr_status requalify(tsr__sql_binder *b, tsr__sql_plan *p, const char *qual) {
  for (int i = 0; i < p->ncols; i++)
    p->cols[i].qual = qual;
  (void)b;
  return TSR_OK;
}

/* A scan of f (taken over: the binder releases it with the statement). */
static tsr_status scan_node(tsr__sql_binder *b, tsr_frame *f, const char *label, const char *qual,
                            tsr__sql_plan **out) {
  tsr_status grown =
      tsr__query_arena_grow(b->arena, &b->frames, b->nframes, &b->frames_cap, sizeof *b->frames);
  if (grown != TSR_OK) {
    tsr_frame_destroy(&f);
    return grown;
  }
  b->frames[b->nframes++] = f;
  int n = tsr_frame_ncols(f);
  tsr__sql_plan *p = node(b, SQL_P_SCAN, NULL, n);
  if (p == NULL)
    return TSR_ENOMEM;
  p->frame = f;
  p->label = label;
  for (int i = 0; i < n; i++) {
    p->cols[i].qual = qual;
    p->cols[i].name = tsr_frame_col_name(f, i);
  }
  *out = p;
  return TSR_OK;
}

/* A scan of the file at `path`: its column names now, its rows when the
 * statement runs (only the columns used: prune.c). */
static tsr_status scan_path(tsr__sql_binder *b, const char *path, int32_t pos, const char *label,
                            const char *qual, tsr__sql_plan **out) {
  int n = 0;
  const char **names = NULL;
  tsr_frame *f = NULL;
  int64_t est = -1;
  tsr_status st = tsr__sql_path_schema(b, path, &n, &names, &f, &est);
  if (st != TSR_OK && st != TSR_ENOMEM)
    return tsr__query_fail(b->source, pos, st, "%s", tsr_last_error());
  TSR_TRY(st);
  if (f != NULL)
    return scan_node(b, f, label, qual, out);
  tsr__sql_plan *p;
  NEW_NODE(p, SQL_P_SCAN, NULL, n);
  p->path = path;
  p->label = label;
  p->est_rows = est;
  for (int i = 0; i < n; i++) {
    p->cols[i].qual = qual;
    p->cols[i].name = names[i];
  }
  *out = p;
  return TSR_OK;
}

/* The table name a path gives (DuckDB's): the file's base name without
 * its extensions; for file.h5:/a/b, the object's last part. */
static const char *path_table_name(tsr__sql_binder *b, const char *path) {
  const char *colon = strstr(path, ".h5:");
  if (colon == NULL)
    colon = strstr(path, ".hdf5:");
  const char *s = path;
  if (colon != NULL) {
    const char *obj = strchr(colon, ':') + 1;
    const char *slash = strrchr(obj, '/');
    s = slash ? slash + 1 : obj;
    return tsr__query_arena_strndup(b->arena, s, strlen(s));
  }
  const char *slash = strrchr(path, '/');
  if (slash)
    s = slash + 1;
  const char *dot = strchr(s, '.');
  return tsr__query_arena_strndup(b->arena, s, dot ? (size_t)(dot - s) : strlen(s));
}

static tsr_status bind_named(tsr__sql_binder *b, const tsr__sql_table *t, tsr__sql_plan **out) {
  const char *qual = t->alias.name ? t->alias.name : t->name.name;
  for (int i = b->ncte - 1; i >= 0; i--) {
    const tsr__sql_cte *c = b->ctes[i];
    bool eq = (c->name.quoted || t->name.quoted) ? strcmp(c->name.name, t->name.name) == 0
                                                 : tsr__sql_name_eq(c->name.name, t->name.name);
    if (!eq)
      continue;
    /* A CTE sees the CTEs before it only. */
    int saved = b->ncte;
    b->ncte = i;
    tsr_status st = tsr__sql_bind_query(b, c->query, out);
    b->ncte = saved;
    TSR_TRY(st);
    return requalify(b, *out, qual);
  }
  tsr_frame *f = NULL;
  const tsr__sql_query *view = NULL;
  const char *path = NULL;
  TSR_TRY(tsr__sql_catalog_lookup(b, &t->name, &f, &view, &path));
  if (path != NULL)
    return scan_path(b, path, t->name.pos, t->name.name, qual, out);
  if (view != NULL) {
    int saved = b->ncte;
    b->ncte = 0;
    tsr_status st = tsr__sql_bind_query(b, view, out);
    b->ncte = saved;
    TSR_TRY(st);
    return requalify(b, *out, qual);
  }
  return scan_node(b, f, t->name.name, qual, out);
}

/* Moves `e` (an equality of a column expression of each side) into the
 * join's key lists when one side resolves on the left and the other on the
 * right. */
static bool key_pair(const tsr__sql_binder *b, const tsr__sql_expr *e, const tsr__sql_plan *l,
                     const tsr__sql_plan *r, const tsr__sql_expr **lk, const tsr__sql_expr **rk) {
  if (e->kind != SQL_E_BINARY || e->op != SQL_OP_EQ)
    return false;
  const tsr__sql_expr *a = e->args[0], *c = e->args[1];
  if (only_refs(b, a, l->ncols, l->cols) && only_refs(b, c, r->ncols, r->cols)) {
    *lk = a;
    *rk = c;
    return true;
  }
  if (only_refs(b, c, l->ncols, l->cols) && only_refs(b, a, r->ncols, r->cols)) {
    *lk = c;
    *rk = a;
    return true;
  }
  return false;
}

static tsr_status add_key(tsr__sql_binder *b, tsr__sql_plan *j, const tsr__sql_expr *lk,
                          const tsr__sql_expr *rk) {
  const tsr__sql_expr **l = alloc(b, (size_t)(j->nkeys + 1) * sizeof *l);
  const tsr__sql_expr **r = alloc(b, (size_t)(j->nkeys + 1) * sizeof *r);
  if (l == NULL || r == NULL)
    return TSR_ENOMEM;
  if (j->nkeys) {
    memcpy(l, j->left_keys, (size_t)j->nkeys * sizeof *l);
    memcpy(r, j->right_keys, (size_t)j->nkeys * sizeof *r);
  }
  l[j->nkeys] = lk;
  r[j->nkeys] = rk;
  j->left_keys = l;
  j->right_keys = r;
  j->nkeys++;
  return TSR_OK;
}

/* A column reference to column `col` of plan p (qualified by its qualifier
 * when it has one). */
static const tsr__sql_expr *col_ref(tsr__sql_binder *b, const tsr__sql_plan *p, int col,
                                    int32_t pos) {
  tsr__sql_expr *e = alloc(b, sizeof *e);
  if (e == NULL)
    return NULL;
  e->kind = SQL_E_COLUMN;
  e->pos = e->end = pos;
  e->qualifier.name = p->cols[col].qual;
  e->qualifier.quoted = true;
  e->column.name = p->cols[col].name;
  e->column.quoted = true;
  return e;
}

static tsr_status bind_join(tsr__sql_binder *b, const tsr__sql_table *t, tsr__sql_plan **out) {
  tsr__sql_plan *l, *r;
  TSR_TRY(bind_table(b, t->left, &l));
  TSR_TRY(bind_table(b, t->right, &r));
  bool left_only = t->join == SQL_JOIN_SEMI || t->join == SQL_JOIN_ANTI;
  int ncols = left_only ? l->ncols : l->ncols + r->ncols;
  tsr__sql_plan *j;
  NEW_NODE(j, SQL_P_JOIN, l, ncols);
  j->right = r;
  j->join = t->join;
  memcpy(j->cols, l->cols, (size_t)l->ncols * sizeof *j->cols);
  if (!left_only)
    memcpy(j->cols + l->ncols, r->cols, (size_t)r->ncols * sizeof *j->cols);
  if (t->join == SQL_JOIN_CROSS) {
    *out = j;
    return TSR_OK;
  }
  if (t->nusing > 0) {
    j->using_join = true;
    for (int i = 0; i < t->nusing; i++) {
      tsr__sql_expr ref = {.kind = SQL_E_COLUMN,
                           .pos = t->using_cols[i].pos,
                           .end = t->using_cols[i].pos,
                           .column = t->using_cols[i]};
      int lc, rc;
      TSR_TRY(tsr__sql_resolve(b, l->ncols, l->cols, &ref, &lc));
      TSR_TRY(tsr__sql_resolve(b, r->ncols, r->cols, &ref, &rc));
      const tsr__sql_expr *lk = col_ref(b, l, lc, ref.pos), *rk = col_ref(b, r, rc, ref.pos);
      if (lk == NULL || rk == NULL)
        return TSR_ENOMEM;
      TSR_TRY(add_key(b, j, lk, rk));
      if (!left_only)
        j->cols[l->ncols + rc].hidden = true;
    }
    *out = j;
    return TSR_OK;
  }
  if (t->on == NULL)
    return fail(b, t->pos, TSR_EPARSE, "a join needs ON or USING (or CROSS JOIN)");
  expr_list cs = {0};
  TSR_TRY(conjuncts(b, t->on, &cs));
  int nres = 0;
  const tsr__sql_expr **res = alloc(b, (size_t)cs.n * sizeof *res);
  if (res == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < cs.n; i++) {
    const tsr__sql_expr *e = cs.items[i], *lk, *rk;
    if (t->join == SQL_JOIN_ASOF && e->kind == SQL_E_BINARY &&
        (e->op == SQL_OP_GE || e->op == SQL_OP_LE || e->op == SQL_OP_GT || e->op == SQL_OP_LT)) {
      const tsr__sql_expr *a = e->args[0], *c = e->args[1];
      bool ge_left = (e->op == SQL_OP_GE && only_refs(b, a, l->ncols, l->cols) &&
                      only_refs(b, c, r->ncols, r->cols)) ||
                     (e->op == SQL_OP_LE && only_refs(b, c, l->ncols, l->cols) &&
                      only_refs(b, a, r->ncols, r->cols));
      if (!ge_left || j->asof_left_on != NULL)
        return fail(b, e->pos, TSR_ENOTSUP,
                    "ASOF JOIN takes one inequality `left >= right` (or `right <= left`) "
                    "besides its equalities");
      j->asof_left_on = e->op == SQL_OP_GE ? a : c;
      j->asof_right_on = e->op == SQL_OP_GE ? c : a;
      continue;
    }
    if (key_pair(b, e, l, r, &lk, &rk))
      TSR_TRY(add_key(b, j, lk, rk));
    else
      res[nres++] = e;
  }
  if (t->join == SQL_JOIN_ASOF) {
    if (j->asof_left_on == NULL)
      return fail(b, t->on->pos, TSR_EPARSE,
                  "ASOF JOIN needs an inequality `left >= right` in its ON condition");
    j->asof_left = t->asof_left;
  }
  if (nres > 0) {
    if (t->join != SQL_JOIN_INNER)
      return fail(b, res[0]->pos, TSR_ENOTSUP,
                  "only equalities between the two sides (AND-ed) are supported in the ON "
                  "condition of an outer, semi, anti or as-of join");
    j->pred = and_of(b, res, nres);
  }
  if (j->nkeys == 0 && t->join != SQL_JOIN_INNER && t->join != SQL_JOIN_ASOF)
    return fail(b, t->on->pos, TSR_ENOTSUP,
                "this join needs at least one equality between its two sides in ON");
  *out = j;
  return TSR_OK;
}

static tsr_status bind_table(tsr__sql_binder *b, const tsr__sql_table *t, tsr__sql_plan **out) {
  switch (t->kind) {
  case SQL_T_NAME:
    return bind_named(b, t, out);
  case SQL_T_PATH: {
    const char *qual = t->alias.name ? t->alias.name : path_table_name(b, t->path);
    return scan_path(b, t->path, t->pos, t->path, qual, out);
  }
  case SQL_T_SUBQUERY:
    TSR_TRY(tsr__sql_bind_query(b, t->subquery, out));
    return requalify(b, *out, t->alias.name);
  case SQL_T_JOIN:
    return bind_join(b, t, out);
  }
  return fail(b, t->pos, TSR_EINVAL, "unknown table kind");
}

/* ---- WHERE: filters pushed below joins --------------------------------------------------- */

static tsr_status filter_over(tsr__sql_binder *b, tsr__sql_plan *child, const tsr__sql_expr *pred,
                              tsr__sql_plan **out);

/* Places conjunct list cs over plan p: the conjuncts that read only one
 * input of a join go below it (the left of inner, cross, left, semi, anti
 * and as-of joins; the right of inner, cross and right joins); equalities
 * across a cross join become its keys. */
static tsr_status place_filters(tsr__sql_binder *b, tsr__sql_plan *p, expr_list *cs,
                                tsr__sql_plan **out) {
  if (p->kind == SQL_P_JOIN && cs->n > 0) {
    tsr__sql_join_kind k = p->join;
    bool push_left = k == SQL_JOIN_INNER || k == SQL_JOIN_CROSS || k == SQL_JOIN_LEFT ||
                     k == SQL_JOIN_SEMI || k == SQL_JOIN_ANTI || k == SQL_JOIN_ASOF;
    bool push_right = k == SQL_JOIN_INNER || k == SQL_JOIN_CROSS || k == SQL_JOIN_RIGHT;
    expr_list lc = {0}, rc = {0}, keep = {0};
    for (int i = 0; i < cs->n; i++) {
      const tsr__sql_expr *e = cs->items[i], *lk, *rk;
      if (push_left && only_refs(b, e, p->left->ncols, p->left->cols))
        TSR_TRY(conjuncts(b, e, &lc));
      else if (push_right && only_refs(b, e, p->right->ncols, p->right->cols))
        TSR_TRY(conjuncts(b, e, &rc));
      else if (k == SQL_JOIN_CROSS && key_pair(b, e, p->left, p->right, &lk, &rk)) {
        TSR_TRY(add_key(b, p, lk, rk));
        p->join = SQL_JOIN_INNER;
      } else
        TSR_TRY(conjuncts(b, e, &keep));
    }
    if (k == SQL_JOIN_CROSS && p->join == SQL_JOIN_INNER)
      k = SQL_JOIN_INNER;
    if (lc.n > 0)
      TSR_TRY(place_filters(b, p->left, &lc, &p->left));
    if (rc.n > 0)
      TSR_TRY(place_filters(b, p->right, &rc, &p->right));
    if (keep.n == 0) {
      *out = p;
      return TSR_OK;
    }
    *cs = keep;
  }
  if (cs->n == 0) {
    *out = p;
    return TSR_OK;
  }
  const tsr__sql_expr *pred = and_of(b, cs->items, cs->n);
  if (pred == NULL)
    return TSR_ENOMEM;
  return filter_over(b, p, pred, out);
}

static tsr_status filter_over(tsr__sql_binder *b, tsr__sql_plan *child, const tsr__sql_expr *pred,
                              tsr__sql_plan **out) {
  tsr__sql_plan *f;
  NEW_NODE(f, SQL_P_FILTER, child, child->ncols);
  memcpy(f->cols, child->cols, (size_t)child->ncols * sizeof *f->cols);
  f->pred = pred;
  *out = f;
  return TSR_OK;
}

/* ---- SELECT ------------------------------------------------------------------------------ */

/* A select item's expression expanded: `*` and `t.*` become the visible
 * columns. */
typedef struct item {
  const tsr__sql_expr *expr;
  const char *name;
  const char *qual;
} item;

static tsr_status expand_items(tsr__sql_binder *b, const tsr__sql_select *s,
                               const tsr__sql_plan *from, item **items, int *nitems) {
  int cap = 0;
  for (int i = 0; i < s->nitems; i++)
    cap += s->items[i].expr->kind == SQL_E_STAR ? from->ncols : 1;
  item *it = alloc(b, (size_t)cap * sizeof *it);
  if (it == NULL)
    return TSR_ENOMEM;
  int n = 0;
  for (int i = 0; i < s->nitems; i++) {
    const tsr__sql_expr *e = s->items[i].expr;
    if (e->kind != SQL_E_STAR) {
      it[n].expr = e;
      it[n].name = s->items[i].alias.name ? s->items[i].alias.name : tsr__sql_expr_name(b, e);
      if (it[n].name == NULL)
        return TSR_ENOMEM;
      if (e->kind == SQL_E_COLUMN && s->items[i].alias.name == NULL)
        it[n].qual = e->qualifier.name;
      n++;
      continue;
    }
    int before = n;
    for (int c = 0; c < from->ncols; c++) {
      const tsr__sql_col *col = &from->cols[c];
      if (col->hidden || col->name == NULL)
        continue;
      if (e->qualifier.name != NULL &&
          (col->qual == NULL || !tsr__sql_name_eq(col->qual, e->qualifier.name)))
        continue;
      const tsr__sql_expr *ref = col_ref(b, from, c, e->pos);
      if (ref == NULL)
        return TSR_ENOMEM;
      it[n].expr = ref;
      it[n].name = col->name;
      it[n].qual = col->qual;
      n++;
    }
    if (n == before && e->qualifier.name != NULL)
      return tsr__query_fail(b->source, e->pos, TSR_EINVAL, "no table \"%s\" in FROM for %s.*",
                             e->qualifier.name, e->qualifier.name);
  }
  *items = it;
  *nitems = n;
  return TSR_OK;
}

/* A bare column name that names a select item's alias (GROUP BY and
 * ORDER BY may use them) and not a FROM column: that item, else -1. */
static int alias_item(const tsr__sql_binder *b, const tsr__sql_expr *e, const item *items, int n,
                      const tsr__sql_plan *from, bool prefer_alias) {
  if (e->kind != SQL_E_COLUMN || e->qualifier.name != NULL)
    return -1;
  if (!prefer_alias && from != NULL) {
    int col;
    tsr_status st = tsr__sql_resolve(b, from->ncols, from->cols, e, &col);
    tsr_error_clear();
    if (st == TSR_OK)
      return -1;
  }
  for (int i = 0; i < n; i++)
    if (items[i].name && (e->column.quoted ? strcmp(items[i].name, e->column.name) == 0
                                           : tsr__sql_name_eq(items[i].name, e->column.name)))
      return i;
  return -1;
}

/* Position literal (GROUP BY 2, ORDER BY 1): the item index, -1 when e is
 * not an integer literal, an error when out of range. */
static tsr_status position_item(const tsr__sql_binder *b, const tsr__sql_expr *e, int n, int *at) {
  *at = -1;
  if (e->kind != SQL_E_INT)
    return TSR_OK;
  if (e->int_value < 1 || e->int_value > n)
    return tsr__query_fail(b->source, e->pos, TSR_EINVAL,
                           "position %lld is not in the select list (1 to %d)",
                           (long long)e->int_value, n);
  *at = (int)e->int_value - 1;
  return TSR_OK;
}

static tsr_status bind_aggregate(tsr__sql_binder *b, const tsr__sql_select *s, item *items,
                                 int nitems, const tsr__sql_query *q, tsr__sql_plan **cur) {
  tsr__sql_plan *from = *cur;
  expr_list keys = {0}, aggs = {0};
  if (s->group_all) {
    for (int i = 0; i < nitems; i++)
      if (!tsr__sql_has_aggregate(items[i].expr))
        TSR_TRY(list_add(b, &keys, items[i].expr));
  }
  for (int g = 0; g < s->ngroup; g++) {
    const tsr__sql_expr *e = s->group[g];
    int at;
    TSR_TRY(position_item(b, e, nitems, &at));
    if (at < 0)
      at = alias_item(b, e, items, nitems, from, false);
    if (at >= 0)
      e = items[at].expr;
    if (tsr__sql_has_aggregate(e))
      return fail(b, e->pos, TSR_EPARSE, "GROUP BY cannot hold an aggregate function");
    TSR_TRY(list_add(b, &keys, e));
  }
  for (int i = 0; i < nitems; i++)
    TSR_TRY(collect_calls(b, items[i].expr, false, false, &aggs));
  TSR_TRY(collect_calls(b, s->having, false, false, &aggs));
  for (int i = 0; i < q->norder; i++)
    TSR_TRY(collect_calls(b, q->order[i].expr, false, false, &aggs));
  tsr__sql_plan *a;
  NEW_NODE(a, SQL_P_AGGREGATE, from, keys.n + aggs.n);
  a->nkeys = keys.n;
  a->nexprs = keys.n + aggs.n;
  a->exprs = alloc(b, (size_t)a->nexprs * sizeof *a->exprs);
  if (a->exprs == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < keys.n; i++) {
    const tsr__sql_expr *k = keys.items[i];
    a->exprs[i] = k;
    a->cols[i].expr = k;
    if (k->kind == SQL_E_COLUMN) {
      int col;
      TSR_TRY(tsr__sql_resolve(b, from->ncols, from->cols, k, &col));
      a->cols[i].qual = from->cols[col].qual;
      a->cols[i].name = from->cols[col].name;
    }
  }
  for (int i = 0; i < aggs.n; i++) {
    a->exprs[keys.n + i] = aggs.items[i];
    a->cols[keys.n + i].expr = aggs.items[i];
  }
  *cur = a;
  if (s->having != NULL)
    TSR_TRY(filter_over(b, a, s->having, cur));
  return TSR_OK;
}

static tsr_status bind_windows(tsr__sql_binder *b, item *items, int nitems, const tsr__sql_query *q,
                               tsr__sql_plan **cur) {
  expr_list wins = {0};
  for (int i = 0; i < nitems; i++)
    TSR_TRY(collect_calls(b, items[i].expr, true, false, &wins));
  for (int i = 0; i < q->norder; i++)
    TSR_TRY(collect_calls(b, q->order[i].expr, true, false, &wins));
  for (int w = 0; w < wins.n; w++) {
    tsr__sql_plan *child = *cur, *p;
    NEW_NODE(p, SQL_P_WINDOW, child, child->ncols + 1);
    memcpy(p->cols, child->cols, (size_t)child->ncols * sizeof *p->cols);
    p->cols[child->ncols].expr = wins.items[w];
    p->nexprs = 1;
    p->exprs = alloc(b, sizeof *p->exprs);
    if (p->exprs == NULL)
      return TSR_ENOMEM;
    p->exprs[0] = wins.items[w];
    *cur = p;
  }
  return TSR_OK;
}

/* ---- top n per group ---------------------------------------------------------------------- */

/* The name of the hidden aggregates the rewrite below makes: the n largest
 * or smallest values per group (tsr_agg's LARGEST / SMALLEST).  The lexer
 * never makes a name with a space, so no query can call them. */
const char tsr__sql_largest[] = " largest", tsr__sql_smallest[] = " smallest";

static bool same_ref_name(const tsr__sql_expr *ref, const tsr__sql_item *it) {
  if (ref->kind != SQL_E_COLUMN)
    return false;
  const char *name = it->alias.name                   ? it->alias.name
                     : it->expr->kind == SQL_E_COLUMN ? it->expr->column.name
                                                      : NULL;
  return name != NULL && (ref->column.quoted ? strcmp(name, ref->column.name) == 0
                                             : tsr__sql_name_eq(name, ref->column.name));
}

/* The item of select `in` a reference from the query over it names, -1. */
static int item_named(const tsr__sql_select *in, const tsr__sql_expr *ref) {
  int found = -1;
  for (int i = 0; i < in->nitems; i++)
    if (same_ref_name(ref, &in->items[i])) {
      if (found >= 0)
        return -1;
      found = i;
    }
  return found;
}

/* db-benchmark's q8 and its kin, "the n largest v per group":
 *   SELECT k, v FROM (SELECT k, v, row_number() OVER (PARTITION BY k ORDER BY v DESC) AS rn
 *                     FROM t WHERE v IS NOT NULL [AND ...]) WHERE rn <= n
 * keeps the same values as a group-by's largest(v, n) (smallest with ASC), which is one hash
 * pass instead of a sort of every row.  Taken only when every selected column is a partition
 * key or v, v's nulls are filtered (the aggregate skips them; the filter is then dropped),
 * and the outer query has no other clause.  Rows come in the group-by's order (groups
 * first-seen, values largest first) instead of the input's: SQL gives no order here. *done
 * false: the query is not of that form. */
static tsr_status top_n_per_group(tsr__sql_binder *b, const tsr__sql_select *s,
                                  const tsr__sql_query *q, tsr__sql_plan **out, bool *done) {
  *done = false;
  if (s->from == NULL || s->from->kind != SQL_T_SUBQUERY || s->where == NULL || s->distinct ||
      s->ngroup > 0 || s->group_all || s->having != NULL || q->norder > 0 || q->limit != NULL ||
      q->offset != NULL)
    return TSR_OK;
  const tsr__sql_query *iq = s->from->subquery;
  if (iq->kind != SQL_Q_SELECT || iq->nctes > 0 || iq->norder > 0 || iq->limit || iq->offset)
    return TSR_OK;
  const tsr__sql_select *in = iq->select;
  if (in->from == NULL || in->distinct || in->ngroup > 0 || in->group_all || in->having)
    return TSR_OK;
  /* WHERE rn <= n (or rn < n + 1) */
  const tsr__sql_expr *w = s->where;
  if (w->kind != SQL_E_BINARY || (w->op != SQL_OP_LE && w->op != SQL_OP_LT) ||
      w->args[1]->kind != SQL_E_INT)
    return TSR_OK;
  int64_t n = w->args[1]->int_value - (w->op == SQL_OP_LT);
  int rn = item_named(in, w->args[0]);
  if (n < 1 || rn < 0)
    return TSR_OK;
  const tsr__sql_expr *call = in->items[rn].expr;
  if (call->kind != SQL_E_FUNC || strcmp(call->name, "row_number") != 0 || call->nargs != 0 ||
      call->over == NULL || call->over->norder != 1 || call->over->npartition < 1 ||
      call->over->frame != SQL_FRAME_DEFAULT)
    return TSR_OK;
  const tsr__sql_window *win = call->over;
  const tsr__sql_expr *v = win->order[0].expr;
  /* the inner items: partition keys or v; the outer items: names of inner items but rn */
  for (int i = 0; i < in->nitems; i++) {
    bool ok = i == rn || tsr__sql_expr_equal(in->items[i].expr, v);
    for (int k = 0; k < win->npartition && !ok; k++)
      ok = tsr__sql_expr_equal(in->items[i].expr, win->partition[k]);
    if (!ok)
      return TSR_OK;
  }
  for (int i = 0; i < s->nitems; i++) {
    int at = item_named(in, s->items[i].expr);
    if (at < 0 || at == rn)
      return TSR_OK;
  }
  /* v IS NOT NULL among the inner WHERE's conjuncts: dropped, the aggregate skips nulls */
  expr_list cs = {0}, rest = {0};
  bool not_null = false;
  if (in->where != NULL)
    TSR_TRY(conjuncts(b, in->where, &cs));
  for (int i = 0; i < cs.n; i++) {
    const tsr__sql_expr *c = cs.items[i];
    if (!not_null && c->kind == SQL_E_IS_NULL && c->negated && tsr__sql_expr_equal(c->args[0], v))
      not_null = true;
    else
      TSR_TRY(conjuncts(b, c, &rest));
  }
  if (!not_null)
    return TSR_OK;

  tsr__sql_plan *cur;
  TSR_TRY(bind_table(b, in->from, &cur));
  if (rest.n > 0)
    TSR_TRY(place_filters(b, cur, &rest, &cur));
  tsr__sql_expr *agg = alloc(b, sizeof *agg);
  tsr__sql_expr **args = alloc(b, 2 * sizeof *args);
  tsr__sql_expr *count = alloc(b, sizeof *count);
  if (agg == NULL || args == NULL || count == NULL)
    return TSR_ENOMEM;
  count->kind = SQL_E_INT;
  count->int_value = n;
  count->pos = w->args[1]->pos;
  count->end = w->args[1]->end;
  args[0] = (tsr__sql_expr *)v;
  args[1] = count;
  agg->kind = SQL_E_FUNC;
  agg->name = win->order[0].descending ? tsr__sql_largest : tsr__sql_smallest;
  agg->nargs = 2;
  agg->args = args;
  agg->pos = call->pos;
  agg->end = call->end;
  int nk = win->npartition;
  tsr__sql_plan *a;
  NEW_NODE(a, SQL_P_AGGREGATE, cur, nk + 1);
  a->nkeys = nk;
  a->nexprs = nk + 1;
  a->exprs = alloc(b, (size_t)(nk + 1) * sizeof *a->exprs);
  if (a->exprs == NULL)
    return TSR_ENOMEM;
  for (int k = 0; k < nk; k++) {
    a->exprs[k] = a->cols[k].expr = win->partition[k];
    if (win->partition[k]->kind == SQL_E_COLUMN) {
      int col;
      TSR_TRY(tsr__sql_resolve(b, cur->ncols, cur->cols, win->partition[k], &col));
      a->cols[k].qual = cur->cols[col].qual;
      a->cols[k].name = cur->cols[col].name;
    }
  }
  a->exprs[nk] = a->cols[nk].expr = agg;
  tsr__sql_plan *p;
  NEW_NODE(p, SQL_P_PROJECT, a, s->nitems);
  p->nexprs = s->nitems;
  p->exprs = alloc(b, (size_t)s->nitems * sizeof *p->exprs);
  p->pick = alloc(b, (size_t)s->nitems * sizeof *p->pick);
  if (p->exprs == NULL || p->pick == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < s->nitems; i++) {
    const tsr__sql_item *outer = &s->items[i], *inner = &in->items[item_named(in, outer->expr)];
    p->pick[i] = nk;
    for (int k = 0; k < nk; k++)
      if (tsr__sql_expr_equal(inner->expr, win->partition[k]))
        p->pick[i] = k;
    p->cols[i].name = outer->alias.name   ? outer->alias.name
                      : inner->alias.name ? inner->alias.name
                                          : tsr__sql_expr_name(b, inner->expr);
    if (p->cols[i].name == NULL)
      return TSR_ENOMEM;
  }
  *out = p;
  *done = true;
  return TSR_OK;
}

/* The select list as a PROJECT, plus hidden columns for ORDER BY items
 * that are not in it; then DISTINCT, the sort, and the drop of the hidden
 * columns. */
static tsr_status bind_select(tsr__sql_binder *b, const tsr__sql_select *s, const tsr__sql_query *q,
                              tsr__sql_plan **out) {
  tsr__sql_plan *cur;
  bool done;
  TSR_TRY(top_n_per_group(b, s, q, out, &done));
  if (done)
    return TSR_OK;
  if (s->from != NULL)
    TSR_TRY(bind_table(b, s->from, &cur));
  else
    NEW_NODE(cur, SQL_P_ONE_ROW, NULL, 0);
  tsr__sql_plan *from = cur;
  item *items = NULL;
  int nitems = 0;
  TSR_TRY(expand_items(b, s, from, &items, &nitems));
  if (nitems == 0)
    return fail(b, s->pos, TSR_EPARSE, "SELECT needs at least one column");
  if (s->where != NULL) {
    if (tsr__sql_has_aggregate(s->where))
      return fail(b, s->where->pos, TSR_EPARSE,
                  "WHERE cannot hold an aggregate function (use HAVING)");
    if (tsr__sql_has_window(s->where))
      return fail(b, s->where->pos, TSR_EPARSE, "WHERE cannot hold a window function");
    expr_list cs = {0};
    TSR_TRY(conjuncts(b, s->where, &cs));
    TSR_TRY(place_filters(b, cur, &cs, &cur));
  }
  bool grouped = s->ngroup > 0 || s->group_all || s->having != NULL;
  for (int i = 0; i < nitems && !grouped; i++)
    grouped = tsr__sql_has_aggregate(items[i].expr);
  for (int i = 0; i < q->norder && !grouped; i++)
    grouped = tsr__sql_has_aggregate(q->order[i].expr);
  if (grouped)
    TSR_TRY(bind_aggregate(b, s, items, nitems, q, &cur));
  TSR_TRY(bind_windows(b, items, nitems, q, &cur));

  /* ORDER BY items: a select item (position, alias, same expression), or a
   * hidden extra column. */
  int *order_col = alloc(b, (size_t)(q->norder + 1) * sizeof *order_col);
  const tsr__sql_expr **extra = alloc(b, (size_t)(q->norder + 1) * sizeof *extra);
  if (order_col == NULL || extra == NULL)
    return TSR_ENOMEM;
  int nextra = 0;
  for (int i = 0; i < q->norder; i++) {
    const tsr__sql_expr *e = q->order[i].expr;
    int at;
    TSR_TRY(position_item(b, e, nitems, &at));
    if (at < 0)
      at = alias_item(b, e, items, nitems, NULL, true);
    for (int k = 0; k < nitems && at < 0; k++)
      if (tsr__sql_expr_equal(items[k].expr, e))
        at = k;
    if (at < 0) {
      if (s->distinct)
        return fail(b, e->pos, TSR_EINVAL,
                    "with SELECT DISTINCT, ORDER BY expressions must appear in the select list");
      at = nitems + nextra;
      extra[nextra++] = e;
    }
    order_col[i] = at;
  }
  tsr__sql_plan *p;
  NEW_NODE(p, SQL_P_PROJECT, cur, nitems + nextra);
  p->nexprs = nitems + nextra;
  p->exprs = alloc(b, (size_t)p->nexprs * sizeof *p->exprs);
  if (p->exprs == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < nitems; i++) {
    p->exprs[i] = items[i].expr;
    p->cols[i].name = items[i].name;
    p->cols[i].qual = items[i].qual;
  }
  for (int i = 0; i < nextra; i++) {
    p->exprs[nitems + i] = extra[i];
    p->cols[nitems + i].hidden = true;
  }
  cur = p;
  if (s->distinct) {
    tsr__sql_plan *d;
    NEW_NODE(d, SQL_P_DISTINCT, cur, cur->ncols);
    memcpy(d->cols, cur->cols, (size_t)cur->ncols * sizeof *d->cols);
    cur = d;
  }
  if (q->norder > 0) {
    tsr__sql_plan *so;
    NEW_NODE(so, SQL_P_SORT, cur, cur->ncols);
    memcpy(so->cols, cur->cols, (size_t)cur->ncols * sizeof *so->cols);
    so->nsort = q->norder;
    so->sort = alloc(b, (size_t)q->norder * sizeof *so->sort);
    if (so->sort == NULL)
      return TSR_ENOMEM;
    for (int i = 0; i < q->norder; i++) {
      so->sort[i].col = order_col[i];
      so->sort[i].descending = q->order[i].descending;
      so->sort[i].nulls_first = q->order[i].nulls == SQL_NULLS_FIRST;
    }
    cur = so;
  }
  *out = cur;
  return TSR_OK;
}

/* Drops the hidden ORDER BY columns at the end of p's output (after the
 * sort and limit). */
static tsr_status drop_extra(tsr__sql_binder *b, tsr__sql_plan **cur) {
  tsr__sql_plan *c = *cur;
  int keep = c->ncols;
  while (keep > 0 && c->cols[keep - 1].hidden && c->cols[keep - 1].name == NULL)
    keep--;
  if (keep == c->ncols)
    return TSR_OK;
  tsr__sql_plan *p;
  NEW_NODE(p, SQL_P_PROJECT, c, keep);
  memcpy(p->cols, c->cols, (size_t)keep * sizeof *p->cols);
  p->nexprs = keep;
  p->exprs = alloc(b, (size_t)keep * sizeof *p->exprs);
  p->pick = alloc(b, (size_t)keep * sizeof *p->pick);
  if (p->exprs == NULL || p->pick == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < keep; i++)
    p->pick[i] = i;
  *cur = p;
  return TSR_OK;
}

static tsr_status literal_count(const tsr__sql_binder *b, const tsr__sql_expr *e, const char *what,
                                int64_t *out) {
  if (e->kind != SQL_E_INT || e->int_value < 0)
    return tsr__query_fail(b->source, e->pos, TSR_EINVAL,
                           "%s must be a non-negative integer literal", what);
  *out = e->int_value;
  return TSR_OK;
}

/* ORDER BY over a UNION: positions and output names only. */
static tsr_status union_order(tsr__sql_binder *b, const tsr__sql_query *q, tsr__sql_plan **cur) {
  tsr__sql_plan *c = *cur, *so;
  NEW_NODE(so, SQL_P_SORT, c, c->ncols);
  memcpy(so->cols, c->cols, (size_t)c->ncols * sizeof *so->cols);
  so->nsort = q->norder;
  so->sort = alloc(b, (size_t)q->norder * sizeof *so->sort);
  if (so->sort == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < q->norder; i++) {
    const tsr__sql_expr *e = q->order[i].expr;
    int at;
    TSR_TRY(position_item(b, e, c->ncols, &at));
    if (at < 0 && e->kind == SQL_E_COLUMN && e->qualifier.name == NULL)
      TSR_TRY(tsr__sql_resolve(b, c->ncols, c->cols, e, &at));
    if (at < 0)
      return fail(b, e->pos, TSR_ENOTSUP,
                  "ORDER BY after UNION takes output column names or positions");
    so->sort[i].col = at;
    so->sort[i].descending = q->order[i].descending;
    so->sort[i].nulls_first = q->order[i].nulls == SQL_NULLS_FIRST;
  }
  *cur = so;
  return TSR_OK;
}

tsr_status tsr__sql_bind_query(tsr__sql_binder *b, const tsr__sql_query *q, tsr__sql_plan **out) {
  int saved = b->ncte;
  if (q->nctes > 0) {
    if (b->ncte + q->nctes > MAX_CTES)
      return fail(b, q->pos, TSR_EINVAL, "too many common table expressions");
    if (b->ncte + q->nctes > b->cte_cap) {
      int cap = b->ncte + q->nctes + 16;
      const tsr__sql_cte **c = alloc(b, (size_t)cap * sizeof *c);
      if (c == NULL)
        return TSR_ENOMEM;
      if (b->ncte)
        memcpy(c, b->ctes, (size_t)b->ncte * sizeof *c);
      b->ctes = c;
      b->cte_cap = cap;
    }
    for (int i = 0; i < q->nctes; i++)
      b->ctes[b->ncte++] = &q->ctes[i];
  }
  tsr_status st;
  tsr__sql_plan *cur = NULL;
  if (q->kind == SQL_Q_SELECT) {
    st = bind_select(b, q->select, q, &cur);
  } else {
    tsr__sql_plan *l = NULL, *r = NULL;
    st = tsr__sql_bind_query(b, q->left, &l);
    if (st == TSR_OK)
      st = tsr__sql_bind_query(b, q->right, &r);
    if (st == TSR_OK && l->ncols != r->ncols)
      st = tsr__query_fail(b->source, q->right->pos, TSR_EINVAL,
                           "the two sides of UNION have %d and %d columns", l->ncols, r->ncols);
    if (st == TSR_OK) {
      cur = node(b, SQL_P_UNION, l, l->ncols);
      if (cur == NULL)
        st = TSR_ENOMEM;
    }
    if (st == TSR_OK) {
      cur->right = r;
      cur->distinct = !q->all;
      for (int i = 0; i < l->ncols; i++)
        cur->cols[i].name = l->cols[i].name;
      if (q->norder > 0)
        st = union_order(b, q, &cur);
    }
  }
  if (st == TSR_OK && (q->limit != NULL || q->offset != NULL)) {
    int64_t limit = -1, offset = 0;
    if (q->limit != NULL)
      st = literal_count(b, q->limit, "LIMIT", &limit);
    if (st == TSR_OK && q->offset != NULL)
      st = literal_count(b, q->offset, "OFFSET", &offset);
    tsr__sql_plan *lim = st == TSR_OK ? node(b, SQL_P_LIMIT, cur, cur->ncols) : NULL;
    if (st == TSR_OK && lim == NULL)
      st = TSR_ENOMEM;
    if (st == TSR_OK) {
      memcpy(lim->cols, cur->cols, (size_t)cur->ncols * sizeof *lim->cols);
      lim->limit = limit;
      lim->offset = offset;
      cur = lim;
    }
  }
  if (st == TSR_OK)
    st = drop_extra(b, &cur);
  b->ncte = saved;
  if (st == TSR_OK)
    *out = cur;
  return st;
}

void tsr__sql_binder_release(tsr__sql_binder *b) {
  for (int i = 0; i < b->nframes; i++)
    tsr_frame_destroy(&b->frames[i]);
  b->nframes = 0;
}

/* ---- build sides from estimated sizes --------------------------------------------------- */

/* Rows a node gives, estimated from what is known without running it: a
 * table's row count (a frame's; a file's as files.c estimates it), a
 * limit; -1 when unknown.  Filters keep half their input, a join its
 * larger input. */
int64_t tsr__sql_estimate_rows(const tsr__sql_plan *p) {
  int64_t l = p->left ? tsr__sql_estimate_rows(p->left) : -1;
  int64_t r = p->right ? tsr__sql_estimate_rows(p->right) : -1;
  switch (p->kind) {
  case SQL_P_SCAN:
    return p->frame ? tsr_frame_nrows_known(p->frame) : p->est_rows;
  case SQL_P_ONE_ROW:
    return 1;
  case SQL_P_FILTER:
    return l < 0 ? -1 : l / 2;
  case SQL_P_LIMIT:
    return p->limit >= 0 && (l < 0 || p->limit < l) ? p->limit : l;
  case SQL_P_JOIN:
    if (p->join == SQL_JOIN_SEMI || p->join == SQL_JOIN_ANTI || p->join == SQL_JOIN_ASOF)
      return l;
    return l < 0 || r < 0 ? -1 : l > r ? l : r;
  case SQL_P_UNION:
    return l < 0 || r < 0 ? -1 : l + r;
  case SQL_P_AGGREGATE:
    return -1;
  default:
    return l;
  }
}

tsr_status tsr__sql_choose_build_sides(tsr__sql_binder *b, tsr__sql_plan **slot) {
  tsr__sql_plan *p = *slot;
  if (p == NULL)
    return TSR_OK;
  TSR_TRY(tsr__sql_choose_build_sides(b, &p->left));
  TSR_TRY(tsr__sql_choose_build_sides(b, &p->right));
  if (p->kind != SQL_P_JOIN || p->join != SQL_JOIN_INNER || p->nkeys == 0)
    return TSR_OK;
  /* the hash table is built on the right input: the smaller one, when the
   * left is known to be less than half the right */
  int64_t l = tsr__sql_estimate_rows(p->left), r = tsr__sql_estimate_rows(p->right);
  if (l < 0 || r < 0 || 2 * l >= r)
    return TSR_OK;
  /* above: the written column order (with the hidden side of USING keys),
   * which the nodes above copied */
  int nl = p->left->ncols, nr = p->right->ncols;
  tsr__sql_plan *w;
  NEW_NODE(w, SQL_P_PROJECT, p, p->ncols);
  memcpy(w->cols, p->cols, (size_t)p->ncols * sizeof *w->cols);
  w->restore = true;
  w->nexprs = p->ncols;
  w->exprs = alloc(b, (size_t)p->ncols * sizeof *w->exprs);
  w->pick = alloc(b, (size_t)p->ncols * sizeof *w->pick);
  if (w->exprs == NULL || w->pick == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < p->ncols; i++)
    w->pick[i] = i < nl ? nr + i : i - nl;
  tsr__sql_plan *t = p->left;
  p->left = p->right;
  p->right = t;
  const tsr__sql_expr **k = p->left_keys;
  p->left_keys = p->right_keys;
  p->right_keys = k;
  memcpy(p->cols, p->left->cols, (size_t)nr * sizeof *p->cols);
  memcpy(p->cols + nr, p->right->cols, (size_t)nl * sizeof *p->cols);
  *slot = w;
  return TSR_OK;
}
