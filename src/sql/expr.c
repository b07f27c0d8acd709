/* expr.c — SQL expressions: resolving column names, comparing
 * expressions by structure (a GROUP BY key or an aggregate in the select
 * list is found again in the group-by's output), naming unnamed columns as
 * DuckDB does, and compiling a syntax tree into a column program
 * (frame/colprog.h), the fused per-chunk kernels that tsr_frame_assign and
 * tsr_frame_filter run.  The scalar functions are the column expressions'
 * (query.h), except that `log` is the base-10 logarithm as in DuckDB. */
#include <ctype.h>
#include <string.h>

#include "plan.h"

bool tsr__sql_name_eq(const char *a, const char *b) {
  for (; *a && *b; a++, b++)
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return false;
  return *a == *b;
}

static bool ident_eq(const tsr__sql_ident *a, const tsr__sql_ident *b) {
  if (a->name == NULL || b->name == NULL)
    return a->name == b->name;
  if (a->quoted || b->quoted)
    return strcmp(a->name, b->name) == 0;
  return tsr__sql_name_eq(a->name, b->name);
}

/* ---- resolving names --------------------------------------------------------------------- */

/* Edit distance of two short names (for suggestions), capped at 99. */
int tsr__sql_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64)
    return 99;
  int row[65];
  for (size_t j = 0; j <= lb; j++)
    row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int prev = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int cur = row[j];
      int sub = prev + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
      int best = row[j] + 1 < row[j - 1] + 1 ? row[j] + 1 : row[j - 1] + 1;
      row[j] = sub < best ? sub : best;
      prev = cur;
    }
  }
  return row[lb];
}

static bool col_matches(const tsr__sql_col *c, const tsr__sql_expr *ref) {
  if (c->name == NULL)
    return false;
  bool name_ok = ref->column.quoted ? strcmp(c->name, ref->column.name) == 0
                                    : tsr__sql_name_eq(c->name, ref->column.name);
  if (!name_ok)
    return false;
  if (ref->qualifier.name == NULL)
    return true;
  if (c->qual == NULL)
    return false;
  return ref->qualifier.quoted ? strcmp(c->qual, ref->qualifier.name) == 0
                               : tsr__sql_name_eq(c->qual, ref->qualifier.name);
}

bool tsr__sql_col_matches(const tsr__sql_col *c, const tsr__sql_expr *ref) {
  return col_matches(c, ref);
}

tsr_status tsr__sql_resolve(const tsr__sql_binder *b, int ncols, const tsr__sql_col *cols,
                            const tsr__sql_expr *ref, int *col) {
  *col = -1;
  int found = -1, nfound = 0, visible = -1, nvisible = 0;
  for (int i = 0; i < ncols; i++)
    if (col_matches(&cols[i], ref)) {
      found = found < 0 ? i : found;
      nfound++;
      if (!cols[i].hidden) {
        visible = visible < 0 ? i : visible;
        nvisible++;
      }
    }
  if (nfound == 1 || (nfound > 1 && nvisible == 1)) {
    *col = nfound == 1 ? found : visible;
    return TSR_OK;
  }
  char full[300];
  if (ref->qualifier.name)
    snprintf(full, sizeof full, "%s.%s", ref->qualifier.name, ref->column.name);
  else
    snprintf(full, sizeof full, "%s", ref->column.name);
  if (nfound > 1)
    return tsr__query_fail(b->source, ref->pos, TSR_EINVAL,
                           "column reference \"%s\" is ambiguous (qualify it with its table)",
                           full);
  const char *best = NULL, *best_qual = NULL;
  int best_d = 99;
  for (int i = 0; i < ncols; i++) {
    if (cols[i].name == NULL)
      continue;
    int d = tsr__sql_distance(cols[i].name, ref->column.name);
    if (d < best_d) {
      best_d = d;
      best = cols[i].name;
      best_qual = cols[i].qual;
    }
  }
  if (best != NULL && best_d <= 3)
    return tsr__query_fail(b->source, ref->pos, TSR_EINVAL,
                           "unknown column \"%s\" (did you mean \"%s%s%s\"?)", full,
                           ref->qualifier.name && best_qual ? best_qual : "",
                           ref->qualifier.name && best_qual ? "." : "", best);
  return tsr__query_fail(b->source, ref->pos, TSR_EINVAL, "unknown column \"%s\"", full);
}

