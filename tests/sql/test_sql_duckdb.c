/* test_sql_duckdb.c — the SQL layer against DuckDB, differentially (issue 16,
 * item 8).  Four random CSV tables (fixed seeds) with int, float, string,
 * bool and date columns, nulls (unquoted empty fields), empty strings (""),
 * quotes, commas, newlines in quoted fields and unicode are loaded by DuckDB
 * (read_csv with explicit column types, allow_quoted_nulls = false: "" is an
 * empty string, an unquoted empty field null, tessera's rule) and registered
 * in a tessera SQL session (tsr_frame_read_csv with the same schema, one
 * table's strings as a dictionary column, small byte blocks so the big table
 * has several row chunks).  Queries generated from templates per feature
 * (projection, WHERE, GROUP BY with every aggregate, ORDER BY with
 * LIMIT/OFFSET, joins, DISTINCT, UNION, WITH and subqueries, window
 * functions, integer overflow, and the expression functions that come later)
 * run on both; the results must agree: same column count, rows as multisets
 * unless ORDER BY fixes the order (the templates order by keys that make it
 * total), integers by value (DuckDB's HUGEINT sums against int64), floats
 * within 1e-9 relative (NaN equals NaN), strings byte for byte, dates as
 * days.  Both erroring is a match, counted apart; one side erroring is a
 * mismatch, except tessera's TSR_EOVERFLOW where DuckDB's value is outside
 * int64 (a documented deviation: integer sums are int64 and overflow is an
 * error), counted apart as well.
 *
 * Each feature prints its counts (queries, matched, both-error, deviations)
 * and fails on any mismatch, printing the SQL and the first differing row.
 * A feature whose probe query tessera cannot run yet (CASE, CAST, ...) is
 * skipped with a note, and switches itself on once the probe runs.
 *
 * TSR_SQLDIFF_QUERIES sets the number of queries per feature (default 120,
 * 40 in a sanitizer build), TSR_SQLDIFF_PRINT how many mismatches each
 * feature prints (default 8); TSR_SQLDIFF_FORCE=1 runs the features whose
 * probe fails as well.  Skipped (77) when libduckdb.so is missing;
 * TESSERA_PEERS_DIR may name another bench/peers directory.
 *
 * Built with TSR_SQLDIFF_MPI (tests/dist/test_dist_sql_duckdb.c) the same
 * suite runs under mpiexec (issue 17 item 7): every rank writes the tables,
 * runs DuckDB and runs tessera on a distributed context, the tables read
 * in about 24 row chunks each (every rank owns rows of every table), and
 * every rank compares its own answer.  The verdicts are agreed (MPI_Allreduce), so all ranks pass or
 * fail together; the features that move data between ranks (group-by,
 * joins, ORDER BY, DISTINCT, ...) must have made every rank send bytes
 * (tsr_ctx_exchange_stats).  Those run the first 25 queries of the
 * one-rank run (10 in a sanitizer build), the features computed chunk by
 * chunk (expressions) a fifth of that (TSR_SQLDIFF_QUERIES sets one count
 * for all).  The run skips, with the reason printed, what mpi_skipped
 * lists: what tessera does not run across ranks yet. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "duckdb_capi.h"
#include "test_util.h"

#include <tessera/sql.h>

#ifdef TSR_SQLDIFF_MPI
#include <mpi.h>
#endif

#ifndef TSR_PEERS_DIR
#error "TSR_PEERS_DIR (bench/peers) must be defined by tests/CMakeLists.txt"
#endif
#define LIBDUCKDB "/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so"

static duckdb_database db;
static duckdb_connection con;
static char tmpdir[256];
/* Queries per feature: fewer under the sanitizers, which CI also runs. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SQLDIFF_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SQLDIFF_SANITIZED 1
#endif
#endif
/* Across ranks (TSR_SQLDIFF_MPI): the features that move rows between
 * ranks run SQLDIFF_MPI_QUERIES queries, the others (expressions computed
 * chunk by chunk where the chunks are owned) a fifth of it. */
#ifdef SQLDIFF_SANITIZED
static int nqueries = 40;
#define SQLDIFF_MPI_QUERIES 10
#else
static int nqueries = 120;
#define SQLDIFF_MPI_QUERIES 25
#endif
static int my_rank, my_nranks = 1; /* under TSR_SQLDIFF_MPI: MPI_COMM_WORLD's */
/* Across ranks, LOCAL features run a fifth of nqueries (unless TSR_SQLDIFF_QUERIES is set). */
static bool fewer_local;
static bool force_all;      /* TSR_SQLDIFF_FORCE: run features whose probe fails too */
static int max_printed = 8; /* mismatches printed per feature (TSR_SQLDIFF_PRINT) */

/* ---- random numbers (splitmix64) ----------------------------------------------------------- */

static uint64_t rng;

