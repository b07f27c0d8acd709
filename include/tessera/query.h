/* tessera/query.h — the array expression language of `tessera eval`, in the
 * spirit of numexpr: a program text is parsed once, input arrays are bound
 * to names, and running it turns every statement into lazy array calls
 * (array.h).  Nothing is computed until a value is printed or stored.
 *
 * Language (Python's syntax and precedence, NumPy's semantics):
 *   statements   separated by ';' or newlines; `name = expr` assigns;
 *                `# ...` is a comment; newlines inside () and [] are ignored.
 *   literals     integers (42), floats (1.5, .5, 1e-3), strings ("f4" or
 *                'normal'), tuples and lists ((1000, 1000), (5,), [a, b]);
 *                names inf, nan, pi, e, True/true, False/false, None.
 *   operators    from loosest to tightest:
 *                  == != < <= > >=   (not chainable: a < b < c is an error)
 *                  |   ^   &   << >>   + -   * / // % @
 *                  unary - + ~   ** (right-associative; -x**2 == -(x**2))
 *                  postfix x.T, x[...], f(...)
 *                & | ^ ~ are logical on bool arrays and bitwise on integers.
 *   indexing     x[a:b, ::2, 3, -1] (integers and slices with NumPy's rules).
 *   attributes   x.T (transpose), x.shape (tuple), x.ndim, x.size.
 *   numbers      combine with arrays as weak scalars (NumPy 2: an int8 array
 *                plus 1 stays int8); number op number folds to a number with
 *                Python's rules (int // 0 and int % 0 are errors; float
 *                division by zero gives inf or nan).  A function given only
 *                numbers works on 0-d arrays (int64, uint64, float64 or
 *                bool).  Literals of any length are read exactly (floats
 *                correctly rounded).
 *   integers     are exact 64-bit integers, never doubles: an integer
 *                literal up to 9223372036854775807 is an int64 and
 *                arithmetic on int64 numbers wraps as NumPy's int64 does;
 *                a literal from 2**63 to 18446744073709551615 is a uint64
 *                (as np.asarray makes it): with other integers it computes
 *                in uint64 (wrapping), a negative operand being an error,
 *                comparisons exact; its negation is exact when it is an
 *                int64 (-9223372036854775808).  A larger literal is a parse
 *                error.  Next to an array an integer is exact in the
 *                array's dtype; one outside that dtype's range is an error
 *                ("scalar S is out of bounds for int8", NumPy 2's
 *                OverflowError) except in comparisons, which are exact.
 *                arange() with integer arguments counts and computes its
 *                elements exactly in int64.
 *   functions    every elementwise function by its NumPy name (sqrt, exp,
 *                absolute/abs, isnan, maximum, arctan2, power/pow, ...);
 *                reductions sum prod mean var std min max (amin, amax) any
 *                all count_nonzero and their nan- variants with
 *                axis=int|tuple|None, keepdims=bool, ddof= (var/std),
 *                split_every=; argmin/argmax(a, axis=None);
 *                cumsum/cumprod(a, axis=None); where(condition, x, y);
 *                clip(a, a_min, a_max) (None = open); astype(x, dtype);
 *                matmul(x1, x2); dot(a, b); tensordot(a, b, axes=2);
 *                transpose(a, axes=None); reshape(a, shape);
 *                rechunk(x, chunks); concatenate(arrays, axis=0);
 *                stack(arrays, axis=0); squeeze(a, axis=None);
 *                expand_dims(a, axis); constructors zeros/ones(shape,
 *                dtype="float64", chunks=None), full(shape, fill_value,
 *                dtype=None, chunks=None), arange(start, stop=None, step=1,
 *                dtype=None, chunks=None), linspace(start, stop, num=50,
 *                endpoint=True, dtype="float64", chunks=None), eye(N, M=None,
 *                k=0, dtype="float64", chunks=None), random(shape,
 *                chunks=None, seed=0, dist="uniform"|"normal").
 *                Arguments are positional in the order above, or keywords.
 *                dtypes are strings as tsr_dtype_from_name takes ("f4",
 *                "float64", "int32", ...); chunks are an int (every axis),
 *                a tuple (-1 = whole axis, 0 = automatic), None or "auto".
 *
 * Errors: every failure, from the parser or from evaluation, sets the
 * thread's message (tsr_last_error) to three lines:
 *     line L, column C: MESSAGE
 *       SOURCE LINE
 *       ^
 * where L and C count from 1 (C in bytes), the second line is the program
 * line (clipped with "..." around C when longer than 100 bytes) indented
 * by two spaces, and the caret sits under the offending token.  Syntax
 * errors, unknown functions, wrong argument counts and unknown or repeated
 * keywords are TSR_EPARSE from tsr_program_parse; unknown names, bad
 * argument values and dtype strings are TSR_EINVAL / TSR_EDTYPE from
 * tsr_program_run; failures of the array layer keep its status (TSR_ESHAPE
 * for a shape mismatch) and its message after the location.
 *
 * A program is not thread-safe; distinct programs may be used by distinct
 * threads. */
