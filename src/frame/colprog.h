/* colprog.h — column programs: an SSA program over the columns of one
 * frame, built from C one instruction at a time (each returns the number of
 * the value it defines, no handle per intermediate), and evaluated per row
 * chunk in batches of TSR__CP_BATCH rows with typed loops.  The text front
 * end (query/colexpr.c) builds them; assign and filter run them.
 *
 * Values: bool, int8..uint64, float32/64 (NumPy's promotion, integer
 * literals weak), strings, dictionary codes, dates (int32 days) and
 * timestamps (int64 units).  Every value may be null; nulls propagate
 * through arithmetic, comparisons and functions, and/or/not use SQL's
 * three-valued logic, is_null is never null.  Semantics chosen after
 * DuckDB: `/` is float division (IEEE: x / 0 is inf or nan); integer `//`
 * truncates toward zero and `%` takes the dividend's sign, both null when
 * the divisor is 0; integer + - * and abs/negation that overflow their
 * type are TSR_EOVERFLOW naming the expression (never wrap silently).
 * Runtime errors (overflow, failed casts) are kept per row with the values
 * and raised only when the result holds one: a CASE branch not chosen in a
 * row raises nothing there.
 * String comparisons are byte-wise; lower/upper change ASCII letters only
 * (other bytes, including non-ASCII UTF-8, are kept); length counts UTF-8
 * code points; like's `_` matches one code point, `%` any run.
 * Dictionary columns are compared, matched and case-mapped on their
 * dictionary when the program is built (a per-code table), so such
 * predicates cost one code load and one table load per row. */
#ifndef TSR_FRAME_COLPROG_H
#define TSR_FRAME_COLPROG_H

#include "frame_impl.h"

#define TSR__CP_BATCH 2048

/* Hot loops compiled twice, for any x86-64 and for AVX-512 machines
 * (x86-64-v4: 8 doubles per instruction, int64 <-> double conversions),
 * the one to run chosen when the library loads. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define TSR__CLONES __attribute__((target_clones("default", "arch=x86-64-v4")))
#else
#define TSR__CLONES
#endif

typedef struct tsr__colprog tsr__colprog;

typedef enum tsr__cp_op {
  /* binary */
  TSR__CP_ADD = 0,
  TSR__CP_SUB,
  TSR__CP_MUL,
  TSR__CP_DIV,      /* float division */
  TSR__CP_INTDIV,   /* // */
  TSR__CP_MOD,      /* % */
  TSR__CP_POW,      /* pow(a, b): float64, as C's pow (DuckDB's pow / power) */
  TSR__CP_EQ,
  TSR__CP_NE,
  TSR__CP_LT,
  TSR__CP_LE,
  TSR__CP_GT,
  TSR__CP_GE,
  TSR__CP_AND,
  TSR__CP_OR,
  TSR__CP_LIKE,
  TSR__CP_ILIKE,    /* like, ASCII letters case-insensitive (DuckDB's ilike) */
  TSR__CP_CONTAINS,
  TSR__CP_STARTS_WITH,
  TSR__CP_CONCAT,   /* a || b: strings (other types cast to their text), null if either is */
  /* unary */
  TSR__CP_NEG,
  TSR__CP_NOT,
  TSR__CP_IS_NULL,
  TSR__CP_ABS,
  TSR__CP_SQRT,
  TSR__CP_EXP,
  TSR__CP_LOG,
  TSR__CP_LOG10,
  TSR__CP_LOG2,
  TSR__CP_SIN,
  TSR__CP_COS,
  TSR__CP_TAN,
  TSR__CP_FLOOR,
  TSR__CP_CEIL,
  TSR__CP_ROUND,
  TSR__CP_TRUNC,
  TSR__CP_LOWER,
  TSR__CP_UPPER,
  TSR__CP_LENGTH,
  TSR__CP_YEAR,
  TSR__CP_MONTH,
  TSR__CP_DAY,
  TSR__CP_HOUR,
  TSR__CP_TRIM,   /* spaces (' ') off both ends, as DuckDB's trim(s) */
  TSR__CP_LTRIM,
  TSR__CP_RTRIM,
  TSR__CP_MINUTE, /* timestamps: 0..59 */
  TSR__CP_SECOND, /* timestamps: 0..59 (the fraction dropped, as DuckDB's second()) */
  TSR__CP_DOW,    /* dayofweek: Sunday 0 .. Saturday 6 */
  TSR__CP_ISODOW, /* Monday 1 .. Sunday 7 */
  TSR__CP_DOY,    /* dayofyear: 1..366 */
  TSR__CP_QUARTER,
  TSR__CP_WEEK,   /* ISO 8601 week 1..53 */
  TSR__CP_EPOCH,  /* seconds since 1970-01-01 as float64 (DuckDB's epoch / extract(epoch)) */
  TSR__CP_NUM_OPS
} tsr__cp_op;

