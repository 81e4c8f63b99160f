"""`cimedic github redeliver`: failed GUIDs are redelivered once, delivered ones are left alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from github_sim import APP_ID, GitHubSim, Service, keypair, new_sim, service_env
from typer.testing import CliRunner

from actions.github_api import GitHubApi
from webhooks.redeliver import redeliver_failed


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    s = new_sim()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    old = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 3 * 86400))

    def item(i: int, guid: str, code: int, when: str = now) -> dict[str, object]:
        return {
            "id": i,
            "guid": guid,
            "delivered_at": when,
            "redelivery": False,
            "duration": 0.1,
            "status": "OK" if code < 300 else "Service Unavailable",
            "status_code": code,
            "event": "workflow_job",
            "action": "completed",
            "installation_id": 1,
            "repository_id": 5,
        }

    s.hook_deliveries += [
        item(1, "ok", 202),
        item(2, "failed-then-ok", 503),
        item(3, "failed-then-ok", 202),
        item(4, "failed", 503),
        item(5, "failed", 503),
        item(6, "too-old", 503, old),
    ]
    yield s
    s.stop()


def test_redeliver_only_guids_without_a_successful_attempt(sim: GitHubSim) -> None:
    api = GitHubApi(base_url=sim.url, app_id=APP_ID, private_key=keypair()[0])
    result = redeliver_failed(api, since=time.time() - 86400)
    assert result.redelivered == ["failed"] and result.skipped == 2
    assert sim.redelivered == [5]  # the latest attempt of that GUID, once


def test_cli_dry_run(sim: GitHubSim, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli import app
    from agent.config import load_settings

    monkeypatch.setenv("CIMEDIC_GITHUB_APP_ID", str(APP_ID))
    monkeypatch.setenv("CIMEDIC_GITHUB_PRIVATE_KEY", keypair()[0])
    monkeypatch.setenv("CIMEDIC_GITHUB_API_URL", sim.url)
    load_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["github", "redeliver", "--since", "24h", "--dry-run"])
    finally:
        load_settings.cache_clear()
    assert out.exit_code == 0, out.output
    assert "would redeliver failed" in out.output and sim.redelivered == []


def test_the_app_stops_its_periodic_redelivery_when_it_shuts_down(sim: GitHubSim, tmp_path: Path) -> None:
    # The periodic redelivery thread outlived the app that started it: ten minutes later it asked a GitHub
    # that was long gone ("periodic redelivery failed" at the end of a test run).
    svc = Service(service_env(sim, tmp_path, CIMEDIC_REDELIVER_EVERY_SECONDS="30"), run_worker=False)

    def alive() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "cimedic-redeliver" and t.is_alive()]

    assert alive()
    svc.close()
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive()
