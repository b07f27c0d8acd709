/* test_dtype.c — dtypes: sizes, names and predicates; NumPy names, codes and
 * aliases parsed (with byte-order marks); clear errors for unknown names,
 * big-endian and bad enum values; and the whole promotion table, written out
 * by hand from NumPy's np.result_type rules for two arrays. */
#include "test_util.h"

enum { B = TSR_BOOL, I1 = TSR_INT8, I2 = TSR_INT16, I4 = TSR_INT32, I8 = TSR_INT64 };
enum { U1 = TSR_UINT8, U2 = TSR_UINT16, U4 = TSR_UINT32, U8 = TSR_UINT64 };
enum { F4 = TSR_FLOAT32, F8 = TSR_FLOAT64 };

static void test_dtype__sizes_names_and_kinds(void **state) {
  (void)state;
  struct {
    tsr_dtype dtype;
    size_t size;
    const char *name;
    bool integer, is_signed, is_float;
  } cases[] = {
      {TSR_BOOL, 1, "bool", false, false, false},
      {TSR_INT8, 1, "int8", true, true, false},
      {TSR_INT16, 2, "int16", true, true, false},
      {TSR_INT32, 4, "int32", true, true, false},
      {TSR_INT64, 8, "int64", true, true, false},
      {TSR_UINT8, 1, "uint8", true, false, false},
      {TSR_UINT16, 2, "uint16", true, false, false},
      {TSR_UINT32, 4, "uint32", true, false, false},
      {TSR_UINT64, 8, "uint64", true, false, false},
      {TSR_FLOAT32, 4, "float32", false, true, true},
      {TSR_FLOAT64, 8, "float64", false, true, true},
  };
  assert_int_equal(sizeof cases / sizeof cases[0], TSR_NUM_DTYPES);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    assert_true(tsr_dtype_valid(cases[i].dtype));
    assert_int_equal(tsr_dtype_size(cases[i].dtype), cases[i].size);
    assert_string_equal(tsr_dtype_name(cases[i].dtype), cases[i].name);
    assert_int_equal(tsr_dtype_is_integer(cases[i].dtype), cases[i].integer);
    assert_int_equal(tsr_dtype_is_signed(cases[i].dtype), cases[i].is_signed);
    assert_int_equal(tsr_dtype_is_float(cases[i].dtype), cases[i].is_float);
  }
}

static void test_dtype__invalid_values(void **state) {
  (void)state;
  tsr_dtype bad[] = {TSR_NUM_DTYPES, (tsr_dtype)99, (tsr_dtype)-1};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_false(tsr_dtype_valid(bad[i]));
    assert_int_equal(tsr_dtype_size(bad[i]), 0);
    assert_string_equal(tsr_dtype_name(bad[i]), "invalid");
    assert_false(tsr_dtype_is_integer(bad[i]));
    assert_false(tsr_dtype_is_signed(bad[i]));
    assert_false(tsr_dtype_is_float(bad[i]));
  }
}

static void test_dtype__names_round_trip(void **state) {
  (void)state;
  for (int t = 0; t < TSR_NUM_DTYPES; t++) {
    tsr_dtype parsed = TSR_NUM_DTYPES;
    assert_ok(tsr_dtype_from_name(tsr_dtype_name((tsr_dtype)t), &parsed));
    assert_int_equal(parsed, t);
  }
}

