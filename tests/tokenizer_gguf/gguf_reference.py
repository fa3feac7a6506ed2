#!/usr/bin/env python3
"""Oracles and test files for the gguf tokenizer plugin (tests/tokenizer_gguf).

  smollm2    transformers' GGUF tokenizer (AutoTokenizer.from_pretrained(folder, gguf_file=...))
             on the real SmolLM2 GGUF: OUT/cases.jsonl with, per text, the ids transformers
             gives ("ids"), the ids of the same tokenizer with the pre-tokenizer llama.cpp uses
             for pre = "smollm" ("ids_digits": each \\p{N} character its own piece, as the
             upstream SmolLM2 tokenizer.json's Digits(individual_digits) does), whether the
             two can differ on the text at all ("number_after_spaces"), and transformers'
             decode of "ids".
  encode     the same two id lists for each text of the JSON list --texts, printed as JSON.
  synthetic  a small byte-level tokenizer trained by `tokenizers` with the split regexes
             llama.cpp uses for one `pre` family, plus control and user-defined tokens,
             written as OUT/tokenizer.json and as a tokenizer-only GGUF (OUT/model.gguf, via
             gguf.GGUFWriter); OUT/cases.jsonl holds `tokenizers`' ids for the corpus.
  json       the same GGUF conversion and cases for an existing tokenizer.json (GPT-2).
  spm        the texts for the llama-vocabulary test (OUT/texts.jsonl) and a copy of a
             SentencePiece .model whose normalizer keeps whitespace as it is
             (remove_extra_whitespaces = false, what llama.cpp assumes for a GGUF).
  files      GGUFs for the fingerprint and error tests: SmolLM2's tokenizer keys alone
             (same fingerprint), one with a changed merge, and broken ones.

Control tokens are never matched in the text (llama.cpp's parse_special = false), so the
oracles encode with `encode_special_tokens = True`. Run with the project's .venv/bin/python.
"""
import argparse
import glob
import json
import os
import random
import sys
import unicodedata

import gguf
import numpy as np
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from tokenizers.trainers import BpeTrainer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tokenizer_json"))
import hf_reference  # noqa: E402  (the shared corpus: LongBench, licences, random Unicode)

CONTROL, USER_DEFINED, NORMAL = 3, 4, 1

# llama.cpp's regex lists per pre-tokenizer family (src/llama-vocab.cpp), applied one after
# another with matches and gaps as pieces: tokenizers' Split(..., "isolated"), then the byte
# map. The GPT-2 regex is written as llama.cpp writes it, without the final "|\s+".
GPT2_LLAMACPP = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
FAMILIES = {
    "gpt-2": [GPT2_LLAMACPP],
    "smollm": [r"\p{N}", GPT2_LLAMACPP],
    "llama-bpe": [hf_reference.LLAMA3_REGEX],
    "qwen2": [hf_reference.QWEN2_REGEX],
    "default": [r"[\p{P}\$\+<=>\^~\|]+", GPT2_LLAMACPP, r"\p{N}+", r"[0-9][0-9][0-9]"],
}
EXTRA_TOKENS = [("<|im_start|>", True), ("<|im_end|>", True), ("<think>", False), ("</think>", False),
                ("<|user_tool|>", False)]


