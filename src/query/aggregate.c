/* aggregate.c — tsr_frame_aggregate (query.h): a group-by whose aggregates
 * are given as text, with expressions of aggregates.
 *
 * The text is split by the language's lexer (lexer.c) and parsed by
 * recursive descent into a small tree per item (arena memory).  Aggregate
 * calls become the leaves of kind AN_AGG: each names an entry of a list of
 * tsr_agg (identical calls share one entry), which tsr_frame_groupby
 * computes under internal column names.  Each item is then a column
 * expression over the group-by's result: a bare aggregate is renamed, any
 * other item is built as a column program (frame/colprog.h) over the
 * result's columns with the types and rules of tsr_frame_assign (errors
 * point into the caller's text).  The group-by is computed and held in
 * memory when the call returns, as every pipeline breaker's; the items'
 * expressions over it stay lazy columns, computed in the caller's next
 * compute with whatever follows them (one pass, no copy of the result).
 *
 * Grammar (colexpr.c's, plus items and aggregate calls):
 *   list    := item (',' item)*
 *   item    := [NAME '='] expr [('as' | 'AS') NAME]
 *   expr    := and_ ('or' and_)*  ... as colexpr.c down to
 *   atom    := NUMBER | STRING | true | false | null | KEY
 *            | AGG '(' args ')' | FUNCTION '(' expr (',' expr)* ')' | '(' expr ')'
 * where KEY is a group key's name and AGG an aggregate function (table
 * below), whose arguments are column names (and a literal q or n). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame/colprog.h"
#include "query_impl.h"

#define MAX_DEPTH 200

/* ---- aggregate functions ------------------------------------------------ */

typedef enum aargs {
  A_COL = 0, /* f(x) */
  A_COL2,    /* f(x, y) */
  A_COLQ,    /* quantile_cont(x, q | [q, ...]) */
  A_COLN,    /* largest(x, n) */
  A_COUNT,   /* count(*), count(x), count(DISTINCT x) */
  A_NONE,    /* count_star() */
} aargs;

static const struct {
  const char *name;
  tsr_agg_op op;
  aargs args;
  int ddof;
} agg_fns[] = {
    {"count", TSR_AGG_COUNT, A_COUNT, 0},
    {"count_star", TSR_AGG_COUNT_ALL, A_NONE, 0},
    {"sum", TSR_AGG_SUM, A_COL, 0},
    {"avg", TSR_AGG_MEAN, A_COL, 0},
    {"mean", TSR_AGG_MEAN, A_COL, 0},
    {"min", TSR_AGG_MIN, A_COL, 0},
    {"max", TSR_AGG_MAX, A_COL, 0},
    {"var", TSR_AGG_VAR, A_COL, 1},
    {"var_samp", TSR_AGG_VAR, A_COL, 1},
    {"variance", TSR_AGG_VAR, A_COL, 1},
    {"var_pop", TSR_AGG_VAR, A_COL, 0},
    {"stddev", TSR_AGG_STD, A_COL, 1},
    {"stddev_samp", TSR_AGG_STD, A_COL, 1},
    {"std", TSR_AGG_STD, A_COL, 1},
    {"stddev_pop", TSR_AGG_STD, A_COL, 0},
    {"median", TSR_AGG_MEDIAN, A_COL, 0},
    {"quantile_cont", TSR_AGG_QUANTILE, A_COLQ, 0},
    {"first", TSR_AGG_FIRST, A_COL, 0},
    {"last", TSR_AGG_LAST, A_COL, 0},
    {"nunique", TSR_AGG_NUNIQUE, A_COL, 0},
    {"corr", TSR_AGG_CORR, A_COL2, 0},
    {"covar_samp", TSR_AGG_COVAR_SAMP, A_COL2, 0},
    {"covar_pop", TSR_AGG_COVAR_POP, A_COL2, 0},
    {"bool_or", TSR_AGG_ANY, A_COL, 0},
    {"any", TSR_AGG_ANY, A_COL, 0},
    {"bool_and", TSR_AGG_ALL, A_COL, 0},
    {"all", TSR_AGG_ALL, A_COL, 0},
    {"largest", TSR_AGG_LARGEST, A_COLN, 0},
    {"smallest", TSR_AGG_SMALLEST, A_COLN, 0},
};
#define N_AGG_FNS ((int)(sizeof agg_fns / sizeof agg_fns[0]))

/* ---- tree --------------------------------------------------------------- */

typedef enum akind {
  AN_NUM = 0, /* tok */
  AN_STR,     /* tok */
  AN_BOOL,    /* bval */
  AN_NULL,
  AN_KEY,   /* text: a key column */
  AN_AGG,   /* agg: first entry; nq entries (a quantile list) */
  AN_UNARY, /* op (NEG, NOT) a */
  AN_BINARY,
  AN_CALL, /* op, text: the function as written (lower case); a [, b] */
} akind;

typedef struct anode anode;
struct anode {
  akind kind;
  int op;          /* tsr__cp_op */
  int32_t pos;     /* start of the span */
  int32_t end;     /* end of the span */
  int32_t op_pos;  /* where errors point */
  const tsr__qtoken *tok;
  bool bval;
  int agg, nq;
  bool is_list; /* AN_AGG: quantile_cont(x, [q, ...]): a column per q */
  const char *text;
  const char *name; /* the item's DuckDB-style name of this node */
  anode *a, *b;
};

typedef struct aitem {
  const char *name; /* final name (given, or DuckDB's) */
  anode *root;
  int32_t pos;
  bool named;
} aitem;

