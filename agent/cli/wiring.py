"""Composition root for the knowledge base: the only place the CLI reaches into `knowledge`.

`knowledge` depends on `agent`, never the reverse at import time (docs ARCHITECTURE.md, "Imports follow the
flow"), so the import happens inside the functions: `import agent.cli` stays light and free of torch/chromadb.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.config import Settings
from agent.ports import KnowledgeLookup

if TYPE_CHECKING:
    from knowledge.base import KnowledgeBase


def open_knowledge_base(settings: Settings) -> KnowledgeBase:
    """The full knowledge base (stats, export, retention...) that `settings` point at."""
    from knowledge import open_knowledge_base as _open

    return _open(settings)


def make_knowledge_base(settings: Settings, *, repo: str | None = None) -> KnowledgeLookup:
    """What `analyze` hands to `agent.pipeline.enrich`: `similar` scoped to `repo` when it is known."""
    return open_knowledge_base(settings).scoped(repo)
