#!/usr/bin/env node
// frames_duckdb.mjs — DuckDB (npm @duckdb/node-api) on the frame workloads of
// benchmarks F0, F1 and F2, for bench_frames to print beside tessera's numbers.
//
//   node bench/peers/frames_duckdb.mjs CSV [--reps R] [--threads T] [--only W,...] [--answers DIR]
//   node bench/peers/frames_duckdb.mjs --join DIR [--reps R] [--threads T] [--only J,...] [--answers ADIR]
//
// CSV is a db-benchmark G1 groupby file (id1, id2, id3 strings; id4, id5, id6,
// v1, v2 integers; v3 float).  Each of R runs (default 5), in an in-memory
// database with SET threads = T (default 2):
//   load           CREATE TABLE x AS SELECT * FROM read_csv('CSV')
//                  (types sniffed by DuckDB; the time ends when the table exists)
//   filter_assign  CREATE TABLE y AS SELECT *, v1 * v3 + v2 AS w FROM x WHERE v3 > 50
//   q1..q10        db-benchmark's group-by queries (SQL below) on the loaded x,
//                  each as CREATE OR REPLACE TABLE ans AS <query>
// then, untimed, the checks (and with --answers, in the first run, COPY ans TO
// DIR/<query>.csv), DROP TABLE ans; at the end of the run DROP TABLE x.
// --only selects the workloads (the load runs anyway).
//
// --join DIR (F2): DIR holds db-benchmark's J1 tables (x, small, medium, big;
// peers_common.mjs finds them).  Each run loads the four, untimed, as
// CREATE TABLE <t> AS SELECT * FROM read_csv('<file>') (sniffed: id1..id3
// BIGINT, id4..id6 VARCHAR, v1 and v2 DOUBLE), then times each join j1..j5
// (JOIN_SQL below, db-benchmark's DuckDB solution) as
// CREATE OR REPLACE TABLE ans AS <query>; untimed: the check, with --answers
// in the first run COPY ans TO ADIR/<j>.csv, DROP TABLE ans; at the end of
// the run the four tables are dropped.
//
// Output (stdout): '#' comment lines, then per workload
//   workload<TAB>median seconds
//   check<TAB>workload<TAB>rows<TAB>sum      (load: sum(v3); filter_assign: sum(w);
//                                              queries: the sum of every value column,
//                                              nulls and NaN left out; joins:
//                                              sum(v1) + sum(v2), nulls left out)
// Exit 0 done, 1 failed, 2 @duckdb/node-api missing, 64 bad usage.
import path from "node:path";
import fs from "node:fs";
import {
  EXIT_FAILED, G1_QUERIES, JOIN_QUERIES, JOIN_TABLES, JOIN_VALS, WORKLOADS, comment, die, freeMemory, importPeer, now,
  packageVersion, parseArgs, report, requireG1, requireJ1,
} from "./peers_common.mjs";

const prog = "frames_duckdb.mjs";
const args = parseArgs(prog, process.argv.slice(2));
const { DuckDBInstance } = await importPeer(prog, "@duckdb/node-api");

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;
// The check sum of an answer: its value columns added up, nulls and NaN left out.
const valueSum = (vals) => vals.map((v) =>
  `coalesce(sum(${v}::DOUBLE) FILTER (WHERE NOT isnan(${v}::DOUBLE)), 0)`).join(" + ");

