/* parser.c — recursive descent from SQL tokens (lexer.c) to the syntax tree
 * of ast.h, and the tree's S-expression printer.
 *
 * Precedence, loosest first, as DuckDB's (checked against libduckdb): OR <
 * AND < NOT < IS < comparisons (non-associative) < [NOT] LIKE / ILIKE /
 * BETWEEN / IN (non-associative) < || < + - < * / // % < unary - + < :: <
 * primary.  BETWEEN's bounds are parsed at the || level, so `x BETWEEN 1
 * AND 2 AND y` is (x BETWEEN 1 AND 2) AND y.
 * A minus directly before a number literal is folded into it (-5 is the
 * integer -5, -9223372036854775808 is INT64_MIN); -5::int is -(5::int).
 * A parenthesised query that already has ORDER BY / LIMIT / OFFSET (or
 * WITH) and is given them again, as in (SELECT ... LIMIT 1) LIMIT 2, is
 * wrapped as SELECT * FROM (query) so that both apply in order.
 *
 * Depth: every expression (so every parenthesis, argument list, CASE),
 * query (so every subquery), unary operator, parenthesised join and every
 * link of an operator chain (a + b + c, a UNION b UNION c, a JOIN b JOIN c)
 * counts one level; more than 200 in all is an error, so neither the
 * parser nor a recursive walk of the tree can overflow the stack:
 * `SELECT ((...(1)...))` takes 198 parentheses and refuses 199.
 *
 * Errors (TSR_EPARSE through tsr__query_fail, line, column and a caret):
 *   syntax error at or near "TOKEN"      syntax error at end of input
 *   expected WHAT after "PREVIOUS TOKEN" [at end of input]
 *   unknown statement "WORD" (...)       and a few "... is not supported".
 *
 * S-expression form written by tsr__sql_stmt_print (one line, ending in '\n'):
 *   statement  query | (create-table [or-replace] NAME Q) | (create-view ...)
 *              | (drop-table|drop-view [if-exists] NAME)
 *              | (copy Q "path" [(options (name "value") (name) ...)])
 *              | (explain [analyze] Q)
 *   query Q    (select [distinct] [(with (NAME Q) ...)] (items ITEM ...) [(from T)]
 *                 [(where E)] [(group E ...) | (group all)] [(having E)] TAIL)
 *              | (union [all] [(with ...)] Q Q TAIL)
 *   TAIL       [(order O ...)] [(limit E)] [(offset E)]
 *   O          (asc E [nulls-first|nulls-last]) | (desc E ...)
 *   ITEM       E | (as E NAME)
 *   T          (table NAME) | (path "x.csv") | (subquery Q) | (as T NAME)
 *              | (join inner|left|right|full|semi|anti|cross|asof|asof-left T T
 *                  [(on E) | (using NAME ...)])
 *   E          (col [QUAL.]NAME) | * | QUAL.* | 42 | 1.5 (a double always shows
 *              '.', 'e', "inf" or "nan") | 'text' | true | false | null
 *              | (date 'x') | (neg E) | (pos E) | (not E)
 *              | (OP E E) with OP + - * / // % || = <> < <= > >= and or like ilike
 *                not-like not-ilike
 *              | (is-null E) | (is-not-null E) | (is-true E) | (is-not-false E) ...
 *              | ([not-]between E E E) | ([not-]in E E ...)
 *              | (case [E] (when E E) ... [(else E)]) | (cast E type) | (try-cast E type)
 *              | (call name [distinct] [*] E ... [(over [(partition E ...)] [(order O ...)]
 *                  [(rows N|unbounded)])]) | (subquery Q)
 *   NAME       as written, or "double quoted" when it was quoted; paths are
 *              double-quoted with \" and \\ escaped, strings single-quoted with ''. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "sql/lexer.h"

#define MAX_DEPTH 200
#define MSG_TOKEN_MAX 40 /* bytes of a token quoted in a message */

typedef tsr__sqltoken tok;

typedef struct parser {
  tsr__qarena *arena;
  const char *src;
  const tok *t;
  int32_t n, i;
  int depth;
} parser;

/* ---- tokens and keywords ----------------------------------------------------------------- */

static const tok *peek(const parser *p) { return &p->t[p->i]; }

static const tok *peek_at(const parser *p, int k) {
  int32_t j = p->i + k;
  return &p->t[j < p->n ? j : p->n - 1];
}

static int32_t prev_end(const parser *p) {
  if (p->i == 0)
    return 0;
  const tok *t = &p->t[p->i - 1];
  return t->pos + t->len;
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

static bool ascii_ieq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (lower(*a) != lower(*b))
      return false;
  return *a == *b;
}

static bool is_kw(const tok *t, const char *kw) {
  return t->kind == SQ_IDENT && ascii_ieq(t->text, kw);
}

static bool accept_kw(parser *p, const char *kw) {
  if (!is_kw(peek(p), kw))
    return false;
  p->i++;
  return true;
}

static bool accept(parser *p, tsr__sqltok_kind kind) {
  if (peek(p)->kind != kind)
    return false;
  p->i++;
  return true;
}

/* Words that cannot be a column name, a bare alias or a function name. */
static bool reserved(const char *w) {
  static const char *const words[] = {
      "all",       "and",     "anti",       "any",      "as",      "asc",      "asof",  "between",
      "both",      "by",      "case",       "cast",     "create",  "cross",    "desc",  "distinct",
      "drop",      "else",    "end",        "except",   "exists",  "explain",  "false", "fetch",
      "for",       "from",    "full",       "group",    "having",  "ilike",    "in",    "inner",
      "intersect", "into",    "is",         "join",     "lateral", "leading",  "left",  "like",
      "limit",     "natural", "not",        "null",     "offset",  "on",       "or",    "order",
      "outer",     "over",    "positional", "qualify",  "right",   "select",   "semi",  "similar",
      "table",     "then",    "to",         "trailing", "true",    "try_cast", "union", "using",
      "when",      "where",   "window",     "with"};
  for (size_t k = 0; k < sizeof words / sizeof *words; k++)
    if (ascii_ieq(w, words[k]))
      return true;
  return false;
}

/* A token usable as a name here: a quoted identifier, or an unquoted one
 * that is not reserved (any unquoted one when `any_word`, as after AS). */
static bool is_name(const tok *t, bool any_word) {
  return t->kind == SQ_QIDENT || (t->kind == SQ_IDENT && (any_word || !reserved(t->text)));
}

static int msg_len(const parser *p, const tok *t) {
  int n = 0;
  while (n < t->len && n < MSG_TOKEN_MAX && p->src[t->pos + n] != '\n')
    n++;
  return n;
}

/* ---- errors ------------------------------------------------------------------------------ */

static tsr_status fail_at(const parser *p, const tok *t) {
  if (t->kind == SQ_EOF)
    return tsr__query_fail(p->src, prev_end(p), TSR_EPARSE, "syntax error at end of input");
  return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "syntax error at or near \"%.*s\"",
                         msg_len(p, t), p->src + t->pos);
}

static tsr_status expected(const parser *p, const char *what) {
  const tok *t = peek(p);
  if (p->i == 0)
    return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "expected %s", what);
  const tok *pr = &p->t[p->i - 1];
  if (t->kind == SQ_EOF)
    return tsr__query_fail(p->src, pr->pos + pr->len, TSR_EPARSE,
                           "expected %s after \"%.*s\" at end of input", what, msg_len(p, pr),
                           p->src + pr->pos);
  return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "expected %s after \"%.*s\"", what,
                         msg_len(p, pr), p->src + pr->pos);
}

static tsr_status unsupported(const parser *p, int32_t pos, const char *what) {
  return tsr__query_fail(p->src, pos, TSR_EPARSE, "%s", what);
}

static tsr_status expect(parser *p, tsr__sqltok_kind kind, const char *what) {
  return accept(p, kind) ? TSR_OK : expected(p, what);
}

static tsr_status expect_kw(parser *p, const char *kw) {
  return accept_kw(p, kw) ? TSR_OK : expected(p, kw);
}

static tsr_status enter(parser *p) {
  if (++p->depth > MAX_DEPTH)
    return tsr__query_fail(p->src, peek(p)->pos, TSR_EPARSE,
                           "nested too deeply (more than %d levels of parentheses, subqueries "
                           "and chained operators)",
                           MAX_DEPTH);
  return TSR_OK;
}

/* ---- allocation -------------------------------------------------------------------------- */

#define NEW(p, ptr)                                                          \
  do {                                                                       \
    if (((ptr) = tsr__query_arena_alloc((p)->arena, sizeof *(ptr))) == NULL) \
      return TSR_ENOMEM;                                                     \
  } while (0)

/* A growing list in the arena (the old copies stay until the script is freed:
 * at most twice the final size). */
typedef struct vec {
  void *data;
  int n, cap;
} vec;