typedef struct aparser {
  tsr__qarena arena;
  const char *src;
  tsr__qtoken *toks;
  int32_t at;
  int depth;
  tsr_frame *f;
  int nkeys;
  const char *const *keys;
  tsr_agg *aggs;
  int naggs, cap_aggs;
  aitem *items;
  int nitems, cap_items;
  char prefix[16]; /* internal names of the aggregates: prefix + index */
} aparser;

static tsr__qtoken *peek(aparser *p) { return &p->toks[p->at]; }
static tsr__qtoken *advance(aparser *p) {
  tsr__qtoken *t = &p->toks[p->at];
  if (t->kind != QT_EOF)
    p->at++;
  return t;
}
static int32_t tok_end(const tsr__qtoken *t) { return t->pos + t->len; }

/* A keyword as written, or in capitals. */
static bool is_kw(const tsr__qtoken *t, const char *kw) {
  if (t->kind != QT_NAME)
    return false;
  if (strcmp(t->text, kw) == 0)
    return true;
  size_t n = strlen(kw);
  if (strlen(t->text) != n)
    return false;
  for (size_t i = 0; i < n; i++)
    if (t->text[i] != kw[i] - ('a' <= kw[i] && kw[i] <= 'z' ? 32 : 0))
      return false;
  return true;
}

static tsr_status expected(aparser *p, const char *what) {
  tsr__qtoken *t = peek(p);
  char tok[96];
  if (t->kind == QT_NAME || t->kind == QT_NUMBER || t->kind == QT_STRING || t->kind == QT_QNAME)
    snprintf(tok, sizeof tok, "%s '%.*s'", tsr__query_token_desc(t->kind),
             t->len > 40 ? 40 : (int)t->len, p->src + t->pos);
  else
    snprintf(tok, sizeof tok, "%s", tsr__query_token_desc(t->kind));
  return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "expected %s, found %s", what, tok);
}

static anode *node_new(aparser *p, akind kind, int32_t pos, int32_t end) {
  anode *n = tsr__query_arena_alloc(&p->arena, sizeof *n);
  if (n != NULL) {
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->pos = n->op_pos = pos;
    n->end = end;
  }
  return n;
}

/* printf into the arena. */
static const char *aprintf(aparser *p, const char *fmt, ...) TSR_PRINTF(2, 3);
static const char *aprintf(aparser *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  char *s = tsr__query_arena_alloc(&p->arena, (size_t)n + 1);
  if (s == NULL)
    return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return s;
}

static bool is_key(const aparser *p, const char *name) {
  for (int i = 0; i < p->nkeys; i++)
    if (strcmp(p->keys[i], name) == 0)
      return true;
  return false;
}

static tsr_status unknown_column(aparser *p, const tsr__qtoken *t) {
  int dummy;
  (void)tsr__frame_find(p->f, "", t->text, &dummy); /* sets the message with the list */
  char list[600];
  const char *paren = strstr(tsr_last_error(), "(the frame has");
  snprintf(list, sizeof list, "%s", paren ? paren : "");
  return tsr__query_fail(p->src, t->pos, TSR_EINVAL, "unknown column '%s' %s", t->text, list);
}

/* The aggregate function named by the (lower-cased) text, or -1. */
static int agg_fn_find(const char *lower) {
  for (int k = 0; k < N_AGG_FNS; k++)
    if (strcmp(agg_fns[k].name, lower) == 0)
      return k;
  return -1;
}

static const char *lower_dup(aparser *p, const char *s) {
  size_t n = strlen(s);
  char *d = tsr__query_arena_alloc(&p->arena, n + 1);
  if (d == NULL)
    return NULL;
  for (size_t i = 0; i <= n; i++)
    d[i] = (char)('A' <= s[i] && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  return d;
}

/* The index of an aggregate equal to *a, adding it when new. */
static tsr_status agg_intern(aparser *p, const tsr_agg *a, int *index) {
  for (int i = 0; i < p->naggs; i++) {
    const tsr_agg *b = &p->aggs[i];
    if (b->op == a->op && (a->column == NULL) == (b->column == NULL) &&
        (a->column == NULL || strcmp(a->column, b->column) == 0) &&
        (a->column2 == NULL) == (b->column2 == NULL) &&
        (a->column2 == NULL || strcmp(a->column2, b->column2) == 0) && a->q == b->q &&
        a->ddof == b->ddof && a->n == b->n) {
      *index = i;
      return TSR_OK;
    }
  }
  if (p->naggs == p->cap_aggs) {
    int cap = p->cap_aggs ? 2 * p->cap_aggs : 8;
    tsr_agg *m = tsr__query_arena_alloc(&p->arena, (size_t)cap * sizeof *m);
    if (m == NULL)
      return TSR_ENOMEM;
    if (p->naggs)
      memcpy(m, p->aggs, (size_t)p->naggs * sizeof *m);
    p->aggs = m;
    p->cap_aggs = cap;
  }
  p->aggs[p->naggs] = *a;
  p->aggs[p->naggs].name = aprintf(p, "%s%d", p->prefix, p->naggs);
  if (p->aggs[p->naggs].name == NULL)
    return TSR_ENOMEM;
  *index = p->naggs++;
  return TSR_OK;
}

/* A column argument of an aggregate: a name of the frame. */
static tsr_status agg_column(aparser *p, const char *fname, const tsr__qtoken **out) {
  tsr__qtoken *t = peek(p);
  if (t->kind == QT_NAME && p->toks[p->at + 1].kind == QT_LPAREN) {
    const char *l = lower_dup(p, t->text);
    if (l == NULL)
      return TSR_ENOMEM;
    if (agg_fn_find(l) >= 0)
      return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                             "aggregate calls do not nest: %s() inside %s()", l, fname);
  }
  if (t->kind != QT_NAME && t->kind != QT_QNAME)
    return expected(p, "a column name (an aggregate's arguments are columns)");
  if (p->toks[p->at + 1].kind != QT_COMMA && p->toks[p->at + 1].kind != QT_RPAREN) {
    advance(p);
    return expected(p, "',' or ')' (an aggregate's arguments are columns, not expressions)");
  }
  if (tsr_frame_col_index(p->f, t->text) < 0)
    return unknown_column(p, t);
  *out = advance(p);
  return TSR_OK;
}

