#!/usr/bin/env python3
"""The gguf package (llama.cpp's Python reference) as the oracle for e2llm's dequantization.

  quant_oracle.py cases OUT_DIR    writes OUT_DIR/quantized.gguf (tensors of all ten block types,
                                   written by gguf.GGUFWriter), OUT_DIR/expected.gguf (the same
                                   names as F32: gguf.quants.dequantize of each) and the refused
                                   files unreadable-type.gguf, unknown-type.gguf and
                                   partial-block.gguf; prints a JSON summary per type
  quant_oracle.py digests GGUF     prints, for every tensor of GGUF, its type, shape and the
                                   sha256 of gguf.quants.dequantize(...) as float32 bytes
  quant_oracle.py transformers GGUF OUT NAME...
                                   loads GGUF with transformers (AutoModelForCausalLM,
                                   gguf_file=, float32) and saves the named parameters (Hugging
                                   Face names and layout) to the safetensors file OUT

Types the package can quantize (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0) get tensors made by
gguf.quants.quantize from Gaussian values; every type also gets tensors of random block bytes
whose f16 scales are finite, of both signs, normal and subnormal, and one tensor whose scales
include inf and NaN. Run with the repository's .venv/bin/python.
"""
import hashlib
import json
import pathlib
import struct
import sys

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T

# Byte offsets of the f16 scales inside one block (ggml-common.h's block structs).
SCALES = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
QUANTIZABLE = [T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0]
# Shapes (outermost first) with the row counted in blocks: one block, several rows, 1-4
# dimensions, and 2^19 elements (e2llm splits that over threads).
SMALL_SHAPES = [(1,), (3, 2), (2, 3, 4), (2, 1, 2, 1)]


