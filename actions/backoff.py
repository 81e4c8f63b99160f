"""Retry with backoff for calls to trackers and chat webhooks: 429 and 5xx, honouring `Retry-After`.

`Retry-After` is either delay-seconds or an HTTP-date (RFC 9110, section 10.2.3); Jira Cloud sends seconds on
429 and 503 (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/), Slack sends seconds on 429
(https://api.slack.com/apis/rate-limits). Only calls that are safe to repeat come through here: a caller
decides what is transient for its call (a create that may have happened is never retried blind).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")


class Transient(Exception):
    """The call was refused for now (429, 5xx, connection failure); the server did not act on it."""

    def __init__(self, message: str, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delay-seconds or HTTP-date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


@dataclass(frozen=True)
class Backoff:
    attempts: int = 4
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        told = parse_retry_after(retry_after)
        wanted = told if told is not None else self.base_seconds * 2**attempt
        return min(self.cap_seconds, wanted)

    def run(self, call: Callable[[], T]) -> T:
        """`call()`, again after a delay while it raises `Transient`; the last `Transient` propagates."""
        for attempt in range(self.attempts):
            try:
                return call()
            except Transient as exc:
                if attempt + 1 >= self.attempts:
                    raise
                self.sleep(self.delay(attempt, exc.retry_after))
        raise AssertionError("unreachable: attempts >= 1")
