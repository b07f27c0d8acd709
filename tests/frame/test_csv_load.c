/* test_csv_load.c — the fused CSV load (io/csv_load.c): dictionaries built
 * per block and merged over many blocks (codes mapped to the sorted
 * dictionary, given up across blocks, refused at the end), strings too long
 * for a view's inline bytes (blocks parsed again), a value late in the file
 * that widens a column after the fused pass, row bounds larger than the
 * rows (blank lines, quoted newlines, a last record without a newline),
 * the short-decimal float path against strtod, integers of every length
 * against strtoll, U+FFFD replacements longer
 * than the block (parsed again), and the same cells for 1
 * and 2 threads.  Every expected cell is computed by the test from the
 * values it wrote. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "scratch_dir.h"

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

static int str_cmp(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- dictionaries over many blocks ------------------------------------------------------ */

enum { DN = 30000 };

/* The values of row k: d (300 distinct, nulls, quoted with doubled quotes,
 * non-ASCII), u (unique: past dict_max), g (k % 1500: past dict_max only
 * in the union of blocks), t (k % 40, some longer than 12 bytes), as the
 * reader must return them ("<null>" for null); u is quoted when long. */
static void dict_row(int k, char d[64], char u[64], char g[64], char t[64]) {
  int h = (int)(((unsigned)k * 2654435761u) >> 7) % 300;
  if (k % 17 == 0)
    strcpy(d, "<null>");
  else if (h % 7 == 0)
    sprintf(d, "q\"%03d", h);
  else if (h % 11 == 0)
    sprintf(d, "\xc3\xa9t\xc3\xa9%03d", h);
  else
    sprintf(d, "name%03d", h);
  sprintf(u, k % 97 == 0 ? "u%05d, longer than a view holds" : "u%05d", k);
  sprintf(g, "g%04d", (int)(((unsigned)k * 7u) % 1500u));
  if (k % 40 == 3)
    sprintf(t, "a string longer than twelve bytes %d", k % 40);
  else
    sprintf(t, "t%d", k % 40);
}

static const char *dict_file(void) {
  char *text = malloc((size_t)DN * 160);
  assert_non_null(text);
  size_t off = (size_t)sprintf(text, "k,d,u,g,t\n");
  for (int k = 0; k < DN; k++) {
    char d[64], u[64], g[64], t[64];
    dict_row(k, d, u, g, t);
    char dq[80];
    if (strcmp(d, "<null>") == 0)
      dq[0] = '\0';
    else if (d[0] == 'q')
      sprintf(dq, "\"q\"\"%s\"", d + 2); /* "q""123" */
    else
      strcpy(dq, d);
    off += (size_t)sprintf(text + off, k % 97 == 0 ? "%d,%s,\"%s\",%s,%s\n" : "%d,%s,%s,%s,%s\n", k,
                           dq, u, g, t);
  }
  const char *p = write_file("dicts.csv", text, off);
  free(text);
  return p;
}

