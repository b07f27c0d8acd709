/* tessera/frame.h — dataframes: ordered sets of named, typed columns that
 * share one partitioning into row chunks (docs/frames.md).
 *
 * Frames are immutable and lazy, like arrays: every operation records a
 * node and returns a new frame through an out-parameter; computing (into
 * memory, a file, or a count) lowers what is needed into one task graph that
 * runs on the context's threads and, under MPI, on every rank (every call
 * that computes is collective).  Row chunks depend on the input alone (a
 * CSV is cut into byte blocks snapped to record boundaries, a buffer into
 * chunks of a given row count), never on the thread or rank count, and
 * partial results are combined in trees shaped by chunk numbers, so every
 * result is bitwise identical for any number of threads and ranks.
 *
 * Column expressions given as text (`tsr_frame_assign(f, "w", "v1 * 2")`)
 * live with the expression language, in tessera/query.h. */
#ifndef TESSERA_FRAME_H
#define TESSERA_FRAME_H

#include <tessera/array.h>
#include <tessera/core.h>
#include <tessera/io.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tsr_frame tsr_frame;

/* ------------------------------------------------------------------------ */
/* Column types                                                             */
/* ------------------------------------------------------------------------ */

typedef enum tsr_coltype {
  TSR_COL_BOOL = 0, /* one byte per value, 0 or 1 */
  TSR_COL_INT8,
  TSR_COL_INT16,
  TSR_COL_INT32,
  TSR_COL_INT64,
  TSR_COL_UINT8,
  TSR_COL_UINT16,
  TSR_COL_UINT32,
  TSR_COL_UINT64,
  TSR_COL_FLOAT32,
  TSR_COL_FLOAT64,
  TSR_COL_STRING,    /* UTF-8, 16-byte views (tsr_string_view) */
  TSR_COL_DICT,      /* int32 codes into one sorted dictionary of strings per column */
  TSR_COL_DATE,      /* int32 days since 1970-01-01 */
  TSR_COL_TIMESTAMP, /* int64 units (tsr_time_unit) since 1970-01-01 00:00:00 */
  TSR_NUM_COLTYPES
} tsr_coltype;

typedef enum tsr_time_unit {
  TSR_TIME_S = 0,
  TSR_TIME_MS = 1,
  TSR_TIME_US = 2, /* the default, as DuckDB's TIMESTAMP */
  TSR_TIME_NS = 3,
} tsr_time_unit;

/* A column's full type. */
typedef struct tsr_type {
  tsr_coltype id;
  tsr_time_unit unit; /* timestamps only; 0 otherwise */
} tsr_type;

/* "bool", "int8".."uint64", "float32", "float64", "string", "dict",
 * "date", "timestamp[us]" (with its unit); "invalid" otherwise. */
TSR_API const char *tsr_type_name(tsr_type type);
/* Parses the names above, NumPy's short names ("i8", "f8"), and "str",
 * "timestamp" (microseconds), "timestamp[s|ms|us|ns]", "datetime". */
TSR_API TSR_NODISCARD tsr_status tsr_type_parse(const char *name, tsr_type *out);
/* Bytes per value in a chunk: 1..8, 16 for strings, 4 for dictionary codes. */
TSR_API size_t tsr_type_width(tsr_type type);
/* The array dtype holding the type's values (date: int32, timestamp and
 * dictionary codes: int64/int32); TSR_NUM_DTYPES for strings. */
TSR_API tsr_dtype tsr_type_dtype(tsr_type type);

/* A string value in the Arrow string-view layout: 16 bytes; strings of at
 * most 12 bytes are stored inline, longer ones keep a 4-byte prefix and an
 * offset into their chunk's data buffer.  No pointers, so chunks move,
 * spill and travel between ranks as they are. */
typedef struct tsr_string_view {
  uint32_t length;
  union {
    char inline_data[12]; /* length <= 12 */
    struct {
      char prefix[4];
      uint32_t buffer; /* always 0: one data buffer per chunk */
      uint32_t offset; /* into the chunk's data buffer */
    } ref;               /* length > 12 */
  } u;
} tsr_string_view;

/* ------------------------------------------------------------------------ */
/* Creating frames                                                          */
/* ------------------------------------------------------------------------ */

/* One column handed over from C.  Fixed-width types read `values` (length
 * values of tsr_type_width bytes; bool one byte per value).  Strings read
 * Arrow's offsets layout: `offsets` (length + 1 int64 values, from 0) into
 * `data`.  Dictionaries read int32 codes in `values` and the dictionary in
 * `dict_offsets` (dict_size + 1) / `dict_data`: distinct strings in
 * strictly increasing byte order.  `validity` is an Arrow bitmap (bit i of
 * byte i / 8, least significant first; 1 = valid), or NULL when every value
 * is valid. */
typedef struct tsr_column_data {
  const char *name;
  tsr_type type;
  int64_t length;
  const void *values;
  const uint8_t *validity;
  const int64_t *offsets;
  const char *data;
  int64_t dict_size;
  const int64_t *dict_offsets;
  const char *dict_data;
} tsr_column_data;

