/* colexpr.c — column expressions as text: tsr_frame_assign and
 * tsr_frame_filter (query.h).  The text is split by the language's lexer
 * (lexer.c) and parsed here by recursive descent straight into a column
 * program (frame/colprog.h): no syntax tree, each operator appends one
 * value.  Nesting deeper than MAX_DEPTH is an error rather than C stack.
 *
 * Grammar, loosest first:
 *   expr    := and_ ('or' and_)*
 *   and_    := not_ ('and' not_)*
 *   not_    := 'not' not_ | cmp
 *   cmp     := concat (('=='|'='|'!='|'<'|'<='|'>'|'>=') concat
 *                  | ['not'] ('like'|'ilike') concat | ('contains'|'starts_with') concat
 *                  | ['not'] 'in' '(' expr (',' expr)* ')'
 *                  | ['not'] 'between' concat 'and' concat
 *                  | 'is' ['not'] 'null')?
 *   concat  := add ('||' add)*
 *   add     := mul (('+'|'-') mul)*
 *   mul     := unary (('*'|'/'|'//'|'%') unary)*
 *   unary   := ('-'|'+') unary | atom
 *   atom    := NUMBER | STRING | NAME | `QUOTED NAME` | true | false | null
 *            | NAME '(' expr (',' expr)* ')' | '(' expr ')'
 *            | 'case' [expr] ('when' expr 'then' expr)+ ['else' expr] 'end'
 *            | ('cast'|'try_cast') '(' expr ('as' TYPE | ',' STRING) ')'
 *            | 'extract' '(' PART 'from' expr ')' | 'date_trunc' '(' STRING ',' expr ')'
 * Names are columns; keywords (and or not true false null, case as
 * written or all capitals) name columns only in backticks. */
#include <string.h>
#include <strings.h>

#include "frame/colprog.h"
#include "query_impl.h"

#define MAX_DEPTH 200

typedef struct cparser {
  tsr__qarena arena;
  const char *src;
  tsr__qtoken *toks;
  int32_t at;
  int depth;
  tsr__colprog *prog;
  tsr_frame *f;
} cparser;

/* A parsed operand: its value and its source span. */
typedef struct operand {
  int v;
  int32_t pos, end;
} operand;

static tsr__qtoken *peek(cparser *p) { return &p->toks[p->at]; }
static tsr__qtoken *advance(cparser *p) {
  tsr__qtoken *t = &p->toks[p->at];
  if (t->kind != QT_EOF)
    p->at++;
  return t;
}
static int32_t tok_end(const tsr__qtoken *t) { return t->pos + t->len; }

static bool is_kw(const tsr__qtoken *t, const char *kw) {
  if (t->kind != QT_NAME)
    return false;
  if (strcmp(t->text, kw) == 0)
    return true;
  size_t n = strlen(kw);
  if (strlen(t->text) != n)
    return false;
  for (size_t i = 0; i < n; i++) /* all capitals, as SQL writes them */
    if (t->text[i] != kw[i] - ('a' <= kw[i] && kw[i] <= 'z' ? 32 : 0))
      return false;
  return true;
}

static tsr_status expected(cparser *p, const char *what) {
  tsr__qtoken *t = peek(p);
  char tok[96];
  if (t->kind == QT_NAME || t->kind == QT_NUMBER || t->kind == QT_STRING || t->kind == QT_QNAME)
    snprintf(tok, sizeof tok, "%s '%.*s'", tsr__query_token_desc(t->kind),
             t->len > 40 ? 40 : (int)t->len, p->src + t->pos);
  else
    snprintf(tok, sizeof tok, "%s", tsr__query_token_desc(t->kind));
  return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "expected %s, found %s", what, tok);
}

/* A builder failure, located: "'v1 + id1': cannot add int64 and string". */
static tsr_status located(cparser *p, tsr_status s, int32_t at, int32_t from, int32_t to) {
  if (s == TSR_ENOMEM)
    return s;
  char msg[400];
  snprintf(msg, sizeof msg, "%s", tsr_last_error());
  int len = to - from > 120 ? 120 : (int)(to - from);
  return tsr__query_fail(p->src, at, s, "'%.*s': %s", len, p->src + from, msg);
}

static tsr_status parse_or(cparser *p, operand *out);

