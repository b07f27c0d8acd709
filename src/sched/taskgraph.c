/* taskgraph.c — building task graphs: kernels, tasks, inputs, parameter
 * blocks, kept outputs, and finalizing (successor lists, priorities).
 *
 * Tuned for graphs of 10^6+ tasks built by a lowering loop: appending a task
 * is amortised O(1 + inputs) with geometric growth and no per-task
 * allocation; the successor lists are built in one counting pass. */
#include <stdlib.h>
#include <string.h>

#include "taskgraph_impl.h"

#define PARAMS_ALIGN 16u

tsr_status tsr_taskgraph_create(tsr_ctx *ctx, tsr_taskgraph **out) {
  TSR_CHECK(out != NULL, TSR_EINVAL, "tsr_taskgraph_create: out is NULL");
  *out = NULL;
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "tsr_taskgraph_create: ctx is NULL");
  tsr_taskgraph *g;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *g, (void **)&g));
  g->ctx = ctx;
  tsr_status status =
      tsr__alloc_array(ctx, 1, sizeof *g->in_off, "task inputs", (void **)&g->in_off);
  if (status != TSR_OK) {
    tsr_free(ctx, g);
    return status;
  }
  g->in_off[0] = 0;
  *out = g;
  return TSR_OK;
}

static void free_finalized(tsr_taskgraph *g) {
  tsr_free(g->ctx, g->succ_off);
  tsr_free(g->ctx, g->succ);
  tsr_free(g->ctx, g->order);
  tsr_free(g->ctx, g->priority);
  g->succ_off = g->succ = g->order = g->priority = NULL;
  g->finalized = false;
}

void tsr__taskgraph_free_outputs(tsr_taskgraph *g) {
  if (g->outputs != NULL) {
    for (uint32_t t = 0; t < g->n_outputs; t++)
      tsr__task_free_output(g, t, g->outputs[t]);
    tsr_free(g->ctx, g->outputs);
  }
  g->outputs = NULL;
  g->n_outputs = 0;
  g->have_outputs = false;
}

void tsr_taskgraph_destroy(tsr_taskgraph **graph) {
  if (graph == NULL || *graph == NULL)
    return;
  tsr_taskgraph *g = *graph;
  tsr_ctx *ctx = g->ctx;
  tsr__taskgraph_free_outputs(g);
  free_finalized(g);
  tsr_free(ctx, g->kernel_stats);
  tsr_free(ctx, g->kernels);
  tsr_free(ctx, g->tasks);
  tsr_free(ctx, g->in_off);
  tsr_free(ctx, g->inputs);
  tsr_free(ctx, g->params);
  tsr_free(ctx, g->node_hash);
  tsr_free(ctx, g->node_op);
  tsr_free(ctx, g);
  *graph = NULL;
}

static bool valid_kernel_name(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= TSR__KERNEL_NAME_BYTES)
    return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
      return false;
  }
  return true;
}

tsr_status tsr_taskgraph_add_kernel(tsr_taskgraph *g, const char *name, tsr_kernel_fn fn,
                                    void *user, uint32_t *kernel_out) {
  TSR_CHECK(kernel_out != NULL, TSR_EINVAL, "tsr_taskgraph_add_kernel: kernel_out is NULL");
  *kernel_out = 0;
  TSR_CHECK(g != NULL, TSR_EINVAL, "tsr_taskgraph_add_kernel: graph is NULL");
  TSR_CHECK(name != NULL, TSR_EINVAL, "tsr_taskgraph_add_kernel: name is NULL");
  TSR_CHECK(valid_kernel_name(name), TSR_EINVAL,
            "tsr_taskgraph_add_kernel: name '%.80s' must be 1 to %d printable ASCII characters "
            "without quotes or backslashes",
            name, TSR__KERNEL_NAME_BYTES - 1);
  TSR_CHECK(fn != NULL, TSR_EINVAL, "tsr_taskgraph_add_kernel: fn is NULL for kernel '%s'", name);
  for (uint32_t k = 0; k < g->n_kernels; k++) {
    if (g->kernels[k].fn == fn && g->kernels[k].user == user &&
        strcmp(g->kernels[k].name, name) == 0) {
      *kernel_out = k; /* already registered: lowering registers per node */
      return TSR_OK;
    }
  }
  TSR_CHECK(g->n_kernels < TSR_MAX_KERNELS, TSR_EINVAL,
            "tsr_taskgraph_add_kernel: a graph holds at most %d kernels", TSR_MAX_KERNELS);
  if (g->n_kernels == g->cap_kernels) {
    uint32_t cap = g->cap_kernels ? 2 * g->cap_kernels : 8;
    TSR_TRY(tsr__grow_array(g->ctx, (void **)&g->kernels, g->n_kernels, cap, sizeof *g->kernels,
                            "kernel table"));
    g->cap_kernels = cap;
  }
  tsr__kernel *k = &g->kernels[g->n_kernels];
  memset(k, 0, sizeof *k);
  strcpy(k->name, name);
  k->fn = fn;
  k->user = user;
  *kernel_out = g->n_kernels++;
  return TSR_OK;
}

