#!/usr/bin/env bash
# Encoding throughput of the hf-json plugin (tokenizer_bench) next to the Hugging Face
# `tokenizers` package (tokenizer_twin.py), both on one thread, on the same long text (the
# LongBench contexts and the Debian licence texts, about 0.8 MB) and the same files: each
# tokenizer in tests/data/tokenizers. Encode wall time only (loading excluded); "cold" is
# the first encode after loading, "warm" the best of the repeats. Prints a Markdown table and
# writes bench/results/tokenizer.json.
#   bench/run_tokenizer.sh [BUILD_DIR]          (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
bench="$build/bin/tokenizer_bench"
python="$root/.venv/bin/python"
repeat="${E2LLM_BENCH_REPEAT:-5}"
[ -x "$bench" ] || { echo "run_tokenizer.sh: $bench not built (cmake --build $build --target tokenizer_bench)" >&2; exit 1; }
[ -x "$python" ] || { echo "run_tokenizer.sh: $python missing (run scripts/setup.sh)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" - "$root/../shared/data/longbench/rows" "$work/text.txt" <<'PY'
import glob, json, os, sys
parts = []
for path in sorted(glob.glob(os.path.join(sys.argv[1], "*.jsonl"))):
    parts += [json.loads(line)["context"] for line in open(path, encoding="utf-8")]
for path in sorted(glob.glob("/usr/share/common-licenses/*")):
    if os.path.isfile(path):
        parts.append(open(path, encoding="utf-8", errors="replace").read())
open(sys.argv[2], "w", encoding="utf-8").write("\n\n".join(parts))
PY
export E2LLM_PLUGIN_PATH="$build/lib/e2llm/plugins"
rows="$work/rows.jsonl"
for dir in "$root"/tests/data/tokenizers/*/; do
  "$bench" "$dir" "$work/text.txt" --repeat "$repeat" >>"$rows"
  "$python" "$here/tokenizer_twin.py" "$dir" "$work/text.txt" --repeat "$repeat" >>"$rows"
done
mkdir -p "$here/results"
"$python" - "$rows" "$here/results/tokenizer.json" <<'PY'
import json, os, platform, subprocess, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:  # the tokenizer's folder name, not a path of this machine
    r["tokenizer"] = os.path.basename(r["tokenizer"].rstrip("/"))
rev = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True).stdout.strip()
out = {"git_revision": rev, "machine": platform.machine(), "threads": 1, "cpus": os.cpu_count(),
       "load_average_1m": os.getloadavg()[0], "rows": rows, "summary": []}
print("| tokenizer | text MB | tokens | e2llm cold MB/s | tokenizers cold MB/s | e2llm warm MB/s | tokenizers warm MB/s | warm ratio | same ids |")
print("|---|---:|---:|---:|---:|---:|---:|---:|:---:|")
for name in sorted({r["tokenizer"] for r in rows}):
    ours = next(r for r in rows if r["tokenizer"] == name and r["impl"] == "e2llm")
    ref = next(r for r in rows if r["tokenizer"] == name and r["impl"] == "tokenizers")
    mb = ours["bytes"] / 1e6
    same = ours["tokens"] == ref["tokens"] and ours["checksum"] == ref["checksum"]
    s = {"tokenizer": os.path.basename(name.rstrip("/")), "bytes": ours["bytes"], "tokens": ours["tokens"],
         "e2llm_cold_mb_s": mb / ours["cold_s"], "tokenizers_cold_mb_s": mb / ref["cold_s"],
         "e2llm_warm_mb_s": mb / ours["warm_s"], "tokenizers_warm_mb_s": mb / ref["warm_s"],
         "warm_ratio": ref["warm_s"] / ours["warm_s"], "same_ids": same}
    out["summary"].append(s)
    print(f"| {s['tokenizer']} | {mb:.2f} | {s['tokens']} | {s['e2llm_cold_mb_s']:.2f} | {s['tokenizers_cold_mb_s']:.2f} | "
          f"{s['e2llm_warm_mb_s']:.2f} | {s['tokenizers_warm_mb_s']:.2f} | {s['warm_ratio']:.2f} | {'yes' if same else 'NO'} |")
json.dump(out, open(sys.argv[2], "w"), indent=2)
print(f"\nwrote {sys.argv[2]}")
PY
