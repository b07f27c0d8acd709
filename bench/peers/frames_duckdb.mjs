#!/usr/bin/env node
// frames_duckdb.mjs — DuckDB (npm @duckdb/node-api) on the frame workloads of
// benchmark F0, for bench_frames to print beside tessera's numbers.
//
//   node bench/peers/frames_duckdb.mjs CSV [--reps R] [--threads T]
//
// CSV is a db-benchmark G1 groupby file (id1, id2, id3 strings; id4, id5, id6,
// v1, v2 integers; v3 float).  Each of R runs (default 5), in an in-memory
// database with SET threads = T (default 2):
//   load           CREATE TABLE x AS SELECT * FROM read_csv('CSV')
//                  (types sniffed by DuckDB; the time ends when the table exists)
//   filter_assign  CREATE TABLE y AS SELECT *, v1 * v3 + v2 AS w FROM x WHERE v3 > 50
// then, untimed, the checks and DROP TABLE y, x.
// Output (stdout): '#' comment lines, then per workload
//   workload<TAB>median seconds
//   check<TAB>workload<TAB>rows<TAB>sum      (load: sum(v3); filter_assign: sum(w))
// Exit 0 done, 1 failed, 2 @duckdb/node-api missing, 64 bad usage.
import {
  EXIT_FAILED, comment, die, freeMemory, importPeer, now, packageVersion, parseArgs, report, requireG1,
} from "./peers_common.mjs";

const prog = "frames_duckdb.mjs";
const args = parseArgs(prog, process.argv.slice(2));
const { DuckDBInstance } = await importPeer(prog, "@duckdb/node-api");

const sqlString = (s) => `'${s.replaceAll("'", "''")}'`;

try {
  const instance = await DuckDBInstance.create(":memory:", { threads: String(args.threads) });
  const con = await instance.connect();
  const one = async (sql) => (await con.runAndReadAll(sql)).getRows()[0];
  const [version] = await one("SELECT version()");
  const [threads] = await one("SELECT current_setting('threads')");
  comment("peer", "duckdb", `${version} (@duckdb/node-api ${packageVersion("@duckdb/node-api")})`);
  comment("threads", String(threads));
  comment("file", args.csv, `${args.bytes} bytes`);
  comment("reps", String(args.reps));

  const load = { times: [], checks: [] };
  const filter = { times: [], checks: [] };
  for (let r = 0; r < args.reps; r++) {
    let t0 = now();
    await con.run(`CREATE TABLE x AS SELECT * FROM read_csv(${sqlString(args.csv)})`);
    load.times.push(now() - t0);
    if (r === 0) {
      const d = (await con.runAndReadAll("DESCRIBE x")).getRows();
      comment("schema", d.map(([name, type]) => `${name}:${type}`).join(","));
      requireG1(prog, args.csv, d.map(([name]) => name));
    }
    let [rows, sum] = await one("SELECT count(*), sum(v3)::DOUBLE FROM x");
    load.checks.push({ rows: Number(rows), sum });

    t0 = now();
    await con.run("CREATE TABLE y AS SELECT *, v1 * v3 + v2 AS w FROM x WHERE v3 > 50");
    filter.times.push(now() - t0);
    [rows, sum] = await one("SELECT count(*), sum(w)::DOUBLE FROM y");
    filter.checks.push({ rows: Number(rows), sum });

    await con.run("DROP TABLE y");
    await con.run("DROP TABLE x");
    await freeMemory();
  }
  report(prog, "load", load.times, load.checks);
  report(prog, "filter_assign", filter.times, filter.checks);
  con.closeSync();
  instance.closeSync();
} catch (e) {
  die(prog, EXIT_FAILED, `DuckDB failed on '${args.csv}': ${e.message}`);
}
