/* test_observe.c — watching runs: the progress callback (done <= total,
 * done never decreasing, never two calls at once, a final call with
 * done == total); the Chrome trace (valid JSON with "traceEvents" and
 * exactly one "X" event per task, named by its kernel, with args.task
 * covering every task — checked with python3 when it is installed, skipped
 * otherwise; an unwritable path is TSR_EIO naming it and leaves no file);
 * the DOT export (one node line per task, one "tA -> tB" line per input
 * edge, compared with the graph built; an unwritable path is TSR_EIO naming
 * it and leaves nothing behind); the context's run observer (its statistics
 * callback and one trace file for the runs without options of their own);
 * and tsr_run_stats_print. */
#include "sched_helpers.h"

#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const sched_config configs[] = {
    {TSR_EXECUTOR_SERIAL, 1},
    {TSR_EXECUTOR_OMP, 2},
    {TSR_EXECUTOR_OMP, 4},
};
#define N_CONFIGS (sizeof configs / sizeof configs[0])

/* ---- temporary directories ---------------------------------------------------- */

static void make_temp_dir(char *dir, size_t size) {
  snprintf(dir, size, "/tmp/tsr_test_observe_XXXXXX");
  assert_non_null(mkdtemp(dir));
}

static bool file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* The directory's entries, sorted, joined by '|' ("" when empty). */
static void list_dir(const char *dir, char *out, size_t size) {
  char names[64][256];
  int n = 0;
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    assert_true(n < 64);
    snprintf(names[n++], sizeof names[0], "%s", e->d_name);
  }
  closedir(d);
  for (int i = 1; i < n; i++) /* insertion sort */
    for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      char tmp[256];
      memcpy(tmp, names[j], sizeof tmp);
      memcpy(names[j], names[j - 1], sizeof tmp);
      memcpy(names[j - 1], tmp, sizeof tmp);
    }
  size_t used = 0;
  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    int w = snprintf(out + used, size - used, "%s%s", i > 0 ? "|" : "", names[i]);
    assert_true(w >= 0 && (size_t)w < size - used);
    used += (size_t)w;
  }
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  assert_int_equal(fseek(f, 0, SEEK_END), 0);
  long n = ftell(f);
  assert_true(n >= 0);
  rewind(f);
  char *text = malloc((size_t)n + 1);
  assert_non_null(text);
  assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
  text[n] = '\0';
  fclose(f);
  if (len != NULL)
    *len = (size_t)n;
  return text;
}

static size_t count_occurrences(const char *text, const char *needle) {
  size_t count = 0;
  for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
    count++;
  return count;
}

/* ---- progress --------------------------------------------------------------- */

typedef struct progress_log {
  uint64_t calls;
  uint64_t last_done, last_total;
  uint64_t bad_total;   /* calls with done > total or total != expected */
  uint64_t decreasing;  /* calls whose done is below the previous call's */
  uint64_t overlapping; /* calls that started while another was running */
  uint64_t expected_total;
  _Atomic int inside;
} progress_log;

static int record_progress(uint64_t done, uint64_t total, void *user) {
  progress_log *log = user;
  if (atomic_exchange(&log->inside, 1) != 0)
    log->overlapping++;
  if (done > total || total != log->expected_total)
    log->bad_total++;
  if (log->calls > 0 && done < log->last_done)
    log->decreasing++;
  log->calls++;
  log->last_done = done;
  log->last_total = total;
  atomic_store(&log->inside, 0);
  return 0;
}

