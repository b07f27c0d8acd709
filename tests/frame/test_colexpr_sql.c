/* test_colexpr_sql.c — the column-expression functions SQL needs (CASE,
 * coalesce, nullif, cast / try_cast, ||, concat, substr, trim, replace,
 * ilike, IN, BETWEEN, IS NULL, date parts, extract, date_trunc) through
 * tsr_frame_assign / tsr_frame_filter, on a small frame with nulls, empty
 * strings and non-ASCII text, against values worked out by hand (dates
 * checked once against DuckDB 1.5); plus the runtime error rules: an
 * overflow or a failed cast in a CASE branch (or coalesce argument) not
 * chosen in a row raises nothing, a chosen one names the expression, the
 * row and the value.  The random comparison with DuckDB itself is
 * test_colexpr_duckdb.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <tessera/query.h>

#include "frame/value_text.h"
#include "test_util.h"

#define NR 8

/* i int32, x float64, s string, s2 string, d date, t timestamp[us], b bool;
 * each with a null somewhere. */
static tsr_frame *sample(tsr_ctx *ctx) {
  static int32_t i[NR] = {1, -2, 0, 2147483647, 0, 5, INT32_MIN, 3};
  static double x[NR] = {1.5, -2.5, 0.5, 0, 2.5, 1e10, -7.5, 3.25};
  static const char *const s[NR] = {"abc", "  pad  ", "", NULL, "h\xc3\xa9llo w\xc3\xb6rld",
                                    "ABC", "a,b",     "x"};
  static const char *const s2[NR] = {"12", " 7 ", "x", NULL, "-3", "2024-01-02", "99999999999", ""};
  static const char *const ds[NR] = {"2024-01-07", "2024-12-31", NULL,         "1969-12-31",
                                     "2021-01-03", "2000-02-29", "1970-01-01", "2024-05-19"};
  static const char *const ts[NR] = {
      "2024-05-19 10:11:12.5", "1969-12-31 23:59:59.5",      NULL,
      "2000-02-29 23:00:00",   "1900-03-01 00:00:00.000001", "2024-01-01 00:00:00",
      "2024-12-31 23:59:59",   "1970-01-01 00:00:01"};
  static uint8_t b[NR] = {1, 0, 0, 1, 0, 1, 0, 0};
  static int32_t d[NR];
  static int64_t t[NR];
  static int64_t off[2][NR + 1];
  static char data[2][256];
  static uint8_t valid[7];
  const char *const *strs[2] = {s, s2};
  for (int c = 0; c < 2; c++) {
    int64_t o = 0;
    for (int r = 0; r < NR; r++) {
      off[c][r] = o;
      if (strs[c][r] != NULL) {
        memcpy(data[c] + o, strs[c][r], strlen(strs[c][r]));
        o += (int64_t)strlen(strs[c][r]);
      }
    }
    off[c][NR] = o;
  }
  for (int r = 0; r < NR; r++) {
    if (ds[r] != NULL)
      assert_true(tsr__vt_parse_date(ds[r], strlen(ds[r]), &d[r]));
    if (ts[r] != NULL)
      assert_true(tsr__vt_parse_timestamp(ts[r], strlen(ts[r]), TSR_TIME_US, &t[r]));
  }
  /* nulls: i row 2, x row 3, s row 3, s2 row 3, d row 2, t row 2, b rows 2 and 6 */
  valid[0] = (uint8_t) ~(1u << 2);
  valid[1] = (uint8_t) ~(1u << 3);
  valid[2] = valid[3] = (uint8_t) ~(1u << 3);
  valid[4] = valid[5] = (uint8_t) ~(1u << 2);
  valid[6] = (uint8_t) ~((1u << 2) | (1u << 6));
  tsr_column_data c[7];
  memset(c, 0, sizeof c);
  c[0] = (tsr_column_data){
      .name = "i", .type = {TSR_COL_INT32, 0}, .length = NR, .values = i, .validity = &valid[0]};
  c[1] = (tsr_column_data){
      .name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = NR, .values = x, .validity = &valid[1]};
  c[2] = (tsr_column_data){.name = "s",
                           .type = {TSR_COL_STRING, 0},
                           .length = NR,
                           .offsets = off[0],
                           .data = data[0],
                           .validity = &valid[2]};
  c[3] = (tsr_column_data){.name = "s2",
                           .type = {TSR_COL_STRING, 0},
                           .length = NR,
                           .offsets = off[1],
                           .data = data[1],
                           .validity = &valid[3]};
  c[4] = (tsr_column_data){
      .name = "d", .type = {TSR_COL_DATE, 0}, .length = NR, .values = d, .validity = &valid[4]};
  c[5] = (tsr_column_data){.name = "t",
                           .type = {TSR_COL_TIMESTAMP, TSR_TIME_US},
                           .length = NR,
                           .values = t,
                           .validity = &valid[5]};
  c[6] = (tsr_column_data){
      .name = "b", .type = {TSR_COL_BOOL, 0}, .length = NR, .values = b, .validity = &valid[6]};
  tsr_frame *f = NULL;
  /* Chunks of 3 rows: values cross chunk boundaries. */
  assert_ok(tsr_frame_from_columns(ctx, 7, c, 3, TSR_BUFFER_COPY, NULL, NULL, &f));
  return f;
}

