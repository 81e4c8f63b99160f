"""The SQL half of the knowledge base: SQLAlchemy Core over SQLite (default) or PostgreSQL.

Writes are idempotent through unique keys and `INSERT ... ON CONFLICT DO NOTHING` (both dialects support it:
https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#insert-on-conflict-upsert and
https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#insert-on-conflict-upsert); a counter moves only
when the occurrence row was really inserted, in the same transaction: a re-delivered job never counts twice.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Insert,
    Table,
    bindparam,
    case,
    create_engine,
    event,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url

from knowledge.schema import failures, occurrences

MIGRATIONS = Path(__file__).with_name("migrations")
# Alembic logs "Context impl SQLiteImpl." at INFO each time a revision is read, which every process start
# (and every `cimedic audit --json`) does; upgrades are logged by us instead.
logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
log = logging.getLogger("cimedic.schema")
# The newest revision in `migrations/versions` (a test checks they agree): a store already there is opened
# without importing Alembic, ~0.3 s and ~12 MB of every `cimedic` run that touches the knowledge base.
HEAD_REVISION = "0006"
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
        # 64 MiB of page cache instead of SQLite's 2 MiB default (https://sqlite.org/pragma.html#pragma_cache_size):
        # the hashed keys (fingerprint, vector id, occurrence key) land on random index pages, and with the
        # default cache adding failures to a 100,000-failure store cost ~25% more CPU (bench/kb_scale.py).
        cursor.execute("PRAGMA cache_size=-65536")
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
    stmt: Insert = (
        _insert(conn, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=list(keys))
        .returning(table.c.id)
    )
    # RETURNING, not rowcount: with psycopg, SQLAlchemy reports rowcount -1 for these inserts.
    return conn.execute(stmt).first() is not None


def migrate_database(url: str) -> None:
    """Bring a CI Medic database to the newest schema: every table (knowledge base, service, audit log) is
    defined and migrated by the one Alembic history in knowledge/migrations."""
    store = SqlStore(url)
    try:
        store.migrate()
    finally:
        store.close()


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
        """Bring the schema to the newest Alembic revision; cheap when it already is. A new SQLite database
        is given the shipped schema at that revision, not through Alembic (`knowledge.sqlite_schema`)."""
        if self.revision() == HEAD_REVISION:
            return
        if self.engine.dialect.name == "sqlite" and self._create_at_head():
            return
        self.upgrade()

    def _create_at_head(self) -> bool:
        """Give an empty SQLite database the shipped schema at HEAD_REVISION, in one write transaction; True
        when the database is at HEAD_REVISION afterwards. A database holding anything is left to Alembic (a
        store made before the migrations existed is adopted by revision 0003)."""
        from knowledge.sqlite_schema import head_statements

        with self.write() as conn:  # BEGIN IMMEDIATE: a second process starting at once waits, then sees it
            if conn.exec_driver_sql("SELECT 1 FROM sqlite_master LIMIT 1").first() is not None:
                return bool(inspect(conn).has_table("alembic_version")) and (
                    conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD_REVISION
                )
            for statement in head_statements():
                conn.exec_driver_sql(statement)
        log.info("database created at schema revision %s", HEAD_REVISION)
        return True

    def upgrade(self) -> None:
        """Run the Alembic migrations up to the newest revision (`migrate` of an existing database)."""
        from alembic import command
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        head = ScriptDirectory.from_config(config).get_current_head()
        with self.write() as conn:
            if conn.dialect.name == "postgresql":  # two processes starting at once migrate one at a time
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK})
            if MigrationContext.configure(conn).get_current_revision() == head:
                return
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        log.info("database schema upgraded to revision %s", head)

    def revision(self) -> str | None:
        """The schema's Alembic revision, None before the first migration (read as Alembic stores it)."""
        with self.read() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()

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

    def store(self, conn: Connection, drafts: Sequence[FailureDraft]) -> int:
        """Write failures and their occurrences; returns how many occurrences were new.

        Two statements for a batch of new failures, each an executemany of one compiled statement (building
        one SQLAlchemy statement per row cost more than the database work, ~4 ms a row): the failure rows go
        in with their counters already set, RETURNING says which were new, then the occurrences. Failures
        that already existed get their counters moved by one more executemany, for the occurrences really
        inserted only.
        """
        if not drafts:
            return 0
        groups: dict[tuple[str, str], tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        seen_keys: set[str] = set()
        for draft in drafts:  # the same failure twice in a batch: one row, the occurrences of both
            _, occs = groups.setdefault(draft.key, (draft.values, []))
            for occ in draft.occurrences:
                if occ["key"] not in seen_keys:  # the same job twice in one batch
                    seen_keys.add(occ["key"])
                    occs.append(occ)
        rows = [_new_failure_row(values, occs) for values, occs in groups.values()]
        # No conflict target: with two writers, PostgreSQL's ON CONFLICT (fingerprint, repo) still raises
        # when the concurrent row trips the other unique index (vector_id) first; both mean "already there".
        # https://www.postgresql.org/docs/current/sql-insert.html#SQL-ON-CONFLICT
        # RETURNING with executemany is SQLAlchemy's "insertmanyvalues" on SQLite >= 3.35 and psycopg
        # (https://docs.sqlalchemy.org/en/20/core/connections.html#engine-insertmanyvalues); a skipped row
        # returns nothing.
        ids: dict[tuple[str, str], int] = {
            (fp, repo): fid
            for fid, fp, repo in conn.execute(
                _insert(conn, failures)
                .on_conflict_do_nothing()
                .returning(failures.c.id, failures.c.fingerprint, failures.c.repo),
                rows,
            )
        }
        created = set(ids.values())
        older = [key for key in groups if key not in ids]
        if older:
            ids.update(self._failure_ids(conn, older))
        occ_rows = [
            {**_OCCURRENCE_DEFAULTS, **occ, "failure_id": ids[key]}
            for key, (_, occs) in groups.items()
            for occ in occs
        ]
        if not occ_rows:
            return 0
        # RETURNING tells which rows were inserted; rowcount is unreliable with psycopg and executemany.
        inserted = set(
            conn.execute(
                _insert(conn, occurrences)
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(occurrences.c.key),
                occ_rows,
            ).scalars()
        )
        per_failure: dict[int, list[dict[str, Any]]] = {}
        expected: dict[int, int] = {}
        for occ in occ_rows:
            expected[occ["failure_id"]] = expected.get(occ["failure_id"], 0) + 1
            if occ["key"] in inserted:
                per_failure.setdefault(occ["failure_id"], []).append(occ)
        updates = []
        corrections = []
        for failure_id in sorted(expected):
            occs = per_failure.get(failure_id, [])
            if failure_id in created:
                # Counted at insert. An occurrence can still be skipped here when the same job was recorded
                # under another repo's row (a local log recorded with --repo a, then --repo b): uncount it.
                if len(occs) < expected[failure_id]:
                    corrections.append({"b_id": failure_id, "b_n": expected[failure_id] - len(occs)})
                continue
            if not occs:
                continue
            latest = max(occs, key=lambda o: o["seen_at"])
            updates.append(
                {
                    "b_id": failure_id,
                    "b_n": len(occs),
                    "b_first": min(o["seen_at"] for o in occs),
                    "b_last": latest["seen_at"],
                    "b_source": latest["source"],
                    "b_job": latest.get("job"),
                    "b_url": latest.get("url"),
                }
            )
        if updates:
            conn.execute(_COUNT_UPDATE, updates)
        if corrections:
            conn.execute(_UNCOUNT, corrections)
        return len(inserted)

    def _failure_ids(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        wanted = set(keys)
        found: dict[tuple[str, str], int] = {}
        fingerprints = sorted({fp for fp, _ in keys})
        for start in range(0, len(fingerprints), 500):
            for fid, fp, repo in conn.execute(
                select(failures.c.id, failures.c.fingerprint, failures.c.repo).where(
                    failures.c.fingerprint.in_(fingerprints[start : start + 500])
                )
            ):
                if (fp, repo) in wanted:
                    found[(fp, repo)] = fid
        return found


def _new_failure_row(values: Mapping[str, Any], occs: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The failure row once `occs` are counted: what `_COUNT_UPDATE` would make of a fresh row."""
    row = {**_FAILURE_DEFAULTS, **values, "occurrences": len(occs)}
    if occs:
        latest = max(occs, key=lambda o: o["seen_at"])
        row["first_seen"] = min(o["seen_at"] for o in occs)
        if row["last_seen"] <= latest["seen_at"]:
            row.update(
                last_seen=latest["seen_at"],
                last_source=latest["source"],
                last_job=latest.get("job"),
                last_url=latest.get("url"),
            )
    return row


# executemany needs every row to carry every key
_FAILURE_DEFAULTS: dict[str, Any] = {
    "org": None,
    "rule": None,
    "last_source": None,
    "last_job": None,
    "last_url": None,
}
_OCCURRENCE_DEFAULTS: dict[str, Any] = {
    c.name: None for c in occurrences.columns if c.nullable and c.name not in ("id", "failure_id")
}

_newer = failures.c.last_seen <= bindparam("b_last")
# SET expressions read the row's old values (SQL standard; SQLite and PostgreSQL agree).
_COUNT_UPDATE = (
    update(failures)
    .where(failures.c.id == bindparam("b_id"))
    .values(
        occurrences=failures.c.occurrences + bindparam("b_n"),
        first_seen=case(
            (failures.c.first_seen > bindparam("b_first"), bindparam("b_first")), else_=failures.c.first_seen
        ),
        last_seen=case((_newer, bindparam("b_last")), else_=failures.c.last_seen),
        last_source=case((_newer, bindparam("b_source")), else_=failures.c.last_source),
        last_job=case((_newer, bindparam("b_job")), else_=failures.c.last_job),
        last_url=case((_newer, bindparam("b_url")), else_=failures.c.last_url),
    )
)
_UNCOUNT = (
    update(failures)
    .where(failures.c.id == bindparam("b_id"))
    .values(occurrences=failures.c.occurrences - bindparam("b_n"))
)
