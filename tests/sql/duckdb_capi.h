/* duckdb_capi.h — the part of DuckDB's C API (duckdb.h) the SQL differential
 * suite uses, loaded with dlopen from the npm package's libduckdb.so
 * (@duckdb/node-bindings-linux-x64 under bench/peers, `npm ci`), which
 * ships no header: the declarations follow DuckDB's documented C API.
 * Results are read with the materialized-result value functions
 * (duckdb_value_*), which DuckDB 1.x still exports. */
#ifndef TSR_TEST_DUCKDB_CAPI_H
#define TSR_TEST_DUCKDB_CAPI_H

#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef uint64_t idx_t;
typedef enum { DuckDBSuccess = 0, DuckDBError = 1 } duckdb_state;
typedef struct _duckdb_database *duckdb_database;
typedef struct _duckdb_connection *duckdb_connection;
typedef struct {
  idx_t deprecated_column_count;
  idx_t deprecated_row_count;
  idx_t deprecated_rows_changed;
  void *deprecated_columns;
  char *deprecated_error_message;
  void *internal_data;
} duckdb_result;
typedef struct {
  int32_t days;
} duckdb_date;
typedef struct {
  int64_t micros;
} duckdb_timestamp;
typedef struct {
  uint64_t lower;
  int64_t upper;
} duckdb_hugeint;

/* duckdb_type's values (duckdb.h's DUCKDB_TYPE enum). */
enum {
  DUCK_BOOLEAN = 1,
  DUCK_TINYINT = 2,
  DUCK_SMALLINT = 3,
  DUCK_INTEGER = 4,
  DUCK_BIGINT = 5,
  DUCK_UTINYINT = 6,
  DUCK_USMALLINT = 7,
  DUCK_UINTEGER = 8,
  DUCK_UBIGINT = 9,
  DUCK_FLOAT = 10,
  DUCK_DOUBLE = 11,
  DUCK_TIMESTAMP = 12,
  DUCK_DATE = 13,
  DUCK_HUGEINT = 16,
  DUCK_VARCHAR = 17,
  DUCK_DECIMAL = 19,
  DUCK_UHUGEINT = 32,
};

static struct {
  void *lib;
  duckdb_state (*open)(const char *, duckdb_database *);
  void (*close)(duckdb_database *);
  duckdb_state (*connect)(duckdb_database, duckdb_connection *);
  void (*disconnect)(duckdb_connection *);
  duckdb_state (*query)(duckdb_connection, const char *, duckdb_result *);
  void (*destroy_result)(duckdb_result *);
  const char *(*result_error)(duckdb_result *);
  idx_t (*row_count)(duckdb_result *);
  idx_t (*column_count)(duckdb_result *);
  int (*column_type)(duckdb_result *, idx_t);
  bool (*value_is_null)(duckdb_result *, idx_t, idx_t);
  bool (*value_boolean)(duckdb_result *, idx_t, idx_t);
  int64_t (*value_int64)(duckdb_result *, idx_t, idx_t);
  uint64_t (*value_uint64)(duckdb_result *, idx_t, idx_t);
  duckdb_hugeint (*value_hugeint)(duckdb_result *, idx_t, idx_t);
  double (*value_double)(duckdb_result *, idx_t, idx_t);
  duckdb_date (*value_date)(duckdb_result *, idx_t, idx_t);
  duckdb_timestamp (*value_timestamp)(duckdb_result *, idx_t, idx_t);
  char *(*value_varchar)(duckdb_result *, idx_t, idx_t);
  void (*free)(void *);
  const char *(*library_version)(void);
} duck;

/* Loads libduckdb.so at `path`; false when it is missing or lacks a symbol. */
static bool duck_load(const char *path) {
  duck.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (duck.lib == NULL)
    return false;
#define DUCK_SYM(field, name)                            \
  do {                                                   \
    *(void **)&duck.field = dlsym(duck.lib, name);       \
    if (duck.field == NULL) {                            \
      fprintf(stderr, "%s: no symbol %s\n", path, name); \
      return false;                                      \
    }                                                    \
  } while (0)
  DUCK_SYM(open, "duckdb_open");
  DUCK_SYM(close, "duckdb_close");
  DUCK_SYM(connect, "duckdb_connect");
  DUCK_SYM(disconnect, "duckdb_disconnect");
  DUCK_SYM(query, "duckdb_query");
  DUCK_SYM(destroy_result, "duckdb_destroy_result");
  DUCK_SYM(result_error, "duckdb_result_error");
  DUCK_SYM(row_count, "duckdb_row_count");
  DUCK_SYM(column_count, "duckdb_column_count");
  DUCK_SYM(column_type, "duckdb_column_type");
  DUCK_SYM(value_is_null, "duckdb_value_is_null");
  DUCK_SYM(value_boolean, "duckdb_value_boolean");
  DUCK_SYM(value_int64, "duckdb_value_int64");
  DUCK_SYM(value_uint64, "duckdb_value_uint64");
  DUCK_SYM(value_hugeint, "duckdb_value_hugeint");
  DUCK_SYM(value_double, "duckdb_value_double");
  DUCK_SYM(value_date, "duckdb_value_date");
  DUCK_SYM(value_timestamp, "duckdb_value_timestamp");
  DUCK_SYM(value_varchar, "duckdb_value_varchar");
  DUCK_SYM(free, "duckdb_free");
  DUCK_SYM(library_version, "duckdb_library_version");
#undef DUCK_SYM
  return true;
}

#endif /* TSR_TEST_DUCKDB_CAPI_H */
