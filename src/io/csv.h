/* csv.h — the CSV reader's io/ half (docs/frames.md, "CSV"): the sniffer,
 * the scanner and the block parser.  frame/csv_source.c drives them:
 * tsr__csv_sniff (or a given schema) fixes the dialect and the starting
 * column types; tsr__csv_scan reads the whole file once, in parallel over
 * byte blocks snapped to exact record boundaries, and returns per block its
 * range, first line, row count and string bytes, the widened column types
 * and the distinct values of string columns; tsr__csv_parse_block parses
 * one block straight into a table chunk (core/colchunk.h).  tsr__csv_load
 * (csv_load.c) does scan and parse in one pass when the chunks fit in
 * memory, and gives up, leaving fmt as it was, whenever the scan must judge.
 *
 * Quoting model: a field is quoted when its first byte is the quote; inside,
 * a doubled quote is one quote; after the closing quote comes a delimiter or
 * the end of the record.  A quote anywhere else is an error naming the line
 * and column.  Records end at LF or CRLF outside quotes.  So the record
 * boundaries are exactly the newlines preceded by an even number of quotes
 * from the start of the data, which is what lets blocks be found in
 * parallel (speculatively, verified by the scan, exactly when it fails). */
#ifndef TSR_IO_CSV_H
#define TSR_IO_CSV_H

#include <tessera/frame.h>

#include "core/colchunk.h"

/* A slot of a dictionary's lookup table: the string's key (csv_impl.h)
 * and code + 1 (0: empty). */
typedef struct tsr__csv_dslot {
  uint64_t a, b, hash;
  uint32_t len;
  int32_t code1;
} tsr__csv_dslot;

/* One column the reader produces (the file's fields may be more). */
typedef struct tsr__csv_col {
  char *name;
  int field;     /* its index among the record's fields */
  tsr_type type; /* TSR_COL_DICT: strings coded through the dictionary below */
  bool fixed;    /* given by a schema: values that do not parse are bad rows */
  /* TSR_COL_DICT only (set by the caller before parsing): the sorted
   * dictionary and an open-addressing table of code + 1 (0: empty). */
  int64_t dict_size;
  const int64_t *dict_offsets;
  const char *dict_data;
  struct tsr__csv_dslot *dict_slots;
  uint64_t dict_mask;
} tsr__csv_col;

typedef struct tsr__csv_format {
  const char *path; /* for messages (the user's name, also for .csv.gz) */
  char delim;
  char quote;
  bool header;
  int nfields; /* fields per record */
  int ncols;   /* columns produced */
  tsr__csv_col *cols;
  int n_nulls; /* null spellings besides the unquoted empty field */
  char **nulls;
  tsr_csv_bad_rows bad_rows;
  bool replace_utf8;
  int64_t dict_max;   /* < 0: no dictionaries */
  int64_t data_start; /* offset of the first data record (after BOM and header) */
  bool quotes_seen;   /* the sniffer's samples hold a quote: find blocks exactly at once */
  /* the sniffer's data records of the expected field count and their bytes
   * (newlines included): the SQL planner's row estimate for the file */
  int64_t sample_records, sample_bytes;
} tsr__csv_format;

/* Sniffs the dialect, header, column names and types of the open file
 * (size bytes) from samples spread over it.  Fields of fmt already set
 * (delim, quote non-zero; header_given >= 0) are kept.  On success fmt's
 * nfields, ncols (= nfields), cols (names, field, sniffed types), header
 * and data_start are set (free with tsr__csv_format_free).  An empty file
 * gives nfields = 0. */
tsr_status tsr__csv_sniff(tsr_ctx *ctx, int fd, int64_t size, int header_given,
                          tsr__csv_format *fmt);
void tsr__csv_format_free(tsr_ctx *ctx, tsr__csv_format *fmt);

typedef struct tsr__csv_block {
  int64_t start, end; /* byte range [start, end) */
  int64_t line;       /* line number of its first byte (1-based) */
  int64_t rows;       /* rows it yields */
  int64_t bad;        /* rows made null (NULL) or skipped (SKIP) */
} tsr__csv_block;

typedef struct tsr__csv_scan_result {
  int64_t nblocks;
  tsr__csv_block *blocks;
  int64_t *data_bytes; /* [col * nblocks + b]: bytes of values longer than 12 */
  int64_t rows;
  int64_t bad;
  /* per column: the distinct strings when it should be a dictionary
   * (sorted, strictly increasing), else dict_n = -1 */
  int64_t *dict_n;
  int64_t **dict_offsets;
  char **dict_data;
} tsr__csv_scan_result;

