/* ast.h — the syntax tree of tessera's SQL (src/sql/): what the parser
 * (parser.c) builds from a script and the planner (plan.c) reads.
 *
 * A script is a list of statements separated by ';'.  Every node and
 * string lives in the script's arena and is freed at once with the script.
 * Every node records `pos`, the byte offset of its first token in the
 * source, and expressions also `end` (one past their last byte), so errors
 * point at the right token (tsr__query_fail) and unnamed result columns
 * can be named after their text.
 *
 * The tree is syntax only: names are not resolved, types not checked.
 * Keywords are matched case-insensitively; identifiers keep the case they
 * were written in, with `quoted` set when written in double quotes (the
 * planner matches unquoted names case-insensitively, quoted ones exactly).
 * Function names are lowercased by the parser. */
#ifndef TSR_SQL_AST_H
#define TSR_SQL_AST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "query/query_impl.h" /* tsr__qarena, tsr__query_fail */

typedef struct tsr__sql_expr tsr__sql_expr;
typedef struct tsr__sql_query tsr__sql_query;
typedef struct tsr__sql_table tsr__sql_table;

/* An identifier as written. */
typedef struct tsr__sql_ident {
  const char *name; /* unescaped ("a""b" gives a"b), NUL-terminated */
  bool quoted;
  int32_t pos;
} tsr__sql_ident;

/* ---- expressions ----------------------------------------------------------------------- */

typedef enum tsr__sql_expr_kind {
  SQL_E_COLUMN = 0, /* [qualifier.]name */
  SQL_E_STAR,       /* `*` or `qualifier.*`: select lists and count(*) only */
  SQL_E_INT,        /* an integer literal that fits int64 (larger ones are SQL_E_FLOAT, as
                       decimals are: the docs list decimal literals as DOUBLE) */
  SQL_E_FLOAT,      /* a decimal or exponent literal, as a double (correctly rounded) */
  SQL_E_STRING,     /* 'text' ('' inside is one quote) */
  SQL_E_BOOL,       /* TRUE / FALSE */
  SQL_E_NULL,       /* NULL */
  SQL_E_TYPED,      /* DATE '2024-01-31', TIMESTAMP '...': text + type_name */
  SQL_E_UNARY,      /* op: SQL_OP_NEG, SQL_OP_PLUS, SQL_OP_NOT; args[0] */
  SQL_E_BINARY,     /* op (arithmetic, ||, comparisons, AND, OR, LIKE, ILIKE); args[0..1];
                       `negated` for NOT LIKE / NOT ILIKE */
  SQL_E_IS_NULL,    /* args[0] IS NULL; `negated`: IS NOT NULL */
  SQL_E_IS_BOOL,    /* args[0] IS [NOT] TRUE/FALSE: `bool_value`, `negated` */
  SQL_E_BETWEEN,    /* args[0] [NOT] BETWEEN args[1] AND args[2] */
  SQL_E_IN_LIST,    /* args[0] [NOT] IN (args[1], ..., args[nargs - 1]) */
  SQL_E_CASE,       /* CASE [operand] WHEN args[2i] THEN args[2i+1] ... [ELSE else_expr] END;
                       `operand` NULL for a searched CASE */
  SQL_E_CAST,       /* CAST(args[0] AS type_name), TRY_CAST (`try_cast`), args[0]::type_name */
  SQL_E_FUNC,       /* name(args...): scalar, aggregate or window function (see below) */
  SQL_E_SUBQUERY,   /* (SELECT ...) as a scalar value: `subquery` */
} tsr__sql_expr_kind;

typedef enum tsr__sql_op {
  SQL_OP_NONE = 0,
  SQL_OP_NEG,
  SQL_OP_PLUS,
  SQL_OP_NOT,
  SQL_OP_ADD,
  SQL_OP_SUB,
  SQL_OP_MUL,
  SQL_OP_DIV,    /* / : float division */
  SQL_OP_INTDIV, /* // : integer division (DuckDB's) */
  SQL_OP_MOD,    /* % */
  SQL_OP_CONCAT, /* || */
  SQL_OP_EQ,     /* = or == */
  SQL_OP_NE,     /* <> or != */
  SQL_OP_LT,
  SQL_OP_LE,
  SQL_OP_GT,
  SQL_OP_GE,
  SQL_OP_AND,
  SQL_OP_OR,
  SQL_OP_LIKE,
  SQL_OP_ILIKE,
} tsr__sql_op;

typedef enum tsr__sql_nulls {
  SQL_NULLS_DEFAULT = 0, /* DuckDB's default: NULLS LAST, ascending or descending */
  SQL_NULLS_FIRST,
  SQL_NULLS_LAST,
} tsr__sql_nulls;

/* ORDER BY item (of a query or a window). */
typedef struct tsr__sql_order {
  tsr__sql_expr *expr; /* an integer literal here is a select-list position (planner) */
  bool descending;
  tsr__sql_nulls nulls;
} tsr__sql_order;

