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
check eval-bad-memory 2 '^$' 'memory-limit' -- "$tessera" eval --memory-limit lots '1'
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

# ---- usage, environment and messages in the user's terms (M2-1 items 12
# and 13): usage errors exit 2 for every option, every TESSERA_* variable
# and OMP_NUM_THREADS is checked (naming it and what it accepts), "--" ends
# the options, "-f -" reads standard input, and no message names a C
# function.
for args in "eval --memory-limit garbage 1" "eval --memory-limit=12XB 1" "eval --threads 0 1" \
  "eval --threads=x 1" "eval --compress 10 1" "eval --trace" "eval --in" "eval --bogus 1" \
  "eval -f" "gen array u.h5:/x --shape 3 --memory-limit garbage" "gen array u.h5:/x --shape 3 --threads -1" \
  "gen array u.h5:/x --shape 3 --seed -1" "gen array u.h5:/x --shape 3 --compress x" \
  "gen array u.h5:/x --shape 3,y" "gen array u.h5:/x --shape 3 --dist poisson" "gen array u.h5:/x --shape 3 --bogus" \
  "info --bogus a.h5" "info a.h5 /x /y" "info" "bench" "gen" "gen array" "eval"; do
  # shellcheck disable=SC2086
  check "usage-exit-2: $args" 2 '^$' 'tessera: error: ' -- "$tessera" $args
done
for var in TESSERA_MPI=yes TESSERA_OWNER_BLOCK=abc TESSERA_OWNER_BLOCK=-2 TESSERA_NUM_THREADS=0 \
  OMP_NUM_THREADS=many TESSERA_MEMORY_LIMIT=lots TESSERA_CHUNK_BYTES=0 TESSERA_LOG=loud \
  TESSERA_EXECUTOR=gpu TESSERA_SPILL_DIR=/nonexistent/dir; do
  name="${var%%=*}"
  check "env-checked: $var eval" 1 '^$' "tessera: error: $name='?${var#*=}" -- env "$var" "$tessera" eval '1 + 1'
  check "env-checked: $var info" 1 '^$' "tessera: error: $name" -- env "$var" "$tessera" info a.h5
done
check env-accepted 0 '^2$' '^$' -- env TESSERA_MPI=0 TESSERA_OWNER_BLOCK=3 OMP_NUM_THREADS=2,1 "$tessera" eval '1 + 1'
check double-dash-program 0 '^\[-0\.0, -1\.0\]$' '^$' -- "$tessera" eval --quiet -- '-arange(2.0)'
check double-dash-info 0 '^/x ' '^$' -- "$tessera" info -- a.h5 /x
echo '2 * 21' >prog.tsr
check stdin-program 0 '^42$' '^$' -- bash -c "\"$tessera\" eval -f - <prog.tsr"
check stdin-program-empty 1 '^$' 'nothing to print' -- bash -c "\"$tessera\" eval -f - </dev/null"
check missing-program-file 1 '^$' "cannot read the program file 'nosuch\.tsr': No such file or directory" -- "$tessera" eval -f nosuch.tsr
check directory-program-file 1 '^$' "cannot read the program file '\.': Is a directory" -- "$tessera" eval -f .
check info-directory 1 '^$' "cannot open '\.': Is a directory" -- "$tessera" info .
check info-missing-why 1 '^$' "cannot open 'nope\.h5': No such file or directory" -- "$tessera" info nope.h5
check out-root-path 2 '^$' "dataset path '/' is empty" -- "$tessera" eval --out 'a=o.h5:/' 'a = 1'
check out-empty-name 2 '^$' "dataset path '/g//d' has an empty name" -- "$tessera" eval --out 'a=o.h5:/g//d' 'a = ones(2)'
check out-trailing-slash 2 '^$' "dataset path '/g/' has an empty name" -- "$tessera" eval --out 'a=o.h5:/g/' 'a = ones(2)'
check gen-root-path 2 '^$' "dataset path '/' is empty" -- "$tessera" gen array o.h5:/ --shape 3
check shape-float-item 1 '^$' "argument 'shape' must be a tuple of integers, but item 0 is 1000000000000\.0 \(a float\)" -- "$tessera" eval 'zeros(shape=(1e12, 1e12))'
check chunks-float-item 1 '^$' "argument 'chunks' must be a tuple of integers \(or None\), but item 1 is a string" -- "$tessera" eval 'ones((4, 4), chunks=(2, "a"))'
# No message reachable from the command names a C function (tsr_...).
for prog in 'ones(2) @ ones(3)' 'ones(2)[5]' 'reshape(ones(6), (4, 2))' 'astype(ones(2), "f9")' \
  'matmul(1.0, ones(2))' 'transpose(ones((2, 2)), (0, 0))' 'squeeze(ones((2, 2)), 0)' \
  'concatenate((ones(2), ones((2, 2))))' 'stack((ones(2), ones(3)))' 'tensordot(ones(2), ones(3), 1)' \
  'expand_dims(ones(2), 5)' 'rechunk(ones(4), (0, 1))' 'cumsum(ones(2), 3)' 'clip(ones(2), "a", 1)' \
  'linspace(0, 1, -1)' 'eye(-1)' 'full((2,), 300, dtype="u1")' 'random((2,), dist="cauchy")'; do
  "$tessera" eval "$prog" >out.txt 2>err.txt
  if [[ $? -eq 0 ]] || ! grep -q 'tessera: error:' err.txt || grep -q 'tsr_' err.txt; then
    echo "FAIL c-names: $prog: $(head -c 300 err.txt)"; failures=$((failures + 1))
  else
    echo "ok   c-names: $prog"
  fi
