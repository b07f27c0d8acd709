/* hdf5_table.c — HDF5 table groups and compound datasets as table chunks
 * (hdf5_table.h; the layout is documented in docs/frames.md, "HDF5
 * tables").
 *
 * A table group carries the attributes tessera_format = "table",
 * tessera_format_version = 1 and columns (the ordered names, variable-length
 * UTF-8 strings).  Each column is the 1-D dataset of its name; what it
 * needs besides is named by attributes on it, so no name is reserved:
 * `validity` (a bool dataset, TRUE = valid), `dictionary` (the strings
 * its int32 codes index), `offsets` (strings in the offsets layout: the
 * column dataset holds the bytes, the named int64 dataset n + 1 offsets)
 * and `unit` ("days" for dates, "s", "ms", "us", "ns" for timestamps).
 *
 * Numeric datasets (values, codes, validity, offsets) go through hdf5.c's
 * datasets, so whole chunks are (de)compressed outside the HDF5 lock on
 * the calling thread; variable-length strings and compound records are
 * converted by HDF5 itself, under the lock.  Everything read is checked
 * before it reaches a frame: codes index the dictionary, bools are 0 or 1,
 * strings are UTF-8, columns have one length. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "core/colchunk.h"
#include "csv_impl.h"
#include "hdf5_table.h"

#define WHY 512

static const char *const unit_names[4] = {"s", "ms", "us", "ns"};

/* ---- attributes (under the lock) ----------------------------------------------------- */

static hid_t vlen_str_type(void) {
  hid_t t = H5Tcopy(H5T_C_S1);
  if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
    H5Tclose(t);
    return -1;
  }
  return t;
}

