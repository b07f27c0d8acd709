#!/usr/bin/env bash
# test_cli_mpi.sh MPIEXEC TESSERA DATA_DIR — `tessera eval` end to end under
# mpiexec: the main job (data/main_job.tsr on data/sample.h5) with 1, 2 and
# 4 ranks x 1 and 2 threads prints the same bytes on stdout (rank 0 only)
# and writes bitwise the same dataset (compared as raw little-endian bytes
# dumped by h5dump) as the run without a launcher; a bad program fails on
# every rank with one message and a non-zero status, and leaves no output;
# an error on rank 1 alone (environment, parse) is printed once by rank 0
# as "rank 1: ..."; `-f -` reads the program on rank 0 and broadcasts it;
# `tessera query` prints and copies the same bytes on 2 and 3 ranks.
set -u
mpiexec="$1"
tessera="$2"
data="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 TESSERA_CHUNK_BYTES=400kB
failures=0
fail() { echo "FAIL $*"; failures=$((failures + 1)); }

job() { # job OUT.h5 [launcher...]: the main job, stdout to OUT.txt
  local out="$1"
  shift
  "$@" "$tessera" eval -q --in t="$data/sample.h5:/temperature" --out anomaly="$out:/anomaly" \
    -f "$data/main_job.tsr" >"${out%.h5}.txt" 2>"${out%.h5}.err"
}

TESSERA_MPI=0 job ref.h5 || fail "reference run: $(cat ref.err)"
h5dump -d /anomaly -b LE -o ref.bin ref.h5 >/dev/null || fail "h5dump of the reference"
[ -s ref.txt ] || fail "the reference printed nothing"
for ranks in 1 2 4; do
  for threads in 1 2; do
    name="np${ranks}.t${threads}"
    if ! TESSERA_NUM_THREADS=$threads job "$name.h5" timeout 120 "$mpiexec" -n "$ranks" \
      --oversubscribe --bind-to none; then
      fail "$name: exit status $?: $(head -c 600 "$name.err")"
      continue
    fi
    h5dump -d /anomaly -b LE -o "$name.bin" "$name.h5" >/dev/null || fail "$name: h5dump"
    cmp -s ref.bin "$name.bin" || fail "$name: the stored anomaly differs from one process's"
    cmp -s ref.txt "$name.txt" || fail "$name: printed $(cat "$name.txt") instead of $(cat ref.txt)"
    [ "$failures" -eq 0 ] && echo "ok   $name"
  done
done

# An error (a dataset that does not exist): every rank fails, rank 0 says
# why once, the job ends non-zero, and no output file appears.
timeout 120 "$mpiexec" -n 2 --oversubscribe "$tessera" eval --in t="$data/sample.h5:/nope" \
  --out a=bad.h5:/a 'a = t + 1' >bad.txt 2>bad.err
status=$?
if [ "$status" -eq 0 ] || [ "$status" -eq 124 ]; then
  fail "bad input: exit status $status"
elif [ "$(grep -c 'tessera: error:' bad.err)" -ne 1 ] || ! grep -q "nope" bad.err; then
  fail "bad input: want one error naming the dataset, got: $(head -c 600 bad.err)"
elif [ -e bad.h5 ]; then
  fail "bad input: an output file was left behind"
else
  echo "ok   bad-input"
fi

