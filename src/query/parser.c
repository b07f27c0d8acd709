/* parser.c — from tokens to the syntax tree (arena), by operator
 * precedence with explicit heap stacks: nesting depth (parentheses, calls,
 * indexing, unary operators, `**` chains) costs heap memory, never C stack,
 * so a million nested parentheses parse like one.
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
 * parser got stuck.
 *
 * How: one loop over the tokens with three stacks — operands (nodes),
 * pending operators (shunting-yard: an operator first reduces the pending
 * ones that bind at least as tightly; prefix operators wait for their
 * operand), and frames, one per open bracket construct (a parenthesis, a
 * list, a call's arguments, an index) plus the statement.  A frame's
 * items are consecutive operands; its current expression owns the
 * operators above the frame's mark. */
#include <string.h>

#include "query_impl.h"

typedef enum frame_kind { F_STMT, F_PAREN, F_LIST, F_CALL, F_INDEX } frame_kind;

typedef struct frame {
  uint8_t kind;            /* frame_kind */
  bool comparison;         /* the current expression has its (only) comparison */
  bool comma;              /* F_PAREN: the last item was followed by ',' */
  bool seen_kw;            /* F_CALL: a keyword argument was given */
  uint8_t colons;          /* F_INDEX: colons in the current item (a slice when > 0) */
  int32_t pos;             /* the opening token (F_CALL: the function name) */
  int32_t items;           /* operand index of the frame's first item */
  int32_t ops;             /* operator index where the current expression starts */
  int32_t part;            /* F_INDEX: operand index of the current item's first part */
  int32_t item_pos;        /* the current item's first token */
  const tsr__qtoken *name; /* F_CALL: the function's name */
  const tsr__qtoken *kw;   /* F_CALL: the current argument's keyword, or NULL */
} frame;

typedef struct pending_op {
  int32_t tok; /* tsr__qtok_kind */
  int32_t pos;
  int32_t prec;
  bool unary;
} pending_op;

/* A stack of fixed-size entries from the context's allocator. */
typedef struct stack {
  void *data;
  int32_t n, cap;
} stack;

typedef struct parser {
  tsr__qarena *arena;
  const char *src;
  tsr__qtoken *toks;
  int32_t at;
  stack operands, ops, frames; /* of tsr__qnode *, pending_op, frame */
} parser;

static tsr_status stack_reserve(parser *p, stack *st, size_t size) {
  if (st->n < st->cap)
    return TSR_OK;
  if (st->cap > INT32_MAX / 2)
    return tsr_error_set(TSR_ENOMEM, "program: nesting too deep");
  int32_t cap = st->cap ? 2 * st->cap : 64;
  TSR_TRY(tsr__grow_array(p->arena->ctx, &st->data, (size_t)st->n, (size_t)cap, size,
                          "the parser's stack"));
  st->cap = cap;
  return TSR_OK;
}

#define OPERANDS(p) ((tsr__qnode **)(p)->operands.data)
#define OPS(p) ((pending_op *)(p)->ops.data)
#define FRAMES(p) ((frame *)(p)->frames.data)

static tsr_status push_operand(parser *p, tsr__qnode *n) {
  TSR_TRY(stack_reserve(p, &p->operands, sizeof n));
  OPERANDS(p)[p->operands.n++] = n;
  return TSR_OK;
}
static tsr__qnode *pop_operand(parser *p) { return OPERANDS(p)[--p->operands.n]; }

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

static tsr__qnode *node(parser *p, tsr__qnode_kind kind, int32_t pos, int32_t nkids) {
  tsr__qnode *n = tsr__query_arena_alloc(p->arena, sizeof *n);
  if (n == NULL)
    return NULL;
  n->kind = (uint8_t)kind;
  n->pos = pos;
  if (nkids > 0) {
    n->kids = tsr__query_arena_alloc(p->arena, (size_t)nkids * sizeof *n->kids);
    if (n->kids == NULL)
      return NULL;
  }
  n->nkids = nkids;
  return n;
}

/* A node of `kind` whose kids are the operands from index `first` to the
 * top, which are popped; it is pushed in their place. */
