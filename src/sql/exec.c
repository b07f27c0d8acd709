/* exec.c — a logical plan (plan.h) run as frame operations.
 *
 * Each operator becomes the frame call a C user would write: a FILTER is
 * tsr_frame_filter's node, a PROJECT assigns its computed columns as
 * tsr_frame_assign does and selects them, an AGGREGATE is one
 * tsr_frame_groupby, a JOIN one tsr_frame_join (or tsr_frame_join_asof), a
 * SORT tsr_frame_sort, a LIMIT over a SORT tsr_frame_top_k.  Lazy
 * operators stay lazy, so a chain of filters and projections runs fused in
 * the first pipeline breaker's tasks (or in the caller's compute).
 *
 * Running an operator gives its frame and `colmap`: the frame column of
 * each SQL output column.  Expressions that are not plain columns (group
 * keys, aggregate arguments, join keys, sort keys) are first assigned as
 * helper columns named "__sql<N>", which SQL never shows. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame/csv_where.h"
#include "plan.h"

typedef struct run {
  tsr_frame *f;
  int *colmap; /* arena */
} run;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int *new_map(tsr__sql_binder *b, int n) {
  return tsr__query_arena_alloc(b->arena, (size_t)(n > 0 ? n : 1) * sizeof(int));
}

/* r's SQL column i is its frame's column i. */
static tsr_status identity_map(tsr__sql_binder *b, int n, run *r) {
  r->colmap = new_map(b, n);
  if (r->colmap == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < n; i++)
    r->colmap[i] = i;
  return TSR_OK;
}

static void temp_name(tsr__sql_binder *b, char *buf, size_t cap) {
  snprintf(buf, cap, "__sql%d", b->ntemp++);
}

/* Replaces r->f by *next (consumed) when st is OK. */
static tsr_status advance(run *r, tsr_status st, tsr_frame **next) {
  if (st != TSR_OK)
    return st;
  tsr_frame_destroy(&r->f);
  r->f = *next;
  *next = NULL;
  return TSR_OK;
}

/* A new handle on f (frames are values: every operation makes a new one). */
static tsr_status frame_copy(tsr__sql_binder *b, tsr_frame *f, tsr_frame **out) {
  int n = tsr_frame_ncols(f);
  const char **names = tsr__query_arena_alloc(b->arena, (size_t)(n + 1) * sizeof *names);
  if (names == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < n; i++)
    names[i] = tsr_frame_col_name(f, i);
  return tsr_frame_select(f, n, names, out);
}

/* Adds a helper column "__sql<N>" to r's frame holding expression e over
 * the SQL columns (ncols, cols), or (e NULL) a copy of frame column `copy`
 * (so that two SQL columns or both sides of a join hold it apart), or (copy
 * < 0 too) the constant 1; *out is its frame column. */
static tsr_status add_helper(tsr__sql_binder *b, run *r, int ncols, const tsr__sql_col *cols,
                             const tsr__sql_expr *e, int copy, int *out) {
  tsr__colprog *prog = NULL;
  TSR_TRY(tsr__colprog_create(r->f, &prog));
  int v;
  char name[32];
  temp_name(b, name, sizeof name);
  tsr_frame *next = NULL;
  tsr_status st = e != NULL   ? tsr__sql_compile(b, prog, ncols, cols, r->colmap, e, &v)
                  : copy >= 0 ? tsr__colprog_column(prog, copy, &v)
                              : tsr__colprog_int(prog, 1, false, &v);
  if (st == TSR_OK) {
    st = tsr__colprog_assign(prog, v, name, &next);
    if (st != TSR_OK && st != TSR_ENOMEM && e != NULL)
      st = tsr__query_fail(b->source, e->pos, st, "%s", tsr_last_error());
  }
  tsr__colprog_destroy(&prog);
  TSR_TRY(advance(r, st, &next));
  *out = tsr_frame_ncols(r->f) - 1;
  return TSR_OK;
}

static tsr_status copy_column(tsr__sql_binder *b, run *r, int col, int *out) {
  return add_helper(b, r, 0, NULL, NULL, col, out);
}

static tsr_status constant_column(tsr__sql_binder *b, run *r, int *out) {
  return add_helper(b, r, 0, NULL, NULL, -1, out);
}

/* The frame column holding expression e of the SQL columns (ncols, cols)
 * of r: a column it names, or a helper column assigned now. */
static tsr_status column_of(tsr__sql_binder *b, run *r, int ncols, const tsr__sql_col *cols,
                            const tsr__sql_expr *e, int *col) {
  for (int i = 0; i < ncols; i++)
    if (cols[i].expr != NULL && tsr__sql_expr_equal(cols[i].expr, e)) {
      *col = r->colmap[i];
      return TSR_OK;
    }
  if (e->kind != SQL_E_COLUMN)
    return add_helper(b, r, ncols, cols, e, -1, col);
  int c;
  TSR_TRY(tsr__sql_resolve(b, ncols, cols, e, &c));
  *col = r->colmap[c];
  if (*col < 0)
    return tsr__query_fail(b->source, e->pos, TSR_EINVAL,
                           "internal: column \"%s\" was not read (please report)", e->column.name);
  return TSR_OK;
}

static tsr_status exec_node(tsr__sql_binder *b, tsr__sql_plan *p, bool analyze, run *r);
static tsr_status union_type(const char *what, int col, tsr_type a, tsr_type c, tsr_type *out);

/* ---- single-input operators -------------------------------------------------------------- */

