/* test_taskgraph.c — building task graphs (include/tessera/exec.h): task ids
 * are consecutive; tsr_taskgraph_add_kernel and tsr_taskgraph_add_task reject
 * bad arguments with TSR_EINVAL and a message naming the argument (and leave
 * the graph unchanged); keep/set_owner/output reject bad task ids; outputs
 * are readable only after a successful run and only for kept tasks; parameter
 * blocks are copied and 16-byte aligned; output buffers are 64-byte aligned;
 * inputs (repeats included) are delivered in the order given; an empty graph
 * runs; task_out may alias the inputs array; tasks may be added after a run
 * and the graph run again (a run's outputs are discarded when the graph
 * changes); a task kept only after a run has no output until the next run;
 * tsr_taskgraph_destroy accepts NULL. */
#include "sched_helpers.h"

/* ---- a kernel that records what it sees ---------------------------------- */

#define MAX_RECORDED_INPUTS 16
#define MAX_RECORDED_PARAMS 128

typedef struct seen {
  int ran;
  uint32_t n_inputs;
  uint64_t input_values[MAX_RECORDED_INPUTS]; /* first 8 bytes of each input */
  size_t input_bytes[MAX_RECORDED_INPUTS];
  int params_null;
  size_t params_bytes;
  uintptr_t params_misalign; /* params address % 16 */
  unsigned char params[MAX_RECORDED_PARAMS];
  int output_null;
  size_t output_bytes;
  uintptr_t output_misalign; /* output address % 64 */
} seen;

typedef struct recorder {
  seen *tasks;
  uint32_t cap;
} recorder;

/* Records the call into user->tasks[task]; writes the task id (as uint64)
 * into the first 8 output bytes and a pattern into the rest. */
static tsr_status record_kernel(const tsr_kernel_call *call) {
  recorder *r = call->user;
  if (call->task >= r->cap)
    return tsr_error_set(TSR_EINTERNAL, "recorder: task %u beyond %u", call->task, r->cap);
  seen *s = &r->tasks[call->task];
  s->ran++;
  s->n_inputs = call->n_inputs;
  for (uint32_t i = 0; i < call->n_inputs && i < MAX_RECORDED_INPUTS; i++) {
    s->input_bytes[i] = call->input_bytes[i];
    s->input_values[i] = UINT64_MAX;
    if (call->input_bytes[i] >= sizeof(uint64_t))
      memcpy(&s->input_values[i], call->inputs[i], sizeof(uint64_t));
  }
  s->params_null = call->params == NULL;
  s->params_bytes = call->params_bytes;
  s->params_misalign = (uintptr_t)call->params % 16;
  if (call->params != NULL)
    memcpy(s->params, call->params,
           call->params_bytes < MAX_RECORDED_PARAMS ? call->params_bytes : MAX_RECORDED_PARAMS);
  s->output_null = call->output == NULL;
  s->output_bytes = call->output_bytes;
  s->output_misalign = (uintptr_t)call->output % 64;
  unsigned char *out = call->output;
  for (size_t i = 0; i < call->output_bytes; i++)
    out[i] = (unsigned char)(call->task + i);
  if (call->output_bytes >= sizeof(uint64_t)) {
    uint64_t id = call->task;
    memcpy(out, &id, sizeof id);
  }
  return TSR_OK;
}

static void recorder_init(recorder *r, uint32_t cap) {
  r->tasks = calloc(cap, sizeof *r->tasks);
  assert_non_null(r->tasks);
  r->cap = cap;
}

static tsr_status noop_kernel(const tsr_kernel_call *call) {
  (void)call;
  return TSR_OK;
}

