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

#include "frame/value_text.h"
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
  static const int64_t ts[ROWS] = {
      0, -1, 1704164645500000, 1704164645000000, 1000, -62135596800000000, 86399999999};
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
  cols[0] = (tsr_column_data){.name = "s",
                              .type = {TSR_COL_STRING, 0},
                              .length = ROWS,
                              .offsets = soff,
                              .data = sdata,
                              .validity = svalid};
  cols[1] = (tsr_column_data){
      .name = "f", .type = {TSR_COL_FLOAT64, 0}, .length = ROWS, .values = f, .validity = fvalid};
  cols[2] =
      (tsr_column_data){.name = "i", .type = {TSR_COL_INT32, 0}, .length = ROWS, .values = i32};
  cols[3] =
      (tsr_column_data){.name = "l", .type = {TSR_COL_INT64, 0}, .length = ROWS, .values = i64};
  cols[4] = (tsr_column_data){.name = "b", .type = {TSR_COL_BOOL, 0}, .length = ROWS, .values = b};
  cols[5] =
      (tsr_column_data){.name = "d", .type = {TSR_COL_DATE, 0}, .length = ROWS, .values = dates};
  cols[6] = (tsr_column_data){
      .name = "t", .type = {TSR_COL_TIMESTAMP, TSR_TIME_US}, .length = ROWS, .values = ts};
  cols[7] = (tsr_column_data){
      .name = "tn", .type = {TSR_COL_TIMESTAMP, TSR_TIME_NS}, .length = ROWS, .values = ts_ns};
  cols[8] = (tsr_column_data){.name = "k",
                              .type = {TSR_COL_DICT, 0},
                              .length = ROWS,
                              .values = codes,
                              .dict_size = 3,
                              .dict_offsets = doff,
                              .dict_data = ddata};
  cols[9] =
      (tsr_column_data){.name = "u", .type = {TSR_COL_UINT64, 0}, .length = ROWS, .values = u64};
  cols[10] =
      (tsr_column_data){.name = "g", .type = {TSR_COL_FLOAT32, 0}, .length = ROWS, .values = f32};
  cols[11] =
      (tsr_column_data){.name = "a b", .type = {TSR_COL_INT8, 0}, .length = ROWS, .values = i8};
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
  tsr_column_data col = {
      .name = "x;y", .type = {TSR_COL_STRING, 0}, .length = 2, .offsets = soff, .data = sdata};
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
    assert_ok(
        tsr_frame_from_columns(c, 3, cols, run == 0 ? R : 2777, TSR_BUFFER_BORROW, NULL, NULL, &f));
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

/* ---- round trips: random frames of every type written and read back ---- */

#define RT_ROWS 3000
#define RT_COLS 19

static const char *const rt_types[RT_COLS] = {
    "bool",         "int8",          "int16",         "int32",         "int64",  "uint8", "uint16",
    "uint32",       "uint64",        "float32",       "float64",       "string", "dict",  "date",
    "timestamp[s]", "timestamp[ms]", "timestamp[us]", "timestamp[ns]", "float64"};

