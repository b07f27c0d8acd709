/* test_csv_read.c — the CSV reader: sniffed types and their widening by
 * values the samples missed, the dialect and header, quoting (doubled
 * quotes, embedded newlines and delimiters, CRLF, BOM) across block
 * boundaries, every option, each error message's content, the bad-row
 * modes, .csv.gz, a memory limit smaller than the file, and results that
 * do not depend on the thread count.  Expected cells are written by hand
 * or generated beside the file by the test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "scratch_dir.h"

#define WRITE(name, lit) write_file(name, lit, sizeof(lit) - 1)

static tsr_frame_result *compute(tsr_frame *f) {
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(f, NULL, &r));
  return r;
}

/* Cell (row, col) of a string or dictionary column, or "<null>". */
static const char *cell(tsr_frame_result *r, int col, int64_t row) {
  static char buf[4][256];
  static int k;
  const char *t;
  size_t n;
  bool is_null;
  assert_ok(tsr_frame_result_string(r, col, row, &t, &n, &is_null));
  k = (k + 1) % 4;
  if (is_null)
    return "<null>";
  assert_true(n < sizeof buf[k]);
  memcpy(buf[k], t, n);
  buf[k][n] = '\0';
  return buf[k];
}

static void col_values(tsr_frame_result *r, int col, void *values, size_t bytes, uint8_t *valid) {
  assert_ok(tsr_frame_result_values(r, col, values, bytes, valid));
}

static bool bit(const uint8_t *v, int64_t i) { return (v[i / 8] >> (i % 8)) & 1; }

/* ---- types ----------------------------------------------------------------------- */

static void test_csv_read__types(void **state) {
  tsr_ctx *ctx = *state;
  const char *p =
      WRITE("types.csv", "b,i,f,d,t,s\n"
                         "true,1,1.5,2024-01-31,2024-01-31 12:34:56,x\n"
                         "FALSE,-20,-0.25,1969-12-31,1970-01-01T00:00:01.5,\"y,\"\"z\"\"\"\n"
                         ",9223372036854775807,1e300,2000-02-29,2000-02-29 23:59:59.123456,\n");
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_ncols(f), 6);
  assert_int_equal(tsr_frame_nrows_known(f), 3);
  const tsr_coltype want[6] = {TSR_COL_BOOL, TSR_COL_INT64,     TSR_COL_FLOAT64,
                               TSR_COL_DATE, TSR_COL_TIMESTAMP, TSR_COL_STRING};
  const char *names[6] = {"b", "i", "f", "d", "t", "s"};
  for (int i = 0; i < 6; i++) {
    assert_int_equal(tsr_frame_col_type(f, i).id, want[i]);
    assert_string_equal(tsr_frame_col_name(f, i), names[i]);
  }
  assert_int_equal(tsr_frame_col_type(f, 4).unit, TSR_TIME_US);
  tsr_frame_result *r = compute(f);
  uint8_t b[3], valid[1];
  col_values(r, 0, b, sizeof b, valid);
  assert_int_equal(b[0], 1);
  assert_int_equal(b[1], 0);
  assert_false(bit(valid, 2));
  assert_true(bit(valid, 0) && bit(valid, 1));
  int64_t i[3];
  col_values(r, 1, i, sizeof i, NULL);
  assert_int_equal(i[0], 1);
  assert_int_equal(i[1], -20);
  assert_true(i[2] == INT64_MAX);
  double d[3];
  col_values(r, 2, d, sizeof d, NULL);
  assert_true(d[0] == 1.5 && d[1] == -0.25 && d[2] == 1e300);
  int32_t days[3];
  col_values(r, 3, days, sizeof days, NULL);
  assert_int_equal(days[0], 19753);
  assert_int_equal(days[1], -1);
  assert_int_equal(days[2], 11016);
  int64_t ts[3];
  col_values(r, 4, ts, sizeof ts, NULL);
  assert_true(ts[0] ==
              (int64_t)19753 * 86400000000 + (12 * 3600 + 34 * 60 + 56) * INT64_C(1000000));
  assert_true(ts[1] == 1500000);
  assert_true(ts[2] == (int64_t)11016 * 86400000000 + 86399 * INT64_C(1000000) + 123456);
  assert_string_equal(cell(r, 5, 0), "x");
  assert_string_equal(cell(r, 5, 1), "y,\"z\"");
  assert_string_equal(cell(r, 5, 2), "<null>");
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

