#!/usr/bin/env node
// duckdb_csv_cells.mjs — DuckDB's reading of a CSV file as a canonical text
// dump, the partner against which tessera's tests check its CSV reader.
//
//   node bench/peers/duckdb_csv_cells.mjs FILE [--header true|false] [--delim X] [--all-varchar]
//                                              [--quoted-nulls true|false]
//
// FILE is read with DuckDB's read_csv (npm @duckdb/node-api, bench/peers/
// package.json), which sniffs whatever the options do not give:
//   --header true|false   read_csv(header = ...)
//   --delim X             read_csv(delim = 'X'); X is one character, or \t for a tab
//   --all-varchar         read_csv(all_varchar = true): every column VARCHAR
//   --quoted-nulls B      read_csv(allow_quoted_nulls = B).  DuckDB's default (true) reads
//                         a quoted empty field "" as null; tessera reads it as an empty
//                         string (only an unquoted empty field is null): compare with false
// Output (stdout), one line each, fields separated by a TAB:
//   #columns  name1  name2 ...        the column names (escaped as strings are)
//   #types    T1     T2    ...        DuckDB's type names (VARCHAR, BIGINT, DOUBLE, DATE, ...)
//   then one line per row, in file order:
//   - null: \N
//   - strings: backslash, TAB, CR and LF written as \\, \t, \r, \n; nothing else changes
//     (so an empty string is an empty cell, and the text \N is written \\N)
//   - integers in decimal (BIGINT and wider exactly, as BigInt);
//   - DOUBLE (and FLOAT, widened to double) as JavaScript's shortest text that reads
//     back to the same double (1.5, 0.1, 1e+21, 5e-324; -0 as -0; NaN, Infinity, -Infinity)
//   - DECIMAL exactly, as DuckDB prints it; booleans true / false
//   - DATE as YYYY-MM-DD (proleptic Gregorian; years before 1 as -YYYY, astronomical:
//     0000 is 1 BC; infinity / -infinity)
//   - TIMESTAMP as YYYY-MM-DD HH:MM:SS, followed by .ffffff (six digits) when the
//     microseconds are not zero; TIMESTAMP WITH TIME ZONE the same in UTC followed by +00
//     (TIMESTAMP_S/_MS/_NS likewise, the fraction in 0/3/9 digits); TIME as HH:MM:SS[.ffffff]
//   - anything else as DuckDB's text of it, escaped as a string.
// Exit 0 on success; 1 when DuckDB cannot read the file (its message on stderr);
// 2 when @duckdb/node-api is not installed; 64 bad usage.
const prog = "duckdb_csv_cells.mjs";
const usage = `usage: node ${prog} FILE [--header true|false] [--delim X] [--all-varchar] ` +
  "[--quoted-nulls true|false]\n";

function die(status, message) {
  process.stderr.write(`${prog}: ${message}\n`);
  process.exit(status);
}

const argv = process.argv.slice(2);
let file = null;
const options = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "-h" || a === "--help") {
    process.stdout.write(usage);
    process.exit(0);
  } else if (a === "--header" || a === "--quoted-nulls") {
    const v = argv[++i];
    if (v !== "true" && v !== "false") die(64, `${a} needs true or false, got ${v === undefined ? "nothing" : `'${v}'`}\n${usage}`);
    options.push(`${a === "--header" ? "header" : "allow_quoted_nulls"} = ${v}`);
  } else if (a === "--delim") {
    let v = argv[++i];
    if (v === "\\t") v = "\t";
    if (v === undefined || [...v].length !== 1) die(64, `--delim needs one character (or \\t), got ${v === undefined ? "nothing" : `'${v}'`}\n${usage}`);
    options.push(`delim = '${v.replaceAll("'", "''")}'`);
  } else if (a === "--all-varchar") {
    options.push("all_varchar = true");
  } else if (a.startsWith("-") && a !== "-") {
    die(64, `unknown option '${a}'\n${usage}`);
  } else if (file === null) {
    file = a;
  } else {
    die(64, `one FILE only, got '${file}' and '${a}'\n${usage}`);
  }
}
if (file === null) die(64, `no FILE given\n${usage}`);

