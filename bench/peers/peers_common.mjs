// peers_common.mjs — what frames_duckdb.mjs and frames_polars.mjs share: the
// command line, loading the peer's npm package (exit 2 when it cannot be
// loaded), medians, freeing memory between runs and the output lines.
//
// Exit status of the frame peers: 0 done, 1 the run failed (file missing,
// read error, results differing between runs), 2 the peer's library is not
// installed or does not load (the harness reports the peer as skipped),
// 64 bad usage.
import { createRequire } from "node:module";
import fs from "node:fs";
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

// parseArgs(prog, argv): {csv, reps, threads, only, answers} from
// "CSV [--reps R] [--threads T] [--only W,...] [--answers DIR]".
export function parseArgs(prog, argv) {
  const usage = `usage: node ${prog} CSV [--reps R] [--threads T] [--only W,...] [--answers DIR]\n` +
    "  CSV            a db-benchmark G1 groupby file (id1..id6, v1, v2, v3)\n" +
    "  --reps R       timed runs of each workload; the median is printed (default 5)\n" +
    "  --threads T    the peer's thread count (default 2)\n" +
    `  --only W,...   the workloads to run, of ${WORKLOADS.join(",")} (default all;\n` +
    "                 the file is loaded in every run whatever the list)\n" +
    "  --answers DIR  after the first run of each query, untimed, write its answer to\n" +
    "                 DIR/<query>.csv (a header line, then one line per row)\n";
  const out = { csv: null, reps: 5, threads: 2, only: new Set(WORKLOADS), answers: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") {
      process.stdout.write(usage);
      process.exit(0);
    } else if (a === "--only") {
      const v = argv[++i];
      const list = v === undefined ? [] : v.split(",").filter((w) => w !== "");
      const bad = list.filter((w) => !WORKLOADS.includes(w));
      if (list.length === 0 || bad.length) {
        die(prog, EXIT_USAGE, `--only needs workloads among ${WORKLOADS.join(",")}, got ` +
          `${v === undefined ? "nothing" : `'${v}'`}\n${usage}`);
      }
      out.only = new Set(list);
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
  if (out.csv === null) die(prog, EXIT_USAGE, `no CSV file given\n${usage}`);
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
  const missing = ["v1", "v2", "v3"].filter((c) => !names.includes(c));
  if (missing.length) {
    die(prog, EXIT_FAILED, `'${csv}' has no column ${missing.join(", ")} (columns: ${names.join(", ")}): ` +
      "not a db-benchmark G1 groupby file");
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