/* ---- structure --------------------------------------------------------------------------- */

static bool window_equal(const tsr__sql_window *a, const tsr__sql_window *b) {
  if (a == NULL || b == NULL)
    return a == b;
  if (a->npartition != b->npartition || a->norder != b->norder || a->frame != b->frame ||
      a->preceding != b->preceding)
    return false;
  for (int i = 0; i < a->npartition; i++)
    if (!tsr__sql_expr_equal(a->partition[i], b->partition[i]))
      return false;
  for (int i = 0; i < a->norder; i++)
    if (a->order[i].descending != b->order[i].descending ||
        a->order[i].nulls != b->order[i].nulls ||
        !tsr__sql_expr_equal(a->order[i].expr, b->order[i].expr))
      return false;
  return true;
}

bool tsr__sql_expr_equal(const tsr__sql_expr *a, const tsr__sql_expr *b) {
  if (a == NULL || b == NULL)
    return a == b;
  if (a == b)
    return true;
  if (a->kind != b->kind || a->op != b->op || a->negated != b->negated || a->nargs != b->nargs)
    return false;
  switch (a->kind) {
  case SQL_E_COLUMN:
    /* a qualified and an unqualified reference may name one column: the
     * caller resolves; here both must be written alike, or one unqualified */
    if (!ident_eq(&a->column, &b->column))
      return false;
    return a->qualifier.name == NULL || b->qualifier.name == NULL ||
           ident_eq(&a->qualifier, &b->qualifier);
  case SQL_E_STAR:
    return ident_eq(&a->qualifier, &b->qualifier);
  case SQL_E_INT:
    return a->int_value == b->int_value;
  case SQL_E_FLOAT:
    return memcmp(&a->float_value, &b->float_value, sizeof a->float_value) == 0;
  case SQL_E_STRING:
    return a->text_len == b->text_len && memcmp(a->text, b->text, a->text_len) == 0;
  case SQL_E_TYPED:
    return strcmp(a->type_name, b->type_name) == 0 && a->text_len == b->text_len &&
           memcmp(a->text, b->text, a->text_len) == 0;
  case SQL_E_BOOL:
  case SQL_E_IS_BOOL:
    if (a->bool_value != b->bool_value)
      return false;
    break;
  case SQL_E_CAST:
    if (a->try_cast != b->try_cast || strcmp(a->type_name, b->type_name) != 0)
      return false;
    break;
  case SQL_E_FUNC:
    if (strcmp(a->name, b->name) != 0 || a->star != b->star || a->distinct != b->distinct ||
        !window_equal(a->over, b->over))
      return false;
    break;
  case SQL_E_SUBQUERY:
    return false;
  default:
    break;
  }
  for (int i = 0; i < a->nargs; i++)
    if (!tsr__sql_expr_equal(a->args[i], b->args[i]))
      return false;
  return tsr__sql_expr_equal(a->operand, b->operand) &&
         tsr__sql_expr_equal(a->else_expr, b->else_expr);
}

int tsr__sql_aggregate_op(const tsr__sql_expr *call, int *ddof) {
  static const struct {
    const char *name;
    tsr_agg_op op;
    int ddof;
  } table[] = {
      {"count", TSR_AGG_COUNT, 0},
      {"sum", TSR_AGG_SUM, 0},
      {"avg", TSR_AGG_MEAN, 0},
      {"mean", TSR_AGG_MEAN, 0},
      {"min", TSR_AGG_MIN, 0},
      {"max", TSR_AGG_MAX, 0},
      {"var_samp", TSR_AGG_VAR, 1},
      {"variance", TSR_AGG_VAR, 1},
      {"var_pop", TSR_AGG_VAR, 0},
      {"stddev", TSR_AGG_STD, 1},
      {"stddev_samp", TSR_AGG_STD, 1},
      {"stddev_pop", TSR_AGG_STD, 0},
      {"median", TSR_AGG_MEDIAN, 0},
      {"quantile_cont", TSR_AGG_QUANTILE, 0},
      {"quantile", TSR_AGG_QUANTILE, 0},
      {"first", TSR_AGG_FIRST, 0},
      {"any_value", TSR_AGG_FIRST, 0},
      {"last", TSR_AGG_LAST, 0},
      {"corr", TSR_AGG_CORR, 0},
      {"covar_samp", TSR_AGG_COVAR_SAMP, 0},
      {"covar_pop", TSR_AGG_COVAR_POP, 0},
      {"bool_or", TSR_AGG_ANY, 0},
      {"bool_and", TSR_AGG_ALL, 0},
  };
  *ddof = 0;
  if (call->kind != SQL_E_FUNC || call->over != NULL)
    return -1;
  if (call->name == tsr__sql_largest || call->name == tsr__sql_smallest)
    return call->name == tsr__sql_largest ? TSR_AGG_LARGEST : TSR_AGG_SMALLEST;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
    if (strcmp(table[i].name, call->name) == 0) {
      *ddof = table[i].ddof;
      if (table[i].op == TSR_AGG_COUNT)
        return call->star ? TSR_AGG_COUNT_ALL : call->distinct ? TSR_AGG_NUNIQUE : TSR_AGG_COUNT;
      return (int)table[i].op;
    }
  return -1;
}

