#!/usr/bin/env bash
# test_cli.sh — end-to-end tests of the `tessera` command: every subcommand,
# its outputs, and its error paths (message on stderr, exit 1 for a failed
# job or bad input, 2 for bad usage).  Run by ctest as cli.end_to_end with
# the command's path; values are checked against numbers worked out by hand
# or computed by the command's own array engine through another route.
set -u
tessera="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0

matches() { # matches FILE REGEX: '^$' means the file is empty
  if [[ "$2" == '^$' ]]; then [[ ! -s "$1" ]]; else grep -Eq -- "$2" "$1"; fi
}

check() { # check NAME WANT_RC WANT_STDOUT_REGEX WANT_STDERR_REGEX -- command...
  local name="$1" want_rc="$2" want_out="$3" want_err="$4"
  shift 5
  "$@" >out.txt 2>err.txt
  local rc=$?
  if [[ $rc -ne $want_rc ]] || ! matches out.txt "$want_out" || ! matches err.txt "$want_err"; then
    echo "FAIL $name: rc $rc (want $want_rc)"
    echo "  stdout: $(head -c 600 out.txt)"
    echo "  stderr: $(head -c 600 err.txt)"
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}

check version 0 '^tessera [0-9]+\.[0-9]+\.[0-9]+$' '^$' -- "$tessera" --version
check help 0 'commands:' '^$' -- "$tessera" --help
check no-command 2 '^$' 'usage' -- "$tessera"
check unknown-command 2 '^$' "unknown command 'frobnicate'" -- "$tessera" frobnicate
for sub in eval gen info bench; do
  check "help-$sub" 0 'usage: tessera' '^$' -- "$tessera" "$sub" --help
done

# eval without files: numbers worked out by hand.
check eval-scalar 0 '^7$' '^$' -- "$tessera" eval '1 + 2 * 3'
check eval-precedence 0 '^-16\.0$' '^$' -- "$tessera" eval '-2.0 ** 4'
check eval-array 0 '^\[6\.0, 6\.0, 6\.0, 6\.0\]$' '^$' -- "$tessera" eval 'sum(ones((3, 4)) * 2, axis=0)'
check eval-statements 0 '^\[\[0, 1\],$' '^$' -- "$tessera" eval $'x = arange(0, 4, 1, dtype="i8")\nreshape(x, (2, 2))'
check eval-syntax 1 '^$' 'line 1, column 11: expected' -- "$tessera" eval 'x = (1 + 2'
check eval-caret 1 '^$' '^ +\^$' -- "$tessera" eval 'x = (1 + 2'
check eval-unknown-name 1 '^$' 'nosuch' -- "$tessera" eval 'nosuch + 1'
check eval-unknown-function 1 '^$' 'frob' -- "$tessera" eval 'frob(1)'
check eval-bad-keyword 1 '^$' 'axes' -- "$tessera" eval 'sum(ones((2, 2)), axes=0)'
check eval-shape-mismatch 1 '^$' '\(3, 4\) and \(4, 3\)' -- "$tessera" eval 'zeros((3, 4)) + ones((4, 3))'
check eval-unknown-option 2 '^$' "unknown option '--bogus'" -- "$tessera" eval --bogus '1'
check eval-no-program 2 '^$' 'no program' -- "$tessera" eval
check eval-bad-threads 2 '^$' "threads '0'" -- "$tessera" eval --threads 0 '1'
check eval-bad-memory 1 '^$' 'memory-limit' -- "$tessera" eval --memory-limit lots '1'
check eval-missing-file 1 '^$' "nope.h5" -- "$tessera" eval --in x=nope.h5:/x 'x'
check eval-bad-binding 2 '^$' 'NAME=FILE.h5:/DATASET' -- "$tessera" eval --in x 'x'

