"""A look into a SQLite knowledge base with the standard library, before opening it (issue 15).

`cimedic analyze` on a home whose knowledge base has nothing to compare with (only this log's own failure,
recorded by an earlier run) needs no store at all: no answer can come, and recording the same occurrence again
changes nothing. Opening the stores to learn that imports SQLAlchemy (~10 MB, ~0.2 s), which made the default
run cost 1.3-1.4x `--no-kb` (docs/benchmarks.md, "First hour"). `ProbedKnowledgeBase` asks these questions
through `sqlite3`, read-only, and opens the real knowledge base only when an answer may differ.

Any doubt means "open it": not SQLite, a file that does not exist yet, a schema at another revision (the
stores migrate it), or any `sqlite3` error. The table and column names are those of `knowledge.schema`
(tests/test_kb_probe.py checks that they agree).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from agent.models import Diagnosis, JobContext, SimilarFailure
from knowledge.config import KnowledgeSettings
from knowledge.keys import job_identity, occurrence_key, scope_of

if TYPE_CHECKING:
    from agent.ports import KnowledgeLookup

SCHEMA_REVISION = "0006"  # = knowledge.sqlstore.HEAD_REVISION (a test checks): the tables read below


def sqlite_path(url: str) -> Path | None:
    """The file of a plain `sqlite:///PATH` URL (SQLAlchemy's form, as `Settings.sqlite_url` writes it)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url or url == prefix or url.endswith(":memory:"):
        return None
    return Path(url[len(prefix) :])


class StoreProbe:
    """Read-only questions to one SQLite file; None from a question means "cannot tell"."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def _connect(self) -> sqlite3.Connection | None:
        if not self._path.is_file():
            return None
        # mode=ro: never create or change the file (https://www.sqlite.org/uri.html#urimode)
        conn = sqlite3.connect(f"{self._path.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.Error:
            conn.close()
            return None
        if row is None or row[0] != SCHEMA_REVISION:
            conn.close()
            return None
        return conn

    def nothing_to_compare(self, diagnosis: Diagnosis, scope: str, value: str | None) -> bool | None:
        """True when `KnowledgeBase.similar` must answer [] for `diagnosis`: no occurrence of its fingerprint
        from another log, and no other failure, in scope (knowledge.base's `_exact`, `_has_candidates`)."""
        where, args = "", []
        if scope in ("repo", "org"):
            where, args = f" AND f.{scope} = ?", [value or ""]
        try:
            conn = self._connect()
            if conn is None:
                return None
            with contextlib.closing(conn):
                exact = conn.execute(
                    "SELECT 1 FROM kb_occurrences o JOIN kb_failures f ON f.id = o.failure_id"
                    f" WHERE o.fingerprint = ? AND o.source != ?{where} LIMIT 1",
                    [diagnosis.fingerprint, diagnosis.source, *args],
                ).fetchone()
                other = conn.execute(
                    "SELECT 1 FROM kb_failures f WHERE f.occurrences >= 1"
                    f" AND f.fingerprint != ?{where} LIMIT 1",
                    [diagnosis.fingerprint, *args],
                ).fetchone()
        except sqlite3.Error:
            return None
        return exact is None and other is None

    def already_recorded(self, diagnosis: Diagnosis, job: JobContext) -> bool | None:
        """True when `KnowledgeBase.record(diagnosis, job)` would write nothing: this occurrence is stored,
        under the failure row of this repository."""
        key = occurrence_key(diagnosis.fingerprint, job_identity(diagnosis, job), job.run_attempt)
        try:
            conn = self._connect()
            if conn is None:
                return None
            with contextlib.closing(conn):
                row = conn.execute(
                    "SELECT 1 FROM kb_occurrences o JOIN kb_failures f ON f.id = o.failure_id"
                    " WHERE o.key = ? AND f.fingerprint = ? AND f.repo = ?",
                    [key, diagnosis.fingerprint, job.repo or ""],
                ).fetchone()
        except sqlite3.Error:
            return None
        return row is not None


class LazyKnowledgeBase:
    """A `KnowledgeLookup` that opens the knowledge base (`open_`, raising as `open_knowledge_base`) only on
    its first use that cannot be answered without it; subclasses say which uses can. Scoped to `repo` like
    `KnowledgeBase.scoped`."""

    def __init__(
        self,
        open_: Callable[[], KnowledgeLookup],
        settings: KnowledgeSettings,
        repo: str | None,
    ) -> None:
        self._open = open_
        self._settings = settings
        self._repo = repo
        self._inner: KnowledgeLookup | None = None
        self._lock = threading.Lock()

    @property
    def opened(self) -> bool:
        return self._inner is not None

    def _lookup(self) -> KnowledgeLookup:
        with self._lock:
            if self._inner is None:
                self._inner = self._open()
            return self._inner

    def _scoped(self, job: JobContext) -> JobContext:
        """`job` with this scope's repository when it names none, as `ScopedKnowledgeBase.record` does."""
        if job.repo is None and self._repo is not None:
            return job.model_copy(update={"repo": self._repo})
        return job


class ProbedKnowledgeBase(LazyKnowledgeBase):
    """Opens the knowledge base only when the probe cannot rule an answer or a write out."""

    def __init__(
        self,
        probe: StoreProbe,
        open_: Callable[[], KnowledgeLookup],
        settings: KnowledgeSettings,
        repo: str | None,
    ) -> None:
        super().__init__(open_, settings, repo)
        self._probe = probe

    def similar(self, diagnosis: Diagnosis, k: int = 3) -> list[SimilarFailure]:
        if self._inner is None and k > 0:
            scope, value = scope_of(self._settings.scope, self._repo)
            if self._probe.nothing_to_compare(diagnosis, scope, value):
                return []
        return self._lookup().similar(diagnosis, k)

    def record(self, diagnosis: Diagnosis, job: JobContext) -> None:
        job = self._scoped(job)
        if self._inner is None and self._probe.already_recorded(diagnosis, job):
            return
        self._lookup().record(diagnosis, job)