static const sched_config configs[] = {
    {TSR_EXECUTOR_SERIAL, 1},
    {TSR_EXECUTOR_OMP, 2},
    {TSR_EXECUTOR_OMP, 4},
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

/* ---- tests -------------------------------------------------------------- */

static void test_taskgraph__ids_are_consecutive(void **state) {
  tsr_ctx *ctx = *state;
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k0 = 99, k1 = 99;
  assert_ok(tsr_taskgraph_add_kernel(g, "first", noop_kernel, NULL, &k0));
  assert_ok(tsr_taskgraph_add_kernel(g, "second", noop_kernel, NULL, &k1));
  assert_int_equal(k0, 0);
  assert_int_equal(k1, 1);
  /* Enough tasks, edges and parameter bytes to grow every array. */
  const uint32_t n = 5000;
  uint64_t edges = 0;
  sched_rng r = {7};
  for (uint32_t t = 0; t < n; t++) {
    uint32_t in[3];
    uint32_t n_in = t == 0 ? 0 : sched_rng_below(&r, 4);
    for (uint32_t i = 0; i < n_in; i++)
      in[i] = sched_rng_below(&r, t);
    unsigned char params[40] = {0};
    uint32_t id = UINT32_MAX;
    assert_ok(tsr_taskgraph_add_task(g, t % 2, in, n_in, params, t % 41, t % 3, &id));
    assert_int_equal(id, t);
    edges += n_in;
    assert_int_equal(tsr_taskgraph_ntasks(g), t + 1);
  }
  assert_int_equal(tsr_taskgraph_nedges(g), edges);
  tsr_taskgraph_destroy(&g);
  assert_null(g);
  assert_int_equal(tsr_taskgraph_ntasks(NULL), 0);
  assert_int_equal(tsr_taskgraph_nedges(NULL), 0);
}

static void test_taskgraph__add_kernel_rejects_bad_arguments(void **state) {
  tsr_ctx *ctx = *state;
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k = 77;
  assert_fails(tsr_taskgraph_add_kernel(g, "nofn", NULL, NULL, &k), TSR_EINVAL, "fn");
  assert_int_equal(k, 0);
  k = 77;
  assert_fails(tsr_taskgraph_add_kernel(g, "", noop_kernel, NULL, &k), TSR_EINVAL, "name");
  assert_int_equal(k, 0);
  assert_fails(tsr_taskgraph_add_kernel(g, NULL, noop_kernel, NULL, &k), TSR_EINVAL, "name");
  assert_fails(tsr_taskgraph_add_kernel(g, "say \"hi\"", noop_kernel, NULL, &k), TSR_EINVAL,
               "name");
  assert_fails(tsr_taskgraph_add_kernel(g, "back\\slash", noop_kernel, NULL, &k), TSR_EINVAL,
               "name");
  assert_fails(tsr_taskgraph_add_kernel(g, "new\nline", noop_kernel, NULL, &k), TSR_EINVAL, "name");
  char name[80];
  memset(name, 'k', sizeof name);
  name[64] = '\0'; /* 64 characters: one too many */
  assert_fails(tsr_taskgraph_add_kernel(g, name, noop_kernel, NULL, &k), TSR_EINVAL, "name");
  assert_fails(tsr_taskgraph_add_kernel(g, "ok", noop_kernel, NULL, NULL), TSR_EINVAL,
               "kernel_out");
  assert_fails(tsr_taskgraph_add_kernel(NULL, "ok", noop_kernel, NULL, &k), TSR_EINVAL, "graph");
  /* None of that registered anything: the first good kernel is id 0. */
  name[63] = '\0'; /* 63 characters: the longest allowed */
  assert_ok(tsr_taskgraph_add_kernel(g, name, noop_kernel, NULL, &k));
  assert_int_equal(k, 0);
  assert_ok(tsr_taskgraph_add_kernel(g, "with spaces & (punctuation)!", noop_kernel, NULL, &k));
  assert_int_equal(k, 1);
  /* Adding a task with kernel 2 fails: only 0 and 1 exist. */
  uint32_t t;
  assert_fails(tsr_taskgraph_add_task(g, 2, NULL, 0, NULL, 0, 0, &t), TSR_EINVAL, "kernel");
  /* The name is copied. */
  uint32_t kept;
  char mutable_name[16] = "original";
  assert_ok(tsr_taskgraph_add_kernel(g, mutable_name, noop_kernel, NULL, &kept));
  strcpy(mutable_name, "changed");
  assert_ok(tsr_taskgraph_add_task(g, kept, NULL, 0, NULL, 0, 0, &t));
  assert_ok(tsr_taskgraph_run(g));
  const tsr_run_stats *s = tsr_taskgraph_stats(g);
  assert_int_equal(s->n_kernels, 3);
  assert_string_equal(s->kernels[0].name, name);
  assert_string_equal(s->kernels[2].name, "original");
  assert_int_equal(s->kernels[2].tasks, 1);
  tsr_taskgraph_destroy(&g);
}

static void test_taskgraph__add_task_rejects_bad_arguments(void **state) {
  tsr_ctx *ctx = *state;
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k, a, b;
  assert_ok(tsr_taskgraph_add_kernel(g, "k", noop_kernel, NULL, &k));
  assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 8, &a));
  assert_ok(tsr_taskgraph_add_task(g, k, &a, 1, NULL, 0, 8, &b));
  uint32_t t = 77;
  assert_fails(tsr_taskgraph_add_task(g, 5, NULL, 0, NULL, 0, 8, &t), TSR_EINVAL, "kernel");
  assert_int_equal(t, 0);
  t = 77;
  uint32_t not_earlier[2] = {a, 2}; /* 2 is the id the new task would get */
  assert_fails(tsr_taskgraph_add_task(g, k, not_earlier, 2, NULL, 0, 8, &t), TSR_EINVAL,
               "inputs[1]");
  assert_int_equal(t, 0);
  uint32_t far[1] = {1000};
  assert_fails(tsr_taskgraph_add_task(g, k, far, 1, NULL, 0, 8, &t), TSR_EINVAL, "inputs[0]");
  assert_fails(tsr_taskgraph_add_task(g, k, NULL, 3, NULL, 0, 8, &t), TSR_EINVAL, "inputs");
  assert_fails(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 16, 8, &t), TSR_EINVAL, "params");
  assert_fails(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 8, NULL), TSR_EINVAL, "task_out");
  assert_fails(tsr_taskgraph_add_task(NULL, k, NULL, 0, NULL, 0, 8, &t), TSR_EINVAL, "graph");
  /* The failures left the graph as it was. */
  assert_int_equal(tsr_taskgraph_ntasks(g), 2);
  assert_int_equal(tsr_taskgraph_nedges(g), 1);
  assert_ok(tsr_taskgraph_add_task(g, k, &b, 1, NULL, 0, 8, &t));
  assert_int_equal(t, 2);
  assert_ok(tsr_taskgraph_run(g));
  assert_int_equal(tsr_taskgraph_stats(g)->tasks_run, 3);
  tsr_taskgraph_destroy(&g);
}

