#!/usr/bin/env bash
# fuzz.sh TARGET SECONDS [BUILD_DIR] — fuzzes one target of tests/fuzz for
# SECONDS of wall time with the libFuzzer build (preset `fuzz`, default
# build/fuzz), the way the project's campaigns run:
#  - one worker process (-fork=1) that libFuzzer restarts after a crash, a
#    timeout or an out-of-memory, so that a known crash does not end the run;
#  - the working corpus in BUILD_DIR/work/TARGET/corpus, seeded from
#    tests/fuzz/corpus/TARGET and regressions/TARGET (the repository is not
#    touched), findings in BUILD_DIR/work/TARGET/artifacts/;
#  - at the end, the inputs that add coverage beyond the seed corpus are
#    merged (-merge=1) into BUILD_DIR/work/TARGET/new (copy them into
#    tests/fuzz/corpus/TARGET when they are small).
# Environment: FUZZ_FLAGS adds libFuzzer flags; nice -n 10 unless NICE=0.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
target=${1:-}
seconds=${2:-}
build=${3:-$(dirname "$(dirname "$here")")/build/fuzz}
if [ -z "$target" ] || [ -z "$seconds" ]; then
  echo "usage: tests/fuzz/fuzz.sh TARGET SECONDS [BUILD_DIR]" >&2
  exit 2
fi
bin=$build/fuzz_$target
if [ ! -x "$bin" ]; then
  echo "error: $bin not built: cmake --preset fuzz && cmake --build --preset fuzz" >&2
  exit 1
fi
case "$target" in
  query) flags=(-max_len=4096 -dict="$here/query.dict") ;;
  hdf5) flags=(-max_len=65536) ;;
  csv) flags=(-max_len=16384 -dict="$here/csv.dict") ;;
  sql) flags=(-max_len=4096 -dict="$here/sql.dict") ;;
  *) flags=() ;;
esac
work=$build/work/$target
mkdir -p "$work/corpus" "$work/artifacts" "$work/new" "$work/tmp"
cp -n "$here/corpus/$target"/* "$work/corpus/" 2>/dev/null || true
cp -n "$here/regressions/$target"/* "$work/corpus/" 2>/dev/null || true
rm -f "$work/corpus/README.md"

# Known reports silenced while their fix is pending (README.md, "Known findings").
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$here/ubsan.supp
export LSAN_OPTIONS=suppressions=$here/lsan.supp:print_suppressions=0
export ASAN_OPTIONS=allocator_may_return_null=1
export TMPDIR=$work/tmp TESSERA_LOG=error
nice=(nice -n 10)
[ "${NICE:-}" = 0 ] && nice=()
echo "== fuzzing $target for ${seconds}s: $work (log: $work/fuzz.log)"
status=0
"${nice[@]}" "$bin" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -timeout=10 \
  -rss_limit_mb=2048 -max_total_time="$seconds" -artifact_prefix="$work/artifacts/" \
  -print_final_stats=1 "${flags[@]}" ${FUZZ_FLAGS:-} "$work/corpus" > "$work/fuzz.log" 2>&1 || status=$?
grep -E '^#[0-9]+' "$work/fuzz.log" | tail -n 1 || true
echo "== findings: $(ls "$work/artifacts" | wc -l) in $work/artifacts (exit status $status)"
echo "== merging what adds coverage beyond the seed corpus into $work/new"
rm -rf "$work/merged" "$work/new" && mkdir -p "$work/merged" "$work/new"
cp "$here/corpus/$target"/* "$work/merged/"
"${nice[@]}" "$bin" -merge=1 "${flags[@]}" "$work/merged" "$work/corpus" \
  > "$work/merge.log" 2>&1 || echo "warning: the merge failed (see $work/merge.log)" >&2
for f in "$work/merged"/*; do
  [ -e "$here/corpus/$target/$(basename "$f")" ] || mv "$f" "$work/new/"
done
echo "   $(ls "$work/new" | wc -l) new inputs, $(du -sb --apparent-size "$work/new" | cut -f1) bytes"
