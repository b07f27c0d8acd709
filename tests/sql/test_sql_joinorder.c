/* test_sql_joinorder.c — the SQL planner's join order (src/sql/joinorder.c)
 * over registered frames, CSV files and an HDF5 table: chains of three and
 * four relations written in a bad order (smallest first) are reordered by
 * estimated size, which EXPLAIN shows; each result is compared with the
 * same statement planned in the written order (the session's internal
 * switch) as a multiset of rows, with the same column names, types and
 * order, and with hand-computed aggregates.  Barriers (a LEFT JOIN), self
 * joins, USING, cross joins whose WHERE equalities became keys, residual
 * conditions, and chains that must keep their order (a cross product, an
 * unknown size) are covered, and so is the CSV row estimate of a file
 * larger than the sniffer's sample. */
#include <string.h>

#include <tessera/tessera.h>

#include "../frame/scratch_dir.h"
#include "sql/plan.h"

static tsr_ctx *ctx;
static tsr_sql_session *ses;

/* big(k, v): 200 rows, k = i % 20, v = i; mid(k, j, m): 20 rows, k = i,
 * j = i % 5, m = 1.5 i; small(j, w, name): 5 rows, j = i, w = 100 i,
 * name "n<i>"; tiny(w, z): w in {0, 100, 200}, z = w + 1.  So every big row
 * meets one mid row (k), every mid row one small row (j), and the small
 * rows with j <= 2 one tiny row (w). */
static int64_t big_k[200], big_v[200], mid_k[20], mid_j[20], small_j[5], small_w[5];
static double mid_m[20];
static const int64_t tiny_w[3] = {0, 100, 200}, tiny_z[3] = {1, 101, 201};
static const int64_t name_off[6] = {0, 2, 4, 6, 8, 10};
static const char name_data[] = "n0n1n2n3n4";

static void reg(const char *name, int n, const tsr_column_data *cols) {
  tsr_frame *f = NULL;
  assert_int_equal(tsr_frame_from_columns(ctx, n, cols, 64, TSR_BUFFER_COPY, NULL, NULL, &f),
                   TSR_OK);
  assert_int_equal(tsr_sql_register(ses, name, f), TSR_OK);
  /* the same table as a CSV file <name>.csv in the scratch directory */
  char path[512];
  snprintf(path, sizeof path, "%s/%s.csv", dir, name);
  assert_int_equal(tsr_frame_write_csv(f, path, ',', true, NULL), TSR_OK);
  if (strcmp(name, "big") == 0) {
    snprintf(path, sizeof path, "%s/t.h5", dir);
    assert_int_equal(tsr_frame_write_hdf5(f, path, "/big", NULL), TSR_OK);
  }
  tsr_frame_destroy(&f);
}

static int setup(void **state) {
  (void)state;
  if (tsr_ctx_create(&ctx) != TSR_OK || tsr_ctx_set_threads(ctx, 2) != TSR_OK ||
      tsr_sql_session_create(ctx, &ses) != TSR_OK)
    return -1;
  for (int i = 0; i < 200; i++) {
    big_k[i] = i % 20;
    big_v[i] = i;
  }
  for (int i = 0; i < 20; i++) {
    mid_k[i] = i;
    mid_j[i] = i % 5;
    mid_m[i] = 1.5 * i;
  }
  for (int i = 0; i < 5; i++) {
    small_j[i] = i;
    small_w[i] = 100 * i;
  }
  const tsr_type i64 = {TSR_COL_INT64, 0}, f64 = {TSR_COL_FLOAT64, 0}, str = {TSR_COL_STRING, 0};
  tsr_column_data big[2] = {{.name = "k", .type = i64, .length = 200, .values = big_k},
                            {.name = "v", .type = i64, .length = 200, .values = big_v}};
  tsr_column_data mid[3] = {{.name = "k", .type = i64, .length = 20, .values = mid_k},
                            {.name = "j", .type = i64, .length = 20, .values = mid_j},
                            {.name = "m", .type = f64, .length = 20, .values = mid_m}};
  tsr_column_data small[3] = {
      {.name = "j", .type = i64, .length = 5, .values = small_j},
      {.name = "w", .type = i64, .length = 5, .values = small_w},
      {.name = "name", .type = str, .length = 5, .offsets = name_off, .data = name_data}};
  tsr_column_data tiny[2] = {{.name = "w", .type = i64, .length = 3, .values = tiny_w},
                             {.name = "z", .type = i64, .length = 3, .values = tiny_z}};
  reg("big", 2, big);
  reg("mid", 3, mid);
  reg("small", 3, small);
  reg("tiny", 2, tiny);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tsr_sql_session_destroy(&ses);
  tsr_ctx_destroy(&ctx);
  return 0;
}

