/* test_hdf5.c — HDF5 arrays against dense references: random shapes (0 to
 * 4 axes, zero-size axes) x every dtype x stored chunked, compressed
 * (deflate levels, with and without shuffle) and contiguous, read back with
 * the file's chunks and with chunkings that do not align with them, on 1, 2
 * and 4 threads; files from the HDF5 C API (big-endian, fletcher32,
 * contiguous, scalar, after a user block) read; append and replace modes; and the failures of
 * issue 4 — missing file or dataset, compound and string types, truncated
 * and corrupted files, an unwritable directory, a full disk (RLIMIT_FSIZE)
 * and allocation failures — each a clear error naming the file and dataset,
 * with no partial output and no leak. */
#include "hdf5_test_util.h"

#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct layout {
  int ndim;
  int64_t shape[4], size;
} layout;

static layout random_layout(int max_extent) {
  layout l = {0};
  l.ndim = (int)(next_rand() % 5);
  l.size = 1;
  for (int d = 0; d < l.ndim; d++) {
    l.shape[d] = (int64_t)(next_rand() % (uint64_t)(max_extent + 1));
    if (next_rand() % 8 != 0 && l.shape[d] == 0)
      l.shape[d] = 1 + (int64_t)(next_rand() % (uint64_t)max_extent); /* zero-size, but rarely */
    l.size *= l.shape[d];
  }
  return l;
}

static void random_chunks(const layout *l, int64_t *chunks) {
  for (int d = 0; d < l->ndim; d++)
    chunks[d] = 1 + (int64_t)(next_rand() % (uint64_t)(l->shape[d] > 0 ? l->shape[d] + 1 : 3));
}

static void read_back_and_compare(tsr_ctx *ctx, const char *path, const char *name, tsr_dtype dtype,
                                  const layout *l, const void *expect, const int64_t *read_chunks) {
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_hdf5(ctx, path, name, read_chunks, &a));
  assert_int_equal(tsr_array_dtype(a), dtype);
  assert_int_equal(tsr_array_ndim(a), l->ndim);
  for (int d = 0; d < l->ndim; d++)
    assert_int_equal(tsr_array_shape(a)[d], l->shape[d]);
  size_t bytes = (size_t)l->size * tsr_dtype_size(dtype);
  void *got = malloc(bytes + 1);
  assert_ok(tsr_array_to_buffer(a, got, bytes));
  assert_memory_equal(got, expect, bytes);
  free(got);
  tsr_array_destroy(&a);
}

/* Our store, then our reads with the file's chunks and random chunks. */
static void test_hdf5__store_round_trip(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "rt.h5");
  for (int iter = 0; iter < 220; iter++) {
    tsr_dtype dtype = (tsr_dtype)(iter % TSR_NUM_DTYPES);
    layout l = random_layout(9);
    assert_ok(tsr_ctx_set_threads(ctx, (int[]){1, 2, 4}[iter % 3]));
    size_t bytes = (size_t)l.size * tsr_dtype_size(dtype);
    void *data = malloc(bytes + 1);
    fill_random(dtype, l.size, data);
    int64_t achunks[4], fchunks[4], rchunks[4];
    random_chunks(&l, achunks);
    random_chunks(&l, fchunks);
    random_chunks(&l, rchunks);
    tsr_array *a = NULL;
    assert_ok(tsr_array_from_buffer(ctx, dtype, l.ndim, l.shape, achunks, data, TSR_BUFFER_BORROW,
                                    NULL, NULL, &a));
    const int64_t *per[1] = {fchunks};
    tsr_hdf5_store_options o = {.deflate_level = (int[]){0, 1, 6, 9}[next_rand() % 4],
                                .shuffle = next_rand() % 2 == 0,
                                .mode = iter % 2 ? TSR_HDF5_REPLACE : TSR_HDF5_OVERWRITE,
                                .chunks = next_rand() % 2 ? per : NULL};
    const char *name = iter % 2 ? "/x" : "/g/h/x";
    assert_ok(tsr_store_hdf5(ctx, 1, &a, path, &name, &o));
    tsr_array_destroy(&a);
    read_back_and_compare(ctx, path, name, dtype, &l, data, NULL);
    read_back_and_compare(ctx, path, name, dtype, &l, data, rchunks);
    free(data);
    assert_int_equal(count_files(".tmp."), 0);
  }
  unlink(path);
}

/* Files made with the C API (HDF5's own zlib, either byte order, fletcher32,
 * contiguous and scalar layouts, with and without a user block) read with
 * our direct, raw (pread) and hyperslab paths. */
