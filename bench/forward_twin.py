"""The Python PyTorch twin of forward_bench: the same Llama forward (embedding, RMSNorm,
GQA attention — F.scaled_dot_product_attention, or with --attention blocked an online softmax
over query/key blocks — adjacent-pair RoPE with PI scaling, SwiGLU) on a GGUF F32 checkpoint,
timed the same way. Run it with the project's .venv/bin/python (the torch 2.11 wheel whose
LibTorch the C++ side links), so the ratio measures the frontend and the implementation.

    forward_twin.py MODEL WINDOW [--threads N] [--block B] [--repeats R] [--scale S] [--attention fused|blocked]
"""
import argparse
import json
import math
import os
import resource
import struct
import time

import numpy as np
import torch

GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def read_gguf(path):
    """Metadata dict and {name: np.ndarray} for an all-F32 GGUF v2/v3 file."""
    data = open(path, "rb").read()
    pos = 0

    def take(fmt):
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return vals[0] if len(vals) == 1 else vals

    def string():
        nonlocal pos
        n = take("Q")
        s = data[pos:pos + n].decode("utf-8", "replace")
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            item_type, n = take("I"), take("Q")
            return [value(item_type) for _ in range(n)]
        return take(GGUF_SCALARS[t])

    if data[:4] != b"GGUF":
        raise SystemExit(f"{path}: not a GGUF file")
    pos = 4
    _version, n_tensors, n_kv = take("I"), take("Q"), take("Q")
    meta = {}
    for _ in range(n_kv):
        key = string()
        meta[key] = value(take("I"))
    infos = []
    for _ in range(n_tensors):
        name = string()
        dims = [take("Q") for _ in range(take("I"))]
        ttype, offset = take("I"), take("Q")
        if ttype != 0:
            raise SystemExit(f"{path}: tensor {name} is not F32 (type {ttype})")
        infos.append((name, dims, offset))
    align = meta.get("general.alignment", 32)
    base = (pos + align - 1) // align * align
    tensors = {}
    for name, dims, offset in infos:
        count = int(np.prod(dims))
        arr = np.frombuffer(data, dtype=np.float32, count=count, offset=base + offset)
        tensors[name] = torch.from_numpy(arr.copy()).reshape(list(reversed(dims)))  # ne0 is innermost
    return meta, tensors


