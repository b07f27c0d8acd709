/* test_dist.c — distributed runs (run by ctest under mpiexec with 1, 2 and
 * 4 ranks, 1 or 2 threads per rank; TESSERA_NUM_THREADS sets the threads).
 *
 * The reference for every result is the same expression computed by a
 * context that computes alone on this rank (tsr_ctx_set_distributed false,
 * serial executor): a distributed result must be bitwise identical to it,
 * and identical on every rank.  Workloads A1-A7 of docs/benchmarks.md at small
 * sizes; ownership (no task runs twice, chunks do move); errors agreed by
 * every rank (a failing kernel on one rank, a bad file on one rank, ranks
 * that build different graphs), and a compute that works afterwards.
 *
 * `test_dist --die` is the rank-death scenario (tests/dist/rank_death.sh):
 * rank 1 is killed inside a kernel while rank 0 waits for its chunk. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <mpi.h>

#include <tessera/mpi.h>
#include <tessera/query.h>

#include "dist/dist.h"            /* tsr__dist_agree_minmax */
#include "sched/taskgraph_impl.h" /* tsr__taskgraph_set_local */
#include "test_util.h"

static tsr_ctx *dist_ctx, *local_ctx;
static int rank, nranks;

#define CHECKSUM_SEED 0x9e3779b97f4a7c15ull

static uint64_t checksum(const void *p, size_t bytes) {
  const unsigned char *b = p;
  uint64_t h = CHECKSUM_SEED;
  for (size_t i = 0; i < bytes; i++)
    h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

/* Every rank holds the same bytes. */
static void assert_same_on_every_rank(const void *p, size_t bytes) {
  uint64_t h = checksum(p, bytes), both[2] = {h, ~h}, out[2];
  MPI_Allreduce(both, out, 2, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  assert_true(out[0] == h && out[1] == ~h);
}

static double *random_doubles(int64_t n, uint64_t seed) {
  double *p = malloc((size_t)n * sizeof *p + 8);
  assert_non_null(p);
  tsr_random_fill_uniform(seed, 0, (size_t)n, p);
  return p;
}

/* ---- workloads: each builds its result on ctx from shared inputs ---------- */

typedef struct inputs {
  double *x, *y;
  int64_t shape[2], chunks[2];
  int ndim;
} inputs;

static tsr_array *wrap(tsr_ctx *ctx, const inputs *in, double *data) {
  tsr_array *a;
  assert_ok(tsr_array_from_buffer(ctx, TSR_FLOAT64, in->ndim, in->shape, in->chunks, data,
                                  TSR_BUFFER_BORROW, NULL, NULL, &a));
  return a;
}

static tsr_array *sum_all(tsr_array *a) {
  tsr_array *s;
  assert_ok(tsr_sum(a, NULL, 0, false, &s));
  tsr_array_destroy(&a);
  return s;
}

static tsr_array *a1(tsr_ctx *ctx, const inputs *in) {
  (void)in;
  tsr_array *ones, *plus;
  assert_ok(tsr_array_ones(ctx, TSR_FLOAT64, 1, (int64_t[]){500}, (int64_t[]){1}, &ones));
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, ones, 1, &plus));
  tsr_array_destroy(&ones);
  return sum_all(plus);
}

static tsr_array *a2(tsr_ctx *ctx, const inputs *in) {
  tsr_array *x = wrap(ctx, in, in->x), *y = wrap(ctx, in, in->y), *xx, *yy, *h, *r, *half, *plus;
  assert_ok(tsr_mul(x, x, &xx));
  assert_ok(tsr_mul(y, y, &yy));
  assert_ok(tsr_add(xx, yy, &h));
  assert_ok(tsr_unary(TSR_OP_SQRT, h, &r));
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, r, 0.5, &half));
  assert_ok(tsr_binary_scalar(TSR_OP_ADD, half, 1, &plus));
  tsr_array *tmp[] = {x, y, xx, yy, h, r, half};
  for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++)
    tsr_array_destroy(&tmp[i]);
  return sum_all(plus);
}

static tsr_array *a3(tsr_ctx *ctx, const inputs *in) {
  tsr_array *x = wrap(ctx, in, in->x), *m, *sm, *sd, *r;
  assert_ok(tsr_mean(x, (int[]){0}, 1, false, &m));
  assert_ok(tsr_sum(m, NULL, 0, false, &sm));
  assert_ok(tsr_std(x, NULL, 0, 0, false, &sd));
  assert_ok(tsr_add(sm, sd, &r));
  tsr_array *tmp[] = {x, m, sm, sd};
  for (size_t i = 0; i < sizeof tmp / sizeof *tmp; i++)
    tsr_array_destroy(&tmp[i]);
  return r;
}

static tsr_array *a4(tsr_ctx *ctx, const inputs *in) {
  tsr_array *x = wrap(ctx, in, in->x), *y = wrap(ctx, in, in->y), *p;
  assert_ok(tsr_matmul(x, y, &p));
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  return sum_all(p);
}

