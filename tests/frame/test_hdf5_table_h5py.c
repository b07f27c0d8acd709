/* test_hdf5_table_h5py.c — HDF5 tables and compound datasets with h5py
 * (Debian's python3-h5py) and pandas, both ways: h5py reads what
 * tsr_frame_write_hdf5 writes (attributes, values, validity, dictionary,
 * units, both string layouts) and the README's two-line pandas read gives
 * the frame; tessera reads a table h5py wrote by the documented layout, and
 * compound datasets h5py wrote with every field type (nested, fixed and
 * variable-length strings, big-endian, enum, bool), refusing array fields
 * by name.  Values on both sides come from formulas of the row number i.
 * Skipped (77) when /usr/bin/python3 cannot import h5py and pandas. */
#include <sys/stat.h>

#include "frame_util.h"
#include "scratch_dir.h"

#define PYTHON "/usr/bin/python3"

static int run_python(const char *code) {
  char script[512];
  snprintf(script, sizeof script, "%s/check.py", dir);
  FILE *fp = fopen(script, "w");
  assert_non_null(fp);
  fprintf(fp, "import sys\nimport numpy as np\nimport h5py\nimport pandas as pd\n%s\n", code);
  fclose(fp);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, PYTHON " '%s'", script);
  int rc = system(cmd);
  unlink(script);
  return rc;
}

enum { N = 3000 };

/* The frame both sides know: i (int64, i*3-7), x (float64, i/4), s
 * (string "s<i>" with every 5th row "" and every 7th "ü<i>-long-unicode-text"),
 * b (bool i%3==0), k (dict of "lo","mid","hi" by i%3; every 11th null),
 * d (date i-100), t (timestamp[ms] i*1000). */
static tsr_frame *known_frame(tsr_ctx *ctx) {
  static int64_t iv[N], ts[N], soff[N + 1];
  static double xv[N];
  static uint8_t bv[N], kvalid[(N + 7) / 8];
  static int32_t kc[N], dv[N];
  static char sdata[N * 40];
  const char *dict = "hilomid"; /* sorted: hi, lo, mid */
  static int64_t doff[4] = {0, 2, 4, 7};
  static const int32_t code_of[3] = {1, 2, 0}; /* i%3 -> lo, mid, hi */
  soff[0] = 0;
  for (int64_t i = 0; i < N; i++) {
    iv[i] = i * 3 - 7;
    xv[i] = (double)i / 4;
    bv[i] = i % 3 == 0;
    kc[i] = code_of[i % 3];
    if (i % 11 != 0)
      kvalid[i / 8] |= (uint8_t)(1u << (i % 8));
    dv[i] = (int32_t)i - 100;
    ts[i] = i * 1000;
    char buf[64];
    if (i % 5 == 0)
      buf[0] = '\0';
    else if (i % 7 == 0)
      snprintf(buf, sizeof buf, "ü%lld-long-unicode-text", (long long)i);
    else
      snprintf(buf, sizeof buf, "s%lld", (long long)i);
    size_t len = strlen(buf);
    memcpy(sdata + soff[i], buf, len);
    soff[i + 1] = soff[i] + (int64_t)len;
  }
  tsr_column_data cd[7] = {
      {.name = "i", .type = {TSR_COL_INT64, 0}, .length = N, .values = iv},
      {.name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = N, .values = xv},
      {.name = "s", .type = {TSR_COL_STRING, 0}, .length = N, .offsets = soff, .data = sdata},
      {.name = "b", .type = {TSR_COL_BOOL, 0}, .length = N, .values = bv},
      {.name = "k", .type = {TSR_COL_DICT, 0}, .length = N, .values = kc, .validity = kvalid,
       .dict_size = 3, .dict_offsets = doff, .dict_data = dict},
      {.name = "d", .type = {TSR_COL_DATE, 0}, .length = N, .values = dv},
      {.name = "t", .type = {TSR_COL_TIMESTAMP, TSR_TIME_MS}, .length = N, .values = ts}};
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 7, cd, 500, TSR_BUFFER_COPY, NULL, NULL, &f));
  return f;
}