/* Makes room for one more task and `n_inputs` more edges and `params_bytes`
 * more parameter bytes, growing each array geometrically. */
static tsr_status reserve(tsr_taskgraph *g, uint32_t n_inputs, uint64_t params_bytes) {
  if (g->n_tasks == g->cap_tasks) {
    uint32_t cap = g->cap_tasks == 0                  ? 1024
                   : g->cap_tasks > TSR_MAX_TASKS / 2 ? TSR_MAX_TASKS
                                                      : 2 * g->cap_tasks;
    TSR_TRY(tsr__grow_array(g->ctx, (void **)&g->tasks, g->n_tasks, cap, sizeof *g->tasks,
                            "task records"));
    TSR_TRY(tsr__grow_array(g->ctx, (void **)&g->in_off, (size_t)g->n_tasks + 1, (size_t)cap + 1,
                            sizeof *g->in_off, "task inputs"));
    g->cap_tasks = cap;
  }
  if (g->n_edges + n_inputs > g->cap_edges) {
    uint64_t cap = g->cap_edges ? 2 * g->cap_edges : 4096;
    while (cap < g->n_edges + n_inputs)
      cap *= 2;
    if (cap > UINT32_MAX)
      cap = UINT32_MAX;
    TSR_TRY(tsr__grow_array(g->ctx, (void **)&g->inputs, g->n_edges, cap, sizeof *g->inputs,
                            "task input lists"));
    g->cap_edges = cap;
  }
  uint64_t need = (g->params_used + PARAMS_ALIGN - 1) / PARAMS_ALIGN * PARAMS_ALIGN + params_bytes;
  if (need > g->params_cap) {
    uint64_t cap = g->params_cap ? 2 * g->params_cap : 4096;
    while (cap < need)
      cap *= 2;
    TSR_TRY(tsr__grow_array(g->ctx, (void **)&g->params, g->params_used, cap, 1,
                            "task parameter blocks"));
    g->params_cap = cap;
  }
  return TSR_OK;
}

static tsr_status add_task(tsr_taskgraph *g, uint32_t kernel, const uint32_t *inputs,
                           uint32_t n_inputs, const void *params, size_t params_bytes,
                           size_t output_bytes, uint32_t *task_out) {
  TSR_CHECK(g != NULL, TSR_EINVAL, "tsr_taskgraph_add_task: graph is NULL");
  TSR_CHECK(kernel < g->n_kernels, TSR_EINVAL,
            "tsr_taskgraph_add_task: kernel = %u is not a registered kernel (the graph has %u)",
            kernel, g->n_kernels);
  TSR_CHECK(n_inputs == 0 || inputs != NULL, TSR_EINVAL,
            "tsr_taskgraph_add_task: inputs is NULL with n_inputs = %u", n_inputs);
  TSR_CHECK(params_bytes == 0 || params != NULL, TSR_EINVAL,
            "tsr_taskgraph_add_task: params is NULL with params_bytes = %zu", params_bytes);
  TSR_CHECK(params_bytes <= UINT32_MAX, TSR_EINVAL,
            "tsr_taskgraph_add_task: params_bytes = %zu exceeds 4 GiB", params_bytes);
  TSR_CHECK(g->n_tasks < TSR_MAX_TASKS, TSR_EINVAL,
            "tsr_taskgraph_add_task: a graph holds at most %u tasks", TSR_MAX_TASKS);
  TSR_CHECK((uint64_t)g->n_edges + n_inputs < UINT32_MAX, TSR_EINVAL,
            "tsr_taskgraph_add_task: a graph holds at most %u input edges", UINT32_MAX - 1);
  for (uint32_t i = 0; i < n_inputs; i++)
    TSR_CHECK(inputs[i] < g->n_tasks, TSR_EINVAL,
              "tsr_taskgraph_add_task: inputs[%u] = %u is not an earlier task (the graph has %u)",
              i, inputs[i], g->n_tasks);
  TSR_TRY(reserve(g, n_inputs, params_bytes));
  /* The graph changes: the last run's outputs no longer describe it. */
  tsr__taskgraph_free_outputs(g);

  uint32_t t = g->n_tasks;
  tsr__task *task = &g->tasks[t];
  task->params_off = (g->params_used + PARAMS_ALIGN - 1) / PARAMS_ALIGN * PARAMS_ALIGN;
  task->params_bytes = (uint32_t)params_bytes;
  task->out_bytes = output_bytes;
  task->kernel = (uint16_t)kernel;
  task->flags = 0;
  task->owner = TSR__OWNER_UNSET;
  task->reserved = 0;
  if (params_bytes > 0)
    memcpy(g->params + task->params_off, params, params_bytes);
  g->params_used = task->params_off + params_bytes;
  if (n_inputs > 0)
    memcpy(g->inputs + g->n_edges, inputs, n_inputs * sizeof *inputs);
  g->n_edges += n_inputs;
  g->in_off[t + 1] = (uint32_t)g->n_edges;
  g->n_tasks = t + 1;
  if (g->finalized)
    free_finalized(g);
  *task_out = t;
  return TSR_OK;
}