static tsr_status reduce_to_node(parser *p, tsr__qnode_kind kind, int32_t pos, int32_t first,
                                 tsr__qnode **out) {
  int32_t count = p->operands.n - first;
  tsr__qnode *n = node(p, kind, pos, count);
  if (n == NULL)
    return TSR_ENOMEM;
  if (count > 0)
    memcpy(n->kids, OPERANDS(p) + first, (size_t)count * sizeof *n->kids);
  p->operands.n = first;
  TSR_TRY(push_operand(p, n));
  if (out != NULL)
    *out = n;
  return TSR_OK;
}

/* Binds a call's arguments to the function's parameters, as Python does. */
static tsr_status bind_call(parser *p, tsr__qnode *call, const char *shown) {
  const tsr__qfn *fn = call->fn;
  int np = tsr__query_fn_nparams(fn);
  call->slots = tsr__query_arena_alloc(p->arena, TSR__QFN_MAX_PARAMS * sizeof *call->slots);
  if (call->slots == NULL)
    return TSR_ENOMEM;
  int npos = 0;
  for (int32_t i = 0; i < call->nkids; i++) {
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

static bool known_attr(const char *name) {
  return strcmp(name, "T") == 0 || strcmp(name, "shape") == 0 || strcmp(name, "ndim") == 0 ||
         strcmp(name, "size") == 0 || strcmp(name, "dtype") == 0;
}

static bool is_comparison(tsr__qtok_kind k) {
  return k == QT_EQEQ || k == QT_NE || k == QT_LT || k == QT_LE || k == QT_GT || k == QT_GE;
}

/* Binding power of a binary operator token (0: not one), loosest first. */
enum { PREC_UNARY = 8, PREC_POWER = 9 };
static int binary_prec(tsr__qtok_kind k) {
  switch (k) {
  case QT_EQEQ:
  case QT_NE:
  case QT_LT:
  case QT_LE:
  case QT_GT:
  case QT_GE:
    return 1;
  case QT_PIPE:
    return 2;
  case QT_CARET:
    return 3;
  case QT_AMP:
    return 4;
  case QT_LSHIFT:
  case QT_RSHIFT:
    return 5;
  case QT_PLUS:
  case QT_MINUS:
    return 6;
  case QT_STAR:
  case QT_SLASH:
  case QT_SLASHSLASH:
  case QT_PERCENT:
  case QT_AT:
    return 7;
  case QT_STARSTAR:
    return PREC_POWER;
  default:
    return 0;
  }
}

static frame *top(parser *p) { return &FRAMES(p)[p->frames.n - 1]; }

/* Applies the pending operator on top of the operator stack. */
static tsr_status apply_op(parser *p) {
  pending_op o = OPS(p)[--p->ops.n];
  int32_t first = p->operands.n - (o.unary ? 1 : 2);
  tsr__qnode *n;
  TSR_TRY(reduce_to_node(p, o.unary ? QN_UNARY : QN_BINARY, o.pos, first, &n));
  n->op = (uint8_t)o.tok;
  return TSR_OK;
}

/* Applies the current expression's pending operators binding at least
 * `prec` (more than `prec` when right_assoc). */
static tsr_status reduce_ops(parser *p, int prec, bool right_assoc) {
  int32_t mark = top(p)->ops;
  while (p->ops.n > mark) {
    int q = OPS(p)[p->ops.n - 1].prec;
    if (q < prec || (right_assoc && q == prec))
      break;
    TSR_TRY(apply_op(p));
  }
  return TSR_OK;
}

static tsr_status push_op(parser *p, const tsr__qtoken *t, int prec, bool unary) {
  TSR_TRY(stack_reserve(p, &p->ops, sizeof(pending_op)));
  OPS(p)[p->ops.n++] = (pending_op){(int32_t)t->kind, t->pos, prec, unary};
  return TSR_OK;
}

static tsr_status push_frame(parser *p, frame_kind kind, int32_t pos, int32_t items) {
  TSR_TRY(stack_reserve(p, &p->frames, sizeof(frame)));
  frame *f = &FRAMES(p)[p->frames.n++];
  memset(f, 0, sizeof *f);
  f->kind = (uint8_t)kind;
  f->pos = pos;
  f->items = items;
  f->ops = p->ops.n;
  return TSR_OK;
}

/* What the loop expects next. */
typedef enum { WANT_OPERAND, WANT_OPERATOR, WANT_ITEM } want;

/* Starts the next item of the top frame (after its opening token or a
 * comma).  Sets *w; handles an immediate close elsewhere (the caller). */
static tsr_status begin_item(parser *p, want *w) {
  frame *f = top(p);
  tsr__qtoken *t = peek(p);
  f->comparison = false;
  f->ops = p->ops.n;
  f->item_pos = t->pos;
  *w = WANT_OPERAND;
  if (f->kind == F_CALL) {
    f->kw = NULL;
    if (t->kind == QT_NAME && p->toks[p->at + 1].kind == QT_ASSIGN) {
      next(p);
      next(p);
      f->kw = t;
    }
  } else if (f->kind == F_INDEX) {
    f->colons = 0;
    f->part = p->operands.n;
    if (t->kind == QT_COLON) { /* no start */
      TSR_TRY(push_operand(p, NULL));
      *w = WANT_ITEM; /* the ':' is handled as after a start */
    }
  }
  return TSR_OK;
}

static tsr_status parse_error_at(parser *p, int32_t pos, const char *msg) {
  return tsr__query_fail(p->src, pos, TSR_EPARSE, "%s", msg);
}

/* The token closing the top frame, and what a message calls it. */
static tsr__qtok_kind closer(const frame *f) {
  return f->kind == F_PAREN || f->kind == F_CALL ? QT_RPAREN : QT_RBRACKET;
}

/* Closes the top frame at its closing token (consumed here); the result
 * becomes an operand. */
static tsr_status close_frame(parser *p) {
  frame f = *top(p);
  next(p);
  p->frames.n--;
  int32_t count = p->operands.n - f.items;
  switch ((frame_kind)f.kind) {
  case F_PAREN:
    if (count == 1 && !f.comma)
      return TSR_OK; /* a parenthesized expression: the operand itself */
    return reduce_to_node(p, QN_TUPLE, f.pos, f.items, NULL);
  case F_LIST:
    return reduce_to_node(p, QN_TUPLE, f.pos, f.items, NULL);
  case F_INDEX:
    if (count == 1)
      return parse_error_at(p, f.pos, "empty index");
    return reduce_to_node(p, QN_INDEX, f.pos, f.items, NULL);
  case F_CALL: {
    tsr__qfn fn;
    tsr__qfn *copy = tsr__query_arena_alloc(p->arena, sizeof *copy);
    if (copy == NULL)
      return TSR_ENOMEM;
    if (!tsr__query_fn_find(f.name->text, &fn))
      return parse_error_at(p, f.pos, "unknown function");
    *copy = fn;
    tsr__qnode *call;
    TSR_TRY(reduce_to_node(p, QN_CALL, f.pos, f.items, &call));
    call->text = f.name->text;
    call->fn = copy;
    return bind_call(p, call, f.name->text);
  }
  default:
    return tsr__query_fail(p->src, f.pos, TSR_EINTERNAL, "parser: bad frame");
  }
}

/* Opens a call of `name` (its '(' consumed); self is on the operand stack
 * for a method call. */
static tsr_status open_call(parser *p, const tsr__qtoken *name, bool has_self, want *w) {
  tsr__qfn fn;
  if (!tsr__query_fn_find(name->text, &fn))
    return tsr__query_fail(p->src, name->pos, TSR_EPARSE, "unknown function '%s'", name->text);
  TSR_TRY(push_frame(p, F_CALL, name->pos, p->operands.n - (has_self ? 1 : 0)));
  top(p)->name = name;
  if (peek(p)->kind == QT_RPAREN) {
    *w = WANT_OPERATOR;
    return close_frame(p);
  }
  return begin_item(p, w);
}

/* After a ':' of an index item (consumed here). */
static tsr_status after_colon(parser *p, want *w) {
  frame *f = top(p);
  next(p);
  f->colons++;
  tsr__qtok_kind k = peek(p)->kind;
  bool omitted = k == QT_COMMA || k == QT_RBRACKET || (f->colons == 1 && k == QT_COLON);
  if (!omitted) {
    f->comparison = false;
    f->ops = p->ops.n;
    *w = WANT_OPERAND;
    return TSR_OK;
  }
  TSR_TRY(push_operand(p, NULL));
  *w = WANT_ITEM;
  return TSR_OK;
}

/* The top frame's current item is complete on the operand stack (or, in
 * an index, its last part is); the next token must continue the frame. */
static tsr_status end_item(parser *p, want *w) {
  frame *f = top(p);
  tsr__qtoken *t = peek(p);
  if (f->kind == F_INDEX) {
    if (t->kind == QT_COLON && f->colons < 2)
      return after_colon(p, w);
    if (f->colons > 0) {
      while (p->operands.n - f->part < 3)
        TSR_TRY(push_operand(p, NULL));
      TSR_TRY(reduce_to_node(p, QN_SLICE, f->item_pos, f->part, NULL));
    }
  } else if (f->kind == F_CALL) {
    if (f->kw != NULL) {
      tsr__qnode *kw;
      TSR_TRY(reduce_to_node(p, QN_KWARG, f->kw->pos, p->operands.n - 1, &kw));
      kw->text = f->kw->text;
      f->seen_kw = true;
    } else if (f->seen_kw) {
      return parse_error_at(p, f->item_pos, "positional argument follows keyword argument");
    }
  }
  f->comma = false;
  tsr__qtok_kind close = closer(f);
  if (t->kind == QT_COMMA) {
    next(p);
    f->comma = true;
    if (peek(p)->kind == close) {
      *w = WANT_OPERATOR;
      return close_frame(p);
    }
    return begin_item(p, w);
  }
  if (t->kind == close) {
    *w = WANT_OPERATOR;
    return close_frame(p);
  }
  return unexpected(p, f->kind == F_PAREN  ? "')'"
                       : f->kind == F_LIST ? "']'"
                       : f->kind == F_CALL ? "',' or ')'"
                                           : "',' or ']'");
}

/* One expression (a statement's) into *out. */
static tsr_status parse_expr(parser *p, tsr__qnode **out) {
  int32_t base_frames = p->frames.n;
  TSR_TRY(push_frame(p, F_STMT, peek(p)->pos, p->operands.n));
  want w = WANT_OPERAND;
  for (;;) {
    tsr__qtoken *t = peek(p);
    if (w == WANT_ITEM) { /* inside an index item, after an omitted part */
      TSR_TRY(end_item(p, &w));
      continue;
    }
    if (w == WANT_OPERAND) {
      switch (t->kind) {
      case QT_NUMBER: {
        next(p);
        tsr__qnode *n = node(p, QN_NUMBER, t->pos, 0);
        if (n == NULL)
          return TSR_ENOMEM;
        n->is_int = t->is_int;
        n->is_uint = t->is_uint;
        if (t->is_int)
          n->ival = t->ival;
        else
          n->fval = t->fval;
        TSR_TRY(push_operand(p, n));
        w = WANT_OPERATOR;
        break;
      }
      case QT_NAME:
      case QT_STRING: {
        next(p);
        if (t->kind == QT_NAME && peek(p)->kind == QT_LPAREN) {
          next(p);
          TSR_TRY(open_call(p, t, false, &w));
          break;
        }
        tsr__qnode *n = node(p, t->kind == QT_NAME ? QN_NAME : QN_STRING, t->pos, 0);
        if (n == NULL)
          return TSR_ENOMEM;
        n->text = t->text;
        TSR_TRY(push_operand(p, n));
        w = WANT_OPERATOR;
        break;
      }
      case QT_LPAREN:
      case QT_LBRACKET: {
        next(p);
        bool paren = t->kind == QT_LPAREN;
        TSR_TRY(push_frame(p, paren ? F_PAREN : F_LIST, t->pos, p->operands.n));
        if (peek(p)->kind == (paren ? QT_RPAREN : QT_RBRACKET)) {
          TSR_TRY(close_frame(p));
          w = WANT_OPERATOR;
        } else {
          TSR_TRY(begin_item(p, &w));
        }
        break;
      }
      case QT_MINUS:
      case QT_PLUS:
      case QT_TILDE:
        next(p);
        TSR_TRY(push_op(p, t, PREC_UNARY, true));
        break;
      default:
        return unexpected(p, "an expression");
      }
      continue;
    }
    /* After an operand: postfix, a binary operator, or the expression's end. */
    if (t->kind == QT_DOT) {
      next(p);
      tsr__qtoken *name = peek(p);
      if (name->kind != QT_NAME)
        return unexpected(p, "an attribute name after '.'");
      next(p);
      if (accept(p, QT_LPAREN)) {
        TSR_TRY(open_call(p, name, true, &w));
        continue;
      }
      if (!known_attr(name->text))
        return tsr__query_fail(p->src, name->pos, TSR_EPARSE,
                               "unknown attribute '%s' (arrays have T, shape, ndim, size, dtype)",
                               name->text);
      tsr__qnode *n;
      TSR_TRY(reduce_to_node(p, QN_ATTR, name->pos, p->operands.n - 1, &n));
      n->text = name->text;
      continue;
    }
    if (t->kind == QT_LBRACKET) {
      next(p);
      TSR_TRY(push_frame(p, F_INDEX, t->pos, p->operands.n - 1));
      if (peek(p)->kind == QT_RBRACKET)
        TSR_TRY(close_frame(p));
      else
        TSR_TRY(begin_item(p, &w));
      continue;
    }
    if (t->kind == QT_LPAREN)
      return parse_error_at(p, t->pos,
                            "only functions can be called (this is not a function name)");
    int prec = binary_prec(t->kind);
    if (prec > 0) {
      frame *f = top(p);
      if (is_comparison(t->kind)) {
        if (f->comparison)
          return parse_error_at(p, t->pos,
                                "chained comparisons are not supported: use parentheses and '&' "
                                "(comparisons bind looser than & | ^)");
        f->comparison = true;
      }
      TSR_TRY(reduce_ops(p, prec, prec == PREC_POWER));
      next(p);
      TSR_TRY(push_op(p, t, prec, false));
      w = WANT_OPERAND;
      continue;
    }
    /* The current expression ends here. */
    TSR_TRY(reduce_ops(p, 0, false));
    if (top(p)->kind == F_STMT)
      break;
    TSR_TRY(end_item(p, &w));
  }
  *out = pop_operand(p);
  p->frames.n = base_frames;
  return TSR_OK;
}

static bool at_end_of_statement(parser *p) {
  tsr__qtok_kind k = peek(p)->kind;
  return k == QT_NEWLINE || k == QT_EOF;
}

static tsr_status parse_program(parser *p, tsr__qstmt **stmts, int32_t *nstmts) {
  int32_t ntok;
  TSR_TRY(tsr__query_lex(p->arena, p->src, &p->toks, &ntok));
  /* At most one statement per separator, plus one. */
  int32_t cap = 1;
  for (int32_t i = 0; i < ntok; i++)
    cap += p->toks[i].kind == QT_NEWLINE;
  tsr__qstmt *s = tsr__query_arena_alloc(p->arena, (size_t)cap * sizeof *s);
  if (s == NULL)
    return TSR_ENOMEM;
  int32_t n = 0;
  while (peek(p)->kind != QT_EOF) {
    if (accept(p, QT_NEWLINE))
      continue;
    tsr__qstmt *st = &s[n];
    tsr__qtoken *t = peek(p);
    if (t->kind == QT_NAME && p->toks[p->at + 1].kind == QT_ASSIGN) {
      next(p);
      next(p);
      st->target = t->text;
      st->target_pos = t->pos;
    }
    TSR_TRY(parse_expr(p, &st->expr));
    if (peek(p)->kind == QT_ASSIGN)
      return tsr__query_fail(p->src, peek(p)->pos, TSR_EPARSE,
                             st->target ? "chained assignment is not supported"
                                        : "can only assign to a name");
    if (!at_end_of_statement(p))
      return unexpected(p, "an operator or the end of the statement");
    n++;
  }
  *stmts = s;
  *nstmts = n;
  return TSR_OK;
}

tsr_status tsr__query_parse(tsr__qarena *arena, const char *source, tsr__qstmt **stmts,
                            int32_t *nstmts) {
  *stmts = NULL;
  *nstmts = 0;
  parser p;
  memset(&p, 0, sizeof p);
  p.arena = arena;
  p.src = source;
  tsr_status s = parse_program(&p, stmts, nstmts);
  tsr_ctx *ctx = arena->ctx;
  tsr_free(ctx, p.toks);
  tsr_free(ctx, p.operands.data);
  tsr_free(ctx, p.ops.data);
  tsr_free(ctx, p.frames.data);
  if (s != TSR_OK) {
    *stmts = NULL;
    *nstmts = 0;
  }
  return s;
}
