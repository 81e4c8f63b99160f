"""Category confidence calibration: fit a table from development rows, and check it out of sample.

The engine's raw confidence (rule specificity and agreement, how strongly the focus line states an error)
hardly orders right answers before wrong ones; the answered category does (docs/benchmarks.md, "Category
confidence (issue 14 item 3)"). So: one table of the share of right answers by raw-confidence bin over all
categories (made to rise by pooling adjacent violators), and per answered category that table shifted up or
down by how often the category's answers were right against what the table says, the shift shrunk toward
zero (a category of 7 cases says little on its own). A category with too few development cases uses the
table over all categories. Separate raw-confidence bins per category were tried and overfit:
leave-one-fold-out Brier 0.099-0.107, against 0.099 for one table and 0.094 for the shift
(docs/benchmarks.md, "Category confidence, uncertain diagnoses, seen before").

    python bench/calibration_fit.py ROWS.jsonl

ROWS.jsonl is `bench/crossval.py DATASETS [--corpus DIR] --fit-calibration --json ROWS.jsonl` (raw
confidences). Reports expected calibration error (ECE), Brier score and per-category right-share against
mean confidence, for the table over all categories (the method before) and the per-category table: on the
held-out folds with tables fitted on the development rows, and leave-one-fold-out (each fold scored with
tables fitted on the other folds). Then, for candidate "category uncertain" thresholds, how many answers
fall below and how often those are right.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from crossval import BINS, HELD_OUT, HELD_OUT_TOOLS

from agent.signals import Calibration, Points

# Fixed-width bins for fitting (finer at the top, where most diagnoses are): equal-count bins would pool
# the few unrecognised failures (raw confidence near 0, never right) with confident ones.
FIT_EDGES = (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.9, 1.01)
MIN_BIN = 20  # a bin with fewer cases joins the next one: a share of 3 cases says little
MIN_CATEGORY = 5  # fewer development cases: the category uses the table over all categories
# How many cases' worth of "no shift" a category's shift is shrunk with (`fit`). Chosen by the Brier score
# of leave-one-fold-out over the development folds only (`--strengths` reports the alternatives).
STRENGTH = 20.0


@dataclass(frozen=True)
class Row:
    set: str
    group: str
    fold: int
    category: str
    raw: float
    right: bool

    @property
    def development(self) -> bool:
        if self.set == "corpus":
            return self.group not in HELD_OUT_TOOLS
        return self.fold not in HELD_OUT


def load_rows(path: Path) -> list[Row]:
    rows = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        rows.append(Row(r["set"], r["group"], r["fold"], r["category"], r["confidence"], r["category_ok"]))
    return rows


def _pool(blocks: Sequence[tuple[float, float, float]]) -> Points:
    """(mean raw, share right, weight) blocks -> rising points: adjacent violators pooled."""
    pooled: list[tuple[float, float, float]] = []
    for x, y, n in blocks:
        while pooled and pooled[-1][1] > y:
            px, py, pn = pooled.pop()
            x, y, n = (px * pn + x * n) / (pn + n), (py * pn + y * n) / (pn + n), pn + n
        pooled.append((x, y, n))
    return tuple((round(x, 3), round(y, 3)) for x, y, _ in pooled)


def _bins(rows: Sequence[Row], min_bin: int) -> list[list[Row]]:
    blocks: list[list[Row]] = []
    carry: list[Row] = []
    for lo, hi in itertools.pairwise(FIT_EDGES):
        carry += [r for r in rows if lo <= r.raw < hi]
        if len(carry) >= min_bin:
            blocks.append(carry)
            carry = []
    if carry and blocks:
        blocks[-1] += carry
    elif carry:
        blocks.append(carry)
    return blocks


def fit_points(rows: Sequence[Row]) -> Points:
    """Raw confidence bins -> share right, made to rise."""
    blocks = [
        (statistics.mean(r.raw for r in block), statistics.mean(r.right for r in block), float(len(block)))
        for block in _bins(rows, MIN_BIN)
    ]
    return _pool(blocks)


def fit(rows: Sequence[Row], strength: float = STRENGTH) -> Calibration:
    """The table over all categories, and per answered category that table shifted by how much more or
    less often the category's answers were right than the table says, shrunk toward no shift: the shift is
    the sum of (right - table(raw)) over the category's rows divided by (rows + `strength`)."""
    rows = [r for r in rows if r.category != "unknown"]
    overall = fit_points(rows)
    table = Calibration(overall)
    grouped: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        grouped[r.category].append(r)
    by_category: dict[str, Points] = {}
    for category, mine in sorted(grouped.items()):
        if len(mine) < MIN_CATEGORY:
            continue
        shift = sum(r.right - table.apply(r.raw) for r in mine) / (len(mine) + strength)
        by_category[category] = tuple((x, round(min(1.0, max(0.0, y + shift)), 3)) for x, y in overall)
    return Calibration(overall, by_category)


def fit_overall(rows: Sequence[Row]) -> Calibration:
    """The method before: one table over all categories."""
    return Calibration(fit_points([r for r in rows if r.category != "unknown"]))


def confidence(table: Calibration, row: Row) -> float:
    # As agent/engine.py: `unknown` keeps its capped raw confidence.
    return row.raw if row.category == "unknown" else round(table.apply(row.raw, row.category), 2)


Scored = list[tuple[Row, float]]


def ece(scored: Scored) -> float:
    gap = 0.0
    for lo, hi in itertools.pairwise(BINS):
        inbin = [(r, c) for r, c in scored if lo <= c < hi]
        if inbin:
            gap += len(inbin) * abs(
                statistics.mean(c for _, c in inbin) - statistics.mean(r.right for r, _ in inbin)
            )
    return gap / max(len(scored), 1)


