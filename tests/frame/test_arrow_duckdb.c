/* test_arrow_duckdb.c — the Arrow C stream export and import against a
 * real third-party implementation: DuckDB's C API in libduckdb.so (npm
 * package @duckdb/node-bindings-linux-x64, installed in bench/peers by
 * `npm ci`; no duckdb.h is shipped, so the library is dlopen'ed and the
 * few functions used are declared below as DuckDB's C API documents them).
 *
 * Export: a random frame of every type with nulls in >= 64 row chunks is
 * handed to duckdb_arrow_scan and queried with SQL (counts, sums, string
 * comparisons, min/max of dates and timestamps, a group-by), each answer
 * compared with a naive loop over the reference.  Import: DuckDB's query
 * results through its Arrow interface ("u" strings, then "vu" string views
 * and "U" large strings, ENUMs as dictionaries) read by
 * tsr_frame_from_arrow_stream and compared with the reference row by row.
 *
 * duckdb_arrow_scan fetches the stream's schema and never releases it (its
 * root's release is set to NULL in DuckDB's copy, arrow-c.cpp), so the
 * test hands DuckDB a thin wrapper that lends out schemas it releases
 * itself once DuckDB is closed: the context's teardown then checks that
 * every byte tessera allocated came back, and the ASan build that nothing
 * leaked on either side.
 *
 * Skipped (77) when libduckdb.so is missing; TESSERA_PEERS_DIR may name
 * another bench/peers directory. */
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "frame/frame_util.h"

#ifndef TSR_PEERS_DIR
#error "TSR_PEERS_DIR (bench/peers) must be defined by tests/CMakeLists.txt"
#endif
#define LIBDUCKDB "/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so"

/* ---- DuckDB's C API (duckdb.h), the part used here ----------------------------------------- */

typedef uint64_t idx_t;
typedef enum { DuckDBSuccess = 0, DuckDBError = 1 } duckdb_state;
typedef struct _duckdb_database *duckdb_database;
typedef struct _duckdb_connection *duckdb_connection;
typedef struct _duckdb_arrow *duckdb_arrow;
typedef struct _duckdb_arrow_schema *duckdb_arrow_schema; /* an ArrowSchema * */
typedef struct _duckdb_arrow_array *duckdb_arrow_array;   /* an ArrowArray * */
typedef struct _duckdb_arrow_stream *duckdb_arrow_stream; /* an ArrowArrayStream * */
typedef struct {
  idx_t deprecated_column_count;
  idx_t deprecated_row_count;
  idx_t deprecated_rows_changed;
  void *deprecated_columns;
  char *deprecated_error_message;
  void *internal_data;
} duckdb_result;

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
  bool (*value_is_null)(duckdb_result *, idx_t, idx_t);
  int64_t (*value_int64)(duckdb_result *, idx_t, idx_t);
  double (*value_double)(duckdb_result *, idx_t, idx_t);
  char *(*value_varchar)(duckdb_result *, idx_t, idx_t);
  void (*free)(void *);
  duckdb_state (*arrow_scan)(duckdb_connection, const char *, duckdb_arrow_stream);
  duckdb_state (*query_arrow)(duckdb_connection, const char *, duckdb_arrow *);
  duckdb_state (*query_arrow_schema)(duckdb_arrow, duckdb_arrow_schema *);
  duckdb_state (*query_arrow_array)(duckdb_arrow, duckdb_arrow_array *);
  const char *(*query_arrow_error)(duckdb_arrow);
  void (*destroy_arrow)(duckdb_arrow *);
} duck;

static bool duck_load(const char *path) {
  duck.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (duck.lib == NULL)
    return false;
#define SYM(field, name)                                 \
  do {                                                   \
    *(void **)&duck.field = dlsym(duck.lib, name);       \
    if (duck.field == NULL) {                            \
      fprintf(stderr, "%s: no symbol %s\n", path, name); \
      return false;                                      \
    }                                                    \
  } while (0)
  SYM(open, "duckdb_open");
  SYM(close, "duckdb_close");
  SYM(connect, "duckdb_connect");
  SYM(disconnect, "duckdb_disconnect");
  SYM(query, "duckdb_query");
  SYM(destroy_result, "duckdb_destroy_result");
  SYM(result_error, "duckdb_result_error");
  SYM(row_count, "duckdb_row_count");
  SYM(value_is_null, "duckdb_value_is_null");
  SYM(value_int64, "duckdb_value_int64");
  SYM(value_double, "duckdb_value_double");
  SYM(value_varchar, "duckdb_value_varchar");
  SYM(free, "duckdb_free");
  SYM(arrow_scan, "duckdb_arrow_scan");
  SYM(query_arrow, "duckdb_query_arrow");
  SYM(query_arrow_schema, "duckdb_query_arrow_schema");
  SYM(query_arrow_array, "duckdb_query_arrow_array");
  SYM(query_arrow_error, "duckdb_query_arrow_error");
  SYM(destroy_arrow, "duckdb_destroy_arrow");
#undef SYM
  return true;
}

