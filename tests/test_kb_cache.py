"""`ScopeCache`: what it asks the vector store for, and what it keeps.

The store here is a dict that records each request; `test_kb_store.py` runs the cache on the real stores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from knowledge.vectors import ScopeCache


class Store:
    def __init__(self, n: int) -> None:
        rng = np.random.default_rng(7)
        self.vectors = {f"v{i}": rng.normal(size=8).astype(np.float32) for i in range(n)}
        self.asked: list[list[str]] = []

    def fetch(self, ids: Sequence[str]) -> Mapping[str, npt.NDArray[np.float32]]:
        self.asked.append(list(ids))
        return {i: self.vectors[i] for i in ids if i in self.vectors}


def test_an_unchanged_scope_is_not_fetched_again_and_a_grown_one_fetches_only_the_new_ids() -> None:
    store = Store(10)
    cache = ScopeCache(store.fetch, max_vectors=100)
    ids, matrix = cache.vectors(("repo", "a/b"), ["v0", "v1", "v2"])
    assert ids == ["v0", "v1", "v2"] and matrix.shape == (3, 8)
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0)  # unit rows: a dot product is the cosine
    cache.vectors(("repo", "a/b"), ["v0", "v1", "v2"])
    assert store.asked == [["v0", "v1", "v2"]]

    ids, matrix = cache.vectors(("repo", "a/b"), ["v1", "v2", "v3"])  # v0 forgotten, v3 recorded
    assert store.asked[-1] == ["v3"] and ids == ["v1", "v2", "v3"]
    expected = store.vectors["v2"] / np.linalg.norm(store.vectors["v2"])
    assert np.allclose(matrix[1], expected)


def test_an_id_without_a_vector_is_left_out_and_asked_for_again_when_the_scope_changes() -> None:
    store = Store(3)
    cache = ScopeCache(store.fetch, max_vectors=100)
    ids, _ = cache.vectors(("repo", "a/b"), ["v0", "lost"])  # a SQL row whose vector is gone
    assert ids == ["v0"]
    store.vectors["lost"] = np.ones(8, dtype=np.float32)  # `kb repair` re-embedded it
    ids, _ = cache.vectors(("repo", "a/b"), ["v0", "lost", "v1"])
    assert store.asked[-1] == ["lost", "v1"] and ids == ["v0", "lost", "v1"]


def test_discard_drops_the_scopes_holding_a_touched_id() -> None:
    store = Store(10)
    cache = ScopeCache(store.fetch, max_vectors=100)
    cache.vectors(("repo", "a/b"), ["v0", "v1"])
    cache.vectors(("repo", "a/c"), ["v2"])
    cache.discard(["v1"])
    cache.vectors(("repo", "a/b"), ["v0", "v1"])
    cache.vectors(("repo", "a/c"), ["v2"])
    assert store.asked == [["v0", "v1"], ["v2"], ["v0", "v1"]]


def test_the_least_recently_used_scope_goes_when_the_budget_is_spent() -> None:
    store = Store(10)
    cache = ScopeCache(store.fetch, max_vectors=4)
    cache.vectors(("repo", "a/b"), ["v0", "v1"])
    cache.vectors(("repo", "a/c"), ["v2", "v3"])
    cache.vectors(("repo", "a/b"), ["v0", "v1"])  # a/b is now the most recent
    cache.vectors(("org", "x"), ["v4"])  # 5 > 4: a/c goes
    asked = len(store.asked)
    cache.vectors(("repo", "a/b"), ["v0", "v1"])
    assert len(store.asked) == asked
    cache.vectors(("repo", "a/c"), ["v2", "v3"])
    assert store.asked[-1] == ["v2", "v3"]

    nothing = ScopeCache(store.fetch, max_vectors=0)
    for _ in range(2):
        ids, _ = nothing.vectors(("repo", "a/b"), ["v0"])
        assert ids == ["v0"]
    assert store.asked[-2:] == [["v0"], ["v0"]]