// The queries of F1, as db-benchmark's DuckDB solution writes them.
const SQL = {
  q1: "SELECT id1, sum(v1) AS v1 FROM x GROUP BY id1",
  q2: "SELECT id1, id2, sum(v1) AS v1 FROM x GROUP BY id1, id2",
  q3: "SELECT id3, sum(v1) AS v1, avg(v3) AS v3 FROM x GROUP BY id3",
  q4: "SELECT id4, avg(v1) AS v1, avg(v2) AS v2, avg(v3) AS v3 FROM x GROUP BY id4",
  q5: "SELECT id6, sum(v1) AS v1, sum(v2) AS v2, sum(v3) AS v3 FROM x GROUP BY id6",
  q6: "SELECT id4, id5, quantile_cont(v3, 0.5) AS median_v3, stddev(v3) AS sd_v3 FROM x GROUP BY id4, id5",
  q7: "SELECT id3, max(v1) - min(v2) AS range_v1_v2 FROM x GROUP BY id3",
  q8: "SELECT id6, v3 AS largest2_v3 FROM (SELECT id6, v3, row_number() OVER (PARTITION BY id6 " +
    "ORDER BY v3 DESC) AS order_v3 FROM x WHERE v3 IS NOT NULL) sub_query WHERE order_v3 <= 2",
  q9: "SELECT id2, id4, pow(corr(v1, v2), 2) AS r2 FROM x GROUP BY id2, id4",
  q10: "SELECT id1, id2, id3, id4, id5, id6, sum(v3) AS v3, count(*) AS count FROM x " +
    "GROUP BY id1, id2, id3, id4, id5, id6",
};

// The joins of F2, as db-benchmark's DuckDB solution (duckdb/join-duckdb.R)
// writes them.
const JOIN_SQL = {
  j1: "SELECT x.*, small.id4 AS small_id4, v2 FROM x JOIN small USING (id1)",
  j2: "SELECT x.*, medium.id1 AS medium_id1, medium.id4 AS medium_id4, medium.id5 AS medium_id5, v2 " +
    "FROM x JOIN medium USING (id2)",
  j3: "SELECT x.*, medium.id1 AS medium_id1, medium.id4 AS medium_id4, medium.id5 AS medium_id5, v2 " +
    "FROM x LEFT JOIN medium USING (id2)",
  j4: "SELECT x.*, medium.id1 AS medium_id1, medium.id2 AS medium_id2, medium.id4 AS medium_id4, v2 " +
    "FROM x JOIN medium USING (id5)",
  j5: "SELECT x.*, big.id1 AS big_id1, big.id2 AS big_id2, big.id4 AS big_id4, big.id5 AS big_id5, " +
    "big.id6 AS big_id6, v2 FROM x JOIN big USING (id3)",
};

// F0 and F1 on the G1 file.
async function runGroupby(con, one) {
  comment("file", args.csv, `${args.bytes} bytes`);
  comment("reps", String(args.reps));

  const runs = Object.fromEntries(WORKLOADS.map((w) => [w, { times: [], checks: [] }]));
  for (let r = 0; r < args.reps; r++) {
    let t0 = now();
    await con.run(`CREATE TABLE x AS SELECT * FROM read_csv(${sqlString(args.csv)})`);
    runs.load.times.push(now() - t0);
    if (r === 0) {
      const d = (await con.runAndReadAll("DESCRIBE x")).getRows();
      comment("schema", d.map(([name, type]) => `${name}:${type}`).join(","));
      requireG1(prog, args.csv, d.map(([name]) => name));
    }
    let [rows, sum] = await one("SELECT count(*), sum(v3)::DOUBLE FROM x");
    runs.load.checks.push({ rows: Number(rows), sum });

    if (args.only.has("filter_assign")) {
      t0 = now();
      await con.run("CREATE TABLE y AS SELECT *, v1 * v3 + v2 AS w FROM x WHERE v3 > 50");
      runs.filter_assign.times.push(now() - t0);
      [rows, sum] = await one("SELECT count(*), sum(w)::DOUBLE FROM y");
      runs.filter_assign.checks.push({ rows: Number(rows), sum });
      await con.run("DROP TABLE y");
    }

    for (const { q, vals } of G1_QUERIES) {
      if (!args.only.has(q)) continue;
      t0 = now();
      await con.run(`CREATE OR REPLACE TABLE ans AS ${SQL[q]}`);
      runs[q].times.push(now() - t0);
      // Untimed: the check (rows, the sum of every value column, nulls and
      // NaN left out), the answer.
      [rows, sum] = await one(`SELECT count(*), ${valueSum(vals)} FROM ans`);
      runs[q].checks.push({ rows: Number(rows), sum });
      if (r === 0 && args.answers !== null) {
        const file = path.join(args.answers, `${q}.csv`);
        await con.run(`COPY ans TO ${sqlString(file)} (HEADER, DELIMITER ',')`);
      }
      await con.run("DROP TABLE ans");
    }

    await con.run("DROP TABLE x");
    await freeMemory();
  }
  for (const w of WORKLOADS) {
    if (w === "load" || args.only.has(w)) report(prog, w, runs[w].times, runs[w].checks);
  }
}

