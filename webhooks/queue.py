"""The durable queue: huey on SQLite (embedded, one host) or on Redis (intake and workers on many hosts).

Messages carry only a delivery id; the delivery itself, its status and its lease live in `webhooks.store`.
So a lost message (a worker SIGKILLed after dequeue) costs nothing: the lease expires and the reaper, which
runs in every worker, enqueues the id again; a message delivered twice is harmless because `Store.claim` lets
one worker in.

We drive huey's `dequeue`/`execute` from our own threads instead of its `Consumer`, which installs signal
handlers and so must own the main thread; `cimedic serve` runs intake and workers in one process.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import PriorityRedisHuey, RedisHuey, SqliteHuey
from huey.storage import SqliteStorage

log = logging.getLogger("cimedic.queue")

TASK_NAME = "cimedic.process_delivery"


class _WalNormalStorage(SqliteStorage):  # type: ignore[misc]
    """huey's SQLite storage with `synchronous=NORMAL` instead of FULL (one fsync per enqueue).

    In WAL mode NORMAL loses nothing when the process dies, only possibly the last commits on power loss; a
    message lost that way is re-enqueued by the reaper from our delivery table, which is the source of truth.
    """

    def _create_connection(self) -> Any:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=1")
        return conn


class _SqliteHuey(SqliteHuey):  # type: ignore[misc]
    storage_class = _WalNormalStorage


class Queue:
    """Enqueue delivery ids; run a handler on them in worker threads."""

    def __init__(self, huey: Any) -> None:
        self.huey = huey
        self._handler: Callable[[str], None] | None = None
        self._task = huey.task(name=TASK_NAME)(self._run)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # SQLite takes one writer at a time and a blocked writer sleeps in SQLite's busy handler (up to 100 ms
        # per wait): the threads of this process queue on a lock instead, which costs microseconds.
        self._sqlite_lock = threading.Lock() if isinstance(huey, SqliteHuey) else None

    @classmethod
    def sqlite(cls, path: Path, name: str = "cimedic") -> Queue:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(_SqliteHuey(name, filename=str(path), results=False, timeout=30))

    @classmethod
    def redis(cls, url: str, name: str = "cimedic") -> Queue:
        return cls(PriorityRedisHuey(name, url=url, results=False, blocking=True, read_timeout=1))

    @property
    def backend(self) -> str:
        return "redis" if isinstance(self.huey, RedisHuey) else "sqlite"

    def _run(self, delivery_id: str) -> None:
        if self._handler is None:
            raise RuntimeError("no handler set on this queue")
        self._handler(delivery_id)

    def enqueue(self, delivery_id: str, *, priority: int = 0) -> None:
        """Persist one message; raises if the storage is unreachable (the intake answers 503).

        Higher `priority` is taken first (huey's SQLite and Redis storages both order by it): output updates
        go ahead of analyses, so a comment does not wait behind a backlog of other PRs' jobs.
        """
        with self._serialized():
            if priority:
                self._task(delivery_id, priority=priority)
            else:
                self._task(delivery_id)

    def _serialized(self) -> Any:
        return self._sqlite_lock if self._sqlite_lock is not None else contextlib.nullcontext()

    def depth(self) -> int:
        return int(self.huey.pending_count())

    def ping(self) -> None:
        self.huey.pending_count()

    def run_once(self) -> bool:
        """Take and run one message; False when the queue was empty."""
        with self._serialized():
            task = self.huey.dequeue()
        if task is None:
            return False
        # huey.execute logs and swallows task exceptions; our handler records failures itself.
        self.huey.execute(task)
        return True

    def start(
        self,
        handler: Callable[[str], None],
        *,
        threads: int = 2,
        reaper: Callable[[], object] | None = None,
        reap_every_s: float = 5.0,
        pump: Callable[[], int] | None = None,
        pump_every_s: float = 0.02,
    ) -> None:
        self._handler = handler
        self._stop.clear()
        for i in range(threads):
            t = threading.Thread(target=self._loop, name=f"cimedic-worker-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        if reaper is not None:
            t = threading.Thread(
                target=self._reap_loop, args=(reaper, reap_every_s), name="cimedic-reaper", daemon=True
            )
            t.start()
            self._threads.append(t)
        if pump is not None:
            t = threading.Thread(
                target=self._pump_loop, args=(pump, pump_every_s), name="cimedic-pump", daemon=True
            )
            t.start()
            self._threads.append(t)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def set_handler(self, handler: Callable[[str], None]) -> None:
        self._handler = handler

    def _loop(self) -> None:
        idle = 0.01
        while not self._stop.is_set():
            try:
                if self.run_once():
                    idle = 0.01
                    continue
            except Exception:  # storage hiccup: keep the worker alive, try again shortly
                log.exception("queue dequeue failed")
            # Redis dequeue already blocks up to read_timeout; SQLite returns at once, so back off a little.
            self._stop.wait(idle)
            idle = min(idle * 2, 0.2)

    def _reap_loop(self, reaper: Callable[[], object], every: float) -> None:
        while not self._stop.wait(every):
            try:
                reaper()
            except Exception:
                log.exception("reaper failed")

    def _pump_loop(self, pump: Callable[[], int], every: float) -> None:
        while not self._stop.is_set():
            moved = 0
            try:
                moved = pump()
            except Exception:
                log.exception("inbox pump failed")
            if not moved:  # after moving some, more may be waiting: go again at once
                self._stop.wait(every)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