/* Row r of result column col as text: integers in decimal, floats %.17g,
 * bools true/false, dates and timestamps as DuckDB prints them, NULL. */
static void render(const tsr_frame_result *res, int col, int64_t r, char *out, size_t cap) {
  tsr_type t = tsr_frame_result_col_type(res, col);
  if (t.id == TSR_COL_STRING || t.id == TSR_COL_DICT) {
    const char *s;
    size_t len;
    bool is_null;
    assert_ok(tsr_frame_result_string(res, col, r, &s, &len, &is_null));
    if (is_null)
      snprintf(out, cap, "NULL");
    else
      snprintf(out, cap, "%.*s", (int)len, s);
    return;
  }
  int64_t nrows = tsr_frame_result_nrows(res);
  size_t w = tsr_type_width(t);
  unsigned char *vals = malloc((size_t)nrows * w + 8);
  uint8_t *valid = malloc((size_t)nrows / 8 + 2);
  assert_ok(tsr_frame_result_values(res, col, vals, (size_t)nrows * w, valid));
  bool ok = (valid[r / 8] >> (r % 8)) & 1;
  char buf[64];
  if (!ok) {
    snprintf(out, cap, "NULL");
  } else if (t.id == TSR_COL_FLOAT64) {
    snprintf(out, cap, "%.17g", ((double *)vals)[r]);
  } else if (t.id == TSR_COL_FLOAT32) {
    snprintf(out, cap, "%.9g", (double)((float *)vals)[r]);
  } else if (t.id == TSR_COL_UINT64) {
    snprintf(out, cap, "%llu", (unsigned long long)((uint64_t *)vals)[r]);
  } else {
    size_t n = tsr__vt_format(t, vals, r, buf);
    snprintf(out, cap, "%.*s", (int)n, buf);
  }
  free(vals);
  free(valid);
}

/* The values of `expr` over f, rows joined by '|'; *type its type. */
static void eval(tsr_frame *f, const char *expr, char *out, size_t cap, tsr_type *type) {
  tsr_frame *g = NULL;
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_assign(f, "r", expr, &g));
  assert_ok(tsr_frame_compute(g, NULL, &res));
  int col = tsr_frame_result_ncols(res) - 1;
  if (type != NULL)
    *type = tsr_frame_result_col_type(res, col);
  size_t used = 0;
  out[0] = '\0';
  for (int64_t r = 0; r < tsr_frame_result_nrows(res); r++) {
    char cell[256];
    render(res, col, r, cell, sizeof cell);
    used += (size_t)snprintf(out + used, cap - used, "%s%s", r ? "|" : "", cell);
    assert_true(used < cap);
  }
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&g);
}

static void check(tsr_frame *f, const char *expr, const char *want) {
  char got[2048];
  eval(f, expr, got, sizeof got, NULL);
  if (strcmp(got, want) != 0)
    print_error("%s\n  got  %s\n  want %s\n", expr, got, want);
  assert_string_equal(got, want);
}