/* Keeps the rows where p->pred, over the SQL columns (ncols, cols), is true. */
static tsr_status exec_filter(tsr__sql_binder *b, const tsr__sql_plan *p, int ncols,
                              const tsr__sql_col *cols, run *r) {
  tsr__colprog *prog = NULL;
  TSR_TRY(tsr__colprog_create(r->f, &prog));
  int v;
  tsr_frame *next = NULL;
  tsr_status st = tsr__sql_compile(b, prog, ncols, cols, r->colmap, p->pred, &v);
  if (st == TSR_OK) {
    st = tsr__frame_filter_prog(r->f, prog, v, &next);
    if (st != TSR_OK && st != TSR_ENOMEM)
      st = tsr__query_fail(b->source, p->pred->pos, st, "%s", tsr_last_error());
  }
  tsr__colprog_destroy(&prog);
  return advance(r, st, &next);
}

/* Selects frame columns cols[0..n) (a column listed twice is copied). */
static tsr_status select_columns(tsr__sql_binder *b, run *r, int n, int *cols) {
  for (int i = 0; i < n; i++)
    for (int k = 0; k < i; k++)
      if (cols[k] == cols[i]) {
        TSR_TRY(copy_column(b, r, cols[i], &cols[i]));
        break;
      }
  const char **names = tsr__query_arena_alloc(b->arena, (size_t)(n + 1) * sizeof *names);
  if (names == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < n; i++)
    names[i] = tsr_frame_col_name(r->f, cols[i]);
  tsr_frame *next = NULL;
  return advance(r, tsr_frame_select(r->f, n, names, &next), &next);
}

/* The used output columns (all when none is: a count(*) above still needs
 * the rows), computed and selected; unused ones map to -1. */
static tsr_status exec_project(tsr__sql_binder *b, tsr__sql_plan *p, run *r) {
  const tsr__sql_plan *in = p->left;
  int *cols = new_map(b, p->ncols), *map = new_map(b, p->ncols);
  if (cols == NULL || map == NULL)
    return TSR_ENOMEM;
  bool any = false;
  for (int i = 0; i < p->ncols; i++)
    any |= p->used == NULL || p->used[i];
  if (p->restore) { /* the joins' columns in their written order: a new map alone */
    for (int i = 0; i < p->ncols; i++)
      map[i] = any && p->used != NULL && !p->used[i] ? -1 : r->colmap[p->pick[i]];
    r->colmap = map;
    return TSR_OK;
  }
  int n = 0;
  for (int i = 0; i < p->ncols; i++) {
    map[i] = -1;
    if (any && p->used != NULL && !p->used[i])
      continue;
    if (p->exprs[i] == NULL)
      cols[n] = r->colmap[p->pick[i]];
    else
      TSR_TRY(column_of(b, r, in->ncols, in->cols, p->exprs[i], &cols[n]));
    map[i] = n++;
  }
  TSR_TRY(select_columns(b, r, n, cols));
  r->colmap = map;
  return TSR_OK;
}

/* A literal argument of an aggregate or window function as a double. */
static tsr_status literal_number(const tsr__sql_binder *b, const tsr__sql_expr *e, const char *what,
                                 double *out) {
  if (e->kind == SQL_E_INT)
    *out = (double)e->int_value;
  else if (e->kind == SQL_E_FLOAT)
    *out = e->float_value;
  else if (e->kind == SQL_E_UNARY && e->op == SQL_OP_NEG &&
           (e->args[0]->kind == SQL_E_INT || e->args[0]->kind == SQL_E_FLOAT))
    *out =
        -(e->args[0]->kind == SQL_E_INT ? (double)e->args[0]->int_value : e->args[0]->float_value);
  else
    return tsr__query_fail(b->source, e->pos, TSR_EINVAL, "%s must be a number literal", what);
  return TSR_OK;
}

static tsr_status exec_aggregate(tsr__sql_binder *b, tsr__sql_plan *p, run *r) {
  const tsr__sql_plan *in = p->left;
  int nkeys = p->nkeys, naggs = p->nexprs - p->nkeys;
  const char **keys = tsr__query_arena_alloc(b->arena, (size_t)(nkeys + 1) * sizeof *keys);
  int *keycol = new_map(b, nkeys);
  tsr_agg *aggs = tsr__query_arena_alloc(b->arena, (size_t)(naggs + 1) * sizeof *aggs);
  int *argcol = new_map(b, 2 * naggs);
  if (keys == NULL || keycol == NULL || aggs == NULL || argcol == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < nkeys; i++)
    TSR_TRY(column_of(b, r, in->ncols, in->cols, p->exprs[i], &keycol[i]));
  for (int a = 0; a < naggs; a++) {
    const tsr__sql_expr *call = p->exprs[nkeys + a];
    int ddof, op = tsr__sql_aggregate_op(call, &ddof);
    tsr_agg *g = &aggs[a];
    g->op = (tsr_agg_op)op;
    g->ddof = ddof;
    argcol[2 * a] = argcol[2 * a + 1] = -1;
    int want = op == TSR_AGG_COUNT_ALL ? 0
               : op == TSR_AGG_CORR || op == TSR_AGG_COVAR_SAMP || op == TSR_AGG_COVAR_POP ||
                       op == TSR_AGG_QUANTILE || op == TSR_AGG_LARGEST || op == TSR_AGG_SMALLEST
                   ? 2
                   : 1;
    if (call->distinct && op != TSR_AGG_NUNIQUE)
      return tsr__query_fail(b->source, call->pos, TSR_ENOTSUP,
                             "DISTINCT is supported in count(DISTINCT x) only");
    if (call->nargs != want)
      return tsr__query_fail(b->source, call->pos, TSR_EINVAL, "%s() takes %d argument%s",
                             call->name, want, want == 1 ? "" : "s");
    if (op == TSR_AGG_LARGEST || op == TSR_AGG_SMALLEST) { /* the rewrite's (v, n) */
      g->n = call->args[1]->int_value;
      want = 1;
    }
    if (op == TSR_AGG_QUANTILE) {
      TSR_TRY(literal_number(b, call->args[1], "the quantile", &g->q));
      if (!(g->q >= 0 && g->q <= 1))
        return tsr__query_fail(b->source, call->args[1]->pos, TSR_EINVAL,
                               "the quantile must be between 0 and 1");
      want = 1;
    }
    for (int k = 0; k < want; k++)
      TSR_TRY(column_of(b, r, in->ncols, in->cols, call->args[k], &argcol[2 * a + k]));
  }
  /* names are read only now: assigning helper columns made new frames */
  for (int i = 0; i < nkeys; i++)
    keys[i] = tsr_frame_col_name(r->f, keycol[i]);
  for (int a = 0; a < naggs; a++) {
    char name[32];
    temp_name(b, name, sizeof name);
    aggs[a].name = tsr__query_arena_strndup(b->arena, name, strlen(name));
    if (aggs[a].name == NULL)
      return TSR_ENOMEM;
    if (argcol[2 * a] >= 0)
      aggs[a].column = tsr_frame_col_name(r->f, argcol[2 * a]);
    if (argcol[2 * a + 1] >= 0)
      aggs[a].column2 = tsr_frame_col_name(r->f, argcol[2 * a + 1]);
  }
  tsr_frame *next = NULL;
  TSR_TRY(advance(r, tsr_frame_groupby(r->f, nkeys, keys, naggs, aggs, NULL, &next), &next));
  return identity_map(b, p->ncols, r);
}

