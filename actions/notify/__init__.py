"""Slack and Teams messages about failures that matter to a team (issue 13; docs/tickets.md)."""

from actions.notify.send import NotificationRecord, NotifyOutcome, notify_failure

__all__ = ["NotificationRecord", "NotifyOutcome", "notify_failure"]