static void check_type(tsr_frame *f, const char *expr, tsr_coltype id) {
  char got[2048];
  tsr_type t;
  eval(f, expr, got, sizeof got, &t);
  if (t.id != id)
    print_error("%s: type %s\n", expr, tsr_type_name(t));
  assert_int_equal(t.id, id);
}

/* Computing `expr` fails with code and a message holding needle. */
static void check_fails(tsr_frame *f, const char *expr, tsr_status code, const char *needle) {
  tsr_frame *g = NULL;
  tsr_frame_result *res = NULL;
  tsr_status s = tsr_frame_assign(f, "r", expr, &g);
  if (s == TSR_OK) {
    s = tsr_frame_compute(g, NULL, &res);
    tsr_frame_result_destroy(&res);
    tsr_frame_destroy(&g);
  }
  if (s != code || strstr(tsr_last_error(), needle) == NULL)
    print_error("%s: %s: %s (wanted %s, '%s')\n", expr, tsr_status_name(s), tsr_last_error(),
                tsr_status_name(code), needle);
  assert_int_equal(s, code);
  assert_non_null(strstr(tsr_last_error(), needle));
}

static void test_colexpr_sql__case(void **state) {
  tsr_frame *f = sample(*state);
  check(f, "case when i > 0 then 'pos' when i < 0 then 'neg' else 'zero' end",
        "pos|neg|zero|pos|zero|pos|neg|pos");
  check(f, "CASE WHEN i > 0 THEN 'pos' END", "pos|NULL|NULL|pos|NULL|pos|NULL|pos");
  check(f, "case i when 1 then 'one' when 5 then 'five' else s end",
        "one|  pad  ||NULL|h\xc3\xa9llo w\xc3\xb6rld|five|a,b|x");
  check(f, "case when b then i else x end", "1|-2.5|0.5|2147483647|2.5|5|-7.5|3.25");
  check_type(f, "case when b then i else x end", TSR_COL_FLOAT64);
  check_type(f, "case when b then i else 7 end", TSR_COL_INT32);
  check_type(f, "case when b then null else d end", TSR_COL_DATE);
  check(f, "case when null then 1 else 2 end", "2|2|2|2|2|2|2|2");
  /* An overflow in a branch not chosen is no error ... */
  check(f, "case when i between -1000 and 1000 then i * 2 else 0 end", "2|-4|0|0|0|10|0|6");
  /* ... in a chosen one it is, naming the expression and the row. */
  check_fails(f, "case when i < 1000 then i * 2 else 0 end", TSR_EOVERFLOW,
              "'i * 2': multiply overflows int32 at row 0 of row chunk 2");
  /* A failed cast likewise. */
  check(f, "case when s2 in ('12', '-3') then cast(s2 as integer) else -1 end",
        "12|-1|-1|-1|-3|-1|-1|-1");
  check_fails(f, "case when i > 0 and i < 4 then cast(s2 as integer) end", TSR_EINVAL,
              "cannot cast '' to int32 at row 1 of row chunk 2");
  /* Types that do not meet. */
  assert_fails(tsr_frame_assign(f, "r", "case when b then s else 1 end", &(tsr_frame *){NULL}),
               TSR_EDTYPE, "CASE has values of incompatible types string and int64");
  assert_fails(tsr_frame_assign(f, "r", "case when i then 1 end", &(tsr_frame *){NULL}), TSR_EDTYPE,
               "a CASE condition must be bool, not int32");
  assert_fails(tsr_frame_assign(f, "r", "case when b then 1", &(tsr_frame *){NULL}), TSR_EPARSE,
               "expected 'when', 'else' or 'end'");
  tsr_frame_destroy(&f);
}

