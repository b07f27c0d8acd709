/* test_sql_parse.c — the SQL lexer and parser (src/sql/): statements are
 * parsed and printed as S-expressions (the form documented in parser.c)
 * and compared with trees worked out by hand from the grammar and DuckDB's
 * precedence; errors are compared whole, with line, column and caret; the
 * nesting limit, positions of nodes, NUL bytes and failed allocations are
 * checked too.  The teardown checks that nothing leaks. */
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"

#include "sql/ast.h"

/* Parses `src` and returns its statements printed, one per line (malloc'd). */
static char *parse_print(tsr_ctx *ctx, const char *src) {
  tsr__sql_script *script = NULL;
  tsr_status s = tsr__sql_parse(ctx, src, &script);
  if (s != TSR_OK)
    print_error("source: %s\n  failed: %s\n", src, tsr_last_error());
  assert_int_equal(s, TSR_OK);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  assert_non_null(f);
  for (int k = 0; k < script->nstmts; k++)
    tsr__sql_stmt_print(script->stmts[k], f);
  fclose(f);
  tsr__sql_script_destroy(&script);
  assert_null(script);
  return buf;
}

/* `want` is the statements' trees, one per line, without the last newline. */
static void check(tsr_ctx *ctx, const char *src, const char *want) {
  char *got = parse_print(ctx, src);
  size_t n = strlen(got);
  if (n > 0 && got[n - 1] == '\n')
    got[n - 1] = '\0';
  if (strcmp(got, want) != 0)
    print_error("source: %s\n  got:  %s\n  want: %s\n", src, got, want);
  assert_string_equal(got, want);
  free(got);
}

static void check_error(tsr_ctx *ctx, const char *src, const char *want) {
  tsr__sql_script *script = (tsr__sql_script *)&script;
  tsr_status s = tsr__sql_parse(ctx, src, &script);
  if (s != TSR_EPARSE || strcmp(tsr_last_error(), want) != 0)
    print_error("source: %s\n  got %s:\n%s\n  want:\n%s\n", src, tsr_status_name(s),
                tsr_last_error(), want);
  assert_int_equal(s, TSR_EPARSE);
  assert_null(script);
  assert_string_equal(tsr_last_error(), want);
}

static void test_sql_parse__precedence(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx, "SELECT a OR b AND NOT c = d",
        "(select (items (or (col a) (and (col b) (not (= (col c) (col d)))))))");
  check(ctx, "SELECT -x::int", "(select (items (neg (cast (col x) int))))");
  check(ctx, "SELECT a || b = c", "(select (items (= (|| (col a) (col b)) (col c))))");
  check(ctx, "SELECT x NOT BETWEEN 1 AND 2 AND y",
        "(select (items (and (not-between (col x) 1 2) (col y))))");
  check(ctx, "SELECT x BETWEEN a + 1 AND b || c",
        "(select (items (between (col x) (+ (col a) 1) (|| (col b) (col c)))))");
  check(ctx, "SELECT a * b + c / d // e % f",
        "(select (items (+ (* (col a) (col b)) (% (// (/ (col c) (col d)) (col e)) (col f)))))");
  check(ctx, "SELECT a - b - c, (a + b) * c, a + b || c",
        "(select (items (- (- (col a) (col b)) (col c)) (* (+ (col a) (col b)) (col c)) "
        "(|| (+ (col a) (col b)) (col c))))");
  check(ctx, "SELECT NOT a = b OR c", "(select (items (or (not (= (col a) (col b))) (col c))))");
  check(ctx, "SELECT NOT NOT a AND b IS NULL",
        "(select (items (and (not (not (col a))) (is-null (col b)))))");
  /* IS < comparisons < LIKE / BETWEEN / IN, as DuckDB evaluates them (each case's value in
   * DuckDB 1.x tells the groupings apart: NULL = NULL IS NULL is true, true = 2 BETWEEN 1 AND
   * 3 is true, NOT NULL IS NULL is false, NULL IS NULL IS NULL is false) */
  check(ctx, "SELECT NULL = NULL IS NULL", "(select (items (is-null (= null null))))");
  check(ctx, "SELECT true = 2 BETWEEN 1 AND 3", "(select (items (= true (between 2 1 3))))");
  check(ctx, "SELECT false = 'a' LIKE 'a'", "(select (items (= false (like 'a' 'a'))))");
  check(ctx, "SELECT true = 2 NOT IN (2)", "(select (items (= true (not-in 2 2))))");
  check(ctx, "SELECT NOT NULL IS NULL", "(select (items (not (is-null null))))");
  check(ctx, "SELECT NULL IS NULL IS NOT NULL", "(select (items (is-not-null (is-null null))))");
  check(ctx, "SELECT true IS TRUE = true", "(select (items (= (is-true true) true)))");
  check(ctx, "SELECT a LIKE b = c NOT ILIKE d",
        "(select (items (= (like (col a) (col b)) (not-ilike (col c) (col d)))))");
  check(ctx, "SELECT a = b IS NULL = c",
        "(select (items (= (is-null (= (col a) (col b))) (col c))))");
  check(ctx, "SELECT a < b IS TRUE", "(select (items (is-true (< (col a) (col b)))))");
  check(ctx, "SELECT a + 1 IN (1, 2 * 3) OR b LIKE 'x' || 'y'",
        "(select (items (or (in (+ (col a) 1) 1 (* 2 3)) (like (col b) (|| 'x' 'y')))))");
  check(ctx, "SELECT -a * b, - - 5, -(5), - 5::int, +5, -1.5, - 0",
        "(select (items (* (neg (col a)) (col b)) (neg -5) (neg 5) (neg (cast 5 int)) (pos 5) "
        "-1.5 0))");
  check(ctx, "SELECT x::int::varchar || 'a'",
        "(select (items (|| (cast (cast (col x) int) varchar) 'a')))");
  check(ctx, "SELECT a AND b OR c AND d",
        "(select (items (or (and (col a) (col b)) (and (col c) (col d)))))");
}