static void test_observe__progress_callback(void **state) {
  tsr_ctx *ctx = *state;
  const uint32_t n = 2000;
  sched_dag d;
  sched_dag_random(&d, n, 31337, 3);
  double *ref = sched_reference(&d);
  sched_kernel_info infos[3];
  memset(infos, 0, sizeof infos);
  for (int k = 0; k < 3; k++)
    infos[k].spin_ns = 2000; /* a few microseconds per task */
  tsr_taskgraph *g = NULL;
  sched_build(ctx, &d, 3, infos, &g);
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    progress_log log;
    memset(&log, 0, sizeof log);
    log.expected_total = n;
    tsr_run_options opts = {
        .progress = record_progress, .progress_user = &log, .progress_interval = 1e-6};
    assert_ok(tsr_taskgraph_run_ex(g, &opts));
    sched_check_outputs(g, &d, ref);
    assert_true(log.calls >= 2); /* some while running, and the final one */
    assert_int_equal(log.bad_total, 0);
    assert_int_equal(log.decreasing, 0);
    assert_int_equal(log.overlapping, 0);
    assert_int_equal(log.last_done, n);
    assert_int_equal(log.last_total, n);
  }
  tsr_taskgraph_destroy(&g);
  free(ref);
  sched_dag_free(&d);
}

/* ---- Chrome trace -------------------------------------------------------------- */

/* argv: trace file, file of expected kernel names (one per task, in id
 * order).  Exits non-zero with a message on the first problem. */
static const char trace_checker[] =
    "import json, sys\n"
    "def check(ok, *what):\n" /* not `assert`: python3 -O would drop it */
    "    if not ok:\n"
    "        sys.exit('trace check failed: %r' % (what,))\n"
    "with open(sys.argv[1]) as f:\n"
    "    doc = json.load(f)\n"
    "with open(sys.argv[2]) as f:\n"
    "    names = f.read().split()\n"
    "check(isinstance(doc, dict) and 'traceEvents' in doc, 'no traceEvents')\n"
    "xs = [e for e in doc['traceEvents'] if e.get('ph') == 'X']\n"
    "check(len(xs) == len(names), 'X events', len(xs), 'tasks', len(names))\n"
    "seen = set()\n"
    "for e in xs:\n"
    "    t = e['args']['task']\n"
    "    check(isinstance(t, int) and 0 <= t < len(names), 'bad task', t)\n"
    "    check(t not in seen, 'task twice', t)\n"
    "    seen.add(t)\n"
    "    check(e['name'] == names[t], 'task', t, e['name'], 'expected', names[t])\n"
    "    check(e['ts'] >= 0 and e['dur'] >= 0, 'times', e)\n"
    "check(len(seen) == len(names), 'tasks covered', len(seen))\n";

static bool have_python3(void) { return system("command -v python3 >/dev/null 2>&1") == 0; }

