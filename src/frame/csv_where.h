/* csv_where.h — a WHERE pushed into the CSV reader (docs/sql.md, "The
 * planner"): the frame layer's internal entry point that the SQL layer's
 * scans use, and the pieces csv_source.c wires into the fused load.
 *
 * The caller gives the predicate as a builder: it compiles the predicate
 * into a column program over whatever frame of the reader's columns it is
 * handed.  On one rank, when the file loads eagerly, that frame is a schema
 * of the columns as the load parses them (string columns that may become
 * dictionaries are strings there) and the program runs on each block right
 * after it is parsed, keeping only the rows where it is true; otherwise
 * (MPI, not enough memory, anything the load leaves to the scan) it is the
 * lazy frame the reader returns, under the usual fused filter node.  The
 * rows, their order and the row chunks are those of the unpushed filter. */
#ifndef TSR_FRAME_CSV_WHERE_H
#define TSR_FRAME_CSV_WHERE_H

#include "colprog.h"
#include "io/csv.h"

/* Compiles the predicate over frame f (whose columns are the reader's, in
 * the order options->columns gives) into value *v of a new program *prog
 * (the caller of the reader destroys nothing: the reader does).  Errors
 * (an unknown column, a type error, a predicate that is not bool) are the
 * builder's to word. */
typedef tsr_status (*tsr__csv_where_build)(void *arg, tsr_frame *f, tsr__colprog **prog, int *v);

typedef struct tsr__csv_where {
  tsr__csv_where_build build;
  void *arg;
} tsr__csv_where;

/* tsr_frame_read_csv keeping only the rows where the predicate is true
 * (null is not true).  where NULL: tsr_frame_read_csv. */
tsr_status tsr__frame_read_csv_where(tsr_ctx *ctx, const char *path, const tsr_csv_options *options,
                                     const tsr__csv_where *where, tsr_frame **out);

/* ---- csv_source.c's side ---- */

typedef struct tsr__csv_wstate tsr__csv_wstate;

/* The predicate compiled over fmt's columns as the fused load parses them
 * (before the load: fmt's types are the sniffed or given ones). */
tsr_status tsr__csv_wstate_create(tsr_ctx *ctx, const tsr__csv_format *fmt,
                                  const tsr__csv_where *where, tsr__csv_wstate **out);
void tsr__csv_wstate_destroy(tsr__csv_wstate **w);
/* The fused load's row filter (io/csv.h): arg is a tsr__csv_wstate. */
tsr_status tsr__csv_wstate_run(void *arg, int64_t block, const tsr__csv_strings *coded,
                               void **chunk, size_t *bytes);

#endif /* TSR_FRAME_CSV_WHERE_H */