static tsr_status binary(cparser *p, tsr__cp_op op, int32_t at, const operand *a,
                         const operand *b, operand *out) {
  int v;
  tsr_status s = tsr__colprog_binary(p->prog, op, a->v, b->v, &v);
  if (s != TSR_OK)
    return located(p, s, at, a->pos, b->end);
  *out = (operand){v, a->pos, b->end};
  if (op <= TSR__CP_MOD)
    TSR_TRY(tsr__colprog_label(p->prog, v, p->src + a->pos, (size_t)(b->end - a->pos)));
  return TSR_OK;
}

static tsr_status unary(cparser *p, tsr__cp_op op, int32_t pos, const operand *a, operand *out) {
  int v;
  tsr_status s = tsr__colprog_unary(p->prog, op, a->v, &v);
  if (s != TSR_OK)
    return located(p, s, pos, pos, a->end);
  *out = (operand){v, pos, a->end};
  if (op == TSR__CP_NEG || op == TSR__CP_ABS)
    TSR_TRY(tsr__colprog_label(p->prog, v, p->src + pos, (size_t)(a->end - pos)));
  return TSR_OK;
}

static const struct {
  const char *name;
  tsr__cp_op op;
  int nargs;
} functions[] = {
    {"is_null", TSR__CP_IS_NULL, 1}, {"abs", TSR__CP_ABS, 1},
    {"sqrt", TSR__CP_SQRT, 1},       {"exp", TSR__CP_EXP, 1},
    {"log", TSR__CP_LOG, 1},         {"ln", TSR__CP_LOG, 1},
    {"log10", TSR__CP_LOG10, 1},     {"log2", TSR__CP_LOG2, 1},
    {"sin", TSR__CP_SIN, 1},         {"cos", TSR__CP_COS, 1},
    {"tan", TSR__CP_TAN, 1},         {"floor", TSR__CP_FLOOR, 1},
    {"ceil", TSR__CP_CEIL, 1},       {"round", TSR__CP_ROUND, 1},
    {"trunc", TSR__CP_TRUNC, 1},     {"lower", TSR__CP_LOWER, 1},
    {"upper", TSR__CP_UPPER, 1},     {"length", TSR__CP_LENGTH, 1},
    {"year", TSR__CP_YEAR, 1},       {"month", TSR__CP_MONTH, 1},
    {"day", TSR__CP_DAY, 1},         {"hour", TSR__CP_HOUR, 1},
    {"trim", TSR__CP_TRIM, 1},       {"ltrim", TSR__CP_LTRIM, 1},
    {"rtrim", TSR__CP_RTRIM, 1},     {"minute", TSR__CP_MINUTE, 1},
    {"second", TSR__CP_SECOND, 1},   {"dayofweek", TSR__CP_DOW, 1},
    {"dow", TSR__CP_DOW, 1},         {"isodow", TSR__CP_ISODOW, 1},
    {"dayofyear", TSR__CP_DOY, 1},   {"doy", TSR__CP_DOY, 1},
    {"quarter", TSR__CP_QUARTER, 1}, {"week", TSR__CP_WEEK, 1},
    {"weekofyear", TSR__CP_WEEK, 1}, {"epoch", TSR__CP_EPOCH, 1},
    {"like", TSR__CP_LIKE, 2},       {"ilike", TSR__CP_ILIKE, 2},
    {"contains", TSR__CP_CONTAINS, 2},
    {"starts_with", TSR__CP_STARTS_WITH, 2},
    {"pow", TSR__CP_POW, 2},         {"power", TSR__CP_POW, 2},
};

bool tsr__colexpr_function(const char *name, int *op, int *nargs) {
  for (size_t k = 0; k < sizeof functions / sizeof functions[0]; k++)
    if (strcmp(functions[k].name, name) == 0) {
      *op = (int)functions[k].op;
      *nargs = functions[k].nargs;
      return true;
    }
  return false;
}

static tsr_status parse_special(cparser *p, const tsr__qtoken *name, operand *out, bool *done);

