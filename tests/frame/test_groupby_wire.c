/* test_groupby_wire.c — the packed numbers a group-by's shuffle sends
 * between ranks (src/frame/groupby_wire.c: row counts as they are, first
 * rows as zigzag differences, each list in as many bytes a number as its
 * largest needs): lists of every width from 0 to 8 bytes and lengths around
 * the 8-byte word read back exactly, a writer without a buffer counts the
 * bytes the filling one writes, and malformed messages (a width above 8, a
 * list longer than the message, a count above INT64_MAX, differences
 * leaving int32) are TSR_EMPI errors, never reads past the message.
 * Columns are read back where they lie in the message (gb_wire_view_col):
 * values, nulls and long strings as sent, nothing freed with them, and a
 * string pointing past its data or a cut message is TSR_EMPI.  A column
 * whose values are written later into reserved room is the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frame/groupby_impl.h"

/* Writes counts v[0..n) (deltas of d[0..n) when d is not NULL) into a new
 * buffer and returns it; *bytes: its length. */
static unsigned char *write_list(const int64_t *v, const int32_t *d, int64_t n, uint64_t *bytes) {
  gb_wire count = {NULL, 0, 0};
  if (d != NULL)
    gb_wire_deltas(&count, d, n);
  else
    gb_wire_counts(&count, v, n);
  unsigned char *buf = malloc(count.at + 8);
  assert_non_null(buf);
  memset(buf, 0xa5, count.at + 8); /* nothing may be left unwritten */
  gb_wire w = {buf, 0, 0};
  if (d != NULL)
    gb_wire_deltas(&w, d, n);
  else
    gb_wire_counts(&w, v, n);
  assert_int_equal(w.at, count.at); /* the counting writer sized it exactly */
  assert_int_equal(w.at % 8, 0);
  assert_int_equal(buf[w.at], 0xa5); /* nothing written past it */
  *bytes = w.at;
  return buf;
}

