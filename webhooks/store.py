"""Our own SQL state for the service: deliveries (idempotency and leases), locks, and per-job results.

The queue (huey) only carries delivery ids; this table is the source of truth for what was accepted and what
is finished, so that:
- a duplicate of a delivery that is queued, running or done is acknowledged and dropped, while a redelivery of
  one whose processing failed is processed again (GitHub keeps the same `X-GitHub-Delivery` GUID on
  redelivery: docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks);
- a worker killed mid-job loses nothing: its lease expires and the reaper puts the delivery back in the queue;
- two workers never run the same delivery at once (`claim` is one conditional UPDATE).

Works on SQLite (default) and PostgreSQL: only portable SQL plus each dialect's ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from knowledge.sqlstore import migrate_database

metadata = sa.MetaData()

NAME_LEN = 500  # job_results.job_name, workflow_name: see `bounded`
BRANCH_LEN = 300  # job_results.head_branch

deliveries = sa.Table(
    "gh_deliveries",
    metadata,
    sa.Column("delivery_id", sa.String(200), primary_key=True),
    sa.Column("event", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # queued | running | done | failed
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("not_before", sa.Float, nullable=False, default=0.0),
    sa.Column("lease_until", sa.Float, nullable=True),
    sa.Column("owner", sa.String(64), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Index("ix_gh_deliveries_status", "status", "updated_at"),
)

locks = sa.Table(
    "gh_locks",
    metadata,
    sa.Column("name", sa.String(300), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

job_results = sa.Table(
    "gh_job_results",
    metadata,
    sa.Column("repo", sa.String(200), primary_key=True),
    sa.Column("job_id", sa.BigInteger, primary_key=True),
    sa.Column("run_id", sa.BigInteger, nullable=False),
    sa.Column("run_attempt", sa.Integer, nullable=False),
    sa.Column("head_sha", sa.String(64), nullable=False),
    sa.Column("head_branch", sa.String(BRANCH_LEN), nullable=True),
    sa.Column("job_name", sa.String(NAME_LEN), nullable=False),
    sa.Column("workflow_name", sa.String(NAME_LEN), nullable=True),
    sa.Column("conclusion", sa.String(32), nullable=False),
    sa.Column("fingerprint", sa.String(200), nullable=True),
    # sha256 of (rule, category, title): matches the same failure when the engine's fingerprint differs
    # between a run analysed with a baseline and one without.
    sa.Column("signature", sa.String(64), nullable=True),
    sa.Column("verdict", sa.String(32), nullable=True),
    sa.Column("diagnosis", sa.Text, nullable=True),
    sa.Column("html_url", sa.Text, nullable=True),
    sa.Column("pull_requests", sa.Text, nullable=False, default="[]"),
    sa.Column("completed_at", sa.String(64), nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Index("ix_gh_job_results_sha", "repo", "head_sha"),
    sa.Index("ix_gh_job_results_fp", "repo", "fingerprint"),
    sa.Index("ix_gh_job_results_sig", "repo", "signature"),
    sa.Index("ix_gh_job_results_branch", "repo", "head_branch", "job_name"),
)

published = sa.Table(
    "gh_published",
    metadata,
    sa.Column("target", sa.String(400), primary_key=True),  # e.g. "comment:owner/repo#12"
    sa.Column("remote_id", sa.BigInteger, nullable=True),
    sa.Column("body_hash", sa.String(64), nullable=True),
    sa.Column("state", sa.Text, nullable=True),  # JSON: e.g. annotation keys already sent
    sa.Column("updated_at", sa.Float, nullable=False),
)

reruns = sa.Table(
    "gh_reruns",
    metadata,
    sa.Column("repo", sa.String(200), primary_key=True),
    sa.Column("run_id", sa.BigInteger, primary_key=True),
    sa.Column("run_attempt", sa.Integer, primary_key=True),
    sa.Column("job_id", sa.BigInteger, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

# Installations of the App and the repositories they cover, from `installation` and
# `installation_repositories` deliveries
# (docs.github.com/en/webhooks/webhook-events-and-payloads#installation).
installations = sa.Table(
    "gh_installations",
    metadata,
    sa.Column("installation_id", sa.BigInteger, primary_key=True),
    sa.Column("account", sa.String(200), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),  # active | suspended | deleted
    sa.Column("updated_at", sa.Float, nullable=False),
)

installation_repos = sa.Table(
    "gh_installation_repos",
    metadata,
    sa.Column("installation_id", sa.BigInteger, primary_key=True),
    sa.Column("repo", sa.String(200), primary_key=True),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

# How far the pump has moved the intake's inbox (webhooks/inbox.py) into `gh_deliveries`, per inbox file:
# the cursor moves in the same transaction as the admissions it covers, so each entry is admitted once.
inbox_cursors = sa.Table(
    "gh_inbox_cursors",
    metadata,
    sa.Column("inbox_id", sa.String(64), primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
)

Admission = Literal["new", "duplicate", "retry"]
InstallationStatus = Literal["active", "suspended", "deleted"]
ACTIVE = ("queued", "running", "done")


@dataclass(frozen=True)
class Claimed:
    delivery_id: str
    event: str
    payload: str
    attempts: int
    owner: str
    received_at: float


@dataclass(frozen=True)
class JobResult:
    repo: str
    job_id: int
    run_id: int
    run_attempt: int
    head_sha: str
    head_branch: str | None
    job_name: str
    workflow_name: str | None
    conclusion: str
    fingerprint: str | None
    signature: str | None
    verdict: str | None
    diagnosis: str | None
    html_url: str | None
    pull_requests: list[int]
    completed_at: str | None
    updated_at: float


def make_engine(url: str) -> Engine:
    """A SQLAlchemy engine for `url`; SQLite gets WAL and a busy timeout so several processes can share it."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; plain postgresql:// would ask for psycopg2.
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def bounded(value: str | None, size: int) -> str | None:
    """`value` fitted to a VARCHAR(size) column, still unique: a long one keeps its head and a hash.

    PostgreSQL refuses a longer value (SQLite does not check), and a matrix job's name has no length limit
    we can rely on; the same mapping is applied to stored values and to the values we look them up by.
    """
    if value is None or len(value) <= size:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    return f"{value[: size - 18]}…{digest}"


