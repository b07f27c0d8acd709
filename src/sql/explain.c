/* explain.c — EXPLAIN: a plan as an indented tree, one operator per line,
 * with its expressions as written in the query, the estimated rows of
 * scans and joins (the join order's inputs), and the join order chosen.
 * After EXPLAIN ANALYZE each line ends with the operator's time (its
 * inputs' excluded) and rows. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "plan.h"

typedef struct text {
  char *s;
  size_t len, cap;
  tsr_status st;
} text;

static void add(text *t, const char *fmt, ...) TSR_PRINTF(2, 3);
static void add(text *t, const char *fmt, ...) {
  if (t->st != TSR_OK)
    return;
  va_list ap;
  va_start(ap, fmt);
  char buf[512];
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  size_t m = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
  if (t->len + m + 1 > t->cap) {
    size_t cap = (t->len + m + 1) * 2;
    char *s = realloc(t->s, cap);
    if (s == NULL) {
      t->st = tsr_error_set(TSR_ENOMEM, "EXPLAIN: out of memory");
      return;
    }
    t->s = s;
    t->cap = cap;
  }
  memcpy(t->s + t->len, buf, m);
  t->len += m;
  t->s[t->len] = '\0';
}

static void expr(text *t, const tsr__sql_binder *b, const tsr__sql_expr *e) {
  int len = e->end - e->pos;
  if (e->kind == SQL_E_FUNC && (e->name == tsr__sql_largest || e->name == tsr__sql_smallest)) {
    add(t, "%s(", e->name + 1); /* the top-n-per-group rewrite's */
    expr(t, b, e->args[0]);
    add(t, ", %lld)", (long long)e->args[1]->int_value);
    return;
  }
  if (len <= 0 && e->kind == SQL_E_COLUMN) /* made by the binder */
    add(t, "%s%s%s", e->qualifier.name ? e->qualifier.name : "", e->qualifier.name ? "." : "",
        e->column.name);
  else
    add(t, "%.*s", len > 200 ? 200 : len, b->source + e->pos);
}

static void exprs(text *t, const tsr__sql_binder *b, const tsr__sql_expr *const *es, int n) {
  for (int i = 0; i < n; i++) {
    if (i)
      add(t, ", ");
    expr(t, b, es[i]);
  }
}

static const char *join_name(tsr__sql_join_kind k) {
  static const char *names[] = {"INNER", "LEFT", "RIGHT", "FULL", "SEMI", "ANTI", "CROSS", "ASOF"};
  return (unsigned)k < sizeof names / sizeof names[0] ? names[k] : "?";
}

static double child_seconds(const tsr__sql_plan *p) {
  double s = 0;
  if (p->left)
    s += p->left->seconds;
  if (p->right)
    s += p->right->seconds;
  return s;
}

void tsr__sql_rows_text(int64_t rows, char buf[32]) {
  if (rows < 10000) {
    snprintf(buf, 32, "~%lld rows", (long long)rows);
    return;
  }
  double m = (double)rows;
  int e = 0;
  while (m >= 10) {
    m /= 10;
    e++;
  }
  if (m >= 9.95) { /* "%.1f" would round it to 10.0 */
    m /= 10;
    e++;
  }
  snprintf(buf, 32, "~%.1fe%d rows", m, e);
}

static void add_estimate(text *t, const tsr__sql_plan *p) {
  int64_t est = tsr__sql_estimate_rows(p);
  if (est < 0)
    return;
  char buf[32];
  tsr__sql_rows_text(est, buf);
  add(t, " (%s)", buf);
}