/* Floats round exactly as strtod: Clinger's fast path and the slow path. */
static void test_csv_read__floats_round_as_strtod(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 4000 };
  static char text[N * 40 + 16];
  char vals[N][40];
  size_t off = (size_t)sprintf(text, "x\n");
  srand(7);
  for (int k = 0; k < N; k++) {
    switch (k % 5) {
    case 0:
      sprintf(vals[k], "%d.%06d", rand() % 100, rand() % 1000000);
      break;
    case 1:
      sprintf(vals[k], "%.17g", (double)rand() / RAND_MAX * pow(10, rand() % 40 - 20));
      break;
    case 2:
      sprintf(vals[k], "%d%09d%09de%d", rand() % 10, rand() % 1000000000, rand() % 1000000000,
              rand() % 60 - 30);
      break;
    case 3:
      sprintf(vals[k], "-0.%020d1", 0);
      break;
    default:
      sprintf(vals[k], "%de-%d", rand(), rand() % 330);
      break;
    }
    off += (size_t)sprintf(text + off, "%s\n", vals[k]);
  }
  const char *p = write_file("floats.csv", text, off);
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_FLOAT64);
  tsr_frame_result *r = compute(f);
  static double got[N];
  col_values(r, 0, got, sizeof got, NULL);
  for (int k = 0; k < N; k++) {
    double want = strtod(vals[k], NULL);
    if (memcmp(&want, &got[k], sizeof want) != 0)
      print_error("value %d '%s': got %.17g want %.17g\n", k, vals[k], got[k], want);
    assert_memory_equal(&want, &got[k], sizeof want);
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

/* A value the sniffer's samples miss widens its column (int -> float ->
 * string) and nothing becomes null. */
static void test_csv_read__widening_past_the_samples(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 200000 };
  char *text = malloc((size_t)N * 32);
  assert_non_null(text);
  size_t off = (size_t)sprintf(text, "a,b,c\n");
  for (int k = 0; k < N; k++) {
    if (k == 70000)
      off += (size_t)sprintf(text + off, "%d,2.5,%d\n", k, k);
    else if (k == 150000)
      off += (size_t)sprintf(text + off, "%d,%d,hello\n", k, k);
    else
      off += (size_t)sprintf(text + off, "%d,%d,%d\n", k, k, k % 10);
  }
  const char *p = write_file("widen.csv", text, off);
  free(text);
  for (int pass = 0; pass < 2; pass++) {
    tsr_csv_options o = {0};
    o.block_bytes = pass == 0 ? 0 : 100000;
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
    assert_int_equal(tsr_frame_nrows_known(f), N);
    assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_INT64);
    assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_FLOAT64);
    /* 11 distinct strings in 200000 rows: a dictionary */
    assert_int_equal(tsr_frame_col_type(f, 2).id, TSR_COL_DICT);
    tsr_frame_result *r = compute(f);
    double *b = malloc(N * sizeof *b);
    uint8_t *valid = malloc(N / 8 + 1);
    col_values(r, 1, b, N * sizeof *b, valid);
    for (int k = 0; k < N; k++) {
      assert_true(bit(valid, k));
      assert_true(b[k] == (k == 70000 ? 2.5 : (double)k));
    }
    for (int k = 0; k < N; k += 997) {
      char want[16];
      sprintf(want, "%d", k % 10);
      assert_string_equal(cell(r, 2, k), want);
    }
    assert_string_equal(cell(r, 2, 150000), "hello");
    int64_t size;
    const int64_t *offs;
    const char *data;
    assert_ok(tsr_frame_result_dict(r, 2, &size, &offs, &data));
    assert_int_equal(size, 12); /* 0..9, "70000" and "hello" */
    free(b);
    free(valid);
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&f);
  }
}

/* ---- dialect ------------------------------------------------------------------------- */

