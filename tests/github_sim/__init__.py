"""Test harness for the GitHub App: the simulator, signed deliveries, and the service on a real port."""

from __future__ import annotations

import copy
import functools
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .server import GitHubSim

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github"
SECRET = "test-webhook-secret"
APP_ID = 4242

__all__ = ["APP_ID", "SECRET", "GitHubSim", "Service", "delivery", "keypair", "wait_until"]


@functools.cache
def keypair() -> tuple[str, str]:
    """(private PEM, public PEM) of the test App; made once per session, never stored."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def new_sim(**kwargs: Any) -> GitHubSim:
    return GitHubSim(app_id=APP_ID, public_key_pem=keypair()[1], **kwargs).start()


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def job_payload(sim: GitHubSim, job: dict[str, Any], *, installation_id: int = 1) -> dict[str, Any]:
    """The real `workflow_job` example from @octokit/webhooks-examples with this job's fields."""
    payload = copy.deepcopy(fixture("workflow_job.completed.json"))
    run = sim.runs[job["run_id"]]
    repo = sim.repos[run["_repo"]]
    payload["workflow_job"].update({k: v for k, v in job.items() if k in payload["workflow_job"]})
    payload["repository"].update(
        {
            "id": repo["id"],
            "name": repo["name"],
            "full_name": repo["full_name"],
            "default_branch": repo["default_branch"],
        }
    )
    payload["installation"] = {"id": installation_id, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uMQ=="}
    return payload


def run_payload(sim: GitHubSim, run: dict[str, Any], *, installation_id: int = 1) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("workflow_run.completed.json"))
    repo = sim.repos[run["_repo"]]
    payload["workflow_run"].update({k: v for k, v in run.items() if not k.startswith("_")})
    payload["repository"].update(
        {"id": repo["id"], "full_name": repo["full_name"], "default_branch": repo["default_branch"]}
    )
    payload["installation"] = {"id": installation_id}
    return payload


def delivery(
    event: str, payload: dict[str, Any], *, delivery_id: str | None = None, secret: str = SECRET
) -> tuple[dict[str, str], bytes]:
    from webhooks.github import sign

    body = json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": sign(secret, body),
        "User-Agent": "GitHub-Hookshot/sim",
    }
    return headers, body


def wait_until(cond: Callable[[], Any], timeout: float = 60.0, every: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(
    sim: GitHubSim,
    home: Path,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    queue_name: str | None = None,
    **extra: str,
) -> dict[str, str]:
    env = {
        "CIMEDIC_HOME": str(home),
        "CIMEDIC_GITHUB_APP_ID": str(APP_ID),
        "CIMEDIC_GITHUB_PRIVATE_KEY": keypair()[0],
        "CIMEDIC_GITHUB_WEBHOOK_SECRET": SECRET,
        "CIMEDIC_GITHUB_API_URL": sim.url,
        "CIMEDIC_LEASE_SECONDS": "3",
        "CIMEDIC_RETRY_BASE_SECONDS": "0.3",
        "CIMEDIC_GITHUB_RETRY_BASE_SECONDS": "0.05",
        "CIMEDIC_GITHUB_TIMEOUT_SECONDS": "2",
        "CIMEDIC_WORKER_THREADS": "4",
        "CIMEDIC_PUBLISH_DELAY_SECONDS": "0.3",
        "CIMEDIC_QUEUE_NAME": queue_name or f"t{uuid.uuid4().hex[:8]}",
    }
    if database_url:
        env["CIMEDIC_DATABASE_URL"] = database_url
    if redis_url:
        env["CIMEDIC_REDIS_URL"] = redis_url
    env.update(extra)
    return env


@contextmanager
def patched_env(env: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Service:
    """CI Medic's intake (and, unless `run_worker=False`, its workers) on a real 127.0.0.1 port."""

    def __init__(self, env: dict[str, str], *, run_worker: bool = True) -> None:
        from agent.config import Settings
        from webhooks.service import build_service

        with patched_env(env):
            self.settings = Settings()
        self.svc = build_service(self.settings)
        self.app = self.svc.app(run_worker=run_worker)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=10)
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def post(self, headers: dict[str, str], body: bytes) -> httpx.Response:
        return self.http.post("/webhooks/github", headers=headers, content=body)

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(10)
        self.svc.queue.stop()
        if self.svc.inbox is not None:
            self.svc.inbox.close()
        self.svc.store.engine.dispose()
