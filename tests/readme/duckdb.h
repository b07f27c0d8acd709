/* duckdb.h (the part of DuckDB's C API that README.md's DuckDB example
 * uses) — DuckDB's npm package @duckdb/node-bindings-linux-x64, which
 * `npm ci` in bench/peers installs, ships libduckdb.so without its header,
 * so the README's ```c blocks that include <duckdb.h> are compiled against
 * these declarations, written from DuckDB's C API documentation
 * (https://duckdb.org/docs/stable/clients/c/api), and linked with that
 * libduckdb.so (tests/CMakeLists.txt).  A program of your own includes the
 * duckdb.h of a DuckDB release instead. */
#ifndef TESSERA_README_DUCKDB_H
#define TESSERA_README_DUCKDB_H

#include <stdbool.h>
#include <stdint.h>

typedef uint64_t idx_t;
typedef enum duckdb_state { DuckDBSuccess = 0, DuckDBError = 1 } duckdb_state;
typedef struct _duckdb_database {
  void *internal_ptr;
} * duckdb_database;
typedef struct _duckdb_connection {
  void *internal_ptr;
} * duckdb_connection;
typedef struct _duckdb_arrow_stream {
  void *internal_ptr;
} * duckdb_arrow_stream; /* a struct ArrowArrayStream * */
typedef struct {
  idx_t deprecated_column_count;
  idx_t deprecated_row_count;
  idx_t deprecated_rows_changed;
  void *deprecated_columns;
  char *deprecated_error_message;
  void *internal_data;
} duckdb_result;

duckdb_state duckdb_open(const char *path, duckdb_database *out_database);
void duckdb_close(duckdb_database *database);
duckdb_state duckdb_connect(duckdb_database database, duckdb_connection *out_connection);
void duckdb_disconnect(duckdb_connection *connection);
duckdb_state duckdb_query(duckdb_connection connection, const char *query,
                          duckdb_result *out_result);
void duckdb_destroy_result(duckdb_result *result);
const char *duckdb_result_error(duckdb_result *result);
idx_t duckdb_row_count(duckdb_result *result);
char *duckdb_value_varchar(duckdb_result *result, idx_t col, idx_t row);
double duckdb_value_double(duckdb_result *result, idx_t col, idx_t row);
void duckdb_free(void *ptr);
/* A view `table_name` over the stream (which the caller releases after
 * the last query reading it). */
duckdb_state duckdb_arrow_scan(duckdb_connection connection, const char *table_name,
                               duckdb_arrow_stream arrow);

#endif /* TESSERA_README_DUCKDB_H */