static const char py_expect[] =
    "n = 3000\n"
    "i = np.arange(n)\n"
    "s = ['' if r % 5 == 0 else ('\\u00fc%d-long-unicode-text' % r if r % 7 == 0 else 's%d' % r)"
    " for r in range(n)]\n"
    "k = [None if r % 11 == 0 else ['lo', 'mid', 'hi'][r % 3] for r in range(n)]\n";

static void test_hdf5_table_h5py__h5py_reads_ours(void **state) {
  tsr_ctx *ctx = *state;
  tsr_frame *f = known_frame(ctx);
  char path[512], code[8192];
  snprintf(path, sizeof path, "%s/ours.h5", dir);
  tsr_frame_hdf5_options z = {.deflate_level = 1, .shuffle = true, .chunk_rows = 256};
  assert_ok(tsr_frame_write_hdf5(f, path, "/table", &z));
  tsr_frame_hdf5_options off = {.strings = TSR_HDF5_STRINGS_OFFSETS};
  assert_ok(tsr_frame_write_hdf5(f, path, "/packed", &off));
  snprintf(
      code, sizeof code,
      "%s"
      "f = h5py.File('%s', 'r')\n"
      "g = f['table']\n"
      "assert g.attrs['tessera_format'] == 'table', g.attrs['tessera_format']\n"
      "assert g.attrs['tessera_format_version'] == 1\n"
      "assert list(g.attrs['columns']) == ['i', 'x', 's', 'b', 'k', 'd', 't'], g.attrs['columns']\n"
      "assert g['i'].dtype == np.int64 and (g['i'][()] == i * 3 - 7).all()\n"
      "assert g['x'].dtype == np.float64 and (g['x'][()] == i / 4).all()\n"
      "assert g['x'].compression == 'gzip' and g['x'].shuffle and g['x'].chunks == (256,)\n"
      "assert g['b'].dtype == np.bool_ and (g['b'][()] == (i %% 3 == 0)).all()\n"
      "assert list(g['s'].asstr()[()]) == s\n"
      "codes = g['k'][()]\n"
      "assert g['k'].dtype == np.int32\n"
      "dic = list(g[g['k'].attrs['dictionary']].asstr()[()])\n"
      "assert dic == ['hi', 'lo', 'mid'], dic\n"
      "valid = g[g['k'].attrs['validity']][()]\n"
      "assert valid.dtype == np.bool_\n"
      "assert [dic[c] if v else None for c, v in zip(codes, valid)] == k\n"
      "assert 'validity' not in g['i'].attrs\n"
      "assert g['d'].attrs['unit'] == 'days' and g['d'].dtype == np.int32\n"
      "assert (g['d'][()] == i - 100).all()\n"
      "assert g['t'].attrs['unit'] == 'ms' and (g['t'][()] == i * 1000).all()\n"
      "p = f['packed']\n"
      "o = p[p['s'].attrs['offsets']][()]\n"
      "b = p['s'][()].tobytes()\n"
      "assert len(o) == n + 1 and o[0] == 0 and o[-1] == len(b)\n"
      "assert [b[o[r]:o[r + 1]].decode() for r in range(n)] == s\n"
      "# the README's two lines\n"
      "g = h5py.File('%s', 'r')['table']\n"
      "df = pd.DataFrame({c: g[c].asstr()[()] if g[c].dtype.kind == 'O' else g[c][()] for c in "
      "g.attrs['columns']})\n"
      "assert list(df.columns) == ['i', 'x', 's', 'b', 'k', 'd', 't']\n"
      "assert len(df) == n and (df['i'] == i * 3 - 7).all() and list(df['s']) == s\n"
      "assert df['x'].sum() == (i / 4).sum()\n",
      py_expect, path, path);
  assert_int_equal(run_python(code), 0);
  tsr_frame_destroy(&f);
}

