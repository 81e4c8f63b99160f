"""CI Medic's memory: past failures, how often they recur, and what fixed them (docs/knowledge-base.md).

`open_knowledge_base(settings)` wires the two stores from `agent.config.Settings`; nothing heavy (torch,
chromadb) is imported until a method needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config import Settings
    from knowledge.base import KnowledgeBase
    from knowledge.config import KnowledgeSettings
    from knowledge.embedding import Embedder

__all__ = ["open_knowledge_base"]


def open_knowledge_base(
    settings: Settings,
    kb_settings: KnowledgeSettings | None = None,
    *,
    embedder: Embedder | None = None,
    migrate: bool = True,
) -> KnowledgeBase:
    """The knowledge base `settings` point at: SQL from `effective_database_url`, Chroma at `chroma_url` or in
    `home/chroma`. The schema is migrated to the newest revision unless `migrate=False`."""
    from knowledge.base import KnowledgeBase
    from knowledge.config import KnowledgeSettings
    from knowledge.embedding import make_embedder
    from knowledge.sqlstore import SqlStore
    from knowledge.vectors import VectorStore, open_client

    kb_settings = kb_settings or KnowledgeSettings()
    sql = SqlStore(settings.effective_database_url)
    if migrate:
        sql.migrate()
    chroma_path = settings.home / "chroma"

    def vectors() -> VectorStore:
        client = open_client(path=None if settings.chroma_url else chroma_path, url=settings.chroma_url)
        return VectorStore(client, kb_settings.collection, cache_vectors=kb_settings.cache_vectors)

    return KnowledgeBase(
        sql,
        vectors,
        embedder
        or make_embedder(
            kb_settings.model,
            device=kb_settings.device,
            batch_size=kb_settings.batch_size,
            threads=kb_settings.threads,
            max_tokens=kb_settings.max_tokens,
            precision=kb_settings.precision,
        ),
        kb_settings,
    )
