"""The GitHub REST calls CI Medic makes, through githubkit (App JWT → installation token, retries, limits).

Responses are read leniently (the few fields we use) instead of through githubkit's strict generated models:
GitHub Enterprise Server versions and real payloads omit fields the OpenAPI schema marks required, and a
validation error must not lose a diagnosis.

Limits we keep (docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api and
.../rate-limits-for-the-rest-api):
- on 403/429 with `retry-after`, wait that long; with `x-ratelimit-remaining: 0`, wait until
  `x-ratelimit-reset` (githubkit raises Primary/SecondaryRateLimitExceeded with the delay; `_retry` decides);
- writes are serialized per installation ("make requests serially instead of concurrently") and paced to
  at most 80 content-creating requests per minute (the documented secondary limit);
- 5xx and timeouts are retried with exponential backoff, a few times.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from githubkit import AppAuthStrategy, AppInstallationAuthStrategy, GitHub, TokenAuthStrategy
from githubkit.cache import MemCacheStrategy
from githubkit.exception import (
    GitHubException,
    RateLimitExceeded,
    RequestFailed,
    RequestTimeout,
)
from githubkit.typing import RetryOption

from agent.errors import CimedicError

CallHook = Callable[[str, str, int, httpx.Headers | None], None]
"""Called after every API response: (method, route template, status, headers) for metrics."""


class GitHubError(CimedicError):
    """A GitHub call failed for good; `retry_after` says when trying again makes sense, if known."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


@dataclass
class RetryPolicy:
    """githubkit retry decision: rate limits (bounded wait), 5xx and timeouts with exponential backoff."""

    server_retries: int = 3
    base_delay_s: float = 1.0
    max_rate_limit_wait_s: float = 60.0

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        if isinstance(exc, RateLimitExceeded):
            wait = exc.retry_after.total_seconds()
            # A long reset (primary limit spent) is not waited out in a worker thread: fail, and the task is
            # retried after the reset (GitHubError.retry_after).
            if retry_count < 3 and wait <= self.max_rate_limit_wait_s:
                return RetryOption(True, timedelta(seconds=max(wait, 0.0)))
            return RetryOption(False)
        if retry_count >= self.server_retries:
            return RetryOption(False)
        if isinstance(exc, RequestTimeout) or (
            isinstance(exc, RequestFailed) and exc.response.status_code >= 500
        ):
            return RetryOption(True, timedelta(seconds=self.base_delay_s * (2**retry_count)))
        return RetryOption(False)


