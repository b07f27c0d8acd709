/* test_csv_corpus.c — the CSV reader (tsr_frame_read_csv) on a corpus of
 * small files (tests/frame/csv/) and on files the test writes to a private
 * temporary directory, each with its exact expected cells worked out by
 * hand (csv_cells.h gives the canonical text of a cell):
 *   RFC 4180 quoting (quoted fields, doubled quotes, embedded delimiters and
 *   CR / LF / CR LF, "" an empty string against an unquoted empty field, a
 *   null), CR LF line endings, a UTF-8 BOM, a trailing delimiter and blank
 *   lines (as DuckDB reads them), ragged rows (the error, and bad_rows NULL
 *   and SKIP with their counts), a field that does not parse, invalid UTF-8
 *   (the error, and U+FFFD replacement), header-only, empty and
 *   no-final-newline files, the delimiters ; TAB |, null spellings only
 *   when asked, every type and exact float rounding, a 5 MB field, fields
 *   longer than a block, and columns widened by a value far into the file.
 * Every file that reads is read with 1 and 2 threads and block_bytes 64,
 * 1000 and the default, with identical cells; a generated file of ragged
 * chunks (at least 64) is also read gzip-compressed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame/csv_cells.h"
#include "test_util.h"

#ifndef TSR_SOURCE_DIR
#error "TSR_SOURCE_DIR (the repository's root) must be defined by tests/CMakeLists.txt"
#endif
#define CORPUS TSR_SOURCE_DIR "/tests/frame/csv/"

/* Two contexts, 1 and 2 threads. */
typedef struct fixture {
  tsr_ctx *ctx[2];
  char tmp[256];
} fixture;

static int setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  if (fx == NULL)
    return -1;
  for (int k = 0; k < 2; k++)
    if (tsr_ctx_create(&fx->ctx[k]) != TSR_OK || tsr_ctx_set_threads(fx->ctx[k], k + 1) != TSR_OK)
      return -1;
  const char *t = getenv("TMPDIR");
  snprintf(fx->tmp, sizeof fx->tmp, "%s/tsr-csv-corpus-XXXXXX", t && *t ? t : "/tmp");
  if (mkdtemp(fx->tmp) == NULL)
    return -1;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  fixture *fx = *state;
  int leaked = 0;
  for (int k = 0; k < 2; k++) {
    tsr_memory_stats m;
    if (tsr_ctx_memory_stats(fx->ctx[k], &m) != TSR_OK || m.current_bytes != 0) {
      print_error("context %d leaked %llu bytes\n", k, (unsigned long long)m.current_bytes);
      leaked = 1;
    }
    tsr_ctx_destroy(&fx->ctx[k]);
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->tmp);
  if (system(cmd) != 0)
    leaked = 1;
  free(fx);
  return leaked ? -1 : 0;
}

static void tmp_path(fixture *fx, const char *name, char out[512]) {
  snprintf(out, 512, "%s/%s", fx->tmp, name);
}

/* The classes a column's type must be in, one letter per column: I any
 * integer, F float64, B bool, D date, T timestamp, S string or dict, ?
 * anything. */
static bool type_in_class(tsr_type t, char cls) {
  switch (cls) {
  case 'I':
    return t.id >= TSR_COL_INT8 && t.id <= TSR_COL_UINT64;
  case 'F':
    return t.id == TSR_COL_FLOAT64;
  case 'B':
    return t.id == TSR_COL_BOOL;
  case 'D':
    return t.id == TSR_COL_DATE;
  case 'T':
    return t.id == TSR_COL_TIMESTAMP;
  case 'S':
    return t.id == TSR_COL_STRING || t.id == TSR_COL_DICT;
  default:
    return true;
  }
}

/* The configurations every readable file is read with: threads (1 or 2)
 * and block_bytes. */
typedef struct config {
  int threads;
  int64_t block_bytes;
} config;
static const config configs[] = {{1, 0}, {2, 0}, {2, 64}, {1, 64}, {2, 1000}};
#define NCONFIGS ((int)(sizeof configs / sizeof configs[0]))

