"""The `CI Medic` check run on the head commit, with annotations at the file:line facts of each failure.

GitHub accepts at most 50 annotations per request and appends the annotations of every update to the check
run (docs.github.com/en/rest/checks/runs#update-a-check-run, "output.annotations"): so the first 50 go with
the create/update carrying the summary and the rest follow in further updates of 50, and annotations already
sent are not sent again.

Writes are not retried blind (actions/github_api.py): after a create whose outcome is unknown the run is
looked up by name and head SHA before creating again, as the sticky comment is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from actions.github_api import Client, GitHubError
from actions.github_comment import VERDICT_LABEL, FailedJob, group_by_fingerprint
from agent.render import category_uncertain, code_span, inline_md

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
        # A weak guess does not headline (agent/render.py `category_uncertain`): the first failing line does.
        what = (
            f"category uncertain, {code_span(d.focus[0].text.strip()[:200])}"
            if category_uncertain(d)
            else inline_md(d.title)
        )
        lines.append(f"- **{VERDICT_LABEL[kind]}**: {what} ({len(g)} job{'s' if len(g) > 1 else ''})")
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
        known_id = _find(client, repo, head_sha)
        requests += 1
    if known_id is None:
        check_id, requests = _create(
            client, repo, {"name": CHECK_NAME, "head_sha": head_sha, **body}, requests
        )
        outcome: CheckOutcome = "created"
    else:
        _update(client, repo, known_id, body)
        check_id = known_id
        outcome = "updated"
    sent = set(sent_keys) | {annotation_key(a) for a in first}
    for batch in batches[1:]:
        _update(
            client, repo, check_id, {"output": {"title": title, "summary": summary, "annotations": batch}}
        )
        requests += 1
        sent |= {annotation_key(a) for a in batch}
    return outcome, check_id, digest, sent, requests


WRITE_ATTEMPTS = 3


def _find(client: Client, repo: str, head_sha: str) -> int | None:
    mine = [c for c in client.check_runs(repo, head_sha, CHECK_NAME) if c.get("name") == CHECK_NAME]
    return int(mine[0]["id"]) if mine else None


def _create(client: Client, repo: str, body: dict[str, Any], requests: int) -> tuple[int, int]:
    """POST the check run once; after an unknown outcome, look it up (name, head SHA) before posting again.

    As for the sticky comment (actions/github_comment.py `_create`): an answered 5xx is followed by a search
    and, if nothing is there, another create; a timeout or lost connection by a search and, if nothing is
    there yet, a transient error, so that the retried delivery searches again later.
    """
    attempts = 0
    while True:
        try:
            return int(client.create_check_run(repo, body)["id"]), requests
        except GitHubError as exc:
            attempts += 1
            if not exc.outcome_unknown:
                raise
            found = _find(client, repo, str(body["head_sha"]))
            requests += 1
            if found is not None:
                return found, requests  # the create went through, annotations and all
            if exc.status is None or attempts >= WRITE_ATTEMPTS:
                raise
            requests += 1


def _update(client: Client, repo: str, check_id: int, body: dict[str, Any]) -> None:
    """PATCH the run. Fields are set, so repeating that is harmless; annotations are appended, so after an
    unknown outcome those already on the run are not sent again (matched by `annotation_key`). As for
    creates: nothing there after a timeout means the request may still be on its way, and the caller retries
    later; after an answered 5xx the missing ones are sent again."""
    attempts = 0
    while True:
        try:
            client.update_check_run(repo, check_id, body)
            return
        except GitHubError as exc:
            attempts += 1
            output = body.get("output") or {}
            batch = output.get("annotations") or []
            if not exc.outcome_unknown or attempts >= WRITE_ATTEMPTS:
                raise
            if not batch:
                continue
            present = {annotation_key(a) for a in client.check_run_annotations(repo, check_id)}
            missing = [a for a in batch if annotation_key(a) not in present]
            if not missing:
                return  # carried out
            if exc.status is None and len(missing) == len(batch):
                raise
            body = {**body, "output": {**output, "annotations": missing}}
