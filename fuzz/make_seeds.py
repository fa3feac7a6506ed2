#!/usr/bin/env python3
"""Writes the binary and derived fuzz seeds with the reference writers, so that the seeds
are files those tools produce, not files e2llm's own writers produce:

  fuzz/corpus/gguf/         tiny llama GGUFs written by the `gguf` package (llama.cpp's writer),
                            float and block-quantized (all ten types e2llm reads)
  fuzz/corpus/safetensors/  files written by `safetensors` (Hugging Face's writer)
  fuzz/corpus/hf_dir/       config.json by transformers' LlamaConfig, a weight map and a
                            vocabulary, NUL-separated (fuzz/targets/hf_dir.cpp)

Run from the repository root with the project's Python: .venv/bin/python fuzz/make_seeds.py
[gguf safetensors hf_dir gguf_tokenizer] (default: all).
The text seeds of the other targets are written by hand and committed as they are.
"""
import json
import pathlib

import gguf
import numpy as np
import torch
from safetensors.torch import save as save_safetensors
from transformers import LlamaConfig

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"

# The tiny model fuzz/targets/hf_dir.cpp writes: keep the two in step.
DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, CONTEXT = 8, 16, 1, 2, 1, 6, 64
TOKENS = ["<unk>", "<s>", "</s>", "\u2581a", "\u2581b", "<0x0A>"]


def write(target, name, data):
    path = ROOT / target / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    print(f"{path.relative_to(ROOT.parent.parent)}: {path.stat().st_size} bytes")


# ---- GGUF --------------------------------------------------------------------------------


def gguf_tensors(tied):
    """GGUF names and numpy arrays (outermost dimension first) of the tiny llama."""
    rng = np.random.default_rng(7)
    kv = KV_HEADS * DIM // HEADS
    shapes = {"token_embd.weight": (VOCAB, DIM), "output_norm.weight": (DIM,)}
    if not tied:
        shapes["output.weight"] = (VOCAB, DIM)
    for i in range(LAYERS):
        shapes |= {
            f"blk.{i}.attn_norm.weight": (DIM,),
            f"blk.{i}.attn_q.weight": (DIM, DIM),
            f"blk.{i}.attn_k.weight": (kv, DIM),
            f"blk.{i}.attn_v.weight": (kv, DIM),
            f"blk.{i}.attn_output.weight": (DIM, DIM),
            f"blk.{i}.ffn_norm.weight": (DIM,),
            f"blk.{i}.ffn_gate.weight": (HIDDEN, DIM),
            f"blk.{i}.ffn_up.weight": (HIDDEN, DIM),
            f"blk.{i}.ffn_down.weight": (DIM, HIDDEN),
        }
    return {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}


