// peers_common.mjs — what frames_duckdb.mjs and frames_polars.mjs share: the
// command line (a G1 file for F0/F1, or --join DIR for F2), the workloads and
// the J1 tables of F2, loading the peer's npm package (exit 2 when it cannot
// be loaded), medians, freeing memory between runs and the output lines.
// frames_pandas.py keeps the same structure in Python.
//
// Exit status of the frame peers: 0 done, 1 the run failed (file missing,
// read error, results differing between runs), 2 the peer's library is not
// installed or does not load (the harness reports the peer as skipped),
// 64 bad usage.
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import v8 from "node:v8";
import vm from "node:vm";

const require = createRequire(import.meta.url);

export const EXIT_FAILED = 1;
export const EXIT_NO_PEER = 2;
export const EXIT_USAGE = 64;

export function die(prog, status, message) {
  process.stderr.write(`${prog}: ${message}\n`);
  process.exit(status);
}

// The db-benchmark group-by queries of F1 (docs/benchmarks.md): the result's
// key columns and value columns (the check sum adds up every value column).
export const G1_QUERIES = [
  { q: "q1", keys: ["id1"], vals: ["v1"] },
  { q: "q2", keys: ["id1", "id2"], vals: ["v1"] },
  { q: "q3", keys: ["id3"], vals: ["v1", "v3"] },
  { q: "q4", keys: ["id4"], vals: ["v1", "v2", "v3"] },
  { q: "q5", keys: ["id6"], vals: ["v1", "v2", "v3"] },
  { q: "q6", keys: ["id4", "id5"], vals: ["median_v3", "sd_v3"] },
  { q: "q7", keys: ["id3"], vals: ["range_v1_v2"] },
  { q: "q8", keys: ["id6"], vals: ["largest2_v3"] },
  { q: "q9", keys: ["id2", "id4"], vals: ["r2"] },
  { q: "q10", keys: ["id1", "id2", "id3", "id4", "id5", "id6"], vals: ["v3", "count"] },
];
// Every workload, in the order they run: F0's, then F1's queries.
export const WORKLOADS = ["load", "filter_assign", ...G1_QUERIES.map((x) => x.q)];

// The db-benchmark join queries of F2 (docs/benchmarks.md) on the J1 tables:
// x joined with the right table `right` on the key `on` (inner, or left for
// j3); the answer has x's columns, then the right table's other columns
// (`rightCols`, which DuckDB's solution renames <right>_<column>) and v2.  The
// check sum adds up v1 and v2 (nulls left out), as db-benchmark's check does.
export const JOIN_QUERIES = [
  { q: "j1", right: "small", on: "id1", how: "inner", rightCols: ["id4"] },
  { q: "j2", right: "medium", on: "id2", how: "inner", rightCols: ["id1", "id4", "id5"] },
  { q: "j3", right: "medium", on: "id2", how: "left", rightCols: ["id1", "id4", "id5"] },
  { q: "j4", right: "medium", on: "id5", how: "inner", rightCols: ["id1", "id2", "id4"] },
  { q: "j5", right: "big", on: "id3", how: "inner", rightCols: ["id1", "id2", "id4", "id5", "id6"] },
];
export const JOIN_VALS = ["v1", "v2"];
export const JOIN_WORKLOADS = JOIN_QUERIES.map((x) => x.q);
// The four J1 tables, in the order they are loaded.
export const JOIN_TABLES = ["x", "small", "medium", "big"];