/* The 5-point Laplacian of interior points, 0 on the array's edges. */
static tsr_status laplacian5(void *out, const tsr_block_info *oi, const void *const *inp,
                             const tsr_block_info *ii, size_t n_in, void *user) {
  (void)n_in;
  (void)user;
  const double *x = inp[0];
  double *o = out;
  int64_t rows = oi->shape[0], cols = oi->shape[1], width = ii->shape[1];
  for (int64_t i = 0; i < rows; i++)
    for (int64_t j = 0; j < cols; j++) {
      int64_t gi = oi->offset[0] + i, gj = oi->offset[1] + j;
      int64_t li = gi - ii->offset[0], lj = gj - ii->offset[1];
      bool edge =
          gi == 0 || gj == 0 || gi == oi->array_shape[0] - 1 || gj == oi->array_shape[1] - 1;
      o[i * cols + j] = edge ? 0
                             : x[(li - 1) * width + lj] + x[(li + 1) * width + lj] +
                                   x[li * width + lj - 1] + x[li * width + lj + 1] -
                                   4 * x[li * width + lj];
    }
  return TSR_OK;
}

static tsr_array *a5(tsr_ctx *ctx, const inputs *in) {
  tsr_array *x = wrap(ctx, in, in->x), *lap;
  assert_ok(tsr_map_overlap(x, (int64_t[]){1, 1}, TSR_BOUNDARY_NONE, 0, laplacian5, NULL,
                            TSR_FLOAT64, &lap));
  tsr_array_destroy(&x);
  return sum_all(lap);
}

/* x + x.T, the whole 2-D result (every rank gets all of it). */
static tsr_array *a6_full(tsr_ctx *ctx, const inputs *in) {
  tsr_array *x = wrap(ctx, in, in->x), *t, *plus;
  assert_ok(tsr_transpose(x, NULL, &t));
  assert_ok(tsr_add(x, t, &plus));
  tsr_array_destroy(&x);
  tsr_array_destroy(&t);
  return plus;
}

static tsr_array *a6(tsr_ctx *ctx, const inputs *in) { return sum_all(a6_full(ctx, in)); }

typedef tsr_array *(*workload_fn)(tsr_ctx *, const inputs *);

static void stats_copy(const tsr_run_stats *s, void *user) { *(tsr_run_stats *)user = *s; }

/* Computes w on both contexts; asserts bitwise equality with the local
 * result and across ranks.  Returns the distributed run's statistics. */
static tsr_run_stats check_workload(workload_fn w, const inputs *in, tsr_run_stats *local_stats) {
  tsr_array *d = w(dist_ctx, in), *l = w(local_ctx, in);
  size_t bytes = (size_t)tsr_array_nbytes(d);
  assert_int_equal(bytes, tsr_array_nbytes(l));
  void *got = calloc(1, bytes + 8), *want = calloc(1, bytes + 8);
  tsr_run_stats ds, ls;
  tsr_compute_options dopt = {.on_stats = stats_copy, .stats_user = &ds};
  tsr_compute_options lopt = {.on_stats = stats_copy, .stats_user = &ls};
  assert_ok(tsr_array_to_buffers_ex(1, &d, &got, &bytes, &dopt));
  assert_ok(tsr_array_to_buffers_ex(1, &l, &want, &bytes, &lopt));
  assert_memory_equal(got, want, bytes);
  assert_same_on_every_rank(got, bytes);
  assert_int_equal(ds.ranks, tsr_ctx_nranks(dist_ctx));
  assert_int_equal(ds.rank, tsr_ctx_rank(dist_ctx));
  if (local_stats != NULL)
    *local_stats = ls;
  free(got);
  free(want);
  tsr_array_destroy(&d);
  tsr_array_destroy(&l);
  return ds;
}

static inputs make_inputs(int ndim, int64_t s0, int64_t s1, int64_t c0, int64_t c1) {
  inputs in = {.ndim = ndim, .shape = {s0, s1}, .chunks = {c0, c1}};
  int64_t n = ndim == 1 ? s0 : s0 * s1;
  in.x = random_doubles(n, 1234);
  in.y = random_doubles(n, 5678);
  return in;
}

static void free_inputs(inputs *in) {
  free(in->x);
  free(in->y);
}

static void test_dist__workloads_a1_to_a6_match_one_rank(void **state) {
  (void)state;
  inputs v = make_inputs(1, 200000, 0, 20000, 0);
  check_workload(a1, &v, NULL);
  check_workload(a2, &v, NULL);
  free_inputs(&v);
  inputs m = make_inputs(2, 400, 100, 40, 100);
  check_workload(a3, &m, NULL);
  free_inputs(&m);
  inputs sq = make_inputs(2, 200, 200, 50, 50);
  check_workload(a4, &sq, NULL);
  check_workload(a5, &sq, NULL);
  check_workload(a6, &sq, NULL);
  free_inputs(&sq);
}

/* Owner computes: every non-store task runs on exactly one rank (summed
 * over ranks, as many as on one rank), and chunks move between ranks. */
