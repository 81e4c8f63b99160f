"""The intake's inbox (webhooks/inbox.py): exactly-once admission, duplicates, redelivery, pruning, HTTP."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from github_sim import SECRET, delivery, fixture

from webhooks import inbox as inbox_module
from webhooks.app import create_app
from webhooks.inbox import Inbox
from webhooks.queue import Queue
from webhooks.store import Store


def _store(tmp_path: Path) -> Store:
    return Store.from_url(f"sqlite:///{tmp_path / 'cimedic.db'}")


def _drain(queue: Queue) -> list[str]:
    """Every delivery id in the queue, in order, taken out of it."""
    taken: list[str] = []
    queue.set_handler(taken.append)
    while queue.run_once():
        pass
    return taken


def test_the_inbox_lives_beside_a_sqlite_database_only(tmp_path: Path) -> None:
    inbox = Inbox.beside(_store(tmp_path))
    assert inbox is not None and inbox.path == tmp_path / "cimedic.inbox.db"
    assert Inbox.beside(Store.from_url("sqlite://")) is None


def test_accept_pump_duplicate_and_redelivery_after_failure(tmp_path: Path) -> None:
    store = _store(tmp_path)
    queue = Queue.sqlite(tmp_path / "queue.db")
    inbox = Inbox(tmp_path / "inbox.db", store)

    assert inbox.accept("d1", "workflow_job", "{}") == "new"
    assert inbox.accept("d1", "workflow_job", "{}") == "duplicate"  # waiting in the inbox
    assert store.delivery("d1") is None and inbox.waiting()[0] == 1
    assert inbox.pump(queue) == 1
    assert inbox.waiting()[0] == 0
    assert store.delivery("d1")["status"] == "queued"
    assert _drain(queue) == ["d1"]
    assert inbox.accept("d1", "workflow_job", "{}") == "duplicate"  # queued in the table

    claimed = store.claim("d1", lease_s=30)
    assert claimed is not None
    store.finish(claimed, ok=False, error="boom")
    assert inbox.accept("d1", "workflow_job", '{"again": 1}') == "retry"  # GitHub redelivers the same GUID
    assert inbox.pump(queue) == 1
    row = store.delivery("d1")
    assert row["status"] == "queued" and row["payload"] == '{"again": 1}'
    assert _drain(queue) == ["d1"]
    assert inbox.pump(queue) == 0 and _drain(queue) == []


def test_two_pumps_admit_each_entry_once(tmp_path: Path) -> None:
    """Two worker processes each open the inbox and pump it; every accepted delivery is enqueued once."""
    store = _store(tmp_path)
    queue = Queue.sqlite(tmp_path / "queue.db")
    intake = Inbox(tmp_path / "inbox.db", store)
    pumps = [Inbox(tmp_path / "inbox.db", _store(tmp_path)) for _ in range(2)]
    ids = [f"d{i}" for i in range(600)]
    done = threading.Event()

    def pump(p: Inbox) -> None:
        while not done.is_set() or p.waiting()[0]:
            p.pump(queue, limit=17)

    threads = [threading.Thread(target=pump, args=(p,)) for p in pumps]
    for t in threads:
        t.start()
    for i in ids:
        assert intake.accept(i, "workflow_job", "{}") == "new"
    done.set()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert sorted(_drain(queue)) == sorted(ids)
    assert store.counts() == {"queued": len(ids)}


def test_a_new_inbox_file_does_not_inherit_the_old_cursor(tmp_path: Path) -> None:
    store = _store(tmp_path)
    queue = Queue.sqlite(tmp_path / "queue.db")
    first = Inbox(tmp_path / "inbox.db", store)
    for i in range(3):
        first.accept(f"old{i}", "workflow_job", "{}")
    first.pump(queue)
    first.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"inbox.db{suffix}").unlink(missing_ok=True)
    second = Inbox(tmp_path / "inbox.db", store)
    assert second.inbox_id != first.inbox_id
    assert second.accept("new0", "workflow_job", "{}") == "new"  # seq 1 again, below the old cursor
    assert second.pump(queue) == 1
    assert store.delivery("new0")["status"] == "queued"


def test_admitted_entries_are_pruned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbox_module, "PRUNE_EVERY", 4)
    store = _store(tmp_path)
    queue = Queue.sqlite(tmp_path / "queue.db")
    inbox = Inbox(tmp_path / "inbox.db", store)
    for i in range(3):
        inbox.accept(f"a{i}", "workflow_job", "{}")
    inbox.pump(queue)
    inbox.accept("a3", "workflow_job", "{}")  # the 4th append deletes what the cursor passed
    rows = inbox._reader.execute("SELECT delivery_id FROM inbox").fetchall()
    assert rows == [("a3",)]
    assert inbox.pump(queue) == 1 and store.delivery("a3") is not None


def _job_payload() -> dict[str, Any]:
    p = fixture("workflow_job.completed.json")
    p["installation"] = {"id": 7}
    return p


def test_http_intake_writes_the_inbox_and_reports_it(tmp_path: Path) -> None:
    store = _store(tmp_path)
    queue = Queue.sqlite(tmp_path / "queue.db")
    inbox = Inbox.beside(store)
    assert inbox is not None
    with TestClient(create_app(store=store, queue=queue, secret=SECRET, inbox=inbox)) as client:
        headers, body = delivery("workflow_job", _job_payload())
        assert client.post("/webhooks/github", headers=headers, content=body).status_code == 202
        again = client.post("/webhooks/github", headers=headers, content=body)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        assert queue.depth() == 0  # nothing of the worker's was written by the intake
        assert 'cimedic_queue_depth{status="queued"} 1.0' in client.get("/metrics").text
        assert client.get("/readyz").json()["checks"]["inbox"] == "ok"
        assert inbox.pump(queue) == 1
        assert store.delivery(headers["X-GitHub-Delivery"])["event"] == "workflow_job"
        assert _drain(queue) == [headers["X-GitHub-Delivery"]]


def test_an_inbox_behind_the_cursor_still_gets_its_new_entries_pumped(tmp_path: Path) -> None:
    """The inbox lost its last entries while cimedic.db kept the cursor past them (power loss with
    synchronous=NORMAL, or a restored copy): new entries must get numbers above the cursor."""
    store = _store(tmp_path)
    queue = Queue.sqlite(tmp_path / "queue.db")
    inbox = Inbox(tmp_path / "inbox.db", store)
    for i in range(3):
        inbox.accept(f"old{i}", "workflow_job", "{}")
    assert inbox.pump(queue) == 3 and store.inbox_cursor(inbox.inbox_id) == 3
    inbox._writer.execute("DELETE FROM inbox")
    inbox._writer.execute("UPDATE sqlite_sequence SET seq = 0 WHERE name = 'inbox'")
    for i in range(2):
        assert inbox.accept(f"new{i}", "workflow_job", "{}") == "new"
    assert inbox.waiting()[0] == 2
    assert inbox.pump(queue) == 2
    assert store.delivery("new0")["status"] == store.delivery("new1")["status"] == "queued"


class FlakyQueue(Queue):
    """The real SQLite queue, whose storage fails for the first `failures` enqueues."""

    failures = 2

    def enqueue(self, delivery_id: str, *, priority: int = 0) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("disk I/O error")
        super().enqueue(delivery_id, priority=priority)


def test_admitted_entries_whose_enqueue_failed_are_left_to_the_reaper(tmp_path: Path) -> None:
    store = _store(tmp_path)
    queue = FlakyQueue.sqlite(tmp_path / "queue.db")
    inbox = Inbox(tmp_path / "inbox.db", store)
    for i in range(4):
        inbox.accept(f"d{i}", "workflow_job", "{}")
    assert inbox.pump(queue) == 4
    assert _drain(queue) == ["d2", "d3"]  # the others' enqueue failed
    assert sorted(store.due()) == ["d0", "d1"]  # the reaper's next pass enqueues them


def test_intake_and_pump_follow_an_inbox_file_that_was_deleted_under_them(tmp_path: Path) -> None:
    store = _store(tmp_path)
    queue = Queue.sqlite(tmp_path / "queue.db")
    intake = Inbox(tmp_path / "inbox.db", store)
    pump = Inbox(tmp_path / "inbox.db", _store(tmp_path))  # a worker process's view of the same file
    intake.accept("before", "workflow_job", "{}")
    assert pump.pump(queue) == 1
    old_id = intake.inbox_id
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"inbox.db{suffix}").unlink(missing_ok=True)
    assert intake.accept("after", "workflow_job", "{}") == "new"  # written to the new file, not the old inode
    assert intake.inbox_id != old_id
    assert pump.pump(queue) == 1 and pump.inbox_id == intake.inbox_id
    assert _drain(queue) == ["before", "after"]