static void test_hdf5__read_c_api_files(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "capi.h5");
  for (int iter = 0; iter < 220; iter++) {
    tsr_dtype dtype = (tsr_dtype)(iter % TSR_NUM_DTYPES);
    layout l = random_layout(12);
    assert_ok(tsr_ctx_set_threads(ctx, (int[]){1, 2, 4}[iter % 3]));
    size_t bytes = (size_t)l.size * tsr_dtype_size(dtype);
    void *data = malloc(bytes + 1);
    fill_random(dtype, l.size, data);
    int64_t fchunks[4], rchunks[4];
    random_chunks(&l, fchunks);
    for (int d = 0; d < l.ndim; d++) /* HDF5: chunk <= extent for fixed dims */
      if (fchunks[d] > l.shape[d])
        fchunks[d] = l.shape[d] > 0 ? l.shape[d] : 1;
    random_chunks(&l, rchunks);
    bool contiguous = l.ndim == 0 || l.size == 0 || next_rand() % 4 == 0;
    int level = (int[]){0, 1, 4, 9}[next_rand() % 4];
    bool shuffle = next_rand() % 2, fletcher = next_rand() % 5 == 0;
    bool be = next_rand() % 2;
    unsigned ub = (unsigned[]){0, 0, 512, 4096}[next_rand() % 4];
    c_write(path, "/data", dtype, be, l.ndim, l.shape, contiguous ? NULL : fchunks, level, shuffle,
            fletcher, ub, data);
    read_back_and_compare(ctx, path, "/data", dtype, &l, data, NULL);
    read_back_and_compare(ctx, path, "data", dtype, &l, data, rchunks);
    free(data);
  }
  unlink(path);
}

/* Default chunks: the file's, or whole multiples within the chunk bytes. */
static void test_hdf5__default_chunks(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "chunks.h5");
  int64_t shape[2] = {100, 60}, fchunk[2] = {10, 6};
  double *data = malloc(sizeof(double) * 6000);
  for (int i = 0; i < 6000; i++)
    data[i] = i;
  c_write(path, "/x", TSR_FLOAT64, false, 2, shape, fchunk, 1, true, false, 0, data);
  tsr_array *a = NULL;
  assert_ok(tsr_ctx_set_chunk_bytes(ctx, 10 * 6 * 8));
  assert_ok(tsr_array_from_hdf5(ctx, path, "/x", NULL, &a));
  assert_int_equal(tsr_chunk_grid_chunk_extent(tsr_array_chunks(a), 0, 0), 10);
  assert_int_equal(tsr_chunk_grid_chunk_extent(tsr_array_chunks(a), 1, 0), 6);
  tsr_array_destroy(&a);
  assert_ok(tsr_ctx_set_chunk_bytes(ctx, 4 * 10 * 6 * 8)); /* 2 x 2 file chunks */
  assert_ok(tsr_array_from_hdf5(ctx, path, "/x", NULL, &a));
  assert_int_equal(tsr_chunk_grid_chunk_extent(tsr_array_chunks(a), 0, 0), 20);
  assert_int_equal(tsr_chunk_grid_chunk_extent(tsr_array_chunks(a), 1, 0), 12);
  layout l = {2, {100, 60}, 6000};
  tsr_array_destroy(&a);
  read_back_and_compare(ctx, path, "/x", TSR_FLOAT64, &l, data, NULL);
  assert_ok(tsr_ctx_set_chunk_bytes(ctx, TSR_DEFAULT_CHUNK_BYTES));
  assert_ok(tsr_array_from_hdf5(ctx, path, "/x", NULL, &a)); /* whole array */
  assert_int_equal(tsr_chunk_grid_nchunks(tsr_array_chunks(a)), 1);
  tsr_array_destroy(&a);
  free(data);
  unlink(path);
}

/* The stored chunk shape of dataset `name` (HDF5 C API). */
static void stored_chunks(const char *path, const char *name, int nd, hsize_t *out) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
  hid_t dcpl = H5Dget_create_plist(d);
  assert_true(f >= 0 && d >= 0 && dcpl >= 0);
  assert_int_equal(H5Pget_chunk(dcpl, nd, out), nd);
  H5Pclose(dcpl);
  H5Dclose(d);
  H5Fclose(f);
}

/* Default stored chunks tile the shape: chunks [2000, 1] along an axis of
 * 2001 are stored as 2 x 1001 (not 2 x 2000, twice the data), while chunks
 * that tile within an eighth stay as they are. */
static void test_hdf5__stored_chunks_tile_the_shape(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "tile.h5");
  tsr_array *a = NULL, *b = NULL;
  assert_ok(
      tsr_array_full(ctx, TSR_FLOAT64, 2, (int64_t[]){100, 2001}, (int64_t[]){100, 2000}, 2.5, &a));
  assert_ok(tsr_array_full(ctx, TSR_FLOAT64, 1, (int64_t[]){1050}, (int64_t[]){100}, -1.0, &b));
  const char *names[2] = {"/a", "/b"};
  /* and per-dataset compression: /b deflated, /a not */
  tsr_hdf5_store_options o = {.mode = TSR_HDF5_OVERWRITE, .deflate_levels = (int[]){-1, 6}};
  assert_ok(tsr_store_hdf5(ctx, 2, (tsr_array *[]){a, b}, path, names, &o));
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  for (int i = 0; i < 2; i++) {
    hid_t d = H5Dopen2(f, names[i], H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d);
    assert_int_equal(H5Pget_nfilters(dcpl), i == 0 ? 0 : 1); /* deflate; no shuffle asked */
    H5Pclose(dcpl);
    H5Dclose(d);
  }
  H5Fclose(f);
  o.deflate_levels = (int[]){3, 10};
  assert_fails(tsr_store_hdf5(ctx, 2, (tsr_array *[]){a, b}, path, names, &o), TSR_EINVAL,
               "deflate_levels[1] = 10 for dataset '/b'");
  hsize_t ca[2], cb[1];
  stored_chunks(path, "/a", 2, ca);
  stored_chunks(path, "/b", 1, cb);
  assert_int_equal(ca[0], 100);
  assert_int_equal(ca[1], 1001);
  assert_int_equal(cb[0], 100);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_true(st.st_size < (off_t)((100 * 2001 + 1100) * 8 * 11 / 10));
  assert_int_equal(count_files(".tmp."), 0);
  double *got = malloc(100 * 2001 * sizeof *got);
  tsr_array *r = NULL;
  assert_ok(tsr_array_from_hdf5(ctx, path, "/a", NULL, &r));
  assert_ok(tsr_array_to_buffer(r, got, 100 * 2001 * sizeof *got));
  for (int i = 0; i < 100 * 2001; i++)
    assert_true(got[i] == 2.5);
  free(got);
  tsr_array_destroy(&r);
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  unlink(path);
}

