"""`make_tracker`: the Jira or Linear tracker that the settings describe."""

from __future__ import annotations

from typing import Literal

from actions.tickets.config import TrackerSettings
from actions.tickets.model import Tracker


def make_tracker(name: Literal["jira", "linear"], settings: TrackerSettings | None = None) -> Tracker:
    """Raises `TrackerError` naming the missing settings, or when Jira cannot be reached."""
    settings = settings or TrackerSettings()
    if name == "jira":
        from actions.tickets.jira import make_jira

        return make_jira(settings)
    from actions.tickets.linear import make_linear

    return make_linear(settings)