static void test_dist__each_task_runs_once_and_chunks_move(void **state) {
  (void)state;
  inputs sq = make_inputs(2, 200, 200, 50, 50);
  tsr_run_stats local;
  tsr_run_stats ds = check_workload(a6_full, &sq, &local);
  uint64_t stores = 16; /* one store per result chunk, run by every rank */
  uint64_t mine = ds.tasks_run - stores, total = 0, received = 0;
  MPI_Allreduce(&mine, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&ds.bytes_received, &received, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  assert_int_equal(total, local.tasks_run - stores);
  if (nranks > 1) {
    assert_true(received > 0);
    assert_true(mine < total); /* the work is shared */
  } else {
    assert_int_equal(received, 0);
  }
  free_inputs(&sq);
  /* A reduction reading a user buffer in place (no input tasks): its 10
   * per-chunk partial sums are spread over the ranks too. */
  inputs v = make_inputs(1, 100000, 0, 10000, 0);
  ds = check_workload(a2, &v, &local);
  uint64_t partial = ds.tasks_run - 1, fewest = 0; /* less the one store */
  MPI_Allreduce(&partial, &fewest, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&partial, &total, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  assert_int_equal(total, local.tasks_run - 1);
  assert_true(fewest >= 10 / (uint64_t)nranks);
  free_inputs(&v);
}

/* Block-cyclic ownership (tsr_ctx_set_owner_block): the same results. */
static void test_dist__block_cyclic_owners_give_the_same_results(void **state) {
  (void)state;
  tsr_ctx *saved = dist_ctx;
  assert_ok(tsr_ctx_create(&dist_ctx));
  assert_ok(tsr_ctx_set_owner_block(dist_ctx, 1));
  assert_fails(tsr_ctx_set_owner_block(dist_ctx, -1), TSR_EINVAL, "block");
  inputs v = make_inputs(1, 100000, 0, 10000, 0);
  check_workload(a2, &v, NULL);
  free_inputs(&v);
  inputs sq = make_inputs(2, 200, 200, 50, 50);
  check_workload(a4, &sq, NULL);
  check_workload(a5, &sq, NULL);
  check_workload(a6_full, &sq, NULL);
  free_inputs(&sq);
  tsr_ctx_destroy(&dist_ctx);
  dist_ctx = saved;
}

/* A program's own communicator (tsr_ctx_set_comm): the even and the odd
 * ranks compute apart, each group on its own, with the same results; an
 * error agreed within a group stays in it. */
static void test_dist__own_communicator(void **state) {
  (void)state;
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
  int half_size;
  MPI_Comm_size(half, &half_size);
  tsr_ctx *saved = dist_ctx;
  assert_ok(tsr_ctx_create(&dist_ctx));
  assert_ok(tsr_ctx_set_comm(dist_ctx, half));
  assert_int_equal(tsr_ctx_nranks(dist_ctx), half_size);
  assert_int_equal(tsr_ctx_rank(dist_ctx), rank / 2);
  inputs v = make_inputs(1, 100000, 0, 10000, 0);
  tsr_run_stats ds = check_workload(a2, &v, NULL);
  assert_int_equal(ds.ranks, half_size);
  free_inputs(&v);
  /* The group's last rank fails; only its group hears of it. */
  int last = tsr_ctx_rank(dist_ctx) == half_size - 1;
  tsr_status s = last ? tsr_error_set(TSR_EIO, "group %d failed", rank % 2) : TSR_OK;
  s = tsr_ctx_agree(dist_ctx, s);
  assert_int_equal(s, TSR_EIO);
  char want[32];
  snprintf(want, sizeof want, "group %d failed", rank % 2);
  assert_non_null(strstr(tsr_last_error(), want));
  assert_ok(tsr_ctx_agree(dist_ctx, TSR_OK));
  tsr_ctx_destroy(&dist_ctx);
  dist_ctx = saved;
  MPI_Comm_free(&half);
}

/* ---- A7: out of core, through one shared HDF5 file ------------------------- */

static void test_dist__a7_store_and_out_of_core_mean(void **state) {
  (void)state;
  char path[256];
  snprintf(path, sizeof path, "dist_a7_np%d_t%d.h5", nranks, tsr_ctx_threads(dist_ctx));
  inputs in = make_inputs(2, 2000, 50, 100, 50);
  /* Written by the distributed context (chunks sent to the writer),
   * compressed, then read back by every rank, chunk by owned chunk. */
  tsr_array *x = wrap(dist_ctx, &in, in.x);
  tsr_hdf5_store_options so = {.deflate_level = 1, .shuffle = true, .mode = TSR_HDF5_REPLACE};
  assert_ok(tsr_store_hdf5(dist_ctx, 1, &x, path, (const char *const[]){"x"}, &so));
  tsr_array_destroy(&x);
  /* The file holds exactly the data (read alone). */
  tsr_array *back;
  assert_ok(tsr_array_from_hdf5(local_ctx, path, "x", NULL, &back));
  size_t bytes = (size_t)tsr_array_nbytes(back);
  double *got = malloc(bytes);
  assert_ok(tsr_array_to_buffer(back, got, bytes));
  assert_memory_equal(got, in.x, bytes);
  tsr_array_destroy(&back);
  free(got);
  /* mean(x, axis=0) under a memory limit smaller than x. */
  assert_ok(tsr_ctx_set_memory_limit(dist_ctx, 600000));
  tsr_array *fx, *m;
  assert_ok(tsr_array_from_hdf5(dist_ctx, path, "x", (int64_t[]){100, 50}, &fx));
  assert_ok(tsr_mean(fx, (int[]){0}, 1, false, &m));
  double dm[50], lm[50];
  assert_ok(tsr_array_to_buffer(m, dm, sizeof dm));
  assert_ok(tsr_ctx_set_memory_limit(dist_ctx, 0));
  tsr_array_destroy(&fx);
  tsr_array_destroy(&m);
  tsr_array *lx = wrap(local_ctx, &in, in.x), *lmean;
  assert_ok(tsr_mean(lx, (int[]){0}, 1, false, &lmean));
  assert_ok(tsr_array_to_buffer(lmean, lm, sizeof lm));
  tsr_array_destroy(&lx);
  tsr_array_destroy(&lmean);
  assert_memory_equal(dm, lm, sizeof dm);
  assert_same_on_every_rank(dm, sizeof dm);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    unlink(path);
  free_inputs(&in);
}

/* Uncompressed stores are written by every rank, each its own chunks
 * (MPI-IO): every rank writes bytes.  Compressed ones are written by rank
 * 0 alone.  The data is a user buffer every rank holds: whoever needs a
 * chunk of it copies it, so no chunk moves either way. */
static void test_dist__every_rank_writes_its_chunks(void **state) {
  (void)state;
  char path[256];
  snprintf(path, sizeof path, "dist_writes_np%d_t%d.h5", nranks, tsr_ctx_threads(dist_ctx));
  inputs in = make_inputs(2, 800, 60, 100, 60);
  double *plus1 = malloc(sizeof(double) * 800 * 60);
  for (int i = 0; i < 800 * 60; i++)
    plus1[i] = in.x[i] + 1;
  for (int pass = 0; pass < 3; pass++) {
    int level = pass == 0 ? 0 : 1;
    tsr_array *x = wrap(dist_ctx, &in, in.x);
    if (pass == 2) { /* computed chunks, made by their owners: sent to rank 0 */
      tsr_array *y;
      assert_ok(tsr_binary_scalar(TSR_OP_ADD, x, 1, &y));
      tsr_array_destroy(&x);
      x = y;
    }
    tsr_run_stats st;
    tsr_compute_options co = {.on_stats = stats_copy, .stats_user = &st};
    tsr_hdf5_store_options so = {
        .deflate_level = level, .shuffle = level > 0, .compute = &co, .mode = TSR_HDF5_REPLACE};
    uint64_t r0, w0, r1, w1;
    tsr_hdf5_io_bytes(&r0, &w0);
    assert_ok(tsr_store_hdf5(dist_ctx, 1, &x, path, (const char *const[]){"x"}, &so));
    tsr_hdf5_io_bytes(&r1, &w1);
    tsr_array_destroy(&x);
    uint64_t received = 0, wrote = w1 - w0, fewest = 0;
    MPI_Allreduce(&st.bytes_received, &received, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&wrote, &fewest, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    if (level == 0) {
      assert_int_equal(received, 0);
      assert_true(fewest > 0);
    } else { /* rank 0 alone writes */
      assert_true(rank == 0 ? wrote > 0 : wrote == 0);
      if (pass == 1) /* it copies the chunks from its own buffer */
        assert_int_equal(received, 0);
      else if (nranks > 1) /* the others' computed chunks come to it */
        assert_true(received >= sizeof(double) * 800 * 60 / 2);
    }
    /* The file holds exactly the data, whoever wrote it. */
    tsr_array *back;
    assert_ok(tsr_array_from_hdf5(local_ctx, path, "x", NULL, &back));
    size_t bytes = (size_t)tsr_array_nbytes(back);
    double *got = malloc(bytes);
    assert_ok(tsr_array_to_buffer(back, got, bytes));
    assert_memory_equal(got, pass == 2 ? plus1 : in.x, bytes);
    tsr_array_destroy(&back);
    free(got);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  free(plus1);
  /* Two compressed datasets in one store (one write kernel each on the
   * writer, none elsewhere: the ranks still agree on the graph). */
  tsr_array *two[2] = {wrap(dist_ctx, &in, in.x), wrap(dist_ctx, &in, in.y)};
  tsr_hdf5_store_options zo = {.deflate_level = 1, .mode = TSR_HDF5_REPLACE};
  assert_ok(tsr_store_hdf5(dist_ctx, 2, two, path, (const char *const[]){"x", "y"}, &zo));
  for (int i = 0; i < 2; i++) {
    tsr_array *back;
    assert_ok(tsr_array_from_hdf5(local_ctx, path, i ? "y" : "x", NULL, &back));
    size_t bytes = (size_t)tsr_array_nbytes(back);
    double *got = malloc(bytes);
    assert_ok(tsr_array_to_buffer(back, got, bytes));
    assert_memory_equal(got, i ? in.y : in.x, bytes);
    tsr_array_destroy(&back);
    tsr_array_destroy(&two[i]);
    free(got);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  /* No temporary file is left behind. */
  if (rank == 0) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls %s.tmp.* >/dev/null 2>&1", path);
    assert_int_not_equal(system(cmd), 0);
    unlink(path);
  }
  free_inputs(&in);
}

/* ---- errors ------------------------------------------------------------------ */

static tsr_status fail_on_chunk5(void *out, const tsr_block_info *oi, const void *const *inp,
                                 const tsr_block_info *ii, size_t n_in, void *user) {
  (void)ii;
  (void)n_in;
  (void)user;
  if (oi->offset[0] == 5 * 1000)
    return tsr_error_set(TSR_EINVAL, "boom at chunk 5");
  memcpy(out, inp[0], (size_t)oi->shape[0] * sizeof(double));
  return TSR_OK;
}

/* After an error every rank can compute again: nothing was left behind. */
static void assert_computes_again(void) {
  inputs v = make_inputs(1, 20000, 0, 2000, 0);
  check_workload(a2, &v, NULL);
  free_inputs(&v);
}

/* Chunk c of n belongs to rank floor(c * P / n) (tsr_ctx_set_owner_block). */
static int owner_of(int64_t c, int64_t n) { return (int)(c * nranks / n); }

static void assert_agreed_message(const char *needle, int failing_rank) {
  const char *m = tsr_last_error();
  if (strstr(m, needle) == NULL)
    print_error("message '%s' lacks '%s'\n", m, needle);
  assert_non_null(strstr(m, needle));
  if (nranks > 1) {
    char prefix[32];
    snprintf(prefix, sizeof prefix, "rank %d: ", failing_rank);
    if (strncmp(m, prefix, strlen(prefix)) != 0)
      print_error("message '%s' does not start with '%s'\n", m, prefix);
    assert_true(strncmp(m, prefix, strlen(prefix)) == 0);
  }
  assert_same_on_every_rank(m, strlen(m));
}

static void test_dist__failing_kernel_on_one_rank_fails_every_rank(void **state) {
  (void)state;
  double *data = random_doubles(8000, 9);
  tsr_array *x, *y, *s;
  assert_ok(tsr_array_from_buffer(dist_ctx, TSR_FLOAT64, 1, (int64_t[]){8000}, (int64_t[]){1000},
                                  data, TSR_BUFFER_BORROW, NULL, NULL, &x));
  assert_ok(tsr_map_blocks(1, &x, fail_on_chunk5, NULL, TSR_FLOAT64, NULL, &y));
  assert_ok(tsr_sum(y, NULL, 0, false, &s));
  double v = 0;
  assert_int_equal(tsr_array_to_buffer(s, &v, sizeof v), TSR_EINVAL);
  assert_agreed_message("boom at chunk 5", owner_of(5, 8));
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  tsr_array_destroy(&s);
  free(data);
  assert_computes_again();
}

static void test_dist__bad_file_on_one_rank_fails_every_rank(void **state) {
  (void)state;
  char good[256];
  snprintf(good, sizeof good, "dist_good_np%d_t%d.h5", nranks, tsr_ctx_threads(dist_ctx));
  tsr_array *z;
  assert_ok(tsr_array_zeros(dist_ctx, TSR_FLOAT64, 1, (int64_t[]){10}, (int64_t[]){5}, &z));
  tsr_hdf5_store_options zo = {.mode = TSR_HDF5_REPLACE};
  assert_ok(tsr_store_hdf5(dist_ctx, 1, &z, good, (const char *const[]){"z"}, &zo));
  tsr_array_destroy(&z);
  const char *path = rank == nranks - 1 ? "no_such_file_for_the_last_rank.h5" : good;
  tsr_array *a = (tsr_array *)1;
  tsr_status s = tsr_array_from_hdf5(dist_ctx, path, "z", NULL, &a);
  assert_int_not_equal(s, TSR_OK);
  assert_null(a);
  assert_agreed_message("no_such_file_for_the_last_rank.h5", nranks - 1);
  int codes[2] = {(int)s, -(int)s}, out[2];
  MPI_Allreduce(codes, out, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  assert_int_equal(out[0], -out[1]); /* the same status everywhere */
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    unlink(good);
  assert_computes_again();
}

static void test_dist__ranks_with_different_graphs_fail_cleanly(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  tsr_array *x, *y, *s;
  assert_ok(tsr_array_ones(dist_ctx, TSR_FLOAT64, 1, (int64_t[]){1000}, (int64_t[]){100}, &x));
  if (rank == 0)
    assert_ok(tsr_binary_scalar(TSR_OP_ADD, x, 1, &y));
  else
    assert_ok(tsr_unary(TSR_OP_SQRT, x, &y)); /* a different kernel: another graph */
  assert_ok(tsr_rechunk(y, (int64_t[]){rank == 0 ? 100 : 250}, &s));
  tsr_array_destroy(&y);
  y = s;
  assert_ok(tsr_sum(y, NULL, 0, false, &s));
  double v;
  assert_fails(tsr_array_to_buffer(s, &v, sizeof v), TSR_EINVAL, "different task graphs");
  tsr_array_destroy(&x);
  tsr_array_destroy(&y);
  tsr_array_destroy(&s);
  assert_computes_again();
}

/* Computes a on every rank and expects the agreement check to refuse it
 * on every rank (the same message everywhere), naming `needle`. */
static void assert_refused(tsr_array *a, const char *needle) {
  double v[128];
  assert_true(tsr_array_nbytes(a) <= sizeof v);
  assert_fails(tsr_array_to_buffer(a, v, (size_t)tsr_array_nbytes(a)), TSR_EINVAL,
               "different task graphs");
  const char *m = tsr_last_error();
  if (strstr(m, needle) == NULL)
    print_error("message '%s' lacks '%s'\n", m, needle);
  assert_non_null(strstr(m, needle));
  if (strstr(m, "different arguments") != NULL) /* the other message names the rank */
    assert_same_on_every_rank(m, strlen(m));
}

/* The same calls with an argument that differs on the last rank: the graphs
 * have the same shape, and computing them would mix the ranks' results. */
static void test_dist__ranks_with_different_arguments_fail_cleanly(void **state) {
  (void)state;
  if (nranks == 1)
    skip();
  bool odd = rank == nranks - 1;
  tsr_array *x, *y, *s, *c;
  /* A constant (a weak scalar in a fused program). */
  assert_ok(tsr_array_ones(dist_ctx, TSR_FLOAT64, 1, (int64_t[]){100}, (int64_t[]){10}, &x));
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, x, odd ? 2 : 1, &y));
  assert_ok(tsr_sum(y, NULL, 0, false, &s));
  assert_refused(s, "'reduce'"); /* the sum's program holds the product */
  tsr_array_destroy(&y);
  tsr_array_destroy(&s);
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, x, odd ? 2 : 1, &y));
  assert_refused(y, "'elementwise'");
  tsr_array_destroy(&y);
  /* A constant array read in place (a full() memory leaf). */
  assert_ok(tsr_array_full(dist_ctx, TSR_FLOAT64, 0, NULL, NULL, odd ? 3 : 4, &c));
  assert_ok(tsr_add(x, c, &y));
  assert_refused(y, "'elementwise'");
  tsr_array_destroy(&y);
  tsr_array_destroy(&c);
  /* The value of full(). */
  assert_ok(
      tsr_array_full(dist_ctx, TSR_FLOAT64, 1, (int64_t[]){100}, (int64_t[]){10}, odd ? 3 : 4, &c));
  assert_ok(tsr_sum(c, NULL, 0, false, &s));
  assert_refused(s, "different arguments");
  tsr_array_destroy(&s);
  tsr_array_destroy(&c);
  /* A reduction axis, and a transpose's axes, on a square array. */
  tsr_array *sq;
  assert_ok(tsr_array_random(dist_ctx, TSR_RANDOM_UNIFORM, 7, 2, (int64_t[]){8, 8},
                             (int64_t[]){4, 4}, &sq));
  assert_ok(tsr_sum(sq, (int[]){odd ? 1 : 0}, 1, false, &s));
  assert_refused(s, "different task graphs");
  tsr_array_destroy(&s);
  assert_ok(tsr_transpose(sq, odd ? (int[]){1, 0} : (int[]){0, 1}, &y));
  assert_ok(tsr_binary_scalar(TSR_OP_MUL, y, 2, &s)); /* x.T * 2 vs x * 2 */
  assert_refused(s, "different task graphs");
  tsr_array_destroy(&y);
  tsr_array_destroy(&s);
  /* A random seed. */
  tsr_array_destroy(&sq);
  assert_ok(tsr_array_random(dist_ctx, TSR_RANDOM_UNIFORM, odd ? 8 : 7, 2, (int64_t[]){8, 8},
                             (int64_t[]){4, 4}, &sq));
  assert_refused(sq, "'random'");
  tsr_array_destroy(&sq);
  /* A chunking with the same number of chunks. */
  tsr_chunk_grid *grid;
  const int64_t *extents[1] = {odd ? (int64_t[]){30, 70} : (int64_t[]){70, 30}};
  assert_ok(tsr_chunk_grid_create_explicit(dist_ctx, 1, extents, (int64_t[]){2}, &grid));
  assert_ok(tsr_rechunk_grid(x, grid, &y));
  tsr_chunk_grid_destroy(&grid);
  assert_ok(tsr_cumsum(y, 0, &s));
  assert_ok(tsr_sum(s, NULL, 0, false, &c));
  assert_refused(c, "different task graphs");
  tsr_array_destroy(&y);
  tsr_array_destroy(&s);
  tsr_array_destroy(&c);
  tsr_array_destroy(&x);
  /* A dataset name (same file, same shape and chunks). */
  char file[256];
  snprintf(file, sizeof file, "dist_args_np%d_t%d.h5", nranks, tsr_ctx_threads(dist_ctx));
  tsr_array *parts[2];
  assert_ok(
      tsr_array_full(dist_ctx, TSR_FLOAT64, 1, (int64_t[]){10}, (int64_t[]){5}, 1, &parts[0]));
  assert_ok(
      tsr_array_full(dist_ctx, TSR_FLOAT64, 1, (int64_t[]){10}, (int64_t[]){5}, 2, &parts[1]));
  assert_ok(tsr_store_hdf5(dist_ctx, 2, parts, file, (const char *const[]){"a", "b"}, NULL));
  tsr_array_destroy(&parts[0]);
  tsr_array_destroy(&parts[1]);
  assert_ok(tsr_array_from_hdf5(dist_ctx, file, odd ? "b" : "a", (int64_t[]){5}, &x));
  assert_ok(tsr_sum(x, NULL, 0, false, &s));
  assert_refused(s, "'hdf5-read'");
  tsr_array_destroy(&x);
  tsr_array_destroy(&s);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0)
    unlink(file);
  assert_computes_again();
}

