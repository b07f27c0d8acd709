/* csv_write.c — tsr_frame_write_csv: a frame as CSV text, formatted in
 * parallel and written atomically.
 *
 * The graph: the frame's columns are lowered as for a compute; then, per
 * row chunk, one *format* task per run of at most FORMAT_ROWS rows turns
 * its rows into text (or, for a .gz target, into one gzip member: a
 * concatenation of members is a valid gzip file), and one *write* task per
 * format task appends that text to the temporary file with pwrite(2).  The
 * write tasks form a chain (each reads the previous one's end offset), so
 * the text lands in row order while the formatting runs on every thread;
 * a format task's output is freed as soon as its write is done, so memory
 * stays bounded.  The output of a format task must be sized when the task
 * is added: it is bounded by the column types' widest text times the row
 * capacity (strings: every byte a doubled quote, plus the quotes), and the
 * task records the bytes it really made.  A write task's inputs are the
 * previous write, then its text: the runtime's priority order (depth-first
 * from the last write, inputs in order) then makes, formats and writes the
 * chunks front to back.  (With the text first it went back to front, and
 * no text could be written before the last chunk was formatted: all of it
 * waited, in memory or spilled.)
 *
 * Under MPI every rank writes the text it formatted: rank 0 creates the
 * temporary file and broadcasts its name, every rank opens it, and each
 * format task and its write task are set to run where the row chunk is
 * made (unset, a write would run where its first input, the previous
 * write, runs).  The chain of write tasks is the prefix sum of the byte
 * counts: only its 8-byte offsets travel between ranks, never the text.
 * Rank 0 writes the header and, once every rank has closed the file,
 * publishes it.  The file is byte-identical for any number of threads and
 * ranks (the ranks' files system must be shared, as for parallel HDF5).
 *
 * Text: RFC 4180 quoting with '"' (fields holding the delimiter, a quote,
 * CR or LF, or starting or ending with a space, are quoted, quotes
 * doubled), nulls as empty fields, empty strings as "", bools true/false,
 * integers in decimal, floats in the shortest text that reads back to the
 * same value, written as DuckDB and Python's repr write them (fixed
 * notation for decimal exponents -4..15 with a ".0" for whole numbers,
 * else 1.5e+20 / 1e-05; nan, inf, -inf), dates YYYY-MM-DD, timestamps
 * "YYYY-MM-DD HH:MM:SS" with the fraction's significant digits (as DuckDB
 * writes them), dictionary columns as their strings.  Lines end in LF. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>

#include <tessera/dist.h>

#include "core/atomic_file.h"
#include "dist/dist.h"
#include "frame_impl.h"
#include "sched/taskgraph_impl.h" /* owners */
#include "value_text.h"

enum { FORMAT_ROWS = 1 << 16 };

/* ---- fields ------------------------------------------------------------------------------ */

/* Whether a string needs quotes as a field. */
static inline bool needs_quotes(const char *s, size_t n, char delim) {
  if (n == 0)
    return true; /* "" (an empty field is a null) */
  if (s[0] == ' ' || s[n - 1] == ' ')
    return true;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == delim || c == '"' || c == '\n' || c == '\r')
      return true;
  }
  return false;
}

size_t tsr__fmt_field(char *out, const char *s, size_t n, char delim) {
  if (!needs_quotes(s, n, delim)) {
    memcpy(out, s, n);
    return n;
  }
  char *p = out;
  *p++ = '"';
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '"')
      *p++ = '"';
    *p++ = s[i];
  }
  *p++ = '"';
  return (size_t)(p - out);
}

/* ---- the writer ------------------------------------------------------------------------- */

typedef struct wcol {
  tsr__colref ref;
  tsr_type type;
  /* Dictionary columns: each entry's field text (quoted as needed). */
  int64_t dict_size;
  int64_t *dict_off; /* dict_size + 1, into dict_text */
  char *dict_text;
  size_t dict_max; /* the longest entry's text */
} wcol;

