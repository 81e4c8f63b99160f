"""Bounded retries with backoff and a circuit breaker per provider endpoint.

Which errors are worth another attempt follows pydantic-ai's error taxonomy (`pydantic_ai.exceptions`):
rate limits, unavailable/overloaded servers, 5xx and transport failures are transient; rejected requests
(400/401/403/404), exhausted quota and context-window overflows are not, since the same request would fail
the same way. A provider's `Retry-After` is honoured but capped, so one slow provider cannot hold an
analysis for minutes. Backoff is exponential with full jitter (AWS Architecture Blog, "Exponential Backoff
And Jitter", https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/).

The circuit breaker follows Fowler's description (https://martinfowler.com/bliki/CircuitBreaker.html):
closed -> open after N consecutive failures; while open, calls are refused at once; after a cool-down one
trial call is let through (half-open); its success closes the breaker, its failure re-opens it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from pydantic_ai.exceptions import (
    ModelAPIError,
    ModelConnectionError,
    ModelHTTPError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelRequestRejectedError,
    ModelRequestTimeout,
    ModelServerError,
    ModelUnavailableError,
)

BreakerState = Literal["closed", "open", "half-open"]


def is_transient(exc: BaseException) -> bool:
    """Would the same request plausibly succeed if sent again shortly?"""
    if isinstance(exc, ModelQuotaExceededError | ModelRequestRejectedError):
        return False
    if isinstance(
        exc,
        ModelRateLimitError
        | ModelUnavailableError
        | ModelServerError
        | ModelConnectionError
        | ModelRequestTimeout,
    ):
        return True
    if isinstance(exc, ModelHTTPError):
        return exc.status_code in (408, 409, 425, 429) or exc.status_code >= 500
    return isinstance(exc, TimeoutError | ConnectionError)


def retry_after(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, ModelAPIError) else None


@dataclass
class RetryPolicy:
    """`retries` extra attempts; delay before retry n (0-based) is uniform in [0, min(cap, base * 2**n)]."""

    retries: int = 2
    base: float = 1.0
    cap: float = 20.0
    rng: Callable[[], float] = random.random

    def delay(self, attempt: int, exc: BaseException) -> float:
        hinted = retry_after(exc)
        if hinted is not None:
            return min(max(hinted, 0.0), self.cap)
        return float(min(self.cap, self.base * 2.0**attempt) * self.rng())


@dataclass
class CircuitBreaker:
    """Per-endpoint breaker. Thread-safe; `clock` is injectable for tests."""

    failures_to_open: int = 3
    cooldown: float = 300.0
    clock: Callable[[], float] = time.monotonic
    _failures: int = 0
    _opened_at: float | None = None
    _trial_in_flight: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._state()

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at >= self.cooldown:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a call go out now? In half-open state only one trial call is let through."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half-open" and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_in_flight or self._failures >= self.failures_to_open:
                self._opened_at = self.clock()
            self._trial_in_flight = False