static void test_csv_read__sniffs_delimiter_and_header(void **state) {
  tsr_ctx *ctx = *state;
  static const char *const texts[4] = {"x;y\n1;a b\n2;c,d\n", "x\ty\n1\ta b\n2\tc,d\n",
                                       "x|y\n1|a b\n2|c,d\n", "x,y\n1,a b\n2,\"c,d\"\n"};
  for (int k = 0; k < 4; k++) {
    const char *p = write_file("delim.csv", texts[k], strlen(texts[k]));
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
    assert_int_equal(tsr_frame_ncols(f), 2);
    assert_string_equal(tsr_frame_col_name(f, 1), "y");
    assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_INT64);
    tsr_frame_result *r = compute(f);
    assert_string_equal(cell(r, 1, 0), "a b");
    assert_string_equal(cell(r, 1, 1), "c,d");
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&f);
  }
  /* no header: the first record fits the types */
  const char *p = WRITE("nohdr.csv", "1,2.5\n3,4\n");
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_nrows_known(f), 2);
  assert_string_equal(tsr_frame_col_name(f, 0), "column0");
  assert_string_equal(tsr_frame_col_name(f, 1), "column1");
  assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_FLOAT64);
  tsr_frame_destroy(&f);
  /* forced */
  tsr_csv_options o = {0};
  o.header = TSR_CSV_HEADER_YES;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_nrows_known(f), 1);
  assert_string_equal(tsr_frame_col_name(f, 1), "2.5");
  tsr_frame_destroy(&f);
  p = WRITE("strs.csv", "a,b\nc,d\n");
  o.header = TSR_CSV_HEADER_NO;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_nrows_known(f), 2);
  tsr_frame_destroy(&f);
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f)); /* all strings: a header */
  assert_int_equal(tsr_frame_nrows_known(f), 1);
  assert_string_equal(tsr_frame_col_name(f, 0), "a");
  tsr_frame_destroy(&f);
}

/* Quotes, doubled quotes, embedded newlines and delimiters, CRLF and a
 * BOM, with blocks so small that cuts fall inside quoted fields. */
static void test_csv_read__quoting_across_blocks(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 3000 };
  char *text = malloc((size_t)N * 64);
  assert_non_null(text);
  size_t off = (size_t)sprintf(text, "\xEF\xBB\xBFid,text,n\r\n");
  for (int k = 0; k < N; k++) {
    if (k % 3 == 0)
      off += (size_t)sprintf(text + off, "%d,\"line1\nline2 \"\"%d\"\", x\",%d\r\n", k, k, k);
    else if (k % 3 == 1)
      off += (size_t)sprintf(text + off, "%d,\"a,b\r\nc\",%d\r\n", k, k);
    else
      off += (size_t)sprintf(text + off, "%d,plain%d,%d\r\n", k, k, k);
  }
  const char *p = write_file("quotes.csv", text, off);
  free(text);
  int64_t blocks[4] = {0, 7, 100, 4096};
  for (int bi = 0; bi < 4; bi++) {
    tsr_csv_options o = {0};
    o.block_bytes = blocks[bi];
    o.dict_max = -1;
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
    assert_string_equal(tsr_frame_col_name(f, 0), "id");
    assert_int_equal(tsr_frame_nrows_known(f), N);
    assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_STRING);
    tsr_frame_result *r = compute(f);
    int64_t *ids = malloc(N * sizeof *ids), *ns = malloc(N * sizeof *ns);
    col_values(r, 0, ids, N * sizeof *ids, NULL);
    col_values(r, 2, ns, N * sizeof *ns, NULL);
    for (int k = 0; k < N; k++) {
      assert_int_equal(ids[k], k);
      assert_int_equal(ns[k], k);
      char want[64];
      if (k % 3 == 0)
        sprintf(want, "line1\nline2 \"%d\", x", k);
      else if (k % 3 == 1)
        sprintf(want, "a,b\r\nc");
      else
        sprintf(want, "plain%d", k);
      assert_string_equal(cell(r, 1, k), want);
    }
    free(ids);
    free(ns);
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&f);
  }
}

/* ---- options ---------------------------------------------------------------------------- */

