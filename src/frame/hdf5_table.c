/* hdf5_table.c — frames as HDF5 tables (docs/frames.md, "HDF5 tables"):
 * tsr_frame_write_hdf5 and tsr_frame_read_hdf5 on top of io/hdf5_table.c.
 *
 * Writing computes the frame into memory, creates the group and every
 * dataset (io), then writes units of (column, HDF5 chunk of rows) in
 * parallel: each unit gathers its rows from the result's row chunks into
 * one contiguous buffer and hands it to io, which deflates whole chunks on
 * the calling thread.  The file is written to a temporary file and
 * published when complete (io/hdf5.c).  Its bytes depend on the frame
 * alone: unfiltered datasets are allocated at creation, and when where a
 * chunk lands depends on when it is written (compressed chunks,
 * variable-length strings) units hand their boxes to HDF5 in unit order,
 * compressing before their turn on every thread.
 *
 * Under MPI every rank holds the computed frame.  Uncompressed tables
 * without variable-length strings, in a new file, are written by every
 * rank through parallel HDF5 (write_parallel: rank 0 creates everything,
 * every rank reopens it and writes its run of units); others by rank 0
 * (write_one): parallel HDF5 cannot write variable-length strings, and
 * compressed datasets follow compressed arrays (array/hdf5.c) to one
 * writer.  Every failure is agreed on before the next collective call.
 *
 * Reading opens the group or compound dataset, then reads row chunks of
 * whole file chunks (about 1 Mi rows; the cut depends on the file alone)
 * in parallel straight into table chunks, and returns a frame over them
 * held in memory, as the CSV reader's fused load does. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tessera/dist.h>

#include "core/atomic_file.h"
#include "dist/dist.h"
#include "groupby_impl.h"
#include "io/hdf5_table.h"

/* ---- writing ---------------------------------------------------------------------------- */

/* A worker thread's failure: its message is thread-local, so it is kept
 * in msg (inside the caller's critical section) and set again on the
 * calling thread. */
static tsr_status first_error(tsr_status st, char *msg) {
  snprintf(msg, 1024, "%s", tsr_last_error());
  return st;
}

typedef struct gather_buf {
  void *values;
  uint8_t *valid;
  int64_t *str_off;
  char *str_data;
} gather_buf;

/* The result chunk holding row `row` (row_off: nchunks + 1 entries). */
static int64_t chunk_of(const int64_t *row_off, int64_t nchunks, int64_t row) {
  int64_t lo = 0, hi = nchunks - 1;
  while (lo < hi) {
    int64_t mid = (lo + hi + 1) / 2;
    if (row_off[mid] <= row)
      lo = mid;
    else
      hi = mid - 1;
  }
  return lo;
}

/* Bytes of the strings of rows [row0, row0 + rows) of string column col. */
static tsr_status string_bytes(const tsr_frame_result *res, int col, const int64_t *row_off,
                               int64_t nchunks, int64_t row0, int64_t rows, int64_t *out) {
  int64_t total = 0;
  for (int64_t c = chunk_of(row_off, nchunks, row0); rows > 0 && c < nchunks; c++) {
    tsr_column_chunk cc;
    TSR_TRY(tsr_frame_result_chunk(res, col, c, &cc));
    int64_t a = row0 > row_off[c] ? row0 - row_off[c] : 0;
    int64_t b = row0 + rows - row_off[c] < cc.rows ? row0 + rows - row_off[c] : cc.rows;
    const tsr_string_view *v = cc.values;
    for (int64_t r = a; r < b; r++)
      total += v[r].length;
    if (row_off[c + 1] >= row0 + rows)
      break;
  }
  *out = total;
  return TSR_OK;
}

/* Gathers rows [row0, row0 + rows) of column col into g (buffers sized by
 * the caller; valid may be NULL when the column has no nulls). */
