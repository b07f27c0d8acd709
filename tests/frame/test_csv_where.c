/* test_csv_where.c — a WHERE pushed into the CSV reader's fused load
 * (frame/csv_where.h): tsr__frame_read_csv_where against the unpushed path
 * (tsr_frame_read_csv, then the filter node with the same predicate), which
 * must give the same columns, types, dictionaries, row chunks, rows and
 * values.  The file has many small blocks, an int column with nulls, a
 * low-cardinality string column (a dictionary: block-local codes while
 * loading), a column of distinct strings (long ones, empty ones, nulls)
 * and one of repeated numbers as text whose dictionaries are refused at the
 * end or given up mid-way (blocks parsed again, then filtered), and a float
 * column.  Predicates keep some rows, none, all, read dictionary and string
 * columns, and fail (a type error, an overflow) as the unpushed filter
 * does.  A file with a bad row takes the scan path (a filter over the lazy
 * frame) and must agree too. */
#include "frame/colprog.h"
#include "frame/csv_where.h"
#include "frame_same.h"
#include "frame_util.h"
#include "scratch_dir.h"

#define NROWS 20000

static tsr_ctx *ctx;

/* id, k (k0..k4 or null), s (distinct; long, empty or null), m (i % 9000
 * as text: a dictionary refused or given up), v (int, nulls), f (float). */
static char *make_csv(int64_t nrows, bool bad_row, size_t *len) {
  size_t cap = (size_t)nrows * 96 + 256, n = 0;
  char *text = malloc(cap);
  assert_non_null(text);
  n += (size_t)snprintf(text + n, cap - n, "id,k,s,m,v,f\n");
  uint64_t seed = 42;
  for (int64_t i = 0; i < nrows; i++) {
    uint64_t r = fu_rand(&seed);
    char k[8] = "", s[64] = "", v[24] = "";
    if (r % 11 != 0)
      snprintf(k, sizeof k, "k%d", (int)(r % 5));
    switch ((r >> 8) % 7) {
    case 0:
      break; /* null */
    case 1:
      snprintf(s, sizeof s, "\"\"");
      break;
    case 2:
      snprintf(s, sizeof s, "a long string number %lld", (long long)i);
      break;
    default:
      snprintf(s, sizeof s, "s%lld", (long long)i);
    }
    if ((r >> 16) % 9 != 0)
      snprintf(v, sizeof v, "%lld", (long long)((r >> 20) % 200) - 50);
    n += (size_t)snprintf(text + n, cap - n, "%lld,%s,%s,m%lld,%s,%.4f\n", (long long)i, k, s,
                          (long long)(i % 9000), v, (double)((r >> 32) % 10000) / 10000.0);
  }
  if (bad_row)
    n += (size_t)snprintf(text + n, cap - n, "%lld,k1,x,m1\n", (long long)nrows);
  *len = n;
  return text;
}

enum { P_V_GT, P_K_EQ, P_S_LIKE, P_NONE, P_ALL, P_MIXED, P_TYPE_ERROR, P_OVERFLOW };

