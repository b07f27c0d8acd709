/* csv_source.c — frames over CSV files (docs/frames.md, "CSV").
 *
 * tsr_frame_read_csv sniffs the file (or takes the given schema).  On one
 * rank, when the typed chunks fit in memory, it loads the file in one fused
 * pass (io/csv_load.c) into a frame over in-memory chunks (the blocks that
 * pass leaves are parsed again here).  Otherwise, or when that pass gives
 * up (widening, bad rows, errors: what the scan decides), it
 * scans the file once in parallel (io/csv_scan.c) so that the schema, the row
 * count per block and the strings' bytes are exact; low-cardinality string
 * columns become dictionary columns with one sorted dictionary.  The frame
 * is one source node with one row chunk per byte block; the task of chunk
 * c parses block c straight into its table chunk (io/csv_parse.c).  A
 * .csv.gz is decompressed first into a temporary file that lives as long
 * as the node.  Under MPI every rank scans the whole file itself (the
 * scan is deterministic, so every rank has the same blocks and schema) and
 * parses only the blocks it owns.  tsr__frame_read_csv_where (the SQL
 * layer's scans) also takes a predicate: run on each block by the fused
 * load (csv_where.c), else a filter node over the frame. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tessera/dist.h>

#include "core/atomic_file.h"
#include "csv_where.h"
#include "groupby_impl.h"
#include "io/csv.h"

typedef struct csv_source {
  tsr__fnode base;
  tsr_ctx *ctx;
  tsr__csv_format fmt;
  tsr__dict **dicts; /* per column (the dictionaries fmt's columns point into) */
  int ndicts;
  tsr__csv_block *blocks;
  int fd;
  char *path;
  char *tmp; /* the decompressed .csv.gz (malloc'd), or NULL */
} csv_source;

static void csv_source_destroy(tsr__fnode *base) {
  csv_source *s = (csv_source *)base;
  tsr__csv_format_free(s->ctx, &s->fmt);
  if (s->dicts != NULL)
    for (int i = 0; i < s->ndicts; i++)
      tsr__dict_release(&s->dicts[i]);
  tsr_free(s->ctx, s->dicts);
  tsr_free(s->ctx, s->blocks);
  if (s->fd >= 0)
    close(s->fd);
  if (s->tmp != NULL) {
    tsr__tmp_remove(s->tmp);
    free(s->tmp);
  }
  tsr_free(s->ctx, s->path);
}

static tsr_status csv_kernel(const tsr_kernel_call *call) {
  tsr__ftask t = tsr__ftask_of(call);
  const csv_source *s = t.node->params;
  tsr__ftask_init_output(call);
  return tsr__csv_parse_block(s->ctx, s->fd, &s->fmt, &s->blocks[t.chunk], call->output);
}

static tsr_status lower_csv(const tsr__expr *e, tsr_taskgraph *g, const uint32_t *const *in,
                            uint32_t *out) {
  return tsr__fnode_lower_map(e, g, in, out, "frame_csv", csv_kernel, NULL, 0);
}

static void hash_csv(const tsr__expr *e, tsr__hash *h) {
  const csv_source *s = e->params;
  tsr__fnode_hash(&s->base, h);
  for (int64_t c = 0; c < s->base.rows->nchunks; c++) {
    tsr__hash_u64(h, (uint64_t)s->blocks[c].start);
    tsr__hash_u64(h, (uint64_t)s->blocks[c].end);
  }
}

static const tsr__op op_csv = {"frame_csv", lower_csv, tsr__fnode_destroy_params,
                               false,       NULL,      hash_csv};

static tsr_status dup_str(tsr_ctx *ctx, const char *s, size_t n, char **out) {
  TSR_TRY(tsr_alloc(ctx, n + 1, (void **)out));
  memcpy(*out, s, n);
  (*out)[n] = '\0';
  return TSR_OK;
}

