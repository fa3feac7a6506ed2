#!/usr/bin/env bash
# Forward (prefill) throughput of e2llm next to llama.cpp's llama-bench on the same GGUF, the
# same thread count and the same prompt lengths, alternating in one run (best of ROUNDS each).
# llama.cpp is not a dependency: build its llama-bench yourself (any recent llama.cpp, e.g. the
# one vendored in the llama-cpp-python sdist: cmake -B b -DLLAMA_CURL=OFF && cmake --build b
# --target llama-bench) and name it in LLAMA_BENCH. Writes bench/results/llamacpp.json.
#   LLAMA_BENCH=/path/to/llama-bench bench/run_llamacpp.sh [BUILD_DIR] [WINDOWS...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
shift || true
windows=("$@")
[ ${#windows[@]} -gt 0 ] || windows=(512 2048 8192)
model="${E2LLM_BENCH_MODEL:-$root/../shared/data/models/stories260K.gguf}"
threads="${E2LLM_BENCH_THREADS:-2}"
rounds="${ROUNDS:-2}"
python="$root/.venv/bin/python"
llama="${LLAMA_BENCH:-}"
[ -n "$llama" ] && [ -x "$llama" ] || { echo "run_llamacpp.sh: set LLAMA_BENCH to a built llama-bench" >&2; exit 1; }
[ -x "$build/bin/forward_bench" ] || { echo "run_llamacpp.sh: $build/bin/forward_bench not built" >&2; exit 1; }
[ -f "$model" ] || { echo "run_llamacpp.sh: model $model not found (set E2LLM_BENCH_MODEL)" >&2; exit 1; }
mkdir -p "$here/results"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
csv="$(IFS=,; echo "${windows[*]}")"
for ((r = 0; r < rounds; r++)); do
  "$llama" -m "$model" -p "$csv" -n 0 -t "$threads" -r 3 -o jsonl 2>/dev/null | sed 's/^/LLAMA /' >>"$rows"
  for w in "${windows[@]}"; do
    # Plain RoPE (scale 1) as llama-bench runs it; the RoPE scale does not change the cost.
    "$build/bin/forward_bench" "$model" "$w" --threads "$threads" --block 512 --scale 1 --attention fused >>"$rows"
  done
done
"$python" - "$rows" "$here/results/llamacpp.json" "$(basename "$model")" "$threads" <<'PY'
import json, platform, subprocess, sys
best = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    if line.startswith("LLAMA "):
        r = json.loads(line[6:])
        key, tps = ("llama.cpp", r["n_prompt"]), r["avg_ts"]
        build = r.get("build_commit", "?")
    else:
        r = json.loads(line)
        key, tps = ("e2llm", r["window"]), r["tokens_per_s"]
    if key not in best or tps > best[key]:
        best[key] = tps
windows = sorted({w for _, w in best})
rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
print("| W | e2llm tok/s | llama.cpp tok/s | e2llm / llama.cpp |")
print("|---:|---:|---:|---:|")
summary = []
for w in windows:
    e, l = best[("e2llm", w)], best[("llama.cpp", w)]
    summary.append({"window": w, "e2llm_tokens_per_s": e, "llamacpp_tokens_per_s": l, "ratio": round(e / l, 3)})
    print(f"| {w} | {e:.0f} | {l:.0f} | {e / l:.2f} |")
json.dump({"benchmark": "prefill vs llama.cpp", "model": sys.argv[3], "threads": int(sys.argv[4]),
           "git_revision": rev, "llama_cpp_build": build, "machine": platform.machine(), "summary": summary},
          open(sys.argv[2], "w"), indent=2)
print(f"\nwrote {sys.argv[2]}")
PY
