/* bench_ooc.c — workload A7 of docs/benchmarks.md: out of core.  mean(x, axis=0)
 * of an HDF5 dataset 4x larger than the memory limit, beside a plain
 * sequential read of the same file in the same run, and h5py + Dask
 * (bench/peers/ooc_peers.py) on the same files.
 *
 *   bench_ooc [--gb G] [--limit SIZE] [--threads T] [--reps R] [--dir DIR]
 *             [--no-peers] [--python PATH] [--peers PATH] [--keep]
 *
 * Every use of tessera happens in a forked child (OpenMP's threads do not
 * survive fork, so the parent never starts them).
 *
 * Two files are written first (through tessera): x of shape (rows, 5000)
 * float64 in chunks of 1000 x 5000 (40 MB), G GB of data (default 4, under
 * a 1 GB limit), uncompressed and deflate-1 + shuffle.  Each measurement
 * runs in a forked child so that its peak RSS (getrusage) is its own; the
 * page cache is warm (the plain read runs first).  Reported: median time,
 * throughput (file bytes / time) against the plain read, peak RSS against
 * the limit, and the compressed file at 1 and T threads (scaling). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tessera/tessera.h>

#include "bench_common.h"

#ifndef TSR_BENCH_OOC_PEERS
#define TSR_BENCH_OOC_PEERS "bench/peers/ooc_peers.py"
#endif

#define COLS 5000
#define CHUNK_ROWS 1000

typedef struct options {
  double gb;
  uint64_t limit;
  int threads, reps;
  const char *dir, *python, *peers_script;
  bool peers, keep;
} options;

static void die(const char *what, tsr_status s) {
  fprintf(stderr, "error: %s: %s: %s\n", what, tsr_status_name(s), tsr_last_error());
  exit(1);
}

static void usage(void) {
  fprintf(stderr, "usage: bench_ooc [--gb G] [--limit SIZE] [--threads T] [--reps R] [--dir DIR] "
                  "[--no-peers] [--python PATH] [--peers PATH] [--keep]\n");
  exit(2);
}

static options parse(int argc, char **argv) {
  const char *tmp = getenv("TMPDIR");
  options o = {4.0,
               1000000000ull,
               2,
               3,
               tmp && tmp[0] ? tmp : "/tmp",
               "/usr/bin/python3",
               TSR_BENCH_OOC_PEERS,
               true,
               false};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--no-peers") == 0) {
      o.peers = false;
      continue;
    }
    if (strcmp(a, "--keep") == 0) {
      o.keep = true;
      continue;
    }
    if (i + 1 >= argc)
      usage();
    const char *v = argv[++i];
    if (strcmp(a, "--gb") == 0) {
      char *end;
      o.gb = strtod(v, &end);
      if (*end != '\0' || !(o.gb > 0)) {
        fprintf(stderr, "error: --gb '%s' is not a positive number\n", v);
        exit(2);
      }
    } else if (strcmp(a, "--limit") == 0) {
      if (tsr_parse_bytes(v, &o.limit) != TSR_OK || o.limit == 0) {
        fprintf(stderr, "error: --limit '%s': %s\n", v, tsr_last_error());
        exit(2);
      }
    } else if (strcmp(a, "--threads") == 0) {
      o.threads = (int)bench_parse_long(a, v, 1, 4096);
    } else if (strcmp(a, "--reps") == 0) {
      o.reps = (int)bench_parse_long(a, v, 1, 100);
    } else if (strcmp(a, "--dir") == 0) {
      o.dir = v;
    } else if (strcmp(a, "--python") == 0) {
      o.python = v;
    } else if (strcmp(a, "--peers") == 0) {
      o.peers_script = v;
    } else {
      usage();
    }
  }
  return o;
}

static int64_t rows_for(double gb) {
  int64_t rows = (int64_t)(gb * 1e9 / (8.0 * COLS));
  rows = rows / CHUNK_ROWS * CHUNK_ROWS;
  return rows < CHUNK_ROWS ? CHUNK_ROWS : rows;
}

/* Writes the file in a forked child: the parent must never start OpenMP
 * threads, which do not survive fork() into the measuring children. */