/* Splits a comma-separated list (empty items kept). */
static tsr_status split(tsr_ctx *ctx, const char *text, char ***items, int *n) {
  int k = 1;
  for (const char *p = text; *p; p++)
    k += *p == ',';
  TSR_TRY(tsr_calloc(ctx, (size_t)k + 1, sizeof **items, (void **)items));
  *n = 0;
  const char *p = text;
  for (;;) {
    const char *q = strchr(p, ',');
    size_t len = q ? (size_t)(q - p) : strlen(p);
    tsr_status st = dup_str(ctx, p, len, &(*items)[*n]);
    if (st != TSR_OK)
      return st;
    (*n)++;
    if (q == NULL)
      break;
    p = q + 1;
  }
  return TSR_OK;
}

static void free_items(tsr_ctx *ctx, char **items, int n) {
  if (items != NULL)
    for (int i = 0; i < n; i++)
      tsr_free(ctx, items[i]);
  tsr_free(ctx, items);
}

/* Applies options.schema ("name:type,...") to the sniffed columns. */
static tsr_status apply_schema(tsr_ctx *ctx, const char *fn, const char *path, const char *schema,
                               tsr__csv_format *fmt) {
  char **items = NULL;
  int n = 0;
  tsr_status status = split(ctx, schema, &items, &n);
  if (status == TSR_OK && n != fmt->nfields)
    status = tsr_error_set(TSR_EINVAL,
                           "%s: %s: the schema names %d columns but the file's records have %d "
                           "fields",
                           fn, path, n, fmt->nfields);
  for (int i = 0; i < n && status == TSR_OK; i++) {
    char *colon = strrchr(items[i], ':');
    if (colon == NULL || colon == items[i]) {
      status =
          tsr_error_set(TSR_EINVAL, "%s: schema item %d ('%s') is not name:type (e.g. 'v1:int64')",
                        fn, i + 1, items[i]);
      break;
    }
    *colon = '\0';
    tsr_type t;
    if (tsr_type_parse(colon + 1, &t) != TSR_OK) {
      status = tsr_error_set(TSR_EINVAL, "%s: schema column '%s': unknown type '%s'", fn, items[i],
                             colon + 1);
      break;
    }
    char *name;
    status = dup_str(ctx, items[i], strlen(items[i]), &name);
    if (status != TSR_OK)
      break;
    tsr_free(ctx, fmt->cols[i].name);
    fmt->cols[i].name = name;
    fmt->cols[i].type = t;
    fmt->cols[i].fixed = true;
  }
  for (int i = 0; i < n && status == TSR_OK; i++)
    for (int j = 0; j < i && status == TSR_OK; j++)
      if (strcmp(fmt->cols[i].name, fmt->cols[j].name) == 0)
        status = tsr_error_set(TSR_EINVAL, "%s: the schema names column '%s' twice", fn,
                               fmt->cols[i].name);
  free_items(ctx, items, n);
  return status;
}

/* Keeps only options.columns, in that order. */
static tsr_status apply_columns(tsr_ctx *ctx, const char *fn, const char *path, const char *columns,
                                tsr__csv_format *fmt) {
  char **items = NULL;
  int n = 0;
  tsr__csv_col *cols = NULL;
  tsr_status status = split(ctx, columns, &items, &n);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)n + 1, sizeof *cols, (void **)&cols);
  bool *used = NULL;
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)fmt->ncols + 1, 1, (void **)&used);
  for (int i = 0; i < n && status == TSR_OK; i++) {
    int k = -1;
    for (int j = 0; j < fmt->ncols && k < 0; j++)
      if (strcmp(fmt->cols[j].name, items[i]) == 0)
        k = j;
    if (k < 0) {
      char list[512];
      size_t off = 0;
      list[0] = '\0';
      for (int j = 0; j < fmt->ncols && off < sizeof list - 64; j++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s'%.40s'", j ? ", " : "",
                                fmt->cols[j].name);
      status = tsr_error_set(TSR_EINVAL, "%s: %s has no column '%s' (its columns: %s)", fn, path,
                             items[i], list);
      break;
    }
    if (used[k]) {
      status = tsr_error_set(TSR_EINVAL, "%s: column '%s' is asked for twice", fn, items[i]);
      break;
    }
    used[k] = true;
    cols[i] = fmt->cols[k];
  }
  if (status == TSR_OK) {
    for (int j = 0; j < fmt->ncols; j++)
      if (!used[j])
        tsr_free(ctx, fmt->cols[j].name);
    tsr_free(ctx, fmt->cols);
    fmt->cols = cols;
    fmt->ncols = n;
    cols = NULL;
  }
  tsr_free(ctx, cols);
  tsr_free(ctx, used);
  free_items(ctx, items, n);
  return status;
}

