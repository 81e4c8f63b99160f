"""The HTTP intake: verify, persist, answer 202 in milliseconds; plus health, readiness and metrics.

Accept means verified *and* persisted: the delivery row and its queue message are written before the 202, so
a crash after answering loses nothing. If either write fails the answer is 503, which GitHub records as a
failed delivery that `cimedic github redeliver` (or a person) can send again
(docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries). GitHub expects an answer
within 10 seconds (docs: best-practices-for-using-webhooks, "Respond within 10 seconds").
Verified deliveries we do not act on get 2xx, never 4xx.

Before any route runs, requests whose headers add up to more than `MAX_HEADER_BYTES` are answered 431
(RFC 6585 §5, "Request Header Fields Too Large") without reading their body: GitHub's delivery headers are
well under 2 KB, and nothing about an unauthenticated request may cost us more than a small, fixed amount.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Receive, Scope, Send

from webhooks import metrics
from webhooks.github import (
    MAX_BODY_BYTES,
    DeliveryRejected,
    FixCommand,
    Ignored,
    InstallationChanged,
    WorkflowJobCompleted,
    WorkflowRunCompleted,
    parse_github_delivery,
)
from webhooks.gitlab import GitLabAuth
from webhooks.gitlab_intake import mount_gitlab
from webhooks.inbox import Inbox
from webhooks.queue import Queue
from webhooks.store import Admission, Store

log = logging.getLogger("cimedic.intake")

ReadinessCheck = Callable[[], None]
"""Raises when a part the service needs is unavailable; its message is shown by /readyz."""


def add_readiness_check(app: FastAPI, name: str, check: ReadinessCheck) -> None:
    """Make /readyz also require `check` (e.g. worker heartbeats, added by the `serve` command)."""
    app.state.readiness.append((name, check))


MAX_HEADER_BYTES = 16 * 1024
"""Total size of a request's header names and values that we accept (GitHub sends about 1 KB)."""