/* A scalar variable-length UTF-8 string attribute on obj. */
static bool attr_put_str(hid_t obj, const char *name, const char *value) {
  hid_t t = vlen_str_type(), s = H5Screate(H5S_SCALAR), a = -1;
  bool ok = t >= 0 && s >= 0 &&
            (a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
            H5Awrite(a, t, &value) >= 0;
  if (a >= 0)
    H5Aclose(a);
  if (s >= 0)
    H5Sclose(s);
  if (t >= 0)
    H5Tclose(t);
  return ok;
}

static bool attr_put_i32(hid_t obj, const char *name, int32_t value) {
  hid_t s = H5Screate(H5S_SCALAR), a = -1;
  bool ok = s >= 0 &&
            (a = H5Acreate2(obj, name, H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
            H5Awrite(a, H5T_NATIVE_INT32, &value) >= 0;
  if (a >= 0)
    H5Aclose(a);
  if (s >= 0)
    H5Sclose(s);
  return ok;
}

/* A string attribute (scalar, fixed or variable length) of obj as a new
 * malloc'd string, or NULL when absent or not a string. */
static char *attr_get_str(hid_t obj, const char *name) {
  if (H5Aexists(obj, name) <= 0)
    return NULL;
  char *out = NULL;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t ft = a >= 0 ? H5Aget_type(a) : -1;
  hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
  if (ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING &&
      H5Sget_simple_extent_npoints(sp) == 1) {
    if (H5Tis_variable_str(ft) > 0) {
      hid_t mt = vlen_str_type();
      char *v = NULL;
      if (mt >= 0 && H5Aread(a, mt, &v) >= 0 && v != NULL) {
        out = strdup(v);
        H5free_memory(v);
      }
      if (mt >= 0)
        H5Tclose(mt);
    } else {
      size_t n = H5Tget_size(ft);
      hid_t mt = H5Tcopy(ft);
      char *v = n < (1u << 20) ? calloc(1, n + 1) : NULL;
      if (v != NULL && mt >= 0 && H5Aread(a, mt, v) >= 0)
        out = v;
      else
        free(v);
      if (mt >= 0)
        H5Tclose(mt);
    }
  }
  if (sp >= 0)
    H5Sclose(sp);
  if (ft >= 0)
    H5Tclose(ft);
  if (a >= 0)
    H5Aclose(a);
  H5Eclear2(H5E_DEFAULT);
  return out;
}

/* An integer scalar attribute, or `dflt` when absent. */
static int64_t attr_get_int(hid_t obj, const char *name, int64_t dflt) {
  if (H5Aexists(obj, name) <= 0)
    return dflt;
  int64_t v = dflt;
  hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t ft = a >= 0 ? H5Aget_type(a) : -1;
  hid_t sp = a >= 0 ? H5Aget_space(a) : -1;
  if (ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_INTEGER &&
      H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, H5T_NATIVE_INT64, &v) < 0)
    v = dflt;
  if (sp >= 0)
    H5Sclose(sp);
  if (ft >= 0)
    H5Tclose(ft);
  if (a >= 0)
    H5Aclose(a);
  H5Eclear2(H5E_DEFAULT);
  return v;
}

/* A 1-D string array (variable or fixed length) read from an attribute
 * (is_attr) or a dataset, as malloc'd strings with lengths; *n its size;
 * false (why set) when it is not one. */
static bool read_str_list(hid_t obj, bool is_attr, int64_t max, char ***strs, size_t **lens,
                          int64_t *n, char *why, size_t why_size) {
  hid_t ft = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
  hid_t sp = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
  bool ok = false;
  *strs = NULL;
  *lens = NULL;
  *n = 0;
  if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_STRING) {
    snprintf(why, why_size, "it is not an array of strings");
    goto done;
  }
  int nd = H5Sget_simple_extent_ndims(sp);
  hssize_t np = H5Sget_simple_extent_npoints(sp);
  if (nd > 1 || np < 0 || np > max) {
    snprintf(why, why_size, "it is not a 1-D array of at most %lld strings", (long long)max);
    goto done;
  }
  char **s = calloc((size_t)np + 1, sizeof *s);
  size_t *l = calloc((size_t)np + 1, sizeof *l);
  if (s == NULL || l == NULL) {
    free(s);
    free(l);
    snprintf(why, why_size, "out of memory");
    goto done;
  }
  *strs = s;
  *lens = l;
  *n = np;
  if (np == 0) {
    ok = true;
    goto done;
  }
  if (H5Tis_variable_str(ft) > 0) {
    hid_t mt = vlen_str_type();
    char **v = calloc((size_t)np, sizeof *v);
    herr_t rc = -1;
    if (mt >= 0 && v != NULL)
      rc = is_attr ? H5Aread(obj, mt, v) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    ok = rc >= 0;
    for (hssize_t i = 0; ok && i < np; i++) {
      const char *x = v[i] != NULL ? v[i] : "";
      l[i] = strlen(x);
      s[i] = strdup(x);
      ok = s[i] != NULL;
    }
    if (rc >= 0)
      H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
    free(v);
    if (mt >= 0)
      H5Tclose(mt);
  } else {
    size_t w = H5Tget_size(ft);
    char *buf = w > 0 && w < (1u << 20) ? malloc((size_t)np * w) : NULL;
    hid_t mt = H5Tcopy(ft);
    herr_t rc = -1;
    if (buf != NULL && mt >= 0)
      rc = is_attr ? H5Aread(obj, mt, buf) : H5Dread(obj, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    ok = rc >= 0;
    for (hssize_t i = 0; ok && i < np; i++) {
      const char *x = buf + (size_t)i * w;
      size_t k = 0;
      while (k < w && x[k] != '\0')
        k++;
      s[i] = malloc(k + 1);
      ok = s[i] != NULL;
      if (ok) {
        memcpy(s[i], x, k);
        s[i][k] = '\0';
        l[i] = k;
      }
    }
    free(buf);
    if (mt >= 0)
      H5Tclose(mt);
  }
  if (!ok)
    snprintf(why, why_size, "its strings cannot be read");
done:
  if (sp >= 0)
    H5Sclose(sp);
  if (ft >= 0)
    H5Tclose(ft);
  H5Eclear2(H5E_DEFAULT);
  return ok;
}

static void free_str_list(char **s, size_t *l, int64_t n) {
  if (s != NULL)
    for (int64_t i = 0; i < n; i++)
      free(s[i]);
  free(s);
  free(l);
}

/* ---- writing ---------------------------------------------------------------------------- */

typedef struct wcol {
  tsr_type type;
  tsr__h5_dataset *values; /* numeric values or codes; offsets layout: the bytes */
  tsr__h5_dataset *valid;
  tsr__h5_dataset *offsets;
  hid_t vlen; /* variable-length strings: our own dataset */
  char *name;
} wcol;

struct tsr__h5_wtable {
  tsr_ctx *ctx;
  tsr__h5_file *f;
  char *path_group;
  int n;
  wcol *cols;
  int64_t nrows, chunk_rows;
  bool string_offsets;
  /* ordered writes (seq >= 0): the unit whose turn it is, and whether a
   * unit failed (the others then give up waiting) */
  pthread_mutex_t turn_mu;
  pthread_cond_t turn_cv;
  int64_t turn;
  bool abandoned;
};

int64_t tsr__h5_wtable_chunk_rows(const tsr__h5_wtable *t) { return t->chunk_rows; }

/* The dtype of a column's values in the file (tsr_type_dtype without the
 * frame layer: io sits below it). */
static tsr_dtype col_dtype(tsr_type t) {
  static const tsr_dtype m[TSR_NUM_COLTYPES] = {
      TSR_BOOL,   TSR_INT8,    TSR_INT16,   TSR_INT32,         TSR_INT64, TSR_UINT8,
      TSR_UINT16, TSR_UINT32,  TSR_UINT64,  TSR_FLOAT32,       TSR_FLOAT64,
      TSR_NUM_DTYPES /* string */, TSR_INT32 /* dict codes */, TSR_INT32 /* date */,
      TSR_INT64 /* timestamp */};
  return (unsigned)t.id < TSR_NUM_COLTYPES ? m[t.id] : TSR_NUM_DTYPES;
}

/* Bytes per value in a table chunk (tsr_type_width). */
static size_t col_width(tsr_type t) {
  return t.id == TSR_COL_STRING ? sizeof(tsr_string_view) : tsr_dtype_size(col_dtype(t));
}

/* "group/name" (group "/" gives "/name"). */
static tsr_status join_name(tsr_ctx *ctx, const char *group, const char *name, const char *suffix,
                            char **out) {
  size_t g = strlen(group), n = strlen(name), s = suffix ? strlen(suffix) : 0;
  TSR_TRY(tsr_alloc(ctx, g + n + s + 2, (void **)out));
  bool slash = g > 0 && group[g - 1] == '/';
  snprintf(*out, g + n + s + 2, "%s%s%s%s", group, slash ? "" : "/", name, suffix ? suffix : "");
  return TSR_OK;
}

/* A variable-length string dataset of n rows (chunked by chunk rows and
 * deflated at level when n > 0), under the lock. */
static hid_t create_vlen(hid_t file, const char *name, int64_t n, int64_t chunk, int level) {
  hid_t t = vlen_str_type();
  hsize_t dims[1] = {(hsize_t)n}, cd[1] = {(hsize_t)(chunk < n ? chunk : n)};
  hid_t s = H5Screate_simple(1, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
  bool ok = t >= 0 && s >= 0 && dcpl >= 0;
  if (ok) /* no modification time: the file's bytes depend on its content alone */
    ok = H5Pset_obj_track_times(dcpl, 0) >= 0;
  if (ok && n > 0) {
    ok = H5Pset_chunk(dcpl, 1, cd) >= 0;
    if (ok && level > 0)
      ok = H5Pset_deflate(dcpl, (unsigned)level) >= 0;
  }
  if (ok)
    d = H5Dcreate2(file, name, t, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  if (s >= 0)
    H5Sclose(s);
  if (t >= 0)
    H5Tclose(t);
  return d;
}

/* Writes strings rows [row0, row0 + rows) of a variable-length string
 * dataset (under the lock).  ptrs: NUL-terminated strings. */
static herr_t write_vlen(hid_t d, int64_t row0, int64_t rows, const char *const *ptrs) {
  hid_t t = vlen_str_type(), fs = H5Dget_space(d), ms = -1;
  hsize_t o[1] = {(hsize_t)row0}, c[1] = {(hsize_t)rows};
  herr_t rc = -1;
  if (t >= 0 && fs >= 0 && (ms = H5Screate_simple(1, c, NULL)) >= 0 &&
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, o, NULL, c, NULL) >= 0)
    rc = H5Dwrite(d, t, ms, fs, H5P_DEFAULT, ptrs);
  if (ms >= 0)
    H5Sclose(ms);
  if (fs >= 0)
    H5Sclose(fs);
  if (t >= 0)
    H5Tclose(t);
  return rc;
}

static void wtable_free(tsr__h5_wtable *t) {
  if (t == NULL)
    return;
  if (t->cols != NULL) {
    tsr__h5_lock();
    for (int i = 0; i < t->n; i++)
      if (t->cols[i].vlen >= 0)
        H5Dclose(t->cols[i].vlen);
    tsr__h5_unlock();
    for (int i = 0; i < t->n; i++)
      tsr_free(t->ctx, t->cols[i].name);
  }
  tsr_free(t->ctx, t->cols);
  tsr_free(t->ctx, t->path_group);
  pthread_mutex_destroy(&t->turn_mu);
  pthread_cond_destroy(&t->turn_cv);
  tsr_free(t->ctx, t);
}

tsr_status tsr__h5_wtable_close(tsr__h5_wtable **tp) {
  if (tp == NULL || *tp == NULL)
    return TSR_OK;
  tsr__h5_wtable *t = *tp;
  tsr_status status = TSR_OK;
  char why[WHY] = "";
  tsr__h5_lock();
  for (int i = 0; i < t->n; i++)
    if (t->cols[i].vlen >= 0) {
      if (H5Dclose(t->cols[i].vlen) < 0 && status == TSR_OK) {
        tsr__h5_explain(why, sizeof why);
        status = TSR_EIO;
      }
      t->cols[i].vlen = -1;
    }
  tsr__h5_unlock();
  if (status != TSR_OK)
    tsr_error_set(status, "cannot write the strings of table '%s': %s", t->path_group, why);
  wtable_free(t);
  *tp = NULL;
  return status;
}

/* Attributes and the dictionary of column i (under the lock); false with
 * why set. */
static bool column_extras(hid_t file, const char *dset, const tsr__h5_tcol_spec *c,
                          const char *valid_name, const char *aux_name, char *why,
                          size_t why_size) {
  hid_t d = H5Oopen(file, dset, H5P_DEFAULT);
  bool ok = d >= 0;
  if (ok && c->nullable)
    ok = attr_put_str(d, "validity", valid_name);
  if (ok && c->type.id == TSR_COL_DATE)
    ok = attr_put_str(d, "unit", "days");
  if (ok && c->type.id == TSR_COL_TIMESTAMP)
    ok = attr_put_str(d, "unit", unit_names[c->type.unit & 3]);
  if (ok && c->type.id == TSR_COL_STRING && aux_name != NULL)
    ok = attr_put_str(d, "offsets", aux_name);
  if (ok && c->type.id == TSR_COL_DICT) {
    ok = attr_put_str(d, "dictionary", aux_name);
    hid_t file_d = -1;
    char **ptrs = NULL;
    char *text = NULL;
    if (ok) {
      size_t bytes = (size_t)c->dict_offsets[c->dict_size] + (size_t)c->dict_size;
      ptrs = malloc(((size_t)c->dict_size + 1) * sizeof *ptrs);
      text = malloc(bytes + 1);
      ok = ptrs != NULL && text != NULL;
      size_t at = 0;
      for (int64_t k = 0; ok && k < c->dict_size; k++) {
        size_t len = (size_t)(c->dict_offsets[k + 1] - c->dict_offsets[k]);
        ptrs[k] = text + at;
        memcpy(text + at, c->dict_data + c->dict_offsets[k], len);
        text[at + len] = '\0';
        at += len + 1;
      }
    }
    if (ok) {
      char full[1024];
      const char *slash = strrchr(dset, '/');
      snprintf(full, sizeof full, "%.*s%s", slash ? (int)(slash - dset + 1) : 0, dset, aux_name);
      file_d = create_vlen(file, full, c->dict_size, c->dict_size > 0 ? c->dict_size : 1, 0);
      ok = file_d >= 0 &&
           (c->dict_size == 0 || write_vlen(file_d, 0, c->dict_size, (const char *const *)ptrs) >= 0);
    }
    if (file_d >= 0)
      H5Dclose(file_d);
    free(ptrs);
    free(text);
  }
  if (!ok)
    tsr__h5_explain(why, why_size);
  if (d >= 0)
    H5Oclose(d);
  return ok;
}

/* A name for an auxiliary dataset: base + suffix, with more '_' until it
 * names no column (the names are in cols). */
static tsr_status aux_name(tsr_ctx *ctx, int n, const tsr__h5_tcol_spec *cols, const char *base,
                           const char *suffix, char **out) {
  size_t bl = strlen(base), sl = strlen(suffix);
  for (size_t extra = 0;; extra++) {
    char *s;
    TSR_TRY(tsr_alloc(ctx, bl + sl + extra + 1, (void **)&s));
    memcpy(s, base, bl);
    memset(s + bl, '_', extra);
    memcpy(s + bl + extra, suffix, sl + 1);
    bool clash = false;
    for (int i = 0; i < n && !clash; i++)
      clash = strcmp(cols[i].name, s) == 0;
    if (!clash) {
      *out = s;
      return TSR_OK;
    }
    tsr_free(ctx, s);
  }
}

/* A table writer's state before its datasets are made or opened (free
 * with wtable_free). */
static tsr_status wtable_new(tsr_ctx *ctx, tsr__h5_file *f, const char *group, int n,
                             int64_t nrows, int64_t chunk_rows, bool string_offsets,
                             tsr__h5_wtable **out) {
  tsr__h5_wtable *t;
  TSR_TRY(tsr_calloc(ctx, 1, sizeof *t, (void **)&t));
  t->ctx = ctx;
  t->f = f;
  t->nrows = nrows;
  t->chunk_rows = chunk_rows < 1 ? 1 : chunk_rows;
  t->string_offsets = string_offsets;
  pthread_mutex_init(&t->turn_mu, NULL);
  pthread_cond_init(&t->turn_cv, NULL);
  *out = t; /* from here wtable_free releases it */
  TSR_TRY(tsr__strdup(ctx, group, &t->path_group));
  TSR_TRY(tsr_calloc(ctx, (size_t)n + 1, sizeof *t->cols, (void **)&t->cols));
  t->n = n;
  for (int i = 0; i < n; i++)
    t->cols[i].vlen = -1;
  return TSR_OK;
}

tsr_status tsr__h5_wtable_create(tsr_ctx *ctx, tsr__h5_file *f, tsr_hdf5_mode mode,
                                 const char *group, int n, const tsr__h5_tcol_spec *cols,
                                 int64_t nrows, int64_t chunk_rows, int level, bool shuffle,
                                 bool string_offsets, tsr__h5_wtable **out) {
  static const char fn[] = "tsr_frame_write_hdf5";
  *out = NULL;
  tsr_status status = TSR_OK;
  tsr__h5_wtable *t = NULL;
  char why[WHY] = "";
  char *full = NULL, *vname = NULL, *xname = NULL;
  hid_t file = tsr__h5_file_hid(f), g = -1;
  TSR_CHECK(group != NULL && group[0] != '\0' && strcmp(group, "/") != 0, TSR_EINVAL,
            "%s: a table needs a group name other than '/' (e.g. '/table')", fn);
  for (int i = 0; i < n; i++)
    TSR_CHECK(strchr(cols[i].name, '/') == NULL && strcmp(cols[i].name, ".") != 0, TSR_EINVAL,
              "%s: column '%s' cannot be an HDF5 dataset name (it holds '/' or is '.')", fn,
              cols[i].name);
  TSR__TRY_GOTO(status, wtable_new(ctx, f, group, n, nrows, chunk_rows, string_offsets, &t));
  tsr__h5_file_set_reproducible(f);

  /* the group and its attributes */
  tsr__h5_lock();
  bool exists = H5Lexists(file, group, H5P_DEFAULT) > 0;
  bool ok = true;
  if (exists && mode == TSR_HDF5_OVERWRITE)
    exists = H5Ldelete(file, group, H5P_DEFAULT) < 0;
  H5Eclear2(H5E_DEFAULT);
  if (!exists) {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    ok = lcpl >= 0 && H5Pset_create_intermediate_group(lcpl, 1) >= 0 &&
         (g = H5Gcreate2(file, group, lcpl, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
         attr_put_str(g, "tessera_format", TSR__H5_TABLE_FORMAT) &&
         attr_put_i32(g, "tessera_format_version", TSR__H5_TABLE_VERSION);
    if (ok) {
      hid_t st = vlen_str_type();
      hsize_t dn[1] = {(hsize_t)n};
      hid_t sp = H5Screate_simple(1, dn, NULL), a = -1;
      const char **names = malloc(((size_t)n + 1) * sizeof *names);
      for (int i = 0; names != NULL && i < n; i++)
        names[i] = cols[i].name;
      ok = st >= 0 && sp >= 0 && names != NULL &&
           (a = H5Acreate2(g, "columns", st, sp, H5P_DEFAULT, H5P_DEFAULT)) >= 0 &&
           (n == 0 || H5Awrite(a, st, names) >= 0);
      free(names);
      if (a >= 0)
        H5Aclose(a);
      if (sp >= 0)
        H5Sclose(sp);
      if (st >= 0)
        H5Tclose(st);
    }
    if (!ok)
      tsr__h5_explain(why, sizeof why);
    if (lcpl >= 0)
      H5Pclose(lcpl);
    if (g >= 0)
      H5Gclose(g);
  }
  tsr__h5_unlock();
  TSR__CHECK_GOTO(status, !exists, TSR_EINVAL,
                  "%s: '%s' already exists in the file (the overwrite mode replaces it)", fn,
                  group);
  TSR__CHECK_GOTO(status, ok, TSR_EIO, "%s: cannot create table '%s': %s", fn, group, why);

  /* the columns */
  for (int i = 0; i < n; i++) {
    const tsr__h5_tcol_spec *c = &cols[i];
    wcol *w = &t->cols[i];
    w->type = c->type;
    TSR__TRY_GOTO(status, join_name(ctx, group, c->name, NULL, &full));
    TSR__TRY_GOTO(status, tsr__strdup(ctx, c->name, &w->name));
    int64_t shape[1] = {nrows}, chunk[1] = {t->chunk_rows};
    if (c->nullable) {
      TSR__TRY_GOTO(status, aux_name(ctx, n, cols, c->name, ".validity", &vname));
      char *vfull = NULL;
      TSR__TRY_GOTO(status, join_name(ctx, group, vname, NULL, &vfull));
      status = tsr__h5_file_add(f, vfull, TSR_BOOL, 1, shape, chunk, level, shuffle, &w->valid);
      tsr_free(ctx, vfull);
      TSR__TRY_GOTO(status, status);
    }
    const char *aux = NULL;
    if (c->type.id == TSR_COL_STRING && !string_offsets) {
      tsr__h5_lock();
      w->vlen = create_vlen(file, full, nrows, t->chunk_rows, level);
      if (w->vlen < 0)
        tsr__h5_explain(why, sizeof why);
      tsr__h5_unlock();
      TSR__CHECK_GOTO(status, w->vlen >= 0, TSR_EIO, "%s: cannot create dataset '%s': %s", fn,
                      full, why);
    } else if (c->type.id == TSR_COL_STRING) {
      TSR__TRY_GOTO(status, aux_name(ctx, n, cols, c->name, ".offsets", &xname));
      aux = xname;
      int64_t bshape[1] = {c->string_bytes}, bchunk[1] = {t->chunk_rows * 16};
      TSR__TRY_GOTO(status, tsr__h5_file_add(f, full, TSR_UINT8, 1, bshape, bchunk, level, shuffle,
                                             &w->values));
      char *ofull = NULL;
      TSR__TRY_GOTO(status, join_name(ctx, group, xname, NULL, &ofull));
      int64_t oshape[1] = {nrows + 1};
      status = tsr__h5_file_add(f, ofull, TSR_INT64, 1, oshape, chunk, level, shuffle, &w->offsets);
      tsr_free(ctx, ofull);
      TSR__TRY_GOTO(status, status);
      if (nrows == 0) { /* the one offset, 0 */
        int64_t zero = 0, o0[1] = {0}, one[1] = {1};
        TSR__TRY_GOTO(status, tsr__h5_write_block(w->offsets, o0, one, &zero));
      }
    } else {
      if (c->type.id == TSR_COL_DICT) {
        TSR__TRY_GOTO(status, aux_name(ctx, n, cols, c->name, ".dictionary", &xname));
        aux = xname;
      }
      TSR__TRY_GOTO(status, tsr__h5_file_add(f, full, col_dtype(c->type), 1, shape, chunk, level,
                                             shuffle, &w->values));
    }
    tsr__h5_lock();
    ok = column_extras(file, full, c, vname, aux, why, sizeof why);
    tsr__h5_unlock();
    TSR__CHECK_GOTO(status, ok, TSR_EIO, "%s: cannot write the attributes of '%s': %s", fn, full,
                    why);
    tsr_free(ctx, full);
    tsr_free(ctx, vname);
    tsr_free(ctx, xname);
    full = vname = xname = NULL;
  }
  *out = t;
  t = NULL;
fail:
  tsr_free(ctx, full);
  tsr_free(ctx, vname);
  tsr_free(ctx, xname);
  wtable_free(t);
  return status;
}

tsr_status tsr__h5_wtable_open(tsr_ctx *ctx, tsr__h5_file *f, const char *group, int n,
                               const tsr__h5_tcol_spec *cols, int64_t nrows, int64_t chunk_rows,
                               bool string_offsets, tsr__h5_wtable **out) {
  *out = NULL;
  tsr_status status = TSR_OK;
  tsr__h5_wtable *t = NULL;
  char *full = NULL, *aux = NULL, *afull = NULL;
  for (int i = 0; i < n; i++)
    TSR_CHECK(cols[i].type.id != TSR_COL_STRING || string_offsets, TSR_EINTERNAL,
              "tsr_frame_write_hdf5: variable-length strings cannot be written in parallel");
  TSR__TRY_GOTO(status, wtable_new(ctx, f, group, n, nrows, chunk_rows, string_offsets, &t));
  /* the datasets tsr__h5_wtable_create made, by the same names and shapes */
  for (int i = 0; i < n; i++) {
    const tsr__h5_tcol_spec *c = &cols[i];
    wcol *w = &t->cols[i];
    w->type = c->type;
    TSR__TRY_GOTO(status, tsr__strdup(ctx, c->name, &w->name));
    TSR__TRY_GOTO(status, join_name(ctx, group, c->name, NULL, &full));
    int64_t shape[1] = {nrows}, chunk[1] = {t->chunk_rows};
    if (c->nullable) {
      TSR__TRY_GOTO(status, aux_name(ctx, n, cols, c->name, ".validity", &aux));
      TSR__TRY_GOTO(status, join_name(ctx, group, aux, NULL, &afull));
      TSR__TRY_GOTO(status, tsr__h5_file_reopen_dataset(f, afull, TSR_BOOL, 1, shape, chunk,
                                                        &w->valid));
      tsr_free(ctx, aux);
      tsr_free(ctx, afull);
      aux = afull = NULL;
    }
    if (c->type.id == TSR_COL_STRING) {
      int64_t bshape[1] = {c->string_bytes}, bchunk[1] = {t->chunk_rows * 16};
      TSR__TRY_GOTO(status, tsr__h5_file_reopen_dataset(f, full, TSR_UINT8, 1, bshape, bchunk,
                                                        &w->values));
      TSR__TRY_GOTO(status, aux_name(ctx, n, cols, c->name, ".offsets", &aux));
      TSR__TRY_GOTO(status, join_name(ctx, group, aux, NULL, &afull));
      int64_t oshape[1] = {nrows + 1};
      TSR__TRY_GOTO(status, tsr__h5_file_reopen_dataset(f, afull, TSR_INT64, 1, oshape, chunk,
                                                        &w->offsets));
      tsr_free(ctx, aux);
      tsr_free(ctx, afull);
      aux = afull = NULL;
    } else {
      TSR__TRY_GOTO(status, tsr__h5_file_reopen_dataset(f, full, col_dtype(c->type), 1, shape,
                                                        chunk, &w->values));
    }
    tsr_free(ctx, full);
    full = NULL;
  }
  *out = t;
  t = NULL;
fail:
  tsr_free(ctx, full);
  tsr_free(ctx, aux);
  tsr_free(ctx, afull);
  wtable_free(t);
  return status;
}

void tsr__h5_wtable_abandon(tsr__h5_wtable *t) {
  pthread_mutex_lock(&t->turn_mu);
  t->abandoned = true;
  pthread_cond_broadcast(&t->turn_cv);
  pthread_mutex_unlock(&t->turn_mu);
}

/* Waits for unit seq's turn; false when another unit failed. */
static bool wait_turn(tsr__h5_wtable *t, int64_t seq) {
  pthread_mutex_lock(&t->turn_mu);
  while (t->turn != seq && !t->abandoned)
    pthread_cond_wait(&t->turn_cv, &t->turn_mu);
  bool ok = !t->abandoned;
  pthread_mutex_unlock(&t->turn_mu);
  return ok;
}

static void next_turn(tsr__h5_wtable *t, int64_t seq) {
  pthread_mutex_lock(&t->turn_mu);
  t->turn = seq + 1;
  pthread_cond_broadcast(&t->turn_cv);
  pthread_mutex_unlock(&t->turn_mu);
}

tsr_status tsr__h5_wtable_write(tsr__h5_wtable *t, int col, int64_t row0, int64_t rows,
                                const void *values, const uint8_t *valid, const int64_t *str_off,
                                const char *str_data, int64_t byte0, int64_t seq) {
  static const char fn[] = "tsr_frame_write_hdf5";
  wcol *w = &t->cols[col];
  tsr_ctx *ctx = t->ctx;
  tsr_status status = TSR_OK;
  int64_t off[1] = {row0}, cnt[1] = {rows};
  uint8_t *ones = NULL;
  char *text = NULL;
  char **ptrs = NULL;
  int64_t *goff = NULL;
  /* the boxes, compressed here, written in this order once it is this unit's turn */
  tsr__h5_pending parts[4];
  int nparts = 0;
  if (rows == 0) {
    if (seq >= 0 && wait_turn(t, seq))
      next_turn(t, seq);
    return TSR_OK;
  }
  if (w->valid != NULL) {
    if (valid == NULL) {
      TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)rows, (void **)&ones));
      memset(ones, 1, (size_t)rows);
      valid = ones;
    }
    TSR__TRY_GOTO(status, tsr__h5_write_prepare(w->valid, off, cnt, valid, &parts[nparts]));
    nparts++;
  }
  if (w->type.id != TSR_COL_STRING) {
    TSR__TRY_GOTO(status, tsr__h5_write_prepare(w->values, off, cnt, values, &parts[nparts]));
    nparts++;
  } else if (t->string_offsets) {
    TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)rows + 1, sizeof *goff, "offsets",
                                           (void **)&goff));
    for (int64_t i = 0; i <= rows; i++)
      goff[i] = byte0 + str_off[i];
    /* the last unit writes the final offset too */
    int64_t ocnt[1] = {row0 + rows == t->nrows ? rows + 1 : rows};
    TSR__TRY_GOTO(status, tsr__h5_write_prepare(w->offsets, off, ocnt, goff, &parts[nparts]));
    nparts++;
    int64_t boff[1] = {byte0}, bcnt[1] = {str_off[rows]};
    TSR__TRY_GOTO(status, tsr__h5_write_prepare(w->values, boff, bcnt, str_data, &parts[nparts]));
    nparts++;
  } else {
    /* variable-length: NUL-terminated copies (a NUL inside cannot be stored) */
    TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)str_off[rows] + (size_t)rows, (void **)&text));
    TSR__TRY_GOTO(status,
                  tsr__alloc_array(ctx, (size_t)rows, sizeof *ptrs, "strings", (void **)&ptrs));
    size_t at = 0;
    for (int64_t i = 0; i < rows; i++) {
      size_t len = (size_t)(str_off[i + 1] - str_off[i]);
      const char *s = str_data + str_off[i];
      TSR__CHECK_GOTO(status, memchr(s, '\0', len) == NULL, TSR_EINVAL,
                      "%s: column '%s' row %lld holds a NUL byte, which a variable-length HDF5 "
                      "string cannot hold: write the offsets layout "
                      "(TSR_HDF5_STRINGS_OFFSETS, --strings offsets)",
                      fn, w->name, (long long)(row0 + i));
      memcpy(text + at, s, len);
      text[at + len] = '\0';
      ptrs[i] = text + at;
      at += len + 1;
    }
  }
  if (seq >= 0 && !wait_turn(t, seq)) {
    status = tsr_error_set(TSR_ECANCELED, "%s: another unit failed", fn);
    goto fail;
  }
  for (int k = 0; k < nparts; k++) {
    tsr_status st = tsr__h5_write_finish(&parts[k]);
    if (st != TSR_OK && status == TSR_OK)
      status = st;
  }
  nparts = 0;
  if (status == TSR_OK && ptrs != NULL) {
    char why[WHY] = "";
    tsr__h5_lock();
    herr_t rc = write_vlen(w->vlen, row0, rows, (const char *const *)ptrs);
    if (rc < 0)
      tsr__h5_explain(why, sizeof why);
    tsr__h5_unlock();
    if (rc < 0)
      status = tsr_error_set(TSR_EIO, "%s: cannot write rows %lld.. of column '%s': %s", fn,
                             (long long)row0, w->name, why);
  }
  if (seq >= 0 && status == TSR_OK)
    next_turn(t, seq);