/* A frame of n columns of equal length, cut into chunks of chunk_rows rows
 * (0: automatic, 1 Mi rows).  The buffers are read when the frame is
 * computed: TSR_BUFFER_BORROW reads them in place (they must outlive every
 * computation); TSR_BUFFER_COPY copies them now; TSR_BUFFER_ADOPT takes
 * them over and calls free_fn(buffer, free_user) on each non-NULL buffer
 * pointer of every column (values, validity, offsets, data, dict_offsets,
 * dict_data) when the last frame using them is gone, also when this call
 * fails.  Dictionaries are always copied.  Names must be distinct and
 * non-empty; codes must index the dictionary, offsets must increase.  The
 * caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_from_columns(tsr_ctx *ctx, int n,
                                                        const tsr_column_data *columns,
                                                        int64_t chunk_rows, tsr_buffer_mode mode,
                                                        tsr_buffer_free_fn free_fn,
                                                        void *free_user, tsr_frame **out);
/* A frame whose columns are the 1-D arrays (equal lengths and chunking;
 * the row chunks are the arrays' chunks).  No nulls. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_from_arrays(int n, tsr_array *const *arrays,
                                                       const char *const *names, tsr_frame **out);

/* CSV reading (docs/frames.md, "CSV").  Zero-initialise, then set what you
 * need. */
typedef enum tsr_csv_bad_rows {
  TSR_CSV_BAD_ERROR = 0, /* the first bad row is an error naming file, line and column */
  TSR_CSV_BAD_NULL = 1,  /* fields that do not parse become null; missing fields null */
  TSR_CSV_BAD_SKIP = 2,  /* rows with a field that does not parse, or a wrong field count,
                            are skipped */
} tsr_csv_bad_rows;

typedef struct tsr_csv_options {
  char delimiter;          /* 0: sniffed among , ; TAB | */
  char quote;              /* 0: '"' */
  int header;              /* TSR_CSV_HEADER_AUTO (0, sniffed), _YES or _NO */
  const char *schema;      /* "name:type,name:type,..." for every column, or NULL: sniffed */
  const char *columns;     /* "a,b,c": only these columns, in this order; NULL: all */
  const char *nulls;       /* comma-separated null spellings besides the unquoted empty
                              field, e.g. "NA,NULL"; NULL: none */
  tsr_csv_bad_rows bad_rows;
  int replace_invalid_utf8; /* non-zero: invalid UTF-8 becomes U+FFFD instead of an error */
  int64_t block_bytes;      /* byte block per row chunk; 0: 8 MiB */
  int64_t dict_max;         /* a string column with at most this many distinct values is
                               dictionary-encoded; 0: 65536; -1: never */
} tsr_csv_options;
#define TSR_CSV_HEADER_AUTO 0
#define TSR_CSV_HEADER_YES 1
#define TSR_CSV_HEADER_NO 2

/* A lazy frame over a CSV file (also .csv.gz).  This call sniffs the
 * schema and scans the file once to find its record boundaries, row counts
 * and values outside the sniffed types (so the schema it reports is the
 * file's, and the row count is known); values are parsed when computed.
 * Malformed content (quotes, field counts, UTF-8, values outside a given
 * schema) is TSR_EPARSE naming the file, line and column; a missing or
 * unreadable file TSR_EIO; bad options TSR_EINVAL.  `options` may be NULL. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_read_csv(tsr_ctx *ctx, const char *path,
                                                    const tsr_csv_options *options,
                                                    tsr_frame **out);
/* After tsr_frame_read_csv with bad_rows NULL or SKIP: rows made null or
 * skipped (0 for frames not read from a CSV). */
TSR_API int64_t tsr_frame_csv_bad_rows(const tsr_frame *frame);

/* Releases the caller's reference and sets *frame to NULL; accepts NULL. */
TSR_API void tsr_frame_destroy(tsr_frame **frame);

/* ------------------------------------------------------------------------ */
/* Schema and size                                                          */
/* ------------------------------------------------------------------------ */

TSR_API tsr_ctx *tsr_frame_ctx(const tsr_frame *frame);
TSR_API int tsr_frame_ncols(const tsr_frame *frame);
TSR_API const char *tsr_frame_col_name(const tsr_frame *frame, int col);
TSR_API tsr_type tsr_frame_col_type(const tsr_frame *frame, int col);
/* The column's index, or -1. */
TSR_API int tsr_frame_col_index(const tsr_frame *frame, const char *name);
/* Row chunks (fixed when the frame is made). */
TSR_API int64_t tsr_frame_nchunks(const tsr_frame *frame);
/* The row count when known without computing (a frame from buffers, arrays
 * or a CSV, and operations that keep counts); -1 when unknown (after a
 * filter). */
TSR_API int64_t tsr_frame_nrows_known(const tsr_frame *frame);
/* The row count, computed when unknown (collective). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_nrows(tsr_frame *frame, int64_t *rows);

/* ------------------------------------------------------------------------ */
/* Operations (each lazy; the caller owns *out)                             */
/* ------------------------------------------------------------------------ */

TSR_API TSR_NODISCARD tsr_status tsr_frame_select(tsr_frame *frame, int n,
                                                  const char *const *names, tsr_frame **out);
