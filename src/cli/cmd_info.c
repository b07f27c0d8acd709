/* cmd_info.c — `tessera info FILE.h5 [/OBJECT]`: the groups and datasets of
 * an HDF5 file, with dtype, shape, chunking, filters, logical and stored
 * sizes, and attributes; then every table group and compound dataset as a
 * frame (its columns or fields with their types and null counts, and rows). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void help(FILE *out) {
  fputs("usage: tessera info FILE.h5 [/OBJECT]\n"
        "       tessera info DATA.csv [--schema S] [--columns C] [--nulls N] [options]\n"
        "\n"
        "For a CSV file (.csv, .csv.gz, .tsv): the schema tessera reads it with, one line\n"
        "per column (name, type, null count), then the row count.\n"
        "\n"
        "Lists the groups, datasets and links of FILE.h5 (or of one group, or one\n"
        "dataset): for each dataset the dtype tessera reads it as (an enum as its integer\n"
        "type), shape, layout (chunks, contiguous, compact, virtual), every filter by name,\n"
        "and logical and stored size; soft and external links with their targets (not\n"
        "followed; dangling ones marked).  Attributes (units, descriptions, fill values)\n"
        "follow their group or dataset, one per line, indented.  Then each table group\n"
        "(docs/frames.md, \"HDF5 tables\") and compound dataset as a frame: rows, and one\n"
        "line per column or field with its type and null count (this reads the table).\n",
        out);
}

/* Room for any shape: TSR_MAX_NDIM extents of up to 20 digits and ", ". */
#define SHAPE_TEXT (TSR_MAX_NDIM * 22 + 8)

static void shape_text(char *buf, size_t size, int ndim, const int64_t *shape) {
  size_t at = (size_t)snprintf(buf, size, "(");
  for (int d = 0; d < ndim && at < size; d++)
    at += (size_t)snprintf(buf + at, size - at, d ? ", %lld" : "%lld", (long long)shape[d]);
  if (at < size)
    snprintf(buf + at, size - at, ndim == 1 ? ",)" : ")");
}

/* Groups and compound datasets seen by the walk: candidates for frames. */
typedef struct frame_objs {
  char **paths;
  bool *compound;
  size_t n, cap;
} frame_objs;

static void note_obj(frame_objs *o, const char *path, bool compound) {
  if (o->n == o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 16;
    char **p = realloc(o->paths, cap * sizeof *p);
    if (p == NULL)
      return;
    o->paths = p;
    bool *c = realloc(o->compound, cap * sizeof *c);
    if (c == NULL)
      return;
    o->compound = c;
    o->cap = cap;
  }
  o->paths[o->n] = strdup(path);
  if (o->paths[o->n] != NULL)
    o->compound[o->n++] = compound;
}

/* Prints the frame over `object` (a table group or compound dataset);
 * groups that are not tables are skipped.  Returns the status. */
static tsr_status print_frame(tsr_ctx *ctx, const char *file, const char *object, bool compound) {
  tsr_frame *f = NULL;
  tsr_status s = tsr_frame_read_hdf5(ctx, file, object, NULL, &f);
  if (s == TSR_EINVAL && !compound && strstr(tsr_last_error(), "is not a table") != NULL)
    return TSR_OK;
  if (s != TSR_OK) {
    printf("%s: cannot be read as a frame: %s\n", object, tsr_last_error());
    return TSR_OK;
  }
  tsr_frame_result *r = NULL;
  s = tsr_frame_compute(f, NULL, &r);
  int ncols = tsr_frame_ncols(f);
  if (s == TSR_OK) {
    printf("%s: %s, %lld rows, %d %s\n", object, compound ? "compound dataset" : "table",
           (long long)tsr_frame_result_nrows(r), ncols, compound ? "fields" : "columns");
    size_t width = 4;
    for (int col = 0; col < ncols; col++) {
      size_t w = strlen(tsr_frame_col_name(f, col));
      width = w > width ? w : width;
    }
    width = width > 40 ? 40 : width;
    for (int col = 0; col < ncols && s == TSR_OK; col++) {
      int64_t nulls = 0;
      for (int64_t ch = 0; ch < tsr_frame_result_nchunks(r) && s == TSR_OK; ch++) {
        tsr_column_chunk cc;
        s = tsr_frame_result_chunk(r, col, ch, &cc);
        nulls += s == TSR_OK ? cc.null_count : 0;
      }
      printf("  %-*s  %-14s %lld nulls\n", (int)width, tsr_frame_col_name(f, col),
             tsr_type_name(tsr_frame_col_type(f, col)), (long long)nulls);
    }
  }
  tsr_frame_result_destroy(&r);
  tsr_frame_destroy(&f);
  return s;
}

typedef struct info_walk {
  tsr_ctx *ctx;
  const char *file;
  tsr_status status; /* of reading attributes */
  frame_objs objs;
} info_walk;


/* The object's attributes, indented under it: strings quoted (as C escapes
 * would show them: control bytes as \xNN), numbers as they read back. */