/* ---- rank death ------------------------------------------------------------------ */

static tsr_status die_on_rank1(void *out, const tsr_block_info *oi, const void *const *inp,
                               const tsr_block_info *ii, size_t n_in, void *user) {
  (void)ii;
  (void)n_in;
  (void)user;
  if (rank == 1) {
    fprintf(stderr, "rank 1: dying inside a kernel\n");
    raise(SIGKILL);
  }
  memcpy(out, inp[0], (size_t)oi->shape[0] * sizeof(double));
  return TSR_OK;
}

static int die(void) {
  double *data = random_doubles(8000, 9);
  tsr_array *x, *y, *s;
  if (tsr_array_from_buffer(dist_ctx, TSR_FLOAT64, 1, (int64_t[]){8000}, (int64_t[]){1000}, data,
                            TSR_BUFFER_BORROW, NULL, NULL, &x) != TSR_OK ||
      tsr_map_blocks(1, &x, die_on_rank1, NULL, TSR_FLOAT64, NULL, &y) != TSR_OK ||
      tsr_sum(y, NULL, 0, false, &s) != TSR_OK)
    return 3;
  double v;
  tsr_status st = tsr_array_to_buffer(s, &v, sizeof v); /* rank 0 waits for rank 1's chunks */
  fprintf(stderr, "rank %d: the compute returned (%s) although rank 1 died\n", rank,
          tsr_status_name(st));
  return 0; /* the launcher should have ended the job before this */
}

