"""The interfaces the pipeline is given (forge, knowledge base, LLM, run history); implemented elsewhere.

The `agent` core imports none of `knowledge`, `webhooks` or `actions`: the composition root (the CLI, the
worker) passes objects that satisfy these protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agent.jobs import BaseBranch, Baseline, JobRef, PullRef
from agent.models import Diagnosis, JobContext, LlmExplanation, SimilarFailure
from agent.verdict import Evidence


class Forge(Protocol):
    """What the use case reads from a code host (GitHub, GitLab; an in-memory fake in tests).

    `job_log` is required: without a log there is nothing to diagnose, so its errors propagate. The other
    two are optional steps: the use case turns their errors into a note and carries on.
    """

    def job_log(self, job: JobRef) -> bytes: ...

    def pull_requests(self, job: JobRef) -> list[PullRef]: ...

    def base_branch(self, job: JobRef, base_ref: str) -> BaseBranch:
        """The same job on the base branch: its newest green log, and a newer failure if there is one."""
        ...


class RunHistory(Protocol):
    """What our own record of other runs says about blame (the service's store; the Action has none)."""

    def evidence(
        self, job: JobRef, diagnosis: Diagnosis, base_ref: str | None, baseline: Baseline | None
    ) -> Evidence: ...


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