/* Several arrays in one compute, sharing a node; append keeps other objects. */
static void test_hdf5__several_and_append(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "multi.h5");
  tsr_array *x = NULL, *y = NULL, *z = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_INT32, 0, 1000, 1, 64, &x));
  assert_ok(tsr_mul(x, x, &y));
  tsr_array *both[2] = {x, y};
  const char *names[2] = {"/a/x", "/a/y"};
  assert_ok(tsr_store_hdf5(ctx, 2, both, path, names, NULL));
  assert_int_equal(root_links(path), 1);
  /* Append /z; /a stays. */
  assert_ok(tsr_array_ones(ctx, TSR_UINT16, 1, (int64_t[]){77}, (int64_t[]){10}, &z));
  tsr_hdf5_store_options o = {.mode = TSR_HDF5_APPEND, .deflate_level = 3, .shuffle = true};
  const char *zname = "/b/z";
  assert_ok(tsr_store_hdf5(ctx, 1, &z, path, &zname, &o));
  assert_int_equal(root_links(path), 2);
  int32_t ex[1000];
  for (int i = 0; i < 1000; i++)
    ex[i] = i;
  layout l = {1, {1000}, 1000};
  read_back_and_compare(ctx, path, "/a/x", TSR_INT32, &l, ex, NULL);
  for (int i = 0; i < 1000; i++)
    ex[i] = i * i;
  read_back_and_compare(ctx, path, "/a/y", TSR_INT32, &l, ex, (int64_t[]){333});
  uint16_t ones[77];
  for (int i = 0; i < 77; i++)
    ones[i] = 1;
  layout lz = {1, {77}, 77};
  read_back_and_compare(ctx, path, "/b/z", TSR_UINT16, &lz, ones, NULL);
  /* Appending an existing name is refused; nothing changes. */
  assert_fails(tsr_store_hdf5(ctx, 1, &z, path, &zname, &o), TSR_EINVAL, "already exists");
  assert_int_equal(root_links(path), 2);
  /* Exclusive mode refuses an existing file. */
  o.mode = TSR_HDF5_EXCLUSIVE;
  assert_fails(tsr_store_hdf5(ctx, 1, &z, path, &zname, &o), TSR_EIO, path);
  /* Adding to a file an input reads works: the output is a new file put
   * in place, the input keeps reading the old one. */
  tsr_array *in = NULL;
  assert_ok(tsr_array_from_hdf5(ctx, path, "/a/x", NULL, &in));
  o.mode = TSR_HDF5_APPEND;
  const char *wname = "/w";
  assert_ok(tsr_store_hdf5(ctx, 1, &in, path, &wname, &o));
  tsr_array_destroy(&in);
  assert_int_equal(root_links(path), 3);
  for (int i = 0; i < 1000; i++)
    ex[i] = i;
  read_back_and_compare(ctx, path, "/w", TSR_INT32, &l, ex, NULL);
  /* Replace mode: a file with just /z. */
  o.mode = TSR_HDF5_REPLACE;
  assert_ok(tsr_store_hdf5(ctx, 1, &z, path, &zname, &o));
  assert_int_equal(root_links(path), 1);
  /* Bad arguments. */
  const char *dup[2] = {"/q", "q"};
  tsr_array *zz[2] = {z, z};
  assert_fails(tsr_store_hdf5(ctx, 2, zz, path, dup, NULL), TSR_EINVAL, "named twice");
  o.deflate_level = 10;
  assert_fails(tsr_store_hdf5(ctx, 1, &z, path, &zname, &o), TSR_EINVAL, "deflate_level");
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  tsr_array_destroy(&z);
  assert_int_equal(count_files(".tmp."), 0);
  unlink(path);
}

