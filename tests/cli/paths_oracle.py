#!/usr/bin/env python3
"""Outside references for tests/cli/test_cli_paths.cpp (decode, a trained tokenizer, sampling).

Built on oracle.py's float64 numpy LLaMA and SentencePiece BPE (written from the GGUF's
tensors, pieces and scores); nothing here reads e2llm's code.

  paths_oracle.py decode GGUF IDS...
      the text of the ids from the GGUF's pieces (▁ is a space, <0xNN> a byte, the dummy
      prefix's leading space dropped); printed as JSON.
  paths_oracle.py spm-model MODEL TEXT_FILE
      reads a SentencePiece .model (its protobuf, parsed here from the wire format: pieces,
      scores, types, trainer_spec.model_type and vocab_size) and BPE-encodes the text with
      those pieces as SentencePiece does; JSON {vocab_size, model_type, pieces, ids}.
  paths_oracle.py sampling GGUF RUNS_JSON TEMPERATURE TOP_P
      RUNS_JSON: [{"prompt_ids": [...], "new_ids": [...]}, ...] as `e2llm generate --json`
      printed them. For every generated token, the numpy model's next-token distribution after
      the ids before it, at TEMPERATURE and cut to the nucleus (the smallest set of the most
      likely tokens whose mass reaches TOP_P, renormalised): whether the token is in it
      ("outside" lists those that are not, "borderline" those whose place in the nucleus
      depends on a mass within 1e-4 of TOP_P), and the sum over steps of log q(token), its
      expectation (minus the entropies) and variance under correct sampling; JSON.
  paths_oracle.py proofpile-debs DIR VARIANT
      oracle.py's three tiny stand-in packages and `apt-get`, broken as VARIANT says: ok,
      download-fails (apt-get exits 100), no-deb (it exits 0 and leaves nothing), corrupt-deb,
      no-copyright, licence-drift (pari-doc's free-text copyright no longer says "any later
      version"), free-text-copyright (hol-light's is not DEP-5 and no licence is declared for
      it), uncovered-file (no Files: paragraph covers a libcoq-stdlib file), layout-changed
      (pari-doc's documents moved).
"""
import copy
import json
import math
import os
import stat
import struct
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import oracle  # noqa: E402
from oracle import GgufLlama  # noqa: E402


def cmd_decode(gguf_path, *ids):
    m = GgufLlama(gguf_path)
    print(json.dumps(m.decode([int(i) for i in ids])))


# ---- SentencePiece .model (protobuf wire format; sentencepiece_model.proto field numbers)

def varint(buf, i):
    shift, value = 0, 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def fields(buf):
    """(field number, wire type, value) of a message: bytes for length-delimited, ints, floats."""
    i, out = 0, []
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(buf, i)
        elif wire == 1:
            value, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            value, i = buf[i:i + n], i + n
        elif wire == 5:
            value, i = struct.unpack("<f", buf[i:i + 4])[0], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


MODEL_TYPES = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}


def read_spm_model(path):
    with open(path, "rb") as f:
        buf = f.read()
    pieces, scores, types, trainer = [], [], [], {}
    for number, _, value in fields(buf):
        if number == 1:  # repeated SentencePiece {1: piece, 2: score, 3: type (default NORMAL = 1)}
            p = {1: b"", 2: 0.0, 3: 1}
            for n, _, v in fields(value):
                p[n] = v
            pieces.append(p[1].decode("utf-8"))
            scores.append(p[2])
            types.append(p[3])
        elif number == 2:  # TrainerSpec {3: model_type, 4: vocab_size}
            for n, _, v in fields(value):
                if n in (3, 4):
                    trainer[n] = v
    return pieces, scores, types, trainer


class SpmPieces:
    """The pieces of a .model in the shape oracle.py's SentencePiece BPE reads."""

    def __init__(self, pieces, scores, types):
        self.pieces, self.scores, self.types = pieces, scores, types

    encode = GgufLlama.encode
    decode = GgufLlama.decode


def cmd_spm_model(model_path, text_file):
    pieces, scores, types, trainer = read_spm_model(model_path)
    with open(text_file, encoding="utf-8") as f:
        text = f.read()
    ids = SpmPieces(pieces, scores, types).encode(text)
    print(json.dumps({"vocab_size": len(pieces), "trainer_vocab_size": trainer.get(4),
                      "model_type": MODEL_TYPES.get(trainer.get(3, 1)), "pieces": pieces, "ids": ids}))


# ---- sampling

def nucleus(logits, temperature, top_p):
    z = (logits - logits.max()) / temperature
    p = np.exp(z)
    p /= p.sum()
    order = np.argsort(-p, kind="stable")
    before = np.concatenate([[0.0], np.cumsum(p[order])[:-1]])  # mass of the tokens ahead of each
    keep = order[before < top_p]  # a token is in while the mass ahead of it is short of top_p
    margin = np.abs(before - top_p) < 1e-4
    q = np.zeros_like(p)
    q[keep] = p[keep] / p[keep].sum()
    return q, set(order[margin].tolist())