/* Builds predicate `which` over f (the file's six columns). */
static tsr_status build(void *arg, tsr_frame *f, tsr__colprog **prog, int *v) {
  int which = *(const int *)arg;
  TSR_TRY(tsr__colprog_create(f, prog));
  tsr__colprog *p = *prog;
  int a, b, c, d;
  tsr_status st = TSR_OK;
  switch (which) {
  case P_V_GT:
    if ((st = tsr__colprog_column(p, 4, &a)) == TSR_OK &&
        (st = tsr__colprog_int(p, 50, false, &b)) == TSR_OK)
      st = tsr__colprog_binary(p, TSR__CP_GT, a, b, v);
    break;
  case P_K_EQ:
    if ((st = tsr__colprog_column(p, 1, &a)) == TSR_OK &&
        (st = tsr__colprog_string(p, "k3", 2, &b)) == TSR_OK)
      st = tsr__colprog_binary(p, TSR__CP_EQ, a, b, v);
    break;
  case P_S_LIKE:
    if ((st = tsr__colprog_column(p, 2, &a)) == TSR_OK &&
        (st = tsr__colprog_string(p, "%long%7", 7, &b)) == TSR_OK)
      st = tsr__colprog_binary(p, TSR__CP_LIKE, a, b, v);
    break;
  case P_NONE:
    if ((st = tsr__colprog_column(p, 4, &a)) == TSR_OK &&
        (st = tsr__colprog_int(p, 1000000, false, &b)) == TSR_OK)
      st = tsr__colprog_binary(p, TSR__CP_GT, a, b, v);
    break;
  case P_ALL: /* v IS NULL OR NOT v IS NULL */
    if ((st = tsr__colprog_column(p, 4, &a)) == TSR_OK &&
        (st = tsr__colprog_unary(p, TSR__CP_IS_NULL, a, &b)) == TSR_OK &&
        (st = tsr__colprog_unary(p, TSR__CP_NOT, b, &c)) == TSR_OK)
      st = tsr__colprog_binary(p, TSR__CP_OR, b, c, v);
    break;
  case P_MIXED: /* m < 'm100' AND f > 0.5 */
    if ((st = tsr__colprog_column(p, 3, &a)) == TSR_OK &&
        (st = tsr__colprog_string(p, "m100", 4, &b)) == TSR_OK &&
        (st = tsr__colprog_binary(p, TSR__CP_LT, a, b, &c)) == TSR_OK &&
        (st = tsr__colprog_column(p, 5, &a)) == TSR_OK &&
        (st = tsr__colprog_float(p, 0.5, &b)) == TSR_OK &&
        (st = tsr__colprog_binary(p, TSR__CP_GT, a, b, &d)) == TSR_OK)
      st = tsr__colprog_binary(p, TSR__CP_AND, c, d, v);
    break;
  case P_TYPE_ERROR: /* k + 1 */
    if ((st = tsr__colprog_column(p, 1, &a)) == TSR_OK &&
        (st = tsr__colprog_int(p, 1, false, &b)) == TSR_OK)
      st = tsr__colprog_binary(p, TSR__CP_ADD, a, b, v);
    break;
  case P_OVERFLOW: /* v * 2^62 > 0 */
    if ((st = tsr__colprog_column(p, 4, &a)) == TSR_OK &&
        (st = tsr__colprog_int(p, INT64_C(1) << 62, false, &b)) == TSR_OK &&
        (st = tsr__colprog_binary(p, TSR__CP_MUL, a, b, &c)) == TSR_OK &&
        (st = tsr__colprog_int(p, 0, false, &d)) == TSR_OK)
      st = tsr__colprog_binary(p, TSR__CP_GT, c, d, v);
    break;
  }
  if (st != TSR_OK)
    tsr__colprog_destroy(prog);
  return st;
}

/* The unpushed path: the reader, then the filter node. */
static tsr_status reference(const char *path, const tsr_csv_options *o, int which,
                            tsr_frame **out) {
  tsr_frame *f = NULL;
  tsr__colprog *p = NULL;
  int v;
  TSR_TRY(tsr_frame_read_csv(ctx, path, o, &f));
  tsr_status st = build(&which, f, &p, &v);
  if (st == TSR_OK)
    st = tsr__frame_filter_prog(f, p, v, out);
  tsr__colprog_destroy(&p);
  tsr_frame_destroy(&f);
  return st;
}

static void check_file(const char *path, int64_t dict_max) {
  tsr_csv_options o;
  memset(&o, 0, sizeof o);
  o.block_bytes = 16384;
  o.dict_max = dict_max;
  o.bad_rows = TSR_CSV_BAD_NULL;
  for (int which = P_V_GT; which <= P_MIXED; which++) {
    tsr_frame *want = NULL, *got = NULL;
    tsr__csv_where w = {build, &which};
    assert_int_equal(reference(path, &o, which, &want), TSR_OK);
    tsr_status st = tsr__frame_read_csv_where(ctx, path, &o, &w, &got);
    if (st != TSR_OK)
      fail_msg("predicate %d: %s: %s", which, tsr_status_name(st), tsr_last_error());
    frames_assert_same(want, got);
    if (which == P_NONE || which == P_ALL) {
      int64_t rows;
      assert_int_equal(tsr_frame_nrows(got, &rows), TSR_OK);
      assert_int_equal(rows, which == P_NONE ? 0 : NROWS + (strstr(path, "bad") != NULL));
    }
    tsr_frame_destroy(&want);
    tsr_frame_destroy(&got);
  }
}

