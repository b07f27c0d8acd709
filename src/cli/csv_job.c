/* csv_job.c — what the CSV commands share: recognising CSV paths, the CSV
 * read options (--schema, --columns, --nulls, --overwrite) and the argument
 * parsing of a `tessera CMD SRC.csv DST.csv [options]` command (convert,
 * groupby): common options, CSV options, the command's own options through
 * a callback, then SRC and DST checked (present, DST a CSV, not the same
 * file, side files writable) before anything is read. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

bool cli_is_csv(const char *path) {
  static const char *const suffixes[] = {".csv", ".csv.gz", ".tsv", ".tsv.gz", ".CSV", ".CSV.GZ"};
  size_t n = strlen(path);
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    size_t k = strlen(suffixes[i]);
    if (n > k && strcmp(path + n - k, suffixes[i]) == 0)
      return true;
  }
  return false;
}

bool cli_h5_spec(const char *arg, char **path, const char **object) {
  static const char *const suffixes[] = {".h5", ".hdf5", ".he5", ".H5"};
  for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
    size_t k = strlen(suffixes[i]);
    for (const char *p = strstr(arg, suffixes[i]); p != NULL; p = strstr(p + 1, suffixes[i])) {
      if (p[k] != '\0' && p[k] != ':')
        continue;
      if (path != NULL) {
        *path = strndup(arg, (size_t)(p + k - arg));
        if (*path == NULL)
          return false;
      }
      if (object != NULL)
        *object = p[k] == ':' && p[k + 1] != '\0' ? p + k + 1 : "/table";
      return true;
    }
  }
  return false;
}

char cli_csv_delimiter(const char *path) {
  size_t n = strlen(path);
  bool tsv = (n > 4 && strcmp(path + n - 4, ".tsv") == 0) ||
             (n > 7 && strcmp(path + n - 7, ".tsv.gz") == 0);
  return tsv ? '\t' : ',';
}

bool cli_csv_option(const char *cmd, cli_csv_args *a, int argc, char **argv, int *i, bool *bad,
                    bool allow_overwrite) {
  const char *o = argv[*i];
  const char **slot = strcmp(o, "--schema") == 0    ? &a->schema
                      : strcmp(o, "--columns") == 0 ? &a->columns
                      : strcmp(o, "--nulls") == 0   ? &a->nulls
                                                    : NULL;
  if (slot != NULL) {
    if (*i + 1 >= argc) {
      cli_usage(cmd, "%s needs a value", o);
      *bad = true;
      return true;
    }
    *slot = argv[++*i];
    return true;
  }
  if (allow_overwrite && strcmp(o, "--overwrite") == 0) {
    a->overwrite = true;
    return true;
  }
  return false;
}

tsr_csv_options cli_csv_read_options(const cli_csv_args *a) {
  tsr_csv_options o;
  memset(&o, 0, sizeof o);
  o.schema = a->schema;
  o.columns = a->columns;
  o.nulls = a->nulls;
  return o;
}

int cli_csv_job_parse(const char *cmd, int argc, char **argv, void (*help)(FILE *),
                      cli_own_option own, void *user, cli_csv_job *job) {
  memset(job, 0, sizeof *job);
  job->common.progress = -1;
  bool bad = false, options = true;
  for (int i = 1; i < argc && !bad; i++) {
    const char *arg = argv[i];
    if (options && strcmp(arg, "--") == 0) {
      options = false;
      continue;
    }
    if (options && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
      help(stdout);
      job->helped = true;
      return CLI_OK;
    }
    if (options && arg[0] == '-' && arg[1] != '\0') {
      if ((own != NULL && own(user, argc, argv, &i, &bad)) ||
          cli_common_option(&job->common, argc, argv, &i, &bad) ||
          cli_csv_option(cmd, &job->csv, argc, argv, &i, &bad, true))
        continue;
      return cli_usage(cmd, "unknown option '%s'", arg);
    }
    if (job->src == NULL)
      job->src = arg;
    else if (job->dst == NULL)
      job->dst = arg;
    else
      return cli_usage(cmd, "unexpected argument '%s'", arg);
  }
  if (bad)
    return CLI_USAGE;
  if (job->src == NULL || job->dst == NULL)
    return cli_usage(cmd, "needs SRC.csv and DST.csv");
  bool h5_ok = strcmp(cmd, "convert") == 0; /* convert also writes HDF5 tables */
  if (!cli_is_csv(job->dst) && !(h5_ok && cli_h5_spec(job->dst, NULL, NULL)))
    return cli_usage(cmd, "'%s': only CSV outputs (.csv, .csv.gz)%s are supported", job->dst,
                     h5_ok ? " and HDF5 tables (FILE.h5:/GROUP)" : "");
  if (strcmp(job->src, job->dst) == 0)
    return cli_usage(cmd, "SRC and DST are the same file '%s'", job->src);
  const char *files[2] = {job->src, job->dst};
  return cli_check_side_files(cmd, &job->common, files, 2);
}
