/* cmd_gen_frames.c — `tessera gen groupby N K [--nas PCT] [--sorted]
 * [--seed S] [DST]` and `tessera gen join N [--seed S] [DIR]`: the
 * db-benchmark data sets (tsr_frame_gen_groupby, tsr_frame_gen_join)
 * written as CSV files by tsr_frame_write_csv, in parallel and atomically,
 * with db-benchmark's default file names. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

bool cli_parse_count(const char *text, int64_t *out) {
  if (text == NULL || *text == '\0' || *text == '-' || *text == '+')
    return false;
  char *end;
  errno = 0;
  if (strpbrk(text, "eE.") == NULL) {
    long long v = strtoll(text, &end, 10);
    if (*end != '\0' || errno != 0 || v <= 0)
      return false;
    *out = v;
    return true;
  }
  double d = strtod(text, &end);
  if (*end != '\0' || errno != 0 || !(d >= 1) || d > 9e15 || d != floor(d))
    return false;
  *out = (int64_t)d;
  return true;
}

/* db-benchmark's pretty_sci: the first digit, "e", the other digits' count. */
static void pretty_sci(int64_t v, char *out, size_t size) {
  char digits[32];
  int n = snprintf(digits, sizeof digits, "%lld", (long long)v);
  snprintf(out, size, "%ce%d", digits[0], n - 1);
}

static int write_frame(tsr_frame *f, const char *path, bool overwrite, const cli_common *c) {
  tsr_compute_options co = cli_compute_options(c);
  tsr_status s = tsr_frame_write_csv(f, path, ',', overwrite, &co);
  return s == TSR_OK ? CLI_OK : cli_fail(s);
}