static tsr_status parse_call(cparser *p, const tsr__qtoken *name, operand *out) {
  bool done = false;
  TSR_TRY(parse_special(p, name, out, &done));
  if (done)
    return TSR_OK;
  size_t k = 0, nf = sizeof functions / sizeof functions[0];
  while (k < nf && strcmp(functions[k].name, name->text) != 0)
    k++;
  if (k == nf)
    return tsr__query_fail(p->src, name->pos, TSR_EPARSE,
                           "unknown function '%s' (column expressions have: is_null, abs, sqrt, "
                           "exp, log, log10, log2, sin, cos, tan, floor, ceil, round, trunc, "
                           "lower, upper, length, trim, ltrim, rtrim, substr, substring, "
                           "replace, concat, coalesce, nullif, cast, try_cast, year, month, "
                           "day, hour, minute, second, dayofweek, dow, isodow, dayofyear, doy, "
                           "quarter, week, weekofyear, epoch, extract, date_trunc, like, ilike, "
                           "contains, starts_with, pow, power)",
                           name->text);
  advance(p); /* '(' */
  operand args[2] = {{0, 0, 0}, {0, 0, 0}};
  int n = 0;
  if (peek(p)->kind != QT_RPAREN) {
    for (;;) {
      operand a;
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
  if (n != functions[k].nargs)
    return tsr__query_fail(p->src, name->pos, TSR_EPARSE, "%s() takes %d argument%s (%d given)",
                           name->text, functions[k].nargs, functions[k].nargs == 1 ? "" : "s",
                           n);
  if (n == 1) {
    args[0].end = end; /* the call's span, for labels */
    TSR_TRY(unary(p, functions[k].op, name->pos, &args[0], out));
  } else {
    int v;
    tsr_status s = tsr__colprog_binary(p->prog, functions[k].op, args[0].v, args[1].v, &v);
    if (s != TSR_OK)
      return located(p, s, name->pos, name->pos, end);
    *out = (operand){v, name->pos, end};
  }
  out->pos = name->pos;
  out->end = end;
  return TSR_OK;
}

/* Arguments after '(' up to ')' (at most max; *end: past the ')'). */
static tsr_status parse_args(cparser *p, operand *args, int max, int *n, int32_t *end) {
  *n = 0;
  if (peek(p)->kind != QT_RPAREN) {
    for (;;) {
      operand a;
      TSR_TRY(parse_or(p, &a));
      if (*n == max)
        return tsr__query_fail(p->src, a.pos, TSR_EPARSE, "too many arguments (at most %d)",
                               max);
      args[(*n)++] = a;
      if (peek(p)->kind != QT_COMMA)
        break;
      advance(p);
    }
  }
  if (peek(p)->kind != QT_RPAREN)
    return expected(p, "',' or ')'");
  *end = tok_end(advance(p));
  return TSR_OK;
}

static tsr_status nargs_error(cparser *p, const tsr__qtoken *name, const char *want, int n) {
  return tsr__query_fail(p->src, name->pos, TSR_EPARSE, "%s() takes %s (%d given)", name->text,
                         want, n);
}

/* A builder's status located at the call name..end, labelled with the
 * call's text for runtime errors. */
static tsr_status finish(cparser *p, tsr_status s, const tsr__qtoken *name, int32_t end, int v,
                         operand *out) {
  if (s != TSR_OK)
    return located(p, s, name->pos, name->pos, end);
  *out = (operand){v, name->pos, end};
  return tsr__colprog_label(p->prog, v, p->src + name->pos, (size_t)(end - name->pos));
}

static const struct {
  const char *name;
  tsr__cp_op op;
} extract_parts[] = {
    {"year", TSR__CP_YEAR},       {"quarter", TSR__CP_QUARTER}, {"month", TSR__CP_MONTH},
    {"day", TSR__CP_DAY},         {"hour", TSR__CP_HOUR},       {"minute", TSR__CP_MINUTE},
    {"second", TSR__CP_SECOND},   {"dow", TSR__CP_DOW},         {"dayofweek", TSR__CP_DOW},
    {"isodow", TSR__CP_ISODOW},   {"doy", TSR__CP_DOY},         {"dayofyear", TSR__CP_DOY},
    {"week", TSR__CP_WEEK},       {"epoch", TSR__CP_EPOCH},
};

/* cast / try_cast, extract, date_trunc, coalesce, nullif, concat, substr,
 * substring, replace: calls with their own argument rules.  *done: the
 * name was one of them. */
static tsr_status parse_special(cparser *p, const tsr__qtoken *name, operand *out, bool *done) {
  bool is_cast = is_kw(name, "cast"), is_try = is_kw(name, "try_cast");
  bool is_extract = is_kw(name, "extract"), is_trunc = is_kw(name, "date_trunc");
  bool is_coalesce = is_kw(name, "coalesce"), is_nullif = is_kw(name, "nullif");
  bool is_concat = is_kw(name, "concat"), is_replace = is_kw(name, "replace");
  bool is_substr = is_kw(name, "substr") || is_kw(name, "substring");
  *done = is_cast || is_try || is_extract || is_trunc || is_coalesce || is_nullif || is_concat ||
          is_replace || is_substr;
  if (!*done)
    return TSR_OK;
  advance(p); /* '(' */
  int v = -1;
  if (is_cast || is_try) {
    operand x;
    TSR_TRY(parse_or(p, &x));
    tsr_type to;
    tsr__qtoken *t = peek(p);
    if (is_kw(t, "as")) {
      advance(p);
      t = peek(p);
      if (t->kind != QT_NAME)
        return expected(p, "a type name");
      advance(p);
      char tname[64];
      snprintf(tname, sizeof tname, "%s", t->text);
      if (peek(p)->kind == QT_LBRACKET) { /* timestamp[ms] */
        advance(p);
        tsr__qtoken *u = peek(p);
        if (u->kind != QT_NAME)
          return expected(p, "a time unit (s, ms, us, ns)");
        advance(p);
        if (peek(p)->kind != QT_RBRACKET)
          return expected(p, "']'");
        advance(p);
        snprintf(tname, sizeof tname, "%.20s[%.8s]", t->text, u->text);
      }
      if (!tsr__cp_sql_type(tname, &to))
        return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                               "unknown type '%s' (SQL's: tinyint, smallint, integer, bigint, "
                               "real, double, varchar, boolean, date, timestamp; or tessera's: "
                               "int8..int64, uint8..uint64, float32, float64, string, "
                               "timestamp[s|ms|us|ns])",
                               tname);
    } else if (t->kind == QT_COMMA) {
      advance(p);
      t = peek(p);
      if (t->kind != QT_STRING)
        return expected(p, "a type name as a 'string'");
      advance(p);
      if (tsr_type_parse(t->text, &to) != TSR_OK)
        return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "%s", tsr_last_error());
    } else {
      return expected(p, "'as' and a type");
    }
    if (peek(p)->kind != QT_RPAREN)
      return expected(p, "')'");
    int32_t end = tok_end(advance(p));
    tsr_status s = tsr__colprog_cast(p->prog, x.v, to, is_try, &v);
    return finish(p, s, name, end, v, out);
  }
  if (is_extract) {
    tsr__qtoken *t = peek(p);
    if (t->kind != QT_NAME && t->kind != QT_STRING)
      return expected(p, "a date part (year, quarter, month, day, hour, minute, second, dow, "
                         "isodow, doy, week, epoch)");
    advance(p);
    size_t k = 0, np = sizeof extract_parts / sizeof extract_parts[0];
    while (k < np && strcasecmp(extract_parts[k].name, t->text) != 0)
      k++;
    if (k == np)
      return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                             "unknown date part '%s' (year, quarter, month, day, hour, minute, "
                             "second, dow, dayofweek, isodow, doy, dayofyear, week, epoch)",
                             t->text);
    if (!is_kw(peek(p), "from"))
      return expected(p, "'from'");
    advance(p);
    operand x;
    TSR_TRY(parse_or(p, &x));
    if (peek(p)->kind != QT_RPAREN)
      return expected(p, "')'");
    int32_t end = tok_end(advance(p));
    tsr_status s = tsr__colprog_unary(p->prog, extract_parts[k].op, x.v, &v);
    return finish(p, s, name, end, v, out);
  }
  if (is_trunc) {
    tsr__qtoken *t = peek(p);
    tsr__cp_trunc unit;
    if (t->kind != QT_STRING)
      return expected(p, "a unit as a 'string' ('year', 'quarter', 'month', 'week', 'day', "
                         "'hour', 'minute', 'second')");
    if (!tsr__cp_trunc_parse(t->text, &unit))
      return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                             "unknown date_trunc unit '%s' (year, quarter, month, week, day, "
                             "hour, minute, second)",
                             t->text);
    advance(p);
    if (peek(p)->kind != QT_COMMA)
      return expected(p, "','");
    advance(p);
    operand x;
    TSR_TRY(parse_or(p, &x));
    if (peek(p)->kind != QT_RPAREN)
      return expected(p, "')'");
    int32_t end = tok_end(advance(p));
    tsr_status s = tsr__colprog_date_trunc(p->prog, unit, x.v, &v);
    return finish(p, s, name, end, v, out);
  }
  operand args[64];
  int n;
  int32_t end = 0;
  TSR_TRY(parse_args(p, args, 64, &n, &end));
  int vals[64];
  for (int k = 0; k < n; k++)
    vals[k] = args[k].v;
  tsr_status s;
  if (is_coalesce || is_concat) {
    if (n < 1)
      return nargs_error(p, name, "at least 1 argument", n);
    s = is_coalesce ? tsr__colprog_coalesce(p->prog, vals, n, &v)
                    : tsr__colprog_concat(p->prog, vals, n, &v);
  } else if (is_nullif) {
    if (n != 2)
      return nargs_error(p, name, "2 arguments", n);
    s = tsr__colprog_nullif(p->prog, vals[0], vals[1], &v);
  } else if (is_replace) {
    if (n != 3)
      return nargs_error(p, name, "3 arguments", n);
    s = tsr__colprog_replace(p->prog, vals[0], vals[1], vals[2], &v);
  } else {
    if (n != 2 && n != 3)
      return nargs_error(p, name, "2 or 3 arguments", n);
    s = tsr__colprog_substr(p->prog, vals[0], vals[1], n == 3 ? vals[2] : -1, &v);
  }
  return finish(p, s, name, end, v, out);
}

