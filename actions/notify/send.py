"""Post the compact message to Slack and Teams, at most once per fingerprint per period, audited.

The period is claimed in the SQL store (`cimedic_notifications`) before the post, so two workers seeing the
same failure send one message; a post that fails gives the claim back, so the next occurrence tries again.
Slack answers 200 "ok" (https://api.slack.com/messaging/webhooks#handling_errors); a Teams Workflows webhook
answers 202 Accepted. 429 and 503 are repeated after `Retry-After`: the service turned the message away
before posting it. Other failures are not repeated (the message may have been posted) and are audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import httpx
from sqlalchemy import delete, select, update

from actions.audit import AuditLog
from actions.backoff import Backoff, Transient
from actions.notify.config import NotifySettings
from actions.notify.message import reason_to_notify, slack_payload, teams_payload
from actions.policy import Notify
from agent.models import Diagnosis, JobContext
from knowledge.schema import notifications
from knowledge.sqlstore import SqlStore, insert_ignore
from knowledge.text import utcnow

Channel = Literal["slack", "teams"]


@dataclass(frozen=True)
class NotifyOutcome:
    channel: Channel
    outcome: Literal["sent", "dry-run", "throttled", "error"]
    message: str = ""


class NotificationRecord:
    """When a message about a fingerprint last went to a channel."""

    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def claim(
        self, channel: str, repo: str, fingerprint: str, now: datetime, period: timedelta
    ) -> tuple[bool, datetime | None]:
        """(taken, previous send time): not taken when a message went out within `period`; the previous
        time (None for the first message) is what `release` puts back when the post fails."""
        c = notifications.c
        where = (c.channel == channel, c.repo == repo, c.fingerprint == fingerprint)
        with self.store.write() as conn:
            sent: datetime | None = conn.execute(select(c.sent_at).where(*where)).scalar()
            if sent is not None and now - sent < period:
                return False, sent
            if sent is None:
                values = {"channel": channel, "repo": repo, "fingerprint": fingerprint, "sent_at": now}
                return insert_ignore(conn, notifications, values, ["channel", "repo", "fingerprint"]), None
            conn.execute(update(notifications).where(*where).values(sent_at=now))
            return True, sent

    def release(self, channel: str, repo: str, fingerprint: str, previous: datetime | None) -> None:
        c = notifications.c
        where = (c.channel == channel, c.repo == repo, c.fingerprint == fingerprint)
        with self.store.write() as conn:
            if previous is None:
                conn.execute(delete(notifications).where(*where))
            else:
                conn.execute(update(notifications).where(*where).values(sent_at=previous))


def post_webhook(http: httpx.Client, url: str, payload: dict[str, Any], backoff: Backoff) -> None:
    """One POST; raises `WebhookError` with the status and the service's short answer (never the URL)."""

    def attempt() -> None:
        try:
            response = http.post(url, json=payload)
        except httpx.ConnectError as exc:  # nothing reached the service
            raise Transient(f"{type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise WebhookError(type(exc).__name__) from exc
        if response.status_code in (429, 503):
            raise Transient(f"HTTP {response.status_code}", response.headers.get("Retry-After"))
        if not 200 <= response.status_code < 300:
            raise WebhookError(f"HTTP {response.status_code} {response.text[:200]}")

    try:
        backoff.run(attempt)
    except Transient as exc:
        raise WebhookError(f"{exc} (gave up after {backoff.attempts} tries)") from exc


class WebhookError(Exception):
    pass


_PAYLOADS: dict[Channel, Callable[[Diagnosis, JobContext, str, str | None], dict[str, Any]]] = {
    "slack": slack_payload,
    "teams": teams_payload,
}


def notify_failure(
    diagnosis: Diagnosis,
    job: JobContext,
    policy: Notify,
    record: NotificationRecord,
    audit: AuditLog,
    *,
    settings: NotifySettings | None = None,
    http: httpx.Client | None = None,
    default_branch: str | None = None,
    ticket_url: str | None = None,
    backoff: Backoff | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> list[NotifyOutcome]:
    """Tell the configured channels about a broken trunk or a new failure kind on a protected branch."""
    reason = reason_to_notify(diagnosis, job, policy, default_branch=default_branch)
    if reason is None:
        return []
    settings = settings or NotifySettings()
    now = now or utcnow()
    period = timedelta(hours=policy.period_hours)
    repo = job.repo or ""
    urls: dict[Channel, Any] = {"slack": settings.slack_webhook_url, "teams": settings.teams_webhook_url}
    wanted: list[Channel] = [ch for ch in ("slack", "teams") if getattr(policy, ch)]
    backoff = backoff or Backoff(
        attempts=settings.notify_attempts, base_seconds=settings.notify_retry_base_seconds
    )
    own_http = http is None
    client = http or httpx.Client(timeout=settings.notify_timeout_seconds)
    outcomes = []
    try:
        for channel in wanted:
            payload = _PAYLOADS[channel](diagnosis, job, reason, ticket_url)

            def log(outcome: str, ch: Channel = channel, **detail: Any) -> None:
                audit.record(
                    repo=repo or "-",
                    action=f"notify.{ch}",
                    target=f"fingerprint:{diagnosis.fingerprint}",
                    outcome=outcome,
                    detail={"reason": reason, **detail},
                )

            if urls[channel] is None:
                log("error", error=f"CIMEDIC_{channel.upper()}_WEBHOOK_URL is not set")
                outcomes.append(
                    NotifyOutcome(channel, "error", f"CIMEDIC_{channel.upper()}_WEBHOOK_URL is not set")
                )
                continue
            if dry_run:
                log("dry-run", payload=payload)
                outcomes.append(NotifyOutcome(channel, "dry-run"))
                continue
            taken, previous = record.claim(channel, repo, diagnosis.fingerprint, now, period)
            if not taken:
                outcomes.append(NotifyOutcome(channel, "throttled", f"sent within {policy.period_hours:g} h"))
                continue
            try:
                post_webhook(client, urls[channel].get_secret_value(), payload, backoff)
            except WebhookError as exc:
                record.release(channel, repo, diagnosis.fingerprint, previous)
                log("error", error=str(exc))
                outcomes.append(NotifyOutcome(channel, "error", str(exc)))
                continue
            log("done", payload=payload)
            outcomes.append(NotifyOutcome(channel, "sent"))
    finally:
        if own_http:
            client.close()
    return outcomes