static void test_sql_parse__literals(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx,
        "SELECT 1, -5, 1.5, 1e3, .5, 9223372036854775807, 9223372036854775808, "
        "-9223372036854775808, 'it''s', '', TRUE, false, NULL, DATE '2024-01-31', "
        "timestamp '2024-01-01 00:00:00'",
        "(select (items 1 -5 1.5 1000.0 0.5 9223372036854775807 9.223372036854776e+18 "
        "-9223372036854775808 'it''s' '' true false null (date '2024-01-31') "
        "(timestamp '2024-01-01 00:00:00')))");
  check(ctx, "SELECT 1.0, 0.1, 1e-7, 123456789012345678901234567890, 2.5E+3, 00012, 1.",
        "(select (items 1.0 0.1 1e-07 1.2345678901234568e+29 2500.0 12 1.0))");
  /* decimals are correctly rounded (strtod): the nearest double to 0.1 and to 2^-1074 */
  tsr__sql_script *sc = NULL;
  assert_ok(tsr__sql_parse(ctx, "SELECT 0.1, 4.9406564584124654e-324, 'a''''b', 'x\ny'", &sc));
  tsr__sql_item *items = sc->stmts[0]->query->select->items;
  assert_int_equal(items[0].expr->kind, SQL_E_FLOAT);
  assert_true(items[0].expr->float_value == 0.1);
  assert_true(items[1].expr->float_value == 4.9406564584124654e-324);
  assert_true(items[1].expr->float_value > 0);
  assert_string_equal(items[2].expr->text, "a''b");
  assert_int_equal(items[2].expr->text_len, 4);
  assert_string_equal(items[3].expr->text, "x\ny");
  tsr__sql_script_destroy(&sc);
  /* comments and white space */
  check(ctx, "SELECT 1 -- one\n + /* two\n */ 2\t\r\n-- end", "(select (items (+ 1 2)))");
  check(ctx, "SELECT 4--3\n", "(select (items 4))");
  check(ctx, "SELECT 4-/**/-3", "(select (items (- 4 -3)))");
}

static void test_sql_parse__identifiers(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx,
        "SELECT ((a)) + \"Größe\", größe, t.\"x\"\"y\", \"select\" FROM \"My Table\" m "
        "WHERE ç > 1",
        "(select (items (+ (col a) (col \"Größe\")) (col größe) (col t.\"x\\\"y\") (col "
        "\"select\")) (from (as (table \"My Table\") m)) (where (> (col ç) 1)))");
  check(ctx, "SELECT 1 x, 2 AS from, 3 \"q\", MyCol AS MyAlias FROM T",
        "(select (items (as 1 x) (as 2 from) (as 3 \"q\") (as (col MyCol) MyAlias)) "
        "(from (table T)))");
  /* keywords are case-insensitive, names keep their case, function names are lowercased */
  check(ctx, "sElEcT Sum(X) fRoM t wHeRe X iS nOt NuLl",
        "(select (items (call sum (col X))) (from (table t)) (where (is-not-null (col X))))");
  tsr__sql_script *sc = NULL;
  assert_ok(tsr__sql_parse(ctx, "SELECT \"A\", a FROM t", &sc));
  tsr__sql_item *items = sc->stmts[0]->query->select->items;
  assert_true(items[0].expr->column.quoted);
  assert_string_equal(items[0].expr->column.name, "A");
  assert_false(items[1].expr->column.quoted);
  assert_int_equal(items[1].expr->column.pos, 12);
  tsr__sql_script_destroy(&sc);
}