static void test_colexpr_sql__coalesce_nullif(void **state) {
  tsr_frame *f = sample(*state);
  check(f, "coalesce(i, 0)", "1|-2|0|2147483647|0|5|-2147483648|3");
  check(f, "coalesce(s, 'none')", "abc|  pad  ||none|h\xc3\xa9llo w\xc3\xb6rld|ABC|a,b|x");
  check(f, "coalesce(null, i, x)", "1|-2|0.5|2147483647|0|5|-2147483648|3");
  check(f, "coalesce(null, null) is null", "true|true|true|true|true|true|true|true");
  /* i * 1000000000 overflows int32 wherever i is not 0 or null, but is
   * only needed where i is null (and is null there). */
  check(f, "coalesce(i, i * 1000000000)", "1|-2|NULL|2147483647|0|5|-2147483648|3");
  check(f, "nullif(i, 0)", "1|-2|NULL|2147483647|NULL|5|-2147483648|3");
  check(f, "nullif(s, '')", "abc|  pad  |NULL|NULL|h\xc3\xa9llo w\xc3\xb6rld|ABC|a,b|x");
  check(f, "coalesce(d, '2000-01-01')",
        "2024-01-07|2024-12-31|2000-01-01|1969-12-31|2021-01-03|2000-02-29|1970-01-01|2024-05-19");
  assert_fails(tsr_frame_assign(f, "r", "coalesce(s, 1)", &(tsr_frame *){NULL}), TSR_EDTYPE,
               "coalesce has values of incompatible types");
  tsr_frame_destroy(&f);
}

static void test_colexpr_sql__cast(void **state) {
  tsr_frame *f = sample(*state);
  /* Floats to integers round half to even, as DuckDB's CAST. */
  check(f, "try_cast(x as integer)", "2|-2|0|NULL|2|NULL|-8|3");
  check_fails(f, "cast(x as int)", TSR_EOVERFLOW,
              "cannot cast float64 10000000000.0 to int32 at row 2 of row chunk 1");
  check(f, "cast(x, 'int64')", "2|-2|0|NULL|2|10000000000|-8|3");
  check(f, "cast(i as varchar)", "1|-2|NULL|2147483647|0|5|-2147483648|3");
  check(f, "cast(x as varchar)", "1.5|-2.5|0.5|NULL|2.5|10000000000.0|-7.5|3.25");
  check(f, "cast(b as text)", "true|false|NULL|true|false|true|NULL|false");
  check(f, "cast(d as varchar)",
        "2024-01-07|2024-12-31|NULL|1969-12-31|2021-01-03|2000-02-29|1970-01-01|2024-05-19");
  check(f, "cast(t as varchar)",
        "2024-05-19 10:11:12.5|1969-12-31 23:59:59.5|NULL|2000-02-29 23:00:00|"
        "1900-03-01 00:00:00.000001|2024-01-01 00:00:00|2024-12-31 23:59:59|1970-01-01 00:00:01");
  check(f, "try_cast(s2 as integer)", "12|7|NULL|NULL|-3|NULL|NULL|NULL");
  check(f, "try_cast(s2 as bigint)", "12|7|NULL|NULL|-3|NULL|99999999999|NULL");
  check(f, "try_cast(s2 as date)", "NULL|NULL|NULL|NULL|NULL|2024-01-02|NULL|NULL");
  check_fails(f, "case when i < 3 then cast(s2 as integer) + 1 end", TSR_EINVAL,
              "cannot cast '99999999999' to int32 at row 0 of row chunk 2");
  check(f, "cast(d as timestamp)",
        "2024-01-07 00:00:00|2024-12-31 00:00:00|NULL|1969-12-31 00:00:00|2021-01-03 00:00:00|"
        "2000-02-29 00:00:00|1970-01-01 00:00:00|2024-05-19 00:00:00");
  check(f, "cast(t as date)",
        "2024-05-19|1969-12-31|NULL|2000-02-29|1900-03-01|2024-01-01|2024-12-31|1970-01-01");
  check(f, "cast(t as timestamp[s])",
        "2024-05-19 10:11:12|1969-12-31 23:59:59|NULL|2000-02-29 23:00:00|1900-03-01 00:00:00|"
        "2024-01-01 00:00:00|2024-12-31 23:59:59|1970-01-01 00:00:01");
  check(f, "try_cast(i as tinyint)", "1|-2|NULL|NULL|0|5|NULL|3");
  check(f, "cast(b as integer) + cast(1.5 as integer)", "3|2|NULL|3|2|3|NULL|2");
  check(f, "cast(i as boolean)", "true|true|NULL|true|false|true|true|true");
  /* cast(1 as bigint) is no longer a weak literal: int32 + it is int64. */
  check_type(f, "i + cast(1 as bigint)", TSR_COL_INT64);
  check_type(f, "i * 0", TSR_COL_INT32);
  check_type(f, "cast(i as real)", TSR_COL_FLOAT32);
  assert_fails(tsr_frame_assign(f, "r", "cast(d as integer)", &(tsr_frame *){NULL}), TSR_EDTYPE,
               "cannot cast date to int32");
  assert_fails(tsr_frame_assign(f, "r", "cast(i as hugeint)", &(tsr_frame *){NULL}), TSR_EPARSE,
               "unknown type 'hugeint'");
  tsr_frame_destroy(&f);
}

