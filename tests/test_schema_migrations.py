"""One way to define and migrate SQL tables: the Alembic history makes exactly the tables the code queries."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from test_kb_support import postgres_database

from actions import audit
from knowledge.sqlstore import migrate_database
from webhooks import heartbeat, store

SERVICE_TABLES = [store.metadata, audit.metadata, heartbeat.metadata]


def differences(url: str) -> list[object]:
    """What Alembic's autogenerate would change to make the database match the service's tables."""
    combined = sa.MetaData()
    for md in SERVICE_TABLES:
        for table in md.tables.values():
            table.to_metadata(combined)

    def ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return getattr(table, "name", None) in combined.tables

    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": ours})
            return list(compare_metadata(ctx, combined))
    finally:
        engine.dispose()


def test_sqlite_schema_matches_the_code(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cimedic.db'}"
    migrate_database(url)
    assert differences(url) == []


@pytest.mark.slow
def test_postgresql_schema_matches_the_code() -> None:
    with postgres_database() as url:
        migrate_database(url)
        assert differences(url) == []


def test_a_database_made_before_the_migration_keeps_its_rows(tmp_path: Path) -> None:
    # Installs before revision 0003 made the service tables with create_all; the upgrade adopts them.
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    for md in SERVICE_TABLES:
        md.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(store.locks).values(name="x", owner="me", expires_at=1.0))
    engine.dispose()
    s = store.Store.from_url(url)
    with s.engine.connect() as conn:
        assert conn.execute(sa.select(store.locks.c.owner)).scalar() == "me"
        assert MigrationContext.configure(conn).get_current_revision() is not None
