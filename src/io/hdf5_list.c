/* hdf5_list.c — tsr_hdf5_list: the groups and datasets of an HDF5 file
 * with their types, shapes, chunking, filters and sizes (`tessera info`).
 *
 * The walk (H5Lvisit over hard links, in name order) happens under the
 * HDF5 lock and collects plain entries; the caller's function is called
 * afterwards, outside the lock, so it may call tessera (and HDF5 through
 * tessera) itself. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "hdf5_io.h"

typedef struct entry_list {
  tsr_hdf5_entry *items;
  size_t n, cap;
  bool failed;
} entry_list;

/* The type as tessera reads it (tsr__h5_file_dtype, as eval does): an
 * enum is its integer base ("int16 (enum)"), h5py's bool enum is bool. */
static const char *type_name(hid_t t, bool *supported) {
  H5T_class_t cls = H5Tget_class(t);
  size_t size = H5Tget_size(t);
  tsr_dtype dtype = tsr__h5_file_dtype(t);
  *supported = dtype != TSR_NUM_DTYPES;
  if (*supported && cls == H5T_ENUM && dtype != TSR_BOOL) {
    static const char *const enums[] = {
        [TSR_INT8] = "int8 (enum)",     [TSR_INT16] = "int16 (enum)",
        [TSR_INT32] = "int32 (enum)",   [TSR_INT64] = "int64 (enum)",
        [TSR_UINT8] = "uint8 (enum)",   [TSR_UINT16] = "uint16 (enum)",
        [TSR_UINT32] = "uint32 (enum)", [TSR_UINT64] = "uint64 (enum)"};
    if ((size_t)dtype < sizeof enums / sizeof enums[0] && enums[dtype] != NULL)
      return enums[dtype];
  }
  if (*supported)
    return tsr_dtype_name(dtype);
  switch (cls) {
  case H5T_INTEGER:
    return "integer";
  case H5T_FLOAT:
    return size == 2 ? "float16" : "float";
  case H5T_ENUM:
    return "enum";
  case H5T_STRING:
    return "string";
  case H5T_COMPOUND:
    return "compound";
  case H5T_ARRAY:
    return "array";
  case H5T_VLEN:
    return "vlen";
  case H5T_OPAQUE:
    return "opaque";
  case H5T_REFERENCE:
    return "reference";
  case H5T_BITFIELD:
    return "bitfield";
  default:
    return "unknown";
  }
}

/* "shuffle + deflate 4 + lzf (filter 32000)" (malloc'd; NULL when out of
 * memory). */
static char *filter_text(hid_t pl) {
  int nf = H5Pget_nfilters(pl);
  size_t cap = 64 + (nf > 0 ? (size_t)nf * 96 : 0), at = 0;
  char *text = malloc(cap);
  if (text == NULL)
    return NULL;
  text[0] = '\0';
  for (int f = 0; f < nf; f++) {
    unsigned flags, cd[8];
    size_t ncd = 8;
    char fname[64] = "";
    H5Z_filter_t id = H5Pget_filter2(pl, (unsigned)f, &flags, &ncd, cd, sizeof fname, fname, NULL);
    char one[96];
    switch (id) {
    case H5Z_FILTER_DEFLATE:
      snprintf(one, sizeof one, "deflate %u", ncd > 0 ? cd[0] : 0);
      break;
    case H5Z_FILTER_SHUFFLE:
      snprintf(one, sizeof one, "shuffle");
      break;
    case H5Z_FILTER_FLETCHER32:
      snprintf(one, sizeof one, "fletcher32");
      break;
    case H5Z_FILTER_SZIP:
      snprintf(one, sizeof one, "szip");
      break;
    case H5Z_FILTER_NBIT:
      snprintf(one, sizeof one, "nbit");
      break;
    case H5Z_FILTER_SCALEOFFSET:
      snprintf(one, sizeof one, "scaleoffset");
      break;
    default:
      fname[sizeof fname - 1] = '\0';
      if (id < 0)
        snprintf(one, sizeof one, "unreadable filter");
      else if (fname[0] != '\0')
        snprintf(one, sizeof one, "%.48s (filter %d)", fname, (int)id);
      else
        snprintf(one, sizeof one, "filter %d", (int)id);
    }
    bool avail = id >= 0 && H5Zfilter_avail(id) > 0;
    at += (size_t)snprintf(text + at, cap - at, "%s%s%s", f ? " + " : "", one,
                           avail ? "" : " [not available]");
    if (at >= cap)
      break;
  }
  return text;
}