static bool has_call(const tsr__sql_expr *e, bool window) {
  if (e == NULL)
    return false;
  int ddof;
  if (e->kind == SQL_E_FUNC) {
    if (window && e->over != NULL)
      return true;
    if (!window && e->over == NULL && tsr__sql_aggregate_op(e, &ddof) >= 0)
      return true;
    if (!window && e->over != NULL)
      return false;
  }
  if (e->kind == SQL_E_SUBQUERY)
    return false;
  for (int i = 0; i < e->nargs; i++)
    if (has_call(e->args[i], window))
      return true;
  return has_call(e->operand, window) || has_call(e->else_expr, window);
}

bool tsr__sql_has_aggregate(const tsr__sql_expr *e) { return has_call(e, false); }
bool tsr__sql_has_window(const tsr__sql_expr *e) { return has_call(e, true); }

const char *tsr__sql_expr_name(tsr__sql_binder *b, const tsr__sql_expr *e) {
  if (e->kind == SQL_E_COLUMN)
    return e->column.name;
  if (e->kind == SQL_E_FUNC && e->star && e->nargs == 0 && e->over == NULL)
    return strcmp(e->name, "count") == 0 ? "count_star()" : e->name;
  if (e->kind == SQL_E_FUNC && e->over == NULL && e->nargs > 0) {
    /* name(args as written), with the name lowercased as DuckDB shows it */
    int32_t a0 = e->args[0]->pos, an = e->args[e->nargs - 1]->end;
    size_t n = strlen(e->name), len = n + 2 + (size_t)(an - a0) + (e->distinct ? 9 : 0);
    char *s = tsr__query_arena_alloc(b->arena, len + 1);
    if (s == NULL)
      return NULL;
    snprintf(s, len + 1, "%s(%s%.*s)", e->name, e->distinct ? "DISTINCT " : "", (int)(an - a0),
             b->source + a0);
    return s;
  }
  return tsr__query_arena_strndup(b->arena, b->source + e->pos, (size_t)(e->end - e->pos));
}

/* ---- compiling --------------------------------------------------------------------------- */

typedef struct compiler {
  const tsr__sql_binder *b;
  tsr__colprog *prog;
  int ncols;
  const tsr__sql_col *cols;
  const int *colmap;
  int depth;
} compiler;

/* A builder's failure located at e: "'v1 + s': cannot add int64 and string". */
static tsr_status located(const compiler *c, tsr_status st, const tsr__sql_expr *e) {
  if (st == TSR_ENOMEM)
    return st;
  char msg[400];
  snprintf(msg, sizeof msg, "%s", tsr_last_error());
  int len = e->end - e->pos > 120 ? 120 : (int)(e->end - e->pos);
  return tsr__query_fail(c->b->source, e->pos, st, "'%.*s': %s", len, c->b->source + e->pos, msg);
}

static tsr_status label(const compiler *c, int v, const tsr__sql_expr *e) {
  return tsr__colprog_label(c->prog, v, c->b->source + e->pos, (size_t)(e->end - e->pos));
}

static tsr_status compile(compiler *c, const tsr__sql_expr *e, int *v);

static bool is_float(tsr_type t) { return t.id == TSR_COL_FLOAT32 || t.id == TSR_COL_FLOAT64; }

