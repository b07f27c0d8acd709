/* test_csv_duckdb.c — the CSV reader against DuckDB: each file of the
 * corpus (tests/frame/csv/) that DuckDB reads, and a generated file of
 * 20000 rows of every type with quotes and nulls (csv_generate), is read by
 * tessera and by DuckDB (bench/peers/duckdb_csv_cells.mjs, npm
 * @duckdb/node-api, both sniffing everything); the column names, the type
 * classes, the row counts and every cell must agree: numbers by value,
 * strings byte for byte, nulls as nulls, timestamps to the microsecond.
 * DuckDB runs with allow_quoted_nulls = false, tessera's rule ("" is an
 * empty string).  The generated file's cells are also checked against the
 * generator's own reference, for both readers.
 * Skipped (77) when node, the script or its npm packages are missing;
 * TESSERA_PEERS_DIR may name another bench/peers directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "frame/csv_cells.h"
#include "test_util.h"

#ifndef TSR_SOURCE_DIR
#error "TSR_SOURCE_DIR (the repository's root) must be defined by tests/CMakeLists.txt"
#endif
#define CORPUS TSR_SOURCE_DIR "/tests/frame/csv/"

static char peers[512]; /* bench/peers */
static char tmpdir[256];

/* DuckDB's reading: names, types and cells (escaped text; "\N" null). */
typedef struct duck_table {
  char *text; /* the output, cut into cells in place */
  int ncols;
  int64_t nrows;
  char **names, **types, **cells;
} duck_table;

static void duck_free(duck_table *d) {
  free(d->text);
  free(d->names);
  free(d->types);
  free(d->cells);
  memset(d, 0, sizeof *d);
}

/* Splits a line (in place) at TABs into at most `max` fields. */
static int split(char *line, char **fields, int max) {
  int n = 0;
  for (char *p = line;; p++) {
    if (n < max)
      fields[n] = p;
    n++;
    p = strchr(p, '\t');
    if (p == NULL)
      break;
    *p = '\0';
  }
  return n;
}

/* Runs the script on `path`; false (with a message) when it fails. */
static bool duck_read(const char *path, const char *args, duck_table *d) {
  memset(d, 0, sizeof *d);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "node '%s/duckdb_csv_cells.mjs' '%s' --quoted-nulls false %s", peers,
           path, args ? args : "");
  FILE *p = popen(cmd, "r");
  if (p == NULL)
    return false;
  csv_buf out = {0};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
    csv_buf_put(&out, chunk, n);
  int status = pclose(p);
  if (status != 0 || out.p == NULL) {
    print_error("%s: exit status %d\n", cmd, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    free(out.p);
    return false;
  }
  d->text = out.p;
  /* Lines: #columns, #types, rows. */
  int64_t lines = 0;
  for (size_t i = 0; i < out.n; i++)
    lines += out.p[i] == '\n';
  char **line = calloc((size_t)lines + 1, sizeof *line);
  int64_t nl = 0;
  for (char *s = out.p; *s; nl++) {
    char *e = strchr(s, '\n');
    if (e == NULL)
      abort();
    *e = '\0';
    line[nl] = s;
    s = e + 1;
  }
  if (nl < 2 || strncmp(line[0], "#columns\t", 9) != 0 || strncmp(line[1], "#types\t", 7) != 0) {
    print_error("%s: unexpected output\n", cmd);
    free(line);
    return false;
  }
  int ncols = 1;
  for (const char *c = line[0] + 9; *c; c++)
    ncols += *c == '\t';
  d->ncols = ncols;
  d->nrows = nl - 2;
  d->names = calloc((size_t)ncols, sizeof *d->names);
  d->types = calloc((size_t)ncols, sizeof *d->types);
  d->cells = calloc((size_t)(d->nrows * ncols) + 1, sizeof *d->cells);
  split(line[0] + 9, d->names, ncols);
  bool ok = split(line[1] + 7, d->types, ncols) == ncols;
  for (int64_t r = 0; ok && r < d->nrows; r++)
    ok = split(line[r + 2], d->cells + r * ncols, ncols) == ncols;
  free(line);
  if (!ok)
    print_error("%s: a line with another field count\n", cmd);
  return ok;
}

/* DuckDB's type name as a class: I F B D T S, or '?'. */
static char duck_class(const char *t) {
  static const char *const ints[] = {"TINYINT",  "SMALLINT",  "INTEGER",  "BIGINT",  "HUGEINT",
                                     "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"};
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++)
    if (strcmp(t, ints[i]) == 0)
      return 'I';
  if (strcmp(t, "DOUBLE") == 0 || strcmp(t, "FLOAT") == 0 || strncmp(t, "DECIMAL", 7) == 0)
    return 'F';
  if (strcmp(t, "BOOLEAN") == 0)
    return 'B';
  if (strcmp(t, "DATE") == 0)
    return 'D';
  if (strncmp(t, "TIMESTAMP", 9) == 0)
    return 'T';
  if (strcmp(t, "VARCHAR") == 0)
    return 'S';
  return '?';
}

