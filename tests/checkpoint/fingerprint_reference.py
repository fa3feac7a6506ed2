#!/usr/bin/env python3
"""The checkpoint fingerprint of a GGUF file recomputed outside e2llm (tests/checkpoint/test_gguf.cpp).

  fingerprint_reference.py GGUF [FLIP_OFFSET]

The definition (formats/include/e2llm/formats/checkpoint.hpp): sha256 over the tensors in name
order of name, NUL, dtype name, NUL, shape (outermost first) as comma-separated decimals, NUL,
the sha256 hex of the tensor's stored bytes, newline — with Hugging Face tensor names. Here the
tensors and their raw bytes come from the gguf package's reader, and the names from the gguf
package's own Hugging Face <-> GGUF table (gguf.get_tensor_name_map, llama.cpp's). Prints JSON
{"fingerprint", "first_tensor_offset"} (the file offset of the first tensor's data; with
FLIP_OFFSET the fingerprint is of the file with that byte inverted, read from a copy in memory).
A failure is one line on stderr and exit 1.
"""
import hashlib
import json
import os
import sys
import tempfile

import gguf


def hf_names(blocks):
    names = ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"]
    for i in range(blocks):
        p = f"model.layers.{i}."
        names += [p + n + ".weight" for n in ("input_layernorm", "self_attn.q_proj", "self_attn.k_proj",
                                              "self_attn.v_proj", "self_attn.o_proj", "post_attention_layernorm",
                                              "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")]
    return names


def fingerprint(path):
    reader = gguf.GGUFReader(path)
    blocks = int(reader.fields["llama.block_count"].contents())
    table = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, blocks)
    to_hf = {}
    for name in hf_names(blocks):
        g = table.get_name(name, try_suffixes=(".weight",))
        if g is not None:
            to_hf[g] = name
    entries = []
    for t in reader.tensors:
        if t.name not in to_hf:
            raise ValueError(f"no Hugging Face name for GGUF tensor {t.name}")
        shape = ",".join(str(int(d)) for d in reversed(t.shape))  # GGUF lists the innermost dimension first
        digest = hashlib.sha256(t.data.tobytes()).hexdigest()
        entries.append((to_hf[t.name], t.tensor_type.name, shape, digest))
    h = hashlib.sha256()
    for name, dtype, shape, digest in sorted(entries):
        h.update(f"{name}\0{dtype}\0{shape}\0{digest}\n".encode())
    return h.hexdigest(), int(reader.tensors[0].data_offset)


def main():
    path = sys.argv[1]
    fp, offset = fingerprint(path)
    if len(sys.argv) > 2:
        flip = int(sys.argv[2])
        with open(path, "rb") as f:
            data = bytearray(f.read())
        data[flip] ^= 0xFF
        with tempfile.TemporaryDirectory() as d:
            copy = os.path.join(d, "flipped.gguf")
            with open(copy, "wb") as f:
                f.write(data)
            fp, _ = fingerprint(copy)
    print(json.dumps({"fingerprint": fp, "first_tensor_offset": offset}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # one line
        print(f"fingerprint_reference.py: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
