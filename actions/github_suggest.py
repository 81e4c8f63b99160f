"""Review suggestions: a validated fix, posted as ```suggestion comments on the lines of the PR it changes.

GitHub shows a suggestion as a one-click "Commit suggestion" on a review comment whose body holds a
```suggestion block; the block replaces the commented lines (docs.github.com/en/pull-requests/
collaborating-with-pull-requests/reviewing-changes-in-pull-requests/incorporating-feedback-in-your-pull-request).
A review comment can only sit on lines of the pull request's diff: "Create a review comment for a pull
request", POST /repos/{owner}/{repo}/pulls/{pull_number}/comments with `commit_id`, `path`, `line` (and
`start_line` for a range), `side: RIGHT` (docs.github.com/en/rest/pulls/comments). So a fix is suggested only
where every line it replaces is a right-side line of the PR's diff (the `patch` field of "List pull request
files", docs.github.com/en/rest/pulls/pulls#list-pull-requests-files) and says there what the fix expects;
elsewhere the sticky comment's collapsed diff is all there is.

Each suggestion is its own comment, not one review holding them all: a review whose one comment has a bad
anchor is refused whole (422). Each carries a hidden marker with a digest of what it suggests, and is
posted once: our record says which digests went out, and without a record our own comments on the PR are
looked up by marker and author before anything is posted.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from actions.github_api import Client, GitHubError
from agent.fixes.unidiff import DiffError, Hunk, parse_diff
from agent.models import Fix
from agent.render import fence_for, inline_md

log = logging.getLogger("cimedic.suggest")

MARKER = "<!-- cimedic:suggestion {digest} -->"
_MARKER_RE = re.compile(r"<!-- cimedic:suggestion ([0-9a-f]{16}) -->")
_PR_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")
MAX_SUGGESTIONS = 10
"""Per pull request and publish: a fix is capped at 10 files and 200 lines, so this is rarely reached."""


@dataclass(frozen=True)
class Suggestion:
    path: str
    start_line: int  # lines of the head commit (the PR's right side), inclusive
    end_line: int
    old: tuple[str, ...]  # what those lines say now
    new: tuple[str, ...]  # what the suggestion puts there instead
    title: str

    @property
    def digest(self) -> str:
        key = "\n".join([self.path, str(self.start_line), str(self.end_line), *self.old, "\0", *self.new])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def body(self) -> str:
        fence = fence_for(self.new)
        block = "\n".join([fence + "suggestion", *self.new, fence])
        return (
            f"{MARKER.format(digest=self.digest)}\n**CI Medic:** {inline_md(self.title, 200)}\n\n{block}\n\n"
            "<sub>Checked: the fix applies to this commit. Nothing was committed.</sub>"
        )


def _hunk_suggestion(path: str, hunk: Hunk, title: str) -> Suggestion | None:
    """The smallest run of old lines the hunk's changes replace, with what replaces them; a pure insertion
    is anchored on the line before it (or after it, at the top of the file)."""
    if not (hunk.old_eof_newline and hunk.new_eof_newline) or any("\r" in x for x in hunk.lines):
        return None  # end-of-file newline changes and CRLF files cannot be said in a suggestion block
    changed = [k for k, x in enumerate(hunk.lines) if x[0] in "+-"]
    if not changed:
        return None
    first, last = changed[0], changed[-1]
    if not any(hunk.lines[k][0] == "-" for k in range(first, last + 1)):
        if first > 0:
            first -= 1
        elif last + 1 < len(hunk.lines):
            last += 1
        else:
            return None  # a new file: no line to anchor on
    old_line = hunk.old_start
    start = None
    old: list[str] = []
    new: list[str] = []
    for k, x in enumerate(hunk.lines):
        if first <= k <= last:
            if x[0] != "+":
                start = old_line if start is None else start
                old.append(x[1:])
            if x[0] != "-":
                new.append(x[1:])
        if x[0] != "+":
            old_line += 1
    if start is None:
        return None
    return Suggestion(path, start, start + len(old) - 1, tuple(old), tuple(new), title)


def plan(fix: Fix) -> list[Suggestion]:
    """One suggestion per hunk of a validated fix (files changed in place only: no creation, deletion or
    rename can be a suggestion)."""
    try:
        files = parse_diff(fix.patch)
    except DiffError:
        return []  # cannot happen for a validated fix; a suggestion is optional, the comment shows it
    out = []
    for fd in files:
        if fd.old_path is None or fd.new_path is None or fd.rename or fd.old_path != fd.new_path:
            continue
        for hunk in fd.hunks:
            s = _hunk_suggestion(fd.new_path, hunk, fix.title)
            if s is not None:
                out.append(s)
    return out


def right_side(patch: str | None) -> dict[int, str]:
    """The head side of a PR file's diff: line number -> text, for the lines a review comment may sit on."""
    lines: dict[int, str] = {}
    if not patch:
        return lines
    number = 0
    for row in patch.split("\n"):
        m = _PR_HUNK.match(row)
        if m is not None:
            number = int(m.group(1))
        elif row.startswith((" ", "+")) and number:
            lines[number] = row[1:]
            number += 1
    return lines


