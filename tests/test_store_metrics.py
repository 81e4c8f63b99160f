"""What the store reports to /metrics counts what is really waiting."""

from __future__ import annotations

import time
from pathlib import Path

from webhooks.store import Store


def test_a_deferred_delivery_is_not_backlog(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    # Deferred for a primary rate limit that resets in five minutes: nothing is late yet.
    store.admit("d1", "workflow_job", "{}", not_before=time.time() + 300)
    assert store.oldest_queued_age() == 0.0
    store.admit("d2", "workflow_job", "{}")
    time.sleep(0.2)
    assert 0.15 < store.oldest_queued_age() < 5


def test_a_retry_waits_from_when_it_became_due(tmp_path: Path) -> None:
    store = Store.from_url(f"sqlite:///{tmp_path / 'c.db'}")
    store.admit("d1", "workflow_job", "{}", not_before=time.time() + 0.3)
    time.sleep(0.5)
    assert store.oldest_queued_age() < 0.5