static void test_hdf5__missing_and_unsupported(void **state) {
  tsr_ctx *ctx = *state;
  char path[512], other[512];
  tsr_array *a = NULL;
  scratch(path, sizeof path, "nope.h5");
  assert_fails(tsr_array_from_hdf5(ctx, path, "/x", NULL, &a), TSR_EIO, path);
  assert_non_null(strstr(tsr_last_error(), "/x"));
  assert_non_null(strstr(tsr_last_error(), "No such file"));
  assert_null(a);
  /* Not an HDF5 file. */
  scratch(other, sizeof other, "text.h5");
  FILE *fp = fopen(other, "w");
  fputs("hello, not hdf5\n", fp);
  fclose(fp);
  assert_fails(tsr_array_from_hdf5(ctx, other, "/x", NULL, &a), TSR_EIO, "not an HDF5 file");
  unlink(other);
  /* Missing dataset. */
  double v = 1;
  c_write(path, "/x", TSR_FLOAT64, false, 0, NULL, NULL, 0, false, false, 0, &v);
  assert_fails(tsr_array_from_hdf5(ctx, path, "/nothere", NULL, &a), TSR_EIO, "/nothere");
  assert_non_null(strstr(tsr_last_error(), path));
  /* Compound and string datasets. */
  hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t space = H5Screate_simple(1, (hsize_t[]){4}, NULL);
  hid_t ct = H5Tcreate(H5T_COMPOUND, 12);
  H5Tinsert(ct, "a", 0, H5T_NATIVE_INT32);
  H5Tinsert(ct, "b", 4, H5T_NATIVE_DOUBLE);
  hid_t d = H5Dcreate2(f, "/compound", ct, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d);
  hid_t st = H5Tcopy(H5T_C_S1);
  H5Tset_size(st, 8);
  d = H5Dcreate2(f, "/string", st, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d);
  hid_t vt = H5Tcopy(H5T_C_S1);
  H5Tset_size(vt, H5T_VARIABLE);
  d = H5Dcreate2(f, "/vstring", vt, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d);
  hid_t ht = H5Tcopy(H5T_IEEE_F32LE); /* a 2-byte float: not a tessera dtype */
  H5Tset_fields(ht, 15, 10, 5, 0, 10);
  H5Tset_size(ht, 2);
  H5Tset_ebias(ht, 15);
  d = H5Dcreate2(f, "/half", ht, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dclose(d);
  H5Tclose(ht);
  H5Tclose(vt);
  H5Tclose(st);
  H5Tclose(ct);
  H5Sclose(space);
  H5Fclose(f);
  assert_fails(tsr_array_from_hdf5(ctx, path, "/compound", NULL, &a), TSR_EDTYPE, "compound");
  assert_non_null(strstr(tsr_last_error(), path));
  assert_fails(tsr_array_from_hdf5(ctx, path, "/string", NULL, &a), TSR_EDTYPE, "string");
  assert_non_null(strstr(tsr_last_error(), "'/string'"));
  assert_fails(tsr_array_from_hdf5(ctx, path, "/vstring", NULL, &a), TSR_EDTYPE, "string");
  assert_fails(tsr_array_from_hdf5(ctx, path, "/half", NULL, &a), TSR_EDTYPE, "float");
  /* Arguments. */
  assert_fails(tsr_array_from_hdf5(ctx, path, "", NULL, &a), TSR_EINVAL, "dataset");
  assert_fails(tsr_array_from_hdf5(ctx, NULL, "/x", NULL, &a), TSR_EINVAL, "path");
  assert_fails(tsr_array_from_hdf5(ctx, path, "/x", NULL, NULL), TSR_EINVAL, "out");
  assert_fails(tsr_array_from_hdf5(ctx, scratch_dir, "/x", NULL, &a), TSR_EIO, "directory");
  unlink(path);
}

/* Writes a compressed dataset of n float64 values, one chunk per 1000. */
static void write_sample(tsr_ctx *ctx, const char *path, int64_t n) {
  tsr_array *a = NULL;
  assert_ok(tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 7, 1, &n, (int64_t[]){1000}, &a));
  tsr_hdf5_store_options o = {.deflate_level = 1, .shuffle = true, .mode = TSR_HDF5_REPLACE};
  const char *name = "/x";
  assert_ok(tsr_store_hdf5(ctx, 1, &a, path, &name, &o));
  tsr_array_destroy(&a);
}

static tsr_status compute_sum(tsr_ctx *ctx, const char *path, double *out) {
  tsr_array *a = NULL, *s = NULL;
  tsr_status st = tsr_array_from_hdf5(ctx, path, "/x", NULL, &a);
  if (st == TSR_OK)
    st = tsr_sum(a, NULL, 0, false, &s);
  if (st == TSR_OK)
    st = tsr_array_to_buffer(s, out, sizeof *out);
  tsr_array_destroy(&a);
  tsr_array_destroy(&s);
  return st;
}

