#!/usr/bin/env bash
# One bounded libFuzzer run, as CI runs it (ctest label `fuzz`; docs/reliability.md):
#   fuzz/run_fuzzer.sh BINARY SECONDS WORK_DIR SEED_DIR...
# Starts from the committed seeds and regression inputs (read only; new inputs go to
# WORK_DIR/corpus), fuzzes for SECONDS, and exits non-zero on any crash, leak, sanitizer
# report, timeout or out-of-memory; the input that caused it is left in WORK_DIR/artifacts.
set -euo pipefail
binary=$1 seconds=$2 work=$3
shift 3
name="$(basename "$binary")"
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"
seeds=()
for d in "$@"; do [[ -d "$d" ]] && seeds+=("$d"); done
dict="$(dirname "$0")/dicts/${name#fuzz_}.dict"
options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024
         -print_final_stats=1 -artifact_prefix="$work/artifacts/")
[[ -f "$dict" ]] && options+=(-dict="$dict")
export ASAN_OPTIONS="detect_leaks=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
status=0
"$binary" "${options[@]}" "$work/corpus" "${seeds[@]}" >"$work/log" 2>&1 || status=$?
runs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)"
echo "$name: ${runs:-?} executions in ${seconds} s, exit status $status (log: $work/log)"
if (( status != 0 )); then
  tail -n 60 "$work/log"
  ls "$work/artifacts"
  exit 1
fi