/* Reads `path` in every configuration and asserts the cells are `expect`
 * (csv_table_dump(t, false)), the types are in `classes`, and the bad-row
 * count is `bad`; the types and the cells are identical in every
 * configuration. */
static void check_file_in(fixture *fx, const char *path, const tsr_csv_options *base,
                          const char *classes, const char *expect, int64_t bad, const config *cfgs,
                          int nconfigs) {
  char *first = NULL;
  for (int k = 0; k < nconfigs; k++) {
    tsr_csv_options o = base ? *base : (tsr_csv_options){0};
    if (cfgs[k].block_bytes != 0)
      o.block_bytes = cfgs[k].block_bytes;
    csv_table t;
    tsr_status s = csv_read_table(fx->ctx[cfgs[k].threads - 1], path, &o, &t);
    if (s != TSR_OK)
      print_error("%s (threads %d, block_bytes %lld): %s: %s\n", path, cfgs[k].threads,
                  (long long)o.block_bytes, tsr_status_name(s), tsr_last_error());
    assert_int_equal(s, TSR_OK);
    char *cells = csv_table_dump(&t, false), *typed = csv_table_dump(&t, true);
    if (expect != NULL && strcmp(cells, expect) != 0)
      print_error("%s (threads %d, block_bytes %lld): cells\n%s\nexpected\n%s\n", path,
                  cfgs[k].threads, (long long)o.block_bytes, cells, expect);
    if (expect != NULL)
      assert_string_equal(cells, expect);
    if (classes != NULL) {
      assert_int_equal(t.ncols, (int)strlen(classes));
      for (int c = 0; c < t.ncols; c++)
        if (!type_in_class(t.types[c], classes[c])) {
          print_error("%s: column %d is %s, expected class %c\n", path, c,
                      tsr_type_name(t.types[c]), classes[c]);
          fail();
        }
    }
    if (bad >= 0)
      assert_int_equal(t.bad_rows, bad);
    if (first == NULL) {
      first = typed;
    } else {
      if (strcmp(first, typed) != 0)
        print_error("%s: threads %d, block_bytes %lld differ from the first reading\n", path,
                    cfgs[k].threads, (long long)o.block_bytes);
      assert_string_equal(first, typed);
      free(typed);
    }
    free(cells);
    csv_table_free(&t);
  }
  free(first);
}

static void check_file(fixture *fx, const char *path, const tsr_csv_options *base,
                       const char *classes, const char *expect, int64_t bad) {
  check_file_in(fx, path, base, classes, expect, bad, configs, NCONFIGS);
}

/* A corpus file's full path. */
static const char *corpus(const char *name) {
  static char path[512];
  snprintf(path, sizeof path, "%s%s", CORPUS, name);
  return path;
}

/* Does the message name line `line` ("line 3", or "file:3:")? */
static bool names_line(const char *msg, int line) {
  char a[32], b[32];
  snprintf(a, sizeof a, "line %d", line);
  snprintf(b, sizeof b, ":%d:", line);
  const char *p = strstr(msg, a);
  return (p != NULL && !(p[strlen(a)] >= '0' && p[strlen(a)] <= '9')) || strstr(msg, b) != NULL;
}

/* The status of a malformed file: TSR_EPARSE. */
#define BAD_FILE ((tsr_status)1)

/* Reading `name` fails with `code` (or BAD_FILE), naming the file, the line, and each of
 * the needles (NULL-terminated). */
static void check_error(fixture *fx, const char *name, const tsr_csv_options *o, tsr_status code,
                        int line, const char *const *needles) {
  for (int k = 0; k < NCONFIGS; k++) {
    tsr_csv_options oo = o ? *o : (tsr_csv_options){0};
    if (configs[k].block_bytes != 0)
      oo.block_bytes = configs[k].block_bytes;
    csv_table t;
    tsr_status s = csv_read_table(fx->ctx[configs[k].threads - 1], corpus(name), &oo, &t);
    csv_table_free(&t);
    const char *msg = tsr_last_error();
    bool code_ok = code == BAD_FILE ? s == TSR_EPARSE : s == code;
    if (!code_ok)
      print_error("%s (threads %d, block_bytes %lld): %s (%s), expected %s\n", name,
                  configs[k].threads, (long long)oo.block_bytes, tsr_status_name(s), msg,
                  code == BAD_FILE ? "TSR_EPARSE" : tsr_status_name(code));
    assert_true(code_ok);
    bool ok = strstr(msg, name) != NULL && names_line(msg, line);
    for (int i = 0; needles[i] != NULL; i++)
      ok = ok && strstr(msg, needles[i]) != NULL;
    if (!ok) {
      print_error("%s: message '%s' lacks the file, 'line %d'", name, msg, line);
      for (int i = 0; needles[i] != NULL; i++)
        print_error(", '%s'", needles[i]);
      print_error("\n");
    }
    assert_true(ok);
  }
}