static tsr_status expect(aparser *p, tsr__qtok_kind kind, const char *what) {
  if (peek(p)->kind != kind)
    return expected(p, what);
  advance(p);
  return TSR_OK;
}

/* A number literal (an optional '-' before it), as a double and its text. */
static tsr_status agg_number(aparser *p, const char *what, double *v, bool *is_int,
                             const char **text) {
  tsr__qtoken *t = peek(p);
  bool neg = false;
  if (t->kind == QT_MINUS) {
    neg = true;
    advance(p);
  }
  tsr__qtoken *n = peek(p);
  if (n->kind != QT_NUMBER)
    return expected(p, what);
  advance(p);
  *v = neg ? -n->fval : n->fval;
  *is_int = n->is_int && !n->is_uint;
  *text = tsr__query_arena_strndup(&p->arena, p->src + t->pos, (size_t)(tok_end(n) - t->pos));
  return *text ? TSR_OK : TSR_ENOMEM;
}

/* name '(' args ')' of aggregate function k; the name token is consumed. */
static tsr_status parse_agg(aparser *p, const tsr__qtoken *name, int k, const char *lname,
                            anode **out) {
  advance(p); /* '(' */
  tsr_agg a;
  memset(&a, 0, sizeof a);
  a.op = agg_fns[k].op;
  a.ddof = agg_fns[k].ddof;
  const tsr__qtoken *c1 = NULL, *c2 = NULL;
  const char *shown = NULL; /* DuckDB's name of the call */
  double qs[64];
  const char *qtexts[64];
  int nq = 1;
  bool list_given = false;
  /* DuckDB quotes the keywords among function names. */
  const char *fshown = !strcmp(lname, "first") || !strcmp(lname, "last") || !strcmp(lname, "any") ||
                               !strcmp(lname, "all")
                           ? aprintf(p, "\"%s\"", lname)
                           : lname;
  if (fshown == NULL)
    return TSR_ENOMEM;
  switch (agg_fns[k].args) {
  case A_NONE:
    shown = aprintf(p, "%s()", lname);
    break;
  case A_COUNT:
    if (peek(p)->kind == QT_STAR) {
      advance(p);
      a.op = TSR_AGG_COUNT_ALL;
      shown = "count_star()";
      break;
    }
    if (is_kw(peek(p), "distinct") && p->toks[p->at + 1].kind != QT_RPAREN &&
        p->toks[p->at + 1].kind != QT_COMMA) {
      advance(p);
      TSR_TRY(agg_column(p, lname, &c1));
      a.op = TSR_AGG_NUNIQUE;
      shown = aprintf(p, "count(DISTINCT %s)", c1->text);
      break;
    }
    TSR_TRY(agg_column(p, lname, &c1));
    shown = aprintf(p, "count(%s)", c1->text);
    break;
  case A_COL:
    TSR_TRY(agg_column(p, lname, &c1));
    shown = aprintf(p, "%s(%s)", fshown, c1->text);
    break;
  case A_COL2:
    TSR_TRY(agg_column(p, lname, &c1));
    TSR_TRY(expect(p, QT_COMMA, "',' and a second column"));
    TSR_TRY(agg_column(p, lname, &c2));
    shown = aprintf(p, "%s(%s, %s)", fshown, c1->text, c2->text);
    break;
  case A_COLN: {
    TSR_TRY(agg_column(p, lname, &c1));
    TSR_TRY(expect(p, QT_COMMA, "',' and a count n"));
    int32_t at = peek(p)->pos;
    double v;
    bool is_int;
    const char *text;
    TSR_TRY(agg_number(p, "a count n (a whole number >= 1)", &v, &is_int, &text));
    if (!is_int || v < 1)
      return tsr__query_fail(p->src, at, TSR_EINVAL, "%s(): n must be a whole number >= 1, not %s",
                             lname, text);
    a.n = (int64_t)v;
    shown = aprintf(p, "%s(%s, %s)", lname, c1->text, text);
    break;
  }
  case A_COLQ: {
    TSR_TRY(agg_column(p, lname, &c1));
    TSR_TRY(expect(p, QT_COMMA, "',' and a quantile q (or a list [q1, q2, ...])"));
    bool list = peek(p)->kind == QT_LBRACKET;
    list_given = list;
    if (list)
      advance(p);
    nq = 0;
    for (;;) {
      int32_t at = peek(p)->pos;
      double v;
      bool is_int;
      const char *text;
      TSR_TRY(agg_number(p, "a quantile q (a number from 0 to 1)", &v, &is_int, &text));
      if (!(v >= 0 && v <= 1))
        return tsr__query_fail(p->src, at, TSR_EINVAL,
                               "%s(): q must be from 0 to 1, not %s", lname, text);
      if (nq == 64)
        return tsr__query_fail(p->src, at, TSR_EPARSE, "%s(): at most 64 quantiles", lname);
      qs[nq] = v;
      qtexts[nq++] = text;
      if (!list || peek(p)->kind != QT_COMMA)
        break;
      advance(p);
    }
    if (list)
      TSR_TRY(expect(p, QT_RBRACKET, "',' or ']'"));
    break;
  }
  }
  if (peek(p)->kind != QT_RPAREN)
    return expected(p, "')'");
  int32_t end = tok_end(advance(p));
  a.column = c1 ? c1->text : NULL;
  a.column2 = c2 ? c2->text : NULL;
  anode *n = node_new(p, AN_AGG, name->pos, end);
  if (n == NULL)
    return TSR_ENOMEM;
  n->nq = nq;
  n->is_list = list_given;
  if (agg_fns[k].args == A_COLQ) {
    /* One aggregate per q, kept consecutive (not shared with others). */
    for (int i = 0; i < nq; i++) {
      a.q = qs[i];
      a.name = NULL;
      int idx;
      if (!list_given) {
        TSR_TRY(agg_intern(p, &a, &idx));
      } else { /* a fresh run of entries */
        tsr_agg b = a;
        b.ddof = -1 - p->naggs; /* never equal to an earlier entry */
        TSR_TRY(agg_intern(p, &b, &idx));
        p->aggs[idx].ddof = 0;
      }
      if (i == 0)
        n->agg = idx;
    }
    shown = !list_given ? aprintf(p, "%s(%s, %s)", lname, c1->text, qtexts[0]) : NULL;
    if (list_given) { /* the names of the columns, one per q */
      const char **names = tsr__query_arena_alloc(&p->arena, (size_t)nq * sizeof *names);
      if (names == NULL)
        return TSR_ENOMEM;
      for (int i = 0; i < nq; i++)
        if ((names[i] = aprintf(p, "%s(%s, %s)", lname, c1->text, qtexts[i])) == NULL)
          return TSR_ENOMEM;
      n->text = (const char *)names; /* read back as a list in finish_names */
      shown = "";
    }
  } else {
    TSR_TRY(agg_intern(p, &a, &n->agg));
  }
  if (shown == NULL)
    return TSR_ENOMEM;
  n->name = shown;
  *out = n;
  return TSR_OK;
}