/* The frame clause of a window: only ROWS BETWEEN n PRECEDING AND CURRENT
 * ROW (and UNBOUNDED PRECEDING) are in the subset; anything else is a
 * syntax error naming the clause. */
typedef enum tsr__sql_frame_kind {
  SQL_FRAME_DEFAULT = 0, /* no frame clause: RANGE UNBOUNDED PRECEDING .. CURRENT ROW */
  SQL_FRAME_ROWS,        /* ROWS BETWEEN `preceding` PRECEDING AND CURRENT ROW */
} tsr__sql_frame_kind;

typedef struct tsr__sql_window {
  int npartition;
  tsr__sql_expr **partition;
  int norder;
  tsr__sql_order *order;
  tsr__sql_frame_kind frame;
  int64_t preceding; /* SQL_FRAME_ROWS: rows before the current one; -1: UNBOUNDED */
  int32_t pos;
} tsr__sql_window;

struct tsr__sql_expr {
  tsr__sql_expr_kind kind;
  int32_t pos, end; /* source bytes [pos, end) */
  tsr__sql_op op;
  bool negated;
  /* SQL_E_COLUMN, SQL_E_STAR: qualifier (a table name or alias; name NULL when none)
   * and, for columns, the column. */
  tsr__sql_ident qualifier;
  tsr__sql_ident column;
  /* literals */
  int64_t int_value;
  double float_value;
  const char *text;      /* SQL_E_STRING, SQL_E_TYPED: the unescaped text */
  size_t text_len;       /* its length in bytes (the lexer refuses NUL bytes) */
  bool bool_value;       /* SQL_E_BOOL, SQL_E_IS_BOOL */
  const char *type_name; /* SQL_E_CAST, SQL_E_TYPED: lowercased, as written ("integer",
                            "varchar", "timestamp", "double precision" folded to "double") */
  bool try_cast;
  /* operands, CASE pairs, IN lists, function arguments */
  int nargs;
  tsr__sql_expr **args;
  tsr__sql_expr *operand;   /* SQL_E_CASE with an operand */
  tsr__sql_expr *else_expr; /* SQL_E_CASE: NULL when there is no ELSE */
  /* SQL_E_FUNC: `name` lowercased; count(*) has star set and no args; DISTINCT inside the
   * parentheses sets `distinct`; OVER (...) gives `over` (NULL otherwise).  The special
   * forms are rewritten into plain calls by the parser:
   *   EXTRACT(part FROM x)        -> extract('part', x)   (part lowercased, as a string)
   *   SUBSTRING(x FROM a [FOR b]) -> substring(x, a[, b])
   *   TRIM([BOTH|LEADING|TRAILING] [chars] FROM x) -> trim / ltrim / rtrim(x[, chars]) */
  const char *name;
  bool star;
  bool distinct;
  tsr__sql_window *over;
  /* SQL_E_SUBQUERY */
  tsr__sql_query *subquery;
};

/* ---- tables ----------------------------------------------------------------------------- */

typedef enum tsr__sql_table_kind {
  SQL_T_NAME = 0, /* a table, view or CTE name: `name` */
  SQL_T_PATH,     /* a quoted path: FROM 'data.csv', 'x.csv.gz', 'file.h5:/group' (`path`) */
  SQL_T_SUBQUERY, /* (SELECT ...) */
  SQL_T_JOIN,     /* left JOIN right */
} tsr__sql_table_kind;

typedef enum tsr__sql_join_kind {
  SQL_JOIN_INNER = 0,
  SQL_JOIN_LEFT,
  SQL_JOIN_RIGHT,
  SQL_JOIN_FULL,
  SQL_JOIN_SEMI,
  SQL_JOIN_ANTI,
  SQL_JOIN_CROSS, /* CROSS JOIN, and `FROM a, b` */
  SQL_JOIN_ASOF,  /* ASOF [LEFT] JOIN ... ON equalities AND one inequality; `asof_left` */
} tsr__sql_join_kind;

struct tsr__sql_table {
  tsr__sql_table_kind kind;
  int32_t pos;
  tsr__sql_ident name;       /* SQL_T_NAME */
  const char *path;          /* SQL_T_PATH: the unescaped string */
  tsr__sql_query *subquery;  /* SQL_T_SUBQUERY */
  tsr__sql_ident alias;      /* AS alias (name NULL when none); for any kind */
  /* SQL_T_JOIN */
  tsr__sql_join_kind join;
  bool asof_left;            /* ASOF LEFT JOIN */
  tsr__sql_table *left, *right;
  tsr__sql_expr *on;         /* ON condition, or NULL */
  int nusing;                /* USING (a, b): the names; 0 when ON or CROSS */
  tsr__sql_ident *using_cols;
};

/* ---- queries ---------------------------------------------------------------------------- */

/* One select-list item: expr [AS alias]. */
typedef struct tsr__sql_item {
  tsr__sql_expr *expr;
  tsr__sql_ident alias; /* name NULL when none */
} tsr__sql_item;

