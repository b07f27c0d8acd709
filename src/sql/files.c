/* files.c — tables named by file paths in SQL: CSV files ('data.csv',
 * also .csv.gz and .tsv) and HDF5 tables or compound datasets
 * ('file.h5:/group').  Binding needs only a file's column names, read here
 * without its rows (the CSV sniffer's header, the HDF5 table's column
 * list); the scan opens the file when the statement runs, asking the
 * reader for the columns the query uses alone (prune.c), so a query of two
 * of nine columns parses two.  The schema comes with the row count the
 * planner orders joins by: an HDF5 table's (exact, from its metadata), a
 * CSV file's estimated from the sniffer's samples. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/csv.h"
#include "io/hdf5_table.h"
#include "plan.h"

const char *tsr__sql_hdf5_colon(const char *path) {
  static const char *const ext[] = {".h5:", ".hdf5:", ".he5:", ".nc:"};
  for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
    const char *at = strstr(path, ext[i]);
    if (at != NULL)
      return at + strlen(ext[i]) - 1;
  }
  return NULL;
}

static bool ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static tsr_status copy_names(tsr__sql_binder *b, int n, const char *(*name)(const void *, int),
                             const void *src, const char ***out) {
  const char **names = tsr__query_arena_alloc(b->arena, (size_t)(n + 1) * sizeof *names);
  if (names == NULL)
    return TSR_ENOMEM;
  for (int i = 0; i < n; i++) {
    const char *s = name(src, i);
    if ((names[i] = tsr__query_arena_strndup(b->arena, s, strlen(s))) == NULL)
      return TSR_ENOMEM;
  }
  *out = names;
  return TSR_OK;
}

static const char *csv_name(const void *fmt, int i) {
  return ((const tsr__csv_format *)fmt)->cols[i].name;
}
static const char *h5_name(const void *t, int i) {
  return tsr__h5_rtable_name((const tsr__h5_rtable *)t, i);
}

/* The rows of a CSV file estimated from the sniffer's samples (the head
 * and eight windows spread over the file): the data bytes over the mean
 * bytes of a sampled record.  An estimate only (exact when the samples
 * cover the file); -1 when the samples hold no record of a larger file. */
static int64_t csv_estimate(const tsr__csv_format *fmt, int64_t size) {
  int64_t data = size - fmt->data_start;
  if (fmt->sample_records == 0 || fmt->sample_bytes <= 0)
    return data <= 0 || fmt->nfields == 0 ? 0 : -1;
  double rows = (double)data * (double)fmt->sample_records / (double)fmt->sample_bytes;
  return (int64_t)(rows + 0.5);
}

static tsr_status csv_schema(tsr__sql_binder *b, const char *path, int *ncols, const char ***names,
                             int64_t *est_rows) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return tsr_error_set(TSR_EIO, "cannot open %s: %s", path, strerror(errno));
  struct stat sb;
  tsr__csv_format fmt;
  memset(&fmt, 0, sizeof fmt);
  fmt.path = path;
  fmt.dict_max = 65536;
  tsr_status st =
      fstat(fd, &sb) == 0 ? TSR_OK : tsr_error_set(TSR_EIO, "%s: %s", path, strerror(errno));
  if (st == TSR_OK)
    st = tsr__csv_sniff(b->ctx, fd, (int64_t)sb.st_size, TSR_CSV_HEADER_AUTO, &fmt);
  if (st == TSR_OK) {
    *ncols = fmt.ncols;
    *est_rows = csv_estimate(&fmt, (int64_t)sb.st_size);
    st = copy_names(b, fmt.ncols, csv_name, &fmt, names);
  }
  tsr__csv_format_free(b->ctx, &fmt);
  close(fd);
  return st;
}

tsr_status tsr__sql_path_schema(tsr__sql_binder *b, const char *path, int *ncols,
                                const char ***names, tsr_frame **frame, int64_t *est_rows) {
  *frame = NULL;
  *est_rows = -1;
  const char *colon = tsr__sql_hdf5_colon(path);
  if (colon == NULL && (ends_with(path, ".gz") || ends_with(path, ".GZ")))
    return tsr__sql_open_path(b->ctx, path, NULL, frame); /* decompressed once, whole */
  if (colon == NULL)
    return csv_schema(b, path, ncols, names, est_rows);
  char *file = tsr__query_arena_strndup(b->arena, path, (size_t)(colon - path));
  if (file == NULL)
    return TSR_ENOMEM;
  tsr__h5_rtable *t = NULL;
  TSR_TRY(tsr__h5_rtable_open(b->ctx, "FROM", file, colon + 1, NULL, &t));
  *ncols = tsr__h5_rtable_ncols(t);
  *est_rows = tsr__h5_rtable_nrows(t); /* exact, from the metadata */
  tsr_status st = copy_names(b, *ncols, h5_name, t, names);
  tsr__h5_rtable_close(&t);
  return st;
}

tsr_status tsr__sql_open_path(tsr_ctx *ctx, const char *path, const char *columns,
                              tsr_frame **out) {
  const char *colon = tsr__sql_hdf5_colon(path);
  if (colon == NULL) {
    tsr_csv_options o;
    memset(&o, 0, sizeof o);
    o.columns = columns;
    return tsr_frame_read_csv(ctx, path, &o, out);
  }
  size_t n = (size_t)(colon - path);
  char *file;
  TSR_TRY(tsr_alloc(ctx, n + 1, (void **)&file));
  memcpy(file, path, n);
  file[n] = '\0';
  tsr_status st = tsr_frame_read_hdf5(ctx, file, colon + 1, columns, out);
  tsr_free(ctx, file);
  return st;
}
