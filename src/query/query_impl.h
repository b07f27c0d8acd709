/* query_impl.h — internals of the array expression language shared by the
 * files of src/query/: the arena that owns a program's tokens and syntax
 * tree, the token and tree types, the builtin function table, evaluation
 * values, and the error formatter that points at the source.
 *
 * Ownership: everything the lexer and parser make lives in the program's
 * arena and is freed at once by tsr_program_destroy.  Evaluation values
 * (qvalue) own their arrays and tuple items and are released with
 * tsr__query_value_clear. */
#ifndef TSR_QUERY_IMPL_H
#define TSR_QUERY_IMPL_H

#include <tessera/query.h>

#include "core/core_impl.h" /* tsr__grow_array */

/* ---- arena ------------------------------------------------------------- */

typedef struct tsr__qblock tsr__qblock;
typedef struct tsr__qarena {
  tsr_ctx *ctx;
  tsr__qblock *head;
} tsr__qarena;

/* 8-byte aligned memory that lives until the arena is freed; NULL (with
 * TSR_ENOMEM set) when the allocator refuses. */
void *tsr__query_arena_alloc(tsr__qarena *arena, size_t bytes);
char *tsr__query_arena_strndup(tsr__qarena *arena, const char *s, size_t n);
/* Makes room for one more element in the arena array *items (a pointer to
 * the array pointer) holding n of *cap elements of elem bytes: doubles it
 * (8 at first) when it is full. */
tsr_status tsr__query_arena_grow(tsr__qarena *arena, void *items, int n, int *cap, size_t elem);
void tsr__query_arena_free(tsr__qarena *arena);

/* ---- errors ------------------------------------------------------------ */

/* Sets the thread's error to "line L, column C: MESSAGE\n  SOURCE LINE\n
 * CARET" for byte offset `pos` of `source` and returns `status`. */
tsr_status tsr__query_fail(const char *source, int32_t pos, tsr_status status, const char *fmt, ...)
    TSR_PRINTF(4, 5);

/* ---- tokens (lexer.c) -------------------------------------------------- */

typedef enum tsr__qtok_kind {
  QT_EOF = 0,
  QT_NEWLINE, /* also ';' */
  QT_NUMBER,
  QT_NAME,
  QT_STRING,
  QT_PLUS,
  QT_MINUS,
  QT_STAR,
  QT_SLASH,
  QT_SLASHSLASH,
  QT_PERCENT,
  QT_STARSTAR,
  QT_AT,
  QT_EQEQ,
  QT_NE,
  QT_LT,
  QT_LE,
  QT_GT,
  QT_GE,
  QT_AMP,
  QT_PIPE,
  QT_CARET,
  QT_TILDE,
  QT_LSHIFT,
  QT_RSHIFT,
  QT_LPAREN,
  QT_RPAREN,
  QT_LBRACKET,
  QT_RBRACKET,
  QT_COMMA,
  QT_COLON,
  QT_ASSIGN,
  QT_DOT,
  QT_QNAME, /* `quoted name` (column expressions only; text unquoted) */
  QT_NUM_KINDS
} tsr__qtok_kind;

typedef struct tsr__qtoken {
  tsr__qtok_kind kind;
  int32_t pos;      /* byte offset in the source */
  int32_t len;      /* bytes of source text */
  bool is_int;      /* QT_NUMBER: an integer literal (ival), else fval */
  bool is_uint;     /* QT_NUMBER: an integer above INT64_MAX (ival holds its uint64 bits) */
  int64_t ival;     /* QT_NUMBER */
  double fval;      /* QT_NUMBER (also set for integers) */
  const char *text; /* QT_NAME, QT_STRING (unescaped), NUL-terminated, in the arena */
} tsr__qtoken;

/* The token array is not in the arena: it is needed only while parsing. */

/* The spelling of a token kind for messages ("')'", "end of line"). */
const char *tsr__query_token_desc(tsr__qtok_kind kind);

/* Splits `source` into tokens ending with QT_EOF.  Newlines inside () and []
 * are dropped (Python's implicit line joining); ';' is a QT_NEWLINE.  The
 * caller frees *tokens with tsr_free(arena->ctx, ...) (names and strings
 * the tokens point to are in the arena). */
tsr_status tsr__query_lex(tsr__qarena *arena, const char *source, tsr__qtoken **tokens,
                          int32_t *ntokens);

/* ---- builtins (builtins.c) --------------------------------------------- */

