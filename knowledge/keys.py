"""The keys the knowledge base files a failure under, and the scope of a query: plain functions, no SQL.

Kept apart from `knowledge.base` so that `knowledge.probe` (the command line's look before opening the stores)
computes exactly the keys the stores use without importing SQLAlchemy.
"""

from __future__ import annotations

import hashlib

from agent.models import Diagnosis, JobContext
from knowledge.config import Scope
from knowledge.text import org_of


def vector_id(fingerprint: str, repo: str) -> str:
    return hashlib.sha256(f"{repo}\x00{fingerprint}".encode()).hexdigest()[:32]


def job_identity(diagnosis: Diagnosis, job: JobContext) -> str:
    """What names "this job" across re-deliveries: the CI's job id, else its URL, else the log's source."""
    if job.job_id is not None:
        return f"{job.ci_system}:{job.repo or ''}:job:{job.job_id}"
    if job.url:
        return job.url
    if job.run_id is not None and job.job:
        return f"{job.ci_system}:{job.repo or ''}:run:{job.run_id}:{job.job}"
    return diagnosis.source


def occurrence_key(fingerprint: str, identity: str, attempt: int | None) -> str:
    return hashlib.sha256(f"{fingerprint}\x00{identity}\x00{attempt or 0}".encode()).hexdigest()


def scope_of(scope: Scope, repo: str | None) -> tuple[Scope, str | None]:
    """(scope, value) a query for `repo` searches under the configured `scope` (`KnowledgeSettings.scope`)."""
    if scope == "repo" and repo:
        return "repo", repo
    if scope in ("repo", "org") and org_of(repo):
        return "org", org_of(repo)
    return "all", None