static tsr_status exec_window(tsr__sql_binder *b, tsr__sql_plan *p, run *r) {
  const tsr__sql_plan *in = p->left;
  const tsr__sql_expr *call = p->exprs[0];
  const tsr__sql_window *w = call->over;
  tsr_window spec;
  memset(&spec, 0, sizeof spec);
  const char *fn = call->name;
  int nargs = 0;
  if (strcmp(fn, "row_number") == 0)
    spec.func = TSR_WIN_ROW_NUMBER;
  else if (strcmp(fn, "rank") == 0)
    spec.func = TSR_WIN_RANK;
  else if (strcmp(fn, "dense_rank") == 0)
    spec.func = TSR_WIN_DENSE_RANK;
  else if (strcmp(fn, "lag") == 0 || strcmp(fn, "lead") == 0) {
    spec.func = fn[1] == 'a' ? TSR_WIN_LAG : TSR_WIN_LEAD;
    nargs = call->nargs;
    if (nargs < 1 || nargs > 3)
      return tsr__query_fail(b->source, call->pos, TSR_EINVAL,
                             "%s() takes 1 to 3 arguments (value, offset, default)", fn);
  } else if (strcmp(fn, "sum") == 0 && w->norder > 0 && w->frame == SQL_FRAME_DEFAULT) {
    spec.func = TSR_WIN_CUMSUM;
    nargs = 1;
  } else if ((strcmp(fn, "avg") == 0 || strcmp(fn, "mean") == 0) && w->frame == SQL_FRAME_ROWS &&
             w->preceding >= 0) {
    spec.func = TSR_WIN_ROLLING_MEAN;
    spec.n = w->preceding + 1;
    nargs = 1;
  } else
    return tsr__query_fail(
        b->source, call->pos, TSR_ENOTSUP,
        "window function %s() OVER (...) is not supported: the subset has row_number, rank, "
        "dense_rank, lag, lead, sum with ORDER BY (running sum) and avg with ROWS BETWEEN n "
        "PRECEDING AND CURRENT ROW (docs/sql.md)",
        fn);
  if ((spec.func == TSR_WIN_CUMSUM || spec.func == TSR_WIN_ROLLING_MEAN) && call->nargs != 1)
    return tsr__query_fail(b->source, call->pos, TSR_EINVAL, "%s() takes 1 argument", fn);
  if (spec.func <= TSR_WIN_DENSE_RANK && call->nargs != 0)
    return tsr__query_fail(b->source, call->pos, TSR_EINVAL, "%s() takes no arguments", fn);
  int argcol = -1;
  if (nargs >= 1)
    TSR_TRY(column_of(b, r, in->ncols, in->cols, call->args[0], &argcol));
  if ((spec.func == TSR_WIN_LAG || spec.func == TSR_WIN_LEAD) &&
      tsr_frame_col_type(r->f, argcol).id == TSR_COL_STRING) {
    /* the window shifts dictionary codes, not string views: a dictionary copy */
    tsr_frame *next = NULL;
    TSR_TRY(copy_column(b, r, argcol, &argcol));
    TSR_TRY(advance(
        r,
        tsr_frame_cast(r->f, tsr_frame_col_name(r->f, argcol), (tsr_type){TSR_COL_DICT, 0}, &next),
        &next));
  }
  if ((spec.func == TSR_WIN_LAG || spec.func == TSR_WIN_LEAD) && call->nargs >= 2) {
    double n = 0;
    TSR_TRY(literal_number(b, call->args[1], "the offset", &n));
    if (n < 0 || n != (double)(int64_t)n)
      return tsr__query_fail(b->source, call->args[1]->pos, TSR_EINVAL,
                             "the offset must be a non-negative integer");
    spec.n = n == 0 ? 0 : (int64_t)n;
    if (n == 0)
      return tsr__query_fail(b->source, call->args[1]->pos, TSR_ENOTSUP,
                             "an offset of 0 is not supported");
  }
  if ((spec.func == TSR_WIN_LAG || spec.func == TSR_WIN_LEAD) && call->nargs == 3) {
    const tsr__sql_expr *d = call->args[2];
    if (d->kind == SQL_E_STRING || d->kind == SQL_E_TYPED)
      spec.default_value = d->text;
    else if (d->kind != SQL_E_NULL)
      spec.default_value =
          tsr__query_arena_strndup(b->arena, b->source + d->pos, (size_t)(d->end - d->pos));
  }
  int *pcol = new_map(b, w->npartition), *ocol = new_map(b, w->norder);
  const char **pnames =
      tsr__query_arena_alloc(b->arena, (size_t)(w->npartition + 1) * sizeof(char *));
  tsr_sort_key *okeys = tsr__query_arena_alloc(b->arena, (size_t)(w->norder + 1) * sizeof *okeys);
  if (pcol == NULL || ocol == NULL || pnames == NULL || okeys == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < w->npartition; i++)
    TSR_TRY(column_of(b, r, in->ncols, in->cols, w->partition[i], &pcol[i]));
  for (int i = 0; i < w->norder; i++)
    TSR_TRY(column_of(b, r, in->ncols, in->cols, w->order[i].expr, &ocol[i]));
  for (int i = 0; i < w->npartition; i++)
    pnames[i] = tsr_frame_col_name(r->f, pcol[i]);
  for (int i = 0; i < w->norder; i++) {
    okeys[i].column = tsr_frame_col_name(r->f, ocol[i]);
    okeys[i].descending = w->order[i].descending;
    okeys[i].nulls_first = w->order[i].nulls == SQL_NULLS_FIRST;
  }
  if (argcol >= 0)
    spec.column = tsr_frame_col_name(r->f, argcol);
  spec.npartition = w->npartition;
  spec.partition_by = pnames;
  spec.norder = w->norder;
  spec.order_by = okeys;
  char name[32];
  temp_name(b, name, sizeof name);
  tsr_frame *next = NULL;
  TSR_TRY(advance(r, tsr_frame_window(r->f, name, &spec, &next), &next));
  int *map = new_map(b, p->ncols);
  if (map == NULL)
    return TSR_ENOMEM;
  memcpy(map, r->colmap, (size_t)in->ncols * sizeof *map);
  map[in->ncols] = tsr_frame_ncols(r->f) - 1;
  r->colmap = map;
  return TSR_OK;
}

