"""The Python PyTorch twin of train_bench: the same ~5M-parameter Llama (embedding, RMSNorm,
GQA attention with rotate-half RoPE from explicit float64 positions, SwiGLU, untied head),
the same step (next-token cross-entropy, backward, global-norm clipping, AdamW β 0.9/0.95
with decay on matrices only) on seeded random tokens. Written the way a PyTorch user would:
nn.Module and F.scaled_dot_product_attention (or, with --attention materialized, F.softmax over
the full causal matrix). Run it with the project's .venv/bin/python: the same torch 2.11 wheel
whose LibTorch the C++ side links, so the ratio measures the frontend and the implementation.

    train_twin.py [--threads N] [--steps S] [--warmup W] [--batch B] [--seq R] [--attention fused|materialized]
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class Block(nn.Module):
    def __init__(self, dim, heads, kv_heads, ffn, fused=True):
        super().__init__()
        self.fused = fused
        self.heads, self.kv_heads, self.hd = heads, kv_heads, dim // heads
        self.attn_norm, self.mlp_norm = RMSNorm(dim), RMSNorm(dim)
        self.wq = nn.Linear(dim, heads * self.hd, bias=False)
        self.wk = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.wv = nn.Linear(dim, kv_heads * self.hd, bias=False)
        self.wo = nn.Linear(heads * self.hd, dim, bias=False)
        self.gate = nn.Linear(dim, ffn, bias=False)
        self.up = nn.Linear(dim, ffn, bias=False)
        self.down = nn.Linear(ffn, dim, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, _ = x.shape
        h = self.attn_norm(x)
        q = self.wq(h).view(B, T, self.heads, self.hd).transpose(1, 2)
        k = self.wk(h).view(B, T, self.kv_heads, self.hd).transpose(1, 2)
        v = self.wv(h).view(B, T, self.kv_heads, self.hd).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if self.fused:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.heads > self.kv_heads)
            x = x + self.wo(a.transpose(1, 2).reshape(B, T, -1))
            m = self.mlp_norm(x)
            return x + self.down(F.silu(self.gate(m)) * self.up(m))
        rep = self.heads // self.kv_heads
        if rep > 1:
            k, v = k.repeat_interleave(rep, 1), v.repeat_interleave(rep, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
        a = F.softmax(s.masked_fill(mask, float("-inf")), dim=-1) @ v
        x = x + self.wo(a.transpose(1, 2).reshape(B, T, -1))
        m = self.mlp_norm(x)
        return x + self.down(F.silu(self.gate(m)) * self.up(m))


class Llama(nn.Module):
    def __init__(self, vocab, dim, layers, heads, kv_heads, ffn, fused=True):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, kv_heads, ffn, fused) for _ in range(layers))
        self.norm = RMSNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        hd = dim // heads
        self.register_buffer("inv_freq", 10000.0 ** (-torch.arange(0, hd, 2, dtype=torch.float64) / hd))
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, ids, positions):
        T = ids.shape[1]
        angles = positions.unsqueeze(-1) * self.inv_freq  # float64, as the C++ model
        cos, sin = torch.cos(angles).float().unsqueeze(1), torch.sin(angles).float().unsqueeze(1)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        x = self.embed(ids)
        for b in self.blocks:
            x = b(x, cos, sin, mask)
        return self.head(self.norm(x))


def matmul_gflops(n=1024, repeats=5):
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = a @ b
    best = 1e30
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b, out=c)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--attention", choices=["fused", "materialized"], default="fused")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    vocab, dim, layers, heads, kv_heads, ffn = 512, 256, 6, 8, 8, 688
    model = Llama(vocab, dim, layers, heads, kv_heads, ffn, fused=a.attention == "fused")
    n_params = sum(p.numel() for p in model.parameters())
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95))
    positions = torch.arange(a.seq, dtype=torch.float64).unsqueeze(0).expand(a.batch, a.seq)
    data = torch.randint(vocab, (a.steps + a.warmup, a.batch, a.seq + 1))
    total, loss_v, fwd, bwd, upd = 0.0, 0.0, 0.0, 0.0, 0.0
    for s in range(a.steps + a.warmup):
        t0 = time.perf_counter()
        ids = data[s]
        opt.zero_grad()
        logits = model(ids[:, :-1], positions)
        loss = F.cross_entropy(logits.reshape(-1, vocab), ids[:, 1:].reshape(-1))
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        loss_v = loss.item()
        t3 = time.perf_counter()
        if s >= a.warmup:
            total += t3 - t0
            fwd, bwd, upd = fwd + t1 - t0, bwd + t2 - t1, upd + t3 - t2
    tps = a.steps * a.batch * a.seq / total
    g = matmul_gflops()
    print(json.dumps({"impl": "python" if a.attention == "fused" else "python-materialized", "params": n_params, "threads": a.threads, "batch": a.batch, "seq_len": a.seq,
                      "steps": a.steps, "ms_per_step": 1000 * total / a.steps, "tokens_per_s": tps,
                      "matmul_gflops": g, "forward_ms": 1000 * fwd / a.steps,
                      "backward_ms": 1000 * bwd / a.steps, "update_ms": 1000 * upd / a.steps, "mfu": 6 * n_params * tps / (g * 1e9), "final_loss": loss_v}))


if __name__ == "__main__":
    main()
