/* cmd_eval.c — `tessera eval [options] 'PROGRAM'` (or -f FILE): an array
 * expression program (the query layer's language) over HDF5 datasets.
 *
 * Inputs (--in NAME=FILE.h5:/dset) are lazy arrays over the files; outputs
 * (--out NAME=FILE.h5:/dset) are stored atomically, all the outputs of one
 * file in one compute; when the program ends with an expression, its value
 * is computed and printed (a scalar in full precision, a small array as
 * NumPy prints it). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *out) {
  fputs("usage: tessera eval [options] [--in NAME=FILE.h5:/DSET]... [--out NAME=FILE.h5:/DSET]...\n"
        "                    ('PROGRAM' | -f FILE)\n"
        "\n"
        "Evaluates a program of array expressions: statements separated by ';' or newlines,\n"
        "'name = expr' assignments, '#' comments; NumPy-like operators (+ - * / // % ** @,\n"
        "comparisons, & | ~, x.T, x.shape, x.dtype, x[a:b, ::2, 3], x[None, ..., 0]) and\n"
        "functions (sqrt, round(x, 2), diff, roll, triu, isclose, zeros_like, sum(x, axis=0),\n"
        "std(x, ddof=1), where, clip, astype(x, \"f4\"), matmul, rechunk, zeros, random,\n"
        "attr(x, \"scale_factor\") (a numeric HDF5 attribute of an --in dataset),\n"
        "...).  A program ending with an expression prints its value.\n"
        "\n"
        "  --in NAME=FILE.h5:/DSET   bind NAME to a dataset (read lazily, in chunks made of\n"
        "                            the file's chunks near the chunk target)\n"
        "  --chunks NAME=C1,C2,...   read the --in dataset NAME in these chunks instead: one\n"
        "                            extent per axis (-1: the whole axis, 0: automatic); for\n"
        "                            an --out NAME, the chunks it is stored in (default: the\n"
        "                            array's, balanced so that they tile the shape)\n"
        "  --out NAME=FILE.h5:/DSET  store the variable NAME as a dataset (FILE.h5 is created,\n"
        "                            or keeps its other objects; it changes only once all\n"
        "                            its datasets are complete)\n"
        "  --overwrite               replace --out datasets that exist (those only); without\n"
        "                            it an existing dataset is an error\n"
        "  --compress LEVEL          deflate level 1-9 (with shuffle) for the outputs\n"
        "  --compress NAME=LEVEL     the same for the --out variable NAME alone\n"
        "  --attr NAME:KEY=VALUE     an attribute KEY on the --out dataset of NAME (units,\n"
        "                            descriptions, fill values): VALUE is an int64 when it\n"
        "                            reads as an integer, a float64 when it reads as a number,\n"
        "                            else a string (in double quotes: always a string)\n"
        "  -f FILE                   read the program from FILE ('-': standard input; under\n"
        "                            mpirun rank 0 reads it)\n"
        "  --                        ends the options (a program starting with '-' follows)\n"
        "\n",
        out);
  cli_common_help(out);
}

/* NAME=FILE.h5:/DSET, held as one heap copy of the text cut in three (no
 * length limit on any part). */
typedef struct binding {
  char *text;
  const char *name, *file, *dataset;
  int nchunks; /* --chunks given for it: extents per axis (0: none given) */
  int64_t chunks[TSR_MAX_NDIM];
  int level; /* --out: its --compress NAME=LEVEL, else -1 */
  tsr_attr *attrs; /* --out: its --attr NAME:KEY=VALUE (pointing into attr texts) */
  size_t n_attrs;
} binding;

/* --attr NAME:KEY=VALUE, cut in place in `text` (a heap copy): *name and
 * the attribute; false with *why set when malformed. */
static bool parse_attr(char *text, const char **name, tsr_attr *a, const char **why) {
  char *colon = strchr(text, ':'), *eq = colon ? strchr(colon, '=') : NULL;
  *why = "is not NAME:KEY=VALUE";
  if (colon == NULL || eq == NULL || colon == text || eq == colon + 1)
    return false;
  *colon = '\0';
  *eq = '\0';
  *name = text;
  memset(a, 0, sizeof *a);
  a->name = colon + 1;
  char *v = eq + 1, *end;
  size_t n = strlen(v);
  if (n >= 2 && v[0] == '"' && v[n - 1] == '"') { /* a string, whatever it reads as */
    v[n - 1] = '\0';
    a->type = TSR_ATTR_STRING;
    a->string = v + 1;
    return true;
  }
  errno = 0;
  long long i = strtoll(v, &end, 10);
  if (n > 0 && *end == '\0' && errno == 0) {
    a->type = TSR_ATTR_INT64;
    a->i64 = i;
    return true;
  }
  double d = strtod(v, &end);
  if (n > 0 && *end == '\0' && !isspace((unsigned char)v[0])) {
    a->type = TSR_ATTR_FLOAT64;
    a->f64 = d;
    return true;
  }
  a->type = TSR_ATTR_STRING;
  a->string = v;
  return true;
}