static tsr_status vec_push(parser *p, vec *v, const void *elem, size_t size) {
  if (v->n == v->cap) {
    int cap = v->cap ? 2 * v->cap : 4;
    void *d = tsr__query_arena_alloc(p->arena, (size_t)cap * size);
    if (d == NULL)
      return TSR_ENOMEM;
    if (v->n > 0)
      memcpy(d, v->data, (size_t)v->n * size);
    v->data = d;
    v->cap = cap;
  }
  memcpy((char *)v->data + (size_t)v->n * size, elem, size);
  v->n++;
  return TSR_OK;
}

static char *lower_dup(parser *p, const char *s) {
  char *d = tsr__query_arena_strndup(p->arena, s, strlen(s));
  if (d != NULL)
    for (char *c = d; *c; c++)
      *c = lower(*c);
  return d;
}

static tsr__sql_ident ident_of(const tok *t) {
  tsr__sql_ident id = {.name = t->text, .quoted = t->kind == SQ_QIDENT, .pos = t->pos};
  return id;
}

static tsr_status expect_name(parser *p, bool any_word, const char *what, tsr__sql_ident *out) {
  if (!is_name(peek(p), any_word))
    return expected(p, what);
  *out = ident_of(peek(p));
  p->i++;
  return TSR_OK;
}

static tsr_status new_expr(parser *p, tsr__sql_expr_kind kind, int32_t pos, tsr__sql_expr **out) {
  tsr__sql_expr *e;
  NEW(p, e);
  e->kind = kind;
  e->pos = pos;
  e->end = prev_end(p);
  *out = e;
  return TSR_OK;
}

static tsr_status set_args(parser *p, tsr__sql_expr *e, int n, tsr__sql_expr *const *args) {
  if ((e->args = tsr__query_arena_alloc(p->arena, (size_t)n * sizeof *e->args)) == NULL)
    return TSR_ENOMEM;
  memcpy(e->args, args, (size_t)n * sizeof *e->args);
  e->nargs = n;
  return TSR_OK;
}

static tsr_status binary(parser *p, tsr__sql_expr_kind kind, tsr__sql_op op, int32_t pos, int n,
                         tsr__sql_expr *const *args, tsr__sql_expr **out) {
  TSR_TRY(new_expr(p, kind, pos, out));
  (*out)->op = op;
  return set_args(p, *out, n, args);
}

/* ---- expressions ------------------------------------------------------------------------- */

static tsr_status parse_expr(parser *p, tsr__sql_expr **out);
static tsr_status parse_query(parser *p, tsr__sql_query **out);

static tsr_status parse_expr_list(parser *p, vec *v) {
  do {
    tsr__sql_expr *e;
    TSR_TRY(parse_expr(p, &e));
    TSR_TRY(vec_push(p, v, &e, sizeof e));
  } while (accept(p, SQ_COMMA));
  return TSR_OK;
}

static tsr_status parse_order_list(parser *p, int *n, tsr__sql_order **out) {
  vec v = {0};
  do {
    tsr__sql_order o = {0};
    TSR_TRY(parse_expr(p, &o.expr));
    if (accept_kw(p, "desc"))
      o.descending = true;
    else
      (void)accept_kw(p, "asc");
    if (accept_kw(p, "nulls")) {
      if (accept_kw(p, "first"))
        o.nulls = SQL_NULLS_FIRST;
      else if (accept_kw(p, "last"))
        o.nulls = SQL_NULLS_LAST;
      else
        return expected(p, "FIRST or LAST");
    }
    TSR_TRY(vec_push(p, &v, &o, sizeof o));
  } while (accept(p, SQ_COMMA));
  *n = v.n;
  *out = v.data;
  return TSR_OK;
}

/* The text of the tokens [from, to) for a message, at most 60 bytes. */
static int span_len(int32_t from, int32_t to) {
  int32_t n = to - from;
  return n > 60 ? 60 : (int)n;
}

/* A type name: one word lowercased, DOUBLE PRECISION (-> "double"), CHARACTER
 * VARYING (-> "varchar"); VARCHAR(n) and CHAR(n) have their length ignored,
 * every other parameter list is refused (decimal is DOUBLE in tessera). */
static tsr_status parse_type(parser *p, const char **out) {
  const tok *t = peek(p);
  if (t->kind != SQ_IDENT)
    return expected(p, "a type name");
  int32_t pos = t->pos;
  p->i++;
  const char *name = lower_dup(p, t->text);
  if (name == NULL)
    return TSR_ENOMEM;
  if (strcmp(name, "double") == 0 && accept_kw(p, "precision"))
    name = "double";
  else if (strcmp(name, "character") == 0 && accept_kw(p, "varying"))
    name = "varchar";
  if (peek(p)->kind == SQ_LPAREN) {
    bool text = strcmp(name, "varchar") == 0 || strcmp(name, "char") == 0 ||
                strcmp(name, "character") == 0 || strcmp(name, "bpchar") == 0;
    if (text && peek_at(p, 1)->kind == SQ_INT && peek_at(p, 2)->kind == SQ_RPAREN) {
      p->i += 3;
    } else {
      int32_t k = p->i;
      while (k < p->n - 1 && p->t[k].kind != SQ_RPAREN)
        k++;
      int32_t to = p->t[k].pos + p->t[k].len;
      return tsr__query_fail(p->src, pos, TSR_EPARSE,
                             "type \"%.*s\" is not supported: only VARCHAR(n) takes a parameter "
                             "(decimal and numeric values are DOUBLE in tessera)",
                             span_len(pos, to), p->src + pos);
    }
  }
  *out = name;
  return TSR_OK;
}

static tsr_status frame_unsupported(const parser *p) {
  const tok *t = peek(p);
  if (t->kind == SQ_EOF)
    return expected(p, "a window frame");
  return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                         "window frame not supported at \"%.*s\": only ROWS BETWEEN n PRECEDING "
                         "AND CURRENT ROW and ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW",
                         msg_len(p, t), p->src + t->pos);
}

/* OVER ( [PARTITION BY ...] [ORDER BY ...] [ROWS ...] ); OVER already taken. */
static tsr_status parse_window(parser *p, int32_t pos, tsr__sql_window **out) {
  tsr__sql_window *w;
  NEW(p, w);
  w->pos = pos;
  if (peek(p)->kind == SQ_IDENT && !reserved(peek(p)->text))
    return unsupported(p, peek(p)->pos, "named windows are not supported: write OVER (...)");
  TSR_TRY(expect(p, SQ_LPAREN, "'('"));
  if (accept_kw(p, "partition")) {
    TSR_TRY(expect_kw(p, "BY"));
    vec v = {0};
    TSR_TRY(parse_expr_list(p, &v));
    w->npartition = v.n;
    w->partition = v.data;
  }
  if (accept_kw(p, "order")) {
    TSR_TRY(expect_kw(p, "BY"));
    TSR_TRY(parse_order_list(p, &w->norder, &w->order));
  }
  if (is_kw(peek(p), "range") || is_kw(peek(p), "groups"))
    return frame_unsupported(p);
  if (accept_kw(p, "rows")) {
    bool between = accept_kw(p, "between");
    if (accept_kw(p, "unbounded"))
      w->preceding = -1;
    else if (peek(p)->kind == SQ_INT)
      w->preceding = p->t[p->i++].ival;
    else
      return frame_unsupported(p);
    if (!accept_kw(p, "preceding"))
      return frame_unsupported(p);
    if (between) {
      TSR_TRY(expect_kw(p, "AND"));
      if (!accept_kw(p, "current") || !accept_kw(p, "row"))
        return frame_unsupported(p);
    }
    w->frame = SQL_FRAME_ROWS;
  }
  TSR_TRY(expect(p, SQ_RPAREN, "')'"));
  *out = w;
  return TSR_OK;
}

/* name( [DISTINCT] args | * ) [OVER (...)]; the name token is at p->i. */
static tsr_status parse_call(parser *p, tsr__sql_expr **out) {
  const tok *name = peek(p);
  p->i += 2;
  tsr__sql_expr *e;
  TSR_TRY(new_expr(p, SQL_E_FUNC, name->pos, &e));
  if ((e->name = lower_dup(p, name->text)) == NULL)
    return TSR_ENOMEM;
  if (peek(p)->kind == SQ_STAR && peek_at(p, 1)->kind == SQ_RPAREN) {
    e->star = true;
    p->i++;
  } else if (peek(p)->kind != SQ_RPAREN) {
    if (accept_kw(p, "distinct"))
      e->distinct = true;
    else
      (void)accept_kw(p, "all");
    vec v = {0};
    TSR_TRY(parse_expr_list(p, &v));
    e->nargs = v.n;
    e->args = v.data;
    if (is_kw(peek(p), "order"))
      return unsupported(p, peek(p)->pos,
                         "ORDER BY inside a function's arguments is not supported");
  }
  TSR_TRY(expect(p, SQ_RPAREN, "')'"));
  if (is_kw(peek(p), "filter") && peek_at(p, 1)->kind == SQ_LPAREN)
    return unsupported(p, peek(p)->pos, "FILTER (WHERE ...) is not supported: use CASE");
  if (is_kw(peek(p), "over")) {
    int32_t pos = peek(p)->pos;
    p->i++;
    TSR_TRY(parse_window(p, pos, &e->over));
  }
  e->end = prev_end(p);
  *out = e;
  return TSR_OK;
}