static void test_hdf5_table_h5py__we_read_h5py_tables(void **state) {
  tsr_ctx *ctx = *state;
  char path[512], code[8192];
  snprintf(path, sizeof path, "%s/theirs.h5", dir);
  snprintf(code, sizeof code,
           "%s"
           "f = h5py.File('%s', 'w')\n"
           "g = f.create_group('t')\n"
           "g.attrs['tessera_format'] = 'table'\n"
           "g.attrs['tessera_format_version'] = 1\n"
           "g.attrs['columns'] = ['s', 'i', 'k', 'd', 'ts', 'b']\n"
           "g.create_dataset('s', data=s, dtype=h5py.string_dtype(), compression='gzip')\n"
           "g.create_dataset('s_valid', data=np.array([r %% 5 != 0 for r in range(n)]))\n"
           "g['s'].attrs['validity'] = 's_valid'\n"
           "g.create_dataset('i', data=(i * 3 - 7).astype('>i2'), chunks=(100,), "
           "compression='gzip', shuffle=True)\n"
           "g.create_dataset('k', data=np.array([(r %% 3) if r %% 11 else -1 for r in range(n)], "
           "dtype='i1'))\n"
           "g.create_dataset('kdict', data=['a', 'b', 'c'], dtype=h5py.string_dtype())\n"
           "g['k'].attrs['dictionary'] = 'kdict'\n"
           "g.create_dataset('kvalid', data=np.array([r %% 11 != 0 for r in range(n)]))\n"
           "g['k'].attrs['validity'] = 'kvalid'\n"
           "g.create_dataset('d', data=(i - 100).astype('int64'))\n"
           "g['d'].attrs['unit'] = 'days'\n"
           "g.create_dataset('ts', data=i * 7)\n"
           "g['ts'].attrs['unit'] = 'ns'\n"
           "g.create_dataset('b', data=(i %% 2 == 1))\n"
           "g2 = f.create_group('bad')\n"
           "g2.attrs['tessera_format'] = 'table'\n"
           "g2.attrs['tessera_format_version'] = 1\n"
           "g2.attrs['columns'] = ['k']\n"
           "g2.create_dataset('k', data=np.array([0, 5], dtype='i4'))\n"
           "g2.create_dataset('kd', data=['x'], dtype=h5py.string_dtype())\n"
           "g2['k'].attrs['dictionary'] = 'kd'\n"
           "g4 = f.create_group('bad_negative')\n"
           "g4.attrs['tessera_format'] = 'table'\n"
           "g4.attrs['tessera_format_version'] = 1\n"
           "g4.attrs['columns'] = ['k']\n"
           "g4.create_dataset('k', data=np.array([0, 0, -1], dtype='i4'))\n"
           "g4.create_dataset('kd', data=['x'], dtype=h5py.string_dtype())\n"
           "g4['k'].attrs['dictionary'] = 'kd'\n"
           "g3 = f.create_group('future')\n"
           "g3.attrs['tessera_format'] = 'table'\n"
           "g3.attrs['tessera_format_version'] = 2\n"
           "g3.attrs['columns'] = []\n"
           "f.close()\n",
           py_expect, path);
  assert_int_equal(run_python(code), 0);
  tsr_frame *g = NULL;
  assert_ok(tsr_frame_read_hdf5(ctx, path, "/t", NULL, &g));
  assert_int_equal(tsr_frame_ncols(g), 6);
  assert_int_equal(tsr_frame_col_type(g, 0).id, TSR_COL_STRING);
  assert_int_equal(tsr_frame_col_type(g, 1).id, TSR_COL_INT16);
  assert_int_equal(tsr_frame_col_type(g, 2).id, TSR_COL_DICT);
  assert_int_equal(tsr_frame_col_type(g, 3).id, TSR_COL_DATE);
  assert_int_equal(tsr_frame_col_type(g, 4).id, TSR_COL_TIMESTAMP);
  assert_int_equal(tsr_frame_col_type(g, 4).unit, TSR_TIME_NS);
  assert_int_equal(tsr_frame_col_type(g, 5).id, TSR_COL_BOOL);
  ref_frame got;
  ref_frame_compute(g, &got);
  assert_int_equal(got.n, N);
  for (int64_t r = 0; r < N; r++) {
    char want[64];
    if (r % 7 == 0 && r % 5 != 0)
      snprintf(want, sizeof want, "ü%lld-long-unicode-text", (long long)r);
    else
      snprintf(want, sizeof want, "s%lld", (long long)r);
    assert_int_equal(got.cols[0].valid[r], r % 5 != 0);
    if (r % 5 != 0)
      assert_string_equal(got.cols[0].str[r], want);
    assert_int_equal(((int16_t *)got.cols[1].values)[r], (int16_t)(r * 3 - 7));
    assert_int_equal(got.cols[2].valid[r], r % 11 != 0);
    static const char *const abc[3] = {"a", "b", "c"};
    if (r % 11 != 0)
      assert_string_equal(got.cols[2].str[r], abc[r % 3]);
    assert_int_equal(((int32_t *)got.cols[3].values)[r], (int32_t)r - 100);
    assert_int_equal(((int64_t *)got.cols[4].values)[r], r * 7);
    assert_int_equal(got.cols[5].values[r], r % 2 == 1);
  }
  ref_frame_free(&got);
  tsr_frame_destroy(&g);
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/bad", NULL, &g), TSR_EINVAL,
               "code 5 is outside its dictionary");
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/bad_negative", NULL, &g), TSR_EINVAL,
               "row 2: code -1 is outside its dictionary");
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/future", NULL, &g), TSR_ENOTSUP, "version 2");
}

