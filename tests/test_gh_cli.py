"""The service commands: loud configuration errors, `cimedic audit`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from actions.audit import AuditLog
from agent.cli import app
from agent.config import load_settings
from webhooks.store import make_engine


@pytest.fixture(autouse=True)
def fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> object:
    for var in (
        "CIMEDIC_GITHUB_APP_ID",
        "CIMEDIC_GITHUB_PRIVATE_KEY",
        "CIMEDIC_GITHUB_TOKEN",
        "CIMEDIC_GITHUB_WEBHOOK_SECRET",
        "CIMEDIC_DATABASE_URL",
        "CIMEDIC_REDIS_URL",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CIMEDIC_HOME", str(tmp_path))
    load_settings.cache_clear()
    yield
    load_settings.cache_clear()


def test_serve_names_the_missing_setting() -> None:
    out = CliRunner().invoke(app, ["serve", "--no-knowledge"])
    assert out.exit_code == 2 and "CIMEDIC_GITHUB_APP_ID" in out.output


def test_serve_names_a_malformed_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMEDIC_GITHUB_APP_ID", "not-a-number")
    out = CliRunner().invoke(app, ["serve", "--no-knowledge"])
    assert out.exit_code == 2 and "CIMEDIC_GITHUB_APP_ID" in out.output


def test_serve_requires_the_webhook_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIMEDIC_GITHUB_TOKEN", "ghp_x")
    out = CliRunner().invoke(app, ["serve", "--no-knowledge"])
    assert out.exit_code == 2 and "CIMEDIC_GITHUB_WEBHOOK_SECRET" in out.output


def test_audit_lists_writes(tmp_path: Path) -> None:
    log = AuditLog(make_engine(f"sqlite:///{tmp_path / 'cimedic.db'}"))
    log.record(repo="octo/app", action="comment.created", target="pr#3", outcome="done", remote_id=11)
    log.record(repo="octo/other", action="job.rerun", target="job:5", outcome="dry-run")
    out = CliRunner().invoke(app, ["audit", "--repo", "octo/app"])
    assert out.exit_code == 0 and "comment.created" in out.output and "job.rerun" not in out.output
    out = CliRunner().invoke(app, ["audit", "--json"])
    assert out.output.count("\n") == 2 and '"outcome": "dry-run"' in out.output