static void test_sql_parse__select_and_from(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx, "SELECT v1, sum(v2) FROM 'x.csv' GROUP BY v1",
        "(select (items (col v1) (call sum (col v2))) (from (path \"x.csv\")) (group (col v1)))");
  check(ctx,
        "SELECT DISTINCT t.*, *, a AS \"B c\", b d FROM t AS u JOIN v USING (k) LEFT OUTER "
        "JOIN w ON u.k = w.k AND u.j = w.j, z",
        "(select distinct (items t.* * (as (col a) \"B c\") (as (col b) d)) (from (join cross "
        "(join left (join inner (as (table t) u) (table v) (using k)) (table w) (on (and (= "
        "(col u.k) (col w.k)) (= (col u.j) (col w.j))))) (table z))))");
  check(ctx,
        "SELECT a FROM t SEMI JOIN u ON t.a = u.a ANTI JOIN v ON t.a = v.a CROSS JOIN w ASOF "
        "JOIN x ON t.a = x.a AND t.t >= x.t ASOF LEFT JOIN y USING (a, t) FULL JOIN z ON true "
        "RIGHT JOIN q ON 1 = 1 INNER JOIN r ON 1=1 LEFT JOIN s ON 2=2 RIGHT OUTER JOIN s2 ON 3=3 "
        "FULL OUTER JOIN s3 USING (a)",
        "(select (items (col a)) (from (join full (join right (join left (join inner (join right "
        "(join full (join asof-left (join asof (join cross (join anti (join semi (table t) "
        "(table u) (on (= (col t.a) (col u.a)))) (table v) (on (= (col t.a) (col v.a)))) (table "
        "w)) (table x) (on (and (= (col t.a) (col x.a)) (>= (col t.t) (col x.t))))) (table y) "
        "(using a t)) (table z) (on true)) (table q) (on (= 1 1))) (table r) (on (= 1 1))) "
        "(table s) (on (= 2 2))) (table s2) (on (= 3 3))) (table s3) (using a))))");
  /* commas are looser than JOIN; parenthesised joins; subqueries with and without alias */
  check(ctx, "SELECT * FROM a, b JOIN c ON x, (SELECT 1) s, (SELECT 2)",
        "(select (items *) (from (join cross (join cross (join cross (table a) (join inner "
        "(table b) (table c) (on (col x)))) (as (subquery (select (items 1))) s)) (subquery "
        "(select (items 2))))))");
  check(ctx, "SELECT a FROM (t JOIN u ON t.a = u.a) AS j, ((v)), ((SELECT 1) UNION (SELECT 2)) w",
        "(select (items (col a)) (from (join cross (join cross (as (join inner (table t) (table "
        "u) (on (= (col t.a) (col u.a)))) j) (table v)) (as (subquery (union (select (items 1)) "
        "(select (items 2)))) w))))");
  check(ctx,
        "SELECT (SELECT max(x) FROM t), a FROM (SELECT * FROM t) s WHERE a > 0 GROUP BY ALL "
        "HAVING count(*) > 1",
        "(select (items (subquery (select (items (call max (col x))) (from (table t)))) (col a)) "
        "(from (as (subquery (select (items *) (from (table t)))) s)) (where (> (col a) 0)) "
        "(group all) (having (> (call count *) 1)))");
  check(ctx,
        "SELECT a, b, count(*) FROM t GROUP BY a, 2 ORDER BY 3 DESC, a NULLS FIRST, "
        "b ASC NULLS LAST LIMIT 10 OFFSET 5",
        "(select (items (col a) (col b) (call count *)) (from (table t)) (group (col a) 2) "
        "(order (desc 3) (asc (col a) nulls-first) (asc (col b) nulls-last)) (limit 10) "
        "(offset 5))");
  check(ctx, "SELECT ALL 1 OFFSET 2 LIMIT 3", "(select (items 1) (limit 3) (offset 2))");
  check(ctx, "SELECT x FROM 't.h5:/group' AS h, \"quoted name\"",
        "(select (items (col x)) (from (join cross (as (path \"t.h5:/group\") h) (table "
        "\"quoted name\"))))");
}

