/* common.c — the options every subcommand takes, the context made from
 * them, the progress bar, statistics, and error reporting.
 *
 * The progress bar goes to stderr, by default only when stderr is a
 * terminal; the runtime calls it at most every 0.1 s (10 redraws a second)
 * from one worker thread: tasks done / total, rate and ETA. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_rank = 0;
bool cli_launched = false;
/* Set once the ranks have agreed on a status through a context: from then
 * on every rank fails at the same agreement points, with the same message,
 * which rank 0 alone prints.  Before it, a rank's error is kept here and
 * agreed on at exit (cli_finish), so that it reaches rank 0 whichever rank
 * had it. */
static bool agreed = false;
static char pending[1024];
static int pending_rc = CLI_OK;

bool cli_detect_launch(void) {
  const char *mpi = getenv("TESSERA_MPI");
  if (mpi != NULL && strcmp(mpi, "0") == 0)
    return false;
  static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v != NULL && v[0] != '\0') {
      cli_rank = atoi(v);
      cli_launched = true;
      return true;
    }
  }
  return false;
}

/* The library's messages name C functions ("tsr_matmul: ...", "use
 * tsr_mul"); the command's user writes eval programs and options, so the
 * names become theirs: the function's eval name, or nothing where the
 * message names the file or argument itself. */
static void user_terms(const char *msg, char *out, size_t size) {
  static const struct {
    const char *c, *user;
  } names[] = {
      {"use tsr_mul", "use *"},
      {"tsr_store_hdf5: ", ""},
      {"tsr_array_from_hdf5: ", ""},
      {"tsr_hdf5_list: ", ""},
      {"tsr_dtype_from_name: ", ""},
      {"tsr_parse_bytes: ", ""},
      {"tsr_binary_scalar: ", ""},
      {"tsr_scalar_binary: ", ""},
      {"tsr_binary: ", ""},
      {"tsr_unary: ", ""},
      {"tsr_reduce: ", ""},
      {"tsr_slice: ", ""},
      {"tsr_rechunk_grid: ", "rechunk: "},
      {"tsr_array_", ""},
      {"tsr_", ""},
  };
  size_t at = 0;
  while (*msg != '\0' && at + 1 < size) {
    size_t k = 0;
    for (; k < sizeof names / sizeof names[0]; k++)
      if (strncmp(msg, names[k].c, strlen(names[k].c)) == 0)
        break;
    if (k < sizeof names / sizeof names[0]) {
      at += (size_t)snprintf(out + at, size - at, "%s", names[k].user);
      if (at >= size)
        at = size - 1;
      msg += strlen(names[k].c);
    } else {
      out[at++] = *msg++;
    }
  }
  out[at] = '\0';
}

/* Prints "tessera: error: MESSAGE" (rank 0 alone once the ranks agree), or
 * keeps it for cli_finish before that. */
static int report(int rc, const char *text) {
  if (cli_launched && !agreed) {
    if (pending_rc == CLI_OK) {
      snprintf(pending, sizeof pending, "%s", text);
      pending_rc = rc;
    }
    return rc;
  }
  if (cli_launched && cli_rank > 0) /* rank 0 prints the same */
    return rc;
  fprintf(stderr, "tessera: error: %s\n", text);
  return rc;
}

int cli_error(const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  return report(CLI_FAILED, text);
}

int cli_fail(tsr_status status) {
  char text[1024];
  const char *msg = tsr_last_error();
  user_terms(msg[0] ? msg : tsr_strerror(status), text, sizeof text);
  return report(CLI_FAILED, text);
}

int cli_usage(const char *cmd, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  if (n >= 0 && (size_t)n < sizeof text)
    snprintf(text + n, sizeof text - (size_t)n, "\n(see 'tessera %s --help')", cmd);
  return report(CLI_USAGE, text);
}

/* A context; under a launcher also when the environment is invalid on
 * this rank (made without the variables then), so that the error can be
 * agreed on: *status is tsr_ctx_create's. */