typedef struct writer {
  tsr_ctx *ctx;
  int ncols;
  wcol *cols;
  char delim;
  bool gz;
  int fd; /* the temporary file on the writing rank, else -1 */
  const char *path;
  uint64_t header_bytes;
  int nthreads;
  struct libdeflate_compressor **comp; /* per thread (gz) */
  char **scratch;                      /* per thread (gz): text before compression */
  size_t *scratch_bytes;
  _Atomic int write_errno;
} writer;

typedef struct format_params {
  int64_t chunk;
  int64_t row0;
  int64_t rows_max;
  uint64_t text_bound;
} format_params;

/* Formats rows [row0, row0 + rows_max) of the chunk (fewer when the chunk
 * holds fewer) into out; returns the bytes. */
static size_t format_rows(const writer *w, const tsr_kernel_call *call, const format_params *fp,
                          char *out) {
  tsr__colread rd[64];
  tsr__colread *r = rd;
  /* ncols <= 64 on the stack; more through a VLA-free heap path below. */
  tsr__colread *heap = NULL;
  if (w->ncols > 64) {
    heap = malloc((size_t)w->ncols * sizeof *heap);
    if (heap == NULL)
      return (size_t)-1;
    r = heap;
  }
  int64_t rows = -1;
  for (int i = 0; i < w->ncols; i++) {
    tsr__colread_get(&w->cols[i].ref, call, &r[i]);
    if (rows < 0)
      rows = r[i].rows;
  }
  if (rows < 0)
    rows = 0;
  int64_t end = fp->row0 + fp->rows_max < rows ? fp->row0 + fp->rows_max : rows;
  char *p = out;
  char delim = w->delim;
  for (int64_t row = fp->row0; row < end; row++) {
    for (int i = 0; i < w->ncols; i++) {
      const wcol *c = &w->cols[i];
      const tsr__colread *cr = &r[i];
      if (i > 0)
        *p++ = delim;
      if (cr->validity != NULL && !tsr__bit_get(cr->validity, row))
        continue;
      const void *v = cr->values;
      switch (c->type.id) {
      case TSR_COL_BOOL:
        if (((const uint8_t *)v)[row]) {
          memcpy(p, "true", 4);
          p += 4;
        } else {
          memcpy(p, "false", 5);
          p += 5;
        }
        break;
      case TSR_COL_INT8:
        p += tsr__fmt_i64(p, ((const int8_t *)v)[row]);
        break;
      case TSR_COL_INT16:
        p += tsr__fmt_i64(p, ((const int16_t *)v)[row]);
        break;
      case TSR_COL_INT32:
        p += tsr__fmt_i64(p, ((const int32_t *)v)[row]);
        break;
      case TSR_COL_INT64:
        p += tsr__fmt_i64(p, ((const int64_t *)v)[row]);
        break;
      case TSR_COL_UINT8:
        p += tsr__fmt_u64(p, ((const uint8_t *)v)[row]);
        break;
      case TSR_COL_UINT16:
        p += tsr__fmt_u64(p, ((const uint16_t *)v)[row]);
        break;
      case TSR_COL_UINT32:
        p += tsr__fmt_u64(p, ((const uint32_t *)v)[row]);
        break;
      case TSR_COL_UINT64:
        p += tsr__fmt_u64(p, ((const uint64_t *)v)[row]);
        break;
      case TSR_COL_FLOAT32:
        p += tsr__fmt_f32(p, ((const float *)v)[row]);
        break;
      case TSR_COL_FLOAT64:
        p += tsr__fmt_f64(p, ((const double *)v)[row]);
        break;
      case TSR_COL_DATE:
        p += tsr__fmt_date(p, ((const int32_t *)v)[row]);
        break;
      case TSR_COL_TIMESTAMP:
        p += tsr__fmt_timestamp(p, ((const int64_t *)v)[row], c->type.unit);
        break;
      case TSR_COL_STRING: {
        const tsr_string_view *sv = (const tsr_string_view *)v + row;
        p += tsr__fmt_field(p, tsr_string_view_data(sv, cr->data), sv->length, delim);
        break;
      }
      case TSR_COL_DICT: {
        int32_t code = ((const int32_t *)v)[row];
        size_t n = (size_t)(c->dict_off[code + 1] - c->dict_off[code]);
        memcpy(p, c->dict_text + c->dict_off[code], n);
        p += n;
        break;
      }
      default:
        break;
      }
    }
    *p++ = '\n';
  }
  free(heap);
  return (size_t)(p - out);
}