static tsr_status sort_keys(tsr__sql_binder *b, const tsr__sql_plan *s, const run *r,
                            tsr_sort_key **out) {
  tsr_sort_key *keys = tsr__query_arena_alloc(b->arena, (size_t)s->nsort * sizeof *keys);
  if (keys == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < s->nsort; i++) {
    keys[i].column = tsr_frame_col_name(r->f, r->colmap[s->sort[i].col]);
    keys[i].descending = s->sort[i].descending;
    keys[i].nulls_first = s->sort[i].nulls_first;
  }
  *out = keys;
  return TSR_OK;
}

static tsr_status exec_limit(tsr__sql_binder *b, tsr__sql_plan *p, bool analyze, run *r) {
  tsr__sql_plan *c = p->left;
  int64_t stop = p->limit < 0 ? INT64_MAX : p->offset + p->limit;
  if (p->limit >= 0 && p->offset > INT64_MAX - p->limit)
    stop = INT64_MAX;
  tsr_frame *next = NULL;
  if (c->kind == SQL_P_SORT && p->limit >= 0 && !analyze) {
    /* ORDER BY ... LIMIT: top-k of the sort's input */
    TSR_TRY(exec_node(b, c->left, analyze, r));
    tsr_sort_key *keys;
    TSR_TRY(sort_keys(b, c, r, &keys));
    TSR_TRY(advance(r, tsr_frame_top_k(r->f, c->nsort, keys, stop, &next), &next));
  } else
    TSR_TRY(exec_node(b, c, analyze, r));
  if (p->offset == 0 && stop == INT64_MAX)
    return TSR_OK;
  return advance(r, tsr_frame_slice(r->f, p->offset, stop, &next), &next);
}

/* ---- joins ------------------------------------------------------------------------------- */

/* Column `col` of a join's input with `nkeycols` key columns first in the
 * output (is_key_of[col] >= 0 for a key column: its output position). */