typedef enum tsr__qfn_kind {
  QF_UNARY = 0,
  QF_BINARY,
  QF_REDUCE,
  QF_ARGMIN,
  QF_ARGMAX,
  QF_CUMSUM,
  QF_CUMPROD,
  QF_WHERE,
  QF_CLIP,
  QF_ASTYPE,
  QF_MATMUL,
  QF_DOT,
  QF_TENSORDOT,
  QF_TRANSPOSE,
  QF_RESHAPE,
  QF_RECHUNK,
  QF_CONCATENATE,
  QF_STACK,
  QF_SQUEEZE,
  QF_EXPAND_DIMS,
  QF_ZEROS,
  QF_ONES,
  QF_FULL,
  QF_ARANGE,
  QF_LINSPACE,
  QF_EYE,
  QF_RANDOM,
  QF_SORT, /* sort, argsort (op 1) */
  QF_UNIQUE,
  QF_QUANTILE, /* op: 1 percentile, 2 nan- variant (bits) */
  QF_MEDIAN,   /* op: 1 nanmedian */
  QF_HISTOGRAM,
  QF_BINCOUNT,
  QF_DIGITIZE,
  QF_SEARCHSORTED,
  QF_ISIN,
  QF_ROUND, /* round(a, decimals): NumPy's np.round */
  QF_COMPOSED, /* op 0..11: diff, outer, isclose, allclose, roll, triu, tril, diag, trace,
                  norm, cov, corrcoef */
  QF_LIKE,     /* op: 0 zeros_like, 1 ones_like, 2 full_like, 3 empty_like */
  QF_REARRANGE, /* op: 0 pad, 1 tile, 2 repeat, 3 permutation, 4 randint, 5 array/asarray */
  QF_HDF5_ATTR, /* attr(a, name): a numeric attribute of an --in dataset */
  QF_LINALG,    /* op: 0 qr, 1 svd, 2 lstsq, 3 solve, 4 inv, 5 cholesky */
} tsr__qfn_kind;

#define TSR__QFN_MAX_PARAMS 6

typedef struct tsr__qfn {
  const char *name;
  tsr__qfn_kind kind;
  int op;                    /* tsr_unary_op / tsr_binary_op / tsr_reduce_op */
  const char *const *params; /* NULL-terminated parameter names, in positional order */
  int nrequired;             /* the first nrequired parameters must be given */
} tsr__qfn;

/* Looks a function up by name; false when there is none. */
bool tsr__query_fn_find(const char *name, tsr__qfn *out);
int tsr__query_fn_nparams(const tsr__qfn *fn);

/* ---- syntax tree (parser.c) -------------------------------------------- */

typedef enum tsr__qnode_kind {
  QN_NUMBER = 0,
  QN_STRING,
  QN_NAME,
  QN_TUPLE,  /* (a, b) or [a, b]: kids are the items */
  QN_UNARY,  /* op: QT_MINUS, QT_PLUS, QT_TILDE; kids[0] */
  QN_BINARY, /* op: the operator token; kids[0] op kids[1] */
  QN_ATTR,   /* kids[0].text */
  QN_INDEX,  /* kids[0][kids[1], ...] */
  QN_SLICE,  /* start:stop:step, kids[0..2] each NULL when omitted */
  QN_CALL,   /* text(kids...) — fn resolved; slots[i] is parameter i or NULL */
  QN_KWARG,  /* text=kids[0] (only inside a call's kids) */
} tsr__qnode_kind;

/* Trees may be as deep as the program nests (a million parentheses, or a
 * sum of a million terms, which is a left-deep chain): every walk over a
 * tree (parser, evaluator, free-name scan, dump) uses a heap stack, never
 * C recursion, and nodes are kept small. */
typedef struct tsr__qnode tsr__qnode;
struct tsr__qnode {
  uint8_t kind; /* tsr__qnode_kind */
  uint8_t op;   /* QN_UNARY, QN_BINARY: a tsr__qtok_kind */
  bool is_int;  /* QN_NUMBER */
  bool is_uint; /* QN_NUMBER: an integer above INT64_MAX, its uint64 bits in ival */
  int32_t pos;  /* where errors about this node point */
  int32_t nkids;
  union {
    int64_t ival; /* QN_NUMBER, is_int */
    double fval;  /* QN_NUMBER, !is_int */
  };
  const char *text; /* QN_STRING, QN_NAME, QN_ATTR, QN_CALL, QN_KWARG */
  tsr__qnode **kids;
  const tsr__qfn *fn; /* QN_CALL */
  tsr__qnode **slots; /* QN_CALL: TSR__QFN_MAX_PARAMS argument nodes by parameter */
};

typedef struct tsr__qstmt {
  const char *target; /* assigned name, or NULL for an expression statement */
  int32_t target_pos;
  tsr__qnode *expr;
} tsr__qstmt;