/* WHEN c THEN a [WHEN ...] [ELSE e], the WHEN at the cursor; x >= 0: a
 * simple CASE's operand (each c compared with it). */
static tsr_status parse_when(cparser *p, const operand *x, operand *out) {
  tsr__qtoken *w = advance(p); /* when */
  if (++p->depth > MAX_DEPTH)
    return tsr__query_fail(p->src, w->pos, TSR_EPARSE, "expression nested too deeply");
  operand cond, val, rest;
  TSR_TRY(parse_or(p, &cond));
  if (x != NULL)
    TSR_TRY(binary(p, TSR__CP_EQ, cond.pos, x, &cond, &cond));
  if (!is_kw(peek(p), "then"))
    return expected(p, "'then'");
  advance(p);
  TSR_TRY(parse_or(p, &val));
  if (is_kw(peek(p), "when")) {
    TSR_TRY(parse_when(p, x, &rest));
  } else if (is_kw(peek(p), "else")) {
    advance(p);
    TSR_TRY(parse_or(p, &rest));
  } else {
    rest = val;
    TSR_TRY(tsr__colprog_null(p->prog, &rest.v));
  }
  int v;
  int32_t end = tok_end(&p->toks[p->at - 1]);
  tsr_status s = tsr__colprog_if(p->prog, cond.v, val.v, rest.v, &v);
  if (s != TSR_OK)
    return located(p, s, w->pos, w->pos, end);
  *out = (operand){v, w->pos, end};
  p->depth--;
  return TSR_OK;
}

