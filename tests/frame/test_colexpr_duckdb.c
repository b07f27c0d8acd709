/* test_colexpr_duckdb.c — the column-expression functions SQL needs, against
 * DuckDB itself: a random frame (nulls in every column, empty strings,
 * spaces, quotes, commas, non-ASCII text, dates and timestamps on both
 * sides of 1970, 97-row chunks) is loaded into DuckDB (libduckdb.so from
 * npm @duckdb/node-bindings-linux-x64 in bench/peers, dlopen'ed, as
 * test_arrow_duckdb.c does), and each expression below is evaluated by
 * `SELECT expr FROM t ORDER BY rid` there and by tsr_frame_assign here; the
 * rows are compared as DuckDB's text (floats as numbers, 1e-12 relative).
 * The expressions are written once, in the syntax both accept.
 *
 * Skipped (77) when libduckdb.so is missing; TESSERA_PEERS_DIR may name
 * another bench/peers directory.
 *
 * Built with TSR_COLEXPR_MPI (tests/dist/test_dist_colexpr_duckdb.c) it
 * runs under mpiexec (issue 17 item 7): every rank runs DuckDB and computes
 * the expressions on a distributed context, each rank the row chunks it
 * owns (31 chunks: every rank owns some), and checks the whole result it
 * receives; the verdict is agreed over the ranks (MPI_Allreduce), and every
 * rank must have sent chunk bytes (tsr_run_stats). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tessera/query.h>

#include "frame/value_text.h"
#include "test_util.h"

#ifdef TSR_COLEXPR_MPI
#include <mpi.h>
#endif

#ifndef TSR_PEERS_DIR
#error "TSR_PEERS_DIR (bench/peers) must be defined by tests/CMakeLists.txt"
#endif
#define LIBDUCKDB "/node_modules/@duckdb/node-bindings-linux-x64/libduckdb.so"

/* DuckDB's C API, loaded with dlopen: the SQL differential suite's declarations. */
#include "../sql/duckdb_capi.h"

/* ---- the data ---------------------------------------------------------------------------------
 */

#define N 3000
#define CHUNK 97

static const char *const pool[] = {"abc",
                                   "ABC",
                                   "",
                                   " ",
                                   "  pad  ",
                                   "h\xc3\xa9llo w\xc3\xb6rld",
                                   "\xc3\x9cn\xc3\xaf"
                                   "code \xc3\x84"
                                   "B",
                                   "a,b",
                                   "x\"y",
                                   "it's",
                                   "a_c%",
                                   "long string with more than twelve bytes",
                                   "Hello",
                                   "banana"};
#define NPOOL (int)(sizeof pool / sizeof pool[0])
/* Text both read the same way as integers, dates or neither (not 'inf':
 * DuckDB has infinite dates and timestamps, tessera has not). */
static const char *const pool2[] = {"12",
                                    " 7 ",
                                    "-3",
                                    "99999999999",
                                    "abc",
                                    "",
                                    "0",
                                    "2147483647",
                                    "-2147483648",
                                    "2147483648",
                                    "2024-01-02",
                                    "2024-02-30",
                                    "1999-12-31",
                                    "true",
                                    "f",
                                    "yes",
                                    "no",
                                    "1",
                                    "2024-01-02T03:04:05",
                                    "2024-01-02 03:04"};
#define NPOOL2 (int)(sizeof pool2 / sizeof pool2[0])

typedef struct data {
  int32_t i[N];
  int64_t j[N];
  double x[N];
  int si[N], s2i[N];
  int32_t d[N];
  int64_t t[N];
  uint8_t b[N];
  bool vi[N], vj[N], vx[N], vs[N], vs2[N], vd[N], vt[N], vb[N];
  uint8_t bits[8][(N + 7) / 8];
  int64_t off[2][N + 1];
  char sdata[2][N * 48];
} data;

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static int64_t range(int64_t lo, int64_t hi) {
  return lo + (int64_t)(next() % (uint64_t)(hi - lo + 1));
}
static bool chance(int pct) { return (int)(next() % 100) < pct; }

static void pack(const bool *v, uint8_t *bits) {
  memset(bits, 0, (N + 7) / 8);
  for (int r = 0; r < N; r++)
    if (v[r])
      bits[r / 8] |= (uint8_t)(1u << (r % 8));
}