/* The special forms of ast.h, rewritten into calls; the name token is at p->i. */
static tsr_status parse_special(parser *p, const char *lname, tsr__sql_expr **out) {
  const tok *name = peek(p);
  p->i += 2;
  tsr__sql_expr *e, *args[3];
  int nargs = 0;
  TSR_TRY(new_expr(p, SQL_E_FUNC, name->pos, &e));
  if (strcmp(lname, "cast") == 0 || strcmp(lname, "try_cast") == 0) {
    e->kind = SQL_E_CAST;
    e->try_cast = lname[0] == 't';
    TSR_TRY(parse_expr(p, &args[nargs++]));
    TSR_TRY(expect_kw(p, "AS"));
    TSR_TRY(parse_type(p, &e->type_name));
  } else if (strcmp(lname, "extract") == 0) {
    e->name = "extract";
    const tok *part = peek(p);
    if (part->kind != SQ_IDENT && part->kind != SQ_STRING)
      return expected(p, "a date part (year, month, ...)");
    p->i++;
    TSR_TRY(new_expr(p, SQL_E_STRING, part->pos, &args[nargs]));
    if ((args[nargs]->text = lower_dup(p, part->text)) == NULL)
      return TSR_ENOMEM;
    args[nargs]->text_len = strlen(args[nargs]->text);
    nargs++;
    TSR_TRY(expect_kw(p, "FROM"));
    TSR_TRY(parse_expr(p, &args[nargs++]));
  } else if (strcmp(lname, "substring") == 0) {
    e->name = "substring";
    TSR_TRY(parse_expr(p, &args[nargs++]));
    if (accept_kw(p, "from")) {
      TSR_TRY(parse_expr(p, &args[nargs++]));
      if (accept_kw(p, "for"))
        TSR_TRY(parse_expr(p, &args[nargs++]));
    } else {
      while (nargs < 3 && accept(p, SQ_COMMA))
        TSR_TRY(parse_expr(p, &args[nargs++]));
    }
  } else { /* trim */
    e->name = "trim";
    bool mode = true;
    if (accept_kw(p, "leading"))
      e->name = "ltrim";
    else if (accept_kw(p, "trailing"))
      e->name = "rtrim";
    else if (!accept_kw(p, "both"))
      mode = false;
    tsr__sql_expr *chars = NULL, *x = NULL;
    if (accept_kw(p, "from")) {
      TSR_TRY(parse_expr(p, &x));
    } else {
      TSR_TRY(parse_expr(p, &x));
      if (accept_kw(p, "from")) {
        chars = x;
        TSR_TRY(parse_expr(p, &x));
      } else if (!mode && accept(p, SQ_COMMA)) {
        TSR_TRY(parse_expr(p, &chars));
      }
    }
    args[nargs++] = x;
    if (chars != NULL)
      args[nargs++] = chars;
  }
  TSR_TRY(expect(p, SQ_RPAREN, "')'"));
  TSR_TRY(set_args(p, e, nargs, args));
  e->end = prev_end(p);
  *out = e;
  return TSR_OK;
}

static tsr_status parse_case(parser *p, tsr__sql_expr **out) {
  tsr__sql_expr *e;
  TSR_TRY(new_expr(p, SQL_E_CASE, peek(p)->pos, &e));
  p->i++;
  if (!is_kw(peek(p), "when"))
    TSR_TRY(parse_expr(p, &e->operand));
  vec v = {0};
  while (accept_kw(p, "when")) {
    tsr__sql_expr *w, *t;
    TSR_TRY(parse_expr(p, &w));
    TSR_TRY(expect_kw(p, "THEN"));
    TSR_TRY(parse_expr(p, &t));
    TSR_TRY(vec_push(p, &v, &w, sizeof w));
    TSR_TRY(vec_push(p, &v, &t, sizeof t));
  }
  if (v.n == 0)
    return expected(p, "WHEN");
  e->nargs = v.n;
  e->args = v.data;
  if (accept_kw(p, "else"))
    TSR_TRY(parse_expr(p, &e->else_expr));
  TSR_TRY(expect_kw(p, "END"));
  e->end = prev_end(p);
  *out = e;
  return TSR_OK;
}

static tsr_status parse_primary(parser *p, tsr__sql_expr **out) {
  const tok *t = peek(p);
  const tok *t1 = peek_at(p, 1);
  tsr__sql_expr *e;
  switch (t->kind) {
  case SQ_INT:
  case SQ_FLOAT:
    p->i++;
    TSR_TRY(new_expr(p, t->kind == SQ_INT ? SQL_E_INT : SQL_E_FLOAT, t->pos, &e));
    e->int_value = t->ival;
    e->float_value = t->fval;
    *out = e;
    return TSR_OK;
  case SQ_STRING:
    p->i++;
    TSR_TRY(new_expr(p, SQL_E_STRING, t->pos, &e));
    e->text = t->text;
    e->text_len = t->text_len;
    *out = e;
    return TSR_OK;
  case SQ_LPAREN: /* the nested parse_expr or parse_query counts the level */
    p->i++;
    if (is_kw(t1, "select") || is_kw(t1, "with")) {
      TSR_TRY(new_expr(p, SQL_E_SUBQUERY, t->pos, &e));
      TSR_TRY(parse_query(p, &e->subquery));
      TSR_TRY(expect(p, SQ_RPAREN, "')'"));
      e->end = prev_end(p);
    } else {
      TSR_TRY(parse_expr(p, &e));
      if (peek(p)->kind == SQ_COMMA)
        return unsupported(p, peek(p)->pos, "row values (a, b, ...) are not supported");
      TSR_TRY(expect(p, SQ_RPAREN, "')'"));
    }
    *out = e;
    return TSR_OK;
  case SQ_QIDENT:
  case SQ_IDENT:
    break;
  default:
    return fail_at(p, t);
  }
  if (t->kind == SQ_IDENT) {
    if (is_kw(t, "true") || is_kw(t, "false")) {
      p->i++;
      TSR_TRY(new_expr(p, SQL_E_BOOL, t->pos, out));
      (*out)->bool_value = is_kw(t, "true");
      return TSR_OK;
    }
    if (is_kw(t, "null")) {
      p->i++;
      return new_expr(p, SQL_E_NULL, t->pos, out);
    }
    if (is_kw(t, "case"))
      return parse_case(p, out);
    if (is_kw(t, "exists"))
      return unsupported(p, t->pos, "EXISTS (subquery) is not supported: use a SEMI JOIN");
    if ((is_kw(t, "date") || is_kw(t, "timestamp")) && t1->kind == SQ_STRING) {
      p->i += 2;
      TSR_TRY(new_expr(p, SQL_E_TYPED, t->pos, &e));
      if ((e->type_name = lower_dup(p, t->text)) == NULL)
        return TSR_ENOMEM;
      e->text = t1->text;
      e->text_len = t1->text_len;
      *out = e;
      return TSR_OK;
    }
    if (is_kw(t, "interval") && t1->kind == SQ_STRING)
      return unsupported(p, t->pos, "INTERVAL literals are not supported");
    if (t1->kind == SQ_LPAREN) {
      static const char *const special[] = {"cast", "try_cast", "extract", "substring", "trim"};
      for (size_t k = 0; k < sizeof special / sizeof *special; k++)
        if (ascii_ieq(t->text, special[k]))
          return parse_special(p, special[k], out);
      if (reserved(t->text) && !is_kw(t, "left") && !is_kw(t, "right"))
        return fail_at(p, t);
      return parse_call(p, out);
    }
    if (reserved(t->text))
      return fail_at(p, t);
  }
  /* [qualifier.]column */
  p->i++;
  TSR_TRY(new_expr(p, SQL_E_COLUMN, t->pos, &e));
  e->column = ident_of(t);
  if (accept(p, SQ_DOT)) {
    if (peek(p)->kind == SQ_STAR)
      return unsupported(p, peek(p)->pos, "qualifier.* is only allowed in a select list");
    e->qualifier = e->column;
    TSR_TRY(expect_name(p, true, "a column name", &e->column));
    if (peek(p)->kind == SQ_DOT || peek(p)->kind == SQ_LPAREN)
      return fail_at(p, peek(p));
  }
  e->end = prev_end(p);
  *out = e;
  return TSR_OK;
}

