/* cmd_query.c — `tessera query [options] "SQL"` (or -f job.sql): SQL over
 * CSV files and HDF5 tables for batch jobs, through an SQL session
 * (tessera/sql.h).  Tables are quoted paths in FROM ('data.csv',
 * 'file.h5:/group') or names bound with --table NAME=PATH.  The last
 * statement's result is printed (an aligned table, CSV, TSV, JSON or
 * Markdown) or written with --out, atomically.  CSV-based formats are made
 * by the library's CSV writer (the same text `--out x.csv` writes), then
 * re-shaped here for TSV, JSON and Markdown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static void help(FILE *out) {
  fputs("usage: tessera query [options] [--table NAME=PATH]... ('SQL' | -f FILE.sql)\n"
        "\n"
        "Runs SQL statements (separated by ';') over CSV files (.csv, .csv.gz) and HDF5\n"
        "tables, and prints the last statement's result.  Tables are named in FROM and JOIN\n"
        "by quoted paths, as DuckDB does ('data.csv', 'file.h5:/group'), or by names bound\n"
        "with --table.  CREATE TABLE name AS ... reads a file once for the statements after\n"
        "it; COPY (query) TO 'out.csv' writes a result.  The subset: docs/sql.md.\n"
        "\n"
        "  --table NAME=PATH     bind NAME to a CSV file or FILE.h5:/GROUP (opened when used)\n"
        "  --format FMT          table (default: aligned, first and last rows when long),\n"
        "                        csv (a header row and RFC 4180 rows; nulls as empty fields),\n"
        "                        tsv, json (an array of objects), markdown\n"
        "  --max-rows N          rows the table format shows (default 40; 0: all)\n"
        "  --out FILE            write the result to FILE (.csv, .csv.gz, .tsv) or\n"
        "                        FILE.h5:/GROUP (an HDF5 table) instead of printing it; it\n"
        "                        appears only once complete\n"
        "  --overwrite           replace an --out file or group that exists\n"
        "  -f FILE               read the statements from FILE ('-': standard input)\n"
        "  --                    ends the options (SQL starting with '-' follows)\n"
        "\n",
        out);
  cli_common_help(out);
}

typedef enum format { FMT_TABLE, FMT_CSV, FMT_TSV, FMT_JSON, FMT_MARKDOWN } format;

/* ---- CSV text re-shaped ------------------------------------------------------------------- */

/* One field of RFC 4180 text at *p (advanced past it and its delimiter):
 * its unquoted bytes in buf; *quoted when it was quoted (an empty quoted
 * field is an empty string, an empty bare field a null). */
static size_t csv_field(const char **p, char *buf, bool *quoted, bool *last) {
  const char *s = *p;
  size_t n = 0;
  *quoted = *s == '"';
  if (*quoted) {
    s++;
    for (;;) {
      if (*s == '"' && s[1] == '"') {
        buf[n++] = '"';
        s += 2;
      } else if (*s == '"' || *s == '\0') {
        if (*s == '"')
          s++;
        break;
      } else
        buf[n++] = *s++;
    }
  } else
    while (*s != ',' && *s != '\n' && *s != '\0')
      buf[n++] = *s++;
  *last = *s != ',';
  if (*s == ',' || *s == '\n')
    s++;
  *p = s;
  buf[n] = '\0';
  return n;
}

static void json_string(FILE *out, const char *s, size_t n) {
  fputc('"', out);
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\')
      fprintf(out, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", out);
    else if (c == '\r')
      fputs("\\r", out);
    else if (c == '\t')
      fputs("\\t", out);
    else if (c < 0x20)
      fprintf(out, "\\u%04x", c);
    else
      fputc(c, out);
  }
  fputc('"', out);
}

/* Whether a column's values are JSON numbers or booleans (unquoted). */
static bool json_bare(tsr_type t, const char *v) {
  if (t.id == TSR_COL_BOOL)
    return true;
  if (t.id > TSR_COL_FLOAT64)
    return false;
  return strcmp(v, "nan") != 0 && strcmp(v, "inf") != 0 && strcmp(v, "-inf") != 0;
}

