#!/usr/bin/env python3
"""Outside reference values for the CLI tests (tests/cli/test_cli_oracles.cpp).

Nothing here imports e2llm code or reads its output except where a subcommand says so
(`convert` reads the folder `e2llm convert` wrote, to check it). Every value is computed
from its definition:

  oracle.py encode GGUF TEXT_FILE
      the SentencePiece-BPE ids of the text (no BOS), from the GGUF's pieces and scores.
  oracle.py perplexity GGUF TEXT_FILE WINDOW STRIDE...
      sliding-window perplexity (docs/protocols.md) of [BOS] + encode(text) under a float64
      numpy LLaMA written from the GGUF tensors, for each stride; JSON per stride.
  oracle.py generate GGUF PROMPT N
      greedy continuation (recomputed from scratch every step), printed as the prompt
      followed by the decoded new tokens, stopping at BOS/EOS.
  oracle.py convert GGUF HF_DIR
      loads HF_DIR with transformers (LlamaForCausalLM) and safetensors, checks every tensor
      against the GGUF's (Q and K un-permuted from llama.cpp's layout) and the logits of a
      sequence against the numpy GGUF model; JSON with the largest differences.
  oracle.py convert-quantized GGUF HF_DIR
      loads HF_DIR with transformers (LlamaForCausalLM, float32) and checks some of its
      parameters against gguf.quants.dequantize of the quantized GGUF's tensors (Q and K
      un-permuted); JSON with the config, the tensors checked and whether each is bit for bit.
  oracle.py rope TYPE,FACTOR,HEAD_DIM,BASE,ORIGINAL,SEQ_LEN ...
      inv_freq and attention factor from transformers' ROPE_INIT_FUNCTIONS for each case
      (SEQ_LEN 0: none; "default" is the plain formula); a JSON list.
  oracle.py gguf-compare EXPORTED_GGUF REFERENCE_GGUF
      the exported file read by the gguf package: its metadata (tokenizer arrays left out),
      per tensor name whether type, shape and raw bytes equal the reference's, and the values
      of its rope_* tensors (llama.cpp's per-pair frequency divisors); JSON.
  oracle.py hf-perplexity GGUF TEXT_FILE HF_DIR...
      perplexity of [BOS] + encode(text) (the GGUF's vocabulary) in one forward of each
      HF_DIR loaded by transformers' LlamaForCausalLM, as that directory's config.json
      says; a JSON list of {ppl, tokens, rope_parameters, inv_freq, attention_scaling} (the
      rotary embedding as that forward used it).
  oracle.py data-debs DIR
      builds three tiny Debian packages named like the proofpile sources and an `apt-get`
      stand-in that "downloads" them, in DIR.
  oracle.py data-expect DIR SEED MAX_BYTES EVAL_FRACTION
      the rows train.jsonl and eval.jsonl must hold for those packages (docs/data-proofpile.md
      rules: sha256 selection order, first fit under max_bytes, sha256 split); JSON.
"""
import hashlib
import json
import math
import os
import stat
import subprocess
import sys

import numpy as np


# ---------------------------------------------------------------- GGUF model (llama.cpp layout)

def read_gguf(path):
    import gguf
    reader = gguf.GGUFReader(path)
    fields = {k: f.contents() for k, f in reader.fields.items()}
    tensors = {t.name: np.array(t.data, dtype=np.float64) for t in reader.tensors}
    return fields, tensors