static tsr_status parse_case(cparser *p, operand *out) {
  tsr__qtoken *c = advance(p); /* case */
  operand x, r;
  bool simple = !is_kw(peek(p), "when");
  if (simple)
    TSR_TRY(parse_or(p, &x));
  if (!is_kw(peek(p), "when"))
    return expected(p, "'when'");
  TSR_TRY(parse_when(p, simple ? &x : NULL, &r));
  if (!is_kw(peek(p), "end"))
    return expected(p, "'when', 'else' or 'end'");
  *out = (operand){r.v, c->pos, tok_end(advance(p))};
  return TSR_OK;
}

static tsr_status column(cparser *p, const tsr__qtoken *t, int *v) {
  int col = tsr_frame_col_index(p->f, t->text);
  if (col < 0) {
    int dummy;
    (void)tsr__frame_find(p->f, "", t->text, &dummy); /* sets the message with the list */
    char list[600];
    const char *paren = strstr(tsr_last_error(), "(the frame has");
    snprintf(list, sizeof list, "%s", paren ? paren : "");
    return tsr__query_fail(p->src, t->pos, TSR_EINVAL, "unknown column '%s' %s", t->text, list);
  }
  return tsr__colprog_column(p->prog, col, v);
}

static tsr_status parse_atom(cparser *p, operand *out) {
  tsr__qtoken *t = peek(p);
  int v = -1;
  switch (t->kind) {
  case QT_NUMBER:
    advance(p);
    if (t->is_int)
      TSR_TRY(tsr__colprog_int(p->prog, t->ival, t->is_uint, &v));
    else
      TSR_TRY(tsr__colprog_float(p->prog, t->fval, &v));
    break;
  case QT_STRING:
    advance(p);
    TSR_TRY(tsr__colprog_string(p->prog, t->text, strlen(t->text), &v));
    break;
  case QT_LPAREN: {
    advance(p);
    TSR_TRY(parse_or(p, out));
    if (peek(p)->kind != QT_RPAREN)
      return expected(p, "')'");
    out->pos = t->pos;
    out->end = tok_end(advance(p));
    return TSR_OK;
  }
  case QT_NAME:
    if (is_kw(t, "case"))
      return parse_case(p, out);
    if (p->toks[p->at + 1].kind == QT_LPAREN)
      return parse_call(p, advance(p), out);
    if (is_kw(t, "true") || is_kw(t, "false") || !strcmp(t->text, "True") ||
        !strcmp(t->text, "False")) {
      advance(p);
      TSR_TRY(tsr__colprog_bool(p->prog, t->text[0] == 't' || t->text[0] == 'T', &v));
      break;
    }
    if (is_kw(t, "null") || !strcmp(t->text, "None")) {
      advance(p);
      TSR_TRY(tsr__colprog_null(p->prog, &v));
      break;
    }
    if (is_kw(t, "and") || is_kw(t, "or") || is_kw(t, "not") || is_kw(t, "like") ||
        is_kw(t, "contains") || is_kw(t, "starts_with") || is_kw(t, "ilike") ||
        is_kw(t, "when") || is_kw(t, "then") || is_kw(t, "else") || is_kw(t, "end") ||
        is_kw(t, "in") || is_kw(t, "between") || is_kw(t, "is"))
      return expected(p, "an operand");
    TSR_TRY(column(p, advance(p), &v));
    break;
  case QT_QNAME:
    TSR_TRY(column(p, advance(p), &v));
    break;
  default:
    return expected(p, "an operand (a column, a number, a 'string', true, false or null)");
  }
  *out = (operand){v, t->pos, tok_end(t)};
  return TSR_OK;
}

