/* cmd_convert.c — `tessera convert SRC DST` between CSV (also .csv.gz),
 * HDF5 tables (FILE.h5:/GROUP) and compound datasets (read only): read by
 * tsr_frame_read_csv or tsr_frame_read_hdf5, written in parallel by
 * tsr_frame_write_csv or tsr_frame_write_hdf5, atomically and `tessera info DATA.csv` (the
 * sniffed schema, one line per column with its null count, and the row
 * count). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void convert_help(FILE *out) {
  fputs("usage: tessera convert SRC DST [options]\n"
        "\n"
        "SRC and DST are CSV files (.csv, .csv.gz, .tsv) or HDF5 tables named\n"
        "FILE.h5:/GROUP (FILE.h5 alone: /table); SRC may also be a compound dataset\n"
        "FILE.h5:/DATASET (an array of records: each field a column, nested fields as\n"
        "outer.inner).  An HDF5 table is written as docs/frames.md describes (h5py and\n"
        "pandas read it); the group is added to DST's file, which is created when\n"
        "missing (--overwrite replaces a group of that name).\n"
        "\n"
        "Reads SRC.csv (or .csv.gz) and writes its rows to DST.csv (or .csv.gz, compressed):\n"
        "comma-separated (tab-separated for .tsv), RFC 4180 quoting, a header row, nulls\n"
        "as empty fields and empty strings as \"\", floats in the shortest text that reads\n"
        "back exactly.  Runs in parallel within --memory-limit; DST appears only once\n"
        "complete.\n"
        "\n"
        "  --schema NAME:TYPE,...  the columns' names and types instead of sniffing them\n"
        "  --columns A,B,...       only these columns, in this order\n"
        "  --nulls NA,NULL         more spellings read as null (besides an empty field)\n"
        "  --overwrite             replace DST if it exists\n"
        "  --compress N            HDF5 output: deflate level N (0..9) with shuffle, per\n"
        "                          column, compressed in parallel (default 0: none)\n"
        "  --strings offsets       HDF5 output: strings as bytes + int64 offsets instead of\n"
        "                          variable-length strings (faster; h5py reads it by hand)\n"
        "  --chunk-rows N          HDF5 output: rows per HDF5 chunk (default 65536)\n"
        "\n",
        out);
  cli_common_help(out);
}

typedef struct convert_opts {
  int compress;
  bool offsets;
  int64_t chunk_rows;
} convert_opts;

static bool convert_option(void *user, int argc, char **argv, int *i, bool *bad) {
  convert_opts *o = user;
  const char *a = argv[*i];
  if (strcmp(a, "--compress") != 0 && strcmp(a, "--strings") != 0 &&
      strcmp(a, "--chunk-rows") != 0)
    return false;
  if (*i + 1 >= argc) {
    cli_usage("convert", "%s needs a value", a);
    *bad = true;
    return true;
  }
  const char *v = argv[++*i];
  char *end = NULL;
  if (strcmp(a, "--strings") == 0) {
    if (strcmp(v, "offsets") == 0 || strcmp(v, "vlen") == 0)
      o->offsets = strcmp(v, "offsets") == 0;
    else {
      cli_usage("convert", "--strings takes 'vlen' or 'offsets', not '%s'", v);
      *bad = true;
    }
    return true;
  }
  long long n = strtoll(v, &end, 10);
  bool is_compress = strcmp(a, "--compress") == 0;
  if (end == v || *end != '\0' || (is_compress && (n < 0 || n > 9)) ||
      (!is_compress && (n < 1 || n > (1ll << 28)))) {
    cli_usage("convert", "%s takes %s, not '%s'", a, is_compress ? "0..9" : "1..2^28", v);
    *bad = true;
    return true;
  }
  if (is_compress)
    o->compress = (int)n;
  else
    o->chunk_rows = n;
  return true;
}

int cmd_convert(int argc, char **argv) {
  cli_csv_job job;
  convert_opts co_h5 = {0};
  int parsed =
      cli_csv_job_parse("convert", argc, argv, convert_help, convert_option, &co_h5, &job);
  if (parsed != CLI_OK || job.helped)
    return parsed;
  const cli_common c = job.common;
  const char *src = job.src, *dst = job.dst;
  char *src_path = NULL, *dst_path = NULL;
  const char *src_obj = NULL, *dst_obj = NULL;
  bool src_h5 = !cli_is_csv(src) && cli_h5_spec(src, &src_path, &src_obj);
  bool dst_h5 = !cli_is_csv(dst) && cli_h5_spec(dst, &dst_path, &dst_obj);
  if (src_h5 && job.csv.schema != NULL) {
    free(src_path);
    free(dst_path);
    return cli_usage("convert", "--schema applies to CSV sources only");
  }
  tsr_ctx *ctx = cli_context(&c);
  if (ctx == NULL) {
    free(src_path);
    free(dst_path);
    return CLI_FAILED;
  }
  tsr_csv_options ro = cli_csv_read_options(&job.csv);
  tsr_frame *f = NULL;
  tsr_status s = src_h5 ? tsr_frame_read_hdf5(ctx, src_path, src_obj, job.csv.columns, &f)
                        : tsr_frame_read_csv(ctx, src, &ro, &f);
  int rc = CLI_FAILED;
  if (cli_check(ctx, s)) {
    tsr_compute_options co = cli_compute_options(&c);
    if (dst_h5) {
      tsr_frame_hdf5_options ho = {
          .mode = job.csv.overwrite ? TSR_HDF5_OVERWRITE : TSR_HDF5_APPEND,
          .deflate_level = co_h5.compress,
          .shuffle = co_h5.compress > 0,
          .strings = co_h5.offsets ? TSR_HDF5_STRINGS_OFFSETS : TSR_HDF5_STRINGS_VLEN,
          .chunk_rows = co_h5.chunk_rows,
          .compute = &co};
      s = tsr_frame_write_hdf5(f, dst_path, dst_obj, &ho);
    } else {
      s = tsr_frame_write_csv(f, dst, cli_csv_delimiter(dst), job.csv.overwrite, &co);
    }
    rc = s == TSR_OK ? CLI_OK : cli_fail(s);
  }
  if (rc == CLI_OK && !c.quiet)
    printf("wrote %s (%lld rows, %d columns)\n", dst, (long long)tsr_frame_nrows_known(f),
           tsr_frame_ncols(f));
  tsr_frame_destroy(&f);
  tsr_ctx_destroy(&ctx);
  free(src_path);
  free(dst_path);
  return rc;
}

/* Null counts and the row count in one streaming pass: a group-by without
 * keys (count(*) and count(column) per column) keeps only per-chunk counts,
 * so a CSV far larger than the memory limit is counted within it.  Across
 * several MPI ranks, where the group-by is not supported yet, the frame is
 * computed and its chunks' null counts summed. */