static tsr_status gather(const tsr_frame_result *res, int col, tsr_type type,
                         const int64_t *row_off, int64_t nchunks, int64_t row0, int64_t rows,
                         gather_buf *g) {
  size_t w = tsr_type_width(type);
  int64_t at = 0, bytes = 0;
  if (g->str_off != NULL)
    g->str_off[0] = 0;
  for (int64_t c = chunk_of(row_off, nchunks, row0); at < rows && c < nchunks; c++) {
    tsr_column_chunk cc;
    TSR_TRY(tsr_frame_result_chunk(res, col, c, &cc));
    int64_t a = row0 + at - row_off[c];
    int64_t b = row0 + rows - row_off[c] < cc.rows ? row0 + rows - row_off[c] : cc.rows;
    int64_t k = b - a;
    if (k <= 0)
      continue;
    if (type.id == TSR_COL_STRING) {
      const tsr_string_view *v = (const tsr_string_view *)cc.values + a;
      for (int64_t r = 0; r < k; r++) {
        memcpy(g->str_data + bytes, tsr_string_view_data(&v[r], cc.data), v[r].length);
        bytes += v[r].length;
        g->str_off[at + r + 1] = bytes;
      }
    } else {
      memcpy((char *)g->values + (size_t)at * w, (const char *)cc.values + (size_t)a * w,
             (size_t)k * w);
    }
    if (g->valid != NULL) {
      if (cc.validity == NULL)
        memset(g->valid + at, 1, (size_t)k);
      else
        for (int64_t r = 0; r < k; r++)
          g->valid[at + r] = tsr__bit_get(cc.validity, a + r);
    }
    at += k;
  }
  return TSR_OK;
}

typedef struct wplan {
  tsr_frame_result *res;
  tsr__h5_wtable *table;
  int ncols;
  tsr_type *types;
  bool *nullable;
  int64_t *row_off; /* nchunks + 1 */
  int64_t nchunks, nrows, chunk_rows, nunits_col;
  int64_t *byte0; /* strings: ncols x (nunits_col + 1) prefix sums; else NULL */
  int64_t *ubytes; /* ... and each unit's bytes */
  bool ordered;     /* units hand their boxes to HDF5 in unit order (write_units) */
} wplan;

/* Writes unit u (column u / nunits_col, rows of HDF5 chunk u % nunits_col). */
static tsr_status write_unit(tsr_ctx *ctx, const wplan *p, int64_t u) {
  int col = (int)(u / p->nunits_col);
  int64_t k = u % p->nunits_col;
  int64_t row0 = k * p->chunk_rows;
  int64_t rows = p->nrows - row0 < p->chunk_rows ? p->nrows - row0 : p->chunk_rows;
  tsr_type type = p->types[col];
  gather_buf g = {0};
  tsr_status status = TSR_OK;
  int64_t byte0 = 0;
  if (type.id == TSR_COL_STRING) {
    int64_t nb = p->ubytes[(int64_t)col * p->nunits_col + k];
    byte0 = p->byte0[(int64_t)col * p->nunits_col + k];
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)rows + 1, sizeof *g.str_off, "offsets",
                                           (void **)&g.str_off));
    TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)nb + 1, (void **)&g.str_data));
  } else {
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)rows, tsr_type_width(type), "values",
                                           &g.values));
  }
  if (p->nullable[col])
    TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)rows, (void **)&g.valid));
  TSR__TRY_GOTO(status, gather(p->res, col, type, p->row_off, p->nchunks, row0, rows, &g));
  status = tsr__h5_wtable_write(p->table, col, row0, rows, g.values, g.valid, g.str_off,
                                g.str_data, byte0, p->ordered ? u : -1);
  goto done; /* (an ordered write abandons the table itself when it fails) */
fail:
  if (p->ordered) /* the units after this one wait for it no longer */
    tsr__h5_wtable_abandon(p->table);
done:
  tsr_free(ctx, g.values);
  tsr_free(ctx, g.valid);
  tsr_free(ctx, g.str_off);
  tsr_free(ctx, g.str_data);
  return status;
}