static tsr_ctx *create_context(tsr_status *status) {
  tsr_ctx *ctx = NULL;
  *status = tsr_ctx_create(&ctx);
  if (*status == TSR_OK || !cli_launched)
    return ctx;
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", tsr_last_error());
  static const char *const vars[] = {
      "TESSERA_NUM_THREADS", "OMP_NUM_THREADS",  "TESSERA_MEMORY_LIMIT", "TESSERA_CHUNK_BYTES",
      "TESSERA_LOG",         "TESSERA_EXECUTOR", "TESSERA_OWNER_BLOCK",  "TESSERA_SPILL_DIR"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
    unsetenv(vars[i]);
  setenv("TESSERA_MPI", "1", 1); /* launched: cli_detect_launch said so */
  if (tsr_ctx_create(&ctx) != TSR_OK)
    ctx = NULL;
  tsr_error_set(*status, "%s", msg);
  return ctx;
}

/* Agrees on `status` (the message in tsr_last_error()) and reports the
 * agreed failure once; true when every rank succeeded. */
static bool agree(tsr_ctx *ctx, tsr_status status) {
  status = tsr_ctx_agree(ctx, status);
  agreed = true;
  if (status != TSR_OK)
    cli_fail(status);
  return status == TSR_OK;
}

bool cli_check(tsr_ctx *ctx, tsr_status status) {
  if (!cli_launched) {
    if (status != TSR_OK)
      cli_fail(status);
    return status == TSR_OK;
  }
  return agree(ctx, status);
}

int cli_finish(int rc) {
  if (!cli_launched || agreed)
    return rc;
  tsr_status s;
  tsr_ctx *ctx = create_context(&s);
  if (ctx == NULL) { /* cannot reach the others: say it here */
    fprintf(stderr, "tessera: error: rank %d: %s\n", cli_rank,
            pending_rc != CLI_OK ? pending : tsr_last_error());
    return rc != CLI_OK ? rc : CLI_FAILED;
  }
  if (pending_rc != CLI_OK)
    s = tsr_error_set(TSR_EINVAL, "%s", pending);
  else if (s == TSR_OK && rc != CLI_OK)
    s = tsr_error_set(TSR_EINVAL, "failed (exit status %d)", rc);
  bool ok = agree(ctx, s);
  tsr_ctx_destroy(&ctx);
  return rc != CLI_OK ? rc : ok ? CLI_OK : CLI_FAILED;
}

const char *cli_dataset_path_error(const char *path) {
  if (path[0] != '/')
    return "does not start with '/'";
  if (path[1] == '\0')
    return "is empty (it names the root group, not a dataset)";
  for (const char *p = path; *p != '\0'; p++)
    if (p[0] == '/' && (p[1] == '/' || p[1] == '\0'))
      return "has an empty name ('//' or a trailing '/')";
  return NULL;
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
    if (!value(argc, argv, i, &v, bad))
      return true;
    c->memory = v;
    if (tsr_parse_bytes(v, &c->memory_bytes) != TSR_OK) {
      cli_error("--memory-limit '%s': %s", v, tsr_last_error());
      *bad = true;
    }
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
  tsr_status s;
  tsr_ctx *ctx = create_context(&s);
  if (ctx == NULL) { /* not launched (or no context at all): nothing to agree with */
    cli_fail(s);
    return NULL;
  }
  if (cli_launched) {
    cli_rank = tsr_ctx_rank(ctx);
    if (!agree(ctx, s))
      goto fail;
  } else if (s != TSR_OK) {
    cli_fail(s);
    goto fail;
  }
  if (c->threads > 0 && (s = tsr_ctx_set_threads(ctx, c->threads)) != TSR_OK)
    goto failed;
  if (c->memory != NULL && (s = tsr_ctx_set_memory_limit(ctx, c->memory_bytes)) != TSR_OK)
    goto failed;
  return ctx;
failed:
  cli_fail(s);
fail:
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
  bool show = cli_rank == 0 &&
              (c->progress == 1 || (c->progress == -1 && !c->quiet && isatty(STDERR_FILENO)));
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

tsr_status cli_observe(tsr_ctx *ctx, const cli_common *c, tsr_compute_options *co) {
  tsr_compute_options all = cli_compute_options(c);
  memset(co, 0, sizeof *co);
  co->dot_path = all.dot_path;
  if (all.run.progress == NULL && all.run.trace_path == NULL && all.on_stats == NULL)
    return TSR_OK;
  return tsr_ctx_set_run_observer(ctx, &all.run, all.on_stats, all.stats_user);
}

bool cli_observe_end(tsr_ctx *ctx) {
  return cli_check(ctx, tsr_ctx_set_run_observer(ctx, NULL, NULL, NULL));
}

/* The whole file ("-": standard input) plus a NUL; *len is the number of
 * bytes read (NUL bytes of the file included: the parser reports them).
 * NULL with errno set on failure (EISDIR for a directory). */
char *cli_read_file(const char *path, size_t *len) {
  bool std_in = strcmp(path, "-") == 0;
  FILE *f = std_in ? stdin : fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  for (size_t got; buf != NULL && (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
    n += got;
    if (n + 1 == cap) {
      char *grown = realloc(buf, cap * 2);
      if (grown == NULL) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = grown;
      cap *= 2;
    }
  }
  int err = ferror(f) ? errno : 0;
  if (!std_in)
    fclose(f);
  if (buf != NULL && err != 0) {
    free(buf);
    buf = NULL;
    errno = err;
  } else if (buf == NULL) {
    errno = ENOMEM;
  } else {
    buf[n] = '\0';
    *len = n;
  }
  return buf;
}

/* Under a launcher: rank 0 read the text (*source, *source_len); every
 * rank gets it. */
tsr_status cli_share_text(tsr_ctx *ctx, char **source, size_t *source_len) {
  if (tsr_ctx_nranks(ctx) == 1)
    return TSR_OK;
  uint64_t len = tsr_ctx_rank(ctx) == 0 ? *source_len : 0;
  TSR_TRY(tsr_ctx_broadcast(ctx, &len, sizeof len, 0));
  tsr_status s = TSR_OK;
  if (tsr_ctx_rank(ctx) != 0) {
    *source = len < SIZE_MAX ? malloc((size_t)len + 1) : NULL;
    if (*source == NULL)
      s = tsr_error_set(TSR_ENOMEM, "out of memory for the text (%llu bytes)",
                        (unsigned long long)len);
    else
      (*source)[len] = '\0';
    *source_len = (size_t)len;
  }
  TSR_TRY(tsr_ctx_agree(ctx, s));
  return tsr_ctx_broadcast(ctx, *source, (size_t)len, 0);
}