static void generate(data *x) {
  int64_t o[2] = {0, 0};
  for (int r = 0; r < N; r++) {
    x->i[r] = (int32_t)range(-50, 50);
    x->j[r] = range(-4000000000ll, 4000000000ll);
    x->x[r] = (double)range(-2000, 2000) / 4.0; /* halves: rounding ties */
    x->si[r] = (int)range(0, NPOOL - 1);
    x->s2i[r] = (int)range(0, NPOOL2 - 1);
    x->d[r] = (int32_t)range(-30000, 30000);
    x->t[r] = range(-2000000000, 2000000000) * 1000000ll + range(0, 999999) * (chance(50) ? 1 : 0);
    x->b[r] = (uint8_t)range(0, 1);
    x->vi[r] = chance(85);
    x->vj[r] = chance(90);
    x->vx[r] = chance(85);
    x->vs[r] = chance(85);
    x->vs2[r] = chance(85);
    x->vd[r] = chance(85);
    x->vt[r] = chance(85);
    x->vb[r] = chance(80);
    const char *strs[2] = {pool[x->si[r]], pool2[x->s2i[r]]};
    for (int c = 0; c < 2; c++) {
      x->off[c][r] = o[c];
      size_t len = strlen(strs[c]);
      memcpy(x->sdata[c] + o[c], strs[c], len);
      o[c] += (int64_t)len;
    }
  }
  x->off[0][N] = o[0];
  x->off[1][N] = o[1];
  const bool *vs[8] = {x->vi, x->vj, x->vx, x->vs, x->vs2, x->vd, x->vt, x->vb};
  for (int k = 0; k < 8; k++)
    pack(vs[k], x->bits[k]);
}

static tsr_frame *make_frame(tsr_ctx *ctx, data *x) {
  tsr_column_data c[8];
  memset(c, 0, sizeof c);
  c[0] = (tsr_column_data){.name = "i", .type = {TSR_COL_INT32, 0}, .length = N, .values = x->i};
  c[1] = (tsr_column_data){.name = "j", .type = {TSR_COL_INT64, 0}, .length = N, .values = x->j};
  c[2] = (tsr_column_data){.name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = N, .values = x->x};
  c[3] = (tsr_column_data){.name = "s",
                           .type = {TSR_COL_STRING, 0},
                           .length = N,
                           .offsets = x->off[0],
                           .data = x->sdata[0]};
  c[4] = (tsr_column_data){.name = "s2",
                           .type = {TSR_COL_STRING, 0},
                           .length = N,
                           .offsets = x->off[1],
                           .data = x->sdata[1]};
  c[5] = (tsr_column_data){.name = "d", .type = {TSR_COL_DATE, 0}, .length = N, .values = x->d};
  c[6] = (tsr_column_data){
      .name = "t", .type = {TSR_COL_TIMESTAMP, TSR_TIME_US}, .length = N, .values = x->t};
  c[7] = (tsr_column_data){.name = "b", .type = {TSR_COL_BOOL, 0}, .length = N, .values = x->b};
  for (int k = 0; k < 8; k++)
    c[k].validity = x->bits[k];
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 8, c, CHUNK, TSR_BUFFER_COPY, NULL, NULL, &f));
  return f;
}

/* Appends s as a SQL string literal. */
static size_t sql_str(char *out, const char *s, size_t n) {
  size_t k = 0;
  out[k++] = '\'';
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\'')
      out[k++] = '\'';
    out[k++] = s[i];
  }
  out[k++] = '\'';
  return k;
}