/* ------------------------------------------------------------------------ */

static void test_csv_corpus__rfc4180_quoting(void **state) {
  fixture *fx = *state;
  /* Embedded delimiter, doubled quotes, embedded LF and CR LF, "" (an
     empty string) against an unquoted empty field (null), a field that is
     one quote, and one that is one LF. */
  check_file(fx, corpus("rfc4180.csv"), NULL, "ISS",
             "#columns\tid\ttext\tnote\n"
             "1\thello, world\tplain\n"
             "2\tshe said \"hi\"\t\\N\n"
             "3\tline1\\nline2\t\n"
             "4\ta\\r\\nb\tx\n"
             "5\t\\N\tquoted, \"both\"\n"
             "6\t\"\t\\n\n",
             0);
  /* CR LF line endings: no CR left in any value. */
  check_file(fx, corpus("crlf.csv"), NULL, "ISF",
             "#columns\ta\tb\tc\n"
             "1\tx\t2.5\n"
             "2\t\\N\t\\N\n"
             "3\tq\\r\\nr\t-1\n",
             0);
}

static void test_csv_corpus__bom_trailing_delimiter_blank_lines(void **state) {
  fixture *fx = *state;
  /* A UTF-8 BOM is not part of the first name. */
  check_file(fx, corpus("bom.csv"), NULL, "SI", "#columns\tname\tval\nx\t1\nyy\t2\n", 0);
  check_file(fx, corpus("bom_quoted_crlf.csv"), NULL, "SI", "#columns\ta b\tc\nx\t1\ny,z\t2\n", 0);
  /* A trailing delimiter on every line is one more column, all null, named
     as DuckDB names a column without a name (column<index from 0>). */
  check_file(fx, corpus("trailing_delim.csv"), NULL, "II?",
             "#columns\ta\tb\tcolumn2\n1\t2\t\\N\n3\t4\t\\N\n", 0);
  /* Blank lines are skipped (LF and CR LF) when a row has several fields;
     in a one-column file a blank line is an unquoted empty field: null.
     Both as DuckDB reads them. */
  check_file(fx, corpus("blank_lines.csv"), NULL, "IS", "#columns\ta\tb\n1\tx\n2\ty\n3\tz\n", 0);
  check_file(fx, corpus("blank_lines_crlf.csv"), NULL, "IS", "#columns\ta\tb\n1\tx\n2\ty\n", 0);
  check_file(fx, corpus("blank_lines_1col.csv"), NULL, "I", "#columns\ta\n1\n\\N\n2\n", 0);
}

static void test_csv_corpus__ragged_rows(void **state) {
  fixture *fx = *state;
  tsr_csv_options o = {.delimiter = ',', .header = TSR_CSV_HEADER_YES};
  /* Line 3 has 2 fields of 3, or 4 of 3. */
  check_error(fx, "ragged_short.csv", &o, BAD_FILE, 3,
              (const char *const[]){"expected 3", "found 2", NULL});
  check_error(fx, "ragged_long.csv", &o, BAD_FILE, 3,
              (const char *const[]){"expected 3", "found 4", NULL});
  o.bad_rows = TSR_CSV_BAD_NULL; /* missing fields are null */
  check_file(fx, corpus("ragged_short.csv"), &o, "III",
             "#columns\ta\tb\tc\n1\t2\t3\n4\t5\t\\N\n6\t7\t8\n", 1);
  o.bad_rows = TSR_CSV_BAD_SKIP;
  check_file(fx, corpus("ragged_short.csv"), &o, "III", "#columns\ta\tb\tc\n1\t2\t3\n6\t7\t8\n", 1);
  check_file(fx, corpus("ragged_long.csv"), &o, "III", "#columns\ta\tb\tc\n1\t2\t3\n8\t9\t10\n", 1);
  /* bad_rows NULL with too many fields: the row is counted; its cells are
     not specified by the API beyond that (checked: the good rows). */
  o.bad_rows = TSR_CSV_BAD_NULL;
  csv_table t;
  assert_ok(csv_read_table(fx->ctx[0], corpus("ragged_long.csv"), &o, &t));
  assert_int_equal(t.bad_rows, 1);
  assert_int_equal(t.ncols, 3);
  assert_true(t.nrows == 3);
  assert_string_equal(t.cells[0], "1");
  assert_string_equal(t.cells[2 * 3 + 2], "10");
  csv_table_free(&t);
}

