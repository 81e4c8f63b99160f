"""Query latency of an existing knowledge base (for example the 100,000-failure store `kb_scale.py` left in
/tmp/kb-scale-kb-*), at a chosen threshold, with the share of queries that needed Chroma's filtered search.

    .venv/bin/python bench/kb_query_latency.py /tmp/kb-scale-kb-XXXX /work/shared/datasets/logchunks \\
        --threshold 0.55 [--queries 200]

The queries are the ones `kb_scale.py` uses (same generator, same seed). As in `kb_scale.py`, the first query
of each repository is timed apart ("first of a scope": the scope's vectors are read from Chroma once per
process); "end to end" then embeds every query with the model (its cache cleared), "store only" re-asks with
the vector cached. The knowledge base's settings come from `CIMEDIC_KB_*` (for example
`CIMEDIC_KB_MAX_TOKENS=256 CIMEDIC_KB_PRECISION=float32`, the settings before they existed).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from kb_scale import fingerprint, make_texts, percentiles  # type: ignore[import-not-found]

from agent.config import Settings
from agent.models import Category, Diagnosis, LogLine
from knowledge import open_knowledge_base
from knowledge.config import KnowledgeSettings


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("home", type=Path)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--threshold", type=float, default=0.55)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()

    kb = open_knowledge_base(
        Settings(home=args.home), KnowledgeSettings(threshold=args.threshold, scope="repo")
    )
    queries = make_texts(args.dataset, args.queries, seed=2)
    diagnoses = []
    for i, (text, _repo, category) in enumerate(queries):
        lines = [LogLine(line=n + 1, text=t) for n, t in enumerate(text.splitlines())]
        diagnoses.append(
            Diagnosis(
                source=f"query-{i}",
                category=Category(category),
                confidence=0.8,
                title=lines[0].text[:120],
                focus=lines,
                excerpt=lines,
                fingerprint=fingerprint(f"query-{i}{text}"),
            )
        )
    vectors = kb.vectors
    filtered = 0
    plain_query = vectors.query

    def counting_query(vector: np.ndarray, n: int, where: dict[str, str] | None) -> list[tuple[str, float]]:
        nonlocal filtered
        filtered += where is not None
        return plain_query(vector, n, where)

    vectors.query = counting_query  # type: ignore[method-assign]
    kb.similar(diagnoses[0], 3, repo=queries[0][1])  # load the model
    first = []
    for repo in dict.fromkeys(r for _text, r, _cat in queries if r != queries[0][1]):
        i = next(i for i, q in enumerate(queries) if q[1] == repo)
        t = time.perf_counter()
        kb.similar(diagnoses[i], 3, repo=repo)
        first.append(time.perf_counter() - t)
    filtered = 0
    full, store, found = [], [], 0
    for d, (_text, repo, _cat) in zip(diagnoses, queries, strict=True):
        kb.embedder._cache.clear()  # type: ignore[attr-defined]
        t = time.perf_counter()
        found += bool(kb.similar(d, 3, repo=repo))
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        kb.similar(d, 3, repo=repo)  # the embedding is cached now: SQL + Chroma only
        store.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "stored": vectors.count(),
                "threshold": args.threshold,
                "settings": kb.settings.model_dump(include={"max_tokens", "precision"}),
                "queries": len(diagnoses),
                "with_results": found,
                "filtered_fallbacks": filtered,
                "query_end_to_end": percentiles(full),
                "query_store_only": percentiles(store),
                "first_of_a_scope": percentiles(first),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