fail:
  for (int k = 0; k < nparts; k++)
    tsr__h5_write_drop(&parts[k]);
  if (seq >= 0 && status != TSR_OK)
    tsr__h5_wtable_abandon(t);
  tsr_free(ctx, ones);
  tsr_free(ctx, goff);
  tsr_free(ctx, text);
  tsr_free(ctx, ptrs);
  return status;
}

/* ---- reading ---------------------------------------------------------------------------- */

typedef enum rkind {
  RK_NUMERIC = 0, /* values read with read_block (codes, dates, timestamps too) */
  RK_VLEN,        /* variable-length strings, our own dataset */
  RK_FIXED,       /* fixed-length strings, our own dataset */
  RK_OFFSETS,     /* offsets layout: `values` holds the bytes, `offsets` the offsets */
  RK_FIELD,       /* a field of the compound dataset */
} rkind;

typedef struct rcol {
  char *name;
  tsr_type type;
  rkind kind;
  tsr__h5_dataset *values, *valid, *offsets;
  hid_t dset;         /* RK_VLEN, RK_FIXED */
  size_t fixed_size;  /* RK_FIXED, and fixed-string fields */
  tsr_dtype dtype;    /* RK_NUMERIC: the dataset's dtype */
  /* dictionaries */
  int64_t dict_size;
  int64_t *dict_offsets;
  char *dict_data;
  /* compound fields */
  size_t field_off;
  H5T_class_t field_class; /* H5T_INTEGER, H5T_FLOAT, H5T_STRING, H5T_ENUM */
  bool field_vlen;         /* variable-length string field */
} rcol;