static void test_taskgraph__bad_task_ids(void **state) {
  tsr_ctx *ctx = *state;
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k, t;
  assert_ok(tsr_taskgraph_add_kernel(g, "k", noop_kernel, NULL, &k));
  assert_fails(tsr_taskgraph_keep(g, 0), TSR_EINVAL, "task");
  assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 8, &t));
  assert_fails(tsr_taskgraph_keep(g, 1), TSR_EINVAL, "task");
  assert_fails(tsr_taskgraph_keep(g, UINT32_MAX), TSR_EINVAL, "task");
  assert_fails(tsr_taskgraph_keep(NULL, 0), TSR_EINVAL, "graph");
  assert_fails(tsr_taskgraph_set_owner(g, 1, 0), TSR_EINVAL, "task");
  assert_fails(tsr_taskgraph_set_owner(g, 0, -2), TSR_EINVAL, "rank");
  assert_ok(tsr_taskgraph_set_owner(g, 0, TSR_OWNER_ALL));
  assert_fails(tsr_taskgraph_set_owner(NULL, 0, 0), TSR_EINVAL, "graph");
  /* A rank the run does not have is the run's error, naming the task. */
  assert_ok(tsr_taskgraph_set_owner(g, 0, 3));
  assert_fails(tsr_taskgraph_run(g), TSR_EINVAL, "task 0 (kernel 'k') is owned by rank 3");
  assert_ok(tsr_taskgraph_set_owner(g, 0, 0));
  assert_ok(tsr_taskgraph_keep(g, 0));
  assert_ok(tsr_taskgraph_keep(g, 0)); /* idempotent */
  assert_ok(tsr_taskgraph_run(g));
  const void *data = (const void *)1;
  size_t bytes = 77;
  assert_fails(tsr_taskgraph_output(g, 1, &data, &bytes), TSR_EINVAL, "task");
  assert_null(data);
  assert_int_equal(bytes, 0);
  assert_fails(tsr_taskgraph_output(g, UINT32_MAX, &data, &bytes), TSR_EINVAL, "task");
  assert_fails(tsr_taskgraph_output(NULL, 0, &data, &bytes), TSR_EINVAL, "graph");
  assert_fails(tsr_taskgraph_output(g, 0, NULL, &bytes), TSR_EINVAL, "data");
  assert_fails(tsr_taskgraph_output(g, 0, &data, NULL), TSR_EINVAL, "bytes");
  assert_ok(tsr_taskgraph_output(g, 0, &data, &bytes));
  assert_non_null(data);
  assert_int_equal(bytes, 8);
  tsr_taskgraph_destroy(&g);
}

