/* hdf5_test_util.h — what the HDF5 tests share: a scratch directory per
 * process, random data of every dtype, checks that a directory holds
 * exactly the expected files (no temporary leftovers), and a reference
 * writer that uses the HDF5 C API directly (so files of every layout, byte
 * order and type class exist independently of tsr_store_hdf5). */
#ifndef TSR_HDF5_TEST_UTIL_H
#define TSR_HDF5_TEST_UTIL_H

#include "test_util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <hdf5.h>

static char scratch_dir[256];

static uint64_t rng_state = 0x5eed1234;
static inline uint64_t next_rand(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline void make_scratch_dir(const char *tag) {
  const char *tmp = getenv("TMPDIR");
  snprintf(scratch_dir, sizeof scratch_dir, "%s/tessera-%s-XXXXXX", tmp && tmp[0] ? tmp : "/tmp",
           tag);
  if (mkdtemp(scratch_dir) == NULL) {
    perror("mkdtemp");
    exit(1);
  }
}

static inline void remove_scratch_dir(void) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch_dir);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", scratch_dir);
}

static inline const char *scratch(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s", scratch_dir, name);
  return buf;
}

/* Number of entries in the scratch directory whose name contains `needle`
 * ("" counts all). */
static inline int count_files(const char *needle) {
  DIR *dir = opendir(scratch_dir);
  int n = 0;
  struct dirent *e;
  while (dir != NULL && (e = readdir(dir)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 && strstr(e->d_name, needle))
      n++;
  if (dir != NULL)
    closedir(dir);
  return n;
}

/* Random values of dtype: any bytes for integers, 0/1 for bool, finite
 * values for floats. */
static inline void fill_random(tsr_dtype dtype, int64_t n, void *out) {
  size_t isz = tsr_dtype_size(dtype);
  unsigned char *p = out;
  for (int64_t i = 0; i < n; i++) {
    uint64_t r = next_rand();
    if (dtype == TSR_BOOL) {
      p[i] = (unsigned char)(r & 1);
    } else if (dtype == TSR_FLOAT32) {
      float v = (float)((double)(int64_t)(r >> 11) / 1e9);
      memcpy(p + 4 * i, &v, 4);
    } else if (dtype == TSR_FLOAT64) {
      double v = (double)(int64_t)r / 3e9;
      memcpy(p + 8 * i, &v, 8);
    } else {
      memcpy(p + (size_t)i * isz, &r, isz);
    }
  }
}

static inline hid_t test_file_type(tsr_dtype dtype, bool big_endian) {
  static const hid_t *le[] = {NULL,
                              &H5T_STD_I8LE_g,
                              &H5T_STD_I16LE_g,
                              &H5T_STD_I32LE_g,
                              &H5T_STD_I64LE_g,
                              &H5T_STD_U8LE_g,
                              &H5T_STD_U16LE_g,
                              &H5T_STD_U32LE_g,
                              &H5T_STD_U64LE_g,
                              &H5T_IEEE_F32LE_g,
                              &H5T_IEEE_F64LE_g};
  static const hid_t *be[] = {NULL,
                              &H5T_STD_I8BE_g,
                              &H5T_STD_I16BE_g,
                              &H5T_STD_I32BE_g,
                              &H5T_STD_I64BE_g,
                              &H5T_STD_U8BE_g,
                              &H5T_STD_U16BE_g,
                              &H5T_STD_U32BE_g,
                              &H5T_STD_U64BE_g,
                              &H5T_IEEE_F32BE_g,
                              &H5T_IEEE_F64BE_g};
  H5open();
  if (dtype == TSR_BOOL) {
    hid_t t = H5Tenum_create(H5T_STD_I8LE);
    int8_t v = 0;
    H5Tenum_insert(t, "FALSE", &v);
    v = 1;
    H5Tenum_insert(t, "TRUE", &v);
    return t;
  }
  return H5Tcopy(*(big_endian ? be : le)[dtype]);
}

static inline hid_t test_mem_type(tsr_dtype dtype) {
  static const hid_t *nat[] = {&H5T_NATIVE_UINT8_g,  &H5T_NATIVE_INT8_g,   &H5T_NATIVE_INT16_g,
                               &H5T_NATIVE_INT32_g,  &H5T_NATIVE_INT64_g,  &H5T_NATIVE_UINT8_g,
                               &H5T_NATIVE_UINT16_g, &H5T_NATIVE_UINT32_g, &H5T_NATIVE_UINT64_g,
                               &H5T_NATIVE_FLOAT_g,  &H5T_NATIVE_DOUBLE_g};
  H5open();
  if (dtype == TSR_BOOL) {
    hid_t t = H5Tenum_create(H5T_NATIVE_INT8);
    int8_t v = 0;
    H5Tenum_insert(t, "FALSE", &v);
    v = 1;
    H5Tenum_insert(t, "TRUE", &v);
    return t;
  }
  return H5Tcopy(*nat[dtype]);
}

/* Writes `data` (C order, dtype) as dataset `name` of a new file `path`
 * with the C API: contiguous when chunk is NULL (a scalar for ndim 0), else
 * chunked with the given deflate level, shuffle and fletcher32; after a
 * user block of user_block bytes (0: none; else a power of 2 from 512). */
static inline void c_write(const char *path, const char *name, tsr_dtype dtype, bool big_endian,
                           int ndim, const int64_t *shape, const int64_t *chunk, int level,
                           bool shuffle, bool fletcher, unsigned user_block, const void *data) {
  hsize_t dims[32], cdims[32];
  for (int a = 0; a < ndim; a++) {
    dims[a] = (hsize_t)shape[a];
    cdims[a] = chunk ? (hsize_t)chunk[a] : 0;
  }
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE); /* a user block shifts every address */
  assert_true(user_block == 0 || H5Pset_userblock(fcpl, user_block) >= 0);
  hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose(fcpl);
  assert_true(f >= 0);
  hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
  hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
  if (chunk != NULL) {
    assert_true(H5Pset_chunk(dcpl, ndim, cdims) >= 0);
    if (fletcher)
      H5Pset_fletcher32(dcpl);
    if (shuffle)
      H5Pset_shuffle(dcpl);
    if (level > 0)
      H5Pset_deflate(dcpl, (unsigned)level);
  }
  hid_t ft = test_file_type(dtype, big_endian), mt = test_mem_type(dtype);
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
  H5Pset_create_intermediate_group(lcpl, 1);
  hid_t d = H5Dcreate2(f, name, ft, space, lcpl, dcpl, H5P_DEFAULT);
  assert_true(d >= 0);
  assert_true(H5Dwrite(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
  H5Dclose(d);
  H5Tclose(ft);
  H5Tclose(mt);
  H5Pclose(lcpl);
  H5Pclose(dcpl);
  H5Sclose(space);
  assert_true(H5Fclose(f) >= 0);
}

/* Number of links in the root group of `path` (-1 if it cannot be read). */
static inline long root_links(const char *path) {
  hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0)
    return -1;
  H5G_info_t info;
  long n = H5Gget_info(f, &info) >= 0 ? (long)info.nlinks : -1;
  H5Fclose(f);
  return n;
}

#endif /* TSR_HDF5_TEST_UTIL_H */