/* primary { :: type } */
static tsr_status parse_postfix(parser *p, tsr__sql_expr **out) {
  int32_t start = peek(p)->pos, chain = 0;
  TSR_TRY(parse_primary(p, out));
  while (accept(p, SQ_COLONCOLON)) {
    TSR_TRY(enter(p));
    chain++;
    tsr__sql_expr *e;
    TSR_TRY(binary(p, SQL_E_CAST, SQL_OP_NONE, start, 1, out, &e));
    TSR_TRY(parse_type(p, &e->type_name));
    e->end = prev_end(p);
    *out = e;
  }
  p->depth -= chain;
  return TSR_OK;
}

static tsr_status parse_unary(parser *p, tsr__sql_expr **out) {
  const tok *t = peek(p);
  if (t->kind != SQ_MINUS && t->kind != SQ_PLUS)
    return parse_postfix(p, out);
  int32_t at = p->i;
  p->i++;
  TSR_TRY(enter(p));
  tsr__sql_expr *arg;
  TSR_TRY(parse_unary(p, &arg));
  p->depth--;
  const tok *lit = &p->t[at + 1];
  if (t->kind == SQ_MINUS && p->i == at + 2 && (lit->kind == SQ_INT || lit->kind == SQ_FLOAT)) {
    /* -literal: a negative literal */
    if (lit->kind == SQ_INT) {
      arg->int_value = -arg->int_value;
      arg->float_value = -arg->float_value;
    } else if (lit->int_min_magnitude) {
      arg->kind = SQL_E_INT;
      arg->int_value = INT64_MIN;
      arg->float_value = -arg->float_value;
    } else {
      arg->float_value = -arg->float_value;
    }
    arg->pos = t->pos;
    *out = arg;
    return TSR_OK;
  }
  return binary(p, SQL_E_UNARY, t->kind == SQ_MINUS ? SQL_OP_NEG : SQL_OP_PLUS, t->pos, 1, &arg,
                out);
}

static tsr_status parse_mul(parser *p, tsr__sql_expr **out) {
  int32_t start = peek(p)->pos, chain = 0;
  TSR_TRY(parse_unary(p, out));
  for (;;) {
    tsr__sql_op op;
    switch (peek(p)->kind) {
    case SQ_STAR:
      op = SQL_OP_MUL;
      break;
    case SQ_SLASH:
      op = SQL_OP_DIV;
      break;
    case SQ_SLASHSLASH:
      op = SQL_OP_INTDIV;
      break;
    case SQ_PERCENT:
      op = SQL_OP_MOD;
      break;
    default:
      p->depth -= chain;
      return TSR_OK;
    }
    p->i++;
    TSR_TRY(enter(p));
    chain++;
    tsr__sql_expr *args[2] = {*out, NULL};
    TSR_TRY(parse_unary(p, &args[1]));
    TSR_TRY(binary(p, SQL_E_BINARY, op, start, 2, args, out));
  }
}

static tsr_status parse_add(parser *p, tsr__sql_expr **out) {
  int32_t start = peek(p)->pos, chain = 0;
  TSR_TRY(parse_mul(p, out));
  while (peek(p)->kind == SQ_PLUS || peek(p)->kind == SQ_MINUS) {
    tsr__sql_op op = peek(p)->kind == SQ_PLUS ? SQL_OP_ADD : SQL_OP_SUB;
    p->i++;
    TSR_TRY(enter(p));
    chain++;
    tsr__sql_expr *args[2] = {*out, NULL};
    TSR_TRY(parse_mul(p, &args[1]));
    TSR_TRY(binary(p, SQL_E_BINARY, op, start, 2, args, out));
  }
  p->depth -= chain;
  return TSR_OK;
}

static tsr_status parse_concat(parser *p, tsr__sql_expr **out) {
  int32_t start = peek(p)->pos, chain = 0;
  TSR_TRY(parse_add(p, out));
  while (accept(p, SQ_CONCAT)) {
    TSR_TRY(enter(p));
    chain++;
    tsr__sql_expr *args[2] = {*out, NULL};
    TSR_TRY(parse_add(p, &args[1]));
    TSR_TRY(binary(p, SQL_E_BINARY, SQL_OP_CONCAT, start, 2, args, out));
  }
  p->depth -= chain;
  return TSR_OK;
}

/* The predicates, as DuckDB's (PostgreSQL's) grammar binds them, loosest
 * first: IS [NOT] NULL / TRUE / FALSE (postfix, may repeat); comparisons
 * (non-associative: a = b = c is a syntax error at the second '='); [NOT]
 * LIKE / ILIKE / BETWEEN / IN (non-associative).  So a = b IS NULL is
 * (a = b) IS NULL and a = b LIKE c is a = (b LIKE c).  `min` is the loosest
 * level taken here: PRED_IS, PRED_CMP (the right operand of a comparison)
 * or PRED_LIKE. */
enum { PRED_IS = 1, PRED_CMP, PRED_LIKE };

static tsr_status parse_pred(parser *p, int min, tsr__sql_expr **out) {
  int32_t start = peek(p)->pos, chain = 0;
  int last = 0; /* the level of the operator that made *out here */
  TSR_TRY(parse_concat(p, out));
  for (;;) {
    const tok *t = peek(p);
    tsr__sql_op op = SQL_OP_NONE;
    switch (t->kind) {
    case SQ_EQ:
      op = SQL_OP_EQ;
      break;
    case SQ_NE:
      op = SQL_OP_NE;
      break;
    case SQ_LT:
      op = SQL_OP_LT;
      break;
    case SQ_LE:
      op = SQL_OP_LE;
      break;
    case SQ_GT:
      op = SQL_OP_GT;
      break;
    case SQ_GE:
      op = SQL_OP_GE;
      break;
    default:
      break;
    }
    tsr__sql_expr *args[3] = {*out, NULL, NULL};
    if (op != SQL_OP_NONE) {
      if (min > PRED_CMP)
        break;
      if (last == PRED_CMP)
        return fail_at(p, t);
      p->i++;
      TSR_TRY(enter(p));
      chain++;
      TSR_TRY(parse_pred(p, PRED_LIKE, &args[1]));
      TSR_TRY(binary(p, SQL_E_BINARY, op, start, 2, args, out));
      last = PRED_CMP;
      continue;
    }
    if (is_kw(t, "is")) {
      if (min > PRED_IS)
        break;
      p->i++;
      TSR_TRY(enter(p));
      chain++;
      bool negated = accept_kw(p, "not");
      tsr__sql_expr *e;
      if (accept_kw(p, "null")) {
        TSR_TRY(binary(p, SQL_E_IS_NULL, SQL_OP_NONE, start, 1, args, &e));
      } else if (is_kw(peek(p), "true") || is_kw(peek(p), "false")) {
        bool value = is_kw(peek(p), "true");
        p->i++;
        TSR_TRY(binary(p, SQL_E_IS_BOOL, SQL_OP_NONE, start, 1, args, &e));
        e->bool_value = value;
      } else if (is_kw(peek(p), "distinct")) {
        return unsupported(p, peek(p)->pos, "IS [NOT] DISTINCT FROM is not supported");
      } else {
        return expected(p, "NULL, TRUE or FALSE");
      }
      e->negated = negated;
      *out = e;
      last = PRED_IS;
      continue;
    }
    const tok *t1 = is_kw(t, "not") ? peek_at(p, 1) : t;
    bool like = is_kw(t1, "like") || is_kw(t1, "ilike");
    if (!like && !is_kw(t1, "between") && !is_kw(t1, "in"))
      break; /* a NOT that belongs to no operator here: the caller's syntax error */
    if (last == PRED_LIKE)
      return fail_at(p, t);
    bool negated = t1 != t;
    p->i += negated ? 2 : 1;
    TSR_TRY(enter(p));
    chain++;
    if (like) {
      op = is_kw(t1, "like") ? SQL_OP_LIKE : SQL_OP_ILIKE;
      TSR_TRY(parse_concat(p, &args[1]));
      TSR_TRY(binary(p, SQL_E_BINARY, op, start, 2, args, out));
    } else if (is_kw(t1, "between")) {
      TSR_TRY(parse_concat(p, &args[1]));
      TSR_TRY(expect_kw(p, "AND"));
      TSR_TRY(parse_concat(p, &args[2]));
      TSR_TRY(binary(p, SQL_E_BETWEEN, SQL_OP_NONE, start, 3, args, out));
    } else {
      TSR_TRY(expect(p, SQ_LPAREN, "'('"));
      if (is_kw(peek(p), "select") || is_kw(peek(p), "with"))
        return unsupported(p, peek(p)->pos,
                           "IN (subquery) is not supported: use a SEMI JOIN (or ANTI JOIN)");
      vec v = {0};
      TSR_TRY(vec_push(p, &v, out, sizeof *out));
      TSR_TRY(parse_expr_list(p, &v));
      TSR_TRY(expect(p, SQ_RPAREN, "')'"));
      TSR_TRY(binary(p, SQL_E_IN_LIST, SQL_OP_NONE, start, v.n, v.data, out));
    }
    (*out)->negated = negated;
    last = PRED_LIKE;
  }
  p->depth -= chain;
  return TSR_OK;
}