TSR_API TSR_NODISCARD tsr_status tsr_frame_drop(tsr_frame *frame, int n, const char *const *names,
                                                tsr_frame **out);
TSR_API TSR_NODISCARD tsr_status tsr_frame_rename(tsr_frame *frame, const char *from,
                                                  const char *to, tsr_frame **out);
/* Adds (or replaces) column `name` with the 1-D array (its length and chunks
 * must match the frame's rows and chunks). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_with_array(tsr_frame *frame, const char *name,
                                                      tsr_array *array, tsr_frame **out);
/* Converts column `name` to `type` (as DuckDB's CAST: out-of-range or
 * unparsable values are an error naming the column and row). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_cast(tsr_frame *frame, const char *name, tsr_type type,
                                                tsr_frame **out);
/* Nulls of column `name` replaced by `value` (a literal in the column's
 * type, as text: "0", "1.5", "abc", "2024-01-31"). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_fill_null(tsr_frame *frame, const char *name,
                                                     const char *value, tsr_frame **out);
/* Rows where any of the n named columns (n == 0: any column) is null are dropped. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_drop_nulls(tsr_frame *frame, int n,
                                                      const char *const *names, tsr_frame **out);
/* Rows [start, stop) (clamped to the row count; negative counts from the end,
 * as Python's slices).  Computes the row counts when unknown. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_slice(tsr_frame *frame, int64_t start, int64_t stop,
                                                 tsr_frame **out);
TSR_API TSR_NODISCARD tsr_status tsr_frame_head(tsr_frame *frame, int64_t n, tsr_frame **out);
TSR_API TSR_NODISCARD tsr_status tsr_frame_tail(tsr_frame *frame, int64_t n, tsr_frame **out);
/* Rows of the frames one after the other; the frames must have the same
 * column names and types, in the same order. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_concat(int n, tsr_frame *const *frames,
                                                  tsr_frame **out);

/* Column reductions, computed now (collective), skipping nulls as SQL does.
 * count: non-null values; null_count: nulls; sum of integers in int64
 * (TSR_EOVERFLOW when it overflows) or uint64, of floats in float64 (pairwise
 * within a chunk, combined over chunks in a fixed tree); mean, var and std in
 * float64 (ddof as given; var/std by Chan's merge).  min and max keep the
 * column's type.  The result is a one-row, one-column frame computed in
 * memory, or a double through tsr_frame_reduce_f64.  A reduction over no
 * values is null (count: 0). */
typedef enum tsr_col_reduce {
  TSR_COL_COUNT = 0,
  TSR_COL_NULL_COUNT,
  TSR_COL_SUM,
  TSR_COL_MEAN,
  TSR_COL_MIN,
  TSR_COL_MAX,
  TSR_COL_VAR,
  TSR_COL_STD,
} tsr_col_reduce;
/* The reduction as a double; *is_null set when it is null (may be NULL). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_reduce_f64(tsr_frame *frame, const char *name,
                                                      tsr_col_reduce op, int ddof, double *value,
                                                      bool *is_null);

/* Column `name` as a 1-D array (lazy).  The column must have no nulls, or a
 * fill value is given (fill != NULL); strings cannot become arrays.  When
 * the row count is unknown, it is computed first. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_column_array(tsr_frame *frame, const char *name,
                                                        const double *fill, tsr_array **out);

/* ------------------------------------------------------------------------ */
/* Computing                                                                */
/* ------------------------------------------------------------------------ */

/* A frame computed into memory: read it column by column, chunk by chunk.
 * Pointers stay valid until the result is destroyed. */
typedef struct tsr_frame_result tsr_frame_result;

/* Computes every column of the frame (collective; under MPI every rank
 * receives the whole result).  `options` as for arrays (NULL = none). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_compute(tsr_frame *frame,
                                                   const tsr_compute_options *options,
                                                   tsr_frame_result **out);
TSR_API void tsr_frame_result_destroy(tsr_frame_result **result);
/* Computes the frame once (collective) and returns a frame over the
 * computed chunks, held in memory (Dask's persist): later computations read
 * them in place, without recomputing or copying them.  The memory is freed
 * with the last frame that uses it. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_persist(tsr_frame *frame,
                                                   const tsr_compute_options *options,
                                                   tsr_frame **out);

TSR_API int64_t tsr_frame_result_nrows(const tsr_frame_result *result);
TSR_API int64_t tsr_frame_result_nchunks(const tsr_frame_result *result);
TSR_API int tsr_frame_result_ncols(const tsr_frame_result *result);
TSR_API const char *tsr_frame_result_col_name(const tsr_frame_result *result, int col);
TSR_API tsr_type tsr_frame_result_col_type(const tsr_frame_result *result, int col);

/* One chunk of one column.  `values` holds rows values of the column's
 * width (string views for strings, int32 codes for dictionaries);
 * `validity` is the Arrow bitmap, NULL when the chunk has no nulls; `data`
 * is the strings' data buffer that long views point into. */
typedef struct tsr_column_chunk {
  int64_t rows;
  int64_t null_count;
  const void *values;
  const uint8_t *validity;
  const char *data;
  size_t data_bytes;
} tsr_column_chunk;
TSR_API TSR_NODISCARD tsr_status tsr_frame_result_chunk(const tsr_frame_result *result, int col,
                                                        int64_t chunk, tsr_column_chunk *out);
