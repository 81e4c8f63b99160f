"""Worker liveness: every worker process writes a heartbeat row; the intake's /readyz reads them.

A worker process killed with SIGKILL says nothing: the intake kept answering 202 and /readyz 200 while no
delivery was processed (issue 10). Each `cimedic worker` (a child of `cimedic serve`, or one started on its
own next to `serve --no-worker`) beats a row of `worker_heartbeats` in the service's database every few
seconds; /readyz reports the workers unavailable when no row is fresher than three of its own intervals. The
row carries its interval, so the intake needs no setting that must agree with the workers'.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from knowledge.sqlstore import migrate_database

log = logging.getLogger("cimedic.heartbeat")

metadata = sa.MetaData()
# Made by the one Alembic history (knowledge/migrations, 0004).
worker_heartbeats = sa.Table(
    "worker_heartbeats",
    metadata,
    sa.Column("worker", sa.String(120), primary_key=True),  # host:pid
    sa.Column("beat_at", sa.Float, nullable=False),
    sa.Column("every_s", sa.Float, nullable=False),
)

MISSED_BEATS = 3
"""A worker is stale after missing this many beats (one late beat under load is not an outage)."""
FORGET_AFTER_S = 24 * 3600.0
"""Rows of workers gone this long are deleted (by the beats of the living)."""


class WorkersUnavailable(Exception):
    """No worker has beaten recently."""


def worker_id() -> str:
    return f"{socket.gethostname()[:100]}:{os.getpid()}"


class Heartbeats:
    """The heartbeat rows of the workers sharing one database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        migrate_database(engine.url.render_as_string(hide_password=False))

    def beat(self, worker: str, every_s: float, now: float | None = None) -> None:
        now = time.time() if now is None else now
        t = worker_heartbeats
        with self.engine.begin() as conn:
            updated = conn.execute(
                t.update().where(t.c.worker == worker).values(beat_at=now, every_s=every_s)
            ).rowcount
            if not updated:
                conn.execute(t.insert().values(worker=worker, beat_at=now, every_s=every_s))
            conn.execute(t.delete().where(t.c.beat_at < now - FORGET_AFTER_S))

    def forget(self, worker: str) -> None:
        """A worker stopping cleanly removes its row (it is not an outage)."""
        with self.engine.begin() as conn:
            conn.execute(worker_heartbeats.delete().where(worker_heartbeats.c.worker == worker))

    def fresh(self, now: float | None = None) -> list[str]:
        """The workers whose last beat is within `MISSED_BEATS` of their intervals."""
        now = time.time() if now is None else now
        t = worker_heartbeats
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.worker, t.c.beat_at, t.c.every_s)).all()
        return [r.worker for r in rows if now - r.beat_at <= MISSED_BEATS * r.every_s]

    def check(self) -> None:
        """For /readyz: raise `WorkersUnavailable` unless some worker beat recently."""
        try:
            fresh = self.fresh()
        except Exception as exc:
            # The type only: a driver's message can name hosts and users.
            raise WorkersUnavailable(f"heartbeats unreadable ({type(exc).__name__})") from exc
        if not fresh:
            raise WorkersUnavailable(f"no worker heartbeat within {MISSED_BEATS} of its intervals")


class Beater:
    """Beats for this process from a daemon thread until `stop()`; a failed beat (database down) is logged
    and retried at the next interval, and /readyz shows the gap."""

    def __init__(self, heartbeats: Heartbeats, every_s: float, worker: str | None = None) -> None:
        self.heartbeats = heartbeats
        self.every_s = every_s
        self.worker = worker or worker_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cimedic-heartbeat", daemon=True)

    def start(self) -> Beater:
        self._thread.start()
        return self

    def _run(self) -> None:
        failing = False
        while True:
            try:
                self.heartbeats.beat(self.worker, self.every_s)
                failing = False
            except Exception:
                if not failing:  # once per outage, not every few seconds
                    log.warning("heartbeat not written", exc_info=True)
                failing = True
            if self._stop.wait(self.every_s):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        try:
            self.heartbeats.forget(self.worker)
        except Exception:
            log.warning("heartbeat row not removed", exc_info=True)
