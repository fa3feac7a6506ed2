#!/usr/bin/env python3
"""The suite's inventory: every test the suite must register and run (tests/inventory.txt).

  test_inventory.py check BUILD [--junit FILE] [--exclude-labels REGEX] [--absent-ok REGEX] [--selection]
  test_inventory.py update BUILD [--prune]
  test_inventory.py counts

`check` (scripts/test.sh calls it after ctest) fails, naming the label and the tests, when
  - a declared test is not registered in BUILD (a CMake folder that returned early, a missing
    clang or target, a test removed without removing its line) — except in labels matching
    --absent-ok (left out on purpose, e.g. E2LLM_TEST_EXCLUDE_LABELS=fuzz with -DE2LLM_FUZZ=OFF),
  - a registered test is not declared (add it: `update`),
  - a test's label differs from its declared one, or a test is declared twice,
  - a registered test has no TIMEOUT (tests/CMakeLists.txt gives every label one),
  - with --junit (ctest's --output-junit of the run that just ended): a declared test of a
    label that was not excluded did not run (disabled, not run, absent) — unless --selection
    says the run was a deliberate subset (-R, -L, ...),
  - a test count written in the documentation between `<!-- test-count -->` and
    `<!-- /test-count -->` (or `<!-- test-count:LABEL -->` for one label) is not the
    inventory's.
`update` adds the tests BUILD registers to tests/inventory.txt (with their labels) and rewrites
the counts in the documentation; it keeps declared tests BUILD lacks unless --prune (a partial
build, -DE2LLM_ONLY, must not shrink the inventory); review its diff. `counts` prints the declared tests per label.

The inventory lists names, one per line, rather than a number per label: branches that add
tests add lines, which git merges (tests/inventory.txt has merge=union in .gitattributes), and
a drop names the tests that vanished. Standard library only; exit 0 when all holds, 1 otherwise.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INVENTORY = os.path.join(ROOT, "tests", "inventory.txt")
HEADER = """\
# Every test the suite registers and must run: LABEL TEST, one per line, sorted.
# scripts/test.sh fails when a line's test is not registered or did not run, when a registered
# test has no line, and names the label (scripts/test_inventory.py). After adding, renaming or
# removing tests: scripts/test_inventory.py update build, then review this file's diff.
# Merged with git's union driver (.gitattributes): branches that add tests both keep their lines.
"""
COUNT_RE = re.compile(r"<!-- test-count(?::([A-Za-z0-9_-]+))? -->([0-9,]*)<!-- /test-count -->")


def fail(msg):
    print(f"test_inventory: {msg}", file=sys.stderr)
    sys.exit(1)


def registered(build):
    """name -> (labels tuple, timeout or None) of every test ctest knows in BUILD."""
    if not os.path.isfile(os.path.join(build, "CTestTestfile.cmake")):
        fail(f"{build} has no CTestTestfile.cmake: build first (scripts/build.sh)")
    r = subprocess.run(["ctest", "--test-dir", build, "--show-only=json-v1"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"ctest --show-only=json-v1 failed in {build}: {r.stderr.strip().splitlines()[:1]}")
    tests = {}
    for t in json.loads(r.stdout)["tests"]:
        props = {p["name"]: p["value"] for p in t.get("properties", [])}
        labels = tuple(sorted(props.get("LABELS", [])))
        timeout = props.get("TIMEOUT")
        tests[t["name"]] = (labels, float(timeout) if timeout is not None else None)
    return tests


def read_inventory():
    """[(label, name, line number)] as declared."""
    if not os.path.isfile(INVENTORY):
        fail(f"{INVENTORY} is missing: create it with scripts/test_inventory.py update build")
    out = []
    with open(INVENTORY, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 1)  # a parameterized test's name holds spaces ("  # GetParam() = ...")
            if len(parts) != 2:
                fail(f"{INVENTORY}:{n}: expected 'LABEL TEST', got {line!r}")
            out.append((parts[0], parts[1], n))
    return out


def label_of(labels):
    return ",".join(labels) if labels else "(none)"


def doc_files():
    files = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "tests", "README.md")]
    docs = os.path.join(ROOT, "docs")
    if os.path.isdir(docs):
        files += [os.path.join(docs, f) for f in sorted(os.listdir(docs)) if f.endswith(".md")]
    return [f for f in files if os.path.isfile(f)]


def counts_of(declared):
    c = Counter(label for label, _, _ in declared)
    c["all"] = len(declared)
    return c


def doc_count_problems(counts, fix):
    problems = []
    for path in doc_files():
        with open(path, encoding="utf-8") as f:
            text = f.read()

        def repl(m):
            label = m.group(1) or "all"
            want = f"{counts.get(label, 0):,}"
            if m.group(2) != want:
                problems.append(f"{os.path.relpath(path, ROOT)}: says {m.group(2) or '(nothing)'} tests"
                                f"{'' if label == 'all' else ' labelled ' + label}, the inventory {want}")
            return m.group(0).replace(f"-->{m.group(2)}<!--", f"-->{want}<!--")

        new = COUNT_RE.sub(repl, text)
        if fix and new != text:
            with open(path, "w", encoding="utf-8") as f:
                f.write(new)
    return problems


def junit_status(path):
    """name -> status ("run", "fail", "notrun", "disabled", ...) from ctest's --output-junit."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        fail(f"cannot read ctest's JUnit file {path}: {e}")
    out = {}
    for case in root.iter("testcase"):
        status = case.get("status", "run")
        if case.find("skipped") is not None and status == "run":
            status = "skipped"
        out[case.get("name")] = status
    return out


