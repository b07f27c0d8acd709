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
for sub in eval gen info bench query; do
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
# --chunks: the dataset read in the chunks given (1 row each: 4 sum tasks)
check eval-chunks 0 '^276$' '^sum +4 ' -- "$tessera" eval --in x=a.h5:/x --chunks x=1,-1 --stats 'sum(x)'
check eval-chunks-rank 1 '^$' '--chunks x: 1 extents for a 2-d dataset \(a\.h5:/x\)' -- "$tessera" eval --in x=a.h5:/x --chunks x=1 'sum(x)'
check eval-chunks-unbound 2 '^$' "--chunks 'y=1,1': no --in or --out binds 'y'" -- "$tessera" eval --in x=a.h5:/x --chunks y=1,1 'sum(x)'
# --chunks and --compress per --out variable
check eval-out-chunks 0 '^$' 'wrote pc\.h5:/y' -- "$tessera" eval 'x = ones(shape=(30, 20)); y = x * 2' --out x=pc.h5:/x --out y=pc.h5:/y --chunks x=10,-1 --chunks y=7,9 --compress y=4
check eval-out-chunks-info 0 '/x +dataset float64 \(30, 20\), chunks \(10, 20\), 4' '^$' -- "$tessera" info pc.h5
if grep -Eq '^/y +dataset float64 \(30, 20\), chunks \(7, 9\), shuffle \+ deflate 4' out.txt &&
   ! grep -Eq '^/x .*deflate' out.txt; then echo "ok   eval-out-compress-one"; else
  echo "FAIL eval-out-compress-one: $(cat out.txt)"; failures=$((failures + 1)); fi
check eval-out-chunks-zero 2 '^$' "stored chunks need extents >= 1 or -1" -- "$tessera" eval 'x = ones(shape=(3, 2))' --out x=pz.h5:/x --chunks x=0,1
check eval-out-chunks-rank 1 '^$' '--chunks x: 1 extents for a 2-d array' -- "$tessera" eval 'x = ones(shape=(3, 2))' --out x=pz.h5:/x --chunks x=1
check eval-out-compress-unbound 2 '^$' "--compress 'q=3': no --out binds 'q'" -- "$tessera" eval 'x = ones(shape=(3, 2))' --out x=pz.h5:/x --compress q=3
check eval-out-compress-bad 2 '^$' "--compress 'x=11' is not NAME=LEVEL" -- "$tessera" eval 'x = ones(shape=(3, 2))' --out x=pz.h5:/x --compress x=11
if [[ -e pz.h5 ]]; then echo "FAIL eval-out-failed-absent: pz.h5 exists"; failures=$((failures + 1)); else echo "ok   eval-out-failed-absent"; fi
check eval-chunks-twice 2 '^$' "chunks given twice for 'x'" -- "$tessera" eval --in x=a.h5:/x --chunks x=1,1 --chunks x=2,2 'sum(x)'
check eval-chunks-bad 2 '^$' "--chunks 'x=0,-2' has an extent" -- "$tessera" eval --in x=a.h5:/x --chunks x=0,-2 'sum(x)'
check eval-dtype 0 '^int64$' '^$' -- "$tessera" eval --in x=a.h5:/x 'x.dtype'
check eval-newaxis-round 0 '^\[\[1\.2\]\]$' '^$' -- "$tessera" eval 'round(ones((3, 2))[None, ..., 1:, 0] * 1.23456, 1)[..., 1:]'
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
# attributes: --attr on an --out dataset, typed by how the value reads, shown by info
check eval-attr 0 '^$' '^$' -- "$tessera" eval -q --out m=attr.h5:/m --attr 'm:units=deg C' \
  --attr m:_FillValue=-999 --attr m:scale=0.5 --attr 'm:code="42"' 'm = zeros(3)'
check info-attr 0 '^/m +dataset float64' '^$' -- "$tessera" info attr.h5 /m
for want in '@_FillValue = -999' '@code = "42"' '@scale = 0.5' '@units = "deg C"'; do
  grep -qxF "    $want" out.txt || { echo "FAIL info-attr: no line '$want' in: $(cat out.txt)"; failures=$((failures + 1)); }
