"""Tickets and chat messages from the service, by the repo policy (issue 13; docs/tickets.md).

The forge handlers make one call each: `Ticketing.after_failure` once a failed job's result is recorded and
its publish requested, `Ticketing.after_success` when a job passes on the default branch. Both go through
the life cycle that `cimedic ticket open` uses (`actions.tickets.ensure_ticket`, `note_green`) and through
`actions.notify.notify_failure`; every write, and in dry-run what would have been written, is audited there.

Neither call raises, and the publish is requested before the tracker is asked: a tracker or chat outage can
neither delay nor lose the diagnosis comment. The outage is audited, the comment says so in a note, and the
next occurrence tries again; the life cycle never repeats a create blind, so this makes no duplicate.

What the comment shows about a failure's ticket ("Tracked in OPS-12", or why not yet) is kept per repository
and fingerprint in the store's `published` table (`ticket:<repo>#<fingerprint>`), written here and read by
the renderers (`ticket_links`), so the sticky comment is updated in place when the ticket changes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Literal

from sqlalchemy.exc import SQLAlchemyError

from actions.audit import AuditLog
from actions.github_comment import FailedJob, TicketLink
from actions.notify import NotificationRecord, notify_failure
from actions.notify.config import NotifySettings
from actions.policy import Policy
from actions.tickets import (
    TicketOutcome,
    TicketRecord,
    Tracker,
    TrackerError,
    ensure_ticket,
    note_green,
    should_file,
)
from actions.tickets.config import TrackerSettings
from actions.tickets.lifecycle import job_key
from actions.tickets.trackers import make_tracker
from agent.jobs import FAILED_CONCLUSIONS, JobRef
from agent.models import Diagnosis, JobContext
from knowledge.sqlstore import SqlStore
from webhooks.store import Store

log = logging.getLogger("cimedic.worker.tickets")

TrackerName = Literal["jira", "linear"]
TRACKERS: tuple[TrackerName, ...] = ("jira", "linear")
TRACKER_LABEL = {"jira": "Jira", "linear": "Linear"}


def link_target(repo: str, fingerprint: str) -> str:
    return f"ticket:{repo}#{fingerprint}"


def ticket_links(store: Store, repo: str, jobs: Sequence[FailedJob]) -> dict[str, TicketLink]:
    """What the comment says about each failure's ticket, by fingerprint (absent: nothing to say)."""
    links = {fp: ticket_link(store, repo, fp) for fp in {j.diagnosis.fingerprint for j in jobs}}
    return {fp: link for fp, link in links.items() if link is not None}


def ticket_link(store: Store, repo: str, fingerprint: str) -> TicketLink | None:
    state = store.published(link_target(repo, fingerprint))[2]
    if not isinstance(state, dict):
        return None
    return TicketLink(state.get("key"), state.get("url"), state.get("note"))


def job_context(job: JobRef, ci_system: Literal["github", "gitlab"]) -> JobContext:
    """The job as the ticket text names it (the use case builds the same from the same `JobRef`)."""
    return JobContext(
        ci_system=ci_system,
        repo=job.repo,
        branch=job.head_branch,
        commit=job.head_sha,
        workflow=job.workflow_name,
        job=job.job_name,
        url=job.url,
        run_id=job.run_id,
        run_attempt=job.run_attempt,
        job_id=job.job_id,
        time=job.completed_at,
    )


def _link(outcome: TicketOutcome, tracker: str, previous: TicketLink | None, policy: Policy) -> TicketLink:
    """The comment's line after `outcome`: the ticket, or why there is none (yet)."""
    name = TRACKER_LABEL[tracker]
    key = outcome.key or (previous.key if previous else None)
    url = outcome.url or (previous.url if previous else None)
    if outcome.dry_run:
        verb = {"created": "filed", "linked": "filed"}.get(outcome.action, "updated")
        return TicketLink(key, url, f"dry run: a {name} ticket would have been {verb}; nothing was written")
    if outcome.action == "error":
        return TicketLink(
            key, url, f"{name} could not be updated (audited); CI Medic tries again at the next occurrence"
        )
    if outcome.action == "pending":
        return TicketLink(key, url, f"the {name} ticket is being filed; checked again at the next occurrence")
    if outcome.action == "silenced":
        days = policy.tickets.dismissed_silence_days
        return TicketLink(
            key, url, f"closed as won't fix or duplicate; a new ticket follows after {days} days"
        )
    return TicketLink(key, url)


