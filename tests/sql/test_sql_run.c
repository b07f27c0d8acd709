/* test_sql_run.c — SQL sessions (tessera/sql.h) on small tables whose
 * results are worked out by hand: each case runs a statement and compares
 * the result, written as CSV by the frame writer (nulls are empty fields,
 * empty strings ""), with the expected text.  Covers every clause of the
 * subset, three-valued logic, the plan's rewrites (EXPLAIN), the catalog
 * statements, and the errors (messages with carets and suggestions; a
 * failed statement changes nothing). */
#include <string.h>

#include <tessera/tessera.h>

#include "../frame/scratch_dir.h"

static tsr_ctx *ctx;
static tsr_sql_session *ses;

/* t(a int, b float, s string): five rows with nulls and an empty string;
 * u(a, name): three rows, one a key of no t row; ev(t, k, v) and q(t, k, p)
 * for as-of joins. */
static const char t_csv[] = "a,b,s\n1,2.5,x\n2,,y\n1,4,\"\"\n3,1,\"q,r\"\n,7,x\n";
static const char u_csv[] = "a,name\n1,one\n2,two\n4,four\n";
static const char ev_csv[] = "t,k,v\n1,a,10\n5,a,50\n3,b,30\n";
static const char q_csv[] = "t,k,p\n0,a,0.5\n2,a,2.5\n4,a,4.5\n6,b,6.5\n4,b,4.25\n";

static int setup(void **state) {
  (void)state;
  if (tsr_ctx_create(&ctx) != TSR_OK || tsr_ctx_set_threads(ctx, 2) != TSR_OK ||
      tsr_sql_session_create(ctx, &ses) != TSR_OK)
    return -1;
  const char *names[] = {"t", "u", "ev", "q"};
  const char *texts[] = {t_csv, u_csv, ev_csv, q_csv};
  for (int i = 0; i < 4; i++) {
    char file[32];
    snprintf(file, sizeof file, "%s.csv", names[i]);
    const char *path = write_file(file, texts[i], strlen(texts[i]));
    if (tsr_sql_register_path(ses, names[i], path) != TSR_OK)
      return -1;
  }
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
  char name[32];
  snprintf(name, sizeof name, "out%d.csv", n++);
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  assert_int_equal(tsr_frame_write_csv(f, path, ',', true, NULL), TSR_OK);
  FILE *in = fopen(path, "rb");
  assert_non_null(in);
  char *buf = calloc(1, 1 << 16);
  size_t got = fread(buf, 1, (1 << 16) - 1, in);
  buf[got] = '\0';
  fclose(in);
  return buf;
}

static void check(const char *sql, const char *want) {
  tsr_frame *f = NULL;
  tsr_status st = tsr_sql_run(ses, sql, &f);
  if (st != TSR_OK)
    fail_msg("%s\n-> %s: %s", sql, tsr_status_name(st), tsr_last_error());
  assert_non_null(f);
  char *got = as_csv(f);
  if (strcmp(got, want) != 0)
    fail_msg("%s\nwant:\n%sgot:\n%s", sql, want, got);
  free(got);
  tsr_frame_destroy(&f);
}

/* The statement fails with `status` and a message holding `needle`, when
 * it runs or, for errors in values (casts, overflow), when its lazy result
 * is computed. */
static void check_error(const char *sql, tsr_status status, const char *needle) {
  tsr_frame *f = NULL;
  tsr_status st = tsr_sql_run(ses, sql, &f);
  if (st == TSR_OK && f != NULL) {
    tsr_frame_result *r = NULL;
    st = tsr_frame_compute(f, NULL, &r);
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&f);
  }
  if (st != status || strstr(tsr_last_error(), needle) == NULL)
    fail_msg("%s\nwant %s containing '%s', got %s: %s", sql, tsr_status_name(status), needle,
             tsr_status_name(st), tsr_last_error());
  assert_null(f);
}

