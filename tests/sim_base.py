"""Shared plumbing of the vendor simulators (Jira, Linear, Slack/Teams): a real HTTP server on 127.0.0.1.

Each simulator is a FastAPI app served by uvicorn in a thread. Faults come on cue (`fail`: a status, a
`Retry-After`, a delay, N times, on a method and path pattern); every request is logged in `calls`, and a
request that no route answers is kept in `unexpected` (a catch-all route added last answers it 404), so a
test can assert that nothing else was called.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int | None
    delay_s: float
    times: int
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    after: bool = False  # delay after the request was handled (the server acted, the answer comes late)


class SimServer:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str, int]] = []  # (method, path, status) once answered
        self.received: list[tuple[str, str]] = []  # (method, path) as they arrive, answered or not yet
        self.unexpected: list[tuple[str, str]] = []
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.app = self._wrap(self.build())

    def build(self) -> FastAPI:
        raise NotImplementedError

    def fail(
        self,
        method: str,
        path_regex: str,
        *,
        status: int | None = 502,
        times: int = 1,
        delay_s: float = 0.0,
        headers: dict[str, str] | None = None,
        body: Any = None,
        after: bool = False,
    ) -> None:
        """The next `times` matching requests answer `status` (None: handled, only delayed by `delay_s`)."""
        with self.lock:
            self.faults.append(
                Fault(
                    method.upper(), re.compile(path_regex), status, delay_s, times, headers or {}, body, after
                )
            )

    def requests(self, method: str, path_regex: str) -> list[tuple[str, str]]:
        """The requests received so far that match, including those not answered yet."""
        pattern = re.compile(path_regex)
        with self.lock:
            return [c for c in self.received if c[0] == method and pattern.search(c[1])]

    def _wrap(self, app: FastAPI) -> FastAPI:
        sim = self

        @app.middleware("http")
        async def gate(request: Request, call_next: Callable[[Request], Any]) -> Response:
            method, path = request.method, request.url.path
            fault = None
            with sim.lock:
                sim.received.append((method, path))
                for f in sim.faults:
                    if f.times > 0 and f.method in (method, "*") and f.pattern.search(path):
                        f.times -= 1
                        fault = f
                        break
            if fault is not None and fault.delay_s and not fault.after:
                await asyncio.sleep(fault.delay_s)
            if fault is not None and fault.status is not None:
                body = fault.body if fault.body is not None else {"errorMessages": ["simulated failure"]}
                resp: Response = JSONResponse(body, status_code=fault.status, headers=fault.headers)
            else:
                resp = await call_next(request)
                if fault is not None and fault.after:
                    await asyncio.sleep(fault.delay_s)
            with sim.lock:
                sim.calls.append((method, path, resp.status_code))
            return resp

        @app.api_route("/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
        async def stray(rest: str, request: Request) -> Response:
            with sim.lock:
                sim.unexpected.append((request.method, "/" + rest))
            return JSONResponse({"errorMessages": [f"no such endpoint: /{rest}"]}, status_code=404)

        return app

    def start(self) -> SimServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("simulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(5)