/* Runs SQL that returns nothing useful. */
static void duck_exec(duckdb_connection con, const char *sql) {
  duckdb_result r;
  duckdb_state s = duck.query(con, sql, &r);
  if (s != DuckDBSuccess)
    print_error("DuckDB: %s: %s\n", sql, duck.result_error(&r));
  duck.destroy_result(&r);
  assert_int_equal(s, DuckDBSuccess);
}

/* Runs SQL returning one row; *r must be destroyed. */
static void duck_row(duckdb_connection con, const char *sql, duckdb_result *r) {
  duckdb_state s = duck.query(con, sql, r);
  if (s != DuckDBSuccess)
    print_error("DuckDB: %s: %s\n", sql, duck.result_error(r));
  assert_int_equal(s, DuckDBSuccess);
  assert_int_equal(duck.row_count(r), 1);
}

/* ---- a stream lending its schemas (see the top comment) -------------------------------------- */

typedef struct lender {
  struct ArrowArrayStream *inner;
  struct ArrowSchema kept[16];
  int nkept;
} lender;

static void lent_schema_release(struct ArrowSchema *s) { s->release = NULL; }
static int lender_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out) {
  lender *l = st->private_data;
  if (l->nkept == 16)
    return 12; /* ENOMEM */
  int rc = l->inner->get_schema(l->inner, &l->kept[l->nkept]);
  if (rc != 0)
    return rc;
  *out = l->kept[l->nkept++];
  out->release = lent_schema_release;
  return 0;
}
static int lender_get_next(struct ArrowArrayStream *st, struct ArrowArray *out) {
  lender *l = st->private_data;
  return l->inner->get_next(l->inner, out);
}
static const char *lender_get_last_error(struct ArrowArrayStream *st) {
  lender *l = st->private_data;
  return l->inner->get_last_error(l->inner);
}
static void lender_release(struct ArrowArrayStream *st) {
  lender *l = st->private_data;
  for (int i = 0; i < l->nkept; i++)
    l->kept[i].release(&l->kept[i]);
  l->inner->release(l->inner);
  st->release = NULL;
}

/* ---- DuckDB's result as an ArrowArrayStream -------------------------------------------------- */

static int dres_get_schema(struct ArrowArrayStream *st, struct ArrowSchema *out) {
  memset(out, 0, sizeof *out);
  duckdb_arrow_schema p = (duckdb_arrow_schema)out;
  return duck.query_arrow_schema((duckdb_arrow)st->private_data, &p) == DuckDBSuccess ? 0 : 5;
}
static int dres_get_next(struct ArrowArrayStream *st, struct ArrowArray *out) {
  memset(out, 0, sizeof *out); /* left released at the end */
  duckdb_arrow_array p = (duckdb_arrow_array)out;
  return duck.query_arrow_array((duckdb_arrow)st->private_data, &p) == DuckDBSuccess ? 0 : 5;
}
static const char *dres_get_last_error(struct ArrowArrayStream *st) {
  return duck.query_arrow_error((duckdb_arrow)st->private_data);
}
static void dres_release(struct ArrowArrayStream *st) {
  duckdb_arrow a = st->private_data;
  duck.destroy_arrow(&a);
  st->release = NULL;
}

/* The result of `sql` read by tessera. */
static tsr_frame *duck_import(tsr_ctx *ctx, duckdb_connection con, const char *sql) {
  duckdb_arrow a = NULL;
  duckdb_state s = duck.query_arrow(con, sql, &a);
  if (s != DuckDBSuccess)
    print_error("DuckDB: %s: %s\n", sql, duck.query_arrow_error(a));
  assert_int_equal(s, DuckDBSuccess);
  struct ArrowArrayStream st = {dres_get_schema, dres_get_next, dres_get_last_error, dres_release,
                                a};
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_arrow_stream(ctx, &st, &f));
  assert_null(st.release);
  return f;
}

