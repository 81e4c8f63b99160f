"""The vector half of the knowledge base: a Chroma collection of focus-text embeddings.

One vector per (fingerprint, repo), id = `kb_failures.vector_id`, metadata `repo` and `org` so that queries
can be scoped with a `where` filter (vectors written by earlier versions also carry `fingerprint` and
`category`, which nothing reads). The collection is created with `embedding_function=None`: CI Medic passes
its own embeddings and Chroma never loads (or downloads) its default ONNX model. Cosine space is chosen at
creation through the collection configuration (https://docs.trychroma.com/docs/collections/configure).
Telemetry is off: nothing leaves the machine.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt


def _client_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


# Chroma's embedded client is not safe to create from several threads at once: threads that open the
# first client on a path together fail with "Could not connect to tenant default_tenant" or "'RustBindingsAPI'
# object has no attribute 'bindings'" (issue 10 item 11; reproduced in tests/test_kb_concurrency.py), because
# the shared system behind the clients of one path is started by whichever thread comes first while the
# others already use it. So a process opens each path once, under a lock, and every caller shares it.
_clients_lock = threading.Lock()
_clients: dict[str, Any] = {}


def open_client(*, path: Path | None = None, url: str | None = None) -> Any:
    """A PersistentClient on `path` (one per path and process), or an HttpClient for a Chroma server at `url`
    (http[s]://host:port)."""
    if url:
        import chromadb

        parts = urlsplit(url if "://" in url else f"http://{url}")
        ssl = parts.scheme == "https"
        port = parts.port or (443 if ssl else 8000)
        return chromadb.HttpClient(
            host=parts.hostname or "127.0.0.1", port=port, ssl=ssl, settings=_client_settings()
        )
    if path is None:
        raise ValueError("a Chroma path or URL is required")
    key = str(path.resolve())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            import chromadb

            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=_client_settings())
            client.heartbeat()  # the system is fully started before another thread can have it
            _clients[key] = client
    return client