static void test_select_expressions(void **state) {
  (void)state;
  check("SELECT a, b * 2 AS b2, -a + 1 AS n, a / 2 AS h, a % 2 AS m, a // 2 AS d FROM t",
        "a,b2,n,h,m,d\n1,5.0,0,0.5,1,0\n2,,-1,1.0,0,1\n1,8.0,0,0.5,1,0\n3,2.0,-2,1.5,1,1\n"
        ",14.0,,,,\n");
  check("SELECT * FROM u", "a,name\n1,one\n2,two\n4,four\n");
  check("SELECT u.*, 7 AS seven FROM u WHERE a = 4", "a,name,seven\n4,four,7\n");
  check("SELECT 1 + 2 AS x, 'a' AS y", "x,y\n3,a\n");
  check("SELECT A, \"name\" FROM U WHERE NAME = 'two'", "A,name\n2,two\n");
  check("SELECT a, a FROM u WHERE a = 1", "a,a_1\n1,1\n");
}

static void test_functions(void **state) {
  (void)state;
  check("SELECT a, CASE WHEN b > 2 THEN 'big' WHEN b IS NULL THEN 'none' ELSE 'small' END AS c, "
        "CASE a WHEN 1 THEN 'one' END AS w, coalesce(b, -1) AS cb FROM t",
        "a,c,w,cb\n1,big,one,2.5\n2,none,,-1.0\n1,big,one,4.0\n3,small,,1.0\n,big,,7.0\n");
  check("SELECT CAST(a AS varchar) || '-' || s AS j, s ILIKE 'X' AS il, substr(s, 2) AS f, "
        "b::int AS bi, try_cast(s AS integer) AS n, nullif(a, 1) AS z FROM t WHERE a > 0",
        "j,il,f,bi,n,z\n1-x,true,\"\",2,,\n2-y,false,\"\",,,2\n1-,false,\"\",4,,\n"
        "\"3-q,r\",false,\",r\",1,,3\n");
  check("SELECT concat(s, a) AS c, length(s) AS l, replace(s, 'q', 'Q') AS r, upper(trim(s)) AS u "
        "FROM t WHERE a = 3",
        "c,l,r,u\n\"q,r3\",3,\"Q,r\",\"Q,R\"\n");
  check("SELECT DATE '2024-03-15' AS d, extract(month FROM DATE '2024-03-15') AS m, "
        "extract('dow' FROM DATE '2024-03-17') AS w, date_trunc('month', DATE '2024-03-15') AS dt, "
        "(NULL > 2) IS NOT TRUE AS t",
        "d,m,w,dt,t\n2024-03-15,3,0,2024-03-01 00:00:00,true\n");
  check_error("SELECT CAST(s AS integer) FROM t", TSR_EINVAL, "'x'");
  check_error("SELECT CAST(a AS decimal) FROM t", TSR_EINVAL, "decimal");
}

static void test_where_logic(void **state) {
  (void)state;
  check("SELECT a FROM t WHERE b > 2 AND s = 'x'", "a\n1\n\n");
  check("SELECT a FROM t WHERE NOT (a = 1) OR b >= 7", "a\n2\n3\n\n");
  check("SELECT a, b FROM t WHERE b BETWEEN 1 AND 3", "a,b\n1,2.5\n3,1.0\n");
  check("SELECT a FROM t WHERE a NOT BETWEEN 2 AND 3", "a\n1\n1\n");
  check("SELECT a FROM t WHERE a IN (2, 3)", "a\n2\n3\n");
  /* NOT IN with a null in the list is never true */
  check("SELECT a FROM t WHERE a NOT IN (1, NULL)", "a\n");
  check("SELECT a FROM t WHERE a NOT IN (1, 5)", "a\n2\n3\n");
  check("SELECT a FROM t WHERE b IS NULL OR s IS NOT NULL AND a > 2", "a\n2\n3\n");
  check("SELECT s FROM t WHERE s LIKE 'q%' OR s LIKE '_'", "s\nx\ny\n\"q,r\"\nx\n");
  check("SELECT s FROM t WHERE s NOT LIKE '%x%'", "s\ny\n\"\"\n\"q,r\"\n");
  check("SELECT a, s = '' AS e FROM t WHERE a = 1", "a,e\n1,false\n1,true\n");
}