#ifndef TESSERA_QUERY_H
#define TESSERA_QUERY_H

#include <stdio.h>

#include <tessera/array.h>
#include <tessera/core.h>
#include <tessera/frame.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_program tsr_program;

/* Largest number of elements tsr_program_format_value prints in full
 * (NumPy's print threshold); larger arrays are summarized. */
#define TSR_PROGRAM_PRINT_MAX 1000

/* Parses `source` (copied).  Constructors in the program create arrays in
 * `ctx`, which must outlive the program.  The caller owns *out
 * (tsr_program_destroy).  TSR_EPARSE with the message described above;
 * TSR_ENOMEM; TSR_EINVAL for NULL arguments. */
TSR_API TSR_NODISCARD tsr_status tsr_program_parse(tsr_ctx *ctx, const char *source,
                                                   tsr_program **out);
/* As tsr_program_parse for the `size` bytes at `source` (copied; no NUL
 * terminator needed), such as a program file read whole.  A NUL byte among
 * them is TSR_EPARSE ("NUL byte in the program") at its line and column,
 * never the silent end of the program. */
TSR_API TSR_NODISCARD tsr_status tsr_program_parse_buffer(tsr_ctx *ctx, const char *source,
                                                          size_t size, tsr_program **out);
/* Frees the program and every reference it holds, sets *program to NULL;
 * accepts NULL. */
TSR_API void tsr_program_destroy(tsr_program **program);

/* Binds the input `name` to `array`; the program keeps its own reference
 * (the caller still owns theirs).  Binding a name again replaces the array.
 * An assignment in the program to the same name shadows the input.
 * TSR_EINVAL for a NULL argument or a name that is not an identifier. */
TSR_API TSR_NODISCARD tsr_status tsr_program_bind(tsr_program *program, const char *name,
                                                  tsr_array *array);

/* Runs every statement, building lazy arrays (nothing is computed).  When
 * `last` is not NULL it receives a new reference to the value of the last
 * statement if that is an expression (numbers become 0-d arrays of int64,
 * float64 or bool), or NULL when the program is empty or ends with an
 * assignment, or when it is a string (such as x.dtype: tsr_program_text
 * gives it).  A program may be run again (after binding other inputs);
 * each run starts with no assigned variables.  Errors as described above;
 * a last expression that is a tuple or None is TSR_EINVAL. */
TSR_API TSR_NODISCARD tsr_status tsr_program_run(tsr_program *program, tsr_array **last);
/* The last run's final value when it was a string (valid until the
 * program is run again or destroyed), else NULL. */
TSR_API const char *tsr_program_text(const tsr_program *program);

/* A new reference to the value of `name` after a run: an assigned variable
 * (numbers as 0-d arrays) or else a bound input.  TSR_EINVAL naming it when
 * there is no such name or its value is not an array or a number. */
TSR_API TSR_NODISCARD tsr_status tsr_program_get(tsr_program *program, const char *name,
                                                 tsr_array **out);

/* The free names of the program: names read before any assignment to them
 * that are not constants (inf, nan, pi, e, True, ...), in order of first
 * use — the inputs it needs bound.  *names points into the program (valid
 * until it is destroyed). */