static tsr_status binary(compiler *c, tsr__cp_op op, const tsr__sql_expr *e, int a, int b, int *v) {
  tsr_status st = tsr__colprog_binary(c->prog, op, a, b, v);
  if (st != TSR_OK)
    return located(c, st, e);
  return op <= TSR__CP_MOD ? label(c, *v, e) : TSR_OK;
}

static tsr_status unary(compiler *c, tsr__cp_op op, const tsr__sql_expr *e, int a, int *v) {
  tsr_status st = tsr__colprog_unary(c->prog, op, a, v);
  if (st != TSR_OK)
    return located(c, st, e);
  return op == TSR__CP_NEG || op == TSR__CP_ABS ? label(c, *v, e) : TSR_OK;
}

static tsr_status not_if(compiler *c, const tsr__sql_expr *e, bool negate, int *v) {
  return negate ? unary(c, TSR__CP_NOT, e, *v, v) : TSR_OK;
}

static tsr__cp_op binary_op(tsr__sql_op op) {
  switch (op) {
  case SQL_OP_ADD:
    return TSR__CP_ADD;
  case SQL_OP_SUB:
    return TSR__CP_SUB;
  case SQL_OP_MUL:
    return TSR__CP_MUL;
  case SQL_OP_DIV:
    return TSR__CP_DIV;
  case SQL_OP_INTDIV:
    return TSR__CP_INTDIV;
  case SQL_OP_MOD:
    return TSR__CP_MOD;
  case SQL_OP_EQ:
    return TSR__CP_EQ;
  case SQL_OP_NE:
    return TSR__CP_NE;
  case SQL_OP_LT:
    return TSR__CP_LT;
  case SQL_OP_LE:
    return TSR__CP_LE;
  case SQL_OP_GT:
    return TSR__CP_GT;
  case SQL_OP_GE:
    return TSR__CP_GE;
  case SQL_OP_AND:
    return TSR__CP_AND;
  case SQL_OP_OR:
    return TSR__CP_OR;
  case SQL_OP_LIKE:
    return TSR__CP_LIKE;
  case SQL_OP_ILIKE:
    return TSR__CP_ILIKE;
  case SQL_OP_CONCAT:
    return TSR__CP_CONCAT;
  default:
    return TSR__CP_NUM_OPS;
  }
}

/* Compiles the arguments [from, e->nargs) into vals. */
static tsr_status compile_args(compiler *c, const tsr__sql_expr *e, int from, int *vals) {
  for (int i = from; i < e->nargs; i++)
    TSR_TRY(compile(c, e->args[i], &vals[i - from]));
  return TSR_OK;
}

static tsr_status arity(const compiler *c, const tsr__sql_expr *e, int lo, int hi) {
  if (e->nargs >= lo && e->nargs <= hi && !e->star && !e->distinct)
    return TSR_OK;
  if (lo == hi)
    return tsr__query_fail(c->b->source, e->pos, TSR_EINVAL, "%s() takes %d argument%s", e->name,
                           lo, lo == 1 ? "" : "s");
  return tsr__query_fail(c->b->source, e->pos, TSR_EINVAL, "%s() takes %d to %d arguments", e->name,
                         lo, hi);
}

/* A constant string argument (extract's part, date_trunc's unit). */
static tsr_status string_arg(const compiler *c, const tsr__sql_expr *e, const char *what,
                             const char **out) {
  if (e->kind != SQL_E_STRING)
    return tsr__query_fail(c->b->source, e->pos, TSR_EINVAL, "%s must be a string literal", what);
  *out = e->text;
  return TSR_OK;
}

/* Functions with their own argument rules: coalesce, nullif, concat,
 * substr, replace, extract, date_trunc.  *done false: none of them. */