static void test_hdf5__truncated_and_corrupted(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "damaged.h5");
  double sum;
  /* Truncated: half the file is gone. */
  write_sample(ctx, path, 20000);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(truncate(path, st.st_size / 2), 0);
  tsr_status s = compute_sum(ctx, path, &sum);
  assert_int_equal(s, TSR_EIO);
  assert_non_null(strstr(tsr_last_error(), path));
  assert_non_null(strstr(tsr_last_error(), "/x"));
  /* Corrupted: bytes inside a compressed chunk overwritten. */
  write_sample(ctx, path, 20000);
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t d = H5Dopen2(f, "/x", H5P_DEFAULT);
  hsize_t off[1] = {5000};
  haddr_t addr = 0;
  hsize_t size = 0;
  unsigned mask = 0;
  assert_true(H5Dget_chunk_info_by_coord(d, off, &mask, &addr, &size) >= 0);
  H5Dclose(d);
  H5Fclose(f);
  FILE *fp = fopen(path, "r+b");
  assert_non_null(fp);
  fseek(fp, (long)(addr + size / 2), SEEK_SET);
  for (int i = 0; i < 16; i++)
    fputc(0x5a ^ i, fp);
  fclose(fp);
  s = compute_sum(ctx, path, &sum);
  assert_int_equal(s, TSR_EIO);
  assert_non_null(strstr(tsr_last_error(), "corrupt"));
  assert_non_null(strstr(tsr_last_error(), "(5000)"));
  assert_non_null(strstr(tsr_last_error(), path));
  /* A failing input makes a failed store: no output, the old file intact. */
  char out[512];
  scratch(out, sizeof out, "out.h5");
  write_sample(ctx, out, 300);
  tsr_array *a = NULL;
  assert_ok(tsr_array_from_hdf5(ctx, path, "/x", NULL, &a));
  const char *name = "/copy";
  assert_fails(tsr_store_hdf5(ctx, 1, &a, out, &name, NULL), TSR_EIO, "corrupt");
  tsr_hdf5_store_options o = {.mode = TSR_HDF5_APPEND, .deflate_level = 2};
  assert_fails(tsr_store_hdf5(ctx, 1, &a, out, &name, &o), TSR_EIO, "corrupt");
  tsr_array_destroy(&a);
  assert_int_equal(root_links(out), 1); /* just /x: no /copy, no temporary link */
  assert_ok(compute_sum(ctx, out, &sum));
  assert_int_equal(count_files(".tmp."), 0);
  unlink(out);
  unlink(path);
}

static void test_hdf5__unwritable_directory(void **state) {
  tsr_ctx *ctx = *state;
  char file[512], path[600];
  scratch(file, sizeof file, "regular");
  FILE *fp = fopen(file, "w");
  fclose(fp);
  snprintf(path, sizeof path, "%s/sub/out.h5", file); /* fails for root too */
  tsr_array *a = NULL;
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT32, 2, (int64_t[]){10, 10}, NULL, &a));
  const char *name = "/x";
  assert_fails(tsr_store_hdf5(ctx, 1, &a, path, &name, NULL), TSR_EIO, path);
  assert_non_null(strstr(tsr_last_error(), "Not a directory"));
  tsr_hdf5_store_options o = {.mode = TSR_HDF5_APPEND};
  assert_fails(tsr_store_hdf5(ctx, 1, &a, path, &name, &o), TSR_EIO, path);
  assert_fails(tsr_store_hdf5(ctx, 1, &a, scratch_dir, &name, NULL), TSR_EIO, "directory");
  tsr_array_destroy(&a);
  unlink(file);
  assert_int_equal(count_files(""), 0);
}

/* A full disk: the child may write 256 KiB per file (RLIMIT_FSIZE, with
 * SIGXFSZ ignored so writes fail with EFBIG).  It reports through its exit
 * code: 0 when every store failed cleanly with nothing left behind. */
static void test_hdf5__full_disk(void **state) {
  (void)state;
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    tsr_ctx *ctx = NULL;
    /* libgomp's thread pool does not survive fork: run serially. */
    if (tsr_ctx_create(&ctx) != TSR_OK || tsr_ctx_set_executor(ctx, TSR_EXECUTOR_SERIAL) != TSR_OK)
      _exit(10);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {256 << 10, 256 << 10};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
      _exit(11);
    char path[512];
    scratch(path, sizeof path, "full.h5");
    for (int level = 0; level <= 1; level++) {
      tsr_array *a = NULL;
      int64_t shape[2] = {400, 1000};
      if (tsr_array_random(ctx, TSR_RANDOM_NORMAL, 3, 2, shape, (int64_t[]){50, 1000}, &a) !=
          TSR_OK)
        _exit(12);
      tsr_hdf5_store_options o = {.deflate_level = level};
      const char *name = "/big";
      tsr_status s = tsr_store_hdf5(ctx, 1, &a, path, &name, &o);
      tsr_array_destroy(&a);
      if (s != TSR_EIO)
        _exit(13);
      if (strstr(tsr_last_error(), path) == NULL || strstr(tsr_last_error(), "/big") == NULL) {
        fprintf(stderr, "message: %s\n", tsr_last_error());
        _exit(14);
      }
      if (count_files("") != 0)
        _exit(15);
    }
    tsr_memory_stats m;
    if (tsr_ctx_memory_stats(ctx, &m) != TSR_OK || m.current_bytes != 0)
      _exit(16);
    tsr_ctx_destroy(&ctx);
    _exit(0);
  }
  int wstatus = 0;
  assert_int_equal(waitpid(pid, &wstatus, 0), pid);
  assert_true(WIFEXITED(wstatus));
  assert_int_equal(WEXITSTATUS(wstatus), 0);
  assert_int_equal(count_files(""), 0);
}

/* Every allocation along a read and a store fails in turn: ENOMEM, no leak,
 * no temporary file. */
