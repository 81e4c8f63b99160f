"""Wiring of the service from `Settings`: store, queue, GitHub API, GitLab client, audit log, worker, app.

Every missing or malformed setting is reported here, by its environment variable name, before anything starts.
Each forge is on when its settings are present (GitHub: any `CIMEDIC_GITHUB_*` credential; GitLab:
`CIMEDIC_GITLAB_TOKEN`); the service runs with either or both, and refuses to start with neither.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI
from pydantic import ValidationError

from actions.audit import AuditLog
from actions.github_api import GitHubApi, RetryPolicy
from agent.config import ConfigError, Settings
from agent.failed_job import Analyzer
from agent.ports import Explainer, KnowledgeLookup
from webhooks import metrics
from webhooks.app import create_app
from webhooks.gitlab import GitLabAuth
from webhooks.inbox import Inbox
from webhooks.queue import Queue
from webhooks.store import Store, make_engine
from webhooks.ticketing import Ticketing
from webhooks.worker import Worker, WorkerSettings

if TYPE_CHECKING:
    from gitlab import Gitlab as GitLabClient


def private_key(settings: Settings) -> str | None:
    if settings.github_private_key:
        # Environments often carry PEM text with literal "\n"; accept both forms.
        return settings.github_private_key.replace("\\n", "\n")
    if settings.github_private_key_file is not None:
        try:
            return settings.github_private_key_file.read_text()
        except OSError as exc:
            raise ConfigError(f"CIMEDIC_GITHUB_PRIVATE_KEY_FILE: cannot read: {exc.strerror}") from None
    return None


def make_api(settings: Settings) -> GitHubApi:
    key = private_key(settings)
    if settings.github_token is None:
        if settings.github_app_id is None:
            raise ConfigError(
                "CIMEDIC_GITHUB_APP_ID: required (or set CIMEDIC_GITHUB_TOKEN instead of an App)"
            )
        if not key:
            raise ConfigError(
                "CIMEDIC_GITHUB_PRIVATE_KEY or CIMEDIC_GITHUB_PRIVATE_KEY_FILE: required for the App"
            )
        if "PRIVATE KEY" not in key:
            raise ConfigError("CIMEDIC_GITHUB_PRIVATE_KEY: not a PEM private key")
    return GitHubApi(
        base_url=settings.github_api_url,
        app_id=settings.github_app_id,
        private_key=key,
        token=settings.github_token,
        timeout_s=settings.github_timeout_seconds,
        retry=RetryPolicy(base_delay_s=settings.github_retry_base_seconds),
        on_call=metrics.record_github_call,
    )


def make_gitlab(settings: Settings) -> GitLabClient | None:
    """The GitLab client when GitLab is configured (issue 11; docs/gitlab.md), else None."""
    if not settings.gitlab_configured:
        return None
    if not (settings.gitlab_webhook_token or settings.gitlab_signing_key):
        raise ConfigError(
            "CIMEDIC_GITLAB_WEBHOOK_TOKEN or CIMEDIC_GITLAB_SIGNING_KEY: required to verify GitLab deliveries"
        )
    from webhooks.gitlab_forge import connect

    return connect(
        settings.gitlab_url, settings.gitlab_token or "", timeout_s=settings.gitlab_timeout_seconds
    )


def make_ticketing(store: Store, audit: AuditLog) -> Ticketing:
    """Tickets and chat messages by the repo policy (issue 13); their settings are read, and checked, now."""
    from actions.notify.config import NotifySettings
    from actions.tickets.config import TrackerSettings

    try:
        trackers, notify = TrackerSettings(), NotifySettings()
    except ValidationError as exc:
        err = exc.errors()[0]
        name = "CIMEDIC_" + str(err["loc"][0]).upper() if err["loc"] else "CIMEDIC_*"
        raise ConfigError(f"{name}: {err['msg']}") from None
    return Ticketing(store=store, audit=audit, trackers=trackers, notify=notify)


def make_queue(settings: Settings) -> Queue:
    if settings.redis_url:
        return Queue.redis(settings.redis_url, settings.queue_name)
    return Queue.sqlite(settings.home / "queue.db", settings.queue_name)


NO_FORGE = (
    "no forge configured: set CIMEDIC_GITHUB_APP_ID (or CIMEDIC_GITHUB_TOKEN) for GitHub, "
    "or CIMEDIC_GITLAB_TOKEN for GitLab (docs/configuration.md, docs/gitlab.md)"
)


@dataclass
class Service:
    settings: Settings
    store: Store
    queue: Queue
    api: GitHubApi | None
    audit: AuditLog
    worker: Worker
    inbox: Inbox | None = None
    gitlab: GitLabClient | None = None

    def app(self, *, run_worker: bool) -> FastAPI:
        api = self.api
        secret = self.settings.github_webhook_secret  # GitHub's route exists only when GitHub is configured
        if api is not None and not secret:
            raise ConfigError("CIMEDIC_GITHUB_WEBHOOK_SECRET: required to verify deliveries")

        # Set at shutdown: the periodic redelivery must not outlive the app (it would ask GitHub with the
        # credentials of an app that is gone).
        stops: list[threading.Event] = []

        def start() -> None:
            if run_worker:
                self.worker.start(threads=self.settings.worker_threads)
            if api is not None and api.is_app and self.settings.redeliver_every_seconds > 0:
                from webhooks.redeliver import start_periodic

                stops.append(start_periodic(api, every_s=self.settings.redeliver_every_seconds))

        def stop() -> None:
            for event in stops:
                event.set()
            self.queue.stop()

        gitlab_auth = (  # GitLab (issue 11): its route exists only when it is configured
            GitLabAuth(self.settings.gitlab_webhook_token, self.settings.gitlab_signing_key)
            if self.gitlab is not None
            else None
        )
        return create_app(
            gitlab=gitlab_auth,
            store=self.store,
            queue=self.queue,
            secret=secret if api is not None else None,
            inbox=self.inbox,
            chroma_url=self.settings.chroma_url,
            on_startup=start,
            on_shutdown=stop,
        )


def build_service(
    settings: Settings,
    *,
    analyzer: Analyzer | None = None,
    kb: KnowledgeLookup | None = None,
    kb_for: Callable[[str], KnowledgeLookup] | None = None,
    explainer: Explainer | None = None,
    api: GitHubApi | None = None,
) -> Service:
    if api is None and settings.github_configured:
        api = make_api(settings)
    gitlab = make_gitlab(settings)
    if api is None and gitlab is None:
        raise ConfigError(NO_FORGE)
    engine = make_engine(settings.effective_database_url)
    store = Store(engine)
    # On SQLite the intake writes only its own inbox file, so an acknowledgement never waits for a worker's
    # write lock (webhooks/inbox.py); PostgreSQL has row locks and needs none.
    inbox = Inbox.beside(store)
    queue = make_queue(settings)
    audit = AuditLog(engine)
    ticketing = make_ticketing(store, audit)
    worker = Worker(
        store=store,
        queue=queue,
        api=api,
        audit=audit,
        inbox=inbox,
        analyzer=analyzer,
        kb=kb,
        kb_for=kb_for,
        explainer=explainer,
        settings=WorkerSettings(
            lease_s=settings.lease_seconds,
            max_attempts=settings.max_attempts,
            retry_base_s=settings.retry_base_seconds,
            publish_delay_s=settings.publish_delay_seconds,
        ),
        gitlab=gitlab,
        ticketing=ticketing,
    )
    return Service(settings, store, queue, api, audit, worker, inbox, gitlab)


def knowledge_for_repo(settings: Settings) -> Callable[[str], KnowledgeLookup]:
    """A function giving the knowledge base scoped to one repository (opened once, lazily)."""
    from knowledge import open_knowledge_base

    kb = open_knowledge_base(settings)

    def scoped(repo: str) -> KnowledgeLookup:
        return kb.scoped(repo)

    return scoped
