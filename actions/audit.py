"""The audit log: one row for every outbound write CI Medic makes or, in dry-run, would have made."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from knowledge.sqlstore import migrate_database

metadata = sa.MetaData()

audit_log = sa.Table(
    "cimedic_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("repo", sa.String(200), nullable=False, index=True),
    sa.Column("action", sa.String(64), nullable=False),  # e.g. comment.create, check_run.update, job.rerun
    sa.Column("target", sa.String(400), nullable=False),  # e.g. "pr#12", "sha:abc…", "job:123"
    sa.Column("outcome", sa.String(32), nullable=False),  # done | dry-run | unchanged | error
    sa.Column("remote_id", sa.BigInteger, nullable=True),
    sa.Column("delivery_id", sa.String(200), nullable=True),
    sa.Column("detail", sa.Text, nullable=True),
)


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    repo: str
    action: str
    target: str
    outcome: str
    remote_id: int | None
    delivery_id: str | None
    detail: dict[str, Any]


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.Lock() if engine.dialect.name == "sqlite" else None
        migrate_database(engine.url.render_as_string(hide_password=False))  # knowledge/migrations, 0003

    def record(
        self,
        *,
        repo: str,
        action: str,
        target: str,
        outcome: str,
        remote_id: int | None = None,
        delivery_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        row = {
            "at": time.time(),
            "repo": repo,
            "action": action,
            "target": target,
            "outcome": outcome,
            "remote_id": remote_id,
            "delivery_id": delivery_id,
            "detail": json.dumps(detail or {}, sort_keys=True),
        }
        if self._lock is not None:
            with self._lock, self.engine.begin() as conn:
                conn.execute(sa.insert(audit_log).values(**row))
        else:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(audit_log).values(**row))

    def entries(
        self, *, repo: str | None = None, since: float | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        c = audit_log.c
        query = sa.select(audit_log).order_by(c.id.desc()).limit(limit)
        if repo:
            query = query.where(c.repo == repo)
        if since is not None:
            query = query.where(c.at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for r in rows:
            m = dict(r._mapping)
            m["detail"] = json.loads(m["detail"] or "{}")
            out.append(AuditEntry(**m))
        return out
