/* test_sql_pushdown.c — WHERE conjuncts pushed into CSV readers (docs/sql.md,
 * "The planner"): each query runs over the CSV files by path, where the
 * filter goes into the reader, and over the same files loaded first and
 * registered as frames, where it stays a FILTER; the results must be the
 * same (columns, types, dictionaries, row chunks, rows, values).  Covers
 * nulls, strings (long, empty), a dictionary column, no row passing, every
 * row passing, a predicate on a column not selected, count(*), a join
 * mixing pushed and unpushed conjuncts, a subquery, and errors (a type
 * error, an overflow) worded as before.  EXPLAIN shows the pushed filters. */
#include <string.h>

#include <tessera/tessera.h>

#include "../frame/frame_same.h"
#include "../frame/scratch_dir.h"

#define NROWS 30000

static tsr_ctx *ctx;
static tsr_sql_session *ses;
static char tpath[512], upath[512];

static uint64_t rnd(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* t(id, k: k0..k4 or null, s: distinct, long, empty or null, v: int with
 * nulls, f: float); u(k, w): two rows per key, one key of no t row. */
static int setup(void **state) {
  (void)state;
  size_t cap = (size_t)NROWS * 80 + 64, n = 0;
  char *text = malloc(cap);
  if (text == NULL)
    return -1;
  n += (size_t)snprintf(text + n, cap - n, "id,k,s,v,f\n");
  uint64_t seed = 7;
  for (int i = 0; i < NROWS; i++) {
    uint64_t r = rnd(&seed);
    char k[8] = "", s[64] = "", v[24] = "";
    if (r % 13 != 0)
      snprintf(k, sizeof k, "k%d", (int)(r % 5));
    switch ((r >> 8) % 6) {
    case 0:
      break;
    case 1:
      snprintf(s, sizeof s, "\"\"");
      break;
    case 2:
      snprintf(s, sizeof s, "\"a long string, number %d\"", i);
      break;
    default:
      snprintf(s, sizeof s, "s%d", i);
    }
    if ((r >> 16) % 7 != 0)
      snprintf(v, sizeof v, "%d", (int)((r >> 20) % 200) - 50);
    n += (size_t)snprintf(text + n, cap - n, "%d,%s,%s,%s,%.3f\n", i, k, s, v,
                          (double)((r >> 32) % 1000) / 1000.0);
  }
  snprintf(tpath, sizeof tpath, "%s", write_file("t.csv", text, n));
  free(text);
  static const char u_csv[] = "k,w\nk0,1\nk0,5\nk1,2\nk1,0\nk3,4\nk3,1\nk9,1\n";
  snprintf(upath, sizeof upath, "%s", write_file("u.csv", u_csv, strlen(u_csv)));
  if (tsr_ctx_create(&ctx) != TSR_OK || tsr_ctx_set_threads(ctx, 2) != TSR_OK ||
      tsr_sql_session_create(ctx, &ses) != TSR_OK)
    return -1;
  /* by path: the scans push their filters; loaded frames: they do not */
  tsr_frame *f = NULL;
  if (tsr_sql_register_path(ses, "tf", tpath) != TSR_OK ||
      tsr_sql_register_path(ses, "uf", upath) != TSR_OK ||
      tsr_frame_read_csv(ctx, tpath, NULL, &f) != TSR_OK ||
      tsr_sql_register(ses, "tm", f) != TSR_OK)
    return -1;
  tsr_frame_destroy(&f);
  if (tsr_frame_read_csv(ctx, upath, NULL, &f) != TSR_OK ||
      tsr_sql_register(ses, "um", f) != TSR_OK)
    return -1;
  tsr_frame_destroy(&f);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  tsr_sql_session_destroy(&ses);
  tsr_ctx_destroy(&ctx);
  return 0;
}

/* The query with {T} / {U} replaced by tf / uf (files: pushed) or tm / um
 * (frames: not pushed); names of one length, so that messages with carets
 * compare. */
static void fill(char *out, size_t cap, const char *q, bool pushed) {
  size_t n = 0;
  for (const char *p = q; *p && n + 4 < cap; p++) {
    if (p[0] == '{' && (p[1] == 'T' || p[1] == 'U') && p[2] == '}') {
      n += (size_t)snprintf(out + n, cap - n, "%s%s", p[1] == 'T' ? "t" : "u", pushed ? "f" : "m");
      p += 2;
    } else
      out[n++] = *p;
  }
  out[n] = '\0';
}

static tsr_frame *run(const char *sql) {
  tsr_frame *f = NULL;
  tsr_status st = tsr_sql_run(ses, sql, &f);
  if (st != TSR_OK)
    fail_msg("%s\n-> %s: %s", sql, tsr_status_name(st), tsr_last_error());
  return f;
}

/* The EXPLAIN text of a statement (malloc'd): its one column's rows. */
static char *explain(const char *sql) {
  char q[1024];
  snprintf(q, sizeof q, "EXPLAIN %s", sql);
  tsr_frame *f = run(q);
  tsr_frame_result *r = NULL;
  assert_int_equal(tsr_frame_compute(f, NULL, &r), TSR_OK);
  size_t cap = 1 << 14, n = 0;
  char *text = calloc(1, cap);
  for (int64_t i = 0; i < tsr_frame_result_nrows(r); i++) {
    const char *s;
    size_t len;
    bool null;
    assert_int_equal(tsr_frame_result_string(r, 0, i, &s, &len, &null), TSR_OK);
    n += (size_t)snprintf(text + n, cap - n, "%.*s\n", (int)len, s);
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  /* estimated rows ("; ~5 rows" inside a scan's parentheses), where the
   * planner shows them, are not this test's business */
  for (char *e; (e = strstr(text, "; ~")) != NULL;) {
    char *close = strchr(e, ')');
    if (close == NULL)
      break;
    memmove(e, close, strlen(close) + 1);
  }
  return text;
}

/* The query gives the same result pushed and not, and its plan over the
 * files holds `plan` (NULL: not checked) and `nfilters` FILTER operators. */
static void same(const char *q, const char *plan, int nfilters) {
  char a[1024], b[1024];
  fill(a, sizeof a, q, true);
  fill(b, sizeof b, q, false);
  tsr_frame *got = run(a), *want = run(b);
  frames_assert_same(want, got);
  tsr_frame_destroy(&got);
  tsr_frame_destroy(&want);
  char *text = explain(a);
  int k = 0;
  for (const char *p = text; (p = strstr(p, "FILTER")) != NULL; p++)
    k++;
  if (k != nfilters || (plan != NULL && strstr(text, plan) == NULL))
    fail_msg("%s\nplan:\n%s", a, text);
  free(text);
  /* and the unpushed plan does filter */
  text = explain(b);
  if (strstr(text, "FILTER") == NULL || strstr(text, "filter:") != NULL)
    fail_msg("%s\nplan:\n%s", b, text);
  free(text);
}

static void test_sql_pushdown__results(void **state) {
  (void)state;
  same("SELECT * FROM {T} WHERE v > 50", "SCAN tf (5 columns) filter: v > 50", 0);
  same("SELECT id, s FROM {T} WHERE k = 'k3'",
       "SCAN tf (3 of 5 columns read: id, k, s) filter: k = 'k3'", 0);
  same("SELECT id, k FROM {T} WHERE s LIKE '%long%' AND v IS NOT NULL", NULL, 0);
  same("SELECT * FROM {T} WHERE s = ''", NULL, 0);
  same("SELECT * FROM {T} WHERE v > 1000000", NULL, 0);                /* no row */
  same("SELECT * FROM {T} WHERE v IS NULL OR v IS NOT NULL", NULL, 0); /* every row */
  same("SELECT id FROM {T} WHERE f < 0.25", "SCAN tf (2 of 5 columns read: id, f) filter: f < 0.25",
       0);
  same("SELECT count(*) FROM {T} WHERE v > 20", "(1 of 5 columns read: v) filter: v > 20", 0);
  same("SELECT k, count(*), sum(v) FROM {T} WHERE s IS NOT NULL AND v % 3 = 0 GROUP BY k "
       "ORDER BY k",
       NULL, 0);
  same("SELECT * FROM (SELECT id, v FROM {T} WHERE v > 0) WHERE id % 2 = 0", NULL, 1);
}

static void test_sql_pushdown__join(void **state) {
  (void)state;
  /* each side's conjuncts go into its reader; the one over both stays */
  const char *q = "SELECT a.id, a.k, b.w FROM {T} a JOIN {U} b ON a.k = b.k "
                  "WHERE a.v > 10 AND b.w < 5 AND a.v + b.w > 40 AND a.s IS NOT NULL "
                  "ORDER BY a.id, b.w";
  same(q, "SCAN uf (2 columns) filter: b.w < 5", 1);
  char a[1024];
  fill(a, sizeof a, q, true);
  char *text = explain(a);
  int pushed = 0;
  for (const char *p = text; (p = strstr(p, "filter: ")) != NULL; p++)
    pushed++;
  /* (EXPLAIN prints an AND of conjuncts as the query's text they span) */
  if (pushed != 2 || strstr(text, "FILTER a.v + b.w > 40\n") == NULL ||
      strstr(text, "SCAN tf (4 of 5 columns read: id, k, s, v) filter: a.v > 10") == NULL)
    fail_msg("plan:\n%s", text);
  free(text);
  same("SELECT a.id, b.w FROM {T} a LEFT JOIN {U} b ON a.k = b.k WHERE a.f > 0.9 "
       "ORDER BY a.id, b.w",
       NULL, 0);
}

/* The statement fails with the same status and message pushed and not. */
static void same_error(const char *q) {
  char sql[2][1024];
  tsr_status st[2];
  char msg[2][1024];
  for (int i = 0; i < 2; i++) {
    fill(sql[i], sizeof sql[i], q, i == 0);
    tsr_frame *f = NULL;
    tsr_frame_result *r = NULL;
    st[i] = tsr_sql_run(ses, sql[i], &f);
    if (st[i] == TSR_OK)
      st[i] = tsr_frame_compute(f, NULL, &r);
    snprintf(msg[i], sizeof msg[i], "%s", tsr_last_error());
    tsr_frame_result_destroy(&r);
    tsr_frame_destroy(&f);
  }
  assert_int_not_equal(st[0], TSR_OK);
  assert_int_equal(st[0], st[1]);
  /* the messages quote the query, which names the table tf or tm; which
   * row and task fail first is the executor's choice */
  for (char *x = msg[0]; (x = strstr(x, "tf")) != NULL; x++)
    x[1] = 'm';
  for (int i = 0; i < 2; i++) {
    char *o = msg[i];
    for (const char *p = msg[i]; *p; p++)
      if (*p < '0' || *p > '9')
        *o++ = *p;
      else if (o == msg[i] || o[-1] != '#')
        *o++ = '#';
    *o = '\0';
  }
  if (strcmp(msg[0], msg[1]) != 0)
    fail_msg("pushed:\n%s\nnot pushed:\n%s", msg[0], msg[1]);
}

static void test_sql_pushdown__errors(void **state) {
  (void)state;
  same_error("SELECT * FROM {T} WHERE k + 1 > 0");
  same_error("SELECT id FROM {T} WHERE v * 4611686018427387904 > 0");
  same_error("SELECT id FROM {T} WHERE nope > 0");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sql_pushdown__results),
      cmocka_unit_test(test_sql_pushdown__join),
      cmocka_unit_test(test_sql_pushdown__errors),
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
