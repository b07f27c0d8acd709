/* plan.h — internals of the SQL layer shared by its files: the logical plan
 * a query binds to (bind.c), how it runs as frame operations (exec.c), how
 * it prints for EXPLAIN (explain.c), column expressions compiled from the
 * syntax tree (expr.c), and the session's catalog (session.c).
 *
 * A plan is a tree of operators.  Each outputs columns as SQL sees them
 * (tsr__sql_col: a qualifier, a name, or the expression it holds after a
 * group-by); expressions in the tree stay syntax trees and are resolved
 * against their input's columns when the operator runs.  Running an
 * operator gives a frame and, for each output column, the frame column
 * holding it (several SQL columns may share one frame column, and the
 * frame may hold helper columns that SQL does not see). */
#ifndef TSR_SQL_PLAN_H
#define TSR_SQL_PLAN_H

#include <tessera/sql.h>

#include "ast.h"
#include "frame/colprog.h"

/* ---- columns as SQL sees them ------------------------------------------------------------ */

typedef struct tsr__sql_col {
  const char *qual;          /* the table name or alias qualifying it; NULL: none */
  const char *name;          /* its SQL name (NULL for an aggregate's helper) */
  const tsr__sql_expr *expr; /* after a group-by: the key or aggregate it holds (matched by
                                structure), else NULL */
  bool hidden;               /* not part of `*` (the right key of a USING join) */
} tsr__sql_col;

/* ---- the plan ---------------------------------------------------------------------------- */

typedef enum tsr__sql_plan_kind {
  SQL_P_SCAN = 0,  /* a table: a frame (registered, opened from a file, or a CTE's result) */
  SQL_P_ONE_ROW,   /* SELECT without FROM: one row, no columns */
  SQL_P_FILTER,    /* rows where `pred` is true */
  SQL_P_PROJECT,   /* one column per expression */
  SQL_P_AGGREGATE, /* group-by: keys, then aggregates */
  SQL_P_WINDOW,    /* the input's columns plus one window function's column */
  SQL_P_JOIN,      /* left and right joined on key pairs, then an optional residual filter */
  SQL_P_SORT,      /* ORDER BY: keys are input columns */
  SQL_P_LIMIT,     /* OFFSET / LIMIT; over a SORT it runs as top-k */
  SQL_P_DISTINCT,  /* distinct rows */
  SQL_P_UNION,     /* left's rows then right's (UNION ALL); `distinct`: UNION */
} tsr__sql_plan_kind;

typedef struct tsr__sql_plan tsr__sql_plan;

typedef struct tsr__sql_sortkey {
  int col; /* an input column */
  bool descending;
  bool nulls_first;
} tsr__sql_sortkey;

struct tsr__sql_plan {
  tsr__sql_plan_kind kind;
  tsr__sql_plan *left, *right; /* inputs: `left` for one-input operators */
  int ncols;
  tsr__sql_col *cols; /* the output columns */
  /* SCAN */
  tsr_frame *frame;  /* a reference the binder holds (tsr__sql_binder_release), or NULL: */
  const char *path;  /* a file opened when run, with the used columns only */
  const char *label; /* the table's name or path, for EXPLAIN */
  int64_t est_rows;  /* a file's rows as estimated while binding (files.c); -1: unknown */
  bool *used;        /* per output column: read by something above (tsr__sql_prune) */
  /* a WHERE pushed into a CSV file's reader (tsr__sql_push_into_scans): the
   * rows where it is true are kept while the file loads; pushed_used: the
   * columns it reads (read, then dropped unless `used`) */
  const tsr__sql_expr *pushed;
  bool *pushed_used;
  /* FILTER: pred; JOIN: its residual (NULL: none) */
  const tsr__sql_expr *pred;
  /* PROJECT: one expression per output column; AGGREGATE: nkeys key expressions then the
   * aggregate calls (FUNC nodes), one per output column; WINDOW: exprs[0] is the call */
  int nexprs;
  const tsr__sql_expr **exprs;
  int *pick; /* PROJECT: where exprs[i] is NULL, output column i is input column pick[i] */
  bool restore; /* PROJECT: picks only, restoring the written column order of reordered
                   joins: the column map changes, the frame does not */
  int nkeys; /* AGGREGATE: group keys; JOIN: key pairs */
  /* JOIN */
  tsr__sql_join_kind join;
  const tsr__sql_expr **left_keys, **right_keys;
  bool using_join; /* USING: the keys are merged (a FULL join shows whichever side has them) */
  /* ASOF: left_on >= right_on, by the key pairs; `asof_left` keeps unmatched left rows */
  const tsr__sql_expr *asof_left_on, *asof_right_on;
  bool asof_left;
  /* SORT */
  int nsort;
  tsr__sql_sortkey *sort;
  /* LIMIT: limit < 0 when there is none */
  int64_t limit, offset;
  /* UNION */
  bool distinct;
  /* the join order chosen for the inner joins below (joinorder.c), for EXPLAIN; NULL: none */
  const char *note;
  /* EXPLAIN ANALYZE: filled when run */
  double seconds;
  int64_t rows;
};