/* The dictionary of a TSR_COL_DICT column: size strings, sorted. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_result_dict(const tsr_frame_result *result, int col,
                                                       int64_t *size, const int64_t **offsets,
                                                       const char **data);
/* Whole-column copies into the caller's buffers: fixed-width values
 * (rows x width bytes; dictionary columns give codes), and the validity
 * bitmap ((rows + 7) / 8 bytes; may be NULL when not wanted).  Strings:
 * tsr_frame_result_strings. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_result_values(const tsr_frame_result *result, int col,
                                                         void *values, size_t bytes,
                                                         uint8_t *validity);
/* Row `row`'s string in a string or dictionary column: *text (not
 * NUL-terminated) and *length; *is_null for nulls. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_result_string(const tsr_frame_result *result, int col,
                                                         int64_t row, const char **text,
                                                         size_t *length, bool *is_null);
/* A string view's bytes, given the chunk it belongs to. */
static inline const char *tsr_string_view_data(const tsr_string_view *v, const char *chunk_data) {
  return v->length <= 12 ? v->u.inline_data : chunk_data + v->u.ref.offset;
}

/* Prints the frame as an aligned table with names and types in the header,
 * the first and last `max_rows / 2` rows when it has more than max_rows
 * (0: 20), and the row count (computes; collective; rank 0 prints). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_print(tsr_frame *frame, int64_t max_rows, FILE *out);

/* CSV writing: RFC 4180 quoting (fields holding the delimiter, a quote, CR
 * or LF, or leading/trailing spaces are quoted), floats in the shortest
 * text that reads back exactly, nulls as empty fields and empty strings as
 * "", a header row.  Written atomically; an existing file is replaced only
 * when `overwrite` is true, else TSR_EIO naming the file.  `.gz` compresses.
 * delimiter 0 is ','.  Floats as DuckDB writes them (0.1, 100.0, 1e+16,
 * 1e-05, 5e-324, -0.0, nan, inf, -inf), dates YYYY-MM-DD, timestamps
 * "YYYY-MM-DD HH:MM:SS" with the fraction's significant digits, bools
 * true/false, dictionary columns as their strings, lines ending in LF.
 * Rows are formatted in parallel (.gz: one gzip member per run of rows)
 * and written in order; under MPI rank 0 writes the file from every rank's
 * text (the same bytes for any number of threads and ranks). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_write_csv(tsr_frame *frame, const char *path,
                                                     char delimiter, bool overwrite,
                                                     const tsr_compute_options *options);

/* HDF5 tables (docs/frames.md, "HDF5 tables": the layout, readable by h5py
 * and pandas without tessera).  A frame is a group holding one 1-D dataset
 * per column, the ordered column names and a format marker as attributes;
 * bools as h5py's bool, strings as variable-length UTF-8 (or the offsets
 * layout), dictionaries as int32 codes plus their strings, dates and
 * timestamps as integers with a unit attribute, nulls as a bool validity
 * dataset per column that has nulls.  Zero-initialise the options. */
typedef enum tsr_hdf5_strings {
  TSR_HDF5_STRINGS_VLEN = 0,    /* variable-length UTF-8: h5py, pandas, h5dump read it */
  TSR_HDF5_STRINGS_OFFSETS = 1, /* bytes (uint8) + int64 offsets: faster, any bytes */
} tsr_hdf5_strings;

typedef struct tsr_frame_hdf5_options {
  tsr_hdf5_mode mode; /* as tsr_store_hdf5 (io.h): 0 adds the group to the file, which is
                         created when missing; TSR_HDF5_OVERWRITE replaces the group */
  int deflate_level;  /* 0: none; 1..9: deflate per column, compressed in parallel */
  bool shuffle;       /* the shuffle filter before deflate */
  tsr_hdf5_strings strings;
  int64_t chunk_rows; /* rows per HDF5 chunk; 0: 65536 */
  const tsr_compute_options *compute;
} tsr_frame_hdf5_options;