static void test_taskgraph__output_requires_a_run_and_keep(void **state) {
  tsr_ctx *ctx = *state;
  recorder rec;
  recorder_init(&rec, 4);
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k, a, b;
  assert_ok(tsr_taskgraph_add_kernel(g, "rec", record_kernel, &rec, &k));
  assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 16, &a));
  assert_ok(tsr_taskgraph_add_task(g, k, &a, 1, NULL, 0, 16, &b));
  assert_ok(tsr_taskgraph_keep(g, b));
  const void *data = (const void *)1;
  size_t bytes = 5;
  /* Before any run. */
  assert_fails(tsr_taskgraph_output(g, b, &data, &bytes), TSR_EINVAL, "no outputs");
  assert_null(data);
  assert_int_equal(bytes, 0);
  assert_ok(tsr_taskgraph_run(g));
  /* A task that was not kept. */
  assert_fails(tsr_taskgraph_output(g, a, &data, &bytes), TSR_EINVAL, "tsr_taskgraph_keep");
  assert_null(data);
  assert_ok(tsr_taskgraph_output(g, b, &data, &bytes));
  assert_int_equal(bytes, 16);
  uint64_t id;
  memcpy(&id, data, sizeof id);
  assert_int_equal(id, b);
  /* A second run discards and recomputes. */
  assert_ok(tsr_taskgraph_run(g));
  assert_ok(tsr_taskgraph_output(g, b, &data, &bytes));
  memcpy(&id, data, sizeof id);
  assert_int_equal(id, b);
  assert_int_equal(rec.tasks[a].ran, 2);
  assert_int_equal(rec.tasks[b].ran, 2);
  tsr_taskgraph_destroy(&g);
  free(rec.tasks);
}

static void test_taskgraph__params_are_copied_and_aligned(void **state) {
  tsr_ctx *ctx = *state;
  enum { N = 40 };
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    recorder rec;
    recorder_init(&rec, N);
    tsr_taskgraph *g = NULL;
    assert_ok(tsr_taskgraph_create(ctx, &g));
    uint32_t k;
    assert_ok(tsr_taskgraph_add_kernel(g, "rec", record_kernel, &rec, &k));
    unsigned char expected[N][MAX_RECORDED_PARAMS];
    size_t sizes[N];
    /* One caller buffer, reused and overwritten for every task. */
    unsigned char buffer[MAX_RECORDED_PARAMS];
    for (uint32_t t = 0; t < N; t++) {
      sizes[t] = (t * 13u) % MAX_RECORDED_PARAMS; /* 0, 13, 26, ..., odd sizes included */
      for (size_t i = 0; i < sizes[t]; i++)
        buffer[i] = expected[t][i] = (unsigned char)(t * 31 + i * 7 + 1);
      uint32_t in = t - 1, id;
      assert_ok(tsr_taskgraph_add_task(g, k, t ? &in : NULL, t ? 1 : 0, sizes[t] ? buffer : NULL,
                                       sizes[t], 8, &id));
      memset(buffer, 0xee, sizeof buffer); /* the graph must have its own copy */
    }
    assert_ok(tsr_taskgraph_run(g));
    for (uint32_t t = 0; t < N; t++) {
      const seen *s = &rec.tasks[t];
      assert_int_equal(s->ran, 1);
      assert_int_equal(s->params_bytes, sizes[t]);
      if (sizes[t] == 0) {
        assert_true(s->params_null);
      } else {
        assert_false(s->params_null);
        assert_int_equal(s->params_misalign, 0);
        assert_memory_equal(s->params, expected[t], sizes[t]);
      }
    }
    tsr_taskgraph_destroy(&g);
    free(rec.tasks);
  }
}

