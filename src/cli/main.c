/* main.c — the `tessera` command: dispatches to its subcommands.
 *
 *   tessera eval ...   an array expression program over HDF5 datasets
 *   tessera gen ...    write a generated dataset
 *   tessera info ...   what an HDF5 file (or a CSV file) holds
 *   tessera convert .. a CSV rewritten (also .csv.gz)
 *   tessera groupby .. a CSV grouped and aggregated into a CSV
 *   tessera query ...  SQL over CSV files and HDF5 tables
 *   tessera bench ...  the benchmark programs, beside their peers */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void usage(FILE *out) {
  fputs("usage: tessera <command> [options]\n"
        "\n"
        "commands:\n"
        "  eval   evaluate an array expression program:  tessera eval --in t=in.h5:/t "
        "'mean(t, axis=0)'\n"
        "  gen    write a generated dataset:  tessera gen array x.h5:/x --shape 20000,5000\n"
        "         or the db-benchmark data sets as CSV:  tessera gen groupby 1e7 1e2\n"
        "  convert  rewrite a CSV (also .csv.gz):  tessera convert in.csv out.csv.gz\n"
        "  groupby  group a CSV into a CSV:  tessera groupby in.csv out.csv --by id1 --agg "
        "'sum(v1)'\n"
        "  query  run SQL over CSV files and HDF5 tables:  tessera query "
        "\"SELECT id1, sum(v1) FROM 'x.csv' GROUP BY id1\"\n"
        "  info   list an HDF5 file's groups and datasets:  tessera info x.h5\n"
        "         or a CSV file's columns, types, null counts and rows:  tessera info x.csv\n"
        "  bench  run a benchmark program:  tessera bench arrays --peers\n"
        "\n"
        "'tessera <command> --help' describes a command; 'tessera --version' prints the "
        "version.\n",
        out);
}

static int run(int argc, char **argv);

/* Interrupted runs leave no temporary files: a signal that would end the
 * process removes the outputs being written (the library's registry), then
 * ends it by the same signal with its default action, so the exit status
 * still says which.  A signal the caller ignores (nohup) stays ignored.
 * SIGKILL cannot be caught (README: what it leaves). */
static const int cleanup_signals[] = {SIGINT,  SIGTERM, SIGHUP,  SIGPIPE,
                                      SIGXFSZ, SIGQUIT, SIGXCPU, SIGALRM};

static void on_fatal_signal(int sig) {
  int saved = errno;
  tsr_temp_files_remove();
  raise(sig); /* SA_RESETHAND restored the default action; SA_NODEFER lets it in */
  errno = saved;
}

static void install_cleanup_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_NODEFER;
  for (size_t i = 0; i < sizeof cleanup_signals / sizeof cleanup_signals[0]; i++) {
    struct sigaction old;
    if (sigaction(cleanup_signals[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
      sigaction(cleanup_signals[i], &sa, NULL);
  }
}

/* Every byte of standard output and error is checked: a failed write or
 * flush (a full disk, /dev/full, a closed pipe's EPIPE) fails the command. */
static int finish_output(int rc) {
  errno = 0;
  if (fflush(stdout) != 0 || ferror(stdout)) {
    int err = errno != 0 ? errno : EIO;
    cli_error("writing standard output: %s", strerror(err));
    rc = rc == CLI_OK ? CLI_FAILED : rc;
  }
  if (fflush(stderr) != 0 || ferror(stderr))
    rc = rc == CLI_OK ? CLI_FAILED : rc; /* nowhere left to say it */
  return rc;
}

/* Under a launcher, ranks other than 0 print no results, and a failing
 * rank leaves at once with its status, without MPI_Finalize: the
 * launcher then ends the job, and no rank waits in a finalize for a rank
 * that never comes (a failure agreed by every rank exits every rank). */
int main(int argc, char **argv) {
  install_cleanup_handlers();
  bool launched = cli_detect_launch();
  if (launched && cli_rank > 0 && freopen("/dev/null", "w", stdout) == NULL)
    return cli_error("cannot redirect standard output of rank %d", cli_rank);
  int rc = finish_output(cli_finish(run(argc, argv)));
  if (launched && rc != CLI_OK) {
    tsr_temp_files_remove(); /* nothing should be left; _exit runs no cleanup */
    fflush(NULL);
    _exit(rc);
  }
  return rc;
}

/* Common options may come before the command (`tessera --memory-limit 512MB
 * groupby ...`): they are moved after it, where every command reads them.
 * Returns the index of the command in argv (argc when there is none). */
static int hoist_common_options(int argc, char **argv) {
  static const char *const with_value[] = {"--threads", "--memory-limit", "--trace", "--graph"};
  int i = 1;
  while (i < argc && argv[i][0] == '-' && strcmp(argv[i], "-h") != 0 &&
         strcmp(argv[i], "--help") != 0 && strcmp(argv[i], "--version") != 0) {
    bool value = false;
    for (size_t k = 0; k < sizeof with_value / sizeof with_value[0]; k++)
      value = value || strcmp(argv[i], with_value[k]) == 0;
    i += value && i + 1 < argc ? 2 : 1;
  }
  if (i == 1 || i >= argc)
    return i;
  char *cmd = argv[i]; /* rotate argv[1..i] right by one: the command first */
  memmove(argv + 2, argv + 1, (size_t)(i - 1) * sizeof *argv);
  argv[1] = cmd;
  return 1;
}

static int run(int argc, char **argv) {
  if (argc > 1 && hoist_common_options(argc, argv) >= argc) {
    fprintf(stderr, "tessera: error: options '%s' ... but no command\n", argv[1]);
    usage(stderr);
    return CLI_USAGE;
  }
  if (argc < 2) {
    usage(stderr);
    return CLI_USAGE;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
    usage(stdout);
    return CLI_OK;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
    printf("tessera %s\n", TSR_VERSION_STRING);
    return CLI_OK;
  }
  if (strcmp(cmd, "eval") == 0)
    return cmd_eval(argc - 1, argv + 1);
  if (strcmp(cmd, "gen") == 0)
    return cmd_gen(argc - 1, argv + 1);
  if (strcmp(cmd, "convert") == 0)
    return cmd_convert(argc - 1, argv + 1);
  if (strcmp(cmd, "groupby") == 0)
    return cmd_groupby(argc - 1, argv + 1);
  if (strcmp(cmd, "query") == 0)
    return cmd_query(argc - 1, argv + 1);
  if (strcmp(cmd, "info") == 0)
    return cmd_info(argc - 1, argv + 1);
  if (strcmp(cmd, "bench") == 0)
    return cmd_bench(argc - 1, argv + 1);
  fprintf(stderr, "tessera: error: unknown command '%s'\n", cmd);
  usage(stderr);
  return CLI_USAGE;
}