static void test_observe__chrome_trace(void **state) {
  tsr_ctx *ctx = *state;
  const uint32_t n = 600;
  sched_dag d;
  sched_dag_random(&d, n, 8080, 3);
  sched_kernel_info infos[3];
  memset(infos, 0, sizeof infos);
  tsr_taskgraph *g = NULL;
  sched_build(ctx, &d, 3, infos, &g);
  char dir[64], path[128], listing[1024];
  make_temp_dir(dir, sizeof dir);

  const bool python = have_python3();
  char checker[128], expected[128];
  snprintf(checker, sizeof checker, "%s/check_trace.py", dir);
  snprintf(expected, sizeof expected, "%s/expected_names.txt", dir);
  if (python) {
    FILE *f = fopen(checker, "w");
    assert_non_null(f);
    fputs(trace_checker, f);
    assert_int_equal(fclose(f), 0);
    f = fopen(expected, "w");
    assert_non_null(f);
    for (uint32_t t = 0; t < n; t++)
      fprintf(f, "%s\n", sched_kernel_names[d.kernel[t]]);
    assert_int_equal(fclose(f), 0);
  } else {
    print_message("python3 not found: skipping the JSON validation of the trace\n");
  }

  char name[32];
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    snprintf(path, sizeof path, "%s/trace_%zu.json", dir, c);
    tsr_run_options opts = {.trace_path = path};
    assert_ok(tsr_taskgraph_run_ex(g, &opts));
    assert_true(file_exists(path));
    /* Checks that need no JSON parser. */
    char *text = read_file(path, NULL);
    assert_non_null(strstr(text, "\"traceEvents\""));
    assert_int_equal(count_occurrences(text, "\"ph\":\"X\""), n);
    free(text);
    if (python) {
      char cmd[512];
      snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s'", checker, path, expected);
      int rc = system(cmd);
      if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0))
        print_error("%s: trace check failed (%d) on %s\n",
                    sched_config_name(configs[c], name, sizeof name), rc, path);
      assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    }
  }
  if (python) {
    assert_int_equal(unlink(checker), 0);
    assert_int_equal(unlink(expected), 0);
  }
  /* No temporary file was left beside the traces. */
  list_dir(dir, listing, sizeof listing);
  assert_string_equal(listing, "trace_0.json|trace_1.json|trace_2.json");

  /* A directory that does not exist: TSR_EIO naming the path, no file. */
  snprintf(path, sizeof path, "%s/no/such/dir/trace.json", dir);
  tsr_run_options opts = {.trace_path = path};
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    assert_fails(tsr_taskgraph_run_ex(g, &opts), TSR_EIO, path);
    assert_false(file_exists(path));
    const void *data;
    size_t bytes;
    uint32_t sink = n - 1;
    while (!d.keep[sink])
      sink--;
    assert_fails(tsr_taskgraph_output(g, sink, &data, &bytes), TSR_EINVAL, "no outputs");
  }
  list_dir(dir, listing, sizeof listing);
  assert_string_equal(listing, "trace_0.json|trace_1.json|trace_2.json");
  /* An empty path is rejected up front. */
  opts.trace_path = "";
  assert_fails(tsr_taskgraph_run_ex(g, &opts), TSR_EINVAL, "trace_path");

  for (size_t c = 0; c < N_CONFIGS; c++) {
    snprintf(path, sizeof path, "%s/trace_%zu.json", dir, c);
    assert_int_equal(unlink(path), 0);
  }
  assert_int_equal(rmdir(dir), 0);
  tsr_taskgraph_destroy(&g);
  sched_dag_free(&d);
}

/* ---- the context's run observer -------------------------------------------------- */

static void count_stats(const tsr_run_stats *stats, void *user) {
  int *calls = user;
  (*calls)++;
  assert_true(stats->tasks > 0);
}

