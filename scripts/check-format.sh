#!/usr/bin/env bash
# clang-format (.clang-format) on the C++ lines changed against the merge base with
# origin/main, or, where there is no origin/main, against the previous commit. Only the
# changed lines are checked, so files written before the rule keep their layout until they
# are edited. A fresh clone of main has origin/main at HEAD: nothing to check there.
#   scripts/check-format.sh        # exit 1 and the diff to apply when a changed line is off
set -euo pipefail
cd "$(dirname "$0")/.."
if ! git rev-parse --git-dir >/dev/null 2>&1; then
  echo "check-format: not a git checkout; skipped"
  exit 0
fi
if base=$(git merge-base HEAD origin/main 2>/dev/null); then
  against="the merge base with origin/main"
elif git rev-parse --verify -q HEAD~1 >/dev/null; then
  base=HEAD~1
  against="the previous commit"
else
  echo "check-format: one commit only, nothing to compare with; skipped"
  exit 0
fi
if ! command -v git-clang-format >/dev/null; then
  echo "check-format: git-clang-format is missing (Debian package clang-format; scripts/setup.sh installs it)" >&2
  exit 1
fi
diff=$(git clang-format --style=file --extensions cpp,hpp,h,cc --diff "$base" 2>&1) || {
  echo "check-format: git clang-format failed: $diff" >&2
  exit 1
}
if grep -q '^diff --git' <<<"$diff"; then
  printf '%s\n' "$diff"
  echo "check-format: C++ lines changed since $against are not clang-formatted; apply the diff above" \
    "(git clang-format --style=file $base)" >&2
  exit 1
fi
echo "check-format: C++ lines changed since $against are clang-formatted"