static tsr_status parse_unary(cparser *p, operand *out) {
  tsr__qtoken *t = peek(p);
  if (t->kind == QT_MINUS || t->kind == QT_PLUS) {
    advance(p);
    if (++p->depth > MAX_DEPTH)
      return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "expression nested too deeply");
    operand a;
    TSR_TRY(parse_unary(p, &a));
    p->depth--;
    if (t->kind == QT_PLUS) {
      *out = a;
      out->pos = t->pos;
      return TSR_OK;
    }
    return unary(p, TSR__CP_NEG, t->pos, &a, out);
  }
  if (t->kind == QT_LPAREN || (t->kind == QT_NAME && p->toks[p->at + 1].kind == QT_LPAREN)) {
    if (++p->depth > MAX_DEPTH)
      return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "expression nested too deeply");
    tsr_status s = parse_atom(p, out);
    p->depth--;
    return s;
  }
  return parse_atom(p, out);
}

static tsr_status parse_mul(cparser *p, operand *out) {
  TSR_TRY(parse_unary(p, out));
  for (;;) {
    tsr__qtoken *t = peek(p);
    tsr__cp_op op;
    if (t->kind == QT_STAR)
      op = TSR__CP_MUL;
    else if (t->kind == QT_SLASH)
      op = TSR__CP_DIV;
    else if (t->kind == QT_SLASHSLASH)
      op = TSR__CP_INTDIV;
    else if (t->kind == QT_PERCENT)
      op = TSR__CP_MOD;
    else
      return TSR_OK;
    advance(p);
    operand b;
    TSR_TRY(parse_unary(p, &b));
    TSR_TRY(binary(p, op, t->pos, out, &b, out));
  }
}

static tsr_status parse_add(cparser *p, operand *out) {
  TSR_TRY(parse_mul(p, out));
  for (;;) {
    tsr__qtoken *t = peek(p);
    if (t->kind != QT_PLUS && t->kind != QT_MINUS)
      return TSR_OK;
    advance(p);
    operand b;
    TSR_TRY(parse_mul(p, &b));
    TSR_TRY(binary(p, t->kind == QT_PLUS ? TSR__CP_ADD : TSR__CP_SUB, t->pos, out, &b, out));
  }
}

static bool at_concat(cparser *p) {
  const tsr__qtoken *t = peek(p);
  return t->kind == QT_PIPE && p->toks[p->at + 1].kind == QT_PIPE &&
         p->toks[p->at + 1].pos == t->pos + 1;
}

