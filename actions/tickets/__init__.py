"""Tickets in Jira or Linear, one per failure fingerprint (issue 13; docs/tickets.md).

The service asks `should_file(policy, diagnosis, default_branch_occurrences=n)`, then calls
`ensure_ticket(tracker, diagnosis, job, record, policy, audit)` for a failed job (the CLI calls it directly)
and `note_green(...)` for a job that passed again; `trackers.make_tracker(name)` builds the tracker.
"""

from actions.tickets.lifecycle import TicketOutcome, ensure_ticket, note_green, should_file
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
    "should_file",
]