static void test_observe__run_observer(void **state) {
  tsr_ctx *ctx = *state;
  const uint32_t n = 50;
  sched_dag d;
  sched_dag_random(&d, n, 77, 3);
  sched_kernel_info infos[3];
  memset(infos, 0, sizeof infos);
  tsr_taskgraph *g = NULL;
  sched_build(ctx, &d, 3, infos, &g);
  char dir[64], path[128], own[128], listing[1024];
  make_temp_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/all.json", dir);
  snprintf(own, sizeof own, "%s/own.json", dir);
  int calls = 0;
  tsr_run_options o = {.trace_path = path};
  assert_ok(tsr_ctx_set_run_observer(ctx, &o, count_stats, &calls));
  /* Three runs without options of their own, one with an own trace (not
   * observed), one with options asking for neither (observed). */
  assert_ok(tsr_taskgraph_run(g));
  assert_ok(tsr_taskgraph_run_ex(g, NULL));
  tsr_run_options mine = {.trace_path = own};
  assert_ok(tsr_taskgraph_run_ex(g, &mine));
  tsr_run_options none = {0};
  assert_ok(tsr_taskgraph_run_ex(g, &none));
  assert_int_equal(calls, 3);
  assert_false(file_exists(path)); /* written when the observer goes */
  assert_true(file_exists(own));
  assert_ok(tsr_ctx_set_run_observer(ctx, NULL, NULL, NULL));
  assert_ok(tsr_taskgraph_run(g)); /* no observer any more */
  assert_int_equal(calls, 3);
  char *text = read_file(path, NULL);
  assert_non_null(strstr(text, "\"traceEvents\""));
  assert_int_equal(count_occurrences(text, "\"ph\":\"X\""), 3 * n);
  assert_int_equal(count_occurrences(text, "\"process_name\""), 3);
  assert_non_null(strstr(text, "graph 3 (50 tasks)"));
  free(text);
  text = read_file(own, NULL);
  assert_int_equal(count_occurrences(text, "\"ph\":\"X\""), n);
  free(text);
  if (have_python3()) { /* valid JSON */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; json.load(open(sys.argv[1]))' '%s'",
             path);
    assert_int_equal(system(cmd), 0);
  }
  /* Statistics only; then an empty trace path and an unwritable one. */
  assert_ok(tsr_ctx_set_run_observer(ctx, NULL, count_stats, &calls));
  assert_ok(tsr_taskgraph_run(g));
  assert_int_equal(calls, 4);
  tsr_run_options empty = {.trace_path = ""};
  assert_fails(tsr_ctx_set_run_observer(ctx, &empty, NULL, NULL), TSR_EINVAL, "trace_path");
  snprintf(own, sizeof own, "%s/no/such/dir/t.json", dir);
  tsr_run_options bad = {.trace_path = own};
  assert_ok(tsr_ctx_set_run_observer(ctx, &bad, NULL, NULL));
  assert_fails(tsr_taskgraph_run(g), TSR_EIO, own);
  assert_ok(tsr_ctx_set_run_observer(ctx, NULL, NULL, NULL));
  assert_fails(tsr_ctx_set_run_observer(NULL, NULL, NULL, NULL), TSR_EINVAL, "ctx");
  list_dir(dir, listing, sizeof listing);
  assert_string_equal(listing, "all.json|own.json");
  snprintf(path, sizeof path, "%s/all.json", dir);
  assert_int_equal(unlink(path), 0);
  snprintf(path, sizeof path, "%s/own.json", dir);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
  tsr_taskgraph_destroy(&g);
  sched_dag_free(&d);
}

/* ---- DOT export --------------------------------------------------------------- */

static int compare_edges(const void *a, const void *b) {
  const uint64_t *x = a, *y = b;
  return *x < *y ? -1 : *x > *y;
}