static tsr_status parse_or(aparser *p, anode **out);

static tsr_status parse_call(aparser *p, const tsr__qtoken *name, anode **out) {
  const char *l = lower_dup(p, name->text);
  if (l == NULL)
    return TSR_ENOMEM;
  int k = agg_fn_find(l);
  if (k >= 0) {
    advance(p);
    return parse_agg(p, name, k, l, out);
  }
  int op, nargs;
  if (!tsr__colexpr_function(l, &op, &nargs))
    return tsr__query_fail(p->src, name->pos, TSR_EPARSE,
                           "unknown function '%s' (aggregates: count, sum, avg, mean, min, max, "
                           "var, var_samp, var_pop, stddev, stddev_samp, std, stddev_pop, "
                           "median, quantile_cont, first, last, nunique, corr, covar_samp, "
                           "covar_pop, bool_or, any, bool_and, all, largest, smallest; and the "
                           "scalar functions of column expressions)",
                           name->text);
  advance(p);
  advance(p); /* '(' */
  anode *args[2] = {NULL, NULL};
  int n = 0;
  if (peek(p)->kind != QT_RPAREN) {
    for (;;) {
      anode *a;
      TSR_TRY(parse_or(p, &a));
      if (n < 2)
        args[n] = a;
      n++;
      if (peek(p)->kind != QT_COMMA)
        break;
      advance(p);
    }
  }
  if (peek(p)->kind != QT_RPAREN)
    return expected(p, "',' or ')'");
  int32_t end = tok_end(advance(p));
  if (n != nargs)
    return tsr__query_fail(p->src, name->pos, TSR_EPARSE, "%s() takes %d argument%s (%d given)",
                           name->text, nargs, nargs == 1 ? "" : "s", n);
  anode *c = node_new(p, AN_CALL, name->pos, end);
  if (c == NULL)
    return TSR_ENOMEM;
  c->op = op;
  c->text = l;
  c->a = args[0];
  c->b = args[1];
  *out = c;
  return TSR_OK;
}

static tsr_status parse_atom(aparser *p, anode **out) {
  tsr__qtoken *t = peek(p);
  anode *n = NULL;
  switch (t->kind) {
  case QT_NUMBER:
  case QT_STRING:
    advance(p);
    n = node_new(p, t->kind == QT_NUMBER ? AN_NUM : AN_STR, t->pos, tok_end(t));
    if (n)
      n->tok = t;
    break;
  case QT_LPAREN: {
    advance(p);
    TSR_TRY(parse_or(p, out));
    if (peek(p)->kind != QT_RPAREN)
      return expected(p, "')'");
    advance(p);
    return TSR_OK; /* DuckDB shows (x) as x; errors point at x */
  }
  case QT_NAME:
    if (p->toks[p->at + 1].kind == QT_LPAREN)
      return parse_call(p, t, out);
    if (is_kw(t, "true") || is_kw(t, "false") || !strcmp(t->text, "True") ||
        !strcmp(t->text, "False")) {
      advance(p);
      n = node_new(p, AN_BOOL, t->pos, tok_end(t));
      if (n)
        n->bval = t->text[0] == 't' || t->text[0] == 'T';
      break;
    }
    if (is_kw(t, "null") || !strcmp(t->text, "None")) {
      advance(p);
      n = node_new(p, AN_NULL, t->pos, tok_end(t));
      break;
    }
    if (is_kw(t, "and") || is_kw(t, "or") || is_kw(t, "not") || is_kw(t, "like") ||
        is_kw(t, "contains") || is_kw(t, "starts_with") || is_kw(t, "as"))
      return expected(p, "an operand");
    /* fall through */
  case QT_QNAME:
    if (!is_key(p, t->text)) {
      if (tsr_frame_col_index(p->f, t->text) < 0)
        return unknown_column(p, t);
      return tsr__query_fail(p->src, t->pos, TSR_EINVAL,
                             "column '%s' is neither a group key nor inside an aggregate "
                             "(write e.g. first(%s) or sum(%s))",
                             t->text, t->text, t->text);
    }
    advance(p);
    n = node_new(p, AN_KEY, t->pos, tok_end(t));
    if (n)
      n->text = t->text;
    break;
  default:
    return expected(p, "an aggregate, a group key, a number or '('");
  }
  if (n == NULL)
    return TSR_ENOMEM;
  *out = n;
  return TSR_OK;
}