struct tsr__h5_rtable {
  tsr_ctx *ctx;
  char *path, *object;
  int n;
  rcol *cols;
  int64_t nrows, chunk_rows;
  bool compound;
  bool has_vlen; /* compound: a variable-length string field (kept or not): reclaim */
  hid_t file, dset, memtype; /* compound: the dataset and its native memory type */
  size_t rec_size;
};

int tsr__h5_rtable_ncols(const tsr__h5_rtable *t) { return t->n; }
const char *tsr__h5_rtable_name(const tsr__h5_rtable *t, int col) { return t->cols[col].name; }
tsr_type tsr__h5_rtable_type(const tsr__h5_rtable *t, int col) { return t->cols[col].type; }
int64_t tsr__h5_rtable_nrows(const tsr__h5_rtable *t) { return t->nrows; }
int64_t tsr__h5_rtable_chunk_rows(const tsr__h5_rtable *t) { return t->chunk_rows; }
bool tsr__h5_rtable_is_compound(const tsr__h5_rtable *t) { return t->compound; }
void tsr__h5_rtable_dict(const tsr__h5_rtable *t, int col, int64_t *size, const int64_t **offsets,
                         const char **data) {
  *size = t->cols[col].dict_size;
  *offsets = t->cols[col].dict_offsets;
  *data = t->cols[col].dict_data;
}

static void rcol_free(tsr_ctx *ctx, rcol *c) {
  tsr__h5_close_read(&c->values);
  tsr__h5_close_read(&c->valid);
  tsr__h5_close_read(&c->offsets);
  if (c->dset >= 0) {
    tsr__h5_lock();
    H5Dclose(c->dset);
    tsr__h5_unlock();
    c->dset = -1;
  }
  tsr_free(ctx, c->name);
  tsr_free(ctx, c->dict_offsets);
  tsr_free(ctx, c->dict_data);
}

void tsr__h5_rtable_close(tsr__h5_rtable **tp) {
  if (tp == NULL || *tp == NULL)
    return;
  tsr__h5_rtable *t = *tp;
  tsr_ctx *ctx = t->ctx;
  if (t->cols != NULL)
    for (int i = 0; i < t->n; i++)
      rcol_free(ctx, &t->cols[i]);
  tsr_free(ctx, t->cols);
  tsr__h5_lock();
  if (t->memtype >= 0)
    H5Tclose(t->memtype);
  if (t->dset >= 0)
    H5Dclose(t->dset);
  if (t->file >= 0)
    H5Fclose(t->file);
  tsr__h5_unlock();
  tsr_free(ctx, t->path);
  tsr_free(ctx, t->object);
  tsr_free(ctx, t);
  *tp = NULL;
}

static tsr_status add_col(tsr__h5_rtable *t, const char *name, rcol **out) {
  TSR_TRY(tsr__grow_array(t->ctx, (void **)&t->cols, (size_t)t->n, (size_t)t->n + 1,
                          sizeof *t->cols, "columns"));
  rcol *c = &t->cols[t->n++];
  memset(c, 0, sizeof *c);
  c->dset = -1;
  c->dtype = TSR_NUM_DTYPES;
  *out = c;
  return tsr__strdup(t->ctx, name, &c->name);
}

static tsr_coltype dtype_col(tsr_dtype d) {
  static const tsr_coltype m[TSR_NUM_DTYPES] = {
      TSR_COL_BOOL,   TSR_COL_INT8,   TSR_COL_INT16,  TSR_COL_INT32,   TSR_COL_INT64,  TSR_COL_UINT8,
      TSR_COL_UINT16, TSR_COL_UINT32, TSR_COL_UINT64, TSR_COL_FLOAT32, TSR_COL_FLOAT64};
  return m[d];
}

/* The 1-D extent of dataset `name` in the table group (under the lock), -1
 * when it is not a 1-D dataset. */
static int64_t extent_1d(hid_t d) {
  hid_t sp = H5Dget_space(d);
  int64_t n = -1;
  if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 1) {
    hsize_t dims[1];
    if (H5Sget_simple_extent_dims(sp, dims, NULL) == 1)
      n = (int64_t)dims[0];
  }
  if (sp >= 0)
    H5Sclose(sp);
  return n;
}

/* Column `name` of the table group g (under the lock for HDF5 metadata;
 * released around the io calls that take it themselves). */
static tsr_status open_table_col(tsr__h5_rtable *t, const char *fn, hid_t g, const char *name) {
  tsr_ctx *ctx = t->ctx;
  tsr_status status = TSR_OK;
  rcol *c = NULL;
  char *full = NULL, *vname = NULL, *dname = NULL, *oname = NULL, *unit = NULL, *aux = NULL;
  char **ds = NULL;
  size_t *dl = NULL;
  int64_t dn = 0;
  char why[WHY] = "";
  TSR_TRY(add_col(t, name, &c));
  TSR_TRY(join_name(ctx, t->object, name, NULL, &full));
  tsr__h5_lock();
  H5O_info_t oi;
  bool is_set = H5Lexists(g, name, H5P_DEFAULT) > 0 &&
                H5Oget_info_by_name2(g, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
                oi.type == H5O_TYPE_DATASET;
  hid_t d = is_set ? H5Dopen2(g, name, H5P_DEFAULT) : -1;
  hid_t ft = d >= 0 ? H5Dget_type(d) : -1;
  H5T_class_t cls = ft >= 0 ? H5Tget_class(ft) : H5T_NO_CLASS;
  bool vlen = cls == H5T_STRING && H5Tis_variable_str(ft) > 0;
  size_t fsize = ft >= 0 ? H5Tget_size(ft) : 0;
  int64_t len = d >= 0 ? extent_1d(d) : -1;
  if (d >= 0) {
    vname = attr_get_str(d, "validity");
    dname = attr_get_str(d, "dictionary");
    oname = attr_get_str(d, "offsets");
    unit = attr_get_str(d, "unit");
  }
  tsr_dtype dt = ft >= 0 && cls != H5T_STRING ? tsr__h5_file_dtype(ft) : TSR_NUM_DTYPES;
  if (ft >= 0)
    H5Tclose(ft);
  if (d >= 0 && cls == H5T_STRING && oname == NULL)
    c->dset = d; /* kept: read with HDF5's conversion */
  else if (d >= 0)
    H5Dclose(d);
  H5Eclear2(H5E_DEFAULT);
  tsr__h5_unlock();
  TSR__CHECK_GOTO(status, is_set, TSR_EINVAL,
                  "%s: %s: the table '%s' lists column '%s' but has no dataset of that name", fn,
                  t->path, t->object, name);
  TSR__CHECK_GOTO(status, len >= 0 || oname != NULL, TSR_EINVAL,
                  "%s: %s: column '%s' of '%s' is not a 1-D dataset", fn, t->path, name, t->object);
  if (oname != NULL) {
    c->kind = RK_OFFSETS;
    c->type = (tsr_type){TSR_COL_STRING, 0};
    TSR__TRY_GOTO(status, tsr__h5_open_read(ctx, fn, t->path, full, &c->values));
    TSR__CHECK_GOTO(status, tsr__h5_dataset_info(c->values)->dtype == TSR_UINT8 ||
                                tsr__h5_dataset_info(c->values)->dtype == TSR_INT8,
                    TSR_EDTYPE, "%s: %s: column '%s' (offsets layout) must hold bytes (uint8)",
                    fn, t->path, name);
    TSR__TRY_GOTO(status, join_name(ctx, t->object, oname, NULL, &aux));
    TSR__TRY_GOTO(status, tsr__h5_open_read(ctx, fn, t->path, aux, &c->offsets));
    const tsr__h5_info *oi2 = tsr__h5_dataset_info(c->offsets);
    TSR__CHECK_GOTO(status, oi2->ndim == 1 && oi2->dtype == TSR_INT64 && oi2->shape[0] >= 1,
                    TSR_EDTYPE, "%s: %s: the offsets '%s' of column '%s' must be 1-D int64", fn,
                    t->path, oname, name);
    len = oi2->shape[0] - 1;
  } else if (cls == H5T_STRING) {
    c->kind = vlen ? RK_VLEN : RK_FIXED;
    c->fixed_size = fsize;
    c->type = (tsr_type){TSR_COL_STRING, 0};
  } else {
    TSR__CHECK_GOTO(status, dt != TSR_NUM_DTYPES, TSR_EDTYPE,
                    "%s: %s: column '%s' of '%s' has a type that is not a column type", fn,
                    t->path, name, t->object);
    c->kind = RK_NUMERIC;
    c->dtype = dt;
    TSR__TRY_GOTO(status, tsr__h5_open_read(ctx, fn, t->path, full, &c->values));
    c->type = (tsr_type){dtype_col(dt), 0};
    bool is_int = dt != TSR_BOOL && dt != TSR_FLOAT32 && dt != TSR_FLOAT64;
    if (dname != NULL) {
      TSR__CHECK_GOTO(status, is_int, TSR_EDTYPE,
                      "%s: %s: dictionary column '%s' must hold integer codes", fn, t->path, name);
      c->type.id = TSR_COL_DICT;
      TSR__TRY_GOTO(status, join_name(ctx, t->object, dname, NULL, &aux));
      tsr__h5_lock();
      hid_t dd = H5Dopen2(t->file, aux, H5P_DEFAULT);
      bool ok = dd >= 0 && read_str_list(dd, false, INT32_MAX, &ds, &dl, &dn, why, sizeof why);
      if (dd < 0)
        snprintf(why, sizeof why, "it cannot be opened");
      if (dd >= 0)
        H5Dclose(dd);
      H5Eclear2(H5E_DEFAULT);
      tsr__h5_unlock();
      TSR__CHECK_GOTO(status, ok, TSR_EINVAL, "%s: %s: the dictionary '%s' of column '%s': %s",
                      fn, t->path, dname, name, why);
      size_t total = 0;
      for (int64_t k = 0; k < dn; k++)
        total += dl[k];
      TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)dn + 1, sizeof *c->dict_offsets,
                                             "dictionary", (void **)&c->dict_offsets));
      TSR__TRY_GOTO(status, tsr_alloc(ctx, total + 1, (void **)&c->dict_data));
      int64_t at = 0;
      for (int64_t k = 0; k < dn; k++) {
        c->dict_offsets[k] = at;
        memcpy(c->dict_data + at, ds[k], dl[k]);
        TSR__CHECK_GOTO(status, csv_utf8_invalid(ds[k], dl[k]) < 0, TSR_EINVAL,
                        "%s: %s: entry %lld of the dictionary of column '%s' is not UTF-8", fn,
                        t->path, (long long)k, name);
        if (k > 0) {
          size_t a = dl[k - 1], b = dl[k];
          int cmp = memcmp(ds[k - 1], ds[k], a < b ? a : b);
          TSR__CHECK_GOTO(status, cmp < 0 || (cmp == 0 && a < b), TSR_EINVAL,
                          "%s: %s: the dictionary of column '%s' is not sorted and distinct "
                          "(entries %lld and %lld)",
                          fn, t->path, name, (long long)k - 1, (long long)k);
        }
        at += (int64_t)dl[k];
      }
      c->dict_offsets[dn] = at;
      c->dict_size = dn;
    } else if (unit != NULL && strcmp(unit, "days") == 0) {
      TSR__CHECK_GOTO(status, is_int, TSR_EDTYPE, "%s: %s: date column '%s' must hold integers",
                      fn, t->path, name);
      c->type.id = TSR_COL_DATE;
    } else if (unit != NULL) {
      int u = -1;
      for (int k = 0; k < 4; k++)
        if (strcmp(unit, unit_names[k]) == 0)
          u = k;
      TSR__CHECK_GOTO(status, u >= 0 && is_int, TSR_EDTYPE,
                      "%s: %s: column '%s' has unit '%s': dates need integers with unit 'days', "
                      "timestamps integers with 's', 'ms', 'us' or 'ns'",
                      fn, t->path, name, unit);
      c->type = (tsr_type){TSR_COL_TIMESTAMP, (tsr_time_unit)u};
    }
  }
  if (t->nrows < 0)
    t->nrows = len;
  TSR__CHECK_GOTO(status, len == t->nrows, TSR_EINVAL,
                  "%s: %s: column '%s' of '%s' has %lld rows where the first column has %lld", fn,
                  t->path, name, t->object, (long long)len, (long long)t->nrows);
  if (vname != NULL) {
    tsr_free(ctx, aux);
    aux = NULL;
    TSR__TRY_GOTO(status, join_name(ctx, t->object, vname, NULL, &aux));
    TSR__TRY_GOTO(status, tsr__h5_open_read(ctx, fn, t->path, aux, &c->valid));
    const tsr__h5_info *vi = tsr__h5_dataset_info(c->valid);
    TSR__CHECK_GOTO(status, vi->ndim == 1 && vi->shape[0] == len && tsr_dtype_size(vi->dtype) == 1,
                    TSR_EINVAL,
                    "%s: %s: the validity '%s' of column '%s' must be %lld bools (or bytes)", fn,
                    t->path, vname, name, (long long)len);
  }
  if (c->values != NULL && t->chunk_rows <= 0) {
    const tsr__h5_info *in = tsr__h5_dataset_info(c->values);
    if (in->chunked && c->kind == RK_NUMERIC && in->chunk[0] > 0)
      t->chunk_rows = in->chunk[0] * (((INT64_C(1) << 20) + in->chunk[0] - 1) / in->chunk[0]);
  }
