"""Category accuracy of the rule catalog on the LABELED failure lines of the evaluation datasets.

    .venv/bin/python bench/classify_labeled.py ../shared/datasets [--confusions N] [--show-misses]

For every case the labeled lines (LogChunks: the `chunk` text; CiDiff: `error_text`) are cleaned the way
the engine cleans log lines (`agent.logtext.clean_line`), given to `Catalog.classify` as the focus, and the
predicted category is compared with the labeled one. This is the upper bound of what classification can
reach: the engine later classifies its own excerpt, which may miss labeled lines. Per dataset it prints
accuracy, per-category recall, and the most frequent confusions with an example case and the rule that
decided. The dataset directory is an argument; nothing in the product reads it.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.catalog import Catalog, Classification, default_catalog
from agent.models import LogLine

try:
    from agent.logtext import clean_line as _clean_line

    def clean(raw: str) -> str:
        return _clean_line(raw).text

except ImportError:  # pragma: no cover - fallback while agent.logtext is not available
    _ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|(?<![\w\]])\[(?:\d{1,3}(?:;\d{1,3})*)?[mK]")
    _STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z ?")
    _MARK = re.compile(r"^##\[(error|warning|group|endgroup|command)\]")

    def clean(raw: str) -> str:
        return _MARK.sub("", _STAMP.sub("", _ANSI.sub("", raw))).rstrip()


# LogChunks released some chunks with the ESC byte dropped (datasets/README.md), leaving `[31m`, `[0K` or
# `[?1l>` behind where the real log has escape sequences that the engine's cleaner removes. Undo that
# artifact before cleaning, for chunk lines without any ESC byte only.
_LOST_ESC = re.compile(r"\[[0-9;]*[mK]|=?\[\?1[lh]>?=?")


def lines_of(texts: list[str]) -> list[LogLine]:
    out = []
    for number, raw in enumerate(texts, start=1):
        text = clean(raw if "\x1b" in raw else _LOST_ESC.sub("", raw))
        if text.strip():
            out.append(LogLine(line=number, text=text))
    return out


def _log_lines(path: Path) -> list[str]:
    return re.split(r"\r\n|\r|\n", path.read_text(encoding="utf-8", errors="replace"))


def _with_context(focus: list[LogLine], log: list[str], first: int, last: int, around: int) -> list[LogLine]:
    """The log lines within `around` of [first, last] (1-based), minus the focus lines themselves."""
    taken = {ln.line for ln in focus}
    lo, hi = max(1, first - around), min(len(log), last + around)
    shifted = [LogLine(line=ln.line + lo - 1, text=ln.text) for ln in lines_of(log[lo - 1 : hi])]
    return [ln for ln in shifted if ln.line not in taken]


def cases(dataset_dir: Path, around: int = 0) -> Iterator[tuple[str, str, str, list[LogLine], list[LogLine]]]:
    """(dataset, case id, labeled category, labeled lines, surrounding log lines when `around` > 0)."""
    logchunks = dataset_dir / "logchunks" / "cases.jsonl"
    if logchunks.exists():
        for row in map(json.loads, logchunks.read_text(encoding="utf-8").splitlines()):
            texts = re.split(r"\r\n|\r|\n", row["chunk"])
            focus = lines_of(texts)
            context: list[LogLine] = []
            if around and focus:
                # The chunk is not located by line number in LogChunks: find its first line in the log.
                log = _log_lines(logchunks.parent / row["log"])
                cleaned = [clean(t if "\x1b" in t else _LOST_ESC.sub("", t)) for t in log]
                start = next((i for i, t in enumerate(cleaned) if t.strip() == focus[0].text.strip()), None)
                if start is not None:
                    focus = [LogLine(line=start + ln.line, text=ln.text) for ln in focus]
                    context = _with_context(focus, log, start + 1, start + len(texts), around)
            yield "logchunks", row["id"], row["category"], focus, context
    cidiff = dataset_dir / "cidiff" / "cases.jsonl"
    if cidiff.exists():
        for row in map(json.loads, cidiff.read_text(encoding="utf-8").splitlines()):
            texts = row["error_text"]
            if isinstance(texts, str):
                texts = re.split(r"\r\n|\r|\n", texts)
            focus = lines_of(texts)
            context = []
            if around and row["error_lines"]:
                first, last = row["error_lines"][0][0], row["error_lines"][-1][1]
                focus = [LogLine(line=first - 1 + ln.line, text=ln.text) for ln in focus]
                context = _with_context(focus, _log_lines(cidiff.parent / row["fail"]), first, last, around)
            yield "cidiff", row["id"], row["category"], focus, context


def describe(result: Classification) -> str:
    if result.hit is None:
        return "keywords" if result.confidence > 0 else "none"
    return f"{result.hit.rule.id} @ {result.hit.line.text.strip()[:90]!r}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset_dir", type=Path)
    parser.add_argument("--confusions", type=int, default=15, help="how many confusion pairs to list")
    parser.add_argument("--show-misses", action="store_true", help="list every misclassified case")
    parser.add_argument(
        "--around",
        type=int,
        default=0,
        help="also pass N log lines before and after the labeled lines as excerpt (robustness to noise)",
    )
    args = parser.parse_args(argv)

    catalog: Catalog = default_catalog()
    per: dict[str, list[tuple[str, str, str, Classification]]] = collections.defaultdict(list)
    started = time.perf_counter()
    total_lines = 0
    for dataset, case_id, label, lines, context in cases(args.dataset_dir, args.around):
        total_lines += len(lines) + len(context)
        per[dataset].append((case_id, label, "", catalog.classify(lines, context)))
    elapsed = time.perf_counter() - started
    if not per:
        print(f"no cases under {args.dataset_dir}", file=sys.stderr)
        return 2

    print(f"catalog: {len(catalog.rules)} rules; {total_lines} lines classified in {elapsed:.2f}s")
    for dataset, rows in per.items():
        correct = sum(1 for _, label, _, r in rows if r.category.value == label)
        by_label: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
        confusions: collections.Counter[tuple[str, str]] = collections.Counter()
        example: dict[tuple[str, str], tuple[str, Classification]] = {}
        for case_id, label, _, r in rows:
            by_label[label][1] += 1
            if r.category.value == label:
                by_label[label][0] += 1
            else:
                pair = (label, r.category.value)
                confusions[pair] += 1
                example.setdefault(pair, (case_id, r))
        print(f"\n== {dataset}: category accuracy {correct / len(rows):.3f} ({correct}/{len(rows)})")
        print(
            "   per category (recall): "
            + ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in sorted(by_label.items(), key=lambda kv: -kv[1][1]))
        )
        rule_hits = sum(1 for *_, r in rows if r.hit is not None)
        print(f"   decided by a rule: {rule_hits}/{len(rows)}")
        print("   confusions (labeled -> predicted):")
        for (label, predicted), count in confusions.most_common(args.confusions):
            case_id, r = example[(label, predicted)]
            print(f"     {count:3d}  {label:>14} -> {predicted:<14} e.g. {case_id}: {describe(r)}")
        if args.show_misses:
            for case_id, label, _, r in rows:
                if r.category.value != label:
                    print(f"     MISS {label} -> {r.category.value} {case_id}: {describe(r)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