static void test_taskgraph__outputs_are_aligned(void **state) {
  tsr_ctx *ctx = *state;
  static const size_t sizes[] = {0, 1, 7, 8, 63, 64, 65, 100, 4096, 12345, 0, 3};
  enum { N = sizeof sizes / sizeof sizes[0] };
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    recorder rec;
    recorder_init(&rec, N + 1);
    tsr_taskgraph *g = NULL;
    assert_ok(tsr_taskgraph_create(ctx, &g));
    uint32_t k, ids[N], sink;
    assert_ok(tsr_taskgraph_add_kernel(g, "rec", record_kernel, &rec, &k));
    for (uint32_t t = 0; t < N; t++)
      assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, sizes[t], &ids[t]));
    assert_ok(tsr_taskgraph_add_task(g, k, ids, N, NULL, 0, 8, &sink));
    for (uint32_t t = 0; t < N; t++)
      assert_ok(tsr_taskgraph_keep(g, ids[t]));
    assert_ok(tsr_taskgraph_run(g));
    for (uint32_t t = 0; t < N; t++) {
      const seen *s = &rec.tasks[t];
      assert_int_equal(s->output_bytes, sizes[t]);
      if (sizes[t] == 0) {
        assert_true(s->output_null);
      } else {
        assert_false(s->output_null);
        assert_int_equal(s->output_misalign, 0);
      }
      /* The sink saw each input's size; the kept output holds the pattern. */
      assert_int_equal(rec.tasks[sink].input_bytes[t], sizes[t]);
      const void *data;
      size_t bytes;
      assert_ok(tsr_taskgraph_output(g, ids[t], &data, &bytes));
      assert_int_equal(bytes, sizes[t]);
      assert_int_equal((uintptr_t)data % 64, 0);
      const unsigned char *p = data;
      for (size_t i = sizeof(uint64_t); i < bytes; i++)
        assert_int_equal(p[i], (unsigned char)(t + i));
    }
    assert_int_equal(tsr_taskgraph_stats(g)->chunk_bytes,
                     8 + 0 + 1 + 7 + 8 + 63 + 64 + 65 + 100 + 4096 + 12345 + 0 + 3);
    tsr_taskgraph_destroy(&g);
    free(rec.tasks);
  }
}

static void test_taskgraph__inputs_in_order_with_repeats(void **state) {
  tsr_ctx *ctx = *state;
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    recorder rec;
    recorder_init(&rec, 8);
    tsr_taskgraph *g = NULL;
    assert_ok(tsr_taskgraph_create(ctx, &g));
    uint32_t k, a, b, x, y, z;
    assert_ok(tsr_taskgraph_add_kernel(g, "rec", record_kernel, &rec, &k));
    assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 8, &a));
    assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 24, &b));
    const uint32_t in_x[3] = {a, a, b};
    assert_ok(tsr_taskgraph_add_task(g, k, in_x, 3, NULL, 0, 8, &x));
    const uint32_t in_y[5] = {b, x, a, b, x};
    assert_ok(tsr_taskgraph_add_task(g, k, in_y, 5, NULL, 0, 8, &y));
    const uint32_t in_z[4] = {y, y, y, y};
    assert_ok(tsr_taskgraph_add_task(g, k, in_z, 4, NULL, 0, 8, &z));
    assert_int_equal(tsr_taskgraph_nedges(g), 12);
    assert_ok(tsr_taskgraph_keep(g, z));
    assert_ok(tsr_taskgraph_run(g));

    const seen *sx = &rec.tasks[x];
    assert_int_equal(sx->n_inputs, 3);
    const uint64_t want_x[3] = {a, a, b};
    const size_t want_x_bytes[3] = {8, 8, 24};
    for (int i = 0; i < 3; i++) {
      assert_int_equal(sx->input_values[i], want_x[i]);
      assert_int_equal(sx->input_bytes[i], want_x_bytes[i]);
    }
    const seen *sy = &rec.tasks[y];
    assert_int_equal(sy->n_inputs, 5);
    for (int i = 0; i < 5; i++)
      assert_int_equal(sy->input_values[i], in_y[i]);
    const seen *sz = &rec.tasks[z];
    assert_int_equal(sz->n_inputs, 4);
    for (int i = 0; i < 4; i++)
      assert_int_equal(sz->input_values[i], y);
    for (uint32_t t = 0; t <= z; t++)
      assert_int_equal(rec.tasks[t].ran, 1);
    tsr_taskgraph_destroy(&g);
    free(rec.tasks);
  }
}

