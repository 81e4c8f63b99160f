"""`knowledge.first_run`: the first `cimedic analyze` on a clean home writes, with the standard library,
exactly what the knowledge base writes, and the later runs read it through the real stores (issue 15)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from test_kb_support import job

from agent.config import Settings
from agent.engine import analyze_file
from agent.models import Diagnosis, JobContext, Verdict
from knowledge import open_knowledge_base
from knowledge.base import KnowledgeBase
from knowledge.config import KnowledgeSettings
from knowledge.embedding import make_embedder
from knowledge.first_run import FirstRunKnowledgeBase, create_and_record
from knowledge.sqlstore import HEAD_REVISION

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "python-module-not-found.log"
OTHER = ROOT / "examples" / "github" / "pip-missing-package.log"
TABLES = ("kb_failures", "kb_occurrences", "kb_pending_vectors", "alembic_version")


def _kb(home: Path, *, defer_vectors: bool = True) -> KnowledgeBase:
    settings = KnowledgeSettings(model="hashing", threshold=0.0, defer_vectors=defer_vectors)  # type: ignore[arg-type]
    return open_knowledge_base(Settings(home=home), settings, embedder=make_embedder("hashing"))


def rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the knowledge base's tables, each value with SQLite's storage class."""
    with sqlite3.connect(path) as conn:
        found = {}
        for table in TABLES:
            names = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            cols = ", ".join(f'"{n}", typeof("{n}")' for n in names)
            found[table] = conn.execute(f"SELECT {cols} FROM {table} ORDER BY rowid").fetchall()
    conn.close()
    return found


def cases() -> list[tuple[Diagnosis, JobContext]]:
    local = analyze_file(EXAMPLE)
    github = analyze_file(OTHER).model_copy(
        update={"verdict": Verdict(kind="new", reason="first seen on this branch", link=None)}
    )
    return [
        (local, JobContext()),  # `cimedic analyze file.log`: no repo, no job, the time is now
        (
            github,
            job(
                branch="feature/x",
                commit="6dcb09b5b57875f334f61aebed695e2e4193db5e",
                workflow="CI",
                job="test (3.11)",
                url="https://github.com/acme/app/actions/runs/30433642/job/399444496",
                pull_requests=[1347],
                run_id=30433642,
                run_attempt=2,
                job_id=399444496,
                time="2026-12-05T23:01:02Z",
            ),
        ),
    ]


@pytest.mark.parametrize("case", [0, 1])
def test_the_first_run_writes_what_the_knowledge_base_writes(tmp_path: Path, case: int) -> None:
    diagnosis, context = cases()[case]
    if context.time is None:  # the same `now` on both sides
        context = context.model_copy(update={"time": "2026-12-06T03:00:00.250001Z"})
    assert create_and_record(tmp_path / "a" / "cimedic.db", diagnosis, context)
    kb = _kb(tmp_path / "b")
    kb.record(diagnosis, context)  # nothing compared yet: the vector is deferred
    kb.close()
    written = rows(tmp_path / "a" / "cimedic.db")
    assert written == rows(tmp_path / "b" / "cimedic.db")
    assert [len(written[t]) for t in TABLES] == [1, 1, 1, 1]
    assert written["alembic_version"][0][0] == HEAD_REVISION


def test_a_database_holding_anything_is_left_to_the_knowledge_base(tmp_path: Path) -> None:
    diagnosis, context = cases()[0]
    path = tmp_path / "cimedic.db"
    assert create_and_record(path, diagnosis, context)
    before = rows(path)
    other = analyze_file(OTHER)
    assert not create_and_record(path, other, context)
    assert rows(path) == before


def test_the_next_runs_find_the_first_runs_failure(tmp_path: Path) -> None:
    home = tmp_path / "home"
    diagnosis, _ = cases()[0]
    opened: list[str] = []

    def open_() -> object:
        opened.append("kb")
        return _kb(home).scoped(None)

    settings = KnowledgeSettings(model="hashing", threshold=0.0)  # type: ignore[arg-type]
    first = FirstRunKnowledgeBase(home / "cimedic.db", open_, settings, None)  # type: ignore[arg-type]
    assert first.similar(diagnosis) == []
    assert not (home / "cimedic.db").exists()  # asking made nothing
    first.record(diagnosis, JobContext())
    assert not opened and not first.opened
    kb = _kb(home)
    again = diagnosis.model_copy(update={"source": "again.log"})
    assert [s.fingerprint for s in kb.similar(again)] == [diagnosis.fingerprint]
    assert kb.flush_pending() == 1  # its vector, deferred, is embedded when one is needed
    assert kb.vectors.count() == 1 and kb.repair() == (0, 0)
    kb.close()


def test_vectors_that_must_not_wait_go_through_the_knowledge_base(tmp_path: Path) -> None:
    home = tmp_path / "home"
    diagnosis, _ = cases()[0]
    opened: list[KnowledgeBase] = []

    def open_() -> object:
        opened.append(_kb(home, defer_vectors=False))
        return opened[0].scoped(None)

    settings = KnowledgeSettings(model="hashing", defer_vectors=False)  # type: ignore[arg-type]
    first = FirstRunKnowledgeBase(home / "cimedic.db", open_, settings, None)  # type: ignore[arg-type]
    first.record(diagnosis, JobContext())
    assert first.opened and opened[0].vectors.count() == 1
    assert opened[0].flush_pending() == 0
    opened[0].close()