/* Writes the units u of [0, units) with owner(u) == rank (every unit when
 * nranks is 1) on the context's threads; the first failure's status.
 * Units are taken in increasing order, so when they are ordered a unit
 * waiting for its turn only waits for units that are being written. */
static tsr_status write_units(tsr_ctx *ctx, const wplan *p, int rank, int nranks,
                              int64_t *written) {
  int64_t units = (int64_t)p->ncols * p->nunits_col, mine = 0;
  _Atomic int64_t next = 0;
  tsr_status st2 = TSR_OK;
  char msg[1024] = "";
#pragma omp parallel num_threads(tsr_ctx_threads(ctx)) reduction(+ : mine)
  for (;;) {
    int64_t u = atomic_fetch_add(&next, 1);
    if (u >= units)
      break;
    /* balanced contiguous runs of units, so a rank's writes are near one another */
    if (nranks > 1 && (int)(u * nranks / units) != rank)
      continue;
    tsr_status s3;
#pragma omp atomic read
    s3 = st2;
    if (s3 != TSR_OK)
      continue;
    s3 = write_unit(ctx, p, u);
    mine++;
    if (s3 != TSR_OK) {
      /* the failure itself, not a unit that gave up waiting for it */
#pragma omp critical(tsr_frame_hdf5_status)
      if (st2 == TSR_OK || (st2 == TSR_ECANCELED && s3 != TSR_ECANCELED))
        st2 = first_error(s3, msg);
    }
  }
  *written = mine;
  return st2 == TSR_OK ? TSR_OK : tsr_error_set(st2, "%s", msg);
}

/* Whether this write goes through parallel HDF5 (collective: every rank
 * gets rank 0's answer).  It does on several ranks when HDF5 can write
 * every dataset there: no compression (parallel HDF5 1.10 writes filtered
 * chunks only collectively, so compressed tables are written by one rank,
 * as compressed arrays are), no variable-length strings (it cannot write
 * those at all), and a new file (adding to an existing one copies it, on
 * one rank). */
static tsr_status choose_parallel(tsr_ctx *ctx, tsr__dist *dist, const char *path,
                                  const tsr_frame_hdf5_options *opt, const tsr__h5_tcol_spec *specs,
                                  int n, bool *parallel) {
  *parallel = false;
  if (tsr_ctx_nranks(ctx) < 2 || opt->deflate_level != 0 || !tsr__h5_have_parallel() ||
      !tsr__dist_thread_serialized(dist))
    return TSR_OK;
  for (int i = 0; i < n; i++)
    if (specs[i].type.id == TSR_COL_STRING && opt->strings != TSR_HDF5_STRINGS_OFFSETS)
      return TSR_OK;
  int new_file = 0;
  if (tsr_ctx_rank(ctx) == 0)
    new_file = opt->mode == TSR_HDF5_EXCLUSIVE || opt->mode == TSR_HDF5_REPLACE ||
               access(path, F_OK) != 0;
  TSR_TRY(tsr__dist_bcast(dist, &new_file, sizeof new_file, 0));
  *parallel = new_file != 0;
  return TSR_OK;
}

/* One writer: rank 0 makes and writes the whole file on its threads (the
 * other ranks wait).  Collective; every rank returns the same status. */