/* Column expressions (assign, filter) are owner-computes node like any:
 * the distributed result equals one rank's, on every rank. */
static void frame_expr_result(tsr_ctx *ctx, const int64_t *v, const double *x,
                              const uint8_t *valid, int64_t n, int64_t *w, uint8_t *wv,
                              int64_t *rows) {
  tsr_column_data c[2] = {
      {.name = "v", .type = {TSR_COL_INT64, 0}, .length = n, .values = v, .validity = valid},
      {.name = "x", .type = {TSR_COL_FLOAT64, 0}, .length = n, .values = x}};
  tsr_frame *f = NULL, *g = NULL, *h = NULL;
  assert_ok(tsr_frame_from_columns(ctx, 2, c, 997, TSR_BUFFER_BORROW, NULL, NULL, &f));
  assert_ok(tsr_frame_filter(f, "x > 0.25 or is_null(v)", &g));
  assert_ok(tsr_frame_assign(g, "w", "v * 3 - v // 7", &h));
  tsr_frame_result *r = NULL;
  assert_ok(tsr_frame_compute(h, NULL, &r));
  *rows = tsr_frame_result_nrows(r);
  assert_ok(tsr_frame_result_values(r, 2, w, (size_t)*rows * sizeof *w, wv));
  for (int64_t i = 0; i < *rows; i++) /* values under nulls are unspecified */
    if (!((wv[i / 8] >> (i % 8)) & 1))
      w[i] = 0;
  if (*rows % 8) /* bits past the last row are unspecified */
    wv[*rows / 8] &= (uint8_t)((1u << (*rows % 8)) - 1);
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&h);
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
}

