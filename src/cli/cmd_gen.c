/* cmd_gen.c — `tessera gen array FILE.h5:/dset --shape ...`: writes a
 * generated dataset through the engine (so it runs in parallel, compresses
 * on the worker threads and stays within --memory-limit); `tessera gen
 * groupby N K` and `tessera gen join N`: the db-benchmark data sets as CSV
 * files (cmd_gen_frames.c). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *out) {
  fputs("usage: tessera gen array FILE.h5:/DATASET --shape N[,N...] [options]\n"
        "       tessera gen groupby N K [--nas PCT] [--sorted] [--seed S] [DST.csv]\n"
        "       tessera gen join N [--seed S] [DIR]\n"
        "\n"
        "groupby and join write db-benchmark's G1 and J1 data sets as CSV files (default\n"
        "names as db-benchmark's: G1_1e7_1e2_0_0.csv; J1_1e7_NA_0_0.csv, J1_1e7_1e1_0_0.csv,\n"
        "J1_1e7_1e4_0_0.csv, J1_1e7_1e7_0_0.csv); N and K as 1e7 or 10000000.  --overwrite\n"
        "replaces existing files; .csv.gz names are compressed.\n"
        "\n"
        "Writes a dataset of generated values into FILE.h5 (created if missing; an existing\n"
        "file keeps its other objects and its permissions).  The file changes only once the\n"
        "dataset is complete.  An existing DATASET is an error unless --overwrite is given.\n"
        "\n"
        "  --shape N,N,...      the dataset's shape (required)\n"
        "  --chunks N,N,...     chunk shape (default: automatic, about 128 MiB)\n"
        "  --dtype NAME         f8 (default), f4, i8, i4, u1, bool, ... (NumPy names)\n"
        "  --dist NAME          uniform [0, 1) (default), normal, or arange (0, 1, 2, ... in\n"
        "                       C order)\n"
        "  --seed N             seed of uniform and normal (default 0): values depend only on\n"
        "                       the seed and the element's index, not on chunks or threads\n"
        "  --compress LEVEL     deflate level 1-9 with the shuffle filter (default: none)\n"
        "  --overwrite          replace DATASET if FILE.h5 has it (that dataset only)\n"
        "  --append             accepted for compatibility: adding is the default\n"
        "\n",
        out);
  cli_common_help(out);
}

/* Splits "file.h5:/path" at its last ":/"; false when there is none. */
bool cli_split_target(const char *text, char *file, size_t file_size, const char **dataset) {
  const char *sep = NULL;
  for (const char *p = strstr(text, ":/"); p != NULL; p = strstr(p + 1, ":/"))
    sep = p;
  if (sep == NULL || sep == text || (size_t)(sep - text) >= file_size)
    return false;
  memcpy(file, text, (size_t)(sep - text));
  file[sep - text] = '\0';
  *dataset = sep + 1;
  return true;
}