class VectorStore:
    def __init__(self, client: Any, collection: str, *, cache_vectors: int = 200_000) -> None:
        self._client = client
        self._collection = client.get_or_create_collection(
            collection,
            embedding_function=None,
            configuration={"hnsw": {"space": "cosine"}},
        )
        try:
            self._max_batch = int(client.get_max_batch_size())
        except Exception:  # older servers: stay well below Chroma's documented limits
            self._max_batch = 1000
        self._scopes = ScopeCache(self.get_vectors, cache_vectors)

    def count(self) -> int:
        return int(self._collection.count())

    def upsert(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32],
        metadatas: Sequence[Mapping[str, str]],
    ) -> None:
        self._scopes.discard(ids)  # a cached copy of a replaced vector would be stale
        for start in range(0, len(ids), self._max_batch):
            end = start + self._max_batch
            self._collection.upsert(
                ids=list(ids[start:end]),
                embeddings=vectors[start:end],
                metadatas=[dict(m) for m in metadatas[start:end]],
            )

    def query(
        self, vector: npt.NDArray[np.float32], n: int, where: Mapping[str, str] | None
    ) -> list[tuple[str, float]]:
        """(id, cosine distance) of the `n` nearest vectors, nearest first."""
        if n <= 0:
            return []
        result = self._collection.query(
            query_embeddings=vector.reshape(1, -1),
            n_results=n,
            where=dict(where) if where else None,
            include=["distances"],
        )
        ids = result["ids"][0] if result["ids"] else []
        distances = result["distances"][0] if result.get("distances") else []
        return [(str(i), float(d)) for i, d in zip(ids, distances, strict=True)]

    def nearest_in_scope(
        self, scope: tuple[str, str], listed: Sequence[str], vector: npt.NDArray[np.float32], n: int
    ) -> list[tuple[str, float]]:
        """Exact (id, cosine distance) of the `n` nearest among `listed`, a scope's vector ids; nearest first.

        For small scopes: Chroma's metadata-filtered HNSW search is slow at scale and can return fewer results
        than the scope holds (seen here: none of a repository's one vector among 150 others); an exact pass
        over the scope's vectors, kept in memory by `ScopeCache`, is neither."""
        if n <= 0 or not listed:
            return []
        ids, matrix = self._scopes.vectors(scope, listed)
        if not ids:
            return []
        query = vector / (float(np.linalg.norm(vector)) or 1.0)
        # einsum, not `matrix @ query`: numpy's BLAS splits a matrix-vector product over its threads, and
        # waking them cost ~3 ms per query here against ~0.2 ms for einsum's single-threaded loop (2,500 x
        # 384 on a busy 2-core machine: a warm repository query at 100,000 stored went from p50 10.3 ms to
        # 2.4 ms).
        sims = np.einsum("ij,j->i", matrix, query)
        if n < len(ids):
            top = np.argpartition(-sims, n - 1)[:n]
            order = top[np.argsort(-sims[top], kind="stable")]
        else:
            order = np.argsort(-sims, kind="stable")
        return [(ids[i], float(1.0 - sims[i])) for i in order]

    def get_vectors(self, ids: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        """The stored vectors of `ids` that Chroma holds (a missing id is simply absent)."""
        found: dict[str, npt.NDArray[np.float32]] = {}
        for start in range(0, len(ids), self._max_batch):
            got = self._collection.get(ids=list(ids[start : start + self._max_batch]), include=["embeddings"])
            embeddings = got.get("embeddings")
            if embeddings is None or not len(got["ids"]):
                continue
            matrix = np.asarray(embeddings, dtype=np.float32)
            found.update((str(i), matrix[row]) for row, i in enumerate(got["ids"]))
        return found

    def query_meta(self, vector: npt.NDArray[np.float32], n: int) -> list[tuple[str, float, dict[str, Any]]]:
        """Unfiltered: (id, cosine distance, metadata) of the `n` nearest vectors, nearest first."""
        if n <= 0:
            return []
        result = self._collection.query(
            query_embeddings=vector.reshape(1, -1), n_results=n, include=["distances", "metadatas"]
        )
        ids = result["ids"][0] if result["ids"] else []
        distances = result["distances"][0] if result.get("distances") else []
        metas = result["metadatas"][0] if result.get("metadatas") else []
        return [(str(i), float(d), dict(m or {})) for i, d, m in zip(ids, distances, metas, strict=True)]

    def delete(self, ids: Sequence[str]) -> None:
        self._scopes.discard(ids)
        for start in range(0, len(ids), self._max_batch):
            self._collection.delete(ids=list(ids[start : start + self._max_batch]))

    def existing(self, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(ids), self._max_batch):
            got = self._collection.get(ids=list(ids[start : start + self._max_batch]), include=[])
            found.update(str(i) for i in got["ids"])
        return found

    def iter_ids(self, page: int = 5000) -> Iterator[str]:
        offset = 0
        while True:
            got = self._collection.get(limit=page, offset=offset, include=[])
            if not got["ids"]:
                return
            yield from (str(i) for i in got["ids"])
            offset += len(got["ids"])


@dataclass(frozen=True)
class _Slab:
    listed: tuple[str, ...]  # the scope's vector ids as the SQL store listed them
    ids: list[str]  # those of them Chroma holds, in the order of the matrix rows
    rows: dict[str, int]
    matrix: npt.NDArray[np.float32]  # unit rows: a dot product is the cosine similarity


class ScopeCache:
    """In-memory copies of the vectors of recently queried scopes (a repository, an org).

    Fetching a scope's ~2,500 vectors from Chroma costs ~100 ms at 100,000 stored (profiled, see
    docs/benchmarks.md) while their product with the query vector takes well under a millisecond. The caller
    lists the scope's vector ids from the SQL store (the record of truth) on every query; the cached copy is
    used as it is while that list is unchanged, and a changed list fetches only the ids not seen before. So
    writes by this or any other process show at the next query, without a time-based expiry. `upsert` and
    `delete` discard cached scopes holding the ids they touch: a vector id recorded again after `forget` gets
    its new vector.

    Bounded by `max_vectors` in total (least recently used scopes go first); 0 keeps nothing.
    """

    def __init__(
        self, fetch: Callable[[Sequence[str]], Mapping[str, npt.NDArray[np.float32]]], max_vectors: int
    ):
        self._fetch = fetch
        self._max = max_vectors
        self._slabs: OrderedDict[tuple[str, str], _Slab] = OrderedDict()
        self._lock = threading.Lock()  # the service queries from several threads

    def vectors(
        self, scope: tuple[str, str], listed: Sequence[str]
    ) -> tuple[list[str], npt.NDArray[np.float32]]:
        """The ids among `listed` that have a vector, and their unit vectors as matrix rows."""
        key = tuple(listed)
        with self._lock:
            slab = self._slabs.get(scope)
            if slab is not None:
                self._slabs.move_to_end(scope)
        if slab is None or slab.listed != key:
            slab = self._load(key, slab)
            with self._lock:
                self._slabs[scope] = slab
                self._slabs.move_to_end(scope)
                total = sum(len(s.ids) for s in self._slabs.values())
                while self._slabs and total > self._max:
                    total -= len(self._slabs.popitem(last=False)[1].ids)
        return slab.ids, slab.matrix

    def _load(self, listed: tuple[str, ...], old: _Slab | None) -> _Slab:
        known = old.rows if old is not None else {}
        # Ids listed before but without a vector (a lost Chroma directory before `kb repair`) are asked again.
        fresh = self._fetch([vid for vid in listed if vid not in known])
        ids = [vid for vid in listed if vid in known or vid in fresh]
        if not ids:
            return _Slab(listed, [], {}, np.zeros((0, 0), dtype=np.float32))
        matrix = np.stack(
            [old.matrix[known[vid]] if old is not None and vid in known else fresh[vid] for vid in ids]
        ).astype(np.float32, copy=False)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return _Slab(listed, ids, {vid: row for row, vid in enumerate(ids)}, matrix / norms)

    def discard(self, ids: Iterable[str]) -> None:
        touched = set(ids)
        with self._lock:
            for scope in [s for s, slab in self._slabs.items() if any(vid in slab.rows for vid in touched)]:
                del self._slabs[scope]
