/* common.c — the options every subcommand takes, the context made from
 * them, the progress bar, statistics, and error reporting.
 *
 * The progress bar goes to stderr, by default only when stderr is a
 * terminal; the runtime calls it at most every 0.1 s (10 redraws a second)
 * from one worker thread: tasks done / total, rate and ETA. */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_rank = 0;

bool cli_detect_launch(void) {
  const char *mpi = getenv("TESSERA_MPI");
  if (mpi != NULL && strcmp(mpi, "0") == 0)
    return false;
  static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v != NULL && v[0] != '\0') {
      cli_rank = atoi(v);
      return true;
    }
  }
  return false;
}

int cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("tessera: error: ", stderr);
  if (cli_rank > 0)
    fprintf(stderr, "(rank %d) ", cli_rank);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return CLI_FAILED;
}

int cli_fail(tsr_status status) {
  if (cli_rank > 0) /* every rank has the same message: rank 0 prints it */
    return CLI_FAILED;
  const char *msg = tsr_last_error();
  return cli_error("%s", msg[0] ? msg : tsr_strerror(status));
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("tessera: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n(see 'tessera %s --help')\n", cmd);
  va_end(ap);
  return CLI_USAGE;
}

bool cli_parse_shape(const char *text, int64_t *out, int max, int *n) {
  *n = 0;
  const char *p = text;
  if (*p == '\0')
    return false;
  while (*p != '\0') {
    char *end;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 0 || *n == max)
      return false;
    out[(*n)++] = v;
    if (*end == ',')
      end++;
    else if (*end != '\0')
      return false;
    p = end;
  }
  return true;
}

static bool value(int argc, char **argv, int *i, const char **out, bool *bad) {
  const char *opt = argv[*i];
  const char *eq = strchr(opt, '=');
  if (eq != NULL) {
    *out = eq + 1;
    return true;
  }
  if (*i + 1 >= argc) {
    cli_error("%s needs a value", opt);
    *bad = true;
    return false;
  }
  *out = argv[++*i];
  return true;
}

static bool is(const char *arg, const char *name) {
  size_t n = strlen(name);
  return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

bool cli_common_option(cli_common *c, int argc, char **argv, int *i, bool *bad) {
  const char *a = argv[*i], *v;
  if (is(a, "--threads")) {
    if (!value(argc, argv, i, &v, bad))
      return true;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end != '\0' || n < 1 || n > TSR_MAX_THREADS) {
      cli_error("--threads '%s' must be a number from 1 to %d", v, TSR_MAX_THREADS);
      *bad = true;
    }
    c->threads = (int)n;
    return true;
  }
  if (is(a, "--memory-limit")) {
    if (value(argc, argv, i, &v, bad))
      c->memory = v;
    return true;
  }
  if (is(a, "--trace")) {
    if (value(argc, argv, i, &v, bad))
      c->trace = v;
    return true;
  }
  if (is(a, "--graph")) {
    if (value(argc, argv, i, &v, bad))
      c->graph = v;
    return true;
  }
  if (strcmp(a, "--progress") == 0)
    c->progress = 1;
  else if (strcmp(a, "--no-progress") == 0)
    c->progress = 0;
  else if (strcmp(a, "--stats") == 0)
    c->stats = true;
  else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0)
    c->quiet = true;
  else
    return false;
  return true;
}

void cli_common_help(FILE *out) {
  fputs("common options (per rank under mpirun/srun; rank 0 prints):\n"
        "  --threads N          worker threads (default: TESSERA_NUM_THREADS, OMP_NUM_THREADS,\n"
        "                       else all processors)\n"
        "  --memory-limit SIZE  cap on memory, e.g. 8GB, 512MiB; past it chunks spill to\n"
        "                       TESSERA_SPILL_DIR (default $TMPDIR)\n"
        "  --progress, --no-progress\n"
        "                       a progress bar on stderr (default: when stderr is a terminal)\n"
        "  --trace FILE.json    write a Chrome trace of the run (open it in Perfetto); an\n"
        "                       existing FILE.json is replaced, an input or output is refused\n"
        "  --graph FILE.dot     write the task graph (Graphviz DOT), likewise\n"
        "  --stats              print run statistics on stderr (tasks, bytes, peak, spills,\n"
        "                       time per kernel)\n"
        "  --quiet, -q          print nothing but errors (and requested output)\n"
        "  -h, --help           this help\n",
        out);
}

/* The same file: one device and inode when both exist, else the same
 * canonical directory and name. */
