"""The SQLite schema at the newest Alembic revision, shipped as SQL for the first run on a clean home.

A new SQLite database is made from `static/sqlite-head.sql` in one transaction (`SqlStore.migrate`) instead
of by importing Alembic and running every revision one by one (issue 15: ~0.2 s of a first `cimedic analyze`,
docs/benchmarks.md, "First run on a clean home"). A database that already holds tables still goes through
Alembic, and PostgreSQL always does. The file is generated, never edited:

    python -m knowledge.sqlite_schema

runs the real migrations on an empty SQLite file and writes its schema (sqlite_master) and its
`alembic_version` row; tests/test_sqlite_schema.py fails when the file and the migrations disagree.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

HEAD_SQL = Path(__file__).with_name("static") / "sqlite-head.sql"
_HEADER = (
    "-- The SQLite schema at Alembic revision {revision}, made by `python -m knowledge.sqlite_schema`"
    " from knowledge/migrations.\n-- Generated: do not edit (tests/test_sqlite_schema.py checks it).\n"
)


def dump(path: Path) -> str:
    """The schema of the SQLite database at `path` as a script: its objects, then its alembic_version row.

    Tables first, then what is defined on them, each kind by name: the order in which Alembic's batch mode
    recreates indexes changes from one run to the next (set order), so a stable file cannot follow it.
    Objects SQLite makes by itself are left out
    (`sqlite_%`: autoindexes, sqlite_sequence; https://www.sqlite.org/fileformat2.html#internal_schema_objects)."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite^_%' ESCAPE '^'"
            " ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, name"
        ).fetchall()
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    conn.close()
    lines = [f"{sql};" for (sql,) in rows]
    lines.append(f"INSERT INTO alembic_version (version_num) VALUES ('{revision}');")
    return _HEADER.format(revision=revision) + "\n".join(lines) + "\n"


def statements(script: str) -> list[str]:
    """`script` cut into single statements. The DB-API's `executescript` would COMMIT a transaction already
    open (https://docs.python.org/3.11/library/sqlite3.html#sqlite3.Cursor.executescript), so the statements
    run one by one inside the caller's BEGIN IMMEDIATE instead; `complete_statement` says where each ends."""
    found: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        if not pending and line.startswith("--"):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete statement at the end of the schema: {pending.strip()[:80]}")
    return found


def head_statements() -> list[str]:
    return statements(HEAD_SQL.read_text(encoding="utf-8"))


def generate() -> str:
    """What the migrations make of an empty SQLite file, dumped (Alembic and SQLAlchemy are needed here)."""
    from knowledge.sqlstore import SqlStore

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "head.db"
        store = SqlStore(f"sqlite:///{path}")
        try:
            store.upgrade()
        finally:
            store.close()
        return dump(path)


if __name__ == "__main__":
    HEAD_SQL.write_text(generate(), encoding="utf-8")
    print(f"wrote {HEAD_SQL}")
