"""Suggestions on a GitLab merge request: a validated fix as diff threads holding a ```suggestion block.

GitLab applies a suggestion from a diff thread whose note holds a ```suggestion:-A+B block: it replaces
the commented line, A lines above it and B below (docs.gitlab.com/user/project/merge_requests/reviews/
suggestions). The thread is "Create a new thread in the merge request diff", POST /projects/:id/
merge_requests/:merge_request_iid/discussions with `position[position_type]=text`, the MR's `diff_refs`
(`base_sha`, `start_sha`, `head_sha`), `new_path`/`old_path` and `new_line` (plus `old_line` for a line
the MR did not change) (docs.gitlab.com/api/discussions, "Create a new thread in the merge request diff").
Only lines of the MR's diff can hold a thread ("List merge request diffs", GET .../merge_requests/:iid/diffs,
docs.gitlab.com/api/merge_requests). As on GitHub (actions/github_suggest.py) each suggestion is its own
thread, found again by a hidden marker and our username before anything is posted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import gitlab

from actions.github_suggest import MARKER, Suggestion, SuggestOutcome, plan
from agent.models import Fix
from agent.render import fence_for, inline_md

log = logging.getLogger("cimedic.suggest.gitlab")

_MARKER_RE = re.compile(r"<!-- cimedic:suggestion ([0-9a-f]{16}) -->")
_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")
MAX_SUGGESTIONS = 10


def new_side(diff: str | None) -> dict[int, tuple[str, int | None]]:
    """New-side line -> (text, old line when the MR left the line unchanged, else None)."""
    lines: dict[int, tuple[str, int | None]] = {}
    old = new = 0
    for row in (diff or "").split("\n"):
        m = _HUNK.match(row)
        if m is not None:
            old, new = int(m.group(1)), int(m.group(2))
        elif not new:
            continue
        elif row.startswith("+"):
            lines[new] = (row[1:], None)
            new += 1
        elif row.startswith(" "):
            lines[new] = (row[1:], old)
            old += 1
            new += 1
        elif row.startswith("-"):
            old += 1
    return lines


def body(s: Suggestion) -> str:
    fence = fence_for(s.new)
    info = f"suggestion:-0+{s.end_line - s.start_line}"  # anchored on the first line it replaces
    block = "\n".join([fence + info, *s.new, fence])
    return (
        f"{MARKER.format(digest=s.digest)}\n**CI Medic:** {inline_md(s.title, 200)}\n\n{block}\n\n"
        "<sub>Checked: the fix applies to this commit. Nothing was committed.</sub>"
    )


def _ours(gl: gitlab.Gitlab, project_id: int, iid: int, username: str | None) -> set[str]:
    found = set()
    path = f"/projects/{project_id}/merge_requests/{iid}/discussions"
    for thread in gl.http_list(path, iterator=True, per_page=100):
        for note in thread.get("notes") or []:
            if username is not None and (note.get("author") or {}).get("username") != username:
                continue
            m = _MARKER_RE.search(note.get("body") or "")
            if m is not None:
                found.add(m.group(1))
    return found


def ensure_mr_suggestions(
    gl: gitlab.Gitlab,
    project_id: int,
    iid: int,
    head_sha: str,
    fixes: Sequence[Fix],
    *,
    username: str | None,
    sent: set[str],
    dry_run: bool = False,
) -> SuggestOutcome:
    """Post each suggestion of `fixes` that fits the MR's diff at `head_sha` and was not posted before."""
    wanted = {s.digest: s for fix in fixes for s in plan(fix) if s.digest not in sent}
    outcome = SuggestOutcome([], [], [])
    if not wanted:
        return outcome
    mr: Any = gl.http_get(f"/projects/{project_id}/merge_requests/{iid}")
    refs = mr.get("diff_refs") or {}
    if refs.get("head_sha") != head_sha:
        return outcome  # the MR moved on: positions at another commit would be wrong
    diffs = list(
        gl.http_list(f"/projects/{project_id}/merge_requests/{iid}/diffs", iterator=True, per_page=100)
    )
    sides = {str(d.get("new_path")): (str(d.get("old_path")), new_side(d.get("diff"))) for d in diffs}
    fits = []
    for s in wanted.values():
        old_path, side = sides.get(s.path, ("", {}))
        if all((side.get(s.start_line + k) or ("\0", None))[0] == text for k, text in enumerate(s.old)):
            fits.append((s, old_path, side[s.start_line][1]))
    if not fits:
        return outcome
    there = _ours(gl, project_id, iid, username)
    threads = gl.projects.get(project_id, lazy=True).mergerequests.get(iid, lazy=True).discussions
    for s, old_path, old_line in fits[:MAX_SUGGESTIONS]:
        if s.digest in there:
            outcome.found.append(s.digest)
            continue
        if dry_run:
            continue
        position: dict[str, Any] = {
            "position_type": "text",
            "base_sha": refs.get("base_sha"),
            "start_sha": refs.get("start_sha"),
            "head_sha": head_sha,
            "old_path": old_path,
            "new_path": s.path,
            "new_line": s.start_line,
        }
        if old_line is not None:
            position["old_line"] = old_line
        try:
            created = threads.create({"body": body(s), "position": position})
        except gitlab.GitlabCreateError as exc:
            if exc.response_code is not None and exc.response_code >= 500:
                raise
            log.warning(
                "suggestion refused", extra={"project": project_id, "mr": iid, "status": exc.response_code}
            )
            outcome.refused.append((s.digest, str(exc)))
            continue
        outcome.created.append((s.digest, int(created.attributes.get("notes", [{}])[0].get("id") or 0)))
    return outcome