static int print_attrs(info_walk *w, const char *object) {
  tsr_attr *a = NULL;
  size_t n = 0;
  w->status = tsr_hdf5_attrs_read(w->ctx, w->file, object, &a, &n);
  if (w->status != TSR_OK)
    return 1;
  for (size_t i = 0; i < n; i++) {
    printf("    @%s = ", a[i].name);
    if (a[i].type == TSR_ATTR_STRING) {
      putchar('"');
      for (const unsigned char *c = (const unsigned char *)a[i].string; *c; c++)
        if (*c < 0x20 || *c == '"' || *c == '\\')
          printf("\\x%02x", *c);
        else
          putchar(*c);
      puts("\"");
    } else if (a[i].type == TSR_ATTR_FLOAT64) { /* the shortest text that reads back */
      char text[40];
      for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, a[i].f64);
        if (strtod(text, NULL) == a[i].f64 || a[i].f64 != a[i].f64)
          break;
      }
      puts(text);
    } else if (a[i].type == TSR_ATTR_INT64) {
      printf("%lld\n", (long long)a[i].i64);
    } else {
      printf("(%s, not read by tessera)\n", a[i].string);
    }
  }
  tsr_hdf5_attrs_free(w->ctx, &a, n);
  return 0;
}

static int print_entry(const tsr_hdf5_entry *e, void *user) {
  info_walk *w = user;
  frame_objs *objs = &w->objs;
  if (e->link == NULL && (!e->is_dataset || (e->type != NULL && strcmp(e->type, "compound") == 0)))
    note_obj(objs, e->path, e->is_dataset);
  if (e->link != NULL) {
    printf("%-32s %s link -> %s%s\n", e->path, e->link, e->target,
           e->dangling ? " (dangling)" : "");
    return 0;
  }
  if (!e->is_dataset) {
    printf("%-32s group\n", e->path);
    return print_attrs(w, e->path);
  }
  char shape[SHAPE_TEXT], layout[SHAPE_TEXT + 64], logical[32], stored[32];
  shape_text(shape, sizeof shape, e->ndim, e->shape);
  if (e->chunked) {
    char c[SHAPE_TEXT];
    shape_text(c, sizeof c, e->ndim, e->chunks);
    snprintf(layout, sizeof layout, "chunks %s", c);
  } else if (e->layout != NULL && strcmp(e->layout, "virtual") == 0) {
    snprintf(layout, sizeof layout, "virtual (%zu source dataset%s)", e->sources,
             e->sources == 1 ? "" : "s");
  } else {
    snprintf(layout, sizeof layout, "%s", e->layout != NULL ? e->layout : "contiguous");
  }
  printf("%-32s dataset %s %s, %s%s%s, %s (stored %s)%s\n", e->path, e->type, shape, layout,
         e->filters != NULL && e->filters[0] ? ", " : "", e->filters != NULL ? e->filters : "",
         e->logical_bytes == UINT64_MAX
             ? "more than 16 EiB"
             : tsr_format_bytes(e->logical_bytes, logical, sizeof logical),
         tsr_format_bytes(e->stored_bytes, stored, sizeof stored),
         e->supported ? "" : " [type not readable by tessera]");
  if (print_attrs(w, e->path) != 0)
    return 1;
  return ferror(stdout) ? 1 : 0; /* a failed write stops the walk; main reports it */
}

int cmd_info(int argc, char **argv) {
  for (int i = 1; i < argc; i++)
    if (argv[i][0] != '-' && cli_is_csv(argv[i]))
      return cmd_info_csv(argc, argv);
  const char *file = NULL, *object = NULL;
  bool options = true; /* until "--" */
  for (int i = 1; i < argc; i++) {
    if (options && strcmp(argv[i], "--") == 0) {
      options = false;
      continue;
    }
    if (options && (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)) {
      help(stdout);
      return CLI_OK;
    }
    if (options && argv[i][0] == '-' && argv[i][1] != '\0')
      return cli_usage("info", "unknown option '%s'", argv[i]);
    if (file == NULL)
      file = argv[i];
    else if (object == NULL)
      object = argv[i];
    else
      return cli_usage("info", "unexpected argument '%s'", argv[i]);
  }
  if (file == NULL)
    return cli_usage("info", "no FILE.h5 given");
  /* The environment is checked as by every command (info needs no
   * context otherwise). */
  tsr_ctx *ctx = NULL;
  tsr_status s = tsr_ctx_create(&ctx);
  info_walk w = {ctx, file, TSR_OK, {0}};
  if (s == TSR_OK)
    s = tsr_hdf5_list(file, object, print_entry, &w);
  if (s == TSR_OK)
    s = w.status;
  for (size_t k = 0; k < w.objs.n && s == TSR_OK; k++)
    s = print_frame(ctx, file, w.objs.paths[k], w.objs.compound[k]);
  for (size_t k = 0; k < w.objs.n; k++)
    free(w.objs.paths[k]);
  free(w.objs.paths);
  free(w.objs.compound);
  int rc = s == TSR_OK ? CLI_OK : cli_fail(s);
  tsr_ctx_destroy(&ctx);
  return rc;
}
