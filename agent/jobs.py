"""A failed CI job as any forge names it, and what a forge can tell about it: the forge-neutral types.

GitHub calls them workflow runs and jobs, GitLab pipelines and jobs; the use case (`agent.failed_job`) sees
only these shapes, so a second forge is a second implementation of `agent.ports.Forge`, not a second code
path for the analysis.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Conclusions of a completed job that mean "the job failed and a developer should look at it". `cancelled`
# and `skipped` are choices, not failures (docs.github.com/en/rest/checks/runs, "conclusion"); GitLab's
# job status `failed` is mapped onto `failure` by its adapter.
FAILED_CONCLUSIONS = frozenset({"failure", "timed_out"})


@dataclass(frozen=True)
class JobRef:
    """One finished job: enough to fetch its log, find its change and compare it with its base branch."""

    repo: str
    job_id: int
    job_name: str
    run_id: int
    head_sha: str
    conclusion: str = "failure"
    run_attempt: int = 1
    head_branch: str | None = None
    workflow_name: str | None = None
    workflow_id: int | None = None
    url: str | None = None
    completed_at: str | None = None
    pull_requests: tuple[PullRef, ...] | None = None
    """The change requests the forge already named for this job; None: ask the forge."""

    @property
    def failed(self) -> bool:
        return self.conclusion in FAILED_CONCLUSIONS


@dataclass(frozen=True)
class PullRef:
    """A pull (merge) request the job ran for, and the branch it merges into."""

    number: int
    base_ref: str | None = None


@dataclass(frozen=True)
class Baseline:
    """The log of the same job on the base branch where it passed, and where a person can see it."""

    log: bytes
    url: str | None = None


@dataclass(frozen=True)
class BaseFailure:
    """The same job failing on the base branch more recently than it last passed there.

    Its log is fetched only when our own record cannot already tell whether it is the same failure.
    """

    url: str | None
    fetch_log: Callable[[], bytes]


@dataclass(frozen=True)
class BaseBranch:
    """What the forge's own history of the base branch says about this job."""

    baseline: Baseline | None = None
    failure: BaseFailure | None = None


@dataclass(frozen=True)
class LogLimits:
    """How much of a log is read: the head (runner and checkout context) and the tail (the failing step)."""

    max_bytes: int = 16 * 1024 * 1024
    head_bytes: int = 256 * 1024
    baseline_max_bytes: int = 4 * 1024 * 1024


@dataclass
class StepNotes:
    """Why optional steps were skipped, in words a user can act on; they end up in `Diagnosis.notes`."""

    items: list[str] = field(default_factory=list)

    def add(self, step: str, exc: BaseException) -> None:
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        self.items.append(f"{step} skipped: {reason}")
