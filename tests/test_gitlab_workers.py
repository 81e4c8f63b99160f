"""GitLab with separate worker processes (`cimedic worker`): a worker SIGKILLed after taking a GitLab job
loses nothing and writes nothing twice; and the whole GitLab path on PostgreSQL (store) + Redis (queue).

Run with the embedded defaults (SQLite store and queue shared by the processes) and with PostgreSQL + Redis;
GitLab is the only forge configured, as a GitLab-only `cimedic serve` runs.
"""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from github_sim import Service, wait_until
from gitlab_sim import BOT, WEBHOOK_TOKEN, GitLabSim, delivery, job_hook
from test_gh_workers import backend, start_worker
from test_gitlab_e2e import INFRA_FAIL, scenario

from actions.github_comment import MARKER
from webhooks.gitlab import job_delivery_id

pytestmark = pytest.mark.slow
__all__ = ["backend"]  # the fixture, parametrized over SQLite and PostgreSQL + Redis


@pytest.fixture
def sim() -> Iterator[GitLabSim]:
    s = GitLabSim().start()
    yield s
    s.stop()


def gitlab_env(sim: GitLabSim, home: Path, *, database_url: str = "", redis_url: str = "") -> dict[str, str]:
    env = {
        "CIMEDIC_HOME": str(home),
        "CIMEDIC_GITLAB_URL": sim.url,
        "CIMEDIC_GITLAB_TOKEN": sim.token,
        "CIMEDIC_GITLAB_WEBHOOK_TOKEN": WEBHOOK_TOKEN,
        "CIMEDIC_GITLAB_TIMEOUT_SECONDS": "120",
        "CIMEDIC_LEASE_SECONDS": "3",
        "CIMEDIC_RETRY_BASE_SECONDS": "0.3",
        "CIMEDIC_PUBLISH_DELAY_SECONDS": "0.3",
        "CIMEDIC_QUEUE_NAME": f"gl{uuid.uuid4().hex[:8]}",
    }
    if database_url:
        env["CIMEDIC_DATABASE_URL"] = database_url
    if redis_url:
        env["CIMEDIC_REDIS_URL"] = redis_url
    return env


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        try:
            w.wait(15)
        except subprocess.TimeoutExpired:
            w.kill()


def test_worker_killed_mid_gitlab_job_is_finished_by_another(
    backend: dict[str, str], sim: GitLabSim, tmp_path: Path
) -> None:
    env = gitlab_env(sim, tmp_path, **backend)
    intake = Service(env, run_worker=False)
    assert intake.svc.api is None  # GitLab alone
    workers = [start_worker(env), start_worker(env)]
    try:
        pid, _pipeline, job = scenario(sim, trace=INFRA_FAIL)
        sim.add_file(pid, ".gitlab/cimedic.yml", "rerun: [infrastructure]\n")
        # The first download of this job's trace hangs, so whoever takes the job is still busy when killed.
        trace_path = f"/api/v4/projects/{pid}/jobs/{job['id']}/trace"
        sim.fail("GET", rf"/jobs/{job['id']}/trace$", None, delay_s=60)
        headers, body = delivery("Job Hook", job_hook(sim, job))
        assert intake.http.post("/webhooks/gitlab", headers=headers, content=body).status_code == 202
        wait_until(lambda: ("GET", trace_path) in sim.started, timeout=60)
        key = job_delivery_id(pid, job["id"], 0)
        owner = intake.svc.store.delivery(key)["owner"]
        victim = next(w for w in workers if w.pid == int(owner.split(":")[1]))
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        # The survivor's reaper sees the lease expire (3 s here) and runs the job again.
        notes = wait_until(lambda: sim.notes_on(pid, 4), timeout=60)
        wait_until(lambda: intake.svc.store.delivery(key)["status"] == "done", timeout=30)
        row = intake.svc.store.delivery(key)
        assert row["attempts"] == 2 and str(victim.pid) not in row["owner"]
        wait_until(lambda: sim.statuses and sim.retried, timeout=30)
        counts = intake.svc.store.counts
        wait_until(lambda: counts().get("queued", 0) == 0 and counts().get("running", 0) == 0, timeout=60)
        assert len(sim.notes_on(pid, 4)) == 1
        assert MARKER in notes[0]["body"] and notes[0]["author"]["username"] == BOT["username"]
        assert len(sim.statuses) == 1 and sim.statuses[0]["name"] == "cimedic"
        assert sim.retried == [job["id"]]  # retried by policy once, not once per attempt
        # GitLab delivering the job again later changes nothing.
        again, body2 = delivery("Job Hook", job_hook(sim, job))
        assert (
            intake.http.post("/webhooks/gitlab", headers=again, content=body2).json()["status"] == "duplicate"
        )
    finally:
        stop(workers)
        intake.close()
