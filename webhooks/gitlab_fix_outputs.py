"""GitLab's fix outputs beside the sticky MR note: suggestions as diff threads (actions/gitlab_suggest.py) and
draft fix MRs (actions/fix_mr.py), recorded and audited as on GitHub (webhooks/fix_outputs.py).

Who may ask for a fix MR with `/cimedic fix`: a member with at least the Developer role, the role that may
push to a branch (docs.gitlab.com/user/permissions.md). The role is read from "Get a member of a group or
project, including inherited and invited members" (GET /projects/:id/members/all/:user_id,
docs.gitlab.com/api/members.md: `access_level` 30 is Developer; 404 for a non-member). Our own notes are
never commands, nor are those of project and group access tokens' bot users (`project_<id>_bot_...`,
`group_<id>_bot_...`, docs.gitlab.com/user/project/settings/project_access_tokens.md, "Bot users for
projects").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import gitlab

from actions.audit import AuditLog
from actions.fix_mr import ensure_fix_mr
from actions.fix_request import FixBranch, FixResult
from actions.github_comment import FailedJob
from actions.gitlab_suggest import ensure_mr_suggestions
from actions.policy import Policy
from agent.fixes import Reader
from agent.models import Fix
from webhooks.fix_outputs import FixRequests, publish_fixes, record_suggestions
from webhooks.gitlab import MergeRequestRef
from webhooks.gitlab_files import GitLabFiles
from webhooks.store import Claimed, Store

DEVELOPER = 30
_BOT_USER = re.compile(r"(project|group)_\d+_bot")


def fix_command_refusal(
    gl: gitlab.Gitlab, project_id: int, author: str, author_id: int, own_username: str | None
) -> str | None:
    """Why a `/cimedic fix` note is not obeyed, or None."""
    if not author or author == own_username or _BOT_USER.match(author):
        return "notes by bots are not commands"
    try:
        member: Any = gl.projects.get(project_id, lazy=True).members_all.get(author_id)
        level = int(member.attributes.get("access_level") or 0)
    except gitlab.GitlabGetError as exc:
        if exc.response_code != 404:
            raise
        level = 0  # not a member (nor inherited, nor invited)
    if level < DEVELOPER:
        return f"{author} has less than Developer access to the project"
    return None


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


def _transient(exc: Exception) -> bool | None:
    if not isinstance(exc, gitlab.GitlabError):
        return None
    code = exc.response_code
    return code is None or code == 429 or code >= 500


def publish_fix_mrs(
    store: Store,
    audit: AuditLog,
    gl: gitlab.Gitlab,
    repo: str,
    mr: MergeRequestRef,
    sha: str,
    jobs: Sequence[FailedJob],
    *,
    policy: Policy,
    claimed: Claimed,
    default_branch: str | None,
    asked_by: str | None = None,
) -> None:
    """GitLab's draft fix MRs (`actions.fix_mr`) for merge request `mr`, through `publish_fixes`; called
    under the sticky note's lock."""
    project = gl.projects.get(mr.project_id, lazy=True)
    attributes: dict[str, Any] = {}

    def trunk_tip(branch: str) -> str:
        return str(project.branches.get(branch).attributes["commit"]["id"])

    def ensure(
        fix: Fix,
        results: Mapping[str, str | None],
        fingerprint: str,
        known: FixBranch,
        attempts: int,
        onto: tuple[str, str] | None,
        reader: Reader,
    ) -> FixResult:
        if not attributes:
            attributes.update(project.mergerequests.get(mr.iid).attributes)
        return ensure_fix_mr(
            gl,
            mr.project_id,
            attributes,
            onto[1] if onto else sha,
            fix,
            results,
            fingerprint,
            existed=lambda path: reader(path) is not None,  # already read to validate: no request
            known=known,
            attempts=attempts,
            onto=onto,
            dry_run=policy.dry_run,
        )

    def reply(body: str) -> None:
        # Not retried blind on a 5xx, as the sticky note (actions/gitlab_note.py).
        project.mergerequests.get(mr.iid, lazy=True).notes.create(
            {"body": body}, retry_transient_errors=False
        )

    forge = FixRequests(
        action="fix_mr",
        on=f"mr:{mr.project_id}!{mr.iid}",
        number=f"{repo}!{mr.iid}",
        trunk_tip=trunk_tip,
        reader=lambda at: GitLabFiles(gl, mr.project_id, at),
        ensure=ensure,
        transient=_transient,
        reply=reply,
    )
    publish_fixes(
        store,
        audit,
        forge,
        repo,
        sha,
        jobs,
        policy=policy,
        claimed=claimed,
        default_branch=default_branch,
        asked_by=asked_by,
    )
