"""Reference values for the task kit's statistics (tests/stats/stats_oracle_test.cpp).

Reads a JSON list of cases on stdin and prints one JSON result per case. The numbers come
from scipy and numpy: scipy.stats.norm.ppf, binomtest(...).proportion_ci(method="wilson"),
binomtest(b, b + c, 0.5).pvalue, numpy.quantile, and numpy sums over the resampled items.
The bootstrap's resample indices are drawn the way docs/statistics.md specifies
(SplitMix64 streams seeded by sha256; units grouped by first appearance), written here
from that text, so that C++ and Python resample the very same items; `scipy_bootstrap`
cases also run scipy.stats.bootstrap (its own random draws) for a distribution-level check.
"""
import hashlib
import json
import math
import sys

import numpy as np
from scipy import stats

M64 = (1 << 64) - 1
GAMMA = 0x9E3779B97F4A7C15


def mix64(x):
    x = (x + GAMMA) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        x = self.state
        self.state = (self.state + GAMMA) & M64
        return mix64(x)

    def uniform_int(self, lo, hi):  # inclusive, by rejection of the top partial bucket
        span = (hi - lo) & M64
        size = span + 1
        limit = M64 - ((M64 % size) + 1) % size
        while True:
            x = self.next()
            if x <= limit:
                return lo + x % size