static void test_csv_read__nulls_schema_columns(void **state) {
  tsr_ctx *ctx = *state;
  const char *p = WRITE("opts.csv", "a,b,c\n1,NA,x\n,\"\",NULL\n3,4,\"NA\"\n");
  tsr_frame *f = NULL;
  /* default: only the unquoted empty field is null; "" is an empty string */
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_STRING);
  tsr_frame_result *r = compute(f);
  assert_string_equal(cell(r, 1, 0), "NA");
  assert_string_equal(cell(r, 1, 1), "");
  assert_string_equal(cell(r, 2, 1), "NULL");
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  /* asked: NA and NULL are nulls when unquoted */
  tsr_csv_options o = {0};
  o.nulls = "NA,NULL";
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_INT64);
  r = compute(f);
  assert_string_equal(cell(r, 1, 0), "<null>");
  assert_string_equal(cell(r, 1, 1), "");
  assert_string_equal(cell(r, 2, 1), "<null>");
  assert_string_equal(cell(r, 2, 2), "NA");
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  /* a schema and a subset of columns, in another order */
  o = (tsr_csv_options){0};
  o.schema = "x:int32,y:string,z:dict";
  o.columns = "z,x";
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_ncols(f), 2);
  assert_string_equal(tsr_frame_col_name(f, 0), "z");
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_DICT);
  assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_INT32);
  r = compute(f);
  int32_t x[3];
  uint8_t valid[1];
  col_values(r, 1, x, sizeof x, valid);
  assert_int_equal(x[0], 1);
  assert_false(bit(valid, 1));
  assert_int_equal(x[2], 3);
  assert_string_equal(cell(r, 0, 0), "x");
  assert_string_equal(cell(r, 0, 1), "NULL");
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  /* errors in the options name what is wrong */
  o = (tsr_csv_options){0};
  o.columns = "a,q";
  assert_fails(tsr_frame_read_csv(ctx, p, &o, &f), TSR_EINVAL, "no column 'q'");
  o = (tsr_csv_options){0};
  o.schema = "a:int64,b:int64";
  assert_fails(tsr_frame_read_csv(ctx, p, &o, &f), TSR_EINVAL,
               "the schema names 2 columns but the file's records have 3 fields");
  o.schema = "a:int64,b:blob,c:string";
  assert_fails(tsr_frame_read_csv(ctx, p, &o, &f), TSR_EINVAL, "unknown type 'blob'");
  assert_null(f);
}

static void test_csv_read__dictionaries(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 1000 };
  char *text = malloc(N * 16);
  size_t off = (size_t)sprintf(text, "k,u\n");
  for (int k = 0; k < N; k++)
    off += (size_t)sprintf(text + off, "%c%c,u%d\n", 'a' + (k * 7) % 5, 'x' + k % 2, k);
  const char *p = write_file("dict.csv", text, off);
  free(text);
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_DICT);
  assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_STRING); /* all distinct */
  tsr_frame_result *r = compute(f);
  int64_t size;
  const int64_t *offs;
  const char *data;
  assert_ok(tsr_frame_result_dict(r, 0, &size, &offs, &data));
  assert_int_equal(size, 10);
  assert_memory_equal(data, "axaybxbycxcydxdyexey", 20); /* sorted */
  for (int k = 0; k < N; k++) {
    char want[4] = {(char)('a' + (k * 7) % 5), (char)('x' + k % 2), 0, 0};
    assert_string_equal(cell(r, 0, k), want);
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  tsr_csv_options o = {0};
  o.dict_max = 9; /* 10 distinct values: too many */
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_STRING);
  tsr_frame_destroy(&f);
  o.dict_max = -1;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_STRING);
  tsr_frame_destroy(&f);
}

/* ---- errors and bad rows --------------------------------------------------------------- */

static void test_csv_read__errors_name_file_line_column(void **state) {
  tsr_ctx *ctx = *state;
  tsr_frame *f = NULL;
  char missing[400];
  snprintf(missing, sizeof missing, "%s/none.csv", dir);
  assert_fails(tsr_frame_read_csv(ctx, missing, NULL, &f), TSR_EIO, "none.csv");
  assert_fails(tsr_frame_read_csv(ctx, dir, NULL, &f), TSR_EIO, "is a directory");
  const char *p = WRITE("count.csv", "a,b,c\n1,2,3\n4,5\n7,8,9\n");
  char want[600];
  snprintf(want, sizeof want, "%s: line 3, column 3: expected 3 fields, found 2", p);
  assert_fails(tsr_frame_read_csv(ctx, p, NULL, &f), TSR_EPARSE, want);
  p = WRITE("many.csv", "a,b\n1,2\n\"x\ny\",5\n4,5,6\n");
  snprintf(want, sizeof want, "%s: line 5, column 3: expected 2 fields, found 3", p);
  assert_fails(tsr_frame_read_csv(ctx, p, NULL, &f), TSR_EPARSE, want);
  p = WRITE("type.csv", "a,b\n1,2\n3,x4\n");
  tsr_csv_options o = {0};
  o.schema = "a:int64,b:int64";
  snprintf(want, sizeof want, "%s: line 3, column 2 ('b'): expected int64, found 'x4'", p);
  assert_fails(tsr_frame_read_csv(ctx, p, &o, &f), TSR_EPARSE, want);
  p = WRITE("utf8.csv", "a,b\n1,ok\n2,bad\xff\n");
  snprintf(want, sizeof want, "%s: line 3, column 2 ('b'): invalid UTF-8", p);
  assert_fails(tsr_frame_read_csv(ctx, p, NULL, &f), TSR_EPARSE, want);
  o = (tsr_csv_options){0};
  o.replace_invalid_utf8 = 1;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  tsr_frame_result *r = compute(f);
  assert_string_equal(cell(r, 1, 1), "bad\xEF\xBF\xBD");
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  p = WRITE("open.csv", "a,b\n1,\"never closed\n2,3\n");
  snprintf(want, sizeof want, "%s: line 2, column 2: a quoted field that is never closed", p);
  assert_fails(tsr_frame_read_csv(ctx, p, NULL, &f), TSR_EPARSE, want);
  p = WRITE("stray.csv", "a,b\n1,ab\"c\n");
  snprintf(want, sizeof want, "%s: line 2, column 2: a quote inside an unquoted field", p);
  assert_fails(tsr_frame_read_csv(ctx, p, NULL, &f), TSR_EPARSE, want);
  assert_null(f);
}