static void load_duckdb(duckdb_connection con, const data *x) {
  duckdb_result r;
  assert_int_equal(duck.query(con,
                              "CREATE TABLE t (rid INTEGER, i INTEGER, j BIGINT, x DOUBLE, s "
                              "VARCHAR, s2 VARCHAR, d DATE, t TIMESTAMP, b BOOLEAN)",
                              &r),
                   DuckDBSuccess);
  duck.destroy_result(&r);
  size_t cap = 1 << 20;
  char *sql = malloc(cap);
  for (int r0 = 0; r0 < N; r0 += 500) {
    size_t k = (size_t)snprintf(sql, cap, "INSERT INTO t VALUES ");
    for (int row = r0; row < r0 + 500 && row < N; row++) {
      char buf[TSR__VT_MAX + 1];
      k += (size_t)snprintf(sql + k, cap - k, "%s(%d, ", row > r0 ? ", " : "", row);
      if (x->vi[row])
        k += (size_t)snprintf(sql + k, cap - k, "%d, ", x->i[row]);
      else
        k += (size_t)snprintf(sql + k, cap - k, "NULL, ");
      if (x->vj[row])
        k += (size_t)snprintf(sql + k, cap - k, "%lld, ", (long long)x->j[row]);
      else
        k += (size_t)snprintf(sql + k, cap - k, "NULL, ");
      if (x->vx[row])
        k += (size_t)snprintf(sql + k, cap - k, "%.17g, ", x->x[row]);
      else
        k += (size_t)snprintf(sql + k, cap - k, "NULL, ");
      for (int c = 0; c < 2; c++) {
        bool v = c == 0 ? x->vs[row] : x->vs2[row];
        if (v)
          k += sql_str(sql + k, x->sdata[c] + x->off[c][row],
                       (size_t)(x->off[c][row + 1] - x->off[c][row]));
        else
          k += (size_t)snprintf(sql + k, cap - k, "NULL");
        k += (size_t)snprintf(sql + k, cap - k, ", ");
      }
      if (x->vd[row]) {
        size_t n = tsr__fmt_date(buf, x->d[row]);
        k += (size_t)snprintf(sql + k, cap - k, "DATE '%.*s', ", (int)n, buf);
      } else {
        k += (size_t)snprintf(sql + k, cap - k, "NULL, ");
      }
      if (x->vt[row]) {
        size_t n = tsr__fmt_timestamp(buf, x->t[row], TSR_TIME_US);
        k += (size_t)snprintf(sql + k, cap - k, "TIMESTAMP '%.*s', ", (int)n, buf);
      } else {
        k += (size_t)snprintf(sql + k, cap - k, "NULL, ");
      }
      k += (size_t)snprintf(sql + k, cap - k, "%s)",
                            x->vb[row] ? (x->b[row] ? "true" : "false") : "NULL");
    }
    duckdb_state s = duck.query(con, sql, &r);
    if (s != DuckDBSuccess)
      print_error("DuckDB: %s\n", duck.result_error(&r));
    duck.destroy_result(&r);
    assert_int_equal(s, DuckDBSuccess);
  }
  free(sql);
}

/* ---- comparing ---------------------------------------------------------------------------- */

static const char *const exprs[] = {
    /* CASE, coalesce, nullif */
    "case when i > 10 then 'big' when i < -10 then 'small' else s end",
    "case when b then i * 1000000 else j end",
    "case i % 3 when 0 then 'zero' when 1 then 'one' end",
    "case when i <= 0 then cast(2147483647 as integer) + i else -1 end",
    "case when d > '2010-01-01' then date_trunc('month', d) else t end",
    "case when x > 0 then x else i end",
    "coalesce(i, j, 0)",
    "coalesce(s, s2, 'none')",
    "coalesce(d, '1999-12-31')",
    "nullif(i, 0)",
    "nullif(s, '')",
    /* casts */
    "try_cast(x as integer)",
    "try_cast(x * 1000000 as smallint)",
    "cast(x as bigint)",
    "cast(x as varchar)",
    "cast(i as varchar) || '/' || cast(d as varchar)",
    "cast(t as varchar)",
    "cast(b as varchar)",
    "cast(i as double) / 7",
    "cast(j as real)",
    "cast(i as boolean)",
    "cast(t as date)",
    "cast(d as timestamp)",
    "try_cast(s2 as integer)",
    "try_cast(s2 as bigint)",
    "try_cast(s2 as double)",
    "try_cast(s2 as date)",
    "try_cast(s2 as timestamp)",
    "try_cast(s2 as boolean)",
    "try_cast(s2 as real)",
    "try_cast(j as integer)",
    /* strings */
    "s || i",
    "x || '|' || b",
    "concat(s, i, d)",
    "concat(s, null, b, s2)",
    "substr(s, i % 5, 3)",
    "substr(s, i % 7)",
    "substr(s, 2, i % 4)",
    "substring(s, -3, 2)",
    "trim(s)",
    "ltrim(s) || '.'",
    "rtrim(s) || '.'",
    "length(trim(s))",
    "replace(s, 'a', 'XY')",
    "replace(s, 'l', '')",
    "s ilike '%A%'",
    "s not ilike 'h_llo%'",
    "s ilike '%_b'", /* ASCII folding only: DuckDB also folds 'Ü' and 'ü' */
    "s like '%b'",
    /* IN, BETWEEN, IS NULL */
    "i in (1, 2, 3, null)",
    "i not in (5, -5)",
    "s in ('abc', '', 'banana')",
    "i between -10 and j % 20",
    "d between '2000-01-01' and '2020-12-31'",
    "i not between 0 and 10",
    "x is null or s is not null",
    /* dates */
    "dayofweek(d)",
    "isodow(d)",
    "dayofyear(d)",
    "quarter(d)",
    "week(d)",
    "epoch(d)",
    "extract(epoch from t)",
    "extract(year from t) * 100 + extract(quarter from t)",
    "hour(t) * 10000 + minute(t) * 100 + second(t)",
    "week(t)",
    "dayofyear(t)",
    "extract(dow from t)",
    "date_trunc('year', d)",
    "date_trunc('week', d)",
    "date_trunc('quarter', t)",
    "date_trunc('month', t)",
    "date_trunc('week', t)",
    "date_trunc('day', t)",
    "date_trunc('hour', t)",
    "date_trunc('minute', t)",
    "date_trunc('second', t)",
};
#define NEXPR (int)(sizeof exprs / sizeof exprs[0])

