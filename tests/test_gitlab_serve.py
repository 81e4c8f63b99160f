"""`cimedic serve` with GitLab alone, GitHub alone, both, or neither (issue 11): each forge's route exists
only when that forge is configured (404 otherwise), and with neither the command stops with one line.

GitLab alone and neither run the real command in its own process, as users run it (the intake plus a child
worker process, SQLite); GitHub alone and both run the same wiring (`build_service`) on a real port.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from github_sim import Service, delivery, free_port, new_sim, service_env, wait_until
from gitlab_sim import BOT, WEBHOOK_TOKEN, GitLabSim, job_hook
from gitlab_sim import delivery as gitlab_delivery
from test_gitlab_e2e import scenario

from actions.github_comment import MARKER

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-c", "from agent.cli import main; main()"]


@pytest.fixture
def sim() -> Iterator[GitLabSim]:
    s = GitLabSim().start()
    yield s
    s.stop()


def _bare_env(home: Path, **extra: str) -> dict[str, str]:
    """This process's environment without any CIMEDIC_ setting (a developer's shell may carry some)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIMEDIC_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(CIMEDIC_HOME=str(home), **extra)
    return env


def _gitlab_env(sim: GitLabSim) -> dict[str, str]:
    return {
        "CIMEDIC_GITLAB_URL": sim.url,
        "CIMEDIC_GITLAB_TOKEN": sim.token,
        "CIMEDIC_GITLAB_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "CIMEDIC_LEASE_SECONDS": "3",
        "CIMEDIC_RETRY_BASE_SECONDS": "0.3",
        "CIMEDIC_PUBLISH_DELAY_SECONDS": "0.3",
        "CIMEDIC_QUEUE_NAME": f"t{uuid.uuid4().hex[:8]}",
    }


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=5).status_code
    except httpx.HTTPError:
        return 0


def test_serve_with_gitlab_alone_notes_the_mr_and_has_no_github_route(sim: GitLabSim, tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("wb") as err:
        serve = subprocess.Popen(
            [*CLI, "serve", "--no-knowledge", "--port", str(port), "--log-level", "warning"],
            env=_bare_env(tmp_path, **_gitlab_env(sim)),
            stderr=err,
        )
    try:
        wait_until(lambda: _status(url + "/readyz") == 200 or serve.poll() is not None, timeout=60, every=0.2)
        assert serve.poll() is None, (tmp_path / "serve.log").read_text()
        headers, body = delivery("workflow_job", {"action": "completed"})
        assert httpx.post(url + "/webhooks/github", headers=headers, content=body).status_code == 404
        pid, _pipeline, job = scenario(sim)
        headers, body = gitlab_delivery("Job Hook", job_hook(sim, job))
        assert httpx.post(url + "/webhooks/gitlab", headers=headers, content=body).status_code == 202
        notes = wait_until(lambda: sim.notes_on(pid, 4), timeout=60)
        assert len(notes) == 1 and MARKER in notes[0]["body"]
        assert notes[0]["author"]["username"] == BOT["username"]
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)


def test_serve_with_neither_forge_stops_with_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [*CLI, "serve", "--no-knowledge", "--port", str(free_port())],
        env=_bare_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("cimedic: error: no forge configured: set CIMEDIC_GITHUB_APP_ID"), lines[0]
    assert "CIMEDIC_GITLAB_TOKEN" in lines[0]


def test_serve_with_github_alone_has_no_gitlab_route(sim: GitLabSim, tmp_path: Path) -> None:
    gh = new_sim()
    service = Service(service_env(gh, tmp_path), run_worker=False)
    try:
        _pid, _pipeline, job = scenario(sim)
        headers, body = gitlab_delivery("Job Hook", job_hook(sim, job))
        assert service.http.post("/webhooks/gitlab", headers=headers, content=body).status_code == 404
        # GitHub's route is there: an unsigned delivery is refused by it, not unknown.
        headers, body = delivery("workflow_job", {"action": "completed"}, secret="not-the-secret")
        assert service.post(headers, body).status_code == 401
        assert service.svc.gitlab is None
    finally:
        service.close()
        gh.stop()


def test_serve_with_both_forges_has_both_routes(sim: GitLabSim, tmp_path: Path) -> None:
    gh = new_sim()
    env = service_env(gh, tmp_path, **{k: v for k, v in _gitlab_env(sim).items() if "GITLAB" in k})
    service = Service(env, run_worker=False)
    try:
        _pid, _pipeline, job = scenario(sim)
        headers, body = gitlab_delivery("Job Hook", job_hook(sim, job))
        assert service.http.post("/webhooks/gitlab", headers=headers, content=body).status_code == 202
        headers, body = delivery("workflow_job", {"action": "completed"}, secret="not-the-secret")
        assert service.post(headers, body).status_code == 401
    finally:
        service.close()
        gh.stop()
