/* lexer.c — splits a program into tokens, all at once, into the arena.
 *
 * Python's lexical rules, reduced to what the language needs: names
 * [A-Za-z_][A-Za-z0-9_]*, integer and float literals (1, 1.5, .5, 1e-3,
 * 2E+10, 1_000), strings in single or double quotes with the escapes \\ \'
 * \" \n \t, '#' comments to the end of the line, and ';' as a statement
 * separator.  `Backtick-quoted` names (any bytes but a backtick or a
 * newline) are their own token kind, which only column expressions
 * accept (query/colexpr.c); the program parser reports them as unexpected.  Newlines inside () and [] are dropped so a call may span
 * lines.  Runs of separators are kept; the parser skips empty statements. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "query_impl.h"

const char *tsr__query_token_desc(tsr__qtok_kind kind) {
  static const char *const desc[QT_NUM_KINDS] = {
      [QT_EOF] = "end of input", [QT_NEWLINE] = "end of statement",
      [QT_NUMBER] = "number",    [QT_NAME] = "name",
      [QT_STRING] = "string",    [QT_PLUS] = "'+'",
      [QT_MINUS] = "'-'",        [QT_STAR] = "'*'",
      [QT_SLASH] = "'/'",        [QT_SLASHSLASH] = "'//'",
      [QT_PERCENT] = "'%'",      [QT_STARSTAR] = "'**'",
      [QT_AT] = "'@'",           [QT_EQEQ] = "'=='",
      [QT_NE] = "'!='",          [QT_LT] = "'<'",
      [QT_LE] = "'<='",          [QT_GT] = "'>'",
      [QT_GE] = "'>='",          [QT_AMP] = "'&'",
      [QT_PIPE] = "'|'",         [QT_CARET] = "'^'",
      [QT_TILDE] = "'~'",        [QT_LSHIFT] = "'<<'",
      [QT_RSHIFT] = "'>>'",      [QT_LPAREN] = "'('",
      [QT_RPAREN] = "')'",       [QT_LBRACKET] = "'['",
      [QT_RBRACKET] = "']'",     [QT_COMMA] = "','",
      [QT_COLON] = "':'",        [QT_ASSIGN] = "'='",
      [QT_DOT] = "'.'",          [QT_QNAME] = "quoted name",
  };
  return (unsigned)kind < QT_NUM_KINDS && desc[kind] ? desc[kind] : "token";
}

typedef struct lexer {
  tsr__qarena *arena;
  const char *src;
  tsr__qtoken *toks;
  int32_t n, cap;
} lexer;

static tsr__qtoken *push(lexer *lx, tsr__qtok_kind kind, size_t pos, size_t len) {
  if (lx->n == lx->cap) {
    /* The text has at most INT32_MAX / 2 bytes, so the count fits int32. */
    int32_t cap = lx->cap == 0 ? 64 : lx->cap > INT32_MAX / 2 ? INT32_MAX : 2 * lx->cap;
    tsr__qtoken *t = NULL;
    if (tsr_alloc(lx->arena->ctx, (size_t)cap * sizeof *t, (void **)&t) != TSR_OK)
      return NULL;
    if (lx->n)
      memcpy(t, lx->toks, (size_t)lx->n * sizeof *t);
    tsr_free(lx->arena->ctx, lx->toks);
    lx->toks = t;
    lx->cap = cap;
  }
  tsr__qtoken *t = &lx->toks[lx->n++];
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->pos = (int32_t)pos;
  t->len = (int32_t)len;
  return t;
}

/* A number starting at src[i]; *end is one past it.  Any length: the
 * digits (without '_') are copied whole into the arena, so a float literal
 * of any length is rounded correctly by strtod, and an integer literal is
 * converted exactly or refused. */