def derive_seed(seed, tag):
    digest = hashlib.sha256(f"{seed}|{tag}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def selected(table, spec):
    n = len(table["id"])
    if not spec.get("stratum"):
        return np.ones(n, dtype=bool)
    strata = table.get("stratum", [""] * n)
    return np.array([s == spec["stratum"] for s in strata], dtype=bool)


def statistic(table, spec, counts):
    """spec's statistic with item multiplicities `counts`, or None when undefined."""
    cols = table["columns"]
    v = np.asarray(cols[spec["value"]], dtype=float)
    w = np.asarray(cols[spec["weight"]], dtype=float) if spec.get("weight") else np.ones_like(v)
    sel = selected(table, spec)
    c = np.where(sel, counts, 0.0)
    if spec["statistic"] == "stratified_mean":
        strata = table.get("stratum", [""] * len(v))
        keys = []
        for s, ok in zip(strata, sel):
            if ok and s not in keys:
                keys.append(s)
        parts = []
        for key in keys:
            mask = np.array([s == key for s in strata]) & sel
            den = np.sum(c[mask] * w[mask])
            if not den > 0:
                return None
            parts.append(np.sum(c[mask] * v[mask]) / den)
        if not parts:
            return None
        return spec.get("scale", 1.0) * float(np.mean(parts))
    den = np.sum(c * w)
    if not sel.any() or not den > 0:
        return None
    mean = np.sum(c * v) / den
    if spec["statistic"] == "exp_ratio":
        return math.exp(mean)
    return spec.get("scale", 1.0) * mean


def units_of(windows, spec):
    """windows[k] = the tables of window k. Returns (groups of unit indices, per-table unit of each item)."""
    unit_of, groups, group_of, item_unit = {}, [], {}, []
    by_stratum = spec["statistic"] == "stratified_mean"
    for k, tables in enumerate(windows):
        holders = {}
        for t in tables:
            for i, ok in zip(t["id"], selected(t, spec)):
                if ok:
                    holders[i] = holders.get(i, 0) + 1
        for t in tables:
            strata = t.get("stratum", [""] * len(t["id"]))
            units = []
            for i, ok, s in zip(t["id"], selected(t, spec), strata):
                if not ok or holders[i] != len(tables):
                    units.append(-1)
                    continue
                if i not in unit_of:
                    unit_of[i] = len(unit_of)
                    key = (k, s if by_stratum else "")
                    if key not in group_of:
                        group_of[key] = len(groups)
                        groups.append([])
                    groups[group_of[key]].append(unit_of[i])
                units.append(unit_of[i])
            item_unit.append(np.array(units))
    return groups, item_unit, len(unit_of)


def side_value(side, flat_index, counts, spec, combine):
    vals = []
    for k, reps in enumerate(side):
        per = [statistic(t, spec, counts[flat_index[k][r]]) for r, t in enumerate(reps)]
        if any(p is None for p in per):
            return None
        vals.append(float(np.mean(per)))
    if combine == "geometric_mean":
        if any(not v > 0 for v in vals):
            return None
        return math.exp(np.mean(np.log(vals)))
    return float(np.mean(vals))


def bootstrap(case):
    a, b = case["a"], case.get("b")
    spec, combine, ratio = case["spec"], case.get("combine", "mean"), case.get("ratio", False)
    windows, index_a, index_b, flat = [], [], [], 0
    for k in range(len(a)):
        tables, ia, ib = [], [], []
        for t in a[k]:
            tables.append(t), ia.append(flat)
            flat += 1
        if b is not None:
            for t in b[k]:
                tables.append(t), ib.append(flat)
                flat += 1
        windows.append(tables), index_a.append(ia), index_b.append(ib)
    flat_tables = [t for tables in windows for t in tables]
    groups, item_unit, n_units = units_of(windows, spec)

    def value(unit_counts):
        counts = [np.where(u >= 0, unit_counts[np.maximum(u, 0)], 0.0) for u in item_unit]
        va = side_value(a, index_a, counts, spec, combine)
        if b is None or va is None:
            return va
        vb = side_value(b, index_b, counts, spec, combine)
        if vb is None:
            return None
        if not ratio:
            return va - vb
        return None if vb == 0 else va / vb

    estimate = value(np.ones(n_units))
    rng = SplitMix64(case["seed"])
    draws, skipped = [], 0
    for _ in range(case["resamples"]):
        unit_counts = np.zeros(n_units)
        for g in groups:
            for _ in range(len(g)):
                unit_counts[g[rng.uniform_int(0, len(g) - 1)]] += 1
        v = value(unit_counts)
        if v is None:
            skipped += 1
        else:
            draws.append(v)
    level = case["level"]
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    out = {"estimate": estimate, "low": float(low), "high": float(high), "units": n_units, "skipped": skipped,
           "draws": draws}
    if case.get("scipy_bootstrap"):  # scipy's own resampling of the same single table
        t = a[0][0]
        v = np.asarray(t["columns"][spec["value"]], dtype=float)
        w = np.asarray(t["columns"][spec["weight"]], dtype=float) if spec.get("weight") else np.ones_like(v)

        def stat(vv, ww):
            m = np.sum(vv) / np.sum(ww)
            return math.exp(m) if spec["statistic"] == "exp_ratio" else spec.get("scale", 1.0) * m

        res = stats.bootstrap((v, w), stat, paired=True, vectorized=False, n_resamples=case["resamples"],
                              confidence_level=level, method="percentile", random_state=np.random.default_rng(7))
        out["scipy"] = [float(res.confidence_interval.low), float(res.confidence_interval.high)]
    return out


def mcnemar(case):
    a, b, spec = case["a"], case["b"], case["spec"]
    va = dict(zip([i for i, ok in zip(a["id"], selected(a, spec)) if ok],
                  [x for x, ok in zip(a["columns"][spec["value"]], selected(a, spec)) if ok]))
    only_a = only_b = n = right_a = right_b = 0
    for i, y, ok in zip(b["id"], b["columns"][spec["value"]], selected(b, spec)):
        if not ok or i not in va:
            continue
        x = va[i]
        n += 1
        right_a += x != 0
        right_b += y != 0
        only_a += x != 0 and y == 0
        only_b += y != 0 and x == 0
    p = 1.0 if only_a + only_b == 0 else stats.binomtest(only_a, only_a + only_b, 0.5).pvalue
    return {"n": n, "only_a": only_a, "only_b": only_b, "p_value": float(p),
            "difference": spec.get("scale", 1.0) * (right_a - right_b) / n}


def answer(case):
    kind = case["kind"]
    if kind == "normal_quantile":
        return [float(stats.norm.ppf(p)) for p in case["p"]]
    if kind == "wilson":
        out = []
        for k, n in case["kn"]:
            ci = stats.binomtest(k, n).proportion_ci(confidence_level=case["level"], method="wilson")
            out.append([float(ci.low), float(ci.high)])
        return out
    if kind == "mcnemar_p":
        return [1.0 if b + c == 0 else float(stats.binomtest(b, b + c, 0.5).pvalue) for b, c in case["bc"]]
    if kind == "quantile":
        return [float(np.quantile(case["values"], q)) for q in case["q"]]
    if kind == "derive_seed":
        return [derive_seed(case["seed"], tag) for tag in case["tags"]]
    if kind == "bootstrap":
        return bootstrap(case)
    if kind == "mcnemar":
        return mcnemar(case)
    raise SystemExit(f"oracle.py: unknown case kind {kind!r}")


def main():
    cases = json.load(sys.stdin)
    json.dump([answer(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
