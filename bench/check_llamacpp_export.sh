#!/usr/bin/env bash
# Does llama.cpp serve an `e2llm export` GGUF as e2llm measured it? For each RoPE type llama.cpp
# can carry, exports MODEL at window W, scores one window of W tokens of TEXT with llama.cpp
# (through llama-cpp-python) and with `e2llm perplexity` on the same flags, and prints both
# perplexities; writes bench/results/llamacpp_export.json. A check, not a test: llama.cpp is
# not a dependency. Either have `import llama_cpp` work in $LLAMA_PYTHON (pip install
# llama-cpp-python==0.3.36 builds llama.cpp from source: slow on 2 cores), or point
# LLAMA_CPP_PYTHON at an unpacked llama-cpp-python source tree and LLAMA_CPP_LIB at the
# folder of a libllama.so built from its vendor/llama.cpp (the script then makes a small venv
# in .cache/ with llama-cpp-python's pure-Python dependencies).
#   bench/check_llamacpp_export.sh [BUILD_DIR]
# Environment: E2LLM_MODEL (default the shared stories260K.gguf), E2LLM_TOKENIZER (tok512.model),
# E2LLM_L (256: the original window declared), E2LLM_W (1024), E2LLM_ROPES (default linear ntk
# yarn), E2LLM_TEXT (a text file of more than W tokens; default a generated story).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
models="$root/../shared/data/models"
model="${E2LLM_MODEL:-$models/stories260K.gguf}"
tok="${E2LLM_TOKENIZER:-$models/tok512.model}"
L="${E2LLM_L:-256}"
W="${E2LLM_W:-1024}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -x "$build/bin/e2llm" ] || { echo "check_llamacpp_export.sh: $build/bin/e2llm not built" >&2; exit 1; }

python="${LLAMA_PYTHON:-}"
if [ -z "$python" ]; then
  [ -n "${LLAMA_CPP_PYTHON:-}" ] && [ -n "${LLAMA_CPP_LIB:-}" ] || {
    echo "check_llamacpp_export.sh: set LLAMA_PYTHON, or LLAMA_CPP_PYTHON and LLAMA_CPP_LIB (see the header)" >&2
    exit 1
  }
  venv="$root/.cache/llamacpp-check-venv"
  [ -x "$venv/bin/python" ] || {
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q numpy diskcache jinja2 typing-extensions
  }
  python="$venv/bin/python"
  export PYTHONPATH="$LLAMA_CPP_PYTHON" LLAMA_CPP_LIB_PATH="$LLAMA_CPP_LIB"
fi

text="${E2LLM_TEXT:-}"
if [ -z "$text" ]; then  # TinyStories-like prose, the kind stories260K was trained on; > W tokens
  text="$work/text.txt"
  for i in $(seq 60); do
    printf 'Once upon a time, a little girl named Lily found a red ball in the garden. She ran to her mom and said, "Look what I found!" ' >>"$text"
  done
fi

# The ids both sides score: e2llm's tokenization (the tokenizer is not what is checked here;
# whether llama.cpp's own tokenization agrees is reported beside).
"$build/bin/e2llm" tokenizer encode --model "$tok" <"$text" >"$work/ids.txt"
rows="$work/rows.jsonl"
for rope in ${E2LLM_ROPES:-default linear ntk yarn}; do
  flags=(--model "$model" --tokenizer "$tok" --original-window "$L" --rope-type "$rope" --threads 2)
  "$build/bin/e2llm" export "${flags[@]}" --window "$W" --gguf "$work/$rope.gguf" >/dev/null
  # One window of W tokens (stride W, text cut to W tokens): the same tokens llama.cpp scores.
  "$build/bin/e2llm" perplexity "${flags[@]}" --window "$W" --stride "$W" --truncate "$W" --input "$text" |
    "$root/.venv/bin/python" -c "import json,sys; d=json.load(sys.stdin); print(json.dumps({'rope': sys.argv[1], 'e2llm_ppl': d['ppl'], 'e2llm_tokens': d['tokens']}))" "$rope" >>"$rows"
done

"$python" - "$work" "$text" "$W" "$rows" "$here/results/llamacpp_export.json" "$(basename "$model")" <<'PY'
import json, math, os, sys
import numpy as np
import llama_cpp
work, text_file, W, rows_file, out_file, model_name = sys.argv[1], sys.argv[2], int(sys.argv[3]), *sys.argv[4:]
text = open(text_file, encoding="utf-8").read()
body = [int(x) for x in open(f"{work}/ids.txt").read().split()]
rows = [json.loads(l) for l in open(rows_file)]
for r in rows:
    llm = llama_cpp.Llama(model_path=f"{work}/{r['rope']}.gguf", n_ctx=W, n_batch=W, n_ubatch=W, logits_all=True,
                          n_threads=2, verbose=False)
    ids = ([llm.token_bos()] + body)[:W]
    r["tokenizer_agrees"] = llm.tokenize(text.encode("utf-8"), add_bos=True)[:W] == ids
    llm.reset()
    llm.eval(ids)
    z = np.array(llm.scores[: len(ids)], dtype=np.float64)[:-1]
    z -= z.max(axis=1, keepdims=True)
    lp = z[np.arange(len(ids) - 1), ids[1:]] - np.log(np.exp(z).sum(axis=1))
    r["llamacpp_ppl"] = math.exp(-lp.mean())
    r["llamacpp_tokens"] = len(ids) - 1
    r["relative_difference"] = abs(r["llamacpp_ppl"] - r["e2llm_ppl"]) / r["e2llm_ppl"]
    del llm
print(f"{'rope':<8} {'tokens':>7} {'e2llm ppl':>12} {'llama.cpp ppl':>14} {'rel. diff':>10}  tokenizer agrees")
for r in rows:
    print(f"{r['rope']:<8} {r['e2llm_tokens']:>7} {r['e2llm_ppl']:>12.6f} {r['llamacpp_ppl']:>14.6f} "
          f"{r['relative_difference']:>10.2e}  {r['tokenizer_agrees']}")
ok = all(r["relative_difference"] < 1e-3 and r["e2llm_tokens"] == r["llamacpp_tokens"] for r in rows)
result = {"model": model_name, "window": W, "llama_cpp_python": llama_cpp.__version__, "rows": rows, "ok": ok}
with open(out_file + ".tmp", "w") as f:
    json.dump(result, f, indent=2)
os.replace(out_file + ".tmp", out_file)
print("all within 1e-3 on the same tokens" if ok else "MISMATCH (see the rows)")
sys.exit(0 if ok else 1)
PY
