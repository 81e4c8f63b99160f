"""The ticket life cycle: one ticket per failure fingerprint, its recurrences as comments.

`ensure_ticket` is the one call the CLI and the service make for a failed job; `note_green` the one for a job
that passed again. Both read freely, write only outside dry-run, and record every write (or, in dry-run, what
would have been written) in the audit log.

Deduplication, in order: our own record (fingerprint → key; a tracker's search lags behind a create: Jira
Cloud's is eventually consistent), then the tracker's own search (label or attachment URL), then a create. A
create is claimed in our record first, so two workers file one ticket; a create that timed out is looked up,
never retried blind, and when it cannot be found yet it is left for the next occurrence to find.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from actions.audit import AuditLog
from actions.policy import Tickets
from actions.tickets import render
from actions.tickets.model import CreateInDoubt, Ticket, TicketDraft, Tracker, TrackerError
from actions.tickets.record import TicketRecord, TicketRow
from agent.models import Diagnosis, JobContext
from knowledge.text import utcnow

# A claim whose create is in doubt stays unanswered this long: the tracker's search may not show the new
# ticket yet. After that the create is taken as not having happened, and the next occurrence files again.
PENDING_GRACE = timedelta(minutes=10)

Action = Literal[
    "created", "commented", "reopened", "linked", "pending", "silenced", "unchanged", "green", "error"
]


@dataclass(frozen=True)
class TicketOutcome:
    action: Action
    fingerprint: str
    key: str | None = None
    url: str | None = None
    message: str = ""
    dry_run: bool = False  # `action` is what would have happened


def should_file(policy: Tickets, diagnosis: Diagnosis, *, default_branch_occurrences: int = 0) -> bool:
    """The service's rule (`tickets:` in the repo policy): a tracker is configured, and the verdict is one the
    policy names or the failure was seen at least `min_occurrences` times on the default branch."""
    if policy.tracker is None:
        return False
    if diagnosis.verdict is not None and diagnosis.verdict.kind in policy.verdicts:
        return True
    return 0 < policy.min_occurrences <= default_branch_occurrences


def job_key(job: JobContext) -> str | None:
    """The job's identity across runs ("workflow/job"): "green again" is matched on it."""
    return f"{job.workflow or ''}/{job.job}" if job.job else None


@dataclass
class _Run:
    tracker: Tracker
    fingerprint: str
    job: JobContext
    record: TicketRecord
    policy: Tickets
    audit: AuditLog
    dry_run: bool
    now: datetime
    diagnosis: Diagnosis | None = None  # None when only the job is known (green again)

    @property
    def repo(self) -> str:
        return self.job.repo or ""

    @property
    def title(self) -> str:
        return self.diagnosis.title if self.diagnosis else ""

    def log(self, action: str, target: str, outcome: str, **detail: Any) -> None:
        self.audit.record(
            repo=self.repo or "-",
            action=f"ticket.{action}",
            target=f"{self.tracker.name}:{target}",
            outcome="dry-run" if self.dry_run and outcome == "done" else outcome,
            detail={"fingerprint": self.fingerprint, **detail},
        )

    def outcome(self, action: Action, ticket: Ticket | None = None, message: str = "") -> TicketOutcome:
        return TicketOutcome(
            action=action,
            fingerprint=self.fingerprint,
            key=ticket.key if ticket else None,
            url=ticket.url if ticket else None,
            message=message,
            dry_run=self.dry_run,
        )

    def draft(self, draft_id: str = "") -> TicketDraft:
        assert self.diagnosis is not None, "a ticket is drafted from a diagnosis"
        return render.draft(self.diagnosis, self.job, self.tracker.markup, draft_id=draft_id)

    def remember(self, row: TicketRow | None, ticket: Ticket, count: int) -> None:
        if self.dry_run:
            return
        if row is None:
            self.record.claim(
                tracker=self.tracker.name,
                repo=self.repo,
                fingerprint=self.fingerprint,
                title=self.title,
                job=job_key(self.job),
                draft_id="",
                now=self.now,
            )
            row = self.record.get(self.tracker.name, self.repo, self.fingerprint)
            assert row is not None  # just claimed or claimed by another worker: it exists
        self.record.update(
            row.id,
            self.now,
            key=ticket.key,
            url=ticket.url,
            state="open",
            occurrences=count,
            last_job_url=self.job.url,
            job=job_key(self.job) or row.job,
        )

    def write(self, action: str, ticket: Ticket, body: str, call: Any, **detail: Any) -> bool:
        """Run one write (unless dry-run) and audit it; False when it failed (audited as an error)."""
        if self.dry_run:
            self.log(action, ticket.key, "done", body=body, **detail)
            return True
        try:
            call()
        except TrackerError as exc:
            self.log(action, ticket.key, "error", error=str(exc), **detail)
            return False
        self.log(action, ticket.key, "done", body=body, **detail)
        return True


