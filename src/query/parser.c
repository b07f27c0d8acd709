/* parser.c — recursive descent from tokens to the syntax tree (arena).
 *
 * Grammar (Python's precedence, loosest first):
 *   program    := (statement? NEWLINE)* EOF
 *   statement  := NAME '=' expr | expr
 *   expr       := bitor (('=='|'!='|'<'|'<='|'>'|'>=') bitor)?   no chaining
 *   bitor      := bitxor ('|' bitxor)*
 *   bitxor     := bitand ('^' bitand)*
 *   bitand     := shift ('&' shift)*
 *   shift      := arith (('<<'|'>>') arith)*
 *   arith      := term (('+'|'-') term)*
 *   term       := unary (('*'|'/'|'//'|'%'|'@') unary)*
 *   unary      := ('-'|'+'|'~') unary | power
 *   power      := postfix ('**' unary)?                      right-assoc
 *   postfix    := atom ('.' NAME | '[' index ']' | '(' args ')')*
 *   atom       := NUMBER | STRING | NAME | '(' ')' | '(' expr ')' |
 *                 '(' expr ',' [expr (',' expr)*] [','] ')' | '[' items ']'
 * A call's callee must be a name (a builtin, checked here) or an attribute
 * (x.sum(axis=0) is sum(x, axis=0)).  Errors point at the token where the
 * parser got stuck. */
#include <string.h>

#include "query_impl.h"

typedef struct parser {
  tsr__qarena *arena;
  const char *src;
  tsr__qtoken *toks;
  int32_t at;
} parser;

static tsr__qtoken *peek(parser *p) { return &p->toks[p->at]; }
static tsr__qtoken *next(parser *p) {
  tsr__qtoken *t = &p->toks[p->at];
  if (t->kind != QT_EOF)
    p->at++;
  return t;
}
static bool accept(parser *p, tsr__qtok_kind kind) {
  if (peek(p)->kind != kind)
    return false;
  next(p);
  return true;
}

/* "unexpected ')'", "unexpected name 'foo'", "unexpected end of input". */
static tsr_status unexpected(parser *p, const char *what) {
  tsr__qtoken *t = peek(p);
  char tok[96];
  if (t->kind == QT_NAME || t->kind == QT_NUMBER || t->kind == QT_STRING)
    snprintf(tok, sizeof tok, "%s '%.*s'", tsr__query_token_desc(t->kind),
             t->len > 40 ? 40 : (int)t->len, p->src + t->pos);
  else
    snprintf(tok, sizeof tok, "%s", tsr__query_token_desc(t->kind));
  if (what != NULL)
    return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "expected %s, found %s", what, tok);
  return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "unexpected %s", tok);
}

static tsr_status expect(parser *p, tsr__qtok_kind kind, const char *what) {
  if (accept(p, kind))
    return TSR_OK;
  return unexpected(p, what);
}

static tsr__qnode *node(parser *p, tsr__qnode_kind kind, int32_t pos, int nkids) {
  tsr__qnode *n = tsr__query_arena_alloc(p->arena, sizeof *n);
  if (n == NULL)
    return NULL;
  n->kind = kind;
  n->pos = pos;
  if (nkids > 0) {
    n->kids = tsr__query_arena_alloc(p->arena, (size_t)nkids * sizeof *n->kids);
    if (n->kids == NULL)
      return NULL;
  }
  n->nkids = nkids;
  return n;
}

/* A growable list of nodes, copied into the arena when done. */
typedef struct nodelist {
  tsr__qnode *small[16];
  tsr__qnode **items;
  int n, cap;
} nodelist;

static tsr_status list_push(parser *p, nodelist *l, tsr__qnode *n) {
  if (l->items == NULL) {
    l->items = l->small;
    l->cap = 16;
  }
  if (l->n == l->cap) {
    tsr__qnode **items = tsr__query_arena_alloc(p->arena, 2 * (size_t)l->cap * sizeof *items);
    if (items == NULL)
      return TSR_ENOMEM;
    memcpy(items, l->items, (size_t)l->n * sizeof *items);
    l->items = items;
    l->cap *= 2;
  }
  l->items[l->n++] = n;
  return TSR_OK;
}