static tsr_status exec_join(tsr__sql_binder *b, tsr__sql_plan *p, bool analyze, run *r) {
  run L = {0}, R = {0};
  tsr_status st = exec_node(b, p->left, analyze, &L);
  if (st == TSR_OK)
    st = exec_node(b, p->right, analyze, &R);
  const tsr__sql_plan *lp = p->left, *rp = p->right;
  int nk = p->nkeys;
  int *lk = new_map(b, nk + 1), *rk = new_map(b, nk + 1);
  if (st == TSR_OK && (lk == NULL || rk == NULL))
    st = TSR_ENOMEM;
  bool cross = p->join == SQL_JOIN_CROSS || (p->join == SQL_JOIN_INNER && nk == 0);
  bool asof = p->join == SQL_JOIN_ASOF;
  for (int i = 0; i < nk && st == TSR_OK; i++) {
    st = column_of(b, &L, lp->ncols, lp->cols, p->left_keys[i], &lk[i]);
    if (st == TSR_OK)
      st = column_of(b, &R, rp->ncols, rp->cols, p->right_keys[i], &rk[i]);
  }
  if (st == TSR_OK && cross) {
    st = constant_column(b, &L, &lk[0]);
    if (st == TSR_OK)
      st = constant_column(b, &R, &rk[0]);
    nk = 1;
  }
  /* SQL columns whose values a key column would lose: the non-preserved
   * side's keys in outer joins (null where unmatched), the right's keys in
   * as-of joins (not in the output); they are read from copies. */
  int *lmap = new_map(b, lp->ncols), *rmap = new_map(b, rp->ncols);
  if (st == TSR_OK && (lmap == NULL || rmap == NULL))
    st = TSR_ENOMEM;
  if (st == TSR_OK) {
    memcpy(lmap, L.colmap, (size_t)lp->ncols * sizeof *lmap);
    memcpy(rmap, R.colmap, (size_t)rp->ncols * sizeof *rmap);
  }
  bool copy_left = !p->using_join && (p->join == SQL_JOIN_RIGHT || p->join == SQL_JOIN_FULL);
  bool copy_right =
      asof || (!p->using_join && (p->join == SQL_JOIN_LEFT || p->join == SQL_JOIN_FULL));
  int lon = -1, ron = -1;
  if (st == TSR_OK && asof) {
    st = column_of(b, &L, lp->ncols, lp->cols, p->asof_left_on, &lon);
    if (st == TSR_OK)
      st = column_of(b, &R, rp->ncols, rp->cols, p->asof_right_on, &ron);
  }
  for (int i = 0; i < lp->ncols && st == TSR_OK && copy_left; i++)
    for (int k = 0; k < nk; k++)
      if (lmap[i] == lk[k]) {
        st = copy_column(b, &L, lmap[i], &lmap[i]);
        break;
      }
  for (int i = 0; i < rp->ncols && st == TSR_OK && copy_right; i++) {
    bool is_key = rmap[i] == ron;
    for (int k = 0; k < nk; k++)
      is_key |= rmap[i] == rk[k];
    if (is_key)
      st = copy_column(b, &R, rmap[i], &rmap[i]);
  }
  /* a right or full join's key column holds both sides' values: one type */
  for (int k = 0; k < nk && st == TSR_OK && (p->join == SQL_JOIN_RIGHT || p->join == SQL_JOIN_FULL);
       k++) {
    tsr_type tl = tsr_frame_col_type(L.f, lk[k]), tr = tsr_frame_col_type(R.f, rk[k]), t;
    if (tl.id == tr.id && tl.unit == tr.unit)
      continue;
    st = union_type("join key", k, tl, tr, &t);
    for (int side = 0; side < 2 && st == TSR_OK; side++) {
      run *x = side ? &R : &L;
      int col = side ? rk[k] : lk[k];
      tsr_type have = side ? tr : tl;
      if (have.id == t.id && have.unit == t.unit)
        continue;
      tsr_frame *next = NULL;
      st = advance(x, tsr_frame_cast(x->f, tsr_frame_col_name(x->f, col), t, &next), &next);
    }
  }
  int marker = -1; /* inner as-of: a right column never null, to drop unmatched rows */
  if (st == TSR_OK && asof && !p->asof_left)
    st = constant_column(b, &R, &marker);
  if (st != TSR_OK) {
    tsr_frame_destroy(&L.f);
    tsr_frame_destroy(&R.f);
    return st;
  }
  int nl = tsr_frame_ncols(L.f), nr = tsr_frame_ncols(R.f);
  const char **lon_names = tsr__query_arena_alloc(b->arena, (size_t)(nk + 1) * sizeof(char *));
  const char **ron_names = tsr__query_arena_alloc(b->arena, (size_t)(nk + 1) * sizeof(char *));
  int *lpos = new_map(b, nl), *rpos = new_map(b, nr);
  if (lon_names == NULL || ron_names == NULL || lpos == NULL || rpos == NULL)
    st = TSR_ENOMEM;
  tsr_frame *out = NULL;
  if (st == TSR_OK) {
    for (int k = 0; k < nk; k++) {
      lon_names[k] = tsr_frame_col_name(L.f, lk[k]);
      ron_names[k] = tsr_frame_col_name(R.f, rk[k]);
    }
    /* where each input column lands (join.c's layout) */
    int n = 0;
    for (int i = 0; i < nl; i++)
      lpos[i] = -1;
    for (int i = 0; i < nr; i++)
      rpos[i] = -1;
    bool left_first = asof || p->join == SQL_JOIN_SEMI || p->join == SQL_JOIN_ANTI;
    if (left_first) {
      for (int i = 0; i < nl; i++)
        lpos[i] = n++;
    } else {
      for (int k = 0; k < nk; k++) {
        if (lpos[lk[k]] < 0)
          lpos[lk[k]] = n++;
        rpos[rk[k]] = lpos[lk[k]];
      }
      for (int i = 0; i < nl; i++)
        if (lpos[i] < 0)
          lpos[i] = n++;
    }
    for (int i = 0; i < nr; i++) {
      bool key = asof ? i == ron : false;
      for (int k = 0; k < nk; k++)
        key |= rk[k] == i;
      if (!key)
        rpos[i] = n++;
    }
  }
  if (st == TSR_OK && asof) {
    tsr_asof_options o;
    memset(&o, 0, sizeof o);
    o.right_on = tsr_frame_col_name(R.f, ron);
    o.nby = nk;
    o.left_by = lon_names;
    o.right_by = ron_names;
    o.suffix_left = "#l";
    o.suffix_right = "#r";
    st = tsr_frame_join_asof(L.f, R.f, tsr_frame_col_name(L.f, lon), &o, &out);
  } else if (st == TSR_OK) {
    static const tsr_join_kind kinds[] = {
        [SQL_JOIN_INNER] = TSR_JOIN_INNER, [SQL_JOIN_LEFT] = TSR_JOIN_LEFT,
        [SQL_JOIN_RIGHT] = TSR_JOIN_RIGHT, [SQL_JOIN_FULL] = TSR_JOIN_FULL,
        [SQL_JOIN_SEMI] = TSR_JOIN_SEMI,   [SQL_JOIN_ANTI] = TSR_JOIN_ANTI,
        [SQL_JOIN_CROSS] = TSR_JOIN_INNER,
    };
    /* a name an earlier join suffixed ("k#r") may meet the same suffix again: the
     * statement's first join suffixes "#l" / "#r", the n-th "#l<n>" / "#r<n>" */
    char sl[24] = "#l", sr[24] = "#r";
    if (b->njoins++ > 0) {
      snprintf(sl, sizeof sl, "#l%d", b->njoins);
      snprintf(sr, sizeof sr, "#r%d", b->njoins);
    }
    tsr_join_options o = {.suffix_left = sl, .suffix_right = sr};
    st = tsr_frame_join(L.f, R.f, kinds[p->join], nk, lon_names, ron_names, &o, &out);
  }
  if (st == TSR_OK) {
    int *map = new_map(b, p->ncols);
    if (map == NULL)
      st = TSR_ENOMEM;
    for (int i = 0; i < lp->ncols && st == TSR_OK; i++)
      map[i] = lpos[lmap[i]];
    for (int i = 0; i < p->ncols - lp->ncols && st == TSR_OK; i++)
      map[lp->ncols + i] = rpos[rmap[i]];
    r->f = out;
    r->colmap = map;
    out = NULL;
    if (st == TSR_OK && marker >= 0) {
      /* the rows whose right side matched */
      tsr__colprog *prog = NULL;
      tsr_frame *next = NULL;
      int v;
      st = tsr__colprog_create(r->f, &prog);
      if (st == TSR_OK)
        st = tsr__colprog_column(prog, rpos[marker], &v);
      if (st == TSR_OK)
        st = tsr__colprog_unary(prog, TSR__CP_IS_NULL, v, &v);
      if (st == TSR_OK)
        st = tsr__colprog_unary(prog, TSR__CP_NOT, v, &v);
      if (st == TSR_OK)
        st = tsr__frame_filter_prog(r->f, prog, v, &next);
      tsr__colprog_destroy(&prog);
      st = advance(r, st, &next);
    }
  }
  tsr_frame_destroy(&out);
  tsr_frame_destroy(&L.f);
  tsr_frame_destroy(&R.f);
  if (st == TSR_OK && p->pred != NULL)
    st = exec_filter(b, p, p->ncols, p->cols, r);
  return st;
}

