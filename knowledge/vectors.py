"""The vector half of the knowledge base: a Chroma collection of focus-text embeddings.

One vector per (fingerprint, repo), id = `kb_failures.vector_id`, metadata `fingerprint`, `repo`, `org`,
`category` so that queries can be scoped with a `where` filter. The collection is created with
`embedding_function=None`: CI Medic passes its own embeddings and Chroma never loads (or downloads) its
default ONNX model. Cosine space is chosen at creation through the collection configuration
(https://docs.trychroma.com/docs/collections/configure). Telemetry is off: nothing leaves the machine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt


def _client_settings() -> Any:
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def open_client(*, path: Path | None = None, url: str | None = None) -> Any:
    """A PersistentClient on `path`, or an HttpClient for a Chroma server at `url` (http[s]://host:port)."""
    import chromadb

    if url:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        ssl = parts.scheme == "https"
        port = parts.port or (443 if ssl else 8000)
        return chromadb.HttpClient(
            host=parts.hostname or "127.0.0.1", port=port, ssl=ssl, settings=_client_settings()
        )
    if path is None:
        raise ValueError("a Chroma path or URL is required")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=_client_settings())


class VectorStore:
    def __init__(self, client: Any, collection: str) -> None:
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

    def count(self) -> int:
        return int(self._collection.count())

    def upsert(
        self,
        ids: Sequence[str],
        vectors: npt.NDArray[np.float32],
        metadatas: Sequence[Mapping[str, str]],
    ) -> None:
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

    def nearest_among(
        self, vector: npt.NDArray[np.float32], ids: Sequence[str], n: int
    ) -> list[tuple[str, float]]:
        """Exact (id, cosine distance) over the given vectors, nearest first.

        For small scopes: Chroma's metadata-filtered HNSW search can return fewer results than the scope
        holds (seen here: none of a repository's one vector among 150 others), an exact pass cannot."""
        got_ids: list[str] = []
        rows: list[Any] = []
        for start in range(0, len(ids), self._max_batch):
            got = self._collection.get(ids=list(ids[start : start + self._max_batch]), include=["embeddings"])
            got_ids.extend(str(i) for i in got["ids"])
            rows.extend(got["embeddings"] if got.get("embeddings") is not None else [])
        if not got_ids or n <= 0:
            return []
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1)
        norms[norms == 0] = 1.0
        query = vector / (float(np.linalg.norm(vector)) or 1.0)
        sims = (matrix @ query) / norms
        order = np.argsort(-sims)[:n]
        return [(got_ids[i], float(1.0 - sims[i])) for i in order]

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