class GgufLlama:
    def __init__(self, path):
        self.meta, self.w = read_gguf(path)
        m = self.meta
        self.dim = int(m["llama.embedding_length"])
        self.layers = int(m["llama.block_count"])
        self.heads = int(m["llama.attention.head_count"])
        self.kv_heads = int(m.get("llama.attention.head_count_kv", self.heads))
        self.eps = float(m["llama.attention.layer_norm_rms_epsilon"])
        self.base = float(m.get("llama.rope.freq_base", 10000.0))
        self.head_dim = self.dim // self.heads
        self.pieces = m["tokenizer.ggml.tokens"]
        self.scores = m["tokenizer.ggml.scores"]
        self.types = m["tokenizer.ggml.token_type"]
        self.bos = int(m["tokenizer.ggml.bos_token_id"])
        self.eos = int(m["tokenizer.ggml.eos_token_id"])

    def rms(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, positions):
        # llama.cpp's "normal" RoPE: adjacent pairs (x[2i], x[2i+1]) turn by pos * base^(-2i/d).
        d = self.head_dim
        inv = self.base ** (-np.arange(0, d, 2) / d)
        ang = positions[:, None] * inv[None, :]  # [T, d/2]
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        a, b = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = a * cos - b * sin
        out[..., 1::2] = a * sin + b * cos
        return out

    def logits(self, ids):
        w, T, d = self.w, len(ids), self.head_dim
        x = w["token_embd.weight"][ids]
        pos = np.arange(T, dtype=np.float64)
        mask = np.triu(np.full((T, T), -np.inf), 1)
        group = self.heads // self.kv_heads
        for i in range(self.layers):
            p = f"blk.{i}."
            h = self.rms(x, w[p + "attn_norm.weight"])
            q = self.rope((h @ w[p + "attn_q.weight"].T).reshape(T, self.heads, d), pos)
            k = self.rope((h @ w[p + "attn_k.weight"].T).reshape(T, self.kv_heads, d), pos)
            v = (h @ w[p + "attn_v.weight"].T).reshape(T, self.kv_heads, d)
            k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
            s = np.einsum("thd,shd->hts", q, k) / math.sqrt(d) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            o = np.einsum("hts,shd->thd", s, v).reshape(T, self.dim)
            x = x + o @ w[p + "attn_output.weight"].T
            h = self.rms(x, w[p + "ffn_norm.weight"])
            g = h @ w[p + "ffn_gate.weight"].T
            x = x + ((g / (1.0 + np.exp(-g))) * (h @ w[p + "ffn_up.weight"].T)) @ w[p + "ffn_down.weight"].T
        x = self.rms(x, w["output_norm.weight"])
        return x @ w.get("output.weight", w["token_embd.weight"]).T

    def logprobs(self, ids):
        """log p(ids[t] | ids[:t]) for t = 1 .. len(ids)-1."""
        z = self.logits(ids)[:-1]
        z = z - z.max(axis=-1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=-1))
        return z[np.arange(len(ids) - 1), ids[1:]] - lse

    # SentencePiece BPE encoding: dummy prefix, spaces as U+2581, characters as initial pieces
    # (byte pieces for characters outside the vocabulary), then repeatedly merge the adjacent
    # pair whose concatenation is a normal piece of highest score (leftmost on ties).
    def encode(self, text):
        normal = {p: (self.scores[i], i) for i, p in enumerate(self.pieces) if self.types[i] == 1}
        parts = list("\u2581" + text.replace(" ", "\u2581"))
        while True:
            best = None
            for j in range(len(parts) - 1):
                merged = parts[j] + parts[j + 1]
                if merged in normal and (best is None or normal[merged][0] > best[0]):
                    best = (normal[merged][0], j)
            if best is None:
                break
            j = best[1]
            parts[j:j + 2] = [parts[j] + parts[j + 1]]
        ids = []
        for p in parts:
            if p in normal:
                ids.append(normal[p][1])
            else:
                ids += [self.pieces.index("<0x%02X>" % b) for b in p.encode("utf-8")]
        return ids

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            p = self.pieces[i]
            if self.types[i] == 6:
                out.append(int(p[3:5], 16))
            elif self.types[i] == 1:
                out += p.replace("\u2581", " ").encode("utf-8")
        text = out.decode("utf-8", errors="replace")
        return text[1:] if text.startswith(" ") else text


