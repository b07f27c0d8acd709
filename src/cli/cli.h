/* cli.h — what the subcommands of the `tessera` command share: the common
 * options (threads, memory limit, progress, trace, graph, statistics), the
 * context made from them, and one-line error reporting.
 *
 * The command uses only the public headers (<tessera/tessera.h>): it is a
 * client of the library like any user's program.  Exit codes: 0 success,
 * 1 a failed job or bad input, 2 bad usage. */
#ifndef TSR_CLI_H
#define TSR_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include <tessera/tessera.h>

enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

typedef struct cli_common {
  int threads;        /* 0: the library's default */
  const char *memory; /* --memory-limit text, or NULL */
  int progress;       /* -1 auto (stderr is a terminal), 0 off, 1 on */
  const char *trace;  /* --trace FILE.json */
  const char *graph;  /* --graph FILE.dot */
  bool stats, quiet;
} cli_common;

/* If argv[*i] is a common option, consumes it (and its value) and returns
 * true; on a bad value prints the error and sets *bad. */
bool cli_common_option(cli_common *c, int argc, char **argv, int *i, bool *bad);
/* Help text of the common options. */
void cli_common_help(FILE *out);
/* --trace and --graph must name neither a file of `files` (the run's inputs
 * and outputs) nor each other: CLI_OK, or a usage error (printed). */
int cli_check_side_files(const char *cmd, const cli_common *c, const char *const *files, size_t n);
/* A context configured from the options (reports errors; NULL on failure). */
tsr_ctx *cli_context(const cli_common *c);
/* Compute options implementing --progress, --trace, --graph and --stats
 * (the statistics are printed to stderr after the run). */
tsr_compute_options cli_compute_options(const cli_common *c);

/* Under mpirun/srun: this process's rank (0 otherwise).  Only rank 0
 * prints results, progress, statistics and the errors every rank agreed
 * on; the other ranks' standard output goes to /dev/null. */
extern int cli_rank;
/* Set from the launcher's environment before anything runs; true when
 * started by one (the exit path then skips MPI_Finalize on failure). */
bool cli_detect_launch(void);

/* "tessera: error: <message>" on stderr; returns CLI_FAILED. */
int cli_error(const char *fmt, ...) TSR_PRINTF(1, 2);
/* The library's last error as a command error. */
int cli_fail(tsr_status status); /* the library's agreed error: printed by rank 0 */
/* A usage error (exit 2) mentioning `tessera <cmd> --help`. */
int cli_usage(const char *cmd, const char *fmt, ...) TSR_PRINTF(2, 3);

/* Splits "file.h5:/path/to/dset" at its last ":/" into the file name and
 * the dataset path; false when there is none. */
bool cli_split_target(const char *text, char *file, size_t file_size, const char **dataset);
/* Parses "20000,5000" into at most max extents; false on bad text. */
bool cli_parse_shape(const char *text, int64_t *out, int max, int *n);

int cmd_eval(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif /* TSR_CLI_H */
