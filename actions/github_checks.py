"""The `CI Medic` check run on the head commit, with annotations at the file:line facts of each failure.

GitHub accepts at most 50 annotations per request and appends the annotations of every update to the check
run (docs.github.com/en/rest/checks/runs#update-a-check-run, "output.annotations"): so the first 50 go with
the create/update carrying the summary and the rest follow in further updates of 50, and annotations already
sent are not sent again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from actions.github_api import Client
from actions.github_comment import VERDICT_LABEL, FailedJob, group_by_fingerprint
from agent.render import inline_md

CHECK_NAME = "CI Medic"
MAX_ANNOTATIONS_PER_REQUEST = 50
MAX_SUMMARY = 65_535  # output.summary and output.text: "Maximum length: 65535 characters"

_RUNNER_PREFIX = re.compile(r"^(?:/home/runner/work/[^/]+/[^/]+/|[A-Za-z]:\\a\\[^\\]+\\[^\\]+\\|\./)")


def repo_path(path: str) -> str | None:
    """The repository-relative path annotations need, or None when the path is outside the checkout."""
    p = _RUNNER_PREFIX.sub("", path.strip()).replace("\\", "/")
    if p.startswith("/") or ".." in p.split("/") or not p:
        return None
    return p


def annotations_for(jobs: Sequence[FailedJob], *, ignore_path: Callable[[str], bool]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, int, str]] = set()
    for group in group_by_fingerprint(jobs):
        d = group[0].diagnosis
        for loc in d.facts.locations:
            path = repo_path(loc.path)
            if path is None or loc.line is None or loc.line < 1 or ignore_path(path):
                continue
            message = (loc.message or d.title)[:2000]
            key = (path, loc.line, message)
            if key in seen:
                continue
            seen.add(key)
            out.append(
                {
                    "path": path,
                    "start_line": loc.line,
                    "end_line": loc.line,
                    "annotation_level": "failure",
                    "title": d.title[:255],
                    "message": message + (f"\n(in {len(group)} jobs)" if len(group) > 1 else ""),
                }
            )
    return out


def annotation_key(a: dict[str, Any]) -> str:
    raw = f"{a['path']}:{a['start_line']}:{a['message']}"
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def check_output(jobs: Sequence[FailedJob], *, note: str | None = None) -> tuple[str, str, str]:
    """(conclusion, title, summary) of the check run."""
    if not jobs:
        return "success", "No failures", "All jobs pass." + (f"\n\n{inline_md(note, 500)}" if note else "")
    groups = group_by_fingerprint(jobs)
    lines = []
    for g in groups:
        d = g[0].diagnosis
        kind = d.verdict.kind if d.verdict else "unsure"
        lines.append(
            f"- **{VERDICT_LABEL[kind]}**: {inline_md(d.title)} ({len(g)} job{'s' if len(g) > 1 else ''})"
        )
    summary = "\n".join(lines)
    if note:
        summary += f"\n\n{inline_md(note, 500)}"
    title = f"{len(groups)} distinct failure{'s' if len(groups) != 1 else ''} in {len(jobs)} job" + (
        "s" if len(jobs) != 1 else ""
    )
    # The check explains failures, it is not another failure: `neutral` keeps branch protection unaffected.
    return "neutral", title, summary[:MAX_SUMMARY]


CheckOutcome = Literal["created", "updated", "unchanged", "dry-run"]


def ensure_check_run(
    client: Client,
    repo: str,
    head_sha: str,
    jobs: Sequence[FailedJob],
    *,
    known_id: int | None,
    known_hash: str | None,
    sent_keys: set[str],
    ignore_path: Callable[[str], bool] = lambda _p: False,
    details_url: str | None = None,
    note: str | None = None,
    dry_run: bool = False,
    search: bool = True,
) -> tuple[CheckOutcome, int | None, str, set[str], int]:
    """Create or update the check run. Returns (outcome, id, summary hash, annotation keys sent, requests).

    Without `known_id`, an existing `CI Medic` run on the commit is looked for first, unless `search=False`:
    the caller knows no attempt of its own can have created one.
    """
    conclusion, title, summary = check_output(jobs, note=note)
    fresh = [a for a in annotations_for(jobs, ignore_path=ignore_path) if annotation_key(a) not in sent_keys]
    digest = hashlib.sha256(f"{conclusion}\n{title}\n{summary}".encode()).hexdigest()
    if known_id is not None and digest == known_hash and not fresh:
        return "unchanged", known_id, digest, sent_keys, 0
    if dry_run:
        return "dry-run", known_id, digest, sent_keys, 0
    batches = [
        fresh[i : i + MAX_ANNOTATIONS_PER_REQUEST] for i in range(0, len(fresh), MAX_ANNOTATIONS_PER_REQUEST)
    ]
    first = batches[0] if batches else []
    output: dict[str, Any] = {"title": title, "summary": summary, "annotations": first}
    body: dict[str, Any] = {"status": "completed", "conclusion": conclusion, "output": output}
    if details_url:
        body["details_url"] = details_url
    requests = 1
    if known_id is None and search:
        existing = client.check_runs(repo, head_sha, CHECK_NAME)
        requests += 1
        mine = [c for c in existing if c.get("name") == CHECK_NAME]
        known_id = int(mine[0]["id"]) if mine else None
    if known_id is None:
        created = client.create_check_run(repo, {"name": CHECK_NAME, "head_sha": head_sha, **body})
        check_id = int(created["id"])
        outcome: CheckOutcome = "created"
    else:
        client.update_check_run(repo, known_id, body)
        check_id = known_id
        outcome = "updated"
    sent = set(sent_keys) | {annotation_key(a) for a in first}
    for batch in batches[1:]:
        client.update_check_run(
            repo, check_id, {"output": {"title": title, "summary": summary, "annotations": batch}}
        )
        requests += 1
        sent |= {annotation_key(a) for a in batch}
    return outcome, check_id, digest, sent, requests
