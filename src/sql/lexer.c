/* lexer.c — splits SQL text into tokens for parser.c.
 *
 * Identifiers are letters, digits, '_' and every byte >= 0x80 (so UTF-8
 * names need no decoding); "quoted identifiers" and 'strings' double their
 * quote to escape it.  Numbers are digits with an optional fraction and
 * exponent; an integer that does not fit int64 and every decimal is a
 * double converted by strtod from the literal's own text (so correctly
 * rounded), and a literal whose value overflows a double is refused.
 * Comments are `-- to the end of the line` and `/ * ... * /` (not nested).
 * A NUL byte or a character that starts no token is an error naming it;
 * every error points at the offending byte (tsr__query_fail). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sql/lexer.h"

typedef struct lexer {
  tsr__qarena *arena;
  const char *src;
  size_t len;
  tsr__sqltoken *toks;
  size_t n, cap;
} lexer;

static bool is_ident_start(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static bool is_ident_char(unsigned char c) { return is_ident_start(c) || is_digit(c); }

static tsr__sqltoken *push(lexer *lx, tsr__sqltok_kind kind, size_t pos, size_t len) {
  if (lx->n == lx->cap) {
    size_t cap = lx->cap ? 2 * lx->cap : 64;
    if (tsr__grow_array(lx->arena->ctx, (void **)&lx->toks, lx->cap, cap, sizeof *lx->toks,
                        "SQL tokens") != TSR_OK)
      return NULL;
    lx->cap = cap;
  }
  tsr__sqltoken *t = &lx->toks[lx->n++];
  memset(t, 0, sizeof *t);
  t->kind = kind;
  t->pos = (int32_t)pos;
  t->len = (int32_t)len;
  return t;
}

/* A quoted string or identifier starting at src[i] (the quote); *end is one
 * past the closing quote. */
static tsr_status lex_quoted(lexer *lx, size_t i, size_t *end) {
  const char *s = lx->src;
  char quote = s[i];
  size_t j = i + 1, n = 0;
  for (;; j++) {
    if (j >= lx->len)
      return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "unterminated %s",
                             quote == '\'' ? "string" : "quoted identifier");
    if (s[j] == quote) {
      if (j + 1 < lx->len && s[j + 1] == quote) {
        j++;
        n++;
        continue;
      }
      break;
    }
    n++;
  }
  if (quote == '"' && n == 0)
    return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "empty quoted identifier");
  char *text = tsr__query_arena_alloc(lx->arena, n + 1);
  if (text == NULL)
    return TSR_ENOMEM;
  size_t k = 0;
  for (size_t m = i + 1; m < j; m++) {
    text[k++] = s[m];
    if (s[m] == quote)
      m++; /* the doubled quote */
  }
  text[k] = '\0';
  tsr__sqltoken *t = push(lx, quote == '\'' ? SQ_STRING : SQ_QIDENT, i, j + 1 - i);
  if (t == NULL)
    return TSR_ENOMEM;
  t->text = text;
  t->text_len = n;
  *end = j + 1;
  return TSR_OK;
}

/* A number starting at src[i] (a digit, or '.' before a digit). */
static tsr_status lex_number(lexer *lx, size_t i, size_t *end) {
  const char *s = lx->src;
  size_t j = i;
  bool is_float = false;
  while (j < lx->len && is_digit((unsigned char)s[j]))
    j++;
  if (j < lx->len && s[j] == '.') {
    is_float = true;
    j++;
    while (j < lx->len && is_digit((unsigned char)s[j]))
      j++;
  }
  if (j < lx->len && (s[j] == 'e' || s[j] == 'E')) {
    size_t k = j + 1;
    if (k < lx->len && (s[k] == '+' || s[k] == '-'))
      k++;
    if (k >= lx->len || !is_digit((unsigned char)s[k]))
      return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "malformed number \"%.*s\"", (int)(k - i),
                             s + i);
    is_float = true;
    j = k;
    while (j < lx->len && is_digit((unsigned char)s[j]))
      j++;
  }
  if (j < lx->len && is_ident_char((unsigned char)s[j])) {
    size_t k = j;
    while (k < lx->len && is_ident_char((unsigned char)s[k]) && k - i < 40)
      k++;
    return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "malformed number \"%.*s\"", (int)(k - i),
                           s + i);
  }
  tsr__sqltoken *t = push(lx, SQ_INT, i, j - i);
  if (t == NULL)
    return TSR_ENOMEM;
  if (!is_float) {
    uint64_t v = 0;
    bool fits = true;
    for (size_t k = i; k < j && fits; k++) {
      unsigned d = (unsigned)(s[k] - '0');
      if (v > ((uint64_t)INT64_MAX - d) / 10)
        fits = false;
      else
        v = v * 10 + d;
    }
    if (fits) {
      t->ival = (int64_t)v;
      t->fval = (double)v;
      *end = j;
      return TSR_OK;
    }
  }
  /* strtod on a copy of exactly the literal (the source may go on with digits of
   * another token only after a non-number byte, but it need not be terminated). */
  char *buf = tsr__query_arena_strndup(lx->arena, s + i, j - i);
  if (buf == NULL)
    return TSR_ENOMEM;
  t->kind = SQ_FLOAT;
  t->fval = strtod(buf, NULL);
  if (isinf(t->fval))
    return tsr__query_fail(s, (int32_t)i, TSR_EPARSE,
                           "number out of range (larger than the largest double): %.*s",
                           (int)(j - i > 40 ? 40 : j - i), s + i);
  if (!is_float) {
    /* 9223372036854775808 (leading zeros allowed) is INT64_MIN's magnitude */
    size_t k = i;
    while (k + 1 < j && s[k] == '0')
      k++;
    t->int_min_magnitude = j - k == 19 && memcmp(s + k, "9223372036854775808", 19) == 0;
  }
  *end = j;
  return TSR_OK;
}