int cmd_gen(int argc, char **argv) {
  cli_common c = {.progress = -1};
  const char *target = NULL, *shape_text = NULL, *chunks_text = NULL, *dtype_text = "f8";
  const char *dist = "uniform";
  long long seed = 0;
  int level = 0;
  bool overwrite = false, bad = false;
  if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    help(stdout);
    return CLI_OK;
  }
  if (argc >= 2 && (strcmp(argv[1], "groupby") == 0 || strcmp(argv[1], "join") == 0))
    return cmd_gen_frames(argc, argv);
  if (argc < 2 || strcmp(argv[1], "array") != 0)
    return cli_usage("gen", "expected 'tessera gen array FILE.h5:/DATASET --shape ...', "
                            "'tessera gen groupby N K' or 'tessera gen join N'");
  bool options = true; /* until "--" */
  for (int i = 2; i < argc && !bad; i++) {
    const char *a = argv[i];
    if (options && strcmp(a, "--") == 0) {
      options = false;
      continue;
    }
    if (!options)
      goto operand;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      help(stdout);
      return CLI_OK;
    }
    if (cli_common_option(&c, argc, argv, &i, &bad))
      continue;
    const char **slot = strcmp(a, "--shape") == 0    ? &shape_text
                        : strcmp(a, "--chunks") == 0 ? &chunks_text
                        : strcmp(a, "--dtype") == 0  ? &dtype_text
                        : strcmp(a, "--dist") == 0   ? &dist
                                                     : NULL;
    if (slot != NULL || strcmp(a, "--seed") == 0 || strcmp(a, "--compress") == 0) {
      if (i + 1 >= argc)
        return cli_usage("gen", "%s needs a value", a);
      const char *v = argv[++i];
      char *end;
      if (slot != NULL) {
        *slot = v;
      } else if (strcmp(a, "--seed") == 0) {
        seed = strtoll(v, &end, 10);
        if (*end != '\0' || seed < 0)
          return cli_usage("gen", "--seed '%s' is not a non-negative integer", v);
      } else {
        long l = strtol(v, &end, 10);
        if (*end != '\0' || l < 0 || l > 9)
          return cli_usage("gen", "--compress '%s' must be a deflate level from 0 to 9", v);
        level = (int)l;
      }
      continue;
    }
    if (strcmp(a, "--append") == 0) /* the default; kept for older scripts */
      continue;
    if (strcmp(a, "--overwrite") == 0) {
      overwrite = true;
      continue;
    }
    if (a[0] == '-')
      return cli_usage("gen", "unknown option '%s'", a);
  operand:
    if (target != NULL)
      return cli_usage("gen", "more than one FILE.h5:/DATASET ('%s' and '%s')", target, a);
    target = a;
  }
  if (bad)
    return CLI_USAGE;
  const char *dataset;
  if (target == NULL)
    return cli_usage("gen", "no FILE.h5:/DATASET given");
  if (shape_text == NULL)
    return cli_usage("gen", "--shape is required");
  int64_t shape[TSR_MAX_NDIM], chunks[TSR_MAX_NDIM];
  int ndim, nchunks = 0;
  if (!cli_parse_shape(shape_text, shape, TSR_MAX_NDIM, &ndim))
    return cli_usage("gen", "--shape '%s' is not a list of extents like 20000,5000", shape_text);
  if (chunks_text != NULL &&
      (!cli_parse_shape(chunks_text, chunks, TSR_MAX_NDIM, &nchunks) || nchunks != ndim))
    return cli_usage("gen", "--chunks '%s' needs %d positive extents like the shape", chunks_text,
                     ndim);
  tsr_dtype dtype;
  if (tsr_dtype_from_name(dtype_text, &dtype) != TSR_OK)
    return cli_usage("gen", "--dtype '%s' is not a dtype (f8, f4, i8, i4, u1, bool, ...)",
                     dtype_text);
  if (strcmp(dist, "uniform") != 0 && strcmp(dist, "normal") != 0 && strcmp(dist, "arange") != 0)
    return cli_usage("gen", "--dist '%s' is not uniform, normal or arange", dist);
  size_t file_size = strlen(target) + 1; /* any length: the file name is a prefix */
  char *file = malloc(file_size);
  if (file == NULL)
    return cli_error("out of memory");
  if (!cli_split_target(target, file, file_size, &dataset)) {
    free(file);
    return cli_usage("gen", "'%s' is not FILE.h5:/DATASET", target);
  }
  const char *why = cli_dataset_path_error(dataset);
  if (why != NULL) {
    int rc = cli_usage("gen", "'%s': the dataset path '%s' %s", target, dataset, why);
    free(file);
    return rc;
  }
  const char *files[1] = {file};
  int side = cli_check_side_files("gen", &c, files, 1);
  tsr_ctx *ctx = side == CLI_OK ? cli_context(&c) : NULL;
  if (side != CLI_OK || ctx == NULL) {
    free(file);
    return side != CLI_OK ? side : CLI_FAILED;
  }
  tsr_array *base = NULL, *x = NULL;
  tsr_status s;
  const int64_t *ch = chunks_text ? chunks : NULL;
  if (strcmp(dist, "arange") == 0) {
    int64_t n = 1;
    bool too_many = false;
    for (int d = 0; d < ndim; d++)
      too_many |= __builtin_mul_overflow(n, shape[d], &n);
    tsr_array *flat = NULL;
    s = too_many
            ? tsr_error_set(TSR_EINVAL, "--shape %s has more than 2^63 - 1 elements", shape_text)
            : tsr_array_arange_i64(ctx, dtype, 0, n, 1, 0, &flat);
    if (s == TSR_OK)
      s = tsr_reshape(flat, ndim, shape, &base);
    tsr_array_destroy(&flat);
    if (s == TSR_OK)
      s = ch ? tsr_rechunk(base, ch, &x) : tsr_astype(base, dtype, &x);
  } else {
    s = tsr_array_random(ctx, strcmp(dist, "normal") == 0 ? TSR_RANDOM_NORMAL : TSR_RANDOM_UNIFORM,
                         (uint64_t)seed, ndim, shape, ch, &base);
    if (s == TSR_OK)
      s = tsr_astype(base, dtype, &x);
  }
  int rc = CLI_FAILED;     /* cli_check reports a failure to build */
  if (cli_check(ctx, s)) { /* every rank built it: the store is collective */
    tsr_compute_options co = cli_compute_options(&c);
    tsr_hdf5_store_options so = {0};
    so.deflate_level = level;
    so.shuffle = level > 0;
    so.mode = overwrite ? TSR_HDF5_OVERWRITE : TSR_HDF5_APPEND;
    so.compute = &co;
    s = tsr_store_hdf5(ctx, 1, &x, file, &dataset, &so);
    rc = s == TSR_OK ? CLI_OK : cli_fail(s);
  }
  if (rc == CLI_OK && !c.quiet)
    printf("wrote %s:%s (%s, %s, %s)\n", file, dataset, shape_text, tsr_dtype_name(dtype), dist);
  tsr_array_destroy(&base);
  tsr_array_destroy(&x);
  tsr_ctx_destroy(&ctx);
  free(file);
  return rc;
}