static void test_csv_read__bad_rows_null_and_skip(void **state) {
  tsr_ctx *ctx = *state;
  const char *p = WRITE("bad.csv", "a,b\n1,2\n3\n4,x\n5,6,7\n8,9\n");
  tsr_csv_options o = {0};
  o.schema = "a:int64,b:int64";
  o.bad_rows = TSR_CSV_BAD_NULL;
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_nrows_known(f), 5);
  assert_int_equal(tsr_frame_csv_bad_rows(f), 3);
  tsr_frame_result *r = compute(f);
  int64_t a[5], b[5];
  uint8_t va[1], vb[1];
  col_values(r, 0, a, sizeof a, va);
  col_values(r, 1, b, sizeof b, vb);
  const int64_t wa[5] = {1, 3, 4, 5, 8}, wb[5] = {2, 0, 0, 6, 9};
  for (int k = 0; k < 5; k++) {
    assert_true(bit(va, k));
    assert_int_equal(a[k], wa[k]);
    assert_int_equal(bit(vb, k), k != 1 && k != 2);
    if (k != 1 && k != 2)
      assert_int_equal(b[k], wb[k]);
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  o.bad_rows = TSR_CSV_BAD_SKIP;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_nrows_known(f), 2);
  assert_int_equal(tsr_frame_csv_bad_rows(f), 3);
  r = compute(f);
  col_values(r, 0, a, 2 * sizeof a[0], NULL);
  col_values(r, 1, b, 2 * sizeof b[0], NULL);
  assert_int_equal(a[0], 1);
  assert_int_equal(b[0], 2);
  assert_int_equal(a[1], 8);
  assert_int_equal(b[1], 9);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

static void test_csv_read__empty_and_header_only(void **state) {
  tsr_ctx *ctx = *state;
  const char *p = WRITE("empty.csv", "");
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_ncols(f), 0);
  assert_int_equal(tsr_frame_nrows_known(f), 0);
  tsr_frame_destroy(&f);
  p = WRITE("hdr.csv", "a,b,c\n");
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_ncols(f), 3);
  assert_int_equal(tsr_frame_nrows_known(f), 0);
  for (int i = 0; i < 3; i++)
    assert_int_equal(tsr_frame_col_type(f, i).id, TSR_COL_STRING);
  tsr_frame_result *r = compute(f);
  assert_int_equal(tsr_frame_result_nrows(r), 0);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  /* no final newline, blank lines skipped */
  p = WRITE("blank.csv", "a,b\n\n1,2\n\n3,4");
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_nrows_known(f), 2);
  r = compute(f);
  int64_t b[2];
  col_values(r, 1, b, sizeof b, NULL);
  assert_int_equal(b[0], 2);
  assert_int_equal(b[1], 4);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

/* ---- gzip, memory, threads ---------------------------------------------------------------- */

