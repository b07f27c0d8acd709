/* test_csv_write.c — tsr_frame_write_csv: exact text for hand cases
 * (quoting, floats as DuckDB writes them, nulls against empty strings,
 * dates, timestamps, dictionaries), the shortest float text against a
 * naive reference over random doubles, the same file for any chunking and
 * thread count, atomicity (an existing file untouched without overwrite,
 * nothing left after a failure), and .gz output read by gzip -dc. */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame/csv_format.h"
#include "test_util.h"

static char dir[256];

static int dir_setup(void **state) {
  snprintf(dir, sizeof dir, "/tmp/tsr_csvw_%d", (int)getpid());
  mkdir(dir, 0755);
  return test_ctx_setup(state);
}

static int dir_teardown(void **state) {
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    return -1;
  return test_ctx_teardown(state);
}

static char *slurp(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *buf = malloc((size_t)size + 1);
  assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
  buf[size] = '\0';
  fclose(fp);
  if (n)
    *n = (size_t)size;
  return buf;
}

/* Files in dir other than the given one (temporary files left behind). */
static int count_files(void) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static void check_f64(double x, const char *want) {
  char buf[64];
  size_t n = tsr__fmt_f64(buf, x);
  buf[n] = '\0';
  if (strcmp(buf, want) != 0)
    print_error("%.17g: got '%s', want '%s'\n", x, buf, want);
  assert_string_equal(buf, want);
}

static void test_csv_write__float_text(void **state) {
  (void)state;
  /* As DuckDB writes them (COPY ... TO 'x.csv'; checked with DuckDB 1.5). */
  check_f64(0.1, "0.1");
  check_f64(1e300, "1e+300");
  check_f64(5e-324, "5e-324");
  check_f64(-0.0, "-0.0");
  check_f64(0.0, "0.0");
  check_f64(NAN, "nan");
  check_f64(INFINITY, "inf");
  check_f64(-INFINITY, "-inf");
  check_f64(100.0, "100.0");
  check_f64(1e16, "1e+16");
  check_f64(1e15, "1000000000000000.0");
  check_f64(0.0001, "0.0001");
  check_f64(0.00001, "1e-05");
  check_f64(123456789012345680000.0, "1.2345678901234568e+20");
  check_f64(1.7976931348623157e308, "1.7976931348623157e+308");
  check_f64(23.574912, "23.574912");
  check_f64(-2.5, "-2.5");
  check_f64(1.0 / 3, "0.3333333333333333");
  check_f64(2.2250738585072014e-308, "2.2250738585072014e-308");
  check_f64(123456.7, "123456.7");
  char buf[32];
  size_t n = tsr__fmt_f32(buf, 0.1f);
  buf[n] = '\0';
  assert_string_equal(buf, "0.1");
  n = tsr__fmt_f32(buf, 1e20f);
  buf[n] = '\0';
  assert_string_equal(buf, "1e+20");
  n = tsr__fmt_f32(buf, 1.5f);
  buf[n] = '\0';
  assert_string_equal(buf, "1.5");
}

/* The fewest significant digits that read back, found naively. */
static int naive_digits(double x) {
  char buf[64];
  for (int p = 1; p <= 17; p++) {
    snprintf(buf, sizeof buf, "%.*e", p - 1, x);
    if (strtod(buf, NULL) == x)
      return p;
  }
  return 17;
}

static int sig_digits(const char *s) {
  int n = 0, lead = 1, zeros = 0;
  for (; *s && *s != 'e'; s++) {
    if (*s < '0' || *s > '9')
      continue;
    if (lead && *s == '0')
      continue;
    lead = 0;
    if (*s == '0') {
      zeros++;
    } else {
      n += zeros + 1;
      zeros = 0;
    }
  }
  return n == 0 ? 1 : n;
}

static void test_csv_write__shortest_round_trip(void **state) {
  (void)state;
  uint64_t seed = 12345;
  for (int i = 0; i < 60000; i++) {
    uint64_t u = tsr_random_u64(seed, (uint64_t)i);
    double x;
    switch (i % 4) {
    case 0: /* any bit pattern */
      memcpy(&x, &u, sizeof x);
      break;
    case 1: /* decimals of few digits, as data sets hold them */
      x = (double)(int64_t)(u % 100000000) / pow(10, (double)(u >> 60));
      break;
    case 2:
      x = tsr_random_uniform(seed, (uint64_t)i) * 100;
      break;
    default:
      x = round(tsr_random_uniform(seed, (uint64_t)i) * 1e8) / 1e6 * ((u >> 63) ? -1 : 1);
    }
    if (isnan(x) || isinf(x))
      continue;
    char buf[64];
    size_t n = tsr__fmt_f64(buf, x);
    assert_true(n <= 26);
    buf[n] = '\0';
    double y = strtod(buf, NULL);
    if (memcmp(&x, &y, sizeof x) != 0)
      print_error("%.17g wrote '%s'\n", x, buf);
    assert_memory_equal(&x, &y, sizeof x);
    if (x != 0 && sig_digits(buf) != naive_digits(fabs(x)))
      print_error("%.17g wrote '%s', %d digits; %d suffice\n", x, buf, sig_digits(buf),
                  naive_digits(fabs(x)));
    assert_true(x == 0 || sig_digits(buf) == naive_digits(fabs(x)));
  }
}