static void test_csv_corpus__fields_that_do_not_parse(void **state) {
  fixture *fx = *state;
  tsr_csv_options o = {.schema = "a:int64,b:int64", .header = TSR_CSV_HEADER_YES};
  check_error(fx, "bad_value.csv", &o, BAD_FILE, 3, (const char *const[]){"x", NULL});
  o.bad_rows = TSR_CSV_BAD_NULL;
  check_file(fx, corpus("bad_value.csv"), &o, "II", "#columns\ta\tb\n1\t2\n\\N\t3\n4\t5\n", 1);
  o.bad_rows = TSR_CSV_BAD_SKIP;
  check_file(fx, corpus("bad_value.csv"), &o, "II", "#columns\ta\tb\n1\t2\n4\t5\n", 1);
  /* Sniffed, the same file has a string column a. */
  check_file(fx, corpus("bad_value.csv"), NULL, "SI", "#columns\ta\tb\n1\t2\nx\t3\n4\t5\n", 0);
}

static void test_csv_corpus__invalid_utf8(void **state) {
  fixture *fx = *state;
  /* Line 3, column 2 (field b) holds 0xFF 0xFE. */
  check_error(fx, "invalid_utf8.csv", NULL, BAD_FILE, 3,
              (const char *const[]){"UTF-8", "column", NULL});
  /* Replaced: each invalid byte becomes U+FFFD, and a truncated sequence
     (E2 82 then a quote) one U+FFFD (Unicode's "maximal subpart"). */
  tsr_csv_options o = {.replace_invalid_utf8 = 1};
  check_file(fx, corpus("invalid_utf8.csv"), &o, "IS",
             "#columns\ta\tb\n1\tok\n"
             "2\tbad\xef\xbf\xbd\xef\xbf\xbd"
             "end\n"
             "3\ttr\xef\xbf\xbd\n"
             "4\tfine\n",
             0);
}

static void test_csv_corpus__header_only_empty_no_final_newline(void **state) {
  fixture *fx = *state;
  tsr_csv_options yes = {.header = TSR_CSV_HEADER_YES};
  check_file(fx, corpus("header_only.csv"), &yes, "???", "#columns\ta\tb\tc\n", 0);
  check_file(fx, corpus("header_only.csv"), NULL, "???", "#columns\ta\tb\tc\n", 0);
  /* An empty file: no rows (DuckDB gives one VARCHAR column "column0";
     the column count is not asserted). */
  for (int k = 0; k < 2; k++) {
    csv_table t;
    assert_ok(csv_read_table(fx->ctx[k], corpus("empty.csv"), NULL, &t));
    assert_int_equal(t.nrows, 0);
    csv_table_free(&t);
  }
  check_file(fx, corpus("no_final_newline.csv"), NULL, "IS", "#columns\ta\tb\n1\tx\n2\ty\n", 0);
  check_file(fx, corpus("no_final_newline_quoted.csv"), NULL, "IS", "#columns\ta\tb\n1\tx\\ny\n",
             0);
}