static void test_csv_write__round_trip_every_type(void **state) {
  tsr_ctx *ctx = *state;
  tsr_column_data cols[RT_COLS];
  memset(cols, 0, sizeof cols);
  char names[RT_COLS][16];
  void *vals[RT_COLS];
  uint8_t *valid[RT_COLS];
  int64_t *soff = malloc((RT_ROWS + 1) * sizeof *soff);
  char *sdata = malloc(RT_ROWS * 40);
  static const char *const pieces[] = {"a", ",", "\"", "\n", " ", "\r\n", "x", "é", "long text"};
  static const int64_t doff[5] = {0, 0, 2, 5, 9};
  static const char ddata[] = "a,b\"cx y ";
  uint64_t seed = 99;
  int64_t o = 0;
  for (int64_t r = 0; r < RT_ROWS; r++) {
    soff[r] = o;
    int parts = (int)(tsr_random_u64(seed, (uint64_t)r * 7) % 6);
    for (int p = 0; p < parts; p++) {
      const char *piece = pieces[tsr_random_u64(seed + 1, (uint64_t)(r * 8 + p)) % 9];
      size_t len = strlen(piece);
      memcpy(sdata + o, piece, len);
      o += (int64_t)len;
    }
  }
  soff[RT_ROWS] = o;
  for (int c = 0; c < RT_COLS; c++) {
    snprintf(names[c], sizeof names[c], "c%d", c);
    tsr_type t;
    assert_ok(tsr_type_parse(rt_types[c], &t));
    size_t w = tsr_type_width(t);
    vals[c] = malloc(RT_ROWS * (w > 8 ? 8 : w));
    valid[c] = calloc(RT_ROWS / 8 + 1, 1);
    for (int64_t r = 0; r < RT_ROWS; r++) {
      uint64_t u = tsr_random_u64(seed + 10 + (uint64_t)c, (uint64_t)r);
      if (u % 10 != 0)
        valid[c][r / 8] |= (uint8_t)(1u << (r % 8));
      u >>= 4;
      if (t.id == TSR_COL_STRING)
        continue;
      unsigned char *v = (unsigned char *)vals[c] + (size_t)r * w;
      switch (t.id) {
      case TSR_COL_BOOL:
        *v = (unsigned char)(u & 1);
        break;
      case TSR_COL_DICT: {
        int32_t k = (int32_t)(u % 4);
        memcpy(v, &k, 4);
        break;
      }
      case TSR_COL_DATE: { /* 1900..2100 */
        int32_t d = (int32_t)(u % 73000) - 25567;
        memcpy(v, &d, 4);
        break;
      }
      case TSR_COL_TIMESTAMP: {
        static const int64_t per_s[4] = {1, 1000, 1000000, 1000000000};
        int64_t secs = (int64_t)(u % 6000000000u) - 2000000000;
        int64_t x = secs * per_s[t.unit] + (int64_t)((u >> 40) % (uint64_t)per_s[t.unit]);
        memcpy(v, &x, 8);
        break;
      }
      case TSR_COL_FLOAT64:
        if (c == RT_COLS - 1) { /* decimals as data sets hold them */
          double d = (double)(int64_t)(u % 2000000000) / 1e6 - 1000;
          memcpy(v, &d, 8);
        } else {
          memcpy(v, &u, 8);
          u = tsr_random_u64(seed + 50, (uint64_t)r);
          memcpy(v, &u, 8);
        }
        break;
      default:
        u = tsr_random_u64(seed + 60 + (uint64_t)c, (uint64_t)r);
        memcpy(v, &u, w);
      }
    }
    cols[c].name = names[c];
    cols[c].type = t;
    cols[c].length = RT_ROWS;
    cols[c].validity = valid[c];
    if (t.id == TSR_COL_STRING) {
      cols[c].offsets = soff;
      cols[c].data = sdata;
    } else {
      cols[c].values = vals[c];
    }
    if (t.id == TSR_COL_DICT) {
      cols[c].dict_size = 4;
      cols[c].dict_offsets = doff;
      cols[c].dict_data = ddata;
    }
  }
  tsr_frame *f = NULL, *g = NULL;
  assert_ok(tsr_frame_from_columns(ctx, RT_COLS, cols, 37, TSR_BUFFER_BORROW, NULL, NULL, &f));
  char path[300], schema[1024];
  size_t at = 0;
  for (int c = 0; c < RT_COLS; c++)
    at += (size_t)snprintf(schema + at, sizeof schema - at, "%s%s:%s", c ? "," : "", names[c],
                           strcmp(rt_types[c], "dict") == 0 ? "string" : rt_types[c]);
  for (int gz = 0; gz < 2; gz++) {
    snprintf(path, sizeof path, "%s/rt.csv%s", dir, gz ? ".gz" : "");
    assert_ok(tsr_frame_write_csv(f, path, ',', false, NULL));
    tsr_csv_options ro;
    memset(&ro, 0, sizeof ro);
    ro.schema = schema;
    ro.block_bytes = 4096; /* many blocks */
    assert_ok(tsr_frame_read_csv(ctx, path, &ro, &g));
    tsr_frame_result *a = NULL, *b = NULL;
    assert_ok(tsr_frame_compute(f, NULL, &a));
    assert_ok(tsr_frame_compute(g, NULL, &b));
    assert_int_equal(tsr_frame_result_nrows(b), RT_ROWS);
    assert_int_equal(tsr_frame_result_ncols(b), RT_COLS);
    for (int c = 0; c < RT_COLS; c++) {
      tsr_type t = cols[c].type;
      if (t.id == TSR_COL_STRING || t.id == TSR_COL_DICT) {
        for (int64_t r = 0; r < RT_ROWS; r++) {
          const char *x, *y;
          size_t nx, ny;
          bool zx, zy;
          assert_ok(tsr_frame_result_string(a, c, r, &x, &nx, &zx));
          assert_ok(tsr_frame_result_string(b, c, r, &y, &ny, &zy));
          if (zx != zy || nx != ny || memcmp(x, y, nx) != 0)
            print_error("column %s row %lld: '%.*s' (null %d) read back as '%.*s' (null %d)\n",
                        rt_types[c], (long long)r, (int)nx, x, zx, (int)ny, y, zy);
          assert_int_equal(zx, zy);
          assert_int_equal(nx, ny);
          assert_memory_equal(x, y, nx);
        }
        continue;
      }
      size_t w = tsr_type_width(t);
      unsigned char *vx = malloc(RT_ROWS * w), *vy = malloc(RT_ROWS * w);
      uint8_t bx[RT_ROWS / 8 + 1], by[RT_ROWS / 8 + 1];
      assert_ok(tsr_frame_result_values(a, c, vx, RT_ROWS * w, bx));
      assert_ok(tsr_frame_result_values(b, c, vy, RT_ROWS * w, by));
      for (int64_t r = 0; r < RT_ROWS; r++) {
        bool ok = (bx[r / 8] >> (r % 8) & 1) == (by[r / 8] >> (r % 8) & 1);
        if (ok && (bx[r / 8] >> (r % 8) & 1)) {
          const unsigned char *px = vx + (size_t)r * w, *py = vy + (size_t)r * w;
          if (t.id == TSR_COL_FLOAT64) {
            double x, y;
            memcpy(&x, px, 8);
            memcpy(&y, py, 8);
            ok = (isnan(x) && isnan(y)) || memcmp(&x, &y, 8) == 0;
          } else if (t.id == TSR_COL_FLOAT32) {
            float x, y;
            memcpy(&x, px, 4);
            memcpy(&y, py, 4);
            ok = (isnan(x) && isnan(y)) || memcmp(&x, &y, 4) == 0;
          } else {
            ok = memcmp(px, py, w) == 0;
          }
        }
        if (!ok)
          print_error("column %d (%s) row %lld differs after the round trip\n", c, rt_types[c],
                      (long long)r);
        assert_true(ok);
      }
      free(vx);
      free(vy);
    }
    tsr_frame_result_destroy(&a);
    tsr_frame_result_destroy(&b);
    tsr_frame_destroy(&g);
  }
  tsr_frame_destroy(&f);
  for (int c = 0; c < RT_COLS; c++) {
    free(vals[c]);
    free(valid[c]);
  }
  free(soff);
  free(sdata);
}