# Errors on one rank only (M2-1 item 11): each reaches the user once, from
# rank 0, prefixed with the failing rank, and the job ends non-zero.  A
# wrapper gives rank 1 alone a bad TESSERA_OWNER_BLOCK, or a program file
# with a syntax error.
cat >on_rank1.sh <<'EOS'
#!/bin/bash
# on_rank1.sh MODE TESSERA: runs `tessera eval`, spoiling it on rank 1 only
mode="$1" tessera="$2"
rank="${OMPI_COMM_WORLD_RANK:-${PMIX_RANK:-0}}"
if [ "$mode" = env ] && [ "$rank" = 1 ]; then export TESSERA_OWNER_BLOCK=abc; fi
prog=good.tsr
if [ "$mode" = parse ] && [ "$rank" = 1 ]; then prog=bad.tsr; fi
exec "$tessera" eval -f "$prog"
EOS
printf 'sum(arange(10))\n' >good.tsr
printf 'sum(arange(10)\n' >bad.tsr
one_error() { # one_error NAME REGEX -- command...: non-zero, exactly one error line matching REGEX
  local name="$1" want="$2"
  shift 3
  timeout 120 "$@" >one.txt 2>one.err
  local st=$?
  if [ "$st" -eq 0 ] || [ "$st" -eq 124 ]; then
    fail "$name: exit status $st: $(head -c 600 one.err)"
  elif [ "$(grep -c 'tessera: error:' one.err)" -ne 1 ] || ! grep -Eq "$want" one.err; then
    fail "$name: want one error matching $want, got: $(head -c 600 one.err)"
  else
    echo "ok   $name"
  fi
}
one_error env-rank1 "^tessera: error: rank 1: TESSERA_OWNER_BLOCK='abc'" -- \
  "$mpiexec" -n 2 --oversubscribe bash on_rank1.sh env "$tessera"
one_error parse-rank1 '^tessera: error: rank 1: line [0-9]+, column [0-9]+: expected' -- \
  "$mpiexec" -n 2 --oversubscribe bash on_rank1.sh parse "$tessera"
one_error usage-all-ranks "^tessera: error: rank 0: unknown option '--bogus'" -- \
  "$mpiexec" -n 2 --oversubscribe "$tessera" eval --bogus 1
one_error env-all-ranks "^tessera: error: rank 0: TESSERA_MPI='yes'" -- \
  "$mpiexec" -n 2 --oversubscribe -x TESSERA_MPI=yes "$tessera" eval 1
# -f - under mpiexec: rank 0 reads standard input and broadcasts it; the
# result is the one process's.
TESSERA_MPI=0 "$tessera" eval -f - <"$data/main_job.tsr" --in t="$data/sample.h5:/temperature" \
  --out anomaly=stdin_ref.h5:/anomaly -q >stdin_ref.txt 2>stdin_ref.err || fail "stdin reference: $(cat stdin_ref.err)"
if ! timeout 120 "$mpiexec" -n 2 --oversubscribe --bind-to none "$tessera" eval -q -f - \
  --in t="$data/sample.h5:/temperature" --out anomaly=stdin2.h5:/anomaly <"$data/main_job.tsr" \
  >stdin2.txt 2>stdin2.err; then
  fail "stdin-np2: exit status $?: $(head -c 600 stdin2.err)"
elif [ ! -s stdin2.txt ] || ! cmp -s stdin_ref.txt stdin2.txt || ! cmp -s ref.txt stdin2.txt; then
  fail "stdin-np2: printed $(head -c 300 stdin2.txt) instead of $(head -c 300 ref.txt)"
else
  echo "ok   stdin-np2"
fi

# gen groupby (with nulls, and sorted) and convert to .csv.gz on 2 ranks
# write the same bytes as one process; an existing file fails on every rank
# with one message and is left as it was.
TESSERA_MPI=0 "$tessera" gen groupby 2e4 1e2 --nas 3 -q g_ref.csv || fail "gen reference"
TESSERA_MPI=0 "$tessera" gen groupby 2e4 1e2 --sorted -q gs_ref.csv || fail "gen sorted reference"
if ! timeout 120 "$mpiexec" -n 2 --oversubscribe --bind-to none "$tessera" gen groupby 2e4 1e2 \
  --nas 3 -q g2.csv >g2.txt 2>g2.err || ! cmp -s g_ref.csv g2.csv; then
  fail "gen-np2: $(head -c 600 g2.err)"
elif ! timeout 120 "$mpiexec" -n 2 --oversubscribe --bind-to none "$tessera" gen groupby 2e4 1e2 \
  --sorted -q gs2.csv >gs2.txt 2>gs2.err || ! cmp -s gs_ref.csv gs2.csv; then
  fail "gen-sorted-np2: $(head -c 600 gs2.err)"