static void markdown_cell(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '|')
      fputs("\\|", out);
    else if (*s == '\n')
      fputs("<br>", out);
    else
      fputc(*s, out);
  }
}

/* Prints CSV text `csv` (the writer's: header, then rows) as fmt. */
static void reshape(FILE *out, format fmt, const char *csv, size_t len, tsr_frame *f) {
  if (fmt == FMT_CSV) {
    fwrite(csv, 1, len, out);
    return;
  }
  char *buf = malloc(len + 1);
  if (buf == NULL)
    return;
  int ncols = tsr_frame_ncols(f);
  const char *p = csv;
  bool first_row = true;
  if (fmt == FMT_JSON)
    fputs("[", out);
  for (int64_t row = -1; *p != '\0'; row++) {
    if (fmt == FMT_JSON && row >= 0)
      fputs(first_row ? "\n  {" : ",\n  {", out);
    if (row >= 0)
      first_row = false;
    for (int c = 0; c < ncols && *p != '\0'; c++) {
      bool quoted, last;
      size_t n = csv_field(&p, buf, &quoted, &last);
      bool null = n == 0 && !quoted && row >= 0;
      if (fmt == FMT_TSV) {
        for (size_t i = 0; i < n; i++)
          fputc(buf[i] == '\t' || buf[i] == '\n' ? ' ' : buf[i], out);
        fputc(c + 1 < ncols ? '\t' : '\n', out);
      } else if (fmt == FMT_MARKDOWN) {
        fputs(c == 0 ? "| " : " | ", out);
        markdown_cell(out, null ? "NULL" : buf);
        if (c + 1 == ncols) {
          fputs(" |\n", out);
          if (row < 0) {
            for (int k = 0; k < ncols; k++)
              fputs(k == 0 ? "|---|" : "---|", out);
            fputc('\n', out);
          }
        }
      } else if (fmt == FMT_JSON && row >= 0) {
        if (c > 0)
          fputs(", ", out);
        const char *name = tsr_frame_col_name(f, c);
        json_string(out, name, strlen(name));
        fputs(": ", out);
        if (null)
          fputs("null", out);
        else if (json_bare(tsr_frame_col_type(f, c), buf))
          fputs(buf, out);
        else
          json_string(out, buf, n);
      }
      if (last && c + 1 < ncols)
        break; /* a short record: the writer never makes one */
    }
    if (fmt == FMT_JSON && row >= 0)
      fputs("}", out);
  }
  if (fmt == FMT_JSON)
    fputs(first_row ? "]\n" : "\n]\n", out);
  free(buf);
}

/* Writes f as CSV into a temporary file and prints it as fmt. */
static tsr_status print_csv_based(tsr_frame *f, format fmt, const tsr_compute_options *co) {
  const char *dir = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/tessera-query-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0)
    return tsr_error_set(TSR_EIO, "cannot make a temporary file in '%s': %s",
                         dir && *dir ? dir : "/tmp", strerror(errno));
  close(fd);
  tsr_status s = tsr_frame_write_csv(f, path, ',', true, co);
  if (s == TSR_OK) {
    size_t len = 0;
    char *text = cli_read_file(path, &len);
    if (text == NULL)
      s = tsr_error_set(TSR_EIO, "cannot read back '%s': %s", path, strerror(errno));
    else if (cli_rank == 0)
      reshape(stdout, fmt, text, len, f);
    free(text);
  }
  unlink(path);
  return s;
}

/* EXPLAIN's result (one string column `plan`) printed as its lines. */
static bool is_plan(tsr_frame *f) {
  return tsr_frame_ncols(f) == 1 && strcmp(tsr_frame_col_name(f, 0), "plan") == 0 &&
         tsr_frame_col_type(f, 0).id == TSR_COL_STRING;
}

static tsr_status print_lines(tsr_frame *f) {
  tsr_frame_result *r = NULL;
  TSR_TRY(tsr_frame_compute(f, NULL, &r));
  tsr_status s = TSR_OK;
  for (int64_t i = 0; i < tsr_frame_result_nrows(r) && s == TSR_OK; i++) {
    const char *text;
    size_t len;
    bool is_null;
    s = tsr_frame_result_string(r, 0, i, &text, &len, &is_null);
    if (s == TSR_OK && cli_rank == 0)
      printf("%.*s\n", (int)len, is_null ? "" : text);
  }
  tsr_frame_result_destroy(&r);
  return s;
}