# gen, info, eval over files: arange values are known exactly.
check gen-arange 0 'wrote a\.h5:/x' '^$' -- "$tessera" gen array a.h5:/x --shape 4,6 --chunks 2,3 --dist arange --dtype i8
check info-file 0 '/x +dataset int64 \(4, 6\), chunks \(2, 3\)' '^$' -- "$tessera" info a.h5
check info-dataset 0 '^/x ' '^$' -- "$tessera" info a.h5 /x
check eval-file-sum 0 '^276$' '^$' -- "$tessera" eval --in x=a.h5:/x 'sum(x)'
check eval-file-mean 0 '^\[9\.0, 10\.0, 11\.0, 12\.0, 13\.0, 14\.0\]$' '^$' -- "$tessera" eval --in x=a.h5:/x 'mean(x, axis=0)'
check eval-out 0 '^$' 'wrote b\.h5:/d' -- "$tessera" eval --in x=a.h5:/x 'd = x - mean(x, axis=0)' --out d=b.h5:/d
check eval-readback 0 '^0\.0$' '^$' -- "$tessera" eval --in d=b.h5:/d 'sum(abs(mean(d, axis=0)))'
check gen-compressed 0 'wrote c\.h5:/z' '^$' -- "$tessera" gen array c.h5:/z --shape 300,200 --chunks 100,200 --compress 4 --seed 3
check info-compressed 0 'shuffle \+ deflate 4' '^$' -- "$tessera" info c.h5
check eval-stats 0 '^' 'hdf5: .* read' -- "$tessera" eval --in z=c.h5:/z --stats 'sum(z) > 0'
check eval-trace 0 '^True$' '^$' -- "$tessera" eval --in z=c.h5:/z --trace t.json --graph g.dot 'sum(z) > 0'
if ! python3 -c 'import json,sys; json.load(open("t.json"))' || ! grep -q digraph g.dot; then
  echo "FAIL trace/graph files"; failures=$((failures + 1))
fi
check eval-memory-limit 0 '^True$' '^$' -- "$tessera" eval --memory-limit 2MB 'x = random(shape=(1000, 1000), chunks=(100, 1000), seed=2); abs(sum(x - mean(x, axis=0))) < 1e-6'
check info-missing 1 '^$' "cannot open 'nope\.h5'" -- "$tessera" info nope.h5
check info-missing-object 1 '^$' "has no object '/y'" -- "$tessera" info a.h5 /y
check info-not-hdf5 1 '^$' 'not an HDF5 file' -- "$tessera" info "$0"
check gen-no-shape 2 '^$' '--shape is required' -- "$tessera" gen array d.h5:/x
check gen-bad-target 2 '^$' 'FILE\.h5:/DATASET' -- "$tessera" gen array d.h5 --shape 3
check gen-bad-dtype 2 '^$' "dtype 'f9'" -- "$tessera" gen array d.h5:/x --shape 3 --dtype f9
check gen-unwritable 1 '^$' 'e\.h5' -- "$tessera" gen array /proc/nonexistent/e.h5:/x --shape 3
if ls ./*.tmp.* >/dev/null 2>&1; then
  echo "FAIL temporary files left behind"; failures=$((failures + 1))
fi
check bench-unknown 2 '^$' 'bench_nosuch' -- "$tessera" bench nosuch

# ---- printing (M2-1 item 9): NumPy's summarization and signed zeros, text
# compared exactly.
check_exact() { # check_exact NAME WANT_STDOUT -- command...: exit 0, this stdout, no stderr
  local name="$1" want="$2"
  shift 3
  "$@" >out.txt 2>err.txt
  local rc=$?
  if [[ $rc -ne 0 ]] || [[ "$(cat out.txt)" != "$want" ]] || [[ -s err.txt ]]; then
    echo "FAIL $name: rc $rc"
    echo "  stdout: $(head -c 600 out.txt)"
    echo "  want:   $want"
    echo "  stderr: $(head -c 600 err.txt)"
    failures=$((failures + 1))
  else
    echo "ok   $name"
  fi
}
check_exact print-empty-huge '[], shape=(100000000000, 0)' -- "$tessera" eval 'zeros(shape=(100000000000, 0))'
check_exact print-empty-1d '[]' -- "$tessera" eval 'zeros(0)'
check_exact print-summary-1d '[0, 1, 2, ..., 1997, 1998, 1999]' -- "$tessera" eval 'arange(2000)'
check_exact print-summary-2d $'[[0.0, 0.0],\n [0.0, 0.0],\n [0.0, 0.0],\n ...,\n [0.0, 0.0],\n [0.0, 0.0],\n [0.0, 0.0]]' \
  -- "$tessera" eval --memory-limit 8MB 'zeros(shape=(10000000, 2), chunks=(100000, 2))'
check_exact print-negative-zero '-0.0' -- "$tessera" eval '-0.0'
check_exact print-negative-zero-full '[-inf, -inf]' -- "$tessera" eval '1/full(shape=(2,), fill_value=-0.0)'

echo "$failures failure(s)"
[[ $failures -eq 0 ]]
