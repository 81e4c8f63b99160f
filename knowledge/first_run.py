"""The knowledge base of a home whose SQLite file does not exist yet: the first run ever (issue 15).

There is nothing to compare with, and the one write is the first failure into a new database. Opening the
stores for that imports SQLAlchemy (~0.2 s, ~15 MB), which made the first `cimedic analyze` on a clean home
cost ~1.4x `--no-kb` (docs/benchmarks.md, "First run on a clean home"). `FirstRunKnowledgeBase` makes the
database from the shipped schema (`knowledge.sqlite_schema`) and records the failure with `sqlite3`, in one
`BEGIN IMMEDIATE` transaction, exactly as `KnowledgeBase.record` with deferred vectors would (the row values
come from `knowledge.keys.record_values`; tests/test_kb_first_run.py compares every column).

Any doubt hands over to the real knowledge base: a database that holds anything by the time the write lock
is taken (another process was first), vectors that must not be deferred, or a `sqlite3` error.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.models import Diagnosis, JobContext, SimilarFailure
from knowledge.config import KnowledgeSettings
from knowledge.keys import record_values
from knowledge.probe import LazyKnowledgeBase
from knowledge.sqlite_schema import head_statements

if TYPE_CHECKING:
    from agent.ports import KnowledgeLookup


def _sql_value(value: Any) -> Any:
    """A value as SQLAlchemy's SQLite dialect stores it: DATETIME as text with microseconds
    (https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#sqlalchemy.dialects.sqlite.DATETIME)."""
    if isinstance(value, datetime):
        return (
            f"{value.year:04d}-{value.month:02d}-{value.day:02d} "
            f"{value.hour:02d}:{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}"
        )
    return value


def _insert(conn: sqlite3.Connection, table: str, row: Mapping[str, Any]) -> int:
    columns = ", ".join(f'"{name}"' for name in row)
    marks = ", ".join("?" for _ in row)
    cursor = conn.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({marks})", [_sql_value(v) for v in row.values()]
    )
    return int(cursor.lastrowid or 0)


def create_and_record(path: Path, diagnosis: Diagnosis, job: JobContext) -> bool:
    """Make the database at `path` and record one failure in it with its vector pending; False (nothing
    written) when the database already holds anything."""
    values, occurrence = record_values(diagnosis, job)
    seen = occurrence["seen_at"]
    # The counters as `SqlStore.store` sets them for a new failure with this one occurrence.
    failure = {
        **values,
        "occurrences": 1,
        "first_seen": seen,
        "last_seen": seen,
        "last_source": occurrence["source"],
        "last_job": occurrence["job"],
        "last_url": occurrence["url"],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: the transaction is ours (BEGIN IMMEDIATE below), as in `sqlstore.make_engine`.
    conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        conn.execute(
            "PRAGMA journal_mode=WAL"
        )  # as `make_engine`: a property of the file (sqlite.org/wal.html)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("BEGIN IMMEDIATE")  # a second process starting at once waits, then finds this one's row
        try:
            if conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone() is not None:
                conn.execute("ROLLBACK")
                return False
            for statement in head_statements():
                conn.execute(statement)
            failure_id = _insert(conn, "kb_failures", failure)
            _insert(conn, "kb_occurrences", {**occurrence, "failure_id": failure_id})
            _insert(conn, "kb_pending_vectors", {"vector_id": values["vector_id"]})
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    return True


class FirstRunKnowledgeBase(LazyKnowledgeBase):
    """For a SQLite file that does not exist yet: answers and records alone while it still does not."""

    def __init__(
        self,
        path: Path,
        open_: Callable[[], KnowledgeLookup],
        settings: KnowledgeSettings,
        repo: str | None,
    ) -> None:
        super().__init__(open_, settings, repo)
        self._path = path

    def similar(self, diagnosis: Diagnosis, k: int = 3) -> list[SimilarFailure]:
        if self._inner is None and not self._path.exists():  # no database: nothing was ever recorded
            return []
        return self._lookup().similar(diagnosis, k)

    def record(self, diagnosis: Diagnosis, job: JobContext) -> None:
        job = self._scoped(job)
        if self._inner is None and self._settings.defer_vectors and not self._path.exists():
            try:
                if create_and_record(self._path, diagnosis, job):
                    return
            except (sqlite3.Error, OSError):
                pass  # the real knowledge base tries again, and says why if it cannot
        self._lookup().record(diagnosis, job)