static tsr_status count_nulls(tsr_frame *f, const tsr_compute_options *co, int64_t *nulls,
                              int64_t *rows) {
  int ncols = tsr_frame_ncols(f);
  tsr_agg *aggs = calloc((size_t)ncols + 1, sizeof *aggs);
  if (aggs == NULL)
    return tsr_error_set(TSR_ENOMEM, "info: out of memory");
  aggs[0] = (tsr_agg){.op = TSR_AGG_COUNT_ALL, .name = "rows"};
  for (int col = 0; col < ncols; col++)
    aggs[col + 1] = (tsr_agg){.op = TSR_AGG_COUNT, .column = tsr_frame_col_name(f, col)};
  tsr_frame *counts = NULL;
  tsr_frame_result *r = NULL;
  tsr_status s = tsr_frame_groupby(f, 0, NULL, ncols + 1, aggs, NULL, &counts);
  free(aggs);
  if (s == TSR_ENOTSUP) { /* several ranks */
    s = tsr_frame_compute(f, co, &r);
    for (int col = 0; col < ncols && s == TSR_OK; col++)
      for (int64_t ch = 0; ch < tsr_frame_result_nchunks(r) && s == TSR_OK; ch++) {
        tsr_column_chunk cc;
        s = tsr_frame_result_chunk(r, col, ch, &cc);
        if (s == TSR_OK)
          nulls[col] += cc.null_count;
      }
    *rows = s == TSR_OK ? tsr_frame_result_nrows(r) : 0;
    tsr_frame_result_destroy(&r);
    return s;
  }
  if (s == TSR_OK)
    s = tsr_frame_compute(counts, co, &r);
  for (int col = 0; col <= ncols && s == TSR_OK; col++) {
    int64_t v = 0; /* one row: count(*), then count(column) */
    s = tsr_frame_result_values(r, col, &v, sizeof v, NULL);
    if (s == TSR_OK && col == 0)
      *rows = v;
    else if (s == TSR_OK)
      nulls[col - 1] = *rows - v;
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&counts);
  return s;
}