static tsr_status write_one(tsr_ctx *ctx, wplan *p, const char *path, const char *group,
                            const tsr_frame_hdf5_options *opt, const tsr__h5_tcol_spec *specs) {
  tsr_status status = TSR_OK;
  tsr__h5_file *file = NULL;
  if (tsr_ctx_rank(ctx) == 0) {
    int64_t written = 0;
    status = tsr__h5_file_create(ctx, path, opt->mode, &file);
    if (status == TSR_OK)
      status = tsr__h5_wtable_create(ctx, file, opt->mode, group, p->ncols, specs, p->nrows,
                                     p->chunk_rows, opt->deflate_level, opt->shuffle,
                                     opt->strings == TSR_HDF5_STRINGS_OFFSETS, &p->table);
    /* Compressed chunks and variable-length strings are placed in the file
     * as they are written: in unit order, so the file is the same for any
     * number of threads (unfiltered datasets are allocated at creation). */
    for (int i = 0; i < p->ncols; i++)
      p->ordered = p->ordered || specs[i].type.id == TSR_COL_STRING;
    p->ordered = opt->deflate_level > 0 ||
                 (p->ordered && opt->strings != TSR_HDF5_STRINGS_OFFSETS);
    if (status == TSR_OK)
      status = write_units(ctx, p, 0, 1, &written);
    if (status == TSR_OK)
      status = tsr__h5_wtable_close(&p->table);
    if (status == TSR_OK)
      status = tsr__h5_file_commit(&file);
    tsr__h5_wtable_close(&p->table);
    tsr__h5_file_abort(&file);
    if (status == TSR_OK)
      tsr__log(ctx, TSR_LOG_DEBUG, "tsr_frame_write_hdf5: '%s': one writer, %lld units", path,
               (long long)written);
  }
  return tsr_ctx_agree(ctx, status);
}

/* Every rank writes its units through parallel HDF5 (choose_parallel).
 * Rank 0 makes the temporary file, the group and every dataset with the
 * default driver, alone, exactly as the one-writer path does, and closes
 * it; every dataset is unfiltered, so all its chunks are in place from
 * then on.  Every rank then opens the file with MPI-IO, opens the datasets
 * again and writes its own units (independent I/O, touching no metadata);
 * the file is closed collectively and rank 0 renames it into place when
 * every rank succeeded.  The bytes are those of the one-writer path.
 * Collective; every rank returns the same status. */
static tsr_status write_parallel(tsr_ctx *ctx, tsr__dist *dist, wplan *p, const char *path,
                                 const char *group, const tsr_frame_hdf5_options *opt,
                                 const tsr__h5_tcol_spec *specs) {
  tsr_status status = TSR_OK;
  tsr__h5_file *file = NULL;
  bool root = tsr_ctx_rank(ctx) == 0;
  char tmp[4096] = "";
  if (root) {
    char *made = NULL;
    status = tsr__h5_tmp_create(ctx, path, opt->mode, &made);
    if (status == TSR_OK && strlen(made) >= sizeof tmp)
      status = tsr_error_set(TSR_EINVAL, "tsr_frame_write_hdf5: the path '%s' is too long", path);
    if (made != NULL)
      snprintf(tmp, sizeof tmp, "%s", made);
    tsr_free(ctx, made);
    if (status == TSR_OK)
      status = tsr__h5_file_create_staged(ctx, path, tmp, opt->mode, &file);
    if (status == TSR_OK)
      status = tsr__h5_wtable_create(ctx, file, opt->mode, group, p->ncols, specs, p->nrows,
                                     p->chunk_rows, 0, false, true, &p->table);
    if (status == TSR_OK)
      status = tsr__h5_wtable_close(&p->table);
    if (status == TSR_OK)
      status = tsr__h5_file_commit(&file);
    if (file != NULL) /* committed (closed): freed here; else closed by abort */
      status = status == TSR_OK ? tsr__h5_file_publish(&file, false) : status;
    tsr__h5_wtable_close(&p->table);
    tsr__h5_file_abort(&file);
    if (status != TSR_OK && tmp[0] != '\0')
      tsr__tmp_remove(tmp);
  }
  TSR_TRY(tsr_ctx_agree(ctx, status));
  TSR_TRY(tsr__dist_bcast(dist, tmp, sizeof tmp, 0));
  status = tsr__h5_file_reopen_parallel(ctx, path, tmp, opt->mode, tsr__dist_comm(dist), root,
                                        &file);
  status = tsr_ctx_agree(ctx, status);
  if (status != TSR_OK) {
    if (file != NULL)
      tsr__h5_file_abort(&file); /* rank 0 removes the file */
    else if (root)
      tsr__tmp_remove(tmp);
    return status;
  }
  int64_t written = 0;
  status = tsr__h5_wtable_open(ctx, file, group, p->ncols, specs, p->nrows, p->chunk_rows,
                               opt->strings == TSR_HDF5_STRINGS_OFFSETS, &p->table);
  TSR__TRY_GOTO(status, tsr_ctx_agree(ctx, status));
  status = write_units(ctx, p, tsr_ctx_rank(ctx), tsr_ctx_nranks(ctx), &written);
  if (status == TSR_OK)
    status = tsr__h5_wtable_close(&p->table);
  TSR__TRY_GOTO(status, tsr_ctx_agree(ctx, status));
  status = tsr_ctx_agree(ctx, tsr__h5_file_commit(&file)); /* collective close */
  status = tsr_ctx_agree(ctx, tsr__h5_file_publish(&file, status == TSR_OK));
  if (status == TSR_OK)
    tsr__log(ctx, TSR_LOG_DEBUG, "tsr_frame_write_hdf5: '%s': rank %d wrote %lld units in parallel",
             path, tsr_ctx_rank(ctx), (long long)written);
  return status;
fail:
  tsr__h5_wtable_close(&p->table);
  tsr__h5_file_abort(&file); /* collective close; rank 0 removes the file */
  return status;
}

