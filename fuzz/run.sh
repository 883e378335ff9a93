#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after the other:
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]
#
# Seeds the corpora first (seed.sh), builds once, then runs each target with
# nightly cargo-fuzz, prints one summary line per target (runs, seconds,
# runs per second, coverage, result) and exits non-zero if any target found
# a crash (a panic, a sanitizer report, a leak, a timeout or running out of
# memory) or a reproducer in regressions/<target>/ still fails.
# Logs: artifacts/<target>.log; crashing inputs: artifacts/<target>/.
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`.
set -uo pipefail
cd "$(dirname "$0")"

secs=${1:-60}
shift || true
case $secs in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "run.sh: needs nightly and cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
  exit 2
fi

bash ./seed.sh || exit 2
cargo +nightly fuzz build || exit 2

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Per-target libFuzzer flags. read_stream: the whole-fixture seed is
# 116 KB, and libFuzzer would otherwise mutate inputs that large (about
# 100 runs/s); line structure needs no more than 16 KiB (the seed is read
# truncated to that; its chunks are smaller).
declare -A extra=([read_stream]="-max_len=16384")

mkdir -p artifacts
failed=0
summary=()
for t in "${targets[@]}"; do
  log=artifacts/$t.log
  mkdir -p "artifacts/$t"

  # Replay the reproducers of bugs found before (regressions/<target>/):
  # each must pass once its bug is fixed.
  regress=none
  shopt -s nullglob
  repro=(regressions/"$t"/*)
  shopt -u nullglob
  if [ ${#repro[@]} -gt 0 ]; then
    if cargo +nightly fuzz run "$t" "${repro[@]}" >"artifacts/$t.regressions.log" 2>&1; then
      regress="${#repro[@]} pass"
    else
      regress="${#repro[@]} STILL FAIL (see fuzz/artifacts/$t.regressions.log)"
      failed=1
    fi
  fi

  before=$(ls "artifacts/$t" | wc -l)
  echo "== $t: ${secs}s (log: fuzz/$log)"
  start=$SECONDS
  # Known bugs (each with a reproducer in regressions/) are not reported
  # again while fuzzing, so the time goes to finding new ones.
  AGENT_AUDIT_FUZZ_SKIP_KNOWN_BUGS=1 cargo +nightly fuzz run "$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
    ${extra[$t]:-} >"$log" 2>&1
  rc=$?
  wall=$((SECONDS - start))
  # libFuzzer's own figures: "Done N runs in S second(s)" when time ran
  # out, stat::number_of_executed_units in the final stats either way.
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
  after=$(ls "artifacts/$t" | wc -l)
  if [ $rc -eq 0 ] && [ "$after" -eq "$before" ]; then
    result=ok
  elif grep -q 'failed to build fuzz script' "$log"; then
    # cargo fuzz run rebuilds first: the library changed under us.
    result="BUILD FAILED (see fuzz/$log)"
    failed=1
  else
    result="CRASH (exit $rc; see fuzz/$log and fuzz/artifacts/$t/)"
    failed=1
  fi
  took=${took:-$wall}
  runs=${runs:-0}
  rate=$((took > 0 ? runs / took : runs))
  line=$(printf '%-13s %6ss %12s runs %9s runs/s  cov %6s  %-8s regressions: %s' \
    "$t" "$took" "$runs" "$rate" "${cov:-?}" "$result" "$regress")
  summary+=("$line")
  echo "$line"
done

echo
echo "== summary (${secs}s per target)"
printf '%s\n' "${summary[@]}"
exit $failed