// The answer of join q written to ADIR/<q>.csv in a defined order: DuckDB's
// own (ans) is not x's row order (hash join pipelines emit vectors out of
// order even with preserve_insertion_order), so the same query is run again,
// untimed, ordered by x's row, then the right table's row (nulls, the
// unmatched rows of j3, last): the order of left row, then right row, that a
// row-by-row comparison can use.  Its row count must be ans's.
async function writeJoinAnswer(q, right, rows, one) {
  const file = path.join(args.answers, `${q}.csv`);
  const sql = `${JOIN_SQL[q]} ORDER BY x.rowid, ${right}.rowid NULLS LAST`;
  const [copied] = await one(`COPY (${sql}) TO ${sqlString(file)} (HEADER, DELIMITER ',')`);
  if (Number(copied) !== rows) throw new Error(`${q}: ${copied} rows written to ${file}, ans has ${rows}`);
}

// F2: the joins on the J1 tables.
async function runJoin(con, one) {
  for (const t of JOIN_TABLES) comment("file", t, args.tables[t], `${fs.statSync(args.tables[t]).size} bytes`);
  comment("reps", String(args.reps));
  const runs = Object.fromEntries(JOIN_QUERIES.map(({ q }) => [q, { times: [], checks: [] }]));
  for (let r = 0; r < args.reps; r++) {
    // Untimed: the four tables, as read_csv types them.
    for (const t of JOIN_TABLES) {
      await con.run(`CREATE TABLE ${t} AS SELECT * FROM read_csv(${sqlString(args.tables[t])})`);
      if (r === 0) {
        const d = (await con.runAndReadAll(`DESCRIBE ${t}`)).getRows();
        const [rows] = await one(`SELECT count(*) FROM ${t}`);
        comment("schema", t, `${rows} rows`, d.map(([name, type]) => `${name}:${type}`).join(","));
        requireJ1(prog, t, args.tables[t], d.map(([name]) => name));
      }
    }
    for (const { q, right } of JOIN_QUERIES) {
      if (!args.only.has(q)) continue;
      const t0 = now();
      await con.run(`CREATE OR REPLACE TABLE ans AS ${JOIN_SQL[q]}`);
      runs[q].times.push(now() - t0);
      // Untimed: the check (rows, sum(v1) + sum(v2), nulls and NaN left out),
      // the answer.
      const [rows, sum] = await one(`SELECT count(*), ${valueSum(JOIN_VALS)} FROM ans`);
      runs[q].checks.push({ rows: Number(rows), sum });
      if (r === 0 && args.answers !== null) await writeJoinAnswer(q, right, Number(rows), one);
      await con.run("DROP TABLE ans");
    }
    for (const t of JOIN_TABLES) await con.run(`DROP TABLE ${t}`);
    await freeMemory();
  }
  for (const { q } of JOIN_QUERIES) {
    if (args.only.has(q)) report(prog, q, runs[q].times, runs[q].checks);
  }
}

try {
  const instance = await DuckDBInstance.create(":memory:", { threads: String(args.threads) });
  const con = await instance.connect();
  const one = async (sql) => (await con.runAndReadAll(sql)).getRows()[0];
  const [version] = await one("SELECT version()");
  const [threads] = await one("SELECT current_setting('threads')");
  comment("peer", "duckdb", `${version} (@duckdb/node-api ${packageVersion("@duckdb/node-api")})`);
  comment("threads", String(threads));
  if (args.mode === "join") await runJoin(con, one);
  else await runGroupby(con, one);
  con.closeSync();
  instance.closeSync();
} catch (e) {
  die(prog, EXIT_FAILED, `DuckDB failed on '${args.mode === "join" ? args.dir : args.csv}': ${e.message}`);
}