/* Asserts the Arrow format DuckDB gives column `col` of sql's result. */
static void duck_assert_format(duckdb_connection con, const char *sql, int col, const char *want) {
  duckdb_arrow a = NULL;
  assert_int_equal(duck.query_arrow(con, sql, &a), DuckDBSuccess);
  struct ArrowSchema s;
  memset(&s, 0, sizeof s);
  duckdb_arrow_schema p = (duckdb_arrow_schema)&s;
  assert_int_equal(duck.query_arrow_schema(a, &p), DuckDBSuccess);
  assert_true(col < s.n_children);
  assert_string_equal(s.children[col]->format, want);
  s.release(&s);
  duck.destroy_arrow(&a);
}

/* ---- the reference --------------------------------------------------------------------------- */

enum { NROWS = 60000, NCOLS = TSR_NUM_COLTYPES + 3 };

/* Column i's type: every type, then timestamps in s, ms, ns, and a row id. */
static tsr_type col_type(int i) {
  if (i < TSR_NUM_COLTYPES)
    return fu_types[i];
  if (i == TSR_NUM_COLTYPES)
    return (tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_S};
  if (i == TSR_NUM_COLTYPES + 1)
    return (tsr_type){TSR_COL_TIMESTAMP, TSR_TIME_NS};
  return (tsr_type){TSR_COL_INT64, 0};
}

static void make_ref(ref_frame *ref) {
  tsr_type types[NCOLS];
  for (int i = 0; i < NCOLS; i++)
    types[i] = col_type(i);
  ref_frame_random(ref, NCOLS, types, NROWS, 12, 2024);
  ref_col *id = &ref->cols[NCOLS - 1];
  snprintf(id->name, sizeof id->name, "id");
  for (int64_t r = 0; r < NROWS; r++) {
    ((int64_t *)id->values)[r] = r;
    id->valid[r] = 1;
  }
  ref_col *s = &ref->cols[TSR_COL_STRING];
  for (int64_t r = 0; r < NROWS; r++)
    if (s->valid[r] && r % 9 == 0) {
      free(s->str[r]);
      s->str[r] = fu_strdup(r % 2 ? "" : "ünïcödé ∑ 日本語");
    }
  /* DuckDB's TIMESTAMP_S/_NS hold about +-292 years in nanoseconds:
   * keep the ns column in range, the s column in DuckDB's range. */
  for (int k = TSR_NUM_COLTYPES; k <= TSR_NUM_COLTYPES + 1; k++)
    for (int64_t r = 0; r < NROWS; r++)
      ((int64_t *)ref->cols[k].values)[r] %=
          (k == TSR_NUM_COLTYPES ? 100000000000ll : 4000000000000000000ll);
}

/* ---- export: DuckDB scans tessera's stream ----------------------------------------------------
 */

static duckdb_database db;
static duckdb_connection con;