#define ROWS 7

/* A frame of every kind of column, hand-made. */
static tsr_frame *hand_frame(tsr_ctx *ctx, int64_t chunk_rows) {
  static const char sdata[] = "plaina,bq\"xline\nbreak lead"
                              "long string ending with a space ";
  static const int64_t soff[ROWS + 1] = {0, 5, 8, 11, 21, 26, 26, 58};
  static const uint8_t svalid[1] = {0x5f}; /* row 5 null; row 6 valid but... */
  static const double f[ROWS] = {0.1, 1e300, 5e-324, -0.0, 100.0, 0, 1.0 / 3};
  static const uint8_t fvalid[1] = {0x5f}; /* row 5 null, row 7 absent */
  static const int32_t i32[ROWS] = {0, -1, 2147483647, -2147483647 - 1, 42, 7, 1000000};
  static const int64_t i64[ROWS] = {INT64_MIN, INT64_MAX, 0, -5, 10, 100, 999};
  static const uint8_t b[ROWS] = {1, 0, 1, 0, 1, 0, 1};
  static const int32_t dates[ROWS] = {0, -1, 19753, 11016, -719528, 2932897, 60};
  static const int64_t ts[ROWS] = {0,          -1,           1704164645500000, 1704164645000000,
                                   1000,       -62135596800000000, 86399999999};
  static const int64_t ts_ns[ROWS] = {1704164645123456789, 0, 1, -1, 10, 100, 0};
  static const int32_t codes[ROWS] = {0, 1, 2, 0, 1, 2, 0};
  static const int64_t doff[4] = {0, 0, 3, 6};
  static const char ddata[] = " a,b\"c";
  /* Dictionary: "", " a,", "b\"c" — sorted byte order. */
  static const uint64_t u64[ROWS] = {0, UINT64_MAX, 1, 2, 3, 4, 5};
  static const float f32[ROWS] = {0.1f, 1.5f, -2.0f, 1e20f, 0, 3.25f, 7};
  static const int8_t i8[ROWS] = {-128, 127, 0, 1, -1, 5, 6};
  tsr_column_data cols[12];
  memset(cols, 0, sizeof cols);
  cols[0] = (tsr_column_data){.name = "s", .type = {TSR_COL_STRING, 0}, .length = ROWS,
                              .offsets = soff, .data = sdata, .validity = svalid};
  cols[1] = (tsr_column_data){.name = "f", .type = {TSR_COL_FLOAT64, 0}, .length = ROWS,
                              .values = f, .validity = fvalid};
  cols[2] = (tsr_column_data){.name = "i", .type = {TSR_COL_INT32, 0}, .length = ROWS,
                              .values = i32};
  cols[3] = (tsr_column_data){.name = "l", .type = {TSR_COL_INT64, 0}, .length = ROWS,
                              .values = i64};
  cols[4] = (tsr_column_data){.name = "b", .type = {TSR_COL_BOOL, 0}, .length = ROWS,
                              .values = b};
  cols[5] = (tsr_column_data){.name = "d", .type = {TSR_COL_DATE, 0}, .length = ROWS,
                              .values = dates};
  cols[6] = (tsr_column_data){.name = "t", .type = {TSR_COL_TIMESTAMP, TSR_TIME_US},
                              .length = ROWS, .values = ts};
  cols[7] = (tsr_column_data){.name = "tn", .type = {TSR_COL_TIMESTAMP, TSR_TIME_NS},
                              .length = ROWS, .values = ts_ns};
  cols[8] = (tsr_column_data){.name = "k", .type = {TSR_COL_DICT, 0}, .length = ROWS,
                              .values = codes, .dict_size = 3, .dict_offsets = doff,
                              .dict_data = ddata};
  cols[9] = (tsr_column_data){.name = "u", .type = {TSR_COL_UINT64, 0}, .length = ROWS,
                              .values = u64};
  cols[10] = (tsr_column_data){.name = "g", .type = {TSR_COL_FLOAT32, 0}, .length = ROWS,
                               .values = f32};
  cols[11] = (tsr_column_data){.name = "a b", .type = {TSR_COL_INT8, 0}, .length = ROWS,
                               .values = i8};
  tsr_frame *fr = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 12, cols, chunk_rows, TSR_BUFFER_COPY, NULL, NULL, &fr));
  return fr;
}