static tsr_status parse_not(parser *p, tsr__sql_expr **out) {
  const tok *t = peek(p);
  if (!is_kw(t, "not"))
    return parse_pred(p, PRED_IS, out);
  p->i++;
  TSR_TRY(enter(p));
  tsr__sql_expr *arg;
  TSR_TRY(parse_not(p, &arg));
  p->depth--;
  return binary(p, SQL_E_UNARY, SQL_OP_NOT, t->pos, 1, &arg, out);
}

static tsr_status parse_and(parser *p, tsr__sql_expr **out) {
  int32_t start = peek(p)->pos, chain = 0;
  TSR_TRY(parse_not(p, out));
  while (accept_kw(p, "and")) {
    TSR_TRY(enter(p));
    chain++;
    tsr__sql_expr *args[2] = {*out, NULL};
    TSR_TRY(parse_not(p, &args[1]));
    TSR_TRY(binary(p, SQL_E_BINARY, SQL_OP_AND, start, 2, args, out));
  }
  p->depth -= chain;
  return TSR_OK;
}

static tsr_status parse_expr(parser *p, tsr__sql_expr **out) {
  TSR_TRY(enter(p));
  int32_t start = peek(p)->pos, chain = 0;
  TSR_TRY(parse_and(p, out));
  while (accept_kw(p, "or")) {
    TSR_TRY(enter(p));
    chain++;
    tsr__sql_expr *args[2] = {*out, NULL};
    TSR_TRY(parse_and(p, &args[1]));
    TSR_TRY(binary(p, SQL_E_BINARY, SQL_OP_OR, start, 2, args, out));
  }
  p->depth -= chain + 1;
  return TSR_OK;
}

/* ---- tables ------------------------------------------------------------------------------ */

static tsr_status parse_from(parser *p, tsr__sql_table **out);

static tsr_status parse_alias(parser *p, tsr__sql_ident *alias) {
  if (accept_kw(p, "as"))
    return expect_name(p, true, "an alias", alias);
  if (is_name(peek(p), false))
    return expect_name(p, false, "an alias", alias);
  return TSR_OK;
}

static tsr_status parse_table_primary(parser *p, tsr__sql_table **out) {
  const tok *t = peek(p);
  tsr__sql_table *tb = NULL;
  if (t->kind == SQ_LPAREN) {
    /* a subquery when the first word after the parentheses opening here is SELECT or WITH */
    int k = 1;
    while (peek_at(p, k)->kind == SQ_LPAREN && k <= MAX_DEPTH) /* deeper fails anyway */
      k++;
    const tok *first = peek_at(p, k);
    p->i++;
    if (is_kw(first, "select") || is_kw(first, "with")) {
      NEW(p, tb);
      tb->kind = SQL_T_SUBQUERY;
      TSR_TRY(parse_query(p, &tb->subquery));
    } else { /* a parenthesised join */
      TSR_TRY(enter(p));
      TSR_TRY(parse_from(p, &tb));
      p->depth--;
    }
    TSR_TRY(expect(p, SQ_RPAREN, "')'"));
    tb->pos = t->pos;
  } else if (t->kind == SQ_STRING) {
    p->i++;
    NEW(p, tb);
    tb->kind = SQL_T_PATH;
    tb->path = t->text;
    tb->pos = t->pos;
  } else if (is_name(t, false)) {
    if (peek_at(p, 1)->kind == SQ_LPAREN)
      return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                             "table functions are not supported: name a file in quotes (FROM "
                             "'data.csv')");
    p->i++;
    NEW(p, tb);
    tb->kind = SQL_T_NAME;
    tb->name = ident_of(t);
    tb->pos = t->pos;
  } else {
    return expected(p, "a table name, a quoted path or a subquery");
  }
  if (tb->alias.name == NULL)
    TSR_TRY(parse_alias(p, &tb->alias));
  *out = tb;
  return TSR_OK;
}

static tsr_status join_node(parser *p, tsr__sql_join_kind kind, tsr__sql_table *left,
                            tsr__sql_table **out) {
  tsr__sql_table *j;
  NEW(p, j);
  j->kind = SQL_T_JOIN;
  j->join = kind;
  j->left = left;
  j->pos = left->pos;
  *out = j;
  return TSR_OK;
}

/* table { JOIN table [ON e | USING (cols)] } */
static tsr_status parse_join_chain(parser *p, tsr__sql_table **out) {
  int chain = 0;
  TSR_TRY(parse_table_primary(p, out));
  for (;;) {
    tsr__sql_join_kind kind;
    bool asof_left = false;
    const tok *t = peek(p);
    if (accept_kw(p, "cross")) {
      kind = SQL_JOIN_CROSS;
    } else if (is_kw(t, "join")) {
      kind = SQL_JOIN_INNER; /* JOIN itself is taken below */
    } else if (accept_kw(p, "inner")) {
      kind = SQL_JOIN_INNER;
    } else if (accept_kw(p, "left")) {
      kind = SQL_JOIN_LEFT;
      (void)accept_kw(p, "outer");
    } else if (accept_kw(p, "right")) {
      kind = SQL_JOIN_RIGHT;
      (void)accept_kw(p, "outer");
    } else if (accept_kw(p, "full")) {
      kind = SQL_JOIN_FULL;
      (void)accept_kw(p, "outer");
    } else if (accept_kw(p, "semi")) {
      kind = SQL_JOIN_SEMI;
    } else if (accept_kw(p, "anti")) {
      kind = SQL_JOIN_ANTI;
    } else if (accept_kw(p, "asof")) {
      kind = SQL_JOIN_ASOF;
      asof_left = accept_kw(p, "left");
    } else if (is_kw(t, "natural") || is_kw(t, "positional") || is_kw(t, "lateral")) {
      return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "%.*s JOIN is not supported",
                             msg_len(p, t), p->src + t->pos);
    } else {
      break;
    }
    TSR_TRY(expect_kw(p, "JOIN"));
    TSR_TRY(enter(p));
    chain++;
    tsr__sql_table *j;
    TSR_TRY(join_node(p, kind, *out, &j));
    j->asof_left = asof_left;
    TSR_TRY(parse_table_primary(p, &j->right));
    if (kind != SQL_JOIN_CROSS) {
      if (accept_kw(p, "on")) {
        TSR_TRY(parse_expr(p, &j->on));
      } else if (accept_kw(p, "using")) {
        TSR_TRY(expect(p, SQ_LPAREN, "'('"));
        vec v = {0};
        do {
          tsr__sql_ident id;
          TSR_TRY(expect_name(p, true, "a column name", &id));
          TSR_TRY(vec_push(p, &v, &id, sizeof id));
        } while (accept(p, SQ_COMMA));
        TSR_TRY(expect(p, SQ_RPAREN, "')'"));
        j->nusing = v.n;
        j->using_cols = v.data;
      } else {
        return expected(p, "ON or USING");
      }
    }
    *out = j;
  }
  p->depth -= chain;
  return TSR_OK;
}

/* chain {, chain}: commas are CROSS JOINs, looser than JOIN */
static tsr_status parse_from(parser *p, tsr__sql_table **out) {
  int chain = 0;
  TSR_TRY(parse_join_chain(p, out));
  while (accept(p, SQ_COMMA)) {
    TSR_TRY(enter(p));
    chain++;
    tsr__sql_table *j;
    TSR_TRY(join_node(p, SQL_JOIN_CROSS, *out, &j));
    TSR_TRY(parse_join_chain(p, &j->right));
    *out = j;
  }
  p->depth -= chain;
  return TSR_OK;
}

/* ---- queries ----------------------------------------------------------------------------- */

static tsr_status parse_item(parser *p, tsr__sql_item *item) {
  const tok *t = peek(p);
  if (t->kind == SQ_STAR) {
    p->i++;
    return new_expr(p, SQL_E_STAR, t->pos, &item->expr);
  }
  if (is_name(t, false) && peek_at(p, 1)->kind == SQ_DOT && peek_at(p, 2)->kind == SQ_STAR) {
    p->i += 3;
    TSR_TRY(new_expr(p, SQL_E_STAR, t->pos, &item->expr));
    item->expr->qualifier = ident_of(t);
    return TSR_OK;
  }
  TSR_TRY(parse_expr(p, &item->expr));
  return parse_alias(p, &item->alias);
}

