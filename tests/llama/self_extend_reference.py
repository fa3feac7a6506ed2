#!/usr/bin/env python3
"""An independent Self-Extend reference for tests/llama/test_self_extend.cpp, written from
the paper's equations (Jin et al. 2024, arXiv 2401.01325, §3; its released code's
conventions: neighbour window w = group_size_2, group size G = group_size_1) over a float64
numpy LLaMA read from a GGUF with the gguf package (llama.cpp's layout: adjacent RoPE pairs).

  self_extend_reference.py MANIFEST.json

MANIFEST: {"gguf": PATH,
           "logits": [{"name", "ids": [...], "group": G, "window": w, "out": FILE}, ...],
           "greedy": [{"name", "prompt": [...], "n": N, "group": G, "window": w}, ...]}
For each "logits" case the logits of every position are written to FILE as float64 [T, V];
for each "greedy" case N tokens are generated greedily, every step recomputing the whole
sequence (no cache), and printed as {"name": [ids]} JSON.

For query position p and key position k (token indices), d = p - k:
  d <  w : score = q(p) . k(k)                       (RoPE at the exact positions)
  d >= w : score = q(floor(p/G) + w - floor(w/G)) . k(floor(k/G))
and one softmax over both kinds; G = 1 is plain attention.
"""
import json
import math
import sys

import numpy as np


def load(path):
    import gguf
    reader = gguf.GGUFReader(path)
    meta = {k: f.contents() for k, f in reader.fields.items()}
    weights = {t.name: np.array(t.data, dtype=np.float64) for t in reader.tensors}
    return meta, weights


class Model:
    def __init__(self, path):
        m, self.w = load(path)
        self.dim = int(m["llama.embedding_length"])
        self.layers = int(m["llama.block_count"])
        self.heads = int(m["llama.attention.head_count"])
        self.kv_heads = int(m.get("llama.attention.head_count_kv", self.heads))
        self.eps = float(m["llama.attention.layer_norm_rms_epsilon"])
        self.base = float(m.get("llama.rope.freq_base", 10000.0))
        self.d = self.dim // self.heads

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, positions):
        """x [T, heads, d] turned by positions [T]: adjacent pairs (2i, 2i+1), pos * b^(-2i/d)."""
        inv = self.base ** (-np.arange(0, self.d, 2) / self.d)
        ang = positions[:, None] * inv[None, :]
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    def logits(self, ids, G, w):
        T, d, rep = len(ids), self.d, self.heads // self.kv_heads
        pos = np.arange(T, dtype=np.float64)
        group_k = np.floor(pos / G)
        group_q = group_k + (w - w // G)
        dist = pos[:, None] - pos[None, :]
        neighbour = dist < w
        causal = np.where(dist >= 0, 0.0, -np.inf)
        x = self.w["token_embd.weight"][ids]
        for i in range(self.layers):
            p = f"blk.{i}."
            h = self.rms(x, self.w[p + "attn_norm.weight"])
            q = (h @ self.w[p + "attn_q.weight"].T).reshape(T, self.heads, d)
            k = (h @ self.w[p + "attn_k.weight"].T).reshape(T, self.kv_heads, d)
            v = (h @ self.w[p + "attn_v.weight"].T).reshape(T, self.kv_heads, d)
            k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
            exact = np.einsum("thd,shd->hts", self.rope(q, pos), self.rope(k, pos))
            grouped = np.einsum("thd,shd->hts", self.rope(q, group_q), self.rope(k, group_k))
            s = np.where(neighbour[None], exact, grouped) / math.sqrt(d) + causal[None]
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            x = x + np.einsum("hts,shd->thd", s, v).reshape(T, self.dim) @ self.w[p + "attn_output.weight"].T
            h = self.rms(x, self.w[p + "ffn_norm.weight"])
            g = h @ self.w[p + "ffn_gate.weight"].T
            x = x + ((g / (1.0 + np.exp(-g))) * (h @ self.w[p + "ffn_up.weight"].T)) @ self.w[p + "ffn_down.weight"].T
        x = self.rms(x, self.w["output_norm.weight"])
        return x @ self.w.get("output.weight", self.w["token_embd.weight"]).T


def main():
    if len(sys.argv) != 2:
        print("usage: self_extend_reference.py MANIFEST.json", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        manifest = json.load(f)
    model = Model(manifest["gguf"])
    for case in manifest.get("logits", []):
        z = model.logits(case["ids"], case["group"], case["window"])
        np.ascontiguousarray(z.astype("<f8")).tofile(case["out"])
    greedy = {}
    for case in manifest.get("greedy", []):
        ids = list(case["prompt"])
        for _ in range(case["n"]):
            ids.append(int(np.argmax(model.logits(ids, case["group"], case["window"])[-1])))
        greedy[case["name"]] = ids[len(case["prompt"]):]
    print(json.dumps(greedy))
    return 0


if __name__ == "__main__":
    sys.exit(main())