int cmd_gen_frames(int argc, char **argv) {
  const char *what = argv[1];
  bool groupby = strcmp(what, "groupby") == 0;
  char cmd[32];
  snprintf(cmd, sizeof cmd, "gen %s", what);
  cli_common c = {.progress = -1};
  const char *operands[3] = {NULL, NULL, NULL};
  int n_operands = 0, max_operands = groupby ? 3 : 2;
  double nas = 0;
  bool sorted = false, overwrite = false, bad = false, options = true;
  long long seed = 0;
  for (int i = 2; i < argc && !bad; i++) {
    const char *a = argv[i];
    if (options && strcmp(a, "--") == 0) {
      options = false;
      continue;
    }
    if (options && a[0] == '-' && a[1] != '\0') {
      if (cli_common_option(&c, argc, argv, &i, &bad))
        continue;
      if (strcmp(a, "--seed") == 0 || (groupby && strcmp(a, "--nas") == 0)) {
        if (i + 1 >= argc)
          return cli_usage("gen", "%s needs a value", a);
        const char *v = argv[++i];
        char *end;
        errno = 0;
        if (strcmp(a, "--seed") == 0) {
          seed = strtoll(v, &end, 10);
          if (*end != '\0' || *v == '\0' || seed < 0 || errno != 0)
            return cli_usage("gen", "--seed '%s' is not a non-negative integer", v);
        } else {
          nas = strtod(v, &end);
          if (*end != '\0' || *v == '\0' || !(nas >= 0 && nas <= 100))
            return cli_usage("gen", "--nas '%s' is not a percentage from 0 to 100", v);
        }
        continue;
      }
      if (groupby && strcmp(a, "--sorted") == 0) {
        sorted = true;
        continue;
      }
      if (strcmp(a, "--overwrite") == 0) {
        overwrite = true;
        continue;
      }
      return cli_usage("gen", "unknown option '%s' for 'tessera %s'", a, cmd);
    }
    if (n_operands == max_operands)
      return cli_usage("gen", "too many operands for 'tessera %s' ('%s')", cmd, a);
    operands[n_operands++] = a;
  }
  if (bad)
    return CLI_USAGE;
  int64_t n = 0, k = 0;
  if (n_operands < 1 || !cli_parse_count(operands[0], &n))
    return cli_usage("gen", "'tessera %s' needs the row count N as 1e7 or 10000000%s%s%s", cmd,
                     n_operands ? " (got '" : "", n_operands ? operands[0] : "",
                     n_operands ? "')" : "");
  if (groupby && (n_operands < 2 || !cli_parse_count(operands[1], &k)))
    return cli_usage("gen", "'tessera gen groupby' needs the level count K as 1e2 or 100%s%s%s",
                     n_operands > 1 ? " (got '" : "", n_operands > 1 ? operands[1] : "",
                     n_operands > 1 ? "')" : "");
  char ns[32], ks[32];
  pretty_sci(n, ns, sizeof ns);
  int rc = CLI_OK;
  if (groupby) {
    char name[160];
    snprintf(name, sizeof name, "G1_%s_%s_%g_%d.csv", ns, (pretty_sci(k, ks, sizeof ks), ks), nas,
             sorted ? 1 : 0);
    const char *dst = n_operands > 2 ? operands[2] : name;
    const char *files[1] = {dst};
    int side = cli_check_side_files("gen", &c, files, 1);
    if (side != CLI_OK)
      return side;
    tsr_ctx *ctx = cli_context(&c);
    if (ctx == NULL)
      return CLI_FAILED;
    tsr_frame *f = NULL;
    tsr_status s = tsr_frame_gen_groupby(ctx, n, k, nas, sorted, (uint64_t)seed, 0, &f);
    rc = cli_check(ctx, s) ? write_frame(f, dst, overwrite, &c) : CLI_FAILED;
    if (rc == CLI_OK && !c.quiet)
      printf("wrote %s (%lld rows)\n", dst, (long long)n);
    tsr_frame_destroy(&f);
    tsr_ctx_destroy(&ctx);
    return rc;
  }
  const char *dir = n_operands > 1 ? operands[1] : ".";
  static const int64_t div[4] = {0, 1000000, 1000, 1};
  char paths[4][4200];
  const char *files[4];
  for (int t = 0; t < 4; t++) {
    char rs[32];
    if (t == 0) {
      snprintf(rs, sizeof rs, "NA");
    } else {
      int64_t rows = n / div[t] > 0 ? n / div[t] : 1;
      pretty_sci(rows, rs, sizeof rs);
    }
    if (snprintf(paths[t], sizeof paths[t], "%s/J1_%s_%s_0_0.csv", dir, ns, rs) >=
        (int)sizeof paths[t])
      return cli_usage("gen", "the directory name '%s' is too long", dir);
    files[t] = paths[t];
  }
  int side = cli_check_side_files("gen", &c, files, 4);
  if (side != CLI_OK)
    return side;
  /* All four or none: existing files are refused before anything is
   * written, and the files this run made are removed when a later one
   * fails. */
  bool existed[4];
  for (int t = 0; t < 4; t++) {
    existed[t] = access(paths[t], F_OK) == 0;
    if (existed[t] && !overwrite)
      return cli_error("cannot write '%s': the file exists (--overwrite replaces it)", paths[t]);
  }
  tsr_ctx *ctx = cli_context(&c);
  if (ctx == NULL)
    return CLI_FAILED;
  int written = 0;
  for (int t = 0; t < 4 && rc == CLI_OK; t++) {
    tsr_frame *f = NULL;
    tsr_status s = tsr_frame_gen_join(ctx, n, t, (uint64_t)seed, 0, &f);
    rc = cli_check(ctx, s) ? write_frame(f, paths[t], overwrite, &c) : CLI_FAILED;
    if (rc == CLI_OK && !c.quiet)
      printf("wrote %s\n", paths[t]);
    written += rc == CLI_OK;
    tsr_frame_destroy(&f);
  }
  if (rc != CLI_OK && cli_rank == 0)
    for (int t = 0; t < written; t++)
      if (!existed[t])
        unlink(paths[t]);
  tsr_ctx_destroy(&ctx);
  return rc;
}
