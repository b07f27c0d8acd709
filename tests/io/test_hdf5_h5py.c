/* test_hdf5_h5py.c — interoperability with h5py (Debian's python3-h5py),
 * both ways: files tsr_store_hdf5 writes are read by h5py (values, dtype,
 * chunks, the deflate and shuffle filters, bool as h5py's bool) and by
 * h5dump; files h5py writes (gzip with and without shuffle, big-endian,
 * bool, scalar, zero-size, fletcher32, contiguous) are read here; attributes
 * both ways.  Values on
 * both sides come from one formula, element i of every array being
 * (i * 7 + 3) % 251 converted to the dtype.  The whole program is skipped
 * (exit 77) when /usr/bin/python3 cannot import h5py. */
#include "hdf5_test_util.h"

#define PYTHON "/usr/bin/python3"

static const char *const np_names[TSR_NUM_DTYPES] = {"bool",   "int8",    "int16",  "int32",
                                                     "int64",  "uint8",   "uint16", "uint32",
                                                     "uint64", "float32", "float64"};

static void fill_formula(tsr_dtype dtype, int64_t n, void *out) {
  for (int64_t i = 0; i < n; i++) {
    int v = (int)((i * 7 + 3) % 251);
    unsigned char *p = (unsigned char *)out + (size_t)i * tsr_dtype_size(dtype);
#define PUT(T, X)              \
  do {                         \
    T x_ = (T)(X);             \
    memcpy(p, &x_, sizeof x_); \
  } while (0)
    switch (dtype) {
    case TSR_BOOL:
      PUT(uint8_t, v % 2);
      break;
    case TSR_INT8:
      PUT(int8_t, v - 125);
      break;
    case TSR_INT16:
      PUT(int16_t, v * 100 - 12000);
      break;
    case TSR_INT32:
      PUT(int32_t, v * 1000003 - 7);
      break;
    case TSR_INT64:
      PUT(int64_t, (int64_t)v * 1000000000007ll - 9);
      break;
    case TSR_UINT8:
      PUT(uint8_t, v);
      break;
    case TSR_UINT16:
      PUT(uint16_t, v * 200);
      break;
    case TSR_UINT32:
      PUT(uint32_t, (uint32_t)v * 16000000u);
      break;
    case TSR_UINT64:
      PUT(uint64_t, (uint64_t)v * 70000000000000000ull);
      break;
    case TSR_FLOAT32:
      PUT(float, v * 0.25f - 3);
      break;
    default:
      PUT(double, v / 7.0);
      break;
    }
#undef PUT
  }
}

/* The same formula in NumPy, as an expression of `i` (np.arange). */
static const char *py_formula(tsr_dtype dtype) {
  static const char *const f[TSR_NUM_DTYPES] = {
      "(v % 2).astype(bool)",
      "(v - 125).astype('int8')",
      "(v * 100 - 12000).astype('int16')",
      "(v * 1000003 - 7).astype('int32')",
      "(v * 1000000000007 - 9).astype('int64')",
      "v.astype('uint8')",
      "(v * 200).astype('uint16')",
      "(v.astype('uint32') * np.uint32(16000000))",
      "(v.astype('uint64') * np.uint64(70000000000000000))",
      "(v * np.float32(0.25) - np.float32(3)).astype('float32')",
      "v / 7.0"};
  return f[dtype];
}

static int run_python(const char *code) {
  char script[512];
  scratch(script, sizeof script, "check.py");
  FILE *fp = fopen(script, "w");
  assert_non_null(fp);
  fprintf(fp, "import sys\nimport numpy as np\nimport h5py\n%s\n", code);
  fclose(fp);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, PYTHON " '%s'", script);
  int rc = system(cmd);
  unlink(script);
  return rc;
}