TSR_API size_t tsr_program_inputs(const tsr_program *program, const char *const **names);

/* Computes `value` (options as tsr_array_to_buffers_ex, NULL = none) and
 * writes it to `out` followed by a newline: a 0-d array as a number, a
 * larger one as nested brackets like NumPy's repr without "array(":
 *     [[1, 2, 3],
 *      [4, 5, 6]]
 * (items of the innermost axis separated by ", ", rows by ",\n" plus
 * indentation, 2-d blocks of 3-d arrays by a blank line).  Floats: float64
 * with "%.17g", float32 with "%.9g" (each its type's round-trip precision),
 * with ".0" appended when that prints like an integer; nan, inf, -inf.
 * Integers exactly; bools as True / False; -0.0 keeps its sign.  Output is
 * bounded as NumPy's summarization bounds it: with more than
 * TSR_PROGRAM_PRINT_MAX elements, every axis longer than 6 shows its first
 * and last 3 entries around "..." (a row of its own, ",\n", between rows and
 * blocks), and only those edge elements are computed; an array with no
 * elements prints "[]", followed by ", shape=(...)" unless its shape is (0,),
 * and computes nothing.  A summary that would still hold more than 2^20
 * elements (more than 7 axes longer than 6) is TSR_EINVAL before anything is
 * computed.  TSR_EIO when writing fails. */
TSR_API TSR_NODISCARD tsr_status tsr_program_format_value(tsr_array *value,
                                                          const tsr_compute_options *options,
                                                          FILE *out);
/* As tsr_program_format_value for data already in memory (C order). */
TSR_API TSR_NODISCARD tsr_status tsr_program_format_buffer(tsr_dtype dtype, int ndim,
                                                           const int64_t *shape, const void *data,
                                                           FILE *out);

/* ------------------------------------------------------------------------ */
/* Column expressions over frames                                           */
/* ------------------------------------------------------------------------ */

/* Column expressions: the language above reduced to one expression over a
 * frame's columns, plus SQL's logic and strings.
 *   operands    column names (`backticks` quote any name, and keywords);
 *               numbers; 'strings' or "strings"; true, false, null.
 *   operators   loosest first: or; and; not; comparisons (== or =, !=, <,
 *               <=, >, >=, the infix `like`, `ilike`, `contains`,
 *               `starts_with`, `not like`, `not ilike`, `[not] in (v, ...)`,
 *               `[not] between a and b`, `is [not] null`), not chainable;
 *               `||`; + -; * / // %; unary - +.
 *   functions   is_null(x) (never null), abs, sqrt, exp, log (ln), log10,
 *               log2, sin, cos, tan, floor, ceil, round (half away from
 *               zero), trunc; lower, upper, length, trim, ltrim, rtrim,
 *               substr/substring(s, start[, len]), replace(s, from, to),
 *               concat(a, ...); like(s, pattern), ilike, contains(s, t),
 *               starts_with(s, t); year, month, day, dayofweek (dow),
 *               isodow, dayofyear (doy), quarter, week, epoch (dates and
 *               timestamps), hour, minute, second (timestamps),
 *               extract(part from x), date_trunc('unit', x); coalesce(a,
 *               ...), nullif(a, b); cast(x as TYPE), try_cast(x as TYPE)
 *               (SQL's type names; or cast(x, 'name') with tsr_type_parse's).
 *   case        case when c then a [when ...] [else e] end, and
 *               case x when v then a ... end (null when nothing matches).
 *               An error in a branch (or coalesce argument) not chosen in a
 *               row is no error.  Details and deviations from DuckDB:
 *               docs/frames.md, "SQL's conditionals, casts, strings and
 *               dates".
 *   types       NumPy's promotion (int32 + int64 is int64, int64 + uint64
 *               is float64) with weak literals (an int8 column plus 1 stays
 *               int8; a literal that does not fit promotes as int64).  bool
 *               is not a number here (true + 1 is a type error).
 *   nulls       propagate through arithmetic, comparisons and functions;
 *               and / or / not are three-valued as in SQL (false and null
 *               is false, true or null is true).
 *   semantics   as DuckDB's: `/` is float division (1 / 2 = 0.5; x / 0 is
 *               inf, -inf or nan as IEEE 754); integer // truncates toward
 *               zero and % has the dividend's sign, both null when the
 *               divisor is 0 (on floats // is trunc(a / b) and % is fmod,
 *               IEEE for a zero divisor); integer + - * // abs and negation that leave
 *               their type are TSR_EOVERFLOW naming the expression and the
 *               row (never silent wrapping).  Strings compare byte-wise;
 *               lower/upper (and ilike) map ASCII, Latin-1, Latin
 *               Extended-A, Greek and Cyrillic letters as DuckDB does and
 *               keep every other byte (the byte length never changes:
 *               ß, İ and ı stay); length counts UTF-8
 *               code points; like's % matches any run and _ one code point
 *               (no escape character).  A string literal compared with a
 *               date or timestamp column is read as 'YYYY-MM-DD' or
 *               'YYYY-MM-DD HH:MM:SS[.fff]'.  Dictionary columns are
 *               matched on their dictionary when the expression is built.
 * Errors: TSR_EPARSE for syntax (line, column and what was expected, with
 * the text and a caret, as above); TSR_EINVAL for an unknown column (with
 * the frame's columns); TSR_EDTYPE for a type error naming the
 * sub-expression, the operator and the types ("'v1 + id1': cannot add
 * int64 and string"); when computed, TSR_EOVERFLOW for overflow or a cast
 * out of range, TSR_EINVAL for text a cast cannot read, naming the
 * expression, the row and the value.  Lazy: the
 * expression runs fused, one kernel per row chunk, when the frame is
 * computed. */