static uint64_t rnd(void) {
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in lo..hi (inclusive). */
static int rnd_int(int lo, int hi) { return lo + (int)(rnd() % (uint64_t)(hi - lo + 1)); }

static bool coin(double p) { return (double)(rnd() >> 11) * 0x1p-53 < p; }

/* ---- a growing string ---------------------------------------------------------------------- */

typedef struct sb {
  char *p;
  size_t n, cap;
} sb;

static void sb_putn(sb *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (b->n + n + 1 > cap)
      cap *= 2;
    b->p = realloc(b->p, cap);
    assert_non_null(b->p);
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void sb_put(sb *b, const char *s) { sb_putn(b, s, strlen(s)); }

static void sb_printf(sb *b, const char *fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  assert_true(n >= 0 && (size_t)n < sizeof buf);
  sb_putn(b, buf, (size_t)n);
}

static void sb_clear(sb *b) {
  b->n = 0;
  if (b->p)
    b->p[0] = '\0';
}

/* ---- the tables ---------------------------------------------------------------------------- */

typedef enum kind { K_INT, K_FLOAT, K_STR, K_BOOL, K_DATE } kind;
#define M(k) (1u << (k))
#define NUMERIC (M(K_INT) | M(K_FLOAT))
#define ANY 0x1fu

typedef struct colspec {
  const char *name;
  kind kind;
} colspec;

typedef struct tablespec {
  const char *name;
  int ncols;
  colspec cols[9];
  int minrows, maxrows, kmax; /* k is 0..kmax */
} tablespec;

/* t1 is the big table; t2 shares its column names but k (the usual join
 * key) has another range, and tessera reads its s as a dictionary column
 * (joins and unions meet strings and dictionaries); t3 is small, for cross
 * joins; t4's w holds integers near +-2^62, whose sums overflow int64
 * (only the overflow feature reads t4).  f holds multiples
 * of 1/16 (sums are exact in any order), g arbitrary doubles in [0, 1000). */
#define NTABLES 4
static const tablespec tables[NTABLES] = {
    {"t1",
     9,
     {{"id", K_INT},
      {"k", K_INT},
      {"i", K_INT},
      {"j", K_INT},
      {"f", K_FLOAT},
      {"g", K_FLOAT},
      {"s", K_STR},
      {"b", K_BOOL},
      {"d", K_DATE}},
     1200,
     2000,
     40},
    {"t2",
     6,
     {{"id", K_INT}, {"k", K_INT}, {"i", K_INT}, {"f", K_FLOAT}, {"s", K_STR}, {"d", K_DATE}},
     200,
     400,
     60},
    {"t3", 4, {{"id", K_INT}, {"k", K_INT}, {"s", K_STR}, {"f", K_FLOAT}}, 40, 60, 10},
    {"t4", 3, {{"id", K_INT}, {"k", K_INT}, {"w", K_INT}}, 50, 80, 3},
};

/* Strings: quotes, commas, newlines, LIKE's wildcards, unicode, long ones. */
static const char *const pool[] = {
    "alpha",
    "beta",
    "gamma",
    "Alpha",
    "ALPHA",
    "delta",
    "",
    "a,b",
    "say \"hi\"",
    "two\nlines",
    "é",
    "café",
    "Éclair",
    "漢字",
    "漢",
    "emoji 😀",
    "😀",
    "x_y",
    "100%",
    "a'b",
    "  spaced  ",
    "a much longer string than twelve bytes",
    "another long one, with a comma",
    "zeta",
    "Zeta",
    "b",
    "ab",
    "abc",
    "tab\there",
    "naïve café 漢字 😀 mixed",
};
#define NPOOL ((int)(sizeof pool / sizeof *pool))

static const char *const alphabet[] = {"a", "b", "c", "x", "é", "漢", "😀", "_", " ", "Z"};

/* Civil date of days since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

static void put_date(sb *b, int64_t days) {
  int y, m, d;
  civil(days, &y, &m, &d);
  sb_printf(b, "%04d-%02d-%02d", y, m, d);
}

static int64_t random_days(void) {
  /* half from 60 fixed dates (groups and join matches), half anywhere 1901..2079 */
  if (coin(0.5))
    return -20000 + 997 * rnd_int(0, 59);
  return rnd_int(-25000, 40000);
}

static double random_f(void) { return coin(0.1) ? 0.0 : (double)rnd_int(-16000, 16000) / 16.0; }

static void random_string(sb *b) {
  if (coin(0.75)) {
    sb_put(b, pool[rnd_int(0, NPOOL - 1)]);
    return;
  }
  int n = rnd_int(1, 14);
  for (int i = 0; i < n; i++)
    sb_put(b, alphabet[rnd_int(0, (int)(sizeof alphabet / sizeof *alphabet) - 1)]);
}

/* A CSV field for string s: quoted when it must be (or at random). */
static void put_csv_string(sb *line, const char *s) {
  bool quote = *s == '\0' || coin(0.2);
  for (const char *c = s; *c && !quote; c++)
    quote = !((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              (unsigned char)*c >= 0x80);
  if (!quote) {
    sb_put(line, s);
    return;
  }
  sb_put(line, "\"");
  for (const char *c = s; *c; c++)
    sb_put(line, *c == '"' ? "\"\"" : (char[2]){*c, 0});
  sb_put(line, "\"");
}

/* Writes table t (seeded by its index) to path. */
static void write_table(int index, const char *path) {
  const tablespec *t = &tables[index];
  rng = 0x5eed0000u + (uint64_t)index;
  int nrows = rnd_int(t->minrows, t->maxrows);
  int *ids = malloc((size_t)nrows * sizeof *ids);
  for (int r = 0; r < nrows; r++)
    ids[r] = r + 1;
  for (int r = nrows - 1; r > 0; r--) {
    int x = rnd_int(0, r), tmp = ids[r];
    ids[r] = ids[x];
    ids[x] = tmp;
  }
  FILE *out = fopen(path, "wb");
  assert_non_null(out);
  sb line = {0};
  for (int c = 0; c < t->ncols; c++)
    sb_printf(&line, "%s%s", c ? "," : "", t->cols[c].name);
  sb_put(&line, "\n");
  for (int r = 0; r < nrows; r++) {
    for (int c = 0; c < t->ncols; c++) {
      const colspec *col = &t->cols[c];
      if (c)
        sb_put(&line, ",");
      if (strcmp(col->name, "id") == 0) {
        sb_printf(&line, "%d", ids[r]);
        continue;
      }
      if (coin(strcmp(col->name, "k") == 0 ? 0.05 : 0.1))
        continue; /* null */
      if (strcmp(col->name, "k") == 0)
        sb_printf(&line, "%d", rnd_int(0, t->kmax));
      else if (strcmp(col->name, "i") == 0)
        sb_printf(&line, "%d", rnd_int(-50, 50));
      else if (strcmp(col->name, "w") == 0)
        sb_printf(&line, "%lld",
                  (long long)(((int64_t)(rnd() >> 2) - (INT64_C(1) << 61)) * (coin(0.5) ? 1 : 2)));
      else if (strcmp(col->name, "j") == 0)
        sb_printf(&line, "%d", coin(0.05) ? 0 : rnd_int(-100000, 100000));
      else if (strcmp(col->name, "f") == 0)
        sb_printf(&line, "%.17g", random_f());
      else if (strcmp(col->name, "g") == 0)
        sb_printf(&line, "%.17g", (double)(rnd() >> 11) * 0x1p-53 * 1000.0);
      else if (col->kind == K_STR) {
        sb s = {0};
        random_string(&s);
        put_csv_string(&line, s.p ? s.p : "");
        free(s.p);
      } else if (col->kind == K_BOOL)
        sb_put(&line, coin(0.5) ? "true" : "false");
      else if (col->kind == K_DATE)
        put_date(&line, random_days());
    }
    sb_put(&line, "\n");
    fwrite(line.p, 1, line.n, out);
    sb_clear(&line);
  }
  free(line.p);
  free(ids);
  assert_int_equal(fclose(out), 0);
}

static const char *duck_type(kind k) {
  static const char *const names[] = {"BIGINT", "DOUBLE", "VARCHAR", "BOOLEAN", "DATE"};
  return names[k];
}

static const char *tsr_type_of(kind k) {
  static const char *const names[] = {"int64", "float64", "string", "bool", "date"};
  return names[k];
}

static void duck_exec(const char *sql) {
  duckdb_result r;
  duckdb_state s = duck.query(con, sql, &r);
  if (s != DuckDBSuccess)
    print_error("DuckDB: %s: %s\n", sql, duck.result_error(&r));
  duck.destroy_result(&r);
  assert_int_equal(s, DuckDBSuccess);
}

/* Writes the three CSVs and loads them into DuckDB. */
static void make_tables(void) {
  for (int t = 0; t < NTABLES; t++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.csv", tmpdir, tables[t].name);
    write_table(t, path);
    sb sql = {0};
    sb_printf(&sql,
              "CREATE TABLE %s AS SELECT * FROM read_csv('%s', header = true, auto_detect = false, "
              "delim = ',', quote = '\"', escape = '\"', allow_quoted_nulls = false, columns = {",
              tables[t].name, path);
    for (int c = 0; c < tables[t].ncols; c++)
      sb_printf(&sql, "%s'%s': '%s'", c ? ", " : "", tables[t].cols[c].name,
                duck_type(tables[t].cols[c].kind));
    sb_put(&sql, "})");
    duck_exec(sql.p);
    free(sql.p);
  }
}

/* Registers the three CSVs in a tessera session, read with the same types. */
static void register_tables(tsr_ctx *ctx, tsr_sql_session *session) {
  for (int t = 0; t < NTABLES; t++) {
    char path[512], schema[512] = "";
    snprintf(path, sizeof path, "%s/%s.csv", tmpdir, tables[t].name);
    size_t n = 0;
    for (int c = 0; c < tables[t].ncols; c++) {
      const colspec *col = &tables[t].cols[c];
      bool dict = t == 1 && col->kind == K_STR;
      n += (size_t)snprintf(schema + n, sizeof schema - n, "%s%s:%s", c ? "," : "", col->name,
                            dict ? "dict" : tsr_type_of(col->kind));
    }
    tsr_csv_options opt = {.header = TSR_CSV_HEADER_YES, .schema = schema, .block_bytes = 8192};
    if (my_nranks > 1) {
      /* Across ranks: about 24 row chunks a table (at least 256 bytes
       * each; the same for 2 and 3 ranks), so that every rank owns rows of
       * every table.  (A group-by on t1's integer k still groups in runs
       * of 16 chunks, src/frame/groupby.c: one rank may own no run.) */
      FILE *in = fopen(path, "rb");
      assert_non_null(in);
      assert_int_equal(fseek(in, 0, SEEK_END), 0);
      long size = ftell(in);
      fclose(in);
      opt.block_bytes = size / 24 > 256 ? size / 24 : 256;
    }
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_read_csv(ctx, path, &opt, &f));
    assert_true(tsr_frame_nchunks(f) >= (t == 0 ? 4 : 1));
    if (tsr_frame_nchunks(f) < my_nranks)
      print_error("%s: %lld row chunks on %d ranks\n", tables[t].name,
                  (long long)tsr_frame_nchunks(f), my_nranks);
    assert_true(tsr_frame_nchunks(f) >= my_nranks);
    tsr_status st = tsr_sql_register(session, tables[t].name, f);
    tsr_frame_destroy(&f);
    assert_ok(st);
  }
}

/* ---- result cells --------------------------------------------------------------------------- */

typedef enum cell_kind { C_NULL, C_BOOL, C_INT, C_FLOAT, C_STR, C_DATE, C_TS } cell_kind;

typedef struct cell {
  cell_kind kind;
  int64_t i; /* bool, int, date (days), timestamp (microseconds) */
  double f;
  char *s; /* C_STR: malloc'ed, s[n] == 0 */
  size_t n;
} cell;

typedef struct rows {
  int ncols;
  int64_t nrows;
  cell *c;      /* row-major */
  bool *floaty; /* per column: DuckDB's type is a float or decimal (sorted last) */
} rows;

static void rows_free(rows *r) {
  for (int64_t k = 0; r->c && k < r->nrows * r->ncols; k++)
    free(r->c[k].s);
  free(r->c);
  free(r->floaty);
  memset(r, 0, sizeof *r);
}

static void rows_alloc(rows *r, int ncols, int64_t nrows) {
  r->ncols = ncols;
  r->nrows = nrows;
  r->c = calloc((size_t)(ncols * nrows) + 1, sizeof *r->c);
  r->floaty = calloc((size_t)ncols + 1, sizeof *r->floaty);
  assert_non_null(r->c);
  assert_non_null(r->floaty);
}

static void set_str(cell *c, const char *s, size_t n) {
  c->kind = C_STR;
  c->s = malloc(n + 1);
  assert_non_null(c->s);
  memcpy(c->s, s, n);
  c->s[n] = '\0';
  c->n = n;
}

/* Runs sql in DuckDB: true with the result in *out, or false with the error in *err. */
static bool duck_run(const char *sql, rows *out, sb *err) {
  duckdb_result r;
  if (duck.query(con, sql, &r) != DuckDBSuccess) {
    sb_put(err, duck.result_error(&r));
    duck.destroy_result(&r);
    return false;
  }
  int ncols = (int)duck.column_count(&r);
  int64_t nrows = (int64_t)duck.row_count(&r);
  rows_alloc(out, ncols, nrows);
  for (int col = 0; col < ncols; col++) {
    int type = duck.column_type(&r, (idx_t)col);
    out->floaty[col] = type == DUCK_FLOAT || type == DUCK_DOUBLE || type == DUCK_DECIMAL;
    for (int64_t row = 0; row < nrows; row++) {
      cell *c = &out->c[row * ncols + col];
      if (duck.value_is_null(&r, (idx_t)col, (idx_t)row))
        continue;
      switch (type) {
      case DUCK_BOOLEAN:
        c->kind = C_BOOL;
        c->i = duck.value_boolean(&r, (idx_t)col, (idx_t)row);
        break;
      case DUCK_TINYINT:
      case DUCK_SMALLINT:
      case DUCK_INTEGER:
      case DUCK_BIGINT:
      case DUCK_UTINYINT:
      case DUCK_USMALLINT:
      case DUCK_UINTEGER:
        c->kind = C_INT;
        c->i = duck.value_int64(&r, (idx_t)col, (idx_t)row);
        break;
      case DUCK_UBIGINT: {
        uint64_t u = duck.value_uint64(&r, (idx_t)col, (idx_t)row);
        if (u <= (uint64_t)INT64_MAX) {
          c->kind = C_INT;
          c->i = (int64_t)u;
        } else {
          c->kind = C_FLOAT;
          c->f = (double)u;
        }
        break;
      }
      case DUCK_HUGEINT: {
        duckdb_hugeint h = duck.value_hugeint(&r, (idx_t)col, (idx_t)row);
        if ((h.upper == 0 && h.lower <= (uint64_t)INT64_MAX) ||
            (h.upper == -1 && h.lower > (uint64_t)INT64_MAX)) {
          c->kind = C_INT;
          c->i = (int64_t)h.lower;
        } else {
          c->kind = C_FLOAT;
          c->f = duck.value_double(&r, (idx_t)col, (idx_t)row);
        }
        break;
      }
      case DUCK_FLOAT:
      case DUCK_DOUBLE:
      case DUCK_DECIMAL:
        c->kind = C_FLOAT;
        c->f = duck.value_double(&r, (idx_t)col, (idx_t)row);
        break;
      case DUCK_DATE:
        c->kind = C_DATE;
        c->i = duck.value_date(&r, (idx_t)col, (idx_t)row).days;
        break;
      case DUCK_TIMESTAMP:
        c->kind = C_TS;
        c->i = duck.value_timestamp(&r, (idx_t)col, (idx_t)row).micros;
        break;
      default: { /* VARCHAR, and anything else as its text */
        char *s = duck.value_varchar(&r, (idx_t)col, (idx_t)row);
        set_str(c, s ? s : "", s ? strlen(s) : 0);
        duck.free(s);
      }
      }
    }
  }
  duck.destroy_result(&r);
  return true;
}

/* Runs sql in tessera: true with the result, or false with the status and message. */
static bool tsr_run(tsr_sql_session *session, const char *sql, rows *out, tsr_status *status,
                    sb *err) {
  tsr_frame *f = NULL;
  tsr_frame_result *res = NULL;
  tsr_status st = tsr_sql_run(session, sql, &f);
  if (st == TSR_OK && f == NULL) {
    sb_put(err, "(no result frame)");
    *status = TSR_EINVAL;
    return false;
  }
  if (st == TSR_OK)
    st = tsr_frame_compute(f, NULL, &res);
  tsr_frame_destroy(&f);
  *status = st;
  if (st != TSR_OK) {
    sb_printf(err, "%s: ", tsr_status_name(st));
    sb_put(err, tsr_last_error());
    return false;
  }
  int ncols = tsr_frame_result_ncols(res);
  int64_t nrows = tsr_frame_result_nrows(res);
  rows_alloc(out, ncols, nrows);
  size_t vbytes = (size_t)(nrows + 7) / 8 + 1;
  uint8_t *valid = malloc(vbytes);
  void *vals = malloc((size_t)nrows * 8 + 8);
  assert_non_null(valid);
  assert_non_null(vals);
  for (int col = 0; col < ncols; col++) {
    tsr_type type = tsr_frame_result_col_type(res, col);
    if (type.id == TSR_COL_STRING || type.id == TSR_COL_DICT) {
      for (int64_t row = 0; row < nrows; row++) {
        const char *text = NULL;
        size_t len = 0;
        bool is_null = false;
        assert_ok(tsr_frame_result_string(res, col, row, &text, &len, &is_null));
        if (!is_null)
          set_str(&out->c[row * ncols + col], text, len);
      }
      continue;
    }
    size_t w = tsr_type_width(type);
    assert_ok(tsr_frame_result_values(res, col, vals, (size_t)nrows * w, valid));
    for (int64_t row = 0; row < nrows; row++) {
      cell *c = &out->c[row * ncols + col];
      if (!(valid[row / 8] >> (row % 8) & 1))
        continue;
      const char *v = (const char *)vals + row * (int64_t)w;
      c->kind = C_INT;
      switch (type.id) {
      case TSR_COL_BOOL:
        c->kind = C_BOOL;
        c->i = *(const uint8_t *)v != 0;
        break;
      case TSR_COL_INT8:
        c->i = *(const int8_t *)v;
        break;
      case TSR_COL_INT16:
        c->i = *(const int16_t *)v;
        break;
      case TSR_COL_INT32:
        c->i = *(const int32_t *)v;
        break;
      case TSR_COL_INT64:
        c->i = *(const int64_t *)v;
        break;
      case TSR_COL_UINT8:
        c->i = *(const uint8_t *)v;
        break;
      case TSR_COL_UINT16:
        c->i = *(const uint16_t *)v;
        break;
      case TSR_COL_UINT32:
        c->i = *(const uint32_t *)v;
        break;
      case TSR_COL_UINT64: {
        uint64_t u = *(const uint64_t *)v;
        if (u <= (uint64_t)INT64_MAX)
          c->i = (int64_t)u;
        else {
          c->kind = C_FLOAT;
          c->f = (double)u;
        }
        break;
      }
      case TSR_COL_FLOAT32:
        c->kind = C_FLOAT;
        c->f = *(const float *)v;
        break;
      case TSR_COL_FLOAT64:
        c->kind = C_FLOAT;
        c->f = *(const double *)v;
        break;
      case TSR_COL_DATE:
        c->kind = C_DATE;
        c->i = *(const int32_t *)v;
        break;
      case TSR_COL_TIMESTAMP: {
        static const int64_t per_us[] = {1000000, 1000, 1, 0};
        int64_t x = *(const int64_t *)v;
        c->kind = C_TS;
        c->i = type.unit == TSR_TIME_NS ? x / 1000 : x * per_us[type.unit];
        break;
      }
      default:
        c->kind = C_NULL;
        break;
      }
    }
  }
  free(valid);
  free(vals);
  tsr_frame_result_destroy(&res);
  return true;
}

/* ---- comparing results ---------------------------------------------------------------------- */

static int kind_rank(cell_kind k) {
  return k == C_FLOAT ? C_INT : (int)k; /* numbers compare with numbers */
}

static double num(const cell *c) { return c->kind == C_INT ? (double)c->i : c->f; }

/* A total order on cells, for sorting rows before a multiset comparison. */
static int cell_cmp(const cell *a, const cell *b) {
  int ra = kind_rank(a->kind), rb = kind_rank(b->kind);
  if (ra != rb)
    return ra < rb ? -1 : 1;
  switch (a->kind) {
  case C_NULL:
    return 0;
  case C_STR: {
    size_t n = a->n < b->n ? a->n : b->n;
    int c = memcmp(a->s, b->s, n);
    return c ? c : (a->n > b->n) - (a->n < b->n);
  }
  case C_INT:
  case C_FLOAT:
    if (a->kind == C_INT && b->kind == C_INT)
      return (a->i > b->i) - (a->i < b->i);
    else {
      double x = num(a), y = num(b);
      if (isnan(x) || isnan(y))
        return isnan(x) - isnan(y);
      return (x > y) - (x < y);
    }
  default:
    return (a->i > b->i) - (a->i < b->i);
  }
}

/* Equality as the suite defines it: numbers by value, floats within 1e-9
 * relative (or 1e-12 absolute, for results that should be 0), NaN = NaN. */
static bool cell_eq(const cell *a, const cell *b) {
  if (kind_rank(a->kind) != kind_rank(b->kind))
    return false;
  switch (a->kind) {
  case C_NULL:
    return true;
  case C_STR:
    return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
  case C_INT:
  case C_FLOAT: {
    if (a->kind == C_INT && b->kind == C_INT)
      return a->i == b->i;
    double x = num(a), y = num(b);
    if (isnan(x) || isnan(y))
      return isnan(x) && isnan(y);
    if (x == y)
      return true;
    double d = fabs(x - y);
    return d <= 1e-9 * fmax(fabs(x), fabs(y)) || d <= 1e-12;
  }
  default:
    return a->i == b->i;
  }
}

static const rows *sort_rows_of;
static const bool *sort_floaty; /* DuckDB's column types, for both sides */

/* Sorting rows: non-float columns first (float results may differ in their
 * last bits, which must not reorder rows that agree elsewhere). */
static int row_cmp(const void *pa, const void *pb) {
  const rows *r = sort_rows_of;
  const cell *a = &r->c[*(const int64_t *)pa * r->ncols];
  const cell *b = &r->c[*(const int64_t *)pb * r->ncols];
  for (int pass = 0; pass < 2; pass++)
    for (int c = 0; c < r->ncols; c++)
      if (sort_floaty[c] == (pass == 1)) {
        int x = cell_cmp(&a[c], &b[c]);
        if (x)
          return x;
      }
  return 0;
}

static int64_t *sorted_order(const rows *r, const bool *floaty) {
  int64_t *idx = malloc((size_t)r->nrows * sizeof *idx + 8);
  assert_non_null(idx);
  for (int64_t k = 0; k < r->nrows; k++)
    idx[k] = k;
  sort_rows_of = r;
  sort_floaty = floaty;
  qsort(idx, (size_t)r->nrows, sizeof *idx, row_cmp);
  return idx;
}

static bool row_eq(const rows *a, int64_t ra, const rows *b, int64_t rb) {
  for (int c = 0; c < a->ncols; c++)
    if (!cell_eq(&a->c[ra * a->ncols + c], &b->c[rb * b->ncols + c]))
      return false;
  return true;
}

static void put_cell(sb *out, const cell *c) {
  switch (c->kind) {
  case C_NULL:
    sb_put(out, "NULL");
    break;
  case C_BOOL:
    sb_put(out, c->i ? "true" : "false");
    break;
  case C_INT:
    sb_printf(out, "%lld", (long long)c->i);
    break;
  case C_FLOAT:
    sb_printf(out, "%.17g", c->f);
    break;
  case C_DATE:
    sb_put(out, "DATE ");
    put_date(out, c->i);
    break;
  case C_TS:
    sb_printf(out, "TIMESTAMP(%lld us)", (long long)c->i);
    break;
  case C_STR:
    sb_put(out, "'");
    for (size_t k = 0; k < c->n; k++) {
      if (c->s[k] == '\n')
        sb_put(out, "\\n");
      else if (c->s[k] == '\t')
        sb_put(out, "\\t");
      else
        sb_putn(out, &c->s[k], 1);
    }
    sb_put(out, "'");
    break;
  }
}

static void put_row(sb *out, const rows *r, int64_t row) {
  sb_put(out, "(");
  for (int c = 0; c < r->ncols; c++) {
    if (c)
      sb_put(out, ", ");
    put_cell(out, &r->c[row * r->ncols + c]);
  }
  sb_put(out, ")");
}

/* Compares DuckDB's rows d with tessera's t; on a difference, *why says
 * where. */
static bool compare(rows *d, rows *t, bool ordered, sb *why) {
  if (d->ncols != t->ncols) {
    sb_printf(why, "DuckDB has %d columns, tessera %d", d->ncols, t->ncols);
    return false;
  }
  if (ordered) {
    for (int64_t k = 0; k < d->nrows && k < t->nrows; k++)
      if (!row_eq(d, k, t, k)) {
        sb_printf(why, "row %lld (in order): DuckDB ", (long long)k);
        put_row(why, d, k);
        sb_put(why, "\n    tessera ");
        put_row(why, t, k);
        return false;
      }
    if (d->nrows != t->nrows) {
      sb_printf(why, "DuckDB has %lld rows, tessera %lld (the first ones agree)",
                (long long)d->nrows, (long long)t->nrows);
      return false;
    }
    return true;
  }
  if (d->nrows != t->nrows) {
    sb_printf(why, "DuckDB has %lld rows, tessera %lld", (long long)d->nrows, (long long)t->nrows);
    if (d->nrows > 0) {
      sb_put(why, "; DuckDB's first: ");
      put_row(why, d, 0);
    }
    if (t->nrows > 0) {
      sb_put(why, "; tessera's first: ");
      put_row(why, t, 0);
    }
    return false;
  }
  int64_t *di = sorted_order(d, d->floaty), *ti = sorted_order(t, d->floaty);
  int64_t bad = -1;
  for (int64_t k = 0; k < d->nrows && bad < 0; k++)
    if (!row_eq(d, di[k], t, ti[k]))
      bad = k;
  if (bad >= 0 && d->nrows <= 5000) {
    /* floats within the tolerance may still sort apart: match greedily */
    bool *used = calloc((size_t)t->nrows + 1, 1);
    int64_t unmatched = -1;
    for (int64_t k = 0; k < d->nrows && unmatched < 0; k++) {
      int64_t m = 0;
      while (m < t->nrows && (used[m] || !row_eq(d, di[k], t, m)))
        m++;
      if (m == t->nrows)
        unmatched = k;
      else
        used[m] = true;
    }
    free(used);
    if (unmatched < 0)
      bad = -1;
    else
      bad = unmatched;
  }
  if (bad >= 0) {
    sb_put(why, "as multisets, DuckDB's row ");
    put_row(why, d, di[bad]);
    sb_put(why, " is not in tessera's result; tessera's row at that sorted position: ");
    put_row(why, t, ti[bad]);
  }
  free(di);
  free(ti);
  return bad < 0;
}

/* ---- query templates ------------------------------------------------------------------------ */

static bool has_col(const tablespec *t, const char *name) {
  for (int c = 0; c < t->ncols; c++)
    if (strcmp(t->cols[c].name, name) == 0)
      return true;
  return false;
}

/* A random column of t whose kind is in the mask (NULL if none). */
static const colspec *pick(const tablespec *t, unsigned mask) {
  int n = 0;
  for (int c = 0; c < t->ncols; c++)
    n += (mask >> t->cols[c].kind) & 1;
  if (n == 0)
    return NULL;
  int x = rnd_int(0, n - 1);
  for (int c = 0; c < t->ncols; c++)
    if ((mask >> t->cols[c].kind) & 1 && x-- == 0)
      return &t->cols[c];
  return NULL;
}

static void colref(sb *q, const char *qual, const colspec *c) {
  if (qual)
    sb_printf(q, "%s.%s", qual, c->name);
  else
    sb_put(q, c->name);
}

static void str_lit(sb *q, const char *s) {
  sb_put(q, "'");
  for (const char *c = s; *c; c++)
    if (*c == '\'')
      sb_put(q, "''");
    else
      sb_putn(q, c, 1);
  sb_put(q, "'");
}

/* A float literal that binary floating point holds exactly (decimal
 * literals are DOUBLE in tessera, DECIMAL in DuckDB: a documented deviation
 * that exact values keep out of the comparison). */
static void float_lit(sb *q, int lo, int hi) {
  sb_printf(q, "%.3f", (double)rnd_int(lo * 8, hi * 8) / 8.0);
}

/* The same as a DOUBLE on both sides (1.125e0), for arithmetic: DuckDB's
 * DECIMAL arithmetic rounds to the literal's scale where tessera's double
 * does not (the deviation above). */
static void double_lit(sb *q, int lo, int hi) {
  sb_printf(q, "%.3fe0", (double)rnd_int(lo * 8, hi * 8) / 8.0);
}

/* A literal fit to compare with column c. */
static void lit_for(sb *q, const colspec *c) {
  switch (c->kind) {
  case K_INT:
    if (strcmp(c->name, "j") == 0)
      sb_printf(q, "%d", rnd_int(-100000, 100000));
    else if (strcmp(c->name, "id") == 0)
      sb_printf(q, "%d", rnd_int(0, 2000));
    else if (strcmp(c->name, "k") == 0)
      sb_printf(q, "%d", rnd_int(0, 60));
    else
      sb_printf(q, "%d", rnd_int(-55, 55));
    break;
  case K_FLOAT:
    float_lit(q, strcmp(c->name, "g") == 0 ? 0 : -1000, 1000);
    break;
  case K_STR: {
    sb s = {0};
    random_string(&s);
    str_lit(q, s.p ? s.p : "");
    free(s.p);
    break;
  }
  case K_BOOL:
    sb_put(q, coin(0.5) ? "true" : "false");
    break;
  case K_DATE: /* DATE 'x', or a string literal that DuckDB casts to a date */
    sb_put(q, coin(0.8) ? "DATE '" : "'");
    put_date(q, random_days());
    sb_put(q, "'");
    break;
  }
}

static const char *cmp_op(void) {
  static const char *const ops[] = {"=", "<>", "<", "<=", ">", ">=", "!="};
  return ops[rnd_int(0, 6)];
}

/* A numeric expression over t's columns: + - * / % // and unary minus;
 * true when its type is an integer.  // gets integer operands only: on
 * doubles DuckDB's // is plain division (the float_intdiv feature). */
static bool no_division; /* set: + - * only (see num_arg) */

static bool num_expr(sb *q, const tablespec *t, const char *qual, int depth) {
  if (depth == 0 || coin(0.3)) {
    if (coin(0.75)) {
      const colspec *c = pick(t, NUMERIC);
      colref(q, qual, c);
      return c->kind == K_INT;
    }
    if (coin(0.6)) {
      sb_printf(q, "%d", rnd_int(-9, 9));
      return true;
    }
    double_lit(q, -10, 10);
    return false;
  }
  int op = rnd_int(0, 6);
  if (no_division && op >= 3 && op <= 5)
    op -= 3;
  if (op == 6) {
    sb_put(q, "(-(");
    bool is_int = num_expr(q, t, qual, depth - 1);
    sb_put(q, "))");
    return is_int;
  }
  static const char *const ops[] = {"+", "-", "*", "/", "%", "//"};
  sb a = {0}, b = {0};
  bool ia = num_expr(&a, t, qual, depth - 1), ib = num_expr(&b, t, qual, depth - 1);
  if (op == 5 && !(ia && ib))
    op = 3;
  sb_printf(q, "(%s %s %s)", a.p, ops[op], b.p);
  free(a.p);
  free(b.p);
  return ia && ib && op != 3;
}

/* Byte offsets of the UTF-8 characters of s (n characters; offs[n] = length). */
static int utf8_chars(const char *s, int *offs, int max) {
  int n = 0;
  for (int b = 0; s[b] && n < max; b++)
    if (((unsigned char)s[b] & 0xC0) != 0x80)
      offs[n++] = b;
  offs[n] = (int)strlen(s);
  return n;
}

/* A LIKE pattern matching some pool strings: prefix%, %suffix, %middle%, _ for a character. */
static void like_pattern(sb *q) {
  const char *s = pool[rnd_int(0, NPOOL - 1)];
  int offs[64];
  int n = utf8_chars(s, offs, 62);
  sb p = {0};
  sb_put(&p, "");
  int a = n ? rnd_int(0, n) : 0, b = n ? rnd_int(a, n) : 0;
  switch (rnd_int(0, 4)) {
  case 0: /* prefix% */
    sb_putn(&p, s, (size_t)offs[b]);
    sb_put(&p, "%");
    break;
  case 1: /* %suffix */
    sb_put(&p, "%");
    sb_put(&p, s + offs[a]);
    break;
  case 2: /* %middle% */
    sb_put(&p, "%");
    sb_putn(&p, s + offs[a], (size_t)(offs[b] - offs[a]));
    sb_put(&p, "%");
    break;
  case 3: /* one character replaced by _ */
    if (n == 0) {
      sb_put(&p, "_");
      break;
    }
    a = rnd_int(0, n - 1);
    sb_putn(&p, s, (size_t)offs[a]);
    sb_put(&p, "_");
    sb_put(&p, s + offs[a + 1]);
    break;
  default: /* exact, or _% */
    sb_put(&p, coin(0.5) ? s : "_%");
  }
  str_lit(q, p.p);
  free(p.p);
}

/* One predicate atom over t. */
static void atom(sb *q, const tablespec *t, const char *qual) {
  const colspec *c = pick(t, ANY);
  switch (rnd_int(0, 7)) {
  case 0: /* column op literal */
    if (c->kind == K_BOOL && coin(0.5)) {
      sb_put(q, coin(0.5) ? "" : "NOT ");
      colref(q, qual, c);
      return;
    }
    colref(q, qual, c);
    sb_printf(q, " %s ", cmp_op());
    lit_for(q, c);
    return;
  case 1: { /* column op column */
    const colspec *o = pick(t, c->kind == K_FLOAT || c->kind == K_INT ? NUMERIC : M(c->kind));
    colref(q, qual, c);
    sb_printf(q, " %s ", cmp_op());
    colref(q, qual, o);
    return;
  }
  case 2: /* [NOT] BETWEEN */
    if (c->kind == K_BOOL)
      c = pick(t, NUMERIC);
    colref(q, qual, c);
    sb_put(q, coin(0.25) ? " NOT BETWEEN " : " BETWEEN ");
    lit_for(q, c);
    sb_put(q, " AND ");
    lit_for(q, c);
    return;
  case 3: { /* [NOT] IN (list) */
    colref(q, qual, c);
    sb_put(q, coin(0.25) ? " NOT IN (" : " IN (");
    int n = rnd_int(1, 5);
    for (int k = 0; k < n; k++) {
      if (k)
        sb_put(q, ", ");
      lit_for(q, c);
    }
    if (coin(0.15))
      sb_put(q, ", NULL");
    sb_put(q, ")");
    return;
  }
  case 4: /* IS [NOT] NULL */
    colref(q, qual, c);
    sb_put(q, coin(0.5) ? " IS NULL" : " IS NOT NULL");
    return;
  case 5:
  case 6: { /* [NOT] LIKE */
    const colspec *s = pick(t, M(K_STR));
    colref(q, qual, s);
    sb_put(q, coin(0.2) ? " NOT LIKE " : " LIKE ");
    like_pattern(q);
    return;
  }
  default: /* expression op literal (no division: NaN compares as IEEE 754 here, above every
            * number in DuckDB, a documented deviation) */
    no_division = true;
    num_expr(q, t, qual, 1);
    no_division = false;
    sb_printf(q, " %s ", cmp_op());
    lit_for(q, pick(t, NUMERIC));
    return;
  }
}

static void pred(sb *q, const tablespec *t, const char *qual, int depth) {
  if (depth == 0 || coin(0.35)) {
    atom(q, t, qual);
    return;
  }
  int op = rnd_int(0, 4);
  if (op == 4) {
    sb_put(q, "NOT (");
    pred(q, t, qual, depth - 1);
    sb_put(q, ")");
    return;
  }
  sb_put(q, "(");
  pred(q, t, qual, depth - 1);
  sb_put(q, op < 2 ? " AND " : " OR ");
  pred(q, t, qual, depth - 1);
  sb_put(q, ")");
}

static void maybe_where(sb *q, const tablespec *t, const char *qual, double p) {
  if (coin(p)) {
    sb_put(q, " WHERE ");
    pred(q, t, qual, rnd_int(0, 2));
  }
}

static const tablespec *t1_or_t2(void) { return &tables[rnd_int(0, 1)]; }

/* A numeric argument: a column, sometimes an expression without division
 * (DuckDB's var_pop, stddev and corr fail with "out of range" on infinite
 * or NaN inputs, which division by zero makes). */
static void num_arg(sb *q, const tablespec *t, const char *qual) {
  if (coin(0.2)) {
    no_division = true;
    num_expr(q, t, qual, 1);
    no_division = false;
  } else
    colref(q, qual, pick(t, NUMERIC));
}

/* One aggregate call over t. */
static void aggregate(sb *q, const tablespec *t, const char *qual) {
  static const char *const numeric1[] = {"sum", "avg", "median", "stddev", "var_samp", "var_pop"};
  int which = rnd_int(0, 12);
  switch (which) {
  case 0:
    sb_put(q, "count(*)");
    return;
  case 1:
    sb_put(q, "count(");
    colref(q, qual, pick(t, ANY));
    sb_put(q, ")");
    return;
  case 2:
    sb_put(q, "count(DISTINCT ");
    colref(q, qual, pick(t, ANY));
    sb_put(q, ")");
    return;
  case 3:
  case 4:
    sb_put(q, which == 3 ? "min(" : "max(");
    colref(q, qual, pick(t, ANY));
    sb_put(q, ")");
    return;
  case 5: {
    static const char *const qs[] = {"0.0", "0.1", "0.25", "0.5", "0.75", "0.9", "1.0"};
    sb_put(q, "quantile_cont(");
    num_arg(q, t, qual);
    sb_printf(q, ", %s)", qs[rnd_int(0, 6)]);
    return;
  }
  case 6:
    sb_put(q, coin(0.5) ? "corr(" : "covar_samp(");
    num_arg(q, t, qual);
    sb_put(q, ", ");
    num_arg(q, t, qual);
    sb_put(q, ")");
    return;
  default:
    sb_printf(q, "%s(", numeric1[which - 7]);
    num_arg(q, t, qual);
    sb_put(q, ")");
  }
}

/* ---- the features -----------------------------------------------------------------------------
 */

/* Each generator writes one query into q and says whether its ORDER BY
 * fixes the order of the rows. */

static bool gen_projection(sb *q) {
  const tablespec *t = t1_or_t2();
  sb_put(q, "SELECT id");
  int n = rnd_int(1, 3);
  for (int k = 0; k < n; k++) {
    sb_put(q, ", ");
    num_expr(q, t, NULL, rnd_int(1, 3));
    if (coin(0.3))
      sb_printf(q, " AS x%d", k);
  }
  if (coin(0.3)) {
    sb_put(q, ", ");
    colref(q, NULL, pick(t, ANY));
  }
  sb_printf(q, " FROM %s", t->name);
  maybe_where(q, t, NULL, 0.3);
  return false;
}

static bool gen_where(sb *q) {
  const tablespec *t = t1_or_t2();
  /* identifiers are case-insensitive unless quoted */
  static const char *const ids[] = {"id", "ID", "Id", "\"id\""};
  sb_printf(q, "SELECT %s", ids[rnd_int(0, 3)]);
  int n = rnd_int(0, 2);
  for (int k = 0; k < n; k++) {
    sb_put(q, ", ");
    colref(q, NULL, pick(t, ANY));
  }
  sb_printf(q, " FROM %s WHERE ", coin(0.2) ? (t == &tables[0] ? "T1" : "T2") : t->name);
  pred(q, t, NULL, rnd_int(0, 3));
  return false;
}

static void order_key(sb *q, const char *name) {
  static const char *const dir[] = {"", " ASC", " DESC"};
  static const char *const nulls[] = {"", " NULLS FIRST", " NULLS LAST"};
  sb_printf(q, "%s%s%s", name, dir[rnd_int(0, 2)], nulls[rnd_int(0, 2)]);
}

static bool gen_groupby(sb *q) {
  const tablespec *t = t1_or_t2();
  const char *keys[3];
  int nkeys = rnd_int(0, 2);
  for (int k = 0; k < nkeys; k++) {
    static const char *const cand[] = {"k", "i", "s", "b", "d", "i % 5", "k // 4"};
    do
      keys[k] = cand[rnd_int(0, 6)];
    while (!has_col(t, keys[k][0] == 'i'   ? "i"
                       : keys[k][0] == 'k' ? "k"
                                           : keys[k]) ||
           (k == 1 && strcmp(keys[0], keys[1]) == 0));
  }
  sb_put(q, "SELECT ");
  for (int k = 0; k < nkeys; k++)
    sb_printf(q, "%s, ", keys[k]);
  int naggs = rnd_int(1, 4);
  for (int a = 0; a < naggs; a++) {
    if (a)
      sb_put(q, ", ");
    aggregate(q, t, NULL);
  }
  sb_printf(q, " FROM %s", t->name);
  if (coin(0.05))
    sb_put(q, " WHERE id < 0"); /* no rows: one row of empty aggregates, or none */
  else
    maybe_where(q, t, NULL, 0.3);
  if (nkeys) {
    sb_put(q, " GROUP BY ");
    for (int k = 0; k < nkeys; k++)
      sb_printf(q, "%s%s", k ? ", " : "", keys[k]);
    if (coin(0.4)) {
      sb_put(q, " HAVING ");
      if (coin(0.5))
        sb_printf(q, "count(*) %s %d", cmp_op(), rnd_int(0, 60));
      else {
        static const char *const fns[] = {"sum", "avg", "min", "max"};
        const colspec *c = pick(t, NUMERIC);
        sb_printf(q, "%s(%s) %s ", fns[rnd_int(0, 3)], c->name, cmp_op());
        lit_for(q, c);
      }
      if (coin(0.3)) {
        sb_put(q, coin(0.5) ? " AND " : " OR ");
        sb_printf(q, "count(*) > %d", rnd_int(0, 40));
      }
    }
    if (coin(0.3)) { /* the group keys are distinct: a total order */
      sb_put(q, " ORDER BY ");
      if (coin(0.3))
        sb_put(q, coin(0.5) ? "count(*) DESC, " : "count(*), ");
      for (int k = 0; k < nkeys; k++) {
        if (k)
          sb_put(q, ", ");
        order_key(q, keys[k]);
      }
      if (coin(0.5))
        sb_printf(q, " LIMIT %d", rnd_int(1, 20));
      return true;
    }
  }
  return false;
}

static bool gen_orderby(sb *q) {
  const tablespec *t = t1_or_t2();
  int n = rnd_int(1, 4);
  const char *sel[5];
  for (int k = 0; k < n; k++) {
    bool again;
    do {
      sel[k] = pick(t, ANY)->name;
      again = false;
      for (int m = 0; m < k; m++)
        again |= strcmp(sel[m], sel[k]) == 0;
    } while (again);
  }
  sb_put(q, "SELECT ");
  for (int k = 0; k < n; k++)
    sb_printf(q, "%s%s", k ? ", " : "", sel[k]);
  if (coin(0.25)) { /* an alias as a sort key */
    sel[n++] = "x";
    sb_put(q, ", (i * 3 - k) AS x");
  }
  sb_printf(q, " FROM %s", t->name);
  maybe_where(q, t, NULL, 0.3);
  sb_put(q, " ORDER BY ");
  if (coin(0.5)) {
    /* a few keys, then id: total */
    int nk = rnd_int(1, 2);
    for (int k = 0; k < nk; k++) {
      order_key(q, coin(0.3) ? sel[rnd_int(0, n - 1)] : pick(t, ANY)->name);
      sb_put(q, ", ");
    }
    order_key(q, "id");
  } else {
    /* every selected column, in some order: total up to equal rows */
    int perm[5] = {0, 1, 2, 3, 4};
    for (int k = n - 1; k > 0; k--) {
      int x = rnd_int(0, k), tmp = perm[k];
      perm[k] = perm[x];
      perm[x] = tmp;
    }
    for (int k = 0; k < n; k++) {
      if (k)
        sb_put(q, ", ");
      order_key(q, sel[perm[k]]);
    }
  }
  if (coin(0.8))
    sb_printf(q, " LIMIT %d", coin(0.1) ? rnd_int(0, 3000) : rnd_int(0, 40));
  if (coin(0.35))
    sb_printf(q, " OFFSET %d", rnd_int(0, 80));
  return true;
}

/* The select list of a join of a (t1 or t2) and b: a few qualified columns. */
static void join_select(sb *q, const tablespec *ta, const tablespec *tb, bool right_too) {
  if (coin(0.1)) {
    sb_put(q, right_too ? "SELECT a.*, b.id" : "SELECT a.*");
    return;
  }
  sb_put(q, "SELECT a.id");
  if (right_too)
    sb_put(q, ", b.id");
  int n = rnd_int(1, 3);
  for (int k = 0; k < n; k++) {
    bool right = right_too && coin(0.5);
    sb_put(q, ", ");
    colref(q, right ? "b" : "a", pick(right ? tb : ta, ANY));
  }
}

static bool gen_join(sb *q) {
  static const char *const kinds[] = {"JOIN",           "INNER JOIN", "LEFT JOIN",
                                      "RIGHT JOIN",     "FULL JOIN",  "FULL OUTER JOIN",
                                      "LEFT OUTER JOIN"};
  static const char *const keys[] = {"k", "i", "s", "d"};
  const tablespec *t1 = &tables[0], *t2 = &tables[1], *t3 = &tables[2];
  int shape = rnd_int(0, 6);
  if (shape <= 1) { /* ON, one or two keys */
    join_select(q, t1, t2, true);
    sb_printf(q, " FROM t1 a %s t2 b ON ", kinds[rnd_int(0, 6)]);
    int first = coin(0.6) ? 0 : rnd_int(0, 3);
    if (first == 0 && coin(0.2)) /* an expression as a key */
      sb_put(q, "a.k + 1 = b.k");
    else
      sb_printf(q, "a.%s = b.%s", keys[first], keys[first]);
    if (shape == 1) {
      int second = (first + rnd_int(1, 3)) % 4;
      sb_printf(q, " AND b.%s = a.%s", keys[second], keys[second]);
    }
    if (coin(0.4)) {
      sb_put(q, " WHERE ");
      bool right = coin(0.5);
      pred(q, right ? t2 : t1, right ? "b" : "a", 1);
    }
    if (coin(0.25)) { /* (a.id, b.id) is unique in any join of the two */
      sb_put(q, " ORDER BY ");
      order_key(q, "a.id");
      sb_put(q, ", ");
      order_key(q, "b.id");
      sb_printf(q, " LIMIT %d", rnd_int(0, 50));
      return true;
    }
  } else if (shape == 2) { /* USING */
    int first = coin(0.6) ? 0 : rnd_int(0, 3);
    int second = coin(0.4) ? (first + rnd_int(1, 3)) % 4 : -1;
    if (coin(0.3))
      sb_put(q, "SELECT *");
    else {
      sb_printf(q, "SELECT %s, a.id, b.id, b.f", keys[first]);
      if (second >= 0)
        sb_printf(q, ", %s", keys[second]);
    }
    sb_printf(q, " FROM t1 a %s t2 b USING (%s", kinds[rnd_int(0, 6)], keys[first]);
    if (second >= 0)
      sb_printf(q, ", %s", keys[second]);
    sb_put(q, ")");
  } else if (shape == 3) { /* SEMI / ANTI */
    bool left_t1 = coin(0.5);
    const tablespec *ta = left_t1 ? t1 : t2;
    join_select(q, ta, NULL, false);
    sb_printf(q, " FROM %s a %s JOIN %s b ON ", ta->name, coin(0.5) ? "SEMI" : "ANTI",
              left_t1 ? "t2" : "t1");
    int first = coin(0.6) ? 0 : rnd_int(0, 3);
    sb_printf(q, "a.%s = b.%s", keys[first], keys[first]);
    if (coin(0.3)) {
      int second = (first + rnd_int(1, 3)) % 4;
      sb_printf(q, " AND a.%s = b.%s", keys[second], keys[second]);
    }
    maybe_where(q, ta, "a", 0.3);
  } else if (shape == 4) { /* CROSS on small tables */
    const tablespec *tb = coin(0.5) ? t3 : t2;
    join_select(q, t3, tb, true);
    sb_printf(q, " FROM t3 a CROSS JOIN %s b", tb->name);
    int w = rnd_int(0, 3);
    if (w == 1)
      sb_put(q, " WHERE a.k = b.k");
    else if (w == 2)
      sb_put(q, " WHERE a.k < b.k AND a.s <> b.s");
    else if (w == 3) {
      sb_put(q, " WHERE ");
      pred(q, t3, "a", 1);
    }
  } else if (shape == 5) { /* three tables */
    sb_put(q, "SELECT a.id, b.id, c.id, c.s, a.f");
    sb_printf(q, " FROM t2 b %s t3 c ON b.k = c.k %s t1 a ON a.id = b.id", kinds[rnd_int(0, 6)],
              kinds[rnd_int(0, 6)]);
    maybe_where(q, t3, "c", 0.4);
  } else { /* four relations, the smallest first (the planner reorders inner chains), t3
              twice; ON, USING or WHERE equalities, and a residual across three of them */
    sb_put(q, coin(0.2) ? "SELECT *" : "SELECT a.id, b.id, c.id, d.id, d.s, a.f, b.i");
    int form = rnd_int(0, 2);
    if (form == 0)
      sb_printf(q,
                " FROM t3 c JOIN t2 b ON b.k = c.k %s t1 a ON a.id = b.id JOIN t3 d ON "
                "d.id = a.k",
                coin(0.7) ? "JOIN" : "LEFT JOIN");
    else if (form == 1)
      sb_put(q, " FROM t3 c JOIN t2 b USING (k) JOIN t1 a ON a.id = b.id JOIN t3 d ON d.id = a.k");
    else
      sb_put(q, " FROM t3 c, t2 b, t1 a, t3 d WHERE b.k = c.k AND a.id = b.id AND d.id = a.k");
    if (coin(0.4)) {
      sb_put(q, form == 2 ? " AND " : " WHERE ");
      sb_put(q, coin(0.5) ? "a.i < c.f + b.i" : "d.f <> c.f");
    }
  }
  return false;
}

static bool gen_distinct(sb *q) {
  const tablespec *t = t1_or_t2();
  static const char *const cand[] = {"k", "i", "s", "b", "d", "f", "i % 7", "k + i"};
  const char *names[3];
  int n = rnd_int(1, 3);
  sb_put(q, "SELECT DISTINCT ");
  int used = 0;
  for (int k = 0; k < n; k++) {
    int c;
    const char *name;
    do {
      c = rnd_int(0, 7);
      name = cand[c];
    } while ((used >> c) & 1 || !has_col(t, c >= 6 ? "i" : name));
    used |= 1 << c;
    sb_printf(q, "%s%s", k ? ", " : "", name);
    names[k] = name;
  }
  sb_printf(q, " FROM %s", t->name);
  maybe_where(q, t, NULL, 0.4);
  if (coin(0.3)) { /* distinct rows, every column: a total order */
    sb_put(q, " ORDER BY ");
    for (int k = 0; k < n; k++) {
      if (k)
        sb_put(q, ", ");
      order_key(q, names[k]);
    }
    if (coin(0.5))
      sb_printf(q, " LIMIT %d", rnd_int(0, 30));
    return true;
  }
  return false;
}

static bool gen_union(sb *q) {
  static const char *const common[] = {"k", "s", "f", "i", "d"};
  bool with_t3 = coin(0.3);
  int n = rnd_int(1, 3), used = 0;
  const char *cols[3];
  for (int k = 0; k < n; k++) {
    int c;
    do
      c = rnd_int(0, with_t3 ? 2 : 4);
    while ((used >> c) & 1);
    used |= 1 << c;
    cols[k] = common[c];
  }
  int parts = rnd_int(2, 3);
  for (int p = 0; p < parts; p++) {
    const tablespec *t = with_t3 ? &tables[rnd_int(0, 2)] : t1_or_t2();
    if (p)
      sb_put(q, coin(0.5) ? " UNION ALL " : " UNION ");
    sb_put(q, "SELECT ");
    for (int k = 0; k < n; k++)
      sb_printf(q, "%s%s", k ? ", " : "", cols[k]);
    sb_printf(q, " FROM %s", t->name);
    maybe_where(q, t, NULL, 0.5);
  }
  if (coin(0.3)) { /* every column: total up to equal rows */
    sb_put(q, " ORDER BY ");
    for (int k = 0; k < n; k++) {
      if (k)
        sb_put(q, ", ");
      order_key(q, cols[k]);
    }
    if (coin(0.5))
      sb_printf(q, " LIMIT %d", rnd_int(0, 30));
    return true;
  }
  return false;
}

static bool gen_with(sb *q) {
  const tablespec *t1 = &tables[0], *t2 = &tables[1];
  switch (rnd_int(0, 4)) {
  case 0:
    sb_put(q, "WITH c AS (SELECT k, i, f, s FROM t1");
    maybe_where(q, t1, NULL, 0.7);
    sb_put(q, ") SELECT k, count(*), sum(f), max(s) FROM c GROUP BY k");
    if (coin(0.5))
      sb_printf(q, " HAVING count(*) > %d", rnd_int(0, 60));
    break;
  case 1:
    sb_put(q, "SELECT x.k, x.n, x.m FROM (SELECT k, count(*) AS n, max(i) AS m FROM t1");
    maybe_where(q, t1, NULL, 0.5);
    sb_printf(q, " GROUP BY k) x WHERE x.n > %d", rnd_int(0, 60));
    break;
  case 2:
    sb_put(q, "WITH a AS (SELECT k, sum(i) AS si, avg(f) AS af FROM t1");
    maybe_where(q, t1, NULL, 0.5);
    sb_put(q, " GROUP BY k), b AS (SELECT k, count(*) AS n FROM t2");
    maybe_where(q, t2, NULL, 0.5);
    sb_printf(q, " GROUP BY k) SELECT a.k, a.si, a.af, b.n FROM a %s b ON a.k = b.k",
              coin(0.5) ? "JOIN" : "LEFT JOIN");
    break;
  case 3:
    sb_put(q, "SELECT * FROM (SELECT id, ");
    no_division = true; /* x > n below: NaN compares unlike DuckDB's (docs/sql.md) */
    num_expr(q, t1, NULL, 2);
    no_division = false;
    sb_put(q, " AS x, s FROM t1");
    maybe_where(q, t1, NULL, 0.5);
    sb_printf(q, ") sub WHERE x > %d", rnd_int(-100, 100));
    break;
  default:
    sb_put(q, "WITH c AS (SELECT DISTINCT k, s FROM t2");
    maybe_where(q, t2, NULL, 0.5);
    sb_put(q, "), d AS (SELECT * FROM (SELECT k, s FROM c WHERE k IS NOT NULL) z) ");
    sb_put(q, "SELECT d.k, count(*), count(d.s) FROM d GROUP BY d.k");
  }
  return false;
}

static bool gen_window(sb *q) {
  const tablespec *t = t1_or_t2();
  static const char *const parts[] = {"", "k", "s", "d", "b", "i % 3", "k, i"};
  static const char *const okeys[] = {"i", "f", "d", "s", "k"};
  sb_put(q, "SELECT id");
  int nw = rnd_int(1, 2);
  for (int w = 0; w < nw; w++) {
    const char *part;
    do
      part = parts[rnd_int(0, 6)];
    while (*part && !has_col(t, part[0] == 'i' ? "i" : part));
    const char *okey = okeys[rnd_int(0, 4)];
    static const char *const nulls[] = {"", "", " NULLS FIRST", " NULLS LAST"};
    char dir[32];
    snprintf(dir, sizeof dir, "%s%s", coin(0.3) ? " DESC" : "", nulls[rnd_int(0, 3)]);
    int fn = rnd_int(0, 6);
    const colspec *x = pick(t, NUMERIC);
    sb_put(q, ", ");
    switch (fn) {
    case 0:
      sb_put(q, "row_number()");
      break;
    case 1:
      sb_put(q, "rank()");
      break;
    case 2:
      sb_put(q, "dense_rank()");
      break;
    case 3:
    case 4:
      if (coin(0.5)) {
        sb_printf(q, "%s(%s", fn == 3 ? "lag" : "lead", x->name);
        if (coin(0.5)) {
          sb_printf(q, ", %d", rnd_int(1, 3));
          if (coin(0.4)) /* a default of the column's type */
            sb_put(q, x->kind == K_INT ? ", -1" : ", 0.5e0");
        }
      } else {
        sb_printf(q, "%s(%s", fn == 3 ? "lag" : "lead", pick(t, ANY)->name);
        if (coin(0.5))
          sb_printf(q, ", %d", rnd_int(1, 3));
      }
      sb_put(q, ")");
      break;
    default:
      sb_printf(q, "%s(%s)", fn == 5 ? "sum" : "avg", x->name);
    }
    sb_put(q, " OVER (");
    if (*part)
      sb_printf(q, "PARTITION BY %s ", part);
    /* rank and dense_rank are defined on ties; the others get a total order
     * (a running sum without one sums the peers, RANGE's default frame) */
    bool total = !(fn == 1 || fn == 2) && !(fn == 5 && coin(0.25));
    sb_printf(q, "ORDER BY %s%s%s", okey, dir, total ? ", id" : "");
    if (fn == 6)
      sb_printf(q, " ROWS BETWEEN %d PRECEDING AND CURRENT ROW", rnd_int(0, 5));
    sb_put(q, ")");
  }
  if (coin(0.3))
    sb_put(q, ", k, s");
  sb_printf(q, " FROM %s", t->name);
  maybe_where(q, t, NULL, 0.3);
  return false;
}

/* Scripts: CREATE [OR REPLACE] TABLE|VIEW ... AS, then a query over them
 * (both engines run every statement and return the last one's rows). */
static bool gen_ddl(sb *q) {
  const tablespec *t = t1_or_t2();
  switch (rnd_int(0, 2)) {
  case 0:
    sb_printf(q, "CREATE OR REPLACE TABLE ddl_t AS SELECT id, k, i, f, s FROM %s", t->name);
    maybe_where(q, t, NULL, 0.6);
    sb_put(q, "; SELECT k, count(*), sum(i), max(s), min(f) FROM ddl_t GROUP BY k");
    break;
  case 1:
    sb_printf(q, "CREATE OR REPLACE VIEW ddl_v AS SELECT id, k, ");
    no_division = true; /* NaN compares unlike DuckDB's (MISMATCHES: 2), tested elsewhere */
    num_expr(q, t, NULL, 2);
    no_division = false;
    sb_printf(q, " AS x FROM %s", t->name);
    maybe_where(q, t, NULL, 0.5);
    sb_printf(q, "; SELECT * FROM ddl_v WHERE x > %d", rnd_int(-100, 100));
    break;
  default:
    sb_printf(q, "CREATE OR REPLACE TABLE ddl_t AS SELECT k, count(*) AS n FROM %s", t->name);
    maybe_where(q, t, NULL, 0.5);
    sb_put(q, " GROUP BY k; CREATE OR REPLACE VIEW ddl_v AS SELECT ddl_t.k, ddl_t.n, t3.id "
              "FROM ddl_t JOIN t3 ON ddl_t.k = t3.k; SELECT * FROM ddl_v");
    if (coin(0.5))
      sb_printf(q, " WHERE n > %d", rnd_int(0, 60));
  }
  return false;
}

/* // with a double operand: DuckDB 1.5 divides (7.5 // 2 = 3.75, x // 0 is
 * NULL) where tessera floors (3.0, x // 0.0 = inf); kept apart from the
 * other templates so that this one difference does not hide others. */
static bool gen_float_intdiv(sb *q) {
  static const char *const exprs[] = {"f // k",     "g // i",       "f // 2.5e0",
                                      "i // 0.5e0", "(i / 3) // 2", "f // 0"};
  sb_printf(q, "SELECT id, %s FROM t1", exprs[rnd_int(0, 5)]);
  maybe_where(q, &tables[0], NULL, 0.3);
  return false;
}

/* Integers near +-2^62 (t4.w): DuckDB's sums are HUGEINT, tessera's int64
 * fail with TSR_EOVERFLOW (the documented deviation, counted apart when
 * DuckDB's value is outside int64); w + w overflows BIGINT in both. */
static bool gen_overflow(sb *q) {
  static const char *const exprs[] = {
      "SELECT sum(w) FROM t4",
      "SELECT k, sum(w), count(*) FROM t4 GROUP BY k",
      "SELECT sum(w // 1000), avg(w), min(w), max(w) FROM t4",
      "SELECT id, w + w FROM t4",
      "SELECT id, w * 3 FROM t4",
      "SELECT id, -w, w - w, w // 7, w % 1000 FROM t4",
      "SELECT id, sum(w) OVER (ORDER BY id) FROM t4",
      "SELECT k, sum(w // 64) FROM t4 GROUP BY k",
  };
  sb_put(q, exprs[rnd_int(0, 7)]);
  return false;
}

/* ---- later: features the SQL layer does not have yet; each switches on when its probe runs --- */

static bool gen_case(sb *q) {
  const tablespec *t = &tables[0];
  sb_put(q, "SELECT id, CASE WHEN ");
  pred(q, t, NULL, 1);
  sb_put(q, " THEN ");
  num_expr(q, t, NULL, 1);
  if (coin(0.7)) {
    sb_put(q, " ELSE ");
    num_expr(q, t, NULL, 1);
  }
  sb_put(q, " END");
  if (coin(0.5))
    sb_printf(q, ", CASE k WHEN %d THEN 'one' WHEN %d THEN s ELSE 'other' END", rnd_int(0, 40),
              rnd_int(0, 40));
  sb_put(q, " FROM t1");
  return false;
}

static bool gen_cast(sb *q) {
  static const char *const casts[] = {
      "CAST(i AS DOUBLE)",  "CAST(f AS BIGINT)",         "CAST(g AS INTEGER)",
      "CAST(i AS VARCHAR)", "CAST(d AS VARCHAR)",        "CAST(b AS INTEGER)",
      "i::DOUBLE / 3",      "CAST(k AS VARCHAR) || 'x'", "CAST('12' AS BIGINT) + i",
      "CAST(s AS VARCHAR)"};
  sb_put(q, "SELECT id");
  int n = rnd_int(1, 3);
  for (int k = 0; k < n; k++)
    sb_printf(q, ", %s", casts[rnd_int(0, 9)]);
  sb_put(q, " FROM t1");
  maybe_where(q, &tables[0], NULL, 0.3);
  return false;
}

static bool gen_coalesce(sb *q) {
  static const char *const exprs[] = {"coalesce(i, j, 0)",  "coalesce(s, 'none')",
                                      "coalesce(f, g)",     "coalesce(d, DATE '2000-01-01')",
                                      "coalesce(b, false)", "coalesce(NULL, k)"};
  sb_put(q, "SELECT id");
  int n = rnd_int(1, 3);
  for (int k = 0; k < n; k++)
    sb_printf(q, ", %s", exprs[rnd_int(0, 5)]);
  sb_put(q, " FROM t1");
  maybe_where(q, &tables[0], NULL, 0.3);
  return false;
}

static bool gen_concat(sb *q) {
  sb_put(q, "SELECT id, ");
  switch (rnd_int(0, 3)) {
  case 0:
    sb_put(q, "s || 'x'");
    break;
  case 1:
    sb_put(q, "s || s");
    break;
  case 2:
    sb_put(q, "'p:' || s || ':' || s");
    break;
  default:
    sb_put(q, "s || NULL");
  }
  sb_printf(q, " FROM %s", t1_or_t2()->name);
  return false;
}

static bool gen_strings(sb *q) {
  static const char *const fns[] = {"lower(s)",
                                    "upper(s)",
                                    "length(s)",
                                    "substr(s, 2, 3)",
                                    "substr(s, 1, 1)",
                                    "trim(s)",
                                    "replace(s, 'a', 'ZZ')",
                                    "starts_with(s, 'a')",
                                    "contains(s, 'a')",
                                    "length(trim(s))"};
  sb_put(q, "SELECT id");
  int n = rnd_int(1, 3);
  for (int k = 0; k < n; k++)
    sb_printf(q, ", %s", fns[rnd_int(0, 9)]);
  sb_printf(q, " FROM %s", t1_or_t2()->name);
  if (coin(0.3))
    sb_printf(q, " WHERE %s", coin(0.5) ? "length(s) > 3" : "contains(s, 'é')");
  return false;
}

static bool gen_ilike(sb *q) {
  const tablespec *t = t1_or_t2();
  sb p = {0};
  like_pattern(&p);
  /* change the case of the pattern's letters (ASCII and é/É) at random */
  for (size_t k = 0; k < p.n; k++) {
    char c = p.p[k];
    if (c >= 'a' && c <= 'z' && coin(0.5))
      p.p[k] = (char)(c - 32);
    else if (c >= 'A' && c <= 'Z' && coin(0.5))
      p.p[k] = (char)(c + 32);
    else if ((unsigned char)c == 0xC3 && k + 1 < p.n && coin(0.5)) {
      if ((unsigned char)p.p[k + 1] == 0xA9)
        p.p[k + 1] = (char)0x89; /* é -> É */
      else if ((unsigned char)p.p[k + 1] == 0x89)
        p.p[k + 1] = (char)0xA9;
    }
  }
  sb_printf(q, "SELECT id, s FROM %s WHERE s %s %s", t->name, coin(0.2) ? "NOT ILIKE" : "ILIKE",
            p.p);
  free(p.p);
  return false;
}

static bool gen_dates(sb *q) {
  static const char *const fns[] = {"extract(year FROM d)",  "extract(month FROM d)",
                                    "extract(day FROM d)",   "date_trunc('month', d)",
                                    "date_trunc('year', d)", "extract(dow FROM d)"};
  sb_put(q, "SELECT id");
  int n = rnd_int(1, 3);
  for (int k = 0; k < n; k++)
    sb_printf(q, ", %s", fns[rnd_int(0, 5)]);
  sb_printf(q, " FROM %s", t1_or_t2()->name);
  return false;
}

typedef struct feature {
  const char *name;
  bool (*gen)(sb *q);
  const char *probe; /* NULL, or SQL tessera must run before the feature is tested */
  int max_queries;   /* 0, or at most this many (templates without random parts) */
  /* Across ranks: LOCAL, its queries compute chunk by chunk where the
   * chunks are owned (only a fifth of the queries run); MOVES, they move
   * rows between ranks (group-by, join, sort); SENT_ALL, and every rank
   * must have sent bytes in the frame layer's exchanges. */
  enum { LOCAL, MOVES, SENT_ALL } moves;
} feature;

static const feature features[] = {
    {"projection", gen_projection, NULL, 0, LOCAL},
    {"where", gen_where, NULL, 0, LOCAL},
    {"groupby", gen_groupby, NULL, 0, SENT_ALL},
    {"orderby", gen_orderby, NULL, 0, SENT_ALL},
    {"join", gen_join, NULL, 0, SENT_ALL},
    {"distinct", gen_distinct, NULL, 0, SENT_ALL},
    {"union", gen_union, NULL, 0, SENT_ALL},
    /* with: its group-bys read all of t1 by integer keys, grouped in runs of
     * up to 16 chunks (src/frame/groupby.c), so on 3 ranks one rank groups
     * none of its 24 chunks and may send nothing */
    {"with", gen_with, NULL, 0, MOVES},
    {"window", gen_window, NULL, 0, MOVES}, /* input made whole by chunk messages, not exchanges */
    {"ddl", gen_ddl, NULL, 0, SENT_ALL},
    {"float_intdiv", gen_float_intdiv, NULL, 40, LOCAL},
    {"overflow", gen_overflow, NULL, 24, SENT_ALL},
    /* later (issue 16 item 2's expression functions) */
    {"case", gen_case, "SELECT CASE WHEN 1=1 THEN 2 END", 0, LOCAL},
    {"cast", gen_cast, "SELECT CAST(1 AS DOUBLE)", 0, LOCAL},
    {"coalesce", gen_coalesce, "SELECT coalesce(NULL, 1)", 0, LOCAL},
    {"concat", gen_concat, "SELECT 'a' || 'b'", 0, LOCAL},
    {"strings", gen_strings, "SELECT lower('A'), substr('abc', 2, 1), contains('abc', 'b')", 0,
     LOCAL},
    {"dates", gen_dates, "SELECT extract(year FROM DATE '2001-02-03')", 0, LOCAL},
    {"ilike", gen_ilike, "SELECT 'A' ILIKE 'a'", 0, LOCAL},
};
#define NFEATURES ((int)(sizeof features / sizeof *features))

/* What the suite does not run across MPI ranks yet, and why (printed when
 * skipped): in `feature` (NULL: in every feature), all its queries
 * (`containing` NULL) or those whose SQL contains `containing`.  Remove an
 * entry once tessera runs it on several ranks; the list ends at {0}. */
typedef struct mpi_skip {
  const char *feature, *containing, *reason;
} mpi_skip;
static const mpi_skip mpi_skipped[] = {
    {0}, /* nothing: every feature runs on several ranks */
};

/* The entry of mpi_skipped that skips `sql` (NULL: all of it) of feature f
 * when running on several ranks, or NULL. */
static const mpi_skip *skipped_across_ranks(const feature *f, const char *sql) {
  if (my_nranks < 2)
    return NULL;
  for (const mpi_skip *k = mpi_skipped; k->reason; k++)
    if ((k->feature == NULL || strcmp(k->feature, f->name) == 0) &&
        (k->containing == NULL ? sql == NULL : sql && strstr(sql, k->containing)))
      return k;
  return NULL;
}

/* Under TSR_SQLDIFF_MPI, the verdicts agreed over the ranks (in place): the
 * sum of each count, the least of each byte count.  Nothing on one rank. */
static void agree_counts(long long *sum, int nsum, unsigned long long *least, int nleast) {
#ifdef TSR_SQLDIFF_MPI
  if (nsum > 0)
    assert_int_equal(MPI_Allreduce(MPI_IN_PLACE, sum, nsum, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD),
                     MPI_SUCCESS);
  if (nleast > 0)
    assert_int_equal(
        MPI_Allreduce(MPI_IN_PLACE, least, nleast, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD),
        MPI_SUCCESS);
#else
  (void)sum, (void)nsum, (void)least, (void)nleast;
#endif
}

static char rank_tag[32]; /* "rank R: " on several ranks, else "" */

/* ---- running ------------------------------------------------------------------------------- */

typedef struct fixture {
  tsr_ctx *ctx;
  tsr_sql_session *session;
} fixture;

static int group_setup(void **state) {
  (void)state;
  make_tables();
  return 0;
}

static int fixture_setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  if (fx == NULL || test_ctx_setup((void **)&fx->ctx) != 0)
    return -1;
  if (tsr_sql_session_create(fx->ctx, &fx->session) != TSR_OK)
    return -1;
  register_tables(fx->ctx, fx->session);
  *state = fx;
  return 0;
}