def sliding_window(logprob_fn, ids, window, stride):
    """docs/protocols.md: window k starts at b_k = min(k S, end_{k-1} - 1) (b_0 = 0), covers
    [b_k, min(b_k + W, n)) and scores [max(end_{k-1}, b_k + 1), end_k); the last window is the
    first that reaches n."""
    n = len(ids)
    nll, scored, windows, window_means, prev_end = 0.0, 0, 0, [], 0
    for k in range(n):
        # Window k starts at k*S, but at most one token before the previous end, so that its
        # first scored token has context in the window (S = W would leave it none).
        begin = 0 if k == 0 else min(k * stride, prev_end - 1)
        end = min(begin + window, n)
        lp = logprob_fn(ids[begin:end])  # lp[t - begin - 1] = log p(ids[t] | ids[begin:t])
        first = max(prev_end, begin + 1)
        assert first > begin
        part = [-lp[t - begin - 1] for t in range(first, end)]
        nll += sum(part)
        scored += len(part)
        windows += 1
        window_means.append(sum(part) / len(part))
        prev_end = end
        if end == n:
            break
    return {"stride": stride, "nll_sum": nll, "tokens": scored, "windows": windows, "ppl": math.exp(nll / scored),
            "ppl_mean_of_window_means": math.exp(sum(window_means) / len(window_means))}


# ---------------------------------------------------------------- subcommands

def cmd_encode(gguf_path, text_file):
    m = GgufLlama(gguf_path)
    print(json.dumps(m.encode(open(text_file, encoding="utf-8").read())))


def cmd_perplexity(gguf_path, text_file, window, *strides):
    m = GgufLlama(gguf_path)
    ids = [m.bos] + m.encode(open(text_file, encoding="utf-8").read())
    cache = {}

    def logprobs(seq):
        key = tuple(seq)
        if key not in cache:
            cache[key] = m.logprobs(np.array(seq))
        return cache[key]

    out = {"n": len(ids), "results": [sliding_window(logprobs, ids, int(window), int(s)) for s in strides]}
    print(json.dumps(out))


def cmd_generate(gguf_path, prompt, n):
    m = GgufLlama(gguf_path)
    ids = [m.bos] + (m.encode(prompt) if prompt else [])
    start = len(ids)
    for _ in range(int(n)):
        nxt = int(np.argmax(m.logits(np.array(ids))[-1]))
        if nxt in (m.bos, m.eos):
            break
        ids.append(nxt)
    # The continuation as part of the whole text (a space that starts it is kept).
    whole, head = m.decode(ids[1:]), m.decode(ids[1:start])
    sys.stdout.write(prompt + whole[len(head):] + "\n")