static tsr_status make_op(aparser *p, akind kind, int op, int32_t op_pos, anode *a, anode *b,
                          anode **out) {
  anode *n = node_new(p, kind, a ? a->pos : op_pos, b ? b->end : a->end);
  if (n == NULL)
    return TSR_ENOMEM;
  if (kind == AN_UNARY) {
    n->pos = op_pos;
    n->end = a->end;
  }
  n->op = op;
  n->op_pos = op_pos;
  n->a = a;
  n->b = b;
  *out = n;
  return TSR_OK;
}

static tsr_status nest(aparser *p) {
  if (++p->depth > MAX_DEPTH)
    return tsr__query_fail(p->src, peek(p)->pos, TSR_EPARSE, "expression nested too deeply");
  return TSR_OK;
}

static tsr_status parse_unary(aparser *p, anode **out) {
  tsr__qtoken *t = peek(p);
  if (t->kind == QT_MINUS || t->kind == QT_PLUS) {
    advance(p);
    TSR_TRY(nest(p));
    anode *a;
    TSR_TRY(parse_unary(p, &a));
    p->depth--;
    if (t->kind == QT_PLUS) {
      *out = a;
      return TSR_OK;
    }
    return make_op(p, AN_UNARY, TSR__CP_NEG, t->pos, a, NULL, out);
  }
  TSR_TRY(nest(p));
  tsr_status s = parse_atom(p, out);
  p->depth--;
  return s;
}

static tsr_status parse_mul(aparser *p, anode **out) {
  TSR_TRY(parse_unary(p, out));
  for (;;) {
    tsr__qtoken *t = peek(p);
    int op = t->kind == QT_STAR         ? TSR__CP_MUL
             : t->kind == QT_SLASH      ? TSR__CP_DIV
             : t->kind == QT_SLASHSLASH ? TSR__CP_INTDIV
             : t->kind == QT_PERCENT    ? TSR__CP_MOD
                                        : -1;
    if (op < 0)
      return TSR_OK;
    advance(p);
    anode *b;
    TSR_TRY(parse_unary(p, &b));
    TSR_TRY(make_op(p, AN_BINARY, op, t->pos, *out, b, out));
  }
}

static tsr_status parse_add(aparser *p, anode **out) {
  TSR_TRY(parse_mul(p, out));
  for (;;) {
    tsr__qtoken *t = peek(p);
    if (t->kind != QT_PLUS && t->kind != QT_MINUS)
      return TSR_OK;
    advance(p);
    anode *b;
    TSR_TRY(parse_mul(p, &b));
    TSR_TRY(make_op(p, AN_BINARY, t->kind == QT_PLUS ? TSR__CP_ADD : TSR__CP_SUB, t->pos, *out,
                    b, out));
  }
}

static tsr_status parse_cmp(aparser *p, anode **out) {
  TSR_TRY(parse_add(p, out));
  tsr__qtoken *t = peek(p);
  int op;
  switch (t->kind) {
  case QT_EQEQ:
  case QT_ASSIGN:
    op = TSR__CP_EQ;
    break;
  case QT_NE:
    op = TSR__CP_NE;
    break;
  case QT_LT:
    op = TSR__CP_LT;
    break;
  case QT_LE:
    op = TSR__CP_LE;
    break;
  case QT_GT:
    op = TSR__CP_GT;
    break;
  case QT_GE:
    op = TSR__CP_GE;
    break;
  default:
    if (is_kw(t, "like"))
      op = TSR__CP_LIKE;
    else if (is_kw(t, "contains"))
      op = TSR__CP_CONTAINS;
    else if (is_kw(t, "starts_with"))
      op = TSR__CP_STARTS_WITH;
    else
      return TSR_OK;
  }
  advance(p);
  anode *b;
  TSR_TRY(parse_add(p, &b));
  TSR_TRY(make_op(p, AN_BINARY, op, t->pos, *out, b, out));
  tsr__qtoken *u = peek(p);
  if (u->kind == QT_EQEQ || u->kind == QT_NE || u->kind == QT_LT || u->kind == QT_LE ||
      u->kind == QT_GT || u->kind == QT_GE || u->kind == QT_ASSIGN)
    return tsr__query_fail(p->src, u->pos, TSR_EPARSE,
                           "comparisons do not chain: write (a < b) and (b < c)");
  return TSR_OK;
}