static void test_dist__column_expressions_match_one_rank(void **state) {
  (void)state;
  enum { n = 20000 };
  static int64_t v[n], w1[n], w2[n];
  static uint8_t valid[(n + 7) / 8], wv1[(n + 7) / 8], wv2[(n + 7) / 8];
  double *x = random_doubles(n, 17);
  for (int64_t i = 0; i < n; i++) {
    v[i] = (int64_t)(x[i] * 1e6) - 400000;
    if (i % 11 != 3)
      valid[i / 8] |= (uint8_t)(1u << (i % 8));
  }
  int64_t r1 = 0, r2 = 0;
  frame_expr_result(local_ctx, v, x, valid, n, w1, wv1, &r1);
  frame_expr_result(dist_ctx, v, x, valid, n, w2, wv2, &r2);
  assert_int_equal(r1, r2);
  assert_memory_equal(w1, w2, (size_t)r1 * sizeof *w1);
  assert_memory_equal(wv1, wv2, (size_t)(r1 + 7) / 8);
  assert_same_on_every_rank(w2, (size_t)r2 * sizeof *w2);
  free(x);
}

/* ---- a graph of each rank's own work (tsr__taskgraph_set_local) --------------- */

static tsr_status count_or_fail(const tsr_kernel_call *call) {
  int fail_on = *(const int *)call->params;
  __atomic_add_fetch((int *)call->user, 1, __ATOMIC_RELAXED);
  if (fail_on == rank)
    return tsr_error_set(TSR_EINVAL, "task %u fails on rank %d", call->task, rank);
  return TSR_OK;
}

