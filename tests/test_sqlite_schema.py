"""The shipped SQLite schema (`knowledge/static/sqlite-head.sql`) is what the Alembic migrations make, and a
database created from it behaves as a migrated one: same objects, same revision, later migrations apply."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from knowledge.sqlite_schema import HEAD_SQL, dump, generate, head_statements, statements
from knowledge.sqlstore import HEAD_REVISION, MIGRATIONS, SqlStore

ROOT = Path(__file__).resolve().parent.parent


def objects(path: Path) -> dict[str, object]:
    """Everything a schema comparison can see in a SQLite file: sqlite_master (autoindexes included), each
    table's columns, indexes (by name: their order follows creation, which Alembic's batch mode varies from
    run to run) and foreign keys, and the Alembic revision."""
    with sqlite3.connect(path) as conn:
        master = sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall())
        tables = [name for kind, name, _, _ in master if kind == "table"]
        found: dict[str, object] = {"master": master}
        for table in tables:
            found[table] = (
                conn.execute(f'PRAGMA table_xinfo("{table}")').fetchall(),
                sorted(row[1:] for row in conn.execute(f'PRAGMA index_list("{table}")')),
                conn.execute(f'PRAGMA foreign_key_list("{table}")').fetchall(),
            )
        found["version"] = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    conn.close()
    return found


def migrated(path: Path) -> Path:
    store = SqlStore(f"sqlite:///{path}")
    store.upgrade()  # Alembic, every revision
    store.close()
    return path


def created(path: Path) -> Path:
    store = SqlStore(f"sqlite:///{path}")
    store.migrate()  # a new file: made from the shipped schema
    store.close()
    return path


def test_the_shipped_schema_is_what_the_migrations_make() -> None:
    # On failure: `python -m knowledge.sqlite_schema` after adding a migration, and commit the file.
    assert HEAD_SQL.read_text(encoding="utf-8") == generate()
    assert head_statements()[-1] == f"INSERT INTO alembic_version (version_num) VALUES ('{HEAD_REVISION}');"


def test_a_database_made_from_it_is_a_migrated_one(tmp_path: Path) -> None:
    made = created(tmp_path / "made.db")
    assert objects(made) == objects(migrated(tmp_path / "migrated.db"))
    assert objects(made)["version"] == [(HEAD_REVISION,)]
    assert dump(made) == HEAD_SQL.read_text(encoding="utf-8")


def test_a_new_database_is_made_without_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    script = (
        "import sys\nfrom knowledge.sqlstore import SqlStore\n"
        f"s = SqlStore({url!r}); s.migrate(); s.migrate()\n"
        "print(s.revision(), sorted(m for m in ('alembic', 'mako') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == [HEAD_REVISION, "[]"], out.stderr


def test_a_later_migration_applies_on_top(tmp_path: Path) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_later.py").write_text(
        '"""a later revision"""\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f'revision = "9999"\ndown_revision = "{HEAD_REVISION}"\nbranch_labels = None\ndepends_on = None\n\n\n'
        "def upgrade() -> None:\n"
        '    with op.batch_alter_table("kb_failures") as batch:\n'
        '        batch.add_column(sa.Column("later", sa.Text(), nullable=True))\n\n\n'
        "def downgrade() -> None:\n"
        '    with op.batch_alter_table("kb_failures") as batch:\n'
        '        batch.drop_column("later")\n',
        encoding="utf-8",
    )
    made = created(tmp_path / "made.db")
    with sqlite3.connect(made) as conn:  # a row survives the upgrade (batch mode copies the table)
        conn.execute(
            "INSERT INTO kb_failures (fingerprint, vector_id, category, title, focus_text, excerpt_text,"
            " embed_text, first_seen, last_seen) VALUES ('fp', 'v', 'test', 't', '', '', '', '2026', '2026')"
        )
    conn.close()
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{made}")
    command.upgrade(config, "head")
    with sqlite3.connect(made) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("9999",)]
        assert conn.execute("SELECT fingerprint, later FROM kb_failures").fetchall() == [("fp", None)]
    conn.close()


def test_a_database_holding_tables_goes_through_alembic(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # not ours to recreate: revision 0003 adopts or Alembic fails loudly
        conn.execute("CREATE TABLE unrelated (x INTEGER)")
    conn.close()
    store = SqlStore(f"sqlite:///{path}")
    store.migrate()
    assert store.revision() == HEAD_REVISION
    store.close()
    assert [t for t in objects(path) if t == "unrelated"] == ["unrelated"]


def test_statements_are_cut_where_sqlite_says_they_end() -> None:
    script = "-- a comment\nCREATE TABLE t (x TEXT DEFAULT 'a;\nb');\nINSERT INTO t VALUES ('c');\n"
    assert statements(script) == ["CREATE TABLE t (x TEXT DEFAULT 'a;\nb');", "INSERT INTO t VALUES ('c');"]
    with pytest.raises(ValueError):
        statements("CREATE TABLE t (x")