/* We write every dtype with several layouts; h5py checks. */
static void test_hdf5_h5py__h5py_reads_ours(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "ours.h5");
  static const int64_t shapes[][3] = {{37, 0, 0}, {13, 17, 0}, {6, 5, 9}, {0, 4, 0}, {0, 0, 0}};
  static const int ndims[] = {1, 2, 3, 2, 0};
  static const int levels[] = {0, 1, 4, 9};
  for (int s = 0; s < 5; s++) {
    for (int v = 0; v < 4; v++) {
      tsr_array *arrays[TSR_NUM_DTYPES];
      const char *names[TSR_NUM_DTYPES];
      char name_buf[TSR_NUM_DTYPES][32];
      void *data[TSR_NUM_DTYPES];
      int64_t size = 1, chunks[3] = {4, 3, 2};
      for (int a = 0; a < ndims[s]; a++)
        size *= shapes[s][a];
      for (int t = 0; t < TSR_NUM_DTYPES; t++) {
        data[t] = malloc((size_t)size * 8 + 1);
        fill_formula((tsr_dtype)t, size, data[t]);
        assert_ok(tsr_array_from_buffer(ctx, (tsr_dtype)t, ndims[s], shapes[s], chunks, data[t],
                                        TSR_BUFFER_BORROW, NULL, NULL, &arrays[t]));
        snprintf(name_buf[t], sizeof name_buf[t], "/grp/%s", np_names[t]);
        names[t] = name_buf[t];
      }
      tsr_hdf5_store_options o = {
          .deflate_level = levels[v], .shuffle = v % 2 == 1, .mode = TSR_HDF5_REPLACE};
      assert_ok(tsr_store_hdf5(ctx, TSR_NUM_DTYPES, arrays, path, names, &o));
      char code[8192];
      int used = snprintf(code, sizeof code, "f = h5py.File('%s', 'r')\nbad = []\n", path);
      for (int t = 0; t < TSR_NUM_DTYPES; t++) {
        char shape_py[64];
        int n = snprintf(shape_py, sizeof shape_py, "(");
        for (int a = 0; a < ndims[s]; a++)
          n +=
              snprintf(shape_py + n, sizeof shape_py - (size_t)n, "%lld,", (long long)shapes[s][a]);
        snprintf(shape_py + n, sizeof shape_py - (size_t)n, ")");
        bool chunked = ndims[s] > 0 && size > 0;
        used += snprintf(
            code + used, sizeof code - (size_t)used,
            "d = f['%s']\n"
            "v = np.arange(%lld) * 7 + 3\nv = v %% 251\n"
            "want = (%s).reshape(%s)\n"
            "if d.dtype != np.dtype('%s') or d.shape != %s or not np.array_equal(d[()], want):\n"
            "    bad.append(('%s', d.dtype, d.shape))\n"
            "if %d and (d.chunks is None or d.compression != %s or d.shuffle != %s):\n"
            "    bad.append(('%s filters', d.chunks, d.compression, d.shuffle))\n",
            names[t], (long long)size, py_formula((tsr_dtype)t), shape_py, np_names[t], shape_py,
            names[t], chunked, levels[v] > 0 ? "'gzip'" : "None",
            levels[v] > 0 && v % 2 == 1 ? "True" : "False", names[t]);
      }
      snprintf(code + used, sizeof code - (size_t)used,
               "if bad:\n    print('h5py disagrees:', bad)\n    sys.exit(1)\n");
      assert_int_equal(run_python(code), 0);
      for (int t = 0; t < TSR_NUM_DTYPES; t++) {
        tsr_array_destroy(&arrays[t]);
        free(data[t]);
      }
    }
  }
  /* h5dump reads it too (when installed). */
  if (system("command -v h5dump >/dev/null 2>&1") == 0) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "h5dump -d /grp/int16 '%s' >/dev/null", path);
    assert_int_equal(system(cmd), 0);
  }
  unlink(path);
}

