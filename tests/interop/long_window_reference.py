#!/usr/bin/env python3
"""transformers' side of the long-window test (tests/interop/test_long_windows.cpp).

  long_window_reference.py MANIFEST.json

MANIFEST: {"ids": [int, ...], "out": FILE, "cases": [{"name", "model": HF_DIR, "rope_parameters":
{...}, "max_position_embeddings": int, "window": W, "stride": S}, ...]}.
For each case, LlamaForCausalLM.from_pretrained(HF_DIR) in float32 (SDPA attention: memory
linear in W) with the case's rope_parameters and max_position_embeddings, and a fresh rotary
embedding for every forward (transformers' dynamic NTK keeps state between calls,
docs/interop.md), scores `ids` with the sliding-window protocol of docs/protocols.md as
tests/cli/oracle.py writes it (window W, stride S, each token scored once). Writes per case
{nll_sum, tokens, windows, ppl, inv_freq, attention_scaling} to FILE. A failure is one line on
stderr and exit 1.
"""
import copy
import json
import os
import sys

import torch
from transformers import LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.utils import logging

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli"))
from oracle import sliding_window  # noqa: E402


def main():
    if len(sys.argv) != 2:
        print("usage: long_window_reference.py MANIFEST.json", file=sys.stderr)
        return 2
    logging.set_verbosity_error()
    torch.set_num_threads(max(1, int(os.environ.get("E2LLM_TEST_THREADS", "1"))))
    with open(sys.argv[1], encoding="utf-8") as f:
        manifest = json.load(f)
    ids = manifest["ids"]
    models, out = {}, {}
    for case in manifest["cases"]:
        if case["model"] not in models:
            models[case["model"]] = LlamaForCausalLM.from_pretrained(case["model"], dtype=torch.float32,
                                                                     attn_implementation="sdpa").eval()
        model = models[case["model"]]
        config = copy.deepcopy(model.config)
        config.rope_parameters = case["rope_parameters"]
        config.max_position_embeddings = case["max_position_embeddings"]
        seen = {}

        def logprobs(seq):
            model.model.rotary_emb = LlamaRotaryEmbedding(config=config)  # fresh: dynamic NTK keeps state
            with torch.no_grad():
                logits = model(torch.tensor([seq], dtype=torch.long), use_cache=False).logits[0].double()
            lp = torch.log_softmax(logits[:-1], dim=-1).gather(1, torch.tensor(seq[1:])[:, None])[:, 0]
            rot = model.model.rotary_emb
            seen["inv_freq"] = rot.inv_freq.double().tolist()
            seen["attention_scaling"] = float(rot.attention_scaling)
            return lp.tolist()

        r = sliding_window(logprobs, ids, case["window"], case["stride"])
        out[case["name"]] = {"nll_sum": r["nll_sum"], "tokens": r["tokens"], "windows": r["windows"], "ppl": r["ppl"],
                             **seen}
    with open(manifest["out"], "w", encoding="utf-8") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:  # one line
        print(f"long_window_reference.py: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
              file=sys.stderr)
        sys.exit(1)
