"""The sticky PR comment: rendered from every failed job of the head commit, written idempotently.

One comment per PR, found by a hidden marker *and* our own login (another user quoting the marker must not
make us edit their comment; docs.github.com/en/rest/issues/comments). All pages are searched. The body is
written only when it changed, and kept under GitHub's 65,536-character limit for comment bodies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

from actions.github_api import Client, GitHubError
from agent.models import Category, Diagnosis
from agent.render import (
    LineUrl,
    category_uncertain,
    code_span,
    excerpt_block,
    fence_for,
    fix_details,
    inline_md,
)

MARKER = "<!-- cimedic:sticky-comment v1 -->"
MAX_BODY = 65_536
BUDGET = 60_000  # leave room for the footer and for multi-byte surprises in GitHub's counting

VERDICT_LABEL = {
    "new": "New failure: likely caused by this change",
    "broken-trunk": "Broken trunk: fails on the base branch too",
    "flaky": "Flaky: passed on a re-run of the same commit",
    "infrastructure": "Infrastructure: runner, network or resource problem",
    "unsure": "Cause unclear: not enough evidence to blame or clear this change",
}
VERDICT_ICON = {"new": "🔴", "broken-trunk": "🟠", "flaky": "🟡", "infrastructure": "🔵", "unsure": "⚪"}


@dataclass(frozen=True)
class FailedJob:
    """One failed job as the comment shows it."""

    name: str
    url: str | None
    diagnosis: Diagnosis
    completed_at: str | None = None


@dataclass(frozen=True)
class TicketLink:
    """The ticket a failure is tracked in, and/or why it is not (yet): an outage, a dry run."""

    key: str | None = None
    url: str | None = None
    note: str | None = None


URL_SAFE = ":/?#=&%@!$'*+,;~.-_"


def ticket_line(link: TicketLink) -> str | None:
    """The line "Tracked in [OPS-12](url)" and/or the note. Key, URL and note come from a tracker: all are
    escaped, and only an http(s) URL becomes a link, its characters that could end it percent-encoded."""
    parts = []
    if link.key and link.key.strip():
        key = inline_md(link.key, 40)
        url = (link.url or "").strip()
        if url.lower().startswith(("https://", "http://")):
            # Percent-encoded: no parenthesis, bracket, space or control character can end the destination.
            key = f"[{key}]({quote(url, safe=URL_SAFE)})"
        parts.append(f"Tracked in {key}")
    if link.note:
        parts.append(f"_Ticket: {inline_md(link.note, 300)}_")
    return " · ".join(parts) or None


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def job_line_url(job_url: str) -> LineUrl:
    """Where line `n` of a job's downloaded log links: the job's page, the same for every line.

    GitHub anchors a line of a job page as `#step:S:L` (step number, line within that step), but nothing
    we hold maps a line of the downloaded log to a step reliably: GET .../actions/jobs/{id}/logs returns
    every step's output as one file with no step boundaries in it (docs.github.com/en/rest/actions/
    workflow-jobs, "Download job logs for a workflow run"); the job's `steps` give `started_at` and
    `completed_at` to the second only, while short steps start and end within the same second
    (github.com/orgs/community/discussions/41351 asks for finer times); step numbers are not always
    consecutive (github/vscode-github-actions#181); and our capped download replaces the middle of a long
    log with one marker line, so later line numbers are not the log's own. A guessed `#step:S:L` would point
    at the wrong line exactly when it matters (GitHub's own annotation links have named the wrong step:
    actions/toolkit#1506), so every line links to the job page.
    """
    return lambda _n: job_url


def group_by_fingerprint(jobs: Sequence[FailedJob]) -> list[list[FailedJob]]:
    """Jobs with the same failure together; groups newest first (by their newest job)."""
    groups: dict[str, list[FailedJob]] = {}
    for job in jobs:
        groups.setdefault(job.diagnosis.fingerprint, []).append(job)
    ordered = sorted(groups.values(), key=lambda g: max(j.completed_at or "" for j in g), reverse=True)
    for g in ordered:
        g.sort(key=lambda j: j.name)
    return ordered


def _render_group(
    group: list[FailedJob],
    *,
    detailed: bool,
    fix_pr: str | None = None,
    fix_label: str = "Draft fix PR",
    ticket: TicketLink | None = None,
) -> str:
    first = group[0]
    d = first.diagnosis
    kind = d.verdict.kind if d.verdict else "unsure"
    uncertain = category_uncertain(d)
    if uncertain:
        # A weak guess does not headline: the failing lines lead, the category follows as a guess.
        out = [
            f"#### {VERDICT_ICON[kind]} Category uncertain: the failing lines",
            "",
            *(f"> line {f.line}: {code_span(f.text.strip()[:300])}" for f in d.focus[:5]),
            "",
        ]
        guess = (
            "category `unknown`"
            if d.category is Category.UNKNOWN
            else f"best guess `{d.category.value}` ({d.confidence:.2f}): {inline_md(d.title, 150)}"
        )
        meta = [f"**{VERDICT_LABEL[kind]}**", guess]
    else:
        out = [f"#### {VERDICT_ICON[kind]} {inline_md(d.title)}", ""]
        meta = [f"**{VERDICT_LABEL[kind]}**", f"category `{d.category.value}`"]
    if d.rule:
        meta.append(f"rule `{inline_md(d.rule, 80)}`")
    out.append(" · ".join(meta))
    if d.verdict is not None:
        reason = inline_md(d.verdict.reason, 300)
        out.append(f"\n_{reason}_" + (f" ([evidence]({d.verdict.link}))" if d.verdict.link else ""))
    names = [f"[{inline_md(j.name, 80)}]({j.url})" if j.url else inline_md(j.name, 80) for j in group]
    if len(group) > 1:
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        out.append(f"\nSame failure in {len(group)} jobs: {shown}")
    else:
        out.append(f"\nJob: {names[0]}")
    tracked = ticket_line(ticket) if ticket else None
    if tracked:
        out.append(tracked)
    if d.facts.step:
        out.append(f"Failed step: `{inline_md(d.facts.step, 120)}`")
    if detailed and d.excerpt:
        excerpt = d.excerpt[:80]
        span = f"lines {excerpt[0].line}–{excerpt[-1].line}"
        link = f" of [the log]({first.url})" if first.url else ""
        block = excerpt_block(
            excerpt, {f.line for f in d.focus}, job_line_url(first.url) if first.url else None
        )
        out += [
            "",
            f"<details><summary>Log excerpt ({span}{link})</summary>",
            "",
            block,
            "",
            "</details>",
        ]
    if d.llm is not None and d.llm.verified:
        out += [
            "",
            f"**Root cause** ({inline_md(d.llm.model, 60)}, {d.llm.confidence} confidence): "
            + inline_md(d.llm.root_cause, 800),
        ]
        if d.llm.fix:
            out.append(f"**Suggested fix:** {inline_md(d.llm.fix, 800)}")
    if fix_pr is not None:
        out.append(f"\n**{fix_label}:** {fix_pr}")
    if detailed and d.fix is not None:
        out += ["", *fix_details(d.fix)]
    rem = d.remediation
    if detailed and (rem.explanation or rem.steps or rem.commands):
        out += ["", f"**What to do, if it is `{d.category.value}`**" if uncertain else "**What to do**"]
        if rem.explanation:
            out.append(inline_md(rem.explanation, 600))
        out += [f"- {inline_md(s, 300)}" for s in rem.steps[:8]]
        if rem.commands:
            fence = fence_for(rem.commands)
            out += ["", fence + "shell", *rem.commands[:8], fence]
        out += [f"- docs: {u}" for u in rem.docs[:3] if u.startswith("https://")]
    if d.notes:
        out += ["", "_" + "; ".join(inline_md(n, 300) for n in d.notes[:5]) + "_"]
    if d.similar:
        out += ["", "**Seen before**"]
        for s in d.similar[:3]:
            fix = f"; fixed by {inline_md(s.resolution, 200)}" if s.resolution else ""
            where = f" in {inline_md(s.repo, 80)}" if s.repo else ""
            out.append(
                f"- {inline_md(s.title, 150)}{where} ({s.occurrences}×, "
                f"{'same fingerprint' if s.exact else f'{s.similarity:.0%} similar'}){fix}"
            )
    return "\n".join(out)


def render_comment(
    jobs: Sequence[FailedJob],
    *,
    head_sha: str,
    passing: bool = False,
    dry_run_note: str | None = None,
    fix_prs: Mapping[str, str] | None = None,
    fix_label: str = "Draft fix PR",
    tickets: Mapping[str, TicketLink] | None = None,
) -> str:
    """The whole comment body, under the size limit: details are dropped from the oldest groups first.

    `fix_prs`: fingerprint -> URL of the draft fix PR (GitLab: MR, `fix_label`) opened for that failure.
    `tickets`: by fingerprint, the ticket each failure is tracked in (the service's, webhooks/ticketing.py).
    """
    tickets = tickets or {}
    short = head_sha[:7]
    if not jobs:
        title = (
            f"### ✅ CI Medic: all jobs pass on `{short}`\n\n"
            "Earlier failures on this pull request are resolved."
            if passing
            else f"### CI Medic: no failed jobs on `{short}`"
        )
        return f"{MARKER}\n{title}\n"
    groups = group_by_fingerprint(jobs)
    n_jobs = len(jobs)
    header = (
        f"{MARKER}\n### CI Medic: {n_jobs} failed job{'s' if n_jobs != 1 else ''} on `{short}`"
        f" ({len(groups)} distinct failure{'s' if len(groups) != 1 else ''})\n"
    )
    footer = "\n<sub>Updated in place by CI Medic. Commands are suggestions; nothing was run.</sub>\n"
    if dry_run_note:
        footer = f"\n> {dry_run_note}\n" + footer
    sep = "\n\n---\n\n"
    links = fix_prs or {}

    def render(g: list[FailedJob], detailed: bool) -> str:
        fp = g[0].diagnosis.fingerprint
        return _render_group(
            g, detailed=detailed, fix_pr=links.get(fp), fix_label=fix_label, ticket=tickets.get(fp)
        )

    full = [render(g, True) for g in groups]
    brief = [render(g, False) for g in groups]
    parts = list(full)
    size = len(header) + len(footer) + 1 + sum(len(p) for p in parts) + len(sep) * max(0, len(parts) - 1)
    # Too long: drop the details (excerpt, remediation) of the oldest groups first.
    for idx in range(len(parts) - 1, -1, -1):
        if size <= BUDGET:
            break
        size -= len(parts[idx]) - len(brief[idx])
        parts[idx] = brief[idx]
    if size <= BUDGET:
        return header + sep.join(parts) + "\n" + footer
    # Still too long: keep whole groups while they fit, then say how many were left out.
    kept: list[str] = []
    size = len(header) + len(footer) + 200
    for p in parts:
        if size + len(p) + len(sep) > BUDGET:
            break
        kept.append(p)
        size += len(p) + len(sep)
    more = len(parts) - len(kept)
    return header + sep.join(kept) + f"\n\n_{more} more distinct failures not shown._\n" + footer


Outcome = Literal["created", "updated", "unchanged", "dry-run"]


def find_sticky_comment(client: Client, repo: str, number: int, login: str | None) -> dict[str, Any] | None:
    """Our comment on the PR: marker in the body and written by `login` (all pages are read)."""
    found = None
    for comment in client.issue_comments(repo, number):
        if MARKER not in (comment.get("body") or ""):
            continue
        author = (comment.get("user") or {}).get("login")
        if login is not None and author != login:
            continue
        if found is None or comment["id"] < found["id"]:  # the oldest one wins if a race ever made two
            found = comment
    return found


def ensure_sticky_comment(
    client: Client,
    repo: str,
    number: int,
    body: str,
    *,
    login: str | None,
    known_id: int | None = None,
    known_hash: str | None = None,
    dry_run: bool = False,
) -> tuple[Outcome, int | None]:
    """Create or update our comment so its body is `body`. Returns what happened and the comment id.

    `known_id`/`known_hash` are what we last wrote (kept by the caller): an unchanged body costs no request,
    and a changed one a single PATCH; only when we know nothing (or our comment was deleted) do we search.
    """
    if len(body) >= MAX_BODY:
        raise ValueError(f"comment body is {len(body)} characters; GitHub accepts fewer than {MAX_BODY}")
    digest = body_hash(body)
    if known_id is not None and known_hash == digest:
        return "unchanged", known_id
    if dry_run:
        return "dry-run", known_id
    if known_id is not None:
        try:
            _update(client, repo, known_id, body)
            return "updated", known_id
        except GitHubError as exc:
            if exc.status != 404:
                raise
    existing = find_sticky_comment(client, repo, number, login)
    if existing is not None:
        if existing.get("body") == body:
            return "unchanged", int(existing["id"])
        _update(client, repo, int(existing["id"]), body)
        return "updated", int(existing["id"])
    return "created", _create(client, repo, number, body, login)


WRITE_ATTEMPTS = 3


def _create(client: Client, repo: str, number: int, body: str, login: str | None) -> int:
    """POST our comment once; after a write whose outcome is unknown, look for it before posting again.

    A 5xx was answered, so GitHub is done with that request: if the comment is not there, it was not made
    and posting again is safe. A timeout or a lost connection leaves the request possibly still running at
    GitHub: a search that comes too early would miss it, so we give up for now (transient) and the next
    attempt (the worker retries the delivery after a backoff) searches again first.
    """
    attempts = 0
    while True:
        try:
            return int(client.create_comment(repo, number, body)["id"])
        except GitHubError as exc:
            attempts += 1
            if not exc.outcome_unknown:
                raise
            found = find_sticky_comment(client, repo, number, login)
            if found is not None:
                if found.get("body") != body:
                    _update(client, repo, int(found["id"]), body)
                return int(found["id"])
            if exc.status is None or attempts >= WRITE_ATTEMPTS:
                raise


def _update(client: Client, repo: str, comment_id: int, body: str) -> None:
    """PATCH the body; setting the same body twice is harmless, so an unknown outcome is retried."""
    for attempt in range(WRITE_ATTEMPTS):
        try:
            client.update_comment(repo, comment_id, body)
            return
        except GitHubError as exc:
            if not exc.outcome_unknown or attempt == WRITE_ATTEMPTS - 1:
                raise