static uint64_t next_random(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void test_groupby_wire__counts_of_every_width(void **state) {
  (void)state;
  uint64_t seed = 0x9e3779b97f4a7c15ull;
  for (int width = 0; width <= 8; width++)
    for (int64_t n = 0; n <= 19; n++) {
      int64_t *v = calloc((size_t)n + 1, sizeof *v), *got = calloc((size_t)n + 1, sizeof *got);
      uint64_t top = width == 0 ? 0 : width == 8 ? (uint64_t)INT64_MAX : (1ull << (8 * width)) - 1;
      for (int64_t i = 0; i < n; i++)
        v[i] = top == 0 ? 0 : (int64_t)(next_random(&seed) % top);
      if (n > 0)
        v[n / 2] = (int64_t)top; /* the largest sets the width */
      uint64_t bytes = 0;
      unsigned char *buf = write_list(v, NULL, n, &bytes);
      int64_t k = -1;
      memcpy(&k, buf, sizeof k);
      assert_int_equal(k, n == 0 ? 0 : width); /* the fewest bytes that hold the largest */
      assert_int_equal(bytes, 8 + ((uint64_t)(n * k) + 7) / 8 * 8);
      gb_wire r = {buf, 0, bytes};
      assert_int_equal(gb_wire_get_counts(&r, got, n), TSR_OK);
      assert_int_equal(r.at, bytes);
      assert_memory_equal(got, v, (size_t)n * sizeof *v);
      free(buf);
      free(v);
      free(got);
    }
}

static void test_groupby_wire__deltas_up_and_down(void **state) {
  (void)state;
  const int32_t cases[][6] = {
      {0, 1, 2, 3, 4, 5},                                 /* growing by one: a byte each */
      {5, 3, 900, 899, 70000, 2},                         /* down as well as up */
      {INT32_MAX, INT32_MIN, INT32_MAX, 0, INT32_MIN, 7}, /* the widest differences */
  };
  for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
    for (int64_t n = 0; n <= 6; n++) {
      uint64_t bytes = 0;
      unsigned char *buf = write_list(NULL, cases[c], n, &bytes);
      int32_t got[6] = {0};
      int64_t scratch[6];
      gb_wire r = {buf, 0, bytes};
      assert_int_equal(gb_wire_get_deltas(&r, got, n, scratch), TSR_OK);
      assert_int_equal(r.at, bytes);
      assert_memory_equal(got, cases[c], (size_t)n * sizeof *got);
      free(buf);
    }
}

/* A message of the width word k and then `body` bytes of b. */
static void expect_malformed_counts(int64_t k, uint64_t body, unsigned char b, int64_t n) {
  unsigned char buf[64];
  memset(buf, b, sizeof buf);
  memcpy(buf, &k, sizeof k);
  int64_t got[8];
  gb_wire r = {buf, 0, 8 + body};
  assert_int_equal(gb_wire_get_counts(&r, got, n), TSR_EMPI);
}

static void test_groupby_wire__malformed_is_an_error(void **state) {
  (void)state;
  expect_malformed_counts(9, 56, 0, 1);   /* no width above 8 bytes */
  expect_malformed_counts(-1, 56, 0, 1);  /* nor below 0 */
  expect_malformed_counts(4, 8, 0, 3);    /* 3 numbers of 4 bytes need 16 */
  expect_malformed_counts(8, 8, 0xff, 1); /* above INT64_MAX */
  expect_malformed_counts(1, 0, 0, 1);    /* the list missing */
  gb_wire empty = {(unsigned char *)"", 0, 0};
  int64_t one;
  assert_int_equal(gb_wire_get_counts(&empty, &one, 1), TSR_EMPI); /* not even the width */
  /* Differences that leave int32: +2^31 - 1 twice. */
  int64_t big[2] = {(int64_t)INT32_MAX << 1, (int64_t)INT32_MAX << 1};
  uint64_t bytes = 0;
  unsigned char *buf = write_list(big, NULL, 2, &bytes);
  int32_t got[2];
  int64_t scratch[2];
  gb_wire r = {buf, 0, bytes};
  assert_int_equal(gb_wire_get_deltas(&r, got, 2, scratch), TSR_EMPI);
  free(buf);
}

/* Column c (rows [0, n)) written into a new buffer; *bytes: its length. */
static unsigned char *write_col(tsr_type type, const tsr__colread *c, int64_t n, uint64_t *bytes) {
  gb_wire count = {NULL, 0, 0};
  gb_wire_col(&count, type, c, 0, n);
  unsigned char *buf = malloc(count.at + 8);
  assert_non_null(buf);
  gb_wire w = {buf, 0, 0};
  gb_wire_col(&w, type, c, 0, n);
  assert_int_equal(w.at, count.at);
  *bytes = w.at;
  return buf;
}

/* A column whose values are written later into the room left for them
 * (gb_wire_col_reserve) is byte for byte gb_wire_col's, padding included,
 * for every width and lengths around the 8-byte word. */
static void test_groupby_wire__reserved_column_as_written(void **state) {
  (void)state;
  const tsr_type types[4] = {
      {TSR_COL_INT8, 0}, {TSR_COL_INT16, 0}, {TSR_COL_FLOAT32, 0}, {TSR_COL_FLOAT64, 0}};
  unsigned char vals[8 * 19];
  for (size_t i = 0; i < sizeof vals; i++)
    vals[i] = (unsigned char)(i * 37 + 11);
  for (int t = 0; t < 4; t++)
    for (int64_t n = 0; n <= 19; n++) {
      size_t w = tsr_type_width(types[t]);
      tsr__colread c = {.rows = n, .values = vals};
      gb_wire count = {NULL, 0, 0};
      gb_wire_col(&count, types[t], &c, 0, n);
      gb_wire count2 = {NULL, 0, 0};
      gb_wire_col_reserve(&count2, types[t], n);
      assert_int_equal(count.at, count2.at);
      unsigned char *a = malloc(count.at + 1), *b = malloc(count.at + 1);
      memset(b, 0xee, count.at + 1); /* (garbage that the padding must overwrite) */
      gb_wire wa = {a, 0, 0}, wb = {b, 0, 0};
      gb_wire_col(&wa, types[t], &c, 0, n);
      uint64_t at = gb_wire_col_reserve(&wb, types[t], n);
      assert_int_equal(wb.at, wa.at);
      memcpy(b + at, vals, (size_t)n * w);
      assert_memory_equal(a, b, wa.at);
      free(a);
      free(b);
    }
}

static void test_groupby_wire__columns_viewed_in_place(void **state) {
  (void)state;
  enum { N = 20 };
  int64_t ints[N];
  tsr_string_view views[N];
  char data[N * 32];
  uint8_t bits[(N + 7) / 8];
  memset(bits, 0xff, sizeof bits);
  memset(views, 0, sizeof views);
  uint32_t at = 0;
  for (int i = 0; i < N; i++) {
    ints[i] = (int64_t)i * 1000 - 7;
    char text[32];
    int len = snprintf(text, sizeof text, i % 2 ? "a long string number %02d" : "s%d", i);
    views[i].length = (uint32_t)len;
    if (len <= 12) {
      memcpy(views[i].u.inline_data, text, (size_t)len);
    } else {
      memcpy(views[i].u.ref.prefix, text, 4);
      views[i].u.ref.offset = at;
      memcpy(data + at, text, (size_t)len);
      at += (uint32_t)len;
    }
    if (i % 3 == 0)
      bits[i / 8] &= (uint8_t) ~(1u << (i % 8));
  }
  const tsr_type types[2] = {{TSR_COL_INT64, 0}, {TSR_COL_STRING, 0}};
  for (int t = 0; t < 2; t++) {
    tsr__colread c = {.rows = N,
                      .null_count = 7,
                      .values = t == 0 ? (const void *)ints : views,
                      .validity = bits,
                      .data = data};
    uint64_t bytes = 0;
    unsigned char *buf = write_col(types[t], &c, N, &bytes);
    gb_wire r = {buf, 0, bytes};
    gb_col v;
    assert_int_equal(gb_wire_view_col(&r, types[t], &v), TSR_OK);
    assert_int_equal(r.at, bytes);
    assert_true(v.borrowed);
    assert_int_equal(v.n, N);
    assert_int_equal(v.nulls, 7);
    assert_true((unsigned char *)v.values > buf && (unsigned char *)v.values < buf + bytes);
    for (int i = 0; i < N; i++) {
      bool valid = i % 3 != 0;
      assert_int_equal(tsr__bit_get(v.validity, i), valid);
      if (t == 0) {
        assert_int_equal(((const int64_t *)v.values)[i], ints[i]);
      } else {
        const tsr_string_view *x = (const tsr_string_view *)v.values + i;
        assert_int_equal(x->length, views[i].length);
        assert_memory_equal(tsr_string_view_data(x, v.data), tsr_string_view_data(&views[i], data),
                            x->length);
      }
    }
    gb_col_free(NULL, &v); /* borrowed: nothing freed (ASan would see a bad free) */
    assert_null(v.values);
    /* A cut message, then (strings) a long string pointing past its data. */
    gb_wire cut = {buf, 0, bytes - 8};
    assert_int_equal(gb_wire_view_col(&cut, types[t], &v), TSR_EMPI);
    if (t == 1) {
      bool found = false; /* row 1's view, found in the message */
      for (uint64_t o = 0; o + sizeof(tsr_string_view) <= bytes && !found; o += 8) {
        tsr_string_view x;
        memcpy(&x, buf + o, sizeof x);
        if (x.length == views[1].length && memcmp(x.u.ref.prefix, "a lo", 4) == 0) {
          x.u.ref.offset = (uint32_t)(N * 32);
          memcpy(buf + o, &x, sizeof x);
          found = true;
        }
      }
      assert_true(found);
      gb_wire bad = {buf, 0, bytes};
      assert_int_equal(gb_wire_view_col(&bad, types[t], &v), TSR_EMPI);
    }
    free(buf);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_groupby_wire__counts_of_every_width),
      cmocka_unit_test(test_groupby_wire__deltas_up_and_down),
      cmocka_unit_test(test_groupby_wire__malformed_is_an_error),
      cmocka_unit_test(test_groupby_wire__columns_viewed_in_place),
      cmocka_unit_test(test_groupby_wire__reserved_column_as_written),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
