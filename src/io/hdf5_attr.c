/* hdf5_attr.c — HDF5 attributes (tessera/io.h): units, descriptions and
 * fill values written on the datasets tsr_store_hdf5 makes, and read from
 * any object of a file (`tessera info`, eval's attr()).
 *
 * Written as h5py writes Python values, so h5py and pandas users read them
 * as str, float and int: strings as scalar variable-length UTF-8, numbers
 * as scalar float64 / int64.  Read: scalar or one-element string, integer
 * and float attributes of any width and byte order (HDF5 converts); every
 * other attribute is reported as TSR_ATTR_OTHER with a description, never
 * skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "hdf5_io.h"

tsr_status tsr__h5_dataset_write_attrs(tsr__h5_dataset *d, const tsr_attr *attrs, size_t n) {
  hid_t obj = tsr__h5_dataset_hid(d);
  tsr_status status = TSR_OK;
  char why[512] = "";
  tsr__h5_lock();
  for (size_t i = 0; i < n && status == TSR_OK; i++) {
    const tsr_attr *a = &attrs[i];
    hid_t type = -1, space = H5Screate(H5S_SCALAR), attr = -1;
    const void *value = NULL;
    if (a->type == TSR_ATTR_STRING) {
      type = H5Tcopy(H5T_C_S1);
      if (type >= 0 && (H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0))
        type = (H5Tclose(type), -1);
      value = &a->string;
    } else {
      type = H5Tcopy(a->type == TSR_ATTR_FLOAT64 ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64);
      value = a->type == TSR_ATTR_FLOAT64 ? (const void *)&a->f64 : (const void *)&a->i64;
    }
    if (type >= 0 && space >= 0)
      attr = H5Acreate2(obj, a->name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = attr >= 0 && H5Awrite(attr, type, value) >= 0;
    if (!ok) {
      tsr__h5_explain(why, sizeof why);
      status = tsr_error_set(TSR_EIO,
                             "tsr_store_hdf5: cannot write attribute '%s' of dataset '%s' in '%s': %s",
                             a->name, tsr__h5_dataset_name(d), tsr__h5_dataset_path(d), why);
    }
    if (attr >= 0)
      H5Aclose(attr);
    if (type >= 0)
      H5Tclose(type);
    if (space >= 0)
      H5Sclose(space);
  }
  tsr__h5_unlock();
  return status;
}

/* ---- reading ------------------------------------------------------------------------------ */

typedef struct attr_list {
  tsr_ctx *ctx;
  tsr_attr *items;
  size_t n, cap;
  tsr_status status;
} attr_list;

static tsr_status save_string(attr_list *l, const char *text, size_t len, const char **out) {
  char *s;
  TSR_TRY(tsr_alloc(l->ctx, len + 1, (void **)&s));
  memcpy(s, text, len);
  s[len] = '\0';
  *out = s;
  return TSR_OK;
}

/* What an attribute of an unsupported type is, e.g. "int32[3]", "compound". */
static void describe(hid_t type, hid_t space, char *buf, size_t size) {
  static const char *const classes[] = {
      [H5T_INTEGER] = "integer", [H5T_FLOAT] = "float",       [H5T_TIME] = "time",
      [H5T_STRING] = "string",   [H5T_BITFIELD] = "bitfield", [H5T_OPAQUE] = "opaque",
      [H5T_COMPOUND] = "compound", [H5T_REFERENCE] = "reference", [H5T_ENUM] = "enum",
      [H5T_VLEN] = "vlen",       [H5T_ARRAY] = "array"};
  H5T_class_t c = H5Tget_class(type);
  const char *name = c >= 0 && (size_t)c < sizeof classes / sizeof *classes && classes[c]
                         ? classes[c]
                         : "unknown type";
  hssize_t count = H5Sget_simple_extent_npoints(space);
  if (H5Sget_simple_extent_type(space) == H5S_NULL)
    snprintf(buf, size, "%s (empty)", name);
  else if (count == 1)
    snprintf(buf, size, "%s", name);
  else
    snprintf(buf, size, "%s[%lld]", name, (long long)count);
}