static char tsr_class(tsr_type t) {
  if (t.id >= TSR_COL_INT8 && t.id <= TSR_COL_UINT64)
    return 'I';
  switch (t.id) {
  case TSR_COL_FLOAT32:
  case TSR_COL_FLOAT64:
    return 'F';
  case TSR_COL_BOOL:
    return 'B';
  case TSR_COL_DATE:
    return 'D';
  case TSR_COL_TIMESTAMP:
    return 'T';
  case TSR_COL_STRING:
  case TSR_COL_DICT:
    return 'S';
  default:
    return '?';
  }
}

static bool same_number(const char *a, const char *b) {
  char *ea, *eb;
  double x = strtod(a, &ea), y = strtod(b, &eb);
  if (*a == '\0' || *b == '\0' || *ea != '\0' || *eb != '\0')
    return false;
  return x == y || (x != x && y != y);
}

/* DuckDB's timestamp text without the trailing zeros of its fraction. */
static void trim_fraction(const char *in, char *out, size_t cap) {
  snprintf(out, cap, "%s", in);
  char *dot = strchr(out, '.');
  if (dot == NULL)
    return;
  char *e = out + strlen(out);
  while (e > dot + 1 && e[-1] == '0')
    *--e = '\0';
  if (e == dot + 1)
    *dot = '\0';
}

static bool same_cell(const char *duck, char dclass, const char *mine, char mclass) {
  bool dnull = strcmp(duck, "\\N") == 0;
  if (mine == NULL || dnull)
    return mine == NULL && dnull;
  if (dclass == 'F' || mclass == 'F' || (dclass == 'I' && mclass == 'I'))
    return same_number(duck, mine) && (dclass != 'I' || mclass != 'I' || strcmp(duck, mine) == 0);
  if (dclass == 'T') {
    char t[128];
    trim_fraction(duck, t, sizeof t);
    return strcmp(t, mine) == 0;
  }
  return strcmp(duck, mine) == 0;
}

/* Compares tessera's and DuckDB's reading of `path`; `any_type` lists the
 * columns whose type classes may differ (e.g. all-null columns), "*" for
 * all.  Returns the number of differences (printed, at most 10). */
static int64_t compare(const char *path, const tsr_csv_options *opt, const char *duck_args,
                       const char *any_type) {
  tsr_ctx *ctx = NULL;
  assert_ok(tsr_ctx_create(&ctx));
  assert_ok(tsr_ctx_set_threads(ctx, 2));
  csv_table t;
  tsr_status s = csv_read_table(ctx, path, opt, &t);
  if (s != TSR_OK)
    print_error("%s: tessera: %s: %s\n", path, tsr_status_name(s), tsr_last_error());
  assert_int_equal(s, TSR_OK);
  duck_table d;
  assert_true(duck_read(path, duck_args, &d));
  int64_t diffs = 0;
#define DIFF(...)               \
  do {                          \
    if (diffs++ < 10)           \
      print_error(__VA_ARGS__); \
  } while (0)
  if (t.ncols != d.ncols || t.nrows != d.nrows) {
    DIFF("%s: tessera has %d columns and %lld rows, DuckDB %d and %lld\n", path, t.ncols,
         (long long)t.nrows, d.ncols, (long long)d.nrows);
  } else {
    for (int c = 0; c < t.ncols; c++) {
      if (strcmp(t.names[c], d.names[c]) != 0)
        DIFF("%s: column %d is '%s' in tessera, '%s' in DuckDB\n", path, c, t.names[c], d.names[c]);
      char idx[16];
      snprintf(idx, sizeof idx, "%d", c);
      bool free_type = strcmp(any_type, "*") == 0 || strstr(any_type, idx) != NULL;
      if (!free_type && tsr_class(t.types[c]) != duck_class(d.types[c]))
        DIFF("%s: column '%s' is %s in tessera, %s in DuckDB\n", path, t.names[c],
             tsr_type_name(t.types[c]), d.types[c]);
    }
    for (int64_t r = 0; r < t.nrows; r++)
      for (int c = 0; c < t.ncols; c++) {
        const char *mine = t.cells[r * t.ncols + c], *duck = d.cells[r * d.ncols + c];
        if (!same_cell(duck, duck_class(d.types[c]), mine, tsr_class(t.types[c])))
          DIFF("%s: row %lld column '%s': tessera '%s', DuckDB '%s'\n", path, (long long)r,
               t.names[c], mine ? mine : "\\N", duck);
      }
  }
#undef DIFF
  csv_table_free(&t);
  duck_free(&d);
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(ctx, &m));
  assert_int_equal(m.current_bytes, 0);
  tsr_ctx_destroy(&ctx);
  return diffs;
}