/* Computes the frame (collective) and writes it as table group `group`
 * ("/table"; not "/") of the HDF5 file `path`, atomically as tsr_store_hdf5
 * writes (the output appears whole or not at all; an input file is never
 * modified in place).  The file's bytes depend on the frame and options
 * alone, not on the thread or rank count.  Under MPI (collective, every
 * rank returns the same status) every rank writes its share of the
 * table's chunks through parallel HDF5 when the table has no compression
 * and no variable-length strings (use TSR_HDF5_STRINGS_OFFSETS) and the
 * file is new; otherwise rank 0 writes the whole file: parallel HDF5
 * cannot write variable-length strings, and compressed tables are written
 * by one rank as compressed arrays are (docs/frames.md, "HDF5 tables").
 * TSR_EINVAL: the group exists (unless TSR_HDF5_OVERWRITE), a column name
 * holds '/', a variable-length string holds a NUL byte; TSR_EIO naming the
 * file otherwise.  options may be NULL (no compression, add to the file). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_write_hdf5(tsr_frame *frame, const char *path,
                                                      const char *group,
                                                      const tsr_frame_hdf5_options *options);

/* A frame over `object` of the HDF5 file `path`: a table group (as written
 * above, by tessera or by anything that follows the layout) or a 1-D
 * compound dataset (an array of C structs: every field a column, nested
 * fields flattened as "outer.inner", fixed-length and variable-length
 * string fields as strings; array, reference, opaque and other fields are
 * TSR_EDTYPE naming the field).  `columns` ("a,b"; NULL: all) keeps those
 * columns in that order.  The file is read now, in parallel by row chunks
 * of whole file chunks (decompression on every thread), and never
 * modified; values are checked (UTF-8, dictionary codes).  Errors name the
 * file, object and column: TSR_EIO (missing, unreadable), TSR_EINVAL (not
 * a table, inconsistent layout, unknown column), TSR_EDTYPE, TSR_ENOTSUP
 * (a newer format version).  The caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_read_hdf5(tsr_ctx *ctx, const char *path,
                                                     const char *object, const char *columns,
                                                     tsr_frame **out);

/* ------------------------------------------------------------------------ */
/* Group-by and sort (docs/frames.md)                                       */
/* ------------------------------------------------------------------------ */

/* Group-by, sort, top-k and ranks are pipeline breakers: each computes when
 * it is called (collective, like tsr_frame_persist: the input's lazy ops
 * run fused into the first tasks) and returns a frame over its result held
 * in memory, because the result's size is known only once computed.  Under
 * MPI with more than one rank each is collective and every rank gets the
 * whole result, bitwise one rank's: a group-by moves its partial states
 * between the ranks, sort and top-k move rows, and ranks and window
 * functions compute their input whole on every rank, then the window on
 * every rank alone (docs/frames.md). */

/* An aggregate of a group-by.  Nulls are skipped as DuckDB's aggregate
 * functions skip them: an aggregate over no non-null value is null
 * (count: 0). */
typedef enum tsr_agg_op {
  TSR_AGG_COUNT_ALL = 0, /* count(*): rows in the group, nulls included */
  TSR_AGG_COUNT,         /* count(x): non-null values */
  TSR_AGG_SUM,           /* integers exactly (int64/uint64, TSR_EOVERFLOW), floats in float64 */
  TSR_AGG_MEAN,          /* float64 */
  TSR_AGG_MIN,           /* the column's type; NaN above every number */
  TSR_AGG_MAX,
  TSR_AGG_VAR,      /* float64, ddof as given (1: DuckDB's var_samp) */
  TSR_AGG_STD,      /* float64, ddof as given (1: DuckDB's stddev_samp) */
  TSR_AGG_MEDIAN,   /* exact: quantile 0.5 */
  TSR_AGG_QUANTILE, /* exact, linear interpolation (DuckDB's quantile_cont); q in [0, 1] */
  TSR_AGG_FIRST,    /* the value of the group's first row, null or not (DuckDB's first) */
  TSR_AGG_LAST,     /* the value of the group's last row */
  TSR_AGG_NUNIQUE,  /* count(DISTINCT x) */
  TSR_AGG_CORR,     /* Pearson correlation of (column, column2) over rows where both are valid */
  TSR_AGG_COVAR_SAMP,
  TSR_AGG_COVAR_POP,
  TSR_AGG_ANY, /* bool_or */
  TSR_AGG_ALL, /* bool_and */
  TSR_AGG_LARGEST,  /* the n largest non-null values, one row per value, largest first */
  TSR_AGG_SMALLEST, /* the n smallest, smallest first; ties in row order */
  TSR_NUM_AGG_OPS
} tsr_agg_op;

/* "count_star", "count", "sum", "mean", "min", "max", "var", "std",
 * "median", "quantile", "first", "last", "nunique", "corr", "covar_samp",
 * "covar_pop", "any", "all", "largest", "smallest". */
TSR_API const char *tsr_agg_op_name(tsr_agg_op op);

typedef struct tsr_agg {
  tsr_agg_op op;
  const char *column;  /* the input column; NULL for TSR_AGG_COUNT_ALL */
  const char *column2; /* corr and covariances: the second column */
  const char *name;    /* the result column's name; NULL: as DuckDB names it ("sum(v1)",
                          "count_star()", "quantile_cont(v3, 0.5)", "corr(v1, v2)") */
  double q;            /* TSR_AGG_QUANTILE */
  int ddof;            /* TSR_AGG_VAR, TSR_AGG_STD */
  int64_t n;           /* TSR_AGG_LARGEST, TSR_AGG_SMALLEST: values per group (>= 1) */
} tsr_agg;

typedef enum tsr_group_order {
  /* Groups in the order of their first row in the input: the same for any
   * thread and rank count (the default; what pandas' sort=False gives). */
  TSR_GROUP_FIRST_SEEN = 0,
  /* Groups sorted by their keys, ascending, nulls last (as tsr_frame_sort). */
  TSR_GROUP_SORTED = 1,
} tsr_group_order;

typedef struct tsr_groupby_options {
  tsr_group_order order;
} tsr_groupby_options;

