#!/usr/bin/env python3
"""The reference side of the training-step oracle (tests/train/test_train_oracle.cpp).

  train_step_reference.py MANIFEST.json

One optimizer step of `e2llm train`, recomputed in float64 with transformers'
LlamaForCausalLM and torch.optim.AdamW, from:
  - the base model directory the training started from ("base"),
  - the samples the trainer recorded (`record_positions = true`: positions-rank*.jsonl rows
    with step, sample, ids and the position draw g, t),
  - the policy record and the optimizer settings ("policy", "lr", "warmup", "weight_decay",
    "grad_clip", "betas", "eps").
The positions of every sample are rebuilt here from the method's definition, not taken from
the trainer (which records only the random draw):
  plain  m                                             (token index)
  pi     m / g, g = W / L fixed                        (Chen et al. 2023, arXiv 2306.15595)
  e2llm  m / g for m < sink, (m + t) / g for m >= sink (E²-LLM, arXiv 2401.06951 §3:
         g ~ U{1..Gmax} or an explicit list, t ~ U{0..max(0, g·L − R)}, the first tokens
         an attention sink at offset 0)
and every draw is checked against the method's support (g in G, t in range, one g per step
with g_sampling = "iteration", all scaled positions < L). RoPE angles are position ·
θ^(−2j/d) with the base's θ, applied in the rotate-half layout of the Hugging Face directory.

A policy without a reference here fails with "no reference for policy ...": add its
positions (POSITIONS) and draw check (DRAW_CHECKS). PoSE (Zhu et al. 2023, arXiv 2309.10400)
too: chunk i of lengths l_0..l_{N-1} keeps positions st_i + u_i + k divided by s = L_t / L,
skips 0 = u_0 <= u_1 <= ... <= L_t − R (the trainer records chunk_lengths and skips).

Writes MANIFEST["out"]: {"loss", "grad_norm", "lr", "samples", "draws", "positions_first" (the
first sample's positions), "variant_losses", "tensors": {name: {"max_abs_diff" (over the
elements whose gradient is at least 1e-6, where float32 rounding cannot change AdamW's first
step), "resolved" (how many those are), "unresolved_beyond_bound" (how many others the trainer
moved by more than AdamW's step bound lr (1 + weight_decay |w|)), "max_update", "numel",
"worst"}} comparing the reference's weights after the step with MANIFEST["trained"] (the
trainer's model directory)}.
A failure is one line on stderr and exit 1.
"""
import json
import math
import sys

import torch
from transformers import LlamaForCausalLM
from transformers.utils import logging


def plain_positions(d, policy, R):
    return [float(m) for m in range(R)]


def pi_positions(d, policy, R):
    return [m / d["g"] for m in range(R)]


def e2llm_positions(d, policy, R):
    sink = policy["sink"]
    return [(m if m < sink else m + d["t"]) / d["g"] for m in range(R)]


def pose_positions(d, policy, R):
    # PoSE §3.2: chunk i covers tokens st_i .. st_i + l_i − 1 (st_i = l_0 + ... + l_{i−1}) at
    # positions st_i + u_i + k; the RoPE is scaled by s = L_t / L (linear, as its code).
    lengths, skips = d.get("chunk_lengths"), d.get("skips")
    if lengths is None or skips is None:
        raise ValueError("the record has no chunk_lengths / skips: the trainer must record PoSE's draw")
    out, start = [], 0
    for length, u in zip(lengths, skips):
        out += [(start + u + k) / d["g"] for k in range(length)]
        start += length
    return out


def check_plain(draws, policy, L, R):
    for d in draws:
        if d["g"] != 1.0 or d["t"] != 0:
            raise ValueError(f"plain draw of sample {d['sample']} is g {d['g']}, t {d['t']}: must be 1, 0")


def check_pi(draws, policy, L, R):
    for d in draws:
        if d["g"] != policy["g"] or d["t"] != 0:
            raise ValueError(f"pi draw of sample {d['sample']} is g {d['g']}, t {d['t']}: must be {policy['g']}, 0")


