"""Shared helpers for the ticket and notification tests (no tests here)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from actions.audit import AuditLog
from actions.backoff import Backoff
from actions.tickets import TicketRecord
from agent.models import Category, Diagnosis, JobContext, LogLine, Remediation, Verdict
from knowledge.sqlstore import SqlStore


@dataclass
class Sleeps:
    """Stands in for `time.sleep` in `Backoff`: records the delays instead of waiting them out."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def fast_backoff(sleeps: Sleeps, attempts: int = 4) -> Backoff:
    return Backoff(attempts=attempts, base_seconds=0.01, sleep=sleeps)


def diagnosis(
    fingerprint: str = "0123456789abcdef",
    *,
    title: str = "AssertionError: expected 200, got 503 in test_checkout",
    excerpt: list[str] | None = None,
    verdict: str | None = "broken-trunk",
) -> Diagnosis:
    texts = excerpt or ["collected 12 items", "tests/test_shop.py::test_checkout FAILED", title]
    lines = [LogLine(line=40 + i, text=t) for i, t in enumerate(texts)]
    return Diagnosis(
        source="job.log",
        category=Category.TEST,
        confidence=0.9,
        title=title,
        focus=lines[-1:],
        excerpt=lines,
        fingerprint=fingerprint,
        remediation=Remediation(explanation="The checkout test failed.", steps=["Run pytest -k checkout"]),
        verdict=Verdict(kind=verdict, reason="fails on main too") if verdict else None,  # type: ignore[arg-type]
    )


def job(run: int = 1, *, name: str = "tests", branch: str = "main", repo: str = "acme/shop") -> JobContext:
    return JobContext(
        ci_system="github",
        repo=repo,
        branch=branch,
        workflow="CI",
        job=name,
        run_id=run,
        url=f"https://github.com/{repo}/actions/runs/{run}/job/{run * 10}",
    )


@dataclass
class Stores:
    store: SqlStore
    record: TicketRecord
    audit: AuditLog

    def actions(self) -> list[tuple[str, str]]:
        return [(e.action, e.outcome) for e in reversed(self.audit.entries(limit=1000))]


def open_stores(tmp_path: Path) -> Iterator[Stores]:
    """For a `stores` fixture: a fresh SQLite store, migrated, with the ticket record and the audit log."""
    store = SqlStore(f"sqlite:///{tmp_path / 'cimedic.db'}")
    store.migrate()
    yield Stores(store, TicketRecord(store), AuditLog(store.engine))
    store.close()