static void test_dtype__aliases_and_codes(void **state) {
  (void)state;
  struct {
    const char *name;
    tsr_dtype dtype;
  } cases[] = {
      {"bool", TSR_BOOL},        {"?", TSR_BOOL},         {"b1", TSR_BOOL},
      {"|b1", TSR_BOOL},         {"int8", TSR_INT8},      {"i1", TSR_INT8},
      {"|i1", TSR_INT8},         {"b", TSR_INT8},         {"byte", TSR_INT8},
      {"int16", TSR_INT16},      {"i2", TSR_INT16},       {"<i2", TSR_INT16},
      {"h", TSR_INT16},          {"short", TSR_INT16},    {"int32", TSR_INT32},
      {"i4", TSR_INT32},         {"=i4", TSR_INT32},      {"i", TSR_INT32},
      {"intc", TSR_INT32},       {"int64", TSR_INT64},    {"i8", TSR_INT64},
      {"<i8", TSR_INT64},        {"q", TSR_INT64},        {"longlong", TSR_INT64},
      {"int", TSR_INT64},        {"intp", TSR_INT64},     {"uint8", TSR_UINT8},
      {"u1", TSR_UINT8},         {"|u1", TSR_UINT8},      {"B", TSR_UINT8},
      {"ubyte", TSR_UINT8},      {"uint16", TSR_UINT16},  {"u2", TSR_UINT16},
      {"H", TSR_UINT16},         {"ushort", TSR_UINT16},  {"uint32", TSR_UINT32},
      {"u4", TSR_UINT32},        {"I", TSR_UINT32},       {"uintc", TSR_UINT32},
      {"uint64", TSR_UINT64},    {"u8", TSR_UINT64},      {"Q", TSR_UINT64},
      {"ulonglong", TSR_UINT64}, {"uint", TSR_UINT64},    {"uintp", TSR_UINT64},
      {"float32", TSR_FLOAT32},  {"f4", TSR_FLOAT32},     {"<f4", TSR_FLOAT32},
      {"f", TSR_FLOAT32},        {"single", TSR_FLOAT32}, {"float64", TSR_FLOAT64},
      {"f8", TSR_FLOAT64},       {"<f8", TSR_FLOAT64},    {"=f8", TSR_FLOAT64},
      {"d", TSR_FLOAT64},        {"double", TSR_FLOAT64}, {"float", TSR_FLOAT64},
      {"<float64", TSR_FLOAT64}, {">u1", TSR_UINT8},      {">?", TSR_BOOL},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    tsr_dtype parsed = TSR_NUM_DTYPES;
    tsr_status s = tsr_dtype_from_name(cases[i].name, &parsed);
    if (s != TSR_OK || parsed != cases[i].dtype)
      print_error("'%s' gave %s (%s)\n", cases[i].name, tsr_dtype_name(parsed), tsr_last_error());
    assert_int_equal(s, TSR_OK);
    assert_int_equal(parsed, cases[i].dtype);
  }
  /* C long is 8 bytes on LP64 platforms, 4 on LLP64. */
  tsr_dtype parsed;
  assert_ok(tsr_dtype_from_name("l", &parsed));
  assert_int_equal(tsr_dtype_size(parsed), sizeof(long));
  assert_true(tsr_dtype_is_integer(parsed) && tsr_dtype_is_signed(parsed));
  assert_ok(tsr_dtype_from_name("L", &parsed));
  assert_int_equal(tsr_dtype_size(parsed), sizeof(long));
  assert_true(tsr_dtype_is_integer(parsed) && !tsr_dtype_is_signed(parsed));
}

static void test_dtype__bad_names(void **state) {
  (void)state;
  const char *unknown[] = {"",    "<",   "float65", "F8", "Float64", "i3",  "u16",
                           "f8 ", " f8", "<<f8",    "x",  "i8x",     "int7"};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    tsr_dtype parsed = TSR_FLOAT64;
    tsr_status s = tsr_dtype_from_name(unknown[i], &parsed);
    if (s != TSR_EDTYPE)
      print_error("'%s' was accepted as %s\n", unknown[i], tsr_dtype_name(parsed));
    assert_int_equal(s, TSR_EDTYPE);
    assert_int_equal(parsed, 0);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", unknown[i]);
    assert_non_null(strstr(tsr_last_error(), quoted));
  }
  /* Real NumPy dtypes that tessera lacks say so. */
  const char *unsupported[] = {"float16", "f2", "complex128", "c16", "object", "<M8"};
  for (size_t i = 0; i < sizeof unsupported / sizeof unsupported[0]; i++) {
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", unsupported[i]);
    tsr_dtype parsed;
    assert_fails(tsr_dtype_from_name(unsupported[i], &parsed), TSR_EDTYPE, quoted);
    assert_non_null(strstr(tsr_last_error(), "not supported"));
  }
  tsr_dtype parsed;
  assert_fails(tsr_dtype_from_name(NULL, &parsed), TSR_EINVAL, "name");
  assert_fails(tsr_dtype_from_name("f8", NULL), TSR_EINVAL, "out");
}

static void test_dtype__big_endian_is_refused(void **state) {
  (void)state;
  const char *names[] = {">f8", ">i4", "!f4", ">u2", ">float64", ">i8"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    tsr_dtype parsed = TSR_FLOAT64;
    assert_fails(tsr_dtype_from_name(names[i], &parsed), TSR_EDTYPE, "big-endian");
    assert_non_null(strstr(tsr_last_error(), "not supported"));
    assert_non_null(strstr(tsr_last_error(), names[i]));
    assert_int_equal(parsed, 0);
  }
}