static void test_group_by(void **state) {
  (void)state;
  check("SELECT a, count(*) AS n, count(b) AS nb, sum(b) AS sb, min(s) AS lo FROM t "
        "GROUP BY a ORDER BY a NULLS FIRST",
        "a,n,nb,sb,lo\n,1,1,7.0,x\n1,2,2,6.5,\"\"\n2,1,0,,y\n3,1,1,1.0,\"q,r\"\n");
  check("SELECT a AS k, avg(b) FROM t GROUP BY k HAVING count(*) > 1", "k,avg(b)\n1,3.25\n");
  check("SELECT a, max(b) - min(b) AS r FROM t GROUP BY 1 HAVING max(b) > 2 ORDER BY 2",
        "a,r\n,0.0\n1,1.5\n");
  check("SELECT count(*), count(DISTINCT s), median(b), quantile_cont(b, 0.25), "
        "var_samp(b), var_pop(a), stddev(b) FROM t",
        "count_star(),count(DISTINCT s),median(b),\"quantile_cont(b, 0.25)\",var_samp(b),"
        "var_pop(a),stddev(b)\n5,4,3.25,2.125,6.5625,0.6875,2.5617376914898995\n");
  check("SELECT corr(a, b), covar_samp(a, b) FROM t WHERE a <> 2",
        "\"corr(a, b)\",\"covar_samp(a, b)\"\n-0.8660254037844386,-1.5\n");
  check("SELECT s, sum(a) FROM t WHERE a > 5 GROUP BY s", "s,sum(a)\n");
  check("SELECT sum(a) FROM t WHERE a > 5", "sum(a)\n\n");
  check("SELECT a + 1 AS k, count(*) FROM t GROUP BY a + 1 ORDER BY k NULLS LAST",
        "k,count_star()\n2,2\n3,1\n4,1\n,1\n");
  check("SELECT a, count(*) c FROM t GROUP BY ALL HAVING count(*) > 1", "a,c\n1,2\n");
}

static void test_order_limit(void **state) {
  (void)state;
  check("SELECT a, b FROM t ORDER BY b DESC", "a,b\n,7.0\n1,4.0\n1,2.5\n3,1.0\n2,\n");
  check("SELECT a, b FROM t ORDER BY b DESC NULLS FIRST LIMIT 2", "a,b\n2,\n,7.0\n");
  check("SELECT a, b FROM t ORDER BY a, b DESC", "a,b\n1,4.0\n1,2.5\n2,\n3,1.0\n,7.0\n");
  check("SELECT a FROM t ORDER BY b LIMIT 2 OFFSET 1", "a\n1\n1\n");
  check("SELECT s FROM t ORDER BY a DESC, s LIMIT 3", "s\n\"q,r\"\ny\n\"\"\n");
  check("SELECT a FROM t LIMIT 2", "a\n1\n2\n");
  check("SELECT a FROM t LIMIT 2 OFFSET 4", "a\n\n");
  check("SELECT name FROM u ORDER BY length(name) DESC, name", "name\nfour\none\ntwo\n");
}

static void test_joins(void **state) {
  (void)state;
  check("SELECT t.a, s, name FROM t JOIN u ON t.a = u.a",
        "a,s,name\n1,x,one\n2,y,two\n1,\"\",one\n");
  check("SELECT * FROM t JOIN u USING (a) WHERE b > 2",
        "a,b,s,name\n1,2.5,x,one\n1,4.0,\"\",one\n");
  check("SELECT t.a, u.a AS ua, name FROM t LEFT JOIN u ON t.a = u.a",
        "a,ua,name\n1,1,one\n2,2,two\n1,1,one\n3,,\n,,\n");
  check("SELECT t.a, u.a AS ua, name FROM t RIGHT JOIN u ON t.a = u.a",
        "a,ua,name\n1,1,one\n2,2,two\n1,1,one\n,4,four\n");
  check("SELECT a, name FROM t FULL JOIN u USING (a)",
        "a,name\n1,one\n2,two\n1,one\n3,\n,\n4,four\n");
  check("SELECT * FROM u SEMI JOIN t USING (a)", "a,name\n1,one\n2,two\n");
  check("SELECT * FROM u ANTI JOIN t USING (a)", "a,name\n4,four\n");
  check("SELECT x.a, y.a AS b FROM u x CROSS JOIN u y WHERE x.a < y.a", "a,b\n1,2\n1,4\n2,4\n");
  check("SELECT x.name, y.name AS n2 FROM u x, u y WHERE x.a = y.a - 1", "name,n2\none,two\n");
  check("SELECT ev.t, ev.k, v, p FROM ev ASOF JOIN q ON ev.k = q.k AND ev.t >= q.t",
        "t,k,v,p\n1,a,10,0.5\n5,a,50,4.5\n");
  check("SELECT ev.t, v, p FROM ev ASOF LEFT JOIN q ON ev.k = q.k AND ev.t >= q.t",
        "t,v,p\n1,10,0.5\n5,50,4.5\n3,30,\n");
  /* an inner join on any condition is a filtered cross join; outer joins need equalities */
  check("SELECT count(*) AS n FROM t JOIN u ON t.a = u.a OR t.b > 3", "n\n8\n");
  check_error("SELECT * FROM t LEFT JOIN u ON t.a = u.a OR t.b > 1", TSR_ENOTSUP,
              "only equalities");
}