static tsr__qnode *list_node(parser *p, nodelist *l, tsr__qnode_kind kind, int32_t pos) {
  tsr__qnode *n = node(p, kind, pos, l->n);
  if (n != NULL && l->n > 0)
    memcpy(n->kids, l->items, (size_t)l->n * sizeof *n->kids);
  return n;
}

static tsr_status parse_expr(parser *p, tsr__qnode **out);
static tsr_status parse_unary(parser *p, tsr__qnode **out);

static tsr_status binary(parser *p, int op, int32_t pos, tsr__qnode *l, tsr__qnode *r,
                         tsr__qnode **out) {
  tsr__qnode *n = node(p, QN_BINARY, pos, 2);
  if (n == NULL)
    return TSR_ENOMEM;
  n->op = op;
  n->kids[0] = l;
  n->kids[1] = r;
  *out = n;
  return TSR_OK;
}

/* Items up to `close` (after the opening token): a tuple/list literal. */
static tsr_status parse_items(parser *p, tsr__qtok_kind close, const char *what, nodelist *l,
                              bool *trailing_comma) {
  *trailing_comma = false;
  while (peek(p)->kind != close) {
    tsr__qnode *e = NULL;
    TSR_TRY(parse_expr(p, &e));
    TSR_TRY(list_push(p, l, e));
    *trailing_comma = false;
    if (!accept(p, QT_COMMA))
      break;
    *trailing_comma = true;
  }
  return expect(p, close, what);
}

static tsr_status parse_atom(parser *p, tsr__qnode **out) {
  tsr__qtoken *t = peek(p);
  switch (t->kind) {
  case QT_NUMBER: {
    next(p);
    tsr__qnode *n = node(p, QN_NUMBER, t->pos, 0);
    if (n == NULL)
      return TSR_ENOMEM;
    n->is_int = t->is_int;
    n->ival = t->ival;
    n->fval = t->fval;
    *out = n;
    return TSR_OK;
  }
  case QT_NAME:
  case QT_STRING: {
    next(p);
    tsr__qnode *n = node(p, t->kind == QT_NAME ? QN_NAME : QN_STRING, t->pos, 0);
    if (n == NULL)
      return TSR_ENOMEM;
    n->text = t->text;
    *out = n;
    return TSR_OK;
  }
  case QT_LPAREN: {
    next(p);
    nodelist l = {0};
    bool comma;
    TSR_TRY(parse_items(p, QT_RPAREN, "')'", &l, &comma));
    if (l.n == 1 && !comma) { /* parenthesized expression */
      *out = l.items[0];
      return TSR_OK;
    }
    *out = list_node(p, &l, QN_TUPLE, t->pos);
    return *out ? TSR_OK : TSR_ENOMEM;
  }
  case QT_LBRACKET: {
    next(p);
    nodelist l = {0};
    bool comma;
    TSR_TRY(parse_items(p, QT_RBRACKET, "']'", &l, &comma));
    *out = list_node(p, &l, QN_TUPLE, t->pos);
    return *out ? TSR_OK : TSR_ENOMEM;
  }
  default:
    return unexpected(p, "an expression");
  }
}

/* One index entry: an expression or a slice [start]:[stop][:[step]]. */
static tsr_status parse_index_item(parser *p, tsr__qnode **out) {
  int32_t pos = peek(p)->pos;
  tsr__qnode *parts[3] = {NULL, NULL, NULL};
  tsr__qtok_kind k = peek(p)->kind;
  if (k != QT_COLON)
    TSR_TRY(parse_expr(p, &parts[0]));
  if (!accept(p, QT_COLON)) {
    *out = parts[0];
    return TSR_OK;
  }
  k = peek(p)->kind;
  if (k != QT_COLON && k != QT_COMMA && k != QT_RBRACKET)
    TSR_TRY(parse_expr(p, &parts[1]));
  if (accept(p, QT_COLON)) {
    k = peek(p)->kind;
    if (k != QT_COMMA && k != QT_RBRACKET)
      TSR_TRY(parse_expr(p, &parts[2]));
  }
  tsr__qnode *n = node(p, QN_SLICE, pos, 3);
  if (n == NULL)
    return TSR_ENOMEM;
  memcpy(n->kids, parts, sizeof parts);
  *out = n;
  return TSR_OK;
}