/* The frame over the fused load's chunks (io/csv_load.c): the blocks it
 * left are parsed again now with the final types (and filtered by w when
 * a WHERE was pushed: the others were as they were loaded), then every
 * chunk is handed to an in-memory frame. */
static tsr_status loaded_frame(tsr_ctx *ctx, const csv_source *s, const tsr__csv_scan_result *scan,
                               tsr__csv_loaded *ld, const tsr_type *types, tsr__csv_wstate *w,
                               tsr_frame **out) {
  const tsr__csv_format *fmt = &s->fmt;
  const int n = fmt->ncols;
  const int64_t nb = scan->nblocks;
  tsr_status status = TSR_OK;
  size_t *widths = NULL;
  int64_t *caps = NULL, *rows = NULL, *data_cap = NULL;
  char **names = NULL;
  tsr__csv_strings *coded = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *coded, (void **)&coded));
  for (int i = 0; i < n; i++)
    if (types[i].id == TSR_COL_DICT)
      coded[i] =
          (tsr__csv_strings){true, s->dicts[i]->size, s->dicts[i]->offsets, s->dicts[i]->data};
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *widths, (void **)&widths));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n * (size_t)(nb + 1), sizeof *caps, (void **)&caps));
  for (int i = 0; i < n; i++)
    widths[i] = tsr_type_width(types[i]);
  tsr_status st2 = TSR_OK;
#pragma omp parallel for schedule(dynamic, 1) num_threads(tsr_ctx_threads(ctx))
  for (int64_t b = 0; b < nb; b++) {
    if (ld->chunks[b] != NULL)
      continue;
    int64_t *dc = caps + (size_t)n * (size_t)b;
    for (int i = 0; i < n; i++)
      dc[i] = types[i].id == TSR_COL_STRING ? scan->data_bytes[(int64_t)i * nb + b] : 0;
    uint64_t bytes = 0;
    void *chunk = NULL;
    tsr_status s3 = tsr__tablechunk_bytes((uint32_t)n, widths, scan->blocks[b].rows, dc, &bytes)
                        ? tsr_alloc(ctx, (size_t)bytes, &chunk)
                        : tsr_error_set(TSR_ENOMEM, "%s: a block's chunk is too large", fmt->path);
    if (s3 == TSR_OK) {
      tsr__tablechunk_init(chunk, bytes, (uint32_t)n, widths, scan->blocks[b].rows, dc);
      s3 = tsr__csv_parse_block(ctx, s->fd, fmt, &scan->blocks[b], chunk);
      size_t nbytes = (size_t)bytes;
      if (s3 == TSR_OK && w != NULL)
        s3 = tsr__csv_wstate_run(w, b, coded, &chunk, &nbytes);
      bytes = nbytes;
      if (s3 != TSR_OK)
        tsr_free(ctx, chunk);
    }
    if (s3 == TSR_OK) {
      ld->chunks[b] = chunk;
      ld->bytes[b] = (size_t)bytes;
    } else {
#pragma omp critical(tsr_csv_source_status)
      st2 = s3;
    }
  }
  TSR__TRY_GOTO(status, st2);
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nb + 1, sizeof *rows, (void **)&rows));
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)n * (size_t)nb + 1, sizeof *data_cap, (void **)&data_cap));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *names, (void **)&names));
  for (int i = 0; i < n; i++)
    names[i] = fmt->cols[i].name;
  for (int64_t b = 0; b < nb; b++) {
    rows[b] = tsr__tablechunk_col(ld->chunks[b], 0)->rows; /* what a pushed filter kept */
    for (int i = 0; i < n; i++)
      data_cap[(int64_t)i * nb + b] =
          (int64_t)tsr__tablechunk_col(ld->chunks[b], (uint32_t)i)->data_cap;
  }
  {
    void **chunks = ld->chunks;
    ld->chunks = NULL; /* gb_mem_frame takes them, also when it fails */
    status =
        gb_mem_frame(ctx, n, names, types, s->dicts, nb, chunks, ld->bytes, rows, data_cap, out);
    tsr_free(ctx, chunks);
  }