static tsr_status parse_not(aparser *p, anode **out) {
  tsr__qtoken *t = peek(p);
  if (!is_kw(t, "not"))
    return parse_cmp(p, out);
  advance(p);
  TSR_TRY(nest(p));
  anode *a;
  TSR_TRY(parse_not(p, &a));
  p->depth--;
  return make_op(p, AN_UNARY, TSR__CP_NOT, t->pos, a, NULL, out);
}

static tsr_status parse_and(aparser *p, anode **out) {
  TSR_TRY(parse_not(p, out));
  while (is_kw(peek(p), "and")) {
    tsr__qtoken *t = advance(p);
    anode *b;
    TSR_TRY(parse_not(p, &b));
    TSR_TRY(make_op(p, AN_BINARY, TSR__CP_AND, t->pos, *out, b, out));
  }
  return TSR_OK;
}

static tsr_status parse_or(aparser *p, anode **out) {
  TSR_TRY(nest(p));
  TSR_TRY(parse_and(p, out));
  while (is_kw(peek(p), "or")) {
    tsr__qtoken *t = advance(p);
    anode *b;
    TSR_TRY(parse_and(p, &b));
    TSR_TRY(make_op(p, AN_BINARY, TSR__CP_OR, t->pos, *out, b, out));
  }
  p->depth--;
  return TSR_OK;
}

/* ---- names as DuckDB shows them ---------------------------------------- */

static const char *op_text(int op) {
  switch (op) {
  case TSR__CP_ADD:
    return "+";
  case TSR__CP_SUB:
    return "-";
  case TSR__CP_MUL:
    return "*";
  case TSR__CP_DIV:
    return "/";
  case TSR__CP_INTDIV:
    return "//";
  case TSR__CP_MOD:
    return "%";
  case TSR__CP_EQ:
    return "=";
  case TSR__CP_NE:
    return "!=";
  case TSR__CP_LT:
    return "<";
  case TSR__CP_LE:
    return "<=";
  case TSR__CP_GT:
    return ">";
  case TSR__CP_GE:
    return ">=";
  case TSR__CP_AND:
    return "AND";
  case TSR__CP_OR:
    return "OR";
  case TSR__CP_LIKE:
    return "~~";
  case TSR__CP_CONTAINS:
    return "CONTAINS";
  default:
    return "STARTS_WITH";
  }
}

/* Sets n->name for every node under n (aggregates have theirs); depth is
 * bounded by the parser's MAX_DEPTH. */
static tsr_status name_of(aparser *p, anode *n) {
  if (n == NULL || n->name != NULL)
    return TSR_OK;
  TSR_TRY(name_of(p, n->a));
  TSR_TRY(name_of(p, n->b));
  switch (n->kind) {
  case AN_NUM:
    n->name = tsr__query_arena_strndup(&p->arena, p->src + n->tok->pos, (size_t)n->tok->len);
    break;
  case AN_STR:
    n->name = aprintf(p, "'%s'", n->tok->text);
    break;
  case AN_BOOL:
    n->name = n->bval ? "true" : "false";
    break;
  case AN_NULL:
    n->name = "NULL";
    break;
  case AN_KEY:
    n->name = n->text;
    break;
  case AN_UNARY:
    n->name = n->op == TSR__CP_NEG ? aprintf(p, "-(%s)", n->a->name)
                                   : aprintf(p, "(NOT %s)", n->a->name);
    break;
  case AN_BINARY:
    n->name = aprintf(p, "(%s %s %s)", n->a->name, op_text(n->op), n->b->name);
    break;
  case AN_CALL:
    n->name = n->b ? aprintf(p, "%s(%s, %s)", n->text, n->a->name, n->b->name)
                   : aprintf(p, "%s(%s)", n->text, n->a->name);
    break;
  case AN_AGG:
    break;
  }
  return n->name ? TSR_OK : TSR_ENOMEM;
}

/* Whether a list of quantiles appears below n (it may only be an item). */
static const anode *find_list(const anode *n) {
  if (n == NULL)
    return NULL;
  if (n->kind == AN_AGG && n->is_list)
    return n;
  const anode *l = find_list(n->a);
  return l ? l : find_list(n->b);
}

/* ---- items -------------------------------------------------------------- */

static tsr_status add_item(aparser *p, const aitem *it) {
  if (p->nitems == p->cap_items) {
    int cap = p->cap_items ? 2 * p->cap_items : 8;
    aitem *m = tsr__query_arena_alloc(&p->arena, (size_t)cap * sizeof *m);
    if (m == NULL)
      return TSR_ENOMEM;
    if (p->nitems)
      memcpy(m, p->items, (size_t)p->nitems * sizeof *m);
    p->items = m;
    p->cap_items = cap;
  }
  p->items[p->nitems++] = *it;
  return TSR_OK;
}

static tsr_status parse_item(aparser *p) {
  aitem it;
  memset(&it, 0, sizeof it);
  tsr__qtoken *t = peek(p);
  it.pos = t->pos;
  const char *given = NULL;
  if ((t->kind == QT_NAME || t->kind == QT_QNAME) && p->toks[p->at + 1].kind == QT_ASSIGN) {
    given = t->text;
    advance(p);
    advance(p);
  }
  if (peek(p)->kind == QT_EOF || peek(p)->kind == QT_COMMA)
    return expected(p, "an aggregate expression");
  TSR_TRY(parse_or(p, &it.root));
  if (is_kw(peek(p), "as")) {
    advance(p);
    tsr__qtoken *n = peek(p);
    if (n->kind != QT_NAME && n->kind != QT_QNAME)
      return expected(p, "a name after 'as'");
    if (given != NULL)
      return tsr__query_fail(p->src, n->pos, TSR_EPARSE,
                             "the item is named twice ('%s =' and 'as %s')", given, n->text);
    given = advance(p)->text;
  }
  TSR_TRY(name_of(p, it.root));
  const anode *list = find_list(it.root);
  if (list != NULL && list != it.root)
    return tsr__query_fail(p->src, list->pos, TSR_EPARSE,
                           "a list of quantiles gives several columns: it must be an item of "
                           "its own, not inside an expression");
  it.named = given != NULL;
  it.name = given ? given : it.root->name;
  return add_item(p, &it);
}