static void write_file(const char *path, int64_t rows, int level);
static void write_file_forked(const char *path, int64_t rows, int level) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    write_file(path, rows, level);
    _exit(0);
  }
  int st = 0;
  waitpid(pid, &st, 0);
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
    fprintf(stderr, "error: writing %s failed\n", path);
    exit(1);
  }
}

static void write_file(const char *path, int64_t rows, int level) {
  tsr_ctx *ctx;
  tsr_status s = tsr_ctx_create(&ctx);
  if (s != TSR_OK)
    die("context", s);
  tsr_array *x;
  int64_t shape[2] = {rows, COLS}, chunks[2] = {CHUNK_ROWS, COLS};
  if ((s = tsr_array_random(ctx, TSR_RANDOM_UNIFORM, 20240611, 2, shape, chunks, &x)) != TSR_OK)
    die("random", s);
  tsr_hdf5_store_options so = {0};
  so.deflate_level = level;
  so.shuffle = level > 0;
  const char *dset = "/x";
  if ((s = tsr_store_hdf5(ctx, 1, &x, path, &dset, &so)) != TSR_OK)
    die(path, s);
  tsr_array_destroy(&x);
  tsr_ctx_destroy(&ctx);
}

/* Reads the whole file sequentially in 64 MiB blocks; seconds. */
static double plain_read(const char *path, uint64_t *bytes) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "error: %s: %s\n", path, strerror(errno));
    exit(1);
  }
  size_t block = 64u << 20;
  char *buf = malloc(block);
  double t0 = bench_now();
  uint64_t total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, block);
    if (n <= 0)
      break;
    total += (uint64_t)n;
  }
  double dt = bench_now() - t0;
  free(buf);
  close(fd);
  *bytes = total;
  return dt;
}

typedef struct result {
  double seconds;
  long max_rss_kb;
  double check; /* sum of the column means, to compare runs */
  int ok;
} result;

/* mean(x, axis=0) of the file in a child process: its own peak RSS. */
static result measure(const char *path, uint64_t limit, int threads) {
  int fds[2];
  if (pipe(fds) != 0) {
    perror("pipe");
    exit(1);
  }
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    result r = {0, 0, 0, 0};
    tsr_ctx *ctx = NULL;
    tsr_array *x = NULL, *m = NULL;
    double *means = malloc(COLS * sizeof *means);
    double t0 = bench_now();
    const char *dset = "/x";
    tsr_status s = tsr_ctx_create(&ctx);
    if (s == TSR_OK)
      s = tsr_ctx_set_threads(ctx, threads);
    if (s == TSR_OK)
      s = tsr_ctx_set_memory_limit(ctx, limit);
    if (s == TSR_OK)
      s = tsr_array_from_hdf5(ctx, path, dset, NULL, &x);
    if (s == TSR_OK)
      s = tsr_mean(x, (int[]){0}, 1, false, &m);
    if (s == TSR_OK)
      s = tsr_array_to_buffer(m, means, COLS * sizeof *means);
    r.seconds = bench_now() - t0;
    if (s != TSR_OK)
      fprintf(stderr, "error: %s: %s\n", path, tsr_last_error());
    for (int j = 0; s == TSR_OK && j < COLS; j++)
      r.check += means[j];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    r.max_rss_kb = ru.ru_maxrss;
    r.ok = s == TSR_OK;
    if (write(fds[1], &r, sizeof r) != (ssize_t)sizeof r)
      _exit(1);
    _exit(0);
  }
  close(fds[1]);
  result r = {0, 0, 0, 0};
  if (read(fds[0], &r, sizeof r) != (ssize_t)sizeof r)
    r.ok = 0;
  close(fds[0]);
  int st;
  waitpid(pid, &st, 0);
  return r;
}

static result median_of(const char *path, const options *o, int threads) {
  double *t = calloc((size_t)o->reps, sizeof *t);
  result last = {0, 0, 0, 0};
  long rss = 0;
  for (int i = 0; i < o->reps; i++) {
    last = measure(path, o->limit, threads);
    if (!last.ok) {
      free(t);
      return last;
    }
    t[i] = last.seconds;
    rss = last.max_rss_kb > rss ? last.max_rss_kb : rss;
  }
  last.seconds = bench_median(t, o->reps);
  last.max_rss_kb = rss;
  free(t);
  return last;
}