static tsr_status stray(const char *s, size_t i) {
  unsigned char c = (unsigned char)s[i];
  if (c == '\0')
    return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "NUL byte in the SQL text");
  if (c < 0x20 || c == 0x7f)
    return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "unexpected character 0x%02x", c);
  return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "unexpected character '%c'", c);
}

static tsr_status lex_all(lexer *lx) {
  const char *s = lx->src;
  size_t i = 0, n = lx->len;
  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    unsigned char d = i + 1 < n ? (unsigned char)s[i + 1] : 0;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      i++;
      continue;
    }
    if (c == '-' && d == '-') {
      while (i < n && s[i] != '\n')
        i++;
      continue;
    }
    if (c == '/' && d == '*') {
      size_t j = i + 2;
      while (j + 1 < n && !(s[j] == '*' && s[j + 1] == '/'))
        j++;
      if (j + 1 >= n)
        return tsr__query_fail(s, (int32_t)i, TSR_EPARSE, "unterminated /* comment");
      i = j + 2;
      continue;
    }
    size_t end = i + 1;
    if (is_ident_start(c)) {
      while (end < n && is_ident_char((unsigned char)s[end]))
        end++;
      tsr__sqltoken *t = push(lx, SQ_IDENT, i, end - i);
      if (t == NULL || (t->text = tsr__query_arena_strndup(lx->arena, s + i, end - i)) == NULL)
        return TSR_ENOMEM;
      t->text_len = end - i;
      i = end;
      continue;
    }
    if (c == '\'' || c == '"') {
      TSR_TRY(lex_quoted(lx, i, &end));
      i = end;
      continue;
    }
    if (is_digit(c) || (c == '.' && is_digit(d))) {
      TSR_TRY(lex_number(lx, i, &end));
      i = end;
      continue;
    }
    tsr__sqltok_kind kind;
    switch (c) {
    case '+':
      kind = SQ_PLUS;
      break;
    case '-':
      kind = SQ_MINUS;
      break;
    case '*':
      kind = SQ_STAR;
      break;
    case '%':
      kind = SQ_PERCENT;
      break;
    case '(':
      kind = SQ_LPAREN;
      break;
    case ')':
      kind = SQ_RPAREN;
      break;
    case ',':
      kind = SQ_COMMA;
      break;
    case '.':
      kind = SQ_DOT;
      break;
    case ';':
      kind = SQ_SEMI;
      break;
    case '/':
      kind = SQ_SLASH;
      if (d == '/') {
        kind = SQ_SLASHSLASH;
        end++;
      }
      break;
    case '|':
      if (d != '|')
        return stray(s, i);
      kind = SQ_CONCAT;
      end++;
      break;
    case '=':
      kind = SQ_EQ;
      if (d == '=')
        end++;
      break;
    case '!':
      if (d != '=')
        return stray(s, i);
      kind = SQ_NE;
      end++;
      break;
    case '<':
      kind = SQ_LT;
      if (d == '=') {
        kind = SQ_LE;
        end++;
      } else if (d == '>') {
        kind = SQ_NE;
        end++;
      }
      break;
    case '>':
      kind = SQ_GT;
      if (d == '=') {
        kind = SQ_GE;
        end++;
      }
      break;
    case ':':
      if (d != ':')
        return stray(s, i);
      kind = SQ_COLONCOLON;
      end++;
      break;
    default:
      return stray(s, i);
    }
    if (push(lx, kind, i, end - i) == NULL)
      return TSR_ENOMEM;
    i = end;
  }
  return push(lx, SQ_EOF, n, 0) == NULL ? TSR_ENOMEM : TSR_OK;
}

tsr_status tsr__sql_lex(tsr__qarena *arena, const char *source, size_t len, tsr__sqltoken **tokens,
                        int32_t *ntokens) {
  *tokens = NULL;
  *ntokens = 0;
  if (len > (size_t)INT32_MAX - 1)
    return tsr_error_set(TSR_EPARSE, "SQL text of %zu bytes: at most %d bytes", len, INT32_MAX - 1);
  const char *nul = memchr(source, '\0', len);
  if (nul != NULL)
    return tsr__query_fail(source, (int32_t)(nul - source), TSR_EPARSE, "NUL byte in the SQL text");
  lexer lx = {.arena = arena, .src = source, .len = len};
  tsr_status s = lex_all(&lx);
  if (s != TSR_OK) {
    tsr_free(arena->ctx, lx.toks);
    return s;
  }
  *tokens = lx.toks;
  *ntokens = (int32_t)lx.n;
  return TSR_OK;
}