/* Row r of a result column in DuckDB's text (strings as they are). */
static bool tsr_text(const tsr_frame_result *res, int col, const tsr_column_chunk *ch, int64_t r,
                     char *out, size_t cap, double *tol) {
  tsr_type t = tsr_frame_result_col_type(res, col);
  *tol = t.id == TSR_COL_FLOAT32 ? 1e-7 : t.id == TSR_COL_FLOAT64 ? 1e-12 : 0;
  if (ch->validity != NULL && !((ch->validity[r / 8] >> (r % 8)) & 1))
    return false;
  if (t.id == TSR_COL_STRING) {
    const tsr_string_view *v = (const tsr_string_view *)ch->values + r;
    snprintf(out, cap, "%.*s", (int)v->length, tsr_string_view_data(v, ch->data));
    return true;
  }
  char buf[TSR__VT_MAX + 1];
  size_t n = tsr__vt_format(t, ch->values, r, buf);
  snprintf(out, cap, "%.*s", (int)n, buf);
  return true;
}

/* Floats: DuckDB prints a float32 exactly, tessera the shortest text
 * reading back to the same float32. */
static bool close_enough(const char *a, const char *b, double tol) {
  double x = strtod(a, NULL), y = strtod(b, NULL);
  if (isnan(x) || isnan(y))
    return isnan(x) && isnan(y);
  if (isinf(x) || isinf(y))
    return x == y;
  return fabs(x - y) <= tol * fmax(fabs(x), fabs(y));
}

/* Chunk bytes this rank sent to other ranks in the computes (tsr_run_stats). */
static void add_bytes_sent(const tsr_run_stats *stats, void *user) {
  *(unsigned long long *)user += stats->bytes_sent;
}

