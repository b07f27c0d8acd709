/* test_dist_colexpr_duckdb.c — the column expressions against DuckDB
 * (tests/frame/test_colexpr_duckdb.c) under mpiexec (issue 17 item 7):
 * every rank computes the expressions on the row chunks it owns and checks
 * the whole result against its own DuckDB; the verdict is agreed over the
 * ranks and every rank must have sent chunk bytes.  77 when libduckdb.so
 * is missing or the program was not started by mpiexec. */
#define TSR_COLEXPR_MPI 1
#include "frame/test_colexpr_duckdb.c"