def cmd_sampling(gguf_path, runs_file, temperature, top_p):
    m = GgufLlama(gguf_path)
    temperature, top_p = float(temperature), float(top_p)
    with open(runs_file, encoding="utf-8") as f:
        runs = json.load(f)
    steps, outside, borderline = 0, [], 0
    total, expected, variance = 0.0, 0.0, 0.0
    for r, run in enumerate(runs):
        ids = list(run["prompt_ids"]) + list(run["new_ids"])
        logits = m.logits(np.array(ids))
        for k, token in enumerate(run["new_ids"]):
            q, border = nucleus(logits[len(run["prompt_ids"]) + k - 1], temperature, top_p)
            steps += 1
            if token in border:
                borderline += 1
            if q[token] == 0.0:
                if token not in border:
                    outside.append({"run": r, "step": k, "token": token})
                continue
            nz = q[q > 0]
            logq = np.log(nz)
            mean = float((nz * logq).sum())
            total += math.log(q[token])
            expected += mean
            variance += float((nz * logq * logq).sum()) - mean * mean
    print(json.dumps({"steps": steps, "outside": outside, "borderline": borderline, "sum_log_q": total,
                      "expected_sum_log_q": expected, "variance_sum_log_q": variance,
                      "z": (total - expected) / math.sqrt(variance) if variance > 0 else 0.0}))


# ---- broken stand-ins for `e2llm data proofpile`

def proofpile_packages(variant):
    """oracle.py's three tiny packages, broken as `variant` says; also what apt-get does."""
    packages = copy.deepcopy(oracle.PACKAGES)
    apt = "copy"
    if variant == "download-fails":
        apt = "fail"
    elif variant == "no-deb":
        apt = "nothing"
    elif variant == "no-copyright":
        packages["pari-doc"]["copyright"] = None
    elif variant == "licence-drift":  # GPL-2 only now: "or any later version" is gone
        packages["pari-doc"]["copyright"] = packages["pari-doc"]["copyright"].replace(
            "either version 2 of the License, or (at your option) any later version", "version 2 of the License")
    elif variant == "free-text-copyright":
        packages["hol-light"]["copyright"] = "HOL Light is copyright John Harrison and others.\n"
    elif variant == "uncovered-file":  # no `Files: *`: theories/Arith/* has no paragraph
        packages["libcoq-stdlib"]["copyright"] = packages["libcoq-stdlib"]["copyright"].replace(
            "Files: *", "Files: theories/Init/* theories/Lists/*")
    elif variant == "layout-changed":
        packages["pari-doc"]["root"] = "usr/share/doc/pari-doc/manual"
    elif variant not in ("ok", "corrupt-deb"):
        raise ValueError(f"unknown variant {variant}")
    return packages, apt


def cmd_proofpile_debs(out, variant):
    packages, apt = proofpile_packages(variant)
    os.makedirs(out, exist_ok=True)
    for name, spec in packages.items():
        tree = os.path.join(out, "tree-" + name)
        files = list(spec["files"].items())
        if spec["copyright"] is not None:
            files.append((None, spec["copyright"]))
        for rel, content in files:
            path = os.path.join(tree, "usr/share/doc", name, "copyright") if rel is None else \
                os.path.join(tree, spec["root"], rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(content if isinstance(content, bytes) else content.encode("utf-8"))
        os.makedirs(os.path.join(tree, "DEBIAN"), exist_ok=True)
        with open(os.path.join(tree, "DEBIAN", "control"), "w") as f:
            f.write(f"Package: {name}\nVersion: 1.0-test1\nArchitecture: all\nMaintainer: e2llm tests <t@example.org>\n"
                    f"Description: test stand-in for {name}\n")
        deb = os.path.join(out, f"{name}_1.0-test1_all.deb")
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", tree, deb], check=True,
                       stdout=subprocess.DEVNULL)
        if variant == "corrupt-deb" and name == "pari-doc":
            with open(deb, "wb") as f:
                f.write(b"this is not a Debian package\n")
    os.makedirs(os.path.join(out, "bin"), exist_ok=True)
    fake = os.path.join(out, "bin", "apt-get")
    action = {"copy": f"cp '{out}'/\"$2\"_*.deb .",
              "fail": "echo \"E: Unable to locate package $2\" >&2; exit 100",
              "nothing": "exit 0"}[apt]
    with open(fake, "w") as f:
        f.write(f"#!/bin/sh\n# test stand-in for apt-get download ({variant})\n[ \"$1\" = download ] || exit 1\n{action}\n")
    os.chmod(fake, os.stat(fake).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


COMMANDS = {"decode": cmd_decode, "spm-model": cmd_spm_model, "sampling": cmd_sampling,
            "proofpile-debs": cmd_proofpile_debs}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print("usage: paths_oracle.py decode|spm-model|sampling ...", file=sys.stderr)
        sys.exit(2)
    try:
        COMMANDS[sys.argv[1]](*sys.argv[2:])
    except Exception as e:  # one line
        print(f"paths_oracle.py {sys.argv[1]}: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