def write_gguf(name, dtype="f32", tied=False, vocab=True, rope=None):
    path = ROOT / "gguf" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(DIM)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(HIDDEN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(DIM // HEADS)
    w.add_rope_freq_base(10000.0)
    if rope == "yarn":
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(4.0)
        w.add_rope_scaling_orig_ctx_len(16)
    elif rope == "linear":
        w.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        w.add_rope_scaling_factor(2.0)
    if vocab:
        w.add_tokenizer_model("llama")
        w.add_token_list(TOKENS)
        w.add_token_scores([0.0, 0.0, 0.0, -1.0, -2.0, 0.0])
        w.add_token_types([2, 3, 3, 1, 1, 6])
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
    for tensor, array in gguf_tensors(tied).items():
        if dtype == "f16":
            w.add_tensor(tensor, array.astype(np.float16))
        elif dtype == "bf16":
            bits = torch.from_numpy(array).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
            w.add_tensor(tensor, bits, raw_shape=array.shape, raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            w.add_tensor(tensor, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{path.relative_to(ROOT.parent.parent)}: {path.stat().st_size} bytes")


# Quantized seeds. ok-tiny-quantized.gguf is the tiny llama at dim 32 (a row must hold whole
# blocks of 32) in the five 32-element block types, made by gguf.quants.quantize. The K-quants
# need rows of 256, which no llama this small has: bad-not-a-llama-quantized-blocks.gguf holds
# one small tensor of each of the ten types and no llama model (the target dequantizes every
# tensor the format reader accepts before the llama reading refuses the file). K-quant blocks are random bytes
# with finite f16 scales: the package cannot quantize those types.
T = gguf.GGMLQuantizationType
SMALL_TYPES = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
K_SCALE_OFFSETS = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}


def quantized_bytes(rng, qtype, shape):
    if qtype in SMALL_TYPES:
        return gguf.quants.quantize(rng.standard_normal(shape).astype(np.float32) * 0.1, qtype)
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n = int(np.prod(shape)) // block
    raw = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
    for off in K_SCALE_OFFSETS[qtype]:
        raw[:, off:off + 2] = rng.uniform(-0.05, 0.05, n).astype(np.float16).view(np.uint8).reshape(n, 2)
    return raw.reshape(*shape[:-1], shape[-1] // block * size)


def finish(w, path):
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{path.relative_to(ROOT.parent.parent)}: {path.stat().st_size} bytes")


def write_quantized_seeds():
    rng = np.random.default_rng(11)
    dim, heads, kv_heads, hidden = 32, 2, 1, 32
    path = ROOT / "gguf" / "ok-tiny-quantized.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_context_length(CONTEXT)
    w.add_embedding_length(dim)
    w.add_block_count(1)
    w.add_feed_forward_length(hidden)
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(dim // heads)
    w.add_rope_freq_base(10000.0)
    kv = kv_heads * dim // heads
    shapes = {"token_embd.weight": (VOCAB, dim), "blk.0.attn_q.weight": (dim, dim), "blk.0.attn_k.weight": (kv, dim),
              "blk.0.attn_v.weight": (kv, dim), "blk.0.attn_output.weight": (dim, dim),
              "blk.0.ffn_gate.weight": (hidden, dim), "blk.0.ffn_up.weight": (hidden, dim),
              "blk.0.ffn_down.weight": (dim, hidden)}
    for i, (tensor, shape) in enumerate(shapes.items()):
        qtype = SMALL_TYPES[i % len(SMALL_TYPES)]
        w.add_tensor(tensor, quantized_bytes(rng, qtype, shape), raw_dtype=qtype)
    for tensor in ("output_norm.weight", "blk.0.attn_norm.weight", "blk.0.ffn_norm.weight"):
        w.add_tensor(tensor, np.ones(dim, dtype=np.float32))
    finish(w, path)

    path = ROOT / "gguf" / "bad-not-a-llama-quantized-blocks.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    for qtype in SMALL_TYPES + list(K_SCALE_OFFSETS):
        block, _ = gguf.GGML_QUANT_SIZES[qtype]
        w.add_tensor(f"{qtype.name.lower()}.weight", quantized_bytes(rng, qtype, (2 if block == 32 else 1, block)),
                     raw_dtype=qtype)
    finish(w, path)


# ---- safetensors -------------------------------------------------------------------------


def safetensors_seeds():
    g = torch.Generator().manual_seed(3)
    mixed = {
        "a.f32": torch.randn(2, 3, generator=g),
        "b.f16": torch.randn(4, generator=g).half(),
        "c.bf16": torch.randn(1, 2, 2, generator=g).bfloat16(),
        "d.scalar": torch.tensor(1.5),
    }
    write("safetensors", "ok-mixed-dtypes.safetensors", save_safetensors(mixed, metadata={"format": "pt"}))
    write("safetensors", "ok-no-tensors.safetensors", save_safetensors({}))
    one = save_safetensors({"w": torch.zeros(3, 5)})
    write("safetensors", "bad-truncated-data.safetensors", one[:-7])
    write("safetensors", "bad-int64.safetensors", save_safetensors({"i": torch.arange(3)}))


# ---- Hugging Face folders ------------------------------------------------------------------


def hf_config(**rope):
    config = LlamaConfig(hidden_size=DIM, intermediate_size=HIDDEN, num_hidden_layers=LAYERS,
                         num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, vocab_size=VOCAB,
                         max_position_embeddings=CONTEXT, **rope)
    return config.to_json_string()


def weight_map(shard_of_layer="model-00002-of-00002.safetensors"):
    outer = ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"]
    layer = [f"model.layers.0.{n}" for n in (
        "input_layernorm.weight", "post_attention_layernorm.weight", "self_attn.q_proj.weight",
        "self_attn.k_proj.weight", "self_attn.v_proj.weight", "self_attn.o_proj.weight",
        "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight")]
    entries = {n: "model-00001-of-00002.safetensors" for n in outer}
    entries |= {n: shard_of_layer for n in layer}
    return json.dumps({"metadata": {"total_size": 0}, "weight_map": entries}, indent=2)


def hf_seeds():
    vocab = json.dumps({"tokens": TOKENS, "scores": [0.0] * VOCAB, "types": [1] * VOCAB, "bos": 1, "eos": 2})
    write("hf_dir", "ok-plain", hf_config())
    write("hf_dir", "ok-sharded", hf_config() + "\0" + weight_map())
    write("hf_dir", "ok-vocab", hf_config() + "\0\0" + vocab)
    write("hf_dir", "ok-rope-linear", hf_config(rope_scaling={"rope_type": "linear", "factor": 2.0}))
    write("hf_dir", "ok-rope-dynamic", hf_config(rope_scaling={"rope_type": "dynamic", "factor": 2.0}))
    write("hf_dir", "ok-rope-yarn", hf_config(rope_scaling={
        "rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 16, "beta_fast": 32.0}))
    # The format transformers < 5 wrote: rope_scaling with "type", rope_theta at the top.
    legacy = json.loads(hf_config())
    legacy.pop("rope_parameters", None)
    legacy |= {"rope_theta": 500000.0, "rope_scaling": {"type": "linear", "factor": 4.0}}
    write("hf_dir", "ok-legacy-rope-scaling", json.dumps(legacy, indent=2))
    write("hf_dir", "bad-shard-outside-folder",
          hf_config() + "\0" + weight_map("../model-00002-of-00002.safetensors"))
    write("hf_dir", "bad-shard-missing", hf_config() + "\0" + weight_map("model-00003-of-00003.safetensors"))


# ---- tokenizers inside GGUFs --------------------------------------------------------------

# GPT-2's byte map for the printable ASCII bytes and the space (bytes_to_unicode).
BYTE_LEVEL = [chr(b) for b in range(0x21, 0x7F)] + ["\u0120", "\u010a"]


def write_tokenizer_gguf(name, model, tokens, types, pre=None, merges=None, scores=None, **flags):
    path = ROOT / "gguf_tokenizer" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_tokenizer_model(model)
    if pre:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    if scores:
        w.add_token_scores(scores)
    if merges:
        w.add_token_merges(merges)
    w.add_bos_token_id(flags.get("bos", 1))
    w.add_eos_token_id(flags.get("eos", 2))
    if "add_bos" in flags:
        w.add_add_bos_token(flags["add_bos"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{path.relative_to(ROOT.parent.parent)}: {path.stat().st_size} bytes")


def tokenizer_seeds():
    merge_pairs = [("\u0120", "t"), ("h", "e"), ("\u0120t", "he"), ("l", "l"), ("\u0120", "w"), ("o", "r"),
                   ("\u0120w", "or"), ("ll", "o"), ("H", "e"), ("He", "llo")]
    merged = [a + b for a, b in merge_pairs]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>"]
    tokens = specials + BYTE_LEVEL + merged
    types = [3, 3, 3, 4] + [1] * (len(BYTE_LEVEL) + len(merged))
    merges = [a + " " + b for a, b in merge_pairs]
    write_tokenizer_gguf("ok-gpt2-smollm.gguf", "gpt2", tokens, types, pre="smollm", merges=merges, add_bos=False)
    write_tokenizer_gguf("ok-gpt2-llama-bpe.gguf", "gpt2", tokens, types, pre="llama-bpe", merges=merges)
    write_tokenizer_gguf("ok-gpt2-no-pre.gguf", "gpt2", tokens, types, merges=merges, bos=0, eos=0)
    pieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in (0x0A, 0x20, 0xC3, 0xA9, 0xE2, 0x96, 0x81)]
    words = ["\u2581", "\u2581H", "e", "l", "o", "\u2581w", "r", "d", "H", "ll", "\u2581He", "llo", "\u2581wor"]
    write_tokenizer_gguf("ok-llama-spm.gguf", "llama", pieces + words, [2, 3, 3] + [6] * 7 + [1] * len(words),
                         scores=[0.0] * 10 + [-float(i) for i in range(len(words))])


SEEDS = {
    "gguf": lambda: (write_gguf("ok-tiny-f32.gguf"),
                     write_gguf("ok-tiny-f16-yarn-tied.gguf", dtype="f16", tied=True, rope="yarn"),
                     write_gguf("ok-tiny-bf16-linear-no-vocab.gguf", dtype="bf16", vocab=False, rope="linear"),
                     write_quantized_seeds()),
    "safetensors": safetensors_seeds,
    "hf_dir": hf_seeds,
    "gguf_tokenizer": tokenizer_seeds,
}


def main():
    import sys
    for target in sys.argv[1:] or SEEDS:
        SEEDS[target]()


if __name__ == "__main__":
    main()
