"""Linear through its GraphQL API over httpx (https://developers.linear.app/docs/graphql/working-with-the-graphql-api).

- Auth: a personal API key goes in `Authorization` as is (no "Bearer"); OAuth tokens would take "Bearer".
- Idempotent create: `IssueCreateInput.id` lets the client choose the issue's UUID, so a create that timed
  out is looked up by that id instead of being repeated; the issue is also found by an attachment whose URL
  is unique per fingerprint: "Attachment URL is used as an idempotent value if used in conjunction with the
  same issue id" and an attachment and its issue can be queried by URL (https://linear.app/developers/attachments).
- Rate limits: an error with `extensions.code == "RATELIMITED"` (HTTP 400 or 429), with the reset time in
  `X-RateLimit-Requests-Reset` (epoch milliseconds) (https://linear.app/developers/rate-limiting). The server
  did not act on such a request (nor on a 503), so it is repeated after the reset; other failures of a write
  are not.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Literal

import httpx

from actions.backoff import Backoff, Transient
from actions.tickets.config import TrackerSettings
from actions.tickets.model import CreateInDoubt, Ticket, TicketDraft, TicketStatus, TrackerError
from actions.tickets.render import LinearMarkdown

log = logging.getLogger(__name__)

_ISSUE = "id identifier url completedAt canceledAt state { type }"
_TEAM = """query Team($key: String!) {
  teams(filter: { key: { eq: $key } }) { nodes { id key states { nodes { id name type position } } } }
}"""
_BY_ID = f"query IssueById($id: ID!) {{ issues(filter: {{ id: {{ eq: $id }} }}) {{ nodes {{ {_ISSUE} }} }} }}"
_BY_URL = (
    f"query ByUrl($url: String!) {{ attachmentsForURL(url: $url) {{ nodes {{ issue {{ {_ISSUE} }} }} }} }}"
)
_GET = f"query Issue($id: String!) {{ issue(id: $id) {{ {_ISSUE} }} }}"
_CREATE = f"""mutation Create($input: IssueCreateInput!) {{
  issueCreate(input: $input) {{ success issue {{ {_ISSUE} }} }}
}}"""
_ATTACH = """mutation Attach($input: AttachmentCreateInput!) {
  attachmentCreate(input: $input) { success attachment { id } }
}"""
_COMMENT = """mutation Comment($input: CommentCreateInput!) { commentCreate(input: $input) { success } }"""
_UPDATE = """mutation Move($id: String!, $input: IssueUpdateInput!) {
  issueUpdate(id: $id, input: $input) { success }
}"""
_RELATE = """mutation Relate($input: IssueRelationCreateInput!) {
  issueRelationCreate(input: $input) { success }
}"""


class _Failed(Exception):
    """A GraphQL call failed for good; `in_doubt` when the server may have acted on it."""

    def __init__(self, message: str, *, in_doubt: bool = False, not_found: bool = False) -> None:
        super().__init__(message)
        self.in_doubt = in_doubt
        self.not_found = not_found


class LinearTracker:
    name: Literal["linear"] = "linear"

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        team_key: str,
        attachment_base: str,
        backoff: Backoff | None = None,
    ) -> None:
        self.http = http
        self.url = url
        self.team_key = team_key
        self.attachment_base = attachment_base if attachment_base.endswith("/") else attachment_base + "/"
        self.markup = LinearMarkdown()
        self.backoff = backoff or Backoff()
        self._team: dict[str, Any] | None = None

    # -- transport -------------------------------------------------------------------------------------------

    def _post(self, what: str, query: str, variables: dict[str, Any], *, write: bool) -> dict[str, Any]:
        try:
            response = self.http.post(self.url, json={"query": query, "variables": variables})
        except httpx.TimeoutException as exc:
            if write:
                raise _Failed(f"linear {what}: {type(exc).__name__}", in_doubt=True) from exc
            raise Transient(f"{what}: {type(exc).__name__}") from exc
        except httpx.TransportError as exc:
            if write:
                raise _Failed(f"linear {what}: {type(exc).__name__}", in_doubt=True) from exc
            raise Transient(f"{what}: {type(exc).__name__}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):  # a proxy's HTML page, an empty body: no GraphQL answer
            body = {}
        errors = body.get("errors") or []
        codes = {str((e.get("extensions") or {}).get("code", "")) for e in errors if isinstance(e, dict)}
        if response.status_code == 429 or "RATELIMITED" in codes:
            raise Transient(f"{what}: rate limited", _retry_after(response))
        if response.status_code >= 500:
            if write and response.status_code != 503:  # 503: turned away before acting, like a 429
                raise _Failed(f"linear {what}: HTTP {response.status_code}", in_doubt=True)
            raise Transient(f"{what}: HTTP {response.status_code}", response.headers.get("Retry-After"))
        if errors:
            message = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
            raise _Failed(f"linear {what}: {message}", not_found="not found" in message.casefold())
        if response.status_code != 200 or not isinstance(body.get("data"), dict):
            raise _Failed(f"linear {what}: HTTP {response.status_code} {response.text[:200]}")
        data: dict[str, Any] = body["data"]
        return data

    def _call(
        self, what: str, query: str, variables: dict[str, Any], *, write: bool = False
    ) -> dict[str, Any]:
        try:
            return self.backoff.run(lambda: self._post(what, query, variables, write=write))
        except Transient as exc:
            raise TrackerError(f"linear {exc} (gave up after {self.backoff.attempts} tries)") from exc
        except _Failed as exc:
            raise TrackerError(str(exc)) from exc

    def _team_info(self) -> dict[str, Any]:
        if self._team is None:
            nodes = self._call("team", _TEAM, {"key": self.team_key})["teams"]["nodes"]
            if not nodes:
                raise TrackerError(f"linear: no team with key {self.team_key!r} (CIMEDIC_LINEAR_TEAM)")
            self._team = nodes[0]
        return self._team

    def _states(self) -> list[dict[str, Any]]:
        states = self._team_info()["states"]["nodes"]
        return sorted(states, key=lambda s: float(s.get("position") or 0))

    # -- the Tracker protocol --------------------------------------------------------------------------------

    def attachment_url(self, draft: TicketDraft) -> str:
        repo = draft.repo.strip("/") or "-"
        return f"{self.attachment_base}{repo}/{draft.fingerprint}"

    def find(self, draft: TicketDraft) -> Ticket | None:
        if draft.draft_id:
            nodes = self._call("issue by id", _BY_ID, {"id": draft.draft_id})["issues"]["nodes"]
            if nodes:  # the create that was in doubt did happen: give it its attachment now
                ticket = _ticket(nodes[0])
                self._attach(ticket, draft)
                return ticket
        found = self._call("attachments by url", _BY_URL, {"url": self.attachment_url(draft)})
        tickets = [_ticket(n["issue"]) for n in found["attachmentsForURL"]["nodes"] if n.get("issue")]
        return next((t for t in tickets if t.status == "open"), tickets[0] if tickets else None)

    def get(self, key: str) -> Ticket | None:
        try:
            issue = self.backoff.run(lambda: self._post("issue", _GET, {"id": key}, write=False))["issue"]
        except _Failed as exc:
            if exc.not_found:
                return None
            raise TrackerError(str(exc)) from exc
        except Transient as exc:
            raise TrackerError(f"linear {exc} (gave up after {self.backoff.attempts} tries)") from exc
        return _ticket(issue) if issue else None

    def create(self, draft: TicketDraft) -> Ticket:
        variables = {
            "input": {
                "id": draft.draft_id or None,
                "teamId": self._team_info()["id"],
                "title": draft.summary,
                "description": draft.description,
            }
        }
        try:
            data = self.backoff.run(lambda: self._post("issueCreate", _CREATE, variables, write=True))
        except Transient as exc:
            raise TrackerError(f"linear {exc} (gave up after {self.backoff.attempts} tries)") from exc
        except _Failed as exc:
            raise (CreateInDoubt(str(exc)) if exc.in_doubt else TrackerError(str(exc))) from exc
        result = data["issueCreate"]
        if not result.get("success") or not result.get("issue"):
            raise TrackerError("linear issueCreate: success false")
        ticket = _ticket(result["issue"])
        self._attach(ticket, draft)
        return ticket

    def _attach(self, ticket: Ticket, draft: TicketDraft) -> None:
        variables = {
            "input": {
                "issueId": ticket.id,
                "url": self.attachment_url(draft),
                "title": f"CI Medic fingerprint {draft.fingerprint}",
            }
        }
        try:  # idempotent per (url, issue): repeating it updates the same attachment
            self._call("attachmentCreate", _ATTACH, variables, write=True)
        except TrackerError as exc:  # the issue stands; it is still found by our record and by its id
            log.warning("linear: %s has no fingerprint attachment yet: %s", ticket.key, exc)

    def comment(self, ticket: Ticket, body: str) -> None:
        self._call("commentCreate", _COMMENT, {"input": {"issueId": ticket.id, "body": body}}, write=True)

    def _move(self, ticket: Ticket, state: dict[str, Any]) -> None:
        variables = {"id": ticket.id, "input": {"stateId": state["id"]}}
        self._call("issueUpdate", _UPDATE, variables, write=True)

    def transition(self, ticket: Ticket, name: str) -> bool:
        for state in self._states():
            if str(state.get("name", "")).casefold() == name.casefold():
                self._move(ticket, state)
                return True
        return False

    def reopen(self, ticket: Ticket) -> bool:
        for kind in ("unstarted", "backlog", "started"):
            for state in self._states():
                if state.get("type") == kind:
                    self._move(ticket, state)
                    return True
        return False

    def link(self, ticket: Ticket, earlier: Ticket) -> None:
        variables = {"input": {"issueId": ticket.id, "relatedIssueId": earlier.id, "type": "related"}}
        self._call("issueRelationCreate", _RELATE, variables, write=True)


def _ticket(issue: dict[str, Any]) -> Ticket:
    kind = (issue.get("state") or {}).get("type")
    status: TicketStatus = "open"
    resolved = None
    if kind == "completed":
        status, resolved = "done", issue.get("completedAt")
    elif kind in ("canceled", "duplicate"):
        status, resolved = "dismissed", issue.get("canceledAt")
    return Ticket(
        key=issue["identifier"],
        url=issue.get("url") or "",
        status=status,
        resolved_at=_parse_time(resolved),
        id=issue["id"],
    )


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _retry_after(response: httpx.Response) -> str | None:
    if "Retry-After" in response.headers:
        return response.headers["Retry-After"]
    reset = response.headers.get("X-RateLimit-Requests-Reset")
    if reset and reset.isdigit():
        return str(max(0, round(int(reset) / 1000 - time.time())))
    return None


def make_linear(settings: TrackerSettings, *, backoff: Backoff | None = None) -> LinearTracker:
    if settings.linear_api_key is None or not settings.linear_team:
        raise TrackerError("Linear needs CIMEDIC_LINEAR_API_KEY and CIMEDIC_LINEAR_TEAM")
    http = httpx.Client(
        headers={
            "Authorization": settings.linear_api_key.get_secret_value(),
            "Content-Type": "application/json",
        },
        timeout=settings.tracker_timeout_seconds,
    )
    backoff = backoff or Backoff(
        attempts=settings.tracker_attempts, base_seconds=settings.tracker_retry_base_seconds
    )
    return LinearTracker(
        http, settings.linear_url, settings.linear_team, settings.linear_attachment_base, backoff
    )