/* h5py writes; we read. */
static void test_hdf5_h5py__we_read_h5pys(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "theirs.h5");
  static const char *const layouts[] = {
      "chunks=(5, 4), compression='gzip', compression_opts=4, shuffle=True",
      "chunks=(7, 3), compression='gzip'",
      "chunks=(3, 11), fletcher32=True",
      "chunks=True, compression='gzip', shuffle=True",
      "",
  };
  for (int t = 0; t < TSR_NUM_DTYPES; t++) {
    for (int lay = 0; lay < 5; lay++) {
      for (int be = 0; be < 2; be++) {
        if (be && (t == TSR_BOOL || tsr_dtype_size((tsr_dtype)t) == 1))
          continue;
        char code[2048];
        snprintf(code, sizeof code,
                 "v = np.arange(23 * 19) * 7 + 3\nv = v %% 251\n"
                 "a = (%s).reshape(23, 19)\n"
                 "a = a.astype(a.dtype.newbyteorder('%s'))\n"
                 "with h5py.File('%s', 'w') as f:\n"
                 "    f.create_dataset('/in/x', data=a%s%s)\n"
                 "    f.create_dataset('scalar', data=a[3, 4])\n"
                 "    f.create_dataset('empty', data=a[:0])\n",
                 py_formula((tsr_dtype)t), be ? ">" : "<", path, layouts[lay][0] ? ", " : "",
                 layouts[lay]);
        assert_int_equal(run_python(code), 0);
        size_t isz = tsr_dtype_size((tsr_dtype)t);
        unsigned char *want = malloc(23 * 19 * isz), *got = malloc(23 * 19 * isz);
        fill_formula((tsr_dtype)t, 23 * 19, want);
        tsr_array *a = NULL;
        int64_t odd[2] = {6, 5};
        for (int k = 0; k < 2; k++) {
          assert_ok(tsr_array_from_hdf5(ctx, path, "/in/x", k ? odd : NULL, &a));
          assert_int_equal(tsr_array_dtype(a), t);
          assert_ok(tsr_array_to_buffer(a, got, 23 * 19 * isz));
          assert_memory_equal(got, want, 23 * 19 * isz);
          tsr_array_destroy(&a);
        }
        assert_ok(tsr_array_from_hdf5(ctx, path, "scalar", NULL, &a));
        assert_int_equal(tsr_array_ndim(a), 0);
        assert_ok(tsr_array_to_buffer(a, got, isz));
        assert_memory_equal(got, want + (3 * 19 + 4) * isz, isz);
        tsr_array_destroy(&a);
        assert_ok(tsr_array_from_hdf5(ctx, path, "empty", NULL, &a));
        assert_int_equal(tsr_array_size(a), 0);
        assert_int_equal(tsr_array_shape(a)[1], 19);
        assert_ok(tsr_array_to_buffer(a, got, 0));
        tsr_array_destroy(&a);
        free(want);
        free(got);
      }
    }
  }
  /* h5py's own lzf filter is not in libhdf5: a clear ENOTSUP. */
  char code[1024];
  snprintf(code, sizeof code,
           "with h5py.File('%s', 'w') as f:\n"
           "    f.create_dataset('z', data=np.zeros(100), chunks=(10,), compression='lzf')\n",
           path);
  assert_int_equal(run_python(code), 0);
  tsr_array *a = NULL;
  assert_fails(tsr_array_from_hdf5(ctx, path, "z", NULL, &a), TSR_ENOTSUP, "lzf");
  assert_non_null(strstr(tsr_last_error(), path));
  unlink(path);
}

/* Attributes both ways: ours read by h5py as str / float / int, h5py's
 * of every kind read here (other shapes and types listed as OTHER). */
