"""Retrieval quality of the knowledge base on LogChunks, against a BM25 baseline, in the same run.

For every log whose repository holds another log with the same failure (same normalized first focus line, or
same rule and category), the knowledge base holding all the other logs should return one of them in the top 3.
Both systems see the same analysed logs (the CI Medic engine), rank past failures of the same repository, and
are scored by the fingerprints they return: hit@1, hit@3 and MRR (over the top 10).

    .venv/bin/python bench/kb_retrieval.py /work/shared/datasets/logchunks \\
        [--cache bench/out/logchunks_diagnoses.jsonl] [--threshold 0.55] [--out bench/out/kb_retrieval.json]
"""

from __future__ import annotations

import argparse
import json
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


def first_focus_key(d: Diagnosis) -> str:
    text = d.focus[0].text if d.focus else d.title
    return re.sub(r"\d+", "0", normalize(text).lower())


def relevant(q: Case, other: Case) -> bool:
    a, b = q.diagnosis, other.diagnosis
    if first_focus_key(a) == first_focus_key(b):
        return True
    return a.rule is not None and a.rule == b.rule and a.category == b.category


def score(ranked: list[str], good: set[str]) -> tuple[int, int, float]:
    for rank, fp in enumerate(ranked[:10], start=1):
        if fp in good:
            return int(rank == 1), int(rank <= 3), 1.0 / rank
    return 0, 0, 0.0


def dedupe(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--threshold", type=float, default=None, help="also score with this threshold")
    parser.add_argument("--cache", type=Path, default=None, help="JSONL of engine diagnoses to reuse/write")
    args = parser.parse_args()

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
            diagnosis = analyze_file(args.dataset / r["log"], source=r["log"], context=context)
        cases.append(Case(r["id"], r["repo"], diagnosis))
    if args.cache and len(cache) < len(cases):
        args.cache.parent.mkdir(parents=True, exist_ok=True)
        args.cache.write_text(
            "".join(json.dumps({"id": c.id, "diagnosis": c.diagnosis.to_json_dict()}) + "\n" for c in cases)
        )
    t_analyze = time.perf_counter() - t0
    by_repo: dict[str, list[Case]] = defaultdict(list)
    for c in cases:
        by_repo[c.repo].append(c)

    queries = []
    for q in cases:
        good = {o.diagnosis.fingerprint for o in by_repo[q.repo] if o is not q and relevant(q, o)}
        if good:
            queries.append((q, good))

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as home:
        kb = open_knowledge_base(Settings(home=Path(home)), KnowledgeSettings(threshold=0.0, scope="repo"))
        t0 = time.perf_counter()
        kb.record_many([(c.diagnosis, JobContext(ci_system="travis", repo=c.repo)) for c in cases])
        t_record = time.perf_counter() - t0

        systems: dict[str, list[list[str]]] = defaultdict(list)
        t0 = time.perf_counter()
        for q, _ in queries:
            systems["knowledge base (exact + MiniLM neighbours)"].append(
                [s.fingerprint for s in kb.similar(q.diagnosis, 10, repo=q.repo)]
            )
        t_query = time.perf_counter() - t0
        if args.threshold is not None:
            for q, _ in queries:
                hits = kb.similar(q.diagnosis, 10, repo=q.repo)
                systems[f"knowledge base, threshold {args.threshold}"].append(
                    [s.fingerprint for s in hits if s.similarity >= args.threshold]
                )
        kb.close()

    for field, texts in (
        ("excerpt", [lines_text(c.diagnosis.excerpt) for c in cases]),
        ("focus", [lines_text(c.diagnosis.focus) or c.diagnosis.title for c in cases]),
    ):
        bm25 = BM25Okapi([TOKEN.findall(t.lower()) or ["_"] for t in texts])
        index = {id(c): i for i, c in enumerate(cases)}
        for q, _ in queries:
            scores = bm25.get_scores(TOKEN.findall(texts[index[id(q)]].lower()))
            others = [o for o in by_repo[q.repo] if o is not q]
            others.sort(key=lambda o: -scores[index[id(o)]])
            # one answer per fingerprint, like the knowledge base; the query's own log is never a candidate
            systems[f"BM25 over {field} text"].append(dedupe([o.diagnosis.fingerprint for o in others]))

    for name, rankings in systems.items():
        sums = [0.0, 0.0, 0.0]
        for ranked, (_, good) in zip(rankings, queries, strict=True):
            for i, value in enumerate(score(ranked, good)):
                sums[i] += value
        n = len(queries)
        results[name] = {"hit@1": sums[0] / n, "hit@3": sums[1] / n, "mrr": sums[2] / n}

    report = {
        "logs": len(cases),
        "repos": len(by_repo),
        "queries": len(queries),
        "seconds": {
            "analyze_all": round(t_analyze, 1),
            "record_all": round(t_record, 1),
            "kb_queries": round(t_query, 2),
        },
        "results": results,
    }
    print(json.dumps(report, indent=2))
    print("\n| system | hit@1 | hit@3 | MRR |\n|---|---|---|---|")
    for name, m in results.items():
        print(f"| {name} | {m['hit@1']:.3f} | {m['hit@3']:.3f} | {m['mrr']:.3f} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    sys.exit(main())
