"""A table of handlers keyed by event kind (gidgethub's `routing.Router` is the model).

The worker looks up the handlers of a delivery's `kind` and calls each; a kind with no handler is a
programming error, not a silent drop: `dispatch` raises `LookupError`, and the delivery is retried and then
marked failed where an operator sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Event(Protocol):
    @property
    def kind(self) -> str: ...


Handler = Callable[[Any, Any], None]
"""`handler(event, claimed)`: the parsed event and the delivery's lease."""


class Router:
    def __init__(self) -> None:
        self._routes: dict[str, list[Handler]] = {}

    def add(self, kind: str, handler: Handler) -> None:
        self._routes.setdefault(kind, []).append(handler)

    def dispatch(self, event: Event, claimed: Any) -> None:
        handlers = self._routes.get(event.kind)
        if not handlers:
            raise LookupError(f"no handler for events of kind {event.kind!r}")
        for handler in handlers:
            handler(event, claimed)
