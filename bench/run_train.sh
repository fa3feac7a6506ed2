#!/bin/sh
# Training throughput, C++ trainer step (fused attention, the blocked reference kernel, and
# glibc's default malloc) vs its Python twin on the venv's torch, in the same run
# (alternating, best of ROUNDS), ~5M-parameter Llama at R = 256 on this machine. Writes bench/results/train.json.
#   bench/run_train.sh [BUILD_DIR] [ROUNDS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
python=$here/../.venv/bin/python
[ -x "$python" ] || { echo "run_train.sh: $python missing (run scripts/setup.sh)" >&2; exit 1; }
rounds=${2:-2}
args="--threads ${THREADS:-2} --steps ${STEPS:-8} --warmup 2 --batch 8 --seq 256"
mkdir -p "$here/results"
tmp=$(mktemp)
i=0
while [ $i -lt "$rounds" ]; do
  "$build/bin/train_bench" $args >>"$tmp"
  "$build/bin/train_bench" $args --attention blocked | sed 's/"impl": *"cpp"/"impl":"cpp-blocked"/' >>"$tmp"
  E2LLM_BENCH_DEFAULT_MALLOC=1 "$build/bin/train_bench" $args >>"$tmp"
  "$python" "$here/train_twin.py" $args >>"$tmp"
  i=$((i + 1))
done
"$python" - "$tmp" "$here/results/train.json" <<'PY'
import json, platform, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
best = {}
for r in rows:
    if r["impl"] not in best or r["tokens_per_s"] > best[r["impl"]]["tokens_per_s"]:
        best[r["impl"]] = r
c, p = best["cpp"], best["python"]
print(f"{'impl':18} {'params':>9} {'ms/step':>9} {'tokens/s':>10} {'MFU':>7} {'matmul GFLOP/s':>15} {'fwd/bwd/update ms':>20}")
for r in [c, p] + [best[k] for k in ("cpp-blocked", "cpp-default-malloc") if k in best]:
    print(f"{r['impl']:18} {r['params']:>9} {r['ms_per_step']:>9.1f} {r['tokens_per_s']:>10.0f} {100*r['mfu']:>6.1f}% {r['matmul_gflops']:>15.1f} {r['forward_ms']:>6.0f}/{r['backward_ms']:.0f}/{r['update_ms']:.0f}")
ratio = c["tokens_per_s"] / p["tokens_per_s"]
print(f"C++ / Python tokens/s: {ratio:.2f}x (target >= 1.3x)")
json.dump({"benchmark": "train", "machine": platform.processor() or platform.machine(), "runs": rows,
           "best": best, "speedup_cpp_over_python": ratio}, open(sys.argv[2], "w"), indent=2)
PY
rm -f "$tmp"
