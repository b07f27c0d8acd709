/* tessera/sql.h — SQL over frames: a session holds named tables (frames,
 * files and views) and runs SQL scripts on them, as DuckDB's CLI and C API
 * do.  A query becomes the same frame operations the C API makes
 * (frame.h, query.h), so it runs on the same threads and ranks, lazily
 * where frames are lazy.  `tessera query` (man tessera) is this API.
 *
 * The subset, its semantics and its deviations from DuckDB are listed in
 * docs/sql.md.  In short: SELECT [DISTINCT] with expressions and aliases;
 * FROM tables, quoted file paths ('data.csv', 'data.csv.gz',
 * 'file.h5:/group'), subqueries and WITH; joins (INNER, LEFT, RIGHT, FULL,
 * SEMI, ANTI, CROSS, ASOF) on AND-ed equalities or USING; WHERE; GROUP BY
 * with the aggregates of tsr_frame_groupby; HAVING; window functions;
 * ORDER BY ... [NULLS FIRST|LAST], LIMIT, OFFSET; UNION [ALL]; CREATE
 * TABLE|VIEW name AS, DROP, COPY (query) TO 'file'; EXPLAIN [ANALYZE].
 *
 * Errors: syntax errors are TSR_EPARSE with the line, column, the source
 * line and a caret under the token; an unknown table or column is
 * TSR_EINVAL naming it and suggesting the nearest name; type errors are
 * TSR_EDTYPE naming the expression.  A failed statement leaves the
 * session as it was before it. */
#ifndef TESSERA_SQL_H
#define TESSERA_SQL_H

#include <tessera/frame.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_sql_session tsr_sql_session;

/* A session on ctx (which must outlive it).  The caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_sql_session_create(tsr_ctx *ctx, tsr_sql_session **out);
/* Releases the session and everything it registered; accepts NULL. */
TSR_API void tsr_sql_session_destroy(tsr_sql_session **session);

/* Makes `frame` a table called `name` (case-insensitive, as unquoted SQL
 * identifiers; replaces a table or view of that name).  The session keeps
 * its own reference: the caller may destroy its handle. */
TSR_API TSR_NODISCARD tsr_status tsr_sql_register(tsr_sql_session *session, const char *name,
                                                  tsr_frame *frame);
/* Makes the file `path` a table called `name`, opened when a statement
 * first uses it (a CSV, .csv.gz or `file.h5:/object` as in FROM). */
TSR_API TSR_NODISCARD tsr_status tsr_sql_register_path(tsr_sql_session *session, const char *name,
                                                       const char *path);

/* Runs the statements of `sql` (separated by ';') in order and returns the
 * result of the last one in *out (NULL when the last statement makes no
 * rows: CREATE, DROP, COPY).  EXPLAIN returns a frame of one string column
 * `plan`, one row per line.  Query results are frames as the frame
 * operations make them: lazy where they are (print or compute them), in
 * memory after a group-by, join or sort.  The caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_sql_run(tsr_sql_session *session, const char *sql,
                                             tsr_frame **out);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_SQL_H */