/* Binds a call's arguments to the function's parameters, as Python does. */
static tsr_status bind_call(parser *p, tsr__qnode *call, const char *shown) {
  tsr__qfn *fn = &call->fn;
  int np = tsr__query_fn_nparams(fn);
  call->slots = tsr__query_arena_alloc(p->arena, TSR__QFN_MAX_PARAMS * sizeof *call->slots);
  if (call->slots == NULL)
    return TSR_ENOMEM;
  int npos = 0;
  for (int i = 0; i < call->nkids; i++) {
    tsr__qnode *a = call->kids[i];
    int slot;
    if (a->kind != QN_KWARG) {
      slot = npos++;
      if (slot >= np)
        return tsr__query_fail(p->src, a->pos, TSR_EPARSE,
                               "%s() takes at most %d argument%s (%d given)", shown, np,
                               np == 1 ? "" : "s", slot + 1);
    } else {
      for (slot = 0; slot < np && strcmp(fn->params[slot], a->text) != 0; slot++)
        ;
      if (slot == np)
        return tsr__query_fail(p->src, a->pos, TSR_EPARSE,
                               "%s() got an unexpected keyword argument '%s'", shown, a->text);
      if (call->slots[slot] != NULL)
        return tsr__query_fail(p->src, a->pos, TSR_EPARSE,
                               "%s() got multiple values for argument '%s'", shown, a->text);
    }
    call->slots[slot] = a->kind == QN_KWARG ? a->kids[0] : a;
  }
  for (int i = 0; i < fn->nrequired; i++)
    if (call->slots[i] == NULL)
      return tsr__query_fail(p->src, call->pos, TSR_EPARSE,
                             "%s() missing required argument '%s' (position %d)", shown,
                             fn->params[i], i + 1);
  return TSR_OK;
}

/* After '(' of a call to `name` at `pos`; `self` is the receiver of a
 * method call (x.sum()) or NULL. */
static tsr_status parse_call(parser *p, const char *name, int32_t pos, tsr__qnode *self,
                             tsr__qnode **out) {
  tsr__qfn fn;
  if (!tsr__query_fn_find(name, &fn))
    return tsr__query_fail(p->src, pos, TSR_EPARSE, "unknown function '%s'", name);
  nodelist l = {0};
  if (self != NULL)
    TSR_TRY(list_push(p, &l, self));
  bool seen_kw = false;
  while (peek(p)->kind != QT_RPAREN) {
    tsr__qtoken *t = peek(p);
    tsr__qnode *a;
    if (t->kind == QT_NAME && p->toks[p->at + 1].kind == QT_ASSIGN) {
      next(p);
      next(p);
      a = node(p, QN_KWARG, t->pos, 1);
      if (a == NULL)
        return TSR_ENOMEM;
      a->text = t->text;
      TSR_TRY(parse_expr(p, &a->kids[0]));
      seen_kw = true;
    } else {
      TSR_TRY(parse_expr(p, &a));
      if (seen_kw)
        return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                               "positional argument follows keyword argument");
    }
    TSR_TRY(list_push(p, &l, a));
    if (!accept(p, QT_COMMA))
      break;
  }
  TSR_TRY(expect(p, QT_RPAREN, "',' or ')'"));
  tsr__qnode *call = list_node(p, &l, QN_CALL, pos);
  if (call == NULL)
    return TSR_ENOMEM;
  call->text = name;
  call->fn = fn;
  TSR_TRY(bind_call(p, call, name));
  *out = call;
  return TSR_OK;
}

static bool known_attr(const char *name) {
  return strcmp(name, "T") == 0 || strcmp(name, "shape") == 0 || strcmp(name, "ndim") == 0 ||
         strcmp(name, "size") == 0;
}