static void test_set_and_nesting(void **state) {
  (void)state;
  check("SELECT DISTINCT s FROM t ORDER BY s", "s\n\"\"\n\"q,r\"\nx\ny\n");
  check("SELECT a FROM u UNION ALL SELECT a FROM t WHERE a > 1", "a\n1\n2\n4\n2\n3\n");
  check("SELECT a FROM u UNION SELECT a FROM t ORDER BY a NULLS FIRST", "a\n\n1\n2\n3\n4\n");
  check("SELECT a, name FROM u UNION ALL SELECT 9, 'nine' ORDER BY 1 DESC LIMIT 1",
        "a,name\n9,nine\n");
  check("WITH big AS (SELECT a, b FROM t WHERE b > 2), k AS (SELECT a FROM big) "
        "SELECT count(*) AS n FROM k",
        "n\n3\n");
  check("SELECT m.a, m.total FROM (SELECT a, sum(b) AS total FROM t GROUP BY a) AS m "
        "WHERE m.total > 5 ORDER BY a",
        "a,total\n1,6.5\n,7.0\n");
}

static void test_windows(void **state) {
  (void)state;
  check("SELECT a, b, row_number() OVER (PARTITION BY a ORDER BY b DESC) AS rn, "
        "rank() OVER (ORDER BY a) AS r, dense_rank() OVER (ORDER BY a) AS dr FROM t",
        "a,b,rn,r,dr\n1,2.5,2,1,1\n2,,1,3,2\n1,4.0,1,1,1\n3,1.0,1,4,3\n,7.0,1,5,4\n");
  /* the n largest per group: run as the group-by's largest(b, n) when b's nulls are
   * filtered (EXPLAIN), as the window otherwise; the same rows */
  static const char top[] = "SELECT a, b AS top FROM (SELECT a, b, row_number() OVER (PARTITION "
                            "BY a ORDER BY b DESC) AS rn FROM t WHERE %s) s WHERE rn <= 1";
  char sql[300];
  snprintf(sql, sizeof sql, top, "b IS NOT NULL");
  check(sql, "a,top\n1,4.0\n3,1.0\n,7.0\n");
  snprintf(sql, sizeof sql, top, "NOT (b IS NULL)");
  check(sql, "a,top\n1,4.0\n3,1.0\n,7.0\n");
  char explain[320];
  snprintf(sql, sizeof sql, top, "b IS NOT NULL");
  snprintf(explain, sizeof explain, "EXPLAIN %s", sql);
  tsr_frame *plan = NULL;
  assert_int_equal(tsr_sql_run(ses, explain, &plan), TSR_OK);
  char *text = as_csv(plan);
  tsr_frame_destroy(&plan);
  if (strstr(text, "AGGREGATE keys [a] aggregates [largest(b, 1)]") == NULL ||
      strstr(text, "WINDOW") != NULL)
    fail_msg("plan:\n%s", text);
  free(text);
  check("SELECT a, lag(a) OVER (ORDER BY a) AS l, lead(a, 1, 0) OVER (ORDER BY a) AS n "
        "FROM u",
        "a,l,n\n1,,2\n2,1,4\n4,2,0\n");
  check("SELECT a, sum(a) OVER (ORDER BY a) AS cs, "
        "avg(a) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) AS m FROM u",
        "a,cs,m\n1,1,1.0\n2,3,1.5\n4,7,3.0\n");
}