static void test_csv_load__dictionaries_over_many_blocks(void **state) {
  (void)state;
  const char *path = dict_file();
  int32_t *codes[2] = {NULL, NULL};
  for (int threads = 1; threads <= 2; threads++) {
    tsr_ctx *ctx = NULL;
    assert_ok(tsr_ctx_create(&ctx));
    assert_ok(tsr_ctx_set_threads(ctx, threads));
    tsr_csv_options o = {0};
    o.block_bytes = 4096;
    o.dict_max = 1000;
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_read_csv(ctx, path, &o, &f));
    assert_true(tsr_frame_nchunks(f) >= 64);
    assert_int_equal(tsr_frame_nrows_known(f), DN);
    assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_INT64);
    assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_DICT);
    assert_int_equal(tsr_frame_col_type(f, 2).id, TSR_COL_STRING);
    assert_int_equal(tsr_frame_col_type(f, 3).id, TSR_COL_STRING);
    assert_int_equal(tsr_frame_col_type(f, 4).id, TSR_COL_DICT);
    tsr_frame_result *r = NULL;
    assert_ok(tsr_frame_compute(f, NULL, &r));
    /* every cell */
    for (int k = 0; k < DN; k++) {
      char d[64], u[64], g[64], t[64];
      dict_row(k, d, u, g, t);
      assert_string_equal(cell(r, 1, k), d);
      assert_string_equal(cell(r, 2, k), u);
      assert_string_equal(cell(r, 3, k), g);
      assert_string_equal(cell(r, 4, k), t);
    }
    /* d's dictionary: its distinct non-null values, sorted */
    char **want = malloc(DN * sizeof *want);
    int nw = 0;
    for (int k = 0; k < DN; k++) {
      char d[64], u[64], g[64], t[64];
      dict_row(k, d, u, g, t);
      if (strcmp(d, "<null>") != 0)
        want[nw++] = strdup(d);
    }
    qsort(want, (size_t)nw, sizeof *want, str_cmp);
    int nd = 0;
    for (int i = 0; i < nw; i++)
      if (nd == 0 || strcmp(want[nd - 1], want[i]) != 0)
        want[nd++] = want[i];
      else
        free(want[i]);
    int64_t size;
    const int64_t *offs;
    const char *data;
    assert_ok(tsr_frame_result_dict(r, 1, &size, &offs, &data));
    assert_int_equal(size, nd);
    for (int i = 0; i < nd; i++) {
      assert_int_equal(offs[i + 1] - offs[i], (int64_t)strlen(want[i]));
      assert_memory_equal(data + offs[i], want[i], strlen(want[i]));
      free(want[i]);
    }
    free(want);
    /* codes (nulls as 0): the same for 1 and 2 threads */
    codes[threads - 1] = malloc(DN * sizeof(int32_t));
    assert_ok(tsr_frame_result_values(r, 1, codes[threads - 1], DN * sizeof(int32_t), NULL));
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&f);
    tsr_ctx_destroy(&ctx);
  }
  assert_memory_equal(codes[0], codes[1], DN * sizeof(int32_t));
  free(codes[0]);
  free(codes[1]);
}

/* ---- widening after the fused pass -------------------------------------------------------- */

static void test_csv_load__late_value_widens(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 100000, LATE = 93457 };
  char *text = malloc((size_t)N * 48);
  size_t off = (size_t)sprintf(text, "a,b,c,s\n");
  for (int k = 0; k < N; k++) {
    if (k == LATE)
      off += (size_t)sprintf(text + off, "%d,%d.25,x%d,w%d\n", k, k, k, k % 3);
    else
      off += (size_t)sprintf(text + off, "%d,%d,%d,w%d\n", k, k, k, k % 3);
  }
  const char *p = write_file("late.csv", text, off);
  free(text);
  tsr_csv_options o = {0};
  o.block_bytes = 16384;
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_nrows_known(f), N);
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_INT64);
  assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_FLOAT64);
  assert_int_equal(tsr_frame_col_type(f, 2).id, TSR_COL_STRING);
  assert_int_equal(tsr_frame_col_type(f, 3).id, TSR_COL_DICT);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(f, NULL, &r));
  double *b = malloc(N * sizeof *b);
  uint8_t *valid = malloc(N / 8 + 1);
  assert_ok(tsr_frame_result_values(r, 1, b, N * sizeof *b, valid));
  for (int k = 0; k < N; k++) {
    assert_true((valid[k / 8] >> (k % 8)) & 1);
    assert_true(b[k] == (k == LATE ? k + 0.25 : (double)k));
  }
  for (int k = 0; k < N; k += 7) {
    char want[32];
    sprintf(want, k == LATE ? "x%d" : "%d", k);
    assert_string_equal(cell(r, 2, k), want);
  }
  assert_string_equal(cell(r, 2, LATE), "x93457");
  free(b);
  free(valid);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

/* ---- row bounds ------------------------------------------------------------------------- */

/* Blank lines and quoted newlines make a block's newline count exceed its
 * records; the chunk's bitmap moves to the exact row capacity.  The last
 * record has no newline. */