/* `tessera info DATA.csv`: the schema, null counts and row count. */
int cmd_info_csv(int argc, char **argv) {
  cli_common c = {.progress = 0};
  cli_csv_args a = {0};
  const char *file = NULL;
  bool bad = false, options = true;
  for (int i = 1; i < argc && !bad; i++) {
    const char *arg = argv[i];
    if (options && strcmp(arg, "--") == 0) {
      options = false;
      continue;
    }
    if (options && arg[0] == '-' && arg[1] != '\0') {
      if (cli_common_option(&c, argc, argv, &i, &bad) ||
          cli_csv_option("info", &a, argc, argv, &i, &bad, false))
        continue;
      return cli_usage("info", "unknown option '%s'", arg);
    }
    if (file == NULL)
      file = arg;
    else
      return cli_usage("info", "unexpected argument '%s'", arg);
  }
  if (bad)
    return CLI_USAGE;
  if (file == NULL)
    return cli_usage("info", "no file given");
  const char *files[1] = {file};
  int side = cli_check_side_files("info", &c, files, 1);
  if (side != CLI_OK)
    return side;
  tsr_ctx *ctx = cli_context(&c);
  if (ctx == NULL)
    return CLI_FAILED;
  tsr_csv_options ro = cli_csv_read_options(&a);
  tsr_frame *f = NULL;
  int64_t *nulls = NULL;
  tsr_status s = tsr_frame_read_csv(ctx, file, &ro, &f);
  int rc = CLI_FAILED;
  if (!cli_check(ctx, s))
    goto done;
  int ncols = tsr_frame_ncols(f);
  nulls = calloc((size_t)ncols + 1, sizeof *nulls);
  if (nulls == NULL) {
    rc = cli_error("out of memory");
    goto done;
  }
  tsr_compute_options co = cli_compute_options(&c);
  int64_t rows = 0;
  s = count_nulls(f, &co, nulls, &rows);
  if (s != TSR_OK) {
    rc = cli_fail(s);
    goto done;
  }
  size_t width = 4;
  for (int col = 0; col < ncols; col++) {
    size_t w = strlen(tsr_frame_col_name(f, col));
    width = w > width ? w : width;
  }
  if (width > 40)
    width = 40;
  for (int col = 0; col < ncols; col++)
    printf("  %-*s  %-14s %lld nulls\n", (int)width, tsr_frame_col_name(f, col),
           tsr_type_name(tsr_frame_col_type(f, col)), (long long)nulls[col]);
  printf("rows: %lld\n", (long long)rows);
  rc = CLI_OK;
done:
  free(nulls);
  tsr_frame_destroy(&f);
  tsr_ctx_destroy(&ctx);
  return rc;
}