static bool add(entry_list *l, const char *path, tsr_hdf5_entry *e) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    tsr_hdf5_entry *grown = realloc(l->items, cap * sizeof *grown);
    if (grown == NULL)
      return false;
    l->items = grown;
    l->cap = cap;
  }
  char *copy = strdup(path);
  if (copy == NULL)
    return false;
  e->path = copy;
  l->items[l->n++] = *e;
  return true;
}

/* Describes the object at `name` (relative to loc) as `path`. */
static bool describe(hid_t loc, const char *name, const char *path, entry_list *l) {
  H5O_info_t info;
  if (H5Oget_info_by_name2(loc, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    return true; /* dangling or unreadable: skip */
  tsr_hdf5_entry e;
  memset(&e, 0, sizeof e);
  e.deflate_level = -1;
  if (info.type != H5O_TYPE_DATASET)
    return add(l, path, &e);
  e.is_dataset = true;
  hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
  if (d < 0)
    return add(l, path, &e);
  hid_t t = H5Dget_type(d), sp = H5Dget_space(d), pl = H5Dget_create_plist(d);
  e.type = t >= 0 ? type_name(t, &e.supported) : "unknown";
  hsize_t dims[H5S_MAX_RANK];
  int nd = sp >= 0 ? H5Sget_simple_extent_dims(sp, dims, NULL) : 0;
  e.ndim = nd > 0 && nd <= TSR_MAX_NDIM ? nd : 0;
  uint64_t n = 1;
  bool too_big = false; /* saturate: a size past 2^64 - 1 is shown as such */
  for (int i = 0; i < e.ndim; i++) {
    e.shape[i] = (int64_t)dims[i];
    too_big |= __builtin_mul_overflow(n, (uint64_t)dims[i], &n);
  }
  too_big |= __builtin_mul_overflow(n, t >= 0 ? (uint64_t)H5Tget_size(t) : 0, &e.logical_bytes);
  if (too_big && n != 0)
    e.logical_bytes = UINT64_MAX;
  e.stored_bytes = (uint64_t)H5Dget_storage_size(d);
  H5D_layout_t layout = pl >= 0 ? H5Pget_layout(pl) : H5D_LAYOUT_ERROR;
  e.layout = layout == H5D_CHUNKED      ? "chunked"
             : layout == H5D_COMPACT    ? "compact"
             : layout == H5D_VIRTUAL    ? "virtual"
             : layout == H5D_CONTIGUOUS ? "contiguous"
                                        : "unknown";
  if (layout == H5D_VIRTUAL) {
    size_t count = 0;
    if (H5Pget_virtual_count(pl, &count) >= 0)
      e.sources = count;
  }
  if (pl >= 0 && (e.filters = filter_text(pl)) == NULL) {
    H5Pclose(pl);
    if (sp >= 0)
      H5Sclose(sp);
    if (t >= 0)
      H5Tclose(t);
    H5Dclose(d);
    return false;
  }
  if (pl >= 0 && layout == H5D_CHUNKED) {
    hsize_t ch[H5S_MAX_RANK];
    int cn = H5Pget_chunk(pl, H5S_MAX_RANK, ch);
    e.chunked = cn == e.ndim;
    for (int i = 0; e.chunked && i < cn; i++)
      e.chunks[i] = (int64_t)ch[i];
    int nf = H5Pget_nfilters(pl);
    for (int f = 0; f < nf; f++) {
      unsigned flags, cd[8];
      size_t ncd = 8;
      char fname[64];
      H5Z_filter_t id =
          H5Pget_filter2(pl, (unsigned)f, &flags, &ncd, cd, sizeof fname, fname, NULL);
      if (id == H5Z_FILTER_DEFLATE)
        e.deflate_level = ncd > 0 ? (int)cd[0] : 0;
      else if (id == H5Z_FILTER_SHUFFLE)
        e.shuffle = true;
      else
        e.other_filters++;
    }
  }
  if (pl >= 0)
    H5Pclose(pl);
  if (sp >= 0)
    H5Sclose(sp);
  if (t >= 0)
    H5Tclose(t);
  H5Dclose(d);
  return add(l, path, &e);
}

typedef struct walk_state {
  entry_list *l;
  const char *prefix; /* the object walked, "/" or "/g" */
} walk_state;

static bool link_path(const walk_state *w, const char *name, char **out) {
  size_t size = strlen(w->prefix) + strlen(name) + 2;
  if ((*out = malloc(size)) == NULL)
    return false;
  snprintf(*out, size, "%s%s%s", w->prefix, strcmp(w->prefix, "/") == 0 ? "" : "/", name);
  return true;
}

/* A soft or external link: its target, not followed (H5Lvisit does not
 * follow them); dangling when the target does not resolve. */
static bool describe_link(hid_t group, const char *name, const H5L_info_t *info, walk_state *w) {
  tsr_hdf5_entry e;
  memset(&e, 0, sizeof e);
  e.deflate_level = -1;
  e.link = info->type == H5L_TYPE_SOFT ? "soft" : "external";
  size_t size = info->u.val_size;
  char *val = malloc(size + 1), *target = NULL, *path = NULL;
  if (val == NULL)
    return false;
  bool ok = H5Lget_val(group, name, val, size, H5P_DEFAULT) >= 0;
  val[size] = '\0';
  if (ok && info->type == H5L_TYPE_EXTERNAL) {
    const char *file = NULL, *obj = NULL;
    unsigned flags;
    ok = H5Lunpack_elink_val(val, size, &flags, &file, &obj) >= 0 && file != NULL && obj != NULL;
    size_t n = ok ? strlen(file) + strlen(obj) + 2 : 0;
    if (ok && (target = malloc(n)) != NULL)
      snprintf(target, n, "%s:%s", file, obj);
  } else if (ok) {
    target = strdup(val);
  }
  free(val);
  if (!ok) { /* unreadable value: show the link without a target */
    target = strdup("?");
  }
  if (target == NULL)
    return false;
  e.target = target;
  e.dangling = H5Oexists_by_name(group, name, H5P_DEFAULT) <= 0;
  H5Eclear2(H5E_DEFAULT);
  ok = link_path(w, name, &path) && add(w->l, path, &e);
  free(path);
  if (!ok)
    free(target);
  return ok;
}

static herr_t visit(hid_t group, const char *name, const H5L_info_t *info, void *data) {
  walk_state *w = data;
  if (info->type == H5L_TYPE_SOFT || info->type == H5L_TYPE_EXTERNAL)
    return describe_link(group, name, info, w) ? 0 : -1;
  if (info->type != H5L_TYPE_HARD)
    return 0;
  size_t size = strlen(w->prefix) + strlen(name) + 2; /* no limit on names' lengths */
  char *path = malloc(size);
  if (path == NULL)
    return -1;
  snprintf(path, size, "%s%s%s", w->prefix, strcmp(w->prefix, "/") == 0 ? "" : "/", name);
  bool ok = describe(group, name, path, w->l);
  free(path);
  return ok ? 0 : -1;
}

tsr_status tsr_hdf5_list(const char *path, const char *object, tsr_hdf5_visit_fn fn, void *user) {
  TSR_CHECK(path != NULL && fn != NULL, TSR_EINVAL, "tsr_hdf5_list: %s is NULL",
            path == NULL ? "path" : "fn");
  if (object == NULL || object[0] == '\0')
    object = "/";
  entry_list l = {0};
  tsr_status status = TSR_OK;
  tsr__h5_lock();
  hid_t f = H5Fis_hdf5(path) > 0 ? H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT) : -1;
  if (f < 0) {
    struct stat st;
    FILE *probe = NULL;
    int e = 0;
    if (stat(path, &st) != 0)
      e = errno;
    else if (S_ISDIR(st.st_mode))
      e = EISDIR;
    else if ((probe = fopen(path, "rb")) == NULL)
      e = errno;
    status = tsr_error_set(TSR_EIO, "cannot open '%s': %s", path,
                           e != 0 ? strerror(e) : "not an HDF5 file");
    if (probe != NULL)
      fclose(probe);
  } else if (strcmp(object, "/") != 0 && H5Lexists(f, object, H5P_DEFAULT) <= 0) {
    status = tsr_error_set(TSR_EIO, "'%s' has no object '%s'", path, object);
  } else {
    H5O_info_t info;
    bool ok = H5Oget_info_by_name2(f, object, &info, H5O_INFO_BASIC, H5P_DEFAULT) >= 0 &&
              describe(f, object, object, &l);
    if (ok && info.type == H5O_TYPE_GROUP) {
      hid_t g = H5Gopen2(f, object, H5P_DEFAULT);
      walk_state w = {&l, object};
      ok = g >= 0 && H5Lvisit(g, H5_INDEX_NAME, H5_ITER_INC, visit, &w) >= 0;
      if (g >= 0)
        H5Gclose(g);
    }
    if (!ok)
      status = tsr_error_set(TSR_EIO, "reading the objects of '%s' in '%s' failed", object, path);
  }
  if (f >= 0)
    H5Fclose(f);
  tsr__h5_unlock();
  for (size_t i = 0; i < l.n && status == TSR_OK; i++)
    if (fn(&l.items[i], user) != 0)
      break;
  for (size_t i = 0; i < l.n; i++) {
    free((char *)l.items[i].path);
    free((char *)l.items[i].filters);
    free((char *)l.items[i].target);
  }
  free(l.items);
  return status;
}
