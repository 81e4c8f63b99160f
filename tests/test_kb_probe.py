"""`knowledge.probe`: the command line's read-only look into a SQLite knowledge base agrees with the stores.

The probe may only ever say "nothing to compare with" or "already recorded" when the knowledge base itself
would answer [] or write nothing; every other case opens the real stores (issue 15).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_kb_support import diag, job

from agent.config import Settings
from knowledge import open_knowledge_base, schema
from knowledge.config import KnowledgeSettings
from knowledge.embedding import make_embedder
from knowledge.probe import SCHEMA_REVISION, ProbedKnowledgeBase, StoreProbe, sqlite_path
from knowledge.sqlstore import HEAD_REVISION

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "python-module-not-found.log"
OTHER = ROOT / "examples" / "pip-missing-package.log"


def test_the_probe_reads_the_schema_the_stores_write() -> None:
    assert SCHEMA_REVISION == HEAD_REVISION  # a new migration must look at what the probe reads
    failures = {c.name for c in schema.failures.columns}
    occurrences = {c.name for c in schema.occurrences.columns}
    assert schema.failures.name == "kb_failures" and schema.occurrences.name == "kb_occurrences"
    assert {"id", "fingerprint", "repo", "org", "occurrences"} <= failures
    assert {"failure_id", "key", "fingerprint", "source"} <= occurrences


def test_sqlite_path_accepts_only_a_plain_file_url(tmp_path: Path) -> None:
    assert sqlite_path(Settings(home=tmp_path).sqlite_url) == tmp_path / "cimedic.db"
    for url in ("postgresql+psycopg://u@h/db", "sqlite://", "sqlite:///:memory:", "sqlite:///x.db?timeout=3"):
        assert sqlite_path(url) is None, url


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def _kb(home: Path, scope: str = "repo") -> object:
    settings = KnowledgeSettings(model="hashing", scope=scope, threshold=0.0)  # type: ignore[arg-type]
    return open_knowledge_base(Settings(home=home), settings, embedder=make_embedder("hashing"))


def test_the_probe_agrees_with_similar_and_record(home: Path) -> None:
    from knowledge.base import KnowledgeBase

    kb = _kb(home)
    assert isinstance(kb, KnowledgeBase)
    probe = StoreProbe(home / "cimedic.db")
    first = diag("fp-a", "ModuleNotFoundError: No module named 'yaml'", source="a.log")
    assert probe.nothing_to_compare(first, "repo", "acme/app") is True
    kb.record(first, job())
    # only its own failure: nothing to compare with, and the same occurrence again writes nothing
    assert probe.nothing_to_compare(first, "repo", "acme/app") is True
    assert kb.similar(first, repo="acme/app") == []
    assert probe.already_recorded(first, job()) is True
    assert probe.already_recorded(first.model_copy(update={"source": "b.log"}), job()) is False
    assert probe.already_recorded(first, job(repo="acme/other")) is False  # another repo's failure row
    # the same failure from another log is an exact match: the stores must answer
    again = first.model_copy(update={"source": "b.log"})
    assert probe.nothing_to_compare(again, "repo", "acme/app") is False
    assert [s.fingerprint for s in kb.similar(again, repo="acme/app")] == ["fp-a"]
    # another failure of the repository is a candidate; one of another repository is not
    kb.record(diag("fp-b", "E   assert 3 == 4", source="c.log"), job(repo="acme/other"))
    assert probe.nothing_to_compare(first, "repo", "acme/app") is True
    assert probe.nothing_to_compare(first, "org", "acme") is False
    assert probe.nothing_to_compare(first, "all", None) is False
    assert kb.similar(first, repo="acme/app") == []
    kb.record(diag("fp-c", "E   assert 5 == 6", source="d.log"), job())
    assert probe.nothing_to_compare(first, "repo", "acme/app") is False
    assert [s.fingerprint for s in kb.similar(first, repo="acme/app")] == ["fp-c"]
    kb.close()


def test_the_probe_cannot_tell_without_a_store_at_this_revision(home: Path) -> None:
    d = diag("fp-a", "boom")
    assert StoreProbe(home / "cimedic.db").nothing_to_compare(d, "all", None) is None  # no file yet
    assert not (home / "cimedic.db").exists()  # and the probe created none
    home.mkdir()
    (home / "cimedic.db").write_bytes(b"not a database at all" * 100)
    assert StoreProbe(home / "cimedic.db").nothing_to_compare(d, "all", None) is None
    assert StoreProbe(home / "cimedic.db").already_recorded(d, job()) is None


def test_the_stores_open_only_when_the_probe_cannot_rule_an_answer_out(home: Path) -> None:
    kb = _kb(home)
    first = diag("fp-a", "ModuleNotFoundError: No module named 'yaml'", source="a.log")
    kb.record(first, job())
    opened: list[object] = []

    def open_() -> object:
        opened.append(kb)
        return kb.scoped("acme/app")  # type: ignore[attr-defined]

    settings = KnowledgeSettings(model="hashing", threshold=0.0)
    probed = ProbedKnowledgeBase(StoreProbe(home / "cimedic.db"), open_, settings, "acme/app")  # type: ignore[arg-type]
    assert probed.similar(first) == []
    probed.record(first, job(repo=None))
    assert not opened and not probed.opened
    probed.record(first.model_copy(update={"source": "b.log"}), job(repo=None))  # a new occurrence: written
    assert probed.opened
    assert [s.fingerprint for s in probed.similar(first)] == ["fp-a"]
    kb.close()  # type: ignore[attr-defined]


def _cli(script: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIMEDIC_HOME": str(home), "NO_COLOR": "1"}
    for name in ("CIMEDIC_LLM", "CIMEDIC_DATABASE_URL", "CIMEDIC_KB_MODEL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, env=env, timeout=180
    )


MODULES = (
    "import sys\nfrom agent.cli import main\n"
    "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
    "heavy = ('sqlalchemy', 'alembic', 'chromadb', 'numpy', 'torch')\n"
    "print('heavy:', sorted(m for m in heavy if m in sys.modules))\nprint('code:', code)\n"
)


def test_analyze_on_a_home_with_nothing_to_compare_with_opens_no_store(home: Path) -> None:
    first = _cli(MODULES, "analyze", str(EXAMPLE), home=home)  # the first run creates the store (first_run)
    assert "heavy: []" in first.stdout and "code: 0" in first.stdout, first.stdout + first.stderr
    again = _cli(MODULES, "analyze", str(EXAMPLE), home=home)
    assert "heavy: []" in again.stdout and "code: 0" in again.stdout, again.stdout + again.stderr
    assert "stripe" in again.stdout and again.stderr == ""
    other = _cli(MODULES, "analyze", str(OTHER), home=home)  # a second failure: recorded through the stores
    assert "sqlalchemy" in other.stdout and "code: 0" in other.stdout, other.stdout + other.stderr
    stats = _cli("from agent.cli import main; main()", "kb", "stats", home=home)
    assert stats.stdout.startswith("2 failures, 2 occurrences"), stats.stdout + stats.stderr


def test_a_store_that_cannot_be_opened_later_is_one_warning_and_the_analysis_goes_on(home: Path) -> None:
    home.mkdir()
    (home / "cimedic.db").write_bytes(b"not a database at all" * 100)
    out = _cli("from agent.cli import main; main()", "analyze", str(EXAMPLE), home=home)
    assert out.returncode == 0 and "stripe" in out.stdout, out.stdout + out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cimedic: warning: cannot open the knowledge base"), lines