static tsr_status lex_number(lexer *lx, size_t i, size_t *end) {
  const char *s = lx->src;
  size_t j = i;
  bool is_float = false;
  while (isdigit((unsigned char)s[j]) || s[j] == '_' || s[j] == '.') {
    if (s[j] == '.') {
      if (is_float)
        break;
      is_float = true;
    }
    j++;
  }
  if (s[j] == 'e' || s[j] == 'E') {
    size_t k = j + 1;
    if (s[k] == '+' || s[k] == '-')
      k++;
    if (!isdigit((unsigned char)s[k]))
      return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "malformed number '%.*s'", (int)(k - i),
                             s + i);
    is_float = true;
    j = k;
    while (isdigit((unsigned char)s[j]))
      j++;
  }
  if (isalpha((unsigned char)s[j]) || s[j] == '_')
    return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "malformed number '%.*s'", (int)(j + 1 - i),
                           s + i);
  char *buf = tsr__query_arena_alloc(lx->arena, j - i + 1);
  if (buf == NULL)
    return TSR_ENOMEM;
  size_t n = 0;
  for (size_t k = i; k < j; k++)
    if (s[k] != '_')
      buf[n++] = s[k];
  buf[n] = '\0';
  tsr__qtoken *t = push(lx, QT_NUMBER, i, j - i);
  if (t == NULL)
    return TSR_ENOMEM;
  if (!is_float) {
    uint64_t v = 0;
    for (size_t k = 0; k < n; k++) {
      unsigned d = (unsigned)(buf[k] - '0');
      if (v > (UINT64_MAX - d) / 10)
        return tsr__query_fail(s, (int32_t)i, TSR_EPARSE,
                               "integer literal out of range (%zu digits; the largest integer is "
                               "18446744073709551615)",
                               n);
      v = v * 10 + d;
    }
    t->is_int = true;
    t->is_uint = v > (uint64_t)INT64_MAX; /* uint64, as np.asarray makes it */
    t->ival = (int64_t)v;
    t->fval = (double)v;
  } else {
    t->fval = strtod(buf, NULL); /* overflow gives inf, underflow 0, as Python */
  }
  *end = j;
  return TSR_OK;
}

static tsr_status lex_string(lexer *lx, size_t i, size_t *end) {
  const char *s = lx->src;
  char quote = s[i];
  size_t j = i + 1, n = 0;
  char *text = tsr__query_arena_alloc(lx->arena, strlen(s + i) + 1);
  if (text == NULL)
    return TSR_ENOMEM;
  for (;; j++) {
    char c = s[j];
    if (c == '\0' || c == '\n')
      return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "unterminated string");
    if (c == quote)
      break;
    if (c == '\\') {
      char e = s[j + 1];
      if (e == 'n')
        c = '\n';
      else if (e == 't')
        c = '\t';
      else if (e == '\\' || e == '\'' || e == '"')
        c = e;
      else
        return tsr__query_fail(s, (int32_t)j, TSR_EPARSE, "unknown escape '\\%c' in a string",
                               e ? e : ' ');
      j++;
    }
    text[n++] = c;
  }
  text[n] = '\0';
  tsr__qtoken *t = push(lx, QT_STRING, i, j + 1 - i);
  if (t == NULL)
    return TSR_ENOMEM;
  t->text = text;
  *end = j + 1;
  return TSR_OK;
}

/* Operators, longest first. */
static const struct {
  const char *text;
  tsr__qtok_kind kind;
} ops[] = {
    {"**", QT_STARSTAR}, {"//", QT_SLASHSLASH}, {"==", QT_EQEQ},    {"!=", QT_NE},
    {"<=", QT_LE},       {">=", QT_GE},         {"<<", QT_LSHIFT},  {">>", QT_RSHIFT},
    {"+", QT_PLUS},      {"-", QT_MINUS},       {"*", QT_STAR},     {"/", QT_SLASH},
    {"%", QT_PERCENT},   {"@", QT_AT},          {"<", QT_LT},       {">", QT_GT},
    {"&", QT_AMP},       {"|", QT_PIPE},        {"^", QT_CARET},    {"~", QT_TILDE},
    {"(", QT_LPAREN},    {")", QT_RPAREN},      {"[", QT_LBRACKET}, {"]", QT_RBRACKET},
    {",", QT_COMMA},     {":", QT_COLON},       {"=", QT_ASSIGN},   {".", QT_DOT},
    {";", QT_NEWLINE},
};