tsr_status tsr_taskgraph_add_task(tsr_taskgraph *g, uint32_t kernel, const uint32_t *inputs,
                                  uint32_t n_inputs, const void *params, size_t params_bytes,
                                  size_t output_bytes, uint32_t *task_out) {
  TSR_CHECK(task_out != NULL, TSR_EINVAL, "tsr_taskgraph_add_task: task_out is NULL");
  /* *task_out is written only once the inputs are copied: callers may build
   * a reduction level in place, with task_out pointing into `inputs`. */
  uint32_t t = 0;
  tsr_status status = add_task(g, kernel, inputs, n_inputs, params, params_bytes, output_bytes, &t);
  *task_out = status == TSR_OK ? t : 0;
  return status;
}

static tsr_status buffer_kernel(const tsr_kernel_call *call) {
  (void)call; /* the runtime hands the caller's buffer on as the output */
  return TSR_OK;
}

tsr_status tsr_taskgraph_add_buffer(tsr_taskgraph *g, const void *data, size_t bytes,
                                    uint32_t *task_out) {
  TSR_CHECK(g != NULL && task_out != NULL, TSR_EINVAL,
            "tsr_taskgraph_add_buffer: graph or task_out is NULL");
  TSR_CHECK(data != NULL || bytes == 0, TSR_EINVAL,
            "tsr_taskgraph_add_buffer: data is NULL with bytes = %zu", bytes);
  uint32_t k;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "buffer", buffer_kernel, NULL, &k));
  TSR_TRY(add_task(g, k, NULL, 0, &data, sizeof data, bytes, task_out));
  if (bytes > 0)
    g->tasks[*task_out].flags |= TSR__TASK_EXTERNAL;
  return TSR_OK;
}

tsr_status tsr_taskgraph_keep(tsr_taskgraph *g, uint32_t task) {
  TSR_CHECK(g != NULL, TSR_EINVAL, "tsr_taskgraph_keep: graph is NULL");
  TSR_CHECK(task < g->n_tasks, TSR_EINVAL,
            "tsr_taskgraph_keep: task = %u is not in the graph (it has %u)", task, g->n_tasks);
  g->tasks[task].flags |= TSR__TASK_KEEP;
  return TSR_OK;
}

tsr_status tsr_taskgraph_set_owner(tsr_taskgraph *g, uint32_t task, int rank) {
  TSR_CHECK(g != NULL, TSR_EINVAL, "tsr_taskgraph_set_owner: graph is NULL");
  TSR_CHECK(task < g->n_tasks, TSR_EINVAL,
            "tsr_taskgraph_set_owner: task = %u is not in the graph (it has %u)", task, g->n_tasks);
  TSR_CHECK(rank >= 0 || rank == TSR_OWNER_ALL, TSR_EINVAL,
            "tsr_taskgraph_set_owner: rank = %d is negative (and not TSR_OWNER_ALL)", rank);
  g->tasks[task].owner = rank;
  return TSR_OK;
}

