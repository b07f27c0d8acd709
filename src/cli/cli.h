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
  int threads;           /* 0: the library's default */
  const char *memory;    /* --memory-limit text, or NULL */
  uint64_t memory_bytes; /* its value (checked when the option is read) */
  int progress;          /* -1 auto (stderr is a terminal), 0 off, 1 on */
  const char *trace;     /* --trace FILE.json */
  const char *graph;     /* --graph FILE.dot */
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
/* A context configured from the options (reports errors; NULL on failure).
 * Under a launcher it is the ranks' first agreement: a rank whose
 * environment is invalid still joins (with a context made without the
 * TESSERA_* variables) so that every rank fails, and rank 0 prints the
 * error once, "rank R: ...". */
tsr_ctx *cli_context(const cli_common *c);
/* After a step that may fail on some ranks only: agrees on `status`
 * (collective under a launcher), reports the agreed failure once; true
 * when every rank succeeded. */
bool cli_check(tsr_ctx *ctx, tsr_status status);
/* At exit: under a launcher, a command that failed (or ended) before its
 * ranks agreed once agrees now, so the error of any rank is printed once
 * by rank 0; returns the exit status. */
int cli_finish(int rc);
/* Compute options implementing --progress, --trace, --graph and --stats
 * (the statistics are printed to stderr after the run). */
tsr_compute_options cli_compute_options(const cli_common *c);
/* The same for every run of a job whose pipeline breakers (group-by, join,
 * sort) compute inside their calls: --progress, --trace and --stats become
 * the context's run observer (tsr_ctx_set_run_observer: one statistics
 * table per run, every run in one trace file), and *co carries --graph,
 * which describes the final compute only. */
tsr_status cli_observe(tsr_ctx *ctx, const cli_common *c, tsr_compute_options *co);
/* Removes the observer, writing its trace (collective); false (reported)
 * when that failed. */
bool cli_observe_end(tsr_ctx *ctx);

/* Under mpirun/srun: this process's rank (0 otherwise).  Only rank 0
 * prints results, progress, statistics and the errors every rank agreed
 * on; the other ranks' standard output goes to /dev/null. */
extern int cli_rank;
/* Set from the launcher's environment before anything runs; true when
 * started by one (the exit path then skips MPI_Finalize on failure). */
extern bool cli_launched;
bool cli_detect_launch(void);

/* "tessera: error: <message>" on stderr; returns CLI_FAILED.  Under a
 * launcher only rank 0 prints (the ranks agree first: cli_check,
 * cli_finish).  Library messages are put in the command's terms (eval
 * names, not C functions). */
int cli_error(const char *fmt, ...) TSR_PRINTF(1, 2);
/* The library's last error as a command error. */
int cli_fail(tsr_status status);
/* A usage error (exit 2) mentioning `tessera <cmd> --help`. */
int cli_usage(const char *cmd, const char *fmt, ...) TSR_PRINTF(2, 3);

/* Splits "file.h5:/path/to/dset" at its last ":/" into the file name and
 * the dataset path; false when there is none. */
bool cli_split_target(const char *text, char *file, size_t file_size, const char **dataset);
/* Why `path` (after FILE.h5:) cannot name a dataset ("is empty ..."), or
 * NULL when it can. */
const char *cli_dataset_path_error(const char *path);
/* Parses "20000,5000" into at most max extents; false on bad text. */
bool cli_parse_shape(const char *text, int64_t *out, int max, int *n);

/* The whole file ("-": standard input) plus a NUL; *len is the number of
 * bytes read.  NULL with errno set on failure. */
char *cli_read_file(const char *path, size_t *len);
/* Under a launcher: rank 0 read the text (*source, *source_len, malloc'd);
 * every rank gets it (collective). */
tsr_status cli_share_text(tsr_ctx *ctx, char **source, size_t *source_len);

int cmd_eval(int argc, char **argv);
int cmd_query(int argc, char **argv);
int cmd_gen(int argc, char **argv);
/* `tessera gen groupby|join` (argv[1] names which). */
int cmd_gen_frames(int argc, char **argv);
/* Parses a count given as 1e7 or 10000000 (positive, exact); false otherwise. */
bool cli_parse_count(const char *text, int64_t *out);
int cmd_info(int argc, char **argv);
/* `tessera info DATA.csv` (cmd_info hands CSV files to it). */
int cmd_info_csv(int argc, char **argv);
int cmd_convert(int argc, char **argv);
/* Whether the path names a CSV file (.csv, .csv.gz, .tsv, .tsv.gz). */
bool cli_is_csv(const char *path);
/* The CSV options of convert, info and groupby (beyond the common ones;
 * csv_job.c). */
typedef struct cli_csv_args {
  const char *schema, *columns, *nulls;
  bool overwrite;
} cli_csv_args;
/* Consumes argv[*i] if it is one of the CSV options (true), or reports a
 * missing value (*bad); --overwrite only when allow_overwrite. */
bool cli_csv_option(const char *cmd, cli_csv_args *a, int argc, char **argv, int *i, bool *bad,
                    bool allow_overwrite);
tsr_csv_options cli_csv_read_options(const cli_csv_args *a);
/* '\t' for a .tsv or .tsv.gz path, else ','. */
char cli_csv_delimiter(const char *path);
/* A command's own option: consumes argv[*i] (true; *bad when its value is
 * missing, after printing the usage error) or leaves it (false). */
typedef bool (*cli_own_option)(void *user, int argc, char **argv, int *i, bool *bad);
/* `tessera CMD SRC.csv DST.csv [options]`, parsed and checked. */
typedef struct cli_csv_job {
  cli_common common;
  cli_csv_args csv;
  const char *src, *dst;
  bool helped; /* --help was given and printed: nothing else to do */
} cli_csv_job;
/* Parses argv (own options first, then the common and CSV ones, then SRC
 * and DST) and checks SRC and DST: CLI_OK to go on (unless job->helped),
 * else the exit code, the usage error printed. */
int cli_csv_job_parse(const char *cmd, int argc, char **argv, void (*help)(FILE *),
                      cli_own_option own, void *user, cli_csv_job *job);
/* An HDF5 table or compound dataset named as FILE.h5:/OBJECT (also .hdf5,
 * .he5; FILE.h5 alone means FILE.h5:/table): true and the parts (path
 * malloc'd, the caller frees it; object points into arg or is "/table"). */
bool cli_h5_spec(const char *arg, char **path, const char **object);
/* `tessera groupby SRC.csv DST.csv --by KEYS --agg AGGS` (cmd_groupby.c). */
int cmd_groupby(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif /* TSR_CLI_H */