static tsr_status compile_special(compiler *c, const tsr__sql_expr *e, int *v, bool *done) {
  const char *n = e->name;
  int vals[3];
  tsr_status st;
  *done = true;
  if (strcmp(n, "coalesce") == 0 || strcmp(n, "concat") == 0) {
    TSR_TRY(arity(c, e, 1, 1 << 20));
    int *args = tsr__query_arena_alloc(c->b->arena, (size_t)e->nargs * sizeof *args);
    if (args == NULL)
      return TSR_ENOMEM;
    TSR_TRY(compile_args(c, e, 0, args));
    st = n[1] == 'o' && n[2] == 'a' ? tsr__colprog_coalesce(c->prog, args, e->nargs, v)
                                    : tsr__colprog_concat(c->prog, args, e->nargs, v);
  } else if (strcmp(n, "nullif") == 0) {
    TSR_TRY(arity(c, e, 2, 2));
    TSR_TRY(compile_args(c, e, 0, vals));
    st = tsr__colprog_nullif(c->prog, vals[0], vals[1], v);
  } else if (strcmp(n, "substr") == 0 || strcmp(n, "substring") == 0) {
    TSR_TRY(arity(c, e, 2, 3));
    TSR_TRY(compile_args(c, e, 0, vals));
    st = tsr__colprog_substr(c->prog, vals[0], vals[1], e->nargs == 3 ? vals[2] : -1, v);
  } else if (strcmp(n, "replace") == 0) {
    TSR_TRY(arity(c, e, 3, 3));
    TSR_TRY(compile_args(c, e, 0, vals));
    st = tsr__colprog_replace(c->prog, vals[0], vals[1], vals[2], v);
  } else if (strcmp(n, "extract") == 0 || strcmp(n, "date_part") == 0 ||
             strcmp(n, "datepart") == 0) {
    TSR_TRY(arity(c, e, 2, 2));
    const char *part = NULL;
    int op, nargs;
    TSR_TRY(string_arg(c, e->args[0], "the part", &part));
    char lower[32];
    size_t k = 0;
    for (; part[k] && k + 1 < sizeof lower; k++)
      lower[k] = (char)(part[k] >= 'A' && part[k] <= 'Z' ? part[k] + 32 : part[k]);
    lower[k] = '\0';
    if (!tsr__colexpr_function(lower, &op, &nargs) || nargs != 1 || op < TSR__CP_YEAR ||
        op == TSR__CP_TRIM || op == TSR__CP_LTRIM || op == TSR__CP_RTRIM)
      return tsr__query_fail(c->b->source, e->args[0]->pos, TSR_EINVAL,
                             "unknown date part '%s' (year, quarter, month, week, day, dow, "
                             "doy, hour, minute, second, epoch)",
                             part);
    TSR_TRY(compile(c, e->args[1], &vals[0]));
    st = tsr__colprog_unary(c->prog, (tsr__cp_op)op, vals[0], v);
  } else if (strcmp(n, "date_trunc") == 0) {
    TSR_TRY(arity(c, e, 2, 2));
    const char *unit = NULL;
    tsr__cp_trunc u;
    TSR_TRY(string_arg(c, e->args[0], "the unit", &unit));
    if (!tsr__cp_trunc_parse(unit, &u))
      return tsr__query_fail(c->b->source, e->args[0]->pos, TSR_EINVAL,
                             "unknown unit '%s' (year, quarter, month, week, day, hour, "
                             "minute, second)",
                             unit);
    TSR_TRY(compile(c, e->args[1], &vals[0]));
    st = tsr__colprog_date_trunc(c->prog, u, vals[0], v);
  } else if ((strcmp(n, "trim") == 0 || strcmp(n, "ltrim") == 0 || strcmp(n, "rtrim") == 0) &&
             e->nargs == 2) {
    return tsr__query_fail(c->b->source, e->pos, TSR_ENOTSUP,
                           "%s() trims spaces only (the characters argument is not supported)", n);
  } else {
    *done = false;
    return TSR_OK;
  }
  return st == TSR_OK ? TSR_OK : located(c, st, e);
}

static tsr_status compile_func(compiler *c, const tsr__sql_expr *e, int *v) {
  const tsr__sql_binder *b = c->b;
  int ddof;
  if (e->over != NULL)
    return tsr__query_fail(b->source, e->pos, TSR_EPARSE,
                           "window function %s() is not allowed here", e->name);
  if (tsr__sql_aggregate_op(e, &ddof) >= 0)
    return tsr__query_fail(b->source, e->pos, TSR_EPARSE,
                           "aggregate function %s() is not allowed here", e->name);
  bool done;
  TSR_TRY(compile_special(c, e, v, &done));
  if (done)
    return TSR_OK;
  int op, nargs;
  const char *name = strcmp(e->name, "log") == 0 ? "log10" : e->name;
  if (strcmp(name, "ceiling") == 0)
    name = "ceil";
  if (strcmp(name, "is_null") == 0 || !tsr__colexpr_function(name, &op, &nargs))
    return tsr__query_fail(b->source, e->pos, TSR_EINVAL, "unknown function %s()", e->name);
  if (e->star || e->distinct || e->nargs != nargs)
    return tsr__query_fail(b->source, e->pos, TSR_EINVAL, "%s() takes %d argument%s", e->name,
                           nargs, nargs == 1 ? "" : "s");
  int a, bb = -1;
  TSR_TRY(compile(c, e->args[0], &a));
  if (nargs == 2)
    TSR_TRY(compile(c, e->args[1], &bb));
  return nargs == 2 ? binary(c, (tsr__cp_op)op, e, a, bb, v) : unary(c, (tsr__cp_op)op, e, a, v);
}

