/* tessera/exec.h — task graphs and the runtime that executes them.
 *
 * A task graph is what a compute call lowers an expression into (docs/architecture.md,
 * "Two graphs"): small fixed-size task records, each running a kernel over
 * the output chunks of its input tasks and producing one output chunk.  Tasks
 * are added in topological order (a task's inputs are tasks added before it),
 * so every graph is acyclic by construction.  Building is single-threaded; a
 * run executes the graph on the context's executor and threads.
 *
 * Chunk lifetime: a task's output buffer is allocated (through the context's
 * accounted allocator) just before its kernel runs, and freed right after its
 * last consumer has run — unless the task was marked with
 * tsr_taskgraph_keep(), in which case it stays readable with
 * tsr_taskgraph_output() until the next run, the next task added, or the
 * graph's destruction. */
#ifndef TESSERA_EXEC_H
#define TESSERA_EXEC_H

#include <tessera/core.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_taskgraph tsr_taskgraph;

/* What a kernel sees when it runs one task.  All pointers are valid only
 * during the call. */
typedef struct tsr_kernel_call {
  const void *const *inputs; /* output buffers of the input tasks, in order */
  const size_t *input_bytes; /* their sizes */
  uint32_t n_inputs;
  void *output; /* output_bytes bytes, 64-byte aligned, uninitialised;
                   NULL when output_bytes is 0 */
  size_t output_bytes;
  const void *params; /* the task's parameter block (16-byte aligned copy) */
  size_t params_bytes;
  void *user;    /* the kernel's user pointer */
  uint32_t task; /* the task's id */
  int thread;    /* the worker running it, 0..threads-1 */
} tsr_kernel_call;

/* A kernel returns TSR_OK, or a failure status with a message set by
 * tsr_error_set() on the calling thread.  Kernels run concurrently on
 * several threads and must not call tsr_taskgraph_* on the running graph. */
typedef tsr_status (*tsr_kernel_fn)(const tsr_kernel_call *call);

#define TSR_MAX_KERNELS 65535
#define TSR_MAX_TASKS 0xfffffffeu

/* Creates an empty graph whose memory is accounted to ctx.  The caller owns
 * *out and frees it with tsr_taskgraph_destroy(). */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_create(tsr_ctx *ctx, tsr_taskgraph **out);
/* Frees the graph, its kept outputs, and sets *graph to NULL; accepts NULL. */
TSR_API void tsr_taskgraph_destroy(tsr_taskgraph **graph);

/* Registers a kernel; `name` (copied, 1..63 characters) labels its tasks in
 * statistics, traces and DOT output.  *kernel_out is its id; registering
 * the same (name, fn, user) again returns the same id. */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_add_kernel(tsr_taskgraph *graph, const char *name,
                                                          tsr_kernel_fn fn, void *user,
                                                          uint32_t *kernel_out);

/* Appends a task running `kernel` on the outputs of `inputs` (n_inputs ids
 * of tasks already in the graph; repeats allowed) and producing
 * `output_bytes` bytes.  `params` (params_bytes bytes, copied; may be NULL
 * when 0) is handed to the kernel.  *task_out is the new task's id; ids are
 * consecutive from 0. */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_add_task(tsr_taskgraph *graph, uint32_t kernel,
                                                        const uint32_t *inputs, uint32_t n_inputs,
                                                        const void *params, size_t params_bytes,
                                                        size_t output_bytes, uint32_t *task_out);

/* Appends a task without inputs whose output is the caller's buffer `data`
 * (`bytes` bytes, read-only, at least 16-byte aligned): no kernel work, no
 * copy; the runtime never frees or spills it, and sends it as it is to
 * other ranks.  It must stay valid and unchanged while the graph may run.
 * This is how computed results (kept outputs, persisted chunks) feed later
 * graphs without a copy. */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_add_buffer(tsr_taskgraph *g, const void *data,
                                                          size_t bytes, uint32_t *task_out);

/* Keeps the task's output after a run (an output the caller asked for). */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_keep(tsr_taskgraph *graph, uint32_t task);
/* Culls the graph to what the n tasks in `wanted` need (docs/architecture.md,
 * "Two graphs": culling): every other task is skipped by later runs — never run, no output
 * allocated — so asking for a slice of a large array computes only the
 * chunks the slice reads.  Tasks marked with tsr_taskgraph_keep() count as
 * wanted.  A later call replaces the previous culling;
 * n == 0 runs everything again.  Adding tasks after culling leaves them
 * (and the culling of earlier tasks) as they are. */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_cull(tsr_taskgraph *graph, const uint32_t *wanted,
                                                    uint32_t n);
/* Under MPI (tessera/dist.h): sets the rank that owns (computes) the task,
 * or TSR_OWNER_ALL for a task every rank runs (its inputs are sent to every
 * rank: results every rank needs).  A task whose owner is not set runs
 * where its first input runs (its first input not owned by all), or on rank
 * 0 when it has no inputs.  A rank beyond the communicator is an error of
 * the run.  Outputs kept with tsr_taskgraph_keep() are readable on the
 * ranks that ran the task. */