fail:
  tsr_free(ctx, widths);
  tsr_free(ctx, caps);
  tsr_free(ctx, rows);
  tsr_free(ctx, data_cap);
  tsr_free(ctx, names);
  tsr_free(ctx, coded);
  return status;
}

/* The reader; with `where`, only the rows where its predicate is true:
 * filtered while loading (csv_where.c), else a filter over the lazy frame. */
static tsr_status read_csv(tsr_ctx *ctx, const char *path, const tsr_csv_options *options,
                           const tsr__csv_where *where, tsr_frame **out) {
  static const char fn[] = "tsr_frame_read_csv";
  tsr_csv_options opt;
  memset(&opt, 0, sizeof opt);
  if (options != NULL)
    opt = *options;
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(ctx != NULL && path != NULL, TSR_EINVAL, "%s: ctx or path is NULL", fn);
  TSR_CHECK(opt.bad_rows == TSR_CSV_BAD_ERROR || opt.bad_rows == TSR_CSV_BAD_NULL ||
                opt.bad_rows == TSR_CSV_BAD_SKIP,
            TSR_EINVAL, "%s: bad_rows = %d is not a tsr_csv_bad_rows", fn, (int)opt.bad_rows);
  TSR_CHECK(opt.header >= 0 && opt.header <= 2, TSR_EINVAL,
            "%s: header = %d is not TSR_CSV_HEADER_AUTO, _YES or _NO", fn, opt.header);
  TSR_CHECK(opt.block_bytes >= 0 && opt.block_bytes <= (INT64_C(1) << 30), TSR_EINVAL,
            "%s: block_bytes = %lld is outside 0..1 GiB", fn, (long long)opt.block_bytes);
  TSR_CHECK(opt.dict_max >= -1 && opt.dict_max <= INT32_MAX, TSR_EINVAL,
            "%s: dict_max = %lld is outside -1..2^31-1", fn, (long long)opt.dict_max);
  static const char delims[] = ",;\t|";
  TSR_CHECK(opt.delimiter == 0 ||
                (opt.delimiter != '\n' && opt.delimiter != '\r' && opt.delimiter != '"' &&
                 (opt.delimiter == '\t' || strchr(delims, opt.delimiter) != NULL ||
                  (opt.delimiter > 32 && opt.delimiter < 127))),
            TSR_EINVAL, "%s: delimiter 0x%02X cannot separate fields", fn,
            (unsigned)(unsigned char)opt.delimiter);
  TSR_CHECK(
      opt.quote == 0 || (opt.quote != '\n' && opt.quote != '\r' && opt.quote != opt.delimiter),
      TSR_EINVAL, "%s: quote 0x%02X cannot quote fields", fn, (unsigned)(unsigned char)opt.quote);
  int64_t block_bytes = opt.block_bytes > 0 ? opt.block_bytes : (INT64_C(8) << 20);

  tsr_status status = TSR_OK;
  csv_source *s = NULL;
  tsr__rows *rows = NULL;
  tsr__expr *node = NULL;
  tsr__col *cols = NULL;
  tsr_type *types = NULL;
  int64_t *cap = NULL, *count = NULL, *data_cap = NULL;
  tsr__csv_scan_result scan;
  memset(&scan, 0, sizeof scan);
  tsr__csv_loaded loaded;
  memset(&loaded, 0, sizeof loaded);
  tsr__csv_wstate *wstate = NULL;
  tsr__colprog *prog = NULL;
  tsr_frame *unfiltered = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *s, (void **)&s));
  s->ctx = ctx;
  s->fd = -1;
  s->base.destroy_extra = csv_source_destroy;
  TSR__TRY_GOTO(status, dup_str(ctx, path, strlen(path), &s->path));
  tsr__csv_format *fmt = &s->fmt;
  fmt->path = s->path;
  struct stat sb;
  TSR__CHECK_GOTO(status, stat(path, &sb) == 0, TSR_EIO, "%s: %s: %s", fn, path, strerror(errno));
  TSR__CHECK_GOTO(status, !S_ISDIR(sb.st_mode), TSR_EIO, "%s: %s is a directory, not a CSV file",
                  fn, path);
  size_t plen = strlen(path);
  if (plen > 3 && strcmp(path + plen - 3, ".gz") == 0) {
    TSR__TRY_GOTO(status, tsr__csv_gunzip(ctx, path, &s->tmp, &s->fd));
  } else {
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    TSR__CHECK_GOTO(status, s->fd >= 0, TSR_EIO, "%s: cannot open %s: %s", fn, path,
                    strerror(errno));
  }
  TSR__CHECK_GOTO(status, fstat(s->fd, &sb) == 0, TSR_EIO, "%s: %s: %s", fn, path, strerror(errno));
  int64_t size = (int64_t)sb.st_size;
  fmt->delim = opt.delimiter;
  fmt->quote = opt.quote;
  fmt->bad_rows = opt.bad_rows;
  fmt->replace_utf8 = opt.replace_invalid_utf8 != 0;
  fmt->dict_max = opt.dict_max == 0 ? 65536 : opt.dict_max;
  if (opt.nulls != NULL && opt.nulls[0] != '\0')
    TSR__TRY_GOTO(status, split(ctx, opt.nulls, &fmt->nulls, &fmt->n_nulls));
  TSR__TRY_GOTO(status, tsr__csv_sniff(ctx, s->fd, size, opt.header, fmt));
  if (opt.schema != NULL)
    TSR__TRY_GOTO(status, apply_schema(ctx, fn, path, opt.schema, fmt));
  if (opt.columns != NULL)
    TSR__TRY_GOTO(status, apply_columns(ctx, fn, path, opt.columns, fmt));
  /* the fused load when the chunks fit in memory (half the free limit, else
   * a quarter of the machine's memory) on one rank; else scan now, parse later */
  if (tsr_ctx_nranks(ctx) <= 1) {
    uint64_t limit = tsr_ctx_memory_limit(ctx), budget = 0;
    tsr_memory_stats ms;
    if (limit == 0)
      budget = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 4;
    else if (tsr_ctx_memory_stats(ctx, &ms) == TSR_OK && ms.current_bytes < limit)
      budget = (limit - ms.current_bytes) / 2;
    tsr__csv_rowfilter rf = {tsr__csv_wstate_run, NULL};
    if (where != NULL) {
      /* a predicate that does not compile (a type error) is compiled again
       * over the frame, as an unpushed filter is, to say so in its words */
      status = tsr__csv_wstate_create(ctx, fmt, where, &wstate);
      if (status == TSR_ENOMEM)
        goto fail;
      if (status != TSR_OK)
        tsr_error_clear();
      status = TSR_OK;
      rf.arg = wstate;
    }
    TSR__TRY_GOTO(status, tsr__csv_load(ctx, s->fd, size, block_bytes, budget,
                                        wstate != NULL ? &rf : NULL, fmt, &loaded));
  }
  if (loaded.done) {
    scan = loaded.scan;
    memset(&loaded.scan, 0, sizeof loaded.scan);
  } else {
    TSR__TRY_GOTO(status, tsr__csv_scan(ctx, s->fd, size, block_bytes, fmt, &scan));
  }

  int n = fmt->ncols;
  int64_t nb = scan.nblocks;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *s->dicts, (void **)&s->dicts));
  s->ndicts = n;
  for (int i = 0; i < n; i++)
    if (fmt->cols[i].type.id == TSR_COL_DICT) {
      char what[320];
      snprintf(what, sizeof what, "%s: column '%.256s'", fn, fmt->cols[i].name);
      TSR__TRY_GOTO(status, tsr__dict_create(ctx, what, scan.dict_n[i], scan.dict_offsets[i],
                                             scan.dict_data[i], &s->dicts[i]));
      fmt->cols[i].dict_size = s->dicts[i]->size;
      fmt->cols[i].dict_offsets = s->dicts[i]->offsets;
      fmt->cols[i].dict_data = s->dicts[i]->data;
      TSR__TRY_GOTO(status, tsr__csv_dict_index(ctx, &fmt->cols[i]));
    }
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)nb + 1, sizeof *cap, "row chunks", (void **)&cap));
  TSR__TRY_GOTO(
      status, tsr__alloc_array(ctx, (size_t)nb + 1, sizeof *count, "row chunks", (void **)&count));
  for (int64_t b = 0; b < nb; b++) {
    count[b] = scan.blocks[b].rows;
    cap[b] = count[b] + (fmt->bad_rows == TSR_CSV_BAD_SKIP ? scan.blocks[b].bad : 0);
  }
  TSR__TRY_GOTO(status, tsr__rows_create(ctx, nb, cap, count, &rows));
  TSR__TRY_GOTO(status,
                tsr__alloc_array(ctx, (size_t)n + 1, sizeof *types, "types", (void **)&types));
  TSR__TRY_GOTO(status,
                tsr_calloc(ctx, (size_t)n * (size_t)nb + 1, sizeof *data_cap, (void **)&data_cap));
  for (int i = 0; i < n; i++) {
    types[i] = fmt->cols[i].type;
    if (types[i].id != TSR_COL_TIMESTAMP)
      types[i].unit = 0;
    if (types[i].id == TSR_COL_STRING)
      memcpy(data_cap + (int64_t)i * nb, scan.data_bytes + (int64_t)i * nb,
             (size_t)nb * sizeof *data_cap);
  }
  if (loaded.done) {
    TSR__TRY_GOTO(status, loaded_frame(ctx, s, &scan, &loaded, types, wstate, out));
    goto filter; /* done: free what is left */
  }
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *cols, (void **)&cols));
  int64_t bad = scan.bad;
  s->blocks = scan.blocks;
  scan.blocks = NULL;
  {
    csv_source *params = s;
    s = NULL; /* the node owns it now, even on failure */
    TSR__TRY_GOTO(status, tsr__fnode_create(ctx, &op_csv, rows, (uint32_t)n, types, data_cap, 0,
                                            NULL, params, &node));
    for (int i = 0; i < n; i++)
      cols[i] = (tsr__col){
          params->fmt.cols[i].name, types[i], params->dicts[i], node, (uint32_t)i, false};
  }
  TSR__TRY_GOTO(status, tsr__frame_make(ctx, n, cols, rows, out));
  (*out)->csv_bad_rows = bad;
