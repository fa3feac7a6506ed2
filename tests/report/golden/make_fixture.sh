#!/usr/bin/env bash
# Regenerates tests/report/golden/run/: a real sweep of the three real task plugins
# (proofpile, passkey, longbench) against the test-only fake backend and tokenizer of
# tests/sweep/plugins, with synthetic data written here. Only what `e2llm report` reads is
# kept (sweep.json, backends/*.json, cells/*.json); machine paths and the host are scrubbed.
#
#   tests/report/golden/make_fixture.sh [BUILD_DIR]     (default: build)
#
# The goldens beside it (leaderboard.md, leaderboard.html, summary.json, plot-proofpile.svg)
# are the report of this run; test_report_golden checks that `e2llm report` still prints
# exactly them. The run has two training seeds for its trained backend, a [report] base,
# reference and group, and cells of schema 3 (views, intervals, provenance). Its Cells table
# (speeds, memory) differs from run to run, so regenerate the goldens with it:
#   tests/report/golden/make_fixture.sh build && tests/report/golden/make_goldens.sh build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf 'fake tokenizer model\n' >"$work/tok.txt"
printf 'fake base\n' >"$work/base.gguf"

# Two documents of ~2.5k bytes (one token per byte with the fake tokenizer).
for i in 1 2; do
  text=""
  for j in $(seq 1 60); do text+="Document $i, sentence $j: the quick brown fox jumps over the lazy dog. "; done
  printf '{"id": "doc%s", "text": "%s"}\n' "$i" "$text"
done >"$work/docs.jsonl"

# LongBench-shaped rows: answers that a model recalling the last numbers of its prompt can hit.
mkdir -p "$work/longbench"
row() {  # dataset id context input answer
  printf '{"_id": "%s", "input": "%s", "context": "%s", "answers": ["%s"], "length": 100, "dataset": "%s", "language": "en", "all_classes": null}\n' \
    "$2" "$4" "$3" "$5" "$1"
}
filler=$(printf 'Nothing to see here. %.0s' $(seq 1 30))
{
  row qasper q1 "$filler The answer is 17." "Which number?" "17"
  row qasper q2 "The answer is 23. $filler" "Which number?" "23"
} >"$work/longbench/qasper.jsonl"
{
  row hotpotqa h1 "$filler Paris is 7 hours away." "How many hours?" "7"
  row hotpotqa h2 "$filler$filler$filler Rome is 9 hours away." "How many hours?" "9 hours"
} >"$work/longbench/hotpotqa.jsonl"
{
  row gov_report g1 "$filler The agency spent 12 million." "" "The agency spent 12 million dollars."
} >"$work/longbench/gov_report.jsonl"

cat >"$work/golden.toml" <<'TOML'
[run]
name = "golden"
seed = 3

[tokenizer]
plugin = "faketok"
model = "tok.txt"

[base]
source = "gguf"
path = "base.gguf"
window = 512

[backends.none]
plugin = "fakebackend"
tag = "none"
scale = 1.0

[backends.pi]
plugin = "fakebackend"
tag = "pi"
scale = 0.8
recall_tokens = 400

[backends.e2llm]
plugin = "fakebackend"
tag = "e2llm"
scale = 0.6
trains = true
recall_tokens = 1200

[tasks.proofpile]
data = "docs.jsonl"
max_documents = 2
stride = 256

[tasks.passkey]
depths = [0.0, 0.5, 1.0]
trials = 2

[tasks.longbench]
data_dir = "longbench"
datasets = ["qasper", "hotpotqa", "gov_report"]
reserve = 64

[sweep]
windows = [512, 1024, 2048]
backends = ["none", "pi", "e2llm"]
tasks = ["proofpile", "passkey", "longbench"]
seeds = [1, 2]

[report]
base = "none"
reference = "pi"

[[report.groups]]
title = "Trained against training-free"
backends = ["pi", "e2llm"]
TOML

"$build/bin/e2llm" --plugin-path "$build/tests/sweep_test_plugins" sweep "$work/golden.toml" --out "$work/run" >"$work/log" 2>&1 || { cat "$work/log"; exit 1; }

rm -rf "$here/run"
mkdir -p "$here/run/cells" "$here/run/backends"
scrub() {  # the work folder and the host leave no trace of this machine
  sed -e "s#$work#/fixture#g" -e 's#"hostname": "[^"]*"#"hostname": "fixture"#' "$1" >"$2"
}
scrub "$work/run/sweep.json" "$here/run/sweep.json"
for f in "$work"/run/backends/*.json; do scrub "$f" "$here/run/backends/$(basename "$f")"; done
for f in "$work"/run/cells/*.json; do scrub "$f" "$here/run/cells/$(basename "$f")"; done
echo "wrote $here/run ($(ls "$here/run/cells" | wc -l) cells)"
