#!/usr/bin/env python3
"""transformers' side of the bfloat16 test (tests/interop/test_bf16.cpp).

  bf16_reference.py perplexity HF_DIR DTYPE GGUF TEXT_FILE WINDOW STRIDE
      sliding-window perplexity (docs/protocols.md, tests/cli/oracle.py's loop) of [BOS] +
      encode(text) (SentencePiece BPE from the GGUF's pieces, oracle.py) under
      LlamaForCausalLM.from_pretrained(HF_DIR) in DTYPE (float32 | bfloat16, SDPA attention:
      weights, activations and logits in that dtype, log-softmax in float64); JSON.
  bf16_reference.py greedy HF_DIR DTYPE PROMPT_IDS_JSON NEW_IDS_JSON
      teacher-forced over prompt + new ids: at each generated step, the logit of the token
      chosen, the largest logit, the bfloat16 spacing at that magnitude and the argmax; and
      transformers' own greedy continuation (model.generate, do_sample=False) of the prompt
      for as many tokens; JSON.
  bf16_reference.py save-bf16 HF_DIR OUT_DIR
      loads HF_DIR in float32, casts it to bfloat16 and saves it with save_pretrained
      (safetensors, BF16 tensors); prints the dtypes written.
A failure is one line on stderr and exit 1.
"""
import json
import math
import os
import sys

import torch
from transformers import LlamaForCausalLM
from transformers.utils import logging

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli"))
from oracle import GgufLlama, sliding_window  # noqa: E402

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def load(hf_dir, dtype):
    return LlamaForCausalLM.from_pretrained(hf_dir, dtype=DTYPES[dtype], attn_implementation="sdpa").eval()


def cmd_perplexity(hf_dir, dtype, gguf, text_file, window, stride):
    m = GgufLlama(gguf)
    with open(text_file, encoding="utf-8") as f:
        ids = [m.bos] + m.encode(f.read())
    model = load(hf_dir, dtype)

    def logprobs(seq):
        with torch.no_grad():
            logits = model(torch.tensor([seq]), use_cache=False).logits[0].double()
        return torch.log_softmax(logits[:-1], dim=-1).gather(1, torch.tensor(seq[1:])[:, None])[:, 0].tolist()

    r = sliding_window(logprobs, ids, int(window), int(stride))
    r["logits_dtype"] = str(model(torch.tensor([ids[:4]])).logits.dtype)
    print(json.dumps(r))


def bf16_spacing(x):
    # bfloat16 keeps 8 significant bits: values in [2^e, 2^(e+1)) are 2^(e-7) apart.
    return 2.0 ** (math.floor(math.log2(abs(x))) - 7) if x != 0 else 2.0 ** -133


def cmd_greedy(hf_dir, dtype, prompt_json, new_json):
    prompt, new = json.loads(prompt_json), json.loads(new_json)
    model = load(hf_dir, dtype)
    with torch.no_grad():
        logits = model(torch.tensor([prompt + new]), use_cache=False).logits[0].double()
        own = model.generate(torch.tensor([prompt]), max_new_tokens=len(new), do_sample=False, min_new_tokens=len(new),
                             pad_token_id=0)[0, len(prompt):].tolist()
    steps = []
    for k, token in enumerate(new):
        row = logits[len(prompt) + k - 1]
        top = float(row.max())
        steps.append({"chosen": float(row[token]), "max": top, "spacing": bf16_spacing(top),
                      "argmax": int(row.argmax())})
    print(json.dumps({"steps": steps, "own_greedy": own}))


def cmd_save_bf16(hf_dir, out_dir):
    model = LlamaForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    model = model.to(torch.bfloat16)
    model.save_pretrained(out_dir, safe_serialization=True)
    from safetensors import safe_open
    dtypes = set()
    with safe_open(os.path.join(out_dir, "model.safetensors"), framework="pt") as f:
        for k in f.keys():
            dtypes.add(str(f.get_tensor(k).dtype))
    print(json.dumps(sorted(dtypes)))


COMMANDS = {"perplexity": cmd_perplexity, "greedy": cmd_greedy, "save-bf16": cmd_save_bf16}

if __name__ == "__main__":
    logging.set_verbosity_error()
    torch.set_num_threads(1)
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print("usage: bf16_reference.py perplexity|greedy|save-bf16 ...", file=sys.stderr)
        sys.exit(2)
    try:
        COMMANDS[sys.argv[1]](*sys.argv[2:])
    except Exception as e:  # one line
        print(f"bf16_reference.py {sys.argv[1]}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
              file=sys.stderr)
        sys.exit(1)
