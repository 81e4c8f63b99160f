"""The sticky merge request note: the same body as the GitHub comment, written idempotently.

One note per MR, found by the comment's hidden marker *and* our bot's username (another user quoting the
marker must not make us edit their note). All pages of notes are read (python-gitlab follows GitLab's `Link`
pagination headers). The body is written only when it changed. Docs: docs.gitlab.com/api/notes.md
("List all merge request notes", "Create new merge request note", "Modify existing merge request note").
"""

from __future__ import annotations

from typing import Any

import gitlab
from gitlab.v4.objects import ProjectMergeRequest

from actions.github_comment import MARKER, Outcome, body_hash

MAX_BODY = 1_000_000
"""GitLab refuses note bodies longer than 1,000,000 characters (docs: api/notes.md)."""


def find_sticky_note(mr: ProjectMergeRequest, username: str | None) -> dict[str, Any] | None:
    """Our note on the MR: marker in the body and written by `username`; the oldest if a race made two."""
    found: dict[str, Any] | None = None
    for note in mr.notes.list(iterator=True, per_page=100, sort="asc", order_by="created_at"):
        data = dict(note.attributes)
        if MARKER not in (data.get("body") or "") or data.get("system"):
            continue
        if username is not None and (data.get("author") or {}).get("username") != username:
            continue
        if found is None or data["id"] < found["id"]:
            found = data
    return found


def ensure_mr_note(
    gl: gitlab.Gitlab,
    project_id: int,
    iid: int,
    body: str,
    *,
    username: str | None,
    known_id: int | None = None,
    known_hash: str | None = None,
    dry_run: bool = False,
) -> tuple[Outcome, int | None]:
    """Create or update our note so its body is `body`. Returns what happened and the note id.

    `known_id`/`known_hash` are what we last wrote: an unchanged body costs no request, a changed one a
    single PUT; only when we know nothing (or our note was deleted) do we list the notes.
    """
    if len(body) > MAX_BODY:
        raise ValueError(f"note body is {len(body)} characters; GitLab accepts at most {MAX_BODY}")
    if known_id is not None and known_hash == body_hash(body):
        return "unchanged", known_id
    if dry_run:
        return "dry-run", known_id
    mr = gl.projects.get(project_id, lazy=True).mergerequests.get(iid, lazy=True)
    if known_id is not None:
        try:
            mr.notes.update(known_id, {"body": body})
            return "updated", known_id
        except gitlab.GitlabUpdateError as exc:
            if exc.response_code != 404:
                raise
    existing = find_sticky_note(mr, username)
    if existing is not None:
        if existing.get("body") == body:
            return "unchanged", int(existing["id"])
        mr.notes.update(int(existing["id"]), {"body": body})
        return "updated", int(existing["id"])
    # Not retried blind on a 5xx (the client retries other calls, webhooks/gitlab_forge.py `connect`): a
    # proxy's 502 can come after GitLab wrote the note. The error fails this attempt; the next one lists the
    # notes and finds ours by its marker instead of writing a second.
    created = mr.notes.create({"body": body}, retry_transient_errors=False)
    return "created", int(created.id)
