"""The `cimedic` commit status: GitLab's counterpart of the GitHub check run.

POST /projects/:id/statuses/:sha with `name=cimedic` (docs.gitlab.com/api/commits.md, "Set the pipeline status
of a commit"). GitLab has no `neutral` state: failures diagnosed are `failed` (the pipeline has failed
already, so this changes no merge check), none `success`. Written only when state or description changed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

import gitlab

from actions.github_comment import FailedJob, group_by_fingerprint

NAME = "cimedic"
MAX_DESCRIPTION = 255  # GitLab's column limit for a status description

StatusOutcome = Literal["created", "unchanged", "dry-run"]


def status_of(jobs: Sequence[FailedJob], *, note: str | None = None) -> tuple[str, str]:
    """(state, description) for the commit's failed jobs."""
    if not jobs:
        text = "No failures" + (f" ({note})" if note else "")
        return "success", text[:MAX_DESCRIPTION]
    groups = group_by_fingerprint(jobs)
    first = groups[0][0].diagnosis
    text = (
        f"{len(groups)} distinct failure{'s' if len(groups) != 1 else ''} in {len(jobs)} job"
        f"{'s' if len(jobs) != 1 else ''}: {first.title}"
    )
    if note:
        text = f"{note} · {text}"
    return "failed", " ".join(text.split())[:MAX_DESCRIPTION]


def ensure_commit_status(
    gl: gitlab.Gitlab,
    project_id: int,
    sha: str,
    jobs: Sequence[FailedJob],
    *,
    target_url: str | None,
    pipeline_id: int | None = None,
    known_hash: str | None = None,
    note: str | None = None,
    dry_run: bool = False,
) -> tuple[StatusOutcome, str]:
    """Set the status if it differs from what we last set. Returns what happened and its digest."""
    state, description = status_of(jobs, note=note)
    digest = hashlib.sha256(f"{state}\n{description}\n{target_url}".encode()).hexdigest()
    if digest == known_hash:
        return "unchanged", digest
    if dry_run:
        return "dry-run", digest
    data: dict[str, object] = {"state": state, "name": NAME, "description": description}
    if target_url:
        data["target_url"] = target_url
    if pipeline_id is not None:
        data["pipeline_id"] = pipeline_id
    gl.projects.get(project_id, lazy=True).commits.get(sha, lazy=True).statuses.create(data)
    return "created", digest