/* concat := add ('||' add)* */
static tsr_status parse_concat(cparser *p, operand *out) {
  TSR_TRY(parse_add(p, out));
  while (at_concat(p)) {
    tsr__qtoken *t = advance(p);
    advance(p);
    operand b;
    TSR_TRY(parse_add(p, &b));
    TSR_TRY(binary(p, TSR__CP_CONCAT, t->pos, out, &b, out));
  }
  return TSR_OK;
}

/* x [not] in (v, ...), the 'in' at the cursor. */
static tsr_status parse_in(cparser *p, bool negate, int32_t at, operand *out) {
  advance(p); /* in */
  if (peek(p)->kind != QT_LPAREN)
    return expected(p, "'(' and a list of values");
  advance(p);
  operand x = *out, r = *out;
  int n = 0;
  for (;;) {
    operand b, eq = {0, 0, 0};
    TSR_TRY(parse_or(p, &b));
    TSR_TRY(binary(p, TSR__CP_EQ, at, &x, &b, &eq));
    if (n++ == 0)
      r = eq;
    else
      TSR_TRY(binary(p, TSR__CP_OR, at, &r, &eq, &r));
    if (peek(p)->kind != QT_COMMA)
      break;
    advance(p);
  }
  if (peek(p)->kind != QT_RPAREN)
    return expected(p, "',' or ')'");
  r.pos = x.pos;
  r.end = tok_end(advance(p));
  if (negate)
    return unary(p, TSR__CP_NOT, x.pos, &r, out);
  *out = r;
  return TSR_OK;
}

/* x [not] between lo and hi, the 'between' at the cursor. */
static tsr_status parse_between(cparser *p, bool negate, int32_t at, operand *out) {
  advance(p); /* between */
  operand lo, hi;
  TSR_TRY(parse_concat(p, &lo));
  if (!is_kw(peek(p), "and"))
    return expected(p, "'and'");
  advance(p);
  TSR_TRY(parse_concat(p, &hi));
  int v;
  tsr_status s = tsr__colprog_between(p->prog, out->v, lo.v, hi.v, negate, &v);
  if (s != TSR_OK)
    return located(p, s, at, out->pos, hi.end);
  *out = (operand){v, out->pos, hi.end};
  return TSR_OK;
}

static tsr_status parse_cmp(cparser *p, operand *out) {
  TSR_TRY(parse_concat(p, out));
  tsr__qtoken *t = peek(p);
  if (is_kw(t, "is")) { /* x is [not] null */
    advance(p);
    bool neg = is_kw(peek(p), "not");
    if (neg)
      advance(p);
    if (!is_kw(peek(p), "null"))
      return expected(p, "'null'");
    int32_t end = tok_end(advance(p));
    operand a = *out;
    a.end = end;
    TSR_TRY(unary(p, TSR__CP_IS_NULL, out->pos, &a, out));
    if (neg)
      TSR_TRY(unary(p, TSR__CP_NOT, out->pos, out, out));
    return TSR_OK;
  }
  bool negate = false;
  if (is_kw(t, "not")) {
    const tsr__qtoken *u = &p->toks[p->at + 1];
    if (is_kw(u, "in") || is_kw(u, "between") || is_kw(u, "like") || is_kw(u, "ilike")) {
      advance(p);
      negate = true;
      t = peek(p);
    }
  }
  if (is_kw(t, "in"))
    return parse_in(p, negate, t->pos, out);
  if (is_kw(t, "between"))
    return parse_between(p, negate, t->pos, out);
  tsr__cp_op op;
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
    else if (is_kw(t, "ilike"))
      op = TSR__CP_ILIKE;
    else if (is_kw(t, "contains"))
      op = TSR__CP_CONTAINS;
    else if (is_kw(t, "starts_with"))
      op = TSR__CP_STARTS_WITH;
    else
      return TSR_OK;
  }
  advance(p);
  operand b;
  TSR_TRY(parse_concat(p, &b));
  TSR_TRY(binary(p, op, t->pos, out, &b, out));
  if (negate) /* not like / not ilike */
    TSR_TRY(unary(p, TSR__CP_NOT, out->pos, out, out));
  tsr__qtoken *u = peek(p);
  if (u->kind == QT_EQEQ || u->kind == QT_NE || u->kind == QT_LT || u->kind == QT_LE ||
      u->kind == QT_GT || u->kind == QT_GE || u->kind == QT_ASSIGN)
    return tsr__query_fail(p->src, u->pos, TSR_EPARSE,
                           "comparisons do not chain: write (a < b) and (b < c)");
  return TSR_OK;
}