/* The operator's name in messages ("add", "compare", "like", ...). */
const char *tsr__cp_op_name(tsr__cp_op op);

/* A program over the columns of f (the frame is retained until the
 * program is destroyed). */
tsr_status tsr__colprog_create(tsr_frame *f, tsr__colprog **out);
void tsr__colprog_destroy(tsr__colprog **p);

/* Each builder call appends one value and returns its number in *out.
 * Type errors are TSR_EDTYPE with a message naming the operator and the
 * types ("cannot add int64 and string"), to which callers prepend where. */
tsr_status tsr__colprog_column(tsr__colprog *p, int col, int *out);
tsr_status tsr__colprog_int(tsr__colprog *p, int64_t v, bool is_uint, int *out);
tsr_status tsr__colprog_float(tsr__colprog *p, double v, int *out);
tsr_status tsr__colprog_bool(tsr__colprog *p, bool v, int *out);
tsr_status tsr__colprog_string(tsr__colprog *p, const char *s, size_t len, int *out);
tsr_status tsr__colprog_null(tsr__colprog *p, int *out);
tsr_status tsr__colprog_binary(tsr__colprog *p, tsr__cp_op op, int a, int b, int *out);
tsr_status tsr__colprog_unary(tsr__colprog *p, tsr__cp_op op, int a, int *out);
/* Conditional and null-handling values (SQL's CASE, coalesce, nullif).
 * tsr__colprog_if: `cond` true (valid and true) gives `then` else `els`
 * (a null condition counts as not true; cond may be the null literal).
 * The result has the branches' common type: numeric promotion as for
 * arithmetic, strings and dictionaries give strings, dates, timestamps
 * (same unit) and bools only with themselves; the null literal takes the
 * other branch's type (both null: the null literal).  Both branches are
 * computed per batch, but a runtime error (overflow, a failed cast) counts
 * only in the rows whose branch is chosen.  SQL's CASE WHEN c1 THEN a WHEN
 * c2 THEN b ELSE e END is if(c1, a, if(c2, b, e)); no ELSE: a null.
 * tsr__colprog_coalesce: the first non-null of args[0..n) (n >= 1; later
 * arguments' errors count only where the earlier ones are null).
 * tsr__colprog_nullif: null where a = b (compared as `=` does), else a. */
tsr_status tsr__colprog_if(tsr__colprog *p, int cond, int then, int els, int *out);
tsr_status tsr__colprog_coalesce(tsr__colprog *p, const int *args, int n, int *out);
tsr_status tsr__colprog_nullif(tsr__colprog *p, int a, int b, int *out);

