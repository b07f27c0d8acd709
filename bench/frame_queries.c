/* frame_queries.c — the frame benchmarks' queries (docs/benchmarks.md):
 * db-benchmark's q1-q10 and j1-j5 in SQL, as DuckDB runs them, and the J1
 * tables' files; shared by bench_frames (beside the peers and the C API)
 * and bench_dist_frames (MPI ranks against threads). */
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>

#include "frame_queries.h"

/* The same queries in SQL, run by tsr_sql_run on the loaded frames
 * registered in one session (x for G1; x, small, medium, big for J1): the
 * text DuckDB runs (bench/peers/frames_duckdb.mjs, SQL and JOIN_SQL),
 * verbatim: the subset runs every one unchanged (q8 stays DuckDB's window
 * over row_number(), where the C path asks for largest(v3, 2)). */
const char *const query_sql[10] = {
    "SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1",
    "SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2",
    "SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3",
    "SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4",
    "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6",
    "SELECT id4, id5, quantile_cont(v3, 0.5) AS median_v3, stddev(v3) AS sd_v3 FROM x GROUP BY "
    "id4, id5",
    "SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM x GROUP BY id3",
    "SELECT id6, v3 AS largest2_v3 FROM (SELECT id6, v3, row_number() OVER (PARTITION BY id6 "
    "ORDER BY v3 DESC) AS order_v3 FROM x WHERE v3 IS NOT NULL) sub_query WHERE order_v3 <= 2",
    "SELECT id2, id4, pow(corr(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4",
    "SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count FROM x GROUP BY id1, "
    "id2, id3, id4, id5, id6",
};
const char *const join_sql[5] = {
    "SELECT x.*, small.id4 AS small_id4, v2 FROM x JOIN small USING (id1)",
    "SELECT x.*, medium.id1 AS medium_id1, medium.id4 AS medium_id4, medium.id5 AS medium_id5, v2 "
    "FROM x JOIN medium USING (id2)",
    "SELECT x.*, medium.id1 AS medium_id1, medium.id4 AS medium_id4, medium.id5 AS medium_id5, v2 "
    "FROM x LEFT JOIN medium USING (id2)",
    "SELECT x.*, medium.id1 AS medium_id1, medium.id2 AS medium_id2, medium.id4 AS medium_id4, v2 "
    "FROM x JOIN medium USING (id5)",
    "SELECT x.*, big.id1 AS big_id1, big.id2 AS big_id2, big.id4 AS big_id4, big.id5 AS big_id5, "
    "big.id6 AS big_id6, v2 FROM x JOIN big USING (id3)",
};

/* F2's J1 tables, as `tessera gen join 1e7 DIR` names them. */
const char *const j1_files[N_TABLES] = {"J1_1e7_NA_0_0.csv", "J1_1e7_1e1_0_0.csv",
                                        "J1_1e7_1e4_0_0.csv", "J1_1e7_1e7_0_0.csv"};
static char j1_found[N_TABLES][64]; /* names of a smaller set in --join-dir, else "" */

/* The file of table t in dir: J1_1e7_*, or, when dir has no
 * J1_1e7_NA_0_0.csv, the set `tessera gen join 1eK` wrote there (the
 * smallest K of 6, 8, 9 whose J1_1eK_NA_0_0.csv is there; the peers find
 * any size themselves). */
const char *j1_file(const char *dir, int t) {
  static bool looked;
  if (!looked) {
    looked = true;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, j1_files[TBL_X]);
    struct stat st;
    for (int k = 6; k <= 9 && stat(path, &st) != 0; k++) {
      snprintf(path, sizeof path, "%s/J1_1e%d_NA_0_0.csv", dir, k);
      if (k != 7 && stat(path, &st) == 0) {
        snprintf(j1_found[TBL_X], sizeof j1_found[0], "J1_1e%d_NA_0_0.csv", k);
        snprintf(j1_found[TBL_SMALL], sizeof j1_found[0], "J1_1e%d_1e%d_0_0.csv", k, k - 6);
        snprintf(j1_found[TBL_MEDIUM], sizeof j1_found[0], "J1_1e%d_1e%d_0_0.csv", k, k - 3);
        snprintf(j1_found[TBL_BIG], sizeof j1_found[0], "J1_1e%d_1e%d_0_0.csv", k, k);
      }
    }
  }
  return j1_found[t][0] ? j1_found[t] : j1_files[t];
}
const char *const j1_names[N_TABLES] = {"x", "small", "medium", "big"};