static tsr_status parse_not(cparser *p, operand *out) {
  tsr__qtoken *t = peek(p);
  if (!is_kw(t, "not"))
    return parse_cmp(p, out);
  advance(p);
  if (++p->depth > MAX_DEPTH)
    return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "expression nested too deeply");
  operand a;
  TSR_TRY(parse_not(p, &a));
  p->depth--;
  return unary(p, TSR__CP_NOT, t->pos, &a, out);
}

static tsr_status parse_and(cparser *p, operand *out) {
  TSR_TRY(parse_not(p, out));
  while (is_kw(peek(p), "and")) {
    tsr__qtoken *t = advance(p);
    operand b;
    TSR_TRY(parse_not(p, &b));
    TSR_TRY(binary(p, TSR__CP_AND, t->pos, out, &b, out));
  }
  return TSR_OK;
}

static tsr_status parse_or(cparser *p, operand *out) {
  if (++p->depth > MAX_DEPTH)
    return tsr__query_fail(p->src, peek(p)->pos, TSR_EPARSE, "expression nested too deeply");
  TSR_TRY(parse_and(p, out));
  while (is_kw(peek(p), "or")) {
    tsr__qtoken *t = advance(p);
    operand b;
    TSR_TRY(parse_and(p, &b));
    TSR_TRY(binary(p, TSR__CP_OR, t->pos, out, &b, out));
  }
  p->depth--;
  return TSR_OK;
}

/* Parses `text` over f into a program; *value is the result. */
static tsr_status compile(tsr_frame *f, const char *text, tsr__colprog **prog, int *value) {
  cparser p;
  memset(&p, 0, sizeof p);
  p.arena.ctx = f->ctx;
  p.src = text;
  p.f = f;
  *prog = NULL;
  int32_t n = 0;
  tsr_status s = tsr__query_lex(&p.arena, text, &p.toks, &n);
  if (s == TSR_OK)
    s = tsr__colprog_create(f, &p.prog);
  operand r = {0, 0, 0};
  if (s == TSR_OK) {
    if (peek(&p)->kind == QT_EOF)
      s = expected(&p, "an expression");
    else
      s = parse_or(&p, &r);
  }
  if (s == TSR_OK && peek(&p)->kind != QT_EOF)
    s = expected(&p, "an operator or the end of the expression");
  tsr_free(f->ctx, p.toks);
  tsr__query_arena_free(&p.arena);
  if (s != TSR_OK) {
    tsr__colprog_destroy(&p.prog);
    return s;
  }
  *prog = p.prog;
  *value = r.v;
  return TSR_OK;
}

tsr_status tsr_frame_assign(tsr_frame *f, const char *name, const char *expr, tsr_frame **out) {
  static const char fn[] = "tsr_frame_assign";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL && expr != NULL, TSR_EINVAL, "%s: frame or expression is NULL", fn);
  TSR_CHECK(name != NULL && name[0] != '\0', TSR_EINVAL, "%s: the column name is NULL or empty",
            fn);
  tsr__colprog *prog;
  int v;
  TSR_TRY(compile(f, expr, &prog, &v));
  tsr_status s = tsr__colprog_assign(prog, v, name, out);
  if (s != TSR_OK && s != TSR_ENOMEM)
    s = tsr_error_set(s, "%s: '%s': %s", fn, expr, tsr_last_error());
  tsr__colprog_destroy(&prog);
  return s;
}

tsr_status tsr_frame_filter(tsr_frame *f, const char *predicate, tsr_frame **out) {
  static const char fn[] = "tsr_frame_filter";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(f != NULL && predicate != NULL, TSR_EINVAL, "%s: frame or predicate is NULL", fn);
  tsr__colprog *prog;
  int v;
  TSR_TRY(compile(f, predicate, &prog, &v));
  tsr_status s = tsr__frame_filter_prog(f, prog, v, out);
  if (s != TSR_OK && s != TSR_ENOMEM)
    s = tsr_error_set(s, "%s: '%s': %s", fn, predicate, tsr_last_error());
  tsr__colprog_destroy(&prog);
  return s;
}