static int fixture_teardown(void **state) {
  fixture *fx = *state;
  tsr_sql_session_destroy(&fx->session);
  int rc = test_ctx_teardown((void **)&fx->ctx);
  free(fx);
  return rc;
}

typedef struct counts {
  int run, matched, both_error, deviation, mismatch;
  double duck_s, tsr_s; /* seconds in each engine */
} counts;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static counts totals;

/* Whether DuckDB's result holds a number outside int64 (a HUGEINT sum). */
static bool outside_int64(const rows *d) {
  for (int64_t k = 0; k < d->nrows * d->ncols; k++)
    if (d->c[k].kind == C_FLOAT && fabs(d->c[k].f) >= 0x1p63)
      return true;
  return false;
}

/* Runs one query on both sides and counts the outcome; prints mismatches. */
static void run_one(tsr_sql_session *session, const char *sql, bool ordered, counts *n) {
  rows d = {0}, t = {0};
  sb derr = {0}, terr = {0}, why = {0};
  tsr_status st = TSR_OK;
  double t0 = now();
  bool dok = duck_run(sql, &d, &derr);
  double t1 = now();
  bool tok = tsr_run(session, sql, &t, &st, &terr);
  n->duck_s += t1 - t0;
  n->tsr_s += now() - t1;
  n->run++;
  if (!dok && !tok) {
    n->both_error++;
    if (n->both_error <= 3 && my_rank == 0)
      print_message("both-error: %s\n  DuckDB: %s\n  tessera: %s\n", sql, derr.p, terr.p);
  } else if (dok && !tok && st == TSR_EOVERFLOW && outside_int64(&d))
    n->deviation++; /* documented: integer sums are int64, overflow is an error */
  else if (dok != tok) {
    n->mismatch++;
    if (n->mismatch <= max_printed)
      print_message("%sMISMATCH: %s\n  %s errs: %s\n", rank_tag, sql, dok ? "tessera" : "DuckDB",
                    dok ? terr.p : derr.p);
  } else if (compare(&d, &t, ordered, &why))
    n->matched++;
  else {
    n->mismatch++;
    if (n->mismatch <= max_printed)
      print_message("%sMISMATCH: %s\n  %s\n", rank_tag, sql, why.p);
  }
  rows_free(&d);
  rows_free(&t);
  free(derr.p);
  free(terr.p);
  free(why.p);
}