// The J1 tables in DIR, named as db-benchmark's join-datagen.R and `tessera
// gen join N DIR` name them: x is J1_<N>_NA_<nas>_<sort>.csv, and small,
// medium and big are J1_<N>_<rows>_<nas>_<sort>.csv with N/1e6, N/1e3 and N
// rows (in that order of <rows>).  Returns {x, small, medium, big} paths, or
// exits 1 naming what is missing.
export function joinTables(prog, dir) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (e) {
    const why = e.code === "ENOENT" ? "no such directory" : e.message;
    die(prog, EXIT_FAILED, `--join: cannot read the directory '${dir}': ${why}`);
  }
  const xs = names.filter((n) => /^J1_[^_]+_NA_[^_]+_[^_]+\.csv$/.test(n)).sort();
  if (xs.length !== 1) {
    die(prog, EXIT_FAILED, `--join: '${dir}' must hold exactly one J1 left table J1_<N>_NA_<nas>_<sort>.csv ` +
      `(from 'tessera gen join N DIR'), found ${xs.length ? xs.join(", ") : "none"}`);
  }
  const [, n, tail] = /^J1_([^_]+)_NA_(.+)$/.exec(xs[0]);
  const ys = names.filter((f) => f.startsWith(`J1_${n}_`) && f.endsWith(`_${tail}`) && f !== xs[0])
    .map((f) => ({ f, rows: Number(f.slice(`J1_${n}_`.length, -`_${tail}`.length)) }))
    .filter((y) => Number.isFinite(y.rows))
    .sort((a, b) => a.rows - b.rows);
  if (ys.length !== 3 || ys[0].rows === ys[1].rows || ys[1].rows === ys[2].rows) {
    const found = ys.length ? ys.map((y) => y.f).join(", ") : "none";
    die(prog, EXIT_FAILED, `--join: '${dir}' must hold the right tables J1_${n}_<rows>_${tail} of three ` +
      `different sizes (small, medium, big) beside ${xs[0]}, found ${found}`);
  }
  const out = { x: path.join(dir, xs[0]) };
  ["small", "medium", "big"].forEach((t, i) => { out[t] = path.join(dir, ys[i].f); });
  for (const t of JOIN_TABLES) {
    if (!fs.statSync(out[t]).isFile()) die(prog, EXIT_FAILED, `--join: '${out[t]}' is not a regular file`);
  }
  return out;
}

// parseArgs(prog, argv): {mode, csv, bytes, dir, tables, workloads, reps,
// threads, only, answers} from
//   "CSV [--reps R] [--threads T] [--only W,...] [--answers DIR]"          (mode "groupby": F0, F1)
//   "--join DIR [--reps R] [--threads T] [--only W,...] [--answers DIR]"   (mode "join": F2)
export function parseArgs(prog, argv) {
  const usage = `usage: node ${prog} CSV [--reps R] [--threads T] [--only W,...] [--answers DIR]\n` +
    `       node ${prog} --join DIR [--reps R] [--threads T] [--only J,...] [--answers DIR]\n` +
    "  CSV            a db-benchmark G1 groupby file (id1..id6, v1, v2, v3): F0 and F1\n" +
    "  --join DIR     a directory with db-benchmark's J1 tables (J1_<N>_NA_0_0.csv and its\n" +
    "                 small, medium and big right tables): F2's joins\n" +
    "  --reps R       timed runs of each workload; the median is printed (default 5)\n" +
    "  --threads T    the peer's thread count (default 2)\n" +
    `  --only W,...   the workloads to run, of ${WORKLOADS.join(",")} (CSV), or of\n` +
    `                 ${JOIN_WORKLOADS.join(",")} (--join) (default all; the tables are loaded in\n` +
    "                 every run whatever the list)\n" +
    "  --answers DIR  after the first run of each query, untimed, write its answer to\n" +
    "                 DIR/<query>.csv (a header line, then one line per row)\n";
  const out = { mode: "groupby", csv: null, dir: null, reps: 5, threads: 2, only: null, answers: null };
  let onlyText = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") {
      process.stdout.write(usage);
      process.exit(0);
    } else if (a === "--only") {
      const v = argv[++i];
      if (v === undefined) die(prog, EXIT_USAGE, `--only needs a list of workloads\n${usage}`);
      onlyText = v;
    } else if (a === "--join") {
      const v = argv[++i];
      if (v === undefined || v === "") die(prog, EXIT_USAGE, `--join needs a directory\n${usage}`);
      if (out.dir !== null) die(prog, EXIT_USAGE, `one --join directory only\n${usage}`);
      out.dir = v;
      out.mode = "join";
    } else if (a === "--answers") {
      const v = argv[++i];
      if (v === undefined || v === "") die(prog, EXIT_USAGE, `--answers needs a directory\n${usage}`);
      if (!fs.existsSync(v) || !fs.statSync(v).isDirectory()) {
        die(prog, EXIT_FAILED, `--answers: '${v}' is not a directory`);
      }
      out.answers = v;
    } else if (a === "--reps" || a === "--threads") {
      const v = argv[++i];
      if (v === undefined || !/^[1-9][0-9]*$/.test(v)) {
        die(prog, EXIT_USAGE, `${a} needs a whole number >= 1, got ${v === undefined ? "nothing" : `'${v}'`}\n${usage}`);
      }
      out[a.slice(2)] = Number(v);
    } else if (a.startsWith("-")) {
      die(prog, EXIT_USAGE, `unknown option '${a}'\n${usage}`);
    } else if (out.csv === null) {
      out.csv = a;
    } else {
      die(prog, EXIT_USAGE, `one CSV file only, got '${out.csv}' and '${a}'\n${usage}`);
    }
  }
  if (out.csv !== null && out.dir !== null) {
    die(prog, EXIT_USAGE, `a CSV file (F0, F1) or --join DIR (F2), not both\n${usage}`);
  }
  if (out.csv === null && out.dir === null) die(prog, EXIT_USAGE, `no CSV file or --join DIR given\n${usage}`);
  out.workloads = out.mode === "join" ? JOIN_WORKLOADS : WORKLOADS;
  out.only = new Set(out.workloads);
  if (onlyText !== null) {
    const list = onlyText.split(",").filter((w) => w !== "");
    const bad = list.filter((w) => !out.workloads.includes(w));
    if (list.length === 0 || bad.length) {
      die(prog, EXIT_USAGE, `--only needs workloads among ${out.workloads.join(",")}, got '${onlyText}'\n${usage}`);
    }
    out.only = new Set(list);
  }
  if (out.mode === "join") {
    out.tables = joinTables(prog, out.dir);
    return out;
  }
  let st;
  try {
    st = fs.statSync(out.csv);
  } catch (e) {
    die(prog, EXIT_FAILED, `cannot read '${out.csv}': ${e.code === "ENOENT" ? "no such file" : e.message}`);
  }
  if (!st.isFile()) die(prog, EXIT_FAILED, `'${out.csv}' is not a regular file`);
  out.bytes = st.size;
  return out;
}