/* ---- set operations ---------------------------------------------------------------------- */

static bool is_int(tsr_coltype t) { return t >= TSR_COL_INT8 && t <= TSR_COL_UINT64; }
static bool is_num(tsr_coltype t) {
  return is_int(t) || t == TSR_COL_FLOAT32 || t == TSR_COL_FLOAT64;
}

/* The type both sides of a UNION column or of a right or full join's key
 * become: equal types stay, strings and dictionaries give strings, numbers
 * promote. */
static tsr_status union_type(const char *what, int col, tsr_type a, tsr_type c, tsr_type *out) {
  if (a.id == c.id && a.unit == c.unit) {
    *out = a;
    return TSR_OK;
  }
  if ((a.id == TSR_COL_STRING || a.id == TSR_COL_DICT) &&
      (c.id == TSR_COL_STRING || c.id == TSR_COL_DICT)) {
    *out = (tsr_type){TSR_COL_STRING, 0};
    return TSR_OK;
  }
  if (is_num(a.id) && is_num(c.id)) {
    tsr_dtype d;
    TSR_TRY(tsr_dtype_promote(tsr_type_dtype(a), tsr_type_dtype(c), &d));
    for (int t = TSR_COL_INT8; t <= TSR_COL_FLOAT64; t++)
      if (tsr_type_dtype((tsr_type){(tsr_coltype)t, 0}) == d) {
        *out = (tsr_type){(tsr_coltype)t, 0};
        return TSR_OK;
      }
  }
  return tsr_error_set(TSR_EDTYPE, "%s %d is %s on the left and %s on the right", what, col + 1,
                       tsr_type_name(a), tsr_type_name(c));
}

static tsr_status exec_union(tsr__sql_binder *b, tsr__sql_plan *p, bool analyze, run *r) {
  tsr_frame *side[2] = {NULL, NULL};
  tsr_status st = tsr__sql_exec_result(b, p->left, analyze, &side[0]);
  if (st == TSR_OK)
    st = tsr__sql_exec_result(b, p->right, analyze, &side[1]);
  for (int i = 0; i < p->ncols && st == TSR_OK; i++) {
    tsr_type t;
    st = union_type("UNION: column", i, tsr_frame_col_type(side[0], i),
                    tsr_frame_col_type(side[1], i), &t);
    for (int s = 0; s < 2 && st == TSR_OK; s++) {
      tsr_type have = tsr_frame_col_type(side[s], i);
      if (have.id == t.id && have.unit == t.unit)
        continue;
      tsr_frame *next = NULL;
      st = tsr_frame_cast(side[s], tsr_frame_col_name(side[s], i), t, &next);
      if (st == TSR_OK) {
        tsr_frame_destroy(&side[s]);
        side[s] = next;
      }
    }
    const char *want = tsr_frame_col_name(side[0], i), *have = tsr_frame_col_name(side[1], i);
    if (st == TSR_OK && strcmp(want, have) != 0) {
      /* the right takes the left's names (after its own columns are out of the way) */
      char tmp[32];
      tsr_frame *next = NULL;
      int clash = tsr_frame_col_index(side[1], want);
      if (clash >= 0) {
        temp_name(b, tmp, sizeof tmp);
        st = tsr_frame_rename(side[1], want, tmp, &next);
        if (st == TSR_OK) {
          tsr_frame_destroy(&side[1]);
          side[1] = next;
        }
      }
      if (st == TSR_OK)
        st = tsr_frame_rename(side[1], tsr_frame_col_name(side[1], i), want, &next);
      if (st == TSR_OK) {
        tsr_frame_destroy(&side[1]);
        side[1] = next;
      }
    }
  }
  tsr_frame *out = NULL;
  if (st == TSR_OK)
    st = tsr_frame_concat(2, side, &out);
  tsr_frame_destroy(&side[0]);
  tsr_frame_destroy(&side[1]);
  if (st == TSR_OK && p->distinct) {
    tsr_frame *next = NULL;
    st = tsr_frame_distinct(out, 0, NULL, &next);
    tsr_frame_destroy(&out);
    out = next;
  }
  if (st != TSR_OK)
    return st;
  r->f = out;
  return identity_map(b, p->ncols, r);
}