static void test_sql_duckdb__tables_load_alike(void **state) {
  fixture *fx = *state;
  counts n = {0};
  for (int t = 0; t < NTABLES; t++) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM %s", tables[t].name);
    run_one(fx->session, sql, false, &n);
    snprintf(sql, sizeof sql, "SELECT * FROM %s ORDER BY id", tables[t].name);
    run_one(fx->session, sql, true, &n);
  }
  long long unmatched = n.run - n.matched;
  agree_counts(&unmatched, 1, NULL, 0);
  if (my_rank == 0 || n.matched != n.run)
    print_message("%sload: %d queries, %d matched, %d mismatched\n", rank_tag, n.run, n.matched,
                  n.mismatch);
  assert_int_equal(unmatched, 0);
  /* the data has what the suite is about: each count must be positive */
  rows d = {0};
  sb err = {0};
  assert_true(duck_run("SELECT count(*) FILTER (WHERE s = ''), count(*) FILTER (WHERE s IS NULL), "
                       "count(*) FILTER (WHERE contains(s, chr(10))), "
                       "count(*) FILTER (WHERE contains(s, '\"')), "
                       "count(*) FILTER (WHERE contains(s, ',')), "
                       "count(*) FILTER (WHERE contains(s, '漢') OR contains(s, '😀')), "
                       "count(*) FILTER (WHERE f IS NULL), count(*) FILTER (WHERE d IS NULL), "
                       "count(*) FILTER (WHERE b IS NULL), count(*) FILTER (WHERE j = 0) FROM t1",
                       &d, &err));
  for (int c = 0; c < d.ncols; c++) {
    assert_int_equal(d.c[c].kind, C_INT);
    assert_true(d.c[c].i > 0);
  }
  rows_free(&d);
  free(err.p);
}