def llamacpp_pre_tokenizer(family):
    return pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(r), behavior="isolated") for r in FAMILIES[family]] +
        [pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


def code_texts(limit=12):
    """Real source code from this machine (Python's library, C++ headers), whole files."""
    paths = sorted(glob.glob("/usr/lib/python3.11/*.py"))[:limit] + sorted(glob.glob("/usr/include/c++/12/bits/*.h"))[:limit]
    texts = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            texts.append(f.read())
    return texts


EXTRA_TEXTS = [
    "Héllo wörld, ça va? Ñandú. Þórr. İstanbul ıi. ß ẞ",
    "日本語のテキストと中文文本，还有한국어 텍스트。",
    "Emoji: 👩‍💻 🇫🇷 ❤️ 👍🏽 🙂🙃 👨‍👩‍👧‍👦",
    "RTL: שלום עולם, مرحبا بالعالم ٣٤٥ ۱۲۳ \u200f(mixed)\u200e",
    "digits 0 1 12 123 1234 12345 123456789012345678901234567890 3.14159 1,000,000 2024-01-01",
    "  leading and trailing  ", "\t\ttabs\tand\n\nnewlines\r\n\r\nCRLF", "a  b   c    d     e",
    " \n \t \u00a0 \u3000 mixed whitespace \u2028 \u2029 end", "    indented code\n\tif (x) {\n\t\treturn 1;\n\t}\n",
    "def f(x):\n    return x ** 2  # square\n\nprint(f(3))\n", "int main() { std::vector<int> v{1, 2, 3}; }",
    "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", "<think>reasoning</think> done <think>",
    "x<think>y</think>z", "<|endoftext|><s></s><unk>", "don't I'll we've they're she'd I'm it's DON'T",
    "superscripts ² ³ ½ Ⅻ ① ٣ ४ １２", "", " ", "\n", "a",
]


def corpus(longbench, proofpile):
    return hf_reference.corpus(longbench, proofpile) + code_texts() + EXTRA_TEXTS


def number_after_spaces(text):
    """Whether the text holds a \\p{N} character that is not ASCII, or one right after two or
    more whitespace characters: the only places where GPT-2's regex alone and llama.cpp's
    "\\p{N}, then GPT-2's regex" (pre = smollm) cut differently in a vocabulary without merges
    between digits (GPT-2 gives the last space of a run to the number; a number that is not
    ASCII is several bytes, which merges join to a space or to a neighbouring number)."""
    for i, c in enumerate(text):
        if unicodedata.category(c).startswith("N") and (ord(c) > 127 or (i >= 2 and text[i - 1].isspace()
                                                                          and text[i - 2].isspace())):
            return True
    return False


def write_cases(path, texts, encoders, decode, vocab_size, extra=None):
    """One JSON line per text: the ids of each encoder, decode(first encoder's ids); then 2000
    random id sequences with their decode."""
    rng = random.Random(7)
    with open(path, "w", encoding="utf-8") as out:
        for text in texts:
            case = {"text": text}
            for name, encode in encoders.items():
                case[name] = encode(text)
            case["decoded"] = decode(case[next(iter(encoders))])
            if extra:
                case.update(extra(text))
            out.write(json.dumps(case, ensure_ascii=False) + "\n")
        for _ in range(2000):
            ids = [rng.randrange(vocab_size) if rng.random() < 0.7 else rng.randrange(min(vocab_size, 300))
                   for _ in range(rng.randrange(0, 24))]
            out.write(json.dumps({"decode_ids": ids, "decoded": decode(ids)}, ensure_ascii=False) + "\n")


# ---- SmolLM2 through transformers --------------------------------------------------------------


def smollm2(args):
    from transformers import AutoTokenizer

    folder, name = os.path.split(os.path.abspath(args.gguf))
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    backend = tok.backend_tokenizer
    backend.encode_special_tokens = True  # control tokens are text (llama.cpp's parse_special = false)
    digits = Tokenizer.from_str(backend.to_str())
    digits.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    digits.encode_special_tokens = True
    meta = {"bos": tok.bos_token_id, "eos": tok.eos_token_id, "vocab": len(tok),
            "control": sorted(tok.all_special_ids), "add_bos": bool(getattr(tok, "add_bos_token", False))}
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f)
    write_cases(
        os.path.join(args.out, "cases.jsonl"), corpus(args.longbench, args.proofpile),
        {"ids": lambda t: backend.encode(t, add_special_tokens=False).ids,
         "ids_digits": lambda t: digits.encode(t, add_special_tokens=False).ids},
        lambda ids: tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False),
        len(tok), extra=lambda t: {"number_after_spaces": number_after_spaces(t)})