def shapes(qtype):
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    return SMALL_SHAPES + [(256, 2048 // block)]


def element_shape(qtype, blocks_shape):
    block, _ = gguf.GGML_QUANT_SIZES[qtype]
    return (*blocks_shape[:-1], blocks_shape[-1] * block)


def random_f16(rng, n, special=False):
    """Finite f16 scales: both signs, magnitudes from subnormal to large, some zeros."""
    mag = np.exp(rng.uniform(np.log(1e-7), np.log(3e3), n)).astype(np.float16)
    mag[rng.random(n) < 0.03] = 0
    sign = np.where(rng.random(n) < 0.5, -1, 1).astype(np.float16)
    v = mag * sign
    if special:
        v[rng.random(n) < 0.15] = np.float16(np.inf)
        v[rng.random(n) < 0.15] = -np.float16(np.inf)
        v[rng.random(n) < 0.15] = np.float16(np.nan)
    return v


def random_blocks(rng, qtype, n_blocks, special=False):
    _, size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for off in SCALES[qtype]:
        blocks[:, off:off + 2] = random_f16(rng, n_blocks, special).view(np.uint8).reshape(n_blocks, 2)
    return blocks


def scale_signs(qtype, blocks):
    """Number of blocks whose first f16 scale is negative."""
    d = blocks.reshape(-1, blocks.shape[-1])[:, SCALES[qtype][0]:SCALES[qtype][0] + 2].copy().view(np.float16)
    return int((d < 0).sum())


def cmd_cases(out_dir):
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(19)
    wq = gguf.GGUFWriter(str(out / "quantized.gguf"), "e2llm-quant-test")
    we = gguf.GGUFWriter(str(out / "expected.gguf"), "e2llm-quant-test")
    summary = {}
    for qtype in SCALES:
        s = summary.setdefault(qtype.name, {"tensors": 0, "elements": 0, "negative_scale_blocks": 0,
                                            "quantized_by_gguf": 0, "nonfinite": 0})
        _, size = gguf.GGML_QUANT_SIZES[qtype]
        cases = []
        for i, shape in enumerate(shapes(qtype)):
            n_blocks = int(np.prod(shape))
            raw = random_blocks(rng, qtype, n_blocks).reshape(*shape[:-1], shape[-1] * size)
            cases.append((f"{qtype.name}.random.{i}", raw, False))
            if qtype in QUANTIZABLE:
                values = rng.standard_normal(element_shape(qtype, shape)).astype(np.float32)
                values *= np.float32(10.0) ** rng.uniform(-4, 2, size=values.shape[:-1] + (1,)).astype(np.float32)
                cases.append((f"{qtype.name}.quantized.{i}", gguf.quants.quantize(values, qtype), True))
        raw = random_blocks(rng, qtype, 64, special=True).reshape(4, 16 * size)
        cases.append((f"{qtype.name}.nonfinite", raw, False))
        for name, raw, by_gguf in cases:
            assert raw.dtype == np.uint8
            with np.errstate(invalid="ignore"):  # inf * 0 in the non-finite case
                expected = gguf.quants.dequantize(raw, qtype)
            assert expected.dtype == np.float32 and expected.shape[:-1] == raw.shape[:-1]
            wq.add_tensor(name, raw, raw_dtype=qtype)
            we.add_tensor(name, expected)
            s["tensors"] += 1
            s["elements"] += int(expected.size)
            s["negative_scale_blocks"] += scale_signs(qtype, raw)
            s["quantized_by_gguf"] += int(by_gguf)
            s["nonfinite"] += int((~np.isfinite(expected)).sum())
    for w in (wq, we):
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    write_refused(out, rng)
    print(json.dumps(summary))


def patch_tensor_info(path, name, n_dims, type_value=None, dims=None):
    """Rewrites the type or dimensions of tensor `name` in a GGUF the package wrote. Its tensor
    info is: u64 name length, name, u32 n_dims, u64 dims[n_dims] (innermost first), u32 type."""
    b = bytearray(path.read_bytes())
    key = struct.pack("<Q", len(name)) + name.encode()
    at = b.index(key) + len(key)
    assert struct.unpack_from("<I", b, at)[0] == n_dims
    if dims is not None:
        struct.pack_into(f"<{n_dims}Q", b, at + 4, *dims)
    if type_value is not None:
        struct.pack_into("<I", b, at + 4 + 8 * n_dims, type_value)
    path.write_bytes(bytes(b))


def write_refused(out, rng):
    def one(file, name, raw, qtype):
        w = gguf.GGUFWriter(str(out / file), "e2llm-quant-test")
        w.add_tensor("fine.weight", np.zeros((2, 32), dtype=np.float32))
        w.add_tensor(name, raw, raw_dtype=qtype)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    # IQ2_XXS: a real ggml type (256 elements in 66 bytes) that e2llm does not read.
    one("unreadable-type.gguf", "blk.0.iq.weight", rng.integers(0, 256, (2, 66), dtype=np.uint8), T.IQ2_XXS)
    # A type number ggml does not define.
    one("unknown-type.gguf", "blk.0.odd.weight", random_blocks(rng, T.Q8_0, 4).reshape(2, 68), T.Q8_0)
    patch_tensor_info(out / "unknown-type.gguf", "blk.0.odd.weight", 2, type_value=99)
    # Q8_0 rows of 48 elements: one and a half blocks (the bytes of 2 x 64 elements stay).
    one("partial-block.gguf", "blk.0.half.weight", random_blocks(rng, T.Q8_0, 4).reshape(2, 68), T.Q8_0)
    patch_tensor_info(out / "partial-block.gguf", "blk.0.half.weight", 2, dims=(48, 2))


def cmd_digests(path):
    reader = gguf.GGUFReader(path)
    out = {}
    for t in reader.tensors:
        values = np.ascontiguousarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)
        out[t.name] = {"type": t.tensor_type.name, "shape": [int(d) for d in reversed(t.shape)],
                       "sha256": hashlib.sha256(values.tobytes()).hexdigest()}
    print(json.dumps(out))


def cmd_transformers(path, out, *names):
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM
    path = pathlib.Path(path)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    params = dict(model.named_parameters())
    save_file({n: params[n].detach().contiguous() for n in names}, out)


if __name__ == "__main__":
    commands = {"cases": cmd_cases, "digests": cmd_digests, "transformers": cmd_transformers}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(f"usage: {sys.argv[0]} cases OUT_DIR | digests GGUF | transformers GGUF OUT NAME...")
    commands[sys.argv[1]](*sys.argv[2:])
