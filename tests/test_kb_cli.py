"""`cimedic kb ...` end to end on the real engine and real stores (SQLite + Chroma PersistentClient).

The hashing embedder (CIMEDIC_KB_MODEL=hashing) keeps this test free of the model load.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli import app
from agent.cli.kb_cmd import parse_age
from agent.config import load_settings

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.log"))


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CIMEDIC_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("CIMEDIC_KB_MODEL", "hashing")
    monkeypatch.delenv("CIMEDIC_DATABASE_URL", raising=False)
    monkeypatch.delenv("CIMEDIC_CHROMA_URL", raising=False)
    load_settings.cache_clear()  # settings are read once per process
    yield tmp_path / "home"
    load_settings.cache_clear()


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_kb_commands_round_trip(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(EXAMPLES) >= 3
    logs = [str(p) for p in EXAMPLES]
    assert "recorded" in run("kb", "add", *logs, "--repo", "demo/app")
    assert f"0 new occurrences, {len(logs)} already known" in run("kb", "add", *logs, "--repo", "demo/app")

    stats = json.loads(run("kb", "stats", "--format", "json"))
    assert stats["occurrences"] == len(logs) and stats["repos"] == 1

    top = stats["top"][0]["fingerprint"]
    assert "recorded fix abc1234" in run("kb", "resolve", top[:8], "--fix", "abc1234", "--repo", "demo/app")
    assert "already had" in run("kb", "resolve", top, "--fix", "abc1234", "--repo", "demo/app")
    unknown = CliRunner().invoke(app, ["kb", "resolve", "zzzz-no-such", "--fix", "abc1234"])
    assert unknown.exit_code == 1

    dump = tmp_path / "kb.jsonl"
    run("kb", "export", str(dump))
    records = [json.loads(line) for line in dump.read_text().splitlines()]
    [focus] = [r["focus_text"] for r in records if r.get("fingerprint") == top and r["type"] == "failure"]

    found = json.loads(run("kb", "search", focus, "--format", "json", "-k", "3"))
    assert found and found[0]["fingerprint"] == top and found[0]["resolution"] == "abc1234"
    assert isinstance(json.loads(run("kb", "search", "--log", logs[0], "--format", "json")), list)
    monkeypatch.setenv("CIMEDIC_HOME", str(tmp_path / "elsewhere"))
    load_settings.cache_clear()
    assert f"imported {len(logs)} failures ({len(logs)} new occurrences)" in run("kb", "import", str(dump))
    assert "(0 new occurrences), 0 new resolutions" in run("kb", "import", str(dump))
    copied = json.loads(run("kb", "stats", "--format", "json"))
    for key in ("failures", "occurrences", "repos", "categories"):
        assert copied[key] == stats[key]
    assert copied["resolutions"] == 1 and copied["top"][0]["resolution"] == "abc1234"

    assert f"forgot {len(logs)} occurrences, {len(logs)} failures, 1 resolutions" in run(
        "kb", "forget", "--repo", "demo/app"
    )
    assert json.loads(run("kb", "stats", "--format", "json"))["failures"] == 0
    assert "removed 0 orphan vectors, re-embedded 0" in run("kb", "repair")


def test_kb_feedback_judges_a_diagnosis_and_the_latest_judgement_wins(home: Path) -> None:
    log = str(EXAMPLES[0])
    run("kb", "add", log, "--repo", "demo/app")
    [failure] = [
        json.loads(line) for line in run("kb", "export").splitlines() if json.loads(line)["type"] == "failure"
    ]
    fingerprint = failure["fingerprint"]

    out = run("kb", "feedback", fingerprint[:10], "--wrong", "--note", "the real cause is the proxy")
    assert out.strip() == f"{fingerprint}: recorded wrong for {log}"  # the log it was last seen in
    run("kb", "feedback", fingerprint, "--helpful", "--repo", "demo/app")  # changed my mind: replaces it
    run("kb", "feedback", fingerprint, "--helpful", "--source", "https://ci/job/9", "--author", "ana")
    [mine, anas] = [
        json.loads(line) for line in run("kb", "export").splitlines() if '"type": "feedback"' in line
    ]
    assert (mine["source"], mine["helpful"], mine["note"], mine["repo"]) == (log, True, None, "demo/app")
    assert (anas["source"], anas["author"]) == ("https://ci/job/9", "ana")
    assert json.loads(run("kb", "stats", "--format", "json"))["feedback"] == 2

    unknown = CliRunner().invoke(app, ["kb", "feedback", "zzzz-no-such", "--helpful"])
    assert unknown.exit_code == 1 and "unknown" in unknown.stderr
    elsewhere = CliRunner().invoke(app, ["kb", "feedback", fingerprint, "--wrong", "--repo", "other/x"])
    assert elsewhere.exit_code == 1 and "--source" in elsewhere.stderr
    assert CliRunner().invoke(app, ["kb", "feedback", fingerprint]).exit_code == 2  # say which


def test_parse_age() -> None:
    assert parse_age("90d") == timedelta(days=90)
    assert parse_age("12h") == timedelta(hours=12)
    assert parse_age("4w") == timedelta(weeks=4)
    with pytest.raises(Exception, match="unit"):
        parse_age("90 days")