static int count_progress(uint64_t done, uint64_t total, void *user) {
  int *calls = user;
  if (done == 0 && total == 0)
    (*calls)++;
  return 0;
}

static void test_taskgraph__empty_graph_runs(void **state) {
  tsr_ctx *ctx = *state;
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    tsr_taskgraph *g = NULL;
    assert_ok(tsr_taskgraph_create(ctx, &g));
    assert_int_equal(tsr_taskgraph_ntasks(g), 0);
    assert_ok(tsr_taskgraph_run(g));
    const tsr_run_stats *s = tsr_taskgraph_stats(g);
    assert_int_equal(s->tasks, 0);
    assert_int_equal(s->tasks_run, 0);
    assert_int_equal(s->tasks_cancelled, 0);
    assert_int_equal(s->n_kernels, 0);
    /* With a kernel but still no task, and with options. */
    uint32_t k;
    assert_ok(tsr_taskgraph_add_kernel(g, "unused", noop_kernel, NULL, &k));
    int calls = 0;
    tsr_run_options opts = {.progress = count_progress, .progress_user = &calls};
    assert_ok(tsr_taskgraph_run_ex(g, &opts));
    assert_int_equal(calls, 1); /* the final call, done == total == 0 */
    assert_ok(tsr_taskgraph_run_ex(g, NULL));
    s = tsr_taskgraph_stats(g);
    assert_int_equal(s->n_kernels, 1);
    assert_int_equal(s->kernels[0].tasks, 0);
    assert_string_equal(s->kernels[0].name, "unused");
    tsr_taskgraph_destroy(&g);
  }
}

/* Sums its inputs (uint64) plus its params (a uint64, or 0). */
static tsr_status sum_kernel(const tsr_kernel_call *call) {
  uint64_t acc = 0;
  if (call->params_bytes == sizeof(uint64_t))
    memcpy(&acc, call->params, sizeof acc);
  for (uint32_t i = 0; i < call->n_inputs; i++) {
    uint64_t v;
    if (call->input_bytes[i] != sizeof v)
      return tsr_error_set(TSR_EINTERNAL, "sum: input %u has %zu bytes", i, call->input_bytes[i]);
    memcpy(&v, call->inputs[i], sizeof v);
    acc += v;
  }
  if (call->output_bytes != sizeof acc)
    return tsr_error_set(TSR_EINTERNAL, "sum: output has %zu bytes", call->output_bytes);
  memcpy(call->output, &acc, sizeof acc);
  return TSR_OK;
}