static tsr_status parse_postfix(parser *p, tsr__qnode **out) {
  tsr__qtoken *first = peek(p);
  tsr__qnode *e;
  TSR_TRY(parse_atom(p, &e));
  if (first->kind == QT_NAME && peek(p)->kind == QT_LPAREN) {
    next(p);
    TSR_TRY(parse_call(p, first->text, first->pos, NULL, &e));
  }
  for (;;) {
    tsr__qtoken *t = peek(p);
    if (t->kind == QT_DOT) {
      next(p);
      tsr__qtoken *name = peek(p);
      if (name->kind != QT_NAME)
        return unexpected(p, "an attribute name after '.'");
      next(p);
      if (accept(p, QT_LPAREN)) {
        TSR_TRY(parse_call(p, name->text, name->pos, e, &e));
        continue;
      }
      if (!known_attr(name->text))
        return tsr__query_fail(p->src, name->pos, TSR_EPARSE,
                               "unknown attribute '%s' (arrays have T, shape, ndim, size)",
                               name->text);
      tsr__qnode *n = node(p, QN_ATTR, name->pos, 1);
      if (n == NULL)
        return TSR_ENOMEM;
      n->text = name->text;
      n->kids[0] = e;
      e = n;
    } else if (t->kind == QT_LBRACKET) {
      next(p);
      nodelist l = {0};
      TSR_TRY(list_push(p, &l, e));
      while (peek(p)->kind != QT_RBRACKET) {
        tsr__qnode *item;
        TSR_TRY(parse_index_item(p, &item));
        TSR_TRY(list_push(p, &l, item));
        if (!accept(p, QT_COMMA))
          break;
      }
      TSR_TRY(expect(p, QT_RBRACKET, "',' or ']'"));
      if (l.n == 1)
        return tsr__query_fail(p->src, t->pos, TSR_EPARSE, "empty index");
      if ((e = list_node(p, &l, QN_INDEX, t->pos)) == NULL)
        return TSR_ENOMEM;
    } else if (t->kind == QT_LPAREN) {
      return tsr__query_fail(p->src, t->pos, TSR_EPARSE,
                             "only functions can be called (this is not a function name)");
    } else {
      break;
    }
  }
  *out = e;
  return TSR_OK;
}

static tsr_status parse_power(parser *p, tsr__qnode **out) {
  tsr__qnode *base;
  TSR_TRY(parse_postfix(p, &base));
  tsr__qtoken *t = peek(p);
  if (t->kind != QT_STARSTAR) {
    *out = base;
    return TSR_OK;
  }
  next(p);
  tsr__qnode *exponent;
  TSR_TRY(parse_unary(p, &exponent)); /* right-assoc, and 2**-1 works */
  return binary(p, QT_STARSTAR, t->pos, base, exponent, out);
}

static tsr_status parse_unary(parser *p, tsr__qnode **out) {
  tsr__qtoken *t = peek(p);
  if (t->kind != QT_MINUS && t->kind != QT_PLUS && t->kind != QT_TILDE)
    return parse_power(p, out);
  next(p);
  tsr__qnode *n = node(p, QN_UNARY, t->pos, 1);
  if (n == NULL)
    return TSR_ENOMEM;
  n->op = t->kind;
  TSR_TRY(parse_unary(p, &n->kids[0]));
  *out = n;
  return TSR_OK;
}

/* One left-associative level: operands from `sub`, operators in `ops`. */
static tsr_status parse_level(parser *p, tsr_status (*sub)(parser *, tsr__qnode **),
                              const tsr__qtok_kind *ops, int nops, tsr__qnode **out) {
  tsr__qnode *l;
  TSR_TRY(sub(p, &l));
  for (;;) {
    tsr__qtoken *t = peek(p);
    int k = 0;
    while (k < nops && ops[k] != t->kind)
      k++;
    if (k == nops)
      break;
    next(p);
    tsr__qnode *r;
    TSR_TRY(sub(p, &r));
    TSR_TRY(binary(p, t->kind, t->pos, l, r, &l));
  }
  *out = l;
  return TSR_OK;
}

