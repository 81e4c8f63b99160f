"""The typed results of an analysis: the `cimedic.diagnosis/v1` contract.

Every part of CI Medic exchanges these objects; their JSON form is documented in docs/diagnosis.md.
Line numbers are 1-based positions in the input log, counting ``\\r\\n``, ``\\r`` and ``\\n`` as breaks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_ID = "cimedic.diagnosis/v1"


class Category(StrEnum):
    """One primary cause per failure (definitions: docs/categories.md)."""

    TEST = "test"
    BUILD = "build"
    LINT = "lint"
    DEPENDENCY = "dependency"
    NETWORK = "network"
    INFRASTRUCTURE = "infrastructure"
    CONFIGURATION = "configuration"
    DEPLOYMENT = "deployment"
    UNKNOWN = "unknown"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogLine(_Model):
    """One line of the input log as a developer would read it (ANSI and CI markup removed, redacted)."""

    line: int = Field(ge=1, description="1-based line number in the input log")
    text: str


class Location(_Model):
    """A file:line position the log names as the place of an error."""

    path: str
    line: int | None = None
    column: int | None = None
    message: str | None = None


class Facts(_Model):
    """Plain facts read off the log; each is None or empty when the log does not state it."""

    step: str | None = Field(default=None, description="name of the failing step or section")
    exit_code: int | None = None
    failed_tests: list[str] = Field(default_factory=list)
    locations: list[Location] = Field(default_factory=list)
    command: str | None = Field(default=None, description="the failing command, where the log shows it")


class Remediation(_Model):
    """What to do. Commands are shown to the user, never run by CI Medic."""

    explanation: str | None = None
    steps: list[str] = Field(default_factory=list)
    commands: list[str] = Field(default_factory=list)
    docs: list[str] = Field(default_factory=list)


class SimilarFailure(_Model):
    """A past failure from the knowledge base that resembles this one."""

    fingerprint: str
    similarity: float = Field(ge=0.0, le=1.0)
    exact: bool = Field(description="same fingerprint, not only a near neighbour")
    title: str
    category: Category
    source: str | None = Field(default=None, description="path or URL it was recorded from")
    repo: str | None = None
    job: str | None = None
    occurrences: int = Field(ge=1)
    last_seen: str | None = Field(default=None, description="ISO 8601 time")
    resolution: str | None = Field(default=None, description="the fix that made the job green, if known")


VerdictKind = Literal["new", "broken-trunk", "flaky", "infrastructure", "unsure"]


class Verdict(_Model):
    """Is this change to blame? Only the service, which sees other runs, can say."""

    kind: VerdictKind
    reason: str
    link: str | None = None


class LlmExplanation(_Model):
    """A model's root-cause explanation, kept only with evidence verified against the log."""

    model: str
    summary: str
    root_cause: str
    category: Category
    confidence: Literal["low", "medium", "high"]
    evidence: list[LogLine] = Field(default_factory=list)
    caused_by_change: Literal["yes", "no", "unknown"] = "unknown"
    caused_by_change_reason: str | None = None
    fix: str | None = None
    patch: str | None = None
    commands: list[str] = Field(default_factory=list)
    verified: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class Fix(_Model):
    """A patch that passed validation (docs/fixes.md): it parses, applies exactly to the files at the failing
    commit, touches no protected path and is under the size cap. Never set for an unchecked patch."""

    patch: str = Field(description="unified diff, paths relative to the repository root (a/ b/ prefixes)")
    source: Literal["rule", "llm"] = Field(description="a tool's fix-it read off the log, or the LLM's patch")
    validated: Literal[True] = True
    files: list[str] = Field(description="repository paths the patch changes")
    title: str = Field(description="one line saying what the patch does")
    rules: list[str] = Field(default_factory=list, description="fix-it rule ids, or the model's name")


class Diagnosis(_Model):
    """What failed, where the log says so, what kind of failure it is, and what to do."""

    schema_: Literal["cimedic.diagnosis/v1"] = Field(default="cimedic.diagnosis/v1", alias="schema")
    source: str = Field(description="the log's path as given, or a URL")
    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    title: str = Field(description="one line naming the error")
    focus: list[LogLine] = Field(
        description="the few lines that state the error, the best first, then in log order"
    )
    excerpt: list[LogLine] = Field(description="the contiguous failure chunk a developer needs to read")
    fingerprint: str = Field(description="stable id of this failure across reruns")
    facts: Facts = Field(default_factory=Facts)
    rule: str | None = Field(default=None, description="id of the matching catalog rule")
    remediation: Remediation = Field(default_factory=Remediation)
    similar: list[SimilarFailure] = Field(default_factory=list)
    llm: LlmExplanation | None = None
    verdict: Verdict | None = None
    notes: list[str] = Field(
        default_factory=list,
        description="optional steps that could not be done (baseline, knowledge base, LLM...) and why",
    )
    fix: Fix | None = Field(default=None, description="a validated patch, when one was found and checked")
    fix_notes: list[str] = Field(
        default_factory=list, description="patches that were dropped, and why (never shown themselves)"
    )

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def to_json_dict(self) -> dict[str, object]:
        """The documented JSON form (field `schema`, not `schema_`)."""
        return self.model_dump(mode="json", by_alias=True)


class JobContext(_Model):
    """Where a log came from. The CLI knows little of this; the service and the Action know most."""

    ci_system: Literal["github", "gitlab", "travis", "jenkins", "local", "unknown"] = "local"
    repo: str | None = None
    branch: str | None = None
    commit: str | None = None
    workflow: str | None = None
    job: str | None = None
    url: str | None = Field(default=None, description="web URL of the job log; line links are built on it")
    pull_requests: list[int] = Field(default_factory=list)
    run_id: int | None = None
    run_attempt: int | None = None
    job_id: int | None = None
    time: str | None = Field(default=None, description="ISO 8601 time the job finished")