static void test_sql_parse__expressions(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx,
        "SELECT count(*), count(DISTINCT x), sum(x) OVER (PARTITION BY g ORDER BY t DESC NULLS "
        "FIRST ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) FROM t",
        "(select (items (call count *) (call count distinct (col x)) (call sum (col x) (over "
        "(partition (col g)) (order (desc (col t) nulls-first)) (rows 3)))) (from (table t)))");
  check(ctx,
        "SELECT left(s, 2), right(s, 1), coalesce(a, b, 0), date_trunc('month', d), "
        "row_number() OVER (), lag(x) OVER (PARTITION BY a, b ORDER BY c ROWS UNBOUNDED "
        "PRECEDING), avg(x) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), "
        "sum(ALL x), now()",
        "(select (items (call left (col s) 2) (call right (col s) 1) (call coalesce (col a) (col "
        "b) 0) (call date_trunc 'month' (col d)) (call row_number (over)) (call lag (col x) "
        "(over (partition (col a) (col b)) (order (asc (col c))) (rows unbounded))) (call avg "
        "(col x) (over (rows unbounded))) (call sum (col x)) (call now)))");
  check(ctx,
        "SELECT CASE WHEN a THEN 1 WHEN b THEN 2 ELSE 3 END, CASE x WHEN 1 THEN 'one' END, "
        "CAST(x AS double precision), TRY_CAST(y AS varchar(10)), z::DATE, "
        "CAST(w AS Character Varying), x::INTEGER",
        "(select (items (case (when (col a) 1) (when (col b) 2) (else 3)) (case (col x) (when 1 "
        "'one')) (cast (col x) double) (try-cast (col y) varchar) (cast (col z) date) (cast "
        "(col w) varchar) (cast (col x) integer)))");
  check(ctx,
        "SELECT extract(YEAR FROM d), EXTRACT('Month' FROM d), substring(s FROM 2 FOR 3), "
        "substring(s FROM 2), substring(s, 1), substr(s, 1, 2), trim(s), trim(LEADING 'x' FROM "
        "s), trim(TRAILING FROM s), trim(BOTH FROM s), trim('y' FROM s), trim(s, 'ab')",
        "(select (items (call extract 'year' (col d)) (call extract 'month' (col d)) (call "
        "substring (col s) 2 3) (call substring (col s) 2) (call substring (col s) 1) (call "
        "substr (col s) 1 2) (call trim (col s)) (call ltrim (col s) 'x') (call rtrim (col s)) "
        "(call trim (col s)) (call trim (col s) 'y') (call trim (col s) 'ab')))");
  check(ctx,
        "SELECT a FROM t WHERE a IN (1, 2, 3) AND b NOT IN ('x') AND c IS NULL AND d IS NOT "
        "NULL AND e IS TRUE AND f IS NOT FALSE AND g LIKE 'a%' AND h NOT ILIKE 'b' AND i "
        "ILIKE 'c' AND j NOT LIKE 'd' AND k IS FALSE AND l IS NOT TRUE",
        "(select (items (col a)) (from (table t)) (where (and (and (and (and (and (and (and (and "
        "(and (and (and (in (col a) 1 2 3) (not-in (col b) 'x')) (is-null (col c))) "
        "(is-not-null (col d))) (is-true (col e))) (is-not-false (col f))) (like (col g) 'a%')) "
        "(not-ilike (col h) 'b')) (ilike (col i) 'c')) (not-like (col j) 'd')) (is-false (col "
        "k))) (is-not-true (col l)))))");
  check(ctx, "SELECT a // b, a % b, a / b, a != b, a == b, a <> b, a <= b, a >= b, a < b, a > b",
        "(select (items (// (col a) (col b)) (% (col a) (col b)) (/ (col a) (col b)) (<> (col a) "
        "(col b)) (= (col a) (col b)) (<> (col a) (col b)) (<= (col a) (col b)) (>= (col a) (col "
        "b)) (< (col a) (col b)) (> (col a) (col b))))");
  check(ctx, "SELECT (SELECT 1) + 1, ((SELECT 2)), (WITH q AS (SELECT 3) SELECT * FROM q)",
        "(select (items (+ (subquery (select (items 1))) 1) (subquery (select (items 2))) "
        "(subquery (select (with (q (select (items 3)))) (items *) (from (table q))))))");
}

static void test_sql_parse__queries(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx,
        "WITH a AS (SELECT 1 AS x), b AS (SELECT 2) SELECT * FROM a UNION ALL SELECT * FROM b "
        "UNION (SELECT 3 ORDER BY 1) ORDER BY 1 DESC LIMIT 5 OFFSET 2",
        "(union (with (a (select (items (as 1 x)))) (b (select (items 2)))) (union all (select "
        "(items *) (from (table a))) (select (items *) (from (table b)))) (select (items 3) "
        "(order (asc 1))) (order (desc 1)) (limit 5) (offset 2))");
  check(ctx, "SELECT 1 UNION SELECT 2 UNION ALL SELECT 3 UNION DISTINCT SELECT 4",
        "(union (union all (union (select (items 1)) (select (items 2))) (select (items 3))) "
        "(select (items 4)))");
  check(ctx, "SELECT 1 UNION (SELECT 2 UNION SELECT 3)",
        "(union (select (items 1)) (union (select (items 2)) (select (items 3))))");
  /* clauses a parenthesised query already has are kept by wrapping it */
  check(ctx, "(SELECT 1 LIMIT 1) LIMIT 2",
        "(select (items *) (from (subquery (select (items 1) (limit 1)))) (limit 2))");
  check(ctx, "(SELECT 1) ORDER BY 1", "(select (items 1) (order (asc 1)))");
  check(ctx, "WITH a AS (SELECT 1) (WITH b AS (SELECT 2) SELECT * FROM b)",
        "(select (with (a (select (items 1)))) (items *) (from (subquery (select (with (b "
        "(select (items 2)))) (items *) (from (table b))))))");
}