static void test_taskgraph__task_out_may_alias_inputs(void **state) {
  tsr_ctx *ctx = *state;
  enum { LEAVES = 1000 };
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k;
  assert_ok(tsr_taskgraph_add_kernel(g, "sum", sum_kernel, NULL, &k));
  uint32_t level[LEAVES];
  uint64_t expected = 0;
  for (uint32_t i = 0; i < LEAVES; i++) {
    uint64_t v = 3ull * i * i + 11;
    expected += v;
    assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, &v, sizeof v, sizeof v, &level[i]));
  }
  /* Pairwise levels built in place: level[i] = add(level[2i], level[2i+1]);
   * for i = 0 the new id is written over the first input. */
  uint32_t n = LEAVES;
  while (n > 4) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i += 2) {
      uint32_t before = tsr_taskgraph_ntasks(g);
      assert_ok(tsr_taskgraph_add_task(g, k, &level[i], i + 1 < n ? 2 : 1, NULL, 0,
                                       sizeof(uint64_t), &level[m]));
      assert_int_equal(level[m], before);
      m++;
    }
    n = m;
  }
  /* The last level: all remaining inputs, task_out = &level[0]. */
  uint32_t expected_id = tsr_taskgraph_ntasks(g);
  assert_ok(tsr_taskgraph_add_task(g, k, level, n, NULL, 0, sizeof(uint64_t), &level[0]));
  assert_int_equal(level[0], expected_id);
  uint32_t root = level[0];
  assert_ok(tsr_taskgraph_keep(g, root));
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    assert_ok(tsr_taskgraph_run(g));
    const void *data;
    size_t bytes;
    assert_ok(tsr_taskgraph_output(g, root, &data, &bytes));
    uint64_t got;
    memcpy(&got, data, sizeof got);
    assert_int_equal(got, expected);
  }
  tsr_taskgraph_destroy(&g);
}

/* Chain kernel: output = task id + 1000 * input (uint64, wrapping). */
static tsr_status chain_kernel(const tsr_kernel_call *call) {
  uint64_t acc = call->task;
  for (uint32_t i = 0; i < call->n_inputs; i++) {
    uint64_t v;
    memcpy(&v, call->inputs[i], sizeof v);
    acc += 1000 * v;
  }
  memcpy(call->output, &acc, sizeof acc);
  return TSR_OK;
}

static uint64_t output_u64(const tsr_taskgraph *g, uint32_t t) {
  const void *data;
  size_t bytes;
  assert_ok(tsr_taskgraph_output(g, t, &data, &bytes));
  assert_int_equal(bytes, sizeof(uint64_t));
  uint64_t v;
  memcpy(&v, data, sizeof v);
  return v;
}

/* (Once a crash: the outputs array of the first run was sized for the old
 * task count, and the next run, output() and destroy read past its end.) */
static void test_taskgraph__add_tasks_after_run_and_run_again(void **state) {
  tsr_ctx *ctx = *state;
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    tsr_taskgraph *g = NULL;
    assert_ok(tsr_taskgraph_create(ctx, &g));
    uint32_t k, t = 0;
    assert_ok(tsr_taskgraph_add_kernel(g, "chain", chain_kernel, NULL, &k));
    uint64_t expected = 0;
    for (int i = 0; i < 8; i++) {
      uint32_t in = t;
      assert_ok(tsr_taskgraph_add_task(g, k, i ? &in : NULL, i ? 1 : 0, NULL, 0, 8, &t));
      expected = t + 1000 * expected; /* wraps modulo 2^64, as the kernel does */
    }
    assert_ok(tsr_taskgraph_keep(g, t));
    assert_ok(tsr_taskgraph_run(g));
    assert_int_equal(output_u64(g, t), expected);
    const uint32_t first_kept = t;
    const uint64_t first_expected = expected;
    /* Extend the chain (from a task whose output the run freed) and add an
     * independent task, then run again. */
    for (int i = 0; i < 3; i++) {
      uint32_t in = t;
      assert_ok(tsr_taskgraph_add_task(g, k, &in, 1, NULL, 0, 8, &t));
      expected = t + 1000 * expected;
    }
    assert_ok(tsr_taskgraph_keep(g, t));
    uint32_t lone;
    assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 8, &lone));
    assert_ok(tsr_taskgraph_keep(g, lone));
    assert_ok(tsr_taskgraph_run(g));
    assert_int_equal(output_u64(g, first_kept), first_expected);
    assert_int_equal(output_u64(g, t), expected);
    assert_int_equal(output_u64(g, lone), lone);
    assert_int_equal(tsr_taskgraph_stats(g)->tasks_run, 12);
    /* Once more, and destroy with outputs held. */
    assert_ok(tsr_taskgraph_add_task(g, k, &lone, 1, NULL, 0, 8, &t));
    assert_ok(tsr_taskgraph_run(g));
    assert_int_equal(output_u64(g, lone), lone);
    tsr_taskgraph_destroy(&g);
    assert_int_equal(sched_current_bytes(ctx), 0);
  }
}