/* ---- building the result ------------------------------------------------ */

typedef struct builder {
  aparser *p;
  tsr__colprog *prog;
  tsr_frame *g; /* the frame the program reads */
} builder;

static tsr_status located(builder *b, tsr_status s, const anode *n) {
  if (s == TSR_ENOMEM)
    return s;
  char msg[400];
  snprintf(msg, sizeof msg, "%s", tsr_last_error());
  int len = n->end - n->pos > 120 ? 120 : (int)(n->end - n->pos);
  return tsr__query_fail(b->p->src, n->op_pos, s, "'%.*s': %s", len, b->p->src + n->pos, msg);
}

static tsr_status emit(builder *b, const anode *n, int *v) {
  aparser *p = b->p;
  switch (n->kind) {
  case AN_NUM:
    if (n->tok->is_int)
      return tsr__colprog_int(b->prog, n->tok->ival, n->tok->is_uint, v);
    return tsr__colprog_float(b->prog, n->tok->fval, v);
  case AN_STR:
    return tsr__colprog_string(b->prog, n->tok->text, strlen(n->tok->text), v);
  case AN_BOOL:
    return tsr__colprog_bool(b->prog, n->bval, v);
  case AN_NULL:
    return tsr__colprog_null(b->prog, v);
  case AN_KEY:
  case AN_AGG: {
    const char *name = n->kind == AN_KEY ? n->text : p->aggs[n->agg].name;
    int col;
    TSR_TRY(tsr__frame_find(b->g, "tsr_frame_aggregate", name, &col));
    return tsr__colprog_column(b->prog, col, v);
  }
  case AN_UNARY: {
    int a;
    TSR_TRY(emit(b, n->a, &a));
    tsr_status s = tsr__colprog_unary(b->prog, (tsr__cp_op)n->op, a, v);
    if (s != TSR_OK)
      return located(b, s, n);
    if (n->op == TSR__CP_NEG)
      TSR_TRY(tsr__colprog_label(b->prog, *v, p->src + n->pos, (size_t)(n->end - n->pos)));
    return TSR_OK;
  }
  case AN_BINARY:
  case AN_CALL: {
    int a, c = -1;
    TSR_TRY(emit(b, n->a, &a));
    if (n->b)
      TSR_TRY(emit(b, n->b, &c));
    tsr_status s = n->b ? tsr__colprog_binary(b->prog, (tsr__cp_op)n->op, a, c, v)
                        : tsr__colprog_unary(b->prog, (tsr__cp_op)n->op, a, v);
    if (s != TSR_OK)
      return located(b, s, n);
    if (n->op <= TSR__CP_MOD || n->op == TSR__CP_NEG || n->op == TSR__CP_ABS)
      TSR_TRY(tsr__colprog_label(b->prog, *v, p->src + n->pos, (size_t)(n->end - n->pos)));
    return TSR_OK;
  }
  }
  return tsr_error_set(TSR_EINVAL, "tsr_frame_aggregate: bad node");
}

/* After s = op(*f, &next): *f replaced by next (the old frame released). */
static tsr_status step(tsr_frame **f, tsr_status s, tsr_frame **next) {
  if (s != TSR_OK)
    return s;
  tsr_frame_destroy(f);
  *f = *next;
  *next = NULL;
  return TSR_OK;
}

/* The names of the result columns, in order: keys then items (a quantile
 * list gives one per q).  *names in the arena. */
static tsr_status result_names(aparser *p, const char ***names, int *n) {
  int total = p->nkeys;
  for (int i = 0; i < p->nitems; i++)
    total += p->items[i].root->kind == AN_AGG ? p->items[i].root->nq : 1;
  const char **v = tsr__query_arena_alloc(&p->arena, (size_t)(total ? total : 1) * sizeof *v);
  if (v == NULL)
    return TSR_ENOMEM;
  int k = 0;
  for (int i = 0; i < p->nkeys; i++)
    v[k++] = p->keys[i];
  for (int i = 0; i < p->nitems; i++) {
    const aitem *it = &p->items[i];
    int nq = it->root->kind == AN_AGG ? it->root->nq : 1;
    if (it->root->kind != AN_AGG || !it->root->is_list) {
      v[k++] = it->name;
      continue;
    }
    const char *const *qn = (const char *const *)it->root->text;
    for (int j = 0; j < nq; j++) {
      /* named: name_<q> ("q_0.25"); unnamed: DuckDB's name of the one-q call */
      if (it->named) {
        const char *qt = qn[j] + strlen(qn[j]);
        while (qt > qn[j] && qt[-1] != ' ')
          qt--;
        v[k] = aprintf(p, "%s_%.*s", it->name, (int)strlen(qt) - 1, qt);
      } else {
        v[k] = qn[j];
      }
      if (v[k++] == NULL)
        return TSR_ENOMEM;
    }
  }
  for (int i = 0; i < k; i++)
    for (int j = 0; j < i; j++)
      if (strcmp(v[i], v[j]) == 0)
        return tsr_error_set(TSR_EINVAL,
                             "tsr_frame_aggregate: two result columns are named '%s' (name the "
                             "items: 'name = expression')",
                             v[i]);
  *names = v;
  *n = k;
  return TSR_OK;
}

