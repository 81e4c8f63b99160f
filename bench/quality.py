"""Localization and classification quality on a dataset in the layout of ../shared/datasets.

    python bench/quality.py ../shared/datasets [--only logchunks|cidiff] [--show N] [--json OUT]

Scoring follows the datasets' README: per case, the analyzer's excerpt lines and the labeled lines are
normalized (ANSI codes, a leading GitHub timestamp, control characters and `<>&` removed, whitespace
collapsed, empty lines dropped) and compared as sets; precision, recall and F1 are averaged over cases;
`full` is the share of cases whose excerpt holds every labeled line, `hit1` the share whose first focus line
is labeled. The naive baselines (last 20 lines; keyword lines ±2) run in the same go for comparison.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from agent.engine import analyze_file
from agent.logtext import split_lines

ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\[(?:\d{1,3}(?:;\d{1,3})*)?[mK]")
# The timestamps a CI puts before each line, not part of what the tool printed: GitHub's
# (`2024-03-11T09:14:22.51Z `) and the Jenkins Timestamper plugin's (`[2024-03-12T10:15:21.810Z] `).
GITHUB_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?|^\[\d{4}-\d\d-\d\dT[\d:.]+Z?\] ")
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
KEYWORD = re.compile(r"error|fail", re.IGNORECASE)


def norm(line: str) -> str:
    line = ANSI.sub("", line)
    line = GITHUB_TS.sub("", line)
    line = CONTROL.sub("", line)
    line = re.sub(r"[<>&]", "", line)
    return " ".join(line.split())


def norm_set(lines: Iterable[str]) -> set[str]:
    return {n for n in (norm(x) for x in lines) if n}


@dataclass
class Case:
    id: str
    log: Path
    labeled: set[str]
    category: str
    baseline: Path | None


def load_cases(root: Path, only: str | None) -> dict[str, list[Case]]:
    sets: dict[str, list[Case]] = {}
    if only in (None, "logchunks") and (root / "logchunks/cases.jsonl").exists():
        cases = []
        for raw in (root / "logchunks/cases.jsonl").read_text().splitlines():
            c = json.loads(raw)
            cases.append(
                Case(
                    c["id"],
                    root / "logchunks" / c["log"],
                    norm_set(c["chunk"].split("\n")),
                    c["category"],
                    None,
                )
            )
        sets["logchunks"] = cases
    if only in (None, "cidiff") and (root / "cidiff/cases.jsonl").exists():
        cases = []
        for raw in (root / "cidiff/cases.jsonl").read_text().splitlines():
            c = json.loads(raw)
            fail = root / "cidiff" / c["fail"]
            lines = split_lines(fail.read_bytes().decode("utf-8", "replace"))
            labeled = [lines[i - 1] for a, b in c["error_lines"] for i in range(a, b + 1) if i <= len(lines)]
            cases.append(
                Case(c["id"], fail, norm_set(labeled), c["category"], root / "cidiff" / c["passing"])
            )
        sets["cidiff"] = cases
    return sets


def prf(excerpt: set[str], labeled: set[str]) -> tuple[float, float, float]:
    hits = len(excerpt & labeled)
    p = hits / len(excerpt) if excerpt else 0.0
    r = hits / len(labeled) if labeled else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def last20(path: Path) -> list[str]:
    return split_lines(path.read_bytes().decode("utf-8", "replace"))[-20:]


def keyword2(path: Path) -> list[str]:
    lines = split_lines(path.read_bytes().decode("utf-8", "replace"))
    keep: set[int] = set()
    for i, line in enumerate(lines):
        if KEYWORD.search(line):
            keep.update(range(max(0, i - 2), min(len(lines), i + 3)))
    return [lines[i] for i in sorted(keep)]


def score(
    cases: list[Case], excerpt_of: Callable[[Case], tuple[list[str], str | None, str | None]]
) -> dict[str, float]:
    ps, rs, fs, full, hit1, cat = [], [], [], 0, 0, 0
    for case in cases:
        excerpt, first_focus, category = excerpt_of(case)
        p, r, f = prf(norm_set(excerpt), case.labeled)
        ps.append(p)
        rs.append(r)
        fs.append(f)
        full += case.labeled <= norm_set(excerpt)
        hit1 += first_focus is not None and norm(first_focus) in case.labeled
        cat += category == case.category
    n = len(cases)
    return {
        "cases": n,
        "precision": statistics.mean(ps),
        "recall": statistics.mean(rs),
        "f1": statistics.mean(fs),
        "full": full / n,
        "hit1": hit1 / n,
        "category": cat / n,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--only", choices=["logchunks", "cidiff"])
    ap.add_argument("--show", type=int, default=0, help="print the N worst cases by F1")
    ap.add_argument("--no-baseline", action="store_true", help="analyze cidiff without the passing log")
    ap.add_argument("--json", type=Path, help="write per-case results here")
    ap.add_argument("--every", type=int, default=1, help="score every Nth case only (quick looks)")
    args = ap.parse_args(argv)
    sets = load_cases(args.dataset, args.only)
    if not sets:
        print(f"no cases under {args.dataset}", file=sys.stderr)
        return 2
    for name, all_cases in sets.items():
        cases = all_cases[:: args.every]
        results: dict[str, tuple[list[str], str | None, str | None, float]] = {}
        started = time.perf_counter()
        for case in cases:
            base = None if args.no_baseline else case.baseline
            d = analyze_file(case.log, baseline=base)
            results[case.id] = (
                [x.text for x in d.excerpt],
                d.focus[0].text if d.focus else None,
                d.category.value,
                0.0,
            )
        elapsed = time.perf_counter() - started

        def ours(
            case: Case, found: dict[str, tuple[list[str], str | None, str | None, float]] = results
        ) -> tuple[list[str], str | None, str | None]:
            excerpt, focus, category, _ = found[case.id]
            return excerpt, focus, category

        rows = {
            "cimedic": score(cases, ours),
            "last-20-lines": score(cases, lambda c: (last20(c.log), None, None)),
            "keyword-lines-±2": score(cases, lambda c: (keyword2(c.log), None, None)),
        }
        print(f"\n## {name} ({len(cases)} cases, {elapsed:.1f} s for cimedic)")
        print("| method | precision | recall | F1 | full | hit1 | category |")
        print("|---|---|---|---|---|---|---|")
        for method, m in rows.items():
            print(
                f"| {method} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['full']:.3f} "
                f"| {m['hit1']:.3f} | {m['category']:.3f} |"
            )
        confusion = Counter((c.category, results[c.id][2]) for c in cases if results[c.id][2] != c.category)
        print(
            "category confusions (labeled → ours):",
            ", ".join(f"{a}→{b}: {k}" for (a, b), k in confusion.most_common(8)),
        )
        if args.show:
            worst = sorted(cases, key=lambda c: prf(norm_set(results[c.id][0]), c.labeled)[2])[: args.show]
            for c in worst:
                p, r, f = prf(norm_set(results[c.id][0]), c.labeled)
                print(f"- {c.id} F1={f:.2f} P={p:.2f} R={r:.2f} focus={results[c.id][1]!r:.120}")
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            with args.json.open("a") as out:
                for c in cases:
                    p, r, f = prf(norm_set(results[c.id][0]), c.labeled)
                    out.write(
                        json.dumps(
                            {
                                "set": name,
                                "id": c.id,
                                "p": p,
                                "r": r,
                                "f1": f,
                                "category": results[c.id][2],
                                "label": c.category,
                            }
                        )
                        + "\n"
                    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
