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
- reads (GET) that time out, lose their connection or answer 5xx are retried with exponential backoff, a few
  times. Writes are never retried blind: a POST whose answer never came may have been carried out (issue 10:
  a comment POST answered after the client's timeout was sent again, and the PR got two comments), so a
  failed write raises `GitHubError(outcome_unknown=True)` and the writer looks its output up before writing
  again (`ensure_sticky_comment`, `ensure_check_run`).

Every `GitHubError` says whether trying again can help (`transient`) and when (`retry_after`): 5xx, timeouts,
lost connections and rate limits are transient; other 4xx (a 404 installation, a 422) and a missing
installation id are permanent. A secondary rate limit without `retry-after` waits at least one minute
("wait for at least one minute before retrying", rate-limits-for-the-rest-api, "Exceeding the rate limit").
A job log that is gone (404/410: GitHub keeps logs for a limited time) raises `LogExpired`.
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
    RequestError,
    RequestFailed,
)
from githubkit.typing import RetryOption

from agent.errors import CimedicError

CallHook = Callable[[str, str, int, httpx.Headers | None], None]
"""Called after every API response: (method, route template, status, headers) for metrics."""


SECONDARY_LIMIT_WAIT_S = 60.0
"""Wait after a secondary rate limit that names no time (GitHub: "wait for at least one minute")."""

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class GitHubError(CimedicError):
    """A GitHub call failed.

    `transient`: trying again later can succeed (5xx, timeout, lost connection, rate limit); otherwise the
    failure is permanent (404 installation, 422, missing installation id) and retrying only delays the notice.
    `retry_after`: seconds to wait before trying again, when known. `outcome_unknown`: a write whose effect
    is unknown (no answer, or a 5xx): look the output up before writing it again.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        transient: bool | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.transient = _transient_status(status) if transient is None else transient
        self.outcome_unknown = outcome_unknown


class LogExpired(GitHubError):
    """The job's log is no longer available (404/410): permanent; the caller tells the user so."""

    def __init__(self, message: str, *, status: int | None) -> None:
        super().__init__(message, status=status, transient=False)


def _transient_status(status: int | None) -> bool:
    # None: no answer at all (timeout, connection lost).
    return status is None or status >= 500 or status in (408, 429)


def _failed_request(exc: GitHubException) -> httpx.Request | None:
    """The request that failed, when githubkit's exception carries it."""
    if isinstance(exc, RequestFailed):
        return exc.request
    if isinstance(exc, RequestError):
        inner = exc.exc
        if isinstance(inner, RequestFailed):
            return inner.request
        try:
            return inner.request  # type: ignore[no-any-return]
        except (AttributeError, RuntimeError):  # httpx raises RuntimeError when no request is attached
            return None
    return None


def _replayable(request: httpx.Request | None) -> bool:
    """Sending `request` again cannot duplicate an effect: a read, or githubkit's own installation-token
    request (its failure means the call it was made for was never sent)."""
    if request is None:
        return False
    return request.method in IDEMPOTENT_METHODS or request.url.path.endswith("/access_tokens")


def _unwrap(exc: GitHubException) -> GitHubException:
    """githubkit wraps a failed installation-token request (made inside httpx's auth flow) in RequestError."""
    if (
        isinstance(exc, RequestError)
        and not isinstance(exc, RequestFailed)
        and isinstance(exc.exc, RequestFailed)
    ):
        return exc.exc
    return exc


