"""Out-of-sample quality: the engine scored by repository folds (LogChunks), job-group folds (CiDiff) and
tool groups (the generated corpus of bench/corpus).

    python bench/crossval.py ../shared/datasets [--corpus bench/corpus/out] [--folds 5] [--show N]
                             [--generic-only]

The engine's rules and signals are written by hand, so "training" is the set of logs a developer looked at
while changing them. Each case gets a fold from a hash of its repository (LogChunks) or job group (CiDiff),
so one repository's logs never straddle folds. `HELD_OUT` names the folds nobody looks at while changing
the engine: `--show` lists misses from the development folds only, and the report gives both figures
(development = in-sample, held out = out-of-sample) and their gap, and the gap with each fold held out in
turn (whether fold 0 is merely a hard one), beside the spread of the gap that random held-out sets of as many
groups show by chance. On the generated corpus the groups are the tools:
`HELD_OUT_TOOLS` are the tools whose logs were not looked at while writing rules.

`--generic-only` scores the engine with no tool's rules (the catalog reduced to generic.yaml and the
category keywords): what it does on a tool nobody wrote a rule for. Changes to the fallbacks (the category
keywords, the command's category, the line signals) are judged on that too, since the owners' unseen
repositories are mostly tools without rules.

Category confidence is checked the same way: a reliability table (confidence bins against the share of
right categories) on the held-out folds says whether a confidence of 0.8 means 80% right, with its expected
calibration error (ECE: the case-weighted mean gap between confidence and accuracy over the bins).
`--fit-calibration` refits agent/signals/calibration.yaml from the development folds and in-sample tools
only (raw confidences; one table, and per answered category that table shifted: bench/calibration_fit.py,
which also scores the tables held out and leave-one-fold-out from `--json` rows), so the held-out figures
stay out of sample.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import statistics
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import Case, load_cases, norm, norm_set, prf

from agent import engine
from agent.catalog import KEYWORDS_FILE, Catalog, load_catalog
from agent.engine import analyze_file
from agent.signals import Calibration

# Chosen before any change was measured on them (2026-12-05): fold 0 of 5 by sha256 of the repository
# (LogChunks) or job group (CiDiff). Never tune on these; only report them.
HELD_OUT = frozenset({0})
# Generated-corpus tools whose logs were not looked at while writing rules (see bench/corpus/generate.py).
# The tools bench/corpus/generate.py installs joined on 2026-12-06, held out before their output was first
# scored.
INSTALLED_TOOLS = frozenset(
    {"tsc", "eslint", "mocha", "flake8", "jest", "prettier", "bats", "black", "pylint", "yarn"}
)
# asan and clang joined with them (clang from Debian's packages, where the machine has it).
BUILT_IN_HELD_OUT = frozenset({"go", "shellcheck", "javac", "unittest", "clippy", "rustfmt", "asan", "clang"})
HELD_OUT_TOOLS = BUILT_IN_HELD_OUT | INSTALLED_TOOLS
BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.01)
CALIBRATION = Path(__file__).resolve().parent.parent / "agent" / "signals" / "calibration.yaml"
RULES = Path(__file__).resolve().parent.parent / "agent" / "rules"


@dataclass(frozen=True)
class Result:
    set: str
    id: str
    group: str
    fold: int
    p: float
    r: float
    f1: float
    full: bool
    hit1: bool
    category_ok: bool
    confidence: float
    category: str
    label: str
    focus: str | None


def fold_of(group: str, folds: int) -> int:
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % folds


def groups_of(root: Path) -> dict[str, str]:
    """Case id -> repository (LogChunks) or job group (CiDiff)."""
    out: dict[str, str] = {}
    for name, key in (("logchunks", "repo"), ("cidiff", "group")):
        path = root / name / "cases.jsonl"
        if path.exists():
            for raw in path.read_text().splitlines():
                c = json.loads(raw)
                out[c["id"]] = c[key]
    return out


def generic_catalog() -> Catalog:
    """The catalog without any tool's rules (only agent/rules/generic.yaml and the category keywords): the
    engine as it meets a tool no rule was written for, which is what an unseen repository often is."""
    rules = RULES / "generic.yaml"
    keywords = RULES / KEYWORDS_FILE
    return load_catalog({rules.name: rules.read_text()}, keywords.read_text())


def run(
    name: str, cases: Iterable[Case], group: dict[str, str], folds: int, catalog: Catalog | None = None
) -> list[Result]:
    results = []
    for case in cases:
        d = analyze_file(case.log, baseline=case.baseline, catalog=catalog)
        excerpt = norm_set(x.text for x in d.excerpt)
        p, r, f = prf(excerpt, case.labeled)
        focus = d.focus[0].text if d.focus else None
        g = group[case.id]
        results.append(
            Result(
                set=name,
                id=case.id,
                group=g,
                fold=fold_of(g, folds),
                p=p,
                r=r,
                f1=f,
                full=case.labeled <= excerpt,
                hit1=focus is not None and norm(focus) in case.labeled,
                category_ok=d.category.value == case.category,
                confidence=d.confidence,
                category=d.category.value,
                label=case.category,
                focus=focus,
            )
        )
    return results


def summary(rows: list[Result]) -> dict[str, float]:
    if not rows:
        return {"cases": 0}
    return {
        "cases": len(rows),
        "precision": statistics.mean(r.p for r in rows),
        "recall": statistics.mean(r.r for r in rows),
        "f1": statistics.mean(r.f1 for r in rows),
        "full": statistics.mean(r.full for r in rows),
        "hit1": statistics.mean(r.hit1 for r in rows),
        "category": statistics.mean(r.category_ok for r in rows),
    }


def table(title: str, parts: dict[str, list[Result]]) -> None:
    print(f"\n## {title}")
    print("| part | cases | precision | recall | F1 | full | hit1 | category |")
    print("|---|---|---|---|---|---|---|---|")
    for label, rows in parts.items():
        m = summary(rows)
        if not rows:
            continue
        print(
            f"| {label} | {m['cases']:.0f} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} "
            f"| {m['full']:.3f} | {m['hit1']:.3f} | {m['category']:.3f} |"
        )


def rotate(rows: list[Result], folds: int) -> None:
    """Each fold in turn as the held-out one (leave one fold out): whether the fixed held-out fold is
    simply a hard one. Nothing is tuned per fold, so the spread is what repositories differ by."""
    gaps = []
    for k in range(folds):
        held = [r for r in rows if r.fold == k]
        rest = [r for r in rows if r.fold != k]
        if held and rest:
            gaps.append(summary(rest)["f1"] - summary(held)["f1"])
    if gaps:
        listed = " ".join(f"{g:+.3f}" for g in gaps)
        print(f"F1 gap with each fold held out in turn: {listed}; mean {statistics.mean(gaps):+.3f}")
    chance(rows, len({r.group for r in rows if r.fold in HELD_OUT}))


def chance(rows: list[Result], size: int, trials: int = 2000) -> None:
    """The gap a random held-out set of `size` groups shows with an unchanged engine: repositories differ so
    much that one small fold's gap says little until it exceeds this spread."""
    groups = sorted({r.group for r in rows})
    if not 0 < size < len(groups):
        return
    f1s: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        f1s[r.group].append(r.f1)
    rng = random.Random(1)
    gaps = []
    for _ in range(trials):
        held = set(rng.sample(groups, size))
        out = [f for g in held for f in f1s[g]]
        rest = [f for g in groups if g not in held for f in f1s[g]]
        gaps.append(statistics.mean(rest) - statistics.mean(out))
    print(
        f"F1 gap of a random held-out set of {size} groups (chance, {trials} draws): "
        f"mean {statistics.mean(gaps):+.3f}, sd {statistics.stdev(gaps):.3f}"
    )