def unpermute(w, heads):
    # llama.cpp's converter stores HF rows (per head: first half, second half) interleaved;
    # undo: rows of each head (d/2 pairs of 2) -> (2 halves of d/2).
    rows = w.shape[0]
    return w.reshape(heads, rows // heads // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def cmd_convert(gguf_path, hf_dir):
    import torch
    from safetensors.numpy import load_file
    from transformers import LlamaForCausalLM
    m = GgufLlama(gguf_path)
    cfg = json.load(open(os.path.join(hf_dir, "config.json")))
    st = {}
    for name in sorted(os.listdir(hf_dir)):
        if name.endswith(".safetensors"):
            st.update(load_file(os.path.join(hf_dir, name)))
    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    per_layer = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
                 "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
                 "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
    for i in range(m.layers):
        for g, h in per_layer.items():
            names[f"blk.{i}.{g}.weight"] = f"model.layers.{i}.{h}.weight"
    worst, missing = 0.0, []
    for g, h in names.items():
        if h not in st:
            missing.append(h)
            continue
        expect = m.w[g]
        if ".attn_q." in g:
            expect = unpermute(expect, m.heads)
        elif ".attn_k." in g:
            expect = unpermute(expect, m.kv_heads)
        got = st[h].astype(np.float64)
        if got.shape != expect.shape:
            missing.append(f"{h} shape {got.shape} != {expect.shape}")
            continue
        worst = max(worst, float(np.abs(got - expect).max()))
    model = LlamaForCausalLM.from_pretrained(hf_dir, torch_dtype=torch.float32).eval()
    ids = [m.bos] + m.encode("Once upon a time, there was a little dog named Max. He liked to run in the sun.")
    with torch.no_grad():
        hf_logits = model(torch.tensor([ids])).logits[0].double().numpy()
    ref = m.logits(np.array(ids))
    print(json.dumps({"tensor_max_abs_diff": worst, "tensors_checked": len(names) - len(missing), "missing": missing,
                      "logits_max_abs_diff": float(np.abs(hf_logits - ref).max()),
                      "logits_max_abs": float(np.abs(ref).max()), "config": cfg}))


def cmd_convert_quantized(gguf_path, hf_dir):
    import gguf
    import torch
    from transformers import LlamaForCausalLM
    reader = gguf.GGUFReader(gguf_path)
    meta = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("tokenizer.")}
    heads, kv_heads = int(meta["llama.attention.head_count"]), int(meta["llama.attention.head_count_kv"])
    tensors = {t.name: t for t in reader.tensors}
    model = LlamaForCausalLM.from_pretrained(hf_dir, dtype=torch.float32)
    params = dict(model.named_parameters())
    last = int(meta["llama.block_count"]) - 1
    pairs = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
             "blk.0.attn_q.weight": "model.layers.0.self_attn.q_proj.weight",
             "blk.0.attn_k.weight": "model.layers.0.self_attn.k_proj.weight",
             "blk.0.ffn_down.weight": "model.layers.0.mlp.down_proj.weight",
             f"blk.{last}.attn_q.weight": f"model.layers.{last}.self_attn.q_proj.weight",
             f"blk.{last}.attn_v.weight": f"model.layers.{last}.self_attn.v_proj.weight"}
    checked = {}
    for g, h in pairs.items():
        t = tensors[g]
        expect = gguf.quants.dequantize(t.data, t.tensor_type)
        if ".attn_q." in g:
            expect = unpermute(expect, heads)
        elif ".attn_k." in g:
            expect = unpermute(expect, kv_heads)
        got = params[h].detach().numpy()
        checked[h] = {"gguf_type": t.tensor_type.name,
                      "bit_for_bit": bool(got.shape == expect.shape and
                                          np.array_equal(got.view(np.uint32), expect.view(np.uint32)))}
    print(json.dumps({"checked": checked, "config": json.load(open(os.path.join(hf_dir, "config.json"))),
                      "files": sorted(os.listdir(hf_dir))}))


def rope_case(rope_type, factor, head_dim, base, original, seq_len):
    from transformers import LlamaConfig
    from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
    head_dim, original, seq_len = int(head_dim), int(original), int(seq_len)
    if rope_type == "default":
        inv = 1.0 / (float(base) ** (np.arange(0, head_dim, 2, dtype=np.int64).astype(np.float64) / head_dim))
        return {"inv_freq": inv.tolist(), "attention_factor": 1.0}
    params = {"rope_type": rope_type, "rope_theta": float(base), "factor": float(factor)}
    if rope_type == "yarn":
        params["original_max_position_embeddings"] = original
    config = LlamaConfig(hidden_size=head_dim * 4, num_attention_heads=4, head_dim=head_dim,
                         max_position_embeddings=original, rope_parameters=params)
    kwargs = {"seq_len": seq_len} if seq_len > 0 else {}
    inv, attention = ROPE_INIT_FUNCTIONS[rope_type](config, "cpu", **kwargs)
    return {"inv_freq": inv.double().tolist(), "attention_factor": float(attention)}


def cmd_rope(*cases):
    """Each case TYPE,FACTOR,HEAD_DIM,BASE,ORIGINAL,SEQ_LEN (SEQ_LEN 0 = none); a JSON list."""
    print(json.dumps([rope_case(*c.split(",")) for c in cases]))


