"""The intake's inbox: on SQLite, the intake accepts deliveries into a file that no other process writes.

Why: SQLite lets one connection write a database at a time, and one that finds it locked sleeps in SQLite's
busy handler, 1, 2, 5, 10 ... up to 100 ms per wait (`sqliteDefaultBusyCallback` in sqlite3.c). While the
intake wrote `gh_deliveries` and the queue, which a worker process writes too, an acknowledgement waited for
the worker's transaction, and for the worker to be scheduled again when it was preempted holding the lock
(it runs niced): ack p99 of 100-500 ms at 200 deliveries/s with one worker process (docs/benchmarks.md).

Now the intake appends the delivery here and reads `gh_deliveries` to tell duplicates (a WAL reader never
waits for a writer: sqlite.org/wal.html, "Concurrency"), so it never waits on another process. A pump in each
worker moves new entries into `gh_deliveries` and the queue, moving a cursor kept in that database in the same
transaction (`Store.admit_from_inbox`), so every entry is admitted exactly once however many workers pump, and
an entry the intake acknowledged survives any crash: it is in the inbox until the cursor has passed it. The
intake deletes entries the cursor has passed.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from webhooks.queue import Queue
from webhooks.store import Admission, Store

_SCHEMA = (
    # AUTOINCREMENT: a sequence number is never reused, even after the entries below it were deleted; the
    # cursor relies on it. Appends are serialized by SQLite's write lock, so entries commit in `seq` order.
    "CREATE TABLE IF NOT EXISTS inbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, delivery_id TEXT NOT NULL, "
    "event TEXT NOT NULL, payload TEXT NOT NULL, received_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS inbox_delivery ON inbox (delivery_id, seq)",
    # Which inbox this is: a file deleted and made again starts at seq 1 and must not inherit the old cursor.
    "CREATE TABLE IF NOT EXISTS inbox_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)

log = logging.getLogger("cimedic.inbox")

PRUNE_EVERY = 256  # appends between deletions of the entries the cursor has passed


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode loses no commit when the process dies, only possibly the last ones on power loss
    # (sqlite.org/pragma.html#pragma_synchronous), as for the queue (webhooks/queue.py).
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class Inbox:
    """Deliveries accepted by the intake and not yet admitted to the delivery table."""

    def __init__(self, path: Path, store: Store) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.store = store
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._appends = 0
        self._open()

    def _open(self) -> None:
        self._writer = _connect(self.path)
        self._reader = _connect(self.path)
        for statement in _SCHEMA:
            self._writer.execute(statement)
        self._writer.execute(
            "INSERT OR IGNORE INTO inbox_meta (key, value) VALUES ('id', ?)", (uuid.uuid4().hex,)
        )
        self.inbox_id: str = self._writer.execute("SELECT value FROM inbox_meta WHERE key = 'id'").fetchone()[
            0
        ]
        self._inode = os.stat(self.path).st_ino

    def _follow_file(self) -> None:
        """Reopen the inbox if its file was deleted or replaced since we opened it: appends to a deleted
        file would vanish with this process, and a worker reading the old one would never see new entries."""
        try:
            inode: int | None = os.stat(self.path).st_ino
        except FileNotFoundError:
            inode = None
        if inode == self._inode:
            return
        with self._write_lock, self._read_lock:
            log.warning("the inbox file %s was replaced or deleted; reopening it", self.path)
            self._writer.close()
            self._reader.close()
            self._open()

    @classmethod
    def beside(cls, store: Store) -> Inbox | None:
        """The inbox of a SQLite delivery database (`cimedic.db` -> `cimedic.inbox.db`); None for others."""
        url = store.engine.url
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        db = Path(url.database)
        return cls(db.with_name(db.stem + ".inbox.db"), store)

    # --- the intake ---------------------------------------------------------------------------------

    def accept(self, delivery_id: str, event: str, payload: str) -> Admission:
        """Append a verified delivery unless it is a duplicate; raises if the inbox cannot be written."""
        self._follow_file()
        with self._write_lock:
            cursor, status, updated = self.store.inbox_view(self.inbox_id, delivery_id)
            waiting = self._writer.execute(
                "SELECT 1 FROM inbox WHERE delivery_id = ? AND seq > ? LIMIT 1", (delivery_id, cursor)
            ).fetchone()
            if waiting is not None:
                return "duplicate"  # accepted before and not yet admitted: the pump will see to it
            admission = self.store.decide(status, updated)
            if admission == "duplicate":
                return admission
            # The new entry's seq is above the cursor even if this file lost its last entries while
            # `cimedic.db` kept a cursor past them (power loss with synchronous=NORMAL, a restored copy):
            # AUTOINCREMENT alone would hand out numbers the pump has already passed, and skip them.
            self._writer.execute(
                "INSERT INTO inbox (seq, delivery_id, event, payload, received_at) VALUES (max(?, coalesce("
                "(SELECT seq FROM sqlite_sequence WHERE name = 'inbox'), 0)) + 1, ?, ?, ?, ?)",
                (cursor, delivery_id, event, payload, time.time()),
            )
            self._appends += 1
            if self._appends % PRUNE_EVERY == 0:
                self._writer.execute("DELETE FROM inbox WHERE seq <= ?", (cursor,))
            return admission

    # --- the workers --------------------------------------------------------------------------------

    def pump(self, queue: Queue, *, limit: int = 200) -> int:
        """Admit what the intake accepted since the cursor and enqueue it; the number of entries moved."""
        self._follow_file()
        after = self.store.inbox_cursor(self.inbox_id)
        with self._read_lock:
            entries = self._reader.execute(
                "SELECT seq, delivery_id, event, payload, received_at FROM inbox WHERE seq > ? "
                "ORDER BY seq LIMIT ?",
                (after, limit),
            ).fetchall()
        admitted = self.store.admit_from_inbox(self.inbox_id, after, entries)
        if admitted is None:
            return 0  # another worker's pump moved them
        unsent: list[str] = []
        for delivery_id, admission in admitted:
            if admission == "duplicate":
                continue
            try:
                queue.enqueue(delivery_id)
            except Exception:
                unsent.append(delivery_id)
        if unsent:
            # Admitted but not enqueued (the queue's storage failed): the reaper's next pass enqueues them.
            # If the process dies right here instead, they wait until they count as lost (Store.due).
            self.store.make_due(unsent)
            log.error("could not enqueue %d admitted deliveries; the reaper will", len(unsent))
        return len(entries)

    # --- operations ---------------------------------------------------------------------------------

    def waiting(self) -> tuple[int, float | None]:
        """Entries not yet admitted, and the time the oldest of them arrived."""
        after = self.store.inbox_cursor(self.inbox_id)
        with self._read_lock:
            count, oldest = self._reader.execute(
                "SELECT count(*), min(received_at) FROM inbox WHERE seq > ?", (after,)
            ).fetchone()
        return int(count), oldest

    def ping(self) -> None:
        with self._read_lock:
            self._reader.execute("SELECT 1 FROM inbox LIMIT 1").fetchall()

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
        with self._read_lock:
            self._reader.close()
