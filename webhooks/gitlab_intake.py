"""`POST /webhooks/gitlab`: authenticate, persist, answer in milliseconds (mounted when GitLab is set up).

As on GitHub (`webhooks/app.py`), accepted means authenticated *and* persisted before the answer. GitLab
disables a hook for good after 4xx answers and after four failures in a row (docs.gitlab.com/user/project/
integrations/webhooks.md, "Failing webhooks"), so the only 4xx is 401 for a wrong or missing token; our own
failures answer 503 (GitLab retries them with the same `Idempotency-Key`); anything ignored answers 200.
GitLab waits at most 10 seconds for an answer by default (same page, "Webhook timeouts").
"""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from webhooks import metrics
from webhooks.gitlab import (
    MAX_BODY_BYTES,
    GitLabAuth,
    GitLabFixCommand,
    GitLabJob,
    GitLabPipeline,
    Ignored,
    Unauthorized,
    authenticate,
    parse_gitlab_delivery,
)
from webhooks.inbox import Inbox
from webhooks.queue import Queue
from webhooks.store import Admission, Store

log = logging.getLogger("cimedic.intake.gitlab")


def mount_gitlab(app: FastAPI, *, auth: GitLabAuth, store: Store, queue: Queue, inbox: Inbox | None) -> None:
    def persist(event: GitLabJob | GitLabPipeline | GitLabFixCommand) -> Admission:
        payload = event.model_dump_json()
        if inbox is not None:  # SQLite: the workers' pump admits and enqueues it (webhooks/inbox.py)
            return inbox.accept(event.delivery_id, event.kind, payload)
        admission = store.admit(event.delivery_id, event.kind, payload)
        if admission == "duplicate":
            return admission
        try:
            queue.enqueue(event.delivery_id)
        except Exception:
            store.forget(event.delivery_id)
            raise
        return admission

    @app.post("/webhooks/gitlab")
    async def gitlab_webhook(request: Request) -> Response:
        started = time.perf_counter()
        event_name = "gitlab:" + request.headers.get("x-gitlab-event", "unknown")[:64]
        body = bytearray()
        too_large = False
        async for chunk in request.stream():
            if not too_large:
                body += chunk
                too_large = len(body) > MAX_BODY_BYTES
        try:
            if too_large:
                # Not read further, but never a 4xx to a delivery that carries the right token (a signature
                # cannot be checked without the body: that case is ignored too, and logged).
                if auth.token:
                    authenticate(request.headers, b"", GitLabAuth(token=auth.token))
                parsed: GitLabJob | GitLabPipeline | GitLabFixCommand | Ignored = Ignored(
                    event=event_name, reason="body too large"
                )
            else:
                parsed = parse_gitlab_delivery(request.headers, bytes(body), auth)
        except Unauthorized as exc:
            metrics.DELIVERIES.labels(event=event_name, outcome="rejected").inc()
            log.warning("gitlab delivery rejected: %s", exc.reason)
            return JSONResponse({"error": exc.reason}, status_code=401)
        if isinstance(parsed, Ignored):
            if parsed.reason.startswith(("body", "payload")):
                log.error("gitlab delivery ignored: %s", parsed.reason)
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