static tsr_status parse_select(parser *p, tsr__sql_select **out) {
  tsr__sql_select *s;
  NEW(p, s);
  s->pos = peek(p)->pos;
  p->i++; /* SELECT */
  if (accept_kw(p, "distinct")) {
    s->distinct = true;
    if (is_kw(peek(p), "on"))
      return unsupported(p, peek(p)->pos, "DISTINCT ON is not supported");
  } else {
    (void)accept_kw(p, "all");
  }
  vec items = {0};
  do {
    tsr__sql_item item = {0};
    TSR_TRY(parse_item(p, &item));
    TSR_TRY(vec_push(p, &items, &item, sizeof item));
  } while (accept(p, SQ_COMMA));
  s->nitems = items.n;
  s->items = items.data;
  if (accept_kw(p, "from"))
    TSR_TRY(parse_from(p, &s->from));
  if (accept_kw(p, "where"))
    TSR_TRY(parse_expr(p, &s->where));
  if (accept_kw(p, "group")) {
    TSR_TRY(expect_kw(p, "BY"));
    if (accept_kw(p, "all")) {
      s->group_all = true;
    } else {
      vec v = {0};
      TSR_TRY(parse_expr_list(p, &v));
      s->ngroup = v.n;
      s->group = v.data;
    }
  }
  if (accept_kw(p, "having"))
    TSR_TRY(parse_expr(p, &s->having));
  *out = s;
  return TSR_OK;
}

/* SELECT * FROM (q): for a query that already has the clauses about to be added. */
static tsr_status wrap(parser *p, tsr__sql_query **q) {
  tsr__sql_query *w;
  tsr__sql_select *s;
  tsr__sql_table *t;
  tsr__sql_item *item;
  NEW(p, w);
  NEW(p, s);
  NEW(p, t);
  NEW(p, item);
  TSR_TRY(new_expr(p, SQL_E_STAR, (*q)->pos, &item->expr));
  item->expr->end = item->expr->pos;
  t->kind = SQL_T_SUBQUERY;
  t->subquery = *q;
  t->pos = (*q)->pos;
  s->pos = (*q)->pos;
  s->nitems = 1;
  s->items = item;
  s->from = t;
  w->kind = SQL_Q_SELECT;
  w->pos = (*q)->pos;
  w->select = s;
  *q = w;
  return TSR_OK;
}

static tsr_status select_query(parser *p, tsr__sql_query **out) {
  tsr__sql_query *q;
  NEW(p, q);
  q->kind = SQL_Q_SELECT;
  q->pos = peek(p)->pos;
  TSR_TRY(parse_select(p, &q->select));
  *out = q;
  return TSR_OK;
}

/* SELECT ... | ( query ) */
static tsr_status parse_operand(parser *p, tsr__sql_query **out) {
  const tok *t = peek(p);
  if (is_kw(t, "select"))
    return select_query(p, out);
  if (t->kind == SQ_LPAREN) {
    p->i++;
    TSR_TRY(parse_query(p, out));
    return expect(p, SQ_RPAREN, "')'");
  }
  if (is_kw(t, "values") || is_kw(t, "from"))
    return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "%.*s queries are not supported",
                           msg_len(p, t), p->src + t->pos);
  return expected(p, "SELECT");
}

static tsr_status parse_union(parser *p, tsr__sql_query **out) {
  int chain = 0;
  TSR_TRY(parse_operand(p, out));
  for (;;) {
    const tok *t = peek(p);
    if (is_kw(t, "intersect") || is_kw(t, "except"))
      return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                             "%.*s is not supported (only UNION and UNION ALL)", msg_len(p, t),
                             p->src + t->pos);
    if (!accept_kw(p, "union"))
      break;
    TSR_TRY(enter(p));
    chain++;
    tsr__sql_query *u;
    NEW(p, u);
    u->kind = SQL_Q_UNION;
    u->pos = (*out)->pos;
    u->left = *out;
    u->all = accept_kw(p, "all");
    if (!u->all)
      (void)accept_kw(p, "distinct");
    if (is_kw(peek(p), "by"))
      return unsupported(p, peek(p)->pos, "UNION BY NAME is not supported");
    TSR_TRY(parse_operand(p, &u->right));
    *out = u;
  }
  p->depth -= chain;
  return TSR_OK;
}

/* [WITH ctes] union [ORDER BY ...] [LIMIT e] [OFFSET e] */
static tsr_status parse_query(parser *p, tsr__sql_query **out) {
  TSR_TRY(enter(p));
  int32_t pos = peek(p)->pos;
  vec ctes = {0};
  if (accept_kw(p, "with")) {
    if (is_kw(peek(p), "recursive"))
      return unsupported(p, peek(p)->pos, "WITH RECURSIVE is not supported");
    do {
      tsr__sql_cte cte = {0};
      TSR_TRY(expect_name(p, false, "a name", &cte.name));
      TSR_TRY(expect_kw(p, "AS"));
      TSR_TRY(expect(p, SQ_LPAREN, "'('"));
      TSR_TRY(parse_query(p, &cte.query));
      TSR_TRY(expect(p, SQ_RPAREN, "')'"));
      TSR_TRY(vec_push(p, &ctes, &cte, sizeof cte));
    } while (accept(p, SQ_COMMA));
  }
  tsr__sql_query *q;
  TSR_TRY(parse_union(p, &q));
  int norder = 0;
  tsr__sql_order *order = NULL;
  tsr__sql_expr *limit = NULL, *offset = NULL;
  if (accept_kw(p, "order")) {
    TSR_TRY(expect_kw(p, "BY"));
    TSR_TRY(parse_order_list(p, &norder, &order));
  }
  for (;;) {
    if (limit == NULL && accept_kw(p, "limit"))
      TSR_TRY(parse_expr(p, &limit));
    else if (offset == NULL && accept_kw(p, "offset"))
      TSR_TRY(parse_expr(p, &offset));
    else
      break;
  }
  if ((norder > 0 || limit != NULL || offset != NULL) &&
      (q->norder > 0 || q->limit != NULL || q->offset != NULL))
    TSR_TRY(wrap(p, &q));
  if (norder > 0) {
    q->norder = norder;
    q->order = order;
  }
  if (limit != NULL)
    q->limit = limit;
  if (offset != NULL)
    q->offset = offset;
  if (ctes.n > 0) {
    if (q->nctes > 0)
      TSR_TRY(wrap(p, &q));
    q->nctes = ctes.n;
    q->ctes = ctes.data;
    q->pos = pos;
  }
  p->depth--;
  *out = q;
  return TSR_OK;
}

/* ---- statements -------------------------------------------------------------------------- */

static tsr_status parse_copy_options(parser *p, tsr__sql_stmt *st) {
  vec v = {0};
  do {
    tsr__sql_option o = {0};
    const tok *t = peek(p);
    if (t->kind != SQ_IDENT)
      return expected(p, "an option name");
    o.pos = t->pos;
    p->i++;
    if ((o.name = lower_dup(p, t->text)) == NULL)
      return TSR_ENOMEM;
    const tok *val = peek(p);
    switch (val->kind) {
    case SQ_COMMA:
    case SQ_RPAREN:
      break;
    case SQ_STRING:
      o.value = val->text;
      break;
    case SQ_IDENT:
      o.value = lower_dup(p, val->text);
      break;
    case SQ_INT:
    case SQ_FLOAT:
      o.value = tsr__query_arena_strndup(p->arena, p->src + val->pos, val->len);
      break;
    default:
      return expected(p, "an option value");
    }
    if (val->kind != SQ_COMMA && val->kind != SQ_RPAREN) {
      if (o.value == NULL)
        return TSR_ENOMEM;
      p->i++;
    }
    TSR_TRY(vec_push(p, &v, &o, sizeof o));
  } while (accept(p, SQ_COMMA));
  st->noptions = v.n;
  st->options = v.data;
  return expect(p, SQ_RPAREN, "')'");
}

static tsr_status parse_copy(parser *p, tsr__sql_stmt *st) {
  st->kind = SQL_S_COPY;
  const tok *t = peek(p);
  if (accept(p, SQ_LPAREN)) {
    TSR_TRY(parse_query(p, &st->query));
    TSR_TRY(expect(p, SQ_RPAREN, "')'"));
  } else if (is_name(t, false)) {
    /* COPY name TO ...: SELECT * FROM name */
    p->i++;
    tsr__sql_query *q;
    tsr__sql_table *tb;
    NEW(p, q);
    NEW(p, q->select);
    NEW(p, tb);
    NEW(p, q->select->items);
    tb->kind = SQL_T_NAME;
    tb->name = ident_of(t);
    tb->pos = t->pos;
    TSR_TRY(new_expr(p, SQL_E_STAR, t->pos, &q->select->items[0].expr));
    q->select->items[0].expr->end = t->pos;
    q->select->nitems = 1;
    q->select->from = tb;
    q->select->pos = t->pos;
    q->kind = SQL_Q_SELECT;
    q->pos = t->pos;
    st->query = q;
  } else {
    return expected(p, "'(' and a query, or a table name");
  }
  TSR_TRY(expect_kw(p, "TO"));
  if (peek(p)->kind != SQ_STRING)
    return expected(p, "a quoted file path");
  st->path = peek(p)->text;
  st->path_pos = peek(p)->pos;
  p->i++;
  (void)accept_kw(p, "with");
  if (accept(p, SQ_LPAREN))
    TSR_TRY(parse_copy_options(p, st));
  return TSR_OK;
}