def ensure_ticket(
    tracker: Tracker,
    diagnosis: Diagnosis,
    job: JobContext,
    record: TicketRecord,
    policy: Tickets,
    audit: AuditLog,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> TicketOutcome:
    """File the ticket for `diagnosis`, or add this occurrence to the one already filed.

    Tracker failures do not raise: they are audited and come back as an `error` outcome with the reason.
    """
    run = _Run(
        tracker, diagnosis.fingerprint, job, record, policy, audit, dry_run, now or utcnow(), diagnosis
    )
    try:
        return _ensure(run)
    except TrackerError as exc:
        run.log("lookup", f"fingerprint:{run.fingerprint}", "error", error=str(exc))
        return run.outcome("error", message=str(exc))


def _ensure(run: _Run) -> TicketOutcome:
    row = run.record.get(run.tracker.name, run.repo, run.fingerprint)
    if row is not None and row.key and run.job.url and row.last_job_url == run.job.url:
        known = Ticket(key=row.key, url=row.url or "")
        return run.outcome("unchanged", known, "this job is already on the ticket")
    ticket: Ticket | None
    if row is not None and row.key:
        ticket = run.tracker.get(row.key)  # None when it was deleted: file again
    elif row is not None:  # a create in doubt, or one under way in another worker
        ticket = run.tracker.find(run.draft(row.draft_id or ""))
        # The search may still show only the closed ticket a pending "link" create follows.
        in_doubt = ticket is None or ticket.status != "open"
        if in_doubt and run.now - row.updated_at < PENDING_GRACE:
            return run.outcome("pending", message="a create is in doubt or under way; left for later")
    else:
        ticket = run.tracker.find(run.draft())
    count = (row.occurrences if row else 0) + 1
    if ticket is None:
        return _create(run, row, count, earlier=None)
    if ticket.status == "open":
        body = render.recurrence_comment(count, run.job, run.tracker.markup)
        if not run.write("comment", ticket, body, lambda: run.tracker.comment(ticket, body), count=count):
            return run.outcome("error", ticket, "the comment failed (audited)")
        run.remember(row, ticket, count)
        return run.outcome("commented", ticket, f"occurrence {count}")
    if ticket.status == "dismissed" and _still_silenced(run, ticket):
        if not run.dry_run and row is not None:
            run.record.update(row.id, run.now, occurrences=count, last_job_url=run.job.url)
        return run.outcome("silenced", ticket, "dismissed (won't fix / duplicate) recently; not reopened")
    if ticket.status == "done" and run.policy.when_done == "reopen":
        return _reopen(run, row, ticket, count)
    return _create(run, row, count, earlier=ticket)


def _still_silenced(run: _Run, ticket: Ticket) -> bool:
    silence = timedelta(days=run.policy.dismissed_silence_days)
    return ticket.resolved_at is None or run.now - ticket.resolved_at.replace(tzinfo=None) < silence


def _reopen(run: _Run, row: TicketRow | None, ticket: Ticket, count: int) -> TicketOutcome:
    if not run.dry_run and row is not None and not run.record.take(row, run.now, draft_id=str(uuid.uuid4())):
        return run.outcome("pending", ticket, "another worker is reopening this ticket")

    def call() -> None:
        if not run.tracker.reopen(ticket):
            raise TrackerError(f"{ticket.key}: no transition leads out of done")

    if not run.write("reopen", ticket, "", call):
        return run.outcome("error", ticket, "the reopen failed (audited)")
    body = render.reopen_comment(count, run.job, run.tracker.markup)
    run.write("comment", ticket, body, lambda: run.tracker.comment(ticket, body), count=count)
    run.remember(row, ticket, count)
    return run.outcome("reopened", ticket, f"occurrence {count}")


def _create(run: _Run, row: TicketRow | None, count: int, *, earlier: Ticket | None) -> TicketOutcome:
    draft_id = str(uuid.uuid4())
    draft = run.draft(draft_id)
    target = f"fingerprint:{run.fingerprint}"
    detail = {"summary": draft.summary, "labels": list(draft.labels), "description": draft.description}
    if run.dry_run:
        run.log("create", target, "done", **detail)
        if earlier is not None:
            run.log("link", earlier.key, "done", to="(new ticket)")
        return run.outcome("linked" if earlier else "created", earlier, "dry-run: nothing written")
    if row is None:
        if not run.record.claim(
            tracker=run.tracker.name,
            repo=run.repo,
            fingerprint=run.fingerprint,
            title=run.title,
            job=job_key(run.job),
            draft_id=draft_id,
            now=run.now,
        ):
            return run.outcome("pending", message="another worker is filing this ticket")
        row = run.record.get(run.tracker.name, run.repo, run.fingerprint)
        assert row is not None
        fresh = True
    else:
        if not run.record.take(row, run.now, state="pending", key="", draft_id=draft_id):
            return run.outcome("pending", message="another worker is filing this ticket")
        fresh = False
    try:
        ticket = run.tracker.create(draft)
    except CreateInDoubt as exc:
        found = _find_quietly(run, draft)
        if found is None:
            run.log("create", target, "pending", error=str(exc), **detail)
            return run.outcome("pending", message=f"{exc}; not retried, left for the next occurrence")
        ticket = found
    except TrackerError as exc:
        run.log("create", target, "error", error=str(exc), **detail)
        if fresh:
            run.record.forget(row.id)
        else:
            run.record.update(row.id, run.now, state=row.state, key=row.key, draft_id=row.draft_id)
        return run.outcome("error", message=str(exc))
    run.log("create", ticket.key, "done", url=ticket.url, **detail)
    run.remember(row, ticket, count)
    if earlier is None:
        return run.outcome("created", ticket)
    body = render.link_comment(earlier.key, run.tracker.markup)
    run.write("link", ticket, body, lambda: run.tracker.link(ticket, earlier), earlier=earlier.key)
    return run.outcome("linked", ticket, f"follows {earlier.key}")


def _find_quietly(run: _Run, draft: TicketDraft) -> Ticket | None:
    try:
        return run.tracker.find(draft)
    except TrackerError:
        return None


def note_green(
    tracker: Tracker,
    job: JobContext,
    record: TicketRecord,
    policy: Tickets,
    audit: AuditLog,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[TicketOutcome]:
    """The job passed again: a comment on each open ticket filed from it, and the transition if configured."""
    key = job_key(job)
    if key is None or not (policy.on_green.comment or policy.on_green.transition):
        return []
    outcomes = []
    for row in record.open_for_job(tracker.name, job.repo or "", key):
        run = _Run(tracker, row.fingerprint, job, record, policy, audit, dry_run, now or utcnow())
        try:
            found = tracker.get(row.key)
        except TrackerError as exc:
            run.log("lookup", row.key, "error", error=str(exc))
            outcomes.append(run.outcome("error", message=str(exc)))
            continue
        if found is None or found.status != "open":  # deleted or closed by hand: nothing to say
            if not dry_run:
                record.update(row.id, run.now, state="closed")
            continue
        ticket = found
        ok = True
        if policy.on_green.comment:
            body = render.green_comment(job, tracker.markup)
            ok = run.write("comment", ticket, body, lambda t=ticket, b=body: tracker.comment(t, b))
        name = policy.on_green.transition
        if ok and name:

            def move(t: Ticket = ticket, n: str = name) -> None:
                if not tracker.transition(t, n):
                    raise TrackerError(f"{t.key}: no transition or state called {n!r}")

            ok = run.write("transition", ticket, "", move, transition=name)
        if ok and not dry_run:
            record.update(row.id, run.now, state="green")
        outcomes.append(run.outcome("green" if ok else "error", ticket))
    return outcomes