static tsr_status lex(lexer *lxp) {
  lexer *lx = lxp;
  tsr__qarena *arena = lx->arena;
  const char *source = lx->src;
  int depth = 0; /* open ( and [ */
  size_t i = 0;
  if (strlen(source) > (size_t)INT32_MAX / 2)
    return tsr_error_set(TSR_EINVAL, "program: the text is too long");
  while (source[i] != '\0') {
    char c = source[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
      i++;
    } else if (c == '\\' && source[i + 1] == '\n') { /* line continuation */
      i += 2;
    } else if (c == '#') {
      while (source[i] != '\0' && source[i] != '\n')
        i++;
    } else if (c == '\n') {
      if (depth == 0 && push(lx, QT_NEWLINE, i, 1) == NULL)
        return TSR_ENOMEM;
      i++;
    } else if (isdigit((unsigned char)c) || (c == '.' && isdigit((unsigned char)source[i + 1]))) {
      TSR_TRY(lex_number(lx, i, &i));
    } else if (strncmp(source + i, "...", 3) == 0) { /* Python's Ellipsis */
      tsr__qtoken *t = push(lx, QT_NAME, i, 3);
      if (t == NULL || (t->text = tsr__query_arena_strndup(arena, "Ellipsis", 8)) == NULL)
        return TSR_ENOMEM;
      i += 3;
    } else if (isalpha((unsigned char)c) || c == '_') {
      size_t j = i;
      while (isalnum((unsigned char)source[j]) || source[j] == '_')
        j++;
      tsr__qtoken *t = push(lx, QT_NAME, i, j - i);
      if (t == NULL || (t->text = tsr__query_arena_strndup(arena, source + i, j - i)) == NULL)
        return TSR_ENOMEM;
      i = j;
    } else if (c == '"' || c == '\'') {
      TSR_TRY(lex_string(lx, i, &i));
    } else if (c == '`') {
      size_t j = i + 1;
      while (source[j] != '\0' && source[j] != '`' && source[j] != '\n')
        j++;
      if (source[j] != '`')
        return tsr__query_fail(source, (int32_t)i, TSR_EPARSE, "unterminated quoted name");
      tsr__qtoken *t = push(lx, QT_QNAME, i, j + 1 - i);
      if (t == NULL ||
          (t->text = tsr__query_arena_strndup(arena, source + i + 1, j - i - 1)) == NULL)
        return TSR_ENOMEM;
      i = j + 1;
    } else {
      size_t k = 0, nops = sizeof ops / sizeof ops[0];
      while (k < nops && strncmp(source + i, ops[k].text, strlen(ops[k].text)) != 0)
        k++;
      if (k == nops) {
        if (c == '!')
          return tsr__query_fail(source, (int32_t)i, TSR_EPARSE,
                                 "'!' is not an operator (use '~' for not, '!=' for unequal)");
        if ((unsigned char)c < 32 || (unsigned char)c >= 127)
          return tsr__query_fail(source, (int32_t)i, TSR_EPARSE,
                                 "unexpected character (byte 0x%02x)", (unsigned char)c);
        return tsr__query_fail(source, (int32_t)i, TSR_EPARSE, "unexpected character '%c'", c);
      }
      tsr__qtok_kind kind = ops[k].kind;
      if (kind == QT_LPAREN || kind == QT_LBRACKET)
        depth++;
      else if ((kind == QT_RPAREN || kind == QT_RBRACKET) && depth > 0)
        depth--;
      /* ';' inside brackets is still a separator: the parser reports it. */
      if (push(lx, kind, i, strlen(ops[k].text)) == NULL)
        return TSR_ENOMEM;
      i += strlen(ops[k].text);
    }
  }
  if (push(lx, QT_EOF, i, 0) == NULL)
    return TSR_ENOMEM;
  return TSR_OK;
}

tsr_status tsr__query_lex(tsr__qarena *arena, const char *source, tsr__qtoken **tokens,
                          int32_t *ntokens) {
  lexer lx = {arena, source, NULL, 0, 0};
  *tokens = NULL;
  *ntokens = 0;
  tsr_status s = lex(&lx);
  if (s != TSR_OK) {
    tsr_free(arena->ctx, lx.toks);
    return s;
  }
  *tokens = lx.toks;
  *ntokens = lx.n;
  return TSR_OK;
}
