"""Our own record of the tickets CI Medic filed: fingerprint → ticket key, in the SQL store.

It is the first place a ticket is looked for (a tracker's search may lag behind a create), and the row is
claimed (state `pending`, unique per tracker, repo and fingerprint) before a create, so two workers that see
the same failure at once file one ticket: the second finds the claim and leaves the failure to the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import delete, select, update

from knowledge.schema import tickets
from knowledge.sqlstore import SqlStore, insert_ignore

RowState = Literal["pending", "open", "green", "closed"]


@dataclass(frozen=True)
class TicketRow:
    id: int
    tracker: str
    repo: str
    fingerprint: str
    key: str
    url: str | None
    draft_id: str | None
    job: str | None
    state: RowState
    title: str
    occurrences: int
    last_job_url: str | None
    created_at: datetime
    updated_at: datetime


def _row(mapping: Any) -> TicketRow:
    return TicketRow(**{c.name: mapping[c.name] for c in tickets.columns})


class TicketRecord:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def get(self, tracker: str, repo: str, fingerprint: str) -> TicketRow | None:
        c = tickets.c
        with self.store.read() as conn:
            found = conn.execute(
                select(tickets).where(c.tracker == tracker, c.repo == repo, c.fingerprint == fingerprint)
            ).first()
        return _row(found._mapping) if found else None

    def claim(
        self,
        *,
        tracker: str,
        repo: str,
        fingerprint: str,
        title: str,
        job: str | None,
        draft_id: str,
        now: datetime,
    ) -> bool:
        """A pending row for a create about to happen; False when a row exists (someone else filed)."""
        values = {
            "tracker": tracker,
            "repo": repo,
            "fingerprint": fingerprint,
            "key": "",
            "draft_id": draft_id,
            "job": job,
            "state": "pending",
            "title": title,
            "occurrences": 0,
            "created_at": now,
            "updated_at": now,
        }
        with self.store.write() as conn:
            return insert_ignore(conn, tickets, values, ["tracker", "repo", "fingerprint"])

    def update(self, row_id: int, now: datetime, **values: Any) -> None:
        with self.store.write() as conn:
            conn.execute(update(tickets).where(tickets.c.id == row_id).values(updated_at=now, **values))

    def take(self, row: TicketRow, now: datetime, **values: Any) -> bool:
        """Update `row` only if nobody changed it since it was read; `values` must set a fresh `draft_id`.

        Two workers that read the same closed ticket would both reopen it or both file its successor; the
        first to take the row wins (its fresh `draft_id` makes the row differ from what the second read).
        """
        c = tickets.c
        same = (c.id == row.id, c.updated_at == row.updated_at, c.draft_id.is_not_distinct_from(row.draft_id))
        with self.store.write() as conn:
            return conn.execute(update(tickets).where(*same).values(updated_at=now, **values)).rowcount == 1

    def forget(self, row_id: int) -> None:
        """Drop a claim whose create certainly did not happen, so that the next occurrence files again."""
        with self.store.write() as conn:
            conn.execute(delete(tickets).where(tickets.c.id == row_id))

    def open_for_job(self, tracker: str, repo: str, job: str) -> list[TicketRow]:
        c = tickets.c
        query = select(tickets).where(c.tracker == tracker, c.repo == repo, c.job == job, c.state == "open")
        with self.store.read() as conn:
            return [_row(r._mapping) for r in conn.execute(query.order_by(c.id))]

    def list(self, *, repo: str | None = None, limit: int = 100) -> list[TicketRow]:
        c = tickets.c
        query = select(tickets).order_by(c.updated_at.desc(), c.id.desc()).limit(limit)
        if repo is not None:
            query = query.where(c.repo == repo)
        with self.store.read() as conn:
            return [_row(r._mapping) for r in conn.execute(query)]
