/* test_hdf5_table_bytes.c — an HDF5 table's file depends on its content
 * alone: written with 1 or 4 threads (any order of the units), at another
 * time, in each string layout, with and without deflate + shuffle, the
 * file is the same byte for byte (what makes the file written by several
 * MPI ranks comparable with one rank's, tests/dist/test_dist_hdf5_table.c).
 * A unit failing while the others wait for their turn (a NUL byte in a
 * variable-length string, an allocation) makes the write fail with that
 * error, leaves no file, and does not hang. */
#include <dirent.h>
#include <string.h>

#include "frame_util.h"
#include "scratch_dir.h"

/* One allocation in FAIL_STEP fails in turn (failing_unit); one in 29 under
 * the sanitizers, which CI also runs and which make each write ~13x slower
 * (100 s of the sanitized suite with one in 7). */
#if defined(__SANITIZE_ADDRESS__)
#define FAIL_STEP 29
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FAIL_STEP 29
#endif
#endif
#ifndef FAIL_STEP
#define FAIL_STEP 7
#endif

static char *slurp(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  fseek(fp, 0, SEEK_END);
  long size = ftell(fp);
  fseek(fp, 0, SEEK_SET);
  char *buf = malloc((size_t)size + 1);
  assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
  fclose(fp);
  *n = (size_t)size;
  return buf;
}

static int dir_entries(void) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

static void write_with_threads(tsr_ctx *ctx, const ref_frame *ref, int threads,
                               const tsr_frame_hdf5_options *opt, const char *path) {
  tsr_frame *f = NULL;
  assert_ok(tsr_ctx_set_threads(ctx, threads));
  assert_ok(ref_frame_to_frame(ctx, ref, 64, 3, &f));
  assert_ok(tsr_frame_write_hdf5(f, path, "/t", opt));
  tsr_frame_destroy(&f);
}

static void test_hdf5_table_bytes__any_threads(void **state) {
  tsr_ctx *ctx = *state;
  ref_frame ref;
  ref_frame_random(&ref, TSR_NUM_COLTYPES, fu_types, 5000, 10, 2024);
  const tsr_frame_hdf5_options opts[4] = {
      {.chunk_rows = 50},
      {.chunk_rows = 50, .strings = TSR_HDF5_STRINGS_OFFSETS},
      {.chunk_rows = 50, .deflate_level = 1, .shuffle = true},
      {.chunk_rows = 50, .deflate_level = 6, .strings = TSR_HDF5_STRINGS_OFFSETS},
  };
  for (int k = 0; k < 4; k++) {
    char p1[400], p4[400];
    snprintf(p1, sizeof p1, "%s/one_%d.h5", dir, k);
    snprintf(p4, sizeof p4, "%s/four_%d.h5", dir, k);
    write_with_threads(ctx, &ref, 1, &opts[k], p1);
    sleep(1); /* a modification time in the file would differ */
    write_with_threads(ctx, &ref, 4, &opts[k], p4);
    size_t n1, n4;
    char *b1 = slurp(p1, &n1), *b4 = slurp(p4, &n4);
    assert_true(n1 > 10000);
    assert_int_equal(n1, n4);
    assert_memory_equal(b1, b4, n1);
    free(b1);
    free(b4);
    /* and it is the frame */
    tsr_frame *g = NULL;
    assert_ok(tsr_frame_read_hdf5(ctx, p4, "/t", NULL, &g));
    ref_frame got;
    ref_frame_compute(g, &got);
    ref_frame_assert_equal(&ref, &got);
    ref_frame_free(&got);
    tsr_frame_destroy(&g);
    unlink(p1);
    unlink(p4);
  }
  ref_frame_free(&ref);
}

/* A NUL byte in a row of the middle of a string column (variable-length
 * strings, so the units are written in order): TSR_EINVAL naming the row,
 * with 4 threads, no file left. */
static void test_hdf5_table_bytes__failing_unit(void **state) {
  tsr_ctx *ctx = *state;
  assert_ok(tsr_ctx_set_threads(ctx, 4));
  enum { N = 4000 };
  static char text[N * 4];
  static int64_t offs[N + 1];
  static double x[N];
  for (int i = 0; i < N; i++) {
    memcpy(text + 4 * i, "ab", 2);
    text[4 * i + 2] = (char)('a' + i % 26);
    text[4 * i + 3] = i == 2345 ? '\0' : 'z';
    offs[i + 1] = 4 * (i + 1);
    x[i] = i * 0.5;
  }
  tsr_column_data cd[2] = {
      {.name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = N, .values = x},
      {.name = "s", .type = {TSR_COL_STRING, 0}, .length = N, .offsets = offs, .data = text},
  };
  tsr_frame *f = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, cd, 100, TSR_BUFFER_BORROW, NULL, NULL, &f));
  char path[400];
  snprintf(path, sizeof path, "%s/nul.h5", dir);
  for (int level = 0; level <= 1; level++) {
    tsr_frame_hdf5_options opt = {.chunk_rows = 16, .deflate_level = level};
    assert_fails(tsr_frame_write_hdf5(f, path, "/t", &opt), TSR_EINVAL, "row 2345 holds a NUL");
    assert_int_equal(dir_entries(), 0);
  }
  /* every allocation along a compressed write failing in turn (one in
   * FAIL_STEP, to keep it short): TSR_ENOMEM, no file, no hang */
  tsr_frame_hdf5_options opt = {
      .chunk_rows = 16, .deflate_level = 1, .strings = TSR_HDF5_STRINGS_OFFSETS};
  tsr_memory_stats m0, m1;
  assert_ok(tsr_ctx_memory_stats(ctx, &m0));
  assert_ok(tsr_frame_write_hdf5(f, path, "/t", &opt));
  assert_ok(tsr_ctx_memory_stats(ctx, &m1));
  unlink(path);
  uint64_t allocs = m1.allocations - m0.allocations;
  assert_true(allocs > 100);
  int failed = 0;
  for (uint64_t k = 1; k <= allocs; k += FAIL_STEP) {
    assert_ok(tsr_ctx_set_fail_allocation(ctx, k));
    tsr_status st = tsr_frame_write_hdf5(f, path, "/t", &opt);
    assert_ok(tsr_ctx_set_fail_allocation(ctx, 0));
    if (st == TSR_OK) { /* past this write's allocations (threads' counts vary) */
      unlink(path);
      continue;
    }
    assert_int_equal(st, TSR_ENOMEM);
    assert_int_equal(dir_entries(), 0);
    failed++;
  }
  assert_true(failed > 10);
  tsr_frame_destroy(&f);
}

int main(void) {
  (void)write_file; /* scratch_dir.h's, not needed here */
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_hdf5_table_bytes__any_threads, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_hdf5_table_bytes__failing_unit, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