static void test_hdf5__allocation_failures(void **state) {
  tsr_ctx *ctx = *state;
  char in[512], out[512];
  scratch(in, sizeof in, "oom-in.h5");
  scratch(out, sizeof out, "oom-out.h5");
  write_sample(ctx, in, 3000);
  assert_ok(tsr_ctx_set_threads(ctx, 2));
  bool done = false;
  for (uint64_t n = 1; !done && n < 2000; n++) {
    tsr_memory_stats before;
    assert_ok(tsr_ctx_memory_stats(ctx, &before));
    assert_ok(tsr_ctx_set_fail_allocation(ctx, n));
    tsr_array *a = NULL, *b = NULL;
    tsr_status s = tsr_array_from_hdf5(ctx, in, "/x", (int64_t[]){700}, &a);
    if (s == TSR_OK)
      s = tsr_binary_scalar(TSR_OP_MUL, a, 2.0, &b);
    if (s == TSR_OK) {
      tsr_hdf5_store_options o = {.deflate_level = 1, .shuffle = true, .mode = TSR_HDF5_EXCLUSIVE};
      const char *name = "/y";
      s = tsr_store_hdf5(ctx, 1, &b, out, &name, &o);
    }
    tsr_array_destroy(&a);
    tsr_array_destroy(&b);
    if (s == TSR_OK) {
      done = true;
    } else {
      if (s != TSR_ENOMEM)
        print_error("n = %llu: %s\n", (unsigned long long)n, tsr_last_error());
      assert_int_equal(s, TSR_ENOMEM);
      assert_int_equal(count_files("oom-out"), 0);
    }
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    tsr_memory_stats after;
    assert_ok(tsr_ctx_memory_stats(ctx, &after));
    assert_int_equal(after.current_bytes, before.current_bytes);
  }
  assert_true(done);
  unlink(in);
  unlink(out);
}

/* Writes dataset `name` (n int64 values k, k+1, ...) into `path` from a
 * forked child; exit 0 stored, 1 refused saying another process did it,
 * other codes unexpected. */
static int child_store(const char *path, const char *name, int64_t k) {
  tsr_ctx *ctx = NULL;
  if (tsr_ctx_create(&ctx) != TSR_OK || tsr_ctx_set_executor(ctx, TSR_EXECUTOR_SERIAL) != TSR_OK)
    return 10;
  tsr_array *a = NULL;
  if (tsr_array_arange(ctx, TSR_INT64, (double)k, (double)k + 200000, 1, 1000, &a) != TSR_OK)
    return 11;
  tsr_status s = tsr_store_hdf5(ctx, 1, &a, path, &name, NULL);
  tsr_array_destroy(&a);
  tsr_ctx_destroy(&ctx);
  if (s == TSR_OK)
    return 0;
  return s == TSR_EIO && strstr(tsr_last_error(), "another process") != NULL ? 1 : 12;
}

static int64_t sum_of(tsr_ctx *ctx, const char *path, const char *name) {
  tsr_array *a = NULL, *t = NULL;
  assert_ok(tsr_array_from_hdf5(ctx, path, name, NULL, &a));
  assert_ok(tsr_sum(a, NULL, 0, false, &t));
  int64_t v = 0;
  assert_ok(tsr_array_to_buffer(t, &v, sizeof v));
  tsr_array_destroy(&t);
  tsr_array_destroy(&a);
  return v;
}

/* Two processes add different datasets to the same new file at once: each
 * dataset whose writer reported success is in the file with its values;
 * a writer that lost the race says so.  Never a silent loss. */
static void test_hdf5__concurrent_writers(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "conc.h5");
  int stored = 0;
  for (int round = 0; round < 4; round++) {
    unlink(path);
    pid_t pid[2];
    for (int c = 0; c < 2; c++) {
      pid[c] = fork();
      assert_true(pid[c] >= 0);
      if (pid[c] == 0)
        _exit(child_store(path, c ? "/b" : "/a", c ? 1000 : 0));
    }
    int rc[2];
    for (int c = 0; c < 2; c++) {
      int ws = 0;
      assert_int_equal(waitpid(pid[c], &ws, 0), pid[c]);
      assert_true(WIFEXITED(ws));
      rc[c] = WEXITSTATUS(ws);
      assert_true(rc[c] == 0 || rc[c] == 1);
    }
    assert_true(rc[0] == 0 || rc[1] == 0);
    /* sum of k .. k+199999 */
    if (rc[0] == 0)
      assert_int_equal(sum_of(ctx, path, "/a"), 199999LL * 200000 / 2);
    if (rc[1] == 0)
      assert_int_equal(sum_of(ctx, path, "/b"), 199999LL * 200000 / 2 + 1000LL * 200000);
    stored += (rc[0] == 0) + (rc[1] == 0);
    assert_int_equal(root_links(path), (rc[0] == 0) + (rc[1] == 0));
    assert_int_equal(count_files(".tmp."), 0);
  }
  assert_true(stored >= 4);
  unlink(path);
}

/* The default adds; the overwrite mode replaces the one dataset named; the
 * file keeps its mode; a trace or graph over the output is refused. */