/* Per column: the dataset spec (name, type, nulls, dictionary, string
 * bytes) and, for strings, each unit's bytes and their prefix sums. */
static tsr_status plan_columns(wplan *p, tsr__h5_tcol_spec *specs) {
  for (int64_t c = 0; c < p->nchunks; c++) {
    int64_t rows = 0;
    if (p->ncols > 0) {
      tsr_column_chunk cc;
      TSR_TRY(tsr_frame_result_chunk(p->res, 0, c, &cc));
      rows = cc.rows;
    }
    p->row_off[c + 1] = p->row_off[c] + rows;
  }
  for (int i = 0; i < p->ncols; i++) {
    tsr__h5_tcol_spec *s = &specs[i];
    s->name = tsr_frame_result_col_name(p->res, i);
    s->type = p->types[i] = tsr_frame_result_col_type(p->res, i);
    for (int64_t c = 0; c < p->nchunks && !s->nullable; c++) {
      tsr_column_chunk cc;
      TSR_TRY(tsr_frame_result_chunk(p->res, i, c, &cc));
      s->nullable = cc.null_count > 0;
    }
    p->nullable[i] = s->nullable;
    if (s->type.id == TSR_COL_DICT)
      TSR_TRY(tsr_frame_result_dict(p->res, i, &s->dict_size, &s->dict_offsets, &s->dict_data));
    if (s->type.id == TSR_COL_STRING) {
      int64_t *b0 = p->byte0 + (int64_t)i * p->nunits_col;
      int64_t *ub = p->ubytes + (int64_t)i * p->nunits_col;
      int64_t total = 0;
      for (int64_t k = 0; k < p->nunits_col; k++) {
        int64_t r0 = k * p->chunk_rows;
        int64_t rows = p->nrows - r0 < p->chunk_rows ? p->nrows - r0 : p->chunk_rows;
        TSR_TRY(string_bytes(p->res, i, p->row_off, p->nchunks, r0, rows, &ub[k]));
        b0[k] = total;
        total += ub[k];
      }
      s->string_bytes = total;
    }
  }
  return TSR_OK;
}