fail:
  free_str_list(ds, dl, dn);
  tsr_free(ctx, full);
  tsr_free(ctx, aux);
  free(vname);
  free(dname);
  free(oname);
  free(unit);
  return status;
}

/* Splits "a,b" into the names (malloc'd, with *n). */
static bool split_names(const char *s, char ***out, int *n) {
  int k = 1;
  for (const char *p = s; *p; p++)
    k += *p == ',';
  char **v = calloc((size_t)k, sizeof *v);
  if (v == NULL)
    return false;
  *out = v;
  *n = 0;
  for (const char *p = s;;) {
    const char *q = strchr(p, ',');
    size_t len = q ? (size_t)(q - p) : strlen(p);
    v[*n] = strndup(p, len);
    if (v[*n] == NULL)
      return false;
    (*n)++;
    if (q == NULL)
      return true;
    p = q + 1;
  }
}

/* The leaf fields of compound type ct at byte `base` of the memory record,
 * named prefix + name (under the lock). */
static tsr_status add_fields(tsr__h5_rtable *t, const char *fn, hid_t ct, size_t base,
                             const char *prefix) {
  int nm = H5Tget_nmembers(ct);
  for (int i = 0; i < nm; i++) {
    char *mn = H5Tget_member_name(ct, (unsigned)i);
    char name[1024];
    snprintf(name, sizeof name, "%s%s", prefix, mn != NULL ? mn : "?");
    if (mn != NULL)
      H5free_memory(mn);
    size_t off = base + H5Tget_member_offset(ct, (unsigned)i);
    hid_t mt = H5Tget_member_type(ct, (unsigned)i);
    H5T_class_t cls = mt >= 0 ? H5Tget_class(mt) : H5T_NO_CLASS;
    tsr_status status = TSR_OK;
    if (cls == H5T_COMPOUND) {
      char p2[1040];
      snprintf(p2, sizeof p2, "%s.", name);
      status = add_fields(t, fn, mt, off, p2);
      H5Tclose(mt);
      if (status != TSR_OK)
        return status;
      continue;
    }
    tsr_type type = {TSR_COL_STRING, 0};
    bool ok = true, vlen = false;
    const char *what = NULL;
    if (cls == H5T_INTEGER || cls == H5T_FLOAT || cls == H5T_ENUM) {
      tsr_dtype dt = tsr__h5_file_dtype(mt);
      ok = dt != TSR_NUM_DTYPES;
      if (ok)
        type.id = dtype_col(dt);
      else
        what = cls == H5T_FLOAT ? "a float that is not float32 or float64"
                                : "an integer of an unsupported size";
    } else if (cls == H5T_STRING) {
      vlen = H5Tis_variable_str(mt) > 0;
      t->has_vlen |= vlen;
    } else {
      ok = false;
      what = cls == H5T_ARRAY     ? "an array (split it into fields)"
             : cls == H5T_VLEN    ? "a variable-length sequence"
             : cls == H5T_OPAQUE  ? "opaque"
             : cls == H5T_REFERENCE ? "a reference"
             : cls == H5T_BITFIELD ? "a bitfield"
             : cls == H5T_TIME    ? "an HDF5 time"
                                  : "of an unknown class";
    }
    size_t msize = mt >= 0 ? H5Tget_size(mt) : 0;
    if (mt >= 0)
      H5Tclose(mt);
    if (!ok) {
      H5Eclear2(H5E_DEFAULT);
      return tsr_error_set(TSR_EDTYPE,
                           "%s: %s: field '%s' of compound dataset '%s' is %s: it cannot be a "
                           "column",
                           fn, t->path, name, t->object, what);
    }
    rcol *c;
    TSR_TRY(add_col(t, name, &c));
    c->kind = RK_FIELD;
    c->type = type;
    c->field_off = off;
    c->field_class = cls;
    c->field_vlen = vlen;
    c->fixed_size = msize;
  }
  return TSR_OK;
}

/* Whether every global heap collection of the file (where HDF5 keeps the
 * strings of variable-length fields) can be walked object by object as
 * libhdf5 1.10.8 walks it when it loads one: an object whose size does
 * not fit the collection (or a free-space object of size 0) sends that
 * walk backwards or nowhere, and H5Dread never returns (a fuzzed file:
 * tests/fuzz/regressions/hdf5_table/timeout-compound-vlen-read).  A
 * collection is found by its signature "GCOL" and version 1, anywhere in
 * the file (a reference read from a record may point anywhere).
 * sizeof_size: the file's length size (H5Pget_sizes).  Returns false with
 * `why` for a damaged collection; true also when the file cannot be read
 * (HDF5 then says so). */
static bool heaps_sound(const char *path, size_t sizeof_size, char *why, size_t why_size) {
  FILE *fp = fopen(path, "rb");
  if (fp == NULL || sizeof_size < 2 || sizeof_size > 8) {
    if (fp != NULL)
      fclose(fp);
    return true;
  }
  fseeko(fp, 0, SEEK_END);
  uint64_t fsize = (uint64_t)ftello(fp);
  size_t hdr = 8 + sizeof_size, objhdr = 8 + sizeof_size;
  enum { BLOCK = 1 << 20 };
  unsigned char *buf = malloc(BLOCK + 16);
  bool ok = buf != NULL;
  /* blocks of BLOCK bytes overlapping by 15, so a header across two is seen */
  for (uint64_t at = 0; ok && at < fsize; at += BLOCK) {
    size_t n = fsize - at < BLOCK + 15 ? (size_t)(fsize - at) : BLOCK + 15;
    if (fseeko(fp, (off_t)at, SEEK_SET) != 0 || fread(buf, 1, n, fp) != n)
      break;
    for (size_t i = 0; ok && i + hdr <= n && i < BLOCK; i++) {
      if (memcmp(buf + i, "GCOL", 4) != 0 || buf[i + 4] != 1)
        continue;
      uint64_t size = 0;
      for (size_t k = 0; k < sizeof_size; k++)
        size |= (uint64_t)buf[i + 8 + k] << (8 * k);
      uint64_t start = at + i;
      if (size < hdr || size > fsize - start)
        continue; /* HDF5 cannot load it whole: it fails, it does not loop */
      /* the objects, read from the file: [idx u16][nrefs u16][4][size] */
      for (uint64_t p = hdr, end = size; ok && p < end;) {
        if (end - p < objhdr)
          break; /* free space too small for a header */
        unsigned char oh[16];
        if (fseeko(fp, (off_t)(start + p), SEEK_SET) != 0 || fread(oh, 1, objhdr, fp) != objhdr) {
          ok = false;
          break;
        }
        unsigned idx = (unsigned)oh[0] | (unsigned)oh[1] << 8;
        uint64_t osize = 0;
        for (size_t k = 0; k < sizeof_size; k++)
          osize |= (uint64_t)oh[8 + k] << (8 * k);
        /* HDF5 steps over objhdr + the size aligned to 8 (free space, idx 0:
         * the size alone) */
        uint64_t room = end - p, need = osize;
        if (idx > 0)
          need = osize <= room - objhdr ? objhdr + (osize + 7) / 8 * 8 : UINT64_MAX;
        ok = need > 0 && need <= room;
        if (!ok)
          snprintf(why, why_size,
                   "the global heap collection at byte %llu (the strings of variable-length "
                   "fields) is damaged: its object %u of %llu bytes does not fit it",
                   (unsigned long long)start, idx, (unsigned long long)osize);
        p += need;
      }
    }
  }
  free(buf);
  fclose(fp);
  return ok;
}