/* The frame's rows grouped by the `nkeys` key columns (0: one group of all
 * rows; no rows then give one row of aggregates over nothing), with one
 * column per key (named and typed as the key) and one per aggregate, and
 * one row per group.  Keys of any type: null is a group of its own, NaN is
 * one group, -0.0 and 0.0 are one group (the key shown is the first row's).
 * With TSR_AGG_LARGEST/SMALLEST, every aggregate must be one of them with
 * the same n, and a group gives one row per value (fewer when the group has
 * fewer non-null values).  Float results are bitwise identical for any
 * number of threads and ranks.  options NULL: defaults.  Computes now
 * (above; collective under MPI: every rank gets the whole result, the same
 * on every rank, and a failure on one rank is every rank's status).  Under
 * a memory limit, a first-seen group-by that does not fit in 3/4 of it is
 * computed out of core by spilled hash partitions, with the same result
 * (then read back from spill files; docs/frames.md); under MPI only when
 * every rank has a limit, else every rank fails with TSR_ENOMEM.  The
 * caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_groupby(tsr_frame *frame, int nkeys,
                                                   const char *const *keys, int naggs,
                                                   const tsr_agg *aggs,
                                                   const tsr_groupby_options *options,
                                                   tsr_frame **out);

/* A sort key: a column, its direction, and where its nulls go.  Strings
 * sort by their bytes, dictionaries by their strings, floats with NaN
 * above every number (below when descending) and -0.0 equal to 0.0, bools
 * false first. */
typedef struct tsr_sort_key {
  const char *column;
  bool descending;
  bool nulls_first; /* default false: nulls last, ascending or descending */
} tsr_sort_key;

/* The frame's rows sorted by the keys (the first key first), stably: rows
 * with equal keys keep their input order.  Computes now (above). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_sort(tsr_frame *frame, int nkeys,
                                                const tsr_sort_key *keys, tsr_frame **out);
/* The first k rows of tsr_frame_sort's result (fewer when the frame has
 * fewer), without sorting the whole frame. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_top_k(tsr_frame *frame, int nkeys,
                                                 const tsr_sort_key *keys, int64_t k,
                                                 tsr_frame **out);

typedef enum tsr_rank_kind {
  TSR_RANK_ROW_NUMBER = 0, /* 1, 2, 3, ... in sorted order (ties in row order) */
  TSR_RANK_RANK = 1,       /* SQL rank(): ties share a rank, then a gap */
  TSR_RANK_DENSE = 2,      /* SQL dense_rank(): ties share a rank, no gap */
} tsr_rank_kind;

/* The frame plus an int64 column `name` (1-based) numbering each row inside
 * its partition (rows with equal `partition_by` values; none: one
 * partition) in the order of `order_by`, as SQL's
 * `kind() OVER (PARTITION BY ... ORDER BY ...)`.  Rows keep their input
 * order.  Computes now (above). */
TSR_API TSR_NODISCARD tsr_status tsr_frame_rank(tsr_frame *frame, const char *name,
                                                tsr_rank_kind kind, int npartition,
                                                const char *const *partition_by, int norder,
                                                const tsr_sort_key *order_by, tsr_frame **out);

/* ------------------------------------------------------------------------ */
/* Joins (docs/frames.md, "Joins")                                          */
/* ------------------------------------------------------------------------ */

typedef enum tsr_join_kind {
  TSR_JOIN_INNER = 0, /* pairs of matching rows */
  TSR_JOIN_LEFT = 1,  /* and every left row without a match, right columns null */
  TSR_JOIN_RIGHT = 2, /* and every right row without a match, left columns null */
  TSR_JOIN_FULL = 3,  /* both of those */
  TSR_JOIN_SEMI = 4,  /* the left rows that have a match, once each, left columns only */
  TSR_JOIN_ANTI = 5,  /* the left rows that have none (null keys included), left columns */
} tsr_join_kind;

/* Zero-initialise, then set what you need (NULL options: all defaults). */
typedef struct tsr_join_options {
  /* Appended to a left and a right non-key column of the same name
   * (NULL: pandas' "_x" and "_y"). */
  const char *suffix_left;
  const char *suffix_right;
} tsr_join_options;

/* The rows of `left` and `right` whose `nkeys` key columns are equal:
 * left_on[i] of the left with right_on[i] of the right (right_on NULL:
 * the same names, as SQL's USING).  Keys compare by value: integers of any
 * widths and signedness exactly (never through floats), floats with -0.0
 * equal to 0.0 and NaN equal to NaN (as DuckDB's joins), strings by their
 * bytes, dictionaries by their strings (also with different dictionaries
 * or against a string column), bools, dates, timestamps of one unit; other
 * pairs of types are TSR_EINVAL (cast one side).  A null key never
 * matches.  Columns: the keys once (named and typed as the left's; for
 * right and full joins the value of whichever side has the row, and both
 * key types must then be equal, or both dictionaries), then the left's
 * other columns, then the right's; clashing names get the suffixes.  Rows:
 * left row order, each left row's matches in right row order; the right
 * rows without a match of right and full joins last, in right order.
 * Computes now (as the group-by; bitwise the same for any thread count and
 * any number of MPI ranks: collective, a broadcast or a shuffle join,
 * tsr_ctx_set_broadcast_join_limit, docs/frames.md).  Under a memory limit
 * (under MPI, on every rank) a join that does not fit is computed out of
 * core by spilled hash partitions, with the same result (docs/frames.md,
 * "Joins larger than memory").  The caller owns *out. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_join(tsr_frame *left, tsr_frame *right,
                                                tsr_join_kind kind, int nkeys,
                                                const char *const *left_on,
                                                const char *const *right_on,
                                                const tsr_join_options *options,
                                                tsr_frame **out);

/* As-of join options (zero-initialise; NULL options: all defaults). */
typedef struct tsr_asof_options {
  const char *right_on;         /* the right's ordered column; NULL: the same name */
  int nby;                      /* match only rows with equal `by` keys (as a join's keys) */
  const char *const *left_by;
  const char *const *right_by;  /* NULL: the same names */
  bool has_tolerance;           /* then only right rows with left on - right on <= tolerance */
  double tolerance;             /* in the on column's units (days, the timestamp's unit) */
  const char *suffix_left;      /* as tsr_join_options (NULL: "_x", "_y") */
  const char *suffix_right;
} tsr_asof_options;

