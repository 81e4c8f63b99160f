"""CI Medic's memory: past failures, how often they recur, and what fixed them (docs/knowledge-base.md).

`open_knowledge_base(settings)` wires the two stores from `agent.config.Settings`; nothing heavy (torch,
chromadb) is imported until a method needs it.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from agent.errors import KnowledgeBaseError

if TYPE_CHECKING:
    from agent.config import Settings
    from knowledge.base import KnowledgeBase
    from knowledge.config import KnowledgeSettings
    from knowledge.embedding import Embedder, Vectors
    from knowledge.vectors import VectorStore

__all__ = ["INSTALL_HINT", "missing_packages", "not_installed", "open_knowledge_base"]

INSTALL_HINT = "pip install 'cimedic[kb]'"
TRANSFORMER_HINT = "pip install 'cimedic[transformer]' (with torch's CPU build, see README)"


def not_installed(missing: list[str]) -> str:
    """The one line that says which extra brings the `missing` packages."""
    hint = TRANSFORMER_HINT if {"torch", "sentence_transformers"} & set(missing) else INSTALL_HINT
    return f"the knowledge base is not installed (missing {', '.join(missing)}; {hint})"


def missing_packages(model: str) -> list[str]:
    """The packages of the `kb` extra that are not installed (the engine and the CLI run without them)."""
    from knowledge.config import STATIC_MODEL, canonical_model

    needed = ["chromadb", "numpy", "sqlalchemy"]  # the `kb` extra brings the `store` one
    model = canonical_model(model)
    if model != STATIC_MODEL and not model.startswith("hashing:"):
        needed += ["sentence_transformers", "torch"]
    return [name for name in needed if importlib.util.find_spec(name) is None]


def open_knowledge_base(
    settings: Settings,
    kb_settings: KnowledgeSettings | None = None,
    *,
    embedder: Embedder | None = None,
    migrate: bool = True,
) -> KnowledgeBase:
    """The knowledge base `settings` point at: SQL from `effective_database_url`, Chroma at `chroma_url` or in
    `home/chroma`. The schema is migrated to the newest revision unless `migrate=False`.

    Raises `KnowledgeBaseError` (one line for the user) when the `kb` extra is not installed, or the database
    URL is malformed or its server cannot be reached.
    """
    from knowledge.config import (
        canonical_model,
        collection_name,
        load_knowledge_settings,
        with_model_cutoffs,
    )

    kb_settings = with_model_cutoffs(kb_settings or load_knowledge_settings())
    missing = missing_packages(kb_settings.model if embedder is None else "hashing")
    if missing:
        raise KnowledgeBaseError(not_installed(missing))
    from sqlalchemy.exc import SQLAlchemyError

    from knowledge.base import KnowledgeBase
    from knowledge.sqlstore import SqlStore

    try:
        sql = SqlStore(settings.effective_database_url)
        if migrate:
            sql.migrate()
    except (SQLAlchemyError, OSError) as exc:
        # The URL itself is not repeated: it may hold a password (CIMEDIC_DATABASE_URL).
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise KnowledgeBaseError(
            f"cannot open the knowledge base database (CIMEDIC_DATABASE_URL): {first}"
        ) from exc
    chroma_path = settings.home / "chroma"
    collection = collection_name(
        kb_settings.collection, embedder.name if embedder is not None else canonical_model(kb_settings.model)
    )

    def vectors() -> VectorStore:
        from knowledge.vectors import VectorStore, open_client

        client = open_client(path=None if settings.chroma_url else chroma_path, url=settings.chroma_url)
        return VectorStore(client, collection, cache_vectors=kb_settings.cache_vectors)

    def build_embedder() -> Embedder:
        from knowledge.embedding import make_embedder

        return make_embedder(
            kb_settings.model,
            device=kb_settings.device,
            batch_size=kb_settings.batch_size,
            threads=kb_settings.threads,
            max_tokens=kb_settings.max_tokens,
            precision=kb_settings.precision,
        )

    return KnowledgeBase(
        sql,
        vectors,
        embedder or _LazyEmbedder(canonical_model(kb_settings.model), build_embedder),
        kb_settings,
    )


class _LazyEmbedder:
    """Builds the configured embedder on the first `embed`: opening a knowledge base that has nothing to
    compare with then imports neither numpy nor torch."""

    def __init__(self, name: str, build: Callable[[], Embedder]) -> None:
        self._name = name
        self._build = build
        self._inner: Embedder | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self._lock:
            if self._inner is None:
                self._inner = self._build()
        return self._inner.embed(texts)
