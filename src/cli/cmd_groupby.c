/* cmd_groupby.c — `tessera groupby SRC.csv DST.csv --by KEYS --agg AGGS`:
 * a CSV read by tsr_frame_read_csv, grouped by tsr_frame_aggregate (the
 * aggregates as text) and written by tsr_frame_write_csv atomically, all
 * under --memory-limit: a group-by whose groups do not fit spills hash
 * partitions to temporary files (docs/frames.md, "Group-by larger than
 * memory"). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void groupby_help(FILE *out) {
  fputs("usage: tessera groupby SRC.csv DST.csv --by KEYS --agg AGGS [options]\n"
        "\n"
        "Reads SRC.csv (or .csv.gz), groups its rows by the key columns KEYS (comma-\n"
        "separated) and writes one row per group to DST.csv (or .csv.gz): the keys, then\n"
        "one column per aggregate of AGGS, e.g. --agg 'sum(v1), mean(v3), count(*)'\n"
        "(the syntax of tsr_frame_aggregate: docs/frames.md, \"Aggregates as text\").\n"
        "Groups come in the order of their first row.  Under --memory-limit a group-by\n"
        "whose groups do not fit is computed by spilling hash partitions to temporary\n"
        "files (TESSERA_SPILL_DIR); DST appears only once complete.\n"
        "\n"
        "  --by A,B,...            the key columns (none: one row of aggregates)\n"
        "  --agg AGGS              the aggregates (required)\n"
        "  --schema NAME:TYPE,...  the columns' names and types instead of sniffing them\n"
        "  --columns A,B,...       read only these columns\n"
        "  --nulls NA,NULL         more spellings read as null (besides an empty field)\n"
        "  --overwrite             replace DST if it exists\n"
        "\n",
        out);
  cli_common_help(out);
}

/* Splits "a, b,c" at commas into at most max trimmed names written into
 * buf (bytes): *n names in keys; false on an empty name. */
static bool split_keys(const char *text, char *buf, size_t bytes, const char **keys, int max,
                       int *n) {
  *n = 0;
  if (strlen(text) >= bytes)
    return false;
  strcpy(buf, text);
  for (char *p = buf;;) {
    char *comma = strchr(p, ',');
    if (comma != NULL)
      *comma = '\0';
    while (*p == ' ' || *p == '\t')
      p++;
    char *e = p + strlen(p);
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
      *--e = '\0';
    if (*p == '\0' || *n == max)
      return false;
    keys[(*n)++] = p;
    if (comma == NULL)
      return true;
    p = comma + 1;
  }
}

/* --by and --agg. */
typedef struct groupby_args {
  const char *by, *agg;
} groupby_args;

static bool groupby_option(void *user, int argc, char **argv, int *i, bool *bad) {
  groupby_args *g = user;
  const char *arg = argv[*i];
  if (strcmp(arg, "--by") != 0 && strcmp(arg, "--agg") != 0)
    return false;
  if (*i + 1 >= argc) {
    cli_usage("groupby", "%s needs a value", arg);
    *bad = true;
    return true;
  }
  *(arg[2] == 'b' ? &g->by : &g->agg) = argv[++*i];
  return true;
}

int cmd_groupby(int argc, char **argv) {
  groupby_args ga = {NULL, NULL};
  cli_csv_job job;
  int parsed = cli_csv_job_parse("groupby", argc, argv, groupby_help, groupby_option, &ga, &job);
  if (parsed != CLI_OK || job.helped)
    return parsed;
  const cli_common c = job.common;
  const char *src = job.src, *dst = job.dst, *by = ga.by, *agg = ga.agg;
  if (agg == NULL)
    return cli_usage("groupby", "needs --agg AGGS (e.g. --agg 'sum(v1), count(*)')");
  enum { MAX_KEYS = 256 };
  const char *keys[MAX_KEYS];
  char keybuf[8192];
  int nkeys = 0;
  if (by != NULL && !split_keys(by, keybuf, sizeof keybuf, keys, MAX_KEYS, &nkeys))
    return cli_usage("groupby", "--by '%s': give key column names separated by commas", by);
  tsr_ctx *ctx = cli_context(&c);
  if (ctx == NULL)
    return CLI_FAILED;
  tsr_csv_options ro = cli_csv_read_options(&job.csv);
  tsr_frame *f = NULL, *g = NULL;
  int rc = CLI_FAILED;
  tsr_compute_options co;
  tsr_status s = cli_observe(ctx, &c, &co);
  if (s == TSR_OK)
    s = tsr_frame_read_csv(ctx, src, &ro, &f);
  if (cli_check(ctx, s)) {
    s = tsr_frame_aggregate(f, nkeys, keys, agg, NULL, &g);
    tsr_frame_destroy(&f); /* the input's chunks are not needed any more */
    if (cli_check(ctx, s)) {
      s = tsr_frame_write_csv(g, dst, cli_csv_delimiter(dst), job.csv.overwrite, &co);
      rc = s == TSR_OK ? CLI_OK : cli_fail(s);
    }
  }
  if (rc == CLI_OK && !c.quiet)
    printf("wrote %s (%lld groups, %d columns)\n", dst, (long long)tsr_frame_nrows_known(g),
           tsr_frame_ncols(g));
  tsr_frame_destroy(&g);
  tsr_frame_destroy(&f);
  if (!cli_observe_end(ctx) && rc == CLI_OK)
    rc = CLI_FAILED;
  tsr_ctx_destroy(&ctx);
  return rc;
}
