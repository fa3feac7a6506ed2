#!/usr/bin/env bash
# The GPU check, in two halves:
#
#   scripts/device-check.sh pack    HERE, after scripts/build.sh: copies what the GPU machine
#                                   needs into .device/ (git-ignored, < 64 MiB): the e2llm
#                                   binary, the model library, every plugin, the CUDA test suite,
#                                   the benchmarks, the Debian shared libraries they load that a
#                                   bare machine lacks, and stories260K + tok512 from ../shared/data.
#   scripts/device-check.sh run     THERE, on a machine with an NVIDIA GPU and PyTorch 2.11 (its
#                                   LibTorch serves the carried binaries; no internet, no -dev
#                                   packages needed), from the repository root with .device/:
#                                     1. the CUDA test suite (tests/cuda), none may skip;
#                                     2. `e2llm perplexity` of stories260K on CUDA vs the CPU
#                                        (float32; the same perplexity to 1e-4 relative);
#                                     3. a short pretraining + E²-LLM fine-tuning + 2-window
#                                        sweep and report, all on CUDA;
#                                     4. forward and training throughput, MFU against the
#                                        H200's dense bf16 peak (~790 TFLOP/s) and peak GPU memory.
#                                   Writes $OUT/device-check.log and $OUT/device-check.json
#                                   (OUT defaults to /tmp/e2llm-device-check). Under 8 minutes.
# docs/gpu.md says how to call it through the device tool and records what it printed.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
pack_dir=.device

