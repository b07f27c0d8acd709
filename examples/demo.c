/* demo.c — a program that builds its own task graph with the low-level
 * runtime API (tessera/exec.h), for work that is not an array expression:
 * summary statistics of a one-column CSV file (data/sample_series.csv in
 * the tests), computed on the OpenMP executor and then checked bitwise
 * against the serial executor.  Array programs do not need any of this:
 * they use tessera/array.h and `tessera eval` (see the README).
 *
 * Graph: read (whole file) -> parse (one task per byte range; a range owns
 * the lines that start in it) -> merge tree (fan-in 8, Chan et al.'s
 * pairwise update of count/mean/M2/min/max) -> one kept result.  The tree's
 * shape depends only on the chunk count, so the result is bitwise the same
 * for any number of threads. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tessera/tessera.h>

#define MERGE_FAN_IN 8

typedef struct moments {
  int64_t count;
  double mean, m2, min, max;
} moments;

typedef struct read_params {
  char path[4096];
} read_params;

typedef struct parse_params {
  uint64_t begin, end; /* byte range whose line starts this task owns */
  char path[4096];
} parse_params;

static void moments_merge(moments *acc, const moments *b) {
  if (b->count == 0)
    return;
  if (acc->count == 0) {
    *acc = *b;
    return;
  }
  double n = (double)(acc->count + b->count);
  double delta = b->mean - acc->mean;
  acc->mean += delta * (double)b->count / n;
  acc->m2 += b->m2 + delta * delta * (double)acc->count * (double)b->count / n;
  acc->min = fmin(acc->min, b->min);
  acc->max = fmax(acc->max, b->max);
  acc->count += b->count;
}

static tsr_status read_kernel(const tsr_kernel_call *call) {
  const read_params *p = call->params;
  FILE *f = fopen(p->path, "rb");
  if (f == NULL)
    return tsr_error_set(TSR_EIO, "cannot open '%s': %s", p->path, strerror(errno));
  size_t got = fread(call->output, 1, call->output_bytes, f);
  int extra = fgetc(f);
  fclose(f);
  if (got != call->output_bytes || extra != EOF)
    return tsr_error_set(TSR_EIO, "'%s' changed size while being read", p->path);
  return TSR_OK;
}

static int64_t line_number(const char *text, uint64_t offset) {
  int64_t line = 1;
  for (uint64_t i = 0; i < offset; i++)
    line += text[i] == '\n';
  return line;
}

static tsr_status parse_kernel(const tsr_kernel_call *call) {
  const parse_params *p = call->params;
  const char *text = call->inputs[0];
  uint64_t size = call->input_bytes[0];
  uint64_t pos = p->begin;
  if (pos == 0) { /* the header line belongs to no value */
    while (pos < size && text[pos] != '\n')
      pos++;
    pos++;
  } else if (text[pos - 1] != '\n') { /* a line started before this range */
    while (pos < size && text[pos] != '\n')
      pos++;
    pos++;
  }
  moments m = {0, 0, 0, INFINITY, -INFINITY};
  char field[64];
  while (pos < p->end && pos < size) {
    uint64_t stop = pos;
    while (stop < size && text[stop] != '\n')
      stop++;
    uint64_t len = stop - pos;
    if (len > 0 && text[stop - 1] == '\r')
      len--;
    if (len > 0) {
      if (len >= sizeof field)
        return tsr_error_set(TSR_EPARSE, "%s:%lld: value is too long", p->path,
                             (long long)line_number(text, pos));
      memcpy(field, text + pos, len);
      field[len] = '\0';
      char *end;
      errno = 0;
      double v = strtod(field, &end);
      if (end == field || *end != '\0' || errno == ERANGE || !isfinite(v))
        return tsr_error_set(TSR_EPARSE, "%s:%lld: '%s' is not a finite number", p->path,
                             (long long)line_number(text, pos), field);
      m.count++;
      double delta = v - m.mean;
      m.mean += delta / (double)m.count;
      m.m2 += delta * (v - m.mean);
      m.min = fmin(m.min, v);
      m.max = fmax(m.max, v);
    }
    pos = stop + 1;
  }
  memcpy(call->output, &m, sizeof m);
  return TSR_OK;
}

static tsr_status merge_kernel(const tsr_kernel_call *call) {
  moments acc = {0, 0, 0, INFINITY, -INFINITY};
  for (uint32_t i = 0; i < call->n_inputs; i++)
    moments_merge(&acc, call->inputs[i]);
  memcpy(call->output, &acc, sizeof acc);
  return TSR_OK;
}

