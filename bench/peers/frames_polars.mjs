#!/usr/bin/env node
// frames_polars.mjs — Polars (npm nodejs-polars + nodejs-polars-linux-x64-gnu)
// on the frame workloads of benchmarks F0, F1 and F2, for bench_frames to
// print beside tessera's numbers.
//
//   node bench/peers/frames_polars.mjs CSV [--reps R] [--threads T] [--only W,...] [--answers DIR]
//   node bench/peers/frames_polars.mjs --join DIR [--reps R] [--threads T] [--only J,...] [--answers ADIR]
//
// CSV is a db-benchmark G1 groupby file whose name ends in .csv or .tsv
// (nodejs-polars takes any other string for CSV text).  POLARS_MAX_THREADS is
// set to T (default 2) before Polars is loaded (its thread pool is sized once,
// at load).  Each of R runs (default 5), eager API, nodejs-polars' defaults:
//   load           df = pl.readCSV(CSV)   (types inferred; the DataFrame is in memory)
//   filter_assign  df.filter(v3 > 50).withColumns((v1 * v3 + v2).alias("w"))
//   q1..q10        db-benchmark's group-by queries (QUERY below), lazy and
//                  collected, on the loaded frame with id1..id3 cast to
//                  Categorical (untimed, as db-benchmark's Polars solution)
// then, untimed, the checks (with --answers, in the first run, the answer
// written to DIR/<query>.csv) and, at the end of the run, a garbage collection.
// --only selects the workloads (the load runs anyway).
//
// --join DIR (F2): DIR holds db-benchmark's J1 tables (x, small, medium, big;
// peers_common.mjs finds them).  Each run loads the four, untimed, as
// db-benchmark's Polars solution does: readCSV with id1..id3 Int32 and v1, v2
// Float64, then id4..id6 cast to Categorical; then times each join j1..j5
// (runJoin below: x.lazy().join(<right>.lazy(), {on, how}).collectSync(), inner,
// or left for j3); untimed: the check and, with --answers in the first run,
// the answer written to ADIR/<j>.csv (DuckDB's column names, Polars' row order).
//
// Output (stdout): '#' comment lines, then per workload
//   workload<TAB>median seconds
//   check<TAB>workload<TAB>rows<TAB>sum      (load: sum(v3); filter_assign: sum(w);
//                                              queries: the sum of every value column,
//                                              nulls and NaN left out; joins:
//                                              sum(v1) + sum(v2), the same way)
// Exit 0 done, 1 failed, 2 nodejs-polars missing, 64 bad usage.
import path from "node:path";
import fs from "node:fs";
import {
  EXIT_FAILED, G1_QUERIES, J1_COLUMNS, JOIN_QUERIES, JOIN_TABLES, JOIN_VALS, WORKLOADS, comment, die, freeMemory, importPeer,
  now, packageVersion, parseArgs, report, requireG1, requireJ1,
} from "./peers_common.mjs";

const prog = "frames_polars.mjs";
const args = parseArgs(prog, process.argv.slice(2));
for (const file of args.mode === "join" ? Object.values(args.tables) : [args.csv]) {
  if (![".csv", ".tsv"].includes(path.extname(file))) {
    die(prog, EXIT_FAILED, `'${file}': nodejs-polars reads a file only when its name ends in .csv or .tsv`);
  }
}
// Before the import: Polars sizes its thread pool from this when it loads.
const threadsBefore = process.env.POLARS_MAX_THREADS;
process.env.POLARS_MAX_THREADS = String(args.threads);
const pl = (await importPeer(prog, "nodejs-polars")).default;

// The queries of F1, as db-benchmark's Polars solution writes them (lazy,
// collected), on the eager frame x.
const col = pl.col;
const QUERY = {
  q1: (x) => x.lazy().groupBy(["id1"]).agg(col("v1").sum().alias("v1")),
  q2: (x) => x.lazy().groupBy(["id1", "id2"]).agg(col("v1").sum().alias("v1")),
  q3: (x) => x.lazy().groupBy(["id3"]).agg(col("v1").sum().alias("v1"), col("v3").mean().alias("v3")),
  q4: (x) => x.lazy().groupBy(["id4"])
    .agg(col("v1").mean().alias("v1"), col("v2").mean().alias("v2"), col("v3").mean().alias("v3")),
  q5: (x) => x.lazy().groupBy(["id6"])
    .agg(col("v1").sum().alias("v1"), col("v2").sum().alias("v2"), col("v3").sum().alias("v3")),
  q6: (x) => x.lazy().groupBy(["id4", "id5"])
    .agg(col("v3").median().alias("median_v3"), col("v3").std().alias("sd_v3")),
  q7: (x) => x.lazy().groupBy(["id3"]).agg(col("v1").max().sub(col("v2").min()).alias("range_v1_v2")),
  q8: (x) => x.lazy().dropNulls("v3").sort("v3", true).groupBy(["id6"])
    .agg(col("v3").head(2).alias("largest2_v3")).explode("largest2_v3"),
  q9: (x) => x.lazy().groupBy(["id2", "id4"]).agg(pl.pearsonCorr("v1", "v2").pow(2).alias("r2")),
  q10: (x) => x.lazy().groupBy(["id1", "id2", "id3", "id4", "id5", "id6"])
    .agg(col("v3").sum().alias("v3"), col("v1").count().alias("count")),
};

// The check of an answer: rows, and the sum of its value columns' non-null,
// non-NaN values.
function answerCheck(ans, vals) {
  let sum = 0;
  for (const v of vals) {
    const s = ans.select(col(v).cast(pl.Float64).dropNulls().dropNans().sum()).row(0)[0];
    sum += s ?? 0;
  }
  return { rows: ans.height, sum };
}