static void test_hdf5__overwrite_and_mode(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "ow.h5");
  tsr_array *x = NULL, *y = NULL, *z = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_INT64, 0, 4, 1, 0, &x));
  assert_ok(tsr_array_arange(ctx, TSR_INT64, 10, 13, 1, 0, &y));
  assert_ok(tsr_array_ones(ctx, TSR_INT64, 1, (int64_t[]){5}, NULL, &z));
  const char *xn = "/x", *yn = "/g/y", *gn = "/g";
  assert_ok(tsr_store_hdf5(ctx, 1, &x, path, &xn, NULL));
  assert_int_equal(chmod(path, 0600), 0);
  assert_ok(tsr_store_hdf5(ctx, 1, &y, path, &yn, NULL));
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  assert_int_equal(sum_of(ctx, path, "/x"), 6);
  assert_int_equal(sum_of(ctx, path, "/g/y"), 33);
  /* The default refuses an existing name; the overwrite mode replaces it
   * and nothing else; a group is never replaced. */
  assert_fails(tsr_store_hdf5(ctx, 1, &z, path, &xn, NULL), TSR_EINVAL, "already exists");
  tsr_hdf5_store_options o = {.mode = TSR_HDF5_OVERWRITE};
  assert_ok(tsr_store_hdf5(ctx, 1, &z, path, &xn, &o));
  assert_int_equal(sum_of(ctx, path, "/x"), 5);
  assert_int_equal(sum_of(ctx, path, "/g/y"), 33);
  assert_fails(tsr_store_hdf5(ctx, 1, &z, path, &gn, &o), TSR_EINVAL, "not a dataset");
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  /* Whole-file replacement is asked for by name, and keeps the mode. */
  o.mode = TSR_HDF5_REPLACE;
  assert_ok(tsr_store_hdf5(ctx, 1, &y, path, &yn, &o));
  assert_int_equal(root_links(path), 1);
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 07777, 0600);
  /* A trace or graph file that is the output file. */
  tsr_compute_options co = {0};
  co.dot_path = path;
  o.mode = TSR_HDF5_OVERWRITE;
  o.compute = &co;
  assert_fails(tsr_store_hdf5(ctx, 1, &y, path, &yn, &o), TSR_EINVAL, "graph");
  co.dot_path = NULL;
  co.run.trace_path = path;
  assert_fails(tsr_store_hdf5(ctx, 1, &y, path, &yn, &o), TSR_EINVAL, "trace");
  assert_int_equal(root_links(path), 1);
  assert_int_equal(count_files(".tmp."), 0);
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  tsr_array_destroy(&z);
  unlink(path);
}

static int remove_temporaries_once(uint64_t done, uint64_t total, void *user) {
  (void)done, (void)total;
  int *calls = user;
  if ((*calls)++ == 0) {
    /* Mid-run: what a signal handler does.  Every temporary file is gone. */
    tsr_temp_files_remove();
    assert_int_equal(count_files(".tmp."), 0);
  }
  return 0;
}

/* tsr_temp_files_remove during a store (new file, and adding to an existing
 * one): the temporary file disappears at once, the store then fails naming
 * the file, and the destination is absent or unchanged. */
/* Attributes: written by the store, read back exactly; bad ones refused
 * before anything is written; missing files and objects named. */
