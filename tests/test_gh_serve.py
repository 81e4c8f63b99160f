"""`cimedic serve` as users run it: the intake plus a child worker process, and the metrics of both.

Everything runs for real: the command in its own process on a free port, the GitHub simulator, SQLite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from github_sim import GitHubSim, Service, delivery, free_port, job_payload, new_sim, service_env, wait_until
from test_gh_e2e import PYTEST_FAIL, REPO, green_base, pr_run, sticky

from webhooks.store import Store

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-c", "from agent.cli import main; main()"]


@pytest.fixture
def sim() -> Iterator[GitHubSim]:
    s = new_sim()
    s.add_repo(REPO)
    yield s
    s.stop()


def _up(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _metric(text: str, line_start: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(line_start))


def test_serve_runs_a_worker_process_shows_its_metrics_and_stops_it(sim: GitHubSim, tmp_path: Path) -> None:
    env = {**os.environ, **service_env(sim, tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with (tmp_path / "serve.log").open("wb") as err:
        serve = subprocess.Popen(
            [*CLI, "serve", "--no-knowledge", "--port", str(port), "--log-level", "warning"],
            env=env,
            stderr=err,
        )
    try:
        wait_until(lambda: _up(url + "/healthz"), timeout=60, every=0.2)
        green_base(sim, ["test"])
        job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
        headers, body = delivery("workflow_job", job_payload(sim, job), delivery_id="serve-1")
        assert httpx.post(url + "/webhooks/github", headers=headers, content=body).status_code == 202
        wait_until(lambda: sticky(sim), timeout=60)

        store = Store.from_url(f"sqlite:///{tmp_path / 'cimedic.db'}")
        wait_until(lambda: store.delivery("serve-1")["status"] == "done")
        worker_pid = int(store.delivery("serve-1")["owner"].split(":")[1])
        store.engine.dispose()
        assert worker_pid != serve.pid  # analysed in the child process
        # The child's counters reach the intake's /metrics (prometheus_client multiprocess mode).
        done = 'cimedic_jobs_total{kind="workflow_job",outcome="done"}'
        wait_until(lambda: _metric(httpx.get(url + "/metrics").text, done) == 1)
        text = httpx.get(url + "/metrics").text
        assert _metric(text, "cimedic_analysis_seconds_count") == 1
        assert _metric(text, 'cimedic_webhook_deliveries_total{event="workflow_job",outcome="accepted"}') == 1
        assert _metric(text, "cimedic_github_api_calls_total") >= 5
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
    wait_until(lambda: not _alive(worker_pid), timeout=30)  # SIGTERM to serve stops its worker too


def test_a_worker_serves_its_own_metrics(sim: GitHubSim, tmp_path: Path) -> None:
    env = service_env(sim, tmp_path)
    intake = Service(env, run_worker=False)
    port = free_port()
    full = {**os.environ, **env}
    full.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cmd = [*CLI, "worker", "--no-knowledge", "--log-level", "warning", "--metrics-port", str(port)]
    worker = subprocess.Popen(cmd, env=full, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        green_base(sim, ["test"])
        job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
        headers, body = delivery("workflow_job", job_payload(sim, job))
        assert intake.post(headers, body).status_code == 202
        wait_until(lambda: sticky(sim), timeout=60)
        metrics = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: _up(metrics), timeout=30)
        done = 'cimedic_jobs_total{kind="workflow_job",outcome="done"}'
        wait_until(lambda: _metric(httpx.get(metrics).text, done) == 1)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        intake.close()


def test_metrics_directories_of_killed_serve_processes_are_removed(tmp_path: Path) -> None:
    from agent.cli.service_cmd import _remove_orphaned_metrics

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    orphan = tmp_path / f"cimedic-metrics-{gone.pid}-abc"
    live = tmp_path / f"cimedic-metrics-{os.getpid()}-def"
    other = tmp_path / "cimedic-metrics-x"
    for d in (orphan, live, other):
        d.mkdir()
        (d / "counter_1.db").write_bytes(b"")
    _remove_orphaned_metrics(tmp_path)
    assert not orphan.exists() and live.exists() and other.exists()


def _workers(db: Path) -> dict[int, float]:
    """pid -> last beat of the heartbeat rows in `db` (webhooks/heartbeat.py)."""
    from webhooks.heartbeat import Heartbeats, worker_heartbeats

    store = Store.from_url(f"sqlite:///{db}")
    try:
        Heartbeats(store.engine)
        with store.engine.connect() as conn:
            rows = conn.execute(worker_heartbeats.select()).all()
        return {int(r.worker.rsplit(":", 1)[1]): r.beat_at for r in rows}
    finally:
        store.engine.dispose()


def _ready(url: str) -> int:
    try:
        return httpx.get(url + "/readyz", timeout=5).status_code
    except httpx.HTTPError:
        return 0


# Issue 10 item 2: after `kill -9` of the child, the intake still answered 202, /readyz stayed 200, and
# nothing was processed until someone restarted `serve`.
def test_serve_restarts_a_killed_worker_process(sim: GitHubSim, tmp_path: Path) -> None:
    env = {**os.environ, **service_env(sim, tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = tmp_path / "cimedic.db"
    with (tmp_path / "serve.log").open("wb") as err:
        serve = subprocess.Popen(
            [*CLI, "serve", "--no-knowledge", "--port", str(port), "--log-level", "warning"],
            env=env,
            stderr=err,
        )
    try:
        wait_until(lambda: _ready(url) == 200, timeout=60, every=0.2)  # ready only once a worker beats
        (first,) = _workers(db)
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: not _alive(first), timeout=10)
        wait_until(lambda: set(_workers(db)) - {first}, timeout=60, every=0.2)
        green_base(sim, ["test"])
        job = sim.add_job(pr_run(sim), "test", log=PYTEST_FAIL)
        headers, body = delivery("workflow_job", job_payload(sim, job), delivery_id="after-kill")
        assert httpx.post(url + "/webhooks/github", headers=headers, content=body).status_code == 202
        wait_until(lambda: sticky(sim), timeout=60)
        assert _ready(url) == 200
        assert b"restarting in" in (tmp_path / "serve.log").read_bytes()
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
    assert not any(_alive(pid) for pid in _workers(db))


def test_readyz_reports_workers_that_stopped_beating(sim: GitHubSim, tmp_path: Path) -> None:
    env = {**os.environ, **service_env(sim, tmp_path)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    serve = subprocess.Popen(
        [*CLI, "serve", "--no-worker", "--port", str(port), "--log-level", "warning"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    worker_cmd = [*CLI, "worker", "--no-knowledge", "--log-level", "warning", "--heartbeat-seconds", "0.5"]
    worker = None
    try:
        wait_until(lambda: _up(url + "/healthz"), timeout=60, every=0.2)
        r = httpx.get(url + "/readyz")
        assert r.status_code == 503 and r.json()["checks"]["workers"].startswith("error: no worker heartbeat")
        assert r.json()["checks"]["database"] == "ok"
        worker = subprocess.Popen(worker_cmd, env=env, stderr=subprocess.DEVNULL)
        wait_until(lambda: _ready(url) == 200, timeout=60, every=0.2)
        worker.kill()  # SIGKILL: no chance to say goodbye
        worker.wait(10)
        wait_until(lambda: _ready(url) == 503, timeout=30, every=0.2)
        worker = subprocess.Popen(worker_cmd, env=env, stderr=subprocess.DEVNULL)
        wait_until(lambda: _ready(url) == 200, timeout=60, every=0.2)
        worker.send_signal(signal.SIGTERM)  # a clean stop removes its row at once
        worker.wait(30)
        assert _ready(url) == 503
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        serve.send_signal(signal.SIGTERM)
        serve.wait(60)