/* --chunks NAME=C1,C2,...: *name (pointing into text, up to '=') and the
 * extents; false with *why set when malformed. */
static bool parse_chunks(const char *text, size_t *name_len, int64_t *chunks, int *n,
                         const char **why) {
  const char *eq = strchr(text, '=');
  *why = "is not NAME=C1,C2,...";
  if (eq == NULL || eq == text || eq[1] == '\0')
    return false;
  *name_len = (size_t)(eq - text);
  *n = 0;
  for (const char *p = eq + 1;;) {
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (end == p || errno != 0 || v < -1) {
      *why = "has an extent that is not an integer >= 1, -1 (whole axis) or 0 (automatic)";
      return false;
    }
    if (*n == TSR_MAX_NDIM) {
      *why = "gives more extents than an array has axes";
      return false;
    }
    chunks[(*n)++] = (int64_t)v;
    if (*end == '\0')
      return true;
    if (*end != ',')
      return false;
    p = end + 1;
  }
}

static bool parse_binding(const char *text, binding *b) {
  const char *eq = strchr(text, '=');
  if (eq == NULL || eq == text)
    return false;
  size_t len = strlen(text);
  if ((b->text = malloc(2 * len + 2)) == NULL)
    return false;
  memcpy(b->text, text, len + 1);
  b->text[eq - text] = '\0';
  b->name = b->text;
  char *file = b->text + len + 1; /* room for the file name, at most the rest */
  if (!cli_split_target(eq + 1, file, len + 1, &b->dataset))
    return false;
  b->file = file;
  return true;
}

