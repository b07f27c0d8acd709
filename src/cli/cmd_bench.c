/* cmd_bench.c — `tessera bench [sched|arrays|matmul|...] [--peers] [ARGS]`:
 * runs a benchmark program and lets it print its table.  The programs are
 * found beside the command: <dir of tessera>/bench/bench_<name> in a build
 * tree, <dir of tessera>/../libexec/tessera/bench_<name> once installed.
 * Peers (NumPy, Dask, ...) run only with --peers; other arguments are handed
 * to the program (e.g. --reps 3 --workloads A1,A2). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void help(FILE *out) {
  fputs("usage: tessera bench NAME [--peers] [PROGRAM OPTIONS]\n"
        "\n"
        "Runs the benchmark program bench_NAME (sched: the runtime's cost per task, A8;\n"
        "arrays: workloads A1-A6 beside NumPy and Dask; matmul: A4's product beside one\n"
        "OpenBLAS dgemm; hdf5: parallel decompression; io or ooc: A7, out of core beside\n"
        "h5py + Dask; frames: F0, CSV load and filter + assign, and F1, db-benchmark's\n"
        "group-by q1-q10 checked against DuckDB's answers, beside DuckDB, Polars and\n"
        "pandas) and prints its table.  Peers run only with --peers.  Other options\n"
        "go to the program, e.g. --reps 3, --threads 2, --workloads A1,A2 (arrays),\n"
        "--only q1,q3 (frames).\n",
        out);
}

/* Directory of the running executable, with a trailing '/'. */
static bool self_dir(char *buf, size_t size) {
  ssize_t n = readlink("/proc/self/exe", buf, size - 1);
  if (n <= 0)
    return false;
  buf[n] = '\0';
  char *slash = strrchr(buf, '/');
  if (slash == NULL)
    return false;
  slash[1] = '\0';
  return true;
}

int cmd_bench(int argc, char **argv) {
  if (argc < 2)
    return cli_usage("bench", "no benchmark name given (sched, arrays, matmul, hdf5, io, frames)");
  if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    help(stdout);
    return CLI_OK;
  }
  const char *name = argv[1];
  if (strcmp(name, "io") == 0) /* the name for the out-of-core benchmark, A7 */
    name = "ooc";
  for (const char *p = name; *p; p++)
    if (!(*p >= 'a' && *p <= 'z') && *p != '_')
      return cli_usage("bench", "'%s' is not a benchmark name", name);
  char dir[PATH_MAX], path[PATH_MAX + 64];
  if (!self_dir(dir, sizeof dir))
    return cli_error("cannot find the tessera executable's directory: %s", strerror(errno));
  snprintf(path, sizeof path, "%sbench/bench_%s", dir, name);
  if (access(path, X_OK) != 0)
    snprintf(path, sizeof path, "%s../libexec/tessera/bench_%s", dir, name);
  if (access(path, X_OK) != 0)
    return cli_usage("bench",
                     "no benchmark program bench_%s beside %s (build with "
                     "-DTESSERA_BUILD_BENCH=ON)",
                     name, dir);
  /* argv for the program: its path, the options, and --no-peers unless --peers. */
  char **args = calloc((size_t)argc + 2, sizeof *args);
  if (args == NULL)
    return cli_error("out of memory");
  int n = 0;
  bool peers = false;
  args[n++] = path;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--peers") == 0)
      peers = true;
    else
      args[n++] = argv[i];
  }
  if (!peers &&
      (strcmp(name, "arrays") == 0 || strcmp(name, "ooc") == 0 || strcmp(name, "frames") == 0))
    args[n++] = "--no-peers";
  args[n] = NULL;
  fflush(stdout);
  execv(path, args);
  int e = errno;
  free(args);
  return cli_error("cannot run %s: %s", path, strerror(e));
}