static tsr_status open_compound(tsr__h5_rtable *t, const char *fn, hid_t d) {
  char why[WHY] = "";
  hid_t ft = H5Dget_type(d);
  int64_t len = extent_1d(d);
  t->compound = true;
  t->dset = d;
  t->memtype = ft >= 0 ? H5Tget_native_type(ft, H5T_DIR_ASCEND) : -1;
  if (t->memtype < 0)
    tsr__h5_explain(why, sizeof why);
  if (ft >= 0)
    H5Tclose(ft);
  TSR_CHECK(t->memtype >= 0, TSR_EDTYPE, "%s: %s: the type of '%s' cannot be read: %s", fn,
            t->path, t->object, why);
  TSR_CHECK(len >= 0, TSR_EINVAL, "%s: %s: compound dataset '%s' is not 1-D", fn, t->path,
            t->object);
  t->nrows = len;
  t->rec_size = H5Tget_size(t->memtype);
  TSR_CHECK(t->rec_size > 0 && t->rec_size < (1u << 24), TSR_EDTYPE,
            "%s: %s: the records of '%s' are %zu bytes", fn, t->path, t->object, t->rec_size);
  TSR_TRY(add_fields(t, fn, t->memtype, 0, ""));
  if (t->has_vlen) {
    hid_t fcpl = H5Fget_create_plist(t->file);
    size_t sa = 0, ss = 0;
    if (fcpl < 0 || H5Pget_sizes(fcpl, &sa, &ss) < 0)
      ss = 0; /* unknown: not checked */
    if (fcpl >= 0)
      H5Pclose(fcpl);
    H5Eclear2(H5E_DEFAULT);
    TSR_CHECK(heaps_sound(t->path, ss, why, sizeof why), TSR_EINVAL,
              "%s: %s: compound dataset '%s' cannot be read: %s", fn, t->path, t->object, why);
  }
  /* file chunks of 64 Ki records, or whole chunks of the dataset's */
  hid_t dcpl = H5Dget_create_plist(d);
  hsize_t cd[1] = {0};
  if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 1, cd) == 1 && cd[0] > 0)
    t->chunk_rows = (int64_t)cd[0] * (int64_t)((65536 + cd[0] - 1) / cd[0]);
  if (dcpl >= 0)
    H5Pclose(dcpl);
  /* at most 64 MiB of records per row chunk */
  int64_t most = (int64_t)((64u << 20) / t->rec_size);
  if (t->chunk_rows <= 0 || t->chunk_rows > most)
    t->chunk_rows = cd[0] > 0 && most > (int64_t)cd[0] ? most / (int64_t)cd[0] * (int64_t)cd[0]
                                                       : (most > 0 ? most : 1);
  H5Eclear2(H5E_DEFAULT);
  return TSR_OK;
}

tsr_status tsr__h5_rtable_open(tsr_ctx *ctx, const char *fn, const char *path, const char *object,
                               const char *columns, tsr__h5_rtable **out) {
  *out = NULL;
  tsr_status status = TSR_OK;
  tsr__h5_rtable *t = NULL;
  char why[WHY] = "";
  char **names = NULL, **want = NULL;
  size_t *lens = NULL;
  int64_t nn = 0;
  int nwant = 0;
  hid_t g = -1;
  char *format = NULL;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, 1, sizeof *t, (void **)&t));
  t->ctx = ctx;
  t->file = t->dset = t->memtype = -1;
  t->nrows = -1;
  TSR__TRY_GOTO(status, tsr__strdup(ctx, path, &t->path));
  TSR__TRY_GOTO(status, tsr__strdup(ctx, object, &t->object));
  tsr__h5_lock();
  t->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); /* as hdf5.c opens it */
  if (t->file < 0)
    tsr__h5_explain(why, sizeof why);
  H5O_info_t oi;
  bool found = t->file >= 0 && (strcmp(object, "/") == 0 || H5Lexists(t->file, object, H5P_DEFAULT) > 0) &&
               H5Oget_info_by_name2(t->file, object, &oi, H5O_INFO_BASIC, H5P_DEFAULT) >= 0;
  H5Eclear2(H5E_DEFAULT);
  bool is_group = found && oi.type == H5O_TYPE_GROUP;
  bool is_compound = false;
  hid_t d = -1;
  if (found && oi.type == H5O_TYPE_DATASET) {
    d = H5Dopen2(t->file, object, H5P_DEFAULT);
    hid_t ft = d >= 0 ? H5Dget_type(d) : -1;
    is_compound = ft >= 0 && H5Tget_class(ft) == H5T_COMPOUND;
    if (ft >= 0)
      H5Tclose(ft);
  }
  int64_t version = 0;
  bool listed = false;
  if (is_group) {
    g = H5Gopen2(t->file, object, H5P_DEFAULT);
    format = g >= 0 ? attr_get_str(g, "tessera_format") : NULL;
    version = g >= 0 ? attr_get_int(g, "tessera_format_version", 0) : 0;
    if (g >= 0 && H5Aexists(g, "columns") > 0) {
      hid_t a = H5Aopen(g, "columns", H5P_DEFAULT);
      listed = a >= 0 && read_str_list(a, true, 1 << 20, &names, &lens, &nn, why, sizeof why);
      if (a >= 0)
        H5Aclose(a);
    } else {
      snprintf(why, sizeof why, "it has no 'columns' attribute");
    }
  }
  if (is_compound)
    status = open_compound(t, fn, d);
  else if (d >= 0)
    H5Dclose(d);
  H5Eclear2(H5E_DEFAULT);
  tsr__h5_unlock();
  TSR__TRY_GOTO(status, status);
  TSR__CHECK_GOTO(status, t->file >= 0, TSR_EIO, "%s: cannot open '%s': %s", fn, path, why);
  TSR__CHECK_GOTO(status, found, TSR_EIO, "%s: '%s' has no object '%s'", fn, path, object);
  TSR__CHECK_GOTO(status, is_group || is_compound, TSR_EDTYPE,
                  "%s: %s: '%s' is a dataset that is not compound: a frame is read from a table "
                  "group or a compound dataset (an array: tsr_array_from_hdf5)",
                  fn, path, object);
  if (is_group) {
    TSR__CHECK_GOTO(status, format != NULL && strcmp(format, TSR__H5_TABLE_FORMAT) == 0,
                    TSR_EINVAL,
                    "%s: %s: group '%s' is not a table: it has no attribute tessera_format = "
                    "\"table\" (docs/frames.md, \"HDF5 tables\")",
                    fn, path, object);
    TSR__CHECK_GOTO(status, version >= 1 && version <= TSR__H5_TABLE_VERSION, TSR_ENOTSUP,
                    "%s: %s: table '%s' has format version %lld; this tessera reads version %d",
                    fn, path, object, (long long)version, TSR__H5_TABLE_VERSION);
    TSR__CHECK_GOTO(status, listed, TSR_EINVAL, "%s: %s: table '%s': the column list: %s", fn,
                    path, object, why);
    for (int64_t i = 0; i < nn; i++) {
      TSR__CHECK_GOTO(status, lens[i] > 0 && strchr(names[i], '/') == NULL, TSR_EINVAL,
                      "%s: %s: table '%s' lists a column name that is empty or holds '/'", fn,
                      path, object);
      for (int64_t j = 0; j < i; j++)
        TSR__CHECK_GOTO(status, strcmp(names[i], names[j]) != 0, TSR_EINVAL,
                        "%s: %s: table '%s' lists column '%s' twice", fn, path, object, names[i]);
    }
  }
  if (columns != NULL) {
    TSR__CHECK_GOTO(status, split_names(columns, &want, &nwant), TSR_ENOMEM, "%s: out of memory",
                    fn);
  }
  if (is_group) {
    int ncol = columns != NULL ? nwant : (int)nn;
    for (int i = 0; i < ncol; i++) {
      const char *name = columns != NULL ? want[i] : names[i];
      if (columns != NULL) {
        bool have = false;
        for (int64_t j = 0; j < nn && !have; j++)
          have = strcmp(names[j], name) == 0;
        TSR__CHECK_GOTO(status, have, TSR_EINVAL, "%s: %s: table '%s' has no column '%s'", fn,
                        path, object, name);
      }
      TSR__TRY_GOTO(status, open_table_col(t, fn, g, name));
    }
    if (t->nrows < 0)
      t->nrows = 0;
  } else if (columns != NULL) { /* keep the asked fields, in that order */
    rcol *kept = NULL;
    TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)nwant + 1, sizeof *kept, (void **)&kept));
    bool *used = NULL;
    status = tsr_calloc(ctx, (size_t)t->n + 1, 1, (void **)&used);
    for (int i = 0; i < nwant && status == TSR_OK; i++) {
      int k = -1;
      for (int j = 0; j < t->n && k < 0; j++)
        if (strcmp(t->cols[j].name, want[i]) == 0)
          k = j;
      if (k < 0 || used[k])
        status = tsr_error_set(TSR_EINVAL, "%s: %s: compound dataset '%s' has %s field '%s'",
                               fn, path, object, k < 0 ? "no" : "twice asked for the", want[i]);
      else {
        used[k] = true;
        kept[i] = t->cols[k];
      }
    }
    if (status == TSR_OK) {
      for (int j = 0; j < t->n; j++)
        if (!used[j])
          rcol_free(ctx, &t->cols[j]);
      tsr_free(ctx, t->cols);
      t->cols = kept;
      t->n = nwant;
    } else {
      tsr_free(ctx, kept);
    }
    tsr_free(ctx, used);
    TSR__TRY_GOTO(status, status);
  }
  if (t->chunk_rows <= 0)
    t->chunk_rows = INT64_C(1) << 20;
  if (!t->compound) { /* at most about 256 MiB of values per row chunk, whole file chunks */
    uint64_t row_bytes = 1;
    for (int i = 0; i < t->n; i++)
      row_bytes += col_width(t->cols[i].type) + 1;
    int64_t most = (int64_t)((UINT64_C(256) << 20) / row_bytes);
    if (t->chunk_rows > most) {
      int64_t unit = INT64_C(1) << 20;
      for (int i = 0; i < t->n; i++)
        if (t->cols[i].values != NULL && tsr__h5_dataset_info(t->cols[i].values)->chunked) {
          unit = tsr__h5_dataset_info(t->cols[i].values)->chunk[0];
          break;
        }
      t->chunk_rows = most >= unit ? most / unit * unit : (most > 0 ? most : 1);
    }
  }
  *out = t;
  t = NULL;
fail:
  if (g >= 0) {
    tsr__h5_lock();
    H5Gclose(g);
    tsr__h5_unlock();
  }
  if (want != NULL)
    for (int i = 0; i < nwant; i++)
      free(want[i]);
  free(want);
  free(format);
  free_str_list(names, lens, nn);
  tsr__h5_rtable_close(&t);
  return status;
}

/* ---- reading rows ----------------------------------------------------------------------- */

/* Strings of one column for a row range, before they become views. */
typedef struct strtmp {
  int64_t *off;       /* rows + 1 */
  char *data;         /* followed by STR_PAD readable bytes (views load 12 at once) */
  int64_t long_bytes; /* bytes of strings longer than 12 */
} strtmp;

#define STR_PAD 16

static tsr_status strtmp_init(tsr_ctx *ctx, strtmp *s, int64_t rows, size_t bytes) {
  TSR_TRY(tsr__alloc_array(ctx, (size_t)rows + 1, sizeof *s->off, "string offsets",
                           (void **)&s->off));
  TSR_TRY(tsr_alloc(ctx, bytes + STR_PAD, (void **)&s->data));
  memset(s->data + bytes, 0, STR_PAD);
  s->off[0] = 0;
  return TSR_OK;
}