static void test_csv_read__gzip(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  snprintf(path, sizeof path, "%s/g.csv.gz", dir);
  gzFile gz = gzopen(path, "wb");
  assert_non_null(gz);
  gzprintf(gz, "k,v\n");
  for (int k = 0; k < 5000; k++)
    gzprintf(gz, "%d,%d.5\n", k, k);
  assert_int_equal(gzclose(gz), Z_OK);
  tsr_frame *f = NULL;
  tsr_csv_options o = {0};
  o.block_bytes = 4096;
  assert_ok(tsr_frame_read_csv(ctx, path, &o, &f));
  assert_int_equal(tsr_frame_nrows_known(f), 5000);
  assert_true(tsr_frame_nchunks(f) > 1);
  tsr_frame_result *r = compute(f);
  double v[5000];
  col_values(r, 1, v, sizeof v, NULL);
  for (int k = 0; k < 5000; k++)
    assert_true(v[k] == k + 0.5);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  /* the temporary file is gone with the frame */
  char cmd[700];
  snprintf(cmd, sizeof cmd, "ls -a '%s' | grep -q tessera-g.csv.gz",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  assert_int_not_equal(system(cmd), 0);
  snprintf(path, sizeof path, "%s/notgz.csv.gz", dir);
  write_file("notgz.csv.gz", "\x1f\x8b\x08garbage", 11);
  assert_fails(tsr_frame_read_csv(ctx, path, NULL, &f), TSR_EIO, "notgz.csv.gz");
}

/* A sum over a CSV four times larger than the memory limit. */
static void test_csv_read__larger_than_memory_limit(void **state) {
  (void)state;
  enum { N = 400000 };
  char *text = malloc((size_t)N * 24);
  size_t off = (size_t)sprintf(text, "a,b\n");
  int64_t want = 0;
  for (int k = 0; k < N; k++) {
    off += (size_t)sprintf(text + off, "%d,s%d\n", k, k % 7);
    want += k;
  }
  const char *p = write_file("big.csv", text, off);
  free(text);
  uint64_t limit = off / 4;
  tsr_ctx *ctx = NULL;
  assert_ok(tsr_ctx_create(&ctx));
  assert_ok(tsr_ctx_set_memory_limit(ctx, limit));
  tsr_csv_options o = {0};
  o.block_bytes = 64 * 1024;
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  tsr_array *a = NULL, *s = NULL;
  assert_ok(tsr_frame_column_array(f, "a", NULL, &a));
  assert_ok(tsr_sum(a, NULL, 0, false, &s));
  int64_t got = 0;
  assert_ok(tsr_array_to_buffer(s, &got, sizeof got));
  assert_true(got == want);
  tsr_memory_stats m;
  assert_ok(tsr_ctx_memory_stats(ctx, &m));
  assert_true(m.peak_bytes <= limit);
  tsr_array_destroy(&a);
  tsr_array_destroy(&s);
  tsr_frame_destroy(&f);
  tsr_ctx_destroy(&ctx);
}

/* The same values for 1 and 2 threads and any block size; the chunks
 * depend on the block size alone. */
static void test_csv_read__independent_of_threads(void **state) {
  (void)state;
  enum { N = 20000 };
  char *text = malloc((size_t)N * 48);
  size_t off = (size_t)sprintf(text, "i,f,s\n");
  for (int k = 0; k < N; k++)
    off += (size_t)sprintf(text + off, "%d,%d.%03d,\"%s%d\"\n", k * 3, k, k % 1000,
                           k % 5 ? "v" : "a longer string, quoted ", k % 50);
  const char *p = write_file("threads.csv", text, off);
  free(text);
  int64_t ref_chunks[3] = {0};
  double *ref = malloc(N * sizeof *ref), *got = malloc(N * sizeof *got);
  for (int threads = 1; threads <= 2; threads++) {
    tsr_ctx *ctx = NULL;
    assert_ok(tsr_ctx_create(&ctx));
    assert_ok(tsr_ctx_set_threads(ctx, threads));
    const int64_t blocks[3] = {333, 8192, 0};
    for (int bi = 0; bi < 3; bi++) {
      tsr_csv_options o = {0};
      o.block_bytes = blocks[bi];
      tsr_frame *f = NULL;
      assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
      if (threads == 1)
        ref_chunks[bi] = tsr_frame_nchunks(f);
      assert_int_equal(tsr_frame_nchunks(f), ref_chunks[bi]);
      tsr_frame_result *r = NULL;
      assert_ok(tsr_frame_compute(f, NULL, &r));
      assert_ok(tsr_frame_result_values(r, 1, got, N * sizeof *got, NULL));
      if (threads == 1 && bi == 0)
        memcpy(ref, got, N * sizeof *got);
      assert_memory_equal(ref, got, N * sizeof *got);
      for (int k = 0; k < N; k += 101) {
        const char *t;
        size_t n;
        bool is_null;
        char want[64];
        sprintf(want, "%s%d", k % 5 ? "v" : "a longer string, quoted ", k % 50);
        assert_ok(tsr_frame_result_string(r, 2, k, &t, &n, &is_null));
        assert_int_equal(n, strlen(want));
        assert_memory_equal(t, want, n);
      }
      tsr_frame_result_destroy(&r);
      tsr_frame_destroy(&f);
    }
    tsr_ctx_destroy(&ctx);
  }
  assert_true(ref_chunks[0] > 64);
  free(ref);
  free(got);
}

/* Quotes the sniffer's samples miss: a cut inside a quoted field with an
 * embedded newline is found out by the scan, and the blocks are then found
 * exactly. */
static void test_csv_read__quotes_outside_the_samples(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 120000 };
  char *text = malloc((size_t)N * 40);
  assert_non_null(text);
  size_t off = (size_t)sprintf(text, "a,b\n");
  for (int k = 0; k < N; k++) {
    if (k >= 30000 && k < 30400)
      off += (size_t)sprintf(text + off, "%d,\"x\n%d\"\n", k, k);
    else
      off += (size_t)sprintf(text + off, "%d,y%d\n", k, k);
  }
  const char *p = write_file("late_quotes.csv", text, off);
  free(text);
  tsr_csv_options o = {0};
  o.block_bytes = 1000;
  o.dict_max = -1;
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_nrows_known(f), N);
  tsr_frame_result *r = compute(f);
  int64_t *a = malloc(N * sizeof *a);
  col_values(r, 0, a, N * sizeof *a, NULL);
  for (int k = 0; k < N; k++) {
    assert_int_equal(a[k], k);
    if (k % 97 == 0 || (k >= 29990 && k < 30410)) {
      char want[32];
      sprintf(want, k >= 30000 && k < 30400 ? "x\n%d" : "y%d", k);
      assert_string_equal(cell(r, 1, k), want);
    }
  }
  free(a);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