/* As-of join (pandas' merge_asof, DuckDB's ASOF JOIN with >=): every left
 * row, in order, with the right row whose `on` value is the largest at or
 * below the left row's (of equal ones, the last in right row order),
 * among the right rows with equal `by` keys and within the tolerance; the
 * right's columns null when there is none.  `on` columns: the same integer,
 * float, date or timestamp type on both sides; null or NaN never match.
 * Columns: the left's, then the right's other than its on and by columns
 * (clashing names suffixed).  Computes now; under MPI collective (the
 * right side broadcast), the result bitwise one rank's. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_join_asof(tsr_frame *left, tsr_frame *right,
                                                     const char *left_on,
                                                     const tsr_asof_options *options,
                                                     tsr_frame **out);

/* ------------------------------------------------------------------------ */
/* Verbs and window functions (docs/frames.md)                              */
/* ------------------------------------------------------------------------ */

/* Like group-by and sort, each computes now (collective under MPI, the
 * result bitwise one rank's) and returns a frame held in memory. */

/* A window function: SQL's `func(column, n, default) OVER (PARTITION BY
 * partition_by ORDER BY order_by)`.  Rows are numbered within their
 * partition (rows with equal partition_by values, null one partition; none:
 * one partition of all rows) in the order of the order keys, ties in input
 * order (a stable sort); peers are rows equal on every order key. */
typedef enum tsr_window_func {
  TSR_WIN_ROW_NUMBER = 0, /* int64 1, 2, 3, ... (peers in input order) */
  TSR_WIN_RANK = 1,       /* int64: peers share a rank, then a gap */
  TSR_WIN_DENSE_RANK = 2, /* int64: peers share a rank, no gap */
  TSR_WIN_LAG = 3,  /* the column's value n rows earlier in the partition (the column's type,
                       dictionary kept; not strings: cast them to dict); before the first
                       row: default, or null */
  TSR_WIN_LEAD = 4, /* n rows later; after the last row: default, or null */
  TSR_WIN_CUMSUM = 5, /* sum of the numeric column over the partition's rows up to the current
                         row and its peers (SQL's default frame RANGE BETWEEN UNBOUNDED
                         PRECEDING AND CURRENT ROW: peers share the value), nulls skipped,
                         null while every value so far is null.  Integers and bool: int64,
                         exactly (TSR_EOVERFLOW); floats: float64 summed in window order */
  TSR_WIN_ROLLING_MEAN = 6, /* float64 mean of the numeric column over ROWS BETWEEN n - 1
                               PRECEDING AND CURRENT ROW of the partition, nulls skipped (null
                               when the frame holds none), NaN and infinities propagated, as
                               DuckDB's avg over that frame */
} tsr_window_func;

typedef struct tsr_window {
  tsr_window_func func;
  const char *column;        /* lag, lead, cumsum, rolling_mean: the argument column */
  int64_t n;                 /* lag/lead: the offset (>= 0; 0 means SQL's default 1);
                                rolling_mean: rows in the frame (>= 1) */
  const char *default_value; /* lag/lead: the value where no row is at the offset, as text
                                in the column's type ("0", "1.5", "2024-01-31"; not for
                                dictionaries); NULL: null */
  int npartition;
  const char *const *partition_by;
  int norder;
  const tsr_sort_key *order_by;
} tsr_window;

