#!/usr/bin/env bash
# args_differ.sh MPIEXEC TESSERA — `tessera eval` under mpiexec where the
# ranks run the same program but for one constant (an MPMD launch: rank 0
# multiplies by 1, rank 1 by 2).  The graphs have the same shape; the run
# must fail on the agreement check, not print a mixture of both results.
# The same launch with equal programs prints the one result.
set -u
mpiexec=$1
tessera=$2
prog='sum(ones(shape=(100,), chunks=(10,)) * %s)'
run() { # run FACTOR0 FACTOR1
  # shellcheck disable=SC2059
  timeout 60 "$mpiexec" --oversubscribe --bind-to none \
    -n 1 "$tessera" eval "$(printf "$prog" "$1")" : \
    -n 1 "$tessera" eval "$(printf "$prog" "$2")" 2>&1
}
fail=0
out=$(run 2 2)
status=$?
echo "$out"
if [ "$status" -ne 0 ] || ! grep -qx '200.0' <<<"$out"; then
  echo "FAIL: equal programs did not print 200.0 (status $status)"
  fail=1
fi
out=$(run 1 2)
status=$?
echo "$out"
if [ "$status" -eq 0 ]; then
  echo "FAIL: ranks with different constants succeeded"
  fail=1
fi
if ! grep -q 'different arguments' <<<"$out"; then
  echo "FAIL: no message says the ranks' arguments differ"
  fail=1
fi
if grep -qE '^(100|150|200)\.0$' <<<"$out"; then
  echo "FAIL: a result was printed"
  fail=1
fi
[ "$fail" -eq 0 ] && echo "1 passed, 0 failed"
exit "$fail"