static void test_colexpr_sql__strings(void **state) {
  tsr_frame *f = sample(*state);
  check(f, "s || '!'", "abc!|  pad  !|!|NULL|h\xc3\xa9llo w\xc3\xb6rld!|ABC!|a,b!|x!");
  check(f, "i || s", "1abc|-2  pad  |NULL|NULL|0h\xc3\xa9llo w\xc3\xb6rld|5ABC|-2147483648a,b|3x");
  check(f, "x || ''", "1.5|-2.5|0.5|NULL|2.5|10000000000.0|-7.5|3.25");
  check(f, "concat(s, '-', i)",
        "abc-1|  pad  --2|-|-2147483647|h\xc3\xa9llo w\xc3\xb6rld-0|ABC-5|a,b--2147483648|x-3");
  check(f, "concat(null)", "|||||||");
  check(f, "substr(s, 2, 3)", "bc| pa||NULL|\xc3\xa9ll|BC|,b|");
  check(f, "substring(s, -3)", "abc|d  ||NULL|rld|ABC|a,b|x");
  check(f, "substr(s, 0, 2)", "a| ||NULL|h|A|a|x");
  check(f, "substr(s, 3, -2)", "ab|  ||NULL|h\xc3\xa9|AB|a,|x");
  check(f, "substr(s, -7, 4)", "|  pa||NULL|o w\xc3\xb6|||");
  check(f, "substr(s, i)", "abc|  |NULL|NULL|h\xc3\xa9llo w\xc3\xb6rld||a,b|");
  check(f, "trim(s)", "abc|pad||NULL|h\xc3\xa9llo w\xc3\xb6rld|ABC|a,b|x");
  check(f, "ltrim(s) || '.'", "abc.|pad  .|.|NULL|h\xc3\xa9llo w\xc3\xb6rld.|ABC.|a,b.|x.");
  check(f, "'.' || rtrim(s)", ".abc|.  pad|.|NULL|.h\xc3\xa9llo w\xc3\xb6rld|.ABC|.a,b|.x");
  check(f, "replace(s, 'b', 'BB')", "aBBc|  pad  ||NULL|h\xc3\xa9llo w\xc3\xb6rld|ABC|a,BB|x");
  check(f, "replace(s, 'l', '')", "abc|  pad  ||NULL|h\xc3\xa9o w\xc3\xb6rd|ABC|a,b|x");
  check(f, "replace(s, '', 'z')", "abc|  pad  ||NULL|h\xc3\xa9llo w\xc3\xb6rld|ABC|a,b|x");
  check(f, "s ilike 'a%'", "true|false|false|NULL|false|true|true|false");
  check(f, "s ilike 'H_LLO%'", "false|false|false|NULL|true|false|false|false");
  check(f, "s not ilike 'a%'", "false|true|true|NULL|true|false|false|true");
  check(f, "s not like 'a%'", "false|true|true|NULL|true|true|false|true");
  /* Long results (past 12 bytes, stored in the chunk's data). */
  check(f, "s || s || s",
        "abcabcabc|  pad    pad    pad  ||NULL|"
        "h\xc3\xa9llo w\xc3\xb6rldh\xc3\xa9llo w\xc3\xb6rldh\xc3\xa9llo "
        "w\xc3\xb6rld|ABCABCABC|a,ba,ba,b|xxx");
  check(f, "replace(s, 'l', 'LLLLLLLL')",
        "abc|  pad  ||NULL|h\xc3\xa9LLLLLLLLLLLLLLLLo w\xc3\xb6rLLLLLLLLd|ABC|a,b|x");
  assert_fails(tsr_frame_assign(f, "r", "replace(s, s, 'x')", &(tsr_frame *){NULL}), TSR_EDTYPE,
               "replace needs constant strings");
  assert_fails(tsr_frame_assign(f, "r", "substr(s, 'a')", &(tsr_frame *){NULL}), TSR_EDTYPE,
               "substr needs integer positions, not string");
  tsr_frame_destroy(&f);
}

