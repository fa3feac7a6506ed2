#!/usr/bin/env python3
"""transformers' side of the real-model oracle test (tests/realmodel/test_real_model.cpp).

  hf_gguf_reference.py GGUF TEXT_FILE N OUT_DIR

Loads the GGUF with transformers (AutoModelForCausalLM with gguf_file=, which dequantizes every
tensor with the gguf package; float32) and its tokenizer (AutoTokenizer, gguf_file=), takes the
first N token ids of TEXT_FILE (no BOS: the tokenizer file adds none), and for each RoPE
variant runs one forward over them and writes to OUT_DIR:
  ids.json                    the N ids
  <variant>.logprobs.f32      log p(ids[i] | ids[<i]) for i = 1..N-1 (raw little-endian float32)
  <variant>.tail.f32          the full logits of the last 8 positions, [8, vocab]
  variants.json               per variant: the rope_parameters transformers used, its inv_freq
                              and attention scaling
Variants (L = 512 so that W = N = 2048 is 4L, and dynamic NTK is active): default, linear
(factor 4), dynamic (factor 4, max_position_embeddings 512: transformers' dynamic NTK grows
from max_position_embeddings, docs/interop.md), yarn (factor 4, original 512).
A failure is one line on stderr and exit 1.
"""
import json
import os
import sys

import numpy as np
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding
from transformers.utils import logging

L = 512
TAIL = 8


def variants(theta, max_pos):
    return {
        "default": ({"rope_type": "default", "rope_theta": theta}, max_pos),
        "linear": ({"rope_type": "linear", "factor": 4.0, "rope_theta": theta}, max_pos),
        "dynamic": ({"rope_type": "dynamic", "factor": 4.0, "rope_theta": theta}, L),
        "yarn": ({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": L, "rope_theta": theta},
                 max_pos),
    }


def main():
    if len(sys.argv) != 5:
        print("usage: hf_gguf_reference.py GGUF TEXT_FILE N OUT_DIR", file=sys.stderr)
        return 2
    gguf, text_file, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    torch.set_num_threads(max(1, int(os.environ.get("E2LLM_TEST_THREADS", "1"))))
    folder, name = os.path.dirname(gguf), os.path.basename(gguf)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    with open(text_file, encoding="utf-8") as f:
        ids = tok(f.read(), add_special_tokens=True)["input_ids"][:n]
    if len(ids) < n:
        raise SystemExit(f"hf_gguf_reference.py: {text_file} has only {len(ids)} tokens, need {n}")
    config = AutoConfig.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, config=config, dtype=torch.float32).eval()
    theta = config.rope_parameters["rope_theta"]
    report = {}
    x = torch.tensor([ids], dtype=torch.long)
    for vname, (params, max_pos) in variants(theta, config.max_position_embeddings).items():
        vc = AutoConfig.from_pretrained(folder, gguf_file=name)
        vc.rope_parameters = params
        vc.max_position_embeddings = max_pos
        model.model.rotary_emb = LlamaRotaryEmbedding(config=vc)  # fresh: dynamic NTK keeps state
        with torch.no_grad():
            logits = model(x).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        target = torch.tensor(ids[1:])
        lp = logp[:-1].gather(1, target[:, None])[:, 0]
        np.ascontiguousarray(lp.numpy().astype("<f4")).tofile(os.path.join(out, f"{vname}.logprobs.f32"))
        np.ascontiguousarray(logits[-TAIL:].numpy().astype("<f4")).tofile(os.path.join(out, f"{vname}.tail.f32"))
        rot = model.model.rotary_emb
        report[vname] = {"rope_parameters": params, "max_position_embeddings": max_pos,
                         "inv_freq": rot.inv_freq.double().tolist(), "attention_scaling": float(rot.attention_scaling)}
    with open(os.path.join(out, "ids.json"), "w", encoding="utf-8") as f:
        json.dump(ids, f)
    with open(os.path.join(out, "variants.json"), "w", encoding="utf-8") as f:
        json.dump(report, f)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:  # one line
        print(f"hf_gguf_reference.py: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        sys.exit(1)