def check_e2llm(draws, policy, L, R):
    if not policy["scale_augmentation"]:
        scales = {float(policy["g_fixed"])}
    elif "g_values" in policy:
        scales = {float(g) for g in policy["g_values"]}
    else:
        scales = {float(g) for g in range(1, policy["gmax"] + 1)}
    for d in draws:
        if d["g"] not in scales:
            raise ValueError(f"e2llm draw of sample {d['sample']}: g {d['g']} is not in G = {sorted(scales)}")
        t_max = max(0, math.floor(d["g"] * L) - R) if policy["offset_augmentation"] else 0
        if not (isinstance(d["t"], int) and 0 <= d["t"] <= t_max):
            raise ValueError(f"e2llm draw of sample {d['sample']}: t {d['t']} is outside 0..{t_max} (g {d['g']})")
    if policy["g_sampling"] == "iteration":
        by_step = {}
        for d in draws:
            by_step.setdefault(d["step"], set()).add(d["g"])
        for step, gs in by_step.items():
            if len(gs) != 1:
                raise ValueError(f"g_sampling = iteration, but step {step} drew several g: {sorted(gs)}")


def check_pose(draws, policy, L, R):
    Lt, n = policy["target_window"], policy["chunks"]
    for d in draws:
        lengths, skips = d.get("chunk_lengths"), d.get("skips")
        if lengths is None or skips is None:
            raise ValueError(f"pose draw of sample {d['sample']} has no chunk_lengths / skips")
        if d["g"] != Lt / L:
            raise ValueError(f"pose draw of sample {d['sample']}: g {d['g']} is not L_t / L = {Lt / L}")
        if len(lengths) != n or len(skips) != n:
            raise ValueError(f"pose draw of sample {d['sample']}: {len(lengths)} chunks, {len(skips)} skips, not {n}")
        if min(lengths) < 1 or sum(lengths) != R:
            raise ValueError(f"pose draw of sample {d['sample']}: chunk lengths {lengths} are not >= 1 summing to R = {R}")
        if skips[0] != 0 or any(b < a for a, b in zip(skips, skips[1:])) or skips[-1] > Lt - R:
            raise ValueError(f"pose draw of sample {d['sample']}: skips {skips} are not 0 = u_0 <= ... <= L_t - R = {Lt - R}")


RESOLVED_GRAD = 1e-6  # |g| above which float32 rounding cannot change AdamW's first step

POSITIONS = {"plain": plain_positions, "pi": pi_positions, "e2llm": e2llm_positions, "pose": pose_positions}
DRAW_CHECKS = {"plain": check_plain, "pi": check_pi, "e2llm": check_e2llm, "pose": check_pose}


class RecordedRotary(torch.nn.Module):
    """Stands in for LlamaRotaryEmbedding: cos and sin of this batch's policy positions."""

    def __init__(self, theta, head_dim):
        super().__init__()
        j = torch.arange(0, head_dim, 2, dtype=torch.float64)
        self.inv_freq = 1.0 / (theta ** (j / head_dim))
        self.positions = None  # [B, R] float64

    def forward(self, x, position_ids):
        angles = self.positions[..., None] * self.inv_freq  # [B, R, d/2]
        emb = torch.cat((angles, angles), dim=-1)
        return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


# What a trainer that dropped one part of the policy would have computed: the loss of the same
# batch at the base weights with that part removed. The test asserts each is far from the
# reference loss, so the comparison can tell them apart.
VARIANTS = {
    "e2llm": {"without_t": lambda r: dict(r, t=0), "without_g": lambda r: dict(r, g=1.0),
              "without_sink": None},
    "pi": {"without_g": lambda r: dict(r, g=1.0)},
    "pose": {"without_skips": lambda r: dict(r, skips=[0] * len(r["skips"])), "without_g": lambda r: dict(r, g=1.0)},
}


def variant_losses(base, rotary, ids, rows, policy, R):
    name = policy["policy"]
    if name not in VARIANTS:
        return {}
    model = LlamaForCausalLM.from_pretrained(base, dtype=torch.float64, attn_implementation="eager").eval()
    model.model.rotary_emb = rotary
    out = {}
    for vname, change in VARIANTS[name].items():
        if change is None:  # the sink: every token offset by t
            pos = [POSITIONS[name](r, dict(policy, sink=0), R) for r in rows]
        else:
            pos = [POSITIONS[name](change(r), policy, R) for r in rows]
        rotary.positions = torch.tensor(pos, dtype=torch.float64)
        with torch.no_grad():
            logits = model(input_ids=ids[:, :R], use_cache=False).logits
        out[vname] = (torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                                        reduction="sum") / (len(rows) * R)).item()
    return out


