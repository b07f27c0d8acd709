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

// parseArgs(prog, argv): {csv, reps, threads} from "CSV [--reps R] [--threads T]".
export function parseArgs(prog, argv) {
  const usage = `usage: node ${prog} CSV [--reps R] [--threads T]\n` +
    "  CSV          a db-benchmark G1 groupby file (id1..id6, v1, v2, v3)\n" +
    "  --reps R     timed runs of each workload; the median is printed (default 5)\n" +
    "  --threads T  the peer's thread count (default 2)\n";
  const out = { csv: null, reps: 5, threads: 2 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") {
      process.stdout.write(usage);
      process.exit(0);
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