// The peer's package, or exit 2 naming it and how to install it.
export async function importPeer(prog, name) {
  try {
    return await import(name);
  } catch (e) {
    die(prog, EXIT_NO_PEER,
      `the npm package ${name} is not installed or does not load here (${e.message.split("\n")[0]}); ` +
      "install the peers with: (cd bench/peers && npm ci), or: bash scripts/setup.sh bench");
  }
}

export function packageVersion(name) {
  try {
    return require(`${name}/package.json`).version;
  } catch {
    return "unknown";
  }
}

// The loaded table must have G1's value columns (names are what the peer read).
export function requireG1(prog, csv, names) {
  requireColumns(prog, csv, names, ["v1", "v2", "v3"], "a db-benchmark G1 groupby file");
}

// A J1 table must have the columns the joins use (names are what the peer read).
export const J1_COLUMNS = {
  x: ["id1", "id2", "id3", "id4", "id5", "id6", "v1"],
  small: ["id1", "id4", "v2"],
  medium: ["id1", "id2", "id4", "id5", "v2"],
  big: ["id1", "id2", "id3", "id4", "id5", "id6", "v2"],
};
export function requireJ1(prog, table, csv, names) {
  requireColumns(prog, csv, names, J1_COLUMNS[table], `db-benchmark's J1 table ${table}`);
}

function requireColumns(prog, csv, names, wanted, what) {
  const missing = wanted.filter((c) => !names.includes(c));
  if (missing.length) {
    die(prog, EXIT_FAILED, `'${csv}' has no column ${missing.join(", ")} (columns: ${names.join(", ")}): ` +
      `not ${what}`);
  }
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function now() {
  return Number(process.hrtime.bigint()) / 1e9;
}

// A full garbage collection, so the last run's frames are freed (with their
// native memory) before the next run starts; untimed.
v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc");
export async function freeMemory() {
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

// Output: '#' comment lines, one 'workload<TAB>seconds' line per workload
// (the median), then 'check<TAB>workload<TAB>rows<TAB>sum'.
export function comment(...fields) {
  process.stdout.write(`# ${fields.join("\t")}\n`);
}

export function report(prog, workload, times, checks) {
  const first = checks[0];
  for (const c of checks) {
    // Rows exactly; sums to 1e-9 relative (a parallel sum's rounding may
    // depend on the order in which threads finish).
    if (c.rows !== first.rows || !(Math.abs(c.sum - first.sum) <= 1e-9 * Math.abs(first.sum))) {
      die(prog, EXIT_FAILED, `${workload}: the runs disagree (${first.rows} rows, sum ${first.sum} ` +
        `against ${c.rows} rows, sum ${c.sum})`);
    }
  }
  comment("runs", workload, times.map((t) => t.toFixed(6)).join(","));
  process.stdout.write(`${workload}\t${median(times).toFixed(6)}\n`);
  process.stdout.write(`check\t${workload}\t${first.rows}\t${first.sum}\n`);
}