static const char hand_text[] =
    "s,f,i,l,b,d,t,tn,k,u,g,a b\n"
    "plain,0.1,0,-9223372036854775808,true,1970-01-01,1970-01-01 00:00:00,"
    "2024-01-02 03:04:05.123456789,\"\",0,0.1,-128\n"
    "\"a,b\",1e+300,-1,9223372036854775807,false,1969-12-31,1969-12-31 23:59:59.999999,"
    "1970-01-01 00:00:00,\" a,\",18446744073709551615,1.5,127\n"
    "\"q\"\"x\",5e-324,2147483647,0,true,2024-01-31,2024-01-02 03:04:05.5,"
    "1970-01-01 00:00:00.000000001,\"b\"\"c\",1,-2.0,0\n"
    "\"line\nbreak\",-0.0,-2147483648,-5,false,2000-02-29,2024-01-02 03:04:05,"
    "1969-12-31 23:59:59.999999999,\"\",2,1e+20,1\n"
    "\" lead\",100.0,42,10,true,0000-01-01,1970-01-01 00:00:00.001,"
    "1970-01-01 00:00:00.00000001,\" a,\",3,0.0,-1\n"
    ",,7,100,false,10000-01-01,0001-01-01 00:00:00,1970-01-01 00:00:00.0000001,\"b\"\"c\",4,3.25,"
    "5\n"
    "\"long string ending with a space \",0.3333333333333333,1000000,999,true,1970-03-02,"
    "1970-01-01 23:59:59.999999,1970-01-01 00:00:00,\"\",5,7.0,6\n";

static void test_csv_write__hand_cases_exact(void **state) {
  tsr_ctx *ctx = *state;
  char path[300];
  snprintf(path, sizeof path, "%s/hand.csv", dir);
  for (int64_t chunk = 1; chunk <= 8; chunk++) {
    tsr_frame *f = hand_frame(ctx, chunk);
    assert_ok(tsr_frame_write_csv(f, path, ',', true, NULL));
    size_t n;
    char *text = slurp(path, &n);
    if (strcmp(text, hand_text) != 0)
      print_error("chunk rows %lld: got\n%s\nwant\n%s\n", (long long)chunk, text, hand_text);
    assert_string_equal(text, hand_text);
    free(text);
    tsr_frame_destroy(&f);
  }
  assert_int_equal(count_files(), 1);
}

static void test_csv_write__delimiter_quotes(void **state) {
  tsr_ctx *ctx = *state;
  static const char sdata[] = "a;bc,d";
  static const int64_t soff[3] = {0, 3, 6};
  tsr_column_data col = {.name = "x;y", .type = {TSR_COL_STRING, 0}, .length = 2,
                         .offsets = soff, .data = sdata};
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 1, &col, 0, TSR_BUFFER_BORROW, NULL, NULL, &f));
  char path[300];
  snprintf(path, sizeof path, "%s/semi.csv", dir);
  assert_ok(tsr_frame_write_csv(f, path, ';', false, NULL));
  char *text = slurp(path, NULL);
  assert_string_equal(text, "\"x;y\"\n\"a;b\"\nc,d\n");
  free(text);
  assert_fails(tsr_frame_write_csv(f, path, '"', true, NULL), TSR_EINVAL, "delimiter");
  tsr_frame_destroy(&f);
}

static void test_csv_write__atomic(void **state) {
  tsr_ctx *ctx = *state;
  char path[300];
  snprintf(path, sizeof path, "%s/exists.csv", dir);
  FILE *fp = fopen(path, "w");
  fputs("old\n", fp);
  fclose(fp);
  tsr_frame *f = hand_frame(ctx, 3);
  assert_fails(tsr_frame_write_csv(f, path, ',', false, NULL), TSR_EIO, "exists.csv");
  char *text = slurp(path, NULL);
  assert_string_equal(text, "old\n");
  free(text);
  assert_int_equal(count_files(), 1);
  /* A directory that does not exist, and a directory as the target. */
  char bad[400];
  snprintf(bad, sizeof bad, "%s/no/such/dir.csv", dir);
  assert_fails(tsr_frame_write_csv(f, bad, ',', true, NULL), TSR_EIO, "no/such/dir.csv");
  assert_fails(tsr_frame_write_csv(f, dir, ',', true, NULL), TSR_EIO, "is a directory");
  /* A failure while computing (an allocation failing mid-run) leaves the
   * old file and no temporary file. */
  for (int k = 1; k < 40; k++) {
    assert_ok(tsr_ctx_set_fail_allocation(ctx, (uint64_t)k));
    tsr_status s = tsr_frame_write_csv(f, path, ',', true, NULL);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    text = slurp(path, NULL);
    if (s != TSR_OK) {
      assert_int_equal(s, TSR_ENOMEM);
      assert_string_equal(text, "old\n");
    } else {
      assert_string_equal(text, hand_text);
      free(text);
      break;
    }
    free(text);
    assert_int_equal(count_files(), 1);
  }
  assert_int_equal(count_files(), 1);
  /* With overwrite: replaced. */
  assert_ok(tsr_frame_write_csv(f, path, ',', true, NULL));
  text = slurp(path, NULL);
  assert_string_equal(text, hand_text);
  free(text);
  tsr_frame_destroy(&f);
}