const schemaText = (df) => df.columns.map((c, i) => `${c}:${df.dtypes[i].variant ?? df.dtypes[i]}`).join(",");

// F0 and F1 on the G1 file.
async function runGroupby() {
  comment("file", args.csv, `${args.bytes} bytes`);
  comment("reps", String(args.reps));

  const runs = Object.fromEntries(WORKLOADS.map((w) => [w, { times: [], checks: [] }]));
  for (let r = 0; r < args.reps; r++) {
    let t0 = now();
    let x = pl.readCSV(args.csv);
    runs.load.times.push(now() - t0);
    if (r === 0) {
      comment("schema", schemaText(x));
      requireG1(prog, args.csv, x.columns);
    }
    runs.load.checks.push({ rows: x.height, sum: x.getColumn("v3").sum() });

    if (args.only.has("filter_assign")) {
      t0 = now();
      let y = x.filter(pl.col("v3").gt(50))
        .withColumns(pl.col("v1").mul(pl.col("v3")).add(pl.col("v2")).alias("w"));
      runs.filter_assign.times.push(now() - t0);
      runs.filter_assign.checks.push({ rows: y.height, sum: y.getColumn("w").sum() });
      y = null;
    }

    if (G1_QUERIES.some(({ q }) => args.only.has(q))) {
      // As db-benchmark's Polars solution loads it: the id strings categorical
      // (untimed; after F0's workloads, which time the file as read).
      x = x.withColumns(pl.col(["id1", "id2", "id3"]).cast(pl.Categorical));
      if (r === 0) comment("schema_f1", schemaText(x));
    }
    for (const { q, vals } of G1_QUERIES) {
      if (!args.only.has(q)) continue;
      t0 = now();
      let ans = QUERY[q](x).collectSync();
      runs[q].times.push(now() - t0);
      runs[q].checks.push(answerCheck(ans, vals));
      if (r === 0 && args.answers !== null) {
        ans.withColumns(pl.col(["id1", "id2", "id3"].filter((c) => ans.columns.includes(c))).cast(pl.String))
          .writeCSV(path.join(args.answers, `${q}.csv`));
      }
      ans = null;
    }

    x = null;
    await freeMemory();
  }
  for (const w of WORKLOADS) {
    if (w === "load" || args.only.has(w)) report(prog, w, runs[w].times, runs[w].checks);
  }
}

// F2's J1 tables as db-benchmark's Polars solution loads them: id1..id3
// Int32, v1 and v2 Float64, id4..id6 Categorical (one global category
// mapping in this Polars, so joins on them need no string cache).
function loadJoinTable(t) {
  const cols = J1_COLUMNS[t];
  const dtypes = Object.fromEntries([
    ...cols.filter((c) => /^id[123]$/.test(c)).map((c) => [c, pl.Int32]),
    ...cols.filter((c) => /^v[12]$/.test(c)).map((c) => [c, pl.Float64]),
  ]);
  const df = pl.readCSV(args.tables[t], { dtypes });
  requireJ1(prog, t, args.tables[t], df.columns);
  return df.withColumns(pl.col(cols.filter((c) => /^id[456]$/.test(c))).cast(pl.Categorical));
}

// F2: the joins on the J1 tables, as db-benchmark's Polars solution writes them.
async function runJoin() {
  for (const t of JOIN_TABLES) comment("file", t, args.tables[t], `${fs.statSync(args.tables[t]).size} bytes`);
  comment("reps", String(args.reps));
  const runs = Object.fromEntries(JOIN_QUERIES.map(({ q }) => [q, { times: [], checks: [] }]));
  for (let r = 0; r < args.reps; r++) {
    let tables = Object.fromEntries(JOIN_TABLES.map((t) => [t, loadJoinTable(t)]));
    if (r === 0) {
      for (const t of JOIN_TABLES) comment("schema", t, `${tables[t].height} rows`, schemaText(tables[t]));
    }
    for (const { q, right, on, how, rightCols } of JOIN_QUERIES) {
      if (!args.only.has(q)) continue;
      const t0 = now();
      let ans = tables.x.lazy().join(tables[right].lazy(), { on, how }).collectSync();
      runs[q].times.push(now() - t0);
      runs[q].checks.push(answerCheck(ans, JOIN_VALS));
      if (r === 0 && args.answers !== null) {
        // DuckDB's column names (Polars suffixes the right's clashing columns
        // with "right"), the id columns as text.
        const renamed = Object.fromEntries(rightCols.map((c) => [`${c}right`, `${right}_${c}`]));
        ans.rename(renamed).withColumns(pl.col(pl.Categorical).cast(pl.String))
          .writeCSV(path.join(args.answers, `${q}.csv`));
      }
      ans = null;
    }
    tables = null;
    await freeMemory();
  }
  for (const { q } of JOIN_QUERIES) {
    if (args.only.has(q)) report(prog, q, runs[q].times, runs[q].checks);
  }
}

try {
  comment("peer", "polars", `nodejs-polars ${packageVersion("nodejs-polars")} ` +
    `(nodejs-polars-linux-x64-gnu ${packageVersion("nodejs-polars-linux-x64-gnu")})`);
  comment("threads", `${args.threads} (POLARS_MAX_THREADS${threadsBefore === undefined ? "" : `, was ${threadsBefore}`})`);
  if (args.mode === "join") await runJoin();
  else await runGroupby();
} catch (e) {
  die(prog, EXIT_FAILED, `Polars failed on '${args.mode === "join" ? args.dir : args.csv}': ${e.message}`);
}