def encode(args):
    """For each text of the JSON list in --texts: transformers' ids ("ids", no special tokens
    added, none parsed) and those of the same tokenizer with llama.cpp's smollm pre-tokenizer
    ("ids_digits"), printed as a JSON list."""
    from transformers import AutoTokenizer

    folder, name = os.path.split(os.path.abspath(args.gguf))
    backend = AutoTokenizer.from_pretrained(folder, gguf_file=name).backend_tokenizer
    backend.encode_special_tokens = True
    digits = Tokenizer.from_str(backend.to_str())
    digits.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False)])
    digits.encode_special_tokens = True
    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)
    print(json.dumps([{"ids": backend.encode(t, add_special_tokens=False).ids,
                       "ids_digits": digits.encode(t, add_special_tokens=False).ids} for t in texts]))


# ---- tokenizer.json -> GGUF --------------------------------------------------------------------


def write_tokenizer_gguf(spec, path, pre, bos=None, eos=None, add_bos=None):
    """A tokenizer-only GGUF with llama.cpp's keys for the byte-level tokenizer.json `spec`."""
    vocab = dict(spec["model"]["vocab"])
    kinds = {}
    for t in spec["added_tokens"]:
        vocab[t["content"]] = t["id"]
        kinds[t["id"]] = CONTROL if t["special"] else USER_DEFINED
    tokens = [None] * len(vocab)
    for token, i in vocab.items():
        tokens[i] = token
    assert None not in tokens, "ids must be contiguous"
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]]
    w = gguf.GGUFWriter(path, "llama")
    w.add_tokenizer_model("gpt2")
    if pre is not None:
        w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types([kinds.get(i, NORMAL) for i in range(len(tokens))])
    w.add_token_merges(merges)
    if bos is not None:
        w.add_bos_token_id(bos)
    if eos is not None:
        w.add_eos_token_id(eos)
    if add_bos is not None:
        w.add_add_bos_token(add_bos)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def cases_for(tok, out_dir, args):
    tok.encode_special_tokens = True
    tok.no_truncation()  # GPT-2's file truncates at 1024 tokens
    tok.no_padding()
    write_cases(os.path.join(out_dir, "cases.jsonl"), corpus(args.longbench, args.proofpile),
                {"ids": lambda t: tok.encode(t, add_special_tokens=False).ids},
                lambda ids: tok.decode(ids, skip_special_tokens=True), tok.get_vocab_size(with_added_tokens=True))


