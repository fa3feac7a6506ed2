#!/usr/bin/env python3
"""The Hugging Face `tokenizers` package as the oracle of the hf-json tokenizer plugin.

Writes OUT/cases.jsonl: one JSON object per line, either
  {"text": T, "ids": tokenizer.encode(T, add_special_tokens=False).ids,
   "decoded": tokenizer.decode(ids, skip_special_tokens=True)}
or, for id sequences drawn at random (byte tokens that do not form UTF-8, special tokens),
  {"decode_ids": IDS, "decoded": tokenizer.decode(IDS, skip_special_tokens=True)}.

The texts: the LongBench rows given with --longbench (paragraphs and whole contexts), source
text of the kinds Proof-Pile holds — LaTeX, OCaml and Coq proofs — from the stand-in packages of
tests/cli/oracle.py and the repository's own code and documentation given with --code (C++,
Python, Markdown with formulas), the Debian licence texts in /usr/share/common-licenses, and
seeded random Unicode strings. Every source is required: one that is missing or empty is an
error (exit 1), never a smaller test.

--tokenizer names a tokenizer.json. --synthetic NAME instead trains a small tokenizer of a
family that no committed file covers (llama3, qwen2, digits, metaspace), on the licence
texts, and writes it to OUT/tokenizer.json first.
"""
import argparse
import glob
import json
import os
import random
import sys
import unicodedata

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, Regex
from tokenizers.trainers import BpeTrainer

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")

# Characters the random strings draw from, by kind (all assigned since Unicode 6 or earlier,
# so every Unicode version in play agrees on their categories).
POOLS = {
    "ascii": [chr(c) for c in range(0x20, 0x7F)],
    "space": list("\t\n\r\x0b\x0c \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2009\u200a\u2028\u2029\u202f\u205f\u3000"),
    "control": [chr(c) for c in list(range(0x00, 0x20)) + list(range(0x7F, 0xA0))] + ["\u200b", "\u200e", "\u200f",
                                                                                       "\ufeff", "\u2066", "\u2069"],
    "latin": [chr(c) for c in range(0xC0, 0x250)],
    "combining": [chr(c) for c in range(0x300, 0x370)] + ["\u0488", "\u20dd", "\u0903"],
    "greek_cyrillic": [chr(c) for c in list(range(0x391, 0x3CA)) + list(range(0x410, 0x450))],
    "rtl": [chr(c) for c in list(range(0x5D0, 0x5EB)) + list(range(0x620, 0x64B)) + list(range(0x660, 0x66A))],
    "indic_thai": [chr(c) for c in list(range(0x905, 0x940)) + list(range(0x966, 0x970)) + list(range(0xE01, 0xE3A))],
    "cjk": [chr(c) for c in list(range(0x4E00, 0x4F00)) + list(range(0x3041, 0x3097)) + list(range(0xAC00, 0xAC80))],
    "emoji": [chr(c) for c in list(range(0x1F600, 0x1F650)) + list(range(0x1F300, 0x1F330))] +
             ["\u200d", "\ufe0f", "\U0001F3FB", "\U0001F1EB\U0001F1F7", "\U0001F469\u200d\U0001F4BB", "\u2764\ufe0f"],
    "numbers": list("0123456789") + ["\u0663", "\u06F5", "\u0967", "\uFF11", "\u00B2", "\u00BD", "\u2163", "\u2460",
                                     "\U0001D7D9", "\u3007"],
    "punct": list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["\u2014", "\u2026", "\u00AB", "\u00BB", "\u201C", "\u3002",
                                                           "\u00BF", "\u2019", "\u00A9", "\u20AC", "\u2581"],
    "contraction": ["'s", "'S", "'t", "'T", "'re", "'RE", "'Re", "'ve", "'VE", "'m", "'M", "'ll", "'LL", "'lL", "'d",
                    "'D", "'\u017f", "'x", "''s", " 's"],
    "special": ["<s>", "</s>", "<unk>", "<|endoftext|>", "<|begin_of_text|>", "<|end_of_text|>", "[PAD]", "<0x41>",
                "[lstrip]", "[rstrip]", "word", "<pad>"],
}


def random_code_point(rng):
    """Any assigned, non-surrogate code point (by Python's Unicode tables)."""
    while True:
        cp = rng.randrange(0x20, 0x30000) if rng.random() < 0.9 else rng.randrange(0x30000, 0x110000)
        ch = chr(cp)
        if unicodedata.category(ch) not in ("Cs", "Cn"):
            return ch


def random_strings(seed, count):
    rng = random.Random(seed)
    kinds = sorted(POOLS)
    out = []
    for _ in range(count):
        pieces = []
        for _ in range(rng.randrange(1, 40)):
            r = rng.random()
            if r < 0.08:
                pieces.append(random_code_point(rng))
            elif r < 0.3:
                pieces.append(rng.choice(["the", "The", "hello", "world", "tokenizer", "Ünïcödé", "naïve", "日本語"]))
            else:
                pool = POOLS[rng.choice(kinds)]
                pieces.append("".join(rng.choice(pool) for _ in range(rng.randrange(1, 6))))
        out.append("".join(pieces))
    return out


def paragraphs(text, limit=2000):
    """Cuts `text` at line ends into pieces of at most about `limit` characters (newlines kept)."""
    out, current = [], ""
    for line in text.splitlines(keepends=True):
        if current and len(current) + len(line) > limit:
            out.append(current)
            current = ""
        current += line
    if current:
        out.append(current)
    return out


