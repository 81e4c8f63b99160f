"""GitLab's fix outputs beside the sticky MR note: suggestions as diff threads (actions/gitlab_suggest.py),
recorded and audited as on GitHub (webhooks/fix_outputs.py)."""

from __future__ import annotations

from collections.abc import Sequence

import gitlab

from actions.audit import AuditLog
from actions.github_comment import FailedJob
from actions.gitlab_suggest import ensure_mr_suggestions
from actions.policy import Policy
from webhooks.fix_outputs import record_suggestions
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
    record_suggestions(
        store,
        audit,
        target,
        sent,
        outcome,
        repo=repo,
        on=f"mr:{mr.project_id}!{mr.iid}",
        claimed=claimed,
        detail={"sha": sha, "forge": "gitlab"},
    )