let api;
try {
  api = await import("@duckdb/node-api");
} catch (e) {
  die(2, `the npm package @duckdb/node-api is not installed or does not load here (${e.message.split("\n")[0]}); ` +
    "install it with: (cd bench/peers && npm ci), or: bash scripts/setup.sh test");
}
const { DuckDBInstance, DuckDBTypeId: T } = api;

const escape = (s) => s.replace(/[\\\t\r\n]/g, (c) => ({ "\\": "\\\\", "\t": "\\t", "\r": "\\r", "\n": "\\n" })[c]);
const pad = (n, width) => String(n).padStart(width, "0");

// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
// (H. Hinnant's days_from_civil inverse); exact for every int32 day count.
function civil(days) {
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  return `${y < 0 ? "-" : ""}${pad(Math.abs(y), 4)}-${pad(m, 2)}-${pad(d, 2)}`;
}

const DATE_INF = 2147483647;
function date(days) {
  if (days === DATE_INF) return "infinity";
  if (days === -DATE_INF) return "-infinity";
  return civil(days);
}

// A time of day given in units of 10^-digits seconds: HH:MM:SS[.fraction].
function clock(units, digits) {
  const perSecond = 10n ** BigInt(digits);
  const seconds = units / perSecond;
  const frac = units % perSecond;
  const s = Number(seconds);
  let text = `${pad(Math.floor(s / 3600), 2)}:${pad(Math.floor(s / 60) % 60, 2)}:${pad(s % 60, 2)}`;
  if (frac !== 0n) text += `.${pad(frac, digits)}`;
  return text;
}

const TS_INF = 2n ** 63n - 1n;
function timestamp(units, digits) {
  if (units === TS_INF) return "infinity";
  if (units === -TS_INF) return "-infinity";
  const perDay = 86400n * 10n ** BigInt(digits);
  let day = units / perDay;
  let rest = units % perDay;
  if (rest < 0n) {
    rest += perDay;
    day -= 1n;
  }
  return `${civil(Number(day))} ${clock(rest, digits)}`;
}

function cell(v, typeId) {
  if (v === null || v === undefined) return "\\N";
  switch (typeId) {
    case T.VARCHAR:
      return escape(v);
    case T.BOOLEAN:
      return v ? "true" : "false";
    case T.DOUBLE:
    case T.FLOAT:
      return Object.is(v, -0) ? "-0" : String(v);
    case T.DATE:
      return date(v.days);
    case T.TIMESTAMP:
      return timestamp(v.micros, 6);
    case T.TIMESTAMP_TZ:
      return `${timestamp(v.micros, 6)}${v.micros === TS_INF || v.micros === -TS_INF ? "" : "+00"}`;
    case T.TIMESTAMP_S:
      return timestamp(v.seconds, 0);
    case T.TIMESTAMP_MS:
      return timestamp(v.millis, 3);
    case T.TIMESTAMP_NS:
      return timestamp(v.nanos, 9);
    case T.TIME:
      return clock(v.micros, 6);
    default:
      // Integers (number or BigInt), DECIMAL and the rest: their own text.
      return escape(String(v));
  }
}

const quoted = `'${file.replaceAll("'", "''")}'`;
const sql = `SELECT * FROM read_csv(${[quoted, ...options].join(", ")})`;
let result;
try {
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  result = await con.run(sql); // materialized: a read error surfaces here, before any output
} catch (e) {
  die(1, `DuckDB cannot read '${file}': ${e.message}`);
}
const types = result.columnTypes();
const ids = types.map((t) => t.typeId);
const out = [];
out.push(`#columns\t${result.columnNames().map(escape).join("\t")}\n`);
out.push(`#types\t${types.map((t) => escape(t.toString())).join("\t")}\n`);
try {
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    for (const row of chunk.getRows()) {
      out.push(`${row.map((v, i) => cell(v, ids[i])).join("\t")}\n`);
    }
    if (out.length >= 4096) process.stdout.write(out.splice(0).join(""));
  }
} catch (e) {
  die(1, `DuckDB cannot read '${file}': ${e.message}`);
}
process.stdout.write(out.join(""));
