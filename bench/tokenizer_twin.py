#!/usr/bin/env python3
"""The Hugging Face `tokenizers` twin of tokenizer_bench: encode one text file on one thread
(RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false, set before the import), first on a
freshly loaded tokenizer (cold cache), then the best of --repeat more. Prints one JSON line.
  tokenizer_twin.py TOKENIZER_JSON TEXT_FILE [--repeat N]
"""
import json
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402


def main():
    path, text_file = sys.argv[1], sys.argv[2]
    repeat = int(sys.argv[sys.argv.index("--repeat") + 1]) if "--repeat" in sys.argv else 5
    tok = Tokenizer.from_file(path if path.endswith(".json") else os.path.join(path, "tokenizer.json"))
    tok.no_truncation()
    with open(text_file, encoding="utf-8") as f:
        text = f.read()

    def timed():
        start = time.perf_counter()
        ids = tok.encode(text, add_special_tokens=False).ids
        return time.perf_counter() - start, ids

    cold, ids = timed()
    warm = cold
    for _ in range(repeat):
        warm = min(warm, timed()[0])
    checksum = 0
    for i in ids:
        checksum = (checksum * 1000003 + i) % (1 << 64)
    print(json.dumps({"impl": "tokenizers", "tokenizer": path, "bytes": len(text.encode("utf-8")), "tokens": len(ids),
                      "checksum": checksum % 1000000007, "cold_s": cold, "warm_s": warm, "repeat": repeat}))


if __name__ == "__main__":
    main()