static tsr_status compile(compiler *c, const tsr__sql_expr *e, int *v) {
  const tsr__sql_binder *b = c->b;
  for (int i = 0; i < c->ncols; i++)
    if (c->cols[i].expr != NULL && tsr__sql_expr_equal(c->cols[i].expr, e))
      return tsr__colprog_column(c->prog, c->colmap[i], v);
  if (++c->depth > 200)
    return tsr__query_fail(b->source, e->pos, TSR_EPARSE, "expression nested too deeply");
  int a, x, y;
  tsr_status st = TSR_OK;
  switch (e->kind) {
  case SQL_E_COLUMN: {
    int col;
    TSR_TRY(tsr__sql_resolve(b, c->ncols, c->cols, e, &col));
    if (c->colmap[col] < 0)
      return tsr__query_fail(b->source, e->pos, TSR_EINVAL,
                             "internal: column \"%s\" was not read (please report)",
                             e->column.name);
    st = tsr__colprog_column(c->prog, c->colmap[col], v);
    break;
  }
  case SQL_E_STAR:
    return tsr__query_fail(b->source, e->pos, TSR_EPARSE, "* is not allowed here");
  case SQL_E_INT:
    st = tsr__colprog_int(c->prog, e->int_value, false, v);
    break;
  case SQL_E_FLOAT:
    st = tsr__colprog_float(c->prog, e->float_value, v);
    break;
  case SQL_E_STRING:
    st = tsr__colprog_string(c->prog, e->text, e->text_len, v);
    break;
  case SQL_E_TYPED:
  case SQL_E_CAST: {
    tsr_type to;
    if (!tsr__cp_sql_type(e->type_name, &to))
      return tsr__query_fail(b->source, e->pos, TSR_EINVAL, "unknown type \"%s\"", e->type_name);
    if (e->kind == SQL_E_TYPED)
      TSR_TRY(tsr__colprog_string(c->prog, e->text, e->text_len, &a));
    else
      TSR_TRY(compile(c, e->args[0], &a));
    st = tsr__colprog_cast(c->prog, a, to, e->try_cast, v);
    if (st != TSR_OK)
      return located(c, st, e);
    st = label(c, *v, e);
    break;
  }
  case SQL_E_CASE: {
    /* CASE WHEN c1 THEN a WHEN c2 THEN b ELSE e END is if(c1, a, if(c2, b, e));
     * CASE x WHEN v THEN ... compares x = v */
    int op = -1, acc;
    if (e->operand != NULL)
      TSR_TRY(compile(c, e->operand, &op));
    if (e->else_expr != NULL)
      TSR_TRY(compile(c, e->else_expr, &acc));
    else
      TSR_TRY(tsr__colprog_null(c->prog, &acc));
    int npairs = e->nargs / 2;
    int *conds = tsr__query_arena_alloc(b->arena, (size_t)(2 * npairs + 1) * sizeof *conds);
    if (conds == NULL)
      return TSR_ENOMEM;
    for (int i = 0; i < npairs; i++) {
      TSR_TRY(compile(c, e->args[2 * i], &conds[2 * i]));
      if (op >= 0)
        TSR_TRY(binary(c, TSR__CP_EQ, e, op, conds[2 * i], &conds[2 * i]));
      TSR_TRY(compile(c, e->args[2 * i + 1], &conds[2 * i + 1]));
    }
    for (int i = npairs - 1; i >= 0; i--) {
      st = tsr__colprog_if(c->prog, conds[2 * i], conds[2 * i + 1], acc, &acc);
      if (st != TSR_OK)
        return located(c, st, e);
    }
    *v = acc;
    break;
  }
  case SQL_E_IS_BOOL: {
    /* x IS TRUE: true where x is true, else false (never null) */
    TSR_TRY(compile(c, e->args[0], &a));
    if (!e->bool_value)
      TSR_TRY(unary(c, TSR__CP_NOT, e, a, &a));
    TSR_TRY(tsr__colprog_bool(c->prog, true, &x));
    TSR_TRY(tsr__colprog_bool(c->prog, false, &y));
    st = tsr__colprog_if(c->prog, a, x, y, v);
    if (st != TSR_OK)
      return located(c, st, e);
    st = not_if(c, e, e->negated, v);
    break;
  }
  case SQL_E_BOOL:
    st = tsr__colprog_bool(c->prog, e->bool_value, v);
    break;
  case SQL_E_NULL:
    st = tsr__colprog_null(c->prog, v);
    break;
  case SQL_E_UNARY:
    TSR_TRY(compile(c, e->args[0], &a));
    if (e->op == SQL_OP_PLUS) {
      *v = a;
      break;
    }
    st = unary(c, e->op == SQL_OP_NEG ? TSR__CP_NEG : TSR__CP_NOT, e, a, v);
    break;
  case SQL_E_BINARY: {
    tsr__cp_op op = binary_op(e->op);
    if (op == TSR__CP_NUM_OPS)
      return tsr__query_fail(b->source, e->pos, TSR_ENOTSUP,
                             "this operator is not supported yet (docs/sql.md lists the subset)");
    TSR_TRY(compile(c, e->args[0], &a));
    TSR_TRY(compile(c, e->args[1], &x));
    if (op == TSR__CP_INTDIV &&
        (is_float(tsr__colprog_type(c->prog, a)) || is_float(tsr__colprog_type(c->prog, x)))) {
      /* DuckDB: // of a double is plain division, and null for a zero divisor */
      int zero, null;
      TSR_TRY(binary(c, TSR__CP_DIV, e, a, x, v));
      TSR_TRY(tsr__colprog_int(c->prog, 0, false, &zero));
      TSR_TRY(binary(c, TSR__CP_EQ, e, x, zero, &zero));
      TSR_TRY(tsr__colprog_null(c->prog, &null));
      st = tsr__colprog_if(c->prog, zero, null, *v, v);
      if (st != TSR_OK)
        return located(c, st, e);
      break;
    }
    TSR_TRY(binary(c, op, e, a, x, v));
    st = not_if(c, e, e->negated, v);
    break;
  }
  case SQL_E_IS_NULL:
    TSR_TRY(compile(c, e->args[0], &a));
    TSR_TRY(unary(c, TSR__CP_IS_NULL, e, a, v));
    st = not_if(c, e, e->negated, v);
    break;
  case SQL_E_BETWEEN:
    TSR_TRY(compile(c, e->args[0], &a));
    TSR_TRY(compile(c, e->args[1], &x));
    TSR_TRY(compile(c, e->args[2], &y));
    st = tsr__colprog_between(c->prog, a, x, y, e->negated, v);
    if (st != TSR_OK)
      return located(c, st, e);
    break;
  case SQL_E_IN_LIST: {
    /* null when x is null, or when nothing matches and the list holds a
     * null (SQL's rule) */
    int *list = tsr__query_arena_alloc(b->arena, (size_t)e->nargs * sizeof *list);
    if (list == NULL)
      return TSR_ENOMEM;
    TSR_TRY(compile(c, e->args[0], &a));
    TSR_TRY(compile_args(c, e, 1, list));
    st = tsr__colprog_in(c->prog, a, list, e->nargs - 1, e->negated, v);
    if (st != TSR_OK)
      return located(c, st, e);
    break;
  }
  case SQL_E_FUNC:
    st = compile_func(c, e, v);
    break;
  default:
    return tsr__query_fail(b->source, e->pos, TSR_ENOTSUP,
                           "this expression is not supported yet (docs/sql.md lists the subset)");
  }
  c->depth--;
  return st;
}

tsr_status tsr__sql_compile(const tsr__sql_binder *b, tsr__colprog *prog, int ncols,
                            const tsr__sql_col *cols, const int *colmap, const tsr__sql_expr *e,
                            int *v) {
  compiler c = {b, prog, ncols, cols, colmap, 0};
  return compile(&c, e, v);
}