/* The error reported is the file's first, whichever block or thread finds
 * it; explicit delimiter and quote; a date column widened to timestamps. */
static void test_csv_read__first_error_and_explicit_dialect(void **state) {
  (void)state;
  enum { N = 50000 };
  char *text = malloc((size_t)N * 32);
  size_t off = (size_t)sprintf(text, "a;b\n");
  for (int k = 0; k < N; k++) {
    if (k == 20000 || k == 45000)
      off += (size_t)sprintf(text + off, "%d\n", k); /* one field short */
    else
      off += (size_t)sprintf(text + off, "%d;'q;%d'\n", k, k);
  }
  const char *p = write_file("first_err.csv", text, off);
  free(text);
  for (int threads = 1; threads <= 2; threads++) {
    tsr_ctx *ctx = NULL;
    assert_ok(tsr_ctx_create(&ctx));
    assert_ok(tsr_ctx_set_threads(ctx, threads));
    tsr_csv_options o = {0};
    o.delimiter = ';';
    o.quote = '\'';
    o.block_bytes = 4096;
    tsr_frame *f = NULL;
    assert_fails(tsr_frame_read_csv(ctx, p, &o, &f), TSR_EPARSE,
                 "line 20002, column 2: expected 2 fields, found 1");
    o.bad_rows = TSR_CSV_BAD_SKIP;
    assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
    assert_int_equal(tsr_frame_nrows_known(f), N - 2);
    assert_int_equal(tsr_frame_csv_bad_rows(f), 2);
    tsr_frame_result *r = compute(f);
    assert_string_equal(cell(r, 1, 19999), "q;19999");
    assert_string_equal(cell(r, 1, 20000), "q;20001");
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&f);
    tsr_ctx_destroy(&ctx);
  }
}

static void test_csv_read__date_widens_to_timestamp(void **state) {
  tsr_ctx *ctx = *state;
  const char *p = WRITE("dates.csv", "d\n2024-03-01\n2024-03-02 10:00:00\n");
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_TIMESTAMP);
  tsr_frame_result *r = compute(f);
  int64_t t[2];
  col_values(r, 0, t, sizeof t, NULL);
  assert_true(t[0] == (int64_t)19783 * 86400 * 1000000);
  assert_true(t[1] == ((int64_t)19784 * 86400 + 36000) * 1000000);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  /* a value no type but string fits, after invalid UTF-8 in the same
   * column: the widened column is validated again */
  p = WRITE("late_utf8.csv", "a,b\n1,2\n2,\xff\n3,x\n");
  assert_fails(tsr_frame_read_csv(ctx, p, NULL, &f), TSR_EPARSE,
               "line 3, column 2 ('b'): invalid UTF-8");
}

