"""Cached GitHub look-ups shared by the jobs a worker process runs: runs, their jobs, policies, baselines.

The jobs of one workflow run (a matrix of 20, say) finish together and ask the same questions; each is asked
once: a thread that misses the cache makes the call while the others wait for its answer (single flight).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from actions.github_api import Client
from actions.policy import POLICY_PATH, Policy, parse_policy


class TTLCache:
    """A small thread-safe LRU with expiry."""

    def __init__(self, size: int, ttl: float) -> None:
        self.size, self.ttl = size, ttl
        self.data: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any | None:
        with self.lock:
            item = self.data.get(key)
            if item is None or item[0] < time.monotonic():
                return None
            self.data.move_to_end(key)
            return item[1]

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.data[key] = (time.monotonic() + self.ttl, value)
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


class Lookups:
    """The process's caches, each read through `cached` (single flight per key)."""

    def __init__(self, *, policy_ttl_s: float = 300.0, baseline_ttl_s: float = 600.0) -> None:
        self.runs = TTLCache(512, 120.0)
        self.run_jobs = TTLCache(128, 600.0)
        self.pulls = TTLCache(512, 120.0)
        self.policies = TTLCache(512, policy_ttl_s)
        self.baselines = TTLCache(64, baseline_ttl_s)
        self._gate = threading.Lock()
        self._inflight: dict[Any, threading.Event] = {}

    def cached(self, cache: TTLCache, key: Any, load: Callable[[], Any]) -> Any:
        """The cached value of `key`, loading it once however many threads ask at the same time."""
        flight = (id(cache), key)
        while True:
            value = cache.get(key)
            if value is not None:
                return value
            with self._gate:
                waiting = self._inflight.get(flight)
                if waiting is None:
                    self._inflight[flight] = threading.Event()
                    break
            waiting.wait(30)
        try:
            value = load()
            cache.put(key, value)
            return value
        finally:
            with self._gate:
                done = self._inflight.pop(flight, None)
            if done is not None:
                done.set()

    def run(self, gh: Client, repo: str, run_id: int, attempt: int) -> dict[str, Any]:
        return self.cached(self.runs, (repo, run_id, attempt), lambda: gh.get_run(repo, run_id))  # type: ignore[no-any-return]

    def jobs_of_run(self, gh: Client, repo: str, run_id: int) -> list[dict[str, Any]]:
        return self.cached(self.run_jobs, (repo, run_id), lambda: gh.run_jobs(repo, run_id))  # type: ignore[no-any-return]

    def policy(self, gh: Client, repo: str, default_branch: str | None) -> Policy:
        """The repository's policy, read from its default branch only.

        A pull request must not be able to change how it is judged (Probot's rule: config from the default
        branch).
        """

        def load() -> Policy:
            branch = default_branch or gh.get_repo(repo).get("default_branch") or "main"
            return parse_policy(gh.file_text(repo, POLICY_PATH, branch))

        return self.cached(self.policies, repo, load)  # type: ignore[no-any-return]