static void run_feature(fixture *fx, int index) {
  const feature *f = &features[index];
  if (f->probe && !force_all) {
    tsr_frame *out = NULL;
    tsr_status st = tsr_sql_run(fx->session, f->probe, &out);
    tsr_frame_destroy(&out);
    if (st != TSR_OK) {
      print_message("%-12s skipped: tessera does not run \"%s\" yet (%s)\n", f->name, f->probe,
                    tsr_status_name(st));
      return;
    }
  }
  const mpi_skip *skip = skipped_across_ranks(f, NULL);
  if (skip) {
    if (my_rank == 0)
      print_message("%-12s skipped on %d ranks: %s\n", f->name, my_nranks, skip->reason);
    return;
  }
  tsr_exchange_stats before, after;
  assert_ok(tsr_ctx_exchange_stats(fx->ctx, &before));
  rng = 0xd1ffu * 1000003u + (uint64_t)index;
  counts n = {0};
  sb q = {0};
  int count = f->max_queries && f->max_queries < nqueries ? f->max_queries : nqueries;
  if (fewer_local && my_nranks > 1 && f->moves == LOCAL && count > nqueries / 5)
    count = nqueries / 5 > 0 ? nqueries / 5 : 1;
  int nskipped = 0;
  for (int k = 0; k < count; k++) {
    sb_clear(&q);
    bool ordered = f->gen(&q);
    uint64_t saved = rng; /* the generator's stream does not depend on the results */
    const mpi_skip *query_skip = skipped_across_ranks(f, q.p);
    if (query_skip) {
      skip = query_skip;
      nskipped++;
    } else
      run_one(fx->session, q.p, ordered, &n);
    rng = saved;
  }
  free(q.p);
  assert_ok(tsr_ctx_exchange_stats(fx->ctx, &after));
  long long mismatched = n.mismatch;
  unsigned long long least_sent = after.bytes_sent - before.bytes_sent;
  agree_counts(&mismatched, 1, &least_sent, 1);
  if (my_rank == 0 || n.mismatch)
    print_message("%s%-12s %4d queries: %4d matched, %3d both-error, %2d deviation, %3d MISMATCHED"
                  " (DuckDB %.1f s, tessera %.1f s)\n",
                  rank_tag, f->name, n.run, n.matched, n.both_error, n.deviation, n.mismatch,
                  n.duck_s, n.tsr_s);
  if (my_rank == 0 && nskipped)
    print_message("%-12s %4d queries skipped on %d ranks: %s\n", f->name, nskipped, my_nranks,
                  skip ? skip->reason : "");
  if (my_rank == 0 && my_nranks > 1)
    print_message("%-12s every rank sent at least %llu bytes in exchanges\n", f->name, least_sent);
  totals.run += n.run;
  totals.matched += n.matched;
  totals.both_error += n.both_error;
  totals.deviation += n.deviation;
  totals.mismatch += n.mismatch;
  if (mismatched && my_nranks > 1 && my_rank == 0)
    print_message("%-12s %lld mismatches over %d ranks\n", f->name, mismatched, my_nranks);
  assert_int_equal(mismatched, 0);
  /* the data is spread: group-by, joins and sorts must have moved some */
  if (f->moves == SENT_ALL && my_nranks > 1)
    assert_true(least_sent > 0);
}

