#!/usr/bin/env bash
# rank_death.sh MPIEXEC TEST_DIST — a rank that dies ends the whole job in
# seconds: rank 1 is killed inside a kernel while rank 0 waits for its
# chunk; the launcher must end the job with a failure status, well before
# the 60 s guard (the README says how: Open MPI's mpirun ends every rank
# when one exits abnormally).
set -u
mpiexec=$1
test_dist=$2
start=$(date +%s)
log=$(mktemp)
timeout 60 "$mpiexec" -n 2 --oversubscribe "$test_dist" --die >"$log" 2>&1
status=$?
cat "$log"
elapsed=$(($(date +%s) - start))
echo "rank_death: exit status $status after ${elapsed} s"
if ! grep -q "rank 1: dying inside a kernel" "$log"; then
  echo "FAIL: the scenario did not run (rank 1 never reached the kernel)"
  rm -f "$log"
  exit 1
fi
rm -f "$log"
if [ "$status" -eq 0 ]; then
  echo "FAIL: the job succeeded although rank 1 died"
  exit 1
fi
if [ "$status" -eq 124 ] || [ "$elapsed" -gt 30 ]; then
  echo "FAIL: the job hung after rank 1 died"
  exit 1
fi
echo "1 passed, 0 failed"