int cmd_eval(int argc, char **argv) {
  cli_common c = {.progress = -1};
  binding *ins = calloc((size_t)argc, sizeof *ins), *outs = calloc((size_t)argc, sizeof *outs);
  const char **chunk_args = calloc((size_t)argc, sizeof *chunk_args);
  const char **level_args = calloc((size_t)argc, sizeof *level_args);
  char **attr_args = calloc((size_t)argc, sizeof *attr_args); /* heap copies, cut */
  tsr_attr *attr_all = calloc((size_t)argc, sizeof *attr_all);
  int n_chunk_args = 0, n_level_args = 0, n_attr_args = 0;
  int n_in = 0, n_out = 0, level = 0, rc = CLI_OK;
  bool overwrite = false;
  const char *source_arg = NULL, *source_file = NULL;
  char *source = NULL;
  size_t source_len = 0;
  bool bad = false;
  tsr_ctx *ctx = NULL;
  tsr_program *prog = NULL;
  tsr_array *last = NULL, **inputs = NULL, **results = NULL, **arrays = NULL;
  const char **names = NULL;
  int *levels = NULL;
  const int64_t **store_chunks = NULL;
  const tsr_attr **store_attrs = NULL;
  size_t *store_n_attrs = NULL;
  if (ins == NULL || outs == NULL || chunk_args == NULL || level_args == NULL ||
      attr_args == NULL || attr_all == NULL) {
    rc = cli_error("out of memory");
    goto done;
  }
  bool options = true; /* until "--" */
  for (int i = 1; i < argc && !bad; i++) {
    const char *a = argv[i];
    if (options && strcmp(a, "--") == 0) {
      options = false;
      continue;
    }
    if (!options)
      goto program;
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      help(stdout);
      goto done;
    }
    if (cli_common_option(&c, argc, argv, &i, &bad))
      continue;
    if (strcmp(a, "--overwrite") == 0) {
      overwrite = true;
      continue;
    }
    if (strcmp(a, "--in") == 0 || strcmp(a, "--out") == 0 || strcmp(a, "-f") == 0 ||
        strcmp(a, "--compress") == 0 || strcmp(a, "--chunks") == 0 || strcmp(a, "--attr") == 0) {
      if (i + 1 >= argc) {
        rc = cli_usage("eval", "%s needs a value", a);
        goto done;
      }
      const char *v = argv[++i];
      if (strcmp(a, "-f") == 0) {
        source_file = v;
      } else if (strcmp(a, "--attr") == 0) {
        if ((attr_args[n_attr_args++] = strdup(v)) == NULL) {
          rc = cli_error("out of memory");
          goto done;
        }
      } else if (strcmp(a, "--chunks") == 0) {
        chunk_args[n_chunk_args++] = v;
      } else if (strcmp(a, "--compress") == 0 && strchr(v, '=') != NULL) {
        level_args[n_level_args++] = v;
      } else if (strcmp(a, "--compress") == 0) {
        char *end;
        long l = strtol(v, &end, 10);
        if (*end != '\0' || l < 0 || l > 9) {
          rc = cli_usage("eval", "--compress '%s' must be a deflate level from 0 to 9", v);
          goto done;
        }
        level = (int)l;
      } else {
        binding *b = a[2] == 'i' ? &ins[n_in++] : &outs[n_out++];
        b->level = -1;
        if (!parse_binding(v, b)) {
          rc = cli_usage("eval", "%s '%s' is not NAME=FILE.h5:/DATASET", a, v);
          goto done;
        }
        const char *why = cli_dataset_path_error(b->dataset);
        if (why != NULL) {
          rc = cli_usage("eval", "%s '%s': the dataset path '%s' %s", a, v, b->dataset, why);
          goto done;
        }
      }
      continue;
    }
    if (a[0] == '-' && a[1] != '\0' && !(a[1] >= '0' && a[1] <= '9') && a[1] != '.') {
      rc =
          cli_usage("eval", "unknown option '%s' (a program starting with '-' goes after '--')", a);
      goto done;
    }
  program:
    if (source_arg != NULL) {
      rc = cli_usage("eval", "more than one program given ('%s' and '%s')", source_arg, a);
      goto done;
    }
    source_arg = a;
  }
  if (bad) {
    rc = CLI_USAGE;
    goto done;
  }
  for (int k = 0; k < n_chunk_args; k++) {
    size_t name_len;
    int64_t chunks[TSR_MAX_NDIM];
    int n;
    const char *why;
    if (!parse_chunks(chunk_args[k], &name_len, chunks, &n, &why)) {
      rc = cli_usage("eval", "--chunks '%s' %s", chunk_args[k], why);
      goto done;
    }
    int found = 0;
    for (int i = 0; i < n_in + n_out; i++) {
      binding *b = i < n_in ? &ins[i] : &outs[i - n_in];
      if (strlen(b->name) != name_len || memcmp(b->name, chunk_args[k], name_len) != 0)
        continue;
      found++;
      if (b->nchunks != 0) {
        rc = cli_usage("eval", "--chunks '%s': chunks given twice for '%.*s'", chunk_args[k],
                       (int)name_len, chunk_args[k]);
        goto done;
      }
      for (int d = 0; i >= n_in && d < n; d++)
        if (chunks[d] == 0) {
          rc = cli_usage("eval", "--chunks '%s': stored chunks need extents >= 1 or -1",
                         chunk_args[k]);
          goto done;
        }
      b->nchunks = n;
      memcpy(b->chunks, chunks, (size_t)n * sizeof *chunks);
    }
    if (found == 0) {
      rc = cli_usage("eval", "--chunks '%s': no --in or --out binds '%.*s'", chunk_args[k],
                     (int)name_len, chunk_args[k]);
      goto done;
    }
  }
  for (int k = 0; k < n_level_args; k++) {
    const char *eq = strchr(level_args[k], '=');
    char *end;
    long l = strtol(eq + 1, &end, 10);
    if (eq == level_args[k] || eq[1] == '\0' || *end != '\0' || l < 0 || l > 9) {
      rc = cli_usage("eval", "--compress '%s' is not NAME=LEVEL with a level from 0 to 9",
                     level_args[k]);
      goto done;
    }
    size_t name_len = (size_t)(eq - level_args[k]);
    int found = 0;
    for (int i = 0; i < n_out; i++)
      if (strlen(outs[i].name) == name_len && memcmp(outs[i].name, level_args[k], name_len) == 0) {
        found++;
        outs[i].level = (int)l;
      }
    if (found == 0) {
      rc = cli_usage("eval", "--compress '%s': no --out binds '%.*s'", level_args[k],
                     (int)name_len, level_args[k]);
      goto done;
    }
  }
  /* --attr: each given to the --out binding of its NAME, in the order given. */
  for (int k = 0; k < n_attr_args; k++) {
    const char *name, *why;
    char shown[1024];
    snprintf(shown, sizeof shown, "%s", attr_args[k]);
    if (!parse_attr(attr_args[k], &name, &attr_all[k], &why)) {
      rc = cli_usage("eval", "--attr '%s' %s", shown, why);
      goto done;
    }
    binding *b = NULL;
    for (int i = 0; i < n_out && b == NULL; i++)
      if (strcmp(outs[i].name, name) == 0)
        b = &outs[i];
    if (b == NULL) {
      rc = cli_usage("eval", "--attr '%s': no --out binds '%s'", shown, name);
      goto done;
    }
    for (size_t j = 0; j < b->n_attrs; j++)
      if (strcmp(b->attrs[j].name, attr_all[k].name) == 0) {
        rc = cli_usage("eval", "--attr '%s': attribute '%s' of '%s' given twice", shown,
                       attr_all[k].name, name);
        goto done;
      }
    if (b->attrs == NULL && (b->attrs = calloc((size_t)n_attr_args, sizeof *b->attrs)) == NULL) {
      rc = cli_error("out of memory");
      goto done;
    }
    b->attrs[b->n_attrs++] = attr_all[k];
  }
  if ((source_arg == NULL) == (source_file == NULL)) {
    rc = cli_usage("eval", source_arg ? "give the program or -f FILE, not both"
                                      : "no program given ('PROGRAM' or -f FILE)");
    goto done;
  }
  /* -f -: standard input, read by rank 0 alone under a launcher (the
   * others' is not connected) and broadcast. */
  bool from_stdin = source_file != NULL && strcmp(source_file, "-") == 0;
  if (source_file != NULL && (!from_stdin || !cli_launched || cli_rank == 0) &&
      (source = cli_read_file(source_file, &source_len)) == NULL) {
    int e = errno;
    rc = from_stdin ? cli_error("cannot read the program from standard input: %s", strerror(e))
                    : cli_error("cannot read the program file '%s': %s", source_file, strerror(e));
    goto done;
  }
  arrays = calloc((size_t)n_out + 1, sizeof *arrays);
  levels = calloc((size_t)n_out + 1, sizeof *levels);
  store_chunks = calloc((size_t)n_out + 1, sizeof *store_chunks);
  store_attrs = calloc((size_t)n_out + 1, sizeof *store_attrs);
  store_n_attrs = calloc((size_t)n_out + 1, sizeof *store_n_attrs);
  names = calloc((size_t)(n_in + n_out) + 1, sizeof *names);
  if (arrays == NULL || names == NULL || levels == NULL || store_chunks == NULL ||
      store_attrs == NULL || store_n_attrs == NULL) {
    rc = cli_error("out of memory");
    goto done;
  }
  for (int i = 0; i < n_in + n_out; i++)
    names[i] = i < n_in ? ins[i].file : outs[i - n_in].file;
  if ((rc = cli_check_side_files("eval", &c, names, (size_t)(n_in + n_out))) != CLI_OK)
    goto done;
  if ((ctx = cli_context(&c)) == NULL) {
    rc = CLI_FAILED;
    goto done;
  }
  if (from_stdin && !cli_check(ctx, cli_share_text(ctx, &source, &source_len))) {
    rc = CLI_FAILED;
    goto done;
  }
  tsr_status s = source ? tsr_program_parse_buffer(ctx, source, source_len, &prog)
                        : tsr_program_parse(ctx, source_arg, &prog);
  if (!cli_check(ctx, s)) {
    rc = CLI_FAILED;
    goto done;
  }
  inputs = calloc((size_t)n_in + 1, sizeof *inputs);
  results = calloc((size_t)n_out + 1, sizeof *results);
  if (inputs == NULL || results == NULL) {
    rc = cli_error("out of memory");
    goto done;
  }
  for (int i = 0; i < n_in && s == TSR_OK; i++) {
    s = tsr_array_from_hdf5(ctx, ins[i].file, ins[i].dataset, NULL, &inputs[i]);
    if (s == TSR_OK && ins[i].nchunks != 0) { /* now that its rank is known */
      int ndim = tsr_array_ndim(inputs[i]);
      tsr_array_destroy(&inputs[i]);
      s = ins[i].nchunks == ndim
              ? tsr_array_from_hdf5(ctx, ins[i].file, ins[i].dataset, ins[i].chunks, &inputs[i])
              : tsr_error_set(TSR_EINVAL, "--chunks %s: %d extents for a %d-d dataset (%s:%s)",
                              ins[i].name, ins[i].nchunks, ndim, ins[i].file, ins[i].dataset);
    }
    if (s == TSR_OK)
      s = tsr_program_bind(prog, ins[i].name, inputs[i]);
  }
  if (s == TSR_OK)
    s = tsr_program_run(prog, &last);
  for (int i = 0; i < n_out && s == TSR_OK; i++)
    s = tsr_program_get(prog, outs[i].name, &results[i]);
  if (!cli_check(ctx, s)) {
    rc = CLI_FAILED;
    goto done;
  }
  tsr_compute_options co = cli_compute_options(&c);
  /* One compute per output file, with all of that file's datasets. */
  for (int i = 0; i < n_out && s == TSR_OK; i++) {
    bool first = true;
    for (int j = 0; j < i; j++)
      first &= strcmp(outs[j].file, outs[i].file) != 0;
    if (!first)
      continue;
    size_t n = 0;
    bool shuffle = level > 0;
    for (int j = i; j < n_out && s == TSR_OK; j++)
      if (strcmp(outs[j].file, outs[i].file) == 0) {
        binding *b = &outs[j];
        arrays[n] = results[j];
        names[n] = b->dataset;
        levels[n] = b->level;
        store_attrs[n] = b->attrs;
        store_n_attrs[n] = b->n_attrs;
        shuffle = shuffle || b->level > 0;
        store_chunks[n] = NULL;
        if (b->nchunks != 0 && b->nchunks != tsr_array_ndim(results[j]))
          s = tsr_error_set(TSR_EINVAL, "--chunks %s: %d extents for a %d-d array", b->name,
                            b->nchunks, tsr_array_ndim(results[j]));
        for (int d = 0; d < b->nchunks; d++)
          b->chunks[d] = b->chunks[d] == -1 ? INT64_MAX : b->chunks[d]; /* the whole axis */
        if (b->nchunks != 0)
          store_chunks[n] = b->chunks;
        n++;
      }
    if (s != TSR_OK)
      break;
    tsr_hdf5_store_options so = {0};
    so.deflate_level = level;
    so.deflate_levels = levels;
    so.chunks = store_chunks;
    so.attributes = store_attrs;
    so.n_attributes = store_n_attrs;
    so.shuffle = shuffle;
    so.mode = overwrite ? TSR_HDF5_OVERWRITE : TSR_HDF5_APPEND;
    so.compute = &co;
    s = tsr_store_hdf5(ctx, n, arrays, outs[i].file, names, &so);
    if (s == TSR_OK && !c.quiet && cli_rank == 0)
      for (size_t k = 0; k < n; k++)
        fprintf(stderr, "tessera: wrote %s:%s\n", outs[i].file, names[k]);
  }
  if (s == TSR_OK && last != NULL) { /* the last expression's value, also with --out */
    s = tsr_program_format_value(last, &co, stdout);
    if (s != TSR_OK && ferror(stdout)) { /* main says why ("writing standard output: ...") */
      rc = CLI_FAILED;
      s = TSR_OK;
    }
  } else if (s == TSR_OK && tsr_program_text(prog) != NULL) { /* x.dtype */
    if (printf("%s\n", tsr_program_text(prog)) < 0)
      rc = CLI_FAILED;
  } else if (s == TSR_OK && n_out == 0) {
    rc = cli_error("the program ends with an assignment: nothing to print (use --out, or end "
                   "with an expression)");
  }
  if (s != TSR_OK)
    rc = cli_fail(s);
done:
  for (int i = 0; inputs != NULL && i < n_in; i++)
    tsr_array_destroy(&inputs[i]);
  for (int i = 0; results != NULL && i < n_out; i++)
    tsr_array_destroy(&results[i]);
  tsr_array_destroy(&last);
  tsr_program_destroy(&prog);
  tsr_ctx_destroy(&ctx);
  free(inputs);
  free(results);
  free(arrays);
  free(names);
  for (int i = 0; ins != NULL && i < n_in; i++)
    free(ins[i].text);
  for (int i = 0; outs != NULL && i < n_out; i++) {
    free(outs[i].text);
    free(outs[i].attrs);
  }
  for (int k = 0; k < n_attr_args; k++)
    free(attr_args[k]);
  free(attr_args);
  free(attr_all);
  free(store_attrs);
  free(store_n_attrs);
  free(ins);
  free(outs);
  free(chunk_args);
  free(level_args);
  free(levels);
  free(store_chunks);
  free(source);
  return rc;
}