/* CAST(a AS to) (try: TRY_CAST, a value that does not convert is null
 * instead of an error), as DuckDB's: numbers and bools convert to each
 * other with range checks (floats to integers round half to even, as
 * DuckDB's; NaN and infinities fail; non-zero is true); text parses into
 * numbers, bools (true/false/t/f/1/0/yes/no), dates ('YYYY-MM-DD') and
 * timestamps ('YYYY-MM-DD[ |T]HH:MM[:SS[.f]]'), leading and trailing
 * spaces allowed; numbers, bools, dates and timestamps become DuckDB's text
 * ("1.5", "1.0", "1e+20", "true", "2024-01-31", "2024-01-31 12:34:56.5");
 * dictionaries become strings (to other types through their text); dates
 * and timestamps convert to each other (a timestamp's date is the day it
 * falls in) and between timestamp units.  Refused when built (TSR_EDTYPE):
 * dates/timestamps <-> numbers (as DuckDB), casts to dict.  A failing row
 * is TSR_EINVAL (bad text) or TSR_EOVERFLOW (out of range) naming the row
 * and the value, when computed. */
tsr_status tsr__colprog_cast(tsr__colprog *p, int a, tsr_type to, bool try_, int *out);
/* A type named as SQL (DuckDB) names it, any case: tinyint/int1, smallint/
 * int2/short, integer/int/int4/signed, bigint/int8/long, utinyint,
 * usmallint, uinteger, ubigint, real/float4/float, double/float8,
 * varchar/text/string/char/bpchar, boolean/bool/logical, date, timestamp/
 * datetime (microseconds); then the names tsr_type_parse takes (int16,
 * uint32, float64, timestamp[ms], ...).  Note SQL's int8 is int64 and its
 * float is float32.  false when unknown. */
bool tsr__cp_sql_type(const char *name, tsr_type *out);

/* String functions.  concat: args' text joined, nulls skipped (never null;
 * DuckDB's concat).  substr(s, start[, len]) with len < 0 meaning "to the
 * end" (pass -1 as the value index for no length): 1-based code points,
 * DuckDB's rules (start 0 is one before the first; start < 0 counts from
 * the end; a negative length takes the characters before start).
 * replace(s, from, to): every non-overlapping `from` (left to right)
 * replaced; `from` and `to` must be constant strings (TSR_EDTYPE
 * otherwise); an empty `from` leaves s. */
tsr_status tsr__colprog_concat(tsr__colprog *p, const int *args, int n, int *out);
tsr_status tsr__colprog_substr(tsr__colprog *p, int s, int start, int len, int *out);
tsr_status tsr__colprog_replace(tsr__colprog *p, int s, int from, int to, int *out);

/* x [NOT] IN (list[0..n)): the OR of x = list[k] (SQL's nulls: a null x
 * is null; no match with a null in the list is null); negate gives NOT IN.
 * x [NOT] BETWEEN lo AND hi: (x >= lo) AND (x <= hi), negated for NOT. */
tsr_status tsr__colprog_in(tsr__colprog *p, int x, const int *list, int n, bool negate, int *out);
tsr_status tsr__colprog_between(tsr__colprog *p, int x, int lo, int hi, bool negate, int *out);

/* date_trunc(unit, x) for a date or timestamp x: a timestamp (the date's
 * unit microseconds; a timestamp keeps its unit), as DuckDB gives. */
typedef enum tsr__cp_trunc {
  TSR__TRUNC_YEAR = 0,
  TSR__TRUNC_QUARTER,
  TSR__TRUNC_MONTH,
  TSR__TRUNC_WEEK, /* ISO: the Monday */
  TSR__TRUNC_DAY,
  TSR__TRUNC_HOUR,
  TSR__TRUNC_MINUTE,
  TSR__TRUNC_SECOND,
  TSR__TRUNC_NUM
} tsr__cp_trunc;
/* The unit named (year, quarter, month, week, day, hour, minute, second;
 * any case, also plurals), or false. */
bool tsr__cp_trunc_parse(const char *name, tsr__cp_trunc *out);
tsr_status tsr__colprog_date_trunc(tsr__colprog *p, tsr__cp_trunc unit, int a, int *out);

