#!/usr/bin/env bash
# Forward throughput and peak RSS of stories260K at W = 512 .. 32768 (PI, s = W/512):
# the C++ LlamaModel (forward_bench) on the fused kernel and on the blocked reference kernel,
# next to its Python PyTorch twin (forward_twin.py, the venv's torch: the same LibTorch build),
# each (implementation, window) in a fresh process. Prints a Markdown table and writes
# bench/results/forward.json.
#   bench/run_forward.sh [BUILD_DIR] [WINDOWS...]     (default: build, 512 2048 8192 32768)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
shift || true
windows=("$@")
[ ${#windows[@]} -gt 0 ] || windows=(512 2048 8192 32768)
model="${E2LLM_BENCH_MODEL:-$root/../shared/data/models/stories260K.gguf}"
threads="${E2LLM_BENCH_THREADS:-0}"
block="${E2LLM_BENCH_BLOCK:-512}"
bench="$build/bin/forward_bench"
python="$root/.venv/bin/python"
[ -x "$python" ] || { echo "run_forward.sh: $python missing (run scripts/setup.sh)" >&2; exit 1; }
[ -x "$bench" ] || { echo "run_forward.sh: $bench not built (cmake --build $build --target forward_bench)" >&2; exit 1; }
[ -f "$model" ] || { echo "run_forward.sh: model $model not found (set E2LLM_BENCH_MODEL)" >&2; exit 1; }
mkdir -p "$here/results"
rows="$(mktemp)"
trap 'rm -f "$rows"' EXIT
# stories260K was trained at 512 tokens (its GGUF context_length says 2048): s = W / 512.
trained="${E2LLM_BENCH_TRAINED:-512}"
for w in "${windows[@]}"; do
  s="$("$python" -c "print(max(1.0, $w / $trained))")"
  "$bench" "$model" "$w" --threads "$threads" --block "$block" --scale "$s" --attention fused >>"$rows"
  "$bench" "$model" "$w" --threads "$threads" --block "$block" --scale "$s" --attention blocked |
    sed 's/"impl": "cpp"/"impl": "cpp-blocked"/' >>"$rows"
  "$python" "$here/forward_twin.py" "$model" "$w" --threads "$threads" --block "$block" --scale "$s" >>"$rows"
done
"$python" - "$rows" "$here/results/forward.json" "$(basename "$model")" <<'PY'
import json, platform, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {(r["impl"], r["window"]): r for r in rows}
windows = sorted({r["window"] for r in rows})
try:
    rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
except OSError:
    rev = "unknown"
out = {"model": sys.argv[3], "git_revision": rev, "machine": platform.machine(), "rows": rows, "summary": []}
print("| W | PI s | C++ fused tok/s | C++ blocked tok/s | Python tok/s | fused/Python | fused/blocked "
      "| peak RSS MiB (fused / blocked / Python) | logits match |")
print("|---:|---:|---:|---:|---:|---:|---:|---|:---:|")
for w in windows:
    c, b, p = by[("cpp", w)], by[("cpp-blocked", w)], by[("python", w)]
    ratio = c["tokens_per_s"] / p["tokens_per_s"]
    match = all(abs(x["checksum"] - p["checksum"]) <= 1e-3 * max(1.0, abs(p["checksum"])) for x in (c, b))
    out["summary"].append({"window": w, "scale": c["scale"], "cpp_tokens_per_s": c["tokens_per_s"],
                           "cpp_blocked_tokens_per_s": b["tokens_per_s"],
                           "python_tokens_per_s": p["tokens_per_s"], "ratio": round(ratio, 3),
                           "fused_over_blocked": round(c["tokens_per_s"] / b["tokens_per_s"], 3),
                           "cpp_max_rss_mib": c["max_rss_mib"], "cpp_blocked_max_rss_mib": b["max_rss_mib"],
                           "python_max_rss_mib": p["max_rss_mib"], "checksums_match": match})
    print(f"| {w} | {c['scale']:g} | {c['tokens_per_s']:.0f} | {b['tokens_per_s']:.0f} | {p['tokens_per_s']:.0f} | "
          f"{ratio:.2f} | {c['tokens_per_s'] / b['tokens_per_s']:.2f} | "
          f"{c['max_rss_mib']:.0f} / {b['max_rss_mib']:.0f} / {p['max_rss_mib']:.0f} | {'yes' if match else 'NO'} |")
json.dump(out, open(sys.argv[2], "w"), indent=2)
print(f"\nwrote {sys.argv[2]}")
PY