done
check eval-attr-read 0 '^-998\.0$' '^$' -- "$tessera" eval --in m=attr.h5:/m 'attr(m, "scale") * 2 + attr(m, "_FillValue")'
check eval-attr-read-string 1 '^$' "attribute 'units' of 'attr.h5:/m' is the string \"deg C\"" -- "$tessera" eval --in m=attr.h5:/m 'attr(m, "units")'
check eval-attr-read-missing 1 '^$' "has no attribute 'nope' \(it has '_FillValue', 'code', 'scale', 'units'\)" -- "$tessera" eval --in m=attr.h5:/m 'attr(m, "nope")'
check eval-attr-read-computed 1 '^$' "must be a dataset as read from an HDF5 file" -- "$tessera" eval --in m=attr.h5:/m 'attr(m + 1, "scale")'
check eval-attr-unbound 2 '^$' "--attr 'q:units=K': no --out binds 'q'" -- "$tessera" eval --out m=attr2.h5:/m --attr q:units=K 'm = zeros(3)'
check eval-attr-malformed 2 '^$' "is not NAME:KEY=VALUE" -- "$tessera" eval --out m=attr2.h5:/m --attr m:units 'm = zeros(3)'
check eval-attr-twice 2 '^$' "attribute 'u' of 'm' given twice" -- "$tessera" eval --out m=attr2.h5:/m --attr m:u=1 --attr m:u=2 'm = zeros(3)'
[[ ! -e attr2.h5 ]] || { echo "FAIL eval-attr: a refused --attr left attr2.h5"; failures=$((failures + 1)); }
# sorting and order statistics: NumPy's documented examples, worked out by hand.
check eval-sort 0 '^\[-0\.0, 1\.5, 3\.0, nan\]$' '^$' -- "$tessera" eval 'sort((3, nan, -0.0, 1.5))'
check eval-sort-axis0 0 '^\[\[0, 3, 1\],$' '^$' -- "$tessera" eval 'sort(reshape(arange(0, 6, 1) * 3 % 7, (2, 3)), axis=0)'
check eval-argsort-stable 0 '^\[1, 3, 2, 0\]$' '^$' -- "$tessera" eval 'argsort((3, 1, 2, 1))'
check eval-unique-counts 0 '^\[1, 3, 1, 1, 1\]$' '^$' -- "$tessera" eval 'unique((1, 2, 6, 4, 2, 3, 2), return_counts=True)[1]'
check eval-quantile 0 '^\[1\.75, 2\.5, 4\.0\]$' '^$' -- "$tessera" eval 'percentile(arange(1, 5, 1), (25, 50, 100))'
check eval-median-axis 0 '^\[1\.0, 4\.0\]$' '^$' -- "$tessera" eval 'median(reshape(arange(0, 6, 1), (2, 3)), axis=1)'
check eval-nanmedian 0 '^2\.0$' '^$' -- "$tessera" eval 'nanmedian((1.0, nan, 3.0))'
check eval-median-nan 0 '^nan$' '^$' -- "$tessera" eval 'median((1.0, nan, 3.0))'
check eval-histogram 0 '^\[0, 2, 1\]$' '^$' -- "$tessera" eval 'histogram((1, 2, 1), bins=(0, 1, 2, 3))[0]'
check eval-histogram-edges 0 '^\[0\.0, 2\.0, 4\.0\]$' '^$' -- "$tessera" eval 'histogram(arange(0, 5, 1), bins=2)[1]'
check eval-bincount 0 '^\[1, 3, 1, 1, 0, 0, 0, 1\]$' '^$' -- "$tessera" eval 'bincount((0, 1, 1, 3, 2, 1, 7))'
check eval-digitize 0 '^\[1, 4, 3, 2\]$' '^$' -- "$tessera" eval 'digitize((0.2, 6.4, 3.0, 1.6), (0.0, 1.0, 2.5, 4.0, 10.0))'
check eval-searchsorted 0 '^\[0, 5, 1, 2\]$' '^$' -- "$tessera" eval 'searchsorted((1, 2, 3, 4, 5), (-10, 10, 2, 3))'
check eval-isin 0 '^\[False, True, False\]$' '^$' -- "$tessera" eval 'isin((1, 2, 3), (2, 7))'
check eval-quantile-q-range 1 '^$' 'q\[0\] = 2 is outside \[0, 1\]' -- "$tessera" eval 'quantile((1, 2), 2)'
check eval-sort-bad-axis 1 '^$' 'axis 3 is out of bounds' -- "$tessera" eval 'sort((1, 2), axis=3)'
check eval-bincount-negative 1 '^$' 'negative value \(-1\)' -- "$tessera" eval 'bincount((1, -1))'
check eval-bincount-float 1 '^$' 'bincount: x has dtype float64' -- "$tessera" eval 'bincount((1.5, 2))'
check eval-histogram-bins 1 '^$' 'bins = 0 must be positive' -- "$tessera" eval 'histogram((1, 2), bins=0)'
check eval-searchsorted-2d 1 '^$' 'a must be a sorted 1-D array' -- "$tessera" eval 'searchsorted(ones((2, 2)), 1)'
check eval-memory-limit 0 '^True$' '^$' -- "$tessera" eval --memory-limit 2MB 'x = random(shape=(1000, 1000), chunks=(100, 1000), seed=2); abs(sum(x - mean(x, axis=0))) < 1e-6'
check info-missing 1 '^$' "cannot open 'nope\.h5'" -- "$tessera" info nope.h5
check info-missing-object 1 '^$' "has no object '/y'" -- "$tessera" info a.h5 /y
check info-not-hdf5 1 '^$' 'not an HDF5 file' -- "$tessera" info "$0"
check gen-no-shape 2 '^$' '--shape is required' -- "$tessera" gen array d.h5:/x
check gen-bad-target 2 '^$' 'FILE\.h5:/DATASET' -- "$tessera" gen array d.h5 --shape 3
check gen-bad-dtype 2 '^$' "dtype 'f9'" -- "$tessera" gen array d.h5:/x --shape 3 --dtype f9
check gen-unwritable 1 '^$' 'e\.h5' -- "$tessera" gen array /proc/nonexistent/e.h5:/x --shape 3
if ls ./*.tmp.* ./.*.tmp.* >/dev/null 2>&1; then
  echo "FAIL temporary files left behind"; failures=$((failures + 1))
fi
check bench-unknown 2 '^$' 'bench_nosuch' -- "$tessera" bench nosuch

# A small slice of a sparse dataset of 3 x 10^13 chunks (h5py makes it in an
# instant) reads one chunk, within a 64 MB memory limit.
if /usr/bin/python3 -c 'import h5py; h5py.File("huge.h5", "w").create_dataset("t", shape=(10**14, 30), chunks=(10, 10), dtype="f8")' 2>/dev/null; then
  check eval-huge-slice 0 '^ \[0\.0, 0\.0, 0\.0\]\]$' '^$' -- "$tessera" eval --memory-limit 64MB --in t=huge.h5:/t 't[0:2, 0:3]'
  check info-huge 0 '/t +dataset float64 \(100000000000000, 30\), chunks \(10, 10\)' '^$' -- "$tessera" info huge.h5
fi

# ---- outputs: no cap on their number, publishing, write errors, signals ----
# Any number of --out to one file (there was a silent cap of 64), and names
# of any length: every dataset present with its value (b + K, summed by hand:
# 0+1+2+3 + 4K).
prog='b = arange(0, 4, 1, dtype="i8")'
outs=()
for k in $(seq 0 99); do prog+="; x$k = b + $k"; outs+=(--out "x$k=many.h5:/d$k"); done
check outputs-100 0 '^$' '^$' -- "$tessera" eval -q "$prog" "${outs[@]}"
long=$(printf 'v%.0s' $(seq 1 300))
check outputs-long-binding 0 '^$' '^$' -- "$tessera" eval -q "$long = arange(0, 4, 1) * 2" --out "$long=many.h5:/$long"
check outputs-100-first 0 '^6$' '^$' -- "$tessera" eval --in d=many.h5:/d0 'sum(d)'
check outputs-100-65th 0 '^262$' '^$' -- "$tessera" eval --in d=many.h5:/d64 'sum(d)'
check outputs-100-last 0 '^402$' '^$' -- "$tessera" eval --in d=many.h5:/d99 'sum(d)'
check outputs-long-name 0 '^12$' '^$' -- "$tessera" eval --in "d=many.h5:/$long" 'sum(d)'

# Publishing: one policy for every output.  Two writers of one new file:
# both datasets end up in it, or one writer fails saying why; never both
# report success with a dataset lost (the last rename used to win).
for round in 1 2 3; do
  rm -f conc.h5
  "$tessera" gen array conc.h5:/a --shape 400,1000 --seed 1 >ca.txt 2>&1 & pa=$!
  "$tessera" gen array conc.h5:/b --shape 400,1000 --seed 2 >cb.txt 2>&1 & pb=$!
  wait $pa; ra=$?; wait $pb; rb=$?
  "$tessera" info conc.h5 >ci.txt 2>&1
  lost=0
  for d in a b; do
    r=$ra; [[ $d == b ]] && r=$rb
    if [[ $r -eq 0 ]] && ! grep -q "^/$d " ci.txt; then lost=1; fi
    if [[ $r -ne 0 ]] && ! grep -Eq 'another process' c$d.txt; then lost=1; fi
  done
  if [[ $ra -ne 0 && $rb -ne 0 ]]; then lost=1; fi
  if [[ $lost -ne 0 ]]; then
    echo "FAIL publish-concurrent round $round: rc $ra $rb; $(cat ca.txt cb.txt ci.txt | head -c 600)"
    failures=$((failures + 1)); break
  fi
done
[[ $lost -eq 0 ]] && echo "ok   publish-concurrent"
# gen without --append adds to an existing file, keeping its datasets and mode.
check publish-first 0 '^$' '^$' -- "$tessera" gen array m.h5:/x --shape 4 --dist arange --dtype i8 -q
chmod 600 m.h5
check publish-add 0 '^$' '^$' -- "$tessera" gen array m.h5:/y --shape 3 --dist arange --dtype i8 -q
check publish-add-kept 0 '^63$' '^$' -- "$tessera" eval --in x=m.h5:/x --in y=m.h5:/y 'sum(x) * 10 + sum(y)'
if [[ "$(stat -c %a m.h5)" != 600 ]]; then
  echo "FAIL publish-mode: mode $(stat -c %a m.h5), want 600"; failures=$((failures + 1))
else echo "ok   publish-mode"; fi
sum_before=$(cksum <m.h5)
check publish-exists 1 '^$' "dataset '/x' already exists in 'm\.h5'.*--overwrite" -- "$tessera" gen array m.h5:/x --shape 9
check publish-exists-eval 1 '^$' "dataset '/y' already exists" -- "$tessera" eval 'y = ones((2,))' --out y=m.h5:/y
[[ "$(cksum <m.h5)" == "$sum_before" ]] || { echo "FAIL publish-exists-unchanged"; failures=$((failures + 1)); }
check publish-overwrite 0 '^$' '^$' -- "$tessera" gen array m.h5:/x --shape 5 --dist arange --dtype i8 --overwrite -q
check publish-overwrite-x 0 '^10$' '^$' -- "$tessera" eval --in x=m.h5:/x 'sum(x)'
check publish-overwrite-y 0 '^3$' '^$' -- "$tessera" eval --in y=m.h5:/y 'sum(y)'
check publish-overwrite-eval 0 '^$' '^$' -- "$tessera" eval -q --overwrite 'y = ones((7,))' --out y=m.h5:/y
check publish-overwrite-eval-y 0 '^7\.0$' '^$' -- "$tessera" eval --in y=m.h5:/y 'sum(y)'
[[ "$(stat -c %a m.h5)" == 600 ]] || { echo "FAIL publish-mode-after-overwrite"; failures=$((failures + 1)); }
# An input of the run may be its output file: the readers keep the old content.
check publish-in-is-out 0 '^$' '^$' -- "$tessera" eval -q --in x=m.h5:/x 'z = x * 2' --out z=m.h5:/z
check publish-in-is-out-z 0 '^20$' '^$' -- "$tessera" eval --in z=m.h5:/z 'sum(z)'
# --trace/--graph naming an input or output (or each other) are refused; the
# files are unchanged.
sum_before=$(cksum <m.h5)
check trace-is-input 2 '^$' "--trace 'm\.h5' is 'm\.h5', a file this run reads" -- "$tessera" eval --in x=m.h5:/x --trace m.h5 'sum(x)'
check graph-is-input 2 '^$' "--graph '\./m\.h5'" -- "$tessera" eval --in x=m.h5:/x --graph ./m.h5 'sum(x)'
check trace-is-output 2 '^$' "--trace" -- "$tessera" gen array m.h5:/w --shape 3 --trace m.h5
check trace-is-new-output 2 '^$' "--graph" -- "$tessera" eval 'w = ones((2,))' --out w=new.h5:/w --graph new.h5
[[ ! -e new.h5 ]] || { echo "FAIL trace-is-new-output created new.h5"; failures=$((failures + 1)); }
check trace-is-graph 2 '^$' "same file" -- "$tessera" eval --trace tg.out --graph tg.out '1'
[[ "$(cksum <m.h5)" == "$sum_before" ]] || { echo "FAIL trace-input-unchanged"; failures=$((failures + 1)); }
# A trace the user names again is replaced (it is an output asked for), with its mode.
check trace-first 0 '^1$' '^$' -- "$tessera" eval --trace t2.json '1'
chmod 640 t2.json
check trace-again 0 '^2$' '^$' -- "$tessera" eval --trace t2.json '2'
[[ "$(stat -c %a t2.json)" == 640 ]] && python3 -c 'import json; json.load(open("t2.json"))' ||
  { echo "FAIL trace-replaced-mode"; failures=$((failures + 1)); }

# Write errors: every write is checked, standard output included.
tofull() { local out="$1"; shift; "$@" >"$out"; } # runs a command with stdout elsewhere
check full-stdout 1 '^$' '^tessera: error: writing standard output: No space left on device$' -- tofull /dev/full "$tessera" eval '1'
check full-stdout-array 1 '^$' 'writing standard output: No space left on device' -- tofull /dev/full "$tessera" eval 'arange(0, 900, 1)'
check full-stdout-info 1 '^$' 'writing standard output: No space' -- tofull /dev/full "$tessera" info a.h5
check full-stdout-gen 1 '^$' 'writing standard output: No space' -- tofull /dev/full "$tessera" gen array full1.h5:/x --shape 3
check full-stdout-help 1 '^$' 'writing standard output: No space' -- tofull /dev/full "$tessera" eval --help
# Traces and graphs go to a device as they are (never replaced: a build
# without that fix renames its temporary file over the device, so as root
# the test uses its own copy of /dev/full).
full=/dev/full
if mknod fulldev c 1 7 2>/dev/null; then full="$PWD/fulldev"; fi
check full-trace 1 '^$' "cannot write '.*full.*': No space left on device" -- "$tessera" eval --trace "$full" 'sum(ones((3,)))'
check full-graph 1 '^$' "cannot write '.*full.*': No space left on device" -- "$tessera" eval --graph "$full" 'sum(ones((3,)))'
[[ -c "$full" ]] || { echo "FAIL full-device-replaced"; failures=$((failures + 1)); }
if "$tessera" eval --stats 'sum(ones((3,)))' >/dev/null 2>/dev/full; then
  echo "FAIL full-stderr-stats: exit 0"; failures=$((failures + 1))
else echo "ok   full-stderr-stats"; fi
# A full disk for HDF5 output: a 1 MiB tmpfs (root only; skipped otherwise).
mkdir -p fs
if mount -t tmpfs -o size=1m tmpfs fs 2>/dev/null; then
  check full-disk-new 1 '^$' "'fs/big\.h5'" -- "$tessera" gen array fs/big.h5:/x --shape 1000,1000 --chunks 100,1000
  [[ ! -e fs/big.h5 ]] || { echo "FAIL full-disk-new: big.h5 left"; failures=$((failures + 1)); }
  check full-disk-small 0 '^$' '^$' -- "$tessera" gen array fs/small.h5:/x --shape 10 -q
  sum_before=$(cksum <fs/small.h5)
  check full-disk-add 1 '^$' "'fs/small\.h5'" -- "$tessera" eval 'y = ones((1000, 1000))' --out y=fs/small.h5:/y
  [[ "$(cksum <fs/small.h5)" == "$sum_before" ]] || { echo "FAIL full-disk-add: small.h5 changed"; failures=$((failures + 1)); }
  if ls -A fs | grep -q tmp; then echo "FAIL full-disk: temporary files left: $(ls -A fs)"; failures=$((failures + 1)); fi
  umount fs
else
  echo "skip full-disk (mounting a tmpfs needs root)"
fi

# Interrupted runs: a signal removes the temporary file, the exit status says
# the signal, and the destination is absent (new file) or unchanged (existing
# file).  The signal is sent once the temporary file exists (the process is
# stopped meanwhile, so it cannot finish first).
sigtest() { # sigtest NAME SIGNAL DEST command...
  local name="$1" sig="$2" dest="$3" before="" i rc
  shift 3
  [[ -e "$dest" ]] && before=$(cksum <"$dest")
  env --default-signal "$@" >/dev/null 2>sig.err & # a script's background jobs ignore SIGINT
  local pid=$! glob="$(dirname "$dest")/.$(basename "$dest").tmp.*"
  for ((i = 0; i < 1000; i++)); do compgen -G "$glob" >/dev/null && break; sleep 0.01; done
  kill -STOP $pid; kill -"$sig" $pid; kill -CONT $pid
  wait $pid 2>/dev/null; rc=$?
  local want=$((128 + $(kill -l "$sig"))) bad=""
  [[ $i -lt 1000 ]] || bad="no temporary file appeared"
  [[ $rc -eq $want ]] || bad+=" exit status $rc, want $want"
  ! compgen -G "$glob" >/dev/null || bad+=" temporary file left: $(compgen -G "$glob")"
  if [[ -z "$before" ]]; then [[ ! -e "$dest" ]] || bad+=" $dest appeared"
  else [[ "$(cksum <"$dest")" == "$before" ]] || bad+=" $dest changed"; fi
  if [[ -n "$bad" ]]; then echo "FAIL $name:$bad; $(head -c 300 sig.err)"; failures=$((failures + 1))
  else echo "ok   $name"; fi
}
slow=(--shape 4000,4000 --chunks 250,4000 --dist arange --dtype i8 --compress 9 --threads 1)
"$tessera" gen array sigold.h5:/a --shape 10 -q
for sig in INT TERM HUP PIPE XFSZ; do
  sigtest "signal-$sig-new" $sig signew.h5 "$tessera" gen array signew.h5:/x "${slow[@]}"
  sigtest "signal-$sig-existing" $sig sigold.h5 "$tessera" gen array sigold.h5:/x "${slow[@]}"
done
sigtest signal-eval TERM sigeval.h5 "$tessera" eval --threads 1 --compress 9 \
  'x = astype(reshape(arange(0, 16000000, 1), (4000, 4000)), "i8")' --out x=sigeval.h5:/x
# A file size limit (SIGXFSZ from the kernel itself) cleans up the same way.
sigfsz() ( ulimit -f 1024; exec "$tessera" gen array fsz.h5:/x --shape 1000,1000 )
sigfsz >/dev/null 2>&1; rc=$?
if [[ $rc -ne $((128 + $(kill -l XFSZ))) ]] || [[ -e fsz.h5 ]] || compgen -G ".fsz.h5.tmp.*" >/dev/null; then
  echo "FAIL signal-file-size-limit: rc $rc; $(ls -A | grep fsz)"; failures=$((failures + 1))
else echo "ok   signal-file-size-limit"; fi

# Adding through a symbolic link adds to the file it names; the link stays.
ln -s m.h5 link.h5
check publish-symlink 0 '^$' '^$' -- "$tessera" gen array link.h5:/s --shape 2 --dist arange --dtype i8 -q
[[ -L link.h5 ]] || { echo "FAIL publish-symlink: link.h5 is no longer a link"; failures=$((failures + 1)); }
check publish-symlink-target 0 '^1$' '^$' -- "$tessera" eval --in s=m.h5:/s 'sum(s)'
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

# gen groupby / gen join, convert, info over CSV.
check help-convert 0 'usage: tessera convert' '^$' -- "$tessera" convert --help
check gen-groupby 0 '^wrote G1_2e3_1e1_0_0\.csv \(2000 rows\)$' '^$' -- "$tessera" gen groupby 2e3 10 --seed 3
if [[ "$(head -1 G1_2e3_1e1_0_0.csv)" != "id1,id2,id3,id4,id5,id6,v1,v2,v3" ]] ||
   [[ "$(wc -l < G1_2e3_1e1_0_0.csv)" -ne 2001 ]] ||
   ! awk -F, 'NR > 1 && !($1 ~ /^id0(0[1-9]|10)$/ && length($3) == 12 && $3 ~ /^id[0-9]+$/ && $4 >= 1 && $4 <= 10 &&
                          $6 >= 1 && $6 <= 200 && $7 >= 1 && $7 <= 5 && $8 >= 1 && $8 <= 15 &&
                          $9 >= 0 && $9 <= 100) { bad = 1 } END { exit bad }' G1_2e3_1e1_0_0.csv; then
  echo "FAIL gen-groupby-content: $(head -3 G1_2e3_1e1_0_0.csv)"; failures=$((failures + 1))
else
  echo "ok   gen-groupby-content"
fi
check gen-groupby-exists 1 '^$' "G1_2e3_1e1_0_0\.csv.*exists" -- "$tessera" gen groupby 2e3 10 --seed 3
check gen-groupby-threads 0 'wrote same\.csv' '^$' -- "$tessera" gen groupby 2000 10 --seed 3 --threads 1 same.csv
if cmp -s same.csv G1_2e3_1e1_0_0.csv; then echo "ok   gen-groupby-deterministic"; else
  echo "FAIL gen-groupby-deterministic"; failures=$((failures + 1)); fi
check gen-groupby-nas-sorted 0 'wrote G1_1e3_1e1_5_1\.csv' '^$' -- "$tessera" gen groupby 1e3 1e1 --nas 5 --sorted
if [[ "$(awk -F, 'NR > 1 && $9 == "" { n++ } END { print n }' G1_1e3_1e1_5_1.csv)" -ne 50 ]] ||
   ! awk -F, 'NR > 2 && $1 < prev { bad = 1 } NR > 1 { prev = $1 } END { exit bad }' G1_1e3_1e1_5_1.csv; then
  echo "FAIL gen-groupby-nas-sorted-content"; failures=$((failures + 1))
else
  echo "ok   gen-groupby-nas-sorted-content"
fi
check gen-groupby-bad-n 2 '^$' "row count N" -- "$tessera" gen groupby 1.5 10
check gen-groupby-no-k 2 '^$' "level count K" -- "$tessera" gen groupby 1e3
check gen-groupby-bad-nas 2 '^$' "--nas '200'" -- "$tessera" gen groupby 1e3 10 --nas 200
check gen-groupby-bad-option 2 '^$' "unknown option '--bogus'" -- "$tessera" gen groupby 1e3 10 --bogus
check gen-groupby-no-dir 1 '^$' "nodir/x\.csv" -- "$tessera" gen groupby 1e3 10 nodir/x.csv
mkdir jdir
check gen-join 0 'J1_1e4_1e4_0_0\.csv' '^$' -- "$tessera" gen join 1e4 jdir
for f in J1_1e4_NA_0_0 J1_1e4_1e0_0_0 J1_1e4_1e1_0_0 J1_1e4_1e4_0_0; do
  if [[ -f "jdir/$f.csv" ]]; then echo "ok   gen-join-$f"; else echo "FAIL gen-join-$f"; failures=$((failures + 1)); fi
done
if [[ "$(head -1 jdir/J1_1e4_NA_0_0.csv)" == "id1,id2,id3,id4,id5,id6,v1" ]] &&
   [[ "$(head -1 jdir/J1_1e4_1e1_0_0.csv)" == "id1,id2,id4,id5,v2" ]] &&
   [[ "$(cut -d, -f3 jdir/J1_1e4_NA_0_0.csv | sort -u | wc -l)" -eq 10001 ]] &&
   awk -F, 'NR > 1 && $4 != "id" $1 { bad = 1 } END { exit bad }' jdir/J1_1e4_NA_0_0.csv; then
  echo "ok   gen-join-content"
else
  echo "FAIL gen-join-content"; failures=$((failures + 1))
fi
check gen-join-exists 1 '^$' 'exists' -- "$tessera" gen join 1e4 jdir
check gen-array-still 0 'wrote b\.h5:/x' '^$' -- "$tessera" gen array b.h5:/x --shape 4 --dist arange
printf 'a,b,c\n1,x y,2.5\n,"",\n3," q""z",1e300\n' > small.csv
check info-csv 0 '^rows: 3$' '^$' -- "$tessera" info small.csv
if grep -Eq '^ +a +int64 +1 nulls$' out.txt && grep -Eq '^ +c +float64 +1 nulls$' out.txt; then
  echo "ok   info-csv-columns"; else echo "FAIL info-csv-columns: $(cat out.txt)"; failures=$((failures + 1)); fi
check info-csv-missing 1 '^$' 'nope\.csv' -- "$tessera" info nope.csv
# info streams: null counts of a CSV whose frame (about 60 MB) is larger
# than the memory limit, each column's count different.
awk 'BEGIN { print "a,b,c"; for (i = 0; i < 3000000; i++)
  print (i % 7 ? i : "") "," (i % 11 ? "s" i % 1000 : "") "," (i % 13 ? i / 4 : "") }' > nulls.csv
check info-csv-streams 0 '^rows: 3000000$' '^$' -- "$tessera" info --memory-limit 48MB nulls.csv
if grep -Eq '^ +a +int64 +428572 nulls$' out.txt && grep -Eq '^ +b +dict +272728 nulls$' out.txt &&
   grep -Eq '^ +c +float64 +230770 nulls$' out.txt; then
  echo "ok   info-csv-streams-nulls"; else echo "FAIL info-csv-streams-nulls: $(cat out.txt)"; failures=$((failures + 1)); fi
check convert 0 'wrote out\.csv' '^$' -- "$tessera" convert small.csv out.csv
if [[ "$(cat out.csv)" == $'a,b,c\n1,x y,2.5\n,"",\n3," q""z",1e+300' ]]; then echo "ok   convert-text"; else
  echo "FAIL convert-text: $(cat out.csv)"; failures=$((failures + 1)); fi
check convert-exists 1 '^$' "out\.csv.*exists" -- "$tessera" convert small.csv out.csv
check convert-overwrite 0 'wrote out\.csv' '^$' -- "$tessera" convert small.csv out.csv --overwrite --columns c,a
if [[ "$(cat out.csv)" == $'c,a\n2.5,1\n,\n1e+300,3' ]]; then echo "ok   convert-columns"; else
  echo "FAIL convert-columns: $(cat out.csv)"; failures=$((failures + 1)); fi
check convert-gz 0 'wrote big\.csv\.gz' '^$' -- "$tessera" convert G1_2e3_1e1_0_0.csv big.csv.gz
if gzip -dc big.csv.gz | cmp -s - G1_2e3_1e1_0_0.csv; then echo "ok   convert-gz-round-trip"; else
  echo "FAIL convert-gz-round-trip"; failures=$((failures + 1)); fi
check convert-from-gz 0 'wrote back\.csv' '^$' -- "$tessera" convert big.csv.gz back.csv
if cmp -s back.csv G1_2e3_1e1_0_0.csv; then echo "ok   convert-from-gz"; else
  echo "FAIL convert-from-gz-content"; failures=$((failures + 1)); fi
check convert-schema 0 'wrote s\.csv' '^$' -- "$tessera" convert small.csv s.csv --schema a:float64,b:string,c:float64
if [[ "$(sed -n 2p s.csv)" == "1.0,x y,2.5" ]]; then echo "ok   convert-schema-text"; else
  echo "FAIL convert-schema-text: $(cat s.csv)"; failures=$((failures + 1)); fi
check convert-missing 1 '^$' 'nope\.csv' -- "$tessera" convert nope.csv x.csv
if [[ -e x.csv ]]; then echo "FAIL convert-missing left x.csv"; failures=$((failures + 1)); fi
check convert-usage 2 '^$' 'needs SRC' -- "$tessera" convert small.csv
check convert-not-h5 2 '^$' 'only CSV outputs.*HDF5 tables' -- "$tessera" convert small.csv x.txt

# convert to and from HDF5 tables (FILE.h5:/GROUP) and compound datasets; info shows them.
check convert-to-h5 0 'wrote t\.h5:/g1' '^$' -- "$tessera" convert G1_2e3_1e1_0_0.csv t.h5:/g1 --compress 1
check convert-from-h5 0 'wrote t\.csv' '^$' -- "$tessera" convert t.h5:/g1 t.csv
if cmp -s t.csv G1_2e3_1e1_0_0.csv; then echo "ok   convert-h5-round-trip"; else
  echo "FAIL convert-h5-round-trip"; failures=$((failures + 1)); fi
check convert-h5-default-group 0 'wrote s\.h5' '^$' -- "$tessera" convert small.csv s.h5 --strings offsets
check convert-h5-back 0 'wrote s2\.csv' '^$' -- "$tessera" convert s.h5:/table s2.csv
if [[ "$(cat s2.csv)" == $'a,b,c\n1,x y,2.5\n,"",\n3," q""z",1e+300' ]]; then echo "ok   convert-h5-nulls-strings"; else
  echo "FAIL convert-h5-nulls-strings: $(cat s2.csv)"; failures=$((failures + 1)); fi
check convert-h5-exists 1 '^$' "'/table' already exists" -- "$tessera" convert small.csv s.h5
check convert-h5-overwrite 0 'wrote s\.h5' '^$' -- "$tessera" convert small.csv s.h5 --overwrite --columns c,b
check info-h5-table 0 '/table: table, 3 rows, 2 columns' '^$' -- "$tessera" info s.h5
if grep -Eq '^  c +float64 +1 nulls$' out.txt && grep -Eq '^  b +string +0 nulls$' out.txt &&
  ! grep -q '/table/a' out.txt; then echo "ok   info-h5-columns"; else
  echo "FAIL info-h5-columns: $(cat out.txt)"; failures=$((failures + 1)); fi
check convert-h5-columns 0 'wrote c\.csv' '^$' -- "$tessera" convert t.h5:/g1 c.csv --columns v3,id1
if [[ "$(head -1 c.csv)" == "v3,id1" && $(wc -l < c.csv) -eq 2001 ]]; then echo "ok   convert-h5-columns-text"; else
  echo "FAIL convert-h5-columns-text: $(head -2 c.csv)"; failures=$((failures + 1)); fi
check convert-h5-bad-compress 2 '^$' '--compress takes 0..9' -- "$tessera" convert small.csv z.h5 --compress 12
check convert-h5-no-object 1 '^$' "no object '/nope'" -- "$tessera" convert s.h5:/nope x.csv
check convert-h5-not-table 1 '^$' 'is not a table' -- "$tessera" convert t.h5:/ x.csv
if [[ -e x.csv || -e z.h5 ]]; then echo "FAIL convert-h5 left an output"; failures=$((failures + 1)); fi
if /usr/bin/python3 -c 'import h5py, numpy as np
a = np.zeros(4, dtype=[("id", "<i4"), ("name", "S6"), ("pos", [("x", "<f8"), ("y", "<f8")])])
a["id"] = [1, 2, 3, 4]; a["name"] = [b"ab", b"", b"cde", b"f"]; a["pos"]["x"] = [0.5, 1, 2, 3]
h5py.File("rec.h5", "w").create_dataset("recs", data=a)' 2>/dev/null; then
  check convert-compound 0 'wrote rec\.csv \(4 rows, 4 columns\)' '^$' -- "$tessera" convert rec.h5:/recs rec.csv
  if [[ "$(cat rec.csv)" == $'id,name,pos.x,pos.y\n1,ab,0.5,0.0\n2,"",1.0,0.0\n3,cde,2.0,0.0\n4,f,3.0,0.0' ]]; then
    echo "ok   convert-compound-text"; else echo "FAIL convert-compound-text: $(cat rec.csv)"; failures=$((failures + 1)); fi
  check info-compound 0 '/recs: compound dataset, 4 rows, 4 fields' '^$' -- "$tessera" info rec.h5
else
  echo "skip convert-compound (no h5py for /usr/bin/python3)"
fi
check convert-same 2 '^$' 'same file' -- "$tessera" convert small.csv small.csv

# groupby: by hand, out of core under a small memory limit (the same bytes as in memory, for
# any thread count), and its errors (no output left behind).
check help-groupby 0 'usage: tessera groupby' '^$' -- "$tessera" groupby --help
printf 'k,v,x\na,1,0.5\nb,2,\na,3,1.5\n,4,2\nb,,3\n' > g.csv
check groupby 0 'wrote gout\.csv \(3 groups, 4 columns\)' '^$' -- "$tessera" groupby g.csv gout.csv --by k --agg 'sum(v), count(*), mean(x)'
if [[ "$(cat gout.csv)" == $'k,sum(v),count_star(),mean(x)\na,4,2,1.0\nb,2,2,3.0\n,4,1,2.0' ]]; then
  echo "ok   groupby-text"; else echo "FAIL groupby-text: $(cat gout.csv)"; failures=$((failures + 1)); fi
check gen-many-groups 0 'wrote many\.csv' '^$' -- "$tessera" gen groupby 2e5 1 many.csv
check groupby-in-memory 0 'wrote mem\.csv' '^$' -- "$tessera" groupby many.csv mem.csv --by id3,v1 --agg 'sum(v2), mean(v3), min(id6), count(*)'
for t in 1 2; do
  TESSERA_LOG=info check groupby-spilled-$t 0 'wrote spill\.csv' 'out of core in [0-9]+ partitions' -- "$tessera" --memory-limit 24MB --threads $t groupby many.csv spill.csv --by id3,v1 --agg 'sum(v2), mean(v3), min(id6), count(*)' --overwrite
  if cmp -s mem.csv spill.csv; then echo "ok   groupby-spilled-$t-same"; else
    echo "FAIL groupby-spilled-$t-same"; failures=$((failures + 1)); fi
done
check groupby-no-agg 2 '^$' 'needs --agg' -- "$tessera" groupby g.csv x.csv --by k
check groupby-no-dst 2 '^$' 'needs SRC' -- "$tessera" groupby g.csv --by k --agg 'sum(v)'
check groupby-bad-by 2 '^$' "--by 'k,,v'" -- "$tessera" groupby g.csv x.csv --by k,,v --agg 'sum(v)'
check groupby-by-value 2 '^$' '--agg needs a value' -- "$tessera" groupby g.csv x.csv --by k --agg
check groupby-unknown-key 1 '^$' "nosuch" -- "$tessera" groupby g.csv x.csv --by nosuch --agg 'sum(v)'
check groupby-bad-agg 1 '^$' 'line 1, column' -- "$tessera" groupby g.csv x.csv --by k --agg 'sum(v'
check groupby-not-csv 2 '^$' 'only CSV outputs' -- "$tessera" groupby g.csv x.h5 --by k --agg 'sum(v)'
check groupby-same 2 '^$' 'same file' -- "$tessera" groupby g.csv g.csv --by k --agg 'sum(v)'
check groupby-missing 1 '^$' 'nope\.csv' -- "$tessera" groupby nope.csv x.csv --by k --agg 'sum(v)'
printf 'k,v\na,1\nb,2\na,oops\n' > bad.csv
check groupby-bad-value 1 '^$' 'oops' -- "$tessera" --memory-limit 12MB groupby bad.csv x.csv --schema k:string,v:int64 --by k --agg 'sum(v)'
check groupby-spill-dir 1 '^$' 'TESSERA_SPILL_DIR' -- env TESSERA_SPILL_DIR=nodir "$tessera" --memory-limit 12MB groupby many.csv x.csv --by id3 --agg 'sum(v1)'
if [[ -e x.csv ]]; then echo "FAIL groupby left x.csv"; failures=$((failures + 1)); else echo "ok   groupby-no-output-on-failure"; fi
# query: SQL over CSV files; results worked out by hand.
printf 'k,v,s\na,1,x\nb,2,"y,z"\na,3,\nc,,w\n' > q.csv
printf 'k,name\na,alpha\nb,beta\n' > names.csv
check query-csv 0 '^k,t$' '^$' -- "$tessera" query --format csv "SELECT k, sum(v) AS t FROM 'q.csv' GROUP BY k ORDER BY k"
if [[ "$(cat out.txt)" != $'k,t\na,4\nb,2\nc,' ]]; then echo "FAIL query-csv-rows: $(cat out.txt)"; failures=$((failures + 1)); else echo "ok   query-csv-rows"; fi
check query-table 0 'alpha' '^$' -- "$tessera" query --table n=names.csv "SELECT * FROM 'q.csv' JOIN n USING (k) WHERE v > 1"
check query-table-rows 0 '^2 rows, 4 columns' '^$' -- "$tessera" query --table n=names.csv "SELECT * FROM 'q.csv' JOIN n USING (k) WHERE v > 1"
check query-json 0 '"s": "y,z"' '^$' -- "$tessera" query --format json "SELECT k, s FROM 'q.csv' WHERE k = 'b'"
check query-json-null 0 '"v": null' '^$' -- "$tessera" query --format json "SELECT v FROM 'q.csv' WHERE k = 'c'"
check query-markdown 0 '^\| k \| n \|$' '^$' -- "$tessera" query --format markdown "SELECT k, count(*) AS n FROM 'q.csv' GROUP BY k"
check query-tsv 0 $'^b\ty,z$' '^$' -- "$tessera" query --format tsv "SELECT k, s FROM 'q.csv' WHERE k = 'b'"
printf 'CREATE TABLE q AS SELECT * FROM '"'"'q.csv'"'"';\n-- a comment\nSELECT count(*) AS n FROM q WHERE v IS NULL;\n' > job.sql
check query-script 0 '^n$' '^$' -- "$tessera" query --format csv -f job.sql
# --stats and --trace cover every run of a query, not only the last: the
# group-by and the sort compute inside their calls (three runs at least).
check query-stats 0 '^k,t$' 'frame_groupby' -- "$tessera" query --stats --trace qt.json --format csv "SELECT k, sum(v) AS t FROM 'q.csv' GROUP BY k ORDER BY t"
runs=$("$tessera" query --stats "SELECT k, sum(v) AS t FROM 'q.csv' GROUP BY k ORDER BY t" 2>&1 >/dev/null | grep -c '^run: ')
tracks=$(python3 -c 'import json; print(sum(e["name"] == "process_name" for e in json.load(open("qt.json"))["traceEvents"]))')
if (( runs < 3 || tracks != runs )); then echo "FAIL query-stats-runs: $runs stats tables, $tracks trace tracks"; failures=$((failures + 1)); else echo "ok   query-stats-runs"; fi
check query-explain 0 '^  *SCAN q\.csv' '^$' -- "$tessera" query "EXPLAIN SELECT k FROM 'q.csv' WHERE v > 1"
check query-out 0 '^wrote res\.csv' '^$' -- "$tessera" query --out res.csv "SELECT k, v FROM 'q.csv' WHERE v >= 2"
if [[ "$(cat res.csv)" != $'k,v\nb,2\na,3' ]]; then echo "FAIL query-out-content: $(cat res.csv)"; failures=$((failures + 1)); else echo "ok   query-out-content"; fi
check query-out-exists 1 '^$' 'res\.csv.*exists' -- "$tessera" query --out res.csv "SELECT 1 AS one"
check query-out-overwrite 0 '^wrote res\.csv' '^$' -- "$tessera" query --overwrite --out res.csv "SELECT 1 AS one"
check query-out-h5 0 '^wrote t\.h5:/r' '^$' -- "$tessera" query --out t.h5:/r "SELECT k, v FROM 'q.csv'"
check query-from-h5 0 '^k,v$' '^$' -- "$tessera" query --format csv "SELECT k, v FROM 't.h5:/r' WHERE v = 3"
check query-copy 0 '^$' '^$' -- "$tessera" query "COPY (SELECT k FROM 'q.csv' WHERE v = 1) TO 'copied.csv'"
if [[ "$(cat copied.csv)" != $'k\na' ]]; then echo "FAIL query-copy-content: $(cat copied.csv)"; failures=$((failures + 1)); else echo "ok   query-copy-content"; fi
check query-syntax 1 '^$' 'line 1, column 14: syntax error' -- "$tessera" query "SELECT k FRM 'q.csv'"
check query-caret 1 '^$' '^ +\^$' -- "$tessera" query "SELECT k FRM 'q.csv'"
check query-unknown-column 1 '^$' 'did you mean "v"' -- "$tessera" query "SELECT vv FROM 'q.csv'"
check query-missing-file 1 '^$' 'nope\.csv' -- "$tessera" query "SELECT * FROM 'nope.csv'"
check query-no-sql 2 '^$' 'no SQL given' -- "$tessera" query
check query-bad-format 2 '^$' "format 'xml'" -- "$tessera" query --format xml "SELECT 1"
check query-bad-table 2 '^$' "not NAME=PATH" -- "$tessera" query --table n "SELECT 1"
printf 'SELECT 1 AS a;\0SELECT 2 AS b;\n' > nul.sql
check query-nul-byte 1 '^$' 'NUL byte at offset 14' -- "$tessera" query -f nul.sql
check query-out-nothing 1 '^$' 'no rows to write' -- "$tessera" query --out none.csv "CREATE TABLE z AS SELECT 1 AS a"
if ls -a | grep -q '\.tmp\.'; then echo "FAIL temporary files left: $(ls -a)"; failures=$((failures + 1)); else
  echo "ok   no-temporary-files"; fi

echo "$failures failure(s)"
[[ $failures -eq 0 ]]