static void test_catalog(void **state) {
  (void)state;
  char copy[600];
  snprintf(copy, sizeof copy,
           "CREATE TABLE tt AS SELECT a, b FROM t WHERE a IS NOT NULL;"
           "CREATE VIEW vv AS SELECT a FROM tt WHERE b > 2;"
           "COPY (SELECT a, count(*) AS n FROM vv GROUP BY a) TO '%s/copied.csv'",
           dir);
  tsr_frame *f = NULL;
  assert_int_equal(tsr_sql_run(ses, copy, &f), TSR_OK);
  assert_null(f);
  char path[600];
  snprintf(path, sizeof path, "%s/copied.csv", dir);
  FILE *in = fopen(path, "rb");
  assert_non_null(in);
  char buf[128] = "";
  size_t got = fread(buf, 1, sizeof buf - 1, in);
  fclose(in);
  buf[got] = '\0';
  assert_string_equal(buf, "a,n\n1,2\n");
  check("SELECT count(*) AS n FROM tt", "n\n4\n");
  check_error("CREATE TABLE tt AS SELECT 1", TSR_EINVAL, "exists");
  check("CREATE OR REPLACE TABLE tt AS SELECT 1 AS one; SELECT * FROM tt", "one\n1\n");
  /* a failed statement leaves the catalog as it was */
  check_error("CREATE TABLE bad AS SELECT nope FROM t", TSR_EINVAL, "unknown column");
  check_error("SELECT * FROM bad", TSR_EINVAL, "unknown table \"bad\"");
  check_error("DROP TABLE vv", TSR_EINVAL, "is a view");
  assert_int_equal(tsr_sql_run(ses, "DROP VIEW vv; DROP TABLE tt; DROP TABLE IF EXISTS tt", &f),
                   TSR_OK);
  check_error("SELECT * FROM vv", TSR_EINVAL, "unknown table");
}