/* The corpus files DuckDB reads (ragged rows, invalid UTF-8 and the empty
 * file are errors or another shape in DuckDB: test_csv_corpus.c checks
 * them), with the columns whose types may differ. */
static void test_csv_duckdb__corpus(void **state) {
  (void)state;
  static const struct {
    const char *file, *any_type;
  } files[] = {
      {"rfc4180.csv", ""},
      {"crlf.csv", ""},
      {"bom.csv", ""},
      {"bom_quoted_crlf.csv", ""},
      {"trailing_delim.csv", "2"}, /* all null: DuckDB says VARCHAR */
      {"blank_lines.csv", ""},
      {"blank_lines_crlf.csv", ""},
      {"blank_lines_1col.csv", ""},
      {"header_only.csv", "*"}, /* no values: DuckDB says VARCHAR */
      {"no_final_newline.csv", ""},
      {"no_final_newline_quoted.csv", ""},
      {"semicolon.csv", ""},
      {"tab.csv", ""},
      {"pipe.csv", ""},
      {"nulls_na.csv", ""},
      {"types.csv", ""},
      {"floats.csv", ""},
      {"block_span.csv", ""},
      {"bad_value.csv", ""},
  };
  int64_t diffs = 0;
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    char path[512];
    snprintf(path, sizeof path, "%s%s", CORPUS, files[i].file);
    diffs += compare(path, NULL, NULL, files[i].any_type);
  }
  assert_int_equal(diffs, 0);
}

/* 20000 generated rows: tessera and DuckDB agree, and DuckDB agrees with
 * the generator's reference (so the reference is not tessera's alone). */
static void test_csv_duckdb__generated(void **state) {
  (void)state;
  csv_buf file, cells;
  csv_generate(2026, 20000, &file, &cells);
  char path[512];
  snprintf(path, sizeof path, "%s/generated.csv", tmpdir);
  assert_true(csv_write_file(path, file.p, file.n));
  free(file.p);
  assert_int_equal(compare(path, NULL, NULL, ""), 0);
  tsr_csv_options small = {.block_bytes = 4096};
  assert_int_equal(compare(path, &small, NULL, ""), 0);

  duck_table d;
  assert_true(duck_read(path, NULL, &d));
  /* The reference as cells, line by line. */
  char *ref = cells.p;
  char *nl = strchr(ref, '\n'); /* the names line */
  assert_non_null(nl);
  int64_t diffs = 0;
  char *row = nl + 1;
  char *fields[8];
  for (int64_t r = 0; r < d.nrows; r++) {
    char *e = strchr(row, '\n');
    assert_non_null(e);
    *e = '\0';
    assert_int_equal(split(row, fields, 8), 8);
    for (int c = 0; c < 8; c++) {
      const char *want = strcmp(fields[c], "\\N") == 0 ? NULL : fields[c];
      if (!same_cell(d.cells[r * d.ncols + c], duck_class(d.types[c]), want,
                     duck_class(d.types[c])) &&
          diffs++ < 10)
        print_error("DuckDB row %lld column %d: '%s', the generator wrote '%s'\n", (long long)r, c,
                    d.cells[r * d.ncols + c], fields[c]);
    }
    row = e + 1;
  }
  assert_int_equal(d.nrows, 20000);
  assert_int_equal(diffs, 0);
  duck_free(&d);
  free(cells.p);
}

int main(void) {
  const char *env = getenv("TESSERA_PEERS_DIR");
  snprintf(peers, sizeof peers, "%s", env && *env ? env : TSR_SOURCE_DIR "/bench/peers");
  char probe[700];
  struct stat st;
  if (system("command -v node > /dev/null 2>&1") != 0) {
    printf("skipped: node is not installed\n");
    return 77;
  }
  snprintf(probe, sizeof probe, "%s/duckdb_csv_cells.mjs", peers);
  if (stat(probe, &st) != 0) {
    printf("skipped: %s is missing\n", probe);
    return 77;
  }
  snprintf(probe, sizeof probe, "%s/node_modules/@duckdb/node-api", peers);
  if (stat(probe, &st) != 0) {
    printf("skipped: %s is missing (bash scripts/setup.sh test installs it)\n", probe);
    return 77;
  }
  const char *t = getenv("TMPDIR");
  snprintf(tmpdir, sizeof tmpdir, "%s/tsr-csv-duckdb-XXXXXX", t && *t ? t : "/tmp");
  if (mkdtemp(tmpdir) == NULL) {
    perror(tmpdir);
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csv_duckdb__corpus),
      cmocka_unit_test(test_csv_duckdb__generated),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0)
    failed = 1;
  return failed;
}