tsr_status tsr_frame_aggregate(tsr_frame *frame, int nkeys, const char *const *keys,
                               const char *aggs, const tsr_groupby_options *options,
                               tsr_frame **out) {
  static const char fn[] = "tsr_frame_aggregate";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(frame != NULL && aggs != NULL, TSR_EINVAL, "%s: frame or aggregate list is NULL", fn);
  TSR_CHECK(nkeys >= 0 && (nkeys == 0 || keys != NULL), TSR_EINVAL, "%s: bad keys (%d)", fn,
            nkeys);
  for (int i = 0; i < nkeys; i++) {
    TSR_CHECK(keys[i] != NULL, TSR_EINVAL, "%s: key %d is NULL", fn, i);
    int dummy;
    TSR_TRY(tsr__frame_find(frame, fn, keys[i], &dummy));
  }
  aparser p;
  memset(&p, 0, sizeof p);
  p.arena.ctx = frame->ctx;
  p.src = aggs;
  p.f = frame;
  p.nkeys = nkeys;
  p.keys = keys;
  /* An internal prefix no column of the frame starts with. */
  snprintf(p.prefix, sizeof p.prefix, "__agg");
  for (size_t len = 5; len < sizeof p.prefix - 4; len++) {
    bool clash = false;
    for (int c = 0; c < tsr_frame_ncols(frame) && !clash; c++)
      clash = strncmp(tsr_frame_col_name(frame, c), p.prefix, len) == 0;
    if (!clash)
      break;
    p.prefix[len] = '_';
    p.prefix[len + 1] = '\0';
  }
  int32_t ntok = 0;
  tsr_status s = tsr__query_lex(&p.arena, aggs, &p.toks, &ntok);
  if (s == TSR_OK) { /* newlines separate nothing here: drop them ('; ' stays an error) */
    int32_t k = 0;
    for (int32_t i = 0; i < ntok; i++)
      if (p.toks[i].kind != QT_NEWLINE || aggs[p.toks[i].pos] == ';')
        p.toks[k++] = p.toks[i];
    ntok = k;
  }
  if (s == TSR_OK) {
    for (;;) {
      if ((s = parse_item(&p)) != TSR_OK)
        break;
      if (peek(&p)->kind == QT_EOF)
        break;
      if (peek(&p)->kind != QT_COMMA) {
        s = expected(&p, "',' or the end of the list");
        break;
      }
      advance(&p);
    }
  }
  const char **names = NULL;
  int nnames = 0;
  if (s == TSR_OK)
    s = result_names(&p, &names, &nnames);
  tsr_frame *g = NULL;
  if (s == TSR_OK)
    s = tsr_frame_groupby(frame, nkeys, keys, p.naggs, p.aggs, options, &g);
  /* Items: expressions become columns (programs over g), then bare
   * aggregates are renamed (each entry once; a second use is a copy). */
  bool *claimed = NULL;
  if (s == TSR_OK)
    s = tsr_alloc(frame->ctx, (size_t)(p.naggs ? p.naggs : 1), (void **)&claimed);
  if (s == TSR_OK)
    memset(claimed, 0, (size_t)(p.naggs ? p.naggs : 1));
  int k = nkeys;
  for (int i = 0; s == TSR_OK && i < p.nitems; i++) {
    aitem *it = &p.items[i];
    if (it->root->kind == AN_AGG && !claimed[it->root->agg]) {
      for (int j = 0; j < it->root->nq; j++)
        claimed[it->root->agg + j] = true;
      k += it->root->nq;
      continue;
    }
    builder b = {&p, NULL, g};
    int v;
    s = tsr__colprog_create(g, &b.prog);
    if (s == TSR_OK)
      s = emit(&b, it->root, &v);
    tsr_frame *next = NULL;
    if (s == TSR_OK)
      s = step(&g, tsr__colprog_assign(b.prog, v, names[k], &next), &next);
    tsr__colprog_destroy(&b.prog);
    k++;
  }
  for (int i = 0; i < p.naggs; i++) /* free the marks for the renames */
    if (claimed)
      claimed[i] = false;
  k = nkeys;
  for (int i = 0; s == TSR_OK && i < p.nitems; i++) {
    aitem *it = &p.items[i];
    if (it->root->kind == AN_AGG && !claimed[it->root->agg]) {
      for (int j = 0; s == TSR_OK && j < it->root->nq; j++) {
        claimed[it->root->agg + j] = true;
        tsr_frame *next = NULL;
        s = step(&g, tsr_frame_rename(g, p.aggs[it->root->agg + j].name, names[k + j], &next),
                 &next);
      }
      k += it->root->nq;
    } else {
      k++;
    }
  }
  tsr_free(frame->ctx, claimed);
  tsr_frame *sel = NULL;
  if (s == TSR_OK)
    s = tsr_frame_select(g, nnames, names, &sel);
  tsr_frame_destroy(&g);
  tsr_free(frame->ctx, p.toks);
  tsr__query_arena_free(&p.arena);
  if (s != TSR_OK) {
    tsr_frame_destroy(&sel);
    return s;
  }
  *out = sel;
  return TSR_OK;
}