static void test_register_frame(void **state) {
  (void)state;
  static const int64_t v[3] = {5, 6, 7};
  tsr_column_data c = {.name = "v", .type = {TSR_COL_INT64, 0}, .length = 3, .values = v};
  tsr_frame *f = NULL, *out = NULL;
  assert_int_equal(tsr_frame_from_columns(ctx, 1, &c, 2, TSR_BUFFER_COPY, NULL, NULL, &f), TSR_OK);
  assert_int_equal(tsr_sql_register(ses, "Nums", f), TSR_OK);
  tsr_frame_destroy(&f); /* the session holds its own */
  check("SELECT sum(v) AS s FROM nums", "s\n18\n");
  /* a join whose left input is known to be smaller runs with it as the hash table's side */
  static const int64_t w[8] = {7, 1, 5, 7, 2, 3, 5, 9};
  static const int64_t id[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  tsr_column_data wc[2] = {{.name = "v", .type = {TSR_COL_INT64, 0}, .length = 8, .values = w},
                           {.name = "id", .type = {TSR_COL_INT64, 0}, .length = 8, .values = id}};
  assert_int_equal(tsr_frame_from_columns(ctx, 2, wc, 3, TSR_BUFFER_COPY, NULL, NULL, &f), TSR_OK);
  assert_int_equal(tsr_sql_register(ses, "wide", f), TSR_OK);
  tsr_frame_destroy(&f);
  check("SELECT n.v, id FROM nums n JOIN wide w ON n.v = w.v ORDER BY id",
        "v,id\n7,0\n5,2\n7,3\n5,6\n");
  check("SELECT * FROM nums JOIN wide USING (v) ORDER BY id", "v,id\n7,0\n5,2\n7,3\n5,6\n");
  assert_int_equal(tsr_sql_run(ses, "EXPLAIN SELECT * FROM nums JOIN wide USING (v)", &out),
                   TSR_OK);
  char *text = as_csv(out);
  tsr_frame_destroy(&out);
  const char *big = strstr(text, "SCAN wide"), *small = strstr(text, "SCAN nums");
  if (big == NULL || small == NULL || big > small) /* the larger input first (the probe side) */
    fail_msg("plan:\n%s", text);
  free(text);
  assert_int_equal(tsr_sql_run(ses, "SELECT v FROM \"Nums\" WHERE v > 5", &out), TSR_OK);
  int64_t rows;
  assert_int_equal(tsr_frame_nrows(out, &rows), TSR_OK);
  assert_int_equal(rows, 2);
  tsr_frame_destroy(&out);
}

static void test_explain(void **state) {
  (void)state;
  tsr_frame *f = NULL;
  assert_int_equal(tsr_sql_run(ses,
                               "EXPLAIN SELECT name, count(*) FROM t JOIN u USING (a) "
                               "WHERE b > 1 AND name <> 'two' GROUP BY name ORDER BY 2 LIMIT 1",
                               &f),
                   TSR_OK);
  char *text = as_csv(f);
  tsr_frame_destroy(&f);
  /* the filters went below the join, each to its side and into its CSV
   * file's reader; ORDER BY + LIMIT is top-k */
  const char *topk = strstr(text, "TOP-K 1"), *join = strstr(text, "INNER JOIN");
  const char *fl = strstr(text, "SCAN t (2 of 3 columns read: a, b; ~5 rows) filter: b > 1");
  const char *fr = strstr(text, "SCAN u (2 columns; ~3 rows) filter: name <> 'two'");
  /* the file t is read for the columns the query uses alone */
  if (strstr(text, "FILTER") != NULL)
    fail_msg("plan:\n%s", text);
  if (!(topk && join && fl && fr && topk < join && join < fl && join < fr))
    fail_msg("plan:\n%s", text);
  free(text);
  assert_int_equal(tsr_sql_run(ses, "EXPLAIN ANALYZE SELECT a, count(*) FROM t GROUP BY a", &f),
                   TSR_OK);
  text = as_csv(f);
  tsr_frame_destroy(&f);
  if (strstr(text, "AGGREGATE") == NULL || strstr(text, "4 rows]") == NULL)
    fail_msg("plan:\n%s", text);
  free(text);
}

static void test_errors(void **state) {
  (void)state;
  check_error("SELECT nme FROM u", TSR_EINVAL,
              "line 1, column 8: unknown column \"nme\" (did you mean \"name\"?)\n"
              "  SELECT nme FROM u\n         ^");
  check_error("SELECT a FROM uu", TSR_EINVAL, "unknown table \"uu\" (did you mean \"u\"?)");
  check_error("SELECT a FROM t JOIN u USING (a) JOIN u v ON t.a = v.a", TSR_EINVAL, "ambiguous");
  check_error("SELECT a FROM t WHERE sum(a) > 1", TSR_EPARSE, "HAVING");
  check_error("SELECT a, sum(b) FROM t GROUP BY s", TSR_EINVAL, "unknown column \"a\"");
  check_error("SELECT sum(sum(a)) FROM t", TSR_EPARSE, "nested");
  check_error("SELECT a +\n  FROM t", TSR_EPARSE, "line 2, column 3");
  check_error("SELECT a + s FROM t", TSR_EDTYPE, "'a + s'");
  check_error("SELECT a FROM 'no_such_file.csv'", TSR_EIO, "no_such_file.csv");
  check_error("SELECT a FROM t UNION SELECT a, name FROM u", TSR_EINVAL, "1 and 2 columns");
  check_error("SELECT nosuchfunc(a) FROM t", TSR_EINVAL, "unknown function nosuchfunc()");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_select_expressions),
      cmocka_unit_test(test_functions),
      cmocka_unit_test(test_where_logic),
      cmocka_unit_test(test_group_by),
      cmocka_unit_test(test_order_limit),
      cmocka_unit_test(test_joins),
      cmocka_unit_test(test_set_and_nesting),
      cmocka_unit_test(test_windows),
      cmocka_unit_test(test_catalog),
      cmocka_unit_test(test_register_frame),
      cmocka_unit_test(test_explain),
      cmocka_unit_test(test_errors),
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