/* Runs a local graph of n tasks on this rank alone; fail_on: the rank whose
 * tasks fail (-1: none).  *ran: the tasks that ran. */
static tsr_status run_local(int n, int fail_on, int *ran, tsr_run_stats *stats) {
  tsr_taskgraph *g = NULL;
  uint32_t k, id;
  *ran = 0;
  assert_ok(tsr_taskgraph_create(dist_ctx, &g));
  tsr__taskgraph_set_local(g);
  assert_ok(tsr_taskgraph_add_kernel(g, "count", count_or_fail, ran, &k));
  for (int i = 0; i < n; i++)
    assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, &fail_on, sizeof fail_on, 0, &id));
  tsr_status st = tsr_taskgraph_run(g);
  *stats = *tsr_taskgraph_stats(g);
  tsr_taskgraph_destroy(&g);
  return st;
}

/* A local graph runs every task on each rank and says nothing to the other
 * ranks: rank 0 runs one while the others wait in a barrier (a run that
 * agreed with them would hang), and a failure stays the failing rank's (the
 * caller agrees on it, as the frame layer's joins and group-by do). */
static void test_dist__local_graph_runs_alone(void **state) {
  (void)state;
  int ran;
  tsr_run_stats st;
  if (rank == 0) {
    assert_ok(run_local(7, -1, &ran, &st));
    assert_int_equal(ran, 7);
    assert_int_equal(st.bytes_sent, 0);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  tsr_status got = run_local(5, nranks - 1, &ran, &st);
  assert_int_equal(got, rank == nranks - 1 ? TSR_EINVAL : TSR_OK);
  if (rank == nranks - 1)
    assert_non_null(strstr(tsr_last_error(), "fails on rank"));
  else
    assert_int_equal(ran, 5);
  assert_int_equal(tsr_ctx_agree(dist_ctx, got), TSR_EINVAL); /* the caller's agreement */
  assert_computes_again();
}

/* One collective agrees on a status and gives each value's minimum and
 * maximum over the ranks; when a rank failed, every rank returns the
 * lowest failing rank's status and message, and the values stay its own;
 * a plain agreement meets one with values. */
static void test_dist__agree_minmax(void **state) {
  (void)state;
  tsr__dist *d = tsr__dist_get(dist_ctx);
  const uint64_t r = (uint64_t)rank, P = (uint64_t)nranks;
  uint64_t v[2] = {10 + r, UINT64_MAX - r}, lo[2], hi[2];
  assert_ok(tsr__dist_agree_minmax(d, TSR_OK, v, 2, lo, hi));
  assert_int_equal(lo[0], 10);
  assert_int_equal(hi[0], 10 + P - 1);
  assert_true(lo[1] == UINT64_MAX - (P - 1) && hi[1] == UINT64_MAX);
  /* Every rank but rank 0 fails (one rank: rank 0 fails alone). */
  const int first = nranks > 1 ? 1 : 0;
  tsr_status mine = TSR_OK;
  if (rank >= first)
    mine = tsr_error_set(TSR_EINVAL, "bad value %d on this rank", rank);
  assert_int_equal(tsr__dist_agree_minmax(d, mine, v, 2, lo, hi), TSR_EINVAL);
  char needle[64];
  snprintf(needle, sizeof needle, "bad value %d on this rank", first);
  assert_agreed_message(needle, first);
  for (int i = 0; i < 2; i++)
    assert_true(lo[i] == v[i] && hi[i] == v[i]);
  /* A rank that failed alone agrees plainly where the others agree with
   * values (a frame step's failure meeting the next graph run's set-up). */
  tsr_status got;
  if (rank == nranks - 1)
    got = tsr__dist_agree(d, tsr_error_set(TSR_ENOMEM, "out of room on the last rank"));
  else
    got = tsr__dist_agree_minmax(d, TSR_OK, v, 2, lo, hi);
  assert_int_equal(got, TSR_ENOMEM);
  assert_agreed_message("out of room on the last rank", nranks - 1);
  assert_computes_again();
}

int main(int argc, char **argv) {
  if (tsr_ctx_create(&dist_ctx) != TSR_OK || tsr_ctx_create(&local_ctx) != TSR_OK)
    return 1;
  /* The distributed context initialises MPI (launched by mpiexec). */
  rank = tsr_ctx_rank(dist_ctx);
  nranks = tsr_ctx_nranks(dist_ctx);
  int initialised = 0;
  MPI_Initialized(&initialised);
  if (!initialised) {
    fprintf(stderr, "test_dist: not started by mpiexec\n");
    return 77;
  }
  if (tsr_ctx_set_distributed(local_ctx, false) != TSR_OK ||
      tsr_ctx_set_executor(local_ctx, TSR_EXECUTOR_SERIAL) != TSR_OK)
    return 1;
  if (argc > 1 && strcmp(argv[1], "--die") == 0)
    return die();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dist__workloads_a1_to_a6_match_one_rank),
      cmocka_unit_test(test_dist__each_task_runs_once_and_chunks_move),
      cmocka_unit_test(test_dist__block_cyclic_owners_give_the_same_results),
      cmocka_unit_test(test_dist__own_communicator),
      cmocka_unit_test(test_dist__a7_store_and_out_of_core_mean),
      cmocka_unit_test(test_dist__every_rank_writes_its_chunks),
      cmocka_unit_test(test_dist__failing_kernel_on_one_rank_fails_every_rank),
      cmocka_unit_test(test_dist__bad_file_on_one_rank_fails_every_rank),
      cmocka_unit_test(test_dist__ranks_with_different_graphs_fail_cleanly),
      cmocka_unit_test(test_dist__ranks_with_different_arguments_fail_cleanly),
      cmocka_unit_test(test_dist__column_expressions_match_one_rank),
      cmocka_unit_test(test_dist__local_graph_runs_alone),
      cmocka_unit_test(test_dist__agree_minmax),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
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