static void test_observe__dot_export(void **state) {
  tsr_ctx *ctx = *state;
  const uint32_t n = 80;
  /* A random DAG plus one task with a repeated input {5, 5, 7}: one edge
   * line per input, repeats included. */
  sched_dag tmp, d;
  sched_dag_random(&tmp, n, 1234, 3);
  sched_dag_init(&d, n + 1, tmp.in_off[n] + 3);
  for (uint32_t t = 0; t < n; t++)
    sched_dag_add(&d, tmp.kernel[t], tmp.inputs + tmp.in_off[t], tmp.in_off[t + 1] - tmp.in_off[t]);
  sched_dag_free(&tmp);
  const uint32_t rep[3] = {5, 5, 7};
  sched_dag_add(&d, 1, rep, 3);
  const uint32_t ntasks = d.n;
  const uint32_t nedges = d.in_off[ntasks];
  sched_kernel_info infos[3];
  memset(infos, 0, sizeof infos);
  tsr_taskgraph *g = NULL;
  sched_build(ctx, &d, 3, infos, &g);

  char dir[64], path[128], listing[1024];
  make_temp_dir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/graph.dot", dir);
  assert_ok(tsr_taskgraph_write_dot(g, path));
  assert_ok(tsr_taskgraph_write_dot(g, path)); /* replaces the file */

  char *text = read_file(path, NULL);
  assert_true(strncmp(text, "digraph", 7) == 0);
  uint32_t *node_seen = calloc(ntasks, sizeof *node_seen);
  uint64_t *edges = malloc((nedges + 1) * sizeof *edges);
  uint64_t *want = malloc((nedges + 1) * sizeof *want);
  assert_non_null(node_seen);
  assert_non_null(edges);
  assert_non_null(want);
  uint32_t n_edges = 0;
  for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    unsigned a, b;
    char label[80];
    char arrow_end;
    if (sscanf(line, " t%u -> t%u%c", &a, &b, &arrow_end) == 3) {
      assert_int_equal(arrow_end, ';');
      assert_true(a < ntasks && b < ntasks);
      assert_true(n_edges < nedges);
      edges[n_edges++] = (uint64_t)a << 32 | b;
    } else if (sscanf(line, " t%u [label=\"%79[^\\\"]", &a, label) == 2) {
      assert_true(a < ntasks);
      node_seen[a]++;
      assert_string_equal(label, sched_kernel_names[d.kernel[a]]);
    }
  }
  for (uint32_t t = 0; t < ntasks; t++)
    assert_int_equal(node_seen[t], 1);
  assert_int_equal(n_edges, nedges);
  uint32_t m = 0;
  for (uint32_t t = 0; t < ntasks; t++)
    for (uint32_t e = d.in_off[t]; e < d.in_off[t + 1]; e++)
      want[m++] = (uint64_t)d.inputs[e] << 32 | t;
  qsort(edges, n_edges, sizeof *edges, compare_edges);
  qsort(want, m, sizeof *want, compare_edges);
  assert_memory_equal(edges, want, m * sizeof *want);
  /* The repeated input shows as two identical edge lines. */
  uint64_t repeated = (uint64_t)5 << 32 | (ntasks - 1);
  uint32_t count = 0;
  for (uint32_t i = 0; i < n_edges; i++)
    count += edges[i] == repeated;
  assert_int_equal(count, 2);
  free(text);
  free(node_seen);
  free(edges);
  free(want);

  /* An unwritable path: TSR_EIO naming it, nothing left behind. */
  char bad[160];
  snprintf(bad, sizeof bad, "%s/missing/graph.dot", dir);
  assert_fails(tsr_taskgraph_write_dot(g, bad), TSR_EIO, bad);
  assert_false(file_exists(bad));
  list_dir(dir, listing, sizeof listing);
  assert_string_equal(listing, "graph.dot");
  assert_fails(tsr_taskgraph_write_dot(NULL, path), TSR_EINVAL, "graph");
  assert_fails(tsr_taskgraph_write_dot(g, NULL), TSR_EINVAL, "path");

  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
  tsr_taskgraph_destroy(&g);
  sched_dag_free(&d);
}

/* ---- tsr_run_stats_print ----------------------------------------------------------- */

static void test_observe__stats_print(void **state) {
  tsr_ctx *ctx = *state;
  sched_dag d;
  sched_dag_random(&d, 500, 5, 3);
  sched_kernel_info infos[3];
  memset(infos, 0, sizeof infos);
  tsr_taskgraph *g = NULL;
  sched_build(ctx, &d, 3, infos, &g);
  for (size_t c = 0; c < N_CONFIGS; c++) {
    sched_configure(ctx, configs[c]);
    assert_ok(tsr_taskgraph_run(g));
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_ok(tsr_run_stats_print(tsr_taskgraph_stats(g), f));
    assert_int_equal(fclose(f), 0);
    assert_non_null(buf);
    for (int k = 0; k < 3; k++)
      assert_non_null(strstr(buf, sched_kernel_names[k]));
    assert_non_null(strstr(buf, "500 tasks"));
    assert_non_null(strstr(buf, "500 run"));
    assert_non_null(strstr(buf, configs[c].executor == TSR_EXECUTOR_SERIAL ? "serial" : "omp"));
    free(buf);
  }
  assert_fails(tsr_run_stats_print(NULL, stdout), TSR_EINVAL, "stats");
  assert_fails(tsr_run_stats_print(tsr_taskgraph_stats(g), NULL), TSR_EINVAL, "out");
  tsr_taskgraph_destroy(&g);
  sched_dag_free(&d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_observe__progress_callback, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_observe__chrome_trace, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_observe__run_observer, test_ctx_setup,
                                      test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_observe__dot_export, test_ctx_setup, test_ctx_teardown),
      cmocka_unit_test_setup_teardown(test_observe__stats_print, test_ctx_setup, test_ctx_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