static void print_row(const char *name, const result *r, uint64_t bytes, double plain,
                      uint64_t limit) {
  if (!r->ok) {
    printf("%s\tfailed\t-\t-\t-\t-\n", name);
    return;
  }
  double rss = (double)r->max_rss_kb * 1024.0;
  printf("%s\t%.3f\t%.2f\t%.2f\t%.0f\t%.2f\n", name, r->seconds, (double)bytes / r->seconds / 1e9,
         plain / r->seconds, rss / 1e6, rss / (double)limit);
}

int main(int argc, char **argv) {
  options o = parse(argc, argv);
  int64_t rows = rows_for(o.gb);
  char plain_path[4096], zip_path[4096];
  snprintf(plain_path, sizeof plain_path, "%s/tessera-a7-%d.h5", o.dir, (int)getpid());
  snprintf(zip_path, sizeof zip_path, "%s/tessera-a7-%d-deflate.h5", o.dir, (int)getpid());
  char limit_text[32];
  printf("# bench_ooc: docs/benchmarks.md A7, mean(x, axis=0) of x %lld x %d float64 (%.2f GB) in "
         "chunks of %d x %d, memory limit %s, %d threads, medians of %d runs\n",
         (long long)rows, COLS, (double)rows * COLS * 8 / 1e9, CHUNK_ROWS, COLS,
         tsr_format_bytes(o.limit, limit_text, sizeof limit_text), o.threads, o.reps);
  double t0 = bench_now();
  write_file_forked(plain_path, rows, 0);
  write_file_forked(zip_path, rows, 1);
  printf("# wrote %s and %s (deflate 1 + shuffle) in %.1f s\n", plain_path, zip_path,
         bench_now() - t0);
  struct stat st_plain, st_zip;
  stat(plain_path, &st_plain);
  stat(zip_path, &st_zip);
  uint64_t bytes;
  plain_read(plain_path, &bytes); /* warm the page cache */
  double plain = plain_read(plain_path, &bytes);
  printf("# plain sequential read of %s: %.3f s, %.2f GB/s (warm page cache)\n", plain_path, plain,
         (double)bytes / plain / 1e9);
  printf("# compressed file: %.2f GB (%.0f%% of the raw size)\n", (double)st_zip.st_size / 1e9,
         100.0 * (double)st_zip.st_size / (double)st_plain.st_size);
  result r_plain = median_of(plain_path, &o, o.threads);
  plain_read(zip_path, &bytes);
  result r_zip1 = median_of(zip_path, &o, 1);
  result r_zipn = median_of(zip_path, &o, o.threads);
  if (r_plain.ok && r_zipn.ok)
    printf("# results agree: %s (sum of means %.17g / %.17g)\n",
           r_plain.check == r_zipn.check ? "bitwise" : "NO", r_plain.check, r_zipn.check);
  if (o.peers) {
    char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' '%s' --threads %d --reps %d '%s' '%s' 2>&1", o.python,
             o.peers_script, o.threads, o.reps, plain_path, zip_path);
    printf("# peers: %s\n", cmd);
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    char line[4096];
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
      printf("#   %s", line);
    if (f != NULL)
      pclose(f);
  }
  printf("case\tseconds\tGB_per_s\tof_plain_read\tpeak_RSS_MB\tRSS_over_limit\n");
  print_row("tessera uncompressed", &r_plain, (uint64_t)st_plain.st_size, plain, o.limit);
  print_row("tessera deflate 1 thread", &r_zip1, (uint64_t)st_zip.st_size, plain, o.limit);
  char name[64];
  snprintf(name, sizeof name, "tessera deflate %d threads", o.threads);
  print_row(name, &r_zipn, (uint64_t)st_zip.st_size, plain, o.limit);
  if (r_zip1.ok && r_zipn.ok)
    printf("# compressed scaling, %d threads / 1 thread: %.2fx\n", o.threads,
           r_zip1.seconds / r_zipn.seconds);
  if (!o.keep) {
    unlink(plain_path);
    unlink(zip_path);
  }
  return r_plain.ok && r_zip1.ok && r_zipn.ok ? 0 : 1;
}