#define FEATURE_TEST(name, index) \
  static void test_sql_duckdb__##name(void **state) { run_feature(*state, index); }
FEATURE_TEST(projection, 0)
FEATURE_TEST(where, 1)
FEATURE_TEST(groupby, 2)
FEATURE_TEST(orderby, 3)
FEATURE_TEST(join, 4)
FEATURE_TEST(distinct, 5)
FEATURE_TEST(union, 6)
FEATURE_TEST(with, 7)
FEATURE_TEST(window, 8)
FEATURE_TEST(ddl, 9)
FEATURE_TEST(float_intdiv, 10)
FEATURE_TEST(overflow, 11)
FEATURE_TEST(case, 12)
FEATURE_TEST(cast, 13)
FEATURE_TEST(coalesce, 14)
FEATURE_TEST(concat, 15)
FEATURE_TEST(strings, 16)
FEATURE_TEST(dates, 17)
FEATURE_TEST(ilike, 18)

static int remove_tables(void) {
  for (int t = 0; t < NTABLES; t++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s.csv", tmpdir, tables[t].name);
    remove(path);
  }
  return rmdir(tmpdir);
}

int main(void) {
  char path[1024];
  const char *env = getenv("TESSERA_PEERS_DIR");
  snprintf(path, sizeof path, "%s" LIBDUCKDB, env && *env ? env : TSR_PEERS_DIR);
  if (!duck_load(path)) {
    printf("skipped: %s not loadable (%s); run `npm ci` in bench/peers\n", path, dlerror());
    return 77;
  }
#ifdef TSR_SQLDIFF_MPI
  /* a distributed context sets MPI up (tessera/dist.h); this one lasts the run */
  tsr_ctx *world = NULL;
  if (tsr_ctx_create(&world) != TSR_OK)
    return 1;
  my_rank = tsr_ctx_rank(world);
  my_nranks = tsr_ctx_nranks(world);
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    fprintf(stderr, "test_dist_sql_duckdb: not started by mpiexec\n");
    tsr_ctx_destroy(&world);
    return 77;
  }
  nqueries = SQLDIFF_MPI_QUERIES;
  fewer_local = true;
  if (my_nranks > 1)
    snprintf(rank_tag, sizeof rank_tag, "rank %d: ", my_rank);