def licence_texts():
    texts = []
    for path in sorted(glob.glob("/usr/share/common-licenses/*")):
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                texts.append(f.read())
    return texts


def code_texts(repo):
    """Proof-Pile-like text that every checkout has: oracle.py's LaTeX / OCaml / Coq files and
    the repository's own sources and docs (sorted, a fixed sample)."""
    sys.path.insert(0, os.path.join(repo, "tests", "cli"))
    from oracle import PACKAGES  # noqa: E402 (the stand-in packages' documents)
    texts = [c for p in PACKAGES.values() for c in p["files"].values() if isinstance(c, str) and c]
    for pattern in ("docs/*.md", "formats/src/*.cpp", "tests/cli/*.py", "tasks/*/src/*.cpp"):
        for path in sorted(glob.glob(os.path.join(repo, pattern)))[:12]:
            with open(path, encoding="utf-8") as f:
                texts.extend(paragraphs(f.read()))
    return texts


def require(texts, what):
    if not texts:
        raise SystemExit(f"hf_reference.py: no {what}: the differential test needs them (run scripts/setup.sh; "
                         f"../shared/data beside the checkout)")
    return texts


def corpus(longbench_dir, repo):
    texts = []
    if not longbench_dir or not glob.glob(os.path.join(longbench_dir, "*.jsonl")):
        require([], f"LongBench rows in {longbench_dir}")
    for path in sorted(glob.glob(os.path.join(longbench_dir or "", "*.jsonl"))):
        with open(path, encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                texts.append(row["context"])  # whole: long texts in one piece
                texts.extend(paragraphs(row["context"]))
                texts.append(row["input"])
                texts.extend(row.get("answers") or [])
    texts.extend(require(code_texts(repo), "source texts"))
    for text in require(licence_texts(), "licence texts in /usr/share/common-licenses"):
        texts.extend(paragraphs(text))
    texts.extend(random_strings(seed=20240101, count=3000))
    texts.extend(["", " ", "  ", "\n", "a", " a", "\u2581", "\u2581\u2581a", "<s>", " <s> ", "a<s>b", "</s></s>"])
    return texts


def train_synthetic(name, out_dir):
    """A small tokenizer of family `name`, trained on the licence texts."""
    specials = ["<unk>", "<s>", "</s>"]
    byte_tokens = ["<0x%02X>" % b for b in range(256)]
    if name in ("llama3", "qwen2", "digits"):
        tok = Tokenizer(models.BPE())
        if name == "llama3":
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        elif name == "qwen2":
            tok.normalizer = normalizers.NFC()
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
        else:
            tok.pre_tokenizer = pre_tokenizers.Sequence([
                pre_tokenizers.Digits(individual_digits=True),
                pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)])
        tok.decoder = decoders.ByteLevel()
        trainer = BpeTrainer(vocab_size=1500, special_tokens=["<|endoftext|>"],
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    elif name == "metaspace":
        tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=False)
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
        trainer = BpeTrainer(vocab_size=1500, special_tokens=specials + byte_tokens, show_progress=False)
    else:
        sys.exit("unknown --synthetic family " + name)
    tok.train_from_iterator(licence_texts(), trainer=trainer)
    spec = json.loads(tok.to_str())
    # Byte tokens belong to the vocabulary only, as in converted Llama files.
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] not in byte_tokens]
    extra = [("<|begin_of_text|>", dict(special=True, normalized=False)),
             ("[lstrip]", dict(lstrip=True, normalized=False)),
             ("[rstrip]", dict(rstrip=True, normalized=False)),
             ("word", dict(single_word=True, normalized=True)),
             ("<pad>", dict(special=True, normalized=True, lstrip=True, rstrip=True))]
    next_id = max(spec["model"]["vocab"].values()) + 1
    for content, flags in extra:
        token = dict(id=next_id, content=content, single_word=False, lstrip=False, rstrip=False, normalized=True,
                     special=False)
        token.update(flags)
        spec["added_tokens"].append(token)
        next_id += 1
    path = os.path.join(out_dir, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    return path


def main():
    ap = argparse.ArgumentParser()
    source = ap.add_mutually_exclusive_group(required=True)
    source.add_argument("--tokenizer")
    source.add_argument("--synthetic", choices=["llama3", "qwen2", "digits", "metaspace"])
    ap.add_argument("--longbench", required=True)
    ap.add_argument("--code", required=True, help="the repository root")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = args.tokenizer or train_synthetic(args.synthetic, args.out)
    tok = Tokenizer.from_file(path)
    tok.no_truncation()
    tok.no_padding()
    rng = random.Random(7)
    vocab = tok.get_vocab_size(with_added_tokens=True)
    with open(os.path.join(args.out, "cases.jsonl"), "w", encoding="utf-8") as out:
        for text in corpus(args.longbench, args.code):
            ids = tok.encode(text, add_special_tokens=False).ids
            out.write(json.dumps({"text": text, "ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True)},
                                 ensure_ascii=False) + "\n")
        for _ in range(2000):
            ids = [rng.randrange(vocab) if rng.random() < 0.7 else rng.randrange(min(vocab, 300))
                   for _ in range(rng.randrange(0, 24))]
            out.write(json.dumps({"decode_ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True)},
                                 ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