@dataclass
class RetryPolicy:
    """githubkit retry decision: rate limits (bounded wait); reads that fail in transit or with 5xx, with
    exponential backoff. Writes are not retried here (see the module docstring)."""

    server_retries: int = 3
    base_delay_s: float = 1.0
    max_rate_limit_wait_s: float = 60.0

    def __call__(self, exc: GitHubException, retry_count: int) -> RetryOption:
        if isinstance(exc, RateLimitExceeded):
            # Refused, not carried out: safe to repeat, writes included.
            wait = exc.retry_after.total_seconds()
            # A long reset (primary limit spent) is not waited out in a worker thread: fail, and the task is
            # retried after the reset (GitHubError.retry_after).
            if retry_count < 3 and wait <= self.max_rate_limit_wait_s:
                return RetryOption(True, timedelta(seconds=max(wait, 0.0)))
            return RetryOption(False)
        exc = _unwrap(exc)
        if retry_count >= self.server_retries or not _replayable(_failed_request(exc)):
            return RetryOption(False)
        if isinstance(exc, RequestFailed):
            retry = exc.response.status_code >= 500
        else:
            retry = isinstance(exc, RequestError)  # timeout or lost connection
        if retry:
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
    log_deadline_s: float = 60.0
    """Overall time a job log download may take, however its bytes arrive."""
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
                raise GitHubError("delivery has no installation id; is this an App webhook?", transient=False)
            assert self.app_id is not None and self.private_key is not None
            auth = AppInstallationAuthStrategy(self.app_id, self.private_key, installation_id)
            key = installation_id
        gh = self._github(auth)
        with gh:
            yield Client(gh, self._pacer(key), self.on_call, log_deadline_s=self.log_deadline_s)

    def app_login(self) -> str:
        """The login an App's writes appear under: `<app slug>[bot]` (GET /app, as the App).

        Tokens of other kinds are resolved by actions.github_identity.resolve_login.
        """
        if self._login is not None:
            return self._login
        assert self.app_id is not None and self.private_key is not None, "app_login needs App credentials"
        gh = self._github(AppAuthStrategy(self.app_id, self.private_key))
        data = Client(gh, self._pacer(0), self.on_call).get_json("GET", "/app", route="/app")
        self._login = f"{data['slug']}[bot]"
        return self._login

    def app_client(self) -> GitHub[Any]:
        """A client authenticated as the App itself (JWT), e.g. for /app/hook/deliveries."""
        if self.app_id is None or not self.private_key:
            raise GitHubError(
                "App credentials required (CIMEDIC_GITHUB_APP_ID, CIMEDIC_GITHUB_PRIVATE_KEY)",
                transient=False,
            )
        return self._github(AppAuthStrategy(self.app_id, self.private_key))


@dataclass
class LogText:
    text: bytes
    truncated: bool
    skipped_bytes: int = 0