static void test_csv_where__same_as_unpushed(void **state) {
  (void)state;
  size_t len;
  char *text = make_csv(NROWS, false, &len);
  const char *path = write_file("where.csv", text, len);
  free(text);
  check_file(path, 0);    /* k a dictionary; s and m refused at the end */
  check_file(path, 1000); /* s and m given up mid-way */
  check_file(path, -1);   /* no dictionaries */
}

static void test_csv_where__scan_path(void **state) {
  (void)state;
  size_t len;
  char *text = make_csv(NROWS, true, &len); /* a short row: the load leaves it to the scan */
  const char *path = write_file("where_bad.csv", text, len);
  free(text);
  check_file(path, 0);
}

/* Digit runs become '#'. */
static void mask_digits(char *s) {
  char *o = s;
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9')
      *o++ = *p;
    else if (o == s || o[-1] != '#')
      *o++ = '#';
  *o = '\0';
}

static void test_csv_where__errors(void **state) {
  (void)state;
  size_t len;
  char *text = make_csv(NROWS, false, &len);
  const char *path = write_file("where_err.csv", text, len);
  free(text);
  tsr_csv_options o;
  memset(&o, 0, sizeof o);
  o.block_bytes = 16384;
  /* a type error, in the unpushed filter's words (k is a dictionary) */
  int which = P_TYPE_ERROR;
  tsr__csv_where w = {build, &which};
  tsr_frame *f = NULL;
  assert_int_equal(tsr__frame_read_csv_where(ctx, path, &o, &w, &f), TSR_EDTYPE);
  assert_null(f);
  assert_non_null(strstr(tsr_last_error(), "dict"));
  /* an overflow: raised when computed, as by the unpushed filter */
  which = P_OVERFLOW;
  tsr_frame *want = NULL;
  assert_int_equal(reference(path, &o, which, &want), TSR_OK);
  tsr_frame_result *r = NULL;
  assert_int_equal(tsr_frame_compute(want, NULL, &r), TSR_EOVERFLOW);
  char msg[512];
  snprintf(msg, sizeof msg, "%s", tsr_last_error());
  tsr_status st = tsr__frame_read_csv_where(ctx, path, &o, &w, &f);
  if (st == TSR_OK)
    st = tsr_frame_compute(f, NULL, &r);
  assert_int_equal(st, TSR_EOVERFLOW);
  /* the same words; which row and task fail first is the executor's choice */
  char got[512];
  snprintf(got, sizeof got, "%s", tsr_last_error());
  mask_digits(got);
  mask_digits(msg);
  assert_string_equal(got, msg);
  assert_null(r);
  tsr_frame_destroy(&f);
  tsr_frame_destroy(&want);
}

/* Every allocation failing in turn: ENOMEM, or (a failure the load gives
 * up on) the right result; never a leak (ASan) or a crash. */
static void test_csv_where__out_of_memory(void **state) {
  (void)state;
  size_t len;
  char *text = make_csv(400, false, &len);
  const char *path = write_file("where_oom.csv", text, len);
  free(text);
  tsr_csv_options o;
  memset(&o, 0, sizeof o);
  o.block_bytes = 4096;
  int which = P_K_EQ;
  tsr__csv_where w = {build, &which};
  tsr_frame *want = NULL;
  assert_int_equal(reference(path, &o, which, &want), TSR_OK);
  int failed = 0;
  for (uint64_t n = 1; n <= 600; n++) {
    tsr_frame *f = NULL;
    assert_int_equal(tsr_ctx_set_fail_allocation(ctx, n), TSR_OK);
    tsr_status st = tsr__frame_read_csv_where(ctx, path, &o, &w, &f);
    assert_int_equal(tsr_ctx_set_fail_allocation(ctx, 0), TSR_OK);
    if (st == TSR_OK)
      frames_assert_same(want, f);
    else
      assert_int_equal(st, TSR_ENOMEM), failed++;
    tsr_frame_destroy(&f);
  }
  assert_true(failed > 0);
  tsr_frame_destroy(&want);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_csv_where__same_as_unpushed),
      cmocka_unit_test(test_csv_where__scan_path),
      cmocka_unit_test(test_csv_where__errors),
      cmocka_unit_test(test_csv_where__out_of_memory),
  };
  if (tsr_ctx_create(&ctx) != TSR_OK || tsr_ctx_set_threads(ctx, 2) != TSR_OK)
    return 1;
  int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
  tsr_ctx_destroy(&ctx);
  return rc;
}