static void test_csv_corpus__delimiters(void **state) {
  fixture *fx = *state;
  /* Sniffed, then given. */
  static const struct {
    const char *file;
    char delim;
    const char *expect;
    const char *classes;
  } cases[] = {
      {"semicolon.csv", ';', "#columns\ta\tb\tc\n1\tx,y\t2.5\n3\tz\t-4\n", "ISF"},
      {"tab.csv", '\t', "#columns\ta\tb\tc\n1\tx y\t2\n3\tt\\tq\t4\n", "ISI"},
      {"pipe.csv", '|', "#columns\ta\tb\tc\n1\tx;y\t2\n3\tz,w\t4\n", "ISI"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    check_file(fx, corpus(cases[i].file), NULL, cases[i].classes, cases[i].expect, 0);
    tsr_csv_options o = {.delimiter = cases[i].delim};
    check_file(fx, corpus(cases[i].file), &o, cases[i].classes, cases[i].expect, 0);
  }
}

static void test_csv_corpus__nulls_only_when_asked(void **state) {
  fixture *fx = *state;
  check_file(fx, corpus("nulls_na.csv"), NULL, "SSS",
             "#columns\ta\tb\tc\n1\tNA\tx\nNA\tNULL\ty\n3\t\\N\tNA\n", 0);
  tsr_csv_options o = {.nulls = "NA,NULL"};
  check_file(fx, corpus("nulls_na.csv"), &o, "I?S",
             "#columns\ta\tb\tc\n1\t\\N\tx\n\\N\t\\N\ty\n3\t\\N\t\\N\n", 0);
}

static void test_csv_corpus__types(void **state) {
  fixture *fx = *state;
  check_file(fx, corpus("types.csv"), NULL, "IFBDTS",
             "#columns\ti\tf\tb\td\tt\ts\n"
             "1\t1.5\ttrue\t2024-01-31\t2024-01-31 12:34:56\tabc\n"
             "-7\t-0.25\tfalse\t1970-01-01\t1970-01-01 00:00:00.5\tx y\n"
             "\\N\t\\N\t\\N\t\\N\t\\N\t\\N\n"
             "9223372036854775807\t1e+300\ttrue\t2000-02-29\t1999-12-31 23:59:59.999999\tq\n"
             "-9223372036854775808\t0.1\tfalse\t1969-12-31\t1969-12-31 23:59:59\t\n",
             0);
  /* Floats round as strtod rounds: subnormals, 2^53 + 1, the halfway
     cases around 5e-324 and 1 + 2^-53, digits beyond 17. */
  check_file(fx, corpus("floats.csv"), NULL, "F",
             "#columns\tx\n0.1\n1e-320\n2.225073858507201e-308\n9007199254740992\n-0\n"
             "1.7976931348623157e+308\n1.2345678901234568e+29\n0.30000000000000004\n5e-324\n0\n"
             "0.1\n1\n1.0000000000000002\n",
             0);
  /* Given schema and a column subset in another order. */
  tsr_csv_options o = {.schema = "i:float64,f:float64,b:string,d:date,t:timestamp,s:string",
                       .columns = "s,i"};
  check_file(fx, corpus("types.csv"), &o, "SF",
             "#columns\ts\ti\nabc\t1\nx y\t-7\n\\N\t\\N\nq\t9.223372036854776e+18\n\t"
             "-9.223372036854776e+18\n",
             0);
}

/* Fields of 100 to 300 bytes with quotes and LFs, read in blocks of 64
 * bytes (every field crosses blocks), and a 5 MB field. */
static void test_csv_corpus__fields_longer_than_blocks(void **state) {
  fixture *fx = *state;
  csv_buf want = {0};
  csv_buf_puts(&want, "#columns\tk\tlong\tv\n");
  for (int i = 0; i < 8; i++) {
    char line[64];
    snprintf(line, sizeof line, "%d\tfield %d, ", i, i);
    csv_buf_puts(&want, line);
    for (int r = 0; r < 10 + 7 * i; r++)
      csv_buf_puts(&want, "ab\"c\\n");
    snprintf(line, sizeof line, "end\t%d.5\n", i);
    csv_buf_puts(&want, line);
  }
  check_file(fx, corpus("block_span.csv"), NULL, "ISF", want.p, 0);
  free(want.p);

  /* 100 kB (in every configuration, blocks of 64 bytes too), then 5 MB
     (in one block, and in blocks of 1 MiB): quotes every 1000 bytes, LF
     every 4096, commas every 777.  (Not 5 MB in blocks of 64 bytes: the
     reader's scan takes time growing as the record's length squared over
     block_bytes, minutes for that.) */
  static const config big_configs[] = {{1, 0}, {2, 0}, {2, 1 << 20}};
  for (int pass = 0; pass < 2; pass++) {
    int field_bytes = pass == 0 ? 100000 : 5 << 20;
    csv_buf file = {0}, cells = {0};
    csv_buf_puts(&file, "a,b\n1,\"");
    csv_buf_puts(&cells, "#columns\ta\tb\n1\t");
    for (int i = 0; i < field_bytes; i++) {
      char c = (char)('a' + i % 26);
      if (i % 1000 == 999) {
        csv_buf_puts(&file, "\"\"");
        csv_buf_puts(&cells, "\"");
      } else if (i % 4096 == 4095) {
        csv_buf_puts(&file, "\n");
        csv_buf_puts(&cells, "\\n");
      } else if (i % 777 == 776) {
        csv_buf_puts(&file, ",");
        csv_buf_puts(&cells, ",");
      } else {
        csv_buf_put(&file, &c, 1);
        csv_buf_put(&cells, &c, 1);
      }
    }
    csv_buf_puts(&file, "\"\n2,tail\n");
    csv_buf_puts(&cells, "\n2\ttail\n");
    char path[512];
    tmp_path(fx, "huge_field.csv", path);
    assert_true(csv_write_file(path, file.p, file.n));
    if (pass == 1)
      check_file_in(fx, path, NULL, "IS", cells.p, 0, big_configs, 3);
    else
      check_file(fx, path, NULL, "IS", cells.p, 0);
    free(file.p);
    free(cells.p);
  }
}

/* A value far into the file (row 77777 of 100000, past any sample of the
 * first rows) that does not fit the column's sniffed type widens the
 * column; it never becomes null. */
static void test_csv_corpus__widening(void **state) {
  fixture *fx = *state;
  enum { ROWS = 100000, AT = 77777 };
  csv_buf file = {0};
  csv_buf_puts(&file, "x,y,z,w,d,b\n");
  for (int i = 0; i < ROWS; i++) {
    char line[160];
    if (i == AT)
      snprintf(line, sizeof line, "12345678901234567890123,oops,5000000000,1.5,2024-13-45,maybe\n");
    else
      snprintf(line, sizeof line, "%d,%d,%d,%d,2024-01-%02d,%s\n", i, i % 100, i % 1000, i,
               1 + i % 28, i % 3 ? "true" : "false");
    csv_buf_puts(&file, line);
  }
  char path[512];
  tmp_path(fx, "widen.csv", path);
  assert_true(csv_write_file(path, file.p, file.n));
  free(file.p);
  for (int k = 0; k < 2; k++) {
    csv_table t;
    tsr_csv_options o = {.block_bytes = k ? 4096 : 0};
    assert_ok(csv_read_table(fx->ctx[k], path, &o, &t));
    assert_int_equal(t.nrows, ROWS);
    assert_int_equal(t.ncols, 6);
    /* x: float64 (the value rounded) or string (its text); y: string; z:
       an integer type holding 5e9, or float64; w: float64; d, b: strings. */
    bool x_float = t.types[0].id == TSR_COL_FLOAT64;
    if (!x_float && !type_in_class(t.types[0], 'S'))
      print_error("x is %s\n", tsr_type_name(t.types[0]));
    assert_true(x_float || type_in_class(t.types[0], 'S'));
    assert_true(type_in_class(t.types[1], 'S'));
    assert_true(t.types[2].id == TSR_COL_INT64 || t.types[2].id == TSR_COL_UINT64 ||
                t.types[2].id == TSR_COL_FLOAT64);
    assert_true(type_in_class(t.types[3], 'F'));
    assert_true(type_in_class(t.types[4], 'S'));
    assert_true(type_in_class(t.types[5], 'S'));
    for (int64_t i = 0; i < ROWS; i++) {
      char **row = &t.cells[i * 6];
      char want[6][64];
      if (i == AT) {
        snprintf(want[0], 64, "%s", x_float ? "1.2345678901234568e+22" : "12345678901234567890123");
        snprintf(want[1], 64, "oops");
        snprintf(want[2], 64, "5000000000");
        snprintf(want[3], 64, "1.5");
        snprintf(want[4], 64, "2024-13-45");
        snprintf(want[5], 64, "maybe");
      } else {
        snprintf(want[0], 64, "%d", (int)i);
        snprintf(want[1], 64, "%d", (int)(i % 100));
        snprintf(want[2], 64, "%d", (int)(i % 1000));
        snprintf(want[3], 64, "%d", (int)i);
        snprintf(want[4], 64, "2024-01-%02d", (int)(1 + i % 28));
        snprintf(want[5], 64, "%s", i % 3 ? "true" : "false");
      }
      for (int c = 0; c < 6; c++) {
        bool ok = row[c] != NULL && strcmp(row[c], want[c]) == 0;
        if (!ok)
          print_error("row %lld column %d: %s, expected %s\n", (long long)i, c,
                      row[c] ? row[c] : "null", want[c]);
        assert_true(ok);
      }
    }
    csv_table_free(&t);
  }
}

/* A generated file of every type (csv_generate): its exact cells in every
 * configuration, at least 64 ragged chunks with block_bytes 64, and the
 * same cells read from a .csv.gz. */
static void test_csv_corpus__generated_chunks_and_gzip(void **state) {
  fixture *fx = *state;
  csv_buf file, cells;
  csv_generate(12, 1500, &file, &cells);
  char path[512], gz[512];
  tmp_path(fx, "mixed.csv", path);
  tmp_path(fx, "mixed.csv.gz", gz);
  assert_true(csv_write_file(path, file.p, file.n));
  check_file(fx, path, NULL, "IIFBDTSS", cells.p, 0);

  tsr_frame *f = NULL;
  tsr_csv_options o = {.block_bytes = 64};
  assert_ok(tsr_frame_read_csv(fx->ctx[1], path, &o, &f));
  int64_t nchunks = tsr_frame_nchunks(f);
  assert_true(nchunks >= 64);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(f, NULL, &r));
  /* Ragged: chunks of different row counts, none empty beyond the last. */
  int64_t min_rows = INT64_MAX, max_rows = 0, total = 0;
  for (int64_t k = 0; k < tsr_frame_result_nchunks(r); k++) {
    tsr_column_chunk ch;
    assert_ok(tsr_frame_result_chunk(r, 0, k, &ch));
    total += ch.rows;
    if (ch.rows < min_rows)
      min_rows = ch.rows;
    if (ch.rows > max_rows)
      max_rows = ch.rows;
  }
  assert_int_equal(total, 1500);
  assert_true(max_rows > min_rows);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);

  char cmd[1200];
  if (system("command -v gzip > /dev/null 2>&1") != 0) {
    free(file.p);
    free(cells.p);
    skip(); /* no gzip(1) to write the .gz */
  }
  snprintf(cmd, sizeof cmd, "gzip -c '%s' > '%s'", path, gz);
  assert_int_equal(system(cmd), 0);
  check_file(fx, gz, NULL, "IIFBDTSS", cells.p, 0);
  free(file.p);
  free(cells.p);
}

/* Errors of the call itself: a missing file is named. */
static void test_csv_corpus__missing_file(void **state) {
  fixture *fx = *state;
  tsr_frame *f = NULL;
  char path[512];
  tmp_path(fx, "no-such-file.csv", path);
  assert_fails(tsr_frame_read_csv(fx->ctx[0], path, NULL, &f), TSR_EIO, "no-such-file.csv");
  assert_null(f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_csv_corpus__rfc4180_quoting, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__bom_trailing_delimiter_blank_lines, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__ragged_rows, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__fields_that_do_not_parse, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__invalid_utf8, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__header_only_empty_no_final_newline, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__delimiters, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__nulls_only_when_asked, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__types, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__fields_longer_than_blocks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__widening, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__generated_chunks_and_gzip, setup, teardown),
      cmocka_unit_test_setup_teardown(test_csv_corpus__missing_file, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