/* Parses the whole program: statements into *stmts (arena memory).
 * Function calls are checked against the builtin table here (unknown
 * function, argument count, unknown or repeated keywords). */
tsr_status tsr__query_parse(tsr__qarena *arena, const char *source, tsr__qstmt **stmts,
                            int32_t *nstmts);

/* ---- values (eval.c) --------------------------------------------------- */

typedef enum tsr__qvalue_kind {
  QV_NONE = 0,
  QV_BOOL,
  QV_INT,  /* i */
  QV_UINT, /* an integer above INT64_MAX: (uint64_t)i, as NumPy's uint64 */
  QV_FLOAT,
  QV_STRING,
  QV_TUPLE,
  QV_ARRAY,
} tsr__qvalue_kind;

typedef struct tsr__qvalue tsr__qvalue;
struct tsr__qvalue {
  tsr__qvalue_kind kind;
  bool b;
  int64_t i;
  double f;
  const char *s;      /* QV_STRING: borrowed from the arena */
  tsr__qvalue *items; /* QV_TUPLE: n items, owned (tsr_alloc of ctx) */
  int n;
  tsr_array *array; /* QV_ARRAY: owned reference */
};

typedef struct tsr__qvar {
  char *name; /* owned (tsr_alloc) */
  tsr__qvalue value;
} tsr__qvar;

/* ---- name index (names.c) ---------------------------------------------- */

/* A hash index over a caller's array of names: open addressing with linear
 * probing; slots hold index + 1 (0 = empty) and the table is kept at most
 * half full, so lookups stay O(1) however many names a program has.  The
 * caller keeps the names; `get` returns name `i` of `owner`. */
typedef const char *(*tsr__qname_fn)(const void *owner, int32_t i);
typedef struct tsr__qmap {
  int32_t *slots;
  size_t cap; /* 0 or a power of two */
  int32_t n;  /* indices held */
} tsr__qmap;

/* The index of `name`, or -1. */
int32_t tsr__query_map_find(const tsr__qmap *m, const char *name, tsr__qname_fn get,
                            const void *owner);
/* Adds index i (whose name get(owner, i) is not in the map yet); grows the
 * table (allocated from ctx).  TSR_ENOMEM leaves the map as it was. */
tsr_status tsr__query_map_add(tsr_ctx *ctx, tsr__qmap *m, int32_t i, tsr__qname_fn get,
                              const void *owner);
void tsr__query_map_free(tsr_ctx *ctx, tsr__qmap *m);

/* A table of named values (inputs, assigned variables). */
typedef struct tsr__qenv {
  tsr_ctx *ctx;
  tsr__qvar *vars;
  int n, cap;
  tsr__qmap map; /* name -> index into vars */
} tsr__qenv;

/* A new handle on the same array node (the array layer has no public
 * retain), and the context an array belongs to. */
tsr_status tsr__query_array_ref(tsr_array *a, tsr_array **out);
tsr_ctx *tsr__query_array_ctx(const tsr_array *a);

void tsr__query_value_clear(tsr_ctx *ctx, tsr__qvalue *v);
/* *dst = a new reference/copy of src. */
tsr_status tsr__query_value_copy(tsr_ctx *ctx, const tsr__qvalue *src, tsr__qvalue *dst);
const char *tsr__query_value_kind_name(const tsr__qvalue *v);

tsr__qvalue *tsr__query_env_find(tsr__qenv *env, const char *name);
/* Sets name to value, taking ownership of value (cleared on failure too). */
tsr_status tsr__query_env_set(tsr__qenv *env, const char *name, tsr__qvalue *value);
void tsr__query_env_clear(tsr__qenv *env);

typedef struct tsr__qeval {
  tsr_ctx *ctx;
  const char *source;
  tsr__qenv *inputs; /* bound arrays */
  tsr__qenv *vars;   /* assigned in this run */
} tsr__qeval;

/* Evaluates one expression into *out (a new value the caller clears). */
tsr_status tsr__query_eval(tsr__qeval *ev, const tsr__qnode *node, tsr__qvalue *out);

/* ---- column expressions (colexpr.c) ------------------------------------ */

/* The scalar function `name` of column expressions: its tsr__cp_op
 * (frame/colprog.h) and argument count; false when there is none. */
bool tsr__colexpr_function(const char *name, int *op, int *nargs);

/* ---- program (program.c) ----------------------------------------------- */

/* Writes an s-expression of the parsed program into buf (truncated to
 * size), e.g. "(= y (+ 1 (* 2 3)))"; statements separated by "; ".  For
 * tests. */
void tsr__query_dump(const tsr_program *program, char *buf, size_t size);

#endif /* TSR_QUERY_IMPL_H */