/* Scans the file: blocks of about block_bytes snapped to record
 * boundaries, their rows and lines, every value checked against its
 * column's type and the column widened (fmt->cols[i].type updated) when a
 * value does not fit (sniffed columns only), field counts, UTF-8, distinct
 * values of string columns (they become TSR_COL_DICT in fmt when the
 * dictionary is small enough).  The first bad row is an error when
 * fmt->bad_rows is TSR_CSV_BAD_ERROR. */
tsr_status tsr__csv_scan(tsr_ctx *ctx, int fd, int64_t size, int64_t block_bytes,
                         tsr__csv_format *fmt, tsr__csv_scan_result *out);
void tsr__csv_scan_result_free(tsr_ctx *ctx, tsr__csv_scan_result *r);

/* The fused load: one parallel pass that parses every block straight into a
 * table chunk held in memory, with the sniffed (or given) types and a
 * local dictionary per block for string columns, whose entries are mapped
 * to the sorted dictionary after the pass.  When done is false (a value
 * that would widen a column, a bad row, an error, a misplaced block
 * boundary, an untyped column, or chunks past `budget` bytes) nothing is
 * kept and fmt is unchanged: the caller scans and parses instead, which
 * handles all of these.  Otherwise fmt's types are final (string columns
 * that became dictionaries are TSR_COL_DICT) and scan holds what
 * tsr__csv_scan would have returned (blocks, rows, dictionaries, and
 * data_bytes for the blocks to parse again); chunks[b] is block b's table
 * chunk, or NULL when the block must be parsed again with
 * tsr__csv_parse_block (U+FFFD replacements longer than the block, or a column whose
 * dictionary was given up or refused). */
typedef struct tsr__csv_loaded {
  bool done;
  tsr__csv_scan_result scan;
  void **chunks;
  size_t *bytes;
} tsr__csv_loaded;

/* Strings a coded column's values index: entry k is data[offs[k], offs[k + 1]). */
typedef struct tsr__csv_strings {
  bool coded; /* false: the column holds its type's values */
  int64_t n;  /* entries */
  const int64_t *offs;
  const char *data;
} tsr__csv_strings;

/* A row filter pushed into the fused load (a WHERE over the file: the
 * frame layer's column program, frame/csv_where.c), run on each block's
 * table chunk right after it is parsed, while it is in cache.  run() keeps
 * the rows it accepts: *chunk becomes a chunk of those rows alone (*bytes
 * its size; the old one freed) or stays when it keeps every row.
 * coded[c].coded when column c holds int32 codes into those strings
 * (a block's own dictionary while loading, the sorted one when a block is
 * parsed again); other columns hold their type's values (strings as
 * views).  A failure (a value the predicate cannot compute) abandons the
 * load, so the caller's own path raises it as an unpushed filter would. */
typedef struct tsr__csv_rowfilter {
  tsr_status (*run)(void *arg, int64_t block, const tsr__csv_strings *coded, void **chunk,
                    size_t *bytes);
  void *arg;
} tsr__csv_rowfilter;

/* With `filter` (NULL: none), blocks' chunks hold only the rows it keeps;
 * scan.blocks[b].rows, scan.rows and the dictionaries stay those of every
 * row (so the columns' types and dictionaries are the unfiltered load's),
 * and a block left to parse again is filtered by the caller. */
tsr_status tsr__csv_load(tsr_ctx *ctx, int fd, int64_t size, int64_t block_bytes, uint64_t budget,
                         const tsr__csv_rowfilter *filter, tsr__csv_format *fmt,
                         tsr__csv_loaded *out);
/* Frees what the caller did not take (chunks set to NULL are taken). */
void tsr__csv_loaded_free(tsr_ctx *ctx, tsr__csv_loaded *l);

/* Builds column i's dictionary lookup table (fmt->cols[i] holds the sorted
 * dictionary); free with tsr__csv_format_free. */
tsr_status tsr__csv_dict_index(tsr_ctx *ctx, tsr__csv_col *col);

/* Parses block b into `table` (a table chunk laid out for fmt's columns
 * with the block's row capacity and data capacities). */
tsr_status tsr__csv_parse_block(tsr_ctx *ctx, int fd, const tsr__csv_format *fmt,
                                const tsr__csv_block *block, void *table);

/* Decompresses the gzip file `path` into a registered temporary file:
 * *tmp (malloc'd; remove with tsr__tmp_remove, then free) and *fd (open
 * for reading). */
tsr_status tsr__csv_gunzip(tsr_ctx *ctx, const char *path, char **tmp, int *fd);
/* pread of exactly len bytes at off (TSR_EIO naming path). */
tsr_status tsr__csv_read_range(int fd, const char *path, int64_t off, size_t len, char *buf);

#endif /* TSR_IO_CSV_H */
