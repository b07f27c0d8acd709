/* test_dist_hdf5_table.c — HDF5 tables written under MPI (run by ctest
 * under mpiexec with 1, 2 and 3 ranks, 1 or 2 threads per rank).
 *
 * Every rank builds the same random frame (every column type, nulls, 64+
 * row chunks) on the distributed context and writes it as an HDF5 table;
 * rank 0 writes the same frame from a context that computes alone (serial
 * executor, one rank): the reference file.  The two files must be equal
 * byte for byte and read back equal to the frame, for the layouts that
 * every rank writes through parallel HDF5 (numeric columns, strings in the
 * offsets layout, uncompressed) and those one rank writes (deflate +
 * shuffle, variable-length strings).  Which ranks wrote is checked from
 * the bytes each rank's process handed to HDF5 (tsr_hdf5_io_bytes): in the
 * parallel layouts every rank wrote some and together they wrote what the
 * reference writer wrote; otherwise only rank 0 wrote.  A failing rank
 * makes every rank return its error and leaves no file behind. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include <tessera/mpi.h>

#include "frame/frame_util.h"

static tsr_ctx *dist_ctx, *local_ctx;
static int rank, nranks;
static char dir[256];

/* The whole file at path (malloc'ed, *n bytes). */
static char *slurp(const char *path, size_t *n) {
  FILE *fp = fopen(path, "rb");
  assert_non_null(fp);
  char *buf = NULL;
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  char block[65536];
  size_t got;
  while ((got = fread(block, 1, sizeof block, fp)) > 0)
    fwrite(block, 1, got, mem);
  fclose(fp);
  fclose(mem);
  *n = len;
  return buf;
}

static uint64_t written_bytes(void) {
  uint64_t w = 0;
  tsr_hdf5_io_bytes(NULL, &w);
  return w;
}

/* Entries of dir other than . and .. */
static int dir_entries(void) {
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0;
  for (struct dirent *e; (e = readdir(d)) != NULL;)
    n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
  closedir(d);
  return n;
}

typedef struct layout {
  const char *name;
  bool strings; /* the frame has a string column */
  tsr_frame_hdf5_options opt;
  bool parallel; /* every rank writes (on several ranks) */
  int64_t rows;
} layout;

static void make_frames(bool strings, int64_t rows, uint64_t seed, ref_frame *ref, tsr_frame **fd,
                        tsr_frame **fl) {
  tsr_type types[TSR_NUM_COLTYPES];
  int n = 0;
  for (int i = 0; i < TSR_NUM_COLTYPES; i++)
    if (strings || fu_types[i].id != TSR_COL_STRING)
      types[n++] = fu_types[i];
  ref_frame_random(ref, n, types, rows, 10, seed);
  assert_ok(ref_frame_to_frame(dist_ctx, ref, 64, 11, fd));
  assert_ok(ref_frame_to_frame(local_ctx, ref, 64, 11, fl));
  assert_true(tsr_frame_nchunks(*fd) >= 64);
}

