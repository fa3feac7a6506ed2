#!/usr/bin/env python3
"""Token ids of a text as transformers tokenizes it with a GGUF's own tokenizer.

  gguf_token_ids.py GGUF TEXT_FILE N OUT_JSON

Writes the first N ids of TEXT_FILE (AutoTokenizer.from_pretrained(folder, gguf_file=name);
special tokens as the tokenizer adds them: none for SmolLM2) to OUT_JSON as a JSON list.
A failure is one line on stderr and exit 1.
"""
import json
import os
import sys

from transformers import AutoTokenizer
from transformers.utils import logging


def main():
    if len(sys.argv) != 5:
        print("usage: gguf_token_ids.py GGUF TEXT_FILE N OUT_JSON", file=sys.stderr)
        return 2
    gguf, text_file, n, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    tok = AutoTokenizer.from_pretrained(os.path.dirname(gguf), gguf_file=os.path.basename(gguf))
    with open(text_file, encoding="utf-8") as f:
        ids = tok(f.read(), add_special_tokens=True)["input_ids"][:n]
    if len(ids) < n:
        raise SystemExit(f"gguf_token_ids.py: {text_file} has only {len(ids)} tokens, need {n}")
    with open(out, "w", encoding="utf-8") as f:
        json.dump(ids, f)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except SystemExit:
        raise
    except Exception as e:  # one line
        print(f"gguf_token_ids.py: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", file=sys.stderr)
        sys.exit(1)