/* Output: a uint64 byte count, then that many bytes (text or a gzip member). */
static tsr_status format_kernel(const tsr_kernel_call *call) {
  writer *w = call->user;
  format_params fp;
  memcpy(&fp, call->params, sizeof fp);
  char *out = (char *)call->output + 8;
  uint64_t n;
  if (!w->gz) {
    size_t b = format_rows(w, call, &fp, out);
    if (b == (size_t)-1)
      return tsr_error_set(TSR_ENOMEM, "tsr_frame_write_csv: out of memory");
    n = b;
  } else {
    int t = call->thread;
    if (t < 0 || t >= w->nthreads)
      return tsr_error_set(TSR_EINTERNAL, "tsr_frame_write_csv: worker %d of %d", t, w->nthreads);
    if (w->comp[t] == NULL) {
      w->comp[t] = libdeflate_alloc_compressor(6);
      if (w->comp[t] == NULL)
        return tsr_error_set(TSR_ENOMEM, "tsr_frame_write_csv: out of memory (compressor)");
    }
    if (w->scratch_bytes[t] < fp.text_bound) {
      free(w->scratch[t]);
      w->scratch[t] = malloc(fp.text_bound);
      w->scratch_bytes[t] = w->scratch[t] ? fp.text_bound : 0;
      if (w->scratch[t] == NULL)
        return tsr_error_set(TSR_ENOMEM, "tsr_frame_write_csv: out of memory (%llu bytes of text)",
                             (unsigned long long)fp.text_bound);
    }
    size_t b = format_rows(w, call, &fp, w->scratch[t]);
    if (b == (size_t)-1)
      return tsr_error_set(TSR_ENOMEM, "tsr_frame_write_csv: out of memory");
    n = 0;
    if (b > 0) {
      n = libdeflate_gzip_compress(w->comp[t], w->scratch[t], b, out, call->output_bytes - 8);
      if (n == 0)
        return tsr_error_set(TSR_EINTERNAL, "tsr_frame_write_csv: compression overflowed");
    }
  }
  memcpy(call->output, &n, 8);
  return TSR_OK;
}

/* 0 or an errno value (EIO when the device takes no byte). */
static int pwrite_all(int fd, const char *p, size_t n, uint64_t off) {
  int e = tsr__pwrite_full(fd, p, n, off);
  return e < 0 ? EIO : e;
}

/* Under MPI: the rank where a format task reading in[0..n) runs, as the
 * runtime places a task without an owner (where its first input with a
 * rank of its own runs, else rank 0); -1 when that input's rank is left to
 * the run. */
static int format_owner(const tsr_taskgraph *g, const uint32_t *in, uint32_t n) {
  for (uint32_t j = 0; j < n; j++) {
    int32_t o = g->tasks[in[j]].owner;
    if (o != TSR_OWNER_ALL && o != TSR__OWNER_READERS)
      return o == TSR__OWNER_UNSET ? -1 : o;
  }
  return 0;
}

/* Inputs: the previous write task (but for the first), then the format
 * task.  Output: the file offset after this text. */
static tsr_status write_kernel(const tsr_kernel_call *call) {
  writer *w = call->user;
  uint64_t off = w->header_bytes, n;
  const char *text = call->inputs[call->n_inputs - 1];
  if (call->n_inputs > 1)
    memcpy(&off, call->inputs[0], 8);
  memcpy(&n, text, 8);
  if (n > 0 && w->fd >= 0) {
    int err = pwrite_all(w->fd, text + 8, (size_t)n, off);
    if (err != 0) {
      int expected = 0;
      atomic_compare_exchange_strong(&w->write_errno, &expected, err);
      return tsr_error_set(TSR_EIO, "tsr_frame_write_csv: cannot write '%s': %s", w->path,
                           strerror(err));
    }
  }
  off += n;
  memcpy(call->output, &off, 8);
  return TSR_OK;
}

