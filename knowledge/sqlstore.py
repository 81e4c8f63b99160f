"""The SQL half of the knowledge base: SQLAlchemy Core over SQLite (default) or PostgreSQL.

Writes are idempotent through unique keys and `INSERT ... ON CONFLICT DO NOTHING` (both dialects support it:
https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#insert-on-conflict-upsert and
https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#insert-on-conflict-upsert); a counter moves only
when the occurrence row was really inserted, in the same transaction: a re-delivered job never counts twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, Insert, Table, case, create_engine, event, select, text, update
from sqlalchemy.engine import make_url

from knowledge.schema import failures, occurrences

MIGRATIONS = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = 72_100_503  # any constant: the PostgreSQL advisory lock id taken while migrating


@dataclass
class FailureDraft:
    """A failure and the occurrences to record for it, ready for the SQL store."""

    values: dict[str, Any]
    occurrences: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return (self.values["fingerprint"], self.values["repo"])


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    # pysqlite's own transaction handling starts with a deferred BEGIN; a reader that later writes then fails
    # with "database is locked" without waiting. Take over BEGIN (SQLAlchemy docs, "Serializable isolation /
    # Savepoints / Transactional DDL" for pysqlite) and make write transactions BEGIN IMMEDIATE, so concurrent
    # writers queue on busy_timeout instead.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer (sqlite.org/wal.html)
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _insert(conn: Connection, table: Table) -> Any:
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table)
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)
    raise NotImplementedError(f"the knowledge base supports SQLite and PostgreSQL, not {name}")


def insert_ignore(conn: Connection, table: Table, values: Mapping[str, Any], keys: Sequence[str]) -> bool:
    """Insert a row unless one with the same unique `keys` exists; True when it was inserted."""
    stmt: Insert = _insert(conn, table).values(**values).on_conflict_do_nothing(index_elements=list(keys))
    return bool(conn.execute(stmt).rowcount == 1)


class SqlStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_immediate=True)
            with conn.begin():
                yield conn

    # -- schema -------------------------------------------------------------------------------------------

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision; cheap when it already is."""
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self.read() as conn:
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
        with self.write() as conn:
            if conn.dialect.name == "postgresql":  # two processes starting at once migrate one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    # -- writes -------------------------------------------------------------------------------------------

    def existing_vector_ids(
        self, conn: Connection, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        fingerprints = sorted({fp for fp, _ in keys})
        for start in range(0, len(fingerprints), 500):
            rows = conn.execute(
                select(failures.c.fingerprint, failures.c.repo, failures.c.vector_id).where(
                    failures.c.fingerprint.in_(fingerprints[start : start + 500])
                )
            )
            for fp, repo, vector_id in rows:
                found[(fp, repo)] = vector_id
        return {key: found[key] for key in keys if key in found}

    def store(self, conn: Connection, draft: FailureDraft) -> int:
        """Write one failure and its occurrences; the number of occurrences that were new."""
        values = draft.values
        first = min((o["seen_at"] for o in draft.occurrences), default=values["first_seen"])
        insert_ignore(
            conn,
            failures,
            {**values, "first_seen": first, "occurrences": 0},
            ["fingerprint", "repo"],
        )
        failure_id = conn.execute(
            select(failures.c.id).where(
                failures.c.fingerprint == values["fingerprint"], failures.c.repo == values["repo"]
            )
        ).scalar_one()
        added = 0
        for occ in draft.occurrences:
            if not insert_ignore(conn, occurrences, {**occ, "failure_id": failure_id}, ["key"]):
                continue  # the same job delivered again: already counted
            added += 1
            seen = occ["seen_at"]
            newer = failures.c.last_seen <= seen
            # SET expressions read the row's old values (SQL standard; SQLite and PostgreSQL agree).
            conn.execute(
                update(failures)
                .where(failures.c.id == failure_id)
                .values(
                    occurrences=failures.c.occurrences + 1,
                    first_seen=case((failures.c.first_seen > seen, seen), else_=failures.c.first_seen),
                    last_seen=case((newer, seen), else_=failures.c.last_seen),
                    last_source=case((newer, occ["source"]), else_=failures.c.last_source),
                    last_job=case((newer, occ.get("job")), else_=failures.c.last_job),
                    last_url=case((newer, occ.get("url")), else_=failures.c.last_url),
                )
            )
        return added
