"""Worker heartbeats (webhooks/heartbeat.py) on SQLite and PostgreSQL: what /readyz reads about workers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_kb_support import postgres_database

from webhooks.heartbeat import FORGET_AFTER_S, MISSED_BEATS, Beater, Heartbeats, WorkersUnavailable
from webhooks.store import make_engine


@pytest.fixture(params=["sqlite", "postgresql"])
def heartbeats(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Heartbeats]:
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'cimedic.db'}")
        yield Heartbeats(engine)
        engine.dispose()
        return
    with postgres_database() as url:
        engine = make_engine(url)
        yield Heartbeats(engine)
        engine.dispose()


def test_no_worker_ever_is_unavailable(heartbeats: Heartbeats) -> None:
    with pytest.raises(WorkersUnavailable):
        heartbeats.check()


def test_a_worker_is_fresh_until_it_misses_its_beats(heartbeats: Heartbeats) -> None:
    now = 1_000_000.0
    heartbeats.beat("host:1", every_s=5.0, now=now)
    heartbeats.beat("host:2", every_s=0.5, now=now)
    assert heartbeats.fresh(now=now + 2.0) == ["host:1"]  # host:2 (every 0.5 s) missed 4 beats
    assert heartbeats.fresh(now=now + MISSED_BEATS * 5.0 + 0.1) == []
    heartbeats.beat("host:2", every_s=0.5, now=now + 20)  # beats again: the same row, updated
    assert heartbeats.fresh(now=now + 20.5) == ["host:2"]
    heartbeats.forget("host:2")
    assert heartbeats.fresh(now=now + 20.5) == []


def test_rows_of_long_gone_workers_are_deleted_by_the_living(heartbeats: Heartbeats) -> None:
    heartbeats.beat("gone:1", every_s=5.0, now=1000.0)
    heartbeats.beat("alive:2", every_s=5.0, now=1000.0 + FORGET_AFTER_S + 1)
    with heartbeats.engine.connect() as conn:
        from webhooks.heartbeat import worker_heartbeats

        assert [r.worker for r in conn.execute(worker_heartbeats.select())] == ["alive:2"]


def test_beater_beats_until_stopped_and_then_removes_its_row(heartbeats: Heartbeats) -> None:
    beater = Beater(heartbeats, every_s=0.05, worker="host:beater").start()
    try:
        deadline = time.monotonic() + 10
        while heartbeats.fresh() != ["host:beater"] and time.monotonic() < deadline:
            time.sleep(0.02)
        heartbeats.check()
    finally:
        beater.stop()
    with pytest.raises(WorkersUnavailable):
        heartbeats.check()
