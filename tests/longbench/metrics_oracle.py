#!/usr/bin/env python3
"""The official LongBench v1 metrics as the oracle of tasks/longbench/src/metrics.cpp.

rouge_score is LongBench's: the ROUGE-L F of the PyPI `rouge` package (1.0.1), 0 when it
raises. qa_f1_score and normalize_answer are written here from LongBench's definitions:
lower-case, drop ASCII punctuation, blank out the words a/an/the, split on whitespace, then
the F1 of the two token multisets.

Writes OUT: one JSON object per line {"pred", "gold", "qa_f1", "rouge"} for seeded generated
pairs. The scores are computed at the call depth of LongBench's eval.py (<module> -> scorer
-> metric), because the `rouge` package recurses and Python's recursion limit then decides
when a very long sentence scores 0.
  metrics_oracle.py OUT [--pairs N]

  metrics_oracle.py --score-records RECORDS.jsonl ROWS_DIR
prints, for each record {"dataset", "_id", "pred"} of a longbench cell, LongBench's score of
its prediction (the dataset's metric as eval.py's dataset2metric, max over the row's answers).

  metrics_oracle.py --prefix-score ROWS.jsonl METRIC NBYTES
prints LongBench's dataset score (round(100 * mean, 2)) of a "model" that answers each row
with the first NBYTES bytes of its first answer, scored against all its answers (max).
"""
import json
import random
import re
import string
import sys
from collections import Counter

from rouge import Rouge

PUNCTUATION = set(string.punctuation)
ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text):
    text = text.lower()
    text = "".join(ch for ch in text if ch not in PUNCTUATION)
    text = ARTICLES.sub(" ", text)
    return " ".join(text.split())


def qa_f1_score(prediction, ground_truth):
    pred = normalize_answer(prediction).split()
    gold = normalize_answer(ground_truth).split()
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0
    precision = 1.0 * same / len(pred)
    recall = 1.0 * same / len(gold)
    return (2 * precision * recall) / (precision + recall)


def rouge_score(prediction, ground_truth):
    try:
        scores = Rouge().get_scores([prediction], [ground_truth], avg=True)
    except Exception:  # LongBench's bare except: any failure scores 0
        return 0.0
    return scores["rouge-l"]["f"]


WORDS = ["a", "an", "the", "A", "An", "THE", "The", "cat", "dog", "Cat", "sat", "on", "mat", "report", "yes", "no",
         "unanswerable", "1998", "3.14", "U.S.", "e.g.", "don't", "it's", "co-op", "naïve", "Straße", "ΣΊΣΥΦΟΣ", "σς",
         "İstanbul", "ǅemal", "ﬁne", "日本語", "😀", "e\u0301", "x\u200by", "ano", "then", "theatre", "an't"]
PUNCT = list(string.punctuation) + ["...", "—", "“", "”", "¿", "·", ".", ".", ". "]
SPACES = [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u2003", "\u3000", "\u0085", "\u1680", "\u2028", "\x1c",
          "\x1f", "\x0b", "\x0c", "\u200b"]


def random_text(rng, max_words):
    parts = []
    for _ in range(rng.randrange(0, max_words + 1)):
        r = rng.random()
        if r < 0.6:
            word = rng.choice(WORDS)
            if rng.random() < 0.1:
                word = word.upper() if rng.random() < 0.5 else word.capitalize()
            parts.append(word)
        elif r < 0.8:
            parts.append(rng.choice(PUNCT))
        else:
            parts.append(chr(rng.randrange(0x20, 0x3000)))
        parts.append(rng.choice(SPACES) if rng.random() < 0.9 else "")
    return "".join(parts)