class _Pacer:
    """At most `per_minute` writes in any 60 s window, one at a time (per installation)."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.lock = threading.Lock()
        self.times: deque[float] = deque()

    @contextmanager
    def slot(self) -> Iterator[None]:
        with self.lock:
            now = time.monotonic()
            while self.times and now - self.times[0] > 60:
                self.times.popleft()
            if len(self.times) >= self.per_minute:
                time.sleep(max(0.0, 60 - (now - self.times[0])))
            self.times.append(time.monotonic())
            yield


@dataclass
class GitHubApi:
    """Factory of per-installation clients. One per process; thread-safe."""

    base_url: str = "https://api.github.com"
    app_id: int | None = None
    private_key: str | None = None
    token: str | None = None
    timeout_s: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    writes_per_minute: int = 80
    on_call: CallHook | None = None
    # Our own cache (JWTs and installation tokens, keyed by app and installation), shared by the clients this
    # object makes, not by unrelated GitHubApi objects in the same process (tests run several simulators).
    _cache: MemCacheStrategy = field(default_factory=MemCacheStrategy)
    _pacers: dict[int, _Pacer] = field(default_factory=dict)
    _pacers_lock: threading.Lock = field(default_factory=threading.Lock)
    _login: str | None = None

    def __post_init__(self) -> None:
        if self.token is None and (self.app_id is None or not self.private_key):
            raise ValueError("set CIMEDIC_GITHUB_APP_ID and a private key, or CIMEDIC_GITHUB_TOKEN")

    @property
    def is_app(self) -> bool:
        return self.token is None

    def _github(self, auth: Any) -> GitHub[Any]:
        return GitHub(
            auth,
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout_s),
            # hishel 1.x drops the request timeout (hishel issue 484), and we never want cached API answers.
            http_cache=False,
            cache_strategy=self._cache,
            auto_retry=self.retry,
            user_agent="cimedic",
            # Log downloads answer 302 to a pre-signed URL on another host; we follow it ourselves with a
            # client that carries no GitHub credentials (see Client.job_log).
            follow_redirects=False,
        )

    def _pacer(self, key: int) -> _Pacer:
        with self._pacers_lock:
            if key not in self._pacers:
                self._pacers[key] = _Pacer(self.writes_per_minute)
            return self._pacers[key]

    @contextmanager
    def client(self, installation_id: int | None) -> Iterator[Client]:
        """A client acting as the installation (App) or the token; one HTTP connection pool for the block."""
        if self.token is not None:
            auth: Any = TokenAuthStrategy(self.token)
            key = 0
        else:
            if installation_id is None:
                raise GitHubError("delivery has no installation id; is this an App webhook?")
            assert self.app_id is not None and self.private_key is not None
            auth = AppInstallationAuthStrategy(self.app_id, self.private_key, installation_id)
            key = installation_id
        gh = self._github(auth)
        with gh:
            yield Client(gh, self._pacer(key), self.on_call)

    def app_login(self) -> str | None:
        """The login our comments are written under: `<app slug>[bot]` for an App (GET /app, as the App)."""
        if self._login is not None:
            return self._login
        if self.token is not None:
            gh = self._github(TokenAuthStrategy(self.token))
            data = Client(gh, self._pacer(0), self.on_call).get_json("GET", "/user", route="/user")
            self._login = str(data["login"])
        else:
            assert self.app_id is not None and self.private_key is not None
            gh = self._github(AppAuthStrategy(self.app_id, self.private_key))
            data = Client(gh, self._pacer(0), self.on_call).get_json("GET", "/app", route="/app")
            self._login = f"{data['slug']}[bot]"
        return self._login

    def app_client(self) -> GitHub[Any]:
        """A client authenticated as the App itself (JWT), e.g. for /app/hook/deliveries."""
        if self.app_id is None or not self.private_key:
            raise GitHubError("App credentials required (CIMEDIC_GITHUB_APP_ID, CIMEDIC_GITHUB_PRIVATE_KEY)")
        return self._github(AppAuthStrategy(self.app_id, self.private_key))


@dataclass
class LogText:
    text: bytes
    truncated: bool
    skipped_bytes: int = 0


class Client:
    """The calls of one job's processing, as one installation. Methods return plain dicts."""

    def __init__(self, gh: GitHub[Any], pacer: _Pacer, on_call: CallHook | None) -> None:
        self.gh = gh
        self.pacer = pacer
        self.on_call = on_call
        self.calls = 0

    def _record(self, method: str, route: str, status: int, headers: httpx.Headers | None) -> None:
        self.calls += 1
        if self.on_call is not None:
            self.on_call(method, route, status, headers)

    def request(self, method: str, url: str, *, route: str, **kwargs: Any) -> httpx.Response:
        write = method not in ("GET", "HEAD")
        try:
            if write:
                with self.pacer.slot():
                    resp = self.gh.request(method, url, **kwargs)
            else:
                resp = self.gh.request(method, url, **kwargs)
        except RequestFailed as exc:
            self._record(method, route, exc.response.status_code, exc.response.headers)
            raise GitHubError(
                f"{method} {route}: HTTP {exc.response.status_code}",
                status=exc.response.status_code,
                retry_after=_retry_after(exc.response.headers),
            ) from exc
        except RateLimitExceeded as exc:
            self._record(method, route, exc.response.status_code, exc.response.headers)
            raise GitHubError(
                f"{method} {route}: rate limited",
                status=exc.response.status_code,
                retry_after=exc.retry_after.total_seconds(),
            ) from exc
        except GitHubException as exc:
            self._record(method, route, 0, None)
            raise GitHubError(f"{method} {route}: {exc}") from exc
        self._record(method, route, resp.status_code, resp.headers)
        return resp.raw_response

    def get_json(self, method: str, url: str, *, route: str, **kwargs: Any) -> Any:
        resp = self.request(method, url, route=route, **kwargs)
        return resp.json() if resp.content else None

    def paginate(
        self,
        url: str,
        *,
        route: str,
        params: dict[str, Any] | None = None,
        key: str | None = None,
        max_pages: int = 50,
    ) -> Iterator[dict[str, Any]]:
        """Follow `Link: rel="next"` (docs: rest/using-the-rest-api/using-pagination-in-the-rest-api)."""
        next_url: str | None = url
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        for _ in range(max_pages):
            if next_url is None:
                return
            resp = self.request("GET", next_url, route=route, params=query)
            data = resp.json()
            items = data.get(key, []) if key is not None else data
            yield from items
            nxt = resp.links.get("next")
            next_url = nxt.get("url") if nxt else None
            query = None  # the next link carries its own query

    # --- Actions ------------------------------------------------------------------------------------

    def get_run(self, repo: str, run_id: int) -> dict[str, Any]:
        return dict(self.get_json("GET", f"/repos/{repo}/actions/runs/{run_id}", route="runs/{id}"))

    def get_job(self, repo: str, job_id: int) -> dict[str, Any]:
        return dict(self.get_json("GET", f"/repos/{repo}/actions/jobs/{job_id}", route="jobs/{id}"))

    def run_jobs(self, repo: str, run_id: int) -> list[dict[str, Any]]:
        return list(
            self.paginate(
                f"/repos/{repo}/actions/runs/{run_id}/jobs",
                route="runs/{id}/jobs",
                key="jobs",
                params={"filter": "latest"},
            )
        )

    def last_successful_run(self, repo: str, workflow_id: int, branch: str) -> dict[str, Any] | None:
        data = self.get_json(
            "GET",
            f"/repos/{repo}/actions/workflows/{workflow_id}/runs",
            route="workflows/{id}/runs",
            params={"branch": branch, "status": "success", "per_page": 1},
        )
        runs = data.get("workflow_runs") or []
        return dict(runs[0]) if runs else None

    def job_log(self, repo: str, job_id: int, *, max_bytes: int, head_bytes: int) -> LogText:
        """Stream a job's log, keeping the first `head_bytes` and the last `max_bytes - head_bytes`.

        GET .../actions/jobs/{id}/logs answers 302 to a short-lived pre-signed URL (docs: rest/actions/
        workflow-jobs#download-job-logs-for-a-workflow-run). We fetch that URL with a separate client that has
        no Authorization header: the token must not travel to the storage host. The tail holds the failing
        step; the head the runner and checkout context.
        """
        route = "jobs/{id}/logs"
        first = self.request("GET", f"/repos/{repo}/actions/jobs/{job_id}/logs", route=route)
        location = first.headers.get("location")
        if first.status_code in (301, 302, 303, 307, 308) and location:
            with (
                httpx.Client(timeout=self.gh.config.timeout, follow_redirects=True) as plain,
                plain.stream("GET", location) as resp,
            ):
                if resp.status_code >= 400:
                    raise GitHubError(f"log download: HTTP {resp.status_code}", status=resp.status_code)
                return self._capped(resp.iter_bytes(), max_bytes=max_bytes, head_bytes=head_bytes)
        return self._capped(iter([first.content]), max_bytes=max_bytes, head_bytes=head_bytes)

    @staticmethod
    def _capped(chunks: Iterator[bytes], *, max_bytes: int, head_bytes: int) -> LogText:
        head = bytearray()
        tail: deque[bytes] = deque()
        tail_len = 0
        total = 0
        tail_cap = max_bytes - head_bytes
        for chunk in chunks:
            total += len(chunk)
            if len(head) < head_bytes:
                take = head_bytes - len(head)
                head += chunk[:take]
                chunk = chunk[take:]
            if chunk:
                tail.append(chunk)
                tail_len += len(chunk)
                while tail and tail_len - len(tail[0]) >= tail_cap:
                    tail_len -= len(tail.popleft())
        rest = b"".join(tail)
        if tail_len > tail_cap:
            rest = rest[tail_len - tail_cap :]
        skipped = total - len(head) - len(rest)
        if skipped <= 0:
            return LogText(bytes(head) + rest, False)
        # Cut at line boundaries so no half line is analysed; say what was left out.
        cut = rest.find(b"\n")
        rest = rest[cut + 1 :] if cut >= 0 else rest
        marker = f"\n[cimedic: {skipped} bytes of log omitted here]\n".encode()
        return LogText(bytes(head) + marker + rest, True, skipped)

    def rerun_job(self, repo: str, job_id: int) -> None:
        self.request("POST", f"/repos/{repo}/actions/jobs/{job_id}/rerun", route="jobs/{id}/rerun", json={})

    # --- pulls, contents ----------------------------------------------------------------------------

    def pulls_for_commit(self, repo: str, sha: str) -> list[dict[str, Any]]:
        data = self.get_json("GET", f"/repos/{repo}/commits/{sha}/pulls", route="commits/{sha}/pulls")
        return [dict(p) for p in data or []]

    def get_pull(self, repo: str, number: int) -> dict[str, Any]:
        return dict(self.get_json("GET", f"/repos/{repo}/pulls/{number}", route="pulls/{n}"))

    def get_repo(self, repo: str) -> dict[str, Any]:
        return dict(self.get_json("GET", f"/repos/{repo}", route="repos/{repo}"))

    def file_text(self, repo: str, path: str, ref: str) -> str | None:
        """A file's text at `ref`, or None if it does not exist (raw media type: no base64 round trip)."""
        try:
            resp = self.request(
                "GET",
                f"/repos/{repo}/contents/{path}",
                route="contents",
                params={"ref": ref},
                headers={"Accept": "application/vnd.github.raw+json"},
            )
        except GitHubError as exc:
            if exc.status == 404:
                return None
            raise
        return resp.text

    # --- comments -----------------------------------------------------------------------------------

    def issue_comments(self, repo: str, number: int) -> Iterator[dict[str, Any]]:
        return self.paginate(f"/repos/{repo}/issues/{number}/comments", route="issues/{n}/comments")

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        return dict(
            self.get_json(
                "POST",
                f"/repos/{repo}/issues/{number}/comments",
                route="issues/{n}/comments",
                json={"body": body},
            )
        )

    def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        return dict(
            self.get_json(
                "PATCH",
                f"/repos/{repo}/issues/comments/{comment_id}",
                route="issues/comments/{id}",
                json={"body": body},
            )
        )

    # --- check runs ---------------------------------------------------------------------------------

    def check_runs(self, repo: str, sha: str, name: str) -> list[dict[str, Any]]:
        return list(
            self.paginate(
                f"/repos/{repo}/commits/{sha}/check-runs",
                route="commits/{sha}/check-runs",
                key="check_runs",
                params={"check_name": name, "filter": "latest"},
            )
        )

    def create_check_run(self, repo: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.get_json("POST", f"/repos/{repo}/check-runs", route="check-runs", json=body))

    def update_check_run(self, repo: str, check_run_id: int, body: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self.get_json(
                "PATCH", f"/repos/{repo}/check-runs/{check_run_id}", route="check-runs/{id}", json=body
            )
        )


def _retry_after(headers: httpx.Headers) -> float | None:
    if "retry-after" in headers:
        try:
            return float(headers["retry-after"])
        except ValueError:
            return None
    if headers.get("x-ratelimit-remaining") == "0" and "x-ratelimit-reset" in headers:
        try:
            return max(0.0, float(headers["x-ratelimit-reset"]) - time.time())
        except ValueError:
            return None
    return None