class Ticketing:
    """The service's tickets and chat messages; one instance per worker process, shared by its threads."""

    def __init__(
        self,
        *,
        store: Store,
        audit: AuditLog,
        trackers: TrackerSettings,
        notify: NotifySettings,
        make: Callable[[TrackerName, TrackerSettings], Tracker] = make_tracker,
    ) -> None:
        self.store = store
        self.audit = audit
        self.tracker_settings = trackers
        self.notify_settings = notify
        self._make = make
        self._trackers: dict[str, Tracker] = {}
        self._lock = threading.Lock()
        # The ticket and notification tables live in the same database (one Alembic history).
        self._sql: SqlStore | None = None

    @property
    def sql(self) -> SqlStore:
        with self._lock:
            if self._sql is None:
                self._sql = SqlStore(self.store.engine.url.render_as_string(hide_password=False))
            return self._sql

    def tracker(self, name: TrackerName) -> Tracker:
        """Built once per process; a failure to build (Jira unreachable) is retried at the next call."""
        with self._lock:
            found = self._trackers.get(name)
        if found is None:
            found = self._make(name, self.tracker_settings)
            with self._lock:
                found = self._trackers.setdefault(name, found)
        return found

    # --- a failed job -------------------------------------------------------------------------------

    def after_failure(
        self,
        policy: Policy,
        diagnosis: Diagnosis,
        job: JobRef,
        *,
        ci_system: Literal["github", "gitlab"],
        default_branch: str | None,
        refresh: Callable[[], None],
    ) -> None:
        """File or update the failure's ticket and send the chat messages the policy asks for; `refresh`
        re-renders the sticky comment when what it says about the ticket changed."""
        if policy.tickets.tracker is None and not (policy.notify.slack or policy.notify.teams):
            return
        if not diagnosis.excerpt:  # the log expired: nothing a ticket or a message could show
            return
        context = job_context(job, ci_system)
        ticket_url = None
        try:
            link = self._ticket(policy, diagnosis, context, default_branch)
            ticket_url = link.url if link else None
        except SQLAlchemyError:
            raise  # the database is the worker's to wait for; the delivery is retried
        except Exception as exc:  # a tracker client's own failure must not fail the diagnosis
            self._unexpected("ticket", job.repo, diagnosis.fingerprint, exc)
            link = None
        if link is not None:
            target = link_target(job.repo, diagnosis.fingerprint)
            before = self.store.published(target)[2]
            state = {"key": link.key, "url": link.url, "note": link.note}
            if before != state:
                self.store.set_published(target, None, None, state)
                refresh()
        if policy.notify.slack or policy.notify.teams:
            try:
                notify_failure(
                    diagnosis,
                    context,
                    policy.notify,
                    NotificationRecord(self.sql),
                    self.audit,
                    settings=self.notify_settings,
                    default_branch=default_branch,
                    ticket_url=ticket_url,
                    dry_run=policy.dry_run,
                )
            except SQLAlchemyError:
                raise
            except Exception as exc:
                self._unexpected("notify", job.repo, diagnosis.fingerprint, exc)

    def _ticket(
        self, policy: Policy, diagnosis: Diagnosis, job: JobContext, default_branch: str | None
    ) -> TicketLink | None:
        name = policy.tickets.tracker
        repo = job.repo or ""
        if name is None:
            return None
        record = TicketRecord(self.sql)
        known = record.get(name, repo, diagnosis.fingerprint)
        # A failure already filed gathers its recurrences wherever they happen; a new one is filed by policy.
        occurrences = self._default_branch_occurrences(repo, diagnosis.fingerprint, default_branch)
        if known is None and not should_file(
            policy.tickets, diagnosis, default_branch_occurrences=occurrences
        ):
            return None
        previous = ticket_link(self.store, repo, diagnosis.fingerprint)
        try:
            tracker = self.tracker(name)
        except TrackerError as exc:
            self.audit.record(
                repo=repo or "-",
                action="ticket.setup",
                target=f"{name}:fingerprint:{diagnosis.fingerprint}",
                outcome="error",
                detail={"fingerprint": diagnosis.fingerprint, "error": str(exc)},
            )
            failed = TicketOutcome("error", diagnosis.fingerprint, message=str(exc))
            return _link(failed, name, previous, policy)
        outcome = ensure_ticket(
            tracker, diagnosis, job, record, policy.tickets, self.audit, dry_run=policy.dry_run
        )
        log.info(
            "ticket %s %s",
            outcome.action,
            outcome.key or "",
            extra={"repo": repo, "fingerprint": diagnosis.fingerprint},
        )
        return _link(outcome, name, previous, policy)

    def _default_branch_occurrences(self, repo: str, fingerprint: str, default_branch: str | None) -> int:
        if not default_branch:
            return 0
        return len(
            {
                r.job_id
                for r in self.store.fingerprint_history(repo, fingerprint)
                if r.head_branch == default_branch and r.conclusion in FAILED_CONCLUSIONS
            }
        )

    # --- a job passed -------------------------------------------------------------------------------

    def after_success(
        self,
        job: JobRef,
        *,
        ci_system: Literal["github", "gitlab"],
        default_branch: str | None,
        policy: Callable[[], Policy],
    ) -> None:
        """The job passed on the default branch: its open tickets hear it ("green again", and the transition
        if configured). The policy is read (`policy()`, an API call) only when such a ticket exists."""
        if not default_branch or job.head_branch != default_branch:
            return  # a pass on a feature branch says nothing about the failure on the trunk
        context = job_context(job, ci_system)
        key = job_key(context)
        if key is None:
            return
        record = TicketRecord(self.sql)
        if not any(record.open_for_job(name, job.repo, key) for name in TRACKERS):
            return
        rules = policy()
        name = rules.tickets.tracker
        if name is None:
            return
        try:
            outcomes = note_green(
                self.tracker(name), context, record, rules.tickets, self.audit, dry_run=rules.dry_run
            )
        except SQLAlchemyError:
            raise
        except Exception as exc:  # TrackerError from building the tracker, or a client's own failure
            self._unexpected("green", job.repo, key, exc)
            return
        for outcome in outcomes:
            log.info("ticket %s %s", outcome.action, outcome.key or "", extra={"repo": job.repo})

    def _unexpected(self, what: str, repo: str, subject: str, exc: Exception) -> None:
        log.warning("%s failed for %s in %s", what, subject, repo, exc_info=True)
        self.audit.record(
            repo=repo or "-",
            action=f"ticket.{what}" if what != "notify" else "notify.error",
            target=subject,
            outcome="error",
            detail={"error": f"{type(exc).__name__}: {exc}"[:500]},
        )