/* The text is written as it is made, front to back: on one thread (an
 * order that does not depend on timing), a frame of 256 chunks peaks at
 * about what one of 8 such chunks does.  (When the chain ran back to front,
 * every chunk's text waited for the first one's: 30 times as much.) */
static void on_stats_peak(const tsr_run_stats *stats, void *user) {
  *(uint64_t *)user = stats->peak_bytes;
}

static void test_csv_write__text_written_as_made(void **state) {
  (void)state;
  enum { CHUNK = 1000, MANY = 256, FEW = 8 };
  int64_t *k = malloc((size_t)CHUNK * MANY * sizeof *k);
  for (int64_t i = 0; i < (int64_t)CHUNK * MANY; i++)
    k[i] = (int64_t)tsr_random_u64(9, (uint64_t)i);
  char path[300];
  snprintf(path, sizeof path, "%s/k.csv", dir);
  uint64_t peak[2];
  for (int run = 0; run < 2; run++) {
    tsr_ctx *c = NULL;
    assert_ok(tsr_ctx_create(&c));
    assert_ok(tsr_ctx_set_threads(c, 1));
    tsr_column_data col = {.name = "k",
                           .type = {TSR_COL_INT64, 0},
                           .length = (int64_t)CHUNK * (run == 0 ? FEW : MANY),
                           .values = k};
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_from_columns(c, 1, &col, CHUNK, TSR_BUFFER_BORROW, NULL, NULL, &f));
    tsr_compute_options o = {.on_stats = on_stats_peak, .stats_user = &peak[run]};
    assert_ok(tsr_frame_write_csv(f, path, ',', true, &o));
    tsr_frame_destroy(&f);
    tsr_ctx_destroy(&c);
  }
  if (peak[1] >= 2 * peak[0])
    print_error("peak %llu bytes writing %d chunks, %llu writing %d\n", (unsigned long long)peak[0],
                FEW, (unsigned long long)peak[1], MANY);
  assert_true(peak[1] < 2 * peak[0]);
  free(k);
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
      cmocka_unit_test_setup_teardown(test_csv_write__round_trip_every_type, dir_setup,
                                      dir_teardown),
      cmocka_unit_test_setup_teardown(test_csv_write__text_written_as_made, dir_setup,
                                      dir_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