uint32_t tsr_taskgraph_ntasks(const tsr_taskgraph *g) { return g ? g->n_tasks : 0; }
uint64_t tsr_taskgraph_nedges(const tsr_taskgraph *g) { return g ? g->n_edges : 0; }

tsr_status tsr_taskgraph_output(const tsr_taskgraph *g, uint32_t task, const void **data,
                                size_t *bytes) {
  TSR_CHECK(data != NULL && bytes != NULL, TSR_EINVAL,
            "tsr_taskgraph_output: data or bytes is NULL");
  *data = NULL;
  *bytes = 0;
  TSR_CHECK(g != NULL, TSR_EINVAL, "tsr_taskgraph_output: graph is NULL");
  TSR_CHECK(task < g->n_tasks, TSR_EINVAL,
            "tsr_taskgraph_output: task = %u is not in the graph (it has %u)", task, g->n_tasks);
  TSR_CHECK(g->have_outputs, TSR_EINVAL,
            "tsr_taskgraph_output: the graph has no outputs: it has not run successfully since "
            "it last changed");
  TSR_CHECK(g->stats.ranks <= 1 || (g->tasks[task].flags & TSR__TASK_KEPT) ||
                !(g->tasks[task].flags & TSR__TASK_KEEP),
            TSR_EINVAL,
            "tsr_taskgraph_output: task %u ran on another rank (rank %d of %d has only the kept "
            "outputs of the tasks it ran or received)",
            task, g->stats.rank, g->stats.ranks);
  TSR_CHECK(g->tasks[task].flags & TSR__TASK_KEPT, TSR_EINVAL,
            "tsr_taskgraph_output: task %u was not marked with tsr_taskgraph_keep() before the "
            "last run",
            task);
  *data = g->outputs[task];
  *bytes = g->tasks[task].out_bytes;
  return TSR_OK;
}

const tsr_run_stats *tsr_taskgraph_stats(const tsr_taskgraph *g) { return g ? &g->stats : NULL; }

/* Sorts a successor list by descending priority number, so that pushing in
 * list order leaves the most urgent successor on top of a LIFO deque.  Lists
 * are short, except for broadcast-like fan-out, where an in-place heapsort
 * keeps it O(n log n) without allocating. */
static bool runs_later(const uint32_t *priority, uint32_t a, uint32_t b) {
  return priority[a] > priority[b];
}

static void sift_down(uint32_t *list, uint32_t root, uint32_t n, const uint32_t *priority) {
  for (;;) {
    uint32_t child = 2 * root + 1;
    if (child >= n)
      return;
    /* A min-heap on priority number: the heap's root runs first, so popping
     * it to the end yields descending order. */
    if (child + 1 < n && runs_later(priority, list[child], list[child + 1]))
      child++;
    if (!runs_later(priority, list[root], list[child]))
      return;
    uint32_t tmp = list[root];
    list[root] = list[child];
    list[child] = tmp;
    root = child;
  }
}

static void sort_successors(uint32_t *list, uint32_t n, const uint32_t *priority) {
  if (n > 32) {
    for (uint32_t i = n / 2; i-- > 0;)
      sift_down(list, i, n, priority);
    for (uint32_t end = n - 1; end > 0; end--) {
      uint32_t tmp = list[0];
      list[0] = list[end];
      list[end] = tmp;
      sift_down(list, 0, end, priority);
    }
    return;
  }
  for (uint32_t i = 1; i < n; i++) {
    uint32_t v = list[i];
    uint32_t j = i;
    while (j > 0 && runs_later(priority, v, list[j - 1])) {
      list[j] = list[j - 1];
      j--;
    }
    list[j] = v;
  }
}