def synthetic(args):
    family = args.family
    pre = None if family == "absent" else family
    tok = Tokenizer(models.BPE(ignore_merges=family == "llama-bpe"))  # llama.cpp: ignore_merges for Llama 3
    tok.pre_tokenizer = llamacpp_pre_tokenizer("default" if family == "absent" else family)
    tok.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(vocab_size=1500, special_tokens=["<|endoftext|>"],
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(hf_reference.licence_texts() + code_texts(), trainer=trainer)
    spec = json.loads(tok.to_str())
    next_id = max(spec["model"]["vocab"].values()) + 1
    for content, special in EXTRA_TOKENS:
        spec["added_tokens"].append(dict(id=next_id, content=content, single_word=False, lstrip=False, rstrip=False,
                                         normalized=False, special=special))
        next_id += 1
    path = os.path.join(args.out, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    write_tokenizer_gguf(spec, os.path.join(args.out, "model.gguf"), pre, bos=0, eos=0)
    cases_for(Tokenizer.from_file(path), args.out, args)


def from_json(args):
    with open(args.tokenizer, encoding="utf-8") as f:
        spec = json.load(f)
    write_tokenizer_gguf(spec, os.path.join(args.out, "model.gguf"), args.pre)
    cases_for(Tokenizer.from_file(args.tokenizer), args.out, args)


# ---- SentencePiece ---------------------------------------------------------------------------


def varint(data, i):
    value, shift = 0, 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, i


def encode_varint(n):
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def keep_spaces_copy(model_path, out_path):
    """The .model with normalizer_spec (ModelProto field 3) field 4, remove_extra_whitespaces,
    set to false; everything else byte for byte."""
    data, out, i = open(model_path, "rb").read(), bytearray(), 0
    while i < len(data):
        start = i
        key, i = varint(data, i)
        field, wire = key >> 3, key & 7
        if wire == 2:
            length, j = varint(data, i)
            i = j + length
            if field == 3:
                body = data[j:i] + bytes([0x20, 0x00])  # field 4, varint 0 (the last value wins)
                out += encode_varint(key) + encode_varint(len(body)) + body
                continue
        elif wire == 0:
            _, i = varint(data, i)
        elif wire == 5:
            i += 4
        elif wire == 1:
            i += 8
        else:
            sys.exit(f"{model_path}: unexpected protobuf wire type {wire}")
        out += data[start:i]
    with open(out_path, "wb") as f:
        f.write(out)


def spm(args):
    keep_spaces_copy(args.model, os.path.join(args.out, "keep-spaces.model"))
    extra = ["Once upon a time", " Once upon a time", "  two leading", "trailing  ", "many     spaces   here",
             "line\nbreak", "\n\nblank lines\n\n", "tab\there", "\u00e9t\u00e9 caf\u00e9 na\u00efve", "\u2581already",
             "<s>text</s>", "Lily's mom said, \"Lily, let's go to the park.\""]
    with open(os.path.join(args.out, "texts.jsonl"), "w", encoding="utf-8") as out:
        for text in corpus(args.longbench, args.proofpile) + extra:
            out.write(json.dumps({"text": text}, ensure_ascii=False) + "\n")


# ---- fingerprint and error files -------------------------------------------------------------


def copy_tokenizer_keys(reader, path, name, change=None, drop=()):
    """A GGUF with the tokenizer.* keys of `reader` (changed by `change`), another
    general.name and one tiny tensor: what another quantization of the model would carry."""
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(name)
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer.") or key in drop:
            continue
        value = field.contents()
        if change and key in change:
            value = change[key](value)
        sub = field.types[-1] if field.types[0] == gguf.GGUFValueType.ARRAY else None
        w.add_key_value(key, value, field.types[0], sub_type=sub)
    w.add_tensor("token_embd.weight", np.zeros((2, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def files(args):
    reader = gguf.GGUFReader(args.gguf)
    out = args.out
    copy_tokenizer_keys(reader, os.path.join(out, "same-tokenizer.gguf"), "another quantization")
    copy_tokenizer_keys(reader, os.path.join(out, "changed-merge.gguf"), "x",
                        change={"tokenizer.ggml.merges": lambda m: [m[1], m[0]] + m[2:]})
    bad = {
        "no-tokens": dict(drop=("tokenizer.ggml.tokens", "tokenizer.ggml.model")),
        "no-merges": dict(drop=("tokenizer.ggml.merges",)),
        "unknown-pre": dict(change={"tokenizer.ggml.pre": lambda v: "no-such-pre"}),
        "unknown-model": dict(change={"tokenizer.ggml.model": lambda v: "bert"}),
        "short-types": dict(change={"tokenizer.ggml.token_type": lambda v: v[:-1]}),
        "bos-out-of-range": dict(change={"tokenizer.ggml.bos_token_id": lambda v: 10 ** 6}),
        "duplicate-token": dict(change={"tokenizer.ggml.tokens": lambda v: [v[0], v[0]] + v[2:]}),
        "merge-not-in-vocab": dict(change={"tokenizer.ggml.merges": lambda m: ["zzzq qqzz"] + m}),
        "type-value": dict(change={"tokenizer.ggml.token_type": lambda v: [9] + v[1:]}),
    }
    for name, how in bad.items():
        copy_tokenizer_keys(reader, os.path.join(out, f"bad-{name}.gguf"), name, **how)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["smollm2", "encode", "synthetic", "json", "spm", "files"])
    ap.add_argument("--gguf")
    ap.add_argument("--family", choices=sorted(FAMILIES) + ["absent"])
    ap.add_argument("--tokenizer")
    ap.add_argument("--pre")
    ap.add_argument("--model")
    ap.add_argument("--texts")
    ap.add_argument("--longbench")
    ap.add_argument("--proofpile")
    ap.add_argument("--out")
    args = ap.parse_args()
    if args.mode != "encode":
        os.makedirs(args.out, exist_ok=True)
    {"smollm2": smollm2, "encode": encode, "synthetic": synthetic, "json": from_json, "spm": spm, "files": files}[args.mode](args)


if __name__ == "__main__":
    main()
