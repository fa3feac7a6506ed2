#!/usr/bin/env python3
"""An independent PoSE reference for tests/train/test_pose_reference.cpp, written from the
paper (Zhu et al. 2023, arXiv 2309.10400, §3.2 and appendix B) and its training code
(train_preprocess_function_pose), not from e2llm's code.

  pose_reference.py positions CASES.json
      CASES: [{"R", "L", "Lt", "lengths": [...], "skips": [...]}, ...]; prints, per case, the
      position ids (st_i + u_i + k for token k of chunk i, st_i = l_0 + ... + l_{i-1}) divided
      by the PI scale Lt / L, as a JSON list of lists.
  pose_reference.py distribution DRAWS.json
      DRAWS: {"R", "Lt", "N", "draws": [[l_0..l_{N-1}, u_0..u_{N-1}], ...], "seed"}: the chunk
      lengths and skips e2llm drew. Compares them with the paper's sampling:
        * exact: Pearson chi-square of the joint counts of (l_0..l_{N-2}) and of
          (u_1..u_{N-1}) against their exact probabilities, enumerated here;
        * two-sample: chi-square homogeneity against as many draws of this file's own sampler
          (Python's random, seeded);
        * power: the same exact test against a plausible wrong sampler (skips drawn
          independently and sorted), which a correct e2llm must fail.
      Prints {"exact_lengths_p", "exact_skips_p", "two_sample_lengths_p", "two_sample_skips_p",
      "wrong_skips_p", "cells_lengths", "cells_skips"} as JSON.
"""
import itertools
import json
import random
import sys
from collections import Counter
from fractions import Fraction

import numpy as np
from scipy import stats


def positions(case):
    scale = case["Lt"] / case["L"]
    out, start = [], 0
    for length, skip in zip(case["lengths"], case["skips"]):
        out += [(start + skip + k) / scale for k in range(length)]
        start += length
    return out


def sample(R, Lt, N, rng):
    """One draw as the paper's code and appendix draw it."""
    lengths, used = [], 0
    for i in range(N - 1):
        # N = 2: train_pose.py's rt1 = randint(1, (len_chunk+1)//2); N >= 3: appendix B's
        # l0 = randint(1, Lc-2), l1 = randint(1, Lc-l0-1), ...
        most = (R + 1) // 2 if N == 2 else R - used - (N - 1 - i)
        lengths.append(rng.randint(1, most))
        used += lengths[-1]
    lengths.append(R - used)
    skips = [0]  # u_0 = 0 ("lt = 0" in the code)
    for _ in range(1, N):
        skips.append(rng.randint(skips[-1], Lt - R))  # u_i ~ U{u_{i-1}..Lt-Lc}
    return lengths, skips


def length_pmf(R, N):
    """Exact P(l_0..l_{N-2})."""
    pmf = {}

    def walk(prefix, used, p):
        i = len(prefix)
        if i == N - 1:
            pmf[tuple(prefix)] = p
            return
        most = (R + 1) // 2 if N == 2 else R - used - (N - 1 - i)
        for l in range(1, most + 1):
            walk(prefix + [l], used + l, p / most)

    walk([], 0, Fraction(1))
    return pmf


def skip_pmf(R, Lt, N, independent_sorted=False):
    """Exact P(u_1..u_{N-1}); or, for the power check, of N-1 independent uniforms sorted."""
    M = Lt - R
    pmf = {}
    if independent_sorted:
        for t in itertools.product(range(M + 1), repeat=N - 1):
            key = tuple(sorted(t))
            pmf[key] = pmf.get(key, Fraction(0)) + Fraction(1, (M + 1) ** (N - 1))
        return pmf

    def walk(prefix, p):
        if len(prefix) == N - 1:
            pmf[tuple(prefix)] = p
            return
        prev = prefix[-1] if prefix else 0
        for u in range(prev, M + 1):
            walk(prefix + [u], p / (M - prev + 1))

    walk([], Fraction(1))
    return pmf


def exact_test(counts, pmf):
    n = sum(counts.values())
    assert set(counts) <= set(pmf), "a draw the sampler cannot produce"
    keys = sorted(pmf)
    observed = np.array([counts.get(k, 0) for k in keys], dtype=float)
    expected = np.array([float(pmf[k]) * n for k in keys])
    return float(stats.chisquare(observed, expected).pvalue), len(keys)


def two_sample(a, b):
    keys = sorted(set(a) | set(b))
    table = np.array([[a.get(k, 0) for k in keys], [b.get(k, 0) for k in keys]], dtype=float)
    return float(stats.chi2_contingency(table)[1])


def distribution(path):
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    R, Lt, N = spec["R"], spec["Lt"], spec["N"]
    lengths = Counter(tuple(d[:N - 1]) for d in spec["draws"])
    skips = Counter(tuple(d[N + 1:]) for d in spec["draws"])
    rng = random.Random(spec["seed"])
    mine = [sample(R, Lt, N, rng) for _ in spec["draws"]]
    mine_lengths = Counter(tuple(l[:N - 1]) for l, _ in mine)
    mine_skips = Counter(tuple(u[1:]) for _, u in mine)
    exact_lengths_p, cells_lengths = exact_test(lengths, length_pmf(R, N))
    exact_skips_p, cells_skips = exact_test(skips, skip_pmf(R, Lt, N))
    wrong_p, _ = exact_test(skips, skip_pmf(R, Lt, N, independent_sorted=True))
    print(json.dumps({"exact_lengths_p": exact_lengths_p, "exact_skips_p": exact_skips_p,
                      "two_sample_lengths_p": two_sample(lengths, mine_lengths),
                      "two_sample_skips_p": two_sample(skips, mine_skips),
                      "wrong_skips_p": wrong_p, "cells_lengths": cells_lengths, "cells_skips": cells_skips}))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("positions", "distribution"):
        print("usage: pose_reference.py positions|distribution FILE.json", file=sys.stderr)
        return 2
    if sys.argv[1] == "positions":
        with open(sys.argv[2], encoding="utf-8") as f:
            print(json.dumps([positions(c) for c in json.load(f)]))
    else:
        distribution(sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