static void test_hdf5_h5py__attributes(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "attrs.h5");
  tsr_array *a = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT64, 1, (int64_t[]){5}, NULL, &a));
  const tsr_attr attrs[] = {{.name = "units", .type = TSR_ATTR_STRING, .string = "\u00b0C"},
                            {.name = "_FillValue", .type = TSR_ATTR_FLOAT64, .f64 = -999.5},
                            {.name = "version", .type = TSR_ATTR_INT64, .i64 = -(1ll << 40)},
                            {.name = "empty", .type = TSR_ATTR_STRING, .string = ""}};
  const tsr_attr *per[1] = {attrs};
  size_t n_per[1] = {4};
  const char *name = "/g/t";
  tsr_hdf5_store_options so = {.mode = TSR_HDF5_REPLACE, .attributes = per, .n_attributes = n_per};
  assert_ok(tsr_store_hdf5(ctx, 1, &a, path, &name, &so));
  tsr_array_destroy(&a);
  char code[2048];
  snprintf(code, sizeof code,
           "with h5py.File('%s', 'r') as f:\n"
           "    got = dict(f['/g/t'].attrs)\n"
           "want = {'units': '\\u00b0C', '_FillValue': -999.5, 'version': -(1 << 40), 'empty': ''}\n"
           "assert got == want, got\n"
           "assert isinstance(got['units'], str) and isinstance(got['version'], np.int64), got\n"
           "with h5py.File('%s', 'a') as f:\n"
           "    t = f['/g/t']\n"
           "    t.attrs['f32'] = np.float32(0.25)\n"
           "    t.attrs['u64'] = np.uint64(2**64 - 1)\n"
           "    t.attrs['i16'] = np.int16(-7)\n"
           "    t.attrs['one'] = np.array([3.5])\n"
           "    t.attrs['fixed'] = np.bytes_(b'abc')\n"
           "    t.attrs['vec'] = np.arange(3, dtype='int32')\n"
           "    f['/g'].attrs['title'] = 'stations'\n",
           path, path);
  assert_int_equal(run_python(code), 0);
  tsr_attr *got = NULL;
  size_t n = 0;
  assert_ok(tsr_hdf5_attrs_read(ctx, path, "/g/t", &got, &n));
  /* name order: _FillValue empty f32 fixed i16 one u64 units vec version */
  assert_int_equal(n, 10);
  const char *order[] = {"_FillValue", "empty", "f32", "fixed", "i16",
                         "one",        "u64",   "units", "vec", "version"};
  for (size_t i = 0; i < n; i++)
    assert_string_equal(got[i].name, order[i]);
  assert_int_equal(got[0].type, TSR_ATTR_FLOAT64);
  assert_true(got[0].f64 == -999.5);
  assert_int_equal(got[1].type, TSR_ATTR_STRING);
  assert_string_equal(got[1].string, "");
  assert_true(got[2].type == TSR_ATTR_FLOAT64 && got[2].f64 == 0.25);
  assert_true(got[3].type == TSR_ATTR_STRING);
  assert_string_equal(got[3].string, "abc");
  assert_true(got[4].type == TSR_ATTR_INT64 && got[4].i64 == -7);
  assert_true(got[5].type == TSR_ATTR_FLOAT64 && got[5].f64 == 3.5);
  assert_true(got[6].type == TSR_ATTR_FLOAT64 && got[6].f64 == 18446744073709551615.0);
  assert_string_equal(got[7].string, "\u00b0C");
  assert_int_equal(got[8].type, TSR_ATTR_OTHER);
  assert_string_equal(got[8].string, "integer[3]");
  assert_true(got[9].type == TSR_ATTR_INT64 && got[9].i64 == -(1ll << 40));
  tsr_hdf5_attrs_free(ctx, &got, n);
  assert_null(got);
  assert_ok(tsr_hdf5_attrs_read(ctx, path, "/g", &got, &n));
  assert_int_equal(n, 1);
  assert_string_equal(got[0].string, "stations");
  tsr_hdf5_attrs_free(ctx, &got, n);
  assert_ok(tsr_hdf5_attrs_read(ctx, path, NULL, &got, &n)); /* the root: none */
  assert_int_equal(n, 0);
  assert_null(got);
  unlink(path);
}

int main(void) {
  if (system(PYTHON " -c 'import h5py' >/dev/null 2>&1") != 0) {
    printf("h5py is not importable by " PYTHON ": skipped (install python3-h5py)\n");
    return 77;
  }
  make_scratch_dir("h5py");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hdf5_h5py__h5py_reads_ours, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_h5py__we_read_h5pys, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_h5py__attributes, test_ctx_setup,
                                      test_ctx_teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  remove_scratch_dir();
  return failed;
}
