"""Retrieval quality of the knowledge base on LogChunks, against a BM25 baseline, in the same run.

For every log whose repository holds another log with the same failure (same normalized first focus line, or
same rule and category), the knowledge base holding all the other logs should return one of them in the top 3.
Both systems see the same analysed logs (the CI Medic engine), rank past failures of the same repository, and
are scored by the fingerprints they return: hit@1, hit@3 and MRR (over the top 10).

    .venv/bin/python bench/kb_retrieval.py /work/shared/datasets/logchunks \\
        [--cache bench/out/logchunks_diagnoses.jsonl] [--out bench/out/kb_retrieval.json] [--generic-only]

Both definitions above read the engine's own answers, so they reward an engine that names one failure the
same way every time. A third, "labels", reads only the dataset: two logs of a repository are the same
failure when their labeled failure lines are the same once numbers are masked (or share at least half of
them). `--generic-only` analyses with no tool's rules (bench/crossval.py's reduced catalog): the knowledge
base as it meets a repository whose tools have no rules, where categories come from the keyword fallback.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from rank_bm25 import BM25Okapi

from agent.config import Settings
from agent.engine import analyze_file
from agent.models import Diagnosis, JobContext
from knowledge import open_knowledge_base
from knowledge.config import KnowledgeSettings
from knowledge.text import lines_text, normalize

TOKEN = re.compile(r"[a-z0-9_]+")


@dataclass
class Case:
    id: str
    repo: str
    diagnosis: Diagnosis
    labeled: Labeled


def first_focus_key(d: Diagnosis) -> str:
    text = d.focus[0].text if d.focus else d.title
    return re.sub(r"\d+", "0", normalize(text).lower())


def relevant(q: Case, other: Case) -> bool:
    a, b = q.diagnosis, other.diagnosis
    if first_focus_key(a) == first_focus_key(b):
        return True
    return a.rule is not None and a.rule == b.rule and a.category == b.category


def label_key(line: str) -> str:
    return re.sub(r"\d+", "0", normalize(line).lower())


def label_relevant(q: Labeled, other: Labeled) -> bool:
    """The dataset's view: the same labeled lines (numbers masked), or at least half of them shared."""
    if not q.lines or not other.lines:
        return False
    if q.first == other.first:
        return True
    return len(q.lines & other.lines) * 2 >= max(len(q.lines), len(other.lines))


@dataclass(frozen=True)
class Labeled:
    first: str
    lines: frozenset[str]

    @classmethod
    def of(cls, chunk: str) -> Labeled:
        keys = [label_key(x) for x in chunk.split("\n") if x.strip()]
        return cls(keys[0] if keys else "", frozenset(keys))


def score(ranked: list[str], good: set[str]) -> tuple[int, int, float]:
    for rank, fp in enumerate(ranked[:10], start=1):
        if fp in good:
            return int(rank == 1), int(rank <= 3), 1.0 / rank
    return 0, 0, 0.0


def threshold_table(
    scored: list[list[tuple[str, float]]], wanted: list[set[str]], cuts: tuple[float, ...]
) -> dict[str, dict[str, float]]:
    with_match = [i for i, g in enumerate(wanted) if g]
    without = [i for i, g in enumerate(wanted) if not g]
    table = {}
    for t in cuts:
        shown = [[fp for fp, sim in found if sim >= t][:3] for found in scored]
        n_shown = sum(len(s) for s in shown)
        table[str(t)] = {
            "hit@3": sum(any(fp in wanted[i] for fp in shown[i]) for i in with_match) / len(with_match),
            "precision_shown": sum(fp in wanted[i] for i, s in enumerate(shown) for fp in s)
            / max(n_shown, 1),
            "false_seen_before": sum(bool(shown[i]) for i in without) / max(len(without), 1),
        }
    return table


def dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=None, help="JSONL of engine diagnoses to reuse/write")
    parser.add_argument(
        "--record-with",
        type=json.loads,
        default=None,
        help="record with these settings changed (JSON), query with the configured ones",
    )
    parser.add_argument(
        "--generic-only",
        action="store_true",
        help="analyse with only generic.yaml and the category keywords (tools without rules)",
    )
    args = parser.parse_args()
    catalog = None
    if args.generic_only:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from crossval import generic_catalog

        catalog = generic_catalog()

    cases_file = args.dataset / "cases.jsonl"
    raw = [json.loads(line) for line in cases_file.read_text().splitlines() if line.strip()]
    # The engine's answers are cached: analysing 94 MB of logs takes minutes on a busy machine, and the
    # knowledge base, not the engine, is what this benchmark measures.
    cache: dict[str, dict[str, object]] = {}
    if args.cache and args.cache.exists():
        cache = {r["id"]: r["diagnosis"] for r in map(json.loads, args.cache.read_text().splitlines())}
    t0 = time.perf_counter()
    cases = []
    for r in raw:
        if r["id"] in cache:
            diagnosis = Diagnosis.model_validate(cache[r["id"]])
        else:
            context = JobContext(ci_system="travis", repo=r["repo"])
            diagnosis = analyze_file(
                args.dataset / r["log"], source=r["log"], context=context, catalog=catalog
            )
        cases.append(Case(r["id"], r["repo"], diagnosis, Labeled.of(r["chunk"])))
    if args.cache and len(cache) < len(cases):
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_text(
            "".join(json.dumps({"id": c.id, "diagnosis": c.diagnosis.to_json_dict()}) + "\n" for c in cases)
        )
    t_analyze = time.perf_counter() - t0
    by_repo: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        by_repo[c.repo].append(c)

    # Two definitions of "the same failure": the issue's (same normalized first focus line, or same rule and
    # category) and a strict one (same first focus line only); rule+category alone is loose in repositories
    # whose logs all fail the same way.
    definitions = {
        "issue": relevant,
        "strict": lambda q, o: first_focus_key(q.diagnosis) == first_focus_key(o.diagnosis),
        "labels": lambda q, o: label_relevant(q.labeled, o.labeled),
    }
    good: dict[str, list[set[str]]] = {
        name: [{o.diagnosis.fingerprint for o in by_repo[q.repo] if o is not q and rel(q, o)} for q in cases]
        for name, rel in definitions.items()
    }

    systems: dict[str, list[list[str]]] = defaultdict(list)
    kb_scored: list[list[tuple[str, float]]] = []
    with tempfile.TemporaryDirectory() as home:
        query_settings = KnowledgeSettings(threshold=0.0, scope="repo")
        record_settings = query_settings
        if args.record_with:  # a store written by an earlier configuration, queried by the current one
            record_settings = query_settings.model_copy(update=args.record_with)
        kb = open_knowledge_base(Settings(home=Path(home)), record_settings)
        t0 = time.perf_counter()
        kb.record_many([(c.diagnosis, JobContext(ci_system="travis", repo=c.repo)) for c in cases])
        t_record = time.perf_counter() - t0
        if record_settings is not query_settings:
            kb.close()
            kb = open_knowledge_base(Settings(home=Path(home)), query_settings)
        t0 = time.perf_counter()
        for q in cases:
            found = kb.similar(q.diagnosis, 10, repo=q.repo)
            kb_scored.append([(s.fingerprint, s.similarity) for s in found])
            systems[f"knowledge base (exact + {query_settings.model} neighbours)"].append(
                [s.fingerprint for s in found]
            )
        t_query = time.perf_counter() - t0
        # `kb search TEXT`: what a user pastes is one line, the log's first focus line (its own failure is
        # left out unless another log of the repository shares its fingerprint).
        text_scored: list[list[tuple[str, float]]] = []
        for q in cases:
            line = q.diagnosis.focus[0].text if q.diagnosis.focus else q.diagnosis.title
            found = kb.search_text(line, 10, repo=q.repo, threshold=0.0)
            own = q.diagnosis.fingerprint
            issue_good = {o.diagnosis.fingerprint for o in by_repo[q.repo] if o is not q and relevant(q, o)}
            text_scored.append(
                [(s.fingerprint, s.similarity) for s in found if s.fingerprint != own or own in issue_good]
            )
        kb.close()

    index = {id(c): i for i, c in enumerate(cases)}
    for field, texts in (
        ("excerpt", [lines_text(c.diagnosis.excerpt) for c in cases]),
        ("focus", [lines_text(c.diagnosis.focus) or c.diagnosis.title for c in cases]),
    ):
        bm25 = BM25Okapi([TOKEN.findall(t.lower()) or ["_"] for t in texts])
        for q in cases:
            scores = bm25.get_scores(TOKEN.findall(texts[index[id(q)]].lower()))
            others = [o for o in by_repo[q.repo] if o is not q]
            others.sort(key=lambda o: -scores[index[id(o)]])
            # one answer per fingerprint, like the knowledge base; the query's own log is never a candidate
            systems[f"BM25 over {field} text"].append(dedupe([o.diagnosis.fingerprint for o in others]))
    rng = random.Random(0)
    for q in cases:  # how easy the task is: other logs of the same repository in random order
        others = [o.diagnosis.fingerprint for o in by_repo[q.repo] if o is not q]
        rng.shuffle(others)
        systems["random other log of the repo (no text)"].append(dedupe(others))

    results: dict[str, dict[str, dict[str, float]]] = {}
    for definition, wanted in good.items():
        queried = [i for i, g in enumerate(wanted) if g]
        results[definition] = {"queries": {"n": len(queried)}}
        for name, rankings in systems.items():
            sums = [0.0, 0.0, 0.0]
            for i in queried:
                for m, value in enumerate(score(rankings[i], wanted[i])):
                    sums[m] += value
            n = len(queried)
            results[definition][name] = {"hit@1": sums[0] / n, "hit@3": sums[1] / n, "mrr": sums[2] / n}

    # What the threshold trades: hit@3 over logs that have a match, precision of what is shown (top 3 above
    # the threshold), and how often a log without any match still gets a "seen before" answer.
    cuts = (0.0, 0.4, 0.5, 0.55, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)
    for definition in ("issue", "labels"):
        results[f"thresholds ({definition} definition)"] = threshold_table(  # type: ignore[assignment]
            kb_scored, good[definition], cuts
        )
    text_cuts = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
    text_thresholds = threshold_table(text_scored, good["issue"], text_cuts)
    results["kb search thresholds (first focus line as text)"] = text_thresholds  # type: ignore[assignment]

    report = {
        "logs": len(cases),
        "settings": {
            "record": record_settings.model_dump(include={"model", "max_tokens", "precision"}),
            "query": query_settings.model_dump(include={"model", "max_tokens", "precision"}),
        },
        "repos": len(by_repo),
        "seconds": {
            "analyze_all": round(t_analyze, 1),
            "record_all": round(t_record, 1),
            "kb_queries": round(t_query, 2),
        },
        "results": results,
    }
    print(json.dumps(report, indent=2))
    for definition in good:
        print(f"\n{definition}: {results[definition]['queries']['n']} queries")
        print("| system | hit@1 | hit@3 | MRR |\n|---|---|---|---|")
        for name, m in results[definition].items():
            if name != "queries":
                print(f"| {name} | {m['hit@1']:.3f} | {m['hit@3']:.3f} | {m['mrr']:.3f} |")
    for definition in ("issue", "labels"):
        print(f"\n{definition} definition:")
        print("| threshold | hit@3 | precision of shown | no-match logs shown something |\n|---|---|---|---|")
        for t, m in results[f"thresholds ({definition} definition)"].items():
            print(f"| {t} | {m['hit@3']:.3f} | {m['precision_shown']:.3f} | {m['false_seen_before']:.3f} |")
    print("\n`kb search` with the first focus line:")
    print("| threshold | hit@3 | precision of shown | no-match logs shown something |\n|---|---|---|---|")
    for t, m in text_thresholds.items():
        print(f"| {t} | {m['hit@3']:.3f} | {m['precision_shown']:.3f} | {m['false_seen_before']:.3f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