def category_error(scored: Scored) -> float:
    """Case-weighted gap between each answered category's mean confidence and its share right: what one
    table cannot get right when categories differ (ECE over confidence bins can stay small while network
    answers read 0.90 and are right half the time)."""
    return sum(n * abs(conf - right) for n, right, conf in by_category(scored).values()) / max(len(scored), 1)


def brier(scored: Scored) -> float:
    return statistics.mean((c - r.right) ** 2 for r, c in scored) if scored else 0.0


def auc(scored: Scored) -> float:
    """Probability that a right answer gets a higher confidence than a wrong one (ties count half)."""
    right = [c for r, c in scored if r.right]
    wrong = [c for r, c in scored if not r.right]
    if not right or not wrong:
        return float("nan")
    wins = sum((a > b) + 0.5 * (a == b) for a in right for b in wrong)
    return wins / (len(right) * len(wrong))


def held_out(rows: Sequence[Row], method: Callable[[Sequence[Row]], Calibration]) -> Scored:
    table = method([r for r in rows if r.development])
    return [(r, confidence(table, r)) for r in rows if not r.development]


def leave_one_fold_out(
    rows: Sequence[Row],
    method: Callable[[Sequence[Row]], Calibration],
    folds: Sequence[int] = (0, 1, 2, 3, 4),
) -> Scored:
    out: Scored = []
    for k in folds:
        inside = [r for r in rows if r.fold in folds]
        table = method([r for r in inside if r.fold != k])
        out += [(r, confidence(table, r)) for r in inside if r.fold == k]
    return out


def by_category(scored: Scored) -> dict[str, tuple[int, float, float]]:
    grouped: dict[str, Scored] = defaultdict(list)
    for r, c in scored:
        grouped[r.category].append((r, c))
    return {
        k: (len(v), statistics.mean(r.right for r, _ in v), statistics.mean(c for _, c in v))
        for k, v in sorted(grouped.items())
    }


def report(name: str, parts: dict[str, Scored]) -> None:
    print(f"\n## {name}")
    print("| method | cases | ECE (bins) | category error | Brier | AUC right>wrong |\n" + "|---" * 6 + "|")
    for label, scored in parts.items():
        print(
            f"| {label} | {len(scored)} | {ece(scored):.3f} | {category_error(scored):.3f} "
            f"| {brier(scored):.3f} | {auc(scored):.3f} |"
        )
    for label, scored in parts.items():
        cells = []
        for lo, hi in itertools.pairwise(BINS):
            inbin = [(r, c) for r, c in scored if lo <= c < hi]
            if inbin:
                conf = statistics.mean(c for _, c in inbin)
                right = statistics.mean(r.right for r, _ in inbin)
                cells.append(f"[{lo:.1f}, {min(hi, 1.0):.1f}) {len(inbin)}: {conf:.2f}/{right:.2f}")
        print(f"- {label}, bin cases: mean confidence/right: " + "; ".join(cells))
    labels = list(parts)
    print("\n| answered category | cases | right | " + " | ".join(f"mean conf, {x}" for x in labels) + " |")
    print("|---|---|---|" + "---|" * len(labels))
    tables = [by_category(s) for s in parts.values()]
    for category, (n, right, _) in tables[0].items():
        confs = " | ".join(f"{t[category][2]:.2f}" for t in tables)
        print(f"| {category} | {n} | {right:.2f} | {confs} |")


def thresholds(name: str, scored: Scored) -> None:
    print(f"\n{name}: answers below a threshold (categorized ones; `unknown` is always uncertain)")
    print("| below | answers | share of all | right among them | right above |\n|---|---|---|---|---|")
    categorized = [(r, c) for r, c in scored if r.category != "unknown"]
    for t in (0.6, 0.7, 0.75, 0.78, 0.8, 0.82, 0.85):
        low = [r.right for r, c in categorized if c < t]
        high = [r.right for r, c in categorized if c >= t]
        print(
            f"| {t:.2f} | {len(low)} | {len(low) / max(len(categorized), 1):.2f} "
            f"| {statistics.mean(low) if low else float('nan'):.2f} "
            f"| {statistics.mean(high) if high else float('nan'):.2f} |"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rows", type=Path, help="bench/crossval.py --fit-calibration --json output")
    ap.add_argument(
        "--strengths", default="0,5,10,20,40,80,160", help="prior strengths to compare (development folds)"
    )
    args = ap.parse_args(argv)
    rows = load_rows(args.rows)
    development = [r for r in rows if r.development]
    print("Prior strength, leave-one-fold-out over the development folds only:")
    for s in (float(x) for x in args.strengths.split(",")):
        scored = leave_one_fold_out(development, lambda rs, s=s: fit(rs, s), folds=(1, 2, 3, 4))
        print(
            f"- {s:g}: ECE {ece(scored):.3f}, category error {category_error(scored):.3f}, "
            f"Brier {brier(scored):.3f}, AUC {auc(scored):.3f}"
        )
    methods = {"one table (before)": fit_overall, "per category (after)": fit}
    report("held-out folds and tools", {k: held_out(rows, m) for k, m in methods.items()})
    report("leave-one-fold-out, all folds", {k: leave_one_fold_out(rows, m) for k, m in methods.items()})
    thresholds("leave-one-fold-out, per category", leave_one_fold_out(rows, fit))
    thresholds("held-out folds, per category", held_out(rows, fit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