static void test_colexpr_sql__in_between_is(void **state) {
  tsr_frame *f = sample(*state);
  check(f, "i in (1, 5, null)", "true|NULL|NULL|NULL|NULL|true|NULL|NULL");
  check(f, "i not in (1, 2)", "false|true|NULL|true|true|true|true|true");
  check(f, "i not in (1, null)", "false|NULL|NULL|NULL|NULL|NULL|NULL|NULL");
  check(f, "s in ('abc', 'x', '')", "true|false|true|NULL|false|false|false|true");
  check(f, "i between 0 and 5", "true|false|NULL|false|true|true|false|true");
  check(f, "i not between 0 and 5", "false|true|NULL|true|false|false|true|false");
  check(f, "i between 0 and null", "NULL|false|NULL|NULL|NULL|NULL|false|NULL");
  check(f, "d between '2000-01-01' and '2024-01-31'",
        "true|false|NULL|false|true|true|false|false");
  check(f, "x is null", "false|false|false|true|false|false|false|false");
  check(f, "s is not null and b", "true|false|NULL|false|false|true|NULL|false");
  /* A filter with them. */
  tsr_frame *g = NULL;
  tsr_frame_result *res = NULL;
  assert_ok(tsr_frame_filter(f, "i in (1, 3, 5) and s2 is not null", &g));
  assert_ok(tsr_frame_compute(g, NULL, &res));
  assert_int_equal(tsr_frame_result_nrows(res), 3);
  tsr_frame_result_destroy(&res);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

static void test_colexpr_sql__dates(void **state) {
  tsr_frame *f = sample(*state);
  /* d: 2024-01-07 2024-12-31 null 1969-12-31 2021-01-03 2000-02-29
   * 1970-01-01 2024-05-19 (values from DuckDB 1.5 for the same dates). */
  check(f, "dayofweek(d)", "0|2|NULL|3|0|2|4|0");
  check(f, "extract(dow from d)", "0|2|NULL|3|0|2|4|0");
  check(f, "isodow(d)", "7|2|NULL|3|7|2|4|7");
  check(f, "dayofyear(d)", "7|366|NULL|365|3|60|1|140");
  check(f, "quarter(d)", "1|4|NULL|4|1|1|1|2");
  check(f, "week(d)", "1|1|NULL|1|53|9|1|20");
  check(f, "extract(epoch from d)",
        "1704585600|1735603200|NULL|-86400|1609632000|951782400|0|1716076800");
  check_type(f, "epoch(d)", TSR_COL_FLOAT64);
  check(f, "date_trunc('month', d)",
        "2024-01-01 00:00:00|2024-12-01 00:00:00|NULL|1969-12-01 00:00:00|2021-01-01 00:00:00|"
        "2000-02-01 00:00:00|1970-01-01 00:00:00|2024-05-01 00:00:00");
  check(f, "date_trunc('week', d)",
        "2024-01-01 00:00:00|2024-12-30 00:00:00|NULL|1969-12-29 00:00:00|2020-12-28 00:00:00|"
        "2000-02-28 00:00:00|1969-12-29 00:00:00|2024-05-13 00:00:00");
  check(f, "date_trunc('quarter', d)",
        "2024-01-01 00:00:00|2024-10-01 00:00:00|NULL|1969-10-01 00:00:00|2021-01-01 00:00:00|"
        "2000-01-01 00:00:00|1970-01-01 00:00:00|2024-04-01 00:00:00");
  check_type(f, "date_trunc('day', d)", TSR_COL_TIMESTAMP);
  /* t: 2024-05-19 10:11:12.5, 1969-12-31 23:59:59.5, null, 2000-02-29
   * 23:00:00, 1900-03-01 00:00:00.000001, ... */
  check(f, "hour(t) || ':' || minute(t) || ':' || second(t)",
        "10:11:12|23:59:59|NULL|23:0:0|0:0:0|0:0:0|23:59:59|0:0:1");
  check(f, "extract(second from t)", "12|59|NULL|0|0|0|59|1");
  check(f, "epoch(t)",
        "1716113472.5|-0.5|NULL|951865200|-2203891199.999999|1704067200|1735689599|1");
  check(f, "date_trunc('hour', t)",
        "2024-05-19 10:00:00|1969-12-31 23:00:00|NULL|2000-02-29 23:00:00|1900-03-01 00:00:00|"
        "2024-01-01 00:00:00|2024-12-31 23:00:00|1970-01-01 00:00:00");
  check(f, "date_trunc('second', t)",
        "2024-05-19 10:11:12|1969-12-31 23:59:59|NULL|2000-02-29 23:00:00|1900-03-01 00:00:00|"
        "2024-01-01 00:00:00|2024-12-31 23:59:59|1970-01-01 00:00:01");
  check(f, "date_trunc('YEAR', t)",
        "2024-01-01 00:00:00|1969-01-01 00:00:00|NULL|2000-01-01 00:00:00|1900-01-01 00:00:00|"
        "2024-01-01 00:00:00|2024-01-01 00:00:00|1970-01-01 00:00:00");
  check(f, "date_trunc('minutes', t) < t", "true|true|NULL|false|true|false|true|true");
  assert_fails(tsr_frame_assign(f, "r", "date_trunc('fortnight', d)", &(tsr_frame *){NULL}),
               TSR_EPARSE, "unknown date_trunc unit 'fortnight'");
  assert_fails(tsr_frame_assign(f, "r", "extract(century from d)", &(tsr_frame *){NULL}),
               TSR_EPARSE, "unknown date part 'century'");
  assert_fails(tsr_frame_assign(f, "r", "minute(d)", &(tsr_frame *){NULL}), TSR_EDTYPE,
               "minute needs a timestamp, not date");
  tsr_frame_destroy(&f);
}

static void test_colexpr_sql__dictionary(void **state) {
  static const int64_t doff[4] = {0, 7, 11, 16};
  static const char dd[] = " gamma Betaalpha"; /* sorted: ' ' < 'B' < 'a' */
  static int32_t codes[5] = {2, 1, 77, 0, 2};  /* alpha Beta (null) " gamma " alpha */
  static uint8_t valid = 0x1B;
  tsr_column_data c = {.name = "k",
                       .type = {TSR_COL_DICT, 0},
                       .length = 5,
                       .values = codes,
                       .validity = &valid,
                       .dict_size = 3,
                       .dict_offsets = doff,
                       .dict_data = dd};
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(*state, 1, &c, 2, TSR_BUFFER_COPY, NULL, NULL, &f));
  check(f, "coalesce(k, 'none')", "alpha|Beta|none| gamma |alpha");
  check(f, "k || '!'", "alpha!|Beta!|NULL| gamma !|alpha!");
  check(f, "cast(k as varchar)", "alpha|Beta|NULL| gamma |alpha");
  check(f, "k in ('alpha', 'Beta')", "true|true|NULL|false|true");
  check(f, "k ilike 'ALPHA'", "true|false|NULL|false|true");
  check(f, "k not ilike '%L%'", "false|true|NULL|true|false");
  check(f, "case when k = 'alpha' then k else 'other' end", "alpha|other|other|other|alpha");
  check(f, "case when k = 'alpha' then k else k end", "alpha|Beta|NULL| gamma |alpha");
  check(f, "trim(k)", "alpha|Beta|NULL|gamma|alpha");
  check(f, "substr(k, 2, 2)", "lp|et|NULL|ga|lp");
  check(f, "try_cast(k as integer)", "NULL|NULL|NULL|NULL|NULL");
  check(f, "nullif(k, 'Beta')", "alpha|NULL|NULL| gamma |alpha");
  tsr_frame_destroy(&f);
}

