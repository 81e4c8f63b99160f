"""Redeliver the App's failed webhook deliveries (what GitHub does not do on its own).

Follows docs.github.com/en/webhooks/using-webhooks/
automatically-redelivering-failed-deliveries-for-a-github-app: list `GET /app/hook/deliveries` (as the App,
JWT; cursor pagination via `Link`), group the attempts by `guid`, and for each GUID with no successful
attempt ask `POST /app/hook/deliveries/{id}/attempts` once. A delivery we answered 503 (could not persist)
shows up here; one we accepted and then failed to process does not, because for GitHub it was delivered.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from githubkit.exception import GitHubException

from actions.github_api import GitHubApi

log = logging.getLogger("cimedic.redeliver")


@dataclass
class RedeliverResult:
    redelivered: list[str] = field(default_factory=list)
    skipped: int = 0
    errors: int = 0


def _time(value: Any) -> float:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def redeliver_failed(
    api: GitHubApi, *, since: float, dry_run: bool = False, max_pages: int = 50
) -> RedeliverResult:
    gh = api.app_client()
    attempts: dict[str, list[dict[str, Any]]] = {}
    url: str | None = "/app/hook/deliveries"
    params: dict[str, Any] | None = {"per_page": 100}
    with gh:
        for _ in range(max_pages):
            if url is None:
                break
            resp = gh.request("GET", url, params=params)
            items = resp.json()
            older = False
            for item in items:
                if _time(item.get("delivered_at")) < since:
                    older = True
                    continue
                attempts.setdefault(str(item["guid"]), []).append(item)
            nxt = resp.raw_response.links.get("next")
            url, params = (nxt.get("url"), None) if nxt and not older else (None, None)
        result = RedeliverResult()
        for guid, tries in attempts.items():
            if any(t.get("status") == "OK" or 200 <= int(t.get("status_code") or 0) < 300 for t in tries):
                result.skipped += 1
                continue
            latest = max(tries, key=lambda t: _time(t.get("delivered_at")))
            if dry_run:
                result.redelivered.append(guid)
                continue
            try:
                gh.request("POST", f"/app/hook/deliveries/{latest['id']}/attempts")
                result.redelivered.append(guid)
            except GitHubException:
                log.warning("redelivery failed", exc_info=True, extra={"delivery": guid})
                result.errors += 1
    return result


def start_periodic(api: GitHubApi, *, every_s: float = 600.0, window_s: float = 3600.0) -> threading.Event:
    """Run `redeliver_failed` every `every_s` seconds in a daemon thread; set the returned event to stop."""
    import time

    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            try:
                r = redeliver_failed(api, since=time.time() - window_s)
                if r.redelivered:
                    log.info("redelivered %d failed deliveries", len(r.redelivered))
            except Exception:
                log.warning("periodic redelivery failed", exc_info=True)

    threading.Thread(target=loop, name="cimedic-redeliver", daemon=True).start()
    return stop