#define TSR_OWNER_ALL (-1)
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_set_owner(tsr_taskgraph *graph, uint32_t task,
                                                         int rank);

TSR_API uint32_t tsr_taskgraph_ntasks(const tsr_taskgraph *graph);
TSR_API uint64_t tsr_taskgraph_nedges(const tsr_taskgraph *graph);

/* Progress: called between tasks from a worker thread (whichever finds a
 * report due; never two calls at once), at most every `progress_interval`
 * seconds, and once at the end with done == total.
 * Returning non-zero cancels the run (TSR_ECANCELED). */
typedef int (*tsr_progress_fn)(uint64_t done, uint64_t total, void *user);

typedef struct tsr_run_options {
  tsr_progress_fn progress; /* NULL: none */
  void *progress_user;
  double progress_interval; /* seconds; <= 0 means 0.1 */
  const char *trace_path;   /* write a Chrome trace JSON (Perfetto) here; NULL: none */
} tsr_run_options;

/* Runs every task of the graph on the context's executor and threads.
 * Returns TSR_OK, or the status of the first task that failed — its message
 * ("task 17 (kernel 'load'): <kernel's message>") is then the calling
 * thread's tsr_last_error(); tasks not yet started are cancelled, every
 * chunk buffer is freed, and no output is kept.  A graph may be run again;
 * a new run discards the previous run's outputs.  Not thread-safe on one
 * graph. */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_run(tsr_taskgraph *graph);
/* As tsr_taskgraph_run with options (NULL = defaults). */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_run_ex(tsr_taskgraph *graph,
                                                      const tsr_run_options *options);

/* After a successful run: the output of a kept task.  The buffer stays owned
 * by the graph. */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_output(const tsr_taskgraph *graph, uint32_t task,
                                                      const void **data, size_t *bytes);

typedef struct tsr_kernel_stats {
  const char *name;
  uint64_t tasks; /* tasks of this kernel that ran */
  double seconds; /* summed over threads */
} tsr_kernel_stats;

typedef struct tsr_run_stats {
  tsr_executor executor;
  int threads;
  uint64_t tasks;           /* in the graph */
  uint64_t tasks_run;       /* completed successfully */
  uint64_t tasks_failed;    /* whose output allocation or kernel failed */
  uint64_t tasks_cancelled; /* never started because the run failed or was cancelled */
  uint64_t tasks_culled;    /* skipped: no wanted task needs them (tsr_taskgraph_cull) */
  uint64_t steals;          /* tasks taken from another thread's queue */
  uint64_t chunk_bytes;     /* output chunk bytes allocated during the run */
  uint64_t spilled_bytes;   /* chunk bytes written to the spill file (memory limit set) */
  uint64_t unspilled_bytes; /* chunk bytes read back from it */
  uint64_t peak_bytes;      /* allocator peak during the run, graph included (a run
                                resets the context's peak when it starts) */
  double seconds;           /* wall time of the run */
  /* Under MPI: this rank, the ranks, and this rank's chunk messages. */
  int rank, ranks;
  uint64_t bytes_sent, bytes_received;
  uint64_t messages_sent, messages_received;
  uint32_t n_kernels;
  const tsr_kernel_stats *kernels; /* n_kernels entries, in registration order */
} tsr_run_stats;

/* Statistics of the graph's last run (zeroed before the first).  Owned by the
 * graph, valid until its next run or destruction. */
TSR_API const tsr_run_stats *tsr_taskgraph_stats(const tsr_taskgraph *graph);
/* Prints the statistics as a short human-readable table. */
TSR_API TSR_NODISCARD tsr_status tsr_run_stats_print(const tsr_run_stats *stats, FILE *out);

/* The context's run observer: for every task graph the context runs whose
 * options ask for neither progress nor a trace (the computes inside
 * group-by, join and sort calls, and computes given no options), `run`'s
 * progress callback and trace apply, and `on_stats` (if not NULL) is called
 * after each successful run with its statistics (valid during the call).
 * The trace gathers every run into one Chrome trace file, one process track
 * per run ("graph 3 (585 tasks)") on one time line; it is written
 * (atomically) when the observer is replaced or removed (both NULL) — the
 * status of that call tells whether it was — or when the context is
 * destroyed.  Under MPI each rank writes its own file (run.rank1.json).
 * TSR_EINVAL for a NULL ctx or an empty trace path; TSR_EIO. */
TSR_API TSR_NODISCARD tsr_status tsr_ctx_set_run_observer(
    tsr_ctx *ctx, const tsr_run_options *run,
    void (*on_stats)(const tsr_run_stats *stats, void *user), void *user);

/* Writes the graph in Graphviz DOT: one node per task labelled with its
 * kernel and id, one edge per input.  Written atomically (a temporary file
 * renamed into place).  TSR_EIO names the path on failure. */
TSR_API TSR_NODISCARD tsr_status tsr_taskgraph_write_dot(const tsr_taskgraph *graph,
                                                         const char *path);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_EXEC_H */
