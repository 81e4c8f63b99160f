"""The keys the knowledge base files a failure under, and the scope of a query: plain functions, no SQL.

Kept apart from `knowledge.base` so that `knowledge.probe` (the command line's look before opening the stores)
computes exactly the keys the stores use without importing SQLAlchemy.
"""

from __future__ import annotations

import hashlib
from typing import Any

from agent.models import Diagnosis, JobContext
from knowledge.config import Scope
from knowledge.text import embed_text, lines_text, org_of, parse_time, utcnow


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


def record_values(diagnosis: Diagnosis, job: JobContext) -> tuple[dict[str, Any], dict[str, Any]]:
    """The failure's row and its occurrence's row as `KnowledgeBase.record` files them (before counting);
    also what `knowledge.first_run` writes on a clean home without SQLAlchemy."""
    repo = job.repo or ""
    seen = parse_time(job.time) or utcnow()
    values = {
        "fingerprint": diagnosis.fingerprint,
        "repo": repo,
        "org": org_of(job.repo),
        "vector_id": vector_id(diagnosis.fingerprint, repo),
        "category": diagnosis.category.value,
        "rule": diagnosis.rule,
        "title": diagnosis.title,
        "focus_text": lines_text(diagnosis.focus),
        "excerpt_text": lines_text(diagnosis.excerpt),
        "embed_text": embed_text(diagnosis),
        "first_seen": seen,
        "last_seen": seen,
    }
    occurrence = {
        "key": occurrence_key(diagnosis.fingerprint, job_identity(diagnosis, job), job.run_attempt),
        "fingerprint": diagnosis.fingerprint,
        "repo": repo,
        "source": diagnosis.source,
        "ci_system": job.ci_system,
        "branch": job.branch,
        "commit_sha": job.commit,
        "workflow": job.workflow,
        "job": job.job,
        "job_id": job.job_id,
        "run_id": job.run_id,
        "run_attempt": job.run_attempt,
        "url": job.url,
        "pull_requests": ",".join(str(n) for n in job.pull_requests) or None,
        "category": diagnosis.category.value,
        "confidence": diagnosis.confidence,
        "verdict": diagnosis.verdict.kind if diagnosis.verdict else None,
        "verdict_reason": diagnosis.verdict.reason if diagnosis.verdict else None,
        "verdict_link": diagnosis.verdict.link if diagnosis.verdict else None,
        "seen_at": seen,
    }
    return values, occurrence