def check(args):
    reg = registered(args.build)
    declared = read_inventory()
    errors = []
    seen = {}
    for label, name, n in declared:
        if name in seen:
            errors.append(f"{INVENTORY}:{n}: {name} is declared twice (also line {seen[name]})")
        seen.setdefault(name, n)
    declared_label = {name: label for label, name, _ in declared}

    by_label = defaultdict(lambda: {"declared": 0, "registered": 0, "ran": 0, "missing": [], "notrun": []})
    for label, name, _ in declared:
        by_label[label]["declared"] += 1
        if name not in reg:
            by_label[label]["missing"].append(name)
            continue
        by_label[label]["registered"] += 1
        got = label_of(reg[name][0])
        if got != label:
            errors.append(f"{name} is labelled {got}, declared {label} (fix the label or the inventory line)")

    undeclared = sorted(n for n in reg if n not in declared_label)
    no_timeout = sorted(n for n, (_, t) in reg.items() if not t or t <= 0)

    exclude = re.compile(f"^(?:{args.exclude_labels})$") if args.exclude_labels else None
    status = junit_status(args.junit) if args.junit else None
    if status is not None:
        for label, name, _ in declared:
            if exclude and exclude.match(label):
                continue
            s = status.get(name)
            if s in ("run", "fail"):
                by_label[label]["ran"] += 1
            elif name in reg:
                by_label[label]["notrun"].append(f"{name} ({s or 'absent from the run'})")

    absent_ok = re.compile(f"^(?:{args.absent_ok})$") if args.absent_ok else None
    for label in sorted(by_label):
        b = by_label[label]
        if b["missing"] and absent_ok and absent_ok.match(label):
            print(f"tests: label '{label}' was left out on purpose: {len(b['missing'])} of its {b['declared']} "
                  f"declared tests are not registered")
        elif b["missing"]:
            shown = ", ".join(b["missing"][:8]) + (f" and {len(b['missing']) - 8} more" if len(b["missing"]) > 8 else "")
            errors.append(f"label '{label}': {b['registered']} of {b['declared']} declared tests are registered; "
                          f"missing: {shown} (was a folder, a target or a tool such as clang left out at "
                          f"configure time? see the cmake output)")
        if b["notrun"] and not args.selection:
            shown = ", ".join(b["notrun"][:8]) + (f" and {len(b['notrun']) - 8} more" if len(b["notrun"]) > 8 else "")
            errors.append(f"label '{label}': {len(b['notrun'])} of {b['declared']} declared tests did not run: {shown}")
    if undeclared:
        shown = ", ".join(f"{n} ({label_of(reg[n][0])})" for n in undeclared[:8])
        more = f" and {len(undeclared) - 8} more" if len(undeclared) > 8 else ""
        errors.append(f"{len(undeclared)} registered tests are not in tests/inventory.txt: {shown}{more}; add them with "
                      f"scripts/test_inventory.py update {args.build} and review the diff")
    if no_timeout:
        errors.append(f"{len(no_timeout)} tests have no TIMEOUT: {', '.join(no_timeout[:8])} (register tests with "
                      f"e2llm_add_test, which gives each label its timeout in tests/CMakeLists.txt)")
    errors += doc_count_problems(counts_of(declared), fix=False)

    summary = []
    for label in sorted(by_label):
        b = by_label[label]
        ran = "" if status is None else (", excluded" if exclude and exclude.match(label) else f", {b['ran']} ran")
        summary.append(f"{label} {b['registered']}/{b['declared']} registered{ran}")
    print(f"tests: inventory ({len(declared)} declared): " + "; ".join(summary))
    if errors:
        for e in errors:
            print(f"tests: FAILED: {e}", file=sys.stderr)
        return 1
    return 0


def update(args):
    reg = registered(args.build)
    entries = {name: label_of(labels) for name, (labels, _) in reg.items()}
    kept = []
    if os.path.isfile(INVENTORY):
        for label, name, _ in read_inventory():
            if name not in reg:
                if args.prune:
                    continue
                kept.append(name)
                entries[name] = label
    if kept:
        print(f"test_inventory: kept {len(kept)} declared tests {args.build} does not register (e.g. {kept[0]}); "
              f"--prune removes them", file=sys.stderr)
    lines = sorted(f"{label} {name}" for name, label in entries.items())
    with open(INVENTORY, "w", encoding="utf-8") as f:
        f.write(HEADER + "\n".join(lines) + "\n")
    declared = read_inventory()
    doc_count_problems(counts_of(declared), fix=True)
    c = counts_of(declared)
    print(f"test_inventory: wrote {len(lines)} tests to {os.path.relpath(INVENTORY, ROOT)} (" +
          ", ".join(f"{k} {v}" for k, v in sorted(c.items()) if k != "all") + ")")
    return 0


def counts(_args):
    c = counts_of(read_inventory())
    for k, v in sorted(c.items()):
        print(f"{k} {v}")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("check")
    c.add_argument("build")
    c.add_argument("--junit")
    c.add_argument("--exclude-labels", default="")
    c.add_argument("--absent-ok", default="")
    c.add_argument("--selection", action="store_true")
    c.set_defaults(func=check)
    u = sub.add_parser("update")
    u.add_argument("build")
    u.add_argument("--prune", action="store_true", help="drop declared tests BUILD does not register")
    u.set_defaults(func=update)
    n = sub.add_parser("counts")
    n.set_defaults(func=counts)
    args = p.parse_args()
    if hasattr(args, "build"):
        args.build = os.path.abspath(args.build)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