/* The frame, rows in input order and chunks, plus the window function's
 * result as column `name` (a new name).  One stable sort by the partition
 * then the order keys, and one pass in that order: float results are
 * bitwise identical for any number of threads.  Computes now; under MPI
 * collective: the input is computed whole on every rank and the window on
 * every rank alone, so every rank gets the one-rank result, and a failure
 * on one rank is every rank's status.
 * tsr_frame_rank is this call with the three ranking functions. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_window(tsr_frame *frame, const char *name,
                                                  const tsr_window *spec, tsr_frame **out);

/* The first row of each distinct combination of the ncols columns (0: all
 * columns, i.e. distinct rows), with every column, in the order the
 * combinations first appear: DuckDB's DISTINCT ON, pandas'
 * drop_duplicates(subset, keep='first').  Null equals null (as SQL's
 * DISTINCT), NaN is one value, -0.0 equals 0.0 (the first row's value is
 * kept).  Computes now. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_distinct(tsr_frame *frame, int ncols,
                                                    const char *const *cols, tsr_frame **out);

/* The ncols columns' distinct combinations with an int64 column `count` of
 * their rows, most frequent first, equal counts in first-seen order
 * (pandas' and Polars' value_counts).  keep_nulls false drops rows with a
 * null in any of the columns first (pandas' default dropna=True); true
 * counts null as a value of its own (Polars).  NaN is a value, not a null.
 * Computes now. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_value_counts(tsr_frame *frame, int ncols,
                                                        const char *const *cols, bool keep_nulls,
                                                        tsr_frame **out);

/* The n rows with the largest (smallest) values of the columns (the first
 * column first, then the next among ties), largest (smallest) first, tied
 * rows in input order: pandas' nlargest / nsmallest with keep='first'.
 * Nulls come last; NaN is the largest float (the sort's order, DuckDB's
 * and Polars'), so nlargest returns NaN rows first and nsmallest last
 * (pandas drops NaN: filter it out first).  tsr_frame_top_k with every key
 * descending (ascending).  Computes now. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_nlargest(tsr_frame *frame, int64_t n, int ncols,
                                                    const char *const *cols, tsr_frame **out);
TSR_API TSR_NODISCARD tsr_status tsr_frame_nsmallest(tsr_frame *frame, int64_t n, int ncols,
                                                     const char *const *cols, tsr_frame **out);

/* Summary statistics of the numeric columns (integers and floats; not
 * bool, dates or timestamps), laid out as pandas' describe(): a frame of 8
 * rows and 1 + m columns: `statistic` (string: "count", "mean", "std",
 * "min", "25%", "50%", "75%", "max"), then one float64 column per numeric
 * column, named as it.  Nulls are skipped (count: non-null values); NaN is
 * a value (mean NaN; quantiles place it above every number, as
 * tsr_frame_sort); std with ddof 1; quartiles exact with linear
 * interpolation (DuckDB's quantile_cont, pandas' default); a statistic
 * over no value (std of one) is null.  TSR_EINVAL when there is no numeric
 * column.  Computes now. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_describe(tsr_frame *frame, tsr_frame **out);
/* The same for string and dictionary columns (pandas'
 * describe(include='object')), one row per column: `column` (its name),
 * `count` (non-null values), `unique` (distinct non-null values), `top`
 * (the most frequent value; among equally frequent ones the first in row
 * order) and `freq` (its count); top and freq null when count is 0.
 * TSR_EINVAL when there is no such column.  Computes now. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_describe_strings(tsr_frame *frame, tsr_frame **out);

/* ------------------------------------------------------------------------ */
/* Generated data: the db-benchmark data sets (docs/frames.md)              */
/* ------------------------------------------------------------------------ */

/* The G1 group-by data of h2oai/db-benchmark: n rows, k levels.  id1, id2
 * dictionary strings "id001".."id<k>" (k levels); id3 strings "id%010d" of
 * n/k levels; id4, id5 int32 1..k; id6 int32 1..n/k; v1 int32 1..5; v2
 * int32 1..15; v3 float64 uniform [0, 100] rounded to 6 decimals; each
 * drawn uniformly and independently.  nas_pct > 0 makes exactly
 * floor(n * nas_pct / 100) values of each column null (at random rows,
 * per column).  sorted: rows ordered by id1..id6 (nulls first), computed
 * now in memory; otherwise lazy.  Values depend only on the seed and the
 * row, never on chunk_rows (0: 1 Mi rows), threads or ranks. */
TSR_API TSR_NODISCARD tsr_status tsr_frame_gen_groupby(tsr_ctx *ctx, int64_t n, int64_t k,
                                                       double nas_pct, bool sorted, uint64_t seed,
                                                       int64_t chunk_rows, tsr_frame **out);

/* The J1 join tables of db-benchmark for n rows: x (n rows: id1, id2, id3
 * int64 keys with n/1e6, n/1e3 and n distinct values, id4, id5, id6 the
 * strings "id" + id1, id2, id3, v1), small (n/1e6 rows: id1, id4, v2),
 * medium (n/1e3 rows: id1, id2, id4, id5, v2), big (n rows: id1..id6, v2);
 * counts at least 1.  Each key column of m keys comes from a pool of
 * m + m/10 keys: m - m/10 in both sides, m/10 in x only, m/10 in the right
 * tables only; every key of its side appears at least once.  v1, v2
 * uniform [0, 100] rounded to 6 decimals.  Lazy; deterministic as above. */
typedef enum tsr_join_table {
  TSR_JOIN_X = 0,
  TSR_JOIN_SMALL = 1,
  TSR_JOIN_MEDIUM = 2,
  TSR_JOIN_BIG = 3,
} tsr_join_table;
TSR_API TSR_NODISCARD tsr_status tsr_frame_gen_join(tsr_ctx *ctx, int64_t n, int which,
                                                    uint64_t seed, int64_t chunk_rows,
                                                    tsr_frame **out);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_FRAME_H */
