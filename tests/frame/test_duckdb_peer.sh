#!/usr/bin/env bash
# test_duckdb_peer.sh — the DuckDB partner of the CSV reader's tests
# (bench/peers/duckdb_csv_cells.mjs) works here: it reads small CSV files
# written below (quotes, doubled quotes, an embedded newline and tab, nulls,
# a quoted empty field, a date, a timestamp, floats, CRLF) and prints exactly
# the cells worked out by hand.  Run by ctest as frame.duckdb_peer with the
# script's path; exit 77 (skipped) when node or the npm package
# @duckdb/node-api (bash scripts/setup.sh test installs it) is missing.
set -u
script="$1"
if ! command -v node >/dev/null; then
  echo "skipped: node is not on the PATH"
  exit 77
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0

# check NAME WANT_RC EXPECTED_FILE [args...]: stdout must equal EXPECTED_FILE
# (with WANT_RC 0) or stderr must match it as a regex (otherwise).
check() {
  local name="$1" want_rc="$2" want="$3"
  shift 3
  node "$script" "$@" >out.txt 2>err.txt
  local rc=$?
  if [[ $rc -eq 2 ]] && grep -q 'not installed' err.txt; then
    echo "skipped: $(cat err.txt)"
    exit 77
  fi
  if [[ $rc -ne $want_rc ]]; then
    echo "FAIL $name: rc $rc (want $want_rc); stderr: $(head -c 600 err.txt)"
    failures=$((failures + 1))
  elif [[ $want_rc -eq 0 ]] && ! diff -u "$want" out.txt >diff.txt; then
    echo "FAIL $name: output differs from the expected cells:"
    cat diff.txt
    failures=$((failures + 1))
  elif [[ $want_rc -ne 0 ]] && ! grep -Eq -- "$(cat "$want")" err.txt; then
    echo "FAIL $name: stderr '$(head -c 600 err.txt)' does not match '$(cat "$want")'"
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}

# Row 1: a quoted delimiter, doubled quotes and an embedded newline; a
# timestamp with a fraction.  Row 2: unquoted empty fields (nulls) and a
# backslash.  Row 3: a quoted empty field (DuckDB: null by default), a
# quoted tab, an exponent, midnight.  Row 4: an embedded CR LF, a large
# float, a time before 1970 with a fraction.
printf '%s\n' \
  'id,name,price,day,ts,ok,note' \
  '1,"Smith, J",1.5,2024-02-29,2024-02-29 13:45:00.25,true,"say ""hi""' \
  'then leave"' \
  '2,,0.1,,,false,back\slash' \
  '3,"",-2.25e-3,1999-12-31,1970-01-01 00:00:00,,"a	b"' \
  $'4,x,1e300,1900-03-01,1969-12-31 23:59:59.5,true,"crlf\r' \
  'end"' >mixed.csv

printf '%s\n' \
  $'#columns\tid\tname\tprice\tday\tts\tok\tnote' \
  $'#types\tBIGINT\tVARCHAR\tDOUBLE\tDATE\tTIMESTAMP\tBOOLEAN\tVARCHAR' \
  $'1\tSmith, J\t1.5\t2024-02-29\t2024-02-29 13:45:00.250000\ttrue\tsay "hi"\\nthen leave' \
  $'2\t\\N\t0.1\t\\N\t\\N\tfalse\tback\\\\slash' \
  $'3\t\\N\t-0.00225\t1999-12-31\t1970-01-01 00:00:00\t\\N\ta\\tb' \
  $'4\tx\t1e+300\t1900-03-01\t1969-12-31 23:59:59.500000\ttrue\tcrlf\\r\\nend' >mixed.want
check sniffed 0 mixed.want mixed.csv

# The quoted empty field as an empty string, as tessera reads it.
sed '5s/^3\t\\N\t/3\t\t/' mixed.want >mixed_quoted.want
check quoted-nulls-false 0 mixed_quoted.want mixed.csv --quoted-nulls false

# Given options: no header, every column text, ';' as the delimiter; CRLF
# line ends are not part of the cells.
printf 'a;"x;y"\r\n7;\r\n-0;"2.50"\r\n' >semi.csv
printf '%s\n' \
  $'#columns\tcolumn0\tcolumn1' \
  $'#types\tVARCHAR\tVARCHAR' \
  $'a\tx;y' \
  $'7\t\\N' \
  $'-0\t2.50' >semi.want
check options 0 semi.want semi.csv --header false --all-varchar --delim ';'

# Errors: DuckDB's message and status 1; bad usage 64.
echo 'No files found' >missing.want
check missing-file 1 missing.want "$work/no such file.csv"
echo '^duckdb_csv_cells.mjs: --header needs true or false' >usage.want
check bad-usage 64 usage.want mixed.csv --header maybe

if ((failures)); then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all checks passed"