static herr_t read_one(hid_t obj, const char *name, const H5A_info_t *info, void *user) {
  (void)info;
  attr_list *l = user;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 8;
    l->status = tsr__grow_array(l->ctx, (void **)&l->items, l->n, cap, sizeof *l->items, "attributes");
    if (l->status != TSR_OK)
      return -1;
    l->cap = cap;
  }
  tsr_attr *a = &l->items[l->n];
  memset(a, 0, sizeof *a);
  l->status = save_string(l, name, strlen(name), &a->name);
  if (l->status != TSR_OK)
    return -1;
  l->n++;
  hid_t attr = H5Aopen(obj, name, H5P_DEFAULT);
  hid_t type = attr >= 0 ? H5Aget_type(attr) : -1, space = attr >= 0 ? H5Aget_space(attr) : -1;
  H5T_class_t c = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
  bool one = space >= 0 && H5Sget_simple_extent_type(space) != H5S_NULL &&
             H5Sget_simple_extent_npoints(space) == 1;
  bool done = false;
  if (one && c == H5T_STRING) {
    if (H5Tis_variable_str(type) > 0) {
      hid_t mem = H5Tcopy(H5T_C_S1);
      H5Tset_size(mem, H5T_VARIABLE);
      H5Tset_cset(mem, H5Tget_cset(type));
      char *text = NULL;
      if (H5Aread(attr, mem, &text) >= 0) {
        l->status = save_string(l, text ? text : "", text ? strlen(text) : 0, &a->string);
        H5free_memory(text);
        done = true;
      }
      H5Tclose(mem);
    } else {
      size_t size = H5Tget_size(type);
      char *buf = malloc(size + 1);
      if (buf != NULL && H5Aread(attr, type, buf) >= 0) {
        size_t len = strnlen(buf, size); /* NUL-terminated or -padded, or space-padded */
        if (H5Tget_strpad(type) == H5T_STR_SPACEPAD)
          while (len > 0 && buf[len - 1] == ' ')
            len--;
        l->status = save_string(l, buf, len, &a->string);
        done = true;
      }
      free(buf);
    }
    a->type = TSR_ATTR_STRING;
  } else if (one && c == H5T_FLOAT) {
    done = H5Aread(attr, H5T_NATIVE_DOUBLE, &a->f64) >= 0;
    a->type = TSR_ATTR_FLOAT64;
  } else if (one && c == H5T_INTEGER) {
    bool big_unsigned = H5Tget_sign(type) == H5T_SGN_NONE && H5Tget_size(type) >= 8;
    uint64_t u = 0;
    if (big_unsigned && H5Aread(attr, H5T_NATIVE_UINT64, &u) >= 0) {
      done = true;
      if (u > (uint64_t)INT64_MAX) { /* does not fit: its value as a float */
        a->type = TSR_ATTR_FLOAT64;
        a->f64 = (double)u;
      } else {
        a->type = TSR_ATTR_INT64;
        a->i64 = (int64_t)u;
      }
    } else if (!big_unsigned) {
      done = H5Aread(attr, H5T_NATIVE_INT64, &a->i64) >= 0;
      a->type = TSR_ATTR_INT64;
    }
  }
  if (l->status == TSR_OK && !done) {
    char what[64] = "unreadable";
    if (type >= 0 && space >= 0)
      describe(type, space, what, sizeof what);
    a->type = TSR_ATTR_OTHER;
    l->status = save_string(l, what, strlen(what), &a->string);
  }
  if (space >= 0)
    H5Sclose(space);
  if (type >= 0)
    H5Tclose(type);
  if (attr >= 0)
    H5Aclose(attr);
  H5Eclear2(H5E_DEFAULT);
  return l->status == TSR_OK ? 0 : -1;
}

tsr_status tsr_hdf5_attrs_read(tsr_ctx *ctx, const char *path, const char *object,
                               tsr_attr **attrs, size_t *n) {
  static const char fn[] = "tsr_hdf5_attrs_read";
  TSR_CHECK(attrs != NULL && n != NULL, TSR_EINVAL, "%s: attrs or n is NULL", fn);
  *attrs = NULL;
  *n = 0;
  TSR_CHECK(ctx != NULL, TSR_EINVAL, "%s: ctx is NULL", fn);
  TSR_CHECK(path != NULL && path[0] != '\0', TSR_EINVAL, "%s: path is NULL or empty", fn);
  if (object == NULL || object[0] == '\0')
    object = "/";
  attr_list l = {ctx, NULL, 0, 0, TSR_OK};
  char why[512] = "";
  tsr_status status = TSR_OK;
  tsr__h5_lock();
  hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t obj = file >= 0 ? H5Oopen(file, object, H5P_DEFAULT) : -1;
  if (file < 0 || obj < 0) {
    tsr__h5_explain(why, sizeof why);
    status = file < 0 ? tsr_error_set(TSR_EIO, "%s: cannot open '%s' as an HDF5 file: %s", fn,
                                      path, why)
                      : tsr_error_set(TSR_EIO, "%s: '%s' has no object '%s'", fn, path, object);
  } else {
    hsize_t idx = 0;
    if (H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &idx, read_one, &l) < 0) {
      if (l.status == TSR_OK) {
        tsr__h5_explain(why, sizeof why);
        l.status = tsr_error_set(TSR_EIO, "%s: cannot read the attributes of '%s' in '%s': %s",
                                 fn, object, path, why);
      }
      status = l.status;
    }
  }
  if (obj >= 0)
    H5Oclose(obj);
  if (file >= 0)
    H5Fclose(file);
  tsr__h5_unlock();
  if (status != TSR_OK) {
    tsr_hdf5_attrs_free(ctx, &l.items, l.n);
    return status;
  }
  *attrs = l.items;
  *n = l.n;
  return TSR_OK;
}

void tsr_hdf5_attrs_free(tsr_ctx *ctx, tsr_attr **attrs, size_t n) {
  if (attrs == NULL || *attrs == NULL)
    return;
  for (size_t i = 0; i < n; i++) {
    tsr_free(ctx, (void *)(*attrs)[i].name);
    tsr_free(ctx, (void *)(*attrs)[i].string);
  }
  tsr_free(ctx, *attrs);
  *attrs = NULL;
}