/* Labels value v for runtime errors (overflow): "'v1 * v2'" (copied). */
tsr_status tsr__colprog_label(tsr__colprog *p, int v, const char *text, size_t len);

/* The type of value v ("null" literals: id TSR_NUM_COLTYPES). */
tsr_type tsr__colprog_type(const tsr__colprog *p, int v);
/* "int64", "string", ..., "null". */
const char *tsr__colprog_type_name(const tsr__colprog *p, int v);

/* The number of columns of the program's frame. */
int tsr__colprog_ncols(const tsr__colprog *p);
/* Whether computing value `result` may read column col of the program's
 * frame (a column loaded by one of the values up to it). */
bool tsr__colprog_reads(const tsr__colprog *p, int result, int col);
void tsr__colprog_retain(tsr__colprog *p);
/* Checks that value v can be a column (*type; TSR_EDTYPE for the null
 * literal alone) or, when `predicate`, a filter's predicate (bool). */
tsr_status tsr__colprog_check(const tsr__colprog *p, int v, bool predicate, tsr_type *type);
/* The bytes of long strings value v can make in row chunk c. */
int64_t tsr__colprog_data_cap(const tsr__colprog *p, int v, int64_t c);
/* Mixes the program and its result value into h (the MPI agreement). */
void tsr__colprog_hash(const tsr__colprog *p, int result, tsr__hash *h);

/* Running a program inside a kernel: per task, a runner computing value
 * `result` of row chunk `chunk`; its column loads read what
 * tsr__cprun_bind gave for the program's frame column (at the batch's
 * rows: row0 is a row of that column chunk).  Each batch is n <=
 * TSR__CP_BATCH rows, any row0. */
typedef struct tsr__cprun tsr__cprun;
tsr_status tsr__cprun_create(const tsr__colprog *p, int result, tsr_ctx *ctx, int64_t chunk,
                             tsr__cprun **out);
void tsr__cprun_destroy(tsr__cprun **r);
void tsr__cprun_bind(tsr__cprun *r, int col, const tsr__colread *in);
/* keep[i] = whether the (bool) result is true (valid and not 0) at row0 + i. */
tsr_status tsr__cprun_keep(tsr__cprun *r, int64_t row0, int n, uint8_t *keep);
/* Computes rows [row0, row0 + n) into column chunk c at rows [o, o + n)
 * (values, validity bits, string bytes; null_count grows). */
tsr_status tsr__cprun_store(tsr__cprun *r, int64_t row0, int n, tsr__colchunk *c, int64_t o);

/* assign: f plus (or with replaced) column `name` holding value v (the
 * program is the caller's; the node keeps what it needs).  When every
 * column v reads lives in one filter node, that filter computes it from
 * its kept rows (tsr__filter_extend); else a node of its own, one task
 * per row chunk. */
tsr_status tsr__colprog_assign(tsr__colprog *p, int v, const char *name, tsr_frame **out);

/* ---- filters running programs (filter.c) ---- */

/* A frame of f's columns keeping the rows where value v of prog (a
 * program over f's columns) is true. */
tsr_status tsr__frame_filter_prog(tsr_frame *f, tsr__colprog *prog, int v, tsr_frame **out);
bool tsr__is_filter_node(const tsr__expr *e);
/* Whether filters may use AVX-512 where the CPU has it (default true;
 * tests turn it off to check the portable path on such machines). */
void tsr__filter_set_simd(bool enabled);
/* A copy of filter node `node` that also computes value v of prog (of
 * `type`) from its kept rows, in its last slot (*slot); slot_of_col maps
 * each column of prog's frame to the node's slot holding it (-1: the
 * program does not read it).  *out is a new node with node's inputs and
 * row partitioning. */
tsr_status tsr__filter_extend(const tsr__expr *node, tsr__colprog *prog, int v, tsr_type type,
                              const int *slot_of_col, tsr__expr **out, uint32_t *slot);

#endif /* TSR_FRAME_COLPROG_H */