/* The catalog a statement binds against: the session's tables and views,
 * and the CTEs in scope. */
typedef struct tsr__sql_catalog tsr__sql_catalog;

typedef struct tsr__sql_binder {
  tsr_ctx *ctx;
  tsr__qarena *arena; /* plans live here, freed with the statement */
  const char *source; /* the script's text, for error carets */
  tsr__sql_catalog *catalog;
  int ncte; /* CTEs in scope, innermost last */
  const tsr__sql_cte **ctes;
  int cte_cap;
  int ntemp;               /* helper columns made so far ("__sql<N>") */
  int nframes, frames_cap; /* the scans' frames, released with the statement */
  tsr_frame **frames;
  bool join_order_off; /* keep inner joins in the written order (the session's switch) */
  int njoins;          /* joins run so far: each after the first suffixes clashing names
                          with its own number, so that no name a join made clashes later */
} tsr__sql_binder;

/* Binds a query to a plan (TSR_EPARSE / TSR_EINVAL / TSR_ENOTSUP with the
 * source and a caret). */
tsr_status tsr__sql_bind_query(tsr__sql_binder *b, const tsr__sql_query *q, tsr__sql_plan **out);
/* Rows a node gives, estimated without running it (known row counts of
 * frames, files' estimates, filters halving, limits capping); -1 when
 * unknown. */
int64_t tsr__sql_estimate_rows(const tsr__sql_plan *p);
/* Reorders each chain of three or more relations joined by inner joins
 * (joinorder.c): the largest by estimate stays the probe side, and the
 * smallest relation a join condition connects to those joined so far goes
 * next; outer, semi, anti and as-of joins are barriers.  A projection above
 * restores the written column order.  Off when b->join_order_off. */
tsr_status tsr__sql_order_joins(tsr__sql_binder *b, tsr__sql_plan **root);
/* Puts the smaller input of each inner join on the right, where the hash
 * table is built, when estimated sizes say so; a projection above a
 * swapped join restores its written column order (nodes above it hold
 * copies of its columns). */
tsr_status tsr__sql_choose_build_sides(tsr__sql_binder *b, tsr__sql_plan **slot);
/* Releases the frames the statement's scans hold (the plan nodes are the
 * arena's), also those of a plan whose binding failed half-way. */
void tsr__sql_binder_release(tsr__sql_binder *b);

/* Turns the join ordering of tsr__sql_order_joins on (the default) or off
 * for the session's later statements (tests compare both plans). */
void tsr__sql_session_set_join_order(tsr_sql_session *s, bool on);

/* Looks a table up: a view (bound again where used: *view), a frame (a new
 * reference in *frame), or a file registered by path (*path). */
tsr_status tsr__sql_catalog_lookup(tsr__sql_binder *b, const tsr__sql_ident *name,
                                   tsr_frame **frame, const tsr__sql_query **view,
                                   const char **path);

/* ---- files (files.c) --------------------------------------------------------------------- */

/* In "file.h5:/group", the colon after the HDF5 extension; NULL for other
 * paths (CSV files). */
const char *tsr__sql_hdf5_colon(const char *path);
/* The column names of the table at `path` without reading its rows (a
 * CSV's header as sniffed, an HDF5 table's column list), in the arena; or,
 * when that cannot be had cheaply (.csv.gz), the file opened whole in
 * *frame.  *est_rows: the table's rows (an HDF5 table's exact count, a CSV
 * file's estimated from the sniffer's sample), -1 when unknown. */