static void test_csv_write__gzip(void **state) {
  tsr_ctx *ctx = *state;
  char path[300], cmd[700];
  snprintf(path, sizeof path, "%s/hand.csv.gz", dir);
  tsr_frame *f = hand_frame(ctx, 2);
  assert_ok(tsr_frame_write_csv(f, path, ',', false, NULL));
  snprintf(cmd, sizeof cmd, "gzip -dc '%s' > '%s/unzipped.csv'", path, dir);
  assert_int_equal(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "%s/unzipped.csv", dir);
  char *text = slurp(cmd, NULL);
  assert_string_equal(text, hand_text);
  free(text);
  tsr_frame_destroy(&f);
}

/* Many chunks and threads: the same bytes as one chunk on one thread. */
static void test_csv_write__same_bytes_any_chunking(void **state) {
  (void)state;
  enum { R = 100000 };
  double *x = malloc(R * sizeof *x);
  int64_t *k = malloc(R * sizeof *k);
  int64_t *off = malloc((R + 1) * sizeof *off);
  char *data = malloc((size_t)R * 24);
  int64_t o = 0;
  for (int i = 0; i < R; i++) {
    x[i] = tsr_random_uniform(7, (uint64_t)i) * 1000;
    k[i] = (int64_t)tsr_random_u64(8, (uint64_t)i);
    off[i] = o;
    o += sprintf(data + o, i % 3 ? "v%d" : "a longer value, %d", i);
  }
  off[R] = o;
  char p1[300], p2[300];
  snprintf(p1, sizeof p1, "%s/one.csv", dir);
  snprintf(p2, sizeof p2, "%s/many.csv", dir);
  for (int run = 0; run < 2; run++) {
    tsr_ctx *c = NULL;
    assert_ok(tsr_ctx_create(&c));
    if (run == 1)
      assert_ok(tsr_ctx_set_threads(c, 4));
    else
      assert_ok(tsr_ctx_set_threads(c, 1));
    tsr_column_data cols[3] = {
        {.name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = R, .values = x},
        {.name = "k", .type = {TSR_COL_INT64, 0}, .length = R, .values = k},
        {.name = "s", .type = {TSR_COL_STRING, 0}, .length = R, .offsets = off, .data = data}};
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_from_columns(c, 3, cols, run == 0 ? R : 2777, TSR_BUFFER_BORROW, NULL,
                                     NULL, &f));
    assert_ok(tsr_frame_write_csv(f, run == 0 ? p1 : p2, ',', false, NULL));
    tsr_frame_destroy(&f);
    tsr_ctx_destroy(&c);
  }
  size_t n1, n2;
  char *a = slurp(p1, &n1), *b = slurp(p2, &n2);
  assert_int_equal(n1, n2);
  assert_memory_equal(a, b, n1);
  /* Spot check: line 1 + i holds x[i] exactly. */
  char *line = strchr(a, '\n') + 1;
  for (int i = 0; i < R; i++) {
    char *end;
    double v = strtod(line, &end);
    assert_true(v == x[i]);
    assert_int_equal(*end, ',');
    long long kk = strtoll(end + 1, &end, 10);
    assert_int_equal(kk, k[i]);
    line = strchr(end, '\n') + 1;
  }
  free(a);
  free(b);
  free(x);
  free(k);
  free(off);
  free(data);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csv_write__float_text),
      cmocka_unit_test(test_csv_write__shortest_round_trip),
      cmocka_unit_test_setup_teardown(test_csv_write__hand_cases_exact, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_csv_write__delimiter_quotes, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_csv_write__atomic, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_csv_write__gzip, dir_setup, dir_teardown),
      cmocka_unit_test_setup_teardown(test_csv_write__same_bytes_any_chunking, dir_setup,
                                      dir_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
