#!/usr/bin/env python3
"""transformers' side of tests/rope/test_rope_transformers.cpp.

  hf_rope_init.py MANIFEST.json

MANIFEST: {"cases": [{"name": ..., "config": {config.json fields}, "seq_len": n}, ...]}.
Each case's config is written to a config.json and loaded with
AutoConfig.from_pretrained, as transformers reads a model folder (model_type "llama" unless
the case names another, e.g. "phi3", whose config maps Phi-3's legacy "su" to longrope); the inverse frequencies
and the attention factor come from ROPE_INIT_FUNCTIONS[rope_type](config, "cpu",
seq_len=n) (no seq_len when n is 0). Prints {"name": {"rope_type", "inv_freq",
"attention_factor"}} as JSON. A failure is one line on stderr and exit 1.
"""
import json
import os
import sys
import tempfile


def run_case(case):
    from transformers import AutoConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as f:
            json.dump(dict({"model_type": "llama"}, **case["config"]), f)
        config = AutoConfig.from_pretrained(folder)
    rope_type = config.rope_parameters["rope_type"]
    kwargs = {"seq_len": case["seq_len"]} if case["seq_len"] > 0 else {}
    inv, attention = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu", **kwargs)
    return {"rope_type": rope_type, "inv_freq": inv.double().tolist(), "attention_factor": float(attention)}


def main():
    if len(sys.argv) != 2:
        print("usage: hf_rope_init.py MANIFEST.json", file=sys.stderr)
        return 2
    from transformers.utils import logging
    logging.set_verbosity_error()  # the longrope "set factor instead" advice is expected
    with open(sys.argv[1], encoding="utf-8") as f:
        manifest = json.load(f)
    out = {}
    for case in manifest["cases"]:
        try:
            out[case["name"]] = run_case(case)
        except Exception as e:  # one line naming the case
            print(f"hf_rope_init.py: case {case['name']}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}",
                  file=sys.stderr)
            return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