def main():
    if len(sys.argv) != 2:
        print("usage: train_step_reference.py MANIFEST.json", file=sys.stderr)
        return 2
    logging.set_verbosity_error()
    torch.set_num_threads(1)
    with open(sys.argv[1], encoding="utf-8") as f:
        m = json.load(f)
    policy = m["policy"]
    name = policy["policy"]
    if name not in POSITIONS:
        raise ValueError(f"no reference for policy {name!r}: add its positions and draw check to "
                         f"tests/train/train_step_reference.py")
    L, R = policy["original_window"], policy["seq_len"]
    rows = []
    for path in m["records"]:
        with open(path, encoding="utf-8") as f:
            rows += [json.loads(line) for line in f if line.strip()]
    rows = sorted((r for r in rows if r["step"] == m["step"]), key=lambda r: r["sample"])
    if not rows:
        raise ValueError(f"no recorded samples of step {m['step']} in {m['records']}")
    if any(r["policy"] != name for r in rows):
        raise ValueError(f"the record's policy differs from {name}")
    DRAW_CHECKS[name](rows, policy, L, R)
    positions = torch.tensor([POSITIONS[name](r, policy, R) for r in rows], dtype=torch.float64)
    if name != "plain" and positions.max().item() >= L:
        raise ValueError(f"a scaled position reaches {positions.max().item()} >= L = {L}")
    ids = torch.tensor([r["ids"] for r in rows], dtype=torch.long)
    if ids.shape[1] != R + 1:
        raise ValueError(f"recorded rows have {ids.shape[1]} ids, expected R + 1 = {R + 1}")

    model = LlamaForCausalLM.from_pretrained(m["base"], dtype=torch.float64, attn_implementation="eager")
    model.train()
    cfg = model.config
    theta = cfg.rope_parameters["rope_theta"]
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    rotary = RecordedRotary(theta, head_dim)
    rotary.positions = positions
    model.model.rotary_emb = rotary

    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    logits = model(input_ids=ids[:, :R], use_cache=False).logits
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                             reduction="sum") / (len(rows) * R)
    loss.backward()
    params = [p for p in model.parameters()]
    grad_norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params if p.grad is not None)).item()
    if m["grad_clip"] > 0:
        torch.nn.utils.clip_grad_norm_(params, m["grad_clip"])
    grads = {k: v.grad.detach().clone() for k, v in model.named_parameters()}
    lr = m["lr"] * (1.0 / m["warmup"] if m["warmup"] > 0 else 1.0)  # step 0 of warmup + cosine
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": m["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=tuple(m["betas"]), eps=m["eps"])
    opt.step()

    trained = LlamaForCausalLM.from_pretrained(m["trained"], dtype=torch.float64)
    theirs = dict(trained.named_parameters())
    tensors = {}
    for k, v in model.named_parameters():
        if k not in theirs:
            raise ValueError(f"the trained model has no tensor {k}")
        # AdamW's first step moves an element by lr * g / (|g| + eps) (+ decay): where |g| is near
        # eps (1e-8) float32 rounding of g decides the step, so those elements are held only to
        # the step's bound, lr * (1 + weight_decay * |w|), and the rest to the reference.
        resolved = grads[k].abs() >= RESOLVED_GRAD
        diff = (v.detach() - theirs[k].detach()).abs()
        masked = torch.where(resolved, diff, torch.zeros_like(diff))
        worst = int(masked.argmax())
        bound = lr * (1.0 + m["weight_decay"] * before[k].abs()) * (1.0 + 1e-6) + 1e-9
        step = (theirs[k].detach() - before[k]).abs()
        tensors[k] = {"max_abs_diff": masked.max().item(),
                      "max_abs_diff_all": diff.max().item(),
                      "resolved": int(resolved.sum()),
                      "unresolved_beyond_bound": int(((~resolved) & (step > bound)).sum()),
                      "max_update": (v.detach() - before[k]).abs().max().item(),
                      "numel": v.numel(),
                      "worst": {"grad": grads[k].flatten()[worst].item(), "before": before[k].flatten()[worst].item(),
                                "reference": v.detach().flatten()[worst].item(),
                                "trainer": theirs[k].detach().flatten()[worst].item()}}
    with open(m["out"], "w", encoding="utf-8") as f:
        json.dump({"loss": loss.item(), "grad_norm": grad_norm, "lr": lr, "samples": len(rows),
                   "draws": [{"g": r["g"], "t": r["t"]} for r in rows],
                   "positions_first": positions[0].tolist(), "tensors": tensors,
                   "variant_losses": variant_losses(m["base"], rotary, ids, rows, policy, R)}, f)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:  # one line
        print(f"train_step_reference.py: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
              file=sys.stderr)
        sys.exit(1)