/* Variable-length or fixed-length strings of our own dataset d (under the
 * lock inside). */
static tsr_status read_strings_h5(tsr__h5_rtable *t, rcol *c, int64_t row0, int64_t rows,
                                  strtmp *s) {
  static const char fn[] = "tsr_frame_read_hdf5";
  tsr_ctx *ctx = t->ctx;
  tsr_status status = TSR_OK;
  char why[WHY] = "";
  hsize_t o[1] = {(hsize_t)row0}, n[1] = {(hsize_t)rows};
  void *buf = NULL;
  size_t item = c->kind == RK_VLEN ? sizeof(char *) : c->fixed_size;
  TSR_TRY(tsr__alloc_array(ctx, (size_t)rows, item, "strings", &buf));
  tsr__h5_lock();
  hid_t mt = c->kind == RK_VLEN ? vlen_str_type() : H5Dget_type(c->dset);
  hid_t fs = H5Dget_space(c->dset), ms = H5Screate_simple(1, n, NULL);
  H5T_str_t pad = c->kind == RK_FIXED && mt >= 0 ? H5Tget_strpad(mt) : H5T_STR_NULLTERM;
  herr_t rc = -1;
  if (mt >= 0 && fs >= 0 && ms >= 0 &&
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, o, NULL, n, NULL) >= 0)
    rc = H5Dread(c->dset, mt, ms, fs, H5P_DEFAULT, buf);
  if (rc < 0)
    tsr__h5_explain(why, sizeof why);
  size_t total = 0;
  if (rc >= 0 && c->kind == RK_VLEN)
    for (int64_t i = 0; i < rows; i++) {
      const char *p = ((char **)buf)[i];
      total += p != NULL ? strlen(p) : 0;
    }
  else if (rc >= 0)
    total = (size_t)rows * item;
  if (rc >= 0)
    status = strtmp_init(ctx, s, rows, total);
  if (rc >= 0 && status == TSR_OK) {
    int64_t at = 0;
    for (int64_t i = 0; i < rows; i++) {
      const char *p;
      size_t len;
      if (c->kind == RK_VLEN) {
        p = ((char **)buf)[i];
        len = p != NULL ? strlen(p) : 0;
      } else {
        p = (const char *)buf + (size_t)i * item;
        len = 0;
        while (len < item && p[len] != '\0')
          len++;
        if (pad == H5T_STR_SPACEPAD)
          while (len > 0 && p[len - 1] == ' ')
            len--;
      }
      if (len > 0)
        memcpy(s->data + at, p, len);
      at += (int64_t)len;
      s->off[i + 1] = at;
    }
  }
  if (rc >= 0 && c->kind == RK_VLEN)
    H5Dvlen_reclaim(mt, ms, H5P_DEFAULT, buf);
  if (ms >= 0)
    H5Sclose(ms);
  if (fs >= 0)
    H5Sclose(fs);
  if (mt >= 0)
    H5Tclose(mt);
  H5Eclear2(H5E_DEFAULT);
  tsr__h5_unlock();
  tsr_free(ctx, buf);
  TSR_CHECK(rc >= 0, TSR_EIO, "%s: %s: cannot read rows %lld..%lld of column '%s': %s", fn,
            t->path, (long long)row0, (long long)(row0 + rows), c->name, why);
  return status;
}

/* Strings in the offsets layout: the offsets of rows [row0, row0 + rows)
 * are whole chunks (decompressed in parallel), the one after them a
 * single-element read; then the rows' bytes. */
static tsr_status read_strings_offsets(tsr__h5_rtable *t, rcol *c, int64_t row0, int64_t rows,
                                       strtmp *s) {
  static const char fn[] = "tsr_frame_read_hdf5";
  tsr_ctx *ctx = t->ctx;
  int64_t o[1] = {row0}, n[1] = {rows}, last[1] = {row0 + rows}, one[1] = {1};
  TSR_TRY(tsr__alloc_array(ctx, (size_t)rows + 1, sizeof *s->off, "string offsets",
                           (void **)&s->off));
  int64_t *off = s->off;
  tsr_status status = rows > 0 ? tsr__h5_read_block(c->offsets, o, n, off) : TSR_OK;
  if (status == TSR_OK)
    status = tsr__h5_read_block(c->offsets, last, one, off + rows);
  int64_t nbytes = tsr__h5_dataset_info(c->values)->shape[0];
  if (status == TSR_OK && (off[0] < 0 || off[0] > nbytes))
    status = tsr_error_set(TSR_EINVAL, "%s: %s: the offsets of column '%s' are damaged at row %lld",
                           fn, t->path, c->name, (long long)row0);
  for (int64_t i = 0; i < rows && status == TSR_OK; i++)
    if (off[i] > off[i + 1] || off[i + 1] > nbytes || off[i + 1] - off[i] > INT32_MAX)
      status = tsr_error_set(TSR_EINVAL,
                             "%s: %s: the offsets of column '%s' are damaged at row %lld (%lld, "
                             "%lld; %lld bytes)",
                             fn, t->path, c->name, (long long)(row0 + i), (long long)off[i],
                             (long long)off[i + 1], (long long)nbytes);
  if (status == TSR_OK)
    status = tsr_alloc(ctx, (size_t)(off[rows] - off[0]) + STR_PAD, (void **)&s->data);
  if (status == TSR_OK)
    memset(s->data + (off[rows] - off[0]), 0, STR_PAD);
  if (status == TSR_OK && off[rows] > off[0]) {
    int64_t bo[1] = {off[0]}, bn[1] = {off[rows] - off[0]};
    status = tsr__h5_read_block(c->values, bo, bn, s->data);
  }
  if (status == TSR_OK) {
    int64_t base = off[0];
    for (int64_t i = 0; i <= rows; i++)
      off[i] -= base;
  }
  return status;
}

/* Leaf field c of compound records `recs` as strings. */
static tsr_status field_strings(tsr__h5_rtable *t, const rcol *c, const unsigned char *recs,
                                int64_t rows, strtmp *s) {
  size_t total = 0;
  for (int64_t i = 0; i < rows; i++) {
    const unsigned char *p = recs + (size_t)i * t->rec_size + c->field_off;
    if (c->field_vlen) {
      char *q;
      memcpy(&q, p, sizeof q);
      total += q != NULL ? strlen(q) : 0;
    } else {
      total += c->fixed_size;
    }
  }
  TSR_TRY(strtmp_init(t->ctx, s, rows, total));
  int64_t at = 0;
  for (int64_t i = 0; i < rows; i++) {
    const unsigned char *p = recs + (size_t)i * t->rec_size + c->field_off;
    const char *q;
    size_t len = 0;
    if (c->field_vlen) {
      memcpy(&q, p, sizeof q);
      len = q != NULL ? strlen(q) : 0;
    } else {
      q = (const char *)p;
      while (len < c->fixed_size && q[len] != '\0')
        len++;
    }
    if (len > 0)
      memcpy(s->data + at, q, len);
    at += (int64_t)len;
    s->off[i + 1] = at;
  }
  return TSR_OK;
}

/* Whether every stored chunk of the compound dataset that rows [row0,
 * row0 + rows) touch lies within the file (under the lock): HDF5 1.10.8
 * trusts the chunk index's sizes (see chunks_sound in hdf5.c). */
static bool records_sound(const tsr__h5_rtable *t, int64_t row0, int64_t rows) {
  hid_t dcpl = H5Dget_create_plist(t->dset);
  hsize_t cd[1] = {0}, fsize = 0;
  bool chunked = dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 1, cd) == 1 &&
                 cd[0] > 0;
  if (dcpl >= 0)
    H5Pclose(dcpl);
  bool ok = true;
  if (chunked && H5Fget_filesize(t->file, &fsize) >= 0)
    for (hsize_t c = (hsize_t)row0 / cd[0] * cd[0]; ok && c < (hsize_t)(row0 + rows); c += cd[0]) {
      hsize_t off[1] = {c}, size = 0;
      haddr_t addr = HADDR_UNDEF;
      unsigned mask = 0;
      if (H5Dget_chunk_info_by_coord(t->dset, off, &mask, &addr, &size) < 0)
        ok = false;
      else if (addr != HADDR_UNDEF && size > 0 && (addr > fsize || size > fsize - addr))
        ok = false;
    }
  H5Eclear2(H5E_DEFAULT);
  return ok;
}

/* Reads the records rows [row0, row0 + rows) of the compound dataset into
 * *recs (the caller frees it with free_records). */
static tsr_status read_records(tsr__h5_rtable *t, int64_t row0, int64_t rows, unsigned char **recs) {
  static const char fn[] = "tsr_frame_read_hdf5";
  char why[WHY] = "";
  TSR_TRY(tsr__alloc_array(t->ctx, (size_t)rows + 1, t->rec_size, "records", (void **)recs));
  memset(*recs, 0, (size_t)rows * t->rec_size);
  if (rows == 0)
    return TSR_OK;
  hsize_t o[1] = {(hsize_t)row0}, n[1] = {(hsize_t)rows};
  tsr__h5_lock();
  bool sound = records_sound(t, row0, rows);
  hid_t fs = H5Dget_space(t->dset), ms = H5Screate_simple(1, n, NULL);
  herr_t rc = -1;
  if (sound && fs >= 0 && ms >= 0 &&
      H5Sselect_hyperslab(fs, H5S_SELECT_SET, o, NULL, n, NULL) >= 0)
    rc = H5Dread(t->dset, t->memtype, ms, fs, H5P_DEFAULT, *recs);
  if (!sound)
    snprintf(why, sizeof why, "a chunk of the rows is damaged (it lies past the end of the file)");
  else if (rc < 0)
    tsr__h5_explain(why, sizeof why);
  if (ms >= 0)
    H5Sclose(ms);
  if (fs >= 0)
    H5Sclose(fs);
  H5Eclear2(H5E_DEFAULT);
  tsr__h5_unlock();
  TSR_CHECK(rc >= 0, TSR_EIO, "%s: %s: cannot read rows %lld..%lld of '%s': %s", fn, t->path,
            (long long)row0, (long long)(row0 + rows), t->object, why);
  return TSR_OK;
}

static void free_records(tsr__h5_rtable *t, int64_t rows, unsigned char *recs) {
  if (recs == NULL)
    return;
  if (t->has_vlen && rows > 0) {
    hsize_t n[1] = {(hsize_t)rows};
    tsr__h5_lock();
    hid_t ms = H5Screate_simple(1, n, NULL);
    if (ms >= 0) {
      H5Dvlen_reclaim(t->memtype, ms, H5P_DEFAULT, recs);
      H5Sclose(ms);
    }
    tsr__h5_unlock();
  }
  tsr_free(t->ctx, recs);
}

/* The first string of s (rows [row0, row0 + rows) of column c) that is too
 * long or not UTF-8, as an error; TSR_OK when there is none.  The slow
 * check, string by string, for the message. */
