#!/usr/bin/env bash
# test_cli_mpi.sh MPIEXEC TESSERA DATA_DIR — `tessera eval` end to end under
# mpiexec: the main job (data/main_job.tsr on data/sample.h5) with 1, 2 and
# 4 ranks x 1 and 2 threads prints the same bytes on stdout (rank 0 only)
# and writes bitwise the same dataset (compared as raw little-endian bytes
# dumped by h5dump) as the run without a launcher; a bad program fails on
# every rank with one message and a non-zero status, and leaves no output.
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

if [ "$failures" -ne 0 ]; then
  echo "$failures failed"
  exit 1
fi
echo "8 passed, 0 failed"
