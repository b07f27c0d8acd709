/* main.c — the `tessera` command: dispatches to its subcommands.
 *
 *   tessera eval ...   an array expression program over HDF5 datasets
 *   tessera gen ...    write a generated dataset
 *   tessera info ...   what an HDF5 file holds
 *   tessera bench ...  the benchmark programs, beside their peers */
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
        "  info   list an HDF5 file's groups and datasets:  tessera info x.h5\n"
        "  bench  run a benchmark program:  tessera bench arrays --peers\n"
        "\n"
        "'tessera <command> --help' describes a command; 'tessera --version' prints the "
        "version.\n",
        out);
}

static int run(int argc, char **argv);

/* Under a launcher, ranks other than 0 print no results, and a failing
 * rank leaves at once with its status, without MPI_Finalize: the
 * launcher then ends the job, and no rank waits in a finalize for a rank
 * that never comes (a failure agreed by every rank exits every rank). */
int main(int argc, char **argv) {
  bool launched = cli_detect_launch();
  if (launched && cli_rank > 0 && freopen("/dev/null", "w", stdout) == NULL)
    return cli_error("cannot redirect standard output of rank %d", cli_rank);
  int rc = cli_finish(run(argc, argv));
  if (launched && rc != CLI_OK) {
    fflush(NULL);
    _exit(rc);
  }
  return rc;
}

static int run(int argc, char **argv) {
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
  if (strcmp(cmd, "info") == 0)
    return cmd_info(argc - 1, argv + 1);
  if (strcmp(cmd, "bench") == 0)
    return cmd_bench(argc - 1, argv + 1);
  fprintf(stderr, "tessera: error: unknown command '%s'\n", cmd);
  usage(stderr);
  return CLI_USAGE;
}