static tsr_status parse_term(parser *p, tsr__qnode **out) {
  static const tsr__qtok_kind ops[] = {QT_STAR, QT_SLASH, QT_SLASHSLASH, QT_PERCENT, QT_AT};
  return parse_level(p, parse_unary, ops, 5, out);
}
static tsr_status parse_arith(parser *p, tsr__qnode **out) {
  static const tsr__qtok_kind ops[] = {QT_PLUS, QT_MINUS};
  return parse_level(p, parse_term, ops, 2, out);
}
static tsr_status parse_shift(parser *p, tsr__qnode **out) {
  static const tsr__qtok_kind ops[] = {QT_LSHIFT, QT_RSHIFT};
  return parse_level(p, parse_arith, ops, 2, out);
}
static tsr_status parse_bitand(parser *p, tsr__qnode **out) {
  static const tsr__qtok_kind ops[] = {QT_AMP};
  return parse_level(p, parse_shift, ops, 1, out);
}
static tsr_status parse_bitxor(parser *p, tsr__qnode **out) {
  static const tsr__qtok_kind ops[] = {QT_CARET};
  return parse_level(p, parse_bitand, ops, 1, out);
}
static tsr_status parse_bitor(parser *p, tsr__qnode **out) {
  static const tsr__qtok_kind ops[] = {QT_PIPE};
  return parse_level(p, parse_bitxor, ops, 1, out);
}

static bool is_comparison(tsr__qtok_kind k) {
  return k == QT_EQEQ || k == QT_NE || k == QT_LT || k == QT_LE || k == QT_GT || k == QT_GE;
}

static tsr_status parse_expr(parser *p, tsr__qnode **out) {
  tsr__qnode *l;
  TSR_TRY(parse_bitor(p, &l));
  tsr__qtoken *t = peek(p);
  if (!is_comparison(t->kind)) {
    *out = l;
    return TSR_OK;
  }
  next(p);
  tsr__qnode *r;
  TSR_TRY(parse_bitor(p, &r));
  if (is_comparison(peek(p)->kind))
    return tsr__query_fail(p->src, peek(p)->pos, TSR_EPARSE,
                           "chained comparisons are not supported: use parentheses and '&' "
                           "(comparisons bind looser than & | ^)");
  return binary(p, t->kind, t->pos, l, r, out);
}

static bool at_end_of_statement(parser *p) {
  tsr__qtok_kind k = peek(p)->kind;
  return k == QT_NEWLINE || k == QT_EOF;
}

tsr_status tsr__query_parse(tsr__qarena *arena, const char *source, tsr__qstmt **stmts,
                            int32_t *nstmts) {
  *stmts = NULL;
  *nstmts = 0;
  parser p = {arena, source, NULL, 0};
  int32_t ntok;
  TSR_TRY(tsr__query_lex(arena, source, &p.toks, &ntok));
  /* At most one statement per separator, plus one. */
  int32_t cap = 1;
  for (int32_t i = 0; i < ntok; i++)
    cap += p.toks[i].kind == QT_NEWLINE;
  tsr__qstmt *s = tsr__query_arena_alloc(arena, (size_t)cap * sizeof *s);
  if (s == NULL)
    return TSR_ENOMEM;
  int32_t n = 0;
  while (peek(&p)->kind != QT_EOF) {
    if (accept(&p, QT_NEWLINE))
      continue;
    tsr__qstmt *st = &s[n];
    tsr__qtoken *t = peek(&p);
    if (t->kind == QT_NAME && p.toks[p.at + 1].kind == QT_ASSIGN) {
      next(&p);
      next(&p);
      st->target = t->text;
      st->target_pos = t->pos;
    }
    TSR_TRY(parse_expr(&p, &st->expr));
    if (peek(&p)->kind == QT_ASSIGN)
      return tsr__query_fail(source, peek(&p)->pos, TSR_EPARSE,
                             st->target ? "chained assignment is not supported"
                                        : "can only assign to a name");
    if (!at_end_of_statement(&p))
      return unexpected(&p, "an operator or the end of the statement");
    n++;
  }
  *stmts = s;
  *nstmts = n;
  return TSR_OK;
}