/* ---- the tree ---------------------------------------------------------------------------- */

static tsr_status one_row(tsr__sql_binder *b, run *r) {
  static const int8_t zero = 0;
  char name[32];
  temp_name(b, name, sizeof name);
  tsr_column_data c = {.name = name, .type = {TSR_COL_INT8, 0}, .length = 1, .values = &zero};
  r->colmap = new_map(b, 0);
  if (r->colmap == NULL)
    return TSR_ENOMEM;
  return tsr_frame_from_columns(b->ctx, 1, &c, 0, TSR_BUFFER_COPY, NULL, NULL, &r->f);
}

/* A pushed WHERE compiled over the frame the CSV reader hands (csv_where.h). */
typedef struct where_arg {
  tsr__sql_binder *b;
  const tsr__sql_plan *p;
  const int *colmap;
} where_arg;

static tsr_status build_where(void *arg, tsr_frame *f, tsr__colprog **prog, int *v) {
  const where_arg *w = arg;
  TSR_TRY(tsr__colprog_create(f, prog));
  tsr_status st =
      tsr__sql_compile(w->b, *prog, w->p->ncols, w->p->cols, w->colmap, w->p->pushed, v);
  if (st == TSR_OK) {
    tsr_type t;
    st = tsr__colprog_check(*prog, *v, true, &t);
    if (st != TSR_OK && st != TSR_ENOMEM)
      st = tsr__query_fail(w->b->source, w->p->pushed->pos, st, "%s", tsr_last_error());
  }
  if (st != TSR_OK)
    tsr__colprog_destroy(prog);
  return st;
}

/* A table: a frame the binder holds, or a file opened now with the used
 * columns alone (the others map to -1); a pushed WHERE's columns are read
 * too, then dropped. */
static tsr_status exec_scan(tsr__sql_binder *b, tsr__sql_plan *p, run *r) {
  if (p->path == NULL) {
    TSR_TRY(identity_map(b, p->ncols, r));
    return frame_copy(b, p->frame, &r->f);
  }
  r->colmap = new_map(b, p->ncols);
  bool *read = tsr__query_arena_alloc(b->arena, (size_t)(p->ncols + 1) * sizeof *read);
  if (r->colmap == NULL || read == NULL)
    return TSR_ENOMEM;
  size_t len = 1;
  int nread = 0, nused = 0;
  bool listable = true;
  for (int i = 0; i < p->ncols; i++) {
    bool used = p->used == NULL || p->used[i];
    read[i] = used || (p->pushed_used != NULL && p->pushed_used[i]);
    nused += used;
    if (read[i]) {
      len += strlen(p->cols[i].name) + 1;
      nread++;
      listable &= strchr(p->cols[i].name, ',') == NULL;
    }
  }
  char *columns = NULL;
  if (listable && nread < p->ncols) {
    if (nread == 0) /* count(*): the narrowest column would do; the first is read */
      p->used[0] = read[0] = true, nused = nread = 1, len += strlen(p->cols[0].name) + 1;
    columns = tsr__query_arena_alloc(b->arena, len);
    if (columns == NULL)
      return TSR_ENOMEM;
    columns[0] = '\0';
  }
  int k = 0;
  for (int i = 0; i < p->ncols; i++) {
    bool rd = columns == NULL || read[i];
    r->colmap[i] = rd ? k++ : -1;
    if (rd && columns != NULL) {
      if (columns[0] != '\0')
        strcat(columns, ",");
      strcat(columns, p->cols[i].name);
    }
  }
  if (p->pushed == NULL)
    return tsr__sql_open_path(b->ctx, p->path, columns, &r->f);
  tsr_csv_options o;
  memset(&o, 0, sizeof o);
  o.columns = columns;
  where_arg w = {b, p, r->colmap};
  tsr__csv_where where = {build_where, &w};
  TSR_TRY(tsr__frame_read_csv_where(b->ctx, p->path, &o, &where, &r->f));
  if (columns == NULL || nused == 0 || nused == nread)
    return TSR_OK;
  /* the columns only the pushed WHERE read are dropped */
  const char **names = tsr__query_arena_alloc(b->arena, (size_t)(nused + 1) * sizeof *names);
  if (names == NULL)
    return TSR_ENOMEM;
  k = 0;
  for (int i = 0; i < p->ncols; i++) {
    if (r->colmap[i] < 0)
      continue;
    if (!p->used[i]) {
      r->colmap[i] = -1;
      continue;
    }
    names[k] = tsr_frame_col_name(r->f, r->colmap[i]);
    r->colmap[i] = k++;
  }
  tsr_frame *next = NULL;
  return advance(r, tsr_frame_select(r->f, nused, names, &next), &next);
}

