"""One event loop on a background thread, so a synchronous caller can reuse async HTTP connections.

pydantic-ai and the provider SDKs are async; an `httpx2.AsyncClient` and its pooled connections belong to
the event loop that opened them. Running each call under a fresh `asyncio.run` would therefore open new
connections (and TLS handshakes) every time, and `run_sync` cannot be used from a thread that already runs a
loop (the worker). A dedicated loop thread serves both: callers submit coroutines with
`asyncio.run_coroutine_threadsafe` (https://docs.python.org/3/library/asyncio-task.html#scheduling-from-other-threads)
and the per-provider clients live as long as the explainer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "cimedic-llm") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run `coro` on the loop thread and wait; on timeout it is cancelled and TimeoutError raised."""
        if not self._thread.is_alive():
            coro.close()
            raise RuntimeError("the LLM event loop is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running() and not self.loop.is_closed():
            self.loop.close()