static tsr_status strings_first_bad(const tsr__h5_rtable *t, const rcol *c, int64_t row0,
                                    int64_t rows, const strtmp *s) {
  static const char fn[] = "tsr_frame_read_hdf5";
  for (int64_t r = 0; r < rows; r++) {
    int64_t len = s->off[r + 1] - s->off[r];
    TSR_CHECK(len <= INT32_MAX, TSR_EINVAL,
              "%s: %s: column '%s' row %lld: a string of %lld bytes is too long", fn, t->path,
              c->name, (long long)(row0 + r), (long long)len);
    int64_t bad = csv_utf8_invalid(s->data + s->off[r], (size_t)len);
    TSR_CHECK(bad < 0, TSR_EINVAL, "%s: %s: column '%s' row %lld is not UTF-8 (byte %lld)", fn,
              t->path, c->name, (long long)(row0 + r), (long long)bad);
  }
  return TSR_OK;
}

/* Checks the strings of s: each at most INT32_MAX bytes and UTF-8; *long_bytes
 * the bytes of those longer than 12.  UTF-8 is checked on the bytes as a
 * whole, then that every non-empty string starts on a character (not on a
 * continuation byte): together the same as each string being UTF-8, in one
 * pass over the bytes (ASCII, the common case, in a fast one). */
static tsr_status strings_check(const tsr__h5_rtable *t, const rcol *c, int64_t row0, int64_t rows,
                                const strtmp *s, int64_t *long_bytes) {
  const int64_t *off = s->off;
  int64_t lb = 0;
  bool too_long = false;
  for (int64_t r = 0; r < rows; r++) {
    int64_t len = off[r + 1] - off[r];
    too_long |= len > INT32_MAX;
    lb += len > 12 ? len : 0;
  }
  *long_bytes = lb;
  size_t total = (size_t)off[rows];
  bool ok = !too_long;
  if (ok && !csv_ascii(s->data, total)) {
    ok = csv_utf8_invalid(s->data, total) < 0;
    for (int64_t r = 0; r < rows && ok; r++)
      ok = off[r] == off[r + 1] || ((unsigned char)s->data[off[r]] & 0xC0) != 0x80;
  }
  return ok ? TSR_OK : strings_first_bad(t, c, row0, rows, s);
}

/* The view of a string of at most 12 bytes at p, which has 12 readable
 * bytes (STR_PAD): two loads and masks instead of a memcpy of len bytes. */
static inline tsr_string_view view_inline(const char *p, uint32_t len) {
  tsr_string_view v;
  v.length = len;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t a;
  uint32_t b;
  memcpy(&a, p, 8);
  memcpy(&b, p + 8, 4);
  a &= len >= 8 ? ~UINT64_C(0) : (UINT64_C(1) << (8 * len)) - 1;
  b &= len <= 8 ? 0 : (uint32_t)((UINT64_C(1) << (8 * (len - 8))) - 1);
  memcpy(v.u.inline_data, &a, 8);
  memcpy(v.u.inline_data + 8, &b, 4);
#else
  memset(v.u.inline_data, 0, sizeof v.u.inline_data);
  memcpy(v.u.inline_data, p, len);
#endif
  return v;
}

/* Integer values of dtype `from` in src converted to int32 (to64: int64)
 * in dst; false at the first that does not fit (its index in *bad). */
static bool ints_convert(tsr_dtype from, const void *src, int64_t n, void *dst, bool to64,
                         int64_t *bad) {
  for (int64_t i = 0; i < n; i++) {
    int64_t v;
    switch (from) {
    case TSR_INT8: v = ((const int8_t *)src)[i]; break;
    case TSR_INT16: v = ((const int16_t *)src)[i]; break;
    case TSR_INT32: v = ((const int32_t *)src)[i]; break;
    case TSR_UINT8: v = ((const uint8_t *)src)[i]; break;
    case TSR_UINT16: v = ((const uint16_t *)src)[i]; break;
    case TSR_UINT32: v = ((const uint32_t *)src)[i]; break;
    case TSR_UINT64: {
      uint64_t u = ((const uint64_t *)src)[i];
      if (u > INT64_MAX) {
        *bad = i;
        return false;
      }
      v = (int64_t)u;
      break;
    }
    default: v = ((const int64_t *)src)[i]; break;
    }
    if (to64) {
      ((int64_t *)dst)[i] = v;
    } else {
      if (v < INT32_MIN || v > INT32_MAX) {
        *bad = i;
        return false;
      }
      ((int32_t *)dst)[i] = (int32_t)v;
    }
  }
  return true;
}

tsr_status tsr__h5_rtable_read(tsr__h5_rtable *t, int64_t row0, int64_t rows, void **chunk,
                               uint64_t *bytes) {
  static const char fn[] = "tsr_frame_read_hdf5";
  tsr_ctx *ctx = t->ctx;
  tsr_status status = TSR_OK;
  int n = t->n;
  strtmp *st = NULL;
  size_t *widths = NULL;
  int64_t *dcap = NULL;
  unsigned char *recs = NULL, *scratch = NULL;
  void *buf = NULL;
  *chunk = NULL;
  *bytes = 0;
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *st, (void **)&st));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *widths, (void **)&widths));
  TSR__TRY_GOTO(status, tsr_calloc(ctx, (size_t)n + 1, sizeof *dcap, (void **)&dcap));
  if (t->compound)
    TSR__TRY_GOTO(status, read_records(t, row0, rows, &recs));
  /* strings first: their bytes size the chunk */
  for (int i = 0; i < n; i++) {
    rcol *c = &t->cols[i];
    widths[i] = col_width(c->type);
    if (c->type.id != TSR_COL_STRING)
      continue;
    if (c->kind == RK_FIELD)
      TSR__TRY_GOTO(status, field_strings(t, c, recs, rows, &st[i]));
    else if (c->kind == RK_OFFSETS)
      TSR__TRY_GOTO(status, read_strings_offsets(t, c, row0, rows, &st[i]));
    else
      TSR__TRY_GOTO(status, read_strings_h5(t, c, row0, rows, &st[i]));
    int64_t lb = 0;
    TSR__TRY_GOTO(status, strings_check(t, c, row0, rows, &st[i], &lb));
    TSR__CHECK_GOTO(status, lb <= UINT32_MAX, TSR_EINVAL,
                    "%s: %s: column '%s': rows %lld.. hold more than 4 GiB of strings", fn,
                    t->path, c->name, (long long)row0);
    dcap[i] = lb;
  }
  uint64_t nb = 0;
  TSR__CHECK_GOTO(status, tsr__tablechunk_bytes((uint32_t)n, widths, rows, dcap, &nb), TSR_ENOMEM,
                  "%s: %s: a chunk of %lld rows is too large", fn, t->path, (long long)rows);
  TSR__TRY_GOTO(status, tsr_alloc(ctx, (size_t)nb, &buf));
  tsr__tablechunk_init(buf, nb, (uint32_t)n, widths, rows, dcap);
  int64_t off[1] = {row0}, cnt[1] = {rows};
  for (int i = 0; i < n; i++) {
    rcol *c = &t->cols[i];
    tsr__colchunk *cc = tsr__tablechunk_col(buf, (uint32_t)i);
    cc->rows = rows;
    void *vals = tsr__colchunk_values(cc);
    if (c->type.id == TSR_COL_STRING) {
      tsr_string_view *v = vals;
      const int64_t *so = st[i].off;
      const char *sd = st[i].data;
      for (int64_t r = 0; r < rows; r++) {
        uint32_t len = (uint32_t)(so[r + 1] - so[r]);
        v[r] = len <= 12 ? view_inline(sd + so[r], len) : tsr__view_make(cc, sd + so[r], len);
      }
    } else if (c->kind == RK_FIELD) {
      size_t w = widths[i];
      for (int64_t r = 0; r < rows; r++)
        memcpy((unsigned char *)vals + (size_t)r * w, recs + (size_t)r * t->rec_size + c->field_off,
               w);
    } else if (rows > 0) {
      tsr_dtype want = col_dtype(c->type);
      if (c->dtype == want) {
        TSR__TRY_GOTO(status, tsr__h5_read_block(c->values, off, cnt, vals));
      } else {
        if (scratch == NULL) /* only for conversions and validity */
          TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)rows + 1, 8, "scratch",
                                                 (void **)&scratch));
        TSR__TRY_GOTO(status, tsr__h5_read_block(c->values, off, cnt, scratch));
        int64_t bad = 0;
        TSR__CHECK_GOTO(status,
                        ints_convert(c->dtype, scratch, rows, vals, want == TSR_INT64, &bad),
                        TSR_EINVAL, "%s: %s: column '%s' row %lld: the value does not fit %s", fn,
                        t->path, c->name, (long long)(row0 + bad),
                        want == TSR_INT64 ? "int64" : "int32");
      }
    }
    if (c->valid != NULL && rows > 0) {
      if (scratch == NULL)
        TSR__TRY_GOTO(status, tsr__alloc_array(ctx, (size_t)rows + 1, 8, "scratch",
                                               (void **)&scratch));
      TSR__TRY_GOTO(status, tsr__h5_read_block(c->valid, off, cnt, scratch));
      uint8_t *bits = tsr__colchunk_validity(cc);
      memset(bits, 0, (size_t)(rows + 7) / 8);
      int64_t nulls = 0;
      for (int64_t r = 0; r < rows; r++) {
        bool ok = scratch[r] != 0;
        bits[r >> 3] |= (uint8_t)((unsigned)ok << (r & 7));
        nulls += !ok;
      }
      cc->null_count = nulls;
    }
    if (c->type.id == TSR_COL_BOOL) {
      uint8_t *b = vals;
      for (int64_t r = 0; r < rows; r++)
        b[r] = b[r] != 0;
    } else if (c->type.id == TSR_COL_DICT) {
      int32_t *codes = vals;
      const uint8_t *bits = cc->null_count > 0 ? tsr__colchunk_validity(cc) : NULL;
      /* without nulls, one branch-free pass that vectorizes: code x is in
       * [0, lim) exactly when neither x nor lim - 1 - x has its top bit set
       * (as uint32: a negative code is large; lim 0 flags every code) */
      uint32_t lim = c->dict_size > INT32_MAX ? UINT32_C(1) << 31 : (uint32_t)c->dict_size;
      bool out = bits != NULL;
      if (bits == NULL) {
        uint32_t any = 0, top = lim - 1;
        for (int64_t r = 0; r < rows; r++) {
          uint32_t x = (uint32_t)codes[r];
          any |= x | (top - x);
        }
        out = (any >> 31) != 0;
      }
      for (int64_t r = 0; r < rows && out; r++) {
        if (bits != NULL && !tsr__bit_get(bits, r)) {
          codes[r] = 0;
          continue;
        }
        TSR__CHECK_GOTO(status, codes[r] >= 0 && codes[r] < c->dict_size, TSR_EINVAL,
                        "%s: %s: column '%s' row %lld: code %d is outside its dictionary of "
                        "%lld strings",
                        fn, t->path, c->name, (long long)(row0 + r), (int)codes[r],
                        (long long)c->dict_size);
      }
    }
  }
  *chunk = buf;
  *bytes = nb;
  buf = NULL;
fail:
  tsr_free(ctx, buf);
  if (st != NULL)
    for (int i = 0; i < n; i++) {
      tsr_free(ctx, st[i].off);
      tsr_free(ctx, st[i].data);
    }
  tsr_free(ctx, st);
  tsr_free(ctx, widths);
  tsr_free(ctx, dcap);
  tsr_free(ctx, scratch);
  free_records(t, rows, recs);
  return status;
}
