"""Separate worker processes (`cimedic worker`): a worker SIGKILLed mid-job loses nothing, writes stay single.

Run with the embedded defaults (SQLite store and queue shared by the processes) and with PostgreSQL + Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from github_sim import GitHubSim, Service, delivery, job_payload, new_sim, service_env, wait_until
from test_gh_e2e import GREEN, PYTEST_FAIL, REPO, SHA, green_base, pr_run, sticky

pytestmark = pytest.mark.slow


def _redis_up() -> bool:
    try:
        import redis

        return bool(redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_timeout=1).ping())
    except Exception:
        return False


@pytest.fixture(params=["sqlite", "postgres+redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    if request.param == "sqlite":
        yield {}
        return
    from test_kb_support import postgres_database

    if not _redis_up():
        pytest.skip("Redis is not listening on 127.0.0.1:6379")
    with postgres_database() as url:  # type: ignore[attr-defined]
        yield {"database_url": url, "redis_url": "redis://127.0.0.1:6379/0"}


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    full = {**os.environ, **env}
    cmd = [
        sys.executable,
        "-c",
        "from agent.cli import main; main()",
        "worker",
        "--no-knowledge",
        "--threads",
        "2",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(cmd, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_worker_killed_mid_job_is_finished_by_another(backend: dict[str, str], tmp_path: Path) -> None:
    sim: GitHubSim = new_sim()
    sim.add_repo(REPO)
    env = service_env(sim, tmp_path, queue_name=f"kill{uuid.uuid4().hex[:6]}", **backend)
    intake = Service(env, run_worker=False)
    workers = [start_worker(env), start_worker(env)]
    try:
        green_base(sim, ["test"])
        job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
        # The first download of this job's log hangs, so whoever takes the job is still busy when killed.
        sim.fail("GET", rf"/actions/jobs/{job['id']}/logs$", status=None, delay_s=60, times=1)
        headers, body = delivery("workflow_job", job_payload(sim, job), delivery_id="kill-1")
        first = intake.post(headers, body)
        assert first.status_code == 202, first.text
        log_path = f"/repos/{REPO}/actions/jobs/{job['id']}/logs"
        wait_until(lambda: ("GET", log_path) in sim.started, timeout=30)
        owner = intake.svc.store.delivery("kill-1")["owner"]
        pid = int(owner.split(":")[1])
        victim = next(w for w in workers if w.pid == pid)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        # The survivor's reaper sees the lease expire (3 s here) and runs the job again.
        wait_until(lambda: sticky(sim), timeout=40)
        wait_until(lambda: intake.svc.store.delivery("kill-1")["status"] == "done", timeout=20)
        row = intake.svc.store.delivery("kill-1")
        assert row["attempts"] == 2 and str(pid) not in row["owner"]
        assert len(sticky(sim)) == 1
        # A late duplicate after success is dropped.
        assert intake.post(headers, body).json()["status"] == "duplicate"
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                w.kill()
        intake.close()
        sim.stop()


def test_two_workers_share_a_matrix_without_double_writes(backend: dict[str, str], tmp_path: Path) -> None:
    sim = new_sim()
    sim.add_repo(REPO)
    env = service_env(sim, tmp_path, queue_name=f"mx{uuid.uuid4().hex[:6]}", **backend)
    intake = Service(env, run_worker=False)
    workers = [start_worker(env), start_worker(env)]
    try:
        names = [f"test ({i})" for i in range(8)]
        green_base(sim, names)
        run = pr_run(sim)
        jobs = [sim.add_job(run, n, log=PYTEST_FAIL) for n in names]
        for job in jobs:
            headers, body = delivery("workflow_job", job_payload(sim, job))
            assert intake.post(headers, body).status_code == 202
        wait_until(lambda: sticky(sim) and "8 failed jobs" in sticky(sim)[0]["body"], timeout=60)
        # the check run is written right after the comment, by the same publish request
        wait_until(lambda: sim.checks_on(REPO, SHA), timeout=30)
        counts = intake.svc.store.counts
        wait_until(lambda: counts().get("queued", 0) == 0 and counts().get("running", 0) == 0, timeout=60)
        assert len(sticky(sim)) == 1
        assert len(sim.checks_on(REPO, SHA)) == 1
        assert GREEN  # baseline logs were served from the simulator
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                w.kill()
        intake.close()
        sim.stop()