static void writer_free(writer *w) {
  if (w == NULL)
    return;
  if (w->cols != NULL)
    for (int i = 0; i < w->ncols; i++) {
      tsr_free(w->ctx, w->cols[i].dict_off);
      tsr_free(w->ctx, w->cols[i].dict_text);
    }
  tsr_free(w->ctx, w->cols);
  if (w->comp != NULL)
    for (int t = 0; t < w->nthreads; t++)
      if (w->comp[t] != NULL)
        libdeflate_free_compressor(w->comp[t]);
  if (w->scratch != NULL)
    for (int t = 0; t < w->nthreads; t++)
      free(w->scratch[t]);
  free(w->comp);
  free(w->scratch);
  free(w->scratch_bytes);
  tsr_free(w->ctx, w);
}

/* The dictionary's entries as field text. */
static tsr_status dict_texts(writer *w, wcol *c, const tsr__dict *d) {
  size_t total = 0;
  for (int64_t k = 0; k < d->size; k++)
    total += 2 * (size_t)(d->offsets[k + 1] - d->offsets[k]) + 2;
  TSR_TRY(tsr__alloc_array(w->ctx, (size_t)d->size + 1, sizeof *c->dict_off, "dictionary text",
                           (void **)&c->dict_off));
  TSR_TRY(tsr_alloc(w->ctx, total + 1, (void **)&c->dict_text));
  c->dict_size = d->size;
  int64_t off = 0;
  c->dict_max = 0;
  for (int64_t k = 0; k < d->size; k++) {
    size_t len;
    const char *s = tsr__dict_str(d, k, &len);
    c->dict_off[k] = off;
    size_t n = tsr__fmt_field(c->dict_text + off, s, len, w->delim);
    off += (int64_t)n;
    if (n > c->dict_max)
      c->dict_max = n;
  }
  c->dict_off[d->size] = off;
  return TSR_OK;
}

static bool has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The header row's text. */
static tsr_status header_text(const tsr_frame *f, char delim, char **out, size_t *bytes) {
  size_t total = 1;
  for (int i = 0; i < f->ncols; i++)
    total += 2 * strlen(f->cols[i].name) + 3;
  char *t;
  TSR_TRY(tsr_alloc(f->ctx, total, (void **)&t));
  size_t n = 0;
  for (int i = 0; i < f->ncols; i++) {
    if (i > 0)
      t[n++] = delim;
    n += tsr__fmt_field(t + n, f->cols[i].name, strlen(f->cols[i].name), delim);
  }
  t[n++] = '\n';
  *out = t;
  *bytes = n;
  return TSR_OK;
}

/* Collective, on several ranks: rank 0 made the temporary file `tmp`; the
 * others open it for writing (into *fd).  Every rank gets the same status. */
static tsr_status open_on_every_rank(tsr_ctx *ctx, const char *path, const char *tmp, int *fd) {
  tsr__dist *dist = tsr__dist_get(ctx);
  if (dist == NULL)
    return TSR_EMPI;
  char name[4096] = "";
  tsr_status status = TSR_OK;
  if (tmp != NULL) {
    if (strlen(tmp) >= sizeof name)
      status = tsr_error_set(TSR_EINVAL, "tsr_frame_write_csv: the path '%s' is too long", path);
    else
      snprintf(name, sizeof name, "%s", tmp);
  }
  TSR_TRY(tsr__dist_agree(dist, status));
  TSR_TRY(tsr__dist_bcast(dist, name, sizeof name, 0));
  if (tmp == NULL) {
    *fd = open(name, O_WRONLY | O_CLOEXEC);
    if (*fd < 0)
      status = tsr_error_set(TSR_EIO,
                             "tsr_frame_write_csv: cannot write '%s': rank %d cannot open the "
                             "temporary file '%s' that rank 0 made (%s); every rank must see the "
                             "same file system",
                             path, tsr__dist_rank(dist), name, strerror(errno));
  }
  return tsr__dist_agree(dist, status);
}