static void test_csv_load__rows_fewer_than_newlines(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 5000 };
  char *text = malloc((size_t)N * 48);
  size_t off = (size_t)sprintf(text, "i,v,s\n");
  for (int k = 0; k < N; k++) {
    if (k % 3 == 0)
      off += (size_t)sprintf(text + off, "%d,,\"two\nlines %d\"", k, k % 4);
    else
      off += (size_t)sprintf(text + off, "%d,%d.5,s%d", k, k, k % 4);
    if (k + 1 < N)
      off += (size_t)sprintf(text + off, k % 5 == 0 ? "\n\n" : "\n");
  }
  const char *p = write_file("bounds.csv", text, off);
  free(text);
  for (int bi = 0; bi < 2; bi++) {
    tsr_csv_options o = {0};
    o.block_bytes = bi == 0 ? 2000 : 0;
    tsr_frame *f = NULL;
    assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
    assert_int_equal(tsr_frame_nrows_known(f), N);
    tsr_frame_result *r = NULL;
    assert_ok(tsr_frame_compute(f, NULL, &r));
    double *v = malloc(N * sizeof *v);
    int64_t *iv = malloc(N * sizeof *iv);
    uint8_t *valid = malloc(N / 8 + 1);
    assert_ok(tsr_frame_result_values(r, 0, iv, N * sizeof *iv, NULL));
    assert_ok(tsr_frame_result_values(r, 1, v, N * sizeof *v, valid));
    for (int k = 0; k < N; k++) {
      assert_int_equal(iv[k], k);
      bool is_valid = (valid[k / 8] >> (k % 8)) & 1;
      assert_int_equal(is_valid, k % 3 != 0);
      if (k % 3 != 0)
        assert_true(v[k] == k + 0.5);
      char want[32];
      sprintf(want, k % 3 == 0 ? "two\nlines %d" : "s%d", k % 4);
      assert_string_equal(cell(r, 2, k), want);
    }
    free(v);
    free(iv);
    free(valid);
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&f);
  }
}

/* ---- floats ----------------------------------------------------------------------------- */

static uint64_t rng_next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* Decimal text k: short plain decimals of every digit count and split
 * (the fast path), with signs, leading zeros, a bare point at either end,
 * mantissas past 2^53 and 19 or 20 digits, exponents, and fixed edge
 * cases. */
static void float_text(int k, uint64_t *rng, char *out) {
  static const char *const edges[] = {"0",
                                      "-0",
                                      "-0.0",
                                      "0.0",
                                      "5.",
                                      ".5",
                                      "-.5",
                                      "+1.5",
                                      "9007199254740992",
                                      "9007199254740993",
                                      "9007199254740992.5",
                                      "0.1",
                                      "0.3",
                                      "1234567890123456789",
                                      "12345678901234567890",
                                      "0.0000000000000000001",
                                      "123.4567890123456789",
                                      "1e22",
                                      "1e23",
                                      "2.2250738585072014e-308",
                                      "4.9e-324",
                                      "1.7976931348623157e308",
                                      "00000000000000000001.5",
                                      "0.30000000000000004",
                                      "999999999999999999.9"};
  int ne = (int)(sizeof edges / sizeof edges[0]);
  if (k < ne) {
    strcpy(out, edges[k]);
    return;
  }
  uint64_t x = rng_next(rng);
  int digits = 1 + (int)(x % 20), point = (int)((x >> 8) % (uint64_t)(digits + 1));
  size_t o = 0;
  if ((x >> 16) & 1)
    out[o++] = '-';
  for (int d = 0; d < digits; d++) {
    if (d == point && d > 0)
      out[o++] = '.';
    out[o++] = (char)('0' + rng_next(rng) % 10);
  }
  if (((x >> 20) & 15) == 0)
    o += (size_t)sprintf(out + o, "e%d", (int)((x >> 24) % 60) - 30);
  out[o] = '\0';
}

static void test_csv_load__floats_as_strtod(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 200000 };
  char *text = malloc((size_t)N * 40);
  char(*vals)[40] = malloc((size_t)N * sizeof *vals);
  uint64_t rng = 0x9E3779B97F4A7C15u;
  size_t off = (size_t)sprintf(text, "f\n");
  for (int k = 0; k < N; k++) {
    float_text(k, &rng, vals[k]);
    off += (size_t)sprintf(text + off, "%s\n", vals[k]);
  }
  const char *p = write_file("floats.csv", text, off);
  free(text);
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_FLOAT64);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(f, NULL, &r));
  double *got = malloc(N * sizeof *got);
  assert_ok(tsr_frame_result_values(r, 0, got, N * sizeof *got, NULL));
  for (int k = 0; k < N; k++) {
    double want = strtod(vals[k], NULL);
    if (memcmp(&want, &got[k], sizeof want) != 0)
      fail_msg("'%s': strtod %.17g, read %.17g", vals[k], want, got[k]);
  }
  free(got);
  free(vals);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

/* Integers of 1 to 18 digits with and without signs (those of up to 8
 * digits are read a word at a time, longer ones digit by digit), and the
 * same digits in a second column with a letter in one place of each
 * length: that column cannot be int64 and reads as the strings. */
