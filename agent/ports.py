"""The interfaces the pure pipeline is given (the knowledge base, the LLM); implementations live elsewhere.

The `agent` core imports none of `knowledge`, `webhooks` or `actions`: the composition root (the CLI, the
worker) passes objects that satisfy these protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agent.models import Diagnosis, JobContext, LlmExplanation, SimilarFailure


class KnowledgeLookup(Protocol):
    """Remembers failures and answers "have we seen this before?" (implemented in `knowledge/`)."""

    def similar(self, diagnosis: Diagnosis, k: int = 3) -> list[SimilarFailure]: ...

    def record(self, diagnosis: Diagnosis, job: JobContext) -> None: ...


class ChangeContext(Protocol):
    """The change under test, when known: the LLM may use it to judge blame."""

    @property
    def changed_files(self) -> Sequence[str]: ...

    @property
    def diff(self) -> str: ...


class Explainer(Protocol):
    """Asks a model for the root cause (implemented in `agent/llm/`). Returns None when it has no answer."""

    def explain(
        self,
        diagnosis: Diagnosis,
        log_lines: Sequence[str],
        *,
        change: ChangeContext | None = None,
    ) -> LlmExplanation | None: ...