/* ---- the command ------------------------------------------------------------------------- */

static bool parse_format(const char *v, format *out) {
  static const struct {
    const char *name;
    format fmt;
  } names[] = {{"table", FMT_TABLE}, {"csv", FMT_CSV},           {"tsv", FMT_TSV},
               {"json", FMT_JSON},   {"markdown", FMT_MARKDOWN}, {"md", FMT_MARKDOWN}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(v, names[i].name) == 0) {
      *out = names[i].fmt;
      return true;
    }
  return false;
}

static tsr_status write_out(tsr_frame *f, const char *out, bool overwrite,
                            const tsr_compute_options *co) {
  char file[4096];
  const char *group = NULL;
  if (!cli_is_csv(out) && cli_split_target(out, file, sizeof file, &group)) {
    tsr_frame_hdf5_options o;
    memset(&o, 0, sizeof o);
    o.mode = overwrite ? TSR_HDF5_OVERWRITE : TSR_HDF5_APPEND;
    o.compute = co;
    return tsr_frame_write_hdf5(f, file, group, &o);
  }
  return tsr_frame_write_csv(f, out, cli_csv_delimiter(out), overwrite, co);
}

int cmd_query(int argc, char **argv) {
  cli_common c = {.progress = -1};
  const char **tables = calloc((size_t)argc + 1, sizeof *tables);
  const char *sql_arg = NULL, *sql_file = NULL, *out = NULL;
  format fmt = FMT_TABLE;
  long long max_rows = 40;
  bool overwrite = false, bad = false;
  int ntables = 0, rc = CLI_OK;
  char *sql = NULL;
  size_t sql_len = 0;
  tsr_ctx *ctx = NULL;
  tsr_sql_session *session = NULL;
  tsr_frame *result = NULL;
  if (tables == NULL)
    return cli_error("out of memory");
  bool options = true;
  for (int i = 1; i < argc && !bad; i++) {
    const char *a = argv[i];
    if (options && strcmp(a, "--") == 0) {
      options = false;
      continue;
    }
    if (options && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
      help(stdout);
      goto done;
    }
    if (options && cli_common_option(&c, argc, argv, &i, &bad))
      continue;
    if (options && strcmp(a, "--overwrite") == 0) {
      overwrite = true;
      continue;
    }
    if (options &&
        (strcmp(a, "--table") == 0 || strcmp(a, "--format") == 0 || strcmp(a, "--out") == 0 ||
         strcmp(a, "-f") == 0 || strcmp(a, "--max-rows") == 0)) {
      if (i + 1 >= argc) {
        rc = cli_usage("query", "%s needs a value", a);
        goto done;
      }
      const char *v = argv[++i];
      if (strcmp(a, "--table") == 0) {
        const char *eq = strchr(v, '=');
        if (eq == NULL || eq == v || eq[1] == '\0') {
          rc = cli_usage("query", "--table '%s' is not NAME=PATH", v);
          goto done;
        }
        tables[ntables++] = v;
      } else if (strcmp(a, "--format") == 0) {
        if (!parse_format(v, &fmt)) {
          rc = cli_usage("query", "--format '%s': use table, csv, tsv, json or markdown", v);
          goto done;
        }
      } else if (strcmp(a, "--max-rows") == 0) {
        char *end;
        errno = 0;
        max_rows = strtoll(v, &end, 10);
        if (*end != '\0' || end == v || errno != 0 || max_rows < 0) {
          rc = cli_usage("query", "--max-rows '%s' must be a count (0: all rows)", v);
          goto done;
        }
      } else if (strcmp(a, "--out") == 0)
        out = v;
      else
        sql_file = v;
      continue;
    }
    if (options && a[0] == '-' && a[1] != '\0') {
      rc = cli_usage("query", "unknown option '%s' (SQL starting with '-' goes after '--')", a);
      goto done;
    }
    if (sql_arg != NULL) {
      rc = cli_usage("query", "more than one SQL text given (quote the whole script)");
      goto done;
    }
    sql_arg = a;
  }
  if (bad) {
    rc = CLI_USAGE;
    goto done;
  }
  if ((sql_arg == NULL) == (sql_file == NULL)) {
    rc = cli_usage("query", sql_arg ? "give the SQL or -f FILE, not both"
                                    : "no SQL given ('SELECT ...' or -f FILE.sql)");
    goto done;
  }
  if (out != NULL) {
    const char *files[1] = {out};
    if ((rc = cli_check_side_files("query", &c, files, 1)) != CLI_OK)
      goto done;
  }
  bool from_stdin = sql_file != NULL && strcmp(sql_file, "-") == 0;
  if (sql_file != NULL && (!from_stdin || !cli_launched || cli_rank == 0) &&
      (sql = cli_read_file(sql_file, &sql_len)) == NULL) {
    int e = errno;
    rc = from_stdin ? cli_error("cannot read the SQL from standard input: %s", strerror(e))
                    : cli_error("cannot read the SQL file '%s': %s", sql_file, strerror(e));
    goto done;
  }
  ctx = cli_context(&c);
  if (ctx == NULL) {
    rc = CLI_FAILED;
    goto done;
  }
  tsr_compute_options co;
  if (!cli_check(ctx, cli_observe(ctx, &c, &co))) {
    rc = CLI_FAILED;
    goto done;
  }
  if (from_stdin && !cli_check(ctx, cli_share_text(ctx, &sql, &sql_len))) {
    rc = CLI_FAILED;
    goto done;
  }
  if (sql != NULL && strlen(sql) != sql_len) { /* never a silently shortened script */
    rc = cli_error("the SQL file '%s' holds a NUL byte at offset %zu", sql_file, strlen(sql));
    goto done;
  }
  if (!cli_check(ctx, tsr_sql_session_create(ctx, &session))) {
    rc = CLI_FAILED;
    goto done;
  }
  for (int t = 0; t < ntables; t++) {
    const char *eq = strchr(tables[t], '=');
    char name[256];
    size_t n = (size_t)(eq - tables[t]);
    if (n >= sizeof name) {
      rc = cli_usage("query", "--table '%s': the name is too long", tables[t]);
      goto done;
    }
    memcpy(name, tables[t], n);
    name[n] = '\0';
    if (!cli_check(ctx, tsr_sql_register_path(session, name, eq + 1))) {
      rc = CLI_FAILED;
      goto done;
    }
  }
  tsr_status s = tsr_sql_run(session, sql != NULL ? sql : sql_arg, &result);
  if (!cli_check(ctx, s)) {
    rc = CLI_FAILED;
    goto done;
  }
  if (result == NULL) {
    if (out != NULL)
      rc = cli_error("--out: the last statement gives no rows to write");
    goto done;
  }
  if (out != NULL) {
    s = write_out(result, out, overwrite, &co);
    if (cli_check(ctx, s) && !c.quiet && cli_rank == 0)
      printf("wrote %s (%d columns)\n", out, tsr_frame_ncols(result));
    rc = s == TSR_OK ? CLI_OK : CLI_FAILED;
  } else if (fmt == FMT_TABLE && is_plan(result)) {
    rc = cli_check(ctx, print_lines(result)) ? CLI_OK : CLI_FAILED;
  } else if (fmt == FMT_TABLE) {
    int64_t nrows = 0;
    s = tsr_frame_nrows(result, &nrows);
    if (s == TSR_OK)
      s = tsr_frame_print(result, max_rows == 0 ? (nrows > 0 ? nrows : 1) : max_rows, stdout);
    rc = cli_check(ctx, s) ? CLI_OK : CLI_FAILED;
  } else {
    s = print_csv_based(result, fmt, &co);
    rc = cli_check(ctx, s) ? CLI_OK : CLI_FAILED;
  }
done:
  tsr_frame_destroy(&result);
  tsr_sql_session_destroy(&session);
  if (ctx != NULL && !cli_observe_end(ctx) && rc == CLI_OK)
    rc = CLI_FAILED;
  tsr_ctx_destroy(&ctx);
  free(sql);
  free(tables);
  return cli_finish(rc);
}