static void test_sql_parse__statements(void **state) {
  tsr_ctx *ctx = *state;
  check(ctx,
        "CREATE OR REPLACE TABLE t AS SELECT 1; CREATE VIEW \"V\" AS SELECT * FROM t;; DROP "
        "TABLE IF EXISTS t; DROP VIEW v; COPY (SELECT 1) TO 'out.csv' (FORMAT csv, HEADER, "
        "DELIMITER '|'); COPY t TO 'x.csv'; EXPLAIN SELECT 1; EXPLAIN ANALYZE SELECT 1;",
        "(create-table or-replace t (select (items 1)))\n"
        "(create-view \"V\" (select (items *) (from (table t))))\n"
        "(drop-table if-exists t)\n"
        "(drop-view v)\n"
        "(copy (select (items 1)) \"out.csv\" (options (format \"csv\") (header) (delimiter "
        "\"|\")))\n"
        "(copy (select (items *) (from (table t))) \"x.csv\")\n"
        "(explain (select (items 1)))\n"
        "(explain analyze (select (items 1)))");
  check(ctx, "COPY (SELECT 1) TO 'x.h5:/g' WITH (FORMAT 'csv', HEADER false, QUOTE '\"', N 1.5)",
        "(copy (select (items 1)) \"x.h5:/g\" (options (format \"csv\") (header \"false\") "
        "(quote \"\\\"\") (n \"1.5\")))");
  check(ctx, "CREATE TABLE t AS WITH q AS (SELECT 1) SELECT * FROM q UNION SELECT 2",
        "(create-table t (union (with (q (select (items 1)))) (select (items *) (from (table "
        "q))) (select (items 2))))");
  check(ctx, "  ;  ; -- nothing\n", "");
  check(ctx, "", "");

  /* statement positions and options in the tree */
  const char *src = "SELECT 1 ;\n  COPY t TO 'o.csv' (HEADER, FORMAT CSV) ; DROP VIEW \"v\"";
  tsr__sql_script *sc = NULL;
  assert_ok(tsr__sql_parse(ctx, src, &sc));
  assert_int_equal(sc->nstmts, 3);
  assert_string_equal(sc->source, src);
  assert_int_equal(sc->stmts[0]->pos, 0);
  assert_int_equal(sc->stmts[0]->end, 8);
  tsr__sql_stmt *copy = sc->stmts[1];
  assert_int_equal(copy->kind, SQL_S_COPY);
  assert_int_equal(copy->pos, 13);
  assert_int_equal(copy->end, 51);
  assert_string_equal(copy->path, "o.csv");
  assert_int_equal(copy->path_pos, 23);
  assert_int_equal(copy->noptions, 2);
  assert_string_equal(copy->options[0].name, "header");
  assert_null(copy->options[0].value);
  assert_string_equal(copy->options[1].name, "format");
  assert_string_equal(copy->options[1].value, "csv");
  assert_string_equal(copy->query->select->from->name.name, "t");
  assert_int_equal(sc->stmts[2]->kind, SQL_S_DROP);
  assert_true(sc->stmts[2]->drop_view);
  assert_true(sc->stmts[2]->name.quoted);
  tsr__sql_script_destroy(&sc);
  tsr__sql_script_destroy(&sc); /* NULL is fine */
}

/* pos and end of expressions are their source text, parentheses included
 * where they belong to an operand, so that result columns can be named. */
static void test_sql_parse__positions(void **state) {
  tsr_ctx *ctx = *state;
  const char *src = "SELECT (a + b) * c, -x::int, sum(v) OVER (ORDER BY t), ((q)), -5, "
                    "CASE WHEN a THEN 1 END, x NOT IN (1), count(*)";
  const char *want[] = {
      "(a + b) * c",  "-x::int", "sum(v) OVER (ORDER BY t)", "q", "-5", "CASE WHEN a THEN 1 END",
      "x NOT IN (1)", "count(*)"};
  tsr__sql_script *sc = NULL;
  assert_ok(tsr__sql_parse(ctx, src, &sc));
  const tsr__sql_select *s = sc->stmts[0]->query->select;
  assert_int_equal(s->nitems, 8);
  for (int k = 0; k < 8; k++) {
    const tsr__sql_expr *e = s->items[k].expr;
    int n = e->end - e->pos;
    if (n < 0 || (size_t)n != strlen(want[k]) || strncmp(src + e->pos, want[k], (size_t)n) != 0)
      print_error("item %d: got '%.*s', want '%s'\n", k, n < 0 ? 0 : n, src + e->pos, want[k]);
    assert_int_equal(n, (int)strlen(want[k]));
    assert_memory_equal(src + e->pos, want[k], (size_t)n);
  }
  /* the operand of the product starts at '(' but is the sum a + b */
  const tsr__sql_expr *sum = s->items[0].expr->args[0];
  assert_int_equal(sum->pos, 8);
  assert_int_equal(sum->end, 13);
  tsr__sql_script_destroy(&sc);
}