#endif
  const char *nq = getenv("TSR_SQLDIFF_QUERIES");
  if (nq && *nq) {
    nqueries = atoi(nq) > 0 ? atoi(nq) : 1;
    fewer_local = false;
  }
  const char *force = getenv("TSR_SQLDIFF_FORCE");
  force_all = force && *force && strcmp(force, "0") != 0;
  const char *np = getenv("TSR_SQLDIFF_PRINT");
  if (np && *np)
    max_printed = atoi(np);
  if (duck.open(NULL, &db) != DuckDBSuccess || duck.connect(db, &con) != DuckDBSuccess) {
    fprintf(stderr, "DuckDB: cannot open an in-memory database\n");
    return 1;
  }
  duckdb_result r;
  /* across ranks, the ranks' DuckDBs share the cores with the ranks */
  (void)duck.query(con, my_nranks > 1 ? "SET threads = 1" : "SET threads = 2", &r);
  duck.destroy_result(&r);
  const char *tmp = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/tsr_sqldiff_XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(tmpdir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  if (my_rank == 0)
    printf("DuckDB %s; %d queries per feature%s\n", duck.library_version(), nqueries,
           my_nranks > 1 ? ", on every rank" : "");
  if (my_rank == 0 && my_nranks > 1)
    for (const mpi_skip *k = mpi_skipped; k->reason; k++)
      printf("skipped on %d ranks: %s%s%s%s: %s\n", my_nranks,
             k->containing ? "queries containing \"" : "", k->containing ? k->containing : "",
             k->containing ? "\" in " : "", k->feature ? k->feature : "every feature", k->reason);
#define T(name) \
  cmocka_unit_test_setup_teardown(test_sql_duckdb__##name, fixture_setup, fixture_teardown)
  const struct CMUnitTest tests[] = {
      T(tables_load_alike),
      T(projection),
      T(where),
      T(groupby),
      T(orderby),
      T(join),
      T(distinct),
      T(union),
      T(with),
      T(window),
      T(ddl),
      T(float_intdiv),
      T(overflow),
      T(case),
      T(cast),
      T(coalesce),
      T(concat),
      T(strings),
      T(dates),
      T(ilike),
  };
#undef T
  int failed = cmocka_run_group_tests(tests, group_setup, NULL);
  if (my_rank == 0 || totals.mismatch)
    printf("%stotal: %d queries, %d matched, %d both-error, %d deviation, %d mismatched\n",
           rank_tag, totals.run, totals.matched, totals.both_error, totals.deviation,
           totals.mismatch);
  duck.disconnect(&con);
  duck.close(&db);
  dlclose(duck.lib);
  remove_tables();
#ifdef TSR_SQLDIFF_MPI
  tsr_ctx_destroy(&world);
#endif
  return failed;
}