static tsr_status exec_node(tsr__sql_binder *b, tsr__sql_plan *p, bool analyze, run *r) {
  double t0 = analyze ? now() : 0;
  tsr_status st = TSR_OK;
  tsr_frame *next = NULL;
  r->f = NULL;
  switch (p->kind) {
  case SQL_P_SCAN:
    st = exec_scan(b, p, r);
    break;
  case SQL_P_ONE_ROW:
    st = one_row(b, r);
    break;
  case SQL_P_JOIN:
    st = exec_join(b, p, analyze, r);
    break;
  case SQL_P_UNION:
    st = exec_union(b, p, analyze, r);
    break;
  case SQL_P_LIMIT:
    st = exec_limit(b, p, analyze, r);
    break;
  default:
    st = exec_node(b, p->left, analyze, r);
    if (st != TSR_OK)
      break;
    switch (p->kind) {
    case SQL_P_FILTER:
      st = exec_filter(b, p, p->left->ncols, p->left->cols, r);
      break;
    case SQL_P_PROJECT:
      st = exec_project(b, p, r);
      break;
    case SQL_P_AGGREGATE:
      st = exec_aggregate(b, p, r);
      break;
    case SQL_P_WINDOW:
      st = exec_window(b, p, r);
      break;
    case SQL_P_SORT: {
      tsr_sort_key *keys;
      st = sort_keys(b, p, r, &keys);
      if (st == TSR_OK)
        st = advance(r, tsr_frame_sort(r->f, p->nsort, keys, &next), &next);
      break;
    }
    case SQL_P_DISTINCT: {
      const char **names = tsr__query_arena_alloc(b->arena, (size_t)(p->ncols + 1) * sizeof *names);
      int n = 0;
      if (names == NULL) {
        st = TSR_ENOMEM;
        break;
      }
      for (int i = 0; i < p->ncols; i++) {
        const char *nm = tsr_frame_col_name(r->f, r->colmap[i]);
        bool seen = false;
        for (int k = 0; k < n; k++)
          seen |= strcmp(names[k], nm) == 0;
        if (!seen)
          names[n++] = nm;
      }
      st = advance(r, tsr_frame_distinct(r->f, n, names, &next), &next);
      break;
    }
    default:
      st = tsr_error_set(TSR_EINVAL, "SQL plan: unknown operator %d", (int)p->kind);
    }
  }
  if (st == TSR_OK && analyze) {
    /* every operator computed on its own, to time it */
    st = advance(r, tsr_frame_persist(r->f, NULL, &next), &next);
    if (st == TSR_OK)
      st = tsr_frame_nrows(r->f, &p->rows);
    p->seconds = now() - t0;
  }
  if (st != TSR_OK)
    tsr_frame_destroy(&r->f);
  return st;
}

tsr_status tsr__sql_exec(tsr__sql_binder *b, tsr__sql_plan *p, bool analyze, tsr_frame **out,
                         int **colmap) {
  run r = {0};
  TSR_TRY(exec_node(b, p, analyze, &r));
  *out = r.f;
  *colmap = r.colmap;
  return TSR_OK;
}

tsr_status tsr__sql_exec_result(tsr__sql_binder *b, tsr__sql_plan *p, bool analyze,
                                tsr_frame **out) {
  *out = NULL;
  run r = {0};
  TSR_TRY(exec_node(b, p, analyze, &r));
  int n = p->ncols;
  int *cols = new_map(b, n);
  const char **names = tsr__query_arena_alloc(b->arena, (size_t)(n + 1) * sizeof *names);
  tsr_status st = cols && names ? TSR_OK : TSR_ENOMEM;
  if (st == TSR_OK) {
    memcpy(cols, r.colmap, (size_t)n * sizeof *cols);
    st = select_columns(b, &r, n, cols);
  }
  /* SQL's names, made distinct ("x", "x_1", ...) */
  for (int i = 0; i < n && st == TSR_OK; i++) {
    const char *base = p->cols[i].name ? p->cols[i].name : "?column?";
    char *name = NULL;
    for (int k = 0; st == TSR_OK; k++) {
      size_t len = strlen(base) + 24;
      name = tsr__query_arena_alloc(b->arena, len);
      if (name == NULL) {
        st = TSR_ENOMEM;
        break;
      }
      if (k == 0)
        snprintf(name, len, "%s", base);
      else
        snprintf(name, len, "%s_%d", base, k);
      bool taken = false;
      for (int q = 0; q < i; q++)
        taken |= strcmp(names[q], name) == 0;
      if (!taken)
        break;
    }
    names[i] = name;
  }
  /* renamed in two steps, so that no name is held twice in between */
  for (int pass = 0; pass < 2 && st == TSR_OK; pass++)
    for (int i = 0; i < n && st == TSR_OK; i++) {
      const char *have = tsr_frame_col_name(r.f, i);
      char tmp[40];
      snprintf(tmp, sizeof tmp, "__sqlout%d", i);
      const char *want = pass == 0 ? tmp : names[i];
      if (strcmp(have, names[i]) == 0 || strcmp(have, want) == 0)
        continue;
      tsr_frame *next = NULL;
      st = advance(&r, tsr_frame_rename(r.f, have, want, &next), &next);
    }
  if (st != TSR_OK) {
    tsr_frame_destroy(&r.f);
    return st;
  }
  *out = r.f;
  return TSR_OK;
}