static void test_hdf5_table_h5py__compound(void **state) {
  tsr_ctx *ctx = *state;
  char path[512], code[8192];
  snprintf(path, sizeof path, "%s/compound.h5", dir);
  snprintf(code, sizeof code,
           "n = 2500\n"
           "i = np.arange(n)\n"
           "inner = np.dtype([('x', '<i4'), ('y', '<f8')])\n"
           "dt = np.dtype([('b', '?'), ('i1', 'i1'), ('i2', '<i2'), ('i4', '>i4'), ('i8', '<i8'),"
           " ('u1', 'u1'), ('u2', '<u2'), ('u4', '<u4'), ('u8', '<u8'), ('f4', '<f4'), ('f8', '>f8'),"
           " ('name', 'S12'), ('label', h5py.string_dtype()),"
           " ('color', h5py.enum_dtype({'RED': 0, 'GREEN': 1, 'BLUE': 2}, basetype='i2')),"
           " ('pos', inner)])\n"
           "a = np.zeros(n, dtype=dt)\n"
           "a['b'] = i %% 2 == 0\n"
           "a['i1'] = (i %% 200) - 100\n"
           "a['i2'] = i * 3 - 4000\n"
           "a['i4'] = i * 100003 - 7\n"
           "a['i8'] = i * 10000000019 - 5\n"
           "a['u1'] = i %% 256\n"
           "a['u2'] = i * 7\n"
           "a['u4'] = i * 1000003\n"
           "a['u8'] = i.astype('u8') * np.uint64(7000000000000003)\n"
           "a['f4'] = i * np.float32(0.5) - 3\n"
           "a['f8'] = i / 7.0\n"
           "a['name'] = [('n%%d' %% r).encode() for r in range(n)]\n"
           "a['label'] = ['\\u00e9tiquette-%%d' %% r for r in range(n)]\n"
           "a['color'] = i %% 3\n"
           "a['pos']['x'] = -i\n"
           "a['pos']['y'] = i * 0.25\n"
           "f = h5py.File('%s', 'w')\n"
           "f.create_dataset('recs', data=a, chunks=(300,), compression='gzip')\n"
           "f.create_dataset('arr', data=np.zeros(3, dtype=[('ok', 'i4'), ('vec', 'f8', (3,))]))\n"
           "f.create_dataset('half', data=np.array([(1.5,), (-2.25,), (0.0,)], dtype=[('h', 'f2')]))\n"
           "f.create_dataset('raw', data=np.zeros(3, dtype=[('ok', 'i4'), ('blob', 'V4')]))\n"
           "f.close()\n",
           path);
  assert_int_equal(run_python(code), 0);
  tsr_frame *g = NULL;
  assert_ok(tsr_frame_read_hdf5(ctx, path, "/recs", NULL, &g));
  static const char *const names[15] = {"b",  "i1", "i2",   "i4",    "i8",    "u1",    "u2", "u4",
                                        "u8", "f4", "f8", "name", "label", "color", "pos.x"};
  static const tsr_coltype types[15] = {
      TSR_COL_BOOL,   TSR_COL_INT8,   TSR_COL_INT16,  TSR_COL_INT32,   TSR_COL_INT64,
      TSR_COL_UINT8,  TSR_COL_UINT16, TSR_COL_UINT32, TSR_COL_UINT64,  TSR_COL_FLOAT32,
      TSR_COL_FLOAT64, TSR_COL_STRING, TSR_COL_STRING, TSR_COL_INT16, TSR_COL_INT32};
  assert_int_equal(tsr_frame_ncols(g), 16);
  for (int c = 0; c < 15; c++) {
    assert_string_equal(tsr_frame_col_name(g, c), names[c]);
    assert_int_equal(tsr_frame_col_type(g, c).id, types[c]);
  }
  assert_string_equal(tsr_frame_col_name(g, 15), "pos.y");
  ref_frame got;
  ref_frame_compute(g, &got);
  assert_int_equal(got.n, 2500);
  for (int64_t r = 0; r < 2500; r++) {
    const ref_col *c = got.cols;
    assert_int_equal(c[0].values[r], r % 2 == 0);
    assert_int_equal(((int8_t *)c[1].values)[r], (int8_t)(r % 200 - 100));
    assert_int_equal(((int16_t *)c[2].values)[r], (int16_t)(r * 3 - 4000));
    assert_int_equal(((int32_t *)c[3].values)[r], (int32_t)(r * 100003 - 7));
    assert_int_equal(((int64_t *)c[4].values)[r], r * 10000000019ll - 5);
    assert_int_equal(c[5].values[r], (uint8_t)(r % 256));
    assert_int_equal(((uint16_t *)c[6].values)[r], (uint16_t)(r * 7));
    assert_int_equal(((uint32_t *)c[7].values)[r], (uint32_t)(r * 1000003));
    assert_true(((uint64_t *)c[8].values)[r] == (uint64_t)r * 7000000000000003ull);
    assert_true(((float *)c[9].values)[r] == (float)r * 0.5f - 3);
    assert_true(((double *)c[10].values)[r] == (double)r / 7.0);
    char want[64];
    snprintf(want, sizeof want, "n%lld", (long long)r);
    assert_string_equal(c[11].str[r], want);
    snprintf(want, sizeof want, "étiquette-%lld", (long long)r);
    assert_string_equal(c[12].str[r], want);
    assert_int_equal(((int16_t *)c[13].values)[r], r % 3);
    assert_int_equal(((int32_t *)c[14].values)[r], (int32_t)-r);
    assert_true(((double *)c[15].values)[r] == r * 0.25);
  }
  ref_frame_free(&got);
  tsr_frame_destroy(&g);
  /* only some fields */
  assert_ok(tsr_frame_read_hdf5(ctx, path, "/recs", "pos.y,name", &g));
  assert_int_equal(tsr_frame_ncols(g), 2);
  assert_string_equal(tsr_frame_col_name(g, 0), "pos.y");
  tsr_frame_destroy(&g);
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/recs", "nope", &g), TSR_EINVAL, "'nope'");
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/arr", NULL, &g), TSR_EDTYPE, "field 'vec'");
  assert_fails(tsr_frame_read_hdf5(ctx, path, "/raw", NULL, &g), TSR_EDTYPE, "field 'blob'");
  /* float16 fields are converted to float32 by HDF5 (exactly) */
  assert_ok(tsr_frame_read_hdf5(ctx, path, "/half", NULL, &g));
  assert_int_equal(tsr_frame_col_type(g, 0).id, TSR_COL_FLOAT32);
  ref_frame h;
  ref_frame_compute(g, &h);
  assert_true(((float *)h.cols[0].values)[0] == 1.5f && ((float *)h.cols[0].values)[1] == -2.25f);
  ref_frame_free(&h);
  tsr_frame_destroy(&g);
}

static int setup(void **state) {
  (void)write_file;
  if (system(PYTHON " -c 'import h5py, pandas' >/dev/null 2>&1") != 0)
    return -1;
  return group_setup(state);
}

int main(void) {
  if (system(PYTHON " -c 'import h5py, pandas' >/dev/null 2>&1") != 0) {
    fprintf(stderr, "h5py or pandas missing: skipped\n");
    return 77;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hdf5_table_h5py__h5py_reads_ours, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_table_h5py__we_read_h5py_tables, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_table_h5py__compound, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, setup, group_teardown);
}