static void test_arrow_duckdb__scan_and_query(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  make_ref(&ref);
  tsr_frame *f = NULL;
  assert_ok(ref_frame_to_frame(ctx, &ref, 64, 11, &f));
  assert_true(tsr_frame_nchunks(f) >= 64);
  struct ArrowArrayStream ours, lent;
  assert_ok(tsr_frame_to_arrow_stream(f, NULL, &ours));
  tsr_frame_destroy(&f);
  lender l = {.inner = &ours};
  lent = (struct ArrowArrayStream){lender_get_schema, lender_get_next, lender_get_last_error,
                                   lender_release, &l};
  assert_int_equal(duck.arrow_scan(con, "frame", (duckdb_arrow_stream)&lent), DuckDBSuccess);
  duck_exec(con, "CREATE TABLE t AS SELECT * FROM frame");

  const ref_col *c = ref.cols;
  /* Counts of non-null values of every column. */
  for (int i = 0; i < NCOLS; i++) {
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(\"%s\") FROM t", c[i].name);
    duckdb_result r;
    duck_row(con, sql, &r);
    int64_t want = 0;
    for (int64_t k = 0; k < NROWS; k++)
      want += c[i].valid[k];
    assert_int_equal(duck.value_int64(&r, 0, 0), want);
    duck.destroy_result(&r);
  }
  /* Exact integer sums, float sums, bools, dates and timestamps. */
  {
    duckdb_result r;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT count(*), sum(%s), sum(%s), sum(%s), sum(%s)::BIGINT, count_if(%s), "
             "min(%s - DATE '1970-01-01'), max(%s - DATE '1970-01-01'), min(epoch_us(%s)), "
             "max(epoch_us(%s)), sum(%s) FROM t",
             c[TSR_COL_INT8].name, c[TSR_COL_INT32].name, c[TSR_COL_UINT16].name,
             c[TSR_COL_INT64].name, c[TSR_COL_BOOL].name, c[TSR_COL_DATE].name,
             c[TSR_COL_DATE].name, c[TSR_COL_TIMESTAMP].name, c[TSR_COL_TIMESTAMP].name,
             c[TSR_COL_FLOAT64].name);
    duck_row(con, sql, &r);
    int64_t s8 = 0, s32 = 0, su16 = 0, s64 = 0, nb = 0;
    int32_t dmin = INT32_MAX, dmax = INT32_MIN;
    int64_t tmin = INT64_MAX, tmax = INT64_MIN;
    double sf = 0;
    for (int64_t k = 0; k < NROWS; k++) {
      if (c[TSR_COL_INT8].valid[k])
        s8 += ((const int8_t *)c[TSR_COL_INT8].values)[k];
      if (c[TSR_COL_INT32].valid[k])
        s32 += ((const int32_t *)c[TSR_COL_INT32].values)[k];
      if (c[TSR_COL_UINT16].valid[k])
        su16 += ((const uint16_t *)c[TSR_COL_UINT16].values)[k];
      if (c[TSR_COL_INT64].valid[k])
        s64 += ((const int64_t *)c[TSR_COL_INT64].values)[k];
      if (c[TSR_COL_BOOL].valid[k])
        nb += c[TSR_COL_BOOL].values[k];
      if (c[TSR_COL_FLOAT64].valid[k])
        sf += ((const double *)c[TSR_COL_FLOAT64].values)[k];
      if (c[TSR_COL_DATE].valid[k]) {
        int32_t d = ((const int32_t *)c[TSR_COL_DATE].values)[k];
        dmin = d < dmin ? d : dmin;
        dmax = d > dmax ? d : dmax;
      }
      if (c[TSR_COL_TIMESTAMP].valid[k]) {
        int64_t t = ((const int64_t *)c[TSR_COL_TIMESTAMP].values)[k];
        tmin = t < tmin ? t : tmin;
        tmax = t > tmax ? t : tmax;
      }
    }
    assert_int_equal(duck.value_int64(&r, 0, 0), NROWS);
    assert_int_equal(duck.value_int64(&r, 1, 0), s8);
    assert_int_equal(duck.value_int64(&r, 2, 0), s32);
    assert_int_equal(duck.value_int64(&r, 3, 0), su16);
    assert_int_equal(duck.value_int64(&r, 4, 0), s64);
    assert_int_equal(duck.value_int64(&r, 5, 0), nb);
    assert_int_equal(duck.value_int64(&r, 6, 0), dmin);
    assert_int_equal(duck.value_int64(&r, 7, 0), dmax);
    assert_int_equal(duck.value_int64(&r, 8, 0), tmin);
    assert_int_equal(duck.value_int64(&r, 9, 0), tmax);
    double got = duck.value_double(&r, 10, 0);
    assert_true(fabs(got - sf) <= 1e-9 * (fabs(sf) + 1e4 * NROWS));
    duck.destroy_result(&r);
  }
  /* String comparisons: equality, order (bytes), length, over the views
   * and over the dictionary. */
  const char *probes[] = {"banana", "fig", "cherry-long-word-here", "", "m", "é-unicode"};
  for (size_t p = 0; p < sizeof probes / sizeof probes[0]; p++) {
    for (int col = TSR_COL_STRING; col <= TSR_COL_DICT; col++) {
      char sql[512];
      snprintf(sql, sizeof sql,
               "SELECT count_if(\"%s\" = '%s'), count_if(\"%s\" < '%s'), "
               "coalesce(sum(strlen(\"%s\")), 0) FROM t",
               c[col].name, probes[p], c[col].name, probes[p], c[col].name);
      duckdb_result r;
      duck_row(con, sql, &r);
      int64_t eq = 0, lt = 0, bytes = 0;
      for (int64_t k = 0; k < NROWS; k++) {
        if (!c[col].valid[k])
          continue;
        int cmp = strcmp(c[col].str[k], probes[p]);
        eq += cmp == 0;
        lt += cmp < 0;
        bytes += (int64_t)strlen(c[col].str[k]);
      }
      assert_int_equal(duck.value_int64(&r, 0, 0), eq);
      assert_int_equal(duck.value_int64(&r, 1, 0), lt);
      assert_int_equal(duck.value_int64(&r, 2, 0), bytes);
      duck.destroy_result(&r);
    }
  }
  /* The whole table back through DuckDB's Arrow export, row by row. */
  for (int variant = 0; variant < 3; variant++) {
    if (variant == 1) { /* string views need Arrow format 1.4 */
      duck_exec(con, "SET arrow_output_version = '1.4'");
      duck_exec(con, "SET produce_arrow_string_view = true");
    }
    if (variant == 2) {
      duck_exec(con, "SET produce_arrow_string_view = false");
      duck_exec(con, "SET arrow_large_buffer_size = true");
    }
    static const char *const formats[3] = {"u", "vu", "U"};
    duck_assert_format(con, "SELECT * FROM t LIMIT 1", TSR_COL_STRING, formats[variant]);
    tsr_frame *g = duck_import(ctx, con, "SELECT * FROM t ORDER BY id");
    ref_frame got;
    ref_frame_compute(g, &got);
    tsr_frame_destroy(&g);
    assert_int_equal(got.ncols, NCOLS);
    assert_int_equal(got.n, NROWS);
    for (int i = 0; i < NCOLS; i++) {
      ref_col want = ref.cols[i];
      if (want.type.id == TSR_COL_DICT) /* DuckDB reads a dictionary as VARCHAR */
        want.type.id = TSR_COL_STRING;
      assert_string_equal(got.cols[i].name, want.name);
      assert_int_equal(got.cols[i].type.unit, want.type.unit);
      ref_col_assert_rows(&want, 0, NROWS, &got.cols[i]);
    }
    ref_frame_free(&got);
  }
  duck_exec(con, "SET arrow_large_buffer_size = false");
  duck_exec(con, "DROP VIEW frame");
  lent.release(&lent);
  ref_frame_free(&ref);
}