static void test_taskgraph__output_of_task_added_after_run_fails(void **state) {
  tsr_ctx *ctx = *state;
  tsr_taskgraph *g = NULL;
  assert_ok(tsr_taskgraph_create(ctx, &g));
  uint32_t k, t = 0;
  assert_ok(tsr_taskgraph_add_kernel(g, "chain", chain_kernel, NULL, &k));
  for (int i = 0; i < 8; i++)
    assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 8, &t));
  assert_ok(tsr_taskgraph_keep(g, t));
  assert_ok(tsr_taskgraph_run(g));
  assert_int_equal(output_u64(g, t), t);
  uint32_t added;
  assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 8, &added));
  assert_ok(tsr_taskgraph_keep(g, added));
  const void *data = (const void *)1;
  size_t bytes = 1;
  /* The new task never ran: this fails (and reads nothing out of bounds). */
  assert_fails(tsr_taskgraph_output(g, added, &data, &bytes), TSR_EINVAL, "no outputs");
  assert_null(data);
  assert_int_equal(bytes, 0);
  tsr_taskgraph_destroy(&g);
}

/* (Once TSR_OK with a NULL buffer: output() looked only at the keep flag.) */
static void test_taskgraph__keep_after_run_needs_another_run(void **state) {
  tsr_ctx *ctx = *state;
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    tsr_taskgraph *g = NULL;
    assert_ok(tsr_taskgraph_create(ctx, &g));
    uint32_t k, a, b;
    assert_ok(tsr_taskgraph_add_kernel(g, "chain", chain_kernel, NULL, &k));
    assert_ok(tsr_taskgraph_add_task(g, k, NULL, 0, NULL, 0, 8, &a));
    assert_ok(tsr_taskgraph_add_task(g, k, &a, 1, NULL, 0, 8, &b));
    assert_ok(tsr_taskgraph_keep(g, b));
    assert_ok(tsr_taskgraph_run(g));
    assert_ok(tsr_taskgraph_keep(g, a)); /* too late: the run freed a's chunk */
    const void *data = (const void *)1;
    size_t bytes = 99;
    assert_fails(tsr_taskgraph_output(g, a, &data, &bytes), TSR_EINVAL, "tsr_taskgraph_keep");
    assert_null(data);
    assert_int_equal(bytes, 0);
    assert_int_equal(output_u64(g, b), b + 1000 * a); /* b's is still there */
    assert_ok(tsr_taskgraph_run(g));
    assert_int_equal(output_u64(g, a), a);
    assert_int_equal(output_u64(g, b), b + 1000 * a);
    tsr_taskgraph_destroy(&g);
  }
}

static void test_taskgraph__destroy_null_is_safe(void **state) {
  (void)state;
  tsr_taskgraph_destroy(NULL);
  tsr_taskgraph *g = NULL;
  tsr_taskgraph_destroy(&g);
  assert_null(g);
  assert_fails(tsr_taskgraph_create(NULL, &g), TSR_EINVAL, "ctx");
  assert_null(g);
  assert_fails(tsr_taskgraph_create(*state, NULL), TSR_EINVAL, "out");
  assert_fails(tsr_taskgraph_run(NULL), TSR_EINVAL, "graph");
  assert_null(tsr_taskgraph_stats(NULL));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_taskgraph__ids_are_consecutive, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__add_kernel_rejects_bad_arguments,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__add_task_rejects_bad_arguments,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__bad_task_ids, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__output_requires_a_run_and_keep,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__params_are_copied_and_aligned, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__outputs_are_aligned, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__inputs_in_order_with_repeats, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__empty_graph_runs, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__task_out_may_alias_inputs, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__add_tasks_after_run_and_run_again,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__output_of_task_added_after_run_fails,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__keep_after_run_needs_another_run,
                                      test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_taskgraph__destroy_null_is_safe, test_ctx_setup,
                                      test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