class Client:
    """The calls of one job's processing, as one installation. Methods return plain dicts."""

    def __init__(
        self, gh: GitHub[Any], pacer: _Pacer, on_call: CallHook | None, *, log_deadline_s: float = 60.0
    ) -> None:
        self.gh = gh
        self.pacer = pacer
        self.on_call = on_call
        self.log_deadline_s = log_deadline_s
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
        except GitHubException as raw:
            raise self._error(method, route, write, _unwrap(raw)) from raw
        self._record(method, route, resp.status_code, resp.headers)
        return resp.raw_response

    def _error(self, method: str, route: str, write: bool, exc: GitHubException) -> GitHubError:
        if isinstance(exc, RateLimitExceeded):  # refused, not carried out
            self._record(method, route, exc.response.status_code, exc.response.headers)
            return GitHubError(
                f"{method} {route}: rate limited",
                status=exc.response.status_code,
                retry_after=exc.retry_after.total_seconds(),
                transient=True,
            )
        if isinstance(exc, RequestFailed):
            status = exc.response.status_code
            self._record(method, route, status, exc.response.headers)
            # The installation-token request of githubkit's auth flow: 404 means the App is not installed.
            where = "installation token" if exc.request.url.path.endswith("/access_tokens") else route
            retry_after = _retry_after(exc.response.headers)
            limited = _rate_limited(exc.response.raw_response)
            if limited and retry_after is None:
                retry_after = SECONDARY_LIMIT_WAIT_S
            return GitHubError(
                f"{method} {route}: {where + ': ' if where != route else ''}HTTP {status}"
                + (" (rate limited)" if limited else ""),
                status=status,
                retry_after=retry_after,
                transient=True if limited else None,
                outcome_unknown=write and status >= 500,
            )
        self._record(method, route, 0, None)
        if isinstance(exc, RequestError):
            # Timeout or lost connection: a write may have been carried out all the same.
            return GitHubError(f"{method} {route}: {exc!r}", transient=True, outcome_unknown=write)
        return GitHubError(f"{method} {route}: {exc!r}", transient=False)  # e.g. an unusable App key

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

    def job_log(self, repo: str, job_id: int, *, max_bytes: int, head_bytes: int) -> LogText:
        """Stream a job's log, keeping the first `head_bytes` and the last `max_bytes - head_bytes`.

        GET .../actions/jobs/{id}/logs answers 302 to a short-lived pre-signed URL (docs: rest/actions/
        workflow-jobs#download-job-logs-for-a-workflow-run). We fetch that URL with a separate client that has
        no Authorization header: the token must not travel to the storage host. The tail holds the failing
        step; the head the runner and checkout context.
        """
        route = "jobs/{id}/logs"
        deadline = time.monotonic() + self.log_deadline_s
        try:
            first = self.request("GET", f"/repos/{repo}/actions/jobs/{job_id}/logs", route=route)
        except GitHubError as exc:
            if exc.status in (404, 410):
                raise LogExpired(
                    f"job {job_id}: log not available (HTTP {exc.status})", status=exc.status
                ) from exc
            raise
        location = first.headers.get("location")
        if first.status_code in (301, 302, 303, 307, 308) and location:
            # No single read may wait past the deadline either.
            timeout = httpx.Timeout(
                min(self.gh.config.timeout.read or self.log_deadline_s, self.log_deadline_s)
            )
            try:
                with (
                    httpx.Client(timeout=timeout, follow_redirects=True) as plain,
                    plain.stream("GET", location) as resp,
                ):
                    if resp.status_code in (404, 410):
                        raise LogExpired(
                            f"job {job_id}: log download HTTP {resp.status_code}", status=resp.status_code
                        )
                    if resp.status_code >= 400:
                        # e.g. 403 for a pre-signed URL that expired on the way: a new one may work
                        raise GitHubError(
                            f"log download: HTTP {resp.status_code}", status=resp.status_code, transient=True
                        )
                    chunks = _until(resp.iter_bytes(), deadline, self.log_deadline_s)
                    return self._capped(chunks, max_bytes=max_bytes, head_bytes=head_bytes)
            except httpx.HTTPError as exc:
                raise GitHubError(f"log download: {exc!r}", transient=True) from exc
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

    def check_run_annotations(self, repo: str, check_run_id: int) -> list[dict[str, Any]]:
        return list(
            self.paginate(
                f"/repos/{repo}/check-runs/{check_run_id}/annotations", route="check-runs/{id}/annotations"
            )
        )


def _until(chunks: Iterator[bytes], deadline: float, budget_s: float) -> Iterator[bytes]:
    """`chunks` until the monotonic `deadline`: a host that drips bytes keeps every single read under the
    timeout and would hold the worker for as long as it likes."""
    for chunk in chunks:
        if time.monotonic() > deadline:
            raise GitHubError(f"log download: not finished within {budget_s:g} s", transient=True)
        yield chunk


def _rate_limited(resp: httpx.Response) -> bool:
    """A 403/429 that is a rate limit, not a permission error (docs: rate-limits-for-the-rest-api,
    "Exceeding the rate limit": 403 or 429, `x-ratelimit-remaining: 0` or a message naming the limit)."""
    if resp.status_code not in (403, 429):
        return False
    if resp.status_code == 429 or resp.headers.get("x-ratelimit-remaining") == "0":
        return True
    try:
        message = str(resp.json().get("message", ""))
    except (ValueError, AttributeError):
        return False
    return "rate limit" in message.lower()


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