def reliability(title: str, rows: list[Result]) -> None:
    """Confidence bins against observed category accuracy (a calibrated engine has them close)."""
    print(f"\n{title}: confidence bin → cases, mean confidence, share with the right category")
    gap = 0.0
    for lo, hi in itertools.pairwise(BINS):
        inbin = [r for r in rows if lo <= r.confidence < hi]
        if inbin:
            conf = statistics.mean(r.confidence for r in inbin)
            acc = statistics.mean(r.category_ok for r in inbin)
            gap += len(inbin) * abs(conf - acc)
            print(f"- [{lo:.1f}, {min(hi, 1.0):.1f}): {len(inbin)} cases, {conf:.2f}, {acc:.2f}")
    if rows:
        print(f"- ECE {gap / len(rows):.3f}")


def corpus_cases(corpus: Path) -> tuple[list[Case], dict[str, str]]:
    """The generated corpus: labels.jsonl beside the logs (bench/corpus/generate.py writes both)."""
    cases, group = [], {}
    for raw in (corpus / "labels.jsonl").read_text().splitlines():
        c = json.loads(raw)
        log = corpus / c["log"]
        if not log.exists():
            continue
        cases.append(Case(c["id"], log, norm_set(c["key_lines"]), c["category"], None))
        group[c["id"]] = c["tool"]
    return cases, group


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--corpus", type=Path, help="a generated corpus (labels.jsonl and logs)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--show", type=int, default=0, help="list the N worst development-fold cases")
    ap.add_argument("--json", type=Path, help="write per-case results here")
    ap.add_argument(
        "--fit-calibration",
        action="store_true",
        help=f"score with raw confidences and refit {CALIBRATION.name} from the development rows",
    )
    ap.add_argument(
        "--generic-only",
        action="store_true",
        help="analyze without the tools' rules (generic.yaml and the category keywords only)",
    )
    args = ap.parse_args(argv)
    catalog = generic_catalog() if args.generic_only else None
    if args.fit_calibration:
        engine.default_calibration = Calibration  # the identity: confidences as the engine computes them
    group = groups_of(args.dataset)
    sets = load_cases(args.dataset, None)
    everything: list[Result] = []
    for name, cases in sets.items():
        rows = run(name, cases, group, args.folds, catalog)
        everything += rows
        dev = [r for r in rows if r.fold not in HELD_OUT]
        held = [r for r in rows if r.fold in HELD_OUT]
        parts = {f"fold {k}{' (held out)' if k in HELD_OUT else ''}": [] for k in range(args.folds)}
        for r in rows:
            parts[f"fold {r.fold}{' (held out)' if r.fold in HELD_OUT else ''}"].append(r)
        parts["**development folds (in-sample)**"] = dev
        parts["**held-out folds (out-of-sample)**"] = held
        parts["all"] = rows
        table(f"{name}: folds by {'repository' if name == 'logchunks' else 'job group'}", parts)
        gap = summary(dev).get("f1", 0.0) - summary(held).get("f1", 0.0)
        print(f"\nF1 gap, development − held out: {gap:+.3f}")
        rotate(rows, args.folds)
        reliability(f"{name} held-out folds", held)
        if args.show:
            for r in sorted(dev, key=lambda r: r.f1)[: args.show]:
                print(f"- {r.id} F1={r.f1:.2f} cat={r.category}/{r.label} focus={r.focus!r:.110}")
    if args.corpus:
        cases, tools = corpus_cases(args.corpus)
        rows = run("corpus", cases, tools, args.folds, catalog)
        everything += rows
        by_tool: dict[str, list[Result]] = defaultdict(list)
        for r in rows:
            by_tool[r.group + (" (held out)" if r.group in HELD_OUT_TOOLS else "")].append(r)
        parts = dict(sorted(by_tool.items()))
        parts["**tools looked at (in-sample)**"] = [r for r in rows if r.group not in HELD_OUT_TOOLS]
        parts["**held-out tools (out-of-sample)**"] = [r for r in rows if r.group in HELD_OUT_TOOLS]
        parts["all"] = rows
        table(f"generated corpus ({args.corpus}): by tool", parts)
        reliability("corpus, all tools", rows)
        if args.show:
            looked = [r for r in rows if r.group not in HELD_OUT_TOOLS]
            for r in sorted(looked, key=lambda r: (r.f1, r.category_ok))[: args.show]:
                print(f"- {r.id} F1={r.f1:.2f} cat={r.category}/{r.label} focus={r.focus!r:.110}")
    reliability("everything", everything)
    if args.fit_calibration:
        import calibration_fit  # it reads this module's fold definitions

        rows = [
            calibration_fit.Row(r.set, r.group, r.fold, r.category, r.confidence, r.category_ok)
            for r in everything
        ]
        development = [r for r in rows if r.development]
        fitted = calibration_fit.fit(development)
        per_category = "".join(
            f"  {category}:\n" + "".join(f"    - [{x}, {y}]\n" for x, y in points)
            for category, points in fitted.by_category.items()
        )
        CALIBRATION.write_text(
            "# Category confidence calibration: [raw engine confidence, share of categories right], rising.\n"
            "# Fitted by `python bench/crossval.py DATASETS --corpus CORPUS --fit-calibration` on the\n"
            f"# {len(development)} development cases (folds and tools not held out); how, and how it does\n"
            "# out of sample: bench/calibration_fit.py. `points` over all categories; `categories`: per\n"
            "# answered category, the same table shifted by how often that category's answers were right.\n"
            + "points:\n"
            + "".join(f"  - [{x}, {y}]\n" for x, y in fitted.points)
            + f"categories:\n{per_category}"
        )
        print(f"\nwrote {CALIBRATION} ({len(development)} development cases)")
    if args.json:
        with args.json.open("w") as out:
            for r in everything:
                out.write(json.dumps(r.__dict__) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