elif ! timeout 120 "$mpiexec" -n 2 --oversubscribe --bind-to none "$tessera" convert g_ref.csv \
  -q c2.csv.gz >c2.txt 2>c2.err || ! gzip -dc c2.csv.gz | cmp -s - g_ref.csv; then
  fail "convert-np2: $(head -c 600 c2.err)"
else
  echo "ok   gen-convert-np2"
fi
cp g2.csv g2.before
timeout 120 "$mpiexec" -n 2 --oversubscribe --bind-to none "$tessera" gen groupby 2e4 1e2 -q g2.csv \
  >g3.txt 2>g3.err
rc=$?
if [ "$rc" -eq 0 ] || [ "$(grep -c 'exists' g3.err)" -ne 1 ] || ! cmp -s g2.csv g2.before ||
   ls -a | grep -q '\.tmp\.'; then
  fail "gen-exists-np2: status $rc: $(head -c 600 g3.err)"
else
  echo "ok   gen-exists-np2"
fi

# info over a CSV on 2 ranks prints what one process prints, once.
TESSERA_MPI=0 "$tessera" info g_ref.csv >i1.txt 2>i1.err || fail "info reference: $(cat i1.err)"
if ! timeout 120 "$mpiexec" -n 2 --oversubscribe --bind-to none "$tessera" info g_ref.csv \
  >i2.txt 2>i2.err || ! cmp -s i1.txt i2.txt || ! grep -q '^rows: 20000$' i2.txt; then
  fail "info-csv-np2: $(head -c 600 i2.err) $(head -c 600 i2.txt)"
else
  echo "ok   info-csv-np2"
fi

# query: a filter and projection over a CSV on 2 and 3 ranks prints the same
# bytes once (rank 0), as one process; COPY writes the same file; so does a
# group-by (partial states gathered or shuffled between the ranks).
printf 'k,v,s\n' > q.csv
for i in $(seq 1 3000); do printf '%d,%d.5,s%d\n' $((i % 7)) "$i" $((i % 13)); done >> q.csv
sql="SELECT k, v * 2 AS w, upper(s) AS u FROM 'q.csv' WHERE v > 1000 AND k IN (1, 3)"
TESSERA_MPI=0 "$tessera" query --format csv "$sql" > q.ref 2> q.err || fail "query reference: $(cat q.err)"
[ "$(wc -l < q.ref)" -gt 500 ] || fail "query reference has $(wc -l < q.ref) lines"
TESSERA_MPI=0 "$tessera" query "COPY ($sql) TO 'copy.ref.csv'" 2> q.err || fail "query COPY reference: $(cat q.err)"
gsql="SELECT k, s, count(*) AS n, sum(v) AS t, avg(v) AS m, min(s) AS lo FROM 'q.csv' GROUP BY k, s"
TESSERA_MPI=0 "$tessera" query --format csv "$gsql" > g.ref 2> q.err || fail "query group-by reference: $(cat q.err)"
[ "$(wc -l < g.ref)" -gt 80 ] || fail "query group-by reference has $(wc -l < g.ref) lines"
for ranks in 2 3; do
  timeout 120 "$mpiexec" -n $ranks --oversubscribe --bind-to none "$tessera" query --format csv "$sql" \
    > "q.np$ranks" 2> q.err || fail "query np$ranks: $(head -c 600 q.err)"
  cmp -s q.ref "q.np$ranks" || fail "query np$ranks: the output differs from one process's"
  timeout 120 "$mpiexec" -n $ranks --oversubscribe --bind-to none "$tessera" query \
    "COPY ($sql) TO 'copy.np$ranks.csv'" 2> q.err || fail "query COPY np$ranks: $(head -c 600 q.err)"
  cmp -s copy.ref.csv "copy.np$ranks.csv" || fail "query COPY np$ranks: the file differs"
  timeout 120 "$mpiexec" -n $ranks --oversubscribe --bind-to none "$tessera" query --format csv \
    "$gsql" > "g.np$ranks" 2> q.err || fail "query group-by np$ranks: $(head -c 600 q.err)"
  cmp -s g.ref "g.np$ranks" || fail "query group-by np$ranks: the output differs from one process's"
done

if [ "$failures" -ne 0 ]; then
  echo "$failures failed"
  exit 1
fi
echo "all passed"
