"""A short database outage loses no message: a worker that takes one while PostgreSQL is unreachable keeps
it and runs it as soon as the database is back (before, huey logged the error and dropped the message, and
the delivery waited for the 15-minute stale rule)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from github_sim import APP_ID, keypair, wait_until
from tcp_proxy import TcpProxy
from test_gh_workers import _redis_up
from test_kb_support import postgres_database

from actions.audit import AuditLog
from actions.github_api import GitHubApi
from webhooks.github import InstallationChanged
from webhooks.queue import Queue
from webhooks.store import Store, make_engine
from webhooks.worker import Worker, WorkerSettings

pytestmark = pytest.mark.slow


def test_a_message_taken_while_the_database_is_down_runs_when_it_is_back(tmp_path: Path) -> None:
    if not _redis_up():
        pytest.skip("Redis is not listening on 127.0.0.1:6379")
    with postgres_database() as url:
        proxy = TcpProxy(("127.0.0.1", 5432))
        proxy.up()
        engine = make_engine(url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}"))
        store = Store(engine)
        queue = Queue.redis("redis://127.0.0.1:6379/0", f"outage{uuid.uuid4().hex[:6]}")
        api = GitHubApi(base_url="http://127.0.0.1:9", app_id=APP_ID, private_key=keypair()[0])
        worker = Worker(
            store=store, queue=queue, api=api, audit=AuditLog(engine), settings=WorkerSettings(lease_s=60)
        )
        event = InstallationChanged(
            delivery_id="d-outage", installation_id=77, repo="octo/app", action="created", account="octo"
        )
        assert store.admit(event.delivery_id, event.kind, event.model_dump_json()) == "new"
        proxy.down()
        queue.enqueue(event.delivery_id)
        worker.start(threads=1, reap_every_s=3600)  # no reaper: the message itself must survive
        try:
            wait_until(lambda: queue.depth() == 0, timeout=10)  # taken while the database is unreachable
            time.sleep(2)
            proxy.up()
            wait_until(lambda: (store.delivery("d-outage") or {}).get("status") == "done", timeout=30)
            assert store.installation_allows(77, "octo/app")
        finally:
            queue.stop()
            proxy.down()
            engine.dispose()
