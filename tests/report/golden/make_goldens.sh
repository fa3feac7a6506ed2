#!/usr/bin/env bash
# Regenerates the golden report files from tests/report/golden/run/ (see make_fixture.sh):
# `e2llm report` on a copy of the run, the generation timestamps set to
# 2000-01-01T00:00:00Z as test_report_golden normalizes them.
#
#   tests/report/golden/make_goldens.sh [BUILD_DIR]     (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r "$here/run" "$work/run"
"$build/bin/e2llm" report "$work/run" >/dev/null
for f in leaderboard.md leaderboard.html summary.json plot-proofpile.svg; do
  sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z/2000-01-01T00:00:00Z/g' "$work/run/$f" >"$here/$f"
done
echo "wrote the goldens in $here"