tsr_status tsr__taskgraph_finalize(tsr_taskgraph *g) {
  if (g->finalized)
    return TSR_OK;
  tsr_status status = TSR_OK;
  uint32_t n = g->n_tasks;
  TSR__TRY_GOTO(status,
                tsr_calloc(g->ctx, (size_t)n + 1, sizeof *g->succ_off, (void **)&g->succ_off));
  TSR__TRY_GOTO(status, tsr__alloc_array(g->ctx, g->n_edges, sizeof *g->succ, "successor lists",
                                         (void **)&g->succ));
  /* Count each task's consumers, prefix-sum, then fill (CSR transpose). */
  g->max_fan_in = 0;
  for (uint32_t t = 0; t < n; t++) {
    uint32_t n_in = tsr__task_n_inputs(g, t);
    if (n_in > g->max_fan_in)
      g->max_fan_in = n_in;
    for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
      g->succ_off[g->inputs[e] + 1]++;
  }
  for (uint32_t t = 0; t < n; t++)
    g->succ_off[t + 1] += g->succ_off[t];
  /* Fill using succ_off[t] as a cursor, then shift back. */
  for (uint32_t t = 0; t < n; t++)
    for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
      g->succ[g->succ_off[g->inputs[e]]++] = t;
  for (uint32_t t = n; t > 0; t--)
    g->succ_off[t] = g->succ_off[t - 1];
  g->succ_off[0] = 0;

  TSR__TRY_GOTO(status, tsr__taskgraph_order(g));
  for (uint32_t t = 0; t < n; t++)
    sort_successors(g->succ + g->succ_off[t], tsr__task_n_succ(g, t), g->priority);
  g->finalized = true;
  return TSR_OK;
fail:
  free_finalized(g);
  return status;
}

tsr_status tsr_taskgraph_cull(tsr_taskgraph *g, const uint32_t *wanted, uint32_t n) {
  TSR_CHECK(g != NULL, TSR_EINVAL, "tsr_taskgraph_cull: graph is NULL");
  TSR_CHECK(n == 0 || wanted != NULL, TSR_EINVAL, "tsr_taskgraph_cull: wanted is NULL");
  for (uint32_t i = 0; i < n; i++)
    TSR_CHECK(wanted[i] < g->n_tasks, TSR_EINVAL,
              "tsr_taskgraph_cull: wanted[%u] = %u is not a task (the graph has %u)", i, wanted[i],
              g->n_tasks);
  if (n == 0) {
    for (uint32_t t = 0; t < g->n_tasks; t++)
      g->tasks[t].flags &= (uint16_t)~TSR__TASK_CULLED;
    return TSR_OK;
  }
  /* Mark what the wanted tasks need: inputs have smaller ids than their
   * consumers, so one sweep from the highest id down settles everything. */
  for (uint32_t t = 0; t < g->n_tasks; t++)
    g->tasks[t].flags |= TSR__TASK_CULLED;
  for (uint32_t i = 0; i < n; i++)
    g->tasks[wanted[i]].flags &= (uint16_t)~TSR__TASK_CULLED;
  for (uint32_t t = 0; t < g->n_tasks; t++) /* kept outputs are wanted too */
    if (g->tasks[t].flags & TSR__TASK_KEEP)
      g->tasks[t].flags &= (uint16_t)~TSR__TASK_CULLED;
  for (uint32_t t = g->n_tasks; t-- > 0;) {
    if (tsr__task_culled(g, t))
      continue;
    for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++)
      g->tasks[g->inputs[e]].flags &= (uint16_t)~TSR__TASK_CULLED;
  }
  return TSR_OK;
}

/* See taskgraph_impl.h: transfer.c's resolve_owners rule, before a run. */
int32_t tsr__taskgraph_placed_on(const tsr_taskgraph *g, uint32_t t) {
  int32_t o = g->tasks[t].owner;
  if (o == TSR__OWNER_READERS && tsr__task_n_inputs(g, t) > 0)
    return 0; /* only sources are made where read */
  if (o != TSR__OWNER_UNSET)
    return o;
  bool all = tsr__task_n_inputs(g, t) > 0;
  for (uint32_t e = g->in_off[t]; e < g->in_off[t + 1]; e++) {
    int32_t i = tsr__taskgraph_placed_on(g, g->inputs[e]);
    if (i >= 0)
      return i;
    all &= i == TSR_OWNER_ALL;
  }
  return all ? TSR_OWNER_ALL : 0;
}

tsr_status tsr__taskgraph_run_local(tsr_ctx *ctx, const char *name, tsr_kernel_fn fn, void *arg,
                                    int64_t n) {
  tsr_taskgraph *g = NULL;
  tsr_status status = TSR_OK;
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &g));
  tsr__taskgraph_set_local(g);
  uint32_t k, id;
  TSR__TRY_GOTO(status, tsr_taskgraph_add_kernel(g, name, fn, NULL, &k));
  for (int64_t i = 0; i < n; i++) {
    tsr__local_task t = {arg, i};
    TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, k, NULL, 0, &t, sizeof t, 0, &id));
  }
  TSR__TRY_GOTO(status, tsr_taskgraph_run(g));
fail:
  tsr_taskgraph_destroy(&g);
  return status;
}
