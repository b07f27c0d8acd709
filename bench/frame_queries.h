/* frame_queries.h — the frame benchmarks' queries and tables
 * (frame_queries.c). */
#ifndef TSR_BENCH_FRAME_QUERIES_H
#define TSR_BENCH_FRAME_QUERIES_H

/* q1-q10 over table x (the G1 CSV), and j1-j5 over x, small, medium, big
 * (the J1 CSVs), in DuckDB's SQL. */
extern const char *const query_sql[10];
extern const char *const join_sql[5];

/* The J1 tables, as `tessera gen join 1e7 DIR` names them. */
enum { TBL_X, TBL_SMALL, TBL_MEDIUM, TBL_BIG, N_TABLES };
extern const char *const j1_names[N_TABLES];
/* Their files at n = 1e7 (J1_1e7_*.csv). */
extern const char *const j1_files[N_TABLES];
/* The file of table t in dir (a name within it). */
const char *j1_file(const char *dir, int t);

#endif