done
check c-names-in 1 '^$' "has no dataset '/nope'" -- "$tessera" eval --in t=a.h5:/nope 't'
if grep -q 'tsr_' err.txt; then echo "FAIL c-names-in: $(cat err.txt)"; failures=$((failures + 1)); fi
# A full disk (a 256 KiB tmpfs, where mounting is allowed): one line saying
# why, no HDF5 error stack.
if mkdir tiny && mount -t tmpfs -o size=256k tmpfs tiny 2>/dev/null; then
  "$tessera" eval --out a=tiny/x.h5:/a 'a = random(shape=(1000, 1000), chunks=(100, 1000))' >out.txt 2>err.txt
  rc=$?
  if [[ $rc -ne 1 ]] || [[ "$(grep -c 'tessera: error:' err.txt)" -ne 1 ]] ||
    ! grep -q 'tessera: error: .*No space left on device' err.txt || grep -q 'HDF5-DIAG\|time = \|#00' err.txt; then
    echo "FAIL full-disk: rc $rc: $(head -c 600 err.txt)"; failures=$((failures + 1))
  else
    echo "ok   full-disk"
  fi
  umount tiny
else
  echo "skip full-disk (cannot mount a tmpfs here)"
fi

# ---- info: every filter by name, layouts (compact, virtual), enums read
# as eval reads them, soft and external links with their targets (not
# followed), made by h5py (skipped without it).
if /usr/bin/python3 -c 'import h5py' 2>/dev/null &&
  /usr/bin/python3 "$(dirname "$0")/make_odd_h5.py" odd.h5 2>/dev/null; then
  "$tessera" info odd.h5 >info.txt 2>info.err
  want=(
    '^/fl +dataset float64 \(100,\), chunks \(10,\), fletcher32, '
    '^/so +dataset int64 \(100,\), chunks \(10,\), scaleoffset, '
    '^/lzf +dataset int64 \(100,\), chunks \(10,\), lzf \(filter 32000\) \[not available\], '
    '^/nb +dataset int32 \(100,\), chunks \(10,\), shuffle \+ deflate 6, '
    '^/compact +dataset int32 \(4,\), compact, '
    '^/v +dataset float64 \(2, 4\), virtual \(2 source datasets\), '
    '^/color +dataset int16 \(enum\) \(3,\), contiguous, '
    '^/onoff +dataset uint8 \(enum\) \(3,\), contiguous, '
    '^/flag +dataset bool \(2,\), contiguous, '
    '^/soft +soft link -> /a$'
    '^/dangling +soft link -> /nowhere \(dangling\)$'
    '^/ext +external link -> ext\.h5:/target$'
    '^/extmissing +external link -> missing\.h5:/t \(dangling\)$'
  )
  for w in "${want[@]}"; do
    if ! grep -Eq -- "$w" info.txt; then
      echo "FAIL info-odd: no line matching $w in: $(cat info.txt info.err)"; failures=$((failures + 1))
    else
      echo "ok   info-odd: $w"
    fi
  done
  if grep -q 'not readable' info.txt; then
    echo "FAIL info-odd: a readable type marked unreadable"; failures=$((failures + 1))
  fi
  # eval reads the enums and the virtual dataset as info says
  check eval-enum-int16 0 '^\[0, 1, 300\]$' '^$' -- "$tessera" eval --in c=odd.h5:/color 'c'
  check eval-enum-uint8 0 '^\[1, 0, 1\]$' '^$' -- "$tessera" eval --in o=odd.h5:/onoff 'o'
  check eval-virtual 0 '^ \[10\.0, 11\.0, 12\.0, 13\.0\]\]$' '^$' -- "$tessera" eval --in v=odd.h5:/v 'v'
else
  echo "skip info-odd (no h5py for /usr/bin/python3)"
fi

echo "$failures failure(s)"
[[ $failures -eq 0 ]]