class HeaderCap:
    """ASGI middleware: 431 for requests with oversized headers, before the app reads anything else."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEADER_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.max_bytes:
                if scope["path"] == "/webhooks/github":
                    metrics.DELIVERIES.labels(event="unread", outcome="rejected").inc()
                response = JSONResponse(
                    {"error": "request header fields too large"},
                    status_code=431,
                    headers={"connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    *,
    store: Store,
    queue: Queue,
    secret: str | None,
    inbox: Inbox | None = None,
    chroma_url: str | None = None,
    on_startup: Callable[[], None] | None = None,
    on_shutdown: Callable[[], None] | None = None,
    gitlab: GitLabAuth | None = None,
) -> FastAPI:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        if secret is not None:
            _warm_up()
        if on_startup is not None:
            on_startup()
        yield
        if on_shutdown is not None:
            on_shutdown()

    app = FastAPI(title="CI Medic", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.add_middleware(HeaderCap)
    app.state.readiness = []

    def persist(
        event: WorkflowJobCompleted | WorkflowRunCompleted | InstallationChanged | FixCommand,
    ) -> Admission:
        if inbox is not None:  # SQLite: the workers' pump admits and enqueues it (webhooks/inbox.py)
            return inbox.accept(event.delivery_id, event.kind, event.model_dump_json())
        admission = store.admit(event.delivery_id, event.kind, event.model_dump_json())
        if admission == "duplicate":
            return admission
        try:
            queue.enqueue(event.delivery_id)
        except Exception:
            store.forget(event.delivery_id)
            raise
        return admission

    async def github_webhook(request: Request) -> Response:
        assert secret is not None  # mounted only with a secret
        started = time.perf_counter()
        event_name = metrics.event_label(request.headers.get("x-github-event"))
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            declared = 0
        if declared > MAX_BODY_BYTES:
            metrics.DELIVERIES.labels(event=event_name, outcome="rejected").inc()
            return JSONResponse({"error": "payload too large"}, status_code=413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                metrics.DELIVERIES.labels(event=event_name, outcome="rejected").inc()
                return JSONResponse({"error": "payload too large"}, status_code=413)
        try:
            parsed = parse_github_delivery(request.headers, bytes(body), secret)
        except DeliveryRejected as exc:
            metrics.DELIVERIES.labels(event=event_name, outcome="rejected").inc()
            log.warning(
                "delivery rejected: %s",
                exc.reason,
                extra={"delivery": request.headers.get("x-github-delivery")},
            )
            return JSONResponse({"error": exc.reason}, status_code=exc.status_code)
        if isinstance(parsed, Ignored):
            metrics.DELIVERIES.labels(event=event_name, outcome="ignored").inc()
            metrics.ACK_SECONDS.observe(time.perf_counter() - started)
            return JSONResponse({"status": "ignored", "reason": parsed.reason}, status_code=200)
        try:
            admission = await run_in_threadpool(persist, parsed)
        except Exception:
            metrics.DELIVERIES.labels(event=event_name, outcome="unavailable").inc()
            log.exception("could not persist delivery", extra={"delivery": parsed.delivery_id})
            return JSONResponse({"error": "could not persist the delivery; retry later"}, status_code=503)
        outcome = {"new": "accepted", "retry": "redelivered", "duplicate": "duplicate"}[admission]
        metrics.DELIVERIES.labels(event=event_name, outcome=outcome).inc()
        metrics.ACK_SECONDS.observe(time.perf_counter() - started)
        log.info("delivery %s", outcome, extra={"delivery": parsed.delivery_id, "repo": parsed.repo})
        if admission == "duplicate":
            return JSONResponse({"status": "duplicate"}, status_code=200)
        return JSONResponse({"status": "accepted"}, status_code=202)

    # Each forge's route exists only when that forge is configured (`secret` None: GitHub is off): an
    # unconfigured forge's URL answers 404, as any unknown path.
    if secret is not None:
        app.post("/webhooks/github")(github_webhook)
    if gitlab is not None:  # GitLab (issue 11): its route lives in webhooks/gitlab_intake.py
        mount_gitlab(app, auth=gitlab, store=store, queue=queue, inbox=inbox)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> Response:
        checks: dict[str, str] = {}

        def probe() -> None:
            probes = [("database", store.ping), ("queue", queue.ping)]
            if inbox is not None:
                probes.append(("inbox", inbox.ping))
            for name, fn in probes:
                try:
                    fn()
                    checks[name] = "ok"
                except Exception as exc:
                    # The type only: a driver's message can name hosts and users.
                    checks[name] = f"error: {type(exc).__name__}"
            for name, fn in app.state.readiness:
                try:
                    fn()
                    checks[name] = "ok"
                except Exception as exc:
                    checks[name] = f"error: {exc}"
            if chroma_url:
                try:
                    r = httpx.get(chroma_url.rstrip("/") + "/api/v2/heartbeat", timeout=2.0)
                    checks["chroma"] = "ok" if r.status_code < 500 else f"error: HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    checks["chroma"] = f"error: {type(exc).__name__}"

        await run_in_threadpool(probe)
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
        )

    @app.get("/metrics")
    async def prometheus() -> Response:
        def refresh() -> None:
            counts = store.counts()
            age = store.oldest_queued_age()
            if inbox is not None:  # accepted, not yet admitted: queued as far as anyone watching can tell
                waiting, oldest = inbox.waiting()
                counts["queued"] = counts.get("queued", 0) + waiting
                if oldest is not None:
                    age = max(age, time.time() - oldest)
            for status in ("queued", "running", "done", "failed"):
                metrics.QUEUE_DEPTH.labels(status=status).set(counts.get(status, 0))
            metrics.QUEUE_AGE.set(age)

        try:
            await run_in_threadpool(refresh)
        except Exception:
            log.warning("metrics refresh failed", exc_info=True)
        return PlainTextResponse(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return app


def _warm_up() -> None:
    """Import githubkit's webhook models now, not on the first delivery (the import takes ~100 ms)."""
    import githubkit_schemas.latest.models  # noqa: F401
