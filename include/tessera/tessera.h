/* tessera/tessera.h — the whole public API of libtessera.
 *
 *   core.h  statuses, errors, context, allocator, dtypes, chunk grids, RNG
 *   exec.h  task graphs and the runtime that executes them
 *   array.h chunked N-d arrays: lazy creation, computing into memory
 *   frame.h dataframes: typed columns in row chunks, CSV, computing into memory
 *   io.h    arrays in HDF5 files: reading datasets, storing arrays
 *   query.h the array expression language of `tessera eval`, column expressions
 *   sql.h   SQL sessions over frames (`tessera query`) */
#ifndef TESSERA_TESSERA_H
#define TESSERA_TESSERA_H

#include <tessera/array.h>
#include <tessera/arrow.h>
#include <tessera/core.h>
#include <tessera/dist.h>
#include <tessera/exec.h>
#include <tessera/frame.h>
#include <tessera/io.h>
#include <tessera/query.h>
#include <tessera/sql.h>

#endif /* TESSERA_TESSERA_H */