static void test_csv_load__integers_of_every_length(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 60000 };
  char *text = malloc((size_t)N * 48);
  char(*vals)[24] = malloc((size_t)N * sizeof *vals);
  char(*bads)[24] = malloc((size_t)N * sizeof *bads);
  uint64_t rng = 0x2545F4914F6CDD1Du;
  size_t off = (size_t)sprintf(text, "i,s\n");
  for (int k = 0; k < N; k++) {
    uint64_t x = rng_next(&rng);
    int digits = 1 + (int)(x % 18), o = 0;
    if ((x >> 8) % 3 == 1)
      vals[k][o++] = '-';
    else if ((x >> 8) % 3 == 2)
      vals[k][o++] = '+';
    vals[k][o++] = (char)('1' + (x >> 16) % 9);
    for (int d = 1; d < digits; d++)
      vals[k][o++] = (char)('0' + rng_next(&rng) % 10);
    vals[k][o] = '\0';
    strcpy(bads[k], vals[k]);
    if (k < 18 * 19) /* a letter at many places of many lengths */
      bads[k][(k % 19) % o] = 'x';
    off += (size_t)sprintf(text + off, "%s,%s\n", vals[k], bads[k]);
  }
  const char *p = write_file("ints.csv", text, off);
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, NULL, &f));
  assert_int_equal(tsr_frame_col_type(f, 0).id, TSR_COL_INT64);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(f, NULL, &r));
  int64_t *got = malloc(N * sizeof *got);
  assert_ok(tsr_frame_result_values(r, 0, got, N * sizeof *got, NULL));
  for (int k = 0; k < N; k++) {
    long long want = strtoll(vals[k], NULL, 10);
    if (got[k] != want)
      fail_msg("'%s': strtoll %lld, read %lld", vals[k], want, (long long)got[k]);
  }
  /* the second column as written */
  for (int k = 0; k < N; k++)
    assert_string_equal(cell(r, 1, k), bads[k]);
  free(text);
  free(got);
  free(vals);
  free(bads);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

/* ---- replacements longer than the block ------------------------------------------------- */

/* With replace_invalid_utf8 each invalid byte becomes U+FFFD (3 bytes):
 * fields of invalid bytes outgrow the block's bytes, the capacity the fused
 * load gives a string column, and their blocks are parsed again. */
static void test_csv_load__replacements_outgrow_the_block(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 400, W = 300 };
  char *text = malloc((size_t)N * (W + 32));
  size_t off = (size_t)sprintf(text, "i,s\n");
  for (int k = 0; k < N; k++) {
    off += (size_t)sprintf(text + off, "%d,", k);
    if (k % 10 == 0) {
      memset(text + off, 0xFF, W);
      off += W;
    } else {
      off += (size_t)sprintf(text + off, "s%d", k);
    }
    text[off++] = '\n';
  }
  const char *p = write_file("replace.csv", text, off);
  free(text);
  tsr_csv_options o = {0};
  o.block_bytes = 1024;
  o.replace_invalid_utf8 = 1;
  o.dict_max = -1;
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_read_csv(ctx, p, &o, &f));
  assert_int_equal(tsr_frame_col_type(f, 1).id, TSR_COL_STRING);
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(f, NULL, &r));
  for (int k = 0; k < N; k++) {
    const char *t;
    size_t n;
    bool is_null;
    assert_ok(tsr_frame_result_string(r, 1, k, &t, &n, &is_null));
    assert_false(is_null);
    if (k % 10 == 0) {
      assert_int_equal(n, 3 * W);
      for (int j = 0; j < W; j++)
        assert_memory_equal(t + 3 * j, "\xEF\xBF\xBD", 3);
    } else {
      char want[16];
      sprintf(want, "s%d", k);
      assert_int_equal(n, strlen(want));
      assert_memory_equal(t, want, n);
    }
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
}

int main(void) {
#define T(name) cmocka_unit_test_setup_teardown(name, test_ctx_setup, test_ctx_teardown)
  const struct CMUnitTest tests[] = {
      T(test_csv_load__dictionaries_over_many_blocks),
      T(test_csv_load__late_value_widens),
      T(test_csv_load__rows_fewer_than_newlines),
      T(test_csv_load__floats_as_strtod),
      T(test_csv_load__integers_of_every_length),
      T(test_csv_load__replacements_outgrow_the_block),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
