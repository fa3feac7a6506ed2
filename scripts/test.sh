#!/usr/bin/env bash
# Runs the test suite the way CI does (.ci/run calls the README's test command, which ends here).
#   scripts/test.sh [extra ctest arguments]
# Every test must run and pass: a test that skips fails the run (tests skip only when
# something they need is missing, and CI must say so rather than pass). The one exception is
# made explicitly: without a visible NVIDIA GPU the `cuda` tests are excluded, with the reason
# printed (scripts/device-check.sh runs them on a GPU machine). E2LLM_TEST_EXCLUDE_LABELS
# (a ctest label regex, e.g. "network") excludes more, again printed.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${E2LLM_BUILD_DIR:-build}"
exclude=()
labels=()
if ! { command -v nvidia-smi >/dev/null && nvidia-smi -L 2>/dev/null | grep -q GPU; }; then
  labels+=("cuda")
  echo "tests: excluding label 'cuda': no NVIDIA GPU visible here (scripts/device-check.sh runs those tests on a GPU machine)"
fi
if [[ -n "${E2LLM_TEST_EXCLUDE_LABELS:-}" ]]; then
  labels+=("$E2LLM_TEST_EXCLUDE_LABELS")
  echo "tests: excluding labels '$E2LLM_TEST_EXCLUDE_LABELS' (E2LLM_TEST_EXCLUDE_LABELS)"
fi
if (( ${#labels[@]} > 0 )); then
  exclude=(-LE "^($(IFS='|'; echo "${labels[*]}"))$")
fi
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
ctest --test-dir "$build" --output-on-failure -j "${E2LLM_JOBS:-2}" "${exclude[@]}" "$@" | tee "$log" || status=$?
skipped="$(grep -E '\(Skipped\)$' "$log" || true)"
if [[ -n "$skipped" ]]; then
  echo "tests: FAILED: these tests skipped (something they need is missing; see their output above):" >&2
  echo "$skipped" >&2
  exit 1
fi
exit "$status"