/* np.result_type(a, b) for arrays of the row and column dtypes, written out
 * from NumPy's rules: bool gives way to anything; same-signedness integers
 * take the wider; signed s with unsigned u is s if s is wider, else the
 * signed type twice u's width (float64 past 64 bits); 8/16-bit integers and
 * bool fit float32, wider integers need float64. */
static const int promotion[TSR_NUM_DTYPES][TSR_NUM_DTYPES] = {
    /*        B   I1  I2  I4  I8  U1  U2  U4  U8  F4  F8 */
    /* B  */ {B, I1, I2, I4, I8, U1, U2, U4, U8, F4, F8},
    /* I1 */ {I1, I1, I2, I4, I8, I2, I4, I8, F8, F4, F8},
    /* I2 */ {I2, I2, I2, I4, I8, I2, I4, I8, F8, F4, F8},
    /* I4 */ {I4, I4, I4, I4, I8, I4, I4, I8, F8, F8, F8},
    /* I8 */ {I8, I8, I8, I8, I8, I8, I8, I8, F8, F8, F8},
    /* U1 */ {U1, I2, I2, I4, I8, U1, U2, U4, U8, F4, F8},
    /* U2 */ {U2, I4, I4, I4, I8, U2, U2, U4, U8, F4, F8},
    /* U4 */ {U4, I8, I8, I8, I8, U4, U4, U4, U8, F8, F8},
    /* U8 */ {U8, F8, F8, F8, F8, U8, U8, U8, U8, F8, F8},
    /* F4 */ {F4, F4, F4, F8, F8, F4, F4, F8, F8, F4, F8},
    /* F8 */ {F8, F8, F8, F8, F8, F8, F8, F8, F8, F8, F8},
};

static void test_dtype__promotion_table(void **state) {
  (void)state;
  for (int a = 0; a < TSR_NUM_DTYPES; a++) {
    for (int b = 0; b < TSR_NUM_DTYPES; b++) {
      assert_int_equal(promotion[a][b], promotion[b][a]); /* the table itself is symmetric */
      tsr_dtype r = TSR_NUM_DTYPES;
      assert_ok(tsr_dtype_promote((tsr_dtype)a, (tsr_dtype)b, &r));
      if ((int)r != promotion[a][b])
        print_error("promote(%s, %s) = %s, expected %s\n", tsr_dtype_name((tsr_dtype)a),
                    tsr_dtype_name((tsr_dtype)b), tsr_dtype_name(r),
                    tsr_dtype_name((tsr_dtype)promotion[a][b]));
      assert_int_equal(r, promotion[a][b]);
    }
  }
  /* The examples in core.h. */
  tsr_dtype r;
  assert_ok(tsr_dtype_promote(TSR_INT8, TSR_UINT8, &r));
  assert_int_equal(r, TSR_INT16);
  assert_ok(tsr_dtype_promote(TSR_INT64, TSR_UINT64, &r));
  assert_int_equal(r, TSR_FLOAT64);
  assert_ok(tsr_dtype_promote(TSR_INT16, TSR_FLOAT32, &r));
  assert_int_equal(r, TSR_FLOAT32);
  assert_ok(tsr_dtype_promote(TSR_INT32, TSR_FLOAT32, &r));
  assert_int_equal(r, TSR_FLOAT64);
}

static void test_dtype__promote_bad_arguments(void **state) {
  (void)state;
  tsr_dtype r = TSR_FLOAT64;
  assert_fails(tsr_dtype_promote(TSR_NUM_DTYPES, TSR_INT8, &r), TSR_EINVAL, "a = 11");
  assert_int_equal(r, 0);
  r = TSR_FLOAT64;
  assert_fails(tsr_dtype_promote(TSR_INT8, (tsr_dtype)-1, &r), TSR_EINVAL, "b = -1");
  assert_int_equal(r, 0);
  assert_fails(tsr_dtype_promote(TSR_INT8, TSR_INT8, NULL), TSR_EINVAL, "out");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dtype__sizes_names_and_kinds),
      cmocka_unit_test(test_dtype__invalid_values),
      cmocka_unit_test(test_dtype__names_round_trip),
      cmocka_unit_test(test_dtype__aliases_and_codes),
      cmocka_unit_test(test_dtype__bad_names),
      cmocka_unit_test(test_dtype__big_endian_is_refused),
      cmocka_unit_test(test_dtype__promotion_table),
      cmocka_unit_test(test_dtype__promote_bad_arguments),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