static void check_layout(const layout *l, int k) {
  ref_frame ref;
  tsr_frame *fd = NULL, *fl = NULL, *g = NULL;
  make_frames(l->strings, l->rows, 500 + (uint64_t)k, &ref, &fd, &fl);
  char pd[320], pl[320];
  snprintf(pd, sizeof pd, "%s/dist_%s.h5", dir, l->name);
  snprintf(pl, sizeof pl, "%s/ref_%s.h5", dir, l->name);
  /* the reference, by one rank alone */
  uint64_t ref_bytes = 0;
  if (rank == 0) {
    uint64_t w0 = written_bytes();
    assert_ok(tsr_frame_write_hdf5(fl, pl, "/t", &l->opt));
    ref_bytes = written_bytes() - w0;
  }
  MPI_Bcast(&ref_bytes, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  /* every rank */
  uint64_t w0 = written_bytes();
  assert_ok(tsr_frame_write_hdf5(fd, pd, "/t", &l->opt));
  uint64_t mine = written_bytes() - w0, sum = 0;
  int wrote = mine > 0, writers = 0;
  MPI_Allreduce(&mine, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&wrote, &writers, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (l->parallel && nranks > 1) {
    assert_int_equal(writers, nranks);
    assert_true(sum == ref_bytes);
  } else {
    assert_int_equal(writers, 1);
    assert_true(rank == 0 ? mine > 0 : mine == 0);
  }
  /* byte for byte the reference */
  if (rank == 0) {
    size_t nd, nl;
    char *bd = slurp(pd, &nd), *bl = slurp(pl, &nl);
    assert_true(nl > 10000);
    assert_int_equal(nd, nl);
    assert_memory_equal(bd, bl, nl);
    free(bd);
    free(bl);
  }
  /* and read back equal on every rank */
  assert_ok(tsr_frame_read_hdf5(dist_ctx, pd, "/t", NULL, &g));
  ref_frame got;
  ref_frame_compute(g, &got);
  ref_frame_assert_equal(&ref, &got);
  ref_frame_free(&got);
  tsr_frame_destroy(&g);
  /* atomic: an existing file is refused on every rank and left as it was */
  MPI_Barrier(MPI_COMM_WORLD);
  tsr_frame_hdf5_options ex = l->opt;
  ex.mode = TSR_HDF5_EXCLUSIVE;
  size_t n0, n1;
  char *before = rank == 0 ? slurp(pd, &n0) : NULL;
  assert_int_equal(tsr_frame_write_hdf5(fd, pd, "/t", &ex), TSR_EIO);
  assert_non_null(strstr(tsr_last_error(), "exists"));
  if (rank == 0) {
    char *after = slurp(pd, &n1);
    assert_int_equal(n0, n1);
    assert_memory_equal(before, after, n0);
    free(after);
  }
  free(before);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) {
    unlink(pd);
    unlink(pl);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  tsr_frame_destroy(&fd);
  tsr_frame_destroy(&fl);
  ref_frame_free(&ref);
}

static void test_dist_hdf5_table__same_bytes_as_one_rank(void **state) {
  (void)state;
  const layout layouts[4] = {
      {"numeric", false, {.chunk_rows = 64}, true, 3000},
      {"offsets", true, {.chunk_rows = 64, .strings = TSR_HDF5_STRINGS_OFFSETS}, true, 3000},
      {"deflate",
       true,
       {.chunk_rows = 64, .strings = TSR_HDF5_STRINGS_OFFSETS, .deflate_level = 1, .shuffle = true},
       false,
       3000},
      {"vlen", true, {.chunk_rows = 64}, false, 3000},
  };
  for (int k = 0; k < 4; k++)
    check_layout(&layouts[k], k);
}

/* A rank failing at some allocation of the writing (the allocations after
 * the frame's computation: just after it, in the middle, near the end)
 * makes every rank return TSR_ENOMEM, and no file (nor temporary file) is
 * left.  (A failure inside the computation is the runtime's to agree on,
 * tested with it.) */
static void test_dist_hdf5_table__failing_rank(void **state) {
  (void)state;
  ref_frame ref;
  tsr_frame *fd = NULL, *fl = NULL;
  make_frames(true, 3000, 77, &ref, &fd, &fl);
  tsr_frame_hdf5_options opt = {.chunk_rows = 64, .strings = TSR_HDF5_STRINGS_OFFSETS};
  char path[320];
  snprintf(path, sizeof path, "%s/fail.h5", dir);
  /* the allocations of one computation and of one write */
  tsr_memory_stats m0, m1, m2, m3;
  tsr_frame_result *res = NULL;
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &m0));
  assert_ok(tsr_frame_compute(fd, NULL, &res));
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &m1));
  tsr_frame_result_destroy(&res);
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &m2));
  assert_ok(tsr_frame_write_hdf5(fd, path, "/t", &opt));
  assert_ok(tsr_ctx_memory_stats(dist_ctx, &m3));
  uint64_t computing = m1.allocations - m0.allocations, allocs = m3.allocations - m2.allocations;
  assert_true(allocs > computing + 10);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    unlink(path);
  MPI_Barrier(MPI_COMM_WORLD);
  int last = nranks - 1;
  uint64_t at[3] = {computing + 2, (computing + allocs) / 2, allocs - 3};
  for (int k = 0; k < 3; k++) {
    if (rank == last)
      assert_ok(tsr_ctx_set_fail_allocation(dist_ctx, at[k]));
    tsr_status st = tsr_frame_write_hdf5(fd, path, "/t", &opt);
    if (rank == last)
      assert_ok(tsr_ctx_set_fail_allocation(dist_ctx, 0));
    if (st != TSR_ENOMEM)
      print_error("rank %d: allocation %llu of %llu: %s\n", rank, (unsigned long long)at[k],
                  (unsigned long long)allocs, tsr_last_error());
    assert_int_equal(st, TSR_ENOMEM);
    MPI_Barrier(MPI_COMM_WORLD);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(dir_entries(), 0);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  tsr_frame_destroy(&fd);
  tsr_frame_destroy(&fl);
  ref_frame_free(&ref);
}

int main(void) {
  if (tsr_ctx_create(&dist_ctx) != TSR_OK || tsr_ctx_create(&local_ctx) != TSR_OK)
    return 1;
  rank = tsr_ctx_rank(dist_ctx);
  nranks = tsr_ctx_nranks(dist_ctx);
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    fprintf(stderr, "test_dist_hdf5_table: not started by mpiexec\n");
    return 77;
  }
  if (tsr_ctx_set_distributed(local_ctx, false) != TSR_OK ||
      tsr_ctx_set_executor(local_ctx, TSR_EXECUTOR_SERIAL) != TSR_OK)
    return 1;
  if (rank == 0 && mkdtemp(strcpy(dir, "/tmp/tsr_dist_h5t_XXXXXX")) == NULL)
    return 1;
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dist_hdf5_table__same_bytes_as_one_rank),
      cmocka_unit_test(test_dist_hdf5_table__failing_rank),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0 && rmdir(dir) != 0) {
    fprintf(stderr, "test_dist_hdf5_table: %s is not empty\n", dir);
    failed = 1;
  }
  tsr_memory_stats m;
  int leaked = 0;
  tsr_ctx *ctxs[2] = {dist_ctx, local_ctx};
  for (int i = 0; i < 2; i++)
    if (tsr_ctx_memory_stats(ctxs[i], &m) == TSR_OK && m.current_bytes != 0) {
      fprintf(stderr, "rank %d: context %d leaked %llu bytes\n", rank, i,
              (unsigned long long)m.current_bytes);
      leaked = 1;
    }
  tsr_ctx_destroy(&local_ctx);
  tsr_ctx_destroy(&dist_ctx);
  return failed || leaked;
}
