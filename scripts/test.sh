#!/usr/bin/env bash
# Runs the test suite the way CI does (.ci/run calls the README's test command, which ends here).
#   scripts/test.sh [extra ctest arguments]
# Every test must run and pass:
# - a test that skips fails the run (tests skip only when something they need is missing, and
#   CI must say so rather than pass);
# - the suite may not shrink unnoticed: scripts/test_inventory.py compares the tests the build
#   registers and the tests that ran with tests/inventory.txt and fails naming the label and the
#   tests that are missing (a folder or tool left out at configure time, clang for the fuzz
#   tests), undeclared or without a TIMEOUT; every test has one per label
#   (tests/CMakeLists.txt), so a hung test fails instead of stalling CI.
# The one exception is made explicitly: without a visible NVIDIA GPU the `cuda` tests are
# excluded, with the reason printed (scripts/device-check.sh runs them on a GPU machine).
# E2LLM_TEST_EXCLUDE_LABELS (a ctest label regex, e.g. "network") excludes more, again printed.
# Extra ctest arguments that select tests (-R, -L, -E, -LE, -I, --rerun-failed, ...) make the
# run a selection: registration is still checked, running every test is not.
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
label_regex=""
if (( ${#labels[@]} > 0 )); then
  label_regex="$(IFS='|'; echo "${labels[*]}")"
  exclude=(-LE "^(${label_regex})$")
fi
selection=()
for arg in "$@"; do
  case "$arg" in
    -R|-E|-L|-LE|-I|-U|--rerun-failed|--tests-regex|--exclude-regex|--label-regex|--label-exclude|--tests-information|-R*|-E*|-L*|-I*)
      selection=(--selection) ;;
  esac
done
python=.venv/bin/python
[[ -x "$python" ]] || python=python3
log="$(mktemp)"
junit="$(mktemp --suffix=.xml)"
trap 'rm -f "$log" "$junit"' EXIT
status=0
ctest --test-dir "$build" --output-on-failure --output-junit "$junit" -j "${E2LLM_JOBS:-2}" "${exclude[@]}" "$@" \
  | tee "$log" || status=$?
skipped="$(grep -E '\(Skipped\)$' "$log" || true)"
if [[ -n "$skipped" ]]; then
  echo "tests: FAILED: these tests skipped (something they need is missing; see their output above):" >&2
  echo "$skipped" >&2
  status=1
fi
timeouts="$(grep -E '\*\*\*Timeout' "$log" || true)"
if [[ -n "$timeouts" ]]; then
  echo "tests: FAILED: these tests ran past their TIMEOUT (tests/CMakeLists.txt) and were killed:" >&2
  echo "$timeouts" >&2
  status=1
fi
"$python" scripts/test_inventory.py check "$build" --junit "$junit" --exclude-labels "$label_regex" \
  --absent-ok "${E2LLM_TEST_EXCLUDE_LABELS:-}" "${selection[@]}" \
  || status=1
exit "$status"