tsr_status tsr__sql_path_schema(tsr__sql_binder *b, const char *path, int *ncols,
                                const char ***names, tsr_frame **frame, int64_t *est_rows);
/* The table at `path` with only `columns` ("a,b"; NULL: all). */
tsr_status tsr__sql_open_path(tsr_ctx *ctx, const char *path, const char *columns, tsr_frame **out);

/* ---- filters pushed into readers (pushdown.c) -------------------------------------------- */

/* Moves each FILTER directly over a scan of a CSV file (left there by the
 * pushdown below joins: its conjuncts read that scan alone) into the scan,
 * whose reader keeps only the rows where it is true. */
tsr_status tsr__sql_push_into_scans(tsr__sql_binder *b, tsr__sql_plan **root);

/* ---- used columns (prune.c) -------------------------------------------------------------- */

/* Marks, in every node's `used`, the output columns something above reads
 * (the root's all), so that scans of files read only those. */
tsr_status tsr__sql_prune(tsr__sql_binder *b, tsr__sql_plan *root);

/* Runs the plan: *out is its frame, colmap[i] the frame column of output
 * column i (an arena array).  With `analyze`, each node records its time
 * and rows (computing every intermediate). */
tsr_status tsr__sql_exec(tsr__sql_binder *b, tsr__sql_plan *p, bool analyze, tsr_frame **out,
                         int **colmap);
/* The plan's result as a frame whose columns are exactly the output
 * columns, named by their SQL names (repeated names get "_1", "_2"). */
tsr_status tsr__sql_exec_result(tsr__sql_binder *b, tsr__sql_plan *p, bool analyze,
                                tsr_frame **out);

/* A row count for EXPLAIN as an estimate: "~850 rows", "~1.2e6 rows". */
void tsr__sql_rows_text(int64_t rows, char buf[32]);
/* Writes the plan as an indented tree, one operator per line (EXPLAIN;
 * with times and rows after EXPLAIN ANALYZE). */
tsr_status tsr__sql_explain(const tsr__sql_binder *b, const tsr__sql_plan *p, bool analyzed,
                            char **text, size_t *len);

/* ---- expressions (expr.c) ---------------------------------------------------------------- */

/* Which input column a column reference names: -1 with TSR_EINVAL set
 * (unknown: suggests the nearest name; ambiguous). */
tsr_status tsr__sql_resolve(const tsr__sql_binder *b, int ncols, const tsr__sql_col *cols,
                            const tsr__sql_expr *ref, int *col);
/* Whether column c is one a column reference may name (its name, and its
 * qualifier when the reference has one); hidden columns included. */
bool tsr__sql_col_matches(const tsr__sql_col *c, const tsr__sql_expr *ref);
/* Whether two expressions are the same by structure (names compared as
 * SQL compares them). */
bool tsr__sql_expr_equal(const tsr__sql_expr *a, const tsr__sql_expr *b);
/* Whether e holds an aggregate call (outside window functions) / a window
 * call. */
bool tsr__sql_has_aggregate(const tsr__sql_expr *e);
bool tsr__sql_has_window(const tsr__sql_expr *e);
/* The hidden aggregates of the top-n-per-group rewrite (bind.c): the n
 * largest / smallest values per group, args (v, n). */
extern const char tsr__sql_largest[], tsr__sql_smallest[];
/* The aggregate op of a function name (count with star or DISTINCT
 * included); -1 when it is not an aggregate. */
int tsr__sql_aggregate_op(const tsr__sql_expr *call, int *ddof);

/* Compiles e against frame f whose SQL columns are cols (colmap: their
 * frame columns) into value *v of program prog. */
tsr_status tsr__sql_compile(const tsr__sql_binder *b, tsr__colprog *prog, int ncols,
                            const tsr__sql_col *cols, const int *colmap, const tsr__sql_expr *e,
                            int *v);

/* The name DuckDB gives an unnamed select item (the column's name, or the
 * expression's text), in the arena. */
const char *tsr__sql_expr_name(tsr__sql_binder *b, const tsr__sql_expr *e);

/* Edit distance of two names, ASCII case ignored (99 when long). */
int tsr__sql_distance(const char *a, const char *b);
/* SQL's name comparison: case-insensitive ASCII. */
bool tsr__sql_name_eq(const char *a, const char *b);

#endif /* TSR_SQL_PLAN_H */
