#!/usr/bin/env python3
"""transformers' side of the real-model chat test (tests/realmodel/test_real_model_chat.cpp).

  hf_chat_reference.py GGUF MAX_NEW_TOKENS PROMPT...

Loads the GGUF with transformers (model and tokenizer with gguf_file=, float32), wraps each
PROMPT as the user's turn in the file's own chat template (apply_chat_template with
add_generation_prompt), decodes greedily up to MAX_NEW_TOKENS new tokens, and prints one JSON
object per prompt on stdout: {"ids": the reply's ids up to and without the end of turn,
"text": those ids decoded without special tokens}. The reply ends at the tokenizer's EOS or at
the template's end-of-turn token, whichever comes first. A failure is one line on stderr, exit 1.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging


def main():
    if len(sys.argv) < 4:
        print("usage: hf_chat_reference.py GGUF MAX_NEW_TOKENS PROMPT...", file=sys.stderr)
        return 2
    gguf, n = sys.argv[1], int(sys.argv[2])
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    torch.set_num_threads(max(1, int(os.environ.get("E2LLM_TEST_THREADS", "1"))))
    folder, name = os.path.dirname(gguf), os.path.basename(gguf)
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    stops = {tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")} - {None}
    for prompt in sys.argv[3:]:
        ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                      tokenize=True, return_dict=False)
        x = torch.tensor([ids])
        with torch.no_grad():
            out = model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=n, do_sample=False,
                                 eos_token_id=sorted(stops), pad_token_id=tok.eos_token_id)
        reply = out[0, len(ids):].tolist()
        for i, t in enumerate(reply):
            if t in stops:
                reply = reply[:i]
                break
        print(json.dumps({"ids": reply, "text": tok.decode(reply, skip_special_tokens=True)}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # one line, as the test expects
        print(f"hf_chat_reference.py: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        sys.exit(1)
