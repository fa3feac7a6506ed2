#!/usr/bin/env python3
"""The Hugging Face side of the transformers oracle test (tests/interop/test_hf_oracle.cpp).

  hf_logits.py MANIFEST.json

MANIFEST: {"cases": [{"name": ..., "model": DIR, "ids": [int, ...], "out": FILE}, ...]}.
For each case a fresh `LlamaForCausalLM.from_pretrained(DIR)` in float32 (fresh because
transformers' dynamic NTK keeps state between calls: its inv_freq grows with the longest
sequence seen, see docs/interop.md) runs one forward over `ids` at positions 0..len-1 and
writes the logits [len, vocab] as raw little-endian float32 to FILE. Next to the manifest it
writes hf_rope.json: per case the rope_parameters transformers resolved from config.json, and
the inv_freq and attention scaling its rotary embedding used in that forward, so that a
mismatch can be traced to the RoPE or to the rest of the model.

Exit 0 when every case ran; a failure is one line on stderr and exit 1.
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import LlamaForCausalLM
from transformers.utils import logging


def run_case(case):
    model = LlamaForCausalLM.from_pretrained(case["model"], dtype=torch.float32).eval()
    ids = torch.tensor([case["ids"]], dtype=torch.long)
    with torch.no_grad():
        logits = model(ids).logits[0]
    np.ascontiguousarray(logits.numpy().astype("<f4")).tofile(case["out"])
    rotary = model.model.rotary_emb
    return {"rope_parameters": model.config.rope_parameters,
            "max_position_embeddings": model.config.max_position_embeddings,
            "inv_freq": rotary.inv_freq.double().tolist(),
            "attention_scaling": float(rotary.attention_scaling)}


def main():
    if len(sys.argv) != 2:
        print("usage: hf_logits.py MANIFEST.json", file=sys.stderr)
        return 2
    logging.set_verbosity_error()  # "Unrecognized keys" warnings are expected (docs/interop.md)
    torch.set_num_threads(1)
    manifest_path = sys.argv[1]
    with open(manifest_path, encoding="utf-8") as f:
        manifest = json.load(f)
    report = {}
    for case in manifest["cases"]:
        try:
            report[case["name"]] = run_case(case)
        except Exception as e:  # one line naming the case
            print(f"hf_logits.py: case {case['name']} ({case['model']}): {type(e).__name__}: "
                  f"{str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
            return 1
    with open(os.path.join(os.path.dirname(manifest_path), "hf_rope.json"), "w", encoding="utf-8") as f:
        json.dump(report, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
