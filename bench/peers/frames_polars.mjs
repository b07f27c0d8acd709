#!/usr/bin/env node
// frames_polars.mjs — Polars (npm nodejs-polars + nodejs-polars-linux-x64-gnu)
// on the frame workloads of benchmark F0, for bench_frames to print beside
// tessera's numbers.
//
//   node bench/peers/frames_polars.mjs CSV [--reps R] [--threads T]
//
// CSV is a db-benchmark G1 groupby file whose name ends in .csv or .tsv
// (nodejs-polars takes any other string for CSV text).  POLARS_MAX_THREADS is
// set to T (default 2) before Polars is loaded (its thread pool is sized once,
// at load).  Each of R runs (default 5), eager API, nodejs-polars' defaults:
//   load           df = pl.readCSV(CSV)   (types inferred; the DataFrame is in memory)
//   filter_assign  df.filter(v3 > 50).withColumns((v1 * v3 + v2).alias("w"))
// then, untimed, the checks and a garbage collection.
// Output (stdout): '#' comment lines, then per workload
//   workload<TAB>median seconds
//   check<TAB>workload<TAB>rows<TAB>sum      (load: sum(v3); filter_assign: sum(w))
// Exit 0 done, 1 failed, 2 nodejs-polars missing, 64 bad usage.
import path from "node:path";
import {
  EXIT_FAILED, comment, die, freeMemory, importPeer, now, packageVersion, parseArgs, report, requireG1,
} from "./peers_common.mjs";

const prog = "frames_polars.mjs";
const args = parseArgs(prog, process.argv.slice(2));
if (![".csv", ".tsv"].includes(path.extname(args.csv))) {
  die(prog, EXIT_FAILED, `'${args.csv}': nodejs-polars reads a file only when its name ends in .csv or .tsv`);
}
// Before the import: Polars sizes its thread pool from this when it loads.
const threadsBefore = process.env.POLARS_MAX_THREADS;
process.env.POLARS_MAX_THREADS = String(args.threads);
const pl = (await importPeer(prog, "nodejs-polars")).default;

try {
  comment("peer", "polars", `nodejs-polars ${packageVersion("nodejs-polars")} ` +
    `(nodejs-polars-linux-x64-gnu ${packageVersion("nodejs-polars-linux-x64-gnu")})`);
  comment("threads", `${args.threads} (POLARS_MAX_THREADS${threadsBefore === undefined ? "" : `, was ${threadsBefore}`})`);
  comment("file", args.csv, `${args.bytes} bytes`);
  comment("reps", String(args.reps));

  const load = { times: [], checks: [] };
  const filter = { times: [], checks: [] };
  for (let r = 0; r < args.reps; r++) {
    let t0 = now();
    let x = pl.readCSV(args.csv);
    load.times.push(now() - t0);
    if (r === 0) {
      comment("schema", x.columns.map((c, i) => `${c}:${x.dtypes[i].variant ?? x.dtypes[i]}`).join(","));
      requireG1(prog, args.csv, x.columns);
    }
    load.checks.push({ rows: x.height, sum: x.getColumn("v3").sum() });

    t0 = now();
    let y = x.filter(pl.col("v3").gt(50))
      .withColumns(pl.col("v1").mul(pl.col("v3")).add(pl.col("v2")).alias("w"));
    filter.times.push(now() - t0);
    filter.checks.push({ rows: y.height, sum: y.getColumn("w").sum() });

    x = y = null;
    await freeMemory();
  }
  report(prog, "load", load.times, load.checks);
  report(prog, "filter_assign", filter.times, filter.checks);
} catch (e) {
  die(prog, EXIT_FAILED, `Polars failed on '${args.csv}': ${e.message}`);
}