/* An assignment after a filter runs in the filter's task on its kept rows
 * (long strings sized by the same bounds). */
static void test_colexpr_sql__after_filter(void **state) {
  tsr_frame *f = sample(*state), *g = NULL;
  assert_ok(tsr_frame_filter(f, "i > 0", &g));
  check(g, "s || s || s", "abcabcabc|NULL|ABCABCABC|xxx");
  check(g, "case when i < 4 then i * 2 else i end", "2|2147483647|5|6");
  check(g, "concat(s, '-', cast(t as varchar))",
        "abc-2024-05-19 10:11:12.5|-2000-02-29 23:00:00|ABC-2024-01-01 00:00:00|x-1970-01-01 "
        "00:00:01");
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

static void test_colexpr_sql__out_of_memory(void **state) {
  tsr_ctx *ctx = *state;
  tsr_frame *f = sample(ctx);
  bool done = false;
  for (uint64_t n = 1; n < 3000 && !done; n++) {
    tsr_frame *g = NULL, *h = NULL;
    tsr_frame_result *res = NULL;
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_status s = tsr_frame_filter(f, "i between -5 and 5 and s2 not in ('x', '')", &g);
    if (s == TSR_OK)
      s = tsr_frame_assign(g, "w",
                           "case when i > 0 then s || '!' else coalesce(s, s2) end || "
                           "cast(x as varchar) || substr(s, 2) || replace(s, 'a', 'AAAAAAAAAAAAA')",
                           &h);
    if (s == TSR_OK)
      s = tsr_frame_compute(h, NULL, &res);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    if (s != TSR_ENOMEM)
      assert_ok(s);
    done = s == TSR_OK;
    if (done)
      assert_int_equal(tsr_frame_result_nrows(res), 4); /* rows 0, 1, 4, 5 */
    tsr_frame_result_destroy(&res);
    tsr_frame_destroy(&h);
    tsr_frame_destroy(&g);
  }
  assert_true(done);
  tsr_frame_destroy(&f);
}

static void test_colexpr_sql__syntax_errors(void **state) {
  tsr_frame *f = sample(*state), *g = NULL;
  assert_fails(tsr_frame_assign(f, "r", "cast(i integer)", &g), TSR_EPARSE, "expected 'as'");
  assert_fails(tsr_frame_assign(f, "r", "i in 1, 2", &g), TSR_EPARSE, "expected '('");
  assert_fails(tsr_frame_assign(f, "r", "i between 1 or 2", &g), TSR_EPARSE, "expected 'and'");
  assert_fails(tsr_frame_assign(f, "r", "x is 1", &g), TSR_EPARSE, "expected 'null'");
  assert_fails(tsr_frame_assign(f, "r", "case when b then 1 else 2", &g), TSR_EPARSE,
               "expected 'when', 'else' or 'end'");
  assert_fails(tsr_frame_assign(f, "r", "case b then 1 end", &g), TSR_EPARSE, "expected 'when'");
  assert_fails(tsr_frame_assign(f, "r", "nullif(i)", &g), TSR_EPARSE,
               "nullif() takes 2 arguments (1 given)");
  assert_fails(tsr_frame_assign(f, "r", "substr(s)", &g), TSR_EPARSE,
               "substr() takes 2 or 3 arguments (1 given)");
  assert_fails(tsr_frame_assign(f, "r", "date_trunc(d, 'month')", &g), TSR_EPARSE,
               "expected a unit as a 'string'");
  assert_fails(tsr_frame_assign(f, "r", "s | | s", &g), TSR_EPARSE, "expected");
  assert_fails(tsr_frame_assign(f, "r", "cast(x, 'int128')", &g), TSR_EPARSE,
               "'int128' is not a column type");
  assert_null(g);
  tsr_frame_destroy(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_colexpr_sql__case, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr_sql__coalesce_nullif, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr_sql__cast, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr_sql__strings, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr_sql__in_between_is, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr_sql__dates, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr_sql__dictionary, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr_sql__after_filter, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr_sql__out_of_memory, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_colexpr_sql__syntax_errors, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