# Three tiny packages named like the corpus sources (tasks/proofpile/src/corpus_builder.cpp):
# files under each package's document folder, some with other extensions or empty (not
# documents), one not UTF-8 (skipped), and copyright files of both kinds.
PACKAGES = {
    "pari-doc": {
        "root": "usr/share/pari/doc",
        "files": {"usersch1.tex": "\\chapter{Overview}\nPARI/GP is a computer algebra system.\n" * 3,
                  "refcard.tex": "\\section{Reference card}\n$x^2 + y^2 = z^2$\n",
                  "develop.tex": "\\chapter{Developer}\nLibpari internals, caf\u00e9 na\u00efve.\n" * 2,
                  "empty.tex": "", "README": "not a document\n"},
        "copyright": "This package was debianized.\nPARI/GP is free software; you can redistribute it under the "
                     "terms of the GNU General Public License as published by the Free Software Foundation; "
                     "either version 2 of the License, or (at your option) any later version.\n",
    },
    "hol-light": {
        "root": "usr/share/hol-light",
        "files": {"lib.ml": "let rec itlist f l b = match l with [] -> b | (h::t) -> f h (itlist f t b);;\n" * 4,
                  "Jordan/float.ml": "let float_thm = prove(`&1 + &1 = &2`, REAL_ARITH_TAC);;\n" * 2,
                  "Examples/pell.hl": "(* Pell's equation *)\nlet PELL = new_definition `pell d x y = x*x = d*y*y + 1`;;\n",
                  "latin1.ml": b"(* caf\xe9 *)\n", "notes.txt": "not a document\n"},
        "copyright": "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
                     "Upstream-Name: hol-light\n\nFiles: *\nCopyright: 1998 John Harrison\nLicense: BSD-2-clause\n\n"
                     "Files: Jordan/float.ml\nCopyright: 2008 Thomas Hales\nLicense: GPL-3\n\n"
                     "License: BSD-2-clause\n Redistribution permitted.\n\nLicense: GPL-3\n See GPL-3.\n",
    },
    "libcoq-stdlib": {
        "root": "usr/lib/ocaml/coq",
        "files": {"theories/Init/Logic.v": "Inductive True : Prop := I : True.\nInductive False : Prop :=.\n" * 3,
                  "theories/Arith/PeanoNat.v": "Theorem add_0_r : forall n, n + 0 = n.\nProof. induction n; auto. Qed.\n",
                  "theories/Lists/List.v": "Fixpoint length {A} (l : list A) := match l with nil => 0 | _ :: l' => S (length l') end.\n" * 2},
        "copyright": "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
                     "Upstream-Name: coq\n\nFiles: *\nCopyright: INRIA\nLicense: LGPL-2.1\n\n"
                     "License: LGPL-2.1\n See LGPL-2.1.\n",
    },
}