class Store:
    """Delivery bookkeeping, leases, locks and job results in one SQL database."""

    def __init__(self, engine: Engine, *, stale_queued_s: float = 900.0) -> None:
        self.engine = engine
        self.stale_queued_s = stale_queued_s
        self._sqlite = engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if self._sqlite else None
        self._insert_stmts: dict[str, Any] = {}
        # The tables are made and changed by the one Alembic history (knowledge/migrations, 0003).
        migrate_database(engine.url.render_as_string(hide_password=False))

    @classmethod
    def from_url(cls, url: str) -> Store:
        return cls(make_engine(url))

    @contextlib.contextmanager
    def _tx(self) -> Iterator[sa.Connection]:
        # SQLite allows one writer; serializing writers of this process avoids "database is locked" churn,
        # other processes wait on busy_timeout.
        if self._write_lock is not None:
            with self._write_lock, self.engine.begin() as conn:
                yield conn
        else:
            with self.engine.begin() as conn:
                yield conn

    def _inserted(self, conn: sa.Connection, table: sa.Table, values: dict[str, Any]) -> bool:
        """INSERT ... ON CONFLICT DO NOTHING; True if the row was new.

        Decided by RETURNING, not `rowcount`: psycopg 3 reports -1 for this statement under SQLAlchemy 2.1.
        The statement is built once per table and the values go as parameters: building `.values(**row)`
        each time, and its cache key, was most of the intake's time in `admit` (profiled: ~60% of it).
        """
        stmt = self._insert_stmts.get(table.name)
        if stmt is None:
            dialect: Any = postgresql if self.engine.dialect.name == "postgresql" else sqlite
            first_pk = next(iter(table.primary_key.columns))
            stmt = dialect.insert(table).on_conflict_do_nothing().returning(first_pk)
            self._insert_stmts[table.name] = stmt
        return conn.execute(stmt, values).first() is not None

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    # --- deliveries ---------------------------------------------------------------------------------

    def admit(
        self, delivery_id: str, event: str, payload: str, *, rearm: bool = False, not_before: float = 0.0
    ) -> Admission:
        """Record a delivery as queued. `new`/`retry` mean: enqueue it now; `duplicate`: acknowledge, drop.

        `rearm=True` (internal coalescing jobs such as "publish this PR's comment") re-queues a finished or
        running entry instead of dropping it, but still drops one that is already queued. With `not_before`
        the entry is not claimable before that time and the reaper enqueues it when it is due.
        """
        with self._tx() as conn:
            return self._admit_in(
                conn, delivery_id, event, payload, rearm=rearm, not_before=not_before, received_at=time.time()
            )

    def decide(self, status: str | None, updated_at: float, *, rearm: bool = False) -> Admission:
        """What a delivery arriving now becomes, given its row's status (None: no row yet)."""
        if status is None:
            return "new"
        retry = status == "failed" or (
            # Accepted but never enqueued (the process died between the two): let a redelivery run it.
            status == "queued" and updated_at < time.time() - self.stale_queued_s
        )
        if rearm and status in ("running", "done", "failed"):
            retry = True
        return "retry" if retry else "duplicate"

    def _admit_in(
        self,
        conn: sa.Connection,
        delivery_id: str,
        event: str,
        payload: str,
        *,
        rearm: bool,
        not_before: float,
        received_at: float,
    ) -> Admission:
        now = time.time()
        row = {
            "delivery_id": delivery_id,
            "event": event,
            "status": "queued",
            "payload": payload,
            "attempts": 0,
            "received_at": received_at,
            "updated_at": now,
            "not_before": not_before,
        }
        if self._inserted(conn, deliveries, row):
            return "new"
        status, updated = conn.execute(
            sa.select(deliveries.c.status, deliveries.c.updated_at).where(
                deliveries.c.delivery_id == delivery_id
            )
        ).one()
        if self.decide(status, updated, rearm=rearm) == "duplicate":
            return "duplicate"
        values: dict[str, Any] = {
            "status": "queued",
            "payload": payload,
            "updated_at": now,
            "error": None,
            "not_before": not_before,
        }
        if rearm:
            values["received_at"] = received_at  # an internal request's age counts from its latest trigger
        changed = conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.delivery_id == delivery_id, deliveries.c.status == status)
            .values(**values)
        ).rowcount
        return "retry" if changed == 1 else "duplicate"

    # --- the intake's inbox (webhooks/inbox.py) ------------------------------------------------------

    def inbox_view(self, inbox_id: str, delivery_id: str) -> tuple[int, str | None, float]:
        """The inbox cursor and the delivery's status and update time, read in one statement (one snapshot),
        so that an entry the pump moved is seen either still in the inbox or already in the table."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT (SELECT seq FROM gh_inbox_cursors WHERE inbox_id = :iid), d.status, d.updated_at "
                    "FROM (SELECT 1) AS one LEFT JOIN gh_deliveries AS d ON d.delivery_id = :did"
                ),
                {"iid": inbox_id, "did": delivery_id},
            ).one()
        return int(row[0] or 0), row[1], float(row[2] or 0.0)

    def inbox_cursor(self, inbox_id: str) -> int:
        with self.engine.connect() as conn:
            seq = conn.execute(
                sa.select(inbox_cursors.c.seq).where(inbox_cursors.c.inbox_id == inbox_id)
            ).scalar()
        return int(seq or 0)

    def admit_from_inbox(
        self, inbox_id: str, after: int, entries: list[tuple[int, str, str, str, float]]
    ) -> list[tuple[str, Admission]] | None:
        """Admit inbox entries `(seq, delivery_id, event, payload, received_at)` that follow `after`, and move
        the cursor past them, in one transaction; None if another pump moved the cursor first."""
        if not entries:
            return []
        last = entries[-1][0]
        c = inbox_cursors.c
        with self._tx() as conn:
            moved = conn.execute(
                sa.update(inbox_cursors).where(c.inbox_id == inbox_id, c.seq == after).values(seq=last)
            ).rowcount
            if moved != 1 and not (
                after == 0 and self._inserted(conn, inbox_cursors, {"inbox_id": inbox_id, "seq": last})
            ):
                return None
            return [
                (
                    delivery_id,
                    self._admit_in(
                        conn, delivery_id, event, payload, rearm=False, not_before=0.0, received_at=received
                    ),
                )
                for _seq, delivery_id, event, payload, received in entries
            ]

    def forget(self, delivery_id: str) -> None:
        """Undo `admit` of a delivery whose enqueue failed, so GitHub's retry is not taken as a duplicate."""
        with self._tx() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(deliveries.c.delivery_id == delivery_id, deliveries.c.status == "queued")
                .values(status="failed", error="enqueue failed", updated_at=time.time())
            )

    def claim(self, delivery_id: str, *, lease_s: float, owner: str | None = None) -> Claimed | None:
        """Take the delivery for this worker, or None if it is done, failed, or leased by a live worker."""
        now = time.time()
        owner = owner or uuid.uuid4().hex
        d = deliveries.c
        with self._tx() as conn:
            changed = conn.execute(
                sa.update(deliveries)
                .where(
                    d.delivery_id == delivery_id,
                    d.not_before <= now,
                    sa.or_(d.status == "queued", sa.and_(d.status == "running", d.lease_until < now)),
                )
                .values(
                    status="running",
                    owner=owner,
                    lease_until=now + lease_s,
                    attempts=d.attempts + 1,
                    updated_at=now,
                )
            ).rowcount
            if changed != 1:
                return None
            event, payload, attempts, received = conn.execute(
                sa.select(d.event, d.payload, d.attempts, d.received_at).where(d.delivery_id == delivery_id)
            ).one()
        return Claimed(delivery_id, event, payload, attempts, owner, received)

    def renew(self, claimed: Claimed, *, lease_s: float) -> bool:
        d = deliveries.c
        with self._tx() as conn:
            return bool(
                conn.execute(
                    sa.update(deliveries)
                    .where(
                        d.delivery_id == claimed.delivery_id, d.owner == claimed.owner, d.status == "running"
                    )
                    .values(lease_until=time.time() + lease_s)
                ).rowcount
            )

    def finish(
        self, claimed: Claimed, *, ok: bool, error: str | None = None, retry_in: float | None = None
    ) -> None:
        """Mark done or failed; with `retry_in`, put it back in the queue after that many seconds instead."""
        d = deliveries.c
        now = time.time()
        if ok:
            values: dict[str, Any] = {"status": "done", "error": None}
        elif retry_in is not None:
            values = {"status": "queued", "error": error, "not_before": now + retry_in}
        else:
            values = {"status": "failed", "error": error}
        with self._tx() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(d.delivery_id == claimed.delivery_id, d.owner == claimed.owner, d.status == "running")
                .values(lease_until=None, updated_at=now, **values)
            )

    def due(self, *, limit: int = 100) -> list[str]:
        """Deliveries a worker should (re)enqueue: expired leases, due retries, and lost enqueues."""
        now = time.time()
        d = deliveries.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(d.delivery_id)
                .where(
                    sa.or_(
                        sa.and_(d.status == "running", d.lease_until < now),
                        sa.and_(d.status == "queued", d.not_before > 0, d.not_before <= now),
                        sa.and_(d.status == "queued", d.updated_at < now - self.stale_queued_s),
                    )
                )
                .limit(limit)
            ).all()
        return [r[0] for r in rows]

    def make_due(self, delivery_ids: list[str]) -> None:
        """Have the reaper enqueue these queued deliveries on its next pass (their enqueue failed)."""
        d = deliveries.c
        with self._tx() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(d.delivery_id.in_(delivery_ids), d.status == "queued")
                .values(not_before=time.time())
            )

    def mark_requeued(self, delivery_id: str) -> None:
        """After the reaper re-enqueued a due delivery: make it plainly queued so it is not enqueued again.

        An expired lease goes back to `queued` without an owner; if its old worker was only slow, not dead,
        its `finish` then matches nothing, and the work it did is repeated idempotently by the next worker.
        """
        d = deliveries.c
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                sa.update(deliveries)
                .where(
                    d.delivery_id == delivery_id,
                    sa.or_(d.status == "queued", sa.and_(d.status == "running", d.lease_until < now)),
                )
                .values(status="queued", owner=None, lease_until=None, not_before=0.0, updated_at=now)
            )

    def delivery(self, delivery_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(deliveries).where(deliveries.c.delivery_id == delivery_id)).first()
        return dict(row._mapping) if row else None

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(deliveries.c.status, sa.func.count()).group_by(deliveries.c.status)
            ).all()
        return {str(s): int(n) for s, n in rows}

    def oldest_queued_age(self) -> float:
        """How long the oldest runnable delivery has waited since it became runnable.

        A delivery deferred on purpose (a retry after a primary rate limit resets, a debounced publish) is
        not waiting on us until its `not_before`: counting it from `received_at` reported minutes of backlog
        on an idle queue.
        """
        now = time.time()
        d = deliveries.c
        since = sa.case((d.not_before > d.received_at, d.not_before), else_=d.received_at)
        with self.engine.connect() as conn:
            oldest = conn.execute(
                sa.select(sa.func.min(since)).where(d.status == "queued", d.not_before <= now)
            ).scalar()
        return max(0.0, now - float(oldest)) if oldest is not None else 0.0

    # --- locks --------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, name: str, *, ttl_s: float = 60.0, wait_s: float = 120.0) -> Iterator[None]:
        """A lease lock shared by every process using this database (expires if its holder dies)."""
        owner = uuid.uuid4().hex
        deadline = time.monotonic() + wait_s
        delay = 0.02
        while True:
            now = time.time()
            with self._tx() as conn:
                got = self._inserted(
                    conn, locks, {"name": name, "owner": owner, "expires_at": now + ttl_s}
                ) or (
                    conn.execute(
                        sa.update(locks)
                        .where(locks.c.name == name, locks.c.expires_at < now)
                        .values(owner=owner, expires_at=now + ttl_s)
                    ).rowcount
                    == 1
                )
            if got:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"lock {name!r} busy")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            with self._tx() as conn:
                conn.execute(sa.delete(locks).where(locks.c.name == name, locks.c.owner == owner))

    # --- job results --------------------------------------------------------------------------------

    def save_result(self, result: JobResult) -> None:
        values = {
            "repo": result.repo,
            "job_id": result.job_id,
            "run_id": result.run_id,
            "run_attempt": result.run_attempt,
            "head_sha": result.head_sha,
            "head_branch": bounded(result.head_branch, BRANCH_LEN),
            "job_name": bounded(result.job_name, NAME_LEN),
            "workflow_name": bounded(result.workflow_name, NAME_LEN),
            "conclusion": result.conclusion,
            "fingerprint": result.fingerprint,
            "signature": result.signature,
            "verdict": result.verdict,
            "diagnosis": result.diagnosis,
            "html_url": result.html_url,
            "pull_requests": json.dumps(result.pull_requests),
            "completed_at": result.completed_at,
            "updated_at": time.time(),
        }
        with self._tx() as conn:
            if not self._inserted(conn, job_results, values):
                conn.execute(
                    sa.update(job_results)
                    .where(job_results.c.repo == result.repo, job_results.c.job_id == result.job_id)
                    .values(**values)
                )

    def set_verdict(self, repo: str, job_id: int, verdict: str, diagnosis: str | None) -> None:
        with self._tx() as conn:
            conn.execute(
                sa.update(job_results)
                .where(job_results.c.repo == repo, job_results.c.job_id == job_id)
                .values(verdict=verdict, diagnosis=diagnosis, updated_at=time.time())
            )

    def _rows(self, where: Any, order: Any = None, limit: int | None = None) -> list[JobResult]:
        query = sa.select(job_results).where(where)
        if order is not None:
            query = query.order_by(order)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            m = dict(row._mapping)
            m["pull_requests"] = json.loads(m["pull_requests"] or "[]")
            out.append(JobResult(**m))
        return out

    def results_for_sha(self, repo: str, head_sha: str) -> list[JobResult]:
        c = job_results.c
        return self._rows(sa.and_(c.repo == repo, c.head_sha == head_sha), c.updated_at)

    def results_for_pr(self, repo: str, number: int) -> list[JobResult]:
        c = job_results.c
        # JSON kept as text for portability: match the number as a list element.
        pattern = [f"[{number}]", f"[{number},%", f"%, {number}]", f"%, {number},%"]
        cond = sa.or_(*(c.pull_requests.like(p) for p in pattern))
        return self._rows(sa.and_(c.repo == repo, cond), c.updated_at)

    def branch_history(self, repo: str, branch: str, job_name: str, *, limit: int = 20) -> list[JobResult]:
        c = job_results.c
        return self._rows(
            sa.and_(
                c.repo == repo,
                c.head_branch == bounded(branch, BRANCH_LEN),
                c.job_name == bounded(job_name, NAME_LEN),
            ),
            c.updated_at.desc(),
            limit,
        )

    def same_sha_job(self, repo: str, head_sha: str, job_name: str) -> list[JobResult]:
        c = job_results.c
        return self._rows(
            sa.and_(c.repo == repo, c.head_sha == head_sha, c.job_name == bounded(job_name, NAME_LEN)),
            c.run_attempt,
        )

    def fingerprint_history(
        self, repo: str, fingerprint: str, signature: str | None = None, *, limit: int = 50
    ) -> list[JobResult]:
        """Results with this fingerprint (or, when given, this signature), newest first."""
        c = job_results.c
        match = c.fingerprint == fingerprint
        if signature is not None:
            match = sa.or_(match, c.signature == signature)
        return self._rows(sa.and_(c.repo == repo, match), c.updated_at.desc(), limit)

    # --- installations ------------------------------------------------------------------------------

    def record_installation(
        self,
        installation_id: int,
        *,
        account: str | None,
        status: InstallationStatus | None,
        added: list[str],
        removed: list[str],
    ) -> None:
        """Note an installation's state (None: unchanged, `active` if new) and the repositories it gained or
        lost."""
        now = time.time()
        with self._tx() as conn:
            row = {
                "installation_id": installation_id,
                "account": account,
                "status": status or "active",
                "updated_at": now,
            }
            if not self._inserted(conn, installations, row):
                values: dict[str, Any] = {"updated_at": now}
                if status is not None:
                    values["status"] = status
                if account is not None:
                    values["account"] = account
                conn.execute(
                    sa.update(installations)
                    .where(installations.c.installation_id == installation_id)
                    .values(**values)
                )
            r = installation_repos.c
            for repo, active in [(x, True) for x in added] + [(x, False) for x in removed]:
                row = {"installation_id": installation_id, "repo": repo, "active": active, "updated_at": now}
                if not self._inserted(conn, installation_repos, row):
                    conn.execute(
                        sa.update(installation_repos)
                        .where(r.installation_id == installation_id, r.repo == repo)
                        .values(active=active, updated_at=now)
                    )

    def installation_allows(self, installation_id: int | None, repo: str) -> bool:
        """False when the installation was deleted or suspended, or `repo` was removed from it.

        What we never heard of is allowed: the App may have been installed before this service first ran,
        and without an installation (a token) there is nothing to check.
        """
        if installation_id is None:
            return True
        with self.engine.connect() as conn:
            status = conn.execute(
                sa.select(installations.c.status).where(installations.c.installation_id == installation_id)
            ).scalar()
            if status is not None and status != "active":
                return False
            r = installation_repos.c
            active = conn.execute(
                sa.select(r.active).where(r.installation_id == installation_id, r.repo == repo)
            ).scalar()
        return active is None or bool(active)

    def installation(self, installation_id: int) -> tuple[str, list[str]] | None:
        """(status, active repositories) of an installation, or None if we never heard of it."""
        with self.engine.connect() as conn:
            status = conn.execute(
                sa.select(installations.c.status).where(installations.c.installation_id == installation_id)
            ).scalar()
            if status is None:
                return None
            r = installation_repos.c
            repos = conn.execute(
                sa.select(r.repo).where(r.installation_id == installation_id, r.active).order_by(r.repo)
            ).all()
        return str(status), [str(x[0]) for x in repos]

    # --- published outputs and re-runs --------------------------------------------------------------

    def published(self, target: str) -> tuple[int | None, str | None, Any]:
        """(remote id, hash of the body we last wrote, extra state) of one output, or Nones."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(published.c.remote_id, published.c.body_hash, published.c.state).where(
                    published.c.target == target
                )
            ).first()
        if not row:
            return None, None, None
        return row[0], row[1], json.loads(row[2]) if row[2] else None

    def set_published(
        self, target: str, remote_id: int | None, body_hash: str | None, state: Any = None
    ) -> None:
        values = {
            "target": target,
            "remote_id": remote_id,
            "body_hash": body_hash,
            "state": json.dumps(state) if state is not None else None,
            "updated_at": time.time(),
        }
        with self._tx() as conn:
            if not self._inserted(conn, published, values):
                conn.execute(sa.update(published).where(published.c.target == target).values(**values))

    def claim_rerun(self, repo: str, run_id: int, run_attempt: int, job_id: int) -> bool:
        """True once per (run, attempt): GitHub re-runs count as new attempts, so this caps re-runs at one."""
        values = {
            "repo": repo,
            "run_id": run_id,
            "run_attempt": run_attempt,
            "job_id": job_id,
            "at": time.time(),
        }
        with self._tx() as conn:
            return self._inserted(conn, reruns, values)
