"""Tickets in Jira or Linear, one per failure fingerprint (issue 13; docs/tickets.md).

The service and the CLI call `ensure_ticket(tracker, diagnosis, job, record, policy, audit)` for a failed job
and `note_green(...)` for a job that passed again; `make_tracker(settings, name)` builds the tracker.
"""

from actions.tickets.lifecycle import TicketOutcome, ensure_ticket, note_green
from actions.tickets.model import CreateInDoubt, Ticket, TicketDraft, Tracker, TrackerError
from actions.tickets.record import TicketRecord

__all__ = [
    "CreateInDoubt",
    "Ticket",
    "TicketDraft",
    "TicketOutcome",
    "TicketRecord",
    "Tracker",
    "TrackerError",
    "ensure_ticket",
    "note_green",
]