static void test_sql_parse__syntax_errors(void **state) {
  tsr_ctx *ctx = *state;
  check_error(ctx, "SELECT 1 +",
              "line 1, column 11: syntax error at end of input\n"
              "  SELECT 1 +\n"
              "            ^");
  check_error(ctx, "SELEC 1",
              "line 1, column 1: unknown statement \"SELEC\" (expected SELECT, WITH, CREATE, "
              "DROP, COPY or EXPLAIN)\n"
              "  SELEC 1\n"
              "  ^");
  check_error(ctx, "SELECT a,\n  b c d\nFROM t",
              "line 2, column 7: syntax error at or near \"d\"\n"
              "    b c d\n"
              "        ^");
  check_error(ctx, "SELECT a FROM t\nWHERE x = 1 AND\n  y IN (1, 2\nORDER BY a",
              "line 4, column 1: expected ')' after \"2\"\n"
              "  ORDER BY a\n"
              "  ^");
  check_error(ctx, "SELECT 1;\nSELECT 2 FROM;",
              "line 2, column 14: expected a table name, a quoted path or a subquery after "
              "\"FROM\"\n"
              "  SELECT 2 FROM;\n"
              "               ^");
  check_error(ctx, "CREATE TABLE t (a int)",
              "line 1, column 16: expected AS after \"t\"\n"
              "  CREATE TABLE t (a int)\n"
              "                 ^");
  check_error(ctx, "SELECT a FROM t JOIN u",
              "line 1, column 23: expected ON or USING after \"u\" at end of input\n"
              "  SELECT a FROM t JOIN u\n"
              "                        ^");
  check_error(ctx, "SELECT a FROM t JOIN u WHERE 1",
              "line 1, column 24: expected ON or USING after \"u\"\n"
              "  SELECT a FROM t JOIN u WHERE 1\n"
              "                         ^");
  check_error(ctx, "SELECT count(x\n\n",
              "line 1, column 15: expected ')' after \"x\" at end of input\n"
              "  SELECT count(x\n"
              "                ^");
  check_error(ctx, "SELECT a NOT NULL",
              "line 1, column 10: syntax error at or near \"NOT\"\n"
              "  SELECT a NOT NULL\n"
              "           ^");
  check_error(ctx, "SELECT a IS 5",
              "line 1, column 13: expected NULL, TRUE or FALSE after \"IS\"\n"
              "  SELECT a IS 5\n"
              "              ^");
  check_error(ctx, "SELECT a FROM t ORDER BY a NULLS",
              "line 1, column 33: expected FIRST or LAST after \"NULLS\" at end of input\n"
              "  SELECT a FROM t ORDER BY a NULLS\n"
              "                                  ^");
  check_error(ctx, "DROP INDEX i",
              "line 1, column 6: expected TABLE or VIEW after \"DROP\"\n"
              "  DROP INDEX i\n"
              "       ^");
  check_error(ctx, "COPY t FROM 'x'",
              "line 1, column 8: expected TO after \"t\"\n"
              "  COPY t FROM 'x'\n"
              "         ^");
  check_error(ctx, "SELECT x FROM t ORDER BY x LIMIT 1 UNION SELECT 1",
              "line 1, column 36: syntax error at or near \"UNION\"\n"
              "  SELECT x FROM t ORDER BY x LIMIT 1 UNION SELECT 1\n"
              "                                     ^");
  check_error(ctx, "SELECT ASOF FROM t",
              "line 1, column 8: syntax error at or near \"ASOF\"\n"
              "  SELECT ASOF FROM t\n"
              "         ^");
  check_error(ctx, "SELECT 1 2",
              "line 1, column 10: syntax error at or near \"2\"\n"
              "  SELECT 1 2\n"
              "           ^");
  check_error(ctx, "SELECT\tFROM t",
              "line 1, column 8: syntax error at or near \"FROM\"\n"
              "  SELECT\tFROM t\n"
              "        \t^");
  check_error(ctx, "SELECT CASE a END",
              "line 1, column 15: expected WHEN after \"a\"\n"
              "  SELECT CASE a END\n"
              "                ^");
  check_error(ctx, "SELECT 1 x y",
              "line 1, column 12: syntax error at or near \"y\"\n"
              "  SELECT 1 x y\n"
              "             ^");
  check_error(ctx, "SELECT 'long\nstring' b c",
              "line 2, column 11: syntax error at or near \"c\"\n"
              "  string' b c\n"
              "            ^");
}

/* comparisons, and LIKE / BETWEEN / IN, do not chain (DuckDB's errors are the same) */
static void test_sql_parse__non_associative(void **state) {
  tsr_ctx *ctx = *state;
  check_error(ctx, "SELECT 1 = 1 = true",
              "line 1, column 14: syntax error at or near \"=\"\n"
              "  SELECT 1 = 1 = true\n"
              "               ^");
  check_error(ctx, "SELECT 1 < 2 <> b",
              "line 1, column 14: syntax error at or near \"<>\"\n"
              "  SELECT 1 < 2 <> b\n"
              "               ^");
  check_error(ctx, "SELECT 2 BETWEEN 1 AND 3 BETWEEN false AND true",
              "line 1, column 26: syntax error at or near \"BETWEEN\"\n"
              "  SELECT 2 BETWEEN 1 AND 3 BETWEEN false AND true\n"
              "                           ^");
  check_error(ctx, "SELECT 'ab' LIKE 'a%' NOT LIKE 'b'",
              "line 1, column 23: syntax error at or near \"NOT\"\n"
              "  SELECT 'ab' LIKE 'a%' NOT LIKE 'b'\n"
              "                        ^");
  check_error(ctx, "SELECT a = b LIKE c IN (1)",
              "line 1, column 21: syntax error at or near \"IN\"\n"
              "  SELECT a = b LIKE c IN (1)\n"
              "                      ^");
}