static void test_hdf5__attributes(void **state) {
  tsr_ctx *ctx = *state;
  char path[512];
  scratch(path, sizeof path, "attrs.h5");
  tsr_array *a = NULL, *b = NULL;
  assert_ok(tsr_array_ones(ctx, TSR_INT32, 2, (int64_t[]){4, 6}, (int64_t[]){2, 3}, &a));
  assert_ok(tsr_array_zeros(ctx, TSR_FLOAT32, 1, (int64_t[]){3}, NULL, &b));
  tsr_array *arrays[2] = {a, b};
  const char *names[2] = {"x", "grp/y"};
  const tsr_attr xa[] = {{.name = "description", .type = TSR_ATTR_STRING, .string = "ones"},
                         {.name = "nan", .type = TSR_ATTR_FLOAT64, .f64 = NAN},
                         {.name = "max", .type = TSR_ATTR_INT64, .i64 = INT64_MAX}};
  const tsr_attr *per[2] = {xa, NULL};
  size_t n_per[2] = {3, 0};
  tsr_hdf5_store_options so = {.attributes = per, .n_attributes = n_per};
  assert_ok(tsr_store_hdf5(ctx, 2, arrays, path, names, &so));
  tsr_attr *got = NULL;
  size_t n = 99;
  assert_ok(tsr_hdf5_attrs_read(ctx, path, "x", &got, &n));
  assert_int_equal(n, 3);
  assert_string_equal(got[0].name, "description");
  assert_string_equal(got[0].string, "ones");
  assert_true(got[1].type == TSR_ATTR_INT64 && got[1].i64 == INT64_MAX);
  assert_true(got[2].type == TSR_ATTR_FLOAT64 && isnan(got[2].f64));
  tsr_hdf5_attrs_free(ctx, &got, n);
  assert_ok(tsr_hdf5_attrs_read(ctx, path, "/grp/y", &got, &n));
  assert_int_equal(n, 0);
  /* Which file and dataset an array reads (eval's attr() looks there). */
  tsr_array *r = NULL, *rc = NULL, *part = NULL, *twice = NULL;
  const char *src_path = NULL, *src_dset = NULL;
  assert_ok(tsr_array_from_hdf5(ctx, path, "x", NULL, &r));
  assert_true(tsr_array_hdf5_source(r, &src_path, &src_dset));
  assert_string_equal(src_path, path);
  assert_string_equal(src_dset, "x");
  assert_ok(tsr_array_from_hdf5(ctx, path, "x", (int64_t[]){1, 6}, &rc));
  assert_true(tsr_array_hdf5_source(rc, NULL, NULL));
  assert_ok(tsr_slice(r, 1, (tsr_index[]){TSR_SLICE(1, 3, 1)}, &part));
  assert_false(tsr_array_hdf5_source(part, NULL, NULL));
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, r, 2.0, &twice));
  assert_false(tsr_array_hdf5_source(twice, NULL, NULL));
  assert_false(tsr_array_hdf5_source(a, NULL, NULL));
  tsr_array_destroy(&r);
  tsr_array_destroy(&rc);
  tsr_array_destroy(&part);
  tsr_array_destroy(&twice);
  /* Bad attributes: refused, the file untouched (a new dataset would be added). */
  struct stat before, after;
  assert_int_equal(stat(path, &before), 0);
  const char *z = "z";
  const tsr_attr dup[] = {{.name = "u", .type = TSR_ATTR_INT64},
                          {.name = "u", .type = TSR_ATTR_INT64}};
  const tsr_attr noname[] = {{.name = "", .type = TSR_ATTR_INT64}};
  const tsr_attr nulltext[] = {{.name = "s", .type = TSR_ATTR_STRING, .string = NULL}};
  const tsr_attr other[] = {{.name = "o", .type = TSR_ATTR_OTHER, .string = "x"}};
  const tsr_attr *bad[4] = {dup, noname, nulltext, other};
  const size_t nbad[4] = {2, 1, 1, 1};
  const char *why[4] = {"given twice", "has no name", "text is NULL", "cannot be written"};
  for (int k = 0; k < 4; k++) {
    const tsr_attr *one[1] = {bad[k]};
    size_t n_one[1] = {nbad[k]};
    tsr_hdf5_store_options bo = {.attributes = one, .n_attributes = n_one};
    assert_fails(tsr_store_hdf5(ctx, 1, &b, path, &z, &bo), TSR_EINVAL, why[k]);
    assert_non_null(strstr(tsr_last_error(), "'z'"));
  }
  size_t one_attr[1] = {1};
  tsr_hdf5_store_options nulls = {.attributes = (const tsr_attr *const[]){NULL},
                                  .n_attributes = one_attr};
  assert_fails(tsr_store_hdf5(ctx, 1, &b, path, &z, &nulls), TSR_EINVAL, "attributes[0] is NULL");
  assert_int_equal(stat(path, &after), 0);
  assert_true(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
              before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
  /* Reading: a missing object, a missing file, not HDF5. */
  assert_fails(tsr_hdf5_attrs_read(ctx, path, "/nope", &got, &n), TSR_EIO, "no object '/nope'");
  assert_null(got);
  assert_int_equal(n, 0);
  char missing[512];
  scratch(missing, sizeof missing, "missing.h5");
  assert_fails(tsr_hdf5_attrs_read(ctx, missing, "/", &got, &n), TSR_EIO, "missing.h5");
  assert_fails(tsr_hdf5_attrs_read(ctx, path, "/", NULL, &n), TSR_EINVAL, "NULL");
  tsr_array_destroy(&a);
  tsr_array_destroy(&b);
  unlink(path);
}

static void test_hdf5__temp_files_remove(void **state) {
  tsr_ctx *ctx = *state;
  assert_ok(tsr_ctx_set_executor(ctx, TSR_EXECUTOR_SERIAL)); /* the callback asserts */
  char path[512];
  scratch(path, sizeof path, "rm.h5");
  tsr_array *a = NULL;
  assert_ok(tsr_array_arange(ctx, TSR_INT64, 0, 200000, 1, 1000, &a));
  int calls = 0;
  tsr_compute_options co = {0};
  co.run.progress = remove_temporaries_once;
  co.run.progress_user = &calls;
  co.run.progress_interval = 1e-9;
  tsr_hdf5_store_options o = {.compute = &co};
  const char *name = "/x", *other = "/y";
  assert_fails(tsr_store_hdf5(ctx, 1, &a, path, &name, &o), TSR_EIO, path);
  assert_true(calls > 0);
  assert_int_equal(access(path, F_OK), -1);
  assert_int_equal(count_files(""), 0);
  /* An existing file: unchanged. */
  assert_ok(tsr_store_hdf5(ctx, 1, &a, path, &other, NULL));
  struct stat before, after;
  assert_int_equal(stat(path, &before), 0);
  calls = 0;
  assert_fails(tsr_store_hdf5(ctx, 1, &a, path, &name, &o), TSR_EIO, path);
  assert_true(calls > 0);
  assert_int_equal(stat(path, &after), 0);
  assert_int_equal(before.st_ino, after.st_ino);
  assert_int_equal(before.st_size, after.st_size);
  assert_int_equal(root_links(path), 1);
  assert_int_equal(count_files(".tmp."), 0);
  /* Afterwards the registry works as before. */
  assert_ok(tsr_store_hdf5(ctx, 1, &a, path, &name, NULL));
  assert_int_equal(root_links(path), 2);
  tsr_array_destroy(&a);
  unlink(path);
}

int main(void) {
  make_scratch_dir("hdf5");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hdf5__store_round_trip, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__read_c_api_files, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__stored_chunks_tile_the_shape, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__default_chunks, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__several_and_append, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__missing_and_unsupported, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__truncated_and_corrupted, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__unwritable_directory, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__full_disk, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__concurrent_writers, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__overwrite_and_mode, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__attributes, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__temp_files_remove, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5__allocation_failures, test_ctx_setup,
                                      test_ctx_teardown),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  remove_scratch_dir();
  return failed;
}
