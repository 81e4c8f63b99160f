"""Composition root for the knowledge base: the only place the CLI reaches into `knowledge`.

`knowledge` depends on `agent`, never the reverse at import time (docs ARCHITECTURE.md, "Imports follow the
flow"), so the import happens inside the functions: `import agent.cli` stays light and free of torch/chromadb.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agent.config import Settings
from agent.errors import KnowledgeBaseError
from agent.models import Diagnosis, JobContext, SimilarFailure
from agent.ports import KnowledgeLookup

if TYPE_CHECKING:
    from knowledge.base import KnowledgeBase
    from knowledge.config import KnowledgeSettings


def knowledge_settings() -> KnowledgeSettings:
    """`CIMEDIC_KB_*`, with the command line's own default model: the static embedding distilled from MiniLM
    (numpy only: a query in milliseconds instead of a ~6 s, ~500 MB model load per run; docs/benchmarks.md,
    "First hour"). `CIMEDIC_KB_MODEL` still chooses any model."""
    from knowledge.config import STATIC_MODEL, load_knowledge_settings, with_model_cutoffs

    kb_settings = load_knowledge_settings()
    if "model" not in kb_settings.model_fields_set:
        kb_settings = kb_settings.model_copy(update={"model": STATIC_MODEL})
    return with_model_cutoffs(kb_settings)


def open_knowledge_base(settings: Settings) -> KnowledgeBase:
    """The full knowledge base (stats, export, retention...) that `settings` point at."""
    from knowledge import open_knowledge_base as _open

    return _open(settings, knowledge_settings())


def make_knowledge_base(
    settings: Settings, *, repo: str | None = None, warn: Callable[[str], None] | None = None
) -> KnowledgeLookup:
    """What `analyze` hands to `agent.pipeline.enrich`: `similar` scoped to `repo` when it is known.

    On the default SQLite store the stores are opened only when a look with the standard library
    (`knowledge.probe`) cannot rule out an answer or a write, and a home without a database yet has it made
    with the standard library too (`knowledge.first_run`); an error opening them then is said once
    through `warn` and the analysis goes on without the knowledge base, as when it fails here.
    Raises `KnowledgeBaseError` when the `kb` extra is missing or the stores cannot be opened.
    """
    from knowledge import missing_packages, not_installed
    from knowledge.first_run import FirstRunKnowledgeBase
    from knowledge.probe import ProbedKnowledgeBase, StoreProbe, sqlite_path

    kb_settings = knowledge_settings()
    missing = missing_packages(kb_settings.model)
    if missing:
        raise KnowledgeBaseError(not_installed(missing))
    path = sqlite_path(settings.effective_database_url)
    if path is None or (path.exists() and not path.is_file()):  # a server: open now
        return open_knowledge_base(settings).scoped(repo)

    def open_() -> KnowledgeLookup:
        try:
            return open_knowledge_base(settings).scoped(repo)
        except KnowledgeBaseError as exc:
            if warn is not None:
                warn(f"{exc}; continuing without it (--no-kb to silence)")
            return _Nothing()

    if not path.exists():  # the first run ever: made and written with sqlite3 (knowledge.first_run)
        return FirstRunKnowledgeBase(path, open_, kb_settings, repo)
    return ProbedKnowledgeBase(StoreProbe(path), open_, kb_settings, repo)


class _Nothing:
    """The knowledge base that could not be opened: the analysis goes on without it (said once)."""

    def similar(self, diagnosis: Diagnosis, k: int = 3) -> list[SimilarFailure]:
        return []

    def record(self, diagnosis: Diagnosis, job: JobContext) -> None:
        return None