static void test_colexpr_duckdb__random(void **state) {
  tsr_ctx *ctx = *state;
  data *x = malloc(sizeof *x);
  generate(x);
  tsr_frame *f = make_frame(ctx, x);
  int nranks = tsr_ctx_nranks(ctx);
  assert_true(tsr_frame_nchunks(f) >= nranks); /* every rank owns row chunks */
  unsigned long long sent = 0;
  tsr_compute_options opt = {.on_stats = add_bytes_sent, .stats_user = &sent};
  duckdb_database db;
  duckdb_connection con;
  assert_int_equal(duck.open(NULL, &db), DuckDBSuccess);
  assert_int_equal(duck.connect(db, &con), DuckDBSuccess);
  load_duckdb(con, x);
  int bad_exprs = 0;
  int64_t compared = 0;
  for (int e = 0; e < NEXPR; e++) {
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM t ORDER BY rid", exprs[e]);
    duckdb_result dr;
    if (duck.query(con, sql, &dr) != DuckDBSuccess) {
      print_error("DuckDB cannot run %s: %s\n", sql, duck.result_error(&dr));
      duck.destroy_result(&dr);
      bad_exprs++;
      continue;
    }
    tsr_frame *g = NULL, *h = NULL;
    tsr_frame_result *res = NULL;
    tsr_status s = tsr_frame_assign(f, "r", exprs[e], &g);
    if (s == TSR_OK) /* the result column alone: across ranks, only it is gathered */
      s = tsr_frame_select(g, 1, (const char *[]){"r"}, &h);
    if (s == TSR_OK)
      s = tsr_frame_compute(h, &opt, &res);
    tsr_frame_destroy(&h);
    if (s != TSR_OK) {
      print_error("tessera cannot run %s: %s\n", exprs[e], tsr_last_error());
      duck.destroy_result(&dr);
      tsr_frame_destroy(&g);
      bad_exprs++;
      continue;
    }
    int col = tsr_frame_result_ncols(res) - 1;
    int mismatches = 0;
    int64_t row = 0;
    for (int64_t c = 0; c < tsr_frame_result_nchunks(res); c++) {
      tsr_column_chunk ch;
      assert_ok(tsr_frame_result_chunk(res, col, c, &ch));
      for (int64_t r = 0; r < ch.rows; r++, row++) {
        char mine[256] = "", *theirs = NULL;
        double tol;
        bool have = tsr_text(res, col, &ch, r, mine, sizeof mine, &tol);
        bool dnull = duck.value_is_null(&dr, 0, (idx_t)row);
        if (!dnull)
          theirs = duck.value_varchar(&dr, 0, (idx_t)row);
        bool same = have == !dnull && (!have || strcmp(mine, theirs) == 0 ||
                                       (tol > 0 && close_enough(mine, theirs, tol)));
        if (!same && mismatches++ < 5)
          print_error("%s: row %lld: tessera %s%s%s, DuckDB %s%s%s\n", exprs[e], (long long)row,
                      have ? "'" : "", have ? mine : "NULL", have ? "'" : "", dnull ? "" : "'",
                      dnull ? "NULL" : theirs, dnull ? "" : "'");
        duck.free(theirs);
        compared++;
      }
    }
    if (row != N || (int64_t)duck.row_count(&dr) != N) {
      print_error("%s: %lld rows here, %llu in DuckDB\n", exprs[e], (long long)row,
                  (unsigned long long)duck.row_count(&dr));
      mismatches++;
    }
    bad_exprs += mismatches > 0;
    duck.destroy_result(&dr);
    tsr_frame_result_destroy(&res);
    tsr_frame_destroy(&g);
  }
  duck.disconnect(&con);
  duck.close(&db);
  tsr_frame_destroy(&f);
  free(x);
  long long all_bad = bad_exprs;
  unsigned long long least_sent = sent;
#ifdef TSR_COLEXPR_MPI
  /* the verdict of every rank, so that all pass or fail together */
  assert_int_equal(MPI_Allreduce(MPI_IN_PLACE, &all_bad, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD),
                   MPI_SUCCESS);
  assert_int_equal(
      MPI_Allreduce(MPI_IN_PLACE, &least_sent, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD),
      MPI_SUCCESS);
#endif
  if (tsr_ctx_rank(ctx) == 0 || bad_exprs) {
    printf("rank %d: compared %d expressions, %lld values; %d failed\n", tsr_ctx_rank(ctx), NEXPR,
           (long long)compared, bad_exprs);
    if (nranks > 1)
      printf("%d ranks: %lld expressions failed on some rank; every rank sent at least %llu chunk "
             "bytes\n",
             nranks, all_bad, least_sent);
  }
  assert_int_equal(all_bad, 0);
  if (nranks > 1)
    assert_true(least_sent > 0);
}

int main(void) {
  char path[4096];
  const char *env = getenv("TESSERA_PEERS_DIR");
  snprintf(path, sizeof path, "%s" LIBDUCKDB, env && *env ? env : TSR_PEERS_DIR);
  if (!duck_load(path)) {
    printf("skipped: %s not loadable (%s); run `npm ci` in bench/peers\n", path, dlerror());
    return 77;
  }
#ifdef TSR_COLEXPR_MPI
  /* a distributed context sets MPI up (tessera/dist.h) */
  tsr_ctx *world = NULL;
  if (tsr_ctx_create(&world) != TSR_OK)
    return 1;
  (void)tsr_ctx_nranks(world);
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    fprintf(stderr, "test_dist_colexpr_duckdb: not started by mpiexec\n");
    tsr_ctx_destroy(&world);
    return 77;
  }
#endif
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_colexpr_duckdb__random, test_ctx_setup,
                                      test_ctx_teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
#ifdef TSR_COLEXPR_MPI
  tsr_ctx_destroy(&world);
#endif
  return failed;
}