typedef struct tsr__sql_select {
  int32_t pos;
  bool distinct;
  int nitems;
  tsr__sql_item *items;
  tsr__sql_table *from; /* NULL: no FROM (one row); `FROM a, b` is a CROSS JOIN node */
  tsr__sql_expr *where; /* NULL when none */
  int ngroup;
  tsr__sql_expr **group; /* GROUP BY exprs (an integer literal is a select-list position) */
  bool group_all;        /* GROUP BY ALL */
  tsr__sql_expr *having;
} tsr__sql_select;

typedef struct tsr__sql_cte {
  tsr__sql_ident name;
  tsr__sql_query *query;
} tsr__sql_cte;

typedef enum tsr__sql_query_kind {
  SQL_Q_SELECT = 0, /* `select` */
  SQL_Q_UNION,      /* left UNION [ALL] right (`all`), left-associative */
} tsr__sql_query_kind;

struct tsr__sql_query {
  tsr__sql_query_kind kind;
  int32_t pos;
  int nctes; /* WITH name AS (query), ... : visible in this query and its parts */
  tsr__sql_cte *ctes;
  tsr__sql_select *select; /* SQL_Q_SELECT */
  tsr__sql_query *left, *right;
  bool all;
  /* ORDER BY / LIMIT / OFFSET of the whole query (after a UNION they apply to it) */
  int norder;
  tsr__sql_order *order;
  tsr__sql_expr *limit;  /* NULL when none */
  tsr__sql_expr *offset; /* NULL when none */
};

/* ---- statements ------------------------------------------------------------------------- */

typedef enum tsr__sql_stmt_kind {
  SQL_S_QUERY = 0,    /* a query: its result is the statement's result */
  SQL_S_CREATE_TABLE, /* CREATE [OR REPLACE] TABLE name AS query: computed once, kept */
  SQL_S_CREATE_VIEW,  /* CREATE [OR REPLACE] VIEW name AS query: planned where used */
  SQL_S_DROP,         /* DROP TABLE|VIEW [IF EXISTS] name */
  SQL_S_COPY,         /* COPY (query) TO 'path' [(FORMAT csv, HEADER true, ...)], or
                         COPY name TO 'path' (query is then SELECT * FROM name) */
  SQL_S_EXPLAIN,      /* EXPLAIN [ANALYZE] query: `analyze` */
} tsr__sql_stmt_kind;

/* An option of COPY ... (name value, ...): name lowercased; value the text of
 * the literal or identifier (lowercased for identifiers), NULL for a bare name
 * (HEADER alone means true). */
typedef struct tsr__sql_option {
  const char *name;
  const char *value;
  int32_t pos;
} tsr__sql_option;

typedef struct tsr__sql_stmt {
  tsr__sql_stmt_kind kind;
  int32_t pos, end; /* source bytes of the statement, without the ';' */
  tsr__sql_query *query;
  tsr__sql_ident name; /* CREATE, DROP */
  bool or_replace;     /* CREATE OR REPLACE */
  bool if_exists;      /* DROP ... IF EXISTS */
  bool drop_view;      /* DROP VIEW (else DROP TABLE) */
  const char *path;    /* COPY ... TO 'path' */
  int32_t path_pos;
  int noptions;
  tsr__sql_option *options;
  bool analyze; /* EXPLAIN ANALYZE */
} tsr__sql_stmt;

typedef struct tsr__sql_script {
  tsr__qarena arena; /* owns everything below */
  const char *source; /* a copy of the text, NUL-terminated, in the arena */
  int nstmts;
  tsr__sql_stmt **stmts; /* empty statements (`;;`) are skipped */
} tsr__sql_script;

/* Parses `source` (NUL-terminated SQL text of one or more statements).  On
 * a syntax error returns TSR_EPARSE with the thread's message as
 * tsr__query_fail makes it ("line L, column C: syntax error at or near
 * \"tok\"" or "... expected X", the line, a caret), and *out NULL.
 * Nesting deeper than 200 levels, a literal out of range and an
 * unterminated string or comment are TSR_EPARSE too.  The caller owns
 * *out. */
tsr_status tsr__sql_parse(tsr_ctx *ctx, const char *source, tsr__sql_script **out);
/* As tsr__sql_parse for the `len` bytes at `source` (a NUL byte among them is
 * a TSR_EPARSE naming its position: text read from a file is not cut short
 * silently). */
tsr_status tsr__sql_parse_len(tsr_ctx *ctx, const char *source, size_t len,
                              tsr__sql_script **out);
void tsr__sql_script_destroy(tsr__sql_script **script);

/* Writes the statement as one S-expression line (tests and fuzzing compare
 * trees with it), e.g. `(select (items (col v1) (call sum (col v2)))
 * (from (path "x.csv")) (group (col v1)))`.  The form is documented in
 * parser.c. */
void tsr__sql_stmt_print(const tsr__sql_stmt *stmt, FILE *out);

#endif /* TSR_SQL_AST_H */