static bool same_file(const char *a, const char *b) {
  struct stat sa, sb;
  bool ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
  if (ea || eb)
    return ea && eb && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  char *canon[2] = {NULL, NULL};
  const char *names[2] = {a, b}, *base[2];
  for (int i = 0; i < 2; i++) {
    const char *slash = strrchr(names[i], '/');
    char *dir = slash == NULL       ? strdup(".")
                : slash == names[i] ? strdup("/")
                                    : strndup(names[i], (size_t)(slash - names[i]));
    base[i] = slash == NULL ? names[i] : slash + 1;
    canon[i] = dir != NULL ? realpath(dir, NULL) : NULL;
    free(dir);
  }
  bool same = canon[0] != NULL && canon[1] != NULL && strcmp(canon[0], canon[1]) == 0 &&
              strcmp(base[0], base[1]) == 0;
  free(canon[0]);
  free(canon[1]);
  return same;
}

int cli_check_side_files(const char *cmd, const cli_common *c, const char *const *files, size_t n) {
  if (c->trace != NULL && c->graph != NULL && same_file(c->trace, c->graph))
    return cli_usage(cmd, "--trace and --graph name the same file '%s'", c->trace);
  for (int k = 0; k < 2; k++) {
    const char *side = k == 0 ? c->trace : c->graph;
    for (size_t i = 0; side != NULL && i < n; i++)
      if (same_file(side, files[i]))
        return cli_usage(cmd, "%s '%s' is '%s', a file this run reads or writes: not replaced",
                         k == 0 ? "--trace" : "--graph", side, files[i]);
  }
  return CLI_OK;
}

tsr_ctx *cli_context(const cli_common *c) {
  tsr_ctx *ctx = NULL;
  tsr_status s = tsr_ctx_create(&ctx);
  if (s != TSR_OK) {
    cli_fail(s);
    return NULL;
  }
  cli_rank = tsr_ctx_rank(ctx);
  if (c->threads > 0 && (s = tsr_ctx_set_threads(ctx, c->threads)) != TSR_OK)
    goto fail;
  if (c->memory != NULL) {
    uint64_t bytes;
    if ((s = tsr_parse_bytes(c->memory, &bytes)) != TSR_OK) {
      cli_error("--memory-limit '%s': %s", c->memory, tsr_last_error());
      tsr_ctx_destroy(&ctx);
      return NULL;
    }
    if ((s = tsr_ctx_set_memory_limit(ctx, bytes)) != TSR_OK)
      goto fail;
  }
  return ctx;
fail:
  cli_fail(s);
  tsr_ctx_destroy(&ctx);
  return NULL;
}

/* ---- progress and statistics ----------------------------------------------- */

typedef struct progress_state {
  double t0;
  bool drawn;
} progress_state;

static progress_state bar;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int draw_progress(uint64_t done, uint64_t total, void *user) {
  (void)user;
  double t = now_seconds();
  if (bar.t0 == 0)
    bar.t0 = t;
  double elapsed = t - bar.t0, rate = elapsed > 0 ? (double)done / elapsed : 0;
  int width = 30, full = total ? (int)((double)width * (double)done / (double)total) : width;
  char cells[64];
  for (int i = 0; i < width; i++)
    cells[i] = i < full ? '#' : '.';
  cells[width] = '\0';
  fprintf(stderr, "\r[%s] %llu/%llu tasks  %.0f/s", cells, (unsigned long long)done,
          (unsigned long long)total, rate);
  if (done < total && rate > 0)
    fprintf(stderr, "  ETA %.1f s ", (double)(total - done) / rate);
  else
    fprintf(stderr, "  %.2f s      ", elapsed);
  if (done == total)
    fputc('\n', stderr);
  bar.drawn = true;
  return 0;
}

static void print_stats(const tsr_run_stats *st, void *user) {
  (void)user;
  if (tsr_run_stats_print(st, stderr) != TSR_OK) /* stderr's error fails the command */
    cli_error("printing statistics: %s", tsr_last_error());
  uint64_t r, w;
  char rt[32], wt[32];
  tsr_hdf5_io_bytes(&r, &w);
  fprintf(stderr, "hdf5: %s read, %s written (as stored) so far\n",
          tsr_format_bytes(r, rt, sizeof rt), tsr_format_bytes(w, wt, sizeof wt));
}

tsr_compute_options cli_compute_options(const cli_common *c) {
  tsr_compute_options o;
  memset(&o, 0, sizeof o);
  bool show = cli_rank == 0 && (c->progress == 1 ||
                                (c->progress == -1 && !c->quiet && isatty(STDERR_FILENO)));
  if (show) {
    memset(&bar, 0, sizeof bar);
    o.run.progress = draw_progress;
    o.run.progress_interval = 0.1;
  }
  o.run.trace_path = c->trace;
  o.dot_path = c->graph;
  if (c->stats && cli_rank == 0)
    o.on_stats = print_stats;
  return o;
}