def pairs(seed, count):
    rng = random.Random(seed)
    out = [("", ""), ("", "a"), ("the", "a"), (".", "."), ("...", "a. b"), (" ", " "), ("a . b", "a.b"),
           ("The cat.", "the cat"), ("\u00a0", "x")]
    for i in range(count):
        kind = i % 10
        if i % 50 == 49:  # long texts with sentences
            pred, gold = random_text(rng, 300), random_text(rng, 300)
        elif kind < 6:
            pred, gold = random_text(rng, 12), random_text(rng, 12)
        elif kind < 8:  # sharing words, as real answers do
            gold = random_text(rng, 20)
            words = gold.split(" ")
            rng.shuffle(words)
            pred = " ".join(words[: rng.randrange(0, len(words) + 1)])
        else:  # small vocabulary: many LCS ties
            pred = " ".join(rng.choice("abc") for _ in range(rng.randrange(0, 30)))
            gold = " ".join(rng.choice("abc.") for _ in range(rng.randrange(0, 30)))
        out.append((pred, gold))
    # Long sentences without a dot on both sides of the recursion limit of the LCS walk.
    for n in (990, 991):
        sentence = " ".join("w%d" % (k % 50) for k in range(n))
        out.append((sentence, sentence))
    return out


def scorer(cases):
    # Called from module level and looping like eval.py's scorer() (a comprehension would add
    # a frame): rouge runs at eval.py's stack depth.
    results = []
    for pred, gold in cases:
        results.append((pred, gold, qa_f1_score(pred, gold), rouge_score(pred, gold)))
    return results


def prefix_score(rows_file, metric, nbytes):
    scores = []
    for line in open(rows_file, encoding="utf-8"):
        answers = json.loads(line)["answers"]
        pred = answers[0].encode("utf-8")[:nbytes].decode("utf-8")  # fails on a cut character
        scores.append(max(scorer_for(metric, pred, gold) for gold in answers))
    return round(100 * sum(scores) / len(scores), 2)


def scorer_for(metric, pred, gold):
    return {"qa_f1": qa_f1_score, "rouge": rouge_score}[metric](pred, gold)


# LongBench eval.py's dataset2metric for the English sets e2llm runs.
DATASET_METRIC = {"narrativeqa": "qa_f1", "qasper": "qa_f1", "multifieldqa_en": "qa_f1", "hotpotqa": "qa_f1",
                  "2wikimqa": "qa_f1", "musique": "qa_f1", "gov_report": "rouge", "qmsum": "rouge",
                  "multi_news": "rouge"}


def score_records(records_file, rows_dir):
    """Each record {"dataset", "_id", "pred"} scored as eval.py does: the dataset's metric, max
    over the row's answers (found by _id in ROWS_DIR/<dataset>.jsonl)."""
    answers = {}
    out = []
    for line in open(records_file, encoding="utf-8"):
        if not line.strip():
            continue
        r = json.loads(line)
        d = r["dataset"]
        if d not in answers:
            answers[d] = {}
            for row in open(f"{rows_dir}/{d}.jsonl", encoding="utf-8"):
                row = json.loads(row)
                answers[d][row["_id"]] = row["answers"]
        out.append({"_id": r["_id"], "dataset": d,
                    "score": max(scorer_for(DATASET_METRIC[d], r["pred"], gold) for gold in answers[d][r["_id"]])})
    return out


if __name__ == "__main__" and "--score-records" in sys.argv:
    at = sys.argv.index("--score-records")
    print(json.dumps(score_records(sys.argv[at + 1], sys.argv[at + 2])))
elif __name__ == "__main__" and "--prefix-score" in sys.argv:
    at = sys.argv.index("--prefix-score")
    print(json.dumps(prefix_score(sys.argv[at + 1], sys.argv[at + 2], int(sys.argv[at + 3]))))
elif __name__ == "__main__":
    count = int(sys.argv[sys.argv.index("--pairs") + 1]) if "--pairs" in sys.argv else 20000
    results = scorer(pairs(seed=14, count=count))
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        for pred, gold, f1, rl in results:
            f.write(json.dumps({"pred": pred, "gold": gold, "qa_f1": f1, "rouge": rl}, ensure_ascii=False) + "\n")