static void walk(text *t, const tsr__sql_binder *b, const tsr__sql_plan *p, int depth,
                 bool analyzed) {
  for (int i = 0; i < depth; i++)
    add(t, "  ");
  switch (p->kind) {
  case SQL_P_SCAN:
    add(t, "SCAN %s (", p->label ? p->label : "?");
    if (p->path != NULL && p->used != NULL) {
      /* a pushed filter's columns are read too */
      int nread = 0;
      for (int i = 0; i < p->ncols; i++)
        nread += p->used[i] || (p->pushed_used && p->pushed_used[i]);
      if (nread < p->ncols) {
        add(t, "%d of %d columns read:", nread, p->ncols);
        for (int i = 0, k = 0; i < p->ncols; i++)
          if (p->used[i] || (p->pushed_used && p->pushed_used[i]))
            add(t, "%s %s", k++ ? "," : "", p->cols[i].name);
      } else
        add(t, "%d columns", p->ncols);
    } else
      add(t, "%d columns", p->ncols);
    if (p->frame && tsr_frame_nrows_known(p->frame) >= 0)
      add(t, ", %lld rows", (long long)tsr_frame_nrows_known(p->frame));
    else if (p->est_rows >= 0) {
      char buf[32];
      tsr__sql_rows_text(p->est_rows, buf);
      add(t, "; %s", buf);
    }
    add(t, ")");
    if (p->pushed != NULL) {
      add(t, " filter: ");
      expr(t, b, p->pushed);
    }
    break;
  case SQL_P_ONE_ROW:
    add(t, "ONE ROW");
    break;
  case SQL_P_FILTER:
    add(t, "FILTER ");
    expr(t, b, p->pred);
    break;
  case SQL_P_PROJECT:
    add(t, "PROJECT ");
    for (int i = 0; i < p->ncols; i++) {
      if (i)
        add(t, ", ");
      if (p->exprs[i] == NULL)
        add(t, "#%d", p->pick[i] + 1);
      else
        expr(t, b, p->exprs[i]);
      if (p->cols[i].name && p->exprs[i] && p->exprs[i]->kind != SQL_E_COLUMN)
        add(t, " AS %s", p->cols[i].name);
    }
    if (p->note != NULL)
      add(t, " [written column order; %s]", p->note);
    break;
  case SQL_P_AGGREGATE:
    add(t, "AGGREGATE keys [");
    exprs(t, b, p->exprs, p->nkeys);
    add(t, "] aggregates [");
    exprs(t, b, p->exprs + p->nkeys, p->nexprs - p->nkeys);
    add(t, "]");
    break;
  case SQL_P_WINDOW:
    add(t, "WINDOW ");
    expr(t, b, p->exprs[0]);
    break;
  case SQL_P_JOIN:
    add(t, "%s%s JOIN", join_name(p->join),
        p->join == SQL_JOIN_ASOF && p->asof_left ? " LEFT" : "");
    if (p->nkeys > 0) {
      add(t, " on [");
      for (int i = 0; i < p->nkeys; i++) {
        if (i)
          add(t, ", ");
        expr(t, b, p->left_keys[i]);
        add(t, " = ");
        expr(t, b, p->right_keys[i]);
      }
      add(t, "]");
    }
    if (p->asof_left_on) {
      add(t, " as of ");
      expr(t, b, p->asof_left_on);
      add(t, " >= ");
      expr(t, b, p->asof_right_on);
    }
    if (p->pred) {
      add(t, " filter ");
      expr(t, b, p->pred);
    }
    add_estimate(t, p);
    break;
  case SQL_P_SORT:
    add(t, "SORT");
    for (int i = 0; i < p->nsort; i++)
      add(t, "%s #%d%s%s", i ? "," : "", p->sort[i].col + 1, p->sort[i].descending ? " DESC" : "",
          p->sort[i].nulls_first ? " NULLS FIRST" : "");
    break;
  case SQL_P_LIMIT:
    if (p->left->kind == SQL_P_SORT && p->limit >= 0)
      add(t, "TOP-K %lld (sort below runs as top-k)", (long long)(p->limit + p->offset));
    else
      add(t, "LIMIT");
    if (p->limit >= 0)
      add(t, " limit %lld", (long long)p->limit);
    if (p->offset > 0)
      add(t, " offset %lld", (long long)p->offset);
    break;
  case SQL_P_DISTINCT:
    add(t, "DISTINCT");
    break;
  case SQL_P_UNION:
    add(t, "UNION%s", p->distinct ? "" : " ALL");
    break;
  }
  if (analyzed && p->rows >= 0)
    add(t, "  [%.3f s, %lld rows]", p->seconds - child_seconds(p), (long long)p->rows);
  add(t, "\n");
  if (p->left)
    walk(t, b, p->left, depth + 1, analyzed);
  if (p->right)
    walk(t, b, p->right, depth + 1, analyzed);
}

tsr_status tsr__sql_explain(const tsr__sql_binder *b, const tsr__sql_plan *p, bool analyzed,
                            char **out, size_t *len) {
  text t = {0};
  walk(&t, b, p, 0, analyzed);
  if (t.st != TSR_OK) {
    free(t.s);
    return t.st;
  }
  *out = t.s;
  *len = t.len;
  return TSR_OK;
}