def cmd_data_debs(out):
    os.makedirs(out, exist_ok=True)
    for name, spec in PACKAGES.items():
        tree = os.path.join(out, "tree-" + name)
        for rel, content in list(spec["files"].items()) + [(None, spec["copyright"])]:
            path = os.path.join(tree, "usr/share/doc", name, "copyright") if rel is None else \
                os.path.join(tree, spec["root"], rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content if isinstance(content, bytes) else content.encode("utf-8"))
        os.makedirs(os.path.join(tree, "DEBIAN"), exist_ok=True)
        with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
            f.write(f"Package: {name}\nVersion: 1.0-test1\nArchitecture: all\nMaintainer: e2llm tests <t@example.org>\n"
                    f"Description: test stand-in for {name}\n")
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree,
                        os.path.join(out, f"{name}_1.0-test1_all.deb")], check=True, stdout=subprocess.DEVNULL)
    os.makedirs(os.path.join(out, "bin"), exist_ok=True)
    fake = os.path.join(out, "bin", "apt-get")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\n# test stand-in: apt-get download PKG copies the test's PKG .deb here\n"
                f"[ \"$1\" = download ] && cp '{out}'/\"$2\"_*.deb . \n")
    os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def cmd_data_expect(seed, max_bytes, eval_fraction):
    licenses = {"pari-doc": lambda p: "GPL-2+", "libcoq-stdlib": lambda p: "LGPL-2.1",
                "hol-light": lambda p: "GPL-3" if p.endswith("Jordan/float.ml") else "BSD-2-clause"}
    exts = {"pari-doc": (".tex",), "hol-light": (".ml", ".hl"), "libcoq-stdlib": (".v",)}
    candidates = []
    for name, spec in PACKAGES.items():
        for rel, content in spec["files"].items():
            data = content if isinstance(content, bytes) else content.encode("utf-8")
            if not data or os.path.splitext(rel)[1] not in exts[name]:
                continue
            path = spec["root"] + "/" + rel
            key = hashlib.sha256(f"{seed}|{name}|{path}".encode()).hexdigest()
            candidates.append((key, name, path, data))
    candidates.sort()
    rows = {"train": [], "eval": []}
    total, skipped = 0, 0
    for _, name, path, data in candidates:
        if total + len(data) > int(max_bytes):
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            skipped += 1
            continue
        split = "eval" if int(hashlib.sha256(f"{name}|{path}".encode()).hexdigest()[:8], 16) < \
            float(eval_fraction) * 2 ** 32 else "train"
        rows[split].append({"text": text, "meta": {"source_package": name, "package_version": "1.0-test1",
                                                   "path": "/" + path, "license": licenses[name](path),
                                                   "split": split}})
        total += len(data)
    print(json.dumps({"train": rows["train"], "eval": rows["eval"], "bytes": total, "skipped_not_utf8": skipped}))


def cmd_gguf_compare(exported, reference):
    import gguf
    got, ref = gguf.GGUFReader(exported), gguf.GGUFReader(reference)
    fields = {k: f.contents() for k, f in got.fields.items()
              if k not in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type")}
    vocab = {k: got.fields[k].contents() == ref.fields[k].contents()
             for k in ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type")
             if k in got.fields and k in ref.fields}
    ref_tensors = {t.name: t for t in ref.tensors}
    tensors = {}
    for t in got.tensors:
        r = ref_tensors.get(t.name)
        tensors[t.name] = bool(r is not None and t.tensor_type == r.tensor_type
                               and list(t.shape) == list(r.shape)
                               and bytes(np.asarray(t.data).tobytes()) == bytes(np.asarray(r.data).tobytes()))
    missing = sorted(set(ref_tensors) - set(tensors))
    rope = {t.name: np.asarray(t.data, dtype=np.float64).tolist() for t in got.tensors if t.name.startswith("rope_")}
    print(json.dumps({"fields": fields, "vocabulary_equal": vocab, "tensors_equal": tensors, "missing": missing,
                      "rope_tensors": rope}, default=str))


def cmd_hf_perplexity(gguf_path, text_file, *hf_dirs):
    import torch
    from transformers import LlamaForCausalLM
    m = GgufLlama(gguf_path)
    ids = [m.bos] + m.encode(open(text_file, encoding="utf-8").read())
    out = []
    for d in hf_dirs:
        model = LlamaForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0].double()
        lp = torch.log_softmax(logits[:-1], dim=-1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
        rotary = model.model.rotary_emb  # as that forward used it
        out.append({"ppl": math.exp(-float(lp.mean())), "tokens": len(ids) - 1,
                    "rope_parameters": getattr(model.config, "rope_parameters", None),
                    "inv_freq": rotary.inv_freq.double().tolist(),
                    "attention_scaling": float(rotary.attention_scaling)})
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    commands = {"encode": cmd_encode, "perplexity": cmd_perplexity, "generate": cmd_generate,
                "convert": cmd_convert, "convert-quantized": cmd_convert_quantized, "rope": cmd_rope, "data-debs": cmd_data_debs,
                "data-expect": cmd_data_expect, "gguf-compare": cmd_gguf_compare,
                "hf-perplexity": cmd_hf_perplexity}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit("usage: oracle.py " + "|".join(commands) + " ...")
    commands[sys.argv[1]](*sys.argv[2:])