tsr_status tsr_frame_write_csv(tsr_frame *f, const char *path, char delimiter, bool overwrite,
                               const tsr_compute_options *options) {
  static const char fn[] = "tsr_frame_write_csv";
  TSR_CHECK(f != NULL && path != NULL, TSR_EINVAL, "%s: frame or path is NULL", fn);
  if (delimiter == 0)
    delimiter = ',';
  TSR_CHECK(delimiter != '"' && delimiter != '\n' && delimiter != '\r', TSR_EINVAL,
            "%s: the delimiter cannot be a quote or a line break", fn);
  tsr_ctx *ctx = f->ctx;
  bool root = tsr_ctx_rank(ctx) == 0;
  tsr_status status = TSR_OK;
  writer *w = NULL;
  tsr_taskgraph *g = NULL;
  tsr__lowering *l = NULL;
  tsr__expr **nodes = NULL;
  int *colidx = NULL;
  tsr__colref *refs = NULL;
  char *tmp = NULL, *header = NULL, *gzheader = NULL;
  int fd = -1;
  const uint32_t **ids = NULL;
  struct libdeflate_compressor *bound_c = NULL;
  tsr__target base;
  memset(&base, 0, sizeof base);
  int64_t nchunks = f->rows->nchunks;

  /* The target: checked and the temporary file made on the writing rank. */
  if (root) {
    tsr__target_probe(path, &base);
    if (base.exists && S_ISDIR(base.mode))
      status = tsr_error_set(TSR_EIO, "%s: cannot write '%s': it is a directory", fn, path);
    else if (base.exists && !overwrite)
      status = tsr_error_set(TSR_EIO, "%s: cannot write '%s': the file exists", fn, path);
    else if (base.exists && !S_ISREG(base.mode))
      status = tsr_error_set(TSR_EIO, "%s: cannot write '%s': it is not a regular file", fn, path);
    if (status == TSR_OK) {
      char *t = NULL;
      int err = tsr__tmp_create(path, 0666, &t, &fd);
      if (err != 0)
        status = tsr_error_set(TSR_EIO, "%s: cannot write '%s': %s", fn, path, strerror(err));
      else {
        status = tsr__strdup(ctx, t, &tmp);
        if (status != TSR_OK) {
          close(fd);
          fd = -1;
          tsr__tmp_remove(t);
        }
        free(t);
      }
    }
  }
  TSR__TRY_GOTO(status, tsr_ctx_agree(ctx, status));
  if (tsr_ctx_nranks(ctx) > 1)
    TSR__TRY_GOTO(status, open_on_every_rank(ctx, path, root ? tmp : NULL, &fd));

  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *w, (void **)&w));
  w->ctx = ctx;
  w->fd = fd;
  w->path = path;
  w->delim = delimiter;
  w->gz = has_suffix(path, ".gz");
  w->ncols = f->ncols;
  atomic_init(&w->write_errno, 0);
  int ncols = f->ncols;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *w->cols, (void **)&w->cols));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *nodes, (void **)&nodes));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *colidx, (void **)&colidx));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)ncols + 1, sizeof *refs, (void **)&refs));
  for (int i = 0; i < ncols; i++)
    colidx[i] = i;
  uint32_t n_nodes = 0;
  tsr__frame_colrefs(f, ncols, colidx, nodes, &n_nodes, refs);
  for (int i = 0; i < ncols; i++) {
    w->cols[i].ref = refs[i];
    w->cols[i].type = f->cols[i].type;
    if (f->cols[i].type.id == TSR_COL_DICT)
      TSR__TRY_GOTO(status, dict_texts(w, &w->cols[i], f->cols[i].dict));
  }
  if (w->gz) {
    w->nthreads = tsr_ctx_threads(ctx);
    if (w->nthreads < 1)
      w->nthreads = 1;
    w->comp = calloc((size_t)w->nthreads, sizeof *w->comp);
    w->scratch = calloc((size_t)w->nthreads, sizeof *w->scratch);
    w->scratch_bytes = calloc((size_t)w->nthreads, sizeof *w->scratch_bytes);
    TSR__CHECK_GOTO(status, w->comp && w->scratch && w->scratch_bytes, TSR_ENOMEM,
                    "%s: out of memory", fn);
  }

  /* The header, written now (a gzip member of its own for .gz). */
  size_t hbytes;
  TSR__TRY_GOTO(status, header_text(f, delimiter, &header, &hbytes));
  { /* every rank knows where the rows start; rank 0 writes the header */
    const char *hp = header;
    size_t hn = hbytes;
    if (w->gz) {
      struct libdeflate_compressor *c = libdeflate_alloc_compressor(6);
      TSR__CHECK_GOTO(status, c != NULL, TSR_ENOMEM, "%s: out of memory (compressor)", fn);
      size_t bound = libdeflate_gzip_compress_bound(c, hbytes);
      status = tsr_alloc(ctx, bound, (void **)&gzheader);
      if (status == TSR_OK)
        hn = libdeflate_gzip_compress(c, header, hbytes, gzheader, bound);
      libdeflate_free_compressor(c);
      TSR__TRY_GOTO(status, status);
      hp = gzheader;
    }
    int err = root ? pwrite_all(fd, hp, hn, 0) : 0;
    if (err != 0)
      status = tsr_error_set(TSR_EIO, "%s: cannot write '%s': %s", fn, path, strerror(err));
    w->header_bytes = hn;
  }
  TSR__TRY_GOTO(status, tsr_ctx_agree(ctx, status));

  /* The graph. */
  TSR__TRY_GOTO(status, tsr_taskgraph_create(ctx, &g));
  TSR__TRY_GOTO(status, tsr__lowering_create(ctx, g, &l));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, n_nodes + 1, sizeof *ids, (void **)&ids));
  for (uint32_t j = 0; j < n_nodes && status == TSR_OK; j++)
    status = tsr__lowering_lower(l, nodes[j], &ids[j]);
  uint32_t fk = 0, wk = 0;
  if (status == TSR_OK)
    status = tsr_taskgraph_add_kernel(g, "csv_format", format_kernel, w, &fk);
  if (status == TSR_OK)
    status = tsr_taskgraph_add_kernel(g, "csv_write", write_kernel, w, &wk);
  if (status == TSR_OK && w->gz) {
    bound_c = libdeflate_alloc_compressor(6);
    if (bound_c == NULL)
      status = tsr_error_set(TSR_ENOMEM, "%s: out of memory (compressor)", fn);
  }
  uint32_t prev = UINT32_MAX;
  for (int64_t c = 0; c < nchunks && status == TSR_OK; c++) {
    int64_t cap = f->rows->cap[c];
    /* Per row of this chunk: the widest text (strings' long bytes apart). */
    uint64_t per_row = (uint64_t)ncols; /* delimiters and the line end */
    uint64_t long_bytes = 0;
    for (int i = 0; i < ncols; i++) {
      const wcol *wc = &w->cols[i];
      per_row += wc->type.id == TSR_COL_DICT ? wc->dict_max
                                             : (wc->type.id == TSR_COL_STRING
                                                    ? 26 /* an inline string of 12 quotes, quoted */
                                                    : tsr__vt_max_len(wc->type));
      if (wc->type.id == TSR_COL_STRING)
        long_bytes += 2 * (uint64_t)tsr__col_data_cap(f, i, c);
    }
    uint32_t in[256];
    TSR__CHECK_GOTO(status, n_nodes <= 256, TSR_EINVAL,
                    "%s: the frame's columns come from %u nodes; at most 256 are supported", fn,
                    n_nodes);
    for (uint32_t j = 0; j < n_nodes; j++)
      in[j] = ids[j][c];
    for (int64_t r0 = 0; r0 < cap; r0 += FORMAT_ROWS) {
      int64_t rows = cap - r0 < FORMAT_ROWS ? cap - r0 : FORMAT_ROWS;
      format_params fp = {c, r0, rows, 0};
      /* Long strings may all sit in one run of rows: each run is bounded
       * by the chunk's whole string bytes. */
      uint64_t text = per_row * (uint64_t)rows + long_bytes + 1;
      fp.text_bound = text;
      uint64_t outb = text;
      if (w->gz)
        outb = libdeflate_gzip_compress_bound(bound_c, (size_t)text);
      uint32_t ft, wt;
      TSR__TRY_GOTO(status, tsr_taskgraph_add_task(g, fk, in, n_nodes, &fp, sizeof fp,
                                                   (size_t)outb + 8, &ft));
      uint32_t win[2] = {prev, ft};
      bool first = prev == UINT32_MAX;
      TSR__TRY_GOTO(status,
                    tsr_taskgraph_add_task(g, wk, win + first, first ? 1 : 2, NULL, 0, 8, &wt));
      int owner = tsr_ctx_nranks(ctx) > 1 ? format_owner(g, in, n_nodes) : -1;
      if (owner >= 0) {
        TSR__TRY_GOTO(status, tsr_taskgraph_set_owner(g, ft, owner));
        TSR__TRY_GOTO(status, tsr_taskgraph_set_owner(g, wt, owner));
      }
      prev = wt;
    }
  }
  if (status == TSR_OK && prev != UINT32_MAX) {
    TSR__TRY_GOTO(status, tsr_taskgraph_keep(g, prev));
    TSR__TRY_GOTO(status, tsr_taskgraph_cull(g, &prev, 1));
  }
  if (status == TSR_OK && options != NULL && options->dot_path != NULL)
    status = tsr_taskgraph_write_dot(g, options->dot_path);
  if (status != TSR_OK) {
    status = tsr_ctx_agree(ctx, status);
    goto fail;
  }
  if (prev != UINT32_MAX) {
    TSR__TRY_GOTO(status, tsr_taskgraph_run_ex(g, options ? &options->run : NULL));
    if (options != NULL && options->on_stats != NULL)
      options->on_stats(tsr_taskgraph_stats(g), options->stats_user);
  }

  /* Every rank closes its descriptor; then rank 0 publishes. */
  {
    int err = close(fd) != 0 ? errno : 0;
    fd = -1;
    w->fd = -1;
    if (err != 0)
      status = tsr_error_set(TSR_EIO, "%s: cannot write '%s': %s", fn, path, strerror(err));
  }
  TSR__TRY_GOTO(status, tsr_ctx_agree(ctx, status));
  if (root) {
    {
      int err = tsr__publish(tmp, path, overwrite ? TSR__PUBLISH_REPLACE : TSR__PUBLISH_NEW, &base);
      tsr_free(ctx, tmp);
      tmp = NULL;
      if (err == EEXIST)
        status = tsr_error_set(TSR_EIO,
                               "%s: cannot write '%s': the file exists (created by another "
                               "process while this one wrote it)",
                               fn, path);
      else if (err != 0)
        status = tsr_error_set(TSR_EIO, "%s: cannot write '%s': %s", fn, path, strerror(err));
    }
  }
  status = tsr_ctx_agree(ctx, status);
fail:
  if (bound_c != NULL)
    libdeflate_free_compressor(bound_c);
  tsr_free(ctx, (void *)ids);
  if (fd >= 0)
    close(fd);
  if (tmp != NULL)
    tsr__tmp_remove(tmp);
  tsr_free(ctx, tmp);
  tsr__lowering_destroy(&l);
  tsr_taskgraph_destroy(&g);
  writer_free(w);
  tsr_free(ctx, nodes);
  tsr_free(ctx, colidx);
  tsr_free(ctx, refs);
  tsr_free(ctx, header);
  tsr_free(ctx, gzheader);
  return status;
}