/* Builds the graph; *result is the id of the final (kept) task. */
static tsr_status build(tsr_taskgraph *g, const char *path, uint64_t file_bytes, int chunks,
                        uint32_t *result) {
  uint32_t k_read, k_parse, k_merge, read_task;
  TSR_TRY(tsr_taskgraph_add_kernel(g, "read", read_kernel, NULL, &k_read));
  TSR_TRY(tsr_taskgraph_add_kernel(g, "parse", parse_kernel, NULL, &k_parse));
  TSR_TRY(tsr_taskgraph_add_kernel(g, "merge", merge_kernel, NULL, &k_merge));
  read_params rp;
  if (strlen(path) >= sizeof rp.path)
    return tsr_error_set(TSR_EINVAL, "the path '%.64s...' is longer than %zu bytes", path,
                         sizeof rp.path - 1);
  snprintf(rp.path, sizeof rp.path, "%s", path);
  TSR_TRY(tsr_taskgraph_add_task(g, k_read, NULL, 0, &rp, sizeof rp, file_bytes, &read_task));
  uint32_t *level = malloc((size_t)chunks * sizeof *level);
  if (level == NULL)
    return tsr_error_set(TSR_ENOMEM, "out of memory");
  tsr_status status = TSR_OK;
  for (int i = 0; i < chunks && status == TSR_OK; i++) {
    parse_params pp;
    pp.begin = file_bytes * (uint64_t)i / (uint64_t)chunks;
    pp.end = file_bytes * (uint64_t)(i + 1) / (uint64_t)chunks;
    snprintf(pp.path, sizeof pp.path, "%s", path);
    status = tsr_taskgraph_add_task(g, k_parse, &read_task, 1, &pp, sizeof pp, sizeof(moments),
                                    &level[i]);
  }
  /* Merge tree: always at least one merge, so the result is a merge task. */
  uint32_t n = (uint32_t)chunks;
  do {
    uint32_t next = 0;
    for (uint32_t i = 0; i < n && status == TSR_OK; i += MERGE_FAN_IN) {
      uint32_t fan = n - i < MERGE_FAN_IN ? n - i : MERGE_FAN_IN;
      status = tsr_taskgraph_add_task(g, k_merge, level + i, fan, NULL, 0, sizeof(moments),
                                      &level[next++]);
    }
    n = next;
  } while (n > 1 && status == TSR_OK);
  *result = level[0];
  free(level);
  TSR_TRY(status);
  return tsr_taskgraph_keep(g, *result);
}

static int fail(const char *what) {
  fprintf(stderr, "tessera_demo: error: %s%s%s\n", what, *what ? ": " : "", tsr_last_error());
  return 1;
}

static int usage(void) {
  fprintf(stderr, "usage: tessera_demo [--threads N] [--chunks K] [--trace FILE.json] "
                  "[--graph FILE.dot] FILE.csv\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *path = NULL, *trace = NULL, *dot = NULL;
  int threads = 0, chunks = 64;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = atoi(argv[++i]);
      if (threads < 1) {
        fprintf(stderr, "tessera_demo: error: --threads takes a whole number >= 1\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--chunks") == 0 && i + 1 < argc) {
      chunks = atoi(argv[++i]);
      if (chunks < 1 || chunks > 1000000) {
        fprintf(stderr, "tessera_demo: error: --chunks takes a whole number from 1 to 1000000\n");
        return 2;
      }
    } else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
      trace = argv[++i];
    } else if (strcmp(argv[i], "--graph") == 0 && i + 1 < argc) {
      dot = argv[++i];
    } else if (argv[i][0] == '-' || path != NULL) {
      return usage();
    } else {
      path = argv[i];
    }
  }
  if (path == NULL)
    return usage();
  struct stat st;
  if (stat(path, &st) != 0) {
    fprintf(stderr, "tessera_demo: error: cannot open '%s': %s\n", path, strerror(errno));
    return 1;
  }

  tsr_ctx *ctx = NULL;
  tsr_taskgraph *g = NULL;
  int rc = 1;
  uint32_t result;
  if (tsr_ctx_create(&ctx) != TSR_OK)
    return fail("");
  if (threads > 0 && tsr_ctx_set_threads(ctx, threads) != TSR_OK) {
    rc = fail("");
    goto done;
  }
  if (tsr_taskgraph_create(ctx, &g) != TSR_OK ||
      build(g, path, (uint64_t)st.st_size, chunks, &result) != TSR_OK) {
    rc = fail("building the task graph");
    goto done;
  }
  if (dot != NULL && tsr_taskgraph_write_dot(g, dot) != TSR_OK) {
    rc = fail("");
    goto done;
  }
  tsr_run_options opts = {.trace_path = trace};
  if (tsr_taskgraph_run_ex(g, &opts) != TSR_OK) {
    rc = fail(path);
    goto done;
  }
  const void *data;
  size_t bytes;
  if (tsr_taskgraph_output(g, result, &data, &bytes) != TSR_OK) {
    rc = fail("");
    goto done;
  }
  moments parallel;
  memcpy(&parallel, data, sizeof parallel);
  printf("tessera demo: %s: %lld values in %d chunks\n", path, (long long)parallel.count, chunks);
  if (parallel.count > 0) {
    printf("  mean  %.17g\n", parallel.mean);
    printf("  std   %.17g   (ddof=1)\n",
           parallel.count > 1 ? sqrt(parallel.m2 / (double)(parallel.count - 1)) : NAN);
    printf("  min   %.17g\n  max   %.17g\n", parallel.min, parallel.max);
  }
  printf("task graph: %u tasks, %llu edges\n", tsr_taskgraph_ntasks(g),
         (unsigned long long)tsr_taskgraph_nedges(g));
  if (tsr_run_stats_print(tsr_taskgraph_stats(g), stdout) != TSR_OK) {
    rc = fail("");
    goto done;
  }
  /* The same graph on the serial executor must give the same bits. */
  if (tsr_ctx_set_executor(ctx, TSR_EXECUTOR_SERIAL) != TSR_OK || tsr_taskgraph_run(g) != TSR_OK ||
      tsr_taskgraph_output(g, result, &data, &bytes) != TSR_OK) {
    rc = fail("serial run");
    goto done;
  }
  bool same = memcmp(&parallel, data, sizeof parallel) == 0;
  printf("check: serial executor result is bitwise identical: %s\n", same ? "yes" : "NO");
  rc = same ? 0 : 1;
done:
  tsr_taskgraph_destroy(&g);
  tsr_ctx_destroy(&ctx);
  return rc;
}
