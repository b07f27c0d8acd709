/* lexer.h — the tokens of tessera's SQL (src/sql/lexer.c), read by the
 * parser (parser.c) only.  Keywords are not tokens of their own: they are
 * unquoted identifiers that the parser compares case-insensitively, so a
 * word is a keyword only where the grammar expects one. */
#ifndef TSR_SQL_LEXER_H
#define TSR_SQL_LEXER_H

#include "sql/ast.h"

typedef enum tsr__sqltok_kind {
  SQ_EOF = 0,
  SQ_IDENT,  /* unquoted identifier or keyword: text as written */
  SQ_QIDENT, /* "quoted identifier": text unescaped */
  SQ_STRING, /* 'string': text unescaped, len in text_len */
  SQ_INT,    /* integer literal that fits int64: ival */
  SQ_FLOAT,  /* decimal, exponent, or integer too large for int64: fval */
  SQ_PLUS,
  SQ_MINUS,
  SQ_STAR,
  SQ_SLASH,
  SQ_SLASHSLASH,
  SQ_PERCENT,
  SQ_CONCAT, /* || */
  SQ_EQ,     /* = or == */
  SQ_NE,     /* <> or != */
  SQ_LT,
  SQ_LE,
  SQ_GT,
  SQ_GE,
  SQ_COLONCOLON,
  SQ_LPAREN,
  SQ_RPAREN,
  SQ_COMMA,
  SQ_DOT,
  SQ_SEMI,
} tsr__sqltok_kind;

typedef struct tsr__sqltoken {
  tsr__sqltok_kind kind;
  int32_t pos, len; /* source bytes [pos, pos + len) */
  int64_t ival;
  double fval;
  bool int_min_magnitude; /* SQ_FLOAT written as the integer 9223372036854775808 (so that
                             -9223372036854775808 can be folded to INT64_MIN) */
  const char *text;       /* SQ_IDENT, SQ_QIDENT, SQ_STRING: NUL-terminated, in the arena */
  size_t text_len;
} tsr__sqltoken;

/* Splits source[0, len) into tokens ending with SQ_EOF (comments and white
 * space dropped).  A NUL byte, a stray character, an unterminated string,
 * quoted identifier or comment and a number out of range are TSR_EPARSE
 * (tsr__query_fail's message).  Texts live in `arena`; the caller frees
 * *tokens with tsr_free(arena->ctx, ...). */
tsr_status tsr__sql_lex(tsr__qarena *arena, const char *source, size_t len, tsr__sqltoken **tokens,
                        int32_t *ntokens);

#endif /* TSR_SQL_LEXER_H */