static tsr_status parse_stmt(parser *p, tsr__sql_stmt **out) {
  tsr__sql_stmt *st;
  NEW(p, st);
  const tok *t = peek(p);
  st->pos = t->pos;
  if (is_kw(t, "select") || is_kw(t, "with") || t->kind == SQ_LPAREN) {
    st->kind = SQL_S_QUERY;
    TSR_TRY(parse_query(p, &st->query));
  } else if (accept_kw(p, "explain")) {
    st->kind = SQL_S_EXPLAIN;
    st->analyze = accept_kw(p, "analyze") || accept_kw(p, "analyse");
    TSR_TRY(parse_query(p, &st->query));
  } else if (accept_kw(p, "create")) {
    if (accept_kw(p, "or")) {
      TSR_TRY(expect_kw(p, "REPLACE"));
      st->or_replace = true;
    }
    if (accept_kw(p, "table"))
      st->kind = SQL_S_CREATE_TABLE;
    else if (accept_kw(p, "view"))
      st->kind = SQL_S_CREATE_VIEW;
    else
      return expected(p, "TABLE or VIEW");
    TSR_TRY(expect_name(p, false, "a name", &st->name));
    TSR_TRY(expect_kw(p, "AS"));
    TSR_TRY(parse_query(p, &st->query));
  } else if (accept_kw(p, "drop")) {
    st->kind = SQL_S_DROP;
    if (accept_kw(p, "view"))
      st->drop_view = true;
    else if (!accept_kw(p, "table"))
      return expected(p, "TABLE or VIEW");
    if (accept_kw(p, "if")) {
      TSR_TRY(expect_kw(p, "EXISTS"));
      st->if_exists = true;
    }
    TSR_TRY(expect_name(p, false, "a name", &st->name));
  } else if (accept_kw(p, "copy")) {
    TSR_TRY(parse_copy(p, st));
  } else if (t->kind == SQ_IDENT) {
    return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                           "unknown statement \"%.*s\" (expected SELECT, WITH, CREATE, DROP, COPY "
                           "or EXPLAIN)",
                           msg_len(p, t), p->src + t->pos);
  } else {
    return fail_at(p, t);
  }
  st->end = prev_end(p);
  *out = st;
  return TSR_OK;
}

static tsr_status parse_script(parser *p, tsr__sql_script *script) {
  vec v = {0};
  for (;;) {
    while (accept(p, SQ_SEMI))
      ;
    if (peek(p)->kind == SQ_EOF)
      break;
    tsr__sql_stmt *st = NULL;
    TSR_TRY(parse_stmt(p, &st));
    TSR_TRY(vec_push(p, &v, &st, sizeof st));
    if (peek(p)->kind != SQ_SEMI && peek(p)->kind != SQ_EOF)
      return fail_at(p, peek(p));
  }
  script->nstmts = v.n;
  script->stmts = v.data;
  return TSR_OK;
}

tsr_status tsr__sql_parse_len(tsr_ctx *ctx, const char *source, size_t len, tsr__sql_script **out) {
  *out = NULL;
  TSR_CHECK(ctx != NULL && (source != NULL || len == 0), TSR_EINVAL,
            "tsr__sql_parse: NULL context or source");
  tsr__qarena arena = {.ctx = ctx, .head = NULL};
  tsr__sqltoken *toks = NULL;
  int32_t ntoks = 0;
  tsr_status s = TSR_ENOMEM;
  tsr__sql_script *script = tsr__query_arena_alloc(&arena, sizeof *script);
  char *copy = script ? tsr__query_arena_strndup(&arena, len ? source : "", len) : NULL;
  if (copy == NULL)
    goto fail;
  script->source = copy;
  s = tsr__sql_lex(&arena, copy, len, &toks, &ntoks);
  if (s != TSR_OK)
    goto fail;
  parser p = {.arena = &arena, .src = copy, .t = toks, .n = ntoks, .i = 0, .depth = 0};
  s = parse_script(&p, script);
  if (s != TSR_OK)
    goto fail;
  tsr_free(ctx, toks);
  script->arena = arena;
  *out = script;
  return TSR_OK;
fail:
  tsr_free(ctx, toks);
  tsr__query_arena_free(&arena);
  return s;
}

tsr_status tsr__sql_parse(tsr_ctx *ctx, const char *source, tsr__sql_script **out) {
  return tsr__sql_parse_len(ctx, source, source ? strlen(source) : 0, out);
}

void tsr__sql_script_destroy(tsr__sql_script **script) {
  if (script == NULL || *script == NULL)
    return;
  tsr__qarena arena = (*script)->arena;
  *script = NULL;
  tsr__query_arena_free(&arena);
}

/* ---- printing ---------------------------------------------------------------------------- */

static void print_dq(const char *s, FILE *out) {
  fputc('"', out);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', out);
    fputc(*s, out);
  }
  fputc('"', out);
}

static void print_sq(const char *s, size_t n, FILE *out) {
  fputc('\'', out);
  for (size_t k = 0; k < n; k++) {
    if (s[k] == '\'')
      fputc('\'', out);
    fputc(s[k], out);
  }
  fputc('\'', out);
}

static void print_ident(const tsr__sql_ident *id, FILE *out) {
  if (id->quoted)
    print_dq(id->name, out);
  else
    fputs(id->name, out);
}

/* The shortest %g that reads back as v, always showing it is a double. */
static void print_double(double v, FILE *out) {
  char buf[40];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      break;
  }
  if (strpbrk(buf, ".eEni") == NULL)
    strcat(buf, ".0");
  fputs(buf, out);
}

static void print_query(const tsr__sql_query *q, FILE *out);
static void print_expr(const tsr__sql_expr *e, FILE *out);

static void print_order(int n, const tsr__sql_order *o, FILE *out) {
  fputs("(order", out);
  for (int k = 0; k < n; k++) {
    fputs(o[k].descending ? " (desc " : " (asc ", out);
    print_expr(o[k].expr, out);
    if (o[k].nulls != SQL_NULLS_DEFAULT)
      fputs(o[k].nulls == SQL_NULLS_FIRST ? " nulls-first" : " nulls-last", out);
    fputc(')', out);
  }
  fputc(')', out);
}

static const char *op_name(tsr__sql_op op, bool negated) {
  switch (op) {
  case SQL_OP_NEG:
    return "neg";
  case SQL_OP_PLUS:
    return "pos";
  case SQL_OP_NOT:
    return "not";
  case SQL_OP_ADD:
    return "+";
  case SQL_OP_SUB:
    return "-";
  case SQL_OP_MUL:
    return "*";
  case SQL_OP_DIV:
    return "/";
  case SQL_OP_INTDIV:
    return "//";
  case SQL_OP_MOD:
    return "%";
  case SQL_OP_CONCAT:
    return "||";
  case SQL_OP_EQ:
    return "=";
  case SQL_OP_NE:
    return "<>";
  case SQL_OP_LT:
    return "<";
  case SQL_OP_LE:
    return "<=";
  case SQL_OP_GT:
    return ">";
  case SQL_OP_GE:
    return ">=";
  case SQL_OP_AND:
    return "and";
  case SQL_OP_OR:
    return "or";
  case SQL_OP_LIKE:
    return negated ? "not-like" : "like";
  case SQL_OP_ILIKE:
    return negated ? "not-ilike" : "ilike";
  case SQL_OP_NONE:
    break;
  }
  return "?";
}

static void print_args(const tsr__sql_expr *e, int from, FILE *out) {
  for (int k = from; k < e->nargs; k++) {
    fputc(' ', out);
    print_expr(e->args[k], out);
  }
}

