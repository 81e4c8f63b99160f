"""Intake: signature verification, parsing of real example payloads, idempotency, 503 on persist failure."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from github_sim import SECRET, delivery, fixture

from webhooks.app import create_app
from webhooks.github import (
    MAX_BODY_BYTES,
    DeliveryRejected,
    Ignored,
    InstallationChanged,
    SignatureError,
    WorkflowJobCompleted,
    WorkflowRunCompleted,
    parse_github_delivery,
    sign,
)
from webhooks.queue import Queue
from webhooks.store import Store

# --- pure parsing ---------------------------------------------------------------------------------


def _job_payload() -> dict[str, Any]:
    p = fixture("workflow_job.completed.json")
    p["installation"] = {"id": 7, "node_id": "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNw=="}
    return p


def test_githubkit_model_reads_the_real_example_and_lenient_path_agrees() -> None:
    from webhooks.github import _typed

    payload = _job_payload()
    assert _typed("workflow_job", payload) is not None  # githubkit's model accepts the real example
    headers, body = delivery("workflow_job", payload, delivery_id="d-2")
    typed = parse_github_delivery(headers, body, SECRET)
    del payload["installation"]["node_id"]  # githubkit's model now refuses it: the fallback must agree
    assert _typed("workflow_job", payload) is None
    headers, body = delivery("workflow_job", payload, delivery_id="d-2")
    assert parse_github_delivery(headers, body, SECRET) == typed


def test_valid_delivery_parses_real_workflow_job_example() -> None:
    headers, body = delivery("workflow_job", _job_payload(), delivery_id="d-1")
    event = parse_github_delivery(headers, body, SECRET)
    assert isinstance(event, WorkflowJobCompleted)
    assert event.delivery_id == "d-1"
    assert event.repo == "Codertocat/Hello-World"
    assert event.job_id == 289782451 and event.run_id == 2202229078
    assert event.conclusion == "failure" and event.failed
    assert event.failed_step == "Run yarn run format-check"
    assert event.installation_id == 7


@pytest.mark.parametrize(
    "signature",
    [
        None,  # missing
        "sha1=" + "0" * 40,  # legacy SHA-1 only
        "sha256=xyz",  # malformed
        "sha256=" + "0" * 64,  # wrong
        "sha256=" + "A" * 64,  # upper-case hex is not what GitHub sends
    ],
)
def test_bad_signatures_are_rejected(signature: str | None) -> None:
    headers, body = delivery("workflow_job", _job_payload())
    del headers["X-Hub-Signature-256"]
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    headers["X-Hub-Signature"] = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    with pytest.raises(SignatureError):
        parse_github_delivery(headers, body, SECRET)


def test_body_is_not_parsed_before_it_verifies() -> None:
    body = b"{not json at all"
    headers = {
        "X-GitHub-Event": "workflow_job",
        "X-GitHub-Delivery": "x",
        "X-Hub-Signature-256": "sha256=" + "1" * 64,
    }
    with pytest.raises(SignatureError):  # a JSON error would mean we parsed first
        parse_github_delivery(headers, body, SECRET)
    headers["X-Hub-Signature-256"] = sign(SECRET, body)
    with pytest.raises(DeliveryRejected) as info:
        parse_github_delivery(headers, body, SECRET)
    assert info.value.status_code == 400


def test_signature_uses_raw_bytes_not_reserialized_json() -> None:
    payload = _job_payload()
    body = json.dumps(payload, indent=3).encode()  # whitespace GitHub might send differently
    headers = {
        "X-GitHub-Event": "workflow_job",
        "X-GitHub-Delivery": "x",
        "X-Hub-Signature-256": sign(SECRET, body),
    }
    assert isinstance(parse_github_delivery(headers, body, SECRET), WorkflowJobCompleted)


def test_workflow_run_example_falls_back_when_githubkit_model_rejects_it() -> None:
    payload = fixture("workflow_run.completed.json")  # lacks `actor` and `path`: githubkit's model refuses it
    headers, body = delivery("workflow_run", payload)
    event = parse_github_delivery(headers, body, SECRET)
    assert isinstance(event, WorkflowRunCompleted)
    assert event.run_id == payload["workflow_run"]["id"]
    assert event.head_sha == payload["workflow_run"]["head_sha"]


def test_installation_events_and_unknown_events() -> None:
    headers, body = delivery("installation", fixture("installation.created.json"))
    assert isinstance(parse_github_delivery(headers, body, SECRET), InstallationChanged)
    headers, body = delivery("installation_repositories", fixture("installation_repositories.added.json"))
    event = parse_github_delivery(headers, body, SECRET)
    assert isinstance(event, InstallationChanged) and event.repos_added
    headers, body = delivery("ping", fixture("ping.json"))
    assert isinstance(parse_github_delivery(headers, body, SECRET), Ignored)
    headers, body = delivery("workflow_job", fixture("workflow_job.in_progress.json"))
    assert isinstance(parse_github_delivery(headers, body, SECRET), Ignored)


# --- HTTP intake --------------------------------------------------------------------------------------


class BrokenQueue(Queue):
    def enqueue(self, delivery_id: str) -> None:
        raise ConnectionError("queue storage down")


@pytest.fixture
def intake(tmp_path: Path) -> Any:
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    queue = Queue.sqlite(tmp_path / "queue.db")
    app = create_app(store=store, queue=queue, secret=SECRET)
    with TestClient(app) as client:
        yield client, store, queue


def test_intake_accepts_persists_and_dedupes(intake: Any) -> None:
    client, store, queue = intake
    headers, body = delivery("workflow_job", _job_payload())
    r = client.post("/webhooks/github", headers=headers, content=body)
    assert r.status_code == 202
    assert store.delivery(headers["X-GitHub-Delivery"])["status"] == "queued"
    assert queue.depth() == 1
    again = client.post("/webhooks/github", headers=headers, content=body)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert queue.depth() == 1


def test_redelivery_of_a_failed_delivery_is_processed_again(intake: Any) -> None:
    client, store, _queue = intake
    headers, body = delivery("workflow_job", _job_payload())
    assert client.post("/webhooks/github", headers=headers, content=body).status_code == 202
    claimed = store.claim(headers["X-GitHub-Delivery"], lease_s=30)
    assert claimed is not None
    # in progress: a duplicate is dropped
    assert client.post("/webhooks/github", headers=headers, content=body).json()["status"] == "duplicate"
    store.finish(claimed, ok=False, error="boom")
    r = client.post("/webhooks/github", headers=headers, content=body)
    assert r.status_code == 202
    assert store.delivery(headers["X-GitHub-Delivery"])["status"] == "queued"


def test_concurrent_duplicates_are_admitted_once(intake: Any) -> None:
    client, _store, queue = intake
    headers, body = delivery("workflow_job", _job_payload())
    codes: list[int] = []

    def send() -> None:
        codes.append(client.post("/webhooks/github", headers=headers, content=body).status_code)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 7 + [202]
    assert queue.depth() == 1


def test_rejections_and_ignored(intake: Any) -> None:
    client, _store, _queue = intake
    headers, body = delivery("workflow_job", _job_payload(), secret="wrong")
    assert client.post("/webhooks/github", headers=headers, content=body).status_code == 401
    headers, body = delivery("ping", fixture("ping.json"))
    assert client.post("/webhooks/github", headers=headers, content=body).status_code == 200
    big = b"x" * (MAX_BODY_BYTES + 1)
    r = client.post("/webhooks/github", headers={"X-GitHub-Event": "workflow_job"}, content=big)
    assert r.status_code == 413


def test_persist_failure_is_503_and_a_retry_is_not_a_duplicate(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    broken = BrokenQueue.sqlite(tmp_path / "queue.db")
    headers, body = delivery("workflow_job", _job_payload())
    with TestClient(create_app(store=store, queue=broken, secret=SECRET)) as client:
        assert client.post("/webhooks/github", headers=headers, content=body).status_code == 503
    good = Queue.sqlite(tmp_path / "queue.db")
    with TestClient(create_app(store=store, queue=good, secret=SECRET)) as client:
        assert client.post("/webhooks/github", headers=headers, content=body).status_code == 202


def test_health_ready_metrics(intake: Any) -> None:
    client, _s, _q = intake
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "queue": "ok"}
    headers, body = delivery("workflow_job", _job_payload())
    client.post("/webhooks/github", headers=headers, content=body)
    text = client.get("/metrics").text
    assert 'cimedic_webhook_deliveries_total{event="workflow_job",outcome="accepted"}' in text
    assert 'cimedic_queue_depth{status="queued"}' in text


def test_readyz_reports_unreachable_database(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    queue = Queue.sqlite(tmp_path / "queue.db")

    def down() -> None:
        raise ConnectionError("down")

    store.ping = down  # type: ignore[method-assign]
    with TestClient(create_app(store=store, queue=queue, secret=SECRET)) as client:
        r = client.get("/readyz")
    assert r.status_code == 503 and r.json()["checks"]["database"].startswith("error")


def test_store_lease_expiry_lets_another_worker_claim(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    did = str(uuid.uuid4())
    assert store.admit(did, "workflow_job", "{}") == "new"
    first = store.claim(did, lease_s=0.2)
    assert first is not None
    assert store.claim(did, lease_s=0.2) is None  # leased
    import time

    time.sleep(0.3)
    assert store.due() == [did]
    store.mark_requeued(did)
    second = store.claim(did, lease_s=5)
    assert second is not None and second.attempts == 2
    store.finish(first, ok=True)  # the dead worker's late finish changes nothing
    assert store.delivery(did)["status"] == "running"
    store.finish(second, ok=True)
    assert store.delivery(did)["status"] == "done"


# --- hostile and unusual requests (issue 10, items 5-7) --------------------------------------------


def _series(text: str, name: str) -> list[str]:
    return [line.rsplit(" ", 1)[0] for line in text.splitlines() if line.startswith(name + "{")]


def test_unsigned_requests_with_random_events_add_no_metric_series(intake: Any) -> None:
    client, _store, _queue = intake
    before = _series(client.get("/metrics").text, "cimedic_webhook_deliveries_total")
    events = [uuid.uuid4().hex for _ in range(300)]
    for name in events:
        r = client.post("/webhooks/github", headers={"X-GitHub-Event": name}, content=b"{}")
        assert r.status_code == 401
    text = client.get("/metrics").text
    after = _series(text, "cimedic_webhook_deliveries_total")
    assert not any(name in text for name in events)
    assert set(after) - set(before) <= {
        'cimedic_webhook_deliveries_total{event="other",outcome="rejected"}',
        'cimedic_webhook_deliveries_created{event="other",outcome="rejected"}',
    }


def test_oversized_headers_are_431_and_the_body_is_not_read(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    queue = Queue.sqlite(tmp_path / "queue.db")
    read: list[bytes] = []

    async def recorder(scope: Any, receive: Any, send: Any) -> None:
        async def watched() -> Any:
            message = await receive()
            read.append(message.get("body", b""))
            return message

        await app(scope, watched if scope["type"] == "http" else receive, send)

    app = create_app(store=store, queue=queue, secret=SECRET)
    headers, body = delivery("workflow_job", _job_payload())
    with TestClient(recorder) as client:  # type: ignore[arg-type]
        r = client.post("/webhooks/github", headers={**headers, "X-Padding": "a" * 64 * 1024}, content=body)
        assert r.status_code == 431
        assert read == []
        r = client.post("/webhooks/github", headers=headers, content=body)  # ordinary headers pass
        assert r.status_code == 202


def test_signed_deeply_nested_body_is_400_not_500(intake: Any) -> None:
    client, _store, _queue = intake
    depth = 200_000  # 400 KB of brackets
    for raw in (
        b"[" * depth + b"]" * depth,
        b'{"action": "completed", "x": ' + b"[" * depth + b"]" * depth + b"}",
    ):
        headers, _ = delivery("workflow_job", {})
        headers["X-Hub-Signature-256"] = sign(SECRET, raw)
        r = client.post("/webhooks/github", headers=headers, content=raw)
        assert r.status_code == 400, r.text
    # nested just below json's limit, inside the object the models read
    payload = _job_payload()
    inner: Any = "leaf"
    for _ in range(900):
        inner = [inner]
    payload["workflow_job"]["steps"] = inner
    headers, body = delivery("workflow_job", payload)
    assert client.post("/webhooks/github", headers=headers, content=body).status_code in (202, 400)


def test_repository_webhook_form_encoded_body_is_accepted(intake: Any) -> None:
    from urllib.parse import urlencode

    client, store, _queue = intake
    payload = _job_payload()
    form = urlencode({"payload": json.dumps(payload)}).encode()
    headers, _ = delivery("workflow_job", payload)
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    headers["X-Hub-Signature-256"] = sign(SECRET, form)  # GitHub signs the body as sent: the form
    r = client.post("/webhooks/github", headers=headers, content=form)
    assert r.status_code == 202, r.text
    json_headers, json_body = delivery("workflow_job", payload, delivery_id=headers["X-GitHub-Delivery"])
    assert parse_github_delivery(headers, form, SECRET) == parse_github_delivery(
        json_headers, json_body, SECRET
    )
    assert store.delivery(headers["X-GitHub-Delivery"])["status"] == "queued"
    # signed JSON sent as a form (or a form signed as its decoded JSON) is refused, not guessed at
    headers["X-Hub-Signature-256"] = sign(SECRET, json_body)
    assert client.post("/webhooks/github", headers=headers, content=form).status_code == 401
    bad = b"payload=%7Bnot-json"
    headers["X-Hub-Signature-256"] = sign(SECRET, bad)
    assert client.post("/webhooks/github", headers=headers, content=bad).status_code == 400


def test_a_16_mb_header_sent_to_the_real_server_is_431(tmp_path: Path) -> None:
    import socket
    import time

    import uvicorn
    from github_sim import free_port, wait_until

    store = Store.from_url(f"sqlite:///{tmp_path / 'db.sqlite'}")
    app = create_app(store=store, queue=Queue.sqlite(tmp_path / "queue.db"), secret=SECRET)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=10)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            pad = b"a" * (16 * 1024 * 1024)
            sock.sendall(b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nX-Pad: " + pad + b"\r\n")
            sock.sendall(b"Content-Length: 2\r\n\r\n{}")
            deadline = time.monotonic() + 30
            answer = b""
            while b"\r\n" not in answer and time.monotonic() < deadline:
                answer += sock.recv(100)
        assert answer.startswith(b"HTTP/1.1 431 ")
    finally:
        server.should_exit = True
        thread.join(10)