static void test_sql_parse__unsupported(void **state) {
  tsr_ctx *ctx = *state;
  check_error(ctx, "SELECT CAST(x AS decimal(10, 2))",
              "line 1, column 18: type \"decimal(10, 2)\" is not supported: only VARCHAR(n) "
              "takes a parameter (decimal and numeric values are DOUBLE in tessera)\n"
              "  SELECT CAST(x AS decimal(10, 2))\n"
              "                   ^");
  check_error(ctx, "SELECT x::int(4)",
              "line 1, column 11: type \"int(4)\" is not supported: only VARCHAR(n) takes a "
              "parameter (decimal and numeric values are DOUBLE in tessera)\n"
              "  SELECT x::int(4)\n"
              "            ^");
  check_error(ctx, "SELECT sum(x) OVER (ORDER BY y ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)",
              "line 1, column 61: window frame not supported at \"1\": only ROWS BETWEEN n "
              "PRECEDING AND CURRENT ROW and ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW\n"
              "  SELECT sum(x) OVER (ORDER BY y ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING)\n"
              "                                                              ^");
  check_error(ctx, "SELECT sum(x) OVER (RANGE BETWEEN 1 PRECEDING AND CURRENT ROW)",
              "line 1, column 21: window frame not supported at \"RANGE\": only ROWS BETWEEN n "
              "PRECEDING AND CURRENT ROW and ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW\n"
              "  SELECT sum(x) OVER (RANGE BETWEEN 1 PRECEDING AND CURRENT ROW)\n"
              "                      ^");
  check_error(ctx, "SELECT a FROM t WHERE a IN (SELECT 1)",
              "line 1, column 29: IN (subquery) is not supported: use a SEMI JOIN (or ANTI "
              "JOIN)\n"
              "  SELECT a FROM t WHERE a IN (SELECT 1)\n"
              "                              ^");
  check_error(ctx, "SELECT * FROM read_csv('x')",
              "line 1, column 15: table functions are not supported: name a file in quotes "
              "(FROM 'data.csv')\n"
              "  SELECT * FROM read_csv('x')\n"
              "                ^");
  check_error(ctx, "SELECT 1 INTERSECT SELECT 2",
              "line 1, column 10: INTERSECT is not supported (only UNION and UNION ALL)\n"
              "  SELECT 1 INTERSECT SELECT 2\n"
              "           ^");
}

static void test_sql_parse__lexical_errors(void **state) {
  tsr_ctx *ctx = *state;
  check_error(ctx, "SELECT 'abc",
              "line 1, column 8: unterminated string\n"
              "  SELECT 'abc\n"
              "         ^");
  check_error(ctx, "SELECT 1 /* x\n*",
              "line 1, column 10: unterminated /* comment\n"
              "  SELECT 1 /* x\n"
              "           ^");
  check_error(ctx, "SELECT \"a\"\"b\" FROM t\nWHERE x # 2",
              "line 2, column 9: unexpected character '#'\n"
              "  WHERE x # 2\n"
              "          ^");
  check_error(ctx, "SELECT a\x01",
              "line 1, column 9: unexpected character 0x01\n"
              "  SELECT a\x01\n"
              "          ^");
  check_error(ctx, "SELECT a | b",
              "line 1, column 10: unexpected character '|'\n"
              "  SELECT a | b\n"
              "           ^");
  check_error(ctx, "SELECT \"\" FROM t",
              "line 1, column 8: empty quoted identifier\n"
              "  SELECT \"\" FROM t\n"
              "         ^");
  check_error(ctx, "SELECT \"abc FROM t",
              "line 1, column 8: unterminated quoted identifier\n"
              "  SELECT \"abc FROM t\n"
              "         ^");
  check_error(ctx, "SELECT 1e999",
              "line 1, column 8: number out of range (larger than the largest double): 1e999\n"
              "  SELECT 1e999\n"
              "         ^");
  check_error(ctx, "SELECT 12abc",
              "line 1, column 8: malformed number \"12abc\"\n"
              "  SELECT 12abc\n"
              "         ^");
  check_error(ctx, "SELECT 1e+",
              "line 1, column 8: malformed number \"1e+\"\n"
              "  SELECT 1e+\n"
              "         ^");
  /* a NUL byte inside the given length is refused, never a silent end */
  static const char nul[] = "SELECT 1;\nSELECT '\0' FROM t";
  tsr__sql_script *sc = (tsr__sql_script *)&sc;
  assert_int_equal(tsr__sql_parse_len(ctx, nul, sizeof nul - 1, &sc), TSR_EPARSE);
  assert_null(sc);
  assert_string_equal(tsr_last_error(), "line 2, column 9: NUL byte in the SQL text\n"
                                        "  SELECT '\n"
                                        "          ^");
  assert_ok(tsr__sql_parse_len(ctx, nul, 8, &sc));
  assert_int_equal(sc->nstmts, 1);
  tsr__sql_script_destroy(&sc);
}

static char *repeat3(const char *head, const char *open, int n, const char *mid, const char *close,
                     const char *tail) {
  size_t len =
      strlen(head) + (strlen(open) + strlen(close)) * (size_t)n + strlen(mid) + strlen(tail) + 1;
  char *s = malloc(len), *w = s;
  assert_non_null(s);
  w += sprintf(w, "%s", head);
  for (int k = 0; k < n; k++)
    w += sprintf(w, "%s", open);
  w += sprintf(w, "%s", mid);
  for (int k = 0; k < n; k++)
    w += sprintf(w, "%s", close);
  sprintf(w, "%s", tail);
  return s;
}