filter:
  if (where != NULL && (!loaded.done || wstate == NULL)) {
    /* not filtered while loading: the usual fused filter over the frame */
    unfiltered = *out;
    *out = NULL;
    int v;
    TSR__TRY_GOTO(status, where->build(where->arg, unfiltered, &prog, &v));
    TSR__TRY_GOTO(status, tsr__frame_filter_prog(unfiltered, prog, v, out));
    (*out)->csv_bad_rows = unfiltered->csv_bad_rows;
  }
fail:
  tsr__csv_wstate_destroy(&wstate);
  tsr__colprog_destroy(&prog);
  tsr_frame_destroy(&unfiltered);
  if (s != NULL) {
    csv_source_destroy(&s->base);
    tsr_free(ctx, s);
  }
  if (loaded.done && loaded.chunks != NULL) /* chunks loaded_frame did not hand over */
    for (int64_t b = 0; b < scan.nblocks; b++)
      tsr_free(ctx, loaded.chunks[b]);
  tsr__csv_scan_result_free(ctx, &scan);
  tsr__csv_loaded_free(ctx, &loaded);
  tsr_free(ctx, cols);
  tsr_free(ctx, types);
  tsr_free(ctx, cap);
  tsr_free(ctx, count);
  tsr_free(ctx, data_cap);
  tsr__expr_release(&node);
  tsr__rows_release(&rows);
  return status;
}

tsr_status tsr_frame_read_csv(tsr_ctx *ctx, const char *path, const tsr_csv_options *options,
                              tsr_frame **out) {
  return read_csv(ctx, path, options, NULL, out);
}

tsr_status tsr__frame_read_csv_where(tsr_ctx *ctx, const char *path, const tsr_csv_options *options,
                                     const tsr__csv_where *where, tsr_frame **out) {
  return read_csv(ctx, path, options, where, out);
}