def anchored(suggestions: Iterable[Suggestion], pr_files: Sequence[dict[str, object]]) -> list[Suggestion]:
    """The suggestions every line of which is in the PR's diff and says there what the fix expects."""
    sides = {}
    for f in pr_files:
        patch = f.get("patch")
        sides[str(f.get("filename"))] = right_side(patch if isinstance(patch, str) else None)
    out = []
    for s in suggestions:
        side = sides.get(s.path, {})
        if all(side.get(s.start_line + k) == text for k, text in enumerate(s.old)):
            out.append(s)
    return out


def posted_digests(client: Client, repo: str, number: int, login: str | None) -> set[str]:
    """Digests of the suggestions we already posted on the PR (our review comments, all pages)."""
    found = set()
    for c in client.paginate(f"/repos/{repo}/pulls/{number}/comments", route="pulls/{n}/comments"):
        if login is not None and (c.get("user") or {}).get("login") != login:
            continue
        m = _MARKER_RE.search(c.get("body") or "")
        if m is not None:
            found.add(m.group(1))
    return found


def pr_files(client: Client, repo: str, number: int) -> list[dict[str, object]]:
    return list(client.paginate(f"/repos/{repo}/pulls/{number}/files", route="pulls/{n}/files"))


def post(client: Client, repo: str, number: int, head_sha: str, s: Suggestion) -> int:
    body: dict[str, object] = {
        "body": s.body(),
        "commit_id": head_sha,
        "path": s.path,
        "line": s.end_line,
        "side": "RIGHT",
    }
    if s.start_line != s.end_line:
        body |= {"start_line": s.start_line, "start_side": "RIGHT"}
    route = "pulls/{n}/comments"
    data = client.get_json("POST", f"/repos/{repo}/pulls/{number}/comments", route=route, json=body)
    return int(data["id"])


@dataclass
class SuggestOutcome:
    created: list[tuple[str, int]]  # (digest, comment id) posted now
    found: list[str]  # digests already on the PR (posted by an earlier attempt)
    refused: list[tuple[str, str]]  # (digest, why GitHub refused it)

    @property
    def done(self) -> list[str]:
        return [d for d, _ in self.created] + self.found


def ensure_suggestions(
    client: Client,
    repo: str,
    number: int,
    head_sha: str,
    fixes: Sequence[Fix],
    *,
    login: str | None,
    sent: set[str],
    dry_run: bool = False,
) -> SuggestOutcome:
    """Post each suggestion of `fixes` that fits the PR's diff and was not posted before.

    `sent`: digests our record says went out (no request at all for those). A write that GitHub refuses
    (422: the line left the diff since) is skipped with its reason and the others still go; a write whose
    outcome is unknown raises, and the retry finds it by its marker before posting again.
    """
    wanted = {s.digest: s for fix in fixes for s in plan(fix) if s.digest not in sent}
    outcome = SuggestOutcome([], [], [])
    if not wanted:
        return outcome
    fits = anchored(wanted.values(), pr_files(client, repo, number))[:MAX_SUGGESTIONS]
    if not fits:
        return outcome
    there = posted_digests(client, repo, number, login)
    for s in fits:
        if s.digest in there:
            outcome.found.append(s.digest)
        elif not dry_run:
            try:
                outcome.created.append((s.digest, post(client, repo, number, head_sha, s)))
            except GitHubError as exc:
                if exc.outcome_unknown or exc.transient:
                    raise
                log.warning("suggestion refused", extra={"repo": repo, "pr": number, "status": exc.status})
                outcome.refused.append((s.digest, str(exc)))
    return outcome