/* f plus column `name` (replaced when f has one) holding `expr` per row.
 * The row count and chunks are f's.  The caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_assign(tsr_frame *frame, const char *name,
                                                  const char *expr, tsr_frame **out);
/* The rows of f where `predicate` (a bool expression) is true (null and
 * false rows are dropped); the row count becomes unknown until computed.
 * The caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_filter(tsr_frame *frame, const char *predicate,
                                                  tsr_frame **out);

/* A group-by (tsr_frame_groupby, tessera/frame.h) whose aggregates are
 * given as text: a comma-separated list of `[name =] expression [AS name]`, each
 * expression built from aggregate calls, numeric literals, arithmetic and
 * the scalar functions above, e.g.
 *   "sum(v1), range = max(v1) - min(v2), r2 = pow(corr(v1, v2), 2)".
 * Aggregate calls: count(*), count(x), sum, avg/mean, min, max, var/
 * var_samp, var_pop, stddev/stddev_samp/std, stddev_pop, median,
 * quantile_cont(x, q) (q a literal, or a list [q1, q2, ...] giving one
 * column per q), first, last, count(DISTINCT x)/nunique, corr, covar_samp,
 * covar_pop, bool_or/any, bool_and/all, largest(x, n), smallest(x, n).
 * Arguments of aggregates are column names; around the calls, an item is a
 * column expression (above) over aggregates and group keys.  Identical
 * calls are computed once.  The result: the keys, then one column per item
 * in order.  An item without a name is named as DuckDB names it ("sum(v1)",
 * "count_star()", "(max(v1) - min(v2))"); a list of q gives one column per
 * q, named "quantile_cont(x, 0.25)", ..., or "name_0.25", ... when the item
 * is named (docs/frames.md, "Aggregates as text").  Errors as for
 * tsr_frame_assign (TSR_EPARSE with line, column and caret, also for nested
 * aggregates; TSR_EINVAL for unknown columns, a column neither a key nor
 * inside an aggregate, repeated result names; TSR_EDTYPE).  The group-by
 * computes now; expressions over its aggregates are lazy columns (as
 * tsr_frame_assign's), computed by the next compute.
 * The caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_aggregate(tsr_frame *frame, int nkeys,
                                                     const char *const *keys, const char *aggs,
                                                     const tsr_groupby_options *options,
                                                     tsr_frame **out);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_QUERY_H */
