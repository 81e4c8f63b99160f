"""What the ticket life cycle exchanges with a tracker: drafts, tickets, and the `Tracker` protocol."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

TicketStatus = Literal["open", "done", "dismissed"]  # dismissed: won't fix, duplicate, cancelled


class TrackerError(Exception):
    """A tracker call failed for good (after retries, or refused); the message says which call."""


class CreateInDoubt(TrackerError):
    """A create timed out or failed on the server's side: the ticket may exist. Never retry it blind."""


@dataclass(frozen=True)
class Ticket:
    key: str  # ABC-12 (Jira), ENG-12 (Linear)
    url: str
    status: TicketStatus = "open"
    resolved_at: datetime | None = None
    id: str = ""  # the tracker's internal id where it differs from the key (Linear's UUID)


@dataclass(frozen=True)
class TicketDraft:
    """A ticket to create, its text already rendered in the tracker's markup."""

    fingerprint: str
    repo: str
    summary: str
    description: str
    labels: tuple[str, ...] = ()
    draft_id: str = ""  # our id for this create, where the tracker accepts one (Linear issueCreate `id`)


class Markup(Protocol):
    """One escaping policy per target (Jira wiki, Linear Markdown)."""

    def text(self, value: str) -> str: ...
    def code(self, value: str) -> str: ...
    def block(self, lines: list[str]) -> str: ...
    def link(self, label: str, url: str) -> str: ...
    def bold(self, value: str) -> str: ...


class Tracker(Protocol):
    """A ticket tracker. Reads may be retried; `create` raises `CreateInDoubt` instead of retrying blind."""

    @property
    def name(self) -> str: ...
    @property
    def markup(self) -> Markup: ...

    def find(self, draft: TicketDraft) -> Ticket | None:
        """The ticket filed for `draft.fingerprint` (label / attachment search, or `draft.draft_id`)."""
        ...

    def get(self, key: str) -> Ticket | None: ...
    def create(self, draft: TicketDraft) -> Ticket: ...
    def comment(self, ticket: Ticket, body: str) -> None: ...
    def transition(self, ticket: Ticket, name: str) -> bool:
        """Move `ticket` by the transition (Jira) or to the state (Linear) called `name`; False if none."""
        ...

    def reopen(self, ticket: Ticket) -> bool: ...
    def link(self, ticket: Ticket, earlier: Ticket) -> None: ...
