"""The worker: leases, retries and the table of handlers; what each event does lives in its handler.

Each delivery is claimed with a lease (`Store.claim`) that a heartbeat renews while it runs; if the process
dies, the lease expires and any worker's reaper puts it back in the queue. The event is then dispatched by
kind (`webhooks.router.Router`) to the handlers (`webhooks.github_handlers`), which run the one use case
(`agent.failed_job`) and ask `webhooks.publishing` for the outputs.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from actions.audit import AuditLog
from actions.github_api import GitHubApi, GitHubError
from agent.failed_job import Analyzer
from agent.jobs import LogLimits
from agent.ports import Explainer, KnowledgeLookup
from webhooks import metrics
from webhooks.github import EVENT_ADAPTER
from webhooks.github_handlers import GitHubHandlers
from webhooks.gitlab import GITLAB_EVENTS
from webhooks.gitlab import KINDS as GITLAB_KINDS
from webhooks.inbox import Inbox
from webhooks.lookups import Lookups
from webhooks.publishing import PUBLISH_PRIORITY, Publisher
from webhooks.queue import Queue
from webhooks.router import Router
from webhooks.store import Claimed, Store
from webhooks.ticketing import Ticketing

if TYPE_CHECKING:
    from gitlab import Gitlab as GitLabClient

log = logging.getLogger("cimedic.worker")


@dataclass
class WorkerSettings:
    lease_s: float = 60.0
    max_attempts: int = 4
    retry_base_s: float = 5.0
    log_max_bytes: int = 16 * 1024 * 1024
    log_head_bytes: int = 256 * 1024
    baseline_max_bytes: int = 4 * 1024 * 1024
    policy_ttl_s: float = 300.0
    baseline_ttl_s: float = 600.0
    lock_ttl_s: float = 60.0
    publish_delay_s: float = 2.0
    db_wait_s: float = 300.0


class Worker:
    def __init__(
        self,
        *,
        store: Store,
        queue: Queue,
        api: GitHubApi | None,
        audit: AuditLog,
        inbox: Inbox | None = None,
        analyzer: Analyzer | None = None,
        kb: KnowledgeLookup | None = None,
        kb_for: Callable[[str], KnowledgeLookup] | None = None,
        explainer: Explainer | None = None,
        settings: WorkerSettings | None = None,
        gitlab: GitLabClient | None = None,
        ticketing: Ticketing | None = None,
    ) -> None:
        self.store = store
        self.queue = queue
        self.inbox = inbox
        self.settings = settings or WorkerSettings()
        cfg = self.settings
        self.router = Router()
        # Each forge's handlers are registered only when it is configured (`cimedic serve` runs with GitHub,
        # GitLab or both); a delivery of a kind nobody handles fails loudly in `Router.dispatch`.
        self.publisher: Publisher | None = None
        if api is not None:
            self.publisher = Publisher(
                store=store,
                queue=queue,
                api=api,
                audit=audit,
                delay_s=cfg.publish_delay_s,
                lock_ttl_s=cfg.lock_ttl_s,
            )
            GitHubHandlers(
                store=store,
                api=api,
                audit=audit,
                publisher=self.publisher,
                lookups=Lookups(policy_ttl_s=cfg.policy_ttl_s, baseline_ttl_s=cfg.baseline_ttl_s),
                limits=LogLimits(cfg.log_max_bytes, cfg.log_head_bytes, cfg.baseline_max_bytes),
                analyzer=analyzer,
                kb=kb,
                kb_for=kb_for,
                explainer=explainer,
                ticketing=ticketing,
            ).route(self.router)
        if gitlab is not None:  # GitLab (issue 11): its own handlers, the same use case
            from webhooks.gitlab_handlers import GitLabHandlers

            GitLabHandlers(
                store=store,
                queue=queue,
                gl=gitlab,
                audit=audit,
                lookups=Lookups(policy_ttl_s=cfg.policy_ttl_s, baseline_ttl_s=cfg.baseline_ttl_s),
                limits=LogLimits(cfg.log_max_bytes, cfg.log_head_bytes, cfg.baseline_max_bytes),
                publish_delay_s=cfg.publish_delay_s,
                lock_ttl_s=cfg.lock_ttl_s,
                analyzer=analyzer,
                kb=kb,
                kb_for=kb_for,
                explainer=explainer,
                ticketing=ticketing,
            ).route(self.router)

    # --- queue plumbing -----------------------------------------------------------------------------

    def start(self, *, threads: int = 2, reap_every_s: float | None = None) -> None:
        inbox = self.inbox
        self.queue.start(
            self.handle,
            threads=threads,
            reaper=self.reap,
            # Often: due publish requests wait on it (the query is one indexed SELECT).
            reap_every_s=reap_every_s or min(1.0, self.settings.lease_s / 3),
            pump=(lambda: inbox.pump(self.queue)) if inbox is not None else None,
        )

    def reap(self) -> int:
        """Enqueue deliveries whose lease expired, whose retry is due, or whose enqueue was lost."""
        due = self.store.due()
        for delivery_id in due:
            self.store.mark_requeued(delivery_id)
            self.queue.enqueue(
                delivery_id, priority=PUBLISH_PRIORITY if delivery_id.startswith("publish:") else 0
            )
            log.info("requeued", extra={"delivery": delivery_id})
        return len(due)

    def _claim(self, delivery_id: str) -> Claimed | None:
        """Claim the delivery, waiting out a database outage instead of dropping the message.

        The message exists only in the queue once taken: an exception here would make huey log it and drop
        it, and the delivery would wait for the stale-queued rule (15 minutes). So the thread keeps it and
        retries with backoff; after `db_wait_s` it puts the message back in the queue and moves on.
        """
        # The owner names host and pid so an operator (and the SIGKILL test) can tell who holds a lease.
        owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        delay, deadline = 0.25, time.monotonic() + self.settings.db_wait_s
        while True:
            try:
                return self.store.claim(delivery_id, lease_s=self.settings.lease_s, owner=owner)
            except SQLAlchemyError as exc:
                if time.monotonic() + delay > deadline or self.queue.stopping:
                    log.warning("database unreachable; message put back", extra={"delivery": delivery_id})
                    self.queue.enqueue(delivery_id)
                    return None
                log.warning(
                    "database unreachable (%s); retrying in %.1f s",
                    type(exc).__name__,
                    delay,
                    extra={"delivery": delivery_id},
                )
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def handle(self, delivery_id: str) -> None:
        claimed = self._claim(delivery_id)
        if claimed is None:
            return  # done, failed, or another worker holds it
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(claimed, stop), daemon=True)
        beat.start()
        kind = claimed.event
        try:
            adapter: Any = GITLAB_EVENTS if kind in GITLAB_KINDS else EVENT_ADAPTER
            self.router.dispatch(adapter.validate_json(claimed.payload), claimed)
        except Exception as exc:
            retry_after = exc.retry_after if isinstance(exc, GitHubError) else None
            # A permanent GitHub error (no installation, no permission, 422) is not helped by retrying: it
            # only delays the notice (actions.github_api.GitHubError.transient).
            permanent = isinstance(exc, GitHubError) and not exc.transient
            if claimed.attempts < self.settings.max_attempts and not permanent:
                delay = max(retry_after or 0.0, self.settings.retry_base_s * 2 ** (claimed.attempts - 1))
                self.store.finish(claimed, ok=False, error=str(exc)[:2000], retry_in=delay)
                metrics.JOBS.labels(kind=kind, outcome="retry").inc()
            else:
                # Failed for good: GitHub shows the delivery as delivered, so `cimedic github redeliver`
                # will not pick it; a manual redelivery from GitHub (same GUID) is processed again
                # (`Store.admit`).
                self.store.finish(claimed, ok=False, error=str(exc)[:2000])
                metrics.JOBS.labels(kind=kind, outcome="failed").inc()
            log.warning(
                "delivery failed", exc_info=True, extra={"delivery": delivery_id, "attempt": claimed.attempts}
            )
        else:
            self.store.finish(claimed, ok=True)
            metrics.JOBS.labels(kind=kind, outcome="done").inc()
        finally:
            stop.set()

    def _heartbeat(self, claimed: Claimed, stop: threading.Event) -> None:
        every = self.settings.lease_s / 3
        while not stop.wait(every):
            if not self.store.renew(claimed, lease_s=self.settings.lease_s):
                return