class Llama:
    def __init__(self, meta, t, block, fused=True):
        self.dim = meta["llama.embedding_length"]
        self.n_layers = meta["llama.block_count"]
        self.n_heads = meta["llama.attention.head_count"]
        self.n_kv = meta.get("llama.attention.head_count_kv", self.n_heads)
        self.eps = meta.get("llama.attention.layer_norm_rms_epsilon", 1e-5)
        self.base = meta.get("llama.rope.freq_base", 10000.0)
        self.trained = meta.get("llama.context_length", 512)
        self.hd = self.dim // self.n_heads
        self.block = block
        self.fused = fused
        self.t = t
        self.head = t.get("output.weight", t["token_embd.weight"])

    def rms(self, x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * w

    @staticmethod
    def rope_adjacent(x, cos, sin):
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), -1).flatten(-2)

    def attention(self, q, k, v):
        # q [B, Hkv, G, T, d], k, v [B, Hkv, 1, T, d]; causal, online softmax over key blocks.
        T, d = q.shape[3], q.shape[4]
        scale = 1.0 / math.sqrt(d)
        out = torch.empty_like(q)
        blk = self.block
        for q0 in range(0, T, blk):
            q1 = min(T, q0 + blk)
            qb = q[:, :, :, q0:q1] * scale
            m = torch.full(qb.shape[:-1] + (1,), -math.inf)
            l = torch.zeros_like(m)
            acc = torch.zeros_like(qb)
            for k0 in range(0, q1, blk):
                k1 = min(q1, k0 + blk)
                s = qb @ k[:, :, :, k0:k1].transpose(-1, -2)
                if k1 - 1 > q0:
                    hidden = torch.arange(k0, k1).view(1, -1) > torch.arange(q0, q1).view(-1, 1)
                    s.masked_fill_(hidden, -math.inf)
                m_new = torch.maximum(m, s.amax(-1, keepdim=True))
                p = s.sub_(m_new).exp_()
                corr = m.sub_(m_new).exp_()
                l.mul_(corr).add_(p.sum(-1, keepdim=True))
                acc.mul_(corr).add_(p @ v[:, :, :, k0:k1])
                m = m_new
            out[:, :, :, q0:q1] = acc / l
        return out

    def forward(self, ids, positions, inv_freq):
        B, T = ids.shape
        H, Hkv, hd, t = self.n_heads, self.n_kv, self.hd, self.t
        angles = positions.double().unsqueeze(-1) * inv_freq.double()
        cos = torch.cos(angles).float().unsqueeze(1)
        sin = torch.sin(angles).float().unsqueeze(1)
        x = torch.nn.functional.embedding(ids, t["token_embd.weight"])
        for i in range(self.n_layers):
            p = f"blk.{i}."
            h = self.rms(x, t[p + "attn_norm.weight"])
            q = (h @ t[p + "attn_q.weight"].t()).view(B, T, H, hd).transpose(1, 2)
            k = (h @ t[p + "attn_k.weight"].t()).view(B, T, Hkv, hd).transpose(1, 2)
            v = (h @ t[p + "attn_v.weight"].t()).view(B, T, Hkv, hd).transpose(1, 2)
            q, k = self.rope_adjacent(q, cos, sin), self.rope_adjacent(k, cos, sin)
            if self.fused:  # the same LibTorch kernel as the C++ model's default path
                a = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=H > Hkv)
            else:
                a = self.attention(q.reshape(B, Hkv, H // Hkv, T, hd), k.unsqueeze(2).contiguous(),
                                   v.unsqueeze(2).contiguous())
            x = x + a.reshape(B, H, T, hd).transpose(1, 2).reshape(B, T, H * hd) @ t[p + "attn_output.weight"].t()
            m = self.rms(x, t[p + "ffn_norm.weight"])
            g = torch.nn.functional.silu(m @ t[p + "ffn_gate.weight"].t())
            x = x + (g * (m @ t[p + "ffn_up.weight"].t())) @ t[p + "ffn_down.weight"].t()
        return self.rms(x, t["output_norm.weight"]) @ self.head.t()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("window", type=int)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--block", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=0)
    ap.add_argument("--scale", type=float, default=0.0)
    ap.add_argument("--attention", choices=["fused", "blocked"], default="fused")
    a = ap.parse_args()
    torch.set_num_threads(a.threads if a.threads > 0 else os.cpu_count())
    meta, tensors = read_gguf(a.model)
    model = Llama(meta, tensors, a.block, fused=a.attention == "fused")
    W = a.window
    scale = a.scale if a.scale > 0 else max(1.0, W / model.trained)
    # Position Interpolation: inv_freq_j = b^(-2j/d), positions / s (docs/methods.md §Baselines).
    inv_freq = 1.0 / (model.base ** (torch.arange(0, model.hd, 2, dtype=torch.float64) / model.hd))
    positions = (torch.arange(W, dtype=torch.float64) / scale).unsqueeze(0)
    repeats = a.repeats if a.repeats > 0 else (5 if W <= 2048 else 2 if W <= 8192 else 1)
    warmup = 1 if W < 16384 else 0
    with torch.no_grad():
        # Same ids as forward_bench: torch.manual_seed(0); randint on CPU.
        torch.manual_seed(0)
        ids = torch.randint(0, tensors["token_embd.weight"].shape[0], (1, W), dtype=torch.long)
        best = math.inf
        for r in range(warmup + repeats):
            t0 = time.perf_counter()
            logits = model.forward(ids, positions, inv_freq)
            s = time.perf_counter() - t0
            if r >= warmup:
                best = min(best, s)
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps({"impl": "python", "window": W, "scale": scale, "threads": torch.get_num_threads(),
                      "block": a.block, "attention": a.attention, "repeats": repeats, "seconds": round(best, 6),
                      "tokens_per_s": round(W / best, 3), "max_rss_mib": round(rss_mib, 1),
                      "checksum": round(float(logits[0, -1].sum()), 6)}))


if __name__ == "__main__":
    main()
