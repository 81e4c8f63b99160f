"""Draft fix merge requests on GitLab: the forge-neutral guards of `actions.fix_request` over GitLab's API,
through python-gitlab as the rest of the GitLab code (webhooks/gitlab_forge.py).

API pages relied on (docs.gitlab.com/api/):
- branches.md, "Get single repository branch" (GET /projects/:id/repository/branches/:branch: `commit.id` is
  the tip; 404 when there is no such branch);
- commits.md, "Create a commit with multiple files and actions" (POST /projects/:id/repository/commits with
  `branch`, `start_sha`, `commit_message`, `actions[]` of `create`/`update`/`delete`): with `start_sha` the
  branch is created holding the one new commit, in one request, and GitLab refuses it when the branch already
  exists (no `force`: nothing of ours can move a branch); "Get a single commit" (`parent_ids`, `message`);
- merge_requests.md, "List project merge requests" (`source_branch`, `state=opened`) and "Create MR"
  (`source_branch`, `target_branch`, `title`; a title starting `Draft:` makes a draft,
  user/project/merge_requests/drafts.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gitlab

from actions.fix_request import FixBranch, FixResult, Request, ensure_fix_request
from agent.models import Fix


class GitLabFixForge:
    """One project's branches, commits and merge requests, as `actions.fix_request.FixForge`.

    `existed(path)`: whether the file is in the commit the fix was checked against (`update` or `create`).
    """

    noun = "MR"

    def __init__(self, gl: gitlab.Gitlab, project_id: int, existed: Callable[[str], bool]) -> None:
        self.project = gl.projects.get(project_id, lazy=True)
        self.existed = existed

    def branch_tip(self, branch: str) -> str | None:
        try:
            found = self.project.branches.get(branch)
        except gitlab.GitlabGetError as exc:
            if exc.response_code == 404:
                return None
            raise
        return str((found.attributes.get("commit") or {}).get("id"))

    def made_by_us(self, sha: str, base_sha: str, message: str) -> bool:
        commit = self.project.commits.get(sha).attributes
        return list(commit.get("parent_ids") or []) == [base_sha] and commit.get("message") == message

    def open_request(self, branch: str) -> tuple[int, str | None] | None:
        found: Any = self.project.mergerequests.list(source_branch=branch, state="opened", get_all=False)
        return (int(found[0].iid), found[0].attributes.get("web_url")) if found else None

    def push(
        self, branch: str, base_sha: str, results: Mapping[str, str | None], message: str, made: list[str]
    ) -> None:
        actions = [
            {"action": "delete", "file_path": p}
            if text is None
            else {"action": "update" if self.existed(p) else "create", "file_path": p, "content": text}
            for p, text in results.items()
        ]
        # Not retried blind on a 5xx (the client retries other calls): a proxy's 502 can come after GitLab
        # made the branch; the retry of the delivery then finds it and recognises the commit as ours.
        created = self.project.commits.create(
            {"branch": branch, "start_sha": base_sha, "commit_message": message, "actions": actions},
            retry_transient_errors=False,
        )
        made.append(str(created.id))

    def propose(self, branch: str, onto: str, title: str, body: str) -> tuple[int, str | None]:
        created = self.project.mergerequests.create(
            {"source_branch": branch, "target_branch": onto, "title": title, "description": body},
            retry_transient_errors=False,
        )
        return int(created.iid), created.attributes.get("web_url")


def ensure_fix_mr(
    gl: gitlab.Gitlab,
    project_id: int,
    mr: Mapping[str, Any],
    checked_sha: str,
    fix: Fix,
    results: Mapping[str, str | None],
    fingerprint: str,
    *,
    existed: Callable[[str], bool],
    known: FixBranch,
    attempts: int,
    onto: tuple[str, str] | None = None,
    dry_run: bool = False,
) -> FixResult:
    """Open (or find) the draft fix MR for `fix` on merge request `mr` (GitLab's "Get single MR"), in
    `project_id`, the MR's target project. A fork's MR (its source project is another) is skipped."""
    request = Request(
        head_ref=str(mr.get("source_branch") or ""),
        head_sha=str(mr.get("sha") or ""),
        fork=mr.get("source_project_id") != project_id,
    )
    return ensure_fix_request(
        GitLabFixForge(gl, project_id, existed),
        request,
        checked_sha,
        fix,
        results,
        fingerprint,
        known=known,
        attempts=attempts,
        ref=f"!{mr.get('iid')}",
        title=f"Draft: CI Medic: {fix.title}"[:250],
        onto=onto,
        dry_run=dry_run,
    )