/* The frame as CSV text (malloc'd). */
static char *as_csv(tsr_frame *f) {
  static int n;
  char path[512];
  snprintf(path, sizeof path, "%s/out%d.csv", dir, n++);
  assert_int_equal(tsr_frame_write_csv(f, path, ',', true, NULL), TSR_OK);
  FILE *in = fopen(path, "rb");
  assert_non_null(in);
  char *buf = calloc(1, 1 << 20);
  size_t got = fread(buf, 1, (1 << 20) - 1, in);
  buf[got] = '\0';
  fclose(in);
  return buf;
}

static char *run_text(const char *sql) {
  tsr_frame *f = NULL;
  tsr_status st = tsr_sql_run(ses, sql, &f);
  if (st != TSR_OK)
    fail_msg("%s\n-> %s: %s", sql, tsr_status_name(st), tsr_last_error());
  char *text = as_csv(f);
  tsr_frame_destroy(&f);
  return text;
}

static int cmp_line(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The CSV text's data lines sorted (the header stays first), in place. */
static void sort_rows(char *text) {
  size_t n = 0, cap = 1024;
  char **lines = malloc(cap * sizeof *lines);
  char *copy = strdup(text);
  for (char *s = strtok(copy, "\n"); s != NULL; s = strtok(NULL, "\n")) {
    if (n == cap)
      lines = realloc(lines, (cap *= 2) * sizeof *lines);
    lines[n++] = s;
  }
  if (n > 1)
    qsort(lines + 1, n - 1, sizeof *lines, cmp_line);
  char *out = text;
  for (size_t i = 0; i < n; i++)
    out += sprintf(out, "%s\n", lines[i]);
  free(lines);
  free(copy);
}

/* Runs `sql` with the join order chosen and in the written order: the same
 * column names, types and order, the same multiset of `rows` rows.  Returns
 * the chosen plan's EXPLAIN text (malloc'd); *written_plan the other's. */
static char *same_both_ways(const char *sql, int rows, char **written_plan) {
  char explain[2048];
  snprintf(explain, sizeof explain, "EXPLAIN %s", sql);
  tsr_frame *on = NULL, *off = NULL;
  assert_int_equal(tsr_sql_run(ses, sql, &on), TSR_OK);
  char *plan = run_text(explain);
  tsr__sql_session_set_join_order(ses, false);
  tsr_status st = tsr_sql_run(ses, sql, &off);
  char *plan_off = run_text(explain);
  tsr__sql_session_set_join_order(ses, true);
  assert_int_equal(st, TSR_OK);
  assert_int_equal(tsr_frame_ncols(on), tsr_frame_ncols(off));
  for (int i = 0; i < tsr_frame_ncols(on); i++) {
    assert_string_equal(tsr_frame_col_name(on, i), tsr_frame_col_name(off, i));
    if (tsr_frame_col_type(on, i).id != tsr_frame_col_type(off, i).id) {
      char *a = as_csv(on), *b = as_csv(off);
      a[200] = b[200] = '\0';
      fail_msg("%s\ncolumn %d's type: %d reordered, %d written\n%s\n%s\n%s\n%s", sql, i,
               (int)tsr_frame_col_type(on, i).id, (int)tsr_frame_col_type(off, i).id, plan, a,
               plan_off, b);
    }
  }
  int64_t n_on = -1, n_off = -2;
  assert_int_equal(tsr_frame_nrows(on, &n_on), TSR_OK);
  assert_int_equal(tsr_frame_nrows(off, &n_off), TSR_OK);
  assert_int_equal(n_on, rows);
  assert_int_equal(n_off, rows);
  char *a = as_csv(on), *b = as_csv(off);
  sort_rows(a);
  sort_rows(b);
  if (strcmp(a, b) != 0)
    fail_msg("%s\nreordered:\n%s\nwritten order:\n%s", sql, a, b);
  free(a);
  free(b);
  tsr_frame_destroy(&on);
  tsr_frame_destroy(&off);
  if (strstr(plan_off, "join order") != NULL)
    fail_msg("switched off, yet reordered:\n%s", plan_off);
  if (written_plan)
    *written_plan = plan_off;
  else
    free(plan_off);
  return plan;
}

static void expect_in(const char *plan, const char *needle) {
  if (strstr(plan, needle) == NULL)
    fail_msg("no \"%s\" in the plan:\n%s", needle, plan);
}

/* Whether `first` comes before `second` in the plan text. */
static void expect_before(const char *plan, const char *first, const char *second) {
  const char *a = strstr(plan, first), *b = strstr(plan, second);
  if (a == NULL || b == NULL || a > b)
    fail_msg("expected \"%s\" before \"%s\" in the plan:\n%s", first, second, plan);
}

static void test_joinorder__three_frames(void **state) {
  (void)state;
  const char *sql = "SELECT * FROM small s JOIN mid m ON s.j = m.j JOIN big b ON b.k = m.k";
  char *plan = same_both_ways(sql, 200, NULL);
  /* big is probed; mid, then small, are the hash tables */
  expect_in(plan, "join order by estimated rows: b (~200 rows), m (~20 rows), s (~5 rows); "
                  "written: s, m, b");
  expect_in(plan, "INNER JOIN on [m.j = s.j] (~200 rows)");
  expect_before(plan, "INNER JOIN on [b.k = m.k]", "SCAN big");
  expect_before(plan, "SCAN big", "SCAN mid");
  expect_before(plan, "SCAN mid", "SCAN small");
  free(plan);
  /* the columns as written, by hand */
  char *text = run_text("SELECT * FROM small s JOIN mid m ON s.j = m.j JOIN big b ON b.k = m.k "
                        "WHERE b.v = 47");
  assert_string_equal(text, "j,w,name,k,j_1,m,k_1,v\n2,200,n2,7,2,10.5,7,47\n");
  free(text);
  text = run_text("SELECT count(*) AS n, sum(b.v) AS sv, sum(s.w) AS sw, sum(m.m) AS sm "
                  "FROM small s JOIN mid m ON s.j = m.j JOIN big b ON b.k = m.k");
  /* sum w: each k of 0..19 ten times, w = 100 (k % 5): 10 * 100 * 4 * 10 = 40000;
   * sum m: 10 * 1.5 * (0 + ... + 19) = 2850 */
  assert_string_equal(text, "n,sv,sw,sm\n200,19900,40000,2850.0\n");
  free(text);
}

static void test_joinorder__four_using(void **state) {
  (void)state;
  const char *sql = "SELECT * FROM tiny JOIN small USING (w) JOIN mid USING (j) JOIN big USING (k)";
  /* tiny meets small rows 0..2, so mid rows with j <= 2 (12 of 20), so 120 big rows */
  char *plan = same_both_ways(sql, 120, NULL);
  expect_in(plan, "join order by estimated rows: big (~200 rows), mid (~20 rows), small (~5 "
                  "rows), tiny (~3 rows); written: tiny, small, mid, big");
  free(plan);
  char *text = run_text("SELECT * FROM tiny JOIN small USING (w) JOIN mid USING (j) "
                        "JOIN big USING (k) WHERE v = 21");
  assert_string_equal(text, "w,z,j,name,k,m,v\n100,101,1,n1,1,1.5,21\n");
  free(text);
}

static void test_joinorder__cross_join_keys_and_residual(void **state) {
  (void)state;
  /* the WHERE equalities became the cross joins' keys; `b.v < s.w` reads
   * two relations: a residual of the join where both are present */
  const char *sql = "SELECT s.name, b.v, m.m FROM small s, mid m, big b "
                    "WHERE s.j = m.j AND m.k = b.k AND b.v < s.w";
  /* rows with v < w = 100 (v % 5): v % 5 = 1 and v < 100 (20), v % 5 >= 2 (120) */
  char *plan = same_both_ways(sql, 140, NULL);
  expect_in(plan, "written: s, m, b");
  expect_before(plan, "FILTER b.v < s.w", "join order");
  free(plan);
  /* the same in ON: a residual of the join where both relations are present */
  sql = "SELECT s.name, b.v, m.m FROM small s JOIN mid m ON s.j = m.j "
        "JOIN big b ON m.k = b.k AND b.v < s.w";
  plan = same_both_ways(sql, 140, NULL);
  expect_in(plan, "INNER JOIN on [m.j = s.j] filter b.v < s.w");
  free(plan);
  /* a filter reading both sides above a join whose build side is swapped
   * (two relations: no reordering) keeps its meaning */
  char *text = run_text("SELECT count(*) AS n FROM small s JOIN big b ON b.k = s.j "
                        "WHERE b.v + 100 > s.w");
  /* big rows with k <= 4: v = k + 20 r; v + 100 > 100 k: k <= 1 all (20), k = 2: v > 100
   * (r >= 5: 5), k = 3: v > 200 (none), k = 4: none */
  assert_string_equal(text, "n\n25\n");
  free(text);
  /* k = 0: v = 20 r > 0; k = 1: v = 1 + 20 r > 100; k >= 2: none */
  text = run_text("SELECT s.name, b.v FROM small s JOIN big b ON b.k = s.j WHERE b.v > s.w "
                  "ORDER BY b.v LIMIT 3");
  assert_string_equal(text, "name,v\nn0,20\nn0,40\nn0,60\n");
  free(text);
}

static void test_joinorder__self_join(void **state) {
  (void)state;
  const char *sql = "SELECT m.k, a.v AS av, c.v AS cv, s.name FROM mid m JOIN big a ON a.k = m.k "
                    "JOIN small s ON s.j = m.j JOIN big c ON c.k = a.k";
  /* ten a rows and ten c rows per k: 20 * 10 * 10 */
  char *plan = same_both_ways(sql, 2000, NULL);
  expect_in(plan, "join order by estimated rows: a (~200 rows), m (~20 rows), s (~5 rows), c "
                  "(~200 rows); written: m, a, s, c");
  free(plan);
  char *text =
      run_text("SELECT count(*) AS n, sum(a.v) AS sa, sum(c.v - a.v) AS d FROM mid m "
               "JOIN big a ON a.k = m.k JOIN small s ON s.j = m.j JOIN big c ON c.k = a.k");
  /* every a row meets its k's ten c rows: 10 * 19900; c - a sums to zero by symmetry */
  assert_string_equal(text, "n,sa,d\n2000,199000,0\n");
  free(text);
  /* four relations that all have a column k: the frame joins' suffixed names ("k#r") must
   * not clash in either order; c.k = b.v gives 20 rows, of which the 5 with b.k <= 4 meet
   * 4 a rows each, and each of those one d row */
  plan = same_both_ways("SELECT * FROM mid c JOIN big b ON b.v = c.k JOIN mid a ON a.j = b.k "
                        "JOIN big d ON d.v = a.k",
                        20, NULL);
  expect_in(plan, "join order by estimated rows: b (~200 rows), c (~20 rows), a (~20 rows), d "
                  "(~200 rows); written: c, b, a, d");
  free(plan);
}

static void test_joinorder__left_join_barrier(void **state) {
  (void)state;
  /* a LEFT JOIN on top: the inner chain below it is reordered, the LEFT
   * JOIN keeps tiny on its right */
  const char *sql = "SELECT * FROM small s JOIN mid m ON s.j = m.j JOIN big b ON b.k = m.k "
                    "LEFT JOIN tiny t ON t.w = s.w";
  char *plan = same_both_ways(sql, 200, NULL);
  expect_in(plan, "written: s, m, b");
  expect_before(plan, "LEFT JOIN", "join order");
  expect_before(plan, "SCAN small", "SCAN tiny");
  free(plan);
  /* a LEFT JOIN in the middle: nothing moves across it (the chains on
   * either side have two relations) */
  sql = "SELECT * FROM tiny t JOIN small s ON t.w = s.w LEFT JOIN mid m ON m.j = s.j "
        "JOIN big b ON b.k = m.k";
  char *written = NULL;
  plan = same_both_ways(sql, 120, &written);
  if (strstr(plan, "join order") != NULL)
    fail_msg("reordered across a LEFT JOIN:\n%s", plan);
  /* the LEFT JOIN's inputs are those written: tiny and small on its left, mid on its right */
  const char *left = strstr(plan, "LEFT JOIN");
  assert_non_null(left);
  expect_before(left, "SCAN tiny", "SCAN mid");
  expect_before(left, "SCAN small", "SCAN mid");
  free(written);
  free(plan);
  char *text = run_text("SELECT count(*) AS n, count(t.z) AS nz FROM small s JOIN mid m "
                        "ON s.j = m.j JOIN big b ON b.k = m.k LEFT JOIN tiny t ON t.w = s.w");
  assert_string_equal(text, "n,nz\n200,120\n");
  free(text);
}

static void test_joinorder__files(void **state) {
  (void)state;
  char sql[2048];
  snprintf(sql, sizeof sql,
           "SELECT s.name, m.m, b.v FROM '%s/small.csv' s JOIN '%s/mid.csv' m ON s.j = m.j "
           "JOIN '%s/t.h5:/big' b ON b.k = m.k JOIN '%s/tiny.csv' t ON t.w = s.w",
           dir, dir, dir, dir);
  char *plan = same_both_ways(sql, 120, NULL);
  /* the HDF5 table's count is exact; the CSV files' estimates come from the
   * sniffer's sample, here the whole file */
  char scan[600];
  snprintf(scan, sizeof scan, "SCAN %s/t.h5:/big (2 columns; ~200 rows)", dir);
  expect_in(plan, scan);
  snprintf(scan, sizeof scan, "SCAN %s/mid.csv (3 columns; ~20 rows)", dir);
  expect_in(plan, scan);
  expect_in(plan, "join order by estimated rows: b (~200 rows), m (~20 rows), s (~5 rows), t "
                  "(~3 rows); written: s, m, b, t");
  free(plan);
  /* files and a registered frame in one chain */
  snprintf(sql, sizeof sql,
           "SELECT count(*) AS n, sum(v) AS sv FROM '%s/tiny.csv' t JOIN small s ON t.w = s.w "
           "JOIN '%s/mid.csv' m ON m.j = s.j JOIN '%s/big.csv' b ON b.k = m.k",
           dir, dir, dir);
  plan = same_both_ways(sql, 1, NULL);
  expect_in(plan, "written: t, s, m, b");
  free(plan);
  /* big rows with k % 5 <= 2: k in {0,1,2,5,6,7,10,11,12,15,16,17}, ten
   * each, v = k + 20 r: 10 * 102 + 12 * 20 * 45 = 11820 */
  char *text = run_text(sql);
  assert_string_equal(text, "n,sv\n120,11820\n");
  free(text);
}

static void test_joinorder__kept_orders(void **state) {
  (void)state;
  /* a cross product the query has: kept as written */
  char *plan =
      same_both_ways("SELECT count(*) AS n FROM small s JOIN mid m ON s.j = m.j CROSS JOIN tiny t "
                     "JOIN big b ON b.k = m.k",
                     1, NULL);
  if (strstr(plan, "join order") != NULL)
    fail_msg("a cross product was reordered:\n%s", plan);
  free(plan);
  char *text = run_text("SELECT count(*) AS n FROM small s JOIN mid m ON s.j = m.j "
                        "CROSS JOIN tiny t JOIN big b ON b.k = m.k");
  assert_string_equal(text, "n\n600\n");
  free(text);
  /* an unknown size (a grouped subquery): kept as written */
  plan = same_both_ways("SELECT * FROM small s JOIN (SELECT j, count(*) AS c FROM mid GROUP BY j) "
                        "g ON g.j = s.j JOIN big b ON b.k = s.j",
                        50, NULL);
  if (strstr(plan, "join order") != NULL)
    fail_msg("reordered with an unknown size:\n%s", plan);
  free(plan);
  /* two relations only: the build side rule alone */
  plan = same_both_ways("SELECT * FROM small s JOIN big b ON b.k = s.j", 50, NULL);
  if (strstr(plan, "join order") != NULL)
    fail_msg("a two-relation join was reordered:\n%s", plan);
  free(plan);
}

/* The CSV estimate of a file larger than the sniffer's sample (256 KiB
 * head, eight 64 KiB windows): 300000 rows of 9 to 14 bytes. */
static void test_joinorder__csv_estimate(void **state) {
  (void)state;
  size_t cap = 300000 * 16, n = 0;
  char *text = malloc(cap);
  n += (size_t)sprintf(text, "a,b\n");
  for (int i = 0; i < 300000; i++)
    n += (size_t)sprintf(text + n, "%d,%d\n", i, i % 7);
  char sql[1024];
  snprintf(sql, sizeof sql, "EXPLAIN SELECT a FROM '%s' WHERE b = 3",
           write_file("long.csv", text, n));
  free(text);
  char *plan = run_text(sql);
  const char *at = strstr(plan, "; ~");
  if (at == NULL)
    fail_msg("no estimate in the plan:\n%s", plan);
  double est = 0;
  assert_int_equal(sscanf(strchr(at, '~') + 1, "%lf", &est), 1);
  if (est < 270000 || est > 330000) /* within 10 % */
    fail_msg("estimate %g for 300000 rows:\n%s", est, plan);
  free(plan);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_joinorder__three_frames),
      cmocka_unit_test(test_joinorder__four_using),
      cmocka_unit_test(test_joinorder__cross_join_keys_and_residual),
      cmocka_unit_test(test_joinorder__self_join),
      cmocka_unit_test(test_joinorder__left_join_barrier),
      cmocka_unit_test(test_joinorder__files),
      cmocka_unit_test(test_joinorder__kept_orders),
      cmocka_unit_test(test_joinorder__csv_estimate),
  };
  int rc = group_setup(NULL);
  if (rc == 0)
    rc = setup(NULL);
  if (rc != 0)
    return 1;
  rc = cmocka_run_group_tests(tests, NULL, NULL);
  teardown(NULL);
  group_teardown(NULL);
  return rc;
}