/* DuckDB's ENUMs arrive as dictionaries; nulls and SQL-made values. */
static void test_arrow_duckdb__import_enum_and_nulls(void **state) {
  tsr_ctx *ctx = *state;
  duck_exec(con, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')");
  tsr_frame *g = duck_import(
      ctx, con,
      "SELECT i::INTEGER AS i, CASE WHEN i % 5 = 0 THEN NULL ELSE (['sad','ok','happy'])[1 + i % "
      "3]::mood END AS m, CASE WHEN i % 7 = 0 THEN NULL ELSE repeat('x', i % 20) END AS s, "
      "i % 2 = 0 AS even FROM range(5000) r(i) ORDER BY i");
  assert_int_equal(tsr_frame_col_type(g, 1).id, TSR_COL_DICT);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(g, NULL, &r));
  assert_int_equal(tsr_frame_result_nrows(r), 5000);
  const char *moods[3] = {"sad", "ok", "happy"};
  uint8_t even[5000];
  assert_ok(tsr_frame_result_values(r, 3, even, sizeof even, NULL));
  for (int64_t i = 0; i < 5000; i++) {
    const char *text;
    size_t len;
    bool is_null;
    assert_ok(tsr_frame_result_string(r, 1, i, &text, &len, &is_null));
    assert_int_equal(is_null, i % 5 == 0);
    if (!is_null) {
      assert_int_equal(len, strlen(moods[i % 3]));
      assert_memory_equal(text, moods[i % 3], len);
    }
    assert_ok(tsr_frame_result_string(r, 2, i, &text, &len, &is_null));
    assert_int_equal(is_null, i % 7 == 0);
    if (!is_null)
      assert_int_equal(len, i % 20);
    assert_int_equal(even[i], i % 2 == 0);
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&g);
}

int main(void) {
  char path[1024];
  const char *env = getenv("TESSERA_PEERS_DIR");
  snprintf(path, sizeof path, "%s" LIBDUCKDB, env && *env ? env : TSR_PEERS_DIR);
  if (!duck_load(path)) {
    printf("skipped: %s not loadable (%s); run `npm ci` in bench/peers\n", path, dlerror());
    return 77;
  }
  if (duck.open(NULL, &db) != DuckDBSuccess || duck.connect(db, &con) != DuckDBSuccess) {
    fprintf(stderr, "DuckDB: cannot open an in-memory database\n");
    return 1;
  }
  duckdb_result r;
  (void)duck.query(con, "SET threads = 2", &r);
  duck.destroy_result(&r);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_arrow_duckdb__scan_and_query, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_arrow_duckdb__import_enum_and_nulls, test_ctx_setup,
                                      test_ctx_teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  duck.disconnect(&con);
  duck.close(&db);
  dlclose(duck.lib);
  return failed;
}