static void print_expr(const tsr__sql_expr *e, FILE *out) {
  switch (e->kind) {
  case SQL_E_COLUMN:
    fputs("(col ", out);
    if (e->qualifier.name != NULL) {
      print_ident(&e->qualifier, out);
      fputc('.', out);
    }
    print_ident(&e->column, out);
    fputc(')', out);
    break;
  case SQL_E_STAR:
    if (e->qualifier.name != NULL) {
      print_ident(&e->qualifier, out);
      fputc('.', out);
    }
    fputc('*', out);
    break;
  case SQL_E_INT:
    fprintf(out, "%" PRId64, e->int_value);
    break;
  case SQL_E_FLOAT:
    print_double(e->float_value, out);
    break;
  case SQL_E_STRING:
    print_sq(e->text, e->text_len, out);
    break;
  case SQL_E_BOOL:
    fputs(e->bool_value ? "true" : "false", out);
    break;
  case SQL_E_NULL:
    fputs("null", out);
    break;
  case SQL_E_TYPED:
    fprintf(out, "(%s ", e->type_name);
    print_sq(e->text, e->text_len, out);
    fputc(')', out);
    break;
  case SQL_E_UNARY:
  case SQL_E_BINARY:
    fprintf(out, "(%s", op_name(e->op, e->negated));
    print_args(e, 0, out);
    fputc(')', out);
    break;
  case SQL_E_IS_NULL:
    fputs(e->negated ? "(is-not-null" : "(is-null", out);
    print_args(e, 0, out);
    fputc(')', out);
    break;
  case SQL_E_IS_BOOL:
    fprintf(out, "(is-%s%s", e->negated ? "not-" : "", e->bool_value ? "true" : "false");
    print_args(e, 0, out);
    fputc(')', out);
    break;
  case SQL_E_BETWEEN:
  case SQL_E_IN_LIST:
    fprintf(out, "(%s%s", e->negated ? "not-" : "", e->kind == SQL_E_BETWEEN ? "between" : "in");
    print_args(e, 0, out);
    fputc(')', out);
    break;
  case SQL_E_CASE:
    fputs("(case", out);
    if (e->operand != NULL) {
      fputc(' ', out);
      print_expr(e->operand, out);
    }
    for (int k = 0; k + 1 < e->nargs; k += 2) {
      fputs(" (when ", out);
      print_expr(e->args[k], out);
      fputc(' ', out);
      print_expr(e->args[k + 1], out);
      fputc(')', out);
    }
    if (e->else_expr != NULL) {
      fputs(" (else ", out);
      print_expr(e->else_expr, out);
      fputc(')', out);
    }
    fputc(')', out);
    break;
  case SQL_E_CAST:
    fputs(e->try_cast ? "(try-cast" : "(cast", out);
    print_args(e, 0, out);
    fprintf(out, " %s)", e->type_name);
    break;
  case SQL_E_FUNC:
    fprintf(out, "(call %s", e->name);
    if (e->distinct)
      fputs(" distinct", out);
    if (e->star)
      fputs(" *", out);
    print_args(e, 0, out);
    if (e->over != NULL) {
      const tsr__sql_window *w = e->over;
      fputs(" (over", out);
      if (w->npartition > 0) {
        fputs(" (partition", out);
        for (int k = 0; k < w->npartition; k++) {
          fputc(' ', out);
          print_expr(w->partition[k], out);
        }
        fputc(')', out);
      }
      if (w->norder > 0) {
        fputc(' ', out);
        print_order(w->norder, w->order, out);
      }
      if (w->frame == SQL_FRAME_ROWS) {
        if (w->preceding < 0)
          fputs(" (rows unbounded)", out);
        else
          fprintf(out, " (rows %" PRId64 ")", w->preceding);
      }
      fputc(')', out);
    }
    fputc(')', out);
    break;
  case SQL_E_SUBQUERY:
    fputs("(subquery ", out);
    print_query(e->subquery, out);
    fputc(')', out);
    break;
  }
}

static void print_table(const tsr__sql_table *t, FILE *out) {
  static const char *const joins[] = {"inner", "left", "right", "full",
                                      "semi",  "anti", "cross", "asof"};
  if (t->alias.name != NULL)
    fputs("(as ", out);
  switch (t->kind) {
  case SQL_T_NAME:
    fputs("(table ", out);
    print_ident(&t->name, out);
    fputc(')', out);
    break;
  case SQL_T_PATH:
    fputs("(path ", out);
    print_dq(t->path, out);
    fputc(')', out);
    break;
  case SQL_T_SUBQUERY:
    fputs("(subquery ", out);
    print_query(t->subquery, out);
    fputc(')', out);
    break;
  case SQL_T_JOIN:
    fprintf(out, "(join %s%s ", joins[t->join], t->asof_left ? "-left" : "");
    print_table(t->left, out);
    fputc(' ', out);
    print_table(t->right, out);
    if (t->on != NULL) {
      fputs(" (on ", out);
      print_expr(t->on, out);
      fputc(')', out);
    } else if (t->nusing > 0) {
      fputs(" (using", out);
      for (int k = 0; k < t->nusing; k++) {
        fputc(' ', out);
        print_ident(&t->using_cols[k], out);
      }
      fputc(')', out);
    }
    fputc(')', out);
    break;
  }
  if (t->alias.name != NULL) {
    fputc(' ', out);
    print_ident(&t->alias, out);
    fputc(')', out);
  }
}

static void print_query(const tsr__sql_query *q, FILE *out) {
  if (q->kind == SQL_Q_SELECT)
    fputs(q->select->distinct ? "(select distinct" : "(select", out);
  else
    fputs(q->all ? "(union all" : "(union", out);
  if (q->nctes > 0) {
    fputs(" (with", out);
    for (int k = 0; k < q->nctes; k++) {
      fputs(" (", out);
      print_ident(&q->ctes[k].name, out);
      fputc(' ', out);
      print_query(q->ctes[k].query, out);
      fputc(')', out);
    }
    fputc(')', out);
  }
  if (q->kind == SQL_Q_SELECT) {
    const tsr__sql_select *s = q->select;
    fputs(" (items", out);
    for (int k = 0; k < s->nitems; k++) {
      fputc(' ', out);
      if (s->items[k].alias.name != NULL)
        fputs("(as ", out);
      print_expr(s->items[k].expr, out);
      if (s->items[k].alias.name != NULL) {
        fputc(' ', out);
        print_ident(&s->items[k].alias, out);
        fputc(')', out);
      }
    }
    fputc(')', out);
    if (s->from != NULL) {
      fputs(" (from ", out);
      print_table(s->from, out);
      fputc(')', out);
    }
    if (s->where != NULL) {
      fputs(" (where ", out);
      print_expr(s->where, out);
      fputc(')', out);
    }
    if (s->group_all)
      fputs(" (group all)", out);
    if (s->ngroup > 0) {
      fputs(" (group", out);
      for (int k = 0; k < s->ngroup; k++) {
        fputc(' ', out);
        print_expr(s->group[k], out);
      }
      fputc(')', out);
    }
    if (s->having != NULL) {
      fputs(" (having ", out);
      print_expr(s->having, out);
      fputc(')', out);
    }
  } else {
    fputc(' ', out);
    print_query(q->left, out);
    fputc(' ', out);
    print_query(q->right, out);
  }
  if (q->norder > 0) {
    fputc(' ', out);
    print_order(q->norder, q->order, out);
  }
  if (q->limit != NULL) {
    fputs(" (limit ", out);
    print_expr(q->limit, out);
    fputc(')', out);
  }
  if (q->offset != NULL) {
    fputs(" (offset ", out);
    print_expr(q->offset, out);
    fputc(')', out);
  }
  fputc(')', out);
}

void tsr__sql_stmt_print(const tsr__sql_stmt *st, FILE *out) {
  switch (st->kind) {
  case SQL_S_QUERY:
    print_query(st->query, out);
    break;
  case SQL_S_CREATE_TABLE:
  case SQL_S_CREATE_VIEW:
    fputs(st->kind == SQL_S_CREATE_TABLE ? "(create-table " : "(create-view ", out);
    if (st->or_replace)
      fputs("or-replace ", out);
    print_ident(&st->name, out);
    fputc(' ', out);
    print_query(st->query, out);
    fputc(')', out);
    break;
  case SQL_S_DROP:
    fputs(st->drop_view ? "(drop-view " : "(drop-table ", out);
    if (st->if_exists)
      fputs("if-exists ", out);
    print_ident(&st->name, out);
    fputc(')', out);
    break;
  case SQL_S_COPY:
    fputs("(copy ", out);
    print_query(st->query, out);
    fputc(' ', out);
    print_dq(st->path, out);
    if (st->noptions > 0) {
      fputs(" (options", out);
      for (int k = 0; k < st->noptions; k++) {
        fprintf(out, " (%s", st->options[k].name);
        if (st->options[k].value != NULL) {
          fputc(' ', out);
          print_dq(st->options[k].value, out);
        }
        fputc(')', out);
      }
      fputc(')', out);
    }
    fputc(')', out);
    break;
  case SQL_S_EXPLAIN:
    fputs(st->analyze ? "(explain analyze " : "(explain ", out);
    print_query(st->query, out);
    fputc(')', out);
    break;
  }
  fputc('\n', out);
}
