"""GitLab's fix outputs beside the sticky MR note: suggestions as diff threads (actions/gitlab_suggest.py),
recorded and audited as on GitHub (webhooks/fix_outputs.py)."""

from __future__ import annotations

from collections.abc import Sequence

import gitlab

from actions.audit import AuditLog
from actions.github_comment import FailedJob
from actions.gitlab_suggest import ensure_mr_suggestions
from actions.policy import Policy
from webhooks import metrics
from webhooks.gitlab import MergeRequestRef
from webhooks.store import Claimed, Store


def publish_mr_suggestions(
    store: Store,
    audit: AuditLog,
    gl: gitlab.Gitlab,
    repo: str,
    mr: MergeRequestRef,
    sha: str,
    jobs: Sequence[FailedJob],
    *,
    username: str | None,
    policy: Policy,
    claimed: Claimed,
) -> None:
    """Suggest each job's validated fix on the MR's lines, once; called under the note's lock."""
    fixes = [j.diagnosis.fix for j in jobs if j.diagnosis.fix is not None]
    if not fixes or not policy.outputs.suggestions:
        return
    target = f"gitlab-suggestions:{mr.project_id}!{mr.iid}"
    _, _, state = store.published(target)
    sent = set(state or [])
    outcome = ensure_mr_suggestions(
        gl, mr.project_id, mr.iid, sha, fixes, username=username, sent=sent, dry_run=policy.dry_run
    )
    if outcome.done:
        store.set_published(target, None, None, sorted(sent | set(outcome.done)))
    for digest, note_id in outcome.created:
        metrics.WRITES.labels(action="suggestion", outcome="created").inc()
        audit.record(
            repo=repo,
            action="suggestion.created",
            target=f"mr:{mr.project_id}!{mr.iid}",
            outcome="done",
            remote_id=note_id,
            delivery_id=claimed.delivery_id,
            detail={"sha": sha, "digest": digest, "forge": "gitlab"},
        )
    for digest, why in outcome.refused:
        audit.record(
            repo=repo,
            action="suggestion.refused",
            target=f"mr:{mr.project_id}!{mr.iid}",
            outcome="failed",
            delivery_id=claimed.delivery_id,
            detail={"sha": sha, "digest": digest, "reason": why, "forge": "gitlab"},
        )