/* A first record longer than the sniffer's 256 KiB head, and a huge
 * quoted field with newlines further on. */
static void test_csv_read__huge_fields(void **state) {
  tsr_ctx *ctx = *state;
  enum { BIG = 700000 };
  char *text = malloc(3 * BIG);
  assert_non_null(text);
  size_t off = 0;
  text[off++] = '"';
  for (int k = 0; k < BIG; k++)
    text[off++] = k % 1000 == 999 ? '\n' : (char)('a' + k % 26);
  text[off++] = '"';
  off += (size_t)sprintf(text + off, ",1\nshort,2\n\"");
  for (int k = 0; k < BIG; k++)
    text[off++] = k % 500 == 0 ? ',' : 'z';
  off += (size_t)sprintf(text + off, "\",3\n");
  const char *p = write_file("huge.csv", text, off);
  tsr_csv_options o = {0};
  o.header = TSR_CSV_HEADER_NO;
  o.block_bytes = 4096;
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_nrows_known(f), 3);
  assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_INT64);
  tsr_frame_result *r = compute(f);
  const char *t;
  size_t n;
  bool is_null;
  assert_ok(tsr_frame_result_string(r, 0, 0, &t, &n, &is_null));
  assert_int_equal(n, BIG);
  assert_memory_equal(t, text + 1, BIG);
  assert_string_equal(cell(r, 0, 1), "short");
  assert_ok(tsr_frame_result_string(r, 0, 2, &t, &n, &is_null));
  assert_int_equal(n, BIG);
  assert_memory_equal(t, text + BIG + 2 + strlen(",1\nshort,2\n\""), BIG);
  int64_t v[3];
  col_values(r, 1, v, sizeof v, NULL);
  assert_true(v[0] == 1 && v[1] == 2 && v[2] == 3);
  free(text);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

/* A column whose sample values are all null is typed by the scan from the
 * values it finds. */
static void test_csv_read__sparse_column_typed_by_the_scan(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 400000 };
  char *text = malloc((size_t)N * 16);
  assert_non_null(text);
  size_t off = (size_t)sprintf(text, "a,b,c\n");
  for (int k = 0; k < N; k++)
    off +=
        (size_t)sprintf(text + off, k >= 50000 && k < 50010 ? "%d,%d,\n" : "%d,,\n", k, k - 50000);
  const char *p = write_file("sparse.csv", text, off);
  free(text);
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_INT64);
  assert_int_equal(tsr_frame_col_type(f, 2).id, TSR_COL_STRING); /* never a value */
  tsr_frame_result *r = compute(f);
  int64_t *b = malloc(N * sizeof *b);
  uint8_t *valid = malloc(N / 8 + 1);
  col_values(r, 1, b, N * sizeof *b, valid);
  for (int k = 0; k < N; k++) {
    bool has = k >= 50000 && k < 50010;
    assert_int_equal(bit(valid, k), has);
    if (has)
      assert_int_equal(b[k], k - 50000);
  }
  assert_string_equal(cell(r, 2, 7), "<null>");
  free(b);
  free(valid);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, test_ctx_setup, test_ctx_teardown)
  const struct CMUnitTest tests[] = {
      T(test_csv_read__types),
      T(test_csv_read__floats_round_as_strtod),
      T(test_csv_read__widening_past_the_samples),
      T(test_csv_read__sniffs_delimiter_and_header),
      T(test_csv_read__quoting_across_blocks),
      T(test_csv_read__nulls_schema_columns),
      T(test_csv_read__dictionaries),
      T(test_csv_read__errors_name_file_line_column),
      T(test_csv_read__bad_rows_null_and_skip),
      T(test_csv_read__empty_and_header_only),
      T(test_csv_read__gzip),
      T(test_csv_read__larger_than_memory_limit),
      T(test_csv_read__independent_of_threads),
      T(test_csv_read__quotes_outside_the_samples),
      T(test_csv_read__first_error_and_explicit_dialect),
      T(test_csv_read__date_widens_to_timestamp),
      T(test_csv_read__huge_fields),
      T(test_csv_read__sparse_column_typed_by_the_scan),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