static void check_depth(tsr_ctx *ctx, char *src, bool ok) {
  tsr__sql_script *sc = NULL;
  tsr_status s = tsr__sql_parse(ctx, src, &sc);
  if (ok) {
    if (s != TSR_OK)
      print_error("%.80s...: %s\n", src, tsr_last_error());
    assert_int_equal(s, TSR_OK);
    FILE *devnull = fopen("/dev/null", "w");
    assert_non_null(devnull);
    for (int k = 0; k < sc->nstmts; k++)
      tsr__sql_stmt_print(sc->stmts[k], devnull);
    fclose(devnull);
    tsr__sql_script_destroy(&sc);
  } else {
    if (s != TSR_EPARSE || strstr(tsr_last_error(), "nested too deeply") == NULL)
      print_error("%.80s...: %s\n", src, tsr_last_error());
    assert_int_equal(s, TSR_EPARSE);
    assert_null(sc);
    assert_non_null(strstr(tsr_last_error(), "nested too deeply (more than 200 levels"));
  }
  free(src);
}

static void test_sql_parse__nesting_limit(void **state) {
  tsr_ctx *ctx = *state;
  /* query + select item + 198 parentheses = 200 levels */
  check_depth(ctx, repeat3("SELECT ", "(", 198, "1", ")", ""), true);
  check_depth(ctx, repeat3("SELECT ", "(", 199, "1", ")", ""), false);
  char *src = repeat3("SELECT ", "(", 199, "1", "", "");
  char want[512] = "line 1, column 207: nested too deeply (more than 200 levels of parentheses, "
                   "subqueries and chained operators)\n  ...";
  size_t w = strlen(want);
  memset(want + w, '(', 99); /* the window of tsr__query_fail: 100 bytes ending at the 1 */
  w += 99;
  w += (size_t)sprintf(want + w, "1\n  ");
  memset(want + w, ' ', 102);
  w += 102;
  sprintf(want + w, "^");
  check_error(ctx, src, want);
  free(src);
  /* each link of an operator chain is a level too (the tree is that deep) */
  check_depth(ctx, repeat3("SELECT 1", "", 198, "", " AND 1", ""), true);
  check_depth(ctx, repeat3("SELECT 1", "", 199, "", " AND 1", ""), false);
  /* 100000 of anything fails cleanly, without recursing 100000 deep */
  int big = 100000;
  check_depth(ctx, repeat3("SELECT ", "(", big, "1", ")", ""), false);
  check_depth(ctx, repeat3("SELECT ", "- ", big, "1", "", ""), false);
  check_depth(ctx, repeat3("SELECT ", "NOT ", big, "1", "", ""), false);
  check_depth(ctx, repeat3("SELECT 1", "", big, "", "+1", ""), false);
  check_depth(ctx, repeat3("SELECT 1", "", big, "", " AND 1", ""), false);
  check_depth(ctx, repeat3("SELECT 1", "", big, "", "::int", ""), false);
  check_depth(ctx, repeat3("SELECT ", "f(", big, "1", ")", ""), false);
  check_depth(ctx, repeat3("SELECT ", "CASE WHEN ", big, "1", " THEN 1 END", ""), false);
  check_depth(ctx, repeat3("", "SELECT * FROM (", big, "SELECT 1", ")", ""), false);
  check_depth(ctx, repeat3("SELECT * FROM ", "(", big, "t", ")", ""), false);
  check_depth(ctx, repeat3("SELECT * FROM t", "", big, "", " JOIN t USING (a)", ""), false);
  check_depth(ctx, repeat3("SELECT 1", "", big, "", " UNION SELECT 1", ""), false);
  check_depth(ctx, repeat3("SELECT ", "(SELECT ", big, "1", ")", ""), false);
  /* long flat lists are not nesting */
  check_depth(ctx, repeat3("SELECT x IN (1", "", 100000, "", ", 1", ")"), true);
  check_depth(ctx, repeat3("SELECT 1", "", 100000, "", ", 1", ""), true);
  check_depth(ctx, repeat3("SELECT 1", "", 100000, "", "; SELECT 1", ""), true);
}

static void test_sql_parse__out_of_memory(void **state) {
  tsr_ctx *ctx = *state;
  const char *src = "WITH q AS (SELECT a, sum(b) OVER (PARTITION BY c) FROM 'x.csv' WHERE a IN "
                    "(1, 2, 3, 4, 5)) SELECT * FROM q JOIN r USING (a) ORDER BY 1; DROP TABLE x";
  for (int n = 1;; n++) {
    tsr__sql_script *sc = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_status s = tsr__sql_parse(ctx, src, &sc);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    if (s == TSR_OK) {
      assert_true(n > 2);
      tsr__sql_script_destroy(&sc);
      break;
    }
    assert_int_equal(s, TSR_ENOMEM);
    assert_null(sc);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sql_parse__precedence, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__literals, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__identifiers, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__select_and_from, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__expressions, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__queries, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__statements, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__positions, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__syntax_errors, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__non_associative, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__unsupported, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__lexical_errors, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__nesting_limit, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_sql_parse__out_of_memory, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
