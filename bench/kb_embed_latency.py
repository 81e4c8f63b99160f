"""What embedding one query costs, by its length: the part of a query the stores cannot speed up.

The queries are the ones `kb_scale.py` uses (same generator, same seed), embedded one at a time as `similar`
does, by the bundled all-MiniLM-L6-v2 with the knowledge base's settings (one torch thread unless --threads).
The model reads at most `max_seq_length` word pieces (256 for this model, `CIMEDIC_KB_MAX_TOKENS` in the
knowledge base); the run repeats with each arithmetic of --precisions (`CIMEDIC_KB_PRECISION`) and each
limit of --limits, in the same process, so that they are compared at the same load. Wall-clock and process
CPU time per query.

    .venv/bin/python bench/kb_embed_latency.py /work/shared/datasets/logchunks [--queries 200] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from kb_scale import make_texts  # type: ignore[import-not-found]

from knowledge.config import DEFAULT_MODEL, KnowledgeSettings
from knowledge.embedding import _autocast, _load_sentence_transformer
from knowledge.text import normalize


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--limits", default="256,128,96,64", help="max_seq_length values to try, in order")
    parser.add_argument("--precisions", default="float32,bfloat16", help="model arithmetic to try, in order")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: the settings')")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    settings = KnowledgeSettings()
    threads = args.threads or settings.threads
    model = _load_sentence_transformer(DEFAULT_MODEL, settings.device, threads)
    texts = [normalize(text) for text, _repo, _cat in make_texts(args.dataset, args.queries, seed=2)]
    tokens = [len(model.tokenizer(t)["input_ids"]) for t in texts]
    model.encode(["warm up"])
    report: dict[str, object] = {
        "queries": len(texts),
        "threads": threads,
        "tokens": {
            "p50": float(np.percentile(tokens, 50)),
            "p99": float(np.percentile(tokens, 99)),
            "max": max(tokens),
            **{f"over_{limit}": sum(n > limit for n in tokens) for limit in (64, 96, 128, 256)},
        },
        "limits": {},
    }
    for precision in args.precisions.split(","):
        with _autocast(settings.device, precision):
            model.encode(["warm up"])  # bfloat16 kernels are set up on their first call
        for limit in (int(x) for x in args.limits.split(",")):
            model.max_seq_length = limit
            wall, cpu = [], []
            for text in texts:
                w, c = time.perf_counter(), time.process_time()
                with _autocast(settings.device, precision):
                    model.encode([text], normalize_embeddings=True, show_progress_bar=False)
                wall.append(time.perf_counter() - w)
                cpu.append(time.process_time() - c)
            report["limits"][f"{precision} {limit}"] = {  # type: ignore[index]
                name: {
                    "p50_ms": round(float(np.percentile(values, 50)) * 1000, 1),
                    "p99_ms": round(float(np.percentile(values, 99)) * 1000, 1),
                }
                for name, values in (("wall", wall), ("cpu", cpu))
            }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