tsr_status tsr_frame_write_hdf5(tsr_frame *f, const char *path, const char *group,
                                const tsr_frame_hdf5_options *options) {
  static const char fn[] = "tsr_frame_write_hdf5";
  TSR_CHECK(f != NULL && path != NULL && group != NULL, TSR_EINVAL,
            "%s: frame, path or group is NULL", fn);
  tsr_frame_hdf5_options opt;
  memset(&opt, 0, sizeof opt);
  if (options != NULL)
    opt = *options;
  TSR_CHECK(opt.deflate_level >= 0 && opt.deflate_level <= 9, TSR_EINVAL,
            "%s: deflate_level = %d is outside 0..9", fn, opt.deflate_level);
  TSR_CHECK(opt.strings == TSR_HDF5_STRINGS_VLEN || opt.strings == TSR_HDF5_STRINGS_OFFSETS,
            TSR_EINVAL, "%s: strings = %d is not a tsr_hdf5_strings", fn, (int)opt.strings);
  TSR_CHECK(opt.mode >= TSR_HDF5_APPEND && opt.mode <= TSR_HDF5_REPLACE, TSR_EINVAL,
            "%s: mode = %d is not a tsr_hdf5_mode", fn, (int)opt.mode);
  TSR_CHECK(opt.chunk_rows >= 0 && opt.chunk_rows <= (INT64_C(1) << 28), TSR_EINVAL,
            "%s: chunk_rows = %lld is outside 0..2^28", fn, (long long)opt.chunk_rows);
  tsr_ctx *ctx = f->ctx;
  tsr_status status = TSR_OK;
  wplan p;
  memset(&p, 0, sizeof p);
  tsr__h5_tcol_spec *specs = NULL;
  int n = 0;
  /* Under MPI a failure after the computation, on some ranks only, is
   * agreed on before the writing starts. */
  status = tsr_frame_compute(f, opt.compute, &p.res);
  if (status == TSR_OK) {
    n = tsr_frame_result_ncols(p.res);
    p.ncols = n;
    p.nchunks = tsr_frame_result_nchunks(p.res);
    p.nrows = tsr_frame_result_nrows(p.res);
    p.chunk_rows = opt.chunk_rows > 0 ? opt.chunk_rows : 65536;
    p.nunits_col = (p.nrows + p.chunk_rows - 1) / p.chunk_rows;
    status = tsr_calloc(ctx, (size_t)n + 1, sizeof *p.types, (void **)&p.types);
  }
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)n + 1, sizeof *p.nullable, (void **)&p.nullable);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)n + 1, sizeof *specs, (void **)&specs);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)p.nchunks + 2, sizeof *p.row_off, (void **)&p.row_off);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)n * (size_t)(p.nunits_col + 1) + 1, sizeof *p.byte0,
                        (void **)&p.byte0);
  if (status == TSR_OK)
    status = tsr_calloc(ctx, (size_t)n * (size_t)(p.nunits_col + 1) + 1, sizeof *p.ubytes,
                        (void **)&p.ubytes);
  if (status == TSR_OK)
    status = plan_columns(&p, specs);
  TSR__TRY_GOTO(status, tsr_ctx_agree(ctx, status));
  {
    tsr__dist *dist = tsr_ctx_nranks(ctx) > 1 ? tsr__dist_get(ctx) : NULL;
    bool parallel = false;
    if (tsr_ctx_nranks(ctx) > 1)
      status = dist == NULL ? TSR_EMPI : choose_parallel(ctx, dist, path, &opt, specs, n, &parallel);
    TSR__TRY_GOTO(status, tsr_ctx_agree(ctx, status));
    status = parallel ? write_parallel(ctx, dist, &p, path, group, &opt, specs)
                      : write_one(ctx, &p, path, group, &opt, specs);
  }
fail:
  tsr__h5_wtable_close(&p.table);
  tsr_frame_result_destroy(&p.res);
  tsr_free(ctx, p.types);
  tsr_free(ctx, p.nullable);
  tsr_free(ctx, p.row_off);
  tsr_free(ctx, p.byte0);
  tsr_free(ctx, p.ubytes);
  tsr_free(ctx, specs);
  return status;
}

/* ---- reading ---------------------------------------------------------------------------- */