pack() {
  local build="${1:-build}"
  [[ -x "$build/bin/e2llm" && -x "$build/tests/test_cuda" ]] || { echo "device-check: build first (scripts/build.sh)" >&2; exit 1; }
  rm -rf "$pack_dir"
  mkdir -p "$pack_dir"/{bin,lib/e2llm/plugins,tests,deps,data}
  cp "$build/bin/e2llm" "$build/bin/forward_bench" "$build/bin/train_bench" "$pack_dir/bin/"
  cp "$build"/lib/*.so "$pack_dir/lib/"
  cp "$build"/lib/e2llm/plugins/*.so "$pack_dir/lib/e2llm/plugins/"
  cp "$build/tests/test_cuda" "$pack_dir/tests/"
  cp ../shared/data/models/stories260K.gguf ../shared/data/models/tok512.model "$pack_dir/data/"
  # Shared libraries from the system other than the C/C++ runtime (the GPU machine has its
  # own) and LibTorch/CUDA (the GPU machine's PyTorch provides them).
  find "$pack_dir" -type f \( -name '*.so' -o -perm -u+x \) -print0 | xargs -0 ldd 2>/dev/null |
    awk '/=> \// {print $3}' | sort -u |
    grep -vE '/(libc|libm|libdl|librt|libpthread|libstdc\+\+|libgcc_s|ld-linux[^/]*)\.so|site-packages|\.venv|/cuda' |
    while read -r lib; do cp -L "$lib" "$pack_dir/deps/"; done
  strip --strip-unneeded "$pack_dir"/bin/* "$pack_dir"/lib/*.so "$pack_dir"/lib/e2llm/plugins/*.so "$pack_dir"/tests/* 2>/dev/null
  echo "device-check: packed $(du -sh "$pack_dir" | cut -f1) into $pack_dir/ ($(ls "$pack_dir/deps" | tr '\n' ' '))"
  local mib=$(( $(du -sk "$pack_dir" | cut -f1) / 1024 ))
  (( mib < 60 )) || { echo "device-check: $pack_dir is $mib MiB; the device tool carries 64 MiB in all" >&2; exit 1; }
}

step() { echo; echo "== $* ($(date -u +%H:%M:%S))"; }

run() {
  local out="${OUT:-/tmp/e2llm-device-check}" t0=$SECONDS
  mkdir -p "$out"
  exec > >(tee "$out/device-check.log") 2>&1
  chmod -R go-w "$pack_dir"  # plugin folders writable by others are refused
  local py="${E2LLM_DEVICE_PYTHON:-python3}"
  local torch_lib
  torch_lib="$("$py" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')" || {
    echo "device-check: $py cannot import torch"; exit 1; }
  export LD_LIBRARY_PATH="$root/$pack_dir/deps:$root/$pack_dir/lib:$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export E2LLM_SHARED_DATA="$root/$pack_dir/data"
  local e2llm="$root/$pack_dir/bin/e2llm" data="$root/$pack_dir/data" work="$out/work"
  rm -rf "$work"; mkdir -p "$work"
  local failures=0
  fail() { echo "FAILED: $*"; failures=$((failures + 1)); }

  step "machine"
  "$py" -c 'import torch; print("torch", torch.__version__, "| cuda", torch.version.cuda, "| gpu", torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)'
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
  "$e2llm" --version || { fail "the carried e2llm does not start (missing library? ldd $e2llm)"; ldd "$e2llm" | grep "not found"; }

  step "1. CUDA test suite"
  "$root/$pack_dir/tests/test_cuda" --gtest_output="json:$out/test_cuda.json" || fail "CUDA test suite"
  if grep -q '"result": "SKIPPED"' "$out/test_cuda.json" 2>/dev/null; then fail "CUDA tests skipped (no GPU visible?)"; fi

  step "2. perplexity of stories260K, CUDA vs CPU (float32)"
  cat "$root"/docs/*.md > "$work/text.txt"
  local args=(perplexity --model "$data/stories260K.gguf" --tokenizer "$data/tok512.model" --input "$work/text.txt"
              --window 512 --stride 256 --original-window 512 --truncate 8192)
  "$e2llm" "${args[@]}" --device cpu > "$work/ppl_cpu.json" || fail "perplexity on the CPU"
  "$e2llm" "${args[@]}" --device cuda > "$work/ppl_cuda.json" || fail "perplexity on CUDA"
  "$py" - "$work/ppl_cpu.json" "$work/ppl_cuda.json" <<'PY' || fail "CUDA perplexity differs from the CPU's"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
rel = abs(a["ppl"] - b["ppl"]) / a["ppl"]
print(f"cpu ppl {a['ppl']:.6f} | cuda ppl {b['ppl']:.6f} | relative difference {rel:.2e} | "
      f"device {b['model']['device'].get('device_name')} | attention {b['model']['attention']['kernel']}")
sys.exit(0 if rel <= 1e-4 else 1)
PY

  step "3. pretrain + E²-LLM fine-tune + 2-window sweep on CUDA"
  "$py" - "$root" "$work" <<'PY'
import json, pathlib, random, sys
root, work = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
texts = [p.read_text(errors="replace") for p in sorted(root.glob("docs/*.md")) + sorted(root.glob("**/*.cpp"))]
docs = [t for t in texts if len(t) > 2000]
random.Random(0).shuffle(docs)
n_eval = max(3, len(docs) // 10)
for name, part in (("eval.jsonl", docs[:n_eval]), ("train.jsonl", docs[n_eval:])):
    with open(work / name, "w") as f:
        for t in part:
            f.write(json.dumps({"text": t}) + "\n")
print(f"corpus: {len(docs) - n_eval} train / {n_eval} eval documents from the repository's own text")
PY
  cat > "$work/sweep.toml" <<TOML
[run]
name = "device-check"
out = "$work/run"
seed = 1

[tokenizer]
model = "$data/tok512.model"

[base]
source = "pretrain"
window = 256

[base.pretrain]
plugin = "pretrain"
corpus = "$work/train.jsonl"
model = { dim = 256, layers = 4, heads = 8, kv_heads = 4, ffn = 768, window = 256 }
seq_len = 256
steps = 300
batch = 32
lr = 2e-3
warmup = 30
seed = 1

[backends.pi]

[backends.yarn]

[backends.e2llm]
plugin = "e2llm"
corpus = "$work/train.jsonl"
seq_len = 256
steps = 100
batch = 32
lr = 1e-3
warmup = 10
gmax = 8

[tasks.proofpile]
plugin = "proofpile"
data = "$work/eval.jsonl"
min_tokens = 1024
max_documents = 4
stride = 256

[tasks.passkey]
plugin = "passkey"
trials = 2
depths = [0.0, 0.5, 1.0]

[sweep]
windows = [256, 1024]
TOML
  "$e2llm" sweep "$work/sweep.toml" --device cuda || fail "sweep on CUDA"
  "$e2llm" report "$work/run" > /dev/null || fail "report"
  [[ -f "$work/run/leaderboard.md" ]] && sed -n '1,60p' "$work/run/leaderboard.md"
  "$py" - "$work/run" <<'PY' || fail "the sweep's records do not say CUDA"
import json, pathlib, sys
run = pathlib.Path(sys.argv[1])
cells = [json.loads(p.read_text()) for p in run.glob("cells/*.json")]
devices = {json.dumps(c.get("model", {}).get("device", {}).get("device")) for c in cells}
print(f"{len(cells)} cells, devices {devices}")
train = [json.loads(p.read_text()) for p in run.glob("cache/**/result.json")]
for t in train:
    d = t.get("device", {})
    print(f"training {t['method'].get('method')}: {t['steps']} steps, {t['train_wall_s']:.1f} s, {d.get('precision')}, "
          f"peak {d.get('peak_device_bytes', 0) / 2**20:.0f} MiB on {d.get('device_name')}")
sys.exit(0 if cells and all('"cuda' in d for d in devices) and train else 1)
PY

  step "4. throughput, MFU and peak GPU memory"
  local fb="$root/$pack_dir/bin/forward_bench" tb="$root/$pack_dir/bin/train_bench"
  : > "$out/bench.jsonl"
  for w in 8192 32768 131072; do
    "$fb" "$data/stories260K.gguf" "$w" --device cuda --dtype float32 --scale $((w / 512)) --repeats 3 >> "$out/bench.jsonl" || fail "forward_bench $w fp32"
    "$fb" "$data/stories260K.gguf" "$w" --device cuda --dtype bfloat16 --scale $((w / 512)) --repeats 3 >> "$out/bench.jsonl" || fail "forward_bench $w bf16"
  done
  # A 0.1B-parameter Llama (dim 768, 12 layers, GQA 12/4, vocab 32000) at R = 2048.
  local model=(--dim 768 --layers 12 --heads 12 --kv-heads 4 --ffn 2048 --vocab 32000 --seq 2048)
  "$tb" "${model[@]}" --batch 16 --steps 10 --warmup 3 --device cuda --precision bf16-autocast --peak-tflops 790 >> "$out/bench.jsonl" || fail "train_bench bf16"
  "$tb" "${model[@]}" --batch 16 --steps 5 --warmup 2 --device cuda --precision float32 --peak-tflops 790 >> "$out/bench.jsonl" || fail "train_bench fp32"
  "$py" - "$out/bench.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
print("| bench | W or R | dtype | tokens/s | MFU vs 790 TFLOP/s | peak GPU MiB |")
print("|---|---:|---|---:|---:|---:|")
for r in rows:
    if "window" in r:
        print(f"| forward stories260K | {r['window']} | {r['dtype']} | {r['tokens_per_s']:.0f} | — | {r['peak_device_mib']:.0f} |")
    else:
        print(f"| train {r['params']/1e6:.0f}M | {r['seq_len']} | {r['precision']} | {r['tokens_per_s']:.0f} | "
              f"{100*r['mfu']:.1f}% | {r['peak_device_bytes']/2**20:.0f} |")
PY

  step "done in $((SECONDS - t0)) s with $failures failure(s)"
  "$py" - "$out" "$failures" "$((SECONDS - t0))" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
summary = {"failures": int(sys.argv[2]), "seconds": int(sys.argv[3]),
           "bench": [json.loads(l) for l in open(out / "bench.jsonl") if l.strip().startswith("{")]}
(out / "device-check.json").write_text(json.dumps(summary, indent=2) + "\n")
PY
  (( failures == 0 ))
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  run) shift; run "$@" ;;
  *) echo "usage: scripts/device-check.sh pack [BUILD_DIR] | run" >&2; exit 2 ;;
esac