tsr_status tsr_frame_read_hdf5(tsr_ctx *ctx, const char *path, const char *object,
                               const char *columns, tsr_frame **out) {
  static const char fn[] = "tsr_frame_read_hdf5";
  TSR_CHECK(out != NULL, TSR_EINVAL, "%s: out is NULL", fn);
  *out = NULL;
  TSR_CHECK(ctx != NULL && path != NULL && object != NULL, TSR_EINVAL,
            "%s: ctx, path or object is NULL", fn);
  tsr_status status = TSR_OK;
  tsr__h5_rtable *t = NULL;
  void **chunks = NULL;
  size_t *bytes = NULL;
  int64_t *rows = NULL, *data_cap = NULL;
  char **names = NULL;
  tsr_type *types = NULL;
  tsr__dict **dicts = NULL;
  int n = 0;
  int64_t nchunks = 0;
  TSR__TRY_GOTO(status, tsr__h5_rtable_open(ctx, fn, path, object, columns, &t));
  n = tsr__h5_rtable_ncols(t);
  int64_t nrows = tsr__h5_rtable_nrows(t), cr = tsr__h5_rtable_chunk_rows(t);
  nchunks = nrows == 0 ? 1 : (nrows + cr - 1) / cr;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nchunks + 1, sizeof *chunks, (void **)&chunks));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nchunks + 1, sizeof *bytes, (void **)&bytes));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nchunks + 1, sizeof *rows, (void **)&rows));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n * (size_t)nchunks + 1, sizeof *data_cap,
                                   (void **)&data_cap));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *names, (void **)&names));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *types, (void **)&types));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *dicts, (void **)&dicts));
  for (int i = 0; i < n; i++) {
    names[i] = (char *)tsr__h5_rtable_name(t, i);
    types[i] = tsr__h5_rtable_type(t, i);
    if (types[i].id == TSR_COL_DICT) {
      int64_t ds;
      const int64_t *doff;
      const char *dd;
      tsr__h5_rtable_dict(t, i, &ds, &doff, &dd);
      char what[320];
      snprintf(what, sizeof what, "%s: %s: column '%.256s'", fn, path, names[i]);
      TSR__TRY_GOTO(status, tsr__dict_create(ctx, what, ds, doff, dd, &dicts[i]));
    }
  }
  {
    tsr_status st2 = TSR_OK;
    char msg[1024] = "";
#pragma omp parallel for schedule(dynamic, 1) num_threads(tsr_ctx_threads(ctx))
    for (int64_t c = 0; c < nchunks; c++) {
      tsr_status s3;
#pragma omp atomic read
      s3 = st2;
      if (s3 != TSR_OK)
        continue;
      int64_t r0 = c * cr, k = nrows - r0 < cr ? nrows - r0 : cr;
      uint64_t b = 0;
      s3 = tsr__h5_rtable_read(t, r0, k, &chunks[c], &b);
      bytes[c] = (size_t)b;
      rows[c] = k;
      if (s3 != TSR_OK) {
#pragma omp critical(tsr_frame_hdf5_status)
        if (st2 == TSR_OK)
          st2 = first_error(s3, msg);
      }
    }
    if (st2 != TSR_OK)
      TSR__TRY_GOTO(status, tsr_error_set(st2, "%s", msg));
  }
  for (int64_t c = 0; c < nchunks; c++)
    for (int i = 0; i < n; i++)
      data_cap[(int64_t)i * nchunks + c] =
          (int64_t)tsr__tablechunk_col(chunks[c], (uint32_t)i)->data_cap;
  {
    void **owned = chunks;
    chunks = NULL; /* gb_mem_frame takes them, also when it fails */
    status = gb_mem_frame(ctx, n, names, types, dicts, nchunks, owned, bytes, rows, data_cap, out);
    tsr_free(ctx, owned);
  }
fail:
  if (chunks != NULL)
    for (int64_t c = 0; c < nchunks; c++)
      tsr_free(ctx, chunks[c]);
  tsr_free(ctx, chunks);
  if (dicts != NULL)
    for (int i = 0; i < n; i++)
      tsr__dict_release(&dicts[i]);
  tsr_free(ctx, dicts);
  tsr_free(ctx, bytes);
  tsr_free(ctx, rows);
  tsr_free(ctx, data_cap);
  tsr_free(ctx, names);
  tsr_free(ctx, types);
  tsr__h5_rtable_close(&t);
  return status;
}
